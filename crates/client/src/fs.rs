//! `aergo fs`: AergoFS through a node's HTTP routes (`PUT /fs`,
//! `GET|HEAD|DELETE /fs/HASH`, `GET /fs`).

use std::time::Duration;

use serde_json::Value;

use crate::error::{CliError, Result};

/// Large files take time: uploads and downloads get this long.
const TRANSFER_TIMEOUT_MS: u64 = 600_000;
/// Largest file a download keeps in memory.
pub const MAX_DOWNLOAD_BYTES: u64 = 4 << 30;

fn http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(TRANSFER_TIMEOUT_MS))
        .build()
        .map_err(|e| CliError::Task { what: "starting the HTTP client", reason: e.to_string() })
}

fn connect_err(url: &str, e: reqwest::Error) -> CliError {
    CliError::Connect { url: url.to_string(), reason: e.to_string() }
}

/// The node's answer as JSON, or its error message as a [`CliError`].
async fn answer(what: &str, url: &str, resp: reqwest::Response) -> Result<Value> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| connect_err(url, e))?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(v);
    }
    let message =
        v["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| format!("HTTP {status}: {text}"));
    Err(CliError::Rpc {
        method: what.to_string(),
        code: i64::from(status.as_u16()),
        message,
        reason: v["error"]["reason"].as_str().map(str::to_string),
    })
}

/// A content type from a file name's extension.
pub fn guess_content_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "md" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "csv" => "text/csv",
        "sql" => "application/sql",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Uploads `data`; returns the node's answer (`hash`, `size`, `stored`).
pub async fn put(node: &str, data: Vec<u8>, content_type: &str) -> Result<Value> {
    let url = format!("{node}/fs");
    let resp = http()?
        .put(&url)
        .header("Content-Type", content_type)
        .body(data)
        .send()
        .await
        .map_err(|e| connect_err(node, e))?;
    answer("fs put", node, resp).await
}

/// A downloaded file.
pub struct Download {
    pub content_type: String,
    pub data: Vec<u8>,
}

pub async fn get(node: &str, hash: &str) -> Result<Download> {
    let url = format!("{node}/fs/{hash}");
    let mut resp = http()?.get(&url).send().await.map_err(|e| connect_err(node, e))?;
    if !resp.status().is_success() {
        return Err(answer("fs get", node, resp)
            .await
            .err()
            .unwrap_or_else(|| CliError::Task { what: "fs get", reason: "the node refused".into() }));
    }
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut data = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| connect_err(node, e))? {
        if data.len() as u64 + chunk.len() as u64 > MAX_DOWNLOAD_BYTES {
            return Err(CliError::Task { what: "fs get", reason: format!("file exceeds {MAX_DOWNLOAD_BYTES} bytes") });
        }
        data.extend_from_slice(&chunk);
    }
    // The name is the content's hash: check what came.
    let got = aergo_types::Hash::sha256(&data);
    let wanted = hash.strip_prefix("0x").unwrap_or(hash);
    if got.to_string() != hash && got.to_hex() != wanted.to_ascii_lowercase() {
        return Err(CliError::Task {
            what: "fs get",
            reason: format!("the node sent bytes that hash to {got}, not {hash}"),
        });
    }
    Ok(Download { content_type, data })
}

/// Size and content type, from the headers of `HEAD /fs/HASH`.
pub async fn stat(node: &str, hash: &str) -> Result<Value> {
    let url = format!("{node}/fs/{hash}");
    let resp = http()?.head(&url).send().await.map_err(|e| connect_err(node, e))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let reason = if status.as_u16() == 404 { "UNKNOWN_FILE" } else { "REFUSED" };
        return Err(CliError::Rpc {
            method: "fs stat".into(),
            code: i64::from(status.as_u16()),
            message: format!("no file {hash} on this node (HTTP {status})"),
            reason: Some(reason.into()),
        });
    }
    let h = resp.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    Ok(serde_json::json!({
        "hash": hash,
        "size": get("content-length").parse::<u64>().unwrap_or(0),
        "contentType": get("content-type"),
    }))
}

pub async fn rm(node: &str, hash: &str) -> Result<Value> {
    let url = format!("{node}/fs/{hash}");
    let resp = http()?.delete(&url).send().await.map_err(|e| connect_err(node, e))?;
    answer("fs rm", node, resp).await
}

pub async fn ls(node: &str, after: Option<&str>, limit: usize) -> Result<Value> {
    let mut url = format!("{node}/fs?limit={limit}");
    if let Some(a) = after {
        url.push_str(&format!("&after={a}"));
    }
    let resp = http()?.get(&url).send().await.map_err(|e| connect_err(node, e))?;
    answer("fs ls", node, resp).await
}
