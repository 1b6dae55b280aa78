//! Contracts through `BlockBuilder`: the whitepaper example, bad inputs,
//! value transfer, cross-contract calls, events, read-only queries.

use super::*;
use crate::contract::{read_contract, schema_name};
use crate::events::{list_events, EventFilter, ListLimits};
use crate::query::{query_call, query_engine, query_sql, QueryContext, QueryLimits};
use aergo_crypto::{dev_genesis, sign_tx, PrivateKey};
use aergo_store::Snapshot;
use aergo_types::payload::{encode_call_payload, encode_deploy_payload, parse_call_payload, parse_deploy_payload};
use aergo_types::{receipts_root, ChainId, Receipt, RejectReason, TxBody, TxType};
use serde_json::json;

const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");
const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");
const FUND_FN: &str = "CREATE FUNCTION fund(who VARCHAR, amt NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO accounts VALUES (who, amt) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + excluded.balance;
END;
$$ LANGUAGE plpgsql";

fn whitepaper_source() -> String {
    format!("{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n{FUND_FN};\n")
}

struct Chain {
    store: Store,
    root: Hash,
    height: u64,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
    nonces: Vec<u64>,
}

impl Chain {
    fn new() -> Chain {
        let chain = ChainId::dev();
        let (genesis, keys) = dev_genesis(chain.clone(), 0, 4, Amount::from_aergo(1000).unwrap(), vec![]).unwrap();
        let store = Store::memory();
        let root = genesis_state(&store, &genesis).unwrap();
        Chain {
            store,
            root,
            height: 0,
            keys,
            rules: ChainRules { chain_id_hash: chain.hash(), public: false },
            nonces: vec![0; 4],
        }
    }

    fn coinbase(&self) -> Address {
        self.keys[3].address()
    }

    fn sign(&mut self, from: usize, body: impl FnOnce(u64, &Address, &Hash) -> TxBody) -> VerifiedTx {
        self.nonces[from] += 1;
        let b = body(self.nonces[from], &self.keys[from].address(), &self.rules.chain_id_hash);
        verify_tx(sign_tx(b, &self.keys[from]), &self.rules).unwrap()
    }

    fn deploy_tx(&mut self, from: usize, source: &str, args: Option<&str>, gas_limit: u64) -> VerifiedTx {
        let payload = encode_deploy_payload(source, args);
        self.sign(from, |n, s, c| {
            TxBody::new(TxType::Deploy, n, s, None, Amount::ZERO, c)
                .with_payload(payload)
                .with_gas(gas_limit, Amount::ZERO)
        })
    }

    fn call_tx(
        &mut self,
        from: usize,
        contract: &Address,
        name: &str,
        args: &[serde_json::Value],
        amount: Amount,
        gas_limit: u64,
    ) -> VerifiedTx {
        self.raw_call_tx(from, contract, encode_call_payload(name, args), amount, gas_limit)
    }

    fn raw_call_tx(
        &mut self,
        from: usize,
        contract: &Address,
        payload: Vec<u8>,
        amount: Amount,
        gas_limit: u64,
    ) -> VerifiedTx {
        self.sign(from, |n, s, c| {
            TxBody::new(TxType::Call, n, s, Some(contract), amount, c)
                .with_payload(payload)
                .with_gas(gas_limit, Amount::ZERO)
        })
    }

    /// Runs one block; returns its receipts and moves the head.
    fn block(&mut self, txs: Vec<VerifiedTx>) -> Vec<Receipt> {
        self.height += 1;
        let ctx = BlockContext {
            height: self.height,
            timestamp_ns: 1_000_000_000 * self.height as i64,
            coinbase: self.coinbase(),
        };
        let out = execute_block(&self.store, self.root, ctx, txs).map_err(|(i, e)| format!("tx {i}: {e}")).unwrap();
        self.root = out.state_root;
        out.receipts
    }

    fn one(&mut self, tx: VerifiedTx) -> Receipt {
        self.block(vec![tx]).remove(0)
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::open(&self.store, self.root)
    }

    fn account(&self, who: &Address) -> AccountState {
        account(&self.snapshot(), who).unwrap()
    }

    fn query_at(
        &self,
        root: Hash,
        contract: Option<&Address>,
        sql: &str,
    ) -> Result<Vec<Vec<serde_json::Value>>, ExecError> {
        let engine = query_engine(&QueryLimits::default());
        let mut snap = Snapshot::open(&self.store, root);
        let qc = QueryContext { height: self.height, timestamp_ns: 0, contract: contract.cloned() };
        query_sql(&engine, &mut snap, &qc, sql, 1_000_000).map(|o| o.rows)
    }

    fn query(&self, contract: &Address, sql: &str) -> Vec<Vec<serde_json::Value>> {
        self.query_at(self.root, Some(contract), sql).unwrap()
    }
}

fn fee_of(r: &Receipt) -> Amount {
    Amount::from_be_bytes(&r.fee_used).unwrap()
}

fn balance_of(c: &Chain, contract: &Address, id: &str) -> serde_json::Value {
    let rows = c.query(contract, &format!("SELECT balance FROM accounts WHERE id = '{id}'"));
    rows.first().map(|r| r[0].clone()).unwrap_or(serde_json::Value::Null)
}

/// Deploys the whitepaper contract (with `fund`) and funds alice and bob.
fn whitepaper(c: &mut Chain) -> Address {
    let tx = c.deploy_tx(0, &whitepaper_source(), None, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    Address::from_bytes(&r.contract_address).unwrap()
}

#[test]
fn whitepaper_contract_end_to_end() {
    let mut c = Chain::new();
    let creator = c.keys[0].address();
    let start = c.account(&creator).balance;
    let deploy = c.deploy_tx(0, &whitepaper_source(), None, 0);
    let intrinsic = intrinsic_gas(deploy.tx());
    let r = c.one(deploy);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    let contract = Address::contract_from(&creator, 1);
    assert_eq!(r.contract_address, contract.to_vec());
    assert!(r.gas_used > intrinsic, "SQL gas is charged on top of intrinsic gas");
    assert_eq!(fee_of(&r), GENESIS_GAS_PRICE.checked_mul(r.gas_used as u128).unwrap());
    assert_eq!(c.account(&creator).balance, start.checked_sub(fee_of(&r)).unwrap());
    assert_eq!(c.account(&creator).nonce, 1);

    // The catalogue.
    let info = read_contract(&c.snapshot(), &contract).unwrap().unwrap();
    assert_eq!(info.creator, creator);
    assert_eq!(info.schema, schema_name(&contract).unwrap());
    assert_eq!(info.source_hash, Hash::sha256(whitepaper_source().as_bytes()));
    let names: Vec<&str> = info.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["fund", "transfer"]);
    let transfer = &info.functions[1];
    assert_eq!(
        transfer.params,
        vec![
            ("sender".to_string(), "TEXT".to_string()),
            ("to".to_string(), "TEXT".to_string()),
            ("amount".to_string(), "NUMERIC".to_string())
        ]
    );
    assert_eq!(info.deployed_height, 1);
    // Anyone reads the catalogue and contract tables with SQL.
    let rows = c
        .query_at(c.root, None, &format!("SELECT schema, creator FROM sys.contracts WHERE address = '{contract}'"))
        .unwrap();
    assert_eq!(rows, vec![vec![json!(info.schema), json!(creator.to_string())]]);

    // Fund.
    let t1 = c.call_tx(1, &contract, "fund", &[json!("alice"), json!(100)], Amount::ZERO, 0);
    let t2 = c.call_tx(1, &contract, "fund", &[json!("bob"), json!("50.00")], Amount::ZERO, 0);
    let rs = c.block(vec![t1, t2]);
    for r in &rs {
        assert_eq!(r.status, "SUCCESS", "{}", r.ret);
        assert_eq!(r.ret, "", "a void function returns nothing");
        assert_eq!(r.contract_address, contract.to_vec());
    }
    assert_eq!(balance_of(&c, &contract, "alice"), json!("100.00"));
    assert_eq!(balance_of(&c, &contract, "bob"), json!("50.00"));
    let funded_root = c.root;

    // The four outcomes of transfer.
    let cases = [
        ("alice", "bob", "30", "OK", ("70.00", "80.00")),
        ("alice", "bob", "1000", "Not enough balance", ("70.00", "80.00")),
        ("carol", "bob", "1", "Sender not found", ("70.00", "80.00")),
        ("alice", "dave", "1", "Receiver not found", ("70.00", "80.00")),
    ];
    for (from, to, amount, outcome, (alice, bob)) in cases {
        let tx = c.call_tx(2, &contract, "transfer", &[json!(from), json!(to), json!(amount)], Amount::ZERO, 0);
        let caller = c.keys[2].address();
        let before = c.account(&caller);
        let r = c.one(tx);
        assert_eq!(r.status, "SUCCESS", "{}", r.ret);
        assert_eq!(r.ret, serde_json::to_string(outcome).unwrap());
        assert_eq!(fee_of(&r), GENESIS_GAS_PRICE.checked_mul(r.gas_used as u128).unwrap());
        let after = c.account(&caller);
        assert_eq!(after.balance, before.balance.checked_sub(fee_of(&r)).unwrap());
        assert_eq!(after.nonce, before.nonce + 1);
        assert_eq!(balance_of(&c, &contract, "alice"), json!(alice));
        assert_eq!(balance_of(&c, &contract, "bob"), json!(bob));
    }
    // A read-only query at an earlier state root still sees the old rows.
    let old = c.query_at(funded_root, Some(&contract), "SELECT id, balance FROM accounts ORDER BY id").unwrap();
    assert_eq!(old, vec![vec![json!("alice"), json!("100.00")], vec![json!("bob"), json!("50.00")]]);
    let now = c.query(&contract, "SELECT id, balance FROM accounts ORDER BY id");
    assert_eq!(now, vec![vec![json!("alice"), json!("70.00")], vec![json!("bob"), json!("80.00")]]);
    // Read-only call of a public function (Go's queryContract).
    let engine = query_engine(&QueryLimits::default());
    let mut snap = c.snapshot();
    let qc = QueryContext { height: c.height, timestamp_ns: 0, contract: None };
    let payload = encode_call_payload("transfer", &[json!("alice"), json!("bob"), json!(1000)]);
    let (ret, gas) = query_call(&engine, &mut snap, &qc, &contract, &payload, 1_000_000).unwrap();
    assert_eq!(ret, "\"Not enough balance\"");
    assert!(gas > 0);
    // A function that writes fails read-only.
    let payload = encode_call_payload("transfer", &[json!("alice"), json!("bob"), json!(1)]);
    let err = query_call(&engine, &mut snap, &qc, &contract, &payload, 1_000_000).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

/// The state root after charging `fee` to `payer` (and using one nonce)
/// and crediting the coinbase: what a failed contract tx must leave.
fn root_with_only_fee(c: &Chain, parent: Hash, payer: &Address, fee: Amount) -> Hash {
    let mut o = aergo_store::Overlay::new(&c.store, parent);
    crate::branches::record_history(&mut o, c.height - 1, parent).unwrap();
    let mut a = system::read_account(&o, payer).unwrap();
    a.balance = a.balance.checked_sub(fee).unwrap();
    a.nonce += 1;
    system::write_account(&mut o, payer, a).unwrap();
    let cb = c.coinbase();
    let mut b = system::read_account(&o, &cb).unwrap();
    b.balance = b.balance.checked_add(fee).unwrap();
    system::write_account(&mut o, &cb, b).unwrap();
    o.flush().unwrap()
}

/// Runs `tx` alone in a block and checks it failed with `needle` in its
/// message, changing nothing but the fee and the nonce.
fn assert_fails_cleanly(c: &mut Chain, tx: VerifiedTx, needle: &str) -> Receipt {
    let parent = c.root;
    let payer = tx.sender().clone();
    let r = c.one(tx);
    assert_eq!(r.status, "ERROR", "expected failure with {needle:?}, got ret {}", r.ret);
    assert!(r.ret.contains(needle), "expected {needle:?} in {:?}", r.ret);
    assert!(r.events.is_empty());
    assert_eq!(c.root, root_with_only_fee(c, parent, &payer, fee_of(&r)), "only fee and nonce may change: {}", r.ret);
    r
}

#[test]
fn bad_inputs_fail_cleanly_and_pay_their_gas() {
    let mut c = Chain::new();
    let contract = whitepaper(&mut c);
    let fund = c.call_tx(1, &contract, "fund", &[json!("alice"), json!(100)], Amount::ZERO, 0);
    assert_eq!(c.one(fund).status, "SUCCESS");

    // SQL errors at deploy: syntax, unsupported, non-deterministic, an
    // error in the middle of the source (the first statements are undone).
    let tx = c.deploy_tx(1, "CREATE TABLE t (a INT PRIMARY KEY); CREAT TABLE u (b INT)", None, 0);
    assert_fails_cleanly(&mut c, tx, "syntax error");
    let tx = c.deploy_tx(1, "CREATE TABLE t (a INT PRIMARY KEY, b INT DEFAULT random())", None, 0);
    assert_fails_cleanly(&mut c, tx, "random");
    let tx = c.deploy_tx(1, "CREATE TABLE t (a INT PRIMARY KEY); INSERT INTO t VALUES (1), (1)", None, 0);
    assert_fails_cleanly(&mut c, tx, "duplicate key");
    // Writing outside its own schema at deploy.
    let other_schema = schema_name(&contract).unwrap();
    let tx = c.deploy_tx(1, &format!("INSERT INTO {other_schema}.accounts VALUES ('mallory', 1000000)"), None, 0);
    assert_fails_cleanly(&mut c, tx, "cannot write to schema");
    let tx = c.deploy_tx(1, "CREATE TABLE sys.evil (a INT PRIMARY KEY)", None, 0);
    assert_fails_cleanly(&mut c, tx, "cannot write to schema \"sys\"");
    // Bad framing.
    let tx = c.sign(1, |n, s, ch| {
        TxBody::new(TxType::Deploy, n, s, None, Amount::ZERO, ch).with_payload(b"CREATE TABLE t (a INT)".to_vec())
    });
    assert_fails_cleanly(&mut c, tx, "length prefix");
    // Constructor arguments without a constructor.
    let tx = c.deploy_tx(1, "CREATE TABLE t (a INT PRIMARY KEY)", Some("[1]"), 0);
    assert_fails_cleanly(&mut c, tx, "no constructor");

    // Calls: unknown function, private, wrong count, wrong type, bad JSON.
    let tx = c.call_tx(1, &contract, "steal", &[], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "no public function \"steal\"");
    let tx = c.call_tx(1, &contract, "transfer", &[json!("alice"), json!("bob")], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "expected 3 arguments");
    let tx = c.call_tx(1, &contract, "transfer", &[json!("alice"), json!("bob"), json!("lots")], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "argument \"amount\" (NUMERIC)");
    let tx = c.call_tx(1, &contract, "transfer", &[json!(1), json!("bob"), json!(1)], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "expected a string");
    let tx = c.raw_call_tx(1, &contract, b"{\"Name\": \"transfer\", \"Args\": [1,".to_vec(), Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "bad payload");
    let tx = c.raw_call_tx(1, &contract, b"{\"Name\": \"transfer\", \"Gas\": 1}".to_vec(), Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "unknown field");
    // No contract there.
    let nowhere = Address::contract_from(&c.keys[2].address(), 77);
    let tx = c.call_tx(1, &nowhere, "transfer", &[], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "no contract at");
    // Value sent with a failing call comes back.
    let tx = c.call_tx(1, &contract, "steal", &[], Amount::from_aergo(5).unwrap(), 0);
    assert_fails_cleanly(&mut c, tx, "no public function");

    // Out of gas: the whole limit is used, and nothing the call wrote stays.
    let args = [json!("alice"), json!("bob"), json!(1)];
    let intrinsic = TX_BASE_GAS + PAYLOAD_GAS_PER_BYTE * encode_call_payload("transfer", &args).len() as u64;
    let tx =
        c.call_tx(1, &contract, "transfer", &[json!("alice"), json!("bob"), json!(1)], Amount::ZERO, intrinsic + 300);
    let r = assert_fails_cleanly(&mut c, tx, "out of gas");
    assert_eq!(r.gas_used, intrinsic + 300);
    assert_eq!(balance_of(&c, &contract, "alice"), json!("100.00"));

    // A contract writing another contract's table, from a function.
    let thief = format!(
        "CREATE FUNCTION grab() RETURNS INT AS $$ BEGIN UPDATE {other_schema}.accounts SET balance = 0; RETURN 1; END; $$ LANGUAGE plpgsql"
    );
    let tx = c.deploy_tx(2, &thief, None, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    let thief_addr = Address::from_bytes(&r.contract_address).unwrap();
    let tx = c.call_tx(2, &thief_addr, "grab", &[], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "cannot write to schema");
    assert_eq!(balance_of(&c, &contract, "alice"), json!("100.00"));

    // RAISE EXCEPTION: the message is the receipt's ret.
    let tx = c.deploy_tx(
        2,
        "CREATE TABLE log (n INT PRIMARY KEY);
         CREATE FUNCTION boom(n INT) RETURNS INT AS $$ BEGIN INSERT INTO log VALUES (n); RAISE EXCEPTION 'boom %', n; END; $$ LANGUAGE plpgsql",
        None,
        0,
    );
    let r = c.one(tx);
    let boom = Address::from_bytes(&r.contract_address).unwrap();
    let tx = c.call_tx(2, &boom, "boom", &[json!(7)], Amount::ZERO, 0);
    let r = assert_fails_cleanly(&mut c, tx, "boom 7");
    assert_eq!(r.ret, "boom 7");
    assert_eq!(c.query(&boom, "SELECT count(*) FROM log"), vec![vec![json!(0)]]);
}

#[test]
fn rejections_are_not_included() {
    let mut c = Chain::new();
    let contract = whitepaper(&mut c);
    let root = c.root;
    // Gas limit below intrinsic gas.
    let tx = c.call_tx(1, &contract, "fund", &[json!("a"), json!(1)], Amount::ZERO, 10);
    c.height += 1;
    let ctx = BlockContext { height: c.height, timestamp_ns: 0, coinbase: c.coinbase() };
    let mut b = BlockBuilder::new(&c.store, c.root, ctx).unwrap();
    assert!(matches!(b.push(tx), Err(ExecError::GasLimitTooLow { .. })));
    // More gas than the chain allows one transaction.
    c.nonces[1] -= 1;
    let tx = c.call_tx(1, &contract, "fund", &[json!("a"), json!(1)], Amount::ZERO, 100_000_000_000);
    assert!(matches!(b.push(tx), Err(ExecError::GasLimitTooHigh { .. })));
    // More gas than the balance can pay next to the amount.
    c.nonces[1] -= 1;
    let amount = Amount::from_aergo(999).unwrap();
    let tx = c.call_tx(1, &contract, "fund", &[json!("a"), json!(1)], amount, system::DEFAULT_MAX_TX_GAS);
    assert!(matches!(b.push(tx), Err(ExecError::InsufficientBalance { .. })));
    // Wrong nonce.
    let tx = c.call_tx(1, &contract, "fund", &[json!("a"), json!(1)], Amount::ZERO, 0);
    assert!(matches!(b.push(tx), Err(ExecError::Nonce { .. })));
    assert!(b.is_empty());
    assert_eq!(b.finish().unwrap().state_root, crate::branches::empty_block_root(&c.store, root, c.height).unwrap());
}

const VAULT: &str = "
CREATE TABLE deposits (n BIGINT PRIMARY KEY, who TEXT NOT NULL, amount NUMERIC NOT NULL);
CREATE FUNCTION deposit() RETURNS NUMERIC AS $$
DECLARE k BIGINT;
BEGIN
    SELECT coalesce(max(n), 0) + 1 INTO k FROM deposits;
    INSERT INTO deposits VALUES (k, aergo_caller(), aergo_amount());
    PERFORM aergo_emit('deposit', '{\"amount\": \"' || aergo_amount() || '\"}');
    RETURN aergo_amount();
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION withdraw(dest TEXT, amt NUMERIC) RETURNS NUMERIC AS $$
BEGIN
    PERFORM aergo_send(dest, amt);
    RETURN aergo_balance();
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION held() RETURNS NUMERIC AS $$ SELECT aergo_balance() $$ LANGUAGE sql;
";

const RECORDER: &str = "
CREATE TABLE calls (n INT PRIMARY KEY, caller TEXT NOT NULL);
CREATE FUNCTION record(n INT) RETURNS INT AS $$
BEGIN
    INSERT INTO calls VALUES (n, aergo_caller());
    PERFORM aergo_emit('recorded', '[' || n || ']');
    IF n < 0 THEN
        RAISE EXCEPTION 'negative %', n;
    END IF;
    RETURN n * 2;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION _secret() RETURNS INT AS $$ SELECT 42 $$ LANGUAGE sql;
";

const PROXY: &str = "
CREATE TABLE seen (n INT PRIMARY KEY, result INT);
CREATE FUNCTION poke(target TEXT, n INT) RETURNS INT AS $$
DECLARE r INT;
BEGIN
    r := aergo_call(target, 'record', n);
    INSERT INTO seen VALUES (n, r);
    PERFORM aergo_emit('poked', '{}');
    RETURN r;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION try_poke(target TEXT, n INT) RETURNS TEXT AS $$
BEGIN
    BEGIN
        PERFORM aergo_call(target, 'record', n);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO seen VALUES (n, NULL);
        RETURN 'caught: ' || SQLERRM;
    END;
    RETURN 'ok';
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION deep(target TEXT, n INT) RETURNS INT AS $$
BEGIN
    IF n = 0 THEN RETURN 0; END IF;
    RETURN aergo_call(target, 'deep', target, n - 1) + 1;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION hidden(target TEXT) RETURNS INT AS $$ BEGIN RETURN aergo_call(target, '_secret'); END; $$ LANGUAGE plpgsql;
";

fn deploy_ok(c: &mut Chain, from: usize, source: &str) -> Address {
    let tx = c.deploy_tx(from, source, None, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    Address::from_bytes(&r.contract_address).unwrap()
}

#[test]
fn value_moves_to_and_from_contracts() {
    let mut c = Chain::new();
    let vault = deploy_ok(&mut c, 0, VAULT);
    let user = c.keys[1].address();
    let five = Amount::from_aergo(5).unwrap();
    let before = c.account(&user);
    let tx = c.call_tx(1, &vault, "deposit", &[], five, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    assert_eq!(r.ret, format!("\"{}\"", five.aer()));
    assert_eq!(c.account(&vault).balance, five);
    assert_eq!(c.account(&user).balance, before.balance.checked_sub(five).unwrap().checked_sub(fee_of(&r)).unwrap());
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].event_name, "deposit");
    assert_eq!(r.events[0].json_args, format!("{{\"amount\": \"{}\"}}", five.aer()));
    assert_eq!(r.events[0].contract_address, vault.to_vec());
    let rows = c.query(&vault, "SELECT who, amount FROM deposits");
    assert_eq!(rows, vec![vec![json!(user.to_string()), json!(five.aer().to_string())]]);

    // A plain payment (no payload) to the contract.
    let tx = c.raw_call_tx(2, &vault, Vec::new(), Amount::ONE_AERGO, 0);
    assert_eq!(c.one(tx).status, "SUCCESS");
    let six = Amount::from_aergo(6).unwrap();
    assert_eq!(c.account(&vault).balance, six);

    // The contract sends what it holds.
    let dest = c.keys[2].address();
    let dest_before = c.account(&dest).balance;
    let two = Amount::from_aergo(2).unwrap();
    let tx =
        c.call_tx(1, &vault, "withdraw", &[json!(dest.to_string()), json!(two.aer().to_string())], Amount::ZERO, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    assert_eq!(r.ret, format!("\"{}\"", Amount::from_aergo(4).unwrap().aer()));
    assert_eq!(c.account(&dest).balance, dest_before.checked_add(two).unwrap());
    // More than it holds: the call fails, nothing moves.
    let tx =
        c.call_tx(1, &vault, "withdraw", &[json!(dest.to_string()), json!(six.aer().to_string())], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "cannot send");
    assert_eq!(c.account(&vault).balance, Amount::from_aergo(4).unwrap());
    // A read-only query may read balances but not send.
    let rows = c.query(&vault, "SELECT aergo_balance()");
    assert_eq!(rows, vec![vec![json!(Amount::from_aergo(4).unwrap().aer().to_string())]]);
    let err = c.query_at(c.root, Some(&vault), &format!("SELECT aergo_send('{dest}', 1)")).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn contracts_call_contracts() {
    let mut c = Chain::new();
    let recorder = deploy_ok(&mut c, 0, RECORDER);
    let proxy = deploy_ok(&mut c, 1, PROXY);
    let tx = c.call_tx(2, &proxy, "poke", &[json!(recorder.to_string()), json!(21)], Amount::ZERO, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    assert_eq!(r.ret, "42");
    // The callee ran with its own schema, the proxy as its caller.
    assert_eq!(c.query(&recorder, "SELECT n, caller FROM calls"), vec![vec![json!(21), json!(proxy.to_string())]]);
    assert_eq!(c.query(&proxy, "SELECT n, result FROM seen"), vec![vec![json!(21), json!(42)]]);
    // Events of both contracts, in order, in the one receipt.
    let evs: Vec<(Vec<u8>, &str, &str, i32)> = r
        .events
        .iter()
        .map(|e| (e.contract_address.clone(), e.event_name.as_str(), e.json_args.as_str(), e.event_idx))
        .collect();
    assert_eq!(evs, vec![(recorder.to_vec(), "recorded", "[21]", 0), (proxy.to_vec(), "poked", "{}", 1)]);

    // A failing callee, handled by the caller: the callee's row and event
    // are undone, the caller's handler runs.
    let tx = c.call_tx(2, &proxy, "try_poke", &[json!(recorder.to_string()), json!(-1)], Amount::ZERO, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    assert_eq!(r.ret, "\"caught: negative -1\"");
    assert!(r.events.is_empty(), "the callee's event was undone with its writes");
    assert_eq!(c.query(&recorder, "SELECT count(*) FROM calls WHERE n = -1"), vec![vec![json!(0)]]);
    assert_eq!(c.query(&proxy, "SELECT count(*) FROM seen WHERE n = -1"), vec![vec![json!(1)]]);
    // Unhandled: the whole transaction fails.
    let tx = c.call_tx(2, &proxy, "poke", &[json!(recorder.to_string()), json!(-2)], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "negative -2");

    // Depth is bounded: a contract calling itself.
    let tx = c.call_tx(2, &proxy, "deep", &[json!(proxy.to_string()), json!(3)], Amount::ZERO, 0);
    let r = c.one(tx);
    assert_eq!(r.ret, "3", "{}", r.ret);
    let tx = c.call_tx(2, &proxy, "deep", &[json!(proxy.to_string()), json!(50)], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "nested contract calls");
    // Gas is shared: a nested call that runs out fails the whole
    // transaction, uses the whole limit, and no handler can swallow it.
    for (f, target, n) in [("deep", &proxy, 7), ("try_poke", &recorder, 5)] {
        let args = [json!(target.to_string()), json!(n)];
        let tx = c.call_tx(2, &proxy, f, &args, Amount::ZERO, 0);
        let ok = c.one(tx);
        assert_eq!(ok.status, "SUCCESS", "{}", ok.ret);
        let intrinsic = TX_BASE_GAS + PAYLOAD_GAS_PER_BYTE * encode_call_payload(f, &args).len() as u64;
        let limit = intrinsic + (ok.gas_used - intrinsic) * 2 / 3;
        let args = [json!(target.to_string()), json!(n + 100)];
        let tx = c.call_tx(2, &proxy, f, &args, Amount::ZERO, limit);
        let r = assert_fails_cleanly(&mut c, tx, "out of gas");
        assert_eq!(r.gas_used, limit, "{f}");
    }
    // Private functions are not callable from outside.
    let tx = c.call_tx(2, &proxy, "hidden", &[json!(recorder.to_string())], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "private");
    let tx = c.call_tx(2, &recorder, "_secret", &[], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "private");
}

#[test]
fn constructor_runs_once_with_arguments() {
    let mut c = Chain::new();
    let src = "CREATE TABLE owner (k INT PRIMARY KEY, who TEXT, cap NUMERIC);
        CREATE FUNCTION constructor(cap NUMERIC) RETURNS TEXT AS $$
        BEGIN INSERT INTO owner VALUES (1, aergo_caller(), cap); RETURN 'hello'; END; $$ LANGUAGE plpgsql;
        CREATE FUNCTION cap() RETURNS NUMERIC AS $$ SELECT cap FROM owner WHERE k = 1 $$ LANGUAGE sql";
    let tx = c.deploy_tx(0, src, Some("[\"12.5\"]"), 0);
    let r = c.one(tx);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    assert_eq!(r.ret, "\"hello\"");
    let addr = Address::from_bytes(&r.contract_address).unwrap();
    let info = read_contract(&c.snapshot(), &addr).unwrap().unwrap();
    assert!(info.has_constructor);
    assert_eq!(info.functions.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["cap"]);
    assert_eq!(c.query(&addr, "SELECT who FROM owner"), vec![vec![json!(c.keys[0].address().to_string())]]);
    let tx = c.call_tx(1, &addr, "constructor", &[json!(1)], Amount::ZERO, 0);
    assert_fails_cleanly(&mut c, tx, "only at deploy");
    // A failing constructor undoes the deploy: no contract, no tables.
    let tx = c.deploy_tx(0, src, Some("[\"x\"]"), 0);
    let parent = c.root;
    let r = c.one(tx);
    assert_eq!(r.status, "ERROR");
    let addr2 = Address::from_bytes(&r.contract_address).unwrap();
    assert!(read_contract(&c.snapshot(), &addr2).unwrap().is_none());
    assert_eq!(c.root, root_with_only_fee(&c, parent, &c.keys[0].address(), fee_of(&r)));
}

#[test]
fn events_are_listed_by_contract_name_and_height() {
    let mut c = Chain::new();
    let vault = deploy_ok(&mut c, 0, VAULT);
    let recorder = deploy_ok(&mut c, 0, RECORDER);
    for i in 0..3 {
        let a = c.call_tx(1, &vault, "deposit", &[], Amount::ONE_AERGO, 0);
        let b = c.call_tx(2, &recorder, "record", &[json!(i)], Amount::ZERO, 0);
        let rs = c.block(vec![a, b]);
        assert!(rs.iter().all(|r| r.status == "SUCCESS"));
    }
    let snap = c.snapshot();
    let all =
        list_events(&snap, &EventFilter { to_height: c.height, ..Default::default() }, ListLimits::default()).unwrap();
    assert_eq!(all.events.len(), 6);
    assert!(!all.truncated);
    let heights: Vec<(u64, i32)> = all.events.iter().map(|e| (e.block_no, e.tx_index)).collect();
    assert_eq!(heights, vec![(3, 0), (3, 1), (4, 0), (4, 1), (5, 0), (5, 1)]);
    let only = list_events(
        &snap,
        &EventFilter { contract: Some(recorder.clone()), name: Some("recorded".into()), from_height: 4, to_height: 5 },
        ListLimits::default(),
    )
    .unwrap();
    assert_eq!(only.events.iter().map(|e| e.json_args.as_str()).collect::<Vec<_>>(), ["[1]", "[2]"]);
    let capped = list_events(
        &snap,
        &EventFilter { to_height: 99, ..Default::default() },
        ListLimits { max_results: 2, max_scanned: 100 },
    )
    .unwrap();
    assert_eq!(capped.events.len(), 2);
    assert!(capped.truncated);
    let err = list_events(
        &snap,
        &EventFilter { to_height: 99, ..Default::default() },
        ListLimits { max_results: 100, max_scanned: 3 },
    );
    assert!(matches!(err, Err(ExecError::LimitExceeded { .. })));
    // Events are SQL-readable too.
    let rows = c.query_at(c.root, None, "SELECT count(*) FROM sys.events WHERE name = 'deposit'").unwrap();
    assert_eq!(rows, vec![vec![json!(3)]]);
}

#[test]
fn read_only_queries_refuse_writes_and_respect_caps() {
    let mut c = Chain::new();
    let contract = whitepaper(&mut c);
    let root = c.root;
    for sql in [
        "DELETE FROM accounts",
        "INSERT INTO accounts VALUES ('x', 1)",
        "CREATE TABLE t (a INT)",
        "UPDATE sys.accounts SET nonce = 0",
    ] {
        let err = c.query_at(root, Some(&contract), sql).unwrap_err();
        assert!(err.to_string().contains("read-only"), "{sql}: {err}");
    }
    let err = c.query_at(root, Some(&contract), "SELECT 1; SELECT 2").unwrap_err();
    assert!(err.to_string().contains("exactly one statement"), "{err}");
    // Caps: rows, bytes, gas.
    let engine = query_engine(&QueryLimits { gas_limit: 1_000_000, max_rows: 2, max_bytes: 1 << 20 });
    let mut snap = c.snapshot();
    let qc = QueryContext { height: c.height, timestamp_ns: 0, contract: Some(contract.clone()) };
    let many = "SELECT * FROM (VALUES (1), (2), (3)) AS v(x)";
    let err = query_sql(&engine, &mut snap, &qc, many, 1_000_000).unwrap_err();
    assert!(err.to_string().contains("result too large"), "{err}");
    let err = query_sql(&engine, &mut snap, &qc, "SELECT * FROM sys.accounts", 50).unwrap_err();
    assert!(err.to_string().contains("out of gas"), "{err}");
    let engine = query_engine(&QueryLimits { gas_limit: 1_000_000, max_rows: 100, max_bytes: 10 });
    let err = query_sql(&engine, &mut snap, &qc, "SELECT repeat('x', 100)", 1_000_000).unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
    // System tables read as SQL, with exact balances.
    let user = c.keys[1].address();
    let rows =
        c.query_at(root, None, &format!("SELECT balance, nonce FROM sys.accounts WHERE address = '{user}'")).unwrap();
    assert_eq!(rows, vec![vec![json!(Amount::from_aergo(1000).unwrap().aer().to_string()), json!(0)]]);
    assert_eq!(c.root, root);
}

#[test]
fn same_contract_block_same_root() {
    let build = || {
        let mut c = Chain::new();
        let contract = whitepaper(&mut c);
        let a = c.call_tx(1, &contract, "fund", &[json!("alice"), json!(10)], Amount::ZERO, 0);
        let b = c.call_tx(2, &contract, "transfer", &[json!("alice"), json!("alice"), json!(1)], Amount::ZERO, 0);
        let rs = c.block(vec![a, b]);
        (c.root, receipts_root(&rs).unwrap())
    };
    assert_eq!(build(), build());
}

#[test]
fn payload_formats() {
    let p = encode_deploy_payload("SELECT 1", Some("[1,\"a\"]"));
    assert_eq!(&p[..4], &12u32.to_le_bytes());
    let d = parse_deploy_payload(&p).unwrap();
    assert_eq!(d.source, "SELECT 1");
    assert_eq!(d.args, Some(&b"[1,\"a\"]"[..]));
    assert_eq!(parse_deploy_payload(&encode_deploy_payload("x", None)).unwrap().args, None);
    for bad in [&b""[..], b"\x03\x00\x00\x00", b"\x09\x00\x00\x00abc", b"\x05\x00\x00\x00\xff"] {
        let e = ExecError::from(parse_deploy_payload(bad).unwrap_err());
        assert!(matches!(e, ExecError::BadPayload { .. }), "{bad:?}");
    }
    let call = parse_call_payload(b"{\"name\": \"f\", \"ARGS\": [1, \"x\", null, {\"a\": [1]}]}").unwrap();
    assert_eq!(call.name, "f");
    assert_eq!(call.args.iter().map(|a| a.get()).collect::<Vec<_>>(), ["1", "\"x\"", "null", "{\"a\": [1]}"]);
    assert!(parse_call_payload(b"{\"Args\": []}").is_err());
    assert!(parse_call_payload(b"{\"Name\": 5}").is_err());
    assert!(parse_call_payload(b"[]").is_err());
    let too_many = format!("{{\"Name\": \"f\", \"Args\": [{}]}}", vec!["1"; 101].join(","));
    assert!(parse_call_payload(too_many.as_bytes()).is_err());
}

#[test]
fn schema_names_are_short_lowercase_identifiers() {
    let c = Chain::new();
    let a = Address::contract_from(&c.keys[0].address(), 1);
    let s = schema_name(&a).unwrap();
    assert_eq!(s.len(), 54);
    assert!(s.starts_with("c_"));
    assert!(s[2..].bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
    assert_ne!(s, schema_name(&Address::contract_from(&c.keys[0].address(), 2)).unwrap());
    assert!(schema_name(&c.keys[0].address()).is_err());
    // Golden: the first byte of the hash 0x00 gives "aa".
    let mut raw = [0u8; 33];
    raw[0] = 0x0c;
    assert_eq!(schema_name(&Address::from_bytes(&raw).unwrap()).unwrap(), format!("c_{}", "a".repeat(52)));
    raw[1] = 0xff;
    assert!(schema_name(&Address::from_bytes(&raw).unwrap()).unwrap().starts_with("c_74"));
}

mod props {
    use super::*;
    use crate::contract::{json_args_to_values, value_to_json};
    use aergo_sql::{FunctionParam, FunctionSignature, SqlType, Value as V};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn sig(ty: SqlType) -> FunctionSignature {
        FunctionSignature {
            schema: "s".into(),
            name: "f".into(),
            params: vec![FunctionParam { name: "p".into(), ty, has_default: false }],
            returns: Some(ty),
            language: "sql",
        }
    }

    fn roundtrip(v: &V, ty: SqlType) -> V {
        let json = value_to_json(v);
        let text = format!("[{json}]");
        let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
        json_args_to_values(&sig(ty), &raw).unwrap().remove(0)
    }

    proptest! {
        #[test]
        fn numerics_survive_json_exactly(m in any::<i64>(), scale in 0u32..=18) {
            let d = Decimal::new(m, scale);
            prop_assert_eq!(roundtrip(&V::Numeric(d), SqlType::Numeric(None)), V::Numeric(d));
        }

        #[test]
        fn integers_and_text_survive_json(i in any::<i64>(), s in "\\PC{0,40}") {
            prop_assert_eq!(roundtrip(&V::Int(i), SqlType::BigInt), V::Int(i));
            prop_assert_eq!(roundtrip(&V::Text(s.clone()), SqlType::Text), V::Text(s));
        }

        #[test]
        fn arbitrary_json_arguments_never_panic(s in "\\PC{0,60}") {
            for ty in [SqlType::Bool, SqlType::Int, SqlType::Numeric(Some((10, 2))), SqlType::Varchar(3), SqlType::Bytea, SqlType::Timestamp] {
                let text = format!("[{s}]");
                if let Ok(raw) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(&text) {
                    let _ = json_args_to_values(&sig(ty), &raw);
                }
            }
            let _ = parse_call_payload(s.as_bytes());
            let _ = parse_deploy_payload(s.as_bytes());
        }
    }
}

/// Issue 11, finding 4: no transaction may ask for more gas than the
/// chain's per-transaction cap, a default limit stays under it, and a
/// block's transactions together stay under the block cap (the rest wait
/// for the next block).
#[test]
fn gas_caps_bound_a_transaction_and_a_block() {
    let mut c = Chain::new();
    let source = "CREATE FUNCTION spin() RETURNS INT AS $$ BEGIN LOOP END LOOP; END; $$ LANGUAGE plpgsql";
    let tx = c.deploy_tx(0, source, None, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    let spin = Address::from_bytes(&r.contract_address).unwrap();

    // A limit of 10^10 gas is refused before anything runs.
    let greedy = c.call_tx(1, &spin, "spin", &[], Amount::ZERO, 10_000_000_000);
    let ctx = BlockContext { height: c.height + 1, timestamp_ns: 0, coinbase: c.coinbase() };
    let mut b = BlockBuilder::new(&c.store, c.root, ctx.clone()).unwrap();
    let e = b.push(greedy).unwrap_err();
    assert!(matches!(e, ExecError::GasLimitTooHigh { limit: 10_000_000_000, max: system::DEFAULT_MAX_TX_GAS }), "{e}");
    assert_eq!(e.reason(), Some(RejectReason::GasLimitTooHigh));
    assert!(b.is_empty());

    // A default limit runs out at the default, under the cap.
    c.nonces[1] -= 1;
    let default = c.call_tx(1, &spin, "spin", &[], Amount::ZERO, 0);
    let r = b.push(default).unwrap().clone();
    assert_eq!(r.status, "ERROR");
    assert!(r.ret.contains("out of gas"), "{}", r.ret);
    assert_eq!(r.gas_used, contract::DEFAULT_TX_GAS_LIMIT);
    assert_eq!(b.gas_used(), contract::DEFAULT_TX_GAS_LIMIT);

    // With a block cap of 25M gas, two 10M calls fit and the third waits.
    let mut o = Overlay::new(&c.store, c.root);
    system::write_param(&mut o, system::PARAM_MAX_BLOCK_GAS, Amount::from_aer(25_000_000)).unwrap();
    let capped = o.flush().unwrap();
    let mut b = BlockBuilder::new(&c.store, capped, ctx).unwrap();
    c.nonces[1] -= 1; // the block above was never committed
    let mut fitted = 0;
    let mut full = None;
    for who in [0, 1, 2] {
        let tx = c.call_tx(who, &spin, "spin", &[], Amount::ZERO, 10_000_000);
        match b.push(tx) {
            Ok(r) => {
                assert_eq!(r.gas_used, 10_000_000);
                fitted += 1;
            }
            Err(e) => full = Some(e),
        }
    }
    assert_eq!(fitted, 2);
    assert!(matches!(full, Some(ExecError::BlockFull { what: "block gas" })), "{full:?}");
    assert_eq!(b.gas_used(), 20_000_000);
    // The per-transaction cap never exceeds the block's.
    assert_eq!(system::gas_caps(&Snapshot::open(&c.store, capped)).unwrap().tx, 25_000_000);
}

const FILE_REFS: &str = "
CREATE TABLE docs (name TEXT PRIMARY KEY, file TEXT NOT NULL);
CREATE FUNCTION attach(n TEXT, h TEXT) RETURNS BIGINT AS $$
DECLARE s BIGINT;
BEGIN
    s := aergo_file_size(h);
    IF s IS NULL THEN
        RAISE EXCEPTION 'file % is not registered', h;
    END IF;
    INSERT INTO docs VALUES (n, h);
    RETURN s;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION owner_of(h TEXT) RETURNS TEXT AS $$
BEGIN
    RETURN aergo_file_owner(h);
END;
$$ LANGUAGE plpgsql";

impl Chain {
    fn file_tx(&mut self, from: usize, call: &aergo_types::payload::FileCall, amount: Amount) -> VerifiedTx {
        let to = Address::name(aergo_types::address::AERGO_FS).unwrap();
        let payload = call.payload();
        self.sign(from, |n, s, c| TxBody::new(TxType::Governance, n, s, Some(&to), amount, c).with_payload(payload))
    }
}

#[test]
fn contracts_reference_registered_files_by_hash() {
    use aergo_types::payload::FileCall;
    let mut c = Chain::new();
    let deploy = c.deploy_tx(0, FILE_REFS, None, 0);
    let r = c.one(deploy);
    assert_eq!(r.status, "CREATED", "{}", r.ret);
    let contract = Address::from_bytes(&r.contract_address).unwrap();
    let hash = Hash::sha256(b"the report");
    // Not registered yet: the contract refuses it.
    let tx = c.call_tx(1, &contract, "attach", &[json!("report"), json!(hash.to_hex())], Amount::ZERO, 0);
    let r = c.one(tx);
    assert_eq!(r.status, "ERROR");
    assert!(r.ret.contains("is not registered"), "{}", r.ret);
    // Registered with its fee (1 gaer per byte), paid to aergo.fs.
    let call = FileCall::Register { hash, size: 1_000, blocks: None };
    let fee = crate::files::registration_fee(&c.snapshot(), 1_000, None).unwrap().unwrap();
    assert_eq!(fee, Amount::from_aer(1_000 * 1_000_000_000), "1 gaer per byte until a vote sets FILEPRICE");
    let short = c.file_tx(0, &call, Amount::from_aer(fee.aer() - 1));
    let ctx = BlockContext { height: c.height + 1, timestamp_ns: 0, coinbase: c.coinbase() };
    let mut b = BlockBuilder::new(&c.store, c.root, ctx).unwrap();
    assert_eq!(b.push(short).unwrap_err().reason(), Some(aergo_types::RejectReason::FileRejected));
    c.nonces[0] -= 1;
    let tx = c.file_tx(0, &call, fee);
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    assert_eq!(r.events[0].event_name, "registerFile");
    let fs = Address::name(aergo_types::address::AERGO_FS).unwrap();
    assert_eq!(c.account(&fs).balance, fee);
    // Now the contract sees it, by hex and by base58; the size comes back.
    let tx = c.call_tx(1, &contract, "attach", &[json!("report"), json!(hash.to_hex())], Amount::ZERO, 0);
    let r = c.one(tx);
    assert_eq!((r.status.as_str(), r.ret.as_str()), ("SUCCESS", "1000"));
    let owner = c.query_at(c.root, Some(&contract), &format!("SELECT owner_of('{hash}')")).unwrap();
    assert_eq!(owner[0][0], json!(c.keys[0].address().to_string()));
    // The registry walks in hash order, in bounded steps.
    let other = Hash::sha256(b"another file");
    let tx =
        c.file_tx(1, &FileCall::Register { hash: other, size: 10, blocks: None }, Amount::from_aer(10_000_000_000));
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    let mut both = [hash, other];
    both.sort();
    let snap = c.snapshot();
    let all = crate::files::list(&snap, None, 10).unwrap();
    assert_eq!(all.iter().map(|f| f.hash).collect::<Vec<_>>(), both);
    assert_eq!(all.iter().find(|f| f.hash == other).unwrap().size, 10);
    let rest = crate::files::list(&snap, Some(&both[0]), 10).unwrap();
    assert_eq!(rest.iter().map(|f| f.hash).collect::<Vec<_>>(), [both[1]]);
    assert_eq!(crate::files::list(&snap, None, 1).unwrap().len(), 1);
    assert!(crate::files::list(&snap, Some(&both[1]), 10).unwrap().is_empty());
    // Someone else may not take it over or release it; its owner releases.
    let stranger = c.file_tx(2, &call, fee);
    let ctx = BlockContext { height: c.height + 1, timestamp_ns: 0, coinbase: c.coinbase() };
    let mut b = BlockBuilder::new(&c.store, c.root, ctx).unwrap();
    assert_eq!(b.push(stranger).unwrap_err().reason(), Some(aergo_types::RejectReason::FileRejected));
    c.nonces[2] -= 1;
    let tx = c.file_tx(0, &FileCall::Release { hash }, Amount::ZERO);
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS");
    let size = c.query_at(c.root, None, &format!("SELECT aergo_file_size('{}')", hash.to_hex())).unwrap();
    assert_eq!(size[0][0], serde_json::Value::Null);
}

/// Prices are governance parameters; with rent in force a file is held for
/// the blocks paid for, can be extended by anyone, and lapses after: then
/// contracts see NULL and a stranger may register it.
#[test]
fn file_prices_follow_governance_and_terms_lapse() {
    use aergo_types::payload::FileCall;
    let mut c = Chain::new();
    let hash = Hash::sha256(b"rented");
    // FILEPRICE 2 aer per byte and FILERENT 1 aer per byte per block.
    let mut o = Overlay::new(&c.store, c.root);
    system::write_param(&mut o, system::PARAM_FILE_PRICE, Amount::from_aer(2)).unwrap();
    system::write_param(&mut o, system::PARAM_FILE_RENT, Amount::from_aer(1)).unwrap();
    c.root = o.flush().unwrap();
    let reject = |c: &mut Chain, from: usize, call: &FileCall, amount: Amount| {
        let tx = c.file_tx(from, call, amount);
        let ctx = BlockContext { height: c.height + 1, timestamp_ns: 0, coinbase: c.coinbase() };
        let mut b = BlockBuilder::new(&c.store, c.root, ctx).unwrap();
        let e = b.push(tx).unwrap_err();
        c.nonces[from] -= 1;
        assert_eq!(e.reason(), Some(aergo_types::RejectReason::FileRejected), "{e}");
        e.to_string()
    };
    // Without a term while rent is in force: refused.
    let forever = FileCall::Register { hash, size: 100, blocks: None };
    assert!(reject(&mut c, 0, &forever, Amount::from_aer(1_000_000)).contains("name the blocks"));
    // 100 bytes for 5 blocks: 200 + 500 aer; one aer short is refused.
    let call = FileCall::Register { hash, size: 100, blocks: Some(5) };
    assert!(reject(&mut c, 0, &call, Amount::from_aer(699)).contains("below the fee"));
    let tx = c.file_tx(0, &call, Amount::from_aer(700));
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    let registered_at = c.height;
    let rec = crate::files::lookup(&c.snapshot(), &hash).unwrap().unwrap();
    assert_eq!(rec.until, Some(registered_at + 5));
    let size_sql = format!("SELECT aergo_file_size('{}')", hash.to_hex());
    assert_eq!(c.query_at(c.root, None, &size_sql).unwrap()[0][0], serde_json::json!(100));
    // Anyone may extend it: 100 bytes * 3 blocks * 1 aer.
    let extend = FileCall::Extend { hash, blocks: 3 };
    assert!(reject(&mut c, 2, &extend, Amount::from_aer(299)).contains("below the fee"));
    let tx = c.file_tx(2, &extend, Amount::from_aer(300));
    assert_eq!(c.one(tx).status, "SUCCESS");
    let until = registered_at + 8;
    assert_eq!(crate::files::lookup(&c.snapshot(), &hash).unwrap().unwrap().until, Some(until));
    let fs = Address::name(aergo_types::address::AERGO_FS).unwrap();
    assert_eq!(c.account(&fs).balance, Amount::from_aer(1_000));
    // Through `until` it is in force; after, it lapses.
    while c.height < until {
        c.block(Vec::new());
    }
    assert_eq!(c.query_at(c.root, None, &size_sql).unwrap()[0][0], serde_json::json!(100));
    c.block(Vec::new());
    assert_eq!(c.query_at(c.root, None, &size_sql).unwrap()[0][0], serde_json::Value::Null, "lapsed");
    assert!(reject(&mut c, 2, &extend, Amount::from_aer(300)).contains("term has passed"));
    // A stranger may now take the hash.
    let tx = c.file_tx(1, &FileCall::Register { hash, size: 100, blocks: Some(1) }, Amount::from_aer(300));
    let r = c.one(tx);
    assert_eq!(r.status, "SUCCESS", "{}", r.ret);
    assert_eq!(crate::files::lookup(&c.snapshot(), &hash).unwrap().unwrap().owner, c.keys[1].address());
    // With rent off again, a registration without a term holds for good
    // and cannot be extended.
    let mut o = Overlay::new(&c.store, c.root);
    system::write_param(&mut o, system::PARAM_FILE_RENT, Amount::ZERO).unwrap();
    c.root = o.flush().unwrap();
    let tx = c.file_tx(1, &FileCall::Register { hash, size: 100, blocks: None }, Amount::from_aer(200));
    assert_eq!(c.one(tx).status, "SUCCESS");
    assert_eq!(crate::files::lookup(&c.snapshot(), &hash).unwrap().unwrap().until, None);
    assert!(reject(&mut c, 1, &FileCall::Extend { hash, blocks: 1 }, Amount::ZERO).contains("without end"));
    let params = crate::gov_read::params(&c.snapshot()).unwrap();
    assert!(params.contains(&(aergo_types::payload::GovParam::FilePrice, Amount::from_aer(2))), "{params:?}");
    assert!(params.contains(&(aergo_types::payload::GovParam::FileRent, Amount::ZERO)), "{params:?}");
}
