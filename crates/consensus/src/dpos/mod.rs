//! BFT-DPoS: round-robin producer slots with chained-HotStuff finality.
//! (Full description: see the crate documentation.)

mod codec;
mod engine;
mod types;

pub use codec::{MAX_ANCHOR_SIZE_BYTES, MAX_QC_SIZE_BYTES, SAFETY_STATE_SIZE_BYTES, VOTE_SIZE_BYTES};
pub use engine::{DposEngine, MAX_PENDING_VOTES, MAX_TREE_BLOCKS, STALE_LEAF_SLOTS};
pub use types::*;

#[cfg(test)]
mod tests;
