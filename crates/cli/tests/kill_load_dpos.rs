//! Kills under load on a DPoS network: four producers (`aergo horde`) take
//! signed transfers and contract calls, each sender through its own node,
//! while one producer
//! at a time is SIGKILLed at a pseudo-random moment and restarted on its
//! data directory. After every cycle, once the network has finalized past
//! the load:
//!
//! - every node, the restarted one included, has every transaction of the
//!   cycle that any node included, in the same block at the same height,
//!   and a sample of the earlier cycles' transactions too (final means
//!   kept: a kill must not revert or fork a finalized block);
//! - every node has the same block at every height of the cycle;
//! - the total of all balances is still the supply on every node, each
//!   sender's nonce covers its included transactions, and the contract's
//!   counter at the LIB is, on every node, the number of successful calls
//!   in blocks up to it;
//! - the load got through (transactions were included in every cycle).
//!
//! Senders are fresh accounts per cycle (funded at the start), so a
//! transaction lost with a killed node's pool leaves no nonce gap for the
//! next cycle. `KILL_CYCLES` (default 3, what CI runs) and `KILL_SEED`
//! (printed, to replay a run) as in `kill_load.rs`; the long run:
//! `KILL_CYCLES=100 cargo test -p aergo-cli --release --test kill_load_dpos -- --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aergo_client::client::RpcClient;
use aergo_client::keys::dev_account;
use aergo_crypto::{sign_tx, PrivateKey};
use aergo_types::payload::encode_call_payload;
use aergo_types::{Address, Amount, Hash, TxBody, TxType};
use common::horde::*;
use common::load::{receipt_at, total_balance, Rng, COUNTER};
use common::*;
use serde_json::json;

const PRODUCERS: usize = 4;
/// One sender per node, each sending through its own node only, so its
/// nonces reach one pool in order.
const SENDERS: usize = PRODUCERS;
/// Earlier cycles' transactions checked again after each cycle.
const KEPT_SAMPLE: usize = 32;
/// The account that funds the senders and the one that receives.
const FUNDER: u32 = 6;
const RECEIVER: u32 = 9;
/// The account that deploys the counter.
const DEPLOYER: u32 = 8;

fn spec() -> HordeSpec {
    HordeSpec { producers: PRODUCERS, candidates: 0, block_interval_ms: 1_000, epoch_blocks: 1_000 }
}

/// A transaction the load sent.
#[derive(Clone)]
struct Sent {
    hash: Hash,
    sender: usize,
    nonce: u64,
    is_call: bool,
}

/// The counter at `height`.
async fn counter_at(client: &RpcClient, contract: &str, height: u64) -> i64 {
    let r = client
        .call("query", json!(["SELECT n FROM hits WHERE k = 1", {"contract": contract, "height": height}]))
        .await
        .unwrap();
    r["rows"][0][0].as_i64().unwrap_or_else(|| panic!("{r}"))
}

async fn block_hash(client: &RpcClient, height: u64) -> String {
    let b = client.call("getBlock", json!([height, false])).await.unwrap();
    b["hash"].as_str().unwrap_or_else(|| panic!("block {height}: {b}")).to_string()
}

/// Sends transfers and (every third) calls of `hit` until `stop`: sender
/// `s` through node `s`. A sender whose node stops answering (it was
/// killed) stops for the cycle.
async fn load(
    urls: Vec<String>,
    keys: Vec<PrivateKey>,
    chain: Hash,
    (to, contract): (Address, Address),
    stop: Arc<AtomicBool>,
) -> Vec<Sent> {
    let clients: Vec<RpcClient> = urls.iter().map(|u| RpcClient::new(u).unwrap()).collect();
    let mut next = vec![1u64; keys.len()];
    let mut live = vec![true; keys.len()];
    let mut sent = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && live.iter().any(|l| *l) {
        let s = (i % keys.len() as u64) as usize;
        i += 1;
        if !live[s] {
            continue;
        }
        let is_call = i.is_multiple_of(3);
        let body = if is_call {
            TxBody::new(TxType::Call, next[s], &keys[s].address(), Some(&contract), Amount::ZERO, &chain)
                .with_payload(encode_call_payload("hit", &[]))
        } else {
            TxBody::transfer(next[s], &keys[s].address(), &to, Amount::from_aer(1_000 + u128::from(i)), &chain)
        };
        match clients[s].send_tx(&sign_tx(body, &keys[s])).await {
            Ok(hash) => {
                sent.push(Sent { hash, sender: s, nonce: next[s], is_call });
                next[s] += 1;
            }
            Err(e) if e.reason() == Some("ACCOUNT_FULL") => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => live[s] = false,
        }
        // A steady load the two shared cores can carry beside four nodes.
        if i.is_multiple_of(8) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    sent
}

#[test]
fn kills_under_load_on_a_dpos_network_keep_every_final_transaction() {
    let cycles: usize = std::env::var("KILL_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let seed: u64 = std::env::var("KILL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_0002);
    eprintln!("kill_load_dpos: {cycles} cycles, KILL_SEED={seed}");
    let mut rng = Rng(seed.max(1));
    let tmp = tempfile::tempdir().unwrap();
    let h = Horde::up(tmp.path(), &spec());
    h.wait_for("four producers connected with a LIB", |h| {
        let s = h.status();
        s.iter()
            .all(|n| {
                n["up"] == true
                    && n["peers"].as_u64().unwrap_or(0) >= (PRODUCERS - 1) as u64
                    && n["lib"].as_u64().unwrap_or(0) >= 2
            })
            .then_some(())
    });
    let urls: Vec<String> = (0..PRODUCERS).map(|i| h.rpc(i)).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client0 = RpcClient::new(&urls[0]).unwrap();
    let chain = rt.block_on(client0.status()).unwrap().chain_id_hash;
    let supply = rt.block_on(total_balance(&client0));
    let to = dev_account(RECEIVER).unwrap().address();
    let source = tmp.path().join("counter.sql");
    std::fs::write(&source, COUNTER).unwrap();
    let deployer = format!("dev:{DEPLOYER}");
    let d = cli_at(&urls[0], &["contract", "deploy", source.to_str().unwrap(), "--from", &deployer, "--wait"]);
    let contract_text = d["contract"].as_str().unwrap_or_else(|| panic!("{d}")).to_string();
    let contract = Address::parse(&contract_text).unwrap();

    // Fresh senders for every cycle, funded through node 0.
    let senders: Vec<Vec<PrivateKey>> =
        (0..cycles).map(|_| (0..SENDERS).map(|_| PrivateKey::generate().unwrap()).collect()).collect();
    let funder = dev_account(FUNDER).unwrap();
    rt.block_on(async {
        let mut nonce = client0.account(&funder.address(), None).await.unwrap().nonce + 1;
        let mut hashes = Vec::new();
        for key in senders.iter().flatten() {
            let body =
                TxBody::transfer(nonce, &funder.address(), &key.address(), Amount::from_aer(10u128.pow(21)), &chain);
            hashes.push(client0.send_tx(&sign_tx(body, &funder)).await.unwrap());
            nonce += 1;
        }
        for hash in &hashes {
            let r = client0.wait_receipt(hash, 60_000).await.unwrap();
            assert_eq!(r["status"], "SUCCESS", "funding: {r}");
        }
    });

    let mut kept: Vec<(Hash, (u64, String, String))> = Vec::new();
    let mut checked_to = 0u64;
    // Calls not yet seen in a final block (a call stranded behind a lost
    // nonce stays here), and the successful ones that were.
    let mut open_calls: Vec<Hash> = Vec::new();
    let mut hits = 0i64;
    for (cycle, keys) in senders.iter().enumerate() {
        let victim = (rng.next() % PRODUCERS as u64) as usize;
        let stop = Arc::new(AtomicBool::new(false));
        let task = rt.spawn(load(urls.clone(), keys.clone(), chain, (to.clone(), contract.clone()), stop.clone()));
        std::thread::sleep(Duration::from_millis(500 + rng.next() % 1_500));
        let killed = aergo_json(&["--json", "horde", "stop", "--dir", h.dir(), &format!("node{victim}"), "--kill"]);
        assert_eq!(killed[0]["outcome"], "killed", "{killed}");
        std::thread::sleep(Duration::from_millis(1_000 + rng.next() % 1_500));
        aergo_json(&["--json", "horde", "start", "--dir", h.dir(), &format!("node{victim}")]);
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        let sent = rt.block_on(task).unwrap();

        // Settle: every node up again and final past everything the load
        // can have put in a block.
        let s = h.status();
        let top = s.iter().filter_map(|n| n["height"].as_u64()).max().unwrap();
        let lib = h.wait_for("every node final past the load", |h| {
            let s = h.status();
            let libs: Vec<u64> = s.iter().map(|n| n["lib"].as_u64().unwrap_or(0)).collect();
            (s.iter().all(|n| n["up"] == true) && libs.iter().all(|l| *l > top + 1))
                .then(|| *libs.iter().min().unwrap())
        });

        rt.block_on(async {
            let clients: Vec<RpcClient> = urls.iter().map(|u| RpcClient::new(u).unwrap()).collect();
            // Every node's view of each transaction up to the LIB (final
            // on every node); a pool may still hold some, to be included
            // later, above it.
            let mut included: Vec<(Hash, (u64, String, String))> = Vec::new();
            let mut max_nonce: BTreeMap<usize, u64> = BTreeMap::new();
            for t in &sent {
                let mut views = Vec::new();
                for c in &clients {
                    views.push(receipt_at(c, &t.hash).await.filter(|r| r.0 <= lib));
                }
                assert!(
                    views.iter().all(|v| v == &views[0]),
                    "cycle {cycle} (KILL_SEED={seed}, node{victim} killed): nodes disagree on tx {}: {views:?}",
                    t.hash
                );
                if let Some(r) = views[0].clone() {
                    let m = max_nonce.entry(t.sender).or_default();
                    *m = (*m).max(t.nonce);
                    included.push((t.hash, r));
                }
            }
            assert!(!included.is_empty(), "cycle {cycle}: no transaction of {} was included", sent.len());
            for (s, m) in &max_nonce {
                let nonce = clients[0].account(&keys[*s].address(), None).await.unwrap().nonce;
                assert!(nonce >= *m, "cycle {cycle}: sender {s} nonce {nonce} below its included nonce {m}");
            }
            // Earlier cycles' transactions: still final, in place, everywhere.
            for _ in 0..KEPT_SAMPLE.min(kept.len()) {
                let (hash, before) = &kept[(rng.next() % kept.len() as u64) as usize];
                for (i, c) in clients.iter().enumerate() {
                    let after = receipt_at(c, hash).await;
                    assert_eq!(after.as_ref(), Some(before), "cycle {cycle}: node{i} lost or moved final tx {hash}");
                }
            }
            // One chain: the same block at every height of the cycle.
            for height in checked_to + 1..=lib {
                let first = block_hash(&clients[0], height).await;
                for (i, c) in clients.iter().enumerate().skip(1) {
                    assert_eq!(block_hash(c, height).await, first, "cycle {cycle}: node{i} forks at height {height}");
                }
            }
            for (i, c) in clients.iter().enumerate() {
                assert_eq!(total_balance(c).await, supply, "cycle {cycle}: node{i}'s supply changed");
            }
            // The counter: every successful call final by now, no other.
            open_calls.extend(sent.iter().filter(|t| t.is_call).map(|t| t.hash));
            let mut still_open = Vec::new();
            for hash in open_calls.drain(..) {
                match receipt_at(&clients[0], &hash).await.filter(|r| r.0 <= lib) {
                    Some(r) => hits += i64::from(r.2 == "SUCCESS"),
                    None => still_open.push(hash),
                }
            }
            open_calls = still_open;
            for (i, c) in clients.iter().enumerate() {
                let n = counter_at(c, &contract_text, lib).await;
                assert_eq!(n, hits, "cycle {cycle}: node{i}'s counter at {lib}");
            }
            eprintln!(
                "kill_load_dpos: cycle {cycle}: node{victim} killed, {} sent, {} final on every node, heights to {lib} agree, counter {hits}",
                sent.len(),
                included.len()
            );
            kept.extend(included);
        });
        checked_to = lib;
    }
}
