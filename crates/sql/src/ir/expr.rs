//! Bound expressions: trees over row positions, parameters and variable
//! slots, with the built-in functions they may call.

use std::cmp::Ordering;

use aergo_store::Value;

use crate::error::Result;
use crate::types::{ArithOp, SqlType};

use super::plan::Plan;

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
