//! End to end: a dev node process configured to execute blocks on two
//! workers (`[producer] exec_threads = 2`). Ten accounts send contract
//! calls on rows of their own (independent), half of them also on one
//! shared pair of rows (a hot spot joining their groups), plus plain
//! transfers, as one JSON-RPC batch, so that blocks hold many
//! transactions of several independent groups: the parallel executor's
//! path (a batch of 8 or more, two groups or more). Every receipt and
//! every final balance must be what executing them in order gives.

mod common;

use aergo_client::keys::dev_account;
use aergo_crypto::{sign_tx, PrivateKey};
use aergo_node::DEV_ACCOUNTS;
use aergo_types::payload::{encode_call_payload, encode_deploy_payload};
use aergo_types::{Address, Amount, Hash, Tx, TxBody, TxType};
use common::*;
use serde_json::{json, Value};

const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");
const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");
const FUND_FN: &str = "CREATE FUNCTION fund(who VARCHAR, amt NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO accounts VALUES (who, amt);
END;
$$ LANGUAGE plpgsql";
/// Calls per account.
const ROUNDS: u64 = 6;

fn signed(key: &PrivateKey, body: TxBody) -> Tx {
    sign_tx(body.with_gas(0, Amount::ZERO), key)
}

fn call(key: &PrivateKey, nonce: u64, contract: &Address, chain: &Hash, name: &str, args: Value) -> Tx {
    let payload = encode_call_payload(name, args.as_array().unwrap());
    signed(
        key,
        TxBody::new(TxType::Call, nonce, &key.address(), Some(contract), Amount::ZERO, chain).with_payload(payload),
    )
}

async fn send_all(client: &aergo_client::client::RpcClient, txs: &[Tx]) {
    let calls: Vec<(&str, Value)> = txs.iter().map(|t| ("sendTx", json!([hex::encode(t.encode())]))).collect();
    for (i, r) in client.batch(&calls).await.unwrap().into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("tx {i} refused: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_two_workers_gives_the_results_of_execution_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    // First start writes the data directory; then the configuration asks
    // for two execution workers.
    let mut node = NodeProc::dev(&dir);
    node.terminate();
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("exec_threads = 1"), "{config}");
    // Pre-confirmations off: a producer that pre-confirms applies each
    // transaction at admission, one at a time, and seals what it applied.
    assert!(config.contains("preconfirm = true"), "{config}");
    let config =
        config.replace("exec_threads = 1", "exec_threads = 2").replace("preconfirm = true", "preconfirm = false");
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let node = NodeProc::dev(&dir);
    let client = node.client();
    let chain = client.status().await.unwrap().chain_id_hash;
    let keys: Vec<PrivateKey> = (0..DEV_ACCOUNTS).map(|i| dev_account(i).unwrap()).collect();

    // The whitepaper contract, two ids per account and a shared pair.
    let owner = &keys[0];
    let source = format!("{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n{FUND_FN};\n");
    let deploy = signed(
        owner,
        TxBody::new(TxType::Deploy, 1, &owner.address(), None, Amount::ZERO, &chain)
            .with_payload(encode_deploy_payload(&source, None)),
    );
    let contract = Address::contract_from(&owner.address(), 1);
    let mut setup = vec![deploy];
    let mut ids: Vec<String> = (0..keys.len()).flat_map(|k| [format!("a{k}"), format!("b{k}")]).collect();
    ids.extend(["hot0".to_string(), "hot1".to_string()]);
    for (i, id) in ids.iter().enumerate() {
        setup.push(call(owner, 2 + i as u64, &contract, &chain, "fund", json!([id, "1000"])));
    }
    send_all(&client, &setup).await;
    for tx in &setup {
        let r = client.wait_receipt(&tx.hash().unwrap(), WAIT_MS).await.unwrap();
        assert_ne!(r["status"], "ERROR", "{r}");
    }
    let owner_used = setup.len() as u64;

    // Each account: ROUNDS calls between its own ids, one on the hot pair
    // (even accounts) or its own ids (odd ones), and a transfer to itself
    // (a transfer to a neighbour would join every account's group); all
    // sent at once.
    let mut txs = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        let base = if k == 0 { owner_used } else { 0 };
        for r in 0..ROUNDS {
            txs.push(call(
                key,
                base + r + 1,
                &contract,
                &chain,
                "transfer",
                json!([format!("a{k}"), format!("b{k}"), "3"]),
            ));
        }
        let last =
            if k % 2 == 0 { json!(["hot0", "hot1", "1"]) } else { json!([format!("a{k}"), format!("b{k}"), "1"]) };
        txs.push(call(key, base + ROUNDS + 1, &contract, &chain, "transfer", last));
        let me = key.address();
        let body = TxBody::new(TxType::Transfer, base + ROUNDS + 2, &me, Some(&me), Amount::from_aer(7), &chain);
        txs.push(signed(key, body));
    }
    send_all(&client, &txs).await;
    let mut heights = std::collections::BTreeMap::<u64, usize>::new();
    for tx in &txs {
        let r = client.wait_receipt(&tx.hash().unwrap(), WAIT_MS).await.unwrap();
        assert_eq!(r["status"], "SUCCESS", "{r}");
        if r["contractAddress"].is_string() && !r["ret"].as_str().unwrap_or_default().is_empty() {
            assert_eq!(r["ret"], "\"OK\"", "{r}");
        }
        *heights.entry(r["blockHeight"].as_u64().unwrap()).or_default() += 1;
    }
    // Blocks big enough for the parallel executor (it takes batches of 8
    // or more) did happen.
    assert!(heights.values().any(|&n| n >= 8), "transactions per block: {heights:?}");

    let q = client
        .call("query", json!(["SELECT id, balance FROM accounts ORDER BY id", { "contract": contract.to_string() }]))
        .await
        .unwrap();
    let rows = q["rows"].as_array().unwrap();
    let balance = |id: &str| -> String {
        rows.iter().find(|r| r[0] == id).unwrap_or_else(|| panic!("no row {id}: {q}"))[1].as_str().unwrap().to_string()
    };
    for k in 0..keys.len() {
        let moved = 3 * ROUNDS + (k % 2) as u64;
        assert_eq!(balance(&format!("a{k}")), format!("{}.00", 1000 - moved), "{q}");
        assert_eq!(balance(&format!("b{k}")), format!("{}.00", 1000 + moved), "{q}");
    }
    let even = keys.len().div_ceil(2);
    assert_eq!(balance("hot0"), format!("{}.00", 1000 - even));
    assert_eq!(balance("hot1"), format!("{}.00", 1000 + even));
    // The executor says it took speculative results (its metrics).
    let m = metrics(&node.url);
    assert!(metric(&m, "aergo_exec_txs_total{path=\"committed\"}") >= 8.0, "{m}");
    assert!(metric(&m, "aergo_exec_txs_total{path=\"speculated\"}") >= 8.0, "{m}");
    // Every account's nonce moved by what it sent.
    for (k, key) in keys.iter().enumerate() {
        let a = client.call("getAccount", json!([key.address().to_string()])).await.unwrap();
        let sent = ROUNDS + 2 + if k == 0 { owner_used } else { 0 };
        assert_eq!(a["nonce"], json!(sent), "{a}");
    }
}
