//! SQL types and the operations on values: coercion, casts, comparison,
//! exact arithmetic, text formats.
//!
//! Values at run time are [`aergo_store::Value`]; every integer type is
//! `Value::Int(i64)` and range-checked when assigned to a column, every exact
//! or floating type is `Value::Numeric` (a 96-bit decimal, 28 digits).

use std::cmp::Ordering;
use std::str::FromStr;

use aergo_store::Value;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use sqlparser::ast::{DataType, ExactNumberInfo};

use crate::error::{Result, SqlError};

/// Upper bound on the length of any text or bytea value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Maximum precision of NUMERIC(p, s): what a 96-bit decimal holds exactly.
pub const MAX_NUMERIC_PRECISION: u32 = 28;

/// A column or expression type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    Bool,
    SmallInt,
    Int,
    BigInt,
    /// NUMERIC with an optional (precision, scale).
    Numeric(Option<(u32, u32)>),
    Text,
    /// VARCHAR(n) / CHAR(n): text with a maximum length in characters.
    Varchar(u32),
    Bytea,
    Timestamp,
}

impl SqlType {
    pub fn name(&self) -> String {
        match self {
            SqlType::Bool => "BOOLEAN".into(),
            SqlType::SmallInt => "SMALLINT".into(),
            SqlType::Int => "INTEGER".into(),
            SqlType::BigInt => "BIGINT".into(),
            SqlType::Numeric(None) => "NUMERIC".into(),
            SqlType::Numeric(Some((p, s))) => format!("NUMERIC({p},{s})"),
            SqlType::Text => "TEXT".into(),
            SqlType::Varchar(n) => format!("VARCHAR({n})"),
            SqlType::Bytea => "BYTEA".into(),
            SqlType::Timestamp => "TIMESTAMP".into(),
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, SqlType::SmallInt | SqlType::Int | SqlType::BigInt)
    }

    pub fn is_numeric(&self) -> bool {
        self.is_integer() || matches!(self, SqlType::Numeric(_))
    }

    pub fn is_text(&self) -> bool {
        matches!(self, SqlType::Text | SqlType::Varchar(_))
    }

    /// Maps a parsed SQL data type. Floating types are accepted as aliases of
    /// NUMERIC: binary floating point is not bit-identical across machines
    /// once transcendental functions are involved, and exact decimals give
    /// the same answer everywhere.
    pub fn from_ast(dt: &DataType) -> Result<SqlType> {
        use DataType as D;
        let numeric = |info: &ExactNumberInfo| -> Result<SqlType> {
            match info {
                ExactNumberInfo::None => Ok(SqlType::Numeric(None)),
                ExactNumberInfo::Precision(p) => check_numeric(*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => {
                    if *s < 0 {
                        return Err(SqlError::Unsupported { feature: "NUMERIC with a negative scale".into() });
                    }
                    check_numeric(*p, *s as u64)
                }
            }
        };
        let varchar = |len: &Option<sqlparser::ast::CharacterLength>| -> SqlType {
            match len {
                Some(sqlparser::ast::CharacterLength::IntegerLength { length, .. }) => {
                    SqlType::Varchar((*length).min(MAX_VALUE_BYTES as u64) as u32)
                }
                _ => SqlType::Text,
            }
        };
        Ok(match dt {
            D::Bool | D::Boolean => SqlType::Bool,
            D::SmallInt(_) | D::Int2(_) | D::TinyInt(_) => SqlType::SmallInt,
            D::Int(_) | D::Integer(_) | D::Int4(_) | D::MediumInt(_) => SqlType::Int,
            D::BigInt(_) | D::Int8(_) | D::Int64 => SqlType::BigInt,
            D::Numeric(i) | D::Decimal(i) | D::Dec(i) => numeric(i)?,
            D::Float(_) | D::Real | D::Double(_) | D::DoublePrecision | D::Float4 | D::Float8 | D::Float64 => {
                SqlType::Numeric(None)
            }
            D::Text | D::String(_) => SqlType::Text,
            D::Varchar(l) | D::CharacterVarying(l) | D::CharVarying(l) | D::Nvarchar(l) => varchar(l),
            D::Char(l) | D::Character(l) => match l {
                None => SqlType::Varchar(1),
                Some(_) => varchar(l),
            },
            D::Bytea | D::Blob(_) | D::Varbinary(_) | D::Binary(_) => SqlType::Bytea,
            D::Timestamp(_, tz) => {
                if !matches!(tz, sqlparser::ast::TimezoneInfo::None | sqlparser::ast::TimezoneInfo::WithoutTimeZone) {
                    return Err(SqlError::Unsupported {
                        feature: "TIMESTAMP WITH TIME ZONE (time zones depend on the machine's database)".into(),
                    });
                }
                SqlType::Timestamp
            }
            D::Datetime(_) => SqlType::Timestamp,
            other => return Err(SqlError::Unsupported { feature: format!("data type {other}") }),
        })
    }
}

fn check_numeric(p: u64, s: u64) -> Result<SqlType> {
    if p == 0 || p > MAX_NUMERIC_PRECISION as u64 || s > p {
        return Err(SqlError::InvalidValue {
            ty: "NUMERIC".into(),
            input: format!("precision {p}, scale {s} (precision must be 1..=28 and scale 0..=precision)"),
        });
    }
    Ok(SqlType::Numeric(Some((p as u32, s as u32))))
}

pub fn type_err(context: &str, expected: &str, v: &Value) -> SqlError {
    SqlError::TypeMismatch { context: context.into(), expected: expected.into(), found: v.type_name().into() }
}

/// Parses a numeric literal: integers that fit in i64 stay integers.
pub fn parse_number(s: &str) -> Result<Value> {
    if !s.contains(['.', 'e', 'E']) {
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Int(i));
        }
    }
    let d = if s.contains(['e', 'E']) { Decimal::from_scientific(s).ok() } else { Decimal::from_str(s).ok() };
    d.map(Value::Numeric)
        .ok_or_else(|| SqlError::NumericOutOfRange { context: format!("literal {s} does not fit in 28 digits") })
}

fn to_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Numeric(d) => Some(*d),
        _ => None,
    }
}

/// Converts a value to the given type as an explicit `CAST` does.
pub fn cast(v: Value, ty: SqlType) -> Result<Value> {
    if v == Value::Null {
        return Ok(Value::Null);
    }
    let bad = |v: &Value| SqlError::TypeMismatch {
        context: "CAST".into(),
        expected: ty.name(),
        found: format!("{} value {}", v.type_name(), v),
    };
    match ty {
        SqlType::Bool => match v {
            Value::Bool(_) => Ok(v),
            Value::Int(i) => Ok(Value::Bool(i != 0)),
            Value::Text(ref s) => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
                "f" | "false" | "no" | "n" | "off" | "0" => Ok(Value::Bool(false)),
                _ => Err(SqlError::InvalidValue { ty: "BOOLEAN".into(), input: s.clone() }),
            },
            other => Err(bad(&other)),
        },
        SqlType::SmallInt | SqlType::Int | SqlType::BigInt => {
            let i = match v {
                Value::Int(i) => i,
                Value::Bool(b) => i64::from(b),
                Value::Numeric(d) => {
                    let r = d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
                    r.to_i64()
                        .ok_or_else(|| SqlError::NumericOutOfRange { context: format!("{d} as {}", ty.name()) })?
                }
                Value::Text(ref s) => {
                    s.trim().parse::<i64>().map_err(|_| SqlError::InvalidValue { ty: ty.name(), input: s.clone() })?
                }
                other => return Err(bad(&other)),
            };
            check_int_range(i, ty)?;
            Ok(Value::Int(i))
        }
        SqlType::Numeric(spec) => {
            let d = match v {
                Value::Int(i) => Decimal::from(i),
                Value::Numeric(d) => d,
                Value::Text(ref s) => {
                    let t = s.trim();
                    let parsed = if t.contains(['e', 'E']) {
                        Decimal::from_scientific(t).ok()
                    } else {
                        Decimal::from_str(t).ok()
                    };
                    parsed.ok_or_else(|| SqlError::InvalidValue { ty: "NUMERIC".into(), input: s.clone() })?
                }
                other => return Err(bad(&other)),
            };
            Ok(Value::Numeric(fit_numeric(d, spec)?))
        }
        SqlType::Text => Ok(Value::Text(to_text(&v))),
        SqlType::Varchar(n) => {
            let s = to_text(&v);
            // An explicit cast truncates, as in PostgreSQL.
            Ok(Value::Text(s.chars().take(n as usize).collect()))
        }
        SqlType::Bytea => match v {
            Value::Bytes(_) => Ok(v),
            Value::Text(s) => parse_bytea(&s).map(Value::Bytes),
            other => Err(bad(&other)),
        },
        SqlType::Timestamp => match v {
            Value::Timestamp(_) => Ok(v),
            Value::Text(s) => parse_timestamp(&s).map(Value::Timestamp),
            other => Err(bad(&other)),
        },
    }
}

/// Converts a value for storage in a column of type `ty` (assignment cast):
/// integers are range-checked, numerics rounded to the column's scale,
/// VARCHAR(n) length-checked (an error, not a truncation, as in
/// PostgreSQL), text literals parsed for non-text columns.
pub fn assign(v: Value, ty: SqlType, column: &str) -> Result<Value> {
    match (&v, ty) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::Text(s), SqlType::Varchar(n)) => {
            if s.chars().count() > n as usize {
                return Err(SqlError::InvalidValue {
                    ty: ty.name(),
                    input: format!("value too long for column {column:?} ({} characters)", s.chars().count()),
                });
            }
            Ok(v)
        }
        (Value::Text(_), SqlType::Text) => Ok(v),
        (Value::Bool(_), SqlType::Bool) => Ok(v),
        (Value::Int(i), t) if t.is_integer() => {
            check_int_range(*i, t)?;
            Ok(v)
        }
        (Value::Int(_) | Value::Numeric(_), SqlType::Numeric(_)) => cast(v, ty),
        (Value::Numeric(_), t) if t.is_integer() => cast(v, ty),
        (Value::Bytes(_), SqlType::Bytea) | (Value::Timestamp(_), SqlType::Timestamp) => Ok(v),
        // Untyped string literals reach here as text: parse them.
        (Value::Text(_), _) => cast(v, ty),
        _ => Err(SqlError::TypeMismatch {
            context: format!("column {column:?}"),
            expected: ty.name(),
            found: v.type_name().into(),
        }),
    }
}

fn check_int_range(i: i64, ty: SqlType) -> Result<()> {
    let ok = match ty {
        SqlType::SmallInt => i16::try_from(i).is_ok(),
        SqlType::Int => i32::try_from(i).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(SqlError::NumericOutOfRange { context: format!("{i} does not fit in {}", ty.name()) })
    }
}

/// Rounds to the declared scale and checks the declared precision.
pub fn fit_numeric(d: Decimal, spec: Option<(u32, u32)>) -> Result<Decimal> {
    let Some((p, s)) = spec else { return Ok(d) };
    let mut r = d.round_dp_with_strategy(s, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(s);
    if r.scale() != s {
        return Err(SqlError::NumericOutOfRange { context: format!("{d} cannot have scale {s}") });
    }
    // More than `p - s` integer digits means |r| >= 10^(p - s): compared,
    // not counted by printing (this runs on every NUMERIC assignment).
    // A Decimal holds at most 29 integer digits; 10^28 is the largest
    // power it can hold, and nothing reaches 10^29.
    let max_int_digits = p - s;
    let too_big =
        max_int_digits <= 28 && r.trunc().abs() >= Decimal::from_i128_with_scale(10i128.pow(max_int_digits), 0);
    if too_big {
        return Err(SqlError::NumericOutOfRange {
            context: format!("{d} does not fit in NUMERIC({p},{s}) (at most {} integer digits)", p - s),
        });
    }
    Ok(r)
}

pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Numeric(d) => d.to_string(),
        Value::Text(s) => s.clone(),
        Value::Bytes(b) => {
            let mut s = String::with_capacity(2 + b.len() * 2);
            s.push_str("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
        Value::Timestamp(t) => format_timestamp(*t),
    }
}

fn parse_bytea(s: &str) -> Result<Vec<u8>> {
    let bad = || SqlError::InvalidValue { ty: "BYTEA".into(), input: s.chars().take(64).collect() };
    if let Some(hex) = s.strip_prefix("\\x") {
        if hex.len() % 2 != 0 {
            return Err(bad());
        }
        let mut out = Vec::with_capacity(hex.len() / 2);
        for pair in hex.as_bytes().chunks(2) {
            let txt = std::str::from_utf8(pair).map_err(|_| bad())?;
            out.push(u8::from_str_radix(txt, 16).map_err(|_| bad())?);
        }
        Ok(out)
    } else {
        Ok(s.as_bytes().to_vec())
    }
}

const US_PER_SEC: i64 = 1_000_000;
const US_PER_DAY: i64 = 86_400 * US_PER_SEC;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (or `T` as separator) as
/// microseconds since the epoch; no time zones.
pub fn parse_timestamp(s: &str) -> Result<i64> {
    let bad = || SqlError::InvalidValue { ty: "TIMESTAMP".into(), input: s.chars().take(64).collect() };
    let t = s.trim();
    let (date, time) = match t.find([' ', 'T']) {
        Some(i) => (&t[..i], t[i + 1..].trim()),
        None => (t, ""),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let m: i64 = dp.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let d: i64 = dp.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return Err(bad());
    }
    let month_days = [
        31,
        if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > month_days[(m - 1) as usize] {
        return Err(bad());
    }
    let mut us = days_from_civil(y, m, d) * US_PER_DAY;
    if !time.is_empty() {
        let (hms, frac) = match time.find('.') {
            Some(i) => (&time[..i], &time[i + 1..]),
            None => (time, ""),
        };
        let mut tp = hms.split(':');
        let h: i64 = tp.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let mi: i64 = tp.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let se: i64 = match tp.next() {
            Some(x) => x.parse().map_err(|_| bad())?,
            None => 0,
        };
        if tp.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..60).contains(&se) {
            return Err(bad());
        }
        if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let mut f: i64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad())? };
        for _ in frac.len()..6 {
            f *= 10;
        }
        us += ((h * 60 + mi) * 60 + se) * US_PER_SEC + f;
    }
    Ok(us)
}

pub fn format_timestamp(us: i64) -> String {
    let days = us.div_euclid(US_PER_DAY);
    let rem = us.rem_euclid(US_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / US_PER_SEC;
    let frac = rem % US_PER_SEC;
    let mut s = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// SQL comparison of two non-null values; errors when the types cannot be
/// compared. Integers and numerics compare numerically; text compares by
/// bytes (the "C" collation: locale-independent).
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Int(_) | Value::Numeric(_), Value::Int(_) | Value::Numeric(_)) => {
            to_decimal(a).unwrap_or_default().cmp(&to_decimal(b).unwrap_or_default())
        }
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Timestamp(x), Value::Text(s)) => x.cmp(&parse_timestamp(s)?),
        (Value::Text(s), Value::Timestamp(y)) => parse_timestamp(s)?.cmp(y),
        (Value::Text(s), Value::Int(_) | Value::Numeric(_)) => {
            let n = cast(Value::Text(s.clone()), SqlType::Numeric(None))?;
            return compare(&n, b);
        }
        (Value::Int(_) | Value::Numeric(_), Value::Text(s)) => {
            let n = cast(Value::Text(s.clone()), SqlType::Numeric(None))?;
            return compare(a, &n);
        }
        (Value::Bool(x), Value::Text(s)) => {
            let Value::Bool(y) = cast(Value::Text(s.clone()), SqlType::Bool)? else {
                return Err(type_err("comparison", "BOOLEAN", b));
            };
            x.cmp(&y)
        }
        (Value::Text(s), Value::Bool(y)) => {
            let Value::Bool(x) = cast(Value::Text(s.clone()), SqlType::Bool)? else {
                return Err(type_err("comparison", "BOOLEAN", a));
            };
            x.cmp(y)
        }
        _ => {
            return Err(SqlError::TypeMismatch {
                context: "comparison".into(),
                expected: a.type_name().into(),
                found: b.type_name().into(),
            })
        }
    })
}

/// Total order used for sorting, grouping and DISTINCT: NULLs compare equal
/// to each other and greater than everything (PostgreSQL's default: NULLS
/// LAST when ascending); values of different incomparable types order by
/// type so sorting never fails.
pub fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        _ => compare(a, b).unwrap_or_else(|_| a.key_cmp(b)),
    }
}

/// A canonical key for grouping/distinct: equal SQL values give equal keys
/// (`1` and `1.0` are one group, as in PostgreSQL where both are numeric).
pub fn group_key(values: &[Value], out: &mut Vec<u8>) {
    for v in values {
        match v {
            Value::Int(i) => aergo_store::codec::encode_key_value(&Value::Numeric(Decimal::from(*i)), out),
            other => aergo_store::codec::encode_key_value(other, out),
        }
    }
}

pub fn overflow(op: &str) -> SqlError {
    SqlError::NumericOutOfRange { context: format!("result of {op} does not fit") }
}

/// Arithmetic on two non-null values.
pub fn arith(op: ArithOp, a: &Value, b: &Value) -> Result<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => {
            let r = match op {
                ArithOp::Add => x.checked_add(*y),
                ArithOp::Sub => x.checked_sub(*y),
                ArithOp::Mul => x.checked_mul(*y),
                ArithOp::Div => {
                    if *y == 0 {
                        return Err(SqlError::DivisionByZero);
                    }
                    x.checked_div(*y)
                }
                ArithOp::Mod => {
                    if *y == 0 {
                        return Err(SqlError::DivisionByZero);
                    }
                    Some(x.checked_rem(*y).unwrap_or(0))
                }
            };
            r.map(Value::Int).ok_or_else(|| overflow(op.symbol()))
        }
        (Value::Int(_) | Value::Numeric(_), Value::Int(_) | Value::Numeric(_)) => {
            let (x, y) = (to_decimal(a).unwrap_or_default(), to_decimal(b).unwrap_or_default());
            let r = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Div => {
                    if y.is_zero() {
                        return Err(SqlError::DivisionByZero);
                    }
                    x.checked_div(y).map(|q| {
                        // Keep at least the operands' scale and at most 20
                        // fractional digits past the result's magnitude, so
                        // 1.0/3 is 0.33333333333333333333 as in PostgreSQL.
                        let min_scale = x.scale().max(y.scale());
                        let mut q = q.round_dp_with_strategy(20.max(min_scale), RoundingStrategy::MidpointAwayFromZero);
                        if q.scale() < min_scale {
                            q.rescale(min_scale);
                        }
                        q
                    })
                }
                ArithOp::Mod => {
                    if y.is_zero() {
                        return Err(SqlError::DivisionByZero);
                    }
                    x.checked_rem(y)
                }
            };
            r.map(Value::Numeric).ok_or_else(|| overflow(op.symbol()))
        }
        (Value::Text(_), _) | (_, Value::Text(_)) => {
            // Untyped literals like '5' take the other operand's type.
            let n = |v: &Value| -> Result<Value> {
                match v {
                    Value::Text(s) => parse_number(s.trim())
                        .map_err(|_| SqlError::InvalidValue { ty: "NUMERIC".into(), input: s.clone() }),
                    other => Ok(other.clone()),
                }
            };
            let (x, y) = (n(a)?, n(b)?);
            if matches!(x, Value::Text(_)) || matches!(y, Value::Text(_)) {
                return Err(type_err(op.symbol(), "a number", a));
            }
            arith(op, &x, &y)
        }
        _ => Err(SqlError::TypeMismatch {
            context: format!("operator {}", op.symbol()),
            expected: "numeric operands".into(),
            found: format!("{} and {}", a.type_name(), b.type_name()),
        }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl ArithOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }
}

pub fn negate(v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow("negation")),
        Value::Numeric(d) => Ok(Value::Numeric(-*d)),
        Value::Text(s) => negate(&parse_number(s.trim())?),
        other => Err(type_err("unary minus", "a number", other)),
    }
}

/// Truthiness of a condition: NULL is "unknown" (`None`).
pub fn truth(v: &Value) -> Result<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Text(s) => match cast(Value::Text(s.clone()), SqlType::Bool)? {
            Value::Bool(b) => Ok(Some(b)),
            _ => Ok(None),
        },
        other => Err(type_err("condition", "BOOLEAN", other)),
    }
}

/// Type of a value, for result descriptions.
pub fn value_type(v: &Value) -> Option<SqlType> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(_) => SqlType::Bool,
        Value::Int(_) => SqlType::BigInt,
        Value::Numeric(_) => SqlType::Numeric(None),
        Value::Text(_) => SqlType::Text,
        Value::Bytes(_) => SqlType::Bytea,
        Value::Timestamp(_) => SqlType::Timestamp,
    })
}

/// Approximate size of a value in bytes, for gas and result caps.
/// Bytes counted for one value held in memory, beyond its contents: fixed
/// constants, not `size_of`, so the count (which decides limits) is the
/// same on every machine and compiler.
pub const VALUE_OVERHEAD_BYTES: usize = 32;
/// Bytes counted for one row held in memory, beyond its values.
pub const ROW_OVERHEAD_BYTES: usize = 32;

/// The memory one row is counted as holding (see [`crate::Limits::max_operator_bytes`]).
pub fn row_bytes(row: &[Value]) -> usize {
    ROW_OVERHEAD_BYTES + row.iter().map(|v| VALUE_OVERHEAD_BYTES + value_size(v)).sum::<usize>()
}

pub fn value_size(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 1,
        Value::Int(_) | Value::Timestamp(_) => 8,
        Value::Numeric(_) => 16,
        Value::Text(s) => s.len(),
        Value::Bytes(b) => b.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_roundtrip() {
        for s in ["1970-01-01 00:00:00", "2018-07-10 12:34:56.5", "1969-12-31 23:59:59.999999", "2000-02-29 00:00:00"] {
            let us = parse_timestamp(s).unwrap();
            assert_eq!(format_timestamp(us), s);
        }
        assert_eq!(parse_timestamp("1970-01-02").unwrap(), US_PER_DAY);
        assert!(parse_timestamp("2001-02-29").is_err());
        assert!(parse_timestamp("nonsense").is_err());
    }

    #[test]
    fn numeric_fit() {
        let d = Decimal::from_str("123.456").unwrap();
        assert_eq!(fit_numeric(d, Some((5, 2))).unwrap().to_string(), "123.46");
        assert!(fit_numeric(d, Some((4, 2))).is_err());
        assert_eq!(fit_numeric(Decimal::from(5), Some((4, 2))).unwrap().to_string(), "5.00");
        // The integer-digit limit at its edges, negative values, rounding
        // that carries into a new digit, and precisions beyond a Decimal.
        let fit = |t: &str, p, s| fit_numeric(Decimal::from_str(t).unwrap(), Some((p, s))).map(|d| d.to_string());
        assert_eq!(fit("99.99", 4, 2).unwrap(), "99.99");
        assert!(fit("100", 4, 2).is_err());
        assert!(fit("-100", 4, 2).is_err());
        assert_eq!(fit("-99.99", 4, 2).unwrap(), "-99.99");
        assert!(fit("99.995", 4, 2).is_err(), "rounds up to 100.00");
        assert_eq!(fit("0.5", 1, 1).unwrap(), "0.5");
        assert!(fit("1", 1, 1).is_err());
        assert_eq!(fit("9999999999999999999999999999", 28, 0).unwrap(), "9999999999999999999999999999");
        assert_eq!(fit("79228162514264337593543950335", 40, 0).unwrap(), "79228162514264337593543950335");
        assert!(fit("79228162514264337593543950335", 28, 0).is_err());
    }

    #[test]
    fn integer_division_truncates_and_checks_zero() {
        assert_eq!(arith(ArithOp::Div, &Value::Int(-7), &Value::Int(2)).unwrap(), Value::Int(-3));
        assert_eq!(arith(ArithOp::Div, &Value::Int(1), &Value::Int(0)), Err(SqlError::DivisionByZero));
        assert!(arith(ArithOp::Add, &Value::Int(i64::MAX), &Value::Int(1)).is_err());
        let third = arith(ArithOp::Div, &Value::Numeric(Decimal::ONE), &Value::Int(3)).unwrap();
        assert_eq!(third.to_string(), "0.33333333333333333333");
    }
}
