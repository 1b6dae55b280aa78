//! What the DPoS engine costs beyond signature checks.
//!
//! Run: `cargo run -p aergo-consensus --release --example dpos_bench`
//!
//! An observer engine imports a chain of blocks made by 21 producers
//! (each block carries a 15-signature certificate of its parent), first
//! as bare blocks (the engine verifies every certificate), then with all
//! votes gossiped ahead of each block (the engine verifies each vote once
//! and finds the certificate's signatures already checked). The reference
//! is the time to verify the same signatures with `PublicKey::verify_hash`
//! alone, measured in the same run, interleaved to share machine load.
//! A third line runs one seed of the network simulation and compares
//! simulated time with wall time.

use aergo_consensus::dpos::*;
use aergo_consensus::sim::{run_seed, SimParams};
use aergo_crypto::{dev_keys, PrivateKey};
use aergo_types::Hash;
use std::time::Instant;

const N: usize = 21;
const BLOCKS: u64 = 200;

struct Chain {
    cfg: DposConfig,
    set: Vec<ProducerId>,
    metas: Vec<BlockMeta>,
    votes: Vec<Vec<Vote>>,
}

fn build_chain(keys: &[PrivateKey]) -> Chain {
    let cfg = DposConfig::new(Hash::sha256(b"bench"), Hash::sha256(b"bench genesis"), 0);
    let set: Vec<ProducerId> = keys.iter().map(|k| k.public_key()).collect();
    let q = quorum_size(N);
    let mut metas = Vec::new();
    let mut votes = Vec::new();
    let (mut parent, mut parent_slot) = (cfg.genesis_hash, 0u64);
    let mut qc = Qc::genesis(cfg.genesis_hash);
    for h in 1..=BLOCKS {
        let slot = h;
        let ts = cfg.slot_start_ns(slot);
        let producer = set[(slot % N as u64) as usize];
        let hash = Hash::sha256_parts(&[parent.as_bytes(), &h.to_be_bytes(), &qc.encode()]);
        metas.push(BlockMeta { hash, parent, height: h, timestamp_ns: ts, producer, qc: qc.clone() });
        let vs: Vec<Vote> = keys.iter().map(|k| Vote::sign(&cfg.chain_tag, slot, hash, k)).collect();
        qc = Qc {
            slot,
            block: hash,
            voter_count: N as u8,
            signatures: vs.iter().take(q).enumerate().map(|(i, v)| (i as u8, v.signature)).collect(),
        };
        votes.push(vs);
        parent = hash;
        parent_slot = slot;
    }
    let _ = parent_slot;
    Chain { cfg, set, metas, votes }
}

fn observer(c: &Chain) -> DposEngine {
    DposEngine::new(
        c.cfg.clone(),
        None,
        SafetyState::genesis(c.cfg.genesis_hash),
        Anchor::genesis(c.cfg.genesis_hash, 0, c.set.clone()),
        c.cfg.slot_start_ns(BLOCKS + 1),
    )
    .expect("engine")
}

fn import_blocks(c: &Chain) -> f64 {
    let mut e = observer(c);
    let t = Instant::now();
    for m in &c.metas {
        e.on_block(m.clone(), &c.set).expect("block");
    }
    assert!(e.lib().0 >= BLOCKS - 3);
    t.elapsed().as_secs_f64()
}

fn import_with_votes(c: &Chain) -> f64 {
    let mut e = observer(c);
    let t = Instant::now();
    for (m, vs) in c.metas.iter().zip(&c.votes) {
        e.on_block(m.clone(), &c.set).expect("block");
        for v in vs {
            let _ = e.on_vote(v.clone());
        }
    }
    assert!(e.lib().0 >= BLOCKS - 3);
    t.elapsed().as_secs_f64()
}

/// Verifies `per_block` signatures per block with the bare key API.
fn raw_verify(c: &Chain, per_block: usize) -> f64 {
    let t = Instant::now();
    for vs in &c.votes {
        for v in vs.iter().take(per_block) {
            let d = vote_digest(&c.cfg.chain_tag, v.slot, &v.block);
            v.voter.verify_hash(&d, &v.signature).expect("valid");
        }
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let keys = dev_keys("bench", N as u32);
    let chain = build_chain(&keys);
    let q = quorum_size(N);
    let rounds = 5;
    let (mut blocks, mut blocks_ref, mut voted, mut voted_ref) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..rounds {
        blocks += import_blocks(&chain);
        blocks_ref += raw_verify(&chain, q);
        voted += import_with_votes(&chain);
        voted_ref += raw_verify(&chain, N);
    }
    let per_block_us = |t: f64| t / (rounds as f64 * BLOCKS as f64) * 1e6;
    println!(
        "blocks only: {:.0} us/block (raw verify of {q} signatures: {:.0} us)",
        per_block_us(blocks),
        per_block_us(blocks_ref)
    );
    println!(
        "votes then block: {:.0} us/block (raw verify of {N} signatures: {:.0} us)",
        per_block_us(voted),
        per_block_us(voted_ref)
    );
    let seed = 1;
    let p = SimParams::for_seed(seed);
    let sim_s = (p.chaos_slots + p.heal_slots) as f64 * p.interval_ms as f64 / 1000.0;
    let t = Instant::now();
    let r = run_seed(seed, false).expect("simulation");
    let wall = t.elapsed().as_secs_f64();
    println!("simulation seed {seed}: {} steps, {sim_s:.0} s simulated in {wall:.2} s", r.steps);
    println!("BENCH dpos_import_blocks producers={N} blocks={BLOCKS} engine_vs_raw_verify={:.2}", blocks / blocks_ref);
    println!("BENCH dpos_import_votes producers={N} blocks={BLOCKS} engine_vs_raw_verify={:.2}", voted / voted_ref);
    println!("BENCH dpos_sim seed={seed} nodes={} simulated_vs_wall={:.1}", p.nodes, sim_s / wall);
}
