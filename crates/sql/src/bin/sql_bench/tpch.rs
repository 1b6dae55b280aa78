//! A TPC-H-like set of joins: six queries shaped after TPC-H Q2, Q3, Q5,
//! Q7, Q9 and Q10 (their joins, filters and groupings; no correlated
//! subqueries) over generated tables at about scale factor 0.01, run on
//! AergoSQL with planned join order, on AergoSQL with FROM order as written
//! (the naive reference), and on SQLite, in one process. Every engine must
//! return the same rows.
//!
//! Dates are day numbers and money is integer cents, so every result is
//! exact in both engines. Tables have their TPC-H primary keys and no other
//! index, on both engines.

use std::time::Instant;

use aergo_sql::{Engine, ExecContext, Gas, JoinOrder, Prepared, Value};
use aergo_store::{Hash, Overlay, Store};
use rusqlite::Connection;

/// Rows per table at this scale.
const SUPPLIERS: i64 = 100;
const CUSTOMERS: i64 = 1_500;
const PARTS: i64 = 2_000;
const SUPPLIERS_PER_PART: i64 = 4;
const ORDERS: i64 = 15_000;
/// Line items per order: 1 to this many.
const MAX_LINES: i64 = 7;
/// Order dates fall in [0, DAYS).
const DAYS: i64 = 2_400;

const REGIONS: [&str; 5] = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"];
const NATIONS: [(&str, i64); 25] = [
    ("ALGERIA", 0),
    ("ARGENTINA", 1),
    ("BRAZIL", 1),
    ("CANADA", 1),
    ("EGYPT", 4),
    ("ETHIOPIA", 0),
    ("FRANCE", 3),
    ("GERMANY", 3),
    ("INDIA", 2),
    ("INDONESIA", 2),
    ("IRAN", 4),
    ("IRAQ", 4),
    ("JAPAN", 2),
    ("JORDAN", 4),
    ("KENYA", 0),
    ("MOROCCO", 0),
    ("MOZAMBIQUE", 0),
    ("PERU", 1),
    ("CHINA", 2),
    ("ROMANIA", 3),
    ("SAUDI ARABIA", 4),
    ("VIETNAM", 2),
    ("RUSSIA", 3),
    ("UNITED KINGDOM", 3),
    ("UNITED STATES", 1),
];
const SEGMENTS: [&str; 5] = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"];
const TYPES: [&str; 5] = ["BRASS", "COPPER", "NICKEL", "STEEL", "TIN"];

const SCHEMA: &str = "
CREATE TABLE region (r_regionkey INTEGER PRIMARY KEY, r_name VARCHAR(25) NOT NULL);
CREATE TABLE nation (n_nationkey INTEGER PRIMARY KEY, n_name VARCHAR(25) NOT NULL, n_regionkey INTEGER NOT NULL);
CREATE TABLE supplier (s_suppkey INTEGER PRIMARY KEY, s_name VARCHAR(25) NOT NULL, s_nationkey INTEGER NOT NULL, s_acctbal BIGINT NOT NULL);
CREATE TABLE customer (c_custkey INTEGER PRIMARY KEY, c_name VARCHAR(25) NOT NULL, c_nationkey INTEGER NOT NULL, c_mktsegment VARCHAR(10) NOT NULL, c_acctbal BIGINT NOT NULL);
CREATE TABLE part (p_partkey INTEGER PRIMARY KEY, p_name VARCHAR(55) NOT NULL, p_type VARCHAR(25) NOT NULL, p_size INTEGER NOT NULL);
CREATE TABLE partsupp (ps_partkey INTEGER NOT NULL, ps_suppkey INTEGER NOT NULL, ps_supplycost BIGINT NOT NULL, ps_availqty INTEGER NOT NULL, PRIMARY KEY (ps_partkey, ps_suppkey));
CREATE TABLE orders (o_orderkey INTEGER PRIMARY KEY, o_custkey INTEGER NOT NULL, o_orderdate INTEGER NOT NULL, o_shippriority INTEGER NOT NULL, o_totalprice BIGINT NOT NULL);
CREATE TABLE lineitem (l_orderkey INTEGER NOT NULL, l_linenumber INTEGER NOT NULL, l_partkey INTEGER NOT NULL, l_suppkey INTEGER NOT NULL, l_quantity INTEGER NOT NULL, l_extendedprice BIGINT NOT NULL, l_discount INTEGER NOT NULL, l_returnflag VARCHAR(1) NOT NULL, l_shipdate INTEGER NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber));
";

/// The queries, each with its TPC-H name. FROM lists are in TPC-H's order.
const QUERIES: [(&str, &str); 6] = [
    (
        "q2_min_cost_supplier",
        "SELECT s_acctbal, s_name, n_name, p_partkey, ps_supplycost FROM part, supplier, partsupp, nation, region \
         WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND p_size = 15 AND p_type = 'BRASS' \
         AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'EUROPE' \
         ORDER BY ps_supplycost, s_acctbal DESC, n_name, s_name, p_partkey LIMIT 100",
    ),
    (
        "q3_shipping_priority",
        "SELECT l_orderkey, SUM(l_extendedprice * (100 - l_discount)) AS revenue, o_orderdate, o_shippriority \
         FROM customer, orders, lineitem \
         WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey \
         AND o_orderdate < 1200 AND l_shipdate > 1200 \
         GROUP BY l_orderkey, o_orderdate, o_shippriority ORDER BY revenue DESC, o_orderdate, l_orderkey LIMIT 10",
    ),
    (
        "q5_local_supplier_volume",
        "SELECT n_name, SUM(l_extendedprice * (100 - l_discount)) AS revenue \
         FROM customer, orders, lineitem, supplier, nation, region \
         WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey \
         AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey \
         AND r_name = 'ASIA' AND o_orderdate >= 700 AND o_orderdate < 1065 \
         GROUP BY n_name ORDER BY revenue DESC, n_name",
    ),
    (
        "q7_volume_shipping",
        "SELECT n1.n_name AS supp_nation, n2.n_name AS cust_nation, SUM(l_extendedprice * (100 - l_discount)) AS revenue \
         FROM supplier, lineitem, orders, customer, nation n1, nation n2 \
         WHERE s_suppkey = l_suppkey AND o_orderkey = l_orderkey AND c_custkey = o_custkey \
         AND s_nationkey = n1.n_nationkey AND c_nationkey = n2.n_nationkey \
         AND ((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE')) \
         AND l_shipdate BETWEEN 730 AND 1460 \
         GROUP BY n1.n_name, n2.n_name ORDER BY supp_nation, cust_nation",
    ),
    (
        "q9_product_type_profit",
        "SELECT n_name, SUM(l_extendedprice * (100 - l_discount) - ps_supplycost * l_quantity * 100) AS profit \
         FROM part, supplier, lineitem, partsupp, orders, nation \
         WHERE s_suppkey = l_suppkey AND ps_suppkey = l_suppkey AND ps_partkey = l_partkey \
         AND p_partkey = l_partkey AND o_orderkey = l_orderkey AND s_nationkey = n_nationkey \
         AND p_name LIKE '%green%' \
         GROUP BY n_name ORDER BY n_name",
    ),
    (
        "q10_returned_items",
        "SELECT c_custkey, c_name, SUM(l_extendedprice * (100 - l_discount)) AS revenue, c_acctbal, n_name \
         FROM customer, orders, lineitem, nation \
         WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_orderdate >= 900 AND o_orderdate < 990 \
         AND l_returnflag = 'R' AND c_nationkey = n_nationkey \
         GROUP BY c_custkey, c_name, c_acctbal, n_name ORDER BY revenue DESC, c_custkey LIMIT 20",
    ),
];

/// Rounds each query runs per engine, interleaved.
const ROUNDS: usize = 3;

/// Deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i64
    }
}

/// The rows of every table as INSERT statements (same text for both
/// engines), in batches.
fn data() -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut stmts = Vec::new();
    let mut batch = |table: &str, rows: Vec<String>| {
        for chunk in rows.chunks(500) {
            stmts.push(format!("INSERT INTO {table} VALUES {}", chunk.join(", ")));
        }
    };
    batch("region", REGIONS.iter().enumerate().map(|(i, r)| format!("({i}, '{r}')")).collect());
    batch("nation", NATIONS.iter().enumerate().map(|(i, (n, r))| format!("({i}, '{n}', {r})")).collect());
    batch(
        "supplier",
        (0..SUPPLIERS)
            .map(|s| format!("({s}, 'Supplier#{s:05}', {}, {})", rng.below(25), rng.below(1_000_000)))
            .collect(),
    );
    batch(
        "customer",
        (0..CUSTOMERS)
            .map(|c| {
                format!(
                    "({c}, 'Customer#{c:06}', {}, '{}', {})",
                    rng.below(25),
                    SEGMENTS[rng.below(5) as usize],
                    rng.below(1_000_000)
                )
            })
            .collect(),
    );
    const COLOURS: [&str; 8] = ["green", "red", "blue", "ivory", "navy", "olive", "plum", "tan"];
    batch(
        "part",
        (0..PARTS)
            .map(|p| {
                let name = format!("{} {}", COLOURS[rng.below(8) as usize], COLOURS[rng.below(8) as usize]);
                format!("({p}, '{name}', '{}', {})", TYPES[rng.below(5) as usize], 1 + rng.below(50))
            })
            .collect(),
    );
    batch(
        "partsupp",
        (0..PARTS)
            .flat_map(|p| {
                (0..SUPPLIERS_PER_PART).map(move |k| (p, (p + k * (SUPPLIERS / SUPPLIERS_PER_PART)) % SUPPLIERS))
            })
            .map(|(p, s)| format!("({p}, {s}, {}, {})", 100 + rng.below(100_000), rng.below(10_000)))
            .collect(),
    );
    let mut orders = Vec::new();
    let mut lines = Vec::new();
    for o in 0..ORDERS {
        let date = rng.below(DAYS);
        orders.push(format!("({o}, {}, {date}, {}, {})", rng.below(CUSTOMERS), rng.below(2), rng.below(50_000_000)));
        for l in 0..1 + rng.below(MAX_LINES) {
            let part = rng.below(PARTS);
            // A supplier that supplies the part (partsupp's rule).
            let supp = (part + rng.below(SUPPLIERS_PER_PART) * (SUPPLIERS / SUPPLIERS_PER_PART)) % SUPPLIERS;
            let flag = if rng.below(4) == 0 { "R" } else { "N" };
            lines.push(format!(
                "({o}, {l}, {part}, {supp}, {}, {}, {}, '{flag}', {})",
                1 + rng.below(50),
                100 + rng.below(10_000_000),
                rng.below(11),
                date + 1 + rng.below(120)
            ));
        }
    }
    batch("orders", orders);
    batch("lineitem", lines);
    stmts
}

/// A result row as text, the same for both engines.
fn engine_rows(rows: &[Vec<Value>]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Int(i) => i.to_string(),
                    Value::Numeric(d) => d.normalize().to_string(),
                    Value::Text(s) => s.clone(),
                    Value::Null => "NULL".into(),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect()
}

fn sqlite_rows(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql).expect("sqlite prepare");
    let n = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.query([]).expect("sqlite query");
    while let Some(r) = rows.next().expect("sqlite row") {
        out.push(
            (0..n)
                .map(|i| match r.get_ref(i).expect("sqlite value") {
                    rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                    rusqlite::types::ValueRef::Real(x) => x.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Null => "NULL".into(),
                    rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                })
                .collect(),
        );
    }
    out
}

/// Both engines loaded with the same generated tables.
fn load() -> (Engine, ExecContext, Overlay, Connection) {
    let setup = Instant::now();
    let data = data();
    let engine = Engine::default();
    let ctx = ExecContext::default();
    let mut store = Overlay::new(&Store::memory(), Hash::ZERO);
    engine.execute_batch(&mut store, &ctx, SCHEMA, &mut Gas::unlimited()).expect("tpch schema");
    for s in &data {
        engine.execute(&mut store, &ctx, s, &[], &mut Gas::unlimited()).expect("tpch rows");
    }
    let conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch(SCHEMA).expect("sqlite schema");
    conn.execute_batch("BEGIN").expect("begin");
    for s in &data {
        conn.execute(s, []).expect("sqlite rows");
    }
    conn.execute_batch("COMMIT").expect("commit");
    println!("tpch: generated and loaded {} insert batches in {:.1}s", data.len(), setup.elapsed().as_secs_f64());
    (engine, ctx, store, conn)
}

/// Prints each query's plan, planned and in FROM order (`sql_bench 0 tpch-plans`).
pub fn tpch_plans() {
    let (engine, ctx, mut store, _) = load();
    for (name, sql) in QUERIES {
        for (label, order) in [("planned", JoinOrder::Planned), ("FROM order", JoinOrder::AsWritten)] {
            let p = engine
                .prepare_with_order(&store, &ctx, &format!("EXPLAIN {sql}"), order)
                .unwrap_or_else(|e| panic!("explain {name}: {e}"));
            let r = p.execute(&mut store, &ctx, &[], &mut Gas::unlimited()).expect("explain");
            println!("{name} ({label}):");
            for row in &r.rows {
                if let Some(Value::Text(line)) = row.first() {
                    println!("  {line}");
                }
            }
        }
    }
}

pub fn tpch_bench() {
    let (engine, ctx, mut store, conn) = load();
    let prepare = |order| -> Vec<Prepared> {
        QUERIES
            .iter()
            .map(|(name, sql)| {
                engine.prepare_with_order(&store, &ctx, sql, order).unwrap_or_else(|e| panic!("prepare {name}: {e}"))
            })
            .collect()
    };
    let planned = prepare(JoinOrder::Planned);
    let written = prepare(JoinOrder::AsWritten);
    let (mut log_sqlite, mut log_naive) = (0.0f64, 0.0f64);
    for (i, (name, sql)) in QUERIES.iter().enumerate() {
        let (mut t_planned, mut t_written, mut t_sqlite) = (0.0f64, 0.0f64, 0.0f64);
        let (mut gas_planned, mut gas_written) = (0u64, 0u64);
        let mut rows = 0usize;
        for _ in 0..ROUNDS {
            let mut gas = Gas::unlimited();
            let t = Instant::now();
            let a = planned[i].execute(&mut store, &ctx, &[], &mut gas).expect("planned");
            t_planned += t.elapsed().as_secs_f64();
            gas_planned = gas.used();

            let mut gas = Gas::unlimited();
            let t = Instant::now();
            let b = written[i].execute(&mut store, &ctx, &[], &mut gas).expect("as written");
            t_written += t.elapsed().as_secs_f64();
            gas_written = gas.used();

            let t = Instant::now();
            let c = sqlite_rows(&conn, sql);
            t_sqlite += t.elapsed().as_secs_f64();

            let (a, b) = (engine_rows(&a.rows), engine_rows(&b.rows));
            assert_eq!(a, b, "{name}: planned and FROM-order plans must return the same rows");
            assert_eq!(a, c, "{name}: AergoSQL and SQLite must return the same rows");
            assert!(!a.is_empty(), "{name}: the data must give the query something to return");
            rows = a.len();
        }
        let ms = |t: f64| 1e3 * t / ROUNDS as f64;
        log_sqlite += (t_sqlite / t_planned).ln();
        log_naive += (t_written / t_planned).ln();
        println!(
            "BENCH tpch_{name} rows={rows} ratio_vs_sqlite={:.3} ratio_vs_from_order={:.3} engine_ms={:.2} from_order_ms={:.2} sqlite_ms={:.2} gas={gas_planned} from_order_gas={gas_written}",
            t_sqlite / t_planned,
            t_written / t_planned,
            ms(t_planned),
            ms(t_written),
            ms(t_sqlite),
        );
    }
    let n = QUERIES.len() as f64;
    println!(
        "BENCH tpch queries={} rounds={ROUNDS} geomean_ratio_vs_sqlite={:.3} geomean_ratio_vs_from_order={:.3}",
        QUERIES.len(),
        (log_sqlite / n).exp(),
        (log_naive / n).exp()
    );
}
