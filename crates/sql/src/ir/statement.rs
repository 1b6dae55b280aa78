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
    Query {
        plan: Plan,
        cols: Vec<OutCol>,
    },
    /// EXPLAIN ANALYZE of a query: runs it and returns its plan with the
    /// rows and gas of each operator.
    ExplainAnalyze {
        plan: Plan,
    },
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

/// What a plan was made for, checked again before it runs: the plan is
/// used only while every dependency still holds, and made again otherwise,
/// so the plan that runs is a function of the state it runs on, whatever
/// was cached before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Dep {
    /// A catalogue entry (store name) with its schema blob.
    Schema { table: String, blob: Vec<u8> },
    /// The size class ([`size_class`]) of a table's row count: join order
    /// depends on table sizes.
    Rows { table: String, class: u8 },
}

pub(crate) type Deps = Vec<Dep>;

/// The size class of a row count: 0 for none, else its bit length (1 for
/// one row, 2 for two or three, 3 for four to seven, ...). Plans see sizes
/// only through it, so a table must double or halve before its plans are
/// made again.
pub(crate) fn size_class(rows: u64) -> u8 {
    (u64::BITS - rows.leading_zeros()) as u8
}

/// The rows the planner assumes for a size class: the smallest count in it
/// (at least one, so that estimates stay ordered).
pub(crate) fn class_rows(class: u8) -> u64 {
    if class <= 1 {
        1
    } else {
        1u64 << (class - 1).min(62)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_bit_lengths_and_assume_their_smallest_count() {
        let cases = [(0u64, 0u8), (1, 1), (2, 2), (3, 2), (4, 3), (1000, 10), (1023, 10), (1024, 11), (u64::MAX, 64)];
        for (rows, class) in cases {
            assert_eq!(size_class(rows), class, "{rows}");
            assert!(class_rows(class) <= rows.max(1), "{rows}");
        }
        assert_eq!(class_rows(11), 1024);
        assert_eq!(class_rows(64), 1 << 62, "capped, never overflowing the estimates");
    }
}
