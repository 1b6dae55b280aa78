//! `aergo bench preconfirm`: how fast a producer's signed promise comes
//! back, next to how fast the block holding the transaction does, and
//! what promising costs in throughput.
//!
//! Method. Every phase starts a fresh bench chain (see
//! [`crate::transfer::bench_genesis`]) in this process on a loopback port,
//! with the same pre-signed transfers (not timed).
//!
//! 1. **Throughput**, four nodes: pre-confirmations off (`[producer]
//!    preconfirm = false`: transactions run when the block is sealed, the
//!    reference); on, every transaction applied to the open block at
//!    admission but no promise asked for; on, every transaction asking for
//!    its pre-confirmation 100 at a time (`sendTxs` with `wait:
//!    "preconfirmed"`, one HTTP request as the JSON-RPC batch of 100
//!    `sendTx` of the other runs: one durable write, then a signature
//!    each); and on, one `sendTx` with `wait: "preconfirmed"` each (a write
//!    per call at most 4 calls share). Each is the transfer benchmark's
//!    drive: batches over several connections until the block holding the
//!    last transaction is announced.
//! 2. **Latency** under a load of half the one-`sendTx`-each promised
//!    throughput (the pattern it uses): one
//!    transaction at a time on a fixed schedule (open loop: a slow answer
//!    does not slow the schedule), each `sendTx` asking for its
//!    pre-confirmation. Its latency is from the scheduled send to the
//!    signed answer (HTTP on loopback, verification, admission, execution,
//!    the log write, the signature). The same transactions' inclusion
//!    latency is from the same instant to the announcement of their block
//!    on the WebSocket `blocks` topic. Every answer must carry a
//!    pre-confirmation for its transaction (a few may be queued when two of
//!    one sender's transactions overtake each other; they are counted), and
//!    every transaction must be included.
//!
//! 3. **Through a follower**: the latency run again, at a quarter of that
//!    load (a forwarded request holds one of the follower's request slots
//!    for the round trip to the producer, so a follower sustains less),
//!    sent to a follower of the producer (a second node on loopback, the
//!    chain's genesis naming the producer as its only `bps`), which admits
//!    each transaction, forwards it to the producer over the network and
//!    relays the checked promise.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aergo_crypto::{dev_key, sign_tx};
use aergo_node::{init_data_dir, InitOptions, NodeConfig};
use aergo_types::{Amount, Genesis, TxBody};
use serde_json::{json, Value};

use aergo_client::client::{BlockSubscription, RpcClient};
use aergo_client::{CliError, Result};

use crate::transfer::{bench_genesis, drive, prepare_transfers, Batch, BenchOptions};

/// Calls per batch of the throughput runs (the server's default limit).
const BATCH_CALLS: usize = 100;
/// Most transactions of the latency phase.
pub const MAX_LATENCY_TXS: usize = 100_000;

/// How a run is shaped.
#[derive(Clone, Debug)]
pub struct PreconfBenchOptions {
    /// Transfers of each throughput run.
    pub txs: usize,
    /// Transfers of the latency run.
    pub latency_txs: usize,
    /// Bench accounts (the latency run spreads its transactions over them
    /// so that one sender's transactions are far apart).
    pub senders: u32,
    pub block_interval_ms: u64,
    /// Load of the latency run, in percent of the promised throughput.
    pub load_percent: u32,
    pub timeout_ms: u64,
}

impl PreconfBenchOptions {
    pub fn full() -> PreconfBenchOptions {
        PreconfBenchOptions {
            txs: 20_000,
            latency_txs: 5_000,
            senders: 200,
            block_interval_ms: 100,
            load_percent: 50,
            timeout_ms: 300_000,
        }
    }

    /// A short run (seconds) for smoke tests.
    pub fn quick() -> PreconfBenchOptions {
        PreconfBenchOptions { txs: 4_000, latency_txs: 1_000, timeout_ms: 120_000, ..Self::full() }
    }

    fn transfer_options(&self) -> BenchOptions {
        BenchOptions {
            txs: self.txs,
            senders: self.senders,
            block_interval_ms: self.block_interval_ms,
            timeout_ms: self.timeout_ms,
            ..BenchOptions::full()
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(CliError::Bench { reason });
        if self.txs == 0 || self.txs > crate::transfer::MAX_BENCH_TXS {
            return bad(format!("--txs {} is outside 1..={}", self.txs, crate::transfer::MAX_BENCH_TXS));
        }
        if self.latency_txs == 0 || self.latency_txs > MAX_LATENCY_TXS {
            return bad(format!("--latency-txs {} is outside 1..={MAX_LATENCY_TXS}", self.latency_txs));
        }
        if self.senders == 0 || self.senders > crate::transfer::MAX_BENCH_SENDERS {
            return bad(format!("--senders {} is outside 1..={}", self.senders, crate::transfer::MAX_BENCH_SENDERS));
        }
        let per_sender = self.txs.max(self.latency_txs).div_ceil(self.senders as usize);
        if per_sender > 200 {
            return bad(format!("{per_sender} transactions per sender; use more --senders (at most 200 each)"));
        }
        if !(1..=100).contains(&self.load_percent) {
            return bad(format!("--load-percent {} is outside 1..=100", self.load_percent));
        }
        Ok(())
    }
}

/// Latency figures, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn latency(mut ms: Vec<f64>) -> Latency {
    if ms.is_empty() {
        return Latency::default();
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Latency { p50_ms: at(0.50), p99_ms: at(0.99), max_ms: ms[ms.len() - 1] }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct PreconfBenchResult {
    pub txs: usize,
    /// Throughput, transfers per second, submit to block.
    pub tps_off: f64,
    pub tps_exec: f64,
    /// Every transaction promised, 100 per `sendTxs` call.
    pub tps_on: f64,
    /// Every transaction promised, one `sendTx` call each (in JSON-RPC
    /// batches of 100): the pattern of the latency run.
    pub tps_on_single: f64,
    /// The latency run.
    pub load_tps: f64,
    pub latency_txs: usize,
    pub preconfirmed: usize,
    pub queued: usize,
    pub producer: Latency,
    pub inclusion: Latency,
    /// The latency run through a follower, at `follower_load_tps`.
    pub follower: Latency,
    pub follower_load_tps: f64,
    pub follower_queued: usize,
}

impl PreconfBenchResult {
    pub fn bench_line(&self) -> String {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        format!(
            "BENCH preconfirm producer_p50_ms={:.2} producer_p99_ms={:.2} follower_p50_ms={:.2} follower_p99_ms={:.2} \
             include_p50_ms={:.1} include_p99_ms={:.1} speedup_p50={:.1} tps_off={:.0} tps_exec={:.0} tps_on={:.0} \
             tps_ratio={:.3} tps_on_single={:.0} load_tps={:.0} follower_load_tps={:.0} txs={} latency_txs={} queued={} \
             follower_queued={}",
            self.producer.p50_ms,
            self.producer.p99_ms,
            self.follower.p50_ms,
            self.follower.p99_ms,
            self.inclusion.p50_ms,
            self.inclusion.p99_ms,
            r(self.inclusion.p50_ms, self.producer.p50_ms),
            self.tps_off,
            self.tps_exec,
            self.tps_on,
            r(self.tps_on, self.tps_off),
            self.tps_on_single,
            self.load_tps,
            self.follower_load_tps,
            self.txs,
            self.latency_txs,
            self.queued,
            self.follower_queued,
        )
    }

    pub fn text(&self) -> String {
        format!(
            "throughput  {:>8.0} tx/s pre-confirmations off (reference)\n\
             \x20           {:>8.0} tx/s applied at admission, no promise asked ({:.2}x)\n\
             \x20           {:>8.0} tx/s every transaction promised, 100 per sendTxs ({:.2}x; goal >= 0.90)\n\
             \x20           {:>8.0} tx/s every transaction promised, one sendTx each ({:.2}x)\n\
             latency     {} transfers at {:.0} tx/s ({}% of the one-sendTx-each throughput), open loop\n\
             \x20 pre-confirmation at the producer  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms (goal p99 <= 5 ms)\n\
             \x20 in a block                        p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms\n\
             \x20 through a follower (forwarded)    p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms (goal p99 <= 10 ms) at {:.0} tx/s, {} queued\n\
             \x20 {} promised, {} queued (admitted without a promise)\n{}",
            self.tps_off,
            self.tps_exec,
            self.tps_exec / self.tps_off.max(1e-9),
            self.tps_on,
            self.tps_on / self.tps_off.max(1e-9),
            self.tps_on_single,
            self.tps_on_single / self.tps_off.max(1e-9),
            self.latency_txs,
            self.load_tps,
            (self.load_tps / self.tps_on_single.max(1e-9) * 100.0).round(),
            self.producer.p50_ms,
            self.producer.p99_ms,
            self.producer.max_ms,
            self.inclusion.p50_ms,
            self.inclusion.p99_ms,
            self.inclusion.max_ms,
            self.follower.p50_ms,
            self.follower.p99_ms,
            self.follower.max_ms,
            self.follower_load_tps,
            self.follower_queued,
            self.preconfirmed,
            self.queued,
            self.bench_line()
        )
    }

    pub fn json(&self) -> Value {
        let l = |l: &Latency| json!({ "p50Ms": l.p50_ms, "p99Ms": l.p99_ms, "maxMs": l.max_ms });
        json!({
            "txs": self.txs,
            "tpsOff": self.tps_off, "tpsExec": self.tps_exec, "tpsOn": self.tps_on, "tpsOnSingle": self.tps_on_single,
            "loadTps": self.load_tps, "latencyTxs": self.latency_txs,
            "preconfirmed": self.preconfirmed, "queued": self.queued,
            "producer": l(&self.producer), "inclusion": l(&self.inclusion),
            "follower": l(&self.follower), "followerQueued": self.follower_queued,
            "followerLoadTps": self.follower_load_tps,
            "bench": self.bench_line(),
        })
    }
}

/// A fresh bench node with pre-confirmations `on` or off.
async fn start_node(
    genesis: &Genesis,
    opts: &PreconfBenchOptions,
    preconfirm: bool,
) -> Result<(tempfile::TempDir, aergo_node::RunningNode)> {
    start_node_as(genesis, opts, preconfirm, 0, None).await
}

/// [`start_node`] with node key `dev_key("node", key)`, on the network
/// (loopback, dialling `bootstrap`) when `p2p` is given.
async fn start_node_as(
    genesis: &Genesis,
    opts: &PreconfBenchOptions,
    preconfirm: bool,
    key: u32,
    p2p: Option<Vec<String>>,
) -> Result<(tempfile::TempDir, aergo_node::RunningNode)> {
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    if let Some(bootstrap) = p2p {
        config.p2p.enabled = true;
        config.p2p.listen = "/ip4/127.0.0.1/tcp/0".into();
        config.p2p.bootstrap = bootstrap;
    }
    config.solo.block_interval_ms = opts.block_interval_ms;
    config.pool.max_txs = config.pool.max_txs.max(opts.txs).max(opts.latency_txs);
    config.producer.preconfirm = preconfirm;
    let tmp = tempfile::Builder::new().prefix("aergo-bench-").tempdir().map_err(|source| CliError::Io {
        what: "creating a temporary directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    init_data_dir(
        tmp.path(),
        InitOptions { genesis: genesis.clone(), node_key: dev_key("node", key), config: config.clone() },
    )?;
    let running = aergo_client::devnode::start(tmp.path(), config).await?;
    Ok((tmp, running))
}

/// Runs the benchmark. `progress` gets one line per phase.
pub async fn bench_preconfirm(
    opts: &PreconfBenchOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<PreconfBenchResult> {
    opts.check()?;
    let (genesis, keys) = bench_genesis(opts.senders)?;
    let t = opts.transfer_options();
    let mut tps = Vec::new();
    for shape in [Shape::Off, Shape::Applied, Shape::PromisedBatch, Shape::PromisedEach] {
        progress(&format!("throughput, {}: signing {} transfers (not timed)...", shape.label(), opts.txs));
        let batches = {
            let (keys, chain, txs) = (keys.clone(), genesis.chain_id.clone(), opts.txs);
            tokio::task::spawn_blocking(move || {
                let options = match shape {
                    Shape::PromisedEach => json!({ "wait": "preconfirmed" }),
                    _ => Value::Null,
                };
                let batches = prepare_transfers(&keys, &chain, txs, BATCH_CALLS, &options);
                match shape {
                    Shape::PromisedBatch => batches.into_iter().map(as_send_txs).collect(),
                    _ => batches,
                }
            })
            .await
            .map_err(|e| CliError::Task { what: "signing", reason: e.to_string() })?
        };
        let (_dir, running) = start_node(&genesis, opts, shape != Shape::Off).await?;
        let url = format!("http://{}", running.rpc_addr);
        let outcome = drive(&url, &keys, batches, &t).await;
        running.shutdown().await;
        let (elapsed, _, blocks, _) = outcome?;
        let v = opts.txs as f64 / elapsed.as_secs_f64().max(1e-9);
        progress(&format!("  {v:.0} tx/s in {blocks} blocks"));
        tps.push(v);
    }
    let (tps_off, tps_exec, tps_on, tps_on_single) = (tps[0], tps[1], tps[2], tps[3]);

    // The latency run sends one request per transaction: its load is a
    // share of what one-request-each sustained.
    let load_tps = tps_on_single * f64::from(opts.load_percent) / 100.0;
    progress(&format!(
        "latency: {} transfers at {load_tps:.0} tx/s, each asking for its pre-confirmation...",
        opts.latency_txs
    ));
    let (_dir, running) = start_node(&genesis, opts, true).await?;
    let url = format!("http://{}", running.rpc_addr);
    let outcome = latency_run(&url, &genesis, &keys, opts.latency_txs, load_tps, opts.timeout_ms).await;
    running.shutdown().await;
    let (producer, inclusion, preconfirmed, queued) = outcome?;

    let follower_load_tps = load_tps / 4.0;
    progress(&format!(
        "through a follower: {} transfers at {follower_load_tps:.0} tx/s, sent to a follower...",
        opts.latency_txs
    ));
    let (follower, follower_queued) = follower_run(&genesis, &keys, opts, follower_load_tps).await?;
    Ok(PreconfBenchResult {
        txs: opts.txs,
        tps_off,
        tps_exec,
        tps_on,
        tps_on_single,
        load_tps,
        latency_txs: opts.latency_txs,
        preconfirmed,
        queued,
        producer,
        inclusion,
        follower,
        follower_load_tps,
        follower_queued,
    })
}

/// How long a follower may take to connect to its producer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The latency run through a follower of a two-node solo network.
async fn follower_run(
    genesis: &Genesis,
    keys: &[aergo_crypto::PrivateKey],
    opts: &PreconfBenchOptions,
    load_tps: f64,
) -> Result<(Latency, usize)> {
    let mut genesis = genesis.clone();
    genesis.bps = vec![dev_key("node", 0).public_key().peer_id()];
    let (_pdir, producer) = start_node_as(&genesis, opts, true, 0, Some(Vec::new())).await?;
    let bootstrap = producer.p2p_addrs.clone();
    let (_fdir, follower) = start_node_as(&genesis, opts, true, 1, Some(bootstrap)).await?;
    let url = format!("http://{}", follower.rpc_addr);
    let client = RpcClient::new(&url)?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let outcome = loop {
        let status = client.call("status", json!([])).await?;
        if status["peers"].as_u64().unwrap_or(0) >= 1 {
            break latency_run(&url, &genesis, keys, opts.latency_txs, load_tps, opts.timeout_ms).await;
        }
        if Instant::now() >= deadline {
            break Err(CliError::Bench { reason: "the follower did not connect to the producer".into() });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    follower.shutdown().await;
    producer.shutdown().await;
    let (latency, _, _, queued) = outcome?;
    Ok((latency, queued))
}

/// How the transactions of a throughput run are sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Pre-confirmations off: executed when the block is sealed.
    Off,
    /// Applied at admission, no promise asked.
    Applied,
    /// 100 per `sendTxs` asking for their promises.
    PromisedBatch,
    /// One `sendTx` each asking for its promise.
    PromisedEach,
}

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Shape::Off => "pre-confirmations off",
            Shape::Applied => "applied at admission",
            Shape::PromisedBatch => "promised, 100 per sendTxs",
            Shape::PromisedEach => "promised, one sendTx each",
        }
    }
}

/// The same transactions as one `sendTxs` call asking for their promises
/// (one HTTP request, as the JSON-RPC batch was): the node promises them
/// with one durable write.
fn as_send_txs(batch: Batch) -> Batch {
    let calls: Vec<Value> = serde_json::from_str(&batch.body).unwrap_or_default();
    let raws: Vec<Value> = calls.iter().map(|c| c["params"][0].clone()).collect();
    let id = batch.ids.first().map_or(1, |(id, _)| *id);
    let body =
        json!([{ "jsonrpc": "2.0", "id": id, "method": "sendTxs", "params": [raws, { "wait": "preconfirmed" }] }]);
    Batch { body: body.to_string(), ids: vec![(id, "sendTxs")] }
}

/// The open-loop run: returns (pre-confirmation latency, inclusion
/// latency, promised, queued).
async fn latency_run(
    url: &str,
    genesis: &Genesis,
    keys: &[aergo_crypto::PrivateKey],
    txs: usize,
    rate_tps: f64,
    timeout_ms: u64,
) -> Result<(Latency, Latency, usize, usize)> {
    let chain_hash = genesis.chain_id.hash();
    let sink = dev_key("bench-sink", 0).address();
    let mut bodies = Vec::with_capacity(txs);
    let mut hashes = Vec::with_capacity(txs);
    for i in 0..txs {
        let key = &keys[i % keys.len()];
        let nonce = (i / keys.len()) as u64 + 1;
        let tx = sign_tx(TxBody::transfer(nonce, &key.address(), &sink, Amount::ONE_GAER, &chain_hash), key);
        hashes.push(tx.hash().unwrap_or_default());
        bodies.push(
            json!({"jsonrpc": "2.0", "id": i, "method": "sendTx",
                   "params": [hex::encode(tx.encode()), { "wait": "preconfirmed" }]})
            .to_string(),
        );
    }
    let client = RpcClient::new(url)?;
    let mut sub = BlockSubscription::connect(&client.ws_url()).await?;
    let http = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / rate_tps.max(1.0));
    let t0 = Instant::now();
    let sent_at: Arc<Vec<Instant>> = Arc::new((0..txs).map(|i| t0 + interval * i as u32).collect());
    let mut tasks = Vec::with_capacity(txs);
    for (i, body) in bodies.into_iter().enumerate() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(sent_at[i])).await;
        let (http, url, sent_at, expected) = (http.clone(), url.to_string(), sent_at.clone(), hashes[i]);
        tasks.push(tokio::spawn(async move {
            let resp = http.post(&url).header("content-type", "application/json").body(body).send().await;
            let v: Value = match resp {
                Ok(r) => r.json().await.map_err(|e| e.to_string())?,
                Err(e) => return Err(e.to_string()),
            };
            let elapsed_ms = sent_at[i].elapsed().as_secs_f64() * 1000.0;
            let result = v.get("result").ok_or_else(|| format!("sendTx refused: {v}"))?;
            let promised = result["preconfirmation"]["txHash"].as_str().map(str::to_string);
            match promised {
                Some(h) if h == expected.to_string() => Ok(Some(elapsed_ms)),
                Some(h) => Err(format!("pre-confirmation for {h}, sent {expected}")),
                None => Ok(None),
            }
        }));
    }
    // Inclusion: every transaction's block, as announced.
    let index: BTreeMap<String, usize> = hashes.iter().enumerate().map(|(i, h)| (h.to_string(), i)).collect();
    let mut included_ms: Vec<Option<f64>> = vec![None; txs];
    let mut left = txs;
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    while left > 0 {
        let wait_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        if wait_ms == 0 {
            // Say why, when a submission was refused.
            let mut first_error = String::new();
            for t in tasks.iter_mut().filter(|t| t.is_finished()) {
                if let Ok(Err(e)) = t.await {
                    first_error = format!("; first refusal: {e}");
                    break;
                }
            }
            return Err(CliError::Bench {
                reason: format!("{left} of {txs} transactions not in a block in time{first_error}"),
            });
        }
        let block = match sub.next_block(wait_ms.min(1_000)).await {
            Ok(b) => b,
            Err(CliError::Timeout { .. }) => continue,
            Err(e) => return Err(e),
        };
        let at = Instant::now();
        for h in block["txs"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if let Some(&i) = index.get(h) {
                if included_ms[i].is_none() {
                    included_ms[i] = Some(at.saturating_duration_since(sent_at[i]).as_secs_f64() * 1000.0);
                    left -= 1;
                }
            }
        }
    }
    let (mut promised_ms, mut queued) = (Vec::with_capacity(txs), 0usize);
    for t in tasks {
        match t.await.map_err(|e| CliError::Task { what: "a sendTx", reason: e.to_string() })? {
            Ok(Some(ms)) => promised_ms.push(ms),
            Ok(None) => queued += 1,
            Err(reason) => return Err(CliError::Bench { reason }),
        }
    }
    let promised = promised_ms.len();
    if queued * 100 > txs {
        return Err(CliError::Bench { reason: format!("{queued} of {txs} transactions were not promised") });
    }
    let inclusion: Vec<f64> = included_ms.into_iter().flatten().collect();
    Ok((latency(promised_ms), latency(inclusion), promised, queued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_and_latency_picks_ranks() {
        PreconfBenchOptions::full().check().unwrap();
        PreconfBenchOptions::quick().check().unwrap();
        assert!(PreconfBenchOptions { senders: 10, ..PreconfBenchOptions::full() }.check().is_err());
        assert!(PreconfBenchOptions { load_percent: 0, ..PreconfBenchOptions::full() }.check().is_err());
        let l = latency((1..=100).map(f64::from).collect());
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (50.0, 99.0, 100.0));
    }
}
