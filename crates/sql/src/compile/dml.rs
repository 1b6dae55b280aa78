//! Binding statements: queries, INSERT (defaults, CHECKs, ON CONFLICT,
//! RETURNING), UPDATE and DELETE (their target scan), and which
//! statements pass to execution as DDL.

use std::sync::Arc;

use sqlparser::ast::{self, Spanned};

use crate::catalog::TableDef;
use crate::error::{Pos, Result, SqlError};
use crate::ir::{
    and_opt, explain, Bound, DeletePlan, Expr, InsertPlan, OnConflictPlan, OutCol, Plan, Scan, UpdatePlan,
};
use crate::names::{ident_name, object_parts, pos_of};
use crate::types::SqlType;
use aergo_store::Value;

use super::access_path::choose_access_pub;
use super::bind::{contains_aggregate, split_and, Binder, Scope, ScopeCol};
use super::parse::parse_expr;

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(SqlError::Unsupported { feature: what.into() })
}

fn table_scope(t: &TableDef, qualifier: &str) -> Scope {
    Scope {
        cols: t
            .columns
            .iter()
            .map(|c| ScopeCol { qualifier: Some(qualifier.to_string()), name: c.name.clone(), ty: Some(c.ty) })
            .collect(),
        aggregated: false,
    }
}

pub(crate) fn bind_checks(binder: &mut Binder<'_>, t: &TableDef) -> Result<Vec<(String, Expr)>> {
    let scope = table_scope(t, &t.name);
    let saved = binder.vars.take();
    let r = t
        .checks
        .iter()
        .map(|c| {
            let e = parse_expr(&c.expr)?;
            Ok((c.name.clone(), binder.bind_expr(&e, &scope)?))
        })
        .collect();
    binder.vars = saved;
    r
}

fn bind_returning(
    binder: &mut Binder<'_>,
    items: &Option<Vec<ast::SelectItem>>,
    scope: &Scope,
) -> Result<Option<(Vec<Expr>, Vec<OutCol>)>> {
    let Some(items) = items else { return Ok(None) };
    let mut exprs = Vec::new();
    let mut cols = Vec::new();
    for it in items {
        match it {
            ast::SelectItem::UnnamedExpr(e) => {
                exprs.push(binder.bind_expr(e, scope)?);
                cols.push(OutCol { name: e.to_string(), ty: None });
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                exprs.push(binder.bind_expr(expr, scope)?);
                cols.push(OutCol { name: ident_name(alias), ty: None });
            }
            ast::SelectItem::Wildcard(_) => {
                for (i, c) in scope.cols.iter().enumerate() {
                    exprs.push(Expr::Col(i));
                    cols.push(OutCol { name: c.name.clone(), ty: c.ty });
                }
            }
            _ => return unsupported("this RETURNING item"),
        }
    }
    Ok(Some((exprs, cols)))
}

fn where_scan(
    binder: &mut Binder<'_>,
    table: Arc<TableDef>,
    selection: &Option<ast::Expr>,
    scope: &Scope,
) -> Result<Scan> {
    let mut conj = Vec::new();
    if let Some(w) = selection {
        let mut parts = Vec::new();
        split_and(w, &mut parts);
        for p in parts {
            if contains_aggregate(p) {
                return Err(SqlError::Syntax {
                    message: "aggregate functions are not allowed in WHERE".into(),
                    pos: pos_of(p.span()),
                });
            }
            conj.push(binder.bind_expr(p, scope)?);
        }
    }
    let access = choose_access_pub(&table, &conj);
    let mut filter = None;
    for c in conj {
        filter = Some(and_opt(filter, c));
    }
    Ok(Scan { table, access, filter, est_rows: None })
}

pub(crate) fn bind_statement(binder: &mut Binder<'_>, stmt: ast::Statement) -> Result<Bound> {
    use ast::Statement as S;
    match stmt {
        S::Query(q) => {
            let (plan, cols) = binder.bind_query(&q)?;
            Ok(Bound::Query { plan, cols })
        }
        S::Explain { statement, analyze, .. } => {
            let S::Query(q) = *statement else { return unsupported("EXPLAIN of a statement other than a query") };
            let (plan, _) = binder.bind_query(&q)?;
            if analyze {
                return Ok(Bound::ExplainAnalyze { plan });
            }
            // The plan as constant rows: EXPLAIN reads the catalogue, never the data.
            let rows = explain(&plan).into_iter().map(|l| vec![Expr::Const(Value::Text(l))]).collect();
            let cols = vec![OutCol { name: "QUERY PLAN".into(), ty: Some(SqlType::Text) }];
            Ok(Bound::Query { plan: Plan::Values { rows }, cols })
        }
        S::Insert(ins) => bind_insert(binder, ins),
        S::Update { table, assignments, from, selection, returning, or, limit } => {
            if from.is_some() || or.is_some() || limit.is_some() || !table.joins.is_empty() {
                return unsupported("UPDATE with FROM, OR or LIMIT");
            }
            let (name, alias) = match &table.relation {
                ast::TableFactor::Table { name, alias, .. } => (name.clone(), alias.clone()),
                _ => return unsupported("UPDATE of a non-table"),
            };
            let t = binder.table(&name)?;
            let qual = alias.map(|a| ident_name(&a.name)).unwrap_or_else(|| t.name.clone());
            let scope = table_scope(&t, &qual);
            let mut assigns = Vec::new();
            for a in &assignments {
                let col = match &a.target {
                    ast::AssignmentTarget::ColumnName(n) => object_parts(n)?.pop().unwrap_or_default(),
                    ast::AssignmentTarget::Tuple(_) => return unsupported("UPDATE SET (a, b) = ..."),
                };
                let i = t
                    .column_index(&col)
                    .ok_or_else(|| SqlError::UnknownColumn { name: col.clone(), pos: pos_of(a.target_span()) })?;
                assigns.push((i, binder.bind_expr(&a.value, &scope)?));
            }
            let checks = bind_checks(binder, &t)?;
            let returning = bind_returning(binder, &returning, &scope)?;
            let scan = where_scan(binder, t, &selection, &scope)?;
            Ok(Bound::Update(Box::new(UpdatePlan {
                scan,
                assignments: assigns,
                checks,
                returning: returning.map(|r| r.0),
            })))
        }
        S::Delete(d) => {
            if d.using.is_some() || !d.order_by.is_empty() || d.limit.is_some() || !d.tables.is_empty() {
                return unsupported("DELETE with USING, ORDER BY or LIMIT");
            }
            let from = match &d.from {
                ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
            };
            let [twj] = from.as_slice() else { return unsupported("DELETE from several tables") };
            let (name, alias) = match &twj.relation {
                ast::TableFactor::Table { name, alias, .. } if twj.joins.is_empty() => (name.clone(), alias.clone()),
                _ => return unsupported("DELETE from a join"),
            };
            let t = binder.table(&name)?;
            let qual = alias.map(|a| ident_name(&a.name)).unwrap_or_else(|| t.name.clone());
            let scope = table_scope(&t, &qual);
            let returning = bind_returning(binder, &d.returning, &scope)?;
            let scan = where_scan(binder, t, &d.selection, &scope)?;
            Ok(Bound::Delete(Box::new(DeletePlan { scan, returning: returning.map(|r| r.0) })))
        }
        S::CreateTable(_)
        | S::CreateIndex(_)
        | S::Drop { .. }
        | S::CreateView { .. }
        | S::AlterTable { .. }
        | S::DropFunction { .. } => Ok(Bound::Ddl(Box::new(stmt))),
        S::StartTransaction { .. } | S::Commit { .. } | S::Rollback { .. } | S::Savepoint { .. } => {
            unsupported("transaction control (every statement and call is already atomic; the chain commits per block)")
        }
        S::CreateTrigger { .. } => unsupported("triggers"),
        S::CreateFunction(_) => unsupported("this CREATE FUNCTION form"),
        other => {
            let text = other.to_string();
            let head: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            unsupported(format!("statement {head}"))
        }
    }
}

trait TargetSpan {
    fn target_span(&self) -> sqlparser::tokenizer::Span;
}

impl TargetSpan for ast::Assignment {
    fn target_span(&self) -> sqlparser::tokenizer::Span {
        match &self.target {
            ast::AssignmentTarget::ColumnName(n) => n.span(),
            ast::AssignmentTarget::Tuple(_) => sqlparser::tokenizer::Span::empty(),
        }
    }
}

fn bind_insert(binder: &mut Binder<'_>, ins: ast::Insert) -> Result<Bound> {
    if ins.or.is_some()
        || ins.ignore
        || ins.overwrite
        || !ins.assignments.is_empty()
        || ins.partitioned.is_some()
        || ins.replace_into
    {
        return unsupported("this INSERT form (OR, IGNORE, REPLACE, SET)");
    }
    let name = match &ins.table {
        ast::TableObject::TableName(n) => n.clone(),
        ast::TableObject::TableFunction(_) => return unsupported("INSERT INTO a function"),
    };
    let t = binder.table(&name)?;
    let columns: Vec<usize> = if ins.columns.is_empty() {
        (0..t.columns.len()).collect()
    } else {
        let mut v = Vec::new();
        for c in &ins.columns {
            let n = ident_name(c);
            let i =
                t.column_index(&n).ok_or_else(|| SqlError::UnknownColumn { name: n.clone(), pos: pos_of(c.span) })?;
            if v.contains(&i) {
                return Err(SqlError::Syntax {
                    message: format!("column {n:?} specified more than once"),
                    pos: pos_of(c.span),
                });
            }
            v.push(i);
        }
        v
    };
    let Some(source) = &ins.source else { return unsupported("INSERT ... DEFAULT VALUES") };
    let (plan, cols) = binder.bind_query(source)?;
    if cols.len() != columns.len() {
        return Err(SqlError::Syntax {
            message: format!("INSERT has {} target columns but {} expressions", columns.len(), cols.len()),
            pos: Pos::UNKNOWN,
        });
    }
    let saved = binder.vars.take();
    let defaults = t
        .columns
        .iter()
        .map(|c| match &c.default {
            None => Ok(None),
            Some(text) => {
                let e = parse_expr(text)?;
                Ok(Some(binder.bind_expr(&e, &Scope::default())?))
            }
        })
        .collect::<Result<Vec<_>>>();
    binder.vars = saved;
    let defaults = defaults?;
    let checks = bind_checks(binder, &t)?;
    let qual = ins.table_alias.as_ref().map(ident_name).unwrap_or_else(|| t.name.clone());
    let scope = table_scope(&t, &qual);
    let on_conflict = match &ins.on {
        None => None,
        Some(ast::OnInsert::OnConflict(oc)) => {
            let target = match &oc.conflict_target {
                None => None,
                Some(ast::ConflictTarget::Columns(cs)) => {
                    let mut idx = Vec::new();
                    for c in cs {
                        let n = ident_name(c);
                        idx.push(
                            t.column_index(&n)
                                .ok_or_else(|| SqlError::UnknownColumn { name: n, pos: pos_of(c.span) })?,
                        );
                    }
                    let mut sorted = idx.clone();
                    sorted.sort_unstable();
                    let same = |cols: &[usize]| {
                        let mut c = cols.to_vec();
                        c.sort_unstable();
                        c == sorted
                    };
                    if !t.primary_key.is_empty() && same(&t.primary_key) {
                        Some(None)
                    } else if let Some(i) = t.indexes.iter().position(|ix| ix.unique && same(&ix.columns)) {
                        Some(Some(i))
                    } else {
                        return Err(SqlError::Syntax {
                            message:
                                "there is no unique or primary key constraint matching the ON CONFLICT specification"
                                    .into(),
                            pos: Pos::UNKNOWN,
                        });
                    }
                }
                Some(ast::ConflictTarget::OnConstraint(_)) => return unsupported("ON CONFLICT ON CONSTRAINT"),
            };
            let update = match &oc.action {
                ast::OnConflictAction::DoNothing => None,
                ast::OnConflictAction::DoUpdate(du) => {
                    if target.is_none() {
                        return Err(SqlError::Syntax {
                            message: "ON CONFLICT DO UPDATE requires a conflict target".into(),
                            pos: Pos::UNKNOWN,
                        });
                    }
                    let mut both = scope.clone();
                    both.cols.extend(table_scope(&t, "excluded").cols);
                    let mut assigns = Vec::new();
                    for a in &du.assignments {
                        let col = match &a.target {
                            ast::AssignmentTarget::ColumnName(n) => object_parts(n)?.pop().unwrap_or_default(),
                            _ => return unsupported("tuple assignment"),
                        };
                        let i = t
                            .column_index(&col)
                            .ok_or_else(|| SqlError::UnknownColumn { name: col.clone(), pos: Pos::UNKNOWN })?;
                        assigns.push((i, binder.bind_expr(&a.value, &both)?));
                    }
                    let sel = match &du.selection {
                        Some(e) => Some(binder.bind_expr(e, &both)?),
                        None => None,
                    };
                    Some((assigns, sel))
                }
            };
            Some(OnConflictPlan { target, update })
        }
        Some(_) => return unsupported("ON DUPLICATE KEY"),
    };
    let returning = bind_returning(binder, &ins.returning, &scope)?.map(|r| r.0);
    Ok(Bound::Insert(Box::new(InsertPlan {
        table: t,
        columns,
        source: plan,
        defaults,
        checks,
        on_conflict,
        returning,
    })))
}
