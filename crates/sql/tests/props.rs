//! Property tests: random INSERT/UPDATE/DELETE workloads against a simple
//! model, and order independence of independent statements.

use std::collections::BTreeMap;

mod common;

use aergo_sql::{Engine, ExecContext, Gas, Value};
use aergo_store::Overlay;
use common::{dump, mem};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(i64, i64),
    Upsert(i64, i64),
    UpdateOne(i64, i64),
    UpdateRange(i64, i64, i64),
    Delete(i64),
    DeleteBelow(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0i64..40;
    let v = -50i64..50;
    prop_oneof![
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::Insert(k, v)),
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::Upsert(k, v)),
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::UpdateOne(k, v)),
        (k.clone(), k.clone(), v).prop_map(|(a, b, d)| Op::UpdateRange(a.min(b), a.max(b), d)),
        k.clone().prop_map(Op::Delete),
        k.prop_map(Op::DeleteBelow),
    ]
}

fn setup() -> (Engine, Overlay, ExecContext) {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    e.execute_batch(
        &mut s,
        &ctx,
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL, CHECK (v > -1000)); CREATE INDEX t_v ON t (v)",
        &mut Gas::unlimited(),
    )
    .unwrap();
    (e, s, ctx)
}

fn apply(e: &Engine, s: &mut Overlay, ctx: &ExecContext, op: &Op, model: &mut BTreeMap<i64, i64>) {
    let run = |s: &mut Overlay, sql: &str, p: &[Value]| e.execute(s, ctx, sql, p, &mut Gas::unlimited());
    match *op {
        Op::Insert(k, v) => {
            let r = run(s, "INSERT INTO t VALUES ($1, $2)", &[Value::Int(k), Value::Int(v)]);
            if let std::collections::btree_map::Entry::Vacant(e) = model.entry(k) {
                assert!(r.is_ok(), "{r:?}");
                e.insert(v);
            } else {
                assert!(r.is_err());
            }
        }
        Op::Upsert(k, v) => {
            run(
                s,
                "INSERT INTO t VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                &[Value::Int(k), Value::Int(v)],
            )
            .unwrap();
            model.insert(k, v);
        }
        Op::UpdateOne(k, v) => {
            run(s, "UPDATE t SET v = $2 WHERE k = $1", &[Value::Int(k), Value::Int(v)]).unwrap();
            if let Some(x) = model.get_mut(&k) {
                *x = v;
            }
        }
        Op::UpdateRange(a, b, d) => {
            run(s, "UPDATE t SET v = v + $3 WHERE k BETWEEN $1 AND $2", &[Value::Int(a), Value::Int(b), Value::Int(d)])
                .unwrap();
            for (_, v) in model.range_mut(a..=b) {
                *v += d;
            }
        }
        Op::Delete(k) => {
            run(s, "DELETE FROM t WHERE k = $1", &[Value::Int(k)]).unwrap();
            model.remove(&k);
        }
        Op::DeleteBelow(v) => {
            run(s, "DELETE FROM t WHERE v < $1", &[Value::Int(v)]).unwrap();
            model.retain(|_, x| *x >= v);
        }
    }
}

fn contents(e: &Engine, s: &mut Overlay, ctx: &ExecContext) -> BTreeMap<i64, i64> {
    let r = e.execute(s, ctx, "SELECT k, v FROM t ORDER BY k", &[], &mut Gas::unlimited()).unwrap();
    r.rows
        .into_iter()
        .map(|row| match (&row[0], &row[1]) {
            (Value::Int(k), Value::Int(v)) => (*k, *v),
            other => panic!("{other:?}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn workloads_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let (e, mut s, ctx) = setup();
        let mut model = BTreeMap::new();
        for o in &ops {
            apply(&e, &mut s, &ctx, o, &mut model);
        }
        prop_assert_eq!(contents(&e, &mut s, &ctx), model.clone());
        // The index agrees with the table: an index range scan sees the same rows.
        let r = e.execute(&mut s, &ctx, "SELECT k FROM t WHERE v >= -1000 ORDER BY k", &[], &mut Gas::unlimited()).unwrap();
        prop_assert_eq!(r.rows.len(), model.len());
    }

    /// Inserts of distinct keys and updates of distinct rows commute: any
    /// order gives the same stored bytes (tables and index entries).
    #[test]
    fn independent_statements_commute(keys in proptest::collection::btree_set(0i64..1000, 1..30), seed in any::<u64>()) {
        let stmts: Vec<(String, Vec<Value>)> = keys
            .iter()
            .map(|k| ("INSERT INTO t VALUES ($1, $2)".to_string(), vec![Value::Int(*k), Value::Int(k * 3 % 17)]))
            .collect();
        let mut shuffled = stmts.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let run_all = |list: &[(String, Vec<Value>)]| {
            let (e, mut s, ctx) = setup();
            for (sql, p) in list {
                e.execute(&mut s, &ctx, sql, p, &mut Gas::unlimited()).unwrap();
            }
            for k in keys.iter().rev() {
                e.execute(&mut s, &ctx, "UPDATE t SET v = v + 1 WHERE k = $1", &[Value::Int(*k)], &mut Gas::unlimited()).unwrap();
            }
            dump(&s)
        };
        prop_assert_eq!(run_all(&stmts), run_all(&shuffled));
    }
}

mod on_the_real_store {
    use super::*;
    use aergo_store::{Hash, Overlay, Store};

    fn state_root_after(order: &[usize], stmts: &[(String, Vec<Value>)]) -> Hash {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        let e = Engine::default();
        let ctx = ExecContext::default();
        e.execute_batch(
            &mut o,
            &ctx,
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL); CREATE INDEX t_v ON t (v)",
            &mut Gas::unlimited(),
        )
        .unwrap();
        for &i in order {
            let (sql, p) = &stmts[i];
            e.execute(&mut o, &ctx, sql, p, &mut Gas::unlimited()).unwrap();
        }
        o.flush().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Independent statements (distinct keys) in any order give the same
        /// state root of the versioned store, index trees included.
        #[test]
        fn same_state_root_whatever_the_order(keys in proptest::collection::btree_set(0i64..10_000, 1..40), seed in any::<u64>()) {
            let mut stmts: Vec<(String, Vec<Value>)> = keys
                .iter()
                .map(|k| ("INSERT INTO t VALUES ($1, $2)".to_string(), vec![Value::Int(*k), Value::Int(k % 13)]))
                .collect();
            // Plus an update and a delete per key, ordered after its insert.
            let n = stmts.len();
            for k in &keys {
                stmts.push(("UPDATE t SET v = v + 100 WHERE k = $1".into(), vec![Value::Int(*k)]));
            }
            let forward: Vec<usize> = (0..stmts.len()).collect();
            let mut inserts: Vec<usize> = (0..n).collect();
            let mut updates: Vec<usize> = (n..2 * n).collect();
            let mut x = seed | 1;
            let mut shuffle = |v: &mut Vec<usize>| {
                for i in (1..v.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    v.swap(i, (x % (i as u64 + 1)) as usize);
                }
            };
            shuffle(&mut inserts);
            shuffle(&mut updates);
            let mut other = inserts;
            other.extend(updates);
            prop_assert_eq!(state_root_after(&forward, &stmts), state_root_after(&other, &stmts));
        }
    }

    #[test]
    fn whitepaper_example_runs_on_the_overlay() {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        let e = Engine::default();
        let ctx = ExecContext::default();
        e.execute_batch(
            &mut o,
            &ctx,
            &format!(
                "{}; {}; INSERT INTO accounts VALUES ('alice', 100), ('bob', 50)",
                include_str!("whitepaper_ddl.sql"),
                include_str!("whitepaper_fn.sql")
            ),
            &mut Gas::unlimited(),
        )
        .unwrap();
        let call = |o: &mut Overlay, a: &str, b: &str, amt: i64| {
            e.call_function(
                o,
                &ctx,
                "transfer",
                &[Value::Text(a.into()), Value::Text(b.into()), Value::Int(amt)],
                &mut Gas::new(1_000_000),
            )
            .unwrap()
        };
        assert_eq!(call(&mut o, "alice", "bob", 30), Value::Text("OK".into()));
        assert_eq!(call(&mut o, "nobody", "bob", 1), Value::Text("Sender not found".into()));
        assert_eq!(call(&mut o, "alice", "bob", 71), Value::Text("Not enough balance".into()));
        assert_eq!(call(&mut o, "alice", "nobody", 1), Value::Text("Receiver not found".into()));
        let r = e
            .execute(&mut o, &ctx, "SELECT id, balance FROM accounts ORDER BY id", &[], &mut Gas::unlimited())
            .unwrap();
        assert_eq!(r.rows[0][1], Value::Numeric("70.00".parse().unwrap()));
        assert_eq!(r.rows[1][1], Value::Numeric("80.00".parse().unwrap()));
        let root = o.flush().unwrap();
        assert_ne!(root, Hash::ZERO);
    }
}
