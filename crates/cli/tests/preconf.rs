//! End to end, pre-confirmations on a dev node: `aergo send --wait
//! preconfirmed` gets the producer's signed promise in milliseconds; it
//! verifies offline and tampering does not; a promised nonce cannot be
//! replaced; the node is killed (SIGKILL) before the promised block is
//! sealed, and the restarted node seals it exactly as promised.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Long enough that the promised block is still open when the node is
/// killed, even on a slow CI box.
const INTERVAL_MS: &str = "6000";

fn check(url: &str, file: &str) -> Value {
    cli_at(url, &["preconf", "check", file])
}

/// Polls `aergo preconf check` until the promise is no longer pending.
fn settled(url: &str, file: &str) -> Value {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS);
    loop {
        let v = check(url, file);
        if v["promise"] != "pending" || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn promises_are_signed_verifiable_and_kept_across_a_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let mut node = NodeProc::start_with(&dir, INTERVAL_MS, &["--dev"], "info");
    // A first block, so that the next one is due a whole interval later.
    let first = cli_at(&node.url, &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aergo", "--wait"]);
    let height = first["receipt"]["blockHeight"].as_u64().unwrap();

    let mut files = Vec::new();
    for (i, to) in ["dev:2", "dev:3"].iter().enumerate() {
        let sent = cli_at(
            &node.url,
            &["send", "--from", "dev:0", "--to", to, "--amount", "2 aergo", "--wait", "preconfirmed"],
        );
        let p = &sent["preconfirmation"];
        assert_eq!(p["txHash"], sent["hash"], "{sent}");
        assert_eq!(p["height"].as_u64(), Some(height + 1), "{sent}");
        assert_eq!(p["index"].as_u64(), Some(i as u64), "{sent}");
        assert_eq!(p["status"], "SUCCESS");
        let file = tmp.path().join(format!("preconf-{i}.json"));
        std::fs::write(&file, sent.to_string()).unwrap();
        files.push(file.to_string_lossy().to_string());
    }

    // Offline: valid, and signed by the node's key.
    let v = aergo_json(&["--json", "preconf", "verify", &files[0]]);
    assert_eq!(v["valid"], true);
    let status = cli_at(&node.url, &["status"]);
    assert_eq!(v["producerPeerId"], status["peerId"], "{v} {status}");
    // Tampered: a promised result changed without the key.
    let mut forged: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let raw = forged["preconfirmation"]["raw"].as_str().unwrap().to_string();
    let mut bytes = hex::decode(&raw).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    forged["preconfirmation"]["raw"] = Value::String(hex::encode(&bytes));
    let forged_file = tmp.path().join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let err = aergo_fails(&["preconf", "verify", &forged_file.to_string_lossy()]);
    assert!(err.contains("does not verify"), "{err}");
    let r = aergo(&["--rpc", &node.url, "--json", "preconf", "check", &forged_file.to_string_lossy()]);
    assert!(!r.ok && r.stdout.contains("does not verify"), "{}", r.stdout);
    let r = aergo(&["--rpc", &node.url, "--json", "preconf", "check", "-"]);
    assert!(!r.ok, "an empty pre-confirmation is refused: {}", r.stdout);

    // The promised nonce 3 of dev:0 cannot be replaced, whatever it offers.
    let refused =
        refused_at(&node.url, &["send", "--from", "dev:0", "--to", "dev:4", "--amount", "5 aergo", "--nonce", "3"], 5);
    assert_eq!(refused["reason"], "NONCE_TOO_LOW", "{refused}");

    // The block is not sealed yet; kill the producer before it is.
    assert_eq!(check(&node.url, &files[1])["promise"], "pending");
    node.kill();
    let node = NodeProc::start_with(&dir, INTERVAL_MS, &["--dev"], "info");
    for file in &files {
        let v = settled(&node.url, file);
        assert_eq!(v["promise"], "kept", "{v}\n{}", node.stderr());
    }
    let block = cli_at(&node.url, &["block", &(height + 1).to_string()]);
    assert_eq!(block["txCount"].as_u64().or(block["txs"].as_array().map(|a| a.len() as u64)), Some(2), "{block}");
}

const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");
const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");

/// A contract call promised with its return value, and `sendTx`'s other
/// waits over raw JSON-RPC: `included` and `final` answer with the
/// receipt, bad options are refused, and `checkPreconf` refuses garbage.
#[test]
fn contract_calls_are_promised_with_their_result_and_send_tx_waits_for_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let source = format!(
        "{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n\
         CREATE FUNCTION constructor() RETURNS VOID AS $$\n\
         BEGIN\n    INSERT INTO accounts VALUES ('alice', 100);\n    INSERT INTO accounts VALUES ('bob', 0);\nEND;\n$$ LANGUAGE plpgsql;\n"
    );
    let file = tmp.path().join("wp.sql");
    std::fs::write(&file, source).unwrap();
    let deployed = cli_at(&node.url, &["contract", "deploy", &file.to_string_lossy(), "--from", "dev:0", "--wait"]);
    let contract = deployed["contract"].as_str().unwrap().to_string();
    let called = cli_at(
        &node.url,
        &["contract", "call", &contract, "transfer", "alice", "bob", "30", "--from", "dev:1", "--wait", "preconfirmed"],
    );
    let p = &called["preconfirmation"];
    assert_eq!((p["status"].as_str(), p["ret"].as_str()), (Some("SUCCESS"), Some("\"OK\"")), "{called}");
    // Its promise, too, is kept by the block.
    let file = tmp.path().join("call.json");
    std::fs::write(&file, called.to_string()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(WAIT_MS);
    loop {
        let v = cli_at(&node.url, &["preconf", "check", &file.to_string_lossy()]);
        if v["promise"] == "kept" {
            break;
        }
        assert!(v["promise"] == "pending" && std::time::Instant::now() < deadline, "{v}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Raw sendTx with the block waits.
    let client = node.client();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = aergo_client::keys::dev_account(2).unwrap();
    let to = aergo_client::keys::dev_account(3).unwrap().address();
    let status = rt.block_on(client.status()).unwrap();
    let sign = |nonce: u64| {
        let body = aergo_types::TxBody::transfer(
            nonce,
            &key.address(),
            &to,
            aergo_types::Amount::ONE_AERGO,
            &status.chain_id_hash,
        );
        hex::encode(aergo_crypto::sign_tx(body, &key).encode())
    };
    for (nonce, wait) in [(1, "included"), (2, "final")] {
        let v = rt.block_on(client.call("sendTx", serde_json::json!([sign(nonce), { "wait": wait }]))).unwrap();
        assert!(v["status"] == "included" || v["status"] == "final", "{v}");
        assert_eq!(v["receipt"]["status"], "SUCCESS", "{v}");
        assert!(v["blockNo"].as_u64().unwrap() >= 1, "{v}");
    }
    let bad = rt.block_on(client.call("sendTx", serde_json::json!([sign(3), { "wait": "soon" }]))).unwrap_err();
    assert!(bad.to_string().contains("expected none, preconfirmed, included or final"), "{bad}");
    let bad = rt.block_on(client.call("sendTx", serde_json::json!([sign(3), { "timeoutMs": 600_000 }]))).unwrap_err();
    assert!(bad.to_string().contains("timeoutMs"), "{bad}");
    let bad = rt.block_on(client.call("checkPreconf", serde_json::json!(["00ff"]))).unwrap_err();
    assert!(bad.to_string().contains("preconf"), "{bad}");
}
