//! Three-way merge of whole states (catalogues), table by table.
//!
//! Tables are matched by name. A table changed (rows, schema, creation or
//! drop) on one side only takes that side's version. A table changed on both
//! sides is merged row by row with [`Store::merge3`] when both sides agree on
//! its schema (a table created on both sides merges against an empty base);
//! otherwise (schemas differ, or dropped on one side and changed on the
//! other) it is a [`TableConflict`] and the merged state keeps our version.
//! Secondary indexes are tables to this crate: the layer above should pass
//! them in `rebuilt` so they keep our version untouched and rebuild them from
//! the merged rows, as merging index trees is not meaningful.

use crate::diff::{Conflict, Resolution};
use crate::node::KIND_TREE_REFS;
use crate::state::{decode_descriptor, encode_descriptor};
use crate::store::Store;
use crate::tables::TableMeta;
use crate::{Hash, StoreError};

/// A table that could not be merged row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableConflict {
    pub table: String,
    pub reason: &'static str,
    pub base: Option<(Hash, TableMeta)>,
    pub ours: Option<(Hash, TableMeta)>,
    pub theirs: Option<(Hash, TableMeta)>,
}

/// Result of a state merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateMergeOutcome {
    /// The merged state root (nodes staged).
    pub root: Hash,
    /// Tables kept at our version because they could not be merged.
    pub table_conflicts: Vec<TableConflict>,
    /// Row conflicts, with the table they belong to and their resolution.
    pub row_conflicts: Vec<(String, Conflict)>,
    /// Tables whose merged rows differ from ours (to re-check constraints).
    pub merged_tables: Vec<String>,
}

impl StateMergeOutcome {
    /// Whether nothing was left unresolved.
    pub fn is_clean(&self) -> bool {
        self.table_conflicts.is_empty()
            && self.row_conflicts.iter().all(|(_, c)| c.resolution != Resolution::Unresolved)
    }
}

fn descriptor(table: &str, bytes: Option<&Vec<u8>>) -> Result<Option<(Hash, TableMeta)>, StoreError> {
    bytes.map(|b| decode_descriptor(table, b)).transpose()
}

impl Store {
    /// Merges state `theirs` into state `ours` relative to `base`. The
    /// resolver gets `(table, conflict)` for each row conflict. Tables for
    /// which `rebuilt(table)` is true are left at our version (indexes).
    pub fn merge3_state<F, R>(
        &self,
        base: Hash,
        ours: Hash,
        theirs: Hash,
        rebuilt: R,
        mut resolver: F,
    ) -> Result<StateMergeOutcome, StoreError>
    where
        F: FnMut(&str, &Conflict) -> Result<Resolution, StoreError>,
        R: Fn(&str) -> bool,
    {
        let mut out = StateMergeOutcome {
            root: ours,
            table_conflicts: Vec::new(),
            row_conflicts: Vec::new(),
            merged_tables: Vec::new(),
        };
        let mut o = self.diff(base, ours)?.peekable();
        let mut t = self.diff(base, theirs)?.peekable();
        let mut edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        loop {
            let order = match (o.peek(), t.peek()) {
                (None, None) => break,
                (Some(Err(_)), _) | (_, Some(Err(_))) => {
                    let e = match o.peek() {
                        Some(Err(_)) => o.next(),
                        _ => t.next(),
                    };
                    return Err(e.and_then(Result::err).unwrap_or(StoreError::Backend("catalogue diff failed".into())));
                }
                (Some(Ok(_)), None) => std::cmp::Ordering::Less,
                (None, Some(Ok(_))) => std::cmp::Ordering::Greater,
                (Some(Ok(a)), Some(Ok(b))) => a.key.cmp(&b.key),
            };
            match order {
                std::cmp::Ordering::Less => {
                    o.next();
                }
                std::cmp::Ordering::Greater => {
                    let Some(Ok(d)) = t.next() else { continue };
                    let name = String::from_utf8_lossy(&d.key).into_owned();
                    if !rebuilt(&name) {
                        out.merged_tables.push(name);
                        edits.push((d.key, d.new));
                    }
                }
                std::cmp::Ordering::Equal => {
                    let (Some(Ok(a)), Some(Ok(b))) = (o.next(), t.next()) else { continue };
                    if a.new == b.new {
                        continue;
                    }
                    let name = String::from_utf8_lossy(&a.key).into_owned();
                    if rebuilt(&name) {
                        continue;
                    }
                    let base_d = descriptor(&name, a.old.as_ref())?;
                    let ours_d = descriptor(&name, a.new.as_ref())?;
                    let theirs_d = descriptor(&name, b.new.as_ref())?;
                    let conflict = |reason| TableConflict {
                        table: name.clone(),
                        reason,
                        base: base_d.clone(),
                        ours: ours_d.clone(),
                        theirs: theirs_d.clone(),
                    };
                    let (Some((ours_root, ours_meta)), Some((theirs_root, theirs_meta))) = (&ours_d, &theirs_d) else {
                        out.table_conflicts.push(conflict("dropped on one side, changed on the other"));
                        continue;
                    };
                    if ours_meta != theirs_meta {
                        out.table_conflicts.push(conflict("schema changed differently on both sides"));
                        continue;
                    }
                    let base_root = base_d.as_ref().map_or(Hash::ZERO, |(r, _)| *r);
                    let merged = self.merge3(base_root, *ours_root, *theirs_root, |c| resolver(&name, c))?;
                    out.row_conflicts.extend(merged.conflicts.into_iter().map(|c| (name.clone(), c)));
                    if merged.root != *ours_root {
                        out.merged_tables.push(name.clone());
                        edits.push((a.key, Some(encode_descriptor(merged.root, &ours_meta.schema))));
                    }
                }
            }
        }
        let refs: Vec<(&[u8], Option<&[u8]>)> = edits.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
        out.root = crate::apply::apply(self, ours, KIND_TREE_REFS, &refs)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Overlay, Snapshot};
    use crate::tables::TableStore;

    fn meta(s: &[u8]) -> TableMeta {
        TableMeta { schema: s.to_vec() }
    }

    #[test]
    fn merges_tables_and_rows() {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        for t in ["accounts", "idx", "logs", "gone"] {
            o.create_table(t, meta(b"v1")).unwrap();
        }
        for i in 0u32..100 {
            o.put("accounts", i.to_be_bytes().to_vec(), vec![0]).unwrap();
        }
        let base = o.flush().unwrap();

        let mut a = Overlay::new(&store, base);
        a.put("accounts", 1u32.to_be_bytes().to_vec(), vec![1]).unwrap(); // ours only
        a.put("accounts", 3u32.to_be_bytes().to_vec(), vec![3]).unwrap(); // conflict
        a.put("idx", b"x".to_vec(), b"ours".to_vec()).unwrap();
        a.set_table_meta("logs", meta(b"v2-ours")).unwrap();
        a.drop_table("gone").unwrap();
        let ours = a.flush().unwrap();

        let mut b = Overlay::new(&store, base);
        b.put("accounts", 2u32.to_be_bytes().to_vec(), vec![2]).unwrap(); // theirs only
        b.put("accounts", 3u32.to_be_bytes().to_vec(), vec![4]).unwrap(); // conflict
        b.put("idx", b"x".to_vec(), b"theirs".to_vec()).unwrap();
        b.set_table_meta("logs", meta(b"v2-theirs")).unwrap();
        b.put("gone", b"k".to_vec(), b"v".to_vec()).unwrap();
        b.create_table("new", meta(b"n")).unwrap();
        let theirs = b.flush().unwrap();

        let out = store
            .merge3_state(
                base,
                ours,
                theirs,
                |t| t == "idx",
                |_, c| Ok(Resolution::Value(Some([c.ours.clone().unwrap(), c.theirs.clone().unwrap()].concat()))),
            )
            .unwrap();
        let snap = Snapshot::open(&store, out.root);
        assert_eq!(snap.get("accounts", &1u32.to_be_bytes()).unwrap(), Some(vec![1]));
        assert_eq!(snap.get("accounts", &2u32.to_be_bytes()).unwrap(), Some(vec![2]));
        assert_eq!(snap.get("accounts", &3u32.to_be_bytes()).unwrap(), Some(vec![3, 4]));
        assert_eq!(snap.get("idx", b"x").unwrap(), Some(b"ours".to_vec()));
        assert_eq!(snap.table("logs").unwrap(), Some(meta(b"v2-ours")));
        assert_eq!(snap.table("gone").unwrap(), None);
        assert_eq!(snap.table("new").unwrap(), Some(meta(b"n")));
        let reasons: Vec<_> = out.table_conflicts.iter().map(|c| (c.table.as_str(), c.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                ("gone", "dropped on one side, changed on the other"),
                ("logs", "schema changed differently on both sides")
            ]
        );
        assert_eq!(out.row_conflicts.len(), 1);
        assert_eq!(out.merged_tables, vec!["accounts".to_string(), "new".to_string()]);
        assert!(!out.is_clean());
    }
}
