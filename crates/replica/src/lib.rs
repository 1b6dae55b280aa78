//! aergo-replica: one node's deterministic core (docs below are expanded
//! at the end of this work).

mod error;
mod output;
mod replica;
mod schedule;

pub use error::{ReplicaError, Result};
pub use output::{Offence, Output, Peer, Step, Verdict};
pub use replica::{
    DposStatus, EngineKind, Replica, ReplicaConfig, Role, SyncStep, ANCHOR_META, MAX_FUTURE_BLOCKS, MAX_ORPHANS,
    SAFETY_META,
};
