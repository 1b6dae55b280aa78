//! A tiny in-test message bus wiring several replicas together: no
//! network, no threads, a simulated clock. Published blocks, votes and
//! transactions reach every other running replica; block requests are
//! answered from the named peer's stored main chain.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use aergo_chain::Chain;
use aergo_crypto::{dev_genesis, dev_key, PrivateKey};
use aergo_replica::{Offence, Output, Peer, Replica, ReplicaConfig, Verdict};
use aergo_types::genesis::DposGenesis;
use aergo_types::{Amount, Block, ChainId, Genesis, Hash};

pub const T0: i64 = 1_700_000_000_000_000_000;
pub const SLOT_MS: u64 = 250;
pub const SLOT_NS: i64 = SLOT_MS as i64 * 1_000_000;
pub const TICKS_PER_SLOT: i64 = 5;

/// A DPoS genesis with `producers` block producers (dev keys "bp") and
/// ten prefunded dev accounts.
pub fn dpos_genesis(producers: u32, epoch_blocks: Option<u64>) -> (Genesis, Vec<PrivateKey>, Vec<PrivateKey>) {
    let bp_keys: Vec<PrivateKey> = (0..producers).map(|i| dev_key("bp", i)).collect();
    let bps = bp_keys.iter().map(|k| k.public_key().peer_id()).collect();
    let chain_id = ChainId::new(0, false, false, "dpos.test", "dpos").unwrap();
    let (mut g, accounts) = dev_genesis(chain_id, T0, 10, Amount::from_aergo(1_000_000).unwrap(), bps).unwrap();
    g.dpos = Some(DposGenesis { block_interval_ms: Some(SLOT_MS), epoch_blocks, ..Default::default() });
    g.validate().unwrap();
    (g, bp_keys, accounts)
}

pub enum Msg {
    Block(Vec<u8>),
    Vote(Vec<u8>),
    Tx(Vec<u8>),
    Sync { from_height: u64, to_height: u64 },
}

pub struct Member {
    pub key: PrivateKey,
    pub peer: Peer,
    pub replica: Option<Replica>,
    /// Where its chain lives (None: memory; a crash then loses it).
    pub dir: Option<PathBuf>,
}

/// Everything penalised, by whom, why.
#[derive(Debug, Clone)]
pub struct Penalty {
    pub by: usize,
    pub peer: Peer,
    pub offence: Offence,
    pub reason: String,
}

pub struct Bus {
    pub genesis: Genesis,
    pub members: Vec<Member>,
    pub now_ns: i64,
    queue: VecDeque<(usize, usize, Msg)>,
    pub penalties: Vec<Penalty>,
    pub warnings: Vec<String>,
    /// (voter, slot) -> block: every vote ever published.
    votes: BTreeMap<(String, u64), Hash>,
    /// Links that drop everything: (from, to).
    pub cut: std::collections::BTreeSet<(usize, usize)>,
    pub config: ReplicaConfig,
}

impl Bus {
    /// One replica per key, chains in memory or under `dirs`.
    pub fn new(genesis: Genesis, keys: Vec<PrivateKey>, dirs: Option<Vec<PathBuf>>) -> Bus {
        let config = ReplicaConfig { max_clock_drift_ms: 500, ..ReplicaConfig::default() };
        Bus::with_config(genesis, keys, dirs, config)
    }

    /// [`Bus::new`] with every member on `config`.
    pub fn with_config(
        genesis: Genesis,
        keys: Vec<PrivateKey>,
        dirs: Option<Vec<PathBuf>>,
        config: ReplicaConfig,
    ) -> Bus {
        let mut bus = Bus {
            genesis,
            members: Vec::new(),
            now_ns: T0,
            queue: VecDeque::new(),
            penalties: Vec::new(),
            warnings: Vec::new(),
            votes: BTreeMap::new(),
            cut: Default::default(),
            config,
        };
        for (i, key) in keys.into_iter().enumerate() {
            let peer = Peer(key.public_key().peer_id());
            let dir = dirs.as_ref().map(|d| d[i].clone());
            bus.members.push(Member { key, peer, replica: None, dir });
            bus.start(i);
        }
        bus
    }

    pub fn replica(&self, i: usize) -> &Replica {
        self.members[i].replica.as_ref().expect("member is running")
    }

    pub fn chain(&self, i: usize) -> &Arc<Chain> {
        self.replica(i).chain()
    }

    /// (Re)starts member `i` from its directory (or a fresh memory chain).
    pub fn start(&mut self, i: usize) {
        let chain = match &self.members[i].dir {
            Some(d) => Chain::open(d, self.genesis.clone()).unwrap(),
            None => Chain::memory(self.genesis.clone()).unwrap(),
        };
        // Every member executes blocks on the parallel executor, each
        // with its own number of workers: they must agree all the same.
        let chain = chain.with_exec_threads(2 + i % 3);
        let (replica, out) =
            Replica::open(Arc::new(chain), self.members[i].key.clone(), self.config.clone(), self.now_ns).unwrap();
        self.members[i].replica = Some(replica);
        self.carry_out(i, out);
    }

    /// Crashes member `i`: its replica is dropped with whatever it had in
    /// memory; what it persisted stays.
    pub fn crash(&mut self, i: usize) {
        self.members[i].replica = None;
        self.queue.retain(|(to, _, _)| *to != i);
    }

    pub fn running(&self, i: usize) -> bool {
        self.members[i].replica.is_some()
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        if from != to && !self.cut.contains(&(from, to)) {
            self.queue.push_back((to, from, msg));
        }
    }

    fn broadcast(&mut self, from: usize, make: impl Fn() -> Msg) {
        for to in 0..self.members.len() {
            self.send(from, to, make());
        }
    }

    pub fn carry_out(&mut self, i: usize, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::PublishBlock(b) => self.broadcast(i, || Msg::Block(b.clone())),
                Output::PublishVote(v) => {
                    let vote = aergo_consensus::dpos::Vote::decode(&v).unwrap();
                    let key = (vote.voter.peer_id(), vote.slot);
                    if let Some(prev) = self.votes.insert(key.clone(), vote.block) {
                        assert_eq!(prev, vote.block, "{key:?} voted for two blocks in one slot");
                    }
                    self.broadcast(i, || Msg::Vote(v.clone()))
                }
                Output::PublishTx(t) => self.broadcast(i, || Msg::Tx(t.clone())),
                Output::Penalise { peer, offence, reason } => {
                    self.penalties.push(Penalty { by: i, peer, offence, reason })
                }
                Output::RequestBlocks { peer, from_height, to_height } => {
                    if let Some(j) = self.members.iter().position(|m| m.peer == peer) {
                        // The request goes to j; its answer comes back to i.
                        self.send(i, j, Msg::Sync { from_height, to_height });
                    }
                }
                Output::Warning(w) => self.warnings.push(format!("{i}: {w}")),
                Output::NewHead { .. } | Output::NewLib { .. } | Output::Evidence(_) | Output::Reissued(_) => {}
            }
        }
    }

    /// Delivers queued messages until none are left (bounded).
    pub fn drain(&mut self) {
        let mut budget = 1_000_000;
        while let Some((to, from, msg)) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "message storm");
            if !self.running(to) {
                continue;
            }
            let peer = self.members[from].peer.clone();
            let out = match msg {
                Msg::Block(b) => self.replica(to).on_block_bytes(&b, &peer).unwrap().outputs,
                Msg::Vote(v) => self.replica(to).on_consensus_msg(&v, &peer).unwrap().outputs,
                Msg::Tx(t) => {
                    self.replica(to).on_gossip_txs(&aergo_types::encode_tx_batch(&[t]), &peer).unwrap().outputs
                }
                Msg::Sync { from_height, to_height } => {
                    // `to` serves, `from` asked.
                    let blocks = self.main_blocks(to, from_height, to_height);
                    if !self.running(from) || self.cut.contains(&(to, from)) {
                        continue;
                    }
                    let server = self.members[to].peer.clone();
                    let step = self.replica(from).on_sync_blocks(&server, blocks).unwrap();
                    let out = step.outputs;
                    self.carry_out(from, out);
                    continue;
                }
            };
            self.carry_out(to, out);
        }
    }

    /// Encoded main-chain blocks of member `i` in a height range (at most 64).
    pub fn main_blocks(&self, i: usize, from: u64, to: u64) -> Vec<Vec<u8>> {
        let blocks = self.chain(i).blocks();
        (from..=to.min(from + 63)).map_while(|h| blocks.block_by_height(h).unwrap()).map(|b| b.encode()).collect()
    }

    /// Advances the clock by one tick: every running member ticks, then
    /// all messages are delivered.
    pub fn tick(&mut self) {
        self.now_ns += SLOT_NS / TICKS_PER_SLOT;
        for i in 0..self.members.len() {
            if self.running(i) {
                let out = self.replica(i).on_tick(self.now_ns).unwrap();
                self.carry_out(i, out);
            }
        }
        self.drain();
        self.check_safety();
    }

    pub fn run_slots(&mut self, slots: i64) {
        for _ in 0..slots * TICKS_PER_SLOT {
            self.tick();
        }
    }

    /// No two running members hold different blocks final at one height.
    pub fn check_safety(&self) {
        let running: Vec<usize> = (0..self.members.len()).filter(|i| self.running(*i)).collect();
        for (a, &i) in running.iter().enumerate() {
            for &j in &running[a + 1..] {
                let (ci, cj) = (self.chain(i), self.chain(j));
                let upto = ci.lib().height.min(cj.lib().height);
                // The LIB blocks decide: a common final height must hold
                // the same block (ancestors follow by hash chaining).
                let hi = ci.blocks().hash_at(upto).unwrap();
                let hj = cj.blocks().hash_at(upto).unwrap();
                assert_eq!(hi, hj, "members {i} and {j} disagree on final height {upto}");
                assert_eq!(
                    ci.blocks().block_by_height(upto).unwrap().map(|b| b.header().unwrap().blocks_root_hash.clone()),
                    cj.blocks().block_by_height(upto).unwrap().map(|b| b.header().unwrap().blocks_root_hash.clone()),
                );
            }
        }
    }

    pub fn lib_heights(&self) -> Vec<u64> {
        (0..self.members.len()).filter(|i| self.running(*i)).map(|i| self.chain(i).lib().height).collect()
    }

    pub fn min_lib(&self) -> u64 {
        self.lib_heights().into_iter().min().unwrap_or(0)
    }

    /// The block member `i` holds at `height` on its main chain.
    pub fn block_at(&self, i: usize, height: u64) -> Block {
        self.chain(i).blocks().block_by_height(height).unwrap().expect("block at height")
    }

    /// Delivers raw bytes as a block from member `from` to member `to` and
    /// returns the verdict (outputs are carried out).
    pub fn inject_block(&mut self, from: usize, to: usize, bytes: &[u8]) -> Verdict {
        let peer = self.members[from].peer.clone();
        let step = self.replica(to).on_block_bytes(bytes, &peer).unwrap();
        self.carry_out(to, step.outputs);
        self.drain();
        step.verdict
    }
}
