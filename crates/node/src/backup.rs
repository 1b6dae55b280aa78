//! Backups of a node: its chain as blocks, taken from a running node
//! through the API, and restored into a new data directory by replaying
//! them.
//!
//! Why blocks and not the database files: the stores are open (and locked)
//! while the node runs, and a copy of files being written is not a
//! snapshot. Blocks up to the last irreversible one are immutable, so
//! fetching them one height after another while the node runs yields a
//! consistent chain by construction; restoring re-executes and re-checks
//! every block exactly as a syncing node does, so the restored state root is
//! the original's or the restore fails. The cost is the replay time.
//!
//! The file (all integers big-endian):
//!
//! ```text
//! "AERGO-BACKUP\n"  version: u32 = 1
//! section*          tag: u8, length: u64, bytes
//!   1 genesis.json   (exactly one, first)
//!   2 config.toml    (optional)
//!   3 node.key       (optional: hex, as the data directory stores it)
//!   4 block          (the Go node's protobuf Block; heights 1, 2, ... in order)
//! end               tag 0xFF, length 32, SHA-256 of every byte before it
//! ```
//!
//! A restore reads the whole file once to check its structure, bounds and
//! checksum before it writes anything, then again to import.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use aergo_chain::Chain;
use aergo_crypto::PrivateKey;
use aergo_types::{Block, Genesis, Hash};
use sha2::{Digest, Sha256};

use crate::{init_data_dir, InitOptions, NodeConfig, NodeError};

pub const MAGIC: &[u8] = b"AERGO-BACKUP\n";
pub const VERSION: u32 = 1;
const TAG_GENESIS: u8 = 1;
const TAG_CONFIG: u8 = 2;
const TAG_NODE_KEY: u8 = 3;
const TAG_BLOCK: u8 = 4;
const TAG_END: u8 = 0xFF;
/// Largest configuration or key section.
const MAX_SMALL_SECTION_BYTES: u64 = 1 << 20;

fn bad(reason: impl Into<String>) -> NodeError {
    NodeError::Backup { reason: reason.into() }
}

/// Writes a backup, section by section, hashing as it goes.
pub struct BackupWriter<W: Write> {
    out: W,
    hasher: Sha256,
    blocks: u64,
    next_height: u64,
    last_hash: Option<Hash>,
}

impl<W: Write> BackupWriter<W> {
    /// Starts a backup of the chain of `genesis_json`.
    pub fn new(mut out: W, genesis_json: &str) -> Result<Self, NodeError> {
        let mut hasher = Sha256::new();
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&VERSION.to_be_bytes());
        out.write_all(&head).map_err(|e| bad(format!("writing: {e}")))?;
        hasher.update(&head);
        let mut w = BackupWriter { out, hasher, blocks: 0, next_height: 1, last_hash: None };
        w.section(TAG_GENESIS, genesis_json.as_bytes())?;
        Ok(w)
    }

    fn section(&mut self, tag: u8, bytes: &[u8]) -> Result<(), NodeError> {
        let mut head = vec![tag];
        head.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        for part in [head.as_slice(), bytes] {
            self.out.write_all(part).map_err(|e| bad(format!("writing: {e}")))?;
            self.hasher.update(part);
        }
        Ok(())
    }

    pub fn config(&mut self, toml: &str) -> Result<(), NodeError> {
        self.section(TAG_CONFIG, toml.as_bytes())
    }

    pub fn node_key(&mut self, hex: &str) -> Result<(), NodeError> {
        self.section(TAG_NODE_KEY, hex.trim().as_bytes())
    }

    /// Adds the next block: it must be at the next height and name the
    /// previous one as its parent (a backup is one chain, in order).
    pub fn block(&mut self, block: &Block) -> Result<(), NodeError> {
        let header = block.header().map_err(|e| bad(format!("block: {e}")))?;
        if header.block_no != self.next_height {
            return Err(bad(format!("expected block {}, got block {}", self.next_height, header.block_no)));
        }
        if let Some(last) = self.last_hash {
            let parent = header.prev_hash().map_err(|e| bad(format!("block {}: {e}", header.block_no)))?;
            if parent != last {
                return Err(bad(format!(
                    "block {} does not follow block {} (the chain changed during the backup)",
                    header.block_no,
                    header.block_no - 1
                )));
            }
        }
        self.section(TAG_BLOCK, &block.encode())?;
        self.last_hash = Some(block.computed_hash().map_err(|e| bad(e.to_string()))?);
        self.next_height += 1;
        self.blocks += 1;
        Ok(())
    }

    /// Ends the file with its checksum; returns the blocks written and the
    /// writer (to sync it).
    pub fn finish(mut self) -> Result<(u64, W), NodeError> {
        let sum = self.hasher.clone().finalize();
        let mut tail = vec![TAG_END];
        tail.extend_from_slice(&32u64.to_be_bytes());
        tail.extend_from_slice(&sum);
        self.out.write_all(&tail).map_err(|e| bad(format!("writing: {e}")))?;
        self.out.flush().map_err(|e| bad(format!("writing: {e}")))?;
        Ok((self.blocks, self.out))
    }
}

/// One section as read.
enum Section {
    Genesis(String),
    Config(String),
    NodeKey(String),
    Block(Vec<u8>),
}

/// Reads sections, hashing as it goes; the end's checksum is checked.
struct Reader<R: Read> {
    input: BufReader<R>,
    hasher: Sha256,
    done: bool,
}

impl<R: Read> Reader<R> {
    fn open(input: R) -> Result<Self, NodeError> {
        let mut input = BufReader::new(input);
        let mut head = vec![0u8; MAGIC.len() + 4];
        input.read_exact(&mut head).map_err(|_| bad("not a backup: too short"))?;
        if &head[..MAGIC.len()] != MAGIC {
            return Err(bad("not a backup: the file does not start with AERGO-BACKUP"));
        }
        let version = u32::from_be_bytes(head[MAGIC.len()..].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(bad(format!("backup version {version}; this build reads version {VERSION}")));
        }
        let mut hasher = Sha256::new();
        hasher.update(&head);
        Ok(Reader { input, hasher, done: false })
    }

    fn next(&mut self) -> Result<Option<Section>, NodeError> {
        if self.done {
            return Ok(None);
        }
        let mut head = [0u8; 9];
        if self.input.fill_buf().map_err(|e| bad(format!("reading: {e}")))?.is_empty() {
            return Err(bad("truncated: the backup has no end (an interrupted backup?)"));
        }
        self.input.read_exact(&mut head).map_err(|_| bad("truncated inside a section header"))?;
        let tag = head[0];
        let len = u64::from_be_bytes(head[1..].try_into().expect("8 bytes"));
        let max = match tag {
            TAG_GENESIS => aergo_types::genesis::GENESIS_MAX_BYTES as u64,
            TAG_CONFIG | TAG_NODE_KEY => MAX_SMALL_SECTION_BYTES,
            TAG_BLOCK => aergo_types::block::BLOCK_MAX_ENCODED_BYTES as u64,
            TAG_END => 32,
            other => return Err(bad(format!("unknown section tag {other}"))),
        };
        if len > max {
            return Err(bad(format!("section {tag} of {len} bytes exceeds its bound of {max}")));
        }
        let mut bytes = vec![0u8; len as usize];
        self.input.read_exact(&mut bytes).map_err(|_| bad(format!("truncated inside section {tag}")))?;
        if tag == TAG_END {
            let sum = self.hasher.clone().finalize();
            if len != 32 || bytes.as_slice() != sum.as_slice() {
                return Err(bad("checksum mismatch: the backup is damaged"));
            }
            let mut rest = [0u8; 1];
            if self.input.read(&mut rest).map_err(|e| bad(format!("reading: {e}")))? != 0 {
                return Err(bad("bytes after the end of the backup"));
            }
            self.done = true;
            return Ok(None);
        }
        self.hasher.update(head);
        self.hasher.update(&bytes);
        let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| bad(format!("section {tag} is not UTF-8")));
        Ok(Some(match tag {
            TAG_GENESIS => Section::Genesis(text(bytes)?),
            TAG_CONFIG => Section::Config(text(bytes)?),
            TAG_NODE_KEY => Section::NodeKey(text(bytes)?),
            _ => Section::Block(bytes),
        }))
    }
}

/// What a backup holds, as [`verify`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    pub blocks: u64,
    pub has_config: bool,
    pub has_node_key: bool,
}

/// Checks a backup's structure, bounds and checksum without writing
/// anything.
pub fn verify(input: impl Read) -> Result<BackupInfo, NodeError> {
    let mut r = Reader::open(input)?;
    let mut info = BackupInfo { blocks: 0, has_config: false, has_node_key: false };
    let mut first = true;
    // A damaged byte inside a section can make its content unreadable
    // before the end's checksum is reached; the checksum is the better
    // diagnosis, so a content error waits until the whole file was read.
    let mut content_error: Option<NodeError> = None;
    while let Some(s) = r.next()? {
        if content_error.is_some() {
            continue;
        }
        if let Err(e) = check_section(s, first, &mut info) {
            content_error = Some(e);
        }
        first = false;
    }
    match content_error {
        Some(e) => Err(e),
        None => Ok(info),
    }
}

/// One section of [`verify`], given whether it is the first and what the
/// sections before it held.
fn check_section(s: Section, first: bool, info: &mut BackupInfo) -> Result<(), NodeError> {
    match s {
        Section::Genesis(text) if first => {
            Genesis::from_json(&text).map_err(|e| bad(format!("genesis: {e}")))?;
        }
        Section::Genesis(_) => return Err(bad("a second genesis section")),
        _ if first => return Err(bad("the genesis section must come first")),
        Section::Config(_) | Section::NodeKey(_) if info.blocks > 0 => {
            return Err(bad("configuration or key sections after the blocks"))
        }
        Section::Config(_) if info.has_config => return Err(bad("a second config section")),
        Section::NodeKey(_) if info.has_node_key => return Err(bad("a second node key section")),
        Section::Config(text) => {
            toml::from_str::<NodeConfig>(&text).map_err(|e| bad(format!("config.toml: {e}")))?;
            info.has_config = true;
        }
        Section::NodeKey(hex_key) => {
            let bytes = hex::decode(hex_key.trim()).map_err(|e| bad(format!("node.key: {e}")))?;
            PrivateKey::from_bytes(&bytes).map_err(|e| bad(format!("node.key: {e}")))?;
            info.has_node_key = true;
        }
        Section::Block(bytes) => {
            let block = Block::decode_bounded(&bytes).map_err(|e| bad(format!("block: {e}")))?;
            let height = block.header().map_err(|e| bad(format!("block: {e}")))?.block_no;
            if height != info.blocks + 1 {
                return Err(bad(format!("expected block {}, found block {height}", info.blocks + 1)));
            }
            info.blocks += 1;
        }
    }
    Ok(())
}

/// What [`restore`] made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    pub height: u64,
    pub head_hash: Hash,
    pub state_root: Hash,
    /// The backup carried the node key (else a new one was made).
    pub node_key_restored: bool,
}

/// Restores the backup `path` into the new data directory `dir`: checks
/// the whole file first (structure, checksum, every section decoded), then
/// writes the genesis, configuration and key (a new key when the backup
/// has none) and imports every block with full validation, each becoming
/// the LIB. A failure removes what it wrote.
///
/// A restored producer has no record of the votes it signed before: it
/// should follow for an epoch before it produces (README).
pub fn restore(path: &Path, dir: &Path) -> Result<Restored, NodeError> {
    let open = || std::fs::File::open(path).map_err(|e| bad(format!("{}: {e}", path.display())));
    verify(open()?)?;
    if crate::DataDir::is_initialised(dir) {
        return Err(bad(format!("{} is already a data directory: restore into a new one", dir.display())));
    }
    let existed = dir.exists();
    let result = restore_into(open()?, dir);
    if result.is_err() {
        // A half-restored directory would look initialised and start as a
        // node of a shorter chain: take back what was written.
        if existed {
            for name in ["genesis.json", "config.toml", "node.key", "chain", "fs"] {
                let p = dir.join(name);
                let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            }
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

fn restore_into(input: std::fs::File, dir: &Path) -> Result<Restored, NodeError> {
    let mut r = Reader::open(input)?;
    let Some(Section::Genesis(genesis_json)) = r.next()? else { return Err(bad("no genesis section")) };
    let genesis = Genesis::from_json(&genesis_json).map_err(|e| bad(format!("genesis: {e}")))?;
    let mut config = NodeConfig::default();
    let mut node_key = None;
    let mut pending_blocks = Vec::new();
    // Configuration and key precede the blocks in files this module
    // writes; read sections until the first block.
    loop {
        match r.next()? {
            Some(Section::Config(text)) => {
                config = toml::from_str(&text).map_err(|e| bad(format!("config.toml: {e}")))?;
            }
            Some(Section::NodeKey(hex_key)) => {
                let bytes = hex::decode(hex_key.trim()).map_err(|e| bad(format!("node.key: {e}")))?;
                node_key = Some(PrivateKey::from_bytes(&bytes).map_err(|e| bad(format!("node.key: {e}")))?);
            }
            Some(Section::Block(b)) => {
                pending_blocks.push(b);
                break;
            }
            Some(Section::Genesis(_)) => return Err(bad("a second genesis section")),
            None => break,
        }
    }
    let node_key_restored = node_key.is_some();
    let node_key = match node_key {
        Some(k) => k,
        None => PrivateKey::generate().map_err(|e| bad(format!("a new node key: {e}")))?,
    };
    init_data_dir(dir, InitOptions { genesis: genesis.clone(), node_key, config })?;
    let chain = Chain::open(&dir.join("chain"), genesis)?;
    // Every block of a backup was final where it came from: each becomes
    // the LIB as it is imported, so the tree above the LIB stays one block
    // and a long chain restores like a short one.
    let import = |bytes: Vec<u8>| -> Result<(), NodeError> {
        let block = Block::decode_bounded(&bytes).map_err(|e| bad(format!("block: {e}")))?;
        let head = chain.import_and_extend(&block)?;
        chain.set_lib(&head.hash)?;
        Ok(())
    };
    for b in pending_blocks {
        import(b)?;
    }
    while let Some(s) = r.next()? {
        match s {
            Section::Block(b) => import(b)?,
            _ => return Err(bad("configuration or key sections after the blocks")),
        }
    }
    let head = chain.head();
    Ok(Restored { height: head.height, head_hash: head.hash, state_root: head.state_root, node_key_restored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let genesis = crate::datadir::dev_chain().unwrap().0.to_json().unwrap();
        let mut w = BackupWriter::new(&mut out, &genesis).unwrap();
        w.config("[rpc]\nmax_batch_len = 7\n").unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn a_damaged_backup_is_refused_before_anything_is_written() {
        let good = sample();
        assert_eq!(verify(good.as_slice()).unwrap(), BackupInfo { blocks: 0, has_config: true, has_node_key: false });
        // Truncated anywhere, one byte flipped anywhere, or extended: refused.
        for cut in [0, 5, MAGIC.len() + 4, good.len() - 1] {
            assert!(verify(&good[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..good.len() {
            let mut bad_copy = good.clone();
            bad_copy[i] ^= 0x01;
            assert!(verify(bad_copy.as_slice()).is_err(), "flip at {i}");
        }
        // A damaged byte inside a section's content is reported as the
        // damage it is, not as the content error it causes.
        let config_at = good.windows(7).position(|w| w == b"[rpc]\nm").unwrap();
        let mut unreadable = good.clone();
        unreadable[config_at] = b'{';
        assert!(verify(unreadable.as_slice()).unwrap_err().to_string().contains("checksum mismatch"));
        let mut longer = good.clone();
        longer.push(0);
        assert!(verify(longer.as_slice()).is_err());
        // A section claiming more than its bound is refused without
        // allocating it.
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&VERSION.to_be_bytes());
        huge.push(TAG_BLOCK);
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(verify(huge.as_slice()).unwrap_err().to_string().contains("exceeds its bound"));
    }
}
