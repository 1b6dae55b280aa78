//! `aergo horde manifests`: a DPoS network as files for a real
//! orchestrator (Docker Compose or Kubernetes) instead of local processes.
//!
//! [`write`] makes, in an empty output folder:
//!
//! - `genesis.json`: a `dpos` chain whose producers (`bps`) are the first
//!   `producers` of `nodes` new node keys (the others follow and can be voted
//!   in), with the dev accounts prefunded as in `aergo horde up`;
//! - `nodes/nodeK/config.toml`: each node's configuration for a container:
//!   JSON-RPC, gRPC and p2p on all interfaces at the default ports (7847,
//!   7845, 7846), and every other node as a bootstrap peer by name
//!   (`/dns4/<host>/tcp/7846/p2p/<peer id>`: a Compose service or a
//!   Kubernetes pod behind the headless Service);
//! - the keys, never in an image or a ConfigMap: Compose gets
//!   `secrets/nodeK.key` (in a folder of mode 0700) as Compose secrets; Kubernetes gets one
//!   `Secret` per node in `secrets.yaml`, apart from everything else so it
//!   can be kept out of version control or sealed;
//! - the target's files ([`compose`], [`kubernetes`]);
//! - `deployment.json`: what was made (nodes, peer ids, roles, target), for
//!   tests and tools.
//!
//! Containers run the image of the repository's `Dockerfile`, whose entry
//! point (`deploy/entrypoint.sh`) initialises the data directory from the
//! mounted genesis, configuration and key on first start.

use std::path::{Path, PathBuf};

use aergo_crypto::PrivateKey;
use aergo_node::NodeConfig;
use aergo_types::Amount;
use serde::Serialize;
use serde_json::Value;

use aergo_client::{CliError, Result};

use crate::{procs, HordeSpec, GENESIS_FILE, MAX_PEERS};

pub mod compose;
pub mod kubernetes;
pub mod yaml;

/// Ports inside every container (the node's defaults).
pub const RPC_PORT: u16 = 7847;
pub const GRPC_PORT: u16 = 7845;
pub const P2P_PORT: u16 = 7846;
/// The image the manifests run, as `docker build -t` names it.
pub const DEFAULT_IMAGE: &str = concat!("aergo-rs:", env!("CARGO_PKG_VERSION"));
/// Most nodes one deployment describes.
pub const MAX_NODES: u32 = 64;
/// What was made, beside the manifests.
pub const DEPLOYMENT_FILE: &str = "deployment.json";
/// The Grafana dashboard, provisioned by the Compose file and kept in the
/// repository (`deploy/grafana/aergo-dashboard.json`).
pub const DASHBOARD_JSON: &str = include_str!("../../../../deploy/grafana/aergo-dashboard.json");

/// The orchestrator the files are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Compose,
    Kubernetes,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target> {
        match text {
            "compose" => Ok(Target::Compose),
            "kubernetes" | "k8s" => Ok(Target::Kubernetes),
            other => Err(CliError::invalid("--target", other, "expected compose or kubernetes")),
        }
    }
}

/// What `aergo horde manifests` builds.
#[derive(Clone, Debug)]
pub struct DeploySpec {
    pub nodes: u32,
    pub producers: u32,
    pub target: Target,
    pub image: String,
    pub block_interval_ms: u64,
    pub epoch_blocks: u64,
    pub min_stake: Amount,
    pub stake_lock_blocks: u64,
    /// Compose: node K's JSON-RPC is published on 127.0.0.1:base+2K and its
    /// gRPC on base+2K+1, so `aergo horde status` and the SDKs reach them.
    pub host_base_port: u16,
}

impl Default for DeploySpec {
    fn default() -> Self {
        let h = HordeSpec::default();
        DeploySpec {
            nodes: 4,
            producers: 4,
            target: Target::Compose,
            image: DEFAULT_IMAGE.to_string(),
            block_interval_ms: h.block_interval_ms,
            epoch_blocks: h.epoch_blocks,
            min_stake: h.min_stake,
            stake_lock_blocks: h.stake_lock_blocks,
            host_base_port: crate::DEFAULT_BASE_PORT,
        }
    }
}

/// One node of a deployment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployNode {
    /// `nodeK`.
    pub name: String,
    /// Where the others dial it: a Compose service or a Kubernetes pod.
    pub host: String,
    pub peer_id: String,
    pub producer: bool,
    /// Compose: the JSON-RPC URL published on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc: Option<String>,
    #[serde(skip)]
    pub key: PrivateKeyHex,
}

/// A node key as its data directory stores it (hex).
#[derive(Clone, Debug, Default)]
pub struct PrivateKeyHex(pub String);

/// What [`write`] made.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub target: Target,
    pub image: String,
    pub chain: String,
    pub nodes: Vec<DeployNode>,
    /// Files written, relative to the output folder.
    pub files: Vec<String>,
}

impl Deployment {
    pub fn producers(&self) -> usize {
        self.nodes.iter().filter(|n| n.producer).count()
    }

    /// The producers that must stay up for finality: more than two thirds.
    pub fn quorum(&self) -> usize {
        self.producers() * 2 / 3 + 1
    }
}

fn deploy_err(reason: impl Into<String>) -> CliError {
    CliError::Task { what: "writing the manifests", reason: reason.into() }
}

impl DeploySpec {
    pub fn validate(&self) -> Result<()> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(CliError::invalid("--nodes", &self.nodes.to_string(), format!("expected 1..={MAX_NODES}")));
        }
        if self.producers == 0 || self.producers > self.nodes {
            return Err(CliError::invalid(
                "--producers",
                &self.producers.to_string(),
                format!("expected 1..={} (at most --nodes)", self.nodes),
            ));
        }
        let last = u32::from(self.host_base_port) + 2 * self.nodes - 1;
        if self.host_base_port < 1024 || last > u32::from(u16::MAX) {
            return Err(CliError::invalid(
                "--base-port",
                &self.host_base_port.to_string(),
                format!(
                    "{} nodes publish ports base..base+{}; expected them within 1024..=65535",
                    self.nodes,
                    2 * self.nodes - 1
                ),
            ));
        }
        if self.image.is_empty() || self.image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CliError::invalid(
                "--image",
                &self.image,
                "expected an image reference such as aergo-rs:0.1.0",
            ));
        }
        Ok(())
    }

    /// The host name node `index` is reached at, inside the orchestrator.
    pub fn host(&self, index: usize) -> String {
        match self.target {
            Target::Compose => format!("node{index}"),
            Target::Kubernetes => format!("{}.{}", kubernetes::pod_name(index), kubernetes::HEADLESS_SERVICE),
        }
    }
}

/// The `config.toml` of node `index` in a container.
pub fn node_config(spec: &DeploySpec, nodes: &[DeployNode], index: usize) -> Result<String> {
    let mut config = NodeConfig::default();
    config.rpc.listen = std::net::SocketAddr::from(([0, 0, 0, 0], RPC_PORT));
    config.grpc.listen = std::net::SocketAddr::from(([0, 0, 0, 0], GRPC_PORT));
    // Reached by service names (Prometheus, peers' tools, the orchestrator)
    // inside a private network; JSON-RPC is published on loopback only.
    config.rpc.allowed_hosts = vec!["*".to_string()];
    config.solo.block_interval_ms = spec.block_interval_ms;
    config.p2p.enabled = true;
    config.p2p.listen = format!("/ip4/0.0.0.0/tcp/{P2P_PORT}");
    config.p2p.bootstrap = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, n)| format!("/dns4/{}/tcp/{P2P_PORT}/p2p/{}", n.host, n.peer_id))
        .collect();
    // Every other node is a bootstrap peer: room for all of them.
    config.p2p.max_peers = (MAX_PEERS as u32).max(nodes.len() as u32 + 8);
    config.validate().map_err(|e| deploy_err(format!("node{index}'s configuration: {e}")))?;
    Ok(config.to_toml())
}

/// Writes the deployment into `out` (created; it must be empty or absent).
pub fn write(out: &Path, spec: &DeploySpec, timestamp_ns: i64) -> Result<Deployment> {
    spec.validate()?;
    std::fs::create_dir_all(out).map_err(|source| CliError::Io {
        what: "creating",
        path: out.to_path_buf(),
        source,
    })?;
    let mut entries =
        std::fs::read_dir(out).map_err(|source| CliError::Io { what: "listing", path: out.to_path_buf(), source })?;
    if entries.next().is_some() {
        return Err(CliError::invalid(
            "--out",
            &out.display().to_string(),
            "is not empty: the manifests go into a new or empty folder",
        ));
    }
    let keys = (0..spec.nodes).map(|_| PrivateKey::generate()).collect::<std::result::Result<Vec<_>, _>>()?;
    let peer_ids: Vec<String> = keys.iter().map(|k| k.public_key().peer_id()).collect();
    // The genesis of a horde network with these producers and candidates.
    let horde = HordeSpec {
        nodes: spec.producers,
        candidates: spec.nodes - spec.producers,
        base_port: crate::DEFAULT_BASE_PORT,
        block_interval_ms: spec.block_interval_ms,
        epoch_blocks: spec.epoch_blocks,
        min_stake: spec.min_stake,
        stake_lock_blocks: spec.stake_lock_blocks,
    };
    let manifest = horde.plan(&peer_ids)?;
    let genesis = manifest.genesis(timestamp_ns)?;
    let nodes: Vec<DeployNode> = keys
        .iter()
        .zip(&manifest.nodes)
        .enumerate()
        .map(|(i, (key, entry))| DeployNode {
            name: format!("node{i}"),
            host: spec.host(i),
            peer_id: entry.peer_id.clone(),
            producer: entry.producer,
            rpc: (spec.target == Target::Compose)
                .then(|| format!("http://127.0.0.1:{}", compose::host_rpc_port(spec, i))),
            key: PrivateKeyHex(hex::encode(key.to_bytes())),
        })
        .collect();

    let mut files = Files::new(out);
    files.write(GENESIS_FILE, &genesis.to_json()?)?;
    let mut configs = Vec::with_capacity(nodes.len());
    for i in 0..nodes.len() {
        let text = node_config(spec, &nodes, i)?;
        files.write(&format!("nodes/node{i}/config.toml"), &text)?;
        configs.push(text);
    }
    let genesis_json = genesis.to_json()?;
    let mut deployment = Deployment {
        target: spec.target,
        image: spec.image.clone(),
        chain: manifest.chain.clone(),
        nodes,
        files: Vec::new(),
    };
    match spec.target {
        Target::Compose => compose::write(&mut files, spec, &deployment)?,
        Target::Kubernetes => kubernetes::write(&mut files, spec, &deployment, &genesis_json, &configs)?,
    }
    files.write("README.md", &readme(spec, &deployment))?;
    deployment.files = files.written.clone();
    deployment.files.push(DEPLOYMENT_FILE.to_string());
    let json = serde_json::to_string_pretty(&deployment).map_err(|e| deploy_err(e.to_string()))?;
    files.write(DEPLOYMENT_FILE, &format!("{json}\n"))?;
    Ok(deployment)
}

/// The files of one deployment, written under its folder.
pub struct Files {
    root: PathBuf,
    written: Vec<String>,
}

impl Files {
    fn new(root: &Path) -> Files {
        Files { root: root.to_path_buf(), written: Vec::new() }
    }

    pub fn write(&mut self, rel: &str, text: &str) -> Result<()> {
        let path = self.root.join(rel);
        make_parent(&path)?;
        procs::write_atomic(&path, text)?;
        self.written.push(rel.to_string());
        Ok(())
    }

    /// Written with mode 0600: a file of keys.
    pub fn write_private(&mut self, rel: &str, text: &str) -> Result<()> {
        self.write_with_mode(rel, text, 0o600)
    }

    /// Created with `mode` from the start (a key is never readable by
    /// others, not even for a moment), then renamed into place.
    pub fn write_with_mode(&mut self, rel: &str, text: &str, mode: u32) -> Result<()> {
        let path = self.root.join(rel);
        make_parent(&path)?;
        let tmp = path.with_extension("tmp");
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let io = |what: &'static str, p: PathBuf| move |source| CliError::Io { what, path: p, source };
        let mut file = open.open(&tmp).map_err(io("creating", tmp.clone()))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io("writing", tmp.clone()))?;
        drop(file);
        set_mode(&tmp, mode)?;
        std::fs::rename(&tmp, &path).map_err(io("renaming into", path.clone()))?;
        self.written.push(rel.to_string());
        Ok(())
    }

    /// Creates a folder with `mode` before anything is written into it.
    pub fn make_dir(&mut self, rel: &str, mode: u32) -> Result<()> {
        let path = self.root.join(rel);
        std::fs::create_dir_all(&path).map_err(|source| CliError::Io {
            what: "creating",
            path: path.clone(),
            source,
        })?;
        set_mode(&path, mode)
    }

    pub fn write_json(&mut self, rel: &str, value: &Value) -> Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(|e| deploy_err(e.to_string()))?;
        self.write(rel, &format!("{text}\n"))
    }
}

fn make_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
            what: "creating",
            path: parent.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| CliError::Io {
            what: "restricting",
            path: path.to_path_buf(),
            source,
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn readme(spec: &DeploySpec, d: &Deployment) -> String {
    let run = match spec.target {
        Target::Compose => format!(
            "Build the image from the repository, then start the network:\n\n\
             ```sh\ndocker build -t {image} .          # in the aergo-rs checkout\n\
             docker compose up -d                 # here\naergo horde status --dir .           # heights, LIB, peers\n```\n\n\
             Node K's JSON-RPC is published on 127.0.0.1:{base}+2K and its gRPC on {base}+2K+1;\n\
             Prometheus on 127.0.0.1:9090, Grafana (dashboard \"AERGO\") on 127.0.0.1:3000.\n\
             `secrets/` holds the node keys: keep it private.\n",
            image = d.image,
            base = spec.host_base_port
        ),
        Target::Kubernetes => format!(
            "Push the image where your cluster pulls from, then:\n\n\
             ```sh\nkubectl apply -k .                   # or: kubectl apply -f secrets.yaml -f configmap.yaml ...\n\
             kubectl get pods -l app=aergo\nkubectl port-forward svc/aergo-rpc 7847 7845\n```\n\n\
             `secrets.yaml` holds the node keys (one Secret per node): keep it out of version\n\
             control, or seal it. The PodDisruptionBudget keeps {q} of the {p} producers up\n\
             (finality needs more than two thirds).\n",
            q = d.quorum(),
            p = d.producers()
        ),
    };
    format!(
        "# AERGO network: {n} nodes, {p} producers ({target:?})\n\nMade by `aergo horde manifests`. Chain `{chain}`; `genesis.json` is its genesis.\n\n{run}",
        n = d.nodes.len(),
        p = d.producers(),
        target = spec.target,
        chain = d.chain,
    )
}
