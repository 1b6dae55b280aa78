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
    lines(&[
        ("tx", scalar(v.get("txHash"))),
        ("status", scalar(v.get("status"))),
        ("block", format!("{} (height {})", scalar(v.get("blockHash")), scalar(v.get("blockHeight")))),
        ("index", scalar(v.get("txIndex"))),
        ("from", scalar(v.get("from"))),
        ("to", scalar(v.get("to"))),
        ("gas used", scalar(v.get("gasUsed"))),
        ("fee", amount(v.get("fee"))),
    ])
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
    fn blocks_list_their_txs() {
        let b = json!({"height": 3, "hash": "H", "txCount": 1, "txs": ["T1"]});
        let text = block(&b);
        assert!(text.contains("height         3") && text.ends_with("\n  T1"), "{text}");
        let r = receipt(&json!({"fee": "5000000000000000", "status": "SUCCESS"}));
        assert!(r.contains("0.005 aergo") && r.contains("SUCCESS"), "{r}");
    }
}
