//! The node's network shell: starts `aergo_net`, feeds gossip to the
//! replica, carries out the replica's network outputs and syncs from
//! peers that are ahead.
//!
//! Tasks (all stop on the node's stop signal):
//!
//! - **events**: reads [`NetEvent`]s and hands gossip to two workers
//!   through bounded queues (a full queue answers `Ignore` at once, so the
//!   network's event loop never waits on block execution);
//! - **tx worker** and **chain worker**: run the replica on tokio's blocking
//!   pool, one message at a time each (transactions only take the pool's
//!   lock, so they are not stuck behind a block being executed), and
//!   answer gossip validation with the replica's verdict;
//! - **carrier**: publishes, reports peers, and passes block requests to
//!   the syncer, from the node's outbox;
//! - **syncer**: every second (and whenever a peer or a block shows a
//!   higher head) picks the peer with the highest head above ours and
//!   fetches its main chain from our head up in bounded batches, feeding
//!   each batch to the replica; a missing parent restarts the range lower
//!   (at our LIB). It also refreshes the peer list the API reports.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aergo_chain::Chain;
use aergo_net::{
    GossipId, GossipValidation, GossipVerdict, Misbehaviour, NetConfig, NetError, NetEvent, Network, NetworkHandle,
    PeerId, PeerStatus, SyncProvider,
};
use aergo_replica::{Offence, Output, Peer, Verdict};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{Node, NodeError, PeerSummary};

/// Gossip messages waiting for a worker, per worker.
const WORKER_QUEUE_LEN: usize = 1024;
/// Consensus outputs (blocks, votes, penalties, block requests) waiting
/// for the carrier.
pub(crate) const OUTBOX_LEN: usize = 4096;
/// Transactions waiting to be gossiped. Separate from the consensus
/// outbox so a flood of submissions never crowds out a block or a vote;
/// a full queue drops the gossip (the transaction stays in this node's
/// pool and goes into its next block).
pub(crate) const TX_OUTBOX_LEN: usize = 4096;
/// Block-request hints waiting for the syncer.
const SYNC_HINTS_LEN: usize = 256;
/// Blocks asked for per sync request (the network clamps to its own bound).
const SYNC_BATCH_BLOCKS: u32 = 64;
/// How often the syncer looks at peers' heads.
const SYNC_POLL: Duration = Duration::from_millis(1000);

/// Main-chain blocks by height from the block store, for peers.
struct ChainProvider {
    chain: Arc<Chain>,
    /// For forwarded transactions; weak: the network must not keep the
    /// node alive.
    node: std::sync::Weak<Node>,
}

impl SyncProvider for ChainProvider {
    fn status(&self) -> PeerStatus {
        let head = self.chain.head();
        let lib = self.chain.lib();
        PeerStatus {
            chain_id_hash: self.chain.rules().chain_id_hash,
            genesis_hash: self.chain.genesis_hash(),
            best_height: head.height,
            best_hash: head.hash,
            lib_height: lib.height.min(head.height),
        }
    }

    fn blocks(&self, from_height: u64, max_count: u32, max_bytes: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        let store = self.chain.blocks();
        let head = self.chain.head().height;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut height = from_height;
        while height <= head && out.len() < max_count as usize {
            let block = store.block_by_height(height).map_err(|e| NetError::Provider { reason: e.to_string() })?;
            let Some(block) = block else { break };
            let encoded = block.encode();
            if bytes + encoded.len() > max_bytes && !out.is_empty() {
                break;
            }
            bytes += encoded.len();
            out.push(encoded);
            height += 1;
        }
        Ok(out)
    }

    fn forward(&self, tx: Vec<u8>) -> aergo_net::Result<Vec<u8>> {
        let node = self.node.upgrade().ok_or(NetError::Provider { reason: "the node is stopping".into() })?;
        Ok(node.take_forwarded(&tx))
    }

    fn file_piece(
        &self,
        key: aergo_types::Hash,
        offset: u64,
        len: u32,
    ) -> aergo_net::Result<Option<aergo_net::FilePiece>> {
        let node = self.node.upgrade().ok_or(NetError::Provider { reason: "the node is stopping".into() })?;
        match node.serve_file_piece(key, offset, len) {
            Ok(Some(p)) => Ok(Some(aergo_net::FilePiece { size: p.size, content_type: p.content_type, bytes: p.data })),
            Ok(None) => Ok(None),
            Err(e) => Err(NetError::Provider { reason: e.to_string() }),
        }
    }
}

fn offence_misbehaviour(o: Offence) -> Misbehaviour {
    match o {
        Offence::Malformed => Misbehaviour::MalformedMessage,
        Offence::InvalidTx => Misbehaviour::InvalidTx,
        Offence::InvalidBlock => Misbehaviour::InvalidBlock,
        Offence::InvalidVote => Misbehaviour::InvalidConsensusMessage,
        Offence::Equivocation => Misbehaviour::Malicious,
    }
}

fn verdict(v: Verdict) -> GossipVerdict {
    match v {
        Verdict::Accept => GossipVerdict::Accept,
        Verdict::Reject => GossipVerdict::Reject,
        Verdict::Ignore => GossipVerdict::Ignore,
    }
}

fn peer_of(id: &PeerId) -> Peer {
    Peer(id.to_base58())
}

/// A request to fetch `from..=to` from `peer` (from the replica or a
/// peer's status).
#[derive(Clone, Debug)]
struct SyncHint {
    peer: PeerId,
    from_height: Option<u64>,
    to_height: u64,
}

/// What `start` leaves running.
pub(crate) struct Started {
    pub handle: NetworkHandle,
    pub tasks: Vec<JoinHandle<()>>,
    /// Listen addresses with `/p2p/<id>`.
    pub addrs: Vec<String>,
}

/// Starts the network and the tasks around it.
pub(crate) async fn start(node: Arc<Node>, stop: watch::Receiver<bool>) -> Result<Started, NodeError> {
    let cfg = &node.config().p2p;
    let mut net = NetConfig::new(node.producer_key().clone(), node.chain().rules().chain_id_hash);
    let config_err = |reason: String| NodeError::Config { reason };
    net.listen_addrs = vec![cfg.listen_addr().map_err(config_err)?];
    net.bootstrap = cfg.bootstrap_addrs().map_err(config_err)?;
    net.limits.max_peers = cfg.max_peers;
    net.gossip_validation = GossipValidation::ByNode;
    // Heads move every slot: learn peers' heads and refresh ours often.
    net.timing.peer_status_poll_ms = 2_000;
    net.timing.local_status_refresh_ms = 500;
    net.timing.gossip_heartbeat_ms = 500;
    net.timing.redial_min_ms = 500;
    net.timing.redial_max_ms = 10_000;
    let provider = Arc::new(ChainProvider { chain: node.chain().clone(), node: Arc::downgrade(&node) });
    let (handle, events) = Network::start(net, provider).await.map_err(|e| NodeError::Network(e.to_string()))?;
    let me = handle.local_peer_id();
    let addrs = handle
        .listen_addrs()
        .await
        .map_err(|e| NodeError::Network(e.to_string()))?
        .into_iter()
        .map(|a| format!("{a}/p2p/{me}"))
        .collect();

    let (outbox_tx, outbox_rx) = mpsc::channel(OUTBOX_LEN);
    let (tx_outbox_tx, tx_outbox_rx) = mpsc::channel(TX_OUTBOX_LEN);
    node.set_outbox(Some(crate::Outboxes { consensus: outbox_tx, txs: tx_outbox_tx }));
    node.set_net(Some(handle.clone()));
    let (hints_tx, hints_rx) = mpsc::channel(SYNC_HINTS_LEN);
    let (tx_work, tx_rx) = mpsc::channel(WORKER_QUEUE_LEN);
    let (chain_work, chain_rx) = mpsc::channel(WORKER_QUEUE_LEN);
    let tasks = vec![
        tokio::spawn(event_loop(handle.clone(), events, tx_work, chain_work, hints_tx.clone(), stop.clone())),
        tokio::spawn(worker(node.clone(), handle.clone(), tx_rx, stop.clone())),
        tokio::spawn(worker(node.clone(), handle.clone(), chain_rx, stop.clone())),
        tokio::spawn(carrier(handle.clone(), outbox_rx, tx_outbox_rx, hints_tx, stop.clone())),
        tokio::spawn(syncer(node.clone(), handle.clone(), hints_rx, stop)),
    ];
    Ok(Started { handle, tasks, addrs })
}

/// One gossip message for a worker.
struct Work {
    kind: aergo_net::GossipKind,
    from: PeerId,
    bytes: Vec<u8>,
    id: GossipId,
}

async fn event_loop(
    handle: NetworkHandle,
    mut events: mpsc::Receiver<NetEvent>,
    tx_work: mpsc::Sender<Work>,
    chain_work: mpsc::Sender<Work>,
    hints: mpsc::Sender<SyncHint>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let ev = tokio::select! {
            ev = events.recv() => match ev { Some(ev) => ev, None => break },
            _ = stop.changed() => break,
        };
        let (queue, work) = match ev {
            NetEvent::TxGossip { from, bytes, id } => {
                (&tx_work, Work { kind: aergo_net::GossipKind::Tx, from, bytes, id })
            }
            NetEvent::BlockGossip { from, bytes, id } => {
                (&chain_work, Work { kind: aergo_net::GossipKind::Block, from, bytes, id })
            }
            NetEvent::ConsensusGossip { from, bytes, id } => {
                (&chain_work, Work { kind: aergo_net::GossipKind::Consensus, from, bytes, id })
            }
            NetEvent::PeerConnected { peer, status } => {
                let _ = hints.try_send(SyncHint { peer, from_height: None, to_height: status.best_height });
                continue;
            }
            NetEvent::PeerDisconnected { .. } => continue,
        };
        if let Err(mpsc::error::TrySendError::Full(w)) = queue.try_send(work) {
            // Overloaded: drop without blame rather than stall the network.
            let _ = handle.validate_gossip(w.id, GossipVerdict::Ignore).await;
        }
    }
}

async fn worker(node: Arc<Node>, handle: NetworkHandle, mut rx: mpsc::Receiver<Work>, mut stop: watch::Receiver<bool>) {
    loop {
        let w = tokio::select! {
            w = rx.recv() => match w { Some(w) => w, None => break },
            _ = stop.changed() => break,
        };
        let n = node.clone();
        let from = peer_of(&w.from);
        let (kind, bytes) = (w.kind, w.bytes);
        let from2 = from.clone();
        let res = tokio::task::spawn_blocking(move || {
            let r = n.replica();
            match kind {
                aergo_net::GossipKind::Tx => r.on_gossip_txs(&bytes, &from2),
                aergo_net::GossipKind::Block => r.on_block_bytes(&bytes, &from2),
                aergo_net::GossipKind::Consensus => r.on_consensus_msg(&bytes, &from2),
            }
        })
        .await;
        let step = match res {
            Ok(Ok(step)) => step,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "handling gossip failed");
                let _ = handle.validate_gossip(w.id, GossipVerdict::Ignore).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "gossip task failed");
                let _ = handle.validate_gossip(w.id, GossipVerdict::Ignore).await;
                continue;
            }
        };
        let _ = handle.validate_gossip(w.id, verdict(step.verdict)).await;
        node.handle_outputs(step.outputs, Some((&from, step.verdict)));
    }
}

async fn carrier(
    handle: NetworkHandle,
    mut outbox: mpsc::Receiver<Output>,
    mut tx_outbox: mpsc::Receiver<Output>,
    hints: mpsc::Sender<SyncHint>,
    mut stop: watch::Receiver<bool>,
) {
    let mut leftover: Option<Vec<u8>> = None;
    loop {
        // A transaction that did not fit the last batch starts the next;
        // otherwise consensus first: a block or vote never waits behind
        // transactions.
        let o = match leftover.take() {
            Some(b) => Output::PublishTx(b),
            None => tokio::select! {
                biased;
                _ = stop.changed() => break,
                o = outbox.recv() => match o { Some(o) => o, None => break },
                o = tx_outbox.recv() => match o { Some(o) => o, None => break },
            },
        };
        let published = match o {
            Output::PublishTx(b) => {
                let (batch, rest) = take_tx_batch(b, &mut tx_outbox);
                leftover = rest;
                handle.publish_tx(aergo_types::encode_tx_batch(&batch)).await
            }
            Output::PublishBlock(b) => handle.publish_block(b).await,
            Output::PublishVote(b) => handle.publish_consensus(b).await,
            Output::Penalise { peer, offence, reason } => {
                if let Ok(id) = PeerId::from_str(&peer.0) {
                    tracing::warn!(%peer, ?offence, %reason, "penalising peer");
                    let _ = handle.report(id, offence_misbehaviour(offence)).await;
                }
                Ok(())
            }
            Output::RequestBlocks { peer, from_height, to_height } => {
                if let Ok(id) = PeerId::from_str(&peer.0) {
                    let _ = hints.try_send(SyncHint { peer: id, from_height: Some(from_height), to_height });
                }
                Ok(())
            }
            _ => Ok(()),
        };
        match published {
            Ok(()) | Err(NetError::NoPeers { .. } | NetError::Duplicate { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "publish failed"),
        }
    }
}

/// `first` and the transactions queued behind it, as one gossip batch:
/// what is already waiting, up to the batch bounds, without waiting for
/// more (an idle node sends each transaction at once; a busy one sends
/// hundreds per message, so gossip's message rate does not bound the
/// network's transaction rate). Returns the batch and a transaction taken
/// that did not fit (it starts the next batch). Anything but a
/// transaction in the queue is not expected there and is dropped with a
/// warning.
fn take_tx_batch(first: Vec<u8>, tx_outbox: &mut mpsc::Receiver<Output>) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    // Room for the list's framing: a key byte and a length varint per
    // transaction.
    const FRAMING_BYTES: usize = 11;
    let mut bytes = first.len() + FRAMING_BYTES;
    let mut batch = vec![first];
    while batch.len() < aergo_types::TX_BATCH_MAX_TXS {
        match tx_outbox.try_recv() {
            Ok(Output::PublishTx(b)) if bytes + b.len() + FRAMING_BYTES <= aergo_types::TX_BATCH_MAX_BYTES => {
                bytes += b.len() + FRAMING_BYTES;
                batch.push(b);
            }
            Ok(Output::PublishTx(b)) => return (batch, Some(b)),
            Ok(other) => tracing::warn!(?other, "unexpected output in the transaction outbox"),
            Err(_) => break,
        }
    }
    (batch, None)
}

/// The syncer's knowledge of peers' heads.
#[derive(Default)]
struct Targets {
    /// peer -> (lowest height asked from, best height seen).
    by_peer: BTreeMap<PeerId, (Option<u64>, u64)>,
}

impl Targets {
    fn add(&mut self, h: SyncHint) {
        let e = self.by_peer.entry(h.peer).or_insert((None, 0));
        e.0 = match (e.0, h.from_height) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        e.1 = e.1.max(h.to_height);
    }

    /// The peer with the highest head above `ours`.
    fn best(&self, ours: u64) -> Option<(PeerId, Option<u64>, u64)> {
        self.by_peer
            .iter()
            .filter(|(_, (from, to))| *to > ours || from.is_some_and(|f| f <= *to))
            .max_by_key(|(id, (_, to))| (*to, std::cmp::Reverse(**id)))
            .map(|(id, (from, to))| (*id, *from, *to))
    }
}

async fn syncer(
    node: Arc<Node>,
    handle: NetworkHandle,
    mut hints: mpsc::Receiver<SyncHint>,
    mut stop: watch::Receiver<bool>,
) {
    let mut targets = Targets::default();
    let mut poll = tokio::time::interval(SYNC_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            h = hints.recv() => match h { Some(h) => targets.add(h), None => break },
            _ = poll.tick() => {
                if let Ok(peers) = handle.peers().await {
                    let summaries = peers
                        .iter()
                        .map(|p| PeerSummary {
                            peer_id: p.peer.to_base58(),
                            address: p.address.as_ref().map(|a| a.to_string()),
                            height: p.status.best_height,
                            lib: p.status.lib_height,
                        })
                        .collect();
                    node.set_peers(summaries);
                    if let Ok(stats) = handle.stats().await {
                        let t = |b: aergo_net::GossipBytes| crate::metrics::TopicBytes {
                            txs: b.txs,
                            blocks: b.blocks,
                            consensus: b.consensus,
                        };
                        node.metrics().gossip_totals(t(stats.gossip_bytes_in), t(stats.gossip_bytes_out));
                    }
                    for p in &peers {
                        targets.add(SyncHint { peer: p.peer, from_height: None, to_height: p.status.best_height });
                    }
                    // Forget peers that left.
                    targets.by_peer.retain(|id, _| peers.iter().any(|p| p.peer == *id));
                }
            }
            _ = stop.changed() => break,
        }
        while let Ok(h) = hints.try_recv() {
            targets.add(h);
        }
        let ours = node.chain().head().height;
        let best_seen = targets.by_peer.values().map(|(_, to)| *to).max().unwrap_or(0);
        node.set_sync_target(best_seen);
        let Some((peer, from, to)) = targets.best(ours) else {
            node.set_syncing(false);
            continue;
        };
        node.set_syncing(to > ours);
        if let Some(e) = targets.by_peer.get_mut(&peer) {
            e.0 = None;
        }
        sync_from(&node, &handle, peer, from.unwrap_or(ours + 1), to, &mut stop).await;
        let ours = node.chain().head().height;
        node.set_syncing(best_seen > ours);
    }
}

/// Fetches `from..=to` (and whatever the peer has beyond, up to its head)
/// from `peer` in batches, feeding each to the replica.
async fn sync_from(
    node: &Arc<Node>,
    handle: &NetworkHandle,
    peer: PeerId,
    mut from: u64,
    to: u64,
    stop: &mut watch::Receiver<bool>,
) {
    let who = peer_of(&peer);
    // At most this many batches per call: the outer loop comes back.
    let mut batches = 0usize;
    let mut restarted = false;
    while from <= to.max(node.chain().head().height + 1) && batches < 256 {
        if *stop.borrow() {
            return;
        }
        batches += 1;
        let blocks = match handle.request_blocks(peer, from, SYNC_BATCH_BLOCKS).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "sync request failed");
                return;
            }
        };
        if blocks.is_empty() {
            return;
        }
        let count = blocks.len() as u64;
        let n = node.clone();
        let w = who.clone();
        let step = match tokio::task::spawn_blocking(move || n.replica().on_sync_blocks(&w, blocks)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "applying synced blocks failed");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "sync task failed");
                return;
            }
        };
        // A missing parent: the peer is on another branch below our head;
        // go back to the lowest height asked (once per call).
        let lower = step.outputs.iter().find_map(|o| match o {
            Output::RequestBlocks { peer: p, from_height, .. } if *p == who => Some(*from_height),
            _ => None,
        });
        let outputs: Vec<Output> =
            step.outputs.into_iter().filter(|o| !matches!(o, Output::RequestBlocks { .. })).collect();
        node.handle_outputs(outputs, None);
        if step.rejected > 0 {
            return;
        }
        match lower {
            Some(l) if l < from && !restarted => {
                restarted = true;
                from = l;
            }
            _ => from += count,
        }
    }
}
