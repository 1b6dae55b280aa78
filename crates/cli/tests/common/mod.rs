//! Shared helpers of the end-to-end tests: real `aergo` processes on
//! loopback ports, the CLI run as a subprocess, and JSON-RPC over HTTP.
#![allow(dead_code)]

pub mod horde;
pub mod load;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aergo_client::client::RpcClient;
use serde_json::Value;

pub const AERGO: &str = env!("CARGO_BIN_EXE_aergo");
/// Block interval of test nodes: short, but not so short that a slow CI
/// box spends its time sealing blocks.
pub const BLOCK_INTERVAL_MS: &str = "100";
/// Generous: the CI box has two slow, shared cores.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
pub const WAIT_MS: u64 = 30_000;

/// A node process. Killed (SIGKILL) when dropped.
pub struct NodeProc {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub stderr_path: PathBuf,
    /// Lines printed on stdout at startup.
    pub banner: Vec<String>,
}

impl NodeProc {
    /// Where the node's gRPC server listens (`HOST:PORT`), from its banner.
    pub fn grpc_addr(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("grpc listening on "))
            .unwrap_or_else(|| panic!("the node printed no gRPC address: {:?}", self.banner))
            .trim()
            .to_string()
    }

    /// `aergo node --dev --dir DIR` on a free loopback port.
    pub fn dev(dir: &Path) -> NodeProc {
        NodeProc::start(dir, &["--dev"])
    }

    /// `aergo node --dir DIR <extra>` on a free loopback port.
    pub fn start(dir: &Path, extra: &[&str]) -> NodeProc {
        NodeProc::start_logging(dir, extra, "info")
    }

    /// As [`NodeProc::start`], with `RUST_LOG=<log>` (what the test reads
    /// in [`NodeProc::stderr`]).
    pub fn start_logging(dir: &Path, extra: &[&str], log: &str) -> NodeProc {
        NodeProc::start_with(dir, BLOCK_INTERVAL_MS, extra, log)
    }

    /// As [`NodeProc::start_logging`], with blocks every `interval_ms`.
    pub fn start_with(dir: &Path, interval_ms: &str, extra: &[&str], log: &str) -> NodeProc {
        std::fs::create_dir_all(dir).unwrap();
        let stderr_path = dir.with_extension(format!("stderr-{}.log", unique()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(AERGO)
            .args(["node", "--dir"])
            .arg(dir)
            .args(["--rpc-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--block-interval-ms", interval_ms])
            .args(extra)
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn aergo node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        // Keeps draining stdout for the life of the process.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep reading so the node
                    // never blocks on a full pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut banner = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    banner.push(line.clone());
                    if let Some(u) = line.strip_prefix("rpc listening on ") {
                        break u.trim().to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!("node did not print its RPC address in time; stdout {banner:?}; stderr:\n{log}");
                }
            }
        };
        // The rest of the banner follows at once; collect what is there.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            banner.push(line);
        }
        NodeProc { child, url, dir: dir.to_path_buf(), stderr_path, banner }
    }

    pub fn client(&self) -> RpcClient {
        RpcClient::new(&self.url).unwrap()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "node did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// A program installed by `.ci/sdk-setup` (an SDK, the browser), named by
/// the environment variable `var`; `None` (saying so) when it is absent,
/// unless `AERGO_REQUIRE_SDKS=1` (CI), where a missing one fails the test.
pub fn tool(var: &str) -> Option<String> {
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

/// What one CLI run printed.
pub struct Run {
    pub ok: bool,
    /// The exit status (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not one JSON document ({e}):\n{}\nstderr: {}", self.stdout, self.stderr)
        })
    }
}

/// Runs `aergo <args>` with no terminal and no inherited AERGO_* settings.
pub fn aergo(args: &[&str]) -> Run {
    let out = Command::new(AERGO)
        .args(args)
        .env_remove("AERGO_RPC")
        .env_remove("AERGO_PASSWORD")
        .env_remove("AERGO_EXPORT_PASSWORD")
        .env_remove("AERGO_KEY")
        .env("AERGO_HOME", std::env::temp_dir().join("aergo-cli-tests-no-home"))
        .stdin(Stdio::null())
        .output()
        .expect("run aergo");
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `aergo <args>` like [`aergo`], with `input` on its stdin.
pub fn aergo_stdin(args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(AERGO)
        .args(args)
        .env_remove("AERGO_RPC")
        .env_remove("AERGO_PASSWORD")
        .env_remove("AERGO_EXPORT_PASSWORD")
        .env_remove("AERGO_KEY")
        .env("AERGO_HOME", std::env::temp_dir().join("aergo-cli-tests-no-home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aergo");
    let mut stdin = child.stdin.take().unwrap();
    let text = input.to_string();
    // Written from a thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("wait for aergo");
    let _ = writer.join();
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `aergo <args>`, requires success, returns its JSON.
pub fn aergo_json(args: &[&str]) -> Value {
    let r = aergo(args);
    assert!(r.ok, "aergo {args:?} failed:\nstdout: {}\nstderr: {}", r.stdout, r.stderr);
    r.json()
}

/// `aergo --rpc URL --json <args>`, which must succeed; its JSON.
pub fn cli_at(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--rpc", url, "--json"];
    all.extend_from_slice(args);
    aergo_json(&all)
}

/// `aergo --rpc URL --json <args>`, which must fail with exit status
/// `code`; its JSON error (message, reason).
pub fn refused_at(url: &str, args: &[&str], code: u8) -> Value {
    let mut all = vec!["--rpc", url, "--json"];
    all.extend_from_slice(args);
    let r = aergo(&all);
    assert_eq!(r.code, Some(code as i32), "aergo {all:?}:\n{}", r.stdout);
    r.json()["error"].clone()
}

/// Runs `aergo <args>`, requires failure, returns stderr.
pub fn aergo_fails(args: &[&str]) -> String {
    let r = aergo(args);
    assert!(!r.ok, "aergo {args:?} should have failed:\nstdout: {}", r.stdout);
    r.stderr
}

/// A decimal aer string as a number.
pub fn aer(v: &Value) -> u128 {
    v.as_str().unwrap_or_else(|| panic!("expected an aer string, got {v}")).parse().unwrap()
}

/// The secp256k1 group order n, big-endian.
const N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC,
    0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
];

fn der_int(be: &[u8]) -> Vec<u8> {
    let first = be.iter().position(|b| *b != 0).unwrap_or(be.len() - 1);
    let mut v = be[first..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

/// The same signature with s replaced by n - s (valid, but high-s), in
/// strict DER.
pub fn high_s_der(der: &[u8]) -> Vec<u8> {
    let sig = aergo_crypto::Signature::from_der(der, aergo_crypto::DerRules::GoTx).unwrap();
    let compact = sig.to_compact();
    let (r, s) = compact.split_at(32);
    let mut high = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = N[i] as i16 - s[i] as i16 - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        high[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    let body = [der_int(r), der_int(&high)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// Posts a raw body to the node; returns the HTTP status and the JSON.
pub async fn post_raw(url: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

/// `GET /metrics` of the node at `url` (plain HTTP/1.0, read to the end).
pub fn metrics(url: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(conn, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

/// The value of one metric in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Deterministic file contents: `len` bytes from `seed`.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A contract that records files by hash, refusing unregistered ones
/// (`aergo_file_size`): `attach(name, hash)` returns the file's size.
pub const FILE_DOCS_CONTRACT: &str =
    "CREATE TABLE docs (name TEXT PRIMARY KEY, file TEXT NOT NULL, size BIGINT NOT NULL);
CREATE FUNCTION attach(n TEXT, h TEXT) RETURNS BIGINT AS $$
DECLARE s BIGINT;
BEGIN
    s := aergo_file_size(h);
    IF s IS NULL THEN
        RAISE EXCEPTION 'file % is not registered', h;
    END IF;
    INSERT INTO docs VALUES (n, h, s);
    RETURN s;
END;
$$ LANGUAGE plpgsql";
