//! DPoS producer state: the ordered producer set, producers' ratings and
//! the election at each epoch boundary. Rules and formulas are in the crate
//! docs ("DPoS producer state"); this module is their implementation.
//!
//! [`begin_block`] runs before a block's transactions (the block builder's
//! [`crate::BlockBuilder::begin_dpos`]); it reads the producer set as it was
//! *before* the block, so the producer of a slot and the owners of the
//! slots it skipped are judged by the set that scheduled them.

use std::ops::Bound;

use aergo_store::codec::{decode_row, encode_key};
use aergo_store::{Direction, TableMeta, TableStore, Value};
use aergo_types::evidence::SlotClock;
use aergo_types::genesis::{DposSettings, DPOS_MAX_BP_COUNT, DPOS_MAX_RATING_WINDOW_SLOTS};
use aergo_types::Amount;

use crate::rows::{self, as_text, as_u64, corrupt, text};
use crate::slots::producer_index;
use crate::system::{self, write_param};
use crate::{gov, slashing, ExecError};

pub const BPS: &str = "sys.bps";
pub const BP_RATINGS: &str = "sys.bp_ratings";
pub const BP_SLOTS: &str = "sys.bp_slots";

pub const BPS_DDL: &str = "CREATE TABLE sys.bps (rank BIGINT PRIMARY KEY, candidate TEXT NOT NULL)";
pub const BP_RATINGS_DDL: &str = "CREATE TABLE sys.bp_ratings (candidate TEXT PRIMARY KEY, produced BIGINT NOT NULL, \
                                  missed BIGINT NOT NULL, rating BIGINT NOT NULL)";
pub const BP_SLOTS_DDL: &str =
    "CREATE TABLE sys.bp_slots (slot BIGINT PRIMARY KEY, producer TEXT NOT NULL, produced BOOLEAN NOT NULL)";

/// Good slots every producer is credited with before any evidence, so one
/// early miss does not zero a new producer's rating.
pub const RATING_PRIOR_SLOTS: u64 = 10;

/// Name price at genesis: 1 aergo (the Go node's default).
pub const GENESIS_NAME_PRICE: Amount = Amount::ONE_AERGO;

/// What the consensus layer knows about the block being executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub height: u64,
    /// The block's slot ([`crate::slots::slot_of`] of its timestamp).
    pub slot: u64,
    /// The parent block's slot (0 for the genesis block).
    pub parent_slot: u64,
    /// Peer id of the block's producer.
    pub producer: String,
}

/// A producer's record over the rating window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rating {
    pub produced: u64,
    pub missed: u64,
}

impl Rating {
    /// `100 * (produced + P) / (produced + missed + P)` with
    /// `P = RATING_PRIOR_SLOTS`, rounded down: 100 for a producer with no
    /// misses (or no record), falling towards 0 as misses dominate.
    pub fn percent(self) -> u64 {
        let good = u128::from(self.produced) + u128::from(RATING_PRIOR_SLOTS);
        let all = good + u128::from(self.missed);
        // good <= all, so the quotient is at most 100.
        (100 * good / all) as u64
    }
}

/// Votes scaled by a rating: `votes * rating / 100`, rounded down.
pub fn effective_votes(votes: Amount, rating_percent: u64) -> Amount {
    // votes <= supply (5e26) and rating <= 100: the product fits u128.
    Amount::from_aer(votes.aer() * u128::from(rating_percent.min(100)) / 100)
}

/// Creates the staking, voting and producer tables and the DPoS
/// parameters, and installs `bps` as the producer set (in that order).
pub fn init_genesis(
    view: &mut dyn TableStore,
    settings: &DposSettings,
    bps: &[String],
    clock: SlotClock,
) -> Result<(), ExecError> {
    if bps.is_empty() || bps.len() as u64 > DPOS_MAX_BP_COUNT {
        return Err(ExecError::BadGenesis {
            reason: format!("a dpos chain needs 1..={DPOS_MAX_BP_COUNT} initial producers, got {}", bps.len()),
        });
    }
    for bp in bps {
        aergo_crypto::PublicKey::from_peer_id(bp)
            .map_err(|e| ExecError::BadGenesis { reason: format!("initial producer: {e}") })?;
    }
    gov::create_tables(view)?;
    for (name, ddl) in [(BPS, BPS_DDL), (BP_RATINGS, BP_RATINGS_DDL), (BP_SLOTS, BP_SLOTS_DDL)] {
        view.create_table(name, TableMeta { schema: ddl.as_bytes().to_vec() })?;
    }
    let count = |v: u64| Amount::from_aer(u128::from(v));
    write_param(view, system::PARAM_BP_COUNT, count(settings.bp_count))?;
    write_param(view, system::PARAM_MIN_STAKE, settings.min_stake)?;
    write_param(view, system::PARAM_NAME_PRICE, GENESIS_NAME_PRICE)?;
    write_param(view, system::PARAM_STAKE_LOCK_BLOCKS, count(settings.stake_lock_blocks))?;
    write_param(view, system::PARAM_EPOCH_BLOCKS, count(settings.epoch_blocks))?;
    write_param(view, system::PARAM_RATING_WINDOW_SLOTS, count(settings.rating_window_slots))?;
    slashing::init_genesis(view, Some(clock))?;
    write_producers(view, &[], bps)
}

/// True when the state has the producer tables (a DPoS chain).
pub fn is_enabled(view: &dyn TableStore) -> Result<bool, ExecError> {
    Ok(view.table(BPS)?.is_some())
}

/// The producer set in force, in schedule order.
pub fn producers(view: &dyn TableStore) -> Result<Vec<String>, ExecError> {
    let rows = rows::scan_prefix(view, BPS, &[], DPOS_MAX_BP_COUNT as usize)?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match row.as_slice() {
            [rank, candidate] if as_u64(BPS, rank)? == i as u64 => out.push(as_text(BPS, candidate)?),
            other => return Err(corrupt(BPS, format!("row {i} is {other:?}, expected rank {i}"))),
        }
    }
    Ok(out)
}

/// The producer that owns `slot` under the set in force.
pub fn producer_for_slot(view: &dyn TableStore, slot: u64) -> Result<String, ExecError> {
    let bps = producers(view)?;
    bps.get(producer_index(slot, bps.len())).cloned().ok_or_else(|| corrupt(BPS, "the producer set is empty"))
}

/// A candidate's record over the rating window (zero if it has none).
pub fn rating(view: &dyn TableStore, candidate: &str) -> Result<Rating, ExecError> {
    match rows::read(view, BP_RATINGS, &[text(candidate)])? {
        None => Ok(Rating::default()),
        Some(row) => match row.as_slice() {
            [Value::Text(_), produced, missed, _] => {
                Ok(Rating { produced: as_u64(BP_RATINGS, produced)?, missed: as_u64(BP_RATINGS, missed)? })
            }
            other => Err(corrupt(BP_RATINGS, format!("unexpected row {other:?}"))),
        },
    }
}

fn write_rating(view: &mut dyn TableStore, candidate: &str, r: Rating) -> Result<(), ExecError> {
    let key = [text(candidate)];
    if r.produced == 0 && r.missed == 0 {
        return rows::delete(view, BP_RATINGS, &key);
    }
    let row = [
        text(candidate),
        rows::u64_value(BP_RATINGS, r.produced)?,
        rows::u64_value(BP_RATINGS, r.missed)?,
        rows::u64_value(BP_RATINGS, r.percent())?,
    ];
    rows::write(view, BP_RATINGS, &key, &row)
}

fn write_producers(view: &mut dyn TableStore, old: &[String], new: &[String]) -> Result<(), ExecError> {
    for rank in new.len()..old.len() {
        rows::delete(view, BPS, &[rows::u64_value(BPS, rank as u64)?])?;
    }
    for (rank, bp) in new.iter().enumerate() {
        if old.get(rank) != Some(bp) {
            let r = rows::u64_value(BPS, rank as u64)?;
            rows::write(view, BPS, std::slice::from_ref(&r), &[r.clone(), text(bp)])?;
        }
    }
    Ok(())
}

fn record_slot(view: &mut dyn TableStore, slot: u64, producer: &str, produced: bool) -> Result<(), ExecError> {
    let key = [rows::u64_value(BP_SLOTS, slot)?];
    if rows::read(view, BP_SLOTS, &key)?.is_some() {
        return Err(corrupt(BP_SLOTS, format!("slot {slot} is already recorded")));
    }
    rows::write(view, BP_SLOTS, &key, &[key[0].clone(), text(producer), Value::Bool(produced)])?;
    let mut r = rating(view, producer)?;
    if produced {
        r.produced += 1;
    } else {
        r.missed += 1;
    }
    write_rating(view, producer, r)
}

/// Forgets slots before `first_kept`, taking them out of the ratings.
fn prune_slots(view: &mut dyn TableStore, first_kept: u64) -> Result<(), ExecError> {
    let upper = encode_key(&[rows::u64_value(BP_SLOTS, first_kept)?]);
    let old: Vec<Vec<u8>> = view
        .range(BP_SLOTS, Bound::Unbounded, Bound::Excluded(&upper), Direction::Forward)?
        .map(|e| e.map(|(_, v)| v))
        .collect::<Result<_, _>>()?;
    for bytes in old {
        let row = decode_row(&bytes).map_err(|e| corrupt(BP_SLOTS, e.to_string()))?;
        let [slot, Value::Text(producer), Value::Bool(produced)] = row.as_slice() else {
            return Err(corrupt(BP_SLOTS, format!("unexpected row {row:?}")));
        };
        rows::delete(view, BP_SLOTS, std::slice::from_ref(slot))?;
        let mut r = rating(view, producer)?;
        let counter = if *produced { &mut r.produced } else { &mut r.missed };
        *counter = counter
            .checked_sub(1)
            .ok_or_else(|| corrupt(BP_RATINGS, format!("{producer} has a slot on record but no count for it")))?;
        write_rating(view, producer, r)?;
    }
    Ok(())
}

/// The DPoS work before a block's transactions: checks the producer owns
/// the slot, records the slot as produced and the skipped ones as missed,
/// drops slots that left the rating window, and at an epoch boundary
/// elects the set for the following blocks.
pub fn begin_block(view: &mut dyn TableStore, info: &SlotInfo) -> Result<(), ExecError> {
    if info.height == 0 {
        return Err(ExecError::BadSlot { reason: "the genesis block has no producer".into() });
    }
    if info.slot <= info.parent_slot {
        return Err(ExecError::BadSlot {
            reason: format!("slot {} is not after the parent's slot {}", info.slot, info.parent_slot),
        });
    }
    let bps = producers(view)?;
    let owner = |slot: u64| bps.get(producer_index(slot, bps.len())).ok_or_else(|| corrupt(BPS, "no producers"));
    let expected = owner(info.slot)?;
    if *expected != info.producer {
        return Err(ExecError::WrongProducer {
            slot: info.slot,
            expected: expected.clone(),
            got: info.producer.clone(),
        });
    }
    let window =
        system::read_param_u64(view, system::PARAM_RATING_WINDOW_SLOTS)?.clamp(1, DPOS_MAX_RATING_WINDOW_SLOTS);
    // The window is the `window` slots ending with this one; skipped slots
    // before it would be forgotten at once, so they are not written.
    let first_kept = info.slot.saturating_sub(window - 1);
    for slot in (info.parent_slot + 1).max(first_kept)..info.slot {
        record_slot(view, slot, owner(slot)?, false)?;
    }
    record_slot(view, info.slot, &info.producer, true)?;
    prune_slots(view, first_kept)?;
    let epoch_blocks = system::read_param_u64(view, system::PARAM_EPOCH_BLOCKS)?.max(1);
    // A convicted producer leaves at the next block, not the next epoch.
    let convicted = bps.iter().map(|bp| slashing::is_slashed(view, bp)).collect::<Result<Vec<_>, _>>()?;
    if info.height.is_multiple_of(epoch_blocks) || convicted.contains(&true) {
        let elected = elect(view, &bps)?;
        write_producers(view, &bps, &elected)?;
    }
    Ok(())
}

/// The election: the top `bp_count` candidates by effective votes (ties:
/// smaller id first); candidates with zero effective votes are not
/// elected; if fewer than `bp_count` remain, current producers fill the
/// set in their current order. Convicted producers ([`slashing`]) are
/// never elected; if that leaves no one, the current set stays (a chain
/// without producers stops for good, one with a convicted producer can
/// still vote it out).
///
/// The scan follows the ranking index (raw votes descending) and stops as
/// soon as the next candidate cannot beat the current `bp_count`-th even
/// with a perfect rating (effective votes never exceed raw votes). Every
/// candidate without a rating row is taken at its raw votes, so the scan
/// ends after at most `bp_count` such candidates plus the rated ones; the
/// rated ones are at most the rating window's slots.
pub fn elect(view: &dyn TableStore, current: &[String]) -> Result<Vec<String>, ExecError> {
    let k = system::read_param_u64(view, system::PARAM_BP_COUNT)?.clamp(1, DPOS_MAX_BP_COUNT) as usize;
    let scan_bound = k + DPOS_MAX_RATING_WINDOW_SLOTS as usize + 1;
    // Sorted by (effective desc, id asc), at most k long.
    let mut top: Vec<(Amount, String)> = Vec::with_capacity(k + 1);
    let mut scanned = 0usize;
    gov::for_each_candidate_by_votes(view, |candidate, votes| {
        if let Some((kth_votes, kth_id)) = top.get(k - 1) {
            let can_beat = votes > *kth_votes || (votes == *kth_votes && candidate < kth_id.as_str());
            if !can_beat {
                return Ok(false);
            }
        }
        scanned += 1;
        if scanned > scan_bound {
            return Err(corrupt(
                gov::CANDIDATE_RANKING,
                format!("election scanned more than {scan_bound} candidates, which the ratings cannot explain"),
            ));
        }
        let eff = effective_votes(votes, rating(view, candidate)?.percent());
        if !eff.is_zero() && !slashing::is_slashed(view, candidate)? {
            let pos = top.partition_point(|(v, id)| *v > eff || (*v == eff && id.as_str() < candidate));
            top.insert(pos, (eff, candidate.to_string()));
            top.truncate(k);
        }
        Ok(true)
    })?;
    let mut set: Vec<String> = top.into_iter().map(|(_, id)| id).collect();
    for bp in current {
        if set.len() >= k {
            break;
        }
        if !set.contains(bp) && !slashing::is_slashed(view, bp)? {
            set.push(bp.clone());
        }
    }
    if set.is_empty() {
        return Ok(current.to_vec());
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rating_formula() {
        assert_eq!(Rating::default().percent(), 100);
        assert_eq!(Rating { produced: 50, missed: 0 }.percent(), 100);
        assert_eq!(Rating { produced: 0, missed: 1 }.percent(), 90);
        assert_eq!(Rating { produced: 40, missed: 50 }.percent(), 50);
        assert_eq!(Rating { produced: 0, missed: 10_000 }.percent(), 0);
        assert_eq!(Rating { produced: u64::MAX, missed: u64::MAX }.percent(), 50);
        assert_eq!(effective_votes(Amount::from_aer(1000), 50), Amount::from_aer(500));
        assert_eq!(effective_votes(Amount::TOTAL_SUPPLY, 100), Amount::TOTAL_SUPPLY);
        assert_eq!(effective_votes(Amount::from_aer(7), 250), Amount::from_aer(7));
    }
}
