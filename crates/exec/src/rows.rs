//! Typed access to system-table rows: keys and rows in the store codec,
//! every decoding failure a [`ExecError::CorruptState`] naming the table.
//!
//! A system table's key is the codec key of its primary-key columns and its
//! row is the codec row of all its columns, in `CREATE TABLE` order; the
//! helpers here keep that convention in one place.

use std::ops::Bound;

use aergo_store::codec::{decode_row, encode_key, encode_row};
use aergo_store::{Direction, TableStore, Value};
use aergo_types::Amount;
use rust_decimal::Decimal;

use crate::ExecError;

pub(crate) fn corrupt(table: &'static str, reason: impl Into<String>) -> ExecError {
    ExecError::CorruptState { table, reason: reason.into() }
}

/// Reads the row stored under the key made of `key` values.
pub(crate) fn read(view: &dyn TableStore, table: &'static str, key: &[Value]) -> Result<Option<Vec<Value>>, ExecError> {
    let Some(bytes) = view.get(table, &encode_key(key))? else {
        return Ok(None);
    };
    decode_row(&bytes).map(Some).map_err(|e| corrupt(table, e.to_string()))
}

/// Writes `row` under the key made of `key` values.
pub(crate) fn write(view: &mut dyn TableStore, table: &str, key: &[Value], row: &[Value]) -> Result<(), ExecError> {
    view.put(table, encode_key(key), encode_row(row))?;
    Ok(())
}

pub(crate) fn delete(view: &mut dyn TableStore, table: &str, key: &[Value]) -> Result<(), ExecError> {
    view.delete(table, &encode_key(key))?;
    Ok(())
}

/// The rows whose key starts with the values `prefix`, in key order, at
/// most `limit` of them; more is corruption (every caller knows its bound).
pub(crate) fn scan_prefix(
    view: &dyn TableStore,
    table: &'static str,
    prefix: &[Value],
    limit: usize,
) -> Result<Vec<Vec<Value>>, ExecError> {
    let lower = encode_key(prefix);
    // Every encoded value starts with a type tag below 0xFF, so appending
    // 0xFF bounds exactly the keys that extend `prefix`.
    let mut upper = lower.clone();
    upper.push(0xFF);
    let mut out = Vec::new();
    let iter = if prefix.is_empty() {
        view.range(table, Bound::Unbounded, Bound::Unbounded, Direction::Forward)?
    } else {
        view.range(table, Bound::Included(&lower), Bound::Excluded(&upper), Direction::Forward)?
    };
    for entry in iter {
        let (_, bytes) = entry?;
        if out.len() == limit {
            return Err(corrupt(table, format!("more than {limit} rows under one key prefix")));
        }
        out.push(decode_row(&bytes).map_err(|e| corrupt(table, e.to_string()))?);
    }
    Ok(out)
}

/// The first row whose key starts with `prefix`, in key order.
pub(crate) fn first_with_prefix(
    view: &dyn TableStore,
    table: &'static str,
    prefix: &[Value],
) -> Result<Option<Vec<Value>>, ExecError> {
    let lower = encode_key(prefix);
    let mut upper = lower.clone();
    upper.push(0xFF);
    let mut iter = view.range(table, Bound::Included(&lower), Bound::Excluded(&upper), Direction::Forward)?;
    match iter.next() {
        None => Ok(None),
        Some(entry) => {
            let (_, bytes) = entry?;
            decode_row(&bytes).map(Some).map_err(|e| corrupt(table, e.to_string()))
        }
    }
}

/// An amount as a NUMERIC value. Amounts here are bounded by the supply
/// (5e26 aer), well inside NUMERIC's 28 digits; anything larger is refused.
pub(crate) fn amount_value(table: &'static str, amount: Amount) -> Result<Value, ExecError> {
    let aer = i128::try_from(amount.aer()).map_err(|_| corrupt(table, format!("amount {amount} out of range")))?;
    Decimal::try_from_i128_with_scale(aer, 0)
        .map(Value::Numeric)
        .map_err(|_| corrupt(table, format!("amount {} aer does not fit NUMERIC", amount.aer())))
}

/// The negated amount, the leading key column of the ranking tables (so an
/// ascending scan meets the largest amounts first).
pub(crate) fn neg_amount_value(table: &'static str, amount: Amount) -> Result<Value, ExecError> {
    match amount_value(table, amount)? {
        Value::Numeric(d) => Ok(Value::Numeric(-d)),
        other => Ok(other),
    }
}

pub(crate) fn as_amount(table: &'static str, v: &Value) -> Result<Amount, ExecError> {
    let Value::Numeric(d) = v else {
        return Err(corrupt(table, format!("expected NUMERIC, got {}", v.type_name())));
    };
    if d.is_sign_negative() || !d.fract().is_zero() {
        return Err(corrupt(table, format!("amount {d} is not a whole non-negative number")));
    }
    let aer = d.trunc().mantissa() / 10i128.pow(d.scale());
    u128::try_from(aer).map(Amount::from_aer).map_err(|_| corrupt(table, format!("amount {d} out of range")))
}

pub(crate) fn u64_value(table: &'static str, v: u64) -> Result<Value, ExecError> {
    i64::try_from(v).map(Value::Int).map_err(|_| corrupt(table, format!("{v} exceeds BIGINT")))
}

pub(crate) fn as_u64(table: &'static str, v: &Value) -> Result<u64, ExecError> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as u64),
        other => Err(corrupt(table, format!("expected a non-negative BIGINT, got {other:?}"))),
    }
}

pub(crate) fn as_text(table: &'static str, v: &Value) -> Result<String, ExecError> {
    match v {
        Value::Text(s) => Ok(s.clone()),
        other => Err(corrupt(table, format!("expected TEXT, got {}", other.type_name()))),
    }
}

pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_store::codec::encode_key;

    #[test]
    fn negated_amounts_sort_largest_first() {
        let small = neg_amount_value("t", Amount::from_aer(5)).unwrap();
        let big = neg_amount_value("t", Amount::TOTAL_SUPPLY).unwrap();
        assert!(encode_key(&[big]) < encode_key(&[small]));
        assert!(amount_value("t", Amount::from_aer(u128::MAX)).is_err());
        let v = amount_value("t", Amount::TOTAL_SUPPLY).unwrap();
        assert_eq!(as_amount("t", &v).unwrap(), Amount::TOTAL_SUPPLY);
        assert!(as_amount("t", &neg_amount_value("t", Amount::ONE_AERGO).unwrap()).is_err());
    }
}
