//! Binding FROM: base tables, views (re-planned from their text on every
//! use), CTEs and derived tables, and planning the left-deep join tree.

use std::sync::Arc;

use sqlparser::ast::{self, Spanned};

use crate::catalog::{self, Relation, TableDef};
use crate::context::JoinOrder;
use crate::error::{internal, Pos, Result, SqlError};
use crate::ir::{and_opt, Expr, JoinKind, OutCol, Plan, Scan};
use crate::names::{ident_name, object_parts, pos_of};

use super::access_path::{access_walk, choose_access};
use super::bind::{split_and, unsupported, Binder, Scope, ScopeCol};
use super::join_order::MAX_RELATIONS;
use super::join_plan::hash_keys;
use super::parse::parse_query;

impl<'a> Binder<'a> {
    pub(super) fn bind_from(&mut self, from: &[ast::TableWithJoins]) -> Result<Vec<FromItem>> {
        let mut items = Vec::new();
        for twj in from {
            let (source, cols) = self.bind_factor(&twj.relation)?;
            items.push(FromItem { source, cols, kind: JoinKind::Inner, on: None });
            for j in &twj.joins {
                let (source, cols) = self.bind_factor(&j.relation)?;
                let (kind, constraint) = match &j.join_operator {
                    ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => (JoinKind::Inner, Some(c)),
                    ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => (JoinKind::Left, Some(c)),
                    ast::JoinOperator::CrossJoin(_) => (JoinKind::Inner, None),
                    other => {
                        return unsupported(
                            format!("join type {other:?}").split('(').next().unwrap_or("join").to_string(),
                        )
                    }
                };
                let on = match constraint {
                    None | Some(ast::JoinConstraint::None) => None,
                    Some(ast::JoinConstraint::On(e)) => Some(e.clone()),
                    Some(ast::JoinConstraint::Using(names)) => {
                        // USING (a, b) is ON left.a = right.a AND ...
                        let mut cond: Option<ast::Expr> = None;
                        for n in names {
                            let col = object_parts(n)?.pop().unwrap_or_default();
                            let left_q = items
                                .iter()
                                .rev()
                                .find_map(|it: &FromItem| {
                                    it.cols.iter().find(|c| c.name == col).map(|c| c.qualifier.clone())
                                })
                                .flatten();
                            let right_q = cols.iter().find(|c| c.name == col).and_then(|c| c.qualifier.clone());
                            let (Some(lq), Some(rq)) = (left_q, right_q) else {
                                return Err(SqlError::UnknownColumn { name: col, pos: Pos::UNKNOWN });
                            };
                            let eq = ast::Expr::BinaryOp {
                                left: Box::new(ast::Expr::CompoundIdentifier(vec![
                                    ast::Ident::with_quote('"', lq),
                                    ast::Ident::with_quote('"', col.clone()),
                                ])),
                                op: ast::BinaryOperator::Eq,
                                right: Box::new(ast::Expr::CompoundIdentifier(vec![
                                    ast::Ident::with_quote('"', rq),
                                    ast::Ident::with_quote('"', col.clone()),
                                ])),
                            };
                            cond = Some(match cond {
                                None => eq,
                                Some(c) => ast::Expr::BinaryOp {
                                    left: Box::new(c),
                                    op: ast::BinaryOperator::And,
                                    right: Box::new(eq),
                                },
                            });
                        }
                        cond
                    }
                    Some(ast::JoinConstraint::Natural) => return unsupported("NATURAL JOIN"),
                };
                items.push(FromItem { source, cols, kind, on });
            }
        }
        Ok(items)
    }

    pub(super) fn bind_factor(&mut self, tf: &ast::TableFactor) -> Result<(Source, Vec<ScopeCol>)> {
        match tf {
            ast::TableFactor::Table { name, alias, args, .. } => {
                if args.is_some() {
                    return unsupported("table functions");
                }
                let parts = object_parts(name)?;
                // CTEs shadow tables.
                if parts.len() == 1 {
                    if let Some(pos) = self.ctes.iter().rposition(|(n, _, _)| *n == parts[0]) {
                        let (cname, q, cols) = self.ctes[pos].clone();
                        // A CTE sees only the CTEs defined before it.
                        let saved = self.ctes.split_off(pos);
                        let r = self.bind_query(&q);
                        self.ctes.extend(saved);
                        let (plan, out) = r?;
                        let qual = alias.as_ref().map(|a| ident_name(&a.name)).unwrap_or(cname);
                        let cols = rename_cols(&out, &cols, alias, &qual)?;
                        return Ok((Source::Derived(plan), cols));
                    }
                }
                let (schema, obj) = self.qualify(name)?;
                let sname = catalog::store_name(&schema, &obj);
                let qual = alias.as_ref().map(|a| ident_name(&a.name)).unwrap_or(obj.clone());
                match catalog::lookup(self.store, &sname)? {
                    Some((Relation::Table(t), meta)) => {
                        self.add_dep(&sname, &meta);
                        let out: Vec<OutCol> =
                            t.columns.iter().map(|c| OutCol { name: c.name.clone(), ty: Some(c.ty) }).collect();
                        let cols = rename_cols(&out, &[], alias, &qual)?;
                        Ok((Source::Table(t), cols))
                    }
                    Some((Relation::View(v), meta)) => {
                        self.add_dep(&sname, &meta);
                        let q = parse_query(&v.query)?;
                        // A view resolves names in its own schema, without
                        // the caller's CTEs or variables.
                        let saved_schema = std::mem::replace(&mut self.default_schema, v.schema.clone());
                        let saved_ctes = std::mem::take(&mut self.ctes);
                        let saved_vars = self.vars.take();
                        let saved_outer = std::mem::take(&mut self.outer);
                        let r = self.bind_query(&q);
                        self.default_schema = saved_schema;
                        self.ctes = saved_ctes;
                        self.vars = saved_vars;
                        self.outer = saved_outer;
                        let (plan, out) = r?;
                        let cols = rename_cols(&out, &v.columns, alias, &qual)?;
                        Ok((Source::Derived(plan), cols))
                    }
                    Some((Relation::Index { .. }, _)) => Err(SqlError::TypeMismatch {
                        context: format!("FROM {sname}"),
                        expected: "a table or view".into(),
                        found: "an index".into(),
                    }),
                    None => Err(SqlError::UnknownObject { kind: "relation", name: sname, pos: pos_of(name.span()) }),
                }
            }
            ast::TableFactor::Derived { lateral, subquery, alias } => {
                if *lateral {
                    return unsupported("LATERAL");
                }
                let (plan, out) = self.bind_query(subquery)?;
                let qual = alias.as_ref().map(|a| ident_name(&a.name)).unwrap_or_default();
                let cols = rename_cols(&out, &[], alias, &qual)?;
                Ok((Source::Derived(plan), cols))
            }
            ast::TableFactor::NestedJoin { table_with_joins, alias } => {
                if alias.is_some() {
                    return unsupported("an aliased parenthesized join");
                }
                let items = self.bind_from(std::slice::from_ref(table_with_joins))?;
                let mut cols = Vec::new();
                for it in &items {
                    cols.extend(it.cols.iter().cloned());
                }
                let (plan, _) = self.plan_joins(items, vec![], None)?;
                Ok((Source::Derived(plan), cols))
            }
            other => unsupported(format!("FROM item {other}")),
        }
    }

    /// Builds the left-deep join tree, choosing an access path per table and
    /// placing each condition at the lowest level where it can be evaluated.
    /// Returns whether `wanted_order` is delivered by the scan order.
    pub(super) fn plan_joins(
        &mut self,
        items: Vec<FromItem>,
        conjuncts: Vec<Expr>,
        wanted_order: Option<&[(usize, bool, bool)]>,
    ) -> Result<(Plan, bool)> {
        if items.is_empty() {
            let mut plan = Plan::Values { rows: vec![vec![]] };
            for c in conjuncts {
                plan = Plan::Filter { input: Box::new(plan), pred: c };
            }
            return Ok((plan, false));
        }
        let mut pending: Vec<Pending> = conjuncts
            .into_iter()
            .map(|e| {
                let (max_col, deferred) = match e.max_col() {
                    Ok(m) => (m, false),
                    Err(()) => (None, true),
                };
                Pending { expr: e, max_col, deferred }
            })
            .collect();
        let mut full_scope = Scope::default();
        let mut plan: Option<Plan> = None;
        let mut offset = 0usize;
        let mut order_done = false;
        let n_items = items.len();
        let mut items = items;
        // The inner joins before the first LEFT JOIN are reordered; the
        // rest follow in FROM order on top of them.
        let inner = items.iter().take_while(|it| it.kind == JoinKind::Inner).count();
        if self.join_order == JoinOrder::Planned && (2..=MAX_RELATIONS).contains(&inner) {
            let rest = items.split_off(inner);
            let prefix = std::mem::replace(&mut items, rest);
            for it in &prefix {
                full_scope.cols.extend(it.cols.iter().cloned());
            }
            offset = full_scope.cols.len();
            plan = Some(self.plan_inner_join(prefix, &mut pending)?);
        }
        for item in items {
            let width = item.cols.len();
            let end = offset + width;
            full_scope.cols.extend(item.cols.iter().cloned());
            // ON conditions see the tables joined so far.
            let mut on_conj: Vec<Expr> = Vec::new();
            if let Some(on) = &item.on {
                let mut parts = Vec::new();
                split_and(on, &mut parts);
                for p in parts {
                    on_conj.push(self.bind_expr(p, &full_scope)?);
                }
            }
            let level_where: Vec<Expr> = {
                let mut v = Vec::new();
                let mut i = 0;
                while i < pending.len() {
                    let p = &pending[i];
                    if !p.deferred && p.max_col.is_none_or(|m| m < end) {
                        v.push(pending.remove(i).expr);
                    } else {
                        i += 1;
                    }
                }
                v
            };
            // Conditions usable for this table's access path and scan filter.
            let (mut scan_pushable, mut rest): (Vec<Expr>, Vec<Expr>) = (Vec::new(), Vec::new());
            let candidates: Vec<Expr> = if item.kind == JoinKind::Left {
                rest.extend(level_where.iter().cloned());
                on_conj.clone()
            } else {
                let mut c = on_conj.clone();
                c.extend(level_where.iter().cloned());
                c
            };
            for c in candidates {
                let own = c.max_col().ok().is_some_and(|_| {
                    let mut only_own = true;
                    c.walk(&mut |e| {
                        if let Expr::Col(i) = e {
                            if *i < offset || *i >= end {
                                only_own = false;
                            }
                        }
                    });
                    only_own
                });
                if own {
                    scan_pushable.push(c);
                } else {
                    rest.push(c);
                }
            }
            let (right, correlated) = match item.source {
                Source::Table(t) => {
                    let mut key_preds: Vec<Expr> = scan_pushable.clone();
                    if item.kind == JoinKind::Inner {
                        key_preds.extend(rest.iter().filter(|_| true).cloned());
                    } else {
                        key_preds.extend(on_conj.iter().cloned());
                    }
                    let order = if n_items == 1 { wanted_order } else { None };
                    let (access, done) = choose_access(&t, offset, &key_preds, order);
                    order_done = done;
                    let mut correlated = false;
                    access_walk(&access, &mut |e| {
                        e.walk(&mut |x| {
                            if matches!(x, Expr::Col(_)) {
                                correlated = true;
                            }
                        })
                    });
                    let mut filter: Option<Expr> = None;
                    for mut c in scan_pushable {
                        c.shift_cols(-(offset as isize));
                        filter = Some(and_opt(filter, c));
                    }
                    (Plan::Scan(Box::new(Scan { table: t, access, filter, est_rows: None })), correlated)
                }
                Source::Derived(p) => {
                    let mut p = p;
                    for mut c in scan_pushable {
                        c.shift_cols(-(offset as isize));
                        p = Plan::Filter { input: Box::new(p), pred: c };
                    }
                    (p, false)
                }
            };
            let left_kind_rest: Vec<Expr>;
            let cond_parts: Vec<Expr> = if item.kind == JoinKind::Left {
                // ON conditions not pushed into the scan stay in the join;
                // WHERE conditions of this level filter the join output.
                let on_rest: Vec<Expr> = on_conj
                    .into_iter()
                    .filter(|c| {
                        let mut only_own = c.max_col().is_ok();
                        c.walk(&mut |e| {
                            if let Expr::Col(i) = e {
                                if *i < offset || *i >= end {
                                    only_own = false;
                                }
                            }
                        });
                        !only_own
                    })
                    .collect();
                left_kind_rest = level_where;
                on_rest
            } else {
                left_kind_rest = vec![];
                rest
            };
            let hash = if correlated { None } else { hash_keys(&cond_parts, offset, end) };
            let cond = cond_parts.into_iter().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
            plan = Some(match plan {
                None => {
                    let mut p = right;
                    if let Some(c) = cond {
                        p = Plan::Filter { input: Box::new(p), pred: c };
                    }
                    p
                }
                Some(left) => {
                    let mut p = Plan::Join {
                        left: Box::new(left),
                        right: Box::new(right),
                        kind: item.kind,
                        cond,
                        right_width: width,
                        right_correlated: correlated,
                        hash,
                        est_rows: None,
                    };
                    for c in left_kind_rest {
                        p = Plan::Filter { input: Box::new(p), pred: c };
                    }
                    p
                }
            });
            offset = end;
        }
        let mut plan = plan.ok_or_else(|| internal("empty FROM"))?;
        for p in pending {
            plan = Plan::Filter { input: Box::new(plan), pred: p.expr };
        }
        Ok((plan, order_done))
    }
}

/// A WHERE conjunct waiting for the join level where it can be applied.
pub(super) struct Pending {
    pub expr: Expr,
    /// Highest column it reads.
    pub max_col: Option<usize>,
    /// Contains a subquery: applied above all joins.
    pub deferred: bool,
}

pub(super) enum Source {
    Table(Arc<TableDef>),
    Derived(Plan),
}

pub(super) struct FromItem {
    pub source: Source,
    pub cols: Vec<ScopeCol>,
    pub kind: JoinKind,
    pub on: Option<ast::Expr>,
}

fn rename_cols(out: &[OutCol], names: &[String], alias: &Option<ast::TableAlias>, qual: &str) -> Result<Vec<ScopeCol>> {
    let alias_cols: Vec<String> =
        alias.as_ref().map(|a| a.columns.iter().map(|c| ident_name(&c.name)).collect()).unwrap_or_default();
    let mut cols = Vec::with_capacity(out.len());
    for (i, c) in out.iter().enumerate() {
        let name = alias_cols.get(i).or(names.get(i)).cloned().unwrap_or_else(|| c.name.clone());
        cols.push(ScopeCol { qualifier: Some(qual.to_string()), name, ty: c.ty });
    }
    if alias_cols.len() > out.len() {
        return Err(SqlError::Syntax {
            message: format!(
                "table {qual:?} has {} columns available but {} columns specified",
                out.len(),
                alias_cols.len()
            ),
            pos: Pos::UNKNOWN,
        });
    }
    Ok(cols)
}
