//! State-reading gRPC methods: accounts, contracts, events, peers, stakes
//! and votes.

use aergo_exec::events::{list_events as list, EventFilter, ListLimits};
use aergo_exec::query::{query_call, QueryContext};
use aergo_exec::{dpos, gov_read, GovParam};
use aergo_grpc::pb::*;
use aergo_grpc::Status;
use aergo_types::{Address, Event};
use serde_json::Value;

use super::{address_arg, internal, status_of};
use crate::api::{contract_error, Api, MAX_EVENT_ROWS_SCANNED};

/// Candidates or values one `GetVotes` lists at most, and when it names no
/// count (the Go node lists 23 producers by default; explorers ask more).
const MAX_VOTES_LISTED: u32 = 100;
const DEFAULT_VOTES_LISTED: u32 = 23;
/// `GetVotes` id of the producer election (the Go node's `voteBP`).
const VOTE_BP: &str = "voteBP";

pub fn metrics(api: &Api, _req: &MetricsRequest) -> Result<Metrics, Status> {
    // Per-peer traffic counters are not kept; the peers are listed with
    // zero counts so that tools see who is connected.
    let peers = api
        .node
        .peers()
        .into_iter()
        .map(|p| PeerMetric { peer_id: peer_id_bytes(&p.peer_id), ..PeerMetric::default() })
        .collect();
    Ok(Metrics { peers })
}

/// A libp2p peer id's raw bytes (the Go node sends these), or its text
/// when it is not base58 (never for peers this node connected to).
fn peer_id_bytes(id: &str) -> Vec<u8> {
    aergo_crypto::PublicKey::from_peer_id(id)
        .map(|k| k.peer_id_bytes().to_vec())
        .unwrap_or_else(|_| id.as_bytes().to_vec())
}

pub fn account_state(api: &Api, address: &[u8]) -> Result<State, Status> {
    let address = address_arg("address", address)?;
    state_of(&api.node.chain().head_state(), &address)
}

fn state_of(snap: &aergo_store::Snapshot, address: &Address) -> Result<State, Status> {
    let acct = aergo_exec::account(snap, address).map_err(internal)?;
    let contract = aergo_exec::contract::read_contract(snap, address).map_err(internal)?;
    let code_hash = contract.map(|c| c.source_hash.to_vec()).unwrap_or_default();
    Ok(State {
        nonce: acct.nonce,
        balance: acct.balance.to_be_bytes_minimal(),
        source_hash: code_hash.clone(),
        code_hash,
        storage_root: Vec::new(),
        sql_recovery_point: 0,
    })
}

/// The account at the head (or at the block whose state root is `Root`).
/// The Go node's proof is a path in its sparse Merkle trie; this node's
/// state is a prolly tree, whose proofs are not that format, so the proof
/// fields stay empty and `inclusion` says whether the account exists.
pub fn account_proof(api: &Api, req: &AccountAndRoot) -> Result<AccountProof, Status> {
    let address = address_arg("account", &req.account)?;
    let chain = api.node.chain();
    let head = chain.head();
    if !req.root.is_empty() && req.root != head.state_root.to_vec() {
        return Err(Status::not_found(format!(
            "state root {} is not the head's ({}): proofs are served at the head only",
            hex::encode(&req.root),
            head.state_root
        )));
    }
    let snap = chain.head_state();
    let state = state_of(&snap, &address)?;
    let inclusion = state.nonce != 0 || !state.balance.is_empty() || !state.code_hash.is_empty();
    Ok(AccountProof {
        state: Some(state),
        inclusion,
        key: address.as_bytes().to_vec(),
        height: 0,
        ..AccountProof::default()
    })
}

pub fn abi(api: &Api, address: &[u8]) -> Result<Abi, Status> {
    let address = address_arg("contract", address)?;
    let snap = api.node.chain().head_state();
    let info = aergo_exec::contract::read_contract(&snap, &address)
        .map_err(internal)?
        .ok_or_else(|| Status::not_found(format!("no contract at {address}")))?;
    let functions = info
        .functions
        .iter()
        .map(|f| Function {
            name: f.name.clone(),
            arguments: f.params.iter().map(|(n, _)| FnArgument { name: n.clone() }).collect(),
            // Every public function of an SQL contract may receive a
            // transfer with its call; none is marked read-only.
            payable: true,
            view: false,
            fee_delegation: false,
        })
        .collect();
    Ok(Abi { version: "1".to_string(), language: "sql".to_string(), functions, state_variables: Vec::new() })
}

pub fn query_contract(api: &Api, req: &Query) -> Result<SingleBytes, Status> {
    let address = address_arg("contract", &req.contract_address)?;
    let (height, timestamp_ns, mut snap) = api.snapshot_at(None).map_err(status_of)?;
    let qc = QueryContext { height, timestamp_ns, contract: Some(address.clone()) };
    let gas_limit = api.node.config().query.gas_limit;
    let (ret, _gas) = query_call(&api.queries, &mut snap, &qc, &address, &req.queryinfo, gas_limit)
        .map_err(|e| status_of(contract_error(e)))?;
    // A function returning nothing answers JSON null, as the Go node's
    // Lua functions without a result do.
    let ret = if ret.is_empty() { "null".to_string() } else { ret };
    Ok(SingleBytes { value: ret.into_bytes() })
}

pub fn list_events(api: &Api, req: &FilterInfo) -> Result<EventList, Status> {
    let cfg = &api.node.config().query;
    let head = api.node.chain().head().height;
    let contract = if req.contract_address.is_empty() {
        None
    } else {
        Some(address_arg("contractAddress", &req.contract_address)?)
    };
    let name = (!req.event_name.is_empty()).then(|| req.event_name.clone());
    let span = cfg.max_event_blocks.max(1);
    let (from, to) = if req.recent_block_cnt > 0 {
        let n = req.recent_block_cnt as u64;
        (head.saturating_sub(n - 1), head)
    } else {
        let to = if req.blockto == 0 { head } else { req.blockto };
        let from = if req.blockfrom == 0 && req.blockto == 0 { to.saturating_sub(span - 1) } else { req.blockfrom };
        (from, to)
    };
    if from > to {
        return Err(Status::invalid_argument(format!("blockfrom {from} is above blockto {to}")));
    }
    if to - from >= span {
        return Err(Status::resource_exhausted(format!(
            "blocks {from}..={to} span more than query.max_event_blocks = {span} blocks"
        )));
    }
    let args = arg_filter(&req.arg_filter)?;
    let filter = EventFilter { contract, name, from_height: from, to_height: to.min(head) };
    let limits = ListLimits { max_results: cfg.max_events, max_scanned: MAX_EVENT_ROWS_SCANNED };
    let found = list(&api.node.chain().head_state(), &filter, limits).map_err(|e| status_of(contract_error(e)))?;
    let mut events = Vec::with_capacity(found.events.len());
    for e in found.events {
        if args.iter().all(|(i, v)| event_arg(&e, *i).as_ref() == Some(v)) {
            events.push(with_block_hash(api, e)?);
        }
    }
    if req.desc {
        events.reverse();
    }
    Ok(EventList { events })
}

/// Fills the event's block hash (the state keeps heights).
pub fn with_block_hash(api: &Api, mut e: Event) -> Result<Event, Status> {
    if e.block_hash.is_empty() {
        if let Some(h) = api.node.chain().blocks().hash_at(e.block_no).map_err(internal)? {
            e.block_hash = h.to_vec();
        }
    }
    Ok(e)
}

/// The Go node's `argFilter`: a JSON object from argument positions
/// (`"0"`, `"1"`, ...) to the values they must equal.
pub fn arg_filter(bytes: &[u8]) -> Result<Vec<(usize, Value)>, Status> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |why: String| Status::invalid_argument(format!("argFilter: {why}"));
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Value::Object(map) = v else { return Err(bad("expected a JSON object of argument positions".into())) };
    map.into_iter()
        .map(|(k, v)| {
            let i = k.parse::<usize>().map_err(|_| bad(format!("key {k:?} is not an argument position")))?;
            if i >= aergo_types::payload::MAX_CALL_ARGS {
                return Err(bad(format!("position {i} is past the last possible argument")));
            }
            Ok((i, v))
        })
        .collect()
}

pub fn event_arg(e: &Event, i: usize) -> Option<Value> {
    match serde_json::from_str::<Value>(&e.json_args).ok()? {
        Value::Array(mut a) if i < a.len() => Some(a.swap_remove(i)),
        _ => None,
    }
}

pub fn peers(api: &Api, req: &PeersParams) -> PeerList {
    let mut peers: Vec<Peer> = api
        .node
        .peers()
        .into_iter()
        .map(|p| Peer {
            address: Some(PeerAddress {
                address: p.address.clone().unwrap_or_default(),
                peer_id: peer_id_bytes(&p.peer_id),
                addresses: p.address.into_iter().collect(),
                ..PeerAddress::default()
            }),
            bestblock: Some(NewBlockNotice { block_hash: Vec::new(), block_no: p.height }),
            // The Go node's `RUNNING` state.
            state: 2,
            ..Peer::default()
        })
        .collect();
    if req.show_self {
        let head = api.node.chain().head();
        peers.insert(
            0,
            Peer {
                address: Some(PeerAddress {
                    peer_id: peer_id_bytes(api.node.peer_id()),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..PeerAddress::default()
                }),
                bestblock: Some(NewBlockNotice { block_hash: head.hash.to_vec(), block_no: head.height }),
                state: 2,
                selfpeer: true,
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Peer::default()
            },
        );
    }
    PeerList { peers }
}

/// A name's owner and destination, at the head or at `blockNo`.
pub fn name_info(api: &Api, req: &Name) -> Result<NameInfo, Status> {
    let height = (req.block_no != 0).then(|| serde_json::json!(req.block_no));
    let (height, _, snap) = api.snapshot_at(height.as_ref()).map_err(status_of)?;
    let r = api.name_record(&snap, &req.name, height).map_err(status_of)?;
    Ok(NameInfo {
        name: Some(Name { name: r.name, block_no: r.height }),
        owner: r.owner.as_bytes().to_vec(),
        destination: r.destination.as_bytes().to_vec(),
    })
}

fn dpos_state(api: &Api) -> Result<aergo_store::Snapshot, Status> {
    let state = api.node.chain().head_state();
    if !dpos::is_enabled(&state).map_err(internal)? {
        return Err(Status::not_found(
            "this chain does not run DPoS (consensus sbp): it has no producers, stakes or votes",
        ));
    }
    Ok(state)
}

pub fn staking(api: &Api, address: &[u8]) -> Result<Staking, Status> {
    let address = address_arg("address", address)?;
    let state = dpos_state(api)?;
    let stake = gov_read::stake(&state, &address).map_err(internal)?;
    Ok(Staking { amount: stake.amount.to_be_bytes_minimal(), when: stake.since_height })
}

/// An account's stake and the producer candidates it votes for (weighted
/// by the whole stake, as the Go node's `voteBP`).
pub fn account_votes(api: &Api, address: &[u8]) -> Result<AccountVoteInfo, Status> {
    let staking = staking(api, address)?;
    let who = address_arg("address", address)?;
    let candidates = aergo_exec::gov::votes_of(&api.node.chain().head_state(), &who).map_err(internal)?;
    let amount = aergo_types::Amount::from_be_bytes(&staking.amount).map_err(internal)?;
    let voting = if candidates.is_empty() {
        Vec::new()
    } else {
        vec![VoteInfo { id: VOTE_BP.to_string(), candidates, amount: amount.aer().to_string() }]
    };
    Ok(AccountVoteInfo { staking: Some(staking), voting })
}

/// `id` empty or `voteBP`: the producer election, candidates by votes;
/// a governance parameter's id (`BPCOUNT`, `GASPRICE`, ...): its values by
/// votes, the value as its decimal text in `candidate`.
pub fn votes(api: &Api, req: &VoteParams) -> Result<VoteList, Status> {
    let state = dpos_state(api)?;
    let count = if req.count == 0 { DEFAULT_VOTES_LISTED } else { req.count.min(MAX_VOTES_LISTED) } as usize;
    let id = if req.id.is_empty() { VOTE_BP.to_string() } else { req.id.clone() };
    let votes = if id == VOTE_BP {
        gov_read::top_candidates(&state, count)
            .map_err(internal)?
            .into_iter()
            .map(|(peer, votes)| Vote { candidate: peer_id_bytes(&peer), amount: votes.to_be_bytes_minimal() })
            .collect()
    } else {
        let p = GovParam::from_dao_id(&id).ok_or_else(|| {
            let ids: Vec<&str> = GovParam::ALL.iter().map(|p| p.dao_id()).collect();
            Status::invalid_argument(format!(
                "unknown vote id {:?}: expected {VOTE_BP} or one of {}",
                aergo_types::payload::abbreviate(&id),
                ids.join(", ")
            ))
        })?;
        gov_read::param_votes(&state, p, count)
            .map_err(internal)?
            .into_iter()
            .map(|(value, votes)| Vote {
                candidate: value.aer().to_string().into_bytes(),
                amount: votes.to_be_bytes_minimal(),
            })
            .collect()
    };
    Ok(VoteList { votes, id })
}
