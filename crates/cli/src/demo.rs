//! `aergo demo`: the whole main job in one command. A dev chain in a
//! temporary directory, a node on a free loopback port, one signed transfer
//! through the JSON-RPC API on the same code path as `aergo send`, and the
//! books checked: the sender pays amount plus fee, the recipient gets the
//! amount, the producer's coinbase gets the fee.

use std::time::Instant;

use aergo_crypto::PrivateKey;
use aergo_node::{init_dev_data_dir, NodeConfig};
use aergo_types::{Address, Amount, Hash, Unit};
use serde_json::{json, Value};

use aergo_client::client::{amount_field, RpcClient};
use aergo_client::keys::{dev_account, parse_account};
use aergo_client::transfer::{send_transfer, Transfer};
use aergo_client::{CliError, Result};

/// Block interval of the demo chain: short, so the demo takes moments.
pub const DEMO_BLOCK_INTERVAL_MS: u64 = 100;
/// How long the demo waits for its transfer to be included.
pub const DEMO_TIMEOUT_MS: u64 = 20_000;

/// The demo's findings, as JSON and as text.
pub struct DemoReport {
    pub json: Value,
    pub text: String,
}

struct Balances {
    sender: Amount,
    recipient: Amount,
    coinbase: Amount,
}

async fn balances(client: &RpcClient, at: u64, who: [&Address; 3]) -> Result<Balances> {
    Ok(Balances {
        sender: client.account(who[0], Some(at)).await?.balance,
        recipient: client.account(who[1], Some(at)).await?.balance,
        coinbase: client.account(who[2], Some(at)).await?.balance,
    })
}

fn diff(after: Amount, before: Amount) -> i128 {
    after.aer() as i128 - before.aer() as i128
}

/// Runs the demo: starts, transfers, checks, shuts down.
pub async fn run_demo() -> Result<DemoReport> {
    let started = Instant::now();
    let tmp = tempfile::Builder::new().prefix("aergo-demo-").tempdir().map_err(|source| CliError::Io {
        what: "creating a temporary directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    config.solo.block_interval_ms = DEMO_BLOCK_INTERVAL_MS;
    init_dev_data_dir(tmp.path(), config.clone())?;
    let running = aergo_client::devnode::start(tmp.path(), config).await?;
    let url = format!("http://{}", running.rpc_addr);
    let outcome = transfer_and_check(&url).await;
    running.shutdown().await;
    let mut report = outcome?;
    let total_ms = started.elapsed().as_millis() as u64;
    report.json["totalMs"] = json!(total_ms);
    report.text.push_str(&format!("\ndemo done in {total_ms} ms (node stopped, temporary chain removed)"));
    Ok(report)
}

async fn transfer_and_check(url: &str) -> Result<DemoReport> {
    let client = RpcClient::new(url)?;
    let status = client.status().await?;
    let coinbase = parse_account(status.raw.get("producer").and_then(Value::as_str).ok_or_else(|| {
        CliError::BadResponse { method: "status".into(), url: url.into(), reason: "no producer".into() }
    })?)?;
    let sender_key = dev_account(0)?;
    let sender = sender_key.address();
    // A brand-new recipient: its balance starts at zero.
    let recipient = PrivateKey::generate()?.address();
    let amount = Amount::parse("1.5 aergo")?;
    let who = [&sender, &recipient, &coinbase];
    let before = balances(&client, status.height, who).await?;

    let t0 = Instant::now();
    let transfer = Transfer { to: recipient.clone(), amount, nonce: None, payload: Vec::new(), gas_limit: 0 };
    let sent = send_transfer(&client, &sender_key, &transfer, Some(DEMO_TIMEOUT_MS)).await?;
    let latency_ms = t0.elapsed().as_millis() as u64;
    let receipt = sent.receipt.unwrap_or(Value::Null);
    let bad = |reason: String| CliError::BadResponse { method: "getReceipt".into(), url: url.into(), reason };
    let fee = amount_field(&receipt, "fee").map_err(bad)?;
    let height = receipt.get("blockHeight").and_then(Value::as_u64).ok_or_else(|| bad("no blockHeight".into()))?;
    let after = balances(&client, height, who).await?;

    // The books must balance exactly; anything else is a bug worth failing on.
    let paid = amount.aer() as i128 + fee.aer() as i128;
    let checks = [
        ("sender paid amount + fee", diff(after.sender, before.sender), -paid),
        ("recipient got the amount", diff(after.recipient, before.recipient), amount.aer() as i128),
        ("coinbase got the fee", diff(after.coinbase, before.coinbase), fee.aer() as i128),
    ];
    for (what, got, want) in checks {
        if got != want {
            return Err(CliError::Bench {
                reason: format!("demo check failed: {what}: change {got} aer, expected {want}"),
            });
        }
    }
    let fmt = |a: Amount| a.format(Unit::Aergo);
    let json = json!({
        "rpcUrl": url,
        "chainIdHash": status.chain_id_hash.to_string(),
        "tx": sent.hash.to_string(),
        "amount": amount.aer().to_string(),
        "fee": fee.aer().to_string(),
        "latencyMs": latency_ms,
        "receipt": receipt,
        "sender": { "address": sender.to_string(), "before": before.sender.aer().to_string(), "after": after.sender.aer().to_string() },
        "recipient": { "address": recipient.to_string(), "before": before.recipient.aer().to_string(), "after": after.recipient.aer().to_string() },
        "coinbase": { "address": coinbase.to_string(), "before": before.coinbase.aer().to_string(), "after": after.coinbase.aer().to_string() },
    });
    let hash: &Hash = &sent.hash;
    let text = format!(
        "dev node on {url} (chain {}, fresh temporary data directory)\n\
         sent {} from dev:0 {sender}\n\
         \x20 to a new account {recipient}\n\
         tx {hash}: included in block {height} after {latency_ms} ms\n\n\
         receipt\n{}\n\n\
         balances (before -> after)\n\
         \x20 sender     {} -> {}\n\
         \x20 recipient  {} -> {}\n\
         \x20 coinbase   {} -> {}  (the producer collects the fee)\n\
         fee {} = gas used {} x gas price {}\n\
         checked: sender paid amount + fee, recipient got the amount, coinbase got the fee",
        status.raw["chainId"]["magic"].as_str().unwrap_or("?"),
        fmt(amount),
        indent(&crate::format::receipt(&receipt)),
        fmt(before.sender),
        fmt(after.sender),
        fmt(before.recipient),
        fmt(after.recipient),
        fmt(before.coinbase),
        fmt(after.coinbase),
        fmt(fee),
        receipt.get("gasUsed").and_then(Value::as_u64).unwrap_or(0),
        status.gas_price.format(Unit::Gaer),
    );
    Ok(DemoReport { json, text })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
