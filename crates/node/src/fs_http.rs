//! AergoFS over HTTP, on the JSON-RPC port (routes added to the transport
//! with `aergo_rpc::serve_with_routes`):
//!
//! | request | answer |
//! |---|---|
//! | `PUT /fs` (body: the file; `Content-Type` kept) | 201 `{"hash", "hex", "size", "stored"}`, or 200 with `stored` false when the bytes were already there |
//! | `PUT /fs/HASH` | the same, refused (400, nothing stored) unless the body's SHA-256 is HASH |
//! | `GET /fs/HASH` (`Range: bytes=A-B`, `A-` or `-N`) | the file (206 for a range), with its content type, `ETag`, `Accept-Ranges`, immutable caching; 304 for a matching `If-None-Match`; `HEAD` likewise |
//! | `GET /fs?after=HASH&limit=N` | `{"files": [{"hash", "needleBytes"}], "stats"}` in key order, at most 1,000 |
//! | `DELETE /fs/HASH` | from this machine only (loopback clients): 200 `{"deleted"}` |
//!
//! HASH is base58 or hex (with or without `0x`). Errors are JSON
//! `{"error": {"message", "reason"}}` with 400 (malformed hash, range or
//! request; hash mismatch), 403, 404, 413 (over `fs.max_file_bytes`), 416
//! (range outside the file), 507 (over `fs.quota_bytes`).
//!
//! Files are served with `Content-Security-Policy: sandbox` so that an
//! uploaded HTML page runs no script on the node's origin (where the
//! console lives), and `nosniff`. At most `fs.max_concurrent_requests`
//! uploads and downloads run at once (others wait), each holding its slot
//! until its body is sent; each holds at most one file in memory. `HEAD`
//! reads only the needle's header. Uploads must arrive within
//! `fs.upload_timeout_ms`.
//!
//! `GET` of a file this node does not hold, when it is registered on
//! chain, fetches it from a peer first (502 `UNAVAILABLE` when no peer
//! has it); a copy found damaged is fetched again the same way
//! (`fs_replica`). `HEAD` answers from this node's store only.
//!
//! Not here yet: per-account quotas, private files.

// Handlers answer errors as `Response`s (axum's currency); boxing them to
// shrink a `Result` buys nothing on a path that does I/O.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Weak};
use std::time::Duration;

use aergo_fs::{FsError, FsStore, Hash};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::json;

use crate::config::FsSettings;
use crate::{Node, NodeError};

#[derive(Clone)]
struct FsHttp {
    store: Arc<FsStore>,
    /// The node, for fetching registered files it lacks and healing
    /// damaged copies from peers (`fs_replica`); weak: the routes must not
    /// keep the node alive.
    node: Option<Weak<Node>>,
    settings: FsSettings,
    upload_timeout: Duration,
    permits: Arc<tokio::sync::Semaphore>,
}

/// Most entries one list returns.
const MAX_LIST: usize = 1_000;

/// The `/fs` routes over `store`.
pub fn routes(store: Arc<FsStore>, settings: FsSettings, node: Option<Weak<Node>>) -> Router {
    let permits = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_requests));
    let upload_timeout = Duration::from_millis(settings.upload_timeout_ms);
    let state = FsHttp { store, node, settings, upload_timeout, permits };
    Router::new()
        .route("/fs", get(list).put(put_any))
        .route("/fs/{hash}", get(get_file).put(put_named).delete(delete))
        .with_state(state)
}

fn error(status: StatusCode, reason: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "message": message.into(), "reason": reason } }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn fs_error(e: FsError) -> Response {
    match e {
        FsError::TooLarge { got, max } => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "TOO_LARGE",
            format!("file of {got} bytes exceeds fs.max_file_bytes = {max}"),
        ),
        FsError::BadContentType { got } => error(
            StatusCode::BAD_REQUEST,
            "BAD_CONTENT_TYPE",
            format!("content type {got:?}: expected printable ASCII of at most 127 bytes"),
        ),
        FsError::Full { reason } => error(StatusCode::INSUFFICIENT_STORAGE, "FULL", reason),
        FsError::Corrupt { reason } => {
            tracing::error!(%reason, "AergoFS read found damaged data");
            error(StatusCode::INTERNAL_SERVER_ERROR, "DAMAGED", format!("the stored copy is damaged: {reason}"))
        }
        FsError::Io { .. } => error(StatusCode::INTERNAL_SERVER_ERROR, "IO", e.to_string()),
    }
}

/// A file's name in a path: base58, or hex with or without `0x`.
fn parse_hash(text: &str) -> Result<Hash, Response> {
    let hex = text.strip_prefix("0x").unwrap_or(text);
    let parsed = if hex.len() == 64 { Hash::from_hex(hex) } else { Hash::from_base58(text) };
    parsed.map_err(|_| {
        let shown: String = text.chars().take(80).collect();
        error(StatusCode::BAD_REQUEST, "BAD_HASH", format!("{shown:?} is not a file hash (base58, or 64 hex digits)"))
    })
}

async fn permit(s: &FsHttp) -> tokio::sync::OwnedSemaphorePermit {
    s.permits.clone().acquire_owned().await.expect("the semaphore is never closed")
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", format!("file store task failed: {e}")))
}

async fn put_any(State(s): State<FsHttp>, headers: HeaderMap, body: Body) -> Response {
    put(s, None, headers, body).await
}

async fn put_named(State(s): State<FsHttp>, Path(hash): Path<String>, headers: HeaderMap, body: Body) -> Response {
    match parse_hash(&hash) {
        Ok(h) => put(s, Some(h), headers, body).await,
        Err(r) => r,
    }
}

async fn put(s: FsHttp, expected: Option<Hash>, headers: HeaderMap, body: Body) -> Response {
    let max = s.settings.max_file_bytes;
    // Refused on its declared size before it takes a slot or a byte.
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        if len > max {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOO_LARGE",
                format!("file of {len} bytes exceeds fs.max_file_bytes = {max}"),
            );
        }
    }
    let _permit = permit(&s).await;
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = match tokio::time::timeout(s.upload_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            // axum reports a body over the limit as a length-limit error;
            // anything else is the client going away mid-upload.
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            let mut too_big = false;
            while let Some(err) = source {
                too_big |= err.is::<http_body_util::LengthLimitError>();
                source = err.source();
            }
            return if too_big {
                error(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", format!("file exceeds fs.max_file_bytes = {max}"))
            } else {
                error(StatusCode::BAD_REQUEST, "UPLOAD_BROKEN", format!("the upload broke off: {e}"))
            };
        }
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "TIMEOUT",
                format!("the file did not arrive within fs.upload_timeout_ms = {}", s.upload_timeout.as_millis()),
            )
        }
    };
    let content_type = match headers.get(header::CONTENT_TYPE) {
        None => "application/octet-stream".to_string(),
        Some(v) => match v.to_str() {
            Ok(t) if aergo_fs::needle::valid_content_type(t) => t.to_string(),
            _ => return fs_error(FsError::BadContentType { got: String::from_utf8_lossy(v.as_bytes()).into_owned() }),
        },
    };
    let store = s.store.clone();
    let quota = s.settings.quota_bytes;
    let outcome = run_blocking(move || {
        let key = Hash::sha256(&bytes);
        if let Some(e) = expected.filter(|e| *e != key) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "HASH_MISMATCH",
                format!("the uploaded bytes hash to {key}, not {e}: nothing stored"),
            ));
        }
        let used = store.stats().volume_bytes;
        if !store.contains(&key) && used + bytes.len() as u64 > quota {
            return Err(error(
                StatusCode::INSUFFICIENT_STORAGE,
                "QUOTA",
                format!("the store holds {used} bytes; {} more would pass fs.quota_bytes = {quota}", bytes.len()),
            ));
        }
        store.put(&content_type, &bytes).map_err(fs_error)
    })
    .await;
    match outcome {
        Ok(Ok(p)) => (
            if p.written { StatusCode::CREATED } else { StatusCode::OK },
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "hash": p.key.to_string(), "hex": p.key.to_hex(), "size": p.size, "stored": p.written })
                .to_string(),
        )
            .into_response(),
        Ok(Err(r)) | Err(r) => r,
    }
}

/// A `Range` header's one range against a file of `size` bytes:
/// `Ok(None)` for no header, the inclusive byte range, or the error answer.
fn parse_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, Response> {
    let Some(v) = headers.get(header::RANGE) else { return Ok(None) };
    let bad = |why: &str| error(StatusCode::BAD_REQUEST, "BAD_RANGE", format!("Range header: {why}"));
    let text = v.to_str().map_err(|_| bad("not ASCII"))?.trim();
    let spec = text.strip_prefix("bytes=").ok_or_else(|| bad("expected bytes=FIRST-LAST"))?;
    if spec.contains(',') {
        return Err(bad("one range at a time"));
    }
    let (a, b) = spec.split_once('-').ok_or_else(|| bad("expected bytes=FIRST-LAST, FIRST- or -SUFFIX"))?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad("positions must be decimal numbers"));
    let unsatisfiable = || {
        let mut r =
            error(StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_NOT_SATISFIABLE", format!("the file has {size} bytes"));
        if let Ok(v) = format!("bytes */{size}").parse() {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        r
    };
    let (first, last) = match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, true) => return Err(bad("expected bytes=FIRST-LAST, FIRST- or -SUFFIX")),
        (true, false) => {
            let n = num(b)?;
            if n == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, true) => (num(a)?, size.saturating_sub(1)),
        (false, false) => {
            let (f, l) = (num(a)?, num(b)?);
            if l < f {
                return Err(bad("LAST is before FIRST"));
            }
            (f, l.min(size.saturating_sub(1)))
        }
    };
    if first >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((first, last)))
}

async fn get_file(
    State(s): State<FsHttp>,
    Path(hash): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    let key = match parse_hash(&hash) {
        Ok(k) => k,
        Err(r) => return r,
    };
    // The content never changes under a name: a client holding this ETag
    // has the file, if the store has it at all.
    let etag = format!("\"{key}\"");
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if cached && s.store.contains(&key) {
        let mut h = HeaderMap::new();
        if let Ok(v) = etag.parse() {
            h.insert(header::ETAG, v);
        }
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    let head_only = method == axum::http::Method::HEAD;
    let mut found = read(&s, key, head_only).await;
    // A registered file this node lacks is fetched from a peer first; a
    // damaged copy is healed the same way. Without a slot held: the fetch
    // has its own bound.
    let node = if head_only { None } else { s.node.as_ref().and_then(Weak::upgrade) };
    if let Some(node) = node {
        let fetched = match &found {
            Ok(Ok(None)) => Some(node.fetch_file(key).await),
            Ok(Err(FsError::Corrupt { .. })) => Some(node.heal_file(key).await),
            _ => None,
        };
        match fetched {
            Some(Ok(())) => found = read(&s, key, head_only).await,
            Some(Err(NodeError::File { reason, message, .. })) => {
                let status = match reason {
                    "UNKNOWN_FILE" => StatusCode::NOT_FOUND,
                    "TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
                    "QUOTA" => StatusCode::INSUFFICIENT_STORAGE,
                    _ => StatusCode::BAD_GATEWAY,
                };
                return error(status, reason, format!("file {key}: {message}"));
            }
            Some(Err(e)) => return error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", e.to_string()),
            None => {}
        }
    }
    let (content_type, size, data, permit) = match found {
        Ok(Ok(Some(f))) => f,
        Ok(Ok(None)) => return error(StatusCode::NOT_FOUND, "UNKNOWN_FILE", format!("no file {key} on this node")),
        Ok(Err(e)) => return fs_error(e),
        Err(r) => return r,
    };
    let range = match parse_range(&headers, size) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut resp_headers = HeaderMap::new();
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: String| {
        if let Ok(v) = value.parse() {
            h.insert(name, v);
        }
    };
    let ct = if content_type.is_empty() { "application/octet-stream".to_string() } else { content_type };
    set(&mut resp_headers, header::CONTENT_TYPE, ct);
    set(&mut resp_headers, header::ETAG, format!("\"{key}\""));
    set(&mut resp_headers, header::ACCEPT_RANGES, "bytes".into());
    set(&mut resp_headers, header::CACHE_CONTROL, "public, max-age=31536000, immutable".into());
    set(&mut resp_headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(&mut resp_headers, header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".into());
    let (status, span) = match range {
        None => (StatusCode::OK, 0..size as usize),
        Some((first, last)) => {
            set(&mut resp_headers, header::CONTENT_RANGE, format!("bytes {first}-{last}/{size}"));
            (StatusCode::PARTIAL_CONTENT, first as usize..last as usize + 1)
        }
    };
    set(&mut resp_headers, header::CONTENT_LENGTH, span.len().to_string());
    let Some(data) = data else { return (status, resp_headers).into_response() };
    // The slot is held until the body is sent (or the client goes), so
    // the files in memory at once stay within fs.max_concurrent_requests.
    let bytes = axum::body::Bytes::from(data).slice(span);
    (status, resp_headers, Body::from_stream(HeldBody { bytes: Some(bytes), _permit: permit })).into_response()
}

/// What a read found: content type, size, the data (GET) and the slot it
/// holds until the body is sent. HEAD reads the needle's header only; GET
/// reads and checks the whole file.
type Found = (String, u64, Option<Vec<u8>>, tokio::sync::OwnedSemaphorePermit);

async fn read(s: &FsHttp, key: Hash, head_only: bool) -> Result<Result<Option<Found>, FsError>, Response> {
    let permit = permit(s).await;
    let store = s.store.clone();
    run_blocking(move || {
        if head_only {
            store.stat(&key).map(|o| o.map(|st| (st.content_type, st.size, None, permit)))
        } else {
            store.get(&key).map(|o| o.map(|f| (f.content_type, f.data.len() as u64, Some(f.data), permit)))
        }
    })
    .await
}

/// A response body of one chunk that holds a request slot until it is
/// dropped (sent, or the connection closed).
struct HeldBody {
    bytes: Option<axum::body::Bytes>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl futures_util::Stream for HeldBody {
    type Item = Result<axum::body::Bytes, std::convert::Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.bytes.take().map(Ok))
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
}

async fn list(State(s): State<FsHttp>, Query(q): Query<ListQuery>) -> Response {
    let after = match q.after.as_deref().map(parse_hash).transpose() {
        Ok(a) => a,
        Err(r) => return r,
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIST {
        return error(StatusCode::BAD_REQUEST, "BAD_LIMIT", format!("limit: expected 1 to {MAX_LIST}, got {limit}"));
    }
    let store = s.store.clone();
    match run_blocking(move || (store.list(after.as_ref(), limit), store.stats())).await {
        Ok((files, stats)) => {
            let files: Vec<_> =
                files.iter().map(|(k, l)| json!({ "hash": k.to_string(), "needleBytes": l.len })).collect();
            let body = json!({
                "files": files,
                "stats": {
                    "files": stats.files,
                    "volumes": stats.volumes,
                    "volumeBytes": stats.volume_bytes,
                    "deadBytes": stats.dead_bytes,
                    "quotaBytes": s.settings.quota_bytes,
                },
            });
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        Err(r) => r,
    }
}

async fn delete(
    State(s): State<FsHttp>,
    Extension(client): Extension<aergo_rpc::ClientAddr>,
    Path(hash): Path<String>,
) -> Response {
    if !client.0.is_loopback() {
        return error(StatusCode::FORBIDDEN, "FORBIDDEN", "files are deleted from the node's own machine only");
    }
    let key = match parse_hash(&hash) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let _permit = permit(&s).await;
    let store = s.store.clone();
    match run_blocking(move || store.delete(&key)).await {
        Ok(Ok(true)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "deleted": key.to_string() }).to_string(),
        )
            .into_response(),
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, "UNKNOWN_FILE", format!("no file {key} on this node")),
        Ok(Err(e)) => fs_error(e),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<Option<(u64, u64)>, u16> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, v.parse().unwrap());
        parse_range(&h, size).map_err(|r| r.status().as_u16())
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-1000", 100), Ok(Some((0, 99))));
        assert_eq!(range("bytes=50-5000", 100), Ok(Some((50, 99))));
        assert_eq!(range("bytes=100-", 100), Err(416));
        assert_eq!(range("bytes=-0", 100), Err(416));
        assert_eq!(range("bytes=0-0", 0), Err(416));
        for bad in ["bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,3-4", "bytes=-", "bytes=1"] {
            assert_eq!(range(bad, 100), Err(400), "{bad}");
        }
    }
}
