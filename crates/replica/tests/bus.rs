//! Several replicas wired by an in-test message bus (no network): BFT-DPoS
//! over real execution, real blocks and the real chain store.

mod common;

use common::*;

#[test]
fn dpos_produces_and_finalizes() {
    let (g, bps, _) = dpos_genesis(4, None);
    let mut bus = Bus::new(g, bps, None);
    bus.run_slots(40);
    let libs = bus.lib_heights();
    assert!(libs.iter().all(|h| *h >= 30), "LIBs {libs:?} after 40 slots; warnings {:?}", bus.warnings);
    assert!(bus.penalties.is_empty(), "{:?}", bus.penalties);
    let head = bus.chain(0).head();
    assert!(head.height >= 38, "head {}", head.height);
}

use aergo_crypto::{sign_block_header, sign_tx};
use aergo_replica::{Offence, Verdict};
use aergo_types::{Amount, Block, Hash, TxBody};

fn transfer(bus: &Bus, from: &aergo_crypto::PrivateKey, to: &aergo_crypto::PrivateKey, nonce: u64) -> aergo_types::Tx {
    let chain_id_hash = bus.chain(0).rules().chain_id_hash;
    let body = TxBody::transfer(nonce, &from.address(), &to.address(), Amount::from_aergo(7).unwrap(), &chain_id_hash);
    sign_tx(body, from)
}

/// How many main-chain blocks of member `i` hold the transaction.
fn inclusions(bus: &Bus, i: usize, tx: &Hash) -> usize {
    let chain = bus.chain(i);
    (1..=chain.head().height).filter(|h| bus.block_at(i, *h).txs().iter().any(|t| t.hash == tx.to_vec())).count()
}

#[test]
fn a_transaction_is_included_once_and_final_everywhere() {
    let (g, bps, accounts) = dpos_genesis(4, None);
    let mut bus = Bus::new(g, bps, None);
    bus.run_slots(4);
    let tx = transfer(&bus, &accounts[0], &accounts[1], 1);
    let (hash, out) = bus.replica(2).submit_tx(tx.clone()).unwrap();
    bus.carry_out(2, out);
    bus.drain();
    // Gossip reached the pools of the others.
    assert!(bus.replica(0).with_pool(|p| p.get(&hash).is_some()));
    bus.run_slots(12);
    for i in 0..4 {
        assert_eq!(inclusions(&bus, i, &hash), 1, "member {i}: {:?} {:?}", bus.penalties, bus.warnings);
        let loc = bus.chain(i).blocks().tx_location(&hash).unwrap().expect("indexed");
        let height = bus.chain(i).blocks().block_by_hash(&loc.block_hash).unwrap().unwrap().header().unwrap().block_no;
        assert!(height <= bus.chain(i).lib().height, "member {i}: tx at {height} not final yet");
        let recipient = aergo_exec::account(&bus.chain(i).head_state(), &accounts[1].address()).unwrap();
        assert_eq!(recipient.balance, Amount::from_aergo(1_000_007).unwrap());
        assert!(bus.replica(i).with_pool(|p| p.is_empty()), "member {i} still holds it in its pool");
    }
    // Sending it again is refused: its nonce is used.
    assert!(bus.replica(1).submit_tx(tx).unwrap_err().is_rejection());
}

/// Member `victim` gets blocks forged by a producer's key and by others
/// and must reject each, penalise the sender, and keep working.
#[test]
fn invalid_blocks_are_rejected_and_their_sender_penalised() {
    let (g, bps, _) = dpos_genesis(4, None);
    let keys = bps.clone();
    let mut bus = Bus::new(g, bps, None);
    bus.run_slots(8);
    let victim = 3;
    let sender = 1;
    let lib_before = bus.chain(victim).lib().height;
    let head = bus.chain(victim).head();
    let block = bus.block_at(victim, head.height);
    let header = block.header().unwrap().clone();
    let producer = aergo_crypto::verify_block_header(&header).unwrap();
    let pkey = keys.iter().find(|k| k.public_key() == producer).unwrap().clone();
    let other = keys.iter().find(|k| k.public_key() != producer).unwrap().clone();
    let resign = |mut h: aergo_types::BlockHeader, key: &aergo_crypto::PrivateKey| {
        sign_block_header(&mut h, key);
        Block::new(h, block.txs().to_vec()).unwrap().encode()
    };
    let count = |bus: &Bus, offence: Offence| {
        bus.penalties
            .iter()
            .filter(|p| p.by == victim && p.offence == offence && p.peer == bus.members[sender].peer)
            .count()
    };

    // Bad producer signature: a byte of the signature flipped.
    let mut bad_sig = header.clone();
    let last = bad_sig.sign.len() - 1;
    bad_sig.sign[last] ^= 1;
    let bytes = Block::new(bad_sig, block.txs().to_vec()).unwrap().encode();
    assert_eq!(bus.inject_block(sender, victim, &bytes), Verdict::Reject);
    assert_eq!(count(&bus, Offence::InvalidBlock), 1);

    // Signed by a producer that does not own the slot.
    let mut wrong_owner = header.clone();
    wrong_owner.timestamp += 1;
    assert_eq!(bus.inject_block(sender, victim, &resign(wrong_owner, &other)), Verdict::Reject);
    assert_eq!(count(&bus, Offence::InvalidBlock), 2);

    // The right producer, but a slot it does not own (the next one).
    let mut wrong_slot = header.clone();
    wrong_slot.timestamp += SLOT_NS;
    assert_eq!(bus.inject_block(sender, victim, &resign(wrong_slot, &pkey)), Verdict::Reject);
    assert_eq!(count(&bus, Offence::InvalidBlock), 3);

    // A state root execution does not give.
    let mut bad_root = header.clone();
    bad_root.timestamp += 1;
    bad_root.blocks_root_hash = Hash::sha256(b"not the state").to_vec();
    assert_eq!(bus.inject_block(sender, victim, &resign(bad_root, &pkey)), Verdict::Reject);
    assert_eq!(count(&bus, Offence::InvalidBlock), 4);
    assert!(bus.penalties.iter().any(|p| p.reason.contains("state root")), "{:?}", bus.penalties);

    // A certificate that is not a quorum for the parent (one signature dropped).
    let mut qc = aergo_consensus::dpos::Qc::decode(&header.consensus).unwrap();
    if !qc.is_implicit() {
        qc.signatures.pop();
        let mut bad_qc = header.clone();
        bad_qc.timestamp += 1;
        bad_qc.consensus = qc.encode();
        let v = bus.inject_block(sender, victim, &resign(bad_qc, &pkey));
        assert_eq!(v, Verdict::Reject);
        assert!(bus.penalties.iter().any(|p| p.reason.contains("certificate")), "{:?}", bus.penalties);
    }

    // A block of another chain, its parent unknown here: invalid, not an
    // orphan to wait for (and no request for the range below it).
    let mut foreign = header.clone();
    foreign.chain_id = aergo_types::ChainId::new(0, false, false, "other.chain", "dpos").unwrap().to_bytes();
    foreign.prev_block_hash = Hash::sha256(b"their parent").to_vec();
    foreign.block_no = header.block_no + 3;
    let orphans = bus.replica(victim).orphan_count();
    let peer = bus.members[sender].peer.clone();
    let step = bus.replica(victim).on_block_bytes(&resign(foreign, &pkey), &peer).unwrap();
    assert_eq!(step.verdict, Verdict::Reject);
    assert!(
        step.outputs.iter().any(
            |o| matches!(o, aergo_replica::Output::Penalise { offence: Offence::InvalidBlock, reason, .. } if reason.contains("chain id"))
        ),
        "{:?}",
        step.outputs
    );
    assert!(
        !step.outputs.iter().any(|o| matches!(o, aergo_replica::Output::RequestBlocks { .. })),
        "{:?}",
        step.outputs
    );
    assert_eq!(bus.replica(victim).orphan_count(), orphans);

    // Garbage and oversized bytes.
    assert_eq!(bus.inject_block(sender, victim, b"\x0a\xff\xff\xff\xff\x0f"), Verdict::Reject);
    let huge = vec![0u8; aergo_types::block::BLOCK_MAX_ENCODED_BYTES + 1];
    assert_eq!(bus.inject_block(sender, victim, &huge), Verdict::Reject);
    assert!(count(&bus, Offence::Malformed) >= 2);
    // A malformed vote.
    let step = bus.replica(victim).on_consensus_msg(b"garbage", &bus.members[sender].peer.clone()).unwrap();
    assert_eq!(step.verdict, Verdict::Reject);

    // The same block again is a harmless duplicate.
    assert_eq!(bus.inject_block(sender, victim, &block.encode()), Verdict::Ignore);

    // The victim keeps working with the others.
    bus.run_slots(8);
    assert!(bus.chain(victim).lib().height >= lib_before + 5, "LIB stuck at {}", bus.chain(victim).lib().height);
    assert_eq!(bus.chain(victim).head().hash, bus.chain(0).head().hash);
}

#[test]
fn double_production_is_evidence_and_not_relayed() {
    let (g, bps, accounts) = dpos_genesis(4, None);
    let keys = bps.clone();
    let mut bus = Bus::new(g, bps, None);
    bus.run_slots(6);
    let head = bus.chain(0).head();
    let block = bus.block_at(0, head.height);
    let header = block.header().unwrap();
    let producer = aergo_crypto::verify_block_header(header).unwrap();
    let p = keys.iter().position(|k| k.public_key() == producer).unwrap();
    // Someone other than the producer receives the twin.
    let victim = (p + 1) % 4;
    assert_eq!(bus.chain(victim).head().hash, head.hash);
    // A second, valid block of the same producer in the same slot, on the
    // same parent with the same certificate, holding a transaction.
    let parent = Hash::from_slice("prev", &header.prev_block_hash).unwrap();
    let tx = {
        let chain_id_hash = bus.chain(0).rules().chain_id_hash;
        let body =
            TxBody::transfer(1, &accounts[3].address(), &accounts[4].address(), Amount::ONE_AERGO, &chain_id_hash);
        aergo_exec::verify_tx(sign_tx(body, &accounts[3]), bus.chain(0).rules()).unwrap()
    };
    let twin =
        bus.chain(p).build_block(&parent, vec![tx], &keys[p], header.timestamp + 1, header.consensus.clone()).unwrap();
    assert_ne!(twin.block.computed_hash().unwrap(), head.hash);
    let verdict = bus.inject_block(p, victim, &twin.block.encode());
    assert_eq!(verdict, Verdict::Reject, "the twin is not relayed");
    assert!(bus
        .penalties
        .iter()
        .any(|x| x.by == victim && x.offence == Offence::Equivocation && x.peer == bus.members[p].peer));
    // Relayed by someone else (an honest node that saw the twin first), it
    // is only not relayed further: the relayer is not to blame.
    let third = (p + 2) % 4;
    let penalties = bus.penalties.len();
    assert_eq!(bus.inject_block(victim, third, &twin.block.encode()), Verdict::Ignore);
    assert_eq!(bus.penalties.len(), penalties, "{:?}", &bus.penalties[penalties..]);
    // The network goes on.
    let lib = bus.min_lib();
    bus.run_slots(8);
    assert!(bus.min_lib() >= lib + 5);
}

#[test]
fn a_crashed_producer_restarts_from_its_persisted_state() {
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let (g, bps, _) = dpos_genesis(4, None);
    let mut bus = Bus::new(g, bps, Some(dirs.iter().map(|d| d.path().to_path_buf()).collect()));
    bus.run_slots(10);
    let before = bus.chain(2).lib().height;
    assert!(before >= 5);
    bus.crash(2);
    // Three of four producers are a quorum: finality goes on.
    bus.run_slots(10);
    assert!(bus.min_lib() >= before + 5, "{:?}", bus.lib_heights());
    bus.start(2);
    assert!(bus.chain(2).lib().height >= before, "restart keeps the LIB");
    let safety = bus.replica(2).dpos_status().unwrap().safety;
    assert!(safety.last_voted_slot > 0, "the safety state was persisted and loaded: {safety:?}");
    bus.run_slots(12);
    let libs = bus.lib_heights();
    assert!(libs[2] + 2 >= libs[0], "the restarted member follows: {libs:?}");
    assert_eq!(bus.chain(2).head().hash, bus.chain(0).head().hash);
    // Crash every member at once and restart all: the chain resumes.
    for i in 0..4 {
        bus.crash(i);
    }
    for i in 0..4 {
        bus.start(i);
    }
    let lib = bus.min_lib();
    bus.run_slots(10);
    assert!(bus.min_lib() >= lib + 5, "{:?}", bus.lib_heights());
    assert!(bus.penalties.is_empty(), "{:?}", bus.penalties);
}

#[test]
fn a_member_that_missed_many_blocks_catches_up_by_sync() {
    // Five producers: with one away, four remain, more than two thirds.
    let (g, bps, _) = dpos_genesis(5, None);
    let mut bus = Bus::new(g, bps, None);
    bus.run_slots(4);
    // Member 4 loses every link for 40 slots (its memory chain survives).
    for j in 0..4 {
        bus.cut.insert((j, 4));
        bus.cut.insert((4, j));
    }
    bus.run_slots(40);
    let ahead = bus.chain(0).lib().height;
    assert!(bus.chain(4).head().height + 20 < bus.chain(0).head().height);
    bus.cut.clear();
    // The next gossiped block has an unknown parent: the member asks its
    // sender for the range and catches up.
    bus.run_slots(10);
    let libs = bus.lib_heights();
    assert!(libs[4] > ahead, "{libs:?}");
    assert_eq!(bus.chain(4).head().hash, bus.chain(0).head().hash);
    assert!(bus.penalties.is_empty(), "{:?}", bus.penalties);
}

/// A solo chain whose genesis names its producer: other nodes follow it,
/// never seal blocks of their own, and refuse blocks sealed by others.
#[test]
fn a_solo_network_has_one_producer_and_followers() {
    let producer = aergo_crypto::dev_key("solo", 0);
    let follower = aergo_crypto::dev_key("solo", 1);
    let chain_id = aergo_types::ChainId::new(0, false, false, "solo.test", "sbp").unwrap();
    let bps = vec![producer.public_key().peer_id()];
    let (g, accounts) = aergo_crypto::dev_genesis(chain_id, T0, 2, Amount::from_aergo(1_000).unwrap(), bps).unwrap();
    let mut bus = Bus::new(g, vec![producer, follower.clone()], None);
    assert_eq!(bus.replica(0).role().unwrap(), aergo_replica::Role::Solo);
    assert_eq!(bus.replica(1).role().unwrap(), aergo_replica::Role::Follower);
    // Sent to the follower, gossiped to the producer, sealed there.
    let tx = transfer(&bus, &accounts[0], &accounts[1], 1);
    let (hash, out) = bus.replica(1).submit_tx(tx).unwrap();
    bus.carry_out(1, out);
    bus.drain();
    bus.run_slots(8);
    for i in 0..2 {
        assert_eq!(inclusions(&bus, i, &hash), 1, "member {i}: {:?} {:?}", bus.penalties, bus.warnings);
    }
    let head = bus.chain(0).head();
    assert_eq!(bus.chain(1).head().hash, head.hash);
    assert_eq!(bus.chain(1).lib().hash, head.hash, "solo blocks are final at once, also at followers");
    // A block sealed by the follower's key is refused and its sender blamed.
    let block = bus.block_at(0, head.height);
    let mut h = block.header().unwrap().clone();
    h.block_no += 1;
    h.prev_block_hash = head.hash.to_vec();
    h.timestamp += 1_000_000_000;
    sign_block_header(&mut h, &follower);
    let forged = Block::new(h, block.txs().to_vec()).unwrap().encode();
    assert_eq!(bus.inject_block(1, 0, &forged), Verdict::Reject);
    assert!(bus.penalties.iter().any(|p| p.by == 0 && p.reason.contains("genesis bps")), "{:?}", bus.penalties);
    assert_eq!(bus.chain(0).head().hash, head.hash);
}

/// A vote sent again (the same bytes: signatures are deterministic), and a
/// vote for a block that is already final, are ignored without blaming the
/// relayer, and change neither the head nor the LIB.
#[test]
fn replayed_votes_are_ignored_without_blame() {
    use aergo_consensus::dpos::Vote;
    let (g, bps, _) = dpos_genesis(4, None);
    let (genesis_ns, chain_tag) = (g.timestamp, g.chain_id.hash());
    let mut bus = Bus::new(g, bps.clone(), None);
    bus.run_slots(10);
    let slot_of = |ts: i64| ((ts - genesis_ns) / SLOT_NS) as u64;
    let (head, lib) = (bus.chain(0).head(), bus.chain(0).lib());
    let penalties = bus.penalties.len();
    let relayer = bus.members[2].peer.clone();
    let replay = Vote::sign(&chain_tag, slot_of(head.timestamp_ns), head.hash, &bps[1]).encode();
    let old = bus.block_at(0, 2);
    let old_hash = old.computed_hash().unwrap();
    let stale = Vote::sign(&chain_tag, slot_of(old.header().unwrap().timestamp), old_hash, &bps[1]).encode();
    for (what, vote) in [("replayed", &replay), ("stale", &stale)] {
        for _ in 0..3 {
            let step = bus.replica(0).on_consensus_msg(vote, &relayer).unwrap();
            assert_eq!(step.verdict, Verdict::Ignore, "{what} vote");
            assert!(step.outputs.is_empty(), "{what} vote: {:?}", step.outputs);
        }
    }
    assert_eq!(bus.penalties.len(), penalties, "{:?}", bus.penalties);
    assert_eq!((bus.chain(0).head(), bus.chain(0).lib()), (head, lib.clone()));
    bus.run_slots(4);
    assert!(bus.chain(0).lib().height > lib.height, "the LIB stayed at {}", lib.height);
}

/// What no block can run (a type or recipient this chain does not execute,
/// a system call that does not parse) is refused at submission with its
/// reason, and ignored (not relayed, nobody blamed) from gossip.
#[test]
fn unrunnable_transactions_are_refused_at_submission_and_ignored_in_gossip() {
    use aergo_types::{Address, RejectReason, TxType};
    let (g, bps, accounts) = dpos_genesis(4, None);
    let mut bus = Bus::new(g, bps, None);
    bus.run_slots(2);
    let chain = bus.chain(0).rules().chain_id_hash;
    let k = &accounts[0];
    let tx = |tx_type: TxType, to: &Address, payload: &[u8]| {
        let body = TxBody::new(tx_type, 1, &k.address(), Some(to), Amount::ZERO, &chain).with_payload(payload.to_vec());
        sign_tx(body, k)
    };
    let contract = Address::contract_from(&k.address(), 1);
    let system = Address::name(aergo_types::address::AERGO_SYSTEM).unwrap();
    for (t, reason) in [
        (tx(TxType::Redeploy, &contract, b"x"), RejectReason::Unsupported),
        (tx(TxType::FeeDelegation, &contract, b"{}"), RejectReason::Unsupported),
        (tx(TxType::Governance, &Address::name("aergo.enterprise").unwrap(), b"{}"), RejectReason::Unsupported),
        (tx(TxType::Governance, &Address::name("aergo.name").unwrap(), b"{}"), RejectReason::BadPayload),
        (tx(TxType::Governance, &system, b"{not json"), RejectReason::BadPayload),
    ] {
        match bus.replica(0).submit_tx(t.clone()) {
            Err(aergo_replica::ReplicaError::TxRejected(r)) => assert_eq!(r.reason(), reason, "{r}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let batch = aergo_types::encode_tx_batch(&[t.encode()]);
        let step = bus.replica(1).on_gossip_txs(&batch, &bus.members[2].peer.clone()).unwrap();
        assert_eq!(step.verdict, Verdict::Ignore);
        assert!(step.outputs.is_empty());
    }
    for i in 0..2 {
        assert!(bus.replica(i).with_pool(|p| p.is_empty()), "member {i} admitted one");
    }
    assert!(bus.penalties.is_empty(), "{:?}", bus.penalties);
}
