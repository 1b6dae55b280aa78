//! Diff of two trees and three-way merge.
//!
//! # Diff
//!
//! Two cursors walk the trees in key order. A cursor may stand on a whole
//! subtree without loading it. When both stand on subtrees with the same hash
//! the subtrees are equal (same content, same key range) and both cursors
//! have consumed exactly the keys before them, so both skip them at once.
//! Otherwise the cursor whose item is the larger subtree descends (both, if
//! equal levels), and once both stand on leaf entries they are merged by key.
//! Because chunking is history-independent, after a change the two trees
//! re-align on the same node boundaries and the skipping resumes, so the cost
//! is proportional to the number of changes times the depth, not to the size
//! of the trees.
//!
//! # Three-way merge
//!
//! `merge3(base, ours, theirs)` walks `diff(base, ours)` and
//! `diff(base, theirs)` together. A key changed only on their side takes
//! their value; a key changed only on ours keeps ours; a key changed the same
//! way on both sides is no conflict. A key changed differently is a conflict,
//! handed to the caller's resolver; the result is applied to `ours` in one
//! batch.

use crate::cursor::Cursor;
use crate::store::Store;
use crate::{Hash, StoreError};

/// Upper bound on the conflicts one merge may report.
pub const MAX_MERGE_CONFLICTS: usize = 1 << 20;

/// One difference between two trees: `old` in the first, `new` in the second
/// (`None` where the key is absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffEntry {
    pub key: Vec<u8>,
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
}

/// Ordered stream of differences between two trees.
pub struct Diff<'s> {
    a: Cursor<'s>,
    b: Cursor<'s>,
    done: bool,
}

impl<'s> Diff<'s> {
    pub(crate) fn new(store: &'s Store, from: Hash, to: Hash) -> Result<Self, StoreError> {
        if from == to {
            let a = Cursor::at_start(store, Hash::ZERO)?;
            let b = Cursor::at_start(store, Hash::ZERO)?;
            return Ok(Diff { a, b, done: true });
        }
        Ok(Diff { a: Cursor::at_start(store, from)?, b: Cursor::at_start(store, to)?, done: false })
    }

    fn step(&mut self) -> Result<Option<DiffEntry>, StoreError> {
        loop {
            match (self.a.is_end(), self.b.is_end()) {
                (true, true) => return Ok(None),
                (false, true) => {
                    self.a.descend_to_leaf(false)?;
                    let Some((k, v)) = self.a.entry() else { continue };
                    let d = DiffEntry { key: k.to_vec(), old: Some(v.to_vec()), new: None };
                    self.a.advance();
                    return Ok(Some(d));
                }
                (true, false) => {
                    self.b.descend_to_leaf(false)?;
                    let Some((k, v)) = self.b.entry() else { continue };
                    let d = DiffEntry { key: k.to_vec(), old: None, new: Some(v.to_vec()) };
                    self.b.advance();
                    return Ok(Some(d));
                }
                (false, false) => {}
            }
            if let (Some((ha, _)), Some((hb, _))) = (self.a.subtree(), self.b.subtree()) {
                if ha == hb {
                    self.a.advance();
                    self.b.advance();
                    continue;
                }
            }
            let la = self.a.item_level().unwrap_or(0);
            let lb = self.b.item_level().unwrap_or(0);
            if la > lb {
                self.a.descend(false)?;
                continue;
            }
            if lb > la {
                self.b.descend(false)?;
                continue;
            }
            if la > 0 {
                self.a.descend(false)?;
                self.b.descend(false)?;
                continue;
            }
            let (Some((ka, va)), Some((kb, vb))) = (self.a.entry(), self.b.entry()) else {
                return Err(StoreError::Backend("diff cursors out of step".into()));
            };
            match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    let d = DiffEntry { key: ka.to_vec(), old: Some(va.to_vec()), new: None };
                    self.a.advance();
                    return Ok(Some(d));
                }
                std::cmp::Ordering::Greater => {
                    let d = DiffEntry { key: kb.to_vec(), old: None, new: Some(vb.to_vec()) };
                    self.b.advance();
                    return Ok(Some(d));
                }
                std::cmp::Ordering::Equal => {
                    let d = (va != vb).then(|| DiffEntry {
                        key: ka.to_vec(),
                        old: Some(va.to_vec()),
                        new: Some(vb.to_vec()),
                    });
                    self.a.advance();
                    self.b.advance();
                    if d.is_some() {
                        return Ok(d);
                    }
                }
            }
        }
    }
}

impl Iterator for Diff<'_> {
    type Item = Result<DiffEntry, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(d)) => Some(Ok(d)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// How the resolver settles a conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Keep our value.
    Ours,
    /// Take their value.
    Theirs,
    /// Put this value (`None` deletes the key).
    Value(Option<Vec<u8>>),
    /// Leave it unresolved: the merged tree keeps our value and the conflict
    /// is reported as unresolved.
    Unresolved,
}

/// A key changed differently on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub key: Vec<u8>,
    pub base: Option<Vec<u8>>,
    pub ours: Option<Vec<u8>>,
    pub theirs: Option<Vec<u8>>,
    /// What the resolver decided.
    pub resolution: Resolution,
}

/// Result of a three-way merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeOutcome {
    pub root: Hash,
    pub conflicts: Vec<Conflict>,
}

impl MergeOutcome {
    /// Whether every conflict was resolved.
    pub fn is_clean(&self) -> bool {
        self.conflicts.iter().all(|c| c.resolution != Resolution::Unresolved)
    }
}

impl Store {
    /// Ordered differences from tree `from` to tree `to`.
    pub fn diff(&self, from: Hash, to: Hash) -> Result<Diff<'_>, StoreError> {
        Diff::new(self, from, to)
    }

    /// Three-way merge of `theirs` into `ours` relative to their common
    /// `base`. The resolver sees each conflict (with `resolution` set to
    /// `Unresolved`) and returns how to settle it; an error from it aborts the
    /// merge. New nodes are staged.
    pub fn merge3<F>(&self, base: Hash, ours: Hash, theirs: Hash, mut resolver: F) -> Result<MergeOutcome, StoreError>
    where
        F: FnMut(&Conflict) -> Result<Resolution, StoreError>,
    {
        let mut o = self.diff(base, ours)?.peekable();
        let mut t = self.diff(base, theirs)?.peekable();
        let mut edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut conflicts = Vec::new();
        loop {
            let order = match (o.peek(), t.peek()) {
                (None, None) => break,
                (Some(Err(_)), _) => {
                    return Err(o.next().and_then(Result::err).unwrap_or(StoreError::Backend("diff".into())))
                }
                (_, Some(Err(_))) => {
                    return Err(t.next().and_then(Result::err).unwrap_or(StoreError::Backend("diff".into())))
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
                    if let Some(Ok(d)) = t.next() {
                        edits.push((d.key, d.new));
                    }
                }
                std::cmp::Ordering::Equal => {
                    let (Some(Ok(a)), Some(Ok(b))) = (o.next(), t.next()) else { continue };
                    if a.new == b.new {
                        continue;
                    }
                    if conflicts.len() >= MAX_MERGE_CONFLICTS {
                        return Err(StoreError::LimitExceeded {
                            what: "merge conflicts",
                            max: MAX_MERGE_CONFLICTS as u64,
                        });
                    }
                    let mut c = Conflict {
                        key: a.key,
                        base: a.old,
                        ours: a.new,
                        theirs: b.new,
                        resolution: Resolution::Unresolved,
                    };
                    let r = resolver(&c)?;
                    match &r {
                        Resolution::Ours | Resolution::Unresolved => {}
                        Resolution::Theirs => edits.push((c.key.clone(), c.theirs.clone())),
                        Resolution::Value(v) => edits.push((c.key.clone(), v.clone())),
                    }
                    c.resolution = r;
                    conflicts.push(c);
                }
            }
        }
        let refs: Vec<(&[u8], Option<&[u8]>)> = edits.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
        let root = self.apply_refs(ours, &refs)?;
        Ok(MergeOutcome { root, conflicts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Edit;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;

    fn build(store: &Store, m: &Model) -> Hash {
        store.build(&m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()).unwrap()
    }

    fn naive_diff(a: &Model, b: &Model) -> Vec<DiffEntry> {
        let keys: std::collections::BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
        keys.into_iter()
            .filter_map(|k| {
                let (x, y) = (a.get(k), b.get(k));
                (x != y).then(|| DiffEntry { key: k.clone(), old: x.cloned(), new: y.cloned() })
            })
            .collect()
    }

    fn apply_model(m: &mut Model, edits: &[(u16, Option<u8>)]) {
        for (k, v) in edits {
            match v {
                Some(v) => m.insert(k.to_be_bytes().to_vec(), vec![*v; 1 + (*v % 20) as usize]),
                None => m.remove(&k.to_be_bytes()[..]),
            };
        }
    }

    fn arb_model() -> impl Strategy<Value = Model> {
        proptest::collection::btree_map(0u16..2000, any::<u8>(), 0..1500).prop_map(|m| {
            m.into_iter().map(|(k, v)| (k.to_be_bytes().to_vec(), vec![v; 1 + (v % 20) as usize])).collect()
        })
    }

    fn arb_edits() -> impl Strategy<Value = Vec<(u16, Option<u8>)>> {
        proptest::collection::vec((0u16..2000, proptest::option::of(0u8..4)), 0..200)
    }

    #[test]
    fn diff_skips_shared_subtrees() {
        let store = Store::memory();
        let entries: Vec<_> = (0..200_000u32).map(|i| (i.to_be_bytes().to_vec(), vec![0u8; 16])).collect();
        let a = store.build(&entries).unwrap();
        let b = store.apply(a, &[Edit::put(100_000u32.to_be_bytes().to_vec(), vec![1u8])]).unwrap();
        let loads_before = store.load_count();
        let d: Vec<_> = store.diff(a, b).unwrap().map(|r| r.unwrap()).collect();
        let loads = store.load_count() - loads_before;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].new, Some(vec![1u8]));
        // A tree of 200k entries has ~1,500 leaves; one change reads a few
        // nodes per level, not the tree.
        assert!(loads < 40, "diff loaded {loads} nodes");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn diff_matches_model_and_applies(a in arb_model(), edits in arb_edits()) {
            let store = Store::memory();
            let mut b = a.clone();
            apply_model(&mut b, &edits);
            let (ra, rb) = (build(&store, &a), build(&store, &b));
            let d: Vec<DiffEntry> = store.diff(ra, rb).unwrap().map(|r| r.unwrap()).collect();
            prop_assert_eq!(&d, &naive_diff(&a, &b));
            // diff(a, b) applied to a gives b.
            let patch: Vec<Edit> = d.iter().map(|e| Edit { key: e.key.clone(), value: e.new.clone() }).collect();
            prop_assert_eq!(store.apply(ra, &patch).unwrap(), rb);
            // And the reverse diff mirrors it.
            let back: Vec<DiffEntry> = store.diff(rb, ra).unwrap().map(|r| r.unwrap()).collect();
            prop_assert_eq!(back.len(), d.len());
        }

        #[test]
        fn merge3_matches_naive_model(base in arb_model(), ours_e in arb_edits(), theirs_e in arb_edits(), policy in 0u8..4) {
            let store = Store::memory();
            let (mut ours, mut theirs) = (base.clone(), base.clone());
            apply_model(&mut ours, &ours_e);
            apply_model(&mut theirs, &theirs_e);
            let (rb, ro, rt) = (build(&store, &base), build(&store, &ours), build(&store, &theirs));
            let resolve = |c: &Conflict| -> Resolution {
                match policy {
                    0 => Resolution::Ours,
                    1 => Resolution::Theirs,
                    2 => Resolution::Value(Some([c.ours.clone().unwrap_or_default(), c.theirs.clone().unwrap_or_default()].concat())),
                    _ => Resolution::Unresolved,
                }
            };
            let out = store.merge3(rb, ro, rt, |c| Ok(resolve(c))).unwrap();
            // Naive model: per key, from the three maps.
            let keys: std::collections::BTreeSet<&Vec<u8>> = base.keys().chain(ours.keys()).chain(theirs.keys()).collect();
            let mut expected = Model::new();
            let mut expected_conflicts = Vec::new();
            for k in keys {
                let (b, o, t) = (base.get(k), ours.get(k), theirs.get(k));
                let v = if o == t || t == b { o.cloned() } else if o == b { t.cloned() } else {
                    let c = Conflict { key: k.clone(), base: b.cloned(), ours: o.cloned(), theirs: t.cloned(), resolution: Resolution::Unresolved };
                    let r = resolve(&c);
                    let v = match &r { Resolution::Ours | Resolution::Unresolved => o.cloned(), Resolution::Theirs => t.cloned(), Resolution::Value(v) => v.clone() };
                    expected_conflicts.push(Conflict { resolution: r, ..c });
                    v
                };
                if let Some(v) = v { expected.insert(k.clone(), v); }
            }
            prop_assert_eq!(&out.conflicts, &expected_conflicts);
            prop_assert_eq!(out.root, build(&store, &expected));
        }
    }
}
