//! Plan execution: scans over the store, joins, aggregation, sorting, set
//! operations, and the row writes of INSERT / UPDATE / DELETE with their
//! constraint checks and index maintenance.
//!
//! Operators materialise their output (bounded by
//! [`crate::Limits::max_intermediate_rows`]); a `budget` passed down from
//! LIMIT lets scans stop early. Table scans read the store in chunks so no
//! store borrow is held while expressions (which may call functions that
//! write) are evaluated.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::rc::Rc;

use aergo_store::codec::{decode_key, decode_row, encode_key, encode_row};
use aergo_store::{Direction, TableStore, Value};
use rust_decimal::Decimal;

use crate::catalog::TableDef;
use crate::engine::{Engine, ExecContext, Limits};
use crate::error::{Result, SqlError};
use crate::expr::{eval, internal, Expr, SubPlan};
use crate::gas::{Gas, GasSchedule};
use crate::plan::{Access, AggCall, AggFunc, JoinKind, Plan, Row, Scan, SetOpKind, SortKey};
use crate::types::{self, SqlType};

/// Rows read from the store per chunk of a scan.
const SCAN_CHUNK: usize = 256;

/// The state of one execution: store, context, gas, parameters, PL/pgSQL
/// variables, outer rows of correlated subqueries.
pub struct Cx<'a> {
    pub store: &'a mut dyn TableStore,
    pub ctx: &'a ExecContext,
    pub gas: &'a mut Gas,
    pub schedule: &'a GasSchedule,
    pub limits: &'a Limits,
    pub engine: &'a Engine,
    pub params: Vec<Value>,
    pub vars: Vec<Value>,
    pub outer: Vec<Row>,
    pub sub_cache: BTreeMap<usize, Rc<Vec<Row>>>,
    pub call_depth: usize,
    pub notices: Vec<String>,
    /// Provider of `aergo_*` host functions, if any (see [`crate::host`]).
    pub host: Option<&'a mut dyn crate::host::Host>,
}

impl Cx<'_> {
    pub fn check_write(&self, table: &TableDef) -> Result<()> {
        if self.ctx.read_only {
            return Err(SqlError::ReadOnly { statement: format!("writing table {}.{}", table.schema, table.name) });
        }
        self.check_schema_write(&table.schema)
    }

    pub fn check_schema_write(&self, schema: &str) -> Result<()> {
        if self.ctx.read_only {
            return Err(SqlError::ReadOnly { statement: format!("changing schema {schema}") });
        }
        if let Some(allowed) = &self.ctx.writable_schemas {
            if !allowed.iter().any(|s| s == schema) {
                return Err(SqlError::WriteDenied { schema: schema.into() });
            }
        }
        Ok(())
    }

    fn read_charge(&mut self, bytes: usize) -> Result<()> {
        self.gas.charge(self.schedule.row_read + self.schedule.byte_read * bytes as u64)
    }

    pub fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let v = self.store.get(table, key)?;
        self.read_charge(key.len() + v.as_ref().map_or(0, |v| v.len()))?;
        Ok(v)
    }

    pub fn put(&mut self, table: &str, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.gas.charge(self.schedule.row_write + self.schedule.byte_write * (key.len() + value.len()) as u64)?;
        self.store.put(table, key, value)?;
        Ok(())
    }

    pub fn delete(&mut self, table: &str, key: &[u8]) -> Result<()> {
        self.gas.charge(self.schedule.row_write + self.schedule.byte_write * key.len() as u64)?;
        self.store.delete(table, key)?;
        Ok(())
    }

    /// Reads up to `max` entries of `[lower, upper]` in `dir`.
    pub fn range_chunk(
        &mut self,
        table: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        {
            let it = self.store.range(table, lower, upper, dir)?;
            for entry in it.take(max) {
                out.push(entry?);
            }
        }
        for (k, v) in &out {
            self.read_charge(k.len() + v.len())?;
        }
        Ok(out)
    }

    fn check_rows(&self, n: usize) -> Result<()> {
        if n > self.limits.max_intermediate_rows {
            return Err(SqlError::LimitExceeded {
                what: "rows held by one operator",
                limit: self.limits.max_intermediate_rows as u64,
            });
        }
        Ok(())
    }
}

/// Runs a subquery of an expression evaluated on `row`.
pub fn run_subplan(sub: &SubPlan, row: &[Value], cx: &mut Cx<'_>) -> Result<Rc<Vec<Row>>> {
    if !sub.correlated {
        if let Some(r) = cx.sub_cache.get(&sub.id) {
            return Ok(r.clone());
        }
        let rows = Rc::new(run(&sub.plan, &[], cx, None)?);
        cx.sub_cache.insert(sub.id, rows.clone());
        return Ok(rows);
    }
    cx.outer.push(row.to_vec());
    let r = run(&sub.plan, &[], cx, None);
    cx.outer.pop();
    Ok(Rc::new(r?))
}

/// Executes a plan. `input` is the row key expressions of a correlated
/// right-hand scan read (the left row of a join); `budget` is how many
/// rows the consumer needs at most.
pub fn run(plan: &Plan, input: &[Value], cx: &mut Cx<'_>, budget: Option<usize>) -> Result<Vec<Row>> {
    match plan {
        Plan::Values { rows } => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let mut vals = Vec::with_capacity(r.len());
                for e in r {
                    vals.push(eval(e, input, cx)?);
                }
                out.push(vals);
            }
            Ok(out)
        }
        Plan::Scan(scan) => Ok(scan_rows(scan, input, cx, budget)?.into_iter().map(|(_, r)| r).collect()),
        Plan::Filter { input: child, pred } => {
            let rows = run(child, input, cx, None)?;
            let mut out = Vec::new();
            for r in rows {
                if types::truth(&eval(pred, &r, cx)?)? == Some(true) {
                    out.push(r);
                    if budget.is_some_and(|b| out.len() >= b) {
                        break;
                    }
                }
            }
            Ok(out)
        }
        Plan::Project { input: child, exprs } => {
            let rows = run(child, input, cx, budget)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let mut vals = Vec::with_capacity(exprs.len());
                for e in exprs {
                    vals.push(eval(e, &r, cx)?);
                }
                out.push(vals);
            }
            Ok(out)
        }
        Plan::Join { left, right, kind, cond, right_width, right_correlated } => {
            let lrows = run(left, input, cx, None)?;
            let fixed_right = if *right_correlated { None } else { Some(run(right, &[], cx, None)?) };
            let mut out = Vec::new();
            for l in lrows {
                let owned;
                let rrows = match &fixed_right {
                    Some(r) => r,
                    None => {
                        owned = run(right, &l, cx, None)?;
                        &owned
                    }
                };
                let mut matched = false;
                for r in rrows {
                    cx.gas.charge(cx.schedule.row_process)?;
                    let mut row = Vec::with_capacity(l.len() + r.len());
                    row.extend_from_slice(&l);
                    row.extend_from_slice(r);
                    let ok = match cond {
                        Some(c) => types::truth(&eval(c, &row, cx)?)? == Some(true),
                        None => true,
                    };
                    if ok {
                        matched = true;
                        out.push(row);
                        cx.check_rows(out.len())?;
                    }
                }
                if !matched && *kind == JoinKind::Left {
                    let mut row = l.clone();
                    row.extend(std::iter::repeat_n(Value::Null, *right_width));
                    out.push(row);
                }
                if budget.is_some_and(|b| out.len() >= b) {
                    break;
                }
            }
            Ok(out)
        }
        Plan::Aggregate { input: child, group_by, aggs } => {
            let rows = run(child, input, cx, None)?;
            aggregate(rows, group_by, aggs, cx)
        }
        Plan::Sort { input: child, keys } => {
            let rows = run(child, input, cx, None)?;
            sort_rows(rows, keys, cx)
        }
        Plan::Distinct { input: child } => {
            let rows = run(child, input, cx, None)?;
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for r in rows {
                cx.gas.charge(cx.schedule.row_process)?;
                let mut k = Vec::new();
                types::group_key(&r, &mut k);
                if seen.insert(k) {
                    out.push(r);
                    if budget.is_some_and(|b| out.len() >= b) {
                        break;
                    }
                }
            }
            Ok(out)
        }
        Plan::Limit { input: child, limit, offset } => {
            let lim = match limit {
                Some(e) => match eval(e, &[], cx)? {
                    Value::Null => None,
                    v => Some(count_arg(&v, "LIMIT")?),
                },
                None => None,
            };
            let off = match offset {
                Some(e) => match eval(e, &[], cx)? {
                    Value::Null => 0,
                    v => count_arg(&v, "OFFSET")?,
                },
                None => 0,
            };
            let need = lim.map(|l| l.saturating_add(off));
            let need = match (need, budget) {
                (Some(a), Some(b)) => Some(a.min(b.saturating_add(off))),
                (a, b) => a.or(b.map(|b| b.saturating_add(off))),
            };
            let rows = run(child, input, cx, need)?;
            Ok(rows.into_iter().skip(off).take(lim.unwrap_or(usize::MAX)).collect())
        }
        Plan::SetOp { op, all, left, right } => {
            let l = run(left, input, cx, None)?;
            let r = run(right, input, cx, None)?;
            set_op(*op, *all, l, r, cx)
        }
    }
}

fn count_arg(v: &Value, what: &str) -> Result<usize> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as usize),
        Value::Numeric(d) if !d.is_sign_negative() => {
            Ok(rust_decimal::prelude::ToPrimitive::to_u64(&d.round()).unwrap_or(u64::MAX) as usize)
        }
        other => Err(SqlError::InvalidValue { ty: what.into(), input: format!("{other} (must not be negative)") }),
    }
}

fn set_op(op: SetOpKind, all: bool, l: Vec<Row>, r: Vec<Row>, cx: &mut Cx<'_>) -> Result<Vec<Row>> {
    let key = |row: &Row| {
        let mut k = Vec::new();
        types::group_key(row, &mut k);
        k
    };
    cx.gas.charge(cx.schedule.row_process * (l.len() + r.len()) as u64)?;
    Ok(match (op, all) {
        (SetOpKind::Union, true) => {
            let mut out = l;
            out.extend(r);
            cx.check_rows(out.len())?;
            out
        }
        (SetOpKind::Union, false) => {
            let mut seen = BTreeSet::new();
            l.into_iter().chain(r).filter(|row| seen.insert(key(row))).collect()
        }
        (SetOpKind::Except | SetOpKind::Intersect, _) => {
            let mut counts: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
            for row in &r {
                *counts.entry(key(row)).or_default() += 1;
            }
            let mut out = Vec::new();
            let mut emitted = BTreeSet::new();
            for row in l {
                let k = key(&row);
                let c = counts.get(&k).copied().unwrap_or(0);
                let keep = match (op, all) {
                    (SetOpKind::Except, false) => c == 0 && emitted.insert(k),
                    (SetOpKind::Intersect, false) => c > 0 && emitted.insert(k),
                    (SetOpKind::Except, true) => {
                        if c > 0 {
                            counts.insert(k, c - 1);
                            false
                        } else {
                            true
                        }
                    }
                    _ => {
                        if c > 0 {
                            counts.insert(k, c - 1);
                            true
                        } else {
                            false
                        }
                    }
                };
                if keep {
                    out.push(row);
                }
            }
            out
        }
    })
}

pub fn sort_rows(rows: Vec<Row>, keys: &[SortKey], cx: &mut Cx<'_>) -> Result<Vec<Row>> {
    let n = rows.len() as u64;
    let log = 64 - n.leading_zeros() as u64;
    cx.gas.charge(cx.schedule.row_process * n * log.max(1))?;
    let mut keyed = Vec::with_capacity(rows.len());
    for r in rows {
        let mut k = Vec::with_capacity(keys.len());
        for key in keys {
            k.push(eval(&key.expr, &r, cx)?);
        }
        keyed.push((k, r));
    }
    // A stable sort keeps ties in input order, so results are deterministic.
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, key) in keys.iter().enumerate() {
            let (x, y) = (&a[i], &b[i]);
            let o = match (x == &Value::Null, y == &Value::Null) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if key.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if key.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                _ => {
                    let o = types::sort_cmp(x, y);
                    if key.desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

struct AggAcc {
    count: i64,
    sum: Option<Value>,
    best: Option<Value>,
    flag: Option<bool>,
    text: Option<String>,
    seen: BTreeSet<Vec<u8>>,
}

fn aggregate(rows: Vec<Row>, group_by: &[Expr], aggs: &[AggCall], cx: &mut Cx<'_>) -> Result<Vec<Row>> {
    let new_accs = || -> Vec<AggAcc> {
        aggs.iter()
            .map(|_| AggAcc { count: 0, sum: None, best: None, flag: None, text: None, seen: BTreeSet::new() })
            .collect()
    };
    // Groups keyed by their canonical encoding: output order is by key,
    // never by hash.
    let mut groups: BTreeMap<Vec<u8>, (Row, Vec<AggAcc>)> = BTreeMap::new();
    if group_by.is_empty() {
        groups.insert(Vec::new(), (Vec::new(), new_accs()));
    }
    for r in rows {
        cx.gas.charge(cx.schedule.row_process)?;
        let mut gvals = Vec::with_capacity(group_by.len());
        for g in group_by {
            gvals.push(eval(g, &r, cx)?);
        }
        let mut k = Vec::new();
        types::group_key(&gvals, &mut k);
        if !groups.contains_key(&k) {
            cx.check_rows(groups.len() + 1)?;
            groups.insert(k.clone(), (gvals, new_accs()));
        }
        let entry = groups.get_mut(&k).ok_or_else(|| internal("group vanished"))?;
        for (i, a) in aggs.iter().enumerate() {
            let v = match &a.arg {
                Some(e) => eval(e, &r, cx)?,
                None => Value::Int(1),
            };
            let acc = &mut entry.1[i];
            if a.func != AggFunc::CountStar && v == Value::Null {
                continue;
            }
            if a.distinct {
                let mut dk = Vec::new();
                types::group_key(std::slice::from_ref(&v), &mut dk);
                if !acc.seen.insert(dk) {
                    continue;
                }
            }
            acc.count += 1;
            match a.func {
                AggFunc::CountStar | AggFunc::Count => {}
                AggFunc::Sum | AggFunc::Avg => {
                    let v = match v {
                        Value::Int(_) | Value::Numeric(_) => v,
                        other => {
                            return Err(types::type_err(&format!("{:?}", a.func).to_lowercase(), "a number", &other))
                        }
                    };
                    acc.sum = Some(match acc.sum.take() {
                        None => v,
                        Some(s) => match types::arith(types::ArithOp::Add, &s, &v) {
                            Ok(x) => x,
                            // An integer sum that overflows i64 continues exactly in decimal.
                            Err(_) => types::arith(
                                types::ArithOp::Add,
                                &types::cast(s, SqlType::Numeric(None))?,
                                &types::cast(v, SqlType::Numeric(None))?,
                            )?,
                        },
                    });
                }
                AggFunc::Min | AggFunc::Max => {
                    let replace = match &acc.best {
                        None => true,
                        Some(b) => {
                            let o = types::compare(&v, b)?;
                            (a.func == AggFunc::Min && o == Ordering::Less)
                                || (a.func == AggFunc::Max && o == Ordering::Greater)
                        }
                    };
                    if replace {
                        acc.best = Some(v);
                    }
                }
                AggFunc::BoolAnd | AggFunc::BoolOr => {
                    let b = types::truth(&v)?.unwrap_or(false);
                    acc.flag = Some(match (acc.flag, a.func) {
                        (None, _) => b,
                        (Some(x), AggFunc::BoolAnd) => x && b,
                        (Some(x), _) => x || b,
                    });
                }
                AggFunc::StringAgg => {
                    let sep = match &a.extra {
                        Some(e) => types::to_text(&eval(e, &r, cx)?),
                        None => String::new(),
                    };
                    let s = types::to_text(&v);
                    match &mut acc.text {
                        None => acc.text = Some(s),
                        Some(t) => {
                            t.push_str(&sep);
                            t.push_str(&s);
                            if t.len() > types::MAX_VALUE_BYTES {
                                return Err(SqlError::LimitExceeded {
                                    what: "string_agg result bytes",
                                    limit: types::MAX_VALUE_BYTES as u64,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (_, (mut gvals, accs)) in groups {
        for (a, acc) in aggs.iter().zip(accs) {
            gvals.push(match a.func {
                AggFunc::CountStar | AggFunc::Count => Value::Int(acc.count),
                AggFunc::Sum => acc.sum.unwrap_or(Value::Null),
                AggFunc::Avg => match acc.sum {
                    None => Value::Null,
                    Some(s) => {
                        let d = match s {
                            Value::Int(i) => Decimal::from(i),
                            Value::Numeric(d) => d,
                            _ => Decimal::ZERO,
                        };
                        types::arith(types::ArithOp::Div, &Value::Numeric(d), &Value::Int(acc.count))?
                    }
                },
                AggFunc::Min | AggFunc::Max => acc.best.unwrap_or(Value::Null),
                AggFunc::BoolAnd | AggFunc::BoolOr => acc.flag.map(Value::Bool).unwrap_or(Value::Null),
                AggFunc::StringAgg => acc.text.map(Value::Text).unwrap_or(Value::Null),
            });
        }
        out.push(gvals);
    }
    Ok(out)
}

// ----- scans -----

/// What a lookup value means for a key column of type `ty`.
enum KeyVal {
    Exact(Value),
    /// Not representable: equality never holds; for bounds, the nearest
    /// representable values below and above.
    Between(Value, Value),
    /// NULL: no row can match.
    Empty,
    /// Not comparable in key order: fall back to scanning.
    Unusable,
}

fn key_value(v: Value, ty: SqlType) -> KeyVal {
    match (&v, ty) {
        (Value::Null, _) => KeyVal::Empty,
        (Value::Int(_), t) if t.is_integer() => KeyVal::Exact(v),
        (Value::Numeric(d), t) if t.is_integer() => {
            if d.fract().is_zero() {
                match rust_decimal::prelude::ToPrimitive::to_i64(d) {
                    Some(i) => KeyVal::Exact(Value::Int(i)),
                    None => KeyVal::Unusable,
                }
            } else {
                match (
                    rust_decimal::prelude::ToPrimitive::to_i64(&d.floor()),
                    rust_decimal::prelude::ToPrimitive::to_i64(&d.ceil()),
                ) {
                    (Some(lo), Some(hi)) => KeyVal::Between(Value::Int(lo), Value::Int(hi)),
                    _ => KeyVal::Unusable,
                }
            }
        }
        (Value::Int(i), SqlType::Numeric(_)) => KeyVal::Exact(Value::Numeric(Decimal::from(*i))),
        (Value::Numeric(_), SqlType::Numeric(_)) => KeyVal::Exact(v),
        (Value::Text(_), t) if t.is_text() => KeyVal::Exact(v),
        (Value::Text(s), t) => match types::cast(Value::Text(s.clone()), t) {
            Ok(c) => key_value(c, t),
            Err(_) => KeyVal::Unusable,
        },
        (Value::Bool(_), SqlType::Bool)
        | (Value::Bytes(_), SqlType::Bytea)
        | (Value::Timestamp(_), SqlType::Timestamp) => KeyVal::Exact(v),
        _ => KeyVal::Unusable,
    }
}

pub(crate) enum KeyRange {
    Empty,
    Full,
    Bytes(Bound<Vec<u8>>, Bound<Vec<u8>>),
}

fn with(mut a: Vec<u8>, b: &[u8]) -> Vec<u8> {
    a.extend_from_slice(b);
    a
}

/// Evaluates an access path's key expressions into a byte range.
pub(crate) fn key_range(access: &Access, input: &[Value], cx: &mut Cx<'_>) -> Result<KeyRange> {
    let Access::Range { eq, lower, upper, key_types, .. } = access else { return Ok(KeyRange::Full) };
    let mut prefix_vals = Vec::with_capacity(eq.len());
    for (e, ty) in eq.iter().zip(key_types) {
        match key_value(eval(e, input, cx)?, *ty) {
            KeyVal::Exact(v) => prefix_vals.push(v),
            KeyVal::Between(..) | KeyVal::Empty => return Ok(KeyRange::Empty),
            KeyVal::Unusable => return Ok(KeyRange::Full),
        }
    }
    let prefix = encode_key(&prefix_vals);
    let next_ty = key_types.get(eq.len()).copied();
    let mut lo: Bound<Vec<u8>> = Bound::Included(prefix.clone());
    let mut hi: Bound<Vec<u8>> = Bound::Excluded(with(prefix.clone(), &[0xFF]));
    if let (Some(ty), true) = (next_ty, lower.is_some() || upper.is_some()) {
        // A bounded range never includes NULL (encoded as 0x05).
        lo = Bound::Included(with(prefix.clone(), &[0x06]));
        if let Some((e, inclusive)) = lower {
            match key_value(eval(e, input, cx)?, ty) {
                KeyVal::Exact(v) => {
                    let k = with(prefix.clone(), &encode_key(&[v]));
                    lo = Bound::Included(if *inclusive { k } else { with(k, &[0xFF]) });
                }
                KeyVal::Between(_, above) => lo = Bound::Included(with(prefix.clone(), &encode_key(&[above]))),
                KeyVal::Empty => return Ok(KeyRange::Empty),
                KeyVal::Unusable => return Ok(KeyRange::Full),
            }
        }
        if let Some((e, inclusive)) = upper {
            match key_value(eval(e, input, cx)?, ty) {
                KeyVal::Exact(v) => {
                    let k = with(prefix.clone(), &encode_key(&[v]));
                    hi = Bound::Excluded(if *inclusive { with(k, &[0xFF]) } else { k });
                }
                KeyVal::Between(below, _) => {
                    hi = Bound::Excluded(with(with(prefix.clone(), &encode_key(&[below])), &[0xFF]))
                }
                KeyVal::Empty => return Ok(KeyRange::Empty),
                KeyVal::Unusable => return Ok(KeyRange::Full),
            }
        }
    }
    Ok(KeyRange::Bytes(lo, hi))
}

fn as_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Primary-key bytes from an index entry key (`index cols ++ pk`).
fn pk_from_index_key(table: &TableDef, ix_cols: usize, key: &[u8]) -> Result<Vec<u8>> {
    let vals = decode_key(key)?;
    let pk_len = if table.has_rowid() { 1 } else { table.primary_key.len() };
    if vals.len() != ix_cols + pk_len {
        return Err(internal(format!("index entry of {} has {} values", table.name, vals.len())));
    }
    Ok(encode_key(&vals[ix_cols..]))
}

fn decode_table_row(table: &TableDef, bytes: &[u8]) -> Result<Row> {
    let row = decode_row(bytes)?;
    if row.len() != table.columns.len() {
        return Err(SqlError::CorruptCatalog {
            name: table.store_name(),
            reason: format!("row has {} values, table has {} columns", row.len(), table.columns.len()),
        });
    }
    Ok(row)
}

/// Reads the rows a scan selects, with their primary-key bytes.
pub fn scan_rows(scan: &Scan, input: &[Value], cx: &mut Cx<'_>, budget: Option<usize>) -> Result<Vec<(Vec<u8>, Row)>> {
    let table = &scan.table;
    let tname = table.store_name();
    let mut out: Vec<(Vec<u8>, Row)> = Vec::new();
    let full = |b: Option<usize>| b.is_some_and(|b| b == 0);
    if full(budget) {
        return Ok(out);
    }
    // Collects one candidate row if it passes the filter; true when done.
    let accept = |key: Vec<u8>, row: Row, cx: &mut Cx<'_>, out: &mut Vec<(Vec<u8>, Row)>| -> Result<bool> {
        if let Some(f) = &scan.filter {
            if types::truth(&eval(f, &row, cx)?)? != Some(true) {
                return Ok(false);
            }
        }
        out.push((key, row));
        cx.check_rows(out.len())?;
        Ok(budget.is_some_and(|b| out.len() >= b))
    };
    match &scan.access {
        Access::InList { index, values, key_type } => {
            let mut keys = BTreeSet::new();
            for e in values {
                match key_value(eval(e, input, cx)?, *key_type) {
                    KeyVal::Exact(v) => {
                        keys.insert(encode_key(&[v]));
                    }
                    KeyVal::Between(..) | KeyVal::Empty => {}
                    KeyVal::Unusable => {
                        return scan_rows(
                            &Scan { access: Access::Full { reverse: false }, ..scan.clone() },
                            input,
                            cx,
                            budget,
                        )
                    }
                }
            }
            for k in keys {
                match index {
                    None if table.primary_key.len() == 1 => {
                        if let Some(bytes) = cx.get(&tname, &k)? {
                            let row = decode_table_row(table, &bytes)?;
                            if accept(k, row, cx, &mut out)? {
                                break;
                            }
                        }
                    }
                    _ => {
                        // Prefix scan on the pk or index.
                        let hi = with(k.clone(), &[0xFF]);
                        let mut done = false;
                        let store_table = match index {
                            None => tname.clone(),
                            Some(i) => table.index_store_name(&table.indexes[*i]),
                        };
                        let mut lo: Bound<Vec<u8>> = Bound::Included(k.clone());
                        loop {
                            let chunk = cx.range_chunk(
                                &store_table,
                                as_bound(&lo),
                                Bound::Excluded(&hi),
                                Direction::Forward,
                                SCAN_CHUNK,
                            )?;
                            let n = chunk.len();
                            for (ek, ev) in chunk {
                                lo = Bound::Excluded(ek.clone());
                                let (pk, row) = match index {
                                    None => (ek, decode_table_row(table, &ev)?),
                                    Some(i) => {
                                        let pk = pk_from_index_key(table, table.indexes[*i].columns.len(), &ek)?;
                                        match cx.get(&tname, &pk)? {
                                            Some(b) => (pk, decode_table_row(table, &b)?),
                                            None => return Err(internal("index entry without row")),
                                        }
                                    }
                                };
                                if accept(pk, row, cx, &mut out)? {
                                    done = true;
                                    break;
                                }
                            }
                            if done || n < SCAN_CHUNK {
                                break;
                            }
                        }
                        if done {
                            break;
                        }
                    }
                }
            }
            Ok(out)
        }
        Access::Full { .. } | Access::Range { .. } => {
            let (index, reverse) = match &scan.access {
                Access::Full { reverse } => (None, *reverse),
                Access::Range { index, reverse, .. } => (*index, *reverse),
                Access::InList { .. } => (None, false),
            };
            let range = key_range(&scan.access, input, cx)?;
            let (lo, hi) = match range {
                KeyRange::Empty => return Ok(out),
                KeyRange::Full => (Bound::Unbounded, Bound::Unbounded),
                KeyRange::Bytes(lo, hi) => (lo, hi),
            };
            // Point lookup: full primary key equality.
            if let (None, Access::Range { eq, .. }) = (index, &scan.access) {
                if !table.primary_key.is_empty() && eq.len() == table.primary_key.len() {
                    if let Bound::Included(k) = &lo {
                        if let Some(bytes) = cx.get(&tname, k)? {
                            let row = decode_table_row(table, &bytes)?;
                            accept(k.clone(), row, cx, &mut out)?;
                        }
                        return Ok(out);
                    }
                }
            }
            let store_table = match index {
                None => tname.clone(),
                Some(i) => table.index_store_name(&table.indexes[i]),
            };
            let dir = if reverse { Direction::Reverse } else { Direction::Forward };
            let (mut lo, mut hi) = (lo, hi);
            loop {
                let chunk = cx.range_chunk(&store_table, as_bound(&lo), as_bound(&hi), dir, SCAN_CHUNK)?;
                let n = chunk.len();
                let mut done = false;
                for (ek, ev) in chunk {
                    if reverse {
                        hi = Bound::Excluded(ek.clone());
                    } else {
                        lo = Bound::Excluded(ek.clone());
                    }
                    let (pk, row) = match index {
                        None => (ek, decode_table_row(table, &ev)?),
                        Some(i) => {
                            let pk = pk_from_index_key(table, table.indexes[i].columns.len(), &ek)?;
                            match cx.get(&tname, &pk)? {
                                Some(b) => (pk, decode_table_row(table, &b)?),
                                None => return Err(internal("index entry without row")),
                            }
                        }
                    };
                    if accept(pk, row, cx, &mut out)? {
                        done = true;
                        break;
                    }
                }
                if done || n < SCAN_CHUNK {
                    break;
                }
            }
            Ok(out)
        }
    }
}

// ----- row writes -----

/// The key of a row: its primary key, or a new hidden row id.
pub fn row_key(cx: &mut Cx<'_>, table: &TableDef, row: &[Value]) -> Result<Vec<u8>> {
    if table.has_rowid() {
        let tname = table.store_name();
        let last = cx.range_chunk(&tname, Bound::Unbounded, Bound::Unbounded, Direction::Reverse, 1)?;
        let next = match last.first() {
            None => 1,
            Some((k, _)) => match decode_key(k)?.first() {
                Some(Value::Int(i)) => i.checked_add(1).ok_or_else(|| types::overflow("row id"))?,
                _ => return Err(internal("hidden row id is not an integer")),
            },
        };
        Ok(encode_key(&[Value::Int(next)]))
    } else {
        let vals: Vec<Value> = table.primary_key.iter().map(|&i| row[i].clone()).collect();
        Ok(encode_key(&vals))
    }
}

fn index_key(table: &TableDef, ix: usize, row: &[Value], pk: &[u8]) -> Vec<u8> {
    let vals: Vec<Value> = table.indexes[ix].columns.iter().map(|&c| row[c].clone()).collect();
    let mut k = encode_key(&vals);
    k.extend_from_slice(pk);
    k
}

/// Checks NOT NULL and CHECK constraints of a complete row.
pub fn check_row(cx: &mut Cx<'_>, table: &TableDef, checks: &[(String, Expr)], row: &[Value]) -> Result<()> {
    for (i, c) in table.columns.iter().enumerate() {
        if row[i] == Value::Null && (c.not_null || table.primary_key.contains(&i)) {
            return Err(SqlError::NotNullViolation { table: table.name.clone(), column: c.name.clone() });
        }
    }
    for (name, e) in checks {
        // A CHECK fails only when false; NULL passes, as in SQL.
        if types::truth(&eval(e, row, cx)?)? == Some(false) {
            return Err(SqlError::CheckViolation { table: table.name.clone(), constraint: name.clone() });
        }
    }
    Ok(())
}

/// The unique index (or primary key: `None`) that `row` would violate.
pub fn find_conflict(
    cx: &mut Cx<'_>,
    table: &TableDef,
    row: &[Value],
    pk: &[u8],
    is_new_key: bool,
    old_pk: Option<&[u8]>,
) -> Result<Option<(Option<usize>, Vec<u8>)>> {
    if is_new_key && !table.has_rowid() && cx.get(&table.store_name(), pk)?.is_some() {
        return Ok(Some((None, pk.to_vec())));
    }
    for (i, ix) in table.indexes.iter().enumerate() {
        if !ix.unique {
            continue;
        }
        let vals: Vec<Value> = ix.columns.iter().map(|&c| row[c].clone()).collect();
        if vals.contains(&Value::Null) {
            continue;
        }
        let prefix = encode_key(&vals);
        let hi = with(prefix.clone(), &[0xFF]);
        let store_table = table.index_store_name(ix);
        let hits =
            cx.range_chunk(&store_table, Bound::Included(&prefix), Bound::Excluded(&hi), Direction::Forward, 2)?;
        for (k, _) in hits {
            let other = pk_from_index_key(table, ix.columns.len(), &k)?;
            if other != pk && Some(other.as_slice()) != old_pk {
                return Ok(Some((Some(i), other)));
            }
        }
    }
    Ok(None)
}

pub fn conflict_error(table: &TableDef, which: Option<usize>) -> SqlError {
    SqlError::UniqueViolation {
        table: table.name.clone(),
        constraint: match which {
            None => format!("{}_pkey", table.name),
            Some(i) => table.indexes[i].name.clone(),
        },
    }
}

pub fn write_row(cx: &mut Cx<'_>, table: &TableDef, pk: Vec<u8>, row: &[Value]) -> Result<()> {
    for i in 0..table.indexes.len() {
        let k = index_key(table, i, row, &pk);
        let name = table.index_store_name(&table.indexes[i]);
        cx.put(&name, k, Vec::new())?;
    }
    cx.put(&table.store_name(), pk, encode_row(row))
}

pub fn remove_row(cx: &mut Cx<'_>, table: &TableDef, pk: &[u8], row: &[Value]) -> Result<()> {
    for i in 0..table.indexes.len() {
        let k = index_key(table, i, row, pk);
        let name = table.index_store_name(&table.indexes[i]);
        cx.delete(&name, &k)?;
    }
    cx.delete(&table.store_name(), pk)
}

/// Replaces `old` (at `old_pk`) by `new`, keeping indexes in step.
pub fn replace_row(cx: &mut Cx<'_>, table: &TableDef, old_pk: &[u8], old: &[Value], new: &[Value]) -> Result<Vec<u8>> {
    let new_pk = if table.has_rowid() { old_pk.to_vec() } else { row_key(cx, table, new)? };
    let key_changed = new_pk != old_pk;
    if let Some((which, _)) = find_conflict(cx, table, new, &new_pk, key_changed, Some(old_pk))? {
        return Err(conflict_error(table, which));
    }
    for i in 0..table.indexes.len() {
        let ok = index_key(table, i, old, old_pk);
        let nk = index_key(table, i, new, &new_pk);
        if ok != nk {
            let name = table.index_store_name(&table.indexes[i]);
            cx.delete(&name, &ok)?;
            cx.put(&name, nk, Vec::new())?;
        }
    }
    let tname = table.store_name();
    if key_changed {
        cx.delete(&tname, old_pk)?;
    }
    cx.put(&tname, new_pk.clone(), encode_row(new))?;
    Ok(new_pk)
}
