//! Name helpers shared by both wings: identifier folding, qualified-name
//! parts, source positions, and the reserved prefix of host functions.

use sqlparser::ast;

use crate::error::{Pos, Result, SqlError};

/// Folds an identifier as PostgreSQL does: unquoted names are lower-cased.
pub fn ident_name(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

pub fn pos_of(span: sqlparser::tokenizer::Span) -> Pos {
    Pos::new(span.start.line, span.start.column)
}

pub fn object_parts(name: &ast::ObjectName) -> Result<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(id) => Ok(ident_name(id)),
            None => Err(SqlError::Unsupported { feature: format!("object name {name}") }),
        })
        .collect()
}

/// The reserved prefix of host function names.
pub const HOST_PREFIX: &str = "aergo_";

/// True for names that bind to host calls (see [`crate::host`]).
pub fn is_host_name(name: &str) -> bool {
    name.starts_with(HOST_PREFIX)
}
