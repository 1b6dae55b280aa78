//! The sqlparser front end: SQL text to statements and expressions
//! (PostgreSQL dialect), and splitting batches at top-level semicolons.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{syntax, Pos, Result, SqlError};

/// Parses SQL text with the PostgreSQL dialect.
pub fn parse_sql(sql: &str) -> Result<Vec<ast::Statement>> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(syntax)
}

/// Splits a batch at top-level semicolons (dollar-quoted bodies are one
/// token, so function bodies stay whole).
pub fn split_statements(sql: &str) -> Result<Vec<String>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().map_err(|e| SqlError::Syntax {
        message: e.message.clone(),
        pos: Pos::new(e.location.line, e.location.column),
    })?;
    let mut out = Vec::new();
    let mut cur = String::new();
    for t in tokens {
        if t == Token::SemiColon {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
        } else {
            cur.push_str(&t.to_string());
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Whether a statement is `CREATE [OR REPLACE] FUNCTION` (parsed by our own
/// parser, not sqlparser).
pub(crate) fn is_create_function(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(4)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    matches!(words.as_slice(), [c, f, ..] if c == "create" && f == "function")
        || matches!(words.as_slice(), [c, o, r, f] if c == "create" && o == "or" && r == "replace" && f == "function")
}

pub fn parse_expr(sql: &str) -> Result<ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(syntax)
}

pub fn parse_query(sql: &str) -> Result<ast::Query> {
    let stmts = parse_sql(sql)?;
    match stmts.into_iter().next() {
        Some(ast::Statement::Query(q)) => Ok(*q),
        _ => Err(SqlError::Syntax { message: "expected a query".into(), pos: Pos::UNKNOWN }),
    }
}
