//! The node's gRPC methods: the Go node's `types.AergoRPCService`, served
//! by `aergo-grpc` on the `[grpc] listen` port, so that aergo-herapy,
//! @herajs/client, wallets and explorers work against this node.
//!
//! Each method reads the same chain, state and pool as its JSON-RPC twin in
//! [`crate::api`] (and shares its helpers and the read-only query engine);
//! they differ only in encoding: here hashes and addresses are raw bytes,
//! amounts minimal big-endian bytes, numbers in `SingleBytes` little-endian
//! (as the Go node has them).
//!
//! | method | what it serves |
//! |---|---|
//! | `Blockchain`, `GetChainInfo`, `ChainStat`, `NodeState`, `GetServerInfo`, `GetConsensusInfo` | head, chain id and parameters, node status |
//! | `GetBlock`, `GetBlockMetadata`, `GetBlockBody`, `ListBlockHeaders`, `ListBlockMetadata` | blocks by hash or height, pages of them |
//! | `ListBlockStream`, `ListBlockMetadataStream`, `ListEventStream` | streams of new blocks and events |
//! | `GetTX`, `GetBlockTX`, `GetReceipt`, `CommitTX`, `VerifyTX` | transactions |
//! | `GetState`, `GetStateAndProof`, `GetAccounts` | accounts (the node holds no keys) |
//! | `QueryContract`, `GetABI`, `ListEvents` | SQL contracts |
//! | `GetPeers`, `GetStaking`, `GetVotes`, `GetAccountVotes`, `Metric` | network and DPoS |
//!
//! | `GetNameInfo` | the name service |
//!
//! Everything else (`SendTX`, `SignTX` and the key methods of a node that
//! holds keys, `QueryContractState`, `GetInternalOperations`, the enterprise and raft
//! methods) answers `UNIMPLEMENTED` with a message that says why.
//!
//! Errors: a bad argument is `INVALID_ARGUMENT`, something absent is
//! `NOT_FOUND` (a receipt not there yet says `tx not found`, the words
//! herapy's `wait_tx_result` waits on), a cap hit is `RESOURCE_EXHAUSTED`,
//! a refused transaction comes back inside `CommitResult` with the Go
//! node's `CommitStatus` and our reason code in its detail.
//!
//! Store reads are synchronous: every call runs on tokio's blocking pool.

use std::sync::Arc;

use aergo_grpc::pb::aergo_rpc_service_server::AergoRpcService;
use aergo_grpc::pb::*;
use aergo_grpc::{Request, Response, Status};
use aergo_rpc::RpcError;
use aergo_types::{Address, Block, Hash, Receipt, Tx, TxList};
use tokio::sync::{watch, Semaphore};

use crate::api::Api;

mod chain;
mod state;
mod streams;

/// The gRPC face of a node.
pub struct GrpcApi {
    api: Arc<Api>,
    /// Stream subscriptions open at once, across all clients.
    streams: Arc<Semaphore>,
    /// Calls whose store work runs at once. Held until the work returns,
    /// not until the call's deadline: a deadline that ends the call does
    /// not end its blocking work, so the server's own cap would not bound
    /// it.
    running: Arc<Semaphore>,
    /// Fires when the node stops: streams end, so the server can.
    stop: watch::Receiver<bool>,
}

impl GrpcApi {
    /// The gRPC methods over `api` (the JSON-RPC's, whose query engine and
    /// its cache of compiled functions they share), until `stop` fires.
    pub fn new(api: Arc<Api>, stop: watch::Receiver<bool>) -> GrpcApi {
        let config = &api.node.config().grpc;
        let streams = Arc::new(Semaphore::new(config.max_streams));
        let running = Arc::new(Semaphore::new(config.max_running_calls));
        GrpcApi { api, streams, running, stop }
    }

    /// Runs `f` on the blocking pool (it reads the store).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Api) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let api = self.api.clone();
        let permit =
            self.running.clone().acquire_owned().await.map_err(|_| Status::unavailable("the node is stopping"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&api)
        })
        .await
        .map_err(|e| Status::internal(format!("the call's task failed: {e}")))?
        .map(Response::new)
    }
}

/// A JSON-RPC error of a shared helper as a gRPC status.
pub(crate) fn status_of(e: RpcError) -> Status {
    use tonic_code as c;
    let code = match e.code {
        aergo_rpc::INVALID_PARAMS => c::InvalidArgument,
        aergo_rpc::NOT_FOUND => c::NotFound,
        aergo_rpc::LIMIT_EXCEEDED => c::ResourceExhausted,
        aergo_rpc::REJECTED => c::FailedPrecondition,
        aergo_rpc::METHOD_NOT_FOUND => c::Unimplemented,
        _ => c::Internal,
    };
    Status::new(code, e.message)
}

use aergo_grpc::Code as tonic_code;

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn unimplemented(method: &str, why: &str) -> Status {
    Status::unimplemented(format!("{method} is not served by this node: {why}"))
}

const NO_KEYS: &str = "the node holds no keys; sign on the client and send with CommitTX";

/// A 32-byte hash argument.
fn hash_arg(what: &str, bytes: &[u8]) -> Result<Hash, Status> {
    Hash::from_slice("hash", bytes)
        .map_err(|_| Status::invalid_argument(format!("{what}: expected a 32-byte hash, got {} bytes", bytes.len())))
}

/// An account address argument: the 33 raw bytes of a public key. A name
/// (the Go node's 12-character account names) is refused by name.
fn address_arg(what: &str, bytes: &[u8]) -> Result<Address, Status> {
    if bytes.is_empty() {
        return Err(Status::invalid_argument(format!("{what}: expected an address, got nothing")));
    }
    Address::from_bytes(bytes).map_err(|e| {
        if bytes.len() <= 12 && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'.') {
            Status::invalid_argument(format!(
                "{what}: {:?} is an account name; give its address (GetNameInfo resolves a name)",
                String::from_utf8_lossy(bytes)
            ))
        } else {
            Status::invalid_argument(format!("{what}: {e}"))
        }
    })
}

/// The block a `SingleBytes` names: a 32-byte hash, or a height as up to 8
/// little-endian bytes (the Go node's encoding; herapy and herajs send 8).
fn block_arg(api: &Api, bytes: &[u8]) -> Result<Block, Status> {
    let blocks = api.node.chain().blocks();
    let found = match bytes.len() {
        32 => blocks.block_by_hash(&hash_arg("block", bytes)?).map_err(internal)?,
        0..=8 => blocks.block_by_height(height_le(bytes)).map_err(internal)?,
        n => {
            return Err(Status::invalid_argument(format!(
                "block: expected a 32-byte hash or a height of up to 8 little-endian bytes, got {n} bytes"
            )))
        }
    };
    found.ok_or_else(|| Status::not_found(format!("block not found: {}", describe_block_arg(bytes))))
}

fn describe_block_arg(bytes: &[u8]) -> String {
    if bytes.len() == 32 {
        Hash::from_slice("hash", bytes).map(|h| h.to_string()).unwrap_or_default()
    } else {
        format!("height {}", height_le(bytes))
    }
}

/// A height of up to 8 little-endian bytes (more are ignored: callers
/// refuse them first).
fn height_le(bytes: &[u8]) -> u64 {
    let n = bytes.len().min(8);
    let mut le = [0u8; 8];
    le[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(le)
}

/// A block's metadata: hash, header, transaction count, encoded size.
fn metadata_of(block: &Block) -> BlockMetadata {
    BlockMetadata {
        hash: block.hash.clone(),
        header: block.header.clone(),
        txcount: block.txs().len() as i32,
        size: prost::Message::encoded_len(block) as i64,
    }
}

/// The receipt as served: with its block's hash, height and index.
fn served_receipt(api: &Api, hash: &Hash) -> Result<Receipt, Status> {
    match api.node.chain().blocks().receipt(hash).map_err(internal)? {
        Some(r) => Ok(r),
        None if api.node.pending_tx(hash).is_some() => {
            Err(Status::not_found(format!("tx not found in a block: {hash} is pending")))
        }
        None => Err(Status::not_found(format!("tx not found: {hash}"))),
    }
}

#[aergo_grpc::async_trait]
impl AergoRpcService for GrpcApi {
    async fn node_state(&self, r: Request<NodeReq>) -> Result<Response<SingleBytes>, Status> {
        let req = r.into_inner();
        self.run(move |api| chain::node_state(api, &req)).await
    }

    async fn metric(&self, r: Request<MetricsRequest>) -> Result<Response<Metrics>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::metrics(api, &req)).await
    }

    async fn blockchain(&self, _: Request<Empty>) -> Result<Response<BlockchainStatus>, Status> {
        self.run(chain::blockchain).await
    }

    async fn get_chain_info(&self, _: Request<Empty>) -> Result<Response<ChainInfo>, Status> {
        self.run(chain::chain_info).await
    }

    async fn chain_stat(&self, _: Request<Empty>) -> Result<Response<ChainStats>, Status> {
        self.run(chain::chain_stat).await
    }

    async fn list_block_headers(&self, r: Request<ListParams>) -> Result<Response<BlockHeaderList>, Status> {
        let req = r.into_inner();
        self.run(move |api| {
            let blocks = chain::list_blocks(api, &req)?;
            Ok(BlockHeaderList {
                blocks: blocks.into_iter().map(|b| Block { hash: b.hash, header: b.header, body: None }).collect(),
            })
        })
        .await
    }

    async fn list_block_metadata(&self, r: Request<ListParams>) -> Result<Response<BlockMetadataList>, Status> {
        let req = r.into_inner();
        self.run(move |api| {
            let blocks = chain::list_blocks(api, &req)?;
            Ok(BlockMetadataList { blocks: blocks.iter().map(metadata_of).collect() })
        })
        .await
    }

    type ListBlockStreamStream = streams::Items<Block>;

    async fn list_block_stream(&self, _: Request<Empty>) -> Result<Response<Self::ListBlockStreamStream>, Status> {
        streams::blocks(self.api.clone(), &self.streams, self.stop.clone(), Ok).map(Response::new)
    }

    type ListBlockMetadataStreamStream = streams::Items<BlockMetadata>;

    async fn list_block_metadata_stream(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::ListBlockMetadataStreamStream>, Status> {
        streams::blocks(self.api.clone(), &self.streams, self.stop.clone(), |b| Ok(metadata_of(&b))).map(Response::new)
    }

    async fn get_block(&self, r: Request<SingleBytes>) -> Result<Response<Block>, Status> {
        let req = r.into_inner();
        self.run(move |api| block_arg(api, &req.value)).await
    }

    async fn get_block_metadata(&self, r: Request<SingleBytes>) -> Result<Response<BlockMetadata>, Status> {
        let req = r.into_inner();
        self.run(move |api| Ok(metadata_of(&block_arg(api, &req.value)?))).await
    }

    async fn get_block_body(&self, r: Request<BlockBodyParams>) -> Result<Response<BlockBodyPaged>, Status> {
        let req = r.into_inner();
        self.run(move |api| chain::block_body(api, &req)).await
    }

    async fn get_tx(&self, r: Request<SingleBytes>) -> Result<Response<Tx>, Status> {
        let req = r.into_inner();
        self.run(move |api| chain::get_tx(api, &req.value)).await
    }

    async fn get_block_tx(&self, r: Request<SingleBytes>) -> Result<Response<TxInBlock>, Status> {
        let req = r.into_inner();
        self.run(move |api| chain::get_block_tx(api, &req.value)).await
    }

    async fn get_receipt(&self, r: Request<SingleBytes>) -> Result<Response<Receipt>, Status> {
        let req = r.into_inner();
        self.run(move |api| served_receipt(api, &hash_arg("tx hash", &req.value)?)).await
    }

    async fn get_internal_operations(&self, _: Request<BlockNumberParam>) -> Result<Response<SingleBytes>, Status> {
        Err(unimplemented("GetInternalOperations", "SQL contracts have no internal operations log"))
    }

    async fn get_abi(&self, r: Request<SingleBytes>) -> Result<Response<Abi>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::abi(api, &req.value)).await
    }

    async fn send_tx(&self, _: Request<Tx>) -> Result<Response<CommitResult>, Status> {
        Err(unimplemented("SendTX", NO_KEYS))
    }

    async fn sign_tx(&self, _: Request<Tx>) -> Result<Response<Tx>, Status> {
        Err(unimplemented("SignTX", NO_KEYS))
    }

    async fn verify_tx(&self, r: Request<Tx>) -> Result<Response<VerifyResult>, Status> {
        let tx = r.into_inner();
        self.run(move |api| Ok(chain::verify_tx(api, tx))).await
    }

    async fn commit_tx(&self, r: Request<TxList>) -> Result<Response<CommitResultList>, Status> {
        let list = r.into_inner();
        self.run(move |api| chain::commit_txs(api, list)).await
    }

    async fn get_state(&self, r: Request<SingleBytes>) -> Result<Response<State>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::account_state(api, &req.value)).await
    }

    async fn get_state_and_proof(&self, r: Request<AccountAndRoot>) -> Result<Response<AccountProof>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::account_proof(api, &req)).await
    }

    async fn create_account(&self, _: Request<Personal>) -> Result<Response<Account>, Status> {
        Err(unimplemented("CreateAccount", NO_KEYS))
    }

    async fn get_accounts(&self, _: Request<Empty>) -> Result<Response<AccountList>, Status> {
        // The node keeps no accounts of its own: an empty list, as a Go
        // node without a keystore answers.
        Ok(Response::new(AccountList { accounts: Vec::new() }))
    }

    async fn lock_account(&self, _: Request<Personal>) -> Result<Response<Account>, Status> {
        Err(unimplemented("LockAccount", NO_KEYS))
    }

    async fn unlock_account(&self, _: Request<Personal>) -> Result<Response<Account>, Status> {
        Err(unimplemented("UnlockAccount", NO_KEYS))
    }

    async fn import_account(&self, _: Request<ImportFormat>) -> Result<Response<Account>, Status> {
        Err(unimplemented("ImportAccount", NO_KEYS))
    }

    async fn export_account(&self, _: Request<Personal>) -> Result<Response<SingleBytes>, Status> {
        Err(unimplemented("ExportAccount", NO_KEYS))
    }

    async fn export_account_keystore(&self, _: Request<Personal>) -> Result<Response<SingleBytes>, Status> {
        Err(unimplemented("ExportAccountKeystore", NO_KEYS))
    }

    async fn query_contract(&self, r: Request<Query>) -> Result<Response<SingleBytes>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::query_contract(api, &req)).await
    }

    async fn query_contract_state(&self, _: Request<StateQuery>) -> Result<Response<StateQueryProof>, Status> {
        Err(unimplemented(
            "QueryContractState",
            "SQL contracts keep their state in tables, not Lua state variables; read them with the JSON-RPC query method",
        ))
    }

    async fn get_peers(&self, r: Request<PeersParams>) -> Result<Response<PeerList>, Status> {
        let req = r.into_inner();
        self.run(move |api| Ok(state::peers(api, &req))).await
    }

    async fn get_votes(&self, r: Request<VoteParams>) -> Result<Response<VoteList>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::votes(api, &req)).await
    }

    async fn get_account_votes(&self, r: Request<AccountAddress>) -> Result<Response<AccountVoteInfo>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::account_votes(api, &req.value)).await
    }

    async fn get_staking(&self, r: Request<AccountAddress>) -> Result<Response<Staking>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::staking(api, &req.value)).await
    }

    async fn get_name_info(&self, r: Request<Name>) -> Result<Response<NameInfo>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::name_info(api, &req)).await
    }

    type ListEventStreamStream = streams::Items<aergo_types::Event>;

    async fn list_event_stream(&self, r: Request<FilterInfo>) -> Result<Response<Self::ListEventStreamStream>, Status> {
        let filter = r.into_inner();
        streams::events(self.api.clone(), &self.streams, self.stop.clone(), filter).map(Response::new)
    }

    async fn list_events(&self, r: Request<FilterInfo>) -> Result<Response<EventList>, Status> {
        let req = r.into_inner();
        self.run(move |api| state::list_events(api, &req)).await
    }

    async fn get_server_info(&self, r: Request<KeyParams>) -> Result<Response<ServerInfo>, Status> {
        let req = r.into_inner();
        self.run(move |api| Ok(chain::server_info(api, &req))).await
    }

    async fn get_consensus_info(&self, _: Request<Empty>) -> Result<Response<ConsensusInfo>, Status> {
        self.run(chain::consensus_info).await
    }

    async fn get_enterprise_config(
        &self,
        _: Request<EnterpriseConfigKey>,
    ) -> Result<Response<EnterpriseConfig>, Status> {
        Err(unimplemented("GetEnterpriseConfig", "this node has no enterprise (private raft) configuration"))
    }

    async fn get_conf_change_progress(&self, _: Request<SingleBytes>) -> Result<Response<ConfChangeProgress>, Status> {
        Err(unimplemented("GetConfChangeProgress", "raft membership changes are not built"))
    }
}
