//! End to end: a node killed with SIGKILL comes back on the same data
//! directory with the same head and state root, and keeps producing; a
//! node asked to stop with SIGTERM stops cleanly.

mod common;

use common::*;

fn head(url: &str) -> (u64, String, String) {
    let s = aergo_json(&["--rpc", url, "--json", "status"]);
    (s["height"].as_u64().unwrap(), s["hash"].as_str().unwrap().into(), s["stateRoot"].as_str().unwrap().into())
}

#[test]
fn sigkill_then_restart_keeps_head_and_state_root_and_keeps_producing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let mut node = NodeProc::dev(&dir);
    for (to, amount) in [("dev:1", "1 aergo"), ("dev:2", "2 aergo")] {
        let sent = aergo_json(&[
            "--rpc", &node.url, "--json", "send", "--from", "dev:0", "--to", to, "--amount", amount, "--wait",
        ]);
        assert_eq!(sent["receipt"]["status"], "SUCCESS");
    }
    let before = head(&node.url);
    assert!(before.0 >= 1);
    let balance = aergo_json(&["--rpc", &node.url, "--json", "balance", "dev:2"]);
    node.kill();

    // Same directory, a new process (and a new port).
    let node = NodeProc::dev(&dir);
    let after = head(&node.url);
    assert_eq!(before, after, "same height, head hash and state root after SIGKILL");
    assert_eq!(aergo_json(&["--rpc", &node.url, "--json", "balance", "dev:2"]), balance);
    let b = aergo_json(&["--rpc", &node.url, "--json", "block", &before.0.to_string()]);
    assert_eq!(b["hash"].as_str(), Some(before.1.as_str()));

    // It keeps producing on top of the restored head; the next nonce is 3.
    let sent = aergo_json(&[
        "--rpc", &node.url, "--json", "send", "--from", "dev:0", "--to", "dev:3", "--amount", "3 aergo", "--wait",
    ]);
    assert_eq!(sent["nonce"], 3);
    let height = sent["receipt"]["blockHeight"].as_u64().unwrap();
    assert_eq!(height, before.0 + 1);
    let next = aergo_json(&["--rpc", &node.url, "--json", "block", &height.to_string()]);
    assert_eq!(next["prevHash"].as_str(), Some(before.1.as_str()));
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = NodeProc::dev(&tmp.path().join("dev"));
    let sent = aergo_json(&[
        "--rpc", &node.url, "--json", "send", "--from", "dev:4", "--to", "dev:5", "--amount", "1 aer", "--wait",
    ]);
    assert_eq!(sent["receipt"]["status"], "SUCCESS");
    let status = node.terminate();
    assert!(status.success(), "exit status {status:?}; stderr:\n{}", node.stderr());
    let log = node.stderr();
    assert!(log.contains("shutting down") && log.contains("stopped"), "{log}");
}
