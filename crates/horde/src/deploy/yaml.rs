//! A small YAML writer for JSON values: manifests are built as
//! `serde_json::Value` (so tests read them back as data) and written as
//! block-style YAML, as operators read and diff them.
//!
//! Every string is written double-quoted with JSON escapes (valid YAML, and
//! never read as a number, a boolean or null: `"0600"`, `"true"` and `"on"`
//! stay strings), except multi-line strings (a config file in a ConfigMap),
//! which become literal blocks (`|`). Keys are plain when they are simple
//! names, else quoted.

use serde_json::Value;

/// `value` as a YAML document (no leading `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(_) | Value::Array(_) if !is_empty(value) => block(&mut out, value, 0),
        _ => {
            out.push_str(&scalar(value, 0));
            out.push('\n');
        }
    }
    out
}

/// Several documents in one stream, separated by `---`.
pub fn to_yaml_stream(docs: &[Value]) -> String {
    docs.iter().map(to_yaml).collect::<Vec<_>>().join("---\n")
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_)) && !is_empty(v)
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

/// A map or list at `indent`, one entry per line.
fn block(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                out.push_str(&pad(indent));
                out.push_str(&key(k));
                out.push(':');
                entry(out, val, indent);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&pad(indent));
                out.push('-');
                match item {
                    // A map in a list starts on the dash's line.
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        block(&mut inner, item, indent + 2);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => entry(out, item, indent),
                }
            }
        }
        _ => unreachable_scalar(out, v, indent),
    }
}

fn unreachable_scalar(out: &mut String, v: &Value, indent: usize) {
    out.push_str(&pad(indent));
    out.push_str(&scalar(v, indent));
    out.push('\n');
}

/// What follows `key:` or `-`: a nested block on the next lines, or a
/// scalar on this one.
fn entry(out: &mut String, val: &Value, indent: usize) {
    if is_block(val) {
        out.push('\n');
        let nested = if matches!(val, Value::Array(_)) { indent } else { indent + 2 };
        block(out, val, nested);
    } else {
        out.push(' ');
        out.push_str(&scalar(val, indent + 2));
        out.push('\n');
    }
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && k.as_bytes()[0].is_ascii_alphabetic()
        && !matches!(k.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "on" | "off" | "null");
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if literal_block_fits(s) => {
            let mut lit = String::from(if s.ends_with('\n') { "|" } else { "|-" });
            for line in s.trim_end_matches('\n').split('\n') {
                lit.push('\n');
                if !line.is_empty() {
                    lit.push_str(&pad(indent));
                    lit.push_str(line);
                }
            }
            lit
        }
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A multi-line string that a literal block reproduces exactly: no leading
/// space on its first line (it would set the indentation), no trailing
/// spaces, tabs or control characters, at most one final newline.
fn literal_block_fits(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.ends_with("\n\n")
        && s.lines().all(|l| !l.ends_with(' '))
        && !s.chars().any(|c| c.is_control() && c != '\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "x", "labels": { "app": "aergo" } },
            "data": { "config.toml": "[rpc]\nlisten = \"0.0.0.0:7847\"\n", "n": "0600", "on": "true" },
            "list": [ { "a": 1, "b": [ "x", { "c": null } ] }, 2, [], {} ],
        });
        let y = to_yaml(&v);
        // serde_json's maps are sorted: keys come out in order.
        let expected = "\
apiVersion: \"v1\"
data:
  config.toml: |
    [rpc]
    listen = \"0.0.0.0:7847\"
  n: \"0600\"
  \"on\": \"true\"
kind: \"ConfigMap\"
list:
- a: 1
  b:
  - \"x\"
  - c: null
- 2
- []
- {}
metadata:
  labels:
    app: \"aergo\"
  name: \"x\"
";
        assert_eq!(y, expected);
    }

    #[test]
    fn awkward_strings_stay_quoted() {
        for s in [" leading\nspace", "trailing \nspace", "tab\there\nx", "two\n\n"] {
            let y = to_yaml(&json!({ "k": s }));
            assert_eq!(y, format!("k: {}\n", Value::String(s.into())), "{s:?}");
        }
    }
}
