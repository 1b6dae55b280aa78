//! Arguments and output of `stake`, `unstake`, `vote`, `bp` and `param`
//! (part of the binary; the work is in `aergo_cli::gov`).

use aergo_cli::format;
use aergo_cli::gov::{self, GovTx, ParamText};
use aergo_client::client::RpcClient;
use aergo_client::keys;
use aergo_client::transfer::parse_amount;
use aergo_types::payload::GovCall;
use aergo_types::{Amount, Unit};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{out, Output, SignerArgs};

#[derive(Subcommand)]
pub enum GovCommand {
    /// Stake AERGO: it weighs your votes (`stake show ADDR` shows a stake).
    Stake(StakeArgs),
    /// Move staked AERGO back to the balance (once its lock has passed).
    Unstake {
        #[command(flatten)]
        tx: GovTxArgs,
        /// Amount, e.g. "1000 aergo".
        #[arg(long)]
        amount: String,
    },
    /// Vote for block producers: 1 to 30 peer ids, replacing your last vote.
    Vote {
        #[command(flatten)]
        tx: GovTxArgs,
        /// Peer ids of the candidates (`aergo bp list` shows some).
        #[arg(required = true, num_args = 1..)]
        peers: Vec<String>,
    },
    /// Block producers.
    Bp {
        #[command(subcommand)]
        command: BpCommand,
    },
    /// Governance parameters (BPCOUNT, STAKINGMIN, GASPRICE, NAMEPRICE,
    /// STAKINGLOCK, MAXTXGAS, MAXBLOCKGAS, SLASHPERCENT, FILEPRICE, FILERENT).
    Param {
        #[command(subcommand)]
        command: ParamCommand,
    },
    /// Evidence of a producer's misbehaviour: submit it to have the
    /// producer slashed, or list the offences punished.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Submit evidence (a file holding the hex of an encoded Evidence; `-`
    /// reads stdin): two blocks or two votes of one producer in one slot,
    /// or a broken pre-confirmation (`aergo preconf check` gives it). A
    /// share of the slashed stake goes to the sender.
    Submit {
        #[command(flatten)]
        tx: GovTxArgs,
        file: String,
    },
    /// Offences punished so far, and the AERGO burned.
    List,
}

/// Signing and sending a governance transaction.
#[derive(Args)]
pub struct GovTxArgs {
    /// Send without first checking the stake rules against the chain (the
    /// chain checks them anyway).
    #[arg(long)]
    no_check: bool,
    #[command(flatten)]
    signer: SignerArgs,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct StakeArgs {
    #[command(subcommand)]
    show: Option<StakeShow>,
    #[command(flatten)]
    tx: GovTxArgs,
    /// Amount, e.g. "1000 aergo".
    #[arg(long, required = true)]
    amount: Option<String>,
}

#[derive(Subcommand)]
enum StakeShow {
    /// The stake of an account and when it unlocks.
    Show {
        /// An Am... address or dev:N.
        address: String,
    },
}

#[derive(Subcommand)]
pub enum BpCommand {
    /// The elected producers (rank, peer id, votes, rating) and the
    /// candidates with the most votes.
    List {
        /// Candidates to print (--json gives all the node returns).
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
}

#[derive(Subcommand)]
pub enum ParamCommand {
    /// The parameters in force.
    List,
    /// Vote a value for a parameter (weighed by your stake; it passes with
    /// two thirds of all stake).
    Vote {
        #[command(flatten)]
        tx: GovTxArgs,
        /// BPCOUNT, STAKINGMIN, GASPRICE, NAMEPRICE, STAKINGLOCK, MAXTXGAS, MAXBLOCKGAS, SLASHPERCENT, FILEPRICE or FILERENT.
        name: String,
        /// A count, or for prices and STAKINGMIN an amount ("50 gaer").
        value: String,
    },
    /// The values voted for a parameter and the stake behind each.
    Votes {
        /// BPCOUNT, STAKINGMIN, GASPRICE, NAMEPRICE, STAKINGLOCK, MAXTXGAS, MAXBLOCKGAS, SLASHPERCENT, FILEPRICE or FILERENT.
        name: String,
    },
}

pub async fn run(command: GovCommand, client: &RpcClient) -> anyhow::Result<Output> {
    match command {
        GovCommand::Stake(StakeArgs { show: Some(StakeShow::Show { address }), .. }) => {
            let addr = keys::parse_account(&address)?;
            let (stake, raw) = gov::stake_of(client, &addr).await?;
            let head = client.status().await?.height;
            Ok(out(raw, gov::format_stake(&addr, &stake, head)))
        }
        GovCommand::Stake(StakeArgs { show: None, tx, amount }) => {
            let amount = parse_amount(amount.as_deref().unwrap_or_default())?;
            send(client, tx, GovCall::Stake, amount).await
        }
        GovCommand::Unstake { tx, amount } => send(client, tx, GovCall::Unstake, parse_amount(&amount)?).await,
        GovCommand::Vote { tx, peers } => send(client, tx, gov::vote_bp(&peers)?, Amount::ZERO).await,
        GovCommand::Bp { command: BpCommand::List { top } } => {
            let (producers, raw) = gov::producers(client).await?;
            Ok(out(raw, producers.format(top)))
        }
        GovCommand::Param { command: ParamCommand::List } => {
            let (params, raw) = gov::params(client).await?;
            Ok(out(raw, gov::format_params(&params)))
        }
        GovCommand::Param { command: ParamCommand::Vote { tx, name, value } } => {
            send(client, tx, gov::vote_param(&name, &value)?, Amount::ZERO).await
        }
        GovCommand::Evidence { command: EvidenceCommand::Submit { tx, file } } => {
            let text = super::read_input(&file, 1 << 20, "evidence is at most 96 KiB, hex-encoded")?;
            let evidence = aergo_types::Evidence::from_hex(&text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            evidence.kind().map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            send(client, tx, GovCall::Evidence(Box::new(evidence)), Amount::ZERO).await
        }
        GovCommand::Evidence { command: EvidenceCommand::List } => {
            let raw = gov::call_dpos(client, "getOffences", json!([])).await?;
            Ok(out(raw.clone(), gov::format_offences(&raw)))
        }
        GovCommand::Param { command: ParamCommand::Votes { name } } => {
            let param = gov::parse_param(&name)?;
            let (tallies, raw) = gov::param_votes(client, param).await?;
            Ok(out(raw, gov::format_param_votes(param, &tallies)))
        }
    }
}

async fn send(client: &RpcClient, a: GovTxArgs, call: GovCall, amount: Amount) -> anyhow::Result<Output> {
    let (from, key) = a.signer.signer()?;
    let t = GovTx { call, amount, nonce: a.signer.nonce, gas_limit: a.signer.gas_limit };
    let sent = gov::preflight_and_send(client, &key, &t, a.no_check, a.signer.wait_timeout_ms()).await?;
    let nonce = sent.tx.body.as_ref().map_or(0, |b| b.nonce);
    let what = match &t.call {
        GovCall::Stake => format!("stake of {} from {from}", amount.format(Unit::Aergo)),
        GovCall::Unstake => format!("unstake of {} to {from}", amount.format(Unit::Aergo)),
        GovCall::VoteBp(ids) => format!("vote of {from} for {} candidate(s)", ids.len()),
        GovCall::VoteDao { param, value } => {
            format!("vote of {from} for {} = {}", param.dao_id(), param.describe(*value))
        }
        GovCall::Evidence(e) => {
            format!("evidence of {} from {from}", e.kind().map(|k| k.name()).unwrap_or("an offence"))
        }
    };
    let json = json!({
        "hash": sent.hash.to_string(),
        "from": from.to_string(),
        "to": aergo_types::address::AERGO_SYSTEM,
        "call": t.call.name(),
        "args": match &t.call {
            // Hundreds of hex characters say nothing to a reader.
            GovCall::Evidence(e) => json!([format!("{} bytes of evidence", e.encode().len())]),
            other => json!(other.args()),
        },
        "amount": amount.aer().to_string(),
        "nonce": nonce,
        "receipt": sent.receipt,
    });
    let mut text = format!("sent {what} (nonce {nonce})\ntx {}", sent.hash);
    if let Some(r) = &sent.receipt {
        text.push_str(&format!("\n\nreceipt\n{}", format::receipt(r)));
    }
    Ok(out(json, text))
}
