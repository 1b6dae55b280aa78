//! Arguments and output of `aergo name new|update|owner` (part of the
//! binary; the work is in `aergo_client::names`).

use aergo_cli::format;
use aergo_client::client::RpcClient;
use aergo_client::keys;
use aergo_client::names;
use aergo_client::transfer::parse_amount;
use aergo_types::payload::NameCall;
use clap::Subcommand;
use serde_json::json;

use super::{out, Output, SignerArgs};

#[derive(Subcommand)]
pub enum NameCommand {
    /// Register a name (12 lowercase letters and digits) for the sender,
    /// paying the name price (NAMEPRICE; 1 aergo by default).
    New {
        /// The name, e.g. alice1234567.
        name: String,
        /// Amount paid (default: the name price in force).
        #[arg(long)]
        amount: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Hand a name to a new owner (only its owner may), paying the price.
    Update {
        name: String,
        /// The new owner: an Am... address or dev:N.
        #[arg(long)]
        to: String,
        /// Amount paid (default: the name price in force).
        #[arg(long)]
        amount: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Who owns a name and where transfers to it go.
    Owner {
        name: String,
        /// At this height instead of the head.
        #[arg(long)]
        at: Option<u64>,
    },
}

pub async fn run(command: NameCommand, client: &RpcClient) -> anyhow::Result<Output> {
    let (call, amount, signer) = match command {
        NameCommand::Owner { name, at } => {
            let info = names::name_info(client, &name, at).await?;
            let text = format!(
                "name {}\nowner {}\ndestination {}\nsince height {}",
                info["name"].as_str().unwrap_or_default(),
                info["owner"].as_str().unwrap_or_default(),
                info["destination"].as_str().unwrap_or_default(),
                info["height"]
            );
            return Ok(out(info, text));
        }
        NameCommand::New { name, amount, signer } => (NameCall::Create { name }, amount, signer),
        NameCommand::Update { name, to, amount, signer } => {
            (NameCall::Update { name, owner: keys::parse_account(&to)? }, amount, signer)
        }
    };
    let amount = amount.as_deref().map(parse_amount).transpose()?;
    let (from, key) = signer.signer()?;
    let sent = names::send_name_call(client, &key, &call, amount, signer.nonce, signer.wait_timeout_ms()).await?;
    let body = sent.tx.body.as_ref();
    let paid = body.and_then(|b| b.amount().ok()).unwrap_or_default();
    let json = json!({
        "hash": sent.hash.to_string(),
        "from": from.to_string(),
        "to": aergo_types::address::AERGO_NAME,
        "call": call.call(),
        "name": call.name(),
        "amount": paid.aer().to_string(),
        "nonce": body.map_or(0, |b| b.nonce),
        "receipt": sent.receipt,
    });
    let mut text = format!(
        "sent {} {} from {from} paying {}\ntx {}",
        call.call(),
        call.name(),
        paid.format(aergo_types::Unit::Aergo),
        sent.hash
    );
    if let Some(r) = &sent.receipt {
        text.push_str(&format!("\n\nreceipt\n{}", format::receipt(r)));
    }
    Ok(out(json, text))
}
