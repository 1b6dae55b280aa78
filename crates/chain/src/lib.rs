//! aergo-chain: the chain as a sequence of blocks over the versioned state.
//!
//! Bird's-eye view: a [`Chain`] owns the two embedded stores of a data
//! directory, the state store (`state.redb`: prolly-tree nodes and refs)
//! and the block store (`blocks.redb`: blocks, transactions, receipts),
//! and keeps the head. It offers the three operations every consensus
//! engine needs:
//!
//! - [`Chain::build_block`]: execute candidate transactions on the head
//!   state and seal a signed block (block producers);
//! - [`Chain::import`]: check a block from elsewhere (signature, structure,
//!   every transaction, then re-execution and the three roots) and append
//!   it;
//! - [`Chain::commit`]: append a block whose execution is known.
//!
//! Commit order is what makes restarts safe: the state nodes and the `main`
//! ref are committed first, then the block and the head in one block-store
//! transaction. A crash in between leaves unreferenced state nodes (garbage
//! for GC), never a head whose state is missing. On open, the head block's
//! state root is checked to be present.
//!
//! Deliberately absent (next steps): forks and reorgs (solo has none; DPoS
//! adds them with LIB), branches and merges as chain operations, pruning.

mod blockstore;
mod error;

use std::path::Path;
use std::sync::RwLock;

use aergo_crypto::PrivateKey;
use aergo_exec::{
    execute_block, from_store_hash, genesis_state, to_store_hash, verify_tx, BlockBuilder, BlockContext, BlockOutcome,
    ChainRules, ExecError, VerifiedTx,
};
use aergo_store::{RefUpdate, Snapshot, Store, StoreConfig};
use aergo_types::{Address, Block, BlockHeader, Genesis, Hash, Receipt};

pub use blockstore::{BlockStore, TxLocation};
pub use error::ChainError;

/// The store ref that follows the main chain's head state.
pub const MAIN_REF: &str = "main";

/// What the chain's head is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub height: u64,
    pub hash: Hash,
    pub state_root: Hash,
    pub timestamp_ns: i64,
}

/// A block built by [`Chain::build_block`], with what was left out.
pub struct BuiltBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    /// Candidates rejected against the state, with the reason.
    pub rejected: Vec<(Hash, ExecError)>,
}

/// A chain in a data directory.
pub struct Chain {
    store: Store,
    blocks: BlockStore,
    genesis: Genesis,
    genesis_hash: Hash,
    rules: ChainRules,
    head: RwLock<Head>,
}

fn head_of(block: &Block) -> Result<Head, ChainError> {
    let h = block.header()?;
    Ok(Head {
        height: h.block_no,
        hash: block.computed_hash()?,
        state_root: Hash::from_slice("state root", &h.blocks_root_hash)?,
        timestamp_ns: h.timestamp,
    })
}

impl Chain {
    /// Opens the chain in `dir`, creating it from `genesis` if the directory
    /// is new; refuses a directory that holds another chain.
    pub fn open(dir: &Path, genesis: Genesis) -> Result<Chain, ChainError> {
        Self::open_with(dir, genesis, StoreConfig::default())
    }

    pub fn open_with(dir: &Path, genesis: Genesis, config: StoreConfig) -> Result<Chain, ChainError> {
        std::fs::create_dir_all(dir).map_err(|e| ChainError::Db(format!("cannot create {}: {e}", dir.display())))?;
        let store = Store::open_with(dir.join("state.redb"), config)?;
        let blocks = BlockStore::open(&dir.join("blocks.redb"))?;
        let rules = ChainRules { chain_id_hash: genesis.chain_id.hash(), public: genesis.chain_id.public };
        // The genesis state is a pure function of the genesis file: rebuild
        // it to learn the genesis block hash (its nodes are already stored if
        // the chain exists; staging them again is harmless).
        let genesis_root = genesis_state(&store, &genesis)?;
        let genesis_block = genesis.block(&from_store_hash(&genesis_root))?;
        let genesis_hash = genesis_block.computed_hash()?;
        match blocks.genesis_hash()? {
            None => {
                store.commit(&[RefUpdate { name: MAIN_REF.into(), target: Some(genesis_root) }], &[])?;
                blocks.put_head(&genesis_block, &[])?;
            }
            Some(stored) if stored != genesis_hash => {
                return Err(ChainError::GenesisMismatch { stored: stored.to_string(), given: genesis_hash.to_string() })
            }
            Some(_) => store.discard_staged()?,
        }
        let head_hash =
            blocks.head_hash()?.ok_or(ChainError::Corrupt { what: "block store", reason: "no head".into() })?;
        let head_block = blocks.block_by_hash(&head_hash)?.ok_or_else(|| ChainError::Corrupt {
            what: "block store",
            reason: format!("head block {head_hash} missing"),
        })?;
        let head = head_of(&head_block)?;
        // The head's state must be present: reading its catalogue fails with
        // a missing-node error naming the hash otherwise.
        aergo_store::TableStore::tables(&Snapshot::open(&store, to_store_hash(&head.state_root)))?;
        Ok(Chain { store, blocks, genesis, genesis_hash, rules, head: RwLock::new(head) })
    }

    pub fn head(&self) -> Head {
        self.head.read().map(|h| h.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn rules(&self) -> &ChainRules {
        &self.rules
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn blocks(&self) -> &BlockStore {
        &self.blocks
    }

    /// The state after the head block.
    pub fn head_state(&self) -> Snapshot {
        Snapshot::open(&self.store, to_store_hash(&self.head().state_root))
    }

    /// The state after the main-chain block at `height`.
    pub fn state_at(&self, height: u64) -> Result<Option<Snapshot>, ChainError> {
        let Some(block) = self.blocks.block_by_height(height)? else { return Ok(None) };
        let root = Hash::from_slice("state root", &block.header()?.blocks_root_hash)?;
        Ok(Some(Snapshot::open(&self.store, to_store_hash(&root))))
    }

    /// Executes `candidates` on the head state in order, leaving out those
    /// the state rejects, and seals the block with `key`.
    pub fn build_block(
        &self,
        candidates: Vec<VerifiedTx>,
        key: &PrivateKey,
        timestamp_ns: i64,
    ) -> Result<BuiltBlock, ChainError> {
        let head = self.head();
        let coinbase: Address = key.address();
        let ctx = BlockContext { height: head.height + 1, timestamp_ns, coinbase: coinbase.clone() };
        let mut builder = BlockBuilder::new(&self.store, to_store_hash(&head.state_root), ctx)?;
        let mut rejected = Vec::new();
        for vtx in candidates {
            let hash = vtx.hash();
            match builder.push(vtx) {
                Ok(_) => {}
                Err(ExecError::BlockFull { .. }) => break,
                Err(e) if e.is_rejection() => rejected.push((hash, e)),
                Err(e) => return Err(e.into()),
            }
        }
        let outcome = builder.finish()?;
        let header = self.header_for(&head, timestamp_ns, &coinbase, &outcome);
        let block = aergo_crypto::sign_block(header, outcome.txs, key)?;
        Ok(BuiltBlock { block, receipts: outcome.receipts, rejected })
    }

    fn header_for(&self, head: &Head, timestamp_ns: i64, coinbase: &Address, outcome: &BlockOutcome) -> BlockHeader {
        BlockHeader {
            chain_id: self.genesis.chain_id.to_bytes(),
            prev_block_hash: head.hash.to_vec(),
            block_no: head.height + 1,
            timestamp: timestamp_ns,
            blocks_root_hash: from_store_hash(&outcome.state_root).to_vec(),
            txs_root_hash: outcome.txs_root.to_vec(),
            receipts_root_hash: outcome.receipts_root.to_vec(),
            coinbase_account: coinbase.to_vec(),
            ..Default::default()
        }
    }

    /// Appends a block whose state is already staged in the store (built
    /// here, or imported).
    pub fn commit(&self, block: &Block, receipts: &[Receipt]) -> Result<Head, ChainError> {
        let mut head = self.head.write().map_err(|_| ChainError::Db("head lock poisoned".into()))?;
        let new_head = head_of(block)?;
        let header = block.header()?;
        if header.block_no != head.height + 1 || header.prev_block_hash.as_slice() != head.hash.as_bytes() {
            return Err(ChainError::NotOnHead {
                height: header.block_no,
                expected: head.hash.to_string(),
                got: Hash::from_slice("prev hash", &header.prev_block_hash).map(|h| h.to_string()).unwrap_or_default(),
            });
        }
        self.store
            .commit(&[RefUpdate { name: MAIN_REF.into(), target: Some(to_store_hash(&new_head.state_root)) }], &[])?;
        self.blocks.put_head(block, receipts)?;
        *head = new_head.clone();
        Ok(new_head)
    }

    /// Checks a block from elsewhere completely and appends it.
    pub fn import(&self, block: &Block) -> Result<Head, ChainError> {
        let invalid = |reason: String| ChainError::InvalidBlock {
            hash: block.computed_hash().map(|h| h.to_string()).unwrap_or_default(),
            reason,
        };
        block.validate_structure().map_err(|e| invalid(e.to_string()))?;
        let header = block.header()?;
        if header.chain_id != self.genesis.chain_id.to_bytes() {
            return Err(invalid("chain id differs from this chain's".into()));
        }
        aergo_crypto::verify_block_header(header).map_err(|e| invalid(format!("producer signature: {e}")))?;
        let head = self.head();
        if header.block_no != head.height + 1 || header.prev_block_hash.as_slice() != head.hash.as_bytes() {
            return Err(ChainError::NotOnHead {
                height: header.block_no,
                expected: head.hash.to_string(),
                got: Hash::from_slice("prev hash", &header.prev_block_hash).map(|h| h.to_string()).unwrap_or_default(),
            });
        }
        let mut verified = Vec::with_capacity(block.txs().len());
        for (i, tx) in block.txs().iter().enumerate() {
            verified.push(verify_tx(tx.clone(), &self.rules).map_err(|e| invalid(format!("tx #{i}: {e}")))?);
        }
        let coinbase = Address::from_bytes(&header.coinbase_account).map_err(|e| invalid(format!("coinbase: {e}")))?;
        let ctx = BlockContext { height: header.block_no, timestamp_ns: header.timestamp, coinbase };
        let outcome = execute_block(&self.store, to_store_hash(&head.state_root), ctx, verified)
            .map_err(|(i, e)| invalid(format!("tx #{i} rejected on execution: {e}")))?;
        let check = |what: &str, got: Hash, want: &[u8]| {
            if got.as_bytes().as_slice() == want {
                Ok(())
            } else {
                Err(invalid(format!("{what} mismatch: header says {}, execution gives {got}", hex_or(want))))
            }
        };
        check("state root", from_store_hash(&outcome.state_root), &header.blocks_root_hash)?;
        check("receipts root", outcome.receipts_root, &header.receipts_root_hash)?;
        check("txs root", outcome.txs_root, &header.txs_root_hash)?;
        self.commit(block, &outcome.receipts)
    }
}

fn hex_or(bytes: &[u8]) -> String {
    Hash::from_slice("hash", bytes).map(|h| h.to_string()).unwrap_or_else(|_| format!("{} bytes", bytes.len()))
}

#[cfg(test)]
mod tests;
