//! aergo-grpc: the Go node's gRPC face, `types.AergoRPCService`, so that the
//! existing Aergo SDKs (aergo-herapy, @herajs/client), wallets and
//! explorers talk to this node unchanged.
//!
//! Bird's-eye view: like `aergo-rpc`, this crate is a transport that knows
//! no method. It owns the wire definitions (`proto/aergo.proto`, written
//! from the Go node's public facts; code generated at build time by protox
//! and tonic-build, no system `protoc`), and [`serve`], which puts any
//! implementation of [`pb::aergo_rpc_service_server::AergoRpcService`] on
//! a port with every bound named in [`GrpcLimits`]:
//!
//! * plain gRPC over HTTP/2 (what herapy and herajs in Node.js speak);
//! * gRPC-web over HTTP/1.1 (`tonic-web`), what browsers speak, with CORS
//!   for the configured origins (loopback pages only, by default);
//! * gRPC-web over WebSocket (`websocket.rs`), what herajs's browser
//!   provider speaks, as the Go node's grpc-web wrapper serves it;
//! * message sizes in and out, HTTP/2 streams per connection, open
//!   connections (in total; the connection past the cap is closed at once),
//!   calls running at once, and a deadline per unary call.
//!
//! The node implements the methods (`aergo-node`'s `grpc` module) over the
//! same functions as its JSON-RPC methods. Blocks, transactions, receipts
//! and events are `aergo-types`' own prost structs, mapped in by `build.rs`,
//! and `tests/wire.rs` checks them against the definitions.
//!
//! Deliberately absent: method semantics, TLS, authentication (the node
//! binds to loopback by default, as its JSON-RPC does), compression.

mod limits;
mod server;
mod websocket;

pub use limits::GrpcLimits;
pub use server::{serve, GrpcServerHandle};

/// The generated messages, server and client of `types.AergoRPCService`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("types");
}

/// Every message of the definitions generated as its own struct (blocks
/// and transactions included), for the wire check of `aergo-types`' structs.
#[doc(hidden)]
#[allow(clippy::all, missing_docs)]
pub mod wire {
    include!(concat!(env!("OUT_DIR"), "/wire/types.rs"));
}

pub use tonic::{async_trait, Code, Request, Response, Status};

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("cannot bind the gRPC server to {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("invalid gRPC configuration: {reason}")]
    Config { reason: String },
}

/// The stream type the node's server-streaming methods return.
pub use tokio_stream::wrappers::ReceiverStream;
