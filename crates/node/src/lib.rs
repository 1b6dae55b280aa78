//! aergo-node: a running node, the async shell around the deterministic
//! core of `aergo-replica`.
//!
//! Bird's-eye view: a [`Node`] holds the [`Chain`] (state and block stores)
//! and a [`Replica`] (the transaction pool and the consensus engine the
//! genesis names: `sbp` solo or `dpos` BFT-DPoS). The replica decides; the
//! node supplies time, carries the network, and serves the API. Its work
//! happens on these paths:
//!
//! 1. **Submit** (RPC `sendTx`): [`Node::submit`] hands the transaction to
//!    the replica (verify chain id, hash, signature; admit to the pool
//!    against the head state); rejections return at once with the reason;
//!    an accepted one is also gossiped when the network runs.
//! 2. **Tick** (the producer loop, one tokio task): every `producer.tick_ms`
//!    it calls [`Replica::on_tick`] on the blocking pool with the wall
//!    clock. A solo node seals a block when one is due; a DPoS node
//!    produces in its slot, votes, and retries blocks that were early.
//! 3. **Network** (only with `[p2p] enabled`, see `network.rs`): starts
//!    `aergo_net` with the node key as peer identity and
//!    `GossipValidation::ByNode`; gossip goes to two workers (transactions;
//!    blocks and votes) that run the replica on the blocking pool and
//!    answer validation with its verdict; a carrier task publishes the
//!    replica's blocks, votes and transactions and reports penalised peers;
//!    a syncer fetches main-chain blocks in bounded batches from the peer
//!    with the highest head above ours (learnt from status handshakes,
//!    periodic status polls and unknown-parent requests) and reports
//!    [`Node::sync_progress`]. Peers are served our main chain by height
//!    from the block store, and our head and LIB as status.
//! 4. **Read** (RPC queries, metrics): blocks, transactions, receipts,
//!    accounts and DPoS state at the head or any height straight from the
//!    stores' snapshots, never through the replica's lock.
//! 5. **Beside the API** on the same port: the web console's pages
//!    (`aergo-console`), AergoFS's `/fs` routes (`fs_http`, over the store
//!    in `DIR/fs`, compacted in the background), Prometheus metrics
//!    (`metrics`). Backups (`backup`) read blocks through the API and
//!    restore by replaying them.
//!
//! Outputs of the replica are carried out in the order given: local ones
//! (new-block notifications for subscribers, block-rate statistics, logs)
//! at once, network ones through two bounded outboxes: consensus (blocks,
//! votes, penalties, block requests) and transaction gossip, which the
//! carrier drains consensus first, so a flood of submissions never delays
//! a block or a vote. A full outbox drops the output (with a warning for
//! consensus) rather than stall the replica; gossip and sync repair what
//! is lost.
//!
//! Solo dev mode is unchanged: without `[p2p]` no network starts, and the
//! solo replica seals, commits and finalizes each block in one step.
//!
//! A data directory holds `config.toml`, `genesis.json`, `node.key` (the
//! producer's private key, hex, mode 0600; also the libp2p identity),
//! `chain/` (the stores, including the persisted consensus safety state),
//! `fs/` (AergoFS volumes and index) and `keystore/` (encrypted account
//! keys, used by the CLI).
//!
//! Not here: consensus rules and block validity (the replica, the engine,
//! the chain); peer scoring thresholds (the net crate); a raft engine.

pub mod api;
pub mod backup;
pub mod config;
mod datadir;
pub mod forward;
mod fs_http;
pub mod fs_replica;
pub mod grpc;
pub mod metrics;
mod network;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aergo_chain::{Chain, ChainError, Head};
use aergo_crypto::PrivateKey;
use aergo_replica::{
    EngineKind, Output, Peer, PreconfOutcome, Replica, ReplicaConfig, ReplicaError, Role, TxRejection, Verdict,
};
use aergo_types::{Hash, Tx};
use tokio::sync::{broadcast, mpsc, watch};

pub use config::NodeConfig;
pub use datadir::{init_data_dir, init_dev_data_dir, DataDir, InitOptions, DEV_ACCOUNTS, DEV_ACCOUNT_BALANCE_AERGO};

/// Stack of every thread of the node's runtime (workers and the blocking
/// pool, where blocks are built, imported and replayed and API queries
/// run): enough for anything the SQL engine's limits allow.
pub const RUNTIME_THREAD_STACK_BYTES: usize = aergo_exec::SQL_MIN_STACK_BYTES;

/// The multi-threaded tokio runtime a node (and every tool that starts
/// one in-process) runs on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(RUNTIME_THREAD_STACK_BYTES).build()
}

/// Errors of the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("configuration: {reason}")]
    Config { reason: String },
    #[error("data directory {path}: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("transaction rejected: {0}")]
    Rejected(TxRejection),
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    #[error("consensus: {0}")]
    Consensus(#[from] aergo_consensus::ConsensusError),
    #[error("replica: {0}")]
    Replica(ReplicaError),
    #[error("network: {0}")]
    Network(String),
    #[error("rpc server: {0}")]
    Io(#[from] std::io::Error),
    #[error("grpc server: {0}")]
    Grpc(#[from] aergo_grpc::GrpcError),
    #[error("backup: {reason}")]
    Backup { reason: String },
    /// An AergoFS file this node could not fetch or heal; `reason` is the
    /// machine-readable code (`UNKNOWN_FILE`, `TOO_LARGE`, `QUOTA`,
    /// `UNAVAILABLE`).
    #[error("file {hash}: {message}")]
    File { hash: String, reason: &'static str, message: String },
}

impl From<ReplicaError> for NodeError {
    fn from(e: ReplicaError) -> Self {
        match e {
            ReplicaError::TxRejected(r) => NodeError::Rejected(r),
            ReplicaError::Chain(c) => NodeError::Chain(c),
            ReplicaError::Consensus(c) => NodeError::Consensus(c),
            other => NodeError::Replica(other),
        }
    }
}

/// Capacity of the new-block notification channel; slower subscribers are
/// told how many notifications they missed.
const BLOCK_NOTIFY_CAPACITY: usize = 256;

/// Capacity of the pre-confirmation notification channel (a block's worth
/// of a busy producer's promises); slower subscribers are told how many
/// they missed.
const PRECONF_NOTIFY_CAPACITY: usize = 4_096;

/// How far this node is from the best head its peers report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncProgress {
    /// Fetching blocks from a peer that is ahead.
    pub syncing: bool,
    /// Our head height.
    pub current: u64,
    /// The best head height seen among peers (0 without peers).
    pub target: u64,
}

/// A connected peer as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSummary {
    pub peer_id: String,
    pub address: Option<String>,
    pub height: u64,
    pub lib: u64,
}

#[derive(Default)]
struct SyncState {
    syncing: bool,
    target: u64,
}

/// Where the network shell takes the replica's network outputs from.
#[derive(Clone)]
pub(crate) struct Outboxes {
    pub consensus: mpsc::Sender<Output>,
    pub txs: mpsc::Sender<Output>,
}

/// A node: chain, replica (pool and consensus), configuration, and what
/// the shell around them keeps (notifications, metrics, peers, sync).
pub struct Node {
    chain: Arc<Chain>,
    replica: Arc<Replica>,
    config: NodeConfig,
    blocks_tx: broadcast::Sender<serde_json::Value>,
    /// Pre-confirmations this node signed, for WebSocket subscribers.
    preconfs_tx: broadcast::Sender<serde_json::Value>,
    stats: Mutex<Stats>,
    metrics: metrics::Metrics,
    /// AergoFS, when `[fs] enabled`.
    fs: Option<Arc<aergo_fs::FsStore>>,
    /// AergoFS replication's fetches in progress and their bound.
    fs_repl: fs_replica::FsReplication,
    peers: Mutex<Vec<PeerSummary>>,
    sync: Mutex<SyncState>,
    /// Network outputs go here while the network runs.
    outbox: Mutex<Option<Outboxes>>,
    /// The network, while it runs: forwarding for pre-confirmations.
    net: Mutex<Option<aergo_net::NetworkHandle>>,
    /// What the replica's restart produced, carried out once started.
    startup: Mutex<Vec<Output>>,
}

/// How often AergoFS looks for volumes worth compacting.
const FS_COMPACT_EVERY_MS: u64 = 60_000;

/// Every minute until the node stops: checkpoints AergoFS's index if it
/// changed (so an open after a crash scans at most a minute of writes) and
/// compacts volumes with at least `ratio` deleted bytes.
async fn compact_fs(store: Arc<aergo_fs::FsStore>, ratio: f64, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(FS_COMPACT_EVERY_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let s = store.clone();
        match tokio::task::spawn_blocking(move || {
            if let Err(e) = s.checkpoint_if_changed() {
                tracing::warn!(%e, "AergoFS checkpoint failed");
            }
            s.compact_all(ratio)
        })
        .await
        {
            Ok((reclaimed, errors)) => {
                if reclaimed > 0 {
                    tracing::info!(reclaimed, "AergoFS compaction");
                }
                for e in errors {
                    tracing::warn!(%e, "AergoFS compaction skipped a volume");
                }
            }
            Err(e) => tracing::warn!(%e, "AergoFS compaction task failed"),
        }
    }
}

/// Finality times above this are catch-up, not finality: not sampled.
const FINALITY_SAMPLE_MAX_NS: u64 = 10 * 60 * 1_000_000_000;

/// Blocks remembered for the rate metrics.
const STATS_WINDOW_BLOCKS: usize = 64;

/// Samples kept for `getMetricsHistory` (the console's charts): one per
/// block adopted by this process.
pub const METRICS_HISTORY_SAMPLES: usize = 1_024;

/// The node's figures when it adopted a block.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSample {
    pub height: u64,
    pub timestamp_ns: i64,
    pub txs: usize,
    /// Time since the previous block of the main chain (0 for the first
    /// sample after a start).
    pub interval_ms: u64,
    pub pool_txs: usize,
    /// Head height minus LIB height.
    pub finality_lag: u64,
}

/// Counters for the metrics endpoint.
#[derive(Default)]
pub struct Stats {
    /// (timestamp_ns, transaction count) of the latest blocks, oldest first.
    pub recent: std::collections::VecDeque<(i64, usize)>,
    /// The latest samples, oldest first, at most
    /// [`METRICS_HISTORY_SAMPLES`].
    pub history: std::collections::VecDeque<MetricSample>,
    pub blocks_total: u64,
    pub txs_total: u64,
}

impl Stats {
    /// Records an adopted block; returns the time since the previous one
    /// (none for the first this process saw).
    fn record(&mut self, height: u64, timestamp_ns: i64, txs: usize, pool_txs: usize, lib_height: u64) -> Option<u64> {
        let since_previous = self
            .recent
            .back()
            .map(|&(prev, _)| u64::try_from(timestamp_ns.saturating_sub(prev) / 1_000_000).unwrap_or(0));
        let interval_ms = since_previous.unwrap_or(0);
        if self.recent.len() == STATS_WINDOW_BLOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back((timestamp_ns, txs));
        if self.history.len() == METRICS_HISTORY_SAMPLES {
            self.history.pop_front();
        }
        let finality_lag = height.saturating_sub(lib_height);
        self.history.push_back(MetricSample { height, timestamp_ns, txs, interval_ms, pool_txs, finality_lag });
        self.blocks_total += 1;
        self.txs_total += txs as u64;
        since_previous
    }

    /// Mean seconds between the remembered blocks.
    pub fn block_interval_seconds(&self) -> f64 {
        match (self.recent.front(), self.recent.back()) {
            (Some(a), Some(b)) if self.recent.len() > 1 => (b.0 - a.0) as f64 / 1e9 / (self.recent.len() - 1) as f64,
            _ => 0.0,
        }
    }

    /// Transactions per second over the remembered blocks.
    pub fn tps(&self) -> f64 {
        match (self.recent.front(), self.recent.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                let txs: usize = self.recent.iter().skip(1).map(|r| r.1).sum();
                txs as f64 / ((b.0 - a.0) as f64 / 1e9)
            }
            _ => 0.0,
        }
    }
}

/// A started node: its RPC server, producer loop and, with `[p2p]`
/// enabled, its network.
pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    /// Where the gRPC server (the Go node's API, for the SDKs) listens.
    pub grpc_addr: SocketAddr,
    pub node: Arc<Node>,
    /// Where the network listens, as multiaddrs ending in `/p2p/<peer id>`
    /// (empty without `[p2p] enabled`): what other nodes put in their
    /// `bootstrap` list.
    pub p2p_addrs: Vec<String>,
    rpc: aergo_rpc::RpcServerHandle,
    grpc: aergo_grpc::GrpcServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    net: Option<aergo_net::NetworkHandle>,
    stop: watch::Sender<bool>,
}

impl RunningNode {
    /// Stops the producer loop, the network and the RPC server.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.node.set_outbox(None);
        self.node.set_net(None);
        if let Some(net) = &self.net {
            let _ = net.shutdown().await;
        }
        self.grpc.shutdown().await;
        self.rpc.shutdown().await;
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

impl Node {
    /// Opens the node of an initialised data directory.
    pub fn open(dir: &Path) -> Result<Node, NodeError> {
        let dd = DataDir::load(dir)?;
        Self::open_parts(dd, None)
    }

    /// Opens with an explicit configuration instead of `config.toml`.
    pub fn open_with_config(dir: &Path, config: NodeConfig) -> Result<Node, NodeError> {
        let dd = DataDir::load(dir)?;
        Self::open_parts(dd, Some(config))
    }

    fn open_parts(dd: DataDir, config: Option<NodeConfig>) -> Result<Node, NodeError> {
        let config = config.unwrap_or(dd.config);
        // Everything that can refuse the configuration or the genesis is
        // checked before the stores are created: a refusal writes nothing.
        config.validate().map_err(|reason| NodeError::Config { reason })?;
        let consensus = &dd.genesis.chain_id.consensus;
        if aergo_consensus::ConsensusKind::parse(consensus)? == aergo_consensus::ConsensusKind::Raft {
            return Err(NodeError::Replica(ReplicaError::NotBuilt { name: consensus.clone() }));
        }
        let chain = Arc::new(
            Chain::open(&dd.path.join("chain"), dd.genesis)?.with_exec_threads(config.producer.exec_threads()),
        );
        let rcfg = ReplicaConfig {
            max_block_txs: config.producer.max_block_txs,
            solo: config.solo.clone(),
            pool: config.pool_config(),
            preconfirm: config.producer.preconfirm,
            break_promises: break_promises_for_tests(),
            ..ReplicaConfig::default()
        };
        let (replica, startup) = Replica::open(chain.clone(), dd.node_key, rcfg, now_ns())?;
        let fs = if config.fs.enabled {
            let fcfg = aergo_fs::FsConfig {
                max_volume_bytes: config.fs.max_volume_bytes,
                max_file_bytes: config.fs.max_file_bytes,
                sync: config.fs.sync,
                ..aergo_fs::FsConfig::default()
            };
            let store = aergo_fs::FsStore::open(&dd.path.join("fs"), fcfg)
                .map_err(|e| NodeError::DataDir { path: dd.path.join("fs"), reason: e.to_string() })?;
            for w in &store.warnings {
                tracing::warn!("AergoFS: {w}");
            }
            Some(Arc::new(store))
        } else {
            None
        };
        let (blocks_tx, _) = broadcast::channel(BLOCK_NOTIFY_CAPACITY);
        let (preconfs_tx, _) = broadcast::channel(PRECONF_NOTIFY_CAPACITY);
        Ok(Node {
            fs_repl: fs_replica::FsReplication::new(config.fs.fetch_buffer_bytes),
            chain,
            replica: Arc::new(replica),
            config,
            blocks_tx,
            preconfs_tx,
            stats: Mutex::new(Stats::default()),
            metrics: metrics::Metrics::new(),
            fs,
            peers: Mutex::new(Vec::new()),
            sync: Mutex::new(SyncState::default()),
            outbox: Mutex::new(None),
            net: Mutex::new(None),
            startup: Mutex::new(startup),
        })
    }

    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// The deterministic core: pool and consensus. Writes go through it.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn producer_key(&self) -> &PrivateKey {
        self.replica.producer_key()
    }

    /// The node key's libp2p peer id (`16Uiu2...`).
    pub fn peer_id(&self) -> &str {
        self.replica.peer_id()
    }

    /// The consensus engine the genesis names.
    pub fn engine_kind(&self) -> EngineKind {
        self.replica.kind()
    }

    /// Producer, follower or solo.
    pub fn role(&self) -> Result<Role, NodeError> {
        Ok(self.replica.role()?)
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pending transactions and their bytes.
    pub fn pool_size(&self) -> (usize, usize) {
        self.replica.with_pool(|p| (p.len(), p.size_bytes()))
    }

    /// Verifies and admits a transaction (and gossips it when the network
    /// runs); returns its hash.
    pub fn submit(&self, tx: Tx) -> Result<Hash, NodeError> {
        let (hash, outputs) = self.admitted(self.replica.submit_tx(tx))?;
        self.handle_outputs(outputs, None);
        Ok(hash)
    }

    /// Counts a submission's outcome: `accepted`, or its rejection code.
    fn admitted<T>(&self, result: Result<T, ReplicaError>) -> Result<T, NodeError> {
        match result {
            Ok(done) => {
                self.metrics.admission("accepted");
                Ok(done)
            }
            Err(e) => {
                if let ReplicaError::TxRejected(r) = &e {
                    self.metrics.admission(r.reason().as_str());
                }
                Err(e.into())
            }
        }
    }

    /// [`Node::submit`], answering with this producer's signed
    /// pre-confirmation, or with why there is none (the transaction is
    /// admitted either way).
    pub fn submit_preconfirmed(&self, tx: Tx) -> Result<(Hash, PreconfOutcome), NodeError> {
        self.submitted(self.replica.submit_tx_preconfirmed(tx))
    }

    /// [`Node::submit_preconfirmed`] for many transactions, promised with
    /// one durable write (`Replica::submit_txs_preconfirmed`).
    pub fn submit_many_preconfirmed(&self, txs: Vec<Tx>) -> Vec<Result<(Hash, PreconfOutcome), NodeError>> {
        self.replica.submit_txs_preconfirmed(txs).into_iter().map(|r| self.submitted(r)).collect()
    }

    /// Metrics, notifications and outputs of one submission.
    fn submitted(
        &self,
        result: Result<(Hash, PreconfOutcome, Vec<Output>), ReplicaError>,
    ) -> Result<(Hash, PreconfOutcome), NodeError> {
        let (hash, outcome, outputs) = self.admitted(result)?;
        match &outcome {
            PreconfOutcome::Preconfirmed(p) => {
                self.metrics.preconfirmation("signed");
                // No subscriber is not an error.
                let _ = self.preconfs_tx.send(p.to_json());
            }
            PreconfOutcome::Queued { .. } => self.metrics.preconfirmation("queued"),
            PreconfOutcome::Elsewhere { .. } => self.metrics.preconfirmation("elsewhere"),
        }
        self.handle_outputs(outputs, None);
        Ok((hash, outcome))
    }

    /// Pre-confirmations as this node signs them (their JSON form).
    pub fn subscribe_preconfs(&self) -> broadcast::Receiver<serde_json::Value> {
        self.preconfs_tx.subscribe()
    }

    /// AergoFS, when enabled.
    pub fn fs(&self) -> Option<&Arc<aergo_fs::FsStore>> {
        self.fs.as_ref()
    }

    /// The node's Prometheus metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// A pending transaction, if the pool holds it.
    pub fn pending_tx(&self, hash: &Hash) -> Option<Tx> {
        self.replica.with_pool(|p| p.get(hash).map(|v| v.tx().clone()))
    }

    /// The nonce the account's next transaction on `lane` (main's chain id
    /// hash, or a branch's) should carry, counting pending ones. The state
    /// is read after the pool: a block committed in between then shows in
    /// the state, never a stale nonce.
    pub fn next_nonce(&self, lane: &Hash, address: &aergo_types::Address) -> Result<u64, NodeError> {
        let sender = (*lane, address.clone());
        if let Some(n) = self.replica.with_pool(|p| p.next_nonce(&sender)) {
            return Ok(n);
        }
        let main = self.chain.head_state();
        let state = if *lane == self.chain.rules().chain_id_hash {
            Some(main)
        } else {
            let branch = aergo_exec::branches::by_lane(&main, lane).map_err(ChainError::Exec)?;
            match branch {
                Some(b) => aergo_exec::branches::open(self.chain.store(), &main, &b.name).map_err(ChainError::Exec)?,
                None => None,
            }
        };
        let Some(state) = state else { return Ok(1) };
        Ok(aergo_exec::account(&state, address).map_err(ChainError::Exec)?.nonce + 1)
    }

    /// Runs `f` on the metrics counters.
    pub fn with_stats<R>(&self, f: impl FnOnce(&Stats) -> R) -> R {
        f(&Self::lock(&self.stats))
    }

    /// Subscribes to new-block notifications (block summaries as JSON).
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<serde_json::Value> {
        self.blocks_tx.subscribe()
    }

    /// How far this node is behind its peers.
    pub fn sync_progress(&self) -> SyncProgress {
        let s = Self::lock(&self.sync);
        let current = self.chain.head().height;
        SyncProgress { syncing: s.syncing, current, target: s.target.max(current) }
    }

    /// The connected peers (refreshed every second while the network runs).
    pub fn peers(&self) -> Vec<PeerSummary> {
        Self::lock(&self.peers).clone()
    }

    pub(crate) fn set_peers(&self, peers: Vec<PeerSummary>) {
        *Self::lock(&self.peers) = peers;
    }

    pub(crate) fn set_sync_target(&self, target: u64) {
        Self::lock(&self.sync).target = target;
    }

    pub(crate) fn set_syncing(&self, syncing: bool) {
        Self::lock(&self.sync).syncing = syncing;
    }

    pub(crate) fn set_net(&self, net: Option<aergo_net::NetworkHandle>) {
        *Self::lock(&self.net) = net;
    }

    pub(crate) fn set_outbox(&self, outbox: Option<Outboxes>) {
        *Self::lock(&self.outbox) = outbox;
    }

    /// Carries out the replica's outputs: local effects (notifications,
    /// metrics, logs) here, network effects through the outbox when the
    /// network runs. `gossip` names the sender of the message the outputs
    /// answer and the verdict given: a rejection already penalises it
    /// through gossip validation, so the same penalty is not repeated.
    pub(crate) fn handle_outputs(&self, outputs: Vec<Output>, gossip: Option<(&Peer, Verdict)>) {
        for o in outputs {
            match o {
                Output::NewHead { head, adopted, abandoned } => {
                    {
                        let (pool_txs, _) = self.pool_size();
                        let lib_height = self.chain.lib().height;
                        let mut stats = Self::lock(&self.stats);
                        for b in &adopted {
                            if let Ok(h) = b.header() {
                                let since = stats.record(h.block_no, h.timestamp, b.txs().len(), pool_txs, lib_height);
                                self.metrics.block(b.txs().len(), since);
                            }
                        }
                    }
                    for b in &adopted {
                        let _ = self.blocks_tx.send(api::block_json(b, false));
                    }
                    if abandoned > 0 {
                        tracing::info!(height = head.height, hash = %head.hash, abandoned, "head switched branch");
                    }
                    if let Some(b) = adopted.last() {
                        tracing::info!(height = head.height, hash = %head.hash, txs = b.txs().len(), "block");
                    }
                }
                Output::NewLib { lib } => {
                    let now_ns = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                        .unwrap_or(0);
                    let age_ns = u64::try_from(now_ns.saturating_sub(lib.timestamp_ns)).unwrap_or(0);
                    // Blocks finalised while catching up (sync, the replay
                    // at start) would read as hours of finality time.
                    if !self.sync_progress().syncing && age_ns <= FINALITY_SAMPLE_MAX_NS {
                        self.metrics.finalized(std::time::Duration::from_nanos(age_ns));
                    }
                    tracing::debug!(height = lib.height, hash = %lib.hash, "irreversible");
                }
                Output::Evidence(e) => tracing::warn!(evidence = ?e, "producer misbehaviour"),
                Output::Reissued(promises) => {
                    for p in promises {
                        self.metrics.preconfirmation("reissued");
                        let mut json = p.to_json();
                        json["reissued"] = serde_json::Value::Bool(true);
                        // No subscriber is not an error.
                        let _ = self.preconfs_tx.send(json);
                    }
                }
                Output::Warning(w) => tracing::warn!("{w}"),
                Output::Penalise { peer, offence, .. }
                    if gossip.is_some_and(|(from, v)| v == Verdict::Reject && *from == peer)
                        && offence != aergo_replica::Offence::Equivocation => {}
                net => {
                    let outbox = Self::lock(&self.outbox).clone();
                    if let Some(outbox) = outbox {
                        if matches!(net, Output::PublishTx(_)) {
                            if outbox.txs.try_send(net).is_err() {
                                tracing::debug!("transaction gossip queue full: one was not gossiped");
                            }
                        } else if outbox.consensus.try_send(net).is_err() {
                            tracing::warn!("network outbox full: a consensus output was dropped");
                        }
                    }
                }
            }
        }
    }

    /// One step of the producer: lets the engine produce if it is due at
    /// `now_ns`. Returns the new head if a block was made or adopted.
    pub fn produce_once(&self, now_ns: i64) -> Result<Option<Head>, NodeError> {
        let outputs = self.replica.on_tick(now_ns)?;
        let head = outputs.iter().rev().find_map(|o| match o {
            Output::NewHead { head, .. } => Some(head.clone()),
            _ => None,
        });
        self.handle_outputs(outputs, None);
        Ok(head)
    }

    /// Starts the RPC server, the producer loop and, with `[p2p]
    /// enabled`, the network, its workers and the syncer.
    pub async fn start(self: Arc<Self>) -> Result<RunningNode, NodeError> {
        let api = Arc::new(api::Api::new(self.clone()));
        let handler: Arc<dyn aergo_rpc::Handler> = api.clone();
        let routes = match &self.fs {
            Some(store) => fs_http::routes(store.clone(), self.config.fs.clone(), Some(Arc::downgrade(&self))),
            None => axum::Router::new(),
        };
        let rpc =
            aergo_rpc::serve_with_routes(self.config.rpc.listen, handler, self.config.rpc_limits(), routes).await?;
        let (stop, stop_rx) = watch::channel(false);
        let grpc_api = grpc::GrpcApi::new(api, stop_rx.clone());
        let grpc = match aergo_grpc::serve(self.config.grpc.listen, grpc_api, self.config.grpc_limits()).await {
            Ok(g) => g,
            Err(e) => {
                rpc.shutdown().await;
                return Err(e.into());
            }
        };
        let mut tasks = Vec::new();
        let mut net = None;
        let mut p2p_addrs = Vec::new();
        if self.config.p2p.enabled {
            match network::start(self.clone(), stop_rx.clone()).await {
                Ok(started) => {
                    tasks.extend(started.tasks);
                    p2p_addrs = started.addrs;
                    net = Some(started.handle);
                }
                Err(e) => {
                    grpc.shutdown().await;
                    rpc.shutdown().await;
                    return Err(e);
                }
            }
        }
        let startup = std::mem::take(&mut *Self::lock(&self.startup));
        self.handle_outputs(startup, None);
        let node = self.clone();
        let tick = Duration::from_millis(self.config.producer.tick_ms.max(1));
        if let Some(store) = self.fs.clone() {
            tasks.push(tokio::spawn(compact_fs(store, self.config.fs.compact_dead_ratio, stop_rx.clone())));
            if self.config.p2p.enabled {
                tasks.push(tokio::spawn(fs_replica::replicate(self.clone(), stop_rx.clone())));
            }
        }
        let mut stop_rx = stop_rx;
        tasks.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let n = node.clone();
                match tokio::task::spawn_blocking(move || n.produce_once(now_ns())).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "block production failed"),
                    Err(e) => tracing::error!(error = %e, "block production task failed"),
                }
            }
        }));
        Ok(RunningNode {
            rpc_addr: rpc.local_addr,
            grpc_addr: grpc.local_addr,
            node: self,
            p2p_addrs,
            rpc,
            grpc,
            tasks,
            net,
            stop,
        })
    }
}

/// `AERGO_TEST_BREAK_PROMISES=1` makes this node, as a DPoS producer,
/// break its first promise of every block it seals (the end-to-end test
/// of evidence and slashing needs a producer that misbehaves). Never set
/// on a real producer: it will be slashed.
fn break_promises_for_tests() -> bool {
    let on = std::env::var_os("AERGO_TEST_BREAK_PROMISES").is_some_and(|v| v == "1");
    if on {
        tracing::warn!("AERGO_TEST_BREAK_PROMISES=1: this producer breaks pre-confirmations on purpose (tests only)");
    }
    on
}
