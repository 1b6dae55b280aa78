//! What an explorer needs beyond single lookups: an account's history and
//! the node's figures over time (the web console's charts).
//!
//! | method | params | result |
//! |---|---|---|
//! | `getAccountTxs` | `[address, {before?, beforeIndex?, limit?}]` | `txs`: main-chain transactions from or to the address (or name), newest first (`hash`, `height`, `index`, `from`, `to`, `amount`, `type`, `status`), strictly before position (`before`, `beforeIndex`) (height and index in block; index 0 by default, so `before` alone means below that height), at most `limit` (default 25, at most 100); `next` (`before`, `beforeIndex` of the next page) when older ones exist; `indexedFrom`, the first height the index covers |
//! | `getRawBlocks` | `[from, count]` | `blocks`: the main-chain blocks from height `from`, each the hex of its protobuf encoding (as the Go node's gRPC sends it), at most `count` (1 to 100) and at most 8 MiB of hex (fewer when larger); `head`, `lib` heights. Backups and tools read blocks with it |
//! | `getGenesis` | `[]` | `genesis`: the chain's genesis as the JSON text of its `genesis.json` |
//! | `getMetricsHistory` | `[{limit?}]` | `samples`, oldest first: one per block this process adopted (`height`, `timestamp`, `txs`, `intervalMs`, `poolTxs`, `finalityLag`), the last `limit` (default and most: the node keeps 1,024) |

use std::collections::BTreeMap;

use aergo_rpc::RpcError;
use aergo_types::{Block, Receipt};
use serde_json::{json, Value};

use super::{internal, opt, options, param, parse_address, required, Api};

/// Transactions one `getAccountTxs` returns when the request names no
/// limit, and at most.
const DEFAULT_ACCOUNT_TXS: usize = 25;
const MAX_ACCOUNT_TXS: usize = 100;
/// Blocks and hex bytes one `getRawBlocks` returns at most (the latter well
/// inside the default response bound of 16 MiB).
const MAX_RAW_BLOCKS: usize = 100;
const MAX_RAW_HEX_BYTES: usize = 8 << 20;

fn limit_param(v: Option<&Value>, default: usize, max: usize) -> Result<usize, RpcError> {
    let Some(v) = v else { return Ok(default) };
    match v.as_u64() {
        Some(n) if (1..=max as u64).contains(&n) => Ok(n as usize),
        _ => Err(RpcError::invalid_params(format!("limit: expected a number from 1 to {max}, got {v}"))),
    }
}

impl Api {
    /// `getAccountTxs [address, {before?, beforeIndex?, limit?}]`.
    pub(super) fn get_account_txs(&self, params: &Value) -> Result<Value, RpcError> {
        let address = parse_address(required(params, 0, "address")?, "address")?;
        let opts = options(param(params, 1, "options"), "options", &["before", "beforeIndex", "limit"])?;
        let before = opt(opts, "before").map(super::height_param).transpose()?;
        let before_index = match opt(opts, "beforeIndex") {
            None => 0,
            Some(v) => v.as_u64().and_then(|i| u32::try_from(i).ok()).ok_or_else(|| {
                RpcError::invalid_params(format!("beforeIndex: expected an index in a block, got {v}"))
            })?,
        };
        if before.is_none() && before_index > 0 {
            return Err(RpcError::invalid_params("beforeIndex needs before (the height it is in)"));
        }
        let limit = limit_param(opt(opts, "limit"), DEFAULT_ACCOUNT_TXS, MAX_ACCOUNT_TXS)?;
        let blocks = self.node.chain().blocks();
        // One more than asked says whether older ones exist.
        let mut found =
            blocks.account_txs(address.as_bytes(), before.map(|h| (h, before_index)), limit + 1).map_err(internal)?;
        let more = found.len() > limit;
        found.truncate(limit);
        // Entries of one block share its decoding (a block and its
        // receipts are read once, however many of its txs are listed).
        let mut decoded: BTreeMap<u64, (Block, Vec<Receipt>)> = BTreeMap::new();
        let mut txs = Vec::with_capacity(found.len());
        for t in &found {
            if let std::collections::btree_map::Entry::Vacant(e) = decoded.entry(t.height) {
                let Some(hash) = blocks.hash_at(t.height).map_err(internal)? else { continue };
                let block = blocks.block_by_hash(&hash).map_err(internal)?;
                let receipts = blocks.block_receipts(&hash).map_err(internal)?;
                let (Some(block), Some(receipts)) = (block, receipts) else { continue };
                e.insert((block, receipts));
            }
            let Some((block, receipts)) = decoded.get(&t.height) else { continue };
            let i = t.index as usize;
            // The index and the block are read apart: a head switch in
            // between can leave an entry that no longer matches; skip it.
            let Some(tx) = block.txs().get(i).filter(|tx| tx.hash.as_slice() == t.tx_hash.as_bytes()) else {
                continue;
            };
            let v = super::tx_json(tx);
            txs.push(json!({
                "hash": v["hash"],
                "height": t.height,
                "index": t.index,
                "from": v["from"],
                "to": v["to"],
                "amount": v["amount"],
                "amountFormatted": v["amountFormatted"],
                "type": v["type"],
                "status": receipts.get(i).map(|r| r.status.clone()),
            }));
        }
        let next = match (more, found.last()) {
            (true, Some(last)) => json!({ "before": last.height, "beforeIndex": last.index }),
            _ => Value::Null,
        };
        Ok(json!({
            "address": address.to_string(),
            "txs": txs,
            "next": next,
            "indexedFrom": blocks.account_index_from().map_err(internal)?,
        }))
    }

    /// `getRawBlocks [from, count]`.
    pub(super) fn get_raw_blocks(&self, params: &Value) -> Result<Value, RpcError> {
        let from = super::height_param(required(params, 0, "from")?)?;
        let count = limit_param(param(params, 1, "count"), MAX_RAW_BLOCKS, MAX_RAW_BLOCKS)?;
        let chain = self.node.chain();
        let blocks = chain.blocks();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for height in from..from.saturating_add(count as u64) {
            let Some(block) = blocks.block_by_height(height).map_err(internal)? else { break };
            let hex = hex::encode(block.encode());
            // Always at least one, so a large block still comes through.
            if !out.is_empty() && bytes + hex.len() > MAX_RAW_HEX_BYTES {
                break;
            }
            bytes += hex.len();
            out.push(Value::String(hex));
        }
        Ok(json!({ "blocks": out, "head": chain.head().height, "lib": chain.lib().height }))
    }

    /// `getGenesis []`.
    pub(super) fn get_genesis(&self) -> Result<Value, RpcError> {
        Ok(json!({ "genesis": self.node.chain().genesis().to_json().map_err(internal)? }))
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
