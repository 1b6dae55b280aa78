//! Property tests of join planning: random schemas (2-6 tables of a few
//! rows, random primary keys and indexes) and random joins with equality,
//! range, OR and IN conditions, some through explicit JOIN ... ON and one
//! optional LEFT JOIN. The engine's answer must equal, as a multiset, a
//! naive reference computed here (the cross product of the tables, then
//! the conditions), and two runs on identical fresh stores must give the
//! same rows in the same order for the same gas: the plan is a function of
//! the query and the catalogue only.

mod common;

use aergo_sql::{Engine, ExecContext, Gas, Value};
use aergo_store::Overlay;
use common::mem;
use proptest::prelude::*;

const COLS: usize = 3;

#[derive(Clone, Debug)]
struct Table {
    /// `c0` is the primary key (then unique and never NULL).
    pk: bool,
    /// A secondary index on this column, if any.
    index: Option<usize>,
    rows: Vec<[Option<i64>; COLS]>,
}

#[derive(Clone, Copy, Debug)]
struct ColRef {
    table: usize,
    col: usize,
}

#[derive(Clone, Copy, Debug)]
enum Operand {
    Col(ColRef),
    Const(i64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Lt,
    LtEq,
    Gt,
    NotEq,
}

#[derive(Clone, Debug)]
enum Pred {
    Cmp(ColRef, Op, Operand),
    Or(Box<Pred>, Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    In(ColRef, Vec<i64>),
}

#[derive(Clone, Debug)]
struct Case {
    tables: Vec<Table>,
    /// FROM order (a permutation of the inner tables).
    from: Vec<usize>,
    /// Which tables are read through a derived table `(SELECT * FROM t) t`.
    derived: Vec<bool>,
    /// Which FROM items after the first are written `JOIN ... ON` (taking
    /// the conditions that read them and the items before).
    explicit: Vec<bool>,
    /// Conditions of WHERE (and ON).
    preds: Vec<Pred>,
    /// A last table LEFT JOINed on `left_on.0 = <last>.c<left_on.1>`.
    left: Option<(ColRef, usize)>,
}

fn value() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 8 => (0i64..3).prop_map(Some)]
}

fn table() -> impl Strategy<Value = Table> {
    (any::<bool>(), prop::option::of(0usize..COLS), prop::collection::vec([value(), value(), value()], 1..6)).prop_map(
        |(pk, index, mut rows)| {
            if pk {
                for (i, r) in rows.iter_mut().enumerate() {
                    r[0] = Some(i as i64);
                }
            }
            Table { pk, index, rows }
        },
    )
}

fn col(n: usize) -> impl Strategy<Value = ColRef> {
    (0..n, 0..COLS).prop_map(|(table, col)| ColRef { table, col })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![4 => Just(Op::Eq), 1 => Just(Op::Lt), 1 => Just(Op::LtEq), 1 => Just(Op::Gt), 1 => Just(Op::NotEq)]
}

fn cmp(n: usize) -> BoxedStrategy<Pred> {
    let operand = prop_oneof![3 => col(n).prop_map(Operand::Col), 1 => (0i64..5).prop_map(Operand::Const)];
    (col(n), op(), operand).prop_map(|(c, o, v)| Pred::Cmp(c, o, v)).boxed()
}

/// One arm of an OR: a comparison or two under AND.
fn arm(n: usize) -> impl Strategy<Value = Pred> {
    prop_oneof![cmp(n), (cmp(n), cmp(n)).prop_map(|(a, b)| Pred::And(Box::new(a), Box::new(b)))]
}

fn pred(n: usize) -> impl Strategy<Value = Pred> {
    prop_oneof![
        8 => cmp(n),
        1 => (cmp(n), cmp(n)).prop_map(|(a, b)| Pred::Or(Box::new(a), Box::new(b))),
        // ORs of ANDs across tables: what implied restrictions draw from.
        1 => (arm(n), arm(n), arm(n)).prop_map(|(a, b, c)| Pred::Or(Box::new(Pred::Or(Box::new(a), Box::new(b))), Box::new(c))),
        // ... and ORs whose every arm constrains one table by a constant
        // (TPC-H Q7's shape), so that they always do.
        1 => (0..n, prop::collection::vec((0..COLS, op(), 0i64..5, cmp(n)), 2..4)).prop_map(|(t, arms)| {
            arms.into_iter()
                .map(|(c, o, k, other)| {
                    Pred::And(Box::new(Pred::Cmp(ColRef { table: t, col: c }, o, Operand::Const(k))), Box::new(other))
                })
                .reduce(|a, b| Pred::Or(Box::new(a), Box::new(b)))
                .expect("two arms or more")
        }),
        1 => (col(n), prop::collection::vec(0i64..5, 1..4)).prop_map(|(c, l)| Pred::In(c, l)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..=6).prop_flat_map(|n| {
        (
            prop::collection::vec(table(), n + 1),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            prop::collection::vec(prop::bool::weighted(0.2), n),
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(pred(n + 1), 0..6),
            prop::option::of((col(n), 0..COLS)),
        )
            .prop_map(move |(tables, from, derived, explicit, preds, left)| Case {
                tables,
                from,
                derived,
                explicit,
                preds,
                left,
            })
    })
}

fn name(c: ColRef) -> String {
    format!("t{}.c{}", c.table, c.col)
}

fn sql_op(o: Op) -> &'static str {
    match o {
        Op::Eq => "=",
        Op::Lt => "<",
        Op::LtEq => "<=",
        Op::Gt => ">",
        Op::NotEq => "<>",
    }
}

fn sql_pred(p: &Pred) -> String {
    match p {
        Pred::Cmp(c, o, Operand::Col(d)) => format!("{} {} {}", name(*c), sql_op(*o), name(*d)),
        Pred::Cmp(c, o, Operand::Const(k)) => format!("{} {} {k}", name(*c), sql_op(*o)),
        Pred::Or(a, b) => format!("({} OR {})", sql_pred(a), sql_pred(b)),
        Pred::And(a, b) => format!("({} AND {})", sql_pred(a), sql_pred(b)),
        Pred::In(c, l) => {
            format!("{} IN ({})", name(*c), l.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
        }
    }
}

fn tables_read(p: &Pred, out: &mut Vec<usize>) {
    match p {
        Pred::Cmp(c, _, d) => {
            out.push(c.table);
            if let Operand::Col(d) = d {
                out.push(d.table);
            }
        }
        Pred::Or(a, b) | Pred::And(a, b) => {
            tables_read(a, out);
            tables_read(b, out);
        }
        Pred::In(c, _) => out.push(c.table),
    }
}

/// The conditions that mention the LEFT JOINed table are dropped from the
/// inner part unless they go to WHERE; all of them go to WHERE here, which
/// is evaluated after the LEFT JOIN (NULL-extended rows included).
fn to_sql(case: &Case) -> String {
    let n = case.from.len();
    let item = |t: usize| if case.derived[t] { format!("(SELECT * FROM t{t}) AS t{t}") } else { format!("t{t}") };
    let mut from = item(case.from[0]);
    let mut seen = vec![case.from[0]];
    let mut where_: Vec<String> = Vec::new();
    let mut used = vec![false; case.preds.len()];
    for (k, &t) in case.from.iter().enumerate().skip(1) {
        seen.push(t);
        if case.explicit[k] {
            let mut on = Vec::new();
            for (i, p) in case.preds.iter().enumerate() {
                let mut r = Vec::new();
                tables_read(p, &mut r);
                if !used[i] && r.contains(&t) && r.iter().all(|x| seen.contains(x)) {
                    used[i] = true;
                    on.push(sql_pred(p));
                }
            }
            if on.is_empty() {
                from.push_str(&format!(" CROSS JOIN {}", item(t)));
            } else {
                from.push_str(&format!(" JOIN {} ON {}", item(t), on.join(" AND ")));
            }
        } else {
            from.push_str(&format!(", {}", item(t)));
        }
    }
    if let Some((c, lc)) = case.left {
        from.push_str(&format!(" LEFT JOIN t{n} ON {} = t{n}.c{lc}", name(c)));
    }
    for (i, p) in case.preds.iter().enumerate() {
        if !used[i] {
            let mut r = Vec::new();
            tables_read(p, &mut r);
            if r.iter().all(|x| *x < n || case.left.is_some()) {
                where_.push(sql_pred(p));
            }
        }
    }
    let mut cols = Vec::new();
    for t in 0..n {
        for c in 0..COLS {
            cols.push(format!("t{t}.c{c}"));
        }
    }
    if case.left.is_some() {
        for c in 0..COLS {
            cols.push(format!("t{n}.c{c}"));
        }
    }
    let mut sql = format!("SELECT {} FROM {from}", cols.join(", "));
    if !where_.is_empty() {
        sql.push_str(&format!(" WHERE {}", where_.join(" AND ")));
    }
    sql
}

type Row = Vec<Option<i64>>;

fn get(row: &[Option<i64>], c: ColRef) -> Option<i64> {
    row[c.table * COLS + c.col]
}

fn eval(p: &Pred, row: &[Option<i64>]) -> Option<bool> {
    match p {
        Pred::Cmp(c, o, d) => {
            let a = get(row, *c)?;
            let b = match d {
                Operand::Col(d) => get(row, *d)?,
                Operand::Const(k) => *k,
            };
            Some(match o {
                Op::Eq => a == b,
                Op::Lt => a < b,
                Op::LtEq => a <= b,
                Op::Gt => a > b,
                Op::NotEq => a != b,
            })
        }
        Pred::Or(x, y) => match (eval(x, row), eval(y, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, _) | (_, None) => None,
            _ => Some(false),
        },
        Pred::And(x, y) => match (eval(x, row), eval(y, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (None, _) | (_, None) => None,
            _ => Some(true),
        },
        Pred::In(c, l) => Some(l.contains(&get(row, *c)?)),
    }
}

/// The cross product of the inner tables (columns in table-number order),
/// the LEFT JOIN, then every condition the query has.
fn reference(case: &Case) -> Vec<Row> {
    let n = case.from.len();
    let mut rows: Vec<Row> = vec![vec![None; COLS * n]];
    for t in 0..n {
        let mut next = Vec::new();
        for r in &rows {
            for tr in &case.tables[t].rows {
                let mut x = r.clone();
                x[t * COLS..(t + 1) * COLS].copy_from_slice(tr);
                next.push(x);
            }
        }
        rows = next;
    }
    if let Some((c, lc)) = case.left {
        let mut next = Vec::new();
        for r in rows {
            let mut matched = false;
            for tr in &case.tables[n].rows {
                if get(&r, c).is_some() && get(&r, c) == tr[lc] {
                    matched = true;
                    let mut x = r.clone();
                    x.extend_from_slice(tr);
                    next.push(x);
                }
            }
            if !matched {
                let mut x = r.clone();
                x.extend([None; COLS]);
                next.push(x);
            }
        }
        rows = next;
    }
    let preds: Vec<&Pred> = case
        .preds
        .iter()
        .filter(|p| {
            let mut r = Vec::new();
            tables_read(p, &mut r);
            r.iter().all(|x| *x < n || case.left.is_some())
        })
        .collect();
    rows.retain(|r| preds.iter().all(|p| eval(p, r) == Some(true)));
    rows
}

fn setup(case: &Case) -> (Engine, Overlay, ExecContext) {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    let mut sql = String::new();
    for (t, tb) in case.tables.iter().enumerate() {
        let c0 = if tb.pk { "c0 INTEGER PRIMARY KEY" } else { "c0 INTEGER" };
        sql.push_str(&format!("CREATE TABLE t{t} ({c0}, c1 INTEGER, c2 INTEGER);\n"));
        if let Some(i) = tb.index {
            sql.push_str(&format!("CREATE INDEX t{t}_ix ON t{t} (c{i});\n"));
        }
        for r in &tb.rows {
            let v: Vec<String> = r.iter().map(|x| x.map_or("NULL".into(), |v| v.to_string())).collect();
            sql.push_str(&format!("INSERT INTO t{t} VALUES ({});\n", v.join(", ")));
        }
    }
    e.execute_batch(&mut s, &ctx, &sql, &mut Gas::unlimited()).unwrap();
    (e, s, ctx)
}

fn run(case: &Case, sql: &str) -> (Vec<Row>, u64) {
    let (e, mut s, ctx) = setup(case);
    let mut gas = Gas::new(10_000_000_000);
    let r = e.execute(&mut s, &ctx, sql, &[], &mut gas).unwrap_or_else(|err| panic!("{sql}: {err}"));
    let rows = r
        .rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::Int(i) => Some(i),
                    other => panic!("unexpected value {other:?}"),
                })
                .collect()
        })
        .collect();
    (rows, gas.used())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn joins_match_the_naive_reference(case in case()) {
        let sql = to_sql(&case);
        let (rows, gas) = run(&case, &sql);
        let mut got = rows.clone();
        got.sort();
        let mut want = reference(&case);
        want.sort();
        prop_assert_eq!(got, want, "{}", sql);
        // Same state, same query: same rows in the same order, same gas.
        let (again, gas_again) = run(&case, &sql);
        prop_assert_eq!(rows, again, "{}", sql);
        prop_assert_eq!(gas, gas_again, "{}", sql);
    }
}
