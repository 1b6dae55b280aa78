//! The consensus and network methods of the API: `getPeers`,
//! `getProducers`, `getStake`, `getParams`, `getParamVotes`, and the
//! consensus fields of `status`.

use std::ops::Bound;

use aergo_exec::{dpos, gov, system, GovParam};
use aergo_rpc::RpcError;
use aergo_store::codec::{decode_row, encode_key, Value as Cell};
use aergo_store::{Direction, Snapshot, TableStore};
use serde_json::{json, Value};

use super::{amount_json, internal, parse_address, required, Api};

/// Candidates listed by `getProducers` at most.
const MAX_CANDIDATES_LISTED: usize = 100;
/// Values listed by `getParamVotes` at most.
const MAX_PARAM_VALUES_LISTED: usize = 100;

fn not_dpos() -> RpcError {
    RpcError::not_found("this chain does not run DPoS (consensus sbp): it has no producers, stakes or votes")
}

/// Decoded rows of `table` in key order, at most `limit`, from `lower`
/// (inclusive) to `upper` (exclusive) when given.
fn rows(state: &Snapshot, table: &str, prefix: Option<&[Cell]>, limit: usize) -> Result<Vec<Vec<Cell>>, RpcError> {
    let (lower, upper) = match prefix {
        Some(p) => {
            let lower = encode_key(p);
            // Every encoded value starts with a type tag below 0xFF.
            let mut upper = lower.clone();
            upper.push(0xFF);
            (Some(lower), Some(upper))
        }
        None => (None, None),
    };
    let lo = lower.as_deref().map_or(Bound::Unbounded, Bound::Included);
    let hi = upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let iter = state.range(table, lo, hi, Direction::Forward).map_err(internal)?;
    let mut out = Vec::new();
    for entry in iter.take(limit) {
        let (_, bytes) = entry.map_err(internal)?;
        out.push(decode_row(&bytes).map_err(internal)?);
    }
    Ok(out)
}

impl Api {
    /// The consensus part of `status`.
    pub(super) fn consensus_status(&self) -> Result<Value, RpcError> {
        let node = &self.node;
        let lib = node.chain().lib();
        let sync = node.sync_progress();
        let role = node.role().map_err(internal)?;
        Ok(json!({
            "lib": { "height": lib.height, "hash": lib.hash.to_string() },
            "peers": node.peers().len(),
            "role": role.name(),
            "consensus": node.engine_kind().name(),
            "peerId": node.peer_id(),
            "sync": { "syncing": sync.syncing, "target": sync.target },
        }))
    }

    pub(super) fn get_peers(&self) -> Result<Value, RpcError> {
        let peers: Vec<Value> = self
            .node
            .peers()
            .into_iter()
            .map(|p| json!({ "peerId": p.peer_id, "address": p.address, "height": p.height, "lib": p.lib }))
            .collect();
        Ok(Value::Array(peers))
    }

    fn dpos_state(&self) -> Result<Snapshot, RpcError> {
        let state = self.node.chain().head_state();
        if !dpos::is_enabled(&state).map_err(internal)? {
            return Err(not_dpos());
        }
        Ok(state)
    }

    pub(super) fn get_producers(&self) -> Result<Value, RpcError> {
        let state = self.dpos_state()?;
        let epoch_blocks = system::read_param_u64(&state, system::PARAM_EPOCH_BLOCKS).map_err(internal)?;
        let bp_count = system::read_param_u64(&state, system::PARAM_BP_COUNT).map_err(internal)?;
        let mut producers = Vec::new();
        for (rank, id) in dpos::producers(&state).map_err(internal)?.iter().enumerate() {
            let votes = gov::candidate_votes(&state, id).map_err(internal)?;
            let rating = dpos::rating(&state, id).map_err(internal)?.percent();
            producers.push(json!({ "rank": rank, "peerId": id, "votes": amount_json(votes), "rating": rating }));
        }
        let mut candidates = Vec::new();
        for row in rows(&state, gov::CANDIDATE_RANKING, None, MAX_CANDIDATES_LISTED)? {
            let [_, Cell::Text(id)] = row.as_slice() else {
                return Err(internal(format!("{}: unexpected row {row:?}", gov::CANDIDATE_RANKING)));
            };
            let votes = gov::candidate_votes(&state, id).map_err(internal)?;
            candidates.push(json!({ "peerId": id, "votes": amount_json(votes) }));
        }
        Ok(json!({
            "epochBlocks": epoch_blocks,
            "bpCount": bp_count,
            "producers": producers,
            "candidates": candidates,
        }))
    }

    pub(super) fn get_stake(&self, params: &Value) -> Result<Value, RpcError> {
        let address = parse_address(required(params, 0, "address")?, "address")?;
        let state = self.dpos_state()?;
        let stake = gov::stake_of(&state, &address).map_err(internal)?;
        let lock = system::read_param_u64(&state, system::PARAM_STAKE_LOCK_BLOCKS).map_err(internal)?;
        let unlock = if stake.amount.is_zero() { 0 } else { stake.since_height.saturating_add(lock) };
        Ok(json!({
            "address": address.to_string(),
            "amount": amount_json(stake.amount),
            "sinceHeight": stake.since_height,
            "unlockHeight": unlock,
        }))
    }

    pub(super) fn get_params(&self) -> Result<Value, RpcError> {
        let state = self.node.chain().head_state();
        let mut out = Vec::new();
        for p in GovParam::ALL {
            if let Some(v) = system::read_param(&state, p.param_name()).map_err(internal)? {
                out.push(json!({ "name": p.dao_id(), "value": amount_json(v) }));
            }
        }
        Ok(Value::Array(out))
    }

    pub(super) fn get_param_votes(&self, params: &Value) -> Result<Value, RpcError> {
        let name = required(params, 0, "name")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("name: expected a parameter name such as \"BPCOUNT\""))?;
        let p = GovParam::from_dao_id(name).ok_or_else(|| {
            let names: Vec<&str> = GovParam::ALL.iter().map(|p| p.dao_id()).collect();
            RpcError::invalid_params(format!("unknown parameter {name:?}: expected one of {}", names.join(", ")))
        })?;
        let state = self.dpos_state()?;
        let prefix = [Cell::Text(p.dao_id().to_string())];
        let mut out = Vec::new();
        for row in rows(&state, gov::PARAM_RANKING, Some(&prefix), MAX_PARAM_VALUES_LISTED)? {
            let [_, Cell::Numeric(neg_votes), Cell::Numeric(value)] = row.as_slice() else {
                return Err(internal(format!("{}: unexpected row {row:?}", gov::PARAM_RANKING)));
            };
            out.push(json!({ "value": value.to_string(), "votes": (-*neg_votes).to_string() }));
        }
        Ok(Value::Array(out))
    }
}
