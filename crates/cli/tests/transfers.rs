//! End to end: a real dev node process; transfers through the CLI and
//! through raw JSON-RPC; exact balances, nonces, receipts and fees; the
//! WebSocket block subscription.

mod common;

use aergo_client::client::BlockSubscription;
use aergo_client::keys::dev_account;
use aergo_crypto::sign_tx;
use aergo_types::{Amount, TxBody};
use common::*;
use serde_json::{json, Value};

/// Gas of a plain transfer and the genesis gas price (50 gaer).
const TRANSFER_GAS: u64 = 100_000;
const GAS_PRICE_AER: u128 = 50_000_000_000;
const PAYLOAD_GAS_PER_BYTE: u64 = 5;

fn balance_at(url: &str, who: &str, height: u64) -> (u128, u64) {
    let v = aergo_json(&["--rpc", url, "--json", "balance", who, "--at", &height.to_string()]);
    (aer(&v["balance"]), v["nonce"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_through_cli_and_rpc_pay_exact_amounts_and_fees() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.clone();
    assert!(node.banner.iter().any(|l| l.contains("dev:9")), "banner lists dev accounts: {:?}", node.banner);
    assert!(node.banner.iter().any(|l| l.starts_with("try: aergo send")), "{:?}", node.banner);

    let status = aergo_json(&["--rpc", &url, "--json", "status"]);
    let coinbase = status["producer"].as_str().unwrap().to_string();
    let gas_price = aer(&status["gasPrice"]);
    assert_eq!(gas_price, GAS_PRICE_AER);
    let dev0 = dev_account(0).unwrap().address().to_string();
    let dev1 = dev_account(1).unwrap().address().to_string();

    // 1. Through the CLI, waiting for the receipt.
    let sent = aergo_json(&[
        "--rpc",
        &url,
        "--json",
        "send",
        "--from",
        "dev:0",
        "--to",
        "dev:1",
        "--amount",
        "1.5 aergo",
        "--wait",
    ]);
    let receipt = &sent["receipt"];
    assert_eq!(receipt["status"], "SUCCESS", "{sent}");
    assert_eq!(sent["nonce"], 1);
    assert_eq!(receipt["gasUsed"], TRANSFER_GAS);
    let fee = aer(&receipt["fee"]);
    assert_eq!(fee, TRANSFER_GAS as u128 * GAS_PRICE_AER);
    assert_eq!(fee, Amount::parse("0.005 aergo").unwrap().aer());
    let h = receipt["blockHeight"].as_u64().unwrap();
    let amount = Amount::parse("1.5 aergo").unwrap().aer();
    let (s0, n0) = balance_at(&url, &dev0, h - 1);
    let (s1, n1) = balance_at(&url, &dev0, h);
    let (r0, _) = balance_at(&url, &dev1, h - 1);
    let (r1, _) = balance_at(&url, &dev1, h);
    let (c0, _) = balance_at(&url, &coinbase, h - 1);
    let (c1, _) = balance_at(&url, &coinbase, h);
    assert_eq!(s0 - s1, amount + fee, "sender pays amount + fee");
    assert_eq!(r1 - r0, amount, "recipient gets the amount");
    assert_eq!(c1 - c0, fee, "the producer's coinbase gets the fee");
    assert_eq!((n0, n1), (0, 1));

    // The tx, receipt and block commands agree with what was sent.
    let hash = sent["hash"].as_str().unwrap();
    let tx = aergo_json(&["--rpc", &url, "--json", "tx", hash]);
    assert_eq!((tx["status"].as_str(), tx["blockHeight"].as_u64()), (Some("committed"), Some(h)));
    assert_eq!((tx["from"].as_str(), tx["to"].as_str()), (Some(dev0.as_str()), Some(dev1.as_str())));
    assert_eq!(aergo_json(&["--rpc", &url, "--json", "receipt", hash]), *receipt);
    let block = aergo_json(&["--rpc", &url, "--json", "block", &h.to_string()]);
    assert_eq!(block["txs"], json!([hash]));
    assert_eq!(block["coinbase"].as_str(), Some(coinbase.as_str()));
    let by_hash = aergo_json(&["--rpc", &url, "--json", "block", block["hash"].as_str().unwrap(), "--full"]);
    assert_eq!(by_hash["txs"][0]["hash"].as_str(), Some(hash));
    let text = aergo(&["--rpc", &url, "balance", "dev:1"]);
    assert!(text.ok && text.stdout.starts_with("1000001.5 aergo"), "{}", text.stdout);

    // 2. Through raw JSON-RPC: a transfer with a payload, signed here.
    let client = node.client();
    let key = dev_account(2).unwrap();
    let to = dev_account(3).unwrap().address();
    let st = client.status().await.unwrap();
    let acct = client.account(&key.address(), None).await.unwrap();
    assert_eq!(acct.next_nonce, Some(1));
    let payload = b"hello aergo".to_vec();
    let body =
        TxBody::transfer(1, &key.address(), &to, Amount::from_aer(7), &st.chain_id_hash).with_payload(payload.clone());
    let tx = sign_tx(body, &key);
    let raw = hex::encode(tx.encode());
    let answer = client.call("sendTx", json!([raw])).await.unwrap();
    assert_eq!(answer["hash"].as_str().unwrap(), tx.hash().unwrap().to_string());
    let r = client.wait_receipt(&tx.hash().unwrap(), WAIT_MS).await.unwrap();
    let gas = TRANSFER_GAS + PAYLOAD_GAS_PER_BYTE * payload.len() as u64;
    assert_eq!(r["gasUsed"], gas);
    let fee2 = aer(&r["fee"]);
    assert_eq!(fee2, gas as u128 * GAS_PRICE_AER);
    let h2 = r["blockHeight"].as_u64().unwrap();
    let before = client.account(&key.address(), Some(h2 - 1)).await.unwrap();
    let after = client.account(&key.address(), Some(h2)).await.unwrap();
    assert_eq!(before.balance.aer() - after.balance.aer(), 7 + fee2);
    assert_eq!(after.nonce, 1);
    let to_after = client.account(&to, Some(h2)).await.unwrap();
    assert_eq!(to_after.balance.aer(), Amount::from_aergo(1_000_000).unwrap().aer() + 7);
    let got = client.call("getTx", json!([tx.hash().unwrap().to_string()])).await.unwrap();
    assert_eq!(got["payload"], hex::encode(&payload));

    // 3. Several pending transfers from one account in one batch: nonces
    // in order, all included.
    let key = dev_account(4).unwrap();
    let calls: Vec<(&str, Value)> = (1..=5u64)
        .map(|n| {
            let body = TxBody::transfer(n, &key.address(), &to, Amount::from_aer(1), &st.chain_id_hash);
            ("sendTx", json!([hex::encode(sign_tx(body, &key).encode())]))
        })
        .collect();
    let outcomes = client.batch(&calls).await.unwrap();
    let hashes: Vec<String> = outcomes.into_iter().map(|o| o.unwrap()["hash"].as_str().unwrap().to_string()).collect();
    assert_eq!(client.account(&key.address(), None).await.unwrap().next_nonce, Some(6));
    for h in &hashes {
        client.wait_receipt(&aergo_types::Hash::from_base58(h).unwrap(), WAIT_MS).await.unwrap();
    }
    assert_eq!(client.account(&key.address(), None).await.unwrap().nonce, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscription_announces_the_block_with_a_sent_tx() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let client = node.client();
    let mut sub = BlockSubscription::connect(&client.ws_url()).await.unwrap();
    let sent =
        aergo_json(&["--rpc", &node.url, "--json", "send", "--from", "dev:5", "--to", "dev:6", "--amount", "3 gaer"]);
    let hash = sent["hash"].as_str().unwrap().to_string();
    assert!(sent["receipt"].is_null(), "no --wait, no receipt");
    loop {
        let block = sub.next_block(WAIT_MS).await.expect("a block notification");
        let txs = block["txs"].as_array().unwrap();
        if txs.iter().any(|t| t.as_str() == Some(hash.as_str())) {
            assert_eq!(block["txCount"], txs.len());
            let head = client.status().await.unwrap();
            assert!(head.height >= block["height"].as_u64().unwrap());
            break;
        }
    }
}

#[test]
fn demo_runs_the_main_job_in_one_command() {
    let v = aergo_json(&["--json", "demo"]);
    assert_eq!(v["receipt"]["status"], "SUCCESS", "{v}");
    let (amount, fee) = (aer(&v["amount"]), aer(&v["fee"]));
    assert_eq!(amount, Amount::parse("1.5 aergo").unwrap().aer());
    assert_eq!(fee, TRANSFER_GAS as u128 * GAS_PRICE_AER);
    assert_eq!(aer(&v["sender"]["before"]) - aer(&v["sender"]["after"]), amount + fee);
    assert_eq!(aer(&v["recipient"]["after"]) - aer(&v["recipient"]["before"]), amount);
    assert_eq!(aer(&v["coinbase"]["after"]) - aer(&v["coinbase"]["before"]), fee);
}

#[test]
fn bench_smoke_run_reports_a_bench_line() {
    // Tiny and not timed: checks the benchmark's path works end to end.
    let r = aergo(&[
        "bench",
        "transfer",
        "--quick",
        "--txs",
        "300",
        "--senders",
        "3",
        "--connections",
        "2",
        "--batch",
        "50",
    ]);
    assert!(r.ok, "{}\n{}", r.stdout, r.stderr);
    let last = r.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("BENCH transfer tps="), "{last}");
    for key in ["verify_per_sec=", "ratio=", "txs=300 ", "blocks="] {
        assert!(last.contains(key), "{key} missing in {last}");
    }
}
