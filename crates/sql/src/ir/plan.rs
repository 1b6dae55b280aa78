//! Query plans: a tree of operators over base-table scans, each scan with
//! its access path.

use std::sync::Arc;

use aergo_store::Value;

use crate::catalog::TableDef;
use crate::types::SqlType;

use super::expr::Expr;

pub type Row = Vec<Value>;

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
    /// The planner's estimate of the rows one run of the scan returns, for
    /// EXPLAIN (scans of joins it ordered; `None` elsewhere).
    pub est_rows: Option<u64>,
    /// Evaluated on the table's own row.
    pub filter: Option<Expr>,
}

/// Join keys of a hash join: `left[i]`, evaluated on the left row, equals
/// `right[i]`, evaluated on the right side's own row.
#[derive(Clone, Debug)]
pub struct HashKeys {
    pub left: Vec<Expr>,
    pub right: Vec<Expr>,
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
        /// Equalities between the sides that a hash join uses to find the
        /// right rows of a left row (never with `right_correlated`). `cond`
        /// still holds them: the keys only narrow which pairs `cond` sees.
        hash: Option<HashKeys>,
        /// The planner's estimate of the rows out, for EXPLAIN (joins it
        /// ordered; `None` for joins in FROM order).
        est_rows: Option<u64>,
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
