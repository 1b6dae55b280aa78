//! Unit tests of the engine: a tiny synchronous network of engines.

use super::*;
use crate::error::ConsensusError;
use aergo_crypto::{dev_keys, PrivateKey};
use aergo_types::Hash;
use std::collections::BTreeMap;

const SEC: i64 = 1_000_000_000;
const GENESIS_TS: i64 = 1_000 * SEC;

fn cfg() -> DposConfig {
    DposConfig::new(Hash::sha256(b"test chain"), Hash::sha256(b"genesis"), GENESIS_TS)
}

fn ids(keys: &[PrivateKey]) -> Vec<ProducerId> {
    keys.iter().map(|k| k.public_key()).collect()
}

fn block_hash(p: &Proposal, producer: &ProducerId) -> Hash {
    Hash::sha256_parts(&[
        p.parent.as_bytes(),
        &p.height.to_be_bytes(),
        &p.timestamp_ns.to_be_bytes(),
        &producer.to_compressed(),
        &p.qc.encode(),
    ])
}

fn meta_of(p: &Proposal, producer: ProducerId) -> BlockMeta {
    BlockMeta {
        hash: block_hash(p, &producer),
        parent: p.parent,
        height: p.height,
        timestamp_ns: p.timestamp_ns,
        producer,
        qc: p.qc.clone(),
    }
}

/// Engines that see every message at once, with a schedule per slot.
struct Net {
    cfg: DposConfig,
    keys: Vec<PrivateKey>,
    engines: Vec<DposEngine>,
    commits: Vec<Vec<(u64, Hash)>>,
    metas: BTreeMap<Hash, BlockMeta>,
    /// Elected set from a slot on (the test's "election").
    elections: Vec<(u64, Vec<ProducerId>)>,
    /// Nodes that drop everything.
    down: Vec<bool>,
    /// Partition group per node: messages only flow within a group.
    group: Vec<u8>,
    /// Nodes that receive nothing (but still send).
    deaf: Vec<bool>,
    /// Votes for these slots reach only the marked nodes.
    vote_reach: BTreeMap<u64, Vec<bool>>,
}

struct Sched<'a>(&'a [(u64, Vec<ProducerId>)]);

impl ProducerSchedule for Sched<'_> {
    fn producers(&self, _parent: &Hash, slot: u64) -> Result<Vec<ProducerId>, String> {
        Ok(elected_at(self.0, slot))
    }
}

fn elected_at(e: &[(u64, Vec<ProducerId>)], slot: u64) -> Vec<ProducerId> {
    e.iter().rev().find(|(s, _)| *s <= slot).map(|(_, p)| p.clone()).unwrap_or_default()
}

impl Net {
    fn new(all_keys: Vec<PrivateKey>, producers: usize) -> Net {
        let cfg = cfg();
        let set = ids(&all_keys[..producers]);
        let anchor = Anchor::genesis(cfg.genesis_hash, 0, set.clone());
        let engines = all_keys
            .iter()
            .map(|k| {
                DposEngine::new(
                    cfg.clone(),
                    Some(k.clone()),
                    SafetyState::genesis(cfg.genesis_hash),
                    anchor.clone(),
                    GENESIS_TS,
                )
                .unwrap()
            })
            .collect();
        let n = all_keys.len();
        Net {
            cfg,
            keys: all_keys,
            engines,
            commits: vec![Vec::new(); n],
            metas: BTreeMap::new(),
            elections: vec![(0, set)],
            down: vec![false; n],
            group: vec![0; n],
            deaf: vec![false; n],
            vote_reach: BTreeMap::new(),
        }
    }

    /// Ticks every node at `offset_ns` into `slot` and delivers everything
    /// that follows to every node that is up.
    fn slot(&mut self, slot: u64, offset_ns: i64) {
        let now = self.cfg.slot_start_ns(slot) + offset_ns;
        let mut blocks = Vec::new();
        for i in 0..self.engines.len() {
            if self.down[i] {
                continue;
            }
            let acts = self.engines[i].on_tick(now, &Sched(&self.elections)).unwrap();
            self.handle(i, acts, &mut blocks, &mut Vec::new());
        }
        self.deliver(blocks);
    }

    fn handle(&mut self, i: usize, acts: Vec<Action>, blocks: &mut Vec<BlockMeta>, votes: &mut Vec<Vote>) {
        let mut persisted = false;
        for a in acts {
            match a {
                Action::Persist(_) => persisted = true,
                Action::Produce(p) => {
                    assert!(persisted, "produce before persist");
                    let m = meta_of(&p, self.keys[i].public_key());
                    blocks.push(m);
                }
                Action::SendVote(v) => {
                    assert!(persisted, "vote before persist");
                    votes.push(v);
                }
                Action::Commit { hash, height, .. } => self.commits[i].push((height, hash)),
                _ => {}
            }
        }
    }

    fn deliver(&mut self, mut blocks: Vec<BlockMeta>) {
        let mut votes: Vec<Vote> = Vec::new();
        for _round in 0..100 {
            if blocks.is_empty() && votes.is_empty() {
                return;
            }
            let mut new_blocks = Vec::new();
            let mut new_votes = Vec::new();
            for m in blocks.drain(..) {
                self.metas.insert(m.hash, m.clone());
                let from = self.index_of(&m.producer);
                for i in 0..self.engines.len() {
                    if self.down[i] || self.group[i] != self.group[from] || (self.deaf[i] && i != from) {
                        continue;
                    }
                    let elected = elected_at(&self.elections, self.cfg.slot_of(m.timestamp_ns).unwrap());
                    if let Ok(acts) = self.engines[i].on_block(m.clone(), &elected) {
                        self.handle(i, acts, &mut new_blocks, &mut new_votes);
                    }
                }
            }
            for v in votes.drain(..) {
                let from = self.index_of(&v.voter);
                for i in 0..self.engines.len() {
                    if self.down[i] || self.group[i] != self.group[from] || self.deaf[i] {
                        continue;
                    }
                    if self.vote_reach.get(&v.slot).is_some_and(|reach| !reach[i]) {
                        continue;
                    }
                    if let Ok(acts) = self.engines[i].on_vote(v.clone()) {
                        self.handle(i, acts, &mut new_blocks, &mut new_votes);
                    }
                }
            }
            blocks = new_blocks;
            votes = new_votes;
        }
        panic!("messages did not settle");
    }

    fn index_of(&self, p: &ProducerId) -> usize {
        self.keys.iter().position(|k| k.public_key() == *p).unwrap()
    }

    /// Hands every block produced so far to every node (what sync does
    /// after a partition heals), parents first.
    fn resync(&mut self) {
        let mut all: Vec<BlockMeta> = self.metas.values().cloned().collect();
        all.sort_by_key(|m| m.height);
        let mut out = Vec::new();
        let mut votes = Vec::new();
        for m in all {
            for i in 0..self.engines.len() {
                let elected = elected_at(&self.elections, self.cfg.slot_of(m.timestamp_ns).unwrap());
                if let Ok(acts) = self.engines[i].on_block(m.clone(), &elected) {
                    self.handle(i, acts, &mut out, &mut votes);
                }
            }
        }
    }

    fn check_agreement(&self) {
        let mut by_height: BTreeMap<u64, Hash> = BTreeMap::new();
        for c in &self.commits {
            for (h, hash) in c {
                assert_eq!(*by_height.entry(*h).or_insert(*hash), *hash, "two blocks final at height {h}");
            }
            // In order, no gaps.
            for w in c.windows(2) {
                assert_eq!(w[0].0 + 1, w[1].0);
            }
        }
    }
}

#[test]
fn happy_path_commits_three_chains_and_agrees() {
    let mut net = Net::new(dev_keys("dpos-test", 4), 4);
    for s in 1..=20 {
        net.slot(s, 1);
    }
    net.check_agreement();
    for (i, e) in net.engines.iter().enumerate() {
        let (h, _) = e.lib();
        // Slot 20's block needs slots 21 and 22 (plus a certificate) to be final.
        assert!(h >= 17, "node {i} lib height {h}");
        assert_eq!(net.commits[i].first().map(|c| c.0), Some(1));
    }
    let heads: Vec<Hash> = net.engines.iter().map(|e| e.head()).collect();
    assert!(heads.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_missing_producer_costs_its_slots_but_not_finality() {
    let mut net = Net::new(dev_keys("dpos-test", 4), 4);
    net.down[2] = true;
    for s in 1..=40 {
        // Late in the slot so leaders after the gap stop waiting.
        net.slot(s, SEC * 6 / 10);
    }
    net.check_agreement();
    let (h, _) = net.engines[0].lib();
    assert!(h >= 15, "lib height {h}");
    // Slots of the crashed producer stay empty: no block in them.
    let crashed = net.keys[2].public_key();
    assert!(net.metas.values().all(|m| m.producer != crashed));
}

#[test]
fn without_quorum_nothing_becomes_final() {
    let mut net = Net::new(dev_keys("dpos-test", 4), 4);
    net.down[2] = true;
    net.down[3] = true;
    for s in 1..=20 {
        net.slot(s, SEC * 6 / 10);
    }
    assert_eq!(net.engines[0].lib().0, 0);
    assert!(net.commits.iter().all(|c| c.is_empty()));
}

#[test]
fn gaps_break_the_three_chain() {
    // Producers 0..4, slot s led by s % 4. With node 1 down, slots 1, 5, 9
    // are empty: blocks in 2,3,4 then 6,7,8 are consecutive triples.
    let mut net = Net::new(dev_keys("dpos-test", 4), 4);
    net.down[1] = true;
    for s in 1..=4 {
        net.slot(s, SEC * 6 / 10);
    }
    // Blocks at slots 2, 3, 4: the one at 2 is final only once 4 is certified.
    let e = &net.engines[0];
    let (_, hqc_qc) = e.highest_qc();
    assert_eq!(hqc_qc.unwrap().slot, 4);
    assert_eq!(e.lib().0, 1, "the block of slot 2 (height 1) is final");
}

/// An engine of producer `me` whose clock is at the start of `now_slot`.
fn engine_for(keys: &[PrivateKey], me: usize, now_slot: u64) -> DposEngine {
    let c = cfg();
    DposEngine::new(
        c.clone(),
        Some(keys[me].clone()),
        SafetyState::genesis(c.genesis_hash),
        Anchor::genesis(c.genesis_hash, 0, ids(keys)),
        c.slot_start_ns(now_slot),
    )
    .unwrap()
}

/// Moves an engine's clock (a tick whose actions the test ignores).
fn advance(e: &mut DposEngine, keys: &[PrivateKey], slot: u64) {
    e.on_tick(cfg().slot_start_ns(slot), &StaticSchedule(ids(keys).into())).unwrap();
}

fn proposal(parent: Hash, height: u64, slot: u64, qc: Qc) -> Proposal {
    Proposal { slot, timestamp_ns: cfg().slot_start_ns(slot) + 5, parent, height, qc }
}

#[test]
fn rejects_wrong_owner_future_and_bad_height() {
    let keys = dev_keys("dpos-test", 4);
    let c = cfg();
    let mut e = engine_for(&keys, 0, 10);
    let set = ids(&keys);
    let g = c.genesis_hash;
    // Slot 5 belongs to producer 1.
    let p = proposal(g, 1, 5, Qc::genesis(g));
    let err = e.on_block(meta_of(&p, keys[2].public_key()), &set).unwrap_err();
    assert!(matches!(err, ConsensusError::WrongSlotOwner { slot: 5, .. }), "{err}");
    let mut m = meta_of(&p, keys[1].public_key());
    m.height = 2;
    assert!(matches!(e.on_block(m, &set).unwrap_err(), ConsensusError::BadHeight { expected: 1, got: 2, .. }));
    // Ahead of the engine's clock (slot 10) by more than the drift bound.
    let p = proposal(g, 1, 12, Qc::genesis(g));
    let err = e.on_block(meta_of(&p, keys[1].public_key()), &set).unwrap_err();
    assert!(matches!(err, ConsensusError::FutureBlock { .. }), "{err}");
    // Unknown parent.
    let p = proposal(Hash::sha256(b"nope"), 1, 5, Qc::genesis(g));
    assert!(e.on_block(meta_of(&p, keys[1].public_key()), &set).unwrap_err().is_benign());
    // Valid one, then again: known.
    let p = proposal(g, 1, 5, Qc::genesis(g));
    let m = meta_of(&p, keys[1].public_key());
    e.on_block(m.clone(), &set).unwrap();
    assert!(matches!(e.on_block(m, &set).unwrap_err(), ConsensusError::KnownBlock { .. }));
}

#[test]
fn rejects_bad_certificates() {
    let keys = dev_keys("dpos-test", 4);
    let c = cfg();
    let set = ids(&keys);
    let g = c.genesis_hash;
    let mut e = engine_for(&keys, 0, 2);
    let b1 = meta_of(&proposal(g, 1, 1, Qc::genesis(g)), keys[1].public_key());
    e.on_block(b1.clone(), &set).unwrap();
    let sig = |k: &PrivateKey, slot: u64, h: Hash| Vote::sign(&c.chain_tag, slot, h, k).signature;
    // Implicit certificate for a non-genesis block.
    let bad = Qc { slot: 1, block: b1.hash, voter_count: 0, signatures: vec![] };
    let m = meta_of(&proposal(b1.hash, 2, 2, bad), keys[2].public_key());
    assert!(matches!(e.on_block(m, &set).unwrap_err(), ConsensusError::BadQc { .. }));
    // Two signatures of four: not a quorum (3 needed).
    let two = Qc {
        slot: 1,
        block: b1.hash,
        voter_count: 4,
        signatures: vec![(0, sig(&keys[0], 1, b1.hash)), (1, sig(&keys[1], 1, b1.hash))],
    };
    let m = meta_of(&proposal(b1.hash, 2, 2, two.clone()), keys[2].public_key());
    let err = e.on_block(m, &set).unwrap_err();
    assert!(err.to_string().contains("not a quorum"), "{err}");
    // Three, but one signs another slot.
    let mut three = two.clone();
    three.signatures.push((2, sig(&keys[2], 7, b1.hash)));
    let m = meta_of(&proposal(b1.hash, 2, 2, three.clone()), keys[2].public_key());
    assert!(e.on_block(m, &set).unwrap_err().to_string().contains("does not verify"));
    // Wrong slot named.
    let mut good = two;
    good.signatures.push((2, sig(&keys[2], 1, b1.hash)));
    let mut wrong_slot = good.clone();
    wrong_slot.slot = 3;
    let m = meta_of(&proposal(b1.hash, 2, 2, wrong_slot), keys[2].public_key());
    assert!(matches!(e.on_block(m, &set).unwrap_err(), ConsensusError::BadQc { .. }));
    // Wrong voter count.
    let mut wrong_count = good.clone();
    wrong_count.voter_count = 5;
    let m = meta_of(&proposal(b1.hash, 2, 2, wrong_count), keys[2].public_key());
    assert!(matches!(e.on_block(m, &set).unwrap_err(), ConsensusError::BadQc { .. }));
    // And the good one passes.
    let m = meta_of(&proposal(b1.hash, 2, 2, good), keys[2].public_key());
    e.on_block(m, &set).unwrap();
    assert!(e.is_certified(&b1.hash));
}

#[test]
fn votes_are_checked_buffered_and_counted_once() {
    let keys = dev_keys("dpos-test", 5);
    let c = cfg();
    let set = ids(&keys[..4]);
    let g = c.genesis_hash;
    let mut e = DposEngine::new(
        c.clone(),
        None,
        SafetyState::genesis(g),
        Anchor::genesis(g, 0, set.clone()),
        GENESIS_TS + 10 * SEC,
    )
    .unwrap();
    let b1 = meta_of(&proposal(g, 1, 1, Qc::genesis(g)), keys[1].public_key());
    // Votes before the block wait for it.
    let v0 = Vote::sign(&c.chain_tag, 1, b1.hash, &keys[0]);
    e.on_vote(v0.clone()).unwrap();
    assert!(e.on_vote(v0.clone()).unwrap_err().is_benign());
    assert_eq!(e.pending_vote_count(), 1);
    let mut forged = Vote::sign(&c.chain_tag, 1, b1.hash, &keys[2]);
    forged.voter = keys[3].public_key();
    assert!(matches!(e.on_vote(forged).unwrap_err(), ConsensusError::BadVoteSignature { .. }));
    e.on_block(b1.clone(), &set).unwrap();
    assert_eq!(e.pending_vote_count(), 0);
    assert!(matches!(e.on_vote(v0).unwrap_err(), ConsensusError::DuplicateVote { .. }));
    // Not a producer.
    let outsider = Vote::sign(&c.chain_tag, 1, b1.hash, &keys[4]);
    assert!(matches!(e.on_vote(outsider).unwrap_err(), ConsensusError::NotAProducer { .. }));
    // Wrong slot for the block.
    let wrong = Vote::sign(&c.chain_tag, 2, b1.hash, &keys[2]);
    assert!(matches!(e.on_vote(wrong).unwrap_err(), ConsensusError::VoteSlotMismatch { .. }));
    // Quorum: 3 of 4.
    e.on_vote(Vote::sign(&c.chain_tag, 1, b1.hash, &keys[1])).unwrap();
    assert!(!e.is_certified(&b1.hash));
    e.on_vote(Vote::sign(&c.chain_tag, 1, b1.hash, &keys[2])).unwrap();
    assert!(e.is_certified(&b1.hash));
    assert_eq!(e.highest_qc().1.unwrap().signatures.len(), 3);
    assert_eq!(e.head(), b1.hash);
    // Stale after it is final? Not yet; far future is rejected.
    let fut = Vote::sign(&c.chain_tag, 500, b1.hash, &keys[2]);
    assert!(matches!(e.on_vote(fut).unwrap_err(), ConsensusError::FutureVote { .. }));
}

#[test]
fn double_production_and_double_votes_are_evidence() {
    let keys = dev_keys("dpos-test", 4);
    let c = cfg();
    let set = ids(&keys);
    let g = c.genesis_hash;
    let mut e = engine_for(&keys, 0, 1);
    let p1 = proposal(g, 1, 1, Qc::genesis(g));
    let mut p2 = p1.clone();
    p2.timestamp_ns += 1;
    let a = e.on_block(meta_of(&p1, keys[1].public_key()), &set).unwrap();
    // Node 0 voted for the first.
    assert!(a.iter().any(|x| matches!(x, Action::SendVote(v) if v.slot == 1)));
    let b = e.on_block(meta_of(&p2, keys[1].public_key()), &set).unwrap();
    assert!(b.iter().any(|x| matches!(x, Action::Evidence(Evidence::DoubleProduction { slot: 1, .. }))));
    // ... and not for the second: one vote per slot.
    assert!(!b.iter().any(|x| matches!(x, Action::SendVote(_))));
    let h2 = meta_of(&p2, keys[1].public_key()).hash;
    let h1 = meta_of(&p1, keys[1].public_key()).hash;
    e.on_vote(Vote::sign(&c.chain_tag, 1, h1, &keys[3])).unwrap();
    let acts = e.on_vote(Vote::sign(&c.chain_tag, 1, h2, &keys[3])).unwrap();
    assert!(acts.iter().any(|x| matches!(x, Action::Evidence(Evidence::DoubleVote { .. }))));
}

#[test]
fn a_locked_producer_refuses_a_stale_fork() {
    // Chain g <- b1 <- b2 <- b3 (slots 1,2,3). Processing b3 certifies b2
    // and locks on b1. A block in slot 5 on a fork from genesis carrying
    // genesis's certificate must not get this node's vote.
    let keys = dev_keys("dpos-test", 4);
    let c = cfg();
    let set = ids(&keys);
    let g = c.genesis_hash;
    let mut e = engine_for(&keys, 0, 3);
    let tag = c.chain_tag;
    let qc_for = |slot: u64, h: Hash| Qc {
        slot,
        block: h,
        voter_count: 4,
        signatures: (0..3u8).map(|i| (i, Vote::sign(&tag, slot, h, &keys[i as usize]).signature)).collect(),
    };
    let b1 = meta_of(&proposal(g, 1, 1, Qc::genesis(g)), keys[1].public_key());
    e.on_block(b1.clone(), &set).unwrap();
    let b2 = meta_of(&proposal(b1.hash, 2, 2, qc_for(1, b1.hash)), keys[2].public_key());
    e.on_block(b2.clone(), &set).unwrap();
    let b3 = meta_of(&proposal(b2.hash, 3, 3, qc_for(2, b2.hash)), keys[3].public_key());
    let acts = e.on_block(b3.clone(), &set).unwrap();
    assert_eq!(e.safety_state().locked_block, b1.hash);
    // The lock is persisted before the vote leaves.
    let persist = acts.iter().position(|a| matches!(a, Action::Persist(s) if s.locked_block == b1.hash)).unwrap();
    let vote = acts.iter().position(|a| matches!(a, Action::SendVote(_))).unwrap();
    assert!(persist < vote);
    advance(&mut e, &keys, 6);
    let fork = meta_of(&proposal(g, 1, 5, Qc::genesis(g)), keys[1].public_key());
    let acts = e.on_block(fork, &set).unwrap();
    assert!(!acts.iter().any(|a| matches!(a, Action::SendVote(_))));
    // A block on b2 (certificate newer than the lock) gets the vote.
    let ok = meta_of(&proposal(b2.hash, 3, 6, qc_for(2, b2.hash)), keys[2].public_key());
    let acts = e.on_block(ok, &set).unwrap();
    assert!(acts.iter().any(|a| matches!(a, Action::SendVote(_))));
    // Non-consecutive: nothing final yet except by the b1,b2,b3 chain
    // once b3 is certified.
    assert_eq!(e.lib().0, 0);
    advance(&mut e, &keys, 9);
    let b4 = meta_of(&proposal(b3.hash, 4, 9, qc_for(3, b3.hash)), keys[1].public_key());
    e.on_block(b4, &set).unwrap();
    assert_eq!(e.lib(), (1, b1.hash));
}

#[test]
fn a_restarted_producer_does_not_vote_again() {
    let keys = dev_keys("dpos-test", 4);
    let c = cfg();
    let set = ids(&keys);
    let g = c.genesis_hash;
    let mut e = engine_for(&keys, 0, 2);
    let b1 = meta_of(&proposal(g, 1, 1, Qc::genesis(g)), keys[1].public_key());
    let acts = e.on_block(b1.clone(), &set).unwrap();
    let saved = acts.iter().find_map(|a| if let Action::Persist(s) = a { Some(*s) } else { None }).unwrap();
    let saved = SafetyState::decode(&saved.encode()).unwrap();
    let mut again = DposEngine::new(
        c.clone(),
        Some(keys[0].clone()),
        saved,
        Anchor::genesis(g, 0, set.clone()),
        c.slot_start_ns(1),
    )
    .unwrap();
    let acts = again.on_block(b1, &set).unwrap();
    assert!(!acts.iter().any(|a| matches!(a, Action::SendVote(_))));
}

#[test]
fn old_blocks_get_no_votes() {
    let keys = dev_keys("dpos-test", 4);
    let c = cfg();
    let g = c.genesis_hash;
    let mut e = engine_for(&keys, 0, 10); // clock at slot 10, votes at most 4 slots back
    let b = meta_of(&proposal(g, 1, 5, Qc::genesis(g)), keys[1].public_key());
    let acts = e.on_block(b, &ids(&keys)).unwrap();
    assert!(!acts.iter().any(|a| matches!(a, Action::SendVote(_))));
}

#[test]
fn producer_set_changes_go_through_a_final_joint_configuration() {
    // Seven keys: the set moves from 0..4 to 3..7 at slot 10.
    let keys = dev_keys("dpos-test", 7);
    let mut net = Net::new(keys.clone(), 4);
    let new_set = ids(&keys[3..7]);
    net.elections.push((10, new_set.clone()));
    for s in 1..=40 {
        net.slot(s, 1);
    }
    net.check_agreement();
    let e = &net.engines[0];
    let lib = e.lib();
    assert!(lib.0 >= 30, "lib {lib:?}");
    // Walk the committed chain: single(old) .. joint .. single(new).
    let mut kinds = Vec::new();
    for (_, h) in &net.commits[6] {
        let m = &net.metas[h];
        let slot = net.cfg.slot_of(m.timestamp_ns).unwrap();
        kinds.push((slot, net.metas.get(h).map(|m| m.producer)));
    }
    // Every block from slot 10 on is led by the new set.
    for (slot, prod) in &kinds {
        let leader = if *slot < 10 { ids(&keys[..4])[*slot as usize % 4] } else { new_set[*slot as usize % 4] };
        assert_eq!(Some(leader), *prod, "slot {slot}");
    }
    // The old-only producers (0..3) no longer count after the hand-over.
    let cfg_now = e.quorum_config(&e.lib().1).unwrap();
    assert_eq!(cfg_now, &QuorumConfig::Single(new_set));
}

#[test]
fn a_joint_configuration_needs_both_quorums() {
    // Old set 0..4, new set 4..8 (disjoint). With the whole old set down,
    // the joint blocks never get certified, so nothing becomes final.
    let keys = dev_keys("dpos-test", 8);
    let mut net = Net::new(keys.clone(), 4);
    net.elections.push((4, ids(&keys[4..8])));
    for s in 1..=3 {
        net.slot(s, 1);
    }
    let before: Vec<u64> = net.engines.iter().map(|e| e.lib().0).collect();
    net.down[..4].fill(true);
    for s in 4..=30 {
        net.slot(s, SEC * 6 / 10);
    }
    net.check_agreement();
    for (i, e) in net.engines.iter().enumerate().skip(4) {
        assert_eq!(e.lib().0, before[i], "node {i}: joint blocks must not be certified without the old set");
    }
}

#[test]
fn a_node_restarted_from_its_anchor_catches_up() {
    let keys = dev_keys("dpos-test", 4);
    let mut net = Net::new(keys.clone(), 4);
    for s in 1..=12 {
        net.slot(s, 1);
    }
    let e = &net.engines[3];
    let anchor = Anchor::decode(&e.anchor().encode()).unwrap();
    let safety = e.safety_state();
    assert!(anchor.height >= 9);
    let mut again =
        DposEngine::new(net.cfg.clone(), Some(keys[3].clone()), safety, anchor.clone(), net.cfg.slot_start_ns(12))
            .unwrap();
    // Replay the stored blocks above the anchor, parents first.
    let mut above: Vec<&BlockMeta> = net.metas.values().filter(|m| m.height > anchor.height).collect();
    above.sort_by_key(|m| m.height);
    for m in above {
        if again.contains(&m.parent) {
            let acts = again.on_block(m.clone(), &ids(&keys)).unwrap();
            assert!(!acts.iter().any(|a| matches!(a, Action::SendVote(_))), "no second vote after restart");
        }
    }
    assert_eq!(again.head(), net.engines[3].head());
    // It can lead again: the next slot of producer 3 is 15. Without the
    // votes for the block of slot 12 it only knows the certificate of
    // slot 11, so it waits half the slot before building on that.
    let sched = StaticSchedule(ids(&keys).into());
    assert!(again.on_tick(net.cfg.slot_start_ns(15) + 1, &sched).unwrap().is_empty());
    let acts = again.on_tick(net.cfg.slot_start_ns(15) + SEC * 6 / 10, &sched).unwrap();
    let produce = acts.iter().position(|a| matches!(a, Action::Produce(p) if p.slot == 15));
    let persist = acts.iter().position(|a| matches!(a, Action::Persist(s) if s.last_produced_slot == 15));
    assert!(persist.unwrap() < produce.unwrap());
}

#[test]
fn a_set_change_during_a_partition_cannot_fork() {
    // Old set A = 0..4, new set B = 3..7 from slot 12. From slot 8 the
    // network splits into {0,1,2} and {3,4,5,6}: A's majority side
    // finalizes the block of slot 8 (slots 8, 9, 10 are led by 0, 1, 2),
    // while B's quorum sits on the other side without it. Were B to take over at once, {3,4,5,6} would certify
    // and finalize a fork from the old blocks; with the joint
    // configuration their blocks also need a quorum of A, which they lack.
    let keys = dev_keys("dpos-test", 7);
    let mut net = Net::new(keys.clone(), 4);
    net.elections.push((12, ids(&keys[3..7])));
    for s in 1..=7 {
        net.slot(s, 1);
    }
    net.group = vec![0, 0, 0, 1, 1, 1, 1];
    for s in 8..=30 {
        net.slot(s, SEC * 6 / 10);
    }
    net.check_agreement();
    let a_side = net.engines[0].lib().0;
    let b_side = net.engines[5].lib().0;
    // A's side finalized its own blocks before the change; B's side could
    // not finalize anything past what both sides shared.
    assert!(a_side > b_side, "A side {a_side}, B side {b_side}");
    let shared = net.commits[5].clone();
    for s in 31..=40 {
        net.slot(s, SEC * 6 / 10);
    }
    assert_eq!(net.commits[5], shared, "no progress for B's side while split");
    // Heal: everyone learns every block, then the chain moves on and
    // hands over to B.
    net.group = vec![0; 7];
    net.resync();
    for s in 41..=70 {
        net.slot(s, SEC * 6 / 10);
    }
    net.check_agreement();
    for (i, e) in net.engines.iter().enumerate() {
        assert!(e.lib().0 > a_side, "node {i} made no progress after the heal");
        assert_eq!(e.quorum_config(&e.lib().1), Some(&QuorumConfig::Single(ids(&keys[3..7]))));
    }
}

#[test]
fn a_deaf_leader_cannot_fork_a_final_block() {
    // Producers 0..4 and an observer, node 4. Node 0 hears nothing in
    // slots 1..=4 while 1, 2, 3 build the blocks of slots 1, 2, 3. The
    // votes for slot 3 reach only the observer: it alone learns that
    // block's certificate and finalizes the block of slot 1 (height 1).
    // The producers only hold the certificate of slot 2, so they are
    // locked on the block of slot 1 without seeing it final. In slot 4,
    // node 0 builds on genesis. The producers refuse it because of the
    // lock; without the lock they would certify it, extend it in slots
    // 5, 6, 7 and finalize it, a second block at height 1.
    let keys = dev_keys("dpos-test", 5);
    let mut net = Net::new(keys.clone(), 4);
    net.deaf[0] = true;
    net.vote_reach.insert(3, vec![false, false, false, false, true]);
    for s in 1..=4 {
        net.slot(s, SEC * 6 / 10);
    }
    assert_eq!(net.engines[4].lib().0, 1, "the observer finalized height 1");
    assert_eq!(net.engines[1].lib().0, 0, "the producers did not");
    let fork = net.metas.values().find(|m| m.producer == keys[0].public_key()).expect("node 0 built in slot 4");
    assert_eq!(fork.parent, net.cfg.genesis_hash);
    let fork = fork.hash;
    let fork_certified = net.engines[1].is_certified(&fork);
    net.deaf[0] = false;
    net.resync();
    for s in 5..=12 {
        net.slot(s, SEC * 6 / 10);
    }
    net.check_agreement();
    assert!(!fork_certified);
    for e in &net.engines {
        assert!(e.lib().0 >= 5);
    }
}

#[test]
fn blocks_in_non_consecutive_slots_do_not_commit() {
    // Two forks from the block b of slot 1, certified in interleaved
    // slots: x1 (2) <- x2 (5) <- x3 (6) and y1 (3) <- y2 (4) <- y3 (7).
    // Each is a chain of three certified blocks with a certificate on
    // top, but neither is in consecutive slots. Were that enough, the
    // observer (node 4, the only one to see the votes of slot 6) would
    // finalize x1 and the producers y1, both at height 2. Leaders lead
    // slot s % 4; deafness (hearing nothing) and votes that reach only
    // some nodes set up what each knows: the votes of slot 4 reach only
    // node 3 (the next leader of that fork), so the others stay locked
    // low enough to vote for x2.
    let keys = dev_keys("dpos-test", 5);
    let mut net = Net::new(keys.clone(), 4);
    let deaf_in = |s: u64| -> Vec<bool> {
        match s {
            2 => vec![false, false, false, true, false],     // 3 misses x1
            3 | 4 => vec![false, true, false, false, false], // 1 misses y1, y2
            5 | 6 => vec![false, false, false, true, false], // 3 misses x2, x3
            _ => vec![false; 5],
        }
    };
    net.vote_reach.insert(4, vec![false, false, false, true, false]);
    net.vote_reach.insert(6, vec![false, false, false, false, true]);
    for s in 1..=7 {
        net.deaf = deaf_in(s);
        net.slot(s, SEC * 6 / 10);
    }
    // The forks exist as described.
    let by_slot: BTreeMap<u64, &BlockMeta> =
        net.metas.values().map(|m| (net.cfg.slot_of(m.timestamp_ns).unwrap(), m)).collect();
    let parent_slot = |s: u64| net.cfg.slot_of(net.metas[&by_slot[&s].parent].timestamp_ns).unwrap();
    assert_eq!((parent_slot(2), parent_slot(5), parent_slot(6)), (1, 2, 5));
    assert_eq!((parent_slot(3), parent_slot(4), parent_slot(7)), (1, 3, 4));
    net.check_agreement();
    for e in &net.engines {
        assert_eq!(e.lib().0, 0, "nothing may be final yet");
    }
    // After the faults, the chain goes on and everyone agrees.
    net.deaf = vec![false; 5];
    net.vote_reach.clear();
    net.resync();
    for s in 8..=16 {
        net.slot(s, SEC * 6 / 10);
    }
    net.check_agreement();
    assert!(net.engines.iter().all(|e| e.lib().0 >= 3));
}
