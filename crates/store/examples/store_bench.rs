//! Storage engine benchmark. Run:
//!
//! ```text
//! cargo run --release -p aergo-store --example store_bench            # 1M and 10M entries
//! cargo run --release -p aergo-store --example store_bench -- --quick # 100k and 1M entries
//! ```
//!
//! Every figure is measured next to a reference in the same run and ends in
//! `BENCH <name> key=value ...` lines:
//!
//! * `store_update`: 100k random row updates applied as one batch to a
//!   merkleized tree (apply alone, and apply + durable commit to redb), next to
//!   the same updates as plain inserts into a redb table holding the same
//!   rows (one transaction, same durability) and into an in-memory BTreeMap.
//! * `store_read`: random point reads at the head and on a snapshot 1,000
//!   commits old (ratio snapshot / head).
//! * `store_branch`: time to create a branch (a durable ref write) at each
//!   size (ratio largest / smallest).
//! * `store_diff`: time and node loads to diff 1,000 changes at each size
//!   (ratio largest / smallest).

use std::collections::BTreeMap;
use std::time::Instant;

use aergo_store::{Edit, Hash, RefUpdate, Store, StoreConfig};
use redb::TableDefinition;

const PLAIN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("plain");
const REFS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("refs");
const CACHE_BYTES: usize = 512 << 20;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// Row `i`'s key: a scattered 8-byte id, like a hashed account id.
fn key(i: u64) -> [u8; 8] {
    mix(i).to_be_bytes()
}

/// A 40-byte row value for version `v`.
fn value(i: u64, v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(&mix(i ^ v).to_le_bytes());
    out.extend_from_slice(&[v as u8; 32]);
    out
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

struct SizeResult {
    size: u64,
    branch_us: f64,
    ref_commit_us: f64,
    nodes_written: u64,
    diff_ms: f64,
    diff_warm_ms: f64,
    diff_loads: u64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[u64] = if quick { &[100_000, 1_000_000] } else { &[1_000_000, 10_000_000] };
    let updates: u64 = 100_000;
    let versions: u64 = if quick { 200 } else { 1_000 };
    let dir = tempfile::tempdir().expect("temp dir");
    println!("store_bench: sizes {sizes:?}, {updates} updates per batch, snapshot {versions} versions old");
    let mut results = Vec::new();
    let mut bench_lines = Vec::new();

    for &n in sizes {
        println!("\n== {n} entries ==");
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|i| (key(i).to_vec(), value(i, 0))).collect();
        rows.sort_unstable();

        // Merkleized store.
        let config =
            StoreConfig { cache_bytes: CACHE_BYTES / 2, backend_cache_bytes: CACHE_BYTES / 2, flush_threads: 2 };
        let store = Store::open_with(dir.path().join(format!("merkle-{n}.redb")), config).expect("open store");
        let t = Instant::now();
        let root = store.build(&rows).expect("build");
        store.commit(&[RefUpdate { name: "main".into(), target: Some(root) }], &[]).expect("commit");
        println!("build + commit of {n} entries: {:.2}s", secs(t));

        // Plain redb table with the same rows.
        let plain = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(dir.path().join(format!("plain-{n}.redb")))
            .expect("open redb");
        let t = Instant::now();
        {
            let txn = plain.begin_write().expect("txn");
            {
                let mut table = txn.open_table(PLAIN).expect("table");
                for (k, v) in &rows {
                    table.insert(&k[..], &v[..]).expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        println!("plain redb load of {n} rows: {:.2}s", secs(t));

        let mut btree: BTreeMap<Vec<u8>, Vec<u8>> = rows.iter().cloned().collect();
        drop(rows);

        // 100k random updates of existing rows, sorted once for everyone.
        let mut upd: Vec<(Vec<u8>, Vec<u8>)> =
            (0..updates).map(|j| mix(j + 7 * n) % n).map(|i| (key(i).to_vec(), value(i, 1))).collect();
        upd.sort_unstable();
        upd.dedup_by(|a, b| a.0 == b.0);
        let edits: Vec<Edit> = upd.iter().map(|(k, v)| Edit::put(k.clone(), v.clone())).collect();
        let count = edits.len() as f64;

        let t = Instant::now();
        let root1 = store.apply(root, &edits).expect("apply");
        let apply_s = secs(t);
        let staged = store.staged_nodes();
        let t2 = Instant::now();
        store.commit(&[RefUpdate { name: "main".into(), target: Some(root1) }], &[]).expect("commit");
        let commit_s = secs(t2);
        let merkle_s = apply_s + commit_s;

        let t = Instant::now();
        {
            let txn = plain.begin_write().expect("txn");
            {
                let mut table = txn.open_table(PLAIN).expect("table");
                for (k, v) in &upd {
                    table.insert(&k[..], &v[..]).expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        let redb_s = secs(t);

        let t = Instant::now();
        for (k, v) in &upd {
            btree.insert(k.clone(), v.clone());
        }
        let btree_s = secs(t);

        let merkle_ups = count / merkle_s;
        let apply_ups = count / apply_s;
        let redb_ups = count / redb_s;
        let btree_ups = count / btree_s;
        println!(
            "updates: merkle apply {apply_ups:.0}/s ({staged} nodes), apply+commit {merkle_ups:.0}/s, plain redb {redb_ups:.0}/s, BTreeMap {btree_ups:.0}/s"
        );
        println!(
            "  merkle (apply+commit) / redb = {:.3}, apply-only / redb = {:.3}, merkle / BTreeMap = {:.4}",
            merkle_ups / redb_ups,
            apply_ups / redb_ups,
            merkle_ups / btree_ups
        );
        bench_lines.push(format!(
            "BENCH store_update size={n} updates={count} merkle_commit_ups={merkle_ups:.0} merkle_apply_ups={apply_ups:.0} redb_ups={redb_ups:.0} btree_ups={btree_ups:.0} ratio_vs_redb={:.3} apply_ratio_vs_redb={:.3} ratio_vs_btree={:.4}",
            merkle_ups / redb_ups,
            apply_ups / redb_ups,
            merkle_ups / btree_ups
        ));

        // Branch creation: a durable ref copy. Reference: the cost of the
        // smallest durable transaction on a plain redb file of the same size.
        let branches = 20;
        let nodes_before = store.backend_usage().expect("usage").0;
        let t = Instant::now();
        for b in 0..branches {
            store.branch("main", &format!("branch-{b}")).expect("branch");
        }
        let branch_us = secs(t) * 1e6 / branches as f64;
        let nodes_written = store.backend_usage().expect("usage").0 - nodes_before;
        let t = Instant::now();
        for b in 0..branches {
            let txn = plain.begin_write().expect("txn");
            {
                let mut table = txn.open_table(REFS).expect("table");
                table.insert(format!("branch-{b}").as_bytes(), &[0u8; 32][..]).expect("insert");
            }
            txn.commit().expect("commit");
        }
        let ref_commit_us = secs(t) * 1e6 / branches as f64;
        println!(
            "branch creation: {branch_us:.0} us, {nodes_written} nodes written; a one-row redb commit: {ref_commit_us:.0} us"
        );

        // Diff of 1,000 changes.
        let changes: Vec<Edit> = {
            let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for j in 0..1000u64 {
                let i = mix(j + 99 * n) % n;
                m.insert(key(i).to_vec(), value(i, 2));
            }
            m.into_iter().map(|(k, v)| Edit::put(k, v)).collect()
        };
        let changed = store.apply(root1, &changes).expect("apply");
        let loads0 = store.load_count();
        let t = Instant::now();
        let d = store.diff(root1, changed).expect("diff").count();
        let diff_ms = secs(t) * 1e3;
        let diff_loads = store.load_count() - loads0;
        assert_eq!(d, changes.len());
        let t = Instant::now();
        let d2 = store.diff(root1, changed).expect("diff").count();
        let diff_warm_ms = secs(t) * 1e3;
        assert_eq!(d2, d);
        println!(
            "diff of {} changes: {diff_ms:.2} ms cold, {diff_warm_ms:.2} ms warm, {diff_loads} node loads",
            changes.len()
        );
        store.discard_staged().expect("discard");

        // Snapshot reads: commit `versions` small versions, then read at the
        // head and at the root from `versions` commits ago.
        if n == *sizes.last().unwrap_or(&n) {
            let old = root1;
            let mut head = root1;
            let t = Instant::now();
            for v in 0..versions {
                let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
                for j in 0..10u64 {
                    let i = mix(v * 10 + j + 3) % n;
                    m.insert(key(i).to_vec(), value(i, v + 3));
                }
                let e: Vec<Edit> = m.into_iter().map(|(k, v)| Edit::put(k, v)).collect();
                head = store.apply(head, &e).expect("apply");
                store.commit(&[RefUpdate { name: "main".into(), target: Some(head) }], &[]).expect("commit");
            }
            println!("{versions} commits of 10 updates: {:.2}s", secs(t));
            let reads = 200_000u64;
            let probe = |root: Hash| {
                let t = Instant::now();
                let mut found = 0u64;
                for j in 0..reads {
                    let i = mix(j * 31 + 5) % n;
                    if store.get(root, &key(i)).expect("get").is_some() {
                        found += 1;
                    }
                }
                assert_eq!(found, reads);
                secs(t) * 1e9 / reads as f64
            };
            // Warm both, then alternate to be fair to caches.
            probe(head);
            probe(old);
            let head_ns = (probe(head) + probe(head)) / 2.0;
            let snap_ns = (probe(old) + probe(old)) / 2.0;
            println!(
                "point reads: head {head_ns:.0} ns, snapshot {versions} versions old {snap_ns:.0} ns, ratio {:.3}",
                snap_ns / head_ns
            );
            bench_lines.push(format!(
                "BENCH store_read size={n} versions_back={versions} head_ns={head_ns:.0} snapshot_ns={snap_ns:.0} ratio={:.3}",
                snap_ns / head_ns
            ));
            // Plain redb point reads as an outside reference.
            let txn = plain.begin_read().expect("txn");
            let table = txn.open_table(PLAIN).expect("table");
            let t = Instant::now();
            for j in 0..reads {
                let i = mix(j * 31 + 5) % n;
                let _ = table.get(&key(i)[..]).expect("get");
            }
            let redb_ns = secs(t) * 1e9 / reads as f64;
            println!("plain redb point read {redb_ns:.0} ns (head / redb = {:.2})", head_ns / redb_ns);
        }

        results.push(SizeResult {
            size: n,
            branch_us,
            ref_commit_us,
            nodes_written,
            diff_ms,
            diff_warm_ms,
            diff_loads,
        });
        drop(btree);
    }

    let (first, last) = (&results[0], &results[results.len() - 1]);
    bench_lines.push(format!(
        "BENCH store_branch small={} large={} small_us={:.0} large_us={:.0} small_vs_redb_commit={:.3} large_vs_redb_commit={:.3} nodes_written={} size_ratio={:.3}",
        first.size,
        last.size,
        first.branch_us,
        last.branch_us,
        first.branch_us / first.ref_commit_us,
        last.branch_us / last.ref_commit_us,
        first.nodes_written + last.nodes_written,
        last.branch_us / first.branch_us
    ));
    bench_lines.push(format!(
        "BENCH store_diff changes=1000 small={} large={} small_ms={:.2} large_ms={:.2} small_warm_ms={:.2} large_warm_ms={:.2} small_loads={} large_loads={} ratio={:.3} warm_ratio={:.3} loads_ratio={:.3}",
        first.size,
        last.size,
        first.diff_ms,
        last.diff_ms,
        first.diff_warm_ms,
        last.diff_warm_ms,
        first.diff_loads,
        last.diff_loads,
        last.diff_ms / first.diff_ms,
        last.diff_warm_ms / first.diff_warm_ms,
        last.diff_loads as f64 / first.diff_loads as f64
    ));
    println!();
    for l in bench_lines {
        println!("{l}");
    }
}
