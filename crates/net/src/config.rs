//! Configuration of the network service: addresses, identity, limits,
//! timing and peer scoring.

use crate::error::{NetError, Result};
use aergo_crypto::PrivateKey;
use aergo_types::Hash;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

/// The default peer-to-peer TCP port (as the Go node).
pub const DEFAULT_P2P_PORT: u16 = 7846;

/// Everything the network service needs to start.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Addresses to listen on (TCP multiaddrs). Default
    /// `/ip4/0.0.0.0/tcp/7846`; tests use `/ip4/127.0.0.1/tcp/0`.
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers dialled at start and re-dialled with backoff while
    /// disconnected: `/ip4/.../tcp/.../p2p/<peer id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// The node key: the libp2p identity (a secp256k1 identity, so the
    /// same key gives the same [`PeerId`] as the Go node).
    pub node_key: PrivateKey,
    /// The chain this node is on. Peers whose status carries another hash
    /// are refused; it also names the gossip topics. Use the hash of the
    /// chain id the network was born with: it must not change while the
    /// service runs.
    pub chain_id_hash: Hash,
    pub limits: NetLimits,
    pub timing: NetTiming,
    pub scoring: ScoreConfig,
    pub gossip_validation: GossipValidation,
}

/// Who decides whether a gossip message is relayed further.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GossipValidation {
    /// The network relays every message that passes its size check at
    /// once; the node reports bad senders afterwards with
    /// [`NetworkHandle::report`](crate::NetworkHandle::report).
    #[default]
    Relay,
    /// A message is relayed only after the node accepts it with
    /// [`NetworkHandle::validate_gossip`](crate::NetworkHandle::validate_gossip);
    /// messages the node never judges are dropped from the relay cache
    /// after a few gossip heartbeats.
    ByNode,
}

/// Bounds on sizes, counts and queues. Hitting one is a clear error or a
/// refusal, never unbounded growth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetLimits {
    /// Largest message on the transaction topic accepted or published:
    /// nodes gossip transactions in batches (`aergo_types::TxList`), so
    /// this bounds a batch; the network layer does not look inside.
    pub max_tx_bytes: usize,
    /// Largest block accepted from or published to gossip.
    pub max_block_bytes: usize,
    /// Largest consensus message (vote) accepted from or published to gossip.
    pub max_consensus_bytes: usize,
    /// Most blocks in one sync response (requests are clamped to it).
    pub max_sync_blocks: u32,
    /// Most block bytes in one sync response; at least `max_block_bytes`
    /// so every block can be synced.
    pub max_sync_response_bytes: usize,
    /// Most established connections (both directions).
    pub max_peers: u32,
    /// Most inbound connections still in their handshake.
    pub max_pending_incoming: u32,
    /// Most outstanding outbound requests per peer.
    pub max_requests_per_peer: usize,
    /// Most inbound requests per peer being served at once.
    pub max_inbound_pending_per_peer: usize,
    /// Most block-provider calls running at once, all peers together.
    pub max_provider_calls: usize,
    /// Sustained inbound request rate allowed per peer.
    pub inbound_requests_per_sec: u32,
    /// Burst of inbound requests allowed per peer above the rate.
    pub inbound_request_burst: u32,
    /// Capacity of the event channel to the node. When full, events are
    /// dropped and counted in [`NetStats::events_dropped`](crate::NetStats).
    pub event_queue_len: usize,
    /// Capacity of the command channel from handles (callers wait).
    pub command_queue_len: usize,
    /// Gossipsub's per-connection send queue.
    pub gossip_queue_len: usize,
    /// Most peers whose penalty points or bans are remembered.
    pub max_tracked_peers: usize,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            // The types crate's decode bounds: anything larger could never
            // be accepted by the node anyway.
            max_tx_bytes: aergo_types::TX_BATCH_MAX_BYTES,
            max_block_bytes: aergo_types::block::BLOCK_MAX_ENCODED_BYTES,
            max_consensus_bytes: 4 * 1024,
            max_sync_blocks: 64,
            max_sync_response_bytes: 16 * 1024 * 1024,
            max_peers: 50,
            max_pending_incoming: 16,
            max_requests_per_peer: 8,
            max_inbound_pending_per_peer: 4,
            max_provider_calls: 8,
            inbound_requests_per_sec: 20,
            inbound_request_burst: 40,
            event_queue_len: 4096,
            command_queue_len: 256,
            gossip_queue_len: 1024,
            max_tracked_peers: 1024,
        }
    }
}

/// Timeouts and periods, in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetTiming {
    /// A sync or status request not answered in this time fails.
    pub request_timeout_ms: u64,
    /// A connected peer that has not completed the status exchange in this
    /// time is disconnected.
    pub handshake_timeout_ms: u64,
    /// First delay before re-dialling a lost bootstrap peer; doubles on
    /// each failure up to `redial_max_ms`.
    pub redial_min_ms: u64,
    pub redial_max_ms: u64,
    /// How often the node's own status is re-read from the provider.
    pub local_status_refresh_ms: u64,
    /// How often connected peers are asked for their status (their head).
    pub peer_status_poll_ms: u64,
    /// Gossipsub heartbeat (mesh maintenance, gossip emission).
    pub gossip_heartbeat_ms: u64,
    /// Connections with no protocol in use close after this.
    pub idle_connection_timeout_ms: u64,
    /// How long gossip content ids are remembered for dedup.
    pub gossip_dedup_ms: u64,
    /// Period of the housekeeping tick (timeouts, bans, redials).
    pub housekeeping_ms: u64,
}

impl Default for NetTiming {
    fn default() -> Self {
        NetTiming {
            request_timeout_ms: 30_000,
            handshake_timeout_ms: 10_000,
            redial_min_ms: 1_000,
            redial_max_ms: 60_000,
            local_status_refresh_ms: 1_000,
            peer_status_poll_ms: 10_000,
            gossip_heartbeat_ms: 1_000,
            idle_connection_timeout_ms: 60_000,
            gossip_dedup_ms: 120_000,
            housekeeping_ms: 250,
        }
    }
}

/// Peer scoring: misbehaviour adds penalty points, points drain away over
/// time, and a peer at the threshold is disconnected and banned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreConfig {
    /// Penalty points at which a peer is banned.
    pub ban_threshold: u32,
    /// How long a ban lasts.
    pub ban_duration_ms: u64,
    /// Points forgiven per minute of good behaviour.
    pub recovery_points_per_min: u32,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig { ban_threshold: 100, ban_duration_ms: 10 * 60 * 1000, recovery_points_per_min: 10 }
    }
}

/// Things a peer can do wrong, with the penalty points each costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Gossiped a transaction that does not decode or verify.
    InvalidTx,
    /// Gossiped or served a block that does not decode or verify.
    InvalidBlock,
    /// Answered a sync request with something that is not a valid answer.
    InvalidSyncResponse,
    /// Gossiped a consensus message (vote) that does not decode or verify.
    InvalidConsensusMessage,
    /// Sent bytes that do not decode under the protocol.
    MalformedMessage,
    /// Sent a message above the size bound.
    OversizedMessage,
    /// Sent requests faster than the allowed rate.
    RequestFlood,
    /// Did not complete the status handshake in time.
    HandshakeTimeout,
    /// Provably malicious (e.g. equivocation): banned at once.
    Malicious,
}

impl Misbehaviour {
    /// Penalty points; the default ban threshold is 100.
    pub fn penalty_points(self) -> u32 {
        match self {
            Misbehaviour::InvalidTx => 10,
            Misbehaviour::InvalidBlock => 50,
            Misbehaviour::InvalidConsensusMessage => 25,
            Misbehaviour::InvalidSyncResponse => 50,
            Misbehaviour::MalformedMessage => 25,
            Misbehaviour::OversizedMessage => 25,
            Misbehaviour::RequestFlood => 5,
            Misbehaviour::HandshakeTimeout => 10,
            Misbehaviour::Malicious => u32::MAX,
        }
    }
}

impl NetConfig {
    /// A configuration with default limits, listening on all interfaces
    /// on the default port, without bootstrap peers.
    pub fn new(node_key: PrivateKey, chain_id_hash: Hash) -> NetConfig {
        NetConfig {
            listen_addrs: vec![default_listen_addr(DEFAULT_P2P_PORT)],
            bootstrap: Vec::new(),
            node_key,
            chain_id_hash,
            limits: NetLimits::default(),
            timing: NetTiming::default(),
            scoring: ScoreConfig::default(),
            gossip_validation: GossipValidation::default(),
        }
    }

    /// Checks every field; the service refuses to start otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.listen_addrs.is_empty() {
            return Err(cfg("listen_addrs", "at least one listen address is required"));
        }
        for a in &self.listen_addrs {
            check_tcp_addr("listen_addrs", a)?;
        }
        for a in &self.bootstrap {
            bootstrap_peer_id(a)?;
        }
        let l = &self.limits;
        range("max_tx_bytes", l.max_tx_bytes as u64, 1, MAX_GOSSIP_BYTES as u64)?;
        range("max_consensus_bytes", l.max_consensus_bytes as u64, 1, MAX_GOSSIP_BYTES as u64)?;
        range("max_block_bytes", l.max_block_bytes as u64, 1, MAX_GOSSIP_BYTES as u64)?;
        range("max_sync_blocks", u64::from(l.max_sync_blocks), 1, 100_000)?;
        range("max_sync_response_bytes", l.max_sync_response_bytes as u64, l.max_block_bytes as u64, 1 << 30)?;
        range("max_peers", u64::from(l.max_peers), 1, 10_000)?;
        range("max_pending_incoming", u64::from(l.max_pending_incoming), 1, 10_000)?;
        range("max_requests_per_peer", l.max_requests_per_peer as u64, 1, 1024)?;
        range("max_inbound_pending_per_peer", l.max_inbound_pending_per_peer as u64, 1, 1024)?;
        range("max_provider_calls", l.max_provider_calls as u64, 1, 1024)?;
        range("inbound_requests_per_sec", u64::from(l.inbound_requests_per_sec), 1, 1_000_000)?;
        range("inbound_request_burst", u64::from(l.inbound_request_burst), 1, 1_000_000)?;
        range("event_queue_len", l.event_queue_len as u64, 1, 1 << 24)?;
        range("command_queue_len", l.command_queue_len as u64, 1, 1 << 24)?;
        range("gossip_queue_len", l.gossip_queue_len as u64, 1, 1 << 24)?;
        range("max_tracked_peers", l.max_tracked_peers as u64, 1, 1 << 24)?;
        let t = &self.timing;
        let hour = 3_600_000;
        range("request_timeout_ms", t.request_timeout_ms, 1, hour)?;
        range("handshake_timeout_ms", t.handshake_timeout_ms, 1, hour)?;
        range("redial_min_ms", t.redial_min_ms, 1, hour)?;
        range("redial_max_ms", t.redial_max_ms, t.redial_min_ms, 24 * hour)?;
        range("local_status_refresh_ms", t.local_status_refresh_ms, 1, hour)?;
        range("peer_status_poll_ms", t.peer_status_poll_ms, 1, 24 * hour)?;
        range("gossip_heartbeat_ms", t.gossip_heartbeat_ms, 10, hour)?;
        range("idle_connection_timeout_ms", t.idle_connection_timeout_ms, 1, 24 * hour)?;
        range("gossip_dedup_ms", t.gossip_dedup_ms, 1, 24 * hour)?;
        range("housekeeping_ms", t.housekeeping_ms, 1, 60_000)?;
        range("ban_threshold", u64::from(self.scoring.ban_threshold), 1, u64::from(u32::MAX))?;
        range("ban_duration_ms", self.scoring.ban_duration_ms, 1, 365 * 24 * hour)?;
        Ok(())
    }

    /// Bytes of the largest sync response frame body this node accepts.
    pub(crate) fn max_response_body_bytes(&self) -> usize {
        let blocks = crate::wire::BLOCKS_RESPONSE_OVERHEAD_BYTES
            + self.limits.max_sync_response_bytes
            + self.limits.max_sync_blocks as usize * crate::wire::BLOCK_ENTRY_OVERHEAD_BYTES;
        blocks.max(crate::wire::MAX_FILE_PIECE_RESPONSE_BYTES)
    }
}

/// Gossip payloads above 64 MiB are refused whatever the configuration:
/// gossipsub holds whole messages in memory and relays them.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024 * 1024;

/// `/ip4/0.0.0.0/tcp/<port>`.
pub fn default_listen_addr(port: u16) -> Multiaddr {
    Multiaddr::empty().with(Protocol::Ip4(std::net::Ipv4Addr::UNSPECIFIED)).with(Protocol::Tcp(port))
}

/// The libp2p keypair of a node key (secp256k1, from the key's libp2p
/// marshalled form, exactly as the Go node does).
pub fn keypair_from_key(key: &PrivateKey) -> Result<Keypair> {
    Keypair::from_protobuf_encoding(&key.to_libp2p_bytes()).map_err(|e| NetError::Identity { reason: e.to_string() })
}

/// The [`PeerId`] of a node key: the identity multihash of the
/// protobuf-encoded secp256k1 public key (base58 text starts `16Uiu2`).
pub fn peer_id_from_key(key: &PrivateKey) -> Result<PeerId> {
    Ok(keypair_from_key(key)?.public().to_peer_id())
}

/// The peer id in a bootstrap address (its trailing `/p2p/<id>`). A
/// bootstrap address may name its host (`/dns4/<name>`, `/dns6/<name>` or
/// `/dns/<name>`): containers and orchestrators give peers stable names, not
/// addresses; the name is resolved at each dial (see `service`).
pub fn bootstrap_peer_id(addr: &Multiaddr) -> Result<PeerId> {
    let mut it = addr.iter();
    let named = matches!(it.next(), Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_)));
    if named {
        let ok = matches!(it.next(), Some(Protocol::Tcp(_))) && matches!(it.next(), Some(Protocol::P2p(_)));
        if !ok || it.next().is_some() {
            return Err(cfg("bootstrap", format!("{addr} is not /dns4|dns6|dns/<name>/tcp/<port>/p2p/<id>")));
        }
    } else {
        check_tcp_addr("bootstrap", addr)?;
    }
    match addr.iter().last() {
        Some(Protocol::P2p(id)) => Ok(id),
        _ => Err(cfg("bootstrap", format!("{addr} does not end in /p2p/<peer id>"))),
    }
}

fn check_tcp_addr(field: &'static str, addr: &Multiaddr) -> Result<()> {
    let mut it = addr.iter();
    let ip_ok = matches!(it.next(), Some(Protocol::Ip4(_) | Protocol::Ip6(_)));
    let tcp_ok = matches!(it.next(), Some(Protocol::Tcp(_)));
    let rest_ok = match it.next() {
        None => true,
        Some(Protocol::P2p(_)) => it.next().is_none(),
        Some(_) => false,
    };
    if ip_ok && tcp_ok && rest_ok {
        Ok(())
    } else {
        Err(cfg(field, format!("{addr} is not /ip4|ip6/<addr>/tcp/<port>[/p2p/<id>] (DNS names only in bootstrap)")))
    }
}

fn cfg(field: &'static str, reason: impl Into<String>) -> NetError {
    NetError::Config { field, reason: reason.into() }
}

fn range(field: &'static str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(cfg(field, format!("{value} is outside {min}..={max}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PrivateKey {
        let mut b = [0u8; 32];
        b[31] = n;
        PrivateKey::from_bytes(&b).expect("small scalar is a valid key")
    }

    #[test]
    fn peer_id_is_the_identity_multihash_of_the_libp2p_public_key() {
        // Derived by hand, independently of libp2p's code: multihash code
        // 0x00 (identity), length 37, then the marshalled public key.
        let k = key(1);
        let mut want = vec![0x00, 37];
        want.extend_from_slice(&k.public_key().to_libp2p_bytes());
        let id = peer_id_from_key(&k).expect("valid key");
        assert_eq!(id.to_bytes(), want);
        assert!(id.to_base58().starts_with("16Uiu2"), "{id}");
        // Stable: the same key always gives the same id; another key another.
        assert_eq!(peer_id_from_key(&k).expect("valid key"), id);
        assert_ne!(peer_id_from_key(&key(2)).expect("valid key"), id);
    }

    #[test]
    fn golden_peer_id_for_key_one() {
        // Private key 1: public key is the generator point G.
        let id = peer_id_from_key(&key(1)).expect("valid key");
        let g = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        assert_eq!(hex_of(&id.to_bytes()[6..]), g);
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = NetConfig::new(key(1), Hash::ZERO);
        assert!(c.validate().is_ok());
        c.limits.max_sync_response_bytes = c.limits.max_block_bytes - 1;
        assert!(matches!(c.validate(), Err(NetError::Config { field: "max_sync_response_bytes", .. })));
        let mut c = NetConfig::new(key(1), Hash::ZERO);
        c.bootstrap.push("/ip4/127.0.0.1/tcp/7846".parse().expect("multiaddr"));
        assert!(matches!(c.validate(), Err(NetError::Config { field: "bootstrap", .. })));
        // Named hosts are bootstrap addresses; without a peer id or with a
        // trailer they are not.
        let id = peer_id_from_key(&key(2)).unwrap();
        for (text, ok) in [
            (format!("/dns4/node1/tcp/7846/p2p/{id}"), true),
            (format!("/dns/aergo-1.aergo/tcp/7846/p2p/{id}"), true),
            ("/dns4/node1/tcp/7846".to_string(), false),
            (format!("/dns4/node1/udp/7846/p2p/{id}"), false),
            (format!("/dns4/node1/tcp/7846/p2p/{id}/tcp/1"), false),
        ] {
            let mut c = NetConfig::new(key(1), Hash::ZERO);
            c.bootstrap.push(text.parse().expect("multiaddr"));
            assert_eq!(c.validate().is_ok(), ok, "{text}");
        }
        let mut c = NetConfig::new(key(1), Hash::ZERO);
        c.listen_addrs = vec!["/dns4/example.org/tcp/1".parse().expect("multiaddr")];
        assert!(matches!(c.validate(), Err(NetError::Config { field: "listen_addrs", .. })));
        assert_eq!(NetConfig::new(key(1), Hash::ZERO).listen_addrs[0].to_string(), "/ip4/0.0.0.0/tcp/7846");
    }
}
