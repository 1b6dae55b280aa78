//! Bound statements: a query plan, or a planned INSERT / UPDATE / DELETE,
//! or DDL and CREATE FUNCTION carried to execution as parsed.

use std::sync::Arc;

use sqlparser::ast;

use crate::catalog::TableDef;

use super::expr::Expr;
use super::function::FunctionDecl;
use super::plan::{OutCol, Plan, Scan};

/// A statement after binding and planning.
#[derive(Clone, Debug)]
pub(crate) enum Bound {
    Query { plan: Plan, cols: Vec<OutCol> },
    Insert(Box<InsertPlan>),
    Update(Box<UpdatePlan>),
    Delete(Box<DeletePlan>),
    Ddl(Box<ast::Statement>),
    CreateFunction(Box<FunctionDecl>),
}

#[derive(Clone, Debug)]
pub(crate) struct InsertPlan {
    pub table: Arc<TableDef>,
    pub columns: Vec<usize>,
    pub source: Plan,
    pub defaults: Vec<Option<Expr>>,
    pub checks: Vec<(String, Expr)>,
    pub on_conflict: Option<OnConflictPlan>,
    pub returning: Option<Vec<Expr>>,
}

#[derive(Clone, Debug)]
pub(crate) struct OnConflictPlan {
    /// Which key the target names (None = any conflict).
    pub target: Option<Option<usize>>,
    /// None = DO NOTHING. Expressions see `existing row ++ excluded row`.
    pub update: Option<ConflictUpdate>,
}

/// `DO UPDATE SET` assignments (column, value) and its optional WHERE.
pub(crate) type ConflictUpdate = (Vec<(usize, Expr)>, Option<Expr>);

#[derive(Clone, Debug)]
pub(crate) struct UpdatePlan {
    pub scan: Scan,
    pub assignments: Vec<(usize, Expr)>,
    pub checks: Vec<(String, Expr)>,
    pub returning: Option<Vec<Expr>>,
}

#[derive(Clone, Debug)]
pub(crate) struct DeletePlan {
    pub scan: Scan,
    pub returning: Option<Vec<Expr>>,
}

/// Catalogue dependencies of a plan: (store name, schema blob).
pub(crate) type Deps = Vec<(String, Vec<u8>)>;
