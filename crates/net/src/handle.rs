//! The node-facing API: the handle, the events, the provider trait and
//! the commands the handle sends to the event loop.

use crate::config::{Misbehaviour, NetLimits};
use crate::error::{NetError, Result};
use crate::wire::{FilePiece, PeerStatus};
use aergo_types::Hash;
use libp2p::gossipsub::MessageId;
use libp2p::{Multiaddr, PeerId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Extra time a handle waits beyond the request timeout before giving up
/// on the service itself.
const HANDLE_TIMEOUT_SLACK: Duration = Duration::from_secs(5);

/// What the node supplies so peers can sync from it. Called on tokio's
/// blocking pool, never on the network's event loop.
pub trait SyncProvider: Send + Sync + 'static {
    /// The node's current status. `chain_id_hash` must equal the one in
    /// [`NetConfig`](crate::NetConfig).
    fn status(&self) -> PeerStatus;
    /// Up to `max_count` consecutive encoded blocks from `from_height`, in
    /// height order, at most `max_bytes` in total (the network truncates
    /// anything beyond). Fewer (or none) when the node does not have them.
    fn blocks(&self, from_height: u64, max_count: u32, max_bytes: usize) -> Result<Vec<Vec<u8>>>;
    /// Takes transactions a peer forwarded (opaque bytes: the node sends
    /// an encoded batch) as if a client sent them and answers with what
    /// became of them (opaque to the network, at most
    /// `wire::MAX_FORWARD_ANSWER_BYTES`). The default serves none.
    fn forward(&self, _tx: Vec<u8>) -> Result<Vec<u8>> {
        Err(crate::error::NetError::Provider { reason: "this node takes no forwarded transactions".into() })
    }
    /// Bytes `[offset, offset + len)` of the AergoFS file whose SHA-256 is
    /// `key` (fewer at the end of the file; `len` is at most
    /// `wire::MAX_FILE_PIECE_BYTES`), or `None` when the node does not
    /// hold it. The default holds no files.
    fn file_piece(&self, _key: Hash, _offset: u64, _len: u32) -> Result<Option<FilePiece>> {
        Ok(None)
    }
}

/// Which gossip topic a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GossipKind {
    Tx,
    Block,
    /// Consensus messages (BFT-DPoS votes).
    Consensus,
}

/// Identifies a received gossip message for
/// [`NetworkHandle::validate_gossip`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipId {
    pub(crate) message: MessageId,
    pub(crate) source: PeerId,
    pub(crate) kind: GossipKind,
}

impl GossipId {
    /// The neighbour that relayed the message to us.
    pub fn source(&self) -> PeerId {
        self.source
    }

    pub fn kind(&self) -> GossipKind {
        self.kind
    }
}

/// The node's judgement of a gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Valid: relay it.
    Accept,
    /// Invalid: drop it and penalise the neighbour that sent it.
    Reject,
    /// Not invalid but not worth relaying (e.g. already known, too old).
    Ignore,
}

/// What the network tells the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// A gossiped transaction (size-checked only, not decoded).
    TxGossip { from: PeerId, bytes: Vec<u8>, id: GossipId },
    /// A gossiped block (size-checked only, not decoded).
    BlockGossip { from: PeerId, bytes: Vec<u8>, id: GossipId },
    /// A consensus message (e.g. a vote) on the consensus topic.
    ConsensusGossip { from: PeerId, bytes: Vec<u8>, id: GossipId },
    /// A peer completed the status handshake (same chain, same genesis).
    PeerConnected { peer: PeerId, status: PeerStatus },
    /// A handshaken peer's last connection closed.
    PeerDisconnected { peer: PeerId },
}

/// A handshaken peer as [`NetworkHandle::peers`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub peer: PeerId,
    /// Where it listens (from identify) or, until known, the address of
    /// the connection.
    pub address: Option<Multiaddr>,
    /// We dialled it (as opposed to it dialling us).
    pub outbound: bool,
    /// Minus its current penalty points: 0 is a clean record.
    pub score: i64,
    /// Its last reported status (head, LIB).
    pub status: PeerStatus,
    /// It is subscribed to both of this chain's gossip topics.
    pub gossip_ready: bool,
    /// Last measured round-trip time.
    pub rtt_ms: Option<u64>,
}

/// Counters for metrics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Peers with at least one open connection.
    pub connected: usize,
    /// Of those, peers that completed the status handshake.
    pub handshaken: usize,
    /// Peers currently banned.
    pub banned: usize,
    pub gossip_received: u64,
    pub gossip_rejected: u64,
    pub gossip_ignored: u64,
    /// Events not delivered because the node's event queue was full.
    pub events_dropped: u64,
    /// Peers refused at the handshake (other chain or genesis).
    pub handshakes_rejected: u64,
    pub inbound_requests: u64,
    pub inbound_refused: u64,
    /// Penalties applied (reports by the node and by the network).
    pub penalties: u64,
    /// Bans issued.
    pub bans_issued: u64,
    /// Inbound connections denied (banned peer, too many peers).
    pub connections_denied: u64,
    /// Gossip payload bytes received (within the size bounds) and
    /// published, per topic.
    pub gossip_bytes_in: GossipBytes,
    pub gossip_bytes_out: GossipBytes,
}

/// Byte counts per gossip topic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GossipBytes {
    pub txs: u64,
    pub blocks: u64,
    pub consensus: u64,
}

impl GossipBytes {
    pub(crate) fn add(&mut self, kind: GossipKind, bytes: usize) {
        let n = bytes as u64;
        match kind {
            GossipKind::Tx => self.txs += n,
            GossipKind::Block => self.blocks += n,
            GossipKind::Consensus => self.consensus += n,
        }
    }
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

pub(crate) enum Command {
    Publish { kind: GossipKind, bytes: Vec<u8>, reply: Reply<()> },
    RequestBlocks { peer: PeerId, from_height: u64, max_count: u32, reply: Reply<Vec<Vec<u8>>> },
    RequestStatus { peer: PeerId, reply: Reply<PeerStatus> },
    Forward { peer: PeerId, tx: Vec<u8>, reply: Reply<Vec<u8>> },
    FilePiece { peer: PeerId, key: Hash, offset: u64, len: u32, reply: Reply<Option<FilePiece>> },
    Report { peer: PeerId, misbehaviour: Misbehaviour },
    Validate { id: GossipId, verdict: GossipVerdict },
    Peers { reply: oneshot::Sender<Vec<PeerInfo>> },
    ListenAddrs { reply: oneshot::Sender<Vec<Multiaddr>> },
    Stats { reply: oneshot::Sender<NetStats> },
    Dial { addr: Multiaddr, reply: Reply<()> },
    Shutdown { reply: oneshot::Sender<()> },
}

/// A cheap, cloneable handle to the running network service. When the
/// last handle is dropped the service stops.
#[derive(Clone)]
pub struct NetworkHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) local_peer_id: PeerId,
    pub(crate) limits: Arc<NetLimits>,
    pub(crate) request_timeout: Duration,
}

impl std::fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHandle").field("local_peer_id", &self.local_peer_id).finish()
    }
}

impl NetworkHandle {
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    pub fn limits(&self) -> &NetLimits {
        &self.limits
    }

    async fn send(&self, cmd: Command) -> Result<()> {
        self.commands.send(cmd).await.map_err(|_| NetError::Stopped)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    async fn ask_fallible<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        self.ask(make).await?
    }

    /// Gossips a message on the chain's transaction topic (the node
    /// sends batches: an encoded `aergo_types::TxList`).
    pub async fn publish_tx(&self, bytes: Vec<u8>) -> Result<()> {
        self.publish(GossipKind::Tx, bytes).await
    }

    /// Gossips an encoded block to the chain's block topic.
    pub async fn publish_block(&self, bytes: Vec<u8>) -> Result<()> {
        self.publish(GossipKind::Block, bytes).await
    }

    /// Publishes a consensus message (a vote) to every peer.
    pub async fn publish_consensus(&self, bytes: Vec<u8>) -> Result<()> {
        self.publish(GossipKind::Consensus, bytes).await
    }

    async fn publish(&self, kind: GossipKind, bytes: Vec<u8>) -> Result<()> {
        let (what, max) = match kind {
            GossipKind::Tx => ("gossiped tx batch", self.limits.max_tx_bytes),
            GossipKind::Block => ("gossiped block", self.limits.max_block_bytes),
            GossipKind::Consensus => ("gossiped consensus message", self.limits.max_consensus_bytes),
        };
        if bytes.len() > max {
            return Err(NetError::TooLarge { what, size_bytes: bytes.len(), max_bytes: max });
        }
        self.ask_fallible(|reply| Command::Publish { kind, bytes, reply }).await
    }

    /// Asks `peer` for up to `max_count` blocks from `from_height` (clamped
    /// to the configured maximum). The answer is checked against the
    /// request and the limits; a peer that breaks them is penalised and an
    /// [`NetError::InvalidResponse`] returned.
    pub async fn request_blocks(&self, peer: PeerId, from_height: u64, max_count: u32) -> Result<Vec<Vec<u8>>> {
        if max_count == 0 {
            return Ok(Vec::new());
        }
        let max_count = max_count.min(self.limits.max_sync_blocks);
        self.with_timeout(
            peer,
            self.ask_fallible(|reply| Command::RequestBlocks { peer, from_height, max_count, reply }),
        )
        .await
    }

    /// Hands transactions (opaque bytes: the node sends an encoded batch)
    /// to `peer`, which takes them as if a client sent them, and returns
    /// its answer (see [`SyncProvider::forward`]).
    pub async fn forward_tx(&self, peer: PeerId, tx: Vec<u8>) -> Result<Vec<u8>> {
        if tx.len() > crate::wire::MAX_FORWARD_BYTES {
            return Err(NetError::TooLarge {
                what: "forwarded tx",
                size_bytes: tx.len(),
                max_bytes: crate::wire::MAX_FORWARD_BYTES,
            });
        }
        self.with_timeout(peer, self.ask_fallible(|reply| Command::Forward { peer, tx, reply })).await
    }

    /// Asks `peer` for bytes `[offset, offset + len)` of the AergoFS file
    /// `key`: `None` when it does not hold the file. The answer is checked
    /// against the request (exactly the bytes asked for, or up to the end
    /// of the file it says it has); the caller checks the whole file
    /// against `key` once it has every piece.
    pub async fn request_file_piece(
        &self,
        peer: PeerId,
        key: Hash,
        offset: u64,
        len: u32,
    ) -> Result<Option<FilePiece>> {
        if len as usize > crate::wire::MAX_FILE_PIECE_BYTES {
            return Err(NetError::TooLarge {
                what: "file piece",
                size_bytes: len as usize,
                max_bytes: crate::wire::MAX_FILE_PIECE_BYTES,
            });
        }
        self.with_timeout(peer, self.ask_fallible(|reply| Command::FilePiece { peer, key, offset, len, reply })).await
    }

    /// Asks `peer` for its current status (and records it).
    pub async fn request_status(&self, peer: PeerId) -> Result<PeerStatus> {
        self.with_timeout(peer, self.ask_fallible(|reply| Command::RequestStatus { peer, reply })).await
    }

    async fn with_timeout<T>(&self, peer: PeerId, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let limit = self.request_timeout + HANDLE_TIMEOUT_SLACK;
        match tokio::time::timeout(limit, f).await {
            Ok(r) => r,
            Err(_) => Err(NetError::Timeout { peer, timeout_ms: limit.as_millis() as u64 }),
        }
    }

    /// Penalises a peer (e.g. it sent an invalid block). Enough penalties
    /// disconnect it and ban it for the configured time.
    pub async fn report(&self, peer: PeerId, misbehaviour: Misbehaviour) -> Result<()> {
        self.send(Command::Report { peer, misbehaviour }).await
    }

    /// The node's verdict on a gossip message. With
    /// [`GossipValidation::ByNode`](crate::GossipValidation::ByNode) this decides whether it is relayed;
    /// in both modes `Reject` penalises the neighbour that sent it.
    pub async fn validate_gossip(&self, id: GossipId, verdict: GossipVerdict) -> Result<()> {
        self.send(Command::Validate { id, verdict }).await
    }

    /// The handshaken peers, ordered by peer id.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// The addresses the node listens on (ports resolved).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>> {
        self.ask(|reply| Command::ListenAddrs { reply }).await
    }

    /// Dials an address once (with `/p2p/<id>` to check the peer's identity).
    pub async fn dial(&self, addr: Multiaddr) -> Result<()> {
        self.ask_fallible(|reply| Command::Dial { addr, reply }).await
    }

    pub async fn stats(&self) -> Result<NetStats> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Stops the service and closes every connection. Returns once the
    /// swarm is gone; later calls on any handle return [`NetError::Stopped`].
    pub async fn shutdown(&self) -> Result<()> {
        self.ask(|reply| Command::Shutdown { reply }).await
    }
}
