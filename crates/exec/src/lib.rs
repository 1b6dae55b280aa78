//! aergo-exec: the state transition of the chain.
//!
//! Bird's-eye view: a block is executed against an [`aergo_store::Overlay`]
//! on its parent's state root. Each transaction runs inside a savepoint; a
//! transaction that is invalid against the current state (wrong nonce, not
//! enough balance, a stake below the minimum, ...) is *rejected*: rolled
//! back, left out of the block, with an [`ExecError`] saying why. At the end
//! the fees of the block are credited to its coinbase, parameters passed by
//! governance votes are written, and the overlay is flushed into the trees
//! in one batch, giving the new state root.
//!
//! The pieces:
//! - [`system`]: the system tables (accounts, parameters) and their rows;
//! - [`gov`]: the `aergo.system` contract: staking, producer votes and
//!   parameter votes;
//! - [`dpos`]: the producer set, producer ratings and the election, run by
//!   the block hook [`dpos::begin_block`];
//! - [`slots`]: slot arithmetic shared with the consensus crate
//!   ([`slots::slot_of`], [`slots::producer_index`]);
//! - [`verify_tx`]: stateless checks and the signature, producing a
//!   [`VerifiedTx`], the only form the executor accepts, so a signature is
//!   checked exactly once on every path (at pool admission for local
//!   blocks, at import for blocks from elsewhere);
//! - [`Executor`]: what every block of a chain shares (the SQL engine
//!   and its cache of compiled contract functions); a chain builds every
//!   block through [`Executor::builder`];
//! - [`BlockBuilder`] (`block.rs`): applies verified transactions one by
//!   one (the block producer uses it to fill a block, dropping rejected
//!   transactions); on DPoS chains [`BlockBuilder::begin_dpos`] must come
//!   first; [`BlockBuilder::push_each`] takes a whole block's transactions
//!   and, on an executor with more than one thread
//!   ([`Executor::with_threads`]), runs them in parallel with the result
//!   of running them in order (`block/dtt.rs` and `block/parallel.rs`
//!   have the algorithm in prose);
//! - [`execute_block`] / [`execute_dpos_block`]: replay a complete block,
//!   failing if any of its transactions is rejected (block import and
//!   restart checks use them);
//! - [`genesis_state`]: the state of block 0 from a [`Genesis`] (with the
//!   DPoS tables, parameters and initial producers on `dpos` chains).
//! - [`contract`], [`host`], [`events`], [`query`]: SQL smart contracts
//!   (deploy and call transactions, the host functions contracts use, the
//!   event table, read-only queries for the API).
//! - [`gov_read`]: read-only views of governance and producer state for
//!   the API (nothing outside this crate decodes a system-table row).
//! - [`branches`]: the chain's branches and tags: the registry
//!   (`aergo.branch`), lanes of a block, forks, auto and three-way merges
//!   (the design in prose is its module doc).
//! - [`ExecError`]: why a transaction was refused; [`ExecError::reason`]
//!   gives its stable [`aergo_types::RejectReason`] code.
//!
//! Fees are *stable*: `gas used x gas price`, where the gas price is a
//! governance parameter in `sys.params`, not an auction. Every transaction,
//! governance ones included, uses [`TX_BASE_GAS`] plus
//! [`PAYLOAD_GAS_PER_BYTE`] per payload byte (the Go node's schedule).
//!
//! Determinism: nothing here reads a clock, randomness, the environment or
//! the network; block time, height and slot come from the caller. All maps
//! are ordered; every aggregate is kept incrementally in tables.
//!
//! # Staking, voting and governance (`aergo.system`)
//!
//! A `GOVERNANCE` transaction to `aergo.system` carries the Go node's JSON
//! payload `{"Name": <call>, "Args": [...]}` (field names match
//! case-insensitively, as Go's decoder does; other fields are refused):
//!
//! | call | tx amount | args | effect |
//! |---|---|---|---|
//! | `v1stake` | amount to stake (> 0) | none | balance -> stake; lock restarts |
//! | `v1unstake` | amount to withdraw (> 0) | none | stake -> balance, once unlocked |
//! | `v1voteBP` | 0 | 1..=30 distinct peer ids | replaces the voter's candidate list |
//! | `v1voteDAO` | 0 | `[<id>, "<decimal value>"]` | votes a value for a parameter |
//!
//! Rules:
//! - A stake must end at 0 or at least `min_stake`: staking below it
//!   (counting what is already staked) and unstaking to a non-zero rest
//!   below it are rejected. Unstaking more than the stake is rejected.
//! - Staked AERGO sits in the balance of `aergo.system` (as in the Go
//!   node), so `sys.accounts` always sums to the total supply, and in
//!   `sys.totals` (`staked`).
//! - The lock: an unstake is rejected before block
//!   `since_height + stake_lock_blocks`, where `since_height` is the height
//!   of the account's last stake (the lock in force is read when unstaking).
//! - A vote weighs the voter's whole current stake: every candidate of a
//!   `v1voteBP` gets it in full, and so does the value of each `v1voteDAO`.
//!   When a stake grows or shrinks, every vote of that account moves with it
//!   (`sys.candidates` and the parameter tallies change by the same amount);
//!   a vote survives a full unstake with weight zero and counts again after
//!   a new stake. Voting needs a non-zero stake.
//! - Parameters and their `v1voteDAO` ids: `BPCOUNT` -> `bp_count`
//!   (1..=100), `STAKINGMIN` -> `min_stake`, `GASPRICE` -> `gas_price`,
//!   `NAMEPRICE` -> `name_price` (aer, 1..=total supply), and our
//!   `STAKINGLOCK` -> `stake_lock_blocks` (1..=100,000,000), `MAXTXGAS`
//!   -> `max_tx_gas` and `MAXBLOCKGAS` -> `max_block_gas` (10^6..=10^12;
//!   until a vote sets them, 10^8 and 10^9: see [`system::gas_caps`]; the
//!   transaction cap never exceeds the block cap).
//!   `epoch_blocks` and `rating_window_slots` are fixed at genesis: the
//!   consensus layer plans its schedule with the epoch, and the rating
//!   window bounds per-block work.
//! - A parameter changes when the value leading its tally (most stake;
//!   ties: smaller value) has `3 * votes >= 2 * total staked`. This is
//!   checked after every `aergo.system` transaction, for all parameters (so
//!   a value can also pass because others unstaked). A passed value is
//!   written to `sys.params` at the end of the block and applies from the
//!   next block; the last value to pass within a block wins.
//! - Rejected (an [`ExecError`], state unchanged, no fee): bad JSON,
//!   unknown call names, wrong arguments (count, types, duplicates,
//!   peer ids that are not canonical secp256k1 ones, values out of range),
//!   a zero amount to stake/unstake, a non-zero amount with a vote, the
//!   stake rules above, and any system call on a non-DPoS chain.
//!
//! Receipts name `aergo.system` as recipient and carry one event in the Go
//! node's V2 form: `stake`/`unstake` with `["<addr>", {"_bignum": "<aer>"}]`,
//! `voteBP` with `["<addr>", [<ids>]]`, `voteDAO` with
//! `["<addr>", "<ID>", {"_bignum": "<value>"}]`.
//!
//! # DPoS producer state
//!
//! [`dpos::begin_block`] runs before each block's transactions with the
//! block's [`SlotInfo`] (height, slot, parent slot, producer):
//! 1. the producer must own the slot under the set in force before the
//!    block (`bps[slot % n]`), and the slot must follow the parent's;
//! 2. the slot is recorded as produced, the skipped slots
//!    `parent_slot+1 .. slot-1` as missed by their owners (only those inside
//!    the window are written), and slots that left the window (the last
//!    `rating_window_slots` slots) are forgotten;
//! 3. at heights divisible by `epoch_blocks` the set is elected; the new
//!    set schedules the slots of the following blocks.
//!
//! The genesis `bps` (in file order) are the set until the first election,
//! whatever `bp_count` says. Block 1 must be in slot 1 or later (the
//! genesis block is in slot 0).
//!
//! Formulas: `rating = 100 * (produced + 10) / (produced + missed + 10)`
//! (rounded down; 10 good slots of prior so one early miss is not fatal;
//! no record gives 100), `effective votes = votes * rating / 100`. The
//! election takes the top `bp_count` candidates by effective votes (ties:
//! smaller peer id); candidates with zero effective votes are skipped; if
//! fewer than `bp_count` remain, current producers fill the set in their
//! current order (so a chain with no votes keeps its genesis set). The
//! scan follows the ranking index and stops once no further candidate can
//! win even with a perfect rating: it reads at most `bp_count` + (rated
//! candidates) + 1 rows. A late block shows up as a missed slot (the slot
//! is derived from the block's timestamp); arrival times are not state.
//!
//! # System tables
//!
//! Keys are the primary-key columns and rows all columns, in the store
//! codec; each table's schema blob is its `CREATE TABLE` statement.
//! Addresses are base58check text, peer ids their text, amounts aer.
//!
//! | table | primary key | other columns |
//! |---|---|---|
//! | `sys.accounts` | `address TEXT` | `balance NUMERIC(38,0)`, `nonce BIGINT` |
//! | `sys.params` | `name TEXT` | `value NUMERIC(38,0)` |
//! | `sys.stakes` | `account TEXT` | `amount NUMERIC(38,0)`, `since_height BIGINT` (no row when 0) |
//! | `sys.votes` | `(voter TEXT, candidate TEXT)` | - |
//! | `sys.candidates` | `candidate TEXT` | `votes NUMERIC(38,0)` (no row when 0) |
//! | `sys.candidate_ranking` | `(neg_votes NUMERIC, candidate TEXT)` | - (index: votes desc, id asc) |
//! | `sys.param_votes` | `(param TEXT, voter TEXT)` | `value NUMERIC(38,0)` |
//! | `sys.param_tallies` | `(param TEXT, value NUMERIC)` | `votes NUMERIC(38,0)` (no row when 0) |
//! | `sys.param_ranking` | `(param TEXT, neg_votes NUMERIC, value NUMERIC)` | - (index) |
//! | `sys.totals` | `name TEXT` | `value NUMERIC(38,0)` (`staked`) |
//! | `sys.bps` | `rank BIGINT` | `candidate TEXT` (the producer set, in schedule order) |
//! | `sys.bp_ratings` | `candidate TEXT` | `produced BIGINT`, `missed BIGINT`, `rating BIGINT` (percent) |
//! | `sys.bp_slots` | `slot BIGINT` | `producer TEXT`, `produced BOOLEAN` (the rating window) |
//!
//! All but the first two exist on DPoS chains only (created at genesis);
//! `sys.params` `param` ids in the voting tables are the `v1voteDAO` ids.
//!
//! # Deviations from the Go node, and why
//!
//! - Votes follow stake both ways (Go lowers votes on unstake but raises
//!   them only on the next vote): weight is then always the current stake,
//!   and every tally equals a recomputation from `sys.votes`/`sys.stakes`.
//! - No 24-hour delay between votes, and an unstake does not restart the
//!   lock (Go's `VotingDelay`, and its one `when` for every action): the
//!   lock is what keeps stake from moving in and out quickly, and each vote
//!   costs a fee, which bounds vote churn.
//! - `v1voteBP` needs 1..=30 candidates (Go accepts an empty list); a
//!   voter withdraws by unstaking. Candidates must be secp256k1 peer ids,
//!   the only keys that can sign our blocks.
//! - Parameter votes take exactly one value; values are canonical decimal
//!   integers (Go keeps the text, so "013" and "13" would be two values).
//! - The two-thirds test is exact integer arithmetic (Go approximates with
//!   a division by 100), and a passed value applies from the next block.
//! - Unknown call names are rejected (Go maps them to `voteBP`), as are
//!   fields other than Name/Args and arguments to stake/unstake.
//! - Ratings and rating-based election are this project's (the Go node
//!   elects by raw votes).
//!
//! # Tests and benchmark
//!
//! `cargo test -p aergo-exec` runs everything (under a second): the
//! payload parser, each staking/voting rule and rejection (with the state
//! root unchanged), parameter passing, the DPoS hook and elections (an
//! unreliable producer drops out), determinism, and a property test that
//! random stake/unstake/vote sequences keep every tally equal to its
//! recomputation. `cargo run --release -p aergo-exec --example gov_bench`
//! prints `BENCH` ratios for governance txs against transfers, the hook,
//! and the election against a full candidate scan.
//!
//! Names (`aergo.name`: register, hand over, send to a name) are in
//! [`names`].
//!
//! Deliberately absent (each a clear [`ExecError::Unsupported`]):
//! `aergo.enterprise` calls, fee delegation, EVM contracts, names as
//! contract-call recipients.

mod block;
pub mod branches;
pub mod contract;
pub mod diff;
pub mod dpos;
mod error;
pub mod events;
pub mod files;
pub mod gov;
pub mod gov_read;
pub mod host;
pub mod names;
pub mod query;
mod rows;
pub mod slashing;
pub mod slots;
pub mod system;

use aergo_store::{Overlay, Snapshot, Store, TableStore};
use aergo_types::{Address, Amount, Genesis, Hash, Tx};

/// Stack a thread needs to execute any block or query (the SQL engine's
/// bound; see [`aergo_sql::MIN_STACK_BYTES`]).
pub use aergo_sql::MIN_STACK_BYTES as SQL_MIN_STACK_BYTES;
pub use block::{
    check_runnable, execute_block, execute_dpos_block, BlockBuilder, BlockOutcome, Executor, ParallelStats,
    MAX_EXEC_THREADS,
};
pub use dpos::SlotInfo;
pub use error::ExecError;
pub use gov::{GovCall, GovParam};
pub use system::AccountState;

/// Gas charged for every transaction.
pub const TX_BASE_GAS: u64 = 100_000;
/// Gas charged per byte of payload.
pub const PAYLOAD_GAS_PER_BYTE: u64 = 5;
/// Gas price at genesis: 50 gaer per unit of gas, so a plain transfer costs
/// 0.005 AERGO.
pub const GENESIS_GAS_PRICE: Amount = Amount::from_aer(50 * 1_000_000_000);

/// The rules of one chain that transactions are checked against.
#[derive(Clone, Debug)]
pub struct ChainRules {
    pub chain_id_hash: Hash,
    /// Public chains refuse some transaction types (see `Tx::validate`).
    pub public: bool,
}

/// What the executor needs to know about the block being built.
#[derive(Clone, Debug)]
pub struct BlockContext {
    pub height: u64,
    /// Block time in nanoseconds since the Unix epoch, from the header.
    pub timestamp_ns: i64,
    /// Account credited with the block's fees.
    pub coinbase: Address,
}

/// A transaction whose stateless rules and signature have been checked.
/// Only [`verify_tx`] makes one.
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    tx: Tx,
    hash: Hash,
    sender: Address,
    sender_key: system::AccountKey,
    /// The branch it was signed for (`None`: main), found by its chain id
    /// hash in the branch registry when it was verified.
    branch: Option<String>,
}

impl VerifiedTx {
    pub fn tx(&self) -> &Tx {
        &self.tx
    }

    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn sender(&self) -> &Address {
        &self.sender
    }

    /// The sender in base58check, formatted once at verification.
    pub fn sender_text(&self) -> &str {
        self.sender_key.text()
    }

    pub fn nonce(&self) -> u64 {
        self.tx.body.as_ref().map_or(0, |b| b.nonce)
    }

    /// The branch the transaction was signed for; `None` is main.
    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    /// The chain id hash it carries: which lane of the chain it is for.
    pub fn lane(&self) -> Hash {
        self.tx
            .body
            .as_ref()
            .and_then(|b| Hash::from_slice("chain id hash", &b.chain_id_hash).ok())
            .unwrap_or(Hash::ZERO)
    }

    /// A transaction from a branch's log: verified when it was first
    /// applied, so only its sender and hash are recomputed.
    pub(crate) fn from_log(tx: Tx, branch: Option<String>) -> Result<VerifiedTx, ExecError> {
        let body = tx.body()?;
        let sender = body.sender()?;
        let hash = body.tx_hash();
        let sender_key = system::AccountKey::new(&sender);
        Ok(VerifiedTx { tx, hash, sender, sender_key, branch })
    }

    /// Encoded size in bytes.
    pub fn size_bytes(&self) -> usize {
        prost::Message::encoded_len(&self.tx)
    }

    pub fn into_tx(self) -> Tx {
        self.tx
    }
}

/// Checks everything about `tx` that does not need state: chain id, hash,
/// sizes, type rules and the signature.
pub fn verify_tx(tx: Tx, rules: &ChainRules) -> Result<VerifiedTx, ExecError> {
    tx.validate(&rules.chain_id_hash, rules.public)?;
    aergo_crypto::verify_tx(&tx)?;
    let body = tx.body()?;
    let sender = body.sender()?;
    let hash = body.tx_hash();
    let sender_key = system::AccountKey::new(&sender);
    Ok(VerifiedTx { tx, hash, sender, sender_key, branch: None })
}

/// [`verify_tx`] for a transaction of any branch of the chain whose main
/// state is `main`: the chain's own chain id hash is main, a branch's lane
/// id ([`branches::BranchInfo::lane`]) is that branch; anything else is
/// the wrong chain.
pub fn verify_tx_in(tx: Tx, rules: &ChainRules, main: &dyn TableStore) -> Result<VerifiedTx, ExecError> {
    let lane = tx.body.as_ref().and_then(|b| Hash::from_slice("chain id hash", &b.chain_id_hash).ok());
    let branch = match lane {
        Some(lane) if lane != rules.chain_id_hash => branches::by_lane(main, &lane)?,
        _ => None,
    };
    let Some(branch) = branch else { return verify_tx(tx, rules) };
    let mut vtx = verify_tx(tx, &ChainRules { chain_id_hash: branch.lane, public: rules.public })?;
    vtx.branch = Some(branch.name);
    Ok(vtx)
}

/// The state `vtx` runs on, given the main state `main`: main itself, or
/// its branch's state, refusing what no block could run there (a branch
/// deleted since, a sender who may not write to it, a system contract
/// called off main).
pub fn lane_state(store: &Store, main: &Snapshot, vtx: &VerifiedTx) -> Result<Snapshot, ExecError> {
    let Some(name) = vtx.branch() else { return Ok(Snapshot::open(store, main.state_root())) };
    let info = branches::read(main, name)?
        .filter(|b| b.lane == vtx.lane())
        .ok_or_else(|| ExecError::UnknownBranch { name: name.to_string() })?;
    block::check_branch_tx(&info, vtx)?;
    branches::open(store, main, name)?.ok_or_else(|| ExecError::UnknownBranch { name: name.to_string() })
}

/// Gas a transaction needs before any contract code runs.
pub fn intrinsic_gas(tx: &Tx) -> u64 {
    let payload = tx.body.as_ref().map_or(0, |b| b.payload.len() as u64);
    TX_BASE_GAS + PAYLOAD_GAS_PER_BYTE * payload
}

/// Reads an account from any view of state.
pub fn account(view: &dyn TableStore, address: &Address) -> Result<AccountState, ExecError> {
    system::read_account(view, address)
}

/// The state after genesis: system tables, parameters and the allocation.
/// Returns the state root (nodes staged in `store`; commit to persist).
pub fn genesis_state(store: &Store, genesis: &Genesis) -> Result<Hash, ExecError> {
    genesis.validate()?;
    let mut overlay = Overlay::new(store, Hash::ZERO);
    system::create_tables(&mut overlay)?;
    contract::create_tables(&mut overlay)?;
    system::write_param(&mut overlay, system::PARAM_GAS_PRICE, GENESIS_GAS_PRICE)?;
    for (address, balance) in genesis.balances()? {
        system::write_account(&mut overlay, &address, AccountState { balance, nonce: 0 })?;
    }
    if let Some(settings) = genesis.dpos_settings()? {
        let clock = aergo_types::evidence::SlotClock {
            genesis_timestamp_ns: genesis.timestamp,
            interval_ms: settings.block_interval_ms,
        };
        dpos::init_genesis(&mut overlay, &settings, &genesis.bps, clock)?;
    }
    Ok(overlay.flush()?)
}

#[cfg(test)]
mod branch_tests;
#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod gov_tests;
#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod tests;
