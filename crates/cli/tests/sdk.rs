//! The official Aergo SDKs against a real node process over gRPC: the
//! Python SDK (aergo-herapy 2.0.2) and the JavaScript SDK (@herajs/client
//! 2.1.3 with @herajs/crypto, in Node.js). Each runs its script in `sdk/`
//! (status, blocks, an account, a signed transfer and its receipt, the
//! whitepaper contract deployed, called, queried, its events, the block
//! stream) and must print its final `OK` line.
//!
//! A third test loads herajs's browser build in headless Chromium (driven
//! by playwright-core) from a page on one loopback port, which calls the
//! node's gRPC port from another origin, as a wallet or explorer page
//! does: herajs's browser provider speaks gRPC-web over WebSocket.
//!
//! The SDKs are installed by `.ci/sdk-setup`, which `.ci/run` calls; it
//! exports `AERGO_SDK_PYTHON` (a Python with herapy),
//! `AERGO_SDK_NODE_PATH` (a `node_modules` with herajs) and
//! `AERGO_CHROMIUM` (the browser). Without them the tests say so and pass,
//! unless `AERGO_REQUIRE_SDKS=1` (set by CI), where a missing one fails.

mod common;

use std::path::PathBuf;
use std::process::Command;

use aergo_client::keys::dev_account;
use common::{tool, NodeProc};

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
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

/// Serves `files` (name, content type, bytes) over HTTP/1.0 on a loopback
/// port until the process ends; returns the port.
fn serve_files(files: Vec<(&'static str, &'static str, Vec<u8>)>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let name = path.trim_start_matches('/').split('?').next().unwrap_or("");
            let reply = match files.iter().find(|(n, _, _)| *n == name) {
                Some((_, ty, body)) => {
                    let mut r =
                        format!("HTTP/1.0 200 OK\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n\r\n", body.len())
                            .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&reply);
        }
    });
    port
}

#[test]
fn the_javascript_sdk_speaks_grpc_web_from_a_real_browser() {
    let Some(node_path) = tool("AERGO_SDK_NODE_PATH") else { return };
    let Some(chromium) = tool("AERGO_CHROMIUM") else { return };
    let herajs = std::fs::read(PathBuf::from(&node_path).join("@herajs/client/dist/herajs.js"))
        .expect("herajs's browser build (dist/herajs.js)");
    let page = std::fs::read(sdk_dir().join("browser/grpc-web.html")).unwrap();
    let port = serve_files(vec![
        ("grpc-web.html", "text/html; charset=utf-8", page),
        ("herajs.js", "application/javascript", herajs),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    let url = format!("http://127.0.0.1:{port}/grpc-web.html?grpc=http://{}", node.grpc_addr());
    // Chromium through playwright-core in real time: herajs's browser
    // provider calls over WebSockets, which --dump-dom's virtual time does
    // not wait for.
    let out = Command::new("node")
        .env("NODE_PATH", &node_path)
        .arg(sdk_dir().join("browser/run-page.js"))
        .arg(&chromium)
        .arg(&url)
        .arg("30000")
        .output()
        .expect("run node");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("BROWSER OK height="),
        "the page did not report success:\n{dom}\nstderr:\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.stderr()
    );
    assert!(dom.contains("magic=dev.chain"), "{dom}");
}
