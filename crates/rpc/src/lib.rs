//! aergo-rpc: the JSON-RPC 2.0 transport of the node, over HTTP and WebSocket.
//!
//! Bird's-eye view: this crate owns framing, limits and transports, not the
//! methods. The node implements [`Handler`] (method name + JSON params ->
//! JSON result) and topic subscriptions; [`serve`] exposes it on one port:
//!
//! * `POST /` takes a JSON-RPC request or batch and answers it;
//! * `GET /metrics` serves the handler's Prometheus metrics;
//! * `GET /health` answers 200 while the handler says it is healthy, else
//!   503 with the reason;
//! * `GET /` and any other `GET` path the handler knows serve its static
//!   pages ([`Handler::page`]: the node's web console), with the page's
//!   Content-Security-Policy and headers that forbid sniffing, framing and
//!   referrers; other paths answer 404;
//! * `GET /ws` upgrades to a WebSocket (for browser pages, only from the
//!   origins CORS allows or from pages this server served) on which every text message is a
//!   request or batch, plus two connection-level methods, `subscribe`
//!   (`params: [topic]`, returns a subscription id) and `unsubscribe`
//!   (`params: [id]`); notifications arrive as
//!   `{"jsonrpc":"2.0","method":"subscription","params":{"subscription":id,"result":...}}`.
//!
//! Every size is bounded by [`RpcLimits`]: request bytes, batch length,
//! response bytes, subscriptions per connection, open connections and
//! requests in flight (in total and per client IP, so one client's flood
//! leaves room for others: see `admission.rs`), and time (a request head
//! must arrive within `header_timeout_ms`, which also closes idle
//! keep-alive connections; a body within `body_timeout_ms`).
//! A request over a limit gets a JSON-RPC error naming the limit; nothing a
//! client sends can panic the server.
//!
//! Handler calls are synchronous (they read the store) and run on tokio's
//! blocking pool so a slow query never stalls the event loop; the calls of
//! a batch run one after another, so a batch is one request in flight.
//!
//! The server runs its own accept loop over hyper (not `axum::serve`) to
//! count connections per client and to set hyper's header timeout.
//!
//! Browsers: CORS for pages on this machine and the configured origins
//! ([`cors`]), so a local wallet or explorer page can call the node; and a
//! `Host` check on every request ([`cors::host_allowed`]) against DNS
//! rebinding.
//!
//! Deliberately absent: method semantics, authentication (the node binds to
//! loopback by default), HTTP/2.

mod admission;
pub mod cors;
mod protocol;
mod server;

pub use protocol::{
    respond, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND, NOT_FOUND, PARSE_ERROR,
    REJECTED,
};
pub use server::{serve, serve_with_routes, ClientAddr, RpcServerHandle};

use serde_json::Value;

/// A JSON-RPC error as sent to the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("rpc error {code}: {message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into(), data: None }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn method_not_found(method: &str) -> Self {
        RpcError::new(METHOD_NOT_FOUND, format!("no method named {method:?}"))
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        RpcError::new(NOT_FOUND, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        RpcError::new(REJECTED, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        RpcError::new(INTERNAL_ERROR, message)
    }
}

/// Bounds on what one client may ask of the server.
#[derive(Debug, Clone)]
pub struct RpcLimits {
    /// Largest request body (HTTP) or message (WebSocket).
    pub max_request_bytes: usize,
    /// Most calls in one batch.
    pub max_batch_len: usize,
    /// Largest serialized response (a single response or a whole batch).
    pub max_response_bytes: usize,
    /// Most live subscriptions on one WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// Most WebSocket connections open at once.
    pub max_ws_connections: usize,
    /// Notifications buffered per connection before the slowest client is
    /// disconnected rather than letting memory grow.
    pub ws_send_queue_len: usize,
    /// Most TCP connections open at once (HTTP and WebSocket); past it a
    /// new connection gets `503` and is closed.
    pub max_connections: usize,
    /// Most connections open at once from one IP address.
    pub max_connections_per_client: usize,
    /// A request head (start line and headers) must arrive within this
    /// time, and an idle keep-alive connection is closed after it.
    pub header_timeout_ms: u64,
    /// A request body must arrive within this time.
    pub body_timeout_ms: u64,
    /// Most requests executed at once (HTTP bodies and WebSocket messages,
    /// a batch counting as one); past it a request gets HTTP 429 /
    /// JSON-RPC -32005 at once.
    pub max_requests_in_flight: usize,
    /// Most requests executed at once for one IP address.
    pub max_requests_per_client: usize,
    /// Of the requests in flight, how many execute at once; the others
    /// wait without using the CPU (their connections are not read
    /// meanwhile), and a freed turn goes round-robin to the next client
    /// with a waiting request, so a client with many requests in flight
    /// gets about the share of a client with one, while a lone client gets
    /// every turn.
    pub max_running_requests: usize,
    /// Browser origins allowed besides pages on this machine (see
    /// [`cors`]); `"*"` allows any.
    pub cors_origins: Vec<String>,
    /// Host names requests may name besides `localhost` and IP addresses
    /// ([`cors::host_allowed`]: the guard against DNS rebinding); `"*"`
    /// allows any. Other hosts get 403.
    pub allowed_hosts: Vec<String>,
}

impl Default for RpcLimits {
    fn default() -> Self {
        RpcLimits {
            max_request_bytes: 1 << 20,
            max_batch_len: 100,
            max_response_bytes: 16 << 20,
            max_subscriptions_per_connection: 16,
            max_ws_connections: 256,
            ws_send_queue_len: 256,
            max_connections: 2048,
            max_connections_per_client: 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_requests_in_flight: 512,
            max_requests_per_client: 256,
            max_running_requests: 4,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// The node's side of the API.
pub trait Handler: Send + Sync + 'static {
    /// Runs one method. Unknown methods return [`RpcError::method_not_found`].
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError>;

    /// Opens a subscription to `topic` (e.g. `"blocks"`); each message on the
    /// returned channel is sent to the subscriber as one notification.
    fn subscribe(&self, topic: &str, params: &Value) -> Result<tokio::sync::broadcast::Receiver<Value>, RpcError>;

    /// Prometheus text exposition served at `GET /metrics`; `None` (the
    /// default) answers 404.
    fn metrics(&self) -> Option<String> {
        None
    }

    /// `GET /health`: `Ok` answers 200 with the value (for load balancers
    /// and orchestrators), `Err` answers 503 with the reason. The default
    /// is healthy. Called on the event loop: it must not block.
    fn health(&self) -> Result<Value, String> {
        Ok(serde_json::json!({ "status": "ok" }))
    }

    /// The static page at `path` (`GET`), or `None` (the default) for 404.
    /// Called on the event loop: it must not block.
    fn page(&self, _path: &str) -> Option<Page> {
        None
    }
}

/// A static page served at `GET <path>`: bytes compiled into the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The `Content-Security-Policy` header sent with it.
    pub content_security_policy: &'static str,
}
