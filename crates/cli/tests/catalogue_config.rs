//! The bad-input catalogue, configuration door: data directories whose
//! `config.toml`, `genesis.json` or `node.key` is wrong (unknown keys,
//! wrong types, zeros, huge values, bad addresses, inconsistent
//! allocations). Each case starts from a valid directory, breaks one file,
//! runs `aergo node --dir DIR`, and expects the refusal: exit status 1, a
//! message naming the problem, and the directory exactly as it was (no
//! chain store, no file touched). A node that starts anyway is a failed
//! case (it is killed at once).
//!
//! Run it alone with `cargo test -p aergo-cli --test catalogue_config`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aergo_crypto::{dev_genesis, dev_key};
use aergo_node::{init_data_dir, InitOptions, NodeConfig};
use aergo_types::{Amount, ChainId};
use common::AERGO;
use serde_json::{json, Value};

/// A node that has not refused its directory within this time has started.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Which file a case breaks, and how.
enum Break {
    /// `config.toml` with this text.
    Config(&'static str),
    /// `genesis.json` edited as JSON.
    Genesis(fn(&mut Value)),
    /// `genesis.json` with this text.
    GenesisText(String),
    /// `node.key` with this text (`None`: removed).
    NodeKey(Option<&'static str>),
}

struct Case {
    name: &'static str,
    input: Break,
    /// A fragment of the error message.
    fragment: &'static str,
}

fn case(name: &'static str, input: Break, fragment: &'static str) -> Case {
    Case { name, input, fragment }
}

fn config(text: &'static str) -> Break {
    Break::Config(text)
}

fn genesis(edit: fn(&mut Value)) -> Break {
    Break::Genesis(edit)
}

/// Every file under `dir` with its bytes.
fn listing(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A valid, never-started data directory of a small solo chain.
fn valid_dir(dir: &Path) {
    let (g, _) =
        dev_genesis(ChainId::dev(), 1_700_000_000_000_000_000, 2, Amount::from_aergo(1_000).unwrap(), Vec::new())
            .unwrap();
    init_data_dir(dir, InitOptions { genesis: g, node_key: dev_key("node", 0), config: NodeConfig::default() })
        .unwrap();
}

/// What `aergo node --dir DIR` did.
struct Outcome {
    started: bool,
    code: Option<i32>,
    stderr: String,
}

/// Runs `aergo node --dir DIR` until it exits or prints its RPC address
/// (then kills it).
fn run_node(dir: &Path, extra: &[&str]) -> Outcome {
    let mut child = Command::new(AERGO)
        .args(["node", "--dir"])
        .arg(dir)
        .args(["--rpc-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("rpc listening on") {
                let _ = tx.send(());
            }
        }
    });
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if rx.try_recv().is_ok() || Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            return Outcome {
                started: true,
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into(),
            };
        }
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Outcome {
                started: false,
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into(),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cases() -> Vec<Case> {
    vec![
        // config.toml: form.
        case("config: not TOML", config("this is = = not toml"), "TOML parse error at line 1, column 6"),
        case("config: unknown section", config("[rpcc]\nlisten = \"127.0.0.1:1\"\n"), "unknown field `rpcc`"),
        case("config: unknown key", config("[rpc]\nlistn = \"127.0.0.1:1\"\n"), "unknown field `listn`"),
        case("config: wrong type", config("[rpc]\nmax_batch_len = \"ten\"\n"), "invalid type: string \"ten\""),
        case("config: negative count", config("[pool]\nmax_txs = -1\n"), "invalid value: integer `-1`"),
        case("config: bad listen address", config("[rpc]\nlisten = \"nowhere:80\"\n"), "invalid socket address"),
        case(
            "config: number beyond 64 bits",
            config("[rpc]\nmax_request_bytes = 99999999999999999999\n"),
            "number too large to fit in target type",
        ),
        // config.toml: values no node can run with.
        case(
            "config: zero connections",
            config("[rpc]\nmax_connections = 0\n"),
            "rpc.max_connections must be at least 1",
        ),
        case(
            "config: zero header timeout",
            config("[rpc]\nheader_timeout_ms = 0\n"),
            "rpc.header_timeout_ms must be at least 1",
        ),
        case(
            "config: zero request bytes",
            config("[rpc]\nmax_request_bytes = 0\n"),
            "rpc.max_request_bytes must be at least 1",
        ),
        case("config: zero batch length", config("[rpc]\nmax_batch_len = 0\n"), "rpc.max_batch_len must be at least 1"),
        case(
            "config: zero response bytes",
            config("[rpc]\nmax_response_bytes = 0\n"),
            "rpc.max_response_bytes must be at least 1",
        ),
        case(
            "config: per-client bound above the total",
            config("[rpc]\nmax_requests_in_flight = 8\nmax_requests_per_client = 9\n"),
            "exceeds rpc.max_requests_in_flight (8)",
        ),
        case("config: zero pool size", config("[pool]\nmax_txs = 0\n"), "pool.max_txs must be at least 1"),
        case(
            "config: zero pool slots per account",
            config("[pool]\nmax_per_account = 0\n"),
            "pool.max_per_account must be at least 1",
        ),
        case(
            "config: zero transactions per block",
            config("[producer]\nmax_block_txs = 0\n"),
            "producer.max_block_txs must be at least 1",
        ),
        case("config: zero query gas", config("[query]\ngas_limit = 0\n"), "query.gas_limit must be at least 1"),
        case(
            "config: zero block interval",
            config("[solo]\nblock_interval_ms = 0\n"),
            "solo.block_interval_ms is 0, expected 50..=3600000",
        ),
        case(
            "config: huge block interval",
            config("[solo]\nblock_interval_ms = 9223372036854775807\n"),
            "solo.block_interval_ms is 9223372036854775807",
        ),
        case(
            "config: bad p2p listen address",
            config("[p2p]\nenabled = true\nlisten = \"127.0.0.1:7846\"\n"),
            "p2p.listen",
        ),
        case(
            "config: bad bootstrap address",
            config(
                "[p2p]\nenabled = true\nlisten = \"/ip4/127.0.0.1/tcp/0\"\nbootstrap = [\"/ip4/127.0.0.1/tcp/1\"]\n",
            ),
            "p2p.bootstrap",
        ),
        case(
            "config: zero peers",
            config("[p2p]\nenabled = true\nlisten = \"/ip4/127.0.0.1/tcp/0\"\nmax_peers = 0\n"),
            "p2p.max_peers is 0, expected 1..=10000",
        ),
        // genesis.json.
        case("genesis: not JSON", Break::GenesisText("{ not json".into()), "invalid JSON"),
        case("genesis: unknown key", genesis(|g| g["extra"] = json!(1)), "unknown field `extra`"),
        case("genesis: wrong type", genesis(|g| g["timestamp"] = json!("now")), "invalid type: string \"now\""),
        case("genesis: negative timestamp", genesis(|g| g["timestamp"] = json!(-1)), "before 1970"),
        case(
            "genesis: bad address",
            genesis(|g| g["allocation"]["team"][0]["address"] = json!("AmNotAnAddress")),
            "address \"AmNotAnAddress\": bad base58check checksum",
        ),
        case(
            "genesis: zero grant",
            genesis(|g| {
                let team = g["allocation"]["team"][0].clone();
                let mut zero = team.clone();
                zero["address"] = g["allocation"]["sale"][0]["address"].clone();
                zero["amount"] = json!("0");
                g["allocation"]["team"] = json!([team, zero]);
                g.as_object_mut().unwrap().remove("balance");
            }),
            "is zero",
        ),
        case(
            "genesis: category over its share",
            genesis(|g| {
                g["allocation"]["team"][0]["amount"] = json!("25000001 aergo");
                g.as_object_mut().unwrap().remove("balance");
            }),
            "must total exactly",
        ),
        case(
            "genesis: amount beyond 128 bits",
            genesis(|g| g["allocation"]["team"][0]["amount"] = json!("999999999999999999999999999999999999999999")),
            "does not fit in 128 bits of aer",
        ),
        case(
            "genesis: balance contradicts the allocation",
            genesis(|g| {
                let (addr, _) =
                    g["balance"].as_object().unwrap().iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
                g["balance"][addr] = json!("1");
            }),
            "balance does not match the allocation",
        ),
        case(
            "genesis: a category missing",
            genesis(|g| {
                g["allocation"].as_object_mut().unwrap().remove("reserve");
                g.as_object_mut().unwrap().remove("balance");
            }),
            "allocation category reserve is missing",
        ),
        case("genesis: empty chain magic", genesis(|g| g["chain_id"]["magic"] = json!("")), "chain id: magic is empty"),
        case(
            "genesis: dpos section on a solo chain",
            genesis(|g| g["dpos"] = json!({"block_interval_ms": 1000})),
            "a dpos section needs consensus \"dpos\"",
        ),
        case(
            "genesis: dpos chain without producers",
            genesis(|g| g["chain_id"]["consensus"] = json!("dpos")),
            "needs 1..=100 initial producers",
        ),
        case(
            "genesis: dpos slot of zero",
            genesis(|g| {
                g["chain_id"]["consensus"] = json!("dpos");
                g["bps"] = json!([dev_key("bp", 0).public_key().peer_id()]);
                g["dpos"] = json!({"block_interval_ms": 0});
            }),
            "dpos.block_interval_ms is 0",
        ),
        case(
            "genesis: unknown consensus",
            genesis(|g| g["chain_id"]["consensus"] = json!("pow")),
            "unknown consensus \"pow\": expected one of sbp, dpos, raft",
        ),
        case(
            "genesis: file over 16 MiB",
            Break::GenesisText(format!("{{\"pad\": \"{}\"}}", "x".repeat(17 << 20))),
            "exceeds the limit of 16777216 bytes",
        ),
        // node.key.
        case("node key: not hex", Break::NodeKey(Some("not a key")), "node.key: not hex"),
        case("node key: zero", Break::NodeKey(Some(ZERO_KEY)), "zero or not below the curve order"),
        case("node key: missing", Break::NodeKey(None), "node.key: cannot read"),
    ]
}

/// The `error:` line of `stderr` if it says one cause twice.
fn repeated_cause(stderr: &str) -> Option<&str> {
    let line = stderr.lines().find(|l| l.starts_with("error: "))?;
    let parts: Vec<&str> = line.split(": ").filter(|p| p.len() > 12).collect();
    let repeated = parts.iter().enumerate().any(|(i, p)| parts[..i].contains(p));
    repeated.then_some(line)
}

const ZERO_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn apply(dir: &Path, b: &Break) {
    match b {
        Break::Config(text) => std::fs::write(dir.join("config.toml"), text).unwrap(),
        Break::Genesis(edit) => {
            let path = dir.join("genesis.json");
            let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            edit(&mut g);
            std::fs::write(path, serde_json::to_string_pretty(&g).unwrap()).unwrap();
        }
        Break::GenesisText(text) => std::fs::write(dir.join("genesis.json"), text).unwrap(),
        Break::NodeKey(Some(text)) => std::fs::write(dir.join("node.key"), text).unwrap(),
        Break::NodeKey(None) => std::fs::remove_file(dir.join("node.key")).unwrap(),
    }
}

#[test]
fn the_configuration_door_refuses_bad_files_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        valid_dir(&dir);
        apply(&dir, &c.input);
        let before = listing(&dir);
        let out = run_node(&dir, &[]);
        let after = listing(&dir);
        if std::env::var_os("CATALOGUE_VERBOSE").is_some() {
            println!("{}: {:?} {}", c.name, out.code, out.stderr.trim());
        }
        let mut wrong = Vec::new();
        if out.started {
            wrong.push("the node started".to_string());
        }
        if out.code != Some(1) {
            wrong.push(format!("exit status {:?}, expected 1", out.code));
        }
        if !out.stderr.contains(c.fragment) {
            wrong.push(format!("stderr lacks {:?}", c.fragment));
        }
        if let Some(line) = repeated_cause(&out.stderr) {
            wrong.push(format!("a cause is repeated: {line}"));
        }
        if before != after {
            let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
            let changed: Vec<_> =
                after.keys().filter(|k| before.get(*k).is_some_and(|b| Some(b) != after.get(*k))).collect();
            wrong.push(format!("the directory changed: added {added:?}, changed {changed:?}"));
        }
        if !wrong.is_empty() {
            let stderr: String = out.stderr.chars().take(600).collect();
            failures.push(format!("{}: {}\nstderr: {stderr}", c.name, wrong.join("; ")));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    // Two more doors into the same files: a directory that was never
    // initialised, and `--dev` on a directory of another chain.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run_node(&empty, &[]);
    if out.started || out.code != Some(1) || !out.stderr.contains("is not initialised: run `aergo init") {
        failures.push(format!("uninitialised dir: {:?} {}", out.code, out.stderr));
    }
    if !listing(&empty).is_empty() {
        failures.push("uninitialised dir: files written".into());
    }
    let other = tmp.path().join("other");
    valid_dir(&other);
    let before = listing(&other);
    let out = run_node(&other, &["--dev"]);
    if out.started || out.code != Some(1) || !out.stderr.contains("holds a chain other than the dev chain") {
        failures.push(format!("--dev on another chain: {:?} {}", out.code, out.stderr));
    }
    if listing(&other) != before {
        failures.push("--dev on another chain: the directory changed".into());
    }
    // A new dev directory with a block interval out of range: nothing is
    // created.
    let fresh = tmp.path().join("fresh-dev");
    let out = run_node(&fresh, &["--dev", "--block-interval-ms", "0"]);
    if out.started || out.code != Some(1) || !out.stderr.contains("solo.block_interval_ms is 0, expected 50..=3600000")
    {
        failures.push(format!("--dev with a zero interval: {:?} {}", out.code, out.stderr));
    }
    if fresh.exists() && !listing(&fresh).is_empty() {
        failures.push(format!("--dev with a zero interval: wrote {:?}", listing(&fresh).keys().collect::<Vec<_>>()));
    }
    // `aergo init --genesis` with a genesis that does not validate: no
    // directory is made.
    let bad = tmp.path().join("bad-genesis.json");
    let mut g: Value = serde_json::from_str(&std::fs::read_to_string(other.join("genesis.json")).unwrap()).unwrap();
    g["timestamp"] = json!(-5);
    std::fs::write(&bad, g.to_string()).unwrap();
    let target = tmp.path().join("never-made");
    let r = common::aergo(&["init", "--dir", target.to_str().unwrap(), "--genesis", bad.to_str().unwrap()]);
    if r.code != Some(1) || !r.stderr.contains("timestamp -5 is before 1970") || target.exists() {
        failures.push(format!("init with a bad genesis: {:?} {} (dir made: {})", r.code, r.stderr, target.exists()));
    }
    println!("catalogue_config: {} cases", cases.len() + 4);
    assert!(failures.is_empty(), "{} of the cases failed:\n{}", failures.len(), failures.join("\n\n"));
}
