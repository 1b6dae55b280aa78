//! The data directory: files a node needs and how they are created.

use std::path::{Path, PathBuf};

use aergo_crypto::{dev_genesis, dev_key, PrivateKey};
use aergo_types::{Amount, ChainId, Genesis};

use crate::{NodeConfig, NodeError};

/// Dev accounts prefunded by `aergo node --dev`.
pub const DEV_ACCOUNTS: u32 = 10;
/// Balance of each dev account.
pub const DEV_ACCOUNT_BALANCE_AERGO: u128 = 1_000_000;
/// Genesis time of every dev chain: fixed, so every dev chain is the same
/// chain and its genesis hash is known in advance.
pub const DEV_GENESIS_TIMESTAMP_NS: i64 = 1_700_000_000_000_000_000;

const CONFIG_FILE: &str = "config.toml";
const GENESIS_FILE: &str = "genesis.json";
const NODE_KEY_FILE: &str = "node.key";

/// The loaded contents of a data directory.
pub struct DataDir {
    pub path: PathBuf,
    pub config: NodeConfig,
    pub genesis: Genesis,
    pub node_key: PrivateKey,
}

/// What `init` writes.
pub struct InitOptions {
    pub genesis: Genesis,
    pub node_key: PrivateKey,
    pub config: NodeConfig,
}

fn dd_err(path: &Path, reason: impl Into<String>) -> NodeError {
    NodeError::DataDir { path: path.to_path_buf(), reason: reason.into() }
}

fn write_private(path: &Path, contents: &str) -> Result<(), NodeError> {
    std::fs::write(path, contents).map_err(|e| dd_err(path, format!("cannot write: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| dd_err(path, format!("cannot restrict permissions: {e}")))?;
    }
    Ok(())
}

impl DataDir {
    /// Reads an initialised data directory.
    pub fn load(dir: &Path) -> Result<DataDir, NodeError> {
        let genesis_path = dir.join(GENESIS_FILE);
        if !genesis_path.exists() {
            return Err(dd_err(dir, "not initialised (no genesis.json): run `aergo init --dir DIR` first"));
        }
        let text =
            std::fs::read_to_string(&genesis_path).map_err(|e| dd_err(&genesis_path, format!("cannot read: {e}")))?;
        let genesis = Genesis::from_json(&text).map_err(|e| dd_err(&genesis_path, e.to_string()))?;
        let config_path = dir.join(CONFIG_FILE);
        let config = if config_path.exists() { NodeConfig::load(&config_path)? } else { NodeConfig::default() };
        let key_path = dir.join(NODE_KEY_FILE);
        let key_hex = std::fs::read_to_string(&key_path).map_err(|e| dd_err(&key_path, format!("cannot read: {e}")))?;
        let key_bytes = hex::decode(key_hex.trim()).map_err(|e| dd_err(&key_path, format!("not hex: {e}")))?;
        let node_key = PrivateKey::from_bytes(&key_bytes).map_err(|e| dd_err(&key_path, e.to_string()))?;
        Ok(DataDir { path: dir.to_path_buf(), config, genesis, node_key })
    }

    /// True if `dir` holds a genesis file.
    pub fn is_initialised(dir: &Path) -> bool {
        dir.join(GENESIS_FILE).exists()
    }
}

/// Writes a new data directory; refuses one that is already initialised.
pub fn init_data_dir(dir: &Path, opts: InitOptions) -> Result<DataDir, NodeError> {
    if DataDir::is_initialised(dir) {
        return Err(dd_err(dir, "already initialised (genesis.json exists); choose another --dir"));
    }
    opts.genesis.validate().map_err(|e| dd_err(dir, format!("invalid genesis: {e}")))?;
    // A configuration the node would refuse to load is not written either.
    opts.config.validate().map_err(|reason| NodeError::Config { reason })?;
    std::fs::create_dir_all(dir).map_err(|e| dd_err(dir, format!("cannot create: {e}")))?;
    let genesis_json = opts.genesis.to_json().map_err(|e| dd_err(dir, e.to_string()))?;
    std::fs::write(dir.join(GENESIS_FILE), genesis_json)
        .map_err(|e| dd_err(dir, format!("cannot write genesis: {e}")))?;
    std::fs::write(dir.join(CONFIG_FILE), opts.config.to_toml())
        .map_err(|e| dd_err(dir, format!("cannot write config: {e}")))?;
    write_private(&dir.join(NODE_KEY_FILE), &hex::encode(opts.node_key.to_bytes()))?;
    DataDir::load(dir)
}

/// The dev chain's genesis and its prefunded keys (the same on every
/// machine).
pub fn dev_chain() -> Result<(Genesis, Vec<PrivateKey>), NodeError> {
    dev_genesis(
        ChainId::dev(),
        DEV_GENESIS_TIMESTAMP_NS,
        DEV_ACCOUNTS,
        Amount::from_aergo(DEV_ACCOUNT_BALANCE_AERGO).map_err(|e| NodeError::Config { reason: e.to_string() })?,
        Vec::new(),
    )
    .map_err(|e| NodeError::Config { reason: e.to_string() })
}

/// Initialises `dir` as a dev chain unless it already is one; returns the
/// directory and the prefunded dev keys.
pub fn init_dev_data_dir(dir: &Path, config: NodeConfig) -> Result<(DataDir, Vec<PrivateKey>), NodeError> {
    let (genesis, keys) = dev_chain()?;
    let dd = if DataDir::is_initialised(dir) {
        let dd = DataDir::load(dir)?;
        if dd.genesis != genesis {
            return Err(dd_err(
                dir,
                "holds a chain other than the dev chain; use `aergo node --dir DIR` without --dev",
            ));
        }
        dd
    } else {
        init_data_dir(dir, InitOptions { genesis, node_key: dev_key("node", 0), config })?
    };
    Ok((dd, keys))
}
