//! Waiting on a sent transaction (`sendTx` with `wait`) and checking a
//! pre-confirmation against the chain (`checkPreconf`).
//!
//! `wait` is one of:
//! - `none` (the default): the hash once the pool admitted it;
//! - `preconfirmed`: also the producer's signed pre-confirmation when this
//!   node produces and pre-executes (a solo producer), or `null` and
//!   `preconfirmReason` saying why not;
//! - `included`: the receipt once the transaction is in a main-chain block;
//! - `final`: the receipt once that block is at or below the LIB.
//!
//! The last two wait at most `timeoutMs` (default 10 s, at most 60 s) and
//! then answer `"status": "pending"` with `timedOut`; they hold one of
//! the transport's request slots meanwhile, which bounds them.

use std::time::{Duration, Instant};

use aergo_replica::PreconfOutcome;
use aergo_rpc::RpcError;
use aergo_types::evidence::BrokenPromise;
use aergo_types::{Evidence, Hash, Preconfirmation, Receipt, Tx};
use serde_json::{json, Value};

use super::{decode_raw_tx, internal, opt, options, receipt_json, rejection, required, Api};
use crate::forward::Forwarded;
use crate::NodeError;

/// Most transactions one `sendTxs` takes (the batch limit's default).
pub(crate) const MAX_SEND_TXS: usize = 100;
/// Default wait for `included` and `final`.
const DEFAULT_WAIT_MS: u64 = 10_000;
/// Longest wait a client may ask for.
pub(crate) const MAX_WAIT_MS: u64 = 60_000;
/// How often a waiting request looks at the chain.
const POLL_MS: u64 = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    None,
    Preconfirmed,
    Included,
    Final,
}

fn parse_wait(v: Option<&Value>) -> Result<Wait, RpcError> {
    match v.map(|v| v.as_str().ok_or_else(|| RpcError::invalid_params(format!("wait: expected a string, got {v}")))) {
        None => Ok(Wait::None),
        Some(s) => match s? {
            "none" => Ok(Wait::None),
            "preconfirmed" => Ok(Wait::Preconfirmed),
            "included" => Ok(Wait::Included),
            "final" => Ok(Wait::Final),
            other => Err(RpcError::invalid_params(format!(
                "wait: expected none, preconfirmed, included or final, got {other:?}"
            ))),
        },
    }
}

fn submitted(r: Result<Hash, NodeError>) -> Result<Hash, RpcError> {
    match r {
        Ok(hash) => Ok(hash),
        Err(NodeError::Rejected(r)) => Err(rejection(&r)),
        Err(e) => Err(internal(e)),
    }
}

impl Api {
    /// `sendTx` after decoding: submit, then wait as `opts` (param #1) asks.
    pub(crate) fn submit_and_wait(&self, tx: Tx, opts: Option<&Value>) -> Result<Value, RpcError> {
        let o = options(opts, "sendTx options", &["wait", "timeoutMs"])?;
        let wait = parse_wait(opt(o, "wait"))?;
        let timeout_ms = match opt(o, "timeoutMs") {
            None => DEFAULT_WAIT_MS,
            Some(v) => v
                .as_u64()
                .filter(|&ms| ms <= MAX_WAIT_MS)
                .ok_or_else(|| RpcError::invalid_params(format!("timeoutMs: expected 0..={MAX_WAIT_MS}, got {v}")))?,
        };
        match wait {
            Wait::None => Ok(json!({ "hash": submitted(self.node.submit(tx))?.to_string() })),
            Wait::Preconfirmed => {
                let tx_copy = tx.clone();
                let (hash, outcome) = match self.node.submit_preconfirmed(tx) {
                    Ok(done) => done,
                    Err(e) => return submitted(Err(e)).map(|_| Value::Null),
                };
                Ok(match outcome {
                    PreconfOutcome::Preconfirmed(p) => {
                        json!({ "hash": hash.to_string(), "preconfirmation": p.to_json() })
                    }
                    PreconfOutcome::Queued { reason } => {
                        json!({ "hash": hash.to_string(), "preconfirmation": null, "preconfirmReason": reason })
                    }
                    // Admitted here; the next slot's producer promises it.
                    PreconfOutcome::Elsewhere { producer, reason } => {
                        match self.node.forward_for_preconf(&producer, &tx_copy) {
                            Ok(Forwarded::Promised(p)) => {
                                json!({ "hash": hash.to_string(), "preconfirmation": p.to_json(), "forwardedTo": producer })
                            }
                            Ok(Forwarded::Queued(why)) => {
                                json!({ "hash": hash.to_string(), "preconfirmation": null, "preconfirmReason": why, "forwardedTo": producer })
                            }
                            Err(why) => json!({
                                "hash": hash.to_string(),
                                "preconfirmation": null,
                                "preconfirmReason": format!("{reason}; forwarding failed: {why}"),
                            }),
                        }
                    }
                })
            }
            Wait::Included | Wait::Final => {
                let hash = submitted(self.node.submit(tx))?;
                self.wait_for(hash, wait == Wait::Final, Duration::from_millis(timeout_ms))
            }
        }
    }

    /// `sendTxs [[hex, ...], {wait?}]`: each transaction as `sendTx` would
    /// take it, answered in order; with `wait: "preconfirmed"` all are
    /// submitted first and then promised, so one durable write covers the
    /// lot (on a follower, the next slot's producer promises them, one
    /// forwarded batch and one durable write there). A refused transaction
    /// is an `error` entry, not a failed call.
    pub(crate) fn send_txs(&self, params: &Value) -> Result<Value, RpcError> {
        let list = required(params, 0, "txs")?
            .as_array()
            .ok_or_else(|| RpcError::invalid_params("txs: expected an array of hex-encoded Tx"))?;
        if list.is_empty() || list.len() > MAX_SEND_TXS {
            return Err(RpcError::invalid_params(format!(
                "txs: {} transactions, expected 1..={MAX_SEND_TXS}",
                list.len()
            )));
        }
        let o = options(super::param(params, 1, "options"), "sendTxs options", &["wait"])?;
        let wait = parse_wait(opt(o, "wait"))?;
        if matches!(wait, Wait::Included | Wait::Final) {
            return Err(RpcError::invalid_params(
                "sendTxs waits for none or preconfirmed; use sendTx to wait for a block",
            ));
        }
        let txs = list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let raw =
                    v.as_str().ok_or_else(|| RpcError::invalid_params(format!("txs[{i}]: expected a hex string")))?;
                decode_raw_tx(raw).map_err(|e| RpcError { message: format!("txs[{i}]: {}", e.message), ..e })
            })
            .collect::<Result<Vec<Tx>, RpcError>>()?;
        let error = |e: RpcError| json!({ "error": { "code": e.code, "message": e.message, "reason": e.data.as_ref().and_then(|d| d.get("reason")).cloned() } });
        let out: Vec<Value> = if wait == Wait::Preconfirmed {
            let copies = txs.clone();
            let results = self.node.submit_many_preconfirmed(txs);
            // Those another producer promises go to it, per producer in one
            // batch (one durable write there), their answers put back in
            // place.
            let mut elsewhere: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
            let mut out: Vec<Value> = results
                .into_iter()
                .enumerate()
                .map(|(i, r)| match r {
                    Ok((hash, PreconfOutcome::Preconfirmed(p))) => {
                        json!({ "hash": hash.to_string(), "preconfirmation": p.to_json() })
                    }
                    Ok((hash, PreconfOutcome::Queued { reason })) => {
                        json!({ "hash": hash.to_string(), "preconfirmation": null, "preconfirmReason": reason })
                    }
                    Ok((hash, PreconfOutcome::Elsewhere { producer, reason })) => {
                        elsewhere.entry(producer).or_default().push(i);
                        json!({ "hash": hash.to_string(), "preconfirmation": null, "preconfirmReason": reason })
                    }
                    Err(e) => error(submitted(Err(e)).expect_err("an error stays one")),
                })
                .collect();
            for (producer, at) in elsewhere {
                let batch: Vec<Tx> = at.iter().map(|&i| copies[i].clone()).collect();
                for (i, answer) in at.into_iter().zip(self.node.forward_many_for_preconf(&producer, &batch)) {
                    let entry = &mut out[i];
                    match answer {
                        Ok(Forwarded::Promised(p)) => {
                            entry["preconfirmation"] = p.to_json();
                            if let Some(o) = entry.as_object_mut() {
                                o.remove("preconfirmReason");
                            }
                        }
                        Ok(Forwarded::Queued(why)) => entry["preconfirmReason"] = json!(why),
                        Err(why) => {
                            let before = entry["preconfirmReason"].as_str().unwrap_or_default().to_string();
                            entry["preconfirmReason"] = json!(format!("{before}; forwarding failed: {why}"));
                            continue;
                        }
                    }
                    entry["forwardedTo"] = json!(producer);
                }
            }
            out
        } else {
            txs.into_iter()
                .map(|tx| match submitted(self.node.submit(tx)) {
                    Ok(hash) => json!({ "hash": hash.to_string() }),
                    Err(e) => error(e),
                })
                .collect()
        };
        Ok(Value::Array(out))
    }

    fn wait_for(&self, hash: Hash, final_only: bool, timeout: Duration) -> Result<Value, RpcError> {
        let started = Instant::now();
        let chain = self.node.chain();
        loop {
            if let Some((_, location, height)) = chain.blocks().tx(&hash).map_err(internal)? {
                let is_final = height <= chain.lib().height;
                if is_final || !final_only {
                    let receipt = chain.blocks().receipt(&hash).map_err(internal)?;
                    return Ok(json!({
                        "hash": hash.to_string(),
                        "status": if is_final { "final" } else { "included" },
                        "blockHash": location.block_hash.to_string(),
                        "blockNo": height,
                        "index": location.index,
                        "receipt": receipt.as_ref().map(receipt_json),
                    }));
                }
            }
            if started.elapsed() >= timeout {
                return Ok(json!({ "hash": hash.to_string(), "status": "pending", "timedOut": true }));
            }
            std::thread::sleep(Duration::from_millis(POLL_MS));
        }
    }

    /// `checkPreconf [preconf]` (its JSON, or the hex of its encoding):
    /// the signature, then the promise against this node's main chain:
    /// `pending` (no block at that height yet), `kept`, `broken` (with how:
    /// the block and receipts make the evidence), or `void` (the main
    /// chain's block at that height is on another parent: the promise
    /// named a block that was never made).
    pub(crate) fn check_preconf(&self, params: &Value) -> Result<Value, RpcError> {
        let arg = required(params, 0, "preconf")?;
        let text = match arg {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let p = Preconfirmation::from_json_or_hex(&text).map_err(|e| RpcError::invalid_params(e.to_string()))?;
        let producer = aergo_crypto::verify_preconf(&p)
            .map_err(|e| RpcError::invalid_params(format!("preconf does not verify: {e}")))?;
        let bad = |e: aergo_types::TypesError| RpcError::invalid_params(e.to_string());
        if p.chain_id_hash().map_err(bad)? != self.node.chain().rules().chain_id_hash {
            return Err(RpcError::invalid_params("preconf is for another chain"));
        }
        let mut out = json!({
            "valid": true,
            "producer": producer.peer_id(),
            "height": p.height,
            "index": p.index,
            "txHash": p.tx_hash().map_err(bad)?.to_string(),
        });
        let chain = self.node.chain();
        let Some(block) = chain.blocks().block_by_height(p.height).map_err(internal)? else {
            out["promise"] = json!("pending");
            return Ok(out);
        };
        let hash = block.computed_hash().map_err(internal)?;
        out["blockHash"] = json!(hash.to_string());
        let receipts = chain.blocks().block_receipts(&hash).map_err(internal)?.unwrap_or_default();
        match aergo_crypto::find_breach(&p, &block, &receipts) {
            Ok(None) => out["promise"] = json!("kept"),
            Ok(Some(breach)) => {
                out["promise"] = json!("broken");
                out["breach"] = json!(breach.to_string());
                // What `aergo evidence submit` (a `v1evidence` call) takes
                // to have the producer slashed: compact proofs, not the
                // whole block.
                let leaves =
                    receipts.iter().map(Receipt::merkle_hash).collect::<Result<Vec<_>, _>>().map_err(internal)?;
                let header = block.header().map_err(internal)?.clone();
                let proof = BrokenPromise::build(p.clone(), header, block.txs(), &leaves).map_err(internal)?;
                let evidence = Evidence { broken_promise: Some(proof), ..Default::default() };
                out["evidence"] = json!(evidence.to_hex());
            }
            Err(e) => {
                out["promise"] = json!("void");
                out["reason"] = json!(e.to_string());
            }
        }
        Ok(out)
    }
}
