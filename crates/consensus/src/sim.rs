//! A deterministic simulation of a BFT-DPoS network.
//!
//! It runs real [`DposEngine`]s, one per node, over a simulated clock and
//! network, with a pluggable [`Application`] standing in for execution
//! (the default [`StandInApp`] chains hashes of transaction ids into a
//! state root). Everything random comes from one seed through [`SimRng`]
//! and every collection is ordered, so a seed replays the same run, step
//! for step, on any machine.
//!
//! A run has two phases. During the *chaos* phase the network loses,
//! duplicates, delays (up to several slots) and so reorders messages,
//! splits the nodes into partitions (some aimed at producer-set
//! boundaries), fails single directed links, makes nodes deaf (they send
//! but hear nothing), lets the votes of a slot reach only some nodes, and
//! crashes nodes (sometimes in the middle of carrying out an engine's
//! action list) and restarts them from what they had persisted: safety
//! state, restart anchor, blocks and final chain. Then everything
//! *heals*: crashed nodes restart, partitions end, messages arrive within
//! normal delays. Scenarios (network size, producer set size, epochs,
//! elected sets read from the chain or not, slot length, how long leaders
//! wait) vary with the seed.
//!
//! The faults are tuned so the checks have teeth: with the engine's
//! consecutive-slot commit condition removed, 9 of 200 seeds (1000..1200)
//! finalize two blocks at one height; with the lock rule removed, 2 of
//! 200; with producer sets switched at once instead of through a joint
//! configuration, 2 of 600 (2000..2600). Each rule also has a scripted
//! unit test that forks without it.
//!
//! After every step (one delivered event), the checker asserts:
//! - no two nodes have different blocks final at one height, and final
//!   blocks' state roots agree;
//! - every transaction acknowledged as final at some node (its block was
//!   committed there) is final at every node whose final chain reaches
//!   that height, also after crashes;
//! - no producer ever released two votes for one slot or two blocks for
//!   one slot (which would mean the safety state was not persisted before
//!   signing), and no engine reported evidence of it;
//! - an honest network never rejects a block for a reason other than
//!   timing (wrong producer, bad certificate or bad state root would be
//!   bugs).
//!
//! At the end it asserts liveness: after the heal, every node's last
//! irreversible block passed the highest one any node had at the heal,
//! within the heal phase.
//!
//! What it does not model: Byzantine producers (all nodes follow the
//! protocol; the checks above would flag any equivocation), clock drift
//! beyond a fixed per-node skew, and bandwidth.

use crate::dpos::{
    Action, Anchor, BlockMeta, DposConfig, DposEngine, ProducerId, ProducerSchedule, Qc, SafetyState, Vote,
};
use crate::error::ConsensusError;
use aergo_crypto::{dev_keys, PrivateKey, Signature};
use aergo_types::Hash;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;
use std::sync::Arc;

/// SplitMix64: small, fast, and the same sequence everywhere.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True with probability `permille / 1000`.
    pub fn chance(&mut self, permille: u32) -> bool {
        self.below(1000) < permille as u64
    }
}

/// The application whose state the chain orders: the simulator asks it
/// to make transactions and to execute blocks. Each node has its own
/// instance; [`Application::apply`] must be deterministic.
pub trait Application {
    type Tx: Clone + fmt::Debug;
    /// The client's transaction number `id`.
    fn make_tx(id: u64) -> Self::Tx;
    /// The number the checker tracks a transaction by.
    fn tx_id(tx: &Self::Tx) -> u64;
    /// Bytes the block hash commits to.
    fn tx_bytes(tx: &Self::Tx) -> Vec<u8>;
    /// State root of the genesis block.
    fn genesis_root(&self) -> Hash;
    /// Executes a block's transactions on its parent's state.
    fn apply(&mut self, parent_root: &Hash, height: u64, txs: &[Self::Tx]) -> Result<Hash, String>;
}

/// Stand-in execution: the state root is
/// `SHA-256(parent root || height || tx ids)`.
#[derive(Clone, Debug, Default)]
pub struct StandInApp;

impl Application for StandInApp {
    type Tx = u64;
    fn make_tx(id: u64) -> u64 {
        id
    }
    fn tx_id(tx: &u64) -> u64 {
        *tx
    }
    fn tx_bytes(tx: &u64) -> Vec<u8> {
        tx.to_be_bytes().to_vec()
    }
    fn genesis_root(&self) -> Hash {
        Hash::sha256(b"stand-in genesis state")
    }
    fn apply(&mut self, parent_root: &Hash, height: u64, txs: &[u64]) -> Result<Hash, String> {
        let mut data = Vec::with_capacity(40 + 8 * txs.len());
        data.extend_from_slice(parent_root.as_bytes());
        data.extend_from_slice(&height.to_be_bytes());
        for t in txs {
            data.extend_from_slice(&t.to_be_bytes());
        }
        Ok(Hash::sha256(&data))
    }
}

/// Everything a run depends on besides the seed's random choices.
#[derive(Clone, Debug)]
pub struct SimParams {
    pub seed: u64,
    /// Nodes; each is a candidate producer.
    pub nodes: usize,
    /// Size of the elected producer set.
    pub set_size: usize,
    /// Elect a new set every this many slots (`None`: a fixed set).
    pub epoch_slots: Option<u64>,
    /// Derive each epoch's set from the chain (the last block of the epoch
    /// two back) instead of from the slot alone, so forks can disagree
    /// about the elected set.
    pub schedule_from_chain: bool,
    pub interval_ms: u64,
    pub chaos_slots: u64,
    pub heal_slots: u64,
    pub loss_permille: u32,
    pub dup_permille: u32,
    /// Delays are uniform up to this while calm (after the heal)...
    pub max_delay_ms: u64,
    /// ... and up to this during the chaos phase.
    pub chaos_max_delay_ms: u64,
    /// Share of messages delayed up to `slow_delay_ms` (reordering).
    pub slow_permille: u32,
    pub slow_delay_ms: u64,
    /// Per slot: chance that a node crashes.
    pub crash_permille: u32,
    /// Per action list: chance that the node crashes part-way through it.
    pub crash_mid_actions_permille: u32,
    /// Per slot: chance that a partition starts (when none is active).
    pub partition_permille: u32,
    /// Per slot: chance that some directed links fail for a few slots.
    pub link_cut_permille: u32,
    /// Per slot: chance that a node goes deaf (receives nothing, still
    /// sends) for a few slots: a leader that builds on stale knowledge.
    pub deaf_permille: u32,
    /// Per slot: chance that the votes of that slot reach only a random
    /// subset of nodes, so nodes disagree about which blocks are
    /// certified (and so about their locks).
    pub partial_votes_permille: u32,
    /// Per epoch: chance that, a few slots before the boundary, the
    /// producers leaving the set (with some of those staying) are cut off
    /// from the rest: the split that would let two sets finalize two
    /// forks without a joint hand-over.
    pub boundary_partition_permille: u32,
    /// The engines' `produce_wait_percent`: 0 makes leaders build on
    /// whatever certificate they have at the slot's start, which forks
    /// more.
    pub produce_wait_percent: u8,
    /// Each node's clock is off by up to this much.
    pub max_skew_ms: u64,
    pub txs_per_slot: u64,
    /// Transactions per block at most.
    pub max_block_txs: usize,
    /// Bound on simulated events.
    pub max_steps: u64,
    /// Print every event.
    pub trace: bool,
}

impl SimParams {
    /// A scenario derived from the seed: network size, set size, epochs
    /// and slot length vary between seeds.
    pub fn for_seed(seed: u64) -> SimParams {
        let mut r = SimRng::new(seed ^ 0x5eed_5eed_5eed_5eed);
        let nodes = r.range(4, 7) as usize;
        let interval_ms = if r.chance(500) { 250 } else { 1_000 };
        let set_size = r.range(3.min(nodes as u64), nodes as u64) as usize;
        let epoch_slots = if nodes > set_size || r.chance(300) { Some(r.range(15, 40)) } else { None };
        SimParams {
            seed,
            nodes,
            set_size,
            epoch_slots,
            schedule_from_chain: r.chance(500),
            interval_ms,
            chaos_slots: 120,
            heal_slots: 60,
            loss_permille: r.range(0, 150) as u32,
            dup_permille: r.range(0, 100) as u32,
            max_delay_ms: (interval_ms / 10).max(5),
            chaos_max_delay_ms: interval_ms * r.range(5, 120) / 100,
            slow_permille: r.range(0, 100) as u32,
            slow_delay_ms: interval_ms * 3,
            crash_permille: r.range(0, 120) as u32,
            crash_mid_actions_permille: r.range(0, 20) as u32,
            partition_permille: r.range(0, 60) as u32,
            link_cut_permille: r.range(0, 300) as u32,
            deaf_permille: r.range(0, 150) as u32,
            boundary_partition_permille: r.range(0, 600) as u32,
            partial_votes_permille: r.range(0, 300) as u32,
            produce_wait_percent: [0u8, 20, 50, 80][r.below(4) as usize],
            max_skew_ms: interval_ms / 20,
            txs_per_slot: 3,
            max_block_txs: 8,
            max_steps: 3_000_000,
            trace: false,
        }
    }
}

/// A block as the simulated network carries it.
#[derive(Clone, Debug)]
pub struct SimBlock<T> {
    pub hash: Hash,
    pub parent: Hash,
    pub height: u64,
    pub timestamp_ns: i64,
    pub producer: ProducerId,
    /// The parent's certificate, encoded as in a header's `consensus` field.
    pub qc: Vec<u8>,
    pub txs: Vec<T>,
    pub state_root: Hash,
    pub signature: Signature,
}

fn block_hash<A: Application>(
    parent: &Hash,
    height: u64,
    ts: i64,
    producer: &ProducerId,
    qc: &[u8],
    txs: &[A::Tx],
    root: &Hash,
) -> Hash {
    let mut data = Vec::with_capacity(200 + qc.len() + 8 * txs.len());
    data.extend_from_slice(parent.as_bytes());
    data.extend_from_slice(&height.to_be_bytes());
    data.extend_from_slice(&ts.to_be_bytes());
    data.extend_from_slice(&producer.to_compressed());
    data.extend_from_slice(&(qc.len() as u32).to_be_bytes());
    data.extend_from_slice(qc);
    for t in txs {
        let b = A::tx_bytes(t);
        data.extend_from_slice(&(b.len() as u32).to_be_bytes());
        data.extend_from_slice(&b);
    }
    data.extend_from_slice(root.as_bytes());
    Hash::sha256(&data)
}

/// Why a run failed, with what is needed to replay it.
#[derive(Clone, Debug)]
pub struct SimFailure {
    pub seed: u64,
    pub step: u64,
    pub time_ms: i64,
    pub message: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation failed: seed={} step={} t={}ms: {}\n  replay: SEED={} cargo test -p aergo-consensus --test sim sim_replay -- --nocapture",
            self.seed, self.step, self.time_ms, self.message, self.seed
        )
    }
}

/// Figures of a successful run.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    pub seed: u64,
    pub steps: u64,
    pub slots: u64,
    /// Lowest final height over nodes at the end.
    pub min_final_height: u64,
    /// Highest final height at the heal.
    pub final_height_at_heal: u64,
    /// Slots after the heal until every node passed that height.
    pub slots_to_progress_after_heal: u64,
    pub blocks_produced: u64,
    pub votes_sent: u64,
    pub txs_submitted: u64,
    pub txs_final: u64,
    pub crashes: u64,
    pub mid_action_crashes: u64,
    pub partitions: u64,
    pub messages_lost: u64,
    /// Producer-set hand-overs seen final at node 0: a single set became
    /// joint, and a joint configuration handed over to the new set alone.
    pub joint_started: u64,
    pub joint_completed: u64,
    /// The scenario, for the record.
    pub scenario: String,
}

/// The elected set: a window of `set_size` over the candidates. Without
/// epochs it is the first `set_size`; with epochs the window moves every
/// epoch, by an offset derived either from the epoch number (a function
/// of the slot) or, like a real chain reading its state, from the hash of
/// the last block of the epoch two back on the block's own chain.
#[derive(Clone, Debug)]
pub struct SimSchedule {
    pub candidates: Vec<ProducerId>,
    pub set_size: usize,
    pub epoch_slots: Option<u64>,
    pub from_chain: bool,
    pub genesis: Hash,
    pub seed: u64,
}

/// Most blocks walked back to find an epoch boundary.
const MAX_BOUNDARY_WALK: usize = 100_000;

impl SimSchedule {
    fn window(&self, key: &[u8]) -> Vec<ProducerId> {
        let n = self.candidates.len();
        let h = Hash::sha256_parts(&[&self.seed.to_be_bytes(), key]);
        let start =
            (u64::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3], h.0[4], h.0[5], h.0[6], h.0[7]]) % n as u64) as usize;
        (0..self.set_size.min(n)).map(|i| self.candidates[(start + i) % n]).collect()
    }

    /// The set of the first epochs (and of genesis).
    pub fn initial(&self) -> Vec<ProducerId> {
        self.candidates.iter().take(self.set_size).copied().collect()
    }

    /// The set for a block in `slot` on `parent`; `lookup` gives a stored
    /// block's parent and slot.
    pub fn elected(
        &self,
        parent: &Hash,
        slot: u64,
        lookup: impl Fn(&Hash) -> Option<(Hash, u64)>,
    ) -> Result<Vec<ProducerId>, String> {
        let Some(e) = self.epoch_slots.filter(|e| *e > 0) else { return Ok(self.initial()) };
        let epoch = slot / e;
        if !self.from_chain {
            return Ok(if epoch == 0 { self.initial() } else { self.window(&epoch.to_be_bytes()) });
        }
        if epoch < 2 {
            return Ok(self.initial());
        }
        // The last block before the start of epoch - 1.
        let end = (epoch - 1) * e;
        let mut cur = *parent;
        for _ in 0..MAX_BOUNDARY_WALK {
            if cur == self.genesis {
                return Ok(self.window(cur.as_bytes()));
            }
            let (p, s) = lookup(&cur).ok_or_else(|| format!("ancestor {cur} of {parent} is not stored"))?;
            if s < end {
                return Ok(self.window(cur.as_bytes()));
            }
            cur = p;
        }
        Err(format!("no epoch boundary within {MAX_BOUNDARY_WALK} blocks of {parent}"))
    }
}

/// [`SimSchedule`] over one node's stored blocks.
struct ChainSchedule<'a, T> {
    base: &'a SimSchedule,
    blocks: &'a BTreeMap<Hash, Arc<SimBlock<T>>>,
    cfg: &'a DposConfig,
}

impl<T> ProducerSchedule for ChainSchedule<'_, T> {
    fn producers(&self, parent: &Hash, slot: u64) -> Result<Vec<ProducerId>, String> {
        self.base.elected(parent, slot, |h| {
            self.blocks.get(h).map(|b| (b.parent, self.cfg.slot_of(b.timestamp_ns).unwrap_or(0)))
        })
    }
}

enum Msg<T> {
    Blocks(Vec<Arc<SimBlock<T>>>),
    Vote(Vec<u8>),
    Status { hqc: Hash, head: Hash },
    Request { hash: Hash, lib_height: u64 },
    Tx(T),
}

impl<T> Clone for Msg<T>
where
    T: Clone,
{
    fn clone(&self) -> Self {
        match self {
            Msg::Blocks(b) => Msg::Blocks(b.clone()),
            Msg::Vote(v) => Msg::Vote(v.clone()),
            Msg::Status { hqc, head } => Msg::Status { hqc: *hqc, head: *head },
            Msg::Request { hash, lib_height } => Msg::Request { hash: *hash, lib_height: *lib_height },
            Msg::Tx(t) => Msg::Tx(t.clone()),
        }
    }
}

enum Event<T> {
    Tick(usize),
    Deliver { to: usize, from: usize, msg: Msg<T> },
    Restart(usize),
    PartitionEnd,
    SubmitTx,
    Heal,
    Retry { node: usize, block: Arc<SimBlock<T>> },
}

struct Scheduled<T> {
    time_ns: i64,
    seq: u64,
    ev: Event<T>,
}

impl<T> PartialEq for Scheduled<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.time_ns, self.seq) == (o.time_ns, o.seq)
    }
}
impl<T> Eq for Scheduled<T> {}
impl<T> PartialOrd for Scheduled<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Scheduled<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time_ns, self.seq).cmp(&(o.time_ns, o.seq))
    }
}

/// What survives a crash.
struct Disk<T> {
    safety: SafetyState,
    anchor: Anchor,
    blocks: BTreeMap<Hash, Arc<SimBlock<T>>>,
    roots: BTreeMap<Hash, Hash>,
    /// The final chain: index = height - 1.
    finals: Vec<Hash>,
    final_txs: BTreeSet<u64>,
}

struct SimNode<A: Application> {
    key: PrivateKey,
    app: A,
    engine: Option<DposEngine>,
    disk: Disk<A::Tx>,
    orphans: BTreeMap<Hash, Vec<Arc<SimBlock<A::Tx>>>>,
    orphan_count: usize,
    mempool: BTreeMap<u64, A::Tx>,
    skew_ns: i64,
}

const MAX_ORPHANS: usize = 2048;
const SYNC_BATCH: usize = 32;
const TICKS_PER_SLOT: i64 = 5;

/// The checker's view across nodes.
#[derive(Default)]
struct Checker {
    /// height -> (block, state root) of the first node to finalize it.
    finals: BTreeMap<u64, (Hash, Hash)>,
    /// tx id -> height where it was first acknowledged final.
    acks: BTreeMap<u64, u64>,
    /// (producer, slot) -> the one vote / block it signed.
    votes: BTreeMap<([u8; 33], u64), Hash>,
    blocks: BTreeMap<([u8; 33], u64), Hash>,
}

/// A simulated network of DPoS nodes.
pub struct Simulation<A: Application> {
    p: SimParams,
    rng: SimRng,
    cfg: DposConfig,
    schedule: SimSchedule,
    nodes: Vec<SimNode<A>>,
    queue: BinaryHeap<Reverse<Scheduled<A::Tx>>>,
    seq: u64,
    now_ns: i64,
    step: u64,
    /// Partition group per node while a partition lasts.
    partition: Option<Vec<u8>>,
    /// Failed directed links (from, to) and when they come back.
    cut_links: BTreeMap<(usize, usize), i64>,
    /// Slots whose votes reach only the marked nodes.
    vote_reach: BTreeMap<u64, Vec<bool>>,
    healed: bool,
    checker: Checker,
    report: SimReport,
    next_tx: u64,
    genesis_root: Hash,
    heal_at_ns: i64,
    end_ns: i64,
    first_progress_ns: Option<i64>,
}

type SimResult<T> = Result<T, String>;

impl<A: Application> Simulation<A> {
    /// Builds the network; `make_app(i)` gives node `i` its application.
    pub fn new(p: SimParams, make_app: impl Fn(usize) -> A) -> Result<Simulation<A>, ConsensusError> {
        let bad = |field: &'static str, reason: String| ConsensusError::BadConfig { field, reason };
        if p.nodes == 0 || p.nodes > crate::dpos::MAX_VOTERS {
            return Err(bad("nodes", format!("{}, expected 1..={}", p.nodes, crate::dpos::MAX_VOTERS)));
        }
        if p.set_size == 0 || p.set_size > p.nodes.min(crate::dpos::MAX_PRODUCERS) {
            return Err(bad(
                "set_size",
                format!("{}, expected 1..={}", p.set_size, p.nodes.min(crate::dpos::MAX_PRODUCERS)),
            ));
        }
        if p.txs_per_slot == 0 || p.txs_per_slot > 10_000 {
            return Err(bad("txs_per_slot", format!("{}, expected 1..=10000", p.txs_per_slot)));
        }
        if p.epoch_slots == Some(0) {
            return Err(bad("epoch_slots", "0, expected at least 1".to_string()));
        }
        let keys = dev_keys(&format!("sim-{}", p.seed), p.nodes as u32);
        let candidates: Vec<ProducerId> = keys.iter().map(|k| k.public_key()).collect();
        let schedule = SimSchedule {
            candidates: candidates.clone(),
            set_size: p.set_size,
            epoch_slots: p.epoch_slots,
            from_chain: p.schedule_from_chain,
            genesis: Hash::sha256(b"sim genesis"),
            seed: p.seed,
        };
        let genesis_ts = 1_700_000_000_000_000_000i64;
        let mut cfg = DposConfig::new(Hash::sha256(b"sim chain"), Hash::sha256(b"sim genesis"), genesis_ts);
        cfg.block_interval_ms = p.interval_ms;
        cfg.max_clock_drift_ms = (p.interval_ms / 2).max(p.max_skew_ms * 4);
        cfg.produce_wait_percent = p.produce_wait_percent;
        cfg.validate()?;
        let anchor = Anchor::genesis(cfg.genesis_hash, 0, schedule.initial());
        let mut rng = SimRng::new(p.seed);
        let mut nodes = Vec::new();
        let mut genesis_root = Hash::ZERO;
        for (i, key) in keys.into_iter().enumerate() {
            let app = make_app(i);
            genesis_root = app.genesis_root();
            let skew_ms = rng.range(0, 2 * p.max_skew_ms) as i64 - p.max_skew_ms as i64;
            let mut roots = BTreeMap::new();
            roots.insert(cfg.genesis_hash, genesis_root);
            let engine = DposEngine::new(
                cfg.clone(),
                Some(key.clone()),
                SafetyState::genesis(cfg.genesis_hash),
                anchor.clone(),
                genesis_ts,
            )?;
            nodes.push(SimNode {
                key,
                app,
                engine: Some(engine),
                disk: Disk {
                    safety: SafetyState::genesis(cfg.genesis_hash),
                    anchor: anchor.clone(),
                    blocks: BTreeMap::new(),
                    roots,
                    finals: Vec::new(),
                    final_txs: BTreeSet::new(),
                },
                orphans: BTreeMap::new(),
                orphan_count: 0,
                mempool: BTreeMap::new(),
                skew_ns: skew_ms * 1_000_000,
            });
        }
        let interval_ns = cfg.interval_ns();
        let heal_at_ns = genesis_ts + interval_ns * p.chaos_slots as i64;
        let end_ns = heal_at_ns + interval_ns * p.heal_slots as i64;
        let mut sim = Simulation {
            report: SimReport {
                seed: p.seed,
                scenario: format!(
                    "{} nodes, {} producers, epochs {:?}{}, slot {} ms, wait {}%",
                    p.nodes,
                    p.set_size,
                    p.epoch_slots,
                    if p.schedule_from_chain && p.epoch_slots.is_some() { " from chain" } else { "" },
                    p.interval_ms,
                    p.produce_wait_percent
                ),
                ..SimReport::default()
            },
            p,
            rng,
            cfg,
            schedule,
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            now_ns: genesis_ts,
            step: 0,
            partition: None,
            cut_links: BTreeMap::new(),
            vote_reach: BTreeMap::new(),
            healed: false,
            checker: Checker::default(),
            next_tx: 1,
            genesis_root,
            heal_at_ns,
            end_ns,
            first_progress_ns: None,
        };
        for i in 0..sim.nodes.len() {
            let t = genesis_ts + (interval_ns / TICKS_PER_SLOT) * i as i64 / sim.nodes.len() as i64;
            sim.push(t, Event::Tick(i));
        }
        sim.push(genesis_ts, Event::SubmitTx);
        sim.push(heal_at_ns, Event::Heal);
        Ok(sim)
    }

    fn push(&mut self, time_ns: i64, ev: Event<A::Tx>) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { time_ns, seq: self.seq, ev }));
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if self.p.trace {
            println!(
                "[{:>7}ms #{:>7}] {}",
                (self.now_ns - self.cfg.genesis_timestamp_ns) / 1_000_000,
                self.step,
                what()
            );
        }
    }

    fn fail(&self, message: String) -> SimFailure {
        SimFailure {
            seed: self.p.seed,
            step: self.step,
            time_ms: (self.now_ns - self.cfg.genesis_timestamp_ns) / 1_000_000,
            message,
        }
    }

    /// Runs to the end; the first violated check ends the run.
    pub fn run(mut self) -> Result<SimReport, SimFailure> {
        let mut lib_at_heal = 0;
        while let Some(Reverse(s)) = self.queue.pop() {
            if s.time_ns > self.end_ns {
                break;
            }
            self.step += 1;
            if self.step > self.p.max_steps {
                return Err(self.fail(format!("step bound {} hit", self.p.max_steps)));
            }
            self.now_ns = s.time_ns;
            if let Event::Heal = s.ev {
                lib_at_heal = self.max_final_height();
                self.report.final_height_at_heal = lib_at_heal;
            }
            self.handle(s.ev).map_err(|m| self.fail(m))?;
            if self.healed && self.first_progress_ns.is_none() && self.min_final_height() > lib_at_heal {
                self.first_progress_ns = Some(self.now_ns);
            }
        }
        self.report.steps = self.step;
        self.report.slots = self.p.chaos_slots + self.p.heal_slots;
        self.report.min_final_height = self.min_final_height();
        self.report.txs_final = self.checker.acks.len() as u64;
        match self.first_progress_ns {
            Some(t) => {
                self.report.slots_to_progress_after_heal = ((t - self.heal_at_ns) / self.cfg.interval_ns()) as u64;
                Ok(self.report)
            }
            None => {
                let libs: Vec<u64> = self.nodes.iter().map(|n| n.disk.finals.len() as u64).collect();
                Err(self.fail(format!(
                    "no progress within {} slots after the heal: final heights {libs:?}, highest at heal {lib_at_heal}",
                    self.p.heal_slots
                )))
            }
        }
    }

    fn min_final_height(&self) -> u64 {
        self.nodes.iter().map(|n| n.disk.finals.len() as u64).min().unwrap_or(0)
    }

    fn max_final_height(&self) -> u64 {
        self.nodes.iter().map(|n| n.disk.finals.len() as u64).max().unwrap_or(0)
    }

    fn slot_ns(&self) -> i64 {
        self.cfg.interval_ns()
    }

    fn handle(&mut self, ev: Event<A::Tx>) -> SimResult<()> {
        match ev {
            Event::Tick(i) => {
                let next = self.now_ns + self.slot_ns() / TICKS_PER_SLOT;
                self.push(next, Event::Tick(i));
                self.tick(i)
            }
            Event::Deliver { to, from, msg } => {
                if self.nodes[to].engine.is_none() || self.cut(from, to) {
                    return Ok(());
                }
                self.deliver(to, from, msg)
            }
            Event::Restart(i) => self.restart(i),
            Event::PartitionEnd => {
                self.trace(|| "partition ends".to_string());
                self.partition = None;
                Ok(())
            }
            Event::SubmitTx => {
                let next = self.now_ns + self.slot_ns() / self.p.txs_per_slot.max(1) as i64;
                self.push(next, Event::SubmitTx);
                let id = self.next_tx;
                self.next_tx += 1;
                self.report.txs_submitted += 1;
                let to = self.rng.below(self.nodes.len() as u64) as usize;
                // The client hands it to one node, which gossips it.
                let tx = A::make_tx(id);
                if self.nodes[to].engine.is_some() {
                    self.nodes[to].mempool.insert(id, tx.clone());
                    self.broadcast(to, Msg::Tx(tx));
                }
                Ok(())
            }
            Event::Heal => {
                self.trace(|| "heal: restart all, end partitions and loss".to_string());
                self.healed = true;
                self.partition = None;
                self.cut_links.clear();
                self.vote_reach.clear();
                for i in 0..self.nodes.len() {
                    if self.nodes[i].engine.is_none() {
                        self.restart(i)?;
                    }
                }
                Ok(())
            }
            Event::Retry { node, block } => {
                if self.nodes[node].engine.is_some() {
                    self.receive_block(node, node, block)?;
                }
                Ok(())
            }
        }
    }

    /// True when a partition or a failed link separates two nodes.
    fn cut(&self, a: usize, b: usize) -> bool {
        if self.cut_links.get(&(a, b)).is_some_and(|until| *until > self.now_ns) {
            return true;
        }
        match &self.partition {
            Some(g) => g.get(a) != g.get(b),
            None => false,
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg<A::Tx>) {
        let chaos = !self.healed;
        if to == from || self.cut(from, to) {
            return;
        }
        if let Msg::Vote(bytes) = &msg {
            // The slot is bytes 1..9 of an encoded vote.
            let slot = bytes.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
            if slot.and_then(|s| self.vote_reach.get(&s)).is_some_and(|reach| !reach[to]) {
                return;
            }
        }
        if chaos && self.rng.chance(self.p.loss_permille) {
            self.report.messages_lost += 1;
            return;
        }
        let copies = if chaos && self.rng.chance(self.p.dup_permille) { 2 } else { 1 };
        for _ in 0..copies {
            let max_ms = if !chaos {
                self.p.max_delay_ms
            } else if self.rng.chance(self.p.slow_permille) {
                self.p.slow_delay_ms
            } else {
                self.p.chaos_max_delay_ms.max(self.p.max_delay_ms)
            };
            let delay_ns = self.rng.range(1, max_ms.max(1) * 1_000) as i64 * 1_000;
            let t = self.now_ns + delay_ns;
            self.push(t, Event::Deliver { to, from, msg: msg.clone() });
        }
    }

    fn broadcast(&mut self, from: usize, msg: Msg<A::Tx>) {
        for to in 0..self.nodes.len() {
            self.send(from, to, msg.clone());
        }
    }

    fn node_now(&self, i: usize) -> i64 {
        self.now_ns + self.nodes[i].skew_ns
    }

    fn tick(&mut self, i: usize) -> SimResult<()> {
        if !self.healed {
            self.maybe_inject_faults(i);
        }
        let now = self.node_now(i);
        let slot_ns = self.slot_ns();
        let status_tick = (self.now_ns - self.cfg.genesis_timestamp_ns) % slot_ns < slot_ns / TICKS_PER_SLOT;
        let node = &mut self.nodes[i];
        let schedule = ChainSchedule { base: &self.schedule, blocks: &node.disk.blocks, cfg: &self.cfg };
        let Some(engine) = node.engine.as_mut() else { return Ok(()) };
        let actions = engine.on_tick(now, &schedule).map_err(|e| format!("node {i} tick: {e}"))?;
        // Once per slot, tell peers what we have so they can fetch it.
        let status = status_tick.then(|| (engine.highest_qc().0, engine.head()));
        if let Some((hqc, head)) = status {
            self.broadcast(i, Msg::Status { hqc, head });
        }
        self.run_actions(i, actions)
    }

    /// Fault injection, decided at node 0's ticks once per slot.
    fn maybe_inject_faults(&mut self, i: usize) {
        let slot_ns = self.slot_ns();
        if i != 0 || (self.now_ns - self.cfg.genesis_timestamp_ns) % slot_ns >= slot_ns / TICKS_PER_SLOT {
            return;
        }
        let n = self.nodes.len() as u64;
        self.maybe_split_at_boundary();
        if self.rng.chance(self.p.partial_votes_permille) {
            let slot = self.cfg.slot_of(self.now_ns).unwrap_or(0);
            let reach: Vec<bool> = (0..n).map(|_| self.rng.chance(400)).collect();
            self.trace(|| format!("votes of slot {slot} reach only {reach:?}"));
            self.vote_reach.insert(slot, reach);
        }
        if self.rng.chance(self.p.crash_permille) {
            let victim = self.rng.below(n) as usize;
            if self.nodes[victim].engine.is_some() {
                self.crash(victim);
                let back = self.now_ns + self.rng.range(1, 8) as i64 * slot_ns;
                if back < self.heal_at_ns {
                    self.push(back, Event::Restart(victim));
                }
            }
        }
        if self.rng.chance(self.p.link_cut_permille) {
            let links = self.rng.range(1, n * (n - 1) / 2);
            let until = self.now_ns + self.rng.range(1, 6) as i64 * slot_ns;
            for _ in 0..links {
                let a = self.rng.below(n) as usize;
                let b = self.rng.below(n) as usize;
                if a != b {
                    self.cut_links.insert((a, b), until.min(self.heal_at_ns));
                }
            }
            self.trace(|| format!("{links} links fail"));
        }
        if self.rng.chance(self.p.deaf_permille) {
            let deaf = self.rng.below(n) as usize;
            let until = (self.now_ns + self.rng.range(2, 12) as i64 * slot_ns).min(self.heal_at_ns);
            for from in 0..n as usize {
                if from != deaf {
                    self.cut_links.insert((from, deaf), until);
                }
            }
            self.trace(|| format!("node {deaf} goes deaf"));
        }
        if self.partition.is_none() && self.rng.chance(self.p.partition_permille) {
            let groups: Vec<u8> = (0..n).map(|_| self.rng.below(2) as u8).collect();
            self.trace(|| format!("partition {groups:?}"));
            self.partition = Some(groups);
            self.report.partitions += 1;
            let end = self.now_ns + self.rng.range(2, 20) as i64 * slot_ns;
            if end < self.heal_at_ns {
                self.push(end, Event::PartitionEnd);
            }
        }
    }

    /// A few slots before an epoch boundary, maybe separate the producers
    /// that leave the set from everyone else, as node 0's chain sees the
    /// sets.
    fn maybe_split_at_boundary(&mut self) {
        let Some(e) = self.p.epoch_slots.filter(|e| *e > 8) else { return };
        let slot = self.cfg.slot_of(self.now_ns).unwrap_or(0);
        let lead = self.rng.range(3, 8);
        if slot % e != e - lead || self.partition.is_some() || !self.rng.chance(self.p.boundary_partition_permille) {
            return;
        }
        let Some(head) = self.nodes[0].engine.as_ref().map(|e| e.head()) else { return };
        let node = &self.nodes[0];
        let schedule = ChainSchedule { base: &self.schedule, blocks: &node.disk.blocks, cfg: &self.cfg };
        let (Ok(now), Ok(next)) = (schedule.producers(&head, slot), schedule.producers(&head, slot + lead)) else {
            return;
        };
        // Side 1: the leaving producers and a random share of those that
        // stay; side 0: the rest (joining producers among them).
        let mut groups = Vec::with_capacity(self.nodes.len());
        for i in 0..self.nodes.len() {
            let k = self.nodes[i].key.public_key();
            let leaving = now.contains(&k) && !next.contains(&k);
            let staying = now.contains(&k) && next.contains(&k);
            groups.push(u8::from(leaving || (staying && self.rng.chance(500))));
        }
        if groups.iter().all(|g| *g == 0) {
            return;
        }
        self.trace(|| format!("boundary partition {groups:?}"));
        self.partition = Some(groups);
        self.report.partitions += 1;
        let end = self.now_ns + self.rng.range(4, 20) as i64 * self.slot_ns();
        if end < self.heal_at_ns {
            self.push(end, Event::PartitionEnd);
        }
    }

    fn crash(&mut self, i: usize) {
        if self.nodes[i].engine.take().is_some() {
            self.trace(|| format!("node {i} crashes"));
            self.report.crashes += 1;
            let n = &mut self.nodes[i];
            n.orphans.clear();
            n.orphan_count = 0;
            n.mempool.clear();
        }
    }

    /// Restarts from disk: safety state, anchor, then the stored blocks
    /// above the anchor, parents first.
    fn restart(&mut self, i: usize) -> SimResult<()> {
        if self.nodes[i].engine.is_some() {
            return Ok(());
        }
        let now = self.node_now(i);
        let n = &self.nodes[i];
        let engine = DposEngine::new(self.cfg.clone(), Some(n.key.clone()), n.disk.safety, n.disk.anchor.clone(), now)
            .map_err(|e| format!("node {i} restart: {e}"))?;
        // The anchor lags the final chain when a crash fell between a
        // commit and its anchor: the replay commits those blocks again,
        // and `commit` checks they are the same.
        let anchor_height = n.disk.anchor.height;
        let mut replay: Vec<Arc<SimBlock<A::Tx>>> =
            n.disk.blocks.values().filter(|b| b.height > anchor_height).cloned().collect();
        replay.sort_by_key(|b| (b.height, b.hash));
        self.trace(|| format!("node {i} restarts, replaying {} blocks", replay.len()));
        self.nodes[i].engine = Some(engine);
        for b in replay {
            let Some(engine) = self.nodes[i].engine.as_mut() else { break };
            if engine.contains(&b.hash) || !engine.contains(&b.parent) {
                continue;
            }
            let meta = self.meta_of(&b)?;
            let elected = self.elected_for(i, &b)?;
            let Some(engine) = self.nodes[i].engine.as_mut() else { break };
            match engine.on_block(meta, &elected) {
                Ok(actions) => self.run_actions(i, actions)?,
                Err(e) if e.is_benign() || matches!(e, ConsensusError::BelowFinality { .. }) => {}
                Err(e) => return Err(format!("node {i} replay of {}: {e}", b.hash)),
            }
        }
        Ok(())
    }

    /// The elected set for a block, read from node `i`'s stored chain.
    fn elected_for(&self, i: usize, b: &SimBlock<A::Tx>) -> SimResult<Vec<ProducerId>> {
        let n = &self.nodes[i];
        let schedule = ChainSchedule { base: &self.schedule, blocks: &n.disk.blocks, cfg: &self.cfg };
        let slot = self.cfg.slot_of(b.timestamp_ns).map_err(|e| e.to_string())?;
        schedule.producers(&b.parent, slot).map_err(|e| format!("node {i}: schedule: {e}"))
    }

    fn meta_of(&self, b: &SimBlock<A::Tx>) -> SimResult<BlockMeta> {
        let qc = Qc::decode(&b.qc).map_err(|e| format!("block {}: {e}", b.hash))?;
        Ok(BlockMeta {
            hash: b.hash,
            parent: b.parent,
            height: b.height,
            timestamp_ns: b.timestamp_ns,
            producer: b.producer,
            qc,
        })
    }

    fn deliver(&mut self, to: usize, from: usize, msg: Msg<A::Tx>) -> SimResult<()> {
        match msg {
            Msg::Blocks(blocks) => {
                for b in blocks {
                    if self.nodes[to].engine.is_none() {
                        break;
                    }
                    self.receive_block(to, from, b)?;
                }
                Ok(())
            }
            Msg::Vote(bytes) => {
                let vote = Vote::decode(&bytes).map_err(|e| format!("node {to}: vote from {from}: {e}"))?;
                let Some(engine) = self.nodes[to].engine.as_mut() else { return Ok(()) };
                match engine.on_vote(vote) {
                    Ok(actions) => self.run_actions(to, actions),
                    Err(e) if e.is_benign() => Ok(()),
                    Err(ConsensusError::FutureVote { .. } | ConsensusError::VoteBufferFull { .. }) => Ok(()),
                    Err(e) => Err(format!("node {to}: honest vote from {from} rejected: {e}")),
                }
            }
            Msg::Status { hqc, head } => {
                let lib_height = self.nodes[to].disk.finals.len() as u64;
                for h in [hqc, head] {
                    let n = &self.nodes[to];
                    let waiting = n.orphans.values().flatten().any(|b| b.hash == h);
                    if !n.disk.blocks.contains_key(&h) && !n.disk.roots.contains_key(&h) && !waiting {
                        self.send(to, from, Msg::Request { hash: h, lib_height });
                    }
                }
                Ok(())
            }
            Msg::Request { hash, lib_height } => {
                let n = &self.nodes[to];
                let mut chain = Vec::new();
                let mut cur = hash;
                while let Some(b) = n.disk.blocks.get(&cur) {
                    if b.height <= lib_height || chain.len() >= SYNC_BATCH {
                        break;
                    }
                    chain.push(b.clone());
                    cur = b.parent;
                }
                if !chain.is_empty() {
                    chain.reverse();
                    self.send(to, from, Msg::Blocks(chain));
                }
                Ok(())
            }
            Msg::Tx(tx) => {
                let id = A::tx_id(&tx);
                let n = &mut self.nodes[to];
                if !n.disk.final_txs.contains(&id) {
                    n.mempool.insert(id, tx);
                }
                Ok(())
            }
        }
    }

    /// Validates, executes, stores and hands a block to the engine; then
    /// any orphans waiting for it.
    fn receive_block(&mut self, i: usize, from: usize, b: Arc<SimBlock<A::Tx>>) -> SimResult<()> {
        let mut work = vec![b];
        let mut budget = 10_000usize;
        while let Some(b) = work.pop() {
            budget = budget.checked_sub(1).ok_or("orphan processing bound hit")?;
            if self.nodes[i].engine.is_none() {
                return Ok(());
            }
            let n = &self.nodes[i];
            if n.disk.blocks.contains_key(&b.hash) {
                continue;
            }
            if b.height <= n.disk.finals.len() as u64 {
                continue; // at or below our final height: not ours to take
            }
            let Some(parent_root) = n.disk.roots.get(&b.parent).copied() else {
                if n.orphan_count < MAX_ORPHANS {
                    let lib_height = n.disk.finals.len() as u64;
                    let parent = b.parent;
                    let n = &mut self.nodes[i];
                    let list = n.orphans.entry(parent).or_default();
                    if !list.iter().any(|o| o.hash == b.hash) {
                        list.push(b);
                        n.orphan_count += 1;
                    }
                    self.send(i, from, Msg::Request { hash: parent, lib_height });
                }
                continue;
            };
            // The producer's signature over the block hash.
            if b.producer.verify_hash(&b.hash, &b.signature).is_err() {
                return Err(format!("node {i}: block {} has a bad signature", b.hash));
            }
            let expect =
                block_hash::<A>(&b.parent, b.height, b.timestamp_ns, &b.producer, &b.qc, &b.txs, &b.state_root);
            if expect != b.hash {
                return Err(format!("node {i}: block {} hash does not match its contents", b.hash));
            }
            let root = self.nodes[i].app.apply(&parent_root, b.height, &b.txs)?;
            if root != b.state_root {
                return Err(format!(
                    "node {i}: block {} at height {}: state root {} but the producer claims {}",
                    b.hash, b.height, root, b.state_root
                ));
            }
            let meta = self.meta_of(&b)?;
            let elected = self.elected_for(i, &b)?;
            let Some(engine) = self.nodes[i].engine.as_mut() else { return Ok(()) };
            match engine.on_block(meta, &elected) {
                Ok(actions) => {
                    let n = &mut self.nodes[i];
                    n.disk.blocks.insert(b.hash, b.clone());
                    n.disk.roots.insert(b.hash, root);
                    self.trace(|| format!("node {i} accepts {} h{} from {from}", short(&b.hash), b.height));
                    self.run_actions(i, actions)?;
                    let n = &mut self.nodes[i];
                    if let Some(children) = n.orphans.remove(&b.hash) {
                        n.orphan_count = n.orphan_count.saturating_sub(children.len());
                        work.extend(children);
                    }
                }
                Err(ConsensusError::FutureBlock { .. }) => {
                    let t = self.now_ns + self.slot_ns() / 4;
                    self.push(t, Event::Retry { node: i, block: b });
                }
                Err(e) if e.is_benign() || matches!(e, ConsensusError::BelowFinality { .. }) => {}
                Err(ConsensusError::TreeFull { .. }) => {}
                Err(e) => return Err(format!("node {i}: honest block {} h{} rejected: {e}", b.hash, b.height)),
            }
        }
        Ok(())
    }

    /// Carries out an engine's actions in order; may crash part-way.
    fn run_actions(&mut self, i: usize, actions: Vec<Action>) -> SimResult<()> {
        let crash_after = if !self.healed && !actions.is_empty() && self.rng.chance(self.p.crash_mid_actions_permille) {
            Some(self.rng.below(actions.len() as u64) as usize)
        } else {
            None
        };
        for (k, a) in actions.into_iter().enumerate() {
            if crash_after == Some(k) {
                self.trace(|| format!("node {i} crashes before action {k}"));
                self.report.mid_action_crashes += 1;
                self.crash(i);
                let back = self.now_ns + self.rng.range(1, 4) as i64 * self.slot_ns();
                if back < self.heal_at_ns {
                    self.push(back, Event::Restart(i));
                }
                return Ok(());
            }
            if self.nodes[i].engine.is_none() {
                return Ok(());
            }
            self.action(i, a)?;
        }
        Ok(())
    }

    fn action(&mut self, i: usize, a: Action) -> SimResult<()> {
        match a {
            Action::Persist(s) => {
                self.nodes[i].disk.safety = s;
                Ok(())
            }
            Action::Anchor(a) => {
                if i == 0 {
                    use crate::dpos::QuorumConfig::{Joint, Single};
                    match (&self.nodes[0].disk.anchor.config, &a.config) {
                        (Single(_), Joint { .. }) => self.report.joint_started += 1,
                        (Joint { .. }, Single(_)) => self.report.joint_completed += 1,
                        (Joint { old: o1, new: n1 }, Joint { old: o2, new: n2 }) if (o1, n1) != (o2, n2) => {
                            self.report.joint_completed += 1;
                            self.report.joint_started += 1;
                        }
                        _ => {}
                    }
                }
                self.nodes[i].disk.anchor = a;
                Ok(())
            }
            Action::SwitchHead { .. } => Ok(()),
            Action::Evidence(e) => Err(format!("node {i} reports evidence against an honest producer: {e:?}")),
            Action::SendVote(v) => {
                let who = v.voter.to_compressed();
                if v.voter != self.nodes[i].key.public_key() {
                    return Err(format!("node {i} sends a vote signed by another key"));
                }
                if self.nodes[i].disk.safety.last_voted_slot < v.slot {
                    return Err(format!("node {i} votes in slot {} before persisting it", v.slot));
                }
                match self.checker.votes.insert((who, v.slot), v.block) {
                    Some(prev) if prev != v.block => {
                        return Err(format!("node {i} voted twice in slot {}: {} and {}", v.slot, prev, v.block))
                    }
                    _ => {}
                }
                self.report.votes_sent += 1;
                self.broadcast(i, Msg::Vote(v.encode()));
                Ok(())
            }
            Action::Produce(p) => self.produce(i, p),
            Action::Commit { hash, height, .. } => self.commit(i, hash, height),
        }
    }

    fn produce(&mut self, i: usize, p: crate::dpos::Proposal) -> SimResult<()> {
        if self.nodes[i].disk.safety.last_produced_slot < p.slot {
            return Err(format!("node {i} produces in slot {} before persisting it", p.slot));
        }
        let n = &self.nodes[i];
        let Some(parent_root) = n.disk.roots.get(&p.parent).copied() else {
            return Err(format!("node {i} asked to build on {} which it never executed", p.parent));
        };
        // Transactions already on the branch (above the final chain) or final.
        let mut on_branch = BTreeSet::new();
        let mut cur = p.parent;
        while let Some(b) = n.disk.blocks.get(&cur) {
            if b.height <= n.disk.finals.len() as u64 {
                break;
            }
            on_branch.extend(b.txs.iter().map(A::tx_id));
            cur = b.parent;
        }
        let txs: Vec<A::Tx> = n
            .mempool
            .iter()
            .filter(|(id, _)| !on_branch.contains(id) && !n.disk.final_txs.contains(id))
            .take(self.p.max_block_txs)
            .map(|(_, t)| t.clone())
            .collect();
        let root = self.nodes[i].app.apply(&parent_root, p.height, &txs)?;
        let key = &self.nodes[i].key;
        let producer = key.public_key();
        let qc = p.qc.encode();
        let hash = block_hash::<A>(&p.parent, p.height, p.timestamp_ns, &producer, &qc, &txs, &root);
        let signature = key.sign_hash(&hash);
        match self.checker.blocks.insert((producer.to_compressed(), p.slot), hash) {
            Some(prev) if prev != hash => {
                return Err(format!("node {i} produced twice in slot {}: {} and {}", p.slot, prev, hash))
            }
            _ => {}
        }
        let block = Arc::new(SimBlock {
            hash,
            parent: p.parent,
            height: p.height,
            timestamp_ns: p.timestamp_ns,
            producer,
            qc,
            txs,
            state_root: root,
            signature,
        });
        self.trace(|| format!("node {i} produces {} h{} slot {}", short(&hash), p.height, p.slot));
        self.report.blocks_produced += 1;
        self.broadcast(i, Msg::Blocks(vec![block.clone()]));
        self.receive_block(i, i, block)
    }

    fn commit(&mut self, i: usize, hash: Hash, height: u64) -> SimResult<()> {
        let n = &self.nodes[i];
        let have = n.disk.finals.len() as u64;
        if height <= have {
            // Re-commit after a restart: must be the same block.
            let prev = n.disk.finals.get(height.saturating_sub(1) as usize).copied();
            if prev != Some(hash) {
                return Err(format!("node {i} re-finalized height {height} as {hash}, had {prev:?}"));
            }
            return Ok(());
        }
        if height != have + 1 {
            return Err(format!("node {i} finalized height {height} with final height {have}: a gap"));
        }
        let Some(block) = n.disk.blocks.get(&hash).cloned() else {
            return Err(format!("node {i} finalized {hash} which it does not store"));
        };
        let root = n.disk.roots.get(&hash).copied().unwrap_or(Hash::ZERO);
        match self.checker.finals.get(&height) {
            Some((h, _)) if *h != hash => {
                return Err(format!("SAFETY: height {height} final as {h} elsewhere but as {hash} at node {i}"))
            }
            Some((_, r)) if *r != root => {
                return Err(format!("state root at height {height}: {r} elsewhere, {root} at node {i}"))
            }
            Some(_) => {}
            None => {
                self.checker.finals.insert(height, (hash, root));
            }
        }
        let n = &mut self.nodes[i];
        n.disk.finals.push(hash);
        for t in &block.txs {
            let id = A::tx_id(t);
            n.disk.final_txs.insert(id);
            n.mempool.remove(&id);
        }
        self.trace(|| format!("node {i} final h{height} {}", short(&hash)));
        // Acknowledged transactions: each must be final at every node
        // whose final chain reaches its height.
        for t in &block.txs {
            let id = A::tx_id(t);
            let acked_at = *self.checker.acks.entry(id).or_insert(height);
            for (j, other) in self.nodes.iter().enumerate() {
                if other.disk.finals.len() as u64 >= acked_at && !other.disk.final_txs.contains(&id) {
                    return Err(format!("tx {id} final at height {acked_at} is not final at node {j}"));
                }
            }
        }
        // And this node must now hold every tx acknowledged at this height.
        let expected: Vec<u64> = self.checker.acks.iter().filter(|(_, h)| **h == height).map(|(id, _)| *id).collect();
        let n = &self.nodes[i];
        if let Some(id) = expected.iter().find(|id| !n.disk.final_txs.contains(id)) {
            return Err(format!("tx {id} acknowledged final at height {height} is missing at node {i}"));
        }
        if self.genesis_root == Hash::ZERO {
            return Err("application has no genesis root".to_string());
        }
        Ok(())
    }
}

fn short(h: &Hash) -> String {
    h.to_hex()[..8].to_string()
}

/// Runs the seeded scenario of [`SimParams::for_seed`] over [`StandInApp`].
pub fn run_seed(seed: u64, trace: bool) -> Result<SimReport, SimFailure> {
    let mut p = SimParams::for_seed(seed);
    p.trace = trace;
    run_params(p)
}

/// Runs one scenario over [`StandInApp`].
pub fn run_params(p: SimParams) -> Result<SimReport, SimFailure> {
    let seed = p.seed;
    match Simulation::new(p, |_| StandInApp) {
        Ok(sim) => sim.run(),
        Err(e) => Err(SimFailure { seed, step: 0, time_ms: 0, message: format!("setup: {e}") }),
    }
}
