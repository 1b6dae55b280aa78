//! Read-only access to contract state for the API: plain SQL queries and
//! read-only calls of public functions, at any snapshot, bounded by a gas
//! cap and a result cap.
//!
//! A query runs in a read-only session on the snapshot it is given: every
//! write (INSERT/UPDATE/DELETE, DDL, `aergo_send`, `aergo_emit`, a function
//! that writes) fails with a clear error and nothing is changed. Only a
//! single SELECT (or VALUES / set operation) is accepted by [`query_sql`];
//! other statements are refused before they run. With a contract given,
//! unqualified names resolve in its schema; without, in `public`. Any
//! schema may be named (`c_....table`, `sys.accounts`, `sys.contracts`,
//! `sys.events`, ...). `aergo_block_height()` and `aergo_block_time()` are
//! those of the snapshot's block; `aergo_caller()` is empty.
//!
//! Caps come from the caller (the node's configuration): `gas_limit` for
//! the SQL meter, and the engine's result limits (rows and bytes), set by
//! building the engine with [`query_engine`]. Exceeding either is an error
//! naming the limit.

pub use aergo_sql::{Engine, SqlError};
use aergo_sql::{EngineConfig, ExecContext, Gas, Limits};
use aergo_store::TableStore;
use aergo_types::Address;

use crate::contract::{self, read_contract, ContractInfo};
use crate::host::ContractHost;
use crate::ExecError;

/// Caps of one API query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryLimits {
    pub gas_limit: u64,
    pub max_rows: usize,
    pub max_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits { gas_limit: 10_000_000, max_rows: 10_000, max_bytes: 4 << 20 }
    }
}

/// An engine for API queries: the chain's gas schedule, the query caps as
/// result limits. Keep one per node so compiled functions are reused.
pub fn query_engine(limits: &QueryLimits) -> Engine {
    let base = contract::engine_config();
    Engine::new(EngineConfig {
        schedule: base.schedule,
        limits: Limits { max_result_rows: limits.max_rows, max_result_bytes: limits.max_bytes, ..base.limits },
    })
}

/// Where a query runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryContext {
    /// Height and time of the snapshot's block.
    pub height: u64,
    pub timestamp_ns: i64,
    /// Contract whose schema is the default one.
    pub contract: Option<Address>,
}

/// What a query returned.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryOutput {
    pub columns: Vec<String>,
    /// SQL type of each column when known statically.
    pub types: Vec<Option<String>>,
    /// Values as JSON (see [`contract::value_to_json_value`]).
    pub rows: Vec<Vec<serde_json::Value>>,
    pub gas_used: u64,
}

fn session(qc: &QueryContext, info: Option<&ContractInfo>) -> ExecContext {
    ExecContext {
        caller: String::new(),
        contract: info.map(|c| c.address.to_string()).unwrap_or_default(),
        block_height: qc.height,
        block_time_us: qc.timestamp_ns.div_euclid(1000),
        tx_hash: Vec::new(),
        default_schema: info.map(|c| c.schema.clone()).unwrap_or_else(|| "public".into()),
        writable_schemas: Some(Vec::new()),
        read_only: true,
    }
}

fn contract_of(view: &dyn TableStore, address: &Address) -> Result<ContractInfo, ExecError> {
    read_contract(view, address)?.ok_or_else(|| ExecError::NoContract {
        address: address.to_string(),
        reason: if address.is_contract() { "nothing is deployed there" } else { "not a contract address" },
    })
}

/// Runs one read-only SQL query (see the module docs).
pub fn query_sql(
    engine: &Engine,
    view: &mut dyn TableStore,
    qc: &QueryContext,
    sql: &str,
    gas_limit: u64,
) -> Result<QueryOutput, ExecError> {
    let info = qc.contract.as_ref().map(|a| contract_of(&*view, a)).transpose()?;
    let ctx = session(qc, info.as_ref());
    let prepared = engine.prepare(&*view, &ctx, sql)?;
    if !prepared.is_query() {
        return Err(ExecError::Sql(SqlError::ReadOnly {
            statement: format!("{} (only SELECT queries are allowed here)", statement_head(sql)),
        }));
    }
    let mut gas = Gas::new(gas_limit);
    let res = prepared.execute_hosted(view, &ctx, &[], &mut gas, &mut ContractHost::for_query())?;
    Ok(QueryOutput {
        columns: res.columns,
        types: res.column_types.iter().map(|t| t.map(|t| t.name())).collect(),
        rows: res.rows.iter().map(|r| r.iter().map(contract::value_to_json_value).collect()).collect(),
        gas_used: gas.used(),
    })
}

fn statement_head(sql: &str) -> String {
    sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ").to_uppercase().chars().take(40).collect()
}

/// Calls a public function of `contract` read-only with a call payload
/// (`{"Name": ..., "Args": [...]}`, as in a call transaction) and returns
/// the JSON of its result and the gas used. A function that writes fails.
pub fn query_call(
    engine: &Engine,
    view: &mut dyn TableStore,
    qc: &QueryContext,
    contract: &Address,
    payload: &[u8],
    gas_limit: u64,
) -> Result<(String, u64), ExecError> {
    let info = contract_of(&*view, contract)?;
    let call = contract::parse_call_payload(payload)?;
    let ctx = session(qc, Some(&info));
    let mut gas = Gas::new(gas_limit);
    let ret = contract::call_public(
        engine,
        view,
        &info,
        &call.name,
        &call.args,
        &ctx,
        &mut gas,
        &mut ContractHost::for_query(),
    )?;
    Ok((ret, gas.used()))
}
