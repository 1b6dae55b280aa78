//! The run wing: executing bound statements against a store.
//!
//! Operators materialise their output (bounded by
//! [`crate::Limits::max_intermediate_rows`]); a `budget` passed down from
//! LIMIT lets scans stop early. Table scans read the store in chunks so no
//! store borrow is held while expressions (which may call functions that
//! write) are evaluated.
//!
//! Files: [`cx`] (the execution context and what it needs from the engine
//! above), [`eval`] and [`builtins`] (expressions), [`query`] (plan
//! operators), [`join`] (nested-loop and hash joins), [`scan`] (key ranges and table scans), [`write`](mod@write) (row
//! writes, INSERT/UPDATE/DELETE), [`ddl`], [`plpgsql`] (the function
//! interpreter), [`host`] (host calls). Never imports `compile/`: what
//! must be compiled at run time is asked of [`cx::FunctionSource`].

use crate::context::QueryResult;
use crate::error::Result;
use crate::ir::Bound;
use crate::types;

pub(crate) mod builtins;
pub(crate) mod cx;
pub(crate) mod ddl;
pub(crate) mod eval;
pub(crate) mod host;
pub(crate) mod join;
pub(crate) mod plpgsql;
pub(crate) mod query;
pub(crate) mod scan;
pub(crate) mod write;

use cx::Cx;

/// Executes one bound statement (not atomically: the caller holds the
/// savepoint).
pub(crate) fn exec_bound(b: &Bound, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let mut r = exec_unnamed(b, cx)?;
    if let Bound::Query { cols, .. } = b {
        r.columns = cols.iter().map(|c| c.name.clone()).collect();
        r.column_types = cols.iter().map(|c| c.ty).collect();
    }
    Ok(r)
}

/// [`exec_bound`] without the result's column names and types: what a
/// statement inside a function gives, whose rows go into variables (naming
/// the columns was an allocation per column per statement run).
pub(crate) fn exec_unnamed(b: &Bound, cx: &mut Cx<'_>) -> Result<QueryResult> {
    cx.gas.charge(cx.schedule.statement)?;
    cx.sub_cache.clear();
    match b {
        Bound::Query { plan, .. } => {
            let rows = query::run(plan, &[], cx, None)?;
            cx.gas.charge(
                rows.iter()
                    .map(|r| {
                        cx.schedule.row_result
                            + cx.schedule.byte_result * r.iter().map(types::value_size).sum::<usize>() as u64
                    })
                    .sum(),
            )?;
            Ok(QueryResult { rows_affected: rows.len() as u64, rows, ..Default::default() })
        }
        Bound::Insert(p) => write::exec_insert(p, cx),
        Bound::Update(p) => write::exec_update(p, cx),
        Bound::Delete(p) => write::exec_delete(p, cx),
        Bound::Ddl(stmt) => {
            ddl::exec_ddl(stmt, cx)?;
            Ok(QueryResult::default())
        }
        Bound::CreateFunction(src) => {
            plpgsql::create_function(src, cx)?;
            Ok(QueryResult::default())
        }
    }
}
