//! Parallel execution checked against execution in order: random blocks
//! of transfers, contract calls that share rows or not, failing calls,
//! events, whole-table reads, deploys and rejected transactions give the
//! same state root, receipts and rejections with any number of workers,
//! both when a producer builds (rejections left out) and when a
//! validator replays (every transaction must apply).

use std::ops::ControlFlow;

use super::*;
use aergo_crypto::{dev_genesis, sign_tx, PrivateKey};
use aergo_types::payload::{encode_call_payload, encode_deploy_payload};
use aergo_types::{ChainId, Receipt, TxBody, TxType};
use proptest::prelude::*;
use serde_json::json;

const KEYS: usize = 8;
const IDS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");
const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");
/// What the test contract adds to the whitepaper's table and `transfer`.
const MORE: &str = "
CREATE TABLE notes (id VARCHAR(64) PRIMARY KEY, n BIGINT NOT NULL);
CREATE FUNCTION fund(who VARCHAR, amt NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO accounts VALUES (who, amt) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + excluded.balance;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION boom(who VARCHAR) RETURNS VOID AS $$
BEGIN
    UPDATE accounts SET balance = balance + 1 WHERE id = who;
    PERFORM aergo_emit('boomed', '{}');
    IF who = 'a' THEN
        RAISE EXCEPTION 'boom on %', who;
    END IF;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION note(who VARCHAR) RETURNS BIGINT AS $$
DECLARE
    c BIGINT;
BEGIN
    SELECT count(*) INTO c FROM accounts;
    INSERT INTO notes VALUES (who, c) ON CONFLICT (id) DO UPDATE SET n = notes.n + excluded.n;
    PERFORM aergo_emit('noted', '{}');
    RETURN c;
END;
$$ LANGUAGE plpgsql;
";

fn source() -> String {
    format!("{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n{MORE}")
}

/// One transaction of a generated block.
#[derive(Clone, Debug)]
enum Op {
    /// A plain transfer of `amount` aer between two keys.
    Pay { from: usize, to: usize, amount: u64 },
    /// The contract's `transfer` between two of its ids.
    Move { from: usize, a: usize, b: usize, amount: i64 },
    /// The contract's `fund`; a negative amount can break its CHECK (an
    /// included failure).
    Fund { from: usize, who: usize, amount: i64 },
    /// The contract's `note`: a whole-table read, an upsert and an event.
    Note { from: usize, who: usize },
    /// A transaction with a nonce from the future: rejected.
    BadNonce { from: usize },
    /// A deploy in the middle of the block (ordered).
    Deploy { from: usize },
    /// The contract's `boom`: an update and an event, then a RAISE for
    /// id `a` (an included failure whose writes are rolled back).
    Boom { from: usize, who: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    let id = 0..IDS.len();
    prop_oneof![
        3 => (key.clone(), 0..KEYS, 1u64..1_000_000).prop_map(|(from, to, amount)| Op::Pay { from, to, amount }),
        4 => (key.clone(), id.clone(), 0..IDS.len(), 1i64..60).prop_map(|(from, a, b, amount)| Op::Move { from, a, b, amount }),
        2 => (key.clone(), id.clone(), -80i64..80).prop_map(|(from, who, amount)| Op::Fund { from, who, amount }),
        1 => (key.clone(), id).prop_map(|(from, who)| Op::Note { from, who }),
        1 => key.clone().prop_map(|from| Op::BadNonce { from }),
        1 => key.clone().prop_map(|from| Op::Deploy { from }),
        1 => (key, 0..IDS.len()).prop_map(|(from, who)| Op::Boom { from, who }),
    ]
}

struct Setup {
    store: Store,
    root: Hash,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
    nonces: Vec<u64>,
    contract: Address,
}

impl Setup {
    /// A chain with the contract deployed and every id funded.
    fn new() -> Setup {
        let chain = ChainId::dev();
        let (genesis, keys) =
            dev_genesis(chain.clone(), 0, KEYS as u32, Amount::from_aergo(1000).unwrap(), vec![]).unwrap();
        let store = Store::memory();
        let root = genesis_state(&store, &genesis).unwrap();
        let rules = ChainRules { chain_id_hash: chain.hash(), public: false };
        let mut s = Setup { store, root, keys, rules, nonces: vec![0; KEYS], contract: Address::Name(String::new()) };
        let deploy = s.deploy(0);
        s.contract = Address::contract_from(&s.keys[0].address(), 1);
        let mut txs = vec![deploy];
        for id in IDS {
            txs.push(s.call(1, "fund", &[json!(id), json!("100")]));
        }
        let out = execute_block(&s.store, s.root, s.ctx(1), txs).map_err(|(i, e)| format!("tx {i}: {e}")).unwrap();
        assert!(out.receipts.iter().all(|r| r.status != "ERROR"), "{:?}", out.receipts);
        s.root = out.state_root;
        s
    }

    fn ctx(&self, height: u64) -> BlockContext {
        BlockContext { height, timestamp_ns: 1_000_000_000 * height as i64, coinbase: self.keys[KEYS - 1].address() }
    }

    fn sign_with(&self, from: usize, nonce: u64, body: impl FnOnce(u64, &Address, &Hash) -> TxBody) -> VerifiedTx {
        let b = body(nonce, &self.keys[from].address(), &self.rules.chain_id_hash);
        verify_tx(sign_tx(b, &self.keys[from]), &self.rules).unwrap()
    }

    fn next_nonce(&mut self, from: usize) -> u64 {
        self.nonces[from] += 1;
        self.nonces[from]
    }

    fn deploy(&mut self, from: usize) -> VerifiedTx {
        let nonce = self.next_nonce(from);
        let payload = encode_deploy_payload(&source(), None);
        self.sign_with(from, nonce, |n, s, c| {
            TxBody::new(TxType::Deploy, n, s, None, Amount::ZERO, c).with_payload(payload).with_gas(0, Amount::ZERO)
        })
    }

    fn call(&mut self, from: usize, name: &str, args: &[serde_json::Value]) -> VerifiedTx {
        let nonce = self.next_nonce(from);
        let payload = encode_call_payload(name, args);
        let contract = self.contract.clone();
        self.sign_with(from, nonce, |n, s, c| {
            TxBody::new(TxType::Call, n, s, Some(&contract), Amount::ZERO, c)
                .with_payload(payload)
                .with_gas(0, Amount::ZERO)
        })
    }

    fn tx(&mut self, op: &Op) -> VerifiedTx {
        match *op {
            Op::Pay { from, to, amount } => {
                let nonce = self.next_nonce(from);
                let to = self.keys[to].address();
                self.sign_with(from, nonce, |n, s, c| {
                    TxBody::new(TxType::Transfer, n, s, Some(&to), Amount::from_aer(amount as u128), c)
                })
            }
            Op::Move { from, a, b, amount } => {
                self.call(from, "transfer", &[json!(IDS[a]), json!(IDS[b]), json!(amount.to_string())])
            }
            Op::Fund { from, who, amount } => self.call(from, "fund", &[json!(IDS[who]), json!(amount.to_string())]),
            Op::Note { from, who } => self.call(from, "note", &[json!(IDS[who])]),
            Op::BadNonce { from } => {
                let nonce = self.nonces[from] + 10;
                let to = self.keys[(from + 1) % KEYS].address();
                self.sign_with(from, nonce, |n, s, c| {
                    TxBody::new(TxType::Transfer, n, s, Some(&to), Amount::from_aer(1), c)
                })
            }
            Op::Deploy { from } => self.deploy(from),
            Op::Boom { from, who } => self.call(from, "boom", &[json!(IDS[who])]),
        }
    }

    /// Builds a block as a producer does: rejected transactions are left
    /// out and listed.
    fn produce(&self, threads: usize, txs: Vec<VerifiedTx>) -> (BlockOutcome, Vec<(usize, String)>, ParallelStats) {
        let mut b = Executor::with_threads(threads).builder(&self.store, self.root, self.ctx(2)).unwrap();
        let mut rejected = Vec::new();
        assert_eq!(b.push_each(txs, leave_out(&mut rejected)), None);
        let stats = b.parallel_stats();
        (b.finish().unwrap(), rejected, stats)
    }

    /// [`Setup::produce`] with every transaction in a group of its own,
    /// whatever it touches: the static analysis as wrong as it can be.
    fn produce_unplanned(&self, threads: usize, txs: Vec<VerifiedTx>) -> (BlockOutcome, Vec<(usize, String)>) {
        let mut b = Executor::with_threads(threads).builder(&self.store, self.root, self.ctx(2)).unwrap();
        let sets: Vec<Option<aergo_sql::AccessSet>> =
            txs.iter().map(|_| Some(aergo_sql::AccessSet::default())).collect();
        let dtt = crate::block::Dtt::from_sets(&sets);
        let mut rejected = Vec::new();
        assert_eq!(b.push_each_planned(txs, dtt, leave_out(&mut rejected)), None);
        (b.finish().unwrap(), rejected)
    }

    /// Replays a block as a validator does: every transaction must apply.
    fn replay(&self, threads: usize, txs: Vec<VerifiedTx>) -> BlockOutcome {
        let mut b = Executor::with_threads(threads).builder(&self.store, self.root, self.ctx(2)).unwrap();
        let stop = b.push_each(txs, |i, _, r| match r {
            Ok(_) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(format!("tx {i}: {e}")),
        });
        assert_eq!(stop, None);
        b.finish().unwrap()
    }
}

/// A producer's handling of each result: rejections are listed (by
/// index) and left out; any other error stops the block.
fn leave_out(
    rejected: &mut Vec<(usize, String)>,
) -> impl FnMut(usize, Hash, Result<&Receipt, ExecError>) -> ControlFlow<String> + '_ {
    move |i, _, r| match r {
        Ok(_) => ControlFlow::Continue(()),
        Err(e) if e.is_rejection() => {
            rejected.push((i, e.to_string()));
            ControlFlow::Continue(())
        }
        Err(e) => ControlFlow::Break(e.to_string()),
    }
}

fn verified(outcome: &BlockOutcome, rules: &ChainRules) -> Vec<VerifiedTx> {
    outcome.txs.iter().map(|t| verify_tx(t.clone(), rules).unwrap()).collect()
}

fn same(a: &BlockOutcome, b: &BlockOutcome) {
    assert_eq!(a.state_root, b.state_root, "state roots differ");
    assert_eq!(a.receipts.len(), b.receipts.len());
    for (x, y) in a.receipts.iter().zip(&b.receipts) {
        assert_eq!(x, y);
    }
    assert_eq!(a.txs_root, b.txs_root);
    assert_eq!(a.receipts_root, b.receipts_root);
    assert_eq!(a.fees, b.fees);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn parallel_blocks_equal_blocks_in_order(ops in prop::collection::vec(op(), 8..48), threads in prop::sample::select(vec![1usize, 2, 8])) {
        let mut setup = Setup::new();
        let txs: Vec<VerifiedTx> = ops.iter().map(|op| setup.tx(op)).collect();
        let (serial, serial_rejected, _) = setup.produce(1, txs.clone());
        let (parallel, parallel_rejected, _) = setup.produce(threads, txs);
        same(&serial, &parallel);
        prop_assert_eq!(serial_rejected, parallel_rejected);
        // The included transactions, replayed as a validator would.
        let included = verified(&serial, &setup.rules);
        same(&serial, &setup.replay(threads, included.clone()));
        same(&serial, &setup.replay(1, included));
    }

    /// Validation is the safety net: with groups that ignore every
    /// conflict, speculations that read another group's writes run again
    /// and the block is still the serial one.
    #[test]
    fn validation_alone_keeps_blocks_serial(ops in prop::collection::vec(op(), 8..40), threads in prop::sample::select(vec![1usize, 2, 8])) {
        let mut setup = Setup::new();
        let txs: Vec<VerifiedTx> = ops.iter().map(|op| setup.tx(op)).collect();
        let (serial, serial_rejected, _) = setup.produce(1, txs.clone());
        let (parallel, parallel_rejected) = setup.produce_unplanned(threads, txs);
        same(&serial, &parallel);
        prop_assert_eq!(serial_rejected, parallel_rejected);
    }
}

#[test]
fn a_rejection_moves_later_positions_and_event_writers_run_again() {
    let mut setup = Setup::new();
    let mut txs = vec![setup.tx(&Op::BadNonce { from: 0 })];
    for k in 1..KEYS {
        txs.push(setup.tx(&Op::Note { from: k, who: k % IDS.len() }));
    }
    let (serial, _, _) = setup.produce(1, txs.clone());
    let (parallel, rejected, stats) = setup.produce(4, txs);
    same(&serial, &parallel);
    assert_eq!(rejected.len(), 1);
    assert!(stats.rerun >= 1, "{stats:?}");
}

#[test]
fn independent_calls_run_speculatively_and_commit_as_they_ran() {
    let mut setup = Setup::new();
    // Every key moves between its own pair of ids... there are only six
    // ids, so keys 0-2 use disjoint pairs and plain payments fill the rest.
    let mut txs = Vec::new();
    for round in 0..4 {
        for k in 0..3 {
            txs.push(setup.tx(&Op::Move { from: k, a: 2 * k, b: 2 * k + 1, amount: 1 + round }));
        }
        for k in 3..KEYS - 1 {
            txs.push(setup.tx(&Op::Pay { from: k, to: (k + 1) % KEYS, amount: 5 }));
        }
    }
    let (serial, _, none) = setup.produce(1, txs.clone());
    assert_eq!(none, ParallelStats::default());
    let (parallel, rejected, stats) = setup.produce(4, txs.clone());
    same(&serial, &parallel);
    assert!(rejected.is_empty(), "{rejected:?}");
    assert!(stats.groups >= 3, "{stats:?}");
    assert_eq!(stats.speculated, txs.len(), "{stats:?}");
    assert_eq!(stats.committed, txs.len(), "every speculation is valid: {stats:?}");
    assert_eq!(stats.rerun + stats.ordered, 0, "{stats:?}");
}

#[test]
fn a_deploy_in_the_block_runs_in_order_and_later_readers_rerun_only_if_they_must() {
    let mut setup = Setup::new();
    let mut txs = vec![setup.tx(&Op::Move { from: 0, a: 0, b: 1, amount: 1 })];
    txs.push(setup.tx(&Op::Deploy { from: 1 }));
    for k in 2..KEYS {
        txs.push(setup.tx(&Op::Pay { from: k, to: k, amount: 7 }));
    }
    txs.push(setup.tx(&Op::Note { from: 0, who: 2 }));
    let (serial, _, _) = setup.produce(1, txs.clone());
    let (parallel, _, stats) = setup.produce(3, txs);
    same(&serial, &parallel);
    assert_eq!(stats.ordered, 1, "the deploy: {stats:?}");
}

#[test]
fn conflicting_speculations_rerun_and_the_result_is_still_serial() {
    let mut setup = Setup::new();
    // The static sets say these are independent (different senders,
    // different ids) but `note` counts the whole table that `fund`
    // inserts into: the analysis joins them only through the table scan.
    let mut txs = Vec::new();
    for k in 0..KEYS {
        txs.push(setup.tx(&Op::Fund { from: k, who: k % IDS.len(), amount: 3 }));
        txs.push(setup.tx(&Op::Note { from: k, who: (k + 1) % IDS.len() }));
    }
    let (serial, _, _) = setup.produce(1, txs.clone());
    let (parallel, _, _) = setup.produce(4, txs);
    same(&serial, &parallel);
}

#[test]
fn receipts_of_a_parallel_block_keep_positions_and_cumulative_fees() {
    let mut setup = Setup::new();
    let mut txs = Vec::new();
    for k in 0..KEYS {
        txs.push(setup.tx(&Op::BadNonce { from: k }));
        txs.push(setup.tx(&Op::Pay { from: k, to: (k + 3) % KEYS, amount: 11 }));
    }
    let (parallel, rejected, _) = setup.produce(4, txs);
    assert_eq!(rejected.len(), KEYS);
    let mut cumulative = Amount::ZERO;
    for (i, r) in parallel.receipts.iter().enumerate() {
        assert_eq!(r.tx_index, i as i32);
        cumulative = cumulative.checked_add(Amount::from_be_bytes(&r.fee_used).unwrap()).unwrap();
        assert_eq!(Amount::from_be_bytes(&r.cumulative_fee_used).unwrap(), cumulative);
    }
}

#[test]
fn a_raise_is_an_included_failure_in_both_modes() {
    let mut setup = Setup::new();
    let mut txs = Vec::new();
    for k in 0..KEYS {
        txs.push(setup.tx(&Op::Boom { from: k, who: k % 2 }));
    }
    let (serial, _, _) = setup.produce(1, txs.clone());
    let (parallel, rejected, _) = setup.produce(4, txs);
    same(&serial, &parallel);
    assert!(rejected.is_empty());
    let statuses: Vec<&str> = parallel.receipts.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["ERROR", "SUCCESS", "ERROR", "SUCCESS", "ERROR", "SUCCESS", "ERROR", "SUCCESS"]);
    assert!(parallel.receipts[0].ret.contains("boom on a"), "{}", parallel.receipts[0].ret);
    assert!(parallel.receipts[0].events.is_empty() && parallel.receipts[1].events.len() == 1);
}
