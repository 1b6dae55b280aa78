//! aergo-net: the peer-to-peer network of the node, on libp2p.
//!
//! # Bird's-eye view
//!
//! This crate owns transport, identity, gossip, block sync by height range,
//! and peer policing. It moves opaque bytes: it never decodes a transaction
//! or a block (the node does, and reports bad senders back). One tokio task
//! drives a libp2p `Swarm`; the node holds a cheap, cloneable
//! [`NetworkHandle`] and reads [`NetEvent`]s from a bounded channel:
//!
//! ```text
//!  node ──commands (bounded mpsc)──▶ event loop ──▶ swarm (tcp+noise+yamux)
//!  node ◀──NetEvent (bounded mpsc)── event loop ◀── gossipsub, sync, identify, ping
//!                                    event loop ──spawn_blocking──▶ SyncProvider (node's store)
//! ```
//!
//! Main types: [`NetConfig`] (addresses, node key, chain id hash, limits,
//! timing, scoring), [`Network::start`], [`NetworkHandle`], [`NetEvent`],
//! [`SyncProvider`] (the node answers sync requests through it),
//! [`PeerStatus`], [`Misbehaviour`].
//!
//! # Identity
//!
//! The node key is a secp256k1 key (as in the Go node); the libp2p identity
//! is derived from its libp2p marshalled form, so the same key always gives
//! the same [`PeerId`] (an identity multihash, text `16Uiu2...`), the one the
//! Go node would compute. See [`peer_id_from_key`].
//!
//! # Protocols
//!
//! * Transport: TCP, noise (XX) for encryption and authentication, yamux
//!   for stream multiplexing. Default port [`DEFAULT_P2P_PORT`] (7846).
//! * Gossip: gossipsub on three topics per chain,
//!   `/aergo/<chain id hash, base58>/txs`, `/aergo/<...>/blocks` and
//!   `/aergo/<...>/consensus` (BFT-DPoS votes).
//!   Messages are anonymous (no libp2p signature or sequence number: txs
//!   and blocks carry their own signatures) and their id is SHA-256 of
//!   topic and content, so the same bytes from any publisher are one
//!   message and are delivered once. Every received message is held until
//!   judged: with [`GossipValidation::ByNode`] (recommended for a real
//!   chain) the node's [`NetworkHandle::validate_gossip`] decides whether
//!   it is relayed; with [`GossipValidation::Relay`] (the default) the
//!   network relays whatever passes its size check. The node uses
//!   `ByNode`, so nothing it has not validated travels further.
//! * Sync and status: request-response on `/aergo/sync/1.0.0` with this
//!   crate's own length-checked codec (see [`wire`] for the byte format).
//!   Right after a connection opens both sides send a status request
//!   carrying their own [`PeerStatus`]; a peer whose chain id hash or genesis
//!   hash differs from ours is disconnected and banned, and only peers that
//!   passed this handshake get [`NetEvent::PeerConnected`], may request
//!   blocks, and have their gossip considered. Block requests name a height
//!   range (`from_height`, `max_count`, `max_bytes`) and are answered by the
//!   node's [`SyncProvider`] on tokio's blocking pool, so a slow store never
//!   stalls the event loop. The same protocol carries transactions a
//!   follower forwards to a producer ([`NetworkHandle::forward_tx`]) and
//!   pieces of AergoFS files ([`NetworkHandle::request_file_piece`], at
//!   most [`wire::MAX_FILE_PIECE_BYTES`] each); both are bounded by the
//!   provider calls in progress rather than the sync rate bucket.
//! * identify (`/aergo/id/1.0.0`) learns peers' listen addresses; ping
//!   measures round-trip times and keeps idle links checked.
//! * Discovery: bootstrap peers from the config are dialled at start and
//!   re-dialled with exponential backoff while disconnected; peers may also
//!   dial us. Gossip reaches the whole network through the gossipsub mesh.
//!
//! # Limits ([`NetLimits`], [`NetTiming`], [`ScoreConfig`])
//!
//! Gossip payload sizes per topic (a larger message is rejected, not
//! relayed, and its sender penalised); the gossipsub frame limit is the
//! larger payload plus a small envelope. Sync: blocks and bytes per
//! response (the requester clamps what it asks for, the responder clamps
//! what it serves, and the requester checks what comes back). Requests:
//! outstanding per peer, served concurrently per peer and in total,
//! inbound rate per peer (token bucket). Connections: established total,
//! pending inbound, two per peer. Channels: commands, events (when the
//! node's event queue is full, events are dropped and counted),
//! gossipsub's send queue per connection. Memory of penalties and bans.
//!
//! # Peer scoring
//!
//! Each [`Misbehaviour`] costs penalty points (the node reports invalid
//! txs and blocks; the network itself reports malformed or oversized
//! messages, invalid sync answers, request floods and stalled handshakes).
//! Points drain over time; a peer reaching the ban threshold is
//! disconnected and its connections are refused until the ban ends.
//!
//! # Hostile input
//!
//! Sync frames are length-checked before anything is read past the
//! header and decoded by a strict decoder ([`wire`]) that a property test
//! feeds random bytes (no coverage-guided fuzzer runs on it yet). A request
//! that does not decode is still delivered to the event loop (as an `Err`
//! value: libp2p would otherwise drop it silently), answered with a
//! `BadRequest` refusal, and its sender penalised; a response that does
//! not decode, or answers something other than what was asked (more
//! blocks, oversized blocks, the wrong kind), fails the caller's request
//! with [`NetError::InvalidResponse`] and penalises the responder.
//!
//! # Performance note
//!
//! libp2p's transport stack (noise framing, yamux) is generic and gets
//! compiled into this crate, at this crate's optimisation level. In an
//! unoptimised dev build block sync moves about 10 MiB/s; optimised, about
//! 230 MiB/s on loopback (see `examples/sync_bench.rs`). A dev build that
//! syncs real chains wants `opt-level = 2` for this crate.
//!
//! # Deliberately absent
//!
//! * Kademlia/DHT discovery and peer exchange: bootstrap lists are enough
//!   for the networks this node runs today, and kad adds build time.
//! * DNS multiaddrs, QUIC, relays, NAT traversal.
//! * Per-message signatures on gossip (content carries its own).
//! * Gossipsub's own peer scoring: penalties are this crate's single table.
//!   Frames gossipsub itself cannot decode (beyond its frame limit, broken
//!   protobuf) are dropped by gossipsub without reaching that table.
//! * Decoding or validating transactions and blocks: the node's job.
//! * Compatibility with the Go node's own p2p protocols (it does not use
//!   gossipsub); only the identity (PeerId) matches.

mod config;
mod error;
mod handle;
mod score;
mod service;
pub mod wire;

pub use config::{
    bootstrap_peer_id, default_listen_addr, keypair_from_key, peer_id_from_key, GossipValidation, Misbehaviour,
    NetConfig, NetLimits, NetTiming, ScoreConfig, DEFAULT_P2P_PORT, MAX_GOSSIP_BYTES,
};
pub use error::{NetError, Result, WireError};
pub use handle::{
    GossipBytes, GossipId, GossipKind, GossipVerdict, NetEvent, NetStats, NetworkHandle, PeerInfo, SyncProvider,
};
pub use libp2p::{Multiaddr, PeerId};
pub use service::Network;
pub use wire::{FilePiece, PeerStatus};
