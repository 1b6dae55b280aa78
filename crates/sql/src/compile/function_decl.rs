//! Parsing `CREATE FUNCTION` with our own parser (not sqlparser), so that
//! parameters may carry names that are reserved words in SQL, such as `to`
//! in the whitepaper's `transfer(sender, to, amount)`; and the token
//! helpers the PL/pgSQL body parser shares.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::catalog;
use crate::error::{Pos, Result, SqlError};
use crate::ir::{FunctionDecl, Lang};
use crate::types::SqlType;

use super::parse::{is_create_function, split_statements};

pub(super) fn perr(msg: impl Into<String>, pos: Pos) -> SqlError {
    SqlError::Syntax { message: msg.into(), pos }
}

pub(super) fn tok_pos(t: &TokenWithSpan) -> Pos {
    Pos::new(t.span.start.line, t.span.start.column)
}

pub(super) fn tokenize(text: &str) -> Result<Vec<TokenWithSpan>> {
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

pub(super) fn word_is(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

pub(super) fn word_in(t: &Token, kws: &[&str]) -> bool {
    kws.iter().any(|k| word_is(t, k))
}

pub(super) fn word_name(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) => Some(if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() }),
        _ => None,
    }
}

/// Parses `CREATE [OR REPLACE] FUNCTION name(args) RETURNS type AS $$...$$
/// LANGUAGE plpgsql|sql [attributes]`.
pub fn parse_create_function(sql: &str, default_schema: &str) -> Result<FunctionDecl> {
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
    Ok(FunctionDecl {
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

pub(super) fn parse_type(text: &str, pos: Pos) -> Result<SqlType> {
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

/// The `(schema, name)` of every function a batch of SQL creates with
/// `CREATE [OR REPLACE] FUNCTION`, in order, without duplicates; names are
/// case-folded as the catalogue stores them. Other statements are ignored.
pub fn created_functions(sql: &str, default_schema: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for stmt in split_statements(sql)? {
        if is_create_function(&stmt) {
            let src = parse_create_function(&stmt, default_schema)?;
            let key = (src.schema, src.name);
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    Ok(out)
}
