//! The node's Prometheus metrics, served at `GET /metrics` on the JSON-RPC
//! port in the OpenMetrics text format, through `prometheus-client` (the
//! Prometheus project's Rust client).
//!
//! | metric | type | what |
//! |---|---|---|
//! | `aergo_build_info{version}` | info | the running build |
//! | `aergo_height`, `aergo_lib_height` | gauge | head and last irreversible block |
//! | `aergo_peers`, `aergo_sync_target_height`, `aergo_syncing` | gauge | the network and sync progress |
//! | `aergo_mempool_txs`, `aergo_mempool_bytes` | gauge | the pool |
//! | `aergo_block_interval_seconds`, `aergo_tps` | gauge | means over the latest 64 blocks |
//! | `aergo_blocks_total`, `aergo_txs_total` | counter | blocks and transactions this process adopted |
//! | `aergo_block_time_seconds` | histogram | time between consecutive adopted blocks (their timestamps) |
//! | `aergo_finality_seconds` | histogram | from a block's timestamp to its becoming the LIB, as this node saw it |
//! | `aergo_rpc_request_duration_seconds{method}` | histogram | JSON-RPC calls by method (`unknown` for names that are not methods, so clients cannot grow the label set) |
//! | `aergo_pool_admissions_total{outcome}` | counter | transactions submitted through the API: `accepted`, or the rejection reason code |
//! | `aergo_fs_replication_total{outcome}` | counter | AergoFS files fetched from peers: `fetched`, `failed` (no peer asked had it), `healed` (a damaged copy replaced) |
//! | `aergo_preconfirmations_total{outcome}` | counter | pre-confirmations asked for (`sendTx` with `wait: "preconfirmed"`): `signed`, or `queued` (admitted, not promised) |
//! | `aergo_p2p_gossip_bytes_total{direction,topic}` | counter | gossip payload bytes in and out per topic (`txs`, `blocks`, `consensus`) |
//! | `aergo_exec_txs_total{path}` | counter | transactions of blocks built or imported, by the parallel executor's path: `speculated` (run on a worker), `committed` (its speculative result taken), `rerun` (run again in order), `ordered` (run in order from the start); 0 with `exec_threads = 1` |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, `process_start_time_seconds` | counter, gauge | the process, from `/proc/self` (Linux) |
//!
//! Gauges are set when scraped (from the node's state); counters and
//! histograms as things happen. Every label set is bounded: methods and
//! reasons are closed lists, topics and directions fixed.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GossipLabels {
    direction: &'static str,
    topic: &'static str,
}

/// Gossip bytes per topic, in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopicBytes {
    pub txs: u64,
    pub blocks: u64,
    pub consensus: u64,
}

/// The node's current figures, set into the gauges at each scrape.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub height: u64,
    pub lib_height: u64,
    pub peers: usize,
    pub sync_target: u64,
    pub syncing: bool,
    pub pool_txs: usize,
    pub pool_bytes: usize,
    pub block_interval_seconds: f64,
    pub tps: f64,
    /// The parallel executor's totals since the process started.
    pub exec: aergo_exec::ParallelStats,
}

/// The parallel executor's paths, in the order of their figures.
const EXEC_PATHS: [&str; 4] = ["speculated", "committed", "rerun", "ordered"];

fn histogram_seconds() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    height: Gauge,
    lib_height: Gauge,
    peers: Gauge,
    sync_target: Gauge,
    syncing: Gauge,
    pool_txs: Gauge,
    pool_bytes: Gauge,
    block_interval: Gauge<f64, AtomicU64>,
    tps: Gauge<f64, AtomicU64>,
    blocks: Counter,
    txs: Counter,
    block_time: Histogram,
    finality: Histogram,
    rpc: Family<MethodLabels, Histogram, fn() -> Histogram>,
    admissions: Family<OutcomeLabels, Counter>,
    preconfs: Family<OutcomeLabels, Counter>,
    fs_replication: Family<OutcomeLabels, Counter>,
    gossip: Family<GossipLabels, Counter>,
    /// The network's cumulative totals at the last update, to add deltas.
    gossip_seen: Mutex<(TopicBytes, TopicBytes)>,
    exec: Family<PathLabels, Counter>,
    /// The executor's totals at the last scrape, to add deltas.
    exec_seen: Mutex<aergo_exec::ParallelStats>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let info = Info::new(vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]);
        registry.register("aergo_build", "The running build.", info);
        let m = Metrics {
            height: Gauge::default(),
            lib_height: Gauge::default(),
            peers: Gauge::default(),
            sync_target: Gauge::default(),
            syncing: Gauge::default(),
            pool_txs: Gauge::default(),
            pool_bytes: Gauge::default(),
            block_interval: Gauge::default(),
            tps: Gauge::default(),
            blocks: Counter::default(),
            txs: Counter::default(),
            block_time: histogram_seconds(),
            finality: histogram_seconds(),
            rpc: Family::new_with_constructor(histogram_seconds),
            admissions: Family::default(),
            preconfs: Family::default(),
            fs_replication: Family::default(),
            gossip: Family::default(),
            gossip_seen: Mutex::new(Default::default()),
            exec: Family::default(),
            exec_seen: Mutex::new(Default::default()),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("aergo_height", "Height of the head block.", m.height.clone());
        r.register("aergo_lib_height", "Height of the last irreversible block.", m.lib_height.clone());
        r.register("aergo_peers", "Connected peers.", m.peers.clone());
        r.register("aergo_sync_target_height", "Best head height seen among peers.", m.sync_target.clone());
        r.register("aergo_syncing", "1 while fetching blocks from a peer that is ahead.", m.syncing.clone());
        r.register("aergo_mempool_txs", "Transactions in the pool.", m.pool_txs.clone());
        r.register("aergo_mempool_bytes", "Bytes of transactions in the pool.", m.pool_bytes.clone());
        r.register("aergo_block_interval_seconds", "Mean time between recent blocks.", m.block_interval.clone());
        r.register("aergo_tps", "Transactions per second over recent blocks.", m.tps.clone());
        r.register("aergo_blocks", "Blocks adopted by this process.", m.blocks.clone());
        r.register("aergo_txs", "Transactions adopted by this process.", m.txs.clone());
        r.register("aergo_block_time_seconds", "Time between consecutive blocks.", m.block_time.clone());
        r.register("aergo_finality_seconds", "From a block's timestamp to its finality.", m.finality.clone());
        r.register("aergo_rpc_request_duration_seconds", "JSON-RPC calls by method.", m.rpc.clone());
        r.register("aergo_pool_admissions", "Transactions submitted, by outcome.", m.admissions.clone());
        r.register(
            "aergo_preconfirmations",
            "Pre-confirmations asked for: signed, or queued (admitted, not promised).",
            m.preconfs.clone(),
        );
        r.register("aergo_fs_replication", "AergoFS files fetched from peers, by outcome.", m.fs_replication.clone());
        r.register("aergo_p2p_gossip_bytes", "Gossip payload bytes by direction and topic.", m.gossip.clone());
        r.register("aergo_exec_txs", "Transactions by the parallel executor's path.", m.exec.clone());
        r.register_collector(Box::new(ProcessCollector));
        // Series that exist from the start, so `rate()` sees them begin at
        // zero rather than appear mid-way.
        for direction in ["in", "out"] {
            for topic in ["txs", "blocks", "consensus"] {
                drop(m.gossip.get_or_create(&GossipLabels { direction, topic }));
            }
        }
        drop(m.admissions.get_or_create(&OutcomeLabels { outcome: "accepted".to_string() }));
        for path in EXEC_PATHS {
            drop(m.exec.get_or_create(&PathLabels { path }));
        }
        Metrics { registry, ..m }
    }

    /// A block was adopted: `interval_ms` after the previous one (none for
    /// the first this process saw).
    pub fn block(&self, txs: usize, interval_ms: Option<u64>) {
        self.blocks.inc();
        self.txs.inc_by(txs as u64);
        if let Some(ms) = interval_ms {
            self.block_time.observe(ms as f64 / 1e3);
        }
    }

    /// A block became irreversible `age` after its timestamp.
    pub fn finalized(&self, age: Duration) {
        self.finality.observe(age.as_secs_f64());
    }

    /// A JSON-RPC call to `method` (a known method name, or `unknown`).
    pub fn rpc_call(&self, method: &'static str, took: Duration) {
        self.rpc.get_or_create(&MethodLabels { method: method.to_string() }).observe(took.as_secs_f64());
    }

    /// A pre-confirmation asked for: `signed`, or `queued` (admitted, not
    /// promised).
    pub fn preconfirmation(&self, outcome: &'static str) {
        self.preconfs.get_or_create(&OutcomeLabels { outcome: outcome.to_string() }).inc();
    }

    /// An AergoFS fetch from peers: `fetched`, `failed` or `healed` (a
    /// damaged copy replaced).
    pub fn fs_replication(&self, outcome: &'static str) {
        self.fs_replication.get_or_create(&OutcomeLabels { outcome: outcome.to_string() }).inc();
    }

    /// A submitted transaction's outcome: `accepted` or a reason code.
    pub fn admission(&self, outcome: &'static str) {
        self.admissions.get_or_create(&OutcomeLabels { outcome: outcome.to_string() }).inc();
    }

    /// The network's cumulative gossip bytes (in, out).
    pub fn gossip_totals(&self, bytes_in: TopicBytes, bytes_out: TopicBytes) {
        let mut seen = self.gossip_seen.lock().unwrap_or_else(|e| e.into_inner());
        let (last_in, last_out) = *seen;
        for (direction, now, last) in [("in", bytes_in, last_in), ("out", bytes_out, last_out)] {
            for (topic, n, l) in [
                ("txs", now.txs, last.txs),
                ("blocks", now.blocks, last.blocks),
                ("consensus", now.consensus, last.consensus),
            ] {
                // A restarted network counts from zero again: take its
                // total as the delta then.
                let delta = if n >= l { n - l } else { n };
                self.gossip.get_or_create(&GossipLabels { direction, topic }).inc_by(delta);
            }
        }
        *seen = (bytes_in, bytes_out);
    }

    /// Adds what the executor did since the last scrape.
    fn exec_totals(&self, now: &aergo_exec::ParallelStats) {
        let mut seen = self.exec_seen.lock().unwrap_or_else(|e| e.into_inner());
        let figures = |s: &aergo_exec::ParallelStats| [s.speculated, s.committed, s.rerun, s.ordered];
        for ((path, n), l) in EXEC_PATHS.into_iter().zip(figures(now)).zip(figures(&seen)) {
            self.exec.get_or_create(&PathLabels { path }).inc_by(n.saturating_sub(l) as u64);
        }
        *seen = *now;
    }

    /// The exposition, with the gauges set from `now`.
    pub fn encode(&self, now: &Snapshot) -> String {
        self.exec_totals(&now.exec);
        let set = |g: &Gauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        set(&self.height, now.height);
        set(&self.lib_height, now.lib_height);
        set(&self.peers, now.peers as u64);
        set(&self.sync_target, now.sync_target);
        set(&self.syncing, u64::from(now.syncing));
        set(&self.pool_txs, now.pool_txs as u64);
        set(&self.pool_bytes, now.pool_bytes as u64);
        self.block_interval.set(now.block_interval_seconds);
        self.tps.set(now.tps);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(%e, "encoding the metrics failed");
        }
        out
    }
}

/// `process_*` metrics from `/proc/self`, read at each scrape (Linux; none
/// elsewhere).
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(p) = process_figures() else { return Ok(()) };
        let cpu = ConstCounter::new(p.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time.",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, value) in [
            ("process_resident_memory_bytes", "Resident memory.", p.rss_bytes),
            ("process_open_fds", "Open file descriptors.", p.open_fds),
            ("process_start_time_seconds", "Start time, seconds since the Unix epoch.", p.start_time_seconds),
        ] {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

struct ProcessFigures {
    cpu_seconds: f64,
    rss_bytes: f64,
    open_fds: f64,
    start_time_seconds: f64,
}

/// Clock ticks per second as Linux reports them to user space on every
/// architecture (`USER_HZ`; `sysconf` would need `unsafe` or a crate).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn process_figures() -> Option<ProcessFigures> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces and parens).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat (here 11 and 12),
    // starttime 22 (19).
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    let cpu_seconds = (num(11)? + num(12)?) / CLOCK_TICKS_PER_SECOND;
    // Resident memory in bytes from `status` (the page size varies).
    let rss_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<f64>().ok())?
        * 1024.0;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok()))?;
    let start_time_seconds = boot + num(19)? / CLOCK_TICKS_PER_SECOND;
    let open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as f64).unwrap_or(0.0);
    Some(ProcessFigures { cpu_seconds, rss_bytes, open_fds, start_time_seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric() {
        let m = Metrics::new();
        m.block(3, Some(1_000));
        m.block(0, None);
        m.finalized(Duration::from_millis(2_500));
        m.rpc_call("status", Duration::from_millis(2));
        m.admission("accepted");
        m.admission("NONCE_TOO_LOW");
        let bytes = TopicBytes { txs: 10, blocks: 20, consensus: 30 };
        m.gossip_totals(bytes, TopicBytes::default());
        m.gossip_totals(TopicBytes { txs: 15, ..bytes }, TopicBytes::default());
        let exec =
            aergo_exec::ParallelStats { speculated: 9, committed: 8, rerun: 1, ordered: 2, ..Default::default() };
        m.encode(&Snapshot { exec, ..Snapshot::default() });
        let exec = aergo_exec::ParallelStats { speculated: 12, committed: 10, ..exec };
        let text = m.encode(&Snapshot { height: 7, lib_height: 5, tps: 1.5, exec, ..Snapshot::default() });
        for line in [
            "aergo_exec_txs_total{path=\"speculated\"} 12",
            "aergo_exec_txs_total{path=\"committed\"} 10",
            "aergo_exec_txs_total{path=\"rerun\"} 1",
            "aergo_exec_txs_total{path=\"ordered\"} 2",
            "aergo_height 7",
            "aergo_lib_height 5",
            "aergo_tps 1.5",
            "aergo_blocks_total 2",
            "aergo_txs_total 3",
            "aergo_block_time_seconds_count 1",
            "aergo_finality_seconds_sum 2.5",
            "aergo_rpc_request_duration_seconds_count{method=\"status\"} 1",
            "aergo_pool_admissions_total{outcome=\"NONCE_TOO_LOW\"} 1",
            "aergo_p2p_gossip_bytes_total{direction=\"in\",topic=\"txs\"} 15",
            "aergo_build_info{version=",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
