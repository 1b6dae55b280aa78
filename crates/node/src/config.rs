//! Node configuration: the `config.toml` of a data directory.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use aergo_consensus::SoloConfig;
use aergo_net::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::NodeError;

/// Default JSON-RPC port.
pub const DEFAULT_RPC_PORT: u16 = 7847;
/// Default gRPC port: the Go node's, where the SDKs look first.
pub const DEFAULT_GRPC_PORT: u16 = 7845;

/// Everything a node reads from `config.toml`. Every field has a default,
/// so an empty file is a valid configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    pub rpc: RpcConfig,
    pub grpc: GrpcConfig,
    pub solo: SoloConfig,
    pub pool: PoolSettings,
    pub producer: ProducerConfig,
    pub query: QueryConfig,
    pub p2p: P2pConfig,
    pub console: ConsoleConfig,
    pub fs: FsSettings,
}

/// AergoFS on this node (`[fs]`): files stored under `DIR/fs` and served
/// on the JSON-RPC port (`PUT /fs`, `GET /fs/HASH`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FsSettings {
    pub enabled: bool,
    /// Largest file accepted.
    pub max_file_bytes: u64,
    /// Most bytes the store may hold (its volumes, deleted files included
    /// until compacted); past it uploads get 507.
    pub quota_bytes: u64,
    /// A new volume starts when the active one would pass this size.
    pub max_volume_bytes: u64,
    /// `fsync` each upload before answering.
    pub sync: bool,
    /// Uploads and downloads handled at once; more wait.
    pub max_concurrent_requests: usize,
    /// An upload's body must arrive within this time.
    pub upload_timeout_ms: u64,
    /// Sealed volumes with at least this share of deleted bytes are
    /// compacted in the background (checked every minute).
    pub compact_dead_ratio: f64,
    /// Nodes that keep each file recorded on chain, chosen among this node
    /// and its peers by rendezvous hashing; 0: every node keeps every one.
    pub replicas: u32,
    /// How often the node walks the chain's file registry for files it
    /// should keep and does not hold (a bounded step each time).
    pub replicate_interval_ms: u64,
    /// Files fetched from peers at once.
    pub max_concurrent_fetches: usize,
    /// Bytes of files being fetched held in memory at once (each is held
    /// whole until it is checked and stored): many small files move
    /// together, large ones fewer at a time. At least `max_file_bytes`.
    pub fetch_buffer_bytes: u64,
    /// Bytes of held files re-read and checked per replication step, so
    /// that damage is found (and healed from a peer) before anyone reads
    /// it; 0: only reads find damage.
    pub scrub_bytes_per_step: u64,
}

impl Default for FsSettings {
    fn default() -> Self {
        FsSettings {
            enabled: true,
            max_file_bytes: 256 << 20,
            quota_bytes: 10 << 30,
            max_volume_bytes: 1 << 30,
            sync: true,
            max_concurrent_requests: 16,
            upload_timeout_ms: 600_000,
            compact_dead_ratio: 0.3,
            replicas: 3,
            replicate_interval_ms: 2_000,
            // A peer serves four requests from one peer at a time
            // (`aergo_net`'s max_inbound_pending_per_peer).
            max_concurrent_fetches: 4,
            fetch_buffer_bytes: 512 << 20,
            scrub_bytes_per_step: 64 << 20,
        }
    }
}

/// The web console (`[console]`), served on the JSON-RPC port at `GET /`.
/// On by default: it shows what the JSON-RPC API already serves to anyone
/// who can reach the port (loopback by default), and runs in the visitor's
/// browser with the same limits; a node that exposes its API but wants no
/// console turns it off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    pub enabled: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig { enabled: true }
    }
}

/// The peer-to-peer network (`[p2p]`). Off by default: a dev node runs
/// alone; DPoS nodes and local networks turn it on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    pub enabled: bool,
    /// libp2p multiaddr to listen on (`/ip4/<addr>/tcp/<port>`; port 0
    /// picks a free one).
    pub listen: String,
    /// Peers dialled at start and re-dialled while disconnected:
    /// multiaddrs ending in `/p2p/<peer id>`.
    pub bootstrap: Vec<String>,
    /// Most connections (both directions).
    pub max_peers: u32,
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig {
            enabled: false,
            listen: format!("/ip4/127.0.0.1/tcp/{DEFAULT_P2P_PORT}"),
            bootstrap: Vec::new(),
            max_peers: 50,
        }
    }
}

/// Default peer-to-peer port (the Go node's).
pub const DEFAULT_P2P_PORT: u16 = 7846;

/// Most peers `p2p.max_peers` may allow (the network crate's bound).
pub const MAX_P2P_PEERS: u32 = 10_000;

impl P2pConfig {
    /// The listen address as a multiaddr.
    pub fn listen_addr(&self) -> Result<Multiaddr, String> {
        Multiaddr::from_str(&self.listen).map_err(|e| format!("p2p.listen: {:?}: {e}", self.listen))
    }

    /// The bootstrap peers, each a multiaddr ending in `/p2p/<peer id>`.
    pub fn bootstrap_addrs(&self) -> Result<Vec<Multiaddr>, String> {
        self.bootstrap
            .iter()
            .map(|b| {
                let addr = Multiaddr::from_str(b).map_err(|e| format!("p2p.bootstrap: {b:?}: {e}"))?;
                aergo_net::bootstrap_peer_id(&addr).map_err(|e| format!("p2p.bootstrap: {b:?}: {e}"))?;
                Ok(addr)
            })
            .collect()
    }

    /// Addresses parse and `max_peers` is in range (checked whether or not
    /// the network is enabled: a wrong value is wrong either way).
    fn validate(&self) -> Result<(), String> {
        self.listen_addr()?;
        self.bootstrap_addrs()?;
        if !(1..=MAX_P2P_PEERS).contains(&self.max_peers) {
            return Err(format!("p2p.max_peers is {}, expected 1..={MAX_P2P_PEERS}", self.max_peers));
        }
        Ok(())
    }
}

/// Caps of the read-only contract API (`query`, `queryContract`,
/// `getEvents`): every query ends within them or fails saying which.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// SQL gas one query may use.
    pub gas_limit: u64,
    /// Rows one query may return.
    pub max_rows: usize,
    /// Bytes of values one query may return.
    pub max_bytes: usize,
    /// Events one `getEvents` call returns at most (more set `truncated`).
    pub max_events: usize,
    /// Blocks one `getEvents` call may span.
    pub max_event_blocks: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        let q = aergo_exec::query::QueryLimits::default();
        QueryConfig {
            gas_limit: q.gas_limit,
            max_rows: q.max_rows,
            max_bytes: q.max_bytes,
            max_events: 1000,
            max_event_blocks: 10_000,
        }
    }
}

impl QueryConfig {
    pub fn limits(&self) -> aergo_exec::query::QueryLimits {
        aergo_exec::query::QueryLimits { gas_limit: self.gas_limit, max_rows: self.max_rows, max_bytes: self.max_bytes }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Address the JSON-RPC server binds; loopback by default because the
    /// API has no authentication.
    pub listen: SocketAddr,
    pub max_request_bytes: usize,
    pub max_batch_len: usize,
    pub max_response_bytes: usize,
    pub max_ws_connections: usize,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub header_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub max_requests_in_flight: usize,
    pub max_requests_per_client: usize,
    pub max_running_requests: usize,
    /// Browser origins allowed besides pages on this machine (`"*"`: any).
    pub cors_origins: Vec<String>,
    /// Host names requests may name besides `localhost` and IP addresses
    /// (`"*"`: any): the guard against DNS rebinding. A node reached by a
    /// DNS name (a service name in a container network) lists it here.
    pub allowed_hosts: Vec<String>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        let l = aergo_rpc::RpcLimits::default();
        RpcConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_RPC_PORT)),
            max_request_bytes: l.max_request_bytes,
            max_batch_len: l.max_batch_len,
            max_response_bytes: l.max_response_bytes,
            max_ws_connections: l.max_ws_connections,
            max_connections: l.max_connections,
            max_connections_per_client: l.max_connections_per_client,
            header_timeout_ms: l.header_timeout_ms,
            body_timeout_ms: l.body_timeout_ms,
            max_requests_in_flight: l.max_requests_in_flight,
            max_requests_per_client: l.max_requests_per_client,
            max_running_requests: l.max_running_requests,
            cors_origins: l.cors_origins,
            allowed_hosts: l.allowed_hosts,
        }
    }
}

/// The gRPC server (`[grpc]`): the Go node's `AergoRPCService` for the
/// SDKs, with gRPC-web for browsers. Loopback by default, like the
/// JSON-RPC, because neither has authentication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    pub listen: SocketAddr,
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    pub max_streams_per_connection: u32,
    pub max_connections: usize,
    pub max_running_calls: usize,
    pub call_timeout_ms: u64,
    /// Block and event streams open at once, across all clients.
    pub max_streams: usize,
    /// Browser origins allowed besides loopback pages (`"*"`: any).
    pub cors_origins: Vec<String>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        let l = aergo_grpc::GrpcLimits::default();
        GrpcConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_GRPC_PORT)),
            max_request_bytes: l.max_request_bytes,
            max_response_bytes: l.max_response_bytes,
            max_streams_per_connection: l.max_streams_per_connection,
            max_connections: l.max_connections,
            max_running_calls: l.max_running_calls,
            call_timeout_ms: l.call_timeout_ms,
            max_streams: 1_024,
            cors_origins: l.cors_origins,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSettings {
    pub max_txs: usize,
    pub max_bytes: usize,
    pub max_per_account: usize,
    pub max_nonce_gap: u64,
    pub max_payload_bytes: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        let p = aergo_pool::PoolConfig::default();
        PoolSettings {
            max_txs: p.max_txs,
            max_bytes: p.max_bytes,
            max_per_account: p.max_per_account,
            max_nonce_gap: p.max_nonce_gap,
            max_payload_bytes: p.max_payload_bytes,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerConfig {
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// How often the producer loop wakes up to consider sealing a block.
    pub tick_ms: u64,
    /// Workers a block's transactions run on, when this node builds a
    /// block and when it checks one (parallel execution gives the same
    /// result as executing in order); 0 means one per core. The default
    /// is 1 (in order): on two vCPUs the dependency analysis costs about
    /// what a second worker saves for calls of ~20 us (`aergo bench
    /// parallel`), so parallel execution is for machines with more cores
    /// or heavier transactions.
    pub exec_threads: usize,
    /// A solo producer applies each admitted transaction to its open next
    /// block at once, and signs a pre-confirmation for a client that asks
    /// (`sendTx` with `wait: "preconfirmed"`).
    pub preconfirm: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig { max_block_txs: 10_000, tick_ms: 20, exec_threads: 1, preconfirm: true }
    }
}

impl ProducerConfig {
    /// The execution workers to use: `exec_threads`, or one per core.
    pub fn exec_threads(&self) -> usize {
        match self.exec_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(aergo_exec::MAX_EXEC_THREADS)
    }
}

impl NodeConfig {
    pub fn load(path: &Path) -> Result<NodeConfig, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::Config { reason: format!("cannot read {}: {e}", path.display()) })?;
        let config: NodeConfig =
            toml::from_str(&text).map_err(|e| NodeError::Config { reason: format!("{}: {e}", path.display()) })?;
        config.validate().map_err(|reason| NodeError::Config { reason: format!("{}: {reason}", path.display()) })?;
        Ok(config)
    }

    /// Checks what would make a node useless or fail later: a zero bound
    /// (a server that takes no connection or no request, a pool or block
    /// that holds no transaction, a query that can do nothing), an inverted
    /// pair (one client allowed more than all), a block interval out of
    /// range, and p2p addresses that do not parse. Run before the data
    /// directory is touched, so a refused configuration writes nothing.
    pub fn validate(&self) -> Result<(), String> {
        let (r, p, q) = (&self.rpc, &self.pool, &self.query);
        let positive: [(&str, u64); 27] = [
            ("rpc.max_request_bytes", r.max_request_bytes as u64),
            ("rpc.max_batch_len", r.max_batch_len as u64),
            ("rpc.max_response_bytes", r.max_response_bytes as u64),
            ("rpc.max_connections", r.max_connections as u64),
            ("rpc.max_connections_per_client", r.max_connections_per_client as u64),
            ("rpc.header_timeout_ms", r.header_timeout_ms),
            ("rpc.body_timeout_ms", r.body_timeout_ms),
            ("rpc.max_requests_in_flight", r.max_requests_in_flight as u64),
            ("rpc.max_requests_per_client", r.max_requests_per_client as u64),
            ("rpc.max_running_requests", r.max_running_requests as u64),
            ("pool.max_txs", p.max_txs as u64),
            ("pool.max_bytes", p.max_bytes as u64),
            ("pool.max_per_account", p.max_per_account as u64),
            ("pool.max_nonce_gap", p.max_nonce_gap),
            ("producer.max_block_txs", self.producer.max_block_txs as u64),
            ("query.gas_limit", q.gas_limit),
            ("query.max_rows", q.max_rows as u64),
            ("query.max_bytes", q.max_bytes as u64),
            ("query.max_events", q.max_events as u64),
            ("query.max_event_blocks", q.max_event_blocks),
            ("fs.max_file_bytes", self.fs.max_file_bytes),
            ("fs.quota_bytes", self.fs.quota_bytes),
            ("fs.max_volume_bytes", self.fs.max_volume_bytes),
            ("fs.max_concurrent_requests", self.fs.max_concurrent_requests as u64),
            ("fs.upload_timeout_ms", self.fs.upload_timeout_ms),
            ("fs.replicate_interval_ms", self.fs.replicate_interval_ms),
            ("fs.max_concurrent_fetches", self.fs.max_concurrent_fetches as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1, got 0"));
            }
        }
        if !(self.fs.compact_dead_ratio > 0.0 && self.fs.compact_dead_ratio <= 1.0) {
            return Err(format!("fs.compact_dead_ratio must be in (0, 1], got {}", self.fs.compact_dead_ratio));
        }
        // A needle's length is a u32 and fits in one volume.
        let needle_max = u64::from(u32::MAX) - 1024;
        if self.fs.max_file_bytes > needle_max.min(self.fs.max_volume_bytes) {
            return Err(format!(
                "fs.max_file_bytes {} exceeds fs.max_volume_bytes {} (or 4 GiB)",
                self.fs.max_file_bytes, self.fs.max_volume_bytes
            ));
        }
        if self.fs.fetch_buffer_bytes < self.fs.max_file_bytes {
            return Err(format!(
                "fs.fetch_buffer_bytes {} is below fs.max_file_bytes {}: the largest file could never be fetched",
                self.fs.fetch_buffer_bytes, self.fs.max_file_bytes
            ));
        }
        if r.max_connections_per_client > r.max_connections {
            return Err(format!(
                "rpc.max_connections_per_client ({}) exceeds rpc.max_connections ({})",
                r.max_connections_per_client, r.max_connections
            ));
        }
        if r.max_requests_per_client > r.max_requests_in_flight {
            return Err(format!(
                "rpc.max_requests_per_client ({}) exceeds rpc.max_requests_in_flight ({})",
                r.max_requests_per_client, r.max_requests_in_flight
            ));
        }
        if self.grpc.max_streams == 0 {
            return Err("grpc.max_streams must be at least 1, got 0".to_string());
        }
        self.grpc_limits().validate()?;
        aergo_rpc::cors::validate_origins("rpc.cors_origins", &self.rpc.cors_origins)?;
        aergo_rpc::cors::validate_hosts("rpc.allowed_hosts", &self.rpc.allowed_hosts)?;
        let interval = self.solo.block_interval_ms;
        let (lo, hi) = (aergo_consensus::MIN_BLOCK_INTERVAL_MS, aergo_consensus::MAX_BLOCK_INTERVAL_MS);
        if !(lo..=hi).contains(&interval) {
            return Err(format!("solo.block_interval_ms is {interval}, expected {lo}..={hi}"));
        }
        self.p2p.validate()
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    pub fn rpc_limits(&self) -> aergo_rpc::RpcLimits {
        aergo_rpc::RpcLimits {
            max_request_bytes: self.rpc.max_request_bytes,
            max_batch_len: self.rpc.max_batch_len,
            max_response_bytes: self.rpc.max_response_bytes,
            max_ws_connections: self.rpc.max_ws_connections,
            max_connections: self.rpc.max_connections,
            max_connections_per_client: self.rpc.max_connections_per_client,
            header_timeout_ms: self.rpc.header_timeout_ms,
            body_timeout_ms: self.rpc.body_timeout_ms,
            max_requests_in_flight: self.rpc.max_requests_in_flight,
            max_requests_per_client: self.rpc.max_requests_per_client,
            max_running_requests: self.rpc.max_running_requests,
            cors_origins: self.rpc.cors_origins.clone(),
            allowed_hosts: self.rpc.allowed_hosts.clone(),
            ..aergo_rpc::RpcLimits::default()
        }
    }

    pub fn grpc_limits(&self) -> aergo_grpc::GrpcLimits {
        let g = &self.grpc;
        aergo_grpc::GrpcLimits {
            max_request_bytes: g.max_request_bytes,
            max_response_bytes: g.max_response_bytes,
            max_streams_per_connection: g.max_streams_per_connection,
            max_connections: g.max_connections,
            max_running_calls: g.max_running_calls,
            call_timeout_ms: g.call_timeout_ms,
            cors_origins: g.cors_origins.clone(),
        }
    }

    /// Both servers on any free loopback port: for tests, benchmarks and
    /// demos that run several nodes on one machine.
    pub fn listen_on_free_ports(&mut self) {
        self.rpc.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        self.grpc.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    }

    pub fn pool_config(&self) -> aergo_pool::PoolConfig {
        aergo_pool::PoolConfig {
            max_txs: self.pool.max_txs,
            max_bytes: self.pool.max_bytes,
            max_per_account: self.pool.max_per_account,
            max_nonce_gap: self.pool.max_nonce_gap,
            max_payload_bytes: self.pool.max_payload_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2p_section_parses_and_round_trips() {
        let text = r#"
            [p2p]
            enabled = true
            listen = "/ip4/0.0.0.0/tcp/7846"
            bootstrap = ["/ip4/10.0.0.2/tcp/7846/p2p/16Uiu2HAmRDHMWPA5h32jNagUBP2py2xGrEppPjFWbetLsttcdTCZ"]
            max_peers = 7
        "#;
        let c: NodeConfig = toml::from_str(text).unwrap();
        assert!(c.p2p.enabled);
        assert_eq!(c.p2p.bootstrap.len(), 1);
        assert_eq!(c.p2p.max_peers, 7);
        assert_eq!(toml::from_str::<NodeConfig>(&c.to_toml()).unwrap(), c);
        // Off by default, on the Go node's port.
        let d: NodeConfig = toml::from_str("").unwrap();
        assert!(!d.p2p.enabled);
        assert!(d.p2p.listen.ends_with(&format!("/tcp/{DEFAULT_P2P_PORT}")));
        let err = toml::from_str::<NodeConfig>("[p2p]\nenable = true\n").unwrap_err();
        assert!(err.to_string().contains("enable"), "{err}");
    }

    #[test]
    fn rpc_bounds_are_checked() {
        assert_eq!(NodeConfig::default().validate(), Ok(()));
        let c: NodeConfig = toml::from_str("[rpc]\nheader_timeout_ms = 0\n").unwrap();
        assert_eq!(c.validate().unwrap_err(), "rpc.header_timeout_ms must be at least 1, got 0");
        let c: NodeConfig = toml::from_str("[rpc]\nmax_requests_in_flight = 8\nmax_requests_per_client = 9\n").unwrap();
        assert!(c.validate().unwrap_err().contains("exceeds rpc.max_requests_in_flight (8)"));
        let c: NodeConfig = toml::from_str("[rpc]\nmax_connections = 4\nmax_connections_per_client = 4\n").unwrap();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.rpc_limits().max_connections_per_client, 4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[rpc]\nmax_connections = 0\n").unwrap();
        let e = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("rpc.max_connections must be at least 1"), "{e}");
    }

    #[test]
    fn zeros_intervals_and_p2p_addresses_are_checked() {
        let refused = |text: &str| toml::from_str::<NodeConfig>(text).unwrap().validate().unwrap_err();
        for (text, why) in [
            ("[rpc]\nmax_request_bytes = 0", "rpc.max_request_bytes must be at least 1, got 0"),
            ("[rpc]\nmax_batch_len = 0", "rpc.max_batch_len must be at least 1, got 0"),
            ("[rpc]\nmax_response_bytes = 0", "rpc.max_response_bytes must be at least 1, got 0"),
            ("[pool]\nmax_txs = 0", "pool.max_txs must be at least 1, got 0"),
            ("[pool]\nmax_nonce_gap = 0", "pool.max_nonce_gap must be at least 1, got 0"),
            ("[producer]\nmax_block_txs = 0", "producer.max_block_txs must be at least 1, got 0"),
            ("[query]\ngas_limit = 0", "query.gas_limit must be at least 1, got 0"),
            ("[solo]\nblock_interval_ms = 0", "solo.block_interval_ms is 0, expected 50..=3600000"),
            ("[solo]\nblock_interval_ms = 3600001", "solo.block_interval_ms is 3600001, expected 50..=3600000"),
            ("[p2p]\nlisten = \"127.0.0.1:7846\"", "p2p.listen: \"127.0.0.1:7846\""),
            ("[p2p]\nbootstrap = [\"/ip4/127.0.0.1/tcp/1\"]", "does not end in /p2p/<peer id>"),
            ("[p2p]\nmax_peers = 0", "p2p.max_peers is 0, expected 1..=10000"),
        ] {
            let e = refused(text);
            assert!(e.contains(why), "{text}: {e}");
        }
        // Zero WebSocket connections (WebSocket off) and payloads (plain
        // transfers only) are choices, not mistakes.
        let c: NodeConfig = toml::from_str("[rpc]\nmax_ws_connections = 0\n[pool]\nmax_payload_bytes = 0").unwrap();
        assert_eq!(c.validate(), Ok(()));
    }
}
