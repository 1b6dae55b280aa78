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

use serde::{Deserialize, Serialize};

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    #[error("consensus {name:?} is not built yet; use \"sbp\" (solo) for now")]
    NotBuilt { name: String },
    #[error("unknown consensus {name:?}: expected one of sbp, dpos, raft")]
    Unknown { name: String },
    #[error("block interval {got_ms} ms is out of range: expected {min_ms}..={max_ms} ms")]
    BadInterval { got_ms: u64, min_ms: u64, max_ms: u64 },
}

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

/// Shortest block interval accepted.
pub const MIN_BLOCK_INTERVAL_MS: u64 = 50;
/// Longest block interval accepted.
pub const MAX_BLOCK_INTERVAL_MS: u64 = 3_600_000;

/// Settings of the solo engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SoloConfig {
    /// Time between blocks.
    pub block_interval_ms: u64,
    /// Seal blocks even when nothing is pending.
    pub produce_empty_blocks: bool,
}

impl Default for SoloConfig {
    fn default() -> Self {
        SoloConfig { block_interval_ms: 1_000, produce_empty_blocks: false }
    }
}

/// The solo engine: one producer on a fixed interval.
#[derive(Clone, Debug)]
pub struct Solo {
    config: SoloConfig,
}

/// What the engine decided for one tick of the producer loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Seal a block with this timestamp.
    Produce { timestamp_ns: i64 },
    /// Do nothing until the next tick.
    Wait,
}

impl Solo {
    pub fn new(config: SoloConfig) -> Result<Solo, ConsensusError> {
        let ms = config.block_interval_ms;
        if !(MIN_BLOCK_INTERVAL_MS..=MAX_BLOCK_INTERVAL_MS).contains(&ms) {
            return Err(ConsensusError::BadInterval {
                got_ms: ms,
                min_ms: MIN_BLOCK_INTERVAL_MS,
                max_ms: MAX_BLOCK_INTERVAL_MS,
            });
        }
        Ok(Solo { config })
    }

    pub fn config(&self) -> &SoloConfig {
        &self.config
    }

    /// Decides at time `now_ns` given the head's timestamp and the number of
    /// ready transactions. Block timestamps strictly increase even if the
    /// wall clock steps back.
    pub fn decide(&self, now_ns: i64, head_timestamp_ns: i64, ready_txs: usize) -> Decision {
        if ready_txs == 0 && !self.config.produce_empty_blocks {
            return Decision::Wait;
        }
        let interval_ns = (self.config.block_interval_ms as i64).saturating_mul(1_000_000);
        // A block is due once an interval has passed since the head, minus a
        // small tolerance for tick jitter.
        if now_ns.saturating_sub(head_timestamp_ns) < interval_ns - interval_ns / 10 {
            return Decision::Wait;
        }
        Decision::Produce { timestamp_ns: now_ns.max(head_timestamp_ns.saturating_add(1)) }
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

    #[test]
    fn solo_waits_for_work_and_interval() {
        let solo = Solo::new(SoloConfig::default()).unwrap();
        let s = 1_000_000_000;
        assert_eq!(solo.decide(10 * s, 9 * s, 0), Decision::Wait);
        assert_eq!(solo.decide(9 * s + s / 2, 9 * s, 3), Decision::Wait);
        assert_eq!(solo.decide(10 * s, 9 * s, 3), Decision::Produce { timestamp_ns: 10 * s });
        // Clock went backwards: the timestamp still moves forward.
        let eager = Solo::new(SoloConfig { block_interval_ms: 1_000, produce_empty_blocks: true }).unwrap();
        assert_eq!(eager.decide(5 * s, -10 * s, 0), Decision::Produce { timestamp_ns: 5 * s });
        assert!(Solo::new(SoloConfig { block_interval_ms: 1, ..SoloConfig::default() }).is_err());
    }
}
