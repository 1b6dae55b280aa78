//! The node store: a cheap-to-clone handle over a backend, a bounded cache of
//! decoded nodes and the set of *staged* nodes (written by `apply`, readable
//! at once, persisted by `commit`).

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::backend::{MemoryBackend, NodeBackend, RedbBackend, WriteBatch};
use crate::cache::{HashMapByHash, NodeCache};
use crate::cursor::RangeIterator;
use crate::node::{node_hash, Node, KIND_PLAIN, MAX_LEVEL};
use crate::tables::{Direction, Entry, RangeIter};
use crate::{Hash, StoreError};

/// Deepest chain of trees referenced from tree-refs leaves that
/// [`Store::check_tree`] follows (a state is catalogue -> tables: 1).
pub const MAX_TREE_NESTING: u32 = 8;

/// Longest ref name accepted.
pub const MAX_REF_NAME_BYTES: usize = 255;

/// Tuning knobs of a store. None of them changes any hash.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Budget of the decoded-node cache.
    pub cache_bytes: usize,
    /// Budget of the backend's own page cache (redb).
    pub backend_cache_bytes: usize,
    /// Threads used by [`crate::Overlay::flush`] to apply tables in parallel.
    pub flush_threads: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { cache_bytes: 256 << 20, backend_cache_bytes: 256 << 20, flush_threads: 2 }
    }
}

/// One edit of a batch: `Some(value)` inserts or replaces, `None` deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

impl Edit {
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Edit { key: key.into(), value: Some(value.into()) }
    }
    pub fn delete(key: impl Into<Vec<u8>>) -> Self {
        Edit { key: key.into(), value: None }
    }
}

/// A change of one ref in a commit: `Some(root)` sets it, `None` deletes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    pub name: String,
    pub target: Option<Hash>,
}

/// What garbage collection did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Nodes reachable from refs, kept roots and staged nodes.
    pub live_nodes: u64,
    /// Nodes deleted.
    pub swept_nodes: u64,
}

/// What [`Store::check_tree`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeStats {
    pub nodes: u64,
    pub entries: u64,
    pub height: u8,
    pub bytes: u64,
}

pub(crate) struct Inner {
    backend: Arc<dyn NodeBackend>,
    staged: RwLock<HashMapByHash<Arc<Node>>>,
    cache: NodeCache,
    /// Writers of new references to old nodes (apply, commit) hold it shared;
    /// garbage collection holds it exclusively.
    pub(crate) gc_lock: RwLock<()>,
    pub(crate) config: StoreConfig,
    loads: AtomicU64,
}

/// A handle on a node store. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

fn poisoned() -> StoreError {
    StoreError::Backend("a lock was poisoned by a panicking thread".into())
}

impl Store {
    /// A store on a fresh in-memory backend.
    pub fn memory() -> Store {
        Store::with_backend(Arc::new(MemoryBackend::new()), StoreConfig::default())
    }

    /// Opens (or creates) a persistent store in the `redb` file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, StoreConfig::default())
    }

    pub fn open_with(path: impl AsRef<Path>, config: StoreConfig) -> Result<Store, StoreError> {
        let backend = RedbBackend::open(path.as_ref(), config.backend_cache_bytes)?;
        Ok(Store::with_backend(Arc::new(backend), config))
    }

    pub fn with_backend(backend: Arc<dyn NodeBackend>, config: StoreConfig) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend,
                staged: RwLock::new(HashMapByHash::default()),
                cache: NodeCache::new(config.cache_bytes),
                gc_lock: RwLock::new(()),
                config,
                loads: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Loads a node: staged, cached, or read from the backend, verified
    /// against its hash and decoded.
    pub(crate) fn load(&self, hash: Hash) -> Result<Arc<Node>, StoreError> {
        self.inner.loads.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = self.inner.cache.get(&hash) {
            return Ok(n);
        }
        if let Some(n) = self.inner.staged.read().map_err(|_| poisoned())?.get(&hash) {
            return Ok(n.clone());
        }
        let bytes = self.inner.backend.get(&hash)?.ok_or(StoreError::MissingNode { hash })?;
        let actual = node_hash(&bytes);
        if actual != hash {
            return Err(StoreError::CorruptNode { hash, reason: format!("content hashes to {actual}") });
        }
        let node = Arc::new(Node::decode(hash, bytes.into_boxed_slice())?);
        self.inner.cache.insert(node.clone());
        Ok(node)
    }

    /// Loads the child `i` of `parent`, checking that its level fits.
    pub(crate) fn load_child(&self, parent: &Node, i: usize) -> Result<Arc<Node>, StoreError> {
        let hash = parent.child(i);
        let child = self.load(hash)?;
        if child.level() + 1 != parent.level() {
            return Err(StoreError::CorruptNode {
                hash,
                reason: format!(
                    "child of a level-{} node {} has level {}",
                    parent.level(),
                    parent.hash(),
                    child.level()
                ),
            });
        }
        Ok(child)
    }

    /// Adds a freshly built node to the staging area.
    pub(crate) fn stage(&self, node: Arc<Node>) -> Result<(), StoreError> {
        self.inner.staged.write().map_err(|_| poisoned())?.insert(node.hash(), node);
        Ok(())
    }

    /// Number of node loads (from staging, cache or backend) so far: a
    /// machine-independent measure of the work of an operation.
    pub fn load_count(&self) -> u64 {
        self.inner.loads.load(Ordering::Relaxed)
    }

    /// Number of staged (not yet committed) nodes.
    pub fn staged_nodes(&self) -> usize {
        self.inner.staged.read().map(|s| s.len()).unwrap_or(0)
    }

    /// Drops every staged node that was not committed.
    pub fn discard_staged(&self) -> Result<(), StoreError> {
        self.inner.staged.write().map_err(|_| poisoned())?.clear();
        Ok(())
    }

    /// The value of `key` in the tree `root`.
    pub fn get(&self, root: Hash, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_with(root, key, |v| v.to_vec())
    }

    /// Whether `key` is in the tree `root`.
    pub fn contains(&self, root: Hash, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get_with(root, key, |_| ())?.is_some())
    }

    fn get_with<T>(&self, root: Hash, key: &[u8], f: impl FnOnce(&[u8]) -> T) -> Result<Option<T>, StoreError> {
        if root == Hash::ZERO {
            return Ok(None);
        }
        let mut node = self.load(root)?;
        loop {
            let i = node.lower_bound(key);
            if i == node.len() {
                return Ok(None);
            }
            if node.is_leaf() {
                return Ok((node.key(i) == key).then(|| f(node.value(i))));
            }
            node = self.load_child(&node, i)?;
        }
    }

    /// Scans the entries of `root` within bounds, in `direction`.
    pub fn range<'a>(
        &'a self,
        root: Hash,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<RangeIter<'a>, StoreError> {
        Ok(Box::new(RangeIterator::new(self, root, lower, upper, direction)?))
    }

    /// Number of entries in `root`.
    pub fn count(&self, root: Hash) -> Result<u64, StoreError> {
        if root == Hash::ZERO {
            return Ok(0);
        }
        Ok(self.load(root)?.subtree_count())
    }

    /// The entry at position `n` (0-based, key order), if `n < count`.
    pub fn nth(&self, root: Hash, mut n: u64) -> Result<Option<Entry>, StoreError> {
        if root == Hash::ZERO {
            return Ok(None);
        }
        let mut node = self.load(root)?;
        if n >= node.subtree_count() {
            return Ok(None);
        }
        loop {
            if node.is_leaf() {
                let i = n as usize;
                return Ok(Some((node.key(i).to_vec(), node.value(i).to_vec())));
            }
            let i = node.child_for_position(n);
            if i >= node.len() {
                return Err(StoreError::CorruptNode { hash: node.hash(), reason: "entry counts inconsistent".into() });
            }
            n -= node.count_before(i);
            let child = self.load_child(&node, i)?;
            if child.subtree_count() != node.child_count(i) {
                return Err(StoreError::CorruptNode {
                    hash: child.hash(),
                    reason: format!("holds {} entries, parent says {}", child.subtree_count(), node.child_count(i)),
                });
            }
            node = child;
        }
    }

    /// Position of the first entry with key `>= key` (the number of entries
    /// below `key`).
    pub fn rank(&self, root: Hash, key: &[u8]) -> Result<u64, StoreError> {
        if root == Hash::ZERO {
            return Ok(0);
        }
        let mut node = self.load(root)?;
        let mut before = 0;
        loop {
            let i = node.lower_bound(key);
            before += node.count_before(i);
            if node.is_leaf() || i == node.len() {
                return Ok(before);
            }
            node = self.load_child(&node, i)?;
        }
    }

    /// Applies edits sorted by strictly increasing key to the tree `root`,
    /// returning the new root. New nodes are staged, not persisted.
    pub fn apply(&self, root: Hash, edits: &[Edit]) -> Result<Hash, StoreError> {
        let refs: Vec<(&[u8], Option<&[u8]>)> = edits.iter().map(|e| (&e.key[..], e.value.as_deref())).collect();
        self.apply_refs(root, &refs)
    }

    /// [`Store::apply`] on borrowed edits.
    pub fn apply_refs(&self, root: Hash, edits: &[(&[u8], Option<&[u8]>)]) -> Result<Hash, StoreError> {
        crate::apply::apply(self, root, KIND_PLAIN, edits)
    }

    /// Builds a tree from entries sorted by strictly increasing key.
    pub fn build(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Hash, StoreError> {
        let refs: Vec<(&[u8], Option<&[u8]>)> = entries.iter().map(|(k, v)| (&k[..], Some(&v[..]))).collect();
        self.apply_refs(Hash::ZERO, &refs)
    }

    /// Persists, atomically and durably, every staged node reachable from
    /// the new ref targets and from `roots`, together with the ref updates.
    /// After a crash, either all of it is visible or none. Staged nodes not
    /// reachable from them stay staged.
    pub fn commit(&self, refs: &[RefUpdate], roots: &[Hash]) -> Result<(), StoreError> {
        for r in refs {
            check_ref_name(&r.name)?;
        }
        let _guard = self.inner.gc_lock.read().map_err(|_| poisoned())?;
        let mut batch = WriteBatch::default();
        {
            let staged = self.inner.staged.read().map_err(|_| poisoned())?;
            let mut seen = HashSet::new();
            let mut stack: Vec<Hash> = refs.iter().filter_map(|r| r.target).chain(roots.iter().copied()).collect();
            for &h in &stack {
                if h != Hash::ZERO && !staged.contains_key(&h) && !self.inner.backend.contains(&h)? {
                    return Err(StoreError::MissingNode { hash: h });
                }
            }
            while let Some(h) = stack.pop() {
                if h == Hash::ZERO || !seen.insert(h) {
                    continue;
                }
                // Persisted nodes only ever reference persisted nodes, so the
                // walk stops at the first node that is not staged.
                if let Some(n) = staged.get(&h) {
                    stack.extend(n.references());
                    batch.nodes.push(n.clone());
                }
            }
        }
        // Sorted so the backend sees the same write sequence every time.
        batch.nodes.sort_unstable_by_key(|n| n.hash());
        batch.refs = refs.iter().map(|r| (r.name.clone(), r.target)).collect();
        self.inner.backend.write(&batch)?;
        let mut staged = self.inner.staged.write().map_err(|_| poisoned())?;
        for n in batch.nodes {
            staged.remove(&n.hash());
            self.inner.cache.insert(n);
        }
        Ok(())
    }

    /// Sets one ref durably (a commit of that ref alone).
    pub fn set_ref(&self, name: &str, target: Hash) -> Result<(), StoreError> {
        self.commit(&[RefUpdate { name: name.into(), target: Some(target) }], &[])
    }

    /// The committed target of a ref.
    pub fn get_ref(&self, name: &str) -> Result<Option<Hash>, StoreError> {
        check_ref_name(name)?;
        self.inner.backend.get_ref(name)
    }

    /// All committed refs, ordered by name.
    pub fn list_refs(&self) -> Result<Vec<(String, Hash)>, StoreError> {
        self.inner.backend.list_refs()
    }

    /// Deletes a ref durably.
    pub fn delete_ref(&self, name: &str) -> Result<(), StoreError> {
        self.commit(&[RefUpdate { name: name.into(), target: None }], &[])
    }

    /// Creates (or moves) ref `new` to the target of ref `from`: O(1)
    /// whatever the size of the state.
    pub fn branch(&self, from: &str, new: &str) -> Result<Hash, StoreError> {
        let target = self.get_ref(from)?.ok_or_else(|| StoreError::NoSuchRef { name: from.to_string() })?;
        self.set_ref(new, target)?;
        Ok(target)
    }

    /// Garbage collection: keeps every node reachable from a ref, from
    /// `keep` (the caller's retention window of recent roots) or from a staged
    /// node, and deletes every other stored node. Blocks `apply` and
    /// `commit` while it runs so no new reference to a doomed node appears.
    pub fn gc(&self, keep: &[Hash]) -> Result<GcStats, StoreError> {
        let _guard = self.inner.gc_lock.write().map_err(|_| poisoned())?;
        let mut live: HashSet<Hash> = HashSet::new();
        let mut stack: Vec<Hash> = self.list_refs()?.into_iter().map(|(_, h)| h).collect();
        stack.extend_from_slice(keep);
        {
            let staged = self.inner.staged.read().map_err(|_| poisoned())?;
            for n in staged.values() {
                stack.extend(n.references());
            }
        }
        while let Some(h) = stack.pop() {
            if h == Hash::ZERO || !live.insert(h) {
                continue;
            }
            let node = self.load(h)?;
            stack.extend(node.references());
        }
        let doomed: Vec<Hash> = self.inner.backend.node_hashes()?.into_iter().filter(|h| !live.contains(h)).collect();
        for chunk in doomed.chunks(10_000) {
            self.inner.backend.delete_nodes(chunk)?;
            for h in chunk {
                self.inner.cache.remove(h);
            }
        }
        Ok(GcStats { live_nodes: live.len() as u64, swept_nodes: doomed.len() as u64 })
    }

    /// Number of stored nodes and their bytes in the backend.
    pub fn backend_usage(&self) -> Result<(u64, u64), StoreError> {
        self.inner.backend.usage()
    }

    /// Walks every node of the tree `root` (and of trees referenced from a
    /// tree-refs leaf), checking hashes, levels, key order across nodes and
    /// entry counts. Returns statistics of the walk, or the first problem.
    pub fn check_tree(&self, root: Hash) -> Result<TreeStats, StoreError> {
        self.check_tree_nested(root, 0)
    }

    fn check_tree_nested(&self, root: Hash, nesting: u32) -> Result<TreeStats, StoreError> {
        // A catalogue references table trees; nothing nests deeper than that
        // legitimately, and a bound keeps crafted data from exhausting the stack.
        if nesting > MAX_TREE_NESTING {
            return Err(StoreError::LimitExceeded {
                what: "nesting of trees referenced from leaves",
                max: MAX_TREE_NESTING as u64,
            });
        }
        let mut stats = TreeStats::default();
        if root == Hash::ZERO {
            return Ok(stats);
        }
        let node = self.load(root)?;
        stats.height = node.level() + 1;
        let mut prev_key: Option<Vec<u8>> = None;
        self.check_node(&node, None, &mut prev_key, &mut stats, nesting)?;
        Ok(stats)
    }

    fn check_node(
        &self,
        node: &Arc<Node>,
        max_key: Option<&[u8]>,
        prev_key: &mut Option<Vec<u8>>,
        stats: &mut TreeStats,
        nesting: u32,
    ) -> Result<(), StoreError> {
        let bad = |reason: String| StoreError::CorruptNode { hash: node.hash(), reason };
        stats.nodes += 1;
        stats.bytes += node.bytes().len() as u64;
        if node.level() > MAX_LEVEL {
            return Err(bad("too deep".into()));
        }
        if let Some(p) = prev_key.as_deref() {
            if node.key(0) <= p {
                return Err(bad("first key not above the previous node's last key".into()));
            }
        }
        if let Some(m) = max_key {
            if node.last_key() != m {
                return Err(bad("last key differs from the parent's separator".into()));
            }
        }
        if node.is_leaf() {
            stats.entries += node.len() as u64;
            for h in node.references() {
                self.check_tree_nested(h, nesting + 1)?;
            }
        } else {
            for i in 0..node.len() {
                let child = self.load_child(node, i)?;
                if child.subtree_count() != node.child_count(i) {
                    return Err(bad(format!(
                        "child {i} holds {} entries, expected {}",
                        child.subtree_count(),
                        node.child_count(i)
                    )));
                }
                self.check_node(&child, Some(node.key(i)), prev_key, stats, nesting)?;
            }
        }
        *prev_key = Some(node.last_key().to_vec());
        Ok(())
    }
}

pub(crate) fn check_ref_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_REF_NAME_BYTES {
        return Err(StoreError::BadRefName { name: name.chars().take(64).collect(), reason: "must be 1 to 255 bytes" });
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(StoreError::BadRefName { name: name.into(), reason: "must not contain control characters" });
    }
    Ok(())
}
