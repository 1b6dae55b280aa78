//! End to end: `aergo horde` runs a DPoS network of real node processes on
//! loopback (4 producers and 1 candidate), and the issue's checks hold:
//! blocks every second, LIB advancing, transactions sent to any node
//! included exactly once, a killed producer does not stop the others or
//! finality, a restarted one syncs back, and a stake-and-vote changes the
//! producer set at the next epoch.
//!
//! Run it alone with:
//!
//! ```text
//! cargo test -p aergo-cli --test horde -- --nocapture
//! ```

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::horde::*;
use common::*;
use serde_json::Value;

/// Producers and extra candidates of the test network.
const PRODUCERS: usize = 4;
const CANDIDATES: usize = 1;
const BLOCK_INTERVAL_MS: u64 = 1_000;
const EPOCH_BLOCKS: u64 = 10;

fn horde_up(tmp: &Path) -> Horde {
    Horde::up(
        tmp,
        &HordeSpec {
            producers: PRODUCERS,
            candidates: CANDIDATES,
            block_interval_ms: BLOCK_INTERVAL_MS,
            epoch_blocks: EPOCH_BLOCKS,
        },
    )
}

/// The web console's producers page on node 0, in headless Chromium
/// (`crates/console/tests/browser/console-producers.js`): the schedule of
/// every producer and the LIB advancing. Skipped, saying so, without the
/// browser (see `tool`).
fn console_producers_page(url: &str) {
    let (Some(node_path), Some(chromium)) = (tool("AERGO_SDK_NODE_PATH"), tool("AERGO_CHROMIUM")) else { return };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let cfg = serde_json::json!({ "chromium": chromium, "url": url, "shots": shots, "producers": PRODUCERS });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../console/tests/browser/console-producers.js");
    let out = std::process::Command::new("node")
        .env("NODE_PATH", node_path)
        .arg(script)
        .arg(cfg.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("PRODUCERS OK"),
        "the console's producers page:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn four_producers_finalize_survive_a_crash_resync_and_elect_by_vote() {
    let tmp = tempfile::tempdir().unwrap();
    let h = horde_up(tmp.path());
    let nodes = h.up["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), PRODUCERS + CANDIDATES);
    let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["producer", "producer", "producer", "producer", "candidate"]);

    // A second `up` on a running network is refused.
    let e = aergo_fails(&["horde", "up", "--dir", h.dir()]);
    assert!(e.contains("a network is running here"), "{e}");

    // 1. All nodes connect, blocks come every second, the LIB follows.
    let first = h.wait_for("every node to see all the others and pass height 5 with a LIB", |h| {
        let s = h.status();
        let ready = s.iter().all(|n| {
            n["up"] == true
                && n["peers"].as_u64().unwrap_or(0) >= (PRODUCERS + CANDIDATES - 1) as u64
                && n["height"].as_u64().unwrap_or(0) >= 5
                && n["lib"].as_u64().unwrap_or(0) >= 1
        });
        ready.then_some(s)
    });
    for (i, n) in first.iter().enumerate() {
        let expected = if i < PRODUCERS { "producer" } else { "follower" };
        assert_eq!(n["role"], expected, "node{i}: {n}");
        assert!(u64_of(n, "lib") <= u64_of(n, "height"), "{n}");
    }
    // Every node exports its figures for Prometheus.
    for i in 0..PRODUCERS + CANDIDATES {
        let m = metrics(&h.rpc(i));
        assert!(metric(&m, "aergo_height") >= 5.0, "node{i}:\n{m}");
        assert!(metric(&m, "aergo_lib_height") >= 1.0, "node{i}:\n{m}");
        assert!(metric(&m, "aergo_peers") >= (PRODUCERS + CANDIDATES - 1) as f64, "node{i}:\n{m}");
        for name in ["aergo_mempool_txs", "aergo_block_interval_seconds", "aergo_tps"] {
            assert!(metric(&m, name) >= 0.0, "node{i}: {name}");
        }
    }
    let lib_start = u64_of(&first[0], "lib");
    let height_start = u64_of(&first[0], "height");
    let started = Instant::now();
    let (height_later, lib_later) = h.wait_for("10 more blocks and a higher LIB", |h| {
        let s = h.status();
        let (height, lib) = (u64_of(&s[0], "height"), u64_of(&s[0], "lib"));
        (height >= height_start + 10 && lib > lib_start + 5).then_some((height, lib))
    });
    let elapsed_ms = started.elapsed().as_millis() as u64;
    // Blocks every second: the chain's own timestamps are one slot apart.
    let url0 = h.rpc(0);
    let mut deltas_ms: Vec<u64> = (height_start..height_later)
        .map(|k| {
            let (a, b) = (block(&url0, k), block(&url0, k + 1));
            let dt = b["timestamp"].as_i64().unwrap() - a["timestamp"].as_i64().unwrap();
            assert!(dt > 0, "block {} is not after block {k}", k + 1);
            (dt / 1_000_000) as u64
        })
        .collect();
    deltas_ms.sort_unstable();
    let median = deltas_ms[deltas_ms.len() / 2];
    assert!((900..=1_500).contains(&median), "median block interval {median} ms: {deltas_ms:?}");
    assert!(
        (height_later - height_start) * BLOCK_INTERVAL_MS <= elapsed_ms + 2 * BLOCK_INTERVAL_MS,
        "{} blocks in {elapsed_ms} ms is faster than one a slot",
        height_later - height_start
    );
    // The web console shows the schedule, and the LIB advancing.
    console_producers_page(&url0);
    assert!(lib_later + 10 >= height_later, "the LIB {lib_later} trails the head {height_later} by more than 10");

    // 2. Transactions sent to any node are included exactly once.
    let from_height = u64_of(&h.status()[0], "height");
    let mut hashes = Vec::new();
    for node in 0..PRODUCERS + CANDIDATES {
        let sender = format!("dev:{}", node + 1);
        for _ in 0..3 {
            let sent = aergo_json(&[
                "--rpc",
                &h.rpc(node),
                "--json",
                "send",
                "--from",
                &sender,
                "--to",
                "dev:9",
                "--amount",
                "1 aer",
            ]);
            hashes.push(sent["hash"].as_str().unwrap().to_string());
        }
    }
    let receipts: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            // Asked of another node than the one it was sent to.
            let other = h.rpc((i / 3 + 1) % (PRODUCERS + CANDIDATES));
            h.wait_for(&format!("the receipt of {hash}"), |_| receipt(&other, hash))
        })
        .collect();
    assert!(receipts.iter().all(|r| r["status"] == "SUCCESS"), "{receipts:?}");
    let last = receipts.iter().map(|r| u64_of(r, "blockHeight")).max().unwrap();
    h.wait_for("every node to have the last block of the transfers", |h| {
        h.status().iter().all(|n| n["height"].as_u64().unwrap_or(0) >= last).then_some(())
    });
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    for k in from_height..=last {
        let b = block(&url0, k);
        for tx in b["txs"].as_array().unwrap() {
            *seen.entry(tx.as_str().unwrap().to_string()).or_default() += 1;
        }
        // Every node has the same block at this height.
        for node in 1..PRODUCERS + CANDIDATES {
            assert_eq!(block(&h.rpc(node), k)["hash"], b["hash"], "node{node} at height {k}");
        }
    }
    for hash in &hashes {
        assert_eq!(seen.get(hash), Some(&1), "{hash} included {:?} times", seen.get(hash));
    }

    // 2b. A branch of the DPoS chain: created through one node, written
    // through another, merged through a third; every node agrees on the
    // branch's state root at every height, since the block commits to it.
    let cli_at = |node: usize, args: &[&str]| {
        let url = h.rpc(node);
        let mut all = vec!["--rpc", url.as_str(), "--json"];
        all.extend_from_slice(args);
        aergo_json(&all)
    };
    let made = cli_at(0, &["branch", "create", "net", "--writer", "dev:1", "--from", "dev:0", "--wait"]);
    assert_eq!(made["receipt"]["status"], "SUCCESS", "{made}");
    let sent = cli_at(2, &["--branch", "net", "send", "--from", "dev:1", "--to", "dev:8", "--amount", "5 aergo"]);
    let hash = sent["hash"].as_str().unwrap().to_string();
    let on_branch = h.wait_for("the branch transfer's receipt", |h| receipt(&h.rpc(4), &hash));
    assert_eq!(on_branch["status"], "SUCCESS", "{on_branch}");
    let at = u64_of(&on_branch, "blockHeight");
    h.wait_for("every node to finalize the branch transfer", |h| {
        h.status().iter().all(|n| n["lib"].as_u64().unwrap_or(0) >= at).then_some(())
    });
    let at_height: Vec<Value> = (0..PRODUCERS + CANDIDATES)
        .map(|i| cli_at(i, &["branch", "show", "net", "--at", &at.to_string()])["stateRoot"].clone())
        .collect();
    assert!(at_height.iter().all(|r| r == &at_height[0] && r.is_string()), "{at_height:?}");
    let dev8 = |i: usize| aer(&cli_at(i, &["--branch", "net", "balance", "dev:8"])["balance"]);
    let dev8_main = aer(&cli_at(0, &["balance", "dev:8"])["balance"]);
    assert_eq!(dev8(3) - dev8_main, 5_000_000_000_000_000_000, "node3 reads the branch");
    let merged = cli_at(1, &["merge", "net", "--from", "dev:1", "--wait"]);
    assert_eq!(merged["receipt"]["status"], "SUCCESS", "{merged}");
    let m = u64_of(&merged["receipt"], "blockHeight");
    h.wait_for("every node to have the merge block", |h| {
        h.status().iter().all(|n| n["height"].as_u64().unwrap_or(0) >= m).then_some(())
    });
    for node in 0..PRODUCERS + CANDIDATES {
        assert_eq!(block(&h.rpc(node), m)["hash"], block(&url0, m)["hash"], "node{node} at the merge");
        assert_eq!(
            aer(&cli_at(node, &["balance", "dev:8", "--at", &m.to_string()])["balance"]) - dev8_main,
            5_000_000_000_000_000_000
        );
    }

    // 3. One producer crashes: the others go on and finality continues.
    let killed = aergo_json(&["--json", "horde", "stop", "--dir", h.dir(), "node3", "--kill"]);
    assert_eq!(killed[0]["outcome"], "killed");
    let s = h.status();
    assert_eq!(s[3]["up"], false);
    let (height_kill, lib_kill) = (u64_of(&s[0], "height"), u64_of(&s[0], "lib"));
    h.wait_for("blocks and a higher LIB without node3", |h| {
        let s = h.status();
        let live = [0, 1, 2, 4];
        live.iter()
            .all(|&i| {
                s[i]["height"].as_u64().unwrap_or(0) >= height_kill + 8
                    && s[i]["lib"].as_u64().unwrap_or(0) > lib_kill + 3
            })
            .then_some(())
    });

    // 4. It comes back and syncs to the others.
    aergo_json(&["--json", "horde", "start", "--dir", h.dir(), "node3"]);
    let target = u64_of(&h.status()[0], "height");
    let back = h.wait_for("node3 to catch up", |h| {
        let s = h.status();
        (s[3]["up"] == true && s[3]["height"].as_u64().unwrap_or(0) >= target + 2).then(|| u64_of(&s[3], "height"))
    });
    assert_eq!(block(&h.rpc(3), target)["hash"], block(&url0, target)["hash"], "node3 synced the same chain");
    assert!(back >= target + 2);

    // 5. Stake and vote for the candidate: it is elected at the next epoch.
    let candidate = h.peer_id(PRODUCERS);
    let staked = aergo_json(&["--rpc", &url0, "--json", "stake", "--from", "dev:0", "--amount", "10 aergo", "--wait"]);
    assert_eq!(staked["receipt"]["status"], "SUCCESS", "{staked}");
    assert_eq!(staked["call"], "v1stake");
    let shown = aergo_json(&["--rpc", &url0, "--json", "stake", "show", "dev:0"]);
    assert_eq!(aer(&shown["amount"]), 10 * 10u128.pow(18), "{shown}");
    // Locked for 10 blocks: refused before sending, with the reason.
    let e = aergo_fails(&["--rpc", &url0, "unstake", "--from", "dev:0", "--amount", "10 aergo"]);
    assert!(e.contains("locked until block"), "{e}");
    let voted = aergo_json(&["--rpc", &url0, "--json", "vote", "--from", "dev:0", &candidate, "--wait"]);
    assert_eq!(voted["receipt"]["status"], "SUCCESS", "{voted}");
    let bp = aergo_json(&["--rpc", &url0, "--json", "bp", "list"]);
    assert_eq!(bp["candidates"][0]["peerId"].as_str(), Some(candidate.as_str()), "{bp}");
    assert_eq!(aer(&bp["candidates"][0]["votes"]), 10 * 10u128.pow(18));
    let text = aergo(&["--rpc", &url0, "bp", "list"]);
    assert!(text.ok && text.stdout.contains(&candidate), "{}", text.stdout);

    h.wait_for("the candidate to be elected and produce", |h| {
        let bp = aergo_json(&["--rpc", &h.rpc(0), "--json", "bp", "list"]);
        let elected = bp["producers"].as_array().unwrap().iter().any(|p| p["peerId"] == candidate.as_str());
        let s = h.status();
        (elected && s[PRODUCERS]["role"] == "producer").then_some(())
    });
    // With one voted candidate and four seats, the current producers fill
    // the rest in order: node3 is the one that leaves.
    h.wait_for("node3 to become a follower", |h| (h.status()[3]["role"] == "follower").then_some(()));
    let address = producer_address(&candidate);
    h.wait_for("a block produced by the candidate", |h| {
        let head = u64_of(&h.status()[0], "height");
        (head.saturating_sub(EPOCH_BLOCKS)..=head)
            .any(|k| block(&h.rpc(0), k)["producer"].as_str() == Some(address.as_str()))
            .then_some(())
    });

    // 6. Evidence of double production convicts a producer on every node.
    slash_a_double_producer(&h);

    // 7. Down stops every node; status says so.
    let down = aergo_json(&["--json", "horde", "down", "--dir", h.dir()]);
    assert!(down.as_array().unwrap().iter().all(|o| o["outcome"] == "stopped"), "{down}");
    assert!(h.status().iter().all(|n| n["up"] == false && n["pid"].is_null()));
}

/// Two headers signed by producer node2 for one slot: anyone (here dev:2,
/// through the candidate's node) submits them; every node records the
/// offence, cuts a tenth of node2's own stake and takes it out of the set
/// at the next block; the chain goes on and finalizes with three
/// producers; the same evidence again, and forged evidence, are refused
/// with EVIDENCE_REJECTED and change nothing.
fn slash_a_double_producer(h: &Horde) {
    use aergo_types::evidence::DoubleBlock;
    use aergo_types::{BlockHeader, Evidence, Genesis, Hash};

    let convicted = 2;
    let peer = h.peer_id(convicted);
    let url0 = h.rpc(0);
    let bp = cli_at(&url0, &["bp", "list"]);
    assert!(bp["producers"].as_array().unwrap().iter().any(|p| p["peerId"] == peer.as_str()), "{bp}");
    let key_hex = h.key_hex(convicted);
    let key = aergo_crypto::PrivateKey::from_bytes(&hex::decode(&key_hex).unwrap()).unwrap();
    assert_eq!(key.public_key().peer_id(), peer);
    // node2's own account stakes 50 aergo.
    let account = producer_address(&peer);
    let funded = cli_at(&url0, &["send", "--from", "dev:1", "--to", &account, "--amount", "100 aergo", "--wait"]);
    assert_eq!(funded["receipt"]["status"], "SUCCESS", "{funded}");
    let key_arg = key_hex.clone();
    let staked = cli_at(&url0, &["stake", "--from", &account, "--key", &key_arg, "--amount", "50 aergo", "--wait"]);
    assert_eq!(staked["receipt"]["status"], "SUCCESS", "{staked}");

    let genesis = Genesis::from_json(&std::fs::read_to_string(h.dir.join("genesis.json")).unwrap()).unwrap();
    let slot_ns = BLOCK_INTERVAL_MS as i64 * 1_000_000;
    let header = |salt: &[u8]| {
        let h = BlockHeader {
            chain_id: genesis.chain_id.to_bytes(),
            prev_block_hash: Hash::sha256(b"some parent").to_vec(),
            block_no: 1_000,
            timestamp: genesis.timestamp + 5_000 * slot_ns + 1,
            blocks_root_hash: Hash::sha256(salt).to_vec(),
            ..Default::default()
        };
        aergo_crypto::sign_block(h, vec![], &key).unwrap().header.unwrap()
    };
    let evidence = |first: BlockHeader, second: BlockHeader| Evidence {
        double_block: Some(DoubleBlock { first: Some(first), second: Some(second) }),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, e: &Evidence| {
        let path = dir.path().join(name);
        std::fs::write(&path, e.to_hex()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good = file("good.hex", &evidence(header(b"a"), header(b"b")));
    let mut tampered = header(b"b");
    tampered.block_no += 1;
    let forged = file("forged.hex", &evidence(header(b"a"), tampered));

    // Forged evidence is refused at admission, with the reason.
    let url4 = h.rpc(PRODUCERS);
    let e = refused_at(&url4, &["evidence", "submit", &forged, "--from", "dev:2"], 5);
    assert_eq!(e["reason"], "EVIDENCE_REJECTED", "{e}");
    assert!(e["message"].as_str().unwrap().contains("signature"), "{e}");

    let sent = cli_at(&url4, &["evidence", "submit", &good, "--from", "dev:2", "--wait"]);
    assert_eq!(sent["receipt"]["status"], "SUCCESS", "{sent}");
    assert_eq!(sent["call"], "v1evidence");
    let at = u64_of(&sent["receipt"], "blockHeight");
    // Every node: the offence, the cut stake, and node2 out of the set.
    let slashed_stake = 45 * 10u128.pow(18);
    h.wait_for("every node to record the offence and drop node2 from the set", |h| {
        (0..PRODUCERS + CANDIDATES)
            .all(|i| {
                let o = cli_at(&h.rpc(i), &["evidence", "list"]);
                let bp = cli_at(&h.rpc(i), &["bp", "list"]);
                let stake = cli_at(&h.rpc(i), &["stake", "show", &account]);
                o["offences"].as_array().is_some_and(|l| l.len() == 1 && l[0]["producer"] == peer.as_str())
                    && !bp["producers"].as_array().unwrap().iter().any(|p| p["peerId"] == peer.as_str())
                    && aer(&stake["amount"]) == slashed_stake
            })
            .then_some(())
    });
    let o = cli_at(&url0, &["evidence", "list"]);
    assert_eq!(
        (o["offences"][0]["kind"].as_str(), o["offences"][0]["height"].as_u64()),
        (Some("double_block"), Some(at))
    );
    assert_eq!(aer(&o["offences"][0]["slashed"]), 5 * 10u128.pow(18), "{o}");
    assert_eq!(aer(&o["burned"]), 45 * 10u128.pow(17), "{o}");
    let text = aergo(&["--rpc", &url0, "evidence", "list"]);
    assert!(text.ok && text.stdout.contains("double_block by") && text.stdout.contains(&peer), "{}", text.stdout);

    // The same evidence again: refused, nothing changes.
    let e = refused_at(&url0, &["evidence", "submit", &good, "--from", "dev:3"], 5);
    assert_eq!(e["reason"], "EVIDENCE_REJECTED", "{e}");
    assert!(e["message"].as_str().unwrap().contains("was punished at height"), "{e}");

    // Three producers go on and finalize past the change.
    h.wait_for("blocks and a LIB past the conviction without node2", |h| {
        let s = h.status();
        (s[0]["lib"].as_u64().unwrap_or(0) > at + 3).then_some(())
    });
    assert_eq!(h.status()[convicted]["role"], "follower");
}

#[test]
fn horde_refuses_bad_settings_and_foreign_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let e = aergo_fails(&["horde", "up", "--dir", d, "--nodes", "0"]);
    assert!(e.contains("--nodes") && e.contains("1..=32"), "{e}");
    let e = aergo_fails(&["horde", "up", "--dir", d, "--base-port", "65530"]);
    assert!(e.contains("--base-port"), "{e}");
    let e = aergo_fails(&["horde", "up", "--dir", d, "--min-stake", "lots"]);
    assert!(e.contains("amount"), "{e}");
    // Nothing was written by the refusals above.
    assert!(!dir.join("horde.json").exists());

    // A folder with other things in it is not taken over.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let e = aergo_fails(&["horde", "up", "--dir", d]);
    assert!(e.contains("not empty"), "{e}");
    for cmd in ["status", "down"] {
        let e = aergo_fails(&["horde", cmd, "--dir", d]);
        assert!(e.contains("no network here"), "{cmd}: {e}");
    }
    let e = aergo_fails(&["horde", "status", "--dir", tmp.path().join("missing").to_str().unwrap()]);
    assert!(e.contains("missing"), "{e}");
    let r = aergo(&["--json", "horde", "stop", "--dir", d, "node0"]);
    assert!(!r.ok);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("no network here"), "{}", r.stdout);
}
