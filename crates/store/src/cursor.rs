//! Cursors over a tree: a path of `(node, index)` frames from the root.
//!
//! The deepest frame need not be a leaf: a cursor may stand at "the start of
//! child `i`" of an internal node without loading that child. Diff uses this
//! to compare subtree hashes and skip equal subtrees without reading them.

use std::ops::Bound;
use std::sync::Arc;

use crate::node::Node;
use crate::store::Store;
use crate::tables::{Direction, Entry};
use crate::{Hash, StoreError};

pub(crate) struct Frame {
    pub node: Arc<Node>,
    pub idx: usize,
}

/// A position in a tree. An empty path means "past the end".
pub(crate) struct Cursor<'s> {
    store: &'s Store,
    pub path: Vec<Frame>,
}

impl<'s> Cursor<'s> {
    /// At the first item of the root node (not descended).
    pub fn at_start(store: &'s Store, root: Hash) -> Result<Self, StoreError> {
        let mut c = Cursor { store, path: Vec::new() };
        if root != Hash::ZERO {
            c.path.push(Frame { node: store.load(root)?, idx: 0 });
        }
        Ok(c)
    }

    pub fn is_end(&self) -> bool {
        self.path.is_empty()
    }

    fn deepest(&self) -> Option<&Frame> {
        self.path.last()
    }

    /// Whether the cursor stands on a leaf entry.
    pub fn at_leaf(&self) -> bool {
        self.deepest().is_some_and(|f| f.node.is_leaf())
    }

    /// Current leaf entry's key and value (cursor must be at a leaf).
    pub fn entry(&self) -> Option<(&[u8], &[u8])> {
        let f = self.deepest()?;
        f.node.is_leaf().then(|| (f.node.key(f.idx), f.node.value(f.idx)))
    }

    /// The current item when it is a subtree: its hash and level.
    pub fn subtree(&self) -> Option<(Hash, u8)> {
        let f = self.deepest()?;
        (!f.node.is_leaf()).then(|| (f.node.child(f.idx), f.node.level() - 1))
    }

    /// Level of the current item (0 for a leaf entry).
    pub fn item_level(&self) -> Option<u8> {
        let f = self.deepest()?;
        Some(if f.node.is_leaf() { 0 } else { f.node.level() })
    }

    /// Loads the current child and stands on its first (or last) item.
    pub fn descend(&mut self, last: bool) -> Result<(), StoreError> {
        let Some(f) = self.path.last() else { return Ok(()) };
        if f.node.is_leaf() {
            return Ok(());
        }
        let child = self.store.load_child(&f.node, f.idx)?;
        let idx = if last { child.len() - 1 } else { 0 };
        self.path.push(Frame { node: child, idx });
        Ok(())
    }

    /// Descends until standing on a leaf entry.
    pub fn descend_to_leaf(&mut self, last: bool) -> Result<(), StoreError> {
        while !self.is_end() && !self.at_leaf() {
            self.descend(last)?;
        }
        Ok(())
    }

    /// Moves past the current item (a leaf entry or a whole subtree).
    pub fn advance(&mut self) {
        while let Some(f) = self.path.last_mut() {
            f.idx += 1;
            if f.idx < f.node.len() {
                return;
            }
            self.path.pop();
        }
    }

    /// Moves before the current item.
    pub fn retreat(&mut self) {
        while let Some(f) = self.path.last_mut() {
            if f.idx > 0 {
                f.idx -= 1;
                return;
            }
            self.path.pop();
        }
    }

    /// Stands on the first leaf entry satisfying the lower bound, or at end.
    pub fn seek_first(store: &'s Store, root: Hash, lower: Bound<&[u8]>) -> Result<Self, StoreError> {
        let mut c = Cursor::at_start(store, root)?;
        while let Some(f) = c.path.last_mut() {
            let i = match lower {
                Bound::Unbounded => 0,
                Bound::Included(k) => f.node.lower_bound(k),
                Bound::Excluded(k) => f.node.upper_bound(k),
            };
            if i == f.node.len() {
                // Nothing at or after the bound in this subtree; the parent's
                // separator guarantees this only happens at the root.
                c.path.clear();
                break;
            }
            f.idx = i;
            if f.node.is_leaf() {
                break;
            }
            c.descend(false)?;
        }
        Ok(c)
    }

    /// Stands on the last leaf entry satisfying the upper bound, or at end.
    pub fn seek_last(store: &'s Store, root: Hash, upper: Bound<&[u8]>) -> Result<Self, StoreError> {
        let mut c = Cursor::at_start(store, root)?;
        while let Some(f) = c.path.last_mut() {
            let n = f.node.len();
            if f.node.is_leaf() {
                // Number of entries satisfying the bound.
                let fit = match upper {
                    Bound::Unbounded => n,
                    Bound::Included(k) => f.node.upper_bound(k),
                    Bound::Excluded(k) => f.node.lower_bound(k),
                };
                if fit == 0 {
                    f.idx = 0;
                    c.retreat();
                    c.descend_to_leaf(true)?;
                } else {
                    f.idx = fit - 1;
                }
                break;
            }
            f.idx = match upper {
                Bound::Unbounded => n - 1,
                Bound::Included(k) | Bound::Excluded(k) => f.node.lower_bound(k).min(n - 1),
            };
            c.descend(true)?;
            // The descent lands on the child's last item; re-seek inside it.
        }
        Ok(c)
    }
}

/// Iterator of a bounded range scan in either direction.
pub(crate) struct RangeIterator<'s> {
    cursor: Cursor<'s>,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    direction: Direction,
    started: bool,
    done: bool,
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

pub(crate) fn above_lower(key: &[u8], lower: &Bound<Vec<u8>>) -> bool {
    match lower {
        Bound::Unbounded => true,
        Bound::Included(l) => key >= &l[..],
        Bound::Excluded(l) => key > &l[..],
    }
}

pub(crate) fn below_upper(key: &[u8], upper: &Bound<Vec<u8>>) -> bool {
    match upper {
        Bound::Unbounded => true,
        Bound::Included(u) => key <= &u[..],
        Bound::Excluded(u) => key < &u[..],
    }
}

impl<'s> RangeIterator<'s> {
    pub fn new(
        store: &'s Store,
        root: Hash,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<Self, StoreError> {
        let cursor = match direction {
            Direction::Forward => Cursor::seek_first(store, root, lower)?,
            Direction::Reverse => Cursor::seek_last(store, root, upper)?,
        };
        Ok(RangeIterator { cursor, lower: owned(lower), upper: owned(upper), direction, started: false, done: false })
    }

    fn step(&mut self) -> Result<Option<Entry>, StoreError> {
        if self.started {
            match self.direction {
                Direction::Forward => {
                    self.cursor.advance();
                    self.cursor.descend_to_leaf(false)?;
                }
                Direction::Reverse => {
                    self.cursor.retreat();
                    self.cursor.descend_to_leaf(true)?;
                }
            }
        }
        self.started = true;
        let Some((k, v)) = self.cursor.entry() else { return Ok(None) };
        let inside = match self.direction {
            Direction::Forward => below_upper(k, &self.upper),
            Direction::Reverse => above_lower(k, &self.lower),
        };
        Ok(inside.then(|| (k.to_vec(), v.to_vec())))
    }
}

impl Iterator for RangeIterator<'_> {
    type Item = Result<Entry, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        match r {
            Ok(Some(e)) => Some(Ok(e)),
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
