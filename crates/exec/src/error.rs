//! The one error enum of the exec crate.

use aergo_store::StoreError;
use aergo_types::{RejectReason, TypesError};

/// Why a transaction or block could not be applied.
///
/// `Rejected*` variants mean the transaction is invalid against the state it
/// was applied to: it is left out of the block and changes nothing.
/// `Storage` means the node itself failed and the block must be abandoned.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TypesError),
    #[error("bad signature: {0}")]
    Signature(#[from] aergo_crypto::CryptoError),
    #[error("nonce mismatch for {account}: expected {expected}, got {got}")]
    Nonce { account: String, expected: u64, got: u64 },
    #[error("insufficient balance in {account}: needs {needed} (amount plus fee), has {available}")]
    InsufficientBalance { account: String, needed: String, available: String },
    #[error("gas limit {limit} is below the {needed} gas this transaction needs")]
    GasLimitTooLow { limit: u64, needed: u64 },
    #[error("gas limit {limit} exceeds the chain's maximum of {max} gas per transaction")]
    GasLimitTooHigh { limit: u64, max: u64 },
    #[error("gas price {offered} is below the chain's gas price {required}")]
    GasPriceTooLow { offered: String, required: String },
    #[error("balance of {account} would exceed the total supply")]
    BalanceOverflow { account: String },
    #[error("{what} is not supported yet: {reason}")]
    Unsupported { what: String, reason: &'static str },
    #[error("system table {table} is corrupt: {reason}")]
    CorruptState { table: &'static str, reason: String },
    #[error("block limit reached: {what}")]
    BlockFull { what: &'static str },
    /// A governance or contract payload that does not parse.
    #[error("bad payload: {reason}")]
    BadPayload { reason: String },
    #[error("unknown system call {name:?}: expected v1stake, v1unstake, v1voteBP, v1voteDAO or v1evidence")]
    UnknownSystemCall { name: String },
    #[error("{call}: {reason}")]
    GovernanceRejected { call: &'static str, reason: String },
    #[error("evidence refused: {reason}")]
    EvidenceRejected { reason: String },
    #[error("no account is registered under the name {name:?}")]
    UnknownName { name: String },
    #[error("{call} {name:?} refused: {reason}")]
    NameRejected { call: &'static str, name: String, reason: String },
    #[error("stake of {account} would be {would_be}, but a stake must be 0 or at least the minimum {minimum}")]
    StakeBelowMinimum { account: String, would_be: String, minimum: String },
    #[error("stake of {account} is locked until block {unlock_height}; this is block {height}")]
    StakeLocked { account: String, unlock_height: u64, height: u64 },
    #[error("{account} asks to unstake {requested} but has {staked} staked")]
    UnstakeExceedsStake { account: String, requested: String, staked: String },
    #[error("{account} has nothing staked: stake before {what}")]
    NotStaked { account: String, what: &'static str },
    #[error("slot {slot} belongs to producer {expected}, but the block says {got}")]
    WrongProducer { slot: u64, expected: String, got: String },
    #[error("block slot: {reason}")]
    BadSlot { reason: String },
    #[error("a DPoS block must start with BlockBuilder::begin_dpos (the producer bookkeeping), before {what}")]
    DposHookMissing { what: &'static str },
    #[error("genesis: {reason}")]
    BadGenesis { reason: String },
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    #[error("no contract at {address}: {reason}")]
    NoContract { address: String, reason: &'static str },
    #[error("contract {contract} has no public function {function:?}{hint}")]
    UnknownFunction { contract: String, function: String, hint: String },
    #[error("bad arguments for {function}: {reason}")]
    BadArguments { function: String, reason: String },
    /// The contract's SQL failed (including RAISE EXCEPTION and out of gas),
    /// or, when [`aergo_sql::SqlError::is_node_failure`], the store under it.
    #[error("{0}")]
    Sql(#[from] aergo_sql::SqlError),
    #[error("no branch {name:?} on this chain (list them with `aergo branch list`)")]
    UnknownBranch { name: String },
    #[error("{call} {name:?} refused: {reason}")]
    BranchRejected { call: &'static str, name: String, reason: String },
    #[error("{call} of file {hash} refused: {reason}")]
    FileRejected { call: &'static str, hash: String, reason: String },
    #[error("limit exceeded: {what} exceeds {limit}")]
    LimitExceeded { what: &'static str, limit: u64 },
}

impl ExecError {
    /// The stable reason code of a rejection (meaningful when
    /// [`ExecError::is_rejection`]; node failures say `None`).
    pub fn reason(&self) -> Option<RejectReason> {
        use RejectReason as R;
        if !self.is_rejection() {
            return None;
        }
        Some(match self {
            ExecError::Invalid(e) => e.reason(),
            ExecError::Signature(aergo_crypto::CryptoError::Types(e)) => e.reason(),
            ExecError::Signature(_) => R::BadSignature,
            ExecError::Nonce { expected, got, .. } if got < expected => R::NonceTooLow,
            ExecError::Nonce { .. } => R::NonceTooHigh,
            ExecError::InsufficientBalance { .. } => R::InsufficientBalance,
            ExecError::GasLimitTooLow { .. } => R::GasLimitTooLow,
            ExecError::GasLimitTooHigh { .. } => R::GasLimitTooHigh,
            ExecError::GasPriceTooLow { .. } => R::GasPriceTooLow,
            ExecError::BalanceOverflow { .. } => R::Overflow,
            ExecError::Unsupported { .. } => R::Unsupported,
            ExecError::BlockFull { .. } => R::BlockFull,
            ExecError::BadPayload { .. } | ExecError::UnknownSystemCall { .. } => R::BadPayload,
            ExecError::GovernanceRejected { .. }
            | ExecError::StakeBelowMinimum { .. }
            | ExecError::StakeLocked { .. }
            | ExecError::UnstakeExceedsStake { .. }
            | ExecError::NotStaked { .. } => R::GovernanceRejected,
            ExecError::EvidenceRejected { .. } => R::EvidenceRejected,
            ExecError::UnknownName { .. } => R::UnknownName,
            ExecError::NameRejected { .. } => R::NameRejected,
            ExecError::UnknownBranch { .. } => R::UnknownBranch,
            ExecError::BranchRejected { .. } => R::BranchRejected,
            ExecError::FileRejected { .. } => R::FileRejected,
            ExecError::WrongProducer { .. } | ExecError::BadSlot { .. } | ExecError::BadGenesis { .. } => {
                R::InvalidFormat
            }
            ExecError::NoContract { .. } => R::NoContract,
            ExecError::UnknownFunction { .. } => R::UnknownFunction,
            ExecError::BadArguments { .. } => R::BadArguments,
            ExecError::Sql(_) => R::ContractFailed,
            ExecError::LimitExceeded { .. } => R::TooLarge,
            ExecError::Storage(_) | ExecError::CorruptState { .. } | ExecError::DposHookMissing { .. } => return None,
        })
    }

    /// True when the error says the transaction (or block) is bad, not the
    /// node or its caller.
    pub fn is_rejection(&self) -> bool {
        match self {
            ExecError::Storage(_) | ExecError::CorruptState { .. } | ExecError::DposHookMissing { .. } => false,
            ExecError::Sql(e) => !e.is_node_failure(),
            _ => true,
        }
    }
}
