//! aergo-pool: the mempool.
//!
//! Bird's-eye view: transactions arrive verified ([`VerifiedTx`]: chain id,
//! hash and signature already checked) and are admitted against the
//! committed state of their sender, passed in by the caller. The pool keeps,
//! per account, a queue ordered by nonce; a transaction is *ready* when its
//! nonce follows the committed nonce without a gap. Block producers take
//! ready transactions with [`Pool::select`], which takes accounts round-robin
//! (first every account's first ready transaction, in arrival order, then
//! every account's second, ...), so one busy account cannot starve the
//! others. After a block commits, [`Pool::on_committed`] drops
//! what the block consumed.
//!
//! Admission rules (each rejection is a [`PoolError`] saying what and why):
//! - nonce: above the committed nonce (else a replay), and at most
//!   `max_nonce_gap` beyond it (else it could never become ready soon);
//! - a transaction with the same sender and nonce as a pending one replaces
//!   it only if it offers a strictly higher gas price, otherwise it is a
//!   duplicate;
//! - balance: the sender's committed balance must cover this transaction's
//!   amount plus maximum fee plus those of its pending transactions with
//!   lower nonces;
//! - bounds: payload bytes, slots per account, total transactions and
//!   total bytes. A full pool rejects rather than evicts: the client can
//!   retry, while eviction would let anyone push others' transactions out.
//!
//! The pool is a plain data structure; callers serialise access (the node
//! holds it in a mutex). Nothing iterates a hash map where order matters.

use std::collections::{BTreeMap, HashMap};

use aergo_exec::{intrinsic_gas, AccountState, VerifiedTx};
use aergo_types::{Address, Amount, Hash, RejectReason, TypesError};

/// Bounds of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most encoded bytes held.
    pub max_bytes: usize,
    /// Most pending transactions per sender.
    pub max_per_account: usize,
    /// Furthest a nonce may be beyond the committed nonce.
    pub max_nonce_gap: u64,
    /// Largest payload accepted.
    pub max_payload_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_txs: 50_000,
            max_bytes: 128 << 20,
            max_per_account: 256,
            max_nonce_gap: 256,
            max_payload_bytes: 128 * 1024,
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("nonce {got} of {account} was already used (committed nonce is {committed})")]
    NonceTooLow { account: String, got: u64, committed: u64 },
    #[error(
        "nonce {got} of {account} is too far ahead: committed nonce is {committed}, at most {max_gap} ahead allowed"
    )]
    NonceGap { account: String, got: u64, committed: u64, max_gap: u64 },
    #[error("transaction {hash} is already in the pool")]
    Duplicate { hash: String },
    #[error("a transaction with nonce {nonce} from {account} is already pending; a replacement must offer a higher gas price")]
    ReplacementUnderpriced { account: String, nonce: u64 },
    #[error(
        "insufficient balance in {account}: pending transactions up to this one need {needed}, balance is {available}"
    )]
    InsufficientBalance { account: String, needed: String, available: String },
    #[error("gas limit {limit} is below the {needed} gas this transaction needs")]
    GasLimitTooLow { limit: u64, needed: u64 },
    #[error("gas limit {limit} exceeds the chain's maximum of {max} gas per transaction")]
    GasLimitTooHigh { limit: u64, max: u64 },
    #[error("gas price {offered} is below the chain's gas price {required}")]
    GasPriceTooLow { offered: String, required: String },
    #[error("payload of {got} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge { got: usize, limit: usize },
    #[error("{account} already has {limit} pending transactions, the limit")]
    AccountFull { account: String, limit: usize },
    #[error("the pool is full ({what}: limit {limit}); retry later")]
    PoolFull { what: &'static str, limit: usize },
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TypesError),
    #[error("amount plus maximum fee of {account}'s pending transactions overflows")]
    Overflow { account: String },
    /// The branch the transaction is for is gone (deleted since it was
    /// verified), or the sender may no longer write to it.
    #[error("{reason}")]
    NoLane { reason: String },
}

impl PoolError {
    /// The stable reason code of this refusal.
    pub fn reason(&self) -> RejectReason {
        match self {
            PoolError::NonceTooLow { .. } => RejectReason::NonceTooLow,
            PoolError::NonceGap { .. } => RejectReason::NonceTooHigh,
            PoolError::Duplicate { .. } => RejectReason::AlreadyKnown,
            PoolError::ReplacementUnderpriced { .. } => RejectReason::ReplacementUnderpriced,
            PoolError::InsufficientBalance { .. } => RejectReason::InsufficientBalance,
            PoolError::PayloadTooLarge { .. } => RejectReason::TooLarge,
            PoolError::GasLimitTooLow { .. } => RejectReason::GasLimitTooLow,
            PoolError::GasLimitTooHigh { .. } => RejectReason::GasLimitTooHigh,
            PoolError::GasPriceTooLow { .. } => RejectReason::GasPriceTooLow,
            PoolError::AccountFull { .. } => RejectReason::AccountFull,
            PoolError::PoolFull { .. } => RejectReason::PoolFull,
            PoolError::Invalid(e) => e.reason(),
            PoolError::Overflow { .. } => RejectReason::Overflow,
            PoolError::NoLane { .. } => RejectReason::UnknownBranch,
        }
    }
}

/// Whether the pool's size bounds apply to an insertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bounds {
    Enforced,
    Waived,
}

struct Entry {
    vtx: VerifiedTx,
    /// Arrival order, for fairness between accounts.
    seq: u64,
    /// Amount plus maximum fee.
    cost: Amount,
    gas_price: Amount,
}

#[derive(Default)]
struct AccountQueue {
    committed_nonce: u64,
    txs: BTreeMap<u64, Entry>,
}

/// The mempool.
pub struct Pool {
    config: PoolConfig,
    accounts: BTreeMap<Sender, AccountQueue>,
    by_hash: HashMap<Hash, (Sender, u64)>,
    total_bytes: usize,
    next_seq: u64,
}

/// A queue's owner: an account on one lane of the chain (main, or a
/// branch: its chain id hash), since each branch has its own nonces.
pub type Sender = (Hash, Address);

fn sender_of(vtx: &VerifiedTx) -> Sender {
    (vtx.lane(), vtx.sender().clone())
}

/// What admission checks against the chain's current parameters (read
/// from the head state by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainFees {
    /// The gas price in force.
    pub gas_price: Amount,
    /// Most gas one transaction may ask for.
    pub max_tx_gas: u64,
}

/// Outcome of a successful admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    New,
    /// Replaced the pending transaction with this hash.
    Replaced(Hash),
}

impl Pool {
    pub fn new(config: PoolConfig) -> Pool {
        Pool { config, accounts: BTreeMap::new(), by_hash: HashMap::new(), total_bytes: 0, next_seq: 0 }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Senders with at least one pending transaction.
    pub fn senders(&self) -> usize {
        self.accounts.len()
    }

    /// Encoded bytes held.
    pub fn size_bytes(&self) -> usize {
        self.total_bytes
    }

    pub fn get(&self, hash: &Hash) -> Option<&VerifiedTx> {
        let (account, nonce) = self.by_hash.get(hash)?;
        self.accounts.get(account)?.txs.get(nonce).map(|e| &e.vtx)
    }

    /// The pending transaction of `account` with `nonce`, if any.
    pub fn get_by_nonce(&self, account: &Sender, nonce: u64) -> Option<&VerifiedTx> {
        self.accounts.get(account)?.txs.get(&nonce).map(|e| &e.vtx)
    }

    /// The nonce the sender's next transaction should carry, counting its
    /// consecutive pending transactions; `None` if the pool knows nothing
    /// about the account.
    pub fn next_nonce(&self, account: &Sender) -> Option<u64> {
        let q = self.accounts.get(account)?;
        let mut n = q.committed_nonce;
        for &nonce in q.txs.keys() {
            if nonce != n + 1 {
                break;
            }
            n = nonce;
        }
        Some(n + 1)
    }

    /// Admits `vtx` given its sender's committed state and the chain's gas
    /// price.
    pub fn admit(&mut self, vtx: VerifiedTx, committed: AccountState, chain: ChainFees) -> Result<Admitted, PoolError> {
        self.insert(vtx, committed, chain, Bounds::Enforced)
    }

    /// Takes back a transaction of a block the head switched away from.
    /// It was valid in a block, and its sender may meanwhile have filled
    /// its slots with later nonces that cannot go in without it: refusing
    /// it would lose it (and strand every later nonce), so the per-account,
    /// nonce-gap and pool-size bounds do not apply (a switch across several
    /// blocks can put a sender far behind its abandoned nonces). What this
    /// adds is bounded by the blocks above the last irreversible block;
    /// every other check (used nonce, balance, payload) still applies.
    pub fn readmit(
        &mut self,
        vtx: VerifiedTx,
        committed: AccountState,
        chain: ChainFees,
    ) -> Result<Admitted, PoolError> {
        self.insert(vtx, committed, chain, Bounds::Waived)
    }

    fn insert(
        &mut self,
        vtx: VerifiedTx,
        committed: AccountState,
        chain: ChainFees,
        bounds: Bounds,
    ) -> Result<Admitted, PoolError> {
        let chain_gas_price = chain.gas_price;
        let hash = vtx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::Duplicate { hash: hash.to_string() });
        }
        let body = vtx.tx().body()?;
        if body.payload.len() > self.config.max_payload_bytes {
            return Err(PoolError::PayloadTooLarge { got: body.payload.len(), limit: self.config.max_payload_bytes });
        }
        let sender = sender_of(&vtx);
        let account = vtx.sender_text().to_string();
        let nonce = body.nonce;
        // The caller's view of the committed state may be older than what
        // `on_committed` already told us; the committed nonce only grows.
        let committed = AccountState {
            nonce: committed.nonce.max(self.accounts.get(&sender).map_or(0, |q| q.committed_nonce)),
            ..committed
        };
        if nonce <= committed.nonce {
            return Err(PoolError::NonceTooLow { account, got: nonce, committed: committed.nonce });
        }
        if bounds == Bounds::Enforced && nonce - committed.nonce > self.config.max_nonce_gap {
            return Err(PoolError::NonceGap {
                account,
                got: nonce,
                committed: committed.nonce,
                max_gap: self.config.max_nonce_gap,
            });
        }
        let amount = body.amount()?;
        let offered = body.gas_price()?;
        // What block building would refuse whatever the state: admitting
        // it would acknowledge a transaction that is then dropped.
        let intrinsic = intrinsic_gas(vtx.tx());
        if body.gas_limit != 0 && body.gas_limit < intrinsic {
            return Err(PoolError::GasLimitTooLow { limit: body.gas_limit, needed: intrinsic });
        }
        if body.gas_limit > chain.max_tx_gas {
            return Err(PoolError::GasLimitTooHigh { limit: body.gas_limit, max: chain.max_tx_gas });
        }
        if !offered.is_zero() && offered < chain_gas_price {
            return Err(PoolError::GasPriceTooLow {
                offered: offered.to_string(),
                required: chain_gas_price.to_string(),
            });
        }
        let gas_price = if offered.is_zero() { chain_gas_price } else { offered };
        let gas = if body.gas_limit == 0 { intrinsic } else { body.gas_limit };
        let overflow = || PoolError::Overflow { account: vtx.sender_text().to_string() };
        let cost = gas_price.checked_mul(gas as u128).and_then(|fee| fee.checked_add(amount)).ok_or_else(overflow)?;
        let size = vtx.size_bytes();

        // Checks read the sender's queue without creating it: a refused
        // transaction of a sender the pool does not know leaves nothing
        // behind.
        let no_queue = AccountQueue::default();
        let queue = self.accounts.get(&sender).unwrap_or(&no_queue);
        let replaced = match queue.txs.get(&nonce) {
            Some(old) if offered > old.gas_price => Some(old.vtx.hash()),
            Some(_) => return Err(PoolError::ReplacementUnderpriced { account, nonce }),
            None => None,
        };
        if bounds == Bounds::Enforced && replaced.is_none() && queue.txs.len() >= self.config.max_per_account {
            return Err(PoolError::AccountFull { account, limit: self.config.max_per_account });
        }
        let mut needed = cost;
        for (_, e) in queue.txs.range(..nonce) {
            needed = needed.checked_add(e.cost).ok_or_else(overflow)?;
        }
        if needed > committed.balance {
            return Err(PoolError::InsufficientBalance {
                account,
                needed: needed.to_string(),
                available: committed.balance.to_string(),
            });
        }
        let old_size = replaced.and_then(|h| self.get(&h)).map_or(0, VerifiedTx::size_bytes);
        if bounds == Bounds::Enforced && replaced.is_none() && self.by_hash.len() >= self.config.max_txs {
            return Err(PoolError::PoolFull { what: "transactions", limit: self.config.max_txs });
        }
        if bounds == Bounds::Enforced && self.total_bytes - old_size + size > self.config.max_bytes {
            return Err(PoolError::PoolFull { what: "bytes", limit: self.config.max_bytes });
        }

        let seq = self.next_seq;
        self.next_seq += 1;
        let queue = self.accounts.entry(sender.clone()).or_default();
        queue.committed_nonce = committed.nonce;
        // Invariant: a queue holds only nonces above the committed one, each
        // entry under its own transaction's nonce (`select` relies on both).
        assert!(
            nonce > queue.committed_nonce && vtx.nonce() == nonce,
            "bug: pool entry for {} at nonce {nonce} (tx nonce {}), committed nonce {}",
            sender.1,
            vtx.nonce(),
            queue.committed_nonce
        );
        if let Some(old) = queue.txs.insert(nonce, Entry { vtx, seq, cost, gas_price: offered }) {
            self.by_hash.remove(&old.vtx.hash());
            self.total_bytes -= old.vtx.size_bytes();
        }
        self.by_hash.insert(hash, (sender, nonce));
        self.total_bytes += size;
        Ok(match replaced {
            Some(h) => Admitted::Replaced(h),
            None => Admitted::New,
        })
    }

    /// Ready transactions for a block, at most `max_txs` and `max_bytes`,
    /// interleaving accounts by the arrival of their next transaction and
    /// keeping each account's nonces in order.
    pub fn select(&self, max_txs: usize, max_bytes: usize) -> Vec<VerifiedTx> {
        // Round-robin: each account's k-th ready transaction goes in round
        // k; within a round, accounts go in the arrival order of that
        // transaction.
        let mut heads: BTreeMap<(u64, u64), (&Sender, u64)> = BTreeMap::new();
        for (address, q) in &self.accounts {
            let next = q.committed_nonce + 1;
            if let Some(e) = q.txs.get(&next) {
                heads.insert((0, e.seq), (address, next));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while out.len() < max_txs {
            let Some(((round, _), (address, nonce))) = heads.pop_first() else { break };
            let q = &self.accounts[address];
            let e = &q.txs[&nonce];
            // Invariant: per account, a block takes nonces in order from the
            // committed one up, with no gap.
            assert!(
                e.vtx.nonce() == nonce && nonce > q.committed_nonce,
                "bug: pool selects nonce {} of {} under key {nonce}, committed nonce {}",
                e.vtx.nonce(),
                address.1,
                q.committed_nonce
            );
            let size = e.vtx.size_bytes();
            if bytes + size > max_bytes {
                // This account's next tx does not fit; others' may.
                continue;
            }
            bytes += size;
            out.push(e.vtx.clone());
            if let Some(next) = q.txs.get(&(nonce + 1)) {
                heads.insert((round + 1, next.seq), (address, nonce + 1));
            }
        }
        out
    }

    /// Forgets what a committed block consumed: every transaction of
    /// `account` with a nonce at or below its new committed nonce.
    pub fn on_committed(&mut self, account: &Sender, committed_nonce: u64) {
        let Some(q) = self.accounts.get_mut(account) else { return };
        q.committed_nonce = committed_nonce;
        let keep = q.txs.split_off(&(committed_nonce + 1));
        let gone = std::mem::replace(&mut q.txs, keep);
        for (_, e) in gone {
            self.by_hash.remove(&e.vtx.hash());
            self.total_bytes -= e.vtx.size_bytes();
        }
        if q.txs.is_empty() {
            self.accounts.remove(account);
        }
    }

    /// Forgets every pending transaction of `account` (its lane, a
    /// branch, was deleted).
    pub fn forget(&mut self, account: &Sender) {
        let Some(q) = self.accounts.remove(account) else { return };
        for (_, e) in q.txs {
            self.by_hash.remove(&e.vtx.hash());
            self.total_bytes -= e.vtx.size_bytes();
        }
    }

    /// Removes one transaction (e.g. rejected at block building because the
    /// state changed under it), with every later nonce of its sender, which
    /// can no longer become ready.
    pub fn remove_with_successors(&mut self, hash: &Hash) {
        let Some((account, nonce)) = self.by_hash.get(hash).cloned() else { return };
        let Some(q) = self.accounts.get_mut(&account) else { return };
        let gone = q.txs.split_off(&nonce);
        for (_, e) in gone {
            self.by_hash.remove(&e.vtx.hash());
            self.total_bytes -= e.vtx.size_bytes();
        }
        if q.txs.is_empty() {
            self.accounts.remove(&account);
        }
    }
}

#[cfg(test)]
mod tests;
