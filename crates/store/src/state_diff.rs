//! Row-level difference of two states, table by table.
//!
//! A state root is the root of the catalogue tree, which maps table names
//! to descriptors (tree root and schema). The catalogues are diffed first:
//! only tables whose descriptor differs are visited, and each of those is
//! diffed as a tree ([`Store::diff`]), which skips the subtrees both sides
//! share. The cost therefore follows the size of the change, not of the
//! state: a table nobody touched costs nothing, a table with one changed
//! row costs one path per side.
//!
//! A table created (dropped) between the two states shows every row as
//! added (removed): its other side is the empty tree. The walk stops after
//! `max_rows` row differences in all and says it was truncated.

use crate::diff::DiffEntry;
use crate::state::decode_descriptor;
use crate::store::Store;
use crate::tables::TableMeta;
use crate::{Hash, StoreError};

/// The differences of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDiff {
    pub table: String,
    /// The schema in the first state (`None`: the table did not exist).
    pub old_meta: Option<TableMeta>,
    /// The schema in the second state (`None`: the table was dropped).
    pub new_meta: Option<TableMeta>,
    /// Row differences in key order.
    pub rows: Vec<DiffEntry>,
}

/// The differences of two states.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// Tables that differ, in name order.
    pub tables: Vec<TableDiff>,
    /// Whether the walk stopped at `max_rows` before the end.
    pub truncated: bool,
}

impl Store {
    /// Differences from state `from` to state `to`, only of table `only`
    /// when given, at most `max_rows` row differences in all.
    pub fn diff_state(
        &self,
        from: Hash,
        to: Hash,
        only: Option<&str>,
        max_rows: usize,
    ) -> Result<StateDiff, StoreError> {
        self.diff_state_where(from, to, &|name, _| only.is_none_or(|t| t == name), max_rows)
    }

    /// [`Store::diff_state`] of the tables `keep` accepts (given the name
    /// and the newer schema, or the older one for a dropped table): the
    /// rows of a table left out are never walked, so they cost nothing and
    /// take nothing from `max_rows`.
    pub fn diff_state_where(
        &self,
        from: Hash,
        to: Hash,
        keep: &dyn Fn(&str, &TableMeta) -> bool,
        max_rows: usize,
    ) -> Result<StateDiff, StoreError> {
        let mut out = StateDiff::default();
        let mut budget = max_rows;
        for entry in self.diff(from, to)? {
            let entry = entry?;
            let name = String::from_utf8_lossy(&entry.key).into_owned();
            let old = entry.old.as_deref().map(|b| decode_descriptor(&name, b)).transpose()?;
            let new = entry.new.as_deref().map(|b| decode_descriptor(&name, b)).transpose()?;
            match new.as_ref().or(old.as_ref()) {
                Some((_, meta)) if keep(&name, meta) => {}
                _ => continue,
            }
            let old_root = old.as_ref().map_or(Hash::ZERO, |d| d.0);
            let new_root = new.as_ref().map_or(Hash::ZERO, |d| d.0);
            let mut rows = Vec::new();
            if old_root != new_root {
                for row in self.diff(old_root, new_root)? {
                    if budget == 0 {
                        out.truncated = true;
                        break;
                    }
                    rows.push(row?);
                    budget -= 1;
                }
            }
            out.tables.push(TableDiff { table: name, old_meta: old.map(|d| d.1), new_meta: new.map(|d| d.1), rows });
            if out.truncated {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::codec::{encode_key, encode_row, Value};
    use crate::state::{build_state, Overlay};
    use crate::store::Store;
    use crate::tables::{TableMeta, TableStore};
    use crate::Hash;

    fn meta(s: &str) -> TableMeta {
        TableMeta { schema: s.as_bytes().to_vec() }
    }

    fn key(i: i64) -> Vec<u8> {
        encode_key(&[Value::Int(i)])
    }

    fn row(i: i64, s: &str) -> Vec<u8> {
        encode_row(&[Value::Int(i), Value::Text(s.into())])
    }

    #[test]
    fn rows_added_removed_changed_and_whole_tables() {
        let store = Store::memory();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..2_000).map(|i| (key(i), row(i, "a"))).collect();
        let base =
            build_state(&store, &[("s.big", meta("big"), rows), ("s.gone", meta("gone"), vec![(key(1), row(1, "x"))])])
                .unwrap();
        let mut o = Overlay::new(&store, base);
        o.put("s.big", key(5), row(5, "changed")).unwrap();
        o.delete("s.big", &key(7)).unwrap();
        o.put("s.big", key(5_000), row(5_000, "new")).unwrap();
        o.drop_table("s.gone").unwrap();
        o.create_table("s.fresh", meta("fresh")).unwrap();
        o.put("s.fresh", key(1), row(1, "f")).unwrap();
        let next = o.flush().unwrap();

        let d = store.diff_state(base, next, None, 100).unwrap();
        assert!(!d.truncated);
        let names: Vec<&str> = d.tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, ["s.big", "s.fresh", "s.gone"]);
        let big = &d.tables[0];
        let keys: Vec<Vec<u8>> = big.rows.iter().map(|r| r.key.clone()).collect();
        assert_eq!(keys, [key(5), key(7), key(5_000)]);
        assert_eq!((big.rows[0].old.clone(), big.rows[0].new.clone()), (Some(row(5, "a")), Some(row(5, "changed"))));
        assert_eq!(big.rows[1].new, None, "deleted");
        assert_eq!(big.rows[2].old, None, "added");
        assert_eq!((d.tables[1].old_meta.clone(), d.tables[1].rows.len()), (None, 1), "created: all rows added");
        assert_eq!((d.tables[2].new_meta.clone(), d.tables[2].rows[0].new.clone()), (None, None), "dropped");

        // One table only; a budget that truncates; no change at all.
        let only = store.diff_state(base, next, Some("s.fresh"), 100).unwrap();
        assert_eq!(only.tables.len(), 1);
        let cut = store.diff_state(base, next, None, 2).unwrap();
        assert!(cut.truncated);
        assert_eq!(cut.tables.iter().map(|t| t.rows.len()).sum::<usize>(), 2);
        assert!(store.diff_state(next, next, None, 100).unwrap().tables.is_empty());
        // Reversed: what was added is removed.
        let back = store.diff_state(next, base, Some("s.big"), 100).unwrap();
        assert_eq!(back.tables[0].rows[2].new, None);
        assert_ne!(base, Hash::ZERO);
    }
}
