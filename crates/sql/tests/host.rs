//! The host interface, savepoint hygiene and tables whose schema blob is
//! their CREATE TABLE text.

use std::ops::Bound;

mod common;

use aergo_sql::{Call, Engine, ExecContext, Gas, Host, HostEnv, SqlError, Value};
use aergo_store::codec::{encode_key, encode_row};
use aergo_store::{Direction, Overlay, RangeIter, Savepoint, StoreError, TableMeta, TableStore};
use common::{dump, mem};
use rust_decimal::Decimal;

/// A host with a counter in the store and a call log.
#[derive(Default)]
struct TestHost {
    calls: Vec<(String, Vec<Value>, usize)>,
}

impl Host for TestHost {
    fn call(&mut self, name: &str, args: Vec<Value>, env: HostEnv<'_>) -> Result<Value, SqlError> {
        self.calls.push((name.to_string(), args.clone(), env.call_depth));
        match name {
            "aergo_double" => match args.as_slice() {
                [Value::Int(i)] => Ok(Value::Int(i * 2)),
                _ => Err(SqlError::WrongArity { function: name.into(), expected: "1".into(), got: args.len() }),
            },
            // Writes a row through the store it is given, like a balance change.
            "aergo_note" => {
                env.gas.charge(10)?;
                let [Value::Text(t)] = args.as_slice() else {
                    return Err(SqlError::WrongArity { function: name.into(), expected: "1".into(), got: args.len() });
                };
                env.store.put(
                    "h.notes",
                    encode_key(&[Value::Text(t.clone())]),
                    encode_row(&[Value::Text(t.clone())]),
                )?;
                Ok(Value::Bool(true))
            }
            // Calls a stored function one level deeper, passing itself on.
            "aergo_nested" => {
                let [Value::Text(f), rest @ ..] = args.as_slice() else {
                    return Err(SqlError::WrongArity { function: name.into(), expected: "1+".into(), got: args.len() });
                };
                let call = Call { schema: "public", function: f, args: rest.to_vec(), call_depth: env.call_depth + 1 };
                env.engine.call(env.store, env.ctx, call, env.gas, Some(self))
            }
            other => Err(SqlError::UnknownFunction { name: other.into(), arity: args.len(), pos: Default::default() }),
        }
    }
}

fn setup() -> (Engine, Overlay, ExecContext) {
    let e = Engine::default();
    let mut s = mem();
    s.create_table("h.notes", TableMeta { schema: b"CREATE TABLE h.notes (t TEXT PRIMARY KEY)".to_vec() }).unwrap();
    let ctx = ExecContext::default();
    e.execute_batch(
        &mut s,
        &ctx,
        "CREATE TABLE t (k INT PRIMARY KEY, v INT);
         CREATE FUNCTION twice(x INT) RETURNS INT AS $$ BEGIN RETURN aergo_double(x); END; $$ LANGUAGE plpgsql;
         CREATE FUNCTION noted(x TEXT) RETURNS INT AS $$
         BEGIN PERFORM aergo_note(x); INSERT INTO t VALUES (1, 1); RETURN 1; END; $$ LANGUAGE plpgsql;
         CREATE FUNCTION rec(n INT) RETURNS INT AS $$
         BEGIN IF n = 0 THEN RETURN 0; END IF; RETURN aergo_nested('rec', n - 1) + 1; END; $$ LANGUAGE plpgsql",
        &mut Gas::unlimited(),
    )
    .unwrap();
    (e, s, ctx)
}

#[test]
fn host_functions_are_called_with_evaluated_arguments() {
    let (e, mut s, ctx) = setup();
    let mut host = TestHost::default();
    let p = e.prepare(&s, &ctx, "SELECT aergo_double(20 + 1), twice(5)").unwrap();
    let r = p.execute_hosted(&mut s, &ctx, &[], &mut Gas::unlimited(), &mut host).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int(42), Value::Int(10)]]);
    assert_eq!(host.calls[0], ("aergo_double".to_string(), vec![Value::Int(21)], 0));
    assert_eq!(host.calls[1], ("aergo_double".to_string(), vec![Value::Int(5)], 1), "inside twice(): depth 1");
    // Built-in context functions are not host calls.
    let r = p.execute_hosted(&mut s, &ctx, &[], &mut Gas::unlimited(), &mut host).unwrap();
    assert_eq!(r.rows.len(), 1);
    let p = e.prepare(&s, &ctx, "SELECT aergo_block_height()").unwrap();
    let n = host.calls.len();
    p.execute_hosted(&mut s, &ctx, &[], &mut Gas::unlimited(), &mut host).unwrap();
    assert_eq!(host.calls.len(), n);
}

#[test]
fn without_a_host_or_with_an_unknown_name_the_call_fails() {
    let (e, mut s, ctx) = setup();
    let err = e.execute(&mut s, &ctx, "SELECT aergo_double(1)", &[], &mut Gas::unlimited()).unwrap_err();
    assert!(matches!(err, SqlError::Unsupported { .. }), "{err:?}");
    let mut host = TestHost::default();
    let p = e.prepare(&s, &ctx, "SELECT aergo_nope(1)").unwrap();
    let err = p.execute_hosted(&mut s, &ctx, &[], &mut Gas::unlimited(), &mut host).unwrap_err();
    assert!(matches!(err, SqlError::UnknownFunction { .. }), "{err:?}");
    // The prefix is reserved.
    let err = e
        .execute(
            &mut s,
            &ctx,
            "CREATE FUNCTION aergo_x() RETURNS INT AS $$ SELECT 1 $$ LANGUAGE sql",
            &[],
            &mut Gas::unlimited(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
}

#[test]
fn host_writes_are_undone_with_the_statement() {
    let (e, mut s, ctx) = setup();
    let mut host = TestHost::default();
    let before = dump(&s);
    // noted() writes through the host, then fails on a duplicate key the
    // second time: the host's write must go too.
    let call = |s: &mut Overlay, host: &mut TestHost| {
        e.call(
            s,
            &ctx,
            Call { schema: "public", function: "noted", args: vec![Value::Text("a".into())], call_depth: 0 },
            &mut Gas::unlimited(),
            Some(host),
        )
    };
    call(&mut s, &mut host).unwrap();
    let after_first = dump(&s);
    assert_ne!(after_first, before);
    let p = e.prepare(&s, &ctx, "SELECT noted('b')").unwrap();
    let err = p.execute_hosted(&mut s, &ctx, &[], &mut Gas::unlimited(), &mut host).unwrap_err();
    assert!(matches!(err, SqlError::UniqueViolation { .. }), "{err:?}");
    assert_eq!(dump(&s), after_first, "the host's write of 'b' was rolled back");
    // Gas charged by the host counts.
    let mut gas = Gas::new(1_000_000);
    e.execute_batch_hosted(&mut s, &ctx, "SELECT aergo_note('c'); SELECT aergo_note('d')", &mut gas, &mut host)
        .unwrap();
    assert!(gas.used() >= 20);
}

#[test]
fn nested_calls_through_the_host_share_the_depth_bound() {
    let (e, mut s, ctx) = setup();
    let mut host = TestHost::default();
    let run = |s: &mut Overlay, host: &mut TestHost, n: i64| {
        e.call(
            s,
            &ctx,
            Call { schema: "public", function: "rec", args: vec![Value::Int(n)], call_depth: 0 },
            &mut Gas::unlimited(),
            Some(host),
        )
    };
    assert_eq!(run(&mut s, &mut host, 5).unwrap(), Value::Int(5));
    // Each level is one SQL call plus one host hop: the engine's bound of 32
    // counts both.
    let err = run(&mut s, &mut host, 40).unwrap_err();
    assert!(matches!(err, SqlError::LimitExceeded { what: "function call depth", .. }), "{err:?}");
}

/// A store that checks every savepoint the engine takes is released or
/// rolled back to and then released: none may stay open after a call.
struct Tracking {
    inner: Overlay,
    open: Vec<u64>,
    taken: u64,
}

impl TableStore for Tracking {
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
        self.inner.get(t, k)
    }
    fn range<'a>(
        &'a self,
        t: &str,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        d: Direction,
    ) -> Result<RangeIter<'a>, StoreError> {
        self.inner.range(t, lo, hi, d)
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
        self.taken += 1;
        let sp = self.inner.savepoint();
        self.open.push(sp.0);
        sp
    }
    fn rollback_to(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        let pos = self.open.iter().position(|s| *s == sp.0).ok_or(StoreError::BadSavepoint { savepoint: sp.0 })?;
        self.open.truncate(pos + 1);
        self.inner.rollback_to(sp)
    }
    fn release_savepoint(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        let pos = self.open.iter().position(|s| *s == sp.0).ok_or(StoreError::BadSavepoint { savepoint: sp.0 })?;
        self.open.truncate(pos);
        self.inner.release_savepoint(sp)
    }
}

#[test]
fn every_savepoint_is_released() {
    let e = Engine::default();
    let ctx = ExecContext::default();
    let mut s = Tracking { inner: mem(), open: Vec::new(), taken: 0 };
    e.execute_batch(
        &mut s,
        &ctx,
        "CREATE TABLE t (k INT PRIMARY KEY);
         CREATE FUNCTION f(x INT) RETURNS INT AS $$
         BEGIN
             BEGIN INSERT INTO t VALUES (x); EXCEPTION WHEN unique_violation THEN RETURN -1; END;
             BEGIN INSERT INTO t VALUES (x + 1000); EXCEPTION WHEN OTHERS THEN NULL; END;
             RETURN x;
         END; $$ LANGUAGE plpgsql",
        &mut Gas::unlimited(),
    )
    .unwrap();
    for sql in ["SELECT f(1)", "SELECT f(1)", "INSERT INTO t VALUES (5)", "INSERT INTO t VALUES (5)", "SELECT 1/0"] {
        let _ = e.execute(&mut s, &ctx, sql, &[], &mut Gas::unlimited());
        assert!(s.open.is_empty(), "{sql} left savepoints open: {:?}", s.open);
    }
    let _ = e.call_function(&mut s, &ctx, "f", &[Value::Int(7)], &mut Gas::unlimited());
    let _ = e.execute_batch(&mut s, &ctx, "INSERT INTO t VALUES (9); INSERT INTO t VALUES (9)", &mut Gas::unlimited());
    assert!(s.open.is_empty(), "{:?}", s.open);
    assert!(s.taken > 10);
    // And the inner store kept no undo data: none of the savepoints ever
    // taken is still open there.
    let mut probe = s.inner;
    let next = probe.savepoint().0;
    assert!(next > s.taken);
    for id in 0..next {
        assert!(matches!(probe.rollback_to(Savepoint(id)), Err(StoreError::BadSavepoint { .. })), "savepoint {id}");
    }
}

#[test]
fn platform_tables_with_create_table_text_are_readable() {
    let e = Engine::default();
    let ctx = ExecContext::default();
    let mut s = mem();
    let ddl =
        "CREATE TABLE sys.accounts (address TEXT PRIMARY KEY, balance NUMERIC(38,0) NOT NULL, nonce BIGINT NOT NULL)";
    s.create_table("sys.accounts", TableMeta { schema: ddl.as_bytes().to_vec() }).unwrap();
    let big = Decimal::from_i128_with_scale(500_000_000 * 1_000_000_000_000_000_000i128, 0);
    for (a, bal, n) in [("Am1", big, 3i64), ("Am2", Decimal::from(7), 0)] {
        s.put(
            "sys.accounts",
            encode_key(&[Value::Text(a.into())]),
            encode_row(&[Value::Text(a.into()), Value::Numeric(bal), Value::Int(n)]),
        )
        .unwrap();
    }
    let r = e
        .execute(
            &mut s,
            &ctx,
            "SELECT address, balance, nonce FROM sys.accounts WHERE address = 'Am1'",
            &[],
            &mut Gas::unlimited(),
        )
        .unwrap();
    assert_eq!(r.rows, vec![vec![Value::Text("Am1".into()), Value::Numeric(big), Value::Int(3)]]);
    let r = e.execute(&mut s, &ctx, "SELECT sum(nonce) FROM sys.accounts", &[], &mut Gas::unlimited()).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int(3)]]);
    // Composite keys declared as a table constraint.
    let ddl = "CREATE TABLE sys.pairs (a TEXT NOT NULL, b BIGINT NOT NULL, PRIMARY KEY (a, b))";
    s.create_table("sys.pairs", TableMeta { schema: ddl.as_bytes().to_vec() }).unwrap();
    s.put(
        "sys.pairs",
        encode_key(&[Value::Text("x".into()), Value::Int(2)]),
        encode_row(&[Value::Text("x".into()), Value::Int(2)]),
    )
    .unwrap();
    let r =
        e.execute(&mut s, &ctx, "SELECT b FROM sys.pairs WHERE a = 'x' AND b = 2", &[], &mut Gas::unlimited()).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int(2)]]);
    // A blob naming another table is corrupt, and says so.
    s.create_table("sys.wrong", TableMeta { schema: ddl.as_bytes().to_vec() }).unwrap();
    let err = e.execute(&mut s, &ctx, "SELECT * FROM sys.wrong", &[], &mut Gas::unlimited()).unwrap_err();
    assert!(matches!(err, SqlError::CorruptCatalog { .. }), "{err:?}");
    assert!(!err.is_node_failure(), "the same on every node holding this state");
}

#[test]
fn store_refusals_are_not_node_failures() {
    let e = Engine::default();
    let ctx = ExecContext::default();
    let store = aergo_store::Store::memory();
    let mut s = aergo_store::Overlay::new(&store, aergo_store::Hash::ZERO);
    e.execute(&mut s, &ctx, "CREATE TABLE t (k TEXT PRIMARY KEY)", &[], &mut Gas::unlimited()).unwrap();
    // A key over the store's 1 KiB bound: a property of the statement, the
    // same on every node.
    let long = "x".repeat(2000);
    let err =
        e.execute(&mut s, &ctx, &format!("INSERT INTO t VALUES ('{long}')"), &[], &mut Gas::unlimited()).unwrap_err();
    assert!(matches!(err, SqlError::StoreRefused { .. }), "{err:?}");
    assert!(!err.is_node_failure());
    assert!(SqlError::Store { message: "disk".into() }.is_node_failure());
    assert_eq!(SqlError::Store { message: "disk".into() }.condition_name(), None, "no handler may catch it");
}
