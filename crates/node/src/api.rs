//! The JSON-RPC methods of the node.
//!
//! | method | params | result |
//! |---|---|---|
//! | `status` | `[]` | chain id, head height/hash/state root/time, genesis hash, gas price, pool size |
//! | `getBlock` | `[height or hash, full?]` | block summary; with `full`, transactions in full |
//! | `getTx` | `[hash]` | transaction, with its block if committed, else `"status": "pending"` |
//! | `getReceipt` | `[hash]` | receipt of a committed transaction |
//! | `getAccount` | `[address, height?]` | balance, nonce (and, at the head, the next nonce to use) |
//! | `sendTx` | `[hex of the protobuf-encoded Tx]` | `{"hash": ...}`, or error -32000 with the reason |
//!
//! WebSocket topic `blocks` streams block summaries as they are committed.
//!
//! Encodings: hashes in base58 (as the Go node's tools print them; hex with
//! a `0x` prefix is accepted on input), addresses in base58check, amounts as
//! decimal strings of aer (exact; JSON numbers would lose precision), with
//! a formatted copy alongside where a human reads it.

use std::sync::Arc;

use aergo_rpc::{Handler, RpcError};
use aergo_types::{Address, Amount, Block, Hash, Receipt, Tx, Unit};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::{Node, NodeError};

/// Largest raw transaction accepted by `sendTx`, in hex characters.
const MAX_RAW_TX_HEX: usize = 2 * aergo_types::TX_MAX_SIZE_BYTES;

pub struct Api {
    node: Arc<Node>,
}

impl Api {
    pub fn new(node: Arc<Node>) -> Api {
        Api { node }
    }
}

fn param<'a>(params: &'a Value, index: usize, name: &str) -> Option<&'a Value> {
    match params {
        Value::Array(a) => a.get(index),
        Value::Object(o) => o.get(name),
        _ => None,
    }
    .filter(|v| !v.is_null())
}

fn required<'a>(params: &'a Value, index: usize, name: &str) -> Result<&'a Value, RpcError> {
    param(params, index, name).ok_or_else(|| RpcError::invalid_params(format!("missing parameter #{index} ({name})")))
}

fn parse_hash(v: &Value, what: &str) -> Result<Hash, RpcError> {
    let s = v.as_str().ok_or_else(|| RpcError::invalid_params(format!("{what}: expected a string, got {v}")))?;
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => Hash::from_hex(hex),
        None => Hash::from_base58(s),
    };
    parsed.map_err(|e| RpcError::invalid_params(format!("{what}: {e}")))
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::internal(e.to_string())
}

fn amount_json(a: Amount) -> Value {
    json!(a.aer().to_string())
}

fn address_text(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match Address::from_bytes(bytes) {
        Ok(a) => json!(a.to_string()),
        Err(_) => json!(format!("0x{}", hex::encode(bytes))),
    }
}

fn hash_text(bytes: &[u8]) -> Value {
    match Hash::from_slice("hash", bytes) {
        Ok(h) => json!(h.to_string()),
        Err(_) if bytes.is_empty() => Value::Null,
        Err(_) => json!(format!("0x{}", hex::encode(bytes))),
    }
}

/// A transaction as JSON.
pub fn tx_json(tx: &Tx) -> Value {
    let Some(b) = tx.body.as_ref() else { return json!({ "hash": hash_text(&tx.hash) }) };
    let amount = Amount::from_be_bytes(&b.amount).unwrap_or(Amount::ZERO);
    let gas_price = Amount::from_be_bytes(&b.gas_price).unwrap_or(Amount::ZERO);
    json!({
        "hash": hash_text(&tx.hash),
        "nonce": b.nonce,
        "from": address_text(&b.account),
        "to": address_text(&b.recipient),
        "amount": amount_json(amount),
        "amountFormatted": amount.format(Unit::Aergo),
        "payload": hex::encode(&b.payload),
        "gasLimit": b.gas_limit,
        "gasPrice": amount_json(gas_price),
        "type": b.tx_type().map(|t| t.name()).unwrap_or("unknown"),
        "chainIdHash": hash_text(&b.chain_id_hash),
        "sign": hex::encode(&b.sign),
    })
}

/// A block summary (or the full block) as JSON.
pub fn block_json(block: &Block, full: bool) -> Value {
    let Ok(h) = block.header() else { return json!({ "hash": hash_text(&block.hash) }) };
    let producer = aergo_crypto::PublicKey::from_libp2p_bytes(&h.pub_key).map(|k| k.address().to_string()).ok();
    let txs: Vec<Value> = block.txs().iter().map(|tx| if full { tx_json(tx) } else { hash_text(&tx.hash) }).collect();
    json!({
        "hash": hash_text(&block.hash),
        "height": h.block_no,
        "prevHash": hash_text(&h.prev_block_hash),
        "timestamp": h.timestamp,
        "stateRoot": hash_text(&h.blocks_root_hash),
        "txsRoot": hash_text(&h.txs_root_hash),
        "receiptsRoot": hash_text(&h.receipts_root_hash),
        "producer": producer,
        "coinbase": address_text(&h.coinbase_account),
        "txCount": block.txs().len(),
        "txs": txs,
    })
}

/// A receipt as JSON.
pub fn receipt_json(r: &Receipt) -> Value {
    let fee = Amount::from_be_bytes(&r.fee_used).unwrap_or(Amount::ZERO);
    json!({
        "txHash": hash_text(&r.tx_hash),
        "status": r.status,
        "ret": r.ret,
        "gasUsed": r.gas_used,
        "fee": amount_json(fee),
        "feeFormatted": fee.format(Unit::Aergo),
        "blockHash": hash_text(&r.block_hash),
        "blockHeight": r.block_no,
        "txIndex": r.tx_index,
        "from": address_text(&r.from),
        "to": address_text(&r.to),
        "contractAddress": address_text(&r.contract_address),
        "events": r.events.iter().map(|e| json!({
            "name": e.event_name,
            "args": e.json_args,
            "index": e.event_idx,
        })).collect::<Vec<_>>(),
    })
}

impl Api {
    fn status(&self) -> Result<Value, RpcError> {
        let chain = self.node.chain();
        let head = chain.head();
        let state = chain.head_state();
        let gas_price = aergo_exec::system::gas_price(&state).map_err(internal)?;
        let (pool_txs, pool_bytes) = self.node.pool_size();
        let g = chain.genesis();
        Ok(json!({
            "chainId": {
                "magic": g.chain_id.magic,
                "public": g.chain_id.public,
                "mainnet": g.chain_id.mainnet,
                "consensus": g.chain_id.consensus,
                "version": g.chain_id.version,
            },
            "chainIdHash": chain.rules().chain_id_hash.to_string(),
            "height": head.height,
            "hash": head.hash.to_string(),
            "stateRoot": head.state_root.to_string(),
            "timestamp": head.timestamp_ns,
            "genesisHash": chain.genesis_hash().to_string(),
            "gasPrice": amount_json(gas_price),
            "producer": self.node.producer_key().address().to_string(),
            "pool": { "txs": pool_txs, "bytes": pool_bytes },
        }))
    }

    fn get_block(&self, params: &Value) -> Result<Value, RpcError> {
        let which = required(params, 0, "block")?;
        let full = param(params, 1, "full").and_then(Value::as_bool).unwrap_or(false);
        let blocks = self.node.chain().blocks();
        let block = match which {
            Value::Number(n) => {
                let height = n.as_u64().ok_or_else(|| RpcError::invalid_params(format!("height {n} is not a u64")))?;
                blocks.block_by_height(height).map_err(internal)?
            }
            other => blocks.block_by_hash(&parse_hash(other, "block hash")?).map_err(internal)?,
        };
        block.map(|b| block_json(&b, full)).ok_or_else(|| RpcError::not_found(format!("no block {which}")))
    }

    fn get_tx(&self, params: &Value) -> Result<Value, RpcError> {
        let hash = parse_hash(required(params, 0, "hash")?, "tx hash")?;
        if let Some((tx, loc, height)) = self.node.chain().blocks().tx(&hash).map_err(internal)? {
            let mut v = tx_json(&tx);
            v["status"] = json!("committed");
            v["blockHash"] = json!(loc.block_hash.to_string());
            v["blockHeight"] = json!(height);
            v["index"] = json!(loc.index);
            return Ok(v);
        }
        if let Some(tx) = self.node.pending_tx(&hash) {
            let mut v = tx_json(&tx);
            v["status"] = json!("pending");
            return Ok(v);
        }
        Err(RpcError::not_found(format!("no transaction {hash}")))
    }

    fn get_receipt(&self, params: &Value) -> Result<Value, RpcError> {
        let hash = parse_hash(required(params, 0, "hash")?, "tx hash")?;
        match self.node.chain().blocks().receipt(&hash).map_err(internal)? {
            Some(r) => Ok(receipt_json(&r)),
            None if self.node.pending_tx(&hash).is_some() => {
                Err(RpcError::not_found(format!("transaction {hash} is pending: no receipt yet")))
            }
            None => Err(RpcError::not_found(format!("no transaction {hash}"))),
        }
    }

    fn get_account(&self, params: &Value) -> Result<Value, RpcError> {
        let text = required(params, 0, "address")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("address: expected a string"))?;
        let address = Address::parse(text).map_err(|e| RpcError::invalid_params(e.to_string()))?;
        let chain = self.node.chain();
        let head = chain.head();
        let (height, state) = match param(params, 1, "height") {
            None => (head.height, chain.head_state()),
            Some(h) => {
                let height = h.as_u64().ok_or_else(|| RpcError::invalid_params(format!("height {h} is not a u64")))?;
                let state = chain.state_at(height).map_err(internal)?.ok_or_else(|| {
                    RpcError::not_found(format!("no block at height {height} (head is {})", head.height))
                })?;
                (height, state)
            }
        };
        let acct = aergo_exec::account(&state, &address).map_err(internal)?;
        let mut v = json!({
            "address": address.to_string(),
            "balance": amount_json(acct.balance),
            "balanceFormatted": acct.balance.format(Unit::Aergo),
            "nonce": acct.nonce,
            "height": height,
        });
        if height == head.height {
            v["nextNonce"] = json!(self.node.next_nonce(&address).map_err(internal)?);
        }
        Ok(v)
    }

    fn send_tx(&self, params: &Value) -> Result<Value, RpcError> {
        let raw = required(params, 0, "tx")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("tx: expected the hex of a protobuf-encoded Tx"))?;
        if raw.len() > MAX_RAW_TX_HEX {
            return Err(RpcError::invalid_params(format!(
                "tx of {} hex characters exceeds the limit of {MAX_RAW_TX_HEX}",
                raw.len()
            )));
        }
        let bytes = hex::decode(raw.strip_prefix("0x").unwrap_or(raw))
            .map_err(|e| RpcError::invalid_params(format!("tx: not hex: {e}")))?;
        let tx = Tx::decode_bounded(&bytes).map_err(|e| RpcError::invalid_params(format!("tx: {e}")))?;
        match self.node.submit(tx) {
            Ok(hash) => Ok(json!({ "hash": hash.to_string() })),
            Err(NodeError::Rejected(reason)) => Err(RpcError::rejected(reason)),
            Err(e) => Err(internal(e)),
        }
    }
}

impl Handler for Api {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "status" => self.status(),
            "getBlock" => self.get_block(&params),
            "getTx" => self.get_tx(&params),
            "getReceipt" => self.get_receipt(&params),
            "getAccount" => self.get_account(&params),
            "sendTx" => self.send_tx(&params),
            other => Err(RpcError::method_not_found(other)),
        }
    }

    fn metrics(&self) -> Option<String> {
        let chain = self.node.chain();
        let (pool_txs, pool_bytes) = self.node.pool_size();
        let (interval, tps, blocks, txs) =
            self.node.with_stats(|s| (s.block_interval_seconds(), s.tps(), s.blocks_total, s.txs_total));
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        };
        metric("aergo_height", "gauge", "Height of the head block.", chain.head().height.to_string());
        metric("aergo_lib_height", "gauge", "Height of the last irreversible block.", chain.lib().height.to_string());
        metric("aergo_peers", "gauge", "Connected peers.", "0".into());
        metric("aergo_mempool_txs", "gauge", "Transactions in the pool.", pool_txs.to_string());
        metric("aergo_mempool_bytes", "gauge", "Bytes of transactions in the pool.", pool_bytes.to_string());
        metric("aergo_block_interval_seconds", "gauge", "Mean time between recent blocks.", format!("{interval:.3}"));
        metric("aergo_tps", "gauge", "Transactions per second over recent blocks.", format!("{tps:.1}"));
        metric("aergo_blocks_total", "counter", "Blocks committed by this process.", blocks.to_string());
        metric("aergo_txs_total", "counter", "Transactions committed by this process.", txs.to_string());
        Some(out)
    }

    fn subscribe(&self, topic: &str, _params: &Value) -> Result<broadcast::Receiver<Value>, RpcError> {
        match topic {
            "blocks" => Ok(self.node.subscribe_blocks()),
            other => Err(RpcError::invalid_params(format!("unknown topic {other:?}; topics: blocks"))),
        }
    }
}
