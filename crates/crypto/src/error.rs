//! The one error enum of this crate.

use thiserror::Error;

/// Every way a key, signature or keystore operation can fail. Messages
/// never contain secrets or passphrases.
#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("private key: {reason}")]
    InvalidPrivateKey { reason: String },
    #[error("public key: {reason}")]
    InvalidPublicKey { reason: String },
    #[error("malformed DER signature: {reason}")]
    MalformedSignature { reason: String },
    #[error("signature is not in canonical (strict) DER form: {reason}")]
    NonCanonicalDer { reason: String },
    #[error("high-s signature rejected: s must be at most n/2 (canonical low-s form)")]
    HighS,
    #[error("bad signature: it does not verify for this message and key")]
    BadSignature,
    #[error("peer id {input:?}: {reason}")]
    PeerId { input: String, reason: String },
    #[error("tx signer: {reason}")]
    Signer { reason: String },
    #[error("{what}: {found} bytes, expected {expected}")]
    Length { what: &'static str, expected: String, found: usize },
    #[error(transparent)]
    Types(#[from] aergo_types::TypesError),
    #[error("not evidence of misbehaviour: {reason}")]
    NotEvidence { reason: String },
    #[error("randomness unavailable: {reason}")]
    Random { reason: String },

    // --- keystore ------------------------------------------------------------
    #[error("keystore: wrong passphrase (MAC mismatch)")]
    WrongPassphrase,
    #[error("keystore {what}: {reason}")]
    KeystoreFormat { what: String, reason: String },
    #[error("keystore: no key for address {address}")]
    KeyNotFound { address: String },
    #[error("keystore: a key for {address} already exists")]
    KeyExists { address: String },
    #[error("keystore I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("exported key: cannot decrypt (wrong passphrase or corrupted data)")]
    ExportDecrypt,
    #[error("scrypt parameters: {reason}")]
    ScryptParams { reason: String },
}

pub type Result<T, E = CryptoError> = std::result::Result<T, E>;
