//! HTTP and WebSocket transports for the JSON-RPC protocol.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::admission::{Refusal, Slot, Slots, Turns};
use crate::protocol::{self, handle_payload, Reply, LIMIT_EXCEEDED};
use crate::{Handler, RpcError, RpcLimits};

#[derive(Clone)]
struct Shared {
    handler: Arc<dyn Handler>,
    limits: Arc<RpcLimits>,
    ws_connections: Arc<AtomicUsize>,
    /// Requests being executed or waiting their turn, in total and per
    /// client address.
    requests: Slots,
    /// Per-client turns among those requests.
    turns: Turns,
}

/// The peer address of the connection a request came on, put in every
/// request's extensions by the accept loop (routes added with
/// [`serve_with_routes`] read it too).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// A running server; dropping it does not stop it, call [`RpcServerHandle::shutdown`].
pub struct RpcServerHandle {
    pub local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
}

impl RpcServerHandle {
    /// Stops accepting connections, closes the open ones and waits for the
    /// server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.join.await;
    }
}

/// Binds `addr` and serves the API until shut down.
pub async fn serve(addr: SocketAddr, handler: Arc<dyn Handler>, limits: RpcLimits) -> std::io::Result<RpcServerHandle> {
    serve_with_routes(addr, handler, limits, Router::new()).await
}

/// [`serve`], plus `routes` the caller owns (e.g. the node's file store
/// under `/fs`), served behind the same connection caps and header
/// timeout. Their paths must not be the API's (`/`, `/ws`, `/metrics`,
/// `/health`); they bound their own bodies and work.
pub async fn serve_with_routes(
    addr: SocketAddr,
    handler: Arc<dyn Handler>,
    limits: RpcLimits,
    routes: Router,
) -> std::io::Result<RpcServerHandle> {
    let limits = Arc::new(limits);
    let shared = Shared {
        handler,
        limits: limits.clone(),
        ws_connections: Arc::new(AtomicUsize::new(0)),
        requests: Slots::new(limits.max_requests_in_flight, limits.max_requests_per_client),
        turns: Turns::new(limits.max_running_requests),
    };
    let app = Router::new()
        .route("/", post(http_call).get(page))
        .route("/ws", get(ws_upgrade))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .fallback(page)
        // We read the body ourselves with our own bound, to answer with a
        // JSON-RPC error rather than a bare 413.
        .layer(DefaultBodyLimit::disable())
        .layer(cors_layer(limits.cors_origins.clone()))
        .with_state(shared)
        .merge(routes);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let connections = Slots::new(limits.max_connections, limits.max_connections_per_client);
    let join = tokio::spawn(accept_loop(listener, app, connections, limits, rx));
    Ok(RpcServerHandle { local_addr, shutdown: Some(tx), join })
}

/// Pause after a failed `accept` (e.g. out of file descriptors), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF_MS: u64 = 50;

/// Accepts connections while connection slots are free; each connection
/// is served by its own task, which holds its slot until it closes.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    connections: Slots,
    limits: Arc<RpcLimits>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connections: the set holds at most the open ones.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "rpc accept failed");
                tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_BACKOFF_MS)).await;
                continue;
            }
        };
        match connections.try_take(peer.ip()) {
            Ok(slot) => {
                tasks.spawn(serve_connection(stream, ClientAddr(peer.ip()), app.clone(), limits.clone(), slot));
            }
            Err(refusal) => refuse_connection(&stream, &refusal.describe("open connections")),
        }
    }
    // Shutdown: every open connection (WebSockets included) ends now.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Answers a connection over the limit with `503` and closes it. One
/// non-blocking write: a refusal costs no task and no waiting, whatever the
/// client does; if the socket cannot take the bytes at once, the client
/// sees the connection close instead.
fn refuse_connection(stream: &tokio::net::TcpStream, reason: &str) {
    let body = protocol::error_object(Value::Null, &RpcError::new(LIMIT_EXCEEDED, reason)).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Serves one HTTP/1.1 connection (with upgrades, for WebSockets). The
/// header timeout also bounds how long an idle keep-alive connection is
/// kept: hyper arms it whenever it waits for a request head.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    client: ClientAddr,
    app: Router,
    limits: Arc<RpcLimits>,
    _slot: Slot,
) {
    let hosts = limits.clone();
    let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(client);
        let mut app = app.clone();
        let host_ok =
            crate::cors::host_allowed(&hosts.allowed_hosts, req.headers().get(header::HOST).map(|h| h.as_bytes()));
        async move {
            if !host_ok {
                let err = RpcError::new(
                    crate::INVALID_REQUEST,
                    "this Host is not served: add it to [rpc] allowed_hosts (a guard against DNS rebinding)",
                );
                let body = protocol::error_object(Value::Null, &err).to_string();
                return Ok(json_response(StatusCode::FORBIDDEN, body));
            }
            type Req = axum::http::Request<hyper::body::Incoming>;
            std::future::poll_fn(|cx| <Router as tower_service::Service<Req>>::poll_ready(&mut app, cx)).await?;
            <Router as tower_service::Service<Req>>::call(&mut app, req).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
        .max_buf_size(MAX_HEADER_BUF_BYTES);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(client = %client.0, error = %e, "rpc connection ended with an error");
    }
}

/// hyper's read buffer, which bounds a request head (start line and
/// headers); bodies are bounded separately by `max_request_bytes`.
const MAX_HEADER_BUF_BYTES: usize = 64 * 1024;

/// The refusal of a request over the in-flight bounds: HTTP 429, JSON-RPC
/// -32005.
fn too_many(refusal: &Refusal) -> Response {
    let err = RpcError::new(LIMIT_EXCEEDED, refusal.describe("requests in flight"));
    json_response(StatusCode::TOO_MANY_REQUESTS, protocol::error_object(Value::Null, &err).to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn http_call(State(shared): State<Shared>, Extension(client): Extension<ClientAddr>, body: Body) -> Response {
    let _slot = match shared.requests.try_take(client.0) {
        Ok(slot) => slot,
        Err(refusal) => return too_many(&refusal),
    };
    let _turn = shared.turns.wait(client.0).await;
    let limit = shared.limits.max_request_bytes;
    let timeout = Duration::from_millis(shared.limits.body_timeout_ms);
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Err(_) => {
            let err = RpcError::new(
                LIMIT_EXCEEDED,
                format!("request body not received within {} ms", shared.limits.body_timeout_ms),
            );
            return json_response(StatusCode::REQUEST_TIMEOUT, protocol::error_object(Value::Null, &err).to_string());
        }
        Ok(Err(_)) => {
            let err = RpcError::new(
                LIMIT_EXCEEDED,
                format!("request body exceeds the limit of {limit} bytes (or could not be read)"),
            );
            return json_response(StatusCode::PAYLOAD_TOO_LARGE, protocol::error_object(Value::Null, &err).to_string());
        }
    };
    let reply =
        tokio::task::spawn_blocking(move || protocol::respond(&bytes, &shared.limits, shared.handler.as_ref())).await;
    match reply {
        Ok(Some(s)) => json_response(StatusCode::OK, s),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let err = RpcError::internal(format!("handler failed: {e}"));
            json_response(StatusCode::INTERNAL_SERVER_ERROR, protocol::error_object(Value::Null, &err).to_string())
        }
    }
}

/// How long a browser may cache a preflight answer.
const CORS_MAX_AGE_SECS: u64 = 600;

fn cors_layer(allowed: Vec<String>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| crate::cors::origin_allowed(&allowed, origin.as_bytes())))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST, axum::http::Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(CORS_MAX_AGE_SECS))
}

async fn health(State(shared): State<Shared>) -> Response {
    match shared.handler.health() {
        Ok(v) => json_response(StatusCode::OK, v.to_string()),
        Err(reason) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unavailable", "reason": reason }).to_string(),
        ),
    }
}

/// Longest path looked up as a page; longer ones are 404 at once.
const MAX_PAGE_PATH_BYTES: usize = 256;

/// `GET` of a static page of the handler (the web console); 404 for an
/// unknown path, 405 for another method.
async fn page(State(shared): State<Shared>, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let path = uri.path();
    let found = if path.len() <= MAX_PAGE_PATH_BYTES { shared.handler.page(path) } else { None };
    let Some(p) = found else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n")
            .into_response();
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, p.content_type),
            (header::CONTENT_SECURITY_POLICY, p.content_security_policy),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            // Assets change with the binary: revalidate rather than cache
            // stale code across an upgrade.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        p.body,
    )
        .into_response()
}

/// What `GET /metrics` serves: the OpenMetrics text format.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics(State(shared): State<Shared>, Extension(client): Extension<ClientAddr>) -> Response {
    let _slot = match shared.requests.try_take(client.0) {
        Ok(slot) => slot,
        Err(refusal) => return too_many(&refusal),
    };
    let _turn = shared.turns.wait(client.0).await;
    let handler = shared.handler.clone();
    match tokio::task::spawn_blocking(move || handler.metrics()).await {
        Ok(Some(text)) => (StatusCode::OK, [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether a WebSocket handshake's `Origin` may connect. Browsers apply no
/// CORS to WebSockets, so without this any web page could read the API
/// through its visitor's browser. Programs send no `Origin` and pass; a page
/// passes when CORS would let it call (`cors`), or when it was served by
/// this server (its origin is the `Host` it connected to: the console).
fn ws_origin_allowed(headers: &axum::http::HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let origin = origin.as_bytes();
    if crate::cors::origin_allowed(allowed, origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST) else { return false };
    [b"http://".as_slice(), b"https://"].iter().any(|scheme| {
        origin.len() == scheme.len() + host.len() && origin.starts_with(scheme) && origin.ends_with(host.as_bytes())
    })
}

async fn ws_upgrade(
    State(shared): State<Shared>,
    Extension(client): Extension<ClientAddr>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !ws_origin_allowed(&headers, &shared.limits.cors_origins) {
        let err = RpcError::new(
            crate::INVALID_REQUEST,
            "WebSocket from a page of another origin: allow it in [rpc] cors_origins",
        );
        return json_response(StatusCode::FORBIDDEN, protocol::error_object(Value::Null, &err).to_string());
    }
    let open = shared.ws_connections.fetch_add(1, Ordering::SeqCst);
    if open >= shared.limits.max_ws_connections {
        shared.ws_connections.fetch_sub(1, Ordering::SeqCst);
        let err =
            RpcError::new(LIMIT_EXCEEDED, format!("the server already has {open} WebSocket connections, the limit"));
        return json_response(StatusCode::SERVICE_UNAVAILABLE, protocol::error_object(Value::Null, &err).to_string());
    }
    let max = shared.limits.max_request_bytes;
    ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| async move {
        run_ws(socket, shared.clone(), client).await;
        shared.ws_connections.fetch_sub(1, Ordering::SeqCst);
    })
}

/// Per-connection subscription table: id -> forwarding task.
type Subscriptions = Arc<Mutex<BTreeMap<u64, JoinHandle<()>>>>;

/// What the writer task sends: a response or notification, or the close
/// frame that ends the connection.
enum Outgoing {
    Text(String),
    Close(CloseFrame),
}

/// How long a close frame may take to leave before the connection is
/// dropped anyway.
const CLOSE_FLUSH_MS: u64 = 1_000;

/// The close frame answering a message the server could not read: 1009
/// for one above the size bound, 1007 for text that is not UTF-8, 1002 for
/// any other violation of the framing (RFC 6455, 7.4.1); `None` when the
/// connection itself failed and there is nobody to tell.
fn close_frame_for(e: axum::Error, limits: &RpcLimits) -> Option<CloseFrame> {
    use tungstenite::error::Error as E;
    let inner = e.into_inner();
    let e = inner.downcast_ref::<E>()?;
    let (code, reason) = match e {
        E::Capacity(_) => (
            close_code::SIZE,
            format!("message exceeds the limit of {} bytes (JSON-RPC -32005)", limits.max_request_bytes),
        ),
        E::Utf8(_) => (close_code::INVALID, "a text message that is not UTF-8".to_string()),
        E::Protocol(p) => (close_code::PROTOCOL, p.to_string()),
        _ => return None,
    };
    // A close reason is at most 123 bytes.
    let mut reason = reason;
    while reason.len() > 123 {
        reason.pop();
    }
    Some(CloseFrame { code, reason: reason.into() })
}

async fn run_ws(socket: WebSocket, shared: Shared, client: ClientAddr) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(shared.limits.ws_send_queue_len);
    let mut writer = tokio::spawn(async move {
        while let Some(out) = out_rx.recv().await {
            let (msg, last) = match out {
                Outgoing::Text(text) => (Message::Text(text.into()), false),
                Outgoing::Close(frame) => (Message::Close(Some(frame)), true),
            };
            if sink.send(msg).await.is_err() || last {
                break;
            }
        }
    });
    let subs: Subscriptions = Arc::new(Mutex::new(BTreeMap::new()));
    let next_id = Arc::new(AtomicUsize::new(1));
    let mut close = None;
    while let Some(msg) = stream.next().await {
        let bytes = match msg {
            Ok(Message::Text(t)) => t.as_bytes().to_vec(),
            Ok(Message::Binary(b)) => b.to_vec(),
            Ok(Message::Close(_)) => break,
            Err(e) => {
                close = close_frame_for(e, &shared.limits);
                break;
            }
            Ok(_) => continue,
        };
        // Each message is one request: it needs a request slot like an
        // HTTP call; over the bound the client gets the error and the
        // connection stays open.
        let slot = match shared.requests.try_take(client.0) {
            Ok(slot) => slot,
            Err(refusal) => {
                let err = RpcError::new(LIMIT_EXCEEDED, refusal.describe("requests in flight"));
                if out_tx.try_send(Outgoing::Text(protocol::error_object(Value::Null, &err).to_string())).is_err() {
                    break;
                }
                continue;
            }
        };
        let turn = shared.turns.wait(client.0).await;
        let shared2 = shared.clone();
        let subs2 = subs.clone();
        let next_id2 = next_id.clone();
        let out2 = out_tx.clone();
        let runtime = tokio::runtime::Handle::current();
        let reply = tokio::task::spawn_blocking(move || {
            let handler = shared2.handler.clone();
            handle_payload(&bytes, &shared2.limits, &mut |method, params| match method {
                "subscribe" => subscribe(&runtime, handler.as_ref(), &shared2.limits, &subs2, &next_id2, &out2, params),
                "unsubscribe" => unsubscribe(&subs2, params),
                _ => protocol::dispatch_to(handler.as_ref(), method, params),
            })
        })
        .await;
        drop((turn, slot));
        let text = match reply {
            Ok(Reply::Json(s)) => s,
            Ok(Reply::None) => continue,
            Err(e) => {
                protocol::error_object(Value::Null, &RpcError::internal(format!("handler failed: {e}"))).to_string()
            }
        };
        if out_tx.try_send(Outgoing::Text(text)).is_err() {
            // The client does not read its responses: drop it rather than
            // buffer without bound.
            break;
        }
    }
    let tasks: Vec<JoinHandle<()>> =
        subs.lock().map(|mut m| std::mem::take(&mut *m).into_values().collect()).unwrap_or_default();
    for t in tasks {
        t.abort();
    }
    // A client that broke the framing is told why (after the answers
    // already queued), within a bound; otherwise the connection just ends.
    if let Some(frame) = close {
        if out_tx.try_send(Outgoing::Close(frame)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_millis(CLOSE_FLUSH_MS), &mut writer).await;
        }
    }
    drop(out_tx);
    writer.abort();
}

fn subscribe(
    runtime: &tokio::runtime::Handle,
    handler: &dyn Handler,
    limits: &RpcLimits,
    subs: &Subscriptions,
    next_id: &AtomicUsize,
    out: &mpsc::Sender<Outgoing>,
    params: Value,
) -> Result<Value, RpcError> {
    let topic = params
        .get(0)
        .or_else(|| params.get("topic"))
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("expected params [topic], e.g. [\"blocks\"]"))?
        .to_string();
    let mut table = subs.lock().map_err(|_| RpcError::internal("subscription table poisoned"))?;
    if table.len() >= limits.max_subscriptions_per_connection {
        return Err(RpcError::new(
            LIMIT_EXCEEDED,
            format!("this connection already has {} subscriptions, the limit", table.len()),
        ));
    }
    let mut rx = handler.subscribe(&topic, &params)?;
    let id = next_id.fetch_add(1, Ordering::SeqCst) as u64;
    let out = out.clone();
    let task = runtime.spawn(async move {
        loop {
            let item = match rx.recv().await {
                Ok(v) => v,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    json!({ "error": format!("subscriber too slow: {n} notifications dropped") })
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let note = json!({
                "jsonrpc": "2.0",
                "method": "subscription",
                "params": { "subscription": id, "result": item },
            });
            if out.try_send(Outgoing::Text(note.to_string())).is_err() {
                break;
            }
        }
    });
    table.insert(id, task);
    Ok(json!(id))
}

fn unsubscribe(subs: &Subscriptions, params: Value) -> Result<Value, RpcError> {
    let id = params
        .get(0)
        .and_then(Value::as_u64)
        .ok_or_else(|| RpcError::invalid_params("expected params [subscription id]"))?;
    let mut table = subs.lock().map_err(|_| RpcError::internal("subscription table poisoned"))?;
    match table.remove(&id) {
        Some(task) => {
            task.abort();
            Ok(json!(true))
        }
        None => Ok(json!(false)),
    }
}
