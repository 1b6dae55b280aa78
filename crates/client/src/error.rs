//! The one error enum of the tools: this crate, `aergo-horde`, `aergo-lab`
//! and the `aergo` command line.

use std::path::PathBuf;

/// Every way a CLI operation can fail. Messages say what was expected, what
/// came, and (where there is one) what to do about it. Secrets and
/// passphrases never appear in them.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "cannot reach the node at {url}: {reason} (is a node running? start one with `aergo node --dev`, \
         or point --rpc / AERGO_RPC at it)"
    )]
    Connect { url: String, reason: String },

    #[error("{method}: the node answered with error {code}: {message}")]
    Rpc {
        method: String,
        code: i64,
        message: String,
        /// The stable reason code of a refused transaction
        /// (`error.data.reason`, e.g. `NONCE_TOO_LOW`).
        reason: Option<String>,
    },

    #[error("{method}: unexpected answer from {url}: {reason}")]
    BadResponse { method: String, url: String, reason: String },

    #[error("the node at {url} is not healthy (HTTP {status}): {reason}")]
    Unhealthy { url: String, status: u16, reason: String },

    #[error("timed out after {timeout_ms} ms waiting for {what}")]
    Timeout { what: String, timeout_ms: u64 },

    #[error("invalid {what} {input:?}: {reason}")]
    InvalidInput { what: &'static str, input: String, reason: String },

    #[error("password: {reason}")]
    Password { reason: String },

    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("websocket {url}: {reason}")]
    WebSocket { url: String, reason: String },

    /// A transaction that was included but failed (its fee is paid).
    #[error("transaction {hash} failed ({status}): {message}")]
    TxFailed { hash: String, status: String, message: String, receipt: Box<serde_json::Value> },

    #[error("{what}: {reason}")]
    PostgreSql { what: String, reason: String },

    #[error("benchmark: {reason}")]
    Bench { reason: String },

    #[error("{what} failed: {reason}")]
    Task { what: &'static str, reason: String },

    #[error("{call} not sent: {reason}")]
    GovRefused { call: &'static str, reason: String },

    #[error("transaction {hash} was dropped by the node without a receipt: {reason}")]
    TxDropped { hash: String, reason: String },

    #[error("horde {}: {reason}", dir.display())]
    Horde { dir: PathBuf, reason: String },

    #[error(transparent)]
    Crypto(#[from] aergo_crypto::CryptoError),

    #[error(transparent)]
    Types(#[from] aergo_types::TypesError),

    #[error(transparent)]
    Node(#[from] aergo_node::NodeError),
}

impl CliError {
    /// The JSON-RPC error code, if the node answered with an error.
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            CliError::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The reason code of a transaction the node refused.
    pub fn reason(&self) -> Option<&str> {
        match self {
            CliError::Rpc { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// The process exit status for this error (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::InvalidInput { .. } | CliError::Password { .. } => exit::USAGE,
            CliError::Connect { .. } | CliError::WebSocket { .. } => exit::UNREACHABLE,
            CliError::Rpc { code, .. } if *code == aergo_rpc::NOT_FOUND => exit::NOT_FOUND,
            CliError::Rpc { code, .. } if *code == aergo_rpc::REJECTED => exit::REJECTED,
            CliError::Rpc { code, .. } if *code == aergo_rpc::INVALID_PARAMS => exit::USAGE,
            CliError::GovRefused { .. } => exit::REJECTED,
            CliError::TxFailed { .. } | CliError::TxDropped { .. } => exit::TX_FAILED,
            CliError::Timeout { .. } => exit::TIMEOUT,
            _ => exit::FAILURE,
        }
    }

    /// An input that does not parse or is out of range.
    pub fn invalid(what: &'static str, input: &str, reason: impl Into<String>) -> CliError {
        // Inputs can be long (payloads); keep messages readable.
        let mut shown: String = input.chars().take(120).collect();
        if shown.len() < input.len() {
            shown.push_str("...");
        }
        CliError::InvalidInput { what, input: shown, reason: reason.into() }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// Exit statuses of the `aergo` command, one per kind of failure, so
/// scripts can tell them apart without parsing messages.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any failure not listed below (a local file, the node's own error).
    pub const FAILURE: u8 = 1;
    /// The command line or an input on it is wrong (clap's own errors use
    /// it too).
    pub const USAGE: u8 = 2;
    /// The node cannot be reached.
    pub const UNREACHABLE: u8 = 3;
    /// The node has no such block, transaction, account or contract.
    pub const NOT_FOUND: u8 = 4;
    /// The node refused the transaction (see the reason code).
    pub const REJECTED: u8 = 5;
    /// The transaction was included but failed, or was dropped.
    pub const TX_FAILED: u8 = 6;
    /// Waiting (for a receipt, a block) timed out.
    pub const TIMEOUT: u8 = 7;
}
