//! Block sync throughput over the network service versus plain TCP.
//!
//! Run: `CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo run -p aergo-net --example
//! sync_bench [rounds]` (default 6), or the same with `--release`. The
//! optimisation matters: libp2p's transport, noise and yamux code is generic
//! and is compiled into this crate, at this crate's opt level, so an
//! unoptimised dev build moves blocks some 20 times slower (about 10 MiB/s
//! here). The env var keeps the dev profile, whose dependencies are already
//! optimised, so only the workspace crates are rebuilt. Two nodes on 127.0.0.1: one serves `BLOCKS` blocks of
//! `BLOCK_BYTES` bytes from memory, the other fetches them in requests of
//! `BATCH` blocks. The reference is the same request/response pattern over
//! one plain tokio TCP connection with length-prefixed frames (no noise
//! encryption, no yamux, no provider hop). Rounds alternate between the two
//! so machine load hits both figures alike. The last line is
//! `BENCH net_sync libp2p_mib_s=.. tcp_mib_s=.. libp2p_vs_tcp=..`.

use aergo_crypto::dev_key;
use aergo_net::{Network, PeerStatus, SyncProvider};
use aergo_types::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BLOCKS: u64 = 64;
const BLOCK_BYTES: usize = 64 * 1024;
const BATCH: u32 = 16;

struct MemChain {
    blocks: Vec<Vec<u8>>,
}

impl MemChain {
    fn new() -> MemChain {
        MemChain { blocks: (0..BLOCKS).map(|h| vec![(h % 251) as u8; BLOCK_BYTES]).collect() }
    }

    fn range(&self, from: u64, count: u32) -> Vec<Vec<u8>> {
        let from = (from as usize).min(self.blocks.len());
        let to = from.saturating_add(count as usize).min(self.blocks.len());
        self.blocks[from..to].to_vec()
    }
}

impl SyncProvider for MemChain {
    fn status(&self) -> PeerStatus {
        PeerStatus {
            chain_id_hash: Hash::sha256(b"bench"),
            genesis_hash: Hash::ZERO,
            best_height: BLOCKS - 1,
            best_hash: Hash::ZERO,
            lib_height: 0,
        }
    }

    fn blocks(&self, from: u64, count: u32, _max_bytes: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        Ok(self.range(from, count))
    }
}

fn config(n: u32) -> aergo_net::NetConfig {
    let mut c = aergo_net::NetConfig::new(dev_key("net-bench", n), Hash::sha256(b"bench"));
    c.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    c.limits.max_sync_blocks = BATCH;
    c.limits.inbound_requests_per_sec = 1_000_000;
    c.limits.inbound_request_burst = 1_000_000;
    c
}

/// Plain TCP server: request = from:u64 count:u32, response = frames.
async fn tcp_server(listener: TcpListener, chain: Arc<MemChain>) {
    let Ok((mut sock, _)) = listener.accept().await else { return };
    let _ = sock.set_nodelay(true);
    let mut req = [0u8; 12];
    while sock.read_exact(&mut req).await.is_ok() {
        let from = u64::from_be_bytes(req[..8].try_into().expect("8 bytes"));
        let count = u32::from_be_bytes(req[8..].try_into().expect("4 bytes"));
        let blocks = chain.range(from, count);
        let mut out = Vec::new();
        out.extend_from_slice(&(blocks.len() as u32).to_be_bytes());
        for b in &blocks {
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn tcp_fetch_all(sock: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut from = 0u64;
    while from < BLOCKS {
        let mut req = from.to_be_bytes().to_vec();
        req.extend_from_slice(&BATCH.to_be_bytes());
        sock.write_all(&req).await.expect("tcp write");
        let n = sock.read_u32().await.expect("tcp read");
        for _ in 0..n {
            let len = sock.read_u32().await.expect("tcp read") as usize;
            let mut buf = vec![0u8; len];
            sock.read_exact(&mut buf).await.expect("tcp read");
            total += len;
        }
        from += u64::from(n);
    }
    total
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(6);
    let chain = Arc::new(MemChain::new());

    let (server, _server_events) = Network::start(config(0), chain.clone()).await.expect("server starts");
    let addr = server.listen_addrs().await.expect("running")[0]
        .clone()
        .with(libp2p::multiaddr::Protocol::P2p(server.local_peer_id()));
    let mut cc = config(1);
    cc.bootstrap = vec![addr];
    let (client, _client_events) = Network::start(cc, Arc::new(MemChain::new())).await.expect("client starts");
    let server_id = server.local_peer_id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.peers().await.expect("running").iter().any(|p| p.peer == server_id) {
        assert!(Instant::now() < deadline, "no handshake in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tcp_addr = listener.local_addr().expect("addr");
    tokio::spawn(tcp_server(listener, chain.clone()));
    let mut sock = TcpStream::connect(tcp_addr).await.expect("connect");
    sock.set_nodelay(true).expect("nodelay");

    let t = Instant::now();
    for _ in 0..20 {
        client.request_status(server_id).await.expect("status");
    }
    println!("status round trip: {:?}", t.elapsed() / 20);
    // Warm-up of both paths.
    tcp_fetch_all(&mut sock).await;
    client.request_blocks(server_id, 0, BATCH).await.expect("warm-up");

    let (mut p2p_time, mut p2p_bytes, mut tcp_time, mut tcp_bytes) = (Duration::ZERO, 0usize, Duration::ZERO, 0usize);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut from = 0u64;
        while from < BLOCKS {
            let got = client.request_blocks(server_id, from, BATCH).await.expect("sync");
            p2p_bytes += got.iter().map(Vec::len).sum::<usize>();
            from += got.len() as u64;
        }
        p2p_time += t.elapsed();

        let t = Instant::now();
        tcp_bytes += tcp_fetch_all(&mut sock).await;
        tcp_time += t.elapsed();
    }
    let mib = |bytes: usize, t: Duration| bytes as f64 / (1024.0 * 1024.0) / t.as_secs_f64();
    let (p2p, tcp) = (mib(p2p_bytes, p2p_time), mib(tcp_bytes, tcp_time));
    println!(
        "{rounds} rounds of {BLOCKS} blocks x {BLOCK_BYTES} bytes in batches of {BATCH}: \
         libp2p {p2p_bytes} bytes in {p2p_time:?}, tcp {tcp_bytes} bytes in {tcp_time:?}"
    );
    println!("BENCH net_sync libp2p_mib_s={p2p:.1} tcp_mib_s={tcp:.1} libp2p_vs_tcp={:.3}", p2p / tcp);
    client.shutdown().await.expect("client stops");
    server.shutdown().await.expect("server stops");
}
