//! BFT-DPoS: round-robin producer slots with chained-HotStuff finality.
//!
//! # The protocol
//!
//! **Slots.** Time is cut into slots of `block_interval_ms` from the
//! genesis timestamp: `slot = (timestamp - genesis_timestamp) / interval`.
//! A block's slot is the slot of its timestamp. The *elected set* for a
//! block is whatever the caller's [`ProducerSchedule`] says for its parent
//! and slot (on a real chain: the top-N candidates by vote, read from the
//! parent's state). The block's *configuration* ([`QuorumConfig`]) derives
//! from its parent's configuration and the elected set (see "Producer set
//! changes"), and the leader of slot `s` is `leaders[s % leaders.len()]`.
//! A block is valid when its height is its parent's plus one, its slot is
//! after its parent's, its timestamp is not ahead of local time by more
//! than `max_clock_drift_ms`, its producer is the leader of its slot, and
//! it carries a valid quorum certificate for its parent.
//!
//! **Votes and certificates.** A producer of a block's configuration that
//! accepts the block may vote for it: it signs
//! [`vote_digest`]`(chain_tag, slot, block)` and gossips the [`Vote`].
//! Every node aggregates votes; `floor(2n/3) + 1` votes of a set of `n`
//! producers (of each set, for a joint configuration) make a quorum
//! certificate ([`Qc`]) that *certifies* the block. The leader of a slot
//! builds on the *highest certified block* it knows (highest slot) and puts
//! that block's certificate in the new block's header (`consensus` field),
//! so every block certifies its parent. Genesis is certified implicitly.
//!
//! **Safety rules** (HotStuff, with slots as views). Each producer keeps a
//! [`SafetyState`]: `last_voted_slot`, `last_produced_slot`, and a lock
//! (`locked_slot`, `locked_block`).
//! 1. It votes for a block in slot `s` only if `s > last_voted_slot`,
//!    and produces in slot `s` only if `s > last_produced_slot`: one vote
//!    and one block per slot, ever.
//! 2. Lock (two-chain): whenever it learns a certificate for a block `B`
//!    (from a child's header or by aggregating votes), it locks on `B`'s
//!    parent if that is newer than the current lock. It also locks on the
//!    last irreversible block.
//! 3. Vote rule: it votes for a block only if the block's parent (the block
//!    its certificate certifies) is newer than the lock, or is the locked
//!    block.
//! 4. Persistence: the engine hands out the new state in
//!    [`Action::Persist`] *before* the [`Action::SendVote`] or
//!    [`Action::Produce`] that depends on it; the caller must make it
//!    durable first. A restart loads the persisted state.
//!
//! **Commit rule.** When a certificate for `b''` is known, `b''`'s parent
//! is `b'` and `b'`'s parent is `b`, and the three are in *consecutive*
//! slots (`b'.slot = b.slot + 1`, `b''.slot = b.slot + 2`), then `b` and
//! all its ancestors are final: `b` becomes the last irreversible block
//! (LIB). Commits are emitted in height order without gaps
//! ([`Action::Commit`]), then an [`Action::Anchor`] to persist for restarts.
//! Blocks not descending from the LIB are dropped: the fork choice never
//! reverts past it.
//!
//! **Fork choice.** The head is the newest block extending the highest
//! certified block (that block's children are the only uncertified
//! proposals above it), or that block itself.
//!
//! **Pacemaker.** Slots are time-based, so a crashed or partitioned leader
//! only costs its slot. A leader builds at the start of its slot if it has
//! the certificate of the previous slot's block; otherwise it waits
//! `produce_wait_percent` of the slot for it, then builds on the highest
//! certificate it has. Votes for blocks older than `max_vote_age_slots` are
//! not sent (they could not help anyone).
//!
//! # Why it is safe
//!
//! Assume at most `f = floor((n-1)/3)` faulty producers in every set; then
//! two quorums of one set share an honest producer.
//!
//! *Uniqueness.* Two certified blocks in one slot whose configurations
//! share a set are the same block: an honest producer in both quorums
//! votes once per slot.
//!
//! *Lemma.* If `b` is final through `b <- b' <- b''` (consecutive slots,
//! `b''` certified), every certified block `w` with `w.slot >= b.slot`
//! extends `b`. By induction on `w.slot`: slots `b.slot ..= b.slot + 2` hold
//! only `b`, `b'`, `b''` (uniqueness). For a later `w`, take an honest `h`
//! in the quorums of both `w` and `b''`. `h` voted for `b''` first (votes
//! rise in slot); processing `b''` it learnt `b'`'s certificate and locked
//! at least on `b`. Locks only rise, so when voting for `w` its lock `L`
//! had `L.slot >= b.slot`. By rule 3 either `w`'s parent is `L`, which is
//! certified in `[b.slot, w.slot)` and so extends `b` by induction, or
//! `w`'s parent is certified with a slot in `(L.slot, w.slot)`, which
//! extends `b` by induction too. So `w` extends `b`.
//!
//! Two final blocks `b`, `c` with `c.slot >= b.slot` then lie on one chain:
//! `c` is certified (its child in the 3-chain carries its certificate), so
//! it extends `b`. The consecutive-slot condition is what makes the base
//! case hold: with a gap, a conflicting block certified inside the gap
//! could be extended later. Removing it from the engine makes the test
//! `blocks_in_non_consecutive_slots_do_not_commit` finalize two blocks at
//! one height, and the simulation too in 9 of 200 seeds. Likewise
//! without the lock rule, `a_deaf_leader_cannot_fork_a_final_block`
//! finalizes two blocks at one height (and 2 of 200 simulation seeds).
//!
//! # Producer set changes
//!
//! Sets that share no honest quorum member cannot rely on quorum
//! intersection, so the hand-over itself is made final (Raft's joint
//! consensus, transplanted):
//! - while the parent's configuration is `Single(A)` and the elected set
//!   is `A` (same members), the child is `Single` too (the order may
//!   change);
//! - when the elected set `E` differs, the child's configuration is
//!   `Joint { old: A, new: E }`: slots go to `E` in turn, and certificates
//!   need a quorum of `A` *and* a quorum of `E`;
//! - the joint configuration lasts (whatever is elected meanwhile) until
//!   three joint blocks in consecutive slots are chained, `J <- J' <- J''`.
//!   The child of `J''` carries `J''`'s certificate, which makes `J` final;
//!   that child and its descendants are `Single(E)`.
//!
//! Sketch of why this is safe: every certified block of a transition has
//! a quorum of `A` or of `E` in common with the blocks around it, and `E` takes over alone only above a
//! block that is final by `A`'s and `E`'s quorums together, so the lemma
//! carries across the hand-over (a block committed by `A` alone lies below
//! `J`; one committed by `E` alone lies above a final `J`). This relies
//! on: the schedule being a deterministic function of the block's
//! ancestry (every node computes the same configuration for the same
//! block), at most `f` faulty producers in each set involved, and, for
//! liveness during a hand-over, a quorum of *both* sets up and connected.
//! No assumption is made about when the election's boundary block
//! becomes final. That alone would not be enough: with the new set
//! taking over at once, a partition between the leaving and the joining
//! producers around the boundary finalizes two forks even when the
//! election was final long before (test
//! `a_set_change_during_a_partition_cannot_fork`, and 2 of 600
//! simulation seeds).
//!
//! # Liveness
//!
//! Once faults heal and a quorum of each active set is up and connected,
//! nodes exchange blocks (the caller's sync), so the leaders learn the
//! highest certificate; since a lock is always the *parent* of a certified
//! block that was gossiped, a leader that has the newest blocks has a
//! certificate at least as new as every honest lock, and honest producers
//! vote for its block. Three consecutive slots with honest, connected
//! leaders then finalize a block. The simulation checks this bound after
//! every heal.
//!
//! # Bounds
//!
//! At most [`MAX_TREE_BLOCKS`] blocks above the LIB (old uncertified leaves
//! are pruned after [`STALE_LEAF_SLOTS`]), [`MAX_PENDING_VOTES`] votes for
//! unknown blocks (newest slots kept), [`MAX_PRODUCERS`] per set, votes and
//! blocks at most a drift bound ahead of local time. Every rejection is a
//! typed [`crate::ConsensusError`]; [`crate::ConsensusError::is_benign`]
//! marks the ones honest peers cause (duplicates, stale votes).
//!
//! # Not here
//!
//! Stake-weighted votes (one producer, one vote), slashing (double
//! production and double votes surface as [`Evidence`] and the message is
//! still processed; `aergo_exec::slashing` acts on submitted evidence), the election and producer rating (the caller's
//! [`ProducerSchedule`]), block signatures (the caller verifies the header
//! signature and passes the producer's key), execution, storage and sync.

mod codec;
mod engine;
mod types;

pub use codec::{MAX_ANCHOR_SIZE_BYTES, MAX_QC_SIZE_BYTES, SAFETY_STATE_SIZE_BYTES, VOTE_SIZE_BYTES};
pub use engine::{DposEngine, MAX_PENDING_VOTES, MAX_TREE_BLOCKS, STALE_LEAF_SLOTS};
pub use types::*;

#[cfg(test)]
mod tests;
