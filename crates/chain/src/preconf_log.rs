//! The pre-confirmation log: the transactions of a producer's open block,
//! made durable before a promise about them is signed.
//!
//! One append-only file per block height, `preconf/<height>.log`, of
//! records
//!
//! ```text
//! magic 0xA5 | body length: u32 BE | checksum: first 8 bytes of SHA-256(body) | body
//! body = parent hash (32) | timestamp_ns: i64 BE | position: u32 BE | encoded Tx
//! ```
//!
//! A write appends the records of a range of positions and flushes the
//! file's data (`fdatasync`: a tenth of a millisecond on this machine,
//! where a redb commit costs more than a millisecond); a new file also
//! flushes its directory, so that the file itself survives a crash. A
//! reader takes, for one (height, parent), positions 0, 1, 2, ... up to
//! the first gap (the first record of a position counts: a range may be
//! written again), reading the file up to the first torn record (a crash
//! in the middle of a write) or damaged one: what a promise waited for
//! was flushed whole, so it is always in that prefix.
//!
//! Opening the log for height `h` removes the files of heights `h - 2`
//! and below: the block below may be sealed and not yet committed, and a
//! restart must find its log; older blocks are committed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aergo_types::Hash;
use sha2::{Digest, Sha256};

use crate::ChainError;

/// Most positions [`PreconfLog::read`] returns (a full block and more).
pub const MAX_PENDING_LOG_TXS: usize = 100_000;
/// Largest record body accepted when reading (a transaction's bound plus
/// the fixed fields, with room).
const MAX_RECORD_BYTES: usize = 1 << 20;
const MAGIC: u8 = 0xA5;
const HEADER_BYTES: usize = 1 + 4 + 8;
const FIXED_BODY_BYTES: usize = 32 + 8 + 4;

/// The pending block a log describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLog {
    pub timestamp_ns: i64,
    /// Encoded transactions in block order, from position 0 without a gap.
    pub txs: Vec<Vec<u8>>,
}

/// One logged transaction.
#[derive(Clone)]
struct Record {
    parent: Hash,
    timestamp_ns: i64,
    index: u32,
    tx: Vec<u8>,
}

enum Backing {
    /// Files in a directory; the file of the height last written stays open.
    Dir { dir: PathBuf, open: Option<(u64, File)> },
    /// For chains in memory (simulations, tests).
    Memory(BTreeMap<u64, Vec<Record>>),
}

/// The log. Writers are serialized by its lock.
pub struct PreconfLog {
    backing: Mutex<Backing>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ChainError {
    ChainError::Db(format!("pre-confirmation log: {what} {}: {e}", path.display()))
}

fn checksum(body: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(body);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

fn encode(r: &Record, out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(FIXED_BODY_BYTES + r.tx.len());
    body.extend_from_slice(r.parent.as_bytes());
    body.extend_from_slice(&r.timestamp_ns.to_be_bytes());
    body.extend_from_slice(&r.index.to_be_bytes());
    body.extend_from_slice(&r.tx);
    out.push(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&checksum(&body));
    out.extend_from_slice(&body);
}

/// The records of a file's bytes, up to the first torn or damaged one.
fn decode_all(mut bytes: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    while bytes.len() >= HEADER_BYTES && bytes[0] == MAGIC {
        let len = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes")) as usize;
        if !(FIXED_BODY_BYTES..=MAX_RECORD_BYTES).contains(&len) || bytes.len() < HEADER_BYTES + len {
            break;
        }
        let body = &bytes[HEADER_BYTES..HEADER_BYTES + len];
        if bytes[5..HEADER_BYTES] != checksum(body) {
            break;
        }
        out.push(Record {
            parent: Hash(body[..32].try_into().expect("32 bytes")),
            timestamp_ns: i64::from_be_bytes(body[32..40].try_into().expect("8 bytes")),
            index: u32::from_be_bytes(body[40..44].try_into().expect("4 bytes")),
            tx: body[44..].to_vec(),
        });
        bytes = &bytes[HEADER_BYTES + len..];
    }
    out
}

/// The gapless prefix from position 0 for `parent` among `records`: the
/// first record of each position counts (ranges are written in order, but
/// one may be written again), and every position must carry the first
/// one's timestamp.
fn prefix(records: &[Record], parent: &Hash) -> Option<PendingLog> {
    let mut by_index: BTreeMap<u32, &Record> = BTreeMap::new();
    for r in records.iter().filter(|r| r.parent == *parent) {
        by_index.entry(r.index).or_insert(r);
    }
    let timestamp_ns = by_index.get(&0)?.timestamp_ns;
    let mut txs = Vec::new();
    for (expected, (&index, r)) in by_index.iter().enumerate().take(MAX_PENDING_LOG_TXS) {
        if index as usize != expected || r.timestamp_ns != timestamp_ns {
            break;
        }
        txs.push(r.tx.clone());
    }
    Some(PendingLog { timestamp_ns, txs })
}

fn file_height(name: &str) -> Option<u64> {
    name.strip_suffix(".log")?.parse().ok()
}

impl PreconfLog {
    /// The log in `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<PreconfLog, ChainError> {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
        Ok(PreconfLog { backing: Mutex::new(Backing::Dir { dir: dir.to_path_buf(), open: None }) })
    }

    /// A log in memory.
    pub fn memory() -> PreconfLog {
        PreconfLog { backing: Mutex::new(Backing::Memory(BTreeMap::new())) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backing> {
        self.backing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends transactions of the pending block at `height` on `parent`
    /// at positions `first_index..` and flushes them: durable on return.
    pub fn append(
        &self,
        height: u64,
        parent: &Hash,
        timestamp_ns: i64,
        first_index: u32,
        txs: &[Vec<u8>],
    ) -> Result<(), ChainError> {
        let records = txs.iter().enumerate().map(|(i, tx)| {
            let index = first_index
                .checked_add(i as u32)
                .ok_or(ChainError::Corrupt { what: "preconf log", reason: "position past u32".into() })?;
            Ok(Record { parent: *parent, timestamp_ns, index, tx: tx.clone() })
        });
        let records = records.collect::<Result<Vec<Record>, ChainError>>()?;
        match &mut *self.lock() {
            Backing::Memory(map) => {
                map.retain(|&h, _| h + 2 > height);
                map.entry(height).or_default().extend(records);
                Ok(())
            }
            Backing::Dir { dir, open } => {
                if open.as_ref().map(|(h, _)| *h) != Some(height) {
                    *open = None;
                    let path = dir.join(format!("{height}.log"));
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(|e| io("opening", &path, e))?;
                    // The new file's name must survive a crash too.
                    File::open(&*dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing", dir, e))?;
                    remove_below(dir, height.saturating_sub(1))?;
                    *open = Some((height, file));
                }
                let (_, file) = open.as_mut().expect("opened above");
                let mut bytes = Vec::new();
                for r in &records {
                    encode(r, &mut bytes);
                }
                let path = dir.join(format!("{height}.log"));
                file.write_all(&bytes).map_err(|e| io("writing", &path, e))?;
                file.sync_data().map_err(|e| io("flushing", &path, e))
            }
        }
    }

    /// The logged pending block at `height` on `parent`: its gapless
    /// prefix from position 0, or `None` when nothing was logged for it.
    pub fn read(&self, height: u64, parent: &Hash) -> Result<Option<PendingLog>, ChainError> {
        match &*self.lock() {
            Backing::Memory(map) => Ok(map.get(&height).and_then(|r| prefix(r, parent))),
            Backing::Dir { dir, .. } => {
                let path = dir.join(format!("{height}.log"));
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io("reading", &path, e)),
                };
                Ok(prefix(&decode_all(&bytes), parent))
            }
        }
    }
}

/// Removes the files of heights below `height`.
fn remove_below(dir: &Path, height: u64) -> Result<(), ChainError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io("listing", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().and_then(file_height).is_some_and(|h| h < height) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io("removing", &path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(n: u8) -> Vec<u8> {
        vec![n; 3]
    }

    fn exercise(log: &PreconfLog) {
        let (p, q) = (Hash::sha256(b"p"), Hash::sha256(b"q"));
        assert_eq!(log.read(5, &p).unwrap(), None);
        // A gap waits; closing it makes one prefix; a range written again
        // changes nothing.
        log.append(5, &p, 77, 2, &[tx(2), tx(3)]).unwrap();
        assert_eq!(log.read(5, &p).unwrap(), None);
        log.append(5, &p, 77, 0, &[tx(0), tx(1)]).unwrap();
        log.append(5, &p, 77, 1, &[tx(1), tx(2), tx(3), tx(4)]).unwrap();
        let l = log.read(5, &p).unwrap().unwrap();
        assert_eq!((l.timestamp_ns, l.txs), (77, vec![tx(0), tx(1), tx(2), tx(3), tx(4)]));
        // Another parent at the same height is another pending block.
        log.append(5, &q, 78, 0, &[tx(9)]).unwrap();
        assert_eq!(log.read(5, &q).unwrap().unwrap().txs, vec![tx(9)]);
        // Height 6 keeps 5 (maybe sealed, not committed); 7 drops it.
        log.append(6, &q, 79, 0, &[tx(7)]).unwrap();
        assert!(log.read(5, &q).unwrap().is_some());
        log.append(7, &q, 80, 0, &[tx(8)]).unwrap();
        assert_eq!(log.read(5, &q).unwrap(), None);
        assert_eq!(log.read(6, &q).unwrap().unwrap().txs, vec![tx(7)]);
    }

    #[test]
    fn memory_and_files_keep_the_gapless_prefix_of_one_parent() {
        exercise(&PreconfLog::memory());
        let dir = tempfile::tempdir().unwrap();
        exercise(&PreconfLog::open(dir.path()).unwrap());
    }

    #[test]
    fn a_torn_or_damaged_tail_is_cut_and_the_prefix_survives() {
        let dir = tempfile::tempdir().unwrap();
        let p = Hash::sha256(b"p");
        {
            let log = PreconfLog::open(dir.path()).unwrap();
            log.append(3, &p, 1, 0, &[tx(0), tx(1), tx(2)]).unwrap();
        }
        let path = dir.path().join("3.log");
        let full = std::fs::read(&path).unwrap();
        let record = full.len() / 3;
        for cut in [full.len() - 1, 2 * record + 5, 2 * record] {
            std::fs::write(&path, &full[..cut]).unwrap();
            let log = PreconfLog::open(dir.path()).unwrap();
            assert_eq!(log.read(3, &p).unwrap().unwrap().txs, vec![tx(0), tx(1)], "cut at {cut}");
        }
        let mut damaged = full.clone();
        damaged[record + HEADER_BYTES + 40] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        let log = PreconfLog::open(dir.path()).unwrap();
        assert_eq!(log.read(3, &p).unwrap().unwrap().txs, vec![tx(0)]);
        // Garbage is not a log.
        std::fs::write(&path, b"not a log at all").unwrap();
        assert_eq!(log.read(3, &p).unwrap(), None);
    }
}
