//! aergo-fs: AergoFS, a Haystack-style store for very many files,
//! content-addressed (a file's name is the SHA-256 of its bytes).
//!
//! Bird's-eye view: files are appended as *needles* ([`needle`]) to large
//! *volume* files (`vol-00000001.dat`, ...; a new one is started when the
//! active one would pass `max_volume_bytes`). An in-memory index maps each
//! key to (volume, offset, needle length), so reading a file is one
//! positioned read of exactly its needle, checked (a CRC-32 of the data
//! and a header check) before it is returned; [`FsStore::verify`] checks
//! a file whole against its key, its SHA-256. Deleting appends a tombstone and drops the index entry.
//! The index is checkpointed to `index.ckpt` (every `checkpoint_every`
//! writes and on [`FsStore::checkpoint`]); opening loads the checkpoint and
//! scans only the volumes' tails past it. A torn needle at the end of the
//! active volume (a crash mid-write) is cut off; everything acknowledged
//! before it is kept (with `sync`, acknowledged means on disk).
//! [`FsStore::compact`] rewrites a sealed volume without its dead needles
//! while reads and writes go on. The on-disk formats are in `FORMAT.md`.
//!
//! Memory per file: one `BTreeMap` entry of a 32-byte key and a 16-byte
//! location, about 70 bytes with the tree's own overhead.
//!
//! Concurrency: one writer at a time (appends are sequential, which is what
//! makes the tail scan sound), readers in parallel; lock order is writer,
//! then index. A reader holds the volume's file handle (`Arc`), so a
//! compaction that replaces the file under it never breaks a read.
//!
//! Deliberately absent here: networking, quotas and fees, replication
//! (the node's), and SQL.

pub mod needle;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub use aergo_hash::Hash;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("damaged data: {reason}")]
    Corrupt { reason: String },
    #[error("file of {got} bytes exceeds the limit of {max}")]
    TooLarge { got: u64, max: u64 },
    #[error("content type {got:?}: expected printable ASCII of at most 127 bytes")]
    BadContentType { got: String },
    #[error("the store is full: {reason}")]
    Full { reason: String },
}

pub type Result<T, E = FsError> = std::result::Result<T, E>;

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FsError {
    let path = path.to_path_buf();
    move |source| FsError::Io { what, path, source }
}

/// How a store behaves.
#[derive(Clone, Debug)]
pub struct FsConfig {
    /// A new volume is started when a needle would take the active one
    /// past this size.
    pub max_volume_bytes: u64,
    /// Largest file accepted.
    pub max_file_bytes: u64,
    /// `fsync` each write before it is acknowledged.
    pub sync: bool,
    /// Writes between index checkpoints.
    pub checkpoint_every: u64,
}

impl Default for FsConfig {
    fn default() -> Self {
        // A checkpoint writes the whole index (48 bytes a file): inside a
        // put only every million writes, which also bounds the tail an
        // open scans; the node checkpoints every minute besides.
        FsConfig { max_volume_bytes: 1 << 30, max_file_bytes: 256 << 20, sync: true, checkpoint_every: 1_000_000 }
    }
}

/// Where a needle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub volume: u32,
    pub offset: u64,
    /// The whole needle, padding included.
    pub len: u32,
}

/// A file as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileData {
    pub key: Hash,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Put {
    pub key: Hash,
    pub size: u64,
    /// False when the same bytes were already stored (nothing written).
    pub written: bool,
}

/// A file's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub key: Hash,
    pub size: u64,
    pub content_type: String,
    pub loc: Loc,
}

/// A piece of a file ([`FsStore::read_piece`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The whole file's size.
    pub size: u64,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Figures of a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub volumes: u64,
    /// Bytes of all volumes.
    pub volume_bytes: u64,
    /// Of those, needles no file points at (deleted or replaced), which a
    /// compaction would reclaim.
    pub dead_bytes: u64,
    /// Positioned reads done for file reads since the store opened.
    pub reads: u64,
}

struct Volume {
    id: u32,
    path: PathBuf,
    file: File,
}

struct Inner {
    index: BTreeMap<Hash, Loc>,
    volumes: BTreeMap<u32, Arc<Volume>>,
    /// Bytes per volume, and of them the live ones (pointed at by the
    /// index).
    sizes: BTreeMap<u32, (u64, u64)>,
    /// Per volume, how far the index reflects it (what a checkpoint
    /// records): its length, or where damage stopped the scan.
    covered: BTreeMap<u32, u64>,
    /// Volumes with damage: never appended to or compacted.
    damaged: std::collections::BTreeSet<u32>,
}

struct Writer {
    active: u32,
    file: File,
    len: u64,
    since_checkpoint: u64,
}

/// An open store in a directory.
pub struct FsStore {
    dir: PathBuf,
    config: FsConfig,
    inner: RwLock<Inner>,
    writer: Mutex<Writer>,
    reads: std::sync::atomic::AtomicU64,
    /// One compaction at a time (they share the temporary file name).
    compacting: Mutex<()>,
    /// What opening found and repaired (a torn tail, a damaged volume).
    pub warnings: Vec<String>,
}

fn volume_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("vol-{id:08}.dat"))
}

/// A new, empty volume file (never one that exists).
fn create_volume(dir: &Path, id: u32) -> Result<(PathBuf, File)> {
    let path = volume_path(dir, id);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io("creating", &path))?;
    Ok((path, file))
}

const CHECKPOINT_FILE: &str = "index.ckpt";
const CHECKPOINT_MAGIC: &[u8; 8] = b"AGFSIDX1";
/// Most volumes a store holds (ids are u32; this bounds the open files).
pub const MAX_VOLUMES: usize = 4_096;

impl FsStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, config: FsConfig) -> Result<FsStore> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let mut ids = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io("listing", dir))? {
            let name = e.map_err(io("listing", dir))?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name.strip_prefix("vol-").and_then(|n| n.strip_suffix(".dat")) {
                // Only the names this store writes: `vol-1.dat` is not
                // `vol-00000001.dat`.
                if let (8, Ok(id)) = (id.len(), id.parse::<u32>()) {
                    ids.push(id);
                }
            }
            if name.ends_with(".dat.compact") || name.ends_with(".ckpt.tmp") {
                // A compaction or checkpoint a crash interrupted.
                let path = dir.join(&*name);
                std::fs::remove_file(&path).map_err(io("removing", &path))?;
            }
        }
        ids.sort_unstable();
        if ids.len() > MAX_VOLUMES {
            return Err(FsError::Full { reason: format!("{} volumes, more than {MAX_VOLUMES}", ids.len()) });
        }
        if ids.is_empty() {
            ids.push(1);
        }
        let mut warnings = Vec::new();
        let (mut index, covered) = match load_checkpoint(&dir.join(CHECKPOINT_FILE)) {
            Ok(c) => c,
            Err(e) => {
                if dir.join(CHECKPOINT_FILE).exists() {
                    warnings.push(format!("index checkpoint ignored ({e}); every volume is scanned"));
                }
                (BTreeMap::new(), BTreeMap::new())
            }
        };
        let last = *ids.last().expect("at least one volume");
        let mut files = Vec::with_capacity(ids.len());
        for &id in &ids {
            let path = volume_path(dir, id);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io("opening", &path))?;
            let len = file.metadata().map_err(io("reading", &path))?.len();
            files.push((id, path, file, len));
        }
        // A checkpoint that names a volume that is gone or shorter than it
        // says (a crash between a compaction and its checkpoint) is not
        // trusted at all: every volume is scanned again, in order, so the
        // latest needle of each key wins as it did when written.
        let stale = covered.iter().any(|(id, c)| files.iter().find(|f| f.0 == *id).is_none_or(|f| *c > f.3));
        if stale {
            warnings.push("the index checkpoint does not match the volumes; every volume is scanned".into());
            index.clear();
        }
        let mut volumes = BTreeMap::new();
        let mut covered_now = BTreeMap::new();
        let mut damaged = std::collections::BTreeSet::new();
        // The longest a single torn write can be: one needle.
        let max_needle =
            needle::HEADER_BYTES as u64 + needle::MAX_CONTENT_TYPE_BYTES as u64 + config.max_file_bytes + 8;
        let mut active = last;
        for (id, path, file, len) in files {
            let from = if stale { 0 } else { covered.get(&id).copied().unwrap_or(0) };
            let scanned = scan(&file, id, from, len, &mut index)?;
            if let Some(why) = scanned.stop {
                let rest = len - scanned.end;
                if id == last && rest <= max_needle && !valid_needle_after(&file, scanned.end, len)? {
                    // A torn write at the tail (only the last append can
                    // tear): cut it so appends resume on a needle boundary.
                    warnings.push(format!("volume {id}: {rest} bytes of a torn write cut at {} ({why})", scanned.end));
                    file.set_len(scanned.end).map_err(io("truncating", &path))?;
                    file.sync_all().map_err(io("syncing", &path))?;
                } else {
                    // Damage, not a torn write: keep every byte, never
                    // append after it, never compact it, and say so at
                    // every open (the checkpoint covers only the good part).
                    warnings.push(format!(
                        "volume {id}: damaged at offset {} ({why}); {rest} bytes after it are not read",
                        scanned.end
                    ));
                    damaged.insert(id);
                    if id == last {
                        active = id + 1;
                    }
                }
            }
            covered_now.insert(id, scanned.end);
            volumes.insert(id, Arc::new(Volume { id, path, file }));
        }
        if active != last {
            // The active volume is damaged: appends go to a new one.
            let (path, file) = create_volume(dir, active)?;
            sync_dir(dir)?;
            covered_now.insert(active, 0);
            volumes.insert(active, Arc::new(Volume { id: active, path, file }));
        }
        let last = active;
        let mut sizes = BTreeMap::new();
        for (id, v) in &volumes {
            let len = v.file.metadata().map_err(io("reading", &v.path))?.len();
            sizes.insert(*id, (len, 0));
        }
        for loc in index.values() {
            if let Some(s) = sizes.get_mut(&loc.volume) {
                s.1 += u64::from(loc.len);
            }
        }
        let active = volumes[&last].clone();
        let wfile = active.file.try_clone().map_err(io("opening", &active.path))?;
        let len = sizes[&last].0;
        let store = FsStore {
            dir: dir.to_path_buf(),
            config,
            inner: RwLock::new(Inner { index, volumes, sizes, covered: covered_now, damaged }),
            writer: Mutex::new(Writer { active: last, file: wfile, len, since_checkpoint: 0 }),
            reads: Default::default(),
            compacting: Mutex::new(()),
            warnings,
        };
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &FsConfig {
        &self.config
    }

    fn read_inner(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_inner(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `data`; its key is its SHA-256. The same bytes twice are
    /// stored once.
    pub fn put(&self, content_type: &str, data: &[u8]) -> Result<Put> {
        if data.len() as u64 > self.config.max_file_bytes {
            return Err(FsError::TooLarge { got: data.len() as u64, max: self.config.max_file_bytes });
        }
        if !needle::valid_content_type(content_type) {
            return Err(FsError::BadContentType { got: content_type.chars().take(40).collect() });
        }
        let key = Hash::sha256(data);
        let size = data.len() as u64;
        if self.read_inner().index.contains_key(&key) {
            return Ok(Put { key, size, written: false });
        }
        let bytes = needle::encode(&key, content_type, data);
        let mut w = self.lock_writer();
        if self.read_inner().index.contains_key(&key) {
            return Ok(Put { key, size, written: false });
        }
        let loc = self.append(&mut w, &bytes)?;
        {
            let mut inner = self.write_inner();
            inner.index.insert(key, loc);
            if let Some(s) = inner.sizes.get_mut(&loc.volume) {
                s.1 += u64::from(loc.len);
            }
        }
        self.after_write(&mut w)?;
        Ok(Put { key, size, written: true })
    }

    /// Appends a needle to the active volume (a new one if it would
    /// overflow), durably when configured.
    fn append(&self, w: &mut Writer, bytes: &[u8]) -> Result<Loc> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| FsError::TooLarge { got: bytes.len() as u64, max: u32::MAX as u64 })?;
        if w.len > 0 && w.len + bytes.len() as u64 > self.config.max_volume_bytes {
            self.rotate(w)?;
        }
        let path = volume_path(&self.dir, w.active);
        w.file.write_all_at(bytes, w.len).map_err(io("writing", &path))?;
        if self.config.sync {
            w.file.sync_data().map_err(io("syncing", &path))?;
        }
        let loc = Loc { volume: w.active, offset: w.len, len };
        w.len += bytes.len() as u64;
        let mut inner = self.write_inner();
        if let Some(s) = inner.sizes.get_mut(&w.active) {
            s.0 = w.len;
        }
        inner.covered.insert(w.active, w.len);
        Ok(loc)
    }

    fn rotate(&self, w: &mut Writer) -> Result<()> {
        let id = w.active.checked_add(1).ok_or_else(|| FsError::Full { reason: "volume ids exhausted".into() })?;
        if self.read_inner().volumes.len() >= MAX_VOLUMES {
            return Err(FsError::Full { reason: format!("{MAX_VOLUMES} volumes") });
        }
        let (path, file) = create_volume(&self.dir, id)?;
        let wfile = file.try_clone().map_err(io("opening", &path))?;
        if self.config.sync {
            sync_dir(&self.dir)?;
        }
        {
            let mut inner = self.write_inner();
            inner.volumes.insert(id, Arc::new(Volume { id, path, file }));
            inner.sizes.insert(id, (0, 0));
            inner.covered.insert(id, 0);
        }
        *w = Writer { active: id, file: wfile, len: 0, since_checkpoint: w.since_checkpoint };
        Ok(())
    }

    fn after_write(&self, w: &mut Writer) -> Result<()> {
        w.since_checkpoint += 1;
        if w.since_checkpoint >= self.config.checkpoint_every {
            self.checkpoint_locked(w)?;
        }
        Ok(())
    }

    /// Where a file is, and its volume (held, so a compaction cannot pull
    /// the file out from under the read).
    fn locate(&self, key: &Hash) -> Result<Option<(Loc, Arc<Volume>)>> {
        let inner = self.read_inner();
        let Some(loc) = inner.index.get(key).copied() else { return Ok(None) };
        let vol = inner.volumes.get(&loc.volume).cloned();
        let vol =
            vol.ok_or_else(|| FsError::Corrupt { reason: format!("volume {} of {key} is missing", loc.volume) })?;
        Ok(Some((loc, vol)))
    }

    /// Reads a file: one positioned read of its needle, its data checked
    /// by its CRC-32 (a first-format needle: against its key). `None` when
    /// the store has no such file.
    pub fn get(&self, key: &Hash) -> Result<Option<FileData>> {
        let Some((loc, vol)) = self.locate(key)? else { return Ok(None) };
        let mut buf = vec![0u8; loc.len as usize];
        vol.file.read_exact_at(&mut buf, loc.offset).map_err(io("reading", &vol.path))?;
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (h, content_type, range) = needle::decode(&buf)?;
        if h.key != *key || h.tombstone {
            return Err(FsError::Corrupt {
                reason: format!("the needle at volume {} offset {} is not {key}", vol.id, loc.offset),
            });
        }
        buf.truncate(range.end);
        buf.drain(..range.start);
        Ok(Some(FileData { key: *key, content_type, data: buf }))
    }

    /// A file's size and content type (reads its header only).
    pub fn stat(&self, key: &Hash) -> Result<Option<Stat>> {
        let Some((loc, vol)) = self.locate(key)? else { return Ok(None) };
        let mut head = vec![0u8; (needle::HEADER_BYTES + needle::MAX_CONTENT_TYPE_BYTES).min(loc.len as usize)];
        vol.file.read_exact_at(&mut head, loc.offset).map_err(io("reading", &vol.path))?;
        let h = needle::decode_header(&head)?;
        needle::check_header(&head, &h)?;
        let ct = &head[needle::HEADER_BYTES..needle::HEADER_BYTES + usize::from(h.content_type_len)];
        Ok(Some(Stat { key: *key, size: h.size, content_type: String::from_utf8_lossy(ct).into_owned(), loc }))
    }

    /// Bytes `[offset, offset + len)` of a file (fewer at its end), with
    /// its size and content type, for sending it to a peer piece by piece.
    /// The header is checked, the data is not (a piece cannot be checked
    /// against the file's key): the receiver checks the whole file, and a
    /// sender checks it with [`FsStore::verify`] before the first piece.
    pub fn read_piece(&self, key: &Hash, offset: u64, len: u32) -> Result<Option<Piece>> {
        let Some(stat) = self.stat(key)? else { return Ok(None) };
        let Some((loc, vol)) = self.locate(key)? else { return Ok(None) };
        let start = offset.min(stat.size);
        let end = start.saturating_add(u64::from(len)).min(stat.size);
        let mut data = vec![0u8; (end - start) as usize];
        let data_at = loc.offset + (needle::HEADER_BYTES + stat.content_type.len()) as u64;
        vol.file.read_exact_at(&mut data, data_at + start).map_err(io("reading", &vol.path))?;
        Ok(Some(Piece { size: stat.size, content_type: stat.content_type, data }))
    }

    /// Checks a held file against its key, reading it in bounded blocks
    /// (no whole-file buffer): `Ok(false)` when the store has no such
    /// file, [`FsError::Corrupt`] when its bytes no longer match.
    pub fn verify(&self, key: &Hash) -> Result<bool> {
        const BLOCK: u64 = 1 << 20;
        let Some(stat) = self.stat(key)? else { return Ok(false) };
        let Some((loc, vol)) = self.locate(key)? else { return Ok(false) };
        let data_at = loc.offset + (needle::HEADER_BYTES + stat.content_type.len()) as u64;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; BLOCK.min(stat.size) as usize];
        let mut done = 0u64;
        while done < stat.size {
            let n = BLOCK.min(stat.size - done) as usize;
            vol.file.read_exact_at(&mut buf[..n], data_at + done).map_err(io("reading", &vol.path))?;
            hasher.update(&buf[..n]);
            done += n as u64;
        }
        if Hash::from(<[u8; 32]>::from(hasher.finalize())) != *key {
            return Err(FsError::Corrupt { reason: format!("data of {key} does not match its key") });
        }
        Ok(true)
    }

    pub fn contains(&self, key: &Hash) -> bool {
        self.read_inner().index.contains_key(key)
    }

    /// Deletes a file (a tombstone is appended); false when absent.
    pub fn delete(&self, key: &Hash) -> Result<bool> {
        let mut w = self.lock_writer();
        if !self.read_inner().index.contains_key(key) {
            return Ok(false);
        }
        let bytes = needle::encode_tombstone(key);
        self.append(&mut w, &bytes)?;
        {
            let mut inner = self.write_inner();
            if let Some(old) = inner.index.remove(key) {
                if let Some(s) = inner.sizes.get_mut(&old.volume) {
                    s.1 = s.1.saturating_sub(u64::from(old.len));
                }
            }
        }
        self.after_write(&mut w)?;
        Ok(true)
    }

    /// Keys in order, after `after`, at most `limit`.
    pub fn list(&self, after: Option<&Hash>, limit: usize) -> Vec<(Hash, Loc)> {
        let inner = self.read_inner();
        let range = match after {
            Some(a) => inner.index.range((std::ops::Bound::Excluded(*a), std::ops::Bound::Unbounded)),
            None => inner.index.range(..),
        };
        range.take(limit).map(|(k, l)| (*k, *l)).collect()
    }

    pub fn stats(&self) -> Stats {
        let inner = self.read_inner();
        let volume_bytes: u64 = inner.sizes.values().map(|s| s.0).sum();
        let live: u64 = inner.sizes.values().map(|s| s.1).sum();
        Stats {
            files: inner.index.len() as u64,
            volumes: inner.volumes.len() as u64,
            volume_bytes,
            dead_bytes: volume_bytes.saturating_sub(live),
            reads: self.reads.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Writes the index checkpoint now.
    pub fn checkpoint(&self) -> Result<()> {
        let mut w = self.lock_writer();
        self.checkpoint_locked(&mut w)
    }

    /// Writes the index checkpoint if anything was written since the last
    /// one; true when it did.
    pub fn checkpoint_if_changed(&self) -> Result<bool> {
        let mut w = self.lock_writer();
        if w.since_checkpoint == 0 {
            return Ok(false);
        }
        self.checkpoint_locked(&mut w)?;
        Ok(true)
    }

    fn checkpoint_locked(&self, w: &mut Writer) -> Result<()> {
        let inner = self.read_inner();
        let mut out = Vec::with_capacity(16 + inner.volumes.len() * 12 + inner.index.len() * 48 + 32);
        out.extend_from_slice(CHECKPOINT_MAGIC);
        out.extend_from_slice(&(inner.covered.len() as u32).to_le_bytes());
        for (id, covered) in &inner.covered {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&covered.to_le_bytes());
        }
        out.extend_from_slice(&(inner.index.len() as u64).to_le_bytes());
        for (k, l) in &inner.index {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&l.volume.to_le_bytes());
            out.extend_from_slice(&l.offset.to_le_bytes());
            out.extend_from_slice(&l.len.to_le_bytes());
        }
        drop(inner);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        let path = self.dir.join(CHECKPOINT_FILE);
        let tmp = self.dir.join(format!("{CHECKPOINT_FILE}.tmp"));
        let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(&out).map_err(io("writing", &tmp))?;
        if self.config.sync {
            f.sync_data().map_err(io("syncing", &tmp))?;
            // The volumes the checkpoint covers are durable before it is.
            w.file.sync_data().map_err(io("syncing", &self.dir))?;
        }
        std::fs::rename(&tmp, &path).map_err(io("renaming into", &path))?;
        if self.config.sync {
            sync_dir(&self.dir)?;
        }
        w.since_checkpoint = 0;
        Ok(())
    }

    /// Sealed volumes whose dead bytes are at least `ratio` of their size.
    pub fn compactable(&self, ratio: f64) -> Vec<u32> {
        let active = self.lock_writer().active;
        let inner = self.read_inner();
        inner
            .sizes
            .iter()
            .filter(|(id, _)| !inner.damaged.contains(id))
            .filter(|(id, (len, live))| **id != active && *len > 0 && (len - live) as f64 >= ratio * *len as f64)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Rewrites sealed volume `id` without its dead needles (tombstones are
    /// kept: an older volume may still hold the data they delete), while
    /// reads and writes go on; returns the bytes reclaimed. A damaged
    /// volume is refused, and so is one whose needles do not all check out.
    pub fn compact(&self, id: u32) -> Result<u64> {
        let _one_at_a_time = self.compacting.lock().unwrap_or_else(|e| e.into_inner());
        if self.lock_writer().active == id {
            return Err(FsError::Full {
                reason: format!("volume {id} is the active one; only sealed volumes compact"),
            });
        }
        let vol = {
            let inner = self.read_inner();
            if inner.damaged.contains(&id) {
                return Err(FsError::Corrupt { reason: format!("volume {id} is damaged; it is not compacted") });
            }
            inner.volumes.get(&id).cloned().ok_or_else(|| FsError::Corrupt { reason: format!("no volume {id}") })?
        };
        let len = vol.file.metadata().map_err(io("reading", &vol.path))?.len();
        // Copy what is live now (or a tombstone) into the new file; every
        // needle is checked whole, and the walk must end at the file's end.
        let tmp = self.dir.join(format!("vol-{id:08}.dat.compact"));
        let mut out = std::io::BufWriter::new(File::create(&tmp).map_err(io("creating", &tmp))?);
        let mut moved: Vec<(Hash, Loc, Loc)> = Vec::new();
        let mut new_len = 0u64;
        let mut offset = 0u64;
        let mut head = [0u8; needle::HEADER_BYTES];
        while offset < len {
            let damaged = |why: String| FsError::Corrupt { reason: format!("volume {id} at offset {offset}: {why}") };
            if len - offset < needle::HEADER_BYTES as u64 {
                return Err(damaged("a needle header cut short".into()));
            }
            vol.file.read_exact_at(&mut head, offset).map_err(io("reading", &vol.path))?;
            let h = needle::decode_header(&head).map_err(|e| damaged(e.to_string()))?;
            let nlen = h.needle_len();
            if nlen > len - offset {
                return Err(damaged("a needle cut short".into()));
            }
            let old = Loc { volume: id, offset, len: nlen as u32 };
            let live = self.read_inner().index.get(&h.key) == Some(&old);
            if live || h.tombstone {
                let mut buf = vec![0u8; nlen as usize];
                vol.file.read_exact_at(&mut buf, offset).map_err(io("reading", &vol.path))?;
                needle::decode(&buf).map_err(|e| damaged(e.to_string()))?;
                out.write_all(&buf).map_err(io("writing", &tmp))?;
                if live {
                    moved.push((h.key, old, Loc { volume: id, offset: new_len, len: nlen as u32 }));
                }
                new_len += nlen;
            }
            offset += nlen;
        }
        let file =
            out.into_inner().map_err(|e| FsError::Io { what: "writing", path: tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(io("syncing", &tmp))?;
        drop(file);
        // Swap under the writer lock: no delete or put interleaves. The
        // checkpoint goes first: a crash after the rename and before the
        // new checkpoint then finds none and scans every volume again,
        // rather than trusting offsets of the old file.
        let mut w = self.lock_writer();
        let ckpt = self.dir.join(CHECKPOINT_FILE);
        match std::fs::remove_file(&ckpt) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(FsError::Io { what: "removing", path: ckpt, source }),
        }
        sync_dir(&self.dir)?;
        std::fs::rename(&tmp, &vol.path).map_err(io("renaming into", &vol.path))?;
        sync_dir(&self.dir)?;
        let file =
            std::fs::OpenOptions::new().read(true).write(true).open(&vol.path).map_err(io("opening", &vol.path))?;
        {
            let mut inner = self.write_inner();
            let mut live = 0;
            for (key, old, new) in moved {
                // A file deleted or replaced since it was copied stays
                // deleted: only entries still at the old place move.
                if inner.index.get(&key) == Some(&old) {
                    inner.index.insert(key, new);
                    live += u64::from(new.len);
                }
            }
            inner.volumes.insert(id, Arc::new(Volume { id, path: vol.path.clone(), file }));
            inner.sizes.insert(id, (new_len, live));
            inner.covered.insert(id, new_len);
        }
        self.checkpoint_locked(&mut w)?;
        Ok(len.saturating_sub(new_len))
    }

    /// Compacts every sealed volume at least `ratio` dead; returns the
    /// bytes reclaimed (damaged volumes are skipped and reported).
    pub fn compact_all(&self, ratio: f64) -> (u64, Vec<FsError>) {
        let mut reclaimed = 0;
        let mut errors = Vec::new();
        for id in self.compactable(ratio) {
            match self.compact(id) {
                Ok(n) => reclaimed += n,
                Err(e) => errors.push(e),
            }
        }
        (reclaimed, errors)
    }
}

impl Drop for FsStore {
    fn drop(&mut self) {
        // A clean close saves the next open its tail scans; failing here
        // costs only that.
        let _ = self.checkpoint();
    }
}

/// How a scan of a volume ended.
struct Scanned {
    /// Where the last whole, valid needle ends.
    end: u64,
    /// Why it stopped before the file's end, if it did.
    stop: Option<String>,
}

/// Scans volume `id` from `from` to `len`, applying each needle to the
/// index. Stops at the first needle that is cut short or invalid (reported
/// in `stop`); an I/O error other than an early end of file is an error.
fn scan(file: &File, id: u32, from: u64, len: u64, index: &mut BTreeMap<Hash, Loc>) -> Result<Scanned> {
    let name = PathBuf::from(format!("volume {id}"));
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        file.try_clone().map_err(|source| FsError::Io { what: "opening", path: name.clone(), source })?,
    );
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(from)).map_err(|source| FsError::Io {
        what: "seeking",
        path: name.clone(),
        source,
    })?;
    // Reads exactly `buf.len()` bytes; false at an early end of file.
    let mut read = |buf: &mut [u8]| -> Result<bool> {
        match reader.read_exact(buf) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(source) => Err(FsError::Io { what: "reading", path: name.clone(), source }),
        }
    };
    let mut offset = from;
    let stop = |offset: u64, why: String| Scanned { end: offset, stop: Some(why) };
    while offset < len {
        if len - offset < needle::HEADER_BYTES as u64 {
            return Ok(stop(offset, "a needle header cut short".into()));
        }
        let mut buf = vec![0u8; needle::HEADER_BYTES];
        if !read(&mut buf)? {
            return Ok(stop(offset, "a needle header cut short".into()));
        }
        let h = match needle::decode_header(&buf) {
            Ok(h) => h,
            Err(e) => return Ok(stop(offset, e.to_string())),
        };
        let nlen = h.needle_len();
        if nlen > len - offset {
            return Ok(stop(offset, "a needle cut short".into()));
        }
        // The header check first (it needs the content type), and only
        // then the allocation the header asks for.
        let ct_len = usize::from(h.content_type_len);
        buf.resize(needle::HEADER_BYTES + ct_len, 0);
        if !read(&mut buf[needle::HEADER_BYTES..])? {
            return Ok(stop(offset, "a needle cut short".into()));
        }
        if let Err(e) = needle::check_header(&buf, &h) {
            return Ok(stop(offset, e.to_string()));
        }
        let have = buf.len();
        buf.resize(nlen as usize, 0);
        if !read(&mut buf[have..])? {
            return Ok(stop(offset, "a needle cut short".into()));
        }
        if let Err(e) = needle::decode(&buf) {
            return Ok(stop(offset, e.to_string()));
        }
        if h.tombstone {
            index.remove(&h.key);
        } else {
            index.insert(h.key, Loc { volume: id, offset, len: nlen as u32 });
        }
        offset += nlen;
    }
    Ok(Scanned { end: offset, stop: None })
}

/// Whether a whole, valid needle starts anywhere in `(from, len)` at a
/// multiple of 8: if so, the bytes at `from` are damage inside the volume,
/// not the torn end of its last write. Reads at most `len - from` bytes,
/// which the caller bounds by one needle.
fn valid_needle_after(file: &File, from: u64, len: u64) -> Result<bool> {
    let mut region = vec![0u8; (len - from) as usize];
    file.read_exact_at(&mut region, from).map_err(io("reading", Path::new("a volume tail")))?;
    let mut at = needle::ALIGN as usize;
    while at + needle::HEADER_BYTES <= region.len() {
        let rest = &region[at..];
        if &rest[..4] == needle::MAGIC && needle::decode(rest).is_ok() {
            return Ok(true);
        }
        at += needle::ALIGN as usize;
    }
    Ok(false)
}

/// Makes a directory's entries (new files, renames) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("syncing", dir))
}

type Checkpoint = (BTreeMap<Hash, Loc>, BTreeMap<u32, u64>);

fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(io("reading", path))?;
    let bad = |reason: &str| FsError::Corrupt { reason: format!("checkpoint: {reason}") };
    if bytes.len() < 8 + 4 + 8 + 32 || &bytes[..8] != CHECKPOINT_MAGIC {
        return Err(bad("not a checkpoint"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err(bad("checksum mismatch"));
    }
    let mut at = 8;
    let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
        let s = body.get(*at..*at + n).ok_or_else(|| bad("cut short"))?;
        *at += n;
        Ok(s)
    };
    let nvol = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4")) as usize;
    if nvol > MAX_VOLUMES {
        return Err(bad("too many volumes"));
    }
    let mut covered = BTreeMap::new();
    for _ in 0..nvol {
        let id = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4"));
        let len = u64::from_le_bytes(take(&mut at, 8)?.try_into().expect("8"));
        covered.insert(id, len);
    }
    let n = u64::from_le_bytes(take(&mut at, 8)?.try_into().expect("8"));
    if n.checked_mul(48).is_none_or(|b| b > body.len() as u64) {
        return Err(bad("entry count exceeds the file"));
    }
    let mut index = BTreeMap::new();
    for _ in 0..n {
        let key = Hash::from(<[u8; 32]>::try_from(take(&mut at, 32)?).expect("32"));
        let volume = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4"));
        let offset = u64::from_le_bytes(take(&mut at, 8)?.try_into().expect("8"));
        let len = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4"));
        match covered.get(&volume) {
            Some(c) if offset.checked_add(u64::from(len)).is_some_and(|end| end <= *c) => {}
            _ => return Err(bad("an entry outside what its volume covers")),
        }
        index.insert(key, Loc { volume, offset, len });
    }
    if at != body.len() {
        return Err(bad("trailing bytes"));
    }
    Ok((index, covered))
}

#[cfg(test)]
mod tests;
