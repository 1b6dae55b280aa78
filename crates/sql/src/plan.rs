//! Binding and planning: from sqlparser's AST to executable plans.
//!
//! The binder resolves names against the catalogue (tables, views,
//! indexes), CTEs, enclosing queries (correlated subqueries) and PL/pgSQL
//! variables, and compiles expressions to [`Expr`]. The planner builds a
//! left-deep nested-loop join tree in FROM order. For each base table it
//! picks an access path from the conditions that apply to it: a primary-key
//! point lookup, an equality prefix plus range on the primary key or an
//! index, an IN-list of point lookups, or a full scan; key values may come
//! from constants, parameters, variables or columns of tables joined
//! earlier (index nested-loop join). Single-table conditions are pushed into
//! the scan; an ORDER BY that the chosen key order already satisfies skips
//! the sort, and LIMIT then stops the scan early.

use std::sync::Arc;

use aergo_store::{TableStore, Value};
use sqlparser::ast::{self, Spanned};

use crate::catalog::{self, Relation, TableDef};
use crate::error::{Pos, Result, SqlError};
use crate::expr::{self, and_opt, CmpOp, Expr, Func, SubPlan};
use crate::types::{self, ArithOp, SqlType};

pub type Row = Vec<Value>;

/// Most nested subqueries, views and CTE references in one statement.
pub const MAX_BIND_DEPTH: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Except,
    Intersect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
}

#[derive(Clone, Debug)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    /// Separator of `string_agg`.
    pub extra: Option<Expr>,
    pub distinct: bool,
}

#[derive(Clone, Debug)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// How a base table is read.
#[derive(Clone, Debug)]
pub enum Access {
    /// Every row in key order (or reverse).
    Full { reverse: bool },
    /// Equality on a key prefix, then an optional range on the next key
    /// column. `index` None = primary key.
    Range {
        index: Option<usize>,
        eq: Vec<Expr>,
        lower: Option<(Expr, bool)>,
        upper: Option<(Expr, bool)>,
        reverse: bool,
        key_types: Vec<SqlType>,
    },
    /// Point lookups on the first key column for each listed value.
    InList { index: Option<usize>, values: Vec<Expr>, key_type: SqlType },
}

#[derive(Clone, Debug)]
pub struct Scan {
    pub table: Arc<TableDef>,
    pub access: Access,
    /// Evaluated on the table's own row.
    pub filter: Option<Expr>,
}

#[derive(Clone, Debug)]
pub enum Plan {
    Values {
        rows: Vec<Vec<Expr>>,
    },
    Scan(Box<Scan>),
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        /// Evaluated on the concatenated row.
        cond: Option<Expr>,
        right_width: usize,
        /// The right side reads the left row (key lookups): run it per left row.
        right_correlated: bool,
    },
    Filter {
        input: Box<Plan>,
        pred: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Distinct {
        input: Box<Plan>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    SetOp {
        op: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
}

/// A result column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutCol {
    pub name: String,
    pub ty: Option<SqlType>,
}

#[derive(Clone, Debug)]
pub struct ScopeCol {
    pub qualifier: Option<String>,
    pub name: String,
    pub ty: Option<SqlType>,
}

#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub cols: Vec<ScopeCol>,
    /// Set while the query of this scope aggregates: its raw columns may not
    /// be read from a subquery.
    pub aggregated: bool,
}

/// PL/pgSQL variables visible to embedded SQL: name -> (slot, type).
#[derive(Clone, Debug, Default)]
pub struct VarScope {
    pub vars: Vec<(String, usize, Option<SqlType>)>,
}

impl VarScope {
    pub fn lookup(&self, name: &str) -> Option<(usize, Option<SqlType>)> {
        self.vars.iter().rev().find(|(n, _, _)| n == name).map(|(_, s, t)| (*s, *t))
    }
}

struct AggState {
    group_asts: Vec<ast::Expr>,
    group_cols: Vec<Option<usize>>,
    aggs: Vec<AggCall>,
}

/// Folds an identifier as PostgreSQL does: unquoted names are lower-cased.
pub fn ident_name(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

pub fn pos_of(span: sqlparser::tokenizer::Span) -> Pos {
    Pos::new(span.start.line, span.start.column)
}

pub fn object_parts(name: &ast::ObjectName) -> Result<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(id) => Ok(ident_name(id)),
            None => Err(SqlError::Unsupported { feature: format!("object name {name}") }),
        })
        .collect()
}

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(SqlError::Unsupported { feature: what.into() })
}

pub fn is_aggregate_name(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "bool_and"
            | "bool_or"
            | "every"
            | "string_agg"
            | "total"
            | "group_concat"
    )
}

pub struct Binder<'a> {
    pub store: &'a dyn TableStore,
    pub default_schema: String,
    pub vars: Option<&'a VarScope>,
    outer: Vec<Scope>,
    ref_log: Vec<usize>,
    ctes: Vec<(String, ast::Query, Vec<String>)>,
    agg: Option<AggState>,
    /// Catalogue entries the plan depends on: (store name, schema blob).
    pub deps: Vec<(String, Vec<u8>)>,
    next_sub: usize,
    depth: usize,
}

impl<'a> Binder<'a> {
    pub fn new(store: &'a dyn TableStore, default_schema: &str, vars: Option<&'a VarScope>) -> Self {
        Binder {
            store,
            default_schema: default_schema.to_string(),
            vars,
            outer: Vec::new(),
            ref_log: Vec::new(),
            ctes: Vec::new(),
            agg: None,
            deps: Vec::new(),
            next_sub: 0,
            depth: 0,
        }
    }

    pub fn qualify(&self, name: &ast::ObjectName) -> Result<(String, String)> {
        let parts = object_parts(name)?;
        let (schema, obj) = match parts.as_slice() {
            [n] => (self.default_schema.clone(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return unsupported(format!("name {name} with more than two parts")),
        };
        catalog::check_ident(&schema)?;
        catalog::check_ident(&obj)?;
        Ok((schema, obj))
    }

    fn add_dep(&mut self, name: &str, meta: &aergo_store::TableMeta) {
        if !self.deps.iter().any(|(n, _)| n == name) {
            self.deps.push((name.to_string(), meta.schema.clone()));
        }
    }

    /// Resolves a table for writing or reading.
    pub fn table(&mut self, name: &ast::ObjectName) -> Result<Arc<TableDef>> {
        let (schema, obj) = self.qualify(name)?;
        let sname = catalog::store_name(&schema, &obj);
        match catalog::lookup(self.store, &sname)? {
            Some((Relation::Table(t), meta)) => {
                self.add_dep(&sname, &meta);
                Ok(t)
            }
            Some(_) => Err(SqlError::TypeMismatch {
                context: format!("relation {sname:?}"),
                expected: "a table".into(),
                found: "a view or index".into(),
            }),
            None => Err(SqlError::UnknownObject { kind: "table", name: sname, pos: pos_of(name.span()) }),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_BIND_DEPTH {
            return Err(SqlError::LimitExceeded { what: "query nesting depth", limit: MAX_BIND_DEPTH as u64 });
        }
        Ok(())
    }

    // ----- queries -----

    pub fn bind_query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
        self.enter()?;
        let r = self.bind_query_inner(q);
        self.depth -= 1;
        r
    }

    fn bind_query_inner(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
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
    fn bind_standalone(&mut self, e: &ast::Expr) -> Result<Expr> {
        let saved = self.agg.take();
        let r = self.bind_expr(e, &Scope::default());
        self.agg = saved;
        r
    }

    fn bind_set_expr(&mut self, body: &ast::SetExpr) -> Result<(Plan, Vec<OutCol>)> {
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
    fn sort_outputs(&mut self, input: Plan, cols: &[OutCol], order_by: &[ast::OrderByExpr]) -> Result<Plan> {
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

    fn bind_select(&mut self, s: &ast::Select, order_by: &[ast::OrderByExpr]) -> Result<(Plan, Vec<OutCol>)> {
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

    fn bind_select_list_plain(
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
    fn bind_select_list(
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
        let state = self.agg.take().ok_or_else(|| expr::internal("aggregate state missing"))?;
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
    fn bind_projection(
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
    fn bind_order(
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

    // ----- FROM and joins -----

    fn bind_from(&mut self, from: &[ast::TableWithJoins]) -> Result<Vec<FromItem>> {
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

    fn bind_factor(&mut self, tf: &ast::TableFactor) -> Result<(Source, Vec<ScopeCol>)> {
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
    fn plan_joins(
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
        let mut pending: Vec<(Expr, Option<usize>, bool)> = conjuncts
            .into_iter()
            .map(|e| {
                let (m, deferred) = match e.max_col() {
                    Ok(m) => (m, false),
                    Err(()) => (None, true),
                };
                (e, m, deferred)
            })
            .collect();
        let mut full_scope = Scope::default();
        let mut plan: Option<Plan> = None;
        let mut offset = 0usize;
        let mut order_done = false;
        let n_items = items.len();
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
                    let (_, m, deferred) = &pending[i];
                    if !*deferred && m.is_none_or(|m| m < end) {
                        v.push(pending.remove(i).0);
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
                    (Plan::Scan(Box::new(Scan { table: t, access, filter })), correlated)
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
            let cond = if item.kind == JoinKind::Left {
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
                on_rest.into_iter().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
            } else {
                left_kind_rest = vec![];
                rest.into_iter().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
            };
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
                    };
                    for c in left_kind_rest {
                        p = Plan::Filter { input: Box::new(p), pred: c };
                    }
                    p
                }
            });
            offset = end;
        }
        let mut plan = plan.ok_or_else(|| expr::internal("empty FROM"))?;
        for (c, _, _) in pending {
            plan = Plan::Filter { input: Box::new(plan), pred: c };
        }
        Ok((plan, order_done))
    }

    // ----- expressions -----

    fn resolve_column(&mut self, parts: &[String], scope: &Scope, pos: Pos) -> Result<Expr> {
        let (qual, name) = match parts {
            [n] => (None, n.as_str()),
            [q, n] => (Some(q.as_str()), n.as_str()),
            [_, q, n] => (Some(q.as_str()), n.as_str()),
            _ => return Err(SqlError::UnknownColumn { name: parts.join("."), pos }),
        };
        let find = |sc: &Scope| -> Result<Option<usize>> {
            let mut hit = None;
            for (i, c) in sc.cols.iter().enumerate() {
                if c.name == name && (qual.is_none() || c.qualifier.as_deref() == qual) {
                    if hit.is_some() {
                        return Err(SqlError::AmbiguousColumn { name: parts.join("."), pos });
                    }
                    hit = Some(i);
                }
            }
            Ok(hit)
        };
        if let Some(i) = find(scope)? {
            self.check_var_conflict(parts, pos)?;
            if self.agg.is_some() && scope.aggregated {
                return self.agg_column(i, name);
            }
            return Ok(Expr::Col(i));
        }
        for depth in 1..=self.outer.len() {
            let idx = self.outer.len() - depth;
            if let Some(i) = find(&self.outer[idx])? {
                if self.outer[idx].aggregated {
                    return unsupported("a subquery reading a column of an aggregated outer query");
                }
                self.ref_log.push(idx);
                return Ok(Expr::Outer(depth, i));
            }
        }
        // PL/pgSQL variables: `name` or `record.field`.
        if let Some(vars) = self.vars {
            if let Some((slot, _)) = vars.lookup(&parts.join(".")) {
                return Ok(Expr::Var(slot));
            }
        }
        Err(SqlError::UnknownColumn { name: parts.join("."), pos })
    }

    /// PostgreSQL raises an error when a name is both a column and a
    /// PL/pgSQL variable (plpgsql.variable_conflict = error).
    fn check_var_conflict(&self, parts: &[String], pos: Pos) -> Result<()> {
        if parts.len() == 1 {
            if let Some(vars) = self.vars {
                if vars.lookup(&parts[0]).is_some() {
                    return Err(SqlError::AmbiguousColumn {
                        name: format!("{} (both a column and a PL/pgSQL variable)", parts[0]),
                        pos,
                    });
                }
            }
        }
        Ok(())
    }

    /// In an aggregating query, a raw column may only be read if grouped.
    fn agg_column(&mut self, i: usize, name: &str) -> Result<Expr> {
        let state = self.agg.as_ref().ok_or_else(|| expr::internal("no aggregate state"))?;
        match state.group_cols.iter().position(|g| *g == Some(i)) {
            Some(g) => Ok(Expr::Col(g)),
            None => Err(SqlError::Syntax {
                message: format!(
                    "column {name:?} must appear in the GROUP BY clause or be used in an aggregate function"
                ),
                pos: Pos::UNKNOWN,
            }),
        }
    }

    fn bind_subquery(&mut self, q: &ast::Query, scope: &Scope, single_column: bool) -> Result<SubPlan> {
        self.outer.push(scope.clone());
        let mark = self.ref_log.len();
        let level = self.outer.len() - 1;
        let saved_agg = self.agg.take();
        let r = self.bind_query(q);
        self.agg = saved_agg;
        self.outer.pop();
        let correlated = self.ref_log[mark..].iter().any(|&j| j <= level);
        // References to scopes further out stay recorded for our own parent.
        let keep: Vec<usize> = self.ref_log[mark..].iter().copied().filter(|&j| j < level).collect();
        self.ref_log.truncate(mark);
        self.ref_log.extend(keep);
        let (plan, cols) = r?;
        if single_column && cols.len() != 1 {
            return Err(SqlError::Syntax {
                message: format!("subquery has {} columns, expected 1", cols.len()),
                pos: Pos::UNKNOWN,
            });
        }
        let id = self.next_sub;
        self.next_sub += 1;
        Ok(SubPlan { id, plan, correlated })
    }

    pub fn bind_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        self.enter()?;
        let r = self.bind_expr_inner(e, scope);
        self.depth -= 1;
        r
    }

    fn bind_expr_inner(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        use ast::Expr as A;
        // In an aggregating query a GROUP BY expression is a group column.
        if let Some(state) = &self.agg {
            if scope.aggregated {
                if let Some(g) = state.group_asts.iter().position(|g| g == e) {
                    return Ok(Expr::Col(g));
                }
            }
        }
        let bx = |x: Expr| Box::new(x);
        Ok(match e {
            A::Identifier(id) => self.resolve_column(&[ident_name(id)], scope, pos_of(id.span))?,
            A::CompoundIdentifier(ids) => {
                let parts: Vec<String> = ids.iter().map(ident_name).collect();
                let pos = ids.first().map(|i| pos_of(i.span)).unwrap_or_default();
                self.resolve_column(&parts, scope, pos)?
            }
            A::Value(v) => literal(&v.value, pos_of(v.span))?,
            A::Nested(inner) => self.bind_expr(inner, scope)?,
            A::UnaryOp { op, expr } => {
                let x = self.bind_expr(expr, scope)?;
                match op {
                    ast::UnaryOperator::Minus => match x {
                        Expr::Const(v) => Expr::Const(types::negate(&v)?),
                        x => Expr::Neg(bx(x)),
                    },
                    ast::UnaryOperator::Plus => x,
                    ast::UnaryOperator::Not => Expr::Not(bx(x)),
                    other => return unsupported(format!("unary operator {other}")),
                }
            }
            A::BinaryOp { left, op, right } => {
                let l = self.bind_expr(left, scope)?;
                let r = self.bind_expr(right, scope)?;
                let (l, r) = coerce_literals(l, r, scope);
                use ast::BinaryOperator as B;
                match op {
                    B::Plus => Expr::Arith(ArithOp::Add, bx(l), bx(r)),
                    B::Minus => Expr::Arith(ArithOp::Sub, bx(l), bx(r)),
                    B::Multiply => Expr::Arith(ArithOp::Mul, bx(l), bx(r)),
                    B::Divide => Expr::Arith(ArithOp::Div, bx(l), bx(r)),
                    B::Modulo => Expr::Arith(ArithOp::Mod, bx(l), bx(r)),
                    B::StringConcat => Expr::Concat(bx(l), bx(r)),
                    B::Eq => Expr::Cmp(CmpOp::Eq, bx(l), bx(r)),
                    B::NotEq => Expr::Cmp(CmpOp::NotEq, bx(l), bx(r)),
                    B::Lt => Expr::Cmp(CmpOp::Lt, bx(l), bx(r)),
                    B::LtEq => Expr::Cmp(CmpOp::LtEq, bx(l), bx(r)),
                    B::Gt => Expr::Cmp(CmpOp::Gt, bx(l), bx(r)),
                    B::GtEq => Expr::Cmp(CmpOp::GtEq, bx(l), bx(r)),
                    B::And => Expr::And(bx(l), bx(r)),
                    B::Or => Expr::Or(bx(l), bx(r)),
                    other => return unsupported(format!("operator {other}")),
                }
            }
            A::IsNull(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), false),
            A::IsNotNull(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), true),
            A::IsTrue(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), true, false),
            A::IsNotTrue(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), true, true),
            A::IsFalse(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), false, false),
            A::IsNotFalse(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), false, true),
            A::IsUnknown(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), false),
            A::IsNotUnknown(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), true),
            A::IsDistinctFrom(a, b) => {
                Expr::IsDistinct(bx(self.bind_expr(a, scope)?), bx(self.bind_expr(b, scope)?), false)
            }
            A::IsNotDistinctFrom(a, b) => {
                Expr::IsDistinct(bx(self.bind_expr(a, scope)?), bx(self.bind_expr(b, scope)?), true)
            }
            A::InList { expr, list, negated } => {
                let x = self.bind_expr(expr, scope)?;
                let mut items = Vec::with_capacity(list.len());
                for i in list {
                    let b = self.bind_expr(i, scope)?;
                    items.push(coerce_literals(x.clone(), b, scope).1);
                }
                Expr::InList { expr: bx(x), list: items, negated: *negated }
            }
            A::InSubquery { expr, subquery, negated } => {
                let x = self.bind_expr(expr, scope)?;
                let sub = self.bind_subquery(subquery, scope, true)?;
                Expr::InSubquery { expr: bx(x), sub: Box::new(sub), negated: *negated }
            }
            A::Exists { subquery, negated } => {
                let sub = self.bind_subquery(subquery, scope, false)?;
                Expr::Exists { sub: Box::new(sub), negated: *negated }
            }
            A::Subquery(q) => Expr::Scalar(Box::new(self.bind_subquery(q, scope, true)?)),
            A::AnyOp { left, compare_op, right, .. } | A::AllOp { left, compare_op, right } => {
                let all = matches!(e, A::AllOp { .. });
                let op = cmp_op(compare_op)?;
                let x = self.bind_expr(left, scope)?;
                let q = match right.as_ref() {
                    A::Subquery(q) => q,
                    _ => return unsupported("ANY/ALL over an array"),
                };
                let sub = self.bind_subquery(q, scope, true)?;
                Expr::Quantified { expr: bx(x), op, sub: Box::new(sub), all }
            }
            A::Between { expr, negated, low, high } => {
                let x = self.bind_expr(expr, scope)?;
                let lo = coerce_literals(x.clone(), self.bind_expr(low, scope)?, scope).1;
                let hi = coerce_literals(x.clone(), self.bind_expr(high, scope)?, scope).1;
                Expr::Between { expr: bx(x), low: bx(lo), high: bx(hi), negated: *negated }
            }
            A::Like { negated, any, expr, pattern, escape_char }
            | A::ILike { negated, any, expr, pattern, escape_char } => {
                if *any || escape_char.is_some() {
                    return unsupported("LIKE ANY / ESCAPE");
                }
                Expr::Like {
                    expr: bx(self.bind_expr(expr, scope)?),
                    pattern: bx(self.bind_expr(pattern, scope)?),
                    negated: *negated,
                    case_insensitive: matches!(e, A::ILike { .. }),
                }
            }
            A::Case { operand, conditions, else_result, .. } => {
                let operand = match operand {
                    Some(o) => Some(bx(self.bind_expr(o, scope)?)),
                    None => None,
                };
                let mut whens = Vec::with_capacity(conditions.len());
                for c in conditions {
                    whens.push((self.bind_expr(&c.condition, scope)?, self.bind_expr(&c.result, scope)?));
                }
                let else_ = match else_result {
                    Some(x) => Some(bx(self.bind_expr(x, scope)?)),
                    None => None,
                };
                Expr::Case { operand, whens, else_ }
            }
            A::Cast { expr, data_type, format, .. } => {
                if format.is_some() {
                    return unsupported("CAST ... FORMAT");
                }
                let ty = SqlType::from_ast(data_type)?;
                match self.bind_expr(expr, scope)? {
                    Expr::Const(v) => Expr::Const(types::cast(v, ty)?),
                    x => Expr::Cast(bx(x), ty),
                }
            }
            A::TypedString(ts) => {
                let ty = SqlType::from_ast(&ts.data_type)?;
                let s = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => return unsupported(format!("typed literal {other}")),
                };
                Expr::Const(types::cast(Value::Text(s), ty)?)
            }
            A::Ceil { expr, .. } => Expr::Func(Func::Ceil, vec![self.bind_expr(expr, scope)?]),
            A::Floor { expr, .. } => Expr::Func(Func::Floor, vec![self.bind_expr(expr, scope)?]),
            A::Position { expr, r#in } => {
                Expr::Func(Func::Position, vec![self.bind_expr(r#in, scope)?, self.bind_expr(expr, scope)?])
            }
            A::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![self.bind_expr(expr, scope)?];
                args.push(match substring_from {
                    Some(f) => self.bind_expr(f, scope)?,
                    None => Expr::Const(Value::Int(1)),
                });
                if let Some(f) = substring_for {
                    args.push(self.bind_expr(f, scope)?);
                }
                Expr::Func(Func::Substr, args)
            }
            A::Trim { expr, trim_where, trim_what, trim_characters } => {
                if trim_characters.is_some() {
                    return unsupported("TRIM with a character list");
                }
                let f = match trim_where {
                    None | Some(ast::TrimWhereField::Both) => Func::Trim,
                    Some(ast::TrimWhereField::Leading) => Func::LTrim,
                    Some(ast::TrimWhereField::Trailing) => Func::RTrim,
                };
                let mut args = vec![self.bind_expr(expr, scope)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w, scope)?);
                }
                Expr::Func(f, args)
            }
            A::Function(f) => self.bind_function(f, scope)?,
            A::Tuple(_) => return unsupported("row values"),
            A::Interval(_) => return unsupported("INTERVAL"),
            other => return unsupported(format!("expression {other}")),
        })
    }

    fn bind_function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Expr> {
        let parts = object_parts(&f.name)?;
        let pos = pos_of(f.name.span());
        let name = parts.last().cloned().unwrap_or_default();
        if f.over.is_some() {
            return unsupported("window functions");
        }
        if f.filter.is_some() || !f.within_group.is_empty() {
            return unsupported("aggregate FILTER / WITHIN GROUP");
        }
        if let Some(hint) = expr::nondeterministic_hint(&name) {
            return Err(SqlError::NonDeterministic { construct: format!("{name}()"), hint });
        }
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => {
                if matches!(name.as_str(), "current_user" | "session_user" | "user" | "current_role") {
                    return Err(SqlError::NonDeterministic {
                        construct: name,
                        hint: "session users differ between nodes; use aergo_caller()",
                    });
                }
                (vec![], false, false)
            }
            ast::FunctionArguments::Subquery(_) => return unsupported("function over a subquery"),
            ast::FunctionArguments::List(l) => {
                if !l.clauses.is_empty() {
                    return unsupported("function argument clauses");
                }
                let distinct = matches!(l.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct));
                let mut star = false;
                let mut args = Vec::new();
                for a in &l.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e.clone()),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        _ => return unsupported("named or qualified-wildcard function arguments"),
                    }
                }
                (args, distinct, star)
            }
        };
        if parts.len() == 1 && is_aggregate_name(&name) {
            return self.bind_aggregate(&name, &args, distinct, star, scope, pos);
        }
        if star {
            return Err(SqlError::Syntax { message: format!("{name}(*) is only valid for count"), pos });
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.bind_expr(a, scope)?);
        }
        if parts.len() == 1 {
            if let Some(func) = Func::lookup(&name, bound.len()) {
                return Ok(Expr::Func(func, bound));
            }
            if crate::host::is_host_name(&name) {
                return Ok(Expr::Host { name, args: bound });
            }
        }
        // User-defined function: schema-qualified or in the default schema.
        let (schema, fname) = match parts.as_slice() {
            [n] => (self.default_schema.clone(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return Err(SqlError::UnknownFunction { name: parts.join("."), arity: bound.len(), pos }),
        };
        let sname = catalog::function_store_name(&schema, &fname);
        if self.store.table(&sname)?.is_none() {
            return Err(SqlError::UnknownFunction { name: parts.join("."), arity: bound.len(), pos });
        }
        Ok(Expr::UserFunc { store_name: sname, args: bound })
    }

    fn bind_aggregate(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        distinct: bool,
        star: bool,
        scope: &Scope,
        pos: Pos,
    ) -> Result<Expr> {
        if self.agg.is_none() || !scope.aggregated {
            return Err(SqlError::Syntax { message: format!("aggregate function {name}() is not allowed here"), pos });
        }
        let func = match (name, star, args.len()) {
            ("count", true, 0) => AggFunc::CountStar,
            ("count", false, 1) => AggFunc::Count,
            ("sum", false, 1) => AggFunc::Sum,
            ("avg", false, 1) => AggFunc::Avg,
            ("min", false, 1) => AggFunc::Min,
            ("max", false, 1) => AggFunc::Max,
            ("bool_and" | "every", false, 1) => AggFunc::BoolAnd,
            ("bool_or", false, 1) => AggFunc::BoolOr,
            ("string_agg", false, 2) => AggFunc::StringAgg,
            ("total" | "group_concat", _, _) => {
                return Err(SqlError::UnknownFunction { name: name.into(), arity: args.len(), pos })
            }
            _ => return Err(SqlError::UnknownFunction { name: name.into(), arity: args.len(), pos }),
        };
        // Arguments are bound against the input rows, not the groups.
        let saved = self.agg.take();
        let mut raw = scope.clone();
        raw.aggregated = false;
        let arg = match args.first() {
            Some(a) => {
                if contains_aggregate(a) {
                    self.agg = saved;
                    return Err(SqlError::Syntax { message: "aggregate calls cannot be nested".into(), pos });
                }
                Some(self.bind_expr(a, &raw))
            }
            None => None,
        };
        let extra = args.get(1).map(|a| self.bind_expr(a, &raw));
        self.agg = saved;
        let arg = arg.transpose()?;
        let extra = extra.transpose()?;
        let state = self.agg.as_mut().ok_or_else(|| expr::internal("aggregate state"))?;
        let ngroups = state.group_cols.len();
        state.aggs.push(AggCall { func, arg, extra, distinct });
        Ok(Expr::Col(ngroups + state.aggs.len() - 1))
    }
}

fn pre_scope_lookup(scope: &Scope, name: &str) -> Option<usize> {
    scope.cols.iter().position(|c| c.name == name)
}

enum Source {
    Table(Arc<TableDef>),
    Derived(Plan),
}

struct FromItem {
    source: Source,
    cols: Vec<ScopeCol>,
    kind: JoinKind,
    on: Option<ast::Expr>,
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

pub fn parse_query(sql: &str) -> Result<ast::Query> {
    let stmts = crate::engine::parse_sql(sql)?;
    match stmts.into_iter().next() {
        Some(ast::Statement::Query(q)) => Ok(*q),
        _ => Err(SqlError::Syntax { message: "expected a query".into(), pos: Pos::UNKNOWN }),
    }
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

pub fn split_and<'e>(e: &'e ast::Expr, out: &mut Vec<&'e ast::Expr>) {
    match e {
        ast::Expr::BinaryOp { left, op: ast::BinaryOperator::And, right } => {
            split_and(left, out);
            split_and(right, out);
        }
        ast::Expr::Nested(inner)
            if matches!(inner.as_ref(), ast::Expr::BinaryOp { op: ast::BinaryOperator::And, .. }) =>
        {
            split_and(inner, out)
        }
        other => out.push(other),
    }
}

/// Whether an expression calls an aggregate (not looking into subqueries).
pub fn contains_aggregate(e: &ast::Expr) -> bool {
    use ast::Expr as A;
    let mut found = false;
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            A::Function(f) => {
                let name = f.name.0.last().and_then(|p| p.as_ident()).map(ident_name).unwrap_or_default();
                if f.name.0.len() == 1 && is_aggregate_name(&name) && f.over.is_none() {
                    found = true;
                    break;
                }
                if let ast::FunctionArguments::List(l) = &f.args {
                    for a in &l.args {
                        if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a {
                            stack.push(e);
                        }
                    }
                }
            }
            A::BinaryOp { left, right, .. } => {
                stack.push(left);
                stack.push(right);
            }
            A::UnaryOp { expr, .. }
            | A::Nested(expr)
            | A::IsNull(expr)
            | A::IsNotNull(expr)
            | A::IsTrue(expr)
            | A::IsFalse(expr)
            | A::IsNotTrue(expr)
            | A::IsNotFalse(expr)
            | A::Cast { expr, .. }
            | A::Ceil { expr, .. }
            | A::Floor { expr, .. } => stack.push(expr),
            A::IsDistinctFrom(a, b) | A::IsNotDistinctFrom(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            A::InList { expr, list, .. } => {
                stack.push(expr);
                stack.extend(list.iter());
            }
            A::InSubquery { expr, .. } => stack.push(expr),
            A::Between { expr, low, high, .. } => {
                stack.push(expr);
                stack.push(low);
                stack.push(high);
            }
            A::Like { expr, pattern, .. } | A::ILike { expr, pattern, .. } => {
                stack.push(expr);
                stack.push(pattern);
            }
            A::Case { operand, conditions, else_result, .. } => {
                if let Some(o) = operand {
                    stack.push(o);
                }
                for c in conditions {
                    stack.push(&c.condition);
                    stack.push(&c.result);
                }
                if let Some(e) = else_result {
                    stack.push(e);
                }
            }
            A::Substring { expr, substring_from, substring_for, .. } => {
                stack.push(expr);
                if let Some(f) = substring_from {
                    stack.push(f);
                }
                if let Some(f) = substring_for {
                    stack.push(f);
                }
            }
            A::AnyOp { left, .. } | A::AllOp { left, .. } => stack.push(left),
            _ => {}
        }
    }
    found
}

fn cmp_op(op: &ast::BinaryOperator) -> Result<CmpOp> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Eq => CmpOp::Eq,
        B::NotEq => CmpOp::NotEq,
        B::Lt => CmpOp::Lt,
        B::LtEq => CmpOp::LtEq,
        B::Gt => CmpOp::Gt,
        B::GtEq => CmpOp::GtEq,
        other => return unsupported(format!("operator {other} with ANY/ALL")),
    })
}

pub fn literal(v: &ast::Value, pos: Pos) -> Result<Expr> {
    Ok(Expr::Const(match v {
        ast::Value::Number(s, _) => types::parse_number(s)?,
        ast::Value::SingleQuotedString(s)
        | ast::Value::EscapedStringLiteral(s)
        | ast::Value::UnicodeStringLiteral(s) => Value::Text(s.clone()),
        ast::Value::DollarQuotedString(d) => Value::Text(d.value.clone()),
        ast::Value::Boolean(b) => Value::Bool(*b),
        ast::Value::Null => Value::Null,
        ast::Value::HexStringLiteral(h) => types::cast(Value::Text(format!("\\x{h}")), SqlType::Bytea)?,
        ast::Value::Placeholder(p) => {
            let n: usize = p
                .strip_prefix('$')
                .and_then(|d| d.parse().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| SqlError::Syntax { message: format!("parameter {p} must be $1, $2, ..."), pos })?;
            if n > 65_535 {
                return Err(SqlError::LimitExceeded { what: "parameter number", limit: 65_535 });
            }
            return Ok(Expr::Param(n - 1));
        }
        ast::Value::DoubleQuotedString(s) => {
            return Err(SqlError::UnknownColumn { name: s.clone(), pos });
        }
        other => return unsupported(format!("literal {other}")),
    }))
}

/// Static type of a bound expression when obvious.
pub fn static_type(e: &Expr) -> Option<SqlType> {
    match e {
        Expr::Const(v) => types::value_type(v),
        Expr::Cast(_, t) => Some(*t),
        Expr::Cmp(..) | Expr::And(..) | Expr::Or(..) | Expr::Not(_) | Expr::IsNull(..) | Expr::InList { .. } => {
            Some(SqlType::Bool)
        }
        Expr::Concat(..) => Some(SqlType::Text),
        _ => None,
    }
}

fn static_type_in(e: &Expr, scope: &Scope) -> Option<SqlType> {
    match e {
        Expr::Col(i) if !scope.aggregated => scope.cols.get(*i).and_then(|c| c.ty),
        other => static_type(other),
    }
}

/// A text literal compared with a typed column takes the column's type
/// (PostgreSQL's "unknown" literal resolution).
fn coerce_literals(l: Expr, r: Expr, scope: &Scope) -> (Expr, Expr) {
    let ty_of = |e: &Expr| -> Option<SqlType> {
        match e {
            Expr::Col(i) if !scope.aggregated => scope.cols.get(*i).and_then(|c| c.ty),
            Expr::Cast(_, t) => Some(*t),
            _ => None,
        }
    };
    let fix = |lit: Expr, ty: Option<SqlType>| -> Expr {
        match (lit, ty) {
            (Expr::Const(Value::Text(s)), Some(t)) if !t.is_text() => match types::cast(Value::Text(s.clone()), t) {
                Ok(v) => Expr::Const(v),
                Err(_) => Expr::Const(Value::Text(s)),
            },
            (lit, _) => lit,
        }
    };
    let lt = ty_of(&l);
    let rt = ty_of(&r);
    (fix(l, rt), fix(r, lt))
}

/// Display name of a select item without alias, as PostgreSQL derives it.
fn expr_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => ident_name(id),
        ast::Expr::CompoundIdentifier(ids) => ids.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(ident_name).unwrap_or_default(),
        ast::Expr::Cast { expr, .. } => match expr.as_ref() {
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => expr_name(expr),
            _ => "?column?".into(),
        },
        ast::Expr::Nested(inner) => expr_name(inner),
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        _ => "?column?".into(),
    }
}

fn access_walk(a: &Access, f: &mut dyn FnMut(&Expr)) {
    match a {
        Access::Full { .. } => {}
        Access::Range { eq, lower, upper, .. } => {
            eq.iter().for_each(&mut *f);
            if let Some((e, _)) = lower {
                f(e);
            }
            if let Some((e, _)) = upper {
                f(e);
            }
        }
        Access::InList { values, .. } => values.iter().for_each(f),
    }
}

/// One usable condition on a column of the table being planned.
struct KeyPred {
    col: usize,
    op: CmpOp,
    value: Expr,
}

/// Picks the access path for `table` (its columns start at `offset` in the
/// row the conditions were bound against).
fn choose_access(
    table: &TableDef,
    offset: usize,
    preds: &[Expr],
    wanted_order: Option<&[(usize, bool, bool)]>,
) -> (Access, bool) {
    let width = table.columns.len();
    let own = |e: &Expr| -> Option<usize> {
        match e {
            Expr::Col(c) if *c >= offset && *c < offset + width => Some(c - offset),
            _ => None,
        }
    };
    let mut kp: Vec<KeyPred> = Vec::new();
    let mut inlists: Vec<(usize, Vec<Expr>)> = Vec::new();
    for p in preds {
        match p {
            Expr::Cmp(op, a, b) if *op != CmpOp::NotEq => {
                if let (Some(c), true) = (own(a), b.is_row_independent(offset)) {
                    kp.push(KeyPred { col: c, op: *op, value: (**b).clone() });
                } else if let (Some(c), true) = (own(b), a.is_row_independent(offset)) {
                    kp.push(KeyPred { col: c, op: op.flip(), value: (**a).clone() });
                }
            }
            Expr::Between { expr, low, high, negated: false } => {
                if let Some(c) = own(expr) {
                    if low.is_row_independent(offset) && high.is_row_independent(offset) {
                        kp.push(KeyPred { col: c, op: CmpOp::GtEq, value: (**low).clone() });
                        kp.push(KeyPred { col: c, op: CmpOp::LtEq, value: (**high).clone() });
                    }
                }
            }
            Expr::InList { expr, list, negated: false } => {
                if let Some(c) = own(expr) {
                    if list.iter().all(|e| e.is_row_independent(offset)) && list.len() <= 1024 {
                        inlists.push((c, list.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    // Candidate keys: the primary key, then each index.
    let mut keys: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    if !table.primary_key.is_empty() {
        keys.push((None, table.primary_key.clone()));
    }
    for (i, ix) in table.indexes.iter().enumerate() {
        keys.push((Some(i), ix.columns.clone()));
    }
    let mut best: Option<(usize, Access, bool)> = None;
    for (index, cols) in &keys {
        let mut eq = Vec::new();
        for c in cols {
            match kp.iter().find(|p| p.col == *c && p.op == CmpOp::Eq) {
                Some(p) => eq.push(p.value.clone()),
                None => break,
            }
        }
        let mut lower = None;
        let mut upper = None;
        if let Some(next) = cols.get(eq.len()) {
            for p in kp.iter().filter(|p| p.col == *next) {
                match p.op {
                    CmpOp::Gt | CmpOp::GtEq if lower.is_none() => lower = Some((p.value.clone(), p.op == CmpOp::GtEq)),
                    CmpOp::Lt | CmpOp::LtEq if upper.is_none() => upper = Some((p.value.clone(), p.op == CmpOp::LtEq)),
                    _ => {}
                }
            }
        }
        let full_point = eq.len() == cols.len() && index.is_none();
        let score = eq.len() * 4
            + usize::from(lower.is_some() || upper.is_some()) * 2
            + usize::from(full_point) * 100
            + usize::from(index.is_none());
        if eq.is_empty() && lower.is_none() && upper.is_none() {
            continue;
        }
        // Does the key order after the equality prefix give the wanted order?
        let mut reverse = false;
        let mut done = false;
        if let Some(w) = wanted_order {
            let rest = &cols[eq.len().min(cols.len())..];
            if w.len() <= rest.len() && !w.is_empty() {
                let desc = w[0].1;
                let nullable_ok = |c: usize| table.columns[c].not_null || table.primary_key.contains(&c);
                done = w
                    .iter()
                    .zip(rest)
                    .all(|((wc, wd, wn), kc)| *wc == offset + *kc && *wd == desc && (nullable_ok(*kc) || *wn != desc));
                reverse = desc;
            }
        }
        let key_types = cols.iter().map(|c| table.columns[*c].ty).collect();
        let access = Access::Range { index: *index, eq, lower, upper, reverse, key_types };
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, access, done));
        }
    }
    if let Some((_, access, done)) = best {
        return (access, done);
    }
    for (index, cols) in &keys {
        if let Some((_, list)) = inlists.iter().find(|(c, _)| Some(c) == cols.first()) {
            let key_type = table.columns[cols[0]].ty;
            return (Access::InList { index: *index, values: list.clone(), key_type }, false);
        }
    }
    // Full scan, possibly ordered by the primary key or an index.
    if let Some(w) = wanted_order {
        if !w.is_empty() {
            let desc = w[0].1;
            for (index, cols) in &keys {
                let nullable_ok = |c: usize| table.columns[c].not_null || table.primary_key.contains(&c);
                let ok = w.len() <= cols.len()
                    && w.iter().zip(cols).all(|((wc, wd, wn), kc)| {
                        *wc == offset + *kc && *wd == desc && (nullable_ok(*kc) || *wn != desc)
                    });
                if ok {
                    return match index {
                        None => (Access::Full { reverse: desc }, true),
                        Some(_) => {
                            let key_types = cols.iter().map(|c| table.columns[*c].ty).collect();
                            (
                                Access::Range {
                                    index: *index,
                                    eq: vec![],
                                    lower: None,
                                    upper: None,
                                    reverse: desc,
                                    key_types,
                                },
                                true,
                            )
                        }
                    };
                }
            }
        }
    }
    (Access::Full { reverse: false }, false)
}

/// The access path for a single-table statement (UPDATE/DELETE).
pub fn choose_access_pub(table: &TableDef, preds: &[Expr]) -> Access {
    choose_access(table, 0, preds, None).0
}
