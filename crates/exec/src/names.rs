//! The name service, `aergo.name`, as the Go node has it: an account can
//! register a name of exactly 12 lowercase letters and digits for the name
//! price (governance parameter `NAMEPRICE`, 1 AERGO unless voted
//! otherwise), hand it to a new owner, and anyone can send AERGO to the
//! name instead of the address.
//!
//! **Calls** (governance transactions to `aergo.name`, payloads in
//! [`aergo_types::payload::NameCall`]):
//! - `v1createName [name]`: the name must be free; the sender becomes its
//!   owner and its destination.
//! - `v1updateName [name, new owner]`: only the owner may; the new owner
//!   becomes owner and destination.
//!
//! Both carry at least the name price as the tx amount; it is paid to the
//! `aergo.name` account, where it stays (no key controls that account),
//! so no token is created or destroyed. A refused call changes nothing
//! but is refused whole (it is not included), like any refused
//! transaction.
//!
//! **State**: `sys.names (name, owner, destination, height)`, created by
//! the first registration, so chains that never use names keep the state
//! roots they had. A transfer to a name credits the destination the name
//! has when the transfer executes.

use aergo_store::{TableMeta, TableStore};
use aergo_types::address::{AERGO_NAME, NAME_MAX_LENGTH};
use aergo_types::payload::NameCall;
use aergo_types::{Address, Amount};
use serde_json::json;

use crate::dpos::GENESIS_NAME_PRICE;
use crate::rows::{self, as_text, as_u64, corrupt, text};
use crate::system::{self, read_account, write_account};
use crate::ExecError;

pub const NAMES: &str = "sys.names";
pub const NAMES_DDL: &str = "CREATE TABLE sys.names (name TEXT PRIMARY KEY, owner TEXT NOT NULL, \
                             destination TEXT NOT NULL, height BIGINT NOT NULL)";

/// A registered name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRecord {
    pub name: String,
    pub owner: Address,
    pub destination: Address,
    /// Height of the block that last created or updated it.
    pub height: u64,
}

/// The name price in force: `NAMEPRICE`, or the Go node's 1 AERGO on a
/// chain without the parameter (solo chains).
pub fn name_price(view: &dyn TableStore) -> Result<Amount, ExecError> {
    Ok(system::read_param(view, system::PARAM_NAME_PRICE)?.unwrap_or(GENESIS_NAME_PRICE))
}

/// The record of `name`, if registered.
pub fn lookup(view: &dyn TableStore, name: &str) -> Result<Option<NameRecord>, ExecError> {
    if view.table(NAMES)?.is_none() {
        return Ok(None);
    }
    let Some(row) = rows::read(view, NAMES, &[text(name)])? else { return Ok(None) };
    match row.as_slice() {
        [n, owner, destination, height] => Ok(Some(NameRecord {
            name: as_text(NAMES, n)?,
            owner: address(&as_text(NAMES, owner)?)?,
            destination: address(&as_text(NAMES, destination)?)?,
            height: as_u64(NAMES, height)?,
        })),
        other => Err(corrupt(NAMES, format!("unexpected row {other:?}"))),
    }
}

fn address(text: &str) -> Result<Address, ExecError> {
    Address::parse(text).map_err(|e| corrupt(NAMES, format!("stored address {text:?}: {e}")))
}

/// Where a transfer to `recipient` goes: an account as it is, a user name
/// to its destination.
pub fn resolve(view: &dyn TableStore, recipient: &Address) -> Result<Address, ExecError> {
    match recipient {
        Address::Name(n) if !recipient.is_system() => {
            lookup(view, n)?.map(|r| r.destination).ok_or_else(|| ExecError::UnknownName { name: n.clone() })
        }
        other => Ok(other.clone()),
    }
}

fn refuse(call: &NameCall, reason: impl Into<String>) -> ExecError {
    ExecError::NameRejected { call: call.call(), name: call.name().to_string(), reason: reason.into() }
}

/// What refuses a name call against `view` before anything is written:
/// the name's form, the price paid, a name taken, an update by someone
/// other than the owner. Block execution and pool admission share it.
pub(crate) fn precheck(
    view: &dyn TableStore,
    sender: &Address,
    call: &NameCall,
    amount: Amount,
) -> Result<(), ExecError> {
    let price = name_price(view)?;
    if amount < price {
        return Err(refuse(call, format!("the tx amount {amount} is below the name price {price}")));
    }
    let name = call.name();
    match call {
        NameCall::Create { .. } => {
            let well_formed = name.len() == NAME_MAX_LENGTH
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && Address::name(name).is_ok();
            if !well_formed {
                return Err(refuse(call, format!("a name is exactly {NAME_MAX_LENGTH} lowercase letters and digits")));
            }
            if let Some(r) = lookup(view, name)? {
                return Err(refuse(call, format!("the name is taken (owner {})", r.owner)));
            }
        }
        NameCall::Update { owner, .. } => {
            let record = lookup(view, name)?.ok_or_else(|| ExecError::UnknownName { name: name.to_string() })?;
            if &record.owner != sender {
                return Err(refuse(call, format!("only its owner {} may update it", record.owner)));
            }
            if !owner.is_account() {
                return Err(refuse(call, format!("the new owner {owner} is not an account")));
            }
        }
    }
    Ok(())
}

/// Executes a name call by `sender` in the block at `height`: the fee is
/// paid, the nonce bumped and the amount already taken from the sender;
/// credits it to `aergo.name` and writes the record. Returns the event.
pub(crate) fn execute(
    view: &mut dyn TableStore,
    height: u64,
    sender: &Address,
    call: &NameCall,
    amount: Amount,
) -> Result<(&'static str, String), ExecError> {
    precheck(view, sender, call, amount)?;
    let service = Address::name(AERGO_NAME).map_err(|e| corrupt(NAMES, e.to_string()))?;
    let mut account = read_account(view, &service)?;
    account.balance = account
        .balance
        .checked_add(amount)
        .ok_or_else(|| ExecError::BalanceOverflow { account: AERGO_NAME.to_string() })?;
    write_account(view, &service, account)?;
    if view.table(NAMES)?.is_none() {
        view.create_table(NAMES, TableMeta { schema: NAMES_DDL.as_bytes().to_vec() })?;
    }
    let owner = match call {
        NameCall::Create { .. } => sender.clone(),
        NameCall::Update { owner, .. } => owner.clone(),
    };
    let name = call.name();
    let row = [text(name), text(&owner.to_string()), text(&owner.to_string()), rows::u64_value(NAMES, height)?];
    rows::write(view, NAMES, &[text(name)], &row)?;
    let event = match call {
        NameCall::Create { .. } => "createName",
        NameCall::Update { .. } => "updateName",
    };
    Ok((event, json!([name, owner.to_string()]).to_string()))
}
