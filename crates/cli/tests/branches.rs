//! End to end: branches of the chain on a real dev node process, through
//! the CLI and the JSON-RPC API. Deploy the whitepaper contract on main,
//! fork a branch at a past height, diverge both sides with transfers and
//! contract calls, read either side at any ref (branch, branch@height,
//! tag), merge the branch into main (what no longer applies is dropped
//! with its reason), and the refusals: a replay of a branch transaction on
//! main, a non-writer, taken and malformed names, merging a branch into
//! itself or with nothing new, a deleted branch. Total supply is unchanged
//! on every side.

mod common;

use aergo_client::exit;
use aergo_client::keys::dev_account;
use common::*;
use serde_json::{json, Value};

const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");
const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");

fn source() -> String {
    format!(
        "{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n\
         CREATE FUNCTION constructor(initial NUMERIC) RETURNS VOID AS $$\n\
         BEGIN\n    INSERT INTO accounts VALUES ('alice', initial);\n    INSERT INTO accounts VALUES ('bob', 0);\nEND;\n$$ LANGUAGE plpgsql;\n"
    )
}

fn cli(url: &str, args: &[&str]) -> Value {
    cli_at(url, args)
}

/// A command that must fail with exit status `code`; its JSON error.
fn refused(url: &str, args: &[&str], code: u8) -> Value {
    refused_at(url, args, code)
}

fn balance(url: &str, branch: &str, who: &str) -> u128 {
    aer(&cli(url, &["--branch", branch, "balance", who])["balance"])
}

/// The whitepaper table as `[[id, balance], ...]` on `branch` (or a ref in `at`).
fn accounts(url: &str, branch: &str, contract: &str) -> Value {
    cli(url, &["--branch", branch, "contract", "query", contract, "SELECT id, balance FROM accounts ORDER BY id"])
        ["rows"]
        .clone()
}

/// Sum of every account's balance in a state: the supply never changes.
async fn supply(client: &aergo_client::client::RpcClient, at: &str) -> u128 {
    let v = client
        .call("query", json!(["SELECT CAST(sum(balance) AS TEXT) AS s FROM sys.accounts", { "height": at }]))
        .await
        .unwrap();
    v["rows"][0][0].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_diverge_tag_and_merge_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.clone();
    let client = node.client();
    let total = supply(&client, "main").await;

    // On main: the contract, then a transfer; the fork point is between.
    let file = tmp.path().join("wp.sql");
    std::fs::write(&file, source()).unwrap();
    let d = cli(&url, &["contract", "deploy", file.to_str().unwrap(), "--args", "[100]", "--from", "dev:0", "--wait"]);
    assert_eq!(d["receipt"]["status"], "CREATED", "{d}");
    let contract = d["contract"].as_str().unwrap().to_string();
    let fork_at = d["receipt"]["blockHeight"].as_u64().unwrap();
    let later = cli(&url, &["send", "--from", "dev:2", "--to", "dev:3", "--amount", "7 aergo", "--wait"]);
    assert_eq!(later["receipt"]["status"], "SUCCESS", "{later}");

    // Fork main as it was after the deploy: the later transfer is not on
    // the branch.
    let at = fork_at.to_string();
    let made =
        cli(&url, &["branch", "create", "feature", "--at", &at, "--writer", "dev:1", "--from", "dev:0", "--wait"]);
    assert_eq!(made["receipt"]["status"], "SUCCESS", "{made}");
    let show = cli(&url, &["branch", "show", "feature"]);
    assert_eq!(show["forkHeight"].as_u64(), Some(fork_at), "{show}");
    assert_eq!(show["writers"], json!([dev_account(1).unwrap().address().to_string()]));
    let main_dev3 = balance(&url, "main", "dev:3");
    assert_eq!(main_dev3 - balance(&url, "feature", "dev:3"), 7_000_000_000_000_000_000);
    let listed = cli(&url, &["branch", "list"]);
    let names: Vec<&str> = listed["branches"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["main", "feature"]);

    // Diverge: a transfer and a contract call on the branch; a contract
    // call on main that will make the branch's second call fail on merge.
    let t = cli(
        &url,
        &["--branch", "feature", "send", "--from", "dev:1", "--to", "dev:2", "--amount", "100 aergo", "--wait"],
    );
    assert_eq!(t["receipt"]["status"], "SUCCESS", "{t}");
    let c = cli(
        &url,
        &[
            "--branch", "feature", "contract", "call", &contract, "transfer", "alice", "bob", "60", "--from", "dev:1",
            "--wait",
        ],
    );
    assert_eq!(c["receipt"]["status"], "SUCCESS", "{c}");
    let m = cli(&url, &["contract", "call", &contract, "transfer", "alice", "bob", "50", "--from", "dev:0", "--wait"]);
    assert_eq!(m["receipt"]["status"], "SUCCESS", "{m}");
    assert_eq!(accounts(&url, "feature", &contract), json!([["alice", "40.00"], ["bob", "60.00"]]));
    assert_eq!(accounts(&url, "main", &contract), json!([["alice", "50.00"], ["bob", "50.00"]]));
    let branch_height = t["receipt"]["blockHeight"].as_u64().unwrap();

    // Tags and refs: the branch before its own transactions.
    let tagged = cli(
        &url,
        &[
            "tag",
            "create",
            "before",
            "--branch",
            "feature",
            "--at",
            &(branch_height - 1).to_string(),
            "--from",
            "dev:1",
            "--wait",
        ],
    );
    assert_eq!(tagged["receipt"]["status"], "SUCCESS", "{tagged}");
    let tags = cli(&url, &["tag", "list"]);
    assert_eq!(tags["tags"][0]["branch"], "feature", "{tags}");
    let at_tag =
        client.call("getAccount", json!([dev_account(2).unwrap().address().to_string(), "before"])).await.unwrap();
    let at_branch = client
        .call("getAccount", json!([dev_account(2).unwrap().address().to_string(), format!("feature@{branch_height}")]))
        .await
        .unwrap();
    assert_eq!(aer(&at_branch["balance"]) - aer(&at_tag["balance"]), 100_000_000_000_000_000_000);
    // SQL's AS OF names the same snapshots.
    let dev2 = dev_account(2).unwrap().address().to_string();
    let sql = format!(
        "SELECT CAST(balance AS TEXT) FROM sys.accounts AS OF 'feature@{branch_height}' WHERE address = '{dev2}'"
    );
    let q = client.call("query", json!([sql])).await.unwrap();
    assert_eq!(q["rows"][0][0].as_str().unwrap(), aer(&at_branch["balance"]).to_string(), "{q}");
    let sql = format!("SELECT CAST(balance AS TEXT) FROM sys.accounts AS OF 'before' WHERE address = '{dev2}'");
    let q = client.call("query", json!([sql])).await.unwrap();
    assert_eq!(q["rows"][0][0].as_str().unwrap(), aer(&at_tag["balance"]).to_string(), "{q}");
    let mixed = client
        .call("query", json!(["SELECT 1 FROM sys.accounts AS OF 'before' JOIN sys.params AS OF 'main' ON true"]))
        .await;
    assert!(mixed.unwrap_err().to_string().contains("one snapshot"));
    // A diff of the two states, by refs.
    let d = cli(&url, &["diff", "before", &format!("feature@{branch_height}"), "--table", "sys.accounts"]);
    assert_eq!(d["relations"][0]["rows"].as_array().unwrap().len(), 3, "sender, recipient, coinbase: {d}");

    // Refusals, each with its reason, and nothing changed.
    // A transaction signed for the branch with a nonce the branch used:
    // the lane is part of what is signed, so it can only be the branch's.
    let lane = show["chainIdHash"].as_str().unwrap().to_string();
    let used = signed_transfer(&lane, 1, t["nonce"].as_u64().unwrap());
    let e = send_raw(&client, &used).await;
    assert!(e.contains("NONCE_TOO_LOW"), "{e}");
    let e = refused(
        &url,
        &["--branch", "feature", "send", "--from", "dev:3", "--to", "dev:2", "--amount", "1 aer"],
        exit::REJECTED,
    );
    assert_eq!(e["reason"], "BRANCH_REJECTED", "{e}");
    let e = refused(&url, &["branch", "create", "feature", "--from", "dev:0"], exit::REJECTED);
    assert_eq!(e["reason"], "BRANCH_REJECTED", "{e}");
    let e = refused(&url, &["branch", "create", "Bad Name", "--from", "dev:0"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("lower-case"), "{e}");
    let e = refused(&url, &["merge", "feature", "--into", "feature", "--from", "dev:0"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("itself"), "{e}");
    let e = refused(&url, &["merge", "nope", "--from", "dev:0"], exit::NOT_FOUND);
    assert!(e["message"].as_str().unwrap().contains("no branch \"nope\""), "{e}");
    let e = refused(&url, &["merge", "nope", "--strategy", "auto", "--from", "dev:0"], exit::REJECTED);
    assert_eq!(e["reason"], "UNKNOWN_BRANCH", "{e}");
    let e = refused(&url, &["merge", "feature", "--strategy", "consensual", "--from", "dev:0"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("policy auto"), "{e}");
    refused(&url, &["--branch", "nope", "balance", "dev:0"], exit::NOT_FOUND);
    for at in ["main", "feature", "before"] {
        assert_eq!(supply(&client, at).await, total, "supply on {at}");
    }

    // Merge into main: the transfer applies; the contract call no longer
    // does (alice has 50 on main, the call moved 60), and says why.
    let before_dev2 = balance(&url, "main", "dev:2");
    let merged = cli(&url, &["merge", "feature", "--into", "main", "--from", "dev:1", "--wait"]);
    assert_eq!(merged["receipt"]["status"], "SUCCESS", "{merged}");
    let events: Vec<String> = merged["receipt"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["mergeApplied", "mergeApplied", "branchMerged"], "{merged}");
    // The whitepaper's transfer answers rather than raises: replayed on
    // main, where alice has 50, it says so and moves nothing.
    let ret = merged["receipt"]["events"][1]["args"].as_str().unwrap();
    assert!(ret.contains("Not enough balance"), "{ret}");
    assert_eq!(balance(&url, "main", "dev:2") - before_dev2, 100_000_000_000_000_000_000);
    assert_eq!(accounts(&url, "main", &contract), json!([["alice", "50.00"], ["bob", "50.00"]]));
    let e = refused(&url, &["merge", "feature", "--from", "dev:1"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("nothing to merge"), "{e}");

    // A second round: what no longer applies on main is dropped, with its
    // reason, and costs nothing.
    let t2 = cli(
        &url,
        &["--branch", "feature", "send", "--from", "dev:1", "--to", "dev:2", "--amount", "100 aergo", "--wait"],
    );
    assert_eq!(t2["receipt"]["status"], "SUCCESS", "{t2}");
    let keep = 10_000_000_000_000_000_000u128;
    let drain = format!("{} aer", balance(&url, "main", "dev:1") - keep);
    let d = cli(&url, &["send", "--from", "dev:1", "--to", "dev:3", "--amount", &drain, "--wait"]);
    assert_eq!(d["receipt"]["status"], "SUCCESS", "{d}");
    let (dev1, dev2) = (balance(&url, "main", "dev:1"), balance(&url, "main", "dev:2"));
    let merged = cli(&url, &["merge", "feature", "--from", "dev:0", "--wait"]);
    let ev = &merged["receipt"]["events"];
    assert_eq!(ev[0]["name"], "mergeDropped", "{merged}");
    assert!(ev[0]["args"].as_str().unwrap().contains("INSUFFICIENT_BALANCE"), "{merged}");
    assert_eq!((balance(&url, "main", "dev:1"), balance(&url, "main", "dev:2")), (dev1, dev2));
    for at in ["main", "feature", "before"] {
        assert_eq!(supply(&client, at).await, total, "supply on {at} after the merge");
    }

    // A three-way branch: both sides' changes meet row by row; the
    // coinbase, paid on both, gets base + both deltas.
    let tw = cli(&url, &["branch", "create", "tw", "--merge-policy", "three-way", "--from", "dev:0", "--wait"]);
    assert_eq!(tw["receipt"]["status"], "SUCCESS", "{tw}");
    let (dev2_main, dev4_main) = (balance(&url, "main", "dev:2"), balance(&url, "main", "dev:4"));
    let on_tw =
        cli(&url, &["--branch", "tw", "send", "--from", "dev:0", "--to", "dev:4", "--amount", "3 aergo", "--wait"]);
    assert_eq!(on_tw["receipt"]["status"], "SUCCESS", "{on_tw}");
    let on_main = cli(&url, &["send", "--from", "dev:5", "--to", "dev:2", "--amount", "2 aergo", "--wait"]);
    assert_eq!(on_main["receipt"]["status"], "SUCCESS", "{on_main}");
    let merged = cli(&url, &["merge", "tw", "--from", "dev:0", "--wait"]);
    assert_eq!(merged["receipt"]["status"], "SUCCESS", "{merged}");
    assert_eq!(balance(&url, "main", "dev:4") - dev4_main, 3_000_000_000_000_000_000);
    assert_eq!(balance(&url, "main", "dev:2") - dev2_main, 2_000_000_000_000_000_000);
    assert_eq!(supply(&client, "main").await, total, "supply after a three-way merge");

    // Delete: the branch's state is gone from the head, its history stays.
    let e = refused(&url, &["branch", "delete", "feature", "--from", "dev:1"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("only its creator"), "{e}");
    let gone = cli(&url, &["branch", "delete", "feature", "--from", "dev:0", "--wait"]);
    assert_eq!(gone["receipt"]["status"], "SUCCESS", "{gone}");
    refused(&url, &["branch", "show", "feature"], exit::NOT_FOUND);
    let e = refused(&url, &["--branch", "feature", "balance", "dev:0"], exit::NOT_FOUND);
    assert!(e["message"].as_str().unwrap().contains("feature"), "{e}");
    assert_eq!(supply(&client, "before").await, total, "a tag still reads the deleted branch's past");
    // Its lane is no chain's any more.
    let e = send_raw(&client, &signed_transfer(&lane, 1, 99)).await;
    assert!(e.contains("WRONG_CHAIN"), "{e}");
}

/// A transfer of 1 aer from dev:`from` to dev:0 signed for `lane`.
fn signed_transfer(lane: &str, from: u32, nonce: u64) -> aergo_types::Tx {
    let key = dev_account(from).unwrap();
    let lane: aergo_types::Hash = lane.parse().unwrap();
    let to = dev_account(0).unwrap().address();
    let body = aergo_types::TxBody::transfer(nonce, &key.address(), &to, aergo_types::Amount::from_aer(1), &lane);
    aergo_crypto::sign_tx(body, &key)
}

/// `sendTx` that must be refused; the error's text with its reason.
async fn send_raw(client: &aergo_client::client::RpcClient, tx: &aergo_types::Tx) -> String {
    match client.send_tx(tx).await {
        Ok(h) => panic!("{h} was accepted"),
        Err(e) => format!("{e} {:?}", e),
    }
}
