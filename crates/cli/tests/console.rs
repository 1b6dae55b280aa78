//! The web console in a real browser against a real node process: headless
//! Chromium (Debian's, driven by playwright-core from npm, as installed by
//! `.ci/sdk-setup`) runs `crates/console/tests/browser/console-e2e.js`,
//! which opens the console, sees a new block arrive, opens a transaction
//! sent here, runs `SELECT * FROM accounts` on the whitepaper contract at
//! two heights, tries bad input (a malformed search, an unknown hash and
//! height, DDL, a query over the row cap), visits every page, checks a
//! phone-sized screen, and fails on any JavaScript error in the page or
//! any request that leaves the node.
//!
//! Screenshots of every page land in `<target>/tmp/console-screenshots`;
//! with `AERGO_UPDATE_SCREENSHOTS=1` they are also copied to
//! `docs/console/`, which README.md shows.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{aergo_json, tool, NodeProc};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `aergo --rpc URL --json <args>`.
fn cli(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--rpc", url, "--json"];
    all.extend_from_slice(args);
    aergo_json(&all)
}

/// One JSON-RPC call: its result, or the error's message.
fn rpc(node: &NodeProc, method: &str, params: Value) -> Result<Value, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(node.client().call(method, params)).map_err(|e| e.to_string())
}

#[test]
fn the_console_works_in_a_real_browser() {
    let Some(node_path) = tool("AERGO_SDK_NODE_PATH") else { return };
    let Some(chromium) = tool("AERGO_CHROMIUM") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");

    // A dev node whose query API caps results at 50 rows, so that the
    // console meets the cap with a small query.
    drop(NodeProc::dev(&dir));
    let config = dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("max_rows = 10000"), "{text}");
    std::fs::write(&config, text.replace("max_rows = 10000", "max_rows = 50")).unwrap();
    let node = NodeProc::start(&dir, &["--dev", "--produce-empty-blocks"]);
    let console_line = format!("console {}/", node.url);
    assert!(node.banner.contains(&console_line), "the banner names the console: {:?}", node.banner);
    let url = node.url.clone();

    // The whitepaper contract, alice at 100 (h1), then bob funded with 50
    // (h2); then a transfer whose page the browser opens.
    let file = repo().join("sdk/whitepaper.sql").display().to_string();
    let d = cli(&url, &["contract", "deploy", &file, "--args", "[100]", "--from", "dev:0", "--wait"]);
    assert_eq!(d["receipt"]["status"], "CREATED", "{d}");
    let contract = d["contract"].as_str().unwrap().to_string();
    let h1 = d["receipt"]["blockHeight"].as_u64().unwrap();
    let f = cli(&url, &["contract", "call", &contract, "fund", "bob", "50", "--from", "dev:1", "--wait"]);
    assert_eq!(f["receipt"]["status"], "SUCCESS", "{f}");
    let h2 = f["receipt"]["blockHeight"].as_u64().unwrap();
    let to = aergo_client::keys::dev_account(1).unwrap().address().to_string();
    let t = cli(&url, &["send", "--from", "dev:0", "--to", &to, "--amount", "1.5 aergo", "--wait"]);
    let tx = t["hash"].as_str().unwrap().to_string();
    let tx_height = t["receipt"]["blockHeight"].as_u64().unwrap();
    let root_before = rpc(&node, "getBlock", json!([tx_height])).unwrap()["stateRoot"].clone();
    // A branch forked at h1 and a tag at h2, for the branches page.
    let b = cli(&url, &["branch", "create", "preview", "--at", &h1.to_string(), "--from", "dev:2", "--wait"]);
    assert_eq!(b["receipt"]["status"], "SUCCESS", "{b}");
    let tg = cli(&url, &["tag", "create", "v1", "--at", &h2.to_string(), "--from", "dev:2", "--wait"]);
    assert_eq!(tg["receipt"]["status"], "SUCCESS", "{tg}");

    // The explorer methods the console uses: an account's history pages
    // back by (height, index) and ends; the node's figures per block.
    let dev0 = aergo_client::keys::dev_account(0).unwrap().address().to_string();
    let mut pages = Vec::new();
    let mut opts = json!({ "limit": 1 });
    loop {
        let page = rpc(&node, "getAccountTxs", json!([dev0, opts])).unwrap();
        assert_eq!(page["indexedFrom"], 0, "{page}");
        pages.extend(page["txs"].as_array().unwrap().iter().map(|t| t["hash"].as_str().unwrap().to_string()));
        if page["next"].is_null() {
            break;
        }
        opts = json!({ "limit": 1, "before": page["next"]["before"], "beforeIndex": page["next"]["beforeIndex"] });
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    let deploy = d["hash"].as_str().unwrap().to_string();
    assert_eq!(pages, vec![tx.clone(), deploy], "dev:0 sent the deploy, then the transfer");
    let bad = rpc(&node, "getAccountTxs", json!([dev0, { "limit": 1000 }])).unwrap_err();
    assert!(bad.contains("limit: expected a number from 1 to 100"), "{bad}");
    let history = rpc(&node, "getMetricsHistory", json!([{ "limit": 5 }])).unwrap();
    let samples = history["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 5, "{history}");
    assert!(samples.windows(2).all(|w| w[1]["height"].as_u64() > w[0]["height"].as_u64()), "{history}");

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let cfg = json!({
        "chromium": chromium,
        "url": url,
        "shots": shots,
        "tx": tx,
        "txHeight": tx_height,
        "account": to,
        "contract": contract,
        "h1": h1,
        "rows1": [["alice", "100.00"]],
        "h2": h2,
        "rows2": [["alice", "100.00"], ["bob", "50.00"]],
    });
    let out = Command::new("node")
        .env("NODE_PATH", &node_path)
        .arg(repo().join("crates/console/tests/browser/console-e2e.js"))
        .arg(cfg.to_string())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("CONSOLE OK"),
        "the console test failed:\n{stdout}\nstderr:\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.stderr()
    );

    // Nothing the browser did changed the chain: no table was created and
    // past blocks are as they were.
    let hacked = rpc(&node, "describeTable", json!(["hacked"])).unwrap_err();
    assert!(hacked.contains("no table, view or function"), "{hacked}");
    assert_eq!(rpc(&node, "getBlock", json!([tx_height])).unwrap()["stateRoot"], root_before);

    for page in ["explorer", "transaction", "block", "account", "contract", "sql", "producers", "node", "branches"] {
        assert!(shots.join(format!("{page}.png")).exists(), "no screenshot of {page}");
    }
    if std::env::var("AERGO_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = repo().join("docs/console");
        std::fs::create_dir_all(&docs).unwrap();
        for page in ["explorer", "transaction", "contract", "sql", "node", "explorer-phone", "branches"] {
            std::fs::copy(shots.join(format!("{page}.png")), docs.join(format!("{page}.png"))).unwrap();
        }
    }
}
