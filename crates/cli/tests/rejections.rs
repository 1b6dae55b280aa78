//! End to end: every way a submission is refused gives a clear error and
//! changes nothing (same head, state root, balances, nonces and pool).

mod common;

use aergo_client::client::RpcClient;
use aergo_client::keys::dev_account;
use aergo_crypto::{sign_tx, PrivateKey};
use aergo_types::{Amount, ChainId, Hash, Tx, TxBody};
use common::*;
use serde_json::Value;

/// Everything a rejected submission must leave alone.
#[derive(Debug, PartialEq)]
struct Snapshot {
    height: u64,
    head: Hash,
    state_root: Hash,
    pool: Value,
    accounts: Vec<(Amount, u64, Option<u64>)>,
}

async fn snapshot(client: &RpcClient, who: &[&PrivateKey]) -> Snapshot {
    let s = client.status().await.unwrap();
    let mut accounts = Vec::new();
    for k in who {
        let a = client.account(&k.address(), None).await.unwrap();
        accounts.push((a.balance, a.nonce, a.next_nonce));
    }
    Snapshot { height: s.height, head: s.head_hash, state_root: s.state_root, pool: s.raw["pool"].clone(), accounts }
}

/// Submits `tx` and returns the node's error message, which must carry
/// the rejection code.
async fn rejected(client: &RpcClient, tx: &Tx) -> String {
    let e = client.send_tx(tx).await.expect_err("the node must refuse this tx");
    assert_eq!(e.rpc_code(), Some(aergo_rpc::REJECTED), "{e}");
    e.to_string()
}

fn transfer(key: &PrivateKey, nonce: u64, amount: Amount, chain: &Hash) -> TxBody {
    TxBody::transfer(nonce, &key.address(), &dev_account(9).unwrap().address(), amount, chain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_clear_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let client = node.client();
    let key = dev_account(0).unwrap();
    let other = dev_account(1).unwrap();
    let chain = client.status().await.unwrap().chain_id_hash;
    let one = Amount::ONE_AERGO;

    // A first transfer commits, so the replay below has a used nonce.
    let first = sign_tx(transfer(&key, 1, one, &chain), &key);
    let hash = client.send_tx(&first).await.unwrap();
    client.wait_receipt(&hash, WAIT_MS).await.unwrap();
    let before = snapshot(&client, &[&key, &other]).await;
    assert_eq!(before.accounts[0].1, 1);

    // Bad signature: signed by another key.
    let forged = sign_tx(transfer(&key, 2, one, &chain), &other);
    let e = rejected(&client, &forged).await;
    assert!(e.contains("bad signature"), "{e}");

    // Bad signature: a valid signature with r altered.
    let mut body = transfer(&key, 2, one, &chain);
    aergo_crypto::sign_tx_body(&mut body, &key);
    body.sign[10] ^= 0x01;
    let e = rejected(&client, &Tx::new(body)).await;
    assert!(e.contains("signature"), "{e}");

    // High s (accepted, as the Go node does, for the JavaScript SDK): the
    // malleated twin of the committed tx is a replay of its nonce.
    let mut twin = first.body.clone().unwrap();
    twin.sign = high_s_der(&twin.sign);
    let e = rejected(&client, &Tx::new(twin)).await;
    assert!(e.contains("already used"), "{e}");

    // Wrong chain id.
    let elsewhere = ChainId::new(0, false, false, "other.chain", "sbp").unwrap().hash();
    let e = rejected(&client, &sign_tx(transfer(&key, 2, one, &elsewhere), &key)).await;
    assert!(e.contains("chain id"), "{e}");

    // Replayed nonce: the committed tx again, and a new tx reusing nonce 1.
    let e = rejected(&client, &first).await;
    assert!(e.contains("already used"), "{e}");
    let e = rejected(&client, &sign_tx(transfer(&key, 1, Amount::ONE_GAER, &chain), &key)).await;
    assert!(e.contains("nonce 1") && e.contains("already used"), "{e}");

    // Nonce gap beyond the pool's limit (256 by default).
    let e = rejected(&client, &sign_tx(transfer(&key, 1 + 257, one, &chain), &key)).await;
    assert!(e.contains("too far ahead") && e.contains("256"), "{e}");

    // Insufficient balance for amount plus fee: exactly the balance.
    let all = before.accounts[0].0;
    let e = rejected(&client, &sign_tx(transfer(&key, 2, all, &chain), &key)).await;
    assert!(e.contains("insufficient balance"), "{e}");

    // Oversized payload: above the pool's 128 KiB (the tx stays below the
    // 200 KiB tx limit, so the payload limit is what refuses it).
    let body = transfer(&key, 2, one, &chain).with_payload(vec![0xAB; 130 * 1024]);
    let e = rejected(&client, &sign_tx(body, &key)).await;
    assert!(e.contains("payload of 133120 bytes exceeds the limit of 131072"), "{e}");

    // Malformed JSON-RPC.
    let (_, v) = post_raw(&node.url, b"{not json".to_vec()).await;
    assert_eq!(v["error"]["code"], aergo_rpc::PARSE_ERROR);
    assert!(v["error"]["message"].as_str().unwrap().contains("invalid JSON"), "{v}");
    let (_, v) = post_raw(&node.url, br#"{"jsonrpc":"1.0","id":1,"method":"status"}"#.to_vec()).await;
    assert_eq!(v["error"]["code"], aergo_rpc::INVALID_REQUEST, "{v}");
    let (_, v) = post_raw(&node.url, br#"{"jsonrpc":"2.0","id":2,"method":"sendTx","params":["zz"]}"#.to_vec()).await;
    assert_eq!(v["error"]["code"], aergo_rpc::INVALID_PARAMS, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("not hex"), "{v}");
    let (_, v) =
        post_raw(&node.url, br#"{"jsonrpc":"2.0","id":3,"method":"sendTx","params":["0a0b0c"]}"#.to_vec()).await;
    assert_eq!(v["error"]["code"], aergo_rpc::INVALID_PARAMS, "{v}");
    let (_, v) = post_raw(&node.url, br#"{"jsonrpc":"2.0","id":4,"method":"noSuchMethod"}"#.to_vec()).await;
    assert_eq!(v["error"]["code"], aergo_rpc::METHOD_NOT_FOUND, "{v}");

    // Oversized request: 2 MiB against the 1 MiB limit.
    let big = format!(r#"{{"jsonrpc":"2.0","id":5,"method":"sendTx","params":["{}"]}}"#, "00".repeat(1 << 20));
    let (status, v) = post_raw(&node.url, big.into_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(v["error"]["code"], aergo_rpc::LIMIT_EXCEEDED, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("exceeds the limit"), "{v}");

    // The CLI refuses what it can before asking the node, and says why.
    let e = aergo_fails(&["--rpc", &node.url, "send", "--from", "dev:0", "--to", "dev:1", "--amount", "1.5"]);
    assert!(e.contains("invalid amount") && e.contains("\"1.5 aergo\""), "{e}");
    let e = aergo_fails(&["--rpc", &node.url, "send", "--from", "dev:0", "--to", "nobody", "--amount", "1 aergo"]);
    assert!(e.contains("no account is registered under the name \"nobody\""), "{e}");
    let e = aergo_fails(&[
        "--rpc", &node.url, "send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aergo", "--nonce", "1",
    ]);
    assert!(e.contains("already used"), "{e}");
    let r =
        aergo(&["--rpc", &node.url, "--json", "send", "--from", "dev:0", "--to", "dev:1", "--amount", "2000000 aergo"]);
    assert!(!r.ok);
    let doc = r.json();
    assert_eq!(doc["error"]["code"], aergo_rpc::REJECTED);
    assert!(doc["error"]["message"].as_str().unwrap().contains("insufficient balance"), "{doc}");
    // Machine-readable: the node's reason code and an exit status per kind
    // of failure.
    assert_eq!(doc["error"]["reason"], "INSUFFICIENT_BALANCE", "{doc}");
    assert_eq!(r.code, Some(aergo_client::exit::REJECTED as i32));
    assert_eq!(doc["error"]["exit"], aergo_client::exit::REJECTED);
    let r = aergo(&["--rpc", &node.url, "--json", "tx", &Hash::sha256(b"no such tx").to_string()]);
    assert_eq!(r.code, Some(aergo_client::exit::NOT_FOUND as i32), "{}", r.stderr);
    let r = aergo(&["--rpc", &node.url, "send", "--from", "dev:0", "--to", "dev:1", "--amount", "1.5"]);
    assert_eq!(r.code, Some(aergo_client::exit::USAGE as i32), "{}", r.stderr);
    let r = aergo(&["--rpc", &node.url, "no-such-command"]);
    assert_eq!(r.code, Some(aergo_client::exit::USAGE as i32), "{}", r.stderr);

    // Nothing changed, and a good transfer still goes through.
    let after = snapshot(&client, &[&key, &other]).await;
    assert_eq!(before, after);
    let ok = sign_tx(transfer(&key, 2, one, &chain), &key);
    let hash = client.send_tx(&ok).await.unwrap();
    let r = client.wait_receipt(&hash, WAIT_MS).await.unwrap();
    assert_eq!(r["status"], "SUCCESS");
}

#[test]
fn an_unreachable_node_gets_a_helpful_error() {
    let r = aergo(&["--rpc", "http://127.0.0.1:9", "status"]);
    assert_eq!(r.code, Some(aergo_client::exit::UNREACHABLE as i32), "{}", r.stderr);
    let e = aergo_fails(&["--rpc", "http://127.0.0.1:9", "status"]);
    assert!(e.contains("cannot reach the node at http://127.0.0.1:9") && e.contains("aergo node --dev"), "{e}");
    let r = aergo(&["--rpc", "http://127.0.0.1:9", "--json", "balance", "dev:0"]);
    assert!(!r.ok);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("cannot reach"));
    let e = aergo_fails(&["--rpc", "localhost:7847", "status"]);
    assert!(e.contains("expected http://host:port"), "{e}");
}
