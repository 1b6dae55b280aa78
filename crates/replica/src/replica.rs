//! The replica: one node's chain, pool and consensus engine, turning
//! inputs into outputs (see the crate documentation for the design).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aergo_chain::{Chain, ChainError, HeadChange};
use aergo_consensus::dpos::{Action, Anchor, BlockMeta, DposConfig, Evidence, Proposal, Qc, SafetyState, Vote};
use aergo_consensus::{ConsensusError, ConsensusKind, DposEngine, Solo, SoloConfig};
use aergo_crypto::{PrivateKey, PublicKey};
use aergo_exec::VerifiedTx;
use aergo_pool::{ChainFees, Pool, PoolConfig, PoolError};
use aergo_types::{Address, Block, Hash, Tx, TxList};

use crate::error::{ReplicaError, Result, TxRejection};
use crate::output::{Offence, Output, Peer, Step, Verdict};
use crate::pending::{LogCursor, Pending, PreconfOutcome, SealedLog, Ticket};
use crate::schedule::{ChainSchedule, ScheduleCache};

#[path = "preconf_dpos.rs"]
mod preconf_dpos;

/// Block-store meta entry holding the DPoS safety state (57 bytes).
pub const SAFETY_META: &str = "consensus";
/// Block-store meta entry holding the DPoS restart anchor.
pub const ANCHOR_META: &str = "consensus_anchor";

/// Blocks kept while their parent is unknown.
pub const MAX_ORPHANS: usize = 256;
/// Blocks kept because their timestamp is ahead of the local clock.
pub const MAX_FUTURE_BLOCKS: usize = 64;
/// Actions carried out in one step at most (a produced block's follow-up
/// actions included): far above what one engine call emits.
const MAX_ACTIONS_PER_STEP: usize = 100_000;
/// Orphans adopted in one step at most.
const MAX_ADOPTIONS_PER_STEP: usize = MAX_ORPHANS;

/// The replica's settings (from the node's configuration).
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// Most transactions a block built here holds.
    pub max_block_txs: usize,
    /// Settings of the solo engine (block interval, empty blocks).
    pub solo: SoloConfig,
    /// Bounds of the transaction pool.
    pub pool: PoolConfig,
    /// DPoS: how far a block's timestamp may be ahead of the local clock.
    pub max_clock_drift_ms: u64,
    /// DPoS: how long into its slot a leader waits for the previous slot's
    /// certificate, in percent of the slot.
    pub produce_wait_percent: u8,
    /// DPoS: vote only for blocks at most this many slots old.
    pub max_vote_age_slots: u64,
    /// A producer applies each admitted transaction to its open next block
    /// at once and can pre-confirm it (see `pending`).
    pub preconfirm: bool,
    /// Test only: a DPoS producer seals its open block without its first
    /// transaction, breaking that promise, so that end-to-end tests can
    /// show the evidence and the slashing (`AERGO_TEST_BREAK_PROMISES` in
    /// the node). Never set it on a real producer: it gets slashed.
    pub break_promises: bool,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            max_block_txs: 10_000,
            solo: SoloConfig::default(),
            pool: PoolConfig::default(),
            max_clock_drift_ms: 500,
            produce_wait_percent: 50,
            max_vote_age_slots: 4,
            preconfirm: true,
            break_promises: false,
        }
    }
}

/// The engines a replica can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// `sbp`: one producer, every block final at once.
    Solo,
    /// `dpos`: BFT-DPoS.
    Dpos,
}

impl EngineKind {
    /// The name the chain id uses.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Solo => "sbp",
            EngineKind::Dpos => "dpos",
        }
    }
}

/// This node's part in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The single producer of a solo chain.
    Solo,
    /// In the producer set at the head.
    Producer,
    /// Not in the producer set (DPoS) or not in a solo chain's `bps`:
    /// follows.
    Follower,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Solo => "solo",
            Role::Producer => "producer",
            Role::Follower => "follower",
        }
    }
}

/// What [`Replica::dpos_status`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DposStatus {
    pub lib: (u64, Hash),
    pub head: Hash,
    pub highest_certified: Hash,
    pub safety: SafetyState,
    pub current_slot: u64,
    pub tree_blocks: usize,
    pub pending_votes: usize,
}

enum Engine {
    Solo(Solo),
    Dpos(Box<DposEngine>),
}

/// A block waiting for something: its parent, or the clock.
struct Waiting {
    block: Block,
    hash: Hash,
    height: u64,
    from: Option<Peer>,
}

/// Blocks whose parent is unknown, by parent; bounded.
#[derive(Default)]
struct Orphans {
    by_parent: BTreeMap<Hash, Vec<Waiting>>,
    hashes: BTreeSet<Hash>,
}

impl Orphans {
    fn len(&self) -> usize {
        self.hashes.len()
    }

    fn insert(&mut self, parent: Hash, w: Waiting) -> bool {
        if self.hashes.contains(&w.hash) || self.hashes.len() >= MAX_ORPHANS {
            return false;
        }
        self.hashes.insert(w.hash);
        self.by_parent.entry(parent).or_default().push(w);
        true
    }

    fn take_children(&mut self, parent: &Hash) -> Vec<Waiting> {
        let children = self.by_parent.remove(parent).unwrap_or_default();
        for c in &children {
            self.hashes.remove(&c.hash);
        }
        children
    }

    /// Drops orphans at or below the LIB: they can never be adopted.
    fn prune(&mut self, lib_height: u64) {
        let hashes = &mut self.hashes;
        self.by_parent.retain(|_, list| {
            list.retain(|w| {
                let keep = w.height > lib_height;
                if !keep {
                    hashes.remove(&w.hash);
                }
                keep
            });
            !list.is_empty()
        });
    }
}

struct Core {
    engine: Engine,
    cache: RefCell<ScheduleCache>,
    orphans: Orphans,
    future: Vec<Waiting>,
    /// Latest time seen by `on_tick` (never goes back).
    now_ns: i64,
    /// Set while a restart feeds the stored main chain to the engine: the
    /// engine's head switches then walk that chain block by block, which
    /// must not rewrite the stored main chain being read; the head is set
    /// once at the end.
    replaying: bool,
}

/// One node's deterministic core. All methods take `&self`: the replica
/// locks its own parts (the consensus core, then the pool; never the
/// other way round), so a shell can share it between tasks. Transaction
/// admission only takes the pool's lock and never waits for a block being
/// built.
pub struct Replica {
    chain: Arc<Chain>,
    pool: Mutex<Pool>,
    key: PrivateKey,
    /// `key`'s public key, derived once.
    public_key: PublicKey,
    peer_id: String,
    kind: EngineKind,
    /// Solo chains: the genesis `bps` allowed to seal blocks (empty: any
    /// key, the dev default of a node running alone).
    solo_producers: Vec<String>,
    config: ReplicaConfig,
    core: Mutex<Core>,
    /// The producer's open next block (solo producers with `preconfirm`).
    /// Lock order: core, then pending, then pool.
    pending: Mutex<Option<Pending>>,
    /// How much of the pending block the pre-confirmation log holds; taken
    /// before `pending`, never while holding it.
    log_cursor: Mutex<LogCursor>,
    /// The last sealed open block's transactions (lock order: after
    /// `pending`).
    sealed_log: Mutex<Option<SealedLog>>,
    /// Latest `on_tick` time, for the timestamp of a block opened between
    /// ticks.
    clock_ns: AtomicI64,
    /// DPoS: recent producer sets, for admission's schedule check.
    set_cache: Mutex<preconf_dpos::SetCache>,
}

/// Decoded header facts the engine needs.
struct BlockFacts {
    hash: Hash,
    parent: Hash,
    height: u64,
    timestamp_ns: i64,
    producer: PublicKey,
    /// DPoS: the parent's certificate from the header's `consensus` bytes.
    /// Solo blocks carry none (their `consensus` must be empty).
    qc: Option<Qc>,
}

/// The header facts of a block of the chain whose chain id bytes are
/// `chain_id`. A block that names another chain is invalid here whatever
/// its parent: refused before it could wait as an orphan (and make this
/// node ask its sender for the missing range).
fn facts_of(block: &Block, kind: EngineKind, chain_id: &[u8]) -> std::result::Result<BlockFacts, (Offence, String)> {
    let hash = block.computed_hash().map_err(|e| (Offence::Malformed, format!("block hash: {e}")))?;
    let header = block.header().map_err(|e| (Offence::Malformed, format!("block {hash}: {e}")))?;
    if header.chain_id != chain_id {
        return Err((Offence::InvalidBlock, format!("block {hash}: its chain id is not this chain's")));
    }
    let producer = aergo_crypto::verify_block_header(header)
        .map_err(|e| (Offence::InvalidBlock, format!("block {hash}: producer signature: {e}")))?;
    let parent = if header.block_no == 0 {
        Hash::ZERO
    } else {
        Hash::from_slice("prev block hash", &header.prev_block_hash)
            .map_err(|e| (Offence::Malformed, format!("block {hash}: {e}")))?
    };
    let qc = match kind {
        EngineKind::Dpos => Some(
            Qc::decode(&header.consensus)
                .map_err(|e| (Offence::InvalidBlock, format!("block {hash}: consensus field: {e}")))?,
        ),
        EngineKind::Solo if header.consensus.is_empty() => None,
        EngineKind::Solo => {
            let reason = format!("block {hash}: {} consensus bytes, a solo block carries none", header.consensus.len());
            return Err((Offence::InvalidBlock, reason));
        }
    };
    Ok(BlockFacts { hash, parent, height: header.block_no, timestamp_ns: header.timestamp, producer, qc })
}

fn meta(f: &BlockFacts, qc: &Qc) -> BlockMeta {
    BlockMeta {
        hash: f.hash,
        parent: f.parent,
        height: f.height,
        timestamp_ns: f.timestamp_ns,
        producer: f.producer,
        qc: qc.clone(),
    }
}

/// Errors a peer's block can cause in the chain that are its fault.
fn chain_rejection(e: &ChainError) -> Option<String> {
    match e {
        ChainError::InvalidBlock { .. } | ChainError::Types(_) | ChainError::Crypto(_) => Some(e.to_string()),
        ChainError::Exec(x) if x.is_rejection() => Some(e.to_string()),
        _ => None,
    }
}

/// Chain errors that are neither the peer's fault nor a local failure:
/// the block does not fit this node's view (a fork below the LIB, a parent
/// this node's chain no longer tracks) or a local bound.
fn chain_benign(e: &ChainError) -> bool {
    matches!(e, ChainError::UnknownParent { .. } | ChainError::BelowLib { .. } | ChainError::TreeFull { .. })
}

/// Engine errors that say the block or vote itself is invalid.
fn engine_rejects_block(e: &ConsensusError) -> bool {
    matches!(
        e,
        ConsensusError::BadHeight { .. }
            | ConsensusError::BeforeGenesis { .. }
            | ConsensusError::SlotNotAfterParent { .. }
            | ConsensusError::WrongSlotOwner { .. }
            | ConsensusError::BadQc { .. }
            | ConsensusError::Decode { .. }
    )
}

/// What one submission did: its hash, its place in the open block (or
/// why it has none), and the outputs to carry out.
type Submitted = (Hash, std::result::Result<Ticket, PreconfOutcome>, Vec<Output>);

impl Replica {
    /// Opens the replica of `chain`: picks the engine the genesis names,
    /// and on DPoS chains loads the persisted safety state and anchor and
    /// feeds the engine the stored main chain above the anchor again.
    /// `now_ns` is the local clock. The outputs are what the restart
    /// produced (votes, a head switch) for the shell to carry out.
    pub fn open(
        chain: Arc<Chain>,
        key: PrivateKey,
        config: ReplicaConfig,
        now_ns: i64,
    ) -> Result<(Replica, Vec<Output>)> {
        if config.max_block_txs == 0 {
            return Err(ReplicaError::Config { field: "max_block_txs", reason: "0, expected at least 1".into() });
        }
        let consensus = chain.genesis().chain_id.consensus.clone();
        let kind = match ConsensusKind::parse(&consensus)? {
            ConsensusKind::Solo => EngineKind::Solo,
            ConsensusKind::Dpos => EngineKind::Dpos,
            ConsensusKind::Raft => return Err(ReplicaError::NotBuilt { name: consensus }),
        };
        let engine = match kind {
            EngineKind::Solo => Engine::Solo(Solo::new(config.solo.clone())?),
            // Built below, once the replica exists to carry out the replay.
            EngineKind::Dpos => Engine::Solo(Solo::new(SoloConfig::default())?),
        };
        let peer_id = key.public_key().peer_id();
        let solo_producers = if kind == EngineKind::Solo { chain.genesis().bps.clone() } else { Vec::new() };
        let replica = Replica {
            solo_producers,
            pool: Mutex::new(Pool::new(config.pool.clone())),
            chain,
            public_key: key.public_key(),
            key,
            peer_id,
            kind,
            config,
            core: Mutex::new(Core {
                engine,
                cache: RefCell::new(ScheduleCache::default()),
                orphans: Orphans::default(),
                future: Vec::new(),
                now_ns,
                replaying: false,
            }),
            pending: Mutex::new(None),
            log_cursor: Mutex::new(LogCursor::default()),
            sealed_log: Mutex::new(None),
            clock_ns: AtomicI64::new(now_ns),
            set_cache: Mutex::new(preconf_dpos::SetCache::default()),
        };
        let mut out = Vec::new();
        if kind == EngineKind::Dpos {
            replica.start_dpos(now_ns, &mut out)?;
        }
        replica.reopen_pending(&mut out)?;
        Ok((replica, out))
    }

    /// The DPoS engine's configuration from the genesis and local tuning.
    fn dpos_config(&self) -> Result<DposConfig> {
        let settings = self.chain.dpos().ok_or_else(|| ReplicaError::Config {
            field: "genesis",
            reason: "consensus \"dpos\" without DPoS settings".into(),
        })?;
        let genesis = self.chain.genesis();
        let mut cfg = DposConfig::new(self.chain.rules().chain_id_hash, self.chain.genesis_hash(), genesis.timestamp);
        cfg.block_interval_ms = settings.block_interval_ms;
        cfg.max_clock_drift_ms = self.config.max_clock_drift_ms;
        cfg.produce_wait_percent = self.config.produce_wait_percent;
        cfg.max_vote_age_slots = self.config.max_vote_age_slots;
        cfg.validate()?;
        Ok(cfg)
    }

    fn start_dpos(&self, now_ns: i64, out: &mut Vec<Output>) -> Result<()> {
        let cfg = self.dpos_config()?;
        let blocks = self.chain.blocks();
        let genesis_hash = self.chain.genesis_hash();
        let safety = match blocks.meta(SAFETY_META)? {
            Some(b) => SafetyState::decode(&b)
                .map_err(|e| ReplicaError::Persisted { what: "safety state", reason: e.to_string() })?,
            None => SafetyState::genesis(genesis_hash),
        };
        let mut core = self.lock_core();
        let anchor = match blocks.meta(ANCHOR_META)? {
            Some(b) => {
                Anchor::decode(&b).map_err(|e| ReplicaError::Persisted { what: "anchor", reason: e.to_string() })?
            }
            None => {
                let schedule = ChainSchedule { chain: &self.chain, cache: &core.cache };
                let set = schedule
                    .elected_after(&genesis_hash)
                    .map_err(|reason| ReplicaError::ProducerSet { block: genesis_hash.to_string(), reason })?;
                Anchor::genesis(genesis_hash, 0, set)
            }
        };
        if blocks.hash_at(anchor.height)? != Some(anchor.hash) {
            return Err(ReplicaError::Persisted {
                what: "anchor",
                reason: format!("block {} at height {} is not on the stored main chain", anchor.hash, anchor.height),
            });
        }
        let head = self.chain.head();
        if head.height < anchor.height {
            return Err(ReplicaError::Persisted {
                what: "anchor",
                reason: format!("height {} is above the stored head {}", anchor.height, head.height),
            });
        }
        let anchor_height = anchor.height;
        let engine = DposEngine::new(cfg, Some(self.key.clone()), safety, anchor, now_ns)?;
        core.engine = Engine::Dpos(Box::new(engine));
        let lib_before = self.chain.lib().height;
        // Feed the main chain above the anchor again, parents first. Side
        // branches are not kept across restarts; peers resend what matters.
        core.replaying = true;
        let replayed = self.replay(&mut core, anchor_height + 1, head.height, out);
        core.replaying = false;
        replayed?;
        self.finish(&mut core, lib_before, out)
    }

    fn replay(&self, core: &mut Core, from: u64, to: u64, out: &mut Vec<Output>) -> Result<()> {
        let blocks = self.chain.blocks();
        for height in from..=to {
            let Some(block) = blocks.block_by_height(height)? else {
                return Err(ReplicaError::Restart { reason: format!("no main-chain block at height {height}") });
            };
            let facts = facts_of(&block, EngineKind::Dpos, &self.chain_id_bytes())
                .map_err(|(_, reason)| ReplicaError::Restart { reason })?;
            let Some(qc) = facts.qc.clone() else {
                return Err(ReplicaError::Restart { reason: format!("block {}: no certificate", facts.hash) });
            };
            let elected = {
                let schedule = ChainSchedule { chain: &self.chain, cache: &core.cache };
                schedule
                    .elected_after(&facts.parent)
                    .map_err(|reason| ReplicaError::ProducerSet { block: facts.parent.to_string(), reason })?
            };
            let Engine::Dpos(engine) = &mut core.engine else { break };
            match engine.on_block(meta(&facts, &qc), &elected) {
                Ok(actions) => self.run_actions(core, actions, out)?,
                Err(e) if e.is_benign() => {}
                Err(e) => {
                    // The stored chain above here is not acceptable to the
                    // engine now (e.g. the clock went back): stop, and let
                    // the head follow the engine.
                    out.push(Output::Warning(format!("restart: stored block {} at height {height}: {e}", facts.hash)));
                    break;
                }
            }
        }
        Ok(())
    }

    // --- accessors ------------------------------------------------------------

    /// The chain id bytes every block header of this chain carries.
    fn chain_id_bytes(&self) -> Vec<u8> {
        self.chain.genesis().chain_id.to_bytes()
    }

    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// This node's peer id (from its key).
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    pub fn producer_key(&self) -> &PrivateKey {
        &self.key
    }

    fn lock_core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the pool (reads for the API).
    pub fn with_pool<R>(&self, f: impl FnOnce(&Pool) -> R) -> R {
        f(&self.lock_pool())
    }

    /// The producer set in force after the head block (empty on solo
    /// chains), as peer ids in schedule order.
    pub fn producers(&self) -> Result<Vec<String>> {
        if self.kind != EngineKind::Dpos {
            return Ok(Vec::new());
        }
        Ok(aergo_exec::dpos::producers(&self.chain.head_state())?)
    }

    /// Whether this node produces at the head.
    pub fn role(&self) -> Result<Role> {
        Ok(match self.kind {
            EngineKind::Solo if self.may_seal_solo(&self.peer_id) => Role::Solo,
            EngineKind::Solo => Role::Follower,
            EngineKind::Dpos if self.producers()?.contains(&self.peer_id) => Role::Producer,
            EngineKind::Dpos => Role::Follower,
        })
    }

    /// The engine's view (DPoS chains only).
    pub fn dpos_status(&self) -> Option<DposStatus> {
        let core = self.lock_core();
        let Engine::Dpos(e) = &core.engine else { return None };
        Some(DposStatus {
            lib: e.lib(),
            head: e.head(),
            highest_certified: e.highest_qc().0,
            safety: e.safety_state(),
            current_slot: e.current_slot(),
            tree_blocks: e.block_count(),
            pending_votes: e.pending_vote_count(),
        })
    }

    /// Blocks waiting for their parent.
    pub fn orphan_count(&self) -> usize {
        self.lock_core().orphans.len()
    }

    // --- transactions ---------------------------------------------------------

    fn admit(&self, vtx: VerifiedTx) -> Result<std::result::Result<(), PoolError>> {
        let mut pool = self.lock_pool();
        self.admit_locked(&mut pool, vtx, Bounds::Enforced)
    }

    fn admit_locked(
        &self,
        pool: &mut Pool,
        vtx: VerifiedTx,
        bounds: Bounds,
    ) -> Result<std::result::Result<(), PoolError>> {
        let state = self.chain.head_state();
        // `runnable` checked the lane against an earlier head; a branch
        // deleted since has no state to admit against.
        let lane = match aergo_exec::lane_state(self.chain.store(), &state, &vtx) {
            Ok(lane) => lane,
            Err(e) if e.is_rejection() => return Ok(Err(PoolError::NoLane { reason: e.to_string() })),
            Err(e) => return Err(e.into()),
        };
        let committed = aergo_exec::account(&lane, vtx.sender())?;
        let fees = chain_fees(&state)?;
        Ok(match bounds {
            Bounds::Enforced => pool.admit(vtx, committed, fees),
            Bounds::Waived => pool.readmit(vtx, committed, fees),
        }
        .map(|_| ()))
    }

    /// Whether this node keeps an open next block and pre-confirms.
    pub fn pre_executes(&self) -> bool {
        self.config.preconfirm
            && match self.kind {
                EngineKind::Solo => self.may_seal_solo(&self.peer_id),
                // Every DPoS node may be the next slot's producer; whether
                // it is now is decided per block (`preconf_dpos`).
                EngineKind::Dpos => true,
            }
    }

    /// Admits a transaction and, on a producer that pre-executes, applies
    /// it to the open next block at once; `Ok(Err(_))`: refused, nothing
    /// changed.
    fn admit_and_apply(&self, vtx: VerifiedTx) -> Result<std::result::Result<Admission, TxRejection>> {
        if !self.pre_executes() {
            let admission = match (self.config.preconfirm, self.solo_producers.first()) {
                // A follower of a solo network: its producer promises.
                (true, Some(producer)) => Admission::Elsewhere {
                    producer: producer.clone(),
                    reason: "this node does not produce blocks (pre-confirmations come from the producer)".into(),
                },
                (true, None) => Admission::Queued("this node does not produce blocks".into()),
                (false, _) => {
                    Admission::Queued("pre-confirmations are off on this node ([producer] preconfirm)".into())
                }
            };
            return Ok(self.admit(vtx)?.map(|()| admission).map_err(TxRejection::Pool));
        }
        let mut pending = self.lock_pending();
        let head = self.chain.head();
        let stale = |p: &Pending| match self.kind {
            EngineKind::Solo => p.is_stale(&head),
            EngineKind::Dpos => !self.dpos_pending_current(p, &head),
        };
        if pending.as_ref().is_some_and(stale) {
            *pending = None;
        }
        // A DPoS node opens a block only for its own next slot.
        let dpos_open = match (self.kind, pending.is_none()) {
            (EngineKind::Dpos, true) => Some(self.dpos_open_timestamp(&head)?),
            _ => None,
        };
        if let Some(Err(not_here)) = dpos_open {
            drop(pending);
            let admission = match not_here.producer {
                Some(producer) => Admission::Elsewhere { producer, reason: not_here.reason },
                None => Admission::Queued(not_here.reason),
            };
            return Ok(self.admit(vtx)?.map(|()| admission).map_err(TxRejection::Pool));
        }
        let main = vtx.branch().is_none();
        if main {
            if let Some(p) = pending.as_ref() {
                if p.contains(&vtx.hash()) {
                    return Ok(Err(TxRejection::Pool(PoolError::Duplicate { hash: vtx.hash().to_string() })));
                }
                let next = p.next_nonce(&vtx)?;
                if vtx.nonce() < next {
                    // Its nonce is taken in the open block: a replacement
                    // would break a promise (see `pending`, point 1).
                    return Ok(Err(TxRejection::Pool(PoolError::NonceTooLow {
                        account: vtx.sender_text().to_string(),
                        got: vtx.nonce(),
                        committed: next - 1,
                    })));
                }
            }
        }
        let hash = vtx.hash();
        let sender = (vtx.lane(), vtx.sender().clone());
        let nonce = vtx.nonce();
        // The pool keeps its own copy; the open block takes this one.
        let candidate = main.then(|| vtx.clone());
        {
            let mut pool = self.lock_pool();
            if let Err(e) = self.admit_locked(&mut pool, vtx, Bounds::Enforced)? {
                return Ok(Err(TxRejection::Pool(e)));
            }
        }
        let Some(vtx) = candidate else {
            let why = "branch transactions are not pre-executed; it goes in when the block is sealed";
            return Ok(Ok(Admission::Queued(why.into())));
        };
        if pending.is_none() {
            let timestamp_ns = match dpos_open {
                Some(Ok(timestamp_ns)) => timestamp_ns,
                _ => self.next_timestamp(&head),
            };
            *pending = Some(self.open_pending_at(timestamp_ns)?);
        }
        let p = pending.as_mut().expect("opened above");
        if let Some(t) = p.ticket(&hash) {
            // Opening the block took it from the pool already.
            return Ok(Ok(Admission::Applied(Box::new(t.clone()))));
        }
        let next = p.next_nonce(&vtx)?;
        if nonce > next {
            let why = format!("waiting for nonce {next} of its sender before it can be pre-executed");
            return Ok(Ok(Admission::Queued(why)));
        }
        let ticket = match p.apply(vtx)? {
            Ok(t) => t,
            Err(e @ aergo_exec::ExecError::BlockFull { .. }) => {
                return Ok(Ok(Admission::Queued(format!("the open block is full ({e}); it goes in a later block"))));
            }
            Err(e) => {
                self.lock_pool().remove_with_successors(&hash);
                return Ok(Err(TxRejection::Execute(e)));
            }
        };
        self.apply_successors(p, &sender, nonce)?;
        Ok(Ok(Admission::Applied(Box::new(ticket))))
    }

    /// After nonce `nonce` of `sender` went into the open block, its later
    /// nonces waiting in the pool go in too, in order, until one is refused.
    fn apply_successors(&self, p: &mut Pending, sender: &aergo_pool::Sender, nonce: u64) -> Result<()> {
        let limit = self.config.pool.max_per_account;
        for n in (nonce + 1..).take(limit) {
            let Some(vtx) = self.lock_pool().get_by_nonce(sender, n).cloned() else { break };
            if p.contains(&vtx.hash()) {
                continue;
            }
            let hash = vtx.hash();
            match p.apply(vtx)? {
                Ok(_) => {}
                Err(aergo_exec::ExecError::BlockFull { .. }) => break,
                Err(_) => {
                    self.lock_pool().remove_with_successors(&hash);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Opens the block after the head at `timestamp_ns`, with the pool's
    /// ready transactions first (they arrived before anything admitted
    /// from now on).
    fn open_pending_at(&self, timestamp_ns: i64) -> Result<Pending> {
        let mut p = Pending::open(&self.chain, &self.key, timestamp_ns)?;
        self.absorb_ready(&mut p)?;
        Ok(p)
    }

    /// The timestamp of a block opened after `parent` now: an interval
    /// after it, or the clock when that is later.
    fn next_timestamp(&self, parent: &aergo_chain::Head) -> i64 {
        let interval_ns = (self.config.solo.block_interval_ms as i64).saturating_mul(1_000_000);
        parent
            .timestamp_ns
            .saturating_add(interval_ns)
            .max(self.clock_ns.load(Ordering::Relaxed))
            .max(parent.timestamp_ns.saturating_add(1))
    }

    /// Applies the pool's ready main-chain transactions that the open
    /// block does not hold yet, in the pool's order (those refused by the
    /// state leave the pool).
    fn absorb_ready(&self, p: &mut Pending) -> Result<()> {
        let ready = self.lock_pool().select(self.config.max_block_txs, aergo_types::block::BLOCK_MAX_SIZE_BYTES);
        for vtx in ready {
            let hash = vtx.hash();
            if vtx.branch().is_some() || p.contains(&hash) {
                continue;
            }
            match p.apply(vtx)? {
                Ok(_) => {}
                Err(aergo_exec::ExecError::BlockFull { .. }) => break,
                Err(_) => self.lock_pool().remove_with_successors(&hash),
            }
        }
        Ok(())
    }

    /// A restart on the head a pre-confirmation log was written for: the
    /// open block is rebuilt from the log, so every promise given before
    /// the restart is kept (see `pending`, point 3).
    fn reopen_pending(&self, out: &mut Vec<Output>) -> Result<()> {
        // A DPoS producer finds its log when it produces (`produce_dpos`):
        // its slot may be long past by the time it restarts.
        if !self.pre_executes() || self.kind != EngineKind::Solo {
            return Ok(());
        }
        let head = self.chain.head();
        let Some(log) = self.chain.preconf_log().read(head.height + 1, &head.hash)? else { return Ok(()) };
        let mut p = Pending::open(&self.chain, &self.key, log.timestamp_ns)?;
        let mut pool = self.lock_pool();
        for bytes in &log.txs {
            let vtx = match Tx::decode_bounded(bytes)
                .map_err(ReplicaError::from)
                .and_then(|tx| self.verify(tx).map_err(ReplicaError::from))
            {
                Ok(v) => v,
                Err(e) => {
                    out.push(Output::Warning(format!("restart: a pre-confirmed tx in the log is unreadable: {e}")));
                    break;
                }
            };
            let hash = vtx.hash();
            if let Err(e) = self.admit_locked(&mut pool, vtx.clone(), Bounds::Waived)? {
                out.push(Output::Warning(format!("restart: pre-confirmed tx {hash} not re-admitted: {e}")));
            }
            if let Err(e) = p.apply(vtx)? {
                // Determinism says this cannot happen; say so loudly.
                out.push(Output::Warning(format!("restart: pre-confirmed tx {hash} no longer applies: {e}")));
                break;
            }
        }
        drop(pool);
        let mut cursor = self.log_cursor.lock().unwrap_or_else(|e| e.into_inner());
        cursor.block = Some((p.height(), p.parent()));
        cursor.durable = p.len();
        *self.lock_pending() = Some(p);
        Ok(())
    }

    /// The open block's ticket of `hash`, if it holds it.
    fn open_ticket(&self, hash: &Hash) -> Option<Ticket> {
        self.lock_pending().as_ref().and_then(|p| p.ticket(hash).cloned())
    }

    fn lock_pending(&self) -> MutexGuard<'_, Option<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Signs the pre-confirmation of `ticket` once it is durable (see
    /// [`Replica::make_durable`]).
    fn promise(&self, ticket: &Ticket) -> Result<PreconfOutcome> {
        Ok(self.promise_all(std::slice::from_ref(ticket))?.pop().expect("one outcome per ticket"))
    }

    /// Promises every ticket once it is durable, with one signature for
    /// all of them (`aergo_crypto::sign_preconfs_as`): a group's
    /// tickets share one durable write and one signature.
    fn promise_all(&self, tickets: &[Ticket]) -> Result<Vec<PreconfOutcome>> {
        let chain_id_hash = self.chain.rules().chain_id_hash;
        let mut durable = Vec::with_capacity(tickets.len());
        let mut outcomes: Vec<Option<PreconfOutcome>> = Vec::with_capacity(tickets.len());
        for t in tickets {
            if self.make_durable(t)? {
                durable.push(t.unsigned(&chain_id_hash));
                outcomes.push(None);
            } else {
                outcomes.push(Some(PreconfOutcome::Queued {
                    reason: "the open block was replaced before the promise was durable; the tx is pending".into(),
                }));
            }
        }
        // Signing needs no lock: groups sign in parallel.
        aergo_crypto::sign_preconfs_as(&mut durable, &self.key, &self.public_key).map_err(|e| {
            ReplicaError::Config { field: "producer key", reason: format!("cannot sign a pre-confirmation: {e}") }
        })?;
        let mut signed = durable.into_iter();
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| PreconfOutcome::Preconfirmed(Box::new(signed.next().expect("one per durable"))))
            })
            .collect())
    }

    /// Whether `ticket` may be promised: the log holds it and everything
    /// before it (one write for all the transactions applied since the
    /// last write, made here if needed), or its block is on the main chain
    /// with it at the promised place. `false`: its open block was replaced
    /// before either.
    fn make_durable(&self, ticket: &Ticket) -> Result<bool> {
        let block = (ticket.height, ticket.parent);
        let mut cursor = self.log_cursor.lock().unwrap_or_else(|e| e.into_inner());
        if cursor.block != Some(block) {
            cursor.block = Some(block);
            cursor.durable = 0;
        }
        if cursor.durable > ticket.index as usize {
            return Ok(true);
        }
        let from = cursor.durable;
        let batch = {
            let pending = self.lock_pending();
            match pending.as_ref() {
                Some(p) if (p.height(), p.parent()) == block => Some((p.encoded_from(from), p.timestamp_ns())),
                // Sealed and being committed: its transactions are here.
                _ => self
                    .sealed_log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .filter(|s| (s.height, s.parent) == block)
                    .map(|s| (s.encoded.get(from..).map(<[Vec<u8>]>::to_vec).unwrap_or_default(), s.timestamp_ns)),
            }
        };
        let Some((txs, timestamp_ns)) = batch.filter(|(txs, _)| from + txs.len() > ticket.index as usize) else {
            drop(cursor);
            // Sealed and committed (or abandoned) before the log caught up.
            let location = self.chain.blocks().tx_location(&ticket.tx_hash)?;
            return Ok(location
                .filter(|l| l.index == ticket.index)
                .is_some_and(|l| self.chain.known(&l.block_hash).is_some_and(|h| h.height == ticket.height)));
        };
        self.chain.preconf_log().append(ticket.height, &ticket.parent, timestamp_ns, from as u32, &txs)?;
        cursor.durable = from + txs.len();
        assert!(cursor.durable > ticket.index as usize, "bug: the log write did not cover the promised position");
        Ok(true)
    }

    /// Verifies a transaction of any lane against the head's registry.
    fn verify(&self, tx: Tx) -> std::result::Result<VerifiedTx, aergo_exec::ExecError> {
        aergo_exec::verify_tx_in(tx, self.chain.rules(), &self.chain.head_state())
    }

    /// A transaction from a local client: verified, admitted to the pool
    /// against the head state (and applied to the open block on a
    /// producer that pre-executes), and published.
    pub fn submit_tx(&self, tx: Tx) -> Result<(Hash, Vec<Output>)> {
        let (hash, _, out) = self.submit(tx)?;
        Ok((hash, out))
    }

    /// [`Replica::submit_tx`], answering with the producer's signed
    /// pre-confirmation when this node pre-executes and the transaction
    /// took a place in the open block, or with why not.
    pub fn submit_tx_preconfirmed(&self, tx: Tx) -> Result<(Hash, PreconfOutcome, Vec<Output>)> {
        let (hash, applied, out) = self.submit_or_reask(tx)?;
        let outcome = match applied {
            Ok(ticket) => self.promise(&ticket)?,
            Err(not_applied) => not_applied,
        };
        Ok((hash, outcome, out))
    }

    /// [`Replica::submit`], where a transaction asked for again that the
    /// open block holds (a client whose promise was void or that lost the
    /// answer; a forwarder whose gossip got here first) keeps its place,
    /// to be promised again.
    fn submit_or_reask(&self, tx: Tx) -> Result<Submitted> {
        let known = Hash::from_slice("tx hash", &tx.hash).ok();
        match self.submit(tx) {
            Err(e @ ReplicaError::TxRejected(TxRejection::Pool(PoolError::Duplicate { .. }))) => {
                match known.and_then(|h| self.open_ticket(&h)) {
                    Some(ticket) => Ok((ticket.tx_hash, Ok(ticket), Vec::new())),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    /// [`Replica::submit_tx_preconfirmed`] for many transactions at once:
    /// each is submitted in order, then each promised, so that the first
    /// promise's durable write covers all of them (one flush for the lot,
    /// where one by one each would wait for its own). A refused
    /// transaction is its own error and does not stop the others.
    pub fn submit_txs_preconfirmed(&self, txs: Vec<Tx>) -> Vec<Result<(Hash, PreconfOutcome, Vec<Output>)>> {
        // A transaction the list repeats is refused as a duplicate; one
        // asked for again from an earlier request keeps its place.
        let mut seen = std::collections::BTreeSet::new();
        let submitted: Vec<_> = txs
            .into_iter()
            .map(|tx| {
                let first = Hash::from_slice("tx hash", &tx.hash).is_ok_and(|h| seen.insert(h));
                if first {
                    self.submit_or_reask(tx)
                } else {
                    self.submit(tx)
                }
            })
            .collect();
        let tickets: Vec<Ticket> =
            submitted.iter().filter_map(|r| r.as_ref().ok().and_then(|(_, a, _)| a.as_ref().ok()).cloned()).collect();
        let mut promised = match self.promise_all(&tickets) {
            Ok(outcomes) => outcomes.into_iter(),
            Err(e) => {
                // This node's own failure (the log or the key): every
                // answer says so; the transactions stay admitted.
                let reason = format!("no promise: {e}");
                return submitted
                    .into_iter()
                    .map(|_| Err(ReplicaError::Config { field: "pre-confirmation", reason: reason.clone() }))
                    .collect();
            }
        };
        submitted
            .into_iter()
            .map(|r| {
                let (hash, applied, out) = r?;
                let outcome = match applied {
                    Ok(_) => promised.next().expect("one outcome per ticket"),
                    Err(not_applied) => not_applied,
                };
                Ok((hash, outcome, out))
            })
            .collect()
    }

    fn submit(&self, tx: Tx) -> Result<Submitted> {
        let bytes = tx.encode();
        let vtx = self.verify(tx).map_err(|e| {
            if e.is_rejection() {
                ReplicaError::TxRejected(TxRejection::Verify(e))
            } else {
                ReplicaError::Exec(e)
            }
        })?;
        let hash = vtx.hash();
        self.runnable(&vtx)?.map_err(|e| ReplicaError::TxRejected(TxRejection::Verify(e)))?;
        let applied = match self.admit_and_apply(vtx)?.map_err(ReplicaError::TxRejected)? {
            Admission::Applied(ticket) => Ok(*ticket),
            Admission::Queued(reason) => Err(PreconfOutcome::Queued { reason }),
            Admission::Elsewhere { producer, reason } => Err(PreconfOutcome::Elsewhere { producer, reason }),
        };
        Ok((hash, applied, vec![Output::PublishTx(bytes)]))
    }

    /// Whether block building on the head could run `vtx` at all
    /// ([`aergo_exec::check_runnable`]); `Ok(Err(_))` refuses it, an
    /// outer error is this node's own failure.
    fn runnable(&self, vtx: &VerifiedTx) -> Result<std::result::Result<(), aergo_exec::ExecError>> {
        let lane = aergo_exec::lane_state(self.chain.store(), &self.chain.head_state(), vtx);
        let next = self.chain.head().height + 1;
        match lane.and_then(|state| aergo_exec::check_runnable(&state, vtx.tx(), next)) {
            Ok(()) => Ok(Ok(())),
            Err(e) if e.is_rejection() => Ok(Err(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// A batch of transactions from gossip (a `TxList`, see
    /// `aergo_types::TxList::decode_batch`): each is checked and admitted
    /// as if it came alone. The batch is relayed (`Accept`) when at least
    /// one transaction in it was new and valid here; it is `Reject`ed, and
    /// its sender penalised, when it does not decode or holds a
    /// transaction no honest node relays (bad signature, invalid for the
    /// pool); otherwise it is ignored.
    pub fn on_gossip_txs(&self, bytes: &[u8], from: &Peer) -> Result<Step> {
        let list = match TxList::decode_batch(bytes) {
            Ok(list) => list,
            Err(e) => return Ok(Step::reject(Some(from), Offence::Malformed, format!("gossiped txs: {e}"))),
        };
        let mut admitted = 0usize;
        for tx in list.txs {
            let vtx = match self.verify(tx) {
                Ok(v) => v,
                // Another chain's, or a branch this node does not know yet
                // (its creating block may still be on the way): not
                // admitted, and not held against an honest peer that is
                // ahead of us.
                Err(e) if e.reason() == Some(aergo_types::RejectReason::WrongChain) => continue,
                Err(e) if e.is_rejection() => {
                    return Ok(Step::reject(Some(from), Offence::InvalidTx, format!("gossiped tx: {e}")))
                }
                Err(e) => return Err(e.into()),
            };
            // Something this chain cannot run: not invalid (a newer node
            // may run it), not worth admitting either.
            if self.runnable(&vtx)?.is_err() {
                continue;
            }
            match self.admit_and_apply(vtx)? {
                Ok(_) => admitted += 1,
                Err(TxRejection::Pool(e @ PoolError::Invalid(_))) => {
                    return Ok(Step::reject(Some(from), Offence::InvalidTx, format!("gossiped tx: {e}")))
                }
                Err(_) => {}
            }
        }
        Ok(if admitted > 0 { Step::new(Verdict::Accept, Vec::new()) } else { Step::ignore() })
    }

    // --- consensus messages -----------------------------------------------------

    /// A consensus message (a vote) from gossip.
    pub fn on_consensus_msg(&self, bytes: &[u8], from: &Peer) -> Result<Step> {
        let mut core = self.lock_core();
        let Engine::Dpos(engine) = &mut core.engine else { return Ok(Step::ignore()) };
        let vote = match Vote::decode(bytes) {
            Ok(v) => v,
            Err(e) => return Ok(Step::reject(Some(from), Offence::Malformed, format!("vote: {e}"))),
        };
        let lib_before = self.chain.lib().height;
        let actions = match engine.on_vote(vote) {
            Ok(a) => a,
            Err(e @ ConsensusError::BadVoteSignature { .. }) => {
                return Ok(Step::reject(Some(from), Offence::InvalidVote, e.to_string()))
            }
            // Duplicates, stale or early votes, votes a relayer could not
            // judge (its block unknown to it): honest peers send these.
            Err(_) => return Ok(Step::ignore()),
        };
        let mut out = Vec::new();
        self.run_actions(&mut core, actions, &mut out)?;
        self.finish(&mut core, lib_before, &mut out)?;
        Ok(Step::new(Verdict::Accept, out))
    }

    // --- blocks -----------------------------------------------------------------

    /// An encoded block from a peer (gossip).
    pub fn on_block_bytes(&self, bytes: &[u8], from: &Peer) -> Result<Step> {
        match Block::decode_bounded(bytes) {
            Ok(block) => self.on_block(block, Some(from)),
            Err(e) => Ok(Step::reject(Some(from), Offence::Malformed, format!("gossiped block: {e}"))),
        }
    }

    /// A block from a peer (`from`) or from a local source (`None`).
    pub fn on_block(&self, block: Block, from: Option<&Peer>) -> Result<Step> {
        let mut core = self.lock_core();
        let lib_before = self.chain.lib().height;
        let mut out = Vec::new();
        let verdict = self.accept_block(&mut core, block, from, &mut out)?;
        self.finish(&mut core, lib_before, &mut out)?;
        Ok(Step::new(verdict, out))
    }

    /// Blocks fetched from `from` by height, in height order. Processing
    /// stops at the first block the peer should not have sent.
    pub fn on_sync_blocks(&self, from: &Peer, blocks: Vec<Vec<u8>>) -> Result<SyncStep> {
        let mut core = self.lock_core();
        let lib_before = self.chain.lib().height;
        let mut out = Vec::new();
        let mut step = SyncStep::default();
        for bytes in blocks {
            let block = match Block::decode_bounded(&bytes) {
                Ok(b) => b,
                Err(e) => {
                    out.push(Output::Penalise {
                        peer: from.clone(),
                        offence: Offence::Malformed,
                        reason: format!("synced block: {e}"),
                    });
                    step.rejected += 1;
                    break;
                }
            };
            match self.accept_block(&mut core, block, Some(from), &mut out)? {
                Verdict::Accept => step.accepted += 1,
                Verdict::Ignore => step.ignored += 1,
                Verdict::Reject => {
                    step.rejected += 1;
                    break;
                }
            }
        }
        self.finish(&mut core, lib_before, &mut out)?;
        step.outputs = out;
        Ok(step)
    }

    fn accept_block(
        &self,
        core: &mut Core,
        block: Block,
        from: Option<&Peer>,
        out: &mut Vec<Output>,
    ) -> Result<Verdict> {
        let mut work = vec![(block, from.cloned())];
        let mut first_verdict = None;
        let mut adopted = 0usize;
        while let Some((block, from)) = work.pop() {
            let (verdict, hash) = match self.kind {
                EngineKind::Dpos => self.accept_dpos_block(core, block, from.as_ref(), out)?,
                EngineKind::Solo => self.accept_solo_block(core, block, from.as_ref(), out)?,
            };
            first_verdict.get_or_insert(verdict);
            if verdict == Verdict::Accept {
                if let Some(h) = hash {
                    for w in core.orphans.take_children(&h) {
                        adopted += 1;
                        if adopted > MAX_ADOPTIONS_PER_STEP {
                            break;
                        }
                        work.push((w.block, w.from));
                    }
                }
            }
        }
        Ok(first_verdict.unwrap_or(Verdict::Ignore))
    }

    /// Keeps a block whose parent is unknown and asks its sender for the
    /// missing range; `Ignore` either way (this node cannot judge it yet).
    fn orphan(&self, core: &mut Core, block: Block, f: &BlockFacts, from: Option<&Peer>, out: &mut Vec<Output>) {
        let lib = self.chain.lib();
        if f.height <= lib.height + 1 {
            // Its parent would be at or below the LIB and is not the LIB:
            // a fork this node can never take.
            return;
        }
        let fresh =
            core.orphans.insert(f.parent, Waiting { block, hash: f.hash, height: f.height, from: from.cloned() });
        if let (true, Some(peer)) = (fresh, from) {
            out.push(Output::RequestBlocks {
                peer: peer.clone(),
                from_height: lib.height + 1,
                to_height: f.height - 1,
            });
        }
    }

    fn defer_future(&self, core: &mut Core, block: Block, f: &BlockFacts, from: Option<&Peer>) {
        if core.future.len() < MAX_FUTURE_BLOCKS && !core.future.iter().any(|w| w.hash == f.hash) {
            core.future.push(Waiting { block, hash: f.hash, height: f.height, from: from.cloned() });
        }
    }

    fn accept_dpos_block(
        &self,
        core: &mut Core,
        block: Block,
        from: Option<&Peer>,
        out: &mut Vec<Output>,
    ) -> Result<(Verdict, Option<Hash>)> {
        let (f, qc) = match facts_of(&block, EngineKind::Dpos, &self.chain_id_bytes()) {
            Ok(f) => match f.qc.clone() {
                Some(qc) => (f, qc),
                None => return Ok((Verdict::Ignore, None)),
            },
            Err((offence, reason)) => return Ok((self.reject(from, offence, reason, out), None)),
        };
        let Engine::Dpos(engine) = &core.engine else { return Ok((Verdict::Ignore, None)) };
        if engine.contains(&f.hash) || f.height <= self.chain.lib().height {
            return Ok((Verdict::Ignore, None));
        }
        if !engine.contains(&f.parent) {
            self.orphan(core, block, &f, from, out);
            return Ok((Verdict::Ignore, None));
        }
        if qc.block != f.parent {
            let reason = format!("block {}: its certificate is for {}, not its parent {}", f.hash, qc.block, f.parent);
            return Ok((self.reject(from, Offence::InvalidBlock, reason, out), None));
        }
        // Not executed before its time: the engine would refuse it anyway.
        let drift_ns = (self.config.max_clock_drift_ms as i64).saturating_mul(1_000_000);
        if f.timestamp_ns > core.now_ns.saturating_add(drift_ns) {
            self.defer_future(core, block, &f, from);
            return Ok((Verdict::Ignore, None));
        }
        // Full check and execution: producer signature again, every
        // transaction, the slot owner under the parent's producer table,
        // and the state, receipts and transactions roots.
        if let Some(verdict) = self.import_or_verdict(&block, from, out)? {
            return Ok((verdict, None));
        }
        let elected = {
            let schedule = ChainSchedule { chain: &self.chain, cache: &core.cache };
            match schedule.elected_after(&f.parent) {
                Ok(s) => s,
                Err(reason) => {
                    out.push(Output::Warning(format!("block {}: producer set of its parent: {reason}", f.hash)));
                    return Ok((Verdict::Ignore, None));
                }
            }
        };
        let Engine::Dpos(engine) = &mut core.engine else { return Ok((Verdict::Ignore, None)) };
        let actions = match engine.on_block(meta(&f, &qc), &elected) {
            Ok(a) => a,
            Err(ConsensusError::FutureBlock { .. }) => {
                self.defer_future(core, block, &f, from);
                return Ok((Verdict::Ignore, None));
            }
            Err(e) if engine_rejects_block(&e) => {
                return Ok((self.reject(from, Offence::InvalidBlock, format!("block {}: {e}", f.hash), out), None))
            }
            Err(e) => {
                if !e.is_benign() {
                    out.push(Output::Warning(format!("block {} not taken: {e}", f.hash)));
                }
                return Ok((Verdict::Ignore, None));
            }
        };
        // Double production: the block is in the tree (the engine stays
        // safe) but is not relayed. A producer that sent it itself is
        // penalised; relayers are not (honest nodes relay whichever of the
        // two blocks they saw first), so for them it is only ignored.
        let double = actions.iter().any(
            |a| matches!(a, Action::Evidence(Evidence::DoubleProduction { producer, .. }) if *producer == f.producer),
        );
        self.run_actions(core, actions, out)?;
        if double {
            if let Some(peer) = from.filter(|p| p.0 == f.producer.peer_id()) {
                out.push(Output::Penalise {
                    peer: peer.clone(),
                    offence: Offence::Equivocation,
                    reason: format!("block {}: a second block of its producer in one slot", f.hash),
                });
                return Ok((Verdict::Reject, Some(f.hash)));
            }
            return Ok((Verdict::Ignore, Some(f.hash)));
        }
        Ok((Verdict::Accept, Some(f.hash)))
    }

    fn accept_solo_block(
        &self,
        core: &mut Core,
        block: Block,
        from: Option<&Peer>,
        out: &mut Vec<Output>,
    ) -> Result<(Verdict, Option<Hash>)> {
        let f = match facts_of(&block, EngineKind::Solo, &self.chain_id_bytes()) {
            Ok(f) => f,
            Err((offence, reason)) => return Ok((self.reject(from, offence, reason, out), None)),
        };
        if self.chain.known(&f.hash).is_some() || f.height <= self.chain.lib().height {
            return Ok((Verdict::Ignore, None));
        }
        let producer = f.producer.peer_id();
        if !self.may_seal_solo(&producer) {
            let reason = format!("block {}: producer {producer} is not in the solo chain's genesis bps", f.hash);
            return Ok((self.reject(from, Offence::InvalidBlock, reason, out), None));
        }
        if self.chain.known(&f.parent).is_none() {
            self.orphan(core, block, &f, from, out);
            return Ok((Verdict::Ignore, None));
        }
        if let Some(verdict) = self.import_or_verdict(&block, from, out)? {
            return Ok((verdict, None));
        }
        // A solo chain has one producer and no forks: a block extending the
        // head is final at once.
        if self.chain.head().hash == f.parent {
            self.switch_head(&f.hash, out)?;
            self.chain.set_lib(&f.hash)?;
        }
        Ok((Verdict::Accept, Some(f.hash)))
    }

    /// Solo chains: whether `peer_id` may seal blocks. With `bps` empty any
    /// key may (one node alone); otherwise only those listed, so followers
    /// of a solo network never fork it with blocks of their own.
    fn may_seal_solo(&self, peer_id: &str) -> bool {
        self.solo_producers.is_empty() || self.solo_producers.iter().any(|p| p == peer_id)
    }

    /// Imports (fully checks and executes) `block`; `Some(verdict)` when
    /// it goes no further: rejected (and its sender penalised) or a benign
    /// duplicate. Local failures are errors.
    fn import_or_verdict(&self, block: &Block, from: Option<&Peer>, out: &mut Vec<Output>) -> Result<Option<Verdict>> {
        // The block's transactions this node's pool verified already (the
        // pool lock is held only to copy them).
        let known: BTreeMap<Hash, VerifiedTx> = {
            let pool = self.lock_pool();
            block
                .txs()
                .iter()
                .filter_map(|tx| Hash::from_slice("tx hash", &tx.hash).ok())
                .filter_map(|h| pool.get(&h).map(|v| (h, v.clone())))
                .collect()
        };
        match self.chain.import_reusing(block, &known) {
            Ok(_) => Ok(None),
            Err(e) => match chain_rejection(&e) {
                Some(reason) => Ok(Some(self.reject(from, Offence::InvalidBlock, reason, out))),
                None if chain_benign(&e) => Ok(Some(Verdict::Ignore)),
                None => Err(e.into()),
            },
        }
    }

    fn reject(&self, from: Option<&Peer>, offence: Offence, reason: String, out: &mut Vec<Output>) -> Verdict {
        if let Some(peer) = from {
            out.push(Output::Penalise { peer: peer.clone(), offence, reason });
        } else {
            out.push(Output::Warning(format!("local block rejected: {reason}")));
        }
        Verdict::Reject
    }

    // --- time -------------------------------------------------------------------

    /// Time passes: a solo producer seals a block when one is due; a DPoS
    /// leader produces in its slot; blocks that were ahead of the clock
    /// are tried again.
    pub fn on_tick(&self, now_ns: i64) -> Result<Vec<Output>> {
        let mut core = self.lock_core();
        core.now_ns = core.now_ns.max(now_ns);
        self.clock_ns.fetch_max(now_ns, Ordering::Relaxed);
        let lib_before = self.chain.lib().height;
        let mut out = Vec::new();
        match &mut core.engine {
            Engine::Solo(_) if !self.may_seal_solo(&self.peer_id) => {}
            Engine::Solo(solo) => {
                let solo = solo.clone();
                self.produce_solo(&solo, now_ns, &mut out)?;
            }
            Engine::Dpos(_) => {
                let actions = {
                    let Core { engine, cache, .. } = &mut *core;
                    let schedule = ChainSchedule { chain: &self.chain, cache };
                    match engine {
                        Engine::Dpos(e) => e.on_tick(now_ns, &schedule),
                        Engine::Solo(_) => Ok(Vec::new()),
                    }
                };
                match actions {
                    Ok(actions) => self.run_actions(&mut core, actions, &mut out)?,
                    Err(e) => out.push(Output::Warning(format!("consensus tick: {e}"))),
                }
                let drift_ns = (self.config.max_clock_drift_ms as i64).saturating_mul(1_000_000);
                let now = core.now_ns;
                let due: Vec<Waiting> = {
                    let (due, later): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut core.future)
                        .into_iter()
                        .partition(|w| w.block.header().map(|h| h.timestamp).unwrap_or(i64::MAX) <= now + drift_ns);
                    core.future = later;
                    due
                };
                for w in due {
                    self.accept_block(&mut core, w.block, w.from.as_ref(), &mut out)?;
                }
            }
        }
        self.finish(&mut core, lib_before, &mut out)?;
        Ok(out)
    }

    fn produce_solo(&self, solo: &Solo, now_ns: i64, out: &mut Vec<Output>) -> Result<()> {
        let mut pending_slot = self.lock_pending();
        let head = self.chain.head();
        if pending_slot.as_ref().is_some_and(|p| p.is_stale(&head) || p.parent() != head.hash) {
            *pending_slot = None;
        }
        // The open block's transactions are in the pool until committed.
        let ready = self.lock_pool().len();
        let timestamp_ns = match solo.decide(now_ns, head.timestamp_ns, ready) {
            aergo_consensus::Decision::Wait => return Ok(()),
            aergo_consensus::Decision::Produce { timestamp_ns } => timestamp_ns,
        };
        // An open block seals at the timestamp it was opened with (its
        // receipts were computed with it), not before; a timestamp more
        // than an interval ahead means the clock stepped back, and waiting
        // for it would stall the chain.
        let interval_ns = (solo.config().block_interval_ms as i64).saturating_mul(1_000_000);
        if pending_slot.as_ref().is_some_and(|p| p.timestamp_ns() > now_ns && p.timestamp_ns() - now_ns <= interval_ns)
        {
            return Ok(());
        }
        let (mut open, in_block) = match pending_slot.take() {
            Some(p) => {
                let (open, in_block, log) = p.into_parts();
                *self.sealed_log.lock().unwrap_or_else(|e| e.into_inner()) = Some(log);
                (open, in_block)
            }
            None => (self.chain.open_block(&head.hash, &self.key, timestamp_ns)?, BTreeSet::new()),
        };
        let candidates: Vec<VerifiedTx> = {
            let pool = self.lock_pool();
            pool.select(self.config.max_block_txs, aergo_types::block::BLOCK_MAX_SIZE_BYTES)
                .into_iter()
                .filter(|v| !in_block.contains(&v.hash()))
                .collect()
        };
        let rejected = self.chain.fill_block(&mut open, candidates)?;
        let mut built = self.chain.seal_block(open, &self.key, Vec::new())?;
        built.rejected = rejected;
        if let Some((count, first)) = rejected_summary(&built.rejected) {
            out.push(Output::Warning(format!("block building refused {count} transactions, first: {first}")));
        }
        let mut pool = self.lock_pool();
        if built.block.txs().is_empty() && !solo.config().produce_empty_blocks {
            // Every candidate was refused against the state: they leave the
            // pool, and nothing is sealed (empty blocks are off).
            for (hash, _) in &built.rejected {
                pool.remove_with_successors(hash);
            }
            return Ok(());
        }
        drop(pool);
        if self.pre_executes() {
            // The next block opens on this one before it is committed, so
            // admissions (and promises) go on during its fsyncs; see
            // `pending`, point 4.
            let sealed = aergo_chain::Head::of(&built.block)?;
            let timestamp_ns = self.next_timestamp(&sealed);
            *pending_slot = Some(Pending::open_after(&self.chain, &self.key, sealed, timestamp_ns)?);
        }
        drop(pending_slot);
        let new_head = self.chain.commit(&built.block, &built.receipts)?;
        // Solo: one producer, nobody to disagree; a block is final at once.
        self.chain.set_lib(&new_head.hash)?;
        let change = HeadChange { abandoned: Vec::new(), adopted: vec![built.block.clone()] };
        {
            let mut pool = self.lock_pool();
            self.update_pool(&mut pool, &change)?;
            for (hash, _) in &built.rejected {
                pool.remove_with_successors(hash);
            }
        }
        // What did not fit in the sealed block follows what arrived while
        // it was committed.
        if let Some(p) = self.lock_pending().as_mut().filter(|p| p.parent() == new_head.hash) {
            self.absorb_ready(p)?;
        }
        out.push(Output::PublishBlock(built.block.encode()));
        out.push(Output::NewHead { head: new_head, adopted: change.adopted, abandoned: 0 });
        Ok(())
    }

    // --- carrying out the engine's actions --------------------------------------

    fn run_actions(&self, core: &mut Core, actions: Vec<Action>, out: &mut Vec<Output>) -> Result<()> {
        let mut queue: VecDeque<Action> = actions.into();
        let mut done = 0usize;
        while let Some(action) = queue.pop_front() {
            done += 1;
            if done > MAX_ACTIONS_PER_STEP {
                return Err(ReplicaError::Config {
                    field: "actions",
                    reason: format!("more than {MAX_ACTIONS_PER_STEP} consensus actions in one step"),
                });
            }
            match action {
                // Durable before anything after it: a vote or a block that
                // depends on this state only leaves after the write.
                Action::Persist(s) => self.chain.blocks().set_meta(SAFETY_META, &s.encode())?,
                Action::Anchor(a) => self.chain.blocks().set_meta(ANCHOR_META, &a.encode())?,
                Action::SendVote(v) => out.push(Output::PublishVote(v.encode())),
                Action::Produce(p) => {
                    let follow = self.produce_dpos(core, p, out)?;
                    for a in follow.into_iter().rev() {
                        queue.push_front(a);
                    }
                }
                Action::SwitchHead { .. } if core.replaying => {}
                Action::SwitchHead { hash, .. } => self.switch_head(&hash, out)?,
                Action::Commit { hash, height, .. } => self.commit(core, hash, height, out)?,
                Action::Evidence(e) => out.push(Output::Evidence(Box::new(e))),
            }
        }
        Ok(())
    }

    /// Builds the block of a proposal on its parent's state, stores it and
    /// hands it to the engine; returns the engine's follow-up actions (this
    /// node's vote, the head switch).
    fn produce_dpos(&self, core: &mut Core, p: Proposal, out: &mut Vec<Output>) -> Result<Vec<Action>> {
        let head = self.chain.head();
        // The open block of this slot, if it is the proposal's: sealed as
        // it is, every promise kept. Promises logged for this parent and
        // height at another slot's timestamp cannot be kept by a block of
        // this slot: the slot is skipped rather than break them (a missed
        // slot costs a rating point, a broken promise the stake).
        let open = match self.open_for_proposal(&p)? {
            OpenFor::Open(open) => Some(*open),
            OpenFor::None => None,
            OpenFor::Skip(why) => {
                out.push(Output::Warning(format!("slot {}: not producing: {why}", p.slot)));
                return Ok(Vec::new());
            }
        };
        let timestamp_ns = open.as_ref().map_or(p.timestamp_ns, |(o, _)| o.timestamp_ns);
        let built = match self.build_dpos_block(&p, open) {
            Ok(b) => b,
            Err(e) => {
                let local = match &e {
                    ChainError::Exec(x) => !x.is_rejection(),
                    ChainError::UnknownParent { .. } | ChainError::TreeFull { .. } => false,
                    _ => true,
                };
                if local {
                    return Err(e.into());
                }
                out.push(Output::Warning(format!("slot {}: cannot build on {}: {e}", p.slot, p.parent)));
                return Ok(Vec::new());
            }
        };
        self.chain.store_block(&built.block, &built.receipts)?;
        if p.parent == head.hash {
            let mut pool = self.lock_pool();
            for (hash, reason) in &built.rejected {
                out.push(Output::Warning(format!("slot {}: dropping tx {hash} from the pool: {reason}", p.slot)));
                pool.remove_with_successors(hash);
            }
        }
        let hash = built.block.computed_hash()?;
        let elected = {
            let schedule = ChainSchedule { chain: &self.chain, cache: &core.cache };
            schedule
                .elected_after(&p.parent)
                .map_err(|reason| ReplicaError::ProducerSet { block: p.parent.to_string(), reason })?
        };
        let meta = BlockMeta {
            hash,
            parent: p.parent,
            height: p.height,
            timestamp_ns,
            producer: self.key.public_key(),
            qc: p.qc,
        };
        let Engine::Dpos(engine) = &mut core.engine else { return Ok(Vec::new()) };
        match engine.on_block(meta, &elected) {
            Ok(actions) => {
                out.push(Output::PublishBlock(built.block.encode()));
                Ok(actions)
            }
            Err(e) => {
                out.push(Output::Warning(format!("slot {}: own block {hash} refused by the engine: {e}", p.slot)));
                Ok(Vec::new())
            }
        }
    }

    /// The open block a proposal seals: this node's pending block when it
    /// is the proposal's (same parent, height and slot), else one rebuilt
    /// from the pre-confirmation log (a restart since the promises), else
    /// none; or the reason to skip the slot.
    fn open_for_proposal(&self, p: &Proposal) -> Result<OpenFor> {
        let matches = |parent: Hash, height: u64, timestamp_ns: i64| {
            parent == p.parent && height == p.height && self.chain.slot_of(timestamp_ns) == p.slot
        };
        if let Some(pending) = self.lock_pending().take() {
            if matches(pending.parent(), pending.height(), pending.timestamp_ns()) {
                let order = pending.tx_hashes();
                let (open, in_block, log) = pending.into_parts();
                if self.config.break_promises && !order.is_empty() {
                    return Ok(OpenFor::Open(Box::new(self.break_first_promise(&open, &order)?)));
                }
                *self.sealed_log.lock().unwrap_or_else(|e| e.into_inner()) = Some(log);
                return Ok(OpenFor::Open(Box::new((open, in_block))));
            }
        }
        let Some(log) = self.chain.preconf_log().read(p.height, &p.parent)? else { return Ok(OpenFor::None) };
        if log.txs.is_empty() {
            return Ok(OpenFor::None);
        }
        if !matches(p.parent, p.height, log.timestamp_ns) {
            return Ok(OpenFor::Skip(format!(
                "{} transactions were pre-confirmed for height {} on {} at slot {}",
                log.txs.len(),
                p.height,
                p.parent,
                self.chain.slot_of(log.timestamp_ns)
            )));
        }
        // On the proposal's parent, which need not be the head.
        let Some(parent) = self.chain.known(&p.parent) else {
            return Ok(OpenFor::Skip(format!("promises were logged on {}, which this node does not hold", p.parent)));
        };
        let mut pending = Pending::open_after(&self.chain, &self.key, parent, log.timestamp_ns)?;
        for bytes in &log.txs {
            let vtx = Tx::decode_bounded(bytes)
                .map_err(ReplicaError::from)
                .and_then(|tx| self.verify(tx).map_err(ReplicaError::from))?;
            if let Err(e) = pending.apply(vtx)? {
                // Determinism says this cannot happen.
                return Ok(OpenFor::Skip(format!("a logged pre-confirmed transaction no longer applies: {e}")));
            }
        }
        let (open, in_block, log) = pending.into_parts();
        *self.sealed_log.lock().unwrap_or_else(|e| e.into_inner()) = Some(log);
        Ok(OpenFor::Open(Box::new((open, in_block))))
    }

    /// Fills `open` (or a new block on the proposal's parent) with the
    /// pool's other ready transactions and seals it with the proposal's
    /// certificate.
    fn build_dpos_block(
        &self,
        p: &Proposal,
        open: Option<(aergo_chain::OpenBlock, BTreeSet<Hash>)>,
    ) -> std::result::Result<aergo_chain::BuiltBlock, ChainError> {
        let (mut open, in_block) = match open {
            Some(o) => o,
            None => (self.chain.open_block(&p.parent, &self.key, p.timestamp_ns)?, BTreeSet::new()),
        };
        // The pool's view is the head's; building on another parent (the
        // head is an uncertified block) may leave some candidates out,
        // which is harmless: they stay pending.
        let candidates: Vec<VerifiedTx> = self
            .lock_pool()
            .select(self.config.max_block_txs, aergo_types::block::BLOCK_MAX_SIZE_BYTES)
            .into_iter()
            .filter(|v| !in_block.contains(&v.hash()))
            .collect();
        let rejected = self.chain.fill_block(&mut open, candidates)?;
        let mut built = self.chain.seal_block(open, &self.key, p.qc.encode())?;
        built.rejected = rejected;
        Ok(built)
    }

    /// The test hook [`ReplicaConfig::break_promises`]: the open block
    /// again, on the same parent at the same timestamp, without its first
    /// transaction (which stays in the pool for a later block).
    fn break_first_promise(
        &self,
        open: &aergo_chain::OpenBlock,
        order: &[Hash],
    ) -> Result<(aergo_chain::OpenBlock, BTreeSet<Hash>)> {
        let txs: Vec<VerifiedTx> = {
            let pool = self.lock_pool();
            order[1..].iter().filter_map(|h| pool.get(h).cloned()).collect()
        };
        let mut again = self.chain.open_block(&open.parent.hash, &self.key, open.timestamp_ns)?;
        self.chain.fill_block(&mut again, txs)?;
        // The first stays out of this block: every other candidate is
        // listed as held, the first too, so the pool's fill skips it.
        let held: BTreeSet<Hash> = order.iter().copied().collect();
        Ok((again, held))
    }

    /// Moves the head and brings the pool in line with it.
    fn switch_head(&self, hash: &Hash, out: &mut Vec<Output>) -> Result<()> {
        if self.chain.head().hash == *hash {
            return Ok(());
        }
        let mut pool = self.lock_pool();
        let change = self.chain.set_head(hash)?;
        let lost = self.update_pool(&mut pool, &change)?;
        drop(pool);
        if let Some((count, first)) = lost {
            out.push(Output::Warning(format!(
                "head switch: {count} transactions of abandoned blocks not re-admitted, first: {first}"
            )));
        }
        out.push(Output::NewHead {
            head: self.chain.head(),
            abandoned: change.abandoned.len(),
            adopted: change.adopted,
        });
        Ok(())
    }

    /// After a head change: senders' committed nonces follow the new head,
    /// and the transactions of abandoned blocks go back to the pool (those
    /// the new branch already holds are refused as stale).
    fn update_pool(&self, pool: &mut Pool, change: &HeadChange) -> Result<Option<(usize, String)>> {
        let state = self.chain.head_state();
        let mut senders: BTreeSet<(Hash, Address)> = BTreeSet::new();
        for b in change.adopted.iter().chain(&change.abandoned) {
            senders.extend(b.txs().iter().filter_map(|tx| {
                let body = tx.body.as_ref()?;
                Some((Hash::from_slice("chain id hash", &body.chain_id_hash).ok()?, body.sender().ok()?))
            }));
        }
        let main = self.chain.rules().chain_id_hash;
        for sender in &senders {
            let lane = if sender.0 == main {
                Some(aergo_store::Snapshot::open(self.chain.store(), state.state_root()))
            } else {
                aergo_exec::branches::by_lane(&state, &sender.0)?
                    .map(|b| aergo_exec::branches::open(self.chain.store(), &state, &b.name))
                    .transpose()?
                    .flatten()
            };
            match lane {
                Some(lane) => pool.on_committed(sender, aergo_exec::account(&lane, &sender.1)?.nonce),
                None => pool.forget(sender),
            }
        }
        if change.abandoned.is_empty() {
            return Ok(None);
        }
        let mut lost: Option<(usize, String)> = None;
        let fees = chain_fees(&state)?;
        // Abandoned blocks come newest first; re-admit oldest first so
        // nonces arrive in order.
        for block in change.abandoned.iter().rev() {
            for tx in block.txs() {
                let Ok(vtx) = self.verify(tx.clone()) else { continue };
                let Ok(lane) = aergo_exec::lane_state(self.chain.store(), &state, &vtx) else { continue };
                let committed = aergo_exec::account(&lane, vtx.sender())?;
                match pool.readmit(vtx, committed, fees) {
                    Ok(_) | Err(PoolError::NonceTooLow { .. } | PoolError::Duplicate { .. }) => {}
                    Err(e) => {
                        let l = lost.get_or_insert_with(|| (0, e.to_string()));
                        l.0 += 1;
                    }
                }
            }
        }
        Ok(lost)
    }

    /// A block became final.
    fn commit(&self, core: &Core, hash: Hash, height: u64, out: &mut Vec<Output>) -> Result<()> {
        let lib = self.chain.lib();
        if height <= lib.height {
            // A restart commits again what the chain already holds final.
            let stored = self.chain.blocks().hash_at(height)?;
            if stored != Some(hash) {
                return Err(ReplicaError::Restart {
                    reason: format!("height {height} finalized as {hash}, but the stored final block is {stored:?}"),
                });
            }
            return Ok(());
        }
        if self.chain.blocks().hash_at(height)? != Some(hash) && !core.replaying {
            // Commits come before the head switch in the engine's list; the
            // engine's head descends from every block it commits.
            if let Engine::Dpos(e) = &core.engine {
                self.switch_head(&e.head(), out)?;
            }
        }
        self.chain.set_lib(&hash)?;
        Ok(())
    }

    /// End of every step: the chain's head is the engine's, and a moved LIB
    /// is reported.
    fn finish(&self, core: &mut Core, lib_before: u64, out: &mut Vec<Output>) -> Result<()> {
        if let Engine::Dpos(e) = &core.engine {
            let want = e.head();
            if self.chain.head().hash != want && self.chain.known(&want).is_some() {
                self.switch_head(&want, out)?;
            }
            // Architecture invariant: after every step the chain's head is
            // the engine's head whenever the chain holds that block. A
            // difference is a bug to report, not a state to repair.
            assert!(
                self.chain.known(&want).is_none() || self.chain.head().hash == want,
                "bug: after a step the chain's head {} is not the engine's head {want}",
                self.chain.head().hash
            );
        }
        let lib = self.chain.lib();
        if lib.height != lib_before {
            core.orphans.prune(lib.height);
            core.future.retain(|w| w.height > lib.height);
            out.push(Output::NewLib { lib });
        }
        if matches!(core.engine, Engine::Dpos(_)) && !core.replaying {
            self.refresh_dpos_pending(out)?;
        }
        Ok(())
    }
}

/// What a DPoS proposal seals.
enum OpenFor {
    /// This open block (and the hashes it holds).
    Open(Box<(aergo_chain::OpenBlock, BTreeSet<Hash>)>),
    /// A new block.
    None,
    /// Nothing: producing would break a promise.
    Skip(String),
}

/// What admitting a transaction did besides adding it to the pool.
enum Admission {
    /// Applied to the open block.
    Applied(Box<Ticket>),
    /// Not applied; why.
    Queued(String),
    /// Not applied: another producer (a peer id) has the next slot.
    Elsewhere { producer: String, reason: String },
}

/// Whether pool admission applies the per-account and pool-size bounds
/// (see `Pool::readmit`).
#[derive(Clone, Copy)]
enum Bounds {
    Enforced,
    Waived,
}

/// The chain parameters admission checks, from a state.
fn chain_fees(state: &dyn aergo_store::TableStore) -> Result<ChainFees> {
    Ok(ChainFees {
        gas_price: aergo_exec::system::gas_price(state)?,
        max_tx_gas: aergo_exec::system::gas_caps(state)?.tx,
    })
}

/// How many transactions block building refused, and the first with its
/// reason, for a warning.
fn rejected_summary(rejected: &[(Hash, aergo_exec::ExecError)]) -> Option<(usize, String)> {
    let (hash, e) = rejected.first()?;
    Some((rejected.len(), format!("{hash}: {e}")))
}

/// The result of [`Replica::on_sync_blocks`].
#[derive(Clone, Debug, Default)]
pub struct SyncStep {
    pub outputs: Vec<Output>,
    /// Blocks taken (new and valid).
    pub accepted: usize,
    /// Blocks skipped without blame (known, below the LIB, waiting).
    pub ignored: usize,
    /// Blocks refused (processing stopped at the first).
    pub rejected: usize,
}
