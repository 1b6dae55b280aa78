//! aergo-node: a running node, wired from the crates below it.
//!
//! Bird's-eye view: a [`Node`] holds the [`Chain`] (state and block stores),
//! the transaction [`Pool`], the producer key and the consensus engine. Its
//! work happens on three paths:
//!
//! 1. **Submit** (RPC `sendTx`): decode, verify chain id, hash and signature
//!    ([`aergo_exec::verify_tx`]), then admit to the pool against the head
//!    state of the sender. Rejections return at once with the reason.
//! 2. **Produce** (the producer loop, one tokio task): every tick, ask the
//!    engine whether to seal a block; if so, take ready transactions from
//!    the pool, build and sign the block on the blocking pool, commit it,
//!    update the pool, and notify subscribers.
//! 3. **Read** (RPC queries): blocks, transactions, receipts and accounts at
//!    the head or any height, from the stores' snapshots.
//!
//! The pool lock is held while a block is committed and the pool updated,
//! and while a transaction is admitted, so admission always sees a head and
//! a pool that agree.
//!
//! A data directory holds `config.toml`, `genesis.json`, `node.key` (the
//! producer's private key, hex, mode 0600), `chain/` (the stores) and
//! `keystore/` (encrypted account keys, used by the CLI).

pub mod api;
pub mod config;
mod datadir;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aergo_chain::{Chain, ChainError, Head};
use aergo_consensus::{ConsensusKind, Decision, Solo};
use aergo_crypto::PrivateKey;
use aergo_exec::{verify_tx, ExecError};
use aergo_pool::{Pool, PoolError};
use aergo_types::{Hash, Tx};
use tokio::sync::{broadcast, watch};

pub use config::NodeConfig;
pub use datadir::{init_data_dir, init_dev_data_dir, DataDir, InitOptions, DEV_ACCOUNTS, DEV_ACCOUNT_BALANCE_AERGO};

/// Errors of the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("configuration: {reason}")]
    Config { reason: String },
    #[error("data directory {path}: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("transaction rejected: {0}")]
    Rejected(String),
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    #[error("consensus: {0}")]
    Consensus(#[from] aergo_consensus::ConsensusError),
    #[error("rpc server: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ExecError> for NodeError {
    fn from(e: ExecError) -> Self {
        if e.is_rejection() {
            NodeError::Rejected(e.to_string())
        } else {
            NodeError::Chain(ChainError::Exec(e))
        }
    }
}

impl From<PoolError> for NodeError {
    fn from(e: PoolError) -> Self {
        NodeError::Rejected(e.to_string())
    }
}

/// Capacity of the new-block notification channel; slower subscribers are
/// told how many notifications they missed.
const BLOCK_NOTIFY_CAPACITY: usize = 256;

/// A node: chain, pool, producer key and engine.
pub struct Node {
    chain: Chain,
    pool: Mutex<Pool>,
    key: PrivateKey,
    solo: Solo,
    config: NodeConfig,
    blocks_tx: broadcast::Sender<serde_json::Value>,
    stats: Mutex<Stats>,
}

/// Blocks remembered for the rate metrics.
const STATS_WINDOW_BLOCKS: usize = 64;

/// Counters for the metrics endpoint.
#[derive(Default)]
pub struct Stats {
    /// (timestamp_ns, transaction count) of the latest blocks, oldest first.
    pub recent: std::collections::VecDeque<(i64, usize)>,
    pub blocks_total: u64,
    pub txs_total: u64,
}

impl Stats {
    fn record(&mut self, timestamp_ns: i64, txs: usize) {
        if self.recent.len() == STATS_WINDOW_BLOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back((timestamp_ns, txs));
        self.blocks_total += 1;
        self.txs_total += txs as u64;
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

/// A started node: its RPC server and producer loop.
pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub node: Arc<Node>,
    rpc: aergo_rpc::RpcServerHandle,
    producer: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl RunningNode {
    /// Stops the producer loop and the RPC server.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.producer.await;
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
        ConsensusKind::parse(&dd.genesis.chain_id.consensus)?.require_built()?;
        let solo = Solo::new(config.solo.clone())?;
        let chain = Chain::open(&dd.path.join("chain"), dd.genesis)?;
        let pool = Mutex::new(Pool::new(config.pool_config()));
        let (blocks_tx, _) = broadcast::channel(BLOCK_NOTIFY_CAPACITY);
        Ok(Node { chain, pool, key: dd.node_key, solo, config, blocks_tx, stats: Mutex::new(Stats::default()) })
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn producer_key(&self) -> &PrivateKey {
        &self.key
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pending transactions and their bytes.
    pub fn pool_size(&self) -> (usize, usize) {
        let p = self.lock_pool();
        (p.len(), p.size_bytes())
    }

    /// Verifies and admits a transaction; returns its hash.
    pub fn submit(&self, tx: Tx) -> Result<Hash, NodeError> {
        let vtx = verify_tx(tx, self.chain.rules())?;
        let hash = vtx.hash();
        let mut pool = self.lock_pool();
        let state = self.chain.head_state();
        let committed = aergo_exec::account(&state, vtx.sender())?;
        let gas_price = aergo_exec::system::gas_price(&state)?;
        pool.admit(vtx, committed, gas_price)?;
        Ok(hash)
    }

    /// A pending transaction, if the pool holds it.
    pub fn pending_tx(&self, hash: &Hash) -> Option<Tx> {
        self.lock_pool().get(hash).map(|v| v.tx().clone())
    }

    /// The nonce the account's next transaction should carry, counting
    /// pending ones.
    pub fn next_nonce(&self, address: &aergo_types::Address) -> Result<u64, NodeError> {
        let pool = self.lock_pool();
        if let Some(n) = pool.next_nonce(address) {
            return Ok(n);
        }
        Ok(aergo_exec::account(&self.chain.head_state(), address)?.nonce + 1)
    }

    /// Runs `f` on the metrics counters.
    pub fn with_stats<R>(&self, f: impl FnOnce(&Stats) -> R) -> R {
        f(&self.stats.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Subscribes to new-block notifications (block summaries as JSON).
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<serde_json::Value> {
        self.blocks_tx.subscribe()
    }

    /// One step of the producer: seals and commits a block if the engine
    /// says so at `now_ns`. Returns the new head if a block was made.
    pub fn produce_once(&self, now_ns: i64) -> Result<Option<Head>, NodeError> {
        let max_txs = self.config.producer.max_block_txs;
        let candidates = self.lock_pool().select(max_txs, aergo_types::block::BLOCK_MAX_SIZE_BYTES);
        let head = self.chain.head();
        let timestamp_ns = match self.solo.decide(now_ns, head.timestamp_ns, candidates.len()) {
            Decision::Wait => return Ok(None),
            Decision::Produce { timestamp_ns } => timestamp_ns,
        };
        let built = self.chain.build_block(&head.hash, candidates, &self.key, timestamp_ns, Vec::new())?;
        let mut pool = self.lock_pool();
        let new_head = self.chain.commit(&built.block, &built.receipts)?;
        // Solo: one producer, nobody to disagree; a block is final at once.
        self.chain.set_lib(&new_head.hash)?;
        let state = self.chain.head_state();
        let mut senders: Vec<aergo_types::Address> =
            built.block.txs().iter().filter_map(|tx| tx.body.as_ref()?.sender().ok()).collect();
        senders.sort();
        senders.dedup();
        for sender in &senders {
            let nonce = aergo_exec::account(&state, sender)?.nonce;
            pool.on_committed(sender, nonce);
        }
        for (hash, reason) in &built.rejected {
            tracing::info!(tx = %hash, %reason, "dropped from the pool at block building");
            pool.remove_with_successors(hash);
        }
        drop(pool);
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).record(new_head.timestamp_ns, built.block.txs().len());
        let _ = self.blocks_tx.send(api::block_json(&built.block, false));
        tracing::info!(height = new_head.height, hash = %new_head.hash, txs = built.block.txs().len(), "block");
        Ok(Some(new_head))
    }

    /// Starts the RPC server and the producer loop.
    pub async fn start(self: Arc<Self>) -> Result<RunningNode, NodeError> {
        let handler = Arc::new(api::Api::new(self.clone()));
        let rpc = aergo_rpc::serve(self.config.rpc.listen, handler, self.config.rpc_limits()).await?;
        let (stop, mut stop_rx) = watch::channel(false);
        let node = self.clone();
        let tick = Duration::from_millis(self.config.producer.tick_ms.max(1));
        let producer = tokio::spawn(async move {
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
        });
        Ok(RunningNode { rpc_addr: rpc.local_addr, node: self, rpc, producer, stop })
    }
}
