//! Arguments and output of `aergo fs put|get|stat|rm|ls` (part of the
//! binary; the work is in `aergo_client::fs`).

use std::io::{Read, Write};
use std::path::PathBuf;

use aergo_client::client::RpcClient;
use aergo_client::{files, fs};
use aergo_types::payload::FileCall;
use aergo_types::Hash;
use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::{out, Output, SignerArgs};

#[derive(Subcommand)]
pub enum FsCommand {
    /// Store a file (or `-` for stdin) on the node; prints its hash.
    Put {
        file: String,
        /// Content type served with it [default: from the extension].
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Fetch a file by hash (checked against it) into a file or stdout.
    Get {
        hash: String,
        /// Write here instead of stdout.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Size and content type of a file.
    Stat { hash: String },
    /// Delete a file (from the node's own machine only).
    Rm { hash: String },
    /// Record a file on chain (`aergo.fs`) so contracts can reference it
    /// by hash (`aergo_file_size(hash)`) and nodes replicate it, paying
    /// the fee at the prices in force (`FILEPRICE` per byte, 1 gaer until
    /// a vote sets it, and `FILERENT` per byte per block held). Size and
    /// hash come from the node's copy.
    Register {
        hash: String,
        /// Hold it for this many blocks (required while rent is in force;
        /// without it the record has no end).
        #[arg(long)]
        blocks: Option<u64>,
        #[command(flatten)]
        signer: Box<SignerArgs>,
    },
    /// Hold a file with a term for more blocks, paying the rent (anyone
    /// may).
    Extend {
        hash: String,
        #[arg(long)]
        blocks: u64,
        #[command(flatten)]
        signer: Box<SignerArgs>,
    },
    /// Drop a file's on-chain record (its owner only; no refund).
    Release {
        hash: String,
        #[command(flatten)]
        signer: Box<SignerArgs>,
    },
    /// The chain's record of a file: size, owner, height, term.
    Record { hash: String },
    /// The node's files in hash order, and its store's figures.
    Ls {
        /// Start after this hash.
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

fn parse_hash(text: &str) -> anyhow::Result<Hash> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let h = if digits.len() == 64 { Hash::from_hex(digits) } else { Hash::from_base58(text) };
    h.map_err(|e| anyhow::anyhow!("{text:?} is not a file hash (base58, or 64 hex digits): {e}"))
}

/// `None` when the file went to stdout (nothing else to print).
pub async fn run(command: FsCommand, client: &RpcClient) -> anyhow::Result<Option<Output>> {
    let node = client.url();
    Ok(Some(match command {
        FsCommand::Register { hash, blocks, signer } => {
            let hash = parse_hash(&hash)?;
            let size = fs::stat(node, &hash.to_hex()).await?["size"]
                .as_u64()
                .ok_or_else(|| anyhow::anyhow!("the node did not say the file's size"))?;
            file_call(client, FileCall::Register { hash, size, blocks }, &signer).await?
        }
        FsCommand::Extend { hash, blocks, signer } => {
            file_call(client, FileCall::Extend { hash: parse_hash(&hash)?, blocks }, &signer).await?
        }
        FsCommand::Release { hash, signer } => {
            file_call(client, FileCall::Release { hash: parse_hash(&hash)? }, &signer).await?
        }
        FsCommand::Record { hash } => {
            let hash = parse_hash(&hash)?;
            let v = files::record(client, &hash).await?;
            if v.is_null() {
                return Err(aergo_client::CliError::Rpc {
                    method: "fs record".into(),
                    code: aergo_rpc::NOT_FOUND,
                    message: format!("file {} is not registered on chain", hash.to_hex()),
                    reason: None,
                }
                .into());
            }
            let held = match v["until"].as_u64() {
                Some(u) => format!(", held through height {u}"),
                None => ", held without end".to_string(),
            };
            let text = format!(
                "{} bytes, owner {}, since height {}{held}",
                v["size"],
                v["owner"].as_str().unwrap_or(""),
                v["height"]
            );
            out(v, text)
        }
        FsCommand::Put { file, content_type } => {
            let (data, name) = if file == "-" {
                let mut buf = Vec::new();
                std::io::stdin().read_to_end(&mut buf).context("reading stdin")?;
                (buf, String::new())
            } else {
                (std::fs::read(&file).with_context(|| format!("reading {file}"))?, file.clone())
            };
            let ct = content_type.unwrap_or_else(|| fs::guess_content_type(&name).to_string());
            let v = fs::put(node, data, &ct).await?;
            let text = v["hash"].as_str().unwrap_or_default().to_string();
            out(v, text)
        }
        FsCommand::Get { hash, out: path } => {
            let d = fs::get(node, &hash).await?;
            match path {
                Some(p) => {
                    std::fs::write(&p, &d.data).with_context(|| format!("writing {}", p.display()))?;
                    out(
                        json!({ "hash": hash, "size": d.data.len(), "contentType": d.content_type, "path": p.display().to_string() }),
                        format!("{} bytes written to {}", d.data.len(), p.display()),
                    )
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(&d.data).context("writing stdout")?;
                    stdout.flush().context("writing stdout")?;
                    return Ok(None);
                }
            }
        }
        FsCommand::Stat { hash } => {
            let v = fs::stat(node, &hash).await?;
            let text = format!("{} bytes, {}", v["size"], v["contentType"].as_str().unwrap_or(""));
            out(v, text)
        }
        FsCommand::Rm { hash } => {
            let v = fs::rm(node, &hash).await?;
            out(v, format!("deleted {hash}"))
        }
        FsCommand::Ls { after, limit } => {
            let v = fs::ls(node, after.as_deref(), limit).await?;
            let mut text: String = v["files"]
                .as_array()
                .map(|a| a.iter().map(|f| format!("{}\n", f["hash"].as_str().unwrap_or(""))).collect())
                .unwrap_or_default();
            let s = &v["stats"];
            text.push_str(&format!(
                "{} files, {} volume bytes ({} reclaimable), quota {}",
                s["files"], s["volumeBytes"], s["deadBytes"], s["quotaBytes"]
            ));
            out(v, text)
        }
    }))
}

async fn file_call(client: &RpcClient, call: FileCall, signer: &SignerArgs) -> anyhow::Result<Output> {
    let (from, key) = signer.signer()?;
    let sent = files::send_file_call(client, &key, &call, None, signer.nonce, signer.wait_timeout_ms()).await?;
    let json = json!({
        "hash": sent.hash.to_string(),
        "from": from.to_string(),
        "to": aergo_types::address::AERGO_FS,
        "call": call.call(),
        "file": call.hash().to_hex(),
        "amount": sent.tx.body.as_ref().and_then(|b| b.amount().ok()).unwrap_or_default().aer().to_string(),
        "receipt": sent.receipt,
    });
    let mut text = format!("sent {} of {} from {from}\ntx {}", call.call(), call.hash().to_hex(), sent.hash);
    if let Some(r) = &sent.receipt {
        text.push_str(&format!("\n\nreceipt\n{}", aergo_cli::format::receipt(r)));
    }
    Ok(out(json, text))
}
