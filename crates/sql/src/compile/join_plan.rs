//! Planning a run of inner-joined FROM items in the order
//! [`join_order`](super::join_order) chooses.
//!
//! The binder numbers columns in FROM order; the reordered join lays the
//! items out in join order. Every condition is rewritten to the join
//! layout and applied at the first step where all the items it reads are
//! joined: conditions on one item go into its scan (and its access path),
//! the rest become the join condition of that step, whose equalities give
//! the step's key lookups (index nested loop) or, when no key serves them,
//! its hash-join keys. A projection at the top puts the columns back in
//! FROM order, so nothing above the join knows it was reordered.
//! Conditions containing subqueries are left to the caller, which applies
//! them above the join: their subqueries read columns by FROM position.
//!
//! **Implied restrictions.** A condition `(A1 AND ...) OR (B1 AND ...) OR
//! ...` that reads several items restricts an item `r` when every arm has
//! conjuncts reading `r` alone: the disjunction of those conjuncts is
//! implied (a row the OR keeps satisfies one arm whole), so it is added as
//! a condition on `r`'s scan, and the OR stays where it was (TPC-H Q7's
//! `(n1 = 'FRANCE' AND n2 = 'GERMANY') OR (n1 = 'GERMANY' AND n2 =
//! 'FRANCE')` then reads two nations on each side instead of all pairs).
//! An implied condition never changes which rows a query returns; it could
//! make the query fail where it did not, evaluating a conjunct on a row the
//! OR never saw, so only conjuncts that cannot fail are used: a column
//! compared with a constant of its own kind (or NULL), and IS [NOT] NULL.

use aergo_store::Value;

use crate::error::Result;
use crate::ir::{and_opt, Expr, HashKeys, JoinKind, Plan, Scan};
use crate::types::SqlType;

use super::access_path::{access_walk, choose_access};
use super::bind::{split_and, Binder, Scope};
use super::from::{FromItem, Pending, Source};
use super::join_order::{bit, choose_order, scan_estimates, step_rows, PredInfo, RelInfo, DEFAULT_ROWS};

impl<'a> Binder<'a> {
    /// Plans `items` (all inner joins, at least two) with every condition of
    /// `pending` that reads only them; returns the plan in FROM layout.
    pub(super) fn plan_inner_join(&mut self, items: Vec<FromItem>, pending: &mut Vec<Pending>) -> Result<Plan> {
        let n = items.len();
        let mut from_off = Vec::with_capacity(n);
        let mut total = 0usize;
        for it in &items {
            from_off.push(total);
            total += it.cols.len();
        }
        let item_of = |c: usize| from_off.partition_point(|&o| o <= c).saturating_sub(1);

        // ON conditions see the items before them, as in FROM order.
        let mut conj: Vec<Expr> = Vec::new();
        let mut scope = Scope::default();
        for it in &items {
            scope.cols.extend(it.cols.iter().cloned());
            if let Some(on) = &it.on {
                let mut parts = Vec::new();
                split_and(on, &mut parts);
                for p in parts {
                    let e = self.bind_expr(p, &scope)?;
                    match e.max_col() {
                        Ok(_) => conj.push(e),
                        // Above the join: an inner join's ON is a filter.
                        Err(()) => pending.push(Pending { expr: e, max_col: None, deferred: true }),
                    }
                }
            }
        }
        let mut i = 0;
        while i < pending.len() {
            let p = &pending[i];
            if !p.deferred && p.max_col.is_none_or(|m| m < total) {
                conj.push(pending.remove(i).expr);
            } else {
                i += 1;
            }
        }

        let col_type = |c: usize| {
            let it = item_of(c);
            items[it].cols.get(c - from_off[it]).and_then(|sc| sc.ty)
        };
        let implied = implied_restrictions(&conj, n, &item_of, &|e| cannot_fail(e, &col_type));
        conj.extend(implied);

        let mut rels: Vec<RelInfo> = Vec::with_capacity(items.len());
        for it in &items {
            let rows = match &it.source {
                Source::Table(t) => Some(self.table_rows(t)?),
                Source::Derived(_) => None,
            };
            rels.push(rel_info(it, rows));
        }
        let preds: Vec<PredInfo> = conj.iter().map(|e| pred_info(e, &item_of, &from_off)).collect();
        let order = choose_order(&rels, &preds);
        let estimates = step_rows(&rels, &preds, &order);
        let scan_est = scan_estimates(&rels, &preds, &order);

        // Join layout: offsets of the items in join order.
        let mut new_off = vec![0usize; n];
        let mut w = 0usize;
        for &it in &order {
            new_off[it] = w;
            w += items[it].cols.len();
        }
        let to_join = |c: usize| {
            let it = item_of(c);
            new_off[it] + (c - from_off[it])
        };

        let mut applied = vec![false; conj.len()];
        let mut placed = 0u128;
        let mut plan: Option<Plan> = None;
        let mut slots: Vec<Option<FromItem>> = items.into_iter().map(Some).collect();
        for (step, &it) in order.iter().enumerate() {
            let item = slots[it].take().ok_or_else(|| crate::error::internal("join item planned twice"))?;
            let (offset, width) = (new_off[it], item.cols.len());
            let end = offset + width;
            placed |= bit(it);
            let mut scan_pushable = Vec::new();
            let mut rest = Vec::new();
            for (k, c) in conj.iter().enumerate() {
                if applied[k] || preds[k].rels & !placed != 0 {
                    continue;
                }
                applied[k] = true;
                let mut c = c.clone();
                c.walk_mut(&mut |e| {
                    if let Expr::Col(x) = e {
                        *x = to_join(*x);
                    }
                });
                if preds[k].rels & !bit(it) == 0 {
                    scan_pushable.push(c);
                } else {
                    rest.push(c);
                }
            }
            let (right, correlated) = match item.source {
                Source::Table(t) => {
                    let mut key_preds = scan_pushable.clone();
                    key_preds.extend(rest.iter().cloned());
                    let (access, _) = choose_access(&t, offset, &key_preds, None);
                    let mut correlated = false;
                    access_walk(&access, &mut |e| {
                        e.walk(&mut |x| correlated |= matches!(x, Expr::Col(_)));
                    });
                    let mut filter: Option<Expr> = None;
                    for mut c in scan_pushable {
                        c.shift_cols(-(offset as isize));
                        filter = Some(and_opt(filter, c));
                    }
                    let est_rows = scan_est.get(step).map(|&(probe, alone)| if correlated { probe } else { alone });
                    (Plan::Scan(Box::new(Scan { table: t, access, filter, est_rows })), correlated)
                }
                Source::Derived(mut p) => {
                    for mut c in scan_pushable {
                        c.shift_cols(-(offset as isize));
                        p = Plan::Filter { input: Box::new(p), pred: c };
                    }
                    (p, false)
                }
            };
            let hash = if correlated { None } else { hash_keys(&rest, offset, end) };
            let cond = rest.into_iter().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
            plan = Some(match plan {
                None => match cond {
                    Some(c) => Plan::Filter { input: Box::new(right), pred: c },
                    None => right,
                },
                Some(left) => Plan::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    kind: JoinKind::Inner,
                    cond,
                    right_width: width,
                    right_correlated: correlated,
                    hash,
                    est_rows: estimates.get(step).copied(),
                },
            });
        }
        let plan = plan.ok_or_else(|| crate::error::internal("empty join"))?;
        if order.iter().enumerate().all(|(p, &it)| p == it) {
            return Ok(plan);
        }
        Ok(Plan::Project { input: Box::new(plan), exprs: (0..total).map(|c| Expr::Col(to_join(c))).collect() })
    }
}

/// What the join-order search knows of `item`; `rows` is a base table's
/// assumed row count.
fn rel_info(item: &FromItem, rows: Option<u64>) -> RelInfo {
    match &item.source {
        Source::Table(t) => {
            let mut unique = Vec::new();
            let mut key_leads = Vec::new();
            if !t.primary_key.is_empty() {
                unique.push(t.primary_key.clone());
                key_leads.push(t.primary_key[0]);
            }
            for ix in &t.indexes {
                if ix.unique {
                    unique.push(ix.columns.clone());
                }
                if let Some(&c) = ix.columns.first() {
                    key_leads.push(c);
                }
            }
            RelInfo { rows: rows.unwrap_or(DEFAULT_ROWS), unique, key_leads }
        }
        Source::Derived(Plan::Values { rows }) => RelInfo { rows: rows.len() as u64, ..RelInfo::default() },
        Source::Derived(_) => RelInfo { rows: DEFAULT_ROWS, ..RelInfo::default() },
    }
}

/// Most arms an OR may have for its implied restrictions to be drawn
/// (the work is arms x items x conjuncts).
const MAX_OR_ARMS: usize = 16;

/// The implied restrictions of the OR conditions in `conj` (see the module
/// doc), over items `0..n`.
fn implied_restrictions(
    conj: &[Expr],
    n: usize,
    item_of: &dyn Fn(usize) -> usize,
    cannot_fail: &dyn Fn(&Expr) -> bool,
) -> Vec<Expr> {
    let mut out = Vec::new();
    for c in conj {
        if !matches!(c, Expr::Or(..)) || c.max_col().is_err() {
            continue;
        }
        let mut arms = Vec::new();
        split_or(c, &mut arms);
        if arms.len() > MAX_OR_ARMS {
            continue;
        }
        let arm_parts: Vec<Vec<&Expr>> = arms
            .iter()
            .map(|a| {
                let mut v = Vec::new();
                split_conjuncts(a, &mut v);
                v
            })
            .collect();
        let whole = rels_of(c, item_of);
        for r in 0..n.min(128) {
            if whole == bit(r) || whole & bit(r) == 0 {
                continue;
            }
            let mut implied: Option<Expr> = None;
            for parts in &arm_parts {
                let mine = parts
                    .iter()
                    .filter(|p| rels_of(p, item_of) == bit(r) && cannot_fail(p))
                    .map(|p| (*p).clone())
                    .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
                let Some(mine) = mine else {
                    implied = None;
                    break;
                };
                implied = Some(match implied {
                    None => mine,
                    Some(o) => Expr::Or(Box::new(o), Box::new(mine)),
                });
            }
            out.extend(implied);
        }
    }
    out
}

/// The arms of an OR, flattened.
fn split_or<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Or(a, b) => {
            split_or(a, out);
            split_or(b, out);
        }
        _ => out.push(e),
    }
}

/// The conjuncts of an AND, flattened.
fn split_conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::And(a, b) => {
            split_conjuncts(a, out);
            split_conjuncts(b, out);
        }
        _ => out.push(e),
    }
}

/// Whether evaluating `e` on a row of the one table it reads cannot fail:
/// a column compared with a constant of the same kind (or NULL), or IS
/// [NOT] NULL of a column.
fn cannot_fail(e: &Expr, col_type: &dyn Fn(usize) -> Option<SqlType>) -> bool {
    let same_kind = |c: usize, v: &Value| {
        let Some(ty) = col_type(c) else { return false };
        match v {
            Value::Null => true,
            Value::Int(_) | Value::Numeric(_) => ty.is_numeric(),
            Value::Text(_) => ty.is_text(),
            Value::Bool(_) => ty == SqlType::Bool,
            Value::Bytes(_) => ty == SqlType::Bytea,
            Value::Timestamp(_) => ty == SqlType::Timestamp,
        }
    };
    match e {
        Expr::Cmp(_, a, b) => match (&**a, &**b) {
            (Expr::Col(c), Expr::Const(v)) | (Expr::Const(v), Expr::Col(c)) => same_kind(*c, v),
            _ => false,
        },
        Expr::IsNull(a, _) => matches!(**a, Expr::Col(_)),
        _ => false,
    }
}

/// Items a FROM-layout expression reads.
fn rels_of(e: &Expr, item_of: &dyn Fn(usize) -> usize) -> u128 {
    let mut m = 0u128;
    e.walk(&mut |x| {
        if let Expr::Col(c) = x {
            m |= bit(item_of(*c));
        }
    });
    m
}

fn pred_info(e: &Expr, item_of: &dyn Fn(usize) -> usize, from_off: &[usize]) -> PredInfo {
    let rels = rels_of(e, item_of);
    let mut eqs = Vec::new();
    let mut range = false;
    match e {
        Expr::Cmp(op, a, b) => {
            if *op == crate::ir::CmpOp::Eq {
                for (x, y) in [(a, b), (b, a)] {
                    if let Expr::Col(c) = **x {
                        let it = item_of(c);
                        let other = rels_of(y, item_of);
                        if other & bit(it) == 0 {
                            eqs.push((it, c - from_off[it], other));
                        }
                    }
                }
            } else {
                range = *op != crate::ir::CmpOp::NotEq;
            }
        }
        Expr::Between { negated: false, .. } | Expr::Like { negated: false, .. } => range = true,
        _ => {}
    }
    PredInfo { rels, eqs, range }
}

/// Whether a join key may be evaluated once per row instead of per pair:
/// no subquery, no user or host function (those may have effects).
fn pure(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |x| {
        if matches!(
            x,
            Expr::InSubquery { .. }
                | Expr::Exists { .. }
                | Expr::Scalar(_)
                | Expr::Quantified { .. }
                | Expr::UserFunc { .. }
                | Expr::Host { .. }
        ) {
            ok = false;
        }
    });
    ok
}

/// Hash-join keys from the equalities among `conds` (bound against the
/// joined row) between the left side (columns below `offset`) and the
/// right side's own columns (`offset..end`).
pub(super) fn hash_keys(conds: &[Expr], offset: usize, end: usize) -> Option<HashKeys> {
    let side = |e: &Expr| -> Option<bool> {
        let (mut left, mut right) = (false, false);
        e.walk(&mut |x| {
            if let Expr::Col(c) = x {
                if *c < offset {
                    left = true;
                } else if *c < end {
                    right = true;
                } else {
                    left = true;
                    right = true;
                }
            }
        });
        match (left, right) {
            (true, false) => Some(false),
            (false, true) => Some(true),
            _ => None,
        }
    };
    let mut keys = HashKeys { left: Vec::new(), right: Vec::new() };
    for c in conds {
        let Expr::Cmp(crate::ir::CmpOp::Eq, a, b) = c else { continue };
        if !pure(a) || !pure(b) {
            continue;
        }
        let (l, r) = match (side(a), side(b)) {
            (Some(false), Some(true)) => (a, b),
            (Some(true), Some(false)) => (b, a),
            _ => continue,
        };
        let mut r = (**r).clone();
        r.shift_cols(-(offset as isize));
        keys.left.push((**l).clone());
        keys.right.push(r);
    }
    (!keys.left.is_empty()).then_some(keys)
}
