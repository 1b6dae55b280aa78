//! [`RecentReads`]: the last few rows the overlay read, so that reading a
//! row again does not descend the write buffer and the tree again.
//!
//! Why: SQL reads a row and then writes it (`UPDATE ... WHERE id = $1`
//! reads the row to compute the new one), and a contract usually reads the
//! rows it is about to update (the whitepaper `transfer` reads both
//! accounts, then updates both). Each read is a descent of the overlay's
//! map and, when the row is not buffered, of the base tree; with a block's
//! worth of rows buffered those descents miss the cache and were a third
//! of a point update. SQLite keeps its cursor on the row; this is the
//! overlay's equivalent, a handful of slots replaced in turn.
//!
//! Correctness rests on one rule, kept by the overlay: every change to a
//! row forgets that row here ([`RecentReads::forget`]), and every change
//! that can move many rows at once (a rollback, a table created, dropped or
//! mounted) forgets everything ([`RecentReads::clear`]). The slots hold
//! what a read returned, so a hit returns exactly what a descent would.
//! Nothing here depends on anything but the sequence of calls: the same
//! reads hit on every machine (not that a hit could change a result).

use crate::inline_key::InlineKey;

/// Slots kept: a contract call touches a few rows at a time; four cover
/// `transfer`'s two accounts with room to spare, and a hit is a linear
/// scan, so more slots would only slow misses down.
const SLOTS: usize = 4;

/// Values longer than this are not kept: copying them on every miss would
/// cost more than the descent saved, and the slots' memory stays bounded
/// (`SLOTS` x this).
const MAX_VALUE_BYTES: usize = 4096;

#[derive(Default)]
pub(crate) struct RecentReads {
    slots: Vec<Slot>,
    /// The slot the next miss replaces once all are in use.
    next: usize,
}

struct Slot {
    table: String,
    key: InlineKey,
    /// `None`: the row was read and does not exist.
    value: Option<Vec<u8>>,
}

impl RecentReads {
    /// What the last read of `table`/`key` returned, if it is still kept.
    pub(crate) fn get(&self, table: &str, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.slots.iter().find(|s| s.key.as_slice() == key && s.table == table).map(|s| &s.value)
    }

    /// Keeps what a read of `table`/`key` returned. The caller has just
    /// missed: the pair is not kept already.
    pub(crate) fn remember(&mut self, table: &str, key: &[u8], value: Option<&[u8]>) {
        if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return;
        }
        if self.slots.len() < SLOTS {
            self.slots.push(Slot { table: table.to_string(), key: key.into(), value: value.map(<[u8]>::to_vec) });
            return;
        }
        // Reuses the slot's buffers: after the first few reads a miss
        // allocates nothing here.
        let slot = &mut self.slots[self.next];
        self.next = (self.next + 1) % SLOTS;
        slot.table.clear();
        slot.table.push_str(table);
        slot.key = key.into();
        match (&mut slot.value, value) {
            (Some(buf), Some(v)) => {
                buf.clear();
                buf.extend_from_slice(v);
            }
            (old, v) => *old = v.map(<[u8]>::to_vec),
        }
    }

    /// Forgets `table`/`key`: the row is being changed.
    pub(crate) fn forget(&mut self, table: &str, key: &[u8]) {
        if let Some(i) = self.slots.iter().position(|s| s.key.as_slice() == key && s.table == table) {
            self.slots.swap_remove(i);
            self.next = 0;
        }
    }

    /// Forgets everything: many rows may have changed.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_reads_and_forgets_on_change() {
        let mut r = RecentReads::default();
        r.remember("t", b"a", Some(b"1"));
        r.remember("t", b"b", None);
        assert_eq!(r.get("t", b"a"), Some(&Some(b"1".to_vec())));
        assert_eq!(r.get("t", b"b"), Some(&None), "absence is remembered too");
        assert_eq!(r.get("u", b"a"), None, "the table is part of the name");
        r.forget("t", b"a");
        assert_eq!(r.get("t", b"a"), None);
        for i in 0..10u8 {
            r.remember("t", &[i], Some(&[i, i]));
        }
        assert_eq!(r.slots.len(), SLOTS);
        assert_eq!(r.get("t", &[9]), Some(&Some(vec![9, 9])));
        assert_eq!(r.get("t", &[0]), None, "the oldest were replaced");
        r.remember("t", b"big", Some(&vec![0u8; MAX_VALUE_BYTES + 1]));
        assert_eq!(r.get("t", b"big"), None, "long values are not kept");
        r.clear();
        assert_eq!(r.get("t", &[9]), None);
    }
}
