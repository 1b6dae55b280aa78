//! The consensus and network methods of the API: `getPeers`,
//! `getProducers`, `getStake`, `getParams`, `getParamVotes`, and the
//! consensus fields of `status`.

use aergo_exec::{dpos, gov_read, GovParam};
use aergo_rpc::RpcError;
use aergo_store::Snapshot;
use serde_json::{json, Value};

use super::{amount_json, internal, parse_address, required, Api};

/// Candidates listed by `getProducers` at most.
const MAX_CANDIDATES_LISTED: usize = 100;
/// Most offences `getOffences` returns.
const MAX_OFFENCES_LISTED: usize = 1000;
/// Values listed by `getParamVotes` at most.
const MAX_PARAM_VALUES_LISTED: usize = 100;

fn not_dpos() -> RpcError {
    RpcError::not_found("this chain does not run DPoS (consensus sbp): it has no producers, stakes or votes")
}

impl Api {
    /// The consensus part of `status`.
    pub(crate) fn consensus_status(&self) -> Result<Value, RpcError> {
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

    pub(crate) fn get_producers(&self) -> Result<Value, RpcError> {
        let state = self.dpos_state()?;
        let set = gov_read::producer_set(&state).map_err(internal)?;
        let producers: Vec<Value> = set
            .producers
            .iter()
            .enumerate()
            .map(|(rank, p)| {
                let slashed = gov_read::is_slashed(&state, &p.peer_id).map_err(internal)?;
                Ok(json!({
                    "rank": rank,
                    "peerId": p.peer_id,
                    "votes": amount_json(p.votes),
                    "rating": p.rating_percent,
                    "slashed": slashed,
                }))
            })
            .collect::<Result<_, RpcError>>()?;
        let candidates: Vec<Value> = gov_read::top_candidates(&state, MAX_CANDIDATES_LISTED)
            .map_err(internal)?
            .into_iter()
            .map(|(id, votes)| json!({ "peerId": id, "votes": amount_json(votes) }))
            .collect();
        Ok(json!({
            "epochBlocks": set.epoch_blocks,
            "bpCount": set.bp_count,
            "producers": producers,
            "candidates": candidates,
        }))
    }

    /// `getOffences [{limit?}]`: punished offences and the AERGO burned.
    pub(super) fn get_offences(&self, params: &Value) -> Result<Value, RpcError> {
        let limit = match params.get(0).and_then(|o| o.get("limit")) {
            None => MAX_OFFENCES_LISTED,
            Some(v) => v.as_u64().filter(|n| (1..=MAX_OFFENCES_LISTED as u64).contains(n)).ok_or_else(|| {
                RpcError::invalid_params(format!("limit: expected 1..={MAX_OFFENCES_LISTED}, got {v}"))
            })? as usize,
        };
        let state = self.dpos_state()?;
        let (list, burned) = gov_read::offences(&state, limit).map_err(internal)?;
        let offences: Vec<Value> = list
            .into_iter()
            .map(|o| {
                json!({
                    "id": o.id,
                    "kind": o.kind,
                    "producer": o.producer,
                    "at": o.at,
                    "height": o.height,
                    "reporter": o.reporter,
                    "slashed": amount_json(o.slashed),
                    "reward": amount_json(o.reward),
                    "detail": o.detail,
                })
            })
            .collect();
        Ok(json!({ "offences": offences, "burned": amount_json(burned) }))
    }

    pub(super) fn get_stake(&self, params: &Value) -> Result<Value, RpcError> {
        let address = parse_address(required(params, 0, "address")?, "address")?;
        let state = self.dpos_state()?;
        let stake = gov_read::stake(&state, &address).map_err(internal)?;
        Ok(json!({
            "address": address.to_string(),
            "amount": amount_json(stake.amount),
            "sinceHeight": stake.since_height,
            "unlockHeight": stake.unlock_height,
        }))
    }

    pub(super) fn get_params(&self) -> Result<Value, RpcError> {
        let state = self.node.chain().head_state();
        let params = gov_read::params(&state).map_err(internal)?;
        Ok(Value::Array(
            params.into_iter().map(|(p, v)| json!({ "name": p.dao_id(), "value": amount_json(v) })).collect(),
        ))
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
        let ranking = gov_read::param_votes(&state, p, MAX_PARAM_VALUES_LISTED).map_err(internal)?;
        Ok(Value::Array(
            ranking
                .into_iter()
                .map(|(value, votes)| json!({ "value": amount_json(value), "votes": amount_json(votes) }))
                .collect(),
        ))
    }
}
