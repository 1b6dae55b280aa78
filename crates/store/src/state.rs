//! The relational layer: a state is a catalogue tree of tables, each table a
//! tree of its own; the catalogue's root is the state root.
//!
//! # Catalogue format
//!
//! The catalogue is a prolly tree whose leaves have kind
//! [`KIND_TREE_REFS`]. Its keys are table names
//! (UTF-8 bytes, so tables sort by name) and its values *table descriptors*:
//!
//! ```text
//! descriptor := table_root:[u8;32] 0x01 schema_bytes...
//! ```
//!
//! The table root comes first so that garbage collection, proofs and the
//! integrity check follow it without knowing this format. The empty table has
//! root [`Hash::ZERO`]; the empty state (no tables) has state root
//! [`Hash::ZERO`]. A table's entry count is not stored: the root node of its
//! tree carries it.
//!
//! # Views
//!
//! * [`Snapshot`]: a read-only view at any state root, O(1) to open.
//! * [`Overlay`]: a write buffer on a snapshot, serving reads-your-writes,
//!   with savepoints backed by an undo log and an optional access recorder.
//!   [`Overlay::flush`] applies each table's buffered writes to its tree in
//!   one batch (tables in parallel) and the table roots to the catalogue,
//!   returning the new state root. Nodes are staged; `Store::commit`
//!   persists them.

use std::cell::RefCell;
use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::inline_key::InlineKey;
use crate::node::{KIND_TREE_REFS, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::recent::RecentReads;
use crate::store::Store;
use crate::tables::{Direction, Entry, RangeIter, Savepoint, TableMeta, TableStore, MAX_TABLE_NAME_BYTES};
use crate::{Hash, StoreError};

const DESCRIPTOR_VERSION: u8 = 1;

/// Upper bound on the bytes an overlay buffers (keys, values and undo).
pub const MAX_OVERLAY_BYTES: u64 = 1 << 30;
/// Upper bound on the entries of an access log; past it the log is marked
/// truncated.
pub const MAX_ACCESS_LOG_ENTRIES: usize = 1 << 20;

/// Encodes a table descriptor (catalogue value).
pub fn encode_descriptor(root: Hash, schema: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(33 + schema.len());
    v.extend_from_slice(&root.0);
    v.push(DESCRIPTOR_VERSION);
    v.extend_from_slice(schema);
    v
}

/// Decodes a table descriptor into its tree root and schema blob.
pub fn decode_descriptor(table: &str, bytes: &[u8]) -> Result<(Hash, TableMeta), StoreError> {
    let bad = |reason: &str| StoreError::CorruptDescriptor { table: table.to_string(), reason: reason.to_string() };
    let root: [u8; 32] =
        bytes.get(..32).ok_or_else(|| bad("shorter than 33 bytes"))?.try_into().map_err(|_| bad("root"))?;
    match bytes.get(32) {
        Some(&DESCRIPTOR_VERSION) => {}
        Some(v) => return Err(bad(&format!("version {v}, expected {DESCRIPTOR_VERSION}"))),
        None => return Err(bad("shorter than 33 bytes")),
    }
    Ok((Hash(root), TableMeta { schema: bytes[33..].to_vec() }))
}

fn check_table_name(table: &str) -> Result<(), StoreError> {
    if table.is_empty() {
        return Err(StoreError::BadTableName { table: table.into(), reason: "empty" });
    }
    if table.len() > MAX_TABLE_NAME_BYTES {
        return Err(StoreError::BadTableName {
            table: table.chars().take(64).collect(),
            reason: "longer than 255 bytes",
        });
    }
    Ok(())
}

fn check_entry(key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::KeyTooLarge { len: key.len(), max: MAX_KEY_BYTES });
    }
    if let Some(v) = value {
        if v.len() > MAX_VALUE_BYTES {
            return Err(StoreError::ValueTooLarge { len: v.len(), max: MAX_VALUE_BYTES });
        }
    }
    Ok(())
}

/// Whether a bounded range can hold no key (also guards `BTreeMap::range`,
/// which panics on inverted bounds).
fn range_is_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

/// Reads the catalogue of a state.
fn lookup_table(store: &Store, state_root: Hash, table: &str) -> Result<Option<(Hash, TableMeta)>, StoreError> {
    match store.get(state_root, table.as_bytes())? {
        Some(v) => decode_descriptor(table, &v).map(Some),
        None => Ok(None),
    }
}

fn list_tables(store: &Store, state_root: Hash) -> Result<Vec<(String, Hash, TableMeta)>, StoreError> {
    let mut out = Vec::new();
    for item in store.range(state_root, Bound::Unbounded, Bound::Unbounded, Direction::Forward)? {
        let (k, v) = item?;
        let name = String::from_utf8(k).map_err(|_| StoreError::CorruptDescriptor {
            table: "?".into(),
            reason: "table name is not UTF-8".into(),
        })?;
        let (root, meta) = decode_descriptor(&name, &v)?;
        out.push((name, root, meta));
    }
    Ok(out)
}

/// Builds a state from scratch: tables with their metadata and sorted rows.
/// Mostly for tests and genesis.
pub fn build_state(store: &Store, tables: &[(&str, TableMeta, Vec<Entry>)]) -> Result<Hash, StoreError> {
    let mut catalogue: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for (name, meta, rows) in tables {
        check_table_name(name)?;
        let root = store.build(rows)?;
        catalogue.insert(name, encode_descriptor(root, &meta.schema));
    }
    let edits: Vec<(&[u8], Option<&[u8]>)> = catalogue.iter().map(|(k, v)| (k.as_bytes(), Some(&v[..]))).collect();
    crate::apply::apply(store, Hash::ZERO, KIND_TREE_REFS, &edits)
}

/// A read-only view of the state at one root.
pub struct Snapshot {
    store: Store,
    root: Hash,
    /// Table roots already looked up (immutable state, so never stale).
    roots: Mutex<BTreeMap<String, Option<Hash>>>,
}

impl Snapshot {
    /// Opens the state at `state_root`; O(1), nothing is read until used.
    pub fn open(store: &Store, state_root: Hash) -> Snapshot {
        Snapshot { store: store.clone(), root: state_root, roots: Mutex::new(BTreeMap::new()) }
    }

    pub fn state_root(&self) -> Hash {
        self.root
    }

    /// The tree root of a table, if the table exists.
    pub fn table_root(&self, table: &str) -> Result<Option<Hash>, StoreError> {
        if let Ok(cache) = self.roots.lock() {
            if let Some(r) = cache.get(table) {
                return Ok(*r);
            }
        }
        let r = lookup_table(&self.store, self.root, table)?.map(|(root, _)| root);
        if let Ok(mut cache) = self.roots.lock() {
            if cache.len() < 4096 {
                cache.insert(table.to_string(), r);
            }
        }
        Ok(r)
    }

    fn existing_root(&self, table: &str) -> Result<Hash, StoreError> {
        self.table_root(table)?.ok_or_else(|| StoreError::NoSuchTable { table: table.to_string() })
    }
}

impl TableStore for Snapshot {
    fn table(&self, table: &str) -> Result<Option<TableMeta>, StoreError> {
        Ok(lookup_table(&self.store, self.root, table)?.map(|(_, m)| m))
    }
    fn tables(&self) -> Result<Vec<(String, TableMeta)>, StoreError> {
        Ok(list_tables(&self.store, self.root)?.into_iter().map(|(n, _, m)| (n, m)).collect())
    }
    fn create_table(&mut self, _: &str, _: TableMeta) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn set_table_meta(&mut self, _: &str, _: TableMeta) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn drop_table(&mut self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let root = self.existing_root(table)?;
        self.store.get(root, key)
    }
    fn range<'a>(
        &'a self,
        table: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<RangeIter<'a>, StoreError> {
        let root = self.existing_root(table)?;
        if range_is_empty(lower, upper) {
            return Ok(Box::new(std::iter::empty()));
        }
        self.store.range(root, lower, upper, direction)
    }
    fn count(&self, table: &str) -> Result<u64, StoreError> {
        let root = self.existing_root(table)?;
        self.store.count(root)
    }
    fn put(&mut self, _: &str, _: Vec<u8>, _: Vec<u8>) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn delete(&mut self, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn savepoint(&mut self) -> Savepoint {
        Savepoint(0)
    }
    fn rollback_to(&mut self, _: Savepoint) -> Result<(), StoreError> {
        Ok(())
    }
}

/// One row write carried from one overlay to another ([`Overlay::absorb`]):
/// `value` `None` deletes the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowWrite {
    pub table: String,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A range read by an overlay user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeAccess {
    pub table: String,
    pub lower: Bound<Vec<u8>>,
    pub upper: Bound<Vec<u8>>,
}

/// What an overlay was asked to read and write, for checking static access
/// analysis. Everything asked is recorded, including accesses later rolled
/// back (they still influenced the execution).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessLog {
    /// `(table, key)` point reads.
    pub reads: BTreeSet<(String, Vec<u8>)>,
    /// `(table, key)` puts and deletes.
    pub writes: BTreeSet<(String, Vec<u8>)>,
    /// Range scans, in the order made. `count` is a full-table range.
    pub ranges: Vec<RangeAccess>,
    /// Tables whose catalogue entry was read (`table`, `tables`).
    pub tables_read: BTreeSet<String>,
    /// Tables created, dropped or whose metadata was set.
    pub tables_written: BTreeSet<String>,
    /// Whether the whole catalogue was listed.
    pub catalogue_scanned: bool,
    /// Whether entries were dropped because the log hit its bound.
    pub truncated: bool,
}

impl AccessLog {
    fn len(&self) -> usize {
        self.reads.len() + self.writes.len() + self.ranges.len() + self.tables_read.len() + self.tables_written.len()
    }
    fn full(&mut self) -> bool {
        if self.len() >= MAX_ACCESS_LOG_ENTRIES {
            self.truncated = true;
            return true;
        }
        false
    }
}

/// A table as the overlay sees it after writes.
#[derive(Clone)]
struct TableState {
    /// The table's name, shared with the undo entries of its writes (one
    /// per row written under a savepoint) instead of copied into each.
    name: Arc<str>,
    meta: TableMeta,
    /// Tree the writes apply to (zero for a table created here).
    base_root: Hash,
    writes: BTreeMap<InlineKey, Option<Vec<u8>>>,
    count: u64,
}

#[derive(Clone)]
enum Slot {
    Dropped,
    Live(TableState),
}

enum Undo {
    Write { table: Arc<str>, key: InlineKey, prev: Option<Option<Vec<u8>>>, prev_count: u64 },
    Slot { table: String, prev: Option<Slot> },
    Meta { table: String, prev: TableMeta },
}

/// The block overlay: a write buffer over the state at a base root.
pub struct Overlay {
    store: Store,
    base: Hash,
    /// Tables of the base state already looked up.
    base_tables: RefCell<BTreeMap<String, Option<(Hash, TableMeta)>>>,
    /// Tables touched by writes, creation or drops.
    tables: BTreeMap<String, Slot>,
    undo: Vec<Undo>,
    savepoints: Vec<(u64, usize)>,
    next_savepoint: u64,
    buffered_bytes: u64,
    recorder: Option<RefCell<AccessLog>>,
    /// The last rows read (see [`crate::recent`]): every row write forgets
    /// its row there, every rollback or table change forgets all.
    recent: RefCell<RecentReads>,
}

/// The current view of one table.
enum View<'a> {
    Base(Hash),
    Overlay(&'a TableState),
}

impl Overlay {
    /// An empty overlay on the state at `state_root`.
    pub fn new(store: &Store, state_root: Hash) -> Overlay {
        Overlay {
            store: store.clone(),
            base: state_root,
            base_tables: RefCell::new(BTreeMap::new()),
            tables: BTreeMap::new(),
            undo: Vec::new(),
            savepoints: Vec::new(),
            next_savepoint: 1,
            buffered_bytes: 0,
            recorder: None,
            recent: RefCell::default(),
        }
    }

    /// The state root this overlay reads through to.
    pub fn base_root(&self) -> Hash {
        self.base
    }

    /// Starts recording accesses (clearing any previous log).
    pub fn record_access(&mut self) {
        self.recorder = Some(RefCell::new(AccessLog::default()));
    }

    /// Takes the access log recorded so far, leaving an empty one.
    pub fn take_access_log(&mut self) -> Option<AccessLog> {
        self.recorder.as_ref().map(|r| r.take())
    }

    /// Stops recording accesses and returns the log recorded so far.
    pub fn stop_access_log(&mut self) -> Option<AccessLog> {
        self.recorder.take().map(RefCell::into_inner)
    }

    /// An independent overlay with this one's current contents (its writes,
    /// creations and drops), O(buffered writes): a worker's private view of
    /// the state for speculative execution. The fork has no savepoints and
    /// records nothing; what it writes never reaches this overlay except
    /// through [`Overlay::absorb`].
    pub fn fork(&self) -> Overlay {
        Overlay {
            store: self.store.clone(),
            base: self.base,
            base_tables: RefCell::new(self.base_tables.borrow().clone()),
            tables: self.tables.clone(),
            undo: Vec::new(),
            savepoints: Vec::new(),
            next_savepoint: 1,
            buffered_bytes: self.buffered_bytes,
            recorder: None,
            recent: RefCell::default(),
        }
    }

    /// Bytes charged against [`MAX_OVERLAY_BYTES`] so far. Charges are never
    /// given back (not even by a rollback), so the figure only grows.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered_bytes
    }

    /// Applies row writes made elsewhere (a fork's, read back after a
    /// transaction ran there) as one step charged `charged_bytes`: what the
    /// same writes charged where they were made, so that a limit is hit at
    /// the same point whichever overlay ran them. A write that leaves a row
    /// as it is is skipped. The tables must exist here. Recorded like any
    /// write.
    pub fn absorb(&mut self, writes: &[RowWrite], charged_bytes: u64) -> Result<(), StoreError> {
        self.buffered_bytes += charged_bytes;
        if self.buffered_bytes > MAX_OVERLAY_BYTES {
            return Err(StoreError::LimitExceeded { what: "overlay buffered bytes", max: MAX_OVERLAY_BYTES });
        }
        for w in writes {
            if self.peek(&w.table, &w.key)? == w.value {
                continue;
            }
            self.write_charged(&w.table, w.key.clone(), w.value.clone())?;
        }
        Ok(())
    }

    /// A row's value without recording the read.
    pub fn peek(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.recent.borrow().get(table, key) {
            return Ok(v.clone());
        }
        let v = match self.existing_view(table)? {
            View::Base(root) => self.store.get(root, key)?,
            View::Overlay(st) => match st.writes.get(key) {
                Some(v) => v.clone(),
                None => self.store.get(st.base_root, key)?,
            },
        };
        self.recent.borrow_mut().remember(table, key, v.as_deref());
        Ok(v)
    }

    /// Points `table` at an existing tree `root` (creating or replacing the
    /// catalogue entry), in O(1) whatever the tree's size: how a state
    /// holds another whole state (a branch's catalogue root) so that
    /// commits, proofs and garbage collection follow it. Undone by
    /// savepoints like any write.
    pub fn mount(&mut self, table: &str, root: Hash, meta: TableMeta) -> Result<(), StoreError> {
        self.recent.get_mut().clear();
        check_table_name(table)?;
        self.charge(table.len() + meta.schema.len() + 64)?;
        self.record(|log| {
            log.tables_written.insert(table.to_string());
        });
        let count = self.store.count(root)?;
        let st = TableState { name: table.into(), meta, base_root: root, writes: BTreeMap::new(), count };
        let prev = self.tables.insert(table.to_string(), Slot::Live(st));
        if self.recording_undo() {
            self.undo.push(Undo::Slot { table: table.to_string(), prev });
        }
        Ok(())
    }

    /// The tree root `table` has in this overlay, `None` when it does not
    /// exist. A table with buffered row writes has no root until the
    /// overlay is flushed: that is an error rather than a stale answer.
    pub fn table_root(&self, table: &str) -> Result<Option<Hash>, StoreError> {
        match self.tables.get(table) {
            Some(Slot::Dropped) => Ok(None),
            Some(Slot::Live(st)) if st.writes.is_empty() => Ok(Some(st.base_root)),
            Some(Slot::Live(_)) => {
                Err(StoreError::Backend(format!("table {table} has unflushed writes; its root is not known yet")))
            }
            None => Ok(self.base_table(table)?.map(|(root, _)| root)),
        }
    }

    /// Whether any write, creation or drop is buffered.
    pub fn is_dirty(&self) -> bool {
        !self.tables.is_empty()
    }

    fn record(&self, f: impl FnOnce(&mut AccessLog)) {
        if let Some(r) = &self.recorder {
            let mut log = r.borrow_mut();
            if !log.full() {
                f(&mut log);
            }
        }
    }

    fn base_table(&self, table: &str) -> Result<Option<(Hash, TableMeta)>, StoreError> {
        if let Some(t) = self.base_tables.borrow().get(table) {
            return Ok(t.clone());
        }
        let t = lookup_table(&self.store, self.base, table)?;
        self.base_tables.borrow_mut().insert(table.to_string(), t.clone());
        Ok(t)
    }

    fn view(&self, table: &str) -> Result<Option<View<'_>>, StoreError> {
        match self.tables.get(table) {
            Some(Slot::Dropped) => Ok(None),
            Some(Slot::Live(st)) => Ok(Some(View::Overlay(st))),
            None => Ok(self.base_table(table)?.map(|(root, _)| View::Base(root))),
        }
    }

    fn existing_view(&self, table: &str) -> Result<View<'_>, StoreError> {
        self.view(table)?.ok_or_else(|| StoreError::NoSuchTable { table: table.to_string() })
    }

    fn recording_undo(&self) -> bool {
        !self.savepoints.is_empty()
    }

    fn charge(&mut self, bytes: usize) -> Result<(), StoreError> {
        self.buffered_bytes += bytes as u64;
        if self.buffered_bytes > MAX_OVERLAY_BYTES {
            return Err(StoreError::LimitExceeded { what: "overlay buffered bytes", max: MAX_OVERLAY_BYTES });
        }
        Ok(())
    }

    /// Makes sure `table` has a live slot, loading it from the base.
    fn live_mut(&mut self, table: &str) -> Result<&mut TableState, StoreError> {
        if !self.tables.contains_key(table) {
            let (root, meta) =
                self.base_table(table)?.ok_or_else(|| StoreError::NoSuchTable { table: table.to_string() })?;
            let count = self.store.count(root)?;
            // Loading a base table into a slot changes no observable state,
            // so it needs no undo entry.
            self.tables.insert(
                table.to_string(),
                Slot::Live(TableState { name: table.into(), meta, base_root: root, writes: BTreeMap::new(), count }),
            );
        }
        match self.tables.get_mut(table) {
            Some(Slot::Live(st)) => Ok(st),
            _ => Err(StoreError::NoSuchTable { table: table.to_string() }),
        }
    }

    fn write(&mut self, table: &str, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), StoreError> {
        check_entry(&key, value.as_deref())?;
        self.charge(key.len() * 2 + value.as_ref().map_or(0, |v| v.len()) + 64)?;
        self.write_charged(table, key, value)
    }

    /// [`Overlay::write`] whose entry was checked and whose bytes were
    /// charged already (here, or where a fork made the write).
    fn write_charged(&mut self, table: &str, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.record(|log| {
            log.writes.insert((table.to_string(), key.clone()));
        });
        self.recent.get_mut().forget(table, &key);
        let key = InlineKey::from(key);
        let undo_key = self.recording_undo().then(|| key.clone());
        let store = self.store.clone();
        let st = self.live_mut(table)?;
        let prev_count = st.count;
        let adds = value.is_some();
        let name = undo_key.as_ref().map(|_| st.name.clone());
        // One descent of the write buffer, not a lookup and then an insert:
        // a point update is mostly this map's work.
        let (existed, prev) = match st.writes.entry(key) {
            MapEntry::Occupied(mut e) => {
                let prev = e.insert(value);
                (prev.is_some(), Some(prev))
            }
            MapEntry::Vacant(e) => {
                let existed = store.contains(st.base_root, e.key())?;
                e.insert(value);
                (existed, None)
            }
        };
        match (existed, adds) {
            (false, true) => st.count += 1,
            (true, false) => st.count -= 1,
            _ => {}
        }
        if let (Some(key), Some(table)) = (undo_key, name) {
            self.undo.push(Undo::Write { table, key, prev, prev_count });
        }
        Ok(())
    }

    /// Applies every buffered write and returns the new state root. Tables
    /// are applied in parallel (`StoreConfig::flush_threads`); the result
    /// does not depend on thread timing. New nodes are staged: call
    /// `Store::commit` to persist them. The overlay is left unchanged.
    pub fn flush(&self) -> Result<Hash, StoreError> {
        let jobs: Vec<(&str, &TableState)> = self
            .tables
            .iter()
            .filter_map(|(name, slot)| match slot {
                Slot::Live(st) if !st.writes.is_empty() => Some((name.as_str(), st)),
                _ => None,
            })
            .collect();
        let results: Vec<Mutex<Option<Result<Hash, StoreError>>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let store = &self.store;
        let run = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((_, st)) = jobs.get(i) else { break };
            let edits: Vec<(&[u8], Option<&[u8]>)> = st.writes.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
            let r = store.apply_refs(st.base_root, &edits);
            if let Ok(mut slot) = results[i].lock() {
                *slot = Some(r);
            }
        };
        let threads = self.store.config().flush_threads.clamp(1, 64).min(jobs.len().max(1));
        if threads <= 1 {
            run();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(run);
                }
            });
        }
        let mut new_roots: BTreeMap<&str, Hash> = BTreeMap::new();
        // `_st` is read only by the debug-build check below.
        for ((name, _st), r) in jobs.iter().zip(results) {
            let r = r
                .into_inner()
                .map_err(|_| StoreError::Backend("flush worker panicked".into()))?
                .ok_or_else(|| StoreError::Backend("flush worker did not finish".into()))?;
            let root = r?;
            #[cfg(debug_assertions)]
            self.assert_matches_rebuild(name, _st, root)?;
            new_roots.insert(name, root);
        }
        let mut edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (name, slot) in &self.tables {
            match slot {
                Slot::Dropped => edits.push((name.as_bytes().to_vec(), None)),
                Slot::Live(st) => {
                    let root = new_roots.get(name.as_str()).copied().unwrap_or(st.base_root);
                    let unchanged =
                        self.base_table(name)?.is_some_and(|(r, m)| r == root && m.schema == st.meta.schema);
                    if !unchanged {
                        edits.push((name.as_bytes().to_vec(), Some(encode_descriptor(root, &st.meta.schema))));
                    }
                }
            }
        }
        let refs: Vec<(&[u8], Option<&[u8]>)> = edits.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
        crate::apply::apply(&self.store, self.base, KIND_TREE_REFS, &refs)
    }
}

/// Tables up to this many entries are rebuilt from scratch after every
/// flush in debug builds (tests), to check the incremental apply; bigger
/// ones would make the debug test suite quadratic.
#[cfg(debug_assertions)]
const DEBUG_REBUILD_MAX_ENTRIES: u64 = 4096;

impl Overlay {
    /// Debug builds: the root an incremental flush gave `table` must equal
    /// the root of a tree built from scratch from the same rows (history
    /// independence). A difference is a bug in `apply`, never bad input, so
    /// it panics with a report rather than returning an error.
    #[cfg(debug_assertions)]
    fn assert_matches_rebuild(&self, table: &str, st: &TableState, root: Hash) -> Result<(), StoreError> {
        if st.count > DEBUG_REBUILD_MAX_ENTRIES {
            return Ok(());
        }
        // Not through `TableStore::range`: the check must not show in an
        // access log.
        let base = self.store.range(st.base_root, Bound::Unbounded, Bound::Unbounded, Direction::Forward)?.peekable();
        let merged = MergeIter { base, over: st.writes.iter().peekable(), forward: true };
        let entries = merged.collect::<Result<Vec<Entry>, StoreError>>()?;
        let fresh = self.store.build(&entries)?;
        assert_eq!(
            root,
            fresh,
            "bug: the incremental flush of table {table:?} ({} entries) gave a root that differs from a rebuild",
            entries.len()
        );
        Ok(())
    }
}

/// Merges the buffered writes of a table with its base tree in key order.
struct MergeIter<'a, O: Iterator<Item = (&'a InlineKey, &'a Option<Vec<u8>>)>> {
    base: Peekable<RangeIter<'a>>,
    over: Peekable<O>,
    forward: bool,
}

impl<'a, O: Iterator<Item = (&'a InlineKey, &'a Option<Vec<u8>>)>> Iterator for MergeIter<'a, O> {
    type Item = Result<Entry, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_over = match (self.base.peek(), self.over.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return self.base.next(),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(Ok((bk, _))), Some((ok, _))) => {
                    let ord = ok.as_slice().cmp(bk.as_slice());
                    if ord == std::cmp::Ordering::Equal {
                        self.base.next();
                        true
                    } else {
                        (ord == std::cmp::Ordering::Less) == self.forward
                    }
                }
            };
            if take_over {
                let (k, v) = self.over.next()?;
                if let Some(v) = v {
                    return Some(Ok((k.to_vec(), v.clone())));
                }
                // A tombstone: skip the key.
            } else {
                return self.base.next();
            }
        }
    }
}

impl TableStore for Overlay {
    fn table(&self, table: &str) -> Result<Option<TableMeta>, StoreError> {
        self.record(|log| {
            log.tables_read.insert(table.to_string());
        });
        match self.tables.get(table) {
            Some(Slot::Dropped) => Ok(None),
            Some(Slot::Live(st)) => Ok(Some(st.meta.clone())),
            None => Ok(self.base_table(table)?.map(|(_, m)| m)),
        }
    }

    fn tables(&self) -> Result<Vec<(String, TableMeta)>, StoreError> {
        self.record(|log| log.catalogue_scanned = true);
        let mut all: BTreeMap<String, TableMeta> =
            list_tables(&self.store, self.base)?.into_iter().map(|(n, _, m)| (n, m)).collect();
        for (name, slot) in &self.tables {
            match slot {
                Slot::Dropped => {
                    all.remove(name);
                }
                Slot::Live(st) => {
                    all.insert(name.clone(), st.meta.clone());
                }
            }
        }
        Ok(all.into_iter().collect())
    }

    fn create_table(&mut self, table: &str, meta: TableMeta) -> Result<(), StoreError> {
        self.recent.get_mut().clear();
        check_table_name(table)?;
        if self.view(table)?.is_some() {
            return Err(StoreError::TableExists { table: table.to_string() });
        }
        self.charge(table.len() + meta.schema.len() + 64)?;
        self.record(|log| {
            log.tables_written.insert(table.to_string());
        });
        let st = TableState { name: table.into(), meta, base_root: Hash::ZERO, writes: BTreeMap::new(), count: 0 };
        let prev = self.tables.insert(table.to_string(), Slot::Live(st));
        if self.recording_undo() {
            self.undo.push(Undo::Slot { table: table.to_string(), prev });
        }
        Ok(())
    }

    fn set_table_meta(&mut self, table: &str, meta: TableMeta) -> Result<(), StoreError> {
        self.charge(meta.schema.len() + 64)?;
        self.record(|log| {
            log.tables_written.insert(table.to_string());
        });
        let recording = self.recording_undo();
        let st = self.live_mut(table)?;
        let prev = std::mem::replace(&mut st.meta, meta);
        if recording {
            self.undo.push(Undo::Meta { table: table.to_string(), prev });
        }
        Ok(())
    }

    fn drop_table(&mut self, table: &str) -> Result<(), StoreError> {
        self.recent.get_mut().clear();
        if self.view(table)?.is_none() {
            return Err(StoreError::NoSuchTable { table: table.to_string() });
        }
        self.record(|log| {
            log.tables_written.insert(table.to_string());
        });
        let prev = self.tables.insert(table.to_string(), Slot::Dropped);
        if self.recording_undo() {
            self.undo.push(Undo::Slot { table: table.to_string(), prev });
        }
        Ok(())
    }

    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.record(|log| {
            log.reads.insert((table.to_string(), key.to_vec()));
        });
        self.peek(table, key)
    }

    fn range<'a>(
        &'a self,
        table: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<RangeIter<'a>, StoreError> {
        self.record(|log| {
            log.ranges.push(RangeAccess {
                table: table.to_string(),
                lower: lower.map(|b| b.to_vec()),
                upper: upper.map(|b| b.to_vec()),
            })
        });
        let view = self.existing_view(table)?;
        if range_is_empty(lower, upper) {
            return Ok(Box::new(std::iter::empty()));
        }
        match view {
            View::Base(root) => self.store.range(root, lower, upper, direction),
            View::Overlay(st) => {
                let base = self.store.range(st.base_root, lower, upper, direction)?.peekable();
                let over = st.writes.range::<[u8], _>((lower, upper));
                match direction {
                    Direction::Forward => Ok(Box::new(MergeIter { base, over: over.peekable(), forward: true })),
                    Direction::Reverse => Ok(Box::new(MergeIter { base, over: over.rev().peekable(), forward: false })),
                }
            }
        }
    }

    fn count(&self, table: &str) -> Result<u64, StoreError> {
        self.record(|log| {
            log.ranges.push(RangeAccess { table: table.to_string(), lower: Bound::Unbounded, upper: Bound::Unbounded })
        });
        match self.existing_view(table)? {
            View::Base(root) => self.store.count(root),
            View::Overlay(st) => Ok(st.count),
        }
    }

    fn put(&mut self, table: &str, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        self.write(table, key, Some(value))
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<(), StoreError> {
        self.write(table, key.to_vec(), None)
    }

    fn savepoint(&mut self) -> Savepoint {
        let id = self.next_savepoint;
        self.next_savepoint += 1;
        self.savepoints.push((id, self.undo.len()));
        Savepoint(id)
    }

    fn rollback_to(&mut self, savepoint: Savepoint) -> Result<(), StoreError> {
        self.recent.get_mut().clear();
        let pos = self
            .savepoints
            .iter()
            .position(|(id, _)| *id == savepoint.0)
            .ok_or(StoreError::BadSavepoint { savepoint: savepoint.0 })?;
        let mark = self.savepoints[pos].1;
        self.savepoints.truncate(pos + 1);
        while self.undo.len() > mark {
            let Some(u) = self.undo.pop() else { break };
            match u {
                Undo::Write { table, key, prev, prev_count } => {
                    if let Some(Slot::Live(st)) = self.tables.get_mut(&*table) {
                        match prev {
                            Some(v) => st.writes.insert(key, v),
                            None => st.writes.remove(&key),
                        };
                        st.count = prev_count;
                    }
                }
                Undo::Slot { table, prev } => {
                    match prev {
                        Some(s) => self.tables.insert(table, s),
                        None => self.tables.remove(&table),
                    };
                }
                Undo::Meta { table, prev } => {
                    if let Some(Slot::Live(st)) = self.tables.get_mut(&table) {
                        st.meta = prev;
                    }
                }
            }
        }
        Ok(())
    }

    fn release_savepoint(&mut self, savepoint: Savepoint) -> Result<(), StoreError> {
        let pos = self
            .savepoints
            .iter()
            .position(|(id, _)| *id == savepoint.0)
            .ok_or(StoreError::BadSavepoint { savepoint: savepoint.0 })?;
        self.savepoints.truncate(pos);
        if self.savepoints.is_empty() {
            // Nothing can be rolled back any more.
            self.undo.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Model = BTreeMap<String, (Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>)>;

    fn meta(s: &[u8]) -> TableMeta {
        TableMeta { schema: s.to_vec() }
    }

    fn scan(t: &dyn TableStore, table: &str, dir: Direction) -> Vec<Entry> {
        t.range(table, Bound::Unbounded, Bound::Unbounded, dir).unwrap().map(|r| r.unwrap()).collect()
    }

    fn model_state(store: &Store, model: &Model) -> Hash {
        let tables: Vec<(&str, TableMeta, Vec<Entry>)> = model
            .iter()
            .map(|(n, (s, rows))| (n.as_str(), meta(s), rows.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .collect();
        build_state(store, &tables).unwrap()
    }

    fn check_against(t: &dyn TableStore, model: &Model) {
        let names: Vec<String> = t.tables().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, model.keys().cloned().collect::<Vec<_>>());
        for (name, (schema, rows)) in model {
            assert_eq!(t.table(name).unwrap(), Some(meta(schema)));
            assert_eq!(t.count(name).unwrap(), rows.len() as u64);
            let expected: Vec<Entry> = rows.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            assert_eq!(scan(t, name, Direction::Forward), expected);
            let mut rev = scan(t, name, Direction::Reverse);
            rev.reverse();
            assert_eq!(rev, expected);
            for (k, v) in rows.iter().take(5) {
                assert_eq!(t.get(name, k).unwrap().as_ref(), Some(v));
            }
        }
    }

    #[test]
    fn overlay_basics_and_flush() {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        o.create_table("accounts", meta(b"s1")).unwrap();
        assert!(matches!(o.create_table("accounts", meta(b"")), Err(StoreError::TableExists { .. })));
        assert!(matches!(o.get("nope", b"k"), Err(StoreError::NoSuchTable { .. })));
        for i in 0u32..2000 {
            o.put("accounts", i.to_be_bytes().to_vec(), vec![1; 20]).unwrap();
        }
        o.delete("accounts", &5u32.to_be_bytes()).unwrap();
        assert_eq!(o.count("accounts").unwrap(), 1999);
        let root = o.flush().unwrap();
        let snap = Snapshot::open(&store, root);
        assert_eq!(snap.count("accounts").unwrap(), 1999);
        assert_eq!(snap.get("accounts", &6u32.to_be_bytes()).unwrap(), Some(vec![1; 20]));
        assert_eq!(snap.get("accounts", &5u32.to_be_bytes()).unwrap(), None);
        let mut snap = snap;
        assert!(matches!(snap.put("accounts", vec![], vec![]), Err(StoreError::ReadOnly)));
        assert!(matches!(snap.create_table("x", meta(b"")), Err(StoreError::ReadOnly)));

        // A second block on top: reads-your-writes over the committed base.
        let mut o2 = Overlay::new(&store, root);
        o2.put("accounts", 6u32.to_be_bytes().to_vec(), vec![2]).unwrap();
        assert_eq!(o2.get("accounts", &6u32.to_be_bytes()).unwrap(), Some(vec![2]));
        assert_eq!(o2.count("accounts").unwrap(), 1999);
        let root2 = o2.flush().unwrap();
        assert_ne!(root, root2);
        assert_eq!(Snapshot::open(&store, root).get("accounts", &6u32.to_be_bytes()).unwrap(), Some(vec![1; 20]));
        assert_eq!(Snapshot::open(&store, root2).get("accounts", &6u32.to_be_bytes()).unwrap(), Some(vec![2]));
        store.check_tree(root2).unwrap();
    }

    #[test]
    fn savepoints_nest_and_release() {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        let s0 = o.savepoint();
        o.create_table("t", meta(b"")).unwrap();
        o.put("t", b"a".to_vec(), b"1".to_vec()).unwrap();
        let s1 = o.savepoint();
        o.put("t", b"a".to_vec(), b"2".to_vec()).unwrap();
        o.drop_table("t").unwrap();
        let s2 = o.savepoint();
        o.rollback_to(s1).unwrap();
        assert_eq!(o.get("t", b"a").unwrap(), Some(b"1".to_vec()));
        assert!(matches!(o.rollback_to(s2), Err(StoreError::BadSavepoint { .. })));
        // s1 stays active after a rollback to it.
        o.put("t", b"b".to_vec(), b"3".to_vec()).unwrap();
        o.rollback_to(s1).unwrap();
        assert_eq!(o.get("t", b"b").unwrap(), None);
        o.release_savepoint(s0).unwrap();
        assert!(o.undo.is_empty());
        assert!(matches!(o.rollback_to(s0), Err(StoreError::BadSavepoint { .. })));
        assert_eq!(o.count("t").unwrap(), 1);
    }

    #[test]
    fn a_fork_is_independent_and_its_writes_absorb_as_if_made_here() {
        let store = Store::memory();
        let root = build_state(&store, &[("t", meta(b"s"), vec![(b"a".to_vec(), b"1".to_vec())])]).unwrap();
        let mut main = Overlay::new(&store, root);
        main.put("t", b"b".to_vec(), b"2".to_vec()).unwrap();
        let mut fork = main.fork();
        let before = fork.buffered_bytes();
        fork.record_access();
        fork.put("t", b"c".to_vec(), b"3".to_vec()).unwrap();
        fork.delete("t", b"a").unwrap();
        // A write rolled back leaves the row as it was: absorbed, it is
        // skipped.
        let sp = fork.savepoint();
        fork.put("t", b"b".to_vec(), b"changed".to_vec()).unwrap();
        fork.rollback_to(sp).unwrap();
        let log = fork.stop_access_log().unwrap();
        assert_eq!(main.get("t", b"c").unwrap(), None, "the fork's writes stay in the fork");
        let writes: Vec<RowWrite> = log
            .writes
            .iter()
            .map(|(t, k)| RowWrite { table: t.clone(), key: k.clone(), value: fork.peek(t, k).unwrap() })
            .collect();
        let charged = fork.buffered_bytes() - before;
        main.absorb(&writes, charged).unwrap();
        assert_eq!(main.buffered_bytes(), fork.buffered_bytes());
        let mut direct = Overlay::new(&store, root);
        direct.put("t", b"b".to_vec(), b"2".to_vec()).unwrap();
        direct.put("t", b"c".to_vec(), b"3".to_vec()).unwrap();
        direct.delete("t", b"a").unwrap();
        assert_eq!(main.count("t").unwrap(), 2);
        assert_eq!(main.flush().unwrap(), direct.flush().unwrap());
        // Past the bound, absorbing fails.
        assert!(matches!(main.absorb(&[], MAX_OVERLAY_BYTES), Err(StoreError::LimitExceeded { .. })));
    }

    #[test]
    fn access_log_records_reads_writes_and_ranges() {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        o.create_table("t", meta(b"")).unwrap();
        o.record_access();
        o.put("t", b"k".to_vec(), b"v".to_vec()).unwrap();
        o.get("t", b"x").unwrap();
        let _ = o.range("t", Bound::Included(b"a"), Bound::Excluded(b"z"), Direction::Forward).unwrap().count();
        o.table("t").unwrap();
        let log = o.take_access_log().unwrap();
        assert!(log.writes.contains(&("t".to_string(), b"k".to_vec())));
        assert!(log.reads.contains(&("t".to_string(), b"x".to_vec())));
        assert_eq!(log.ranges.len(), 1);
        assert_eq!(log.ranges[0].lower, Bound::Included(b"a".to_vec()));
        assert!(log.tables_read.contains("t"));
        assert!(o.take_access_log().unwrap().writes.is_empty());
    }

    #[test]
    fn inverted_ranges_are_empty_not_panics() {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        o.create_table("t", meta(b"")).unwrap();
        o.put("t", b"m".to_vec(), b"v".to_vec()).unwrap();
        for (l, u) in [
            (Bound::Included(&b"z"[..]), Bound::Included(&b"a"[..])),
            (Bound::Excluded(&b"m"[..]), Bound::Excluded(&b"m"[..])),
            (Bound::Included(&b"m"[..]), Bound::Excluded(&b"m"[..])),
        ] {
            assert_eq!(o.range("t", l, u, Direction::Forward).unwrap().count(), 0);
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Create(u8),
        Drop(u8),
        SetMeta(u8, u8),
        Put(u8, u16, u8),
        Delete(u8, u16),
        Get(u8, u16),
        Savepoint,
        Rollback(u8),
        Release(u8),
        Flush,
    }

    /// Mostly a few hot keys, sometimes any of many.
    fn arb_key() -> impl Strategy<Value = u16> {
        prop_oneof![3 => 0u16..6, 1 => 0u16..600]
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => any::<u8>().prop_map(|t| Op::Create(t % 3)),
            1 => any::<u8>().prop_map(|t| Op::Drop(t % 3)),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(t, m)| Op::SetMeta(t % 3, m)),
            12 => (any::<u8>(), arb_key(), any::<u8>()).prop_map(|(t, k, v)| Op::Put(t % 3, k, v)),
            4 => (any::<u8>(), arb_key()).prop_map(|(t, k)| Op::Delete(t % 3, k)),
            // Reads again and again of a few keys, between writes, drops
            // and rollbacks: what the recent-reads slots must get right.
            10 => (any::<u8>(), arb_key()).prop_map(|(t, k)| Op::Get(t % 3, k)),
            1 => Just(Op::Savepoint),
            1 => any::<u8>().prop_map(Op::Rollback),
            1 => any::<u8>().prop_map(Op::Release),
            1 => Just(Op::Flush),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The overlay agrees with a naive model through writes, table
        /// changes, savepoints and flushes, and every flushed state root
        /// equals a from-scratch build of the model.
        #[test]
        fn overlay_matches_model(ops in proptest::collection::vec(arb_op(), 1..300)) {
            let store = Store::memory();
            let mut o = Overlay::new(&store, Hash::ZERO);
            let mut model: Model = BTreeMap::new();
            let mut saved: Vec<(Savepoint, Model)> = Vec::new();
            let name = |t: u8| format!("t{t}");
            for op in ops {
                match op {
                    Op::Create(t) => {
                        let r = o.create_table(&name(t), meta(&[t]));
                        prop_assert_eq!(r.is_ok(), !model.contains_key(&name(t)));
                        model.entry(name(t)).or_insert((vec![t], BTreeMap::new()));
                    }
                    Op::Drop(t) => {
                        let r = o.drop_table(&name(t));
                        prop_assert_eq!(r.is_ok(), model.remove(&name(t)).is_some());
                    }
                    Op::SetMeta(t, m) => {
                        let r = o.set_table_meta(&name(t), meta(&[m, m]));
                        prop_assert_eq!(r.is_ok(), model.contains_key(&name(t)));
                        if let Some(e) = model.get_mut(&name(t)) { e.0 = vec![m, m]; }
                    }
                    Op::Put(t, k, v) => {
                        let r = o.put(&name(t), k.to_be_bytes().to_vec(), vec![v; (v % 50) as usize]);
                        prop_assert_eq!(r.is_ok(), model.contains_key(&name(t)));
                        if let Some(e) = model.get_mut(&name(t)) { e.1.insert(k.to_be_bytes().to_vec(), vec![v; (v % 50) as usize]); }
                    }
                    Op::Delete(t, k) => {
                        let r = o.delete(&name(t), &k.to_be_bytes());
                        prop_assert_eq!(r.is_ok(), model.contains_key(&name(t)));
                        if let Some(e) = model.get_mut(&name(t)) { e.1.remove(&k.to_be_bytes()[..]); }
                    }
                    Op::Get(t, k) => {
                        let r = o.get(&name(t), &k.to_be_bytes());
                        match model.get(&name(t)) {
                            None => prop_assert!(r.is_err()),
                            Some(e) => prop_assert_eq!(r.unwrap(), e.1.get(&k.to_be_bytes()[..]).cloned()),
                        }
                    }
                    Op::Savepoint => saved.push((o.savepoint(), model.clone())),
                    Op::Rollback(i) => {
                        if !saved.is_empty() {
                            let i = i as usize % saved.len();
                            o.rollback_to(saved[i].0).unwrap();
                            model = saved[i].1.clone();
                            saved.truncate(i + 1);
                        }
                    }
                    Op::Release(i) => {
                        if !saved.is_empty() {
                            let i = i as usize % saved.len();
                            o.release_savepoint(saved[i].0).unwrap();
                            saved.truncate(i);
                        }
                    }
                    Op::Flush => {
                        let root = o.flush().unwrap();
                        prop_assert_eq!(root, model_state(&store, &model));
                        check_against(&Snapshot::open(&store, root), &model);
                    }
                }
            }
            check_against(&o, &model);
            let root = o.flush().unwrap();
            prop_assert_eq!(root, model_state(&store, &model));
        }
    }
}
