//! Branches, tags and auto merges through the block builder: a small chain
//! of blocks on one store, every transaction signed as a client would.

use super::*;
use aergo_crypto::{dev_genesis, sign_tx, PrivateKey};
use aergo_store::TableStore;
use aergo_types::address::AERGO_BRANCH;
use aergo_types::payload::{BranchCall, MergePolicy, MergeStrategy};
use aergo_types::{ChainId, Receipt, RejectReason, TxBody, TxType};

use crate::branches::{self, MAIN};

struct Chain {
    store: Store,
    root: Hash,
    height: u64,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
    /// Next nonce per (lane, key index).
    nonces: std::collections::BTreeMap<(Hash, usize), u64>,
}

fn aergo(n: u128) -> Amount {
    Amount::from_aergo(n).unwrap()
}

impl Chain {
    fn new() -> Chain {
        let chain = ChainId::dev();
        let (genesis, keys) = dev_genesis(chain.clone(), 0, 4, aergo(1000), vec![]).unwrap();
        let store = Store::memory();
        let root = genesis_state(&store, &genesis).unwrap();
        let rules = ChainRules { chain_id_hash: chain.hash(), public: false };
        Chain { store, root, height: 0, keys, rules, nonces: Default::default() }
    }

    fn main(&self) -> Snapshot {
        Snapshot::open(&self.store, self.root)
    }

    fn lane(&self, branch: &str) -> Hash {
        if branch == MAIN {
            return self.rules.chain_id_hash;
        }
        branches::read(&self.main(), branch).unwrap().unwrap().lane
    }

    fn next_nonce(&mut self, lane: Hash, who: usize) -> u64 {
        let n = self.nonces.entry((lane, who)).or_insert(1);
        *n += 1;
        *n - 1
    }

    fn sign(&mut self, who: usize, lane: Hash, body: impl FnOnce(u64, &Address, &Hash) -> TxBody) -> Tx {
        let nonce = self.next_nonce(lane, who);
        sign_tx(body(nonce, &self.keys[who].address(), &lane), &self.keys[who])
    }

    fn transfer(&mut self, branch: &str, from: usize, to: usize, n: u128) -> Tx {
        let lane = self.lane(branch);
        let to = self.keys[to].address();
        self.sign(from, lane, |nonce, from, lane| TxBody::transfer(nonce, from, &to, aergo(n), lane))
    }

    fn call(&mut self, who: usize, call: BranchCall) -> Tx {
        let lane = self.rules.chain_id_hash;
        let registry = Address::name(AERGO_BRANCH).unwrap();
        self.sign(who, lane, |nonce, from, lane| {
            TxBody::new(TxType::Governance, nonce, from, Some(&registry), Amount::ZERO, lane)
                .with_payload(call.payload())
        })
    }

    /// One block of `txs`; returns each one's result.
    fn block(&mut self, txs: Vec<Tx>) -> Vec<Result<Receipt, ExecError>> {
        self.height += 1;
        let ctx =
            BlockContext { height: self.height, timestamp_ns: self.height as i64, coinbase: self.keys[3].address() };
        let main = self.main();
        let mut b = BlockBuilder::new(&self.store, self.root, ctx).unwrap();
        let mut out = Vec::new();
        for tx in txs {
            let r = verify_tx_in(tx, &self.rules, &main).and_then(|v| b.push(v).cloned());
            out.push(r);
        }
        self.root = b.finish().unwrap().state_root;
        out
    }

    fn balance(&self, branch: &str, who: usize) -> Amount {
        let state = branches::open(&self.store, &self.main(), branch).unwrap().unwrap();
        account(&state, &self.keys[who].address()).unwrap().balance
    }

    fn create(&mut self, who: usize, name: &str, base: &str, at: Option<u64>) -> Result<Receipt, ExecError> {
        let call = BranchCall::Create {
            name: name.into(),
            base: base.into(),
            at,
            policy: MergePolicy::Auto,
            writers: vec![self.keys[1].address()],
        };
        let tx = self.call(who, call);
        self.block(vec![tx]).remove(0)
    }
}

/// The message of a merge that was included but failed.
fn failed(r: Result<Receipt, ExecError>) -> String {
    let r = r.unwrap();
    assert_eq!(r.status, "ERROR", "{r:?}");
    r.ret
}

fn reason(r: &Result<Receipt, ExecError>) -> Option<RejectReason> {
    r.as_ref().err().and_then(ExecError::reason)
}

#[test]
fn a_branch_forks_the_state_and_diverges_without_touching_main() {
    let mut c = Chain::new();
    let t = c.transfer(MAIN, 0, 2, 5);
    assert!(c.block(vec![t])[0].is_ok());
    let r = c.create(0, "feature", MAIN, None).unwrap();
    assert_eq!(r.events[0].event_name, "branchCreated");
    let info = branches::read(&c.main(), "feature").unwrap().unwrap();
    assert_eq!((info.fork_height, info.created_height, info.writers.len()), (1, 2, 1));
    // Both sides start equal, then diverge.
    assert_eq!(c.balance("feature", 2), c.balance(MAIN, 2));
    let on_branch = c.transfer("feature", 1, 2, 100);
    let on_main = c.transfer(MAIN, 1, 2, 7);
    let rs = c.block(vec![on_branch, on_main]);
    assert!(rs.iter().all(Result::is_ok), "{rs:?}");
    assert_eq!(c.balance("feature", 2), aergo(1105));
    assert_eq!(c.balance(MAIN, 2), aergo(1012));
    let info = branches::read(&c.main(), "feature").unwrap().unwrap();
    assert_eq!((info.head_height, info.txs), (3, 1));
    // The branch's own state has no registry and no history.
    let state = branches::open(&c.store, &c.main(), "feature").unwrap().unwrap();
    assert!(state.table(branches::BRANCHES).unwrap().is_none());
    assert!(state.table(branches::HISTORY).unwrap().is_none());
    // A fork at a past height sees that height's state.
    c.create(0, "old", MAIN, Some(0)).unwrap();
    assert_eq!(c.balance("old", 2), aergo(1000));
}

#[test]
fn branch_transactions_cannot_be_replayed_elsewhere_and_need_a_writer() {
    let mut c = Chain::new();
    c.create(0, "a", MAIN, None).unwrap();
    c.create(0, "b", MAIN, None).unwrap();
    let tx = c.transfer("a", 0, 2, 1);
    // The same signed bytes: applied on a, then refused as a replay on a;
    // on b or main they are for another chain.
    assert!(c.block(vec![tx.clone()])[0].is_ok());
    assert_eq!(reason(&c.block(vec![tx.clone()])[0]), Some(RejectReason::NonceTooLow));
    let lane_b = c.lane("b");
    let mut forged = tx.clone();
    forged.body.as_mut().unwrap().chain_id_hash = lane_b.to_vec();
    assert!(matches!(reason(&c.block(vec![forged])[0]), Some(RejectReason::BadHash | RejectReason::BadSignature)));
    // Key 2 is not a writer of a.
    let t = c.transfer("a", 2, 0, 1);
    assert_eq!(reason(&c.block(vec![t])[0]), Some(RejectReason::BranchRejected));
    // System calls run on main only.
    let lane = c.lane("a");
    let registry = Address::name(AERGO_BRANCH).unwrap();
    let call = BranchCall::Delete { name: "b".into() };
    let t = c.sign(0, lane, |n, from, lane| {
        TxBody::new(TxType::Governance, n, from, Some(&registry), Amount::ZERO, lane).with_payload(call.payload())
    });
    assert_eq!(reason(&c.block(vec![t])[0]), Some(RejectReason::Unsupported));
}

#[test]
fn registry_calls_refuse_bad_input_and_change_nothing() {
    let mut c = Chain::new();
    c.create(0, "f", MAIN, None).unwrap();
    let before = branches::list(&c.main()).unwrap();
    let cases: Vec<(BranchCall, usize, RejectReason)> = vec![
        (
            BranchCall::Create {
                name: "f".into(),
                base: MAIN.into(),
                at: None,
                policy: MergePolicy::Auto,
                writers: vec![],
            },
            0,
            RejectReason::BranchRejected,
        ),
        (
            BranchCall::Create {
                name: "main".into(),
                base: MAIN.into(),
                at: None,
                policy: MergePolicy::Auto,
                writers: vec![],
            },
            0,
            RejectReason::BranchRejected,
        ),
        (
            BranchCall::Create {
                name: "Bad".into(),
                base: MAIN.into(),
                at: None,
                policy: MergePolicy::Auto,
                writers: vec![],
            },
            0,
            RejectReason::BranchRejected,
        ),
        (
            BranchCall::Create {
                name: "g".into(),
                base: MAIN.into(),
                at: Some(99),
                policy: MergePolicy::Auto,
                writers: vec![],
            },
            0,
            RejectReason::BranchRejected,
        ),
        (
            BranchCall::Create {
                name: "g".into(),
                base: "nope".into(),
                at: None,
                policy: MergePolicy::Auto,
                writers: vec![],
            },
            0,
            RejectReason::BranchRejected,
        ),
        (BranchCall::Delete { name: "nope".into() }, 0, RejectReason::UnknownBranch),
        (BranchCall::Delete { name: "f".into() }, 2, RejectReason::BranchRejected),
        (BranchCall::Tag { name: "f".into(), branch: MAIN.into(), height: 0 }, 0, RejectReason::BranchRejected),
        (BranchCall::Tag { name: "t".into(), branch: "f".into(), height: 0 }, 0, RejectReason::BranchRejected),
        (BranchCall::Tag { name: "t".into(), branch: "f".into(), height: 1 }, 2, RejectReason::BranchRejected),
        (
            BranchCall::Merge { source: "f".into(), target: "f".into(), strategy: MergeStrategy::Auto },
            0,
            RejectReason::BranchRejected,
        ),
        (
            BranchCall::Merge { source: "f".into(), target: MAIN.into(), strategy: MergeStrategy::Auto },
            0,
            RejectReason::BranchRejected,
        ),
        (
            BranchCall::Merge { source: "nope".into(), target: MAIN.into(), strategy: MergeStrategy::Auto },
            0,
            RejectReason::UnknownBranch,
        ),
        (
            BranchCall::Merge { source: "f".into(), target: MAIN.into(), strategy: MergeStrategy::Auto },
            2,
            RejectReason::BranchRejected,
        ),
    ];
    for (call, who, want) in cases {
        let what = format!("{call:?}");
        let tx = c.call(who, call);
        let r = c.block(vec![tx]);
        match &r[0] {
            // Refused (as admission refuses it): no nonce used, give it back.
            Err(e) => {
                assert_eq!(e.reason(), Some(want), "{what}: {e}");
                let lane = c.rules.chain_id_hash;
                *c.nonces.get_mut(&(lane, who)).unwrap() -= 1;
            }
            // What only running it can tell: an included failure.
            Ok(receipt) => {
                assert_eq!((receipt.status.as_str(), want), ("ERROR", RejectReason::BranchRejected), "{what}");
                assert!(receipt.ret.contains("refused"), "{what}: {}", receipt.ret);
            }
        }
    }
    assert_eq!(branches::list(&c.main()).unwrap(), before);
    assert!(branches::tags(&c.main(), 10).unwrap().is_empty());
}

#[test]
fn tags_name_a_branch_at_a_height_for_ever() {
    let mut c = Chain::new();
    c.create(0, "f", MAIN, None).unwrap();
    let t = c.transfer("f", 0, 2, 3);
    c.block(vec![t]);
    let tag = c.call(1, BranchCall::Tag { name: "v1".into(), branch: "f".into(), height: 2 });
    assert!(c.block(vec![tag])[0].is_ok());
    let t = branches::tag(&c.main(), "v1").unwrap().unwrap();
    assert_eq!((t.branch.as_str(), t.height, t.created_height), ("f", 2, 3));
    let again = c.call(0, BranchCall::Tag { name: "v1".into(), branch: MAIN.into(), height: 1 });
    assert_eq!(reason(&c.block(vec![again])[0]), Some(RejectReason::BranchRejected));
}

#[test]
fn an_auto_merge_equals_replaying_the_branch_by_hand() {
    let mut c = Chain::new();
    c.create(0, "f", MAIN, None).unwrap();
    // On the branch: 0 pays 2 twice, 1 pays 3 (an amount main will not
    // hold after 1 spends on main).
    let txs = vec![c.transfer("f", 0, 2, 10), c.transfer("f", 0, 2, 20), c.transfer("f", 1, 3, 990)];
    assert!(c.block(txs).iter().all(Result::is_ok));
    let spend = c.transfer(MAIN, 1, 0, 500);
    assert!(c.block(vec![spend])[0].is_ok());
    let main_before: Vec<Amount> = (0..4).map(|i| c.balance(MAIN, i)).collect();
    let nonces_before: Vec<u64> = (0..4).map(|i| account(&c.main(), &c.keys[i].address()).unwrap().nonce).collect();

    let merge = c.call(1, BranchCall::Merge { source: "f".into(), target: MAIN.into(), strategy: MergeStrategy::Auto });
    let r = c.block(vec![merge]).remove(0).unwrap();
    let names: Vec<&str> = r.events.iter().map(|e| e.event_name.as_str()).collect();
    assert_eq!(names, ["mergeApplied", "mergeApplied", "mergeDropped", "branchMerged"]);
    assert!(r.events[2].json_args.contains("INSUFFICIENT_BALANCE"), "{}", r.events[2].json_args);

    // By hand: the two transfers of 0, each paying its fee; the merge tx's
    // fee paid by 1; every fee to the coinbase (key 3).
    let fee = GENESIS_GAS_PRICE.checked_mul(TX_BASE_GAS as u128).unwrap();
    let merge_fee = Amount::from_be_bytes(&r.fee_used).unwrap();
    let sub = |a: Amount, b: Amount| a.checked_sub(b).unwrap();
    let add = |a: Amount, b: Amount| a.checked_add(b).unwrap();
    assert_eq!(c.balance(MAIN, 0), sub(sub(main_before[0], aergo(30)), add(fee, fee)));
    assert_eq!(c.balance(MAIN, 1), sub(main_before[1], merge_fee));
    assert_eq!(c.balance(MAIN, 2), add(main_before[2], aergo(30)));
    assert_eq!(c.balance(MAIN, 3), add(add(main_before[3], add(fee, fee)), merge_fee));
    // Replays use no nonce of main; the merge tx used one of 1's.
    let nonces: Vec<u64> = (0..4).map(|i| account(&c.main(), &c.keys[i].address()).unwrap().nonce).collect();
    assert_eq!(nonces, vec![nonces_before[0], nonces_before[1] + 1, nonces_before[2], nonces_before[3]]);
    // Merged once: a second merge has nothing new.
    let again = c.call(1, BranchCall::Merge { source: "f".into(), target: MAIN.into(), strategy: MergeStrategy::Auto });
    assert_eq!(reason(&c.block(vec![again])[0]), Some(RejectReason::BranchRejected));
    let lane = c.rules.chain_id_hash;
    *c.nonces.get_mut(&(lane, 1)).unwrap() -= 1;
    // A branch merges the way its policy says: not three-way here.
    let t = c.transfer("f", 0, 2, 1);
    c.block(vec![t]);
    let cons =
        c.call(1, BranchCall::Merge { source: "f".into(), target: MAIN.into(), strategy: MergeStrategy::Consensual });
    let r = c.block(vec![cons]);
    assert_eq!(reason(&r[0]), Some(RejectReason::BranchRejected));
    assert!(r[0].as_ref().unwrap_err().to_string().contains("policy auto"), "{r:?}");
}

#[test]
fn merging_into_a_branch_and_deleting_one() {
    let mut c = Chain::new();
    c.create(0, "a", MAIN, None).unwrap();
    c.create(0, "b", MAIN, None).unwrap();
    let t = c.transfer("a", 0, 2, 40);
    c.block(vec![t]);
    let merge = c.call(0, BranchCall::Merge { source: "a".into(), target: "b".into(), strategy: MergeStrategy::Auto });
    assert!(c.block(vec![merge])[0].is_ok());
    assert_eq!(c.balance("b", 2), aergo(1040));
    assert_eq!(c.balance(MAIN, 2), aergo(1000));
    // Deleting a: its transactions are refused from then on.
    let pending = c.transfer("a", 0, 2, 1);
    let delete = c.call(0, BranchCall::Delete { name: "a".into() });
    let rs = c.block(vec![delete, pending]);
    assert!(rs[0].is_ok());
    assert_eq!(reason(&rs[1]), Some(RejectReason::UnknownBranch));
    assert!(branches::open(&c.store, &c.main(), "a").unwrap().is_none());
    assert!(c.main().table(&branches::mount_name("a")).unwrap().is_none());
}

const KV: &str = "CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL);
CREATE UNIQUE INDEX kv_v ON kv (v);
CREATE FUNCTION put(key TEXT, val BIGINT) RETURNS VOID AS $$
BEGIN
    INSERT INTO kv VALUES (key, val) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION theirs_wins(tbl TEXT, k TEXT, base TEXT, ours TEXT, theirs TEXT) RETURNS TEXT AS $$
BEGIN
    RETURN theirs;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION wrong_key(tbl TEXT, k TEXT, base TEXT, ours TEXT, theirs TEXT) RETURNS TEXT AS $$
BEGIN
    RETURN '[\"zzz\", 1]';
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION short_row(tbl TEXT, k TEXT, base TEXT, ours TEXT, theirs TEXT) RETURNS TEXT AS $$
BEGIN
    RETURN '[\"x\"]';
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION spins(tbl TEXT, k TEXT, base TEXT, ours TEXT, theirs TEXT) RETURNS TEXT AS $$
BEGIN
    LOOP
        PERFORM 1;
    END LOOP;
END;
$$ LANGUAGE plpgsql";

impl Chain {
    fn deploy(&mut self, who: usize, source: &str) -> Address {
        let lane = self.rules.chain_id_hash;
        let payload = aergo_types::payload::encode_deploy_payload(source, None);
        let tx = self.sign(who, lane, |n, from, lane| {
            TxBody::new(TxType::Deploy, n, from, None, Amount::ZERO, lane)
                .with_payload(payload)
                .with_gas(0, Amount::ZERO)
        });
        let r = self.block(vec![tx]).remove(0).unwrap();
        assert_eq!(r.status, "CREATED", "{}", r.ret);
        Address::from_bytes(&r.contract_address).unwrap()
    }

    fn put(&mut self, branch: &str, who: usize, contract: &Address, key: &str, val: i64) -> Tx {
        let lane = self.lane(branch);
        let payload =
            aergo_types::payload::encode_call_payload("put", &[serde_json::json!(key), serde_json::json!(val)]);
        self.sign(who, lane, |n, from, lane| {
            TxBody::new(TxType::Call, n, from, Some(contract), Amount::ZERO, lane).with_payload(payload)
        })
    }

    fn kv(&self, branch: &str) -> Vec<(String, i64)> {
        let state = branches::open(&self.store, &self.main(), branch).unwrap().unwrap();
        let mut out = Vec::new();
        for (name, _) in state.tables().unwrap() {
            if name.ends_with(".kv") {
                for e in state
                    .range(
                        &name,
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Unbounded,
                        aergo_store::Direction::Forward,
                    )
                    .unwrap()
                {
                    let row = aergo_store::codec::decode_row(&e.unwrap().1).unwrap();
                    match row.as_slice() {
                        [aergo_store::Value::Text(k), aergo_store::Value::Int(v)] => out.push((k.clone(), *v)),
                        other => panic!("{other:?}"),
                    }
                }
            }
        }
        out
    }

    fn create_with(&mut self, name: &str, policy: MergePolicy) {
        let call = BranchCall::Create {
            name: name.into(),
            base: MAIN.into(),
            at: None,
            policy,
            writers: vec![self.keys[1].address()],
        };
        let tx = self.call(0, call);
        self.block(vec![tx]).remove(0).unwrap();
    }

    fn merge(&mut self, who: usize, source: &str, strategy: MergeStrategy) -> Result<Receipt, ExecError> {
        let tx = self.call(who, BranchCall::Merge { source: source.into(), target: MAIN.into(), strategy });
        let r = self.block(vec![tx]).remove(0);
        if r.is_err() {
            let lane = self.rules.chain_id_hash;
            *self.nonces.get_mut(&(lane, who)).unwrap() -= 1;
        }
        r
    }

    fn supply(&self, branch: &str) -> u128 {
        let state = branches::open(&self.store, &self.main(), branch).unwrap().unwrap();
        let mut total = 0;
        for e in state
            .range(
                system::ACCOUNTS,
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                aergo_store::Direction::Forward,
            )
            .unwrap()
        {
            let row = aergo_store::codec::decode_row(&e.unwrap().1).unwrap();
            total += crate::rows::as_amount(system::ACCOUNTS, &row[1]).unwrap().aer();
        }
        total
    }
}

#[test]
fn a_three_way_merge_without_conflicts_applies_both_sides_and_keeps_the_supply() {
    let mut c = Chain::new();
    let kv = c.deploy(0, KV);
    c.create_with("f", MergePolicy::ThreeWay);
    let supply = c.supply(MAIN);
    // The base: the branch as forked (main before the creating block).
    let base: Vec<Amount> = (0..4).map(|i| c.balance("f", i)).collect();
    // Both sides move balances (the coinbase, key 3, earns fees on both:
    // a conflict settled by the balance rule) and write different rows.
    let txs = vec![c.transfer("f", 1, 2, 30), c.put("f", 1, &kv, "b", 2)];
    assert!(c.block(txs).iter().all(Result::is_ok));
    let txs = vec![c.transfer(MAIN, 0, 2, 5), c.put(MAIN, 0, &kv, "a", 1)];
    assert!(c.block(txs).iter().all(Result::is_ok));
    let branch: Vec<Amount> = (0..4).map(|i| c.balance("f", i)).collect();
    let main: Vec<Amount> = (0..4).map(|i| c.balance(MAIN, i)).collect();

    let r = c.merge(1, "f", MergeStrategy::Consensual).unwrap();
    let fee = Amount::from_be_bytes(&r.fee_used).unwrap().aer();
    // Each balance is base + both deltas (the merge's own fee aside).
    for i in 0..4usize {
        let want = main[i].aer() + branch[i].aer() - base[i].aer();
        let want = match i {
            1 => want - fee,
            3 => want + fee,
            _ => want,
        };
        assert_eq!(c.balance(MAIN, i).aer(), want, "account {i}");
    }
    assert_eq!(c.supply(MAIN), supply);
    assert_eq!(c.kv(MAIN), vec![("a".to_string(), 1), ("b".to_string(), 2)]);
    let names: Vec<&str> = r.events.iter().map(|e| e.event_name.as_str()).collect();
    assert_eq!(names.last(), Some(&"branchMerged"));
    assert!(names.contains(&"mergeConflict"), "the coinbase row: {names:?}");
    // The unique index follows the merged rows: a query through it sees b.
    let snap = c.main();
    let engine = crate::query::query_engine(&crate::query::QueryLimits::default());
    let qc = crate::query::QueryContext { height: c.height, timestamp_ns: 0, contract: Some(kv.clone()) };
    let out = crate::query::query_sql(
        &engine,
        &mut Snapshot::open(&c.store, snap.state_root()),
        &qc,
        "SELECT k FROM kv WHERE v = 2",
        1_000_000,
    )
    .unwrap();
    assert_eq!(out.rows.len(), 1, "{out:?}");
    // Nothing new: refused; an auto merge of a three-way branch: refused.
    let again = c.merge(1, "f", MergeStrategy::Consensual).unwrap();
    assert_eq!(again.status, "ERROR");
    assert!(again.ret.contains("nothing to merge"), "{}", again.ret);
    assert_eq!(reason(&c.merge(1, "f", MergeStrategy::Auto)), Some(RejectReason::BranchRejected));
}

#[test]
fn conflicts_go_to_the_resolver_or_fail_the_merge() {
    let mut c = Chain::new();
    let kv = c.deploy(0, KV);
    let t = c.put(MAIN, 0, &kv, "x", 1);
    c.block(vec![t]);
    let theirs = MergePolicy::Resolver { contract: kv.to_string(), function: "theirs_wins".into() };
    let wrong = MergePolicy::Resolver { contract: kv.to_string(), function: "wrong_key".into() };
    let short = MergePolicy::Resolver { contract: kv.to_string(), function: "short_row".into() };
    let spins = MergePolicy::Resolver { contract: kv.to_string(), function: "spins".into() };
    c.create_with("plain", MergePolicy::ThreeWay);
    c.create_with("resolved", theirs);
    c.create_with("broken", wrong);
    c.create_with("short", short);
    c.create_with("spins", spins);
    for b in ["plain", "resolved", "broken", "short", "spins"] {
        let t = c.put(b, 1, &kv, "x", 7);
        assert!(c.block(vec![t])[0].is_ok());
    }
    let t = c.put(MAIN, 0, &kv, "x", 3);
    c.block(vec![t]);
    let merger = c.balance(MAIN, 1);

    // No resolver: the conflicting row fails the merge, nothing changes.
    let e = failed(c.merge(1, "plain", MergeStrategy::Consensual));
    assert!(e.to_string().contains("no resolver"), "{e}");
    assert_eq!(c.kv(MAIN), vec![("x".to_string(), 3)]);
    // A resolver that answers with another key fails it too.
    let e = failed(c.merge(1, "broken", MergeStrategy::Consensual));
    assert!(e.to_string().contains("another key"), "{e}");
    assert_eq!(c.kv(MAIN), vec![("x".to_string(), 3)]);
    // A row of the wrong shape, and a resolver that never ends (gas).
    let e = failed(c.merge(1, "short", MergeStrategy::Consensual));
    assert!(e.to_string().contains("1 values, the table has 2 columns"), "{e}");
    let e = failed(c.merge(1, "spins", MergeStrategy::Consensual));
    assert!(e.to_string().to_lowercase().contains("gas"), "{e}");
    assert_eq!(c.kv(MAIN), vec![("x".to_string(), 3)], "failed merges change nothing");
    // Each was included and paid its fee: the receipt says why it failed.
    assert!(c.balance(MAIN, 1) < merger);
    // theirs_wins: the branch's row is kept, and the receipt says so.
    let r = c.merge(1, "resolved", MergeStrategy::Consensual).unwrap();
    assert_eq!(c.kv(MAIN), vec![("x".to_string(), 7)]);
    let conflict = r.events.iter().find(|e| e.json_args.contains(".kv")).unwrap();
    assert!(conflict.json_args.contains("resolved"), "{}", conflict.json_args);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A transfer between the first three accounts: (from, to, aergo).
    fn transfer() -> impl Strategy<Value = (usize, usize, u128)> {
        (0usize..3, 0usize..3, 1u128..50)
    }

    fn run(c: &mut Chain, branch: &str, txs: &[(usize, usize, u128)]) {
        let signed: Vec<Tx> = txs.iter().map(|&(f, t, n)| c.transfer(branch, f, t, n)).collect();
        for r in c.block(signed) {
            assert!(r.is_ok(), "{r:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// An auto merge leaves main as replaying the branch's transfers by
        /// hand would (each paying its fee), the supply unchanged.
        #[test]
        fn an_auto_merge_equals_replaying_by_hand(
            branch_txs in proptest::collection::vec(transfer(), 1..6),
            main_txs in proptest::collection::vec(transfer(), 0..4),
        ) {
            let mut c = Chain::new();
            // Writers of f: the creator (0), 1, and 3 (the coinbase, who
            // merges: its fee comes back to it); 2 sends only on main.
            let writers = vec![c.keys[1].address(), c.keys[3].address()];
            let create = c.call(0, BranchCall::Create { name: "f".into(), base: MAIN.into(), at: None, policy: MergePolicy::Auto, writers });
            c.block(vec![create]).remove(0).unwrap();
            let branch_txs: Vec<_> = branch_txs.into_iter().map(|(f, t, n)| (f % 2, t, n)).collect();
            run(&mut c, "f", &branch_txs);
            run(&mut c, MAIN, &main_txs);
            let supply = c.supply(MAIN);
            // By hand: the same transfers on main, on a copy of the chain.
            let mut by_hand = Chain { store: c.store.clone(), root: c.root, height: c.height, keys: c.keys.clone(), rules: c.rules.clone(), nonces: c.nonces.clone() };
            run(&mut by_hand, MAIN, &branch_txs);
            let expected: Vec<Amount> = (0..3).map(|i| by_hand.balance(MAIN, i)).collect();

            let r = c.merge(3, "f", MergeStrategy::Auto).unwrap();
            let dropped = r.events.iter().filter(|e| e.event_name == "mergeDropped").count();
            prop_assert_eq!(dropped, 0);
            let got: Vec<Amount> = (0..3).map(|i| c.balance(MAIN, i)).collect();
            prop_assert_eq!(got, expected);
            prop_assert_eq!(c.supply(MAIN), supply);
        }

        /// A three-way merge without conflicts on accounts 0..3 gives each
        /// of them base + both deltas, and keeps the supply.
        #[test]
        fn a_three_way_merge_applies_both_diffs(
            branch_txs in proptest::collection::vec(transfer(), 1..6),
            main_txs in proptest::collection::vec(transfer(), 1..6),
        ) {
            let mut c = Chain::new();
            c.create_with("f", MergePolicy::ThreeWay);
            let base: Vec<u128> = (0..4).map(|i| c.balance("f", i).aer()).collect();
            let branch_txs: Vec<_> = branch_txs.into_iter().map(|(f, t, n)| (f % 2, t, n)).collect();
            run(&mut c, "f", &branch_txs);
            run(&mut c, MAIN, &main_txs);
            let supply = c.supply(MAIN);
            let ours: Vec<u128> = (0..4).map(|i| c.balance(MAIN, i).aer()).collect();
            let theirs: Vec<u128> = (0..4).map(|i| c.balance("f", i).aer()).collect();
            let r = c.merge(1, "f", MergeStrategy::Consensual).unwrap();
            let fee = Amount::from_be_bytes(&r.fee_used).unwrap().aer();
            for i in 0..4 {
                let mut want = ours[i] + theirs[i] - base[i];
                if i == 1 { want -= fee; }
                if i == 3 { want += fee; }
                prop_assert_eq!(c.balance(MAIN, i).aer(), want, "account {}", i);
            }
            prop_assert_eq!(c.supply(MAIN), supply);
        }
    }
}
