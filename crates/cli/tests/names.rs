//! End to end: the name service (`aergo.name`) through the CLI and the
//! JSON-RPC of a dev node process. Register a name, read it, send AERGO to
//! it, hand it over; and the refusals (a taken name, a malformed one, an
//! update by a stranger, a transfer to an unknown name), each with its
//! reason code and nothing changed; `aergo diff` shows the handover.

mod common;

use aergo_client::exit;
use aergo_client::keys::dev_account;
use common::*;
use serde_json::Value;

fn cli(url: &str, args: &[&str]) -> Value {
    cli_at(url, args)
}

/// A command that must fail with exit status `code`; its JSON error.
fn refused(url: &str, args: &[&str], code: u8) -> Value {
    refused_at(url, args, code)
}

fn balance(url: &str, who: &str) -> u128 {
    aer(&cli(url, &["balance", who])["balance"])
}

#[test]
fn names_register_resolve_and_change_hands_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = node.url.clone();
    let (a0, a3) = (dev_account(0).unwrap().address().to_string(), dev_account(3).unwrap().address().to_string());

    let made = cli(&url, &["name", "new", "alice1234567", "--from", "dev:0", "--wait"]);
    assert_eq!(made["receipt"]["status"], "SUCCESS", "{made}");
    assert_eq!(made["amount"], "1000000000000000000", "the default price is 1 aergo");
    let owner = cli(&url, &["name", "owner", "alice1234567"]);
    assert_eq!((owner["owner"].as_str(), owner["destination"].as_str()), (Some(a0.as_str()), Some(a0.as_str())));

    // A transfer to the name reaches its owner.
    let before = balance(&url, "dev:0");
    let sent = cli(&url, &["send", "--from", "dev:1", "--to", "alice1234567", "--amount", "5 aergo", "--wait"]);
    assert_eq!(sent["receipt"]["status"], "SUCCESS", "{sent}");
    assert_eq!(balance(&url, "dev:0") - before, 5_000_000_000_000_000_000);

    // Refusals, each with its code, and the record unchanged.
    let e = refused(&url, &["name", "new", "alice1234567", "--from", "dev:2"], exit::REJECTED);
    assert_eq!(e["reason"], "NAME_REJECTED", "{e}");
    assert!(e["message"].as_str().unwrap().contains("taken"), "{e}");
    let e = refused(&url, &["name", "new", "short", "--from", "dev:2"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("exactly 12"), "{e}");
    let e = refused(&url, &["name", "new", "bob123456789", "--from", "dev:2", "--amount", "1 gaer"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("below the name price"), "{e}");
    let e = refused(&url, &["name", "update", "alice1234567", "--to", "dev:2", "--from", "dev:2"], exit::REJECTED);
    assert!(e["message"].as_str().unwrap().contains("only its owner"), "{e}");
    let e = refused(&url, &["send", "--from", "dev:1", "--to", "nobody123456", "--amount", "1 aer"], exit::REJECTED);
    assert_eq!(e["reason"], "UNKNOWN_NAME", "{e}");
    refused(&url, &["name", "owner", "nobody123456"], exit::NOT_FOUND);
    assert_eq!(cli(&url, &["name", "owner", "alice1234567"])["owner"].as_str(), Some(a0.as_str()));

    // The owner hands it over; the old record stays readable at its height.
    let handed = cli(&url, &["name", "update", "alice1234567", "--to", "dev:3", "--from", "dev:0", "--wait"]);
    assert_eq!(handed["receipt"]["status"], "SUCCESS", "{handed}");
    assert_eq!(cli(&url, &["name", "owner", "alice1234567"])["owner"].as_str(), Some(a3.as_str()));
    let then = made["receipt"]["blockHeight"].as_u64().unwrap().to_string();
    assert_eq!(cli(&url, &["name", "owner", "alice1234567", "--at", &then])["owner"].as_str(), Some(a0.as_str()));

    // `aergo diff` between the registration and the handover shows the
    // name's row changing hands, and nothing else in sys.names.
    let now = handed["receipt"]["blockHeight"].as_u64().unwrap().to_string();
    let d = cli(&url, &["diff", &then, &now, "--table", "sys.names"]);
    let rows = d["relations"][0]["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{d}");
    assert_eq!((rows[0]["old"][1].as_str(), rows[0]["new"][1].as_str()), (Some(a0.as_str()), Some(a3.as_str())), "{d}");
    let created = cli(&url, &["diff", "0", &then, "--table", "sys.names"]);
    assert_eq!(created["relations"][0]["change"], "created", "{created}");
}
