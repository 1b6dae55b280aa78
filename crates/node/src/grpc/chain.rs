//! Chain-wide gRPC methods: status, chain info, blocks and their pages,
//! transactions, submission.

use std::collections::BTreeMap;

use aergo_exec::GovParam;
use aergo_grpc::pb::*;
use aergo_grpc::Status;
use aergo_types::{Amount, Block, BlockBody, Tx, TxList};
use serde_json::json;

use super::{block_arg, hash_arg, internal, status_of};
use crate::api::Api;
use crate::NodeError;

/// Most blocks one `ListBlockHeaders` / `ListBlockMetadata` returns (the Go
/// node's cap).
pub const MAX_LISTED_BLOCKS: u32 = 100;
/// Most transactions one `GetBlockBody` page holds, and the page size when
/// the request names none (the Go node's).
pub const MAX_BODY_PAGE: u32 = 100;
/// Most transactions one `CommitTX` takes: a list this long of the largest
/// transactions is what `[grpc] max_request_bytes` admits anyway.
pub const MAX_COMMIT_TXS: usize = 2_000;

pub fn blockchain(api: &Api) -> Result<BlockchainStatus, Status> {
    let chain = api.node.chain();
    let head = chain.head();
    let consensus = api.consensus_status().map_err(status_of)?;
    Ok(BlockchainStatus {
        best_block_hash: head.hash.to_vec(),
        best_height: head.height,
        consensus_info: consensus.to_string(),
        best_chain_id_hash: chain.rules().chain_id_hash.to_vec(),
        chain_info: Some(chain_info(api)?),
    })
}

pub fn chain_info(api: &Api) -> Result<ChainInfo, Status> {
    let chain = api.node.chain();
    let state = chain.head_state();
    let g = chain.genesis();
    let params: BTreeMap<GovParam, Amount> =
        aergo_exec::gov_read::params(&state).map_err(internal)?.into_iter().collect();
    let param = |p: GovParam| params.get(&p).map(|a| a.to_be_bytes_minimal()).unwrap_or_default();
    let bp_number = match chain.dpos() {
        Some(_) => params.get(&GovParam::BpCount).map(|a| a.aer().min(u32::MAX as u128) as u32).unwrap_or(0),
        None => 1,
    };
    Ok(ChainInfo {
        id: Some(ChainId {
            magic: g.chain_id.magic.clone(),
            public: g.chain_id.public,
            mainnet: g.chain_id.mainnet,
            consensus: g.chain_id.consensus.clone(),
            version: g.chain_id.version,
        }),
        bp_number,
        maxblocksize: aergo_types::block::BLOCK_MAX_SIZE_BYTES as u64,
        maxtokens: Amount::TOTAL_SUPPLY.to_be_bytes_minimal(),
        stakingminimum: param(GovParam::MinStake),
        totalstaking: match aergo_exec::dpos::is_enabled(&state).map_err(internal)? {
            true => aergo_exec::gov::total_staked(&state).map_err(internal)?.to_be_bytes_minimal(),
            false => Vec::new(),
        },
        // Voting power and rewards are the Go node's (this chain pays no
        // voting reward; the JSON-RPC `getProducers` lists the votes).
        gasprice: param(GovParam::GasPrice),
        nameprice: param(GovParam::NamePrice),
        totalvotingpower: Vec::new(),
        votingreward: Vec::new(),
        hardfork: BTreeMap::new(),
    })
}

pub fn chain_stat(api: &Api) -> Result<ChainStats, Status> {
    let (interval, tps, blocks, txs) =
        api.node.with_stats(|s| (s.block_interval_seconds(), s.tps(), s.blocks_total, s.txs_total));
    let head = api.node.chain().head();
    let report = json!({
        "height": head.height,
        "blockIntervalSeconds": interval,
        "tps": tps,
        "blocksCommitted": blocks,
        "txsCommitted": txs,
    });
    Ok(ChainStats { report: report.to_string() })
}

pub fn node_state(api: &Api, _req: &NodeReq) -> Result<SingleBytes, Status> {
    let consensus = api.consensus_status().map_err(status_of)?;
    let (pool_txs, pool_bytes) = api.node.pool_size();
    let head = api.node.chain().head();
    let state = json!({
        "chain": { "status": "started", "height": head.height, "hash": head.hash.to_string() },
        "mempool": { "status": "started", "txs": pool_txs, "bytes": pool_bytes },
        "consensus": consensus,
    });
    Ok(SingleBytes { value: state.to_string().into_bytes() })
}

pub fn server_info(api: &Api, req: &KeyParams) -> ServerInfo {
    let cfg = api.node.config();
    let mut status = BTreeMap::new();
    status.insert("version".to_string(), env!("CARGO_PKG_VERSION").to_string());
    status.insert("id".to_string(), api.node.peer_id().to_string());
    status.insert("addr".to_string(), cfg.rpc.listen.ip().to_string());
    status.insert("port".to_string(), cfg.grpc.listen.port().to_string());
    let mut config = BTreeMap::new();
    let item = |pairs: &[(&str, String)]| ConfigItem {
        props: pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    };
    config.insert(
        "rpc".to_string(),
        item(&[
            ("netserviceaddr", cfg.grpc.listen.ip().to_string()),
            ("netserviceport", cfg.grpc.listen.port().to_string()),
        ]),
    );
    config.insert("jsonrpc".to_string(), item(&[("listen", cfg.rpc.listen.to_string())]));
    config.insert("chain".to_string(), item(&[("consensus", api.node.chain().genesis().chain_id.consensus.clone())]));
    // `key` narrows the config sections, as the Go node does.
    if !req.key.is_empty() {
        config.retain(|k, _| req.key.iter().any(|want| want == k));
    }
    ServerInfo { status, config }
}

pub fn consensus_info(api: &Api) -> Result<ConsensusInfo, Status> {
    let chain = api.node.chain();
    let info = api.consensus_status().map_err(status_of)?;
    let bps = match chain.dpos() {
        Some(_) => {
            let producers = api.get_producers().map_err(status_of)?;
            producers["producers"].as_array().map(|ps| ps.iter().map(|p| p.to_string()).collect()).unwrap_or_default()
        }
        None => vec![json!({ "PeerID": api.node.peer_id() }).to_string()],
    };
    Ok(ConsensusInfo { r#type: chain.genesis().chain_id.consensus.clone(), info: info.to_string(), bps })
}

/// The blocks a `ListParams` names: from `hash` back along parents, or from
/// `height` up (`asc`) or down, skipping `offset`, at most `size` (capped).
/// Listed in ascending height when `asc`, else descending.
pub fn list_blocks(api: &Api, req: &ListParams) -> Result<Vec<Block>, Status> {
    let blocks = api.node.chain().blocks();
    let size = req.size.min(MAX_LISTED_BLOCKS) as u64;
    let offset = req.offset as u64;
    let mut out = Vec::with_capacity(size as usize);
    if !req.hash.is_empty() {
        let named = block_arg(api, &req.hash)?;
        let height = named.header().map_err(internal)?.block_no;
        // Skip `offset` blocks back from the named one (one lookup, however
        // large the offset), then list.
        let start = height.saturating_sub(offset);
        let mut at = if start == height {
            named
        } else {
            blocks.block_by_height(start).map_err(internal)?.ok_or_else(|| missing(start))?
        };
        let mut h = start;
        while (out.len() as u64) < size {
            let prev = at.header().map_err(internal)?.prev_block_hash.clone();
            out.push(at);
            if h == 0 || prev.is_empty() {
                break;
            }
            h -= 1;
            at = blocks.block_by_height(h).map_err(internal)?.ok_or_else(|| missing(h))?;
        }
        if req.asc {
            out.reverse();
        }
        return Ok(out);
    }
    let head = api.node.chain().head().height;
    if req.asc {
        let first = req.height.saturating_add(offset);
        for h in (first..=head).take(size as usize) {
            out.push(blocks.block_by_height(h).map_err(internal)?.ok_or_else(|| missing(h))?);
        }
    } else {
        // Height 0 with no hash means "from the head", as the Go node's
        // explorers use it.
        let top = if req.height == 0 { head } else { req.height.min(head) };
        let top = top.checked_sub(offset);
        if let Some(top) = top {
            for h in (0..=top).rev().take(size as usize) {
                out.push(blocks.block_by_height(h).map_err(internal)?.ok_or_else(|| missing(h))?);
            }
        }
    }
    Ok(out)
}

fn missing(height: u64) -> Status {
    Status::not_found(format!("block not found: height {height}"))
}

pub fn block_body(api: &Api, req: &BlockBodyParams) -> Result<BlockBodyPaged, Status> {
    let block = block_arg(api, &req.hashornumber)?;
    let txs = block.txs();
    let (offset, size) = match &req.paging {
        Some(p) => (p.offset, if p.size == 0 { MAX_BODY_PAGE } else { p.size.min(MAX_BODY_PAGE) }),
        None => (0, MAX_BODY_PAGE),
    };
    let page: Vec<Tx> = txs.iter().skip(offset as usize).take(size as usize).cloned().collect();
    Ok(BlockBodyPaged { total: txs.len() as u32, offset, size: page.len() as u32, body: Some(BlockBody { txs: page }) })
}

pub fn get_tx(api: &Api, hash: &[u8]) -> Result<Tx, Status> {
    let hash = hash_arg("tx hash", hash)?;
    if let Some((tx, _, _)) = api.node.chain().blocks().tx(&hash).map_err(internal)? {
        return Ok(tx);
    }
    api.node.pending_tx(&hash).ok_or_else(|| Status::not_found(format!("tx not found: {hash}")))
}

pub fn get_block_tx(api: &Api, hash: &[u8]) -> Result<TxInBlock, Status> {
    let hash = hash_arg("tx hash", hash)?;
    match api.node.chain().blocks().tx(&hash).map_err(internal)? {
        Some((tx, loc, _)) => Ok(TxInBlock {
            tx_idx: Some(TxIdx { block_hash: loc.block_hash.to_vec(), idx: loc.index as i32 }),
            tx: Some(tx),
        }),
        None if api.node.pending_tx(&hash).is_some() => {
            Err(Status::not_found(format!("tx not found in a block: {hash} is pending")))
        }
        None => Err(Status::not_found(format!("tx not found: {hash}"))),
    }
}

pub fn verify_tx(api: &Api, tx: Tx) -> VerifyResult {
    let rules = api.node.chain().rules();
    let public = api.node.chain().genesis().chain_id.public;
    let error = match tx.validate(&rules.chain_id_hash, public) {
        Err(e) if e.reason() == aergo_types::RejectReason::BadHash => VerifyStatus::InvalidHash,
        Err(_) => VerifyStatus::SignNotMatch,
        Ok(()) => match aergo_crypto::verify_tx(&tx) {
            Ok(_) => VerifyStatus::Ok,
            Err(_) => VerifyStatus::SignNotMatch,
        },
    };
    VerifyResult { tx: Some(tx), error: error as i32 }
}

/// Submits each transaction; a refusal is a `CommitResult` with the Go
/// node's status and, in `detail`, our reason code and message.
pub fn commit_txs(api: &Api, list: TxList) -> Result<CommitResultList, Status> {
    if list.txs.len() > MAX_COMMIT_TXS {
        return Err(Status::resource_exhausted(format!(
            "CommitTX takes at most {MAX_COMMIT_TXS} transactions, got {}",
            list.txs.len()
        )));
    }
    let mut results = Vec::with_capacity(list.txs.len());
    for tx in list.txs {
        let hash = tx.hash.clone();
        let result = match check_form(&tx).and_then(|()| api.node.submit(tx).map_err(Refusal::Node)) {
            Ok(h) => CommitResult { hash: h.to_vec(), error: CommitStatus::TxOk as i32, detail: String::new() },
            Err(Refusal::Form(reason, message)) => {
                CommitResult { hash, error: reason.commit_status(), detail: format!("{}: {message}", reason.as_str()) }
            }
            Err(Refusal::Node(NodeError::Rejected(r))) => CommitResult {
                hash,
                error: r.reason().commit_status(),
                detail: format!("{}: {r}", r.reason().as_str()),
            },
            Err(Refusal::Node(e)) => {
                CommitResult { hash, error: CommitStatus::TxInternalError as i32, detail: e.to_string() }
            }
        };
        results.push(result);
    }
    Ok(CommitResultList { results })
}

enum Refusal {
    Form(aergo_types::RejectReason, String),
    Node(NodeError),
}

/// What `sendTx` checks of the raw bytes before submission: the size bound
/// (gRPC gives us the decoded message, so it is measured re-encoded).
fn check_form(tx: &Tx) -> Result<(), Refusal> {
    let len = prost::Message::encoded_len(tx);
    if len > aergo_types::TX_MAX_SIZE_BYTES {
        return Err(Refusal::Form(
            aergo_types::RejectReason::TooLarge,
            format!("tx of {len} bytes exceeds the limit of {}", aergo_types::TX_MAX_SIZE_BYTES),
        ));
    }
    Ok(())
}
