//! End to end: SQL contracts on a real dev node process. The whitepaper
//! example through the CLI and through raw JSON-RPC (deploy, fund, the
//! four outcomes of `transfer`, balances at the head and at an earlier
//! height, ABI, events, the catalogue, the SQL shell), and every kind of
//! bad input, each with a clear error and no state change beyond the fee
//! and nonce of an included transaction.

mod common;

use aergo_client::keys::dev_account;
use aergo_crypto::sign_tx;
use aergo_types::payload::encode_call_payload;
use aergo_types::{Address, Amount, TxBody, TxType};
use common::*;
use serde_json::{json, Value};

const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");
const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");
/// Genesis gas price of dev chains: 50 gaer.
const GAS_PRICE_AER: u128 = 50_000_000_000;

/// The whitepaper's table and `transfer` as written, plus a constructor
/// that opens alice's account and `fund`, which opens or tops up one and
/// emits an event.
fn source() -> String {
    format!(
        "{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n\
         CREATE FUNCTION constructor(initial NUMERIC) RETURNS VOID AS $$\n\
         BEGIN\n    INSERT INTO accounts VALUES ('alice', initial);\nEND;\n$$ LANGUAGE plpgsql;\n\
         CREATE FUNCTION fund(who VARCHAR, amt NUMERIC) RETURNS VOID AS $$\n\
         BEGIN\n    INSERT INTO accounts VALUES (who, amt) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + excluded.balance;\n\
         \x20   PERFORM aergo_emit('funded', '[\"' || who || '\", \"' || amt || '\"]');\nEND;\n$$ LANGUAGE plpgsql;\n"
    )
}

/// `aergo --rpc URL --json <args>`, which must succeed.
fn cli(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--rpc", url, "--json"];
    all.extend_from_slice(args);
    aergo_json(&all)
}

/// `aergo --rpc URL --json <args>`, which must fail; its JSON error document.
fn cli_fails(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--rpc", url, "--json"];
    all.extend_from_slice(args);
    let r = aergo(&all);
    assert!(!r.ok, "aergo {all:?} should have failed:\n{}", r.stdout);
    let v = r.json();
    assert!(v["error"]["message"].is_string(), "{v}");
    v
}

fn error_text(v: &Value) -> String {
    v["error"]["message"].as_str().unwrap_or_default().to_string()
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Deploys the test contract from dev:0 with alice at 100; returns its
/// address and the height of the deploy.
fn deploy_whitepaper(url: &str, dir: &std::path::Path) -> (String, u64) {
    let file = write(dir, "whitepaper.sql", &source());
    let d = cli(url, &["contract", "deploy", &file, "--args", "[100]", "--from", "dev:0", "--wait"]);
    assert_eq!(d["receipt"]["status"], "CREATED", "{d}");
    let contract = d["contract"].as_str().unwrap().to_string();
    assert_eq!(d["receipt"]["contractAddress"].as_str(), Some(contract.as_str()));
    (contract, d["receipt"]["blockHeight"].as_u64().unwrap())
}

/// The contract's accounts as `[[id, balance], ...]` at `height` (or the head).
fn accounts(url: &str, contract: &str, height: Option<u64>) -> Value {
    let mut args = vec!["contract", "query", contract, "SELECT id, balance FROM accounts ORDER BY id"];
    let h = height.map(|h| h.to_string());
    if let Some(h) = &h {
        args.extend(["--at", h]);
    }
    cli(url, &args)["rows"].clone()
}

fn balance_nonce(url: &str, who: &str, height: u64) -> (u128, u64) {
    let v = cli(url, &["balance", who, "--at", &height.to_string()]);
    (aer(&v["balance"]), v["nonce"].as_u64().unwrap())
}

/// An included transaction that failed: its receipt says ERROR with
/// `message`; between the blocks before and of it, the sender paid exactly
/// the fee and used one nonce, and the contract's table did not change.
fn assert_failed_cleanly(url: &str, contract: &str, sender: &str, failed: &Value, message: &str) -> Value {
    let receipt = failed["receipt"].clone();
    assert_eq!(receipt["status"], "ERROR", "{failed}");
    let ret = receipt["ret"].as_str().unwrap();
    assert!(ret.contains(message), "receipt says {ret:?}, expected {message:?}");
    assert!(error_text(failed).contains(message), "{failed}");
    let h = receipt["blockHeight"].as_u64().unwrap();
    let fee = aer(&receipt["fee"]);
    assert_eq!(fee, receipt["gasUsed"].as_u64().unwrap() as u128 * GAS_PRICE_AER);
    let (b0, n0) = balance_nonce(url, sender, h - 1);
    let (b1, n1) = balance_nonce(url, sender, h);
    assert_eq!((b0 - b1, n1), (fee, n0 + 1), "only the fee and the nonce change");
    assert_eq!(accounts(url, contract, Some(h)), accounts(url, contract, Some(h - 1)), "contract rows unchanged");
    receipt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whitepaper_example_through_cli_rpc_and_the_sql_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.clone();

    // Deploy with constructor arguments, then fund bob.
    let (contract, deployed_at) = deploy_whitepaper(&url, tmp.path());
    let funded = cli(&url, &["contract", "call", &contract, "fund", "bob", "50", "--from", "dev:1", "--wait"]);
    assert_eq!(funded["receipt"]["status"], "SUCCESS", "{funded}");
    assert_eq!(funded["receipt"]["events"][0]["name"], "funded");
    assert_eq!(accounts(&url, &contract, None), json!([["alice", "100.00"], ["bob", "50.00"]]));
    let funded_at = funded["receipt"]["blockHeight"].as_u64().unwrap();

    // The four outcomes of transfer, through the CLI.
    let transfer = |args: &[&str]| {
        let mut all = vec!["contract", "call", &contract, "transfer"];
        all.extend_from_slice(args);
        all.extend(["--from", "dev:1", "--wait"]);
        let v = cli(&url, &all);
        assert_eq!(v["receipt"]["status"], "SUCCESS", "{v}");
        v["receipt"]["ret"].as_str().unwrap().to_string()
    };
    assert_eq!(transfer(&["alice", "bob", "30"]), "\"OK\"");
    assert_eq!(transfer(&["carol", "bob", "1"]), "\"Sender not found\"");
    assert_eq!(transfer(&["alice", "bob", "70.01"]), "\"Not enough balance\"");
    assert_eq!(transfer(&["alice", "dave", "1"]), "\"Receiver not found\"");
    assert_eq!(accounts(&url, &contract, None), json!([["alice", "70.00"], ["bob", "80.00"]]));
    assert_eq!(accounts(&url, &contract, Some(deployed_at)), json!([["alice", "100.00"]]));
    assert_eq!(accounts(&url, &contract, Some(funded_at)), json!([["alice", "100.00"], ["bob", "50.00"]]));

    // Text output: an aligned table.
    let text = aergo(&["--rpc", &url, "contract", "query", &contract, "SELECT id, balance FROM accounts ORDER BY id"]);
    assert!(text.ok, "{}", text.stderr);
    assert_eq!(text.stdout, " id    | balance\n-------+---------\n alice |   70.00\n bob   |   80.00\n(2 rows)\n");

    // ABI (the constructor is not callable), catalogue row, events.
    let abi = cli(&url, &["contract", "abi", &contract]);
    let names: Vec<&str> = abi["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fund", "transfer"]);
    assert_eq!(abi["functions"][1]["arguments"][2], json!({"name": "amount", "type": "NUMERIC"}));
    let text = aergo(&["--rpc", &url, "contract", "abi", &contract]).stdout;
    assert!(text.contains("transfer(sender TEXT, to TEXT, amount NUMERIC) -> TEXT"), "{text}");
    let info = cli(&url, &["contract", "info", &contract]);
    assert_eq!(info["creator"].as_str(), Some(dev_account(0).unwrap().address().to_string().as_str()));
    assert_eq!(info["source"].as_str(), Some(source().as_str()));
    let schema = info["schema"].as_str().unwrap().to_string();
    let ev = cli(&url, &["events", "--contract", &contract, "--name", "funded"]);
    assert_eq!(ev["events"].as_array().unwrap().len(), 1, "{ev}");
    assert_eq!(ev["events"][0]["args"], "[\"bob\", \"50\"]");
    assert_eq!(ev["events"][0]["blockHeight"], funded_at);
    let none = cli(&url, &["events", "--contract", &contract, "--to-height", &deployed_at.to_string()]);
    assert_eq!(none["events"], json!([]));

    // The same through raw JSON-RPC: transfers signed here, then reads.
    let client = node.client();
    let key = dev_account(2).unwrap();
    let address = Address::parse(&contract).unwrap();
    let chain = client.status().await.unwrap().chain_id_hash;
    let mut last = None;
    for (i, args) in [
        json!(["bob", "alice", "5"]),
        json!(["nobody", "alice", "5"]),
        json!(["bob", "alice", "1000"]),
        json!(["bob", "nobody", "5"]),
    ]
    .iter()
    .enumerate()
    {
        let payload = encode_call_payload("transfer", args.as_array().unwrap());
        let body = TxBody::new(TxType::Call, i as u64 + 1, &key.address(), Some(&address), Amount::ZERO, &chain)
            .with_payload(payload);
        let tx = sign_tx(body, &key);
        client.call("sendTx", json!([hex::encode(tx.encode())])).await.unwrap();
        last = Some(tx.hash().unwrap());
        let r = client.wait_receipt(&tx.hash().unwrap(), WAIT_MS).await.unwrap();
        let want = ["\"OK\"", "\"Sender not found\"", "\"Not enough balance\"", "\"Receiver not found\""][i];
        assert_eq!((r["status"].as_str(), r["ret"].as_str()), (Some("SUCCESS"), Some(want)), "{r}");
    }
    let head = client.receipt(&last.unwrap()).await.unwrap().unwrap()["blockHeight"].as_u64().unwrap();
    let sql = "SELECT id, balance FROM accounts ORDER BY id";
    let q = client.call("query", json!([sql, { "contract": contract }])).await.unwrap();
    assert_eq!(q["rows"], json!([["alice", "75.00"], ["bob", "75.00"]]));
    assert_eq!(q["height"], head);
    let q = client.call("query", json!([sql, { "contract": contract, "height": funded_at }])).await.unwrap();
    assert_eq!(q["rows"], json!([["alice", "100.00"], ["bob", "50.00"]]));
    let q = client.call("query", json!([format!("SELECT sum(balance) FROM {schema}.accounts")])).await.unwrap();
    assert_eq!(q["rows"], json!([["150.00"]]));
    let q = client
        .call("queryContract", json!([contract, { "Name": "transfer", "Args": ["alice", "bob", "500"] }]))
        .await
        .unwrap();
    assert_eq!(q["result"], "Not enough balance");
    let abi = client.call("getABI", json!([contract])).await.unwrap();
    assert_eq!(abi["functions"].as_array().unwrap().len(), 2);
    let ev = client.call("getEvents", json!([{ "contract": contract }])).await.unwrap();
    assert_eq!(ev["events"].as_array().unwrap().len(), 1);

    // The catalogue methods behind the shell's \d.
    let list = client.call("listTables", json!([])).await.unwrap();
    let rels = list["relations"].as_array().unwrap();
    let has = |s: &str, n: &str, k: &str| rels.iter().any(|r| r["schema"] == s && r["name"] == n && r["kind"] == k);
    assert!(has(&schema, "accounts", "table") && has(&schema, "transfer", "function"), "{list}");
    assert!(has("sys", "accounts", "table") && has("sys", "contracts", "table"), "{list}");
    let before = client.call("listTables", json!([{ "height": deployed_at - 1 }])).await.unwrap();
    assert!(!before["relations"].as_array().unwrap().iter().any(|r| r["schema"] == schema.as_str()), "{before}");
    let d = client.call("describeTable", json!(["accounts", { "contract": contract }])).await.unwrap();
    assert_eq!(d["kind"], "table");
    assert_eq!(d["columns"][1], json!({"name": "balance", "type": "NUMERIC(20,2)", "notNull": true, "default": "0"}));
    assert_eq!(d["primaryKey"], json!(["id"]));
    let e = client.call("describeTable", json!(["nothing"])).await.unwrap_err();
    assert_eq!(e.rpc_code(), Some(aergo_rpc::NOT_FOUND), "{e}");

    // The SQL shell, scripted on stdin: \d, \d NAME, a multi-line query at
    // an earlier height, an error that does not end the session, \q.
    let script = "\\d\n\\d accounts\nSELECT id, balance\n  FROM accounts\n  ORDER BY id;\nSELECT nope FROM accounts;\n\
                  \\at head\nSELECT count(*) FROM sys.contracts;\n\\q\nSELECT 'after quit';\n";
    let at = funded_at.to_string();
    let r = aergo_stdin(&["--rpc", &url, "sql", "--contract", &contract, "--at", &at], script);
    assert!(r.stdout.contains(&format!(" {schema} | accounts  | table")), "{}", r.stdout);
    assert!(r.stdout.contains(" sys ") && r.stdout.contains("| contracts | table"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("Table {schema}.accounts")), "{}", r.stdout);
    assert!(r.stdout.contains(" alice |  100.00\n bob   |   50.00\n(2 rows)"), "{}", r.stdout);
    assert!(r.stdout.contains(" count\n-------\n     1\n(1 row)"), "{}", r.stdout);
    assert!(!r.stdout.contains("after quit"), "{}", r.stdout);
    assert!(r.stderr.contains("ERROR: column \"nope\" does not exist"), "{}", r.stderr);
    assert!(!r.ok, "a script with a failed statement exits non-zero");
    assert!(r.stderr.contains("1 statement(s) or command(s) failed"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_changes_nothing_but_fee_and_nonce() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.clone();
    let (contract, _) = deploy_whitepaper(&url, tmp.path());
    cli(&url, &["contract", "call", &contract, "fund", "bob", "50", "--from", "dev:1", "--wait"]);
    let dev1 = dev_account(1).unwrap().address().to_string();
    let dev2 = dev_account(2).unwrap().address().to_string();
    let call = |args: &[&str]| {
        let mut all = vec!["contract", "call", &contract];
        all.extend_from_slice(args);
        all.extend(["--from", "dev:1", "--wait"]);
        cli_fails(&url, &all)
    };

    // SQL errors at deploy: a syntax error, a bad value in an initial row.
    // The deploy is included and fails; no contract exists at its address.
    for (name, sql, message) in [
        ("syntax.sql", "CREATE TABLE t (x INTEGER", "syntax error"),
        ("value.sql", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES ('ten')", "invalid input for type INTEGER"),
    ] {
        let file = write(tmp.path(), name, sql);
        let v = cli_fails(&url, &["contract", "deploy", &file, "--from", "dev:2", "--wait"]);
        let r = assert_failed_cleanly(&url, &contract, &dev2, &v, message);
        let at = r["contractAddress"].as_str().unwrap();
        let e = cli_fails(&url, &["contract", "info", at]);
        assert_eq!(e["error"]["code"], aergo_rpc::NOT_FOUND, "{e}");
    }

    // An unknown function: the CLI refuses before signing (nothing sent,
    // the nonce is unused); sent anyway over JSON-RPC, the call fails.
    let next = cli(&url, &["balance", &dev1])["nextNonce"].clone();
    let v = cli_fails(&url, &["contract", "call", &contract, "nope", "--from", "dev:1", "--wait"]);
    assert!(error_text(&v).contains("no public function of that name (public functions: fund, transfer)"), "{v}");
    assert_eq!(cli(&url, &["balance", &dev1])["nextNonce"], next);
    let v = call(&["nope", "--args-json", "[]"]);
    assert_failed_cleanly(
        &url,
        &contract,
        &dev1,
        &v,
        "has no public function \"nope\" (public functions: fund, transfer)",
    );

    // Wrong argument count and type.
    let v = call(&["transfer", "alice", "bob"]);
    assert_failed_cleanly(
        &url,
        &contract,
        &dev1,
        &v,
        "expected 3 arguments (sender TEXT, to TEXT, amount NUMERIC), got 2",
    );
    let v = call(&["transfer", "alice", "bob", "ten"]);
    assert_failed_cleanly(&url, &contract, &dev1, &v, "argument \"amount\" (NUMERIC): expected a number");

    // Out of gas: the whole limit is used and paid.
    let v = call(&["transfer", "alice", "bob", "1", "--gas-limit", "101000"]);
    let r = assert_failed_cleanly(&url, &contract, &dev1, &v, "out of gas");
    assert_eq!(r["gasUsed"], 101_000);

    // A contract writing another contract's table: at deploy, and from a
    // function of its own.
    let schema = cli(&url, &["contract", "info", &contract])["schema"].as_str().unwrap().to_string();
    let direct = write(tmp.path(), "direct.sql", &format!("UPDATE {schema}.accounts SET balance = 0"));
    let v = cli_fails(&url, &["contract", "deploy", &direct, "--from", "dev:2", "--wait"]);
    assert_failed_cleanly(&url, &contract, &dev2, &v, &format!("cannot write to schema \"{schema}\""));
    let thief = write(
        tmp.path(),
        "thief.sql",
        &format!(
            "CREATE FUNCTION steal() RETURNS VOID AS $$ BEGIN UPDATE {schema}.accounts SET balance = 0; END; $$ \
             LANGUAGE plpgsql"
        ),
    );
    let t = cli(&url, &["contract", "deploy", &thief, "--from", "dev:2", "--wait"]);
    let thief_addr = t["contract"].as_str().unwrap().to_string();
    let v = cli_fails(&url, &["contract", "call", &thief_addr, "steal", "--from", "dev:2", "--wait"]);
    assert_failed_cleanly(&url, &contract, &dev2, &v, &format!("cannot write to schema \"{schema}\""));

    // Writes sent as queries, and queries over the caps: refused, no new
    // block, the state root as it was.
    let status = cli(&url, &["status"]);
    for sql in ["DELETE FROM accounts", "UPDATE accounts SET balance = 0", "INSERT INTO accounts VALUES ('x', 1)"] {
        let v = cli_fails(&url, &["contract", "query", &contract, sql]);
        assert_eq!(v["error"]["code"], aergo_rpc::INVALID_PARAMS, "{v}");
        assert!(error_text(&v).contains("read-only"), "{v}");
    }
    let e = node.client().call("query", json!(["DROP TABLE accounts", { "contract": contract }])).await.unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    let values = |n: usize| (0..n).map(|i| format!("({i})")).collect::<Vec<_>>().join(", ");
    let rows = format!("SELECT a.x FROM (VALUES {}) a(x), (VALUES {}) b(y)", values(200), values(60));
    let v = cli_fails(&url, &["contract", "query", &contract, &rows]);
    assert_eq!(v["error"]["code"], aergo_rpc::LIMIT_EXCEEDED, "{v}");
    assert!(error_text(&v).contains("rows exceeds the limit of 10000"), "{v}");
    let heavy = format!(
        "SELECT count(*) FROM (VALUES {}) a(x), (VALUES {}) b(y), (VALUES {}) c(z)",
        values(1000),
        values(1000),
        values(10)
    );
    let e = node.client().call("query", json!([heavy])).await.unwrap_err();
    assert_eq!(e.rpc_code(), Some(aergo_rpc::LIMIT_EXCEEDED), "{e}");
    assert!(e.to_string().contains("out of gas: limit 10000000"), "{e}");
    let after = cli(&url, &["status"]);
    assert_eq!((&after["height"], &after["stateRoot"]), (&status["height"], &status["stateRoot"]));
    assert_eq!(accounts(&url, &contract, None), json!([["alice", "100.00"], ["bob", "50.00"]]));

    // Bad command lines fail before reaching the node.
    let v = cli_fails(&url, &["contract", "query", &dev1, "SELECT 1"]);
    assert!(error_text(&v).contains("not a contract's"), "{v}");
    let v = cli_fails(
        &url,
        &["contract", "deploy", &write(tmp.path(), "x.sql", "SELECT 1"), "--args", "{}", "--from", "dev:1"],
    );
    assert!(error_text(&v).contains("expected a JSON array"), "{v}");
    let v = cli_fails(&url, &["contract", "deploy", &write(tmp.path(), "empty.sql", " \n"), "--from", "dev:1"]);
    assert!(error_text(&v).contains("the file is empty"), "{v}");
}

/// A tiny run of the node half of `aergo bench contract` (the benchmark
/// itself, and PostgreSQL, never run in the test suite).
#[test]
fn contract_benchmark_node_half_smoke() {
    let v =
        aergo_json(&["--json", "bench", "contract", "--quick", "--no-postgres", "--accounts", "300", "--calls", "300"]);
    assert_eq!(v["node"]["calls"], 300, "{v}");
    assert!(v["node"]["tps"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(v["postgresql"]["error"], "skipped (--no-postgres)");
    let line = v["bench"].as_str().unwrap();
    assert!(line.starts_with("BENCH contract_transfer node_tps="), "{line}");
    assert!(
        line.contains(" pg_sync_tps=na pg_async_tps=na ratio_sync=na ratio_async=na accounts=300 calls=300 clients=8"),
        "{line}"
    );
}
