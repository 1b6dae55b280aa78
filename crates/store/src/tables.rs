//! The table-level interface that the SQL engine and the state transition
//! program against.
//!
//! A *state* is a set of named tables; each table is an ordered map from key
//! bytes (see [`crate::codec::encode_key`]) to value bytes (usually
//! [`crate::codec::encode_row`]) plus an opaque schema blob that only the
//! layer above interprets. Secondary indexes are tables too: the store does
//! not distinguish them.
//!
//! [`TableStore`] is a trait rather than one concrete type because several
//! views of state implement it: the block overlay on a snapshot, a read-only
//! snapshot, and (later) the per-transaction views of the parallel executor.
//!
//! Savepoints give statement-, call- and transaction-level atomicity: every
//! write after [`TableStore::savepoint`] is undone by
//! [`TableStore::rollback_to`], including table creation and drops.

use std::ops::Bound;

use crate::StoreError;

/// Upper bound on a table name's length in bytes.
pub const MAX_TABLE_NAME_BYTES: usize = 255;

/// What the catalogue records about one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableMeta {
    /// Opaque schema description, interpreted by the layer above.
    pub schema: Vec<u8>,
}

/// A marker returned by [`TableStore::savepoint`]. Savepoints nest: rolling
/// back to one discards every later one too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Savepoint(pub u64);

/// One `(key, value)` pair produced by a range scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A boxed iterator over a range scan, in key order (or reverse key order).
pub type RangeIter<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// Direction of a range scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
}

/// Read and write access to the tables of one state.
///
/// Every method that names a table returns [`StoreError::NoSuchTable`] when
/// it does not exist; writes through a read-only view return
/// [`StoreError::ReadOnly`].
pub trait TableStore {
    /// The catalogue entry of `table`, or `None` if there is no such table.
    fn table(&self, table: &str) -> Result<Option<TableMeta>, StoreError>;

    /// All tables with their metadata, ordered by name.
    fn tables(&self) -> Result<Vec<(String, TableMeta)>, StoreError>;

    /// Creates an empty table. Fails with [`StoreError::TableExists`] if the
    /// name is taken.
    fn create_table(&mut self, table: &str, meta: TableMeta) -> Result<(), StoreError>;

    /// Replaces the metadata of an existing table, keeping its rows.
    fn set_table_meta(&mut self, table: &str, meta: TableMeta) -> Result<(), StoreError>;

    /// Drops a table and all its rows.
    fn drop_table(&mut self, table: &str) -> Result<(), StoreError>;

    /// Reads one value.
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Scans `[lower, upper]` (bounds as given) in `direction`.
    fn range<'a>(
        &'a self,
        table: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<RangeIter<'a>, StoreError>;

    /// Number of entries in the table.
    fn count(&self, table: &str) -> Result<u64, StoreError>;

    /// Inserts or replaces one value.
    fn put(&mut self, table: &str, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError>;

    /// Deletes one key; deleting an absent key is not an error.
    fn delete(&mut self, table: &str, key: &[u8]) -> Result<(), StoreError>;

    /// Marks the current state so later writes can be undone.
    fn savepoint(&mut self) -> Savepoint;

    /// Undoes every write made since `savepoint` was taken and forgets all
    /// savepoints taken after it. The savepoint itself stays active.
    fn rollback_to(&mut self, savepoint: Savepoint) -> Result<(), StoreError>;

    /// Forgets `savepoint` and every later one, keeping their writes (a
    /// committed statement or transaction). Lets the view drop undo data that
    /// can no longer be used. Views without undo data need not override it.
    fn release_savepoint(&mut self, savepoint: Savepoint) -> Result<(), StoreError> {
        let _ = savepoint;
        Ok(())
    }
}
