//! Many-table joins (sqllogictest's select5 shape): 8 to 64 tables of 10
//! rows, FROM in a scrambled order, WHERE a chain or a star of equalities.
//! In FROM order such a join crosses tables that share no condition; the
//! planner must follow the equalities instead and answer within a second
//! even in a debug build.

mod common;

use std::time::{Duration, Instant};

use aergo_sql::{Engine, ExecContext, Gas, Value};
use aergo_store::Overlay;
use common::mem;

/// A fixed permutation source (xorshift), the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Tables t1..tn, each `(a, b, x)` with `a` = 1..10 and `b` a permutation of
/// 1..10; returns `b` per table and row (`b[t][a - 1]`).
fn setup(n: usize, rng: &mut Rng) -> (Engine, Overlay, ExecContext, Vec<Vec<i64>>) {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    let mut bs = Vec::new();
    let mut sql = String::new();
    for t in 1..=n {
        let mut b: Vec<i64> = (1..=10).collect();
        rng.shuffle(&mut b);
        sql.push_str(&format!("CREATE TABLE t{t} (a{t} INTEGER, b{t} INTEGER, x{t} VARCHAR(40));\n"));
        for (i, bv) in b.iter().enumerate() {
            sql.push_str(&format!("INSERT INTO t{t} VALUES ({}, {bv}, 'table t{t} row {}');\n", i + 1, i + 1));
        }
        bs.push(b);
    }
    e.execute_batch(&mut s, &ctx, &sql, &mut Gas::unlimited()).unwrap();
    (e, s, ctx, bs)
}

fn query(e: &Engine, s: &mut Overlay, ctx: &ExecContext, sql: &str) -> (Vec<Vec<Value>>, Duration) {
    let t0 = Instant::now();
    let r = e.execute(s, ctx, sql, &[], &mut Gas::new(10_000_000_000)).unwrap();
    (r.rows, t0.elapsed())
}

fn from_list(n: usize, rng: &mut Rng) -> String {
    let mut tables: Vec<usize> = (1..=n).collect();
    rng.shuffle(&mut tables);
    tables.iter().map(|t| format!("t{t}")).collect::<Vec<_>>().join(", ")
}

/// `b[t]` maps row `a` to its `b`; the row of table t whose `a` is `v`.
fn row_with_b(b: &[i64], v: i64) -> i64 {
    b.iter().position(|&x| x == v).unwrap() as i64 + 1
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Chain: b1 = a2, b2 = a3, ... in a scrambled order of conjuncts, plus
/// `a1 = 3`; the answer is one row.
fn chain(n: usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let (e, mut s, ctx, bs) = setup(n, &mut rng);
    let mut conds: Vec<String> = (1..n).map(|t| format!("b{t} = a{}", t + 1)).collect();
    conds.push("a1 = 3".into());
    rng.shuffle(&mut conds);
    let sql = format!("SELECT x1, x{n}, a{n} FROM {} WHERE {}", from_list(n, &mut rng), conds.join(" AND "));
    let (rows, took) = query(&e, &mut s, &ctx, &sql);
    // Follow the chain: a1 = 3, then a(t+1) = b(t).
    let mut a = 3i64;
    for b in bs.iter().take(n - 1) {
        a = b[(a - 1) as usize];
    }
    assert_eq!(rows, vec![vec![text("table t1 row 3"), text(&format!("table t{n} row {a}")), Value::Int(a)]]);
    eprintln!("chain of {n} tables: {took:?}");
    assert!(took < Duration::from_secs(1), "chain of {n} tables took {took:?}");

    // Without the constant: ten rows, one per row of t1.
    let conds: Vec<String> = (1..n).map(|t| format!("b{t} = a{}", t + 1)).collect();
    let sql = format!("SELECT a1, a{n} FROM {} WHERE {}", from_list(n, &mut rng), conds.join(" AND "));
    let (mut rows, took) = query(&e, &mut s, &ctx, &sql);
    rows.sort_by_key(|r| format!("{r:?}"));
    let mut want: Vec<Vec<Value>> = (1..=10i64)
        .map(|a1| {
            let mut a = a1;
            for b in bs.iter().take(n - 1) {
                a = b[(a - 1) as usize];
            }
            vec![Value::Int(a1), Value::Int(a)]
        })
        .collect();
    want.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(rows, want);
    eprintln!("unanchored chain of {n} tables: {took:?}");
    assert!(took < Duration::from_secs(1), "unanchored chain of {n} tables took {took:?}");
}

/// Star: a1 = b_t for every other table, plus `x1 = 'table t1 row 7'`.
fn star(n: usize) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ n as u64);
    let (e, mut s, ctx, bs) = setup(n, &mut rng);
    let mut conds: Vec<String> = (2..=n).map(|t| format!("a1 = b{t}")).collect();
    conds.push("x1 = 'table t1 row 7'".into());
    rng.shuffle(&mut conds);
    let sql =
        format!("SELECT x{n}, count(*) FROM {} WHERE {} GROUP BY x{n}", from_list(n, &mut rng), conds.join(" AND "));
    let (rows, took) = query(&e, &mut s, &ctx, &sql);
    let r = row_with_b(&bs[n - 1], 7);
    assert_eq!(rows, vec![vec![text(&format!("table t{n} row {r}")), Value::Int(1)]]);
    eprintln!("star of {n} tables: {took:?}");
    assert!(took < Duration::from_secs(1), "star of {n} tables took {took:?}");
}

/// The chain of 24 tables with the rest of SQL around it: OR, IN, ranges
/// and `<>` between tables, an aggregate, a subquery in WHERE, and a LEFT
/// JOIN at the end; checked against the chain followed here.
#[test]
fn chain_with_everything_else() {
    let n = 24;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (e, mut s, ctx, bs) = setup(n, &mut rng);
    // Row a1 = start leads to a_t = walk(start)[t - 1].
    let walk = |start: i64| -> Vec<i64> {
        let mut v = vec![start];
        for b in bs.iter().take(n - 1) {
            let last = *v.last().unwrap();
            v.push(b[(last - 1) as usize]);
        }
        v
    };
    let mut conds: Vec<String> = (1..n).map(|t| format!("b{t} = a{}", t + 1)).collect();
    conds.push("(a5 < 4 OR a5 > 7)".into());
    conds.push("a9 IN (1, 2, 3, 5, 8, 9)".into());
    conds.push("a3 <> a4".into());
    conds.push("a12 + a13 >= 6".into());
    conds.push("x1 IN (SELECT x1 FROM t1 WHERE a1 > 1)".into());
    rng.shuffle(&mut conds);
    let keep = |w: &[i64]| {
        (w[4] < 4 || w[4] > 7) && [1, 2, 3, 5, 8, 9].contains(&w[8]) && w[2] != w[3] && w[11] + w[12] >= 6 && w[0] > 1
    };
    let want: Vec<i64> = (1..=10).filter(|&a| keep(&walk(a))).collect();
    let sql =
        format!("SELECT count(*), sum(a{n}), min(a1) FROM {} WHERE {}", from_list(n, &mut rng), conds.join(" AND "));
    let (rows, took) = query(&e, &mut s, &ctx, &sql);
    let sum: i64 = want.iter().map(|&a| walk(a)[n - 1]).sum();
    let min = want.iter().min().map_or(Value::Null, |&m| Value::Int(m));
    let sum = if want.is_empty() { Value::Null } else { Value::Int(sum) };
    assert_eq!(rows, vec![vec![Value::Int(want.len() as i64), sum, min]], "{sql}");
    eprintln!("chain of {n} with OR, IN, <>, a subquery and an aggregate: {took:?}");
    assert!(took < Duration::from_secs(1));

    // The same inner chain, then a LEFT JOIN that matches only a1 <= 5.
    e.execute_batch(
        &mut s,
        &ctx,
        "CREATE TABLE extra (k INTEGER PRIMARY KEY, label TEXT); INSERT INTO extra VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five')",
        &mut Gas::unlimited(),
    )
    .unwrap();
    let conds: Vec<String> = (1..n).map(|t| format!("b{t} = a{}", t + 1)).collect();
    let sql = format!(
        "SELECT a1, a{n}, label FROM {} LEFT JOIN extra ON extra.k = a1 WHERE {} ORDER BY a1",
        from_list(n, &mut rng),
        conds.join(" AND ")
    );
    let (rows, took) = query(&e, &mut s, &ctx, &sql);
    let labels = ["one", "two", "three", "four", "five"];
    let want: Vec<Vec<Value>> = (1..=10i64)
        .map(|a| {
            let label = labels.get((a - 1) as usize).map_or(Value::Null, |l| text(l));
            vec![Value::Int(a), Value::Int(walk(a)[n - 1]), label]
        })
        .collect();
    assert_eq!(rows, want, "{sql}");
    eprintln!("chain of {n} then LEFT JOIN: {took:?}");
    assert!(took < Duration::from_secs(1));
}

#[test]
fn chain_8() {
    chain(8);
}

#[test]
fn chain_16() {
    chain(16);
}

#[test]
fn chain_32() {
    chain(32);
}

#[test]
fn chain_64() {
    chain(64);
}

#[test]
fn star_8() {
    star(8);
}

#[test]
fn star_16() {
    star(16);
}

#[test]
fn star_32() {
    star(32);
}

#[test]
fn star_64() {
    star(64);
}

/// EXPLAIN shows the chosen order and join methods; the same text on two
/// independent engines and stores (the plan depends on the query and the
/// catalogue only).
#[test]
fn explain_shows_the_reordered_plan() {
    let explain = || {
        let mut rng = Rng(7);
        let (e, mut s, ctx, _) = setup(4, &mut rng);
        e.execute_batch(&mut s, &ctx, "CREATE INDEX t3_a ON t3 (a3)", &mut Gas::unlimited()).unwrap();
        let (rows, _) =
            query(&e, &mut s, &ctx, "EXPLAIN SELECT x1, x4 FROM t1, t4, t2, t3 WHERE b1 = a2 AND b2 = a3 AND b3 = a4");
        rows.into_iter()
            .map(|r| match &r[0] {
                Value::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let lines = explain();
    let text = lines.join("\n");
    eprintln!("{text}");
    assert_eq!(lines, explain());
    // t4 follows t3 instead of crossing t1; t3 is reached through its index,
    // t2 and t4 through hash joins.
    let scans: Vec<&str> =
        lines.iter().filter_map(|l| l.trim_start().strip_prefix("Scan public.")).map(|l| &l[..2]).collect();
    assert_eq!(scans, ["t1", "t2", "t3", "t4"], "{text}");
    assert!(text.contains("range on index t3_a"), "{text}");
    assert_eq!(text.matches("hash join").count(), 2, "{text}");
}

/// Hash-join keys agree with `=` across value kinds: an integer equals the
/// same number as a decimal (1 = 1.00), NULL equals nothing, and a text
/// value compared with a number is left to `=` itself (a cast).
#[test]
fn hash_join_keys_compare_like_equality() {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    e.execute_batch(
        &mut s,
        &ctx,
        "CREATE TABLE i (k INTEGER, tag TEXT);
         CREATE TABLE d (v NUMERIC(10, 2), tag TEXT);
         CREATE TABLE t (s TEXT, tag TEXT);
         INSERT INTO i VALUES (1, 'i1'), (2, 'i2'), (NULL, 'inull'), (-0, 'i0');
         INSERT INTO d VALUES (1.00, 'd1'), (2.50, 'd2.5'), (NULL, 'dnull'), (0.00, 'd0'), (1, 'd1b');
         INSERT INTO t VALUES ('1', 't1'), ('2.50', 't2.5'), ('0', 't0');",
        &mut Gas::unlimited(),
    )
    .unwrap();
    let mut tags = |sql: &str| -> Vec<String> {
        let r = e.execute(&mut s, &ctx, sql, &[], &mut Gas::unlimited()).unwrap();
        r.rows.iter().map(|row| row.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join("-")).collect()
    };
    let plan = tags("EXPLAIN SELECT i.tag, d.tag FROM i, d WHERE i.k = d.v");
    assert!(plan.iter().any(|l| l.contains("hash join")), "{plan:?}");
    assert_eq!(tags("SELECT i.tag, d.tag FROM i, d WHERE i.k = d.v ORDER BY 1, 2"), ["i0-d0", "i1-d1", "i1-d1b"]);
    assert_eq!(
        tags("SELECT d.tag, t.tag FROM d, t WHERE d.v = t.s ORDER BY 1, 2"),
        ["d0-t0", "d1-t1", "d1b-t1", "d2.5-t2.5"]
    );
}

/// `tests/slt/joins.test`: select5-shaped sqllogictest records (64 tables,
/// joins of up to 40) with OR, IN, ranges, aggregates, subqueries, JOIN ...
/// ON and LEFT JOIN, expected results from SQLite (`tests/slt/gen_joins.py`).
#[test]
fn select5_shaped_sqllogictest_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt/joins.test");
    let t0 = Instant::now();
    let report = aergo_sql::conformance::run_file(&path, None, 10).unwrap();
    let took = t0.elapsed();
    eprintln!("joins.test: {}/{} in {took:?}", report.passed, report.run);
    assert_eq!(report.passed, report.run, "{:#?}", report.failures);
    assert!(report.run > 700, "{report:?}");
}
