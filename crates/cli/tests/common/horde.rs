//! A DPoS network of real node processes (`aergo horde`) for end-to-end
//! tests, brought down when the test ends, passed or not.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{aergo, aergo_json};

/// Generous: two slow shared cores run five nodes and the test.
pub const PHASE_TIMEOUT: Duration = Duration::from_secs(90);

/// The shape of a test network.
pub struct HordeSpec {
    pub producers: usize,
    /// Extra nodes that start as followers (candidates a vote can elect).
    pub candidates: usize,
    pub block_interval_ms: u64,
    pub epoch_blocks: u64,
}

pub struct Horde {
    pub dir: PathBuf,
    pub up: Value,
    pub nodes: usize,
}

impl Horde {
    /// `horde up` in `tmp/net` on free loopback ports (1 aergo minimum
    /// stake, a 10-block stake lock).
    pub fn up(tmp: &Path, spec: &HordeSpec) -> Horde {
        let dir = tmp.join("net");
        let nodes = spec.producers + spec.candidates;
        let base = free_ports(2 * nodes as u16);
        let up = aergo_json(&[
            "--json",
            "horde",
            "up",
            "--dir",
            dir.to_str().unwrap(),
            "--nodes",
            &spec.producers.to_string(),
            "--candidates",
            &spec.candidates.to_string(),
            "--base-port",
            &base.to_string(),
            "--block-interval-ms",
            &spec.block_interval_ms.to_string(),
            "--epoch-blocks",
            &spec.epoch_blocks.to_string(),
            "--min-stake",
            "1 aergo",
            "--stake-lock-blocks",
            "10",
        ]);
        Horde { dir: dir.canonicalize().unwrap(), up, nodes }
    }

    pub fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    pub fn rpc(&self, node: usize) -> String {
        self.up["nodes"][node]["rpc"].as_str().unwrap().to_string()
    }

    pub fn peer_id(&self, node: usize) -> String {
        self.up["nodes"][node]["peerId"].as_str().unwrap().to_string()
    }

    /// The node's key, as the hex `node.key` holds.
    pub fn key_hex(&self, node: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("node{node}")).join("node.key")).unwrap().trim().to_string()
    }

    /// `horde status --json`: one object per node.
    pub fn status(&self) -> Vec<Value> {
        aergo_json(&["--json", "horde", "status", "--dir", self.dir()]).as_array().unwrap().clone()
    }

    pub fn log(&self, node: usize) -> String {
        let path = self.dir.join(format!("node{node}")).join("node.log");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Polls `check` until it gives a value; panics with the nodes' state
    /// and logs after `PHASE_TIMEOUT`.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Horde) -> Option<T>) -> T {
        let deadline = Instant::now() + PHASE_TIMEOUT;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = (0..self.nodes).map(|i| format!("--- node{i}\n{}", self.log(i))).collect();
                panic!("timed out waiting for {what}; status {:#?}\n{}", self.status(), logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Horde {
    fn drop(&mut self) {
        let _ = aergo(&["horde", "down", "--dir", self.dir()]);
    }
}

/// Lowest and highest port tried: below the kernel's ephemeral range
/// (32768 and up on Linux), where any outgoing connection may take a port
/// while a node is down, so the restarted node could not listen again.
const PORTS_FROM: u32 = 20_000;
const PORTS_TO: u32 = 32_000;

/// A first port such that the next `count` loopback ports are free now.
pub fn free_ports(count: u16) -> u16 {
    let count32 = u32::from(count);
    let slots = (PORTS_TO - PORTS_FROM) / count32;
    // Spread concurrent runs by process id.
    let first = std::process::id() % slots;
    for i in 0..slots {
        let base = PORTS_FROM + ((first + i) % slots) * count32;
        let base = u16::try_from(base).unwrap();
        if (base..base + count).all(|p| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok()) {
            return base;
        }
    }
    panic!("no {count} free consecutive loopback ports in {PORTS_FROM}..{PORTS_TO}");
}

pub fn u64_of(v: &Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("no {field} in {v}"))
}

pub fn block(url: &str, height: u64) -> Value {
    aergo_json(&["--rpc", url, "--json", "block", &height.to_string()])
}

/// The receipt of `hash` on the node at `url`, once there is one.
pub fn receipt(url: &str, hash: &str) -> Option<Value> {
    let r = aergo(&["--rpc", url, "--json", "receipt", hash]);
    r.ok.then(|| r.json())
}

pub fn producer_address(peer_id: &str) -> String {
    aergo_crypto::PublicKey::from_peer_id(peer_id).unwrap().address().to_string()
}
