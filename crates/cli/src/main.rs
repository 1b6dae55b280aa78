//! The `aergo` command line: run a node, manage keys, send transfers and
//! read the chain over the node's JSON-RPC API. See the library
//! (`aergo_cli`) for how each part works; this file parses arguments,
//! calls the library and prints the outcome, as friendly text or, with
//! `--json`, as exactly one JSON document.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aergo_cli::format;
use aergo_client::client::RpcClient;
use aergo_client::contract::{self as contracts, TxOptions};
use aergo_client::devnode::{self, InitRequest, Overrides, DEFAULT_CHAIN_MAGIC};
use aergo_client::keys::{self, KeyOptions, KeySource};
use aergo_client::transfer::{parse_amount, parse_payload, send_transfer, Transfer};
use aergo_client::{exit, CliError};
use aergo_crypto::{Keystore, ScryptParams};
use aergo_lab::api::{bench_api, ApiBenchOptions};
use aergo_lab::branch::{bench_branch, BranchBenchOptions};
use aergo_lab::contract::{bench_contract, ContractBenchOptions};
use aergo_lab::network::{bench_network, NetBenchOptions};
use aergo_lab::parallel::{bench_parallel, ParallelBenchOptions};
use aergo_lab::preconfirm::{bench_preconfirm, PreconfBenchOptions};
use aergo_lab::transfer::{bench_transfer, BenchOptions};
use aergo_node::{init_dev_data_dir, DataDir, NodeConfig, DEV_ACCOUNTS};
use aergo_types::{Address, Amount, Hash, Unit};
use anyhow::{bail, Context};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::{json, Value};

mod cmd_branch;
mod cmd_diff;
mod cmd_fs;
mod cmd_gov;
mod cmd_horde;
mod cmd_name;

#[derive(Parser)]
#[command(name = "aergo", version, about = "AERGO node and command line", propagate_version = true)]
struct Cli {
    /// JSON-RPC endpoint of the node.
    #[arg(long, global = true, env = "AERGO_RPC", default_value = "http://127.0.0.1:7847")]
    rpc: String,
    /// Print exactly one machine-readable JSON document.
    #[arg(long, global = true)]
    json: bool,
    /// Work on this branch of the chain: transactions are signed for it,
    /// reads see its state (default: main).
    #[arg(long, global = true, env = "AERGO_BRANCH")]
    branch: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Initialise a data directory: genesis, config and node key (and a
    /// treasury account holding the whole allocation, without --genesis).
    Init(InitArgs),
    /// Run a node (`--dev`: a ready-to-use development chain); `node
    /// backup` and `node restore` save and restore its chain.
    #[command(args_conflicts_with_subcommands = true)]
    Node(NodeArgs),
    /// Manage the encrypted keystore.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Balance and nonce of an account (`dev:N` names a dev account).
    Balance {
        /// An Am... address or dev:N.
        address: String,
        /// Read the state at this block height instead of the head.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Sign and send a transfer.
    Send(SendArgs),
    /// Pre-confirmations: `verify FILE` checks one offline, `check FILE`
    /// against the node's chain.
    Preconf {
        #[command(subcommand)]
        command: PreconfCommand,
    },
    /// A transaction, committed or pending.
    Tx {
        /// Transaction hash (base58, or hex with 0x).
        hash: String,
    },
    /// The receipt of a committed transaction.
    Receipt {
        /// Transaction hash (base58, or hex with 0x).
        hash: String,
    },
    /// A block by height or hash (default: the head).
    Block {
        /// Height or hash; omitted: the head.
        which: Option<String>,
        /// Include the transactions in full.
        #[arg(long)]
        full: bool,
    },
    /// Chain id, head and pool of the node.
    Status,
    /// Whether the node is healthy (`GET /health`: up and not catching up
    /// with its peers); exits non-zero when not, for container health
    /// checks and scripts.
    Health,
    /// SQL contracts: deploy, call, query, ABI, catalogue row.
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
    /// Contract events, in block order.
    Events(EventsArgs),
    /// Interactive read-only SQL shell over the chain (reads statements
    /// from stdin when it is not a terminal).
    Sql(SqlArgs),
    /// Start a throwaway dev node, send one transfer, show the books, stop.
    Demo,
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    #[command(flatten)]
    Gov(cmd_gov::GovCommand),
    /// The rows that changed between two blocks (heights or hashes),
    /// table by table.
    Diff(cmd_diff::DiffArgs),
    /// AergoFS: store, fetch, inspect and delete files on the node.
    Fs {
        #[command(subcommand)]
        command: cmd_fs::FsCommand,
    },
    /// Branches of the chain: create (fork the state at a height), list,
    /// show, delete.
    Branch {
        #[command(subcommand)]
        command: cmd_branch::BranchCommand,
    },
    /// Tags: a branch's state at a height, named for ever.
    Tag {
        #[command(subcommand)]
        command: cmd_branch::TagCommand,
    },
    /// Merge a branch into another (default: into main).
    Merge(cmd_branch::MergeArgs),
    /// Names (aergo.name): register one, hand it over, see its owner.
    Name {
        #[command(subcommand)]
        command: cmd_name::NameCommand,
    },
    /// A local multi-node DPoS network on loopback ports.
    Horde {
        #[command(subcommand)]
        command: cmd_horde::HordeCommand,
    },
}

#[derive(Args)]
struct InitArgs {
    /// Data directory to create (default: $AERGO_HOME, else ~/.aergo).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Use this genesis file instead of creating a treasury account.
    #[arg(long, conflicts_with = "chain_id")]
    genesis: Option<PathBuf>,
    /// Chain magic of the new chain (private, solo consensus).
    #[arg(long, default_value = DEFAULT_CHAIN_MAGIC)]
    chain_id: String,
    /// Passphrase of the treasury key.
    #[arg(long, env = "AERGO_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

#[derive(Subcommand)]
enum NodeAction {
    /// Save the chain of a running node (the one --rpc names), up to its
    /// last irreversible block, into a file; consistent while the node
    /// runs and takes transactions.
    Backup {
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
        /// The node's data directory on this machine: its config.toml and
        /// node.key go into the backup too.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Make a new data directory from a backup, replaying and checking
    /// every block (the same head and state root, or an error).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The new data directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct NodeArgs {
    #[command(subcommand)]
    action: Option<NodeAction>,
    /// Development chain with prefunded deterministic accounts.
    #[arg(long)]
    dev: bool,
    /// Data directory (default: a new temporary one with --dev, else
    /// $AERGO_HOME or ~/.aergo).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Address the JSON-RPC server binds (port 0: any free port).
    #[arg(long)]
    rpc_listen: Option<SocketAddr>,
    /// Address the gRPC server binds: the Go node's API, which the Aergo
    /// SDKs (herapy, herajs) speak (default 127.0.0.1:7845; port 0: any
    /// free port).
    #[arg(long)]
    grpc_listen: Option<SocketAddr>,
    /// Time between blocks.
    #[arg(long)]
    block_interval_ms: Option<u64>,
    /// Seal blocks even when no transaction is pending.
    #[arg(long)]
    produce_empty_blocks: bool,
}

#[derive(Args)]
struct KeystoreArgs {
    /// Keystore directory (default: DIR/keystore with --dir, else
    /// $AERGO_HOME/keystore).
    #[arg(long)]
    keystore: Option<PathBuf>,
    /// Data directory whose keystore to use.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keystore passphrase (else AERGO_PASSWORD, else a prompt on a terminal).
    #[arg(long, env = "AERGO_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

impl KeystoreArgs {
    fn dir(&self) -> anyhow::Result<PathBuf> {
        Ok(keys::keystore_dir(self.keystore.as_deref(), self.dir.as_deref())?)
    }
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create a new key in the keystore.
    New(KeystoreArgs),
    /// List the keystore's accounts.
    List(KeystoreArgs),
    /// Store a key: given in the clear, as exported-key text, or as a key file.
    Import {
        #[command(flatten)]
        ks: KeystoreArgs,
        /// A private key (64 hex digits or base58check text).
        #[arg(long, group = "source")]
        key: Option<String>,
        /// Exported-key text (`aergo account export`, aergocli, the SDKs).
        #[arg(long, group = "source")]
        exported: Option<String>,
        /// A keystore file (the Go node's format); its passphrase is --password.
        #[arg(long, group = "source")]
        keyfile: Option<PathBuf>,
        /// Passphrase of the exported text (default: --password).
        #[arg(long, env = "AERGO_EXPORT_PASSWORD", hide_env_values = true)]
        export_password: Option<String>,
    },
    /// Print a key as exported-key text (or, with --keyfile, its key file).
    Export {
        /// The account's Am... address.
        address: String,
        #[command(flatten)]
        ks: KeystoreArgs,
        /// Print the encrypted key file instead of exported-key text.
        #[arg(long)]
        keyfile: bool,
        /// Passphrase for the exported text (default: --password).
        #[arg(long, env = "AERGO_EXPORT_PASSWORD", hide_env_values = true)]
        export_password: Option<String>,
    },
}

/// Who signs a transaction and whether to wait for it: the options every
/// sending command (`send`, `contract deploy|call`, `stake`, `unstake`,
/// `vote`, `param vote`) shares.
#[derive(Args)]
pub(crate) struct SignerArgs {
    /// Sender: an Am... address or dev:N.
    // An Option so that `stake show` (which negates it) parses; clap
    // requires it everywhere else.
    #[arg(long, required = true)]
    from: Option<String>,
    /// Nonce (default: the node's next nonce for the sender).
    #[arg(long)]
    nonce: Option<u64>,
    /// Gas limit (default 0: what a transfer or system call needs; for a
    /// contract transaction the chain's default of 10,000,000, lowered to
    /// what the sender can pay).
    #[arg(long, default_value_t = 0)]
    gas_limit: u64,
    /// Wait for the receipt (`--wait`, or `--wait included`): a failed
    /// (or dropped) transaction is then an error. `--wait preconfirmed`
    /// (send and contract call/deploy) asks the producer for its signed
    /// pre-confirmation instead, in milliseconds. Give it after any
    /// positional argument, or as `--wait=...`.
    #[arg(long, num_args = 0..=1, default_missing_value = "included", value_enum)]
    wait: Option<WaitFor>,
    /// How long --wait waits.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Private key to sign with (hex or base58check text).
    #[arg(long, env = "AERGO_KEY", hide_env_values = true)]
    key: Option<String>,
    #[command(flatten)]
    ks: KeystoreArgs,
}

impl SignerArgs {
    /// The sender and its key (saying on stderr where the key came from).
    pub(crate) fn signer(&self) -> anyhow::Result<(Address, aergo_crypto::PrivateKey)> {
        // clap requires --from for sending; only `stake show` goes without.
        let Some(from) = self.from.as_deref() else { bail!("--from is required: the account that signs") };
        let opts = KeyOptions {
            key: self.key.as_deref(),
            keystore_dir: self.ks.dir()?,
            password: self.ks.password.as_deref(),
        };
        let (from, key, source) = keys::resolve_signer(from, &opts)?;
        match &source {
            KeySource::Dev(i) => eprintln!("signing with dev account dev:{i} (deterministic dev key)"),
            KeySource::Keystore(p) => eprintln!("signing with the key in {}", p.display()),
            KeySource::Given => {}
        }
        Ok((from, key))
    }

    /// How long to wait for the receipt, if at all.
    pub(crate) fn wait_timeout_ms(&self) -> Option<u64> {
        (self.wait == Some(WaitFor::Included)).then_some(self.timeout_ms)
    }

    /// Whether to ask the producer for a pre-confirmation.
    pub(crate) fn preconfirm(&self) -> bool {
        self.wait == Some(WaitFor::Preconfirmed)
    }
}

/// What `--wait` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum WaitFor {
    /// The producer's signed pre-confirmation.
    Preconfirmed,
    /// The receipt, once the transaction is in a block.
    Included,
}

#[derive(Subcommand)]
enum PreconfCommand {
    /// Check a pre-confirmation's signature offline and print what it
    /// promises. FILE holds its JSON (as `sendTx` or `aergo --json send
    /// --wait preconfirmed` print it) or the hex of its encoding; `-`
    /// reads stdin.
    Verify { file: String },
    /// Ask the node whether the promise was kept: `pending`, `kept`,
    /// `broken` (with how) or `void`.
    Check { file: String },
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// Recipient: an Am... address or dev:N.
    #[arg(long)]
    to: String,
    /// Amount, e.g. "1.5 aergo", "100 gaer", "7 aer".
    #[arg(long)]
    amount: String,
    /// Payload bytes in hex.
    #[arg(long)]
    payload: Option<String>,
}

/// Who signs a contract transaction and what it carries.
#[derive(Args)]
struct ContractTxArgs {
    /// Amount sent with the transaction, e.g. "1 aergo" (default: none).
    #[arg(long)]
    amount: Option<String>,
    #[command(flatten)]
    signer: SignerArgs,
}

#[derive(Subcommand)]
enum ContractCommand {
    /// Deploy the SQL source in FILE (tables, functions, initial rows);
    /// prints the new contract's address.
    Deploy {
        /// The contract's SQL source: `;`-separated statements.
        file: PathBuf,
        /// Constructor arguments, a JSON array (e.g. '[100, "alice"]').
        #[arg(long)]
        args: Option<String>,
        #[command(flatten)]
        tx: ContractTxArgs,
    },
    /// Call a public function in a transaction.
    ///
    /// Each ARG is converted by the type of its parameter (from the
    /// contract's ABI): `null` is NULL; for TEXT/VARCHAR parameters the
    /// argument is the text as typed (quote it as JSON, '"..."', only to
    /// pass a JSON string); for other parameters it is parsed as a JSON
    /// value when it parses (30, 1.5, true), else passed as a string.
    /// An unknown function is refused before anything is sent.
    Call {
        /// The contract's Am... address.
        contract: String,
        /// Function name.
        function: String,
        /// Arguments (see above).
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// All arguments as one JSON array, sent as is (no ABI lookup).
        #[arg(long, conflicts_with = "args")]
        args_json: Option<String>,
        #[command(flatten)]
        tx: ContractTxArgs,
    },
    /// Run one read-only SELECT; bare table names are the contract's.
    Query {
        /// The contract's Am... address.
        contract: String,
        /// One SELECT statement.
        sql: String,
        /// Read the state at this block height instead of the head.
        #[arg(long)]
        at: Option<u64>,
    },
    /// The contract's public functions.
    Abi {
        contract: String,
        #[arg(long)]
        at: Option<u64>,
    },
    /// The contract's catalogue row: creator, schema, source, balance.
    Info {
        contract: String,
        #[arg(long)]
        at: Option<u64>,
    },
}

#[derive(Args)]
struct EventsArgs {
    /// Only events of this contract.
    #[arg(long)]
    contract: Option<String>,
    /// Only events of this name.
    #[arg(long)]
    name: Option<String>,
    /// First block (default: as many blocks back from --to-height as the
    /// node allows in one listing).
    #[arg(long)]
    from_height: Option<u64>,
    /// Last block (default: the head).
    #[arg(long)]
    to_height: Option<u64>,
}

#[derive(Args)]
struct SqlArgs {
    /// Read the state at this block height instead of the head.
    #[arg(long)]
    at: Option<u64>,
    /// Bare table names resolve in this contract's schema.
    #[arg(long)]
    contract: Option<String>,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// AergoFS against one file per blob and SQLite blobs: writes/s and
    /// random reads/s for 1 KB and 64 KB files (1M and 100k; --quick: 20k
    /// and 2k), memory per file and disk reads per read.
    Fs {
        /// A short run.
        #[arg(long)]
        quick: bool,
    },
    /// Branch, diff and three-way merge in the store at two state sizes
    /// (1M and 10M rows; --quick: 100k and 1M), each with 1,000 changed
    /// rows per side: the larger state's figures over the smaller's.
    Branch {
        /// Rows changed on each side.
        #[arg(long)]
        changes: Option<u64>,
        /// A short run (100,000 and 1,000,000 rows).
        #[arg(long)]
        quick: bool,
    },
    /// One block executed by the parallel executor (dependency groups,
    /// speculation, validation) against the same block in order on one
    /// thread: independent contract calls, transfers, and one hot pair of
    /// rows.
    Parallel {
        /// Transactions per block.
        #[arg(long)]
        txs: Option<usize>,
        /// Workers of the parallel runs (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// A short run (600 transactions).
        #[arg(long)]
        quick: bool,
    },
    /// Pre-confirmations: their latency at the producer under half the
    /// promised throughput, next to block inclusion latency in the same
    /// run; throughput with them off, applied at admission, and promised.
    Preconfirm {
        /// Transfers of each throughput run.
        #[arg(long)]
        txs: Option<usize>,
        /// Transfers of the latency run.
        #[arg(long)]
        latency_txs: Option<usize>,
        /// A short run (4,000 and 1,000 transfers).
        #[arg(long)]
        quick: bool,
    },
    /// The JSON-RPC server under a flood of status and sendTx from one
    /// client, while a second client (from 127.0.0.2) measures its own
    /// latency: requests/s and the second client's p50/p99, idle and
    /// loaded.
    Api {
        /// Requests the flood keeps in flight.
        #[arg(long)]
        connections: Option<usize>,
        /// Sequential status calls of the second client, per phase.
        #[arg(long)]
        probe_calls: Option<usize>,
        /// Least length of the flood.
        #[arg(long)]
        flood_ms: Option<u64>,
        /// The node's requests in flight per client (rpc.max_requests_per_client).
        #[arg(long)]
        per_client: Option<usize>,
        /// The node's requests executing at once (rpc.max_running_requests).
        #[arg(long)]
        running_requests: Option<usize>,
        /// A short run (about 2 s).
        #[arg(long)]
        quick: bool,
    },
    /// The whitepaper's transfer() as signed contract calls through the
    /// node, against the same function in PostgreSQL (pgbench, with
    /// synchronous_commit on and off), in the same run. Installs
    /// PostgreSQL with apt-get when it is missing and this runs as root.
    Contract {
        /// Rows of the accounts table (on both sides).
        #[arg(long)]
        accounts: Option<u64>,
        /// Calls the node runs (signed up front, not timed).
        #[arg(long)]
        calls: Option<usize>,
        /// Submitting connections to the node, and pgbench clients.
        #[arg(long)]
        clients: Option<usize>,
        #[arg(long)]
        block_interval_ms: Option<u64>,
        /// Length of each pgbench run.
        #[arg(long)]
        pg_seconds: Option<u64>,
        /// Measure the node only.
        #[arg(long)]
        no_postgres: bool,
        /// Seed of the random sender/receiver ids.
        #[arg(long)]
        seed: Option<u64>,
        /// A short run (2,000 accounts and calls, 3 s of pgbench).
        #[arg(long)]
        quick: bool,
    },
    /// A DPoS network of node processes on loopback (`aergo horde`):
    /// throughput, time to inclusion and to finality (p50/p99) at each
    /// block interval, and sync speed of a fresh node.
    Network {
        /// Producers.
        #[arg(long)]
        nodes: Option<u32>,
        /// Block intervals to measure, comma-separated (default 1000,250).
        #[arg(long, value_delimiter = ',')]
        interval_ms: Vec<u64>,
        /// Transfers sent one by one for the latency figures.
        #[arg(long)]
        latency_txs: Option<usize>,
        /// Accounts sending for the throughput figure (funded first).
        #[arg(long)]
        senders: Option<u32>,
        /// Transfers each of them sends.
        #[arg(long)]
        txs_per_sender: Option<usize>,
        /// First port of the networks (two per node).
        #[arg(long)]
        base_port: Option<u16>,
        /// A short run.
        #[arg(long)]
        quick: bool,
    },
    /// End-to-end signed transfer throughput against the signature
    /// verification rate of this machine.
    Transfer {
        /// Transfers to send.
        #[arg(long)]
        txs: Option<usize>,
        /// Prefunded sending accounts (each holds at most 256 pending txs).
        #[arg(long)]
        senders: Option<u32>,
        #[arg(long)]
        block_interval_ms: Option<u64>,
        /// Concurrent HTTP connections submitting.
        #[arg(long)]
        connections: Option<usize>,
        /// Calls per JSON-RPC batch.
        #[arg(long)]
        batch: Option<usize>,
        /// A short run (a few seconds).
        #[arg(long)]
        quick: bool,
    },
}

/// What a command prints: one JSON document, or text.
struct Output {
    json: Value,
    text: String,
}

fn out(json: Value, text: impl Into<String>) -> Output {
    Output { json, text: text.into() }
}

/// Prints without panicking when stdout is closed (a test or a pipe that
/// stopped reading).
fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// `aergo node` serves JSON-RPC; the client option `--rpc` (which node to
/// talk to) means nothing to it, and ignoring it would hide a mistaken
/// `--rpc-listen`. (`AERGO_RPC` in the environment is not refused: it is
/// meant for the client commands run from the same shell.)
fn refuse_client_flags(matches: &clap::ArgMatches) -> Result<(), clap::Error> {
    let Some(("node", sub)) = matches.subcommand() else { return Ok(()) };
    // `node backup` is a client of a running node: --rpc names it.
    if matches!(sub.subcommand_name(), Some("backup")) {
        return Ok(());
    }
    let given = |m: &clap::ArgMatches| m.value_source("rpc") == Some(clap::parser::ValueSource::CommandLine);
    if given(matches) || given(sub) {
        let mut cmd = Cli::command();
        let node = cmd.find_subcommand_mut("node").map(|c| c.clone().bin_name("aergo node"));
        return Err(node.unwrap_or(cmd).error(
            clap::error::ErrorKind::ArgumentConflict,
            "`aergo node` does not take --rpc: that option names the node a client command talks to. \
             To choose where this node's JSON-RPC server listens, use --rpc-listen ADDR \
             (e.g. --rpc-listen 127.0.0.1:7847)",
        ));
    }
    Ok(())
}

/// Parses the command line (exiting with clap's usage error, status 2, on
/// a bad one).
fn parse_args() -> Cli {
    let matches = Cli::command().get_matches();
    refuse_client_flags(&matches).and_then(|()| Cli::from_arg_matches(&matches)).unwrap_or_else(|e| e.exit())
}

fn main() -> ExitCode {
    let cli = parse_args();
    let json_mode = cli.json;
    let default_log = if matches!(cli.command, Command::Node(_)) { "info" } else { "warn" };
    init_logging(default_log);
    let runtime = match aergo_node::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Some(o)) => {
            if json_mode {
                print_stdout(&serde_json::to_string_pretty(&o.json).unwrap_or_else(|_| o.json.to_string()));
            } else if !o.text.is_empty() {
                print_stdout(&o.text);
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            let cli = e.downcast_ref::<CliError>();
            let status = cli.map_or(exit::FAILURE, CliError::exit_code);
            if json_mode {
                let code = cli.and_then(CliError::rpc_code);
                let reason = cli.and_then(CliError::reason);
                let mut doc = json!({ "error": { "message": format::error_message(&e), "code": code, "reason": reason, "exit": status } });
                if let Some(CliError::TxFailed { hash, receipt, .. }) = cli {
                    doc["hash"] = json!(hash);
                    doc["receipt"] = (**receipt).clone();
                }
                print_stdout(&doc.to_string());
            }
            eprintln!("error: {}", format::error_message(&e));
            ExitCode::from(status)
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG`; `AERGO_LOG_FORMAT=json` makes
/// them one JSON object per line (timestamp, level, target, fields) for log
/// shippers.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let json = std::env::var("AERGO_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
}

async fn run(cli: Cli) -> anyhow::Result<Option<Output>> {
    let json_mode = cli.json;
    let branch = cli.branch.clone();
    let client = || RpcClient::new(&cli.rpc).map(|c| c.with_branch(branch.clone()));
    Ok(Some(match cli.command {
        Command::Init(a) => init(a)?,
        Command::Node(NodeArgs { action: Some(NodeAction::Backup { out: path, dir }), .. }) => {
            let r = aergo_client::backup::backup(&client()?, &path, dir.as_deref()).await?;
            let text = format!(
                "backed up blocks 1..={} ({} bytes{}{}) to {}",
                r.height,
                r.bytes,
                if r.with_config { ", config" } else { "" },
                if r.with_node_key { ", node key" } else { "" },
                r.path.display()
            );
            out(
                json!({ "path": r.path.display().to_string(), "height": r.height, "blocks": r.blocks, "bytes": r.bytes,
                        "config": r.with_config, "nodeKey": r.with_node_key }),
                text,
            )
        }
        Command::Node(NodeArgs { action: Some(NodeAction::Restore { from, dir }), .. }) => {
            let r = tokio::task::spawn_blocking(move || aergo_node::backup::restore(&from, &dir))
                .await
                .context("restoring")??;
            let text = format!(
                "restored to height {} (head {}, state root {}){}",
                r.height,
                r.head_hash,
                r.state_root,
                if r.node_key_restored { "" } else { "; the backup had no node key: a new one was made" }
            );
            out(
                json!({ "height": r.height, "hash": r.head_hash.to_string(), "stateRoot": r.state_root.to_string(),
                        "nodeKeyRestored": r.node_key_restored }),
                text,
            )
        }
        Command::Node(a) => {
            run_node(a, json_mode).await?;
            return Ok(None);
        }
        Command::Account { command } => account(command)?,
        Command::Balance { address, at } => {
            let addr = keys::parse_account(&address)?;
            let info = client()?.account(&addr, at).await?;
            let text = format!("{}\n{}", info.balance.format(Unit::Aergo), format::account(&info.raw));
            out(info.raw, text)
        }
        Command::Send(a) => send(a, &client()?).await?,
        Command::Preconf { command: PreconfCommand::Verify { file } } => preconf_verify(&file)?,
        Command::Preconf { command: PreconfCommand::Check { file } } => {
            let p = read_preconf(&file)?;
            let v = client()?.call("checkPreconf", json!([hex::encode(p.encode())])).await?;
            let promise = v["promise"].as_str().unwrap_or("?").to_string();
            let detail = v.get("breach").or(v.get("reason")).and_then(Value::as_str).unwrap_or("");
            let mut text = format!("promise {promise} (height {}, position {}) {detail}", p.height, p.index);
            text = text.trim_end().to_string();
            if let Some(e) = v.get("evidence").and_then(Value::as_str) {
                text.push_str(&format!(
                    "\nevidence (save it and `aergo evidence submit FILE` to slash the producer):\n{e}"
                ));
            }
            out(v, text)
        }
        Command::Tx { hash } => {
            let v = client()?.call("getTx", json!([parse_hash(&hash)?])).await?;
            let text = format::tx(&v);
            out(v, text)
        }
        Command::Receipt { hash } => {
            let v = client()?.call("getReceipt", json!([parse_hash(&hash)?])).await?;
            let text = format::receipt(&v);
            out(v, text)
        }
        Command::Block { which, full } => {
            let c = client()?;
            let which = match which {
                None => json!(c.status().await?.height),
                Some(w) => match w.parse::<u64>() {
                    Ok(h) => json!(h),
                    Err(_) => json!(parse_hash(&w)?),
                },
            };
            let v = c.call("getBlock", json!([which, full])).await?;
            let text = format::block(&v);
            out(v, text)
        }
        Command::Health => {
            let v = client()?.health().await?;
            let text = format!("healthy at height {}", v["height"]);
            out(v, text)
        }
        Command::Status => {
            let s = client()?.status().await?;
            let text = format::status(&s.raw);
            out(s.raw, text)
        }
        Command::Gov(c) => cmd_gov::run(c, &client()?).await?,
        Command::Name { command } => cmd_name::run(command, &client()?).await?,
        Command::Branch { command } => cmd_branch::branch(command, &client()?).await?,
        Command::Tag { command } => cmd_branch::tag(command, &client()?).await?,
        Command::Merge(a) => cmd_branch::merge(a, &client()?).await?,
        Command::Fs { command } => match cmd_fs::run(command, &client()?).await? {
            Some(o) => o,
            None => return Ok(None),
        },
        Command::Horde { command } => cmd_horde::run(command).await?,
        Command::Contract { command } => contract(command, &client()?).await?,
        Command::Events(a) => events(a, &client()?).await?,
        Command::Diff(a) => cmd_diff::run(a, &client()?).await?,
        Command::Sql(a) => {
            sql_shell(a, client()?, json_mode).await?;
            return Ok(None);
        }
        Command::Demo => {
            let r = aergo_cli::demo::run_demo().await?;
            out(r.json, r.text)
        }
        Command::Bench {
            command:
                BenchCommand::Contract { accounts, calls, clients, block_interval_ms, pg_seconds, no_postgres, seed, quick },
        } => {
            let mut o = if quick { ContractBenchOptions::quick() } else { ContractBenchOptions::full() };
            if let Some(a) = accounts {
                o.accounts = a;
            }
            if let Some(c) = calls {
                o.calls = c;
            }
            if let Some(c) = clients {
                o.clients = c;
            }
            if let Some(ms) = block_interval_ms {
                o.block_interval_ms = ms;
            }
            if let Some(s) = pg_seconds {
                o.pg_seconds = s;
            }
            if let Some(s) = seed {
                o.seed = s;
            }
            o.postgres = !no_postgres;
            let r = bench_contract(&o, &mut |line| eprintln!("{line}")).await?;
            out(r.json(), r.text())
        }
        Command::Bench {
            command:
                BenchCommand::Network { nodes, interval_ms, latency_txs, senders, txs_per_sender, base_port, quick },
        } => {
            let mut o = if quick { NetBenchOptions::quick() } else { NetBenchOptions::full() };
            if let Some(n) = nodes {
                o.nodes = n;
            }
            if !interval_ms.is_empty() {
                o.intervals_ms = interval_ms;
            }
            if let Some(n) = latency_txs {
                o.latency_txs = n;
            }
            if let Some(n) = senders {
                o.senders = n;
            }
            if let Some(n) = txs_per_sender {
                o.txs_per_sender = n;
            }
            if let Some(p) = base_port {
                o.base_port = p;
            }
            let r = bench_network(&o, &mut |line| eprintln!("{line}")).await?;
            out(r.json(), r.text())
        }
        Command::Bench { command: BenchCommand::Fs { quick } } => {
            let o = if quick { aergo_lab::fs::FsBenchOptions::quick() } else { aergo_lab::fs::FsBenchOptions::full() };
            let (rounds, replication) = tokio::task::spawn_blocking(move || {
                let mut progress = |line: String| eprintln!("{line}");
                let rounds = aergo_lab::fs::bench_fs(&o, &mut progress)?;
                let replication = aergo_lab::fs_replication::bench_replication(
                    &o.replication,
                    &aergo_lab::fs::content,
                    &mut progress,
                )?;
                Ok::<_, aergo_client::CliError>((rounds, replication))
            })
            .await??;
            let lines = rounds.iter().map(|r| r.bench_line()).chain(replication.iter().map(|r| r.bench_line()));
            let text = lines.collect::<Vec<_>>().join("\n");
            out(
                json!({
                    "rounds": rounds.iter().map(|r| r.json()).collect::<Vec<_>>(),
                    "replication": replication.iter().map(|r| r.json()).collect::<Vec<_>>(),
                }),
                text,
            )
        }
        Command::Bench { command: BenchCommand::Branch { changes, quick } } => {
            let mut o = if quick { BranchBenchOptions::quick() } else { BranchBenchOptions::full() };
            if let Some(c) = changes {
                o.changes = c;
            }
            let r = tokio::task::spawn_blocking(move || bench_branch(&o, &mut |line| eprintln!("{line}"))).await??;
            let (b, d, m) = r.ratios();
            let (dl, ml) = r.load_ratios();
            let text = format!(
                "larger state over smaller (target <= 1.3): time: branch {b:.2}, diff {d:.2}, merge {m:.2}; \
                 nodes loaded: diff {dl:.2}, merge {ml:.2}\n{}",
                r.bench_line()
            );
            let mut j = r.json();
            j["bench"] = json!(r.bench_line());
            out(j, text)
        }
        Command::Bench { command: BenchCommand::Preconfirm { txs, latency_txs, quick } } => {
            let mut o = if quick { PreconfBenchOptions::quick() } else { PreconfBenchOptions::full() };
            if let Some(n) = txs {
                o.txs = n;
            }
            if let Some(n) = latency_txs {
                o.latency_txs = n;
            }
            let r = bench_preconfirm(&o, &mut |line| eprintln!("{line}")).await?;
            out(r.json(), r.text())
        }
        Command::Bench { command: BenchCommand::Parallel { txs, threads, quick } } => {
            let mut o = if quick { ParallelBenchOptions::quick() } else { ParallelBenchOptions::full() };
            if let Some(n) = txs {
                o.txs = n;
            }
            if let Some(n) = threads {
                o.threads = n;
            }
            let r = tokio::task::spawn_blocking(move || bench_parallel(&o, &mut |line| eprintln!("{line}"))).await??;
            out(r.json(), r.text())
        }
        Command::Bench {
            command: BenchCommand::Api { connections, probe_calls, flood_ms, per_client, running_requests, quick },
        } => {
            let mut o = if quick { ApiBenchOptions::quick() } else { ApiBenchOptions::full() };
            if let Some(c) = connections {
                o.flood_connections = c;
            }
            if let Some(n) = probe_calls {
                o.probe_calls = n;
            }
            if let Some(ms) = flood_ms {
                o.flood_ms = ms;
            }
            o.per_client = per_client;
            o.running_requests = running_requests;
            let r = bench_api(&o, &mut |line| eprintln!("{line}")).await?;
            let text = format!(
                "flood of {} requests in flight for {:.1} s: {:.0} status/s, {:.0} sendTx/s, {:.0} refused/s\n\
                 second client p50/p99: idle {:.3}/{:.3} ms, under the flood {:.3}/{:.3} ms\n\
                 p99 ratio {:.2} (target <= 2)\n{}",
                r.flood_connections,
                r.flood_secs,
                r.status_per_sec,
                r.send_tx_per_sec,
                r.refused_per_sec,
                r.idle.p50_ms,
                r.idle.p99_ms,
                r.loaded.p50_ms,
                r.loaded.p99_ms,
                r.p99_ratio(),
                r.bench_line()
            );
            let mut j = r.json();
            j["bench"] = json!(r.bench_line());
            out(j, text)
        }
        Command::Bench {
            command: BenchCommand::Transfer { txs, senders, block_interval_ms, connections, batch, quick },
        } => {
            let mut o = if quick { BenchOptions::quick() } else { BenchOptions::full() };
            if let Some(n) = txs {
                o.txs = n;
                // Keep within the pool's per-account slots unless told.
                if senders.is_none() {
                    o.senders = u32::try_from(n.div_ceil(200)).unwrap_or(u32::MAX).max(1);
                }
            }
            if let Some(k) = senders {
                o.senders = k;
            }
            if let Some(ms) = block_interval_ms {
                o.block_interval_ms = ms;
            }
            if let Some(c) = connections {
                o.connections = c;
            }
            if let Some(b) = batch {
                o.batch = b;
            }
            let r = bench_transfer(&o, &mut |line| eprintln!("{line}")).await?;
            let text = format!(
                "{} signed transfers from {} accounts: all included in {} blocks (avg {:.1} txs/block, max {})\n\
                 submitted in {:.0} ms, last one included after {:.0} ms\n\
                 end-to-end throughput   {:>10.0} tx/s\n\
                 signature verification  {:>10.0} verify/s (raw libsecp256k1, one thread)\n\
                 \x20                       {:>10.0} tx verify/s (full tx signature check)\n\
                 ratio                   {:>10.3} (target >= 0.5)\n{}",
                r.txs,
                r.senders,
                r.blocks,
                r.avg_block_txs(),
                r.max_block_txs,
                r.submit_ms,
                r.elapsed_ms,
                r.tps,
                r.verify_per_sec,
                r.verify_tx_per_sec,
                r.ratio,
                r.bench_line()
            );
            let mut j = r.json();
            j["bench"] = json!(r.bench_line());
            out(j, text)
        }
    }))
}

fn parse_hash(text: &str) -> anyhow::Result<String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x") {
        Some(h) => Hash::from_hex(h),
        None => Hash::from_base58(t),
    };
    let h = parsed.map_err(|e| CliError::InvalidInput {
        what: "hash",
        input: t.chars().take(80).collect(),
        reason: format!("{e}; expected base58 (as printed) or 0x-prefixed hex"),
    })?;
    Ok(h.to_string())
}

fn init(a: InitArgs) -> anyhow::Result<Output> {
    let dir = match a.dir {
        Some(d) => d,
        None => keys::aergo_home()?,
    };
    let password = match &a.genesis {
        Some(_) => None,
        None => Some(keys::password(a.password.as_deref(), "passphrase for the new treasury key: ", true)?),
    };
    let made = devnode::init(InitRequest {
        dir: &dir,
        genesis: a.genesis.as_deref(),
        chain_magic: &a.chain_id,
        password,
        scrypt: ScryptParams::GO_DEFAULT,
        config: NodeConfig::default(),
    })?;
    let g = &made.data_dir.genesis;
    let chain = format!("{}/{}", g.chain_id.magic, g.chain_id.consensus);
    let producer = made.data_dir.node_key.address();
    let json = json!({
        "dir": dir.display().to_string(),
        "chainId": chain,
        "chainIdHash": g.chain_id.hash().to_string(),
        "treasury": made.treasury.as_ref().map(|t| t.to_string()),
        "keystore": made.keystore.display().to_string(),
        "producer": producer.to_string(),
    });
    let mut text = format!("initialised {}\nchain {chain} (chain id hash {})\n", dir.display(), g.chain_id.hash());
    if let Some(t) = &made.treasury {
        text.push_str(&format!(
            "treasury account {t} holds the whole allocation ({}); its key is in {}, encrypted with your passphrase\n",
            Amount::TOTAL_SUPPLY.format(Unit::Aergo),
            made.keystore.display()
        ));
    }
    text.push_str(&format!("producer (node key) {producer}\nstart it with: aergo node --dir {}", dir.display()));
    Ok(out(json, text))
}

async fn run_node(a: NodeArgs, json_mode: bool) -> anyhow::Result<()> {
    let overrides = Overrides {
        rpc_listen: a.rpc_listen,
        grpc_listen: a.grpc_listen,
        block_interval_ms: a.block_interval_ms,
        produce_empty_blocks: a.produce_empty_blocks,
    };
    let dir = match (&a.dir, a.dev) {
        (Some(d), _) => d.clone(),
        (None, true) => devnode::kept_temp_dir("aergo-dev-")?,
        (None, false) => keys::aergo_home()?,
    };
    let mut dev_keys = Vec::new();
    if a.dev && !DataDir::is_initialised(&dir) {
        // Refuse this run's flags before a new directory is written.
        let mut check = NodeConfig::default();
        overrides.apply(&mut check);
        check.validate().map_err(|reason| aergo_node::NodeError::Config { reason })?;
    }
    if a.dev {
        // The file keeps the defaults; this run's flags apply on top.
        let (_, k) = init_dev_data_dir(&dir, NodeConfig::default())?;
        dev_keys = k;
    } else if !DataDir::is_initialised(&dir) {
        bail!(
            "{} is not initialised: run `aergo init --dir {}` first, or `aergo node --dev` for a dev chain",
            dir.display(),
            dir.display()
        );
    }
    let mut config = devnode::load_config(&dir)?;
    overrides.apply(&mut config);
    let interval_ms = config.solo.block_interval_ms;
    let console = config.console.enabled;
    let running =
        devnode::start(&dir, config).await.with_context(|| format!("starting the node in {}", dir.display()))?;
    let url = format!("http://{}", running.rpc_addr);
    let report = node_report(&dir, &url, running.grpc_addr, &dev_keys, interval_ms, a.dev, console).await;
    match report {
        Ok(o) => print_stdout(&if json_mode { o.json.to_string() } else { o.text }),
        Err(e) => {
            running.shutdown().await;
            return Err(e);
        }
    }
    let sync = aergo_cli::syncbar::spawn_watch(url.clone());
    let why = shutdown_signal().await;
    sync.abort();
    tracing::info!(signal = why, "shutting down");
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn node_report(
    dir: &Path,
    url: &str,
    grpc_addr: SocketAddr,
    dev_keys: &[aergo_crypto::PrivateKey],
    interval_ms: u64,
    dev: bool,
    console: bool,
) -> anyhow::Result<Output> {
    let client = RpcClient::new(url)?;
    let status = client.status().await?;
    let chain = format!(
        "{}/{}",
        status.raw["chainId"]["magic"].as_str().unwrap_or("?"),
        status.raw["chainId"]["consensus"].as_str().unwrap_or("?")
    );
    let mut text = format!(
        "data directory {}{}\nchain {chain} (chain id hash {})\nhead height {} hash {}\nblock interval {interval_ms} ms\n\
         rpc listening on {url}\nwebsocket {}\ngrpc listening on {grpc_addr}\n{}",
        dir.display(),
        if dev { " (kept: reuse it with --dir)" } else { "" },
        status.chain_id_hash,
        status.height,
        status.head_hash,
        client.ws_url(),
        if console { format!("console {url}/\n") } else { String::new() },
    );
    let mut accounts = Vec::new();
    if !dev_keys.is_empty() {
        text.push_str(&format!(
            "\ndev accounts ({DEV_ACCOUNTS}; their keys are public knowledge: never use them outside development)\n"
        ));
        for (i, k) in dev_keys.iter().enumerate() {
            let info = client.account(&k.address(), None).await?;
            let key_hex = hex::encode(k.to_bytes());
            text.push_str(&format!(
                "  dev:{i}  {}  key {key_hex}  balance {}\n",
                k.address(),
                info.balance.format(Unit::Aergo)
            ));
            accounts.push(json!({
                "index": i,
                "address": k.address().to_string(),
                "privateKey": key_hex,
                "balance": info.balance.aer().to_string(),
            }));
        }
        if let Some(to) = dev_keys.get(1) {
            text.push_str(&format!(
                "\ntry: aergo send --rpc {url} --from dev:0 --to {} --amount \"1.5 aergo\" --wait\n",
                to.address()
            ));
        }
    }
    let json = json!({
        "dir": dir.display().to_string(),
        "chainId": chain,
        "chainIdHash": status.chain_id_hash.to_string(),
        "height": status.height,
        "rpcUrl": url,
        "grpcAddr": grpc_addr.to_string(),
        "wsUrl": client.ws_url(),
        "blockIntervalMs": interval_ms,
        "devAccounts": accounts,
    });
    Ok(out(json, text.trim_end().to_string()))
}

async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupt",
                _ = term.recv() => "terminate",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "interrupt"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

async fn send(a: SendArgs, client: &RpcClient) -> anyhow::Result<Output> {
    let to = keys::parse_recipient(&a.to)?;
    let amount = parse_amount(&a.amount)?;
    let payload = match &a.payload {
        Some(p) => parse_payload(p)?,
        None => Vec::new(),
    };
    let (from, key) = a.signer.signer()?;
    let transfer = Transfer { to: to.clone(), amount, nonce: a.signer.nonce, payload, gas_limit: a.signer.gas_limit };
    let sent = if a.signer.preconfirm() {
        aergo_client::transfer::send_transfer_preconfirmed(client, &key, &transfer).await?
    } else {
        send_transfer(client, &key, &transfer, a.signer.wait_timeout_ms()).await?
    };
    let nonce = sent.tx.body.as_ref().map_or(0, |b| b.nonce);
    let json = json!({
        "hash": sent.hash.to_string(),
        "from": from.to_string(),
        "to": to.to_string(),
        "amount": amount.aer().to_string(),
        "nonce": nonce,
        "receipt": sent.receipt,
        "preconfirmation": preconf_json(sent.preconfirmation.as_ref()),
    });
    let mut text = format!("sent {} from {from} to {to} (nonce {nonce})\ntx {}", amount.format(Unit::Aergo), sent.hash);
    if let Some(r) = &sent.receipt {
        text.push_str(&format!("\n\nreceipt\n{}", format::receipt(r)));
    }
    text.push_str(&preconf_text(sent.preconfirmation.as_ref()));
    Ok(out(json, text))
}

fn account(command: AccountCommand) -> anyhow::Result<Output> {
    match command {
        AccountCommand::New(ks) => {
            let dir = ks.dir()?;
            let password = keys::password(ks.password.as_deref(), "passphrase for the new key: ", true)?;
            let address = Keystore::open(&dir)?.new_account(&password)?;
            let path = Keystore::open(&dir)?.path_of(&address);
            Ok(out(
                json!({ "address": address.to_string(), "file": path.display().to_string() }),
                format!("new account {address}\nkey file {}", path.display()),
            ))
        }
        AccountCommand::List(ks) => {
            let dir = ks.dir()?;
            let list: Vec<String> = Keystore::open(&dir)?.list()?.iter().map(ToString::to_string).collect();
            let text = if list.is_empty() { format!("no accounts in {}", dir.display()) } else { list.join("\n") };
            Ok(out(json!({ "keystore": dir.display().to_string(), "accounts": list }), text))
        }
        AccountCommand::Import { ks, key, exported, keyfile, export_password } => {
            let dir = ks.dir()?;
            let password = keys::password(ks.password.as_deref(), "keystore passphrase: ", false)?;
            let private = match (key, exported, keyfile) {
                (Some(k), _, _) => keys::parse_private_key(&k)?,
                (_, Some(text), _) => {
                    let p = export_password.as_deref().unwrap_or(&password);
                    aergo_crypto::import_exported_key(text.trim(), p)?
                }
                (_, _, Some(path)) => {
                    let json = devnode::read_bounded(&path, aergo_crypto::keystore::KEY_FILE_MAX_BYTES as usize)?;
                    aergo_crypto::decrypt_key(&json, &password)?
                }
                (None, None, None) => bail!("nothing to import: pass --key, --exported or --keyfile"),
            };
            let address = Keystore::open(&dir)?.import(&private, &password)?;
            Ok(out(
                json!({ "address": address.to_string(), "keystore": dir.display().to_string() }),
                format!("imported {address} into {}", dir.display()),
            ))
        }
        AccountCommand::Export { address, ks, keyfile, export_password } => {
            let dir = ks.dir()?;
            let addr = keys::parse_account(&address)?;
            let store = Keystore::open(&dir)?;
            if keyfile {
                let file = store.export_file(&addr)?;
                let parsed: Value = serde_json::from_str(&file).context("the stored key file is not JSON")?;
                return Ok(out(json!({ "address": addr.to_string(), "keyfile": parsed }), file));
            }
            let password = keys::password(ks.password.as_deref(), "keystore passphrase: ", false)?;
            let p = export_password.as_deref().unwrap_or(&password);
            let text = store.export(&addr, &password, p)?;
            Ok(out(json!({ "address": addr.to_string(), "exported": text }), text))
        }
    }
}

fn contract_address(text: &str) -> anyhow::Result<Address> {
    Ok(contracts::parse_contract_address(text)?)
}

fn signer(tx: &ContractTxArgs) -> anyhow::Result<(Address, aergo_crypto::PrivateKey, TxOptions)> {
    let (from, key) = tx.signer.signer()?;
    let amount = match &tx.amount {
        Some(a) => parse_amount(a)?,
        None => Amount::ZERO,
    };
    let options = TxOptions {
        amount,
        nonce: tx.signer.nonce,
        gas_limit: tx.signer.gas_limit,
        wait_timeout_ms: tx.signer.wait_timeout_ms(),
        preconfirm: tx.signer.preconfirm(),
    };
    Ok((from, key, options))
}

fn sent_output(what: &str, from: &Address, sent: &contracts::SentContractTx) -> Output {
    let json = json!({
        "hash": sent.hash.to_string(),
        "contract": sent.contract.to_string(),
        "from": from.to_string(),
        "nonce": sent.nonce,
        "receipt": sent.receipt,
        "preconfirmation": preconf_json(sent.preconfirmation.as_ref()),
    });
    let mut text = format!(
        "{what} {}
from {from} (nonce {})
tx {}",
        sent.contract, sent.nonce, sent.hash
    );
    match &sent.receipt {
        Some(r) => text.push_str(&format!("\n\nreceipt\n{}", format::receipt(r))),
        None => text.push_str(&format!("\n(not waited for: `aergo receipt {}` shows the outcome)", sent.hash)),
    }
    text.push_str(&preconf_text(sent.preconfirmation.as_ref()));
    out(json, text)
}

/// The `preconfirmation` field of a sending command's JSON: the
/// pre-confirmation, `{"reason"}` when there is none, or null when not
/// asked for.
fn preconf_json(p: Option<&Result<Value, String>>) -> Value {
    match p {
        None => Value::Null,
        Some(Ok(v)) => v.clone(),
        Some(Err(reason)) => json!({ "reason": reason }),
    }
}

fn preconf_text(p: Option<&Result<Value, String>>) -> String {
    match p {
        None => String::new(),
        Some(Ok(v)) => format!(
            "\n\npre-confirmed: block {} position {}, status {}, gas {}\n(save it with --json; `aergo preconf verify FILE` checks it)",
            v["height"], v["index"], v["status"].as_str().unwrap_or("?"), v["gasUsed"]
        ),
        Some(Err(reason)) => format!("\n\nnot pre-confirmed: {reason}"),
    }
}

/// The text of `file`, or of stdin for `-`, refused past `limit_bytes`
/// (`bound` says why there is one).
fn read_input(file: &str, limit_bytes: u64, bound: &str) -> anyhow::Result<String> {
    if file == "-" {
        let text = std::io::read_to_string(std::io::stdin().take(limit_bytes + 1))?;
        if text.len() as u64 > limit_bytes {
            bail!("stdin: more than {limit_bytes} bytes; {bound}");
        }
        return Ok(text);
    }
    let meta = std::fs::metadata(file).with_context(|| format!("reading {file}"))?;
    if meta.len() > limit_bytes {
        bail!("{file}: {} bytes; {bound}", meta.len());
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {file}"))
}

/// A pre-confirmation from a file (or stdin for `-`): its JSON, a sending
/// command's JSON holding it, or the hex of its encoding.
fn read_preconf(file: &str) -> anyhow::Result<aergo_types::Preconfirmation> {
    let text = read_input(file, 4 << 20, "a pre-confirmation is at most a few hundred KiB")?;
    let inner = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("preconfirmation").filter(|p| p.get("raw").is_some()).map(Value::to_string));
    Ok(aergo_types::Preconfirmation::from_json_or_hex(inner.as_deref().unwrap_or(&text))?)
}

fn preconf_verify(file: &str) -> anyhow::Result<Output> {
    let p = read_preconf(file)?;
    let producer = aergo_crypto::verify_preconf(&p).context("the pre-confirmation does not verify")?;
    let mut json = p.to_json();
    json["valid"] = json!(true);
    json["producerPeerId"] = json!(producer.peer_id());
    let text = format!(
        "valid pre-confirmation signed by {}\nchain id hash {}\nblock {} on {} at position {}\ntx {}\nstatus {}, gas {}\npending digest {}",
        producer.peer_id(),
        json["chainIdHash"].as_str().unwrap_or("?"),
        p.height,
        json["parent"].as_str().unwrap_or("?"),
        p.index,
        json["txHash"].as_str().unwrap_or("?"),
        json["status"].as_str().unwrap_or("?"),
        json["gasUsed"],
        json["pendingDigest"].as_str().unwrap_or("?"),
    );
    Ok(out(json, text))
}

async fn contract(command: ContractCommand, client: &RpcClient) -> anyhow::Result<Output> {
    match command {
        ContractCommand::Deploy { file, args, tx } => {
            let source = contracts::read_source(&file)?;
            let args = args.as_deref().map(contracts::parse_args_array).transpose()?;
            let (from, key, opts) = signer(&tx)?;
            let sent = contracts::deploy(client, &key, &source, args.as_deref(), &opts).await?;
            Ok(sent_output("contract", &from, &sent))
        }
        ContractCommand::Call { contract, function, args, args_json, tx } => {
            let address = contract_address(&contract)?;
            let (name, values) = match args_json {
                Some(j) => (function, contracts::parse_args_array(&j)?),
                None => {
                    let abi = contracts::abi(client, &address, None).await?;
                    contracts::call_args(&abi, &address, &function, &args)?
                }
            };
            let (from, key, opts) = signer(&tx)?;
            let sent = contracts::call(client, &key, &address, &name, &values, &opts).await?;
            Ok(sent_output(&format!("called {name} of"), &from, &sent))
        }
        ContractCommand::Query { contract, sql, at } => {
            let address = contract_address(&contract)?;
            let v = contracts::query(client, Some(&address), &sql, at).await?;
            let text = format::query_result(&v);
            Ok(out(v, text))
        }
        ContractCommand::Abi { contract, at } => {
            let v = contracts::abi(client, &contract_address(&contract)?, at).await?;
            let text = format::abi(&v);
            Ok(out(v, text))
        }
        ContractCommand::Info { contract, at } => {
            let address = contract_address(&contract)?;
            let params = match at {
                Some(h) => json!([address.to_string(), h]),
                None => json!([address.to_string()]),
            };
            let v = client.call("getContract", params).await?;
            let text = format::contract(&v);
            Ok(out(v, text))
        }
    }
}

async fn events(a: EventsArgs, client: &RpcClient) -> anyhow::Result<Output> {
    let mut filter = serde_json::Map::new();
    if let Some(c) = &a.contract {
        filter.insert("contract".into(), json!(contract_address(c)?.to_string()));
    }
    if let Some(n) = a.name {
        filter.insert("name".into(), json!(n));
    }
    if let Some(h) = a.from_height {
        filter.insert("fromHeight".into(), json!(h));
    }
    if let Some(h) = a.to_height {
        filter.insert("toHeight".into(), json!(h));
    }
    let v = client.call("getEvents", json!([filter])).await?;
    let text = format::events(&v);
    Ok(out(v, text))
}

async fn sql_shell(a: SqlArgs, client: RpcClient, json_mode: bool) -> anyhow::Result<()> {
    use aergo_cli::shell::{self, Shell};
    let contract = a.contract.as_deref().map(contract_address).transpose()?.map(|c| c.to_string());
    // Fail now, not at the first statement, if the node is not there.
    client.status().await?;
    let mut sh = Shell::new(client, a.at, contract, json_mode);
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let history = keys::aergo_home().ok().map(|h| h.join(shell::HISTORY_FILE));
        shell::run_interactive(&mut sh, history).await?;
        return Ok(());
    }
    // Scripted input: one line at a time, each bounded.
    let mut reader = std::io::BufReader::new(std::io::stdin());
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    loop {
        let mut line = String::new();
        let n = tokio::task::block_in_place(|| {
            use std::io::{BufRead, Read};
            (&mut reader).take(shell::MAX_STATEMENT_BYTES as u64 + 1).read_line(&mut line)
        })
        .context("reading stdin")?;
        if n == 0 {
            break;
        }
        if line.len() > shell::MAX_STATEMENT_BYTES {
            bail!("an input line is longer than {} bytes", shell::MAX_STATEMENT_BYTES);
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if sh.line(line, &mut stdout, &mut stderr).await == shell::Step::Quit {
            break;
        }
    }
    if sh.errors() > 0 {
        bail!("{} statement(s) or command(s) failed", sh.errors());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let matches = Cli::command().try_get_matches_from(std::iter::once("aergo").chain(args.iter().copied()))?;
        refuse_client_flags(&matches)?;
        Cli::from_arg_matches(&matches)
    }

    #[test]
    fn the_arguments_are_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn node_refuses_the_client_rpc_flag_and_points_at_rpc_listen() {
        for args in [&["node", "--dev", "--rpc", "http://127.0.0.1:1"][..], &["--rpc", "http://127.0.0.1:1", "node"]] {
            let e = parse(args).err().unwrap_or_else(|| panic!("{args:?} must be refused"));
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
            let text = e.to_string();
            assert!(text.contains("--rpc-listen") && text.contains("does not take --rpc"), "{text}");
        }
        let Command::Node(a) = parse(&["node", "--dev", "--rpc-listen", "127.0.0.1:0"]).unwrap().command else {
            panic!("not node")
        };
        assert_eq!(a.rpc_listen, Some("127.0.0.1:0".parse().unwrap()));
        // The client commands keep --rpc, before or after the command.
        assert_eq!(parse(&["status", "--rpc", "http://x:1"]).unwrap().rpc, "http://x:1");
        assert_eq!(parse(&["--rpc", "http://x:1", "status"]).unwrap().rpc, "http://x:1");
    }

    #[test]
    fn sending_commands_share_one_signer_group() {
        let Command::Send(a) =
            parse(&["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--wait"]).unwrap().command
        else {
            panic!("not send")
        };
        assert_eq!(a.signer.from.as_deref(), Some("dev:0"));
        assert_eq!(a.signer.wait_timeout_ms(), Some(30_000));
        assert!(!a.signer.preconfirm());
        let Command::Send(a) =
            parse(&["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--wait", "preconfirmed"])
                .unwrap()
                .command
        else {
            panic!("not send")
        };
        assert!(a.signer.preconfirm());
        assert_eq!(a.signer.wait_timeout_ms(), None);
        assert!(parse(&["send", "--from", "dev:0", "--to", "dev:1", "--amount", "1 aer", "--wait", "soon"]).is_err());
        let Command::Contract { command: ContractCommand::Call { tx, .. } } =
            parse(&["contract", "call", "Amx", "f", "--from", "dev:2", "--nonce", "7", "--timeout-ms", "5"])
                .unwrap()
                .command
        else {
            panic!("not contract call")
        };
        assert_eq!(
            (tx.signer.from.as_deref(), tx.signer.nonce, tx.signer.wait_timeout_ms()),
            (Some("dev:2"), Some(7), None)
        );
        for missing_from in [
            &["send", "--to", "dev:1", "--amount", "1 aer"][..],
            &["contract", "deploy", "x.sql"],
            &["stake", "--amount", "1 aergo"],
            &["vote", "16Uiu2x"],
        ] {
            let e = parse(missing_from).err().unwrap_or_else(|| panic!("{missing_from:?} needs --from"));
            assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument, "{missing_from:?}: {e}");
        }
        // `stake show` signs nothing.
        assert!(parse(&["stake", "show", "dev:0"]).is_ok());
    }
}
