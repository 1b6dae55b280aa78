//! Benchmark: the whitepaper's `transfer` through AergoSQL versus the same
//! logic as prepared statements on SQLite (rusqlite, in memory), on the
//! same 100k accounts, in one run.
//!
//! A second figure: a 16-table chain join of 10-row tables (sqllogictest's
//! select5 shape, FROM in scrambled order), the same prepared query on both.
//!
//! A third set: six TPC-H-shaped join queries (see `sql_bench/tpch.rs`)
//! against SQLite and against the same queries in FROM order.
//!
//! Run: `cargo run --release -p aergo-sql --features bench --bin sql_bench [-- CALLS [all|transfer|join|tpch]]`

use std::time::Instant;

#[path = "sql_bench/tpch.rs"]
mod tpch;

use aergo_sql::{Engine, ExecContext, Gas, Value};
use aergo_store::{Hash, Overlay, Store};
use rusqlite::{params, Connection};

const ACCOUNTS: usize = 100_000;

/// The whitepaper's `transfer`, the file the engine's tests run.
const TRANSFER: &str = include_str!("../../tests/whitepaper_fn.sql");

/// A fixed pseudo-random sequence of account pairs (same for both engines).
fn pairs(n: usize) -> Vec<(String, String)> {
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % ACCOUNTS as u64) as usize
    };
    (0..n).map(|_| (format!("acct{:06}", next()), format!("acct{:06}", next()))).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let calls: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    // Which parts to run (all by default): profiling one part wants the others out.
    let only = args.get(1).map(String::as_str).unwrap_or("all");
    if !matches!(only, "all" | "transfer" | "join" | "tpch" | "tpch-plans") {
        eprintln!("usage: sql_bench [CALLS] [all|transfer|join|tpch|tpch-plans]; got part {only:?}");
        std::process::exit(2);
    }
    if matches!(only, "all" | "transfer") {
        transfer_bench(calls);
    }
    if matches!(only, "all" | "join") {
        join_bench();
    }
    if matches!(only, "all" | "tpch") {
        tpch::tpch_bench();
    }
    if only == "tpch-plans" {
        tpch::tpch_plans();
    }
}

/// Rounds the calls are split into, alternating engines, so that a slow
/// spell of a shared machine falls on both sides of the ratio.
const ROUNDS: usize = 10;

/// The whitepaper `transfer`, prepared on both engines, `calls` times.
fn transfer_bench(calls: usize) {
    let work = pairs(calls);

    // AergoSQL
    let engine = Engine::default();
    let ctx = ExecContext::default();
    // The real block overlay over an in-memory node store.
    let node_store = Store::memory();
    let mut store = Overlay::new(&node_store, Hash::ZERO);
    let mut setup_gas = Gas::unlimited();
    engine
        .execute(
            &mut store,
            &ctx,
            "CREATE TABLE accounts (id VARCHAR(64) PRIMARY KEY, balance NUMERIC(20, 2) NOT NULL)",
            &[],
            &mut setup_gas,
        )
        .expect("create table");
    let insert = engine.prepare(&store, &ctx, "INSERT INTO accounts VALUES ($1, $2)").expect("prepare insert");
    for i in 0..ACCOUNTS {
        insert
            .execute(&mut store, &ctx, &[Value::Text(format!("acct{i:06}")), Value::Int(1_000)], &mut setup_gas)
            .expect("insert");
    }
    engine.execute(&mut store, &ctx, TRANSFER, &[], &mut setup_gas).expect("create function");
    let amount = Value::Int(1);

    // SQLite, same data, prepared statements, one transaction per call.
    let conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch("CREATE TABLE accounts (id TEXT PRIMARY KEY, balance NUMERIC NOT NULL)").expect("sqlite table");
    {
        let tx = conn.unchecked_transaction().expect("tx");
        let mut ins = tx.prepare("INSERT INTO accounts VALUES (?1, ?2)").expect("prep");
        for i in 0..ACCOUNTS {
            ins.execute(params![format!("acct{i:06}"), 1_000]).expect("insert");
        }
        drop(ins);
        tx.commit().expect("commit");
    }
    let mut sel = conn.prepare("SELECT balance FROM accounts WHERE id = ?1").expect("prep");
    let mut exists = conn.prepare("SELECT 1 FROM accounts WHERE id = ?1").expect("prep");
    let mut debit = conn.prepare("UPDATE accounts SET balance = balance - ?2 WHERE id = ?1").expect("prep");
    let mut credit = conn.prepare("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1").expect("prep");
    let mut begin = conn.prepare("BEGIN").expect("prep");
    let mut commit = conn.prepare("COMMIT").expect("prep");

    let (mut engine_secs, mut sqlite_secs) = (0.0f64, 0.0f64);
    let (mut ok, mut sqlite_ok, mut total_gas) = (0usize, 0usize, 0u64);
    for round in work.chunks(calls.div_ceil(ROUNDS).max(1)) {
        let t0 = Instant::now();
        for (a, b) in round {
            let mut gas = Gas::new(1_000_000);
            let r = engine
                .call_function(
                    &mut store,
                    &ctx,
                    "transfer",
                    &[Value::Text(a.clone()), Value::Text(b.clone()), amount.clone()],
                    &mut gas,
                )
                .expect("transfer");
            if r == Value::Text("OK".into()) {
                ok += 1;
            }
            total_gas += gas.used();
        }
        engine_secs += t0.elapsed().as_secs_f64();

        let t1 = Instant::now();
        for (a, b) in round {
            begin.execute([]).expect("begin");
            let bal: Option<i64> = sel.query_row([a], |r| r.get(0)).ok();
            let outcome = match bal {
                None => "Sender not found",
                Some(x) if x < 1 => "Not enough balance",
                Some(_) => {
                    if exists.exists([b]).expect("exists") {
                        debit.execute(params![a, 1]).expect("debit");
                        credit.execute(params![b, 1]).expect("credit");
                        "OK"
                    } else {
                        "Receiver not found"
                    }
                }
            };
            commit.execute([]).expect("commit");
            if outcome == "OK" {
                sqlite_ok += 1;
            }
        }
        sqlite_secs += t1.elapsed().as_secs_f64();
    }
    assert_eq!(ok, sqlite_ok, "both engines must agree on outcomes");

    let engine_cps = calls as f64 / engine_secs;
    let sqlite_cps = calls as f64 / sqlite_secs;
    println!("accounts={ACCOUNTS} calls={calls} ok={ok} rounds={ROUNDS}");
    println!(
        "aergosql: {engine_cps:.0} calls/s, {:.2} us/call, {} gas/call",
        1e6 * engine_secs / calls as f64,
        total_gas / calls as u64
    );
    println!("sqlite:   {sqlite_cps:.0} calls/s, {:.2} us/call", 1e6 * sqlite_secs / calls as f64);
    println!(
        "BENCH transfer accounts={ACCOUNTS} calls={calls} ratio_vs_sqlite={:.3} engine_calls_per_s={engine_cps:.0} sqlite_calls_per_s={sqlite_cps:.0} engine_us_per_call={:.2} gas_per_call={}",
        engine_cps / sqlite_cps,
        1e6 * engine_secs / calls as f64,
        total_gas / calls as u64
    );
}

/// Tables in the join benchmark, rows per table, queries run.
const JOIN_TABLES: usize = 16;
const JOIN_ROWS: usize = 10;
const JOIN_QUERIES: usize = 2_000;

/// The 16-table chain: `t{k}.b = t{k+1}.a`, `a1` fixed per query, FROM in a
/// fixed scrambled order (FROM order would cross unrelated tables).
fn join_bench() {
    let mut ddl = String::new();
    for t in 1..=JOIN_TABLES {
        ddl.push_str(&format!("CREATE TABLE t{t} (a{t} INTEGER, b{t} INTEGER, x{t} VARCHAR(40));\n"));
        for r in 1..=JOIN_ROWS {
            let b = (r * 7 + t) % JOIN_ROWS + 1;
            ddl.push_str(&format!("INSERT INTO t{t} VALUES ({r}, {b}, 'table t{t} row {r}');\n"));
        }
    }
    let from: Vec<String> = (0..JOIN_TABLES).map(|i| format!("t{}", (i * 5) % JOIN_TABLES + 1)).collect();
    let conds: Vec<String> = (1..JOIN_TABLES).rev().map(|t| format!("b{t} = a{}", t + 1)).collect();
    let query = |param: &str| {
        format!("SELECT x1, x{JOIN_TABLES} FROM {} WHERE {} AND a1 = {param}", from.join(", "), conds.join(" AND "))
    };

    let engine = Engine::default();
    let ctx = ExecContext::default();
    let node_store = Store::memory();
    let mut store = Overlay::new(&node_store, Hash::ZERO);
    engine.execute_batch(&mut store, &ctx, &ddl, &mut Gas::unlimited()).expect("join tables");
    let q = engine.prepare(&store, &ctx, &query("$1")).expect("prepare join");
    let mut total_gas = 0u64;
    let mut engine_rows = 0usize;
    let t0 = Instant::now();
    for i in 0..JOIN_QUERIES {
        let mut gas = Gas::new(100_000_000);
        let r = q.execute(&mut store, &ctx, &[Value::Int((i % JOIN_ROWS) as i64 + 1)], &mut gas).expect("join");
        engine_rows += r.rows.len();
        total_gas += gas.used();
    }
    let engine_secs = t0.elapsed().as_secs_f64();

    let conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch(&ddl).expect("sqlite join tables");
    let mut stmt = conn.prepare(&query("?1")).expect("sqlite prepare join");
    let mut sqlite_rows = 0usize;
    let t1 = Instant::now();
    for i in 0..JOIN_QUERIES {
        let mut rows = stmt.query(params![(i % JOIN_ROWS) as i64 + 1]).expect("sqlite join");
        while rows.next().expect("sqlite row").is_some() {
            sqlite_rows += 1;
        }
    }
    let sqlite_secs = t1.elapsed().as_secs_f64();
    assert_eq!(engine_rows, sqlite_rows, "both engines must return the same rows");

    let engine_qps = JOIN_QUERIES as f64 / engine_secs;
    let sqlite_qps = JOIN_QUERIES as f64 / sqlite_secs;
    println!(
        "BENCH join_chain tables={JOIN_TABLES} rows_per_table={JOIN_ROWS} queries={JOIN_QUERIES} ratio_vs_sqlite={:.3} engine_queries_per_s={engine_qps:.0} sqlite_queries_per_s={sqlite_qps:.0} engine_us_per_query={:.2} gas_per_query={}",
        engine_qps / sqlite_qps,
        1e6 * engine_secs / JOIN_QUERIES as f64,
        total_gas / JOIN_QUERIES as u64
    );
}
