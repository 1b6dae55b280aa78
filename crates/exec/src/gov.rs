//! The `aergo.system` contract: staking, block-producer votes and
//! governance votes on parameters. Rules, tables and formulas are in the
//! crate docs ("Staking, voting and governance"); this module is their
//! implementation.
//!
//! All state lives in system tables; every aggregate (candidate votes,
//! per-value parameter tallies, the staked total) is kept up to date
//! incrementally by the transaction that changes it, never recomputed by a
//! scan over voters.

use aergo_store::{TableMeta, TableStore, Value};
use aergo_types::address::AERGO_SYSTEM;
use aergo_types::payload::MAX_CANDIDATES_PER_VOTE;
use aergo_types::{Address, Amount, Hash};
use serde_json::json;

use crate::rows::{self, as_amount, as_text, as_u64, corrupt, text};
use crate::system::{self, read_account, write_account};
use crate::{slashing, ExecError};

// The system call's wire form lives with the other payloads; the crate
// root re-exports both names.
pub use aergo_types::payload::{GovCall, GovParam};

pub const STAKES: &str = "sys.stakes";
pub const VOTES: &str = "sys.votes";
pub const CANDIDATES: &str = "sys.candidates";
pub const CANDIDATE_RANKING: &str = "sys.candidate_ranking";
pub const PARAM_VOTES: &str = "sys.param_votes";
pub const PARAM_TALLIES: &str = "sys.param_tallies";
pub const PARAM_RANKING: &str = "sys.param_ranking";
pub const TOTALS: &str = "sys.totals";

pub const STAKES_DDL: &str = "CREATE TABLE sys.stakes (account TEXT PRIMARY KEY, amount NUMERIC(38,0) NOT NULL, \
                              since_height BIGINT NOT NULL)";
pub const VOTES_DDL: &str =
    "CREATE TABLE sys.votes (voter TEXT NOT NULL, candidate TEXT NOT NULL, PRIMARY KEY (voter, candidate))";
pub const CANDIDATES_DDL: &str =
    "CREATE TABLE sys.candidates (candidate TEXT PRIMARY KEY, votes NUMERIC(38,0) NOT NULL)";
pub const CANDIDATE_RANKING_DDL: &str = "CREATE TABLE sys.candidate_ranking (neg_votes NUMERIC(38,0) NOT NULL, \
                                         candidate TEXT NOT NULL, PRIMARY KEY (neg_votes, candidate))";
pub const PARAM_VOTES_DDL: &str = "CREATE TABLE sys.param_votes (param TEXT NOT NULL, voter TEXT NOT NULL, \
                                   value NUMERIC(38,0) NOT NULL, PRIMARY KEY (param, voter))";
pub const PARAM_TALLIES_DDL: &str =
    "CREATE TABLE sys.param_tallies (param TEXT NOT NULL, value NUMERIC(38,0) NOT NULL, \
                                     votes NUMERIC(38,0) NOT NULL, PRIMARY KEY (param, value))";
pub const PARAM_RANKING_DDL: &str =
    "CREATE TABLE sys.param_ranking (param TEXT NOT NULL, neg_votes NUMERIC(38,0) NOT NULL, \
                                     value NUMERIC(38,0) NOT NULL, PRIMARY KEY (param, neg_votes, value))";
pub const TOTALS_DDL: &str = "CREATE TABLE sys.totals (name TEXT PRIMARY KEY, value NUMERIC(38,0) NOT NULL)";

/// The `sys.totals` row holding all staked AERGO.
pub const TOTAL_STAKED: &str = "staked";

/// Creates the staking and voting tables (DPoS chains only).
pub fn create_tables(view: &mut dyn TableStore) -> Result<(), ExecError> {
    for (name, ddl) in [
        (STAKES, STAKES_DDL),
        (VOTES, VOTES_DDL),
        (CANDIDATES, CANDIDATES_DDL),
        (CANDIDATE_RANKING, CANDIDATE_RANKING_DDL),
        (PARAM_VOTES, PARAM_VOTES_DDL),
        (PARAM_TALLIES, PARAM_TALLIES_DDL),
        (PARAM_RANKING, PARAM_RANKING_DDL),
        (TOTALS, TOTALS_DDL),
    ] {
        view.create_table(name, TableMeta { schema: ddl.as_bytes().to_vec() })?;
    }
    write_total_staked(view, Amount::ZERO)
}

fn bad_payload(reason: impl Into<String>) -> ExecError {
    ExecError::BadPayload { reason: reason.into() }
}

/// The executor's reading of a system-call payload: its wire form
/// ([`GovCall::parse`]), then what needs the key code: each candidate of a
/// `v1voteBP` named once and a canonical secp256k1 peer id.
pub fn parse_call(payload: &[u8]) -> Result<GovCall, ExecError> {
    let call = GovCall::parse(payload)?;
    check_candidates(&call)?;
    Ok(call)
}

/// The candidates of a `v1voteBP`: distinct, valid peer ids (checked in
/// the order given; the first fault is the reason).
fn check_candidates(call: &GovCall) -> Result<(), ExecError> {
    let GovCall::VoteBp(ids) = call else { return Ok(()) };
    let name = call.name();
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(bad_payload(format!("{name}: candidate {id} is named twice")));
        }
        aergo_crypto::PublicKey::from_peer_id(id).map_err(|e| bad_payload(format!("{name}: candidate: {e}")))?;
    }
    Ok(())
}

/// The stake of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stake {
    pub amount: Amount,
    /// Height of the block of the last increase; the lock counts from it.
    pub since_height: u64,
}

/// What a successful system call did, beyond the state it wrote.
#[derive(Debug, Default)]
pub(crate) struct GovOutcome {
    /// Event name and JSON arguments (the Go node's V2 event forms).
    pub event: Option<(&'static str, String)>,
    /// Parameters whose new value reached two thirds of the stake.
    pub passed: Vec<(GovParam, Amount)>,
}

/// True when the state has the staking tables (a DPoS chain).
pub fn is_enabled(view: &dyn TableStore) -> Result<bool, ExecError> {
    Ok(view.table(STAKES)?.is_some())
}

fn account_key(a: &Address) -> Value {
    Value::Text(a.to_string())
}

/// The stake of `account` (zero if none).
pub fn stake_of(view: &dyn TableStore, account: &Address) -> Result<Stake, ExecError> {
    match rows::read(view, STAKES, &[account_key(account)])? {
        None => Ok(Stake::default()),
        Some(row) => match row.as_slice() {
            [Value::Text(_), amount, since] => {
                Ok(Stake { amount: as_amount(STAKES, amount)?, since_height: as_u64(STAKES, since)? })
            }
            other => Err(corrupt(STAKES, format!("unexpected row {other:?}"))),
        },
    }
}

pub(crate) fn write_stake(view: &mut dyn TableStore, account: &Address, stake: Stake) -> Result<(), ExecError> {
    let key = [account_key(account)];
    if stake.amount.is_zero() {
        return rows::delete(view, STAKES, &key);
    }
    let row =
        [account_key(account), rows::amount_value(STAKES, stake.amount)?, rows::u64_value(STAKES, stake.since_height)?];
    rows::write(view, STAKES, &key, &row)
}

/// All staked AERGO.
pub fn total_staked(view: &dyn TableStore) -> Result<Amount, ExecError> {
    match rows::read(view, TOTALS, &[text(TOTAL_STAKED)])? {
        Some(row) => match row.as_slice() {
            [Value::Text(_), v] => as_amount(TOTALS, v),
            other => Err(corrupt(TOTALS, format!("unexpected row {other:?}"))),
        },
        None => Err(corrupt(TOTALS, "the staked total row is missing")),
    }
}

fn write_total_staked(view: &mut dyn TableStore, total: Amount) -> Result<(), ExecError> {
    rows::write(view, TOTALS, &[text(TOTAL_STAKED)], &[text(TOTAL_STAKED), rows::amount_value(TOTALS, total)?])
}

/// The candidates `voter` votes for, in id order.
pub fn votes_of(view: &dyn TableStore, voter: &Address) -> Result<Vec<String>, ExecError> {
    rows::scan_prefix(view, VOTES, &[account_key(voter)], MAX_CANDIDATES_PER_VOTE)?
        .iter()
        .map(|row| match row.as_slice() {
            [Value::Text(_), c] => as_text(VOTES, c),
            other => Err(corrupt(VOTES, format!("unexpected row {other:?}"))),
        })
        .collect()
}

/// The stake behind `candidate` (zero if nobody votes for it).
pub fn candidate_votes(view: &dyn TableStore, candidate: &str) -> Result<Amount, ExecError> {
    CANDIDATE_TALLY.get(view, &[], &text(candidate))
}

/// The value `voter` votes for `param`, if any.
pub fn param_vote(view: &dyn TableStore, param: GovParam, voter: &Address) -> Result<Option<Amount>, ExecError> {
    match rows::read(view, PARAM_VOTES, &[text(param.dao_id()), account_key(voter)])? {
        None => Ok(None),
        Some(row) => match row.as_slice() {
            [Value::Text(_), Value::Text(_), v] => Ok(Some(as_amount(PARAM_VOTES, v)?)),
            other => Err(corrupt(PARAM_VOTES, format!("unexpected row {other:?}"))),
        },
    }
}

/// The stake behind `value` for `param`.
pub fn param_tally(view: &dyn TableStore, param: GovParam, value: Amount) -> Result<Amount, ExecError> {
    PARAM_TALLY.get(view, &[text(param.dao_id())], &rows::amount_value(PARAM_TALLIES, value)?)
}

/// The value with the most stake behind it for `param` (ties: the
/// smallest value), with that stake.
pub fn param_leader(view: &dyn TableStore, param: GovParam) -> Result<Option<(Amount, Amount)>, ExecError> {
    match PARAM_TALLY.leader(view, &[text(param.dao_id())])? {
        None => Ok(None),
        Some((value, votes)) => Ok(Some((as_amount(PARAM_RANKING, &value)?, votes))),
    }
}

/// Candidates by votes, most first (ties: smaller id first), as long as
/// `keep` says so; for the election, which stops early.
pub(crate) fn for_each_candidate_by_votes(
    view: &dyn TableStore,
    mut keep: impl FnMut(&str, Amount) -> Result<bool, ExecError>,
) -> Result<(), ExecError> {
    let iter = view.range(
        CANDIDATE_RANKING,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        aergo_store::Direction::Forward,
    )?;
    for entry in iter {
        let (_, bytes) = entry?;
        let row = aergo_store::codec::decode_row(&bytes).map_err(|e| corrupt(CANDIDATE_RANKING, e.to_string()))?;
        let [Value::Numeric(neg), Value::Text(candidate)] = row.as_slice() else {
            return Err(corrupt(CANDIDATE_RANKING, format!("unexpected row {row:?}")));
        };
        let votes = as_amount(CANDIDATE_RANKING, &Value::Numeric(-*neg))?;
        if !keep(candidate, votes)? {
            break;
        }
    }
    Ok(())
}

/// A signed change of a tally.
#[derive(Clone, Copy, Debug)]
enum Delta {
    Add(Amount),
    Sub(Amount),
}

/// A per-item sum of stake, with a ranking index ordered by (sum desc,
/// item asc) so the leader is the first row of a forward scan. Rows exist
/// only for positive sums.
///
/// `table` key: group ++ [item], row: group ++ [item, votes];
/// `ranking` key and row: group ++ [-votes, item].
struct Tally {
    table: &'static str,
    ranking: &'static str,
}

const CANDIDATE_TALLY: Tally = Tally { table: CANDIDATES, ranking: CANDIDATE_RANKING };
const PARAM_TALLY: Tally = Tally { table: PARAM_TALLIES, ranking: PARAM_RANKING };

impl Tally {
    fn key(group: &[Value], item: &Value) -> Vec<Value> {
        let mut k = group.to_vec();
        k.push(item.clone());
        k
    }

    fn get(&self, view: &dyn TableStore, group: &[Value], item: &Value) -> Result<Amount, ExecError> {
        match rows::read(view, self.table, &Tally::key(group, item))? {
            None => Ok(Amount::ZERO),
            Some(row) if row.len() == group.len() + 2 => as_amount(self.table, &row[group.len() + 1]),
            Some(row) => Err(corrupt(self.table, format!("unexpected row {row:?}"))),
        }
    }

    fn ranking_key(&self, group: &[Value], votes: Amount, item: &Value) -> Result<Vec<Value>, ExecError> {
        let mut k = group.to_vec();
        k.push(rows::neg_amount_value(self.ranking, votes)?);
        k.push(item.clone());
        Ok(k)
    }

    fn adjust(&self, view: &mut dyn TableStore, group: &[Value], item: &Value, delta: Delta) -> Result<(), ExecError> {
        let current = self.get(view, group, item)?;
        let next = match delta {
            Delta::Add(a) => current.checked_add(a),
            Delta::Sub(a) => current.checked_sub(a),
        }
        .ok_or_else(|| corrupt(self.table, format!("tally {current} cannot take {delta:?}")))?;
        if current == next {
            return Ok(());
        }
        if !current.is_zero() {
            rows::delete(view, self.ranking, &self.ranking_key(group, current, item)?)?;
        }
        let key = Tally::key(group, item);
        if next.is_zero() {
            rows::delete(view, self.table, &key)?;
        } else {
            let mut row = key.clone();
            row.push(rows::amount_value(self.table, next)?);
            rows::write(view, self.table, &key, &row)?;
            let rk = self.ranking_key(group, next, item)?;
            rows::write(view, self.ranking, &rk, &rk)?;
        }
        Ok(())
    }

    fn leader(&self, view: &dyn TableStore, group: &[Value]) -> Result<Option<(Value, Amount)>, ExecError> {
        let Some(row) = rows::first_with_prefix(view, self.ranking, group)? else {
            return Ok(None);
        };
        match row.get(group.len()..).unwrap_or_default() {
            [Value::Numeric(neg), item] => Ok(Some((item.clone(), as_amount(self.ranking, &Value::Numeric(-*neg))?))),
            other => Err(corrupt(self.ranking, format!("unexpected row tail {other:?}"))),
        }
    }
}

fn param_value(value: Amount) -> Result<Value, ExecError> {
    rows::amount_value(PARAM_VOTES, value)
}

/// Moves `voter`'s weight in every tally it takes part in by `delta` (its
/// stake changed by that much).
fn reweigh(view: &mut dyn TableStore, voter: &Address, delta: Delta) -> Result<(), ExecError> {
    for candidate in votes_of(view, voter)? {
        CANDIDATE_TALLY.adjust(view, &[], &text(&candidate), delta)?;
    }
    for param in GovParam::ALL {
        if let Some(value) = param_vote(view, param, voter)? {
            PARAM_TALLY.adjust(view, &[text(param.dao_id())], &param_value(value)?, delta)?;
        }
    }
    Ok(())
}

pub(crate) fn system_address() -> Address {
    Address::Name(AERGO_SYSTEM.to_string())
}

fn amount_event(who: &Address, amount: Amount) -> String {
    json!([who.to_string(), {"_bignum": amount.aer().to_string()}]).to_string()
}

/// Takes `amount` from `account`'s stake (slashing): the staked total and
/// every tally its votes are in shrink with it. The AERGO stays in
/// `aergo.system`'s balance; the caller moves it.
pub(crate) fn cut_stake(view: &mut dyn TableStore, account: &Address, amount: Amount) -> Result<(), ExecError> {
    let mut stake = stake_of(view, account)?;
    stake.amount = stake.amount.checked_sub(amount).ok_or(corrupt(STAKES, "a cut above the stake"))?;
    write_stake(view, account, stake)?;
    let total = total_staked(view)?.checked_sub(amount).ok_or(corrupt(TOTALS, "staked total below a stake"))?;
    write_total_staked(view, total)?;
    reweigh(view, account, Delta::Sub(amount))
}

/// What refuses a system call before it touches any account: candidates
/// (which need the key code; the block builder parsed the payload with
/// `GovCall::parse`, the wire form), a chain without staking, an amount
/// the call cannot carry. Block execution and pool admission
/// ([`crate::check_runnable`]) share it.
pub(crate) fn precheck(
    view: &dyn TableStore,
    call: &GovCall,
    amount: Amount,
    chain_id_hash: &Hash,
) -> Result<(), ExecError> {
    check_candidates(call)?;
    if !is_enabled(view)? {
        return Err(ExecError::Unsupported {
            what: format!("system call {}", call.name()),
            reason: "staking and voting exist only on dpos chains",
        });
    }
    let name = call.name();
    match call {
        GovCall::Stake | GovCall::Unstake if amount.is_zero() => {
            Err(ExecError::GovernanceRejected { call: name, reason: "the tx amount must be positive".into() })
        }
        GovCall::VoteBp(_) | GovCall::VoteDao { .. } if !amount.is_zero() => Err(ExecError::GovernanceRejected {
            call: name,
            reason: format!("a vote moves no AERGO, but the tx amount is {amount}"),
        }),
        GovCall::Evidence(e) => {
            no_evidence_amount(amount)?;
            slashing::precheck(view, e, chain_id_hash).map(|_| ())
        }
        _ => Ok(()),
    }
}

fn no_evidence_amount(amount: Amount) -> Result<(), ExecError> {
    if amount.is_zero() {
        return Ok(());
    }
    Err(ExecError::GovernanceRejected {
        call: aergo_types::payload::CALL_EVIDENCE,
        reason: format!("evidence moves no AERGO, but the tx amount is {amount}"),
    })
}

/// Executes one system call by `sender` in the block at `height`. The fee
/// is already paid and the nonce bumped; `amount` is the tx amount.
pub(crate) fn execute(
    view: &mut dyn TableStore,
    height: u64,
    sender: &Address,
    call: &GovCall,
    amount: Amount,
    chain_id_hash: &Hash,
) -> Result<GovOutcome, ExecError> {
    if let GovCall::Evidence(e) = call {
        // The evidence is checked once, by `slashing::execute`, not here
        // and there: four signatures are the bulk of the call's cost.
        no_evidence_amount(amount)?;
        let event = slashing::execute(view, height, sender, e, chain_id_hash)?;
        return Ok(GovOutcome { event: Some(event), passed: Vec::new() });
    }
    precheck(view, call, amount, chain_id_hash)?;
    let who = sender.to_string();
    let mut outcome = GovOutcome::default();
    match call {
        GovCall::Stake => {
            let minimum = system::read_param_required(view, system::PARAM_MIN_STAKE)?;
            let mut stake = stake_of(view, sender)?;
            let would_be =
                stake.amount.checked_add(amount).ok_or(ExecError::BalanceOverflow { account: who.clone() })?;
            if would_be < minimum {
                return Err(ExecError::StakeBelowMinimum {
                    account: who,
                    would_be: would_be.to_string(),
                    minimum: minimum.to_string(),
                });
            }
            move_balance(view, sender, &system_address(), amount)?;
            stake.amount = would_be;
            stake.since_height = height;
            write_stake(view, sender, stake)?;
            let total = total_staked(view)?.checked_add(amount).ok_or(corrupt(TOTALS, "staked total overflows"))?;
            write_total_staked(view, total)?;
            reweigh(view, sender, Delta::Add(amount))?;
            outcome.event = Some(("stake", amount_event(sender, amount)));
        }
        GovCall::Unstake => {
            let mut stake = stake_of(view, sender)?;
            if stake.amount.is_zero() {
                return Err(ExecError::NotStaked { account: who, what: "unstaking" });
            }
            if amount > stake.amount {
                return Err(ExecError::UnstakeExceedsStake {
                    account: who,
                    requested: amount.to_string(),
                    staked: stake.amount.to_string(),
                });
            }
            let lock = system::read_param_u64(view, system::PARAM_STAKE_LOCK_BLOCKS)?;
            let unlock_height = stake.since_height.saturating_add(lock);
            if height < unlock_height {
                return Err(ExecError::StakeLocked { account: who, unlock_height, height });
            }
            let minimum = system::read_param_required(view, system::PARAM_MIN_STAKE)?;
            let rest = stake.amount.checked_sub(amount).ok_or(corrupt(STAKES, "checked above"))?;
            if !rest.is_zero() && rest < minimum {
                return Err(ExecError::StakeBelowMinimum {
                    account: who,
                    would_be: rest.to_string(),
                    minimum: minimum.to_string(),
                });
            }
            move_balance(view, &system_address(), sender, amount)?;
            stake.amount = rest;
            write_stake(view, sender, stake)?;
            let total = total_staked(view)?
                .checked_sub(amount)
                .ok_or(corrupt(TOTALS, "staked total is below a stake being withdrawn"))?;
            write_total_staked(view, total)?;
            reweigh(view, sender, Delta::Sub(amount))?;
            outcome.event = Some(("unstake", amount_event(sender, amount)));
        }
        GovCall::VoteBp(candidates) => {
            let stake = stake_of(view, sender)?;
            if stake.amount.is_zero() {
                return Err(ExecError::NotStaked { account: who, what: "voting" });
            }
            for old in votes_of(view, sender)? {
                CANDIDATE_TALLY.adjust(view, &[], &text(&old), Delta::Sub(stake.amount))?;
                rows::delete(view, VOTES, &[account_key(sender), text(&old)])?;
            }
            for c in candidates {
                let key = [account_key(sender), text(c)];
                rows::write(view, VOTES, &key, &key)?;
                CANDIDATE_TALLY.adjust(view, &[], &text(c), Delta::Add(stake.amount))?;
            }
            outcome.event = Some(("voteBP", json!([who, candidates]).to_string()));
        }
        // Executed above.
        GovCall::Evidence(_) => {}
        GovCall::VoteDao { param, value } => {
            let stake = stake_of(view, sender)?;
            if stake.amount.is_zero() {
                return Err(ExecError::NotStaked { account: who, what: "voting" });
            }
            let group = [text(param.dao_id())];
            if let Some(old) = param_vote(view, *param, sender)? {
                PARAM_TALLY.adjust(view, &group, &param_value(old)?, Delta::Sub(stake.amount))?;
            }
            let v = param_value(Amount::from_aer(*value))?;
            let key = [text(param.dao_id()), account_key(sender)];
            rows::write(view, PARAM_VOTES, &key, &[text(param.dao_id()), account_key(sender), v.clone()])?;
            PARAM_TALLY.adjust(view, &group, &v, Delta::Add(stake.amount))?;
            outcome.event = Some(("voteDAO", json!([who, param.dao_id(), {"_bignum": value.to_string()}]).to_string()));
        }
    }
    outcome.passed = passed_params(view)?;
    Ok(outcome)
}

fn move_balance(view: &mut dyn TableStore, from: &Address, to: &Address, amount: Amount) -> Result<(), ExecError> {
    let mut a = read_account(view, from)?;
    a.balance = a.balance.checked_sub(amount).ok_or_else(|| ExecError::InsufficientBalance {
        account: from.to_string(),
        needed: amount.to_string(),
        available: a.balance.to_string(),
    })?;
    write_account(view, from, a)?;
    let mut b = read_account(view, to)?;
    b.balance = b.balance.checked_add(amount).ok_or(ExecError::BalanceOverflow { account: to.to_string() })?;
    write_account(view, to, b)
}

/// Parameters whose leading value has at least two thirds of all staked
/// AERGO behind it and differs from the value in force.
pub fn passed_params(view: &dyn TableStore) -> Result<Vec<(GovParam, Amount)>, ExecError> {
    let total = total_staked(view)?;
    let mut out = Vec::new();
    if total.is_zero() {
        return Ok(out);
    }
    for param in GovParam::ALL {
        let Some((value, votes)) = param_leader(view, param)? else {
            continue;
        };
        // votes <= total <= supply (5e26): the products fit u128 easily.
        if votes.aer() * 3 >= total.aer() * 2 && system::read_param(view, param.param_name())? != Some(value) {
            out.push((param, value));
        }
    }
    Ok(out)
}

/// Checks used by the tests: recomputes every aggregate from the votes and
/// stakes and compares with the stored ones.
#[cfg(test)]
pub(crate) fn recompute_candidates(
    view: &dyn TableStore,
) -> Result<std::collections::BTreeMap<String, Amount>, ExecError> {
    let mut out: std::collections::BTreeMap<String, Amount> = Default::default();
    for row in rows::scan_prefix(view, VOTES, &[], usize::MAX)? {
        let [Value::Text(voter), Value::Text(candidate)] = row.as_slice() else {
            return Err(corrupt(VOTES, "bad row"));
        };
        let stake = stake_of(view, &Address::parse(voter).map_err(|e| corrupt(VOTES, e.to_string()))?)?;
        if !stake.amount.is_zero() {
            let e = out.entry(candidate.clone()).or_default();
            *e = e.checked_add(stake.amount).ok_or(corrupt(VOTES, "overflow"))?;
        }
    }
    Ok(out)
}

/// The stored candidate tallies, checked against their ranking index.
#[cfg(test)]
pub(crate) fn stored_candidates(
    view: &dyn TableStore,
) -> Result<std::collections::BTreeMap<String, Amount>, ExecError> {
    let mut out: std::collections::BTreeMap<String, Amount> = Default::default();
    for row in rows::scan_prefix(view, CANDIDATES, &[], usize::MAX)? {
        let [Value::Text(c), v] = row.as_slice() else {
            return Err(corrupt(CANDIDATES, "bad row"));
        };
        out.insert(c.clone(), as_amount(CANDIDATES, v)?);
    }
    let mut ranked = Vec::new();
    for_each_candidate_by_votes(view, |c, v| {
        ranked.push((c.to_string(), v));
        Ok(true)
    })?;
    assert_eq!(ranked.len(), out.len(), "ranking index and tallies differ in size");
    for w in ranked.windows(2) {
        assert!(w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0), "ranking out of order: {w:?}");
    }
    for (c, v) in &ranked {
        assert_eq!(out.get(c), Some(v), "ranking row for {c} disagrees with its tally");
    }
    Ok(out)
}
