//! The official Aergo SDKs against a real node process over gRPC: the
//! Python SDK (aergo-herapy 2.0.2) and the JavaScript SDK (@herajs/client
//! 2.1.3 with @herajs/crypto, in Node.js). Each runs its script in `sdk/`
//! (status, blocks, an account, a signed transfer and its receipt, the
//! whitepaper contract deployed, called, queried, its events, the block
//! stream) and must print its final `OK` line.
//!
//! The SDKs are installed by `.ci/sdk-setup`, which `.ci/run` calls; it
//! exports `AERGO_SDK_PYTHON` (a Python with herapy) and
//! `AERGO_SDK_NODE_PATH` (a `node_modules` with herajs). Without them the
//! tests say so and pass, unless `AERGO_REQUIRE_SDKS=1` (set by CI), where
//! a missing SDK fails the test.

mod common;

use std::path::PathBuf;
use std::process::Command;

use aergo_client::keys::dev_account;
use common::NodeProc;

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
}

/// The program named by `var`, or `None` (and why) when the SDK is absent.
fn tool(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            let required = std::env::var("AERGO_REQUIRE_SDKS").is_ok_and(|v| v == "1");
            assert!(!required, "{var} is not set and AERGO_REQUIRE_SDKS=1: run .ci/sdk-setup first");
            eprintln!("SKIPPED: {var} is not set (run .ci/sdk-setup to install the SDKs)");
            None
        }
    }
}

/// Runs one SDK script against a fresh dev node; its output must end with
/// `expect_last`.
fn run_script(mut cmd: Command, script: &str, expect_last: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let key = dev_account(0).unwrap();
    let recipient = dev_account(1).unwrap().address().to_string();
    let out = cmd
        .arg(sdk_dir().join(script))
        .arg(node.grpc_addr())
        .arg(hex::encode(key.to_bytes()))
        .arg(&recipient)
        .arg(sdk_dir().join("whitepaper.sql"))
        .output()
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().last() == Some(expect_last),
        "{script} failed ({}):\n{stdout}\n{stderr}\nnode log:\n{}",
        out.status,
        node.stderr()
    );
}

#[test]
fn the_python_sdk_herapy_works_against_the_node() {
    let Some(python) = tool("AERGO_SDK_PYTHON") else { return };
    run_script(Command::new(python), "herapy_e2e.py", "HERAPY OK");
}

#[test]
fn the_javascript_sdk_herajs_works_against_the_node() {
    let Some(node_path) = tool("AERGO_SDK_NODE_PATH") else { return };
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", node_path);
    run_script(cmd, "herajs_e2e.js", "HERAJS OK");
}
