//! Where node bytes and refs live: a small trait with an in-memory and a
//! `redb` implementation.
//!
//! A backend knows nothing of trees: it maps hashes to byte strings and ref
//! names to hashes, and writes a batch of both atomically. The store above
//! verifies every node it reads against its hash, so a backend may return
//! corrupt bytes (a bad disk) without the store trusting them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::node::Node;
use crate::{Hash, StoreError};

/// One atomic write: nodes to add and refs to set (`Some`) or delete (`None`).
#[derive(Default)]
pub struct WriteBatch {
    pub nodes: Vec<Arc<Node>>,
    pub refs: Vec<(String, Option<Hash>)>,
}

/// Persistent storage of nodes and refs.
pub trait NodeBackend: Send + Sync {
    /// The bytes stored under `hash`, if any (not verified).
    fn get(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether a node is stored under `hash`.
    fn contains(&self, hash: &Hash) -> Result<bool, StoreError>;
    /// Writes a batch atomically and durably: after a crash either all of it
    /// is visible or none.
    fn write(&self, batch: &WriteBatch) -> Result<(), StoreError>;
    /// The target of a ref.
    fn get_ref(&self, name: &str) -> Result<Option<Hash>, StoreError>;
    /// All refs, ordered by name.
    fn list_refs(&self) -> Result<Vec<(String, Hash)>, StoreError>;
    /// Every stored node hash, in hash order (for garbage collection).
    fn node_hashes(&self) -> Result<Vec<Hash>, StoreError>;
    /// Deletes nodes (garbage collection); absent hashes are ignored.
    fn delete_nodes(&self, hashes: &[Hash]) -> Result<(), StoreError>;
    /// Number of stored nodes and their total size in bytes.
    fn usage(&self) -> Result<(u64, u64), StoreError>;
}

fn poisoned() -> StoreError {
    StoreError::Backend("a lock was poisoned by a panicking thread".into())
}

/// A backend in memory, for tests and throw-away states.
#[derive(Default)]
pub struct MemoryBackend {
    nodes: RwLock<HashMap<Hash, Box<[u8]>>>,
    refs: RwLock<BTreeMap<String, Hash>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores raw bytes under a hash without any check. Meant for tests and
    /// tools that simulate corruption.
    pub fn put_raw(&self, hash: Hash, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.nodes.write().map_err(|_| poisoned())?.insert(hash, bytes.into_boxed_slice());
        Ok(())
    }
}

impl NodeBackend for MemoryBackend {
    fn get(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.nodes.read().map_err(|_| poisoned())?.get(hash).map(|b| b.to_vec()))
    }
    fn contains(&self, hash: &Hash) -> Result<bool, StoreError> {
        Ok(self.nodes.read().map_err(|_| poisoned())?.contains_key(hash))
    }
    fn write(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let mut nodes = self.nodes.write().map_err(|_| poisoned())?;
        let mut refs = self.refs.write().map_err(|_| poisoned())?;
        for n in &batch.nodes {
            nodes.insert(n.hash(), n.bytes().into());
        }
        for (name, target) in &batch.refs {
            match target {
                Some(h) => refs.insert(name.clone(), *h),
                None => refs.remove(name),
            };
        }
        Ok(())
    }
    fn get_ref(&self, name: &str) -> Result<Option<Hash>, StoreError> {
        Ok(self.refs.read().map_err(|_| poisoned())?.get(name).copied())
    }
    fn list_refs(&self) -> Result<Vec<(String, Hash)>, StoreError> {
        Ok(self.refs.read().map_err(|_| poisoned())?.iter().map(|(k, v)| (k.clone(), *v)).collect())
    }
    fn node_hashes(&self) -> Result<Vec<Hash>, StoreError> {
        let mut v: Vec<Hash> = self.nodes.read().map_err(|_| poisoned())?.keys().copied().collect();
        v.sort_unstable();
        Ok(v)
    }
    fn delete_nodes(&self, hashes: &[Hash]) -> Result<(), StoreError> {
        let mut nodes = self.nodes.write().map_err(|_| poisoned())?;
        for h in hashes {
            nodes.remove(h);
        }
        Ok(())
    }
    fn usage(&self) -> Result<(u64, u64), StoreError> {
        let nodes = self.nodes.read().map_err(|_| poisoned())?;
        Ok((nodes.len() as u64, nodes.values().map(|b| b.len() as u64).sum()))
    }
}

const NODES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("nodes");
const REFS: TableDefinition<&str, &[u8; 32]> = TableDefinition::new("refs");

fn be<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Backend(format!("redb {what}: {e}"))
}

/// The default persistent backend: one `redb` file holding two tables,
/// `nodes` (hash -> bytes) and `refs` (name -> hash). Every write is one
/// redb transaction committed with immediate durability, so a crash leaves
/// either the whole batch or none of it.
pub struct RedbBackend {
    db: redb::Database,
}

impl RedbBackend {
    /// Opens (or creates) the database file at `path`, with `cache_bytes` of
    /// redb page cache.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = redb::Builder::new().set_cache_size(cache_bytes).create(path).map_err(be("open"))?;
        let txn = db.begin_write().map_err(be("begin write"))?;
        {
            txn.open_table(NODES).map_err(be("open nodes table"))?;
            txn.open_table(REFS).map_err(be("open refs table"))?;
        }
        txn.commit().map_err(be("commit"))?;
        Ok(RedbBackend { db })
    }
}

impl NodeBackend for RedbBackend {
    fn get(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(be("begin read"))?;
        let table = txn.open_table(NODES).map_err(be("open nodes table"))?;
        Ok(table.get(&hash.0).map_err(be("read node"))?.map(|g| g.value().to_vec()))
    }
    fn contains(&self, hash: &Hash) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(be("begin read"))?;
        let table = txn.open_table(NODES).map_err(be("open nodes table"))?;
        Ok(table.get(&hash.0).map_err(be("read node"))?.is_some())
    }
    fn write(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(be("begin write"))?;
        {
            let mut nodes = txn.open_table(NODES).map_err(be("open nodes table"))?;
            for n in &batch.nodes {
                nodes.insert(&n.hash().0, n.bytes()).map_err(be("write node"))?;
            }
            let mut refs = txn.open_table(REFS).map_err(be("open refs table"))?;
            for (name, target) in &batch.refs {
                match target {
                    Some(h) => {
                        refs.insert(name.as_str(), &h.0).map_err(be("write ref"))?;
                    }
                    None => {
                        refs.remove(name.as_str()).map_err(be("delete ref"))?;
                    }
                }
            }
        }
        txn.commit().map_err(be("commit"))
    }
    fn get_ref(&self, name: &str) -> Result<Option<Hash>, StoreError> {
        let txn = self.db.begin_read().map_err(be("begin read"))?;
        let table = txn.open_table(REFS).map_err(be("open refs table"))?;
        Ok(table.get(name).map_err(be("read ref"))?.map(|g| Hash(*g.value())))
    }
    fn list_refs(&self) -> Result<Vec<(String, Hash)>, StoreError> {
        let txn = self.db.begin_read().map_err(be("begin read"))?;
        let table = txn.open_table(REFS).map_err(be("open refs table"))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(be("scan refs"))? {
            let (k, v) = item.map_err(be("scan refs"))?;
            out.push((k.value().to_string(), Hash(*v.value())));
        }
        Ok(out)
    }
    fn node_hashes(&self) -> Result<Vec<Hash>, StoreError> {
        let txn = self.db.begin_read().map_err(be("begin read"))?;
        let table = txn.open_table(NODES).map_err(be("open nodes table"))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(be("scan nodes"))? {
            let (k, _) = item.map_err(be("scan nodes"))?;
            out.push(Hash(*k.value()));
        }
        Ok(out)
    }
    fn delete_nodes(&self, hashes: &[Hash]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(be("begin write"))?;
        {
            let mut nodes = txn.open_table(NODES).map_err(be("open nodes table"))?;
            for h in hashes {
                nodes.remove(&h.0).map_err(be("delete node"))?;
            }
        }
        txn.commit().map_err(be("commit"))
    }
    fn usage(&self) -> Result<(u64, u64), StoreError> {
        let txn = self.db.begin_read().map_err(be("begin read"))?;
        let table = txn.open_table(NODES).map_err(be("open nodes table"))?;
        let count = table.len().map_err(be("count nodes"))?;
        let stats = table.stats().map_err(be("table stats"))?;
        Ok((count, stats.stored_bytes()))
    }
}
