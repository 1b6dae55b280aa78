//! aergo-cli: the `aergo` command line: argument parsing and printing,
//! and the client-side commands that only it has.
//!
//! Bird's-eye view. The binary (`src/main.rs`) parses arguments with clap
//! (the signer options every sending command shares are one group,
//! `SignerArgs`), dispatches, and prints either friendly text or exactly
//! one JSON document (`--json`). The work lives in libraries:
//!
//! - `aergo_client`: the JSON-RPC client, keys, transfers, contract
//!   transactions, data directories and nodes started in this process
//!   (`init`, `node`, and everything that talks to a node);
//! - `aergo_horde`: `aergo horde`, local networks of node processes (the
//!   nodes are this binary, `aergo node`);
//! - `aergo_lab`: `aergo bench transfer|contract|network` and their
//!   reference systems (PostgreSQL);
//! - this crate's library, the commands only the CLI has:
//!   - [`format`]: friendly text for the node's JSON answers;
//!   - [`gov`]: staking, producer votes and governance parameters
//!     (`aergo.system` calls, their checks, and the DPoS reads);
//!   - [`shell`]: the interactive read-only SQL shell (`aergo sql`);
//!   - [`demo`]: the one-command tour (dev chain, transfer, books checked);
//!   - [`syncbar`]: the progress of a node catching up with its peers.
//!
//! The CLI talks to a node only through its public JSON-RPC API (and, for
//! `node`, `demo` and `bench`, starts one through `aergo_node`'s public
//! API). It deliberately does not read a node's stores directly.

pub mod demo;
pub mod format;
pub mod gov;
pub mod shell;
pub mod syncbar;
