//! `aergo bench fs`: AergoFS against the two usual ways to keep many small
//! files, in the same process on the same disk:
//!
//! - **files**: one file per blob, named by its hash, in 256 × 256
//!   fan-out directories (what a naive content store does);
//! - **sqlite**: one table `blobs(key BLOB PRIMARY KEY, data BLOB)` in
//!   SQLite (WAL, `synchronous=OFF`), inserts batched 1,000 per
//!   transaction.
//!
//! For each file size (1 KB and 64 KB): `count` writes, then `reads` random
//! reads (a seeded sequence, the same for all three). No system syncs each
//! write here (AergoFS with `sync = false`, files without `fsync`, SQLite
//! with `synchronous=OFF`): the figures compare the layouts, not the
//! disk's flush latency. Page caches are warm for all three alike.
//!
//! Also: AergoFS's memory per file (the resident memory the process grows
//! by while the store takes the files, less the bench's own key list, over
//! the file count: the index, plus allocator slack) and its disk reads
//! per file read (counted by the store: 1.0 means one positioned read).
//! Ratios are AergoFS over each reference (above 1: AergoFS is faster).

use std::path::Path;
use std::time::Instant;

use aergo_client::{CliError, Result};
use aergo_fs::{FsConfig, FsStore, Hash};
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct FsBenchOptions {
    /// (file size in bytes, files written) per round.
    pub rounds: Vec<(usize, u64)>,
    /// Random reads per round.
    pub reads: u64,
    /// (file size, files) moved between two stores over the network
    /// ([`crate::fs_replication`]).
    pub replication: Vec<(usize, u64)>,
}

impl FsBenchOptions {
    pub fn quick() -> Self {
        FsBenchOptions {
            rounds: vec![(1_024, 20_000), (65_536, 2_000)],
            reads: 20_000,
            replication: vec![(1_024, 2_000), (65_536, 500), (16 << 20, 4)],
        }
    }

    /// 1M files of 1 KB; 64 KB files at 100k (6.4 GB: 1M would be 64 GB).
    pub fn full() -> Self {
        FsBenchOptions {
            rounds: vec![(1_024, 1_000_000), (65_536, 100_000)],
            reads: 200_000,
            replication: vec![(1_024, 20_000), (65_536, 5_000), (64 << 20, 8)],
        }
    }
}

/// One system's figures in one round.
#[derive(Clone, Debug, Default)]
pub struct SystemFigures {
    pub writes_per_sec: f64,
    pub reads_per_sec: f64,
}

#[derive(Clone, Debug)]
pub struct RoundFigures {
    pub size: usize,
    pub count: u64,
    pub aergofs: SystemFigures,
    pub files: SystemFigures,
    pub sqlite: SystemFigures,
    pub memory_bytes_per_file: f64,
    pub disk_reads_per_read: f64,
}

fn err(reason: impl std::fmt::Display) -> CliError {
    CliError::Task { what: "bench fs", reason: reason.to_string() }
}

/// Deterministic contents: file `i` of a round.
pub fn content(i: u64, size: usize) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(size + 8);
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(size);
    v
}

/// The read order: a seeded walk over `count` files.
fn read_order(count: u64, reads: u64) -> Vec<u64> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..reads)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % count
        })
        .collect()
}

fn rss_bytes() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|kb| kb.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        * 1024.0
}

fn per_sec(n: u64, since: Instant) -> f64 {
    n as f64 / since.elapsed().as_secs_f64().max(1e-9)
}

fn bench_aergofs(dir: &Path, size: usize, count: u64, order: &[u64]) -> Result<(SystemFigures, f64, f64, Vec<Hash>)> {
    let cfg = FsConfig { sync: false, checkpoint_every: u64::MAX, ..FsConfig::default() };
    let mut keys = Vec::with_capacity(count as usize);
    // Memory: what the store grows by while it takes the files (its index;
    // each needle's buffer is freed after its write), over the count.
    let before = rss_bytes();
    let store = FsStore::open(dir, cfg.clone()).map_err(err)?;
    let t = Instant::now();
    for i in 0..count {
        keys.push(store.put("application/octet-stream", &content(i, size)).map_err(err)?.key);
    }
    let writes = per_sec(count, t);
    let keys_bytes = (keys.capacity() * std::mem::size_of::<Hash>()) as f64;
    let memory = (rss_bytes() - before - keys_bytes).max(0.0) / count as f64;
    store.checkpoint().map_err(err)?;
    drop(store);
    let store = FsStore::open(dir, cfg).map_err(err)?;
    let reads_before = store.stats().reads;
    let t = Instant::now();
    for &i in order {
        let f = store.get(&keys[i as usize]).map_err(err)?.ok_or_else(|| err("a file vanished"))?;
        assert_eq!(f.data.len(), size);
    }
    let reads = per_sec(order.len() as u64, t);
    let disk_reads = (store.stats().reads - reads_before) as f64 / order.len() as f64;
    Ok((SystemFigures { writes_per_sec: writes, reads_per_sec: reads }, memory, disk_reads, keys))
}

fn bench_files(dir: &Path, size: usize, keys: &[Hash], order: &[u64]) -> Result<SystemFigures> {
    let path_of = |k: &Hash| {
        let hex = k.to_hex();
        dir.join(&hex[..2]).join(&hex[2..4]).join(hex)
    };
    let t = Instant::now();
    for (i, k) in keys.iter().enumerate() {
        let p = path_of(k);
        if let Some(parent) = p.parent() {
            if !parent.exists() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
        }
        std::fs::write(&p, content(i as u64, size)).map_err(err)?;
    }
    let writes = per_sec(keys.len() as u64, t);
    let t = Instant::now();
    for &i in order {
        let d = std::fs::read(path_of(&keys[i as usize])).map_err(err)?;
        assert_eq!(d.len(), size);
    }
    Ok(SystemFigures { writes_per_sec: writes, reads_per_sec: per_sec(order.len() as u64, t) })
}

fn bench_sqlite(dir: &Path, size: usize, keys: &[Hash], order: &[u64]) -> Result<SystemFigures> {
    let conn = rusqlite::Connection::open(dir.join("blobs.db")).map_err(err)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; \
         CREATE TABLE blobs (key BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;",
    )
    .map_err(err)?;
    let t = Instant::now();
    for (chunk_no, chunk) in keys.chunks(1_000).enumerate() {
        let tx = conn.unchecked_transaction().map_err(err)?;
        {
            let mut st = tx.prepare_cached("INSERT INTO blobs (key, data) VALUES (?1, ?2)").map_err(err)?;
            for (j, k) in chunk.iter().enumerate() {
                let i = (chunk_no * 1_000 + j) as u64;
                st.execute(rusqlite::params![k.as_bytes().as_slice(), content(i, size)]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
    }
    let writes = per_sec(keys.len() as u64, t);
    let mut st = conn.prepare_cached("SELECT data FROM blobs WHERE key = ?1").map_err(err)?;
    let t = Instant::now();
    for &i in order {
        let d: Vec<u8> = st.query_row([keys[i as usize].as_bytes().as_slice()], |r| r.get(0)).map_err(err)?;
        assert_eq!(d.len(), size);
    }
    Ok(SystemFigures { writes_per_sec: writes, reads_per_sec: per_sec(order.len() as u64, t) })
}

pub fn bench_fs(o: &FsBenchOptions, progress: &mut dyn FnMut(String)) -> Result<Vec<RoundFigures>> {
    let mut out = Vec::new();
    for &(size, count) in &o.rounds {
        let tmp = tempfile::tempdir().map_err(err)?;
        let order = read_order(count, o.reads);
        progress(format!("{size}-byte files, {count} of them: AergoFS"));
        let (aergofs, memory, disk_reads, keys) = bench_aergofs(&tmp.path().join("aergofs"), size, count, &order)?;
        progress(format!("{size}-byte files: one file per blob"));
        let files = bench_files(&tmp.path().join("files"), size, &keys, &order)?;
        progress(format!("{size}-byte files: SQLite"));
        std::fs::create_dir_all(tmp.path().join("sqlite")).map_err(err)?;
        let sqlite = bench_sqlite(&tmp.path().join("sqlite"), size, &keys, &order)?;
        out.push(RoundFigures {
            size,
            count,
            aergofs,
            files,
            sqlite,
            memory_bytes_per_file: memory,
            disk_reads_per_read: disk_reads,
        });
    }
    Ok(out)
}

impl RoundFigures {
    pub fn bench_line(&self) -> String {
        let r = |a: f64, b: f64| a / b.max(1e-9);
        format!(
            "BENCH fs size={} files={} writes_per_sec={:.0} reads_per_sec={:.0} write_ratio_vs_files={:.2} \
             read_ratio_vs_files={:.2} write_ratio_vs_sqlite={:.2} read_ratio_vs_sqlite={:.2} \
             memory_bytes_per_file={:.0} disk_reads_per_read={:.2}",
            self.size,
            self.count,
            self.aergofs.writes_per_sec,
            self.aergofs.reads_per_sec,
            r(self.aergofs.writes_per_sec, self.files.writes_per_sec),
            r(self.aergofs.reads_per_sec, self.files.reads_per_sec),
            r(self.aergofs.writes_per_sec, self.sqlite.writes_per_sec),
            r(self.aergofs.reads_per_sec, self.sqlite.reads_per_sec),
            self.memory_bytes_per_file,
            self.disk_reads_per_read,
        )
    }

    pub fn json(&self) -> Value {
        let sys = |s: &SystemFigures| json!({ "writesPerSec": s.writes_per_sec, "readsPerSec": s.reads_per_sec });
        json!({
            "size": self.size,
            "files": self.count,
            "aergofs": sys(&self.aergofs),
            "onePerFile": sys(&self.files),
            "sqlite": sys(&self.sqlite),
            "memoryBytesPerFile": self.memory_bytes_per_file,
            "diskReadsPerRead": self.disk_reads_per_read,
            "bench": self.bench_line(),
        })
    }
}
