//! The one error enum of this crate.

use aergo_types::Hash;

/// Every way a consensus operation can fail. Fields say what was expected
/// and what came; [`ConsensusError::is_benign`] tells the caller which ones
/// are normal on a gossip network (duplicates, stale messages) rather than
/// signs of a faulty or malicious peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    // --- engine selection and configuration ---------------------------------
    #[error("consensus {name:?} is not built yet; use \"sbp\" (solo) for now")]
    NotBuilt { name: String },
    #[error("unknown consensus {name:?}: expected one of sbp, dpos, raft")]
    Unknown { name: String },
    #[error("block interval {got_ms} ms is out of range: expected {min_ms}..={max_ms} ms")]
    BadInterval { got_ms: u64, min_ms: u64, max_ms: u64 },
    #[error("dpos configuration field {field}: {reason}")]
    BadConfig { field: &'static str, reason: String },
    #[error("producer set: {reason}")]
    BadProducerSet { reason: String },
    #[error("producer schedule for a block on {parent} at slot {slot}: {reason}")]
    Schedule { parent: Hash, slot: u64, reason: String },

    // --- blocks ---------------------------------------------------------------
    #[error("block {block} is already known")]
    KnownBlock { block: Hash },
    #[error("block {block}: parent {parent} is unknown (fetch it first)")]
    UnknownParent { block: Hash, parent: Hash },
    #[error("block {block} at height {height} does not extend the last irreversible block at height {lib_height}")]
    BelowFinality { block: Hash, height: u64, lib_height: u64 },
    #[error("block {block}: height {got}, expected {expected} (parent height + 1)")]
    BadHeight { block: Hash, expected: u64, got: u64 },
    #[error("timestamp {timestamp_ns} ns is before the genesis timestamp {genesis_ns} ns")]
    BeforeGenesis { timestamp_ns: i64, genesis_ns: i64 },
    #[error("block {block}: slot {slot} is not after its parent's slot {parent_slot}")]
    SlotNotAfterParent { block: Hash, slot: u64, parent_slot: u64 },
    #[error(
        "block {block}: timestamp {timestamp_ns} ns is more than {max_drift_ms} ms ahead of local time {now_ns} ns"
    )]
    FutureBlock { block: Hash, timestamp_ns: i64, now_ns: i64, max_drift_ms: u64 },
    #[error("block {block}: slot {slot} belongs to producer {expected}, not {got}")]
    WrongSlotOwner { block: Hash, slot: u64, expected: String, got: String },
    #[error("quorum certificate for {certified}: {reason}")]
    BadQc { certified: Hash, reason: String },
    #[error("{blocks} blocks above the last irreversible block: the bound is {capacity}")]
    TreeFull { blocks: usize, capacity: usize },

    // --- votes ----------------------------------------------------------------
    #[error("vote by {voter} for {block}: not a producer of that block")]
    NotAProducer { voter: String, block: Hash },
    #[error("vote by {voter} for {block} at slot {slot} was already counted")]
    DuplicateVote { voter: String, block: Hash, slot: u64 },
    #[error("vote by {voter} for slot {slot}: the signature does not verify")]
    BadVoteSignature { voter: String, slot: u64 },
    #[error("vote for {block} names slot {vote_slot}, but the block is in slot {block_slot}")]
    VoteSlotMismatch { block: Hash, vote_slot: u64, block_slot: u64 },
    #[error("vote for slot {slot} is not above the last irreversible block's slot {lib_slot}")]
    StaleVote { slot: u64, lib_slot: u64 },
    #[error("vote for slot {slot} is too far ahead of the current slot {current_slot}")]
    FutureVote { slot: u64, current_slot: u64 },
    #[error("votes for unknown blocks: buffer of {capacity} is full of newer slots")]
    VoteBufferFull { capacity: usize },

    // --- encodings ------------------------------------------------------------
    #[error("decoding {what}: {reason}")]
    Decode { what: &'static str, reason: String },
}

impl ConsensusError {
    /// True for errors that honest peers cause routinely on a gossip
    /// network (a block or vote seen twice, a vote that arrives after its
    /// block became final): the caller drops the message without
    /// penalising its sender.
    pub fn is_benign(&self) -> bool {
        matches!(
            self,
            ConsensusError::KnownBlock { .. }
                | ConsensusError::DuplicateVote { .. }
                | ConsensusError::StaleVote { .. }
                | ConsensusError::UnknownParent { .. }
        )
    }
}

/// How errors name a producer: its account address (the compressed key
/// in base58check), which is also how operators know it.
pub fn producer_name(p: &aergo_crypto::PublicKey) -> String {
    p.address().to_string()
}

/// Result with this crate's error.
pub type Result<T, E = ConsensusError> = std::result::Result<T, E>;
