//! aergo-sql: AergoSQL, the deterministic, metered SQL engine of the chain.
//!
//! # What it owns
//!
//! Parsing (sqlparser, PostgreSQL dialect; our own parser for PL/pgSQL
//! block structure), binding, planning and execution of SQL over the
//! versioned store's [`aergo_store::TableStore`] interface: tables,
//! secondary indexes, views and functions live in the store's catalogue
//! (see [`catalog`] for the layout), rows are `encode_row` values under
//! `encode_key` primary keys.
//!
//! # Main types
//!
//! * [`Engine`]: configuration ([`GasSchedule`], [`Limits`]) and the cache
//!   of compiled functions; [`Engine::prepare`] gives a [`Prepared`]
//!   statement, [`Prepared::execute`] runs it with parameters against any
//!   `&mut dyn TableStore`, [`Engine::call_function`] calls a stored
//!   function. Every execution is atomic: the engine takes a store
//!   savepoint and rolls back on any error, out of gas included.
//! * [`ExecContext`]: caller, contract, block height and time, transaction
//!   hash (readable in SQL as `aergo_caller()`, `aergo_contract()`,
//!   `aergo_block_height()`, `aergo_block_time()`, `aergo_tx_hash()`), the
//!   default schema, which schemas the session may write, read-only mode.
//! * [`Gas`]: the meter; charges follow the documented [`GasSchedule`].
//! * [`Host`]: functions the embedding platform provides (balances, events,
//!   cross-contract calls), reached by `aergo_*` names the engine does not
//!   know itself; see [`host`]. [`Engine::call`] runs a stored function by
//!   exact schema and name with an optional host and a starting depth.
//! * [`AccessSet`]: static read/write sets for the parallel scheduler
//!   ([`Prepared::access_set`], [`Engine::function_access_set`]).
//! * [`SqlError`]: one error enum with positions where they apply.
//!
//! # The algorithm
//!
//! The binder resolves names and compiles expressions to trees over row
//! positions. The planner builds a left-deep join tree. The inner joins of
//! a FROM list (up to the first LEFT JOIN) are reordered: a cost model over
//! the conditions and the catalogue (no data: a base table counts as 1000
//! rows, an equality with a constant divides by 10, an equality with an
//! already joined table by the row count, a unique key bound by equalities
//! caps at one row) chooses the order by dynamic programming over subsets
//! up to 8 tables and greedily beyond, ties going to FROM order; the rest of
//! the FROM list follows in FROM order. Every condition is applied at the
//! first join step where all the tables it reads are bound. Each base table
//! gets an access path from the conditions that apply to it: primary-key
//! point lookup, key-prefix equality plus range on the primary key or a
//! secondary index, IN-list point lookups, or a full scan; join keys from
//! tables joined earlier make index nested-loop joins, and equalities no key
//! serves make hash joins (a `BTreeMap` of canonical key bytes, probed in
//! left-row order, so output order is the nested loop's). Conditions with
//! subqueries are applied above the joins. ORDER BY matching the key order
//! skips the sort and lets LIMIT stop the scan. Aggregation groups in a
//! `BTreeMap` keyed by the canonical key encoding, so every iteration order
//! is defined. `EXPLAIN <query>` returns the chosen plan as text lines.
//!
//! # Code map
//!
//! Folders say the algorithm; imports go one way only, up this list:
//!
//! * Leaves: [`error`] (one error enum), [`gas`] (meter and schedule),
//!   `names` (identifier folding, qualified names, the host prefix),
//!   [`types`] (SQL types, value operations), [`catalog`] (objects as store
//!   tables, blob formats, name qualification), `context` ([`Limits`],
//!   [`EngineConfig`], [`ExecContext`], [`QueryResult`], [`Call`],
//!   [`FunctionSignature`]), [`access`] (access sets), [`as_of`] (the
//!   `AS OF 'ref'` clauses of a read-only query).
//! * `ir/`: data only: plans (`Plan`, `Scan`, `Access`, `HashKeys`),
//!   expressions (`Expr`, `Func`, `SubPlan`), bound statements (`Bound`),
//!   functions (`FunctionDecl`, `CompiledFunction`), `explain` (a plan as
//!   text).
//! * `compile/`: SQL text to `ir`: `parse` (sqlparser front end), the
//!   binder in `bind`, `select`, `from` and `expr`, `join_order` (join
//!   order search), `join_plan` (the reordered join), `access_path` (index
//!   choice), `dml` (statements), `function_decl` and `plpgsql` (`CREATE
//!   FUNCTION` and function bodies).
//! * `run/`: `ir` against a store: `cx` (the execution context), `eval` and
//!   `builtins`, `query` (plan operators), `join` (nested-loop and hash
//!   joins), `scan`, `write` (row writes,
//!   INSERT / UPDATE / DELETE), `ddl`, `plpgsql` (the interpreter), `host`.
//! * Top: `engine` ([`Engine`], [`Prepared`]), [`host`] ([`Host`],
//!   [`HostEnv`]), `analysis` (static access sets of statements and
//!   calls), `conformance` (the sqllogictest runner).
//!
//! Architecture invariant: `run/` never imports `compile/` and `compile/`
//! never imports `run/`; `ir/` imports neither; a leaf imports only the
//! leaves listed before it; none of them imports `engine`, `host` or
//! `analysis`. What execution must compile while it runs (a function body
//! on first call, a `CREATE FUNCTION` body, DDL's DEFAULT and CHECK
//! expressions and views) it asks of the `FunctionSource` trait object in
//! its context (`run/cx.rs`), which [`Engine`] implements. `.ci/sql-layers`
//! checks every import of `crates/sql/src` against this rule in CI.
//!
//! # Deliberate differences from PostgreSQL
//!
//! * FLOAT/REAL/DOUBLE PRECISION are accepted as aliases of NUMERIC: values
//!   are exact decimals (28 significant digits), so results are identical on
//!   every machine; transcendental functions (`sin`, `exp`, `ln`, ...) are
//!   rejected. `power()` takes integer exponents only; `sqrt()` is computed
//!   exactly to 16 decimal places.
//! * NUMERIC holds at most 28-29 significant digits (a 96-bit mantissa);
//!   NUMERIC(p, s) allows p <= 28. Overflow is an error, never a rounding.
//!   Division keeps at least 20 fractional digits (PostgreSQL: at least 16
//!   significant).
//! * Integer types are 64-bit internally; SMALLINT/INTEGER ranges are
//!   checked when stored in a column.
//! * Text compares byte-wise (the "C" collation): no locale.
//! * Non-deterministic functions (`random()`, `now()`, `current_timestamp`,
//!   `clock_timestamp()`, `gen_random_uuid()`, sequences, `current_user`,
//!   transcendental float functions) are rejected when a statement or
//!   function is checked, with [`SqlError::NonDeterministic`].
//! * Not supported (clear [`SqlError::Unsupported`] errors): transactions
//!   control statements (every statement and call is atomic already),
//!   triggers, foreign keys, RIGHT/FULL joins, NATURAL joins, window
//!   functions, recursive CTEs, set-returning functions, OUT parameters,
//!   dynamic SQL (`EXECUTE`), cursors, `TIMESTAMP WITH TIME ZONE`,
//!   INTERVAL, arrays, `DROP ... CASCADE`, and aggregates only of: count,
//!   sum, avg, min, max, bool_and/every, bool_or, string_agg.
//! * A subquery may not read the columns of an aggregated outer query.
//! * Views are re-planned from their text on use; dropping a table does not
//!   check for views that depend on it.
//! * PL/pgSQL: a name that is both a column and a variable is an error
//!   (PostgreSQL's default `variable_conflict = error`); variables may have
//!   names that are reserved words (`to`), which PostgreSQL would reject.
//!
//! # Conformance (sqllogictest)
//!
//! `cargo run --release -p aergo-sql --bin sqllogictest -- ../shared/sqllogictest`
//! prints the pass rate per file and in total (run as engine `postgresql`;
//! `--failures N` lists failing records). Records that fail by design:
//!
//! * `evidence/in2.test`: `x IN ()` with an empty list (8 records) is not
//!   PostgreSQL syntax; the engine gives a syntax error.
//! * `evidence/slt_lang_replace.test`: `REPLACE INTO` and
//!   `INSERT OR REPLACE` (8 records) are SQLite syntax; use
//!   `INSERT ... ON CONFLICT ... DO UPDATE`.
//! * `random/aggregates/slt_good_1.test:69168` and
//!   `random/expr/slt_good_0.test:77844`: SQLite returns NULL for a
//!   division by zero; PostgreSQL and AergoSQL raise `division by zero`.
//!
//! `tests/conformance_floor.rs` runs a fixed subset in debug mode and fails
//! if the pass rate falls below the recorded floors.
//!
//! # Limits
//!
//! Identifiers are at most 63 bytes and may not contain `.`, `(`, `)` or
//! control characters; text/bytea values at most 1 MiB; see [`Limits`] for
//! result and operator bounds; every loop is bounded by gas.

pub mod access;
mod analysis;
pub mod as_of;
pub mod catalog;
mod compile;
#[cfg(feature = "slt")]
pub mod conformance;
mod context;
mod engine;
pub mod error;
pub mod gas;
pub mod host;
mod ir;
mod names;
mod run;
pub mod types;

pub use access::{AccessSet, KeyAccess};
pub use aergo_store::{AccessLog, Value};
pub use compile::function_decl::created_functions;
pub use compile::parse::{parse_sql, split_statements, MAX_CALL_NESTING, MAX_SQL_NESTING};
pub use compile::plpgsql::MAX_PLPGSQL_NESTING;

/// Stack a thread needs to run any statement or function the engine's
/// nesting limits allow ([`MAX_SQL_NESTING`] before parsing, a binder depth
/// of 128, [`MAX_PLPGSQL_NESTING`]), in any build; the unoptimised test
/// build needs the most (about 8 MiB for the deepest expression the binder
/// takes). Every thread that runs SQL must have at least this much: the
/// node's runtime threads do, and `tests/hostile.rs` runs its cases on
/// threads of exactly this size.
pub const MIN_STACK_BYTES: usize = 16 << 20;
pub use context::{Call, EngineConfig, ExecContext, FunctionParam, FunctionSignature, JoinOrder, Limits, QueryResult};
pub use engine::{Engine, Prepared};
pub use error::{Pos, SqlError};
pub use gas::{Gas, GasSchedule};
pub use host::{Host, HostEnv};
pub use types::SqlType;
