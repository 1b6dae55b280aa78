//! Starting nodes from the command line: configuration overrides, data
//! directory initialisation (`init`, `node --dev`) and in-process nodes for
//! `demo` and `bench`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aergo_crypto::{Keystore, PrivateKey, ScryptParams};
use aergo_node::{init_data_dir, DataDir, InitOptions, Node, NodeConfig, RunningNode};
use aergo_types::{AllocationCategory, ChainId, Genesis, Grant};

use crate::error::{CliError, Result};

/// Default chain magic of `aergo init`.
pub const DEFAULT_CHAIN_MAGIC: &str = "aergo.private";
/// Consensus of chains made by `aergo init` (solo; DPoS is not built yet).
pub const INIT_CONSENSUS: &str = "sbp";

/// Settings given on the command line that win over `config.toml`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub rpc_listen: Option<SocketAddr>,
    pub grpc_listen: Option<SocketAddr>,
    pub block_interval_ms: Option<u64>,
    pub produce_empty_blocks: bool,
}

impl Overrides {
    pub fn apply(&self, config: &mut NodeConfig) {
        if let Some(a) = self.rpc_listen {
            config.rpc.listen = a;
        }
        if let Some(a) = self.grpc_listen {
            config.grpc.listen = a;
        }
        if let Some(ms) = self.block_interval_ms {
            config.solo.block_interval_ms = ms;
        }
        if self.produce_empty_blocks {
            config.solo.produce_empty_blocks = true;
        }
    }
}

/// The configuration of `dir` (its `config.toml`, or the defaults).
pub fn load_config(dir: &Path) -> Result<NodeConfig> {
    let path = dir.join("config.toml");
    if path.exists() {
        Ok(NodeConfig::load(&path)?)
    } else {
        Ok(NodeConfig::default())
    }
}

/// Opens the node in `dir` with `config` and starts its RPC server and
/// producer.
pub async fn start(dir: &Path, config: NodeConfig) -> Result<RunningNode> {
    let dir = dir.to_path_buf();
    // Opening checks the stores (redb recovery after a crash can take a
    // moment): keep it off the event loop.
    let node = tokio::task::spawn_blocking(move || Node::open_with_config(&dir, config))
        .await
        .map_err(|e| CliError::Task { what: "opening the node", reason: e.to_string() })??;
    Ok(Arc::new(node).start().await?)
}

/// A new directory under the system's temporary directory that outlives
/// this process (the dev chain in it can be reused with `--dir`).
pub fn kept_temp_dir(prefix: &str) -> Result<PathBuf> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().map_err(|source| CliError::Io {
        what: "creating a temporary directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    Ok(dir.keep())
}

/// What `aergo init` needs.
pub struct InitRequest<'a> {
    pub dir: &'a Path,
    /// A genesis file; without one, a treasury account gets everything.
    pub genesis: Option<&'a Path>,
    pub chain_magic: &'a str,
    /// Passphrase of the treasury key (only without `genesis`).
    pub password: Option<String>,
    pub scrypt: ScryptParams,
    pub config: NodeConfig,
}

/// What `aergo init` made.
pub struct Initialised {
    pub data_dir: DataDir,
    /// The treasury account holding the whole allocation, if one was made.
    pub treasury: Option<aergo_types::Address>,
    pub keystore: PathBuf,
}

/// Initialises a data directory: genesis, config and a new node key, and
/// (without a genesis file) a treasury account in `dir/keystore`.
pub fn init(req: InitRequest<'_>) -> Result<Initialised> {
    if DataDir::is_initialised(req.dir) {
        return Err(CliError::invalid(
            "--dir",
            &req.dir.display().to_string(),
            "already initialised (genesis.json exists); choose another directory",
        ));
    }
    let keystore_dir = req.dir.join("keystore");
    let (genesis, treasury) = match req.genesis {
        Some(path) => {
            let text = read_bounded(path, aergo_types::genesis::GENESIS_MAX_BYTES)?;
            (Genesis::from_json(&text)?, None)
        }
        None => {
            let password = req.password.ok_or_else(|| CliError::Password {
                reason: "the treasury key needs a passphrase: pass --password or set AERGO_PASSWORD".into(),
            })?;
            let chain_id = ChainId::new(0, false, false, req.chain_magic, INIT_CONSENSUS)?;
            let key = PrivateKey::generate()?;
            let treasury = key.address();
            let allocation: BTreeMap<AllocationCategory, Vec<Grant>> = AllocationCategory::ALL
                .iter()
                .map(|c| (*c, vec![Grant { address: treasury.clone(), amount: c.share() }]))
                .collect();
            let genesis = Genesis::new(chain_id, now_ns(), allocation, Vec::new())?;
            // The key is stored before the chain is written: a leftover key
            // file is harmless, a chain whose treasury key is lost is not.
            Keystore::open(&keystore_dir)?.with_scrypt_params(req.scrypt).import(&key, &password)?;
            (genesis, Some(treasury))
        }
    };
    let data_dir =
        init_data_dir(req.dir, InitOptions { genesis, node_key: PrivateKey::generate()?, config: req.config })?;
    Ok(Initialised { data_dir, treasury, keystore: keystore_dir })
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads a text file of at most `max_bytes`.
pub fn read_bounded(path: &Path, max_bytes: usize) -> Result<String> {
    let io = |source| CliError::Io { what: "reading", path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > max_bytes as u64 {
        return Err(CliError::invalid(
            "file",
            &path.display().to_string(),
            format!("{len} bytes, at most {max_bytes}"),
        ));
    }
    std::fs::read_to_string(path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_makes_a_treasury_chain_and_refuses_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node");
        let req = |password: Option<&str>| InitRequest {
            dir: &dir,
            genesis: None,
            chain_magic: "test.chain",
            password: password.map(str::to_string),
            scrypt: ScryptParams::insecure_fast(),
            config: NodeConfig::default(),
        };
        let e = init(req(None)).err().unwrap().to_string();
        assert!(e.contains("--password"), "{e}");
        let made = init(req(Some("pw"))).unwrap();
        let treasury = made.treasury.unwrap();
        let balances = made.data_dir.genesis.balances().unwrap();
        assert_eq!(balances.len(), 1);
        assert_eq!(balances[&treasury], aergo_types::Amount::TOTAL_SUPPLY);
        assert_eq!(made.data_dir.genesis.chain_id.magic, "test.chain");
        let ks = Keystore::open(&made.keystore).unwrap();
        assert_eq!(ks.list().unwrap(), vec![treasury.clone()]);
        assert_eq!(ks.load(&treasury, "pw").unwrap().address(), treasury);
        let e = init(req(Some("pw"))).err().unwrap().to_string();
        assert!(e.contains("already initialised"), "{e}");

        // The same genesis, given as a file, makes another node of the chain.
        let other = tmp.path().join("other");
        let gfile = tmp.path().join("genesis.json");
        std::fs::write(&gfile, made.data_dir.genesis.to_json().unwrap()).unwrap();
        let second = init(InitRequest { dir: &other, genesis: Some(&gfile), ..req(None) }).unwrap();
        assert_eq!(second.data_dir.genesis, made.data_dir.genesis);
        assert!(second.treasury.is_none());
    }

    #[test]
    fn overrides_win() {
        let mut c = NodeConfig::default();
        Overrides {
            rpc_listen: Some("127.0.0.1:0".parse().unwrap()),
            block_interval_ms: Some(100),
            ..Default::default()
        }
        .apply(&mut c);
        assert_eq!(c.rpc.listen.port(), 0);
        assert_eq!(c.solo.block_interval_ms, 100);
        assert!(!c.solo.produce_empty_blocks);
    }
}
