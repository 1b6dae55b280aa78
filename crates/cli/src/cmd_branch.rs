//! Arguments and output of `aergo branch`, `aergo tag` and `aergo merge`
//! (part of the binary; the work is in `aergo_client::branches`). The
//! global `--branch` makes every other command work on a branch.

use aergo_cli::format;
use aergo_client::branches;
use aergo_client::client::RpcClient;
use aergo_client::keys;
use aergo_types::payload::{BranchCall, MergePolicy, MergeStrategy};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{out, Output, SignerArgs};

#[derive(Subcommand)]
pub enum BranchCommand {
    /// Fork the chain's state into a new branch, in O(1) whatever its size.
    Create {
        /// Lower-case letters, digits, '.', '_' and '-', not all digits.
        name: String,
        /// Fork at this height (default: the last block).
        #[arg(long)]
        at: Option<u64>,
        /// The branch to fork (default: main).
        #[arg(long, default_value = "main")]
        base: String,
        /// How it merges: `auto` (replay its transactions), `three-way`
        /// (row-level three-way merge; conflicts outside balances fail it)
        /// or `resolver:CONTRACT.FUNCTION` (three-way, conflicts settled by
        /// that function).
        #[arg(long, default_value = "auto")]
        merge_policy: String,
        /// Accounts besides the creator that may write to and merge it
        /// (Am... or dev:N; repeat).
        #[arg(long = "writer")]
        writers: Vec<String>,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Every branch: main first, then the registry.
    List,
    /// One branch: its chain id hash, fork point, writers, head and state root.
    Show {
        name: String,
        /// As it was after this block (default: the head).
        #[arg(long)]
        at: Option<u64>,
    },
    /// Delete a branch (its creator only).
    Delete {
        name: String,
        #[command(flatten)]
        signer: SignerArgs,
    },
}

#[derive(Subcommand)]
pub enum TagCommand {
    /// Name a branch's state at a height, for ever.
    Create {
        name: String,
        #[arg(long)]
        at: u64,
        #[arg(long, default_value = "main")]
        branch: String,
        #[command(flatten)]
        signer: Box<SignerArgs>,
    },
    /// Every tag.
    List,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The branch whose transactions are merged.
    pub source: String,
    /// The branch that takes them.
    #[arg(long, default_value = "main")]
    pub into: String,
    /// `auto` (replay the source's transactions on the target) or
    /// `consensual` (three-way row merge); default: what the branch's
    /// merge policy says.
    #[arg(long)]
    pub strategy: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
}

pub async fn branch(command: BranchCommand, client: &RpcClient) -> anyhow::Result<Output> {
    match command {
        BranchCommand::List => {
            let v = branches::list(client).await?;
            let rows: Vec<String> = v["branches"].as_array().into_iter().flatten().map(branch_line).collect();
            Ok(out(v.clone(), rows.join("\n")))
        }
        BranchCommand::Show { name, at } => {
            let v = branches::show(client, &name, at).await?;
            let text = format!(
                "{}\nchain id hash {}\nstate root {}\nhead height {}",
                branch_line(&v),
                v["chainIdHash"].as_str().unwrap_or_default(),
                v["stateRoot"].as_str().unwrap_or_default(),
                v["headHeight"]
            );
            Ok(out(v, text))
        }
        BranchCommand::Create { name, at, base, merge_policy, writers, signer } => {
            let policy = MergePolicy::parse(&merge_policy).ok_or_else(|| {
                anyhow::anyhow!(
                    "--merge-policy {merge_policy:?}: expected auto, three-way or resolver:CONTRACT.FUNCTION"
                )
            })?;
            let writers = writers.iter().map(|w| keys::parse_account(w)).collect::<Result<Vec<_>, _>>()?;
            send(client, BranchCall::Create { name, base, at, policy, writers }, &signer).await
        }
        BranchCommand::Delete { name, signer } => send(client, BranchCall::Delete { name }, &signer).await,
    }
}

pub async fn tag(command: TagCommand, client: &RpcClient) -> anyhow::Result<Output> {
    match command {
        TagCommand::List => {
            let v = branches::tags(client).await?;
            let rows: Vec<String> = v["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    format!(
                        "{} = {}@{}",
                        t["name"].as_str().unwrap_or_default(),
                        t["branch"].as_str().unwrap_or_default(),
                        t["height"]
                    )
                })
                .collect();
            Ok(out(v.clone(), rows.join("\n")))
        }
        TagCommand::Create { name, at, branch, signer } => {
            send(client, BranchCall::Tag { name, branch, height: at }, &signer).await
        }
    }
}

pub async fn merge(a: MergeArgs, client: &RpcClient) -> anyhow::Result<Output> {
    let strategy = match a.strategy.as_deref() {
        Some("auto") => MergeStrategy::Auto,
        Some("consensual") => MergeStrategy::Consensual,
        Some(other) => anyhow::bail!("--strategy {other:?}: expected auto or consensual"),
        None => match branches::show(client, &a.source, None).await?["mergePolicy"].as_str() {
            Some("auto") => MergeStrategy::Auto,
            _ => MergeStrategy::Consensual,
        },
    };
    send(client, BranchCall::Merge { source: a.source, target: a.into, strategy }, &a.signer).await
}

fn branch_line(b: &Value) -> String {
    let name = b["name"].as_str().unwrap_or_default();
    match b["base"].as_str() {
        None => format!("{name} (the chain) at height {}", b["headHeight"]),
        Some(base) => format!(
            "{name} from {base}@{} by {}, {} txs, last changed at {}",
            b["forkHeight"],
            b["creator"].as_str().unwrap_or_default(),
            b["txs"],
            b["headHeight"]
        ),
    }
}

async fn send(client: &RpcClient, call: BranchCall, signer: &SignerArgs) -> anyhow::Result<Output> {
    let (from, key) = signer.signer()?;
    let sent = branches::send_branch_call(client, &key, &call, signer.nonce, signer.wait_timeout_ms()).await?;
    let json = json!({
        "hash": sent.hash.to_string(),
        "from": from.to_string(),
        "to": aergo_types::address::AERGO_BRANCH,
        "call": call.call(),
        "nonce": sent.tx.body.as_ref().map_or(0, |b| b.nonce),
        "receipt": sent.receipt,
    });
    let mut text = format!("sent {} from {from}\ntx {}", call.call(), sent.hash);
    if let Some(r) = &sent.receipt {
        text.push_str(&format!("\n\nreceipt\n{}", format::receipt(r)));
    }
    Ok(out(json, text))
}
