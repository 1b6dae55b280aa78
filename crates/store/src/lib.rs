//! aergo-store: the versioned, content-addressed storage engine.
//!
//! Bird's-eye view: the chain's state is a relational database whose every
//! table and index is a prolly tree (a Merkle B-tree whose node boundaries
//! are chosen by content). This crate knows nothing about SQL, blocks or
//! consensus; it offers typed key and row encodings ([`codec`]), and (being
//! built) the trees, snapshots, refs, diff, merge, proofs and GC.

mod apply;
pub mod backend;
mod cache;
pub mod codec;
mod cursor;
pub mod diff;
mod error;
pub mod node;
pub mod proof;
pub mod state;
mod store;
pub mod tables;

pub use backend::{MemoryBackend, NodeBackend, RedbBackend, WriteBatch};
pub use codec::Value;
pub use diff::{Conflict, Diff, DiffEntry, MergeOutcome, Resolution};
pub use error::{CodecError, StoreError};
pub use node::node_hash;
pub use proof::{verify_proof, verify_row_proof, Proof, RowProof};
pub use state::{build_state, AccessLog, Overlay, RangeAccess, Snapshot};
pub use store::{Edit, GcStats, RefUpdate, Store, StoreConfig, TreeStats, MAX_REF_NAME_BYTES};
pub use tables::{Direction, Entry, RangeIter, Savepoint, TableMeta, TableStore};

use std::fmt;

/// A 32-byte content hash (SHA-256) naming a tree node or a state root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}
