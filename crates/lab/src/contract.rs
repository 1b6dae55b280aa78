//! `aergo bench contract`: the whitepaper's `transfer` function run by the
//! chain as signed transactions, against the same function run by
//! PostgreSQL, in the same run on the same machine.
//!
//! **Node side.** A bench chain (see [`crate::transfer::bench_genesis`]) runs
//! in this process on a loopback port. Not timed: one account deploys the
//! contract (the whitepaper's `accounts` table and `transfer` function as
//! written, plus `create_accounts`, a loop of INSERTs) and calls
//! `create_accounts` in chunks until the table holds `--accounts` rows of
//! balance 1,000,000; then `--calls` calls `transfer(s, r, 1)`, with `s`
//! and `r` drawn uniformly from the account ids by a seeded generator, are
//! signed round-robin by other accounts (the pool holds at most 256
//! pending transactions per account) and packed into JSON-RPC batches.
//! Timed: from the first submission, over `--clients` HTTP connections,
//! until the block holding the last call is announced. Afterwards every
//! signer's nonce must match, every row of the table must hold exactly the
//! balance the calls give it (each call moves 1 from `s` to `r`, computed
//! here), and a sample of receipts must say `SUCCESS` with `'OK'`;
//! otherwise the run fails rather than print a figure.
//!
//! **PostgreSQL side.** A throwaway cluster ([`crate::pg`]) gets the same
//! table, the same PL/pgSQL function (the whitepaper text, with its
//! parameter `to` renamed `receiver`: `TO` is a reserved word PostgreSQL
//! does not accept as a parameter name) and the same number of accounts;
//! then `pgbench -n -c CLIENTS -j 2 -T SECONDS` runs `SELECT transfer(:s,
//! :r, 1)` with uniform random ids, once with `synchronous_commit = on`
//! (the default: every commit waits for its WAL flush) and once `off`.
//! Clients reach it over loopback TCP, as the node's clients do.
//!
//! The figures are calls per second; the ratios are node / PostgreSQL.

use std::time::Instant;

use aergo_crypto::PrivateKey;
use aergo_node::{init_data_dir, InitOptions, NodeConfig};
use aergo_types::payload::encode_call_payload;
use aergo_types::{Address, Amount, TxBody, TxType};
use serde_json::{json, Value};

use aergo_client::client::RpcClient;
use aergo_client::contract::{self, TxOptions};
use aergo_client::{CliError, Result};

use crate::pg::{Cluster, PgBinaries};
use crate::transfer::{bench_genesis, drive, prepare_signed, BenchOptions};

/// The whitepaper's table, as written (the engine's tests run the same
/// file).
pub const WHITEPAPER_DDL: &str = include_str!("../../sql/tests/whitepaper_ddl.sql");

/// The whitepaper's `transfer`, as written (typos corrected).
pub const WHITEPAPER_FN: &str = include_str!("../../sql/tests/whitepaper_fn.sql");

/// Setup only (not measured): opens accounts `first_id..=last_id`.
const CREATE_ACCOUNTS_FN: &str = "CREATE FUNCTION create_accounts(first_id BIGINT, last_id BIGINT, initial NUMERIC)
RETURNS BIGINT AS $$
BEGIN
    FOR i IN first_id..last_id LOOP
        INSERT INTO accounts VALUES (CAST(i AS VARCHAR), initial);
    END LOOP;
    RETURN last_id - first_id + 1;
END;
$$ LANGUAGE plpgsql";

/// Balance every account starts with.
pub const INITIAL_BALANCE: u64 = 1_000_000;
/// Accounts opened per setup transaction (at most 20,000 gas each, so a
/// setup transaction stays well under the gas limit below).
const ACCOUNTS_PER_SETUP_TX: u64 = 2_500;
/// Gas limit of a setup transaction: the chain's default cap per
/// transaction (MAXTXGAS); only what is used is paid.
const SETUP_GAS_LIMIT: u64 = 100_000_000;
/// Calls signed per bench account (below the pool's 256 slots).
const CALLS_PER_SENDER: usize = 200;
/// Most accounts in the contract table.
pub const MAX_ACCOUNTS: u64 = 10_000_000;
/// Most clients.
pub const MAX_CLIENTS: usize = 64;

/// How a run is shaped.
#[derive(Clone, Debug)]
pub struct ContractBenchOptions {
    /// Rows of the `accounts` table, on both sides.
    pub accounts: u64,
    /// Calls the node runs.
    pub calls: usize,
    /// Submitting connections (node) and pgbench clients.
    pub clients: usize,
    pub block_interval_ms: u64,
    /// Length of each pgbench run.
    pub pg_seconds: u64,
    /// Run the PostgreSQL side.
    pub postgres: bool,
    /// Seed of the random sender/receiver ids.
    pub seed: u64,
    pub timeout_ms: u64,
}

impl ContractBenchOptions {
    pub fn full() -> ContractBenchOptions {
        ContractBenchOptions {
            accounts: 100_000,
            calls: 50_000,
            clients: 8,
            block_interval_ms: 100,
            pg_seconds: 15,
            postgres: true,
            seed: 42,
            timeout_ms: 600_000,
        }
    }

    /// A short run (seconds) for smoke tests.
    pub fn quick() -> ContractBenchOptions {
        ContractBenchOptions { accounts: 2_000, calls: 2_000, pg_seconds: 3, timeout_ms: 120_000, ..Self::full() }
    }

    /// Bench accounts signing the calls.
    pub fn senders(&self) -> u32 {
        u32::try_from(self.calls.div_ceil(CALLS_PER_SENDER).max(1)).unwrap_or(u32::MAX)
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(CliError::Bench { reason });
        if self.accounts < 2 || self.accounts > MAX_ACCOUNTS {
            return bad(format!("--accounts {} is outside 2..={MAX_ACCOUNTS}", self.accounts));
        }
        if self.calls == 0 || self.calls > crate::transfer::MAX_BENCH_TXS {
            return bad(format!("--calls {} is outside 1..={}", self.calls, crate::transfer::MAX_BENCH_TXS));
        }
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return bad(format!("--clients {} is outside 1..={MAX_CLIENTS}", self.clients));
        }
        // One more account deploys and sets up.
        if self.senders() >= crate::transfer::MAX_BENCH_SENDERS {
            return bad(format!(
                "--calls {} needs more than {} signing accounts",
                self.calls,
                crate::transfer::MAX_BENCH_SENDERS
            ));
        }
        if self.postgres && self.pg_seconds == 0 {
            return bad("--pg-seconds must be at least 1".into());
        }
        Ok(())
    }
}

/// The node's figures.
#[derive(Clone, Debug)]
pub struct NodeFigures {
    pub calls: usize,
    pub senders: u32,
    pub blocks: u64,
    pub max_block_txs: u64,
    pub elapsed_ms: f64,
    pub submit_ms: f64,
    pub tps: f64,
    pub setup_ms: f64,
}

/// PostgreSQL's figures.
#[derive(Clone, Debug)]
pub struct PgFigures {
    pub version: String,
    pub sync_tps: f64,
    pub async_tps: f64,
    pub sync_transactions: u64,
    pub async_transactions: u64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct ContractBenchResult {
    pub accounts: u64,
    pub clients: usize,
    pub pg_seconds: u64,
    pub node: NodeFigures,
    /// PostgreSQL's figures, or why there are none.
    pub pg: std::result::Result<PgFigures, String>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

impl ContractBenchResult {
    /// The machine-readable summary line.
    pub fn bench_line(&self) -> String {
        let n = self.node.tps;
        let (sync, asyn, rs, ra) = match &self.pg {
            Ok(p) => (
                format!("{:.0}", p.sync_tps),
                format!("{:.0}", p.async_tps),
                format!("{:.3}", ratio(n, p.sync_tps)),
                format!("{:.3}", ratio(n, p.async_tps)),
            ),
            Err(_) => ("na".into(), "na".into(), "na".into(), "na".into()),
        };
        format!(
            "BENCH contract_transfer node_tps={n:.0} pg_sync_tps={sync} pg_async_tps={asyn} ratio_sync={rs} \
             ratio_async={ra} accounts={} calls={} clients={} blocks={} avg_block_txs={:.1}",
            self.accounts,
            self.node.calls,
            self.clients,
            self.node.blocks,
            self.node.calls as f64 / (self.node.blocks.max(1) as f64),
        )
    }

    pub fn text(&self) -> String {
        let n = &self.node;
        let mut t = format!(
            "whitepaper transfer(sender, to, 1) over {} accounts, {} clients\n\
             node        {} signed calls from {} accounts, each applied (table checked row by row), in {} blocks (avg {:.1}, max {})\n\
             \x20           submitted in {:.0} ms, last one in a block after {:.0} ms (setup {:.0} ms, not timed)\n\
             \x20           {:>10.0} calls/s (submit -> in a block)\n",
            self.accounts,
            self.clients,
            n.calls,
            n.senders,
            n.blocks,
            n.calls as f64 / (n.blocks.max(1) as f64),
            n.max_block_txs,
            n.submit_ms,
            n.elapsed_ms,
            n.setup_ms,
            n.tps,
        );
        match &self.pg {
            Ok(p) => t.push_str(&format!(
                "postgresql  {} (pgbench -n -c {} -j 2 -T {})\n\
                 \x20           {:>10.0} calls/s synchronous_commit=on  ({} calls)\n\
                 \x20           {:>10.0} calls/s synchronous_commit=off ({} calls)\n\
                 ratio       {:>10.3} node / postgresql, synchronous_commit=on (target >= 1.0)\n\
                 \x20           {:>10.3} node / postgresql, synchronous_commit=off\n",
                p.version,
                self.clients,
                self.pg_seconds,
                p.sync_tps,
                p.sync_transactions,
                p.async_tps,
                p.async_transactions,
                ratio(n.tps, p.sync_tps),
                ratio(n.tps, p.async_tps),
            )),
            Err(why) => t.push_str(&format!("postgresql  not measured: {why}\n")),
        }
        t.push_str(&self.bench_line());
        t
    }

    pub fn json(&self) -> Value {
        let n = &self.node;
        json!({
            "accounts": self.accounts,
            "clients": self.clients,
            "node": {
                "calls": n.calls, "senders": n.senders, "blocks": n.blocks, "maxBlockTxs": n.max_block_txs,
                "elapsedMs": n.elapsed_ms, "submitMs": n.submit_ms, "setupMs": n.setup_ms, "tps": n.tps,
            },
            "postgresql": match &self.pg {
                Ok(p) => json!({
                    "version": p.version, "seconds": self.pg_seconds,
                    "syncTps": p.sync_tps, "asyncTps": p.async_tps,
                    "syncTransactions": p.sync_transactions, "asyncTransactions": p.async_transactions,
                    "ratioSync": ratio(n.tps, p.sync_tps), "ratioAsync": ratio(n.tps, p.async_tps),
                }),
                Err(why) => json!({ "error": why }),
            },
            "bench": self.bench_line(),
        })
    }
}

/// The contract the node runs: the whitepaper table and function, and the
/// setup function.
pub fn node_source() -> String {
    format!("{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n{CREATE_ACCOUNTS_FN};\n")
}

/// The same for PostgreSQL: `to` renamed `receiver` (see the module docs).
pub fn postgres_source() -> Result<String> {
    let mut f = WHITEPAPER_FN.to_string();
    for (from, to) in
        [("sender VARCHAR, to VARCHAR", "sender VARCHAR, receiver VARCHAR"), ("id = to;", "id = receiver;")]
    {
        let n = f.matches(from).count();
        if n == 0 {
            return Err(CliError::Bench { reason: format!("the whitepaper function no longer contains {from:?}") });
        }
        f = f.replace(from, to);
    }
    Ok(format!("{WHITEPAPER_DDL};\n{f};\n"))
}

/// SplitMix64: a small, seeded, well-mixed generator (same pairs on every
/// run with the same seed).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=n` (the modulo bias is below 2^-40 for n < 2^24).
    fn id(&mut self, n: u64) -> u64 {
        1 + self.next() % n
    }
}

/// Runs the benchmark. `progress` gets one line per phase.
pub async fn bench_contract(
    opts: &ContractBenchOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ContractBenchResult> {
    opts.check()?;
    let node = node_side(opts, progress).await?;
    let pg = if opts.postgres {
        let (accounts, clients, seconds) = (opts.accounts, opts.clients, opts.pg_seconds);
        let mut lines = Vec::new();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut note = |l: &str| lines.push(l.to_string());
            let r = postgres_side(accounts, clients, seconds, &mut note);
            (r, lines)
        })
        .await
        .map_err(|e| CliError::Task { what: "the PostgreSQL run", reason: e.to_string() })?;
        for l in &outcome.1 {
            progress(l);
        }
        outcome.0.map_err(|e| e.to_string())
    } else {
        Err("skipped (--no-postgres)".to_string())
    };
    if let Err(why) = &pg {
        progress(&format!("PostgreSQL: {why}"));
    }
    Ok(ContractBenchResult { accounts: opts.accounts, clients: opts.clients, pg_seconds: opts.pg_seconds, node, pg })
}

async fn node_side(opts: &ContractBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<NodeFigures> {
    let senders = opts.senders();
    // Key 0 deploys and sets up; keys 1.. sign the measured calls.
    let (genesis, keys) = bench_genesis(senders + 1)?;
    let (setup_key, call_keys) = keys.split_first().ok_or_else(|| CliError::Bench { reason: "no keys".into() })?;
    let mut config = NodeConfig::default();
    config.listen_on_free_ports();
    config.solo.block_interval_ms = opts.block_interval_ms;
    config.pool.max_txs = config.pool.max_txs.max(opts.calls);
    let tmp = tempfile::Builder::new().prefix("aergo-bench-contract-").tempdir().map_err(|source| CliError::Io {
        what: "creating a temporary directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    let chain = genesis.chain_id.hash();
    init_data_dir(
        tmp.path(),
        InitOptions { genesis, node_key: aergo_crypto::dev_key("node", 0), config: config.clone() },
    )?;
    let running = aergo_client::devnode::start(tmp.path(), config).await?;
    let url = format!("http://{}", running.rpc_addr);
    let outcome = node_run(opts, &url, setup_key, call_keys, &chain, progress).await;
    running.shutdown().await;
    outcome
}

async fn node_run(
    opts: &ContractBenchOptions,
    url: &str,
    setup_key: &PrivateKey,
    call_keys: &[PrivateKey],
    chain: &aergo_types::Hash,
    progress: &mut dyn FnMut(&str),
) -> Result<NodeFigures> {
    let client = RpcClient::new(url)?;
    let setup_start = Instant::now();
    progress(&format!("node on {url}: deploying the whitepaper contract and opening {} accounts...", opts.accounts));
    let wait = Some(opts.timeout_ms);
    let deployed = contract::deploy(
        &client,
        setup_key,
        &node_source(),
        None,
        &TxOptions { wait_timeout_ms: wait, ..Default::default() },
    )
    .await?;
    let address = deployed.contract.clone();
    let mut pending = Vec::new();
    let mut first = 1;
    while first <= opts.accounts {
        let last = (first + ACCOUNTS_PER_SETUP_TX - 1).min(opts.accounts);
        let args = [json!(first), json!(last), json!(INITIAL_BALANCE)];
        let o = TxOptions { gas_limit: SETUP_GAS_LIMIT, ..Default::default() };
        pending.push(contract::call(&client, setup_key, &address, "create_accounts", &args, &o).await?.hash);
        first = last + 1;
    }
    for h in &pending {
        let r = client.wait_receipt(h, opts.timeout_ms).await?;
        if r["status"] != "SUCCESS" {
            return Err(CliError::Bench { reason: format!("opening accounts failed: {r}") });
        }
    }
    let (count, total) = table_totals(&client, &address).await?;
    let want_total = u128::from(opts.accounts) * u128::from(INITIAL_BALANCE);
    if count != opts.accounts || total != want_total {
        return Err(CliError::Bench {
            reason: format!(
                "after setup the table has {count} accounts summing to {total}, expected {} and {want_total}",
                opts.accounts
            ),
        });
    }
    let setup_ms = setup_start.elapsed().as_secs_f64() * 1000.0;

    progress(&format!("signing {} transfer calls from {} accounts (not timed)...", opts.calls, call_keys.len()));
    let (batches, hashes, pairs) = {
        let (keys, calls, accounts, seed, chain, address) =
            (call_keys.to_vec(), opts.calls, opts.accounts, opts.seed, *chain, address.clone());
        tokio::task::spawn_blocking(move || {
            let mut rng = SplitMix64(seed);
            let mut pairs = Vec::with_capacity(calls);
            let (batches, hashes) = prepare_signed(&keys, calls, 100, &Value::Null, |_, nonce, from: &Address| {
                let (s, r) = (rng.id(accounts), rng.id(accounts));
                pairs.push((s, r));
                let payload = encode_call_payload("transfer", &[json!(s.to_string()), json!(r.to_string()), json!(1)]);
                TxBody::new(TxType::Call, nonce, from, Some(&address), Amount::ZERO, &chain).with_payload(payload)
            });
            (batches, hashes, pairs)
        })
        .await
        .map_err(|e| CliError::Task { what: "signing", reason: e.to_string() })?
    };

    progress(&format!(
        "submitting over {} connections in batches of 100, block interval {} ms...",
        opts.clients, opts.block_interval_ms
    ));
    let drive_opts = BenchOptions {
        txs: opts.calls,
        senders: u32::try_from(call_keys.len()).unwrap_or(u32::MAX),
        block_interval_ms: opts.block_interval_ms,
        connections: opts.clients,
        batch: 100,
        verify_ms: 0,
        timeout_ms: opts.timeout_ms,
    };
    let (elapsed, submit, blocks, max_block_txs) = drive(url, call_keys, batches, &drive_opts).await?;

    progress("checking the whole table against the calls, and a sample of receipts (not timed)...");
    check_table(&client, &address, opts.accounts, &pairs).await?;
    let step = (hashes.len() / RECEIPTS_CHECKED).max(1);
    let sample: Vec<aergo_types::Hash> = hashes.iter().step_by(step).copied().collect();
    check_receipts(&client, &sample).await?;
    Ok(NodeFigures {
        calls: opts.calls,
        senders: u32::try_from(call_keys.len()).unwrap_or(u32::MAX),
        blocks,
        max_block_txs,
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        submit_ms: submit.as_secs_f64() * 1000.0,
        tps: opts.calls as f64 / elapsed.as_secs_f64().max(1e-9),
        setup_ms,
    })
}

/// Rows of the table and the sum of their balances (whole units).
async fn table_totals(client: &RpcClient, contract: &Address) -> Result<(u64, u128)> {
    let v = contract::query(client, Some(contract), "SELECT count(*), sum(balance) FROM accounts", None).await?;
    let row = &v["rows"][0];
    let count = row[0].as_u64();
    let total = row[1].as_str().and_then(|s| s.strip_suffix(".00").unwrap_or(s).parse::<u128>().ok());
    match (count, total) {
        (Some(c), Some(t)) => Ok((c, t)),
        _ => Err(CliError::Bench { reason: format!("unexpected totals {row}") }),
    }
}

/// Receipts read back after a run. Every call's effect is checked through
/// the table (see [`check_table`]); receipts only by sample, because the
/// node's `getReceipt` decodes all receipts of the transaction's block
/// (milliseconds per lookup in blocks of thousands).
const RECEIPTS_CHECKED: usize = 500;
/// Rows read per page when checking the table.
const CHECK_PAGE_ROWS: usize = 5_000;

/// Every account's balance must be what the calls made it: each call
/// `transfer(s, r, 1)` returns 'OK' (every id exists, every balance is far
/// above what it can lose), so it moves exactly 1 from `s` to `r`.
/// A failed call would leave two balances off.
async fn check_table(client: &RpcClient, contract: &Address, accounts: u64, pairs: &[(u64, u64)]) -> Result<()> {
    let mut want: std::collections::BTreeMap<String, i128> =
        (1..=accounts).map(|i| (i.to_string(), i128::from(INITIAL_BALANCE))).collect();
    for (s, r) in pairs {
        *want.entry(s.to_string()).or_default() -= 1;
        *want.entry(r.to_string()).or_default() += 1;
    }
    let mut expected = want.into_iter();
    let mut last = String::new();
    let mut seen = 0u64;
    loop {
        let sql = format!("SELECT id, balance FROM accounts WHERE id > '{last}' ORDER BY id LIMIT {CHECK_PAGE_ROWS}");
        let v = contract::query(client, Some(contract), &sql, None).await?;
        let rows = v["rows"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            let id = row[0].as_str().unwrap_or_default().to_string();
            let balance = row[1].as_str().and_then(|b| b.strip_suffix(".00")).and_then(|b| b.parse::<i128>().ok());
            match expected.next() {
                Some((want_id, want_balance)) if want_id == id && Some(want_balance) == balance => {}
                other => {
                    return Err(CliError::Bench {
                        reason: format!("account row {row} after the run, expected {other:?} (id, balance)"),
                    })
                }
            }
            last = id;
            seen += 1;
        }
        if rows.len() < CHECK_PAGE_ROWS {
            break;
        }
    }
    if seen != accounts || expected.next().is_some() {
        return Err(CliError::Bench {
            reason: format!("the table has {seen} accounts after the run, expected {accounts}"),
        });
    }
    Ok(())
}

/// These calls must have `SUCCESS` receipts returning `'OK'`.
async fn check_receipts(client: &RpcClient, hashes: &[aergo_types::Hash]) -> Result<()> {
    for chunk in hashes.chunks(100) {
        let calls: Vec<(&str, Value)> = chunk.iter().map(|h| ("getReceipt", json!([h.to_string()]))).collect();
        for (h, outcome) in chunk.iter().zip(client.batch(&calls).await?) {
            let r = outcome?;
            if r["status"] != "SUCCESS" || r["ret"] != "\"OK\"" {
                return Err(CliError::Bench { reason: format!("call {h} did not return 'OK': {r}") });
            }
        }
    }
    Ok(())
}

/// The PostgreSQL half (blocking: it runs external programs).
fn postgres_side(accounts: u64, clients: usize, seconds: u64, progress: &mut dyn FnMut(&str)) -> Result<PgFigures> {
    let bin = PgBinaries::find_or_install(progress)?;
    let version = bin.version();
    progress(&format!("{version}: starting a throwaway cluster..."));
    let max_connections = format!("max_connections={}", clients + 10);
    let mut cluster = Cluster::start(&bin, &["shared_buffers=128MB", &max_connections])?;
    progress(&format!("loading {accounts} accounts on port {}...", cluster.port));
    let setup = format!(
        "{}\nINSERT INTO accounts SELECT g::text, {INITIAL_BALANCE} FROM generate_series(1, {accounts}) AS g;\n\
         VACUUM ANALYZE accounts;\nCHECKPOINT;\n",
        postgres_source()?
    );
    cluster.psql("creating the table and function", &setup)?;
    let script = format!(
        "\\set s random(1, {accounts})\n\\set r random(1, {accounts})\nSELECT transfer(:s::varchar, :r::varchar, 1);\n"
    );
    let mut run = |setting: &str| -> Result<crate::pg::PgbenchResult> {
        progress(&format!("pgbench -n -c {clients} -j 2 -T {seconds} with synchronous_commit={setting}..."));
        let r = cluster.pgbench(&script, clients, 2, seconds, &format!("-c synchronous_commit={setting}"))?;
        if r.failed > 0 || r.transactions == 0 {
            return Err(CliError::PostgreSql {
                what: "pgbench".into(),
                reason: format!("{} transactions, {} failed", r.transactions, r.failed),
            });
        }
        Ok(r)
    };
    let on = run("on")?;
    let off = run("off")?;
    // The same books at the end: every call moved 1 between two accounts.
    let check = cluster.psql("checking the table", "SELECT count(*) || ' ' || sum(balance) FROM accounts;")?;
    let want = format!("{accounts} {}.00", u128::from(accounts) * u128::from(INITIAL_BALANCE));
    if check != want {
        return Err(CliError::PostgreSql {
            what: "the table after pgbench".into(),
            reason: format!("{check:?}, expected {want:?}"),
        });
    }
    cluster.stop()?;
    Ok(PgFigures {
        version,
        sync_tps: on.tps,
        async_tps: off.tps,
        sync_transactions: on.transactions,
        async_transactions: off.transactions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_source_renames_only_the_reserved_parameter() {
        let pg = postgres_source().unwrap();
        assert!(pg.contains("transfer(sender VARCHAR, receiver VARCHAR, amount NUMERIC)"));
        assert!(pg.contains("PERFORM id FROM accounts WHERE id = receiver;"));
        assert!(pg.contains("UPDATE accounts SET balance = balance + amount WHERE id = receiver;"));
        assert!(!pg.contains(" to ") && !pg.contains("= to;"), "{pg}");
    }

    #[test]
    fn ids_are_seeded_and_in_range() {
        let mut a = SplitMix64(7);
        let mut b = SplitMix64(7);
        let xs: Vec<u64> = (0..1000).map(|_| a.id(10)).collect();
        assert_eq!(xs, (0..1000).map(|_| b.id(10)).collect::<Vec<_>>());
        assert!(xs.iter().all(|x| (1..=10).contains(x)));
        for v in 1..=10 {
            assert!(xs.contains(&v));
        }
    }

    #[test]
    fn options_are_checked_and_lines_are_complete() {
        ContractBenchOptions::full().check().unwrap();
        assert_eq!(ContractBenchOptions::full().senders(), 250);
        let e = ContractBenchOptions { clients: 0, ..ContractBenchOptions::quick() }.check().unwrap_err();
        assert!(e.to_string().contains("--clients"), "{e}");
        let r = ContractBenchResult {
            accounts: 10,
            clients: 8,
            pg_seconds: 3,
            node: NodeFigures {
                calls: 100,
                senders: 1,
                blocks: 4,
                max_block_txs: 40,
                elapsed_ms: 50.0,
                submit_ms: 20.0,
                tps: 2000.0,
                setup_ms: 1.0,
            },
            pg: Ok(PgFigures {
                version: "x".into(),
                sync_tps: 1000.0,
                async_tps: 4000.0,
                sync_transactions: 1,
                async_transactions: 1,
            }),
        };
        assert!(r.bench_line().starts_with(
            "BENCH contract_transfer node_tps=2000 pg_sync_tps=1000 pg_async_tps=4000 ratio_sync=2.000 ratio_async=0.500"
        ));
        assert!(r.text().ends_with(&r.bench_line()));
        let none = ContractBenchResult { pg: Err("not installed".into()), ..r };
        assert!(none.bench_line().contains("pg_sync_tps=na") && none.text().contains("not measured: not installed"));
    }
}
