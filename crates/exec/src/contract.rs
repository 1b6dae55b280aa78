//! SQL smart contracts: deploy and call transactions, the contract
//! catalogue, and the wire formats of their payloads.
//!
//! # Transactions
//!
//! | tx | recipient | payload | what runs |
//! |---|---|---|---|
//! | `DEPLOY`, or `NORMAL` without recipient | none | deploy framing (below) | the SQL source, then the constructor |
//! | `CALL` | a contract | `{"Name": fn, "Args": [...]}` or empty | one public function (empty: nothing) |
//! | `NORMAL` / `TRANSFER` | a contract | as for `CALL` | as for `CALL` |
//!
//! **Deploy framing** and **call payload** are the Go node's
//! (`LuaCodePayload`, `CallInfo`); their encoders and parsers live in
//! [`aergo_types::payload`], shared with the clients. Here the deploy's
//! code is the contract's SQL source text (UTF-8): `;`-separated DDL,
//! `CREATE FUNCTION`s and initial rows. A payload that does not parse is a
//! [`ExecError::BadPayload`] with the parser's reason.
//!
//! # Addresses and schemas
//!
//! A contract's address is `Address::contract_from(creator, tx nonce)` (the
//! Go node's `CreateContractID`). Its tables and functions live in a schema
//! of its own named `c_` followed by the lowercase base32 (RFC 4648
//! alphabet `a-z2-7`, no padding) of the 32 hash bytes of the address: 54
//! characters, a plain lowercase SQL identifier (no quoting), reversible,
//! and within the engine's 63-byte identifier bound ([`schema_name`]).
//!
//! During a contract's SQL (deploy source, constructor, functions) that
//! schema is the default schema and the only writable one. Any schema can be
//! read (other contracts' tables, `sys.*`). So only a contract's own code
//! writes its tables. A contract function called by plain SQL from another
//! contract (`SELECT c_xxx.f()`) runs as part of the caller, with the
//! caller's permissions, so it cannot write its own tables that way; a real
//! cross-contract call is `aergo_call` (see [`crate::host`]).
//!
//! # Functions
//!
//! Every function the source creates is public (callable by call
//! transactions and `aergo_call`), except:
//! - `constructor`: run once at deploy, with the deploy's JSON arguments;
//!   optional; giving arguments without a constructor is an error;
//! - names starting with `_`: private helpers, callable only from the
//!   contract's own SQL.
//!
//! The catalogue records each public function's parameters (names and SQL
//! types) and return type (the ABI, [`FunctionAbi`]). A call names the
//! function exactly, or in any letter case if that is unambiguous.
//!
//! **Arguments** are converted from JSON by the parameter's declared type:
//! integers from JSON integers (or strings of digits), NUMERIC from JSON
//! numbers (taken from their exact decimal text, never through binary
//! floating point) or numeric strings, text from strings (an object or array
//! given for a TEXT parameter is passed as its JSON text), BOOLEAN from
//! booleans, BYTEA from `"0x..."` / `"\\x..."` hex strings, TIMESTAMP from
//! strings; `null` is SQL NULL. Anything else is an error naming the
//! parameter. Missing trailing arguments take the parameter's DEFAULT.
//!
//! **Return values** become the receipt's `ret` as JSON: NULL `null`,
//! booleans, integers as JSON numbers, NUMERIC as a JSON *string* of its
//! exact decimal text (as the API writes amounts: a JSON number would lose
//! digits in most clients), text as strings, BYTEA as `"\\x<hex>"`,
//! TIMESTAMP as its text form. A deploy's `ret` is the constructor's return
//! value, or empty, as is the `ret` of a function returning void.
//!
//! # Gas, fees, failure
//!
//! The gas limit of the transaction bounds everything: intrinsic gas
//! ([`crate::intrinsic_gas`]: base plus payload bytes) is charged first, the
//! rest is the SQL meter (shared by the deploy source, the constructor, the
//! called function and every nested contract call). A gas limit of 0 means
//! [`DEFAULT_TX_GAS_LIMIT`] (at most the chain's `max_tx_gas`), lowered to
//! what the sender can pay; a limit above `max_tx_gas` is refused. Before
//! anything runs the sender must hold the amount plus `limit x gas price`;
//! otherwise the transaction is *rejected* (not included, no fee).
//!
//! Once included, the nonce is used and the fee is `gas used x gas price`
//! whatever happens. A deploy or call that fails (bad payload, unknown
//! contract or function, wrong arguments, SQL error, RAISE EXCEPTION, out of
//! gas, a write outside the contract's schema, a return value over the
//! receipt bound, ...) is rolled back completely, amount included, and its
//! receipt says `ERROR` with the message in `ret`. Out of gas uses the
//! whole limit. Success gives `SUCCESS` (call) or `CREATED` (deploy, with
//! `contract_address` set), events in the receipt, and `ret`.
//!
//! A storage failure of this node (missing node, backend error) is not a
//! transaction outcome: it aborts the block ([`ExecError::is_rejection`] is
//! false), since another node would not see it.
//!
//! # The catalogue table
//!
//! `sys.contracts`, created at genesis, one row per contract:
//!
//! | column | |
//! |---|---|
//! | `address TEXT` (key) | base58check |
//! | `creator TEXT` | deployer's address |
//! | `schema TEXT` | see above |
//! | `source_hash TEXT` | SHA-256 of the source, hex |
//! | `functions TEXT` | the ABI as JSON: `[{"name", "params": [{"name", "type"}], "returns"}]`, by name |
//! | `constructor TEXT` | `"constructor"` or NULL |
//! | `deployed_height BIGINT` | |
//! | `deploy_tx TEXT` | deploy tx hash, base58 |
//! | `source TEXT` | the SQL source |
//!
//! The row is written before the constructor runs (so the constructor may
//! be called back through `aergo_call`) and undone with everything else if
//! the deploy fails.

use aergo_sql::{Call, Engine, ExecContext, FunctionSignature, Gas, SqlError, SqlType, Value as SqlValue};
use aergo_store::codec::{decode_row, encode_key, encode_row};
use aergo_store::{TableMeta, TableStore, Value};
use aergo_types::payload::{abbreviate as short, find_function, parse_args, parse_deploy_payload, PayloadError};
use aergo_types::receipt::RECEIPT_RET_MAX_BYTES;
use aergo_types::{Address, Amount, Hash, Receipt, ReceiptStatus, TxType};
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::str::FromStr;

use crate::host::ContractHost;
use crate::{events, intrinsic_gas, system, BlockContext, ExecError, VerifiedTx};

// Read-only calls (`query`) parse call payloads through this module, and
// tests of other crates build payloads through it.
pub use aergo_types::payload::{encode_call_payload, encode_deploy_payload, parse_call_payload};

pub const CONTRACTS: &str = "sys.contracts";
pub const CONTRACTS_DDL: &str = "CREATE TABLE sys.contracts (address TEXT PRIMARY KEY, creator TEXT NOT NULL, \
     schema TEXT NOT NULL, source_hash TEXT NOT NULL, functions TEXT NOT NULL, constructor TEXT, \
     deployed_height BIGINT NOT NULL, deploy_tx TEXT NOT NULL, source TEXT NOT NULL)";

/// Gas limit of a contract transaction that gives 0.
pub const DEFAULT_TX_GAS_LIMIT: u64 = 10_000_000;
/// Name of the function run at deploy.
pub const CONSTRUCTOR: &str = "constructor";
/// Prefix of the contract schemas.
pub const SCHEMA_PREFIX: &str = "c_";

/// The engine configuration contracts run under. Its gas schedule and
/// limits are consensus rules: every node must use exactly these.
pub fn engine_config() -> aergo_sql::EngineConfig {
    aergo_sql::EngineConfig::default()
}

/// Creates `sys.contracts` and `sys.events` in a fresh state.
pub fn create_tables(view: &mut dyn TableStore) -> Result<(), ExecError> {
    view.create_table(CONTRACTS, TableMeta { schema: CONTRACTS_DDL.as_bytes().to_vec() })?;
    events::create_table(view)?;
    Ok(())
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The schema of the contract at `address` (see the module docs).
pub fn schema_name(address: &Address) -> Result<String, ExecError> {
    let Address::Contract(bytes) = address else {
        return Err(ExecError::NoContract { address: address.to_string(), reason: "not a contract address" });
    };
    let mut out = String::with_capacity(SCHEMA_PREFIX.len() + 52);
    out.push_str(SCHEMA_PREFIX);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in &bytes[1..] {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    Ok(out)
}

/// One public function as the catalogue records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionAbi {
    pub name: String,
    /// `(name, SQL type)` of each parameter, in order.
    pub params: Vec<(String, String)>,
    /// SQL type of the result; `None` for `RETURNS void`.
    pub returns: Option<String>,
}

impl FunctionAbi {
    fn from_signature(sig: &FunctionSignature) -> FunctionAbi {
        FunctionAbi {
            name: sig.name.clone(),
            params: sig.params.iter().map(|p| (p.name.clone(), p.ty.name())).collect(),
            returns: sig.returns.map(|t| t.name()),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "params": self.params.iter().map(|(n, t)| serde_json::json!({ "name": n, "type": t })).collect::<Vec<_>>(),
            "returns": self.returns,
        })
    }

    fn from_json(v: &serde_json::Value) -> Option<FunctionAbi> {
        let name = v.get("name")?.as_str()?.to_string();
        let params = v
            .get("params")?
            .as_array()?
            .iter()
            .map(|p| Some((p.get("name")?.as_str()?.to_string(), p.get("type")?.as_str()?.to_string())))
            .collect::<Option<Vec<_>>>()?;
        let returns = match v.get("returns")? {
            serde_json::Value::Null => None,
            other => Some(other.as_str()?.to_string()),
        };
        Some(FunctionAbi { name, params, returns })
    }
}

/// A row of `sys.contracts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractInfo {
    pub address: Address,
    pub creator: Address,
    pub schema: String,
    pub source_hash: Hash,
    /// Public functions, by name.
    pub functions: Vec<FunctionAbi>,
    pub has_constructor: bool,
    pub deployed_height: u64,
    pub deploy_tx: Hash,
    pub source: String,
}

/// The public function `name` names among `functions`: the chain's rule,
/// [`find_function`] (exact match first, then a match ignoring ASCII case
/// if exactly one function has that name).
fn public_function_in<'f>(functions: &'f [FunctionAbi], name: &str) -> Option<&'f FunctionAbi> {
    find_function(functions, name, |f| f.name.as_str())
}

/// What calling a contract needs of its catalogue row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Callee<'a> {
    pub address: &'a Address,
    pub schema: &'a str,
    pub functions: &'a [FunctionAbi],
}

impl ContractInfo {
    /// The public function `name` names: exact match first, then a match
    /// ignoring ASCII case if exactly one function has that name.
    pub fn public_function(&self, name: &str) -> Option<&FunctionAbi> {
        public_function_in(&self.functions, name)
    }

    pub(crate) fn callee(&self) -> Callee<'_> {
        Callee { address: &self.address, schema: &self.schema, functions: &self.functions }
    }

    /// The ABI as JSON (`sys.contracts.functions`).
    pub fn functions_json(&self) -> String {
        serde_json::Value::Array(self.functions.iter().map(FunctionAbi::to_json).collect()).to_string()
    }
}

fn corrupt(reason: impl Into<String>) -> ExecError {
    ExecError::CorruptState { table: CONTRACTS, reason: reason.into() }
}

/// Reads a contract's catalogue row.
pub fn read_contract(view: &dyn TableStore, address: &Address) -> Result<Option<ContractInfo>, ExecError> {
    read_contract_at(view, address, &address.to_string())
}

/// [`read_contract`] with the address's text already formatted: base58check
/// formatting costs more than the rest of a call's bookkeeping, so a
/// transaction formats its contract's address once.
pub(crate) fn read_contract_at(
    view: &dyn TableStore,
    address: &Address,
    address_text: &str,
) -> Result<Option<ContractInfo>, ExecError> {
    if !address.is_contract() {
        return Ok(None);
    }
    let key = encode_key(&[Value::Text(address_text.to_string())]);
    let Some(bytes) = view.get(CONTRACTS, &key)? else { return Ok(None) };
    let row = decode_row(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let [Value::Text(addr), Value::Text(creator), Value::Text(schema), Value::Text(source_hash), Value::Text(functions), constructor, Value::Int(height), Value::Text(deploy_tx), Value::Text(source)] =
        row.as_slice()
    else {
        return Err(corrupt(format!("unexpected row {row:?}")));
    };
    let parse_addr = |s: &str| Address::parse(s).map_err(|e| corrupt(format!("address {s:?}: {e}")));
    let functions = parse_functions(functions)?;
    if addr != address_text {
        return Err(corrupt(format!("the row of {address_text} names {addr}")));
    }
    Ok(Some(ContractInfo {
        address: address.clone(),
        creator: parse_addr(creator)?,
        schema: schema.clone(),
        source_hash: Hash::from_hex(source_hash).map_err(|e| corrupt(format!("source hash: {e}")))?,
        functions,
        has_constructor: !matches!(constructor, Value::Null),
        deployed_height: u64::try_from(*height).map_err(|_| corrupt("negative height"))?,
        deploy_tx: Hash::from_base58(deploy_tx).map_err(|e| corrupt(format!("deploy tx: {e}")))?,
        source: source.clone(),
    }))
}

fn parse_functions(json: &str) -> Result<Vec<FunctionAbi>, ExecError> {
    let abi: serde_json::Value = serde_json::from_str(json).map_err(|e| corrupt(format!("functions: {e}")))?;
    abi.as_array()
        .ok_or_else(|| corrupt("functions is not a JSON array"))?
        .iter()
        .map(|f| FunctionAbi::from_json(f).ok_or_else(|| corrupt(format!("bad function entry {f}"))))
        .collect()
}

/// The schema and public functions of the contract at `address` (whose
/// text is `address_text`), without decoding the rest of its row: the
/// part of the catalogue every call transaction reads.
fn read_call_target(
    view: &dyn TableStore,
    address: &Address,
    address_text: &str,
) -> Result<Option<(String, Vec<FunctionAbi>)>, ExecError> {
    if !address.is_contract() {
        return Ok(None);
    }
    let key = encode_key(&[Value::Text(address_text.to_string())]);
    let Some(bytes) = view.get(CONTRACTS, &key)? else { return Ok(None) };
    let row = decode_row(&bytes).map_err(|e| corrupt(e.to_string()))?;
    match row.as_slice() {
        [Value::Text(addr), _, Value::Text(schema), _, Value::Text(functions), ..] if addr == address_text => {
            Ok(Some((schema.clone(), parse_functions(functions)?)))
        }
        _ => Err(corrupt(format!("unexpected row for {address_text}"))),
    }
}

fn write_contract(view: &mut dyn TableStore, c: &ContractInfo) -> Result<(), ExecError> {
    let height = i64::try_from(c.deployed_height).map_err(|_| corrupt("height exceeds BIGINT"))?;
    let row = encode_row(&[
        Value::Text(c.address.to_string()),
        Value::Text(c.creator.to_string()),
        Value::Text(c.schema.clone()),
        Value::Text(c.source_hash.to_hex()),
        Value::Text(c.functions_json()),
        if c.has_constructor { Value::Text(CONSTRUCTOR.into()) } else { Value::Null },
        Value::Int(height),
        Value::Text(c.deploy_tx.to_base58()),
        Value::Text(c.source.clone()),
    ]);
    view.put(CONTRACTS, encode_key(&[Value::Text(c.address.to_string())]), row)?;
    Ok(())
}

// ----- payloads -----

fn bad_payload(reason: impl Into<String>) -> ExecError {
    ExecError::BadPayload { reason: reason.into() }
}

/// A payload that does not parse rejects the transaction with the
/// parser's reason: a bad payload, or an unknown system call.
impl From<PayloadError> for ExecError {
    fn from(e: PayloadError) -> ExecError {
        match e {
            PayloadError::UnknownSystemCall { name } => ExecError::UnknownSystemCall { name },
            other => bad_payload(other.to_string()),
        }
    }
}

// ----- JSON <-> SQL values -----

fn bad_arg(function: &str, reason: String) -> ExecError {
    ExecError::BadArguments { function: function.to_string(), reason }
}

/// Converts JSON arguments to SQL values by the function's parameter types
/// (see the module docs); checks the count against the signature.
pub fn json_args_to_values(sig: &FunctionSignature, args: &[&RawValue]) -> Result<Vec<SqlValue>, ExecError> {
    let fname = &sig.name;
    let required = sig.params.iter().rev().skip_while(|p| p.has_default).count();
    if args.len() < required || args.len() > sig.params.len() {
        let expected = if required == sig.params.len() {
            sig.params.len().to_string()
        } else {
            format!("{required} to {}", sig.params.len())
        };
        let list: Vec<String> = sig.params.iter().map(|p| format!("{} {}", p.name, p.ty.name())).collect();
        return Err(bad_arg(fname, format!("expected {expected} arguments ({}), got {}", list.join(", "), args.len())));
    }
    args.iter()
        .zip(&sig.params)
        .map(|(raw, p)| {
            let v = json_to_value(raw.get(), p.ty)
                .map_err(|why| bad_arg(fname, format!("argument {:?} ({}): {why}", p.name, p.ty.name())))?;
            aergo_sql::types::assign(v, p.ty, &p.name)
                .map_err(|e| bad_arg(fname, format!("argument {:?} ({}): {e}", p.name, p.ty.name())))
        })
        .collect()
}

pub(crate) fn json_to_value(text: &str, ty: SqlType) -> Result<SqlValue, String> {
    let got = |what: &str| Err(format!("expected {what}, got {}", short(text)));
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    if text == "null" {
        return Ok(SqlValue::Null);
    }
    let string = || serde_json::from_str::<String>(text).ok();
    let is_number = first == b'-' || first.is_ascii_digit();
    match ty {
        SqlType::Bool => match text {
            "true" => Ok(SqlValue::Bool(true)),
            "false" => Ok(SqlValue::Bool(false)),
            _ => got("true or false"),
        },
        SqlType::SmallInt | SqlType::Int | SqlType::BigInt => {
            let digits = if is_number { Some(text.to_string()) } else { string() };
            match digits.and_then(|d| i64::from_str(&d).ok()) {
                Some(i) => Ok(SqlValue::Int(i)),
                None => got("an integer"),
            }
        }
        SqlType::Numeric(_) => {
            let digits = if is_number { Some(text.to_string()) } else { string() };
            let parsed = digits.and_then(|d| {
                if d.contains(['e', 'E']) {
                    Decimal::from_scientific(&d).ok()
                } else {
                    Decimal::from_str_exact(&d).ok()
                }
            });
            match parsed {
                Some(d) => Ok(SqlValue::Numeric(d)),
                None => got("a number (at most 28 significant digits)"),
            }
        }
        SqlType::Text | SqlType::Varchar(_) => match first {
            b'"' => string().map(SqlValue::Text).ok_or_else(|| "bad JSON string".to_string()),
            b'{' | b'[' => Ok(SqlValue::Text(text.to_string())),
            _ => got("a string"),
        },
        SqlType::Bytea => {
            let Some(s) = string() else { return got("a hex string \"0x...\"") };
            let hex_text = s.strip_prefix("0x").or_else(|| s.strip_prefix("\\x"));
            match hex_text.and_then(hex_decode) {
                Some(b) => Ok(SqlValue::Bytes(b)),
                None => got("a hex string \"0x...\""),
            }
        }
        SqlType::Timestamp => match string() {
            Some(s) => aergo_sql::types::parse_timestamp(&s).map(SqlValue::Timestamp).map_err(|e| e.to_string()),
            None => got("a timestamp string"),
        },
    }
}

fn hex_decode(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}

/// A SQL value as JSON text (see the module docs).
pub fn value_to_json(v: &SqlValue) -> String {
    value_to_json_value(v).to_string()
}

/// A SQL value as a JSON value (see the module docs).
pub fn value_to_json_value(v: &SqlValue) -> serde_json::Value {
    match v {
        SqlValue::Null => serde_json::Value::Null,
        SqlValue::Bool(b) => serde_json::Value::Bool(*b),
        SqlValue::Int(i) => serde_json::Value::from(*i),
        SqlValue::Numeric(d) => serde_json::Value::String(d.to_string()),
        SqlValue::Text(s) => serde_json::Value::String(s.clone()),
        SqlValue::Bytes(b) => {
            serde_json::Value::String(format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()))
        }
        SqlValue::Timestamp(us) => serde_json::Value::String(aergo_sql::types::format_timestamp(*us)),
    }
}

fn check_ret(ret: String) -> Result<String, ExecError> {
    if ret.len() > RECEIPT_RET_MAX_BYTES {
        return Err(ExecError::Sql(SqlError::ResultTooLarge {
            what: "return value bytes (the receipt bound)",
            limit: RECEIPT_RET_MAX_BYTES as u64,
        }));
    }
    Ok(ret)
}

// ----- execution -----

/// What a transaction to or creating a contract is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContractTx {
    Deploy,
    Call(Address),
}

/// Decides whether a transaction is a contract deploy or call (see the
/// table in the module docs); `None` leaves it to the other handlers.
pub fn classify(tx_type: TxType, recipient: Option<&Address>) -> Option<ContractTx> {
    match (tx_type, recipient) {
        (TxType::Deploy, None) | (TxType::Normal, None) => Some(ContractTx::Deploy),
        (TxType::Call, Some(r)) if !r.is_name() => Some(ContractTx::Call(r.clone())),
        (TxType::Normal | TxType::Transfer, Some(r)) if r.is_contract() => Some(ContractTx::Call(r.clone())),
        _ => None,
    }
}

/// The parts of a block builder a contract transaction works with.
pub(crate) struct TxEnv<'a> {
    pub view: &'a mut dyn TableStore,
    pub engine: &'a Engine,
    pub block: &'a BlockContext,
    pub gas_price: Amount,
    /// The chain's cap on one transaction's gas (a limit above it was
    /// refused before); also bounds the default limit.
    pub max_tx_gas: u64,
    /// Fees of the block's transactions before this one.
    pub fees_before: Amount,
    pub tx_index: usize,
}

struct Outcome {
    status: ReceiptStatus,
    ret: String,
}

/// The session context of contract code.
pub(crate) fn exec_context(
    block: &BlockContext,
    tx_hash: &Hash,
    caller: &str,
    contract: &str,
    schema: &str,
) -> ExecContext {
    ExecContext {
        caller: caller.to_string(),
        contract: contract.to_string(),
        block_height: block.height,
        block_time_us: block.timestamp_ns.div_euclid(1000),
        tx_hash: tx_hash.to_vec(),
        default_schema: schema.to_string(),
        writable_schemas: Some(vec![schema.to_string()]),
        read_only: false,
    }
}

/// Moves `amount` between accounts; the payer must hold it.
pub(crate) fn transfer(
    view: &mut dyn TableStore,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Result<(), ExecError> {
    if amount.is_zero() || from == to {
        return Ok(());
    }
    let mut a = system::read_account(view, from)?;
    a.balance = a.balance.checked_sub(amount).ok_or_else(|| ExecError::InsufficientBalance {
        account: from.to_string(),
        needed: amount.to_string(),
        available: a.balance.to_string(),
    })?;
    system::write_account(view, from, a)?;
    let mut b = system::read_account(view, to)?;
    b.balance = b.balance.checked_add(amount).ok_or(ExecError::BalanceOverflow { account: to.to_string() })?;
    system::write_account(view, to, b)
}

/// Applies a contract transaction (see the module docs). Errors are
/// rejections (state as before, nothing charged) or node failures; a
/// failing deploy or call is an `ERROR` receipt, not an error.
pub(crate) fn apply(env: TxEnv<'_>, vtx: &VerifiedTx, kind: ContractTx) -> Result<Receipt, ExecError> {
    let TxEnv { view, engine, block, gas_price, max_tx_gas, fees_before, tx_index } = env;
    let body = vtx.tx().body()?;
    let sender = vtx.sender();
    let intrinsic = intrinsic_gas(vtx.tx());
    if body.gas_limit != 0 && body.gas_limit < intrinsic {
        return Err(ExecError::GasLimitTooLow { limit: body.gas_limit, needed: intrinsic });
    }
    let price = gas_price;
    let offered = body.gas_price()?;
    if !offered.is_zero() && offered < price {
        return Err(ExecError::GasPriceTooLow { offered: offered.to_string(), required: price.to_string() });
    }
    let mut from = system::read_account_at(view, &vtx.sender_key)?;
    if body.nonce != from.nonce + 1 {
        return Err(ExecError::Nonce {
            account: vtx.sender_text().to_string(),
            expected: from.nonce + 1,
            got: body.nonce,
        });
    }
    let amount = body.amount()?;
    let poor = |needed: Amount| ExecError::InsufficientBalance {
        account: vtx.sender_text().to_string(),
        needed: needed.to_string(),
        available: from.balance.to_string(),
    };
    let intrinsic_fee = price
        .checked_mul(intrinsic as u128)
        .ok_or(ExecError::BalanceOverflow { account: vtx.sender_text().to_string() })?;
    let available = from
        .balance
        .checked_sub(amount)
        .ok_or_else(|| poor(amount.checked_add(intrinsic_fee).unwrap_or(Amount::TOTAL_SUPPLY)))?;
    let default_limit = DEFAULT_TX_GAS_LIMIT.min(max_tx_gas);
    let limit = if body.gas_limit != 0 {
        body.gas_limit
    } else if price.is_zero() {
        default_limit
    } else {
        let affordable = u64::try_from(available.aer() / price.aer()).unwrap_or(u64::MAX);
        default_limit.min(affordable)
    };
    let max_fee = price
        .checked_mul(limit as u128)
        .ok_or(ExecError::BalanceOverflow { account: vtx.sender_text().to_string() })?;
    if limit < intrinsic || available < max_fee {
        let needed = amount.checked_add(max_fee.max(intrinsic_fee)).unwrap_or(Amount::TOTAL_SUPPLY);
        return Err(poor(needed));
    }

    // Included from here on: the nonce is used and the fee will be paid.
    from.nonce += 1;
    system::write_account_at(view, &vtx.sender_key, from)?;
    let mut gas = Gas::new(limit - intrinsic);
    let contract = match &kind {
        ContractTx::Deploy => Address::contract_from(sender, body.nonce),
        ContractTx::Call(a) => a.clone(),
    };
    let contract_text = contract.to_string();
    let sp = view.savepoint();
    let run = Run { engine, block, tx_index, vtx, sender, contract: &contract, contract_text: &contract_text, amount };
    let result = match kind {
        ContractTx::Deploy => run.deploy(view, &mut gas),
        ContractTx::Call(_) => run.call(view, &mut gas),
    };
    let (status, ret, events) = match result {
        Ok(out) => {
            let events = events::tx_events(view, block.height, tx_index)?;
            view.release_savepoint(sp)?;
            (out.status, out.ret, events)
        }
        Err(e) if !e.is_rejection() => return Err(e),
        Err(e) => {
            view.rollback_to(sp)?;
            view.release_savepoint(sp)?;
            (ReceiptStatus::Error, error_text(&e), Vec::new())
        }
    };
    let gas_used = intrinsic + gas.used();
    let fee = price
        .checked_mul(gas_used as u128)
        .ok_or(ExecError::BalanceOverflow { account: vtx.sender_text().to_string() })?;
    let mut payer = system::read_account_at(view, &vtx.sender_key)?;
    // The balance check above reserved `limit x price` >= fee, and a
    // contract can only add to the sender's balance.
    payer.balance = payer.balance.checked_sub(fee).ok_or_else(|| ExecError::InsufficientBalance {
        account: vtx.sender_text().to_string(),
        needed: fee.to_string(),
        available: payer.balance.to_string(),
    })?;
    system::write_account_at(view, &vtx.sender_key, payer)?;
    let cumulative = fees_before.checked_add(fee).unwrap_or(Amount::TOTAL_SUPPLY);
    Ok(Receipt {
        contract_address: contract.to_vec(),
        status: status.as_str().to_string(),
        ret,
        tx_hash: vtx.hash().to_vec(),
        fee_used: fee.to_be_bytes_minimal(),
        cumulative_fee_used: cumulative.to_be_bytes_minimal(),
        events,
        block_no: block.height,
        tx_index: tx_index as i32,
        from: sender.to_vec(),
        to: body.recipient.clone(),
        gas_used,
        ..Receipt::default()
    })
}

/// The static access sets of a block's call transactions (the
/// scheduler's input, never a rule), with what the calls of one block
/// share looked up once: each contract's catalogue row, each function's
/// signature.
pub(crate) struct StaticCalls<'a> {
    view: &'a dyn TableStore,
    engine: &'a Engine,
    block: &'a BlockContext,
    /// By contract address (`None`: no contract there).
    targets: BTreeMap<Vec<u8>, Option<CallTarget>>,
    signatures: BTreeMap<(String, String), Option<FunctionSignature>>,
}

/// A contract as its calls see it: address text, schema, public functions.
type CallTarget = (String, String, Vec<FunctionAbi>);

impl<'a> StaticCalls<'a> {
    pub fn new(view: &'a dyn TableStore, engine: &'a Engine, block: &'a BlockContext) -> Self {
        StaticCalls { view, engine, block, targets: BTreeMap::new(), signatures: BTreeMap::new() }
    }

    /// What a call transaction to `contract` may read and write, as far
    /// as it can be told before running it: the sender's account, the
    /// contract's catalogue row and, when it pays the contract, the
    /// contract's account (accounts in `accounts_table`, keyed by their
    /// address bytes), plus the called function's static access set
    /// ([`Engine::function_access_set`]) with the transaction's arguments.
    /// `None` when it cannot be told (no such contract or function,
    /// arguments that do not convert, an analysis error): the caller then
    /// runs it in block order.
    pub fn access(
        &mut self,
        vtx: &VerifiedTx,
        contract: &Address,
        accounts_table: &str,
    ) -> Option<aergo_sql::AccessSet> {
        use aergo_sql::KeyAccess;
        let body = vtx.tx().body().ok()?;
        let (view, engine) = (self.view, self.engine);
        let target = self.targets.entry(contract.to_vec()).or_insert_with(|| {
            let text = contract.to_string();
            read_call_target(view, contract, &text).ok().flatten().map(|(schema, functions)| (text, schema, functions))
        });
        let (contract_text, schema, functions) = target.as_ref()?;
        let mut set = aergo_sql::AccessSet::default();
        set.write(accounts_table, KeyAccess::Key(vtx.sender().to_vec()));
        set.read(CONTRACTS, KeyAccess::Key(encode_key(&[Value::Text(contract_text.clone())])));
        if !body.amount().ok()?.is_zero() {
            set.write(accounts_table, KeyAccess::Key(contract.to_vec()));
        }
        if body.payload.is_empty() {
            return Some(set);
        }
        let call = parse_call_payload(&body.payload).ok()?;
        let f = public_function_in(functions, &call.name)?;
        let sig = self
            .signatures
            .entry((schema.clone(), f.name.clone()))
            .or_insert_with(|| engine.function_signature(view, schema, &f.name).ok())
            .as_ref()?;
        let values = json_args_to_values(sig, &call.args).ok()?;
        let ctx = exec_context(self.block, &vtx.hash(), vtx.sender_text(), contract_text, schema);
        let name = format!("{schema}.{}", f.name);
        set.merge(engine.function_access_set(view, &ctx, &name, &values).ok()?);
        Some(set)
    }
}

/// The receipt text of a failure, within the receipt bound.
fn error_text(e: &ExecError) -> String {
    let mut s = e.to_string();
    if s.len() > RECEIPT_RET_MAX_BYTES {
        let mut end = RECEIPT_RET_MAX_BYTES - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

struct Run<'r> {
    engine: &'r Engine,
    block: &'r BlockContext,
    tx_index: usize,
    vtx: &'r VerifiedTx,
    sender: &'r Address,
    contract: &'r Address,
    /// The contract's address in base58check, formatted once.
    contract_text: &'r str,
    amount: Amount,
}

impl Run<'_> {
    fn host(&self) -> ContractHost {
        ContractHost::for_tx(self.block.height, self.tx_index, self.vtx.hash(), self.amount)
    }

    fn deploy(&self, view: &mut dyn TableStore, gas: &mut Gas) -> Result<Outcome, ExecError> {
        let payload = parse_deploy_payload(&self.vtx.tx().body()?.payload)?;
        if aergo_sql::split_statements(payload.source)?.is_empty() {
            return Err(bad_payload("the SQL source has no statements"));
        }
        let args = payload.args.map(parse_args).transpose()?;
        if read_contract_at(view, self.contract, self.contract_text)?.is_some() {
            return Err(bad_payload(format!("a contract already exists at {}", self.contract)));
        }
        let schema = schema_name(self.contract)?;
        transfer(view, self.sender, self.contract, self.amount)?;
        let ctx = exec_context(self.block, &self.vtx.hash(), self.vtx.sender_text(), self.contract_text, &schema);
        let mut host = self.host();
        let engine = self.engine;
        engine.execute_batch_hosted(view, &ctx, payload.source, gas, &mut host)?;
        let mut functions = Vec::new();
        let mut constructor = None;
        for (s, name) in aergo_sql::created_functions(payload.source, &schema)? {
            if s != schema || view.table(&format!("{s}.{name}()"))?.is_none() {
                // Created and dropped again by the source.
                continue;
            }
            let sig = engine.function_signature(view, &s, &name)?;
            if name == CONSTRUCTOR {
                constructor = Some(sig);
            } else if !name.starts_with('_') {
                functions.push(FunctionAbi::from_signature(&sig));
            }
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        let info = ContractInfo {
            address: self.contract.clone(),
            creator: self.sender.clone(),
            schema: schema.clone(),
            source_hash: Hash::sha256(payload.source.as_bytes()),
            functions,
            has_constructor: constructor.is_some(),
            deployed_height: self.block.height,
            deploy_tx: self.vtx.hash(),
            source: payload.source.to_string(),
        };
        write_contract(view, &info)?;
        let ret = match (constructor, args) {
            (Some(sig), args) => {
                let values = json_args_to_values(&sig, &args.unwrap_or_default())?;
                let call = Call { schema: &schema, function: CONSTRUCTOR, args: values, call_depth: 0 };
                let v = engine.call(view, &ctx, call, gas, Some(&mut host))?;
                if sig.returns.is_some() {
                    value_to_json(&v)
                } else {
                    String::new()
                }
            }
            (None, Some(args)) if !args.is_empty() => {
                return Err(bad_arg(CONSTRUCTOR, "arguments given, but the source defines no constructor".into()))
            }
            (None, _) => String::new(),
        };
        Ok(Outcome { status: ReceiptStatus::Created, ret: check_ret(ret)? })
    }

    fn call(&self, view: &mut dyn TableStore, gas: &mut Gas) -> Result<Outcome, ExecError> {
        let Some((schema, functions)) = read_call_target(view, self.contract, self.contract_text)? else {
            let reason =
                if self.contract.is_contract() { "nothing is deployed there" } else { "an account, not a contract" };
            return Err(ExecError::NoContract { address: self.contract.to_string(), reason });
        };
        transfer(view, self.sender, self.contract, self.amount)?;
        let payload = &self.vtx.tx().body()?.payload;
        if payload.is_empty() {
            // A plain payment to the contract: no code runs.
            return Ok(Outcome { status: ReceiptStatus::Success, ret: String::new() });
        }
        let call = parse_call_payload(payload)?;
        let callee = Callee { address: self.contract, schema: &schema, functions: &functions };
        let v = call_public(
            self.engine,
            view,
            callee,
            &call.name,
            &call.args,
            &exec_context(self.block, &self.vtx.hash(), self.vtx.sender_text(), self.contract_text, &schema),
            gas,
            &mut self.host(),
        )?;
        Ok(Outcome { status: ReceiptStatus::Success, ret: check_ret(v)? })
    }
}

/// Calls public function `name` of contract `info` with JSON arguments and
/// returns the JSON of its result (empty for `RETURNS void`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn call_public(
    engine: &Engine,
    view: &mut dyn TableStore,
    callee: Callee<'_>,
    name: &str,
    args: &[&RawValue],
    ctx: &ExecContext,
    gas: &mut Gas,
    host: &mut ContractHost,
) -> Result<String, ExecError> {
    let f = public_function_in(callee.functions, name).ok_or_else(|| unknown_function(callee, name))?;
    let sig = engine.function_signature(view, callee.schema, &f.name)?;
    let values = json_args_to_values(&sig, args)?;
    let call = Call { schema: callee.schema, function: &f.name, args: values, call_depth: 0 };
    let v = engine.call(view, ctx, call, gas, Some(host))?;
    Ok(if sig.returns.is_some() { value_to_json(&v) } else { String::new() })
}

pub(crate) fn unknown_function(callee: Callee<'_>, name: &str) -> ExecError {
    let mut names: Vec<&str> = callee.functions.iter().map(|f| f.name.as_str()).collect();
    names.truncate(20);
    let hint = if name == CONSTRUCTOR {
        " (the constructor runs only at deploy)".to_string()
    } else if name.starts_with('_') {
        " (functions whose names start with '_' are private)".to_string()
    } else {
        format!(" (public functions: {})", if names.is_empty() { "none".into() } else { names.join(", ") })
    };
    ExecError::UnknownFunction { contract: callee.address.to_string(), function: short(name), hint }
}
