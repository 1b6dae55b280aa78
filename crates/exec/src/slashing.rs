//! Slashing: evidence of a producer's misbehaviour, submitted by anyone
//! in a `v1evidence` system call, convicts the producer; its stake is cut
//! and it leaves the producer set at the next block.
//!
//! **What is checked.** The evidence itself (signatures, one slot, the
//! compact proofs of a broken promise) by `aergo_crypto::check_evidence`
//! against this chain's id hash and slot clock (the genesis timestamp and
//! slot length, fixed in `sys.params` at genesis); then, in state, that
//! the convicted key is one of the chain's producers or candidates (in
//! the set, rated, staked or voted for) and that this offence was not
//! punished already. The same checks run at pool admission, so bad or
//! repeated evidence is refused before it pays a fee, and again in the
//! block, where they are consensus rules.
//!
//! **One offence, one punishment.** `sys.offences` is keyed by the
//! offence id (`Offence::id`: kind, producer and slot, or promised
//! parent and height), so the same two blocks in the other order, a third
//! block of the slot or another broken promise of the same block is
//! refused as punished already.
//!
//! **The punishment.** `SLASHPERCENT` percent (a governance parameter,
//! 10 at genesis; 0 turns the cut off) of the stake of the producer's own
//! account (the account whose key is the producer key) is taken from its
//! stake: the reporter receives `REPORTER_SHARE_PERCENT` of it (enough to
//! pay for submitting, too little to make self-reporting pay) and the
//! rest is burned, counted in `sys.totals` as `burned` so that balances
//! plus burned stay the total supply. Votes the producer's account cast
//! weigh less at once (its stake is smaller). The producer is recorded in
//! `sys.slashed`: it is never elected again, and the next block's
//! producer bookkeeping (`dpos::begin_block`) runs an election at once
//! instead of waiting for the epoch, so it leaves the schedule within a
//! block (the consensus engine carries the set change through its joint
//! configuration like any election).

use aergo_crypto::{check_evidence, Offence};
use aergo_store::{TableMeta, TableStore, Value};
use aergo_types::evidence::SlotClock;
use aergo_types::{Address, Amount, Evidence, Hash};
use serde_json::json;

use crate::rows::{self, as_amount, as_text, as_u64, corrupt, text};
use crate::system::{self, read_account, write_account};
use crate::{dpos, gov, ExecError};

pub const OFFENCES: &str = "sys.offences";
pub const SLASHED: &str = "sys.slashed";

pub const OFFENCES_DDL: &str = "CREATE TABLE sys.offences (id TEXT PRIMARY KEY, kind TEXT NOT NULL, \
                                producer TEXT NOT NULL, at BIGINT NOT NULL, height BIGINT NOT NULL, \
                                reporter TEXT NOT NULL, slashed NUMERIC(38,0) NOT NULL, \
                                reward NUMERIC(38,0) NOT NULL, detail TEXT NOT NULL)";
pub const SLASHED_DDL: &str = "CREATE TABLE sys.slashed (producer TEXT PRIMARY KEY, offences BIGINT NOT NULL, \
                               slashed NUMERIC(38,0) NOT NULL, since_height BIGINT NOT NULL)";

/// `SLASHPERCENT` at genesis.
pub const DEFAULT_SLASH_PERCENT: u64 = 10;
/// Percent of a slashed amount paid to whoever submitted the evidence;
/// the rest is burned.
pub const REPORTER_SHARE_PERCENT: u128 = 10;
/// The `sys.totals` row counting burned AERGO.
pub const TOTAL_BURNED: &str = "burned";

/// Creates the slashing tables and parameters of a DPoS chain at genesis.
pub(crate) fn init_genesis(view: &mut dyn TableStore, clock: Option<SlotClock>) -> Result<(), ExecError> {
    for (name, ddl) in [(OFFENCES, OFFENCES_DDL), (SLASHED, SLASHED_DDL)] {
        view.create_table(name, TableMeta { schema: ddl.as_bytes().to_vec() })?;
    }
    system::write_param(view, system::PARAM_SLASH_PERCENT, Amount::from_aer(u128::from(DEFAULT_SLASH_PERCENT)))?;
    if let Some(clock) = clock {
        // Genesis validation keeps the timestamp non-negative; a clock that
        // cannot be stored is left out and header evidence is refused.
        if let Ok(ts) = u128::try_from(clock.genesis_timestamp_ns) {
            system::write_param(view, system::PARAM_GENESIS_TIMESTAMP_NS, Amount::from_aer(ts))?;
            system::write_param(view, system::PARAM_SLOT_INTERVAL_MS, Amount::from_aer(u128::from(clock.interval_ms)))?;
        }
    }
    Ok(())
}

fn rejected(reason: impl Into<String>) -> ExecError {
    ExecError::EvidenceRejected { reason: reason.into() }
}

/// The chain's slot clock, as genesis recorded it.
fn slot_clock(view: &dyn TableStore) -> Result<SlotClock, ExecError> {
    let ts = system::read_param(view, system::PARAM_GENESIS_TIMESTAMP_NS)?;
    let interval = system::read_param(view, system::PARAM_SLOT_INTERVAL_MS)?;
    match (ts, interval) {
        (Some(ts), Some(interval)) => Ok(SlotClock {
            genesis_timestamp_ns: i64::try_from(ts.aer()).map_err(|_| corrupt("sys.params", "genesis timestamp"))?,
            interval_ms: u64::try_from(interval.aer()).map_err(|_| corrupt("sys.params", "slot interval"))?,
        }),
        _ => Err(ExecError::Unsupported {
            what: "evidence".into(),
            reason: "this chain's state does not record its slot clock (a DPoS genesis from before slashing)",
        }),
    }
}

/// True when `candidate` (a peer id) was convicted: it is never elected.
pub fn is_slashed(view: &dyn TableStore, candidate: &str) -> Result<bool, ExecError> {
    if view.table(SLASHED)?.is_none() {
        return Ok(false);
    }
    Ok(rows::read(view, SLASHED, &[text(candidate)])?.is_some())
}

/// Whether `peer` has a part in this chain's schedule: in the producer
/// set, rated, staked or voted for.
fn is_known_producer(view: &dyn TableStore, peer: &str, account: &Address) -> Result<bool, ExecError> {
    Ok(dpos::producers(view)?.iter().any(|p| p == peer)
        || rows::read(view, dpos::BP_RATINGS, &[text(peer)])?.is_some()
        || !gov::stake_of(view, account)?.amount.is_zero()
        || !gov::candidate_votes(view, peer)?.is_zero())
}

/// What refuses evidence before anything is written: it proves nothing,
/// convicts a key with no part in the chain, or an offence punished
/// already. Returns the offence.
pub(crate) fn precheck(view: &dyn TableStore, evidence: &Evidence, chain_id_hash: &Hash) -> Result<Offence, ExecError> {
    if view.table(OFFENCES)?.is_none() {
        return Err(ExecError::Unsupported {
            what: "evidence".into(),
            reason: "this chain's state has no offence records (a DPoS genesis from before slashing)",
        });
    }
    let clock = slot_clock(view)?;
    let offence = check_evidence(evidence, chain_id_hash, &clock).map_err(|e| rejected(e.to_string()))?;
    let peer = offence.producer.peer_id();
    if !is_known_producer(view, &peer, &offence.producer.address())? {
        return Err(rejected(format!("{peer} is not a producer or candidate of this chain")));
    }
    if let Some(row) = rows::read(view, OFFENCES, &[text(&offence.id.to_hex())])? {
        let height = row.get(4).map(|v| as_u64(OFFENCES, v)).transpose()?.unwrap_or(0);
        return Err(rejected(format!(
            "offence {} ({} by {peer} at {}) was punished at height {height}",
            offence.id.to_hex(),
            offence.kind.name(),
            offence.at
        )));
    }
    Ok(offence)
}

/// Convicts the producer `evidence` names, in the block at `height`;
/// `reporter` sent it (its fee is paid). Returns the event's name and
/// JSON arguments.
pub(crate) fn execute(
    view: &mut dyn TableStore,
    height: u64,
    reporter: &Address,
    evidence: &Evidence,
    chain_id_hash: &Hash,
) -> Result<(&'static str, String), ExecError> {
    let offence = precheck(view, evidence, chain_id_hash)?;
    let peer = offence.producer.peer_id();
    let account = offence.producer.address();
    let percent = system::read_param(view, system::PARAM_SLASH_PERCENT)?
        .map(|a| a.aer().min(100))
        .unwrap_or(u128::from(DEFAULT_SLASH_PERCENT));
    let stake = gov::stake_of(view, &account)?;
    // stake <= supply (5e26) and percent <= 100: the products fit u128.
    let slashed = Amount::from_aer(stake.amount.aer() * percent / 100);
    let reward = Amount::from_aer(slashed.aer() * REPORTER_SHARE_PERCENT / 100);
    if !slashed.is_zero() {
        gov::cut_stake(view, &account, slashed)?;
        let burned = slashed.checked_sub(reward).ok_or(corrupt(OFFENCES, "reward above the slashed amount"))?;
        let system_account = gov::system_address();
        let mut pool = read_account(view, &system_account)?;
        pool.balance = pool
            .balance
            .checked_sub(slashed)
            .ok_or(corrupt("sys.accounts", "aergo.system holds less than the stake"))?;
        write_account(view, &system_account, pool)?;
        let mut to = read_account(view, reporter)?;
        to.balance =
            to.balance.checked_add(reward).ok_or(ExecError::BalanceOverflow { account: reporter.to_string() })?;
        write_account(view, reporter, to)?;
        let total_burned =
            read_total(view, TOTAL_BURNED)?.checked_add(burned).ok_or(corrupt(gov::TOTALS, "burned total"))?;
        rows::write(
            view,
            gov::TOTALS,
            &[text(TOTAL_BURNED)],
            &[text(TOTAL_BURNED), rows::amount_value(gov::TOTALS, total_burned)?],
        )?;
    }
    let id = offence.id.to_hex();
    let row = [
        text(&id),
        text(offence.kind.name()),
        text(&peer),
        rows::u64_value(OFFENCES, offence.at)?,
        rows::u64_value(OFFENCES, height)?,
        text(&reporter.to_string()),
        rows::amount_value(OFFENCES, slashed)?,
        rows::amount_value(OFFENCES, reward)?,
        text(&offence.detail),
    ];
    rows::write(view, OFFENCES, &[text(&id)], &row)?;
    let (count, total, since) = match rows::read(view, SLASHED, &[text(&peer)])? {
        Some(r) => match r.as_slice() {
            [_, count, total, since] => (as_u64(SLASHED, count)?, as_amount(SLASHED, total)?, as_u64(SLASHED, since)?),
            other => return Err(corrupt(SLASHED, format!("unexpected row {other:?}"))),
        },
        None => (0, Amount::ZERO, height),
    };
    let total = total.checked_add(slashed).ok_or(corrupt(SLASHED, "slashed total overflows"))?;
    let row = [
        text(&peer),
        rows::u64_value(SLASHED, count + 1)?,
        rows::amount_value(SLASHED, total)?,
        rows::u64_value(SLASHED, since)?,
    ];
    rows::write(view, SLASHED, &[text(&peer)], &row)?;
    let args = json!([peer, offence.kind.name(), {"_bignum": slashed.aer().to_string()}, id, offence.detail]);
    Ok(("slash", args.to_string()))
}

/// A `sys.totals` row (zero when absent).
fn read_total(view: &dyn TableStore, name: &str) -> Result<Amount, ExecError> {
    match rows::read(view, gov::TOTALS, &[text(name)])? {
        None => Ok(Amount::ZERO),
        Some(row) => match row.as_slice() {
            [Value::Text(_), v] => as_amount(gov::TOTALS, v),
            other => Err(corrupt(gov::TOTALS, format!("unexpected row {other:?}"))),
        },
    }
}

/// All AERGO burned by slashing.
pub fn total_burned(view: &dyn TableStore) -> Result<Amount, ExecError> {
    read_total(view, TOTAL_BURNED)
}

/// One punished offence, as `sys.offences` records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffenceRecord {
    pub id: String,
    pub kind: String,
    pub producer: String,
    /// The slot (double block or vote) or promised height.
    pub at: u64,
    /// The block that punished it.
    pub height: u64,
    pub reporter: String,
    pub slashed: Amount,
    pub reward: Amount,
    pub detail: String,
}

/// Punished offences in id order, at most `limit`.
pub fn offences(view: &dyn TableStore, limit: usize) -> Result<Vec<OffenceRecord>, ExecError> {
    if view.table(OFFENCES)?.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for row in rows::scan_prefix(view, OFFENCES, &[], limit)? {
        let [id, kind, producer, at, height, reporter, slashed, reward, detail] = row.as_slice() else {
            return Err(corrupt(OFFENCES, format!("unexpected row {row:?}")));
        };
        out.push(OffenceRecord {
            id: as_text(OFFENCES, id)?,
            kind: as_text(OFFENCES, kind)?,
            producer: as_text(OFFENCES, producer)?,
            at: as_u64(OFFENCES, at)?,
            height: as_u64(OFFENCES, height)?,
            reporter: as_text(OFFENCES, reporter)?,
            slashed: as_amount(OFFENCES, slashed)?,
            reward: as_amount(OFFENCES, reward)?,
            detail: as_text(OFFENCES, detail)?,
        });
    }
    Ok(out)
}
