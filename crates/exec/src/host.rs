//! The host functions SQL contracts call, on top of the SQL engine's own
//! context built-ins (`aergo_caller()`, `aergo_contract()`,
//! `aergo_block_height()`, `aergo_block_time()`, `aergo_tx_hash()`).
//!
//! | function | returns | what |
//! |---|---|---|
//! | `aergo_amount()` | NUMERIC | aer sent with the current call (0 in nested calls and queries) |
//! | `aergo_balance()` / `aergo_balance(addr)` | NUMERIC | aer held by the current contract / by `addr` |
//! | `aergo_send(to, amount)` | BOOLEAN | moves `amount` aer from the current contract to `to` |
//! | `aergo_emit(name, json)` | INTEGER | records an event; returns its index in the transaction |
//! | `aergo_call(contract, fn, args...)` | the callee's result | calls a public function of another contract |
//! | `aergo_file_size(hash)` / `aergo_file_owner(hash)` | BIGINT / TEXT | an AergoFS file's registered size / owner ([`crate::files`]); NULL when not registered |
//!
//! Amounts are aer: a non-negative whole NUMERIC, INTEGER or decimal text,
//! at most the total supply. Addresses are base58check text.
//!
//! **Nested calls** (`aergo_call`) run the callee's public function with the
//! callee's schema as default and only writable schema, `aergo_caller()` =
//! the calling contract, `aergo_amount()` = 0 (value moves only with
//! `aergo_send`), on the same store, gas meter and transaction. They nest at
//! most [`MAX_CONTRACT_CALL_DEPTH`] contracts deep (and the SQL engine's
//! function-call depth bounds the whole chain of SQL calls). A failing
//! callee undoes its own writes and events; its error reaches the caller,
//! who may handle it with `EXCEPTION WHEN` (not out of gas). Re-entry (A
//! calls B calls A) is allowed within the depth bound.
//!
//! **Queries** (the read-only API) get a host too: `aergo_amount()` is 0,
//! `aergo_balance` works, `aergo_call` runs the callee read-only, and
//! `aergo_send`/`aergo_emit` fail as writes do in a read-only session.
//!
//! **Gas**, on top of the engine's `call` charge for any host call:
//! `aergo_balance` [`BALANCE_GAS`], `aergo_send` [`SEND_GAS`], `aergo_emit`
//! [`EMIT_GAS`] + [`EMIT_GAS_PER_BYTE`] per byte of name and JSON,
//! `aergo_call` [`CALL_GAS`] plus whatever the callee uses.

use aergo_sql::{Call, HostEnv, SqlError, Value};
use aergo_types::{Address, Amount, Hash};
use rust_decimal::Decimal;

use crate::contract::{self, read_contract, schema_name, ContractInfo};
use crate::events;
use crate::{system, ExecError};

/// Most contracts on one chain of nested `aergo_call`s (the top-level
/// contract included).
pub const MAX_CONTRACT_CALL_DEPTH: usize = 8;
pub const BALANCE_GAS: u64 = 20;
pub const SEND_GAS: u64 = 440;
pub const EMIT_GAS: u64 = 200;
pub const EMIT_GAS_PER_BYTE: u64 = 5;
pub const CALL_GAS: u64 = 100;

#[derive(Clone, Debug)]
enum Mode {
    Tx { height: u64, tx_index: usize, tx_hash: Hash },
    Query,
}

/// The host of one transaction or query (see the module docs).
#[derive(Debug)]
pub struct ContractHost {
    mode: Mode,
    /// Amount sent to each contract on the current call chain; the last is
    /// the running one.
    amounts: Vec<Amount>,
}

fn host_err(function: &str, message: impl Into<String>) -> SqlError {
    SqlError::Host { function: format!("{function}()"), message: message.into() }
}

/// Turns an exec error met inside a host function into a SQL error that
/// keeps node failures recognisable as such.
fn exec_to_sql(function: &str, e: ExecError) -> SqlError {
    match e {
        ExecError::Sql(s) => s,
        ExecError::Storage(s) => s.into(),
        e if !e.is_rejection() => SqlError::Store { message: e.to_string() },
        e => host_err(function, e.to_string()),
    }
}

fn arity(function: &str, args: &[Value], allowed: std::ops::RangeInclusive<usize>) -> Result<(), SqlError> {
    if allowed.contains(&args.len()) {
        return Ok(());
    }
    let expected = if allowed.start() == allowed.end() {
        allowed.start().to_string()
    } else if *allowed.end() == usize::MAX {
        format!("at least {}", allowed.start())
    } else {
        format!("{} to {}", allowed.start(), allowed.end())
    };
    Err(SqlError::WrongArity { function: function.to_string(), expected, got: args.len() })
}

fn text_arg<'v>(function: &str, v: &'v Value, what: &str) -> Result<&'v str, SqlError> {
    match v {
        Value::Text(s) => Ok(s),
        other => Err(SqlError::TypeMismatch {
            context: format!("{function}() argument {what}"),
            expected: "TEXT".into(),
            found: other.type_name().into(),
        }),
    }
}

/// `aergo_file_size(hash)` and `aergo_file_owner(hash)`: the AergoFS
/// registry's record of a file ([`crate::files`]), NULL when the hash is
/// not registered or its term has passed. Reads the state only.
fn file_info(name: &str, args: &[Value], env: HostEnv<'_>) -> Result<Value, SqlError> {
    arity(name, args, 1..=1)?;
    env.gas.charge(BALANCE_GAS)?;
    let text = text_arg(name, &args[0], "hash")?;
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let hash = if digits.len() == 64 { Hash::from_hex(digits) } else { Hash::from_base58(text) }.map_err(|e| {
        host_err(name, format!("hash {:?}: {e} (64 hex digits or base58)", text.chars().take(80).collect::<String>()))
    })?;
    let record =
        crate::files::lookup_in_force(&*env.store, &hash, env.ctx.block_height).map_err(|e| exec_to_sql(name, e))?;
    Ok(match (record, name) {
        (None, _) => Value::Null,
        (Some(r), "aergo_file_size") => Value::Int(i64::try_from(r.size).unwrap_or(i64::MAX)),
        (Some(r), _) => Value::Text(r.owner.to_string()),
    })
}

fn address_arg(function: &str, v: &Value, what: &str) -> Result<Address, SqlError> {
    let s = text_arg(function, v, what)?;
    Address::parse(s).map_err(|e| host_err(function, format!("{what}: {e}")))
}

/// An amount in aer from a SQL value (see the module docs).
pub fn amount_arg(function: &str, v: &Value) -> Result<Amount, SqlError> {
    let d = match v {
        Value::Int(i) => Decimal::from(*i),
        Value::Numeric(d) => *d,
        Value::Text(s) => Decimal::from_str_exact(s.trim())
            .map_err(|_| host_err(function, format!("amount {s:?} is not a number of aer")))?,
        other => {
            return Err(SqlError::TypeMismatch {
                context: format!("{function}() amount"),
                expected: "NUMERIC (aer)".into(),
                found: other.type_name().into(),
            })
        }
    };
    if d.is_sign_negative() && !d.is_zero() || !d.fract().is_zero() {
        return Err(host_err(function, format!("amount {d} is not a whole non-negative number of aer")));
    }
    let aer = u128::try_from(d.trunc().mantissa() / 10i128.pow(d.scale()))
        .map_err(|_| host_err(function, format!("amount {d} out of range")))?;
    let amount = Amount::from_aer(aer);
    if amount > Amount::TOTAL_SUPPLY {
        return Err(host_err(function, format!("amount {d} exceeds the total supply")));
    }
    Ok(amount)
}

/// An amount as a SQL NUMERIC (exact: the supply fits a 96-bit mantissa).
pub fn amount_value(a: Amount) -> Value {
    Value::Numeric(Decimal::from_i128_with_scale(a.aer() as i128, 0))
}

impl ContractHost {
    /// The host of a transaction at `(height, tx_index)` that sent `amount`
    /// to the contract it runs.
    pub fn for_tx(height: u64, tx_index: usize, tx_hash: Hash, amount: Amount) -> ContractHost {
        ContractHost { mode: Mode::Tx { height, tx_index, tx_hash }, amounts: vec![amount] }
    }

    /// The host of a read-only query.
    pub fn for_query() -> ContractHost {
        ContractHost { mode: Mode::Query, amounts: vec![Amount::ZERO] }
    }

    fn current_contract(function: &str, env: &HostEnv<'_>) -> Result<Address, SqlError> {
        if env.ctx.contract.is_empty() {
            return Err(host_err(function, "no contract is running in this session"));
        }
        Address::parse(&env.ctx.contract).map_err(|e| host_err(function, format!("session contract: {e}")))
    }

    fn balance(&mut self, args: &[Value], env: HostEnv<'_>) -> Result<Value, SqlError> {
        const F: &str = "aergo_balance";
        arity(F, args, 0..=1)?;
        env.gas.charge(BALANCE_GAS)?;
        let who = match args.first() {
            None => Self::current_contract(F, &env)?,
            Some(v) => address_arg(F, v, "address")?,
        };
        let acct = system::read_account(&*env.store, &who).map_err(|e| exec_to_sql(F, e))?;
        Ok(amount_value(acct.balance))
    }

    fn send(&mut self, args: &[Value], env: HostEnv<'_>) -> Result<Value, SqlError> {
        const F: &str = "aergo_send";
        arity(F, args, 2..=2)?;
        if env.ctx.read_only || matches!(self.mode, Mode::Query) {
            return Err(SqlError::ReadOnly { statement: format!("{F}()") });
        }
        env.gas.charge(SEND_GAS)?;
        let from = Self::current_contract(F, &env)?;
        let to = address_arg(F, &args[0], "recipient")?;
        if to.is_name() {
            return Err(host_err(F, format!("recipient {to}: names cannot receive AERGO here")));
        }
        let amount = amount_arg(F, &args[1])?;
        contract::transfer(env.store, &from, &to, amount).map_err(|e| match e {
            ExecError::InsufficientBalance { needed, available, .. } => {
                host_err(F, format!("contract {from} holds {available}, cannot send {needed}"))
            }
            other => exec_to_sql(F, other),
        })?;
        Ok(Value::Bool(true))
    }

    fn emit(&mut self, args: &[Value], env: HostEnv<'_>) -> Result<Value, SqlError> {
        const F: &str = "aergo_emit";
        arity(F, args, 2..=2)?;
        let Mode::Tx { height, tx_index, tx_hash } = self.mode.clone() else {
            return Err(SqlError::ReadOnly { statement: format!("{F}()") });
        };
        if env.ctx.read_only {
            return Err(SqlError::ReadOnly { statement: format!("{F}()") });
        }
        let name = text_arg(F, &args[0], "name")?;
        let json = match &args[1] {
            Value::Null => "null",
            v => text_arg(F, v, "JSON")?,
        };
        env.gas.charge(EMIT_GAS.saturating_add(EMIT_GAS_PER_BYTE.saturating_mul((name.len() + json.len()) as u64)))?;
        let contract = Self::current_contract(F, &env)?;
        match events::append(env.store, height, tx_index, &tx_hash, &contract.to_string(), name, json) {
            Ok(idx) => Ok(Value::Int(idx as i64)),
            Err(ExecError::BadArguments { reason, .. }) => Err(host_err(F, reason)),
            Err(e) => Err(exec_to_sql(F, e)),
        }
    }

    fn nested_call(&mut self, args: Vec<Value>, env: HostEnv<'_>) -> Result<Value, SqlError> {
        const F: &str = "aergo_call";
        arity(F, &args, 2..=usize::MAX)?;
        env.gas.charge(CALL_GAS)?;
        if self.amounts.len() >= MAX_CONTRACT_CALL_DEPTH {
            return Err(SqlError::LimitExceeded {
                what: "nested contract calls",
                limit: MAX_CONTRACT_CALL_DEPTH as u64,
            });
        }
        let caller = Self::current_contract(F, &env)?;
        let callee = address_arg(F, &args[0], "contract")?;
        let fname = text_arg(F, &args[1], "function")?.to_string();
        let info: ContractInfo = read_contract(&*env.store, &callee)
            .map_err(|e| exec_to_sql(F, e))?
            .ok_or_else(|| host_err(F, format!("no contract at {callee}")))?;
        let f = info
            .public_function(&fname)
            .ok_or_else(|| exec_to_sql(F, contract::unknown_function(info.callee(), &fname)))?
            .name
            .clone();
        let schema = schema_name(&callee).map_err(|e| exec_to_sql(F, e))?;
        let mut ctx = env.ctx.clone();
        ctx.caller = caller.to_string();
        ctx.contract = callee.to_string();
        ctx.default_schema = schema.clone();
        ctx.writable_schemas = Some(vec![schema.clone()]);
        let call_args: Vec<Value> = args.into_iter().skip(2).collect();
        let sig = env.engine.function_signature(&*env.store, &schema, &f)?;
        let required = sig.params.iter().rev().skip_while(|p| p.has_default).count();
        if call_args.len() < required || call_args.len() > sig.params.len() {
            return Err(SqlError::WrongArity {
                function: format!("{callee}.{f}"),
                expected: if required == sig.params.len() {
                    required.to_string()
                } else {
                    format!("{required} to {}", sig.params.len())
                },
                got: call_args.len(),
            });
        }
        self.amounts.push(Amount::ZERO);
        let call = Call { schema: &schema, function: &f, args: call_args, call_depth: env.call_depth + 1 };
        let r = env.engine.call(env.store, &ctx, call, env.gas, Some(self));
        self.amounts.pop();
        r
    }
}

impl aergo_sql::Host for ContractHost {
    fn call(&mut self, name: &str, args: Vec<Value>, env: HostEnv<'_>) -> Result<Value, SqlError> {
        match name {
            "aergo_amount" => {
                arity(name, &args, 0..=0)?;
                Ok(amount_value(self.amounts.last().copied().unwrap_or(Amount::ZERO)))
            }
            "aergo_balance" => self.balance(&args, env),
            "aergo_send" => self.send(&args, env),
            "aergo_emit" => self.emit(&args, env),
            "aergo_call" => self.nested_call(args, env),
            "aergo_file_size" | "aergo_file_owner" => file_info(name, &args, env),
            other => {
                Err(SqlError::UnknownFunction { name: other.to_string(), arity: args.len(), pos: Default::default() })
            }
        }
    }
}
