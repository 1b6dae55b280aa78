//! `aergo diff A B [--table T] [--limit N]`: the rows that changed between
//! two blocks (part of the binary; the node's `diff` method does the work).

use aergo_client::client::RpcClient;
use clap::Args;
use serde_json::{json, Value};

use super::{out, Output};

#[derive(Args)]
pub struct DiffArgs {
    /// The earlier block: a height or a block hash.
    from: String,
    /// The later block: a height or a block hash.
    to: String,
    /// Only this table (`schema.name`, e.g. `sys.accounts`).
    #[arg(long)]
    table: Option<String>,
    /// Most row changes to show (default 1,000; at most the node's
    /// query.max_rows).
    #[arg(long)]
    limit: Option<u64>,
}

/// A height as a number, anything else as a hash.
fn block_ref(s: &str) -> Value {
    match s.parse::<u64>() {
        Ok(h) => json!(h),
        Err(_) => json!(s),
    }
}

fn row_text(v: &Value) -> String {
    v.as_array().map(|vs| vs.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

pub async fn run(a: DiffArgs, client: &RpcClient) -> anyhow::Result<Output> {
    let mut opts = serde_json::Map::new();
    if let Some(t) = &a.table {
        opts.insert("table".into(), json!(t));
    }
    if let Some(l) = a.limit {
        opts.insert("limit".into(), json!(l));
    }
    let d = client.call("diff", json!([block_ref(&a.from), block_ref(&a.to), Value::Object(opts)])).await?;
    let mut text = format!("diff from height {} to height {}\n", d["from"]["height"], d["to"]["height"]);
    let relations = d["relations"].as_array().cloned().unwrap_or_default();
    if relations.is_empty() {
        text.push_str("no changes\n");
    }
    for r in &relations {
        text.push_str(&format!(
            "\n{} {} ({})\n",
            r["kind"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
            r["change"].as_str().unwrap_or_default()
        ));
        if let Some(cols) = r["columns"].as_array().filter(|c| !c.is_empty()) {
            text.push_str(&format!(
                "  columns: {}\n",
                cols.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
            ));
        }
        for c in r["rows"].as_array().into_iter().flatten() {
            match (c["old"].is_null(), c["new"].is_null()) {
                (true, _) => text.push_str(&format!("  + {}\n", row_text(&c["new"]))),
                (_, true) => text.push_str(&format!("  - {}\n", row_text(&c["old"]))),
                _ => text.push_str(&format!("  ~ {}\n    -> {}\n", row_text(&c["old"]), row_text(&c["new"]))),
            }
        }
    }
    if d["truncated"] == json!(true) {
        text.push_str("\n(truncated: raise --limit to see more)\n");
    }
    Ok(out(d, text.trim_end().to_string()))
}
