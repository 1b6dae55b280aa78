//! secp256k1 key pairs as Aergo uses them.
//!
//! - The account address of a key is its 33-byte compressed public key.
//! - The text form of a private key (the SDKs' `str(PrivateKey)`) is
//!   base58check of `0xAA || 32 key bytes`.
//! - Block producers' public keys travel in libp2p's marshalled form:
//!   `0x08 0x02 0x12 0x21 || 33-byte compressed key` (protobuf `PublicKey`
//!   with type Secp256k1 = 2); private keys likewise with `0x08 0x02 0x12
//!   0x20 || 32 bytes`.

use crate::error::{CryptoError, Result};
use crate::signature::Signature;
use aergo_types::{Address, Hash};
use secp256k1::{All, Message, Secp256k1, SecretKey};
use std::fmt;
use std::sync::OnceLock;

/// Version byte of the base58check private key text form.
pub const PRIVATE_KEY_VERSION: u8 = 0xAA;
/// libp2p protobuf prefix of a marshalled secp256k1 public key.
pub const LIBP2P_PUBKEY_PREFIX: [u8; 4] = [0x08, 0x02, 0x12, 0x21];
/// libp2p protobuf prefix of a marshalled secp256k1 private key.
pub const LIBP2P_PRIVKEY_PREFIX: [u8; 4] = [0x08, 0x02, 0x12, 0x20];

/// One context for the whole process: creating one costs far more than a
/// signature.
pub(crate) fn secp() -> &'static Secp256k1<All> {
    static CTX: OnceLock<Secp256k1<All>> = OnceLock::new();
    CTX.get_or_init(Secp256k1::new)
}

/// A secp256k1 private key. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(SecretKey);

/// A secp256k1 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(secp256k1::PublicKey);

impl PrivateKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<PrivateKey> {
        // Rejection sampling: a random 32-byte string is a valid key with
        // probability 1 - 2^-128, so the bound is never reached in practice.
        for _ in 0..64 {
            let mut b = [0u8; 32];
            getrandom::getrandom(&mut b).map_err(|e| CryptoError::Random { reason: e.to_string() })?;
            if let Ok(sk) = SecretKey::from_byte_array(&b) {
                return Ok(PrivateKey(sk));
            }
        }
        Err(CryptoError::Random { reason: "64 random draws were all invalid keys".to_string() })
    }

    /// From raw key bytes: 32 bytes, fewer (a big-endian integer without its
    /// leading zeros, as the Python SDK exports), or the libp2p form
    /// (`08 02 12 20` + 32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<PrivateKey> {
        let raw = match bytes.len() {
            36 if bytes[..4] == LIBP2P_PRIVKEY_PREFIX => &bytes[4..],
            1..=32 => bytes,
            n => {
                return Err(CryptoError::Length {
                    what: "private key",
                    expected: "1..=32 bytes, or 36 in libp2p form".to_string(),
                    found: n,
                })
            }
        };
        let mut b = [0u8; 32];
        b[32 - raw.len()..].copy_from_slice(raw);
        SecretKey::from_byte_array(&b)
            .map(PrivateKey)
            .map_err(|_| CryptoError::InvalidPrivateKey { reason: "zero or not below the curve order".to_string() })
    }

    /// The 32 key bytes (big-endian scalar).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.secret_bytes()
    }

    /// libp2p marshalled form (`08 02 12 20` + 32 bytes).
    pub fn to_libp2p_bytes(&self) -> Vec<u8> {
        let mut v = LIBP2P_PRIVKEY_PREFIX.to_vec();
        v.extend_from_slice(&self.to_bytes());
        v
    }

    /// The SDKs' text form: base58check of `0xAA || key`.
    pub fn to_base58check(&self) -> String {
        bs58::encode(self.to_bytes()).with_check_version(PRIVATE_KEY_VERSION).into_string()
    }

    /// Parses the SDKs' text form.
    pub fn from_base58check(s: &str) -> Result<PrivateKey> {
        let payload = decode_base58check(s, PRIVATE_KEY_VERSION, "private key")?;
        PrivateKey::from_bytes(&payload)
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(secp256k1::PublicKey::from_secret_key(secp(), &self.0))
    }

    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// Signs a 32-byte digest: RFC 6979 deterministic nonce, low s.
    pub fn sign_hash(&self, digest: &Hash) -> Signature {
        let msg = Message::from_digest(digest.0);
        let mut sig = secp().sign_ecdsa(&msg, &self.0);
        // libsecp256k1 already signs low-s; normalising keeps the invariant
        // visible here.
        sig.normalize_s();
        Signature(sig)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(for {})", self.address())
    }
}

impl PublicKey {
    /// From the 33-byte compressed form (checks the point is on the curve).
    pub fn from_compressed(bytes: &[u8]) -> Result<PublicKey> {
        if bytes.len() != 33 {
            return Err(CryptoError::Length {
                what: "compressed public key",
                expected: "33".to_string(),
                found: bytes.len(),
            });
        }
        secp256k1::PublicKey::from_slice(bytes)
            .map(PublicKey)
            .map_err(|_| CryptoError::InvalidPublicKey { reason: "not a point on secp256k1".to_string() })
    }

    /// The key of an account address.
    pub fn from_address(address: &Address) -> Result<PublicKey> {
        match address.account_key() {
            Some(k) => PublicKey::from_compressed(k),
            None => Err(CryptoError::InvalidPublicKey { reason: format!("{address} is not an account (key) address") }),
        }
    }

    /// From libp2p's marshalled form (`08 02 12 21` + 33 bytes).
    pub fn from_libp2p_bytes(bytes: &[u8]) -> Result<PublicKey> {
        if bytes.len() != 37 || bytes[..4] != LIBP2P_PUBKEY_PREFIX {
            return Err(CryptoError::InvalidPublicKey {
                reason: format!("expected libp2p secp256k1 key (08 02 12 21 + 33 bytes), got {} bytes", bytes.len()),
            });
        }
        PublicKey::from_compressed(&bytes[4..])
    }

    pub fn to_compressed(&self) -> [u8; 33] {
        self.0.serialize()
    }

    pub fn to_libp2p_bytes(&self) -> Vec<u8> {
        let mut v = LIBP2P_PUBKEY_PREFIX.to_vec();
        v.extend_from_slice(&self.to_compressed());
        v
    }

    /// The account address: the compressed key.
    pub fn address(&self) -> Address {
        Address::Account(self.to_compressed())
    }

    /// Verifies `sig` over a 32-byte digest.
    pub fn verify_hash(&self, digest: &Hash, sig: &Signature) -> Result<()> {
        let msg = Message::from_digest(digest.0);
        secp().verify_ecdsa(&msg, &sig.0, &self.0).map_err(|_| CryptoError::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.address())
    }
}

impl From<PublicKey> for Address {
    fn from(pk: PublicKey) -> Address {
        pk.address()
    }
}

impl From<&PublicKey> for Address {
    fn from(pk: &PublicKey) -> Address {
        pk.address()
    }
}

/// Decodes base58check text with the given version byte, returning the
/// payload after it.
pub(crate) fn decode_base58check(s: &str, version: u8, what: &str) -> Result<Vec<u8>> {
    let bad = |reason: String| CryptoError::KeystoreFormat { what: what.to_string(), reason };
    // The exported-key form of a 32-byte key is about 100 characters; far
    // longer input is refused before decoding.
    if s.len() > 512 {
        return Err(bad(format!("{} characters is too long", s.len())));
    }
    let raw = bs58::decode(s.trim()).with_check(None).into_vec().map_err(|e| bad(format!("not base58check: {e}")))?;
    match raw.first() {
        Some(&v) if v == version => Ok(raw[1..].to_vec()),
        Some(&v) => Err(bad(format!("expected version byte 0x{version:02x}, got 0x{v:02x}"))),
        None => Err(bad("empty".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_one_has_the_generator_as_public_key() {
        let mut b = [0u8; 32];
        b[31] = 1;
        let k = PrivateKey::from_bytes(&b).unwrap();
        assert_eq!(
            hex::encode(k.public_key().to_compressed()),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        // Short (minimal) and libp2p forms give the same key.
        assert_eq!(PrivateKey::from_bytes(&[1]).unwrap(), k);
        assert_eq!(PrivateKey::from_bytes(&k.to_libp2p_bytes()).unwrap(), k);
    }

    #[test]
    fn text_forms_round_trip() {
        let k = PrivateKey::generate().unwrap();
        assert_eq!(PrivateKey::from_base58check(&k.to_base58check()).unwrap(), k);
        let pk = k.public_key();
        assert_eq!(PublicKey::from_libp2p_bytes(&pk.to_libp2p_bytes()).unwrap(), pk);
        assert_eq!(PublicKey::from_address(&k.address()).unwrap(), pk);
        assert!(!format!("{k:?}").contains(&hex::encode(k.to_bytes())));
    }

    #[test]
    fn bad_keys() {
        assert!(PrivateKey::from_bytes(&[0; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[0xff; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[]).is_err());
        assert!(PrivateKey::from_bytes(&[1; 40]).is_err());
        assert!(PublicKey::from_compressed(&[0x05; 33]).is_err());
        assert!(PublicKey::from_compressed(&[0x02; 10]).is_err());
        assert!(PublicKey::from_libp2p_bytes(&[0x08, 0x02]).is_err());
        assert!(PrivateKey::from_base58check("notbase58!").is_err());
    }

    #[test]
    fn sign_and_verify() {
        let k = PrivateKey::generate().unwrap();
        let h = Hash::sha256(b"msg");
        let sig = k.sign_hash(&h);
        k.public_key().verify_hash(&h, &sig).unwrap();
        assert!(matches!(k.public_key().verify_hash(&Hash::sha256(b"other"), &sig), Err(CryptoError::BadSignature)));
        // Deterministic (RFC 6979).
        assert_eq!(k.sign_hash(&h), sig);
    }
}
