//! The values the DPoS engine trades with its caller: producer sets,
//! votes, quorum certificates, the safety state, restart anchors, block
//! summaries and actions.

use crate::error::{producer_name, ConsensusError, Result};
use aergo_crypto::{PrivateKey, PublicKey, Signature};
use aergo_types::Hash;
use std::sync::Arc;

/// A block producer is named by its secp256k1 public key: the key that
/// signs its blocks and its votes.
pub type ProducerId = PublicKey;

/// Most producers in one set. A quorum certificate for a block of a
/// transition (two sets) carries at most two quorums of signatures, which
/// must fit the block header's `consensus` field: 2 x 22 compact
/// signatures of 64 bytes is 2.8 KB of the header's 4 KB.
pub const MAX_PRODUCERS: usize = 32;
/// Most distinct voters of one block: the union of two sets.
pub const MAX_VOTERS: usize = 2 * MAX_PRODUCERS;

/// Shortest DPoS slot (the lower bound).
pub const MIN_DPOS_INTERVAL_MS: u64 = 250;
/// Longest DPoS slot.
pub const MAX_DPOS_INTERVAL_MS: u64 = 3_600_000;

/// Signatures needed from a set of `n` producers: more than two thirds,
/// `floor(2n/3) + 1`. Any two such quorums share at least
/// `floor((n-1)/3) + 1` producers, so at least one honest producer when
/// at most `floor((n-1)/3)` are faulty.
pub fn quorum_size(n: usize) -> usize {
    2 * n / 3 + 1
}

// The vote digest lives with the evidence that carries votes, so the
// executor checks a double vote with the engine's own digest.
pub use aergo_types::evidence::{vote_digest, VOTE_DOMAIN};

/// One producer's vote for one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    pub slot: u64,
    pub block: Hash,
    pub voter: ProducerId,
    pub signature: Signature,
}

impl Vote {
    /// Signs a vote with `key`.
    pub fn sign(chain_tag: &Hash, slot: u64, block: Hash, key: &PrivateKey) -> Vote {
        let signature = key.sign_hash(&vote_digest(chain_tag, slot, &block));
        Vote { slot, block, voter: key.public_key(), signature }
    }

    /// Checks the signature (not whether the voter may vote for the block).
    pub fn verify(&self, chain_tag: &Hash) -> Result<()> {
        self.voter
            .verify_hash(&vote_digest(chain_tag, self.slot, &self.block), &self.signature)
            .map_err(|_| ConsensusError::BadVoteSignature { voter: producer_name(&self.voter), slot: self.slot })
    }
}

/// A quorum certificate: votes of a quorum of a block's producers for
/// that block. Signers are named by their index in the block's voter list
/// ([`QuorumConfig::voters`]), which the verifier knows from the block.
///
/// The certificate of the genesis block is implicit: no signatures and
/// `voter_count` 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qc {
    pub slot: u64,
    pub block: Hash,
    /// Length of the voter list the indices refer to.
    pub voter_count: u8,
    /// `(voter index, signature)`, strictly increasing by index.
    pub signatures: Vec<(u8, Signature)>,
}

impl Qc {
    /// The implicit certificate of the genesis block.
    pub fn genesis(genesis_hash: Hash) -> Qc {
        Qc { slot: 0, block: genesis_hash, voter_count: 0, signatures: Vec::new() }
    }

    /// True for the implicit (signature-less) form.
    pub fn is_implicit(&self) -> bool {
        self.voter_count == 0 && self.signatures.is_empty()
    }
}

/// What a producer must remember across restarts so that it never signs
/// two conflicting things: the last slot it voted in, the last slot it
/// produced in, and the block it is locked on. The engine hands it out in
/// [`Action::Persist`] before any signature that depends on it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SafetyState {
    pub last_voted_slot: u64,
    pub last_produced_slot: u64,
    pub locked_slot: u64,
    pub locked_block: Hash,
}

impl SafetyState {
    /// The state of a producer that never signed anything: locked on
    /// genesis.
    pub fn genesis(genesis_hash: Hash) -> SafetyState {
        SafetyState { last_voted_slot: 0, last_produced_slot: 0, locked_slot: 0, locked_block: genesis_hash }
    }
}

/// Who must certify a block: one producer set, or, while the chain moves
/// from one set to the next, both (a joint quorum).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumConfig {
    Single(Vec<ProducerId>),
    /// `old` is the set being replaced, `new` the elected one; slots go to
    /// `new` in turn.
    Joint {
        old: Vec<ProducerId>,
        new: Vec<ProducerId>,
    },
}

impl QuorumConfig {
    /// The set whose members take the slots in turn.
    pub fn leaders(&self) -> &[ProducerId] {
        match self {
            QuorumConfig::Single(s) => s,
            QuorumConfig::Joint { new, .. } => new,
        }
    }

    /// The producer of `slot`, or `None` for an empty set.
    pub fn leader(&self, slot: u64) -> Option<ProducerId> {
        let l = self.leaders();
        if l.is_empty() {
            return None;
        }
        l.get((slot % l.len() as u64) as usize).copied()
    }

    /// Everyone whose vote counts, in certificate index order: the first
    /// (old) set in its order, then members of the new set not in the old.
    pub fn voters(&self) -> Vec<ProducerId> {
        match self {
            QuorumConfig::Single(s) => s.clone(),
            QuorumConfig::Joint { old, new } => {
                let mut v = old.clone();
                v.extend(new.iter().filter(|p| !old.contains(p)).copied());
                v
            }
        }
    }

    /// Checks both sets: non-empty, at most [`MAX_PRODUCERS`], no repeats.
    pub fn validate(&self) -> Result<()> {
        match self {
            QuorumConfig::Single(s) => validate_set(s),
            QuorumConfig::Joint { old, new } => {
                validate_set(old)?;
                validate_set(new)?;
                if same_members(old, new) {
                    return Err(ConsensusError::BadProducerSet {
                        reason: "a joint configuration needs two different sets".to_string(),
                    });
                }
                Ok(())
            }
        }
    }
}

/// Checks one producer set.
pub fn validate_set(set: &[ProducerId]) -> Result<()> {
    if set.is_empty() || set.len() > MAX_PRODUCERS {
        return Err(ConsensusError::BadProducerSet {
            reason: format!("{} producers, expected 1..={MAX_PRODUCERS}", set.len()),
        });
    }
    let mut sorted: Vec<[u8; 33]> = set.iter().map(|p| p.to_compressed()).collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(ConsensusError::BadProducerSet { reason: "a producer appears twice".to_string() });
    }
    Ok(())
}

/// True when two sets have the same members (in any order).
pub fn same_members(a: &[ProducerId], b: &[ProducerId]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x: Vec<[u8; 33]> = a.iter().map(|p| p.to_compressed()).collect();
    let mut y: Vec<[u8; 33]> = b.iter().map(|p| p.to_compressed()).collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// Where a restarted engine resumes: the last irreversible block, the
/// configuration that certifies it, and (when known) its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub hash: Hash,
    pub height: u64,
    pub slot: u64,
    pub config: QuorumConfig,
    /// Length (capped at 3) of the run of consecutive-slot blocks of one
    /// joint configuration ending here; 0 when `config` is single.
    pub joint_run: u8,
    pub qc: Option<Qc>,
}

impl Anchor {
    /// The genesis block, certified implicitly, produced for by `producers`.
    pub fn genesis(genesis_hash: Hash, genesis_height: u64, producers: Vec<ProducerId>) -> Anchor {
        Anchor {
            hash: genesis_hash,
            height: genesis_height,
            slot: 0,
            config: QuorumConfig::Single(producers),
            joint_run: 0,
            qc: Some(Qc::genesis(genesis_hash)),
        }
    }
}

/// What the engine needs to know about a block. The caller has already
/// checked the block's own signature (the producer is the key that signed
/// the header) and decoded `qc` from the header's `consensus` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    pub hash: Hash,
    pub parent: Hash,
    pub height: u64,
    pub timestamp_ns: i64,
    pub producer: ProducerId,
    /// The certificate of the parent.
    pub qc: Qc,
}

/// The caller's answer to "which producers are elected for a block at
/// `slot` on top of `parent`": a deterministic function of the parent's
/// chain (e.g. the set elected at an epoch boundary block), so every node
/// gets the same answer for the same block.
pub trait ProducerSchedule {
    fn producers(&self, parent: &Hash, slot: u64) -> std::result::Result<Vec<ProducerId>, String>;
}

/// The same producers everywhere: for tests and fixed private networks.
#[derive(Clone, Debug)]
pub struct StaticSchedule(pub Arc<[ProducerId]>);

impl ProducerSchedule for StaticSchedule {
    fn producers(&self, _parent: &Hash, _slot: u64) -> std::result::Result<Vec<ProducerId>, String> {
        Ok(self.0.to_vec())
    }
}

/// A block to build: the caller executes pending transactions on
/// `parent`'s state, fills a header with this height and timestamp, puts
/// `qc` (encoded) in its `consensus` field, signs it and hands it back
/// through `on_block`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub slot: u64,
    pub timestamp_ns: i64,
    pub parent: Hash,
    pub height: u64,
    pub qc: Qc,
}

/// Proof that a producer signed two conflicting things. The engine only
/// reports it; slashing is the state transition's, on evidence anyone
/// submits (`aergo_types::evidence`, `aergo_exec::slashing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Two blocks by one producer in one slot.
    DoubleProduction { producer: ProducerId, slot: u64, first: Hash, second: Hash },
    /// Two votes by one producer in one slot for different blocks.
    DoubleVote { first: Vote, second: Vote },
}

/// What the caller must do, in order. A `Persist` must be durable before
/// any later action of the same list is carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write this state durably (replacing the previous one).
    Persist(SafetyState),
    /// Build, sign and submit a block.
    Produce(Proposal),
    /// Gossip this vote to the producers (all peers is fine).
    SendVote(Vote),
    /// The block became irreversible. Commits come in height order
    /// without gaps.
    Commit { hash: Hash, height: u64, slot: u64 },
    /// After a run of commits: persist this to restart from it.
    Anchor(Anchor),
    /// The fork choice moved.
    SwitchHead { hash: Hash, height: u64 },
    /// Misbehaviour seen (the offending message was still processed).
    Evidence(Evidence),
}

/// Settings of the DPoS engine (genesis parameters and local tuning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DposConfig {
    /// Names the chain in vote signatures (e.g. the chain id hash).
    pub chain_tag: Hash,
    pub genesis_hash: Hash,
    /// Start of slot 0; the genesis block is in slot 0.
    pub genesis_timestamp_ns: i64,
    /// Slot length.
    pub block_interval_ms: u64,
    /// How far a block's timestamp may be ahead of local time.
    pub max_clock_drift_ms: u64,
    /// How long into its slot a leader waits for the certificate of the
    /// previous slot's block before it builds on the highest certificate
    /// it has, in percent of the slot.
    pub produce_wait_percent: u8,
    /// Vote only for blocks at most this many slots older than the
    /// current slot (older votes cannot help anyone and would flood the
    /// network when a node catches up).
    pub max_vote_age_slots: u64,
}

impl DposConfig {
    /// Defaults for a chain: 1 s slots, 500 ms drift, wait half a slot.
    pub fn new(chain_tag: Hash, genesis_hash: Hash, genesis_timestamp_ns: i64) -> DposConfig {
        DposConfig {
            chain_tag,
            genesis_hash,
            genesis_timestamp_ns,
            block_interval_ms: 1_000,
            max_clock_drift_ms: 500,
            produce_wait_percent: 50,
            max_vote_age_slots: 4,
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(MIN_DPOS_INTERVAL_MS..=MAX_DPOS_INTERVAL_MS).contains(&self.block_interval_ms) {
            return Err(ConsensusError::BadInterval {
                got_ms: self.block_interval_ms,
                min_ms: MIN_DPOS_INTERVAL_MS,
                max_ms: MAX_DPOS_INTERVAL_MS,
            });
        }
        if self.produce_wait_percent > 90 {
            return Err(ConsensusError::BadConfig {
                field: "produce_wait_percent",
                reason: format!("{}, expected 0..=90", self.produce_wait_percent),
            });
        }
        if self.max_clock_drift_ms > 60_000 {
            return Err(ConsensusError::BadConfig {
                field: "max_clock_drift_ms",
                reason: format!("{}, expected at most 60000", self.max_clock_drift_ms),
            });
        }
        if self.max_vote_age_slots > 1_000 {
            return Err(ConsensusError::BadConfig {
                field: "max_vote_age_slots",
                reason: format!("{}, expected at most 1000", self.max_vote_age_slots),
            });
        }
        Ok(())
    }

    /// Slot length in nanoseconds.
    pub fn interval_ns(&self) -> i64 {
        // Bounded by MAX_DPOS_INTERVAL_MS, so no overflow.
        (self.block_interval_ms as i64).saturating_mul(1_000_000)
    }

    /// The slot of a timestamp.
    pub fn slot_of(&self, timestamp_ns: i64) -> Result<u64> {
        if timestamp_ns < self.genesis_timestamp_ns {
            return Err(ConsensusError::BeforeGenesis { timestamp_ns, genesis_ns: self.genesis_timestamp_ns });
        }
        let since = (timestamp_ns as i128) - (self.genesis_timestamp_ns as i128);
        Ok((since / self.interval_ns().max(1) as i128) as u64)
    }

    /// The first nanosecond of `slot` (saturating).
    pub fn slot_start_ns(&self, slot: u64) -> i64 {
        let t = (self.genesis_timestamp_ns as i128) + (slot as i128) * (self.interval_ns() as i128);
        t.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}
