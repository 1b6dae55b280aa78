//! Helpers shared by the integration tests: a fresh in-memory store (the
//! store's overlay on the empty state) and a dump of everything in one.

#![allow(dead_code)]

use std::ops::Bound;

use aergo_store::{Direction, Entry, Hash, Overlay, Store, TableStore};

/// An empty store: the overlay on the empty state of a memory-backed store.
pub fn mem() -> Overlay {
    Overlay::new(&Store::memory(), Hash::ZERO)
}

/// Every table with its catalogue blob and rows, for comparing states.
pub fn dump(s: &dyn TableStore) -> Vec<(String, Vec<u8>, Vec<Entry>)> {
    s.tables()
        .unwrap()
        .into_iter()
        .map(|(name, meta)| {
            let rows = s
                .range(&name, Bound::Unbounded, Bound::Unbounded, Direction::Forward)
                .unwrap()
                .map(|e| e.unwrap())
                .collect();
            (name, meta.schema, rows)
        })
        .collect()
}
