//! What an explorer needs beyond single lookups: an account's history and
//! the node's figures over time (the web console's charts).
//!
//! | method | params | result |
//! |---|---|---|
//! | `getAccountTxs` | `[address, {before?, limit?}]` | `txs`: main-chain transactions from or to the address (or name) below height `before`, newest first (`hash`, `height`, `index`, `from`, `to`, `amount`, `type`, `status`), at most `limit` (default 25, at most 100); `more` when older ones exist |
//! | `getMetricsHistory` | `[{limit?}]` | `samples`, oldest first: one per block this process adopted (`height`, `timestamp`, `txs`, `intervalMs`, `poolTxs`, `finalityLag`), the last `limit` (default and most: the node keeps 1,024) |

use aergo_rpc::RpcError;
use serde_json::{json, Value};

use super::{internal, opt, options, param, parse_address, required, Api};

/// Transactions one `getAccountTxs` returns when the request names no
/// limit, and at most.
const DEFAULT_ACCOUNT_TXS: usize = 25;
const MAX_ACCOUNT_TXS: usize = 100;

fn limit_param(v: Option<&Value>, default: usize, max: usize) -> Result<usize, RpcError> {
    let Some(v) = v else { return Ok(default) };
    match v.as_u64() {
        Some(n) if (1..=max as u64).contains(&n) => Ok(n as usize),
        _ => Err(RpcError::invalid_params(format!("limit: expected a number from 1 to {max}, got {v}"))),
    }
}

impl Api {
    /// `getAccountTxs [address, {before?, limit?}]`.
    pub(super) fn get_account_txs(&self, params: &Value) -> Result<Value, RpcError> {
        let address = parse_address(required(params, 0, "address")?, "address")?;
        let opts = options(param(params, 1, "options"), "options", &["before", "limit"])?;
        let before = opt(opts, "before").map(super::height_param).transpose()?;
        let limit = limit_param(opt(opts, "limit"), DEFAULT_ACCOUNT_TXS, MAX_ACCOUNT_TXS)?;
        let blocks = self.node.chain().blocks();
        // One more than asked says whether older ones exist.
        let mut found = blocks.account_txs(address.as_bytes(), before, limit + 1).map_err(internal)?;
        let more = found.len() > limit;
        found.truncate(limit);
        let mut txs = Vec::with_capacity(found.len());
        for t in &found {
            let Some((tx, _, height)) = blocks.tx(&t.tx_hash).map_err(internal)? else { continue };
            let status = blocks.receipt(&t.tx_hash).map_err(internal)?.map(|r| r.status);
            let v = super::tx_json(&tx);
            txs.push(json!({
                "hash": v["hash"],
                "height": height,
                "index": t.index,
                "from": v["from"],
                "to": v["to"],
                "amount": v["amount"],
                "amountFormatted": v["amountFormatted"],
                "type": v["type"],
                "status": status,
            }));
        }
        Ok(json!({ "address": address.to_string(), "txs": txs, "more": more }))
    }

    /// `getMetricsHistory [{limit?}]`.
    pub(super) fn get_metrics_history(&self, params: &Value) -> Result<Value, RpcError> {
        let opts = options(param(params, 0, "options"), "options", &["limit"])?;
        let max = crate::METRICS_HISTORY_SAMPLES;
        let limit = limit_param(opt(opts, "limit"), max, max)?;
        let samples: Vec<Value> = self.node.with_stats(|s| {
            let skip = s.history.len().saturating_sub(limit);
            s.history
                .iter()
                .skip(skip)
                .map(|m| {
                    json!({
                        "height": m.height,
                        "timestamp": m.timestamp_ns,
                        "txs": m.txs,
                        "intervalMs": m.interval_ms,
                        "poolTxs": m.pool_txs,
                        "finalityLag": m.finality_lag,
                    })
                })
                .collect()
        });
        let lib = self.node.chain().lib();
        Ok(json!({ "samples": samples, "lib": { "height": lib.height, "hash": lib.hash.to_string() } }))
    }
}
