//! Slot arithmetic shared by the state transition and the consensus crate.
//!
//! Time after genesis is cut into slots of `interval_ms`; slot `s` covers
//! `[genesis + s * interval, genesis + (s + 1) * interval)`, so the genesis
//! block is in slot 0 and every later block in a slot after its parent's.
//! Slot `s` belongs to the producer at index `s mod n` of the ordered
//! producer set. These are pure functions of their arguments: the consensus
//! crate uses them to decide when to produce and to check a block's
//! producer, and [`crate::dpos`] uses them to charge missed slots, so the
//! two can never disagree.

/// The slot a timestamp falls in. Timestamps at or before genesis are in
/// slot 0; an `interval_ms` of 0 is treated as 1 (genesis validation keeps
/// it at least 250).
pub fn slot_of(timestamp_ns: i64, genesis_timestamp_ns: i64, interval_ms: u64) -> u64 {
    aergo_types::evidence::SlotClock { genesis_timestamp_ns, interval_ms }.slot_of(timestamp_ns)
}

/// The index, in the ordered producer set of size `n`, of the producer of
/// `slot`. `n == 0` gives 0 (there is no producer; callers never ask).
pub fn producer_index(slot: u64, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // The remainder is below n, which is a usize.
    (slot % n as u64) as usize
}

/// The time a slot starts, or `None` if it is past the range of `i64`
/// nanoseconds (about the year 2262).
pub fn slot_start_ns(slot: u64, genesis_timestamp_ns: i64, interval_ms: u64) -> Option<i64> {
    let interval_ns = i128::from(interval_ms.max(1)) * 1_000_000;
    let start = i128::from(genesis_timestamp_ns).checked_add(i128::from(slot).checked_mul(interval_ns)?)?;
    i64::try_from(start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slots_at_the_edges() {
        let g = 1_000_000_000_000;
        assert_eq!(slot_of(g, g, 1000), 0);
        assert_eq!(slot_of(g - 5, g, 1000), 0);
        assert_eq!(slot_of(g + 999_999_999, g, 1000), 0);
        assert_eq!(slot_of(g + 1_000_000_000, g, 1000), 1);
        assert_eq!(slot_of(g + 1_000_000_000, g, 250), 4);
        assert_eq!(slot_of(i64::MAX, i64::MIN, 1), u64::MAX / 1_000_000);
        assert_eq!(slot_of(5, 0, 0), 0);
        assert_eq!(producer_index(7, 3), 1);
        assert_eq!(producer_index(7, 0), 0);
        assert_eq!(slot_start_ns(3, g, 250), Some(g + 750_000_000));
        assert_eq!(slot_start_ns(u64::MAX, 0, 1000), None);
    }

    proptest! {
        #[test]
        fn a_slot_start_is_in_that_slot(slot in 0u64..1_000_000_000, g in 0i64..2_000_000_000_000_000_000, ms in 250u64..10_000) {
            if let Some(start) = slot_start_ns(slot, g, ms) {
                prop_assert_eq!(slot_of(start, g, ms), slot);
                prop_assert_eq!(slot_of(start - 1, g, ms), slot.saturating_sub(1));
            }
        }

        #[test]
        fn producer_index_is_in_range(slot in any::<u64>(), n in 1usize..200) {
            prop_assert!(producer_index(slot, n) < n);
        }
    }
}
