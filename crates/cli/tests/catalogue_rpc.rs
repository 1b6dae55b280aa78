//! The bad-input catalogue, JSON-RPC door: one dev node process, one table
//! of hostile or mistaken requests (framing, transactions, read-only
//! queries and contract calls), each naming its input, the JSON-RPC error
//! code, the `error.data.reason` of a refused transaction and a fragment of
//! the message. Before the table runs, a snapshot of everything a refusal
//! must leave alone is taken (head height and hash, state root, pool, the
//! balances and nonces of the dev accounts involved, a contract's rows); it
//! is compared after every case.
//!
//! Two groups legitimately change something, and assert exactly that
//! change: contract transactions that are included and fail (the sender
//! pays the fee and uses one nonce, one block is added, nothing else
//! moves), and duplicate or underpriced submissions next to a pending
//! transaction (the pool holds that one transaction). The file ends with a
//! good transfer that must still go through.
//!
//! Run it alone with `cargo test -p aergo-cli --test catalogue_rpc`.

mod common;

use aergo_client::client::RpcClient;
use aergo_client::keys::dev_account;
use aergo_crypto::{sign_tx, PrivateKey};
use aergo_rpc::{INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND, NOT_FOUND, PARSE_ERROR, REJECTED};
use aergo_types::payload::{encode_call_payload, encode_deploy_payload};
use aergo_types::{Address, Amount, ChainId, Hash, Tx, TxBody, TxType};
use common::*;
use serde_json::{json, Value};

/// Genesis gas price of dev chains: 50 gaer.
const GAS_PRICE_AER: u128 = 50_000_000_000;
/// Gas of a contract call that loops: small, so the case is fast.
const LOOP_GAS: u64 = 300_000;

/// What a case sends.
enum Input {
    /// A raw HTTP body.
    Body(Vec<u8>),
    /// One JSON-RPC call.
    Call(&'static str, Value),
    /// `sendTx` with this transaction's protobuf, in hex.
    Tx(Tx),
}

/// One line of the catalogue.
struct Case {
    name: &'static str,
    input: Input,
    /// Expected HTTP status.
    http: u16,
    code: i64,
    /// `error.data.reason`, or `None` when the error carries none.
    reason: Option<&'static str>,
    /// A fragment of `error.message`.
    fragment: String,
}

fn case(name: &'static str, input: Input, code: i64, reason: Option<&'static str>, fragment: &str) -> Case {
    Case { name, input, http: 200, code, reason, fragment: fragment.to_string() }
}

fn body(text: &str) -> Input {
    Input::Body(text.as_bytes().to_vec())
}

fn call(method: &'static str, params: Value) -> Input {
    Input::Call(method, params)
}

impl Case {
    fn http(mut self, status: u16) -> Case {
        self.http = status;
        self
    }

    fn request_body(&self) -> Vec<u8> {
        match &self.input {
            Input::Body(b) => b.clone(),
            Input::Call(m, p) => json!({"jsonrpc": "2.0", "id": 1, "method": m, "params": p}).to_string().into_bytes(),
            Input::Tx(tx) => {
                json!({"jsonrpc": "2.0", "id": 1, "method": "sendTx", "params": [hex::encode(tx.encode())]})
                    .to_string()
                    .into_bytes()
            }
        }
    }

    /// Runs the case; `Err` says how the answer differs from the line.
    async fn run(&self, url: &str) -> Result<(), String> {
        let (status, answer) = post_raw(url, self.request_body()).await;
        // A batch answers with an array; the cases look at its first element.
        let v = match &answer {
            Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let err = &v["error"];
        let message = err["message"].as_str().unwrap_or_default();
        if std::env::var_os("CATALOGUE_VERBOSE").is_some() {
            println!("{}: HTTP {status} {} {} {message}", self.name, err["code"], err["data"]["reason"]);
        }
        let reason = err["data"]["reason"].as_str();
        if status != self.http
            || err["code"] != json!(self.code)
            || reason != self.reason
            || !message.contains(&self.fragment)
        {
            return Err(format!(
                "expected HTTP {} code {} reason {:?} message containing {:?}; got HTTP {status}: {answer}",
                self.http, self.code, self.reason, self.fragment
            ));
        }
        Ok(())
    }
}

/// Everything a refused request must leave alone.
#[derive(Debug, PartialEq, Clone)]
struct Snapshot {
    height: u64,
    head: Hash,
    state_root: Hash,
    pool_txs: u64,
    /// (balance, nonce, next nonce) of each watched account.
    accounts: Vec<(Amount, u64, Option<u64>)>,
    /// The fixture contract's rows.
    rows: Value,
}

struct Ctx {
    url: String,
    client: RpcClient,
    chain: Hash,
    /// Accounts watched by the snapshot, in order.
    watched: Vec<Address>,
    /// The fixture contract, its schema, and a contract that writes it.
    fixture: Address,
    schema: String,
    thief: Address,
}

impl Ctx {
    async fn snapshot(&self) -> Snapshot {
        let s = self.client.status().await.unwrap();
        let mut accounts = Vec::new();
        for a in &self.watched {
            let info = self.client.account(a, None).await.unwrap();
            accounts.push((info.balance, info.nonce, info.next_nonce));
        }
        let rows = self
            .client
            .call("query", json!(["SELECT id, v FROM items ORDER BY id", {"contract": self.fixture.to_string()}]))
            .await
            .unwrap()["rows"]
            .clone();
        Snapshot {
            height: s.height,
            head: s.head_hash,
            state_root: s.state_root,
            pool_txs: s.raw["pool"]["txs"].as_u64().unwrap(),
            accounts,
            rows,
        }
    }

    fn index_of(&self, a: &Address) -> usize {
        self.watched.iter().position(|w| w == a).unwrap()
    }
}

fn key(i: u32) -> PrivateKey {
    dev_account(i).unwrap()
}

fn recipient() -> Address {
    key(9).address()
}

/// A signed transfer of `aer` from `from`.
fn transfer(from: &PrivateKey, nonce: u64, aer: u128, chain: &Hash) -> Tx {
    sign_tx(TxBody::transfer(nonce, &from.address(), &recipient(), Amount::from_aer(aer), chain), from)
}

/// A signed body built by `edit` from a transfer.
fn edited(from: &PrivateKey, nonce: u64, chain: &Hash, edit: impl FnOnce(&mut TxBody)) -> Tx {
    let mut b = TxBody::transfer(nonce, &from.address(), &recipient(), Amount::ONE_AERGO, chain);
    edit(&mut b);
    sign_tx(b, from)
}

/// A body signed, then changed by `tamper` (the hash recomputed unless the
/// tamper sets it).
fn tampered(from: &PrivateKey, nonce: u64, chain: &Hash, tamper: impl FnOnce(&mut Tx)) -> Tx {
    let mut tx = transfer(from, nonce, 1_000, chain);
    tamper(&mut tx);
    tx
}

fn rehash(tx: &mut Tx) {
    tx.hash = tx.body.as_ref().unwrap().tx_hash().to_vec();
}

/// A contract call transaction.
fn call_tx(
    from: &PrivateKey,
    nonce: u64,
    contract: &Address,
    name: &str,
    args: &[Value],
    gas: u64,
    chain: &Hash,
) -> Tx {
    let body = TxBody::new(TxType::Call, nonce, &from.address(), Some(contract), Amount::ZERO, chain)
        .with_payload(encode_call_payload(name, args))
        .with_gas(gas, Amount::ZERO);
    sign_tx(body, from)
}

fn deploy_tx(from: &PrivateKey, nonce: u64, source: &str, gas: u64, chain: &Hash) -> Tx {
    let body = TxBody::new(TxType::Deploy, nonce, &from.address(), None, Amount::ZERO, chain)
        .with_payload(encode_deploy_payload(source, None))
        .with_gas(gas, Amount::ZERO);
    sign_tx(body, from)
}

/// A JSON-RPC request of `n` nested arrays in `params`.
fn nested(n: usize) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"status","params":{}{}}}"#, "[".repeat(n), "]".repeat(n))
}

/// The fixture contract: a table with one row and functions that misbehave.
const FIXTURE: &str = "\
CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
INSERT INTO items VALUES (1, 'one');
CREATE FUNCTION spin() RETURNS INTEGER AS $$ BEGIN LOOP END LOOP; END; $$ LANGUAGE plpgsql;
CREATE FUNCTION deep(n INTEGER) RETURNS INTEGER AS $$ BEGIN RETURN deep(n + 1); END; $$ LANGUAGE plpgsql;
CREATE FUNCTION divide(n INTEGER) RETURNS INTEGER AS $$ BEGIN RETURN 10 / n; END; $$ LANGUAGE plpgsql;
CREATE FUNCTION add(v TEXT) RETURNS VOID AS $$ BEGIN INSERT INTO items VALUES (2, v); END; $$ LANGUAGE plpgsql;
CREATE FUNCTION big() RETURNS TEXT AS $$ BEGIN RETURN repeat('x', 2000000); END; $$ LANGUAGE plpgsql;
CREATE FUNCTION bad_row() RETURNS VOID AS $$ BEGIN INSERT INTO items VALUES (1, 'again'); END; $$ LANGUAGE plpgsql";

/// A contract whose function writes the fixture's table.
fn thief(schema: &str) -> String {
    format!(
        "CREATE FUNCTION steal() RETURNS VOID AS $$ BEGIN UPDATE {schema}.items SET v = 'stolen'; END; $$ \
         LANGUAGE plpgsql"
    )
}

/// Deploys `source` from `from` through the CLI and returns the contract.
fn deploy(url: &str, dir: &std::path::Path, name: &str, source: &str, from: &str) -> Address {
    let file = dir.join(name);
    std::fs::write(&file, source).unwrap();
    let v =
        aergo_json(&["--rpc", url, "--json", "contract", "deploy", file.to_str().unwrap(), "--from", from, "--wait"]);
    assert_eq!(v["receipt"]["status"], "CREATED", "{v}");
    Address::parse(v["contract"].as_str().unwrap()).unwrap()
}

/// Framing: bodies that are not well-formed JSON-RPC requests.
fn framing_cases() -> Vec<Case> {
    let huge_batch = format!("[{}]", vec![r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#; 101].join(","));
    let oversize = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"sendTx","params":["{}"]}}"#, "00".repeat(1 << 20));
    vec![
        case("invalid JSON", body("{not json"), PARSE_ERROR, None, "invalid JSON"),
        case("empty body", body(""), PARSE_ERROR, None, "invalid JSON"),
        case("truncated JSON", body(r#"{"jsonrpc":"2.0","id":1,"meth"#), PARSE_ERROR, None, "EOF"),
        case("non-UTF-8 body", Input::Body(vec![0xff, 0xfe, 0x7b, 0x7d]), PARSE_ERROR, None, "invalid JSON"),
        case(
            "non-UTF-8 inside a string",
            Input::Body(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sta\xfftus\"}".to_vec()),
            PARSE_ERROR,
            None,
            "invalid unicode",
        ),
        case("deep nesting", body(&nested(100_000)), PARSE_ERROR, None, "recursion limit"),
        case(
            "wrong version",
            body(r#"{"jsonrpc":"1.0","id":1,"method":"status"}"#),
            INVALID_REQUEST,
            None,
            "expected \"jsonrpc\": \"2.0\", got \"1.0\"",
        ),
        case("version missing", body(r#"{"id":1,"method":"status"}"#), INVALID_REQUEST, None, "got nothing"),
        case(
            "version as a number",
            body(r#"{"jsonrpc":2.0,"id":1,"method":"status"}"#),
            INVALID_REQUEST,
            None,
            "got 2.0",
        ),
        case(
            "method not a string",
            body(r#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            INVALID_REQUEST,
            None,
            "\"method\" to be a string",
        ),
        case(
            "params a scalar",
            body(r#"{"jsonrpc":"2.0","id":1,"method":"status","params":3}"#),
            INVALID_REQUEST,
            None,
            "\"params\" to be an array or object",
        ),
        case(
            "id an object",
            body(r#"{"jsonrpc":"2.0","id":{"a":1},"method":"status"}"#),
            INVALID_REQUEST,
            None,
            "\"id\" must be a number, a string or null",
        ),
        case("a bare number", body("42"), INVALID_REQUEST, None, "expected a request object"),
        case("empty batch", body("[]"), INVALID_REQUEST, None, "empty batch"),
        case("batch of non-objects", body("[1, 2]"), INVALID_REQUEST, None, "expected a request object"),
        case("huge batch", body(&huge_batch), LIMIT_EXCEEDED, None, "batch of 101 calls exceeds the limit of 100"),
        case("oversize body", Input::Body(oversize.into_bytes()), LIMIT_EXCEEDED, None, "exceeds the limit").http(413),
        case(
            "unknown method",
            body(r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction"}"#),
            METHOD_NOT_FOUND,
            None,
            "no method named \"eth_sendTransaction\"",
        ),
        case(
            "subscribe over HTTP",
            body(r#"{"jsonrpc":"2.0","id":1,"method":"subscribe","params":["blocks"]}"#),
            INVALID_REQUEST,
            None,
            "need a WebSocket",
        ),
    ]
}

/// Transactions the node must refuse at submission.
fn tx_cases(ctx: &Ctx, first: &Tx) -> Vec<Case> {
    let chain = &ctx.chain;
    let k0 = key(0);
    let k1 = key(1);
    let elsewhere = ChainId::new(0, false, false, "other.chain", "sbp").unwrap().hash();
    let mut forged_sig = transfer(&k0, 2, 1, chain);
    forged_sig.body.as_mut().unwrap().sign[10] ^= 0x01;
    rehash(&mut forged_sig);
    // High s is accepted (the Go node does; the JavaScript SDK needs it):
    // the malleated twin of a committed tx is a replay of its nonce.
    let mut high_s = first.body.clone().unwrap();
    high_s.sign = high_s_der(&high_s.sign);
    let high_s = Tx::new(high_s);
    let all = Amount::from_aergo(1_000_000).unwrap().aer();
    let name = Address::name(aergo_types::address::AERGO_NAME).unwrap();
    let system = Address::name(aergo_types::address::AERGO_SYSTEM).unwrap();
    let contract_sender = Address::contract_from(&k0.address(), 1);
    let hex_of = |tx: &Tx| hex::encode(tx.encode());
    let good_hex = hex_of(&transfer(&k0, 2, 1, chain));
    vec![
        case(
            "wrong chain id",
            Input::Tx(transfer(&k0, 2, 1, &elsewhere)),
            REJECTED,
            Some("WRONG_CHAIN"),
            "chain id hash mismatch",
        ),
        case(
            "signed by another key",
            Input::Tx(sign_tx(TxBody::transfer(2, &k0.address(), &recipient(), Amount::ONE_AERGO, chain), &k1)),
            REJECTED,
            Some("BAD_SIGNATURE"),
            "bad signature",
        ),
        case("signature bytes altered", Input::Tx(forged_sig), REJECTED, Some("BAD_SIGNATURE"), "signature"),
        case("high-s twin of a committed tx", Input::Tx(high_s), REJECTED, Some("NONCE_TOO_LOW"), "already used"),
        case(
            "no signature",
            Input::Tx(tampered(&k0, 2, chain, |tx| {
                tx.body.as_mut().unwrap().sign.clear();
                rehash(tx);
            })),
            REJECTED,
            Some("BAD_SIGNATURE"),
            "signature",
        ),
        case(
            "tampered hash",
            Input::Tx(tampered(&k0, 2, chain, |tx| tx.hash[0] ^= 0xff)),
            REJECTED,
            Some("BAD_HASH"),
            "tx hash mismatch",
        ),
        case(
            "amount raised after signing",
            Input::Tx(tampered(&k0, 2, chain, |tx| {
                tx.body.as_mut().unwrap().amount = Amount::ONE_AERGO.to_be_bytes_minimal();
                rehash(tx);
            })),
            REJECTED,
            Some("BAD_SIGNATURE"),
            "signature",
        ),
        case("replay of a committed tx", Input::Tx(first.clone()), REJECTED, Some("NONCE_TOO_LOW"), "already used"),
        case("nonce too low", Input::Tx(transfer(&k0, 1, 7, chain)), REJECTED, Some("NONCE_TOO_LOW"), "nonce 1 of"),
        case("nonce zero", Input::Tx(transfer(&k0, 0, 7, chain)), REJECTED, Some("NONCE_TOO_LOW"), "nonce 0 of"),
        case(
            "nonce too far ahead",
            Input::Tx(transfer(&k0, 1 + 257, 7, chain)),
            REJECTED,
            Some("NONCE_TOO_HIGH"),
            "too far ahead",
        ),
        case(
            "nonce u64::MAX",
            Input::Tx(transfer(&k0, u64::MAX, 7, chain)),
            REJECTED,
            Some("NONCE_TOO_HIGH"),
            "too far ahead",
        ),
        case(
            "insufficient balance",
            Input::Tx(transfer(&k0, 2, all, chain)),
            REJECTED,
            Some("INSUFFICIENT_BALANCE"),
            "insufficient balance",
        ),
        case(
            "amount above the total supply",
            Input::Tx(transfer(&k0, 2, Amount::TOTAL_SUPPLY.aer() + 1, chain)),
            REJECTED,
            Some("OVERFLOW"),
            "exceeds the total supply",
        ),
        case(
            "amount wider than 128 bits",
            Input::Tx(edited(&k0, 2, chain, |b| b.amount = vec![1; 17])),
            REJECTED,
            Some("INVALID_FORMAT"),
            "at most 16 significant",
        ),
        case(
            "gas price above the total supply",
            Input::Tx(edited(&k0, 2, chain, |b| b.gas_price = (Amount::TOTAL_SUPPLY.aer() + 1).to_be_bytes().to_vec())),
            REJECTED,
            Some("OVERFLOW"),
            "gas price",
        ),
        case(
            "fee of the whole gas limit at the top price",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.gas_limit = 100_000_000;
                b.gas_price = Amount::TOTAL_SUPPLY.to_be_bytes_minimal();
            })),
            REJECTED,
            Some("INSUFFICIENT_BALANCE"),
            "insufficient balance",
        ),
        case(
            "gas limit above the chain's maximum",
            Input::Tx(edited(&k0, 2, chain, |b| b.gas_limit = 100_000_001)),
            REJECTED,
            Some("GAS_LIMIT_TOO_HIGH"),
            "exceeds the chain's maximum of 100000000",
        ),
        case(
            "gas limit below the intrinsic gas",
            Input::Tx(edited(&k0, 2, chain, |b| b.gas_limit = 1)),
            REJECTED,
            Some("GAS_LIMIT_TOO_LOW"),
            "gas limit 1 is below",
        ),
        case(
            "gas price below the chain's",
            Input::Tx(edited(&k0, 2, chain, |b| b.gas_price = vec![1])),
            REJECTED,
            Some("GAS_PRICE_TOO_LOW"),
            "gas price 0.000000000000000001 aergo is below the chain's gas price",
        ),
        case(
            "oversize payload",
            Input::Tx(edited(&k0, 2, chain, |b| b.payload = vec![0xab; 130 * 1024])),
            REJECTED,
            Some("TOO_LARGE"),
            "payload of 133120 bytes exceeds the limit of 131072",
        ),
        case(
            "oversize transaction",
            call("sendTx", json!(["00".repeat(200 * 1024 + 1)])),
            INVALID_PARAMS,
            Some("TOO_LARGE"),
            "exceeds the limit of 409600",
        ),
        case(
            "truncated protobuf",
            call("sendTx", json!([&good_hex[..good_hex.len() - 20]])),
            INVALID_PARAMS,
            Some("INVALID_FORMAT"),
            "decoding tx",
        ),
        case(
            "odd-length hex",
            call("sendTx", json!(["abc"])),
            INVALID_PARAMS,
            Some("INVALID_FORMAT"),
            "Odd number of digits",
        ),
        case("not hex", call("sendTx", json!(["zz"])), INVALID_PARAMS, Some("INVALID_FORMAT"), "not hex"),
        case("tx not a string", call("sendTx", json!([12])), INVALID_PARAMS, None, "expected the hex"),
        case("tx missing", call("sendTx", json!([])), INVALID_PARAMS, None, "missing parameter #0 (tx)"),
        case("empty tx", call("sendTx", json!([""])), REJECTED, Some("INVALID_FORMAT"), "missing required field"),
        case(
            "unknown tx type",
            Input::Tx(edited(&k0, 2, chain, |b| b.r#type = 99)),
            REJECTED,
            Some("INVALID_FORMAT"),
            "tx type 99 is not supported",
        ),
        case(
            "sender is a contract address",
            Input::Tx(edited(&k0, 2, chain, |b| b.account = contract_sender.to_vec())),
            REJECTED,
            Some("INVALID_FORMAT"),
            "a contract address cannot send",
        ),
        case(
            "deploy without code",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Normal as i32;
                b.recipient.clear();
            })),
            REJECTED,
            Some("INVALID_FORMAT"),
            "no recipient and no code",
        ),
        case(
            "governance call without payload",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Governance as i32;
                b.recipient = system.to_vec();
            })),
            REJECTED,
            Some("INVALID_FORMAT"),
            "a governance tx needs a payload",
        ),
        case(
            "governance call with a garbage payload",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Governance as i32;
                b.recipient = system.to_vec();
                b.payload = b"{not a call".to_vec();
            })),
            REJECTED,
            Some("BAD_PAYLOAD"),
            "bad payload",
        ),
        case(
            "staking on a chain without staking",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Governance as i32;
                b.recipient = system.to_vec();
                b.payload = br#"{"Name":"v1stake"}"#.to_vec();
            })),
            REJECTED,
            Some("UNSUPPORTED"),
            "staking and voting exist only on dpos chains",
        ),
        case(
            "type this chain cannot run: redeploy",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Redeploy as i32;
                b.recipient = ctx.fixture.to_vec();
                b.payload = encode_deploy_payload("CREATE TABLE t (x INTEGER)", None);
            })),
            REJECTED,
            Some("UNSUPPORTED"),
            "transaction type REDEPLOY",
        ),
        case(
            "type this chain cannot run: fee delegation",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::FeeDelegation as i32;
                b.recipient = ctx.fixture.to_vec();
                b.payload = encode_call_payload("divide", &[json!(1)]);
            })),
            REJECTED,
            Some("UNSUPPORTED"),
            "transaction type FEEDELEGATION",
        ),
        case(
            "a name registration that does not pay the name price",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Governance as i32;
                b.recipient = name.to_vec();
                b.payload = br#"{"Name":"v1createName","Args":["abcdefghijkl"]}"#.to_vec();
                b.amount = Amount::ONE_GAER.to_be_bytes_minimal();
            })),
            REJECTED,
            Some("NAME_REJECTED"),
            "below the name price",
        ),
        case(
            "a name call that does not parse",
            Input::Tx(edited(&k0, 2, chain, |b| {
                b.r#type = TxType::Governance as i32;
                b.recipient = name.to_vec();
                b.payload = br#"{"Name":"v1deleteName","Args":["abcdefghijkl"]}"#.to_vec();
            })),
            REJECTED,
            Some("BAD_PAYLOAD"),
            "unknown aergo.name call",
        ),
        case(
            "a transfer to a name nobody registered",
            Input::Tx(edited(&k0, 2, chain, |b| b.recipient = Address::name("abcdefghijkl").unwrap().to_vec())),
            REJECTED,
            Some("UNKNOWN_NAME"),
            "no account is registered under the name",
        ),
    ]
}

/// Read-only queries and contract calls: refused, nothing written.
fn query_cases(ctx: &Ctx) -> Vec<Case> {
    let c = ctx.fixture.to_string();
    let opts = json!({"contract": c});
    let q = |sql: &str| call("query", json!([sql, opts]));
    let qc = |name: &str, args: Value| call("queryContract", json!([c, {"Name": name, "Args": args}]));
    let values = |n: usize| (0..n).map(|i| format!("({i})")).collect::<Vec<_>>().join(", ");
    let cross = format!("SELECT a.x FROM (VALUES {}) a(x), (VALUES {}) b(y)", values(200), values(60));
    let heavy = format!(
        "SELECT count(*) FROM (VALUES {}) a(x), (VALUES {}) b(y), (VALUES {}) c(z)",
        values(1000),
        values(1000),
        values(10)
    );
    vec![
        case("syntax error", q("SELEC 1"), INVALID_PARAMS, None, "syntax error"),
        case("unknown table", q("SELECT * FROM nothing_here"), INVALID_PARAMS, None, "does not exist"),
        case("non-deterministic: random()", q("SELECT random()"), INVALID_PARAMS, None, "non-deterministic"),
        case("non-deterministic: now()", q("SELECT now()"), INVALID_PARAMS, None, "wall clock"),
        case(
            "infinite loop: unbounded recursive CTE",
            q("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"),
            INVALID_PARAMS,
            None,
            "WITH RECURSIVE is not supported",
        ),
        case("cross join over the row cap", q(&cross), LIMIT_EXCEEDED, None, "rows exceeds the limit of 10000"),
        case("cross join over the gas cap", q(&heavy), LIMIT_EXCEEDED, None, "out of gas: limit 10000000"),
        case(
            "huge result in bytes: metered, out of gas before the 4 MiB cap",
            q("SELECT s.v FROM (SELECT repeat('x', 1000000) AS v) s, (VALUES (1), (2), (3), (4), (5)) t(x)"),
            LIMIT_EXCEEDED,
            None,
            "out of gas: limit 10000000",
        ),
        case("division by zero", q("SELECT 1 / 0"), INVALID_PARAMS, None, "division by zero"),
        case("DDL through a query", q("CREATE TABLE t (x INTEGER)"), INVALID_PARAMS, None, "read-only"),
        case("DROP through a query", q("DROP TABLE items"), INVALID_PARAMS, None, "read-only"),
        case("INSERT through a query", q("INSERT INTO items VALUES (5, 'x')"), INVALID_PARAMS, None, "read-only"),
        case("UPDATE through a query", q("UPDATE items SET v = 'y'"), INVALID_PARAMS, None, "read-only"),
        case("DELETE through a query", q("DELETE FROM items"), INVALID_PARAMS, None, "read-only"),
        case(
            "two statements in one query",
            q("SELECT 1; DELETE FROM items"),
            INVALID_PARAMS,
            None,
            "expected exactly one statement, found 2",
        ),
        case(
            "height in the future",
            call("query", json!(["SELECT 1", {"height": 1_000_000_000}])),
            NOT_FOUND,
            None,
            "no block at height 1000000000",
        ),
        case(
            "height neither a number nor a branch or tag",
            call("query", json!(["SELECT 1", {"height": "latest"}])),
            NOT_FOUND,
            None,
            "no branch or tag \"latest\"",
        ),
        case(
            "height an object",
            call("query", json!(["SELECT 1", {"height": {"n": 1}}])),
            INVALID_PARAMS,
            None,
            "expected a height, a branch, branch@height or a tag",
        ),
        case(
            "branch@height with a bad height",
            call("query", json!(["SELECT 1", {"height": "main@x"}])),
            INVALID_PARAMS,
            None,
            "expected BRANCH@HEIGHT",
        ),
        case(
            "a branch that does not exist",
            call("query", json!(["SELECT 1", {"branch": "nope"}])),
            NOT_FOUND,
            None,
            "no branch or tag \"nope\"",
        ),
        case(
            "unknown query option",
            call("query", json!(["SELECT 1", {"gas": 1}])),
            INVALID_PARAMS,
            None,
            "unknown key \"gas\"",
        ),
        case("sql not a string", call("query", json!([1])), INVALID_PARAMS, None, "expected the text of one SELECT"),
        case("function that loops forever", qc("spin", json!([])), LIMIT_EXCEEDED, None, "out of gas"),
        case("runaway recursion", qc("deep", json!([1])), LIMIT_EXCEEDED, None, "function call depth exceeds 32"),
        case("division by zero in a function", qc("divide", json!([0])), INVALID_PARAMS, None, "division by zero"),
        case(
            "a write in a read-only call",
            qc("add", json!(["two"])),
            INVALID_PARAMS,
            None,
            "read-only: writing table",
        ),
        case("huge result of a function", qc("big", json!([])), LIMIT_EXCEEDED, None, "result bytes exceeds 1048576"),
        case(
            "cross-contract write, read-only",
            call("queryContract", json!([ctx.thief.to_string(), {"Name": "steal"}])),
            INVALID_PARAMS,
            None,
            &format!("read-only: writing table {}.items", ctx.schema),
        ),
        case("unknown function", qc("nope", json!([])), INVALID_PARAMS, None, "has no public function \"nope\""),
        case("wrong argument count", qc("divide", json!([])), INVALID_PARAMS, None, "expected 1 argument"),
        case(
            "call of a contract that does not exist",
            call("queryContract", json!([Address::contract_from(&key(8).address(), 77).to_string(), {"Name": "f"}])),
            NOT_FOUND,
            None,
            "no contract at",
        ),
        case(
            "call at a height in the future",
            call("queryContract", json!([c, {"Name": "divide", "Args": [1]}, {"height": 1_000_000_000}])),
            NOT_FOUND,
            None,
            "no block at height",
        ),
        case("block in the future", call("getBlock", json!([1_000_000_000])), NOT_FOUND, None, "no block 1000000000"),
        case(
            "account at a height in the future",
            call("getAccount", json!([recipient().to_string(), 1_000_000_000])),
            NOT_FOUND,
            None,
            "no block at height 1000000000",
        ),
        case("bad address", call("getAccount", json!(["Am-not-an-address"])), INVALID_PARAMS, None, "not base58"),
        case(
            "events over too many blocks",
            call("getEvents", json!([{"fromHeight": 0, "toHeight": 20_000}])),
            LIMIT_EXCEEDED,
            None,
            "span more than query.max_event_blocks",
        ),
    ]
}

/// A contract transaction that is included and fails: the expected
/// fragment of its receipt's `ret`.
struct Failing {
    name: &'static str,
    tx: Tx,
    ret: String,
    /// The whole gas limit is used (out of gas).
    all_gas: Option<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_rpc_door_refuses_bad_input_clearly_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let client = node.client();
    let chain = client.status().await.unwrap().chain_id_hash;
    let url = node.url.clone();

    // Fixture: two contracts (one writes the other's table) and a
    // committed transfer to replay.
    let fixture = deploy(&url, tmp.path(), "fixture.sql", FIXTURE, "dev:2");
    let info = client.call("getContract", json!([fixture.to_string()])).await.unwrap();
    let schema = info["schema"].as_str().unwrap().to_string();
    let thief_addr = deploy(&url, tmp.path(), "thief.sql", &thief(&schema), "dev:2");
    let first = transfer(&key(0), 1, 1_000, &chain);
    let h = client.send_tx(&first).await.unwrap();
    client.wait_receipt(&h, WAIT_MS).await.unwrap();

    let ctx = Ctx {
        url: url.clone(),
        client: node.client(),
        chain,
        watched: [0, 1, 2, 3, 4, 9].iter().map(|i| key(*i).address()).collect(),
        fixture: fixture.clone(),
        schema,
        thief: thief_addr.clone(),
    };
    let before = ctx.snapshot().await;
    assert_eq!(before.rows, json!([[1, "one"]]));

    // The table: every case refused as written, nothing changed.
    let mut cases = framing_cases();
    cases.extend(tx_cases(&ctx, &first));
    cases.extend(query_cases(&ctx));
    let total = cases.len();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = c.run(&ctx.url).await {
            failures.push(format!("{}: {e}", c.name));
        }
        let now = ctx.snapshot().await;
        if now != before {
            failures.push(format!("{}: state changed:\nbefore {before:?}\nafter  {now:?}", c.name));
        }
    }

    // Contract transactions that are included and fail: exactly the fee
    // and one nonce of the sender, one block, nothing else.
    let k3 = key(3);
    let failing = [
        Failing {
            name: "deploy with a syntax error",
            tx: deploy_tx(&k3, 1, "CREATE TABLE t (x INTEGER", 0, &chain),
            ret: "syntax error".into(),
            all_gas: None,
        },
        Failing {
            name: "deploy of a non-deterministic function",
            tx: deploy_tx(
                &k3,
                2,
                "CREATE FUNCTION r() RETURNS FLOAT AS $$ BEGIN RETURN random(); END; $$ LANGUAGE plpgsql",
                0,
                &chain,
            ),
            ret: "non-deterministic".into(),
            all_gas: None,
        },
        Failing {
            name: "call that loops forever",
            tx: call_tx(&k3, 3, &fixture, "spin", &[], LOOP_GAS, &chain),
            ret: "out of gas".into(),
            all_gas: Some(LOOP_GAS),
        },
        Failing {
            name: "runaway recursion",
            tx: call_tx(&k3, 4, &fixture, "deep", &[json!(1)], LOOP_GAS, &chain),
            ret: "function call depth exceeds 32".into(),
            all_gas: None,
        },
        Failing {
            name: "division by zero",
            tx: call_tx(&k3, 5, &fixture, "divide", &[json!(0)], 0, &chain),
            ret: "division by zero".into(),
            all_gas: None,
        },
        Failing {
            name: "cross-contract write",
            tx: call_tx(&k3, 6, &thief_addr, "steal", &[], 0, &chain),
            ret: format!("cannot write to schema \"{}\"", ctx.schema),
            all_gas: None,
        },
        Failing {
            name: "duplicate key",
            tx: call_tx(&k3, 7, &fixture, "bad_row", &[], 0, &chain),
            ret: "duplicate key".into(),
            all_gas: None,
        },
        Failing {
            name: "huge result",
            tx: call_tx(&k3, 8, &fixture, "big", &[], 0, &chain),
            ret: "repeat() result bytes exceeds 1048576".into(),
            all_gas: None,
        },
    ];
    let committed = failing.len();
    let caller = ctx.index_of(&k3.address());
    let mut prev = ctx.snapshot().await;
    for f in &failing {
        let hash = match client.send_tx(&f.tx).await {
            Ok(h) => h,
            Err(e) => {
                failures.push(format!("{}: refused at submission: {e}", f.name));
                continue;
            }
        };
        let r = client.wait_receipt(&hash, WAIT_MS).await.unwrap();
        let ret = r["ret"].as_str().unwrap_or_default();
        if std::env::var_os("CATALOGUE_VERBOSE").is_some() {
            println!("{}: {} gas {} {ret}", f.name, r["status"], r["gasUsed"]);
        }
        if r["status"] != "ERROR" || !ret.contains(&f.ret) {
            failures.push(format!("{}: expected ERROR with {:?}, got {r}", f.name, f.ret));
        }
        let gas = r["gasUsed"].as_u64().unwrap();
        if f.all_gas.is_some_and(|g| g != gas) {
            failures.push(format!("{}: expected the whole gas limit {:?} used, got {gas}", f.name, f.all_gas));
        }
        let fee = Amount::from_aer(u128::from(gas) * GAS_PRICE_AER);
        assert_eq!(aer(&r["fee"]), fee.aer(), "{r}");
        let now = ctx.snapshot().await;
        let mut expected = prev.clone();
        expected.height = r["blockHeight"].as_u64().unwrap();
        expected.head = now.head;
        expected.state_root = now.state_root;
        let (b, n, _) = prev.accounts[caller];
        expected.accounts[caller] = (b.checked_sub(fee).unwrap(), n + 1, Some(n + 2));
        if now != expected || expected.height != prev.height + 1 || now.state_root == prev.state_root {
            failures
                .push(format!("{}: expected only the fee and nonce:\nexpected {expected:?}\ngot      {now:?}", f.name));
        }
        prev = now;
    }

    // Duplicates and underpriced replacements of a pending transaction:
    // the pool holds that one transaction, nothing else changes.
    let k4 = key(4);
    let pending = transfer(&k4, 2, 5, &chain);
    client.send_tx(&pending).await.unwrap();
    let with_pending = ctx.snapshot().await;
    let pool_cases = [
        case(
            "the same pending tx again",
            Input::Tx(pending.clone()),
            REJECTED,
            Some("ALREADY_KNOWN"),
            "already in the pool",
        ),
        case(
            "same nonce, same gas price",
            Input::Tx(transfer(&k4, 2, 6, &chain)),
            REJECTED,
            Some("REPLACEMENT_UNDERPRICED"),
            "must offer a higher gas price",
        ),
    ];
    for c in &pool_cases {
        if let Err(e) = c.run(&ctx.url).await {
            failures.push(format!("{}: {e}", c.name));
        }
        let now = ctx.snapshot().await;
        let mut expected = prev.clone();
        expected.pool_txs += 1;
        let i = ctx.index_of(&k4.address());
        expected.accounts[i].2 = Some(1);
        if now != with_pending || now != expected {
            failures.push(format!("{}: expected one pending tx:\nexpected {expected:?}\ngot      {now:?}", c.name));
        }
    }

    println!(
        "catalogue_rpc: {} cases ({total} refused, {committed} included and failed, {} next to a pending tx)",
        total + committed + pool_cases.len(),
        pool_cases.len()
    );
    assert!(failures.is_empty(), "{} of the cases failed:\n{}", failures.len(), failures.join("\n\n"));

    // Still serving: the gap fills, both transfers commit.
    let fill = transfer(&k4, 1, 5, &chain);
    let h1 = client.send_tx(&fill).await.unwrap();
    for h in [h1, pending.hash().unwrap()] {
        let r = client.wait_receipt(&h, WAIT_MS).await.unwrap();
        assert_eq!(r["status"], "SUCCESS", "{r}");
    }
    let after = ctx.snapshot().await;
    assert_eq!(after.pool_txs, 0);
    assert_eq!(after.rows, json!([[1, "one"]]));
}
