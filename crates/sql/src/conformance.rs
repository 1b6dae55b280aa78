//! sqllogictest conformance: runs SQLite's sqllogictest files against the
//! engine as database engine `postgresql` and reports pass rates.
//!
//! Records count as run when they are `statement` or `query` records not
//! skipped by `skipif postgresql` / `onlyif <other>`; a record passes when
//! the runner accepts the engine's answer. Results are formatted as the
//! corpus expects: integers plainly, NUMERIC with three decimals (the
//! format of the corpus' "R" columns), NULL as `NULL`, empty text as
//! `(empty)`, booleans as 1/0 (SQLite's answers, which the corpus records).

use std::path::Path;

use aergo_store::{Hash, Overlay, Store, Value};
use rust_decimal::RoundingStrategy;
use sqllogictest::{Condition, DefaultColumnType, QueryExpect, Record, SortMode, StatementExpect};

use crate::{Engine, ExecContext, Gas, SqlError};

/// Gas for one conformance statement: large, since the corpus has
/// cross joins of several tables, but finite.
const STATEMENT_GAS: u64 = 50_000_000_000;

/// Formats a value as the sqllogictest harness does for a column declared
/// `I` (integer: reals truncated), `R` (three decimals) or `T` (text).
fn format_value(v: &Value, ty: char) -> String {
    match (v, ty) {
        (Value::Null, _) => "NULL".into(),
        (Value::Bool(b), 'R') => if *b { "1.000" } else { "0.000" }.into(),
        (Value::Bool(b), _) => if *b { "1" } else { "0" }.into(),
        (Value::Int(i), 'R') => format!("{i}.000"),
        (Value::Int(i), _) => i.to_string(),
        (Value::Numeric(d), 'I') => d.trunc().normalize().to_string(),
        (Value::Numeric(d), 'R') => {
            let mut r = d.round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero);
            r.rescale(3);
            r.to_string()
        }
        (Value::Numeric(d), _) => d.normalize().to_string(),
        (Value::Text(s), 'I') => s.trim().parse::<i64>().unwrap_or(0).to_string(),
        (Value::Text(s), _) if s.is_empty() => "(empty)".into(),
        (other, _) => {
            let s = crate::types::to_text(other);
            s.chars().map(|c| if (' '..='~').contains(&c) { c } else { '@' }).collect()
        }
    }
}

/// The engine over a fresh in-memory store: the store's overlay on the
/// empty state of a memory-backed store.
struct SltDb {
    engine: Engine,
    store: Overlay,
    ctx: ExecContext,
}

impl SltDb {
    fn new() -> Self {
        SltDb {
            engine: Engine::default(),
            store: Overlay::new(&Store::memory(), Hash::ZERO),
            ctx: ExecContext::default(),
        }
    }

    fn run(&mut self, sql: &str) -> Result<crate::QueryResult, SqlError> {
        let mut gas = Gas::new(STATEMENT_GAS);
        self.engine.execute(&mut self.store, &self.ctx, sql, &[], &mut gas)
    }
}

/// Outcome of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    pub run: usize,
    pub passed: usize,
    /// Locations and messages of the first failures (at most `keep_failures`).
    pub failures: Vec<String>,
}

fn skipped(conditions: &[Condition]) -> bool {
    conditions.iter().any(|c| match c {
        Condition::SkipIf { label } => label == "postgresql",
        Condition::OnlyIf { label } => label != "postgresql",
    })
}

fn type_char(t: &DefaultColumnType) -> char {
    match t {
        DefaultColumnType::Integer => 'I',
        DefaultColumnType::FloatingPoint => 'R',
        DefaultColumnType::Text => 'T',
        _ => 'T',
    }
}

/// Runs one query record; `Err` explains a failure.
fn check_query(
    db: &mut SltDb,
    sql: &str,
    expected: &QueryExpect<DefaultColumnType>,
    default_sort: SortMode,
    hash_threshold: usize,
) -> Result<(), String> {
    let res = db.run(sql);
    let (types, sort_mode, results) = match (expected, res) {
        (QueryExpect::Error(_), Err(_)) => return Ok(()),
        (QueryExpect::Error(_), Ok(_)) => return Err("expected an error, query succeeded".into()),
        (QueryExpect::Results { .. }, Err(e)) => return Err(format!("query failed: {e}")),
        (QueryExpect::Results { types, sort_mode, results, .. }, Ok(r)) => {
            let tys: Vec<char> = types.iter().map(type_char).collect();
            if !r.rows.is_empty() && r.rows[0].len() != tys.len() {
                return Err(format!("expected {} columns, got {}", tys.len(), r.rows[0].len()));
            }
            let rows: Vec<Vec<String>> =
                r.rows.iter().map(|row| row.iter().zip(&tys).map(|(v, t)| format_value(v, *t)).collect()).collect();
            ((rows, tys), sort_mode.unwrap_or(default_sort), results)
        }
    };
    let (mut rows, tys) = types;
    let mut values: Vec<String> = match sort_mode {
        SortMode::NoSort => rows.into_iter().flatten().collect(),
        SortMode::RowSort => {
            rows.sort();
            rows.into_iter().flatten().collect()
        }
        SortMode::ValueSort => {
            let mut v: Vec<String> = rows.drain(..).flatten().collect();
            v.sort();
            v
        }
    };
    let _ = tys;
    if hash_threshold > 0 && values.len() > hash_threshold {
        use md5::Digest;
        let mut h = md5::Md5::new();
        for v in &values {
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        values = vec![format!("{} values hashing to {:x}", values.len(), h.finalize())];
    }
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let actual = norm(&values.join(" "));
    let want = norm(&results.join(" "));
    if actual == want {
        Ok(())
    } else {
        let cut = |s: &str| s.chars().take(160).collect::<String>();
        Err(format!("mismatch: expected [{}] got [{}]", cut(&want), cut(&actual)))
    }
}

/// Runs the records of one file, the first `max_records` if given.
pub fn run_file(path: &Path, max_records: Option<usize>, keep_failures: usize) -> Result<FileReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let script = preprocess(&text);
    let records: Vec<Record<DefaultColumnType>> = sqllogictest::parse_with_name(&script, path.display().to_string())
        .map_err(|e| format!("{}: cannot parse: {e}", path.display()))?;
    let mut db = SltDb::new();
    let mut report = FileReport::default();
    let mut sort_mode = SortMode::NoSort;
    // The corpus was generated with the harness's `-ht 8`; files may override it.
    let mut hash_threshold = 8usize;
    for record in records {
        let (loc, sql, outcome) = match record {
            Record::HashThreshold { threshold, .. } => {
                hash_threshold = threshold as usize;
                continue;
            }
            Record::Control(sqllogictest::Control::SortMode(m)) => {
                sort_mode = m;
                continue;
            }
            Record::Halt { .. } => break,
            Record::Statement { loc, conditions, sql, expected, .. } => {
                if skipped(&conditions) {
                    continue;
                }
                let r = db.run(&sql);
                let outcome = match (expected, r) {
                    (StatementExpect::Ok, Ok(_)) => Ok(()),
                    (StatementExpect::Count(n), Ok(r)) if r.rows_affected == n => Ok(()),
                    (StatementExpect::Count(n), Ok(r)) => Err(format!("expected count {n}, got {}", r.rows_affected)),
                    (StatementExpect::Error(_), Err(_)) => Ok(()),
                    (StatementExpect::Error(_), Ok(_)) => Err("expected an error, statement succeeded".into()),
                    (_, Err(e)) => Err(format!("statement failed: {e}")),
                };
                (loc, sql, outcome)
            }
            Record::Query { loc, conditions, sql, expected, .. } => {
                if skipped(&conditions) {
                    continue;
                }
                let outcome = check_query(&mut db, &sql, &expected, sort_mode, hash_threshold);
                (loc, sql, outcome)
            }
            _ => continue,
        };
        report.run += 1;
        match outcome {
            Ok(()) => report.passed += 1,
            Err(e) => {
                if report.failures.len() < keep_failures {
                    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                    report.failures.push(format!("{loc}: {e} | {}", one_line.chars().take(200).collect::<String>()));
                }
            }
        }
        if max_records.is_some_and(|m| report.run >= m) {
            break;
        }
    }
    Ok(report)
}

/// Normalises what the crate's parser does not handle: comments after
/// `skipif`/`onlyif`, and conditional `halt` (which applies to us only
/// when its condition selects `postgresql`).
fn preprocess(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let is_cond = line.starts_with("skipif") || line.starts_with("onlyif");
        let clean = if is_cond { line.split('#').next().unwrap_or("").trim_end() } else { line };
        if is_cond && lines.get(i + 1).map(|l| l.trim()) == Some("halt") {
            let mut parts = clean.split_whitespace();
            let kind = parts.next().unwrap_or("");
            let label = parts.next().unwrap_or("");
            let applies = (kind == "onlyif" && label == "postgresql") || (kind == "skipif" && label != "postgresql");
            if applies {
                break;
            }
            i += 2;
            continue;
        }
        if line.trim() == "halt" {
            break;
        }
        out.push_str(clean);
        out.push('\n');
        i += 1;
    }
    out
}

/// All `.test` files under `dir`, sorted.
pub fn test_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in entries {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "test") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
