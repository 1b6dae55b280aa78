//! End to end: `aergo init` makes a chain a non-dev node runs, whose
//! treasury key (in the keystore) signs; the keystore commands round-trip
//! keys through exported text and key files.

mod common;

use aergo_types::Amount;
use common::*;

#[test]
fn init_then_node_then_send_from_the_keystore_treasury() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chain");
    let d = dir.to_str().unwrap();
    let e = aergo_fails(&["init", "--dir", d]);
    assert!(e.contains("stdin is not a terminal") && e.contains("--password"), "{e}");
    let made = aergo_json(&["--json", "init", "--dir", d, "--chain-id", "test.chain", "--password", "treasury-pw"]);
    let treasury = made["treasury"].as_str().unwrap().to_string();
    assert_eq!(made["chainId"], "test.chain/sbp");
    let e = aergo_fails(&["init", "--dir", d, "--password", "x"]);
    assert!(e.contains("already initialised"), "{e}");
    let e = aergo_fails(&["node", "--dir", tmp.path().join("nothing").to_str().unwrap()]);
    assert!(e.contains("not initialised") && e.contains("aergo init"), "{e}");

    let node = NodeProc::start(&dir, &[]);
    let status = aergo_json(&["--rpc", &node.url, "--json", "status"]);
    assert_eq!(status["chainId"]["magic"], "test.chain");
    assert_eq!(status["producer"], made["producer"]);
    let b = aergo_json(&["--rpc", &node.url, "--json", "balance", &treasury]);
    assert_eq!(aer(&b["balance"]), Amount::TOTAL_SUPPLY.aer());

    // The treasury signs from the data directory's keystore.
    let fresh = aergo_client::keys::dev_account(7).unwrap().address().to_string();
    let e = aergo_fails(&[
        "--rpc",
        &node.url,
        "send",
        "--from",
        &treasury,
        "--to",
        &fresh,
        "--amount",
        "1 aergo",
        "--dir",
        d,
        "--password",
        "wrong",
    ]);
    assert!(e.contains("wrong passphrase"), "{e}");
    let r = aergo(&[
        "--rpc",
        &node.url,
        "--json",
        "send",
        "--from",
        &treasury,
        "--to",
        &fresh,
        "--amount",
        "10 aergo",
        "--dir",
        d,
        "--password",
        "treasury-pw",
        "--wait",
    ]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("signing with the key in"), "{}", r.stderr);
    assert_eq!(r.json()["receipt"]["status"], "SUCCESS");
    let b = aergo_json(&["--rpc", &node.url, "--json", "balance", &fresh]);
    assert_eq!(aer(&b["balance"]), Amount::from_aergo(10).unwrap().aer());
}

#[test]
fn account_new_list_export_import_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let ks1 = tmp.path().join("ks1");
    let ks2 = tmp.path().join("ks2");
    let ks3 = tmp.path().join("ks3");
    let (k1, k2, k3) = (ks1.to_str().unwrap(), ks2.to_str().unwrap(), ks3.to_str().unwrap());

    let e = aergo_fails(&["account", "new", "--keystore", k1]);
    assert!(e.contains("stdin is not a terminal"), "{e}");
    let made = aergo_json(&["--json", "account", "new", "--keystore", k1, "--password", "pw1"]);
    let address = made["address"].as_str().unwrap().to_string();
    let list = aergo_json(&["--json", "account", "list", "--keystore", k1]);
    assert_eq!(list["accounts"], serde_json::json!([address.clone()]));

    // Exported text, re-encrypted under its own passphrase, into another keystore.
    let exported = aergo_json(&[
        "--json",
        "account",
        "export",
        &address,
        "--keystore",
        k1,
        "--password",
        "pw1",
        "--export-password",
        "xp",
    ]);
    let text = exported["exported"].as_str().unwrap();
    let e = aergo_fails(&[
        "account",
        "import",
        "--exported",
        text,
        "--keystore",
        k2,
        "--password",
        "pw2",
        "--export-password",
        "nope",
    ]);
    assert!(e.contains("cannot decrypt"), "{e}");
    let imported = aergo_json(&[
        "--json",
        "account",
        "import",
        "--exported",
        text,
        "--keystore",
        k2,
        "--password",
        "pw2",
        "--export-password",
        "xp",
    ]);
    assert_eq!(imported["address"].as_str(), Some(address.as_str()));

    // The key file as stored, into a third keystore (same passphrase).
    let file = aergo(&["account", "export", &address, "--keystore", k2, "--keyfile"]);
    assert!(file.ok, "{}", file.stderr);
    let path = tmp.path().join("key.json");
    std::fs::write(&path, &file.stdout).unwrap();
    let again = aergo_json(&[
        "--json",
        "account",
        "import",
        "--keyfile",
        path.to_str().unwrap(),
        "--keystore",
        k3,
        "--password",
        "pw2",
    ]);
    assert_eq!(again["address"].as_str(), Some(address.as_str()));
    let e =
        aergo_fails(&["account", "import", "--keyfile", path.to_str().unwrap(), "--keystore", k3, "--password", "pw2"]);
    assert!(e.contains("already exists"), "{e}");

    // A clear key imports too, and everything lists sorted.
    let dev = aergo_client::keys::dev_account(3).unwrap();
    let k = hex::encode(dev.to_bytes());
    let added = aergo_json(&["--json", "account", "import", "--key", &k, "--keystore", k3, "--password", "pw2"]);
    assert_eq!(added["address"].as_str(), Some(dev.address().to_string().as_str()));
    let list = aergo_json(&["--json", "account", "list", "--keystore", k3]);
    let mut want = vec![address, dev.address().to_string()];
    want.sort();
    assert_eq!(list["accounts"], serde_json::json!(want));
    let e = aergo_fails(&["account", "import", "--keystore", k3, "--password", "pw2"]);
    assert!(e.contains("nothing to import"), "{e}");
}
