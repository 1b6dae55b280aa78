//! AergoFS on a real node process: `aergo fs put|get|stat|ls|rm` round
//! trips from 0 bytes to 100 MiB; bad input over HTTP (a hash that does not
//! match, an oversize upload, the quota, malformed ranges and hashes,
//! traversal, unknown files, a delete from elsewhere); and a SIGKILL while
//! uploads run, after which every acknowledged file reads back whole and
//! no torn one is visible.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aergo_types::Hash;
use common::{aergo, aergo_json, NodeProc};

/// A node whose store takes files up to 128 MiB and holds at most 110 MiB.
fn node(dir: &std::path::Path) -> NodeProc {
    drop(NodeProc::dev(dir));
    let config = dir.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[fs]"), "{text}");
    text = text
        .replace("max_file_bytes = 268435456", "max_file_bytes = 134217728")
        .replace("quota_bytes = 10737418240", "quota_bytes = 115343360");
    std::fs::write(&config, text).unwrap();
    NodeProc::start(dir, &["--dev"])
}

/// A raw HTTP/1.1 request; the status code and the body.
fn raw(url: &str, request: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn files_round_trip_from_empty_to_100_mib_and_bad_input_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp.path().join("dev"));
    let url = n.url.clone();
    let mut hashes = Vec::new();
    for (i, len) in [0usize, 1, 1_000, 65_536, 1 << 20, 100 << 20].into_iter().enumerate() {
        let data = common::bytes(i as u64, len);
        let path = tmp.path().join(format!("f{i}.bin"));
        std::fs::write(&path, &data).unwrap();
        let put = aergo_json(&["--rpc", &url, "--json", "fs", "put", path.to_str().unwrap()]);
        let hash = put["hash"].as_str().unwrap().to_string();
        assert_eq!(hash, Hash::sha256(&data).to_string(), "the name is the content's SHA-256");
        assert_eq!(put["size"].as_u64(), Some(len as u64));
        let back = tmp.path().join(format!("f{i}.out"));
        aergo_json(&["--rpc", &url, "--json", "fs", "get", &hash, "-o", back.to_str().unwrap()]);
        assert!(std::fs::read(&back).unwrap() == data, "{len} bytes come back whole");
        let stat = aergo_json(&["--rpc", &url, "--json", "fs", "stat", &hash]);
        assert_eq!(stat["size"].as_u64(), Some(len as u64));
        hashes.push(hash);
    }
    // Stdin, a content type, stdout.
    let r = common::aergo_stdin(&["--rpc", &url, "fs", "put", "-", "--content-type", "text/html"], "<p>hi</p>");
    assert!(r.ok, "{}", r.stderr);
    let html = r.stdout.trim().to_string();
    let r = aergo(&["--rpc", &url, "fs", "get", &html]);
    assert_eq!(r.stdout, "<p>hi</p>");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let served = rt.block_on(async { reqwest::get(format!("{url}/fs/{html}")).await.unwrap() });
    assert_eq!(served.headers()["content-type"], "text/html");
    assert!(served.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(served.headers()["etag"].to_str().unwrap(), format!("\"{html}\""));
    let again = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/fs/{html}"))
            .header("If-None-Match", format!("\"{html}\""))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(again, 304, "a client holding the ETag gets 304");
    // A range.
    let part = rt.block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{url}/fs/{}", hashes[2]))
            .header("Range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.headers()["content-range"].to_str().unwrap().to_string(), r.bytes().await.unwrap())
    });
    assert_eq!((part.0, part.1.as_str()), (206, "bytes 10-19/1000"));
    assert_eq!(&part.2[..], &common::bytes(2, 1_000)[10..20]);
    let listed = aergo_json(&["--rpc", &url, "--json", "fs", "ls", "--limit", "100"]);
    assert_eq!(listed["files"].as_array().unwrap().len(), hashes.len() + 1);
    let before = listed["stats"].clone();

    // Bad input: each a clear error, nothing stored.
    let small = common::bytes(99, 100);
    let wrong = Hash::sha256(b"something else");
    let (status, body) = raw(
        &url,
        &format!(
            "PUT /fs/{wrong} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{}",
            "x".repeat(100)
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("HASH_MISMATCH") && body.contains("nothing stored"), "{body}");
    let (status, body) =
        raw(&url, "PUT /fs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 413, "{body}");
    let too_big = tmp.path().join("big.bin");
    std::fs::write(&too_big, common::bytes(7, 20 << 20)).unwrap();
    let r = aergo(&["--rpc", &url, "fs", "put", too_big.to_str().unwrap()]);
    assert!(!r.ok && r.stderr.contains("quota"), "over the quota: {}", r.stderr);
    for (path, range, expect) in [
        (format!("/fs/{}", hashes[2]), "bytes=abc", 400),
        (format!("/fs/{}", hashes[2]), "bytes=5-1", 400),
        (format!("/fs/{}", hashes[2]), "bytes=0-1,5-6", 400),
        (format!("/fs/{}", hashes[2]), "bytes=5000-", 416),
        ("/fs/..%2F..%2Fetc%2Fpasswd".to_string(), "bytes=0-1", 400),
        ("/fs/not-a-hash".to_string(), "bytes=0-1", 400),
        (format!("/fs/{}", Hash::sha256(&small)), "bytes=0-1", 404),
    ] {
        let (status, body) = raw(
            &url,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: {range}\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, expect, "{path} {range}: {body}");
        assert!(body.contains("\"reason\""), "a JSON error: {body}");
    }
    let after = aergo_json(&["--rpc", &url, "--json", "fs", "ls"])["stats"].clone();
    assert_eq!(after, before, "nothing was stored by the refused requests");

    // Delete from this machine: gone, and its space is reclaimable.
    aergo_json(&["--rpc", &url, "--json", "fs", "rm", &hashes[3]]);
    let r = aergo(&["--rpc", &url, "fs", "stat", &hashes[3]]);
    assert!(!r.ok && r.stderr.contains("no file"), "{}", r.stderr);
    assert!(aergo_json(&["--rpc", &url, "--json", "fs", "ls"])["stats"]["deadBytes"].as_u64().unwrap() > 0);
}

#[test]
fn a_crash_during_uploads_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let mut n = node(&dir);
    let url = n.url.clone();
    let acked = Arc::new(Mutex::new(Vec::<(Hash, Vec<u8>)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let uploaders: Vec<_> = (0..3u64)
        .map(|t| {
            let (url, acked, stop) = (url.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let client = reqwest::Client::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let data = common::bytes(t * 1_000_000 + i, 2_000 + (i as usize % 7) * 10_000);
                    let sent = rt.block_on(client.put(format!("{url}/fs")).body(data.clone()).send());
                    match sent {
                        Ok(r) if r.status().is_success() => acked.lock().unwrap().push((Hash::sha256(&data), data)),
                        _ => break, // the node is gone
                    }
                    i += 1;
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    n.kill();
    stop.store(true, Ordering::Relaxed);
    for u in uploaders {
        u.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let n = NodeProc::start(&dir, &["--dev"]);
    let listed = aergo_json(&["--rpc", &n.url, "--json", "fs", "ls", "--limit", "1000"]);
    let files = listed["files"].as_array().unwrap().len();
    assert!(files >= acked.len(), "{files} files after the crash, {} acknowledged", acked.len());
    assert!(files <= acked.len() + 3, "at most the uploads in flight beyond those acknowledged");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (hash, data) in &acked {
        let got =
            rt.block_on(async { reqwest::get(format!("{}/fs/{hash}", n.url)).await.unwrap().bytes().await.unwrap() });
        assert!(&got[..] == data.as_slice(), "{hash} reads back whole");
    }
}

/// A file stored on the node, recorded on chain, and referenced by a
/// contract through `aergo_file_size`; a stranger cannot take the record
/// over; its owner releases it.
#[test]
fn a_registered_file_is_referenced_by_a_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let n = NodeProc::dev(&tmp.path().join("dev"));
    let url = n.url.clone();
    let cli = |args: &[&str]| {
        let mut all = vec!["--rpc", url.as_str(), "--json"];
        all.extend_from_slice(args);
        aergo_json(&all)
    };
    let data = common::bytes(7, 4_096);
    let path = tmp.path().join("report.bin");
    std::fs::write(&path, &data).unwrap();
    let hash = cli(&["fs", "put", path.to_str().unwrap()])["hash"].as_str().unwrap().to_string();
    let hex = Hash::sha256(&data).to_hex();
    // Not on chain yet.
    let r = aergo(&["--rpc", &url, "--json", "fs", "record", &hash]);
    assert_eq!(r.code, Some(aergo_client::exit::NOT_FOUND as i32), "{}", r.stdout);

    let reg = cli(&["fs", "register", &hash, "--from", "dev:0", "--wait"]);
    assert_eq!(reg["receipt"]["status"], "SUCCESS", "{reg}");
    assert_eq!(reg["amount"], (4_096u128 * 1_000_000_000).to_string(), "1 gaer per byte");
    let rec = cli(&["fs", "record", &hash]);
    assert_eq!(rec["size"].as_i64(), Some(4_096), "{rec}");

    let source = common::FILE_DOCS_CONTRACT;
    let file = tmp.path().join("docs.sql");
    std::fs::write(&file, source).unwrap();
    let d = cli(&["contract", "deploy", file.to_str().unwrap(), "--from", "dev:1", "--wait"]);
    let contract = d["contract"].as_str().unwrap().to_string();
    let a = cli(&["contract", "call", &contract, "attach", "report", &hex, "--from", "dev:1", "--wait"]);
    assert_eq!(a["receipt"]["ret"], "4096", "{a}");
    let unknown = Hash::sha256(b"nothing").to_hex();
    let r = aergo(&[
        "--rpc", &url, "--json", "contract", "call", &contract, "attach", "x", &unknown, "--from", "dev:1", "--wait",
    ]);
    assert!(!r.ok && r.stdout.contains("is not registered"), "{}", r.stdout);

    // A stranger may not take it over; the owner releases it.
    let r = aergo(&["--rpc", &url, "--json", "fs", "register", &hash, "--from", "dev:2"]);
    assert!(!r.ok, "{}", r.stdout);
    assert_eq!(r.json()["error"]["reason"], "FILE_REJECTED", "{}", r.stdout);
    let rel = cli(&["fs", "release", &hash, "--from", "dev:0", "--wait"]);
    assert_eq!(rel["receipt"]["status"], "SUCCESS", "{rel}");
    let r = aergo(&["--rpc", &url, "--json", "fs", "record", &hash]);
    assert_eq!(r.code, Some(aergo_client::exit::NOT_FOUND as i32), "{}", r.stdout);

    // With a term: held through `until`, extended by anyone, then lapsed
    // (contracts see NULL).
    let reg = cli(&["fs", "register", &hash, "--blocks", "5", "--from", "dev:0", "--wait"]);
    assert_eq!(reg["receipt"]["status"], "SUCCESS", "{reg}");
    let at = reg["receipt"]["blockHeight"].as_u64().unwrap();
    assert_eq!(cli(&["fs", "record", &hash])["until"].as_u64(), Some(at + 5));
    let ext = cli(&["fs", "extend", &hash, "--blocks", "3", "--from", "dev:2", "--wait"]);
    assert_eq!(ext["receipt"]["status"], "SUCCESS", "{ext}");
    assert_eq!(ext["amount"], "0", "no rent until a vote sets FILERENT");
    assert_eq!(cli(&["fs", "record", &hash])["until"].as_u64(), Some(at + 8));
    let size_sql = format!("SELECT aergo_file_size('{hex}')");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let q = cli(&["contract", "query", &contract, &size_sql]);
        if q["rows"][0][0].is_null() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the record never lapsed: {q}");
        // The dev chain seals no empty blocks: a transfer moves it on.
        cli(&["send", "--from", "dev:3", "--to", "dev:4", "--amount", "1 aer", "--wait"]);
    }
    let params = cli(&["param", "list"]);
    assert!(params.to_string().contains("FILEPRICE") && params.to_string().contains("FILERENT"), "{params}");
}
