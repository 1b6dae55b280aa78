//! Binding expressions: column and variable resolution, operators,
//! literals and their coercion, subqueries, built-in, user and host
//! function calls, aggregates.

use aergo_store::Value;
use sqlparser::ast::{self, Spanned};

use crate::catalog;
use crate::error::{internal, Pos, Result, SqlError};
use crate::ir::{nondeterministic_hint, AggCall, AggFunc, CmpOp, Expr, Func, SubPlan};
use crate::names::{ident_name, is_host_name, object_parts, pos_of};
use crate::types::{self, ArithOp, SqlType};

use super::bind::{contains_aggregate, is_aggregate_name, unsupported, Binder, Scope};

impl<'a> Binder<'a> {
    pub(super) fn resolve_column(&mut self, parts: &[String], scope: &Scope, pos: Pos) -> Result<Expr> {
        let (qual, name) = match parts {
            [n] => (None, n.as_str()),
            [q, n] => (Some(q.as_str()), n.as_str()),
            [_, q, n] => (Some(q.as_str()), n.as_str()),
            _ => return Err(SqlError::UnknownColumn { name: parts.join("."), pos }),
        };
        let find = |sc: &Scope| -> Result<Option<usize>> {
            let mut hit = None;
            for (i, c) in sc.cols.iter().enumerate() {
                if c.name == name && (qual.is_none() || c.qualifier.as_deref() == qual) {
                    if hit.is_some() {
                        return Err(SqlError::AmbiguousColumn { name: parts.join("."), pos });
                    }
                    hit = Some(i);
                }
            }
            Ok(hit)
        };
        if let Some(i) = find(scope)? {
            self.check_var_conflict(parts, pos)?;
            if self.agg.is_some() && scope.aggregated {
                return self.agg_column(i, name);
            }
            return Ok(Expr::Col(i));
        }
        for depth in 1..=self.outer.len() {
            let idx = self.outer.len() - depth;
            if let Some(i) = find(&self.outer[idx])? {
                if self.outer[idx].aggregated {
                    return unsupported("a subquery reading a column of an aggregated outer query");
                }
                self.ref_log.push(idx);
                return Ok(Expr::Outer(depth, i));
            }
        }
        // PL/pgSQL variables: `name` or `record.field`.
        if let Some(vars) = self.vars {
            if let Some((slot, _)) = vars.lookup(&parts.join(".")) {
                return Ok(Expr::Var(slot));
            }
        }
        Err(SqlError::UnknownColumn { name: parts.join("."), pos })
    }

    /// PostgreSQL raises an error when a name is both a column and a
    /// PL/pgSQL variable (plpgsql.variable_conflict = error).
    pub(super) fn check_var_conflict(&self, parts: &[String], pos: Pos) -> Result<()> {
        if parts.len() == 1 {
            if let Some(vars) = self.vars {
                if vars.lookup(&parts[0]).is_some() {
                    return Err(SqlError::AmbiguousColumn {
                        name: format!("{} (both a column and a PL/pgSQL variable)", parts[0]),
                        pos,
                    });
                }
            }
        }
        Ok(())
    }

    /// In an aggregating query, a raw column may only be read if grouped.
    pub(super) fn agg_column(&mut self, i: usize, name: &str) -> Result<Expr> {
        let state = self.agg.as_ref().ok_or_else(|| internal("no aggregate state"))?;
        match state.group_cols.iter().position(|g| *g == Some(i)) {
            Some(g) => Ok(Expr::Col(g)),
            None => Err(SqlError::Syntax {
                message: format!(
                    "column {name:?} must appear in the GROUP BY clause or be used in an aggregate function"
                ),
                pos: Pos::UNKNOWN,
            }),
        }
    }

    pub(super) fn bind_subquery(&mut self, q: &ast::Query, scope: &Scope, single_column: bool) -> Result<SubPlan> {
        self.outer.push(scope.clone());
        let mark = self.ref_log.len();
        let level = self.outer.len() - 1;
        let saved_agg = self.agg.take();
        let r = self.bind_query(q);
        self.agg = saved_agg;
        self.outer.pop();
        let correlated = self.ref_log[mark..].iter().any(|&j| j <= level);
        // References to scopes further out stay recorded for our own parent.
        let keep: Vec<usize> = self.ref_log[mark..].iter().copied().filter(|&j| j < level).collect();
        self.ref_log.truncate(mark);
        self.ref_log.extend(keep);
        let (plan, cols) = r?;
        if single_column && cols.len() != 1 {
            return Err(SqlError::Syntax {
                message: format!("subquery has {} columns, expected 1", cols.len()),
                pos: Pos::UNKNOWN,
            });
        }
        let id = self.next_sub;
        self.next_sub += 1;
        Ok(SubPlan { id, plan, correlated })
    }

    pub fn bind_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        self.enter()?;
        let r = self.bind_expr_inner(e, scope);
        self.depth -= 1;
        r
    }

    pub(super) fn bind_expr_inner(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        use ast::Expr as A;
        // In an aggregating query a GROUP BY expression is a group column.
        if let Some(state) = &self.agg {
            if scope.aggregated {
                if let Some(g) = state.group_asts.iter().position(|g| g == e) {
                    return Ok(Expr::Col(g));
                }
            }
        }
        let bx = |x: Expr| Box::new(x);
        Ok(match e {
            A::Identifier(id) => self.resolve_column(&[ident_name(id)], scope, pos_of(id.span))?,
            A::CompoundIdentifier(ids) => {
                let parts: Vec<String> = ids.iter().map(ident_name).collect();
                let pos = ids.first().map(|i| pos_of(i.span)).unwrap_or_default();
                self.resolve_column(&parts, scope, pos)?
            }
            A::Value(v) => literal(&v.value, pos_of(v.span))?,
            A::Nested(inner) => self.bind_expr(inner, scope)?,
            A::UnaryOp { op, expr } => {
                let x = self.bind_expr(expr, scope)?;
                match op {
                    ast::UnaryOperator::Minus => match x {
                        Expr::Const(v) => Expr::Const(types::negate(&v)?),
                        x => Expr::Neg(bx(x)),
                    },
                    ast::UnaryOperator::Plus => x,
                    ast::UnaryOperator::Not => Expr::Not(bx(x)),
                    other => return unsupported(format!("unary operator {other}")),
                }
            }
            A::BinaryOp { left, op, right } => {
                let l = self.bind_expr(left, scope)?;
                let r = self.bind_expr(right, scope)?;
                let (l, r) = coerce_literals(l, r, scope);
                use ast::BinaryOperator as B;
                match op {
                    B::Plus => Expr::Arith(ArithOp::Add, bx(l), bx(r)),
                    B::Minus => Expr::Arith(ArithOp::Sub, bx(l), bx(r)),
                    B::Multiply => Expr::Arith(ArithOp::Mul, bx(l), bx(r)),
                    B::Divide => Expr::Arith(ArithOp::Div, bx(l), bx(r)),
                    B::Modulo => Expr::Arith(ArithOp::Mod, bx(l), bx(r)),
                    B::StringConcat => Expr::Concat(bx(l), bx(r)),
                    B::Eq => Expr::Cmp(CmpOp::Eq, bx(l), bx(r)),
                    B::NotEq => Expr::Cmp(CmpOp::NotEq, bx(l), bx(r)),
                    B::Lt => Expr::Cmp(CmpOp::Lt, bx(l), bx(r)),
                    B::LtEq => Expr::Cmp(CmpOp::LtEq, bx(l), bx(r)),
                    B::Gt => Expr::Cmp(CmpOp::Gt, bx(l), bx(r)),
                    B::GtEq => Expr::Cmp(CmpOp::GtEq, bx(l), bx(r)),
                    B::And => Expr::And(bx(l), bx(r)),
                    B::Or => Expr::Or(bx(l), bx(r)),
                    other => return unsupported(format!("operator {other}")),
                }
            }
            A::IsNull(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), false),
            A::IsNotNull(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), true),
            A::IsTrue(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), true, false),
            A::IsNotTrue(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), true, true),
            A::IsFalse(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), false, false),
            A::IsNotFalse(x) => Expr::IsBool(bx(self.bind_expr(x, scope)?), false, true),
            A::IsUnknown(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), false),
            A::IsNotUnknown(x) => Expr::IsNull(bx(self.bind_expr(x, scope)?), true),
            A::IsDistinctFrom(a, b) => {
                Expr::IsDistinct(bx(self.bind_expr(a, scope)?), bx(self.bind_expr(b, scope)?), false)
            }
            A::IsNotDistinctFrom(a, b) => {
                Expr::IsDistinct(bx(self.bind_expr(a, scope)?), bx(self.bind_expr(b, scope)?), true)
            }
            A::InList { expr, list, negated } => {
                let x = self.bind_expr(expr, scope)?;
                let mut items = Vec::with_capacity(list.len());
                for i in list {
                    let b = self.bind_expr(i, scope)?;
                    items.push(coerce_literals(x.clone(), b, scope).1);
                }
                Expr::InList { expr: bx(x), list: items, negated: *negated }
            }
            A::InSubquery { expr, subquery, negated } => {
                let x = self.bind_expr(expr, scope)?;
                let sub = self.bind_subquery(subquery, scope, true)?;
                Expr::InSubquery { expr: bx(x), sub: Box::new(sub), negated: *negated }
            }
            A::Exists { subquery, negated } => {
                let sub = self.bind_subquery(subquery, scope, false)?;
                Expr::Exists { sub: Box::new(sub), negated: *negated }
            }
            A::Subquery(q) => Expr::Scalar(Box::new(self.bind_subquery(q, scope, true)?)),
            A::AnyOp { left, compare_op, right, .. } | A::AllOp { left, compare_op, right } => {
                let all = matches!(e, A::AllOp { .. });
                let op = cmp_op(compare_op)?;
                let x = self.bind_expr(left, scope)?;
                let q = match right.as_ref() {
                    A::Subquery(q) => q,
                    _ => return unsupported("ANY/ALL over an array"),
                };
                let sub = self.bind_subquery(q, scope, true)?;
                Expr::Quantified { expr: bx(x), op, sub: Box::new(sub), all }
            }
            A::Between { expr, negated, low, high } => {
                let x = self.bind_expr(expr, scope)?;
                let lo = coerce_literals(x.clone(), self.bind_expr(low, scope)?, scope).1;
                let hi = coerce_literals(x.clone(), self.bind_expr(high, scope)?, scope).1;
                Expr::Between { expr: bx(x), low: bx(lo), high: bx(hi), negated: *negated }
            }
            A::Like { negated, any, expr, pattern, escape_char }
            | A::ILike { negated, any, expr, pattern, escape_char } => {
                if *any || escape_char.is_some() {
                    return unsupported("LIKE ANY / ESCAPE");
                }
                Expr::Like {
                    expr: bx(self.bind_expr(expr, scope)?),
                    pattern: bx(self.bind_expr(pattern, scope)?),
                    negated: *negated,
                    case_insensitive: matches!(e, A::ILike { .. }),
                }
            }
            A::Case { operand, conditions, else_result, .. } => {
                let operand = match operand {
                    Some(o) => Some(bx(self.bind_expr(o, scope)?)),
                    None => None,
                };
                let mut whens = Vec::with_capacity(conditions.len());
                for c in conditions {
                    whens.push((self.bind_expr(&c.condition, scope)?, self.bind_expr(&c.result, scope)?));
                }
                let else_ = match else_result {
                    Some(x) => Some(bx(self.bind_expr(x, scope)?)),
                    None => None,
                };
                Expr::Case { operand, whens, else_ }
            }
            A::Cast { expr, data_type, format, .. } => {
                if format.is_some() {
                    return unsupported("CAST ... FORMAT");
                }
                let ty = SqlType::from_ast(data_type)?;
                match self.bind_expr(expr, scope)? {
                    Expr::Const(v) => Expr::Const(types::cast(v, ty)?),
                    x => Expr::Cast(bx(x), ty),
                }
            }
            A::TypedString(ts) => {
                let ty = SqlType::from_ast(&ts.data_type)?;
                let s = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => return unsupported(format!("typed literal {other}")),
                };
                Expr::Const(types::cast(Value::Text(s), ty)?)
            }
            A::Ceil { expr, .. } => Expr::Func(Func::Ceil, vec![self.bind_expr(expr, scope)?]),
            A::Floor { expr, .. } => Expr::Func(Func::Floor, vec![self.bind_expr(expr, scope)?]),
            A::Position { expr, r#in } => {
                Expr::Func(Func::Position, vec![self.bind_expr(r#in, scope)?, self.bind_expr(expr, scope)?])
            }
            A::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![self.bind_expr(expr, scope)?];
                args.push(match substring_from {
                    Some(f) => self.bind_expr(f, scope)?,
                    None => Expr::Const(Value::Int(1)),
                });
                if let Some(f) = substring_for {
                    args.push(self.bind_expr(f, scope)?);
                }
                Expr::Func(Func::Substr, args)
            }
            A::Trim { expr, trim_where, trim_what, trim_characters } => {
                if trim_characters.is_some() {
                    return unsupported("TRIM with a character list");
                }
                let f = match trim_where {
                    None | Some(ast::TrimWhereField::Both) => Func::Trim,
                    Some(ast::TrimWhereField::Leading) => Func::LTrim,
                    Some(ast::TrimWhereField::Trailing) => Func::RTrim,
                };
                let mut args = vec![self.bind_expr(expr, scope)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w, scope)?);
                }
                Expr::Func(f, args)
            }
            A::Function(f) => self.bind_function(f, scope)?,
            A::Tuple(_) => return unsupported("row values"),
            A::Interval(_) => return unsupported("INTERVAL"),
            other => return unsupported(format!("expression {other}")),
        })
    }

    pub(super) fn bind_function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Expr> {
        let parts = object_parts(&f.name)?;
        let pos = pos_of(f.name.span());
        let name = parts.last().cloned().unwrap_or_default();
        if f.over.is_some() {
            return unsupported("window functions");
        }
        if f.filter.is_some() || !f.within_group.is_empty() {
            return unsupported("aggregate FILTER / WITHIN GROUP");
        }
        if let Some(hint) = nondeterministic_hint(&name) {
            return Err(SqlError::NonDeterministic { construct: format!("{name}()"), hint });
        }
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => {
                if matches!(name.as_str(), "current_user" | "session_user" | "user" | "current_role") {
                    return Err(SqlError::NonDeterministic {
                        construct: name,
                        hint: "session users differ between nodes; use aergo_caller()",
                    });
                }
                (vec![], false, false)
            }
            ast::FunctionArguments::Subquery(_) => return unsupported("function over a subquery"),
            ast::FunctionArguments::List(l) => {
                if !l.clauses.is_empty() {
                    return unsupported("function argument clauses");
                }
                let distinct = matches!(l.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct));
                let mut star = false;
                let mut args = Vec::new();
                for a in &l.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e.clone()),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        _ => return unsupported("named or qualified-wildcard function arguments"),
                    }
                }
                (args, distinct, star)
            }
        };
        if parts.len() == 1 && is_aggregate_name(&name) {
            return self.bind_aggregate(&name, &args, distinct, star, scope, pos);
        }
        if star {
            return Err(SqlError::Syntax { message: format!("{name}(*) is only valid for count"), pos });
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.bind_expr(a, scope)?);
        }
        if parts.len() == 1 {
            if let Some(func) = Func::lookup(&name, bound.len()) {
                return Ok(Expr::Func(func, bound));
            }
            if is_host_name(&name) {
                return Ok(Expr::Host { name, args: bound });
            }
        }
        // User-defined function: schema-qualified or in the default schema.
        let (schema, fname) = match parts.as_slice() {
            [n] => (self.default_schema.clone(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return Err(SqlError::UnknownFunction { name: parts.join("."), arity: bound.len(), pos }),
        };
        let sname = catalog::function_store_name(&schema, &fname);
        if self.store.table(&sname)?.is_none() {
            return Err(SqlError::UnknownFunction { name: parts.join("."), arity: bound.len(), pos });
        }
        Ok(Expr::UserFunc { store_name: sname, args: bound })
    }

    pub(super) fn bind_aggregate(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        distinct: bool,
        star: bool,
        scope: &Scope,
        pos: Pos,
    ) -> Result<Expr> {
        if self.agg.is_none() || !scope.aggregated {
            return Err(SqlError::Syntax { message: format!("aggregate function {name}() is not allowed here"), pos });
        }
        let func = match (name, star, args.len()) {
            ("count", true, 0) => AggFunc::CountStar,
            ("count", false, 1) => AggFunc::Count,
            ("sum", false, 1) => AggFunc::Sum,
            ("avg", false, 1) => AggFunc::Avg,
            ("min", false, 1) => AggFunc::Min,
            ("max", false, 1) => AggFunc::Max,
            ("bool_and" | "every", false, 1) => AggFunc::BoolAnd,
            ("bool_or", false, 1) => AggFunc::BoolOr,
            ("string_agg", false, 2) => AggFunc::StringAgg,
            ("total" | "group_concat", _, _) => {
                return Err(SqlError::UnknownFunction { name: name.into(), arity: args.len(), pos })
            }
            _ => return Err(SqlError::UnknownFunction { name: name.into(), arity: args.len(), pos }),
        };
        // Arguments are bound against the input rows, not the groups.
        let saved = self.agg.take();
        let mut raw = scope.clone();
        raw.aggregated = false;
        let arg = match args.first() {
            Some(a) => {
                if contains_aggregate(a) {
                    self.agg = saved;
                    return Err(SqlError::Syntax { message: "aggregate calls cannot be nested".into(), pos });
                }
                Some(self.bind_expr(a, &raw))
            }
            None => None,
        };
        let extra = args.get(1).map(|a| self.bind_expr(a, &raw));
        self.agg = saved;
        let arg = arg.transpose()?;
        let extra = extra.transpose()?;
        let state = self.agg.as_mut().ok_or_else(|| internal("aggregate state"))?;
        let ngroups = state.group_cols.len();
        state.aggs.push(AggCall { func, arg, extra, distinct });
        Ok(Expr::Col(ngroups + state.aggs.len() - 1))
    }
}

fn cmp_op(op: &ast::BinaryOperator) -> Result<CmpOp> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Eq => CmpOp::Eq,
        B::NotEq => CmpOp::NotEq,
        B::Lt => CmpOp::Lt,
        B::LtEq => CmpOp::LtEq,
        B::Gt => CmpOp::Gt,
        B::GtEq => CmpOp::GtEq,
        other => return unsupported(format!("operator {other} with ANY/ALL")),
    })
}

pub fn literal(v: &ast::Value, pos: Pos) -> Result<Expr> {
    Ok(Expr::Const(match v {
        ast::Value::Number(s, _) => types::parse_number(s)?,
        ast::Value::SingleQuotedString(s)
        | ast::Value::EscapedStringLiteral(s)
        | ast::Value::UnicodeStringLiteral(s) => Value::Text(s.clone()),
        ast::Value::DollarQuotedString(d) => Value::Text(d.value.clone()),
        ast::Value::Boolean(b) => Value::Bool(*b),
        ast::Value::Null => Value::Null,
        ast::Value::HexStringLiteral(h) => types::cast(Value::Text(format!("\\x{h}")), SqlType::Bytea)?,
        ast::Value::Placeholder(p) => {
            let n: usize = p
                .strip_prefix('$')
                .and_then(|d| d.parse().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| SqlError::Syntax { message: format!("parameter {p} must be $1, $2, ..."), pos })?;
            if n > 65_535 {
                return Err(SqlError::LimitExceeded { what: "parameter number", limit: 65_535 });
            }
            return Ok(Expr::Param(n - 1));
        }
        ast::Value::DoubleQuotedString(s) => {
            return Err(SqlError::UnknownColumn { name: s.clone(), pos });
        }
        other => return unsupported(format!("literal {other}")),
    }))
}

/// Static type of a bound expression when obvious.
pub fn static_type(e: &Expr) -> Option<SqlType> {
    match e {
        Expr::Const(v) => types::value_type(v),
        Expr::Cast(_, t) => Some(*t),
        Expr::Cmp(..) | Expr::And(..) | Expr::Or(..) | Expr::Not(_) | Expr::IsNull(..) | Expr::InList { .. } => {
            Some(SqlType::Bool)
        }
        Expr::Concat(..) => Some(SqlType::Text),
        _ => None,
    }
}

pub(super) fn static_type_in(e: &Expr, scope: &Scope) -> Option<SqlType> {
    match e {
        Expr::Col(i) if !scope.aggregated => scope.cols.get(*i).and_then(|c| c.ty),
        other => static_type(other),
    }
}

/// A text literal compared with a typed column takes the column's type
/// (PostgreSQL's "unknown" literal resolution).
fn coerce_literals(l: Expr, r: Expr, scope: &Scope) -> (Expr, Expr) {
    let ty_of = |e: &Expr| -> Option<SqlType> {
        match e {
            Expr::Col(i) if !scope.aggregated => scope.cols.get(*i).and_then(|c| c.ty),
            Expr::Cast(_, t) => Some(*t),
            _ => None,
        }
    };
    let fix = |lit: Expr, ty: Option<SqlType>| -> Expr {
        match (lit, ty) {
            (Expr::Const(Value::Text(s)), Some(t)) if !t.is_text() => match types::cast(Value::Text(s.clone()), t) {
                Ok(v) => Expr::Const(v),
                Err(_) => Expr::Const(Value::Text(s)),
            },
            (lit, _) => lit,
        }
    };
    let lt = ty_of(&l);
    let rt = ty_of(&r);
    (fix(l, rt), fix(r, lt))
}

/// Display name of a select item without alias, as PostgreSQL derives it.
pub(super) fn expr_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => ident_name(id),
        ast::Expr::CompoundIdentifier(ids) => ids.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(ident_name).unwrap_or_default(),
        ast::Expr::Cast { expr, .. } => match expr.as_ref() {
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => expr_name(expr),
            _ => "?column?".into(),
        },
        ast::Expr::Nested(inner) => expr_name(inner),
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        _ => "?column?".into(),
    }
}
