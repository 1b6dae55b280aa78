//! Contract events: the `sys.events` system table, written by
//! `aergo_emit` during execution and read back into receipts and by the
//! event listing API.
//!
//! | column | |
//! |---|---|
//! | `block_no BIGINT`, `tx_index INTEGER`, `event_idx INTEGER` | the key |
//! | `contract TEXT` | emitting contract, base58check |
//! | `name TEXT` | event name |
//! | `args TEXT` | JSON |
//! | `tx_hash TEXT` | base58 |
//!
//! Why a table in state rather than a list kept beside execution: an event
//! is written through the same store as the contract's rows, inside the same
//! savepoints, so whatever undoes a write (a failed statement, an EXCEPTION
//! handler, a failed nested call, a failed transaction) undoes its events
//! too, with no bookkeeping of its own. The event index of a transaction is
//! the next free key under `(block_no, tx_index)`, so it stays dense even
//! when some events were undone. The table also makes events readable with
//! SQL at any snapshot, and gives the listing API an index by height that
//! switches with the head on a reorg. The cost is state growth: events stay
//! in state (a later pruning rule could drop old heights).
//!
//! The receipt of a transaction carries its events (the receipts root
//! covers them); `Event::block_hash` is left empty there and in listings
//! (the state does not know block hashes).
//!
//! Listing ([`list_events`]) scans the key range of the requested heights in
//! order and filters by contract and name, with a bound on rows scanned and
//! on results.

use std::ops::Bound;

use aergo_store::codec::{decode_row, encode_key, encode_row};
use aergo_store::{Direction, TableMeta, TableStore, Value};
use aergo_types::receipt::{RECEIPT_MAX_EVENTS, RECEIPT_RET_MAX_BYTES};
use aergo_types::{Address, Event, Hash};

use crate::ExecError;

pub const EVENTS: &str = "sys.events";
pub const EVENTS_DDL: &str = "CREATE TABLE sys.events (block_no BIGINT NOT NULL, tx_index INTEGER NOT NULL, \
     event_idx INTEGER NOT NULL, contract TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL, \
     tx_hash TEXT NOT NULL, PRIMARY KEY (block_no, tx_index, event_idx))";

/// Longest event name, in bytes.
pub const MAX_EVENT_NAME_BYTES: usize = 64;
/// Longest event argument JSON, in bytes (name and args together stay
/// within the receipt's bound).
pub const MAX_EVENT_ARGS_BYTES: usize = RECEIPT_RET_MAX_BYTES - MAX_EVENT_NAME_BYTES;

pub(crate) fn create_table(view: &mut dyn TableStore) -> Result<(), ExecError> {
    view.create_table(EVENTS, TableMeta { schema: EVENTS_DDL.as_bytes().to_vec() })?;
    Ok(())
}

fn corrupt(reason: impl Into<String>) -> ExecError {
    ExecError::CorruptState { table: EVENTS, reason: reason.into() }
}

fn int(v: u64, what: &str) -> Result<Value, ExecError> {
    i64::try_from(v).map(Value::Int).map_err(|_| corrupt(format!("{what} {v} exceeds BIGINT")))
}

fn tx_prefix(height: u64, tx_index: usize) -> Result<Vec<u8>, ExecError> {
    Ok(encode_key(&[int(height, "height")?, int(tx_index as u64, "tx index")?]))
}

/// A key just above every key that starts with `prefix` (value tags are
/// below 0xFF, see the store's key encoding).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xFF);
    end
}

fn invalid(reason: String) -> ExecError {
    ExecError::BadArguments { function: "aergo_emit".into(), reason }
}

/// Appends an event of the transaction at `(height, tx_index)`; returns its
/// index within the transaction. Bad input is [`ExecError::BadArguments`].
pub(crate) fn append(
    view: &mut dyn TableStore,
    height: u64,
    tx_index: usize,
    tx_hash: &Hash,
    contract: &str,
    name: &str,
    args: &str,
) -> Result<i32, ExecError> {
    if name.is_empty() || name.len() > MAX_EVENT_NAME_BYTES {
        return Err(invalid(format!("an event name is 1..={MAX_EVENT_NAME_BYTES} bytes, got {}", name.len())));
    }
    if args.len() > MAX_EVENT_ARGS_BYTES {
        return Err(invalid(format!(
            "event arguments are at most {MAX_EVENT_ARGS_BYTES} bytes of JSON, got {}",
            args.len()
        )));
    }
    if let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(args) {
        return Err(invalid(format!("event arguments must be JSON: {e}")));
    }
    let prefix = tx_prefix(height, tx_index)?;
    let end = prefix_end(&prefix);
    let last = {
        let mut it = view.range(EVENTS, Bound::Included(&prefix), Bound::Excluded(&end), Direction::Reverse)?;
        it.next().transpose()?
    };
    let idx = match last {
        None => 0,
        Some((_, row)) => match decode_row(&row).map_err(|e| corrupt(e.to_string()))?.get(2) {
            Some(Value::Int(i)) => *i + 1,
            other => return Err(corrupt(format!("event index {other:?}"))),
        },
    };
    if idx >= RECEIPT_MAX_EVENTS as i64 {
        return Err(invalid(format!("a transaction may emit at most {RECEIPT_MAX_EVENTS} events")));
    }
    let key = encode_key(&[int(height, "height")?, int(tx_index as u64, "tx index")?, Value::Int(idx)]);
    let row = encode_row(&[
        int(height, "height")?,
        int(tx_index as u64, "tx index")?,
        Value::Int(idx),
        Value::Text(contract.to_string()),
        Value::Text(name.to_string()),
        Value::Text(args.to_string()),
        Value::Text(tx_hash.to_base58()),
    ]);
    view.put(EVENTS, key, row)?;
    Ok(idx as i32)
}

fn decode_event(row: &[u8]) -> Result<Event, ExecError> {
    let row = decode_row(row).map_err(|e| corrupt(e.to_string()))?;
    let [Value::Int(height), Value::Int(tx_index), Value::Int(idx), Value::Text(contract), Value::Text(name), Value::Text(args), Value::Text(tx_hash)] =
        row.as_slice()
    else {
        return Err(corrupt(format!("unexpected row {row:?}")));
    };
    let contract = Address::parse(contract).map_err(|e| corrupt(format!("contract {contract:?}: {e}")))?;
    let tx_hash = Hash::from_base58(tx_hash).map_err(|e| corrupt(format!("tx hash: {e}")))?;
    let narrow = |v: i64, what: &str| i32::try_from(v).map_err(|_| corrupt(format!("{what} {v} out of range")));
    Ok(Event {
        contract_address: contract.to_vec(),
        event_name: name.clone(),
        json_args: args.clone(),
        event_idx: narrow(*idx, "event index")?,
        tx_hash: tx_hash.to_vec(),
        block_hash: Vec::new(),
        block_no: u64::try_from(*height).map_err(|_| corrupt("negative height"))?,
        tx_index: narrow(*tx_index, "tx index")?,
    })
}

/// The events of the transaction at `(height, tx_index)`, in order.
pub fn tx_events(view: &dyn TableStore, height: u64, tx_index: usize) -> Result<Vec<Event>, ExecError> {
    let prefix = tx_prefix(height, tx_index)?;
    let end = prefix_end(&prefix);
    let mut out = Vec::new();
    for entry in view.range(EVENTS, Bound::Included(&prefix), Bound::Excluded(&end), Direction::Forward)? {
        let (_, row) = entry?;
        if out.len() >= RECEIPT_MAX_EVENTS {
            return Err(corrupt(format!("more than {RECEIPT_MAX_EVENTS} events in one transaction")));
        }
        out.push(decode_event(&row)?);
    }
    Ok(out)
}

/// Which events [`list_events`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub contract: Option<Address>,
    pub name: Option<String>,
    pub from_height: u64,
    /// Inclusive.
    pub to_height: u64,
}

/// Bounds of one listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    /// Events returned at most; more matches set `truncated`.
    pub max_results: usize,
    /// Rows read at most; a scan that would read more is an error.
    pub max_scanned: usize,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits { max_results: 1000, max_scanned: 100_000 }
    }
}

/// What [`list_events`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventList {
    /// In (height, tx index, event index) order.
    pub events: Vec<Event>,
    /// More events matched than `max_results`.
    pub truncated: bool,
}

/// Lists events of blocks `from_height..=to_height` matching the filter.
pub fn list_events(view: &dyn TableStore, filter: &EventFilter, limits: ListLimits) -> Result<EventList, ExecError> {
    let mut out = EventList::default();
    if filter.from_height > filter.to_height {
        return Ok(out);
    }
    let lower = encode_key(&[int(filter.from_height, "height")?]);
    let upper = prefix_end(&encode_key(&[int(filter.to_height, "height")?]));
    let contract = filter.contract.as_ref().map(Address::to_string);
    let mut scanned = 0usize;
    for entry in view.range(EVENTS, Bound::Included(&lower), Bound::Excluded(&upper), Direction::Forward)? {
        let (_, row) = entry?;
        scanned += 1;
        if scanned > limits.max_scanned {
            return Err(ExecError::LimitExceeded {
                what: "event rows scanned by one listing (narrow the height range)",
                limit: limits.max_scanned as u64,
            });
        }
        // Filter on the decoded text before building the event.
        let values = decode_row(&row).map_err(|e| corrupt(e.to_string()))?;
        let matches = |i: usize, want: &Option<String>| match (want, values.get(i)) {
            (None, _) => true,
            (Some(w), Some(Value::Text(t))) => t == w,
            _ => false,
        };
        if !matches(3, &contract) || !matches(4, &filter.name) {
            continue;
        }
        if out.events.len() == limits.max_results {
            out.truncated = true;
            break;
        }
        out.events.push(decode_event(&row)?);
    }
    Ok(out)
}
