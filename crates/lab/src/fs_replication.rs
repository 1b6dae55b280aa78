//! `aergo bench fs`'s replication rounds: files moved from one store to
//! another over the p2p network, by the node's own transfer
//! (`aergo_node::fs_replica::fetch_from_peer`: pieces of at most 1 MiB,
//! the whole file checked against its hash, then stored), between two
//! `aergo_net` services on loopback in this process (TCP, noise and yamux,
//! as between real nodes), as many files at once as a node fetches by
//! default (`[fs] max_concurrent_fetches`). The reference, in the same run: reading the
//! same files from the sending store (`FsStore::get`, checked as well).
//! The ratio is what the network costs over a local read of the same
//! bytes; above 1 would mean the network is the faster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aergo_client::{CliError, Result};
use aergo_fs::{FsConfig, FsStore, Hash};
use aergo_net::wire::{FilePiece, PeerStatus};
use aergo_net::{NetConfig, Network, NetworkHandle, PeerId, SyncProvider};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// One round's figures.
#[derive(Clone, Debug)]
pub struct ReplicationFigures {
    pub size: usize,
    pub files: u64,
    /// Files fetched from the peer and stored, per second.
    pub fetched_per_sec: f64,
    /// Files read from the local store, per second (the reference).
    pub local_per_sec: f64,
}

fn err(reason: impl std::fmt::Display) -> CliError {
    CliError::Task { what: "bench fs (replication)", reason: reason.to_string() }
}

/// Serves one store's files; no blocks.
struct StoreProvider {
    store: Arc<FsStore>,
    status: PeerStatus,
}

impl SyncProvider for StoreProvider {
    fn status(&self) -> PeerStatus {
        self.status
    }

    fn blocks(&self, _from: u64, _count: u32, _max_bytes: usize) -> aergo_net::Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }

    fn file_piece(&self, key: Hash, offset: u64, len: u32) -> aergo_net::Result<Option<FilePiece>> {
        match self.store.read_piece(&key, offset, len) {
            Ok(p) => Ok(p.map(|p| FilePiece { size: p.size, content_type: p.content_type, bytes: p.data })),
            Err(e) => Err(aergo_net::NetError::Provider { reason: e.to_string() }),
        }
    }
}

async fn start(n: u32, store: Arc<FsStore>, bootstrap: Vec<aergo_net::Multiaddr>) -> Result<NetworkHandle> {
    let chain = Hash::sha256(b"bench fs replication");
    let mut config = NetConfig::new(aergo_crypto::dev_key("bench-fs-replication", n), chain);
    config.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().map_err(err)?];
    config.bootstrap = bootstrap;
    let status = PeerStatus { chain_id_hash: chain, genesis_hash: chain, ..PeerStatus::default() };
    let (handle, mut events) = Network::start(config, Arc::new(StoreProvider { store, status })).await.map_err(err)?;
    // Nobody gossips here; drain the events so the service never waits.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok(handle)
}

async fn round(size: usize, count: u64, content: &dyn Fn(u64, usize) -> Vec<u8>) -> Result<ReplicationFigures> {
    let tmp = tempfile::tempdir().map_err(err)?;
    let cfg = FsConfig { sync: false, ..FsConfig::default() };
    let from = Arc::new(FsStore::open(&tmp.path().join("from"), cfg.clone()).map_err(err)?);
    let to = FsStore::open(&tmp.path().join("to"), cfg).map_err(err)?;
    let keys: Vec<Hash> = (0..count)
        .map(|i| from.put("application/octet-stream", &content(i, size)).map(|p| p.key))
        .collect::<std::result::Result<_, _>>()
        .map_err(err)?;

    let t = Instant::now();
    for k in &keys {
        let f = from.get(k).map_err(err)?.ok_or_else(|| err("a file vanished"))?;
        assert_eq!(f.data.len(), size);
    }
    let local_per_sec = count as f64 / t.elapsed().as_secs_f64().max(1e-9);

    let a = start(1, from.clone(), Vec::new()).await?;
    let addr = a.listen_addrs().await.map_err(err)?.first().cloned().ok_or_else(|| err("no listen address"))?;
    let addr: aergo_net::Multiaddr = format!("{addr}/p2p/{}", a.local_peer_id()).parse().map_err(err)?;
    let b =
        start(2, Arc::new(FsStore::open(&tmp.path().join("unused"), FsConfig::default()).map_err(err)?), vec![addr])
            .await?;
    let peer: PeerId = a.local_peer_id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.peers().await.map_err(err)?.iter().any(|p| p.peer == peer) {
        if Instant::now() > deadline {
            return Err(err("the two services never connected"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // As many at once as a node fetches by default.
    let concurrency = aergo_node::config::FsSettings::default().max_concurrent_fetches;
    let t = Instant::now();
    let results: Vec<Result<()>> = futures_util::stream::iter(&keys)
        .map(|k| {
            let (b, to) = (&b, &to);
            async move {
                let (content_type, data) = aergo_node::fs_replica::fetch_from_peer(b, peer, k, size as u64)
                    .await
                    .map_err(err)?
                    .ok_or_else(|| err("the peer does not hold a file it stored"))?;
                to.put(&content_type, &data).map_err(err)?;
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let fetched_per_sec = count as f64 / t.elapsed().as_secs_f64().max(1e-9);
    assert_eq!(to.stats().files, count, "every file arrived");
    let _ = a.shutdown().await;
    let _ = b.shutdown().await;
    Ok(ReplicationFigures { size, files: count, fetched_per_sec, local_per_sec })
}

/// One round per `(file size, files)`.
pub fn bench_replication(
    rounds: &[(usize, u64)],
    content: &dyn Fn(u64, usize) -> Vec<u8>,
    progress: &mut dyn FnMut(String),
) -> Result<Vec<ReplicationFigures>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(err)?;
    let mut out = Vec::new();
    for &(size, count) in rounds {
        progress(format!("replication: {count} files of {size} bytes between two nodes"));
        out.push(rt.block_on(round(size, count, content))?);
    }
    Ok(out)
}

impl ReplicationFigures {
    pub fn bench_line(&self) -> String {
        let mb = self.fetched_per_sec * self.size as f64 / 1e6;
        format!(
            "BENCH fs_replication size={} files={} fetched_per_sec={:.0} mb_per_sec={mb:.1} local_reads_per_sec={:.0} \
             ratio_vs_local_read={:.3}",
            self.size,
            self.files,
            self.fetched_per_sec,
            self.local_per_sec,
            self.fetched_per_sec / self.local_per_sec.max(1e-9),
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "size": self.size,
            "files": self.files,
            "fetchedPerSec": self.fetched_per_sec,
            "localReadsPerSec": self.local_per_sec,
            "bench": self.bench_line(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_cross_the_network_whole_and_the_figures_are_real() {
        let rounds = [(1_024usize, 20u64), ((2 << 20) + 3, 2)];
        let figures = bench_replication(&rounds, &crate::fs::content, &mut |_| {}).unwrap();
        assert_eq!(figures.len(), 2);
        for f in &figures {
            assert!(f.fetched_per_sec > 0.0 && f.local_per_sec > 0.0, "{f:?}");
            assert!(f.bench_line().starts_with("BENCH fs_replication size="), "{}", f.bench_line());
        }
    }
}
