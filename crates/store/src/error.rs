//! The one error type of the store crate.

use crate::Hash;

/// Why a byte string could not be decoded. Decoders of untrusted bytes
/// return this instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("truncated input: expected {what}, found end of bytes")]
    Truncated { what: &'static str },
    #[error("bad {what}: expected {expected}, got byte 0x{got:02x}")]
    BadByte { what: &'static str, expected: &'static str, got: u8 },
    #[error("{what} out of range")]
    OutOfRange { what: &'static str },
    #[error("{what} is not in canonical form")]
    NonCanonical { what: &'static str },
    #[error("text is not valid UTF-8")]
    BadUtf8,
    #[error("{count} trailing bytes after the encoded value")]
    TrailingBytes { count: usize },
}

/// Errors of the versioned store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("decode error: {0}")]
    Codec(#[from] CodecError),
    #[error("node {hash} is missing from the node store")]
    MissingNode { hash: Hash },
    #[error("node {hash} is corrupt: {reason}")]
    CorruptNode { hash: Hash, reason: String },
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("no table named {table:?}")]
    NoSuchTable { table: String },
    #[error("a table named {table:?} already exists")]
    TableExists { table: String },
    #[error("table name {table:?} is invalid: {reason}")]
    BadTableName { table: String, reason: &'static str },
    #[error("this view of the state is read-only")]
    ReadOnly,
}
