//! A JSON-RPC 2.0 client for the node: HTTP for calls and batches,
//! WebSocket for the `blocks` subscription.
//!
//! The JSON shapes are the node's (`aergo_node::api`): hashes in base58,
//! addresses in base58check, amounts as decimal strings of aer. This module
//! turns the few fields the CLI computes with into typed values and leaves
//! the rest as JSON for printing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aergo_types::{Address, Amount, Hash, Tx};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::error::{CliError, Result};

/// Largest response body read from the node (the node's own bound on a
/// response is 16 MiB).
pub const MAX_RESPONSE_BYTES: usize = 32 << 20;
/// Largest WebSocket message accepted.
pub const MAX_WS_MESSAGE_BYTES: usize = 16 << 20;
/// Per-request timeout of the HTTP client.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// How often `wait_receipt` asks again.
pub const RECEIPT_POLL_MS: u64 = 50;

/// The node's answer to `status`, with the fields the CLI computes with.
#[derive(Clone, Debug)]
pub struct Status {
    pub chain_id_hash: Hash,
    pub height: u64,
    pub head_hash: Hash,
    pub state_root: Hash,
    pub gas_price: Amount,
    /// The whole answer, for printing.
    pub raw: Value,
}

/// An account as `getAccount` reports it.
#[derive(Clone, Debug)]
pub struct AccountInfo {
    pub balance: Amount,
    pub nonce: u64,
    /// The nonce the next transaction should carry (only at the head).
    pub next_nonce: Option<u64>,
    pub height: u64,
    pub raw: Value,
}

/// A JSON-RPC client bound to one node URL.
#[derive(Debug)]
pub struct RpcClient {
    http: reqwest::Client,
    url: String,
    next_id: AtomicU64,
    /// The branch transactions are signed for and reads see (`None`:
    /// main): set once, by `--branch`.
    branch: Option<String>,
}

pub fn bad(method: &str, url: &str, reason: impl Into<String>) -> CliError {
    CliError::BadResponse { method: method.to_string(), url: url.to_string(), reason: reason.into() }
}

/// A named field of a JSON object.
pub fn field<'a>(v: &'a Value, name: &str) -> std::result::Result<&'a Value, String> {
    v.get(name).filter(|x| !x.is_null()).ok_or_else(|| format!("no field {name:?} in {}", short(v)))
}

fn str_field<'a>(v: &'a Value, name: &str) -> std::result::Result<&'a str, String> {
    field(v, name)?.as_str().ok_or_else(|| format!("field {name:?} is not a string"))
}

fn u64_field(v: &Value, name: &str) -> std::result::Result<u64, String> {
    field(v, name)?.as_u64().ok_or_else(|| format!("field {name:?} is not an unsigned integer"))
}

fn hash_field(v: &Value, name: &str) -> std::result::Result<Hash, String> {
    Hash::from_base58(str_field(v, name)?).map_err(|e| format!("field {name:?}: {e}"))
}

/// An amount field: a decimal string of aer.
pub fn amount_field(v: &Value, name: &str) -> std::result::Result<Amount, String> {
    let text = str_field(v, name)?;
    let aer: u128 = text.parse().map_err(|e| format!("field {name:?} = {text:?} is not an integer of aer: {e}"))?;
    Ok(Amount::from_aer(aer))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!("{}...", &s[..s.char_indices().take_while(|(i, _)| *i < 200).last().map_or(0, |(i, _)| i)])
    } else {
        s
    }
}

impl RpcClient {
    /// A client for the node at `url` (`http://host:port`).
    pub fn new(url: &str) -> Result<RpcClient> {
        let url = url.trim().trim_end_matches('/').to_string();
        if !url.starts_with("http://") {
            let reason = if url.starts_with("https://") {
                "https is not supported: the node serves plain HTTP on loopback; use http://"
            } else {
                "expected http://host:port, e.g. http://127.0.0.1:7847"
            };
            return Err(CliError::invalid("RPC URL", &url, reason));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .build()
            .map_err(|e| CliError::Connect { url: url.clone(), reason: e.to_string() })?;
        Ok(RpcClient { http, url, next_id: AtomicU64::new(1), branch: None })
    }

    /// The same client working on `branch` (`None` or `main`: main):
    /// `status` then reports the branch's chain id hash, so every
    /// transaction built from it is signed for the branch, and `account`
    /// and queries read the branch's state.
    pub fn with_branch(mut self, branch: Option<String>) -> RpcClient {
        self.branch = branch.filter(|b| b != "main");
        self
    }

    /// The branch this client works on; `None` is main.
    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    /// A read's ref for the JSON-RPC API: `height` on this client's branch.
    pub fn read_ref(&self, height: Option<u64>) -> Value {
        match (&self.branch, height) {
            (None, None) => Value::Null,
            (None, Some(h)) => json!(h),
            (Some(b), None) => json!(b),
            (Some(b), Some(h)) => json!(format!("{b}@{h}")),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The WebSocket endpoint of the same node.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.url.trim_start_matches("http://").split('/').next().unwrap_or_default())
    }

    /// `GET /health`: the node's answer when it is healthy (200), else
    /// [`CliError::Unhealthy`] with its reason (503 while syncing).
    pub async fn health(&self) -> Result<Value> {
        let url = format!("{}/health", self.url);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| CliError::Connect { url: self.url.clone(), reason: error_chain(&e) })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| bad("health", &self.url, error_chain(&e)))?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(bad("health", &self.url, format!("answer exceeds {MAX_RESPONSE_BYTES} bytes")));
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(v);
        }
        let reason = v["reason"].as_str().map(str::to_string).unwrap_or_else(|| format!("{v}"));
        Err(CliError::Unhealthy { url: self.url.clone(), status, reason })
    }

    /// Posts a raw body and returns the parsed JSON answer.
    async fn post(&self, what: &str, body: String) -> Result<Value> {
        let mut resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| CliError::Connect { url: self.url.clone(), reason: error_chain(&e) })?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| bad(what, &self.url, format!("reading the answer: {}", error_chain(&e))))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(bad(what, &self.url, format!("answer exceeds {MAX_RESPONSE_BYTES} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            bad(what, &self.url, format!("HTTP {status}, not JSON ({e}): {text:?}"))
        })
    }

    fn request(&self, method: &str, params: Value) -> (u64, Value) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        (id, json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
    }

    /// Calls one method.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let (id, req) = self.request(method, params);
        let answer = self.post(method, req.to_string()).await?;
        self.unwrap_response(method, id, answer)
    }

    fn unwrap_response(&self, method: &str, id: u64, mut answer: Value) -> Result<Value> {
        if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
            return Err(CliError::Rpc {
                method: method.to_string(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_string(),
                reason: err.pointer("/data/reason").and_then(Value::as_str).map(|r| r.chars().take(64).collect()),
            });
        }
        if answer.get("id") != Some(&json!(id)) {
            return Err(bad(method, &self.url, format!("answer id {:?} is not the request id {id}", answer.get("id"))));
        }
        match answer.get_mut("result") {
            Some(r) => Ok(r.take()),
            None => Err(bad(method, &self.url, format!("neither result nor error in {}", short(&answer)))),
        }
    }

    /// Calls several methods in one JSON-RPC batch; one outcome per call,
    /// in order. A batch-level error (e.g. a limit) fails the whole batch.
    pub async fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Result<Value>>> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(calls.len());
        let mut reqs = Vec::with_capacity(calls.len());
        for (method, params) in calls {
            let (id, req) = self.request(method, params.clone());
            ids.push((id, *method));
            reqs.push(req);
        }
        self.post_batch(Value::Array(reqs).to_string(), &ids).await
    }

    /// Posts an already serialized batch whose calls have the given ids
    /// and methods (the benchmark prepares its bodies before timing).
    pub async fn post_batch(&self, body: String, calls: &[(u64, &str)]) -> Result<Vec<Result<Value>>> {
        let answer = self.post("batch", body).await?;
        let items = match answer {
            Value::Array(items) => items,
            single => {
                // The server answers a batch it refuses as a whole with one
                // error object.
                let err = self.unwrap_response("batch", 0, single);
                return Err(err.err().unwrap_or_else(|| bad("batch", &self.url, "expected an array answer")));
            }
        };
        let mut by_id: std::collections::BTreeMap<u64, Value> = std::collections::BTreeMap::new();
        for item in items {
            if let Some(id) = item.get("id").and_then(Value::as_u64) {
                by_id.insert(id, item);
            }
        }
        Ok(calls
            .iter()
            .map(|(id, method)| match by_id.remove(id) {
                Some(item) => self.unwrap_response(method, *id, item),
                None => Err(bad(method, &self.url, format!("no answer for call id {id} in the batch"))),
            })
            .collect())
    }

    /// `status`; on a branch, with the branch's chain id hash (what its
    /// transactions carry).
    pub async fn status(&self) -> Result<Status> {
        let mut status = self.main_status().await?;
        if let Some(b) = &self.branch {
            let info = self.call("getBranch", json!([b])).await?;
            status.chain_id_hash = hash_field(&info, "chainIdHash").map_err(|r| bad("getBranch", &self.url, r))?;
        }
        Ok(status)
    }

    /// `status` of the chain itself, whatever the branch.
    pub async fn main_status(&self) -> Result<Status> {
        let raw = self.call("status", json!([])).await?;
        let parse = || -> std::result::Result<Status, String> {
            Ok(Status {
                chain_id_hash: hash_field(&raw, "chainIdHash")?,
                height: u64_field(&raw, "height")?,
                head_hash: hash_field(&raw, "hash")?,
                state_root: hash_field(&raw, "stateRoot")?,
                gas_price: amount_field(&raw, "gasPrice")?,
                raw: raw.clone(),
            })
        };
        parse().map_err(|reason| bad("status", &self.url, reason))
    }

    /// An account on this client's branch, at the head or `height`.
    pub async fn account(&self, address: &Address, height: Option<u64>) -> Result<AccountInfo> {
        let params = match self.read_ref(height) {
            Value::Null => json!([address.to_string()]),
            at => json!([address.to_string(), at]),
        };
        let raw = self.call("getAccount", params).await?;
        parse_account(&raw).map_err(|reason| bad("getAccount", &self.url, reason))
    }

    /// Submits a signed transaction; returns the hash the node computed,
    /// checked against ours.
    pub async fn send_tx(&self, tx: &Tx) -> Result<Hash> {
        let answer = self.call("sendTx", json!([hex::encode(tx.encode())])).await?;
        let hash = hash_field(&answer, "hash").map_err(|r| bad("sendTx", &self.url, r))?;
        let ours = tx.hash()?;
        if hash != ours {
            return Err(bad("sendTx", &self.url, format!("node says the tx hash is {hash}, we computed {ours}")));
        }
        Ok(hash)
    }

    /// Submits a signed transaction asking for the producer's
    /// pre-confirmation (`sendTx` with `wait: "preconfirmed"`): the hash,
    /// and the pre-confirmation's JSON, or why there is none.
    pub async fn send_tx_preconfirmed(&self, tx: &Tx) -> Result<(Hash, std::result::Result<Value, String>)> {
        let answer = self.call("sendTx", json!([hex::encode(tx.encode()), { "wait": "preconfirmed" }])).await?;
        let hash = hash_field(&answer, "hash").map_err(|r| bad("sendTx", &self.url, r))?;
        let ours = tx.hash()?;
        if hash != ours {
            return Err(bad("sendTx", &self.url, format!("node says the tx hash is {hash}, we computed {ours}")));
        }
        let preconf = match answer.get("preconfirmation") {
            Some(p) if p.is_object() => Ok(p.clone()),
            _ => Err(answer
                .get("preconfirmReason")
                .and_then(Value::as_str)
                .unwrap_or("the node gave no reason")
                .to_string()),
        };
        Ok((hash, preconf))
    }

    /// The receipt of `hash`, or `None` while the tx is not in a block.
    pub async fn receipt(&self, hash: &Hash) -> Result<Option<Value>> {
        match self.call("getReceipt", json!([hash.to_string()])).await {
            Ok(r) => Ok(Some(r)),
            Err(CliError::Rpc { code, .. }) if code == aergo_rpc::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Polls for the receipt of `hash` until it exists or `timeout_ms`
    /// passes.
    pub async fn wait_receipt(&self, hash: &Hash, timeout_ms: u64) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            if let Some(r) = self.receipt(hash).await? {
                return Ok(r);
            }
            if Instant::now() >= deadline {
                return Err(CliError::Timeout { what: format!("the receipt of {hash}"), timeout_ms });
            }
            tokio::time::sleep(Duration::from_millis(RECEIPT_POLL_MS)).await;
        }
    }
}

pub(crate) fn parse_account(raw: &Value) -> std::result::Result<AccountInfo, String> {
    Ok(AccountInfo {
        balance: amount_field(raw, "balance")?,
        nonce: u64_field(raw, "nonce")?,
        next_nonce: raw.get("nextNonce").and_then(Value::as_u64),
        height: u64_field(raw, "height")?,
        raw: raw.clone(),
    })
}

/// The error and its causes on one line (reqwest hides the useful part,
/// e.g. "connection refused", in the source chain).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
        depth += 1;
        if depth >= 8 {
            break;
        }
    }
    out
}

/// A live subscription to new blocks over the node's WebSocket.
pub struct BlockSubscription {
    url: String,
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    id: Value,
}

impl BlockSubscription {
    /// Connects to `ws_url` and subscribes to the `blocks` topic.
    pub async fn connect(ws_url: &str) -> Result<BlockSubscription> {
        let ws_err = |reason: String| CliError::WebSocket { url: ws_url.to_string(), reason };
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_WS_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_WS_MESSAGE_BYTES));
        let (mut stream, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), false)
            .await
            .map_err(|e| CliError::Connect { url: ws_url.to_string(), reason: error_chain(&e) })?;
        let req = json!({ "jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": ["blocks"] });
        stream.send(Message::Text(req.to_string().into())).await.map_err(|e| ws_err(e.to_string()))?;
        let deadline = Duration::from_millis(REQUEST_TIMEOUT_MS);
        loop {
            let msg = tokio::time::timeout(deadline, stream.next())
                .await
                .map_err(|_| ws_err("no answer to subscribe".into()))?
                .ok_or_else(|| ws_err("closed before answering subscribe".into()))?
                .map_err(|e| ws_err(e.to_string()))?;
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).map_err(|e| ws_err(format!("not JSON: {e}")))?;
            if v.get("id") != Some(&json!(1)) {
                continue;
            }
            if let Some(err) = v.get("error") {
                return Err(ws_err(format!("subscribe refused: {err}")));
            }
            let id = v.get("result").cloned().ok_or_else(|| ws_err("subscribe answer without result".into()))?;
            return Ok(BlockSubscription { url: ws_url.to_string(), stream, id });
        }
    }

    /// The next block summary, waiting at most `timeout_ms`.
    pub async fn next_block(&mut self, timeout_ms: u64) -> Result<Value> {
        let ws_err = |reason: String| CliError::WebSocket { url: self.url.clone(), reason };
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return Err(CliError::Timeout { what: "the next block".into(), timeout_ms }),
                Ok(None) => return Err(ws_err("connection closed".into())),
                Ok(Some(Err(e))) => return Err(ws_err(e.to_string())),
                Ok(Some(Ok(m))) => m,
            };
            let Message::Text(text) = msg else { continue };
            let mut v: Value = serde_json::from_str(&text).map_err(|e| ws_err(format!("not JSON: {e}")))?;
            let params = v.get_mut("params");
            let Some(params) = params else { continue };
            if params.get("subscription") != Some(&self.id) {
                continue;
            }
            let result = params.get_mut("result").map(Value::take).unwrap_or(Value::Null);
            if let Some(err) = result.get("error").and_then(Value::as_str) {
                return Err(ws_err(err.to_string()));
            }
            return Ok(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = RpcClient::new("http://127.0.0.1:7847/").unwrap();
        assert_eq!(c.url(), "http://127.0.0.1:7847");
        assert_eq!(c.ws_url(), "ws://127.0.0.1:7847/ws");
        assert!(RpcClient::new("https://x").unwrap_err().to_string().contains("https is not supported"));
        assert!(RpcClient::new("127.0.0.1:7847").unwrap_err().to_string().contains("expected http://"));
    }

    #[test]
    fn amounts_and_accounts_parse() {
        let raw = json!({"balance": "1500000000000000000", "nonce": 3, "nextNonce": 5, "height": 9});
        let a = parse_account(&raw).unwrap();
        assert_eq!(a.balance, Amount::parse("1.5 aergo").unwrap());
        assert_eq!((a.nonce, a.next_nonce, a.height), (3, Some(5), 9));
        assert!(parse_account(&json!({"balance": "x", "nonce": 1, "height": 1})).unwrap_err().contains("balance"));
        assert!(parse_account(&json!({"balance": "1"})).unwrap_err().contains("nonce"));
    }

    #[tokio::test]
    async fn unreachable_node_says_how_to_start_one() {
        // Port 9 on loopback: nothing listens there.
        let c = RpcClient::new("http://127.0.0.1:9").unwrap();
        let e = c.status().await.unwrap_err();
        assert!(matches!(e, CliError::Connect { .. }), "{e}");
        assert!(e.to_string().contains("aergo node --dev"), "{e}");
    }
}
