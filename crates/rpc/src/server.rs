//! HTTP and WebSocket transports for the JSON-RPC protocol.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::protocol::{self, handle_payload, Reply, LIMIT_EXCEEDED};
use crate::{Handler, RpcError, RpcLimits};

#[derive(Clone)]
struct Shared {
    handler: Arc<dyn Handler>,
    limits: Arc<RpcLimits>,
    ws_connections: Arc<AtomicUsize>,
}

/// A running server; dropping it does not stop it, call [`RpcServerHandle::shutdown`].
pub struct RpcServerHandle {
    pub local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
}

impl RpcServerHandle {
    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.join.await;
    }
}

/// Binds `addr` and serves the API until shut down.
pub async fn serve(addr: SocketAddr, handler: Arc<dyn Handler>, limits: RpcLimits) -> std::io::Result<RpcServerHandle> {
    let shared = Shared { handler, limits: Arc::new(limits), ws_connections: Arc::new(AtomicUsize::new(0)) };
    let app = Router::new()
        .route("/", post(http_call))
        .route("/ws", get(ws_upgrade))
        .route("/metrics", get(metrics))
        // We read the body ourselves with our own bound, to answer with a
        // JSON-RPC error rather than a bare 413.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "rpc server stopped");
        }
    });
    Ok(RpcServerHandle { local_addr, shutdown: Some(tx), join })
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn http_call(State(shared): State<Shared>, body: Body) -> Response {
    let limit = shared.limits.max_request_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let err = RpcError::new(
                LIMIT_EXCEEDED,
                format!("request body exceeds the limit of {limit} bytes (or could not be read)"),
            );
            return json_response(StatusCode::PAYLOAD_TOO_LARGE, protocol::error_object(Value::Null, &err).to_string());
        }
    };
    let reply = tokio::task::spawn_blocking(move || {
        let handler = shared.handler.clone();
        handle_payload(&bytes, &shared.limits, &mut |method, params| match method {
            "subscribe" | "unsubscribe" => {
                Err(RpcError::new(protocol::INVALID_REQUEST, "subscriptions need a WebSocket connection (GET /ws)"))
            }
            _ => protocol::dispatch_to(handler.as_ref(), method, params),
        })
    })
    .await;
    match reply {
        Ok(Reply::Json(s)) => json_response(StatusCode::OK, s),
        Ok(Reply::None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let err = RpcError::internal(format!("handler failed: {e}"));
            json_response(StatusCode::INTERNAL_SERVER_ERROR, protocol::error_object(Value::Null, &err).to_string())
        }
    }
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let handler = shared.handler.clone();
    match tokio::task::spawn_blocking(move || handler.metrics()).await {
        Ok(Some(text)) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn ws_upgrade(State(shared): State<Shared>, ws: WebSocketUpgrade) -> Response {
    let open = shared.ws_connections.fetch_add(1, Ordering::SeqCst);
    if open >= shared.limits.max_ws_connections {
        shared.ws_connections.fetch_sub(1, Ordering::SeqCst);
        let err =
            RpcError::new(LIMIT_EXCEEDED, format!("the server already has {open} WebSocket connections, the limit"));
        return json_response(StatusCode::SERVICE_UNAVAILABLE, protocol::error_object(Value::Null, &err).to_string());
    }
    let max = shared.limits.max_request_bytes;
    ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| async move {
        run_ws(socket, shared.clone()).await;
        shared.ws_connections.fetch_sub(1, Ordering::SeqCst);
    })
}

/// Per-connection subscription table: id -> forwarding task.
type Subscriptions = Arc<Mutex<BTreeMap<u64, JoinHandle<()>>>>;

async fn run_ws(socket: WebSocket, shared: Shared) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<String>(shared.limits.ws_send_queue_len);
    let writer = tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let subs: Subscriptions = Arc::new(Mutex::new(BTreeMap::new()));
    let next_id = Arc::new(AtomicUsize::new(1));
    while let Some(msg) = stream.next().await {
        let bytes = match msg {
            Ok(Message::Text(t)) => t.as_bytes().to_vec(),
            Ok(Message::Binary(b)) => b.to_vec(),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
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
        let text = match reply {
            Ok(Reply::Json(s)) => s,
            Ok(Reply::None) => continue,
            Err(e) => {
                protocol::error_object(Value::Null, &RpcError::internal(format!("handler failed: {e}"))).to_string()
            }
        };
        if out_tx.try_send(text).is_err() {
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
    drop(out_tx);
    writer.abort();
}

fn subscribe(
    runtime: &tokio::runtime::Handle,
    handler: &dyn Handler,
    limits: &RpcLimits,
    subs: &Subscriptions,
    next_id: &AtomicUsize,
    out: &mpsc::Sender<String>,
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
            if out.try_send(note.to_string()).is_err() {
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
