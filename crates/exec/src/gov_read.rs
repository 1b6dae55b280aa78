//! Read-only views of governance and producer state for the API and tools:
//! the producer set with votes and ratings, the candidate ranking, a stake
//! with its unlock height, parameters and the ranking of parameter votes.
//!
//! These read the system tables' layouts (see the crate doc's table), so
//! nothing outside `exec` decodes a governance row. Listings take a limit
//! and stop there: they are for display, and the tables can hold as many
//! candidates and values as stakers choose.

use std::ops::Bound;

use aergo_store::codec::{decode_row, encode_key};
use aergo_store::{Direction, TableStore, Value};
use aergo_types::{Address, Amount};

use crate::gov::{self, GovParam};
use crate::rows::{as_amount, corrupt};
use crate::{dpos, slashing, system, ExecError};

/// One elected producer, in schedule order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerView {
    pub peer_id: String,
    /// Stake voting for it.
    pub votes: Amount,
    /// Rating in percent (see the crate doc's formula); 0 once convicted.
    pub rating_percent: u64,
}

/// The producer set and its schedule parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerSet {
    pub epoch_blocks: u64,
    pub bp_count: u64,
    pub producers: Vec<ProducerView>,
}

/// A stake and when it can be withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StakeView {
    pub amount: Amount,
    pub since_height: u64,
    /// First height at which an unstake is accepted (0 when nothing is
    /// staked).
    pub unlock_height: u64,
}

/// The producer set in schedule order with votes and ratings.
pub fn producer_set(view: &dyn TableStore) -> Result<ProducerSet, ExecError> {
    let epoch_blocks = system::read_param_u64(view, system::PARAM_EPOCH_BLOCKS)?;
    let bp_count = system::read_param_u64(view, system::PARAM_BP_COUNT)?;
    let mut producers = Vec::new();
    for peer_id in dpos::producers(view)? {
        let votes = gov::candidate_votes(view, &peer_id)?;
        // A convicted producer's rating is 0: it is never elected again
        // (it leaves the set at the next block).
        let rating_percent =
            if slashing::is_slashed(view, &peer_id)? { 0 } else { dpos::rating(view, &peer_id)?.percent() };
        producers.push(ProducerView { peer_id, votes, rating_percent });
    }
    Ok(ProducerSet { epoch_blocks, bp_count, producers })
}

/// Candidates by votes, most first (ties: smaller id), at most `limit`.
pub fn top_candidates(view: &dyn TableStore, limit: usize) -> Result<Vec<(String, Amount)>, ExecError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    gov::for_each_candidate_by_votes(view, |candidate, votes| {
        out.push((candidate.to_string(), votes));
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// Punished offences (at most `limit`, by id) and all AERGO burned.
pub fn offences(view: &dyn TableStore, limit: usize) -> Result<(Vec<slashing::OffenceRecord>, Amount), ExecError> {
    Ok((slashing::offences(view, limit)?, slashing::total_burned(view)?))
}

/// True when `candidate` was convicted of an offence (it is never
/// elected again).
pub fn is_slashed(view: &dyn TableStore, candidate: &str) -> Result<bool, ExecError> {
    slashing::is_slashed(view, candidate)
}

/// The stake of `account` and its unlock height under the lock in force.
pub fn stake(view: &dyn TableStore, account: &Address) -> Result<StakeView, ExecError> {
    let stake = gov::stake_of(view, account)?;
    let lock = system::read_param_u64(view, system::PARAM_STAKE_LOCK_BLOCKS)?;
    let unlock_height = if stake.amount.is_zero() { 0 } else { stake.since_height.saturating_add(lock) };
    Ok(StakeView { amount: stake.amount, since_height: stake.since_height, unlock_height })
}

/// The governance parameters in force, in [`GovParam::ALL`] order: those
/// set in state, and the gas caps and file prices (which have defaults
/// until a vote sets them) always.
pub fn params(view: &dyn TableStore) -> Result<Vec<(GovParam, Amount)>, ExecError> {
    let caps = system::gas_caps(view)?;
    let mut out = Vec::new();
    for p in GovParam::ALL {
        let value = match p {
            GovParam::MaxTxGas => Some(Amount::from_aer(u128::from(caps.tx))),
            GovParam::MaxBlockGas => Some(Amount::from_aer(u128::from(caps.block))),
            GovParam::FilePrice => Some(crate::files::byte_price(view)?),
            GovParam::FileRent => Some(crate::files::rent(view)?),
            _ => system::read_param(view, p.param_name())?,
        };
        if let Some(v) = value {
            out.push((p, v));
        }
    }
    Ok(out)
}

/// The values voted for `param` with the stake behind each, most first
/// (ties: smaller value), at most `limit`.
pub fn param_votes(view: &dyn TableStore, param: GovParam, limit: usize) -> Result<Vec<(Amount, Amount)>, ExecError> {
    let table = gov::PARAM_RANKING;
    let lower = encode_key(&[Value::Text(param.dao_id().to_string())]);
    // Every encoded value starts with a type tag below 0xFF, so appending
    // 0xFF bounds exactly the keys under this parameter.
    let mut upper = lower.clone();
    upper.push(0xFF);
    let iter = view.range(table, Bound::Included(&lower), Bound::Excluded(&upper), Direction::Forward)?;
    let mut out = Vec::new();
    for entry in iter.take(limit) {
        let (_, bytes) = entry?;
        let row = decode_row(&bytes).map_err(|e| corrupt(table, e.to_string()))?;
        let [_, Value::Numeric(neg_votes), value] = row.as_slice() else {
            return Err(corrupt(table, format!("unexpected row {row:?}")));
        };
        out.push((as_amount(table, value)?, as_amount(table, &Value::Numeric(-*neg_votes))?));
    }
    Ok(out)
}
