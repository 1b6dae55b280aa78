//! Batch apply: sorted edits in, new root out, rewriting only the nodes the
//! edits touch and their ancestors.
//!
//! # Algorithm
//!
//! The entries of each level form a sequence cut into nodes by the chunking
//! rule (see [`crate::node`]). Changes to a level are expressed as *spans*:
//! "drop the old entries whose keys lie in this key range and put these new
//! entries there". At level 0 each edit is a span over its single key.
//!
//! For each level, bottom up, spans are processed in key order. For a span we
//! find the old node where it starts and re-chunk from that node's first entry
//! (the chunker state is reset there because an old boundary ended the
//! previous node), feeding old entries merged with the spans' new ones. At the
//! end of each old node, if the new chunking has just cut there too and no
//! pending span reaches into the next node, the two cuttings agree from here
//! on: we stop and record one span for the level above, "replace the parent
//! entries of the old nodes we walked with entries for the nodes we built".
//! Otherwise we carry on into the next old node. At the old root's level the
//! new nodes are chunked upward until a single node remains, and a root with a
//! single child is replaced by that child, so the result is exactly the tree a
//! from-scratch build of the same entries gives.
//!
//! Cost: each edit re-chunks about one node per level, so a batch costs
//! O(edits x depth) node writes.

use std::ops::{Bound, Range};
use std::sync::Arc;

use crate::node::{
    build_node, encode_internal_entry, encode_leaf_entry, is_boundary, Node, MAX_KEY_BYTES, MAX_LEVEL, MAX_VALUE_BYTES,
};
use crate::store::Store;
use crate::{Hash, StoreError};

/// An encoded entry built during apply (a new leaf entry or the parent entry
/// of a new node).
struct RawEntry {
    bytes: Vec<u8>,
    key: Range<usize>,
    count: u64,
}

struct Span {
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    new: Vec<RawEntry>,
}

/// Whether every key of a span with upper bound `hi` is `< key`.
fn ends_before(hi: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match hi {
        Bound::Included(h) => &h[..] < key,
        Bound::Excluded(h) => &h[..] <= key,
        Bound::Unbounded => false,
    }
}

/// Whether every key of a span with upper bound `hi` is `<= key`.
fn ends_at_or_before(hi: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match hi {
        Bound::Included(h) | Bound::Excluded(h) => &h[..] <= key,
        Bound::Unbounded => false,
    }
}

/// Whether every key of a span with lower bound `lo` is `> key`.
fn starts_after(lo: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match lo {
        Bound::Included(l) => &l[..] > key,
        Bound::Excluded(l) => &l[..] >= key,
        Bound::Unbounded => false,
    }
}

fn satisfies_lo(key: &[u8], lo: &Bound<Vec<u8>>) -> bool {
    match lo {
        Bound::Included(l) => key >= &l[..],
        Bound::Excluded(l) => key > &l[..],
        Bound::Unbounded => true,
    }
}

/// Accumulates the entries of one level and cuts nodes at boundaries.
struct Chunker<'s> {
    store: &'s Store,
    level: u8,
    kind: u8,
    buf: Vec<u8>,
    n: usize,
    count: u64,
    last_key: Range<usize>,
    out: Vec<RawEntry>,
}

impl<'s> Chunker<'s> {
    fn new(store: &'s Store, level: u8, kind: u8) -> Self {
        Chunker { store, level, kind, buf: Vec::with_capacity(8192), n: 0, count: 0, last_key: 0..0, out: Vec::new() }
    }

    fn push(&mut self, raw: &[u8], key: Range<usize>, count: u64) -> Result<(), StoreError> {
        let start = self.buf.len();
        self.buf.extend_from_slice(raw);
        self.n += 1;
        self.count += count;
        self.last_key = start + key.start..start + key.end;
        let size = self.buf.len() as u64;
        if is_boundary(self.level, &self.buf[self.last_key.clone()], self.n, size, raw.len() as u64) {
            self.cut()?;
        }
        Ok(())
    }

    /// Appends an entry known not to end a node: an unchanged entry of an
    /// old node, before the node's first change, that was not its last entry.
    /// The chunker then holds exactly the old node's prefix, fed since a reset
    /// at its start, so the old decision (no cut) stands without hashing.
    fn push_known_inner(&mut self, raw: &[u8], key: Range<usize>, count: u64) {
        let start = self.buf.len();
        self.buf.extend_from_slice(raw);
        self.n += 1;
        self.count += count;
        self.last_key = start + key.start..start + key.end;
    }

    fn push_all(&mut self, entries: &[RawEntry]) -> Result<(), StoreError> {
        for e in entries {
            self.push(&e.bytes, e.key.clone(), e.count)?;
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Ends the current node (if any) and queues its parent entry.
    fn cut(&mut self) -> Result<(), StoreError> {
        if self.n == 0 {
            return Ok(());
        }
        let node = build_node(self.level, self.kind, self.n, &self.buf)?;
        let mut bytes = Vec::with_capacity(self.last_key.len() + 44);
        let key = &self.buf[self.last_key.clone()];
        encode_internal_entry(&mut bytes, key, &node.hash(), self.count);
        let key_off = bytes.len() - 32 - varint_len(self.count) - key.len();
        self.out.push(RawEntry { bytes, key: key_off..key_off + key.len(), count: self.count });
        self.store.stage(node)?;
        self.buf.clear();
        self.n = 0;
        self.count = 0;
        Ok(())
    }

    fn take_out(&mut self) -> Vec<RawEntry> {
        std::mem::take(&mut self.out)
    }
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// The path from the root to one node of a given level.
struct LevelCursor<'s> {
    store: &'s Store,
    path: Vec<(Arc<Node>, usize)>,
}

impl<'s> LevelCursor<'s> {
    /// The node of `level` where keys satisfying `lo` start (the last node if
    /// every key is below `lo`).
    fn locate(store: &'s Store, root: &Arc<Node>, level: u8, lo: &Bound<Vec<u8>>) -> Result<Self, StoreError> {
        let mut path = vec![(root.clone(), 0)];
        loop {
            let (node, idx) = path.last_mut().expect("path is never empty");
            if node.level() == level {
                break;
            }
            let i = match lo {
                Bound::Unbounded => 0,
                Bound::Included(k) => node.lower_bound(k),
                Bound::Excluded(k) => node.upper_bound(k),
            };
            *idx = i.min(node.len() - 1);
            let child = store.load_child(node, *idx)?;
            path.push((child, 0));
        }
        Ok(LevelCursor { store, path })
    }

    fn node(&self) -> &Arc<Node> {
        &self.path.last().expect("path is never empty").0
    }

    /// Exclusive lower bound of the current node's keys: the last key of the
    /// node before it on this level.
    fn lower_bound(&self) -> Bound<Vec<u8>> {
        for (node, idx) in self.path[..self.path.len() - 1].iter().rev() {
            if *idx > 0 {
                return Bound::Excluded(node.key(idx - 1).to_vec());
            }
        }
        Bound::Unbounded
    }

    fn has_next(&self) -> bool {
        self.path[..self.path.len() - 1].iter().any(|(n, i)| i + 1 < n.len())
    }

    /// Moves to the next node of this level; false at the end of the level.
    fn advance(&mut self) -> Result<bool, StoreError> {
        let level = self.node().level();
        // Pop the node, then climb until a frame has a next child.
        self.path.pop();
        loop {
            let Some((node, idx)) = self.path.last_mut() else { return Ok(false) };
            if *idx + 1 < node.len() {
                *idx += 1;
                break;
            }
            self.path.pop();
        }
        loop {
            let (node, idx) = self.path.last().expect("path is never empty");
            if node.level() == level + 1 {
                let child = self.store.load_child(node, *idx)?;
                self.path.push((child, 0));
                return Ok(true);
            }
            let child = self.store.load_child(node, *idx)?;
            self.path.push((child, 0));
        }
    }
}

/// Processes one level: returns the spans for the level above.
fn apply_level(
    store: &Store,
    root: &Arc<Node>,
    level: u8,
    kind: u8,
    spans: Vec<Span>,
) -> Result<Vec<Span>, StoreError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        let first_span = i;
        let mut cur = LevelCursor::locate(store, root, level, &spans[i].lo)?;
        let replaced_lo = cur.lower_bound();
        let mut ch = Chunker::new(store, level, kind);
        loop {
            let node = cur.node().clone();
            if level == 0 && node.kind() != kind {
                return Err(StoreError::WrongTreeKind { hash: node.hash(), expected: kind, found: node.kind() });
            }
            // Whether the chunker holds exactly this node's entries so far,
            // fed from a reset at its start (see `push_known_inner`).
            let mut pristine = ch.is_empty();
            for j in 0..node.len() {
                let key = node.key(j);
                while i < spans.len() && ends_before(&spans[i].hi, key) {
                    pristine &= spans[i].new.is_empty();
                    ch.push_all(&spans[i].new)?;
                    i += 1;
                }
                if i < spans.len() && satisfies_lo(key, &spans[i].lo) {
                    pristine = false;
                    continue; // replaced by the span
                }
                let (raw, key_range) = node.raw_entry_with_key(j);
                if pristine && j + 1 < node.len() {
                    ch.push_known_inner(raw, key_range, node.child_count(j));
                } else {
                    ch.push(raw, key_range, node.child_count(j))?;
                }
            }
            let last = node.last_key();
            while i < spans.len() && ends_at_or_before(&spans[i].hi, last) {
                ch.push_all(&spans[i].new)?;
                i += 1;
            }
            if !cur.has_next() {
                while i < spans.len() {
                    ch.push_all(&spans[i].new)?;
                    i += 1;
                }
                ch.cut()?;
                out.push(Span { lo: replaced_lo, hi: Bound::Unbounded, new: ch.take_out() });
                break;
            }
            if ch.is_empty() && (i == spans.len() || starts_after(&spans[i].lo, last)) {
                if i == first_span {
                    // Only possible if a separator key lies about its child:
                    // refuse rather than loop.
                    return Err(StoreError::CorruptNode {
                        hash: node.hash(),
                        reason: "separator keys of its parent do not match its keys".into(),
                    });
                }
                out.push(Span { lo: replaced_lo, hi: Bound::Included(last.to_vec()), new: ch.take_out() });
                break;
            }
            cur.advance()?;
        }
    }
    Ok(out)
}

/// Chunks parent entries upward from `level` until one node remains, then
/// drops single-child roots. Returns the root.
fn build_up(store: &Store, mut entries: Vec<RawEntry>, mut level: u8) -> Result<Hash, StoreError> {
    loop {
        match entries.len() {
            0 => return Ok(Hash::ZERO),
            1 => return collapse(store, child_hash(&entries[0])),
            _ => {}
        }
        if level > MAX_LEVEL {
            return Err(StoreError::TooDeep { max: MAX_LEVEL });
        }
        let mut ch = Chunker::new(store, level, 0);
        ch.push_all(&entries)?;
        ch.cut()?;
        entries = ch.take_out();
        level += 1;
    }
}

fn child_hash(e: &RawEntry) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(&e.bytes[e.key.end..e.key.end + 32]);
    Hash(h)
}

fn collapse(store: &Store, mut root: Hash) -> Result<Hash, StoreError> {
    loop {
        let node = store.load(root)?;
        if node.is_leaf() || node.len() > 1 {
            return Ok(root);
        }
        root = node.child(0);
    }
}

fn leaf_entry(key: &[u8], value: &[u8]) -> RawEntry {
    let mut bytes = Vec::with_capacity(key.len() + value.len() + 6);
    encode_leaf_entry(&mut bytes, key, value);
    let off = varint_len(key.len() as u64);
    RawEntry { bytes, key: off..off + key.len(), count: 1 }
}

/// Validates a batch: strictly increasing keys within the size limits.
pub(crate) fn check_edits(kind: u8, edits: &[(&[u8], Option<&[u8]>)]) -> Result<(), StoreError> {
    for (i, (k, v)) in edits.iter().enumerate() {
        if k.len() > MAX_KEY_BYTES {
            return Err(StoreError::KeyTooLarge { len: k.len(), max: MAX_KEY_BYTES });
        }
        if let Some(v) = v {
            if v.len() > MAX_VALUE_BYTES {
                return Err(StoreError::ValueTooLarge { len: v.len(), max: MAX_VALUE_BYTES });
            }
            if kind == crate::node::KIND_TREE_REFS && v.len() < 32 {
                return Err(StoreError::ValueTooSmall { len: v.len(), min: 32 });
            }
        }
        if i > 0 && edits[i - 1].0 >= *k {
            return Err(StoreError::UnsortedEdits { index: i });
        }
    }
    Ok(())
}

pub(crate) fn apply(store: &Store, root: Hash, kind: u8, edits: &[(&[u8], Option<&[u8]>)]) -> Result<Hash, StoreError> {
    check_edits(kind, edits)?;
    if edits.is_empty() {
        return Ok(root);
    }
    let _guard = store.inner.gc_lock.read().map_err(|_| StoreError::Backend("gc lock poisoned".into()))?;
    if root == Hash::ZERO {
        let mut ch = Chunker::new(store, 0, kind);
        for (k, v) in edits {
            if let Some(v) = v {
                let e = leaf_entry(k, v);
                ch.push(&e.bytes, e.key.clone(), 1)?;
            }
        }
        ch.cut()?;
        return build_up(store, ch.take_out(), 1);
    }
    let root_node = store.load(root)?;
    let mut spans: Vec<Span> = edits
        .iter()
        .map(|(k, v)| Span {
            lo: Bound::Included(k.to_vec()),
            hi: Bound::Included(k.to_vec()),
            new: v.map(|v| vec![leaf_entry(k, v)]).unwrap_or_default(),
        })
        .collect();
    let mut level = 0;
    loop {
        let out = apply_level(store, &root_node, level, kind, spans)?;
        if level == root_node.level() {
            let entries: Vec<RawEntry> = out.into_iter().flat_map(|s| s.new).collect();
            return build_up(store, entries, level + 1);
        }
        spans = out;
        level += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Edit;
    use crate::tables::Direction;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn key(i: u32) -> Vec<u8> {
        i.to_be_bytes().to_vec()
    }

    fn model_root(store: &Store, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Hash {
        let entries: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        store.build(&entries).unwrap()
    }

    fn scan(store: &Store, root: Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        store.range(root, Bound::Unbounded, Bound::Unbounded, Direction::Forward).unwrap().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn build_and_read_large_tree() {
        let store = Store::memory();
        let entries: Vec<_> = (0..20_000u32).map(|i| (key(i * 2), vec![i as u8; 20])).collect();
        let root = store.build(&entries).unwrap();
        let stats = store.check_tree(root).unwrap();
        assert_eq!(stats.entries, 20_000);
        assert!(stats.height >= 2, "{stats:?}");
        assert_eq!(store.count(root).unwrap(), 20_000);
        assert_eq!(store.get(root, &key(10)).unwrap(), Some(vec![5u8; 20]));
        assert_eq!(store.get(root, &key(11)).unwrap(), None);
        assert_eq!(store.nth(root, 7).unwrap(), Some((key(14), vec![7u8; 20])));
        assert_eq!(store.nth(root, 20_000).unwrap(), None);
        assert_eq!(store.rank(root, &key(15)).unwrap(), 8);
        assert_eq!(scan(&store, root), entries);
    }

    #[test]
    fn incremental_equals_scratch() {
        let store = Store::memory();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = (0..5000u32).map(|i| (key(i * 3), vec![1; 30])).collect();
        let mut root = model_root(&store, &model);
        // Edits spread out, clustered, at both ends, and mass deletion.
        let batches: Vec<Vec<Edit>> = vec![
            (0..100u32).map(|i| Edit::put(key(i * 150 + 1), vec![2; 10])).collect(),
            (0..2000u32).map(|i| Edit::delete(key(i * 3))).collect(),
            vec![Edit::put(key(0), vec![]), Edit::put(key(u32::MAX), vec![9; 100])],
            (0..20_000u32).filter(|i| i % 7 == 0).map(|i| Edit::delete(key(i))).collect(),
            (0..20_000u32).map(|i| Edit::delete(key(i))).collect(),
        ];
        for batch in batches {
            root = store.apply(root, &batch).unwrap();
            for e in &batch {
                match &e.value {
                    Some(v) => model.insert(e.key.clone(), v.clone()),
                    None => model.remove(&e.key),
                };
            }
            assert_eq!(root, model_root(&store, &model));
            store.check_tree(root).unwrap();
        }
        assert_eq!(model.len(), 1);
    }

    #[test]
    fn deleting_everything_gives_empty_root() {
        let store = Store::memory();
        let entries: Vec<_> = (0..3000u32).map(|i| (key(i), vec![0; 8])).collect();
        let root = store.build(&entries).unwrap();
        let edits: Vec<Edit> = (0..3000u32).map(|i| Edit::delete(key(i))).collect();
        assert_eq!(store.apply(root, &edits).unwrap(), Hash::ZERO);
    }

    #[test]
    fn rejects_bad_batches() {
        let store = Store::memory();
        let r =
            store.apply(Hash::ZERO, &[Edit::put(b"b".to_vec(), b"".to_vec()), Edit::put(b"a".to_vec(), b"".to_vec())]);
        assert!(matches!(r, Err(StoreError::UnsortedEdits { index: 1 })));
        let r = store.apply(Hash::ZERO, &[Edit::put(vec![0; MAX_KEY_BYTES + 1], b"".to_vec())]);
        assert!(matches!(r, Err(StoreError::KeyTooLarge { .. })));
    }

    /// Adversarial keys: keys ground so that every one is (or none is) a
    /// boundary still give nodes within the size caps.
    #[test]
    fn adversarial_keys_respect_size_caps() {
        let store = Store::memory();
        let mut always = Vec::new();
        let mut never = Vec::new();
        let mut i = 0u64;
        while always.len() < 3000 || never.len() < 3000 {
            let k = i.to_be_bytes().to_vec();
            i += 1;
            let h = crate::node::boundary_hash(0, &k);
            if h < 1 << 22 && always.len() < 3000 {
                always.push((k, vec![0u8; 4]));
            } else if h > u32::MAX - (1 << 22) && never.len() < 3000 {
                never.push((k, vec![0u8; 4]));
            }
        }
        for entries in [always, never] {
            let root = store.build(&entries).unwrap();
            let stats = store.check_tree(root).unwrap();
            assert_eq!(stats.entries, 3000);
            let mut sizes = Vec::new();
            leaf_sizes(&store, root, &mut sizes);
            let last = sizes.pop().unwrap();
            assert!(last <= crate::node::MAX_CHUNK_BYTES as usize + 64);
            for s in &sizes {
                assert!(
                    (crate::node::MIN_CHUNK_BYTES as usize..=crate::node::MAX_CHUNK_BYTES as usize + 64).contains(s),
                    "leaf of {s} bytes"
                );
            }
            let leaves = sizes.len() + 1;
            assert!(leaves >= 1);
        }
    }

    #[test]
    fn maximal_keys_and_values_fit_the_node_limits() {
        let store = Store::memory();
        let big_key = |i: u8| {
            let mut k = vec![i; MAX_KEY_BYTES];
            k[0] = i;
            k
        };
        let mut edits: Vec<Edit> = (0..40u8).map(|i| Edit::put(big_key(i), vec![i; 100])).collect();
        edits[7].value = Some(vec![7; MAX_VALUE_BYTES]);
        edits[8].value = Some(vec![8; MAX_VALUE_BYTES]);
        let root = store.apply(Hash::ZERO, &edits).unwrap();
        let stats = store.check_tree(root).unwrap();
        assert_eq!(stats.entries, 40);
        assert_eq!(store.get(root, &big_key(8)).unwrap().map(|v| v.len()), Some(MAX_VALUE_BYTES));
        let shrink = store.apply(root, &[Edit::put(big_key(7), vec![1])]).unwrap();
        assert_eq!(store.get(shrink, &big_key(7)).unwrap(), Some(vec![1]));
        let r = store.apply(root, &[Edit::put(big_key(1), vec![0; MAX_VALUE_BYTES + 1])]);
        assert!(matches!(r, Err(StoreError::ValueTooLarge { .. })));
    }

    fn leaf_sizes(store: &Store, h: Hash, out: &mut Vec<usize>) {
        let n = store.load(h).unwrap();
        if n.is_leaf() {
            out.push(n.bytes().len());
        } else {
            for i in 0..n.len() {
                leaf_sizes(store, n.child(i), out);
            }
        }
    }

    fn arb_edits() -> impl Strategy<Value = Vec<(u16, Option<u8>)>> {
        proptest::collection::vec((0u16..3000, proptest::option::of(any::<u8>())), 0..400)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// History independence: applying the same final content through
        /// any sequence of batches gives the root of a from-scratch build.
        #[test]
        fn history_independence(initial in proptest::collection::btree_map(0u16..3000, any::<u8>(), 0..1500),
                                batches in proptest::collection::vec(arb_edits(), 1..4)) {
            let store = Store::memory();
            let val = |b: u8| vec![b; (b % 40) as usize + 1];
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = initial.iter().map(|(k, v)| (k.to_be_bytes().to_vec(), val(*v))).collect();
            let mut root = model_root(&store, &model);
            for batch in batches {
                let sorted: BTreeMap<u16, Option<u8>> = batch.into_iter().collect();
                let edits: Vec<Edit> = sorted.iter().map(|(k, v)| Edit { key: k.to_be_bytes().to_vec(), value: v.map(val) }).collect();
                root = store.apply(root, &edits).unwrap();
                for e in &edits {
                    match &e.value { Some(v) => model.insert(e.key.clone(), v.clone()), None => model.remove(&e.key) };
                }
                prop_assert_eq!(root, model_root(&store, &model));
            }
            prop_assert_eq!(scan(&store, root), model.into_iter().collect::<Vec<_>>());
        }

        /// The same set of entries inserted in a random order, in random
        /// batches, gives one root.
        #[test]
        fn insertion_order_does_not_matter(keys in proptest::collection::btree_set(any::<u32>(), 1..2500), seed in any::<u64>()) {
            let store = Store::memory();
            let mut keys: Vec<u32> = keys.into_iter().collect();
            let expected = store.build(&keys.iter().map(|k| (key(*k), key(!*k))).collect::<Vec<_>>()).unwrap();
            // Shuffle with a simple LCG from the seed, then insert in chunks.
            let mut s = seed | 1;
            for i in (1..keys.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                keys.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut root = Hash::ZERO;
            for chunk in keys.chunks(1 + (seed % 300) as usize) {
                let mut c = chunk.to_vec();
                c.sort_unstable();
                let edits: Vec<Edit> = c.iter().map(|k| Edit::put(key(*k), key(!*k))).collect();
                root = store.apply(root, &edits).unwrap();
            }
            prop_assert_eq!(root, expected);
        }

        #[test]
        fn range_scans_match_model(entries in proptest::collection::btree_map(0u16..2000, any::<u8>(), 0..1200),
                                   lo in 0u16..2100, hi in 0u16..2100, lo_incl in any::<bool>(), hi_incl in any::<bool>(), lo_unb in any::<bool>(), hi_unb in any::<bool>()) {
            let store = Store::memory();
            let model: BTreeMap<Vec<u8>, Vec<u8>> = entries.iter().map(|(k, v)| (k.to_be_bytes().to_vec(), vec![*v; 30])).collect();
            let root = model_root(&store, &model);
            let (lk, hk) = (lo.to_be_bytes(), hi.to_be_bytes());
            let lower = if lo_unb { Bound::Unbounded } else if lo_incl { Bound::Included(&lk[..]) } else { Bound::Excluded(&lk[..]) };
            let upper = if hi_unb { Bound::Unbounded } else if hi_incl { Bound::Included(&hk[..]) } else { Bound::Excluded(&hk[..]) };
            let valid = match (lower, upper) {
                (Bound::Included(a), Bound::Included(b)) => a <= b,
                (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
                _ => true,
            };
            prop_assume!(valid);
            let expected: Vec<_> = model.range::<[u8], _>((lower, upper)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let fwd: Vec<_> = store.range(root, lower, upper, Direction::Forward).unwrap().map(|r| r.unwrap()).collect();
            prop_assert_eq!(&fwd, &expected);
            let mut rev: Vec<_> = store.range(root, lower, upper, Direction::Reverse).unwrap().map(|r| r.unwrap()).collect();
            rev.reverse();
            prop_assert_eq!(&rev, &expected);
        }
    }
}
