//! `aergo bench transfer`: sustained end-to-end transfer throughput of a
//! node, against this machine's signature verification rate.
//!
//! Method. A chain whose genesis prefunds K bench accounts
//! (`dev_key("bench", 0..K)`) is initialised in a temporary directory and
//! its node started in this process on a loopback port. N transfers are
//! signed up front (account i mod K, nonces in order) and serialized into
//! JSON-RPC batch bodies; none of that is timed. The clock starts at the
//! first submission: several connections post the batches over HTTP while
//! a WebSocket subscription counts the transactions of each new block; the
//! clock stops when the block holding the last transaction is announced.
//! Every submission must be accepted and every sender's nonce must reach
//! its count, or the run fails rather than report a flattering figure.
//!
//! The reference is [`aergo_crypto::measure_verify_rate`] (raw libsecp256k1
//! verifications per second on one thread), measured in the same run, half
//! before and half after the transfers so machine load hits both. The
//! ratio `tps / verify_per_sec` says how close the node gets to the one
//! cost every transfer must pay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aergo_crypto::{dev_category_key, dev_key, dev_keys, measure_verify_rate, sign_tx, PrivateKey};
use aergo_node::{init_data_dir, InitOptions, NodeConfig};
use aergo_types::{Address, AllocationCategory, Amount, ChainId, Genesis, Hash, TxBody};
use serde_json::{json, Value};

use aergo_client::client::{BlockSubscription, RpcClient};
use aergo_client::{CliError, Result};

/// Label of the bench accounts' dev keys.
pub const BENCH_KEY_LABEL: &str = "bench";
/// Most transactions one run may sign.
pub const MAX_BENCH_TXS: usize = 1_000_000;
/// Most bench accounts.
pub const MAX_BENCH_SENDERS: u32 = 10_000;
/// Most concurrent submitting connections.
pub const MAX_CONNECTIONS: usize = 64;
/// Genesis time of bench chains (fixed: nothing depends on the wall clock).
const BENCH_GENESIS_TIMESTAMP_NS: i64 = 1_700_000_000_000_000_000;

/// How a run is shaped.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub txs: usize,
    pub senders: u32,
    pub block_interval_ms: u64,
    pub connections: usize,
    /// Calls per JSON-RPC batch (the server allows 100 by default).
    pub batch: usize,
    /// Time spent measuring the verification rate (half before, half after).
    pub verify_ms: u64,
    /// Give up when the last transaction is not in a block after this long.
    pub timeout_ms: u64,
}

impl BenchOptions {
    pub fn full() -> BenchOptions {
        BenchOptions {
            txs: 50_000,
            senders: 250,
            block_interval_ms: 100,
            connections: 4,
            batch: 100,
            verify_ms: 2_000,
            timeout_ms: 300_000,
        }
    }

    /// A short run (a few seconds) for smoke tests and CI.
    pub fn quick() -> BenchOptions {
        BenchOptions { txs: 4_000, senders: 40, verify_ms: 600, timeout_ms: 120_000, ..BenchOptions::full() }
    }

    fn check(&self, pool: &Limits) -> Result<()> {
        let bad = |reason: String| Err(CliError::Bench { reason });
        if self.txs == 0 || self.txs > MAX_BENCH_TXS {
            return bad(format!("--txs {} is outside 1..={MAX_BENCH_TXS}", self.txs));
        }
        if self.senders == 0 || self.senders > MAX_BENCH_SENDERS {
            return bad(format!("--senders {} is outside 1..={MAX_BENCH_SENDERS}", self.senders));
        }
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return bad(format!("--connections {} is outside 1..={MAX_CONNECTIONS}", self.connections));
        }
        if self.batch == 0 || self.batch > pool.max_batch_len {
            return bad(format!(
                "--batch {} is outside 1..={} (the server's batch limit)",
                self.batch, pool.max_batch_len
            ));
        }
        let per_sender = self.txs.div_ceil(self.senders as usize);
        let slots = pool.max_per_account.min(usize::try_from(pool.max_nonce_gap).unwrap_or(usize::MAX));
        if per_sender > slots {
            let need = self.txs.div_ceil(slots);
            return bad(format!(
                "{} txs from {} senders is {per_sender} per sender, above the pool's {slots} pending slots per \
                 account; use --senders {need} or more",
                self.txs, self.senders
            ));
        }
        Ok(())
    }
}

/// Pool and RPC limits the options must respect (the node's defaults).
struct Limits {
    max_per_account: usize,
    max_nonce_gap: u64,
    max_batch_len: usize,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub txs: usize,
    pub senders: u32,
    pub blocks: u64,
    pub max_block_txs: u64,
    /// First submission to the announcement of the block with the last tx.
    pub elapsed_ms: f64,
    /// First to last submission answered.
    pub submit_ms: f64,
    pub tps: f64,
    /// Raw signature verifications per second (one thread).
    pub verify_per_sec: f64,
    /// Full transaction signature checks per second (one thread).
    pub verify_tx_per_sec: f64,
    pub ratio: f64,
}

impl BenchResult {
    pub fn avg_block_txs(&self) -> f64 {
        if self.blocks == 0 {
            0.0
        } else {
            self.txs as f64 / self.blocks as f64
        }
    }

    /// The machine-readable summary line.
    pub fn bench_line(&self) -> String {
        format!(
            "BENCH transfer tps={:.0} verify_per_sec={:.0} ratio={:.3} txs={} blocks={} avg_block_txs={:.1} \
             submit_tps={:.0} verify_tx_per_sec={:.0} ratio_tx={:.3}",
            self.tps,
            self.verify_per_sec,
            self.ratio,
            self.txs,
            self.blocks,
            self.avg_block_txs(),
            self.txs as f64 / (self.submit_ms / 1000.0).max(1e-9),
            self.verify_tx_per_sec,
            self.tps / self.verify_tx_per_sec.max(1e-9),
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "txs": self.txs,
            "senders": self.senders,
            "blocks": self.blocks,
            "maxBlockTxs": self.max_block_txs,
            "avgBlockTxs": self.avg_block_txs(),
            "elapsedMs": self.elapsed_ms,
            "submitMs": self.submit_ms,
            "tps": self.tps,
            "verifyPerSec": self.verify_per_sec,
            "verifyTxPerSec": self.verify_tx_per_sec,
            "ratio": self.ratio,
        })
    }
}

/// A bench chain: `senders` accounts of `dev_key("bench", i)` prefunded
/// with 1000 aergo each out of the reserve.
pub fn bench_genesis(senders: u32) -> Result<(Genesis, Vec<PrivateKey>)> {
    let holders = AllocationCategory::ALL.iter().map(|c| (*c, dev_category_key(*c).address())).collect();
    let keys = dev_keys(BENCH_KEY_LABEL, senders);
    let addresses: Vec<_> = keys.iter().map(PrivateKey::address).collect();
    let chain_id = ChainId::new(0, false, false, "bench.chain", "sbp")?;
    let genesis = Genesis::dev(
        chain_id,
        BENCH_GENESIS_TIMESTAMP_NS,
        &holders,
        &addresses,
        Amount::from_aergo(1000)?,
        Vec::new(),
    )?;
    Ok((genesis, keys))
}

/// One prepared batch: its body and the ids of its calls.
pub(crate) struct Batch {
    pub body: String,
    pub ids: Vec<(u64, &'static str)>,
}

/// Signs `txs` transfers round-robin over `keys` and packs them into batch
/// bodies. Consecutive transactions come from different accounts, so each
/// batch spreads over many senders and nonces arrive in order.
fn prepare(keys: &[PrivateKey], chain: &ChainId, txs: usize, batch: usize) -> Vec<Batch> {
    prepare_transfers(keys, chain, txs, batch, &Value::Null)
}

/// [`prepare`], each `sendTx` carrying `options` (its second parameter)
/// unless that is null.
pub(crate) fn prepare_transfers(
    keys: &[PrivateKey],
    chain: &ChainId,
    txs: usize,
    batch: usize,
    options: &Value,
) -> Vec<Batch> {
    let chain_hash = chain.hash();
    let sink = dev_key("bench-sink", 0).address();
    prepare_signed(keys, txs, batch, options, |_, nonce, from| {
        TxBody::transfer(nonce, from, &sink, Amount::ONE_GAER, &chain_hash)
    })
    .0
}

/// Signs `txs` transactions round-robin over `keys` (tx `i` from key
/// `i % keys.len()`, nonces 1, 2, ... per key) with bodies from
/// `body(i, nonce, sender)`, and packs them into `sendTx` batch bodies
/// (with `options` as the second parameter unless it is null). Also
/// returns the transaction hashes, in order.
pub(crate) fn prepare_signed(
    keys: &[PrivateKey],
    txs: usize,
    batch: usize,
    options: &Value,
    mut body: impl FnMut(usize, u64, &Address) -> TxBody,
) -> (Vec<Batch>, Vec<Hash>) {
    let mut out = Vec::with_capacity(txs.div_ceil(batch));
    let mut hashes = Vec::with_capacity(txs);
    let mut calls = Vec::with_capacity(batch);
    let mut ids = Vec::with_capacity(batch);
    // Deriving an address is a curve multiplication: once per key.
    let addresses: Vec<_> = keys.iter().map(PrivateKey::address).collect();
    for i in 0..txs {
        let key = &keys[i % keys.len()];
        let nonce = (i / keys.len()) as u64 + 1;
        let tx = sign_tx(body(i, nonce, &addresses[i % keys.len()]), key);
        // sign_tx always sets the 32-byte hash; a default one would only
        // make the receipt checks that use it fail loudly.
        hashes.push(tx.hash().unwrap_or_default());
        let id = i as u64 + 1;
        let params = match options {
            Value::Null => json!([hex::encode(tx.encode())]),
            o => json!([hex::encode(tx.encode()), o]),
        };
        calls.push(json!({"jsonrpc": "2.0", "id": id, "method": "sendTx", "params": params}));
        ids.push((id, "sendTx"));
        if calls.len() == batch || i + 1 == txs {
            out.push(Batch {
                body: Value::Array(std::mem::take(&mut calls)).to_string(),
                ids: std::mem::take(&mut ids),
            });
        }
    }
    (out, hashes)
}

/// Runs the benchmark. `progress` gets one line per phase.
pub async fn bench_transfer(opts: &BenchOptions, progress: &mut dyn FnMut(&str)) -> Result<BenchResult> {
    let mut config = NodeConfig::default();
    opts.check(&Limits {
        max_per_account: config.pool.max_per_account,
        max_nonce_gap: config.pool.max_nonce_gap,
        max_batch_len: config.rpc.max_batch_len,
    })?;
    config.listen_on_free_ports();
    config.solo.block_interval_ms = opts.block_interval_ms;
    config.pool.max_txs = config.pool.max_txs.max(opts.txs);

    progress(&format!("measuring signature verification ({} ms)...", opts.verify_ms / 2));
    let verify_before = tokio::task::spawn_blocking({
        let ms = opts.verify_ms / 2;
        move || measure_verify_rate(ms)
    })
    .await
    .map_err(|e| CliError::Task { what: "measuring verification", reason: e.to_string() })?;

    let (genesis, keys) = bench_genesis(opts.senders)?;
    progress(&format!("signing {} transfers from {} accounts (not timed)...", opts.txs, opts.senders));
    let batches = {
        let (keys, chain, txs, batch) = (keys.clone(), genesis.chain_id.clone(), opts.txs, opts.batch);
        tokio::task::spawn_blocking(move || prepare(&keys, &chain, txs, batch))
            .await
            .map_err(|e| CliError::Task { what: "signing", reason: e.to_string() })?
    };

    let tmp = tempfile::Builder::new().prefix("aergo-bench-").tempdir().map_err(|source| CliError::Io {
        what: "creating a temporary directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    init_data_dir(tmp.path(), InitOptions { genesis, node_key: dev_key("node", 0), config: config.clone() })?;
    let running = aergo_client::devnode::start(tmp.path(), config).await?;
    let url = format!("http://{}", running.rpc_addr);
    progress(&format!(
        "node on {url}; submitting over {} connections in batches of {}, block interval {} ms...",
        opts.connections, opts.batch, opts.block_interval_ms
    ));
    let outcome = drive(&url, &keys, batches, opts).await;
    running.shutdown().await;
    let (elapsed, submit, blocks, max_block_txs) = outcome?;

    progress(&format!("measuring signature verification again ({} ms)...", opts.verify_ms / 2));
    let verify_after = tokio::task::spawn_blocking({
        let ms = opts.verify_ms / 2;
        move || measure_verify_rate(ms)
    })
    .await
    .map_err(|e| CliError::Task { what: "measuring verification", reason: e.to_string() })?;

    let verify_per_sec = (verify_before.raw_per_sec + verify_after.raw_per_sec) / 2.0;
    let verify_tx_per_sec = (verify_before.tx_per_sec + verify_after.tx_per_sec) / 2.0;
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    let tps = opts.txs as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok(BenchResult {
        txs: opts.txs,
        senders: opts.senders,
        blocks,
        max_block_txs,
        elapsed_ms,
        submit_ms: submit.as_secs_f64() * 1000.0,
        tps,
        verify_per_sec,
        verify_tx_per_sec,
        ratio: tps / verify_per_sec.max(1e-9),
    })
}

/// Submits every batch and waits for the last transaction's block.
/// Returns (total time, submission time, blocks, largest block).
pub(crate) async fn drive(
    url: &str,
    keys: &[PrivateKey],
    batches: Vec<Batch>,
    opts: &BenchOptions,
) -> Result<(Duration, Duration, u64, u64)> {
    let client = Arc::new(RpcClient::new(url)?);
    let mut sub = BlockSubscription::connect(&client.ws_url()).await?;
    let start_height = client.status().await?.height;
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let rejected = Arc::new(AtomicUsize::new(0));

    let t0 = Instant::now();
    let mut workers = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections {
        let (client, batches, next, first_error, rejected) =
            (client.clone(), batches.clone(), next.clone(), first_error.clone(), rejected.clone());
        workers.push(tokio::spawn(async move {
            let note = |e: String| {
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(e);
                }
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = batches.get(i) else { break };
                match client.post_batch(b.body.clone(), &b.ids).await {
                    Ok(outcomes) => {
                        for o in outcomes {
                            if let Err(e) = o {
                                rejected.fetch_add(1, Ordering::Relaxed);
                                note(e.to_string());
                            }
                        }
                    }
                    Err(e) => {
                        rejected.fetch_add(b.ids.len(), Ordering::Relaxed);
                        note(e.to_string());
                    }
                }
            }
            Instant::now()
        }));
    }

    let mut included = 0usize;
    let (mut blocks, mut max_block_txs) = (0u64, 0u64);
    let deadline = t0 + Duration::from_millis(opts.timeout_ms);
    let mut last_block_at = t0;
    while included < opts.txs {
        let rejected_now = rejected.load(Ordering::Relaxed);
        if rejected_now > 0 && workers.iter().all(|w| w.is_finished()) && included + rejected_now >= opts.txs {
            break;
        }
        let left_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        if left_ms == 0 {
            return Err(CliError::Bench {
                reason: format!(
                    "only {included} of {} transactions were included after {} ms",
                    opts.txs, opts.timeout_ms
                ),
            });
        }
        // Wake up now and then to notice rejections even if no block comes.
        let block = match sub.next_block(left_ms.min(1_000)).await {
            Ok(b) => b,
            Err(CliError::Timeout { .. }) => continue,
            Err(e) => return Err(e),
        };
        let height = block.get("height").and_then(Value::as_u64).unwrap_or(0);
        if height <= start_height {
            continue;
        }
        let n = block.get("txCount").and_then(Value::as_u64).unwrap_or(0);
        included += n as usize;
        blocks += 1;
        max_block_txs = max_block_txs.max(n);
        last_block_at = Instant::now();
    }
    let mut submit_end = t0;
    for w in workers {
        let end = w.await.map_err(|e| CliError::Task { what: "a submitting connection", reason: e.to_string() })?;
        submit_end = submit_end.max(end);
    }
    let rejected = rejected.load(Ordering::Relaxed);
    if rejected > 0 {
        let first = first_error.lock().ok().and_then(|s| s.clone()).unwrap_or_default();
        return Err(CliError::Bench {
            reason: format!("{rejected} of {} submissions failed; first: {first}", opts.txs),
        });
    }
    // Every sender's nonce must have reached its count.
    let per = |i: usize| (opts.txs / keys.len() + usize::from(i < opts.txs % keys.len())) as u64;
    for (chunk_index, chunk) in keys.chunks(opts.batch).enumerate() {
        let calls: Vec<(&str, Value)> =
            chunk.iter().map(|k| ("getAccount", json!([k.address().to_string()]))).collect();
        for (j, outcome) in client.batch(&calls).await?.into_iter().enumerate() {
            let i = chunk_index * opts.batch + j;
            let nonce = outcome?.get("nonce").and_then(Value::as_u64).unwrap_or(0);
            if nonce != per(i) {
                return Err(CliError::Bench {
                    reason: format!("bench account {i} has nonce {nonce} after the run, expected {}", per(i)),
                });
            }
        }
    }
    if included != opts.txs {
        return Err(CliError::Bench { reason: format!("blocks announced {included} txs, {} were sent", opts.txs) });
    }
    Ok((last_block_at - t0, submit_end - t0, blocks, max_block_txs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_respect_pool_slots() {
        let limits = Limits { max_per_account: 256, max_nonce_gap: 256, max_batch_len: 100 };
        BenchOptions::full().check(&limits).unwrap();
        BenchOptions::quick().check(&limits).unwrap();
        let o = BenchOptions { txs: 10_000, senders: 10, ..BenchOptions::quick() };
        let e = o.check(&limits).unwrap_err().to_string();
        assert!(e.contains("--senders 40 or more"), "{e}");
        let o = BenchOptions { batch: 101, ..BenchOptions::quick() };
        assert!(o.check(&limits).is_err());
    }

    #[test]
    fn prepared_batches_cover_every_tx_in_nonce_order() {
        let (genesis, keys) = bench_genesis(3).unwrap();
        let batches = prepare(&keys, &genesis.chain_id, 7, 3);
        assert_eq!(batches.iter().map(|b| b.ids.len()).collect::<Vec<_>>(), vec![3, 3, 1]);
        let first: Value = serde_json::from_str(&batches[0].body).unwrap();
        assert_eq!(first.as_array().unwrap().len(), 3);
        let raw = first[1]["params"][0].as_str().unwrap();
        let tx = aergo_types::Tx::decode_bounded(&hex::decode(raw).unwrap()).unwrap();
        let body = tx.body().unwrap();
        assert_eq!((body.nonce, body.sender().unwrap()), (1, keys[1].address()));
        aergo_crypto::verify_tx(&tx).unwrap();
        let last: Value = serde_json::from_str(&batches[2].body).unwrap();
        let raw = last[0]["params"][0].as_str().unwrap();
        let tx = aergo_types::Tx::decode_bounded(&hex::decode(raw).unwrap()).unwrap();
        assert_eq!(tx.body().unwrap().nonce, 3);
        assert!(genesis.balances().unwrap().contains_key(&keys[2].address()));
    }
}
