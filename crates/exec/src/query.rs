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
//!
//! The catalogue is readable too, for tools such as the SQL shell's `\d`:
//! [`list_relations`] lists every table, view, index and function of a
//! snapshot across schemas (bounded, with a `truncated` flag), and
//! [`describe_relation`] gives one object's columns, types, keys, indexes
//! and checks (tables), query (views) or signature and source (functions).

pub use aergo_sql::as_of::strip_as_of;
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
        info.callee(),
        &call.name,
        &call.args,
        &ctx,
        &mut gas,
        &mut ContractHost::for_query(),
    )?;
    Ok((ret, gas.used()))
}

// ----- catalogue listing (the SQL shell's `\d`) -----

/// What kind of object a catalogue entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelationKind {
    Table,
    View,
    Index,
    Function,
}

impl RelationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
            RelationKind::Index => "index",
            RelationKind::Function => "function",
        }
    }
}

/// One entry of [`list_relations`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationEntry {
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
    /// For an index, the table it indexes (`schema.table`).
    pub table: Option<String>,
}

/// What [`list_relations`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelationList {
    /// Ordered by schema, then name, then kind.
    pub relations: Vec<RelationEntry>,
    /// More entries exist than the limit allowed.
    pub truncated: bool,
}

/// Splits a store table name into `(schema, name, is_function)`.
fn split_store_name(store_name: &str) -> Option<(&str, &str, bool)> {
    let (schema, rest) = store_name.split_once('.')?;
    match rest.strip_suffix("()") {
        Some(f) => Some((schema, f, true)),
        None => Some((schema, rest, false)),
    }
}

/// Lists the tables, views, indexes and functions of a snapshot, every
/// schema included (`sys.*`, contract schemas), at most `max_results`.
/// Entries whose catalogue blob does not decode are reported as corrupt
/// state, not skipped: a listing that silently hides objects would mislead.
pub fn list_relations(view: &dyn TableStore, max_results: usize) -> Result<RelationList, ExecError> {
    let mut out = RelationList::default();
    for (store_name, meta) in view.tables()? {
        let Some((schema, name, is_function)) = split_store_name(&store_name) else { continue };
        if out.relations.len() == max_results {
            out.truncated = true;
            break;
        }
        let (kind, table) = if is_function {
            (RelationKind::Function, None)
        } else {
            match aergo_sql::catalog::decode_relation(&meta.schema, &store_name)? {
                aergo_sql::catalog::Relation::Table(_) => (RelationKind::Table, None),
                aergo_sql::catalog::Relation::View(_) => (RelationKind::View, None),
                aergo_sql::catalog::Relation::Index { table } => (RelationKind::Index, Some(table)),
            }
        };
        out.relations.push(RelationEntry { schema: schema.to_string(), name: name.to_string(), kind, table });
    }
    out.relations.sort_by(|a, b| (&a.schema, &a.name, a.kind).cmp(&(&b.schema, &b.name, b.kind)));
    Ok(out)
}

/// A column as [`describe_relation`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// SQL type name; `None` for view columns (not known statically).
    pub ty: Option<String>,
    pub not_null: bool,
    /// DEFAULT expression as SQL text.
    pub default: Option<String>,
}

/// An index of a described table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexInfo {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

/// What one catalogue object is, in detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelationDetail {
    Table {
        columns: Vec<ColumnInfo>,
        /// Primary key columns; empty for a table with a hidden row id.
        primary_key: Vec<String>,
        indexes: Vec<IndexInfo>,
        /// `(name, expression)` of each CHECK constraint.
        checks: Vec<(String, String)>,
    },
    View {
        columns: Vec<String>,
        query: String,
    },
    Function {
        /// `(name, SQL type, has a DEFAULT)` of each parameter.
        params: Vec<(String, String, bool)>,
        returns: Option<String>,
        language: String,
        source: String,
    },
}

/// A described object: where it lives and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationDescription {
    pub schema: String,
    pub name: String,
    pub detail: RelationDetail,
}

/// Most objects an unqualified name is looked up among across schemas.
const MAX_DESCRIBE_SCAN: usize = 100_000;

/// Describes the table, view or function `name` (`schema.name` or a bare
/// name; a trailing `()` names a function). A bare name is looked up in
/// the default schema (the contract's, else `public`), then in every
/// schema: one match is described, several are an error listing them.
/// `Ok(None)`: nothing has that name.
pub fn describe_relation(
    engine: &Engine,
    view: &dyn TableStore,
    qc: &QueryContext,
    name: &str,
) -> Result<Option<RelationDescription>, ExecError> {
    let bad = |reason: String| ExecError::BadArguments { function: "describe".into(), reason };
    let text = name.trim();
    let (text, want_function) = match text.strip_suffix("()") {
        Some(t) => (t.trim_end(), true),
        None => (text, false),
    };
    // Identifiers are stored case-folded; quoted names are not supported here.
    let folded = text.to_lowercase();
    if folded.is_empty() || folded.contains(['"', '(', ')', ' ']) || folded.split('.').count() > 2 {
        return Err(bad(format!("{name:?} is not a name: expected NAME, SCHEMA.NAME or NAME()")));
    }
    let candidates: Vec<(String, String)> = match folded.split_once('.') {
        Some((s, n)) => vec![(s.to_string(), n.to_string())],
        None => {
            let default_schema = match &qc.contract {
                Some(a) => contract_of(view, a)?.schema,
                None => "public".to_string(),
            };
            if exists(view, &default_schema, &folded, want_function)? {
                vec![(default_schema, folded.clone())]
            } else {
                let mut found = Vec::new();
                for (i, (store_name, _)) in view.tables()?.into_iter().enumerate() {
                    if i >= MAX_DESCRIBE_SCAN {
                        return Err(ExecError::LimitExceeded {
                            what: "catalogue entries searched for a bare name (qualify it with its schema)",
                            limit: MAX_DESCRIBE_SCAN as u64,
                        });
                    }
                    if let Some((s, n, f)) = split_store_name(&store_name) {
                        if n == folded && (f == want_function || !want_function) {
                            let pair = (s.to_string(), n.to_string());
                            if !found.contains(&pair) {
                                found.push(pair);
                            }
                        }
                    }
                }
                found
            }
        }
    };
    match candidates.as_slice() {
        [] => Ok(None),
        [(schema, n)] => describe_exact(engine, view, schema, n, want_function),
        many => {
            let list: Vec<String> = many.iter().take(20).map(|(s, n)| format!("{s}.{n}")).collect();
            Err(bad(format!("{text:?} names {} objects ({}): qualify it with its schema", many.len(), list.join(", "))))
        }
    }
}

fn exists(view: &dyn TableStore, schema: &str, name: &str, want_function: bool) -> Result<bool, ExecError> {
    let relation = !want_function && view.table(&aergo_sql::catalog::store_name(schema, name))?.is_some();
    Ok(relation || view.table(&aergo_sql::catalog::function_store_name(schema, name))?.is_some())
}

fn table_detail(t: &aergo_sql::catalog::TableDef) -> RelationDetail {
    let col = |i: &usize| t.columns.get(*i).map(|c| c.name.clone()).unwrap_or_else(|| format!("#{i}"));
    RelationDetail::Table {
        columns: t
            .columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                ty: Some(c.ty.name()),
                not_null: c.not_null,
                default: c.default.clone(),
            })
            .collect(),
        primary_key: t.primary_key.iter().map(col).collect(),
        indexes: t
            .indexes
            .iter()
            .map(|ix| IndexInfo {
                name: ix.name.clone(),
                columns: ix.columns.iter().map(col).collect(),
                unique: ix.unique,
            })
            .collect(),
        checks: t.checks.iter().map(|c| (c.name.clone(), c.expr.clone())).collect(),
    }
}

fn describe_exact(
    engine: &Engine,
    view: &dyn TableStore,
    schema: &str,
    name: &str,
    want_function: bool,
) -> Result<Option<RelationDescription>, ExecError> {
    use aergo_sql::catalog::{self, Relation};
    if !want_function {
        if let Some((relation, _)) = catalog::lookup(view, &catalog::store_name(schema, name))? {
            let (schema, name, detail) = match relation {
                Relation::Table(t) => (t.schema.clone(), t.name.clone(), table_detail(&t)),
                Relation::View(v) => {
                    // Without explicit column names, the view's columns are
                    // those of its query: plan it (nothing runs) to name them.
                    let columns = if v.columns.is_empty() {
                        let ctx = ExecContext {
                            default_schema: v.schema.clone(),
                            writable_schemas: Some(Vec::new()),
                            read_only: true,
                            ..ExecContext::default()
                        };
                        let sql = format!("SELECT * FROM {}.{}", v.schema, v.name);
                        engine.prepare(view, &ctx, &sql)?.columns()
                    } else {
                        v.columns.clone()
                    };
                    (v.schema.clone(), v.name.clone(), RelationDetail::View { columns, query: v.query.clone() })
                }
                // An index is described through the table it indexes.
                Relation::Index { table } => match catalog::lookup(view, &table)? {
                    Some((Relation::Table(t), _)) => (t.schema.clone(), t.name.clone(), table_detail(&t)),
                    _ => {
                        return Err(ExecError::Sql(aergo_sql::SqlError::CorruptCatalog {
                            name: catalog::store_name(schema, name),
                            reason: format!("an index of {table:?}, which is not a table"),
                        }))
                    }
                },
            };
            return Ok(Some(RelationDescription { schema, name, detail }));
        }
    }
    let fname = catalog::function_store_name(schema, name);
    let Some(meta) = view.table(&fname)? else { return Ok(None) };
    let def = catalog::decode_function(&meta.schema, &fname)?;
    let sig = engine.function_signature(view, schema, name)?;
    Ok(Some(RelationDescription {
        schema: schema.to_string(),
        name: name.to_string(),
        detail: RelationDetail::Function {
            params: sig.params.iter().map(|p| (p.name.clone(), p.ty.name(), p.has_default)).collect(),
            returns: sig.returns.map(|t| t.name()),
            language: sig.language.to_string(),
            source: def.source,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_sql::{ExecContext, Gas};
    use aergo_store::{Hash, Overlay, Store};

    /// An empty store: the overlay on the empty state of a memory store.
    fn mem() -> Overlay {
        Overlay::new(&Store::memory(), Hash::ZERO)
    }

    fn store() -> (Engine, Overlay) {
        let engine = query_engine(&QueryLimits::default());
        let mut store = mem();
        let sql = "CREATE TABLE accounts (id VARCHAR(64) PRIMARY KEY, balance NUMERIC(20, 2) NOT NULL DEFAULT 0 \
                   CHECK (balance >= 0), note TEXT UNIQUE);
                   CREATE INDEX by_balance ON accounts (balance);
                   CREATE VIEW rich AS SELECT id FROM accounts WHERE balance > 100;
                   CREATE TABLE other.accounts (k INTEGER);
                   CREATE TABLE other.logs (line TEXT);
                   CREATE FUNCTION pay(who VARCHAR, amt NUMERIC DEFAULT 1) RETURNS INTEGER AS $$
                   BEGIN RETURN 1; END; $$ LANGUAGE plpgsql";
        engine.execute_batch(&mut store, &ExecContext::default(), sql, &mut Gas::new(10_000_000)).unwrap();
        (engine, store)
    }

    #[test]
    fn lists_every_schema_in_order_with_kinds_and_a_bound() {
        let (_, store) = store();
        let list = list_relations(&store, 100).unwrap();
        let got: Vec<(String, &str)> =
            list.relations.iter().map(|r| (format!("{}.{}", r.schema, r.name), r.kind.as_str())).collect();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
        for want in [
            ("public.accounts", "table"),
            ("public.by_balance", "index"),
            ("public.rich", "view"),
            ("public.pay", "function"),
            ("other.accounts", "table"),
            ("other.logs", "table"),
        ] {
            assert!(got.iter().any(|(n, k)| n == want.0 && *k == want.1), "{want:?} in {got:?}");
        }
        let index = list.relations.iter().find(|r| r.name == "by_balance").unwrap();
        assert_eq!(index.table.as_deref(), Some("public.accounts"));
        assert!(!list.truncated);
        let cut = list_relations(&store, 2).unwrap();
        assert_eq!((cut.relations.len(), cut.truncated), (2, true));
    }

    #[test]
    fn the_query_api_serves_explain_and_explain_analyze_but_no_writes() {
        let (engine, mut store) = store();
        engine
            .execute(
                &mut store,
                &ExecContext::default(),
                "INSERT INTO accounts (id, balance) VALUES ('a', 5), ('b', 500)",
                &[],
                &mut Gas::new(10_000_000),
            )
            .unwrap();
        let qc = QueryContext::default();
        let out = query_sql(
            &engine,
            &mut store,
            &qc,
            "EXPLAIN ANALYZE SELECT id FROM accounts WHERE balance > 100",
            10_000_000,
        )
        .unwrap();
        assert_eq!(out.columns, vec!["QUERY PLAN".to_string()]);
        let lines: Vec<String> = out.rows.iter().map(|r| r[0].as_str().unwrap_or_default().to_string()).collect();
        assert!(lines.iter().any(|l| l.contains("actual rows=1")), "{lines:?}");
        assert!(lines.last().is_some_and(|l| l.starts_with("Result: rows=1 gas=")), "{lines:?}");
        let e = query_sql(&engine, &mut store, &qc, "DELETE FROM accounts", 10_000_000).unwrap_err();
        assert!(e.to_string().contains("only SELECT"), "{e}");
    }

    #[test]
    fn describes_tables_views_functions_and_resolves_bare_names() {
        let (engine, store) = store();
        let qc = QueryContext::default();
        let d = describe_relation(&engine, &store, &qc, "accounts").unwrap().unwrap();
        assert_eq!((d.schema.as_str(), d.name.as_str()), ("public", "accounts"));
        let RelationDetail::Table { columns, primary_key, indexes, checks } = d.detail else { panic!("{d:?}") };
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0].ty.as_deref(), Some("VARCHAR(64)"));
        assert!(columns[1].not_null);
        assert_eq!(columns[1].default.as_deref(), Some("0"));
        assert_eq!(primary_key, vec!["id".to_string()]);
        assert!(indexes.iter().any(|i| i.name == "by_balance" && i.columns == ["balance"] && !i.unique));
        assert!(indexes.iter().any(|i| i.columns == ["note"] && i.unique), "{indexes:?}");
        assert_eq!(checks.len(), 1);
        // An index names its table; case is folded; qualified names work.
        let by_index = describe_relation(&engine, &store, &qc, "BY_BALANCE").unwrap().unwrap();
        assert_eq!(by_index.name, "accounts");
        let other = describe_relation(&engine, &store, &qc, "other.accounts").unwrap().unwrap();
        assert_eq!(other.schema, "other");
        // A bare name missing from the default schema is found elsewhere
        // when it is unique.
        let logs = describe_relation(&engine, &store, &qc, "logs").unwrap().unwrap();
        assert_eq!(logs.schema, "other");
        let v = describe_relation(&engine, &store, &qc, "rich").unwrap().unwrap();
        assert!(matches!(v.detail, RelationDetail::View { ref columns, .. } if columns == &["id"]), "{v:?}");
        let f = describe_relation(&engine, &store, &qc, "pay()").unwrap().unwrap();
        let RelationDetail::Function { params, returns, language, source } = f.detail else { panic!() };
        assert_eq!(params, vec![("who".into(), "TEXT".into(), false), ("amt".into(), "NUMERIC".into(), true)]);
        assert_eq!((returns.as_deref(), language.as_str()), (Some("INTEGER"), "plpgsql"));
        assert!(source.contains("RETURN 1"));
        assert!(describe_relation(&engine, &store, &qc, "nothing").unwrap().is_none());
        assert!(describe_relation(&engine, &store, &qc, "accounts()").unwrap().is_none());
        for bad in ["", "a.b.c", "\"x\"", "a b"] {
            let e = describe_relation(&engine, &store, &qc, bad).unwrap_err().to_string();
            assert!(e.contains("not a name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn an_ambiguous_bare_name_lists_its_schemas() {
        let engine = query_engine(&QueryLimits::default());
        let mut store = mem();
        let sql = "CREATE TABLE a.t (x INTEGER); CREATE TABLE b.t (y INTEGER)";
        engine.execute_batch(&mut store, &ExecContext::default(), sql, &mut Gas::new(1_000_000)).unwrap();
        let e = describe_relation(&engine, &store, &QueryContext::default(), "t").unwrap_err().to_string();
        assert!(e.contains("a.t") && e.contains("b.t") && e.contains("qualify"), "{e}");
    }
}
