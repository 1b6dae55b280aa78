//! The bad-input catalogue, command-line door: `aergo` invocations that
//! are wrong (usage, malformed values) or that the node refuses, each with
//! the exit status its kind of failure has (`aergo_client::exit`: 2 usage,
//! 3 unreachable, 4 not found, 5 refused, 6 transaction failed, 7 timeout)
//! and a fragment of the message; run with `--json` where the command gets
//! that far, the error document must carry the same `exit`, the node's
//! JSON-RPC `code` and the refusal's `reason`. One dev node serves the
//! cases that reach a node; the refusals leave its state as it was, and the
//! two cases that legitimately change it (an included transaction that
//! fails, a transaction waited for in vain) assert exactly their change.
//!
//! Run it alone with `cargo test -p aergo-cli --test catalogue_cli`.

mod common;

use aergo_client::exit;
use aergo_client::keys::dev_account;
use aergo_types::Hash;
use common::*;
use serde_json::Value;

/// One line of the catalogue.
struct Case {
    name: &'static str,
    /// Arguments after `aergo --rpc URL` (`{rpc}` is replaced by the URL
    /// when a case needs its own `--rpc`).
    args: Vec<String>,
    exit: u8,
    fragment: &'static str,
    /// Run with `--json` and check the error document: the node's
    /// JSON-RPC code and reason, if any.
    json: Option<(Option<i64>, Option<&'static str>)>,
    /// Run without the node's `--rpc` in front.
    own_rpc: bool,
}

fn case(name: &'static str, args: &[&str], exit: u8, fragment: &'static str) -> Case {
    Case { name, args: args.iter().map(|s| s.to_string()).collect(), exit, fragment, json: None, own_rpc: false }
}

impl Case {
    /// Also check the `--json` error document.
    fn json(mut self, code: Option<i64>, reason: Option<&'static str>) -> Case {
        self.json = Some((code, reason));
        self
    }

    fn own_rpc(mut self) -> Case {
        self.own_rpc = true;
        self
    }

    fn run(&self, url: &str, dir: &str) -> Result<(), String> {
        let args: Vec<String> = self.args.iter().map(|a| a.replace("{dir}", dir)).collect();
        let mut all: Vec<&str> = Vec::new();
        if !self.own_rpc {
            all.extend(["--rpc", url]);
        }
        if self.json.is_some() {
            all.push("--json");
        }
        all.extend(args.iter().map(String::as_str));
        let r = aergo(&all);
        let mut wrong = Vec::new();
        if r.code != Some(i32::from(self.exit)) {
            wrong.push(format!("exit status {:?}, expected {}", r.code, self.exit));
        }
        if !r.stderr.contains(self.fragment) {
            wrong.push(format!("stderr lacks {:?}", self.fragment));
        }
        // Each cause is said once (not "reading x: not found: not found").
        if let Some(line) = r.stderr.lines().find(|l| l.starts_with("error: ")) {
            let parts: Vec<&str> = line.split(": ").collect();
            if parts.windows(2).any(|w| w[0] == w[1]) {
                wrong.push(format!("a cause is repeated: {line}"));
            }
        }
        if std::env::var_os("CATALOGUE_VERBOSE").is_some() {
            println!("{}: {:?} {}", self.name, r.code, r.stderr.lines().next().unwrap_or_default());
        }
        if let Some((code, reason)) = self.json {
            match serde_json::from_str::<Value>(&r.stdout) {
                Ok(doc) => {
                    let e = &doc["error"];
                    if e["exit"] != self.exit
                        || e["code"].as_i64() != code
                        || e["reason"].as_str() != reason
                        || !e["message"].as_str().unwrap_or_default().contains(self.fragment)
                    {
                        wrong.push(format!("--json error document {doc}, expected code {code:?} reason {reason:?}"));
                    }
                }
                Err(e) => wrong.push(format!("--json output is not one JSON document ({e}): {}", r.stdout)),
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("aergo {all:?}: {}\nstderr: {}", wrong.join("; "), r.stderr))
        }
    }
}

/// Head, state root, pool and the dev accounts 0..4, through the CLI.
fn snapshot(url: &str) -> Value {
    let s = aergo_json(&["--rpc", url, "--json", "status"]);
    let accounts: Vec<Value> = (0..4)
        .map(|i| {
            let a = aergo_json(&["--rpc", url, "--json", "balance", &format!("dev:{i}")]);
            serde_json::json!([a["balance"], a["nonce"], a["nextNonce"]])
        })
        .collect();
    serde_json::json!({
        "height": s["height"], "hash": s["hash"], "stateRoot": s["stateRoot"], "pool": s["pool"], "accounts": accounts,
    })
}

fn cases(contract: &str, dev0: &str) -> Vec<Case> {
    let unknown_hash = Hash::sha256(b"no such transaction").to_string();
    let no_contract = aergo_types::Address::contract_from(&dev_account(8).unwrap().address(), 99).to_string();
    let rejected = Some(aergo_rpc::REJECTED);
    vec![
        // Usage: the command line itself is wrong (clap and our own checks).
        case("no command", &[], exit::USAGE, "Usage"),
        case("unknown command", &["transfer"], exit::USAGE, "unrecognized subcommand 'transfer'"),
        case("unknown flag", &["status", "--verbose"], exit::USAGE, "unexpected argument '--verbose'"),
        case("missing --from", &["send", "--to", "dev:1", "--amount", "1 aer"], exit::USAGE, "--from"),
        case(
            "nonce not a number",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--nonce", "x"],
            exit::USAGE,
            "invalid value 'x'",
        ),
        case("height not a number", &["balance", "dev:0", "--at", "head"], exit::USAGE, "invalid value 'head'"),
        case("node with the client's --rpc", &["node", "--dev"], exit::USAGE, "does not take --rpc"),
        case(
            "amount without unit",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1.5"],
            exit::USAGE,
            "invalid amount \"1.5\"",
        )
        .json(None, None),
        case(
            "negative amount",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount=-1 aergo"],
            exit::USAGE,
            "invalid amount",
        )
        .json(None, None),
        case(
            "amount beyond 128 bits",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "999999999999999999999999 aergo"],
            exit::USAGE,
            "invalid amount",
        )
        .json(None, None),
        case(
            "amount finer than an aer",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "0.0000000000000000001 aergo"],
            exit::USAGE,
            "invalid amount",
        )
        .json(None, None),
        case(
            "recipient not an address",
            &["send", "--from", "dev:0", "--to", "Am-not-base58", "--amount", "1 aer"],
            exit::USAGE,
            "expected an Am... address or dev:N",
        )
        .json(None, None),
        case("dev account out of range", &["balance", "dev:10"], exit::USAGE, "dev:0 to dev:9").json(None, None),
        case(
            "payload not hex",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--payload", "abc"],
            exit::USAGE,
            "expected hex bytes",
        )
        .json(None, None),
        case("bad transaction hash", &["tx", "not-a-hash"], exit::USAGE, "invalid hash").json(None, None),
        case("bad block hash", &["block", "0xabc"], exit::USAGE, "invalid hash").json(None, None),
        case(
            "rpc URL without scheme",
            &["--rpc", "127.0.0.1:7847", "status"],
            exit::USAGE,
            "expected http://host:port",
        )
        .own_rpc()
        .json(None, None),
        case("https rpc URL", &["--rpc", "https://127.0.0.1:7847", "status"], exit::USAGE, "https is not supported")
            .own_rpc()
            .json(None, None),
        case(
            "query of an account, not a contract",
            &["contract", "query", dev0, "SELECT 1"],
            exit::USAGE,
            "not a contract's",
        )
        .json(None, None),
        case(
            "constructor arguments not an array",
            &["contract", "deploy", "{dir}/ok.sql", "--args", "{}", "--from", "dev:1"],
            exit::USAGE,
            "expected a JSON array",
        )
        .json(None, None),
        case(
            "empty contract source",
            &["contract", "deploy", "{dir}/empty.sql", "--from", "dev:1"],
            exit::USAGE,
            "the file is empty",
        )
        .json(None, None),
        case(
            "unknown function, refused before signing",
            &["contract", "call", contract, "nope", "--from", "dev:1"],
            exit::USAGE,
            "no public function of that name",
        )
        .json(None, None),
        case(
            "private key not a key",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--key", "xyz"],
            exit::USAGE,
            "private key",
        )
        .json(None, None),
        case(
            "private key zero",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--key", ZERO_KEY],
            exit::USAGE,
            "private key",
        )
        .json(None, None),
        case(
            "key of another account",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--key", DEV1_KEY],
            exit::USAGE,
            "not of dev:0",
        )
        .json(None, None),
        case(
            "events with the range upside down",
            &["events", "--from-height", "5", "--to-height", "1"],
            exit::USAGE,
            "fromHeight 5 is above toHeight 1",
        )
        .json(Some(aergo_rpc::INVALID_PARAMS), None),
        case("a write as a query", &["contract", "query", contract, "DELETE FROM items"], exit::USAGE, "read-only")
            .json(Some(aergo_rpc::INVALID_PARAMS), None),
        // A local file that cannot be read.
        case(
            "contract source missing",
            &["contract", "deploy", "{dir}/missing.sql", "--from", "dev:1"],
            exit::FAILURE,
            "missing.sql",
        )
        .json(None, None),
        // Unreachable.
        case(
            "nothing listens there",
            &["--rpc", "http://127.0.0.1:9", "status"],
            exit::UNREACHABLE,
            "cannot reach the node at http://127.0.0.1:9",
        )
        .own_rpc()
        .json(None, None),
        // Not found.
        case("unknown transaction", &["tx", &unknown_hash], exit::NOT_FOUND, "no transaction")
            .json(Some(aergo_rpc::NOT_FOUND), None),
        case("unknown receipt", &["receipt", &unknown_hash], exit::NOT_FOUND, "no transaction")
            .json(Some(aergo_rpc::NOT_FOUND), None),
        case("block in the future", &["block", "1000000000"], exit::NOT_FOUND, "no block 1000000000")
            .json(Some(aergo_rpc::NOT_FOUND), None),
        case(
            "balance at a future height",
            &["balance", "dev:0", "--at", "1000000000"],
            exit::NOT_FOUND,
            "no block at height",
        )
        .json(Some(aergo_rpc::NOT_FOUND), None),
        case("contract that does not exist", &["contract", "info", &no_contract], exit::NOT_FOUND, "no contract at")
            .json(Some(aergo_rpc::NOT_FOUND), None),
        // Refused by the node, with its reason code.
        case(
            "nonce already used",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--nonce", "1"],
            exit::REJECTED,
            "already used",
        )
        .json(rejected, Some("NONCE_TOO_LOW")),
        case(
            "nonce too far ahead",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--nonce", "5000"],
            exit::REJECTED,
            "too far ahead",
        )
        .json(rejected, Some("NONCE_TOO_HIGH")),
        case(
            "more than the balance",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "2000000 aergo"],
            exit::REJECTED,
            "insufficient balance",
        )
        .json(rejected, Some("INSUFFICIENT_BALANCE")),
        case(
            "gas limit too low",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--gas-limit", "1"],
            exit::REJECTED,
            "below",
        )
        .json(rejected, Some("GAS_LIMIT_TOO_LOW")),
        case(
            "gas limit too high",
            &["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--gas-limit", "200000000"],
            exit::REJECTED,
            "exceeds the chain's maximum",
        )
        .json(rejected, Some("GAS_LIMIT_TOO_HIGH")),
        case(
            "transfer to a system contract",
            &["send", "--from", "dev:0", "--to", "aergo.system", "--amount", "1 aer"],
            exit::USAGE,
            "takes governance transactions, not transfers",
        )
        .json(None, None),
    ]
}

/// Stands for dev:1's private key (hex), filled in when the cases run:
/// signing for dev:0 with it is a mistake.
const DEV1_KEY: &str = "dev1";
const ZERO_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_door_exits_with_a_status_per_kind_of_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.clone();
    let dir = tmp.path().to_str().unwrap().to_string();
    std::fs::write(tmp.path().join("ok.sql"), "CREATE TABLE items (id INTEGER PRIMARY KEY)").unwrap();
    std::fs::write(tmp.path().join("empty.sql"), " \n").unwrap();
    std::fs::write(
        tmp.path().join("fixture.sql"),
        "CREATE TABLE items (id INTEGER PRIMARY KEY);\n\
         CREATE FUNCTION fail() RETURNS VOID AS $$ BEGIN RAISE EXCEPTION 'always fails'; END; $$ LANGUAGE plpgsql",
    )
    .unwrap();
    let d = aergo_json(&[
        "--rpc",
        &url,
        "--json",
        "contract",
        "deploy",
        &format!("{dir}/fixture.sql"),
        "--from",
        "dev:3",
        "--wait",
    ]);
    let contract = d["contract"].as_str().unwrap().to_string();
    // A committed transfer, so nonce 1 of dev:0 is used.
    aergo_json(&["--rpc", &url, "--json", "send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--wait"]);
    let dev0 = dev_account(0).unwrap().address().to_string();
    let dev1_key = hex::encode(dev_account(1).unwrap().to_bytes());

    let mut cases = cases(&contract, &dev0);
    for c in &mut cases {
        for a in &mut c.args {
            if a == DEV1_KEY {
                *a = dev1_key.clone();
            }
        }
    }
    let before = snapshot(&url);
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = c.run(&url, &dir) {
            failures.push(format!("{}: {e}", c.name));
        }
    }
    let after = snapshot(&url);
    if after != before {
        failures.push(format!("the refusals changed the state:\nbefore {before}\nafter  {after}"));
    }

    // A transaction included and failed: exit 6, the receipt in the error
    // document; the sender paid the fee and used one nonce.
    let r = aergo(&["--rpc", &url, "--json", "contract", "call", &contract, "fail", "--from", "dev:2", "--wait"]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
    if r.code != Some(i32::from(exit::TX_FAILED))
        || doc["error"]["exit"] != exit::TX_FAILED
        || doc["receipt"]["status"] != "ERROR"
        || !r.stderr.contains("always fails")
    {
        failures.push(format!("failed call: {:?} {} {}", r.code, r.stdout, r.stderr));
    }
    let fee = doc["receipt"]["fee"].as_str().unwrap_or("0").parse::<u128>().unwrap();
    let now = snapshot(&url);
    let was = &before["accounts"][2];
    let is = &now["accounts"][2];
    if aer(&was[0]) - aer(&is[0]) != fee || is[1].as_u64() != was[1].as_u64().map(|n| n + 1) {
        failures.push(format!("failed call: expected the fee {fee} and one nonce of dev:2: {was} -> {is}"));
    }
    if now["accounts"][0] != before["accounts"][0] || now["accounts"][1] != before["accounts"][1] {
        failures.push(format!("failed call: other accounts changed: {before} -> {now}"));
    }

    // Waiting in vain: a nonce gap never commits; exit 7, and the pool holds
    // the transaction.
    let r = aergo(&[
        "--rpc",
        &url,
        "--json",
        "send",
        "--from",
        "dev:3",
        "--to",
        "dev:1",
        "--amount",
        "1 aer",
        "--nonce",
        "9",
        "--wait",
        "--timeout-ms",
        "300",
    ]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
    if r.code != Some(i32::from(exit::TIMEOUT))
        || doc["error"]["exit"] != exit::TIMEOUT
        || !r.stderr.contains("timed out")
    {
        failures.push(format!("timeout: {:?} {} {}", r.code, r.stdout, r.stderr));
    }
    let pending = snapshot(&url);
    if pending["pool"]["txs"] != 1 || pending["height"] != now["height"] {
        failures.push(format!("timeout: expected one pending tx and the same head: {pending}"));
    }

    println!("catalogue_cli: {} cases", cases.len() + 2);
    assert!(failures.is_empty(), "{} of the cases failed:\n{}", failures.len(), failures.join("\n\n"));

    // The node still takes a good transfer.
    let ok = aergo_json(&[
        "--rpc", &url, "--json", "send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aergo", "--wait",
    ]);
    assert_eq!(ok["receipt"]["status"], "SUCCESS", "{ok}");
}
