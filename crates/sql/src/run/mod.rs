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

use std::collections::BTreeMap;

use aergo_store::Value;

use crate::context::QueryResult;
use crate::error::{Result, SqlError};
use crate::ir::{explain_annotated, Bound, Plan};
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
        Bound::ExplainAnalyze { plan } => explain_analyze(plan, cx),
    }
}

/// Runs `plan` with every operator's rows and gas counted, and returns the
/// plan's lines with them. Only where nothing can be written (the query
/// API, the SQL shell): it runs the query, and a plan is for reading.
/// Gas, not time: the figures are the same on every node and every run.
fn explain_analyze(plan: &Plan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    if !cx.ctx.read_only {
        return Err(SqlError::Unsupported {
            feature: "EXPLAIN ANALYZE outside a read-only query (it runs the query: use the query API)".into(),
        });
    }
    let before = cx.gas.used();
    let outer = cx.profile.replace(BTreeMap::new());
    let r = query::run(plan, &[], cx, None);
    let stats = std::mem::replace(&mut cx.profile, outer).unwrap_or_default();
    let rows = r?;
    let note = |op: &Plan| {
        stats.get(&query::op_id(op)).map(|s| format!("(actual rows={} loops={} gas={})", s.rows, s.loops, s.gas))
    };
    let mut lines = explain_annotated(plan, &note);
    lines.push(format!("Result: rows={} gas={}", rows.len(), cx.gas.used().saturating_sub(before)));
    Ok(QueryResult {
        columns: vec!["QUERY PLAN".into()],
        column_types: vec![Some(types::SqlType::Text)],
        rows_affected: lines.len() as u64,
        rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
        notices: vec![],
    })
}
