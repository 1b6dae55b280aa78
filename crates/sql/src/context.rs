//! The engine's small public types: configuration ([`Limits`],
//! [`EngineConfig`]), what SQL may read of its caller ([`ExecContext`]),
//! results ([`QueryResult`]), and what a stored-function call takes and
//! reports ([`Call`], [`FunctionParam`], [`FunctionSignature`]).

use aergo_store::Value;

use crate::gas::GasSchedule;
use crate::types::SqlType;

/// Resource bounds of one engine. Hitting one is a clear error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rows a top-level query may return.
    pub max_result_rows: usize,
    /// Bytes (approximate value sizes) a top-level query may return.
    pub max_result_bytes: usize,
    /// Rows any single operator may hold (sort, join, group, scan output).
    pub max_intermediate_rows: usize,
    /// Bytes the output of one join, projection or VALUES list may hold
    /// (counted with [`crate::types::row_bytes`]), whatever the gas: the
    /// memory bound of a statement is a small multiple of it.
    pub max_operator_bytes: usize,
    /// Nested user-function calls.
    pub max_call_depth: usize,
    /// Length of one SQL text.
    pub max_sql_bytes: usize,
    /// RAISE NOTICE messages kept per execution.
    pub max_notices: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_result_rows: 100_000,
            max_result_bytes: 16 << 20,
            max_intermediate_rows: 1_000_000,
            max_operator_bytes: 64 << 20,
            max_call_depth: 32,
            max_sql_bytes: 1 << 20,
            max_notices: 100,
        }
    }
}

/// How the inner joins of a query are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JoinOrder {
    /// The planner chooses (see the join-order algorithm in the crate
    /// docs): what every statement on the chain gets.
    #[default]
    Planned,
    /// FROM order as written, each table still read by its best access
    /// path: the reference a benchmark compares the planner with
    /// ([`crate::Engine::prepare_with_order`]).
    AsWritten,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineConfig {
    pub schedule: GasSchedule,
    pub limits: Limits,
}

/// Values of the surrounding transaction that SQL may read, and the
/// session's permissions. The only way anything from outside the store
/// enters execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecContext {
    pub caller: String,
    pub contract: String,
    pub block_height: u64,
    /// Block timestamp, microseconds since the epoch.
    pub block_time_us: i64,
    pub tx_hash: Vec<u8>,
    /// Schema of unqualified names.
    pub default_schema: String,
    /// Schemas this session may change; `None` = all.
    pub writable_schemas: Option<Vec<String>>,
    /// Reject every write (API queries).
    pub read_only: bool,
}

impl Default for ExecContext {
    fn default() -> Self {
        ExecContext {
            caller: String::new(),
            contract: String::new(),
            block_height: 0,
            block_time_us: 0,
            tx_hash: Vec::new(),
            default_schema: "public".into(),
            writable_schemas: None,
            read_only: false,
        }
    }
}

/// What a statement returned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub column_types: Vec<Option<SqlType>>,
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// Messages of RAISE NOTICE.
    pub notices: Vec<String>,
}

/// Which stored function [`crate::Engine::call`] runs, with what, at what depth.
#[derive(Clone, Debug)]
pub struct Call<'a> {
    pub schema: &'a str,
    pub function: &'a str,
    pub args: Vec<Value>,
    /// Nesting depth the call starts at (0 for a top-level call).
    pub call_depth: usize,
}

/// One parameter of a stored function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionParam {
    pub name: String,
    pub ty: SqlType,
    pub has_default: bool,
}

/// What [`crate::Engine::function_signature`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSignature {
    pub schema: String,
    pub name: String,
    pub params: Vec<FunctionParam>,
    /// `None` for `RETURNS void`.
    pub returns: Option<SqlType>,
    /// `"plpgsql"` or `"sql"`.
    pub language: &'static str,
}
