//! The one error enum of this crate.

use thiserror::Error;

/// Every way a value of this crate can be rejected. Messages say what was
/// expected and what came, so they can be shown to a user as they are.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TypesError {
    // --- addresses ---------------------------------------------------------
    #[error("address {input:?}: not base58 ({reason})")]
    AddressBase58 { input: String, reason: String },
    #[error("address {input:?}: bad base58check checksum")]
    AddressChecksum { input: String },
    #[error("address {input:?}: expected version byte 0x42, got 0x{found:02x}")]
    AddressVersion { input: String, found: u8 },
    #[error("address: expected {expected} bytes, got {found}")]
    AddressLength { expected: usize, found: usize },
    #[error(
        "address: a 33-byte address must start with 0x02/0x03 (account key) or 0x0c (contract), got 0x{found:02x}"
    )]
    AddressPrefix { found: u8 },
    #[error("address name {name:?}: {reason}")]
    AddressName { name: String, reason: &'static str },

    // --- amounts -----------------------------------------------------------
    #[error("amount {input:?}: {reason}")]
    AmountParse { input: String, reason: String },
    #[error("amount overflow: {what} does not fit in 128 bits of aer")]
    AmountOverflow { what: String },
    #[error("amount bytes: expected at most 16 significant big-endian bytes, got {found}")]
    AmountBytes { found: usize },

    // --- hashes and chain ids ----------------------------------------------
    #[error(transparent)]
    Hash(#[from] aergo_hash::HashError),
    #[error("chain id: {reason}")]
    ChainId { reason: String },

    // --- wire decoding and bounds ------------------------------------------
    #[error("{what}: {found} bytes exceeds the limit of {limit} bytes")]
    TooLarge { what: &'static str, found: usize, limit: usize },
    #[error("decoding {what}: {reason}")]
    Decode { what: &'static str, reason: String },
    #[error("{what}: missing required field {field}")]
    MissingField { what: &'static str, field: &'static str },

    // --- transactions ------------------------------------------------------
    #[error("tx type {found} is not supported: expected 0..=6 (normal, governance, redeploy, feedelegation, transfer, call, deploy)")]
    UnknownTxType { found: i32 },
    #[error("tx chain id hash mismatch: expected {expected}, got {found}")]
    ChainIdMismatch { expected: String, found: String },
    #[error("tx hash mismatch: the tx says {claimed}, its body hashes to {computed}")]
    TxHashMismatch { claimed: String, computed: String },
    #[error("tx {field}: {reason}")]
    TxInvalid { field: &'static str, reason: String },
    #[error("tx {field}: {value} exceeds the total supply")]
    ExceedsSupply { field: &'static str, value: String },

    // --- blocks and receipts -----------------------------------------------
    #[error("block hash mismatch: the block says {claimed}, its header hashes to {computed}")]
    BlockHashMismatch { claimed: String, computed: String },
    #[error("block txs root mismatch: the header says {claimed}, the body gives {computed}")]
    TxsRootMismatch { claimed: String, computed: String },
    #[error("receipt status {found:?}: expected SUCCESS, CREATED, ERROR or RECREATED")]
    ReceiptStatus { found: String },

    // --- genesis -------------------------------------------------------------
    #[error("genesis: {reason}")]
    Genesis { reason: String },

    // --- payloads (deploy, call, system call) --------------------------------
    #[error(transparent)]
    Payload(#[from] crate::payload::PayloadError),
}

impl TypesError {
    /// The reason code when this error refuses a transaction.
    pub fn reason(&self) -> crate::RejectReason {
        use crate::RejectReason as R;
        match self {
            TypesError::ChainIdMismatch { .. } => R::WrongChain,
            TypesError::TxHashMismatch { .. } => R::BadHash,
            TypesError::TooLarge { .. } => R::TooLarge,
            TypesError::AmountOverflow { .. } | TypesError::ExceedsSupply { .. } => R::Overflow,
            _ => R::InvalidFormat,
        }
    }
}

pub type Result<T, E = TypesError> = std::result::Result<T, E>;
