//! Compiling PL/pgSQL and SQL-language function bodies.
//!
//! The body of a `plpgsql` function is tokenized with sqlparser's tokenizer
//! and parsed by our own recursive-descent parser for the block structure
//! (DECLARE, BEGIN/END, IF/ELSIF/ELSE, LOOP/WHILE/FOR, EXIT/CONTINUE,
//! RETURN, RAISE, PERFORM, SELECT INTO \[STRICT\], nested blocks with
//! EXCEPTION handlers); every expression and embedded statement is
//! re-rendered to text, with variable names quoted, and handed to
//! sqlparser and the ordinary binder, which resolves variables to frame
//! slots.
//!
//! A function is compiled on its first call and cached by the engine
//! until its catalogue entry (or a table it uses) changes. At CREATE time
//! the body is compiled once to report syntax errors, unsupported and
//! non-deterministic constructs; names of tables that do not exist yet are
//! accepted, as PostgreSQL does.

use aergo_store::TableStore;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::catalog::{self, FunctionDef};
use crate::error::{Pos, Result, SqlError};
use crate::ir::{
    nondeterministic_hint, Block, Body, Bound, CompiledFunction, Deps, Expr, FunctionDecl, Lang, RaiseLevel, Stmt,
};
use crate::types::SqlType;

use super::bind::{Binder, Scope, VarScope};
use super::dml::bind_statement;
use super::function_decl::{parse_create_function, parse_type, render_token, tokenize, word_in, word_is, word_name};
use super::parse::{parse_expr, parse_sql};

struct PlParser<'a> {
    toks: Vec<TokenWithSpan>,
    p: usize,
    store: &'a dyn TableStore,
    schema: String,
    vars: VarScope,
    slot_types: Vec<Option<SqlType>>,
    slot_names: Vec<String>,
    deps: Deps,
    fname: String,
    line_offset: u64,
    /// Record variables declared `RECORD`, whose fields a FOR loop defines.
    records: Vec<String>,
    /// Statement lists open around the current position (blocks, IF,
    /// loops), bounded by [`MAX_PLPGSQL_NESTING`] before recursing.
    nesting: usize,
}

/// Most statement lists (BEGIN blocks, IF branches, loop bodies) nested in
/// one function body. The parser recurses once per level and so does the
/// interpreter, so this bound is what keeps both within a small stack
/// whatever the body.
pub const MAX_PLPGSQL_NESTING: usize = 64;

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
        let ast = parse_expr(&text)?;
        let mut b = self.binder();
        let e = b.bind_expr(&ast, &Scope::default())?;
        let deps = std::mem::take(&mut b.deps);
        drop(b);
        self.merge_deps(deps);
        Ok(e)
    }

    fn merge_deps(&mut self, deps: Deps) {
        for d in deps {
            if !self.deps.contains(&d) {
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
        if matches!(bound, Bound::ExplainAnalyze { .. }) {
            return Err(SqlError::Unsupported { feature: "EXPLAIN ANALYZE inside a function".into() });
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
        if self.nesting >= MAX_PLPGSQL_NESTING {
            return Err(SqlError::LimitExceeded {
                what: "nesting of blocks, IF and loops in a function body",
                limit: MAX_PLPGSQL_NESTING as u64,
            });
        }
        self.nesting += 1;
        let r = self.parse_stmts_inner(stop);
        self.nesting -= 1;
        r
    }

    fn parse_stmts_inner(&mut self, stop: &[&str]) -> Result<Vec<Stmt>> {
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
pub(crate) fn compile(store: &dyn TableStore, def: &FunctionDef, meta: Vec<u8>) -> Result<CompiledFunction> {
    let src = parse_create_function(&def.source, &def.schema)?;
    compile_source(store, &src, meta)
}

pub(crate) fn compile_source(store: &dyn TableStore, src: &FunctionDecl, meta: Vec<u8>) -> Result<CompiledFunction> {
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
        nesting: 0,
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
        name: fname,
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
