//! aergo-store: the versioned, content-addressed storage engine.
//!
//! # What it owns
//!
//! The chain's state is a relational database whose every table (and index)
//! is a *prolly tree*: an ordered map of byte keys to byte values stored as
//! immutable nodes named by their SHA-256 hash, with node boundaries chosen
//! from the content so that the same entries always give the same tree and
//! the same root hash (history independence). On top of the trees this crate
//! provides snapshots (any root, read-only, at any time), named refs
//! (branches and tags), diff, three-way merge, inclusion and absence proofs,
//! durable atomic commits and garbage collection; and a relational layer: a
//! *catalogue* tree maps table names to table roots and schema blobs, its
//! root is the state root, and an in-memory overlay buffers a block's writes.
//! It knows nothing about SQL, blocks or consensus.
//!
//! # Main types
//!
//! * [`Store`]: a cheap-to-clone handle on a node store. Tree operations
//!   take a root [`Hash`](struct@Hash) and return values or new roots: [`Store::get`],
//!   [`Store::range`], [`Store::count`], [`Store::nth`], [`Store::rank`],
//!   [`Store::apply`] (sorted batch of [`Edit`]s), [`Store::diff`],
//!   [`Store::merge3`], [`Store::merge3_state`] (whole states, table by
//!   table), [`Store::prove`] and [`Store::prove_row`] (checked by the free
//!   functions [`verify_proof`] and [`verify_row_proof`]), refs
//!   ([`Store::set_ref`], [`Store::branch`], ...), [`Store::commit`] and
//!   [`Store::gc`].
//! * [`Snapshot`] and [`Overlay`]: the two implementations of [`TableStore`],
//!   the interface the SQL engine and the state transition program against.
//!   [`Overlay::flush`] turns a block's writes into a new state root.
//! * [`NodeBackend`]: where node bytes and refs live; [`RedbBackend`] (the
//!   default, crash-safe) and [`MemoryBackend`] (tests).
//! * [`codec`]: typed [`Value`]s, the order-preserving key encoding and the
//!   canonical row encoding, pinned by golden vectors.
//!
//! # How it works, in prose
//!
//! *Nodes* ([`node`]) are canonical byte strings: a version byte, the level
//! (0 for leaves), a kind byte, then sorted entries; an internal entry holds a
//! child's hash, its last key and its entry count, so `count` and `nth` follow
//! one path. Decoding validates everything and never panics; every node read
//! from a backend is checked against its hash, so a corrupt or missing node
//! is a [`StoreError`] naming the hash.
//!
//! *Chunking*: after each entry of a level, the node ends if a 32-bit hash of
//! (level, key) falls under a threshold that grows steeply with the node's
//! size (a Weibull hazard, target ~4 KiB), with hard bounds of 512 B and
//! 16 KiB and at least two children per internal node. Boundaries are a pure
//! function of each level's entry sequence, which makes the tree unique and
//! lets [`Store::apply`] re-chunk only around the edits: it rewrites the
//! touched nodes until the new cuts line up with old ones, level by level,
//! in O(edits x depth) node writes (see the `apply` module).
//!
//! *Diff* walks two trees with cursors that stand on whole subtrees and skip
//! equal hashes, so it costs the size of the change; *merge3* is two diffs
//! walked together, conflicts settled by a caller's resolver.
//!
//! *Persistence*: new nodes are *staged* in memory (readable at once);
//! [`Store::commit`] writes the staged nodes reachable from the committed
//! roots together with the ref updates in one backend transaction, so after
//! a crash either all of a commit is visible or none of it. A bounded
//! CLOCK cache keeps decoded nodes. [`Store::gc`] marks from refs, the
//! caller's retention window of roots and the staged nodes, and sweeps the
//! rest, excluding `apply`/`commit` while it runs.
//!
//! *The overlay's point path*: its write buffer keeps short keys inside the
//! map's nodes (`inline_key`), and the last few rows read are kept
//! (`recent`, forgotten on any write to the row or any rollback or table
//! change), so a read-then-update of a row descends the buffer once.
//!
//! # Determinism and bounds
//!
//! Nothing here reads a clock, randomness or the environment; results never
//! depend on hash-map order or thread timing. Keys are at most
//! [`node::MAX_KEY_BYTES`], values at most [`node::MAX_VALUE_BYTES`], trees
//! at most [`node::MAX_LEVEL`] levels deep, an overlay buffers at most
//! [`state::MAX_OVERLAY_BYTES`]; hitting a bound is an error.
//!
//! # Tests and benchmark
//!
//! `cargo test -p aergo-store` runs everything, including the property tests
//! (history independence, diff/apply, merge3 against a naive model, proofs
//! against tampering, the overlay against a model), golden vectors (node
//! bytes, tree and state roots) and the crash test (`tests/crash.rs`: a child
//! process SIGKILLed 60 times mid-commit). The benchmark is
//! `cargo run --release -p aergo-store --example store_bench` (1M and 10M
//! entries, about 3 minutes; `-- --quick` for 100k and 1M); it ends with
//! `BENCH` lines of ratios against plain redb and a `BTreeMap`.
//!
//! # What it deliberately does not do
//!
//! It does not interpret rows or schemas (a schema is an opaque blob: two
//! schemas are the same or they conflict), maintain or rebuild secondary
//! indexes (they are tables the layer above keeps; [`Store::merge3_state`]
//! leaves them to it), re-check constraints after a merge, replicate nodes
//! between machines, or compact the redb file after GC (redb reuses freed
//! pages).

mod apply;
pub mod backend;
mod cache;
pub mod codec;
mod cursor;
pub mod diff;
mod error;
mod inline_key;
pub mod node;
pub mod proof;
mod recent;
pub mod state;
mod state_diff;
mod state_merge;
mod store;
pub mod tables;

pub use backend::{MemoryBackend, NodeBackend, RedbBackend, WriteBatch};
pub use codec::Value;
pub use diff::{Conflict, Diff, DiffEntry, MergeOutcome, Resolution};
pub use error::{CodecError, StoreError};
pub use node::node_hash;
pub use proof::{verify_proof, verify_row_proof, Proof, RowProof};
pub use state::{build_state, AccessLog, Overlay, RangeAccess, RowWrite, Snapshot};
pub use state_diff::{StateDiff, TableDiff};
pub use state_merge::{StateMergeOutcome, TableConflict};
pub use store::{Edit, GcStats, RefUpdate, Store, StoreConfig, TreeStats, MAX_REF_NAME_BYTES};
pub use tables::{Direction, Entry, RangeIter, Savepoint, TableMeta, TableStore};

/// The content hash (SHA-256) naming a tree node or a state root: the same
/// type as a block's or transaction's hash in `aergo-types`.
pub use aergo_hash::Hash;
