//! The JSON-RPC API as any client reaches it: every method of the node's
//! handler with arbitrary JSON params, and whole request bodies through
//! the JSON-RPC framing the HTTP server applies, against an in-process dev
//! node (created once per process) with a contract, rows, events and
//! blocks. Runs on a thread with the stack the node's runtime threads get.
//!
//! Input: a selector byte, then JSON. Selector below 0x80: one of the
//! node's methods (`aergo_node::api::METHODS`) or an unknown one, with the
//! JSON as params; 0x80 and above: the JSON is a whole request body.
//! Before parsing, `@A`, `@C`, `@S`, `@B` and `@T` become a dev account's
//! address, the contract's address, its schema, a block hash and a
//! transaction hash, so that short inputs can name things that exist.
#![no_main]

use aergo_crypto::{sign_tx, PrivateKey};
use aergo_exec::contract::{encode_call_payload, encode_deploy_payload};
use aergo_node::{api::Api, init_dev_data_dir, Node, NodeConfig};
use aergo_rpc::{Handler, RpcLimits};
use aergo_types::{Address, Amount, TxBody, TxType};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

/// Every method the node serves, and one it does not.
fn method(selector: u8) -> &'static str {
    let all = aergo_node::api::METHODS;
    all.get(usize::from(selector) % (all.len() + 1)).copied().unwrap_or("noSuchMethod")
}

const SOURCE: &str = "
CREATE TABLE accounts (id VARCHAR(64) PRIMARY KEY, balance NUMERIC(20, 2) NOT NULL DEFAULT 0 CHECK (balance >= 0));
CREATE INDEX accounts_balance ON accounts (balance);
CREATE VIEW rich AS SELECT id FROM accounts WHERE balance > 60;
CREATE FUNCTION transfer(sender VARCHAR, to VARCHAR, amount NUMERIC) RETURNS VARCHAR AS $$
DECLARE
    sender_balance NUMERIC;
BEGIN
    SELECT balance INTO sender_balance FROM accounts WHERE id = sender;
    IF NOT FOUND THEN
        RETURN 'Sender not found';
    END IF;
    IF sender_balance < amount THEN
        RETURN 'Not enough balance';
    END IF;
    UPDATE accounts SET balance = balance - amount WHERE id = sender;
    UPDATE accounts SET balance = balance + amount WHERE id = to;
    PERFORM aergo_emit('transfer', '[\"' || sender || '\", \"' || to || '\", \"' || amount || '\"]');
    RETURN 'OK';
END;
$$ LANGUAGE plpgsql;
INSERT INTO accounts VALUES ('alice', 100), ('bob', 50);
";

struct Dev {
    api: Api,
    limits: RpcLimits,
    /// Replacements for the placeholders, longest first is not needed:
    /// every placeholder is two bytes.
    names: Vec<(&'static [u8], Vec<u8>)>,
}

fn send(
    node: &Node,
    api: &Api,
    key: &PrivateKey,
    nonce: u64,
    tx_type: TxType,
    to: Option<&Address>,
    payload: Vec<u8>,
) -> String {
    let chain_id_hash = node.chain().rules().chain_id_hash;
    let body = TxBody::new(tx_type, nonce, &key.address(), to, Amount::ZERO, &chain_id_hash).with_payload(payload);
    let raw = hex::encode(sign_tx(body, key).encode());
    let sent = api.call("sendTx", json!([raw])).expect("the setup's tx is accepted");
    sent["hash"].as_str().expect("a hash").to_string()
}

fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        aergo_fuzz::on_sql_stack(|| {
            let dir = tempfile::tempdir().expect("a temp dir");
            let (_, keys) = init_dev_data_dir(dir.path(), NodeConfig::default()).expect("a dev data dir");
            let node = Arc::new(Node::open(dir.path()).expect("the dev node opens"));
            let api = Api::new(node.clone());
            let mut now_ns = i64::MAX / 2;
            let deploy = send(&node, &api, &keys[0], 1, TxType::Deploy, None, encode_deploy_payload(SOURCE, None));
            node.produce_once(now_ns).expect("a block").expect("a block");
            let contract = Address::contract_from(&keys[0].address(), 1);
            let call = encode_call_payload("transfer", &[json!("alice"), json!("bob"), json!("30")]);
            let tx = send(&node, &api, &keys[1], 1, TxType::Call, Some(&contract), call);
            let body = TxBody::transfer(
                1,
                &keys[2].address(),
                &keys[3].address(),
                Amount::from_aergo(5).unwrap(),
                &node.chain().rules().chain_id_hash,
            );
            let raw = hex::encode(sign_tx(body, &keys[2]).encode());
            api.call("sendTx", json!([raw])).expect("a transfer is accepted");
            now_ns += 10_000_000_000;
            node.produce_once(now_ns).expect("a block").expect("a block");
            let receipt = api.call("getReceipt", json!([deploy])).expect("the deploy's receipt");
            assert_eq!(receipt["status"], json!("CREATED"), "{receipt}");
            let info = api.call("getContract", json!([contract.to_string()])).expect("the contract");
            let schema = info["schema"].as_str().expect("a schema").to_string();
            let block = api.call("getBlock", json!([1])).expect("block 1");
            let block_hash = block["hash"].as_str().expect("a block hash").to_string();
            // The node keeps its files open; the directory goes now so that
            // no fuzzing process leaves one behind.
            drop(dir);
            let names = vec![
                (&b"@A"[..], keys[0].address().to_string().into_bytes()),
                (&b"@C"[..], contract.to_string().into_bytes()),
                (&b"@S"[..], schema.into_bytes()),
                (&b"@B"[..], block_hash.into_bytes()),
                (&b"@T"[..], tx.into_bytes()),
            ];
            Dev { api, limits: NodeConfig::default().rpc_limits(), names }
        })
    })
}

fn substitute(data: &[u8], names: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut i = 0;
    while i < data.len() {
        match names.iter().find(|(p, _)| data[i..].starts_with(p)) {
            Some((p, with)) => {
                out.extend_from_slice(with);
                i += p.len();
            }
            None => {
                out.push(data[i]);
                i += 1;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let dev = dev();
    let (selector, rest) = aergo_fuzz::split_first(data);
    let bytes = substitute(rest, &dev.names);
    aergo_fuzz::on_sql_stack(move || {
        if selector >= 0x80 {
            if let Some(text) = aergo_rpc::respond(&bytes, &dev.limits, &dev.api) {
                let reply: Value = serde_json::from_str(&text).expect("every reply is JSON");
                assert!(reply.is_object() || reply.is_array());
            }
        } else if let Ok(params) = serde_json::from_slice::<Value>(&bytes) {
            let method = method(selector);
            if let Ok(result) = dev.api.call(method, params) {
                let _ = result.to_string();
            }
        }
    });
});
