//! The solo engine ("sbp"): one producer on a fixed interval.

use crate::ConsensusError;
use serde::{Deserialize, Serialize};

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
