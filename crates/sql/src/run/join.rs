//! Joins: nested loops (the right side run once, or once per left row when
//! it reads the left row's keys) and hash joins.
//!
//! A hash join builds a table of the right rows keyed by their join-key
//! values and probes it with each left row. Output order is the nested
//! loop's: left rows in input order, and for each the matching right rows
//! in the right side's order (a bucket holds row positions in ascending
//! order). The table is a `BTreeMap` used for lookups only, so nothing
//! about hashing or map order can reach a result.
//!
//! Keys are canonical per value class: integers and decimals compare by
//! numeric value, so both encode as the normalized decimal; text, booleans,
//! bytes and timestamps encode their exact value. Two values of different
//! classes (text against a number, say) may still be equal after a cast,
//! so a probe key also visits every right row whose key classes differ
//! from its own and lets the join condition decide, errors included.

use std::collections::BTreeMap;

use aergo_store::Value;

use crate::error::{internal, Result};
use crate::ir::{Expr, HashKeys, JoinKind, Plan, Row};
use crate::types;

use super::cx::Cx;
use super::eval::eval;
use super::query::run;

/// The join's shape, as the plan gives it.
pub(super) struct JoinSpec<'p> {
    pub left: &'p Plan,
    pub right: &'p Plan,
    pub kind: JoinKind,
    pub cond: Option<&'p Expr>,
    pub right_width: usize,
    pub right_correlated: bool,
    pub hash: Option<&'p HashKeys>,
}

pub(super) fn run_join(j: &JoinSpec<'_>, input: &[Value], cx: &mut Cx<'_>, budget: Option<usize>) -> Result<Vec<Row>> {
    let lrows = run(j.left, input, cx, None)?;
    let fixed_right = if j.right_correlated { None } else { Some(run(j.right, &[], cx, None)?) };
    let table = match (j.hash, &fixed_right) {
        (Some(h), Some(rrows)) => Some(build(&h.right, rrows, cx)?),
        _ => None,
    };
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut candidates: Vec<usize> = Vec::new();
    for l in lrows {
        let owned;
        let rrows = match &fixed_right {
            Some(r) => r,
            None => {
                owned = run(j.right, &l, cx, None)?;
                &owned
            }
        };
        let picked: Option<&[usize]> = match (&table, j.hash) {
            (Some(t), Some(h)) => {
                cx.gas.charge(cx.schedule.row_process)?;
                t.probe(&h.left, &l, cx, &mut candidates)?;
                Some(&candidates)
            }
            _ => None,
        };
        let pairs = picked.map_or(rrows.len(), <[usize]>::len);
        let left_width = l.len();
        // The left row is moved, not copied, into its last candidate's
        // joined row (a key lookup's only one): the left side is the wide
        // one, all the columns joined so far, and copying it per step was
        // most of a join's work. A candidate the condition rejects gives it
        // back.
        let mut left = Some(l);
        let mut matched = false;
        for p in 0..pairs {
            let r = &rrows[picked.map_or(p, |idx| idx[p])];
            cx.gas.charge(cx.schedule.row_process)?;
            let mut row = match (p + 1 == pairs, left.take()) {
                (true, Some(mut l)) => {
                    l.reserve(r.len());
                    l
                }
                (_, l) => {
                    let from =
                        l.as_deref().ok_or_else(|| internal("join: the left row was moved before its last pair"))?;
                    let mut row = Vec::with_capacity(left_width + r.len());
                    row.extend_from_slice(from);
                    left = l;
                    row
                }
            };
            row.extend_from_slice(r);
            let ok = match j.cond {
                Some(c) => types::truth(&eval(c, &row, cx)?)? == Some(true),
                None => true,
            };
            if ok {
                matched = true;
                // The joined row is a copy of both sides: memory that
                // costs gas and counts against the bound.
                let row_bytes = types::row_bytes(&row);
                cx.charge_created(row_bytes)?;
                bytes += row_bytes;
                cx.check_bytes(bytes)?;
                out.push(row);
                cx.check_rows(out.len())?;
            } else if left.is_none() {
                row.truncate(left_width);
                left = Some(row);
            }
        }
        if !matched && j.kind == JoinKind::Left {
            let mut row = left.ok_or_else(|| internal("join: an unmatched left row was moved"))?;
            row.extend(std::iter::repeat_n(Value::Null, j.right_width));
            out.push(row);
        }
        if budget.is_some_and(|b| out.len() >= b) {
            break;
        }
    }
    Ok(out)
}

/// Right rows by key classes, then key bytes; positions ascending.
struct HashTable {
    by_classes: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<usize>>>,
}

/// Builds the table over `rows`. Every row costs a row's processing; every
/// key byte is memory the join creates, charged and bounded like a
/// materialised row.
fn build(keys: &[Expr], rows: &[Row], cx: &mut Cx<'_>) -> Result<HashTable> {
    let mut by_classes: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<usize>>> = BTreeMap::new();
    let mut held = 0usize;
    for (i, r) in rows.iter().enumerate() {
        cx.gas.charge(cx.schedule.row_process)?;
        let Some((classes, bytes)) = key_of(keys, r, cx)? else {
            // A NULL key equals nothing.
            continue;
        };
        let size = classes.len() + bytes.len() + std::mem::size_of::<usize>();
        cx.charge_created(size)?;
        held += size;
        cx.check_bytes(held)?;
        by_classes.entry(classes).or_default().entry(bytes).or_default().push(i);
    }
    Ok(HashTable { by_classes })
}

impl HashTable {
    /// The right positions a left row may join, ascending, into `out`.
    fn probe(&self, keys: &[Expr], row: &[Value], cx: &mut Cx<'_>, out: &mut Vec<usize>) -> Result<()> {
        out.clear();
        let Some((classes, bytes)) = key_of(keys, row, cx)? else { return Ok(()) };
        let mut sources = 0;
        for (c, m) in &self.by_classes {
            if *c == classes {
                if let Some(v) = m.get(&bytes) {
                    out.extend_from_slice(v);
                    sources += 1;
                }
            } else {
                // Different classes: only the condition can tell.
                for v in m.values() {
                    out.extend_from_slice(v);
                }
                sources += 2;
            }
        }
        if sources > 1 {
            out.sort_unstable();
        }
        Ok(())
    }
}

/// The key classes and canonical key bytes of `row`, or None if a key is NULL.
fn key_of(keys: &[Expr], row: &[Value], cx: &mut Cx<'_>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut classes = Vec::with_capacity(keys.len());
    let mut bytes = Vec::new();
    for k in keys {
        let v = eval(k, row, cx)?;
        let (class, enc): (u8, Vec<u8>) = match v {
            Value::Null => return Ok(None),
            Value::Int(i) => (1, canonical_int(i)),
            Value::Numeric(d) => (1, canonical_decimal(d)),
            Value::Text(s) => (2, s.into_bytes()),
            Value::Bool(b) => (3, vec![u8::from(b)]),
            Value::Bytes(b) => (4, b),
            Value::Timestamp(t) => (5, t.to_be_bytes().to_vec()),
        };
        classes.push(class);
        // Length-prefixed so that a multi-column key has one reading.
        bytes.extend_from_slice(&(enc.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&enc);
    }
    Ok(Some((classes, bytes)))
}

/// Equal numbers give equal bytes: 1, 1.0 and 1.00 alike, and -0 is 0.
/// An integral value that fits 64 bits is its big-endian integer (no
/// formatting on the common path); any other is its normalized decimal
/// text, behind a different tag.
fn canonical_int(i: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(9);
    v.push(b'i');
    v.extend_from_slice(&i.to_be_bytes());
    v
}

fn canonical_decimal(d: rust_decimal::Decimal) -> Vec<u8> {
    if d.fract().is_zero() {
        if let Some(i) = rust_decimal::prelude::ToPrimitive::to_i64(&d) {
            return canonical_int(i);
        }
    }
    let mut v = vec![b'd'];
    v.extend_from_slice(d.normalize().to_string().as_bytes());
    v
}
