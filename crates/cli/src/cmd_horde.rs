//! Arguments and output of `aergo horde` (part of the binary; the work is
//! in `aergo_horde`).

use std::path::PathBuf;

use aergo_client::transfer::parse_amount;
use aergo_horde::{self as horde, HordeSpec, UpRequest};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{out, Output};

#[derive(Subcommand)]
pub enum HordeCommand {
    /// Create a network (keys, DPoS genesis, one data directory per node)
    /// and start its nodes, or start a stopped one again; returns once
    /// every node answers.
    Up(UpArgs),
    /// Height, LIB, peers and role of every node.
    Status(DirArg),
    /// Stop every node (SIGTERM, then SIGKILL after a grace period).
    Down(DirArg),
    /// Start one node of the network (e.g. after `stop`).
    Start {
        #[command(flatten)]
        dir: DirArg,
        /// nodeK or K.
        node: String,
        /// How long to wait for its JSON-RPC.
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: u64,
    },
    /// Write a DPoS network as files for an orchestrator: keys, genesis,
    /// each node's config, and a Compose file (with Prometheus and
    /// Grafana) or Kubernetes manifests (StatefulSets, headless Service,
    /// Secrets, ConfigMap, PodDisruptionBudget).
    Manifests(ManifestsArgs),
    /// Stop one node.
    Stop {
        #[command(flatten)]
        dir: DirArg,
        /// nodeK or K.
        node: String,
        /// SIGKILL at once (a crash), instead of SIGTERM.
        #[arg(long)]
        kill: bool,
    },
}

#[derive(Args)]
pub struct DirArg {
    /// The network's folder.
    #[arg(long, default_value = horde::DEFAULT_DIR)]
    dir: PathBuf,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    dir: DirArg,
    /// Block producers [default: 4].
    #[arg(long)]
    nodes: Option<u32>,
    /// Extra nodes that follow and can be voted in [default: 0].
    #[arg(long)]
    candidates: Option<u32>,
    /// Node K listens on P+2K (JSON-RPC) and P+2K+1 (p2p) [default: 17900].
    #[arg(long)]
    base_port: Option<u16>,
    /// Slot length [default: 1000].
    #[arg(long)]
    block_interval_ms: Option<u64>,
    /// Blocks between elections of the producer set [default: 20].
    #[arg(long)]
    epoch_blocks: Option<u64>,
    /// Least stake an account may hold [default: "1 aergo"].
    #[arg(long)]
    min_stake: Option<String>,
    /// Blocks a stake stays locked [default: 10].
    #[arg(long)]
    stake_lock_blocks: Option<u64>,
    /// Replace a stopped network in --dir with a new one.
    #[arg(long)]
    reset: bool,
    /// How long to wait for the nodes' JSON-RPC.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
}

#[derive(Args)]
pub struct ManifestsArgs {
    /// compose or kubernetes.
    #[arg(long)]
    target: String,
    /// Nodes in all.
    #[arg(long, default_value_t = 4)]
    nodes: u32,
    /// Of them, the genesis block producers (the others follow and can be
    /// voted in) [default: all].
    #[arg(long)]
    producers: Option<u32>,
    /// A new or empty folder for the files.
    #[arg(long)]
    out: PathBuf,
    /// The image the containers run (build it with the repository's
    /// Dockerfile).
    #[arg(long, default_value = horde::deploy::DEFAULT_IMAGE)]
    image: String,
    /// Compose: node K's JSON-RPC is published on 127.0.0.1:P+2K, its gRPC
    /// on P+2K+1.
    #[arg(long, default_value_t = horde::DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Slot length.
    #[arg(long, default_value_t = 1_000)]
    block_interval_ms: u64,
    /// Blocks between elections of the producer set.
    #[arg(long, default_value_t = 20)]
    epoch_blocks: u64,
}

impl UpArgs {
    fn spec(&self) -> anyhow::Result<(HordeSpec, bool)> {
        let d = HordeSpec::default();
        let given = self.nodes.is_some()
            || self.candidates.is_some()
            || self.base_port.is_some()
            || self.block_interval_ms.is_some()
            || self.epoch_blocks.is_some()
            || self.min_stake.is_some()
            || self.stake_lock_blocks.is_some();
        let spec = HordeSpec {
            nodes: self.nodes.unwrap_or(d.nodes),
            candidates: self.candidates.unwrap_or(d.candidates),
            base_port: self.base_port.unwrap_or(d.base_port),
            block_interval_ms: self.block_interval_ms.unwrap_or(d.block_interval_ms),
            epoch_blocks: self.epoch_blocks.unwrap_or(d.epoch_blocks),
            min_stake: match &self.min_stake {
                Some(text) => parse_amount(text)?,
                None => d.min_stake,
            },
            stake_lock_blocks: self.stake_lock_blocks.unwrap_or(d.stake_lock_blocks),
        };
        Ok((spec, given))
    }
}

fn exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("finding the aergo binary to run the nodes with")
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub async fn run(command: HordeCommand) -> anyhow::Result<Output> {
    match command {
        HordeCommand::Up(a) => {
            let (spec, spec_given) = a.spec()?;
            let req = UpRequest {
                dir: a.dir.dir.clone(),
                spec,
                spec_given,
                reset: a.reset,
                exe: exe()?,
                timeout_ms: a.timeout_ms,
                timestamp_ns: now_ns(),
            };
            let report = horde::up(&req).await?;
            let (json, text) = horde::up_report(&report);
            Ok(out(json, text))
        }
        HordeCommand::Status(d) => {
            let rows = horde::status(&d.dir).await?;
            let text = horde::format_status(&rows);
            Ok(out(serde_json::to_value(&rows)?, text))
        }
        HordeCommand::Down(d) => {
            let (dir, m) = horde::open(&d.dir)?;
            let all: Vec<usize> = (0..m.nodes.len()).collect();
            let outcomes = horde::stop(&dir, &m, &all, false).await?;
            let (json, text) = horde::stop_report(&outcomes);
            Ok(out(json, text))
        }
        HordeCommand::Start { dir, node, timeout_ms } => {
            let (dir, m) = horde::open(&dir.dir)?;
            let i = m.resolve(&node)?;
            let pids = horde::start(&dir, &m, &[i], &exe()?, timeout_ms).await?;
            let entry = m.node(i)?;
            let pid = pids.first().copied().unwrap_or_default();
            Ok(out(
                json!({"node": entry.name, "rpc": entry.rpc_url(), "pid": pid}),
                format!("{} started (pid {pid}), answering on {}", entry.name, entry.rpc_url()),
            ))
        }
        HordeCommand::Manifests(a) => {
            let d = horde::deploy::DeploySpec::default();
            let spec = horde::deploy::DeploySpec {
                nodes: a.nodes,
                producers: a.producers.unwrap_or(a.nodes),
                target: horde::deploy::Target::parse(&a.target)?,
                image: a.image,
                block_interval_ms: a.block_interval_ms,
                epoch_blocks: a.epoch_blocks,
                host_base_port: a.base_port,
                ..d
            };
            let made = horde::deploy::write(&a.out, &spec, now_ns())?;
            let text = format!(
                "wrote {} files for {:?} in {}: {} nodes, {} producers (quorum {})\nsee {}/README.md",
                made.files.len(),
                made.target,
                a.out.display(),
                made.nodes.len(),
                made.producers(),
                made.quorum(),
                a.out.display()
            );
            Ok(out(serde_json::to_value(&made)?, text))
        }
        HordeCommand::Stop { dir, node, kill } => {
            let (dir, m) = horde::open(&dir.dir)?;
            let i = m.resolve(&node)?;
            let outcomes = horde::stop(&dir, &m, &[i], kill).await?;
            let (json, text) = horde::stop_report(&outcomes);
            Ok(out(json, text))
        }
    }
}
