//! The PL/pgSQL interpreter: CREATE FUNCTION (checked, then stored),
//! calls with their frames of variable slots, blocks with EXCEPTION
//! handlers (each a savepoint), loops, RAISE, and embedded statements.

use std::sync::Arc;

use aergo_store::Value;

use crate::catalog::{self, FunctionDef};
use crate::error::{internal, Result, SqlError};
use crate::ir::{Block, Body, Bound, CompiledFunction, Expr, FunctionDecl, RaiseLevel, Stmt, FOUND_SLOT};
use crate::names::{is_host_name, HOST_PREFIX};
use crate::types::{self, SqlType};

use super::cx::Cx;
use super::eval::eval;
use super::exec_unnamed;

/// Executes `CREATE FUNCTION`: checks the body, then stores the source.
pub(crate) fn create_function(src: &FunctionDecl, cx: &mut Cx<'_>) -> Result<()> {
    cx.check_schema_write(&src.schema)?;
    if is_host_name(&src.name) {
        return Err(SqlError::InvalidValue {
            ty: "function name".into(),
            input: format!(
                "{:?} (names starting with {:?} are reserved for built-in and host functions)",
                src.name, HOST_PREFIX
            ),
        });
    }
    let sname = catalog::function_store_name(&src.schema, &src.name);
    let exists = cx.store.table(&sname)?.is_some();
    if exists && !src.or_replace {
        return Err(SqlError::ObjectExists { kind: "function", name: format!("{}.{}", src.schema, src.name) });
    }
    // Compile once now to report errors at CREATE time. Objects created
    // later (tables, other functions) are allowed to be missing.
    match cx.functions.check_function(&*cx.store, src) {
        Ok(()) => {}
        Err(SqlError::UnknownObject { .. } | SqlError::UnknownFunction { .. }) => {}
        Err(e) => return Err(e),
    }
    let meta = catalog::encode_function(&FunctionDef {
        schema: src.schema.clone(),
        name: src.name.clone(),
        source: src.text.clone(),
    });
    if exists {
        cx.store.set_table_meta(&sname, meta)?;
    } else {
        cx.store.create_table(&sname, meta)?;
    }
    Ok(())
}

enum Flow {
    Normal,
    Exit(Option<String>),
    Continue(Option<String>),
    Return(Value),
}

/// Calls a user function by store name with argument values.
pub fn call_user_function(sname: &str, mut args: Vec<Value>, cx: &mut Cx<'_>) -> Result<Value> {
    if cx.call_depth >= cx.limits.max_call_depth {
        return Err(SqlError::LimitExceeded { what: "function call depth", limit: cx.limits.max_call_depth as u64 });
    }
    cx.gas.charge(cx.schedule.call)?;
    let f: Arc<CompiledFunction> = cx.functions.compiled_function(&*cx.store, sname)?;
    let nparams = f.src.params.len();
    if args.len() > nparams || args.len() < nparams - f.defaults.iter().rev().take_while(|d| d.is_some()).count() {
        return Err(SqlError::WrongArity { function: f.name.clone(), expected: nparams.to_string(), got: args.len() });
    }
    if f.src.strict && args.contains(&Value::Null) {
        return Ok(Value::Null);
    }
    let mut frame = vec![Value::Null; f.nslots];
    frame[FOUND_SLOT] = Value::Bool(false);
    // Defaults are evaluated in the caller's frame with no row.
    while args.len() < nparams {
        let d = f.defaults[args.len()].as_ref().ok_or_else(|| internal("missing default"))?;
        args.push(eval(d, &[], cx)?);
    }
    for (i, (a, (n, ty, _))) in args.iter().zip(&f.src.params).enumerate() {
        frame[1 + i] = types::assign(a.clone(), *ty, n)?;
    }
    let saved_vars = std::mem::replace(&mut cx.vars, frame);
    let saved_params = std::mem::replace(&mut cx.params, args);
    let saved_cache = std::mem::take(&mut cx.sub_cache);
    let saved_outer = std::mem::take(&mut cx.outer);
    cx.call_depth += 1;
    let r = match &f.body {
        Body::Pl(b) => exec_block(b, &f, cx).map(|flow| match flow {
            Flow::Return(v) => Some(v),
            _ => None,
        }),
        Body::Sql(stmts) => (|| {
            let mut last = None;
            for s in stmts {
                last = Some(exec_unnamed(s, cx)?);
            }
            Ok(Some(
                last.and_then(|r| r.rows.into_iter().next()).and_then(|r| r.into_iter().next()).unwrap_or(Value::Null),
            ))
        })(),
    };
    cx.call_depth -= 1;
    cx.vars = saved_vars;
    cx.params = saved_params;
    cx.sub_cache = saved_cache;
    cx.outer = saved_outer;
    match (r?, f.src.returns) {
        (Some(v), Some(ty)) => types::assign(v, ty, &f.name),
        (Some(_), None) | (None, None) => Ok(Value::Null),
        (None, Some(_)) => Err(SqlError::NoReturn { function: f.name.clone() }),
    }
}

fn set_var(f: &CompiledFunction, slot: usize, v: Value, cx: &mut Cx<'_>) -> Result<()> {
    let v = match f.slot_types.get(slot).copied().flatten() {
        Some(ty) => types::assign(v, ty, f.slot_names.get(slot).map(String::as_str).unwrap_or("variable"))?,
        None => v,
    };
    let s = cx.vars.get_mut(slot).ok_or_else(|| internal("variable slot out of range"))?;
    *s = v;
    Ok(())
}

fn eval_pl(e: &Expr, cx: &mut Cx<'_>) -> Result<Value> {
    cx.sub_cache.clear();
    eval(e, &[], cx)
}

fn cond(e: &Expr, cx: &mut Cx<'_>) -> Result<bool> {
    Ok(types::truth(&eval_pl(e, cx)?)? == Some(true))
}

fn exec_block(b: &Block, f: &CompiledFunction, cx: &mut Cx<'_>) -> Result<Flow> {
    for (slot, default) in &b.decls {
        let v = match default {
            Some(e) => eval_pl(e, cx)?,
            None => Value::Null,
        };
        set_var(f, *slot, v, cx)?;
    }
    if b.handlers.is_empty() {
        return exec_stmts(&b.body, f, cx).map(|fl| block_flow(fl, &b.label));
    }
    let sp = cx.store.savepoint();
    let r = match exec_stmts(&b.body, f, cx) {
        Ok(fl) => Ok(block_flow(fl, &b.label)),
        Err(e) => {
            let Some(cond_name) = e.condition_name() else { return Err(e) };
            let handler = b.handlers.iter().find(|(conds, _)| conds.iter().any(|c| c == "others" || c == cond_name));
            match handler {
                None => Err(e),
                Some((_, stmts)) => {
                    cx.store.rollback_to(sp)?;
                    if let Some(slot) = b.sqlerrm_slot {
                        set_var(f, slot, Value::Text(e.to_string()), cx)?;
                    }
                    exec_stmts(stmts, f, cx).map(|fl| block_flow(fl, &b.label))
                }
            }
        }
    };
    // Whatever the outcome, this block's savepoint is done: on success its
    // writes stay, on error the caller's savepoint undoes them.
    if r.is_ok() {
        cx.store.release_savepoint(sp)?;
    }
    r
}

/// `EXIT label` naming this block leaves it.
fn block_flow(fl: Flow, label: &Option<String>) -> Flow {
    match fl {
        Flow::Exit(Some(l)) if Some(&l) == label.as_ref() => Flow::Normal,
        other => other,
    }
}

/// What a loop does with the flow of one iteration: `None` to go on.
fn loop_flow(fl: Flow, label: &Option<String>) -> Option<Flow> {
    match fl {
        Flow::Normal => None,
        Flow::Continue(None) => None,
        Flow::Continue(Some(l)) if Some(&l) == label.as_ref() => None,
        Flow::Exit(None) => Some(Flow::Normal),
        Flow::Exit(Some(l)) if Some(&l) == label.as_ref() => Some(Flow::Normal),
        other => Some(other),
    }
}

fn exec_stmts(stmts: &[Stmt], f: &CompiledFunction, cx: &mut Cx<'_>) -> Result<Flow> {
    for s in stmts {
        cx.gas.charge(cx.schedule.pl_step)?;
        let fl = exec_stmt(s, f, cx)?;
        if !matches!(fl, Flow::Normal) {
            return Ok(fl);
        }
    }
    Ok(Flow::Normal)
}

fn exec_stmt(s: &Stmt, f: &CompiledFunction, cx: &mut Cx<'_>) -> Result<Flow> {
    match s {
        Stmt::Null => Ok(Flow::Normal),
        Stmt::Assign { slot, expr, line } => {
            let v = eval_pl(expr, cx)?;
            set_var(f, *slot, v, cx).map_err(|e| match e {
                SqlError::InvalidValue { .. } | SqlError::NumericOutOfRange { .. } | SqlError::TypeMismatch { .. } => e,
                other => SqlError::Plpgsql { function: f.src.name.clone(), line: *line, message: other.to_string() },
            })?;
            Ok(Flow::Normal)
        }
        Stmt::If { branches, else_ } => {
            for (c, body) in branches {
                if cond(c, cx)? {
                    return exec_stmts(body, f, cx);
                }
            }
            exec_stmts(else_, f, cx)
        }
        Stmt::Loop { label, body } => loop {
            cx.gas.charge(cx.schedule.pl_step)?;
            if let Some(fl) = loop_flow(exec_stmts(body, f, cx)?, label) {
                return Ok(fl);
            }
        },
        Stmt::While { label, cond: c, body } => {
            while cond(c, cx)? {
                cx.gas.charge(cx.schedule.pl_step)?;
                if let Some(fl) = loop_flow(exec_stmts(body, f, cx)?, label) {
                    return Ok(fl);
                }
            }
            Ok(Flow::Normal)
        }
        Stmt::ForRange { label, slot, lo, hi, step, reverse, body } => {
            let int = |v: Value, what: &str| -> Result<i64> {
                match types::cast(v, SqlType::BigInt)? {
                    Value::Int(i) => Ok(i),
                    _ => Err(SqlError::InvalidValue { ty: "FOR loop bound".into(), input: format!("NULL {what}") }),
                }
            };
            let lo = int(eval_pl(lo, cx)?, "lower bound")?;
            let hi = int(eval_pl(hi, cx)?, "upper bound")?;
            let step = match step {
                Some(e) => int(eval_pl(e, cx)?, "step")?,
                None => 1,
            };
            if step <= 0 {
                return Err(SqlError::InvalidValue {
                    ty: "FOR loop step".into(),
                    input: format!("{step} (must be positive)"),
                });
            }
            let mut i = lo;
            let mut found = false;
            loop {
                if (!*reverse && i > hi) || (*reverse && i < hi) {
                    break;
                }
                found = true;
                cx.gas.charge(cx.schedule.pl_step)?;
                set_var(f, *slot, Value::Int(i), cx)?;
                if let Some(fl) = loop_flow(exec_stmts(body, f, cx)?, label) {
                    set_var(f, FOUND_SLOT, Value::Bool(found), cx)?;
                    return Ok(fl);
                }
                let next = if *reverse { i.checked_sub(step) } else { i.checked_add(step) };
                match next {
                    Some(n) => i = n,
                    None => break,
                }
            }
            set_var(f, FOUND_SLOT, Value::Bool(found), cx)?;
            Ok(Flow::Normal)
        }
        Stmt::ForQuery { label, targets, query, body } => {
            let rows = exec_unnamed(query, cx)?.rows;
            let found = !rows.is_empty();
            for r in rows {
                cx.gas.charge(cx.schedule.pl_step)?;
                for (slot, v) in targets.iter().zip(r.into_iter().chain(std::iter::repeat(Value::Null))) {
                    set_var(f, *slot, v, cx)?;
                }
                if let Some(fl) = loop_flow(exec_stmts(body, f, cx)?, label) {
                    set_var(f, FOUND_SLOT, Value::Bool(found), cx)?;
                    return Ok(fl);
                }
            }
            set_var(f, FOUND_SLOT, Value::Bool(found), cx)?;
            Ok(Flow::Normal)
        }
        Stmt::Exit { label, cond: c, is_continue } => {
            if let Some(c) = c {
                if !cond(c, cx)? {
                    return Ok(Flow::Normal);
                }
            }
            Ok(if *is_continue { Flow::Continue(label.clone()) } else { Flow::Exit(label.clone()) })
        }
        Stmt::Return(e) => Ok(Flow::Return(match e {
            Some(e) => eval_pl(e, cx)?,
            None => Value::Null,
        })),
        Stmt::Raise { level, format, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval_pl(a, cx)?);
            }
            let mut msg = String::new();
            let mut it = vals.into_iter();
            let mut chars = format.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '%' {
                    if chars.peek() == Some(&'%') {
                        chars.next();
                        msg.push('%');
                    } else {
                        match it.next() {
                            Some(Value::Null) => msg.push_str("<NULL>"),
                            Some(v) => msg.push_str(&types::to_text(&v)),
                            None => {}
                        }
                    }
                } else {
                    msg.push(c);
                }
            }
            match level {
                RaiseLevel::Exception => Err(SqlError::Raised { message: msg }),
                RaiseLevel::Notice => {
                    if cx.notices.len() < cx.limits.max_notices {
                        cx.notices.push(msg);
                    }
                    Ok(Flow::Normal)
                }
            }
        }
        Stmt::Block(b) => exec_block(b, f, cx),
        Stmt::Sql { stmt, into, perform } => {
            let res = exec_unnamed(stmt, cx)?;
            let is_query = matches!(**stmt, Bound::Query { .. });
            match into {
                Some((slots, strict)) => {
                    if *strict && res.rows.len() > 1 {
                        return Err(SqlError::TooManyRows);
                    }
                    if *strict && res.rows.is_empty() {
                        return Err(SqlError::NoDataFound);
                    }
                    let found = !res.rows.is_empty();
                    let row = res.rows.into_iter().next().unwrap_or_default();
                    for (i, slot) in slots.iter().enumerate() {
                        set_var(f, *slot, row.get(i).cloned().unwrap_or(Value::Null), cx)?;
                    }
                    set_var(f, FOUND_SLOT, Value::Bool(found), cx)?;
                }
                None => {
                    if is_query && !*perform {
                        return Err(SqlError::Plpgsql {
                            function: f.src.name.clone(),
                            line: 0,
                            message: "query has no destination for result data (use PERFORM or SELECT INTO)".into(),
                        });
                    }
                    let found = if is_query { !res.rows.is_empty() } else { res.rows_affected > 0 };
                    set_var(f, FOUND_SLOT, Value::Bool(found), cx)?;
                }
            }
            Ok(Flow::Normal)
        }
    }
}
