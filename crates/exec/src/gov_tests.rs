//! Tests of staking, voting, governance parameters and the DPoS hooks,
//! driven through the block builder as a chain would drive them.

use std::collections::BTreeMap;

use aergo_crypto::{dev_genesis, dev_key, sign_tx, PrivateKey};
use aergo_store::{Snapshot, TableStore, Value};
use aergo_types::address::AERGO_SYSTEM;
use aergo_types::genesis::DposGenesis;
use aergo_types::{ChainId, Receipt, TxBody, TxType};
use proptest::prelude::*;

use super::*;
use crate::dpos::{producers, Rating};
use crate::gov::{
    candidate_votes, param_leader, param_tally, param_vote, parse_call, stake_of, total_staked, votes_of,
};

const ACCOUNTS: u32 = 6;
const GENESIS_TS: i64 = 1_600_000_000_000_000_000;

fn aergo(n: u128) -> Amount {
    Amount::from_aergo(n).unwrap()
}

fn dpos_chain() -> ChainId {
    ChainId::new(0, false, false, "gov.test", "dpos").unwrap()
}

struct Setup {
    bps: usize,
    section: DposGenesis,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            bps: 3,
            section: DposGenesis {
                block_interval_ms: Some(1000),
                bp_count: Some(3),
                epoch_blocks: Some(5),
                min_stake: Some(aergo(100)),
                stake_lock_blocks: Some(10),
                rating_window_slots: Some(50),
            },
        }
    }
}

/// A chain driven block by block: each block is in the next slot (or a
/// later one) and produced by that slot's owner.
struct Sim {
    store: Store,
    root: Hash,
    height: u64,
    slot: u64,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
}

fn bp_key(i: usize) -> PrivateKey {
    dev_key("bp", i as u32)
}

fn bp_id(i: usize) -> String {
    bp_key(i).public_key().peer_id()
}

impl Sim {
    fn new(setup: Setup) -> Sim {
        let chain = dpos_chain();
        let bps = (0..setup.bps).map(bp_id).collect();
        let (mut genesis, keys) = dev_genesis(chain.clone(), GENESIS_TS, ACCOUNTS, aergo(1_000_000), bps).unwrap();
        genesis.dpos = Some(setup.section);
        genesis.validate().unwrap();
        let store = Store::memory();
        let root = genesis_state(&store, &genesis).unwrap();
        Sim { store, root, height: 0, slot: 0, keys, rules: ChainRules { chain_id_hash: chain.hash(), public: false } }
    }

    fn view(&self) -> Snapshot {
        Snapshot::open(&self.store, self.root)
    }

    fn addr(&self, who: usize) -> Address {
        self.keys[who].address()
    }

    /// Starts the next block in slot `slot` (by its owner).
    fn begin_at(&self, slot: u64) -> (BlockBuilder, SlotInfo) {
        let producer = dpos::producer_for_slot(&self.view(), slot).unwrap();
        let info = SlotInfo { height: self.height + 1, slot, parent_slot: self.slot, producer };
        let ctx = BlockContext {
            height: self.height + 1,
            timestamp_ns: slots::slot_start_ns(slot, GENESIS_TS, 1000).unwrap(),
            coinbase: self.addr(0),
        };
        let mut b = BlockBuilder::new(&self.store, self.root, ctx).unwrap();
        b.begin_dpos(&info).unwrap();
        (b, info)
    }

    fn begin(&self) -> (BlockBuilder, SlotInfo) {
        self.begin_at(self.slot + 1)
    }

    fn commit(&mut self, b: BlockBuilder, info: &SlotInfo) -> BlockOutcome {
        let out = b.finish().unwrap();
        self.root = out.state_root;
        self.height = info.height;
        self.slot = info.slot;
        out
    }

    fn tx(&self, view: &dyn TableStore, who: usize, amount: Amount, payload: &str) -> VerifiedTx {
        let nonce = account(view, &self.addr(who)).unwrap().nonce + 1;
        let body = TxBody::new(
            TxType::Governance,
            nonce,
            &self.addr(who),
            Some(&Address::name(AERGO_SYSTEM).unwrap()),
            amount,
            &self.rules.chain_id_hash,
        )
        .with_payload(payload.as_bytes().to_vec());
        verify_tx(sign_tx(body, &self.keys[who]), &self.rules).unwrap()
    }

    fn call(&self, b: &mut BlockBuilder, who: usize, amount: Amount, payload: &str) -> Result<Receipt, ExecError> {
        let tx = self.tx(b.view(), who, amount, payload);
        b.push(tx).cloned()
    }

    /// One block with these calls, all of which must succeed.
    fn block(&mut self, calls: &[(usize, Amount, &str)]) -> BlockOutcome {
        let (mut b, info) = self.begin();
        for (who, amount, payload) in calls {
            self.call(&mut b, *who, *amount, payload).unwrap_or_else(|e| panic!("{payload}: {e}"));
        }
        self.commit(b, &info)
    }

    fn empty_blocks(&mut self, n: usize) {
        for _ in 0..n {
            self.block(&[]);
        }
    }

    /// Runs blocks until the height is a multiple of the epoch.
    fn run_to_epoch_end(&mut self) {
        let epoch = system::read_param_u64(&self.view(), system::PARAM_EPOCH_BLOCKS).unwrap();
        while !(self.height + 1).is_multiple_of(epoch) {
            self.block(&[]);
        }
        self.block(&[]);
    }

    /// The root a block in the next slot would have without transactions.
    fn empty_block_root(&self) -> Hash {
        let (b, _) = self.begin();
        b.finish().unwrap().state_root
    }
}

const STAKE: &str = r#"{"Name":"v1stake"}"#;
const UNSTAKE: &str = r#"{"Name":"v1unstake"}"#;

fn vote_bp(ids: &[String]) -> String {
    serde_json::json!({"Name": "v1voteBP", "Args": ids}).to_string()
}

fn vote_dao(id: &str, value: &str) -> String {
    serde_json::json!({"Name": "v1voteDAO", "Args": [id, value]}).to_string()
}

fn fee_for(payload: &str) -> Amount {
    GENESIS_GAS_PRICE.checked_mul((TX_BASE_GAS + PAYLOAD_GAS_PER_BYTE * payload.len() as u64) as u128).unwrap()
}

fn sum_balances(view: &dyn TableStore) -> Amount {
    let mut total = Amount::ZERO;
    for row in rows::scan_prefix(view, system::ACCOUNTS, &[], usize::MAX).unwrap() {
        total = total.checked_add(rows::as_amount(system::ACCOUNTS, &row[1]).unwrap()).unwrap();
    }
    total
}

fn system_balance(view: &dyn TableStore) -> Amount {
    account(view, &Address::name(AERGO_SYSTEM).unwrap()).unwrap().balance
}

// ---------------------------------------------------------------- payloads

#[test]
fn payloads_parse_as_the_go_node_writes_them() {
    assert_eq!(parse_call(STAKE.as_bytes()).unwrap(), GovCall::Stake);
    assert_eq!(parse_call(br#"{"name":"v1unstake","args":[]}"#).unwrap(), GovCall::Unstake);
    assert_eq!(parse_call(br#"{"Name":"v1stake","Args":null}"#).unwrap(), GovCall::Stake);
    let ids = vec![bp_id(0), bp_id(1)];
    assert_eq!(parse_call(vote_bp(&ids).as_bytes()).unwrap(), GovCall::VoteBp(ids));
    assert_eq!(
        parse_call(vote_dao("bpcount", "13").as_bytes()).unwrap(),
        GovCall::VoteDao { param: GovParam::BpCount, value: 13 }
    );
    assert_eq!(
        parse_call(vote_dao("GASPRICE", "50000000000").as_bytes()).unwrap(),
        GovCall::VoteDao { param: GovParam::GasPrice, value: 50_000_000_000 }
    );
}

#[test]
fn bad_payloads_are_rejected_with_reasons() {
    let too_many: Vec<String> = (0..31).map(bp_id).collect();
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not JSON"),
        ("[1]".into(), "JSON object"),
        (r#"{"Args":[]}"#.into(), "Name is missing"),
        (r#"{"Name":5}"#.into(), "must be a string"),
        (r#"{"Name":"v1stake","Extra":1}"#.into(), "unknown field"),
        (r#"{"Name":"v1stake","name":"v1unstake"}"#.into(), "twice"),
        (r#"{"Name":"v1stake","Args":["x"]}"#.into(), "no arguments"),
        (r#"{"Name":"v1stake","Args":{}}"#.into(), "must be an array"),
        (r#"{"Name":"v1voteBP","Args":[]}"#.into(), "1..=30"),
        (vote_bp(&too_many), "1..=30"),
        (vote_bp(&[bp_id(0), bp_id(0)]), "twice"),
        (vote_bp(&["QmULzn6KtFUCKpkFymEUgUvkLtv9j2Eo4utZPELmQEebR6".into()]), "peer id"),
        (r#"{"Name":"v1voteBP","Args":[7]}"#.into(), "must be a string"),
        (vote_dao("BPCOUNT", "0"), "1..=100"),
        (vote_dao("BPCOUNT", "101"), "1..=100"),
        (vote_dao("GASPRICE", "500000000000000000000000001"), "1..="),
        (vote_dao("GASPRICE", "99999999999999999999999999999999999999999"), "not a decimal"),
        (vote_dao("GASPRICE", "-5"), "not a decimal"),
        (vote_dao("GASPRICE", "1e3"), "not a decimal"),
        (vote_dao("EPOCHBLOCKS", "5"), "unknown parameter"),
        (r#"{"Name":"v1voteDAO","Args":["BPCOUNT","3","4"]}"#.into(), "two arguments"),
    ];
    for (payload, needle) in cases {
        let err = parse_call(payload.as_bytes()).unwrap_err();
        assert!(matches!(err, ExecError::BadPayload { .. }), "{payload}: {err}");
        assert!(err.to_string().contains(needle), "{payload}: {err} lacks {needle:?}");
    }
    let err = parse_call(br#"{"Name":"v1createName","Args":["x"]}"#).unwrap_err();
    assert!(matches!(err, ExecError::UnknownSystemCall { ref name } if name == "v1createName"), "{err}");
}

#[test]
fn system_params_are_the_rows_the_payload_names() {
    let rows = [
        (GovParam::BpCount, system::PARAM_BP_COUNT),
        (GovParam::MinStake, system::PARAM_MIN_STAKE),
        (GovParam::GasPrice, system::PARAM_GAS_PRICE),
        (GovParam::NamePrice, system::PARAM_NAME_PRICE),
        (GovParam::StakeLockBlocks, system::PARAM_STAKE_LOCK_BLOCKS),
        (GovParam::MaxTxGas, system::PARAM_MAX_TX_GAS),
        (GovParam::MaxBlockGas, system::PARAM_MAX_BLOCK_GAS),
        (GovParam::SlashPercent, system::PARAM_SLASH_PERCENT),
        (GovParam::FilePrice, system::PARAM_FILE_PRICE),
        (GovParam::FileRent, system::PARAM_FILE_RENT),
    ];
    assert_eq!(rows.len(), GovParam::ALL.len());
    for (p, row) in rows {
        assert_eq!(p.param_name(), row);
    }
}

proptest! {
    #[test]
    fn payload_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_call(&bytes);
    }
}

// ---------------------------------------------------------------- genesis

#[test]
fn dpos_genesis_installs_producers_and_parameters() {
    let sim = Sim::new(Setup::default());
    let view = sim.view();
    assert_eq!(producers(&view).unwrap(), vec![bp_id(0), bp_id(1), bp_id(2)]);
    assert_eq!(system::read_param_u64(&view, system::PARAM_BP_COUNT).unwrap(), 3);
    assert_eq!(system::read_param(&view, system::PARAM_MIN_STAKE).unwrap(), Some(aergo(100)));
    assert_eq!(system::read_param(&view, system::PARAM_NAME_PRICE).unwrap(), Some(Amount::ONE_AERGO));
    assert_eq!(system::read_param_u64(&view, system::PARAM_EPOCH_BLOCKS).unwrap(), 5);
    assert_eq!(total_staked(&view).unwrap(), Amount::ZERO);
    for table in [gov::STAKES, gov::VOTES, gov::CANDIDATES, gov::PARAM_VOTES, dpos::BPS, dpos::BP_RATINGS] {
        let meta = view.table(table).unwrap().unwrap_or_else(|| panic!("{table} missing"));
        assert!(String::from_utf8(meta.schema).unwrap().starts_with(&format!("CREATE TABLE {table} (")));
    }
}

#[test]
fn genesis_refuses_producers_that_are_not_secp256k1_peer_ids() {
    let (mut genesis, _) =
        dev_genesis(dpos_chain(), 0, 1, aergo(1), vec!["QmULzn6KtFUCKpkFymEUgUvkLtv9j2Eo4utZPELmQEebR6".into()])
            .unwrap();
    genesis.dpos = None;
    let err = genesis_state(&Store::memory(), &genesis).unwrap_err();
    assert!(matches!(err, ExecError::BadGenesis { .. }), "{err}");
}

#[test]
fn solo_chains_keep_their_state_and_refuse_system_calls() {
    let chain = ChainId::dev();
    let (genesis, keys) = dev_genesis(chain.clone(), 0, 2, aergo(1000), vec![]).unwrap();
    let store = Store::memory();
    let root = genesis_state(&store, &genesis).unwrap();
    let snap = Snapshot::open(&store, root);
    assert!(snap.table(gov::STAKES).unwrap().is_none(), "no staking tables on a solo chain");
    let rules = ChainRules { chain_id_hash: chain.hash(), public: false };
    let body = TxBody::new(
        TxType::Governance,
        1,
        &keys[0].address(),
        Some(&Address::name(AERGO_SYSTEM).unwrap()),
        aergo(10),
        &rules.chain_id_hash,
    )
    .with_payload(STAKE.as_bytes().to_vec());
    let ctx = BlockContext { height: 1, timestamp_ns: 1, coinbase: keys[1].address() };
    let mut b = BlockBuilder::new(&store, root, ctx).unwrap();
    let err = b.push(verify_tx(sign_tx(body, &keys[0]), &rules).unwrap()).unwrap_err();
    assert!(matches!(err, ExecError::Unsupported { .. }), "{err}");
    assert!(matches!(
        b.begin_dpos(&SlotInfo { height: 1, slot: 1, parent_slot: 0, producer: "x".into() }),
        Err(ExecError::BadSlot { .. })
    ));
    assert_eq!(b.finish().unwrap().state_root, crate::branches::empty_block_root(&store, root, 1).unwrap());
}

// ---------------------------------------------------------------- staking

#[test]
fn stake_moves_amount_to_the_system_account_and_pays_the_fee() {
    let mut sim = Sim::new(Setup::default());
    let out = sim.block(&[(1, aergo(500), STAKE)]);
    let view = sim.view();
    let a1 = account(&view, &sim.addr(1)).unwrap();
    assert_eq!(a1.balance, aergo(1_000_000 - 500).checked_sub(fee_for(STAKE)).unwrap());
    assert_eq!(a1.nonce, 1);
    assert_eq!(stake_of(&view, &sim.addr(1)).unwrap(), gov::Stake { amount: aergo(500), since_height: 1 });
    assert_eq!(total_staked(&view).unwrap(), aergo(500));
    assert_eq!(system_balance(&view), aergo(500));
    assert_eq!(sum_balances(&view), Amount::TOTAL_SUPPLY, "staking keeps the supply in sys.accounts");
    let r = &out.receipts[0];
    assert_eq!(r.to, AERGO_SYSTEM.as_bytes());
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].event_name, "stake");
    assert_eq!(r.events[0].json_args, format!(r#"["{}",{{"_bignum":"500000000000000000000"}}]"#, sim.addr(1)));
    // Staking more adds up and restarts the lock.
    sim.block(&[(1, aergo(1), STAKE)]);
    assert_eq!(stake_of(&sim.view(), &sim.addr(1)).unwrap(), gov::Stake { amount: aergo(501), since_height: 2 });
}

#[test]
fn staking_rejections_change_nothing() {
    let mut sim = Sim::new(Setup::default());
    sim.block(&[(2, aergo(200), STAKE)]);
    let empty = sim.empty_block_root();
    let (mut b, info) = sim.begin();
    type Case<'a> = (usize, Amount, &'a str, fn(&ExecError) -> bool);
    let cases: Vec<Case> = vec![
        (1, aergo(99), STAKE, |e| matches!(e, ExecError::StakeBelowMinimum { .. })),
        (1, Amount::ZERO, STAKE, |e| matches!(e, ExecError::GovernanceRejected { .. })),
        (1, aergo(2_000_000), STAKE, |e| matches!(e, ExecError::InsufficientBalance { .. })),
        (1, aergo(100), UNSTAKE, |e| matches!(e, ExecError::NotStaked { .. })),
        (2, aergo(201), UNSTAKE, |e| matches!(e, ExecError::UnstakeExceedsStake { .. })),
        (2, aergo(100), UNSTAKE, |e| matches!(e, ExecError::StakeLocked { unlock_height: 11, height: 2, .. })),
        (2, Amount::ZERO, UNSTAKE, |e| matches!(e, ExecError::GovernanceRejected { .. })),
        (1, Amount::ZERO, r#"{"Name":"v1voteDAO","Args":["BPCOUNT","3"]}"#, |e| {
            matches!(e, ExecError::NotStaked { .. })
        }),
        (2, aergo(1), r#"{"Name":"v1voteDAO","Args":["BPCOUNT","3"]}"#, |e| {
            matches!(e, ExecError::GovernanceRejected { .. })
        }),
        (2, Amount::ZERO, r#"{"Name":"v1nothing"}"#, |e| matches!(e, ExecError::UnknownSystemCall { .. })),
        (2, Amount::ZERO, r#"{"Name":"v1stake","Args":[1]}"#, |e| matches!(e, ExecError::BadPayload { .. })),
    ];
    for (who, amount, payload, expected) in cases {
        let err = sim.call(&mut b, who, amount, payload).unwrap_err();
        assert!(expected(&err), "{payload} by {who}: unexpected {err}");
        assert!(err.is_rejection());
    }
    assert!(b.is_empty());
    assert_eq!(sim.commit(b, &info).state_root, empty, "rejections must leave the state root unchanged");
}

#[test]
fn unstake_after_the_lock_returns_the_amount() {
    let mut sim = Sim::new(Setup::default());
    sim.block(&[(1, aergo(300), STAKE)]); // height 1, locked until 11
    sim.empty_blocks(8); // height 9
    let (mut b, _) = sim.begin(); // height 10: still locked
    assert!(matches!(
        sim.call(&mut b, 1, aergo(100), UNSTAKE),
        Err(ExecError::StakeLocked { unlock_height: 11, height: 10, .. })
    ));
    sim.block(&[]); // height 10
    let before = account(&sim.view(), &sim.addr(1)).unwrap().balance;
    // Leaving less than the minimum (but not zero) is refused.
    let (mut b, _) = sim.begin();
    assert!(matches!(sim.call(&mut b, 1, aergo(250), UNSTAKE), Err(ExecError::StakeBelowMinimum { .. })));
    let out = sim.block(&[(1, aergo(100), UNSTAKE)]); // height 11
    assert_eq!(out.receipts[0].events[0].event_name, "unstake");
    let view = sim.view();
    assert_eq!(
        account(&view, &sim.addr(1)).unwrap().balance,
        before.checked_add(aergo(100)).unwrap().checked_sub(fee_for(UNSTAKE)).unwrap()
    );
    // An unstake does not restart the lock: the rest can leave at once.
    assert_eq!(stake_of(&view, &sim.addr(1)).unwrap(), gov::Stake { amount: aergo(200), since_height: 1 });
    assert_eq!(total_staked(&view).unwrap(), aergo(200));
    sim.block(&[(1, aergo(200), UNSTAKE)]);
    let view = sim.view();
    assert_eq!(stake_of(&view, &sim.addr(1)).unwrap(), gov::Stake::default());
    assert!(rows::read(&view, gov::STAKES, &[Value::Text(sim.addr(1).to_string())]).unwrap().is_none());
    assert_eq!(total_staked(&view).unwrap(), Amount::ZERO);
    assert_eq!(system_balance(&view), Amount::ZERO);
    assert_eq!(sum_balances(&view), Amount::TOTAL_SUPPLY);
}

// ---------------------------------------------------------------- voting

#[test]
fn bp_votes_follow_the_voters_stake() {
    let mut sim = Sim::new(Setup::default());
    let (a, b, c) = (bp_id(0), bp_id(1), bp_id(5));
    let (mut blk, _) = sim.begin();
    assert!(matches!(
        sim.call(&mut blk, 1, Amount::ZERO, &vote_bp(std::slice::from_ref(&a))),
        Err(ExecError::NotStaked { .. })
    ));
    sim.block(&[(1, aergo(300), STAKE), (2, aergo(100), STAKE)]);
    sim.block(&[
        (1, Amount::ZERO, &vote_bp(&[a.clone(), b.clone()])),
        (2, Amount::ZERO, &vote_bp(std::slice::from_ref(&b))),
    ]);
    let view = sim.view();
    assert_eq!(candidate_votes(&view, &a).unwrap(), aergo(300));
    assert_eq!(candidate_votes(&view, &b).unwrap(), aergo(400));
    let mut expected_votes = vec![a.clone(), b.clone()];
    expected_votes.sort();
    assert_eq!(votes_of(&view, &sim.addr(1)).unwrap(), expected_votes);

    // A new vote replaces the old list.
    let out = sim.block(&[(1, Amount::ZERO, &vote_bp(std::slice::from_ref(&c)))]);
    assert_eq!(out.receipts[0].events[0].event_name, "voteBP");
    assert_eq!(out.receipts[0].events[0].json_args, format!(r#"["{}",["{c}"]]"#, sim.addr(1)));
    let view = sim.view();
    assert_eq!(candidate_votes(&view, &a).unwrap(), Amount::ZERO);
    assert!(rows::read(&view, gov::CANDIDATES, &[Value::Text(a.clone())]).unwrap().is_none());
    assert_eq!(candidate_votes(&view, &b).unwrap(), aergo(100));
    assert_eq!(candidate_votes(&view, &c).unwrap(), aergo(300));

    // Restaking adds weight to the votes; unstaking takes it away.
    sim.block(&[(1, aergo(50), STAKE)]);
    assert_eq!(candidate_votes(&sim.view(), &c).unwrap(), aergo(350));
    sim.empty_blocks(10);
    sim.block(&[(1, aergo(150), UNSTAKE), (2, aergo(100), UNSTAKE)]);
    let view = sim.view();
    assert_eq!(candidate_votes(&view, &c).unwrap(), aergo(200));
    assert_eq!(candidate_votes(&view, &b).unwrap(), Amount::ZERO);
    // The vote row stays (weight zero) and comes back with a new stake.
    assert_eq!(votes_of(&view, &sim.addr(2)).unwrap(), vec![b.clone()]);
    sim.block(&[(2, aergo(120), STAKE)]);
    assert_eq!(candidate_votes(&sim.view(), &b).unwrap(), aergo(120));
    assert_eq!(gov::stored_candidates(&sim.view()).unwrap(), gov::recompute_candidates(&sim.view()).unwrap());
}

// ---------------------------------------------------------------- parameters

#[test]
fn a_parameter_changes_at_two_thirds_of_the_stake_from_the_next_block() {
    let mut sim = Sim::new(Setup::default());
    // Stakes 400 / 200 / 300 of 900: two thirds is 600.
    sim.block(&[(1, aergo(400), STAKE), (2, aergo(200), STAKE), (3, aergo(300), STAKE)]);
    let new_price = "100000000000"; // 100 gaer
    sim.block(&[(1, Amount::ZERO, &vote_dao("gasprice", new_price))]);
    let view = sim.view();
    let price = Amount::from_aer(100_000_000_000);
    assert_eq!(param_tally(&view, GovParam::GasPrice, price).unwrap(), aergo(400));
    assert_eq!(param_vote(&view, GovParam::GasPrice, &sim.addr(1)).unwrap(), Some(price));
    assert_eq!(system::gas_price(&view).unwrap(), GENESIS_GAS_PRICE, "400 of 900 is not enough");

    // 600 of 900 is exactly two thirds: it passes, but only from the next
    // block; the block that passed it still charges the old price.
    let payload = vote_dao("GASPRICE", new_price);
    let out = sim.block(&[(2, Amount::ZERO, &payload), (3, Amount::ZERO, &vote_dao("GASPRICE", "60000000000"))]);
    assert_eq!(out.receipts[0].fee_used, fee_for(&payload).to_be_bytes_minimal());
    assert_eq!(
        out.receipts[0].events[0].json_args,
        format!(r#"["{}","GASPRICE",{{"_bignum":"{new_price}"}}]"#, sim.addr(2))
    );
    let view = sim.view();
    assert_eq!(system::gas_price(&view).unwrap(), price);
    assert_eq!(param_leader(&view, GovParam::GasPrice).unwrap(), Some((price, aergo(600))));
    let out = sim.block(&[(1, aergo(100), STAKE)]);
    assert_eq!(out.fees, price.checked_mul((TX_BASE_GAS + PAYLOAD_GAS_PER_BYTE * STAKE.len() as u64) as u128).unwrap());

    // Moving a vote updates the tallies; the parameter stays until another
    // value reaches two thirds.
    sim.block(&[(2, Amount::ZERO, &vote_dao("GASPRICE", "60000000000"))]);
    let view = sim.view();
    assert_eq!(param_tally(&view, GovParam::GasPrice, price).unwrap(), aergo(500));
    assert_eq!(param_tally(&view, GovParam::GasPrice, Amount::from_aer(60_000_000_000)).unwrap(), aergo(500));
    assert_eq!(system::gas_price(&view).unwrap(), price);
}

#[test]
fn a_value_can_pass_when_others_unstake() {
    let mut sim = Sim::new(Setup::default());
    sim.block(&[(1, aergo(500), STAKE), (2, aergo(500), STAKE)]);
    sim.block(&[(1, Amount::ZERO, &vote_dao("STAKINGMIN", "200000000000000000000"))]);
    assert_eq!(system::read_param(&sim.view(), system::PARAM_MIN_STAKE).unwrap(), Some(aergo(100)));
    sim.empty_blocks(10);
    // Account 2 leaves: 500 of 500 is behind the proposal now.
    sim.block(&[(2, aergo(500), UNSTAKE)]);
    assert_eq!(system::read_param(&sim.view(), system::PARAM_MIN_STAKE).unwrap(), Some(aergo(200)));
    let (mut b, _) = sim.begin();
    assert!(matches!(sim.call(&mut b, 3, aergo(150), STAKE), Err(ExecError::StakeBelowMinimum { .. })));
}

// ---------------------------------------------------------------- DPoS hooks

#[test]
fn block_hook_checks_producer_and_slot() {
    let sim = Sim::new(Setup::default());
    let ctx = BlockContext { height: 1, timestamp_ns: 0, coinbase: sim.addr(0) };
    let new = || BlockBuilder::new(&sim.store, sim.root, ctx.clone()).unwrap();
    // Slot 1 belongs to producer 1 (1 mod 3).
    let info = SlotInfo { height: 1, slot: 1, parent_slot: 0, producer: bp_id(0) };
    assert!(matches!(new().begin_dpos(&info), Err(ExecError::WrongProducer { slot: 1, .. })));
    let same_slot = SlotInfo { slot: 0, producer: bp_id(0), ..info.clone() };
    assert!(matches!(new().begin_dpos(&same_slot), Err(ExecError::BadSlot { .. })));
    let wrong_height = SlotInfo { height: 2, producer: bp_id(1), ..info.clone() };
    assert!(matches!(new().begin_dpos(&wrong_height), Err(ExecError::BadSlot { .. })));
    // Without the hook a DPoS block can neither take txs nor finish.
    // That is the caller's mistake, not the transaction's.
    assert!(matches!(new().finish(), Err(ExecError::DposHookMissing { .. })));
    let mut b = new();
    let tx = sim.tx(b.view(), 1, aergo(100), STAKE);
    let err = b.push(tx).unwrap_err();
    assert!(matches!(err, ExecError::DposHookMissing { .. }) && !err.is_rejection(), "{err}");
    // A failed hook leaves the builder as it was; the right one works once.
    let mut b = new();
    assert!(b.begin_dpos(&SlotInfo { producer: bp_id(2), ..info.clone() }).is_err());
    let good = SlotInfo { producer: bp_id(1), ..info };
    b.begin_dpos(&good).unwrap();
    assert!(matches!(b.begin_dpos(&good), Err(ExecError::BadSlot { .. })));
    b.finish().unwrap();
}

#[test]
fn skipped_slots_count_as_missed_for_their_owners() {
    let mut sim = Sim::new(Setup::default());
    sim.block(&[]); // slot 1 by bp1
    let (b, info) = sim.begin_at(5); // slots 2, 3, 4 skipped: bp2, bp0, bp1
    assert_eq!(info.producer, bp_id(2));
    sim.commit(b, &info);
    let view = sim.view();
    assert_eq!(dpos::rating(&view, &bp_id(0)).unwrap(), Rating { produced: 0, missed: 1 });
    assert_eq!(dpos::rating(&view, &bp_id(1)).unwrap(), Rating { produced: 1, missed: 1 });
    assert_eq!(dpos::rating(&view, &bp_id(2)).unwrap(), Rating { produced: 1, missed: 1 });
    let row = rows::read(&view, dpos::BP_RATINGS, &[Value::Text(bp_id(0))]).unwrap().unwrap();
    assert_eq!(row[3], Value::Int(90), "the rating column holds the percent");
}

#[test]
fn ratings_forget_slots_outside_the_window() {
    let mut sim = Sim::new(Setup {
        bps: 1,
        section: DposGenesis { rating_window_slots: Some(10), bp_count: Some(1), ..Setup::default().section },
    });
    let (b, info) = sim.begin_at(4); // slots 1..3 missed
    sim.commit(b, &info);
    assert_eq!(dpos::rating(&sim.view(), &bp_id(0)).unwrap(), Rating { produced: 1, missed: 3 });
    sim.empty_blocks(8); // slots 5..12: slots 1 and 2 leave the window (3..12 kept)
    assert_eq!(dpos::rating(&sim.view(), &bp_id(0)).unwrap(), Rating { produced: 9, missed: 1 });
    // A gap longer than the window records only the window's slots.
    let (b, info) = sim.begin_at(1000);
    sim.commit(b, &info);
    let view = sim.view();
    assert_eq!(dpos::rating(&view, &bp_id(0)).unwrap(), Rating { produced: 1, missed: 9 });
    assert_eq!(view.count(dpos::BP_SLOTS).unwrap(), 10);
}

#[test]
fn election_takes_the_top_candidates_by_votes() {
    let mut sim = Sim::new(Setup::default());
    sim.block(&[(1, aergo(500), STAKE), (2, aergo(400), STAKE), (3, aergo(300), STAKE), (4, aergo(200), STAKE)]);
    sim.block(&[
        (1, Amount::ZERO, &vote_bp(&[bp_id(3)])),
        (2, Amount::ZERO, &vote_bp(&[bp_id(4), bp_id(0)])),
        (3, Amount::ZERO, &vote_bp(&[bp_id(5)])),
        (4, Amount::ZERO, &vote_bp(&[bp_id(0)])),
    ]);
    // Votes: bp0 600, bp3 500, bp4 400, bp5 300.
    assert_eq!(producers(&sim.view()).unwrap(), vec![bp_id(0), bp_id(1), bp_id(2)], "not before the epoch ends");
    sim.run_to_epoch_end();
    assert_eq!(producers(&sim.view()).unwrap(), vec![bp_id(0), bp_id(3), bp_id(4)]);
    // The new set produces: slot owners follow it from the next block.
    let next = sim.slot + 1;
    assert_eq!(dpos::producer_for_slot(&sim.view(), next).unwrap(), [bp_id(0), bp_id(3), bp_id(4)][next as usize % 3]);
    sim.block(&[]);

    // Governance shrinks the set: 900 of 1400 is not enough, 1200 is.
    sim.block(&[(1, Amount::ZERO, &vote_dao("BPCOUNT", "2")), (2, Amount::ZERO, &vote_dao("BPCOUNT", "2"))]);
    assert_eq!(system::read_param_u64(&sim.view(), system::PARAM_BP_COUNT).unwrap(), 3);
    sim.block(&[(3, Amount::ZERO, &vote_dao("BPCOUNT", "2"))]);
    assert_eq!(system::read_param_u64(&sim.view(), system::PARAM_BP_COUNT).unwrap(), 2);
    sim.run_to_epoch_end();
    assert_eq!(producers(&sim.view()).unwrap(), vec![bp_id(0), bp_id(3)]);
}

#[test]
fn equal_votes_rank_by_candidate_id() {
    let mut sim = Sim::new(Setup::default());
    let mut ids: Vec<String> = (3..7).map(bp_id).collect();
    sim.block(&[(1, aergo(100), STAKE)]);
    sim.block(&[(1, Amount::ZERO, &vote_bp(&ids))]);
    sim.run_to_epoch_end();
    ids.sort();
    assert_eq!(producers(&sim.view()).unwrap(), ids[..3].to_vec());
}

#[test]
fn too_few_candidates_are_filled_with_current_producers() {
    let mut sim = Sim::new(Setup::default());
    sim.block(&[(1, aergo(100), STAKE)]);
    sim.block(&[(1, Amount::ZERO, &vote_bp(&[bp_id(7)]))]);
    sim.run_to_epoch_end();
    assert_eq!(producers(&sim.view()).unwrap(), vec![bp_id(7), bp_id(0), bp_id(1)]);
    // Nobody voted at all: the set stays as it is.
    let mut quiet = Sim::new(Setup::default());
    quiet.run_to_epoch_end();
    assert_eq!(producers(&quiet.view()).unwrap(), vec![bp_id(0), bp_id(1), bp_id(2)]);
}

#[test]
fn an_unreliable_producer_drops_out_at_the_next_election() {
    let section = DposGenesis { epoch_blocks: Some(30), rating_window_slots: Some(200), ..Setup::default().section };
    let mut sim = Sim::new(Setup { bps: 3, section });
    // bp1 has the most votes, bp3 is the runner-up outside the set.
    sim.block(&[(1, aergo(500), STAKE), (2, aergo(400), STAKE), (3, aergo(350), STAKE), (4, aergo(300), STAKE)]);
    sim.block(&[
        (1, Amount::ZERO, &vote_bp(&[bp_id(1)])),
        (2, Amount::ZERO, &vote_bp(&[bp_id(0)])),
        (3, Amount::ZERO, &vote_bp(&[bp_id(2)])),
        (4, Amount::ZERO, &vote_bp(&[bp_id(3)])),
    ]);
    // bp1 misses every slot it owns up to and including the epoch's end.
    while sim.height < 30 {
        let mut slot = sim.slot + 1;
        while dpos::producer_for_slot(&sim.view(), slot).unwrap() == bp_id(1) {
            slot += 1;
        }
        if sim.height == 29 {
            // The set is still the genesis one until this block's election.
            assert_eq!(producers(&sim.view()).unwrap(), vec![bp_id(0), bp_id(1), bp_id(2)]);
        }
        let (b, info) = sim.begin_at(slot);
        sim.commit(b, &info);
    }
    let r = dpos::rating(&sim.view(), &bp_id(1)).unwrap();
    // It produced slot 1 only (block 1, before it started failing).
    assert_eq!(r.produced, 1);
    assert!(r.missed >= 13, "{r:?}");
    // Effective votes: 500 * rating (44% or less) falls below bp3's 300.
    assert!(dpos::effective_votes(aergo(500), r.percent()) < aergo(300), "{r:?}");
    assert_eq!(producers(&sim.view()).unwrap(), vec![bp_id(0), bp_id(2), bp_id(3)]);
}

// ---------------------------------------------------------------- determinism

fn scripted_run() -> Vec<Hash> {
    let mut sim = Sim::new(Setup::default());
    let mut roots = Vec::new();
    sim.block(&[(1, aergo(500), STAKE), (2, aergo(400), STAKE), (3, aergo(300), STAKE)]);
    roots.push(sim.root);
    sim.block(&[(1, Amount::ZERO, &vote_bp(&[bp_id(4), bp_id(1)])), (2, Amount::ZERO, &vote_dao("BPCOUNT", "4"))]);
    roots.push(sim.root);
    let (b, info) = sim.begin_at(sim.slot + 3);
    sim.commit(b, &info);
    roots.push(sim.root);
    sim.block(&[(3, Amount::ZERO, &vote_dao("BPCOUNT", "4")), (3, Amount::ZERO, &vote_bp(&[bp_id(5)]))]);
    sim.run_to_epoch_end();
    roots.push(sim.root);
    sim.empty_blocks(9);
    sim.block(&[(1, aergo(200), UNSTAKE)]);
    roots.push(sim.root);
    roots
}

#[test]
fn same_blocks_same_roots() {
    let a = scripted_run();
    let b = scripted_run();
    assert_eq!(a, b);
    // And the state moved at every step.
    for w in a.windows(2) {
        assert_ne!(w[0], w[1]);
    }
}

// ---------------------------------------------------------------- model check

#[derive(Clone, Debug)]
enum Op {
    Stake(usize, u128),
    Unstake(usize, u128),
    VoteBp(usize, Vec<usize>),
    VoteDao(usize, usize, u128),
    Blocks(usize),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let who = 1..ACCOUNTS as usize;
    prop_oneof![
        3 => (who.clone(), 50u128..400).prop_map(|(w, a)| Op::Stake(w, a)),
        2 => (who.clone(), 1u128..400).prop_map(|(w, a)| Op::Unstake(w, a)),
        3 => (who.clone(), proptest::collection::btree_set(0usize..8, 1..4))
            .prop_map(|(w, c)| Op::VoteBp(w, c.into_iter().collect())),
        2 => (who, 0usize..2, 1u128..4).prop_map(|(w, p, v)| Op::VoteDao(w, p, v)),
        1 => (1usize..4).prop_map(Op::Blocks),
    ]
}

/// Every aggregate equals its recomputation from the rows it sums;
/// `uncredited_fees` are paid by senders but not yet credited (mid-block).
fn check_invariants(view: &dyn TableStore, uncredited_fees: Amount) {
    assert_eq!(gov::stored_candidates(view).unwrap(), gov::recompute_candidates(view).unwrap());
    let mut staked = Amount::ZERO;
    let mut stakes = BTreeMap::new();
    for row in rows::scan_prefix(view, gov::STAKES, &[], usize::MAX).unwrap() {
        let a = rows::as_amount(gov::STAKES, &row[1]).unwrap();
        assert!(!a.is_zero(), "zero stakes have no row");
        staked = staked.checked_add(a).unwrap();
        stakes.insert(rows::as_text(gov::STAKES, &row[0]).unwrap(), a);
    }
    assert_eq!(total_staked(view).unwrap(), staked);
    assert_eq!(system_balance(view), staked);
    assert_eq!(sum_balances(view).checked_add(uncredited_fees).unwrap(), Amount::TOTAL_SUPPLY);
    let mut tallies: BTreeMap<(String, Amount), Amount> = BTreeMap::new();
    for row in rows::scan_prefix(view, gov::PARAM_VOTES, &[], usize::MAX).unwrap() {
        let param = rows::as_text(gov::PARAM_VOTES, &row[0]).unwrap();
        let voter = rows::as_text(gov::PARAM_VOTES, &row[1]).unwrap();
        let value = rows::as_amount(gov::PARAM_VOTES, &row[2]).unwrap();
        if let Some(s) = stakes.get(&voter) {
            let e = tallies.entry((param, value)).or_default();
            *e = e.checked_add(*s).unwrap();
        }
    }
    let mut stored = BTreeMap::new();
    for row in rows::scan_prefix(view, gov::PARAM_TALLIES, &[], usize::MAX).unwrap() {
        let key = (
            rows::as_text(gov::PARAM_TALLIES, &row[0]).unwrap(),
            rows::as_amount(gov::PARAM_TALLIES, &row[1]).unwrap(),
        );
        stored.insert(key, rows::as_amount(gov::PARAM_TALLIES, &row[2]).unwrap());
    }
    assert_eq!(stored, tallies);
    assert_eq!(view.count(gov::PARAM_RANKING).unwrap(), view.count(gov::PARAM_TALLIES).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn tallies_always_equal_their_recomputation(ops in proptest::collection::vec(arb_op(), 1..40)) {
        let section = DposGenesis { stake_lock_blocks: Some(0), epoch_blocks: Some(3), ..Setup::default().section };
        let mut sim = Sim::new(Setup { bps: 3, section });
        let params = ["BPCOUNT", "STAKINGMIN"];
        for chunk in ops.chunks(3) {
            let (mut b, info) = sim.begin();
            let mut fees = Amount::ZERO;
            for op in chunk {
                // Rejections (below minimum, more than staked, not staked)
                // are part of the test: they must leave no trace.
                let result = match op {
                    Op::Stake(w, a) => sim.call(&mut b, *w, aergo(*a), STAKE),
                    Op::Unstake(w, a) => sim.call(&mut b, *w, aergo(*a), UNSTAKE),
                    Op::VoteBp(w, c) => {
                        let ids: Vec<String> = c.iter().map(|i| bp_id(*i)).collect();
                        sim.call(&mut b, *w, Amount::ZERO, &vote_bp(&ids))
                    }
                    Op::VoteDao(w, p, v) => {
                        let value = if *p == 0 { v.to_string() } else { aergo(50 * v).aer().to_string() };
                        sim.call(&mut b, *w, Amount::ZERO, &vote_dao(params[*p], &value))
                    }
                    Op::Blocks(_) => Ok(Receipt::default()),
                };
                if let Ok(r) = result {
                    fees = fees.checked_add(Amount::from_be_bytes(&r.fee_used).unwrap()).unwrap();
                }
                check_invariants(b.view(), fees);
            }
            sim.commit(b, &info);
            if let Some(Op::Blocks(n)) = chunk.last() {
                sim.empty_blocks(*n);
            }
            check_invariants(&sim.view(), Amount::ZERO);
            let bps = producers(&sim.view()).unwrap();
            prop_assert!(!bps.is_empty() && bps.len() <= 3);
        }
    }
}

#[path = "slashing_tests.rs"]
mod slashing;
