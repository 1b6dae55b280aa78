//! `aergo bench api`: the API under a flood from one client, and what a
//! second client sees meanwhile.
//!
//! One dev node runs in this process with its RPC server on loopback.
//! A *probe* client, connecting from `127.0.0.2` (another address of the
//! loopback network, so the server counts it as another client), calls
//! `status` one call at a time and records each latency: first with the
//! node idle (the reference), then while a *flood* client on `127.0.0.1`
//! keeps `flood_connections` requests in flight, half `status` and half
//! `sendTx` with one signed transfer (after the first it is refused as
//! known or used: each still costs decoding, the signature check and the
//! pool's lookup). The figures are the flood's requests per second by
//! kind and by outcome, and the probe's p50 and p99 with and without the
//! flood; the target is a loaded p99 within twice the idle one.
//!
//! The probe, the flood and the node share this process and this machine,
//! so the ratio measures how the node shares itself out, not the network.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aergo_client::{CliError, Result};
use aergo_crypto::sign_tx;
use aergo_node::{init_dev_data_dir, NodeConfig};
use aergo_types::{Amount, TxBody};
use serde_json::{json, Value};

/// Most flood connections one run may open.
pub const MAX_FLOOD_CONNECTIONS: usize = 1_024;
/// Most probe calls per phase.
pub const MAX_PROBE_CALLS: usize = 100_000;

/// How a run is shaped.
#[derive(Clone, Debug)]
pub struct ApiBenchOptions {
    /// Requests the flood keeps in flight.
    pub flood_connections: usize,
    /// Sequential `status` calls of the probe, idle and again under load.
    pub probe_calls: usize,
    /// The flood lasts at least this long (and until the probe is done).
    pub flood_ms: u64,
    /// The node's `rpc.max_requests_per_client`, if not its default.
    pub per_client: Option<usize>,
    /// The node's `rpc.max_running_requests`, if not its default.
    pub running_requests: Option<usize>,
}

impl ApiBenchOptions {
    pub fn full() -> ApiBenchOptions {
        ApiBenchOptions {
            flood_connections: 128,
            probe_calls: 1_000,
            flood_ms: 5_000,
            per_client: None,
            running_requests: None,
        }
    }

    /// A short run (a few seconds) for smoke tests and CI.
    pub fn quick() -> ApiBenchOptions {
        ApiBenchOptions {
            flood_connections: 32,
            probe_calls: 200,
            flood_ms: 1_500,
            per_client: None,
            running_requests: None,
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(CliError::Bench { reason });
        if self.flood_connections == 0 || self.flood_connections > MAX_FLOOD_CONNECTIONS {
            return bad(format!("--connections {} is outside 1..={MAX_FLOOD_CONNECTIONS}", self.flood_connections));
        }
        if self.probe_calls < 10 || self.probe_calls > MAX_PROBE_CALLS {
            return bad(format!("--probe-calls {} is outside 10..={MAX_PROBE_CALLS}", self.probe_calls));
        }
        if self.flood_ms == 0 || self.flood_ms > 600_000 {
            return bad(format!("--flood-ms {} is outside 1..=600000", self.flood_ms));
        }
        Ok(())
    }
}

/// Latency quantiles of one probe phase, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct ApiBenchResult {
    pub flood_connections: usize,
    pub flood_secs: f64,
    pub status_per_sec: f64,
    pub send_tx_per_sec: f64,
    /// Flood requests the server refused at its bounds (HTTP 429/503).
    pub refused_per_sec: f64,
    pub idle: Latency,
    pub loaded: Latency,
}

impl ApiBenchResult {
    /// Loaded over idle p99 of the probe (target: at most 2).
    pub fn p99_ratio(&self) -> f64 {
        self.loaded.p99_ms / self.idle.p99_ms.max(1e-9)
    }

    pub fn bench_line(&self) -> String {
        format!(
            "BENCH api flood_connections={} status_per_s={:.0} send_tx_per_s={:.0} refused_per_s={:.0} \
             probe_p50_idle_ms={:.3} probe_p99_idle_ms={:.3} probe_p50_loaded_ms={:.3} probe_p99_loaded_ms={:.3} \
             p99_ratio={:.2}",
            self.flood_connections,
            self.status_per_sec,
            self.send_tx_per_sec,
            self.refused_per_sec,
            self.idle.p50_ms,
            self.idle.p99_ms,
            self.loaded.p50_ms,
            self.loaded.p99_ms,
            self.p99_ratio()
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "floodConnections": self.flood_connections,
            "floodSecs": self.flood_secs,
            "statusPerSec": self.status_per_sec,
            "sendTxPerSec": self.send_tx_per_sec,
            "refusedPerSec": self.refused_per_sec,
            "probeIdle": { "p50Ms": self.idle.p50_ms, "p99Ms": self.idle.p99_ms },
            "probeLoaded": { "p50Ms": self.loaded.p50_ms, "p99Ms": self.loaded.p99_ms },
            "p99Ratio": self.p99_ratio(),
        })
    }
}

fn task_err(what: &'static str) -> impl Fn(reqwest::Error) -> CliError {
    move |e| CliError::Task { what, reason: e.to_string() }
}

fn http_client(local: Option<IpAddr>) -> Result<reqwest::Client> {
    reqwest::Client::builder().local_address(local).build().map_err(task_err("building an HTTP client"))
}

fn quantiles(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Latency { p50_ms: at(0.50), p99_ms: at(0.99) }
}

/// `calls` sequential `status` calls; each must succeed.
async fn probe(client: &reqwest::Client, url: &str, calls: usize) -> Result<Latency> {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"status","params":[]}"#;
    let mut ms = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = Instant::now();
        let resp = client.post(url).body(body).send().await.map_err(task_err("probing"))?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(task_err("probing"))?;
        if !status.is_success() || v.get("result").is_none() {
            return Err(CliError::Bench { reason: format!("the probe was refused (HTTP {status}): {v}") });
        }
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(quantiles(ms))
}

/// Counts of the flood, by kind and outcome.
#[derive(Default)]
struct FloodCounts {
    status: AtomicU64,
    send_tx: AtomicU64,
    refused: AtomicU64,
}

pub async fn bench_api(opts: &ApiBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<ApiBenchResult> {
    opts.check()?;
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    if let Some(n) = opts.per_client {
        config.rpc.max_requests_per_client = n;
    }
    if let Some(n) = opts.running_requests {
        config.rpc.max_running_requests = n;
    }
    config.validate().map_err(|reason| CliError::Bench { reason })?;
    let tmp = tempfile::Builder::new().prefix("aergo-bench-api-").tempdir().map_err(|source| CliError::Io {
        what: "creating a temporary directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    let (_, keys) = init_dev_data_dir(tmp.path(), config.clone())?;
    let running = aergo_client::devnode::start(tmp.path(), config).await?;
    let url = format!("http://{}/", running.rpc_addr);
    let outcome = run(opts, &url, &keys, progress).await;
    running.shutdown().await;
    outcome
}

async fn run(
    opts: &ApiBenchOptions,
    url: &str,
    keys: &[aergo_crypto::PrivateKey],
    progress: &mut dyn FnMut(&str),
) -> Result<ApiBenchResult> {
    let probe_client = http_client(Some(IpAddr::from([127, 0, 0, 2])))?;
    let flood_client = http_client(Some(IpAddr::from([127, 0, 0, 1])))?;
    // One signed transfer, sent over and over.
    let chain = aergo_client::client::RpcClient::new(url)?.status().await?.chain_id_hash;
    let (from, to) = (&keys[0], &keys[1]);
    let tx = sign_tx(TxBody::transfer(1, &from.address(), &to.address(), Amount::ONE_AERGO, &chain), from);
    let send_body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "sendTx", "params": [hex::encode(tx.encode())]}).to_string();
    let status_body = r#"{"jsonrpc":"2.0","id":1,"method":"status","params":[]}"#.to_string();

    progress(&format!("node on {url}; probing idle ({} status calls from 127.0.0.2)...", opts.probe_calls));
    // Warm the connection and the node before measuring.
    probe(&probe_client, url, 10).await?;
    let idle = probe(&probe_client, url, opts.probe_calls).await?;

    progress(&format!(
        "flooding from 127.0.0.1 with {} requests in flight (status and sendTx) while probing again...",
        opts.flood_connections
    ));
    let counts = Arc::new(FloodCounts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(opts.flood_connections);
    for i in 0..opts.flood_connections {
        let (client, url, counts, stop) = (flood_client.clone(), url.to_string(), counts.clone(), stop.clone());
        let (send_body, status_body) = (send_body.clone(), status_body.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = i;
            while !stop.load(Ordering::Relaxed) {
                let is_send = k % 2 == 0;
                k += 1;
                let body = if is_send { send_body.clone() } else { status_body.clone() };
                let Ok(resp) = client.post(&url).body(body).send().await else { continue };
                let code = resp.status().as_u16();
                // Read the answer whole, as a real client would.
                let _ = resp.bytes().await;
                match (code, is_send) {
                    (429 | 503, _) => counts.refused.fetch_add(1, Ordering::Relaxed),
                    (_, true) => counts.send_tx.fetch_add(1, Ordering::Relaxed),
                    (_, false) => counts.status.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let t0 = Instant::now();
    // Let the flood reach its pace before the probe starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let loaded = probe(&probe_client, url, opts.probe_calls).await;
    let left = Duration::from_millis(opts.flood_ms).saturating_sub(t0.elapsed());
    tokio::time::sleep(left).await;
    stop.store(true, Ordering::Relaxed);
    let flood_secs = t0.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let loaded = loaded?;
    let per_sec = |n: &AtomicU64| n.load(Ordering::Relaxed) as f64 / flood_secs.max(1e-9);
    Ok(ApiBenchResult {
        flood_connections: opts.flood_connections,
        flood_secs,
        status_per_sec: per_sec(&counts.status),
        send_tx_per_sec: per_sec(&counts.send_tx),
        refused_per_sec: per_sec(&counts.refused),
        idle,
        loaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_the_ceiling_rank() {
        let l = quantiles((1..=100).map(f64::from).collect());
        assert_eq!((l.p50_ms, l.p99_ms), (50.0, 99.0));
        let one = quantiles(vec![3.0]);
        assert_eq!((one.p50_ms, one.p99_ms), (3.0, 3.0));
    }

    #[test]
    fn options_are_bounded() {
        assert!(ApiBenchOptions { flood_connections: 0, ..ApiBenchOptions::quick() }.check().is_err());
        assert!(ApiBenchOptions { probe_calls: 5, ..ApiBenchOptions::quick() }.check().is_err());
        assert!(ApiBenchOptions::full().check().is_ok());
    }
}
