//! aergo-replica: one node's deterministic core. It owns the [`Chain`]
//! handle, the transaction pool and the consensus engine, and turns inputs
//! into outputs. No I/O besides the stores, no clock, no threads, no tokio:
//! the same inputs in the same order give the same outputs and the same
//! stored bytes, which is what lets the node's async shell, the in-test
//! message bus and the deterministic simulation all drive the same code.
//!
//! [`Chain`]: aergo_chain::Chain
//!
//! ## Inputs and outputs
//!
//! A [`Replica`] is driven by: [`Replica::submit_tx`] (a local client),
//! [`Replica::on_gossip_txs`], [`Replica::on_block_bytes`] /
//! [`Replica::on_block`], [`Replica::on_consensus_msg`] (a BFT-DPoS vote),
//! [`Replica::on_sync_blocks`] (blocks fetched by height) and
//! [`Replica::on_tick`] (the local clock, in ns since the epoch). Messages
//! from peers return a [`Step`]: a [`Verdict`] for gossip validation
//! (accept and relay / reject / ignore) and a list of [`Output`]s to carry
//! out in order: publish a tx, block or vote; penalise a peer (with an
//! [`Offence`] and a reason); request a height range from a peer; the head
//! moved; the LIB moved; evidence of a producer's misbehaviour; warnings.
//! Everything that must be durable (blocks, the safety state) is written
//! before the step returns, so the shell only does network and
//! notification work.
//!
//! ## Engines
//!
//! The genesis' `chain_id.consensus` chooses the engine ([`EngineKind`]):
//! `sbp` (solo: one producer, [`aergo_consensus::Solo`] decides when to
//! seal, every block final at once) or `dpos`
//! ([`aergo_consensus::DposEngine`], BFT-DPoS). `raft` is recognised and
//! refused with [`ReplicaError::NotBuilt`]; a third variant of the private
//! engine enum is where it would go.
//!
//! ## The DPoS glue (the algorithm)
//!
//! - **Block facts**: the producer is the key the header's signature
//!   verifies to; the engine's [`aergo_consensus::dpos::Qc`] is decoded from
//!   the header's `consensus` bytes and must certify the block's parent.
//! - **Schedule**: the producer set for a block on parent P is
//!   `aergo_exec::dpos::producers` of P's state (elections and the epoch
//!   snapshot happen inside execution); peer ids map to public keys. A
//!   small cache keyed by parent hash avoids re-reading state.
//! - **A block from a peer**: decode (malformed -> penalise), check the
//!   signature, drop duplicates and blocks at or below the LIB, keep it as
//!   an orphan if its parent is unknown (bounded by [`MAX_ORPHANS`]) and
//!   ask the sender for the missing range, defer it if its timestamp is
//!   ahead of the clock (bounded by [`MAX_FUTURE_BLOCKS`]), else
//!   `chain.import` (re-executes it: every tx, slot owner, state, receipts
//!   and tx roots) and hand it to the engine. Engine errors that prove the
//!   block invalid (wrong slot owner, bad QC, bad height) penalise the
//!   sender; benign ones (`ConsensusError::is_benign`) do not. A second
//!   block of one producer in one slot is kept (the engine stays safe),
//!   not relayed, reported as evidence, and penalised only when the
//!   producer's own node sent it.
//! - **Actions**, carried out strictly in order: `Persist` writes the
//!   safety state to the block store's meta ([`SAFETY_META`]) before any
//!   later action (so a vote or block never leaves before the state that
//!   forbids signing a conflicting one is on disk); `Produce` builds the
//!   block on the proposal's parent with pool candidates and the QC bytes,
//!   stores it, feeds it back to the engine (whose follow-up actions run
//!   next) and publishes it; `SendVote` publishes; `SwitchHead` moves the
//!   chain's head and re-admits transactions of abandoned blocks to the
//!   pool; `Commit` moves the chain's LIB; `Anchor` persists the restart
//!   anchor ([`ANCHOR_META`]).
//! - **Restart**: load the safety state and anchor, check the anchor is on
//!   the stored main chain, then feed the stored main chain above it to a
//!   fresh engine (head switches suppressed while replaying, the head set
//!   once at the end). Side branches are not kept across a restart.
//!
//! ## Invariants
//!
//! - The chain's head is the engine's head at the end of every step.
//! - The LIB never moves back, and a commit at or below the stored LIB
//!   must name the stored block (else a [`ReplicaError::Restart`] error).
//! - Locks: the consensus core, then the pool, never the reverse; a
//!   transaction's admission only takes the pool's lock.
//! - Every loop and queue is bounded (actions per step, orphans, future
//!   blocks, adoptions per step).
//!
//! ## Tests
//!
//! - `tests/bus.rs`: several replicas wired by an in-test message bus (no
//!   network, a simulated clock, real blocks, execution and stores): DPoS
//!   produces and finalizes; a transaction is included once and final
//!   everywhere; blocks with a bad signature, a wrong slot owner, a slot
//!   their producer does not own, a bad state root or certificate, and
//!   garbage or oversized bytes are rejected and their sender penalised;
//!   double production is evidence; restart from the persisted safety
//!   state; catch-up by sync after a long gap; a solo network with
//!   followers.
//! - `tests/sim.rs`: `aergo_consensus::sim` over real execution (memory
//!   stores, real transfers, the real block builder): four seeds in CI;
//!   `SEED=<n> cargo test -p aergo-replica --test sim sim_real_execution_replay -- --nocapture`
//!   replays one; `SIM_SEEDS=<n> cargo test -p aergo-replica --release --test sim -- --ignored --nocapture`
//!   runs many.
//!
//! ## Not here
//!
//! Networking, timers, peer scoring and sync scheduling (the node's
//! shell); slashing (evidence is only reported); keeping side branches
//! across restarts; `raft`.

mod error;
mod output;
mod pending;
mod replica;
mod schedule;

pub use error::{ReplicaError, Result, TxRejection};
pub use output::{Offence, Output, Peer, Step, Verdict};
pub use pending::{PreconfOutcome, Ticket};
pub use replica::{
    DposStatus, EngineKind, Replica, ReplicaConfig, Role, SyncStep, ANCHOR_META, MAX_FUTURE_BLOCKS, MAX_ORPHANS,
    SAFETY_META,
};
