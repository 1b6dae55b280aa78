//! Friendly text for the node's JSON answers: amounts in aergo, hashes in
//! base58 (as the node sends them), one `key: value` per line.

use aergo_types::{Amount, Unit};
use serde_json::Value;

/// A JSON scalar as text (`-` when absent).
fn scalar(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// An amount field (decimal aer string) in aergo.
pub fn amount(v: Option<&Value>) -> String {
    amount_in(v, Unit::Aergo)
}

/// An amount field in `unit` (gas prices read best in gaer).
pub fn amount_in(v: Option<&Value>, unit: Unit) -> String {
    match v.and_then(Value::as_str).and_then(|s| s.parse::<u128>().ok()) {
        Some(aer) => Amount::from_aer(aer).format(unit),
        None => scalar(v),
    }
}

/// Formats nanoseconds since the epoch as UTC `YYYY-MM-DD HH:MM:SS.mmm`.
pub fn time_ns(v: Option<&Value>) -> String {
    let Some(ns) = v.and_then(Value::as_i64) else { return scalar(v) };
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{ms:03} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn lines(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}")).collect::<Vec<_>>().join("\n")
}

pub fn status(v: &Value) -> String {
    let cid = v.get("chainId");
    let chain = format!(
        "{}/{}{}",
        scalar(cid.and_then(|c| c.get("magic"))),
        scalar(cid.and_then(|c| c.get("consensus"))),
        if cid.and_then(|c| c.get("public")).and_then(Value::as_bool) == Some(true) { " (public)" } else { "" }
    );
    lines(&[
        ("chain", chain),
        ("chain id hash", scalar(v.get("chainIdHash"))),
        ("height", scalar(v.get("height"))),
        ("head", scalar(v.get("hash"))),
        ("state root", scalar(v.get("stateRoot"))),
        ("head time", time_ns(v.get("timestamp"))),
        ("genesis", scalar(v.get("genesisHash"))),
        ("gas price", amount_in(v.get("gasPrice"), Unit::Gaer)),
        ("producer", scalar(v.get("producer"))),
        (
            "pool",
            format!(
                "{} txs, {} bytes",
                scalar(v.get("pool").and_then(|p| p.get("txs"))),
                scalar(v.get("pool").and_then(|p| p.get("bytes")))
            ),
        ),
    ])
}

pub fn account(v: &Value) -> String {
    let mut rows = vec![
        ("address", scalar(v.get("address"))),
        ("balance", amount(v.get("balance"))),
        ("nonce", scalar(v.get("nonce"))),
        ("at height", scalar(v.get("height"))),
    ];
    if let Some(n) = v.get("nextNonce") {
        rows.push(("next nonce", scalar(Some(n))));
    }
    lines(&rows)
}

pub fn tx(v: &Value) -> String {
    let mut rows = vec![
        ("hash", scalar(v.get("hash"))),
        ("status", scalar(v.get("status"))),
        ("type", scalar(v.get("type"))),
        ("from", scalar(v.get("from"))),
        ("to", scalar(v.get("to"))),
        ("amount", amount(v.get("amount"))),
        ("nonce", scalar(v.get("nonce"))),
        ("gas limit", scalar(v.get("gasLimit"))),
        ("gas price", amount_in(v.get("gasPrice"), Unit::Gaer)),
    ];
    let payload = v.get("payload").and_then(Value::as_str).unwrap_or("");
    if !payload.is_empty() {
        // Untrusted text: cut on a character boundary.
        let shown = if payload.len() > 64 {
            format!("{}... ({} bytes)", payload.chars().take(64).collect::<String>(), payload.len() / 2)
        } else {
            payload.to_string()
        };
        rows.push(("payload", shown));
    }
    if v.get("blockHash").is_some() {
        rows.push(("block", format!("{} (height {})", scalar(v.get("blockHash")), scalar(v.get("blockHeight")))));
        rows.push(("index", scalar(v.get("index"))));
    }
    lines(&rows)
}

pub fn receipt(v: &Value) -> String {
    let mut rows = vec![
        ("tx", scalar(v.get("txHash"))),
        ("status", scalar(v.get("status"))),
        ("block", format!("{} (height {})", scalar(v.get("blockHash")), scalar(v.get("blockHeight")))),
        ("index", scalar(v.get("txIndex"))),
        ("from", scalar(v.get("from"))),
        ("to", scalar(v.get("to"))),
        ("gas used", scalar(v.get("gasUsed"))),
        ("fee", amount(v.get("fee"))),
    ];
    // Contract transactions: what they returned, created and emitted.
    let ret = v.get("ret").and_then(Value::as_str).unwrap_or("");
    if !ret.is_empty() {
        rows.push(("result", cell_text(ret, 400)));
    }
    if v.get("status").and_then(Value::as_str) == Some("CREATED") {
        rows.push(("contract", scalar(v.get("contractAddress"))));
    }
    let events = v.get("events").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for e in events {
        rows.push(("event", format!("{} {}", scalar(e.get("name")), cell_text(&scalar(e.get("args")), 200))));
    }
    lines(&rows)
}

/// Untrusted text for one line: control characters escaped, at most
/// `max_chars` characters (cut on a character boundary).
pub fn cell_text(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars + 8));
    for (n, c) in s.chars().enumerate() {
        if n == max_chars {
            out.push_str("...");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Longest cell shown in a table, in characters (the JSON has it all).
pub const MAX_CELL_CHARS: usize = 1000;

/// A JSON value as a table cell: strings as they are, NULL as `NULL`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => cell_text(s, MAX_CELL_CHARS),
        other => cell_text(&other.to_string(), MAX_CELL_CHARS),
    }
}

fn is_numeric_type(ty: Option<&str>) -> bool {
    let t = ty.unwrap_or("").to_ascii_uppercase();
    ["SMALLINT", "INTEGER", "BIGINT", "NUMERIC"].iter().any(|n| t.starts_with(n))
}

/// An aligned table, psql style: a header, a rule, the rows (numbers
/// right-aligned), and `(N rows)`.
pub fn table(columns: &[String], types: &[Option<String>], rows: &[Vec<Value>]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let ncols = columns.len().max(cells.iter().map(Vec::len).max().unwrap_or(0));
    let header = |i: usize| columns.get(i).map(|c| cell_text(c, MAX_CELL_CHARS)).unwrap_or_default();
    let width = |i: usize| {
        let w = cells.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0);
        w.max(header(i).chars().count())
    };
    let widths: Vec<usize> = (0..ncols).map(width).collect();
    let right: Vec<bool> = (0..ncols)
        .map(|i| {
            is_numeric_type(types.get(i).and_then(|t| t.as_deref()))
                || (!rows.is_empty() && rows.iter().all(|r| matches!(r.get(i), Some(Value::Number(_) | Value::Null))))
        })
        .collect();
    let pad = |text: &str, i: usize, right_align: bool| {
        let fill = widths[i].saturating_sub(text.chars().count());
        if right_align {
            format!("{}{text}", " ".repeat(fill))
        } else {
            format!("{text}{}", " ".repeat(fill))
        }
    };
    let line = |texts: Vec<String>| format!(" {}", texts.join(" | ")).trim_end().to_string();
    let mut out = Vec::with_capacity(rows.len() + 3);
    out.push(line((0..ncols).map(|i| pad(&header(i), i, false)).collect()));
    out.push(widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    for r in &cells {
        out.push(line((0..ncols).map(|i| pad(r.get(i).map(String::as_str).unwrap_or(""), i, right[i])).collect()));
    }
    out.push(match rows.len() {
        1 => "(1 row)".to_string(),
        n => format!("({n} rows)"),
    });
    out.join("\n")
}

/// The answer of `query` as a table.
pub fn query_result(v: &Value) -> String {
    let columns: Vec<String> = v
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(|x| x.as_str().unwrap_or("?").to_string()).collect())
        .unwrap_or_default();
    let types: Vec<Option<String>> = v
        .get("types")
        .and_then(Value::as_array)
        .map(|t| t.iter().map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<Value>> = v
        .get("rows")
        .and_then(Value::as_array)
        .map(|r| r.iter().map(|row| row.as_array().cloned().unwrap_or_default()).collect())
        .unwrap_or_default();
    table(&columns, &types, &rows)
}

/// The answer of `getABI`: one signature per line.
pub fn abi(v: &Value) -> String {
    let mut out = vec![format!("contract {} ({})", scalar(v.get("address")), scalar(v.get("language")))];
    match aergo_client::contract::abi_functions(v) {
        Ok(fs) if fs.is_empty() => out.push("no public functions".into()),
        Ok(fs) => out.extend(fs.iter().map(|f| format!("  {}", aergo_client::contract::signature(f)))),
        Err(e) => out.push(format!("unreadable ABI: {e}")),
    }
    out.join("\n")
}

/// The answer of `getContract`.
pub fn contract(v: &Value) -> String {
    let functions = v.get("functions").and_then(Value::as_array).map(|f| f.len()).unwrap_or(0);
    let mut text = lines(&[
        ("address", scalar(v.get("address"))),
        ("creator", scalar(v.get("creator"))),
        ("schema", scalar(v.get("schema"))),
        ("deployed at", scalar(v.get("deployedHeight"))),
        ("deploy tx", scalar(v.get("deployTx"))),
        ("source hash", scalar(v.get("sourceHash"))),
        ("constructor", scalar(v.get("constructor"))),
        ("functions", functions.to_string()),
        ("balance", amount(v.get("balance"))),
    ]);
    if let Some(src) = v.get("source").and_then(Value::as_str) {
        text.push_str("\n\nsource\n");
        text.push_str(src.trim_end());
    }
    text
}

/// The answer of `getEvents`: one event per line.
pub fn events(v: &Value) -> String {
    let list = v.get("events").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut out: Vec<String> = list
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{}  {}  {}  {}  tx {}",
                scalar(e.get("blockHeight")),
                scalar(e.get("txIndex")),
                scalar(e.get("index")),
                scalar(e.get("contract")),
                cell_text(&scalar(e.get("name")), 64),
                cell_text(&scalar(e.get("args")), 400),
                scalar(e.get("txHash")),
            )
        })
        .collect();
    out.push(format!(
        "({} event{} in blocks {}..={}{})",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        scalar(v.get("fromHeight")),
        scalar(v.get("toHeight")),
        if v.get("truncated").and_then(Value::as_bool) == Some(true) { ", more matched: narrow the range" } else { "" }
    ));
    out.join("\n")
}

pub fn block(v: &Value) -> String {
    let mut out = lines(&[
        ("height", scalar(v.get("height"))),
        ("hash", scalar(v.get("hash"))),
        ("previous", scalar(v.get("prevHash"))),
        ("time", time_ns(v.get("timestamp"))),
        ("producer", scalar(v.get("producer"))),
        ("coinbase", scalar(v.get("coinbase"))),
        ("state root", scalar(v.get("stateRoot"))),
        ("txs root", scalar(v.get("txsRoot"))),
        ("receipts root", scalar(v.get("receiptsRoot"))),
        ("txs", scalar(v.get("txCount"))),
    ]);
    for t in v.get("txs").and_then(Value::as_array).into_iter().flatten() {
        match t {
            Value::String(h) => out.push_str(&format!("\n  {h}")),
            full => out.push_str(&format!(
                "\n  {}  {} -> {}  {}  nonce {}",
                scalar(full.get("hash")),
                scalar(full.get("from")),
                scalar(full.get("to")),
                amount(full.get("amount")),
                scalar(full.get("nonce"))
            )),
        }
    }
    out
}

/// An error and its causes on one line, like `{:#}`, but without
/// repeating a cause whose text is already shown (an error that prints its
/// source, then the source itself).
pub fn error_message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_and_times() {
        assert_eq!(amount(Some(&json!("1500000000000000000"))), "1.5 aergo");
        assert_eq!(amount(Some(&json!("0"))), "0 aergo");
        assert_eq!(amount(None), "-");
        assert_eq!(time_ns(Some(&json!(0))), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(time_ns(Some(&json!(1_700_000_000_123_000_000i64))), "2023-11-14 22:13:20.123 UTC");
        assert_eq!(time_ns(Some(&json!(951_782_400_000_000_000i64))), "2000-02-29 00:00:00.000 UTC");
    }

    #[test]
    fn tables_align_and_escape() {
        let cols = vec!["id".to_string(), "balance".to_string(), "note".to_string()];
        let types = vec![Some("TEXT".to_string()), Some("NUMERIC(20,2)".to_string()), None];
        let rows = vec![
            vec![json!("alice"), json!("70.00"), json!(null)],
            vec![json!("bob"), json!("1080.50"), json!("two\nlines")],
        ];
        let t = table(&cols, &types, &rows);
        let want = " id    | balance | note\n\
                    -------+---------+------------\n \
                    alice |   70.00 | NULL\n \
                    bob   | 1080.50 | two\\nlines\n\
                    (2 rows)";
        assert_eq!(t, want);
        let one = table(&["n".to_string()], &[None], &[vec![json!(7)]]);
        assert_eq!(one, " n\n---\n 7\n(1 row)");
        assert_eq!(table(&["x".to_string()], &[], &[]), " x\n---\n(0 rows)");
        assert_eq!(cell_text("a\u{1}b", 10), "a\\u{1}b");
        assert_eq!(cell_text("héllo", 2), "hé...");
    }

    #[test]
    fn blocks_list_their_txs() {
        let b = json!({"height": 3, "hash": "H", "txCount": 1, "txs": ["T1"]});
        let text = block(&b);
        assert!(text.contains("height         3") && text.ends_with("\n  T1"), "{text}");
        let r = receipt(&json!({"fee": "5000000000000000", "status": "SUCCESS"}));
        assert!(r.contains("0.005 aergo") && r.contains("SUCCESS"), "{r}");
    }

    #[test]
    fn error_messages_show_each_cause_once() {
        let io = aergo_client::CliError::Io {
            what: "reading",
            path: "x.sql".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file"),
        };
        let e = anyhow::Error::from(io);
        assert_eq!(format!("{e:#}"), "reading x.sql: No such file: No such file", "anyhow repeats the cause");
        assert_eq!(error_message(&e), "reading x.sql: No such file");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_message(&e), "outer: inner");
    }
}
