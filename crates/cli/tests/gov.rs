//! End to end: the staking and voting commands against a dev node (a solo
//! chain, where `aergo.system` calls cannot apply): mistakes are refused
//! before anything is sent, a call the chain cannot apply is reported at
//! once (dropped or rejected) instead of being waited out, and nothing
//! changes. The DPoS side is in `tests/horde.rs`.

mod common;

use common::*;

#[test]
fn governance_mistakes_are_refused_and_a_solo_chain_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.as_str();
    let before = aergo_json(&["--rpc", url, "--json", "balance", "dev:0"]);
    let peer = aergo_crypto::dev_key("peer", 0).public_key().peer_id();

    // Refused before sending: arguments the chain would never accept.
    let e = aergo_fails(&["--rpc", url, "vote", "--from", "dev:0", "16Uiu2HAmNotAPeer"]);
    assert!(e.contains("peer id"), "{e}");
    let e = aergo_fails(&["--rpc", url, "vote", "--from", "dev:0", &peer, &peer]);
    assert!(e.contains("named twice"), "{e}");
    let many: Vec<String> = (0..31).map(|i| aergo_crypto::dev_key("peer", i).public_key().peer_id()).collect();
    let mut args = vec!["--rpc", url, "vote", "--from", "dev:0"];
    args.extend(many.iter().map(String::as_str));
    assert!(aergo_fails(&args).contains("1..=30"));
    let e = aergo_fails(&["--rpc", url, "param", "vote", "--from", "dev:0", "BLOCKSIZE", "5"]);
    assert!(e.contains("BPCOUNT, STAKINGMIN, GASPRICE, NAMEPRICE, STAKINGLOCK"), "{e}");
    let e = aergo_fails(&["--rpc", url, "param", "vote", "--from", "dev:0", "BPCOUNT", "101"]);
    assert!(e.contains("1..=100"), "{e}");
    let e = aergo_fails(&["--rpc", url, "stake", "--from", "dev:0", "--amount", "0 aergo"]);
    assert!(e.contains("more than zero"), "{e}");
    let e = aergo_fails(&["--rpc", url, "stake", "--from", "dev:0", "--amount", "2000000 aergo"]);
    assert!(e.contains("the balance is 1000000 aergo, less than the 2000000 aergo to stake"), "{e}");
    let e = aergo_fails(&["stake", "--amount", "1 aergo"]);
    assert!(e.contains("--from"), "{e}");

    // Sent, but a solo chain has no staking: the node refuses it at once or
    // drops it when it builds a block; either way --wait says so quickly.
    let started = std::time::Instant::now();
    let r = aergo(&["--rpc", url, "--json", "stake", "--from", "dev:0", "--amount", "10 aergo", "--wait"]);
    assert!(!r.ok, "{}", r.stdout);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("dropped by the node without a receipt") || message.contains("-32000"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "reported in {:?}", started.elapsed());
    let after = aergo_json(&["--rpc", url, "--json", "balance", "dev:0"]);
    assert_eq!((&after["balance"], &after["nonce"]), (&before["balance"], &before["nonce"]));

    // The DPoS reads say what is missing rather than failing obscurely.
    let r = aergo(&["--rpc", url, "bp", "list"]);
    assert!(r.ok || r.stderr.contains("DPoS"), "{}", r.stderr);
}
