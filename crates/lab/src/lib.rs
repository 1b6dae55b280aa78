//! aergo-lab: the benchmarks behind `aergo bench`, each measured against a
//! reference system in the same run on the same machine, and the
//! reference systems themselves.
//!
//! Bird's-eye view:
//!
//! - [`transfer`] (`aergo bench transfer`): signed transfers through one
//!   node in this process, against this machine's signature verification
//!   rate;
//! - [`contract`] (`aergo bench contract`): the whitepaper's `transfer()`
//!   as signed contract calls, against the same function in PostgreSQL;
//! - [`network`] (`aergo bench network`): a DPoS network of node
//!   processes (an `aergo-horde` network), time to inclusion and to
//!   finality, throughput and sync speed;
//! - [`api`] (`aergo bench api`): the JSON-RPC server under a flood from
//!   one client, against a second client's idle latency;
//! - [`branch`] (`aergo bench branch`): branch, diff and three-way merge
//!   in the store at two state sizes, to show they stay flat;
//! - [`parallel`] (`aergo bench parallel`): one block executed on the
//!   parallel executor's workers against the same block in order;
//! - [`fs`] (`aergo bench fs`): AergoFS against one file per blob and
//!   SQLite blobs, and [`fs_replication`]: files moved between two
//!   stores over the p2p network against reading them locally;
//! - [`preconfirm`] (`aergo bench preconfirm`): a producer's signed
//!   pre-confirmation latency against block inclusion latency in the same
//!   run, and throughput with pre-confirmations off and on;
//! - [`pg`]: a throwaway PostgreSQL cluster (found, or installed with
//!   apt-get when this runs as root).
//!
//! Each benchmark takes options, reports progress lines through a
//! callback and returns a report with its figures, text and JSON; the
//! `aergo` binary parses the options and prints the report. A run whose
//! checks fail (a lost transaction, a wrong balance) is an error, never a
//! figure.
//!
//! Depends on `aergo-horde` (networks of node processes) and
//! `aergo-client` (RPC, signing, in-process nodes); nothing depends on it
//! but the `aergo` binary.

pub mod api;
pub mod branch;
pub mod branch_chain;
pub mod contract;
pub mod fs;
pub mod fs_replication;
pub mod network;
pub mod parallel;
pub mod pg;
pub mod preconfirm;
pub mod transfer;

/// A benchmark's own failure (a refused transaction, a wrong result): an
/// error, never a figure.
pub(crate) fn fail(reason: impl Into<String>) -> aergo_client::CliError {
    aergo_client::CliError::Bench { reason: reason.into() }
}

/// The median of `v` (the upper one of an even count); `v` must not be
/// empty.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
