//! Slashing through the block builder: evidence convicts a producer once,
//! cuts its stake (reward to the reporter, the rest burned), takes it out
//! of the set at the next block, and bad or repeated evidence changes
//! nothing. A child of `gov_tests`, whose chain driver it uses.

use aergo_crypto::sign_block;
use aergo_types::evidence::{vote_digest, DoubleBlock, DoubleVote, SignedVote};
use aergo_types::{BlockHeader, Evidence};

use super::*;
use crate::slashing::{is_slashed, offences, total_burned, REPORTER_SHARE_PERCENT};

fn header(key: &PrivateKey, slot: u64, salt: &[u8]) -> BlockHeader {
    let h = BlockHeader {
        chain_id: dpos_chain().to_bytes(),
        prev_block_hash: Hash::sha256(b"parent").to_vec(),
        block_no: 9,
        timestamp: slots::slot_start_ns(slot, GENESIS_TS, 1000).unwrap() + 3,
        blocks_root_hash: Hash::sha256(salt).to_vec(),
        ..Default::default()
    };
    sign_block(h, vec![], key).unwrap().header.unwrap()
}

fn double_block(key: &PrivateKey, slot: u64) -> Evidence {
    let (a, b) = (header(key, slot, b"a"), header(key, slot, b"b"));
    Evidence { double_block: Some(DoubleBlock { first: Some(a), second: Some(b) }), ..Default::default() }
}

fn vote(key: &PrivateKey, slot: u64, block: &[u8]) -> SignedVote {
    let block = Hash::sha256(block);
    let sig = key.sign_hash(&vote_digest(&dpos_chain().hash(), slot, &block));
    SignedVote {
        slot,
        block: block.to_vec(),
        voter: key.public_key().to_compressed().to_vec(),
        signature: sig.to_compact().to_vec(),
    }
}

fn payload(e: &Evidence) -> String {
    String::from_utf8(GovCall::Evidence(Box::new(e.clone())).payload()).unwrap()
}

impl Sim {
    /// A signed transaction from a key that is not one of the dev accounts.
    fn tx_from(&self, view: &dyn TableStore, key: &PrivateKey, body: impl FnOnce(u64) -> TxBody) -> VerifiedTx {
        let nonce = account(view, &key.address()).unwrap().nonce + 1;
        verify_tx(sign_tx(body(nonce), key), &self.rules).unwrap()
    }
}

/// Gives producer 1's own account 1,000 aergo, stakes 500 of it and
/// votes it for itself; returns the chain.
fn chain_with_a_staked_producer() -> Sim {
    let mut sim = Sim::new(Setup::default());
    let bp = bp_key(1);
    let (mut b, info) = sim.begin();
    let fund = sim.tx_from(b.view(), &sim.keys[0].clone(), |n| {
        TxBody::transfer(n, &sim.addr(0), &bp.address(), aergo(1000), &sim.rules.chain_id_hash)
    });
    b.push(fund).unwrap();
    let system = Address::name(AERGO_SYSTEM).unwrap();
    let chain = sim.rules.chain_id_hash;
    let gov_tx = |n: u64, amount: Amount, p: &str| {
        TxBody::new(TxType::Governance, n, &bp.address(), Some(&system), amount, &chain)
            .with_payload(p.as_bytes().to_vec())
    };
    let stake = sim.tx_from(b.view(), &bp, |n| gov_tx(n, aergo(500), STAKE));
    b.push(stake).unwrap();
    let vote = sim.tx_from(b.view(), &bp, |n| gov_tx(n, Amount::ZERO, &vote_bp(&[bp_id(1)])));
    b.push(vote).unwrap();
    sim.commit(b, &info);
    sim
}

#[test]
fn double_production_slashes_rewards_burns_and_unschedules_once() {
    let mut sim = chain_with_a_staked_producer();
    let bp = bp_key(1);
    let before = sim.view();
    assert_eq!(stake_of(&before, &bp.address()).unwrap().amount, aergo(500));
    assert_eq!(candidate_votes(&before, &bp_id(1)).unwrap(), aergo(500));
    let staked_before = total_staked(&before).unwrap();
    let reporter = 2;
    let reporter_before = account(&before, &sim.addr(reporter)).unwrap().balance;

    let evidence = double_block(&bp, 7);
    let p = payload(&evidence);
    let out = sim.block(&[(reporter, Amount::ZERO, &p)]);
    assert_eq!(out.receipts[0].status, "SUCCESS", "{:?}", out.receipts[0]);
    assert_eq!(out.receipts[0].events[0].event_name, "slash");

    let view = sim.view();
    // 10% of 500 slashed: 5 to the reporter, 45 burned.
    let slashed = aergo(50);
    let reward = Amount::from_aer(slashed.aer() * REPORTER_SHARE_PERCENT / 100);
    assert_eq!(reward, aergo(5));
    assert_eq!(stake_of(&view, &bp.address()).unwrap().amount, aergo(450));
    assert_eq!(total_staked(&view).unwrap(), staked_before.checked_sub(slashed).unwrap());
    assert_eq!(candidate_votes(&view, &bp_id(1)).unwrap(), aergo(450), "its vote weighs its new stake");
    let paid = reporter_before.checked_add(reward).unwrap().checked_sub(fee_for(&p)).unwrap();
    assert_eq!(account(&view, &sim.addr(reporter)).unwrap().balance, paid);
    assert_eq!(total_burned(&view).unwrap(), aergo(45));
    assert_eq!(sum_balances(&view).checked_add(total_burned(&view).unwrap()).unwrap(), Amount::TOTAL_SUPPLY);
    assert!(is_slashed(&view, &bp_id(1)).unwrap());
    let records = offences(&view, 10).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].kind.as_str(), records[0].producer.as_str(), records[0].at),
        ("double_block", bp_id(1).as_str(), 7)
    );
    assert_eq!((records[0].slashed, records[0].reward, records[0].height), (slashed, reward, sim.height));

    // Its rating shows 0 at once; the next block elects without it,
    // although no epoch ended.
    assert!(producers(&view).unwrap().contains(&bp_id(1)));
    let shown = crate::gov_read::producer_set(&view).unwrap();
    let rating = |id: &str| shown.producers.iter().find(|p| p.peer_id == id).unwrap().rating_percent;
    assert_eq!((rating(&bp_id(1)), rating(&bp_id(0))), (0, 100));
    sim.block(&[]);
    let set = producers(&sim.view()).unwrap();
    assert_eq!(set, vec![bp_id(0), bp_id(2)], "convicted producer leaves at once");
    // ... and is not elected at the epoch either, votes or not.
    sim.run_to_epoch_end();
    assert!(!producers(&sim.view()).unwrap().contains(&bp_id(1)));

    // The same offence again (other order, or a third block of the slot)
    // is refused at admission and in a block, and changes nothing.
    let root = sim.root;
    let swapped = {
        let d = evidence.double_block.clone().unwrap();
        Evidence { double_block: Some(DoubleBlock { first: d.second, second: d.first }), ..Default::default() }
    };
    for again in [evidence.clone(), swapped, double_block(&bp, 7)] {
        let tx = sim.tx(&sim.view(), reporter, Amount::ZERO, &payload(&again));
        let err = check_runnable(&sim.view(), tx.tx(), 1).unwrap_err();
        assert!(matches!(err, ExecError::EvidenceRejected { .. }), "{err}");
        assert!(err.to_string().contains("was punished at height"), "{err}");
        let (mut b, _) = sim.begin();
        assert!(sim.call(&mut b, reporter, Amount::ZERO, &payload(&again)).is_err());
    }
    assert_eq!(sim.root, root);
    // Another slot is another offence.
    let out = sim.block(&[(reporter, Amount::ZERO, &payload(&double_block(&bp, 8)))]);
    assert_eq!(out.receipts[0].status, "SUCCESS");
    assert_eq!(stake_of(&sim.view(), &bp.address()).unwrap().amount, aergo(405));
    assert_eq!(offences(&sim.view(), 10).unwrap().len(), 2);
}

#[test]
fn a_double_vote_convicts_a_producer_without_stake() {
    let mut sim = Sim::new(Setup::default());
    let bp = bp_key(0);
    let e = Evidence {
        double_vote: Some(DoubleVote { first: Some(vote(&bp, 3, b"x")), second: Some(vote(&bp, 3, b"y")) }),
        ..Default::default()
    };
    let out = sim.block(&[(1, Amount::ZERO, &payload(&e))]);
    assert_eq!(out.receipts[0].status, "SUCCESS");
    let view = sim.view();
    assert!(is_slashed(&view, &bp_id(0)).unwrap());
    assert_eq!(offences(&view, 10).unwrap()[0].slashed, Amount::ZERO);
    assert_eq!(total_burned(&view).unwrap(), Amount::ZERO);
}

#[test]
fn evidence_that_proves_nothing_is_refused_and_changes_nothing() {
    let sim = chain_with_a_staked_producer();
    let bp = bp_key(1);
    let stranger = PrivateKey::generate().unwrap();
    let mut forged = double_block(&bp, 7);
    forged.double_block.as_mut().unwrap().second.as_mut().unwrap().block_no = 10;
    let two_slots = Evidence {
        double_block: Some(DoubleBlock { first: Some(header(&bp, 7, b"a")), second: Some(header(&bp, 8, b"b")) }),
        ..Default::default()
    };
    let cases: Vec<(String, &str)> = vec![
        (payload(&forged), "signature"),
        (payload(&two_slots), "not one slot"),
        (payload(&double_block(&stranger, 7)), "not a producer or candidate"),
        (payload(&Evidence::default()), "no offence given"),
        (r#"{"Name":"v1evidence","Args":["zz"]}"#.to_string(), "evidence hex"),
        (r#"{"Name":"v1evidence"}"#.to_string(), "one argument"),
    ];
    let root = sim.root;
    for (p, needle) in cases {
        let (mut b, _) = sim.begin();
        let err = sim.call(&mut b, 2, Amount::ZERO, &p).unwrap_err();
        assert!(err.to_string().contains(needle), "{p}: {err} lacks {needle:?}");
        let tx = sim.tx(&sim.view(), 2, Amount::ZERO, &p);
        assert!(check_runnable(&sim.view(), tx.tx(), 1).is_err(), "admission refuses {p}");
    }
    // Evidence carries no amount.
    let (mut b, _) = sim.begin();
    let err = sim.call(&mut b, 2, aergo(1), &payload(&double_block(&bp, 7))).unwrap_err();
    assert!(err.to_string().contains("moves no AERGO"), "{err}");
    assert_eq!(sim.root, root);
    assert!(!is_slashed(&sim.view(), &bp_id(1)).unwrap());
}
