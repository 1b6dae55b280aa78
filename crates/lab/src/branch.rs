//! `aergo bench branch`: the storage operations that branches of the chain
//! rest on, at two sizes of state, to show that they cost the size of the
//! change and not of the state (the branch issue's bound: the larger
//! state within 1.3x of the smaller).
//!
//! For each size, in a store on disk (redb), a state of one table of
//! `rows` accounts is built and committed as ref `main`; then:
//! - **branch**: a ref `feature` made from `main` (`Store::branch`), the
//!   O(1) pointer a chain branch is;
//! - **diff**: `Store::diff_state` of `main` against a state where
//!   `changes` rows changed (spread evenly over the keys);
//! - **merge**: `Store::merge3_state` of two such states, `changes`
//!   different rows each, against `main` (no conflicts), and a check that
//!   the merge holds both sides' changes.
//!
//! Then, at the same size, the chain's own operations (`branch_chain`):
//! a block creating a branch, and blocks merging `changes` transfers by
//! replay and three-way.
//!
//! Each figure is the median of `repeats` runs, in microseconds.

use std::time::Instant;

use aergo_client::{CliError, Result};
use aergo_store::codec::{encode_key, encode_row, Value};
use aergo_store::{build_state, Overlay, RefUpdate, Resolution, Store, TableMeta, TableStore};
use serde_json::{json, Value as Json};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BranchBenchOptions {
    /// State sizes in rows, smaller first.
    pub sizes: Vec<u64>,
    /// Rows changed on each side.
    pub changes: u64,
    pub repeats: usize,
}

impl BranchBenchOptions {
    pub fn quick() -> Self {
        BranchBenchOptions { sizes: vec![100_000, 1_000_000], changes: 1_000, repeats: 5 }
    }

    pub fn full() -> Self {
        BranchBenchOptions { sizes: vec![1_000_000, 10_000_000], changes: 1_000, repeats: 7 }
    }
}

/// The figures at one size.
#[derive(Clone, Debug)]
pub struct SizeFigures {
    pub rows: u64,
    pub build_secs: f64,
    pub branch_us: f64,
    pub diff_us: f64,
    pub merge_us: f64,
    /// Tree nodes the diff and the merge loaded (`Store::load_count`): the
    /// work, whatever the machine and its caches.
    pub diff_loads: u64,
    pub merge_loads: u64,
    /// The chain's blocks: creating a branch, merging one by replay and
    /// three-way.
    pub chain: crate::branch_chain::ChainFigures,
}

#[derive(Clone, Debug)]
pub struct BranchBenchReport {
    pub changes: u64,
    pub sizes: Vec<SizeFigures>,
}

impl BranchBenchReport {
    fn ratio(&self, f: impl Fn(&SizeFigures) -> f64) -> f64 {
        match (self.sizes.first(), self.sizes.last()) {
            (Some(a), Some(b)) if f(a) > 0.0 => f(b) / f(a),
            _ => 0.0,
        }
    }

    /// Larger state over smaller: (branch, diff, merge).
    pub fn ratios(&self) -> (f64, f64, f64) {
        (self.ratio(|s| s.branch_us), self.ratio(|s| s.diff_us), self.ratio(|s| s.merge_us))
    }

    /// Larger state over smaller, in nodes loaded: (diff, merge).
    pub fn load_ratios(&self) -> (f64, f64) {
        (self.ratio(|s| s.diff_loads as f64), self.ratio(|s| s.merge_loads as f64))
    }

    /// Larger state over smaller, the chain's blocks: (create, auto
    /// merge, three-way merge).
    pub fn chain_ratios(&self) -> (f64, f64, f64) {
        (
            self.ratio(|s| s.chain.create_us),
            self.ratio(|s| s.chain.auto_merge_us),
            self.ratio(|s| s.chain.three_way_merge_us),
        )
    }

    pub fn bench_line(&self) -> String {
        let (b, d, m) = self.ratios();
        let (cc, ca, ct) = self.chain_ratios();
        let (small, large) = (self.sizes.first().map_or(0, |s| s.rows), self.sizes.last().map_or(0, |s| s.rows));
        let at = |f: &dyn Fn(&SizeFigures) -> f64| {
            self.sizes.iter().map(|s| format!("{:.0}", f(s))).collect::<Vec<_>>().join("/")
        };
        let (dl, ml) = self.load_ratios();
        format!(
            "BENCH branch rows={small}/{large} changes={} branch_ratio={b:.2} diff_ratio={d:.2} merge_ratio={m:.2} \
             diff_load_ratio={dl:.2} merge_load_ratio={ml:.2} chain_create_ratio={cc:.2} \
             chain_auto_merge_ratio={ca:.2} chain_three_way_ratio={ct:.2} branch_us={} diff_us={} merge_us={} \
             diff_loads={} merge_loads={} chain_create_us={} chain_auto_merge_us={} chain_three_way_us={}",
            self.changes,
            at(&|s| s.branch_us),
            at(&|s| s.diff_us),
            at(&|s| s.merge_us),
            at(&|s| s.diff_loads as f64),
            at(&|s| s.merge_loads as f64),
            at(&|s| s.chain.create_us),
            at(&|s| s.chain.auto_merge_us),
            at(&|s| s.chain.three_way_merge_us)
        )
    }

    pub fn json(&self) -> Json {
        let (b, d, m) = self.ratios();
        json!({
            "changes": self.changes,
            "sizes": self.sizes.iter().map(|s| json!({
                "rows": s.rows, "buildSecs": s.build_secs, "branchUs": s.branch_us,
                "diffUs": s.diff_us, "mergeUs": s.merge_us,
                "diffLoads": s.diff_loads, "mergeLoads": s.merge_loads,
                "chainCreateUs": s.chain.create_us, "chainAutoMergeUs": s.chain.auto_merge_us,
                "chainThreeWayMergeUs": s.chain.three_way_merge_us,
            })).collect::<Vec<_>>(),
            "ratios": { "branch": b, "diff": d, "merge": m },
        })
    }
}

const TABLE: &str = "bench.accounts";

fn key(i: u64) -> Vec<u8> {
    encode_key(&[Value::Int(i as i64)])
}

fn row(i: u64, balance: i64) -> Vec<u8> {
    encode_row(&[Value::Int(i as i64), Value::Text(format!("account-{i}")), Value::Int(balance)])
}

/// A failed check of the run: an error, never a figure.
fn check(ok: bool, why: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(CliError::Bench { reason: why() })
    }
}

/// A store failure as the bench's error.
fn store(e: aergo_store::StoreError) -> CliError {
    CliError::Bench { reason: format!("store: {e}") }
}

fn median_us(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A state where `changes` rows of `base`, from `offset` on and evenly
/// spread, have a new balance; committed so reads come from the store.
fn changed(db: &Store, base: aergo_store::Hash, rows: u64, changes: u64, offset: u64) -> Result<aergo_store::Hash> {
    let mut o = Overlay::new(db, base);
    let step = (rows / changes).max(2);
    for c in 0..changes {
        let i = (c * step + offset) % rows;
        o.put(TABLE, key(i), row(i, -1)).map_err(store)?;
    }
    let root = o.flush().map_err(store)?;
    db.commit(&[], &[root]).map_err(store)?;
    Ok(root)
}

/// Runs the benchmark; `progress` gets a line per step.
pub fn bench_branch(o: &BranchBenchOptions, progress: &mut dyn FnMut(String)) -> Result<BranchBenchReport> {
    check(o.changes > 0 && o.repeats > 0 && !o.sizes.is_empty(), || "nothing to measure".into())?;
    let mut sizes = Vec::new();
    for &rows in &o.sizes {
        check(rows >= 4 * o.changes, || format!("{rows} rows are too few for {} changes per side", o.changes))?;
        let dir = tempfile::tempdir().map_err(|e| CliError::Bench { reason: format!("temporary directory: {e}") })?;
        let db = Store::open(dir.path().join("state.redb")).map_err(store)?;
        let started = Instant::now();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..rows).map(|i| (key(i), row(i, 1_000))).collect();
        let base = build_state(&db, &[(TABLE, TableMeta { schema: b"bench".to_vec() }, entries)]).map_err(store)?;
        db.commit(&[RefUpdate { name: "main".into(), target: Some(base) }], &[]).map_err(store)?;
        let build_secs = started.elapsed().as_secs_f64();
        progress(format!("{rows} rows built and committed in {build_secs:.1} s"));

        let ours = changed(&db, base, rows, o.changes, 0)?;
        // Every step starts one key later: the other side's rows differ.
        let theirs = changed(&db, base, rows, o.changes, 1)?;

        let (mut branch, mut diff, mut merge) = (Vec::new(), Vec::new(), Vec::new());
        let (mut diff_loads, mut merge_loads) = (0, 0);
        for r in 0..o.repeats {
            let name = format!("feature-{r}");
            let t = Instant::now();
            let at = db.branch("main", &name).map_err(store)?;
            branch.push(t.elapsed().as_secs_f64() * 1e6);
            check(at == base, || format!("the branch points at {at}, expected {base}"))?;

            let (t, loads) = (Instant::now(), db.load_count());
            let d = db.diff_state(base, ours, None, usize::MAX).map_err(store)?;
            diff.push(t.elapsed().as_secs_f64() * 1e6);
            diff_loads = db.load_count() - loads;
            let n: usize = d.tables.iter().map(|t| t.rows.len()).sum();
            check(n as u64 == o.changes, || format!("the diff found {n} changed rows, expected {}", o.changes))?;

            let (t, loads) = (Instant::now(), db.load_count());
            let m = db.merge3_state(base, ours, theirs, |_| false, |_, _| Ok(Resolution::Unresolved)).map_err(store)?;
            merge.push(t.elapsed().as_secs_f64() * 1e6);
            merge_loads = db.load_count() - loads;
            check(m.is_clean(), || "a merge of disjoint changes reported conflicts".into())?;
            if r == 0 {
                let both = db.diff_state(base, m.root, None, usize::MAX).map_err(store)?;
                let n: usize = both.tables.iter().map(|t| t.rows.len()).sum();
                check(n as u64 == 2 * o.changes, || {
                    format!("the merge holds {n} changes, expected {}", 2 * o.changes)
                })?;
                let snap = aergo_store::Snapshot::open(&db, m.root);
                check(snap.get(TABLE, &key(0)).map_err(store)? == Some(row(0, -1)), || {
                    "our change is missing from the merge".into()
                })?;
                check(snap.get(TABLE, &key(1)).map_err(store)? == Some(row(1, -1)), || {
                    "their change is missing from the merge".into()
                })?;
            }
        }
        let chain_db = Store::open(dir.path().join("chain.redb")).map_err(store)?;
        let chain = crate::branch_chain::chain_figures(&chain_db, rows, o.changes, o.repeats)?;
        progress(format!(
            "{rows} rows, the chain: create a branch {:.0} us, merge {} transfers by replay {:.0} us, three-way {:.0} us",
            chain.create_us, o.changes, chain.auto_merge_us, chain.three_way_merge_us
        ));
        let f = SizeFigures {
            chain,
            rows,
            build_secs,
            branch_us: median_us(branch),
            diff_us: median_us(diff),
            merge_us: median_us(merge),
            diff_loads,
            merge_loads,
        };
        progress(format!(
            "{rows} rows: branch {:.0} us, diff of {} changes {:.0} us, merge of {} + {} {:.0} us",
            f.branch_us, o.changes, f.diff_us, o.changes, o.changes, f.merge_us
        ));
        sizes.push(f);
    }
    Ok(BranchBenchReport { changes: o.changes, sizes })
}
