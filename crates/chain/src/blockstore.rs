//! The block store: blocks, transactions and receipts on redb, indexed by
//! hash and, for the main chain, by height.
//!
//! Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `blocks` | block hash | encoded `Block` (the Go node's protobuf) |
//! | `block_receipts` | block hash | the block's receipts, in tx order (a protobuf list) |
//! | `heights` | height (u64) | hash of the main-chain block at that height |
//! | `txs` | tx hash | block hash (32 bytes) ++ index in block (u32 big-endian); main chain only |
//! | `account_txs` | address length (u8) ++ address bytes ++ height (u64 BE) ++ index (u32 BE) | tx hash; main chain only, for the sender and the recipient |
//! | `meta` | name | `head`, `genesis`, `lib`: block hashes; `consensus`: the engine's persisted safety state |
//!
//! Every block ever accepted is in `blocks` (side branches too); the
//! height, transaction and account indexes follow the main chain and are rewritten
//! in the same write transaction that moves the head, so after a crash the
//! indexes always describe the stored head. redb commits are durable
//! (fsync) by default.

use std::path::Path;

use aergo_types::{Block, Hash, Receipt, Tx};
use redb::{Database, ReadableTable, TableDefinition, TableHandle};

use crate::ChainError;

const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
const BLOCK_RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("block_receipts");
const HEIGHTS: TableDefinition<u64, &[u8]> = TableDefinition::new("heights");
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ACCOUNT_TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("account_txs");

/// `meta` key: the first height the account index covers, when the store
/// predates it (absent: it covers every block).
const ACCOUNT_TXS_FROM: &str = "account_txs_from";

/// Most entries one [`BlockStore::account_txs`] call returns.
pub const MAX_ACCOUNT_TXS: usize = 1_000;

/// A main-chain transaction that sent from or to an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountTx {
    pub height: u64,
    pub index: u32,
    pub tx_hash: Hash,
}

/// The `account_txs` key prefix of an account: its length first, so that
/// one address is never a prefix of another's keys.
fn account_prefix(account: &[u8]) -> Option<Vec<u8>> {
    let len = u8::try_from(account.len()).ok()?;
    let mut key = Vec::with_capacity(1 + account.len() + 12);
    key.push(len);
    key.extend_from_slice(account);
    Some(key)
}

fn account_key(account: &[u8], height: u64, index: u32) -> Option<Vec<u8>> {
    let mut key = account_prefix(account)?;
    key.extend_from_slice(&height.to_be_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    Some(key)
}

/// The accounts a transaction is indexed under: its sender and recipient
/// (once when they are the same; deploys have no recipient).
fn tx_accounts(tx: &Tx) -> Vec<&[u8]> {
    let Some(b) = tx.body.as_ref() else { return Vec::new() };
    let mut out = Vec::with_capacity(2);
    for a in [b.account.as_slice(), b.recipient.as_slice()] {
        if !a.is_empty() && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Largest receipt list the store will decode (a full block's receipts).
const RECEIPTS_MAX_BYTES: usize = 64 << 20;

#[derive(Clone, PartialEq, prost::Message)]
struct ReceiptList {
    #[prost(message, repeated, tag = "1")]
    receipts: Vec<Receipt>,
}

/// Where a transaction sits in the main chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub block_hash: Hash,
    pub index: u32,
}

/// The embedded block store.
pub struct BlockStore {
    db: Database,
}

fn hash_from(what: &'static str, bytes: &[u8]) -> Result<Hash, ChainError> {
    Hash::from_slice(what, bytes).map_err(|e| ChainError::Corrupt { what, reason: e.to_string() })
}

/// One main-chain block in a head switch.
pub struct MainBlock<'a> {
    pub height: u64,
    pub hash: Hash,
    pub txs: &'a [Tx],
}

impl BlockStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<BlockStore, ChainError> {
        Self::init(Database::create(path)?)
    }

    /// A store that lives in memory only (simulations, tests).
    pub fn memory() -> Result<BlockStore, ChainError> {
        Self::init(Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?)
    }

    fn init(db: Database) -> Result<BlockStore, ChainError> {
        // A store made before the account index existed: the index starts
        // above its head (recorded, so a history can say where it starts).
        let had_heights = db.begin_read()?.list_tables()?.any(|t| t.name() == HEIGHTS.name());
        let had_accounts = db.begin_read()?.list_tables()?.any(|t| t.name() == ACCOUNT_TXS.name());
        let w = db.begin_write()?;
        if had_heights && !had_accounts {
            let from = w.open_table(HEIGHTS)?.last()?.map(|(k, _)| k.value() + 1).unwrap_or(0);
            w.open_table(META)?.insert(ACCOUNT_TXS_FROM, from.to_be_bytes().as_slice())?;
        }
        {
            w.open_table(BLOCKS)?;
            w.open_table(BLOCK_RECEIPTS)?;
            w.open_table(HEIGHTS)?;
            w.open_table(TXS)?;
            w.open_table(META)?;
            w.open_table(ACCOUNT_TXS)?;
        }
        w.commit()?;
        Ok(BlockStore { db })
    }

    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, ChainError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        Ok(t.get(name)?.map(|v| v.value().to_vec()))
    }

    /// Writes one meta entry durably.
    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), ChainError> {
        let w = self.db.begin_write()?;
        w.open_table(META)?.insert(name, value)?;
        w.commit()?;
        Ok(())
    }

    fn meta_hash(&self, name: &str) -> Result<Option<Hash>, ChainError> {
        self.meta(name)?.map(|b| hash_from("meta hash", &b)).transpose()
    }

    /// Hash of the head block, if any block was stored.
    pub fn head_hash(&self) -> Result<Option<Hash>, ChainError> {
        self.meta_hash("head")
    }

    /// Hash of the genesis block, if stored.
    pub fn genesis_hash(&self) -> Result<Option<Hash>, ChainError> {
        self.meta_hash("genesis")
    }

    /// Hash of the last irreversible block, if recorded.
    pub fn lib_hash(&self) -> Result<Option<Hash>, ChainError> {
        self.meta_hash("lib")
    }

    /// Stores a block and its receipts without touching the main chain.
    pub fn put_block(&self, block: &Block, receipts: &[Receipt]) -> Result<Hash, ChainError> {
        let hash = block.computed_hash()?;
        if receipts.len() != block.txs().len() {
            return Err(ChainError::InvalidBlock {
                hash: hash.to_string(),
                reason: format!("{} receipts for {} transactions", receipts.len(), block.txs().len()),
            });
        }
        let list = ReceiptList { receipts: receipts.to_vec() };
        let w = self.db.begin_write()?;
        {
            w.open_table(BLOCKS)?.insert(hash.as_bytes().as_slice(), block.encode().as_slice())?;
            w.open_table(BLOCK_RECEIPTS)?
                .insert(hash.as_bytes().as_slice(), prost::Message::encode_to_vec(&list).as_slice())?;
        }
        w.commit()?;
        Ok(hash)
    }

    /// Moves the main chain: `abandoned` blocks (old branch, any order)
    /// leave the indexes, `adopted` blocks (new branch, by height) enter
    /// them, `head` becomes the head, and `lib` is recorded if given, all in
    /// one write transaction.
    pub fn switch_main(
        &self,
        abandoned: &[MainBlock<'_>],
        adopted: &[MainBlock<'_>],
        head: &Hash,
        lib: Option<&Hash>,
    ) -> Result<(), ChainError> {
        let w = self.db.begin_write()?;
        {
            let mut heights = w.open_table(HEIGHTS)?;
            let mut txs = w.open_table(TXS)?;
            let mut accounts = w.open_table(ACCOUNT_TXS)?;
            for b in abandoned {
                heights.remove(b.height)?;
                for (i, tx) in b.txs.iter().enumerate() {
                    txs.remove(tx.hash.as_slice())?;
                    for a in tx_accounts(tx) {
                        if let Some(key) = account_key(a, b.height, i as u32) {
                            accounts.remove(key.as_slice())?;
                        }
                    }
                }
            }
            for b in adopted {
                heights.insert(b.height, b.hash.as_bytes().as_slice())?;
                for (i, tx) in b.txs.iter().enumerate() {
                    let mut loc = b.hash.to_vec();
                    loc.extend_from_slice(&(i as u32).to_be_bytes());
                    txs.insert(tx.hash.as_slice(), loc.as_slice())?;
                    for a in tx_accounts(tx) {
                        if let Some(key) = account_key(a, b.height, i as u32) {
                            accounts.insert(key.as_slice(), tx.hash.as_slice())?;
                        }
                    }
                }
            }
            let mut meta = w.open_table(META)?;
            meta.insert("head", head.as_bytes().as_slice())?;
            if let Some(lib) = lib {
                meta.insert("lib", lib.as_bytes().as_slice())?;
            }
            if let Some(genesis) = adopted.iter().find(|b| b.height == 0) {
                meta.insert("genesis", genesis.hash.as_bytes().as_slice())?;
            }
        }
        w.commit()?;
        Ok(())
    }

    pub fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, ChainError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCKS)?;
        let Some(v) = t.get(hash.as_bytes().as_slice())? else { return Ok(None) };
        let block = Block::decode_bounded(v.value())
            .map_err(|e| ChainError::Corrupt { what: "block", reason: format!("{hash}: {e}") })?;
        Ok(Some(block))
    }

    /// The receipts of a stored block, in transaction order.
    pub fn block_receipts(&self, hash: &Hash) -> Result<Option<Vec<Receipt>>, ChainError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCK_RECEIPTS)?;
        let Some(v) = t.get(hash.as_bytes().as_slice())? else { return Ok(None) };
        let bytes = v.value();
        if bytes.len() > RECEIPTS_MAX_BYTES {
            return Err(ChainError::Corrupt { what: "receipts", reason: format!("{} bytes", bytes.len()) });
        }
        let list: ReceiptList = prost::Message::decode(bytes)
            .map_err(|e| ChainError::Corrupt { what: "receipts", reason: format!("{hash}: {e}") })?;
        Ok(Some(list.receipts))
    }

    /// Hash of the main-chain block at `height`.
    pub fn hash_at(&self, height: u64) -> Result<Option<Hash>, ChainError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(HEIGHTS)?;
        t.get(height)?.map(|v| hash_from("height index", v.value())).transpose()
    }

    pub fn block_by_height(&self, height: u64) -> Result<Option<Block>, ChainError> {
        match self.hash_at(height)? {
            Some(h) => self.block_by_hash(&h),
            None => Ok(None),
        }
    }

    pub fn tx_location(&self, tx_hash: &Hash) -> Result<Option<TxLocation>, ChainError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(TXS)?;
        let Some(v) = t.get(tx_hash.as_bytes().as_slice())? else { return Ok(None) };
        let v = v.value();
        if v.len() != 36 {
            return Err(ChainError::Corrupt { what: "tx index", reason: format!("{} bytes, expected 36", v.len()) });
        }
        let block_hash = hash_from("tx index", &v[..32])?;
        let index = u32::from_be_bytes([v[32], v[33], v[34], v[35]]);
        Ok(Some(TxLocation { block_hash, index }))
    }

    /// The first height the account index covers: 0, or the height above
    /// the head of a store made before the index existed.
    pub fn account_index_from(&self) -> Result<u64, ChainError> {
        Ok(match self.meta(ACCOUNT_TXS_FROM)? {
            Some(v) => u64::from_be_bytes(v.as_slice().try_into().map_err(|_| ChainError::Corrupt {
                what: "meta",
                reason: format!("{ACCOUNT_TXS_FROM}: {} bytes, expected 8", v.len()),
            })?),
            None => 0,
        })
    }

    /// Main-chain transactions sent from or to `account` (its raw bytes:
    /// an address or a name) strictly before position `before` = (height,
    /// index in block) (all when `None`), newest first, at most `limit`
    /// (itself at most [`MAX_ACCOUNT_TXS`]). The last entry's (height,
    /// index) is the `before` of the next page. Blocks below
    /// [`BlockStore::account_index_from`] are not in the index.
    pub fn account_txs(
        &self,
        account: &[u8],
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<AccountTx>, ChainError> {
        let (height, index) = before.unwrap_or((u64::MAX, 0));
        let (Some(lo), Some(hi)) = (account_key(account, 0, 0), account_key(account, height, index)) else {
            return Ok(Vec::new());
        };
        let r = self.db.begin_read()?;
        let t = r.open_table(ACCOUNT_TXS)?;
        let mut out = Vec::new();
        // An entry at height u64::MAX index 0 cannot exist (no such block),
        // so the exclusive bound loses nothing when `before` is absent.
        for entry in t.range(lo.as_slice()..hi.as_slice())?.rev().take(limit.min(MAX_ACCOUNT_TXS)) {
            let (k, v) = entry?;
            let k = k.value();
            let Some(tail) = k.len().checked_sub(12).map(|at| &k[at..]) else {
                return Err(ChainError::Corrupt { what: "account index", reason: format!("key of {} bytes", k.len()) });
            };
            let height = u64::from_be_bytes(tail[..8].try_into().expect("8 bytes"));
            let index = u32::from_be_bytes(tail[8..].try_into().expect("4 bytes"));
            out.push(AccountTx { height, index, tx_hash: hash_from("account index", v.value())? });
        }
        Ok(out)
    }

    /// A main-chain transaction with its location and block height.
    pub fn tx(&self, tx_hash: &Hash) -> Result<Option<(Tx, TxLocation, u64)>, ChainError> {
        let Some(loc) = self.tx_location(tx_hash)? else { return Ok(None) };
        let block = self.block_by_hash(&loc.block_hash)?.ok_or_else(|| ChainError::Corrupt {
            what: "tx index",
            reason: format!("block {} missing", loc.block_hash),
        })?;
        let tx = block.txs().get(loc.index as usize).cloned().ok_or_else(|| ChainError::Corrupt {
            what: "tx index",
            reason: format!("block {} has no tx #{}", loc.block_hash, loc.index),
        })?;
        let height = block.header()?.block_no;
        Ok(Some((tx, loc, height)))
    }

    /// The receipt of a main-chain transaction, with its block hash and
    /// index filled in.
    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<Receipt>, ChainError> {
        let Some(loc) = self.tx_location(tx_hash)? else { return Ok(None) };
        let receipts = self.block_receipts(&loc.block_hash)?.ok_or_else(|| ChainError::Corrupt {
            what: "receipts",
            reason: format!("no receipts for block {}", loc.block_hash),
        })?;
        let mut receipt = receipts.get(loc.index as usize).cloned().ok_or_else(|| ChainError::Corrupt {
            what: "receipts",
            reason: format!("block {} has no receipt #{}", loc.block_hash, loc.index),
        })?;
        receipt.block_hash = loc.block_hash.to_vec();
        receipt.tx_index = loc.index as i32;
        Ok(Some(receipt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_older_than_the_account_index_says_where_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.redb");
        {
            // A store as it was before the index: heights 0..=5.
            let db = Database::create(&path).unwrap();
            let w = db.begin_write().unwrap();
            {
                let mut t = w.open_table(HEIGHTS).unwrap();
                for h in 0..=5u64 {
                    t.insert(h, Hash::sha256(&h.to_be_bytes()).as_bytes().as_slice()).unwrap();
                }
            }
            w.commit().unwrap();
        }
        let store = BlockStore::open(&path).unwrap();
        assert_eq!(store.account_index_from().unwrap(), 6);
        drop(store);
        // Reopening keeps the mark; a new store covers everything.
        assert_eq!(BlockStore::open(&path).unwrap().account_index_from().unwrap(), 6);
        assert_eq!(BlockStore::open(&dir.path().join("new.redb")).unwrap().account_index_from().unwrap(), 0);
    }
}
