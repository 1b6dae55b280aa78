//! The one error enum of this crate.
//!
//! These are *local* failures: the store failed, the persisted consensus
//! state is unreadable, a configuration is unusable, an engine that is not
//! built was asked for. Bad input from peers is never an error here; it is
//! a [`crate::Verdict::Reject`] with a [`crate::Output::Penalise`].

use aergo_chain::ChainError;
use aergo_consensus::ConsensusError;

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    #[error("consensus: {0}")]
    Consensus(#[from] ConsensusError),
    #[error("types: {0}")]
    Types(#[from] aergo_types::TypesError),
    #[error("execution: {0}")]
    Exec(#[from] aergo_exec::ExecError),
    #[error("persisted consensus state {what}: {reason}")]
    Persisted { what: &'static str, reason: String },
    #[error("configuration {field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("consensus {name:?} is not built yet: use \"sbp\" (solo) or \"dpos\"")]
    NotBuilt { name: String },
    #[error("producer set at block {block}: {reason}")]
    ProducerSet { block: String, reason: String },
    #[error("restart: {reason}")]
    Restart { reason: String },
    /// A transaction submitted locally was refused (the reason says why);
    /// the caller's fault, not the node's.
    #[error("{reason}")]
    TxRejected { reason: String },
}

impl ReplicaError {
    /// True for [`ReplicaError::TxRejected`]: the client sent something the
    /// chain does not accept, the node itself is fine.
    pub fn is_rejection(&self) -> bool {
        matches!(self, ReplicaError::TxRejected { .. })
    }
}

pub type Result<T, E = ReplicaError> = std::result::Result<T, E>;
