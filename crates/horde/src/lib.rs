//! aergo-horde: `aergo horde`, a local DPoS network of node processes on
//! loopback; the network benchmark (`aergo-lab`) and the end-to-end tests
//! build on it. Deployment manifests for remote hosts are meant to join it.
//!
//! Bird's-eye view: the crate root holds the network's manifest
//! ([`Manifest`], `horde.json`), its creation ([`up`]) and its reports
//! ([`status`], [`stop`], [`start`] and their text and JSON); [`procs`]
//! starts and stops the detached node processes. Nodes are the `aergo`
//! binary itself (its path comes with each request), talked to over
//! JSON-RPC with `aergo-client`; argument parsing and printing are the
//! binary's.
//!
//! `up` creates, in the network's folder (`--dir`, default `./horde`):
//!
//! - one data directory per node, `node0` .. `node{N+C-1}`: a new random
//!   node key, the shared genesis, and a `config.toml` whose `[rpc] listen`
//!   is `127.0.0.1:P+2i` and whose `[p2p]` section is enabled, listens on
//!   `/ip4/127.0.0.1/tcp/P+2i+1` and bootstraps from every other node
//!   (`.../p2p/<peer id>`);
//! - `genesis.json`: a `dpos` chain whose `bps` are the peer ids of the
//!   first N nodes (the producers; the C others are candidates that only
//!   follow until voted in), with the slot length and epoch asked for, a
//!   low `min_stake` and short `stake_lock_blocks` so staking can be tried
//!   at once, and the deterministic dev accounts (`dev:0`..`dev:9`)
//!   prefunded, so every `--from dev:N` of the CLI works on it;
//! - `horde.json`, the manifest (written last: a folder without it is not
//!   a network), which `status`, `down`, `start` and `stop` read.
//!
//! Then it starts every node as a detached `aergo node --dir DIR/nodeK`
//! (log in `nodeK/node.log`, pid in `nodeK/node.pid`; see [`crate::procs`])
//! and returns once every node's JSON-RPC answers. A folder that already
//! holds a stopped network is started again as it is; one with a running
//! node is refused; `--reset` replaces a stopped one.
//!
//! `status` asks every node's `status` at once (with a short timeout) and
//! reports height, LIB, peers, role and sync state; `down` stops them all
//! (SIGTERM, then SIGKILL after a grace period); `start`/`stop` act on one
//! node, so tests can crash a producer and bring it back.
//!
//! [`deploy`] writes the same kind of network as files for Docker Compose
//! or Kubernetes (`aergo horde manifests`). Not done yet: adding nodes to a
//! running network.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aergo_crypto::{dev_genesis, PrivateKey};
use aergo_node::{init_data_dir, InitOptions, NodeConfig, DEV_ACCOUNTS, DEV_ACCOUNT_BALANCE_AERGO};
use aergo_types::genesis::{DposGenesis, CONSENSUS_DPOS};
use aergo_types::{Amount, ChainId, Genesis, Unit};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use aergo_client::client::RpcClient;
use aergo_client::{CliError, Result};

use crate::procs::{StopOutcome, Target};

pub mod deploy;
pub mod procs;

/// The manifest's file name in the network's folder.
pub const MANIFEST_FILE: &str = "horde.json";
/// The shared genesis, kept beside the manifest for joining nodes.
pub const GENESIS_FILE: &str = "genesis.json";
/// The network's folder when `--dir` is not given.
pub const DEFAULT_DIR: &str = "horde";
/// First port used when `--base-port` is not given.
pub const DEFAULT_BASE_PORT: u16 = 17_900;
/// Chain magic of every horde network.
pub const CHAIN_MAGIC: &str = "horde.local";
/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 1;
/// Most producers and most extra candidates (a laptop, not a data centre).
pub const MAX_PRODUCERS: u32 = 32;
pub const MAX_CANDIDATES: u32 = 32;
/// `max_peers` written to each node's `[p2p]`.
pub const MAX_PEERS: usize = 50;
/// How long one `status` call may take in `horde status`.
pub const STATUS_TIMEOUT_MS: u64 = 3_000;
/// How long `down`/`stop` wait after SIGTERM before SIGKILL.
pub const STOP_GRACE_MS: u64 = 15_000;
/// How often `up`/`start` ask a starting node whether it answers.
const READY_POLL_MS: u64 = 100;
/// Largest manifest read.
const MANIFEST_MAX_BYTES: usize = 1 << 20;
const NODE_LOG: &str = "node.log";
const NODE_PID: &str = "node.pid";

/// What `up` builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HordeSpec {
    /// Producers (the genesis `bps`).
    pub nodes: u32,
    /// Extra nodes that follow and can be voted in.
    pub candidates: u32,
    /// Node i listens on base_port + 2i (RPC) and base_port + 2i + 1 (p2p).
    pub base_port: u16,
    pub block_interval_ms: u64,
    pub epoch_blocks: u64,
    pub min_stake: Amount,
    pub stake_lock_blocks: u64,
}

impl Default for HordeSpec {
    fn default() -> Self {
        HordeSpec {
            nodes: 4,
            candidates: 0,
            base_port: DEFAULT_BASE_PORT,
            block_interval_ms: 1_000,
            epoch_blocks: 20,
            min_stake: Amount::ONE_AERGO,
            stake_lock_blocks: 10,
        }
    }
}

fn spec_err(what: &'static str, value: impl ToString, reason: impl Into<String>) -> CliError {
    CliError::invalid(what, &value.to_string(), reason)
}

impl HordeSpec {
    pub fn total_nodes(&self) -> u32 {
        self.nodes + self.candidates
    }

    /// Checks the ranges here so mistakes fail before anything is written
    /// (the genesis rules check the DPoS values again).
    pub fn validate(&self) -> Result<()> {
        if self.nodes == 0 || self.nodes > MAX_PRODUCERS {
            return Err(spec_err("--nodes", self.nodes, format!("expected 1..={MAX_PRODUCERS}")));
        }
        if self.candidates > MAX_CANDIDATES {
            return Err(spec_err("--candidates", self.candidates, format!("expected 0..={MAX_CANDIDATES}")));
        }
        let last = u32::from(self.base_port) + 2 * self.total_nodes() - 1;
        if self.base_port < 1024 || last > u32::from(u16::MAX) {
            return Err(spec_err(
                "--base-port",
                self.base_port,
                format!(
                    "{} nodes use ports base..base+{}; expected them within 1024..=65535",
                    self.total_nodes(),
                    2 * self.total_nodes() - 1
                ),
            ));
        }
        Ok(())
    }

    /// The network's manifest for nodes with these peer ids (producers
    /// first, then candidates).
    pub fn plan(&self, peer_ids: &[String]) -> Result<Manifest> {
        self.validate()?;
        if peer_ids.len() != self.total_nodes() as usize {
            return Err(spec_err("peer ids", peer_ids.len(), format!("expected {}", self.total_nodes())));
        }
        let nodes = peer_ids
            .iter()
            .enumerate()
            .map(|(i, peer_id)| {
                // validate() keeps these ports within u16.
                let rpc_port = self.base_port + 2 * i as u16;
                NodeEntry {
                    name: format!("node{i}"),
                    rpc: SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port)),
                    p2p_port: rpc_port + 1,
                    peer_id: peer_id.clone(),
                    producer: (i as u32) < self.nodes,
                }
            })
            .collect();
        Ok(Manifest {
            version: MANIFEST_VERSION,
            chain: CHAIN_MAGIC.to_string(),
            block_interval_ms: self.block_interval_ms,
            epoch_blocks: self.epoch_blocks,
            min_stake: self.min_stake,
            stake_lock_blocks: self.stake_lock_blocks,
            nodes,
        })
    }
}

/// The network as `up` made it: `horde.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub chain: String,
    pub block_interval_ms: u64,
    pub epoch_blocks: u64,
    pub min_stake: Amount,
    pub stake_lock_blocks: u64,
    pub nodes: Vec<NodeEntry>,
}

/// One node of the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeEntry {
    /// `nodeK`, also its data directory under the network's folder.
    pub name: String,
    pub rpc: SocketAddr,
    pub p2p_port: u16,
    pub peer_id: String,
    /// In the genesis producer set (else a candidate).
    pub producer: bool,
}

impl NodeEntry {
    /// The libp2p address it listens on.
    pub fn p2p_listen(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.p2p_port)
    }

    /// Its address for others to dial, with its peer id.
    pub fn p2p_dial(&self) -> String {
        format!("{}/p2p/{}", self.p2p_listen(), self.peer_id)
    }

    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc)
    }

    pub fn genesis_role(&self) -> &'static str {
        if self.producer {
            "producer"
        } else {
            "candidate"
        }
    }
}

/// The `[p2p]` section of a node's `config.toml` (the node crate's
/// `NodeConfig.p2p`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct P2pSection {
    pub enabled: bool,
    pub listen: String,
    pub bootstrap: Vec<String>,
    pub max_peers: usize,
}

impl Manifest {
    /// The producers' peer ids, in node order (the genesis `bps`).
    pub fn bps(&self) -> Vec<String> {
        self.nodes.iter().filter(|n| n.producer).map(|n| n.peer_id.clone()).collect()
    }

    /// The network's genesis at `timestamp_ns`.
    pub fn genesis(&self, timestamp_ns: i64) -> Result<Genesis> {
        let chain_id = ChainId::new(0, false, false, &self.chain, CONSENSUS_DPOS)?;
        let each = Amount::from_aergo(DEV_ACCOUNT_BALANCE_AERGO)?;
        let (mut genesis, _) = dev_genesis(chain_id, timestamp_ns, DEV_ACCOUNTS, each, self.bps())?;
        genesis.dpos = Some(DposGenesis {
            block_interval_ms: Some(self.block_interval_ms),
            bp_count: None,
            epoch_blocks: Some(self.epoch_blocks),
            min_stake: Some(self.min_stake),
            stake_lock_blocks: Some(self.stake_lock_blocks),
            rating_window_slots: None,
        });
        genesis.validate()?;
        Ok(genesis)
    }

    /// The `[p2p]` section of node `index`: every other node bootstraps it.
    pub fn p2p_section(&self, index: usize) -> Result<P2pSection> {
        let me = self.node(index)?;
        let bootstrap = self.nodes.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, n)| n.p2p_dial()).collect();
        Ok(P2pSection { enabled: true, listen: me.p2p_listen(), bootstrap, max_peers: MAX_PEERS })
    }

    /// The whole `config.toml` of node `index`: the node's defaults, its
    /// RPC address, and the `[p2p]` section.
    pub fn config_toml(&self, index: usize) -> Result<String> {
        let mut config = NodeConfig::default();
        config.rpc.listen = self.node(index)?.rpc;
        // The manifest's port plan has two ports per node (JSON-RPC, p2p);
        // gRPC takes any free loopback port, printed in the node's log.
        config.grpc.listen = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        config.solo.block_interval_ms = self.block_interval_ms;
        let toml_err = |e: String| CliError::Task { what: "writing config.toml", reason: e };
        let mut table: toml::Table = toml::from_str(&config.to_toml()).map_err(|e| toml_err(e.to_string()))?;
        let p2p = toml::Value::try_from(self.p2p_section(index)?).map_err(|e| toml_err(e.to_string()))?;
        table.insert("p2p".to_string(), p2p);
        toml::to_string(&table).map_err(|e| toml_err(e.to_string()))
    }

    pub fn node(&self, index: usize) -> Result<&NodeEntry> {
        self.nodes.get(index).ok_or_else(|| {
            CliError::invalid("node", &index.to_string(), format!("the network has nodes 0..{}", self.nodes.len()))
        })
    }

    /// A node named `nodeK` or just `K`.
    pub fn resolve(&self, text: &str) -> Result<usize> {
        let t = text.trim();
        let found = self
            .nodes
            .iter()
            .position(|n| n.name == t)
            .or_else(|| t.parse::<usize>().ok().filter(|i| *i < self.nodes.len()));
        found.ok_or_else(|| {
            CliError::invalid(
                "node",
                text,
                format!("expected node0..node{} (or 0..{})", self.nodes.len() - 1, self.nodes.len() - 1),
            )
        })
    }
}

fn horde_err(dir: &Path, reason: impl Into<String>) -> CliError {
    CliError::Horde { dir: dir.to_path_buf(), reason: reason.into() }
}

/// A node's data directory.
pub fn node_dir(dir: &Path, entry: &NodeEntry) -> PathBuf {
    dir.join(&entry.name)
}

fn target(dir: &Path, entry: &NodeEntry) -> Target {
    let node = node_dir(dir, entry);
    Target { pid_file: node.join(NODE_PID), marker: node }
}

/// The manifest of the network in `dir`, if there is one.
pub fn load(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = aergo_client::devnode::read_bounded(&path, MANIFEST_MAX_BYTES)?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| horde_err(dir, format!("{MANIFEST_FILE} is not a horde manifest: {e}")))?;
    if m.version != MANIFEST_VERSION {
        return Err(horde_err(dir, format!("manifest version {}, this aergo reads {MANIFEST_VERSION}", m.version)));
    }
    if m.nodes.is_empty() {
        return Err(horde_err(dir, "the manifest lists no nodes"));
    }
    Ok(Some(m))
}

/// The manifest of the network in `dir`; an error if there is none.
pub fn load_existing(dir: &Path) -> Result<Manifest> {
    load(dir)?.ok_or_else(|| {
        horde_err(dir, format!("no network here (no {MANIFEST_FILE}); create one with `aergo horde up --dir DIR`"))
    })
}

/// The network in an existing folder: its absolute path and manifest.
pub fn open(dir: &Path) -> Result<(PathBuf, Manifest)> {
    let abs = dir.canonicalize().map_err(|source| CliError::Io { what: "opening", path: dir.to_path_buf(), source })?;
    let m = load_existing(&abs)?;
    Ok((abs, m))
}

/// The folder as an absolute path (node command lines carry it, and a
/// running node is recognised by it).
pub fn absolute(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        what: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    dir.canonicalize().map_err(|source| CliError::Io { what: "resolving", path: dir.to_path_buf(), source })
}

/// Writes a new network into `dir` (which must be empty or new): keys,
/// data directories, genesis, manifest. Starts nothing.
pub fn create(dir: &Path, spec: &HordeSpec, timestamp_ns: i64) -> Result<Manifest> {
    create_in(dir, spec, timestamp_ns, true)
}

/// [`create`]; with `require_empty` false, other files may stay in the
/// folder (a `--reset` keeps the user's files), but nothing `create` would
/// write may exist.
fn create_in(dir: &Path, spec: &HordeSpec, timestamp_ns: i64, require_empty: bool) -> Result<Manifest> {
    let ports = spec.plan(&vec![String::new(); spec.total_nodes() as usize])?;
    let mut entries =
        std::fs::read_dir(dir).map_err(|source| CliError::Io { what: "listing", path: dir.to_path_buf(), source })?;
    if require_empty && entries.next().is_some() {
        return Err(horde_err(dir, "is not empty and holds no network: choose a new or empty folder with --dir"));
    }
    let ours = ports.nodes.iter().map(|n| n.name.as_str()).chain([MANIFEST_FILE, GENESIS_FILE]);
    if let Some(taken) = ours.into_iter().find(|name| dir.join(name).exists()) {
        return Err(horde_err(dir, format!("{taken} already exists here; remove it or choose another folder")));
    }
    // Ports before keys and files: a conflict leaves nothing behind.
    for entry in &ports.nodes {
        check_ports_free(entry)?;
    }
    let keys = (0..spec.total_nodes()).map(|_| PrivateKey::generate()).collect::<std::result::Result<Vec<_>, _>>()?;
    let peer_ids: Vec<String> = keys.iter().map(|k| k.public_key().peer_id()).collect();
    let manifest = spec.plan(&peer_ids)?;
    let genesis = manifest.genesis(timestamp_ns)?;
    for (i, (entry, key)) in manifest.nodes.iter().zip(keys).enumerate() {
        let node = node_dir(dir, entry);
        let mut config = NodeConfig::default();
        config.rpc.listen = entry.rpc;
        config.grpc.listen = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        init_data_dir(&node, InitOptions { genesis: genesis.clone(), node_key: key, config })?;
        // Written after init: the [p2p] section is the node's to read, and
        // init reads the configuration back.
        let path = node.join("config.toml");
        procs::write_atomic(&path, &manifest.config_toml(i)?)?;
    }
    procs::write_atomic(&dir.join(GENESIS_FILE), &genesis.to_json()?)?;
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| CliError::Task { what: "writing the manifest", reason: e.to_string() })?;
    procs::write_atomic(&dir.join(MANIFEST_FILE), &format!("{text}\n"))?;
    Ok(manifest)
}

/// Removes a stopped network made by `create`: only the files and
/// folders it wrote.
pub fn remove(dir: &Path, m: &Manifest) -> Result<()> {
    if let Some(name) = running(dir, m)?.first() {
        return Err(horde_err(dir, format!("{name} is running: `aergo horde down --dir DIR` first")));
    }
    for entry in &m.nodes {
        let node = node_dir(dir, entry);
        if node.exists() {
            std::fs::remove_dir_all(&node).map_err(|source| CliError::Io { what: "removing", path: node, source })?;
        }
    }
    for file in [GENESIS_FILE, MANIFEST_FILE] {
        let path = dir.join(file);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| CliError::Io { what: "removing", path, source })?;
        }
    }
    Ok(())
}

/// Names of the nodes whose process runs.
pub fn running(dir: &Path, m: &Manifest) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in &m.nodes {
        if procs::running_pid(&target(dir, entry))?.is_some() {
            out.push(entry.name.clone());
        }
    }
    Ok(out)
}

/// Fails, naming the port, if something already listens where node
/// `entry` will.
fn check_ports_free(entry: &NodeEntry) -> Result<()> {
    for (what, port) in [("rpc", entry.rpc.port()), ("p2p", entry.p2p_port)] {
        if let Err(e) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            return Err(CliError::invalid(
                "port",
                &port.to_string(),
                format!(
                    "{} cannot listen there ({what}): {e}; another program uses it (choose another --base-port for a \
                     new network)",
                    entry.name
                ),
            ));
        }
    }
    Ok(())
}

/// Starts node `index` detached (`exe node --dir DIR/nodeK`); returns its
/// pid. Refuses if it already runs or its ports are taken.
pub fn spawn_node(dir: &Path, m: &Manifest, index: usize, exe: &Path) -> Result<u32> {
    let entry = m.node(index)?;
    let t = target(dir, entry);
    if let Some(pid) = procs::running_pid(&t)? {
        return Err(horde_err(dir, format!("{} already runs (pid {pid})", entry.name)));
    }
    check_ports_free(entry)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("node").arg("--dir").arg(&t.marker);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    procs::spawn_detached(cmd, &t.pid_file, &t.marker.join(NODE_LOG))
}

/// Waits until every node in `indices` answers `status`, or one of them
/// exits, or `timeout_ms` passes.
pub async fn wait_ready(dir: &Path, m: &Manifest, indices: &[usize], timeout_ms: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let mut waiting: Vec<usize> = indices.to_vec();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for &i in &waiting {
            let entry = m.node(i)?;
            let client = RpcClient::new(&entry.rpc_url())?;
            let answered = tokio::time::timeout(Duration::from_millis(STATUS_TIMEOUT_MS), client.status()).await;
            if matches!(answered, Ok(Ok(_))) {
                continue;
            }
            if procs::running_pid(&target(dir, entry))?.is_none() {
                let log = node_dir(dir, entry).join(NODE_LOG);
                return Err(horde_err(
                    dir,
                    format!(
                        "{} exited while starting; the end of {}:\n{}",
                        entry.name,
                        log.display(),
                        procs::log_tail(&log, 20)
                    ),
                ));
            }
            still.push(i);
        }
        waiting = still;
        if waiting.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let names: Vec<&str> = waiting.iter().filter_map(|i| m.nodes.get(*i)).map(|n| n.name.as_str()).collect();
            return Err(CliError::Timeout {
                what: format!("{} to answer on JSON-RPC (see their node.log)", names.join(", ")),
                timeout_ms,
            });
        }
        tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await;
    }
    Ok(())
}

/// What `up` was asked.
#[derive(Clone, Debug)]
pub struct UpRequest {
    pub dir: PathBuf,
    pub spec: HordeSpec,
    /// Whether any creation flag was given (an existing network is then
    /// not silently started with other settings than asked).
    pub spec_given: bool,
    /// Replace a stopped network.
    pub reset: bool,
    /// The `aergo` binary that runs the nodes.
    pub exe: PathBuf,
    pub timeout_ms: u64,
    pub timestamp_ns: i64,
}

/// What `up` did.
#[derive(Clone, Debug)]
pub struct UpReport {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Whether an existing network was started again.
    pub resumed: bool,
    /// Pid of each node, in order.
    pub pids: Vec<u32>,
}

/// Creates (or finds) the network and starts all its nodes; on failure,
/// stops the ones it started.
pub async fn up(req: &UpRequest) -> Result<UpReport> {
    // Before anything is written.
    req.spec.validate()?;
    let dir = absolute(&req.dir)?;
    let (manifest, resumed) = match load(&dir)? {
        Some(m) => {
            let live = running(&dir, &m)?;
            if !live.is_empty() {
                return Err(horde_err(
                    &dir,
                    format!(
                        "a network is running here ({} up): `aergo horde status` shows it, `aergo horde down` stops it",
                        live.join(", ")
                    ),
                ));
            }
            if req.reset {
                remove(&dir, &m)?;
                (create_in(&dir, &req.spec, req.timestamp_ns, false)?, false)
            } else if req.spec_given {
                return Err(horde_err(
                    &dir,
                    format!(
                        "holds a stopped network of {} nodes; `aergo horde up --dir DIR` without settings starts it \
                         again, add --reset to replace it",
                        m.nodes.len()
                    ),
                ));
            } else {
                (m, true)
            }
        }
        None => (create(&dir, &req.spec, req.timestamp_ns)?, false),
    };
    // Ports first, all of them, so a conflict starts nothing.
    for entry in &manifest.nodes {
        check_ports_free(entry)?;
    }
    let mut pids = Vec::new();
    let all: Vec<usize> = (0..manifest.nodes.len()).collect();
    let started = async {
        for &i in &all {
            pids.push(spawn_node(&dir, &manifest, i, &req.exe)?);
        }
        wait_ready(&dir, &manifest, &all, req.timeout_ms).await
    }
    .await;
    if let Err(e) = started {
        let _ = stop(&dir, &manifest, &all, false).await;
        return Err(e);
    }
    Ok(UpReport { dir, manifest, resumed, pids })
}

/// Stops the nodes in `indices` (all of them together); one outcome per
/// node.
pub async fn stop(dir: &Path, m: &Manifest, indices: &[usize], kill: bool) -> Result<Vec<(String, StopOutcome)>> {
    let mut targets = Vec::new();
    let mut names = Vec::new();
    for &i in indices {
        let entry = m.node(i)?;
        targets.push(target(dir, entry));
        names.push(entry.name.clone());
    }
    let outcomes =
        tokio::task::spawn_blocking(move || procs::stop_all(&targets, Duration::from_millis(STOP_GRACE_MS), kill))
            .await
            .map_err(|e| CliError::Task { what: "stopping nodes", reason: e.to_string() })?;
    names.into_iter().zip(outcomes).map(|(name, o)| o.map(|o| (name, o))).collect()
}

/// Starts the nodes in `indices` and waits until they answer.
pub async fn start(dir: &Path, m: &Manifest, indices: &[usize], exe: &Path, timeout_ms: u64) -> Result<Vec<u32>> {
    let mut pids = Vec::new();
    for &i in indices {
        pids.push(spawn_node(dir, m, i, exe)?);
    }
    wait_ready(dir, m, indices, timeout_ms).await?;
    Ok(pids)
}

/// One node as `status` sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub node: String,
    pub rpc: String,
    pub peer_id: String,
    /// Whether its JSON-RPC answered.
    pub up: bool,
    /// Its process, if it runs.
    pub pid: Option<u32>,
    pub height: Option<u64>,
    /// Height of the last irreversible block.
    pub lib: Option<u64>,
    pub peers: Option<u64>,
    /// `producer`, `follower` or `solo`, as the node says.
    pub role: Option<String>,
    pub syncing: Option<bool>,
    /// Why it did not answer.
    pub error: Option<String>,
}

impl NodeStatus {
    /// A node not asked yet: down until it answers.
    pub fn unasked(node: String, rpc: String, peer_id: String, pid: Option<u32>) -> NodeStatus {
        NodeStatus {
            node,
            rpc,
            peer_id,
            up: false,
            pid,
            height: None,
            lib: None,
            peers: None,
            role: None,
            syncing: None,
            error: None,
        }
    }

    /// Fills the fields from the node's `status` answer; fields the node
    /// does not report stay empty.
    pub fn fill_from(&mut self, status: &Value) {
        self.up = true;
        self.height = status.get("height").and_then(Value::as_u64);
        self.lib = status.get("lib").and_then(|l| l.get("height")).and_then(Value::as_u64);
        self.peers = status.get("peers").and_then(Value::as_u64);
        self.role = status.get("role").and_then(Value::as_str).map(|r| r.chars().take(32).collect());
        self.syncing = status.get("sync").and_then(|s| s.get("syncing")).and_then(Value::as_bool);
    }
}

/// The nodes of a folder `aergo horde manifests` wrote for Compose (their
/// JSON-RPC published on the host), or `None` when it holds no such
/// deployment.
fn deployed_nodes(dir: &Path) -> Result<Option<Vec<NodeStatus>>> {
    let path = dir.join(deploy::DEPLOYMENT_FILE);
    if load(dir)?.is_some() || !path.exists() {
        return Ok(None);
    }
    let text = aergo_client::devnode::read_bounded(&path, MANIFEST_MAX_BYTES)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| horde_err(&path, format!("not JSON: {e}")))?;
    let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
    let rows: Vec<NodeStatus> = nodes
        .iter()
        .filter_map(|n| {
            let peer_id = n["peerId"].as_str().unwrap_or_default().to_string();
            Some(NodeStatus::unasked(n["name"].as_str()?.to_string(), n["rpc"].as_str()?.to_string(), peer_id, None))
        })
        .collect();
    if rows.is_empty() {
        return Err(horde_err(
            &path,
            "names no node with a published JSON-RPC URL (a Kubernetes deployment: use kubectl)",
        ));
    }
    Ok(Some(rows))
}

/// Asks every node for its status at once: the nodes of a local network
/// (`horde.json`), or of a Compose deployment (`deployment.json`).
pub async fn status(dir: &Path) -> Result<Vec<NodeStatus>> {
    let base = match deployed_nodes(dir)? {
        Some(rows) => rows,
        None => {
            let (dir, m) = open(dir)?;
            let mut base = Vec::new();
            for entry in &m.nodes {
                let pid = procs::running_pid(&target(&dir, entry))?;
                base.push(NodeStatus::unasked(entry.name.clone(), entry.rpc_url(), entry.peer_id.clone(), pid));
            }
            base
        }
    };
    let asks = base.into_iter().map(|mut s| async move {
        let client = match RpcClient::new(&s.rpc) {
            Ok(c) => c,
            Err(e) => {
                s.error = Some(e.to_string());
                return s;
            }
        };
        match tokio::time::timeout(Duration::from_millis(STATUS_TIMEOUT_MS), client.call("status", json!([]))).await {
            Ok(Ok(v)) => s.fill_from(&v),
            Ok(Err(e)) => s.error = Some(e.to_string()),
            Err(_) => s.error = Some(format!("no answer within {STATUS_TIMEOUT_MS} ms")),
        }
        s
    });
    Ok(futures_util::future::join_all(asks).await)
}

/// The status as a table: node, rpc, pid, up/down, height, lib, peers,
/// role.
pub fn format_status(rows: &[NodeStatus]) -> String {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let table: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let role = match (&r.role, r.syncing) {
                (Some(role), Some(true)) => format!("{role} (syncing)"),
                (Some(role), _) => role.clone(),
                (None, _) => "-".to_string(),
            };
            [
                r.node.clone(),
                r.rpc.trim_start_matches("http://").to_string(),
                r.pid.map_or("-".to_string(), |p| p.to_string()),
                if r.up { "up" } else { "down" }.to_string(),
                opt(r.height),
                opt(r.lib),
                opt(r.peers),
                role,
            ]
        })
        .collect();
    let header = ["node", "rpc", "pid", "state", "height", "lib", "peers", "role"];
    let mut widths = header.map(str::len);
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 8]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Numbers read best right-aligned.
            if (4..=6).contains(&i) {
                s.push_str(&format!("{cell:>w$}  "));
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header)];
    for row in &table {
        out.push(line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6], &row[7]]));
    }
    out.join("\n")
}

/// The summary `up` prints.
pub fn up_report(r: &UpReport) -> (Value, String) {
    let m = &r.manifest;
    let nodes: Vec<Value> = m
        .nodes
        .iter()
        .zip(&r.pids)
        .map(|(n, pid)| {
            json!({
                "node": n.name,
                "rpc": n.rpc_url(),
                "p2p": n.p2p_listen(),
                "peerId": n.peer_id,
                "role": n.genesis_role(),
                "pid": pid,
                "metrics": format!("{}/metrics", n.rpc_url()),
                "log": node_dir(&r.dir, n).join(NODE_LOG).display().to_string(),
            })
        })
        .collect();
    let producers = m.nodes.iter().filter(|n| n.producer).count();
    let json = json!({
        "dir": r.dir.display().to_string(),
        "resumed": r.resumed,
        "chain": format!("{}/{CONSENSUS_DPOS}", m.chain),
        "producers": producers,
        "blockIntervalMs": m.block_interval_ms,
        "epochBlocks": m.epoch_blocks,
        "minStake": m.min_stake.aer().to_string(),
        "stakeLockBlocks": m.stake_lock_blocks,
        "devAccounts": DEV_ACCOUNTS,
        "nodes": nodes,
    });
    let mut text = format!(
        "{} {} nodes in {} (chain {}/{CONSENSUS_DPOS}: {producers} producers, a block every {} ms, elections every {} \
         blocks)\n",
        if r.resumed { "restarted" } else { "started" },
        m.nodes.len(),
        r.dir.display(),
        m.chain,
        m.block_interval_ms,
        m.epoch_blocks
    );
    let id_width = m.nodes.iter().map(|n| n.peer_id.len()).max().unwrap_or(0);
    for (n, pid) in m.nodes.iter().zip(&r.pids) {
        text.push_str(&format!(
            "  {:<6} {:<24} {:<26} {:<id_width$}  {:<9}  pid {pid}\n",
            n.name,
            n.rpc_url(),
            n.p2p_listen(),
            n.peer_id,
            n.genesis_role()
        ));
    }
    let first = m.nodes.first().map(NodeEntry::rpc_url).unwrap_or_default();
    text.push_str(&format!(
        "dev accounts dev:0..dev:{} hold {} each (their keys are public: development only); stake from {} up, \
         unlocked {} blocks after\n\
         logs in nodeK/node.log, Prometheus metrics at <rpc>/metrics\n\
         try: aergo horde status --dir {dir}\n\
         \x20    aergo --rpc {first} bp list\n\
         \x20    aergo --rpc {first} send --from dev:0 --to dev:1 --amount \"1 aergo\" --wait\n\
         stop: aergo horde down --dir {dir}",
        DEV_ACCOUNTS - 1,
        Amount::from_aergo(DEV_ACCOUNT_BALANCE_AERGO).map(|a| a.format(Unit::Aergo)).unwrap_or_default(),
        m.min_stake.format(Unit::Aergo),
        m.stake_lock_blocks,
        dir = r.dir.display()
    ));
    (json, text)
}

/// The report of `down`/`stop`.
pub fn stop_report(outcomes: &[(String, StopOutcome)]) -> (Value, String) {
    let json = json!(outcomes.iter().map(|(n, o)| json!({"node": n, "outcome": o.describe()})).collect::<Vec<_>>());
    let text = outcomes.iter().map(|(n, o)| format!("{n}: {}", o.describe())).collect::<Vec<_>>().join("\n");
    (json, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_crypto::dev_key;

    fn ids(n: u32) -> Vec<String> {
        (0..n).map(|i| dev_key("horde-test", i).public_key().peer_id()).collect()
    }

    fn spec(nodes: u32, candidates: u32) -> HordeSpec {
        HordeSpec { nodes, candidates, base_port: 20_000, ..HordeSpec::default() }
    }

    #[test]
    fn plan_gives_ports_roles_and_bootstrap_lists() {
        let m = spec(3, 1).plan(&ids(4)).unwrap();
        let ports: Vec<(u16, u16)> = m.nodes.iter().map(|n| (n.rpc.port(), n.p2p_port)).collect();
        assert_eq!(ports, [(20_000, 20_001), (20_002, 20_003), (20_004, 20_005), (20_006, 20_007)]);
        assert!(m.nodes.iter().all(|n| n.rpc.ip() == Ipv4Addr::LOCALHOST));
        assert_eq!(m.nodes.iter().map(|n| n.producer).collect::<Vec<_>>(), [true, true, true, false]);
        assert_eq!(m.nodes[3].name, "node3");
        assert_eq!(m.bps(), ids(4)[..3].to_vec());

        let p2p = m.p2p_section(1).unwrap();
        assert_eq!(p2p.listen, "/ip4/127.0.0.1/tcp/20003");
        let expected: Vec<String> = [0usize, 2, 3]
            .iter()
            .map(|i| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", 20_001 + 2 * i, ids(4)[*i]))
            .collect();
        assert_eq!(p2p.bootstrap, expected);
        assert!(p2p.enabled);
        assert!(m.p2p_section(4).is_err());

        assert_eq!(m.resolve("node2").unwrap(), 2);
        assert_eq!(m.resolve("3").unwrap(), 3);
        assert!(m.resolve("node4").unwrap_err().to_string().contains("node0..node3"));
        assert!(m.resolve("x").is_err());
    }

    #[test]
    fn spec_bounds_are_checked() {
        assert!(spec(0, 0).validate().unwrap_err().to_string().contains("1..=32"));
        assert!(spec(33, 0).validate().is_err());
        assert!(spec(1, 33).validate().unwrap_err().to_string().contains("--candidates"));
        let high = HordeSpec { base_port: 65_530, ..spec(4, 0) };
        assert!(high.validate().unwrap_err().to_string().contains("1024..=65535"));
        assert!(HordeSpec { base_port: 65_528, ..spec(4, 0) }.validate().is_ok());
        assert!(HordeSpec { base_port: 80, ..spec(1, 0) }.validate().is_err());
        assert!(spec(2, 0).plan(&ids(3)).is_err());
    }

    #[test]
    fn genesis_is_dpos_with_the_producers_and_prefunded_dev_accounts() {
        let s = HordeSpec { block_interval_ms: 500, epoch_blocks: 7, stake_lock_blocks: 3, ..spec(3, 2) };
        let m = s.plan(&ids(5)).unwrap();
        let g = m.genesis(1_234).unwrap();
        assert!(g.is_dpos());
        assert_eq!(g.chain_id.magic, CHAIN_MAGIC);
        assert_eq!(g.bps, ids(5)[..3].to_vec());
        let d = g.dpos_settings().unwrap().unwrap();
        assert_eq!((d.block_interval_ms, d.epoch_blocks, d.bp_count, d.stake_lock_blocks), (500, 7, 3, 3));
        assert_eq!(d.min_stake, Amount::ONE_AERGO);
        let balances = g.balances().unwrap();
        let each = Amount::from_aergo(DEV_ACCOUNT_BALANCE_AERGO).unwrap();
        for i in 0..DEV_ACCOUNTS {
            assert_eq!(balances[&aergo_client::keys::dev_account(i).unwrap().address()], each);
        }
        // The same manifest and time give the same chain.
        assert_eq!(g.content_hash().unwrap(), m.genesis(1_234).unwrap().content_hash().unwrap());
        // Out-of-range DPoS values are the genesis rules' to refuse.
        let fast = HordeSpec { block_interval_ms: 10, ..spec(1, 0) }.plan(&ids(1)).unwrap();
        assert!(fast.genesis(0).unwrap_err().to_string().contains("block_interval_ms"));
    }

    #[test]
    fn config_has_the_rpc_address_and_the_p2p_section() {
        let m = spec(2, 0).plan(&ids(2)).unwrap();
        let text = m.config_toml(1).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let p2p: P2pSection = table["p2p"].clone().try_into().unwrap();
        assert_eq!(p2p, m.p2p_section(1).unwrap());
        assert_eq!(p2p.bootstrap, vec![format!("/ip4/127.0.0.1/tcp/20001/p2p/{}", ids(2)[0])]);
        assert_eq!(p2p.max_peers, MAX_PEERS);
        // Everything but [p2p] is the node's own configuration, unchanged
        // apart from the RPC address.
        let mut rest = table.clone();
        rest.remove("p2p");
        let node: NodeConfig = toml::from_str(&toml::to_string(&rest).unwrap()).unwrap();
        assert_eq!(node.rpc.listen, "127.0.0.1:20002".parse().unwrap());
        assert_eq!(node.pool, NodeConfig::default().pool);
    }

    #[test]
    fn create_writes_a_network_and_remove_takes_it_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("net");
        std::fs::create_dir(&dir).unwrap();
        let m = create(&dir, &spec(2, 1), 5).unwrap();
        assert_eq!(load(&dir).unwrap().unwrap(), m);
        let shared = std::fs::read_to_string(dir.join(GENESIS_FILE)).unwrap();
        for (i, entry) in m.nodes.iter().enumerate() {
            let node = node_dir(&dir, entry);
            assert_eq!(std::fs::read_to_string(node.join("genesis.json")).unwrap(), shared);
            assert_eq!(std::fs::read_to_string(node.join("config.toml")).unwrap(), m.config_toml(i).unwrap());
            // Each node's key is the one whose peer id the manifest names.
            let key_hex = std::fs::read_to_string(node.join("node.key")).unwrap();
            let key = PrivateKey::from_bytes(&hex::decode(key_hex.trim()).unwrap()).unwrap();
            assert_eq!(key.public_key().peer_id(), entry.peer_id);
        }
        let distinct: std::collections::BTreeSet<_> = m.nodes.iter().map(|n| &n.peer_id).collect();
        assert_eq!(distinct.len(), 3);
        assert!(running(&dir, &m).unwrap().is_empty());

        // A second create into the same folder is refused.
        assert!(create(&dir, &spec(2, 1), 5).unwrap_err().to_string().contains("not empty"));
        assert!(create_in(&dir, &spec(2, 1), 5, false).unwrap_err().to_string().contains("node0 already exists"));
        std::fs::write(dir.join("mine.txt"), "user file").unwrap();
        remove(&dir, &m).unwrap();
        assert!(load(&dir).unwrap().is_none());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("mine.txt")], "only what create wrote is removed");
        let e = load_existing(&dir).unwrap_err().to_string();
        assert!(e.contains("no network here"), "{e}");
        // What --reset does after removing: the user's file stays.
        create_in(&dir, &spec(1, 0), 5, false).unwrap();
        assert!(dir.join("mine.txt").exists() && dir.join("node0").exists());
    }

    #[test]
    fn a_taken_port_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        // Node 1's p2p port is base + 3.
        let s = HordeSpec { base_port: port - 3, ..spec(2, 0) };
        let e = create(tmp.path(), &s, 5).unwrap_err().to_string();
        // (Another program may hold one of the lower ports too; then that
        // one is named.)
        assert!(e.contains("cannot listen there") && e.contains("another program uses it"), "{e}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn status_rows_fill_and_print() {
        let mut up = NodeStatus {
            node: "node0".into(),
            rpc: "http://127.0.0.1:20000".into(),
            peer_id: "P".into(),
            up: false,
            pid: Some(4242),
            height: None,
            lib: None,
            peers: None,
            role: None,
            syncing: None,
            error: None,
        };
        let down = NodeStatus { node: "node1".into(), rpc: "http://127.0.0.1:20002".into(), pid: None, ..up.clone() };
        up.fill_from(&json!({
            "height": 1234, "lib": {"height": 1231, "hash": "H"}, "peers": 3, "role": "producer",
            "sync": {"syncing": false, "target": 1234},
        }));
        assert_eq!(
            (up.height, up.lib, up.peers, up.role.as_deref()),
            (Some(1234), Some(1231), Some(3), Some("producer"))
        );
        let text = format_status(&[up.clone(), down.clone()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "node   rpc              pid   state  height   lib  peers  role");
        assert_eq!(lines[1], "node0  127.0.0.1:20000  4242  up       1234  1231      3  producer");
        assert_eq!(lines[2], "node1  127.0.0.1:20002  -     down        -     -      -  -");
        let v = serde_json::to_value(&up).unwrap();
        for field in ["height", "lib", "peers", "role", "node", "rpc", "up"] {
            assert!(v.get(field).is_some(), "{field} in {v}");
        }
        assert_eq!(v["lib"], 1231);
        let mut syncing = up.clone();
        syncing.fill_from(&json!({"height": 5, "role": "follower", "sync": {"syncing": true, "target": 90}}));
        assert!(format_status(&[syncing]).contains("follower (syncing)"));
    }
}
