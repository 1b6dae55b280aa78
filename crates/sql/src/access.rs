//! Read and write sets: the static ones a prepared statement or function
//! call reports ([`AccessSet`]), checked against the actual ones an
//! execution made, as the store's [`AccessLog`] records them
//! ([`aergo_store::Overlay::record_access`]), so tests can check that the
//! actual set always lies inside the reported one.
//!
//! Accesses are at the level of store tables and key bytes: a point key, a
//! key range, or the whole table when the key cannot be known before
//! running (keys computed from rows read, hidden row ids, index entries of
//! changed rows, DDL).

use std::collections::BTreeMap;
use std::ops::Bound;

use aergo_store::AccessLog;

/// What part of one store table is accessed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAccess {
    Key(Vec<u8>),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>),
    Table,
}

/// The statically computed accesses of one statement or call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessSet {
    pub reads: BTreeMap<String, Vec<KeyAccess>>,
    pub writes: BTreeMap<String, Vec<KeyAccess>>,
    /// The statement changes the catalogue (DDL): it conflicts with everything.
    pub catalog_write: bool,
}

impl AccessSet {
    pub fn read(&mut self, table: &str, a: KeyAccess) {
        let v = self.reads.entry(table.to_string()).or_default();
        if !v.contains(&a) {
            v.push(a);
        }
    }

    pub fn write(&mut self, table: &str, a: KeyAccess) {
        let v = self.writes.entry(table.to_string()).or_default();
        if !v.contains(&a) {
            v.push(a);
        }
    }

    pub fn merge(&mut self, other: AccessSet) {
        for (t, s) in other.reads {
            for a in s {
                self.read(&t, a);
            }
        }
        for (t, s) in other.writes {
            for a in s {
                self.write(&t, a);
            }
        }
        self.catalog_write |= other.catalog_write;
    }

    fn covers_key(set: &BTreeMap<String, Vec<KeyAccess>>, table: &str, key: &[u8]) -> bool {
        set.get(table).is_some_and(|s| {
            s.iter().any(|a| match a {
                KeyAccess::Table => true,
                KeyAccess::Key(k) => k == key,
                KeyAccess::Range(lo, hi) => in_range(key, lo, hi),
            })
        })
    }

    fn covers_range(
        set: &BTreeMap<String, Vec<KeyAccess>>,
        table: &str,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
    ) -> bool {
        set.get(table).is_some_and(|s| {
            s.iter().any(|a| match a {
                KeyAccess::Table => true,
                KeyAccess::Key(_) => false,
                KeyAccess::Range(rlo, rhi) => lower_le(rlo, lo) && upper_ge(rhi, hi),
            })
        })
    }

    /// Whether everything `log` recorded is inside this set. A write also
    /// counts as permission to read the same key. Reading the catalogue
    /// (`tables_read`, `catalogue_scanned`) is allowed by any set: every
    /// statement that changes it (DDL) sets `catalog_write`, which conflicts
    /// with everything. Changing the catalogue (`tables_written`) needs
    /// `catalog_write`. A truncated log cannot be checked: never covered.
    pub fn covers(&self, log: &AccessLog) -> bool {
        if log.truncated {
            return false;
        }
        if self.catalog_write {
            return true;
        }
        let read_ok = |t: &str, k: &[u8]| Self::covers_key(&self.reads, t, k) || Self::covers_key(&self.writes, t, k);
        log.tables_written.is_empty()
            && log.reads.iter().all(|(t, k)| read_ok(t, k))
            && log.ranges.iter().all(|r| {
                Self::covers_range(&self.reads, &r.table, &r.lower, &r.upper)
                    || Self::covers_range(&self.writes, &r.table, &r.lower, &r.upper)
            })
            && log.writes.iter().all(|(t, k)| Self::covers_key(&self.writes, t, k))
    }
}

fn in_range(k: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    let above = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
    };
    let below = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
    };
    above && below
}

/// `a` starts at or before `b`.
fn lower_le(a: &Bound<Vec<u8>>, b: &Bound<Vec<u8>>) -> bool {
    match (a, b) {
        (Bound::Unbounded, _) => true,
        (_, Bound::Unbounded) => false,
        (Bound::Included(x), Bound::Included(y) | Bound::Excluded(y)) => x <= y,
        (Bound::Excluded(x), Bound::Excluded(y)) => x <= y,
        (Bound::Excluded(x), Bound::Included(y)) => x < y,
    }
}

/// `a` ends at or after `b`.
fn upper_ge(a: &Bound<Vec<u8>>, b: &Bound<Vec<u8>>) -> bool {
    match (a, b) {
        (Bound::Unbounded, _) => true,
        (_, Bound::Unbounded) => false,
        (Bound::Included(x), Bound::Included(y) | Bound::Excluded(y)) => x >= y,
        (Bound::Excluded(x), Bound::Excluded(y)) => x >= y,
        (Bound::Excluded(x), Bound::Included(y)) => x > y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_store::RangeAccess;

    fn log() -> AccessLog {
        let mut l = AccessLog::default();
        l.reads.insert(("s.t".into(), b"k1".to_vec()));
        l.writes.insert(("s.t".into(), b"k1".to_vec()));
        l.ranges.push(RangeAccess {
            table: "s.t".into(),
            lower: Bound::Included(b"a".to_vec()),
            upper: Bound::Excluded(b"m".to_vec()),
        });
        l
    }

    #[test]
    fn covers_checks_the_store_access_log() {
        let mut set = AccessSet::default();
        set.write("s.t", KeyAccess::Key(b"k1".to_vec()));
        set.read("s.t", KeyAccess::Range(Bound::Included(b"a".to_vec()), Bound::Unbounded));
        assert!(set.covers(&log()));
        // A range wider than any reported one is not covered.
        let mut wide = log();
        wide.ranges.push(RangeAccess { table: "s.t".into(), lower: Bound::Unbounded, upper: Bound::Unbounded });
        assert!(!set.covers(&wide));
        // A write needs a reported write, not a read.
        let mut w = log();
        w.writes.insert(("s.t".into(), b"b".to_vec()));
        assert!(!set.covers(&w));
        // Catalogue reads are allowed by any set.
        let mut cat = log();
        cat.tables_read.insert("s.t".into());
        cat.catalogue_scanned = true;
        assert!(set.covers(&cat));
        // Catalogue writes need catalog_write, which covers everything.
        let mut ddl = log();
        ddl.tables_written.insert("s.u".into());
        assert!(!set.covers(&ddl));
        let all = AccessSet { catalog_write: true, ..AccessSet::default() };
        assert!(all.covers(&ddl) && all.covers(&wide));
        // A truncated log cannot be checked.
        let mut cut = log();
        cut.truncated = true;
        assert!(!set.covers(&cut) && !all.covers(&cut));
    }
}
