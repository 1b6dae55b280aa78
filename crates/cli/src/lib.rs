//! aergo-cli: the `aergo` command line, and the client library it is made
//! of (also used by the end-to-end tests).
//!
//! Bird's-eye view. The binary (`src/main.rs`) parses arguments with clap
//! and prints either friendly text or exactly one JSON document (`--json`).
//! Everything it does goes through this library:
//!
//! - [`client`]: a JSON-RPC 2.0 client ([`client::RpcClient`]: calls,
//!   batches, typed `status`/`getAccount`/`sendTx`/receipt polling) and the
//!   WebSocket `blocks` subscription ([`client::BlockSubscription`]);
//! - [`keys`]: which key signs (`--key`, the deterministic dev accounts,
//!   the encrypted keystore) and where passphrases come from;
//! - [`transfer`]: build, sign and submit a transfer, the one path that
//!   `send`, `demo` and the tests share;
//! - [`devnode`]: `init` (genesis, config, node key, treasury account),
//!   configuration overrides, and starting a node in this process;
//! - [`demo`]: the one-command tour (dev chain, transfer, books checked);
//! - [`bench`]: the end-to-end transfer benchmark against the machine's
//!   signature verification rate;
//! - [`format`]: friendly text for the node's JSON answers;
//! - [`gov`]: staking, producer votes and governance parameters
//!   (`aergo.system` calls, their checks, and the DPoS reads);
//! - [`horde`]: a local multi-node DPoS network (`aergo horde`), whose
//!   node processes [`procs`] starts and stops;
//! - [`syncbar`]: the progress of a node catching up with its peers.
//!
//! The CLI talks to a node only through its public JSON-RPC API (and, for
//! `node`, `demo` and `bench`, starts one through `aergo_node`'s public
//! API). It deliberately does not read a node's stores directly.

pub mod bench;
pub mod bench_contract;
pub mod bench_network;
pub mod client;
pub mod contract;
pub mod demo;
pub mod devnode;
mod error;
pub mod format;
pub mod gov;
pub mod horde;
pub mod keys;
pub mod pg;
pub mod procs;
pub mod shell;
pub mod syncbar;
pub mod transfer;

pub use error::{CliError, Result};
