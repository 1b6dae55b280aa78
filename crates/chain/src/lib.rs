//! aergo-chain: the chain as a tree of blocks over the versioned state.
//!
//! Bird's-eye view: a [`Chain`] owns the two embedded stores of a data
//! directory, the state store (`state.redb`: prolly-tree nodes and refs)
//! and the block store (`blocks.redb`: blocks, receipts, indexes), and
//! keeps three pointers: the **head** (tip of the main chain), the **LIB**
//! (last irreversible block) and, in memory, the **tree** of every block
//! known at or above the LIB. Consensus engines decide; the chain carries
//! out:
//!
//! - [`Chain::build_block`]: execute candidate transactions on a parent's
//!   state and seal a signed block (block producers);
//! - [`Chain::import`]: check a block from elsewhere completely (structure,
//!   producer signature, every transaction, re-execution on its parent's
//!   state and the three roots) and store it, without moving the head;
//! - [`Chain::set_head`]: make a stored block the head, rewriting the
//!   main-chain indexes from the fork point (a reorg is cheap: states are
//!   snapshots, so switching branches is switching roots); it refuses to
//!   revert past the LIB;
//! - [`Chain::set_lib`]: advance the LIB and forget branches that can no
//!   longer win.
//!
//! Commit order is what makes restarts safe: a block's state nodes are
//! committed before the block is stored, and the block before any index or
//! pointer names it. A crash can leave unreferenced state nodes or blocks
//! (garbage), never a head whose block or state is missing. On open, the
//! head's state is checked to be present.
//!
//! Branches of the chain are not this crate's: they are lanes inside the
//! state (`aergo_exec::branches`), so the block tree, the head and the LIB
//! are the one consensus log's; [`Chain::import`] only verifies a block's
//! transactions against its parent's branch registry.
//!
//! Deliberately absent (next steps): pruning of old state (the store's GC
//! exists, the retention policy does not yet).

mod blockstore;
mod error;
mod preconf_log;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::RwLock;

use aergo_crypto::PrivateKey;
use aergo_exec::{
    genesis_state, slots, verify_tx_in, BlockBuilder, BlockContext, BlockOutcome, ChainRules, ExecError, Executor,
    ParallelStats, SlotInfo, VerifiedTx,
};
use aergo_store::{RefUpdate, Snapshot, Store, StoreConfig};
use aergo_types::genesis::DposSettings;
use aergo_types::{Address, Block, BlockHeader, Genesis, Hash, Receipt};

pub use blockstore::{AccountTx, BlockStore, MainBlock, TxLocation, MAX_ACCOUNT_TXS};
pub use error::ChainError;
pub use preconf_log::{PendingLog, PreconfLog, MAX_PENDING_LOG_TXS};

/// The store ref that follows the main chain's head state.
pub const MAIN_REF: &str = "main";

/// Most blocks kept in the in-memory tree above the LIB; beyond it new side
/// blocks are refused until the LIB advances.
pub const MAX_TREE_BLOCKS: usize = 100_000;

/// A block as the chain tracks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub height: u64,
    pub hash: Hash,
    pub state_root: Hash,
    pub timestamp_ns: i64,
}

#[derive(Clone, Debug)]
struct TreeNode {
    info: Head,
    parent: Hash,
}

/// A block built by [`Chain::build_block`], with what was left out.
pub struct BuiltBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    /// Candidates rejected against the state, with the reason.
    pub rejected: Vec<(Hash, ExecError)>,
}

/// A block being built: its parent, its timestamp and the executor's
/// builder holding the transactions applied so far.
pub struct OpenBlock {
    pub parent: Head,
    pub timestamp_ns: i64,
    pub builder: BlockBuilder,
}

/// What a head change did.
#[derive(Debug, Default)]
pub struct HeadChange {
    /// Blocks that left the main chain (their transactions are no longer
    /// committed), newest first.
    pub abandoned: Vec<Block>,
    /// Blocks that joined the main chain, oldest first.
    pub adopted: Vec<Block>,
}

struct Inner {
    head: Head,
    lib: Head,
    tree: BTreeMap<Hash, TreeNode>,
}

/// A chain in a data directory (or in memory).
pub struct Chain {
    store: Store,
    blocks: BlockStore,
    /// The producer's pre-confirmation log (see `preconf_log`).
    preconf_log: PreconfLog,
    genesis: Genesis,
    genesis_hash: Hash,
    rules: ChainRules,
    /// DPoS settings when the genesis names `dpos`: every block then runs
    /// the producer hooks (ratings, elections) before its transactions.
    dpos: Option<DposSettings>,
    /// Shared by every block, so contract functions compiled once are
    /// reused.
    executor: Executor,
    /// What the parallel executor did in every block this process built or
    /// imported (for metrics).
    exec_totals: std::sync::Mutex<ParallelStats>,
    inner: RwLock<Inner>,
}

impl Head {
    /// The head facts of a block (its hash computed from the header).
    pub fn of(block: &Block) -> Result<Head, ChainError> {
        head_of(block)
    }
}

fn head_of(block: &Block) -> Result<Head, ChainError> {
    let h = block.header()?;
    Ok(Head {
        height: h.block_no,
        hash: block.computed_hash()?,
        state_root: h.state_root()?,
        timestamp_ns: h.timestamp,
    })
}

fn parent_of(block: &Block) -> Result<Hash, ChainError> {
    let h = block.header()?;
    if h.block_no == 0 {
        return Ok(Hash::ZERO);
    }
    Ok(h.prev_hash()?)
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
        let preconf_log = PreconfLog::open(&dir.join("preconf"))?;
        Self::from_parts(store, blocks, preconf_log, genesis)
    }

    /// A chain that lives in memory only (simulations and tests).
    pub fn memory(genesis: Genesis) -> Result<Chain, ChainError> {
        Self::from_parts(Store::memory(), BlockStore::memory()?, PreconfLog::memory(), genesis)
    }

    fn from_parts(
        store: Store,
        blocks: BlockStore,
        preconf_log: PreconfLog,
        genesis: Genesis,
    ) -> Result<Chain, ChainError> {
        let rules = ChainRules { chain_id_hash: genesis.chain_id.hash(), public: genesis.chain_id.public };
        let dpos = genesis.dpos_settings()?;
        // The genesis state is a pure function of the genesis file: rebuild
        // it to learn the genesis block hash (its nodes are already stored if
        // the chain exists; staging them again is harmless).
        let genesis_root = genesis_state(&store, &genesis)?;
        let genesis_block = genesis.block(&genesis_root)?;
        let genesis_hash = genesis_block.computed_hash()?;
        match blocks.genesis_hash()? {
            None => {
                store.commit(&[RefUpdate { name: MAIN_REF.into(), target: Some(genesis_root) }], &[])?;
                blocks.put_block(&genesis_block, &[])?;
                let main = MainBlock { height: 0, hash: genesis_hash, txs: &[] };
                blocks.switch_main(&[], &[main], &genesis_hash, Some(&genesis_hash))?;
            }
            Some(stored) if stored != genesis_hash => {
                return Err(ChainError::GenesisMismatch { stored: stored.to_string(), given: genesis_hash.to_string() })
            }
            Some(_) => store.discard_staged()?,
        }
        let load = |hash: Hash, what: &'static str| -> Result<Block, ChainError> {
            blocks
                .block_by_hash(&hash)?
                .ok_or_else(|| ChainError::Corrupt { what, reason: format!("block {hash} missing") })
        };
        let head_hash =
            blocks.head_hash()?.ok_or(ChainError::Corrupt { what: "block store", reason: "no head".into() })?;
        let head = head_of(&load(head_hash, "head")?)?;
        let lib_hash = blocks.lib_hash()?.unwrap_or(genesis_hash);
        let lib = head_of(&load(lib_hash, "lib")?)?;
        // The head's state must be present: reading its catalogue fails with
        // a missing-node error naming the hash otherwise.
        aergo_store::TableStore::tables(&Snapshot::open(&store, head.state_root))?;
        // The tree starts as the main chain from the LIB to the head; side
        // branches are not kept across restarts.
        let mut tree = BTreeMap::new();
        for height in lib.height..=head.height {
            let hash = blocks.hash_at(height)?.ok_or_else(|| ChainError::Corrupt {
                what: "height index",
                reason: format!("no main-chain block at height {height} (head {})", head.height),
            })?;
            let block = load(hash, "main chain")?;
            tree.insert(hash, TreeNode { info: head_of(&block)?, parent: parent_of(&block)? });
        }
        Ok(Chain {
            store,
            blocks,
            preconf_log,
            genesis,
            genesis_hash,
            rules,
            dpos,
            executor: Executor::default(),
            exec_totals: std::sync::Mutex::new(ParallelStats::default()),
            inner: RwLock::new(Inner { head, lib, tree }),
        })
    }

    /// Runs this chain's blocks (built and imported) on up to `threads`
    /// workers ([`Executor::with_threads`]): a speed setting, never a
    /// rule, since the result is the one of executing in order.
    pub fn with_exec_threads(mut self, threads: usize) -> Chain {
        self.executor = Executor::with_threads(threads);
        self
    }

    /// What the parallel executor did in every block built or imported
    /// since this process opened the chain.
    pub fn exec_totals(&self) -> ParallelStats {
        *self.exec_totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_exec(&self, stats: &ParallelStats) {
        self.exec_totals.lock().unwrap_or_else(|p| p.into_inner()).add(stats);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn head(&self) -> Head {
        self.read().head.clone()
    }

    /// The last irreversible block.
    pub fn lib(&self) -> Head {
        self.read().lib.clone()
    }

    /// A block at or above the LIB that this process knows.
    pub fn known(&self, hash: &Hash) -> Option<Head> {
        self.read().tree.get(hash).map(|n| n.info.clone())
    }

    /// Number of blocks tracked above the LIB (all branches).
    pub fn tree_len(&self) -> usize {
        self.read().tree.len()
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

    /// The DPoS settings of a DPoS chain.
    pub fn dpos(&self) -> Option<&DposSettings> {
        self.dpos.as_ref()
    }

    /// The DPoS slot of a timestamp (0 on other chains).
    pub fn slot_of(&self, timestamp_ns: i64) -> u64 {
        match &self.dpos {
            Some(d) => slots::slot_of(timestamp_ns, self.genesis.timestamp, d.block_interval_ms),
            None => 0,
        }
    }

    fn slot_info(&self, parent: &Head, timestamp_ns: i64, producer: &aergo_crypto::PublicKey) -> Option<SlotInfo> {
        self.dpos.as_ref()?;
        Some(SlotInfo {
            height: parent.height + 1,
            slot: self.slot_of(timestamp_ns),
            parent_slot: if parent.height == 0 { 0 } else { self.slot_of(parent.timestamp_ns) },
            producer: producer.peer_id(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn blocks(&self) -> &BlockStore {
        &self.blocks
    }

    /// Where a producer makes its open block durable before it promises.
    pub fn preconf_log(&self) -> &PreconfLog {
        &self.preconf_log
    }

    /// The state after the head block.
    pub fn head_state(&self) -> Snapshot {
        Snapshot::open(&self.store, self.head().state_root)
    }

    /// The state after the main-chain block at `height`.
    pub fn state_at(&self, height: u64) -> Result<Option<Snapshot>, ChainError> {
        let Some(block) = self.blocks.block_by_height(height)? else { return Ok(None) };
        let root = block.header()?.state_root()?;
        Ok(Some(Snapshot::open(&self.store, root)))
    }

    /// The state after any known block at or above the LIB.
    pub fn state_of(&self, hash: &Hash) -> Option<Snapshot> {
        self.known(hash).map(|h| Snapshot::open(&self.store, h.state_root))
    }

    /// Executes `candidates` on the state of `parent` in order, leaving out
    /// those the state rejects, and seals the block with `key`.
    /// `consensus` goes in the header's consensus field (signed).
    pub fn build_block(
        &self,
        parent: &Hash,
        candidates: Vec<VerifiedTx>,
        key: &PrivateKey,
        timestamp_ns: i64,
        consensus: Vec<u8>,
    ) -> Result<BuiltBlock, ChainError> {
        let mut open = self.open_block(parent, key, timestamp_ns)?;
        let rejected = self.fill_block(&mut open, candidates)?;
        let mut built = self.seal_block(open, key, consensus)?;
        built.rejected = rejected;
        Ok(built)
    }

    /// Opens the block after `parent` that `key` will sign, at
    /// `timestamp_ns` (the DPoS block hook already run): transactions go in
    /// with [`OpenBlock::builder`] or [`Chain::fill_block`] and
    /// [`Chain::seal_block`] finishes it. A producer keeps its next block
    /// open to pre-confirm transactions as they arrive.
    pub fn open_block(&self, parent: &Hash, key: &PrivateKey, timestamp_ns: i64) -> Result<OpenBlock, ChainError> {
        let parent = self.known(parent).ok_or_else(|| ChainError::UnknownParent { parent: parent.to_string() })?;
        self.open_block_after(parent, key, timestamp_ns)
    }

    /// [`Chain::open_block`] after a block the chain need not hold yet:
    /// one this node has just sealed, whose state is staged in the store
    /// but not committed. Building on it before it is durable lets the
    /// producer take transactions while it commits.
    pub fn open_block_after(&self, parent: Head, key: &PrivateKey, timestamp_ns: i64) -> Result<OpenBlock, ChainError> {
        let coinbase: Address = key.address();
        let ctx = BlockContext { height: parent.height + 1, timestamp_ns, coinbase };
        let mut builder = self.builder(&parent, ctx)?;
        if let Some(info) = self.slot_info(&parent, timestamp_ns, &key.public_key()) {
            builder.begin_dpos(&info)?;
        }
        Ok(OpenBlock { parent, timestamp_ns, builder })
    }

    /// Applies `candidates` in order to an open block, leaving out (and
    /// returning, with the reason) those the state rejects; stops quietly
    /// when the block is full.
    pub fn fill_block(
        &self,
        open: &mut OpenBlock,
        candidates: Vec<VerifiedTx>,
    ) -> Result<Vec<(Hash, ExecError)>, ChainError> {
        let mut rejected = Vec::new();
        let stopped = open.builder.push_each(candidates, |_, hash, result| match result {
            Ok(_) => ControlFlow::Continue(()),
            Err(ExecError::BlockFull { .. }) => ControlFlow::Break(None),
            Err(e) if e.is_rejection() => {
                rejected.push((hash, e));
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(Some(e)),
        });
        if let Some(Some(e)) = stopped {
            return Err(e.into());
        }
        self.note_exec(&open.builder.parallel_stats());
        Ok(rejected)
    }

    /// Finishes an open block (state root, receipts) and signs it with
    /// `key`, which must be the key it was opened for.
    pub fn seal_block(&self, open: OpenBlock, key: &PrivateKey, consensus: Vec<u8>) -> Result<BuiltBlock, ChainError> {
        let OpenBlock { parent, timestamp_ns, builder } = open;
        let outcome = builder.finish()?;
        let coinbase = key.address();
        let mut header = self.header_for(&parent, timestamp_ns, &coinbase, &outcome);
        header.consensus = consensus;
        let block = aergo_crypto::sign_block(header, outcome.txs, key)?;
        Ok(BuiltBlock { block, receipts: outcome.receipts, rejected: Vec::new() })
    }

    fn builder(&self, parent: &Head, ctx: BlockContext) -> Result<BlockBuilder, ExecError> {
        self.executor.builder(&self.store, parent.state_root, ctx)
    }

    fn header_for(&self, parent: &Head, timestamp_ns: i64, coinbase: &Address, outcome: &BlockOutcome) -> BlockHeader {
        BlockHeader {
            chain_id: self.genesis.chain_id.to_bytes(),
            prev_block_hash: parent.hash.to_vec(),
            block_no: parent.height + 1,
            timestamp: timestamp_ns,
            blocks_root_hash: outcome.state_root.to_vec(),
            txs_root_hash: outcome.txs_root.to_vec(),
            receipts_root_hash: outcome.receipts_root.to_vec(),
            coinbase_account: coinbase.to_vec(),
            ..Default::default()
        }
    }

    /// Stores a block whose state is staged in the store (built here) and
    /// adds it to the tree. Does not move the head.
    pub fn store_block(&self, block: &Block, receipts: &[Receipt]) -> Result<Head, ChainError> {
        let info = head_of(block)?;
        let parent = parent_of(block)?;
        {
            let inner = self.read();
            if inner.tree.contains_key(&info.hash) {
                return Ok(info);
            }
            let Some(p) = inner.tree.get(&parent) else {
                return Err(ChainError::UnknownParent { parent: parent.to_string() });
            };
            if p.info.height + 1 != info.height {
                return Err(ChainError::InvalidBlock {
                    hash: info.hash.to_string(),
                    reason: format!("height {} does not follow its parent's {}", info.height, p.info.height),
                });
            }
            if inner.tree.len() >= MAX_TREE_BLOCKS {
                return Err(ChainError::TreeFull { limit: MAX_TREE_BLOCKS });
            }
        }
        // State nodes first, then the block: a stored block's state is
        // always complete.
        self.store.commit(&[], &[info.state_root])?;
        self.blocks.put_block(block, receipts)?;
        self.write().tree.insert(info.hash, TreeNode { info: info.clone(), parent });
        Ok(info)
    }

    /// Appends a block built on the head and makes it the head (the solo
    /// producer's path).
    pub fn commit(&self, block: &Block, receipts: &[Receipt]) -> Result<Head, ChainError> {
        let head = self.head();
        let header = block.header()?;
        if header.block_no != head.height + 1 || header.prev_block_hash.as_slice() != head.hash.as_bytes() {
            return Err(ChainError::NotOnHead {
                height: header.block_no,
                expected: head.hash.to_string(),
                got: Hash::from_slice("prev hash", &header.prev_block_hash).map(|h| h.to_string()).unwrap_or_default(),
            });
        }
        let info = self.store_block(block, receipts)?;
        self.set_head(&info.hash)?;
        Ok(info)
    }

    /// Checks a block from elsewhere completely and stores it; its parent
    /// must be known (at or above the LIB). Does not move the head.
    pub fn import(&self, block: &Block) -> Result<Head, ChainError> {
        self.import_reusing(block, &BTreeMap::new())
    }

    /// [`Chain::import`], taking the stateless checks and the signature of
    /// a transaction as done when `verified` holds one identical to it
    /// (byte for byte) on main: most of a gossiped block's transactions
    /// were verified when the pool admitted them, and verifying a
    /// signature costs more than executing a transfer. A branch's
    /// transactions are always verified against the parent's registry.
    pub fn import_reusing(&self, block: &Block, known: &BTreeMap<Hash, VerifiedTx>) -> Result<Head, ChainError> {
        let hash = block.computed_hash()?;
        if let Some(known) = self.known(&hash) {
            return Ok(known);
        }
        let invalid = |reason: String| ChainError::InvalidBlock { hash: hash.to_string(), reason };
        block.validate_structure().map_err(|e| invalid(e.to_string()))?;
        let header = block.header()?;
        if header.chain_id != self.genesis.chain_id.to_bytes() {
            return Err(invalid("chain id differs from this chain's".into()));
        }
        let producer =
            aergo_crypto::verify_block_header(header).map_err(|e| invalid(format!("producer signature: {e}")))?;
        let parent_hash = parent_of(block)?;
        let parent =
            self.known(&parent_hash).ok_or_else(|| ChainError::UnknownParent { parent: parent_hash.to_string() })?;
        if header.block_no != parent.height + 1 {
            return Err(invalid(format!("height {} does not follow its parent's {}", header.block_no, parent.height)));
        }
        if header.timestamp <= parent.timestamp_ns {
            return Err(invalid(format!(
                "timestamp {} is not after its parent's {}",
                header.timestamp, parent.timestamp_ns
            )));
        }
        // Branch transactions are recognised by the registry of the parent
        // state (a branch takes transactions from the block after the one
        // creating it).
        let parent_state = Snapshot::open(&self.store, parent.state_root);
        let mut verified = Vec::with_capacity(block.txs().len());
        for (i, tx) in block.txs().iter().enumerate() {
            let done = Hash::from_slice("tx hash", &tx.hash)
                .ok()
                .and_then(|h| known.get(&h))
                .filter(|v| v.branch().is_none() && v.tx() == tx);
            if let Some(v) = done {
                verified.push(v.clone());
                continue;
            }
            let vtx = verify_tx_in(tx.clone(), &self.rules, &parent_state).map_err(|e| {
                if e.is_rejection() {
                    invalid(format!("tx #{i}: {e}"))
                } else {
                    ChainError::Exec(e)
                }
            })?;
            verified.push(vtx);
        }
        let coinbase = Address::from_bytes(&header.coinbase_account).map_err(|e| invalid(format!("coinbase: {e}")))?;
        let ctx = BlockContext { height: header.block_no, timestamp_ns: header.timestamp, coinbase };
        let mut builder = self.builder(&parent, ctx)?;
        if let Some(info) = self.slot_info(&parent, header.timestamp, &producer) {
            builder.begin_dpos(&info).map_err(|e| invalid(format!("producer bookkeeping: {e}")))?;
        }
        let failed = builder.push_each(verified, |i, _, result| match result {
            Ok(_) => ControlFlow::Continue(()),
            Err(e) if e.is_rejection() => ControlFlow::Break(invalid(format!("tx #{i} rejected on execution: {e}"))),
            Err(e) => ControlFlow::Break(ChainError::Exec(e)),
        });
        if let Some(e) = failed {
            return Err(e);
        }
        self.note_exec(&builder.parallel_stats());
        let outcome = builder.finish()?;
        let check = |what: &str, got: Hash, want: &[u8]| {
            if got.as_bytes().as_slice() == want {
                Ok(())
            } else {
                Err(invalid(format!("{what} mismatch: header says {}, execution gives {got}", hash_or_len(want))))
            }
        };
        check("state root", outcome.state_root, &header.blocks_root_hash)?;
        check("receipts root", outcome.receipts_root, &header.receipts_root_hash)?;
        check("txs root", outcome.txs_root, &header.txs_root_hash)?;
        self.store_block(block, &outcome.receipts)
    }

    /// Imports a block and makes it the head if it extends the head (the
    /// path of single-producer chains and of sync).
    pub fn import_and_extend(&self, block: &Block) -> Result<Head, ChainError> {
        let head = self.head();
        let info = self.import(block)?;
        if parent_of(block)? == head.hash {
            self.set_head(&info.hash)?;
        }
        Ok(info)
    }

    /// Makes a known block the head, switching branches if needed. Refuses
    /// to abandon the LIB.
    pub fn set_head(&self, hash: &Hash) -> Result<HeadChange, ChainError> {
        let (old_branch, new_branch, new_head) = {
            let inner = self.read();
            if inner.head.hash == *hash {
                return Ok(HeadChange::default());
            }
            let target = inner.tree.get(hash).ok_or_else(|| ChainError::UnknownBlock { hash: hash.to_string() })?;
            // Walk both tips down to their common ancestor.
            let (mut a, mut b) = (inner.head.hash, *hash);
            let (mut ha, mut hb) = (inner.head.height, target.info.height);
            let mut old_branch = Vec::new();
            let mut new_branch = Vec::new();
            let step = |h: &Hash| -> Result<(Hash, u64), ChainError> {
                let n = inner.tree.get(h).ok_or_else(|| ChainError::Corrupt {
                    what: "block tree",
                    reason: format!("{h} not linked to the LIB"),
                })?;
                Ok((n.parent, n.info.height.saturating_sub(1)))
            };
            while a != b {
                if ha >= hb {
                    if ha <= inner.lib.height {
                        return Err(ChainError::BelowLib { hash: hash.to_string(), lib_height: inner.lib.height });
                    }
                    old_branch.push(a);
                    (a, ha) = step(&a)?;
                } else {
                    new_branch.push(b);
                    (b, hb) = step(&b)?;
                }
            }
            if ha < inner.lib.height {
                return Err(ChainError::BelowLib { hash: hash.to_string(), lib_height: inner.lib.height });
            }
            new_branch.reverse();
            (old_branch, new_branch, target.info.clone())
        };
        let load = |h: &Hash| -> Result<Block, ChainError> {
            self.blocks
                .block_by_hash(h)?
                .ok_or_else(|| ChainError::Corrupt { what: "block store", reason: format!("block {h} missing") })
        };
        let abandoned: Vec<Block> = old_branch.iter().map(load).collect::<Result<_, _>>()?;
        let adopted: Vec<Block> = new_branch.iter().map(load).collect::<Result<_, _>>()?;
        let as_main = |blocks: &[Block], hashes: &[Hash]| -> Result<Vec<(u64, Hash)>, ChainError> {
            blocks.iter().zip(hashes).map(|(b, h)| Ok((b.header()?.block_no, *h))).collect()
        };
        let old_main = as_main(&abandoned, &old_branch)?;
        let new_main = as_main(&adopted, &new_branch)?;
        let old_refs: Vec<MainBlock<'_>> = old_main
            .iter()
            .zip(&abandoned)
            .map(|((height, hash), b)| MainBlock { height: *height, hash: *hash, txs: b.txs() })
            .collect();
        let new_refs: Vec<MainBlock<'_>> = new_main
            .iter()
            .zip(&adopted)
            .map(|((height, hash), b)| MainBlock { height: *height, hash: *hash, txs: b.txs() })
            .collect();
        self.store.commit(&[RefUpdate { name: MAIN_REF.into(), target: Some(new_head.state_root) }], &[])?;
        self.blocks.switch_main(&old_refs, &new_refs, &new_head.hash, None)?;
        self.write().head = new_head;
        Ok(HeadChange { abandoned, adopted })
    }

    /// Advances the LIB to a main-chain block and forgets every branch that
    /// does not contain it.
    pub fn set_lib(&self, hash: &Hash) -> Result<(), ChainError> {
        let mut inner = self.write();
        if inner.lib.hash == *hash {
            return Ok(());
        }
        let node = inner.tree.get(hash).ok_or_else(|| ChainError::UnknownBlock { hash: hash.to_string() })?.clone();
        if node.info.height < inner.lib.height {
            return Err(ChainError::BelowLib { hash: hash.to_string(), lib_height: inner.lib.height });
        }
        if self.blocks.hash_at(node.info.height)? != Some(*hash) {
            return Err(ChainError::NotMain { hash: hash.to_string() });
        }
        self.blocks.set_meta("lib", hash.as_bytes())?;
        // Keep the new LIB and its descendants: a block survives if its
        // parent survives (parents come first in height order).
        let mut by_height: Vec<(u64, Hash, Hash)> =
            inner.tree.iter().map(|(h, n)| (n.info.height, *h, n.parent)).collect();
        by_height.sort();
        let mut keep = std::collections::BTreeSet::new();
        keep.insert(*hash);
        for (height, h, parent) in by_height {
            if height > node.info.height && keep.contains(&parent) {
                keep.insert(h);
            }
        }
        inner.tree.retain(|h, _| keep.contains(h));
        inner.lib = node.info;
        Ok(())
    }
}

fn hash_or_len(bytes: &[u8]) -> String {
    Hash::from_slice("hash", bytes).map(|h| h.to_string()).unwrap_or_else(|_| format!("{} bytes", bytes.len()))
}

#[cfg(test)]
mod tests;
