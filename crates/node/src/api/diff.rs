//! `diff`: the rows that changed between two blocks.

use aergo_exec::diff::diff_states;
use aergo_rpc::RpcError;
use serde_json::{json, Value};

use super::{contract_error, internal, opt, options, param, parse_hash, required, Api};

/// Most row changes one `diff` returns when the request names no limit.
const DEFAULT_DIFF_ROWS: usize = 1_000;

impl Api {
    /// The state a `diff` side names: a height, a block hash, or a ref (a
    /// branch, `branch@height`, a tag); with its height, block hash and
    /// state root.
    fn diff_side(&self, v: &Value, what: &str) -> Result<(u64, aergo_types::Hash, aergo_types::Hash), RpcError> {
        let blocks = self.node.chain().blocks();
        let block = match v {
            Value::Number(n) => {
                let h = n.as_u64().ok_or_else(|| RpcError::invalid_params(format!("{what}: {n} is not a height")))?;
                blocks.block_by_height(h).map_err(internal)?
            }
            Value::String(_) if parse_hash(v, what).is_err() => {
                let at = self.resolve_at(Some(v))?;
                let block = blocks.block_by_height(at.height).map_err(internal)?;
                let hash = block.map(|b| b.header().map(|h| h.hash())).transpose().map_err(internal)?;
                let hash = hash.ok_or_else(|| RpcError::not_found(format!("{what}: no block at {}", at.height)))?;
                return Ok((at.height, hash, at.state.state_root()));
            }
            other => blocks.block_by_hash(&parse_hash(other, what)?).map_err(internal)?,
        };
        let block = block.ok_or_else(|| RpcError::not_found(format!("{what}: no block {v}")))?;
        let header = block.header().map_err(internal)?;
        let root = header.state_root().map_err(internal)?;
        Ok((header.block_no, header.hash(), root))
    }

    /// `diff [from, to, {table?, limit?}]`.
    pub(super) fn diff(&self, params: &Value) -> Result<Value, RpcError> {
        let (from_h, from_hash, from_root) = self.diff_side(required(params, 0, "from")?, "from")?;
        let (to_h, to_hash, to_root) = self.diff_side(required(params, 1, "to")?, "to")?;
        let opts = options(param(params, 2, "options"), "options", &["table", "limit"])?;
        let table = opt(opts, "table")
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| RpcError::invalid_params("table: expected \"schema.name\""))
            })
            .transpose()?;
        let cap = self.node.config().query.max_rows;
        let limit = match opt(opts, "limit") {
            None => DEFAULT_DIFF_ROWS.min(cap),
            Some(v) => {
                let n = v.as_u64().ok_or_else(|| RpcError::invalid_params(format!("limit: {v} is not a count")))?;
                if n as usize > cap {
                    return Err(RpcError::new(
                        aergo_rpc::LIMIT_EXCEEDED,
                        format!("limit {n} exceeds query.max_rows = {cap}"),
                    ));
                }
                n as usize
            }
        };
        let report = diff_states(self.node.chain().store(), from_root, to_root, table.as_deref(), limit)
            .map_err(contract_error)?;
        let relations: Vec<Value> = report
            .relations
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "kind": r.kind.as_str(),
                    "change": r.change.as_str(),
                    "columns": r.columns,
                    "rows": r.rows.iter().map(|c| json!({ "key": c.key, "old": c.old, "new": c.new })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(json!({
            "from": { "height": from_h, "hash": from_hash.to_string(), "stateRoot": from_root.to_string() },
            "to": { "height": to_h, "hash": to_hash.to_string(), "stateRoot": to_root.to_string() },
            "relations": relations,
            "truncated": report.truncated,
        }))
    }
}
