//! `aergo node backup`: a running node's chain, up to its last irreversible
//! block, fetched through the JSON-RPC API into a backup file (the format
//! and the restore are `aergo_node::backup`'s).

use std::path::{Path, PathBuf};

use aergo_node::backup::BackupWriter;
use aergo_types::Block;
use serde_json::json;

use crate::client::RpcClient;
use crate::error::{CliError, Result};

/// Blocks asked for per call (the API's own bound is 100).
const BATCH_BLOCKS: u64 = 100;

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    pub path: PathBuf,
    /// The last block in it: the node's LIB when the backup started.
    pub height: u64,
    pub blocks: u64,
    pub bytes: u64,
    pub with_config: bool,
    pub with_node_key: bool,
}

fn bad(reason: impl Into<String>) -> CliError {
    CliError::Task { what: "taking the backup", reason: reason.into() }
}

/// Writes the chain of the node behind `client`, up to its LIB at the
/// start, to `out` (through a temporary file renamed at the end, so a
/// failed backup leaves no file that looks whole). With `data_dir` (the
/// node's data directory, on this machine), its `config.toml` and
/// `node.key` go in too.
pub async fn backup(client: &RpcClient, out: &Path, data_dir: Option<&Path>) -> Result<BackupReport> {
    let status = client.call("status", json!([])).await?;
    let target = status["lib"]["height"].as_u64().ok_or_else(|| bad("the node reports no LIB height"))?;
    let genesis = client.call("getGenesis", json!([])).await?;
    let genesis = genesis["genesis"].as_str().ok_or_else(|| bad("getGenesis gave no genesis text"))?.to_string();
    let tmp = out.with_extension("partial");
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| CliError::Io { what, path, source }
    };
    // The backup may hold the node key: never readable by others.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&tmp).map_err(io("creating", &tmp))?;
    let result = async {
        let mut w = BackupWriter::new(std::io::BufWriter::new(file), &genesis)?;
        let (mut with_config, mut with_node_key) = (false, false);
        if let Some(dir) = data_dir {
            let read = |name: &str| -> Result<String> {
                let p = dir.join(name);
                crate::devnode::read_bounded(&p, 1 << 20)
            };
            if dir.join("genesis.json").exists() {
                let local = aergo_types::Genesis::from_json(&read("genesis.json")?)?;
                if local.to_json()? != genesis {
                    return Err(bad(format!("{} holds another chain than the node", dir.display())));
                }
            }
            if dir.join("config.toml").exists() {
                w.config(&read("config.toml")?)?;
                with_config = true;
            }
            if dir.join("node.key").exists() {
                w.node_key(&read("node.key")?)?;
                with_node_key = true;
            }
        }
        let mut from = 1u64;
        while from <= target {
            let count = BATCH_BLOCKS.min(target - from + 1);
            let got = client.call("getRawBlocks", json!([from, count])).await?;
            let blocks = got["blocks"].as_array().ok_or_else(|| bad("getRawBlocks gave no block list"))?;
            if blocks.is_empty() {
                return Err(bad(format!("the node has no block {from} (its LIB was {target})")));
            }
            for b in blocks {
                let bytes = hex::decode(b.as_str().unwrap_or_default()).map_err(|e| bad(format!("block hex: {e}")))?;
                let block = Block::decode_bounded(&bytes).map_err(|e| bad(format!("block {from}: {e}")))?;
                w.block(&block)?;
                from += 1;
                if from > target {
                    break;
                }
            }
        }
        let (blocks, file) = w.finish()?;
        file.into_inner()
            .map_err(|e| bad(format!("writing: {}", e.error())))?
            .sync_all()
            .map_err(|e| bad(format!("syncing: {e}")))?;
        Ok((blocks, with_config, with_node_key))
    }
    .await;
    match result {
        Ok((blocks, with_config, with_node_key)) => {
            std::fs::rename(&tmp, out).map_err(io("renaming into", out))?;
            let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
            Ok(BackupReport { path: out.to_path_buf(), height: target, blocks, bytes, with_config, with_node_key })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
