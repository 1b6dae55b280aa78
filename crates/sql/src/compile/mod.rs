//! The compile wing: SQL text to bound statements and plans.
//!
//! The binder resolves names against the catalogue (tables, views,
//! indexes), CTEs, enclosing queries (correlated subqueries) and PL/pgSQL
//! variables, and compiles expressions to [`Expr`]. The planner builds a
//! left-deep join tree: the inner joins before the first LEFT JOIN in the
//! order [`join_order`] chooses (see there for the cost model and search),
//! the rest in FROM order. For each base table it
//! picks an access path from the conditions that apply to it: a primary-key
//! point lookup, an equality prefix plus range on the primary key or an
//! index, an IN-list of point lookups, or a full scan; key values may come
//! from constants, parameters, variables or columns of tables joined
//! earlier (index nested-loop join). Single-table conditions are pushed into
//! the scan; equalities between tables that no key serves become hash-join
//! keys; an ORDER BY that the chosen key order already satisfies skips the
//! sort, and LIMIT then stops the scan early.
//!
//! Files: [`parse`] (sqlparser front end), [`bind`] (the binder, scopes,
//! table resolution), [`select`] (queries), [`from`] (FROM, views, joins),
//! [`join_order`] (join order search), [`join_plan`] (the reordered join),
//! [`expr`] (expressions), [`access_path`] (index choice), [`dml`]
//! (statements, INSERT/UPDATE/DELETE), [`function_decl`] (`CREATE
//! FUNCTION`), [`plpgsql`] (function bodies). Reads the catalogue only;
//! never imports `run/`.

use aergo_store::TableStore;
use sqlparser::ast;

use crate::catalog::TableDef;
use crate::context::JoinOrder;
use crate::error::{Pos, Result, SqlError};
use crate::ir::{Bound, Deps, Expr, OutCol};

pub(crate) mod access_path;
pub(crate) mod bind;
pub(crate) mod dml;
pub(crate) mod expr;
pub(crate) mod from;
pub(crate) mod function_decl;
pub(crate) mod join_order;
pub(crate) mod join_plan;
pub(crate) mod parse;
pub(crate) mod plpgsql;
pub(crate) mod select;

use bind::{Binder, Scope, ScopeCol, VarScope};
use dml::bind_statement;
use function_decl::parse_create_function;
use parse::{is_create_function, parse_expr, parse_sql};

/// Parses and binds one statement (or parses a `CREATE FUNCTION`), with
/// the catalogue entries the result depends on; inner joins are ordered as
/// `order` says.
pub(crate) fn bind_text(
    store: &dyn TableStore,
    schema: &str,
    sql: &str,
    vars: Option<&VarScope>,
    order: JoinOrder,
) -> Result<(Bound, Deps)> {
    if is_create_function(sql) {
        let src = parse_create_function(sql, schema)?;
        return Ok((Bound::CreateFunction(Box::new(src)), vec![]));
    }
    let mut stmts = parse_sql(sql)?;
    if stmts.len() != 1 {
        return Err(SqlError::Syntax {
            message: format!("expected exactly one statement, found {}", stmts.len()),
            pos: Pos::UNKNOWN,
        });
    }
    let stmt = stmts.remove(0);
    let mut binder = Binder::new(store, schema, vars);
    binder.join_order = order;
    let bound = bind_statement(&mut binder, stmt)?;
    Ok((bound, binder.deps))
}

/// Binds the text of a scalar expression (a DEFAULT or CHECK) against the
/// columns of `table`, if any.
pub(crate) fn bind_scalar(store: &dyn TableStore, schema: &str, text: &str, table: Option<&TableDef>) -> Result<Expr> {
    let e = parse_expr(text)?;
    let mut b = Binder::new(store, schema, None);
    let scope = match table {
        Some(t) => Scope {
            cols: t
                .columns
                .iter()
                .map(|c| ScopeCol { qualifier: Some(t.name.clone()), name: c.name.clone(), ty: Some(c.ty) })
                .collect(),
            aggregated: false,
        },
        None => Scope::default(),
    };
    b.bind_expr(&e, &scope)
}

/// Binds a view's query against the current catalogue: its result columns.
pub(crate) fn bind_view(store: &dyn TableStore, schema: &str, query: &ast::Query) -> Result<Vec<OutCol>> {
    let mut b = Binder::new(store, schema, None);
    let (_, out) = b.bind_query(query)?;
    Ok(out)
}
