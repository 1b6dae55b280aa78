//! aergo-client: talking to an AERGO node from outside it, the part every
//! tool shares: the `aergo` command line, the benchmark lab
//! (`aergo-lab`), local networks (`aergo-horde`) and the end-to-end tests.
//!
//! Bird's-eye view:
//!
//! - [`client`]: a JSON-RPC 2.0 client ([`client::RpcClient`]: calls,
//!   batches, typed `status`/`getAccount`/`sendTx`/receipt polling) and the
//!   WebSocket `blocks` subscription ([`client::BlockSubscription`]);
//! - [`keys`]: which key signs (`--key`, the deterministic dev accounts,
//!   the encrypted keystore) and where passphrases come from;
//! - [`transfer`]: build, sign and submit a transfer;
//! - [`contract`]: deploy and call transactions of SQL contracts (payloads
//!   from `aergo_types::payload`, the executor's own framing) and the
//!   read-only contract API;
//! - [`devnode`]: data directories (`aergo init`), configuration
//!   overrides, and a node started in this process (for `aergo node`,
//!   `demo` and the benchmarks);
//! - [`CliError`]: the one error type of all of them, whose messages are
//!   what the `aergo` command prints.
//!
//! A node is reached only through its public JSON-RPC API (or started
//! through `aergo_node`'s public API); nothing here reads a node's stores.
//!
//! Dependencies point one way: `aergo-cli` -> `aergo-lab` ->
//! `aergo-horde` -> `aergo-client` -> (`aergo-node`, `aergo-types`,
//! `aergo-crypto`).

pub mod backup;
pub mod branches;
pub mod client;
pub mod contract;
pub mod devnode;
mod error;
pub mod files;
pub mod fs;
pub mod keys;
pub mod names;
pub mod transfer;

pub use error::{exit, CliError, Result};
