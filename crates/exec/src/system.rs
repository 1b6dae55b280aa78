//! System tables: where accounts, balances, nonces and governance parameters
//! live in the versioned store.
//!
//! Layout (key -> row, both in `aergo_store::codec` encodings):
//!
//! | table | key | row |
//! |---|---|---|
//! | `sys.accounts` | `(address TEXT)` | `(address TEXT, balance NUMERIC(38,0), nonce BIGINT)` |
//! | `sys.params` | `(name TEXT)` | `(name TEXT, value NUMERIC(38,0))` |
//!
//! DPoS chains add the staking, voting and producer tables of [`crate::gov`]
//! and [`crate::dpos`], and more rows in `sys.params` (all NUMERIC, counts
//! as whole numbers): `bp_count`, `min_stake` and `name_price` (aer),
//! `stake_lock_blocks`, `epoch_blocks`, `rating_window_slots`.
//!
//! Addresses are stored in their base58check text form so that plain SQL
//! (`SELECT balance FROM sys.accounts WHERE address = 'Am...'`) reads them
//! as users write them. Balances are NUMERIC in aer: exact, and
//! 500,000,000 AERGO (5e26 aer) fits the 28-digit decimal with room to
//! spare. An account row exists once an account has received or sent
//! anything; absent rows read as zero balance, nonce zero.
//!
//! The schema blob of each system table is its `CREATE TABLE` statement, so
//! the SQL layer can describe the table; the row layout above is what that
//! statement declares, column for column.

use crate::{rows, ExecError};
use aergo_store::codec::{decode_row, encode_key, encode_row};
use aergo_store::{TableMeta, TableStore, Value};
use aergo_types::{Address, Amount};

pub const ACCOUNTS: &str = "sys.accounts";
pub const PARAMS: &str = "sys.params";

pub const ACCOUNTS_DDL: &str =
    "CREATE TABLE sys.accounts (address TEXT PRIMARY KEY, balance NUMERIC(38,0) NOT NULL, nonce BIGINT NOT NULL)";
pub const PARAMS_DDL: &str = "CREATE TABLE sys.params (name TEXT PRIMARY KEY, value NUMERIC(38,0) NOT NULL)";

/// Governance parameter: the gas price in aer per unit of gas.
pub const PARAM_GAS_PRICE: &str = "gas_price";
/// Governance parameter (DPoS chains): size of the elected producer set.
pub const PARAM_BP_COUNT: &str = "bp_count";
/// Governance parameter (DPoS chains): least stake an account may hold, in aer.
pub const PARAM_MIN_STAKE: &str = "min_stake";
/// Governance parameter (DPoS chains): price of a name, in aer.
pub const PARAM_NAME_PRICE: &str = "name_price";
/// Governance parameter (DPoS chains): blocks a stake stays locked.
pub const PARAM_STAKE_LOCK_BLOCKS: &str = "stake_lock_blocks";
/// Governance parameter: most gas one transaction may use.
pub const PARAM_MAX_TX_GAS: &str = "max_tx_gas";
/// Governance parameter: most gas one block's transactions may use.
pub const PARAM_MAX_BLOCK_GAS: &str = "max_block_gas";
/// Governance parameter (DPoS chains): percent of a convicted producer's
/// stake that is slashed.
pub const PARAM_SLASH_PERCENT: &str = "slash_percent";
/// Governance parameter: AergoFS registration price, aer per byte (1 gaer
/// while no vote has set it).
pub const PARAM_FILE_PRICE: &str = "file_price";
/// Governance parameter: AergoFS rent, aer per byte per block held (0, no
/// rent, while no vote has set it).
pub const PARAM_FILE_RENT: &str = "file_rent";
/// Fixed at genesis (DPoS chains): the genesis timestamp, in ns, which
/// starts slot 0 (evidence of two blocks in one slot needs the clock).
pub const PARAM_GENESIS_TIMESTAMP_NS: &str = "genesis_timestamp_ns";
/// Fixed at genesis (DPoS chains): the slot length.
pub const PARAM_SLOT_INTERVAL_MS: &str = "slot_interval_ms";
/// [`PARAM_MAX_TX_GAS`] while no vote has set it: about 0.3 s of the
/// costliest SQL on the reference machine, and 100 times a contract call's
/// default limit.
pub const DEFAULT_MAX_TX_GAS: u64 = 100_000_000;
/// [`PARAM_MAX_BLOCK_GAS`] while no vote has set it: 10,000 plain
/// transfers (the block's transaction bound) fit.
pub const DEFAULT_MAX_BLOCK_GAS: u64 = 1_000_000_000;
/// Fixed at genesis (DPoS chains): blocks per epoch.
pub const PARAM_EPOCH_BLOCKS: &str = "epoch_blocks";
/// Fixed at genesis (DPoS chains): slots in the producer-rating window.
pub const PARAM_RATING_WINDOW_SLOTS: &str = "rating_window_slots";

/// The state of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    pub balance: Amount,
    /// Number of transactions the account has sent; its next one carries
    /// `nonce + 1`.
    pub nonce: u64,
}

/// Creates the system tables in an empty state.
pub fn create_tables(view: &mut dyn TableStore) -> Result<(), ExecError> {
    view.create_table(ACCOUNTS, TableMeta { schema: ACCOUNTS_DDL.as_bytes().to_vec() })?;
    view.create_table(PARAMS, TableMeta { schema: PARAMS_DDL.as_bytes().to_vec() })?;
    Ok(())
}

fn value_to_amount(table: &'static str, v: &Value) -> Result<Amount, ExecError> {
    rows::as_amount(table, v)
}

/// An account's row key and text form, computed once: base58check
/// formatting is the most expensive step of a transfer otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKey {
    text: String,
    key: Vec<u8>,
}

impl AccountKey {
    pub fn new(address: &Address) -> AccountKey {
        let text = address.to_string();
        let key = encode_key(&[Value::Text(text.clone())]);
        AccountKey { text, key }
    }

    /// The address in base58check.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The account's key in [`ACCOUNTS`].
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Reads an account; an absent account is all zero.
pub fn read_account(view: &dyn TableStore, address: &Address) -> Result<AccountState, ExecError> {
    read_account_at(view, &AccountKey::new(address))
}

/// Reads an account by its precomputed key.
pub fn read_account_at(view: &dyn TableStore, account: &AccountKey) -> Result<AccountState, ExecError> {
    let Some(bytes) = view.get(ACCOUNTS, &account.key)? else {
        return Ok(AccountState::default());
    };
    let row = decode_row(&bytes).map_err(|e| ExecError::CorruptState { table: ACCOUNTS, reason: e.to_string() })?;
    match row.as_slice() {
        [Value::Text(_), balance, Value::Int(nonce)] if *nonce >= 0 => {
            Ok(AccountState { balance: value_to_amount(ACCOUNTS, balance)?, nonce: *nonce as u64 })
        }
        other => Err(ExecError::CorruptState { table: ACCOUNTS, reason: format!("unexpected row {other:?}") }),
    }
}

/// Writes an account.
pub fn write_account(view: &mut dyn TableStore, address: &Address, state: AccountState) -> Result<(), ExecError> {
    write_account_at(view, &AccountKey::new(address), state)
}

/// Writes an account by its precomputed key.
pub fn write_account_at(view: &mut dyn TableStore, account: &AccountKey, state: AccountState) -> Result<(), ExecError> {
    let nonce = i64::try_from(state.nonce)
        .map_err(|_| ExecError::CorruptState { table: ACCOUNTS, reason: "nonce exceeds BIGINT".into() })?;
    let row = encode_row(&[
        Value::Text(account.text.clone()),
        rows::amount_value(ACCOUNTS, state.balance)?,
        Value::Int(nonce),
    ]);
    view.put(ACCOUNTS, account.key.clone(), row)?;
    Ok(())
}

/// Reads a governance parameter.
pub fn read_param(view: &dyn TableStore, name: &str) -> Result<Option<Amount>, ExecError> {
    let Some(bytes) = view.get(PARAMS, &encode_key(&[Value::Text(name.to_string())]))? else {
        return Ok(None);
    };
    let row = decode_row(&bytes).map_err(|e| ExecError::CorruptState { table: PARAMS, reason: e.to_string() })?;
    match row.as_slice() {
        [Value::Text(_), value] => Ok(Some(value_to_amount(PARAMS, value)?)),
        other => Err(ExecError::CorruptState { table: PARAMS, reason: format!("unexpected row {other:?}") }),
    }
}

/// Writes a governance parameter.
pub fn write_param(view: &mut dyn TableStore, name: &str, value: Amount) -> Result<(), ExecError> {
    let row = encode_row(&[Value::Text(name.to_string()), rows::amount_value(PARAMS, value)?]);
    view.put(PARAMS, encode_key(&[Value::Text(name.to_string())]), row)?;
    Ok(())
}

/// Reads a parameter that must exist.
pub fn read_param_required(view: &dyn TableStore, name: &str) -> Result<Amount, ExecError> {
    read_param(view, name)?
        .ok_or_else(|| ExecError::CorruptState { table: PARAMS, reason: format!("parameter {name} is missing") })
}

/// Reads a parameter that must exist and is a count (blocks, slots, ...).
pub fn read_param_u64(view: &dyn TableStore, name: &str) -> Result<u64, ExecError> {
    let v = read_param_required(view, name)?;
    u64::try_from(v.aer())
        .map_err(|_| ExecError::CorruptState { table: PARAMS, reason: format!("parameter {name} = {v} exceeds u64") })
}

/// The gas caps in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasCaps {
    /// Most gas one transaction may use; never above `block`, so every
    /// admissible transaction fits in an empty block.
    pub tx: u64,
    pub block: u64,
}

/// The gas caps in force: the governance parameters, or their defaults on
/// chains where no vote has set them.
pub fn gas_caps(view: &dyn TableStore) -> Result<GasCaps, ExecError> {
    let read = |name: &str, default: u64| -> Result<u64, ExecError> {
        match read_param(view, name)? {
            None => Ok(default),
            Some(v) => u64::try_from(v.aer()).map_err(|_| ExecError::CorruptState {
                table: PARAMS,
                reason: format!("parameter {name} = {v} exceeds u64"),
            }),
        }
    };
    let block = read(PARAM_MAX_BLOCK_GAS, DEFAULT_MAX_BLOCK_GAS)?;
    let tx = read(PARAM_MAX_TX_GAS, DEFAULT_MAX_TX_GAS)?.min(block);
    Ok(GasCaps { tx, block })
}

/// The gas price currently in force.
pub fn gas_price(view: &dyn TableStore) -> Result<Amount, ExecError> {
    read_param(view, PARAM_GAS_PRICE)?
        .ok_or(ExecError::CorruptState { table: PARAMS, reason: format!("parameter {PARAM_GAS_PRICE} is missing") })
}
