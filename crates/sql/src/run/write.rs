//! Row writes with their constraint checks and index maintenance, and the
//! INSERT (with ON CONFLICT), UPDATE and DELETE statements built on them.

use std::ops::Bound;

use aergo_store::codec::{decode_key, encode_key, encode_row};
use aergo_store::{Direction, Value};

use crate::catalog::TableDef;
use crate::context::QueryResult;
use crate::error::{internal, Result, SqlError};
use crate::ir::{DeletePlan, Expr, InsertPlan, Row, UpdatePlan};
use crate::types;

use super::cx::Cx;
use super::eval::eval;
use super::query;
use super::scan::{pk_from_index_key, scan_rows, with};

/// The key of a row: its primary key, or a new hidden row id.
pub fn row_key(cx: &mut Cx<'_>, table: &TableDef, row: &[Value]) -> Result<Vec<u8>> {
    if table.has_rowid() {
        let tname = table.store_name();
        let last = cx.range_chunk(tname, Bound::Unbounded, Bound::Unbounded, Direction::Reverse, 1)?;
        let next = match last.first() {
            None => 1,
            Some((k, _)) => match decode_key(k)?.first() {
                Some(Value::Int(i)) => i.checked_add(1).ok_or_else(|| types::overflow("row id"))?,
                _ => return Err(internal("hidden row id is not an integer")),
            },
        };
        Ok(encode_key(&[Value::Int(next)]))
    } else {
        let vals: Vec<Value> = table.primary_key.iter().map(|&i| row[i].clone()).collect();
        Ok(encode_key(&vals))
    }
}

fn index_key(table: &TableDef, ix: usize, row: &[Value], pk: &[u8]) -> Vec<u8> {
    table.index_key(ix, row, pk)
}

/// Checks NOT NULL and CHECK constraints of a complete row.
pub fn check_row(cx: &mut Cx<'_>, table: &TableDef, checks: &[(String, Expr)], row: &[Value]) -> Result<()> {
    for (i, c) in table.columns.iter().enumerate() {
        if row[i] == Value::Null && (c.not_null || table.primary_key.contains(&i)) {
            return Err(SqlError::NotNullViolation { table: table.name.clone(), column: c.name.clone() });
        }
    }
    for (name, e) in checks {
        // A CHECK fails only when false; NULL passes, as in SQL.
        if types::truth(&eval(e, row, cx)?)? == Some(false) {
            return Err(SqlError::CheckViolation { table: table.name.clone(), constraint: name.clone() });
        }
    }
    Ok(())
}

/// The unique index (or primary key: `None`) that `row` would violate.
pub fn find_conflict(
    cx: &mut Cx<'_>,
    table: &TableDef,
    row: &[Value],
    pk: &[u8],
    is_new_key: bool,
    old_pk: Option<&[u8]>,
) -> Result<Option<(Option<usize>, Vec<u8>)>> {
    if is_new_key && !table.has_rowid() && cx.get(table.store_name(), pk)?.is_some() {
        return Ok(Some((None, pk.to_vec())));
    }
    for (i, ix) in table.indexes.iter().enumerate() {
        if !ix.unique {
            continue;
        }
        let vals: Vec<Value> = ix.columns.iter().map(|&c| row[c].clone()).collect();
        if vals.contains(&Value::Null) {
            continue;
        }
        let prefix = encode_key(&vals);
        let hi = with(prefix.clone(), &[0xFF]);
        let store_table = table.index_store_name(ix);
        let hits =
            cx.range_chunk(&store_table, Bound::Included(&prefix), Bound::Excluded(&hi), Direction::Forward, 2)?;
        for (k, _) in hits {
            let other = pk_from_index_key(table, ix.columns.len(), &k)?;
            if other != pk && Some(other.as_slice()) != old_pk {
                return Ok(Some((Some(i), other)));
            }
        }
    }
    Ok(None)
}

pub fn conflict_error(table: &TableDef, which: Option<usize>) -> SqlError {
    SqlError::UniqueViolation {
        table: table.name.clone(),
        constraint: match which {
            None => format!("{}_pkey", table.name),
            Some(i) => table.indexes[i].name.clone(),
        },
    }
}

pub fn write_row(cx: &mut Cx<'_>, table: &TableDef, pk: Vec<u8>, row: &[Value]) -> Result<()> {
    for i in 0..table.indexes.len() {
        let k = index_key(table, i, row, &pk);
        let name = table.index_store_name(&table.indexes[i]);
        cx.put(&name, k, Vec::new())?;
    }
    cx.put(table.store_name(), pk, encode_row(row))
}

pub fn remove_row(cx: &mut Cx<'_>, table: &TableDef, pk: &[u8], row: &[Value]) -> Result<()> {
    for i in 0..table.indexes.len() {
        let k = index_key(table, i, row, pk);
        let name = table.index_store_name(&table.indexes[i]);
        cx.delete(&name, &k)?;
    }
    cx.delete(table.store_name(), pk)
}

/// Replaces `old` (at `old_pk`) by `new`, keeping indexes in step.
pub fn replace_row(cx: &mut Cx<'_>, table: &TableDef, old_pk: &[u8], old: &[Value], new: &[Value]) -> Result<Vec<u8>> {
    let new_pk = if table.has_rowid() { old_pk.to_vec() } else { row_key(cx, table, new)? };
    let key_changed = new_pk != old_pk;
    if let Some((which, _)) = find_conflict(cx, table, new, &new_pk, key_changed, Some(old_pk))? {
        return Err(conflict_error(table, which));
    }
    for i in 0..table.indexes.len() {
        let ok = index_key(table, i, old, old_pk);
        let nk = index_key(table, i, new, &new_pk);
        if ok != nk {
            let name = table.index_store_name(&table.indexes[i]);
            cx.delete(&name, &ok)?;
            cx.put(&name, nk, Vec::new())?;
        }
    }
    let tname = table.store_name();
    if key_changed {
        cx.delete(tname, old_pk)?;
    }
    cx.put(tname, new_pk.clone(), encode_row(new))?;
    Ok(new_pk)
}

fn returning_row(ret: &Option<Vec<Expr>>, row: &[Value], cx: &mut Cx<'_>, out: &mut Vec<Row>) -> Result<()> {
    if let Some(exprs) = ret {
        let mut r = Vec::with_capacity(exprs.len());
        for e in exprs {
            r.push(eval(e, row, cx)?);
        }
        out.push(r);
    }
    Ok(())
}

pub(super) fn exec_insert(p: &InsertPlan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let t = &p.table;
    cx.check_write(t)?;
    let rows = query::run(&p.source, &[], cx, None)?;
    let mut affected = 0u64;
    let mut returned = Vec::new();
    for src in rows {
        let mut row = Vec::with_capacity(t.columns.len());
        for d in &p.defaults {
            row.push(match d {
                Some(e) => eval(e, &[], cx)?,
                None => Value::Null,
            });
        }
        for (v, &c) in src.into_iter().zip(&p.columns) {
            row[c] = v;
        }
        for (i, c) in t.columns.iter().enumerate() {
            row[i] = types::assign(std::mem::replace(&mut row[i], Value::Null), c.ty, &c.name)?;
        }
        check_row(cx, t, &p.checks, &row)?;
        let pk = row_key(cx, t, &row)?;
        match find_conflict(cx, t, &row, &pk, true, None)? {
            None => {
                write_row(cx, t, pk, &row)?;
                affected += 1;
                returning_row(&p.returning, &row, cx, &mut returned)?;
            }
            Some((which, existing_pk)) => {
                let oc = match &p.on_conflict {
                    Some(oc) if oc.target.is_none() || oc.target == Some(which) => oc,
                    _ => return Err(conflict_error(t, which)),
                };
                let Some((assigns, sel)) = &oc.update else { continue };
                let bytes =
                    cx.get(t.store_name(), &existing_pk)?.ok_or_else(|| internal("conflicting row vanished"))?;
                let old = aergo_store::codec::decode_row(&bytes)?;
                let mut both = old.clone();
                both.extend(row.iter().cloned());
                if let Some(s) = sel {
                    if types::truth(&eval(s, &both, cx)?)? != Some(true) {
                        continue;
                    }
                }
                let mut new = old.clone();
                for (c, e) in assigns {
                    new[*c] = types::assign(eval(e, &both, cx)?, t.columns[*c].ty, &t.columns[*c].name)?;
                }
                check_row(cx, t, &p.checks, &new)?;
                replace_row(cx, t, &existing_pk, &old, &new)?;
                affected += 1;
                returning_row(&p.returning, &new, cx, &mut returned)?;
            }
        }
    }
    Ok(QueryResult { rows_affected: affected, rows: returned, ..Default::default() })
}

pub(super) fn exec_update(p: &UpdatePlan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let t = &p.scan.table;
    cx.check_write(t)?;
    // Read every target row first, so rows moved by the update are not
    // visited twice.
    let matches = scan_rows(&p.scan, &[], cx, None)?;
    let mut returned = Vec::new();
    let n = matches.len() as u64;
    for (pk, old) in matches {
        let mut new = old.clone();
        for (c, e) in &p.assignments {
            new[*c] = types::assign(eval(e, &old, cx)?, t.columns[*c].ty, &t.columns[*c].name)?;
        }
        check_row(cx, t, &p.checks, &new)?;
        replace_row(cx, t, &pk, &old, &new)?;
        returning_row(&p.returning, &new, cx, &mut returned)?;
    }
    Ok(QueryResult { rows_affected: n, rows: returned, ..Default::default() })
}

pub(super) fn exec_delete(p: &DeletePlan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let t = &p.scan.table;
    cx.check_write(t)?;
    let matches = scan_rows(&p.scan, &[], cx, None)?;
    let mut returned = Vec::new();
    let n = matches.len() as u64;
    for (pk, row) in matches {
        remove_row(cx, t, &pk, &row)?;
        returning_row(&p.returning, &row, cx, &mut returned)?;
    }
    Ok(QueryResult { rows_affected: n, rows: returned, ..Default::default() })
}
