//! AergoFS replication: files recorded on chain move between nodes.
//!
//! The chain's registry (`sys.files`, `exec::files`) says which files the
//! network keeps; the bytes live in each node's own store. This module
//! makes the two meet:
//!
//! - **Who keeps what.** Each registered file is kept by `fs.replicas`
//!   nodes chosen by rendezvous hashing: every node scores itself and each
//!   peer it is connected to with SHA-256(file hash ‖ peer id) and keeps
//!   the file when its own score is among the `replicas` highest. Nodes
//!   that see the same peers choose the same holders, with no
//!   coordination; a node joining or leaving moves only the files whose
//!   top scores it enters or leaves. `replicas = 0` keeps everything
//!   everywhere. A node never deletes a file because it is not chosen:
//!   whoever uploaded it keeps it too.
//! - **Fetching** ([`Node::fetch_file`]): only files registered and in
//!   force (a record whose paid term has passed is not), whose size the
//!   chain gives, so what a node downloads is bounded by what someone
//!   paid to record. Peers are asked in rendezvous order (the likely
//!   holders first, at most [`MAX_FETCH_PEERS`]); from one peer the file
//!   comes in pieces of at most 1 MiB (`aergo_net`'s file piece request),
//!   each checked for length against the recorded size, and the whole is
//!   checked against the hash before it is stored. A peer whose file does
//!   not hash to its name is penalised and the next one asked; one peer
//!   per attempt keeps the blame clear. At most `fs.max_concurrent_fetches`
//!   files are fetched at once, and their bytes together stay within
//!   `fs.fetch_buffer_bytes` (each is held whole in memory until it is
//!   checked); one file is fetched once however many ask for it.
//! - **The replication step** (every `fs.replicate_interval_ms`): walks
//!   the registry at the head from a cursor, [`FILES_PER_STEP`] records a
//!   step, fetching the files this node should keep and lacks (at most
//!   [`FETCHES_PER_STEP`]), wrapping at the end; a node that lost a volume
//!   gets its files back within one walk.
//! - **Healing.** A read that finds a damaged copy (its bytes no longer
//!   hash to its name), whether a client's, a peer's or the scrubber's
//!   (each step re-reads up to `fs.scrub_bytes_per_step` of held files),
//!   deletes the damaged needle and fetches the file again. A peer asked
//!   for a file this node holds damaged is told it is not here.
//! - **Read-through.** `GET /fs/HASH` for a registered file this node does
//!   not hold fetches it first, so every node serves every registered
//!   file, whatever the replication factor.
//!
//! Not here: erasure coding, per-chunk deduplication (a file is one needle
//! and one unit of transfer; identical files are stored once), and files
//! that are not registered (a node fetches nothing on a stranger's say).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aergo_fs::{FsError, FsStore, Hash};
use aergo_net::{Misbehaviour, NetworkHandle, PeerId};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::{Node, NodeError};

/// Peers asked for one file before giving up until the next step.
pub(crate) const MAX_FETCH_PEERS: usize = 8;
/// Registry records looked at per replication step.
pub(crate) const FILES_PER_STEP: usize = 256;
/// Files fetched per replication step (the rest wait for the next).
pub(crate) const FETCHES_PER_STEP: usize = 64;
/// Held files listed per scrub read batch.
const SCRUB_BATCH: usize = 64;
/// Times one fetch waits for a busy peer before it asks the next one.
const BUSY_RETRIES: u32 = 20;
/// The first wait for a busy peer; each next one is longer by as much.
const BUSY_BACKOFF: Duration = Duration::from_millis(5);
/// How long a second asker waits for a fetch already under way.
const JOIN_FETCH_POLL: Duration = Duration::from_millis(50);

/// Files remembered as checked for peers, so that a peer asking for the
/// first piece of one file again and again costs one check, not one each.
const VERIFIED_MAX: usize = 1_024;
/// How long a check stands for peers.
const VERIFIED_FOR: Duration = Duration::from_secs(600);

/// The unit of the fetch buffer's permits: a file of `n` bytes takes
/// `ceil(n / FETCH_PERMIT_BYTES)` of them (at least one).
const FETCH_PERMIT_BYTES: u64 = 1 << 10;

/// What replication keeps between steps.
pub(crate) struct FsReplication {
    /// Files being fetched now.
    in_flight: Mutex<BTreeSet<Hash>>,
    /// `fs.fetch_buffer_bytes` in [`FETCH_PERMIT_BYTES`] units.
    buffer: tokio::sync::Semaphore,
    /// Most permits one fetch may take (the whole buffer).
    buffer_permits: u32,
    /// Held files checked whole recently, with when (bounded).
    verified: Mutex<std::collections::BTreeMap<Hash, std::time::Instant>>,
}

impl FsReplication {
    pub(crate) fn new(fetch_buffer_bytes: u64) -> FsReplication {
        let buffer_permits =
            u32::try_from((fetch_buffer_bytes / FETCH_PERMIT_BYTES).max(1)).unwrap_or(u32::MAX).min(1 << 28);
        FsReplication {
            in_flight: Mutex::new(BTreeSet::new()),
            buffer: tokio::sync::Semaphore::new(buffer_permits as usize),
            buffer_permits,
            verified: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    fn recently_verified(&self, key: &Hash) -> bool {
        let v = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        v.get(key).is_some_and(|at| at.elapsed() < VERIFIED_FOR)
    }

    fn note_verified(&self, key: Hash) {
        let mut v = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() >= VERIFIED_MAX {
            v.retain(|_, at| at.elapsed() < VERIFIED_FOR);
            if v.len() >= VERIFIED_MAX {
                v.clear();
            }
        }
        v.insert(key, std::time::Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<Hash>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes a file from the in-flight set however the fetch ends.
struct InFlight<'a> {
    repl: &'a FsReplication,
    key: Hash,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.repl.lock().remove(&self.key);
    }
}

/// The rendezvous score of `peer` for `key`.
fn score(key: &Hash, peer: &PeerId) -> Hash {
    Hash::sha256_parts(&[key.as_bytes(), &peer.to_bytes()])
}

/// Whether `me` is among the `replicas` holders of `key` chosen from `me`
/// and `peers` (all of them when `replicas` is 0).
pub(crate) fn keeps(key: &Hash, me: &PeerId, peers: &[PeerId], replicas: u32) -> bool {
    if replicas == 0 {
        return true;
    }
    let mine = score(key, me);
    let above = peers.iter().filter(|p| *p != me && score(key, p) > mine).count();
    above < replicas as usize
}

/// `peers` in the order to ask them for `key`: highest score first.
fn ask_order(key: &Hash, peers: &mut [PeerId]) {
    peers.sort_by_key(|p| std::cmp::Reverse(score(key, p)));
}

fn file_error(key: &Hash, reason: &'static str, message: impl Into<String>) -> NodeError {
    NodeError::File { hash: key.to_string(), reason, message: message.into() }
}

impl Node {
    fn fs_store(&self, key: &Hash) -> Result<Arc<FsStore>, NodeError> {
        self.fs.clone().ok_or_else(|| file_error(key, "UNAVAILABLE", "AergoFS is off on this node ([fs] enabled)"))
    }

    fn network(&self, key: &Hash) -> Result<NetworkHandle, NodeError> {
        Self::lock(&self.net)
            .clone()
            .ok_or_else(|| file_error(key, "UNAVAILABLE", "the network is off: no peer to fetch it from"))
    }

    /// Fetches the registered file `key` from peers and stores it; returns
    /// at once when it is already held. See the module doc.
    pub(crate) async fn fetch_file(self: &Arc<Self>, key: Hash) -> Result<(), NodeError> {
        let store = self.fs_store(&key)?;
        // One fetch per file: a second asker waits for the first.
        let _guard = loop {
            if store.contains(&key) {
                return Ok(());
            }
            if self.fs_repl.lock().insert(key) {
                break InFlight { repl: &self.fs_repl, key };
            }
            tokio::time::sleep(JOIN_FETCH_POLL).await;
        };
        if store.contains(&key) {
            return Ok(());
        }
        let chain = self.chain.clone();
        let record = tokio::task::spawn_blocking(move || {
            aergo_exec::files::lookup_in_force(&chain.head_state(), &key, chain.head().height)
        })
        .await
        .map_err(|e| file_error(&key, "UNAVAILABLE", format!("registry read failed: {e}")))?
        .map_err(|e| file_error(&key, "UNAVAILABLE", format!("registry read failed: {e}")))?
        .ok_or_else(|| {
            file_error(&key, "UNKNOWN_FILE", "not on this node, and not registered on chain (or its term passed)")
        })?;
        let settings = &self.config.fs;
        if record.size > settings.max_file_bytes {
            return Err(file_error(
                &key,
                "TOO_LARGE",
                format!("registered with {} bytes, above fs.max_file_bytes = {}", record.size, settings.max_file_bytes),
            ));
        }
        let used = store.stats().volume_bytes;
        if used.saturating_add(record.size) > settings.quota_bytes {
            return Err(file_error(
                &key,
                "QUOTA",
                format!(
                    "the store holds {used} bytes; {} more would pass fs.quota_bytes = {}",
                    record.size, settings.quota_bytes
                ),
            ));
        }
        // The file is held whole while it is fetched: its bytes come out
        // of the fetch buffer until it is stored.
        let permits = (record.size.div_ceil(FETCH_PERMIT_BYTES).max(1)).min(u64::from(self.fs_repl.buffer_permits));
        let _buffer = self
            .fs_repl
            .buffer
            .acquire_many(permits as u32)
            .await
            .map_err(|_| file_error(&key, "UNAVAILABLE", "stopping"))?;
        let net = self.network(&key)?;
        let mut peers: Vec<PeerId> = net
            .peers()
            .await
            .map_err(|e| file_error(&key, "UNAVAILABLE", e.to_string()))?
            .into_iter()
            .map(|p| p.peer)
            .collect();
        ask_order(&key, &mut peers);
        peers.truncate(MAX_FETCH_PEERS);
        let mut failures = Vec::new();
        for peer in &peers {
            match fetch_from_peer(&net, *peer, &key, record.size).await {
                Ok(Some((content_type, data))) => {
                    let s = store.clone();
                    let put = tokio::task::spawn_blocking(move || s.put(&content_type, &data)).await;
                    return match put {
                        Ok(Ok(_)) => {
                            self.metrics.fs_replication("fetched");
                            tracing::info!(%key, %peer, size = record.size, "AergoFS file fetched from a peer");
                            Ok(())
                        }
                        Ok(Err(e)) => Err(file_error(&key, "UNAVAILABLE", format!("storing it failed: {e}"))),
                        Err(e) => Err(file_error(&key, "UNAVAILABLE", format!("storing it failed: {e}"))),
                    };
                }
                Ok(None) => {}
                Err(why) => failures.push(format!("{peer}: {why}")),
            }
        }
        self.metrics.fs_replication("failed");
        let asked = peers.len();
        let detail = if failures.is_empty() { String::new() } else { format!(" ({})", failures.join("; ")) };
        Err(file_error(&key, "UNAVAILABLE", format!("registered, but none of the {asked} peers asked has it{detail}")))
    }

    /// Deletes a damaged copy of `key` and fetches the file again.
    pub(crate) async fn heal_file(self: &Arc<Self>, key: Hash) -> Result<(), NodeError> {
        let store = self.fs_store(&key)?;
        tracing::warn!(%key, "AergoFS copy damaged: fetching it again from a peer");
        let s = store.clone();
        tokio::task::spawn_blocking(move || s.delete(&key))
            .await
            .map_err(|e| file_error(&key, "UNAVAILABLE", e.to_string()))?
            .map_err(|e| file_error(&key, "UNAVAILABLE", format!("dropping the damaged copy failed: {e}")))?;
        self.fetch_file(key).await?;
        self.metrics.fs_replication("healed");
        Ok(())
    }

    /// A piece of a held file for a peer. The whole file is checked before
    /// its first piece goes out (once per [`VERIFIED_FOR`]), so a damaged
    /// copy is not passed on (it is healed instead, and the peer told it
    /// is not here).
    pub(crate) fn serve_file_piece(
        self: &Arc<Self>,
        key: Hash,
        offset: u64,
        len: u32,
    ) -> Result<Option<aergo_fs::Piece>, FsError> {
        let Some(store) = &self.fs else { return Ok(None) };
        if offset == 0 && !self.fs_repl.recently_verified(&key) {
            match store.verify(&key) {
                Ok(true) => self.fs_repl.note_verified(key),
                Ok(false) => return Ok(None),
                Err(FsError::Corrupt { reason }) => {
                    tracing::warn!(%key, %reason, "a peer asked for a damaged file");
                    self.spawn_heal(key);
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        store.read_piece(&key, offset, len)
    }

    /// Heals `key` in the background (from any thread in the runtime).
    pub(crate) fn spawn_heal(self: &Arc<Self>, key: Hash) {
        let node = self.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = node.heal_file(key).await {
                    tracing::warn!(%e, "AergoFS healing failed; the next replication step tries again");
                }
            });
        }
    }

    /// One replication step; returns the registry cursor for the next.
    async fn replicate_step(self: &Arc<Self>, cursor: Option<Hash>, scrub: &mut Option<Hash>) -> Option<Hash> {
        let (Some(store), Some(net)) = (self.fs.clone(), Self::lock(&self.net).clone()) else { return cursor };
        let me = net.local_peer_id();
        let peers: Vec<PeerId> = match net.peers().await {
            Ok(p) => p.into_iter().map(|p| p.peer).collect(),
            Err(_) => return cursor,
        };
        let chain = self.chain.clone();
        let page = tokio::task::spawn_blocking(move || {
            let height = chain.head().height;
            aergo_exec::files::list(&chain.head_state(), cursor.as_ref(), FILES_PER_STEP).map(|p| (p, height))
        })
        .await;
        let (page, height) = match page {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::warn!(%e, "AergoFS replication: registry read failed");
                return cursor;
            }
            Err(_) => return cursor,
        };
        let next = if page.len() < FILES_PER_STEP { None } else { page.last().map(|r| r.hash) };
        let wanted: Vec<Hash> = page
            .iter()
            .filter(|r| r.in_force_at(height) && !store.contains(&r.hash))
            .filter(|r| keeps(&r.hash, &me, &peers, self.config.fs.replicas))
            .take(FETCHES_PER_STEP)
            .map(|r| r.hash)
            .collect();
        // Several at once: a small file is a round trip or two, and the
        // fetch buffer bounds the bytes held whatever the count.
        futures_util::stream::iter(wanted)
            .for_each_concurrent(self.config.fs.max_concurrent_fetches, |key| async move {
                if let Err(e) = self.fetch_file(key).await {
                    tracing::debug!(%e, "AergoFS replication: not fetched this step");
                }
            })
            .await;
        self.scrub_step(&store, scrub).await;
        next
    }

    /// Re-reads up to `fs.scrub_bytes_per_step` of held files from
    /// `cursor` on, healing what is damaged.
    async fn scrub_step(self: &Arc<Self>, store: &Arc<FsStore>, cursor: &mut Option<Hash>) {
        let budget = self.config.fs.scrub_bytes_per_step;
        if budget == 0 {
            return;
        }
        let s = store.clone();
        let from = *cursor;
        let checked = tokio::task::spawn_blocking(move || {
            let mut read = 0u64;
            let mut damaged = Vec::new();
            let mut at = from;
            while read < budget {
                let batch = s.list(at.as_ref(), SCRUB_BATCH);
                for (key, loc) in &batch {
                    if read >= budget {
                        return (damaged, at);
                    }
                    read += u64::from(loc.len);
                    at = Some(*key);
                    if let Err(FsError::Corrupt { reason }) = s.get(key) {
                        tracing::warn!(%key, %reason, "AergoFS scrub found a damaged copy");
                        damaged.push(*key);
                    }
                }
                if batch.len() < SCRUB_BATCH {
                    return (damaged, None);
                }
            }
            (damaged, at)
        })
        .await;
        let Ok((damaged, next)) = checked else { return };
        *cursor = next;
        for key in damaged {
            if let Err(e) = self.heal_file(key).await {
                tracing::warn!(%e, "AergoFS healing failed; the next step tries again");
            }
        }
    }
}

/// The whole file `key` of `size` bytes from `peer`, checked: its content
/// type and bytes, or `None` when the peer does not hold it; an error says
/// why the peer failed (a peer whose bytes do not hash to the name is
/// penalised). The replication's transfer, public for `aergo bench fs`.
pub async fn fetch_from_peer(
    net: &NetworkHandle,
    peer: PeerId,
    key: &Hash,
    size: u64,
) -> Result<Option<(String, Vec<u8>)>, String> {
    let piece_max = aergo_net::wire::MAX_FILE_PIECE_BYTES as u64;
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut content_type = String::new();
    let mut busy = 0u32;
    // Bounded: each round adds a piece of at least one byte, ends, or
    // counts towards BUSY_RETRIES.
    loop {
        let offset = data.len() as u64;
        let len = (size - offset).min(piece_max) as u32;
        let piece = match net.request_file_piece(peer, *key, offset, len).await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            // The peer serves a few requests from us at a time (or we have
            // a few out to it): other fetches are under way; wait a little.
            Err(aergo_net::NetError::Refused { refusal: aergo_net::wire::Refusal::Busy, .. })
            | Err(aergo_net::NetError::TooManyPending { .. })
                if busy < BUSY_RETRIES =>
            {
                busy += 1;
                tokio::time::sleep(BUSY_BACKOFF * busy).await;
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        if piece.size != size {
            // Not a lie we can prove: the record's size is its owner's claim.
            return Err(format!("it holds {} bytes under this name, the chain records {size}", piece.size));
        }
        if offset == 0 {
            content_type = piece.content_type;
        }
        data.extend_from_slice(&piece.bytes);
        if data.len() as u64 >= size {
            break;
        }
    }
    if Hash::sha256(&data) != *key {
        let _ = net.report(peer, Misbehaviour::InvalidSyncResponse).await;
        return Err("its bytes do not hash to the file's name".into());
    }
    Ok(Some((content_type, data)))
}

/// Every `fs.replicate_interval_ms` until the node stops: one replication
/// step (see the module doc).
pub(crate) async fn replicate(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(node.config.fs.replicate_interval_ms);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut cursor, mut scrub) = (None, None);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            next = node.replicate_step(cursor, &mut scrub) => cursor = next,
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendezvous_chooses_exactly_replicas_holders_among_agreeing_nodes() {
        let nodes: Vec<PeerId> = (0..7).map(|_| PeerId::random()).collect();
        for i in 0..200u32 {
            let key = Hash::sha256(&i.to_be_bytes());
            for replicas in [1u32, 2, 3, 7, 9] {
                let holders = nodes.iter().filter(|me| keeps(&key, me, &nodes, replicas)).count();
                assert_eq!(holders, (replicas as usize).min(nodes.len()), "file {i}, replicas {replicas}");
            }
            assert!(nodes.iter().all(|me| keeps(&key, me, &nodes, 0)), "0 keeps everything everywhere");
            // The likely holders are asked first.
            let mut order = nodes.clone();
            ask_order(&key, &mut order);
            assert!(keeps(&key, &order[0], &nodes, 1));
        }
    }

    #[test]
    fn a_node_alone_keeps_what_it_is_asked_to() {
        let me = PeerId::random();
        assert!(keeps(&Hash::sha256(b"x"), &me, &[], 1));
        assert!(keeps(&Hash::sha256(b"x"), &me, &[me], 1), "itself in the list counts once");
    }
}
