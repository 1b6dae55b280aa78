//! The Deterministic Transaction Tree (the whitepaper's DTT): which of a
//! block's transactions may depend on which, from their static access
//! sets, before any of them runs.
//!
//! # What it computes
//!
//! Each transaction gets a static access set: the rows (or whole tables)
//! it may read and write, told from the transaction and the state at the
//! start of the block:
//!
//! - a transfer to an address writes the sender's and the recipient's
//!   accounts (keyed by address bytes: `ACCOUNTS_BY_ADDRESS`);
//! - a contract call writes the sender's account (nonce and fee), reads
//!   the contract's catalogue row, writes the contract's account when it
//!   pays it, and adds the called function's access set from AergoSQL's
//!   static analysis (`aergo_sql::analysis`: exact keys where they follow
//!   from the arguments, whole tables otherwise);
//! - everything else (deploys, system, name, file and branch calls,
//!   transactions on branches, transfers to names, calls the analysis
//!   cannot read) is *ordered*: it runs in block order on the block's own
//!   state and is in no group.
//!
//! Two transactions *conflict* when one writes a row (or a table) the
//! other reads or writes. The groups are the connected components of the
//! conflict graph over the unordered transactions, found with a union-find
//! in one pass: per table and per key the structure keeps one
//! representative writer and the readers seen since, so each access costs
//! a map lookup and at most a few unions. Within a group the transactions
//! keep block order; the tree of the whitepaper is this forest of chains,
//! one per group, hanging off the block's start state.
//!
//! The groups are a pure function of the block and its parent state
//! (`BTreeMap`s only, block order everywhere), so every node computes the
//! same ones; but nothing depends on them for correctness. They decide
//! only what runs where: the executor in `parallel.rs` checks every
//! speculative result against the accesses actually recorded, so a set
//! that is too small costs a re-execution, never a wrong state.

use std::collections::BTreeMap;

use aergo_sql::{AccessSet, KeyAccess};
use aergo_store::{Overlay, TableStore};
use aergo_types::{Address, TxType};

use crate::{contract, BlockContext, VerifiedTx};

/// Fewest transactions worth a worker of their own in the analysis.
const MIN_TXS_PER_ANALYSIS_WORKER: usize = 64;

/// The pseudo-table of the accounts in the static sets: keyed by the raw
/// address bytes, which every transaction carries, rather than by the
/// base58 text `sys.accounts` is keyed by (formatting costs more than
/// the rest of a transfer's analysis). Only the grouping sees it.
const ACCOUNTS_BY_ADDRESS: &str = "accounts by address";

/// The groups of a block's transactions.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Dtt {
    /// Each group's transactions (indices into the block), in block order;
    /// groups ordered by their first transaction.
    pub groups: Vec<Vec<usize>>,
    /// Each transaction's group, `None` for an ordered one.
    pub group_of: Vec<Option<usize>>,
    /// The longest chain of conflicting transactions in block order (each
    /// depending on the latest earlier one it conflicts with; an ordered
    /// transaction depends on every earlier one and every later one on
    /// it): the critical path an ideal scheduler would face. The groups
    /// are coarser (a group runs on one worker), so this is the headroom
    /// beside what they exploit.
    pub critical_path: usize,
}

impl Dtt {
    /// Computes the groups of `txs` on the builder's state, the static
    /// sets computed on up to `threads` workers (each on a fork of the
    /// state: a pure function of it, so the split does not matter).
    pub fn build(
        state: &Overlay,
        engine: &aergo_sql::Engine,
        block: &BlockContext,
        txs: &[VerifiedTx],
        threads: usize,
    ) -> Dtt {
        let workers = threads.min(txs.len() / MIN_TXS_PER_ANALYSIS_WORKER).max(1);
        let chunk = txs.len().div_ceil(workers).max(1);
        let mut sets: Vec<Option<AccessSet>> = vec![None; txs.len()];
        let analyse = |view: &dyn TableStore, out: &mut [Option<AccessSet>], part: &[VerifiedTx]| {
            let mut calls = contract::StaticCalls::new(view, engine, block);
            for (o, vtx) in out.iter_mut().zip(part) {
                *o = static_set(&mut calls, vtx);
            }
        };
        let mut chunks = sets.chunks_mut(chunk).zip(txs.chunks(chunk));
        let first = chunks.next();
        std::thread::scope(|s| {
            for (out, part) in chunks {
                let fork = state.fork();
                // A worker that cannot start leaves its transactions
                // without a set: they run in order, correct but slower.
                drop(
                    std::thread::Builder::new()
                        .name("aergo-dtt".into())
                        .spawn_scoped(s, move || analyse(&fork, out, part)),
                );
            }
            if let Some((out, part)) = first {
                analyse(state, out, part);
            }
        });
        Self::from_sets(&sets)
    }

    /// The groups of transactions with these static sets (`None`:
    /// ordered).
    pub fn from_sets(sets: &[Option<AccessSet>]) -> Dtt {
        let mut uf = UnionFind::new(sets.len());
        let mut seen: BTreeMap<&str, TableSeen> = BTreeMap::new();
        for (i, set) in sets.iter().enumerate() {
            let Some(set) = set else { continue };
            for (table, accesses) in &set.writes {
                let t = seen.entry(table.as_str()).or_default();
                for a in accesses {
                    t.write(&mut uf, i, a);
                }
            }
            for (table, accesses) in &set.reads {
                let t = seen.entry(table.as_str()).or_default();
                for a in accesses {
                    t.read(&mut uf, i, a);
                }
            }
        }
        let mut group_by_root: BTreeMap<usize, usize> = BTreeMap::new();
        let critical_path = critical_path(sets);
        let mut dtt = Dtt { groups: Vec::new(), group_of: vec![None; sets.len()], critical_path };
        for (i, set) in sets.iter().enumerate() {
            if set.is_none() {
                continue;
            }
            let root = uf.find(i);
            let g = *group_by_root.entry(root).or_insert_with(|| {
                dtt.groups.push(Vec::new());
                dtt.groups.len() - 1
            });
            dtt.groups[g].push(i);
            dtt.group_of[i] = Some(g);
        }
        dtt
    }
}

/// The depth of the dependency graph of `sets` in block order (see
/// [`Dtt::critical_path`]), in one pass: per table and key the depth of
/// the last writer and of the deepest reader since, per table the same
/// for whole-table accesses and for any key.
fn critical_path(sets: &[Option<AccessSet>]) -> usize {
    #[derive(Default)]
    struct Depths {
        key_write: BTreeMap<Vec<u8>, usize>,
        key_read: BTreeMap<Vec<u8>, usize>,
        table_write: usize,
        table_read: usize,
        any_write: usize,
        any_read: usize,
    }
    let mut tables: BTreeMap<&str, Depths> = BTreeMap::new();
    // Every transaction comes after the last ordered one.
    let mut floor = 0usize;
    let mut deepest = 0usize;
    for set in sets {
        let Some(set) = set else {
            deepest += 1;
            floor = deepest;
            continue;
        };
        let mut after = floor;
        for (table, accesses) in &set.writes {
            let d = tables.entry(table.as_str()).or_default();
            for a in accesses {
                after = after.max(d.table_write).max(d.table_read);
                after = match a {
                    KeyAccess::Key(k) => {
                        after.max(d.key_write.get(k).copied().unwrap_or(0)).max(d.key_read.get(k).copied().unwrap_or(0))
                    }
                    _ => after.max(d.any_write).max(d.any_read),
                };
            }
        }
        for (table, accesses) in &set.reads {
            let d = tables.entry(table.as_str()).or_default();
            for a in accesses {
                after = after.max(d.table_write);
                after = match a {
                    KeyAccess::Key(k) => after.max(d.key_write.get(k).copied().unwrap_or(0)),
                    _ => after.max(d.any_write),
                };
            }
        }
        let depth = after + 1;
        deepest = deepest.max(depth);
        for (table, accesses) in &set.writes {
            let d = tables.entry(table.as_str()).or_default();
            for a in accesses {
                match a {
                    KeyAccess::Key(k) => {
                        d.key_write.insert(k.clone(), depth);
                        d.key_read.remove(k);
                    }
                    _ => d.table_write = d.table_write.max(depth),
                }
                d.any_write = d.any_write.max(depth);
            }
        }
        for (table, accesses) in &set.reads {
            let d = tables.entry(table.as_str()).or_default();
            for a in accesses {
                match a {
                    KeyAccess::Key(k) => {
                        let r = d.key_read.entry(k.clone()).or_default();
                        *r = (*r).max(depth);
                    }
                    _ => d.table_read = d.table_read.max(depth),
                }
                d.any_read = d.any_read.max(depth);
            }
        }
    }
    deepest
}

/// The static access set of one transaction, `None` for an ordered one
/// (see the module docs).
fn static_set(calls: &mut contract::StaticCalls<'_>, vtx: &VerifiedTx) -> Option<AccessSet> {
    if vtx.branch().is_some() {
        return None;
    }
    let body = vtx.tx().body().ok()?;
    let tx_type = body.tx_type().ok()?;
    let recipient = body.recipient().ok()?;
    match contract::classify(tx_type, recipient.as_ref()) {
        Some(contract::ContractTx::Call(address)) => calls.access(vtx, &address, ACCOUNTS_BY_ADDRESS),
        Some(contract::ContractTx::Deploy) => None,
        None => match (tx_type, recipient) {
            (TxType::Normal | TxType::Transfer, Some(to @ Address::Account(_))) => {
                let mut set = AccessSet::default();
                set.write(ACCOUNTS_BY_ADDRESS, KeyAccess::Key(vtx.sender().to_vec()));
                set.write(ACCOUNTS_BY_ADDRESS, KeyAccess::Key(to.to_vec()));
                Some(set)
            }
            _ => None,
        },
    }
}

/// Who touched one table so far, for the union-find pass. Lists hold the
/// transactions a later access may conflict with; once a list has been
/// joined to one transaction it is all one set, so it shrinks to that one
/// representative (each access costs a few unions, amortised).
#[derive(Default)]
struct TableSeen {
    /// The latest writer of each key (earlier ones are joined to it).
    key_writer: BTreeMap<Vec<u8>, usize>,
    /// Readers of each key since its last writer.
    key_readers: BTreeMap<Vec<u8>, Vec<usize>>,
    /// Writers of anything in the table, for a whole-table reader or writer.
    writers: Vec<usize>,
    /// Readers of any key, for a whole-table writer.
    key_readers_any: Vec<usize>,
    /// The latest whole-table (or range) writer.
    table_writer: Option<usize>,
    /// Whole-table (or range) readers, for any writer.
    table_readers: Vec<usize>,
}

/// Joins `tx` to every transaction of `list`, which then stands for them
/// all through `tx`.
fn join(uf: &mut UnionFind, tx: usize, list: &mut Vec<usize>) {
    if list.is_empty() {
        return;
    }
    for &other in list.iter() {
        uf.union(tx, other);
    }
    list.clear();
    list.push(tx);
}

impl TableSeen {
    fn write(&mut self, uf: &mut UnionFind, tx: usize, a: &KeyAccess) {
        if let Some(w) = self.table_writer {
            uf.union(tx, w);
        }
        join(uf, tx, &mut self.table_readers);
        match a {
            KeyAccess::Key(k) => {
                if let Some(&w) = self.key_writer.get(k) {
                    uf.union(tx, w);
                }
                for r in self.key_readers.remove(k).unwrap_or_default() {
                    uf.union(tx, r);
                }
                self.key_writer.insert(k.clone(), tx);
                self.writers.push(tx);
            }
            KeyAccess::Range(..) | KeyAccess::Table => {
                self.writers.push(tx);
                join(uf, tx, &mut self.writers);
                join(uf, tx, &mut self.key_readers_any);
                // Every earlier reader of a key is joined to `tx` now, and
                // a later writer of a key joins `tx` as the table writer.
                self.key_readers.clear();
                self.table_writer = Some(tx);
            }
        }
    }

    fn read(&mut self, uf: &mut UnionFind, tx: usize, a: &KeyAccess) {
        if let Some(w) = self.table_writer {
            uf.union(tx, w);
        }
        match a {
            KeyAccess::Key(k) => {
                match self.key_writer.get(k) {
                    Some(&w) => uf.union(tx, w),
                    None => self.key_readers.entry(k.clone()).or_default().push(tx),
                }
                self.key_readers_any.push(tx);
            }
            KeyAccess::Range(..) | KeyAccess::Table => {
                join(uf, tx, &mut self.writers);
                self.table_readers.push(tx);
            }
        }
    }
}

/// Union-find over transaction indices; the root of a set is its
/// smallest member, so the result depends on nothing but the unions.
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind { parent: (0..n).collect() }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(reads: &[(&str, Option<&[u8]>)], writes: &[(&str, Option<&[u8]>)]) -> Option<AccessSet> {
        let access = |k: Option<&[u8]>| k.map_or(KeyAccess::Table, |k| KeyAccess::Key(k.to_vec()));
        let mut s = AccessSet::default();
        for (t, k) in reads {
            s.read(t, access(*k));
        }
        for (t, k) in writes {
            s.write(t, access(*k));
        }
        Some(s)
    }

    #[test]
    fn disjoint_writers_are_separate_groups_and_shared_keys_join() {
        let sets = vec![
            set(&[], &[("a", Some(b"1")), ("a", Some(b"2"))]),
            set(&[], &[("a", Some(b"3")), ("a", Some(b"4"))]),
            set(&[], &[("a", Some(b"2")), ("a", Some(b"5"))]),
            None,
            set(&[("a", Some(b"9"))], &[]),
            set(&[("a", Some(b"9"))], &[]),
        ];
        let d = Dtt::from_sets(&sets);
        assert_eq!(d.groups, vec![vec![0, 2], vec![1], vec![4], vec![5]]);
        assert_eq!(d.group_of, vec![Some(0), Some(1), Some(0), None, Some(2), Some(3)]);
    }

    #[test]
    fn a_writer_joins_earlier_and_later_readers_of_its_key() {
        let sets = vec![
            set(&[("a", Some(b"k"))], &[]),
            set(&[("a", Some(b"k"))], &[]),
            set(&[], &[("a", Some(b"k"))]),
            set(&[("a", Some(b"k"))], &[]),
            set(&[("a", Some(b"other"))], &[]),
        ];
        let d = Dtt::from_sets(&sets);
        assert_eq!(d.groups, vec![vec![0, 1, 2, 3], vec![4]]);
    }

    #[test]
    fn whole_table_accesses_join_every_key_access_that_conflicts() {
        let sets = vec![
            set(&[("t", Some(b"1"))], &[]),
            set(&[], &[("t", Some(b"2"))]),
            set(&[("t", None)], &[]),
            set(&[("u", None)], &[]),
            set(&[], &[("u", None)]),
            set(&[("t", Some(b"3"))], &[]),
        ];
        let d = Dtt::from_sets(&sets);
        // 2 reads all of t, which 1 writes; 4 writes all of u, which 3
        // reads; 0 and 5 only read keys nobody writes.
        assert_eq!(d.groups, vec![vec![0], vec![1, 2], vec![3, 4], vec![5]]);
    }

    #[test]
    fn a_whole_table_reader_joins_every_earlier_key_writer() {
        let sets = vec![
            set(&[], &[("t", Some(b"1"))]),
            set(&[], &[("t", Some(b"2"))]),
            set(&[("t", None)], &[]),
            set(&[], &[("t", Some(b"3"))]),
            set(&[("t", Some(b"4"))], &[]),
        ];
        let d = Dtt::from_sets(&sets);
        assert_eq!(d.groups, vec![vec![0, 1, 2, 3], vec![4]]);
    }

    #[test]
    fn the_critical_path_follows_conflicts_in_block_order() {
        let w = |k: &'static [u8]| set(&[], &[("t", Some(k))]);
        // 0 and 1 independent; 2 after both (writes both keys); 3 after 2.
        let sets = vec![w(b"a"), w(b"b"), set(&[], &[("t", Some(b"a")), ("t", Some(b"b"))]), w(b"b"), w(b"c")];
        assert_eq!(Dtt::from_sets(&sets).critical_path, 3);
        // The groups are coarser: one component of four.
        assert_eq!(Dtt::from_sets(&sets).groups, vec![vec![0, 1, 2, 3], vec![4]]);
        // An ordered transaction is a barrier.
        assert_eq!(Dtt::from_sets(&[w(b"a"), None, w(b"b")]).critical_path, 3);
        // Readers of one key run side by side, after its writer.
        let r = |k: &'static [u8]| set(&[("t", Some(k))], &[]);
        assert_eq!(Dtt::from_sets(&[w(b"a"), r(b"a"), r(b"a"), r(b"a")]).critical_path, 2);
        assert_eq!(Dtt::from_sets(&[]).critical_path, 0);
    }

    #[test]
    fn a_whole_table_writer_joins_earlier_key_readers() {
        let sets = vec![set(&[("t", Some(b"1"))], &[]), set(&[("t", Some(b"2"))], &[]), set(&[], &[("t", None)])];
        let d = Dtt::from_sets(&sets);
        assert_eq!(d.groups, vec![vec![0, 1, 2]]);
    }
}
