//! The bad-input catalogue, peer-to-peer door: one DPoS node process (one
//! producer, 500 ms slots, `[p2p]` enabled) fed by hostile peers:
//!
//! * gossiping peers built from the network crate itself (`aergo_net`
//!   with the node's chain id, relaying without judging, with size limits
//!   above the node's so it sends what the node must refuse): garbage,
//!   oversize messages, transactions, blocks and votes of another chain,
//!   forged signatures, replays;
//! * a raw libp2p peer speaking the sync protocol byte by byte: garbage
//!   requests, an unknown request kind, a frame header promising 4 GiB, a
//!   range far above the head.
//!
//! Each case names its sender (peer identities are reused while their
//! penalties stay under the ban threshold; two groups end in a deliberate
//! ban) and what the node must do: penalise the sender with a given
//! misbehaviour, ban it (and drop its connection), ignore the message
//! without blame, or answer a sync request with given bytes. Penalties are
//! read from the node's log (`RUST_LOG=aergo_net=debug`: "peer penalised"
//! and "peer banned" lines name the peer and the misbehaviour). After
//! every case the node still serves JSON-RPC, the block at a height taken
//! before the first case is unchanged, and no dev account moved; at the end
//! its last irreversible block has advanced, and a transaction gossiped by
//! an honest peer and one sent over JSON-RPC are both included.
//!
//! One level down: a replayed vote with the same bytes is dropped by
//! gossip deduplication (the node published it itself) before it reaches
//! the replica, so the replica's own handling of duplicate and stale votes
//! is tested in `aergo-replica` (`replayed_votes_are_ignored_without_blame`).
//!
//! Run it alone with `cargo test -p aergo-cli --test catalogue_p2p`.

mod common;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aergo_client::client::RpcClient;
use aergo_consensus::dpos::{Qc, Vote};
use aergo_crypto::{dev_genesis, dev_key, sign_block, sign_tx, PrivateKey};
use aergo_net::wire::{self, PeerStatus, SyncRequest, SyncResponse};
use aergo_net::{GossipValidation, Multiaddr, NetConfig, NetError, NetEvent, Network, NetworkHandle, PeerId};
use aergo_node::{init_data_dir, InitOptions, NodeConfig};
use aergo_types::genesis::DposGenesis;
use aergo_types::{Amount, BlockHeader, ChainId, Hash, Tx, TxBody};
use common::*;
use futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use serde_json::json;

const SLOT_MS: u64 = 500;
const DEADLINE: Duration = Duration::from_secs(30);
/// How long a message that must be ignored is given to draw a penalty.
const QUIET: Duration = Duration::from_millis(1000);

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// The node under attack.
struct Victim {
    node: NodeProc,
    client: RpcClient,
    addr: Multiaddr,
    chain_id: ChainId,
    chain_hash: Hash,
    genesis_hash: Hash,
    genesis_ts: i64,
    producer: PrivateKey,
    accounts: Vec<PrivateKey>,
}

impl Victim {
    fn status(&self) -> PeerStatus {
        PeerStatus {
            chain_id_hash: self.chain_hash,
            genesis_hash: self.genesis_hash,
            best_height: 0,
            best_hash: self.genesis_hash,
            lib_height: 0,
        }
    }

    /// Penalty and ban lines of the node's log about `peer`.
    fn penalties(&self, peer: &str) -> Vec<String> {
        self.node
            .stderr()
            .lines()
            .filter(|l| (l.contains("peer penalised") || l.contains("peer banned")) && l.contains(peer))
            .map(str::to_string)
            .collect()
    }

    async fn head(&self) -> (u64, Hash) {
        let s = self.client.status().await.unwrap();
        (s.height, s.head_hash)
    }

    fn slot_now(&self) -> u64 {
        ((now_ns() - self.genesis_ts) / (SLOT_MS as i64 * 1_000_000)) as u64
    }
}

/// What a [`Claim`] peer says about itself: the victim's genesis, height 0.
struct Claim(PeerStatus);

impl aergo_net::SyncProvider for Claim {
    fn status(&self) -> PeerStatus {
        self.0
    }
    fn blocks(&self, _: u64, _: u32, _: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
}

/// A gossiping peer: the network crate with limits above the node's, and
/// the blocks and votes it hears from the node.
struct Gossiper {
    handle: NetworkHandle,
    id: String,
    heard_votes: Arc<Mutex<Vec<Vec<u8>>>>,
}

async fn gossiper(v: &Victim, name: &str) -> Gossiper {
    let mut cfg = NetConfig::new(dev_key(&format!("attacker {name}"), 0), v.chain_hash);
    cfg.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    cfg.bootstrap = vec![v.addr.clone()];
    cfg.gossip_validation = GossipValidation::Relay;
    cfg.limits.max_tx_bytes = 2 << 20;
    cfg.limits.max_consensus_bytes = 1 << 20;
    cfg.timing.gossip_heartbeat_ms = 200;
    let (handle, mut events) = Network::start(cfg, Arc::new(Claim(v.status()))).await.unwrap();
    let heard_votes = Arc::new(Mutex::new(Vec::new()));
    let votes = heard_votes.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let NetEvent::ConsensusGossip { bytes, .. } = e {
                votes.lock().unwrap().push(bytes);
            }
        }
    });
    let id = handle.local_peer_id().to_base58();
    let victim_id = v.addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    });
    let deadline = Instant::now() + DEADLINE;
    loop {
        let peers = handle.peers().await.unwrap();
        if peers.iter().any(|p| Some(p.peer) == victim_id && p.gossip_ready) {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: not connected to the node: {peers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Gossiper { handle, id, heard_votes }
}

impl Gossiper {
    /// Publishes until a mesh peer takes it.
    async fn publish(&self, topic: Topic, bytes: Vec<u8>) -> Result<(), String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let r = match topic {
                Topic::Txs => self.handle.publish_tx(bytes.clone()).await,
                Topic::Blocks => self.handle.publish_block(bytes.clone()).await,
                Topic::Votes => self.handle.publish_consensus(bytes.clone()).await,
            };
            match r {
                Ok(()) => return Ok(()),
                Err(NetError::NoPeers { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

// --- a raw sync peer -----------------------------------------------------------

/// Writes requests and responses as given (the test frames them), reads
/// frames whole.
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
        wire::read_frame(io, 1 << 24).await
    }

    async fn write_request<T>(&mut self, _: &Self::Protocol, io: &mut T, req: Vec<u8>) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        futures::AsyncWriteExt::write_all(io, &req).await?;
        futures::AsyncWriteExt::close(io).await
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

/// Where the outcome of one raw request goes: the response body, or why
/// there is none.
type Reply = tokio::sync::oneshot::Sender<Result<Vec<u8>, String>>;

/// A peer that passes the handshake and sends whatever bytes it is told;
/// each request's outcome comes back.
struct RawPeer {
    id: String,
    requests: tokio::sync::mpsc::Sender<(Vec<u8>, Reply)>,
}

impl RawPeer {
    async fn request(&self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.requests.send((bytes, tx)).await.unwrap();
        tokio::time::timeout(DEADLINE, rx).await.expect("an outcome").unwrap()
    }
}

async fn raw_peer(v: &Victim) -> RawPeer {
    let keypair = aergo_net::keypair_from_key(&dev_key("raw-sync-peer", 0)).unwrap();
    let id = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::new(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(wire::SYNC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            )
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    let victim = victim_peer_id(v);
    swarm.dial(v.addr.clone()).unwrap();
    let status = framed(&wire::encode_response(&SyncResponse::Status(v.status())));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<u8>, Reply)>(4);
    tokio::spawn(async move {
        let mut waiting: Vec<(request_response::OutboundRequestId, Reply)> = Vec::new();
        loop {
            tokio::select! {
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => match message {
                        request_response::Message::Request { channel, .. } => {
                            let _ = swarm.behaviour_mut().send_response(channel, status.clone());
                        }
                        request_response::Message::Response { request_id, response } => {
                            if let Some(i) = waiting.iter().position(|(r, _)| *r == request_id) {
                                let _ = waiting.swap_remove(i).1.send(Ok(response));
                            }
                        }
                    },
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure { request_id, error, .. }) => {
                        if let Some(i) = waiting.iter().position(|(r, _)| *r == request_id) {
                            let _ = waiting.swap_remove(i).1.send(Err(error.to_string()));
                        }
                    }
                    _ => {}
                },
                Some((bytes, reply)) = rx.recv() => {
                    let id = swarm.behaviour_mut().send_request(&victim, bytes);
                    waiting.push((id, reply));
                }
            }
        }
    });
    let peer = RawPeer { id: id.to_base58(), requests: tx };
    // Requests before the node has our status are refused (not ready).
    let probe =
        framed(&wire::encode_request(&SyncRequest::Blocks { from_height: u64::MAX, max_count: 1, max_bytes: 1 }));
    let deadline = Instant::now() + DEADLINE;
    while peer.request(probe.clone()).await.is_ok_and(|r| r == [0x8f, 3]) {
        assert!(Instant::now() < deadline, "the raw peer never passed the handshake");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peer
}

fn victim_peer_id(v: &Victim) -> PeerId {
    v.addr
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::P2p(id) => Some(id),
            _ => None,
        })
        .unwrap()
}

// --- the catalogue ---------------------------------------------------------------

#[derive(Clone, Copy)]
enum Topic {
    Txs,
    Blocks,
    Votes,
}

/// What a case sends.
enum Input {
    Gossip(Topic, Vec<u8>),
    /// A raw sync request (frame header included).
    Sync(Vec<u8>),
}

/// What the node must do about it.
#[derive(Debug)]
enum Expect {
    /// Penalise the sender for this misbehaviour (the name in the log).
    Penalised(&'static str),
    /// Ban the sender, the last penalty being this misbehaviour, and drop
    /// its connection.
    Banned(&'static str),
    /// No penalty.
    Ignored,
    /// A sync answer starting with these bytes, and the sender penalised
    /// for this misbehaviour (`None`: no penalty).
    Answered(Vec<u8>, Option<&'static str>),
}

struct Case {
    name: &'static str,
    /// Which peer sends it: a gossiper's name, or "raw".
    from: &'static str,
    build: Box<dyn Fn(&World) -> Input>,
    expect: Expect,
}

/// What cases are built from, read when each case runs.
struct World<'a> {
    v: &'a Victim,
    head: (u64, Hash),
    /// A vote the node published (heard by a gossiper).
    heard_vote: Option<Vec<u8>>,
    /// A transaction committed before the cases.
    committed: Tx,
}

fn case(name: &'static str, from: &'static str, expect: Expect, build: impl Fn(&World) -> Input + 'static) -> Case {
    Case { name, from, build: Box::new(build), expect }
}

fn garbage(tag: &str, n: usize) -> Vec<u8> {
    let mut b = format!("\x0a\x7f garbage {tag} ").into_bytes();
    b.resize(n.max(b.len()), 0x5a);
    b
}

fn transfer(w: &World, from: usize, nonce: u64, chain: &Hash) -> Tx {
    let k = &w.v.accounts[from];
    sign_tx(TxBody::transfer(nonce, &k.address(), &w.v.accounts[3].address(), Amount::ONE_AERGO, chain), k)
}

/// A DPoS block on `parent` (height `height`), signed by `key`, of the
/// chain named by `chain_id`.
fn block(w: &World, chain_id: &ChainId, parent: Hash, height: u64, key: &PrivateKey) -> Vec<u8> {
    let header = BlockHeader {
        chain_id: chain_id.to_bytes(),
        prev_block_hash: parent.to_vec(),
        block_no: height,
        timestamp: now_ns(),
        blocks_root_hash: Hash::sha256(b"some state").to_vec(),
        receipts_root_hash: Hash::ZERO.to_vec(),
        consensus: Qc { slot: w.v.slot_now().saturating_sub(1), block: parent, voter_count: 0, signatures: Vec::new() }
            .encode(),
        ..Default::default()
    };
    sign_block(header, Vec::new(), key).unwrap().encode()
}

fn other_chain() -> ChainId {
    ChainId::new(0, false, false, "other.chain", "dpos").unwrap()
}

/// Transactions as one gossip batch.
fn batch(txs: &[Tx]) -> Vec<u8> {
    aergo_types::encode_tx_batch(&txs.iter().map(Tx::encode).collect::<Vec<_>>())
}

fn cases() -> Vec<Case> {
    use Expect::*;
    use Topic::*;
    vec![
        // Transactions, gossiped in batches (`TxList`; 10 points each on
        // the tx topic; 25 for oversize).
        case("garbage transaction batch", "txs", Penalised("InvalidTx"), |_| Input::Gossip(Txs, garbage("tx", 64))),
        case("a transaction not in a batch", "txs", Penalised("InvalidTx"), |w| {
            Input::Gossip(Txs, transfer(w, 0, 3, &w.v.chain_hash).encode())
        }),
        case("an empty batch", "txs", Penalised("InvalidTx"), |_| Input::Gossip(Txs, Vec::new())),
        // Ignored, not penalised: it may be for a branch created in a block
        // this node has not seen yet.
        case("transaction of another chain (or an unknown branch)", "txs", Ignored, |w| {
            Input::Gossip(Txs, batch(&[transfer(w, 0, 2, &other_chain().hash())]))
        }),
        case("transaction with a forged signature", "txs", Penalised("InvalidTx"), |w| {
            let mut tx = transfer(w, 0, 2, &w.v.chain_hash);
            tx.body.as_mut().unwrap().sign = sign_tx(tx.body.clone().unwrap(), &w.v.accounts[1]).body.unwrap().sign;
            Input::Gossip(Txs, batch(&[tx]))
        }),
        case("a forged transaction behind a valid one in one batch", "txs", Penalised("InvalidTx"), |w| {
            let good = transfer(w, 0, 4, &w.v.chain_hash);
            let mut forged = transfer(w, 0, 5, &w.v.chain_hash);
            forged.body.as_mut().unwrap().sign =
                sign_tx(forged.body.clone().unwrap(), &w.v.accounts[1]).body.unwrap().sign;
            Input::Gossip(Txs, batch(&[good, forged]))
        }),
        case("oversize transaction batch", "txs", Penalised("OversizedMessage"), |_| {
            Input::Gossip(Txs, garbage("big batch", aergo_types::TX_BATCH_MAX_BYTES + 1024))
        }),
        case("a batch holding a transaction over its own bound", "txs", Penalised("InvalidTx"), |_| {
            let big =
                Tx { hash: vec![1; 32], body: Some(TxBody { payload: vec![7; 300 * 1024], ..TxBody::default() }) };
            Input::Gossip(Txs, batch(&[big]))
        }),
        case("replay of a committed transaction", "txs", Ignored, |w| {
            Input::Gossip(Txs, batch(std::slice::from_ref(&w.committed)))
        }),
        case("transaction the pool cannot take (nonce far ahead)", "txs", Ignored, |w| {
            Input::Gossip(Txs, batch(&[transfer(w, 0, 5_000, &w.v.chain_hash)]))
        }),
        // Votes (25 points each on the consensus topic).
        case("garbage vote", "votes", Penalised("InvalidConsensusMessage"), |_| {
            Input::Gossip(Votes, garbage("vote", 138))
        }),
        case("vote for another chain", "votes", Penalised("InvalidConsensusMessage"), |w| {
            let vote = Vote::sign(&other_chain().hash(), w.v.slot_now(), Hash::sha256(b"their block"), &w.v.producer);
            Input::Gossip(Votes, vote.encode())
        }),
        // Dropped by gossip deduplication (the node published it itself):
        // see the file's doc for the replica's own check.
        case("replayed vote", "votes", Ignored, |w| {
            Input::Gossip(Votes, w.heard_vote.clone().expect("a vote heard from the node"))
        }),
        case("oversize vote", "votes", Penalised("OversizedMessage"), |_| {
            Input::Gossip(Votes, garbage("big vote", 5000))
        }),
        // Blocks (50 points each: the second offence of a peer bans it).
        case("garbage block", "blocks-1", Penalised("InvalidBlock"), |_| Input::Gossip(Blocks, garbage("block", 300))),
        case("block with a forged signature", "blocks-1", Banned("InvalidBlock"), |w| {
            let mut b =
                aergo_types::Block::decode_bounded(&block(w, &w.v.chain_id, w.head.1, w.head.0 + 1, &w.v.producer))
                    .unwrap();
            b.header.as_mut().unwrap().timestamp += 1;
            Input::Gossip(Blocks, b.encode())
        }),
        case("block of another chain on our head", "blocks-2", Penalised("InvalidBlock"), |w| {
            Input::Gossip(Blocks, block(w, &other_chain(), w.head.1, w.head.0 + 1, &w.v.producer))
        }),
        case("block of another chain, its parent unknown here", "blocks-2", Banned("InvalidBlock"), |w| {
            Input::Gossip(Blocks, block(w, &other_chain(), Hash::sha256(b"their parent"), w.head.0 + 3, &w.v.producer))
        }),
        case("block by a key that is not a producer", "blocks-3", Penalised("InvalidBlock"), |w| {
            Input::Gossip(Blocks, block(w, &w.v.chain_id, w.head.1, w.head.0 + 1, &dev_key("not-a-producer", 0)))
        }),
        // Sync requests from a raw peer.
        case("blocks far above the head", "raw", Answered(vec![0x82, 0, 0, 0, 0], None), |_| {
            Input::Sync(framed(&wire::encode_request(&SyncRequest::Blocks {
                from_height: u64::MAX - 10,
                max_count: u32::MAX,
                max_bytes: u32::MAX,
            })))
        }),
        case("truncated sync request", "raw", Answered(vec![0x8f, 4], Some("MalformedMessage")), |_| {
            Input::Sync(framed(&[0x02, 1, 2]))
        }),
        case("unknown sync request kind", "raw", Answered(vec![0x8f, 4], Some("MalformedMessage")), |_| {
            Input::Sync(framed(&[0x55, 0, 0]))
        }),
        case("frame header promising 4 GiB", "raw", Answered(vec![0x8f, 4], Some("OversizedMessage")), |_| {
            Input::Sync(vec![0xff, 0xff, 0xff, 0xf0, 1, 2, 3])
        }),
    ]
}

async fn start_victim(tmp: &std::path::Path) -> Victim {
    let producer = dev_key("bp", 0);
    let chain_id = ChainId::new(0, false, false, "catalogue.p2p", "dpos").unwrap();
    let genesis_ts = now_ns();
    let (mut g, accounts) = dev_genesis(
        chain_id.clone(),
        genesis_ts,
        4,
        Amount::from_aergo(1_000_000).unwrap(),
        vec![producer.public_key().peer_id()],
    )
    .unwrap();
    g.dpos = Some(DposGenesis { block_interval_ms: Some(SLOT_MS), ..Default::default() });
    g.validate().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = NodeConfig::default();
    config.p2p.enabled = true;
    config.p2p.listen = format!("/ip4/127.0.0.1/tcp/{port}");
    let dir = tmp.join("victim");
    init_data_dir(&dir, InitOptions { genesis: g, node_key: producer.clone(), config }).unwrap();
    let node = NodeProc::start_logging(&dir, &[], "info,aergo_net=debug");
    let client = node.client();
    let s = client.status().await.unwrap();
    let genesis_hash = Hash::from_base58(s.raw["genesisHash"].as_str().unwrap()).unwrap();
    let peer_id = aergo_net::peer_id_from_key(&producer).unwrap();
    let addr = Multiaddr::from_str(&format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}")).unwrap();
    Victim { node, client, addr, chain_hash: chain_id.hash(), chain_id, genesis_hash, genesis_ts, producer, accounts }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_to_peer_door_penalises_bad_peers_and_keeps_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let v = start_victim(tmp.path()).await;
    let client = &v.client;

    // A committed transfer (for the replay) and a fixed height to watch.
    let first = sign_tx(
        TxBody::transfer(1, &v.accounts[0].address(), &v.accounts[3].address(), Amount::ONE_AERGO, &v.chain_hash),
        &v.accounts[0],
    );
    let h = client.send_tx(&first).await.unwrap();
    let r = client.wait_receipt(&h, WAIT_MS).await.unwrap();
    let watched = r["blockHeight"].as_u64().unwrap();
    let watched_hash = client.call("getBlock", json!([watched])).await.unwrap()["hash"].clone();
    let lib_before = client.status().await.unwrap().raw["lib"]["height"].as_u64().unwrap();
    let balances = async || {
        let mut out = Vec::new();
        for k in &v.accounts {
            let a = client.account(&k.address(), None).await.unwrap();
            out.push(json!([a.balance.aer().to_string(), a.nonce]));
        }
        out
    };
    let before = balances().await;

    let mut gossipers: Vec<(&'static str, Gossiper)> = Vec::new();
    let mut raw: Option<RawPeer> = None;
    let cases = cases();
    let mut failures = Vec::new();
    for c in &cases {
        let started = Instant::now();
        // The sender, started on first use.
        let sender_id = if c.from == "raw" {
            if raw.is_none() {
                raw = Some(raw_peer(&v).await);
            }
            raw.as_ref().unwrap().id.clone()
        } else {
            if !gossipers.iter().any(|(n, _)| *n == c.from) {
                gossipers.push((c.from, gossiper(&v, c.from).await));
            }
            gossipers.iter().find(|(n, _)| *n == c.from).unwrap().1.id.clone()
        };
        // The oldest vote the first gossiper heard: seconds old, so the
        // replaying peer (connected later) has never seen it, and gossip
        // no longer advertises it.
        let heard_vote = gossipers.first().and_then(|(_, g)| g.heard_votes.lock().unwrap().first().cloned());
        let world = World { v: &v, head: v.head().await, heard_vote, committed: first.clone() };
        let penalties_before = v.penalties(&sender_id).len();
        let outcome = match (c.build)(&world) {
            Input::Gossip(topic, bytes) => {
                let g = &gossipers.iter().find(|(n, _)| *n == c.from).unwrap().1;
                g.publish(topic, bytes).await.map(|()| Vec::new())
            }
            Input::Sync(bytes) => raw.as_ref().unwrap().request(bytes).await,
        };
        let result = judge(&v, &sender_id, penalties_before, &c.expect, outcome, &gossipers, c.from).await;
        if std::env::var_os("CATALOGUE_VERBOSE").is_some() {
            println!(
                "{:>6} ms  {}: {:?} {:?}",
                started.elapsed().as_millis(),
                c.name,
                c.expect,
                v.penalties(&sender_id).last()
            );
        }
        if let Err(e) = result {
            failures.push(format!("{}: expected {:?}: {e}", c.name, c.expect));
        }
        // Still serving, the watched block unchanged, no account moved.
        let b = client.call("getBlock", json!([watched])).await.unwrap();
        if b["hash"] != watched_hash {
            failures.push(format!("{}: block {watched} changed: {b}", c.name));
        }
        if balances().await != before {
            failures.push(format!("{}: an account changed", c.name));
        }
    }

    println!("catalogue_p2p: {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of the cases failed:\n{}\n\nnode log tail:\n{}",
        failures.len(),
        failures.join("\n\n"),
        tail(&v.node.stderr(), 60)
    );

    // The chain went on: finality advanced.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let lib = client.status().await.unwrap().raw["lib"]["height"].as_u64().unwrap();
        if lib >= lib_before + 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the LIB stayed at {lib} (was {lib_before})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // An honest peer's gossiped transaction, and one over JSON-RPC, commit.
    let honest = gossiper(&v, "honest").await;
    let k = &v.accounts[2];
    let gossiped =
        sign_tx(TxBody::transfer(1, &k.address(), &v.accounts[3].address(), Amount::ONE_AERGO, &v.chain_hash), k);
    honest.publish(Topic::Txs, batch(std::slice::from_ref(&gossiped))).await.unwrap();
    let r = client.wait_receipt(&gossiped.hash().unwrap(), WAIT_MS).await.unwrap();
    assert_eq!(r["status"], "SUCCESS", "{r}");
    let rpc = sign_tx(
        TxBody::transfer(2, &v.accounts[0].address(), &v.accounts[3].address(), Amount::ONE_AERGO, &v.chain_hash),
        &v.accounts[0],
    );
    let h = client.send_tx(&rpc).await.unwrap();
    assert_eq!(client.wait_receipt(&h, WAIT_MS).await.unwrap()["status"], "SUCCESS");
    for (_, g) in &gossipers {
        let _ = g.handle.shutdown().await;
    }
    let _ = honest.handle.shutdown().await;
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Checks what the node did about one message.
async fn judge(
    v: &Victim,
    sender: &str,
    penalties_before: usize,
    expect: &Expect,
    outcome: Result<Vec<u8>, String>,
    gossipers: &[(&'static str, Gossiper)],
    from: &str,
) -> Result<(), String> {
    let new_penalties = |v: &Victim| v.penalties(sender).split_off(penalties_before.min(v.penalties(sender).len()));
    let wait_penalty = async |v: &Victim| -> Result<String, String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = new_penalties(v).last() {
                return Ok(line.clone());
            }
            if Instant::now() > deadline {
                return Err("no penalty logged".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    match expect {
        Expect::Penalised(m) | Expect::Banned(m) => {
            outcome.map_err(|e| format!("not sent: {e}"))?;
            let line = wait_penalty(v).await?;
            let banned = matches!(expect, Expect::Banned(_));
            let want = if banned { "peer banned" } else { "peer penalised" };
            if !line.contains(want) || !line.contains(&format!("m={m}")) {
                return Err(format!("logged: {line}"));
            }
            if banned {
                let g = &gossipers.iter().find(|(n, _)| *n == from).ok_or("a banned raw peer")?.1;
                let deadline = Instant::now() + DEADLINE;
                while !g.handle.peers().await.map(|p| p.is_empty()).unwrap_or(true) {
                    if Instant::now() > deadline {
                        return Err("banned but still connected".into());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ok(())
        }
        Expect::Ignored => {
            outcome.map_err(|e| format!("not sent: {e}"))?;
            tokio::time::sleep(QUIET).await;
            match new_penalties(v).last() {
                Some(line) => Err(format!("penalised: {line}")),
                None => Ok(()),
            }
        }
        Expect::Answered(prefix, penalty) => {
            let body = outcome.map_err(|e| format!("no answer: {e}"))?;
            // The raw codec reads whole frames: the body after the header.
            if !body.starts_with(prefix) {
                return Err(format!("answered {:02x?}", &body[..body.len().min(16)]));
            }
            match penalty {
                Some(m) => {
                    let line = wait_penalty(v).await?;
                    if !line.contains(&format!("m={m}")) {
                        return Err(format!("logged: {line}"));
                    }
                }
                None => {
                    tokio::time::sleep(QUIET).await;
                    if let Some(line) = new_penalties(v).last() {
                        return Err(format!("penalised: {line}"));
                    }
                }
            }
            Ok(())
        }
    }
}
