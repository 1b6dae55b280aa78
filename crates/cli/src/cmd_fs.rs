//! Arguments and output of `aergo fs put|get|stat|rm|ls` (part of the
//! binary; the work is in `aergo_client::fs`).

use std::io::{Read, Write};
use std::path::PathBuf;

use aergo_client::fs;
use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::{out, Output};

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
    /// The node's files in hash order, and its store's figures.
    Ls {
        /// Start after this hash.
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// `None` when the file went to stdout (nothing else to print).
pub async fn run(command: FsCommand, node: &str) -> anyhow::Result<Option<Output>> {
    Ok(Some(match command {
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
