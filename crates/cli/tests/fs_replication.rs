//! AergoFS replication on a 3-producer DPoS network of real node
//! processes: a file stored on one node and registered on chain reaches
//! the other two (in pieces over the p2p network, checked by hash) and a
//! contract's reference to it reads alike everywhere; a damaged copy is
//! detected and healed from a peer; a node that lost its whole store gets
//! the file back by itself after a restart; a file nobody registered is
//! never fetched.

mod common;

use aergo_types::Hash;
use common::horde::{Horde, HordeSpec};
use common::{aergo, aergo_json};

fn cli(h: &Horde, node: usize, args: &[&str]) -> serde_json::Value {
    let url = h.rpc(node);
    let mut all = vec!["--rpc", url.as_str(), "--json"];
    all.extend_from_slice(args);
    aergo_json(&all)
}

/// Whether `node` holds `hash` in its own store (the list never fetches).
fn holds(h: &Horde, node: usize, hash: &str) -> bool {
    let url = h.rpc(node);
    let r = aergo(&["--rpc", &url, "--json", "fs", "ls"]);
    r.ok && r.json()["files"].as_array().is_some_and(|f| f.iter().any(|e| e["hash"] == hash))
}

/// `fs get` through `node` into a file; the bytes, or the failure's JSON.
fn get(h: &Horde, node: usize, hash: &str, tmp: &std::path::Path) -> Result<Vec<u8>, String> {
    let out = tmp.join(format!("got-{node}-{hash}"));
    let url = h.rpc(node);
    let r = aergo(&["--rpc", &url, "--json", "fs", "get", hash, "-o", out.to_str().unwrap()]);
    if r.ok {
        Ok(std::fs::read(&out).unwrap())
    } else {
        Err(format!("{}{}", r.stdout, r.stderr))
    }
}

fn metric(h: &Horde, node: usize, line_start: &str) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let text =
        rt.block_on(async { reqwest::get(format!("{}/metrics", h.rpc(node))).await.unwrap().text().await.unwrap() });
    text.lines().find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn registered_files_reach_every_node_and_damaged_or_lost_copies_heal_from_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let h =
        Horde::up(tmp.path(), &HordeSpec { producers: 3, candidates: 0, block_interval_ms: 500, epoch_blocks: 100 });

    // 1. Stored on node0 only: three pieces of at most 1 MiB each.
    let data = common::bytes(1, (5 << 20) / 2 + 12_345);
    let path = tmp.path().join("report.bin");
    std::fs::write(&path, &data).unwrap();
    let hash = cli(&h, 0, &["fs", "put", path.to_str().unwrap()])["hash"].as_str().unwrap().to_string();
    assert_eq!(hash, Hash::sha256(&data).to_string());
    // Not registered: no other node fetches it, and reading it elsewhere
    // is a clear "unknown", not a fetch on a stranger's say.
    let secret = tmp.path().join("unregistered.bin");
    std::fs::write(&secret, common::bytes(2, 10_000)).unwrap();
    let unregistered = cli(&h, 0, &["fs", "put", secret.to_str().unwrap()])["hash"].as_str().unwrap().to_string();
    let err = get(&h, 1, &unregistered, tmp.path()).unwrap_err();
    assert!(err.contains("UNKNOWN_FILE") || err.contains("not registered"), "{err}");
    assert!(!holds(&h, 1, &unregistered));

    // 2. Registered on chain: the other nodes fetch it by themselves.
    let reg = cli(&h, 0, &["fs", "register", &hash, "--from", "dev:0", "--wait"]);
    assert_eq!(reg["receipt"]["status"], "SUCCESS", "{reg}");
    for node in [1, 2] {
        h.wait_for(&format!("node{node} to replicate the file"), |h| holds(h, node, &hash).then_some(()));
        assert!(get(&h, node, &hash, tmp.path()).unwrap() == data, "node{node} serves it whole");
    }
    assert!(!holds(&h, 2, &unregistered), "only registered files move");

    // A contract referencing it answers alike on every node.
    let source = common::FILE_DOCS_CONTRACT;
    let file = tmp.path().join("docs.sql");
    std::fs::write(&file, source).unwrap();
    let d = cli(&h, 1, &["contract", "deploy", file.to_str().unwrap(), "--from", "dev:1", "--wait"]);
    let contract = d["contract"].as_str().unwrap().to_string();
    let hex = Hash::sha256(&data).to_hex();
    let a = cli(&h, 2, &["contract", "call", &contract, "attach", "report", &hex, "--from", "dev:1", "--wait"]);
    assert_eq!(a["receipt"]["ret"], data.len().to_string(), "{a}");
    for node in 0..3 {
        let height = a["receipt"]["blockHeight"].as_u64().unwrap();
        h.wait_for("the call's block everywhere", |h| {
            (common::horde::u64_of(&h.status()[node], "height") >= height).then_some(())
        });
        let q = cli(&h, node, &["contract", "query", &contract, "SELECT file, size FROM docs"]);
        let text = q.to_string();
        assert!(text.contains(&hex) && text.contains(&data.len().to_string()), "node{node}: {q}");
        assert!(get(&h, node, &hash, tmp.path()).unwrap() == data, "node{node} serves the file the contract names");
    }

    // 3. node1's copy is damaged on disk: a read finds it, fetches a good
    // copy from a peer and answers with the right bytes.
    let fs_dir = h.dir.join("node1").join("fs");
    let (vol, at) = std::fs::read_dir(&fs_dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).ok()?;
            let at = bytes.windows(64).position(|w| w == &data[1_000_000..1_000_064])?;
            Some((p, at))
        })
        .next()
        .expect("node1 holds the file in a volume");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&vol).unwrap();
        f.write_all_at(&[!data[1_000_000]], at as u64).unwrap();
        f.sync_all().unwrap();
    }
    let before = metric(&h, 1, "aergo_fs_replication_total{outcome=\"healed\"}");
    assert!(get(&h, 1, &hash, tmp.path()).unwrap() == data, "the damaged copy is healed on read");
    assert_eq!(metric(&h, 1, "aergo_fs_replication_total{outcome=\"healed\"}"), before + 1);
    assert!(get(&h, 1, &hash, tmp.path()).unwrap() == data, "and stays healed");

    // 4. node2 loses its whole store while down; back up, it fetches the
    // file again by itself.
    aergo_json(&["--json", "horde", "stop", "--dir", h.dir(), "node2", "--kill"]);
    std::fs::remove_dir_all(h.dir.join("node2").join("fs")).unwrap();
    aergo_json(&["--json", "horde", "start", "--dir", h.dir(), "node2"]);
    h.wait_for("node2 to fetch the lost file again", |h| holds(h, 2, &hash).then_some(()));
    assert!(get(&h, 2, &hash, tmp.path()).unwrap() == data);
}
