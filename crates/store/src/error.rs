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
    #[error("key of {len} bytes is too large: at most {max} bytes are allowed")]
    KeyTooLarge { len: usize, max: usize },
    #[error("value of {len} bytes is too large: at most {max} bytes are allowed")]
    ValueTooLarge { len: usize, max: usize },
    #[error("value of {len} bytes is too small: a tree reference needs at least {min} bytes")]
    ValueTooSmall { len: usize, min: usize },
    #[error("edits must be sorted by strictly increasing key: edit {index} is not above the one before")]
    UnsortedEdits { index: usize },
    #[error("node {hash} is a leaf of kind {found}, expected kind {expected}")]
    WrongTreeKind { hash: Hash, expected: u8, found: u8 },
    #[error("tree would exceed {max} levels")]
    TooDeep { max: u8 },
    #[error("ref name {name:?} is invalid: {reason}")]
    BadRefName { name: String, reason: &'static str },
    #[error("no ref named {name:?}")]
    NoSuchRef { name: String },
    #[error("savepoint {savepoint} is not active (rolled back past, or never taken here)")]
    BadSavepoint { savepoint: u64 },
    #[error("table descriptor of {table:?} is corrupt: {reason}")]
    CorruptDescriptor { table: String, reason: String },
    #[error("proof does not verify: {reason}")]
    BadProof { reason: String },
    #[error("{what} exceeds its bound of {max}")]
    LimitExceeded { what: &'static str, max: u64 },
    #[error("merge resolver failed: {0}")]
    Resolver(String),
}
