//! The built-in scalar functions ([`Func`]): numeric, text, bytea and the
//! context values the caller supplies.

use std::cmp::Ordering;

use aergo_store::Value;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Result, SqlError};
use crate::ir::{ContextField, Func};
use crate::types::{self, ArithOp, SqlType};

use super::cx::Cx;
use super::eval::check_len;

fn num(v: &Value, f: &str) -> Result<Decimal> {
    match v {
        Value::Int(i) => Ok(Decimal::from(*i)),
        Value::Numeric(d) => Ok(*d),
        Value::Text(s) => match types::parse_number(s.trim())? {
            Value::Int(i) => Ok(Decimal::from(i)),
            Value::Numeric(d) => Ok(d),
            _ => Err(types::type_err(f, "a number", v)),
        },
        other => Err(types::type_err(f, "a number", other)),
    }
}

fn int(v: &Value, f: &str) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Numeric(d) if d.fract().is_zero() => {
            d.to_i64().ok_or_else(|| SqlError::NumericOutOfRange { context: f.into() })
        }
        Value::Text(s) => {
            s.trim().parse().map_err(|_| SqlError::InvalidValue { ty: "INTEGER".into(), input: s.clone() })
        }
        other => Err(types::type_err(f, "an integer", other)),
    }
}

fn text(v: &Value) -> String {
    types::to_text(v)
}

/// Keeps integers integers: a numeric result with no fraction from an
/// integer input goes back to Int.
fn same_kind(input: &Value, d: Decimal) -> Result<Value> {
    if matches!(input, Value::Int(_)) {
        d.to_i64().map(Value::Int).ok_or_else(|| SqlError::NumericOutOfRange { context: format!("{d}") })
    } else {
        Ok(Value::Numeric(d))
    }
}

fn decimal_sqrt(d: Decimal) -> Result<Decimal> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(SqlError::InvalidValue {
            ty: "sqrt".into(),
            input: "cannot take square root of a negative number".into(),
        });
    }
    if d.is_zero() {
        return Ok(Decimal::ZERO);
    }
    // Newton's method in exact decimal arithmetic: a fixed number of steps,
    // so the same input gives the same digits everywhere.
    let mut x = if d > Decimal::ONE { d / Decimal::TWO } else { Decimal::ONE };
    for _ in 0..100 {
        let next = (x + d.checked_div(x).ok_or_else(|| types::overflow("sqrt"))?) / Decimal::TWO;
        if next == x {
            break;
        }
        x = next;
    }
    Ok(x.round_dp_with_strategy(16, RoundingStrategy::MidpointNearestEven).normalize())
}

fn pad(s: &str, len: i64, fill: &str, left: bool) -> Result<String> {
    if len < 0 {
        return Ok(String::new());
    }
    let len = len as usize;
    if len > types::MAX_VALUE_BYTES {
        return Err(SqlError::LimitExceeded { what: "padded length", limit: types::MAX_VALUE_BYTES as u64 });
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len {
        return Ok(chars[..len].iter().collect());
    }
    let fill: Vec<char> = fill.chars().collect();
    if fill.is_empty() {
        return Ok(s.into());
    }
    let padding: String = fill.iter().cycle().take(len - chars.len()).collect();
    Ok(if left { padding + s } else { format!("{s}{padding}") })
}

fn trim_chars(s: &str, set: &str, left: bool, right: bool) -> String {
    let set: Vec<char> = set.chars().collect();
    let mut r: &str = s;
    if left {
        r = r.trim_start_matches(|c| set.contains(&c));
    }
    if right {
        r = r.trim_end_matches(|c| set.contains(&c));
    }
    r.to_string()
}

pub fn call_builtin(f: Func, a: Vec<Value>, cx: &mut Cx<'_>) -> Result<Value> {
    use Func::*;
    let name = format!("{f:?}").to_lowercase();
    // Strict functions return NULL on any NULL argument.
    let null_tolerant = matches!(f, Greatest | Least | Concat | ConcatWs | NullIf | Coalesce | Ctx(_));
    if !null_tolerant && a.contains(&Value::Null) {
        return Ok(Value::Null);
    }
    let arg = |i: usize| a.get(i).cloned().unwrap_or(Value::Null);
    let v = match f {
        Abs => match arg(0) {
            Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(|| types::overflow("abs"))?),
            other => Value::Numeric(num(&other, &name)?.abs()),
        },
        Ceil => same_kind(&arg(0), num(&arg(0), &name)?.ceil())?,
        Floor => same_kind(&arg(0), num(&arg(0), &name)?.floor())?,
        Round | Trunc => {
            let x = arg(0);
            let places = if a.len() > 1 { int(&arg(1), &name)? } else { 0 };
            if let Value::Int(_) = x {
                if places >= 0 {
                    return Ok(x);
                }
            }
            let d = num(&x, &name)?;
            let strategy = if f == Round { RoundingStrategy::MidpointAwayFromZero } else { RoundingStrategy::ToZero };
            let r = if places >= 0 {
                d.round_dp_with_strategy(places.min(28) as u32, strategy)
            } else {
                let factor = Decimal::from(10i64.checked_pow((-places).min(18) as u32).unwrap_or(i64::MAX));
                (d / factor).round_dp_with_strategy(0, strategy) * factor
            };
            if a.len() == 1 {
                same_kind(&x, r)?
            } else {
                Value::Numeric(r)
            }
        }
        Sign => match arg(0) {
            Value::Int(i) => Value::Int(i.signum()),
            other => Value::Numeric(Decimal::from(num(&other, &name)?.cmp(&Decimal::ZERO) as i64)),
        },
        Mod => types::arith(ArithOp::Mod, &arg(0), &arg(1))?,
        Div => {
            let q = types::arith(
                ArithOp::Div,
                &Value::Numeric(num(&arg(0), &name)?),
                &Value::Numeric(num(&arg(1), &name)?),
            )?;
            match q {
                Value::Numeric(d) => Value::Numeric(d.trunc()),
                other => other,
            }
        }
        Power => {
            let base = num(&arg(0), &name)?;
            let e = arg(1);
            let exp = int(&e, &name).map_err(|_| SqlError::Unsupported {
                feature: "power() with a non-integer exponent (not exact)".into(),
            })?;
            if !(0..=1000).contains(&exp) && exp < 0 && base.is_zero() {
                return Err(SqlError::DivisionByZero);
            }
            if exp.abs() > 1000 {
                return Err(types::overflow("power"));
            }
            let mut r = Decimal::ONE;
            for _ in 0..exp.unsigned_abs() {
                r = r.checked_mul(base).ok_or_else(|| types::overflow("power"))?;
            }
            if exp < 0 {
                r = Decimal::ONE.checked_div(r).ok_or_else(|| types::overflow("power"))?;
            }
            if matches!(arg(0), Value::Int(_)) && exp >= 0 {
                same_kind(&arg(0), r)?
            } else {
                Value::Numeric(r)
            }
        }
        Sqrt => Value::Numeric(decimal_sqrt(num(&arg(0), &name)?)?),
        Gcd | Lcm => {
            let (mut x, mut y) = (int(&arg(0), &name)?.unsigned_abs(), int(&arg(1), &name)?.unsigned_abs());
            let (x0, y0) = (x, y);
            while y != 0 {
                let t = x % y;
                x = y;
                y = t;
            }
            let r = if f == Gcd {
                x
            } else {
                match x0.checked_div(x) {
                    None => 0,
                    Some(q) => q.checked_mul(y0).ok_or_else(|| types::overflow("lcm"))?,
                }
            };
            Value::Int(i64::try_from(r).map_err(|_| types::overflow(&name))?)
        }
        Greatest | Least => {
            let mut best = Value::Null;
            for v in a {
                if v == Value::Null {
                    continue;
                }
                if best == Value::Null {
                    best = v;
                    continue;
                }
                let o = types::compare(&v, &best)?;
                if (f == Greatest && o == Ordering::Greater) || (f == Least && o == Ordering::Less) {
                    best = v;
                }
            }
            best
        }
        Coalesce => a.into_iter().find(|v| *v != Value::Null).unwrap_or(Value::Null),
        NullIf => {
            let (x, y) = (arg(0), arg(1));
            if x != Value::Null && y != Value::Null && types::compare(&x, &y)? == Ordering::Equal {
                Value::Null
            } else {
                x
            }
        }
        Length => match arg(0) {
            Value::Bytes(b) => Value::Int(b.len() as i64),
            other => Value::Int(text(&other).chars().count() as i64),
        },
        OctetLength => match arg(0) {
            Value::Bytes(b) => Value::Int(b.len() as i64),
            other => Value::Int(text(&other).len() as i64),
        },
        Lower => Value::Text(text(&arg(0)).to_lowercase()),
        Upper => Value::Text(text(&arg(0)).to_uppercase()),
        Substr => {
            let s: Vec<char> = text(&arg(0)).chars().collect();
            let start = int(&arg(1), &name)?;
            let end = if a.len() > 2 {
                let n = int(&arg(2), &name)?;
                if n < 0 {
                    return Err(SqlError::InvalidValue { ty: "substring length".into(), input: n.to_string() });
                }
                start.saturating_add(n)
            } else {
                i64::MAX
            };
            let lo = (start.max(1) - 1) as usize;
            let hi = (end.max(1) - 1).min(s.len() as i64) as usize;
            Value::Text(if lo >= hi { String::new() } else { s[lo..hi].iter().collect() })
        }
        Trim | LTrim | RTrim => {
            let set = if a.len() > 1 { text(&arg(1)) } else { " ".into() };
            Value::Text(trim_chars(&text(&arg(0)), &set, f != RTrim, f != LTrim))
        }
        Replace => {
            let from = text(&arg(1));
            let s = text(&arg(0));
            if from.is_empty() {
                Value::Text(s)
            } else {
                check_len(Value::Text(s.replace(&from, &text(&arg(2)))))?
            }
        }
        Concat => {
            let mut s = String::new();
            for v in &a {
                if *v != Value::Null {
                    s.push_str(&text(v));
                }
            }
            check_len(Value::Text(s))?
        }
        ConcatWs => {
            if arg(0) == Value::Null {
                return Ok(Value::Null);
            }
            let sep = text(&arg(0));
            let parts: Vec<String> = a[1..].iter().filter(|v| **v != Value::Null).map(text).collect();
            check_len(Value::Text(parts.join(&sep)))?
        }
        Left | Right => {
            let s: Vec<char> = text(&arg(0)).chars().collect();
            let n = int(&arg(1), &name)?;
            let len = s.len() as i64;
            let k = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            Value::Text(if f == Left { s[..k].iter().collect() } else { s[s.len() - k..].iter().collect() })
        }
        Position => {
            let (s, sub) = (text(&arg(0)), text(&arg(1)));
            Value::Int(match s.find(&sub) {
                Some(byte) => s[..byte].chars().count() as i64 + 1,
                None => 0,
            })
        }
        Repeat => {
            let s = text(&arg(0));
            let n = int(&arg(1), &name)?.max(0) as usize;
            if s.len().saturating_mul(n) > types::MAX_VALUE_BYTES {
                return Err(SqlError::LimitExceeded {
                    what: "repeat() result bytes",
                    limit: types::MAX_VALUE_BYTES as u64,
                });
            }
            Value::Text(s.repeat(n))
        }
        Reverse => Value::Text(text(&arg(0)).chars().rev().collect()),
        LPad | RPad => {
            let fill = if a.len() > 2 { text(&arg(2)) } else { " ".into() };
            Value::Text(pad(&text(&arg(0)), int(&arg(1), &name)?, &fill, f == LPad)?)
        }
        SplitPart => {
            let (s, d) = (text(&arg(0)), text(&arg(1)));
            let n = int(&arg(2), &name)?;
            if n == 0 {
                return Err(SqlError::InvalidValue {
                    ty: "split_part field".into(),
                    input: "0 (fields start at 1)".into(),
                });
            }
            let parts: Vec<&str> = if d.is_empty() { vec![s.as_str()] } else { s.split(d.as_str()).collect() };
            let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
            Value::Text(if idx >= 0 {
                parts.get(idx as usize).map(|p| p.to_string()).unwrap_or_default()
            } else {
                String::new()
            })
        }
        StartsWith => Value::Bool(text(&arg(0)).starts_with(&text(&arg(1)))),
        Ascii => Value::Int(text(&arg(0)).chars().next().map_or(0, |c| c as i64)),
        Chr => {
            let n = int(&arg(0), &name)?;
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .filter(|c| *c != '\0')
                .ok_or_else(|| SqlError::InvalidValue { ty: "chr code point".into(), input: n.to_string() })?;
            Value::Text(c.to_string())
        }
        Initcap => {
            let mut out = String::new();
            let mut start = true;
            for c in text(&arg(0)).chars() {
                if c.is_alphanumeric() {
                    if start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    start = false;
                } else {
                    out.push(c);
                    start = true;
                }
            }
            Value::Text(out)
        }
        Encode => {
            let bytes = match arg(0) {
                Value::Bytes(b) => b,
                other => text(&other).into_bytes(),
            };
            match text(&arg(1)).as_str() {
                "hex" => Value::Text(bytes.iter().map(|b| format!("{b:02x}")).collect()),
                "escape" => Value::Text(String::from_utf8_lossy(&bytes).into_owned()),
                other => return Err(SqlError::Unsupported { feature: format!("encode() format {other:?}") }),
            }
        }
        Decode => {
            let s = text(&arg(0));
            match text(&arg(1)).as_str() {
                "hex" => match types::cast(Value::Text(format!("\\x{s}")), SqlType::Bytea)? {
                    v @ Value::Bytes(_) => v,
                    _ => Value::Null,
                },
                "escape" => Value::Bytes(s.into_bytes()),
                other => return Err(SqlError::Unsupported { feature: format!("decode() format {other:?}") }),
            }
        }
        Ctx(field) => match field {
            ContextField::Caller => Value::Text(cx.ctx.caller.clone()),
            ContextField::Contract => Value::Text(cx.ctx.contract.clone()),
            ContextField::BlockHeight => {
                Value::Int(i64::try_from(cx.ctx.block_height).map_err(|_| types::overflow("block height"))?)
            }
            ContextField::BlockTime => Value::Timestamp(cx.ctx.block_time_us),
            ContextField::TxHash => Value::Bytes(cx.ctx.tx_hash.clone()),
        },
    };
    Ok(v)
}
