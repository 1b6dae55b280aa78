//! `AS OF 'ref'` in read-only queries: the snapshot a query reads.
//!
//! Dolt's syntax, `SELECT ... FROM t AS OF 'feature'`, names the branch,
//! tag or `branch@height` a table is read at. Here one query reads one
//! snapshot: [`strip_as_of`] takes every `AS OF '<ref>'` clause out of the
//! text and returns the one ref they name (all must name the same), and
//! the caller runs the rest on that ref's state, every table of the query
//! included. A query mixing refs is refused rather than answered from one
//! of them.
//!
//! The scan skips string literals (`'...'`, `E'...'`), quoted identifiers,
//! dollar-quoted bodies and comments, so `AS OF` inside them is text.

use crate::error::{Result, SqlError};

/// Longest ref accepted, in bytes.
pub const MAX_REF_BYTES: usize = 200;

/// The query without its `AS OF` clauses, and the ref they name (`None`
/// when there is none).
pub fn strip_as_of(sql: &str) -> Result<(String, Option<String>)> {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut refs: Vec<String> = Vec::new();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => i = skip_quoted(b, i, b'\''),
            b'"' => i = skip_quoted(b, i, b'"'),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            }
            b'$' => i = skip_dollar(sql, i),
            c if is_word(c) => {
                let start = i;
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
                let preceded = start == 0 || !is_word(b[start - 1]);
                if preceded && sql[start..i].eq_ignore_ascii_case("as") {
                    if let Some((end, r)) = as_of_tail(sql, i)? {
                        // Drop the clause and the blanks before it.
                        let cut = sql[..start].trim_end().len().max(copied);
                        out.push_str(&sql[copied..cut]);
                        copied = end;
                        i = end;
                        if !refs.contains(&r) {
                            refs.push(r);
                        }
                    }
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    match refs.len() {
        0 => Ok((sql.to_string(), None)),
        1 => Ok((out, refs.pop())),
        _ => Err(SqlError::Unsupported {
            feature: format!(
                "AS OF naming different refs in one query ({}): one query reads one snapshot",
                refs.join(", ")
            ),
        }),
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// After `AS` at `i`: blanks, `OF`, blanks, a string literal. Returns the
/// end of the clause and the literal's text.
fn as_of_tail(sql: &str, i: usize) -> Result<Option<(usize, String)>> {
    let b = sql.as_bytes();
    let mut j = i;
    while j < b.len() && b[j].is_ascii_whitespace() {
        j += 1;
    }
    if j == i || !sql.get(j..j + 2).is_some_and(|w| w.eq_ignore_ascii_case("of")) {
        return Ok(None);
    }
    let mut k = j + 2;
    if k < b.len() && is_word(b[k]) {
        return Ok(None);
    }
    while k < b.len() && b[k].is_ascii_whitespace() {
        k += 1;
    }
    if b.get(k) != Some(&b'\'') {
        return Err(SqlError::Unsupported {
            feature: "AS OF without a quoted ref (AS OF 'branch', 'branch@height', 'tag')".into(),
        });
    }
    // The literal's closing quote (a doubled quote is a quote in it).
    let mut end = None;
    let mut j = k + 1;
    while j < b.len() {
        if b[j] == b'\'' {
            if b.get(j + 1) == Some(&b'\'') {
                j += 2;
                continue;
            }
            end = Some(j + 1);
            break;
        }
        j += 1;
    }
    let Some(end) = end else {
        return Err(SqlError::Unsupported { feature: "AS OF with an unterminated ref".into() });
    };
    let text = sql[k + 1..end - 1].replace("''", "'");
    if text.is_empty() || text.len() > MAX_REF_BYTES {
        return Err(SqlError::Unsupported {
            feature: format!("AS OF ref of {} bytes (1 to {MAX_REF_BYTES})", text.len()),
        });
    }
    Ok(Some((end, text)))
}

/// The end (one past the closing quote) of a quoted run starting at `i`;
/// a doubled quote is part of it.
fn skip_quoted(b: &[u8], i: usize, q: u8) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// The end of a `$tag$ ... $tag$` body starting at `i` (or `i + 1` when
/// it is not one, e.g. a `$1` parameter).
fn skip_dollar(sql: &str, i: usize) -> usize {
    let rest = &sql[i + 1..];
    let Some(close) = rest.find('$') else { return i + 1 };
    let tag = &rest[..close];
    if !tag.bytes().all(is_word) || tag.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
        return i + 1;
    }
    let delim = format!("${tag}$");
    let body = i + delim.len();
    sql[body..].find(&delim).map_or(sql.len(), |e| body + e + delim.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_clauses_and_returns_the_ref() {
        let (q, r) = strip_as_of("SELECT * FROM accounts AS OF 'feature' WHERE id = 'as of'").unwrap();
        assert_eq!((q.as_str(), r.as_deref()), ("SELECT * FROM accounts WHERE id = 'as of'", Some("feature")));
        let (q, r) = strip_as_of("select a.x from t as of 'main@12' a join u As Of 'main@12' b on a.k = b.k").unwrap();
        assert_eq!(q, "select a.x from t a join u b on a.k = b.k");
        assert_eq!(r.as_deref(), Some("main@12"));
        let (q, r) = strip_as_of("SELECT x AS of1, 'AS OF ''x''' FROM \"as of\" -- AS OF 'y'\n").unwrap();
        assert_eq!((q.as_str(), r), ("SELECT x AS of1, 'AS OF ''x''' FROM \"as of\" -- AS OF 'y'\n", None));
        let (_, r) = strip_as_of("SELECT 1 FROM t AS OF 'it''s'").unwrap();
        assert_eq!(r.as_deref(), Some("it's"));
    }

    #[test]
    fn refuses_mixed_or_malformed_refs() {
        assert!(strip_as_of("SELECT * FROM a AS OF 'x' JOIN b AS OF 'y' ON true").is_err());
        assert!(strip_as_of("SELECT * FROM a AS OF feature").is_err());
        assert!(strip_as_of("SELECT * FROM a AS OF ''").is_err());
        assert!(strip_as_of(&format!("SELECT * FROM a AS OF '{}'", "x".repeat(201))).is_err());
        // Unterminated text never panics.
        for s in ["SELECT 'AS OF", "SELECT $$ AS OF 'x'", "SELECT /* AS OF 'x'", "AS OF '", "as of 'x", "$a"] {
            let _ = strip_as_of(s);
        }
    }
}
