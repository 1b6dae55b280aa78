//! Scans: evaluating an access path's keys into a byte range, and reading
//! the rows a scan selects (point lookups, IN lists, key and index ranges)
//! in chunks.

use std::collections::BTreeSet;
use std::ops::Bound;

use aergo_store::codec::{decode_key, decode_row, encode_key, encode_key_value};
use aergo_store::{Direction, Value};
use rust_decimal::Decimal;

use crate::catalog::TableDef;
use crate::error::{internal, Result, SqlError};
use crate::ir::{Access, Row, Scan};
use crate::types::{self, SqlType};

use super::cx::Cx;
use super::eval::{eval, leaf};

/// Rows read from the store per chunk of a scan.
const SCAN_CHUNK: usize = 256;

/// What a lookup value means for a key column of type `ty`.
enum KeyVal {
    Exact(Value),
    /// Not representable: equality never holds; for bounds, the nearest
    /// representable values below and above.
    Between(Value, Value),
    /// NULL: no row can match.
    Empty,
    /// Not comparable in key order: fall back to scanning.
    Unusable,
}

/// Whether `key_value(v, ty)` is `Exact(v)` itself: no conversion, no NULL.
fn is_exact_key(v: &Value, ty: SqlType) -> bool {
    match (v, ty) {
        (Value::Int(_), t) => t.is_integer(),
        (Value::Numeric(_), SqlType::Numeric(_)) => true,
        (Value::Text(_), t) => t.is_text(),
        (Value::Bool(_), SqlType::Bool)
        | (Value::Bytes(_), SqlType::Bytea)
        | (Value::Timestamp(_), SqlType::Timestamp) => true,
        _ => false,
    }
}

fn key_value(v: Value, ty: SqlType) -> KeyVal {
    match (&v, ty) {
        (Value::Null, _) => KeyVal::Empty,
        (Value::Int(_), t) if t.is_integer() => KeyVal::Exact(v),
        (Value::Numeric(d), t) if t.is_integer() => {
            if d.fract().is_zero() {
                match rust_decimal::prelude::ToPrimitive::to_i64(d) {
                    Some(i) => KeyVal::Exact(Value::Int(i)),
                    None => KeyVal::Unusable,
                }
            } else {
                match (
                    rust_decimal::prelude::ToPrimitive::to_i64(&d.floor()),
                    rust_decimal::prelude::ToPrimitive::to_i64(&d.ceil()),
                ) {
                    (Some(lo), Some(hi)) => KeyVal::Between(Value::Int(lo), Value::Int(hi)),
                    _ => KeyVal::Unusable,
                }
            }
        }
        (Value::Int(i), SqlType::Numeric(_)) => KeyVal::Exact(Value::Numeric(Decimal::from(*i))),
        (Value::Numeric(_), SqlType::Numeric(_)) => KeyVal::Exact(v),
        (Value::Text(_), t) if t.is_text() => KeyVal::Exact(v),
        (Value::Text(s), t) => match types::cast(Value::Text(s.clone()), t) {
            Ok(c) => key_value(c, t),
            Err(_) => KeyVal::Unusable,
        },
        (Value::Bool(_), SqlType::Bool)
        | (Value::Bytes(_), SqlType::Bytea)
        | (Value::Timestamp(_), SqlType::Timestamp) => KeyVal::Exact(v),
        _ => KeyVal::Unusable,
    }
}

pub(crate) enum KeyRange {
    Empty,
    Full,
    Bytes(Bound<Vec<u8>>, Bound<Vec<u8>>),
}

pub(super) fn with(mut a: Vec<u8>, b: &[u8]) -> Vec<u8> {
    a.extend_from_slice(b);
    a
}

/// Evaluates an access path's key expressions into a byte range.
pub(crate) fn key_range(access: &Access, input: &[Value], cx: &mut Cx<'_>) -> Result<KeyRange> {
    let Access::Range { eq, lower, upper, key_types, .. } = access else { return Ok(KeyRange::Full) };
    // The key encoding of several values is the concatenation of theirs.
    let mut prefix = Vec::new();
    for (e, ty) in eq.iter().zip(key_types) {
        if let Some(v) = leaf(e, input, cx).filter(|v| is_exact_key(v, *ty)) {
            // A column, variable or parameter already of the key's type:
            // encoded where it is (charged as evaluating it would be).
            encode_key_value(v, &mut prefix);
            cx.gas.charge(cx.schedule.expr_step)?;
            continue;
        }
        match key_value(eval(e, input, cx)?, *ty) {
            KeyVal::Exact(v) => encode_key_value(&v, &mut prefix),
            KeyVal::Between(..) | KeyVal::Empty => return Ok(KeyRange::Empty),
            KeyVal::Unusable => return Ok(KeyRange::Full),
        }
    }
    let next_ty = key_types.get(eq.len()).copied();
    let (Some(ty), true) = (next_ty, lower.is_some() || upper.is_some()) else {
        // Equalities only (a point lookup, when they cover the key): the
        // prefix is the lower bound as it is.
        let hi = with(prefix.clone(), &[0xFF]);
        return Ok(KeyRange::Bytes(Bound::Included(prefix), Bound::Excluded(hi)));
    };
    let mut hi: Bound<Vec<u8>> = Bound::Excluded(with(prefix.clone(), &[0xFF]));
    // A bounded range never includes NULL (encoded as 0x05).
    let mut lo = Bound::Included(with(prefix.clone(), &[0x06]));
    if let Some((e, inclusive)) = lower {
        match key_value(eval(e, input, cx)?, ty) {
            KeyVal::Exact(v) => {
                let k = with(prefix.clone(), &encode_key(&[v]));
                lo = Bound::Included(if *inclusive { k } else { with(k, &[0xFF]) });
            }
            KeyVal::Between(_, above) => lo = Bound::Included(with(prefix.clone(), &encode_key(&[above]))),
            KeyVal::Empty => return Ok(KeyRange::Empty),
            KeyVal::Unusable => return Ok(KeyRange::Full),
        }
    }
    if let Some((e, inclusive)) = upper {
        match key_value(eval(e, input, cx)?, ty) {
            KeyVal::Exact(v) => {
                let k = with(prefix.clone(), &encode_key(&[v]));
                hi = Bound::Excluded(if *inclusive { with(k, &[0xFF]) } else { k });
            }
            KeyVal::Between(below, _) => {
                hi = Bound::Excluded(with(with(prefix.clone(), &encode_key(&[below])), &[0xFF]))
            }
            KeyVal::Empty => return Ok(KeyRange::Empty),
            KeyVal::Unusable => return Ok(KeyRange::Full),
        }
    }
    Ok(KeyRange::Bytes(lo, hi))
}

pub(super) fn as_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Primary-key bytes from an index entry key (`index cols ++ pk`).
pub(super) fn pk_from_index_key(table: &TableDef, ix_cols: usize, key: &[u8]) -> Result<Vec<u8>> {
    let vals = decode_key(key)?;
    let pk_len = if table.has_rowid() { 1 } else { table.primary_key.len() };
    if vals.len() != ix_cols + pk_len {
        return Err(internal(format!("index entry of {} has {} values", table.name, vals.len())));
    }
    Ok(encode_key(&vals[ix_cols..]))
}

fn decode_table_row(table: &TableDef, bytes: &[u8]) -> Result<Row> {
    let row = decode_row(bytes)?;
    if row.len() != table.columns.len() {
        return Err(SqlError::CorruptCatalog {
            name: table.store_name().to_string(),
            reason: format!("row has {} values, table has {} columns", row.len(), table.columns.len()),
        });
    }
    Ok(row)
}

/// Reads the rows a scan selects, with their primary-key bytes.
pub fn scan_rows(scan: &Scan, input: &[Value], cx: &mut Cx<'_>, budget: Option<usize>) -> Result<Vec<(Vec<u8>, Row)>> {
    let table = &scan.table;
    let tname = table.store_name();
    let mut out: Vec<(Vec<u8>, Row)> = Vec::new();
    let full = |b: Option<usize>| b.is_some_and(|b| b == 0);
    if full(budget) {
        return Ok(out);
    }
    // Collects one candidate row if it passes the filter; true when done.
    let accept = |key: Vec<u8>, row: Row, cx: &mut Cx<'_>, out: &mut Vec<(Vec<u8>, Row)>| -> Result<bool> {
        if let Some(f) = &scan.filter {
            if types::truth(&eval(f, &row, cx)?)? != Some(true) {
                return Ok(false);
            }
        }
        out.push((key, row));
        cx.check_rows(out.len())?;
        Ok(budget.is_some_and(|b| out.len() >= b))
    };
    match &scan.access {
        Access::InList { index, values, key_type } => {
            let mut keys = BTreeSet::new();
            for e in values {
                match key_value(eval(e, input, cx)?, *key_type) {
                    KeyVal::Exact(v) => {
                        keys.insert(encode_key(&[v]));
                    }
                    KeyVal::Between(..) | KeyVal::Empty => {}
                    KeyVal::Unusable => {
                        return scan_rows(
                            &Scan { access: Access::Full { reverse: false }, ..scan.clone() },
                            input,
                            cx,
                            budget,
                        )
                    }
                }
            }
            for k in keys {
                match index {
                    None if table.primary_key.len() == 1 => {
                        if let Some(bytes) = cx.get(tname, &k)? {
                            let row = decode_table_row(table, &bytes)?;
                            if accept(k, row, cx, &mut out)? {
                                break;
                            }
                        }
                    }
                    _ => {
                        // Prefix scan on the pk or index.
                        let hi = with(k.clone(), &[0xFF]);
                        let mut done = false;
                        let store_table = match index {
                            None => tname.to_string(),
                            Some(i) => table.index_store_name(&table.indexes[*i]),
                        };
                        let mut lo: Bound<Vec<u8>> = Bound::Included(k.clone());
                        loop {
                            let chunk = cx.range_chunk(
                                &store_table,
                                as_bound(&lo),
                                Bound::Excluded(&hi),
                                Direction::Forward,
                                SCAN_CHUNK,
                            )?;
                            let n = chunk.len();
                            for (ek, ev) in chunk {
                                lo = Bound::Excluded(ek.clone());
                                let (pk, row) = match index {
                                    None => (ek, decode_table_row(table, &ev)?),
                                    Some(i) => {
                                        let pk = pk_from_index_key(table, table.indexes[*i].columns.len(), &ek)?;
                                        match cx.get(tname, &pk)? {
                                            Some(b) => (pk, decode_table_row(table, &b)?),
                                            None => return Err(internal("index entry without row")),
                                        }
                                    }
                                };
                                if accept(pk, row, cx, &mut out)? {
                                    done = true;
                                    break;
                                }
                            }
                            if done || n < SCAN_CHUNK {
                                break;
                            }
                        }
                        if done {
                            break;
                        }
                    }
                }
            }
            Ok(out)
        }
        Access::Full { .. } | Access::Range { .. } => {
            let (index, reverse) = match &scan.access {
                Access::Full { reverse } => (None, *reverse),
                Access::Range { index, reverse, .. } => (*index, *reverse),
                Access::InList { .. } => (None, false),
            };
            let range = key_range(&scan.access, input, cx)?;
            let (lo, hi) = match range {
                KeyRange::Empty => return Ok(out),
                KeyRange::Full => (Bound::Unbounded, Bound::Unbounded),
                KeyRange::Bytes(lo, hi) => (lo, hi),
            };
            // Point lookup: full primary key equality.
            if let (None, Access::Range { eq, .. }) = (index, &scan.access) {
                if !table.primary_key.is_empty() && eq.len() == table.primary_key.len() {
                    if let Bound::Included(k) = &lo {
                        if let Some(bytes) = cx.get(tname, k)? {
                            let row = decode_table_row(table, &bytes)?;
                            accept(k.clone(), row, cx, &mut out)?;
                        }
                        return Ok(out);
                    }
                }
            }
            let store_table = match index {
                None => tname.to_string(),
                Some(i) => table.index_store_name(&table.indexes[i]),
            };
            let dir = if reverse { Direction::Reverse } else { Direction::Forward };
            let (mut lo, mut hi) = (lo, hi);
            loop {
                let chunk = cx.range_chunk(&store_table, as_bound(&lo), as_bound(&hi), dir, SCAN_CHUNK)?;
                let n = chunk.len();
                let mut done = false;
                for (ek, ev) in chunk {
                    if reverse {
                        hi = Bound::Excluded(ek.clone());
                    } else {
                        lo = Bound::Excluded(ek.clone());
                    }
                    let (pk, row) = match index {
                        None => (ek, decode_table_row(table, &ev)?),
                        Some(i) => {
                            let pk = pk_from_index_key(table, table.indexes[i].columns.len(), &ek)?;
                            match cx.get(tname, &pk)? {
                                Some(b) => (pk, decode_table_row(table, &b)?),
                                None => return Err(internal("index entry without row")),
                            }
                        }
                    };
                    if accept(pk, row, cx, &mut out)? {
                        done = true;
                        break;
                    }
                }
                if done || n < SCAN_CHUNK {
                    break;
                }
            }
            Ok(out)
        }
    }
}
