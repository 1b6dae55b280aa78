//! `aergo node backup` under load and `aergo node restore` into a new data
//! directory: the restored chain has the same head and state root as the
//! original at the backup's height, and a node started on it answers the
//! same; damaged backups and occupied directories are refused without
//! writing anything.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{aergo, aergo_fails, aergo_json, NodeProc};
use serde_json::{json, Value};

fn rpc(node: &NodeProc, method: &str, params: Value) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(node.client().call(method, params)).unwrap()
}

#[test]
fn a_backup_taken_under_load_restores_the_same_head_and_state_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let node = NodeProc::dev(&dir);
    let url = node.url.clone();
    // State worth restoring: a SQL contract and its rows, then transfers
    // that keep coming while the backup runs.
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sdk/whitepaper.sql");
    let d = aergo_json(&[
        "--rpc",
        &url,
        "--json",
        "contract",
        "deploy",
        file.to_str().unwrap(),
        "--args",
        "[100]",
        "--from",
        "dev:0",
        "--wait",
    ]);
    let contract = d["contract"].as_str().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, url) = (stop.clone(), url.clone());
        let to = aergo_client::keys::dev_account(2).unwrap().address().to_string();
        std::thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = aergo(&["--rpc", &url, "send", "--from", "dev:1", "--to", &to, "--amount", "1 aer"]);
                assert!(r.ok, "{}", r.stderr);
                sent += 1;
            }
            sent
        })
    };
    // Let the load build a few blocks, then back up while it goes on.
    let start = rpc(&node, "status", json!([]))["height"].as_u64().unwrap();
    while rpc(&node, "status", json!([]))["height"].as_u64().unwrap() < start + 3 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let backup = tmp.path().join("chain.aergo-backup");
    let b = aergo_json(&[
        "--rpc",
        &url,
        "--json",
        "node",
        "backup",
        "--out",
        backup.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    stop.store(true, Ordering::Relaxed);
    let sent = load.join().unwrap();
    assert!(sent > 0, "transfers were sent during the backup");
    let height = b["height"].as_u64().unwrap();
    assert!(height >= start, "{b}");
    assert_eq!((b["config"].as_bool(), b["nodeKey"].as_bool()), (Some(true), Some(true)), "{b}");
    let original = rpc(&node, "getBlock", json!([height]));

    // Restore into a new directory: same head, same state root.
    let restored_dir = tmp.path().join("restored");
    let r = aergo_json(&[
        "--json",
        "node",
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--dir",
        restored_dir.to_str().unwrap(),
    ]);
    assert_eq!(r["height"].as_u64(), Some(height), "{r}");
    assert_eq!(r["hash"], original["hash"], "{r}");
    assert_eq!(r["stateRoot"], original["stateRoot"], "{r}");
    assert_eq!(r["nodeKeyRestored"], true);
    let key = |d: &std::path::Path| std::fs::read_to_string(d.join("node.key")).unwrap();
    assert_eq!(key(&restored_dir), key(&dir), "the node key came back");

    // A node on the restored directory answers as the original did there.
    let restored = NodeProc::start(&restored_dir, &[]);
    let s = rpc(&restored, "status", json!([]));
    assert_eq!(s["height"].as_u64(), Some(height));
    assert_eq!(s["stateRoot"], original["stateRoot"]);
    let q = |n: &NodeProc| {
        rpc(n, "query", json!(["SELECT * FROM accounts ORDER BY owner", { "contract": contract, "height": height }]))
            ["rows"]
            .clone()
    };
    assert_eq!(q(&restored), q(&node));
    let dev1 = aergo_client::keys::dev_account(1).unwrap().address().to_string();
    let acct = |n: &NodeProc| rpc(n, "getAccount", json!([dev1, height]))["balance"].clone();
    assert_eq!(acct(&restored), acct(&node));
    drop(restored);

    // Refusals: an occupied directory, a damaged file, a file that is not
    // a backup; none writes a data directory.
    let err =
        aergo_fails(&["node", "restore", "--from", backup.to_str().unwrap(), "--dir", restored_dir.to_str().unwrap()]);
    assert!(err.contains("already a data directory"), "{err}");
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let damaged = tmp.path().join("damaged");
    std::fs::write(&damaged, &bytes).unwrap();
    let fresh = tmp.path().join("fresh");
    let err = aergo_fails(&["node", "restore", "--from", damaged.to_str().unwrap(), "--dir", fresh.to_str().unwrap()]);
    // A damaged content byte is the checksum's to find; a damaged section
    // header can only be read as a wrong tag or length.
    assert!(
        ["checksum mismatch", "truncated", "bound", "unknown section tag"].iter().any(|m| err.contains(m)),
        "{err}"
    );
    assert!(!fresh.exists(), "nothing written for a damaged backup");
    let err = aergo_fails(&["node", "restore", "--from", file.to_str().unwrap(), "--dir", fresh.to_str().unwrap()]);
    assert!(err.contains("not a backup"), "{err}");
    assert!(!fresh.exists());
}
