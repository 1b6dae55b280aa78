//! PL/pgSQL and SQL-language functions.
//!
//! `CREATE FUNCTION` is parsed here (not by sqlparser) so that parameters
//! may carry names that are reserved words in SQL, such as `to` in the
//! whitepaper's `transfer(sender, to, amount)`. The body of a `plpgsql`
//! function is tokenized with sqlparser's tokenizer and parsed by our own
//! recursive-descent parser for the block structure (DECLARE, BEGIN/END,
//! IF/ELSIF/ELSE, LOOP/WHILE/FOR, EXIT/CONTINUE, RETURN, RAISE, PERFORM,
//! SELECT INTO [STRICT], nested blocks with EXCEPTION handlers); every
//! expression and embedded statement is re-rendered to text, with variable
//! names quoted, and handed to sqlparser and the ordinary binder, which
//! resolves variables to frame slots.
//!
//! A function is compiled on its first call and cached by the engine
//! until its catalogue entry (or a table it uses) changes. At CREATE time
//! the body is compiled once to report syntax errors, unsupported and
//! non-deterministic constructs; names of tables that do not exist yet are
//! accepted, as PostgreSQL does.

use std::sync::Arc;

use aergo_store::{TableStore, Value};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::catalog::{self, FunctionDef};
use crate::engine::{bind_statement, exec_bound, parse_sql, Bound, Engine};
use crate::error::{Pos, Result, SqlError};
use crate::exec::Cx;
use crate::expr::{eval, nondeterministic_hint, Expr};
use crate::plan::{Binder, Scope, VarScope};
use crate::types::{self, SqlType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    PlPgSql,
    Sql,
}

/// A parsed `CREATE FUNCTION` statement.
#[derive(Clone, Debug)]
pub struct FunctionSource {
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

fn perr(msg: impl Into<String>, pos: Pos) -> SqlError {
    SqlError::Syntax { message: msg.into(), pos }
}

fn tok_pos(t: &TokenWithSpan) -> Pos {
    Pos::new(t.span.start.line, t.span.start.column)
}

fn tokenize(text: &str) -> Result<Vec<TokenWithSpan>> {
    let toks = Tokenizer::new(&PostgreSqlDialect {}, text)
        .tokenize_with_location()
        .map_err(|e| perr(e.message.clone(), Pos::new(e.location.line, e.location.column)))?;
    Ok(toks.into_iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).collect())
}

/// Renders a token back to SQL text (quotes inside strings re-escaped).
pub fn render_token(t: &Token) -> String {
    match t {
        Token::SingleQuotedString(s) => format!("'{}'", s.replace('\'', "''")),
        other => other.to_string(),
    }
}

fn word_is(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

fn word_in(t: &Token, kws: &[&str]) -> bool {
    kws.iter().any(|k| word_is(t, k))
}

fn word_name(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) => Some(if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() }),
        _ => None,
    }
}

/// Parses `CREATE [OR REPLACE] FUNCTION name(args) RETURNS type AS $$...$$
/// LANGUAGE plpgsql|sql [attributes]`.
pub fn parse_create_function(sql: &str, default_schema: &str) -> Result<FunctionSource> {
    let toks = tokenize(sql)?;
    let mut p = 0usize;
    let at = |p: usize| toks.get(p).map(tok_pos).unwrap_or_default();
    let expect_kw = |p: &mut usize, kw: &str, what: &str| -> Result<()> {
        match toks.get(*p) {
            Some(t) if word_is(&t.token, kw) => {
                *p += 1;
                Ok(())
            }
            _ => Err(perr(format!("expected {what}"), at(*p))),
        }
    };
    expect_kw(&mut p, "CREATE", "CREATE")?;
    let mut or_replace = false;
    if toks.get(p).is_some_and(|t| word_is(&t.token, "OR")) {
        p += 1;
        expect_kw(&mut p, "REPLACE", "REPLACE after OR")?;
        or_replace = true;
    }
    expect_kw(&mut p, "FUNCTION", "FUNCTION")?;
    let mut name_parts = vec![word_name(&toks.get(p).ok_or_else(|| perr("expected a function name", at(p)))?.token)
        .ok_or_else(|| perr("expected a function name", at(p)))?];
    p += 1;
    if toks.get(p).is_some_and(|t| t.token == Token::Period) {
        p += 1;
        name_parts.push(
            word_name(&toks.get(p).ok_or_else(|| perr("expected a name", at(p)))?.token)
                .ok_or_else(|| perr("expected a name", at(p)))?,
        );
        p += 1;
    }
    let (schema, name) = match name_parts.as_slice() {
        [n] => (default_schema.to_string(), n.clone()),
        [s, n] => (s.clone(), n.clone()),
        _ => return Err(perr("bad function name", at(p))),
    };
    catalog::check_ident(&schema)?;
    catalog::check_ident(&name)?;
    if toks.get(p).map(|t| &t.token) != Some(&Token::LParen) {
        return Err(perr("expected ( after the function name", at(p)));
    }
    p += 1;
    // Parameters: [IN] name type [DEFAULT expr | = expr], ...
    let mut params = Vec::new();
    if toks.get(p).map(|t| &t.token) == Some(&Token::RParen) {
        p += 1;
    } else {
        loop {
            let mut depth = 0i32;
            let start = p;
            while let Some(t) = toks.get(p) {
                match t.token {
                    Token::LParen => depth += 1,
                    Token::RParen if depth == 0 => break,
                    Token::RParen => depth -= 1,
                    Token::Comma if depth == 0 => break,
                    _ => {}
                }
                p += 1;
            }
            let part = &toks[start..p];
            params.push(parse_param(part, at(start))?);
            match toks.get(p).map(|t| &t.token) {
                Some(Token::Comma) => p += 1,
                Some(Token::RParen) => {
                    p += 1;
                    break;
                }
                _ => return Err(perr("unterminated parameter list", at(p))),
            }
        }
    }
    let mut returns = None;
    let mut returns_seen = false;
    let mut language = None;
    let mut body: Option<(String, u64)> = None;
    let mut strict = false;
    while let Some(t) = toks.get(p) {
        if word_is(&t.token, "RETURNS") {
            p += 1;
            returns_seen = true;
            let start = p;
            let mut depth = 0i32;
            while let Some(t) = toks.get(p) {
                let stop = depth == 0
                    && word_in(
                        &t.token,
                        &[
                            "AS",
                            "LANGUAGE",
                            "IMMUTABLE",
                            "STABLE",
                            "VOLATILE",
                            "STRICT",
                            "CALLED",
                            "SECURITY",
                            "PARALLEL",
                            "RETURNS",
                            "LEAKPROOF",
                        ],
                    );
                if stop || t.token == Token::SemiColon || t.token == Token::EOF {
                    break;
                }
                match t.token {
                    Token::LParen => depth += 1,
                    Token::RParen => depth -= 1,
                    _ => {}
                }
                p += 1;
            }
            let text: String = toks[start..p].iter().map(|t| render_token(&t.token)).collect::<Vec<_>>().join(" ");
            let lower = text.to_lowercase();
            if lower == "void" {
                returns = None;
            } else if lower.starts_with("setof")
                || lower.starts_with("table")
                || lower == "record"
                || lower == "trigger"
            {
                return Err(SqlError::Unsupported {
                    feature: format!("functions returning {text} (only scalar results)"),
                });
            } else {
                returns = Some(parse_type(&text, at(start))?);
            }
        } else if word_is(&t.token, "AS") {
            p += 1;
            let t = toks.get(p).ok_or_else(|| perr("expected the function body after AS", at(p)))?;
            body = Some(match &t.token {
                Token::DollarQuotedString(d) => (d.value.clone(), t.span.start.line),
                Token::SingleQuotedString(s) => (s.clone(), t.span.start.line),
                _ => return Err(perr("expected the function body as a $$-quoted or quoted string", tok_pos(t))),
            });
            p += 1;
        } else if word_is(&t.token, "LANGUAGE") {
            p += 1;
            let l =
                toks.get(p).and_then(|t| word_name(&t.token)).ok_or_else(|| perr("expected a language name", at(p)))?;
            language = Some(match l.as_str() {
                "plpgsql" => Lang::PlPgSql,
                "sql" => Lang::Sql,
                other => return Err(SqlError::Unsupported { feature: format!("LANGUAGE {other}") }),
            });
            p += 1;
        } else if word_is(&t.token, "STRICT") {
            strict = true;
            p += 1;
        } else if word_in(&t.token, &["IMMUTABLE", "STABLE", "VOLATILE", "LEAKPROOF"]) {
            p += 1;
        } else if matches!(t.token, Token::SemiColon | Token::EOF) {
            break;
        } else {
            return Err(perr(format!("unexpected {} in CREATE FUNCTION", render_token(&t.token)), tok_pos(t)));
        }
    }
    if !returns_seen {
        return Err(perr("CREATE FUNCTION needs RETURNS", Pos::UNKNOWN));
    }
    let (body, body_line) = body.ok_or_else(|| perr("CREATE FUNCTION needs AS <body>", Pos::UNKNOWN))?;
    let language = language.ok_or_else(|| perr("CREATE FUNCTION needs LANGUAGE plpgsql or sql", Pos::UNKNOWN))?;
    Ok(FunctionSource {
        schema,
        name,
        or_replace,
        params,
        returns,
        language,
        strict,
        body,
        body_line,
        text: sql.to_string(),
    })
}

fn parse_type(text: &str, pos: Pos) -> Result<SqlType> {
    let dt = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_data_type())
        .map_err(|e| perr(format!("bad type {text:?}: {e}"), pos))?;
    SqlType::from_ast(&dt)
}

fn parse_param(part: &[TokenWithSpan], pos: Pos) -> Result<(String, SqlType, Option<String>)> {
    let mut i = 0;
    if part.first().is_some_and(|t| word_is(&t.token, "IN")) {
        i += 1;
    }
    if part.first().is_some_and(|t| word_is(&t.token, "OUT") || word_is(&t.token, "INOUT")) {
        return Err(SqlError::Unsupported { feature: "OUT / INOUT parameters".into() });
    }
    let name = part.get(i).and_then(|t| word_name(&t.token)).ok_or_else(|| perr("expected a parameter name", pos))?;
    catalog::check_ident(&name)?;
    i += 1;
    let def_at = part[i..].iter().position(|t| word_is(&t.token, "DEFAULT") || t.token == Token::Eq).map(|x| x + i);
    let type_end = def_at.unwrap_or(part.len());
    if type_end <= i {
        return Err(perr(format!("parameter {name:?} needs a type"), pos));
    }
    let ty_text: String = part[i..type_end].iter().map(|t| render_token(&t.token)).collect::<Vec<_>>().join(" ");
    let ty = parse_type(&ty_text, pos)?;
    let default = def_at.map(|d| part[d + 1..].iter().map(|t| render_token(&t.token)).collect::<Vec<_>>().join(" "));
    Ok((name, ty, default))
}

// ----- compiled form -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RaiseLevel {
    Exception,
    Notice,
}

#[derive(Clone, Debug)]
enum Stmt {
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
struct Block {
    label: Option<String>,
    decls: Vec<(usize, Option<Expr>)>,
    body: Vec<Stmt>,
    handlers: Vec<(Vec<String>, Vec<Stmt>)>,
    sqlerrm_slot: Option<usize>,
}

/// A function ready to run.
#[derive(Debug)]
pub struct CompiledFunction {
    /// The catalogue blob this was compiled from.
    pub meta: Vec<u8>,
    /// Tables the body's statements were bound against.
    pub deps: Vec<(String, Vec<u8>)>,
    pub src: FunctionSource,
    nslots: usize,
    slot_types: Vec<Option<SqlType>>,
    slot_names: Vec<String>,
    defaults: Vec<Option<Expr>>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Pl(Block),
    Sql(Vec<Bound>),
}

/// Frame slot 0 is FOUND; parameters follow from slot 1.
const FOUND_SLOT: usize = 0;

struct PlParser<'a> {
    toks: Vec<TokenWithSpan>,
    p: usize,
    store: &'a dyn TableStore,
    schema: String,
    vars: VarScope,
    slot_types: Vec<Option<SqlType>>,
    slot_names: Vec<String>,
    deps: Vec<(String, Vec<u8>)>,
    fname: String,
    line_offset: u64,
    /// Record variables declared `RECORD`, whose fields a FOR loop defines.
    records: Vec<String>,
}

impl<'a> PlParser<'a> {
    fn err(&self, msg: impl Into<String>) -> SqlError {
        let line = self.toks.get(self.p).map(|t| t.span.start.line).unwrap_or(0);
        SqlError::Plpgsql { function: self.fname.clone(), line: line + self.line_offset, message: msg.into() }
    }

    fn peek(&self) -> &Token {
        self.toks.get(self.p).map(|t| &t.token).unwrap_or(&Token::EOF)
    }

    fn peek_at(&self, k: usize) -> &Token {
        self.toks.get(self.p + k).map(|t| &t.token).unwrap_or(&Token::EOF)
    }

    fn line(&self) -> u64 {
        self.toks.get(self.p).map(|t| t.span.start.line + self.line_offset).unwrap_or(0)
    }

    fn is_kw(&self, kw: &str) -> bool {
        word_is(self.peek(), kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.p += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str, what: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", render_token(self.peek()))))
        }
    }

    fn expect(&mut self, t: Token, what: &str) -> Result<()> {
        if *self.peek() == t {
            self.p += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", render_token(self.peek()))))
        }
    }

    fn new_slot(&mut self, name: &str, ty: Option<SqlType>) -> usize {
        let slot = self.slot_types.len();
        self.slot_types.push(ty);
        self.slot_names.push(name.to_string());
        self.vars.vars.push((name.to_string(), slot, ty));
        slot
    }

    /// Tokens up to (not including) one of the stop conditions at nesting depth 0.
    fn collect_until(&mut self, stop: &dyn Fn(&Token, &Token) -> bool) -> Result<Vec<Token>> {
        let mut depth = 0i32;
        let mut out = Vec::new();
        loop {
            let t = self.peek().clone();
            if t == Token::EOF {
                return Err(self.err("unexpected end of function body"));
            }
            if depth == 0 && stop(&t, self.peek_at(1)) {
                return Ok(out);
            }
            match t {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                _ => {}
            }
            out.push(t);
            self.p += 1;
        }
    }

    /// Re-renders tokens as SQL, quoting variable names so that reserved
    /// words (like `to`) work as variables.
    fn render(&self, toks: &[Token]) -> String {
        let mut s = String::new();
        for (i, t) in toks.iter().enumerate() {
            let piece = match t {
                Token::Word(w) if w.quote_style.is_none() => {
                    let lower = w.value.to_lowercase();
                    let is_var = self.vars.lookup(&lower).is_some() || self.records.contains(&lower);
                    let after_dot = i > 0 && toks[i - 1] == Token::Period;
                    let before_paren = toks.get(i + 1) == Some(&Token::LParen);
                    if is_var && !after_dot && !before_paren {
                        format!("\"{lower}\"")
                    } else {
                        w.value.clone()
                    }
                }
                other => render_token(other),
            };
            let glue = i == 0 || *t == Token::Period || toks[i - 1] == Token::Period;
            if !glue {
                s.push(' ');
            }
            s.push_str(&piece);
        }
        s
    }

    fn binder(&self) -> Binder<'_> {
        Binder::new(self.store, &self.schema, Some(&self.vars))
    }

    fn compile_expr(&mut self, toks: &[Token]) -> Result<Expr> {
        if toks.is_empty() {
            return Err(self.err("expected an expression"));
        }
        let text = self.render(toks);
        check_deterministic(toks)?;
        let ast = crate::engine::parse_expr(&text)?;
        let mut b = self.binder();
        let e = b.bind_expr(&ast, &Scope::default())?;
        let deps = std::mem::take(&mut b.deps);
        drop(b);
        self.merge_deps(deps);
        Ok(e)
    }

    fn merge_deps(&mut self, deps: Vec<(String, Vec<u8>)>) {
        for d in deps {
            if !self.deps.iter().any(|(n, _)| *n == d.0) {
                self.deps.push(d);
            }
        }
    }

    fn compile_sql(&mut self, toks: &[Token]) -> Result<Bound> {
        check_deterministic(toks)?;
        let text = self.render(toks);
        let mut stmts = parse_sql(&text)?;
        if stmts.len() != 1 {
            return Err(self.err("expected one SQL statement"));
        }
        let mut b = self.binder();
        let bound = bind_statement(&mut b, stmts.remove(0))?;
        let deps = std::mem::take(&mut b.deps);
        drop(b);
        self.merge_deps(deps);
        if matches!(bound, Bound::Ddl(_) | Bound::CreateFunction(_)) {
            return Err(SqlError::Unsupported { feature: "DDL inside a function".into() });
        }
        Ok(bound)
    }

    fn var_slot(&self, name: &str) -> Result<usize> {
        self.vars.lookup(name).map(|(s, _)| s).ok_or_else(|| self.err(format!("{name:?} is not a known variable")))
    }

    fn parse_label(&mut self) -> Result<Option<String>> {
        if *self.peek() == Token::ShiftLeft {
            self.p += 1;
            let name = word_name(self.peek()).ok_or_else(|| self.err("expected a label name"))?;
            self.p += 1;
            self.expect(Token::ShiftRight, ">>")?;
            return Ok(Some(name));
        }
        Ok(None)
    }

    fn parse_block(&mut self, label: Option<String>) -> Result<Block> {
        let mark = self.vars.vars.len();
        let rec_mark = self.records.len();
        let mut decls = Vec::new();
        if self.eat_kw("DECLARE") {
            while !self.is_kw("BEGIN") {
                if *self.peek() == Token::EOF {
                    return Err(self.err("expected BEGIN"));
                }
                let name = word_name(self.peek()).ok_or_else(|| self.err("expected a variable name"))?;
                catalog::check_ident(&name)?;
                self.p += 1;
                self.eat_kw("CONSTANT");
                let ty_toks = self.collect_until(&|t, _| {
                    matches!(t, Token::SemiColon | Token::Assignment | Token::Eq)
                        || word_is(t, "DEFAULT")
                        || word_is(t, "NOT")
                })?;
                let ty_text = self.render(&ty_toks);
                if ty_text.eq_ignore_ascii_case("record") {
                    self.expect(Token::SemiColon, ";")?;
                    self.records.push(name);
                    continue;
                }
                let ty = parse_type(&ty_text, Pos::new(self.line(), 0))?;
                let mut not_null = false;
                if self.eat_kw("NOT") {
                    self.expect_kw("NULL", "NULL after NOT")?;
                    not_null = true;
                }
                let default = if matches!(self.peek(), Token::Assignment | Token::Eq) || self.is_kw("DEFAULT") {
                    self.p += 1;
                    let t = self.collect_until(&|t, _| *t == Token::SemiColon)?;
                    Some(self.compile_expr(&t)?)
                } else {
                    None
                };
                if not_null && default.is_none() {
                    return Err(self.err(format!("variable {name:?} is NOT NULL and needs a default")));
                }
                self.expect(Token::SemiColon, ";")?;
                let slot = self.new_slot(&name, Some(ty));
                decls.push((slot, default));
            }
        }
        self.expect_kw("BEGIN", "BEGIN")?;
        let body = self.parse_stmts(&["END", "EXCEPTION"])?;
        let mut handlers = Vec::new();
        let mut sqlerrm_slot = None;
        if self.eat_kw("EXCEPTION") {
            let hmark = self.vars.vars.len();
            let slot = self.new_slot("sqlerrm", Some(SqlType::Text));
            sqlerrm_slot = Some(slot);
            while self.eat_kw("WHEN") {
                let mut conds = Vec::new();
                loop {
                    let c = word_name(self.peek()).ok_or_else(|| self.err("expected a condition name"))?;
                    self.p += 1;
                    conds.push(c);
                    if !self.eat_kw("OR") {
                        break;
                    }
                }
                self.expect_kw("THEN", "THEN")?;
                let stmts = self.parse_stmts(&["WHEN", "END"])?;
                handlers.push((conds, stmts));
            }
            self.vars.vars.truncate(hmark);
        }
        self.expect_kw("END", "END")?;
        if let (Some(l), Some(n)) = (&label, word_name(self.peek())) {
            if *l == n {
                self.p += 1;
            }
        }
        self.vars.vars.truncate(mark);
        self.records.truncate(rec_mark);
        Ok(Block { label, decls, body, handlers, sqlerrm_slot })
    }

    fn parse_stmts(&mut self, stop: &[&str]) -> Result<Vec<Stmt>> {
        let mut out = Vec::new();
        loop {
            if stop.iter().any(|k| self.is_kw(k)) {
                return Ok(out);
            }
            if *self.peek() == Token::EOF {
                return Err(self.err("unexpected end of function body (missing END?)"));
            }
            out.push(self.parse_stmt()?);
        }
    }

    fn end_loop(&mut self, label: &Option<String>) -> Result<()> {
        self.expect_kw("END", "END LOOP")?;
        self.expect_kw("LOOP", "LOOP after END")?;
        if let (Some(l), Some(n)) = (label, word_name(self.peek())) {
            if *l == n {
                self.p += 1;
            }
        }
        self.expect(Token::SemiColon, "; after END LOOP")
    }

    fn parse_stmt(&mut self) -> Result<Stmt> {
        let line = self.line();
        let label = self.parse_label()?;
        let t = self.peek().clone();
        if word_is(&t, "DECLARE") || word_is(&t, "BEGIN") {
            let b = self.parse_block(label)?;
            self.expect(Token::SemiColon, "; after END")?;
            return Ok(Stmt::Block(Box::new(b)));
        }
        if word_is(&t, "LOOP") {
            self.p += 1;
            let body = self.parse_stmts(&["END"])?;
            self.end_loop(&label)?;
            return Ok(Stmt::Loop { label, body });
        }
        if word_is(&t, "WHILE") {
            self.p += 1;
            let c = self.collect_until(&|t, _| word_is(t, "LOOP"))?;
            let cond = self.compile_expr(&c)?;
            self.p += 1;
            let body = self.parse_stmts(&["END"])?;
            self.end_loop(&label)?;
            return Ok(Stmt::While { label, cond, body });
        }
        if word_is(&t, "FOR") {
            self.p += 1;
            return self.parse_for(label);
        }
        if label.is_some() {
            return Err(self.err("a label must precede a block or loop"));
        }
        if word_is(&t, "IF") {
            self.p += 1;
            let mut branches = Vec::new();
            let c = self.collect_until(&|t, _| word_is(t, "THEN"))?;
            let cond = self.compile_expr(&c)?;
            self.p += 1;
            let body = self.parse_stmts(&["ELSIF", "ELSEIF", "ELSE", "END"])?;
            branches.push((cond, body));
            let mut else_ = Vec::new();
            loop {
                if self.eat_kw("ELSIF") || self.eat_kw("ELSEIF") {
                    let c = self.collect_until(&|t, _| word_is(t, "THEN"))?;
                    let cond = self.compile_expr(&c)?;
                    self.p += 1;
                    let body = self.parse_stmts(&["ELSIF", "ELSEIF", "ELSE", "END"])?;
                    branches.push((cond, body));
                } else if self.eat_kw("ELSE") {
                    else_ = self.parse_stmts(&["END"])?;
                } else {
                    break;
                }
            }
            self.expect_kw("END", "END IF")?;
            self.expect_kw("IF", "IF after END")?;
            self.expect(Token::SemiColon, "; after END IF")?;
            return Ok(Stmt::If { branches, else_ });
        }
        if word_is(&t, "EXIT") || word_is(&t, "CONTINUE") {
            self.p += 1;
            let is_continue = word_is(&t, "CONTINUE");
            let mut label = None;
            if let Token::Word(w) = self.peek() {
                if !w.value.eq_ignore_ascii_case("WHEN") {
                    label = word_name(self.peek());
                    self.p += 1;
                }
            }
            let cond = if self.eat_kw("WHEN") {
                let c = self.collect_until(&|t, _| *t == Token::SemiColon)?;
                Some(self.compile_expr(&c)?)
            } else {
                None
            };
            self.expect(Token::SemiColon, ";")?;
            return Ok(Stmt::Exit { label, cond, is_continue });
        }
        if word_is(&t, "RETURN") {
            self.p += 1;
            if word_is(self.peek(), "QUERY") || word_is(self.peek(), "NEXT") {
                return Err(SqlError::Unsupported {
                    feature: "RETURN QUERY / RETURN NEXT (set-returning functions)".into(),
                });
            }
            let e = self.collect_until(&|t, _| *t == Token::SemiColon)?;
            self.p += 1;
            return Ok(Stmt::Return(if e.is_empty() { None } else { Some(self.compile_expr(&e)?) }));
        }
        if word_is(&t, "RAISE") {
            self.p += 1;
            let level = match word_name(self.peek()).as_deref() {
                Some("exception") => {
                    self.p += 1;
                    RaiseLevel::Exception
                }
                Some("notice" | "warning" | "info" | "log" | "debug") => {
                    self.p += 1;
                    RaiseLevel::Notice
                }
                _ => RaiseLevel::Exception,
            };
            let format = match self.peek().clone() {
                Token::SingleQuotedString(s) => {
                    self.p += 1;
                    s
                }
                _ => {
                    return Err(SqlError::Unsupported {
                        feature: "RAISE without a format string (re-raise, USING)".into(),
                    })
                }
            };
            let mut args = Vec::new();
            while *self.peek() == Token::Comma {
                self.p += 1;
                let a = self.collect_until(&|t, _| matches!(t, Token::Comma | Token::SemiColon))?;
                args.push(self.compile_expr(&a)?);
            }
            if self.is_kw("USING") {
                return Err(SqlError::Unsupported { feature: "RAISE ... USING".into() });
            }
            self.expect(Token::SemiColon, ";")?;
            let holes = format.matches('%').count() - 2 * format.matches("%%").count();
            if holes != args.len() {
                return Err(self.err(format!("RAISE has {holes} placeholders but {} arguments", args.len())));
            }
            return Ok(Stmt::Raise { level, format, args });
        }
        if word_is(&t, "NULL") && *self.peek_at(1) == Token::SemiColon {
            self.p += 2;
            return Ok(Stmt::Null);
        }
        if word_is(&t, "PERFORM") {
            self.p += 1;
            let mut toks = vec![Token::make_keyword("SELECT")];
            toks.extend(self.collect_until(&|t, _| *t == Token::SemiColon)?);
            self.p += 1;
            let stmt = self.compile_sql(&toks)?;
            return Ok(Stmt::Sql { stmt: Box::new(stmt), into: None, perform: true });
        }
        if word_in(&t, &["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"]) {
            let toks = self.collect_until(&|t, _| *t == Token::SemiColon)?;
            self.p += 1;
            let (toks, into) = self.extract_into(toks)?;
            let stmt = self.compile_sql(&toks)?;
            return Ok(Stmt::Sql { stmt: Box::new(stmt), into, perform: false });
        }
        if word_in(&t, &["EXECUTE", "GET", "OPEN", "FETCH", "CLOSE", "MOVE", "CALL", "COMMIT", "ROLLBACK"]) {
            return Err(SqlError::Unsupported { feature: format!("PL/pgSQL statement {}", render_token(&t)) });
        }
        // Assignment: name := expr; or name = expr;
        if let Some(name) = word_name(&t) {
            if matches!(self.peek_at(1), Token::Assignment | Token::Eq) {
                let slot = self.var_slot(&name)?;
                self.p += 2;
                let e = self.collect_until(&|t, _| *t == Token::SemiColon)?;
                self.p += 1;
                let expr = self.compile_expr(&e)?;
                return Ok(Stmt::Assign { slot, expr, line });
            }
        }
        Err(self.err(format!("unexpected {}", render_token(&t))))
    }

    fn parse_for(&mut self, label: Option<String>) -> Result<Stmt> {
        let mut names = Vec::new();
        loop {
            names.push(word_name(self.peek()).ok_or_else(|| self.err("expected a loop variable"))?);
            self.p += 1;
            if *self.peek() == Token::Comma {
                self.p += 1;
            } else {
                break;
            }
        }
        self.expect_kw("IN", "IN")?;
        let reverse = self.eat_kw("REVERSE");
        let is_query = self.is_kw("SELECT") || self.is_kw("WITH") || self.is_kw("VALUES");
        let mark = self.vars.vars.len();
        let rec_mark = self.records.len();
        let stmt = if is_query {
            if reverse {
                return Err(self.err("REVERSE is only for integer loops"));
            }
            let q = self.collect_until(&|t, _| word_is(t, "LOOP"))?;
            self.p += 1;
            let query = self.compile_sql(&q)?;
            let Bound::Query { cols, .. } = &query else { return Err(self.err("FOR ... IN needs a query")) };
            let cols = cols.clone();
            // One name: a record (existing scalar variable with one column,
            // or fields rec.col); several names: one variable each.
            let targets = if names.len() == 1 && self.vars.lookup(&names[0]).is_none() {
                let rec = names[0].clone();
                self.records.push(rec.clone());
                cols.iter().map(|c| self.new_slot(&format!("{rec}.{}", c.name), c.ty)).collect()
            } else {
                names.iter().map(|n| self.var_slot(n)).collect::<Result<Vec<_>>>()?
            };
            let body = self.parse_stmts(&["END"])?;
            self.end_loop(&label)?;
            Stmt::ForQuery { label, targets, query: Box::new(query), body }
        } else {
            if names.len() != 1 {
                return Err(self.err("an integer FOR loop has one variable"));
            }
            let lo = self.collect_until(&|t, n| *t == Token::Period && *n == Token::Period)?;
            self.p += 2;
            let hi = self.collect_until(&|t, _| word_is(t, "LOOP") || word_is(t, "BY"))?;
            let step = if self.eat_kw("BY") {
                let s = self.collect_until(&|t, _| word_is(t, "LOOP"))?;
                Some(self.compile_expr(&s)?)
            } else {
                None
            };
            self.p += 1;
            let lo = self.compile_expr(&lo)?;
            let hi = self.compile_expr(&hi)?;
            let slot = self.new_slot(&names[0], Some(SqlType::BigInt));
            let body = self.parse_stmts(&["END"])?;
            self.end_loop(&label)?;
            Stmt::ForRange { label, slot, lo, hi, step, reverse, body }
        };
        self.vars.vars.truncate(mark);
        self.records.truncate(rec_mark);
        Ok(stmt)
    }

    /// Removes a top-level `INTO [STRICT] a, b` from a statement.
    #[allow(clippy::type_complexity)]
    fn extract_into(&self, toks: Vec<Token>) -> Result<(Vec<Token>, Option<(Vec<usize>, bool)>)> {
        let mut depth = 0i32;
        for i in 0..toks.len() {
            match toks[i] {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => {}
            }
            if depth != 0 || !word_is(&toks[i], "INTO") {
                continue;
            }
            if i > 0 && word_is(&toks[i - 1], "INSERT") {
                continue;
            }
            let mut j = i + 1;
            let strict = toks.get(j).is_some_and(|t| word_is(t, "STRICT"));
            if strict {
                j += 1;
            }
            let mut slots = Vec::new();
            loop {
                let name = toks.get(j).and_then(word_name).ok_or_else(|| self.err("expected a variable after INTO"))?;
                let mut full = name.clone();
                if toks.get(j + 1) == Some(&Token::Period) {
                    if let Some(f) = toks.get(j + 2).and_then(word_name) {
                        full = format!("{name}.{f}");
                        j += 2;
                    }
                }
                slots.push(self.var_slot(&full)?);
                j += 1;
                if toks.get(j) == Some(&Token::Comma) {
                    j += 1;
                } else {
                    break;
                }
            }
            let mut rest = toks[..i].to_vec();
            rest.extend_from_slice(&toks[j..]);
            return Ok((rest, Some((slots, strict))));
        }
        Ok((toks, None))
    }
}

/// Rejects calls of non-deterministic functions anywhere in a body.
fn check_deterministic(toks: &[Token]) -> Result<()> {
    for (i, t) in toks.iter().enumerate() {
        if let Some(n) = word_name(t) {
            if let Some(hint) = nondeterministic_hint(&n) {
                let call = toks.get(i + 1) == Some(&Token::LParen);
                let bare = matches!(
                    n.as_str(),
                    "current_timestamp" | "current_date" | "current_time" | "localtime" | "localtimestamp"
                );
                if call || bare {
                    return Err(SqlError::NonDeterministic { construct: format!("{n}()"), hint });
                }
            }
        }
    }
    Ok(())
}

/// Compiles a function from its catalogue entry.
pub fn compile(_engine: &Engine, store: &dyn TableStore, def: &FunctionDef, meta: Vec<u8>) -> Result<CompiledFunction> {
    let src = parse_create_function(&def.source, &def.schema)?;
    compile_source(store, &src, meta)
}

fn compile_source(store: &dyn TableStore, src: &FunctionSource, meta: Vec<u8>) -> Result<CompiledFunction> {
    let fname = format!("{}.{}", src.schema, src.name);
    let body_toks = tokenize(&spaced_dots(&src.body))?;
    let mut p = PlParser {
        toks: body_toks,
        p: 0,
        store,
        schema: src.schema.clone(),
        vars: VarScope::default(),
        slot_types: Vec::new(),
        slot_names: Vec::new(),
        deps: Vec::new(),
        fname: fname.clone(),
        line_offset: src.body_line.saturating_sub(1),
        records: Vec::new(),
    };
    p.new_slot("found", Some(SqlType::Bool));
    for (n, ty, _) in &src.params {
        p.new_slot(n, Some(*ty));
    }
    let mut defaults = Vec::new();
    for (_, _, d) in &src.params {
        defaults.push(match d {
            Some(text) => {
                let toks: Vec<Token> =
                    tokenize(text)?.into_iter().map(|t| t.token).filter(|t| *t != Token::EOF).collect();
                Some(p.compile_expr(&toks)?)
            }
            None => None,
        });
    }
    let body = match src.language {
        Lang::PlPgSql => {
            let label = p.parse_label()?;
            let b = p.parse_block(label)?;
            if *p.peek() == Token::SemiColon {
                p.p += 1;
            }
            if *p.peek() != Token::EOF {
                return Err(p.err(format!("unexpected {} after the final END", render_token(p.peek()))));
            }
            Body::Pl(b)
        }
        Lang::Sql => {
            let mut stmts = Vec::new();
            let all: Vec<Token> = p.toks.iter().map(|t| t.token.clone()).filter(|t| *t != Token::EOF).collect();
            for part in all.split(|t| *t == Token::SemiColon) {
                if part.is_empty() {
                    continue;
                }
                stmts.push(p.compile_sql(part)?);
            }
            if stmts.is_empty() {
                return Err(p.err("an SQL function needs at least one statement"));
            }
            if src.returns.is_some() && !matches!(stmts.last(), Some(Bound::Query { .. })) {
                return Err(p.err("the last statement of an SQL function returning a value must be a query"));
            }
            Body::Sql(stmts)
        }
    };
    Ok(CompiledFunction {
        meta,
        deps: p.deps,
        src: src.clone(),
        nslots: p.slot_types.len(),
        slot_types: p.slot_types,
        slot_names: p.slot_names,
        defaults,
        body,
    })
}

/// Puts spaces around `..` outside string literals, so `1..10` tokenizes
/// as two numbers and two periods.
fn spaced_dots(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    let mut in_str = false;
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_str = !in_str;
        }
        if !in_str && c == '.' && chars.get(i + 1) == Some(&'.') {
            out.push_str(" . . ");
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Executes `CREATE FUNCTION`: checks the body, then stores the source.
pub fn create_function(src: &FunctionSource, cx: &mut Cx<'_>) -> Result<()> {
    cx.check_schema_write(&src.schema)?;
    if crate::host::is_host_name(&src.name) {
        return Err(SqlError::InvalidValue {
            ty: "function name".into(),
            input: format!(
                "{:?} (names starting with {:?} are reserved for built-in and host functions)",
                src.name,
                crate::host::HOST_PREFIX
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
    match compile_source(&*cx.store, src, Vec::new()) {
        Ok(_) => {}
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
    let f: Arc<CompiledFunction> = cx.engine.function(&*cx.store, sname)?;
    let nparams = f.src.params.len();
    if args.len() > nparams || args.len() < nparams - f.defaults.iter().rev().take_while(|d| d.is_some()).count() {
        return Err(SqlError::WrongArity {
            function: format!("{}.{}", f.src.schema, f.src.name),
            expected: nparams.to_string(),
            got: args.len(),
        });
    }
    if f.src.strict && args.contains(&Value::Null) {
        return Ok(Value::Null);
    }
    let mut frame = vec![Value::Null; f.nslots];
    frame[FOUND_SLOT] = Value::Bool(false);
    // Defaults are evaluated in the caller's frame with no row.
    while args.len() < nparams {
        let d = f.defaults[args.len()].as_ref().ok_or_else(|| crate::expr::internal("missing default"))?;
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
                last = Some(exec_bound(s, cx)?);
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
    let fname = || format!("{}.{}", f.src.schema, f.src.name);
    match (r?, f.src.returns) {
        (Some(v), Some(ty)) => types::assign(v, ty, &fname()),
        (Some(_), None) | (None, None) => Ok(Value::Null),
        (None, Some(_)) => Err(SqlError::NoReturn { function: fname() }),
    }
}

fn set_var(f: &CompiledFunction, slot: usize, v: Value, cx: &mut Cx<'_>) -> Result<()> {
    let v = match f.slot_types.get(slot).copied().flatten() {
        Some(ty) => types::assign(v, ty, f.slot_names.get(slot).map(String::as_str).unwrap_or("variable"))?,
        None => v,
    };
    let s = cx.vars.get_mut(slot).ok_or_else(|| crate::expr::internal("variable slot out of range"))?;
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
            let rows = exec_bound(query, cx)?.rows;
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
            let res = exec_bound(stmt, cx)?;
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
