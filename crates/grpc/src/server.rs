//! The server: tonic over an accept loop of our own that caps connections,
//! with gRPC-web and CORS in front for browsers. The accept loop also
//! looks at the first request of each connection: a WebSocket upgrade is
//! gRPC-web over WebSocket (`websocket.rs`, herajs in browsers) and is
//! served by the bridge; everything else goes to tonic.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{HeaderName, CONTENT_TYPE};
use http::Method;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::pb::aergo_rpc_service_server::{AergoRpcService, AergoRpcServiceServer};
use crate::websocket::{self, WebService};
use crate::{GrpcError, GrpcLimits};
use tower::util::BoxCloneService;

/// A running server; [`GrpcServerHandle::shutdown`] stops it.
pub struct GrpcServerHandle {
    pub local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// The accept loop, with the connections it is still sorting and the
    /// WebSocket calls it serves.
    accept: tokio::task::JoinHandle<()>,
}

impl GrpcServerHandle {
    /// Stops accepting, lets calls in progress finish for at most
    /// [`SHUTDOWN_GRACE`], and waits. (Streams end when the node's own stop
    /// signal reaches them; a client that keeps a connection open cannot
    /// hold the node.)
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(());
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await.is_err() {
            self.task.abort();
            let _ = (&mut self.task).await;
        }
        // The server is gone, so the loop sees its channel closed, stops
        // its own tasks and ends: nothing of the service outlives this.
        let _ = self.accept.await;
    }
}

/// How long a shutdown waits for calls in progress.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a connection may take to send its first request head (to
/// tell a WebSocket upgrade from the rest).
const SNIFF_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a browser may cache a CORS preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// Binds `listen` and serves `service` on it until the handle stops it.
pub async fn serve<S: AergoRpcService>(
    listen: SocketAddr,
    service: S,
    limits: GrpcLimits,
) -> Result<GrpcServerHandle, GrpcError> {
    limits.validate().map_err(|reason| GrpcError::Config { reason })?;
    let listener = TcpListener::bind(listen).await.map_err(|source| GrpcError::Bind { addr: listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| GrpcError::Bind { addr: listen, source })?;
    let service = AergoRpcServiceServer::new(service)
        .max_decoding_message_size(limits.max_request_bytes)
        .max_encoding_message_size(limits.max_response_bytes);
    // One limit for both transports: its clones share one semaphore.
    let running = GlobalConcurrencyLimitLayer::new(limits.max_running_calls);
    let web: WebService = BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(running.clone())
            .layer(tonic_web::GrpcWebLayer::new())
            .service(tonic::service::Routes::new(service.clone()).prepare()),
    );
    let bridge = Bridge {
        web,
        max_request_bytes: limits.max_request_bytes,
        timeout: Duration::from_millis(limits.call_timeout_ms),
        origins: Arc::new(limits.cors_origins.clone()),
    };
    let (incoming, accept) = capped_incoming(listener, limits.max_connections, bridge);
    let origins = Arc::new(limits.clone());
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| origins.origin_allowed(origin.as_bytes())))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            CONTENT_TYPE,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
        ])
        .expose_headers([HeaderName::from_static("grpc-status"), HeaderName::from_static("grpc-message")])
        .max_age(CORS_MAX_AGE);

    let (stop, stopped) = oneshot::channel::<()>();
    let router = tonic::transport::Server::builder()
        // gRPC-web from browsers arrives over HTTP/1.1.
        .accept_http1(true)
        .max_concurrent_streams(limits.max_streams_per_connection)
        // Bounds the time to the response head: a server stream's items
        // flow after it, so streams are not cut by it.
        .timeout(Duration::from_millis(limits.call_timeout_ms))
        .layer(cors)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(running)
        .add_service(service);
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, shutdown).await {
            tracing::error!(error = %e, "gRPC server stopped");
        }
    });
    Ok(GrpcServerHandle { local_addr, stop, task, accept })
}

/// Accepts connections while fewer than `max_connections` are open; one
/// past the cap is closed at once (the client sees `UNAVAILABLE`), so a
/// flood of connections costs the node no memory.
fn capped_incoming(
    listener: TcpListener,
    max_connections: usize,
    bridge: Bridge,
) -> (ReceiverStream<io::Result<CappedConn>>, tokio::task::JoinHandle<()>) {
    let permits = Arc::new(Semaphore::new(max_connections));
    // One accepted connection waits at most: the server takes each at once.
    let (tx, rx) = mpsc::channel(1);
    let accept = tokio::spawn(async move {
        // Connections being sorted and WebSocket calls: at most one per
        // connection permit.
        let mut conns = tokio::task::JoinSet::new();
        loop {
            while conns.try_join_next().is_some() {}
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = tx.closed() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait, then go on.
                    tracing::warn!(error = %e, "gRPC accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            // Sorting a connection waits for its first bytes: off the loop.
            let (tx, bridge) = (tx.clone(), bridge.clone());
            conns.spawn(async move {
                if is_websocket(&stream, SNIFF_TIMEOUT).await {
                    let _permit = permit;
                    let call = websocket::Call {
                        max_request_bytes: bridge.max_request_bytes,
                        timeout: bridge.timeout,
                        origins: bridge.origins,
                    };
                    websocket::serve(stream, bridge.web, call).await;
                } else {
                    let _ = tx.send(Ok(CappedConn { stream, _permit: permit })).await;
                }
            });
        }
        conns.shutdown().await;
    });
    (ReceiverStream::new(rx), accept)
}

/// What the WebSocket bridge needs.
#[derive(Clone)]
struct Bridge {
    web: WebService,
    max_request_bytes: usize,
    timeout: Duration,
    origins: Arc<Vec<String>>,
}

/// Longest request head looked at to tell a WebSocket upgrade.
const MAX_PEEK_BYTES: usize = 8 * 1024;
/// Pause between looks while a request head is still arriving.
const PEEK_RETRY_MS: u64 = 5;

/// Whether the connection's first request is a WebSocket upgrade, read
/// without consuming it (tonic reads the same bytes afterwards). HTTP/2
/// connections (their preface) and anything else are not.
async fn is_websocket(stream: &TcpStream, timeout: Duration) -> bool {
    let mut buf = vec![0u8; MAX_PEEK_BYTES];
    let look = async {
        let mut seen = 0;
        loop {
            let n = match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let head = &buf[..n];
            if head.starts_with(b"PRI * HTTP/2") || !head.starts_with(b"GET ") && n >= 4 {
                return false;
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") || n == buf.len() {
                return websocket::is_websocket_upgrade(head);
            }
            if n == seen {
                tokio::time::sleep(Duration::from_millis(PEEK_RETRY_MS)).await;
            }
            seen = n;
        }
    };
    tokio::time::timeout(timeout, look).await.unwrap_or(false)
}

/// A connection holding one of the connection permits until it closes.
struct CappedConn {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl Connected for CappedConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for CappedConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
