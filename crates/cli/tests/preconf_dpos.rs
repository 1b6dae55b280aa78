//! End to end on a DPoS network of real node processes (4 producers and a
//! follower): transactions sent to the follower are forwarded to the next
//! slot's producer, pre-confirmed in milliseconds and included exactly as
//! promised, each once, across producer hand-offs, and a `sendTxs` batch
//! through the follower is promised whole by one producer; a producer restarted
//! with the test hook that breaks promises is caught: `aergo preconf
//! check` gives the evidence, `aergo evidence submit` convicts it on every
//! node, and the same evidence again is refused.
//!
//! Run it alone with:
//!
//! ```text
//! cargo test -p aergo-cli --test preconf_dpos -- --nocapture
//! ```

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::horde::*;
use common::*;
use serde_json::Value;

const PRODUCERS: usize = 4;
const FOLLOWER: usize = PRODUCERS;

fn spec() -> HordeSpec {
    HordeSpec { producers: PRODUCERS, candidates: 1, block_interval_ms: 1_000, epoch_blocks: 100 }
}

/// `send --wait preconfirmed` of 1 aer from `from` through `node`.
fn send_preconfirmed(h: &Horde, node: usize, from: &str) -> Value {
    cli_at(&h.rpc(node), &["send", "--from", from, "--to", "dev:9", "--amount", "1 aer", "--wait", "preconfirmed"])
}

/// Writes `v` (a promise's JSON) to a file for `aergo preconf ...`.
fn promise_file(dir: &std::path::Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn followers_forward_producers_promise_and_a_broken_promise_is_slashed() {
    let tmp = tempfile::tempdir().unwrap();
    let h = Horde::up(tmp.path(), &spec());
    h.wait_for("every node to see the others and pass height 3", |h| {
        let s = h.status();
        s.iter()
            .all(|n| {
                n["up"] == true
                    && n["peers"].as_u64().unwrap_or(0) >= PRODUCERS as u64
                    && n["height"].as_u64().unwrap_or(0) >= 3
            })
            .then_some(())
    });
    let producers: Vec<String> = (0..PRODUCERS).map(|i| h.peer_id(i)).collect();

    // 1. Through the follower: forwarded, promised by the scheduled
    //    producer, included exactly as promised. Sent one after another
    //    for about three slots, so promises come from several producers.
    let mut promised = Vec::new();
    let mut queued = Vec::new();
    let started = Instant::now();
    let mut latencies_ms = Vec::new();
    for k in 0..24 {
        let from = format!("dev:{}", k % 8);
        let t = Instant::now();
        let sent = send_preconfirmed(&h, FOLLOWER, &from);
        latencies_ms.push(t.elapsed().as_millis() as u64);
        let p = &sent["preconfirmation"];
        if p["raw"].is_string() {
            assert!(producers.contains(&p["producer"].as_str().map(peer_of_hex).unwrap()), "{sent}");
            promised.push((sent["hash"].as_str().unwrap().to_string(), p.clone()));
        } else {
            queued.push(sent.clone());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "{} promised, {} not, in {:?}; CLI round trips (ms): {latencies_ms:?}; not promised: {queued:?}",
        promised.len(),
        queued.len(),
        started.elapsed()
    );
    assert!(promised.len() >= 16, "most sends through the follower are promised: {queued:#?}");
    let by: BTreeSet<String> = promised.iter().map(|(_, p)| p["producer"].as_str().unwrap().to_string()).collect();
    assert!(by.len() >= 2, "promises come from more than one producer across slots: {by:?}");
    let last_height = promised.iter().map(|(_, p)| p["height"].as_u64().unwrap()).max().unwrap();
    h.wait_for("every node to pass the last promised height", |h| {
        h.status().iter().all(|n| n["height"].as_u64().unwrap_or(0) >= last_height).then_some(())
    });
    let dir = tempfile::tempdir().unwrap();
    for (i, (hash, p)) in promised.iter().enumerate() {
        let file = promise_file(dir.path(), &format!("p{i}.json"), p);
        for node in [0, FOLLOWER] {
            let checked = cli_at(&h.rpc(node), &["preconf", "check", &file]);
            assert_eq!(checked["promise"], "kept", "node{node}: {checked}");
        }
        // Included once, where promised.
        let r = receipt(&h.rpc(FOLLOWER), hash).expect("a receipt");
        assert_eq!(r["blockHeight"].as_u64(), p["height"].as_u64(), "{r}");
    }
    // Queued ones (a slot boundary) are included all the same.
    for q in &queued {
        let hash = q["hash"].as_str().unwrap().to_string();
        h.wait_for("a queued transaction's receipt", |h| receipt(&h.rpc(0), &hash));
    }

    // A `sendTxs` batch through the follower: forwarded to the scheduled
    // producer as one batch, promised there together.
    let batch_promised = (0..3).any(|_| send_batch_through(&h, FOLLOWER, &producers));
    assert!(batch_promised, "a batch through the follower is promised whole by one producer");

    // 2. node1 breaks its promises from now on (the test hook).
    let breaker = 1;
    aergo_json(&["--json", "horde", "stop", "--dir", h.dir(), "node1"]);
    let r = std::process::Command::new(AERGO)
        .args(["--json", "horde", "start", "--dir", h.dir(), "node1"])
        .env("AERGO_TEST_BREAK_PROMISES", "1")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let target = u64_of(&h.status()[0], "height");
    h.wait_for("node1 back at the head", |h| {
        (h.status()[breaker]["height"].as_u64().unwrap_or(0) > target).then_some(())
    });
    let breaker_key = aergo_crypto::PrivateKey::from_bytes(&hex::decode(h.key_hex(breaker)).unwrap()).unwrap();
    let breaker_hex = hex::encode(breaker_key.public_key().to_compressed());
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let broken = loop {
        assert!(Instant::now() < deadline, "node1 never promised anything");
        let sent = send_preconfirmed(&h, FOLLOWER, "dev:3");
        let p = &sent["preconfirmation"];
        if p["producer"].as_str() == Some(breaker_hex.as_str()) {
            break p.clone();
        }
        std::thread::sleep(Duration::from_millis(150));
    };
    let height = broken["height"].as_u64().unwrap();
    h.wait_for("the block node1 promised", |h| (h.status()[0]["height"].as_u64().unwrap_or(0) >= height).then_some(()));
    let file = promise_file(dir.path(), "broken.json", &broken);
    let checked = cli_at(&h.rpc(FOLLOWER), &["preconf", "check", &file]);
    assert_eq!(checked["promise"], "broken", "{checked}");
    let evidence = dir.path().join("evidence.hex");
    std::fs::write(&evidence, checked["evidence"].as_str().expect("evidence")).unwrap();
    let evidence = evidence.to_str().unwrap();

    // 3. Anyone submits it: node1 is convicted on every node.
    let sent = cli_at(&h.rpc(0), &["evidence", "submit", evidence, "--from", "dev:5", "--wait"]);
    assert_eq!(sent["receipt"]["status"], "SUCCESS", "{sent}");
    let peer = h.peer_id(breaker);
    h.wait_for("every node to convict node1", |h| {
        (0..h.nodes)
            .all(|i| {
                let o = cli_at(&h.rpc(i), &["evidence", "list"]);
                o["offences"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x["producer"] == peer.as_str() && x["kind"] == "broken_promise"))
            })
            .then_some(())
    });
    let e = refused_at(&h.rpc(2), &["evidence", "submit", evidence, "--from", "dev:6"], 5);
    assert_eq!(e["reason"], "EVIDENCE_REJECTED", "{e}");
    // The kept promise is no evidence.
    let (_, kept) = &promised[0];
    let checked = cli_at(&h.rpc(0), &["preconf", "check", &promise_file(dir.path(), "kept.json", kept)]);
    assert!(checked.get("evidence").is_none(), "{checked}");
}

/// The libp2p peer id of a compressed public key in hex.
/// Five transfers from dev:8 in one `sendTxs` with `wait: "preconfirmed"`
/// through `node`; true when all five are promised by one producer, in
/// order, each marked as forwarded to it (false: a slot boundary fell in
/// the batch, and the caller may try again).
fn send_batch_through(h: &Horde, node: usize, producers: &[String]) -> bool {
    let url = h.rpc(node);
    let key = aergo_client::keys::dev_account(8).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let call = |method: &str, params: Value| {
        let body = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let (status, v) = rt.block_on(post_raw(&url, body.to_string().into_bytes()));
        assert_eq!(status, 200, "{v}");
        v["result"].clone()
    };
    let status = call("status", serde_json::json!([]));
    let chain = aergo_types::Hash::from_base58(status["chainIdHash"].as_str().unwrap()).unwrap();
    let account = call("getAccount", serde_json::json!([key.address().to_string()]));
    let next = account["nextNonce"].as_u64().unwrap();
    let to = aergo_client::keys::dev_account(9).unwrap().address();
    let raw: Vec<String> = (0..5)
        .map(|i| {
            let body =
                aergo_types::TxBody::transfer(next + i, &key.address(), &to, aergo_types::Amount::from_aer(1), &chain);
            hex::encode(aergo_crypto::sign_tx(body, &key).encode())
        })
        .collect();
    let out = call("sendTxs", serde_json::json!([raw, { "wait": "preconfirmed" }]));
    let entries = out.as_array().unwrap();
    assert_eq!(entries.len(), 5, "{out}");
    let promised: Vec<&Value> = entries.iter().filter(|e| e["preconfirmation"]["raw"].is_string()).collect();
    if promised.len() < 5 {
        eprintln!("batch not promised whole (a slot boundary?): {out}");
        return false;
    }
    let producer = promised[0]["forwardedTo"].as_str().unwrap_or_default();
    assert!(producers.iter().any(|p| p == producer), "{out}");
    let indexes: Vec<u64> = promised.iter().map(|e| e["preconfirmation"]["index"].as_u64().unwrap()).collect();
    for (e, w) in promised.iter().zip(indexes.windows(2).map(|w| w[1] == w[0] + 1).chain([true])) {
        assert_eq!(e["forwardedTo"].as_str(), Some(producer), "{out}");
        assert_eq!(peer_of_hex(e["preconfirmation"]["producer"].as_str().unwrap()), producer, "{out}");
        assert!(w, "consecutive positions in the producer's open block: {out}");
    }
    true
}

fn peer_of_hex(hex_key: &str) -> String {
    aergo_crypto::PublicKey::from_compressed(&hex::decode(hex_key).unwrap()).unwrap().peer_id()
}
