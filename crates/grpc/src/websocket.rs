//! gRPC-web over WebSocket: the "grpc-websockets" protocol of
//! improbable-eng's grpc-web client, which herajs's browser provider
//! (`GrpcWebProvider`) speaks and the Go node serves through its grpc-web
//! wrapper. A browser wallet or explorer built on herajs reaches the node
//! this way.
//!
//! The protocol, per call (one WebSocket connection to the method's path,
//! subprotocol `grpc-websockets`, binary messages):
//! - the client sends its request headers as text lines (`key: value\r\n`),
//!   then each request message as one byte `0` followed by the gRPC-web
//!   frame (flag byte, 4-byte length, protobuf), then one byte `1` when it
//!   has sent everything;
//! - the server answers with its response headers in a gRPC-web header
//!   frame (byte `0x80`, 4-byte big-endian length, the header lines), then
//!   the gRPC-web response body as it comes (message frames, and the
//!   trailer frame with `grpc-status`), and closes.
//!
//! The bridge runs the call through the same service as plain gRPC-web
//! (`GrpcWebLayer` over the generated server), so a method behaves the
//! same on every transport. A server stream (new blocks, events) is
//! forwarded frame by frame until the client closes, which cancels it.
//! Bounds: WebSocket messages and frames of at most `max_request_bytes`
//! (plus the frame byte), header lines of at most [`MAX_HEADER_BYTES`],
//! the handshake, the request and the response head each within
//! `call_timeout_ms`, the server's cap on calls running at once (shared
//! with the other transports), and the connection cap of the accept loop,
//! which a WebSocket holds like any connection.
//!
//! Browsers apply no CORS to WebSockets, so the bridge checks `Origin`
//! itself: a page may call only from this machine or a configured origin
//! (as for gRPC-web over HTTP). A client that sends no `Origin` is not a
//! browser page and is served.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tower::util::BoxCloneService;
use tower::ServiceExt;

/// The gRPC-web service the bridge calls in process.
pub(crate) type WebService =
    BoxCloneService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, Infallible>;

pub(crate) const SUBPROTOCOL: &str = "grpc-websockets";

/// Longest header message a client may send first.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The bounds and origins of one call.
pub(crate) struct Call {
    pub max_request_bytes: usize,
    pub timeout: Duration,
    pub origins: std::sync::Arc<Vec<String>>,
}

/// Whether an HTTP/1.1 request head asks for a WebSocket.
pub(crate) fn is_websocket_upgrade(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("upgrade:") && l["upgrade:".len()..].trim() == "websocket"
    })
}

/// Serves one WebSocket call on `stream`; errors end the connection.
pub(crate) async fn serve(stream: TcpStream, svc: WebService, call: Call) {
    if let Err(e) = bridge(stream, svc, call).await {
        tracing::debug!(error = %e, "gRPC-web WebSocket call ended");
    }
}

// The handshake callback's error type is tungstenite's `ErrorResponse`
// (an HTTP response), fixed by its `Callback` trait.
#[allow(clippy::result_large_err)]
async fn bridge(stream: TcpStream, svc: WebService, call: Call) -> Result<(), String> {
    let Call { max_request_bytes, timeout, origins } = call;
    let mut path = String::new();
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(max_request_bytes.max(MAX_HEADER_BYTES) + 1))
        .max_frame_size(Some(max_request_bytes.max(MAX_HEADER_BYTES) + 1));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |req: &Request, mut resp: Response| {
            if let Some(origin) = req.headers().get(http::header::ORIGIN) {
                if !aergo_rpc::cors::origin_allowed(&origins, origin.as_bytes()) {
                    let mut refusal = ErrorResponse::new(Some("this origin may not call the node".to_string()));
                    *refusal.status_mut() = http::StatusCode::FORBIDDEN;
                    return Err(refusal);
                }
            }
            let offered = req
                .headers()
                .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
                .iter()
                .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|p| p.trim() == SUBPROTOCOL)));
            if !offered {
                let mut refusal = ErrorResponse::new(Some(format!("expected subprotocol {SUBPROTOCOL}")));
                *refusal.status_mut() = http::StatusCode::BAD_REQUEST;
                return Err(refusal);
            }
            path = req.uri().path().to_string();
            resp.headers_mut()
                .insert(http::header::SEC_WEBSOCKET_PROTOCOL, http::HeaderValue::from_static(SUBPROTOCOL));
            Ok(resp)
        },
        Some(config),
    );
    let ws = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| "the handshake did not finish in time".to_string())?
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sink, mut source) = ws.split();

    // The request: header lines, then `0`-prefixed frames up to a `1`.
    let mut headers = None;
    let mut body = Vec::new();
    let read = async {
        while let Some(msg) = source.next().await {
            let data = match msg.map_err(|e| e.to_string())? {
                Message::Binary(b) => b,
                Message::Text(t) => Bytes::from(t.as_str().as_bytes().to_vec()),
                Message::Close(_) => return Err("the client closed before its request was complete".to_string()),
                _ => continue,
            };
            if headers.is_none() {
                if data.len() > MAX_HEADER_BYTES {
                    return Err(format!("header lines over {MAX_HEADER_BYTES} bytes"));
                }
                headers = Some(String::from_utf8_lossy(&data).into_owned());
                continue;
            }
            match data.first() {
                Some(1) => return Ok(()),
                Some(0) => {
                    if body.len() + data.len() - 1 > max_request_bytes {
                        return Err(format!("request over {max_request_bytes} bytes"));
                    }
                    body.extend_from_slice(&data[1..]);
                }
                other => return Err(format!("expected a frame starting with 0 or 1, got {other:?}")),
            }
        }
        Err("the connection ended before the request was complete".to_string())
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| "the request did not arrive in time".to_string())??;

    let mut req = http::Request::post(path.as_str())
        .header(http::header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1");
    for line in headers.unwrap_or_default().lines() {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            // The request's own framing and metadata a call may carry; the
            // transport's headers are set here.
            if k == "grpc-timeout" || (k.starts_with("x-") && k != "x-grpc-web") {
                req = req.header(k, v.trim());
            }
        }
    }
    let req = req
        .body(tonic::body::Body::new(http_body_util::Full::new(Bytes::from(body))))
        .map_err(|e| format!("request: {e}"))?;
    let resp = tokio::time::timeout(timeout, svc.oneshot(req))
        .await
        .map_err(|_| "no response head in time".to_string())?
        .unwrap_or_else(|never| match never {});
    let (parts, mut resp_body) = resp.into_parts();

    // Response headers in a gRPC-web header frame.
    let mut lines = String::new();
    for (k, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            lines.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    let mut frame = Vec::with_capacity(5 + lines.len());
    frame.push(0x80);
    frame.extend_from_slice(&(lines.len() as u32).to_be_bytes());
    frame.extend_from_slice(lines.as_bytes());
    sink.send(Message::Binary(frame.into())).await.map_err(|e| e.to_string())?;

    // The body as it comes; the client going away cancels the call.
    loop {
        tokio::select! {
            frame = resp_body.frame() => match frame {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if !data.is_empty() {
                            sink.send(Message::Binary(data)).await.map_err(|e| e.to_string())?;
                        }
                    }
                }
                Some(Err(e)) => return Err(format!("response body: {e}")),
                None => break,
            },
            msg = source.next() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                _ => {}
            },
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_heads() {
        let ws = b"GET /types.AergoRPCService/Blockchain HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert!(is_websocket_upgrade(ws));
        let post =
            b"POST /types.AergoRPCService/Blockchain HTTP/1.1\r\nContent-Type: application/grpc-web+proto\r\n\r\n";
        assert!(!is_websocket_upgrade(post));
        assert!(!is_websocket_upgrade(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assert!(!is_websocket_upgrade(b"GET / HTTP/1.1\r\nX-Upgrade: websocket-ish\r\n\r\n"));
    }
}
