//! aergo-consensus: who produces the next block, and when.
//!
//! Bird's-eye view: an engine answers one question for the node's producer
//! loop, "given the time and what is pending, should this node seal a block
//! now, and at what timestamp?", and (for engines with several producers)
//! which blocks are final. The node owns the loop and the clock; engines are
//! pure functions of their inputs so a simulator can drive them.
//!
//! Engines are chosen by the chain id's `consensus` field in the genesis
//! file, as in the Go node:
//!
//! - `sbp` ("simple block producer") is [`Solo`]: one producer, a block
//!   every interval when transactions are pending (or always, if
//!   configured). Finality is immediate: there is nobody to disagree.
//! - `dpos` and `raft` are recognised and refused with a clear error until
//!   they are built.

pub mod dpos;
mod error;
pub mod sim;
mod solo;

pub use dpos::DposEngine;
pub use error::{ConsensusError, Result};
pub use solo::{Decision, Solo, SoloConfig, MAX_BLOCK_INTERVAL_MS, MIN_BLOCK_INTERVAL_MS};

/// The engines a genesis can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsensusKind {
    Solo,
    Dpos,
    Raft,
}

impl ConsensusKind {
    /// Parses the chain id's consensus name.
    pub fn parse(name: &str) -> Result<ConsensusKind, ConsensusError> {
        match name {
            "sbp" | "solo" => Ok(ConsensusKind::Solo),
            "dpos" => Ok(ConsensusKind::Dpos),
            "raft" => Ok(ConsensusKind::Raft),
            other => Err(ConsensusError::Unknown { name: other.to_string() }),
        }
    }

    /// Refuses engines that are not built.
    pub fn require_built(self) -> Result<ConsensusKind, ConsensusError> {
        match self {
            ConsensusKind::Solo => Ok(self),
            ConsensusKind::Dpos => Err(ConsensusError::NotBuilt { name: "dpos".into() }),
            ConsensusKind::Raft => Err(ConsensusError::NotBuilt { name: "raft".into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engines() {
        assert_eq!(ConsensusKind::parse("sbp").unwrap(), ConsensusKind::Solo);
        assert!(ConsensusKind::parse("dpos").unwrap().require_built().is_err());
        assert!(ConsensusKind::parse("pow").is_err());
    }
}
