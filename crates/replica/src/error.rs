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
    /// A transaction submitted locally was refused; the caller's fault,
    /// not the node's. Keeps the refusing crate's error, so the reason
    /// code reaches the client.
    #[error(transparent)]
    TxRejected(TxRejection),
}

/// Why a locally submitted transaction was refused: by the stateless
/// checks and signature (`exec::verify_tx`) or by pool admission.
#[derive(Debug, thiserror::Error)]
pub enum TxRejection {
    #[error(transparent)]
    Verify(aergo_exec::ExecError),
    #[error(transparent)]
    Pool(#[from] aergo_pool::PoolError),
    /// Refused by the producer's open block: the state cannot run it.
    #[error(transparent)]
    Execute(aergo_exec::ExecError),
}

impl TxRejection {
    /// The stable reason code for the client.
    pub fn reason(&self) -> aergo_types::RejectReason {
        match self {
            // `verify_tx` refuses only for the transaction's own faults, all
            // of which have a reason; the fallback is never reached.
            TxRejection::Verify(e) => e.reason().unwrap_or(aergo_types::RejectReason::InvalidFormat),
            TxRejection::Pool(e) => e.reason(),
            TxRejection::Execute(e) => e.reason().unwrap_or(aergo_types::RejectReason::InvalidFormat),
        }
    }
}

impl ReplicaError {
    /// True for [`ReplicaError::TxRejected`]: the client sent something the
    /// chain does not accept, the node itself is fine.
    pub fn is_rejection(&self) -> bool {
        matches!(self, ReplicaError::TxRejected(_))
    }
}

pub type Result<T, E = ReplicaError> = std::result::Result<T, E>;
