//! Compiled expressions and their evaluation.
//!
//! The binder ([`crate::plan`]) turns sqlparser expressions into [`Expr`]
//! trees whose column references are positions in the row being evaluated,
//! so evaluation does no name lookups. Every evaluated node charges
//! `expr_step` gas.

use std::cmp::Ordering;

use aergo_store::Value;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Result, SqlError};
use crate::exec::{self, Cx};
use crate::plan::Plan;
use crate::types::{self, ArithOp, SqlType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    pub fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::NotEq => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::LtEq => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::GtEq => o != Ordering::Less,
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            o => o,
        }
    }
}

/// A subquery inside an expression.
#[derive(Clone, Debug)]
pub struct SubPlan {
    /// Unique within its statement: the key of the per-execution cache of
    /// uncorrelated subquery results.
    pub id: usize,
    pub plan: Plan,
    /// Whether it reads columns of the enclosing query (then it runs once
    /// per outer row, else once per statement execution).
    pub correlated: bool,
}

/// Context values supplied by the caller through [`crate::ExecContext`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextField {
    Caller,
    Contract,
    BlockHeight,
    BlockTime,
    TxHash,
}

/// Built-in scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Abs,
    Ceil,
    Floor,
    Round,
    Trunc,
    Sign,
    Mod,
    Power,
    Sqrt,
    Div,
    Gcd,
    Lcm,
    Greatest,
    Least,
    Coalesce,
    NullIf,
    Length,
    OctetLength,
    Lower,
    Upper,
    Substr,
    Trim,
    LTrim,
    RTrim,
    Replace,
    Concat,
    ConcatWs,
    Left,
    Right,
    Position,
    Repeat,
    Reverse,
    LPad,
    RPad,
    SplitPart,
    StartsWith,
    Ascii,
    Chr,
    Initcap,
    Encode,
    Decode,
    Ctx(ContextField),
}

impl Func {
    /// Resolves a function name and argument count; `None` if unknown.
    pub fn lookup(name: &str, nargs: usize) -> Option<Func> {
        use Func::*;
        let f = match name {
            "abs" => Abs,
            "ceil" | "ceiling" => Ceil,
            "floor" => Floor,
            "round" => Round,
            "trunc" | "truncate" => Trunc,
            "sign" => Sign,
            "mod" => Mod,
            "power" | "pow" => Power,
            "sqrt" => Sqrt,
            "div" => Div,
            "gcd" => Gcd,
            "lcm" => Lcm,
            "greatest" => Greatest,
            "least" => Least,
            "coalesce" | "ifnull" => Coalesce,
            "nullif" => NullIf,
            "length" | "char_length" | "character_length" => Length,
            "octet_length" => OctetLength,
            "lower" => Lower,
            "upper" => Upper,
            "substr" | "substring" => Substr,
            "btrim" => Trim,
            "ltrim" => LTrim,
            "rtrim" => RTrim,
            "replace" => Replace,
            "concat" => Concat,
            "concat_ws" => ConcatWs,
            "left" => Left,
            "right" => Right,
            "strpos" => Position,
            "repeat" => Repeat,
            "reverse" => Reverse,
            "lpad" => LPad,
            "rpad" => RPad,
            "split_part" => SplitPart,
            "starts_with" => StartsWith,
            "ascii" => Ascii,
            "chr" => Chr,
            "initcap" => Initcap,
            "encode" => Encode,
            "decode" => Decode,
            "aergo_caller" => Ctx(ContextField::Caller),
            "aergo_contract" => Ctx(ContextField::Contract),
            "aergo_block_height" => Ctx(ContextField::BlockHeight),
            "aergo_block_time" => Ctx(ContextField::BlockTime),
            "aergo_tx_hash" => Ctx(ContextField::TxHash),
            _ => return None,
        };
        let ok = match f {
            Abs | Ceil | Floor | Sign | Sqrt | Length | OctetLength | Lower | Upper | Reverse | Ascii | Chr
            | Initcap => nargs == 1,
            Round | Trunc | Trim | LTrim | RTrim => (1..=2).contains(&nargs),
            Mod | Power | Div | Gcd | Lcm | NullIf | Left | Right | Position | Repeat | StartsWith | Encode
            | Decode => nargs == 2,
            Substr | LPad | RPad => (2..=3).contains(&nargs),
            Replace | SplitPart => nargs == 3,
            Greatest | Least | Coalesce | Concat => nargs >= 1,
            ConcatWs => nargs >= 2,
            Ctx(_) => nargs == 0,
        };
        ok.then_some(f)
    }
}

/// Names of functions rejected because their result depends on the machine
/// or the moment, with what to use instead.
pub fn nondeterministic_hint(name: &str) -> Option<&'static str> {
    match name {
        "random" | "setseed" | "gen_random_uuid" | "uuid_generate_v1" | "uuid_generate_v4" | "random_normal" => {
            Some("randomness differs between nodes; derive values from aergo_tx_hash() or inputs")
        }
        "now"
        | "current_timestamp"
        | "current_date"
        | "current_time"
        | "localtime"
        | "localtimestamp"
        | "clock_timestamp"
        | "statement_timestamp"
        | "transaction_timestamp"
        | "timeofday" => Some("the wall clock differs between nodes; use aergo_block_time()"),
        "pg_sleep" | "txid_current" | "pg_backend_pid" | "inet_client_addr" | "version" | "current_setting"
        | "set_config" | "nextval" | "currval" | "lastval" => Some("depends on the machine or session"),
        "sin" | "cos" | "tan" | "asin" | "acos" | "atan" | "atan2" | "exp" | "ln" | "log" | "log10" | "cbrt"
        | "degrees" | "radians" | "pi" | "sinh" | "cosh" | "tanh" => {
            Some("floating-point transcendental functions are not bit-identical across machines")
        }
        _ => None,
    }
}

#[derive(Clone, Debug)]
pub enum Expr {
    Const(Value),
    /// A column of the row being evaluated.
    Col(usize),
    /// A column of an enclosing query's current row (`depth` 1 = nearest).
    Outer(usize, usize),
    /// A statement parameter (`$1` is 0).
    Param(usize),
    /// A PL/pgSQL variable slot.
    Var(usize),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    /// `IS [NOT] TRUE/FALSE`: (expr, value, negated).
    IsBool(Box<Expr>, bool, bool),
    IsDistinct(Box<Expr>, Box<Expr>, bool),
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    InSubquery {
        expr: Box<Expr>,
        sub: Box<SubPlan>,
        negated: bool,
    },
    Exists {
        sub: Box<SubPlan>,
        negated: bool,
    },
    Scalar(Box<SubPlan>),
    /// `expr op ANY|ALL (subquery)`.
    Quantified {
        expr: Box<Expr>,
        op: CmpOp,
        sub: Box<SubPlan>,
        all: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    Cast(Box<Expr>, SqlType),
    Func(Func, Vec<Expr>),
    /// A call of a user-defined function, resolved by store name at run time.
    UserFunc {
        store_name: String,
        args: Vec<Expr>,
    },
    /// A call of a host function (see [`crate::host`]), by lowercase name.
    Host {
        name: String,
        args: Vec<Expr>,
    },
}

impl Expr {
    /// Highest row column this expression reads, if any; `None` also when it
    /// contains a subquery (such conditions are applied after all joins).
    pub fn max_col(&self) -> Result<Option<usize>, ()> {
        let mut m: Option<usize> = None;
        let mut ok = true;
        self.walk(&mut |e| match e {
            Expr::Col(i) => m = Some(m.map_or(*i, |x: usize| x.max(*i))),
            Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Scalar(_) | Expr::Quantified { .. } => ok = false,
            _ => {}
        });
        if ok {
            Ok(m)
        } else {
            Err(())
        }
    }

    /// Whether the expression reads no column of the current row and calls
    /// nothing with side effects (usable as a key for a lookup).
    pub fn is_row_independent(&self, below: usize) -> bool {
        let mut ok = true;
        self.walk(&mut |e| match e {
            Expr::Col(i) if *i >= below => ok = false,
            Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Scalar(_) | Expr::Quantified { .. } => ok = false,
            Expr::UserFunc { .. } | Expr::Host { .. } => ok = false,
            _ => {}
        });
        ok
    }

    /// Visits this node and its children (not into subquery plans).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Const(_) | Expr::Col(_) | Expr::Outer(..) | Expr::Param(_) | Expr::Var(_) => {}
            Expr::Neg(a) | Expr::Not(a) | Expr::IsNull(a, _) | Expr::IsBool(a, ..) | Expr::Cast(a, _) => a.walk(f),
            Expr::Arith(_, a, b)
            | Expr::Cmp(_, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Concat(a, b)
            | Expr::IsDistinct(a, b, _) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|e| e.walk(f));
            }
            Expr::InSubquery { expr, .. } | Expr::Quantified { expr, .. } => expr.walk(f),
            Expr::Exists { .. } | Expr::Scalar(_) => {}
            Expr::Between { expr, low, high, .. } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            Expr::Like { expr, pattern, .. } => {
                expr.walk(f);
                pattern.walk(f);
            }
            Expr::Case { operand, whens, else_ } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(e) = else_ {
                    e.walk(f);
                }
            }
            Expr::Func(_, args) | Expr::UserFunc { args, .. } | Expr::Host { args, .. } => {
                args.iter().for_each(|e| e.walk(f))
            }
        }
    }

    /// Shifts every row column reference by `by` (used when an expression
    /// bound against one table is evaluated on a joined row).
    pub fn shift_cols(&mut self, by: isize) {
        self.walk_mut(&mut |e| {
            if let Expr::Col(i) = e {
                *i = (*i as isize + by) as usize;
            }
        });
    }

    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        match self {
            Expr::Const(_) | Expr::Col(_) | Expr::Outer(..) | Expr::Param(_) | Expr::Var(_) => {}
            Expr::Neg(a) | Expr::Not(a) | Expr::IsNull(a, _) | Expr::IsBool(a, ..) | Expr::Cast(a, _) => a.walk_mut(f),
            Expr::Arith(_, a, b)
            | Expr::Cmp(_, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Concat(a, b)
            | Expr::IsDistinct(a, b, _) => {
                a.walk_mut(f);
                b.walk_mut(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.walk_mut(f);
                list.iter_mut().for_each(|e| e.walk_mut(f));
            }
            Expr::InSubquery { expr, .. } | Expr::Quantified { expr, .. } => expr.walk_mut(f),
            Expr::Exists { .. } | Expr::Scalar(_) => {}
            Expr::Between { expr, low, high, .. } => {
                expr.walk_mut(f);
                low.walk_mut(f);
                high.walk_mut(f);
            }
            Expr::Like { expr, pattern, .. } => {
                expr.walk_mut(f);
                pattern.walk_mut(f);
            }
            Expr::Case { operand, whens, else_ } => {
                if let Some(o) = operand {
                    o.walk_mut(f);
                }
                for (w, t) in whens {
                    w.walk_mut(f);
                    t.walk_mut(f);
                }
                if let Some(e) = else_ {
                    e.walk_mut(f);
                }
            }
            Expr::Func(_, args) | Expr::UserFunc { args, .. } | Expr::Host { args, .. } => {
                args.iter_mut().for_each(|e| e.walk_mut(f))
            }
        }
    }
}

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// `a AND b`, folding away a missing side.
pub fn and_opt(a: Option<Expr>, b_: Expr) -> Expr {
    match a {
        None => b_,
        Some(a) => Expr::And(b(a), b(b_)),
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
                return check_len(Value::Bytes(out));
            }
            let mut s = types::to_text(&x);
            s.push_str(&types::to_text(&y));
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
            let rows = exec::run_subplan(sub, row, cx)?;
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
            let rows = exec::run_subplan(sub, row, cx)?;
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
            let rows = exec::run_subplan(sub, row, cx)?;
            Ok(Value::Bool(rows.is_empty() == *negated))
        }
        Expr::Scalar(sub) => {
            let rows = exec::run_subplan(sub, row, cx)?;
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
            call_builtin(*f, vals, cx)
        }
        Expr::UserFunc { store_name, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, row, cx)?);
            }
            crate::plpgsql::call_user_function(store_name, vals, cx)
        }
        Expr::Host { name, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, row, cx)?);
            }
            crate::host::call_host(name, vals, cx)
        }
    }
}

pub fn internal(msg: impl Into<String>) -> SqlError {
    SqlError::Internal { message: msg.into() }
}

fn check_len(v: Value) -> Result<Value> {
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
