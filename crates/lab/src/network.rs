//! `aergo bench network`: a DPoS network of real node processes on
//! loopback, measured from the outside as a user sees it.
//!
//! For each block interval asked for (default 1000 ms and 250 ms) a fresh
//! `aergo horde` network is created in a temporary folder: N producers
//! (default 4) and one extra follower, which is stopped at once and kept
//! for the sync measurement. Then, in order:
//!
//! 1. **Latency.** Transfers are sent one at a time at a steady rate
//!    (default 20/s), round-robin over the dev accounts and over the
//!    producers. A watcher polls node 0 every 10 ms: each new block's
//!    transaction hashes get the time the block was first seen, each LIB
//!    advance the time it was first seen for every height it covers. Time
//!    to inclusion = block seen − submit; time to finality = LIB past the
//!    block seen − submit. Median and p99 are reported. Node 0's view adds
//!    its gossip delay to blocks other producers built; that is what a
//!    client of node 0 waits for.
//! 2. **Throughput.** The dev accounts fund `--senders` fresh accounts (not
//!    timed); each signs `--txs-per-sender` transfers up front (not timed);
//!    one task per account keeps at most
//!    [`IN_FLIGHT_PER_SENDER`] of them pending (the pool's per-account
//!    slots bound this) and submits in batches to "its" producer. Timed from
//!    the first submission until the watcher has seen the last one in a
//!    block: sustained transactions per second. The reference in the same
//!    run is this machine's single-thread signature verification rate.
//! 3. **Sync.** The follower, which has seen nothing since genesis, is
//!    started; time from its start until its head reaches the head node 0
//!    had at that moment gives blocks per second (process start included).
//!
//! Every submission must be accepted and every transaction must be seen in
//! a block, or the run fails rather than print a figure. The network is
//! stopped and its folder removed at the end, also on failure.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aergo_crypto::{dev_key, measure_verify_rate, sign_tx, PrivateKey, DEV_ACCOUNT_LABEL};
use aergo_node::DEV_ACCOUNTS;
use aergo_types::{Amount, TxBody};
use serde_json::{json, Value};

use aergo_client::client::RpcClient;
use aergo_client::{CliError, Result};
use aergo_horde::{self as horde, HordeSpec, Manifest, UpRequest};

/// Pending transactions one sender keeps in the pool at most (the pool
/// allows 256 per account by default).
pub const IN_FLIGHT_PER_SENDER: usize = 200;
/// Transactions per submitted batch.
const BATCH: usize = 50;
/// How often the watcher polls node 0.
const WATCH_POLL_MS: u64 = 10;
/// Blocks the watcher reads back from the head in one poll at most.
const WATCH_MAX_WALK: usize = 10_000;
/// Consecutive failed polls after which the watcher gives up.
const WATCH_MAX_FAILURES: u32 = 100;
/// Most throughput senders (each is funded by a dev account, which holds
/// at most `IN_FLIGHT_PER_SENDER` pending funding transfers).
pub const MAX_SENDERS: u32 = DEV_ACCOUNTS * IN_FLIGHT_PER_SENDER as u32;
/// Most transactions one run may sign per sender.
pub const MAX_TXS_PER_SENDER: usize = 100_000;
/// Genesis time of bench networks: a fixed past time (the first slot is
/// then "now" for every producer; nothing depends on this value).
const BENCH_TIMESTAMP_NS: i64 = 1_700_000_000_000_000_000;

/// How a run is shaped.
#[derive(Clone, Debug)]
pub struct NetBenchOptions {
    pub nodes: u32,
    pub intervals_ms: Vec<u64>,
    /// Transfers sent one by one for the latency figures.
    pub latency_txs: usize,
    pub latency_rate_per_s: u32,
    /// Accounts sending in the throughput phase (funded by the dev
    /// accounts first, not timed).
    pub senders: u32,
    /// Transfers each of them sends.
    pub txs_per_sender: usize,
    pub base_port: u16,
    /// Give up on any phase after this long.
    pub timeout_ms: u64,
}

impl NetBenchOptions {
    pub fn full() -> NetBenchOptions {
        NetBenchOptions {
            nodes: 4,
            intervals_ms: vec![1000, 250],
            latency_txs: 200,
            latency_rate_per_s: 20,
            senders: 100,
            txs_per_sender: 400,
            base_port: 18_700,
            timeout_ms: 180_000,
        }
    }

    /// A short run (well under a minute per interval).
    pub fn quick() -> NetBenchOptions {
        NetBenchOptions { latency_txs: 60, senders: 40, txs_per_sender: 200, ..NetBenchOptions::full() }
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(CliError::Bench { reason });
        if self.intervals_ms.is_empty() {
            return bad("no block interval to measure".into());
        }
        if self.latency_txs == 0 || self.latency_rate_per_s == 0 {
            return bad("the latency phase needs at least one transaction and a rate above 0".into());
        }
        if self.senders == 0 || self.senders > MAX_SENDERS {
            return bad(format!("--senders {} is outside 1..={MAX_SENDERS}", self.senders));
        }
        if self.txs_per_sender == 0 || self.txs_per_sender > MAX_TXS_PER_SENDER {
            return bad(format!("--txs-per-sender {} is outside 1..={MAX_TXS_PER_SENDER}", self.txs_per_sender));
        }
        Ok(())
    }
}

/// Median and 99th percentile, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Percentiles {
    fn of(mut samples_ms: Vec<f64>) -> Percentiles {
        if samples_ms.is_empty() {
            return Percentiles::default();
        }
        samples_ms.sort_by(f64::total_cmp);
        let at = |q: f64| samples_ms[((samples_ms.len() - 1) as f64 * q).round() as usize];
        Percentiles { p50_ms: at(0.5), p99_ms: at(0.99) }
    }
}

/// What one interval measured.
#[derive(Clone, Debug)]
pub struct IntervalResult {
    pub interval_ms: u64,
    pub inclusion: Percentiles,
    pub finality: Percentiles,
    pub tps: f64,
    pub throughput_txs: usize,
    pub sync_blocks: u64,
    pub sync_blocks_per_s: f64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct NetBenchResult {
    pub nodes: u32,
    pub intervals: Vec<IntervalResult>,
    pub verify_per_sec: f64,
}

impl NetBenchResult {
    pub fn bench_lines(&self) -> String {
        let mut out = String::new();
        for r in &self.intervals {
            out.push_str(&format!(
                "BENCH network nodes={} interval_ms={} tps={:.0} tps_vs_verify={:.3} incl_p50_ms={:.0} \
                 incl_p99_ms={:.0} final_p50_ms={:.0} final_p99_ms={:.0} final_p99_vs_1s={:.2}\n",
                self.nodes,
                r.interval_ms,
                r.tps,
                r.tps / self.verify_per_sec.max(1e-9),
                r.inclusion.p50_ms,
                r.inclusion.p99_ms,
                r.finality.p50_ms,
                r.finality.p99_ms,
                r.finality.p99_ms / 1000.0,
            ));
            out.push_str(&format!(
                "BENCH network_sync interval_ms={} blocks={} blocks_per_s={:.1}\n",
                r.interval_ms, r.sync_blocks, r.sync_blocks_per_s
            ));
        }
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "nodes": self.nodes,
            "verifyPerSec": self.verify_per_sec,
            "intervals": self.intervals.iter().map(|r| json!({
                "intervalMs": r.interval_ms,
                "tps": r.tps,
                "throughputTxs": r.throughput_txs,
                "inclusionP50Ms": r.inclusion.p50_ms,
                "inclusionP99Ms": r.inclusion.p99_ms,
                "finalityP50Ms": r.finality.p50_ms,
                "finalityP99Ms": r.finality.p99_ms,
                "syncBlocks": r.sync_blocks,
                "syncBlocksPerSec": r.sync_blocks_per_s,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "{}-producer DPoS network on loopback (separate processes); signature verification {:.0}/s\n",
            self.nodes, self.verify_per_sec
        );
        out.push_str("interval  tx/s     inclusion p50/p99   finality p50/p99    sync\n");
        for r in &self.intervals {
            out.push_str(&format!(
                "{:>6} ms {:>7.0}  {:>6.0}/{:<6.0} ms    {:>6.0}/{:<6.0} ms   {} blocks at {:.0}/s\n",
                r.interval_ms,
                r.tps,
                r.inclusion.p50_ms,
                r.inclusion.p99_ms,
                r.finality.p50_ms,
                r.finality.p99_ms,
                r.sync_blocks,
                r.sync_blocks_per_s
            ));
        }
        out.push_str(&self.bench_lines());
        out
    }
}

/// What the watcher saw on node 0.
#[derive(Default)]
struct Seen {
    /// Tx hash (base58) -> height and time its block was first seen.
    included: HashMap<String, (u64, Instant)>,
    /// Height -> time the LIB was first seen at or above it.
    finalized: HashMap<u64, Instant>,
    head: u64,
    lib: u64,
}

struct Watcher {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Watcher {
    fn start(client: Arc<RpcClient>, from_height: u64) -> Watcher {
        let seen = Arc::new(Mutex::new(Seen { head: from_height, ..Seen::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (seen, stop) = (seen.clone(), stop.clone());
            async move {
                let mut known: std::collections::BTreeMap<u64, String> = std::collections::BTreeMap::new();
                let mut failures = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    // A busy node may miss an answer now and then; only a
                    // node that stops answering ends the run.
                    let status = match client.call("status", json!([])).await {
                        Ok(s) => {
                            failures = 0;
                            s
                        }
                        Err(e) => {
                            failures += 1;
                            if failures >= WATCH_MAX_FAILURES {
                                return Err(e);
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let now = Instant::now();
                    let head = status.get("height").and_then(Value::as_u64).unwrap_or(0);
                    let lib = status.get("lib").and_then(|l| l.get("height")).and_then(Value::as_u64).unwrap_or(0);
                    let head_hash = status.get("hash").and_then(Value::as_str).unwrap_or_default().to_string();
                    // Walk back from the head to the first block already
                    // known at its height: a head switch replaces blocks
                    // above the LIB, and their transactions must be seen
                    // in the blocks that replaced them.
                    let mut fresh: Vec<(u64, Vec<String>)> = Vec::new();
                    let mut cursor = (head, head_hash);
                    while cursor.0 > from_height
                        && known.get(&cursor.0) != Some(&cursor.1)
                        && fresh.len() < WATCH_MAX_WALK
                    {
                        let Ok(block) = client.call("getBlock", json!([cursor.1])).await else { break };
                        let txs: Vec<String> = block
                            .get("txs")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_string)).collect())
                            .unwrap_or_default();
                        let parent = block.get("prevHash").and_then(Value::as_str).unwrap_or_default().to_string();
                        known.insert(cursor.0, cursor.1.clone());
                        fresh.push((cursor.0, txs));
                        cursor = (cursor.0 - 1, parent);
                    }
                    known.retain(|&h, _| h <= head);
                    {
                        let mut s = lock(&seen)?;
                        for (height, txs) in fresh.into_iter().rev() {
                            for h in txs {
                                // First seen time; the height it ends up at.
                                s.included.entry(h).and_modify(|e| e.0 = height).or_insert((height, now));
                            }
                        }
                        s.head = head;
                    }
                    {
                        let mut s = lock(&seen)?;
                        for h in s.lib + 1..=lib {
                            s.finalized.entry(h).or_insert(now);
                        }
                        s.lib = s.lib.max(lib);
                    }
                    tokio::time::sleep(Duration::from_millis(WATCH_POLL_MS)).await;
                }
                Ok(())
            }
        });
        Watcher { seen, stop, task }
    }

    async fn finish(self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.map_err(|e| CliError::Task { what: "the block watcher", reason: e.to_string() })?
    }
}

fn lock(seen: &Mutex<Seen>) -> Result<std::sync::MutexGuard<'_, Seen>> {
    seen.lock().map_err(|_| CliError::Task { what: "the block watcher", reason: "a thread panicked".into() })
}

/// Runs the benchmark. `progress` gets one line per phase.
pub async fn bench_network(opts: &NetBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<NetBenchResult> {
    opts.check()?;
    let exe = std::env::current_exe().map_err(|source| CliError::Io {
        what: "finding the aergo binary to run the nodes with",
        path: "aergo".into(),
        source,
    })?;
    progress("measuring signature verification (1 s)...");
    let verify = tokio::task::spawn_blocking(|| measure_verify_rate(1_000))
        .await
        .map_err(|e| CliError::Task { what: "measuring verification", reason: e.to_string() })?;
    let mut intervals = Vec::new();
    for (run, &interval_ms) in opts.intervals_ms.iter().enumerate() {
        let tmp = tempfile::Builder::new().prefix("aergo-netbench-").tempdir().map_err(|source| CliError::Io {
            what: "creating a temporary directory in",
            path: std::env::temp_dir(),
            source,
        })?;
        let spec = HordeSpec {
            nodes: opts.nodes,
            candidates: 1,
            // Each run on ports of its own: the previous run's sockets may
            // linger for a moment after its processes are gone.
            base_port: run_base_port(opts.base_port, opts.nodes, run)?,
            block_interval_ms: interval_ms,
            // No election during the run: the set stays the genesis one.
            epoch_blocks: 100_000,
            ..HordeSpec::default()
        };
        let req = UpRequest {
            dir: tmp.path().join("net"),
            spec,
            spec_given: true,
            reset: false,
            exe: exe.clone(),
            timeout_ms: 60_000,
            timestamp_ns: BENCH_TIMESTAMP_NS,
        };
        progress(&format!("interval {interval_ms} ms: starting {} producers and a follower...", opts.nodes));
        let up = horde::up(&req).await?;
        let all: Vec<usize> = (0..up.manifest.nodes.len()).collect();
        let outcome = run_interval(&up.dir, &up.manifest, &exe, interval_ms, opts, progress).await;
        let _ = horde::stop(&up.dir, &up.manifest, &all, true).await;
        intervals.push(outcome?);
    }
    Ok(NetBenchResult { nodes: opts.nodes, intervals, verify_per_sec: verify.raw_per_sec })
}

async fn run_interval(
    dir: &Path,
    m: &Manifest,
    exe: &Path,
    interval_ms: u64,
    opts: &NetBenchOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<IntervalResult> {
    let producers = opts.nodes as usize;
    horde::stop(dir, m, &[producers], true).await?;
    let clients: Vec<Arc<RpcClient>> =
        m.nodes.iter().take(producers).map(|n| RpcClient::new(&n.rpc_url()).map(Arc::new)).collect::<Result<_>>()?;
    let node0 = clients[0].clone();

    progress("waiting for the LIB to advance...");
    wait_until(opts.timeout_ms, "the first irreversible block", || async {
        Ok(lib_of(&node0.call("status", json!([])).await?) >= 2)
    })
    .await?;
    let chain_hash = node0.status().await?.chain_id_hash;
    let keys: Vec<PrivateKey> = (0..DEV_ACCOUNTS).map(|i| dev_key(DEV_ACCOUNT_LABEL, i)).collect();
    let sink = dev_key("netbench-sink", 0).address();
    let mut nonces = Vec::with_capacity(keys.len());
    for k in &keys {
        nonces.push(node0.account(&k.address(), None).await?.nonce);
    }
    let start_height = node0.status().await?.height;
    let watcher = Watcher::start(node0.clone(), start_height);

    // 1. Latency.
    progress(&format!("latency: {} transfers at {}/s...", opts.latency_txs, opts.latency_rate_per_s));
    let gap = Duration::from_secs_f64(1.0 / f64::from(opts.latency_rate_per_s));
    let mut submitted: Vec<(String, Instant)> = Vec::with_capacity(opts.latency_txs);
    let mut next_at = Instant::now();
    for i in 0..opts.latency_txs {
        tokio::time::sleep_until(next_at.into()).await;
        next_at += gap;
        let s = i % keys.len();
        nonces[s] += 1;
        let body = TxBody::transfer(nonces[s], &keys[s].address(), &sink, Amount::ONE_GAER, &chain_hash);
        let tx = sign_tx(body, &keys[s]);
        let at = Instant::now();
        let hash = clients[i % producers].send_tx(&tx).await?;
        submitted.push((hash.to_string(), at));
    }
    let last_hash = submitted.last().map(|(h, _)| h.clone()).unwrap_or_default();
    wait_until(opts.timeout_ms, "the latency transfers to be final", || async {
        let s = lock(&watcher.seen)?;
        Ok(s.included.get(&last_hash).is_some_and(|(h, _)| s.lib >= *h))
    })
    .await?;
    let (inclusion, finality) = {
        let s = lock(&watcher.seen)?;
        let mut incl = Vec::new();
        let mut fin = Vec::new();
        for (hash, at) in &submitted {
            let Some((height, seen_at)) = s.included.get(hash) else {
                return Err(CliError::Bench { reason: format!("transfer {hash} was never seen in a block") });
            };
            incl.push(seen_at.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            let Some(fin_at) = s.finalized.get(height) else {
                return Err(CliError::Bench { reason: format!("block {height} was never seen final") });
            };
            fin.push(fin_at.saturating_duration_since(*at).as_secs_f64() * 1000.0);
        }
        (Percentiles::of(incl), Percentiles::of(fin))
    };

    // 2. Throughput.
    progress(&format!("throughput: funding {} sending accounts (not timed)...", opts.senders));
    let senders: Vec<PrivateKey> = (0..opts.senders).map(|i| dev_key("netbench-sender", i)).collect();
    let mut funding = Vec::with_capacity(senders.len());
    for (i, to) in senders.iter().enumerate() {
        let s = i % keys.len();
        nonces[s] += 1;
        let amount = Amount::from_aergo(100).map_err(|e| CliError::Bench { reason: e.to_string() })?;
        let tx = sign_tx(TxBody::transfer(nonces[s], &keys[s].address(), &to.address(), amount, &chain_hash), &keys[s]);
        funding.push(hex::encode(tx.encode()));
        if funding.len() == BATCH || i + 1 == senders.len() {
            let calls: Vec<(&str, Value)> = funding.iter().map(|hex| ("sendTx", json!([hex]))).collect();
            for outcome in node0.batch(&calls).await? {
                outcome?;
            }
            funding.clear();
        }
    }
    let addresses: Vec<String> = senders.iter().map(|k| k.address().to_string()).collect();
    wait_until(opts.timeout_ms, "the sending accounts to be funded", || async {
        for chunk in addresses.chunks(BATCH) {
            let calls: Vec<(&str, Value)> = chunk.iter().map(|a| ("getAccount", json!([a]))).collect();
            for outcome in node0.batch(&calls).await? {
                if outcome?.get("balance").and_then(Value::as_str).is_none_or(|b| b == "0") {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    })
    .await?;
    progress(&format!("throughput: signing {} transfers per account (not timed)...", opts.txs_per_sender));
    let per_sender: Vec<Vec<(String, String)>> = {
        let (keys, nonces, n, sink) = (senders.clone(), vec![0u64; senders.len()], opts.txs_per_sender, sink.clone());
        tokio::task::spawn_blocking(move || {
            keys.iter()
                .zip(nonces)
                .map(|(k, nonce)| {
                    let from = k.address();
                    (1..=n as u64)
                        .map(|j| {
                            let tx =
                                sign_tx(TxBody::transfer(nonce + j, &from, &sink, Amount::ONE_GAER, &chain_hash), k);
                            (tx.hash().unwrap_or_default().to_string(), hex::encode(tx.encode()))
                        })
                        .collect()
                })
                .collect()
        })
        .await
        .map_err(|e| CliError::Task { what: "signing", reason: e.to_string() })?
    };
    let total: usize = per_sender.iter().map(Vec::len).sum();
    let owner: Arc<HashMap<String, usize>> = Arc::new(
        per_sender.iter().enumerate().flat_map(|(s, txs)| txs.iter().map(move |(h, _)| (h.clone(), s))).collect(),
    );
    let hashes_by_sender: Vec<Vec<String>> =
        per_sender.iter().map(|txs| txs.iter().map(|(h, _)| h.clone()).collect()).collect();
    let included_per_sender: Arc<Vec<AtomicUsize>> =
        Arc::new((0..senders.len()).map(|_| AtomicUsize::new(0)).collect());
    progress(&format!("throughput: {total} transfers from {} accounts over {producers} nodes...", senders.len()));
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_millis(opts.timeout_ms);
    let mut tasks = Vec::new();
    for (s, txs) in per_sender.into_iter().enumerate() {
        let client = clients[s % producers].clone();
        let included = included_per_sender.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0usize;
            while sent < txs.len() {
                if Instant::now() > deadline {
                    return Err(CliError::Bench { reason: format!("sender {s} could not submit in time") });
                }
                let done = included[s].load(Ordering::Relaxed);
                if sent - done.min(sent) + BATCH > IN_FLIGHT_PER_SENDER {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let chunk = &txs[sent..(sent + BATCH).min(txs.len())];
                let calls: Vec<(&str, Value)> = chunk.iter().map(|(_, hex)| ("sendTx", json!([hex]))).collect();
                // The submitting node may lag the node the flow control
                // watches: a full account or a nonce too far ahead of its
                // head means "later", so resend from there after a pause.
                let mut accepted = chunk.len();
                for (j, outcome) in client.batch(&calls).await?.into_iter().enumerate() {
                    match outcome {
                        Ok(_) => {}
                        Err(e) if is_known(&e) => {}
                        Err(e) if is_backpressure(&e) => {
                            accepted = accepted.min(j);
                        }
                        Err(_) if accepted <= j => {}
                        Err(e) => {
                            return Err(CliError::Bench { reason: format!("sender {s} tx {} rejected: {e}", sent + j) })
                        }
                    }
                }
                sent += accepted;
                if accepted < chunk.len() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Ok(())
        }));
    }
    // Count inclusions per sender as the watcher sees them.
    let mut counted: usize = 0;
    let mut counted_hashes: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut last_included_at = t0;
    let mut next_report = t0 + Duration::from_secs(5);
    while counted < total {
        if watcher.task.is_finished() {
            return Err(watcher
                .finish()
                .await
                .err()
                .unwrap_or_else(|| CliError::Bench { reason: "the block watcher stopped".into() }));
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(5);
            let (head, lib) = lock(&watcher.seen).map(|s| (s.head, s.lib))?;
            progress(&format!("  {counted} of {total} included; node 0 head {head}, LIB {lib}"));
        }
        if Instant::now() > deadline {
            let stuck = stuck_report(&clients, &senders, &hashes_by_sender, &included_per_sender).await;
            return Err(CliError::Bench {
                reason: format!(
                    "only {counted} of {total} transfers were included after {} ms; {stuck}",
                    opts.timeout_ms
                ),
            });
        }
        if let Some(t) = tasks.iter().position(|t| t.is_finished()) {
            let t = tasks.swap_remove(t);
            t.await.map_err(|e| CliError::Task { what: "a submitting task", reason: e.to_string() })??;
        }
        {
            let s = lock(&watcher.seen)?;
            for (hash, (_, at)) in &s.included {
                if let Some(&sender) = owner.get(hash) {
                    if counted_hashes.insert(hash.clone()) {
                        included_per_sender[sender].fetch_add(1, Ordering::Relaxed);
                        counted += 1;
                        last_included_at = last_included_at.max(*at);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        t.await.map_err(|e| CliError::Task { what: "a submitting task", reason: e.to_string() })??;
    }
    let tps = total as f64 / last_included_at.duration_since(t0).as_secs_f64().max(1e-9);
    watcher.finish().await?;

    // 3. Sync.
    let target = node0.status().await?.height;
    progress(&format!("sync: starting the follower to catch up {target} blocks..."));
    let t_sync = Instant::now();
    horde::start(dir, m, &[producers], exe, 60_000).await?;
    let follower = RpcClient::new(&m.nodes[producers].rpc_url())?;
    wait_until(opts.timeout_ms, "the follower to sync", || async {
        Ok(follower.status().await.map(|s| s.height >= target).unwrap_or(false))
    })
    .await?;
    let sync_s = t_sync.elapsed().as_secs_f64();

    Ok(IntervalResult {
        interval_ms,
        inclusion,
        finality,
        tps,
        throughput_txs: total,
        sync_blocks: target,
        sync_blocks_per_s: target as f64 / sync_s.max(1e-9),
    })
}

/// Where the first sender whose transfers are not all in has its next
/// one: for a run that failed, so the report says which node lost what.
async fn stuck_report(
    clients: &[Arc<RpcClient>],
    senders: &[PrivateKey],
    hashes: &[Vec<String>],
    included: &[AtomicUsize],
) -> String {
    let Some(s) = (0..senders.len()).find(|&s| included[s].load(Ordering::Relaxed) < hashes[s].len()) else {
        return "no sender is missing a transfer".into();
    };
    let address = senders[s].address();
    let committed = match clients[0].account(&address, None).await {
        Ok(a) => a.nonce,
        Err(e) => return format!("sender {s}: getAccount failed: {e}"),
    };
    let Some(next) = usize::try_from(committed).ok().and_then(|n| hashes[s].get(n)) else {
        return format!("sender {s} has committed nonce {committed}, past its transfers");
    };
    let mut views = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let view = match c.call("getTx", json!([next])).await {
            Ok(v) => v.get("status").and_then(Value::as_str).unwrap_or("?").to_string(),
            Err(e) => format!("{e}"),
        };
        views.push(format!("node{i}: {view}"));
    }
    format!("sender {s} ({address}) is at nonce {committed}; its next transfer {next}: {}", views.join(", "))
}

/// A rejection that says the node is not ready for this transaction yet.
fn is_backpressure(e: &CliError) -> bool {
    let text = e.to_string();
    ["is too far ahead", "pending transactions, the limit", "the pool is full"].iter().any(|m| text.contains(m))
}

/// A rejection of a transaction the node already has or has included (a
/// resent one).
fn is_known(e: &CliError) -> bool {
    let text = e.to_string();
    text.contains("is already in the pool") || text.contains("was already used")
}

/// First port of run `run`: runs are laid side by side (two ports per node).
fn run_base_port(base: u16, nodes: u32, run: usize) -> Result<u16> {
    let span = 2 * (u64::from(nodes) + 1);
    let port = u64::from(base) + span * run as u64;
    u16::try_from(port)
        .map_err(|_| CliError::Bench { reason: format!("--base-port {base} leaves no ports for run {run}") })
}

fn lib_of(status: &Value) -> u64 {
    status.get("lib").and_then(|l| l.get("height")).and_then(Value::as_u64).unwrap_or(0)
}

/// Polls `done` every 10 ms until it says yes or `timeout_ms` passes.
async fn wait_until<F, Fut>(timeout_ms: u64, what: &str, mut done: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        if done().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CliError::Timeout { what: what.to_string(), timeout_ms });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!(p.p50_ms, 51.0);
        assert_eq!(p.p99_ms, 99.0);
        let one = Percentiles::of(vec![7.0]);
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
    }

    #[test]
    fn options_are_checked() {
        let mut o = NetBenchOptions::quick();
        assert!(o.check().is_ok());
        o.intervals_ms.clear();
        assert!(o.check().is_err());
        let o = NetBenchOptions { txs_per_sender: 0, ..NetBenchOptions::quick() };
        assert!(o.check().is_err());
    }
}
