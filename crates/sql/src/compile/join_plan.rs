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

use crate::error::Result;
use crate::ir::{and_opt, Expr, HashKeys, JoinKind, Plan, Scan};

use super::access_path::{access_walk, choose_access};
use super::bind::{split_and, Binder, Scope};
use super::from::{FromItem, Pending, Source};
use super::join_order::{bit, choose_order, step_rows, PredInfo, RelInfo, DEFAULT_ROWS};

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
                    (Plan::Scan(Box::new(Scan { table: t, access, filter })), correlated)
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
