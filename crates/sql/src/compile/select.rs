//! Binding queries: WITH, set operations, VALUES, SELECT with its lists,
//! grouping and aggregates, ORDER BY, LIMIT and OFFSET.

use sqlparser::ast::{self, Spanned};

use crate::error::{internal, Pos, Result, SqlError};
use crate::ir::{Expr, OutCol, Plan, SetOpKind, SortKey};
use crate::names::{ident_name, object_parts, pos_of};
use crate::types::SqlType;

use super::bind::{contains_aggregate, split_and, unsupported, AggState, Binder, Scope, ScopeCol};
use super::expr::{expr_name, static_type, static_type_in};
use super::from::Source;

impl<'a> Binder<'a> {
    pub fn bind_query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
        self.enter()?;
        let r = self.bind_query_inner(q);
        self.depth -= 1;
        r
    }

    pub(super) fn bind_query_inner(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
        if q.fetch.is_some() {
            return unsupported("FETCH");
        }
        let cte_mark = self.ctes.len();
        if let Some(with) = &q.with {
            if with.recursive {
                return unsupported("WITH RECURSIVE");
            }
            for cte in &with.cte_tables {
                let name = ident_name(&cte.alias.name);
                let cols = cte.alias.columns.iter().map(|c| ident_name(&c.name)).collect();
                self.ctes.push((name, (*cte.query).clone(), cols));
            }
        }
        let order_by = match &q.order_by {
            None => vec![],
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v.clone(),
                ast::OrderByKind::All(_) => return unsupported("ORDER BY ALL"),
            },
        };
        let result = (|| {
            let (mut plan, cols) = match q.body.as_ref() {
                ast::SetExpr::Select(s) => self.bind_select(s, &order_by)?,
                other => {
                    let (p, cols) = self.bind_set_expr(other)?;
                    let p = if order_by.is_empty() { p } else { self.sort_outputs(p, &cols, &order_by)? };
                    (p, cols)
                }
            };
            if let Some(lc) = &q.limit_clause {
                let (limit, offset) = match lc {
                    ast::LimitClause::LimitOffset { limit, offset, limit_by } => {
                        if !limit_by.is_empty() {
                            return unsupported("LIMIT BY");
                        }
                        (limit.as_ref(), offset.as_ref().map(|o| &o.value))
                    }
                    ast::LimitClause::OffsetCommaLimit { offset, limit } => (Some(limit), Some(offset)),
                };
                let limit = match limit {
                    Some(ast::Expr::Value(v)) if matches!(v.value, ast::Value::Null) => None,
                    Some(e) => Some(self.bind_standalone(e)?),
                    None => None,
                };
                let offset = match offset {
                    Some(e) => Some(self.bind_standalone(e)?),
                    None => None,
                };
                plan = Plan::Limit { input: Box::new(plan), limit, offset };
            }
            Ok((plan, cols))
        })();
        self.ctes.truncate(cte_mark);
        result
    }

    /// Binds an expression that may not read columns (LIMIT, VALUES items).
    pub(super) fn bind_standalone(&mut self, e: &ast::Expr) -> Result<Expr> {
        let saved = self.agg.take();
        let r = self.bind_expr(e, &Scope::default());
        self.agg = saved;
        r
    }

    pub(super) fn bind_set_expr(&mut self, body: &ast::SetExpr) -> Result<(Plan, Vec<OutCol>)> {
        match body {
            ast::SetExpr::Select(s) => self.bind_select(s, &[]),
            ast::SetExpr::Query(q) => self.bind_query(q),
            ast::SetExpr::Values(v) => {
                let mut rows = Vec::with_capacity(v.rows.len());
                let width = v.rows.first().map_or(0, |r| r.len());
                let mut tys: Vec<Option<SqlType>> = vec![None; width];
                for r in &v.rows {
                    if r.len() != width {
                        return Err(SqlError::Syntax {
                            message: "VALUES lists must all be the same length".into(),
                            pos: Pos::UNKNOWN,
                        });
                    }
                    let mut out = Vec::with_capacity(width);
                    for (i, e) in r.iter().enumerate() {
                        let b = self.bind_standalone(e)?;
                        if tys[i].is_none() {
                            tys[i] = static_type(&b);
                        }
                        out.push(b);
                    }
                    rows.push(out);
                }
                let cols = (0..width).map(|i| OutCol { name: format!("column{}", i + 1), ty: tys[i] }).collect();
                Ok((Plan::Values { rows }, cols))
            }
            ast::SetExpr::SetOperation { op, set_quantifier, left, right } => {
                let (lp, lcols) = self.bind_set_expr(left)?;
                let (rp, rcols) = self.bind_set_expr(right)?;
                if lcols.len() != rcols.len() {
                    return Err(SqlError::TypeMismatch {
                        context: format!("{op}"),
                        expected: format!("{} columns", lcols.len()),
                        found: format!("{} columns", rcols.len()),
                    });
                }
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                };
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    other => return unsupported(format!("set quantifier {other}")),
                };
                let cols =
                    lcols.into_iter().zip(rcols).map(|(l, r)| OutCol { name: l.name, ty: l.ty.or(r.ty) }).collect();
                Ok((Plan::SetOp { op: kind, all, left: Box::new(lp), right: Box::new(rp) }, cols))
            }
            other => unsupported(format!("query body {other}")),
        }
    }

    /// ORDER BY over a set operation's output: output names or ordinals.
    pub(super) fn sort_outputs(&mut self, input: Plan, cols: &[OutCol], order_by: &[ast::OrderByExpr]) -> Result<Plan> {
        let scope = Scope {
            cols: cols.iter().map(|c| ScopeCol { qualifier: None, name: c.name.clone(), ty: c.ty }).collect(),
            aggregated: false,
        };
        let mut keys = Vec::new();
        for ob in order_by {
            let expr = match ordinal(&ob.expr, cols.len())? {
                Some(i) => Expr::Col(i),
                None => self.bind_expr(&ob.expr, &scope)?,
            };
            keys.push(sort_key(expr, &ob.options));
        }
        Ok(Plan::Sort { input: Box::new(input), keys })
    }

    pub(super) fn bind_select(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Plan, Vec<OutCol>)> {
        if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() || s.qualify.is_some() {
            return unsupported("this SELECT clause (TOP, INTO, LATERAL VIEW or QUALIFY)");
        }
        if !s.named_window.is_empty() {
            return unsupported("window functions");
        }
        // FROM
        let items = self.bind_from(&s.from)?;
        let mut scope = Scope::default();
        for it in &items {
            scope.cols.extend(it.cols.iter().cloned());
        }
        // WHERE conjuncts
        let mut conjuncts = Vec::new();
        if let Some(w) = &s.selection {
            let mut parts = Vec::new();
            split_and(w, &mut parts);
            for p in parts {
                if contains_aggregate(p) {
                    return Err(SqlError::Syntax {
                        message: "aggregate functions are not allowed in WHERE".into(),
                        pos: pos_of(p.span()),
                    });
                }
                conjuncts.push(self.bind_expr(p, &scope)?);
            }
        }
        let group_exprs: Vec<ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(v, mods) => {
                if !mods.is_empty() {
                    return unsupported("GROUP BY modifiers");
                }
                v.clone()
            }
            ast::GroupByExpr::All(_) => return unsupported("GROUP BY ALL"),
        };
        let has_aggs = !group_exprs.is_empty()
            || s.having.is_some()
            || s.projection.iter().any(|p| match p {
                ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    contains_aggregate(e)
                }
                _ => false,
            })
            || order_by.iter().any(|o| contains_aggregate(&o.expr));
        let distinct = match &s.distinct {
            None => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => return unsupported("DISTINCT ON"),
        };

        // Ordered-scan opportunity: one base table, plain column ORDER BY.
        let mut wanted_order: Option<Vec<(usize, bool, bool)>> = None;
        if items.len() == 1
            && matches!(items[0].source, Source::Table(_))
            && !has_aggs
            && !distinct
            && !order_by.is_empty()
        {
            let mut cols = Vec::new();
            for ob in order_by {
                let target = match ordinal(&ob.expr, usize::MAX)? {
                    Some(i) => s.projection.get(i).and_then(|p| match p {
                        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                        _ => None,
                    }),
                    None => Some(&ob.expr),
                };
                let col = match target {
                    Some(e @ (ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_))) => {
                        match self.bind_expr(e, &scope) {
                            Ok(Expr::Col(c)) => Some(c),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                match col {
                    Some(c) => {
                        let desc = ob.options.asc == Some(false);
                        let nulls_first = ob.options.nulls_first.unwrap_or(desc);
                        cols.push((c, desc, nulls_first));
                    }
                    None => {
                        cols.clear();
                        break;
                    }
                }
            }
            if !cols.is_empty() {
                wanted_order = Some(cols);
            }
        }
        let (mut plan, order_done) = self.plan_joins(items, conjuncts, wanted_order.as_deref())?;

        // Aggregation
        let pre_scope = scope;
        let mut post_width = pre_scope.cols.len();
        if has_aggs {
            let mut state = AggState { group_asts: Vec::new(), group_cols: Vec::new(), aggs: Vec::new() };
            let mut group_by = Vec::new();
            for g in &group_exprs {
                // GROUP BY may name an output column by ordinal or alias.
                let target = match ordinal(g, s.projection.len())? {
                    Some(i) => match &s.projection[i] {
                        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
                        _ => return unsupported("GROUP BY a wildcard ordinal"),
                    },
                    None => match g {
                        ast::Expr::Identifier(id) if pre_scope_lookup(&pre_scope, &ident_name(id)).is_none() => s
                            .projection
                            .iter()
                            .find_map(|p| match p {
                                ast::SelectItem::ExprWithAlias { expr, alias }
                                    if ident_name(alias) == ident_name(id) =>
                                {
                                    Some(expr.clone())
                                }
                                _ => None,
                            })
                            .unwrap_or_else(|| g.clone()),
                        _ => g.clone(),
                    },
                };
                if contains_aggregate(&target) {
                    return Err(SqlError::Syntax {
                        message: "aggregate functions are not allowed in GROUP BY".into(),
                        pos: pos_of(g.span()),
                    });
                }
                let bound = self.bind_expr(&target, &pre_scope)?;
                state.group_cols.push(if let Expr::Col(c) = bound { Some(c) } else { None });
                state.group_asts.push(target);
                group_by.push(bound);
            }
            self.agg = Some(state);
            post_width = group_by.len();
            let r = self.bind_select_list(s, order_by, &pre_scope, distinct, plan, Some(group_by), post_width);
            self.agg = None;
            return r;
        }
        let _ = post_width;
        let r = self.bind_select_list_plain(s, order_by, &pre_scope, distinct, &mut plan, order_done);
        r.map(|cols| (plan, cols))
    }

    pub(super) fn bind_select_list_plain(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
        scope: &Scope,
        distinct: bool,
        plan: &mut Plan,
        order_done: bool,
    ) -> Result<Vec<OutCol>> {
        let (exprs, cols, asts) = self.bind_projection(&s.projection, scope)?;
        let (keys, hidden) = self.bind_order(order_by, scope, &exprs, &cols, &asts, distinct)?;
        let width = cols.len();
        let mut all = exprs;
        all.extend(hidden);
        let input = std::mem::replace(plan, Plan::Values { rows: vec![] });
        let mut p = Plan::Project { input: Box::new(input), exprs: all.clone() };
        if distinct {
            p = Plan::Distinct { input: Box::new(p) };
        }
        if !keys.is_empty() && !order_done {
            p = Plan::Sort { input: Box::new(p), keys };
        }
        if all.len() > width {
            p = Plan::Project { input: Box::new(p), exprs: (0..width).map(Expr::Col).collect() };
        }
        *plan = p;
        Ok(cols)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn bind_select_list(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
        pre_scope: &Scope,
        distinct: bool,
        input: Plan,
        group_by: Option<Vec<Expr>>,
        _ngroups: usize,
    ) -> Result<(Plan, Vec<OutCol>)> {
        let mut agg_scope = pre_scope.clone();
        agg_scope.aggregated = true;
        let (exprs, cols, asts) = self.bind_projection(&s.projection, &agg_scope)?;
        let having = match &s.having {
            Some(h) => Some(self.bind_expr(h, &agg_scope)?),
            None => None,
        };
        let (keys, hidden) = self.bind_order(order_by, &agg_scope, &exprs, &cols, &asts, distinct)?;
        let state = self.agg.take().ok_or_else(|| internal("aggregate state missing"))?;
        let mut p =
            Plan::Aggregate { input: Box::new(input), group_by: group_by.unwrap_or_default(), aggs: state.aggs };
        if let Some(h) = having {
            p = Plan::Filter { input: Box::new(p), pred: h };
        }
        let width = cols.len();
        let mut all = exprs;
        all.extend(hidden);
        p = Plan::Project { input: Box::new(p), exprs: all.clone() };
        if distinct {
            p = Plan::Distinct { input: Box::new(p) };
        }
        if !keys.is_empty() {
            p = Plan::Sort { input: Box::new(p), keys };
        }
        if all.len() > width {
            p = Plan::Project { input: Box::new(p), exprs: (0..width).map(Expr::Col).collect() };
        }
        Ok((p, cols))
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn bind_projection(
        &mut self,
        items: &[ast::SelectItem],
        scope: &Scope,
    ) -> Result<(Vec<Expr>, Vec<OutCol>, Vec<Option<ast::Expr>>)> {
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        let mut asts = Vec::new();
        for item in items {
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    let b = self.bind_expr(e, scope)?;
                    cols.push(OutCol { name: expr_name(e), ty: static_type_in(&b, scope) });
                    exprs.push(b);
                    asts.push(Some(e.clone()));
                }
                ast::SelectItem::ExprWithAlias { expr: e, alias } => {
                    let b = self.bind_expr(e, scope)?;
                    cols.push(OutCol { name: ident_name(alias), ty: static_type_in(&b, scope) });
                    exprs.push(b);
                    asts.push(Some(e.clone()));
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    let qual = match item {
                        ast::SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                            Some(object_parts(n)?.last().cloned().unwrap_or_default())
                        }
                        ast::SelectItem::QualifiedWildcard(..) => return unsupported("this wildcard form"),
                        _ => None,
                    };
                    let mut any = false;
                    for (i, c) in scope.cols.iter().enumerate() {
                        if qual.is_some() && c.qualifier != qual {
                            continue;
                        }
                        any = true;
                        let e = if self.agg.is_some() { self.agg_column(i, &c.name)? } else { Expr::Col(i) };
                        exprs.push(e);
                        cols.push(OutCol { name: c.name.clone(), ty: c.ty });
                        asts.push(None);
                    }
                    if !any {
                        return match qual {
                            Some(q) => Err(SqlError::UnknownObject { kind: "table", name: q, pos: Pos::UNKNOWN }),
                            None => Err(SqlError::Syntax {
                                message: "SELECT * with no tables specified is not valid".into(),
                                pos: Pos::UNKNOWN,
                            }),
                        };
                    }
                }
            }
        }
        Ok((exprs, cols, asts))
    }

    /// Binds ORDER BY: output ordinals, output names, select-list
    /// expressions, else new hidden columns appended to the projection.
    #[allow(clippy::type_complexity)]
    pub(super) fn bind_order(
        &mut self,
        order_by: &[ast::OrderByExpr],
        scope: &Scope,
        exprs: &[Expr],
        cols: &[OutCol],
        asts: &[Option<ast::Expr>],
        distinct: bool,
    ) -> Result<(Vec<SortKey>, Vec<Expr>)> {
        let mut keys = Vec::new();
        let mut hidden = Vec::new();
        for ob in order_by {
            let idx = if let Some(i) = ordinal(&ob.expr, cols.len())? {
                Some(i)
            } else if let ast::Expr::Identifier(id) = &ob.expr {
                let n = ident_name(id);
                let matches: Vec<usize> =
                    cols.iter().enumerate().filter(|(_, c)| c.name == n).map(|(i, _)| i).collect();
                if matches.len() == 1 {
                    Some(matches[0])
                } else {
                    asts.iter().position(|a| a.as_ref() == Some(&ob.expr))
                }
            } else {
                asts.iter().position(|a| a.as_ref() == Some(&ob.expr))
            };
            let expr = match idx {
                Some(i) => Expr::Col(i),
                None => {
                    if distinct {
                        return Err(SqlError::Syntax {
                            message: "for SELECT DISTINCT, ORDER BY expressions must appear in select list".into(),
                            pos: pos_of(ob.expr.span()),
                        });
                    }
                    let b = self.bind_expr(&ob.expr, scope)?;
                    hidden.push(b);
                    Expr::Col(exprs.len() + hidden.len() - 1)
                }
            };
            keys.push(sort_key(expr, &ob.options));
        }
        Ok((keys, hidden))
    }
}

fn pre_scope_lookup(scope: &Scope, name: &str) -> Option<usize> {
    scope.cols.iter().position(|c| c.name == name)
}

fn sort_key(expr: Expr, o: &ast::OrderByOptions) -> SortKey {
    let desc = o.asc == Some(false);
    SortKey { expr, desc, nulls_first: o.nulls_first.unwrap_or(desc) }
}

/// `ORDER BY 2` / `GROUP BY 1`: a positive integer literal names an output column.
fn ordinal(e: &ast::Expr, n: usize) -> Result<Option<usize>> {
    if let ast::Expr::Value(v) = e {
        if let ast::Value::Number(s, _) = &v.value {
            let i: usize = s.parse().map_err(|_| SqlError::Syntax {
                message: format!("position {s} is not an integer"),
                pos: pos_of(v.span),
            })?;
            if i == 0 || i > n {
                return Err(SqlError::Syntax {
                    message: format!("position {i} is not in select list"),
                    pos: pos_of(v.span),
                });
            }
            return Ok(Some(i - 1));
        }
    }
    Ok(None)
}
