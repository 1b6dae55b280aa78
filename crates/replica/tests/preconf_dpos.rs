//! Pre-confirmations on a DPoS network over the in-test bus: the producer
//! of the next slot promises at admission and its block keeps the
//! promise; other members do not promise and say who will; a producer
//! that breaks a promise (the `break_promises` test hook) signs a block
//! anyone can prove broken, and the evidence, submitted as a transaction,
//! convicts it on every member.

mod common;

use aergo_crypto::{check_evidence, find_breach, sign_tx, verify_preconf, PrivateKey};
use aergo_replica::{PreconfOutcome, ReplicaConfig};
use aergo_types::evidence::{BrokenPromise, SlotClock};
use aergo_types::payload::GovCall;
use aergo_types::{Address, Amount, Evidence, Preconfirmation, Tx, TxBody, TxType};
use common::*;

fn transfer(bus: &Bus, from: &PrivateKey, to: &PrivateKey, nonce: u64) -> Tx {
    let chain_id_hash = bus.chain(0).rules().chain_id_hash;
    let body = TxBody::transfer(nonce, &from.address(), &to.address(), Amount::from_aergo(7).unwrap(), &chain_id_hash);
    sign_tx(body, from)
}

/// The member producing the slot after the current one, on the head.
fn next_producer(bus: &Bus) -> usize {
    let next = ((bus.now_ns - T0) / SLOT_NS) as u64 + 1;
    let set = aergo_exec::dpos::producers(&bus.chain(0).head_state()).unwrap();
    let leader = &set[(next % set.len() as u64) as usize];
    bus.members.iter().position(|m| &m.peer.0 == leader).unwrap()
}

/// Runs until the current slot's block is everywhere, then promises `tx`
/// at the next slot's producer; returns the promise and that producer.
fn promise(bus: &mut Bus, tx: Tx) -> (Preconfirmation, usize) {
    let n = next_producer(bus);
    let (_, outcome, out) = bus.replica(n).submit_tx_preconfirmed(tx.clone()).unwrap();
    bus.carry_out(n, out);
    let PreconfOutcome::Preconfirmed(p) = outcome else { panic!("member {n} did not promise: {outcome:?}") };
    // Asked again before the seal: the same place, promised again.
    let (_, again, _) = bus.replica(n).submit_tx_preconfirmed(tx).unwrap();
    let PreconfOutcome::Preconfirmed(q) = again else { panic!("no promise the second time: {again:?}") };
    assert_eq!((q.height, q.index, q.tx_hash.clone()), (p.height, p.index, p.tx_hash.clone()));
    bus.drain();
    (*p, n)
}

#[test]
fn the_next_slots_producer_promises_and_its_block_keeps_the_promise() {
    let (g, bps, accounts) = dpos_genesis(4, None);
    let mut bus = Bus::new(g, bps.clone(), None);
    bus.run_slots(4);
    let head = bus.chain(0).head();
    let n = next_producer(&bus);

    // Another member admits and relays, but does not promise.
    let other = (n + 1) % 4;
    let (_, outcome, out) =
        bus.replica(other).submit_tx_preconfirmed(transfer(&bus, &accounts[0], &accounts[1], 1)).unwrap();
    bus.carry_out(other, out);
    match outcome {
        PreconfOutcome::Elsewhere { producer, reason } => {
            assert_eq!(producer, bps[n].public_key().peer_id());
            assert!(reason.contains("does not produce the next slot"), "{reason}");
        }
        o => panic!("member {other} promised: {o:?}"),
    }
    bus.drain();

    let tx = transfer(&bus, &accounts[2], &accounts[1], 1);
    let (p, by) = promise(&mut bus, tx);
    assert_eq!(by, n);
    assert_eq!(verify_preconf(&p).unwrap(), bps[n].public_key());
    assert_eq!(p.height, head.height + 1);
    let next_slot = (bus.now_ns - T0) / SLOT_NS + 1;
    assert_eq!(p.timestamp_ns, T0 + next_slot * SLOT_NS, "the block's timestamp is its slot's start");

    bus.run_slots(3);
    for i in 0..4 {
        let block = bus.block_at(i, p.height);
        let receipts = bus.chain(i).blocks().block_receipts(&block.computed_hash().unwrap()).unwrap().unwrap();
        assert_eq!(find_breach(&p, &block, &receipts).unwrap(), None, "member {i}: promise kept");
    }
    assert!(bus.penalties.is_empty(), "{:?}", bus.penalties);
}

#[test]
fn a_broken_promise_is_evidence_that_convicts_its_producer_everywhere() {
    let (g, bps, accounts) = dpos_genesis(4, None);
    let config = ReplicaConfig { max_clock_drift_ms: 500, break_promises: true, ..ReplicaConfig::default() };
    let mut bus = Bus::with_config(g.clone(), bps.clone(), None, config);
    bus.run_slots(4);
    let tx = transfer(&bus, &accounts[2], &accounts[1], 1);
    let (p, n) = promise(&mut bus, tx);
    bus.run_slots(2);

    let block = bus.block_at(0, p.height);
    let receipts = bus.chain(0).blocks().block_receipts(&block.computed_hash().unwrap()).unwrap().unwrap();
    let breach = find_breach(&p, &block, &receipts).unwrap().expect("the hook broke the promise");
    assert!(breach.to_string().contains("position 0"), "{breach}");
    let leaves: Vec<_> = receipts.iter().map(|r| r.merkle_hash().unwrap()).collect();
    let proof = BrokenPromise::build(p.clone(), block.header().unwrap().clone(), block.txs(), &leaves).unwrap();
    let evidence = Evidence { broken_promise: Some(proof), ..Default::default() };
    let chain_id_hash = bus.chain(0).rules().chain_id_hash;
    let clock = SlotClock { genesis_timestamp_ns: T0, interval_ms: SLOT_MS };
    let offence = check_evidence(&evidence, &chain_id_hash, &clock).unwrap();
    assert_eq!(offence.producer, bps[n].public_key());

    // Anyone submits it; every member convicts the producer.
    let system = Address::name(aergo_types::address::AERGO_SYSTEM).unwrap();
    let reporter = &accounts[5];
    let body = TxBody::new(TxType::Governance, 1, &reporter.address(), Some(&system), Amount::ZERO, &chain_id_hash)
        .with_payload(GovCall::Evidence(Box::new(evidence)).payload());
    let (_, out) = bus.replica((n + 2) % 4).submit_tx(sign_tx(body, reporter)).unwrap();
    bus.carry_out((n + 2) % 4, out);
    bus.run_slots(8);
    let peer = bps[n].public_key().peer_id();
    for i in 0..4 {
        let state = bus.chain(i).head_state();
        assert!(aergo_exec::slashing::is_slashed(&state, &peer).unwrap(), "member {i}");
        let set = aergo_exec::dpos::producers(&state).unwrap();
        assert!(!set.contains(&peer), "member {i}: the convicted producer left the set: {set:?}");
    }
    // The chain goes on with three producers.
    let before = bus.chain(0).head().height;
    bus.run_slots(6);
    assert!(bus.chain(0).head().height > before + 2, "warnings {:?}", bus.warnings);
}

/// A producer that crashes after promising and restarts before its slot
/// never breaks the promise: it keeps it when it produces the block (its
/// open block rebuilt from the pre-confirmation log), and the promise is
/// void when it misses the slot (here: the votes certifying its parent
/// were lost with its memory) and another producer's block takes the
/// height.
#[test]
fn a_producer_restarted_after_promising_never_breaks_the_promise() {
    let (g, bps, accounts) = dpos_genesis(4, None);
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut bus = Bus::new(g, bps.clone(), Some(dirs.iter().map(|d| d.path().to_path_buf()).collect()));
    bus.run_slots(4);
    let tx = transfer(&bus, &accounts[2], &accounts[1], 1);
    let (p, n) = promise(&mut bus, tx);
    bus.crash(n);
    bus.start(n);
    bus.run_slots(3);
    for i in 0..4 {
        let block = bus.block_at(i, p.height);
        let receipts = bus.chain(i).blocks().block_receipts(&block.computed_hash().unwrap()).unwrap().unwrap();
        let by_n = block.header().unwrap().pub_key == bps[n].public_key().to_libp2p_bytes();
        match find_breach(&p, &block, &receipts) {
            Ok(None) => assert!(by_n),
            Ok(Some(breach)) => panic!("member {i}: the promise was broken: {breach}"),
            Err(e) => assert!(!by_n, "member {i}: the producer's own block is no case: {e}"),
        }
    }
}
