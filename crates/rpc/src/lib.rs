//! aergo-rpc: the JSON-RPC 2.0 transport of the node, over HTTP and WebSocket.
//!
//! Bird's-eye view: this crate owns framing, limits and transports, not the
//! methods. The node implements [`Handler`] (method name + JSON params ->
//! JSON result) and topic subscriptions; [`serve`] exposes it on one port:
//!
//! * `POST /` takes a JSON-RPC request or batch and answers it;
//! * `GET /metrics` serves the handler's Prometheus metrics;
//! * `GET /ws` upgrades to a WebSocket on which every text message is a
//!   request or batch, plus two connection-level methods, `subscribe`
//!   (`params: [topic]`, returns a subscription id) and `unsubscribe`
//!   (`params: [id]`); notifications arrive as
//!   `{"jsonrpc":"2.0","method":"subscription","params":{"subscription":id,"result":...}}`.
//!
//! Every size is bounded by [`RpcLimits`]: request bytes, batch length,
//! response bytes, subscriptions per connection and concurrent connections.
//! A request over a limit gets a JSON-RPC error naming the limit; nothing a
//! client sends can panic the server.
//!
//! Handler calls are synchronous (they read the store) and run on tokio's
//! blocking pool so a slow query never stalls the event loop.
//!
//! Deliberately absent: method semantics, authentication (the node binds to
//! loopback by default), HTTP/2.

mod protocol;
mod server;

pub use protocol::{
    INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND, NOT_FOUND, PARSE_ERROR, REJECTED,
};
pub use server::{serve, RpcServerHandle};

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
}
