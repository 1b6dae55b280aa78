//! A simple in-memory [`TableStore`], for tools, tests and benchmarks
//! until the store crate's overlay is available here. Savepoints keep an
//! undo log.

use std::collections::BTreeMap;
use std::ops::Bound;

use aergo_store::{Direction, RangeIter, Savepoint, StoreError, TableMeta, TableStore};

enum Undo {
    Put { table: String, key: Vec<u8>, old: Option<Vec<u8>> },
    Create { table: String },
    Drop { table: String, meta: TableMeta, rows: BTreeMap<Vec<u8>, Vec<u8>> },
    Meta { table: String, old: TableMeta },
}

type Rows = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Default)]
pub struct MemStore {
    tables: BTreeMap<String, (TableMeta, Rows)>,
    undo: Vec<Undo>,
    marks: Vec<usize>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn log(&mut self, u: Undo) {
        // Without an open savepoint nothing can be rolled back: keep no log.
        if !self.marks.is_empty() {
            self.undo.push(u);
        }
    }

    fn rows_mut(&mut self, table: &str) -> Result<&mut Rows, StoreError> {
        self.tables.get_mut(table).map(|(_, r)| r).ok_or_else(|| StoreError::NoSuchTable { table: table.into() })
    }

    /// Every table's rows, for comparing states in tests.
    pub fn dump(&self) -> Vec<(String, Vec<aergo_store::Entry>)> {
        self.tables
            .iter()
            .map(|(n, (_, r))| (n.clone(), r.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .collect()
    }
}

impl TableStore for MemStore {
    fn table(&self, table: &str) -> Result<Option<TableMeta>, StoreError> {
        Ok(self.tables.get(table).map(|(m, _)| m.clone()))
    }

    fn tables(&self) -> Result<Vec<(String, TableMeta)>, StoreError> {
        Ok(self.tables.iter().map(|(n, (m, _))| (n.clone(), m.clone())).collect())
    }

    fn create_table(&mut self, table: &str, meta: TableMeta) -> Result<(), StoreError> {
        if self.tables.contains_key(table) {
            return Err(StoreError::TableExists { table: table.into() });
        }
        self.tables.insert(table.into(), (meta, BTreeMap::new()));
        self.log(Undo::Create { table: table.into() });
        Ok(())
    }

    fn set_table_meta(&mut self, table: &str, meta: TableMeta) -> Result<(), StoreError> {
        let entry = self.tables.get_mut(table).ok_or_else(|| StoreError::NoSuchTable { table: table.into() })?;
        let old = std::mem::replace(&mut entry.0, meta);
        self.log(Undo::Meta { table: table.into(), old });
        Ok(())
    }

    fn drop_table(&mut self, table: &str) -> Result<(), StoreError> {
        let (meta, rows) = self.tables.remove(table).ok_or_else(|| StoreError::NoSuchTable { table: table.into() })?;
        self.log(Undo::Drop { table: table.into(), meta, rows });
        Ok(())
    }

    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let (_, rows) = self.tables.get(table).ok_or_else(|| StoreError::NoSuchTable { table: table.into() })?;
        Ok(rows.get(key).cloned())
    }

    fn range<'a>(
        &'a self,
        table: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<RangeIter<'a>, StoreError> {
        let (_, rows) = self.tables.get(table).ok_or_else(|| StoreError::NoSuchTable { table: table.into() })?;
        let empty = match (lower, upper) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a > b || (a == b && !(matches!(lower, Bound::Included(_)) && matches!(upper, Bound::Included(_))))
            }
            _ => false,
        };
        if empty {
            return Ok(Box::new(std::iter::empty()));
        }
        let r = rows.range::<[u8], _>((lower, upper)).map(|(k, v)| Ok((k.clone(), v.clone())));
        Ok(match direction {
            Direction::Forward => Box::new(r),
            Direction::Reverse => Box::new(r.rev()),
        })
    }

    fn count(&self, table: &str) -> Result<u64, StoreError> {
        let (_, rows) = self.tables.get(table).ok_or_else(|| StoreError::NoSuchTable { table: table.into() })?;
        Ok(rows.len() as u64)
    }

    fn put(&mut self, table: &str, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        let rows = self.rows_mut(table)?;
        let old = rows.insert(key.clone(), value);
        self.log(Undo::Put { table: table.into(), key, old });
        Ok(())
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<(), StoreError> {
        let rows = self.rows_mut(table)?;
        let old = rows.remove(key);
        if old.is_some() {
            self.log(Undo::Put { table: table.into(), key: key.to_vec(), old });
        }
        Ok(())
    }

    fn savepoint(&mut self) -> Savepoint {
        self.marks.push(self.undo.len());
        Savepoint(self.marks.len() as u64 - 1)
    }

    fn rollback_to(&mut self, savepoint: Savepoint) -> Result<(), StoreError> {
        let idx = savepoint.0 as usize;
        let mark = *self.marks.get(idx).ok_or(StoreError::BadSavepoint { savepoint: savepoint.0 })?;
        while self.undo.len() > mark {
            match self.undo.pop() {
                Some(Undo::Put { table, key, old }) => {
                    if let Some((_, rows)) = self.tables.get_mut(&table) {
                        match old {
                            Some(v) => rows.insert(key, v),
                            None => rows.remove(&key),
                        };
                    }
                }
                Some(Undo::Create { table }) => {
                    self.tables.remove(&table);
                }
                Some(Undo::Drop { table, meta, rows }) => {
                    self.tables.insert(table, (meta, rows));
                }
                Some(Undo::Meta { table, old }) => {
                    if let Some(e) = self.tables.get_mut(&table) {
                        e.0 = old;
                    }
                }
                None => break,
            }
        }
        // The savepoint itself stays active (the TableStore contract).
        self.marks.truncate(idx + 1);
        Ok(())
    }

    fn release_savepoint(&mut self, savepoint: Savepoint) -> Result<(), StoreError> {
        let idx = savepoint.0 as usize;
        if idx >= self.marks.len() {
            return Err(StoreError::BadSavepoint { savepoint: savepoint.0 });
        }
        self.marks.truncate(idx);
        if self.marks.is_empty() {
            // Nothing can be rolled back any more.
            self.undo.clear();
        }
        Ok(())
    }
}
