//! Plan operators: values, scans, nested-loop joins, filters,
//! projections, aggregation, sorting, DISTINCT, LIMIT, set operations, and
//! subqueries of expressions.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use aergo_store::Value;
use rust_decimal::Decimal;

use crate::error::{internal, Result, SqlError};
use crate::ir::{AggCall, AggFunc, Expr, Plan, Row, SetOpKind, SortKey, SubPlan};
use crate::types::{self, SqlType};

use super::cx::Cx;
use super::eval::eval;
use super::join::{run_join, JoinSpec};
use super::scan::scan_rows;

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
    if cx.profile.is_none() {
        return run_op(plan, input, cx, budget);
    }
    let before = cx.gas.used();
    let rows = run_op(plan, input, cx, budget)?;
    let gas = cx.gas.used().saturating_sub(before);
    if let Some(p) = cx.profile.as_mut() {
        let s = p.entry(op_id(plan)).or_default();
        s.loops += 1;
        s.rows += rows.len() as u64;
        s.gas += gas;
    }
    Ok(rows)
}

/// The key of an operator in [`Cx::profile`].
pub(crate) fn op_id(plan: &Plan) -> usize {
    plan as *const Plan as usize
}

fn run_op(plan: &Plan, input: &[Value], cx: &mut Cx<'_>, budget: Option<usize>) -> Result<Vec<Row>> {
    match plan {
        Plan::Values { rows } => {
            let mut out = Vec::with_capacity(rows.len());
            let mut bytes = 0usize;
            for r in rows {
                let mut vals = Vec::with_capacity(r.len());
                for e in r {
                    vals.push(eval(e, input, cx)?);
                }
                bytes += types::row_bytes(&vals);
                cx.check_bytes(bytes)?;
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
            let mut bytes = 0usize;
            for r in rows {
                let mut vals = Vec::with_capacity(exprs.len());
                for e in exprs {
                    vals.push(eval(e, &r, cx)?);
                }
                bytes += types::row_bytes(&vals);
                cx.check_bytes(bytes)?;
                out.push(vals);
            }
            Ok(out)
        }
        Plan::Join { left, right, kind, cond, right_width, right_correlated, hash, .. } => {
            let spec = JoinSpec {
                left,
                right,
                kind: *kind,
                cond: cond.as_ref(),
                right_width: *right_width,
                right_correlated: *right_correlated,
                hash: hash.as_ref(),
            };
            run_join(&spec, input, cx, budget)
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
                    cx.charge_created(sep.len() + s.len())?;
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
