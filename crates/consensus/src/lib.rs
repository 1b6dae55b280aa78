//! aergo-consensus: who produces the next block, when, and which blocks
//! are final.
//!
//! Bird's-eye view: an engine answers two questions for the node, "should
//! this node build a block now, on which parent?" and "which blocks can no
//! longer be reverted?". The node owns the loop, the clock, the network
//! and the storage; engines are pure, synchronous state machines (no clock,
//! no I/O, no randomness) so a simulator can drive them step by step.
//!
//! Engines are chosen by the chain id's `consensus` field in the genesis
//! file, as in the Go node:
//!
//! - `sbp` ("simple block producer") is [`Solo`]: one producer, a block
//!   every interval when transactions are pending (or always, if
//!   configured). Finality is immediate: there is nobody to disagree.
//! - `dpos` is [`DposEngine`] ([`dpos`]): the elected producers take
//!   round-robin slots and finalize blocks with chained-HotStuff quorum
//!   certificates (BFT-DPoS). [`ConsensusKind::require_built`] still
//!   refuses it because the node does not run it yet.
//! - `raft` is recognised and refused with a clear error.
//!
//! `sim` (feature `sim`, off by default: the node does not link it) is a
//! deterministic, seeded simulation of a DPoS network with crashes,
//! restarts, partitions, link failures, loss, duplication, delay and
//! reordering, checking safety after every step and liveness after the
//! faults heal; it is generic over the `sim::Application` that executes
//! blocks. This crate's tests and examples, and `aergo-replica`'s tests,
//! turn the feature on through their dev-dependencies, so `cargo test`
//! runs the simulations.
//!
//! Commands:
//! - `cargo test -p aergo-consensus`: unit tests, encodings (golden
//!   vectors, proptests) and four simulation seeds (a few seconds).
//! - `SEED=<n> cargo test -p aergo-consensus --test sim sim_replay -- --nocapture`:
//!   replays a seed (a failure prints its seed and step) with a trace.
//! - `SIM_SEEDS=<count> cargo test -p aergo-consensus --release --test sim -- --ignored sim_many --nocapture`:
//!   many seeds (default 200, about 0.7 s each in release).
//! - `cargo run -p aergo-consensus --release --example dpos_bench`: the
//!   engine's import cost against bare signature checks (`BENCH` lines).
//!
//! Deliberately absent: stake-weighted voting (one producer, one vote),
//! slashing (double production and double votes are reported as
//! [`dpos::Evidence`]; the state transition slashes on evidence anyone
//! submits), the election itself (the caller supplies the
//! elected set per block through [`dpos::ProducerSchedule`]), and
//! networking, block storage and execution.

pub mod dpos;
mod error;
#[cfg(feature = "sim")]
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
