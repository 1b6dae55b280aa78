//! The DPoS engine: a pure, synchronous state machine (see the module
//! documentation of [`crate::dpos`] for the protocol).

use super::types::*;
use crate::error::{producer_name, ConsensusError, Result};
use aergo_crypto::{PrivateKey, Signature};
use aergo_types::Hash;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most blocks kept above the last irreversible block. When finality
/// stalls (no quorum), every slot can still add one uncertified block; on
/// top of pruning those after [`STALE_LEAF_SLOTS`], this bound turns a
/// long stall into a clear error instead of unbounded memory.
pub const MAX_TREE_BLOCKS: usize = 4096;
/// Most votes buffered for blocks not yet seen.
pub const MAX_PENDING_VOTES: usize = 1024;
/// Uncertified leaf blocks older than this many slots are dropped.
pub const STALE_LEAF_SLOTS: u64 = 256;

/// A producer set with its voter list and quorum thresholds.
#[derive(Debug)]
struct Quorum {
    config: QuorumConfig,
    voters: Vec<ProducerId>,
    /// Per voter: bit 0 = member of the first (single or old) set, bit 1 =
    /// member of the new set of a joint configuration.
    membership: Vec<u8>,
    need_first: usize,
    need_second: usize,
}

impl Quorum {
    fn new(config: QuorumConfig) -> Result<Arc<Quorum>> {
        config.validate()?;
        let voters = config.voters();
        let (membership, need_first, need_second) = match &config {
            QuorumConfig::Single(s) => (vec![1u8; s.len()], quorum_size(s.len()), 0),
            QuorumConfig::Joint { old, new } => {
                let m = voters.iter().map(|v| (old.contains(v) as u8) | ((new.contains(v) as u8) << 1)).collect();
                (m, quorum_size(old.len()), quorum_size(new.len()))
            }
        };
        Ok(Arc::new(Quorum { config, voters, membership, need_first, need_second }))
    }

    fn index_of(&self, p: &ProducerId) -> Option<u8> {
        self.voters.iter().position(|v| v == p).map(|i| i as u8)
    }

    fn counts(&self, indices: impl Iterator<Item = u8>) -> (usize, usize) {
        let (mut a, mut b) = (0, 0);
        for i in indices {
            let m = self.membership.get(i as usize).copied().unwrap_or(0);
            a += (m & 1) as usize;
            b += ((m >> 1) & 1) as usize;
        }
        (a, b)
    }

    fn is_quorum(&self, indices: impl Iterator<Item = u8>) -> bool {
        let (a, b) = self.counts(indices);
        a >= self.need_first && b >= self.need_second
    }

    /// A small deterministic subset of `votes` that is still a quorum
    /// (assuming `votes` is one): members of both sets first, then each
    /// set's own members up to its threshold.
    fn trim(&self, votes: &BTreeMap<u8, Signature>) -> Vec<(u8, Signature)> {
        let need_both = self.need_first.max(self.need_second);
        let mut chosen: BTreeMap<u8, Signature> = BTreeMap::new();
        let (mut first, mut second) = (0usize, 0usize);
        for (i, s) in votes {
            if self.membership.get(*i as usize) == Some(&3) && chosen.len() < need_both {
                chosen.insert(*i, *s);
                first += 1;
                second += 1;
            }
        }
        for (i, s) in votes {
            match self.membership.get(*i as usize) {
                Some(1) if first < self.need_first => {
                    chosen.insert(*i, *s);
                    first += 1;
                }
                Some(2) if second < self.need_second => {
                    chosen.insert(*i, *s);
                    second += 1;
                }
                _ => {}
            }
        }
        chosen.into_iter().collect()
    }
}

/// A block above (or at) the last irreversible block.
#[derive(Debug)]
struct Node {
    parent: Hash,
    height: u64,
    slot: u64,
    quorum: Arc<Quorum>,
    joint_run: u8,
    children: Vec<Hash>,
    /// Verified votes by voter index.
    votes: BTreeMap<u8, Signature>,
    /// A certificate for this block, once known.
    qc: Option<Qc>,
}

/// The BFT-DPoS engine of one node (producer or observer).
pub struct DposEngine {
    cfg: DposConfig,
    key: Option<PrivateKey>,
    me: Option<ProducerId>,
    safety: SafetyState,
    persisted: SafetyState,
    now_ns: i64,
    root: Hash,
    tree: BTreeMap<Hash, Node>,
    /// The certified block with the highest slot.
    hqc: Hash,
    head: Hash,
    /// Verified votes for blocks not seen yet: (slot, block, voter).
    pending: BTreeMap<(u64, Hash, [u8; 33]), Vote>,
    /// First vote per (slot, voter), to spot double votes.
    first_votes: BTreeMap<(u64, [u8; 33]), Vote>,
    /// First block per (slot, producer), to spot double production.
    first_blocks: BTreeMap<(u64, [u8; 33]), Hash>,
}

impl std::fmt::Debug for DposEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DposEngine")
            .field("me", &self.me)
            .field("lib", &self.lib())
            .field("head", &self.head)
            .field("hqc", &self.hqc)
            .field("safety", &self.safety)
            .field("blocks", &self.tree.len())
            .finish()
    }
}

impl DposEngine {
    /// Starts (or restarts) an engine from the last irreversible block and
    /// the persisted safety state. `key` is the producer key, `None` for an
    /// observer. Blocks above the anchor are then fed again with
    /// [`DposEngine::on_block`], parents first.
    pub fn new(
        cfg: DposConfig,
        key: Option<PrivateKey>,
        safety: SafetyState,
        anchor: Anchor,
        now_ns: i64,
    ) -> Result<DposEngine> {
        cfg.validate()?;
        if let Some(qc) = &anchor.qc {
            qc.check_shape()?;
            if qc.block != anchor.hash || qc.slot != anchor.slot {
                return Err(ConsensusError::BadQc {
                    certified: anchor.hash,
                    reason: "the anchor's certificate is for another block".to_string(),
                });
            }
        }
        let quorum = Quorum::new(anchor.config.clone())?;
        let root = Node {
            parent: Hash::ZERO,
            height: anchor.height,
            slot: anchor.slot,
            quorum,
            joint_run: anchor.joint_run.min(3),
            children: Vec::new(),
            votes: BTreeMap::new(),
            qc: anchor.qc.clone(),
        };
        let mut tree = BTreeMap::new();
        tree.insert(anchor.hash, root);
        let me = key.as_ref().map(|k| k.public_key());
        let mut e = DposEngine {
            cfg,
            key,
            me,
            safety,
            persisted: safety,
            now_ns,
            root: anchor.hash,
            tree,
            hqc: anchor.hash,
            head: anchor.hash,
            pending: BTreeMap::new(),
            first_votes: BTreeMap::new(),
            first_blocks: BTreeMap::new(),
        };
        e.lock_on_root();
        Ok(e)
    }

    // --- queries ------------------------------------------------------------

    /// The last irreversible block: (height, hash).
    pub fn lib(&self) -> (u64, Hash) {
        (self.node(&self.root).map(|n| n.height).unwrap_or(0), self.root)
    }

    /// The fork choice: the newest block extending the highest certified
    /// block.
    pub fn head(&self) -> Hash {
        self.head
    }

    /// The certified block with the highest slot and its certificate.
    pub fn highest_qc(&self) -> (Hash, Option<&Qc>) {
        (self.hqc, self.node(&self.hqc).and_then(|n| n.qc.as_ref()))
    }

    /// The current safety state (what was last handed out in `Persist`, or
    /// newer).
    pub fn safety_state(&self) -> SafetyState {
        self.safety
    }

    pub fn config(&self) -> &DposConfig {
        &self.cfg
    }

    /// The producer key's identity, if this node produces.
    pub fn producer_id(&self) -> Option<ProducerId> {
        self.me
    }

    /// True when the block is in the tree (the LIB or above it).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.tree.contains_key(hash)
    }

    /// True when a certificate for the block is known.
    pub fn is_certified(&self, hash: &Hash) -> bool {
        self.node(hash).is_some_and(|n| n.qc.is_some())
    }

    /// The configuration that certifies a block in the tree.
    pub fn quorum_config(&self, hash: &Hash) -> Option<&QuorumConfig> {
        self.node(hash).map(|n| &n.quorum.config)
    }

    /// Blocks in the tree (LIB included).
    pub fn block_count(&self) -> usize {
        self.tree.len()
    }

    /// Votes waiting for their block.
    pub fn pending_vote_count(&self) -> usize {
        self.pending.len()
    }

    /// The slot of the engine's clock (as of the last tick).
    pub fn current_slot(&self) -> u64 {
        self.cfg.slot_of(self.now_ns).unwrap_or(0)
    }

    /// Where a restart resumes: the LIB with its configuration and
    /// certificate.
    pub fn anchor(&self) -> Anchor {
        match self.node(&self.root) {
            Some(n) => Anchor {
                hash: self.root,
                height: n.height,
                slot: n.slot,
                config: n.quorum.config.clone(),
                joint_run: n.joint_run,
                qc: n.qc.clone(),
            },
            // The root is never removed from the tree.
            None => unreachable_root(),
        }
    }

    fn node(&self, h: &Hash) -> Option<&Node> {
        self.tree.get(h)
    }

    fn root_slot(&self) -> u64 {
        self.node(&self.root).map(|n| n.slot).unwrap_or(0)
    }

    fn root_height(&self) -> u64 {
        self.node(&self.root).map(|n| n.height).unwrap_or(0)
    }

    // --- inputs -------------------------------------------------------------

    /// Time passes: produce a block if this node leads the current slot.
    /// `schedule` names the elected producers for a block on a parent.
    pub fn on_tick(&mut self, now_ns: i64, schedule: &dyn ProducerSchedule) -> Result<Vec<Action>> {
        self.now_ns = self.now_ns.max(now_ns);
        let mut actions = Vec::new();
        self.prune_stale_leaves();
        self.maybe_produce(schedule, &mut actions)?;
        self.flush_persist(&mut actions);
        Ok(actions)
    }

    /// A block arrived (or was built here). `elected` is the caller's
    /// [`ProducerSchedule`] answer for its parent and slot. On success the
    /// block is in the tree; the actions may include this node's vote.
    pub fn on_block(&mut self, meta: BlockMeta, elected: &[ProducerId]) -> Result<Vec<Action>> {
        let hash = meta.hash;
        if self.tree.contains_key(&hash) {
            return Err(ConsensusError::KnownBlock { block: hash });
        }
        let Some(parent) = self.tree.get(&meta.parent) else {
            if meta.height <= self.root_height() {
                return Err(ConsensusError::BelowFinality {
                    block: hash,
                    height: meta.height,
                    lib_height: self.root_height(),
                });
            }
            return Err(ConsensusError::UnknownParent { block: hash, parent: meta.parent });
        };
        let expected_height = parent.height.saturating_add(1);
        if meta.height != expected_height {
            return Err(ConsensusError::BadHeight { block: hash, expected: expected_height, got: meta.height });
        }
        let slot = self.cfg.slot_of(meta.timestamp_ns)?;
        if slot <= parent.slot {
            return Err(ConsensusError::SlotNotAfterParent { block: hash, slot, parent_slot: parent.slot });
        }
        let drift_ns = (self.cfg.max_clock_drift_ms as i64).saturating_mul(1_000_000);
        if meta.timestamp_ns > self.now_ns.saturating_add(drift_ns) {
            return Err(ConsensusError::FutureBlock {
                block: hash,
                timestamp_ns: meta.timestamp_ns,
                now_ns: self.now_ns,
                max_drift_ms: self.cfg.max_clock_drift_ms,
            });
        }
        let (quorum, joint_run) = child_quorum(parent, slot, elected)?;
        let leader = quorum
            .config
            .leader(slot)
            .ok_or_else(|| ConsensusError::BadProducerSet { reason: "empty producer set".to_string() })?;
        if leader != meta.producer {
            return Err(ConsensusError::WrongSlotOwner {
                block: hash,
                slot,
                expected: producer_name(&leader),
                got: producer_name(&meta.producer),
            });
        }
        self.verify_qc(&meta.qc, &meta.parent)?;
        if self.tree.len() >= MAX_TREE_BLOCKS {
            return Err(ConsensusError::TreeFull { blocks: self.tree.len(), capacity: MAX_TREE_BLOCKS });
        }

        // Accepted: record it, then let its certificate move locks and
        // finality, then vote.
        let mut actions = Vec::new();
        let pkey = (slot, meta.producer.to_compressed());
        match self.first_blocks.get(&pkey) {
            Some(first) if *first != hash => actions.push(Action::Evidence(Evidence::DoubleProduction {
                producer: meta.producer,
                slot,
                first: *first,
                second: hash,
            })),
            Some(_) => {}
            None => {
                self.first_blocks.insert(pkey, hash);
            }
        }
        let node = Node {
            parent: meta.parent,
            height: meta.height,
            slot,
            quorum,
            joint_run,
            children: Vec::new(),
            votes: BTreeMap::new(),
            qc: None,
        };
        self.tree.insert(hash, node);
        if let Some(p) = self.tree.get_mut(&meta.parent) {
            p.children.push(hash);
            // The certificate's signatures are valid votes: keep them so
            // later certificates with the same signers verify for free.
            for (i, s) in &meta.qc.signatures {
                p.votes.entry(*i).or_insert(*s);
            }
        }
        self.certify(meta.parent, meta.qc, &mut actions);
        self.drain_pending(hash, &mut actions);
        self.maybe_vote(hash, &mut actions);
        self.update_head(&mut actions);
        self.flush_persist(&mut actions);
        Ok(actions)
    }

    /// A vote arrived. Votes for unknown blocks wait (bounded) for them.
    pub fn on_vote(&mut self, vote: Vote) -> Result<Vec<Action>> {
        let root_slot = self.root_slot();
        if vote.slot <= root_slot {
            return Err(ConsensusError::StaleVote { slot: vote.slot, lib_slot: root_slot });
        }
        let current = self.current_slot();
        if vote.slot > current.saturating_add(self.future_slots()) {
            return Err(ConsensusError::FutureVote { slot: vote.slot, current_slot: current });
        }
        let mut actions = Vec::new();
        if self.tree.contains_key(&vote.block) {
            self.count_vote(vote, true, &mut actions)?;
        } else {
            let key = (vote.slot, vote.block, vote.voter.to_compressed());
            if self.pending.contains_key(&key) {
                return Err(ConsensusError::DuplicateVote {
                    voter: producer_name(&vote.voter),
                    block: vote.block,
                    slot: vote.slot,
                });
            }
            vote.verify(&self.cfg.chain_tag)?;
            if self.pending.len() >= MAX_PENDING_VOTES {
                // Keep the newest slots: evict the oldest if it is older.
                let oldest = self.pending.keys().next().copied();
                match oldest {
                    Some(k) if k.0 < vote.slot => {
                        self.pending.remove(&k);
                    }
                    _ => return Err(ConsensusError::VoteBufferFull { capacity: MAX_PENDING_VOTES }),
                }
            }
            self.pending.insert(key, vote);
        }
        self.update_head(&mut actions);
        self.flush_persist(&mut actions);
        Ok(actions)
    }

    // --- internals ----------------------------------------------------------

    /// Slots a message may be ahead of local time: the drift bound plus one.
    fn future_slots(&self) -> u64 {
        self.cfg.max_clock_drift_ms / self.cfg.block_interval_ms.max(1) + 1
    }

    /// Checks a certificate for `certified` (a block in the tree).
    fn verify_qc(&self, qc: &Qc, certified: &Hash) -> Result<()> {
        let bad = |reason: String| ConsensusError::BadQc { certified: *certified, reason };
        qc.check_shape().map_err(|e| bad(e.to_string()))?;
        let Some(node) = self.node(certified) else {
            return Err(bad("the certified block is not in the tree".to_string()));
        };
        if qc.block != *certified || qc.slot != node.slot {
            return Err(bad(format!(
                "names block {} slot {}, expected the parent {} slot {}",
                qc.block, qc.slot, certified, node.slot
            )));
        }
        if qc.is_implicit() {
            if *certified == self.cfg.genesis_hash {
                return Ok(());
            }
            return Err(bad("an implicit certificate is only valid for genesis".to_string()));
        }
        let q = &node.quorum;
        if qc.voter_count as usize != q.voters.len() {
            return Err(bad(format!("{} voters named, the block has {}", qc.voter_count, q.voters.len())));
        }
        if !q.is_quorum(qc.signatures.iter().map(|(i, _)| *i)) {
            let (a, b) = q.counts(qc.signatures.iter().map(|(i, _)| *i));
            return Err(bad(format!(
                "not a quorum: {a} of {} needed from the first set, {b} of {} from the second",
                q.need_first, q.need_second
            )));
        }
        let digest = vote_digest(&self.cfg.chain_tag, qc.slot, &qc.block);
        for (i, sig) in &qc.signatures {
            if node.votes.get(i) == Some(sig) {
                continue;
            }
            let Some(voter) = q.voters.get(*i as usize) else {
                return Err(bad(format!("signer index {i} out of range")));
            };
            voter.verify_hash(&digest, sig).map_err(|_| bad(format!("signature of voter {i} does not verify")))?;
        }
        Ok(())
    }

    /// Counts a vote for a block in the tree.
    fn count_vote(&mut self, vote: Vote, verify: bool, actions: &mut Vec<Action>) -> Result<()> {
        let Some(node) = self.tree.get(&vote.block) else {
            return Err(ConsensusError::UnknownParent { block: vote.block, parent: vote.block });
        };
        if node.slot != vote.slot {
            return Err(ConsensusError::VoteSlotMismatch {
                block: vote.block,
                vote_slot: vote.slot,
                block_slot: node.slot,
            });
        }
        let Some(idx) = node.quorum.index_of(&vote.voter) else {
            return Err(ConsensusError::NotAProducer { voter: producer_name(&vote.voter), block: vote.block });
        };
        if node.votes.contains_key(&idx) {
            return Err(ConsensusError::DuplicateVote {
                voter: producer_name(&vote.voter),
                block: vote.block,
                slot: vote.slot,
            });
        }
        if verify {
            vote.verify(&self.cfg.chain_tag)?;
        }
        let key = (vote.slot, vote.voter.to_compressed());
        match self.first_votes.get(&key) {
            Some(first) if first.block != vote.block => {
                actions.push(Action::Evidence(Evidence::DoubleVote { first: first.clone(), second: vote.clone() }))
            }
            Some(_) => {}
            None => {
                self.first_votes.insert(key, vote.clone());
            }
        }
        self.add_vote(vote.block, idx, vote.signature, actions);
        Ok(())
    }

    /// Adds a verified vote; forms a certificate at quorum.
    fn add_vote(&mut self, block: Hash, idx: u8, sig: Signature, actions: &mut Vec<Action>) {
        let Some(node) = self.tree.get_mut(&block) else { return };
        node.votes.insert(idx, sig);
        if node.qc.is_none() && node.quorum.is_quorum(node.votes.keys().copied()) {
            let qc = Qc {
                slot: node.slot,
                block,
                voter_count: node.quorum.voters.len() as u8,
                signatures: node.quorum.trim(&node.votes),
            };
            self.certify(block, qc, actions);
        }
    }

    /// Learns a certificate for `block`: raises the highest certificate,
    /// locks on the block's parent (two-chain lock) and commits the
    /// grandparent when the three are in consecutive slots.
    fn certify(&mut self, block: Hash, qc: Qc, actions: &mut Vec<Action>) {
        let Some(node) = self.tree.get_mut(&block) else { return };
        if node.qc.is_none() {
            node.qc = Some(qc);
        }
        let (slot, parent) = (node.slot, node.parent);
        let hqc_slot = self.node(&self.hqc).map(|n| n.slot).unwrap_or(0);
        if slot > hqc_slot {
            self.hqc = block;
        }
        let Some(p) = self.node(&parent) else { return };
        let (p_slot, grand) = (p.slot, p.parent);
        if p_slot > self.safety.locked_slot {
            self.safety.locked_slot = p_slot;
            self.safety.locked_block = parent;
        }
        if p_slot + 1 != slot {
            return;
        }
        let Some(g) = self.node(&grand) else { return };
        if g.slot + 1 == p_slot && g.height > self.root_height() {
            self.commit(grand, actions);
        }
    }

    /// Makes `target` (a descendant of the root) the new root: emits the
    /// commits from the old root up to it and drops every block that does
    /// not descend from it.
    fn commit(&mut self, target: Hash, actions: &mut Vec<Action>) {
        let mut path = Vec::new();
        let mut cur = target;
        while cur != self.root {
            let Some(n) = self.node(&cur) else { return };
            path.push((cur, n.height, n.slot));
            cur = n.parent;
            if path.len() > self.tree.len() {
                return; // A cycle cannot exist (hashes chain); stay bounded anyway.
            }
        }
        path.reverse();
        for (hash, height, slot) in path {
            actions.push(Action::Commit { hash, height, slot });
        }
        self.root = target;
        // Keep the new root and its descendants.
        let mut keep = BTreeMap::new();
        let mut stack = vec![target];
        while let Some(h) = stack.pop() {
            if let Some(n) = self.tree.remove(&h) {
                stack.extend(n.children.iter().copied());
                keep.insert(h, n);
            }
        }
        self.tree = keep;
        let root_slot = self.root_slot();
        self.pending.retain(|k, _| k.0 > root_slot);
        self.first_votes.retain(|k, _| k.0 > root_slot);
        self.first_blocks.retain(|k, _| k.0 > root_slot);
        if !self.tree.contains_key(&self.hqc) {
            // Only possible if more than a third of producers are faulty:
            // fall back to the best certificate that survived.
            self.hqc = self
                .tree
                .iter()
                .filter(|(_, n)| n.qc.is_some())
                .max_by_key(|(h, n)| (n.slot, std::cmp::Reverse(**h)))
                .map(|(h, _)| *h)
                .unwrap_or(self.root);
        }
        self.lock_on_root();
        actions.push(Action::Anchor(self.anchor()));
    }

    /// Locking on the final block costs nothing (everything in the tree
    /// extends it) and keeps the lock at or above the root.
    fn lock_on_root(&mut self) {
        let (slot, root) = (self.root_slot(), self.root);
        if slot > self.safety.locked_slot || (slot == self.safety.locked_slot && root != self.safety.locked_block) {
            self.safety.locked_slot = slot;
            self.safety.locked_block = root;
        }
    }

    /// Applies buffered votes for a block that just arrived.
    fn drain_pending(&mut self, block: Hash, actions: &mut Vec<Action>) {
        let Some(slot) = self.node(&block).map(|n| n.slot) else { return };
        let keys: Vec<_> =
            self.pending.range((slot, block, [0u8; 33])..=(slot, block, [0xffu8; 33])).map(|(k, _)| *k).collect();
        // Votes for this hash with another slot are garbage: drop them.
        let stray: Vec<_> = self.pending.keys().filter(|k| k.1 == block && k.0 != slot).copied().collect();
        for k in stray {
            self.pending.remove(&k);
        }
        for k in keys {
            if let Some(v) = self.pending.remove(&k) {
                // Already verified when buffered; membership is checked now.
                let _ = self.count_vote(v, false, actions);
            }
        }
    }

    /// Votes for a block just added, if the safety rule allows.
    fn maybe_vote(&mut self, block: Hash, actions: &mut Vec<Action>) {
        let Some(me) = self.me else { return };
        let Some(node) = self.node(&block) else { return };
        let Some(idx) = node.quorum.index_of(&me) else { return };
        if node.slot <= self.safety.last_voted_slot {
            return;
        }
        if node.slot.saturating_add(self.cfg.max_vote_age_slots) < self.current_slot() {
            return;
        }
        let Some(parent) = self.node(&node.parent) else { return };
        // HotStuff safety rule: extend the locked block, or carry a
        // certificate newer than the lock.
        if !(parent.slot > self.safety.locked_slot || node.parent == self.safety.locked_block) {
            return;
        }
        let slot = node.slot;
        self.safety.last_voted_slot = slot;
        self.persist(actions);
        let Some(key) = self.key.as_ref() else { return };
        let vote = Vote::sign(&self.cfg.chain_tag, slot, block, key);
        self.first_votes.entry((slot, me.to_compressed())).or_insert_with(|| vote.clone());
        actions.push(Action::SendVote(vote.clone()));
        self.add_vote(block, idx, vote.signature, actions);
    }

    /// The leader of the current slot builds on the highest certificate,
    /// at once if that certifies the previous slot, else after waiting
    /// part of the slot for it.
    fn maybe_produce(&mut self, schedule: &dyn ProducerSchedule, actions: &mut Vec<Action>) -> Result<()> {
        let Some(me) = self.me else { return Ok(()) };
        let slot = self.current_slot();
        if slot <= self.safety.last_produced_slot {
            return Ok(());
        }
        let Some(parent) = self.node(&self.hqc) else { return Ok(()) };
        let Some(qc) = parent.qc.clone() else { return Ok(()) };
        if slot <= parent.slot {
            return Ok(());
        }
        let waited_ns = self.now_ns.saturating_sub(self.cfg.slot_start_ns(slot));
        let wait_ns = self.cfg.interval_ns() / 100 * self.cfg.produce_wait_percent as i64;
        if parent.slot + 1 != slot && waited_ns < wait_ns {
            return Ok(());
        }
        if self.tree.len() >= MAX_TREE_BLOCKS {
            return Ok(());
        }
        let elected = schedule.producers(&self.hqc, slot).map_err(|reason| ConsensusError::Schedule {
            parent: self.hqc,
            slot,
            reason,
        })?;
        let (quorum, _) = child_quorum(parent, slot, &elected)?;
        if quorum.config.leader(slot) != Some(me) {
            return Ok(());
        }
        let proposal = Proposal {
            slot,
            timestamp_ns: self.now_ns.max(self.cfg.slot_start_ns(slot)),
            parent: self.hqc,
            height: parent.height.saturating_add(1),
            qc,
        };
        self.safety.last_produced_slot = slot;
        self.persist(actions);
        actions.push(Action::Produce(proposal));
        Ok(())
    }

    /// The head: the newest child of the highest certified block (its
    /// children are uncertified proposals), or that block itself.
    fn update_head(&mut self, actions: &mut Vec<Action>) {
        let Some(h) = self.node(&self.hqc) else { return };
        let best = h
            .children
            .iter()
            .filter_map(|c| self.node(c).map(|n| (n.slot, std::cmp::Reverse(*c))))
            .max()
            .map(|(_, std::cmp::Reverse(c))| c)
            .unwrap_or(self.hqc);
        if best != self.head {
            self.head = best;
            let height = self.node(&best).map(|n| n.height).unwrap_or(0);
            actions.push(Action::SwitchHead { hash: best, height });
        }
    }

    fn persist(&mut self, actions: &mut Vec<Action>) {
        self.persisted = self.safety;
        actions.push(Action::Persist(self.safety));
    }

    fn flush_persist(&mut self, actions: &mut Vec<Action>) {
        if self.safety != self.persisted {
            self.persist(actions);
        }
    }

    /// Drops uncertified leaves that are too old to ever matter, so a long
    /// stall without quorum does not fill the tree.
    fn prune_stale_leaves(&mut self) {
        if self.tree.len() < MAX_TREE_BLOCKS / 2 {
            return;
        }
        let current = self.current_slot();
        let stale: Vec<(Hash, Hash)> = self
            .tree
            .iter()
            .filter(|(h, n)| {
                n.children.is_empty()
                    && n.qc.is_none()
                    && **h != self.root
                    && **h != self.head
                    && **h != self.hqc
                    && n.slot.saturating_add(STALE_LEAF_SLOTS) < current
            })
            .map(|(h, n)| (*h, n.parent))
            .collect();
        for (h, p) in stale {
            self.tree.remove(&h);
            if let Some(pn) = self.tree.get_mut(&p) {
                pn.children.retain(|c| *c != h);
            }
        }
    }
}

/// The configuration of a child of `parent` in `slot`, given the elected
/// set, and its joint run. A joint configuration ends (the new set alone
/// takes over) only on a child of the third of three consecutive-slot
/// blocks of that joint configuration: that child carries the certificate
/// that makes the first of them final, so the hand-over point is final.
fn child_quorum(parent: &Node, slot: u64, elected: &[ProducerId]) -> Result<(Arc<Quorum>, u8)> {
    validate_set(elected)?;
    let quorum = match &parent.quorum.config {
        QuorumConfig::Single(s) if s.as_slice() == elected => parent.quorum.clone(),
        QuorumConfig::Single(s) if same_members(s, elected) => Quorum::new(QuorumConfig::Single(elected.to_vec()))?,
        QuorumConfig::Single(s) => Quorum::new(QuorumConfig::Joint { old: s.clone(), new: elected.to_vec() })?,
        QuorumConfig::Joint { new, .. } if parent.joint_run >= 3 => Quorum::new(QuorumConfig::Single(new.clone()))?,
        QuorumConfig::Joint { .. } => parent.quorum.clone(),
    };
    let run = match &quorum.config {
        QuorumConfig::Single(_) => 0,
        QuorumConfig::Joint { .. } => {
            if parent.quorum.config == quorum.config && parent.slot + 1 == slot {
                (parent.joint_run + 1).min(3)
            } else {
                1
            }
        }
    };
    Ok((quorum, run))
}

#[cold]
fn unreachable_root() -> Anchor {
    // The root is inserted at construction and kept by every prune: an
    // invariant of this module, not reachable from input.
    panic!("dpos engine invariant broken: the root block left the tree")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_crypto::dev_keys;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        /// Trimming keeps a quorum of each set and never keeps more than
        /// the two thresholds together.
        #[test]
        fn trim_keeps_a_quorum(old_n in 1usize..10, new_n in 1usize..10, shift in 0usize..10, mask in any::<u32>()) {
            let keys = dev_keys("trim", 20);
            let ids: Vec<ProducerId> = keys.iter().map(|k| k.public_key()).collect();
            let old = ids[..old_n].to_vec();
            let new = ids[shift..shift + new_n].to_vec();
            let config = if same_members(&old, &new) {
                QuorumConfig::Single(old.clone())
            } else {
                QuorumConfig::Joint { old, new }
            };
            let q = Quorum::new(config).unwrap();
            let sig = keys[0].sign_hash(&Hash::ZERO);
            let votes: BTreeMap<u8, Signature> =
                (0..q.voters.len() as u8).filter(|i| mask & (1 << i) != 0).map(|i| (i, sig)).collect();
            let trimmed = q.trim(&votes);
            prop_assert!(trimmed.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(trimmed.iter().all(|(i, _)| votes.contains_key(i)));
            prop_assert!(trimmed.len() <= q.need_first + q.need_second);
            if q.is_quorum(votes.keys().copied()) {
                prop_assert!(q.is_quorum(trimmed.iter().map(|(i, _)| *i)));
            }
        }
    }
}
