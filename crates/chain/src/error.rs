//! The one error enum of the chain crate.

/// Errors of the block store and chain operations.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("block store: {0}")]
    Db(String),
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("genesis mismatch: the data directory holds chain {stored}, the genesis file describes {given}")]
    GenesisMismatch { stored: String, given: String },
    #[error("block {height} does not extend the head: expected parent {expected}, got {got}")]
    NotOnHead { height: u64, expected: String, got: String },
    #[error("parent block {parent} is unknown (not at or above the last irreversible block)")]
    UnknownParent { parent: String },
    #[error("block {hash} is unknown")]
    UnknownBlock { hash: String },
    #[error("block {hash} would revert past the last irreversible block at height {lib_height}")]
    BelowLib { hash: String, lib_height: u64 },
    #[error("block {hash} is not on the main chain")]
    NotMain { hash: String },
    #[error("{limit} blocks are pending above the last irreversible block, the limit")]
    TreeFull { limit: usize },
    #[error("block {hash} is invalid: {reason}")]
    InvalidBlock { hash: String, reason: String },
    #[error("state: {0}")]
    Store(#[from] aergo_store::StoreError),
    #[error("execution: {0}")]
    Exec(#[from] aergo_exec::ExecError),
    #[error("types: {0}")]
    Types(#[from] aergo_types::TypesError),
    #[error("crypto: {0}")]
    Crypto(#[from] aergo_crypto::CryptoError),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for ChainError {
            fn from(e: $t) -> Self {
                ChainError::Db(e.to_string())
            }
        }
    )*};
}

db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
