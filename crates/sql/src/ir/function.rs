//! Functions: a parsed `CREATE FUNCTION` ([`FunctionDecl`]) and the
//! compiled form the PL/pgSQL interpreter runs ([`CompiledFunction`]).

use crate::types::SqlType;

use super::expr::Expr;
use super::statement::{Bound, Deps};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    PlPgSql,
    Sql,
}

/// A parsed `CREATE FUNCTION` statement.
#[derive(Clone, Debug)]
pub struct FunctionDecl {
    pub schema: String,
    pub name: String,
    pub or_replace: bool,
    pub params: Vec<(String, SqlType, Option<String>)>,
    /// `None` for `RETURNS void`.
    pub returns: Option<SqlType>,
    pub language: Lang,
    pub strict: bool,
    pub body: String,
    /// Line of the body's first character in the CREATE text.
    pub body_line: u64,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RaiseLevel {
    Exception,
    Notice,
}

#[derive(Clone, Debug)]
pub(crate) enum Stmt {
    Assign {
        slot: usize,
        expr: Expr,
        line: u64,
    },
    If {
        branches: Vec<(Expr, Vec<Stmt>)>,
        else_: Vec<Stmt>,
    },
    Loop {
        label: Option<String>,
        body: Vec<Stmt>,
    },
    While {
        label: Option<String>,
        cond: Expr,
        body: Vec<Stmt>,
    },
    ForRange {
        label: Option<String>,
        slot: usize,
        lo: Expr,
        hi: Expr,
        step: Option<Expr>,
        reverse: bool,
        body: Vec<Stmt>,
    },
    ForQuery {
        label: Option<String>,
        targets: Vec<usize>,
        query: Box<Bound>,
        body: Vec<Stmt>,
    },
    Exit {
        label: Option<String>,
        cond: Option<Expr>,
        is_continue: bool,
    },
    Return(Option<Expr>),
    Sql {
        stmt: Box<Bound>,
        into: Option<(Vec<usize>, bool)>,
        perform: bool,
    },
    Raise {
        level: RaiseLevel,
        format: String,
        args: Vec<Expr>,
    },
    Block(Box<Block>),
    Null,
}

#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub label: Option<String>,
    pub decls: Vec<(usize, Option<Expr>)>,
    pub body: Vec<Stmt>,
    pub handlers: Vec<(Vec<String>, Vec<Stmt>)>,
    pub sqlerrm_slot: Option<usize>,
}

/// A function ready to run.
#[derive(Debug)]
pub struct CompiledFunction {
    /// The catalogue blob this was compiled from.
    pub meta: Vec<u8>,
    /// `<schema>.<name>`, for messages (made once: a call's return value
    /// is checked against its type with this name on every call).
    pub name: String,
    /// Tables the body's statements were bound against.
    pub deps: Deps,
    pub src: FunctionDecl,
    pub nslots: usize,
    pub slot_types: Vec<Option<SqlType>>,
    pub slot_names: Vec<String>,
    pub defaults: Vec<Option<Expr>>,
    pub body: Body,
}

#[derive(Debug)]
pub(crate) enum Body {
    Pl(Block),
    Sql(Vec<Bound>),
}

/// Frame slot 0 is FOUND; parameters follow from slot 1.
pub(crate) const FOUND_SLOT: usize = 0;

/// Statements of a compiled function, for access analysis.
pub(crate) fn function_statements(f: &CompiledFunction) -> Vec<&Bound> {
    fn walk<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Bound>) {
        for s in stmts {
            match s {
                Stmt::If { branches, else_ } => {
                    for (_, b) in branches {
                        walk(b, out);
                    }
                    walk(else_, out);
                }
                Stmt::Loop { body, .. } | Stmt::While { body, .. } | Stmt::ForRange { body, .. } => walk(body, out),
                Stmt::ForQuery { query, body, .. } => {
                    out.push(query);
                    walk(body, out);
                }
                Stmt::Sql { stmt, .. } => out.push(stmt),
                Stmt::Block(b) => {
                    walk(&b.body, out);
                    for (_, h) in &b.handlers {
                        walk(h, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    match &f.body {
        Body::Pl(b) => {
            walk(&b.body, &mut out);
            for (_, h) in &b.handlers {
                walk(h, &mut out);
            }
        }
        Body::Sql(stmts) => out.extend(stmts.iter()),
    }
    out
}

/// Every expression of a compiled function (for finding nested calls).
pub(crate) fn function_exprs(f: &CompiledFunction) -> Vec<&Expr> {
    fn walk<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Expr>) {
        for s in stmts {
            match s {
                Stmt::Assign { expr, .. } => out.push(expr),
                Stmt::If { branches, else_ } => {
                    for (c, b) in branches {
                        out.push(c);
                        walk(b, out);
                    }
                    walk(else_, out);
                }
                Stmt::Loop { body, .. } => walk(body, out),
                Stmt::While { cond, body, .. } => {
                    out.push(cond);
                    walk(body, out);
                }
                Stmt::ForRange { lo, hi, step, body, .. } => {
                    out.push(lo);
                    out.push(hi);
                    if let Some(s) = step {
                        out.push(s);
                    }
                    walk(body, out);
                }
                Stmt::ForQuery { body, .. } => walk(body, out),
                Stmt::Exit { cond: Some(c), .. } => out.push(c),
                Stmt::Return(Some(e)) => out.push(e),
                Stmt::Raise { args, .. } => out.extend(args.iter()),
                Stmt::Block(b) => {
                    for (_, d) in &b.decls {
                        if let Some(d) = d {
                            out.push(d);
                        }
                    }
                    walk(&b.body, out);
                    for (_, h) in &b.handlers {
                        walk(h, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out: Vec<&Expr> = f.defaults.iter().flatten().collect();
    if let Body::Pl(b) = &f.body {
        for (_, d) in &b.decls {
            if let Some(d) = d {
                out.push(d);
            }
        }
        walk(&b.body, &mut out);
        for (_, h) in &b.handlers {
            walk(h, &mut out);
        }
    }
    out
}

impl CompiledFunction {
    pub fn param_count(&self) -> usize {
        self.src.params.len()
    }
}
