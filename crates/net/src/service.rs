//! The network service: a libp2p swarm driven by one tokio task (the
//! event loop), started by [`Network::start`].

use crate::config::{bootstrap_peer_id, keypair_from_key, GossipValidation, Misbehaviour, NetConfig, MAX_GOSSIP_BYTES};
use crate::error::{NetError, Result, WireError};
use crate::handle::{
    Command, GossipId, GossipKind, GossipVerdict, NetEvent, NetStats, NetworkHandle, PeerInfo, Reply, SyncProvider,
};
use crate::score::{RateLimiter, Scores, Verdict};
use crate::wire::{
    FilePiece, InboundRequest, PeerStatus, Refusal, SyncCodec, SyncRequest, SyncResponse, MAX_FORWARD_ANSWER_BYTES,
    SYNC_PROTOCOL,
};
use aergo_types::Hash;
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId, TopicHash};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{allow_block_list, connection_limits, identify, ping, Multiaddr, PeerId, Swarm};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Gossipsub's envelope around a payload (topic, protobuf framing) fits in
/// this many bytes; the frame limit is the largest payload plus this.
const GOSSIP_ENVELOPE_BYTES: usize = 4 * 1024;
/// How long `start` waits for the listeners to come up.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(NetworkBehaviour)]
struct Behaviour {
    // Order matters: connections are checked against bans and limits
    // before the other behaviours see them.
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// The entry point.
pub struct Network;

impl Network {
    /// Starts the service: builds the swarm from the node key, listens,
    /// dials the bootstrap peers and spawns the event loop on the current
    /// tokio runtime. Returns once every listener is up.
    pub async fn start(
        config: NetConfig,
        provider: Arc<dyn SyncProvider>,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetEvent>)> {
        config.validate()?;
        let p = provider.clone();
        let status = tokio::task::spawn_blocking(move || p.status())
            .await
            .map_err(|e| NetError::Config { field: "provider", reason: format!("status() failed: {e}") })?;
        if status.chain_id_hash != config.chain_id_hash {
            return Err(NetError::Config {
                field: "chain_id_hash",
                reason: format!(
                    "the provider's status is for chain {}, the config for {}",
                    status.chain_id_hash, config.chain_id_hash
                ),
            });
        }
        let keypair = keypair_from_key(&config.node_key)?;
        let local_peer_id = keypair.public().to_peer_id();
        let topics = Topics::new(&config.chain_id_hash);
        let behaviour = build_behaviour(&config, &keypair, &topics)?;
        let idle = Duration::from_millis(config.timing.idle_connection_timeout_ms);
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::new().nodelay(true),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )
            .map_err(|e| NetError::Transport { reason: format!("noise: {e}") })?
            .with_behaviour(move |_| behaviour)
            .map_err(|e| NetError::Transport { reason: e.to_string() })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .build();

        let mut listeners = std::collections::HashSet::new();
        for addr in &config.listen_addrs {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Transport { reason: format!("listen on {addr}: {e}") })?;
            listeners.insert(id);
        }
        // Wait until every listener has an address: callers (and tests
        // using port 0) need the real port right away.
        let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
        while !listeners.is_empty() {
            match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
                Ok(SwarmEvent::NewListenAddr { listener_id, .. }) => {
                    listeners.remove(&listener_id);
                }
                Ok(SwarmEvent::ListenerError { error, .. }) => {
                    return Err(NetError::Transport { reason: format!("listener failed: {error}") });
                }
                Ok(SwarmEvent::ListenerClosed { reason, .. }) => {
                    return Err(NetError::Transport { reason: format!("listener closed: {reason:?}") });
                }
                Ok(_) => {}
                Err(_) => {
                    return Err(NetError::Transport {
                        reason: format!("listeners not up after {} s", LISTEN_TIMEOUT.as_secs()),
                    })
                }
            }
        }

        let now = Instant::now();
        let mut bootstrap = BTreeMap::new();
        for addr in &config.bootstrap {
            let id = bootstrap_peer_id(addr)?;
            if id != local_peer_id {
                bootstrap.insert(
                    id,
                    Redial {
                        addr: addr.clone(),
                        next_at: now,
                        backoff_ms: config.timing.redial_min_ms,
                        resolving: false,
                    },
                );
            }
        }

        let (cmd_tx, cmd_rx) = mpsc::channel(config.limits.command_queue_len);
        let (ev_tx, ev_rx) = mpsc::channel(config.limits.event_queue_len);
        let (int_tx, int_rx) = mpsc::channel(config.limits.max_provider_calls + 4);
        let handle = NetworkHandle {
            commands: cmd_tx,
            local_peer_id,
            limits: Arc::new(config.limits.clone()),
            request_timeout: Duration::from_millis(config.timing.request_timeout_ms),
        };
        let worker = Worker {
            swarm,
            scores: Scores::new(config.scoring.clone(), config.limits.max_tracked_peers),
            config,
            topics,
            provider,
            commands: cmd_rx,
            events: ev_tx,
            internal_tx: int_tx,
            internal_rx: int_rx,
            local_status: status,
            local_status_at: now,
            local_status_in_flight: false,
            peers: BTreeMap::new(),
            pending: HashMap::new(),
            provider_calls: 0,
            bootstrap,
            stats: NetStats::default(),
        };
        tokio::spawn(worker.run());
        Ok((handle, ev_rx))
    }
}

fn build_behaviour(config: &NetConfig, keypair: &libp2p::identity::Keypair, topics: &Topics) -> Result<Behaviour> {
    let l = &config.limits;
    let t = &config.timing;
    let max_payload = l.max_tx_bytes.max(l.max_block_bytes).min(MAX_GOSSIP_BYTES);
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        // Every message waits for a verdict (ours or the node's) before it
        // is relayed.
        .validate_messages()
        .message_id_fn(content_id)
        .max_transmit_size(max_payload + GOSSIP_ENVELOPE_BYTES)
        .heartbeat_interval(Duration::from_millis(t.gossip_heartbeat_ms))
        .duplicate_cache_time(Duration::from_millis(t.gossip_dedup_ms))
        .connection_handler_queue_len(l.gossip_queue_len)
        .build()
        .map_err(|e| NetError::Config { field: "gossip", reason: e.to_string() })?;
    // Anonymous: no per-message signature (txs and blocks carry their own)
    // and no sequence number, so identical content dedups network-wide.
    let mut gossip = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)
        .map_err(|e| NetError::Config { field: "gossip", reason: e.to_string() })?;
    for topic in [&topics.tx, &topics.block, &topics.consensus] {
        gossip.subscribe(topic).map_err(|e| NetError::Config { field: "gossip", reason: e.to_string() })?;
    }

    let codec = SyncCodec { max_response_body_bytes: config.max_response_body_bytes(), max_blocks: l.max_sync_blocks };
    let rr_config = request_response::Config::default()
        .with_request_timeout(Duration::from_millis(t.request_timeout_ms))
        .with_max_concurrent_streams(l.max_requests_per_peer + l.max_inbound_pending_per_peer + 2);
    let sync = request_response::Behaviour::with_codec(codec, [(SYNC_PROTOCOL, ProtocolSupport::Full)], rr_config);

    let identify = identify::Behaviour::new(
        identify::Config::new("/aergo/id/1.0.0".to_string(), keypair.public())
            .with_agent_version(format!("aergo-rs/{}", env!("CARGO_PKG_VERSION"))),
    );
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(l.max_peers))
        .with_max_pending_incoming(Some(l.max_pending_incoming))
        .with_max_pending_outgoing(Some(l.max_peers))
        // Two allows a simultaneous dial in both directions to succeed.
        .with_max_established_per_peer(Some(2));
    Ok(Behaviour {
        blocked: allow_block_list::Behaviour::default(),
        limits: connection_limits::Behaviour::new(limits),
        gossip,
        sync,
        identify,
        ping: ping::Behaviour::new(ping::Config::new()),
    })
}

/// Message id = SHA-256 of topic and content: the same bytes published by
/// two nodes are one message.
fn content_id(m: &gossipsub::Message) -> MessageId {
    let topic = m.topic.as_str().as_bytes();
    let h = Hash::sha256_parts(&[&(topic.len() as u64).to_be_bytes(), topic, &m.data]);
    MessageId::from(h.0.to_vec())
}

/// How many gossip topics a fully subscribed peer is on.
const GOSSIP_TOPICS: usize = 3;

struct Topics {
    tx: IdentTopic,
    block: IdentTopic,
    consensus: IdentTopic,
}

impl Topics {
    fn new(chain_id_hash: &Hash) -> Topics {
        let chain = chain_id_hash.to_base58();
        Topics {
            // Batches of transactions (`aergo_types::TxList`).
            tx: IdentTopic::new(format!("/aergo/{chain}/txbatch")),
            block: IdentTopic::new(format!("/aergo/{chain}/blocks")),
            consensus: IdentTopic::new(format!("/aergo/{chain}/consensus")),
        }
    }

    fn kind_of(&self, h: &TopicHash) -> Option<GossipKind> {
        if *h == self.tx.hash() {
            Some(GossipKind::Tx)
        } else if *h == self.block.hash() {
            Some(GossipKind::Block)
        } else if *h == self.consensus.hash() {
            Some(GossipKind::Consensus)
        } else {
            None
        }
    }

    fn topic(&self, kind: GossipKind) -> &IdentTopic {
        match kind {
            GossipKind::Tx => &self.tx,
            GossipKind::Block => &self.block,
            GossipKind::Consensus => &self.consensus,
        }
    }
}

struct Redial {
    addr: Multiaddr,
    next_at: Instant,
    backoff_ms: u64,
    /// Its name is being resolved: no second lookup starts meanwhile.
    resolving: bool,
}

struct PeerEntry {
    address: Option<Multiaddr>,
    listen_address_known: bool,
    outbound: bool,
    connected_at: Instant,
    /// Some once the status handshake succeeded.
    status: Option<PeerStatus>,
    status_at: Instant,
    pending_out: usize,
    pending_in: usize,
    bucket: RateLimiter,
    topics: BTreeSet<GossipKind>,
    rtt_ms: Option<u64>,
}

enum Purpose {
    Handshake,
    Poll,
    Status(Reply<PeerStatus>),
    Blocks { max_count: u32, reply: Reply<Vec<Vec<u8>>> },
    Forward(Reply<Vec<u8>>),
    FilePiece { offset: u64, len: u32, reply: Reply<Option<FilePiece>> },
}

struct Pending {
    peer: PeerId,
    purpose: Purpose,
}

enum Internal {
    LocalStatus(Option<PeerStatus>),
    /// A bootstrap peer's name resolved for a dial (empty: it did not).
    Resolved {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    },
    Blocks {
        peer: PeerId,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    },
}

/// How long resolving a bootstrap peer's name may take.
const RESOLVE_TIMEOUT_MS: u64 = 5_000;

/// Addresses one name lookup may give to a dial.
const MAX_RESOLVED_ADDRS: usize = 4;

/// Which addresses a name stands for: `/dns4` IPv4, `/dns6` IPv6, `/dns`
/// either.
#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
    Any,
}

impl Family {
    fn admits(self, sa: &std::net::SocketAddr) -> bool {
        match self {
            Family::V4 => sa.is_ipv4(),
            Family::V6 => sa.is_ipv6(),
            Family::Any => true,
        }
    }
}

/// The host name, port and family of a `/dns*/<name>/tcp/<port>/...`
/// address.
fn named_host(addr: &Multiaddr) -> Option<(String, u16, Family)> {
    let mut it = addr.iter();
    let (host, family) = match it.next()? {
        Protocol::Dns(h) => (h.to_string(), Family::Any),
        Protocol::Dns4(h) => (h.to_string(), Family::V4),
        Protocol::Dns6(h) => (h.to_string(), Family::V6),
        _ => return None,
    };
    match it.next()? {
        Protocol::Tcp(port) => Some((host, port, family)),
        _ => None,
    }
}

/// `named` with its host replaced by the resolved address `sa`.
fn ip_addr_of(sa: std::net::SocketAddr, named: &Multiaddr) -> Multiaddr {
    let ip = match sa.ip() {
        std::net::IpAddr::V4(v4) => Protocol::Ip4(v4),
        std::net::IpAddr::V6(v6) => Protocol::Ip6(v6),
    };
    named.iter().skip(1).fold(Multiaddr::empty().with(ip), |m, p| m.with(p))
}

struct Worker {
    swarm: Swarm<Behaviour>,
    config: NetConfig,
    topics: Topics,
    provider: Arc<dyn SyncProvider>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: mpsc::Receiver<Internal>,
    local_status: PeerStatus,
    local_status_at: Instant,
    local_status_in_flight: bool,
    peers: BTreeMap<PeerId, PeerEntry>,
    // Looked up by id only, never iterated.
    pending: HashMap<OutboundRequestId, Pending>,
    provider_calls: usize,
    scores: Scores,
    bootstrap: BTreeMap<PeerId, Redial>,
    stats: NetStats,
}

impl Worker {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(self.config.timing.housekeeping_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.housekeeping();
        let shutdown = loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                cmd = self.commands.recv() => match cmd {
                    None => break None,
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(cmd) => self.on_command(cmd),
                },
                Some(int) = self.internal_rx.recv() => self.on_internal(int),
                _ = tick.tick() => self.housekeeping(),
            }
        };
        // Fail what is still waiting, then close every connection.
        for (_, p) in self.pending.drain() {
            fail(p.purpose, NetError::Stopped);
        }
        drop(self.swarm);
        tracing::info!("network service stopped");
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    fn emit(&mut self, ev: NetEvent) -> bool {
        if self.events.try_send(ev).is_err() {
            self.stats.events_dropped += 1;
            false
        } else {
            true
        }
    }

    fn penalise(&mut self, peer: PeerId, m: Misbehaviour) {
        self.stats.penalties += 1;
        match self.scores.penalise(peer, m, Instant::now()) {
            Verdict::Tolerated { points } => tracing::debug!(%peer, ?m, points, "peer penalised"),
            Verdict::Banned { .. } => {
                tracing::warn!(%peer, ?m, "peer banned");
                self.stats.bans_issued += 1;
                // Closes its connections and refuses new ones until unbanned.
                self.swarm.behaviour_mut().blocked.block_peer(peer);
            }
        }
    }

    fn ban(&mut self, peer: PeerId) {
        let until = Instant::now() + Duration::from_millis(self.config.scoring.ban_duration_ms);
        self.scores.ban_until(peer, until);
        self.stats.bans_issued += 1;
        self.swarm.behaviour_mut().blocked.block_peer(peer);
    }

    // --- swarm events -------------------------------------------------------

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                let now = Instant::now();
                if num_established.get() == 1 {
                    let limits = &self.config.limits;
                    self.peers.insert(
                        peer_id,
                        PeerEntry {
                            address: Some(endpoint.get_remote_address().clone()),
                            listen_address_known: endpoint.is_dialer(),
                            outbound: endpoint.is_dialer(),
                            connected_at: now,
                            status: None,
                            status_at: now,
                            pending_out: 0,
                            pending_in: 0,
                            bucket: RateLimiter::new(
                                limits.inbound_requests_per_sec,
                                limits.inbound_request_burst,
                                now,
                            ),
                            topics: BTreeSet::new(),
                            rtt_ms: None,
                        },
                    );
                    let status = self.local_status;
                    self.send_request(peer_id, SyncRequest::Status(status), Purpose::Handshake);
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                if self.peers.remove(&peer_id).is_some_and(|e| e.status.is_some()) {
                    self.emit(NetEvent::PeerDisconnected { peer: peer_id });
                }
                let max = self.config.timing.redial_max_ms;
                if let Some(r) = self.bootstrap.get_mut(&peer_id) {
                    r.next_at = Instant::now() + Duration::from_millis(r.backoff_ms);
                    r.backoff_ms = r.backoff_ms.saturating_mul(2).min(max);
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                tracing::debug!(%peer, %error, "dial failed");
                let max = self.config.timing.redial_max_ms;
                if let Some(r) = self.bootstrap.get_mut(&peer) {
                    r.next_at = Instant::now() + Duration::from_millis(r.backoff_ms);
                    r.backoff_ms = r.backoff_ms.saturating_mul(2).min(max);
                }
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                if matches!(error, libp2p::swarm::ListenError::Denied { .. }) {
                    self.stats.connections_denied += 1;
                }
                tracing::debug!(%error, "inbound connection failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(ev)) => self.on_gossip(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                if let Some(entry) = self.peers.get_mut(&peer_id) {
                    if !entry.listen_address_known {
                        if let Some(a) = info.listen_addrs.iter().find(|a| is_tcp(a)) {
                            entry.address = Some(a.clone());
                            entry.listen_address_known = true;
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. })) => {
                if let Some(entry) = self.peers.get_mut(&peer) {
                    entry.rtt_ms = Some(rtt.as_millis() as u64);
                }
            }
            _ => {}
        }
    }

    fn on_gossip(&mut self, ev: gossipsub::Event) {
        match ev {
            gossipsub::Event::Message { propagation_source: from, message_id, message } => {
                self.stats.gossip_received += 1;
                let Some(kind) = self.topics.kind_of(&message.topic) else {
                    self.judge(&message_id, &from, MessageAcceptance::Ignore);
                    return;
                };
                if !self.is_handshaken(&from) {
                    // Not handshaken yet: we do not know it is on our chain.
                    self.judge(&message_id, &from, MessageAcceptance::Ignore);
                    return;
                }
                let max = match kind {
                    GossipKind::Tx => self.config.limits.max_tx_bytes,
                    GossipKind::Block => self.config.limits.max_block_bytes,
                    GossipKind::Consensus => self.config.limits.max_consensus_bytes,
                };
                if message.data.len() > max {
                    tracing::debug!(%from, size = message.data.len(), max, ?kind, "oversized gossip rejected");
                    self.judge(&message_id, &from, MessageAcceptance::Reject);
                    self.penalise(from, Misbehaviour::OversizedMessage);
                    return;
                }
                self.stats.gossip_bytes_in.add(kind, message.data.len());
                let id = GossipId { message: message_id.clone(), source: from, kind };
                let bytes = message.data;
                let ev = match kind {
                    GossipKind::Tx => NetEvent::TxGossip { from, bytes, id },
                    GossipKind::Block => NetEvent::BlockGossip { from, bytes, id },
                    GossipKind::Consensus => NetEvent::ConsensusGossip { from, bytes, id },
                };
                match self.config.gossip_validation {
                    GossipValidation::Relay => {
                        self.judge(&message_id, &from, MessageAcceptance::Accept);
                        self.emit(ev);
                    }
                    GossipValidation::ByNode => {
                        if !self.emit(ev) {
                            // The node will never see it: do not keep it waiting.
                            self.judge(&message_id, &from, MessageAcceptance::Ignore);
                        }
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                if let (Some(kind), Some(entry)) = (self.topics.kind_of(&topic), self.peers.get_mut(&peer_id)) {
                    entry.topics.insert(kind);
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                if let (Some(kind), Some(entry)) = (self.topics.kind_of(&topic), self.peers.get_mut(&peer_id)) {
                    entry.topics.remove(&kind);
                }
            }
            _ => {}
        }
    }

    fn judge(&mut self, id: &MessageId, from: &PeerId, verdict: MessageAcceptance) {
        match verdict {
            MessageAcceptance::Reject => self.stats.gossip_rejected += 1,
            MessageAcceptance::Ignore => self.stats.gossip_ignored += 1,
            MessageAcceptance::Accept => {}
        }
        self.swarm.behaviour_mut().gossip.report_message_validation_result(id, from, verdict);
    }

    // --- sync protocol ------------------------------------------------------

    /// Sends a request, or fails its purpose at once when the peer is gone
    /// or has too many requests outstanding.
    fn send_request(&mut self, peer: PeerId, req: SyncRequest, purpose: Purpose) {
        let max = self.config.limits.max_requests_per_peer;
        let Some(entry) = self.peers.get_mut(&peer) else {
            fail(purpose, NetError::NotConnected { peer });
            return;
        };
        if entry.pending_out >= max {
            let pending = entry.pending_out;
            fail(purpose, NetError::TooManyPending { peer, pending, max });
            return;
        }
        entry.pending_out += 1;
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, Ok(req));
        self.pending.insert(id, Pending { peer, purpose });
    }

    fn take_pending(&mut self, id: &OutboundRequestId) -> Option<Pending> {
        let p = self.pending.remove(id)?;
        if let Some(entry) = self.peers.get_mut(&p.peer) {
            entry.pending_out = entry.pending_out.saturating_sub(1);
        }
        Some(p)
    }

    fn on_sync(&mut self, ev: request_response::Event<InboundRequest, SyncResponse>) {
        use request_response::{Event, Message};
        match ev {
            Event::Message { peer, message: Message::Request { request: Ok(request), channel, .. }, .. } => {
                self.on_inbound_request(peer, request, channel)
            }
            Event::Message { peer, message: Message::Request { request: Err(e), channel, .. }, .. } => {
                tracing::debug!(%peer, %e, "malformed sync request");
                self.stats.inbound_requests += 1;
                self.respond(channel, SyncResponse::Refused(Refusal::BadRequest));
                self.penalise(peer, misbehaviour_of(&e));
            }
            Event::Message { peer, message: Message::Response { request_id, response }, .. } => {
                if let Some(p) = self.take_pending(&request_id) {
                    self.on_response(peer, p.purpose, response);
                }
            }
            Event::OutboundFailure { peer, request_id, error, .. } => {
                let Some(p) = self.take_pending(&request_id) else { return };
                let err = match error {
                    request_response::OutboundFailure::Timeout => {
                        NetError::Timeout { peer, timeout_ms: self.config.timing.request_timeout_ms }
                    }
                    request_response::OutboundFailure::Io(e) => match wire_misbehaviour(&e) {
                        Some(m) => {
                            self.penalise(peer, m);
                            NetError::InvalidResponse { peer, reason: e.to_string() }
                        }
                        None => NetError::RequestFailed { peer, reason: e.to_string() },
                    },
                    other => NetError::RequestFailed { peer, reason: other.to_string() },
                };
                tracing::debug!(%peer, %err, "sync request failed");
                fail(p.purpose, err);
            }
            Event::InboundFailure { peer, error, .. } => {
                // Malformed requests arrive as `Err` requests (above); what
                // remains here is transport trouble or our own timeout.
                tracing::debug!(%peer, %error, "inbound sync request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<SyncResponse>, resp: SyncResponse) {
        if let SyncResponse::Refused(_) = resp {
            self.stats.inbound_refused += 1;
        }
        // Err means the requester went away meanwhile: nothing to do.
        let _ = self.swarm.behaviour_mut().sync.send_response(channel, resp);
    }

    /// A request the provider answers (blocks, a forwarded transaction):
    /// refused (and `None`) before the handshake or past the bounds on
    /// calls in progress, per peer and in all; else counted as begun (the
    /// answer, `Internal::Blocks`, ends it) and the channel handed back.
    fn begin_provider_call(
        &mut self,
        peer: PeerId,
        handshaken: bool,
        pending_in: usize,
        channel: ResponseChannel<SyncResponse>,
    ) -> Option<ResponseChannel<SyncResponse>> {
        if !handshaken {
            self.respond(channel, SyncResponse::Refused(Refusal::NotReady));
            return None;
        }
        if pending_in >= self.config.limits.max_inbound_pending_per_peer
            || self.provider_calls >= self.config.limits.max_provider_calls
        {
            self.respond(channel, SyncResponse::Refused(Refusal::Busy));
            return None;
        }
        if let Some(e) = self.peers.get_mut(&peer) {
            e.pending_in += 1;
        }
        self.provider_calls += 1;
        Some(channel)
    }

    fn on_inbound_request(&mut self, peer: PeerId, request: SyncRequest, channel: ResponseChannel<SyncResponse>) {
        self.stats.inbound_requests += 1;
        let now = Instant::now();
        // Forwarded transactions are client traffic, and file pieces come
        // in runs (a 100 MiB file is 100 of them): both are bounded by the
        // calls in progress (a busy answer, no penalty) and by their own
        // size, not by the sync request rate.
        let forward = matches!(request, SyncRequest::Forward(_) | SyncRequest::FilePiece { .. });
        let (allowed, handshaken, pending_in) = match self.peers.get_mut(&peer) {
            Some(e) => (forward || e.bucket.try_take(now), e.status.is_some(), e.pending_in),
            None => {
                self.respond(channel, SyncResponse::Refused(Refusal::NotReady));
                return;
            }
        };
        if !allowed {
            self.respond(channel, SyncResponse::Refused(Refusal::RateLimited));
            self.penalise(peer, Misbehaviour::RequestFlood);
            return;
        }
        match request {
            SyncRequest::Status(theirs) => {
                let ours = self.local_status;
                self.respond(channel, SyncResponse::Status(ours));
                self.on_status(peer, theirs);
            }
            SyncRequest::Forward(tx) => {
                let Some(channel) = self.begin_provider_call(peer, handshaken, pending_in, channel) else { return };
                let provider = self.provider.clone();
                let internal = self.internal_tx.clone();
                tokio::spawn(async move {
                    let response = match tokio::task::spawn_blocking(move || provider.forward(tx)).await {
                        Ok(Ok(answer)) if answer.len() <= MAX_FORWARD_ANSWER_BYTES => SyncResponse::Forwarded(answer),
                        Ok(Ok(answer)) => {
                            tracing::warn!(bytes = answer.len(), "forward answer over the bound");
                            SyncResponse::Refused(Refusal::Unavailable)
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%e, "forwarded tx not taken");
                            SyncResponse::Refused(Refusal::Unavailable)
                        }
                        Err(e) => {
                            tracing::error!(%e, "forward provider panicked");
                            SyncResponse::Refused(Refusal::Unavailable)
                        }
                    };
                    let _ = internal.send(Internal::Blocks { peer, channel, response }).await;
                });
            }
            SyncRequest::FilePiece { key, offset, len } => {
                let Some(channel) = self.begin_provider_call(peer, handshaken, pending_in, channel) else { return };
                let provider = self.provider.clone();
                let internal = self.internal_tx.clone();
                tokio::spawn(async move {
                    let response =
                        match tokio::task::spawn_blocking(move || provider.file_piece(key, offset, len)).await {
                            Ok(Ok(Some(piece))) if piece.bytes.len() <= len as usize => SyncResponse::FilePiece(piece),
                            Ok(Ok(Some(piece))) => {
                                tracing::warn!(bytes = piece.bytes.len(), len, "file piece over the length asked for");
                                SyncResponse::Refused(Refusal::Unavailable)
                            }
                            Ok(Ok(None)) => SyncResponse::NoFile,
                            Ok(Err(e)) => {
                                tracing::debug!(%e, %key, "file piece not served");
                                SyncResponse::Refused(Refusal::Unavailable)
                            }
                            Err(e) => {
                                tracing::error!(%e, "file provider panicked");
                                SyncResponse::Refused(Refusal::Unavailable)
                            }
                        };
                    let _ = internal.send(Internal::Blocks { peer, channel, response }).await;
                });
            }
            SyncRequest::Blocks { from_height, max_count, max_bytes } => {
                let Some(channel) = self.begin_provider_call(peer, handshaken, pending_in, channel) else { return };
                let count = max_count.min(self.config.limits.max_sync_blocks);
                let bytes = (max_bytes as usize).min(self.config.limits.max_sync_response_bytes);
                let provider = self.provider.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || provider.blocks(from_height, count, bytes)).await;
                    let response = match result {
                        Ok(Ok(blocks)) => SyncResponse::Blocks(clamp_blocks(blocks, count, bytes)),
                        Ok(Err(e)) => {
                            tracing::warn!(%e, from_height, "block provider failed");
                            SyncResponse::Refused(Refusal::Unavailable)
                        }
                        Err(e) => {
                            tracing::error!(%e, from_height, "block provider panicked");
                            SyncResponse::Refused(Refusal::Unavailable)
                        }
                    };
                    let _ = tx.send(Internal::Blocks { peer, channel, response }).await;
                });
            }
        }
    }

    fn on_response(&mut self, peer: PeerId, purpose: Purpose, response: SyncResponse) {
        match (purpose, response) {
            (Purpose::Handshake | Purpose::Poll, SyncResponse::Status(s)) => {
                self.on_status(peer, s);
            }
            (Purpose::Handshake | Purpose::Poll, SyncResponse::Refused(r)) => {
                tracing::debug!(%peer, %r, "status request refused");
            }
            (Purpose::Status(reply), SyncResponse::Status(s)) => {
                if self.on_status(peer, s) {
                    let _ = reply.send(Ok(s));
                } else {
                    let _ = reply.send(Err(NetError::InvalidResponse {
                        peer,
                        reason: "status for another chain or genesis".to_string(),
                    }));
                }
            }
            (Purpose::Blocks { max_count, reply }, SyncResponse::Blocks(blocks)) => {
                let l = &self.config.limits;
                let total: usize = blocks.iter().map(Vec::len).sum();
                let problem = if blocks.len() > max_count as usize {
                    Some((Misbehaviour::InvalidSyncResponse, format!("{} blocks, {max_count} asked for", blocks.len())))
                } else if total > l.max_sync_response_bytes {
                    Some((
                        Misbehaviour::OversizedMessage,
                        format!("{total} block bytes, at most {} allowed", l.max_sync_response_bytes),
                    ))
                } else {
                    blocks.iter().find(|b| b.len() > l.max_block_bytes).map(|b| {
                        (
                            Misbehaviour::OversizedMessage,
                            format!("a block of {} bytes, at most {} allowed", b.len(), l.max_block_bytes),
                        )
                    })
                };
                match problem {
                    Some((m, reason)) => {
                        self.penalise(peer, m);
                        let _ = reply.send(Err(NetError::InvalidResponse { peer, reason }));
                    }
                    None => {
                        let _ = reply.send(Ok(blocks));
                    }
                }
            }
            (Purpose::Forward(reply), SyncResponse::Forwarded(answer)) => {
                let _ = reply.send(Ok(answer));
            }
            (Purpose::FilePiece { reply, .. }, SyncResponse::NoFile) => {
                let _ = reply.send(Ok(None));
            }
            (Purpose::FilePiece { offset, len, reply }, SyncResponse::FilePiece(piece)) => {
                // Exactly the bytes asked for, or the rest of the file: a
                // piece of any other length cannot be part of the file the
                // peer says it has.
                let want = piece.size.saturating_sub(offset).min(u64::from(len));
                if piece.bytes.len() as u64 != want {
                    self.penalise(peer, Misbehaviour::InvalidSyncResponse);
                    let reason = format!(
                        "a piece of {} bytes at {offset} of a {}-byte file, {len} asked for",
                        piece.bytes.len(),
                        piece.size
                    );
                    let _ = reply.send(Err(NetError::InvalidResponse { peer, reason }));
                } else {
                    let _ = reply.send(Ok(Some(piece)));
                }
            }
            (purpose, SyncResponse::Refused(r)) => fail(purpose, NetError::Refused { peer, refusal: r }),
            (purpose, other) => {
                self.penalise(peer, Misbehaviour::InvalidSyncResponse);
                let kind = match other {
                    SyncResponse::Status(_) => "a status",
                    SyncResponse::Blocks(_) => "blocks",
                    SyncResponse::Forwarded(_) => "a forward answer",
                    SyncResponse::FilePiece(_) => "a file piece",
                    SyncResponse::NoFile => "no file",
                    SyncResponse::Refused(_) => "a refusal",
                };
                fail(purpose, NetError::InvalidResponse { peer, reason: format!("answered with {kind}") });
            }
        }
    }

    /// Records a peer's status; refuses (disconnects and bans) a peer on
    /// another chain. Returns whether the status was accepted.
    fn on_status(&mut self, peer: PeerId, theirs: PeerStatus) -> bool {
        let ours = &self.local_status;
        let mismatch = if theirs.chain_id_hash != self.config.chain_id_hash {
            Some(format!("chain id hash {} is not ours ({})", theirs.chain_id_hash, self.config.chain_id_hash))
        } else if theirs.genesis_hash != ours.genesis_hash {
            Some(format!("genesis {} is not ours ({})", theirs.genesis_hash, ours.genesis_hash))
        } else {
            None
        };
        if let Some(reason) = mismatch {
            tracing::info!(%peer, %reason, "peer refused at handshake");
            self.stats.handshakes_rejected += 1;
            self.ban(peer);
            return false;
        }
        let Some(entry) = self.peers.get_mut(&peer) else { return false };
        let first = entry.status.is_none();
        entry.status = Some(theirs);
        entry.status_at = Instant::now();
        if first {
            tracing::debug!(%peer, height = theirs.best_height, "peer handshaken");
            // Only a completed handshake resets the redial backoff: a peer
            // that accepts connections and then drops them stays backed off.
            if let Some(r) = self.bootstrap.get_mut(&peer) {
                r.backoff_ms = self.config.timing.redial_min_ms;
            }
            self.emit(NetEvent::PeerConnected { peer, status: theirs });
        }
        true
    }

    // --- commands -----------------------------------------------------------

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish { kind, bytes, reply } => {
                let topic = self.topics.topic(kind).clone();
                let len = bytes.len();
                let result = match self.swarm.behaviour_mut().gossip.publish(topic.clone(), bytes) {
                    Ok(_) => {
                        self.stats.gossip_bytes_out.add(kind, len);
                        Ok(())
                    }
                    Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                        Err(NetError::NoPeers { topic: topic.to_string() })
                    }
                    Err(gossipsub::PublishError::Duplicate) => Err(NetError::Duplicate { topic: topic.to_string() }),
                    Err(e) => Err(NetError::Publish { topic: topic.to_string(), reason: e.to_string() }),
                };
                let _ = reply.send(result);
            }
            Command::RequestBlocks { peer, from_height, max_count, reply } => {
                if !self.is_handshaken(&peer) {
                    let _ = reply.send(Err(NetError::NotConnected { peer }));
                    return;
                }
                let max_bytes = u32::try_from(self.config.limits.max_sync_response_bytes).unwrap_or(u32::MAX);
                let req = SyncRequest::Blocks { from_height, max_count, max_bytes };
                self.send_request(peer, req, Purpose::Blocks { max_count, reply });
            }
            Command::Forward { peer, tx, reply } => {
                if !self.is_handshaken(&peer) {
                    let _ = reply.send(Err(NetError::NotConnected { peer }));
                    return;
                }
                self.send_request(peer, SyncRequest::Forward(tx), Purpose::Forward(reply));
            }
            Command::FilePiece { peer, key, offset, len, reply } => {
                if !self.is_handshaken(&peer) {
                    let _ = reply.send(Err(NetError::NotConnected { peer }));
                    return;
                }
                self.send_request(
                    peer,
                    SyncRequest::FilePiece { key, offset, len },
                    Purpose::FilePiece { offset, len, reply },
                );
            }
            Command::RequestStatus { peer, reply } => {
                if !self.is_handshaken(&peer) {
                    let _ = reply.send(Err(NetError::NotConnected { peer }));
                    return;
                }
                let status = self.local_status;
                self.send_request(peer, SyncRequest::Status(status), Purpose::Status(reply));
            }
            Command::Report { peer, misbehaviour } => self.penalise(peer, misbehaviour),
            Command::Validate { id, verdict } => {
                let acceptance = match verdict {
                    GossipVerdict::Accept => MessageAcceptance::Accept,
                    GossipVerdict::Reject => MessageAcceptance::Reject,
                    GossipVerdict::Ignore => MessageAcceptance::Ignore,
                };
                if self.config.gossip_validation == GossipValidation::ByNode {
                    self.judge(&id.message, &id.source, acceptance);
                } else if verdict == GossipVerdict::Reject {
                    self.stats.gossip_rejected += 1;
                }
                if verdict == GossipVerdict::Reject {
                    let m = match id.kind {
                        GossipKind::Tx => Misbehaviour::InvalidTx,
                        GossipKind::Block => Misbehaviour::InvalidBlock,
                        GossipKind::Consensus => Misbehaviour::InvalidConsensusMessage,
                    };
                    self.penalise(id.source, m);
                }
            }
            Command::Peers { reply } => {
                let now = Instant::now();
                let list = self
                    .peers
                    .iter()
                    .filter_map(|(id, e)| {
                        Some(PeerInfo {
                            peer: *id,
                            address: e.address.clone(),
                            outbound: e.outbound,
                            score: -i64::try_from(self.scores.points(id, now)).unwrap_or(i64::MAX),
                            status: e.status?,
                            gossip_ready: e.topics.len() == GOSSIP_TOPICS,
                            rtt_ms: e.rtt_ms,
                        })
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Stats { reply } => {
                let mut s = self.stats.clone();
                s.connected = self.peers.len();
                s.handshaken = self.peers.values().filter(|e| e.status.is_some()).count();
                s.banned = self.scores.banned_count();
                let _ = reply.send(s);
            }
            Command::Dial { addr, reply } => {
                let result = match addr.iter().last() {
                    Some(Protocol::P2p(peer)) if self.scores.is_banned(&peer, Instant::now()) => {
                        Err(NetError::RequestFailed { peer, reason: "peer is banned".to_string() })
                    }
                    Some(Protocol::P2p(peer)) => self
                        .swarm
                        .dial(DialOpts::peer_id(peer).addresses(vec![addr.clone()]).build())
                        .map_err(|e| NetError::Transport { reason: format!("dial {addr}: {e}") }),
                    _ => self
                        .swarm
                        .dial(DialOpts::unknown_peer_id().address(addr.clone()).build())
                        .map_err(|e| NetError::Transport { reason: format!("dial {addr}: {e}") }),
                };
                let _ = reply.send(result);
            }
            Command::Shutdown { .. } => {}
        }
    }

    fn is_handshaken(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|e| e.status.is_some())
    }

    fn dial_bootstrap(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let opts = DialOpts::peer_id(peer).addresses(addrs).condition(PeerCondition::DisconnectedAndNotDialing).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, %e, "bootstrap dial not started");
        }
    }

    fn on_internal(&mut self, int: Internal) {
        match int {
            Internal::Resolved { peer, addrs } => {
                let max = self.config.timing.redial_max_ms;
                let Some(r) = self.bootstrap.get_mut(&peer) else { return };
                r.resolving = false;
                if addrs.is_empty() {
                    // Backs off like a failed dial.
                    tracing::debug!(%peer, "bootstrap name did not resolve");
                    r.next_at = Instant::now() + Duration::from_millis(r.backoff_ms);
                    r.backoff_ms = r.backoff_ms.saturating_mul(2).min(max);
                } else {
                    self.dial_bootstrap(peer, addrs);
                }
            }
            Internal::LocalStatus(status) => {
                self.local_status_in_flight = false;
                self.local_status_at = Instant::now();
                match status {
                    Some(s) if s.chain_id_hash == self.config.chain_id_hash => self.local_status = s,
                    Some(s) => tracing::error!(
                        provider = %s.chain_id_hash, config = %self.config.chain_id_hash,
                        "provider status is for another chain; keeping the last good status"
                    ),
                    None => tracing::error!("provider status() panicked; keeping the last good status"),
                }
            }
            Internal::Blocks { peer, channel, response } => {
                self.provider_calls = self.provider_calls.saturating_sub(1);
                if let Some(entry) = self.peers.get_mut(&peer) {
                    entry.pending_in = entry.pending_in.saturating_sub(1);
                }
                self.respond(channel, response);
            }
        }
    }

    // --- housekeeping -------------------------------------------------------

    fn housekeeping(&mut self) {
        let now = Instant::now();
        let timing = self.config.timing.clone();

        for peer in self.scores.expire_bans(now) {
            tracing::debug!(%peer, "ban ended");
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }

        let handshake_timeout = Duration::from_millis(timing.handshake_timeout_ms);
        let stalled: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| e.status.is_none() && now.saturating_duration_since(e.connected_at) > handshake_timeout)
            .map(|(id, _)| *id)
            .collect();
        for peer in stalled {
            tracing::debug!(%peer, "no status handshake in time");
            self.penalise(peer, Misbehaviour::HandshakeTimeout);
            let _ = self.swarm.disconnect_peer_id(peer);
        }

        let due: Vec<(PeerId, Multiaddr)> = self
            .bootstrap
            .iter()
            .filter(|(id, r)| {
                now >= r.next_at && !r.resolving && !self.peers.contains_key(id) && !self.scores.is_banned(id, now)
            })
            .map(|(id, r)| (*id, r.addr.clone()))
            .collect();
        for (peer, addr) in due {
            if let Some(r) = self.bootstrap.get_mut(&peer) {
                // Pushed back again by a dial error; reset on success.
                r.next_at = now + Duration::from_millis(r.backoff_ms);
            }
            match named_host(&addr) {
                // A name is resolved off the event loop (the system
                // resolver may take seconds), at every dial, so a peer that
                // moves (a rescheduled pod) is found at its new address.
                // One lookup per peer at a time: the system resolver runs
                // on the blocking pool and a timeout does not stop it, so
                // unbounded lookups could take the pool while DNS is down.
                Some((host, port, family)) => {
                    if let Some(r) = self.bootstrap.get_mut(&peer) {
                        r.resolving = true;
                    }
                    let tx = self.internal_tx.clone();
                    let tail = addr.clone();
                    tokio::spawn(async move {
                        let resolved = match tokio::time::timeout(
                            Duration::from_millis(RESOLVE_TIMEOUT_MS),
                            tokio::net::lookup_host((host.as_str(), port)),
                        )
                        .await
                        {
                            Ok(Ok(addrs)) => addrs
                                .filter(|sa| family.admits(sa))
                                .take(MAX_RESOLVED_ADDRS)
                                .map(|sa| ip_addr_of(sa, &tail))
                                .collect(),
                            _ => Vec::new(),
                        };
                        let _ = tx.send(Internal::Resolved { peer, addrs: resolved }).await;
                    });
                }
                None => self.dial_bootstrap(peer, vec![addr]),
            }
        }

        if !self.local_status_in_flight
            && now.saturating_duration_since(self.local_status_at)
                >= Duration::from_millis(timing.local_status_refresh_ms)
        {
            self.local_status_in_flight = true;
            let provider = self.provider.clone();
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                let status = tokio::task::spawn_blocking(move || provider.status()).await.ok();
                let _ = tx.send(Internal::LocalStatus(status)).await;
            });
        }

        let poll = Duration::from_millis(timing.peer_status_poll_ms);
        let stale: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| {
                e.status.is_some() && e.pending_out == 0 && now.saturating_duration_since(e.status_at) >= poll
            })
            .map(|(id, _)| *id)
            .collect();
        for peer in stale {
            if let Some(e) = self.peers.get_mut(&peer) {
                e.status_at = now;
            }
            let status = self.local_status;
            self.send_request(peer, SyncRequest::Status(status), Purpose::Poll);
        }
    }
}

fn fail(purpose: Purpose, err: NetError) {
    match purpose {
        Purpose::Handshake | Purpose::Poll => {}
        Purpose::Status(reply) => {
            let _ = reply.send(Err(err));
        }
        Purpose::Blocks { reply, .. } => {
            let _ = reply.send(Err(err));
        }
        Purpose::Forward(reply) => {
            let _ = reply.send(Err(err));
        }
        Purpose::FilePiece { reply, .. } => {
            let _ = reply.send(Err(err));
        }
    }
}

/// The penalty for a decoding failure of ours, or None for a transport
/// failure (which is nobody's fault we can prove).
fn wire_misbehaviour(e: &std::io::Error) -> Option<Misbehaviour> {
    if !crate::wire::is_wire_error(e) {
        return None;
    }
    Some(match e.get_ref().and_then(|inner| inner.downcast_ref::<WireError>()) {
        Some(w) => misbehaviour_of(w),
        None => Misbehaviour::MalformedMessage,
    })
}

fn misbehaviour_of(e: &WireError) -> Misbehaviour {
    match e {
        WireError::FrameTooLarge { .. } | WireError::TooManyBlocks { .. } => Misbehaviour::OversizedMessage,
        _ => Misbehaviour::MalformedMessage,
    }
}

/// Keeps the longest prefix of `blocks` within the count and byte bounds.
fn clamp_blocks(mut blocks: Vec<Vec<u8>>, max_count: u32, max_bytes: usize) -> Vec<Vec<u8>> {
    blocks.truncate(max_count as usize);
    let mut total = 0usize;
    let keep = blocks
        .iter()
        .take_while(|b| {
            total = total.saturating_add(b.len());
            total <= max_bytes
        })
        .count();
    blocks.truncate(keep);
    blocks
}

fn is_tcp(a: &Multiaddr) -> bool {
    a.iter().any(|p| matches!(p, Protocol::Tcp(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_keeps_a_prefix_within_bounds() {
        let blocks = vec![vec![0u8; 10], vec![0u8; 10], vec![0u8; 10]];
        assert_eq!(clamp_blocks(blocks.clone(), 5, 25).len(), 2);
        assert_eq!(clamp_blocks(blocks.clone(), 1, 100).len(), 1);
        assert_eq!(clamp_blocks(blocks.clone(), 5, 30).len(), 3);
        assert_eq!(clamp_blocks(blocks, 5, 9).len(), 0);
    }

    #[test]
    fn topics_are_per_chain() {
        let a = Topics::new(&Hash([1; 32]));
        let b = Topics::new(&Hash([2; 32]));
        assert!(a.tx.to_string().starts_with("/aergo/") && a.tx.to_string().ends_with("/txbatch"));
        assert_ne!(a.tx.hash(), b.tx.hash());
        assert_eq!(a.kind_of(&a.block.hash()), Some(GossipKind::Block));
        assert_eq!(a.kind_of(&b.block.hash()), None);
    }
}
