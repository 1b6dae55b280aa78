//! `aergo sql`: an interactive, read-only SQL shell over the chain.
//!
//! The core, [`Shell`], takes one input line at a time and writes what it
//! has to say to two writers (results, errors); it never reads a terminal,
//! so tests drive it with scripted lines ([`run_lines`]). The terminal
//! layer ([`run_interactive`], `rustyline`: line editing, history in
//! `$AERGO_HOME/sql_history`) only reads lines and hands them over.
//!
//! Input is SQL ended by `;`, over as many lines as it takes (the prompt
//! changes from `aergo=>` to `aergo->` while a statement is open), or a
//! backslash command on a line of its own:
//!
//! | command | |
//! |---|---|
//! | `\d` | tables and views of every schema (`sys.*` and contracts' `c_...` included) |
//! | `\d NAME` | one table (columns, key, indexes, checks), view or function (`NAME()`) |
//! | `\df`, `\di` | functions, indexes |
//! | `\at [HEIGHT\|head]` | show or set the snapshot queries read |
//! | `\contract [ADDR\|none]` | show or set the contract whose schema unqualified names use |
//! | `\r` | discard the statement being typed |
//! | `\?` | help |
//! | `\q` | quit |
//!
//! Every statement goes to the node's `query` method: one read-only SELECT
//! on the chosen snapshot, with the node's gas and result caps. An error
//! (SQL, a write refused, a cap) is printed and the shell goes on.
//! `;` inside quotes, dollar-quoted bodies and comments does not end a
//! statement.

use std::io::Write;

use serde_json::{json, Value};

use crate::format;
use aergo_client::client::RpcClient;
use aergo_client::{CliError, Result};

/// Longest statement the shell accumulates, in bytes (the node refuses
/// larger requests anyway).
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;
/// Lines of history kept.
pub const HISTORY_LINES: usize = 1000;
/// File name of the history under `$AERGO_HOME`.
pub const HISTORY_FILE: &str = "sql_history";

pub const PROMPT: &str = "aergo=> ";
pub const PROMPT_CONTINUE: &str = "aergo-> ";

/// Where the shell's statements and catalogue requests go: the node's
/// JSON-RPC API, or a stand-in in tests.
#[allow(async_fn_in_trait)]
pub trait ShellBackend {
    /// `query`: one SELECT; options `height` and `contract`.
    async fn query(&self, sql: &str, options: Value) -> Result<Value>;
    /// `listTables`: options `height`.
    async fn list_tables(&self, options: Value) -> Result<Value>;
    /// `describeTable`: options `height` and `contract`.
    async fn describe(&self, name: &str, options: Value) -> Result<Value>;
}

impl ShellBackend for RpcClient {
    async fn query(&self, sql: &str, options: Value) -> Result<Value> {
        self.call("query", json!([sql, on_branch(self, options)])).await
    }

    async fn list_tables(&self, options: Value) -> Result<Value> {
        self.call("listTables", json!([on_branch(self, options)])).await
    }

    async fn describe(&self, name: &str, options: Value) -> Result<Value> {
        self.call("describeTable", json!([name, on_branch(self, options)])).await
    }
}

/// Read options with the client's branch (`--branch`) added.
fn on_branch(client: &RpcClient, mut options: Value) -> Value {
    if let (Some(b), Value::Object(o)) = (client.branch(), &mut options) {
        o.insert("branch".into(), json!(b));
    }
    options
}

/// What the caller should do after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Continue,
    Quit,
}

/// The shell's state: the snapshot, the default contract, the statement
/// being typed, and how many statements failed.
pub struct Shell<B> {
    backend: B,
    at: Option<u64>,
    contract: Option<String>,
    buffer: String,
    json: bool,
    errors: usize,
}

/// Splits `text` into the statements it completes (each without its `;`)
/// and the unfinished rest. Quotes (`'...'`, `"..."`), dollar quotes
/// (`$tag$...$tag$`) and comments (`-- ...`, `/* ... */`) hide `;`.
pub fn split_complete(text: &str) -> (Vec<String>, String) {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // A dollar-quote tag: `$$` or `$ident$`.
                let tag_end = b[i + 1..].iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
                match tag_end.map(|n| i + 1 + n) {
                    Some(j) if b[j] == b'$' && !b[i + 1..j].first().is_some_and(u8::is_ascii_digit) => {
                        let tag = &text[i..=j];
                        match text[j + 1..].find(tag) {
                            Some(k) => i = j + 1 + k + tag.len() - 1,
                            None => i = b.len(),
                        }
                    }
                    _ => {}
                }
            }
            b';' => {
                let stmt = text[start..i].trim();
                if !stmt.is_empty() {
                    out.push(stmt.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let rest = if start >= text.len() { String::new() } else { text[start..].to_string() };
    (out, if rest.trim().is_empty() { String::new() } else { rest })
}

const HELP: &str = "\
Read-only SQL over the chain: end each statement with ';'.
  \\d               tables and views of every schema
  \\d NAME          describe a table, view or function (NAME())
  \\df, \\di         functions, indexes
  \\at [H|head]     show or set the block height queries read
  \\contract [ADDR|none]  show or set the contract whose schema bare names use
  \\r               discard the statement being typed
  \\q               quit";

impl<B: ShellBackend> Shell<B> {
    /// A shell reading at `at` (`None`: the head), with `contract`'s schema
    /// as default; `json` prints each answer as one JSON line.
    pub fn new(backend: B, at: Option<u64>, contract: Option<String>, json: bool) -> Shell<B> {
        Shell { backend, at, contract, buffer: String::new(), json, errors: 0 }
    }

    /// The prompt for the next line.
    pub fn prompt(&self) -> &'static str {
        if self.buffer.trim().is_empty() {
            PROMPT
        } else {
            PROMPT_CONTINUE
        }
    }

    /// Statements and commands that failed so far.
    pub fn errors(&self) -> usize {
        self.errors
    }

    fn options(&self, with_contract: bool) -> Value {
        let mut o = serde_json::Map::new();
        if let Some(h) = self.at {
            o.insert("height".into(), json!(h));
        }
        if with_contract {
            if let Some(c) = &self.contract {
                o.insert("contract".into(), json!(c));
            }
        }
        Value::Object(o)
    }

    fn fail(&mut self, err: &mut dyn Write, e: impl std::fmt::Display) {
        self.errors += 1;
        let _ = writeln!(err, "ERROR: {e}");
    }

    /// Handles one input line.
    pub async fn line(&mut self, line: &str, out: &mut dyn Write, err: &mut dyn Write) -> Step {
        let trimmed = line.trim();
        if trimmed.starts_with('\\') {
            return self.command(trimmed, out, err).await;
        }
        if self.buffer.len() + line.len() + 1 > MAX_STATEMENT_BYTES {
            self.buffer.clear();
            self.fail(err, format!("statement longer than {MAX_STATEMENT_BYTES} bytes; discarded"));
            return Step::Continue;
        }
        if !self.buffer.is_empty() {
            self.buffer.push('\n');
        }
        self.buffer.push_str(line);
        let (statements, rest) = split_complete(&self.buffer);
        self.buffer = rest;
        for sql in statements {
            self.statement(&sql, out, err).await;
        }
        Step::Continue
    }

    async fn statement(&mut self, sql: &str, out: &mut dyn Write, err: &mut dyn Write) {
        match self.backend.query(sql, self.options(true)).await {
            Ok(v) if self.json => {
                let _ = writeln!(out, "{v}");
            }
            Ok(v) => {
                let _ = writeln!(out, "{}\n", format::query_result(&v));
            }
            Err(e) => self.fail(err, short_error(&e)),
        }
    }

    async fn command(&mut self, text: &str, out: &mut dyn Write, err: &mut dyn Write) -> Step {
        let mut words = text.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let arg = words.next();
        if words.next().is_some() {
            self.fail(err, format!("{cmd}: too many arguments (see \\?)"));
            return Step::Continue;
        }
        match (cmd, arg) {
            ("\\q", _) => return Step::Quit,
            ("\\?" | "\\h" | "\\help", _) => {
                let _ = writeln!(out, "{HELP}");
            }
            ("\\r", None) => {
                self.buffer.clear();
                let _ = writeln!(out, "statement discarded");
            }
            ("\\d", None) => self.list(&["table", "view"], out, err).await,
            ("\\df", None) => self.list(&["function"], out, err).await,
            ("\\di", None) => self.list(&["index"], out, err).await,
            ("\\d", Some(name)) => self.describe(name, out, err).await,
            ("\\at", None) => {
                let _ =
                    writeln!(out, "reading at {}", self.at.map_or("the head".to_string(), |h| format!("height {h}")));
            }
            ("\\at", Some("head")) => {
                self.at = None;
                let _ = writeln!(out, "reading at the head");
            }
            ("\\at", Some(h)) => match h.parse::<u64>() {
                Ok(h) => {
                    self.at = Some(h);
                    let _ = writeln!(out, "reading at height {h}");
                }
                Err(_) => self.fail(err, format!("\\at: {h:?} is not a height (a number, or head)")),
            },
            ("\\contract", None) => {
                let _ = writeln!(out, "contract: {}", self.contract.as_deref().unwrap_or("none (bare names: public)"));
            }
            ("\\contract", Some("none")) => {
                self.contract = None;
                let _ = writeln!(out, "contract: none");
            }
            ("\\contract", Some(a)) => match aergo_types::Address::parse(a) {
                Ok(addr) if addr.is_contract() => {
                    self.contract = Some(addr.to_string());
                    let _ = writeln!(out, "contract: {addr}");
                }
                Ok(_) => self.fail(err, format!("\\contract: {a} is an account, not a contract address")),
                Err(e) => self.fail(err, format!("\\contract: {e}")),
            },
            _ => self.fail(err, format!("unknown command {text:?} (\\? lists the commands)")),
        }
        Step::Continue
    }

    async fn list(&mut self, kinds: &[&str], out: &mut dyn Write, err: &mut dyn Write) {
        let v = match self.backend.list_tables(self.options(false)).await {
            Ok(v) => v,
            Err(e) => return self.fail(err, short_error(&e)),
        };
        if self.json {
            let _ = writeln!(out, "{v}");
            return;
        }
        let rows: Vec<Vec<Value>> = v
            .get("relations")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.get("kind").and_then(Value::as_str).is_some_and(|k| kinds.contains(&k)))
            .map(|r| {
                let mut row = vec![r["schema"].clone(), r["name"].clone(), r["kind"].clone()];
                if kinds == ["index"] {
                    row.push(r["table"].clone());
                }
                row
            })
            .collect();
        let mut columns = vec!["schema".to_string(), "name".to_string(), "kind".to_string()];
        if kinds == ["index"] {
            columns.push("table".into());
        }
        let _ = writeln!(out, "{}", format::table(&columns, &[], &rows));
        if v.get("truncated").and_then(Value::as_bool) == Some(true) {
            let _ = writeln!(out, "(the list was cut at the node's result limit)");
        }
        // Which contract owns each contract schema listed (best effort: the
        // listing stands without it).
        let schemas: std::collections::BTreeSet<&str> =
            rows.iter().filter_map(|r| r.first().and_then(Value::as_str)).filter(|s| s.starts_with("c_")).collect();
        if !schemas.is_empty() {
            let sql = "SELECT schema, address FROM sys.contracts ORDER BY schema";
            if let Ok(c) = self.backend.query(sql, self.options(false)).await {
                let owners = c.get("rows").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                for o in owners {
                    if let (Some(s), Some(a)) = (o[0].as_str(), o[1].as_str()) {
                        if schemas.contains(s) {
                            let _ = writeln!(out, "schema {s} is contract {a}");
                        }
                    }
                }
            }
        }
        let _ = writeln!(out);
    }

    async fn describe(&mut self, name: &str, out: &mut dyn Write, err: &mut dyn Write) {
        match self.backend.describe(name, self.options(true)).await {
            Ok(v) if self.json => {
                let _ = writeln!(out, "{v}");
            }
            Ok(v) => {
                let _ = writeln!(out, "{}\n", describe_text(&v));
            }
            Err(e) => self.fail(err, short_error(&e)),
        }
    }
}

/// The node's message without the CLI's "method: the node answered..."
/// wrapping: the shell already says which statement failed.
fn short_error(e: &CliError) -> String {
    match e {
        CliError::Rpc { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn str_of(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A `describeTable` answer as text.
pub fn describe_text(v: &Value) -> String {
    let name = format!("{}.{}", str_of(v, "schema"), str_of(v, "name"));
    let kind = str_of(v, "kind");
    let list = |key: &str| v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().to_vec();
    match kind.as_str() {
        "table" | "view" => {
            let rows: Vec<Vec<Value>> = list("columns")
                .iter()
                .map(|c| {
                    let not_null = c.get("notNull").and_then(Value::as_bool) == Some(true);
                    vec![
                        c["name"].clone(),
                        json!(str_of(c, "type")),
                        json!(if not_null { "not null" } else { "" }),
                        json!(str_of(c, "default")),
                    ]
                })
                .collect();
            let columns = ["column", "type", "nullable", "default"].map(String::from);
            let mut out = format!(
                "{} {name}\n{}",
                if kind == "table" { "Table" } else { "View" },
                format::table(&columns, &[], &rows)
            );
            let pk: Vec<String> = list("primaryKey").iter().map(|c| c.as_str().unwrap_or("?").to_string()).collect();
            if kind == "table" {
                out.push_str(&if pk.is_empty() {
                    "\nPrimary key: none (hidden row id)".to_string()
                } else {
                    format!("\nPrimary key: ({})", pk.join(", "))
                });
            }
            for ix in list("indexes") {
                let cols: Vec<String> = ix
                    .get("columns")
                    .and_then(Value::as_array)
                    .map(|c| c.iter().map(|x| x.as_str().unwrap_or("?").to_string()).collect())
                    .unwrap_or_default();
                let unique = if ix.get("unique").and_then(Value::as_bool) == Some(true) { "UNIQUE " } else { "" };
                out.push_str(&format!("\nIndex: {} {unique}({})", str_of(&ix, "name"), cols.join(", ")));
            }
            for c in list("checks") {
                out.push_str(&format!(
                    "\nCheck: {} {}",
                    str_of(&c, "name"),
                    format::cell_text(&str_of(&c, "expr"), 400)
                ));
            }
            if kind == "view" {
                out.push_str(&format!("\nQuery: {}", str_of(v, "query")));
            }
            out
        }
        "function" => {
            let params: Vec<String> = list("params")
                .iter()
                .map(|p| {
                    let default =
                        if p.get("hasDefault").and_then(Value::as_bool) == Some(true) { " DEFAULT ..." } else { "" };
                    format!("{} {}{default}", str_of(p, "name"), str_of(p, "type"))
                })
                .collect();
            let returns = match str_of(v, "returns") {
                r if r.is_empty() => "void".to_string(),
                r => r,
            };
            format!(
                "Function {name}({}) -> {returns} ({})\n{}",
                params.join(", "),
                str_of(v, "language"),
                str_of(v, "source").trim()
            )
        }
        other => format!("{name}: unknown kind {other:?}"),
    }
}

/// Runs `lines` through `shell` until they end or `\q`; returns whether
/// `\q` was reached.
pub async fn run_lines<B: ShellBackend, I: IntoIterator<Item = String>>(
    shell: &mut Shell<B>,
    lines: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> bool {
    for line in lines {
        if shell.line(&line, out, err).await == Step::Quit {
            return true;
        }
    }
    false
}

/// The terminal layer: rustyline editing and history around [`Shell`].
/// Ctrl-C discards the statement being typed; Ctrl-D quits.
pub async fn run_interactive<B: ShellBackend>(shell: &mut Shell<B>, history: Option<std::path::PathBuf>) -> Result<()> {
    use rustyline::error::ReadlineError;
    let config =
        rustyline::Config::builder().max_history_size(HISTORY_LINES).map_err(rl_err)?.auto_add_history(false).build();
    let mut editor = rustyline::DefaultEditor::with_config(config).map_err(rl_err)?;
    if let Some(h) = &history {
        // A missing history file is the normal first run.
        let _ = editor.load_history(h);
    }
    println!("aergo sql: read-only SQL over the chain; \\? for help, \\q to quit");
    loop {
        let prompt = shell.prompt();
        let read = tokio::task::block_in_place(|| editor.readline(prompt));
        match read {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
                if shell.line(&line, &mut out, &mut err).await == Step::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                shell.buffer.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(rl_err(e)),
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(h) {
            eprintln!("warning: could not save the history to {}: {e}", h.display());
        }
    }
    Ok(())
}

fn rl_err(e: impl std::fmt::Display) -> CliError {
    CliError::Task { what: "the line editor", reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn statements_end_at_top_level_semicolons() {
        let (s, rest) = split_complete("SELECT 1; SELECT ';' AS x; SELECT 2");
        assert_eq!(s, vec!["SELECT 1", "SELECT ';' AS x"]);
        assert_eq!(rest, " SELECT 2");
        let (s, rest) = split_complete("SELECT \"a;b\" FROM t -- c;\n;");
        assert_eq!(s, vec!["SELECT \"a;b\" FROM t -- c;"]);
        assert_eq!(rest, "");
        let (s, _) = split_complete("SELECT $$ ; $$, $tag$ $$ ; $tag$ /* ; */;");
        assert_eq!(s, vec!["SELECT $$ ; $$, $tag$ $$ ; $tag$ /* ; */"]);
        let (s, rest) = split_complete("SELECT 'open ; quote");
        assert!(s.is_empty());
        assert_eq!(rest, "SELECT 'open ; quote");
        assert_eq!(split_complete(";;  ;"), (Vec::new(), String::new()));
        // A positional parameter is not a dollar quote.
        assert_eq!(split_complete("SELECT $1; x").0, vec!["SELECT $1"]);
    }

    /// A backend that answers from a script and records what it was asked.
    #[derive(Default)]
    struct Fake {
        asked: RefCell<Vec<String>>,
    }

    impl ShellBackend for &Fake {
        async fn query(&self, sql: &str, options: Value) -> Result<Value> {
            self.asked.borrow_mut().push(format!("query {sql} {options}"));
            if sql.starts_with("DELETE") {
                return Err(CliError::Rpc {
                    method: "query".into(),
                    code: -32602,
                    message: "this session is read-only: DELETE FROM is not allowed".into(),
                    reason: None,
                });
            }
            if sql.contains("sys.contracts") {
                return Ok(json!({"columns": ["schema", "address"], "types": ["TEXT", "TEXT"],
                                 "rows": [["c_abc", "AmContract"], ["c_other", "AmOther"]]}));
            }
            Ok(json!({"columns": ["id", "balance"], "types": ["TEXT", "NUMERIC(20,2)"],
                      "rows": [["alice", "70.00"], ["bob", "80.00"]]}))
        }

        async fn list_tables(&self, options: Value) -> Result<Value> {
            self.asked.borrow_mut().push(format!("list {options}"));
            Ok(json!({"relations": [
                {"schema": "c_abc", "name": "accounts", "kind": "table", "table": null},
                {"schema": "c_abc", "name": "transfer", "kind": "function", "table": null},
                {"schema": "sys", "name": "accounts", "kind": "table", "table": null},
            ], "truncated": false}))
        }

        async fn describe(&self, name: &str, options: Value) -> Result<Value> {
            self.asked.borrow_mut().push(format!("describe {name} {options}"));
            Ok(json!({"schema": "c_abc", "name": "accounts", "kind": "table",
                      "columns": [{"name": "id", "type": "VARCHAR(64)", "notNull": true, "default": null},
                                  {"name": "balance", "type": "NUMERIC(20,2)", "notNull": true, "default": "0"}],
                      "primaryKey": ["id"], "indexes": [], "checks": [{"name": "accounts_balance_check", "expr": "balance >= 0"}]}))
        }
    }

    fn drive(fake: &Fake, lines: &[&str]) -> (bool, String, String, usize) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut shell = Shell::new(fake, Some(3), None, false);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let quit = rt.block_on(run_lines(&mut shell, lines.iter().map(|s| s.to_string()), &mut out, &mut err));
        (quit, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap(), shell.errors())
    }

    #[test]
    fn a_scripted_session_lists_describes_queries_survives_an_error_and_quits() {
        let fake = Fake::default();
        let (quit, out, err, errors) = drive(
            &fake,
            &[
                "\\d",
                "\\d accounts",
                "SELECT id, balance",
                "  FROM accounts ORDER BY id;",
                "DELETE FROM accounts;",
                "\\bogus",
                "SELECT 1; \\q is not a command here",
                "\\q",
                "SELECT 'never sent';",
            ],
        );
        assert!(quit);
        // \d lists tables of every schema, not functions.
        assert!(out.contains(" c_abc  | accounts | table"), "{out}");
        assert!(out.contains(" sys    | accounts | table"), "{out}");
        assert!(!out.contains("transfer"), "{out}");
        assert!(out.contains("schema c_abc is contract AmContract\n") && !out.contains("AmOther"), "{out}");
        // \d NAME describes.
        assert!(out.contains("Table c_abc.accounts"), "{out}");
        assert!(
            out.contains("Primary key: (id)") && out.contains("Check: accounts_balance_check balance >= 0"),
            "{out}"
        );
        // The two-line query ran once, at the chosen height, as a table.
        assert!(out.contains(" alice |   70.00\n bob   |   80.00\n(2 rows)"), "{out}");
        let asked = fake.asked.borrow();
        assert!(
            asked.contains(&"query SELECT id, balance\n  FROM accounts ORDER BY id {\"height\":3}".to_string()),
            "{asked:?}"
        );
        // The refused write and the unknown command are errors; the shell went on.
        assert!(err.contains("ERROR: this session is read-only"), "{err}");
        assert!(err.contains("ERROR: unknown command \"\\\\bogus\""), "{err}");
        assert_eq!(errors, 2, "{err}");
        // `SELECT 1;` ran; the rest of that line stays typed; nothing after \q ran.
        assert!(asked.iter().any(|a| a.starts_with("query SELECT 1 ")), "{asked:?}");
        assert!(!asked.iter().any(|a| a.contains("never sent")), "{asked:?}");
    }

    #[test]
    fn commands_set_the_snapshot_and_the_contract() {
        let fake = Fake::default();
        let contract = aergo_types::Address::contract_from(&aergo_crypto::dev_key("t", 0).address(), 1).to_string();
        let account = aergo_crypto::dev_key("t", 0).address().to_string();
        let lines = [
            "\\at head".to_string(),
            format!("\\contract {contract}"),
            "SELECT 2;".into(),
            "\\at 7".into(),
            "\\at x".into(),
            format!("\\contract {account}"),
            "\\contract none".into(),
            "SELECT 3;".into(),
            "SELECT 4".into(),
            "\\r".into(),
            "\\df".into(),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (quit, out, err, errors) = drive(&fake, &lines);
        assert!(!quit);
        let asked = fake.asked.borrow();
        assert_eq!(asked[0], format!("query SELECT 2 {{\"contract\":\"{contract}\"}}"));
        assert_eq!(asked[1], "query SELECT 3 {\"height\":7}");
        assert_eq!(asked[2], "list {\"height\":7}");
        assert!(asked[3].starts_with("query SELECT schema, address FROM sys.contracts"), "{asked:?}");
        assert_eq!(asked.len(), 4, "SELECT 4 was discarded: {asked:?}");
        assert!(err.contains("\"x\" is not a height") && err.contains("not a contract address"), "{err}");
        assert_eq!(errors, 2);
        assert!(out.contains(" c_abc  | transfer | function"), "{out}");
    }

    #[test]
    fn prompts_show_an_open_statement() {
        let fake = Fake::default();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut shell = Shell::new(&fake, None, None, true);
        assert_eq!(shell.prompt(), PROMPT);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        rt.block_on(shell.line("SELECT", &mut out, &mut err));
        assert_eq!(shell.prompt(), PROMPT_CONTINUE);
        rt.block_on(shell.line("1;", &mut out, &mut err));
        assert_eq!(shell.prompt(), PROMPT);
        // JSON mode: one document per answer.
        let text = String::from_utf8(out).unwrap();
        let doc: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(doc["rows"][0][0], json!("alice"));
    }
}
