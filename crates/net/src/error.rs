//! The one error enum of this crate.

use libp2p::PeerId;
use thiserror::Error;

/// Every way a network operation can fail. Peer ids are shown in their
/// base58 form.
#[derive(Debug, Error)]
pub enum NetError {
    /// The configuration is unusable (bad address, limit out of range...).
    #[error("network config: {field}: {reason}")]
    Config { field: &'static str, reason: String },
    /// The node key could not be turned into a libp2p identity.
    #[error("node key as libp2p identity: {reason}")]
    Identity { reason: String },
    /// Building the transport or listening failed.
    #[error("transport: {reason}")]
    Transport { reason: String },
    /// A payload is larger than the configured bound.
    #[error("{what} is {size_bytes} bytes, at most {max_bytes} allowed")]
    TooLarge { what: &'static str, size_bytes: usize, max_bytes: usize },
    /// Gossip could not be published because no peer is subscribed to the
    /// topic yet (the caller may retry or ignore this).
    #[error("no peer is subscribed to gossip topic {topic}")]
    NoPeers { topic: String },
    /// The same content was already published recently (gossip dedups by
    /// content hash).
    #[error("gossip message already published on {topic} (content dedup)")]
    Duplicate { topic: String },
    /// Gossipsub refused the message for another reason.
    #[error("gossip publish on {topic} failed: {reason}")]
    Publish { topic: String, reason: String },
    /// The peer is not connected (or has not completed the status handshake).
    #[error("peer {peer} is not connected")]
    NotConnected { peer: PeerId },
    /// Too many requests to this peer are already outstanding.
    #[error("{pending} requests to peer {peer} are outstanding, at most {max} allowed")]
    TooManyPending { peer: PeerId, pending: usize, max: usize },
    /// A request got no answer within the timeout.
    #[error("request to peer {peer} timed out after {timeout_ms} ms")]
    Timeout { peer: PeerId, timeout_ms: u64 },
    /// A request failed on the wire (connection closed, unsupported
    /// protocol, I/O error).
    #[error("request to peer {peer} failed: {reason}")]
    RequestFailed { peer: PeerId, reason: String },
    /// The peer answered with something that is not a valid answer to the
    /// request (garbage, oversized, wrong kind, more than asked for). The
    /// peer has been penalised.
    #[error("invalid response from peer {peer}: {reason}")]
    InvalidResponse { peer: PeerId, reason: String },
    /// The peer answered the request with an error code.
    #[error("peer {peer} refused the request: {refusal}")]
    Refused { peer: PeerId, refusal: crate::wire::Refusal },
    /// The node's [`SyncProvider`](crate::SyncProvider) could not serve a
    /// request (store error).
    #[error("block provider: {reason}")]
    Provider { reason: String },
    /// The network service has stopped (shut down or crashed).
    #[error("the network service is not running")]
    Stopped,
}

/// A wire-format decoding failure (sync and status protocol). Kept apart
/// from [`NetError`] because it travels inside `std::io::Error` through
/// libp2p's codec interface.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("frame of {size_bytes} bytes exceeds the limit of {max_bytes} bytes")]
    FrameTooLarge { size_bytes: u64, max_bytes: usize },
    #[error("truncated {what}: needed {needed} more bytes, {available} available")]
    Truncated { what: &'static str, needed: usize, available: usize },
    #[error("unknown {what} kind 0x{kind:02x}")]
    UnknownKind { what: &'static str, kind: u8 },
    #[error("{count} blocks in a response, at most {max} allowed")]
    TooManyBlocks { count: u64, max: u32 },
    #[error("{what}: {found} trailing bytes after the message")]
    Trailing { what: &'static str, found: usize },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;
