//! The node in-process: submit, produce, query through the API handler.

use std::sync::Arc;

use aergo_crypto::sign_tx;
use aergo_node::{api::Api, init_dev_data_dir, Node, NodeConfig};
use aergo_rpc::Handler;
use aergo_types::{Amount, TxBody};
use serde_json::{json, Value};

fn call(api: &Api, method: &str, params: Value) -> Result<Value, aergo_rpc::RpcError> {
    api.call(method, params)
}

#[test]
fn submit_produce_query_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (_, keys) = init_dev_data_dir(dir.path(), NodeConfig::default()).unwrap();
    let node = Arc::new(Node::open(dir.path()).unwrap());
    let api = Api::new(node.clone());
    let status = call(&api, "status", json!([])).unwrap();
    assert_eq!(status["height"], json!(0));
    let chain_id_hash = node.chain().rules().chain_id_hash;

    let body =
        TxBody::transfer(1, &keys[0].address(), &keys[1].address(), Amount::from_aergo(5).unwrap(), &chain_id_hash);
    let tx = sign_tx(body, &keys[0]);
    let raw = hex::encode(tx.encode());
    let sent = call(&api, "sendTx", json!([raw])).unwrap();
    let hash = sent["hash"].as_str().unwrap().to_string();
    assert_eq!(call(&api, "getTx", json!([hash])).unwrap()["status"], json!("pending"));
    // Sending it again is a duplicate.
    let dup = call(&api, "sendTx", json!([raw])).unwrap_err();
    assert_eq!(dup.code, aergo_rpc::REJECTED);
    assert!(dup.message.contains("already in the pool"), "{}", dup.message);
    assert_eq!(reason(&dup), "ALREADY_KNOWN");
    let acct = call(&api, "getAccount", json!([keys[0].address().to_string()])).unwrap();
    assert_eq!(acct["nextNonce"], json!(2));

    // Not before an interval has passed since genesis... which was long ago.
    let head = node.produce_once(i64::MAX / 2).unwrap().expect("a block");
    assert_eq!(head.height, 1);
    assert!(node.produce_once(i64::MAX / 2 + 10_000_000_000).unwrap().is_none(), "nothing pending, no block");

    let tx_json = call(&api, "getTx", json!([hash])).unwrap();
    assert_eq!(tx_json["status"], json!("committed"));
    assert_eq!(tx_json["blockHeight"], json!(1));
    let receipt = call(&api, "getReceipt", json!([hash])).unwrap();
    assert_eq!(receipt["status"], json!("SUCCESS"));
    assert_eq!(receipt["gasUsed"], json!(aergo_exec::TX_BASE_GAS));
    let a1 = call(&api, "getAccount", json!([keys[1].address().to_string()])).unwrap();
    assert_eq!(a1["balance"], json!(Amount::from_aergo(1_000_005).unwrap().aer().to_string()));
    let a1_before = call(&api, "getAccount", json!([keys[1].address().to_string(), 0])).unwrap();
    assert_eq!(a1_before["balance"], json!(Amount::from_aergo(1_000_000).unwrap().aer().to_string()));
    let block = call(&api, "getBlock", json!([1, true])).unwrap();
    assert_eq!(block["txCount"], json!(1));
    assert_eq!(block["txs"][0]["hash"], json!(hash));
    assert_eq!(call(&api, "getBlock", json!([block["hash"]])).unwrap()["height"], json!(1));

    // Replay of the committed transaction is refused.
    let replay = call(&api, "sendTx", json!([raw])).unwrap_err();
    assert!(replay.message.contains("already used"), "{}", replay.message);
    assert_eq!(reason(&replay), "NONCE_TOO_LOW");

    let status = call(&api, "status", json!([])).unwrap();
    drop(api);
    drop(node);
    let node = Arc::new(Node::open(dir.path()).unwrap());
    let api = Api::new(node);
    let again = call(&api, "status", json!([])).unwrap();
    assert_eq!(again["hash"], status["hash"]);
    assert_eq!(again["stateRoot"], status["stateRoot"]);
}

#[test]
fn bad_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, keys) = init_dev_data_dir(dir.path(), NodeConfig::default()).unwrap();
    let node = Arc::new(Node::open(dir.path()).unwrap());
    let api = Api::new(node.clone());
    assert_eq!(call(&api, "sendTx", json!(["zz"])).unwrap_err().code, aergo_rpc::INVALID_PARAMS);
    assert_eq!(call(&api, "sendTx", json!(["0a0b"])).unwrap_err().code, aergo_rpc::INVALID_PARAMS);
    assert_eq!(call(&api, "getAccount", json!(["AmNot"])).unwrap_err().code, aergo_rpc::INVALID_PARAMS);
    assert_eq!(call(&api, "getBlock", json!([99])).unwrap_err().code, aergo_rpc::NOT_FOUND);
    assert_eq!(call(&api, "nope", json!([])).unwrap_err().code, aergo_rpc::METHOD_NOT_FOUND);
    // Too poor: amount plus fee exceeds the balance.
    let chain_id_hash = node.chain().rules().chain_id_hash;
    let body = TxBody::transfer(
        1,
        &keys[0].address(),
        &keys[1].address(),
        Amount::from_aergo(1_000_000).unwrap(),
        &chain_id_hash,
    );
    let err = call(&api, "sendTx", json!([hex::encode(sign_tx(body, &keys[0]).encode())])).unwrap_err();
    assert!(err.message.contains("insufficient balance"), "{}", err.message);
    assert_eq!(reason(&err), "INSUFFICIENT_BALANCE");

    // Each refusal keeps its structured reason up to the API.
    let send = |body: TxBody, key: &aergo_crypto::PrivateKey| {
        call(&api, "sendTx", json!([hex::encode(sign_tx(body, key).encode())])).unwrap_err()
    };
    let one = Amount::ONE_AERGO;
    let to = keys[1].address();
    let forged = send(TxBody::transfer(1, &keys[0].address(), &to, one, &chain_id_hash), &keys[1]);
    assert_eq!(reason(&forged), "BAD_SIGNATURE", "{}", forged.message);
    let other_chain = aergo_types::ChainId::new(0, false, false, "other.chain", "sbp").unwrap().hash();
    let wrong = send(TxBody::transfer(1, &keys[0].address(), &to, one, &other_chain), &keys[0]);
    assert_eq!(reason(&wrong), "WRONG_CHAIN", "{}", wrong.message);
    let far = send(TxBody::transfer(1000, &keys[0].address(), &to, one, &chain_id_hash), &keys[0]);
    assert_eq!(reason(&far), "NONCE_TOO_HIGH", "{}", far.message);
    let big = send(
        TxBody::transfer(1, &keys[0].address(), &to, one, &chain_id_hash).with_payload(vec![7; 130 * 1024]),
        &keys[0],
    );
    assert_eq!(reason(&big), "TOO_LARGE", "{}", big.message);
    for e in [&forged, &wrong, &far, &big] {
        assert_eq!(e.code, aergo_rpc::REJECTED, "{}", e.message);
        assert!(aergo_types::RejectReason::parse(reason(e)).is_some());
    }
}

/// The machine-readable reason of a rejected transaction.
fn reason(e: &aergo_rpc::RpcError) -> &str {
    e.data.as_ref().and_then(|d| d["reason"].as_str()).unwrap_or_else(|| panic!("no reason in {e:?}"))
}

#[test]
fn metrics_expose_height_and_pool() {
    let dir = tempfile::tempdir().unwrap();
    init_dev_data_dir(dir.path(), NodeConfig::default()).unwrap();
    let node = Arc::new(Node::open(dir.path()).unwrap());
    let api = Api::new(node);
    let text = api.metrics().unwrap();
    for name in ["aergo_height 0", "aergo_lib_height 0", "aergo_peers 0", "aergo_mempool_txs 0", "aergo_tps"] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
}

/// A transaction no block could run (a staking call on a chain without
/// DPoS) is refused at submission with its reason, rather than admitted
/// and dropped by block building; nothing is pending and no empty block is
/// sealed while empty blocks are off (issue 11, finding 5).
#[test]
fn refused_at_building_seals_no_empty_block() {
    let dir = tempfile::tempdir().unwrap();
    let (_, keys) = init_dev_data_dir(dir.path(), NodeConfig::default()).unwrap();
    let node = Arc::new(Node::open(dir.path()).unwrap());
    let api = Api::new(node.clone());
    let chain_id_hash = node.chain().rules().chain_id_hash;
    let system = aergo_types::Address::name(aergo_types::address::AERGO_SYSTEM).unwrap();
    let body = TxBody::new(
        aergo_types::TxType::Governance,
        1,
        &keys[0].address(),
        Some(&system),
        Amount::ONE_AERGO,
        &chain_id_hash,
    )
    .with_payload(br#"{"Name":"v1stake"}"#.to_vec());
    let e = call(&api, "sendTx", json!([hex::encode(sign_tx(body, &keys[0]).encode())])).unwrap_err();
    assert_eq!(e.code, aergo_rpc::REJECTED);
    assert_eq!(reason(&e), "UNSUPPORTED");
    assert!(e.message.contains("staking and voting exist only on dpos chains"), "{}", e.message);
    assert!(node.produce_once(i64::MAX / 2).unwrap().is_none(), "no block without transactions");
    let status = call(&api, "status", json!([])).unwrap();
    assert_eq!(status["height"], json!(0));
    assert_eq!(status["pool"]["txs"], json!(0), "{status}");
    // A good transfer after it still makes a block.
    let body = TxBody::transfer(1, &keys[0].address(), &keys[1].address(), Amount::ONE_AERGO, &chain_id_hash);
    call(&api, "sendTx", json!([hex::encode(sign_tx(body, &keys[0]).encode())])).unwrap();
    assert_eq!(node.produce_once(i64::MAX / 2).unwrap().expect("a block").height, 1);
}

/// A configuration or genesis the node refuses leaves the data directory
/// as it was: no chain store is created before everything is checked.
#[test]
fn a_refused_configuration_or_genesis_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    init_dev_data_dir(dir.path(), NodeConfig::default()).unwrap();
    let mut bad_interval = NodeConfig::default();
    bad_interval.solo.block_interval_ms = 0;
    let mut bad_p2p = NodeConfig::default();
    bad_p2p.p2p.bootstrap = vec!["/ip4/127.0.0.1/tcp/1".into()];
    let mut no_block_txs = NodeConfig::default();
    no_block_txs.producer.max_block_txs = 0;
    for (config, why) in [
        (bad_interval, "solo.block_interval_ms is 0"),
        (bad_p2p, "p2p.bootstrap"),
        (no_block_txs, "producer.max_block_txs must be at least 1"),
    ] {
        let e = Node::open_with_config(dir.path(), config).err().expect("refused").to_string();
        assert!(e.contains(why), "{e}");
        assert!(!dir.path().join("chain").exists(), "{why}: the chain store was created");
    }
    let path = dir.path().join("genesis.json");
    let text = std::fs::read_to_string(&path).unwrap().replace("\"sbp\"", "\"pow\"");
    std::fs::write(&path, text).unwrap();
    let e = Node::open(dir.path()).err().expect("refused").to_string();
    assert!(e.contains("unknown consensus \"pow\""), "{e}");
    assert!(!dir.path().join("chain").exists(), "unknown consensus: the chain store was created");
}

/// `sendTxs` promises many transactions with one call: in order, each with
/// its place in the open block, a refused one as its own error entry; bad
/// lists are refused whole.
#[test]
fn send_txs_promises_many_in_order_and_refuses_one_without_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (_, keys) = init_dev_data_dir(dir.path(), NodeConfig::default()).unwrap();
    let node = Arc::new(Node::open(dir.path()).unwrap());
    let api = Api::new(node.clone());
    let chain_id_hash = node.chain().rules().chain_id_hash;
    let raw = |from: usize, nonce: u64| {
        let body =
            TxBody::transfer(nonce, &keys[from].address(), &keys[9].address(), Amount::ONE_AERGO, &chain_id_hash);
        hex::encode(sign_tx(body, &keys[from]).encode())
    };
    // The third repeats the first: already known.
    let list = json!([raw(0, 1), raw(1, 1), raw(0, 1), raw(0, 2)]);
    let out = call(&api, "sendTxs", json!([list, { "wait": "preconfirmed" }])).unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 4);
    for (entry, index) in [(&out[0], 0), (&out[1], 1), (&out[3], 2)] {
        assert_eq!(entry["preconfirmation"]["index"], json!(index), "{entry}");
        assert_eq!(entry["preconfirmation"]["txHash"], entry["hash"]);
    }
    assert_eq!(out[2]["error"]["reason"], "ALREADY_KNOWN", "{}", out[2]);
    // Without a wait: hashes only.
    let plain = call(&api, "sendTxs", json!([[raw(2, 1)]])).unwrap();
    assert!(plain[0]["hash"].is_string() && plain[0].get("preconfirmation").is_none(), "{plain}");
    // Refused whole: empty, too many, not hex, a block wait.
    assert!(call(&api, "sendTxs", json!([[]])).is_err());
    let many: Vec<String> = (0..101).map(|_| raw(3, 1)).collect();
    assert!(call(&api, "sendTxs", json!([many])).unwrap_err().message.contains("expected 1..=100"));
    assert!(call(&api, "sendTxs", json!([["zz"]])).unwrap_err().message.contains("txs[0]"));
    assert!(call(&api, "sendTxs", json!([[raw(3, 1)], { "wait": "final" }])).is_err());
}
