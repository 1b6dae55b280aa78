//! Evaluating bound expressions against a row. Every evaluated node
//! charges `expr_step` gas.

use std::cmp::Ordering;

use aergo_store::Value;

use crate::error::{internal, Result, SqlError};
use crate::ir::{Expr, Func};
use crate::types;

use super::builtins::call_builtin;
use super::cx::Cx;
use super::host::call_host;
use super::plpgsql::call_user_function;
use super::query::run_subplan;

/// The value of a leaf expression (a column of `row`, an outer column, a
/// variable, a parameter or a constant) where it is, without cloning;
/// `None` for any other expression, and for a leaf that does not resolve
/// (whose error [`eval`] reports). It borrows only the frames of `cx`, not
/// its gas, so a caller can charge while holding the value.
pub(super) fn leaf<'v>(e: &'v Expr, row: &'v [Value], cx: &'v Cx<'_>) -> Option<&'v Value> {
    leaf_in(e, row, &cx.outer, &cx.params, &cx.vars)
}

fn leaf_in<'v>(
    e: &'v Expr,
    row: &'v [Value],
    outer: &'v [Vec<Value>],
    params: &'v [Value],
    vars: &'v [Value],
) -> Option<&'v Value> {
    match e {
        Expr::Const(v) => Some(v),
        Expr::Col(i) => row.get(*i),
        Expr::Outer(depth, i) => outer.len().checked_sub(*depth).and_then(|d| outer.get(d)).and_then(|r| r.get(*i)),
        Expr::Param(i) => params.get(*i),
        Expr::Var(i) => vars.get(*i),
        _ => None,
    }
}

/// Evaluates an expression against `row`.
pub fn eval(e: &Expr, row: &[Value], cx: &mut Cx<'_>) -> Result<Value> {
    cx.gas.charge(cx.schedule.expr_step)?;
    match e {
        Expr::Const(v) => Ok(v.clone()),
        Expr::Col(i) => row.get(*i).cloned().ok_or_else(|| internal(format!("column {i} out of range"))),
        Expr::Outer(depth, i) => {
            let n = cx.outer.len();
            let r = n.checked_sub(*depth).and_then(|d| cx.outer.get(d)).ok_or_else(|| internal("outer row missing"))?;
            r.get(*i).cloned().ok_or_else(|| internal("outer column out of range"))
        }
        Expr::Param(i) => cx.params.get(*i).cloned().ok_or_else(|| SqlError::WrongArity {
            function: "statement parameters".into(),
            expected: format!("at least {}", i + 1),
            got: cx.params.len(),
        }),
        Expr::Var(i) => cx.vars.get(*i).cloned().ok_or_else(|| internal("variable slot out of range")),
        Expr::Neg(a) => types::negate(&eval(a, row, cx)?),
        Expr::Not(a) => Ok(match types::truth(&eval(a, row, cx)?)? {
            None => Value::Null,
            Some(t) => Value::Bool(!t),
        }),
        Expr::Arith(op, a, b_) => {
            let x = eval(a, row, cx)?;
            let y = eval(b_, row, cx)?;
            if x == Value::Null || y == Value::Null {
                return Ok(Value::Null);
            }
            types::arith(*op, &x, &y)
        }
        Expr::Cmp(op, a, b_) => {
            let leaves =
                (leaf_in(a, row, &cx.outer, &cx.params, &cx.vars), leaf_in(b_, row, &cx.outer, &cx.params, &cx.vars));
            if let (Some(x), Some(y)) = leaves {
                // Both sides are columns, variables, parameters or
                // constants: compared where they are, not cloned (a text
                // key compared per row was two allocations). Gas is charged
                // step by step exactly as evaluating each side would.
                cx.gas.charge(cx.schedule.expr_step)?;
                cx.gas.charge(cx.schedule.expr_step)?;
                if *x == Value::Null || *y == Value::Null {
                    return Ok(Value::Null);
                }
                return Ok(Value::Bool(op.holds(types::compare(x, y)?)));
            }
            let x = eval(a, row, cx)?;
            let y = eval(b_, row, cx)?;
            if x == Value::Null || y == Value::Null {
                return Ok(Value::Null);
            }
            Ok(Value::Bool(op.holds(types::compare(&x, &y)?)))
        }
        Expr::And(a, b_) => {
            let x = types::truth(&eval(a, row, cx)?)?;
            if x == Some(false) {
                return Ok(Value::Bool(false));
            }
            let y = types::truth(&eval(b_, row, cx)?)?;
            Ok(match (x, y) {
                (_, Some(false)) => Value::Bool(false),
                (Some(true), Some(true)) => Value::Bool(true),
                _ => Value::Null,
            })
        }
        Expr::Or(a, b_) => {
            let x = types::truth(&eval(a, row, cx)?)?;
            if x == Some(true) {
                return Ok(Value::Bool(true));
            }
            let y = types::truth(&eval(b_, row, cx)?)?;
            Ok(match (x, y) {
                (_, Some(true)) => Value::Bool(true),
                (Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            })
        }
        Expr::Concat(a, b_) => {
            let x = eval(a, row, cx)?;
            let y = eval(b_, row, cx)?;
            if x == Value::Null || y == Value::Null {
                return Ok(Value::Null);
            }
            if let (Value::Bytes(p), Value::Bytes(q)) = (&x, &y) {
                let mut out = p.clone();
                out.extend_from_slice(q);
                cx.charge_created(out.len())?;
                return check_len(Value::Bytes(out));
            }
            let mut s = types::to_text(&x);
            s.push_str(&types::to_text(&y));
            cx.charge_created(s.len())?;
            check_len(Value::Text(s))
        }
        Expr::IsNull(a, negated) => Ok(Value::Bool((eval(a, row, cx)? == Value::Null) != *negated)),
        Expr::IsBool(a, value, negated) => {
            let t = types::truth(&eval(a, row, cx)?)?;
            Ok(Value::Bool((t == Some(*value)) != *negated))
        }
        Expr::IsDistinct(a, b_, negated) => {
            let x = eval(a, row, cx)?;
            let y = eval(b_, row, cx)?;
            let distinct = match (&x, &y) {
                (Value::Null, Value::Null) => false,
                (Value::Null, _) | (_, Value::Null) => true,
                _ => types::compare(&x, &y)? != Ordering::Equal,
            };
            Ok(Value::Bool(distinct != *negated))
        }
        Expr::InList { expr, list, negated } => {
            let x = eval(expr, row, cx)?;
            if x == Value::Null {
                return Ok(Value::Null);
            }
            let mut saw_null = false;
            for item in list {
                let y = eval(item, row, cx)?;
                if y == Value::Null {
                    saw_null = true;
                } else if types::compare(&x, &y)? == Ordering::Equal {
                    return Ok(Value::Bool(!*negated));
                }
            }
            Ok(if saw_null { Value::Null } else { Value::Bool(*negated) })
        }
        Expr::InSubquery { expr, sub, negated } => {
            let x = eval(expr, row, cx)?;
            let rows = run_subplan(sub, row, cx)?;
            if x == Value::Null {
                return Ok(if rows.is_empty() { Value::Bool(*negated) } else { Value::Null });
            }
            let mut saw_null = false;
            for r in rows.iter() {
                let y = r.first().cloned().unwrap_or(Value::Null);
                if y == Value::Null {
                    saw_null = true;
                } else if types::compare(&x, &y)? == Ordering::Equal {
                    return Ok(Value::Bool(!*negated));
                }
            }
            Ok(if saw_null { Value::Null } else { Value::Bool(*negated) })
        }
        Expr::Quantified { expr, op, sub, all } => {
            let x = eval(expr, row, cx)?;
            let rows = run_subplan(sub, row, cx)?;
            if rows.is_empty() {
                return Ok(Value::Bool(*all));
            }
            if x == Value::Null {
                return Ok(Value::Null);
            }
            let mut saw_null = false;
            for r in rows.iter() {
                let y = r.first().cloned().unwrap_or(Value::Null);
                if y == Value::Null {
                    saw_null = true;
                    continue;
                }
                let holds = op.holds(types::compare(&x, &y)?);
                if *all && !holds {
                    return Ok(Value::Bool(false));
                }
                if !*all && holds {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(if saw_null { Value::Null } else { Value::Bool(*all) })
        }
        Expr::Exists { sub, negated } => {
            let rows = run_subplan(sub, row, cx)?;
            Ok(Value::Bool(rows.is_empty() == *negated))
        }
        Expr::Scalar(sub) => {
            let rows = run_subplan(sub, row, cx)?;
            match rows.len() {
                0 => Ok(Value::Null),
                1 => Ok(rows[0].first().cloned().unwrap_or(Value::Null)),
                _ => Err(SqlError::CardinalityViolation),
            }
        }
        Expr::Between { expr, low, high, negated } => {
            let x = eval(expr, row, cx)?;
            let lo = eval(low, row, cx)?;
            let hi = eval(high, row, cx)?;
            let ge = if x == Value::Null || lo == Value::Null {
                None
            } else {
                Some(types::compare(&x, &lo)? != Ordering::Less)
            };
            let le = if x == Value::Null || hi == Value::Null {
                None
            } else {
                Some(types::compare(&x, &hi)? != Ordering::Greater)
            };
            let r = match (ge, le) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            Ok(match r {
                None => Value::Null,
                Some(t) => Value::Bool(t != *negated),
            })
        }
        Expr::Like { expr, pattern, negated, case_insensitive } => {
            let x = eval(expr, row, cx)?;
            let p = eval(pattern, row, cx)?;
            if x == Value::Null || p == Value::Null {
                return Ok(Value::Null);
            }
            let (mut s, mut pat) = (types::to_text(&x), types::to_text(&p));
            if *case_insensitive {
                s = s.to_lowercase();
                pat = pat.to_lowercase();
            }
            cx.gas.charge((s.len() as u64 + pat.len() as u64) * cx.schedule.expr_step)?;
            Ok(Value::Bool(like(&s, &pat)? != *negated))
        }
        Expr::Case { operand, whens, else_ } => {
            let op = match operand {
                Some(o) => Some(eval(o, row, cx)?),
                None => None,
            };
            for (w, t) in whens {
                let hit = match &op {
                    Some(v) => {
                        let c = eval(w, row, cx)?;
                        *v != Value::Null && c != Value::Null && types::compare(v, &c)? == Ordering::Equal
                    }
                    None => types::truth(&eval(w, row, cx)?)? == Some(true),
                };
                if hit {
                    return eval(t, row, cx);
                }
            }
            match else_ {
                Some(e) => eval(e, row, cx),
                None => Ok(Value::Null),
            }
        }
        Expr::Cast(a, ty) => types::cast(eval(a, row, cx)?, *ty),
        Expr::Func(f, args) => {
            // Short-circuiting functions evaluate lazily.
            if *f == Func::Coalesce {
                for a in args {
                    let v = eval(a, row, cx)?;
                    if v != Value::Null {
                        return Ok(v);
                    }
                }
                return Ok(Value::Null);
            }
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, row, cx)?);
            }
            let v = call_builtin(*f, vals, cx)?;
            if let Value::Text(_) | Value::Bytes(_) = v {
                cx.charge_created(types::value_size(&v))?;
            }
            Ok(v)
        }
        Expr::UserFunc { store_name, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, row, cx)?);
            }
            call_user_function(store_name, vals, cx)
        }
        Expr::Host { name, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, row, cx)?);
            }
            call_host(name, vals, cx)
        }
    }
}

pub(super) fn check_len(v: Value) -> Result<Value> {
    if types::value_size(&v) > types::MAX_VALUE_BYTES {
        return Err(SqlError::LimitExceeded { what: "value size in bytes", limit: types::MAX_VALUE_BYTES as u64 });
    }
    Ok(v)
}

/// SQL LIKE with `%`, `_` and backslash escapes; iterative with
/// backtracking on the last `%` only, so it runs in O(n·m).
pub fn like(s: &str, pat: &str) -> Result<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pat.chars();
    while let Some(c) = it.next() {
        match c {
            '%' => toks.push(Tok::Any),
            '_' => toks.push(Tok::One),
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => {
                    return Err(SqlError::InvalidValue {
                        ty: "LIKE pattern".into(),
                        input: "pattern must not end with the escape character".into(),
                    })
                }
            },
            c => toks.push(Tok::Ch(c)),
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < chars.len() {
        match toks.get(pi) {
            Some(Tok::Any) => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(Tok::One) => {
                si += 1;
                pi += 1;
            }
            Some(Tok::Ch(c)) if *c == chars[si] => {
                si += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return Ok(false),
            },
        }
    }
    while toks.get(pi) == Some(&Tok::Any) {
        pi += 1;
    }
    Ok(pi == toks.len())
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_patterns() {
        assert!(like("hello", "h%o").unwrap());
        assert!(like("hello", "_ello").unwrap());
        assert!(!like("hello", "h_o").unwrap());
        assert!(like("a%b", "a\\%b").unwrap());
        assert!(like("", "%").unwrap());
        assert!(like("abcabc", "%bc").unwrap());
        assert!(!like("abc", "").unwrap());
        assert!(like("aXbXc", "a%b%c").unwrap());
        assert!(like("x".repeat(200).as_str(), &"%x".repeat(50)).unwrap());
    }
}
