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

use aergo_store::codec::{decode_row, encode_key, encode_row};
use aergo_store::{TableMeta, TableStore, Value};
use aergo_types::{Address, Amount};
use rust_decimal::Decimal;

use crate::ExecError;

pub const ACCOUNTS: &str = "sys.accounts";
pub const PARAMS: &str = "sys.params";

pub const ACCOUNTS_DDL: &str =
    "CREATE TABLE sys.accounts (address TEXT PRIMARY KEY, balance NUMERIC(38,0) NOT NULL, nonce BIGINT NOT NULL)";
pub const PARAMS_DDL: &str = "CREATE TABLE sys.params (name TEXT PRIMARY KEY, value NUMERIC(38,0) NOT NULL)";

/// Governance parameter: the gas price in aer per unit of gas.
pub const PARAM_GAS_PRICE: &str = "gas_price";

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

fn amount_to_value(amount: Amount) -> Value {
    // Amounts are bounded by the total supply (checked where they are
    // created), far below Decimal's 96-bit mantissa.
    Value::Numeric(Decimal::from_i128_with_scale(amount.aer() as i128, 0))
}

fn value_to_amount(table: &'static str, v: &Value) -> Result<Amount, ExecError> {
    let Value::Numeric(d) = v else {
        return Err(ExecError::CorruptState { table, reason: format!("expected NUMERIC, got {}", v.type_name()) });
    };
    if d.is_sign_negative() || !d.fract().is_zero() {
        return Err(ExecError::CorruptState {
            table,
            reason: format!("amount {d} is not a whole non-negative number"),
        });
    }
    let aer = d.trunc().mantissa() / 10i128.pow(d.scale());
    u128::try_from(aer)
        .map(Amount::from_aer)
        .map_err(|_| ExecError::CorruptState { table, reason: format!("amount {d} out of range") })
}

fn account_key(address: &Address) -> Vec<u8> {
    encode_key(&[Value::Text(address.to_string())])
}

/// Reads an account; an absent account is all zero.
pub fn read_account(view: &dyn TableStore, address: &Address) -> Result<AccountState, ExecError> {
    let Some(bytes) = view.get(ACCOUNTS, &account_key(address))? else {
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
    let nonce = i64::try_from(state.nonce)
        .map_err(|_| ExecError::CorruptState { table: ACCOUNTS, reason: "nonce exceeds BIGINT".into() })?;
    let row = encode_row(&[Value::Text(address.to_string()), amount_to_value(state.balance), Value::Int(nonce)]);
    view.put(ACCOUNTS, account_key(address), row)?;
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
    let row = encode_row(&[Value::Text(name.to_string()), amount_to_value(value)]);
    view.put(PARAMS, encode_key(&[Value::Text(name.to_string())]), row)?;
    Ok(())
}

/// The gas price currently in force.
pub fn gas_price(view: &dyn TableStore) -> Result<Amount, ExecError> {
    read_param(view, PARAM_GAS_PRICE)?
        .ok_or(ExecError::CorruptState { table: PARAMS, reason: format!("parameter {PARAM_GAS_PRICE} is missing") })
}
