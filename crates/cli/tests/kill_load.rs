//! Kills under load: a node taking signed transfers and contract calls is
//! SIGKILLed at pseudo-random moments and restarted on the same data
//! directory, again and again. After every restart:
//!
//! - every transaction the harness saw *included* (it had a receipt)
//!   before the kill still has that receipt, in a block with the same hash
//!   at the same height (acknowledged means included: the pool is memory,
//!   and a pending transaction may be lost with the process, as in every
//!   chain);
//! - the total of all balances is still the supply (no AERGO made or lost),
//!   each sender's nonce covers all its included transactions, and the
//!   contract's counter equals the number of included successful calls;
//! - the node serves and produces again.
//!
//! `KILL_CYCLES` (default 5, what CI runs) sets the number of cycles and
//! `KILL_SEED` the seed of the kill moments (printed, to replay a run):
//! `KILL_CYCLES=1000 cargo test -p aergo-cli --release --test kill_load -- --nocapture`
//! is the long run.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aergo_client::client::RpcClient;
use aergo_client::keys::dev_account;
use aergo_crypto::{sign_tx, PrivateKey};
use aergo_types::payload::encode_call_payload;
use aergo_types::{Address, Amount, Hash, TxBody, TxType};
use common::load::{receipt_at, total_balance, Rng, COUNTER};
use common::*;
use serde_json::{json, Value};

/// Earlier cycles' transactions checked again after each restart.
const KEPT_SAMPLE: usize = 64;
/// Earlier cycles' transactions remembered for those checks.
const MAX_KEPT: usize = 10_000;
/// Dev accounts that send; dev:9 receives the transfers.
const SENDERS: u32 = 4;

/// A transaction the harness sent.
struct Sent {
    hash: Hash,
    sender: usize,
    nonce: u64,
    is_call: bool,
    /// `(height, block hash, status)` once a receipt was seen.
    included: Option<(u64, String, String)>,
}

async fn counter(client: &RpcClient, contract: &str) -> i64 {
    let r = client.call("query", json!(["SELECT n FROM hits WHERE k = 1", {"contract": contract}])).await.unwrap();
    r["rows"][0][0].as_i64().unwrap_or_else(|| panic!("{r}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_under_load_lose_no_included_transaction() {
    let cycles: usize = std::env::var("KILL_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let seed: u64 = std::env::var("KILL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_0001);
    eprintln!("kill_load: {cycles} cycles, KILL_SEED={seed}");
    let mut rng = Rng(seed.max(1));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let mut node = NodeProc::dev(&dir);
    let source = tmp.path().join("counter.sql");
    std::fs::write(&source, COUNTER).unwrap();
    let source = source.display().to_string();
    let d = aergo_json(&["--rpc", &node.url, "--json", "contract", "deploy", &source, "--from", "dev:8", "--wait"]);
    let contract_text = d["contract"].as_str().unwrap().to_string();
    let contract = Address::parse(&contract_text).unwrap();

    let client = node.client();
    let chain = client.status().await.unwrap().chain_id_hash;
    let supply = total_balance(&client).await;
    let keys: Vec<PrivateKey> = (0..SENDERS).map(|i| dev_account(i).unwrap()).collect();
    let to = dev_account(9).unwrap().address();
    // This cycle's transactions; `kept`: earlier cycles' included ones
    // (bounded; a sample of them is checked again after every restart).
    let mut sent: Vec<Sent> = Vec::new();
    let mut kept: Vec<Sent> = Vec::new();
    let mut earlier_hits = 0i64;

    for cycle in 0..cycles {
        let client = node.client();
        // Next nonces from the node: what the crash kept.
        let mut next = Vec::new();
        for k in &keys {
            next.push(client.account(&k.address(), None).await.unwrap().nonce + 1);
        }
        // Load for a pseudo-random time, then SIGKILL in the middle of it.
        let load_ms = 150 + rng.next() % 600;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(load_ms);
        let mut i = 0u64;
        while tokio::time::Instant::now() < deadline {
            let s = (i % u64::from(SENDERS)) as usize;
            let is_call = i.is_multiple_of(3);
            let body = if is_call {
                TxBody::new(TxType::Call, next[s], &keys[s].address(), Some(&contract), Amount::ZERO, &chain)
                    .with_payload(encode_call_payload("hit", &[]))
            } else {
                TxBody::transfer(next[s], &keys[s].address(), &to, Amount::from_aer(1_000 + i as u128), &chain)
            };
            match client.send_tx(&sign_tx(body, &keys[s])).await {
                Ok(hash) => {
                    sent.push(Sent { hash, sender: s, nonce: next[s], is_call, included: None });
                    next[s] += 1;
                }
                // The pool's per-account bound: let blocks catch up.
                Err(e) if e.reason() == Some("ACCOUNT_FULL") => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => panic!("cycle {cycle}: sendTx refused: {e}"),
            }
            i += 1;
            // Look at some receipts while loading, so the kill falls
            // between inclusion and our noticing it, too.
            if i.is_multiple_of(16) {
                for t in sent.iter_mut().rev().take(64).filter(|t| t.included.is_none()) {
                    t.included = receipt_at(&client, &t.hash).await;
                }
            }
        }
        for t in sent.iter_mut().filter(|t| t.included.is_none()) {
            t.included = receipt_at(&client, &t.hash).await;
        }
        node.kill();
        node = NodeProc::dev(&dir);
        let client = node.client();

        // Every included transaction of this cycle, and a sample of the
        // earlier ones, is still there, in the same block.
        let sample: Vec<usize> =
            (0..KEPT_SAMPLE.min(kept.len())).map(|_| (rng.next() % kept.len() as u64) as usize).collect();
        let mut included = 0usize;
        let mut max_nonce: BTreeMap<usize, u64> = BTreeMap::new();
        for t in sent.iter().chain(sample.iter().map(|&k| &kept[k])) {
            let Some(before) = &t.included else { continue };
            let after = receipt_at(&client, &t.hash).await;
            assert_eq!(after.as_ref(), Some(before), "cycle {cycle} (KILL_SEED={seed}): tx {} lost or moved", t.hash);
            included += 1;
            let m = max_nonce.entry(t.sender).or_default();
            *m = (*m).max(t.nonce);
        }
        for (s, m) in &max_nonce {
            let nonce = client.account(&keys[*s].address(), None).await.unwrap().nonce;
            assert!(nonce >= *m, "cycle {cycle}: sender {s} nonce {nonce} is below included nonce {m}");
        }
        assert_eq!(total_balance(&client).await, supply, "cycle {cycle}: the supply changed");
        // The counter is exactly the successful calls the chain holds:
        // earlier cycles' and this cycle's (including those included
        // after the harness last looked).
        let seen_hits =
            sent.iter().filter(|t| t.is_call && t.included.as_ref().is_some_and(|r| r.2 == "SUCCESS")).count();
        for t in sent.iter_mut().filter(|t| t.included.is_none()) {
            t.included = receipt_at(&client, &t.hash).await;
        }
        let chain_hits = earlier_hits
            + sent.iter().filter(|t| t.is_call && t.included.as_ref().is_some_and(|r| r.2 == "SUCCESS")).count() as i64;
        let n = counter(&client, &contract_text).await;
        assert!(
            n == chain_hits && n >= earlier_hits + seen_hits as i64,
            "cycle {cycle}: counter {n}, on chain {chain_hits}, seen before the kill {seen_hits}"
        );
        earlier_hits = chain_hits;
        eprintln!(
            "kill_load: cycle {cycle}: {} sent, {included} included before the kill checked, all kept",
            sent.len()
        );
        kept.extend(sent.drain(..).filter(|t| t.included.is_some()));
        if kept.len() > MAX_KEPT {
            kept.drain(..kept.len() - MAX_KEPT);
        }
    }

    // The node still produces.
    let body = TxBody::transfer(
        node.client().account(&keys[0].address(), None).await.unwrap().nonce + 1,
        &keys[0].address(),
        &to,
        Amount::ONE_AERGO,
        &chain,
    );
    let client = node.client();
    let hash = client.send_tx(&sign_tx(body, &keys[0])).await.unwrap();
    let r: Value = client.wait_receipt(&hash, WAIT_MS).await.unwrap();
    assert_eq!(r["status"], "SUCCESS", "{r}");
}
