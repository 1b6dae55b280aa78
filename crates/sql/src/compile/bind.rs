//! The binder: its state, scopes (query columns, PL/pgSQL variables),
//! table resolution, and what the other binding files share.

use std::sync::Arc;

use aergo_store::TableStore;
use sqlparser::ast::{self, Spanned};

use crate::catalog::{self, Relation, TableDef};
use crate::context::JoinOrder;
use crate::error::{Result, SqlError};
use crate::ir::{class_rows, size_class, AggCall, Dep, Deps};
use crate::names::{ident_name, pos_of};
use crate::types::SqlType;

/// Most nested subqueries, views and CTE references in one statement.
pub const MAX_BIND_DEPTH: usize = 128;

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

pub(super) struct AggState {
    pub group_asts: Vec<ast::Expr>,
    pub group_cols: Vec<Option<usize>>,
    pub aggs: Vec<AggCall>,
}

pub(super) fn unsupported<T>(what: impl Into<String>) -> Result<T> {
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
    pub(super) outer: Vec<Scope>,
    pub(super) ref_log: Vec<usize>,
    pub(super) ctes: Vec<(String, ast::Query, Vec<String>)>,
    pub(super) agg: Option<AggState>,
    /// Catalogue entries the plan depends on: (store name, schema blob).
    pub deps: Deps,
    pub(super) next_sub: usize,
    pub(super) depth: usize,
    /// Planned unless a caller asked for FROM order.
    pub(super) join_order: JoinOrder,
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
            join_order: JoinOrder::Planned,
        }
    }

    pub fn qualify(&self, name: &ast::ObjectName) -> Result<(String, String)> {
        catalog::qualify(&self.default_schema, name)
    }

    pub(super) fn add_dep(&mut self, name: &str, meta: &aergo_store::TableMeta) {
        if !self.deps.iter().any(|d| matches!(d, Dep::Schema { table, .. } if table == name)) {
            self.deps.push(Dep::Schema { table: name.to_string(), blob: meta.schema.clone() });
        }
    }

    /// The row count the planner assumes for `table` (its size class's),
    /// recorded as a dependency of the plan.
    pub(super) fn table_rows(&mut self, table: &TableDef) -> Result<u64> {
        let name = table.store_name();
        let class = size_class(self.store.count(name)?);
        if !self.deps.iter().any(|d| matches!(d, Dep::Rows { table, .. } if table == name)) {
            self.deps.push(Dep::Rows { table: name.to_string(), class });
        }
        Ok(class_rows(class))
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

    pub(super) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_BIND_DEPTH {
            return Err(SqlError::LimitExceeded { what: "query nesting depth", limit: MAX_BIND_DEPTH as u64 });
        }
        Ok(())
    }
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
