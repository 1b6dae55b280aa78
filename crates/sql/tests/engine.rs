//! Behaviour of the engine on good and bad input.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Bound;

use aergo_sql::{Engine, ExecContext, Gas, Limits, SqlError, Value};
use aergo_store::{Direction, Overlay, RangeIter, Savepoint, StoreError, TableMeta, TableStore};
use common::{dump, mem};

fn setup(sql: &str) -> (Engine, Overlay, ExecContext) {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    e.execute_batch(&mut s, &ctx, sql, &mut Gas::unlimited()).unwrap();
    (e, s, ctx)
}

fn q(e: &Engine, s: &mut Overlay, ctx: &ExecContext, sql: &str) -> Result<Vec<Vec<Value>>, SqlError> {
    e.execute(s, ctx, sql, &[], &mut Gas::new(100_000_000)).map(|r| r.rows)
}

fn ints(rows: Vec<Vec<Value>>) -> Vec<Vec<i64>> {
    rows.into_iter()
        .map(|r| r.into_iter().map(|v| if let Value::Int(i) = v { i } else { panic!("{v:?}") }).collect())
        .collect()
}

#[test]
fn bad_input_gives_clear_errors_and_no_change() {
    let (e, mut s, ctx) = setup(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0), u TEXT UNIQUE);
         INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b')",
    );
    let before = dump(&s);
    type Check = fn(&SqlError) -> bool;
    let cases: Vec<(&str, Check)> = vec![
        ("SELEC * FROM t", |e| matches!(e, SqlError::Syntax { pos, .. } if pos.line == 1)),
        ("SELECT * FROM nope", |e| matches!(e, SqlError::UnknownObject { .. })),
        ("SELECT nope FROM t", |e| matches!(e, SqlError::UnknownColumn { pos, .. } if pos.column == 8)),
        ("SELECT nofunc(1)", |e| matches!(e, SqlError::UnknownFunction { .. })),
        ("SELECT 1 + true", |e| matches!(e, SqlError::TypeMismatch { .. })),
        ("INSERT INTO t VALUES (3, NULL, 'c')", |e| matches!(e, SqlError::NotNullViolation { .. })),
        ("INSERT INTO t VALUES (1, 5, 'z')", |e| matches!(e, SqlError::UniqueViolation { .. })),
        ("INSERT INTO t VALUES (3, 5, 'a')", |e| matches!(e, SqlError::UniqueViolation { .. })),
        ("INSERT INTO t VALUES (3, -1, 'c')", |e| matches!(e, SqlError::CheckViolation { .. })),
        ("UPDATE t SET v = v / 0", |e| matches!(e, SqlError::DivisionByZero)),
        ("INSERT INTO t VALUES (3, 1, 'c'), (4, 1, 'c')", |e| matches!(e, SqlError::UniqueViolation { .. })),
        ("SELECT random()", |e| matches!(e, SqlError::NonDeterministic { .. })),
        ("SELECT now()", |e| matches!(e, SqlError::NonDeterministic { .. })),
        ("SELECT CURRENT_TIMESTAMP", |e| matches!(e, SqlError::NonDeterministic { .. })),
        ("INSERT INTO t VALUES ('x', 1, 'q')", |e| matches!(e, SqlError::InvalidValue { .. })),
        ("BEGIN", |e| matches!(e, SqlError::Unsupported { .. })),
    ];
    for (sql, ok) in cases {
        let r = q(&e, &mut s, &ctx, sql);
        match r {
            Err(err) => assert!(ok(&err), "{sql}: unexpected error {err:?}"),
            Ok(rows) => panic!("{sql}: expected an error, got {rows:?}"),
        }
        assert_eq!(dump(&s), before, "{sql} changed the state");
    }
}

#[test]
fn runaway_function_stops_on_gas_and_huge_results_hit_the_cap() {
    let (e, mut s, ctx) = setup(
        "CREATE TABLE t (k INTEGER PRIMARY KEY);
         CREATE FUNCTION spin() RETURNS INTEGER AS $$
         DECLARE i INTEGER := 0;
         BEGIN
           LOOP
             i := i + 1;
             INSERT INTO t VALUES (i);
           END LOOP;
         END; $$ LANGUAGE plpgsql",
    );
    let before = dump(&s);
    let r = e.call_function(&mut s, &ctx, "spin", &[], &mut Gas::new(200_000));
    assert!(matches!(r, Err(SqlError::OutOfGas { limit: 200_000 })), "{r:?}");
    assert_eq!(dump(&s), before);

    let small = Engine::new(aergo_sql::EngineConfig {
        limits: Limits { max_result_rows: 100, ..Limits::default() },
        ..Default::default()
    });
    small
        .execute_batch(
            &mut s,
            &ctx,
            "INSERT INTO t SELECT k FROM (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)) AS v(k)",
            &mut Gas::unlimited(),
        )
        .unwrap();
    let r = small.execute(&mut s, &ctx, "SELECT a.k FROM t a, t b, t c", &[], &mut Gas::unlimited());
    assert!(matches!(r, Err(SqlError::ResultTooLarge { what: "rows", limit: 100 })), "{r:?}");
}

#[test]
fn nondeterminism_is_rejected_when_a_function_is_created() {
    let (e, mut s, ctx) = setup("CREATE TABLE t (k INTEGER PRIMARY KEY)");
    let r = e.execute(
        &mut s,
        &ctx,
        "CREATE FUNCTION f() RETURNS INTEGER AS $$ BEGIN RETURN floor(random() * 10); END; $$ LANGUAGE plpgsql",
        &[],
        &mut Gas::unlimited(),
    );
    assert!(matches!(r, Err(SqlError::NonDeterministic { .. })), "{r:?}");
    let r = e.execute(
        &mut s,
        &ctx,
        "CREATE FUNCTION g() RETURNS TIMESTAMP AS $$ SELECT now() $$ LANGUAGE sql",
        &[],
        &mut Gas::unlimited(),
    );
    assert!(matches!(r, Err(SqlError::NonDeterministic { .. })), "{r:?}");
}

#[test]
fn context_values_come_from_the_caller() {
    let (e, mut s, _) = setup("CREATE TABLE t (k INTEGER PRIMARY KEY)");
    let ctx = ExecContext {
        caller: "AmAlice".into(),
        block_height: 42,
        block_time_us: 1_000_000,
        tx_hash: vec![0xab],
        ..ExecContext::default()
    };
    let rows = q(&e, &mut s, &ctx, "SELECT aergo_caller(), aergo_block_height(), aergo_block_time(), aergo_tx_hash()")
        .unwrap();
    assert_eq!(
        rows,
        vec![vec![
            Value::Text("AmAlice".into()),
            Value::Int(42),
            Value::Timestamp(1_000_000),
            Value::Bytes(vec![0xab])
        ]]
    );
}

#[test]
fn point_lookups_and_ranges_do_not_scan_the_table() {
    let (e, mut s, ctx) =
        setup("CREATE TABLE big (k INTEGER PRIMARY KEY, v INTEGER, w TEXT); CREATE INDEX big_v ON big (v)");
    let ins = e.prepare(&s, &ctx, "INSERT INTO big VALUES ($1, $2, $3)").unwrap();
    for i in 0..5000 {
        ins.execute(
            &mut s,
            &ctx,
            &[Value::Int(i), Value::Int(i * 7 % 5000), Value::Text(format!("w{i}"))],
            &mut Gas::unlimited(),
        )
        .unwrap();
    }
    // Distinct keys the execution read: point reads and the entries range
    // scans returned.
    let reads = |sql: &str, params: &[Value], s: &mut Overlay| -> (usize, Vec<Vec<Value>>) {
        let p = e.prepare(s, &ctx, sql).unwrap();
        let mut counting = KeysRead { inner: s, keys: RefCell::default() };
        let r = p.execute(&mut counting, &ctx, params, &mut Gas::unlimited()).unwrap();
        (counting.keys.into_inner().len(), r.rows)
    };
    let (n, rows) = reads("SELECT w FROM big WHERE k = $1", &[Value::Int(4321)], &mut s);
    assert_eq!(rows, vec![vec![Value::Text("w4321".into())]]);
    assert!(n <= 2, "point lookup read {n} keys");
    let (n, rows) = reads("SELECT k FROM big WHERE k BETWEEN 100 AND 109", &[], &mut s);
    assert_eq!(rows.len(), 10);
    assert!(n <= 12, "range read {n} keys");
    let (n, rows) = reads("SELECT k FROM big WHERE v = 7", &[], &mut s);
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    assert!(n <= 3, "index lookup read {n} keys");
    let (n, rows) = reads("SELECT k FROM big ORDER BY k DESC LIMIT 3", &[], &mut s);
    assert_eq!(ints(rows), vec![vec![4999], vec![4998], vec![4997]]);
    assert!(n <= 300, "ordered limit read {n} keys");
    let (n, rows) = reads("SELECT b.w FROM big a JOIN big b ON b.k = a.v WHERE a.k = 3", &[], &mut s);
    assert_eq!(rows, vec![vec![Value::Text("w21".into())]]);
    assert!(n <= 4, "index nested-loop join read {n} keys");
}

#[test]
fn access_sets_cover_actual_accesses() {
    let (e, mut s, ctx) = setup(&format!(
        "{}; {}; INSERT INTO accounts VALUES ('alice', 100), ('bob', 50), ('carol', 5)",
        include_str!("whitepaper_ddl.sql"),
        include_str!("whitepaper_fn.sql")
    ));
    for (a, b, amt) in [("alice", "bob", 10), ("zed", "bob", 1), ("carol", "alice", 50), ("bob", "nobody", 1)] {
        let args = [Value::Text(a.into()), Value::Text(b.into()), Value::Int(amt)];
        let set = e.function_access_set(&s, &ctx, "transfer", &args).unwrap();
        assert!(!set.catalog_write);
        // Exact keys: the function touches only the two accounts named.
        let acct = &set.writes["public.accounts"];
        assert!(acct.iter().all(|k| matches!(k, aergo_sql::KeyAccess::Key(_))), "{acct:?}");
        s.record_access();
        e.call_function(&mut s, &ctx, "transfer", &args, &mut Gas::unlimited()).unwrap();
        let log = s.take_access_log().unwrap();
        assert!(!log.reads.is_empty(), "nothing recorded: {log:?}");
        assert!(set.covers(&log), "{set:?}\n{log:?}");
    }
    for (sql, params) in [
        ("SELECT * FROM accounts WHERE id = $1", vec![Value::Text("bob".into())]),
        ("UPDATE accounts SET balance = balance + 1 WHERE balance > 10", vec![]),
        ("DELETE FROM accounts WHERE id = 'carol'", vec![]),
        ("INSERT INTO accounts VALUES ($1, 7)", vec![Value::Text("dave".into())]),
        ("SELECT a.id FROM accounts a JOIN accounts b ON a.id = b.id", vec![]),
    ] {
        let p = e.prepare(&s, &ctx, sql).unwrap();
        let set = p.access_set(&s, &ctx, &params).unwrap();
        s.record_access();
        p.execute(&mut s, &ctx, &params, &mut Gas::unlimited()).unwrap();
        let log = s.take_access_log().unwrap();
        assert!(!log.reads.is_empty() || !log.ranges.is_empty(), "{sql}: nothing recorded");
        assert!(set.covers(&log), "{sql}: {set:?}\n{log:?}");
    }
}

#[test]
fn plpgsql_features() {
    let (e, mut s, ctx) = setup(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER);
         INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);
         CREATE FUNCTION sum_loop(n INTEGER) RETURNS INTEGER AS $$
         DECLARE total INTEGER := 0; r RECORD;
         BEGIN
           FOR i IN 1..n LOOP
             CONTINUE WHEN i = 2;
             total := total + i;
           END LOOP;
           FOR r IN SELECT k, v FROM t ORDER BY k LOOP
             total := total + r.v;
             EXIT WHEN r.k >= 2;
           END LOOP;
           WHILE total < 100 LOOP total := total * 2; END LOOP;
           RETURN total;
         END; $$ LANGUAGE plpgsql;
         CREATE FUNCTION safe_div(a INTEGER, b INTEGER) RETURNS INTEGER AS $$
         BEGIN
           BEGIN
             INSERT INTO t VALUES (99, 99);
             RETURN a / b;
           EXCEPTION WHEN division_by_zero THEN
             RAISE NOTICE 'caught %', SQLERRM;
             RETURN -1;
           END;
         END; $$ LANGUAGE plpgsql;
         CREATE FUNCTION twice(x INTEGER) RETURNS INTEGER AS $$ SELECT x * 2 $$ LANGUAGE sql;
         CREATE FUNCTION strict_get(key INTEGER) RETURNS INTEGER AS $$
         DECLARE out_v INTEGER;
         BEGIN
           SELECT v INTO STRICT out_v FROM t WHERE k = key;
           RETURN twice(out_v);
         END; $$ LANGUAGE plpgsql;
         CREATE FUNCTION fail(msg TEXT) RETURNS INTEGER AS $$
         BEGIN RAISE EXCEPTION 'failed: %', msg; END; $$ LANGUAGE plpgsql",
    );
    // 1 + 3 + 4 = 8; + 10 + 20 = 38; doubled to 152.
    assert_eq!(
        e.call_function(&mut s, &ctx, "sum_loop", &[Value::Int(4)], &mut Gas::unlimited()).unwrap(),
        Value::Int(152)
    );
    assert_eq!(
        e.call_function(&mut s, &ctx, "safe_div", &[Value::Int(7), Value::Int(2)], &mut Gas::unlimited()).unwrap(),
        Value::Int(3)
    );
    assert_eq!(q(&e, &mut s, &ctx, "SELECT count(*) FROM t WHERE k = 99").unwrap(), vec![vec![Value::Int(1)]]);
    q(&e, &mut s, &ctx, "DELETE FROM t WHERE k = 99").unwrap();
    let r = e.execute(&mut s, &ctx, "SELECT safe_div(1, 0)", &[], &mut Gas::unlimited()).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int(-1)]]);
    assert_eq!(r.notices, vec!["caught division by zero".to_string()]);
    // The handler rolled back the block's INSERT.
    assert_eq!(q(&e, &mut s, &ctx, "SELECT count(*) FROM t WHERE k = 99").unwrap(), vec![vec![Value::Int(0)]]);
    assert_eq!(
        e.call_function(&mut s, &ctx, "strict_get", &[Value::Int(2)], &mut Gas::unlimited()).unwrap(),
        Value::Int(40)
    );
    assert_eq!(
        e.call_function(&mut s, &ctx, "strict_get", &[Value::Int(9)], &mut Gas::unlimited()),
        Err(SqlError::NoDataFound)
    );
    assert_eq!(
        e.call_function(&mut s, &ctx, "fail", &[Value::Text("why".into())], &mut Gas::unlimited()),
        Err(SqlError::Raised { message: "failed: why".into() })
    );
}

#[test]
fn prepared_statements_replan_after_schema_change() {
    let (e, mut s, ctx) = setup("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 2)");
    let p = e.prepare(&s, &ctx, "SELECT * FROM t WHERE k = $1").unwrap();
    assert_eq!(ints(p.execute(&mut s, &ctx, &[Value::Int(1)], &mut Gas::unlimited()).unwrap().rows), vec![vec![1, 2]]);
    q(&e, &mut s, &ctx, "ALTER TABLE t ADD COLUMN w INTEGER DEFAULT 5").unwrap();
    assert_eq!(
        ints(p.execute(&mut s, &ctx, &[Value::Int(1)], &mut Gas::unlimited()).unwrap().rows),
        vec![vec![1, 2, 5]]
    );
}

#[test]
fn sessions_write_only_their_schemas() {
    let (e, mut s, _) = setup("CREATE TABLE public.t (k INTEGER PRIMARY KEY)");
    let ctx = ExecContext {
        default_schema: "c1".into(),
        writable_schemas: Some(vec!["c1".into()]),
        ..ExecContext::default()
    };
    e.execute(&mut s, &ctx, "CREATE TABLE own (k INTEGER PRIMARY KEY)", &[], &mut Gas::unlimited()).unwrap();
    e.execute(&mut s, &ctx, "INSERT INTO own VALUES (1)", &[], &mut Gas::unlimited()).unwrap();
    assert_eq!(
        e.execute(&mut s, &ctx, "INSERT INTO public.t VALUES (1)", &[], &mut Gas::unlimited()),
        Err(SqlError::WriteDenied { schema: "public".into() })
    );
    assert!(e.execute(&mut s, &ctx, "SELECT * FROM public.t", &[], &mut Gas::unlimited()).is_ok());
    let ro = ExecContext { read_only: true, ..ExecContext::default() };
    assert!(matches!(
        e.execute(&mut s, &ro, "DELETE FROM t", &[], &mut Gas::unlimited()),
        Err(SqlError::ReadOnly { .. })
    ));
}

#[test]
fn select_features() {
    let (e, mut s, ctx) = setup(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, g TEXT, x NUMERIC(10,2));
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER);
         INSERT INTO a VALUES (1, 'p', 1.50), (2, 'p', 2.25), (3, 'q', NULL);
         INSERT INTO b VALUES (10, 1), (11, 1), (12, 9);
         CREATE VIEW v AS SELECT g, count(*) AS n FROM a GROUP BY g",
    );
    let r = q(&e, &mut s, &ctx, "SELECT g, sum(x), count(DISTINCT x) FROM a GROUP BY g HAVING count(*) > 1").unwrap();
    assert_eq!(r, vec![vec![Value::Text("p".into()), Value::Numeric("3.75".parse().unwrap()), Value::Int(2)]]);
    let r = q(&e, &mut s, &ctx, "SELECT a.id, b.id FROM a LEFT JOIN b ON b.a_id = a.id ORDER BY a.id, b.id").unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[3], vec![Value::Int(3), Value::Null]);
    let r = q(&e, &mut s, &ctx, "WITH c AS (SELECT id FROM a WHERE x IS NOT NULL) SELECT id FROM c UNION SELECT a_id FROM b EXCEPT SELECT 9 ORDER BY 1").unwrap();
    assert_eq!(ints(r), vec![vec![1], vec![2]]);
    let r = q(&e, &mut s, &ctx, "SELECT n FROM v WHERE g = 'p'").unwrap();
    assert_eq!(ints(r), vec![vec![2]]);
    let r = q(&e, &mut s, &ctx, "SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id)").unwrap();
    assert_eq!(ints(r), vec![vec![1]]);
    let r = q(
        &e,
        &mut s,
        &ctx,
        "SELECT COALESCE(x, 0), NULLIF(g, 'p'), CAST(id AS TEXT) || '!', upper(g), length(g) FROM a WHERE id = 3",
    )
    .unwrap();
    assert_eq!(r[0][1], Value::Text("q".into()));
    assert_eq!(r[0][2], Value::Text("3!".into()));
    q(&e, &mut s, &ctx, "INSERT INTO b VALUES (10, 5) ON CONFLICT (id) DO UPDATE SET a_id = excluded.a_id + b.a_id")
        .unwrap();
    assert_eq!(ints(q(&e, &mut s, &ctx, "SELECT a_id FROM b WHERE id = 10").unwrap()), vec![vec![6]]);
    q(&e, &mut s, &ctx, "INSERT INTO b VALUES (10, 0) ON CONFLICT DO NOTHING").unwrap();
    assert_eq!(ints(q(&e, &mut s, &ctx, "SELECT a_id FROM b WHERE id = 10").unwrap()), vec![vec![6]]);
    let r = q(&e, &mut s, &ctx, "SELECT TIMESTAMP '2018-07-10 12:00:00' < CAST('2019-01-01' AS TIMESTAMP)").unwrap();
    assert_eq!(r, vec![vec![Value::Bool(true)]]);
}

/// Counts the distinct `(table, key)` pairs read through it: point reads and
/// every entry a range scan returned.
struct KeysRead<'s> {
    inner: &'s mut Overlay,
    keys: RefCell<BTreeSet<(String, Vec<u8>)>>,
}

impl TableStore for KeysRead<'_> {
    fn table(&self, t: &str) -> Result<Option<TableMeta>, StoreError> {
        self.inner.table(t)
    }
    fn tables(&self) -> Result<Vec<(String, TableMeta)>, StoreError> {
        self.inner.tables()
    }
    fn create_table(&mut self, t: &str, m: TableMeta) -> Result<(), StoreError> {
        self.inner.create_table(t, m)
    }
    fn set_table_meta(&mut self, t: &str, m: TableMeta) -> Result<(), StoreError> {
        self.inner.set_table_meta(t, m)
    }
    fn drop_table(&mut self, t: &str) -> Result<(), StoreError> {
        self.inner.drop_table(t)
    }
    fn get(&self, t: &str, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.keys.borrow_mut().insert((t.to_string(), k.to_vec()));
        self.inner.get(t, k)
    }
    fn range<'a>(
        &'a self,
        t: &str,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        d: Direction,
    ) -> Result<RangeIter<'a>, StoreError> {
        let table = t.to_string();
        let it = self.inner.range(t, lo, hi, d)?;
        Ok(Box::new(it.inspect(move |e| {
            if let Ok((k, _)) = e {
                self.keys.borrow_mut().insert((table.clone(), k.clone()));
            }
        })))
    }
    fn count(&self, t: &str) -> Result<u64, StoreError> {
        self.inner.count(t)
    }
    fn put(&mut self, t: &str, k: Vec<u8>, v: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put(t, k, v)
    }
    fn delete(&mut self, t: &str, k: &[u8]) -> Result<(), StoreError> {
        self.inner.delete(t, k)
    }
    fn savepoint(&mut self) -> Savepoint {
        self.inner.savepoint()
    }
    fn rollback_to(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        self.inner.rollback_to(sp)
    }
    fn release_savepoint(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        self.inner.release_savepoint(sp)
    }
}

/// Join order follows table sizes (by size class), and a plan cached
/// before the sizes changed is made again: a prepared statement and a
/// compiled function give, after the tables grew, exactly the rows and gas
/// a fresh engine gives on the same state, so no node's cache history shows
/// in a receipt. The reads that checking the sizes makes are in the access
/// sets.
#[test]
fn join_plans_follow_table_sizes_whatever_was_cached() {
    let mut setup_sql = String::from(
        "CREATE TABLE a (k INTEGER PRIMARY KEY, x INTEGER NOT NULL);
         CREATE TABLE b (k INTEGER PRIMARY KEY, x INTEGER NOT NULL);
         INSERT INTO a VALUES (0, 7);
         CREATE FUNCTION joined() RETURNS BIGINT AS $$
         DECLARE n BIGINT;
         BEGIN
           SELECT count(*) INTO n FROM a, b WHERE a.k = b.x;
           RETURN n;
         END; $$ LANGUAGE plpgsql;\n",
    );
    for i in 0..1000 {
        setup_sql.push_str(&format!("INSERT INTO b VALUES ({i}, {});\n", (i * 7) % 5000));
    }
    let (e, mut s, ctx) = setup(&setup_sql);
    let query = "SELECT count(*), sum(a.x) FROM a, b WHERE a.k = b.x";
    let explain =
        |e: &Engine, s: &mut Overlay| -> Vec<Vec<Value>> { q(e, s, &ctx, &format!("EXPLAIN {query}")).unwrap() };
    let run = |p: &aergo_sql::Prepared, s: &mut Overlay| {
        let mut gas = Gas::new(1_000_000_000);
        let rows = p.execute(s, &ctx, &[], &mut gas).unwrap().rows;
        (rows, gas.used())
    };
    let call = |e: &Engine, s: &mut Overlay| {
        let mut gas = Gas::new(1_000_000_000);
        let v = e.call_function(s, &ctx, "joined", &[], &mut gas).unwrap();
        (v, gas.used())
    };
    let prepared = e.prepare(&s, &ctx, query).unwrap();
    let small_plan = explain(&e, &mut s);
    let before = run(&prepared, &mut s);
    let _ = call(&e, &mut s); // compiled and cached while `a` has one row

    let mut grow = String::new();
    for i in 1..5000 {
        grow.push_str(&format!("INSERT INTO a VALUES ({i}, {i});\n"));
    }
    e.execute_batch(&mut s, &ctx, &grow, &mut Gas::unlimited()).unwrap();
    let big_plan = explain(&e, &mut s);
    assert_ne!(small_plan, big_plan, "the join order must change when `a` grows 5000 times");

    let fresh = Engine::default();
    let after_cached = run(&prepared, &mut s);
    let after_fresh = run(&fresh.prepare(&s, &ctx, query).unwrap(), &mut s);
    assert_eq!(after_cached, after_fresh, "a statement prepared before the growth runs as a fresh one");
    assert_ne!(before.0, after_fresh.0);
    assert_eq!(call(&e, &mut s), call(&fresh, &mut s), "a function compiled before the growth runs as a fresh one");

    let set = e.function_access_set(&s, &ctx, "joined", &[]).unwrap();
    for t in ["public.a", "public.b"] {
        assert!(set.reads[t].contains(&aergo_sql::KeyAccess::Table), "{t}: {set:?}");
    }
    s.record_access();
    e.call_function(&mut s, &ctx, "joined", &[], &mut Gas::unlimited()).unwrap();
    let log = s.take_access_log().unwrap();
    assert!(set.covers(&log), "{set:?}\n{log:?}");
}

/// EXPLAIN shows the planner's row estimates; EXPLAIN ANALYZE runs the
/// query (only where nothing can be written) and shows each operator's
/// actual rows, runs and gas: figures that are the same on every run.
#[test]
fn explain_analyze_counts_rows_and_gas_of_each_operator() {
    let (e, mut s, ctx) = setup(
        "CREATE TABLE a (k INTEGER PRIMARY KEY, x INTEGER NOT NULL);
         CREATE TABLE b (k INTEGER PRIMARY KEY, y INTEGER NOT NULL);
         INSERT INTO a VALUES (1, 1), (2, 2), (3, 3), (4, 4);
         INSERT INTO b VALUES (1, 10), (2, 20), (3, 30)",
    );
    let sql = "SELECT a.k, b.y FROM a JOIN b ON a.k = b.k WHERE a.x > 1";
    let lines = |r: aergo_sql::QueryResult| -> Vec<String> {
        r.rows.into_iter().map(|r| if let Value::Text(t) = &r[0] { t.clone() } else { panic!("{r:?}") }).collect()
    };
    let plan = lines(e.execute(&mut s, &ctx, &format!("EXPLAIN {sql}"), &[], &mut Gas::new(1_000_000)).unwrap());
    assert!(plan.iter().any(|l| l.contains("join") && l.contains("(est rows=")), "{plan:?}");

    let before = dump(&s);
    let err = e.execute(&mut s, &ctx, &format!("EXPLAIN ANALYZE {sql}"), &[], &mut Gas::new(1_000_000)).unwrap_err();
    assert!(matches!(err, SqlError::Unsupported { .. }), "{err:?}");
    assert_eq!(dump(&s), before);

    let ro = ExecContext { read_only: true, ..ctx.clone() };
    let analyze = |s: &mut Overlay| {
        let p = e.prepare(s, &ro, &format!("EXPLAIN ANALYZE {sql}")).unwrap();
        assert!(p.is_query(), "the query API accepts it");
        lines(p.execute(s, &ro, &[], &mut Gas::new(1_000_000)).unwrap())
    };
    let out = analyze(&mut s);
    let (result, ops) = out.split_last().unwrap();
    assert!(ops.iter().all(|l| l.contains("(actual rows=")), "{out:?}");
    assert!(ops[0].contains("actual rows=2 loops=1"), "the top operator returns the query's two rows: {out:?}");
    let top_gas = ops[0].rsplit("gas=").next().unwrap().trim_end_matches(')');
    assert_eq!(result, &format!("Result: rows=2 gas={top_gas}"), "{out:?}");
    assert_eq!(analyze(&mut s), out, "the same figures on every run");
    let mut too_little = Gas::new(50);
    let err = e.execute(&mut s, &ro, &format!("EXPLAIN ANALYZE {sql}"), &[], &mut too_little).unwrap_err();
    assert!(matches!(err, SqlError::OutOfGas { .. }), "{err:?}");
}

/// An OR across tables whose every arm constrains a table restricts that
/// table's scan too (implied restrictions), with conjuncts that cannot
/// fail only: the rows are those of the OR alone.
#[test]
fn an_or_across_tables_restricts_each_table_it_constrains() {
    let (e, mut s, ctx) = setup(
        "CREATE TABLE a (k INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE b (k INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO a VALUES (0, 'x'), (1, 'y'), (2, 'z'), (3, 'x');
         INSERT INTO b VALUES (0, 'x'), (1, 'y'), (2, 'z')",
    );
    let sql = "SELECT a.k, b.k FROM a, b WHERE (a.name = 'x' AND b.name = 'y') OR (a.name = 'y' AND b.name = 'x') ORDER BY 1, 2";
    let plan = q(&e, &mut s, &ctx, &format!("EXPLAIN {sql}")).unwrap();
    let scans: Vec<String> = plan
        .iter()
        .filter_map(|r| if let Value::Text(t) = &r[0] { Some(t.clone()) } else { None })
        .filter(|l| l.contains("Scan"))
        .collect();
    assert_eq!(scans.len(), 2, "{plan:?}");
    assert!(scans.iter().all(|l| l.contains("filter") && l.contains("'x'") && l.contains("'y'")), "{scans:?}");
    assert_eq!(ints(q(&e, &mut s, &ctx, sql).unwrap()), vec![vec![0, 1], vec![1, 0], vec![3, 1]]);
    // A conjunct that can fail (a division by a.k, zero on row 0) is not
    // copied into a's scan: the OR never evaluates it (no b row is 'w', and
    // AND stops there), so the query must not fail because of the copy.
    let risky = "SELECT a.k, b.k FROM a, b WHERE (b.name = 'w' AND a.name = 'x' AND 6 / a.k > 1) OR (a.name = 'y' AND b.name = 'x') ORDER BY 1, 2";
    assert_eq!(ints(q(&e, &mut s, &ctx, risky).unwrap()), vec![vec![1, 0]]);
}
