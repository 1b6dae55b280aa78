//! Real networks on loopback: several nodes on 127.0.0.1 with ephemeral
//! ports, talking TCP + noise + yamux. No mocks. Conditions are polled with
//! generous deadlines so a loaded 2-core machine does not make them flaky.

use aergo_crypto::{dev_key, sign_block, PrivateKey};
use aergo_net::wire::{self, PeerStatus, SyncRequest, SyncResponse};
use aergo_net::{
    peer_id_from_key, GossipValidation, Misbehaviour, Multiaddr, NetConfig, NetError, NetEvent, Network, NetworkHandle,
    PeerId, SyncProvider,
};
use aergo_types::{Block, BlockHeader, ChainId, Hash};
use futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(30);

fn dev_chain_hash() -> Hash {
    Hash::sha256(&ChainId::dev().to_bytes())
}

/// A chain of real, signed, linked blocks; block `h` is at index `h`.
struct TestChain {
    chain_id_hash: Hash,
    blocks: Vec<Vec<u8>>,
    /// Files it serves, by their SHA-256.
    files: Vec<Vec<u8>>,
}

impl TestChain {
    fn new(height: u64) -> TestChain {
        TestChain::salted(height, 0)
    }

    /// A chain whose every block (genesis included) depends on `salt`.
    fn salted(height: u64, salt: u8) -> TestChain {
        let bp = dev_key("net-test-bp", 0);
        let mut blocks = Vec::new();
        let mut prev = Hash::ZERO;
        for no in 0..=height {
            let header = BlockHeader {
                chain_id: ChainId::dev().to_bytes(),
                prev_block_hash: prev.to_vec(),
                block_no: no,
                timestamp: 1_700_000_000_000_000_000 + no as i64,
                blocks_root_hash: Hash::sha256_parts(&[&[salt], &no.to_be_bytes()]).to_vec(),
                receipts_root_hash: Hash::ZERO.to_vec(),
                ..Default::default()
            };
            let block = sign_block(header, Vec::new(), &bp).expect("sign test block");
            prev = Hash::from_slice("block hash", &block.hash).expect("32-byte hash");
            blocks.push(block.encode());
        }
        TestChain { chain_id_hash: dev_chain_hash(), blocks, files: Vec::new() }
    }

    fn with_file(mut self, data: Vec<u8>) -> TestChain {
        self.files.push(data);
        self
    }

    fn hash_at(&self, h: u64) -> Hash {
        let b = Block::decode_bounded(&self.blocks[h as usize]).expect("own block decodes");
        Hash::from_slice("block hash", &b.hash).expect("32 bytes")
    }

    fn with_chain(mut self, chain_id_hash: Hash) -> TestChain {
        self.chain_id_hash = chain_id_hash;
        self
    }
}

impl SyncProvider for TestChain {
    fn status(&self) -> PeerStatus {
        let best = self.blocks.len() as u64 - 1;
        PeerStatus {
            chain_id_hash: self.chain_id_hash,
            genesis_hash: self.hash_at(0),
            best_height: best,
            best_hash: self.hash_at(best),
            lib_height: best.saturating_sub(2),
        }
    }

    fn blocks(&self, from_height: u64, max_count: u32, _max_bytes: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        // Serves more than the byte bound on purpose: the network must clamp.
        let from = usize::try_from(from_height).unwrap_or(usize::MAX).min(self.blocks.len());
        let to = from.saturating_add(max_count as usize).min(self.blocks.len());
        Ok(self.blocks[from..to].to_vec())
    }

    fn file_piece(&self, key: Hash, offset: u64, len: u32) -> aergo_net::Result<Option<aergo_net::FilePiece>> {
        let Some(data) = self.files.iter().find(|d| Hash::sha256(d) == key) else { return Ok(None) };
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let to = from.saturating_add(len as usize).min(data.len());
        let content_type = "application/x-test".to_string();
        Ok(Some(aergo_net::FilePiece { size: data.len() as u64, content_type, bytes: data[from..to].to_vec() }))
    }
}

fn key(n: u32) -> PrivateKey {
    dev_key("net-test-node", n)
}

fn test_config(n: u32, chain: &TestChain) -> NetConfig {
    let mut c = NetConfig::new(key(n), chain.chain_id_hash);
    c.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    c.gossip_validation = GossipValidation::ByNode;
    c.timing.redial_min_ms = 200;
    c.timing.redial_max_ms = 1_000;
    c.timing.gossip_heartbeat_ms = 200;
    c.timing.housekeeping_ms = 50;
    c.timing.request_timeout_ms = 15_000;
    c
}

/// A started node plus a task that records its events and judges gossip
/// like a validating node would: payloads starting with `invalid` are
/// rejected, everything else accepted.
struct TestNode {
    handle: NetworkHandle,
    addr: Multiaddr,
    events: Arc<Mutex<Vec<NetEvent>>>,
}

impl TestNode {
    async fn start(config: NetConfig, chain: TestChain) -> TestNode {
        let (handle, mut rx) = Network::start(config, Arc::new(chain)).await.expect("network starts");
        let listen = handle.listen_addrs().await.expect("running");
        let addr = listen[0].clone().with(libp2p::multiaddr::Protocol::P2p(handle.local_peer_id()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (h, ev) = (handle.clone(), events.clone());
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if let NetEvent::TxGossip { id, bytes, .. }
                | NetEvent::BlockGossip { id, bytes, .. }
                | NetEvent::ConsensusGossip { id, bytes, .. } = &e
                {
                    let verdict = if bytes.starts_with(b"invalid") {
                        aergo_net::GossipVerdict::Reject
                    } else {
                        aergo_net::GossipVerdict::Accept
                    };
                    let _ = h.validate_gossip(id.clone(), verdict).await;
                }
                ev.lock().expect("events lock").push(e);
            }
        });
        TestNode { handle, addr, events }
    }

    fn id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    fn events(&self) -> Vec<NetEvent> {
        self.events.lock().expect("events lock").clone()
    }

    fn gossip_count(&self, payload: &[u8]) -> usize {
        self.events()
            .iter()
            .filter(|e| match e {
                NetEvent::TxGossip { bytes, .. }
                | NetEvent::BlockGossip { bytes, .. }
                | NetEvent::ConsensusGossip { bytes, .. } => bytes == payload,
                _ => false,
            })
            .count()
    }

    fn connected_events(&self, peer: PeerId) -> usize {
        self.events().iter().filter(|e| matches!(e, NetEvent::PeerConnected { peer: p, .. } if *p == peer)).count()
    }

    async fn is_peer(&self, peer: PeerId) -> bool {
        self.handle.peers().await.expect("running").iter().any(|p| p.peer == peer)
    }

    async fn gossip_ready_with(&self, peer: PeerId) -> bool {
        self.handle.peers().await.expect("running").iter().any(|p| p.peer == peer && p.gossip_ready)
    }

    async fn score_of(&self, peer: PeerId) -> Option<i64> {
        self.handle.peers().await.expect("running").iter().find(|p| p.peer == peer).map(|p| p.score)
    }
}

/// Polls `cond` until it holds, failing the test after `DEADLINE`.
async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < DEADLINE, "timed out after {DEADLINE:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes until a peer is subscribed (the mesh takes a heartbeat or two
/// to form after connecting).
async fn publish_tx(node: &TestNode, bytes: &[u8]) {
    wait_until("tx published", || async {
        match node.handle.publish_tx(bytes.to_vec()).await {
            Ok(()) => true,
            Err(NetError::NoPeers { .. }) => false,
            Err(e) => panic!("publish failed: {e}"),
        }
    })
    .await;
}

async fn linked(a: &TestNode, b: &TestNode) {
    wait_until("nodes handshaken with gossip ready", || async {
        a.gossip_ready_with(b.id()).await && b.gossip_ready_with(a.id()).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_every_node_exactly_once_and_late_joiners_get_later_gossip() {
    // A line: a <- b <- c, so gossip from a reaches c only through b's relay.
    let a = TestNode::start(test_config(1, &TestChain::new(3)), TestChain::new(3)).await;
    let mut cb = test_config(2, &TestChain::new(3));
    cb.bootstrap = vec![a.addr.clone()];
    let b = TestNode::start(cb, TestChain::new(3)).await;
    let mut cc = test_config(3, &TestChain::new(3));
    cc.bootstrap = vec![b.addr.clone()];
    let c = TestNode::start(cc, TestChain::new(3)).await;
    linked(&a, &b).await;
    linked(&b, &c).await;

    // PeerConnected carries the peer's status.
    let status = TestChain::new(3).status();
    assert!(b.events().contains(&NetEvent::PeerConnected { peer: a.id(), status }));

    let tx = b"tx-from-a".to_vec();
    publish_tx(&a, &tx).await;
    let block = b"block-from-c".to_vec();
    c.handle.publish_block(block.clone()).await.expect("c has a subscribed peer");
    let vote = b"vote-from-b".to_vec();
    b.handle.publish_consensus(vote.clone()).await.expect("b has subscribed peers");
    wait_until("tx, block and vote everywhere", || async {
        b.gossip_count(&tx) >= 1
            && c.gossip_count(&tx) >= 1
            && a.gossip_count(&block) >= 1
            && b.gossip_count(&block) >= 1
            && a.gossip_count(&vote) >= 1
            && c.gossip_count(&vote) >= 1
    })
    .await;
    // The same content again, from a node that has already seen it: dedup.
    assert!(matches!(b.handle.publish_tx(tx.clone()).await, Err(NetError::Duplicate { .. })));
    // Let several heartbeats pass (IHAVE/IWANT gossip, mesh relays), then
    // check nothing arrived twice and nobody got their own message back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((a.gossip_count(&tx), b.gossip_count(&tx), c.gossip_count(&tx)), (0, 1, 1));
    assert_eq!((a.gossip_count(&block), b.gossip_count(&block), c.gossip_count(&block)), (1, 1, 0));
    // c got the tx from its neighbour b, not from a.
    assert!(c
        .events()
        .iter()
        .any(|e| matches!(e, NetEvent::TxGossip { from, bytes, .. } if *from == b.id() && *bytes == tx)));

    // b judges what a sends: a rejected message is not relayed to c, and a
    // is penalised by b; what b accepts still flows.
    let bad = b"invalid tx from a".to_vec();
    publish_tx(&a, &bad).await;
    wait_until("b rejects", || async { b.handle.stats().await.expect("running").gossip_rejected >= 1 }).await;
    assert!(b.score_of(a.id()).await.is_some_and(|s| s < 0), "relayer of an invalid tx penalised");
    let good = b"valid tx after the invalid one".to_vec();
    publish_tx(&a, &good).await;
    wait_until("c gets the valid one", || async { c.gossip_count(&good) == 1 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((b.gossip_count(&bad), c.gossip_count(&bad)), (1, 0), "rejected gossip is not relayed");

    // A node started later, bootstrapping to c, joins and gets later gossip.
    let mut cd = test_config(4, &TestChain::new(3));
    cd.bootstrap = vec![c.addr.clone()];
    let d = TestNode::start(cd, TestChain::new(3)).await;
    linked(&c, &d).await;
    assert_eq!(d.gossip_count(&tx), 0, "old gossip is not replayed");
    let tx2 = b"tx2-from-a-after-d-joined".to_vec();
    publish_tx(&a, &tx2).await;
    wait_until("late joiner receives", || async { d.gossip_count(&tx2) >= 1 }).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!((b.gossip_count(&tx2), c.gossip_count(&tx2), d.gossip_count(&tx2)), (1, 1, 1));

    let stats = a.handle.stats().await.expect("running");
    assert_eq!(stats.handshaken, 1);
    assert_eq!(stats.events_dropped, 0);
    for n in [&a, &b, &c, &d] {
        n.handle.shutdown().await.expect("shuts down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_serves_real_blocks_within_count_and_byte_bounds() {
    let chain = TestChain::new(20);
    let serving = TestNode::start(test_config(10, &chain), TestChain::new(20)).await;
    let block_size = chain.blocks.iter().map(Vec::len).max().expect("blocks");
    let mut cfg = test_config(11, &chain);
    cfg.bootstrap = vec![serving.addr.clone()];
    cfg.limits.max_sync_blocks = 8;
    let syncing = TestNode::start(cfg, TestChain::new(0)).await;
    wait_until("handshake", || async { syncing.is_peer(serving.id()).await }).await;

    // A range decodes to the right, linked blocks.
    let got = syncing.handle.request_blocks(serving.id(), 3, 5).await.expect("served");
    assert_eq!(got.len(), 5);
    for (i, bytes) in got.iter().enumerate() {
        let b = Block::decode_bounded(bytes).expect("a real block");
        b.validate_structure().expect("structurally valid");
        let h = b.header().expect("header");
        assert_eq!(h.block_no, 3 + i as u64);
        assert_eq!(Hash::from_slice("prev", &h.prev_block_hash).expect("32"), chain.hash_at(h.block_no - 1));
    }
    // max_count is clamped to the configured maximum.
    assert_eq!(syncing.handle.request_blocks(serving.id(), 0, 100).await.expect("served").len(), 8);
    // The end of the chain and beyond.
    assert_eq!(syncing.handle.request_blocks(serving.id(), 18, 10).await.expect("served").len(), 3);
    assert!(syncing.handle.request_blocks(serving.id(), 500, 10).await.expect("served").is_empty());
    assert!(syncing.handle.request_blocks(serving.id(), 0, 0).await.expect("nothing asked").is_empty());

    // Status on demand.
    let status = syncing.handle.request_status(serving.id()).await.expect("status");
    assert_eq!(status, chain.status());
    let peers = syncing.handle.peers().await.expect("running");
    assert_eq!(peers[0].status.best_height, 20);
    assert_eq!(peers[0].score, 0);

    // The server learns where the syncing node listens (identify), not just
    // the ephemeral port it dialled from.
    let listen = syncing.handle.listen_addrs().await.expect("running");
    wait_until("listen address learned", || async {
        let peers = serving.handle.peers().await.expect("running");
        peers.iter().any(|p| p.peer == syncing.id() && !p.outbound && p.address.as_ref() == listen.first())
    })
    .await;

    // Byte bound: a requester whose response limit holds 2.5 blocks gets 2.
    let mut cfg = test_config(12, &chain);
    cfg.bootstrap = vec![serving.addr.clone()];
    cfg.limits.max_block_bytes = block_size;
    cfg.limits.max_sync_response_bytes = block_size * 5 / 2;
    let small = TestNode::start(cfg, TestChain::new(0)).await;
    wait_until("handshake", || async { small.is_peer(serving.id()).await }).await;
    let got = small.handle.request_blocks(serving.id(), 1, 10).await.expect("served");
    assert_eq!(got.len(), 2);
    assert!(got.iter().map(Vec::len).sum::<usize>() <= block_size * 5 / 2);

    // Unknown peer: a clear error, no network traffic.
    assert!(matches!(syncing.handle.request_blocks(PeerId::random(), 0, 1).await, Err(NetError::NotConnected { .. })));
    for n in [&serving, &syncing, &small] {
        n.handle.shutdown().await.expect("shuts down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_id_is_stable_for_a_node_key() {
    let chain = TestChain::new(1);
    let first = TestNode::start(test_config(20, &chain), TestChain::new(1)).await;
    let id = first.id();
    assert_eq!(id, peer_id_from_key(&key(20)).expect("valid key"));
    first.handle.shutdown().await.expect("shuts down");
    assert!(matches!(first.handle.peers().await, Err(NetError::Stopped)));
    let again = TestNode::start(test_config(20, &chain), TestChain::new(1)).await;
    assert_eq!(again.id(), id, "same key, same PeerId across restarts");
    let other = TestNode::start(test_config(21, &chain), TestChain::new(1)).await;
    assert_ne!(other.id(), id);
    again.handle.shutdown().await.expect("shuts down");
    other.handle.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_on_another_chain_is_disconnected() {
    let ours = TestChain::new(2);
    let a = TestNode::start(test_config(30, &ours), TestChain::new(2)).await;
    let other_hash = Hash::sha256(b"some other chain");
    let theirs = TestChain::new(2).with_chain(other_hash);
    let mut cfg = test_config(31, &theirs);
    cfg.bootstrap = vec![a.addr.clone()];
    let b = TestNode::start(cfg, TestChain::new(2).with_chain(other_hash)).await;

    wait_until("handshake refused", || async {
        let sa = a.handle.stats().await.expect("running");
        let sb = b.handle.stats().await.expect("running");
        sa.handshakes_rejected + sb.handshakes_rejected >= 1 && sa.connected == 0 && sb.connected == 0
    })
    .await;
    // b keeps re-dialling its bootstrap peer; it is never admitted.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(a.handle.peers().await.expect("running").is_empty());
    assert!(b.handle.peers().await.expect("running").is_empty());
    assert_eq!(a.connected_events(b.id()) + b.connected_events(a.id()), 0);

    // A peer with the same chain id but another genesis is refused too.
    let rejected_before = a.handle.stats().await.expect("running").handshakes_rejected;
    let mut cfg = test_config(32, &ours);
    cfg.bootstrap = vec![a.addr.clone()];
    let c = TestNode::start(cfg, TestChain::salted(2, 7)).await;
    // Either side may see the mismatch first and hang up.
    wait_until("other genesis refused", || async {
        let sc = c.handle.stats().await.expect("running");
        let refused = a.handle.stats().await.expect("running").handshakes_rejected > rejected_before
            || sc.handshakes_rejected >= 1;
        refused && sc.connected == 0
    })
    .await;
    // Control: same chain, same genesis, another head: admitted.
    let mut cfg = test_config(33, &ours);
    cfg.bootstrap = vec![a.addr.clone()];
    let d = TestNode::start(cfg, TestChain::new(5)).await;
    wait_until("same-genesis peer admitted", || async { a.is_peer(d.id()).await }).await;
    assert!(!a.is_peer(c.id()).await);
    for n in [&a, &b, &c, &d] {
        n.handle.shutdown().await.expect("shuts down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_peer_is_banned_then_readmitted_after_the_ban() {
    let chain = TestChain::new(1);
    let mut ca = test_config(40, &chain);
    ca.scoring.ban_duration_ms = 3_000;
    let a = TestNode::start(ca, TestChain::new(1)).await;
    let mut cb = test_config(41, &chain);
    cb.bootstrap = vec![a.addr.clone()];
    let b = TestNode::start(cb, TestChain::new(1)).await;
    wait_until("connected", || async { a.is_peer(b.id()).await && b.is_peer(a.id()).await }).await;

    // One invalid block: penalised, still connected.
    a.handle.report(b.id(), Misbehaviour::InvalidBlock).await.expect("running");
    wait_until("score drops", || async { a.score_of(b.id()).await.is_some_and(|s| s < 0) }).await;
    assert!(a.is_peer(b.id()).await);
    // A second one reaches the threshold: disconnected and banned.
    a.handle.report(b.id(), Misbehaviour::InvalidBlock).await.expect("running");
    let banned_at = Instant::now();
    wait_until("b disconnected", || async {
        !a.is_peer(b.id()).await && b.events().contains(&NetEvent::PeerDisconnected { peer: a.id() })
    })
    .await;
    // b re-dials every 200..1000 ms; a refuses it while the ban lasts.
    wait_until("a redial is denied", || async { a.handle.stats().await.expect("running").connections_denied >= 1 })
        .await;
    while banned_at.elapsed() < Duration::from_millis(2_000) {
        assert!(!a.is_peer(b.id()).await, "banned peer re-admitted during its ban");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.connected_events(b.id()), 1);
    assert_eq!(a.handle.stats().await.expect("running").banned, 1);
    // After the ban, b's redial succeeds.
    wait_until("re-admitted after the ban", || async { a.connected_events(b.id()) == 2 }).await;
    assert!(banned_at.elapsed() >= Duration::from_millis(2_900), "re-admitted too early: {:?}", banned_at.elapsed());
    a.handle.shutdown().await.expect("shuts down");
    b.handle.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_gossip_is_rejected_and_sender_penalised_and_the_node_keeps_working() {
    let chain = TestChain::new(1);
    let mut cv = test_config(50, &chain);
    cv.limits.max_tx_bytes = 1024;
    let victim = TestNode::start(cv, TestChain::new(1)).await;
    // The sender allows bigger txs than the victim does.
    let mut cs = test_config(51, &chain);
    cs.limits.max_tx_bytes = 16 * 1024;
    cs.bootstrap = vec![victim.addr.clone()];
    let sender = TestNode::start(cs, TestChain::new(1)).await;
    linked(&victim, &sender).await;

    // The victim refuses to publish what it would not accept.
    assert!(matches!(victim.handle.publish_tx(vec![0; 2048]).await, Err(NetError::TooLarge { .. })));

    let big = vec![7u8; 4096];
    publish_tx(&sender, &big).await;
    wait_until("oversized tx rejected", || async {
        victim.handle.stats().await.expect("running").gossip_rejected >= 1
    })
    .await;
    assert_eq!(victim.gossip_count(&big), 0, "oversized gossip never reaches the node");
    assert!(victim.score_of(sender.id()).await.is_some_and(|s| s < 0), "sender penalised");
    // Still connected (one offence is below the ban threshold) and working.
    let small = b"a normal tx".to_vec();
    publish_tx(&sender, &small).await;
    wait_until("normal gossip still flows", || async { victim.gossip_count(&small) == 1 }).await;
    victim.handle.shutdown().await.expect("shuts down");
    sender.handle.shutdown().await.expect("shuts down");
}

// --- a hand-rolled misbehaving peer ------------------------------------------

/// A codec that writes whatever bytes it is given, unframed, and reads raw
/// frames: the test decides what goes on the wire.
#[derive(Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = libp2p::StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        wire::read_frame(io, 1 << 20).await
    }

    async fn read_response<T>(&mut self, _: &Self::Protocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        wire::read_frame(io, 1 << 20).await
    }

    async fn write_request<T>(&mut self, _: &Self::Protocol, io: &mut T, req: Vec<u8>) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        futures::AsyncWriteExt::write_all(io, &req).await
    }

    async fn write_response<T>(&mut self, _: &Self::Protocol, io: &mut T, resp: Vec<u8>) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        futures::AsyncWriteExt::write_all(io, &resp).await
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// Scripted answers to block requests, in order: (delay, raw bytes).
type Script = Arc<Mutex<VecDeque<(Duration, Vec<u8>)>>>;

/// A peer that answers status requests correctly (so it passes the
/// handshake) and block requests with scripted bytes; it can also send raw
/// requests.
struct EvilPeer {
    id: PeerId,
    script: Script,
    raw_requests: tokio::sync::mpsc::Sender<(PeerId, Vec<u8>)>,
}

async fn start_evil_peer(status: PeerStatus, dial: Multiaddr) -> EvilPeer {
    let keypair = aergo_net::keypair_from_key(&key(99)).expect("key");
    let id = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::new(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("transport")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(wire::SYNC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    swarm.dial(dial).expect("dial victim");
    let script: Script = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(PeerId, Vec<u8>)>(16);
    let s = script.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                ev = swarm.select_next_some() => {
                    if let SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Request { request, channel, .. }, ..
                    }) = ev {
                        let (delay, answer) = match wire::decode_request(&request) {
                            Ok(SyncRequest::Status(_)) => {
                                (Duration::ZERO, framed(&wire::encode_response(&SyncResponse::Status(status))))
                            }
                            _ => s.lock().expect("script lock").pop_front().unwrap_or_default(),
                        };
                        held.push((Instant::now() + delay, channel, answer));
                    }
                }
                Some((peer, bytes)) = rx.recv() => {
                    swarm.behaviour_mut().send_request(&peer, bytes);
                }
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = held.into_iter().partition(|(at, _, _)| *at <= now);
            held = later;
            for (_, channel, answer) in due {
                let _ = swarm.behaviour_mut().send_response(channel, answer);
            }
        }
    });
    EvilPeer { id, script, raw_requests: tx }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_sync_responses_are_errors_and_penalised() {
    let chain = TestChain::new(2);
    let mut cfg = test_config(60, &chain);
    cfg.limits.max_sync_blocks = 4;
    cfg.limits.max_block_bytes = 1024;
    cfg.limits.max_sync_response_bytes = 4096;
    // Enough headroom that the evil peer is not banned halfway through.
    cfg.scoring.ban_threshold = 10_000;
    let victim = TestNode::start(cfg, TestChain::new(2)).await;
    let evil = start_evil_peer(chain.status(), victim.addr.clone()).await;
    wait_until("evil peer passes the handshake", || async { victim.is_peer(evil.id).await }).await;

    let blocks_body =
        |n: usize, size: usize| framed(&wire::encode_response(&SyncResponse::Blocks(vec![vec![1u8; size]; n])));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage body", framed(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3])),
        ("unknown kind", framed(&[0x55])),
        ("frame header promising 4 GiB", vec![0xff, 0xff, 0xff, 0xf0, 1, 2, 3]),
        ("truncated frame", vec![0, 0, 0, 100, 0x82, 0, 0]),
        ("more blocks than asked", blocks_body(3, 10)),
        ("more blocks than the codec allows", blocks_body(5, 10)),
        ("a block above max_block_bytes", blocks_body(1, 2000)),
        ("status instead of blocks", framed(&wire::encode_response(&SyncResponse::Status(chain.status())))),
        ("block count with no room for them", framed(&[0x82, 0x7f, 0xff, 0xff, 0xff])),
    ];
    let mut last_score = 0;
    for (what, bytes) in cases {
        evil.script.lock().expect("script lock").push_back((Duration::ZERO, bytes));
        let r = victim.handle.request_blocks(evil.id, 0, 2).await;
        assert!(matches!(r, Err(NetError::InvalidResponse { .. })), "{what}: expected InvalidResponse, got {r:?}");
        let score = victim.score_of(evil.id).await.expect("still connected");
        assert!(score < last_score, "{what}: peer not penalised (score {score}, before {last_score})");
        last_score = score;
    }
    // A valid answer from the same peer still works: nothing broke.
    evil.script.lock().expect("script lock").push_back((Duration::ZERO, blocks_body(2, 10)));
    assert_eq!(victim.handle.request_blocks(evil.id, 0, 2).await.expect("valid answer").len(), 2);

    // Garbage requests: answered by nothing, penalised, node keeps serving.
    let before = victim.score_of(evil.id).await.expect("connected");
    evil.raw_requests.send((victim.id(), framed(&[0x02, 1, 2]))).await.expect("evil task");
    evil.raw_requests.send((victim.id(), vec![0xff, 0xff, 0xff, 0xff])).await.expect("evil task");
    wait_until("malformed requests penalised", || async {
        // 50 points for the two; a few may have drained meanwhile.
        victim.score_of(evil.id).await.is_some_and(|s| s <= before - 45)
    })
    .await;
    assert_eq!(victim.handle.request_status(evil.id).await.expect("still talking"), chain.status());
    victim.handle.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_move_in_checked_pieces_and_a_lying_peer_is_penalised() {
    let piece = wire::MAX_FILE_PIECE_BYTES;
    let data: Vec<u8> = (0..piece * 5 / 2).map(|i| (i * 7 % 251) as u8).collect();
    let key = Hash::sha256(&data);
    let chain = TestChain::new(2);
    let serving = TestNode::start(test_config(70, &chain), TestChain::new(2).with_file(data.clone())).await;
    let mut cfg = test_config(71, &chain);
    cfg.bootstrap = vec![serving.addr.clone()];
    let fetching = TestNode::start(cfg, TestChain::new(2)).await;
    wait_until("handshake", || async { fetching.is_peer(serving.id()).await }).await;

    // Far more pieces than the sync rate allows per second: file pieces
    // are bounded by calls in progress, not by the request bucket.
    let mut got = Vec::new();
    for round in 0..20 {
        got.clear();
        let mut offset = 0u64;
        loop {
            let p = fetching
                .handle
                .request_file_piece(serving.id(), key, offset, piece as u32)
                .await
                .expect("served")
                .expect("held");
            assert_eq!(p.size, data.len() as u64);
            assert_eq!(p.content_type, "application/x-test");
            if p.bytes.is_empty() {
                break;
            }
            offset += p.bytes.len() as u64;
            got.extend_from_slice(&p.bytes);
        }
        assert_eq!(got.len(), data.len(), "round {round}");
    }
    assert_eq!(Hash::sha256(&got), key);
    assert_eq!(fetching.score_of(serving.id()).await, Some(0), "an honest fetch is no flood");
    // Unknown files, and a piece larger than the protocol carries.
    assert_eq!(fetching.handle.request_file_piece(serving.id(), Hash([9; 32]), 0, 10).await.expect("answered"), None);
    let too_big = fetching.handle.request_file_piece(serving.id(), key, 0, piece as u32 + 1).await;
    assert!(matches!(too_big, Err(NetError::TooLarge { .. })), "{too_big:?}");

    // A peer answering with a piece of the wrong length is penalised.
    let mut cfg = test_config(72, &chain);
    cfg.scoring.ban_threshold = 10_000;
    let victim = TestNode::start(cfg, TestChain::new(2)).await;
    let evil = start_evil_peer(chain.status(), victim.addr.clone()).await;
    wait_until("evil peer passes the handshake", || async { victim.is_peer(evil.id).await }).await;
    let lie = wire::FilePiece { size: 100, content_type: String::new(), bytes: vec![1; 7] };
    evil.script
        .lock()
        .expect("script lock")
        .push_back((Duration::ZERO, framed(&wire::encode_response(&SyncResponse::FilePiece(lie)))));
    let r = victim.handle.request_file_piece(evil.id, key, 0, 10).await;
    assert!(matches!(r, Err(NetError::InvalidResponse { .. })), "{r:?}");
    assert!(victim.score_of(evil.id).await.expect("connected") < 0);
    for n in [&serving, &fetching, &victim] {
        n.handle.shutdown().await.expect("shuts down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pending_requests_and_shutdown_are_clear_errors() {
    let chain = TestChain::new(2);
    let mut cfg = test_config(70, &chain);
    cfg.limits.max_requests_per_peer = 1;
    let victim = TestNode::start(cfg, TestChain::new(2)).await;
    let evil = start_evil_peer(chain.status(), victim.addr.clone()).await;
    wait_until("handshake", || async { victim.is_peer(evil.id).await }).await;
    // The peer sits on the first request for a while: with one slot per
    // peer, a second request is refused locally.
    let slow = framed(&wire::encode_response(&SyncResponse::Blocks(vec![vec![1]])));
    evil.script.lock().expect("script lock").push_back((Duration::from_millis(3000), slow));
    let h = victim.handle.clone();
    let first = tokio::spawn(async move { h.request_blocks(evil.id, 0, 1).await });
    // Nothing observable says "sent"; the hold is six times this pause.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = victim.handle.request_blocks(evil.id, 0, 1).await;
    assert!(matches!(second, Err(NetError::TooManyPending { pending: 1, max: 1, .. })), "{second:?}");
    assert_eq!(first.await.expect("task").expect("slow answer arrives").len(), 1);
    victim.handle.shutdown().await.expect("shuts down");
    assert!(matches!(victim.handle.request_status(evil.id).await, Err(NetError::Stopped)));
    assert!(matches!(victim.handle.publish_tx(vec![1]).await, Err(NetError::Stopped)));
}

/// A provider whose `blocks` waits until the test opens its gate: a stand-in
/// for a slow store.
struct GatedChain {
    chain: TestChain,
    open: Mutex<bool>,
    opened: std::sync::Condvar,
    calls: std::sync::atomic::AtomicUsize,
}

impl GatedChain {
    fn open(&self) {
        *self.open.lock().expect("gate lock") = true;
        self.opened.notify_all();
    }
}

impl SyncProvider for GatedChain {
    fn status(&self) -> PeerStatus {
        self.chain.status()
    }

    fn blocks(&self, from_height: u64, max_count: u32, max_bytes: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut open = self.open.lock().expect("gate lock");
        // Bounded wait: a test that forgets to open the gate still ends.
        let deadline = std::time::Instant::now() + DEADLINE;
        while !*open && std::time::Instant::now() < deadline {
            open = self.opened.wait_timeout(open, Duration::from_millis(100)).expect("gate wait").0;
        }
        self.chain.blocks(from_height, max_count, max_bytes)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_never_stalls_the_network_and_provider_calls_are_bounded() {
    let chain = TestChain::new(5);
    let gated = Arc::new(GatedChain {
        chain: TestChain::new(5),
        open: Mutex::new(false),
        opened: std::sync::Condvar::new(),
        calls: Default::default(),
    });
    let mut cfg = test_config(80, &chain);
    cfg.limits.max_provider_calls = 1;
    let (server, mut server_events) = Network::start(cfg, gated.clone()).await.expect("starts");
    tokio::spawn(async move { while server_events.recv().await.is_some() {} });
    let addr = server.listen_addrs().await.expect("running")[0]
        .clone()
        .with(libp2p::multiaddr::Protocol::P2p(server.local_peer_id()));
    let mut cc = test_config(81, &chain);
    cc.bootstrap = vec![addr];
    let client = TestNode::start(cc, TestChain::new(5)).await;
    wait_until("handshake", || async { client.is_peer(server.local_peer_id()).await }).await;

    let h = client.handle.clone();
    let id = server.local_peer_id();
    let slow = tokio::spawn(async move { h.request_blocks(id, 1, 3).await });
    wait_until("provider called", || async { gated.calls.load(std::sync::atomic::Ordering::SeqCst) == 1 }).await;
    // The provider is stuck, the network is not: status still flows...
    assert_eq!(client.handle.request_status(id).await.expect("answered"), chain.status());
    // ...and a second block request is refused (one provider call at most).
    let busy = client.handle.request_blocks(id, 1, 3).await;
    assert!(matches!(&busy, Err(NetError::Refused { refusal: wire::Refusal::Busy, .. })), "{busy:?}");
    gated.open();
    assert_eq!(slow.await.expect("task").expect("served once the store answers").len(), 3);
    assert_eq!(client.handle.request_blocks(id, 1, 3).await.expect("served").len(), 3);
    server.shutdown().await.expect("shuts down");
    client.handle.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_floods_are_refused_and_penalised() {
    let chain = TestChain::new(2);
    let mut cs = test_config(90, &chain);
    cs.limits.inbound_requests_per_sec = 1;
    cs.limits.inbound_request_burst = 3;
    let server = TestNode::start(cs, TestChain::new(2)).await;
    let mut cc = test_config(91, &chain);
    cc.bootstrap = vec![server.addr.clone()];
    let client = TestNode::start(cc, TestChain::new(2)).await;
    wait_until("handshake", || async { server.is_peer(client.id()).await && client.is_peer(server.id()).await }).await;
    let mut refused = 0;
    for _ in 0..6 {
        match client.handle.request_status(server.id()).await {
            Ok(_) => {}
            Err(NetError::Refused { refusal: wire::Refusal::RateLimited, .. }) => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert!(refused >= 2, "only {refused} of 6 requests refused with a burst of 3 at 1/s");
    assert!(server.score_of(client.id()).await.is_some_and(|s| s < 0), "flooder penalised");
    assert!(server.handle.stats().await.expect("running").inbound_refused >= 2);
    server.handle.shutdown().await.expect("shuts down");
    client.handle.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_event_queue_drops_events_without_stalling_and_max_peers_holds() {
    let chain = TestChain::new(2);
    let mut ca = test_config(100, &chain);
    ca.limits.event_queue_len = 2;
    ca.limits.max_peers = 1;
    // Nobody reads a's events.
    let (a, _unread) = Network::start(ca, Arc::new(TestChain::new(2))).await.expect("starts");
    let a_addr =
        a.listen_addrs().await.expect("running")[0].clone().with(libp2p::multiaddr::Protocol::P2p(a.local_peer_id()));
    let mut cb = test_config(101, &chain);
    cb.gossip_validation = GossipValidation::Relay;
    cb.bootstrap = vec![a_addr.clone()];
    let b = TestNode::start(cb, TestChain::new(2)).await;
    wait_until("b connected", || async { b.gossip_ready_with(a.local_peer_id()).await }).await;
    for i in 0..10u8 {
        publish_tx(&b, &[i; 8]).await;
    }
    wait_until("events dropped", || async { a.stats().await.expect("running").events_dropped >= 1 }).await;
    // Still serving.
    assert_eq!(b.handle.request_status(a.local_peer_id()).await.expect("answered"), chain.status());

    // a already has its one peer: a third node is turned away.
    let mut cc = test_config(102, &chain);
    cc.bootstrap = vec![a_addr];
    let c = TestNode::start(cc, TestChain::new(2)).await;
    wait_until("c denied", || async { a.stats().await.expect("running").connections_denied >= 1 }).await;
    assert_eq!(a.stats().await.expect("running").connected, 1);
    assert!(!c.is_peer(a.local_peer_id()).await);
    a.shutdown().await.expect("shuts down");
    b.handle.shutdown().await.expect("shuts down");
    c.handle.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_peer_named_by_dns_is_resolved_and_dialled() {
    // As in a container network: B knows A by name (`localhost` here),
    // not by address.
    let chain = TestChain::new(1);
    let a = TestNode::start(test_config(30, &chain), TestChain::new(1)).await;
    let port = a
        .addr
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a tcp port");
    let mut config = test_config(31, &chain);
    config.bootstrap = vec![format!("/dns4/localhost/tcp/{port}/p2p/{}", a.id()).parse().expect("multiaddr")];
    let b = TestNode::start(config, TestChain::new(1)).await;
    linked(&a, &b).await;
    // A name that does not resolve is retried quietly, never a crash.
    let mut lost = test_config(32, &chain);
    lost.bootstrap = vec![format!("/dns4/no-such-host.invalid/tcp/{port}/p2p/{}", a.id()).parse().expect("multiaddr")];
    let c = TestNode::start(lost, TestChain::new(1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.is_peer(a.id()).await);
    for n in [a, b, c] {
        n.handle.shutdown().await.expect("shuts down");
    }
}
