//! The block store: blocks, transactions and receipts on redb, indexed by
//! hash and height.
//!
//! Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `blocks` | block hash | encoded `Block` (the Go node's protobuf) |
//! | `heights` | height (u64) | block hash of the main chain at that height |
//! | `txs` | tx hash | block hash (32 bytes) ++ index in block (u32 big-endian) |
//! | `receipts` | tx hash | encoded `Receipt` |
//! | `meta` | name | bytes (`head`: block hash; `genesis`: block hash) |
//!
//! A block and everything that indexes it are written in one redb write
//! transaction, head included: after a crash the store holds either the
//! whole block or none of it. redb commits are durable (fsync) by default.

use std::path::Path;

use aergo_types::{Block, Hash, Receipt, Tx};
use redb::{Database, TableDefinition};

use crate::ChainError;

const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
const HEIGHTS: TableDefinition<u64, &[u8]> = TableDefinition::new("heights");
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Largest receipt the store will decode.
const RECEIPT_MAX_BYTES: usize = 1 << 20;

/// Where a transaction sits in the chain.
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

impl BlockStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<BlockStore, ChainError> {
        let db = Database::create(path)?;
        let w = db.begin_write()?;
        {
            w.open_table(BLOCKS)?;
            w.open_table(HEIGHTS)?;
            w.open_table(TXS)?;
            w.open_table(RECEIPTS)?;
            w.open_table(META)?;
        }
        w.commit()?;
        Ok(BlockStore { db })
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, ChainError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        Ok(t.get(name)?.map(|v| v.value().to_vec()))
    }

    /// Hash of the head block, if any block was stored.
    pub fn head_hash(&self) -> Result<Option<Hash>, ChainError> {
        self.meta("head")?.map(|b| hash_from("head hash", &b)).transpose()
    }

    /// Hash of the genesis block, if stored.
    pub fn genesis_hash(&self) -> Result<Option<Hash>, ChainError> {
        self.meta("genesis")?.map(|b| hash_from("genesis hash", &b)).transpose()
    }

    /// Stores `block` with its receipts and makes it the head, atomically.
    /// Receipts are given in transaction order.
    pub fn put_head(&self, block: &Block, receipts: &[Receipt]) -> Result<(), ChainError> {
        let header = block.header()?;
        let hash = block.computed_hash()?;
        if receipts.len() != block.txs().len() {
            return Err(ChainError::InvalidBlock {
                hash: hash.to_string(),
                reason: format!("{} receipts for {} transactions", receipts.len(), block.txs().len()),
            });
        }
        let w = self.db.begin_write()?;
        {
            let mut blocks = w.open_table(BLOCKS)?;
            blocks.insert(hash.as_bytes().as_slice(), block.encode().as_slice())?;
            let mut heights = w.open_table(HEIGHTS)?;
            heights.insert(header.block_no, hash.as_bytes().as_slice())?;
            let mut txs = w.open_table(TXS)?;
            let mut rs = w.open_table(RECEIPTS)?;
            for (i, (tx, receipt)) in block.txs().iter().zip(receipts).enumerate() {
                let mut loc = hash.to_vec();
                loc.extend_from_slice(&(i as u32).to_be_bytes());
                txs.insert(tx.hash.as_slice(), loc.as_slice())?;
                rs.insert(tx.hash.as_slice(), receipt.encode().as_slice())?;
            }
            let mut meta = w.open_table(META)?;
            meta.insert("head", hash.as_bytes().as_slice())?;
            if header.block_no == 0 {
                meta.insert("genesis", hash.as_bytes().as_slice())?;
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

    /// A committed transaction with its location.
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

    /// The receipt of a committed transaction, with its block hash, height
    /// and index filled in.
    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<Receipt>, ChainError> {
        let Some(loc) = self.tx_location(tx_hash)? else { return Ok(None) };
        let r = self.db.begin_read()?;
        let t = r.open_table(RECEIPTS)?;
        let Some(v) = t.get(tx_hash.as_bytes().as_slice())? else {
            return Err(ChainError::Corrupt {
                what: "receipts",
                reason: format!("no receipt for indexed tx {tx_hash}"),
            });
        };
        let mut receipt = Receipt::decode_bounded(v.value(), RECEIPT_MAX_BYTES)
            .map_err(|e| ChainError::Corrupt { what: "receipt", reason: e.to_string() })?;
        receipt.block_hash = loc.block_hash.to_vec();
        receipt.tx_index = loc.index as i32;
        Ok(Some(receipt))
    }
}
