//! Parallel execution of a block's transactions, with a result identical
//! to applying them one by one in block order.
//!
//! # The algorithm
//!
//! [`BlockBuilder::push_each`] takes the block's transactions at once.
//!
//! 1. **Groups** (`dtt.rs`): static access sets split the transactions
//!    into groups that should not touch each other's rows, and *ordered*
//!    ones the analysis cannot describe (deploys, system calls, branch
//!    transactions, ...).
//! 2. **Speculation**: up to `threads` workers take groups from a shared
//!    counter. Each group runs, in block order, on a fresh fork of the
//!    block's state as it was before the batch (`Overlay::fork`), so a
//!    group sees its own earlier transactions and nothing of the others.
//!    For every transaction the worker keeps its result (receipt or
//!    rejection), the accesses the overlay recorded (`AccessLog`: every
//!    row read or written, every range scanned, every catalogue lookup,
//!    including what a rollback undid), the rows it left written, and the
//!    overlay bytes it charged. A speculative result depends only on the
//!    group and the start state, never on which worker ran it or when.
//! 3. **Commit in block order** on the calling thread. A set `written`
//!    maps every row written so far in the batch to its owner: the group
//!    whose transaction wrote it, or *ordered*. For each transaction:
//!    - an ordered one runs now on the block's state, recording its
//!      accesses; everything it wrote becomes owned by *ordered*;
//!    - a speculative one is *valid* when nothing it read or wrote is
//!      owned by another group or by *ordered*, no range it scanned holds
//!      such a row, no table it touched had its catalogue entry changed by
//!      an ordered transaction, it changed no catalogue entry itself, its
//!      log is complete, its block position is the one it assumed (or it
//!      wrote no events, the only state keyed by position), and its bytes
//!      fit the overlay bound on top of the block's. The same room checks
//!      as a single push come first (count, size, gas). A valid result is
//!      taken as it is: its rows are written into the block's state
//!      (`Overlay::absorb`), its receipt gets the block's cumulative fee
//!      and its position. An invalid one runs again now, as an ordered
//!      transaction, and what its speculation wrote becomes owned by
//!      *ordered* too, so that later transactions of its group that saw
//!      those writes are re-run as well.
//!
//! # Why the result is the serial one
//!
//! By induction over block order: before transaction `i` commits, the
//! block's state equals the serial state after `i - 1`. An ordered or
//! re-run transaction runs on exactly that state. A valid speculative one
//! ran on the start state plus the speculative writes of its group's
//! earlier transactions. Each row it read or wrote is owned by no other
//! group and by no ordered run, so no transaction outside its group wrote
//! it in this batch, and every earlier transaction of its group that wrote
//! it committed its speculative writes unchanged (otherwise the row would
//! be owned by *ordered*): the row has the same value in both states.
//! Ranges and catalogue lookups are covered the same way. Execution is a
//! deterministic function of the transaction, the block context, its
//! position (checked) and the values it reads, so it reads the same, does
//! the same, and writes the same rows with the same values; writing back
//! the final values of the rows it wrote (rolled back ones included:
//! their value is the one already there) gives the serial state after
//! `i`. Receipts differ only in the cumulative fee and, when the position
//! moved without events, the position: both are set at commit. Limits
//! hit the same way because charges are carried over and checked against
//! the block's total (charges only grow, so a speculation that stayed
//! under the bound on its fork may still be re-run, never the other way).
//!
//! Producers and validators both use it (`chain::build_block`,
//! `chain::import`); which transactions a worker ran, or how many workers
//! there were, cannot change a state root, a receipt or a gas figure.
//! A property test (`parallel_tests.rs`) checks it against `push` one by
//! one on random blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, ControlFlow};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use aergo_store::state::MAX_OVERLAY_BYTES;
use aergo_store::{AccessLog, Overlay, RowWrite, TableStore};
use aergo_types::{Amount, Hash, Receipt};

pub(crate) use super::dtt::Dtt;
use super::BlockBuilder;
use crate::{events, ExecError, VerifiedTx};

/// Most workers an executor runs a block on.
pub const MAX_EXEC_THREADS: usize = 64;

/// Batches smaller than this run in order: forking and scheduling would
/// cost more than they save.
const MIN_PARALLEL_TXS: usize = 8;

/// What the parallel executor did with a block's transactions: how fast
/// it went, never what it gave. Summed over every
/// [`BlockBuilder::push_each`] of one builder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParallelStats {
    /// Transactions the dependency analysis looked at (0 when the batch
    /// was too small or there was one worker).
    pub analysed: usize,
    /// Groups it found.
    pub groups: usize,
    /// The longest path the groups leave: the largest group plus the
    /// ordered transactions (a group runs on one worker, an ordered
    /// transaction on the block's own state).
    pub longest_path: usize,
    /// The longest chain of conflicting transactions in block order
    /// (`Dtt::critical_path`): what an ideal scheduler would face.
    pub critical_path: usize,
    /// Transactions run speculatively on workers.
    pub speculated: usize,
    /// Speculative results taken as they were.
    pub committed: usize,
    /// Speculative results that were invalid and ran again in order.
    pub rerun: usize,
    /// Transactions run in order because no group could hold them.
    pub ordered: usize,
}

impl ParallelStats {
    /// Adds `other`'s figures to these (totals over many blocks).
    pub fn add(&mut self, other: &ParallelStats) {
        self.analysed += other.analysed;
        self.groups += other.groups;
        self.longest_path += other.longest_path;
        self.critical_path += other.critical_path;
        self.speculated += other.speculated;
        self.committed += other.committed;
        self.rerun += other.rerun;
        self.ordered += other.ordered;
    }

    /// Analysed transactions over the longest path the groups leave: the
    /// parallelism this executor can use with enough workers, a figure of
    /// the block and not of the machine (1 when nothing was analysed).
    pub fn available_parallelism(&self) -> f64 {
        ratio(self.analysed, self.longest_path)
    }

    /// Analysed transactions over the longest chain of conflicts: what an
    /// ideal scheduler could use (1 when nothing was analysed).
    pub fn ideal_parallelism(&self) -> f64 {
        ratio(self.analysed, self.critical_path)
    }
}

fn ratio(txs: usize, path: usize) -> f64 {
    if path == 0 {
        return 1.0;
    }
    txs as f64 / path as f64
}

/// What one transaction did on a worker's fork.
struct Spec {
    result: Result<Receipt, ExecError>,
    log: AccessLog,
    /// The final values of the rows it wrote (none for a rejection).
    writes: Vec<RowWrite>,
    /// Overlay bytes it charged.
    charged_bytes: u64,
    /// The block position it ran at.
    index: usize,
}

/// Who wrote a row in this batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Group(usize),
    Ordered,
}

/// The rows and catalogue entries written so far in a batch.
#[derive(Default)]
struct Written {
    rows: BTreeMap<String, BTreeMap<Vec<u8>, Owner>>,
    /// Tables whose catalogue entry an ordered transaction changed.
    tables: BTreeSet<String>,
}

impl Written {
    /// Records what `log` wrote as `owner`'s.
    fn note(&mut self, log: &AccessLog, owner: Owner) {
        for (table, key) in &log.writes {
            self.rows.entry(table.clone()).or_default().insert(key.clone(), owner);
        }
        self.tables.extend(log.tables_written.iter().cloned());
    }

    /// Whether a speculative transaction of group `g` with this log may
    /// have seen a state other than the serial one (see the module docs).
    fn conflicts(&self, log: &AccessLog, g: usize) -> bool {
        if log.truncated || !log.tables_written.is_empty() {
            return true;
        }
        if log.catalogue_scanned && !self.tables.is_empty() {
            return true;
        }
        let foreign = |o: &Owner| *o != Owner::Group(g);
        let table_changed = |t: &String| self.tables.contains(t);
        if log.tables_read.iter().any(table_changed)
            || log.reads.iter().chain(&log.writes).any(|(t, _)| table_changed(t))
            || log.ranges.iter().any(|r| table_changed(&r.table))
        {
            return true;
        }
        let row = |t: &String, k: &Vec<u8>| self.rows.get(t).and_then(|m| m.get(k)).is_some_and(foreign);
        if log.reads.iter().chain(&log.writes).any(|(t, k)| row(t, k)) {
            return true;
        }
        log.ranges.iter().any(|r| {
            let Some(rows) = self.rows.get(&r.table) else { return false };
            let lower = r.lower.as_ref().map(Vec::as_slice);
            let upper = r.upper.as_ref().map(Vec::as_slice);
            !range_is_empty(lower, upper) && rows.range::<[u8], _>((lower, upper)).any(|(_, o)| foreign(o))
        })
    }
}

/// Whether a range holds no key (and `BTreeMap::range` would panic on it).
fn range_is_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

fn touches_events(log: &AccessLog) -> bool {
    log.reads.iter().chain(&log.writes).any(|(t, _)| t == events::EVENTS)
        || log.ranges.iter().any(|r| r.table == events::EVENTS)
}

impl BlockBuilder {
    /// Applies `txs` in block order as [`BlockBuilder::push`] would, one
    /// by one, calling `each` with every transaction's index, hash and
    /// result; stops when `each` breaks and returns what it broke with.
    /// With more than one thread (`Executor::with_threads`) the
    /// transactions run in parallel where their accesses allow; the
    /// outcome is the same (see the module docs).
    pub fn push_each<B>(
        &mut self,
        txs: Vec<VerifiedTx>,
        each: impl FnMut(usize, Hash, Result<&Receipt, ExecError>) -> ControlFlow<B>,
    ) -> Option<B> {
        let dtt = if self.threads > 1 && txs.len() >= MIN_PARALLEL_TXS && self.check_dpos_begun("").is_ok() {
            Dtt::build(&self.overlay, &self.engine, &self.ctx, &txs, self.threads)
        } else {
            Dtt::default()
        };
        self.push_each_planned(txs, dtt, each)
    }

    /// [`BlockBuilder::push_each`] with the groups given: tests hand it
    /// groups that contradict the transactions' accesses, to check that
    /// validation alone keeps the result serial.
    pub(crate) fn push_each_planned<B>(
        &mut self,
        txs: Vec<VerifiedTx>,
        dtt: Dtt,
        mut each: impl FnMut(usize, Hash, Result<&Receipt, ExecError>) -> ControlFlow<B>,
    ) -> Option<B> {
        if !dtt.group_of.is_empty() {
            let ordered = dtt.group_of.iter().filter(|g| g.is_none()).count();
            let largest = dtt.groups.iter().map(Vec::len).max().unwrap_or(0);
            self.stats.analysed += dtt.group_of.len();
            self.stats.groups += dtt.groups.len();
            self.stats.longest_path += largest + ordered;
            self.stats.critical_path += dtt.critical_path;
        }
        if dtt.groups.len() < 2 {
            for (i, vtx) in txs.into_iter().enumerate() {
                let hash = vtx.hash();
                if let ControlFlow::Break(b) = each(i, hash, self.push(vtx)) {
                    return Some(b);
                }
            }
            return None;
        }
        let mut specs = self.speculate(&txs, &dtt);
        self.stats.speculated += specs.iter().filter(|s| s.is_some()).count();
        let mut written = Written::default();
        for (i, vtx) in txs.into_iter().enumerate() {
            let hash = vtx.hash();
            let group = dtt.group_of.get(i).copied().flatten();
            let result = match (group, specs.get_mut(i).and_then(Option::take)) {
                (Some(g), Some(spec)) => self.commit_spec(vtx, spec, g, &mut written),
                (_, spec) => {
                    match spec {
                        Some(spec) => {
                            self.stats.rerun += 1;
                            written.note(&spec.log, Owner::Ordered);
                        }
                        None => self.stats.ordered += 1,
                    }
                    self.push_ordered(vtx, &mut written)
                }
            };
            if let ControlFlow::Break(b) = each(i, hash, result) {
                return Some(b);
            }
        }
        None
    }

    /// What the parallel executor did so far in this block.
    pub fn parallel_stats(&self) -> ParallelStats {
        self.stats
    }

    /// Runs every group on the workers; returns each grouped
    /// transaction's speculative result (`None` for ordered ones, and for
    /// any a worker could not finish).
    fn speculate(&self, txs: &[VerifiedTx], dtt: &Dtt) -> Vec<Option<Spec>> {
        let base_index = self.next_index();
        let results: Vec<Mutex<Option<Spec>>> = txs.iter().map(|_| Mutex::new(None)).collect();
        let next_group = AtomicUsize::new(0);
        let workers = self.threads.min(dtt.groups.len()).max(1);
        // Each worker gets a builder on its own fork, made here: the
        // block's overlay is not shared between threads.
        let mut workers: Vec<Worker> = (0..workers).map(|_| self.worker()).collect();
        let run = |w: &mut Worker| loop {
            let g = next_group.fetch_add(1, Ordering::Relaxed);
            let Some(group) = dtt.groups.get(g) else { break };
            w.run_group(group, txs, base_index, &results);
        };
        let mut mine = workers.pop().expect("at least one worker");
        std::thread::scope(|s| {
            for mut w in workers {
                let spawned =
                    std::thread::Builder::new().name("aergo-exec".into()).spawn_scoped(s, move || run(&mut w));
                // A worker that cannot start leaves its share to the others
                // (the calling thread below always runs).
                drop(spawned);
            }
            run(&mut mine);
        });
        results.into_iter().map(|m| m.into_inner().unwrap_or(None)).collect()
    }

    /// A speculative worker: the block's context on a fork of its state,
    /// with no transactions of its own.
    fn worker(&self) -> Worker {
        let start = self.overlay.fork();
        let builder = BlockBuilder {
            overlay: start.fork(),
            ctx: self.ctx.clone(),
            gas_price: self.gas_price,
            txs: Vec::new(),
            receipts: Vec::new(),
            fees: Amount::ZERO,
            size_bytes: 0,
            gas_used: 0,
            caps: self.caps,
            dpos: self.dpos,
            dpos_begun: self.dpos_begun,
            passed_params: BTreeMap::new(),
            engine: self.engine.clone(),
            store: self.store.clone(),
            lanes: BTreeMap::new(),
            threads: 1,
            index_base: self.next_index(),
            stats: ParallelStats::default(),
        };
        Worker { builder, start }
    }
}

/// One speculative worker.
struct Worker {
    builder: BlockBuilder,
    /// The block's state before the batch; each group runs on a fresh
    /// fork of it, so its result does not depend on the groups the same
    /// worker ran before (not even on the bytes they charged).
    start: Overlay,
}

impl Worker {
    /// Runs one group in block order, storing each transaction's [`Spec`].
    fn run_group(&mut self, group: &[usize], txs: &[VerifiedTx], base_index: usize, out: &[Mutex<Option<Spec>>]) {
        self.builder.overlay = self.start.fork();
        for &i in group {
            let spec = self.builder.speculate_one(&txs[i], base_index + i);
            if let Ok(mut slot) = out[i].lock() {
                *slot = Some(spec);
            }
        }
    }
}

impl BlockBuilder {
    fn speculate_one(&mut self, vtx: &VerifiedTx, index: usize) -> Spec {
        self.index_base = index;
        let charged_before = self.overlay.buffered_bytes();
        self.overlay.record_access();
        let savepoint = self.overlay.savepoint();
        let result = match self.apply(vtx) {
            Ok((receipt, passed)) if passed.is_empty() => {
                self.overlay.release_savepoint(savepoint).map(|()| receipt).map_err(ExecError::from)
            }
            Ok(_) => {
                // Only governance calls pass parameters, and they are
                // ordered; a speculation that did is not used.
                let _ = self.overlay.rollback_to(savepoint);
                Err(ExecError::Unsupported {
                    what: "a parameter change".into(),
                    reason: "governance calls run in block order",
                })
            }
            Err(e) => {
                let _ = self.overlay.rollback_to(savepoint);
                Err(e)
            }
        };
        let mut log = self.overlay.stop_access_log().unwrap_or_default();
        let mut writes = Vec::new();
        if result.is_ok() {
            for (table, key) in &log.writes {
                match self.overlay.peek(table, key) {
                    Ok(value) => writes.push(RowWrite { table: table.clone(), key: key.clone(), value }),
                    // Cannot be carried over: mark the log so that the
                    // transaction runs again in order.
                    Err(_) => log.truncated = true,
                }
            }
        }
        Spec { result, log, writes, charged_bytes: self.overlay.buffered_bytes() - charged_before, index }
    }

    /// Commits a speculative result if it is valid, else runs the
    /// transaction in order (see the module docs).
    fn commit_spec(
        &mut self,
        vtx: VerifiedTx,
        spec: Spec,
        g: usize,
        written: &mut Written,
    ) -> Result<&Receipt, ExecError> {
        let room = match self.room_for(&vtx) {
            Ok(room) => room,
            Err(e) => {
                // Not applied: its group's later transactions may have
                // seen writes the block will not have.
                written.note(&spec.log, Owner::Ordered);
                return Err(e);
            }
        };
        let index = self.next_index();
        let reusable = !written.conflicts(&spec.log, g)
            && (spec.index == index || !touches_events(&spec.log))
            && self.overlay.buffered_bytes().saturating_add(spec.charged_bytes) <= MAX_OVERLAY_BYTES
            && spec.result.as_ref().err().is_none_or(ExecError::is_rejection);
        if !reusable {
            self.stats.rerun += 1;
            written.note(&spec.log, Owner::Ordered);
            return self.push_ordered(vtx, written);
        }
        self.stats.committed += 1;
        // A rejection is the same rejection, from the same state: nothing
        // was written.
        let mut receipt = spec.result?;
        let savepoint = self.overlay.savepoint();
        if let Err(e) = self.overlay.absorb(&spec.writes, spec.charged_bytes) {
            self.overlay.rollback_to(savepoint)?;
            self.overlay.release_savepoint(savepoint)?;
            written.note(&spec.log, Owner::Ordered);
            return Err(e.into());
        }
        self.overlay.release_savepoint(savepoint)?;
        let fee = super::receipt_fee(&receipt);
        receipt.cumulative_fee_used = self.fees.checked_add(fee).unwrap_or(Amount::TOTAL_SUPPLY).to_be_bytes_minimal();
        receipt.tx_index = index as i32;
        written.note(&spec.log, Owner::Group(g));
        self.record_applied(vtx, receipt, Vec::new(), room)
    }

    /// [`BlockBuilder::push`] on the block's state, noting what it wrote
    /// as ordered.
    fn push_ordered(&mut self, vtx: VerifiedTx, written: &mut Written) -> Result<&Receipt, ExecError> {
        self.overlay.record_access();
        let result = self.push(vtx).map(|_| ());
        let log = self.overlay.stop_access_log().unwrap_or_default();
        written.note(&log, Owner::Ordered);
        result.map(|()| self.receipts.last().expect("a pushed transaction has a receipt"))
    }
}
