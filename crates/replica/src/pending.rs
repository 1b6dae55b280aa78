//! Pending-block execution and pre-confirmations: the producer's side of
//! pool-level serialization (DESIGN.md capability 6).
//!
//! ## The protocol
//!
//! The producer keeps its next block *open* ([`Pending`]): a builder on
//! the head's state with the block's height, timestamp and coinbase fixed
//! when it opens. Every transaction the pool admits is applied to it at
//! once, in arrival order (after the pool's ready transactions the block
//! opened with, and followed by the sender's later nonces that become
//! ready): its position, its receipt and the pending digest after it
//! (`aergo_types::preconf`) are known the moment it is admitted. A
//! client that asked for it gets a [`Preconfirmation`] of exactly those,
//! signed with the producer's key. Sealing finishes the open block: the
//! pending transactions keep their positions, the pool's other ready
//! transactions (branch transactions, those that did not fit) follow,
//! and the block is signed and committed as any other.
//!
//! ## Why a promise is kept (the safety argument)
//!
//! A promise names (parent, height, position, tx, receipt). It is broken
//! only by a block this producer signs at that height on that parent that
//! differs at that position. The producer signs such a block only by
//! sealing a pending block on that parent, and:
//!
//! 1. *Positions only grow.* A pending block is only appended to; nothing
//!    is removed or reordered (a transaction refused by the state is never
//!    applied, so it holds no position); sealing appends after the
//!    pending transactions. A transaction of the pending block cannot be
//!    replaced in the pool: its nonce is used in the pending state, and
//!    admission checks the nonce against that state first.
//! 2. *Results are a function of the prefix.* Execution is deterministic
//!    (`exec`'s invariant), the block context is fixed at opening, so the
//!    receipt at position i depends only on the parent state and
//!    positions 0..=i, which never change after i is applied.
//! 3. *A promise outlives a crash.* No pre-confirmation is signed before
//!    its transaction, with every one before it, is in the chain's
//!    pre-confirmation log (`aergo_chain::PreconfLog`: an append-only
//!    file per height, one flushed write for every transaction applied
//!    since the last one, so concurrent requests share a write, a group
//!    commit). A restart on the same head opens the pending block again
//!    from the log, with the logged timestamp, and by 2 gets the same
//!    receipts; the log of a block goes once the block two above it is
//!    being written.
//! 4. *One pending block per parent.* In a solo chain only this producer
//!    moves the head, so the pending block's parent is the head until it
//!    is sealed. The next block opens on the sealed block before that is
//!    committed (admission need not wait for its fsyncs); a crash in
//!    between loses the sealed block, whose log then rebuilds it (a log
//!    write keeps the height below its own), and the promises made on it
//!    name a parent that never came to be: void, never broken.
//!
//! A pre-confirmation requested after its block was already sealed is
//! signed only when the main chain holds the transaction at the promised
//! place (the promise is then kept by a block anyone can fetch).
//!
//! ## DPoS
//!
//! Only the producer of the *next* slot keeps an open block, and only on
//! the block of the current slot (`preconf_dpos`): it opens when that
//! block arrives (or, past half the slot without one, on the head: its
//! producer missed the slot), with the start of its own slot as the
//! timestamp. Point 4 becomes: *the block is sealed only as opened*. At
//! its slot the producer seals the open block when the proposal's parent,
//! height and slot are the block's, and only then; a block whose parent
//! stopped being the head (a late block, a fork switch) or whose slot
//! passed is dropped, and its promises name a block this producer never
//! signs: void, never broken. Reopened on the new head, the block takes
//! the pool's transactions again and the producer promises again those
//! it had promised (the hand-off, `Output::Reissued`). Point 3 needs one
//! more rule: a producer asked to build on a parent and height for which
//! its log holds promises at another slot's timestamp (it restarted, or
//! the chain stalled) skips the slot, since any block it signed there
//! would break them; one for the same slot rebuilds the block from the
//! log. Other nodes forward a waiting client's transaction to the next
//! slot's producer (`node::forward`) and relay its promise.
//!
//! A broken promise is evidence (`aergo_types::evidence::BrokenPromise`,
//! checked by `aergo_crypto::check_evidence`) that anyone submits in a
//! `v1evidence` transaction; the chain slashes the producer
//! (`aergo_exec::slashing`).
//!
//! ## Not here
//!
//! - Branch transactions are not pre-executed: they go in at sealing.
//! - Promises are not gossiped: a client gets one from the node it asked
//!   (which forwards to the producer on DPoS).

use std::collections::{BTreeMap, BTreeSet};

use aergo_chain::{Chain, Head, OpenBlock};
use aergo_crypto::PrivateKey;
use aergo_exec::{ExecError, VerifiedTx};
use aergo_types::preconf::{pending_digest_start, pending_digest_step};
use aergo_types::{Hash, Preconfirmation, Receipt};

use crate::error::{ReplicaError, Result};

/// What applying one transaction to the pending block gave: everything a
/// pre-confirmation says but the signature.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub parent: Hash,
    pub height: u64,
    pub timestamp_ns: i64,
    pub index: u32,
    pub tx_hash: Hash,
    pub receipt: Receipt,
    /// The pending digest after this transaction.
    pub digest: Hash,
}

impl Ticket {
    /// The unsigned pre-confirmation of this ticket.
    pub fn unsigned(&self, chain_id_hash: &Hash) -> Preconfirmation {
        Preconfirmation {
            chain_id_hash: chain_id_hash.to_vec(),
            parent: self.parent.to_vec(),
            height: self.height,
            timestamp_ns: self.timestamp_ns,
            index: self.index,
            tx_hash: self.tx_hash.to_vec(),
            receipt: Some(self.receipt.clone()),
            pending_digest: self.digest.to_vec(),
            producer: Vec::new(),
            signature: Vec::new(),
            batch_index: 0,
            batch_path: Vec::new(),
        }
    }
}

/// What a submission asking for a pre-confirmation got.
#[derive(Clone, Debug)]
pub enum PreconfOutcome {
    /// Applied to the pending block and promised.
    Preconfirmed(Box<Preconfirmation>),
    /// Admitted to the pool, not promised; the reason says why (this node
    /// does not produce, a nonce before it is missing, the block is full).
    Queued { reason: String },
    /// Admitted to the pool; `producer` (a peer id), the next slot's
    /// producer, is the one that can promise it: a follower forwards it
    /// there and relays the answer.
    Elsewhere { producer: String, reason: String },
}

/// The producer's open next block.
pub(crate) struct Pending {
    open: OpenBlock,
    digest: Hash,
    tickets: Vec<Ticket>,
    positions: BTreeMap<Hash, u32>,
    /// Each applied transaction's encoding, for the log.
    encoded: Vec<Vec<u8>>,
}

impl Pending {
    /// Opens the block after the head at `timestamp_ns`.
    pub(crate) fn open(chain: &Chain, key: &PrivateKey, timestamp_ns: i64) -> Result<Pending> {
        Pending::open_after(chain, key, chain.head(), timestamp_ns)
    }

    /// Opens the block after `head` (the head, or a block just sealed and
    /// not yet committed) at `timestamp_ns`.
    pub(crate) fn open_after(chain: &Chain, key: &PrivateKey, head: Head, timestamp_ns: i64) -> Result<Pending> {
        let open = chain.open_block_after(head.clone(), key, timestamp_ns)?;
        let chain_id_hash = chain.rules().chain_id_hash;
        let digest = pending_digest_start(&chain_id_hash, &head.hash, head.height + 1, timestamp_ns);
        Ok(Pending { open, digest, tickets: Vec::new(), positions: BTreeMap::new(), encoded: Vec::new() })
    }

    pub(crate) fn parent(&self) -> Hash {
        self.open.parent.hash
    }

    /// Whether a chain whose head is `head` can no longer take this block:
    /// the head reached its height (a solo chain's head moves only by
    /// this producer's blocks; the open block may sit on a sealed block
    /// that is being committed, one above the head).
    pub(crate) fn is_stale(&self, head: &Head) -> bool {
        self.height() <= head.height
    }

    pub(crate) fn height(&self) -> u64 {
        self.open.parent.height + 1
    }

    pub(crate) fn timestamp_ns(&self) -> i64 {
        self.open.timestamp_ns
    }

    pub(crate) fn len(&self) -> usize {
        self.tickets.len()
    }

    pub(crate) fn ticket(&self, hash: &Hash) -> Option<&Ticket> {
        self.positions.get(hash).map(|&i| &self.tickets[i as usize])
    }

    /// The hashes of the applied transactions, in block order.
    pub(crate) fn tx_hashes(&self) -> Vec<Hash> {
        self.tickets.iter().map(|t| t.tx_hash).collect()
    }

    pub(crate) fn contains(&self, hash: &Hash) -> bool {
        self.positions.contains_key(hash)
    }

    /// Encodings of the transactions from position `from` on.
    pub(crate) fn encoded_from(&self, from: usize) -> Vec<Vec<u8>> {
        self.encoded.get(from..).map(<[Vec<u8>]>::to_vec).unwrap_or_default()
    }

    /// The nonce the sender's next main-chain transaction must carry in the
    /// pending state.
    pub(crate) fn next_nonce(&self, vtx: &VerifiedTx) -> Result<u64> {
        Ok(aergo_exec::account(self.open.builder.view(), vtx.sender())?.nonce + 1)
    }

    /// Applies one transaction: `Ok(Ok(ticket))` when it took the next
    /// position, `Ok(Err(_))` when the state or the block's room refused it
    /// (nothing changed), `Err` on this node's own failure.
    pub(crate) fn apply(&mut self, vtx: VerifiedTx) -> Result<std::result::Result<Ticket, ExecError>> {
        let tx_hash = vtx.hash();
        let encoded = vtx.tx().encode();
        let receipt = match self.open.builder.push(vtx) {
            Ok(r) => r.clone(),
            Err(e) if e.is_rejection() || matches!(e, ExecError::BlockFull { .. }) => return Ok(Err(e)),
            Err(e) => return Err(ReplicaError::Exec(e)),
        };
        let leaf = receipt.merkle_hash()?;
        self.digest = pending_digest_step(&self.digest, &tx_hash, &leaf);
        let index = u32::try_from(self.tickets.len()).map_err(|_| ReplicaError::Config {
            field: "max_block_txs",
            reason: "more than u32::MAX transactions in a block".into(),
        })?;
        let ticket = Ticket {
            parent: self.parent(),
            height: self.height(),
            timestamp_ns: self.timestamp_ns(),
            index,
            tx_hash,
            receipt,
            digest: self.digest,
        };
        self.positions.insert(tx_hash, index);
        self.tickets.push(ticket.clone());
        self.encoded.push(encoded);
        Ok(Ok(ticket))
    }

    /// The open block and the hashes of the transactions it holds.
    pub(crate) fn into_parts(self) -> (OpenBlock, BTreeSet<Hash>, SealedLog) {
        let log = SealedLog {
            height: self.height(),
            parent: self.parent(),
            timestamp_ns: self.timestamp_ns(),
            encoded: self.encoded,
        };
        (self.open, self.positions.into_keys().collect(), log)
    }
}

/// The transactions of the last block sealed from an open block, kept
/// until the next seal: a promise asked for just before the seal becomes
/// durable from here while the block itself is being committed.
pub(crate) struct SealedLog {
    pub(crate) height: u64,
    pub(crate) parent: Hash,
    pub(crate) timestamp_ns: i64,
    pub(crate) encoded: Vec<Vec<u8>>,
}

/// How far the pre-confirmation log of the pending block is durable.
#[derive(Default)]
pub(crate) struct LogCursor {
    /// (height, parent) of the pending block the count is for.
    pub(crate) block: Option<(u64, Hash)>,
    /// Positions 0..durable are in the log.
    pub(crate) durable: usize,
}
