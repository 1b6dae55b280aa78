//! The public face of the engine: contexts, limits, prepared statements,
//! execution with atomicity, DML and DDL.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aergo_store::{Savepoint, TableStore, Value};
use sqlparser::ast::{self, Spanned};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::access::AccessSet;
use crate::catalog::{self, CheckDef, ColumnDef, IndexDef, Relation, TableDef, ViewDef};
use crate::error::{Pos, Result, SqlError};
use crate::exec::{self, Cx};
use crate::expr::{and_opt, eval, Expr};
use crate::gas::{Gas, GasSchedule};
use crate::host::Host;
use crate::plan::{self, ident_name, object_parts, Binder, OutCol, Plan, Row, Scan, Scope, ScopeCol, VarScope};
use crate::plpgsql::{self, CompiledFunction};
use crate::types::{self, SqlType};

/// Resource bounds of one engine. Hitting one is a clear error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rows a top-level query may return.
    pub max_result_rows: usize,
    /// Bytes (approximate value sizes) a top-level query may return.
    pub max_result_bytes: usize,
    /// Rows any single operator may hold (sort, join, group, scan output).
    pub max_intermediate_rows: usize,
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
            max_call_depth: 32,
            max_sql_bytes: 1 << 20,
            max_notices: 100,
        }
    }
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
    pub rows: Vec<Row>,
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// Messages of RAISE NOTICE.
    pub notices: Vec<String>,
}

/// A statement after binding and planning.
#[derive(Clone, Debug)]
pub(crate) enum Bound {
    Query { plan: Plan, cols: Vec<OutCol> },
    Insert(Box<InsertPlan>),
    Update(Box<UpdatePlan>),
    Delete(Box<DeletePlan>),
    Ddl(Box<ast::Statement>),
    CreateFunction(Box<plpgsql::FunctionSource>),
}

#[derive(Clone, Debug)]
pub(crate) struct InsertPlan {
    pub table: Arc<TableDef>,
    pub columns: Vec<usize>,
    pub source: Plan,
    pub defaults: Vec<Option<Expr>>,
    pub checks: Vec<(String, Expr)>,
    pub on_conflict: Option<OnConflictPlan>,
    pub returning: Option<Vec<Expr>>,
}

#[derive(Clone, Debug)]
pub(crate) struct OnConflictPlan {
    /// Which key the target names (None = any conflict).
    pub target: Option<Option<usize>>,
    /// None = DO NOTHING. Expressions see `existing row ++ excluded row`.
    pub update: Option<ConflictUpdate>,
}

/// `DO UPDATE SET` assignments (column, value) and its optional WHERE.
pub(crate) type ConflictUpdate = (Vec<(usize, Expr)>, Option<Expr>);

#[derive(Clone, Debug)]
pub(crate) struct UpdatePlan {
    pub scan: Scan,
    pub assignments: Vec<(usize, Expr)>,
    pub checks: Vec<(String, Expr)>,
    pub returning: Option<Vec<Expr>>,
}

#[derive(Clone, Debug)]
pub(crate) struct DeletePlan {
    pub scan: Scan,
    pub returning: Option<Vec<Expr>>,
}

/// A statement parsed, checked and planned once, executed many times.
#[derive(Clone, Debug)]
pub struct Prepared {
    engine: Engine,
    sql: String,
    default_schema: String,
    pub(crate) bound: Bound,
    pub(crate) deps: Deps,
}

impl Prepared {
    /// Executes with `params` (`$1` is `params[0]`), atomically.
    pub fn execute(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        params: &[Value],
        gas: &mut Gas,
    ) -> Result<QueryResult> {
        self.engine.run_prepared(self, store, ctx, params, gas, Extras::default())
    }

    /// Like [`Prepared::execute`], with `host` answering `aergo_*` host
    /// functions (see [`crate::host`]).
    pub fn execute_hosted(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        params: &[Value],
        gas: &mut Gas,
        host: &mut dyn Host,
    ) -> Result<QueryResult> {
        self.engine.run_prepared(self, store, ctx, params, gas, Extras { host: Some(host) })
    }

    /// The statically known accesses of this statement with `params`.
    pub fn access_set(&self, store: &dyn TableStore, ctx: &ExecContext, params: &[Value]) -> Result<AccessSet> {
        crate::analysis::statement_access(&self.engine, store, ctx, &self.bound, params, &[], 0)
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Whether the statement is a query (SELECT, VALUES, a set operation)
    /// rather than a write or DDL.
    pub fn is_query(&self) -> bool {
        matches!(self.bound, Bound::Query { .. })
    }

    /// Result column names of a query (empty for other statements).
    pub fn columns(&self) -> Vec<String> {
        match &self.bound {
            Bound::Query { cols, .. } => cols.iter().map(|c| c.name.clone()).collect(),
            _ => vec![],
        }
    }
}

/// Optional parts of one execution.
#[derive(Default)]
pub(crate) struct Extras<'x> {
    host: Option<&'x mut dyn Host>,
}

/// Reborrows an optional host for one statement of a batch.
fn reborrow<'s>(h: &'s mut Option<&mut dyn Host>) -> Option<&'s mut dyn Host> {
    match h {
        Some(h) => Some(&mut **h),
        None => None,
    }
}

/// Lets an optional host live exactly as long as one execution (a trait
/// object's lifetime bound can only be shortened by a coercion, never by
/// subtyping behind `&mut`).
fn shorten<'s>(h: Option<&'s mut (dyn Host + '_)>) -> Option<&'s mut (dyn Host + 's)> {
    match h {
        Some(h) => Some(h),
        None => None,
    }
}

/// Which stored function [`Engine::call`] runs, with what, at what depth.
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

/// What [`Engine::function_signature`] reports.
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

/// The `(schema, name)` of every function a batch of SQL creates with
/// `CREATE [OR REPLACE] FUNCTION`, in order, without duplicates; names are
/// case-folded as the catalogue stores them. Other statements are ignored.
pub fn created_functions(sql: &str, default_schema: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for stmt in split_statements(sql)? {
        if is_create_function(&stmt) {
            let src = plpgsql::parse_create_function(&stmt, default_schema)?;
            let key = (src.schema, src.name);
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    Ok(out)
}

/// Catalogue dependencies of a plan: (store name, schema blob).
pub(crate) type Deps = Vec<(String, Vec<u8>)>;

pub(crate) struct EngineInner {
    pub config: EngineConfig,
    /// Compiled functions by store name; each entry remembers the catalogue
    /// blob it was compiled from and is recompiled when that changes.
    pub functions: Mutex<BTreeMap<String, Arc<CompiledFunction>>>,
}

/// The AergoSQL engine. Cheap to clone; holds configuration and the cache of
/// compiled functions, no state of its own: all state is in the store.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.inner.config).finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineConfig::default())
    }
}

fn syntax(e: ParserError) -> SqlError {
    let msg = e.to_string();
    // sqlparser reports "... at Line: L, Column: C".
    let pos = msg
        .rfind("Line: ")
        .and_then(|i| {
            let rest = &msg[i + 6..];
            let mut it = rest.split(", Column: ");
            let line = it.next()?.trim().parse().ok()?;
            let col = it.next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?;
            Some(Pos::new(line, col))
        })
        .unwrap_or_default();
    let message = msg.strip_prefix("sql parser error: ").unwrap_or(&msg).to_string();
    SqlError::Syntax { message, pos }
}

/// Parses SQL text with the PostgreSQL dialect.
pub fn parse_sql(sql: &str) -> Result<Vec<ast::Statement>> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(syntax)
}

/// Splits a batch at top-level semicolons (dollar-quoted bodies are one
/// token, so function bodies stay whole).
pub fn split_statements(sql: &str) -> Result<Vec<String>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().map_err(|e| SqlError::Syntax {
        message: e.message.clone(),
        pos: Pos::new(e.location.line, e.location.column),
    })?;
    let mut out = Vec::new();
    let mut cur = String::new();
    for t in tokens {
        if t == Token::SemiColon {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
        } else {
            cur.push_str(&t.to_string());
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn is_create_function(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(4)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    matches!(words.as_slice(), [c, f, ..] if c == "create" && f == "function")
        || matches!(words.as_slice(), [c, o, r, f] if c == "create" && o == "or" && r == "replace" && f == "function")
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        Engine { inner: Arc::new(EngineInner { config, functions: Mutex::new(BTreeMap::new()) }) }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Parses, checks and plans one statement.
    pub fn prepare(&self, store: &dyn TableStore, ctx: &ExecContext, sql: &str) -> Result<Prepared> {
        if sql.len() > self.inner.config.limits.max_sql_bytes {
            return Err(SqlError::LimitExceeded {
                what: "SQL text bytes",
                limit: self.inner.config.limits.max_sql_bytes as u64,
            });
        }
        let (bound, deps) = self.bind_text(store, &ctx.default_schema, sql, None)?;
        Ok(Prepared {
            engine: self.clone(),
            sql: sql.to_string(),
            default_schema: ctx.default_schema.clone(),
            bound,
            deps,
        })
    }

    pub(crate) fn bind_text(
        &self,
        store: &dyn TableStore,
        schema: &str,
        sql: &str,
        vars: Option<&VarScope>,
    ) -> Result<(Bound, Deps)> {
        if is_create_function(sql) {
            let src = plpgsql::parse_create_function(sql, schema)?;
            return Ok((Bound::CreateFunction(Box::new(src)), vec![]));
        }
        let mut stmts = parse_sql(sql)?;
        if stmts.len() != 1 {
            return Err(SqlError::Syntax {
                message: format!("expected exactly one statement, found {}", stmts.len()),
                pos: Pos::UNKNOWN,
            });
        }
        let stmt = stmts.remove(0);
        let mut binder = Binder::new(store, schema, vars);
        let bound = bind_statement(&mut binder, stmt)?;
        Ok((bound, binder.deps))
    }

    /// Parses, plans and executes one statement atomically.
    pub fn execute(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        sql: &str,
        params: &[Value],
        gas: &mut Gas,
    ) -> Result<QueryResult> {
        let p = self.prepare(store, ctx, sql)?;
        p.execute(store, ctx, params, gas)
    }

    /// Executes a batch of `;`-separated statements; all or nothing.
    pub fn execute_batch(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        sql: &str,
        gas: &mut Gas,
    ) -> Result<Vec<QueryResult>> {
        self.run_batch(store, ctx, sql, gas, None)
    }

    /// [`Engine::execute_batch`] with `host` answering `aergo_*` host
    /// functions (see [`crate::host`]).
    pub fn execute_batch_hosted(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        sql: &str,
        gas: &mut Gas,
        host: &mut dyn Host,
    ) -> Result<Vec<QueryResult>> {
        self.run_batch(store, ctx, sql, gas, Some(host))
    }

    fn run_batch(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        sql: &str,
        gas: &mut Gas,
        mut host: Option<&mut dyn Host>,
    ) -> Result<Vec<QueryResult>> {
        let sp = store.savepoint();
        let r = (|| {
            let mut out = Vec::new();
            for s in split_statements(sql)? {
                let p = self.prepare(store, ctx, &s)?;
                let extras = Extras { host: reborrow(&mut host) };
                out.push(self.run_prepared(&p, store, ctx, &[], gas, extras)?);
            }
            Ok(out)
        })();
        finish_savepoint(store, sp, r)
    }

    /// Calls a user-defined function (`name` may be schema-qualified).
    pub fn call_function(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        name: &str,
        args: &[Value],
        gas: &mut Gas,
    ) -> Result<Value> {
        let sname = self.function_store_name(ctx, name)?;
        let sp = store.savepoint();
        let mut cx = self.cx(store, ctx, gas, vec![]);
        let r = plpgsql::call_user_function(&sname, args.to_vec(), &mut cx);
        drop(cx);
        finish_savepoint(store, sp, r)
    }

    /// Calls function `call.function` of schema `call.schema` (both exact,
    /// already case-folded names; no parsing of dots) atomically, with an
    /// optional host. `call.call_depth` is the nesting the call starts at: a
    /// host making a nested call passes its
    /// [`crate::host::HostEnv::call_depth`] + 1, so
    /// [`Limits::max_call_depth`] bounds the whole chain of calls.
    pub fn call(
        &self,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        call: Call<'_>,
        gas: &mut Gas,
        host: Option<&mut dyn Host>,
    ) -> Result<Value> {
        let sname = catalog::function_store_name(call.schema, call.function);
        let sp = store.savepoint();
        let mut cx = self.cx(store, ctx, gas, vec![]);
        cx.host = shorten(host);
        cx.call_depth = call.call_depth;
        let r = plpgsql::call_user_function(&sname, call.args, &mut cx);
        drop(cx);
        finish_savepoint(store, sp, r)
    }

    /// The signature of stored function `schema.name` (exact names), read
    /// from its catalogue entry without compiling the body.
    pub fn function_signature(&self, store: &dyn TableStore, schema: &str, name: &str) -> Result<FunctionSignature> {
        let sname = catalog::function_store_name(schema, name);
        let meta = store.table(&sname)?.ok_or_else(|| SqlError::UnknownFunction {
            name: format!("{schema}.{name}"),
            arity: 0,
            pos: Pos::UNKNOWN,
        })?;
        let signature = |src: &plpgsql::FunctionSource| FunctionSignature {
            schema: src.schema.clone(),
            name: src.name.clone(),
            params: src
                .params
                .iter()
                .map(|(name, ty, default)| FunctionParam {
                    name: name.clone(),
                    ty: *ty,
                    has_default: default.is_some(),
                })
                .collect(),
            returns: src.returns,
            language: match src.language {
                plpgsql::Lang::PlPgSql => "plpgsql",
                plpgsql::Lang::Sql => "sql",
            },
        };
        // The compiled form is cached; a body that does not compile (it
        // names objects that do not exist) still has a signature.
        match self.function(store, &sname) {
            Ok(f) => Ok(signature(&f.src)),
            Err(_) => {
                let def = catalog::decode_function(&meta.schema, &sname)?;
                Ok(signature(&plpgsql::parse_create_function(&def.source, &def.schema)?))
            }
        }
    }

    /// The statically known accesses of calling function `name` with `args`.
    pub fn function_access_set(
        &self,
        store: &dyn TableStore,
        ctx: &ExecContext,
        name: &str,
        args: &[Value],
    ) -> Result<AccessSet> {
        let sname = self.function_store_name(ctx, name)?;
        crate::analysis::function_access(self, store, ctx, &sname, Some(args), 0)
    }

    fn function_store_name(&self, ctx: &ExecContext, name: &str) -> Result<String> {
        let parts: Vec<String> = name.split('.').map(|p| p.to_lowercase()).collect();
        let (schema, fname) = match parts.as_slice() {
            [n] => (ctx.default_schema.clone(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return Err(SqlError::UnknownFunction { name: name.into(), arity: 0, pos: Pos::UNKNOWN }),
        };
        Ok(catalog::function_store_name(&schema, &fname))
    }

    pub(crate) fn cx<'a>(
        &'a self,
        store: &'a mut dyn TableStore,
        ctx: &'a ExecContext,
        gas: &'a mut Gas,
        params: Vec<Value>,
    ) -> Cx<'a> {
        Cx {
            store,
            ctx,
            gas,
            schedule: &self.inner.config.schedule,
            limits: &self.inner.config.limits,
            engine: self,
            params,
            vars: Vec::new(),
            outer: Vec::new(),
            sub_cache: BTreeMap::new(),
            call_depth: 0,
            notices: Vec::new(),
            host: None,
        }
    }

    fn run_prepared(
        &self,
        p: &Prepared,
        store: &mut dyn TableStore,
        ctx: &ExecContext,
        params: &[Value],
        gas: &mut Gas,
        extras: Extras<'_>,
    ) -> Result<QueryResult> {
        let Extras { host } = extras;
        // A plan is only valid for the catalogue it was bound against.
        let stale = deps_stale(&*store, &p.deps)?;
        let replanned;
        let bound = if stale || p.default_schema != ctx.default_schema {
            replanned = self.bind_text(&*store, &ctx.default_schema, &p.sql, None)?.0;
            &replanned
        } else {
            &p.bound
        };
        let sp = store.savepoint();
        let mut cx = self.cx(store, ctx, gas, params.to_vec());
        cx.host = shorten(host);
        let r = exec_bound(bound, &mut cx).and_then(|mut res| {
            check_result_size(&res, &self.inner.config.limits)?;
            res.notices = std::mem::take(&mut cx.notices);
            Ok(res)
        });
        drop(cx);
        finish_savepoint(store, sp, r)
    }

    /// Returns the compiled form of a function, compiling it if its
    /// catalogue entry changed.
    pub(crate) fn function(&self, store: &dyn TableStore, sname: &str) -> Result<Arc<CompiledFunction>> {
        let meta = store.table(sname)?.ok_or_else(|| SqlError::UnknownFunction {
            name: sname.trim_end_matches("()").into(),
            arity: 0,
            pos: Pos::UNKNOWN,
        })?;
        {
            let cache = self.inner.functions.lock().map_err(|_| crate::expr::internal("function cache poisoned"))?;
            if let Some(f) = cache.get(sname) {
                if f.meta == meta.schema && !deps_stale(store, &f.deps)? {
                    return Ok(f.clone());
                }
            }
        }
        let def = catalog::decode_function(&meta.schema, sname)?;
        let compiled = Arc::new(plpgsql::compile(self, store, &def, meta.schema.clone())?);
        let mut cache = self.inner.functions.lock().map_err(|_| crate::expr::internal("function cache poisoned"))?;
        cache.insert(sname.to_string(), compiled.clone());
        Ok(compiled)
    }
}

/// Ends the savepoint of one atomic unit: rolled back on error, released
/// on success so the store's undo log does not grow with every statement.
/// A failure to roll back or release is a storage failure and wins over
/// the statement's own result.
pub(crate) fn finish_savepoint<T>(store: &mut dyn TableStore, sp: Savepoint, r: Result<T>) -> Result<T> {
    if r.is_err() {
        store.rollback_to(sp)?;
    }
    store.release_savepoint(sp)?;
    r
}

pub(crate) fn deps_stale(store: &dyn TableStore, deps: &[(String, Vec<u8>)]) -> Result<bool> {
    for (name, meta) in deps {
        match store.table(name)? {
            Some(m) if m.schema == *meta => {}
            _ => return Ok(true),
        }
    }
    Ok(false)
}

fn check_result_size(res: &QueryResult, limits: &Limits) -> Result<()> {
    if res.rows.len() > limits.max_result_rows {
        return Err(SqlError::ResultTooLarge { what: "rows", limit: limits.max_result_rows as u64 });
    }
    let bytes: usize = res.rows.iter().flat_map(|r| r.iter()).map(types::value_size).sum();
    if bytes > limits.max_result_bytes {
        return Err(SqlError::ResultTooLarge { what: "bytes", limit: limits.max_result_bytes as u64 });
    }
    Ok(())
}

// ----- binding statements -----

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(SqlError::Unsupported { feature: what.into() })
}

fn table_scope(t: &TableDef, qualifier: &str) -> Scope {
    Scope {
        cols: t
            .columns
            .iter()
            .map(|c| ScopeCol { qualifier: Some(qualifier.to_string()), name: c.name.clone(), ty: Some(c.ty) })
            .collect(),
        aggregated: false,
    }
}

pub(crate) fn bind_checks(binder: &mut Binder<'_>, t: &TableDef) -> Result<Vec<(String, Expr)>> {
    let scope = table_scope(t, &t.name);
    let saved = binder.vars.take();
    let r = t
        .checks
        .iter()
        .map(|c| {
            let e = parse_expr(&c.expr)?;
            Ok((c.name.clone(), binder.bind_expr(&e, &scope)?))
        })
        .collect();
    binder.vars = saved;
    r
}

pub fn parse_expr(sql: &str) -> Result<ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(syntax)
}

fn bind_returning(
    binder: &mut Binder<'_>,
    items: &Option<Vec<ast::SelectItem>>,
    scope: &Scope,
) -> Result<Option<(Vec<Expr>, Vec<OutCol>)>> {
    let Some(items) = items else { return Ok(None) };
    let mut exprs = Vec::new();
    let mut cols = Vec::new();
    for it in items {
        match it {
            ast::SelectItem::UnnamedExpr(e) => {
                exprs.push(binder.bind_expr(e, scope)?);
                cols.push(OutCol { name: e.to_string(), ty: None });
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                exprs.push(binder.bind_expr(expr, scope)?);
                cols.push(OutCol { name: ident_name(alias), ty: None });
            }
            ast::SelectItem::Wildcard(_) => {
                for (i, c) in scope.cols.iter().enumerate() {
                    exprs.push(Expr::Col(i));
                    cols.push(OutCol { name: c.name.clone(), ty: c.ty });
                }
            }
            _ => return unsupported("this RETURNING item"),
        }
    }
    Ok(Some((exprs, cols)))
}

fn where_scan(
    binder: &mut Binder<'_>,
    table: Arc<TableDef>,
    selection: &Option<ast::Expr>,
    scope: &Scope,
) -> Result<Scan> {
    let mut conj = Vec::new();
    if let Some(w) = selection {
        let mut parts = Vec::new();
        plan::split_and(w, &mut parts);
        for p in parts {
            if plan::contains_aggregate(p) {
                return Err(SqlError::Syntax {
                    message: "aggregate functions are not allowed in WHERE".into(),
                    pos: plan::pos_of(p.span()),
                });
            }
            conj.push(binder.bind_expr(p, scope)?);
        }
    }
    let access = plan::choose_access_pub(&table, &conj);
    let mut filter = None;
    for c in conj {
        filter = Some(and_opt(filter, c));
    }
    Ok(Scan { table, access, filter })
}

pub(crate) fn bind_statement(binder: &mut Binder<'_>, stmt: ast::Statement) -> Result<Bound> {
    use ast::Statement as S;
    match stmt {
        S::Query(q) => {
            let (plan, cols) = binder.bind_query(&q)?;
            Ok(Bound::Query { plan, cols })
        }
        S::Insert(ins) => bind_insert(binder, ins),
        S::Update { table, assignments, from, selection, returning, or, limit } => {
            if from.is_some() || or.is_some() || limit.is_some() || !table.joins.is_empty() {
                return unsupported("UPDATE with FROM, OR or LIMIT");
            }
            let (name, alias) = match &table.relation {
                ast::TableFactor::Table { name, alias, .. } => (name.clone(), alias.clone()),
                _ => return unsupported("UPDATE of a non-table"),
            };
            let t = binder.table(&name)?;
            let qual = alias.map(|a| ident_name(&a.name)).unwrap_or_else(|| t.name.clone());
            let scope = table_scope(&t, &qual);
            let mut assigns = Vec::new();
            for a in &assignments {
                let col = match &a.target {
                    ast::AssignmentTarget::ColumnName(n) => object_parts(n)?.pop().unwrap_or_default(),
                    ast::AssignmentTarget::Tuple(_) => return unsupported("UPDATE SET (a, b) = ..."),
                };
                let i = t
                    .column_index(&col)
                    .ok_or_else(|| SqlError::UnknownColumn { name: col.clone(), pos: plan::pos_of(a.target_span()) })?;
                assigns.push((i, binder.bind_expr(&a.value, &scope)?));
            }
            let checks = bind_checks(binder, &t)?;
            let returning = bind_returning(binder, &returning, &scope)?;
            let scan = where_scan(binder, t, &selection, &scope)?;
            Ok(Bound::Update(Box::new(UpdatePlan {
                scan,
                assignments: assigns,
                checks,
                returning: returning.map(|r| r.0),
            })))
        }
        S::Delete(d) => {
            if d.using.is_some() || !d.order_by.is_empty() || d.limit.is_some() || !d.tables.is_empty() {
                return unsupported("DELETE with USING, ORDER BY or LIMIT");
            }
            let from = match &d.from {
                ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
            };
            let [twj] = from.as_slice() else { return unsupported("DELETE from several tables") };
            let (name, alias) = match &twj.relation {
                ast::TableFactor::Table { name, alias, .. } if twj.joins.is_empty() => (name.clone(), alias.clone()),
                _ => return unsupported("DELETE from a join"),
            };
            let t = binder.table(&name)?;
            let qual = alias.map(|a| ident_name(&a.name)).unwrap_or_else(|| t.name.clone());
            let scope = table_scope(&t, &qual);
            let returning = bind_returning(binder, &d.returning, &scope)?;
            let scan = where_scan(binder, t, &d.selection, &scope)?;
            Ok(Bound::Delete(Box::new(DeletePlan { scan, returning: returning.map(|r| r.0) })))
        }
        S::CreateTable(_)
        | S::CreateIndex(_)
        | S::Drop { .. }
        | S::CreateView { .. }
        | S::AlterTable { .. }
        | S::DropFunction { .. } => Ok(Bound::Ddl(Box::new(stmt))),
        S::StartTransaction { .. } | S::Commit { .. } | S::Rollback { .. } | S::Savepoint { .. } => {
            unsupported("transaction control (every statement and call is already atomic; the chain commits per block)")
        }
        S::CreateTrigger { .. } => unsupported("triggers"),
        S::CreateFunction(_) => unsupported("this CREATE FUNCTION form"),
        other => {
            let text = other.to_string();
            let head: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            unsupported(format!("statement {head}"))
        }
    }
}

trait TargetSpan {
    fn target_span(&self) -> sqlparser::tokenizer::Span;
}

impl TargetSpan for ast::Assignment {
    fn target_span(&self) -> sqlparser::tokenizer::Span {
        match &self.target {
            ast::AssignmentTarget::ColumnName(n) => n.span(),
            ast::AssignmentTarget::Tuple(_) => sqlparser::tokenizer::Span::empty(),
        }
    }
}

fn bind_insert(binder: &mut Binder<'_>, ins: ast::Insert) -> Result<Bound> {
    if ins.or.is_some()
        || ins.ignore
        || ins.overwrite
        || !ins.assignments.is_empty()
        || ins.partitioned.is_some()
        || ins.replace_into
    {
        return unsupported("this INSERT form (OR, IGNORE, REPLACE, SET)");
    }
    let name = match &ins.table {
        ast::TableObject::TableName(n) => n.clone(),
        ast::TableObject::TableFunction(_) => return unsupported("INSERT INTO a function"),
    };
    let t = binder.table(&name)?;
    let columns: Vec<usize> = if ins.columns.is_empty() {
        (0..t.columns.len()).collect()
    } else {
        let mut v = Vec::new();
        for c in &ins.columns {
            let n = ident_name(c);
            let i = t
                .column_index(&n)
                .ok_or_else(|| SqlError::UnknownColumn { name: n.clone(), pos: plan::pos_of(c.span) })?;
            if v.contains(&i) {
                return Err(SqlError::Syntax {
                    message: format!("column {n:?} specified more than once"),
                    pos: plan::pos_of(c.span),
                });
            }
            v.push(i);
        }
        v
    };
    let Some(source) = &ins.source else { return unsupported("INSERT ... DEFAULT VALUES") };
    let (plan, cols) = binder.bind_query(source)?;
    if cols.len() != columns.len() {
        return Err(SqlError::Syntax {
            message: format!("INSERT has {} target columns but {} expressions", columns.len(), cols.len()),
            pos: Pos::UNKNOWN,
        });
    }
    let saved = binder.vars.take();
    let defaults = t
        .columns
        .iter()
        .map(|c| match &c.default {
            None => Ok(None),
            Some(text) => {
                let e = parse_expr(text)?;
                Ok(Some(binder.bind_expr(&e, &Scope::default())?))
            }
        })
        .collect::<Result<Vec<_>>>();
    binder.vars = saved;
    let defaults = defaults?;
    let checks = bind_checks(binder, &t)?;
    let qual = ins.table_alias.as_ref().map(ident_name).unwrap_or_else(|| t.name.clone());
    let scope = table_scope(&t, &qual);
    let on_conflict = match &ins.on {
        None => None,
        Some(ast::OnInsert::OnConflict(oc)) => {
            let target = match &oc.conflict_target {
                None => None,
                Some(ast::ConflictTarget::Columns(cs)) => {
                    let mut idx = Vec::new();
                    for c in cs {
                        let n = ident_name(c);
                        idx.push(
                            t.column_index(&n)
                                .ok_or_else(|| SqlError::UnknownColumn { name: n, pos: plan::pos_of(c.span) })?,
                        );
                    }
                    let mut sorted = idx.clone();
                    sorted.sort_unstable();
                    let same = |cols: &[usize]| {
                        let mut c = cols.to_vec();
                        c.sort_unstable();
                        c == sorted
                    };
                    if !t.primary_key.is_empty() && same(&t.primary_key) {
                        Some(None)
                    } else if let Some(i) = t.indexes.iter().position(|ix| ix.unique && same(&ix.columns)) {
                        Some(Some(i))
                    } else {
                        return Err(SqlError::Syntax {
                            message:
                                "there is no unique or primary key constraint matching the ON CONFLICT specification"
                                    .into(),
                            pos: Pos::UNKNOWN,
                        });
                    }
                }
                Some(ast::ConflictTarget::OnConstraint(_)) => return unsupported("ON CONFLICT ON CONSTRAINT"),
            };
            let update = match &oc.action {
                ast::OnConflictAction::DoNothing => None,
                ast::OnConflictAction::DoUpdate(du) => {
                    if target.is_none() {
                        return Err(SqlError::Syntax {
                            message: "ON CONFLICT DO UPDATE requires a conflict target".into(),
                            pos: Pos::UNKNOWN,
                        });
                    }
                    let mut both = scope.clone();
                    both.cols.extend(table_scope(&t, "excluded").cols);
                    let mut assigns = Vec::new();
                    for a in &du.assignments {
                        let col = match &a.target {
                            ast::AssignmentTarget::ColumnName(n) => object_parts(n)?.pop().unwrap_or_default(),
                            _ => return unsupported("tuple assignment"),
                        };
                        let i = t
                            .column_index(&col)
                            .ok_or_else(|| SqlError::UnknownColumn { name: col.clone(), pos: Pos::UNKNOWN })?;
                        assigns.push((i, binder.bind_expr(&a.value, &both)?));
                    }
                    let sel = match &du.selection {
                        Some(e) => Some(binder.bind_expr(e, &both)?),
                        None => None,
                    };
                    Some((assigns, sel))
                }
            };
            Some(OnConflictPlan { target, update })
        }
        Some(_) => return unsupported("ON DUPLICATE KEY"),
    };
    let returning = bind_returning(binder, &ins.returning, &scope)?.map(|r| r.0);
    Ok(Bound::Insert(Box::new(InsertPlan {
        table: t,
        columns,
        source: plan,
        defaults,
        checks,
        on_conflict,
        returning,
    })))
}

// ----- executing statements -----

pub(crate) fn exec_bound(b: &Bound, cx: &mut Cx<'_>) -> Result<QueryResult> {
    cx.gas.charge(cx.schedule.statement)?;
    cx.sub_cache.clear();
    match b {
        Bound::Query { plan, cols } => {
            let rows = exec::run(plan, &[], cx, None)?;
            cx.gas.charge(
                rows.iter()
                    .map(|r| {
                        cx.schedule.row_result
                            + cx.schedule.byte_result * r.iter().map(types::value_size).sum::<usize>() as u64
                    })
                    .sum(),
            )?;
            Ok(QueryResult {
                columns: cols.iter().map(|c| c.name.clone()).collect(),
                column_types: cols.iter().map(|c| c.ty).collect(),
                rows_affected: rows.len() as u64,
                rows,
                notices: vec![],
            })
        }
        Bound::Insert(p) => exec_insert(p, cx),
        Bound::Update(p) => exec_update(p, cx),
        Bound::Delete(p) => exec_delete(p, cx),
        Bound::Ddl(stmt) => {
            crate::ddl::exec_ddl(stmt, cx)?;
            Ok(QueryResult::default())
        }
        Bound::CreateFunction(src) => {
            plpgsql::create_function(src, cx)?;
            Ok(QueryResult::default())
        }
    }
}

fn returning_row(ret: &Option<Vec<Expr>>, row: &[Value], cx: &mut Cx<'_>, out: &mut Vec<Row>) -> Result<()> {
    if let Some(exprs) = ret {
        let mut r = Vec::with_capacity(exprs.len());
        for e in exprs {
            r.push(eval(e, row, cx)?);
        }
        out.push(r);
    }
    Ok(())
}

fn exec_insert(p: &InsertPlan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let t = &p.table;
    cx.check_write(t)?;
    let rows = exec::run(&p.source, &[], cx, None)?;
    let mut affected = 0u64;
    let mut returned = Vec::new();
    for src in rows {
        let mut row = Vec::with_capacity(t.columns.len());
        for d in &p.defaults {
            row.push(match d {
                Some(e) => eval(e, &[], cx)?,
                None => Value::Null,
            });
        }
        for (v, &c) in src.into_iter().zip(&p.columns) {
            row[c] = v;
        }
        for (i, c) in t.columns.iter().enumerate() {
            row[i] = types::assign(std::mem::replace(&mut row[i], Value::Null), c.ty, &c.name)?;
        }
        exec::check_row(cx, t, &p.checks, &row)?;
        let pk = exec::row_key(cx, t, &row)?;
        match exec::find_conflict(cx, t, &row, &pk, true, None)? {
            None => {
                exec::write_row(cx, t, pk, &row)?;
                affected += 1;
                returning_row(&p.returning, &row, cx, &mut returned)?;
            }
            Some((which, existing_pk)) => {
                let oc = match &p.on_conflict {
                    Some(oc) if oc.target.is_none() || oc.target == Some(which) => oc,
                    _ => return Err(exec::conflict_error(t, which)),
                };
                let Some((assigns, sel)) = &oc.update else { continue };
                let bytes = cx
                    .get(&t.store_name(), &existing_pk)?
                    .ok_or_else(|| crate::expr::internal("conflicting row vanished"))?;
                let old = aergo_store::codec::decode_row(&bytes)?;
                let mut both = old.clone();
                both.extend(row.iter().cloned());
                if let Some(s) = sel {
                    if types::truth(&eval(s, &both, cx)?)? != Some(true) {
                        continue;
                    }
                }
                let mut new = old.clone();
                for (c, e) in assigns {
                    new[*c] = types::assign(eval(e, &both, cx)?, t.columns[*c].ty, &t.columns[*c].name)?;
                }
                exec::check_row(cx, t, &p.checks, &new)?;
                exec::replace_row(cx, t, &existing_pk, &old, &new)?;
                affected += 1;
                returning_row(&p.returning, &new, cx, &mut returned)?;
            }
        }
    }
    Ok(QueryResult { rows_affected: affected, rows: returned, ..Default::default() })
}

fn exec_update(p: &UpdatePlan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let t = &p.scan.table;
    cx.check_write(t)?;
    // Read every target row first, so rows moved by the update are not
    // visited twice.
    let matches = exec::scan_rows(&p.scan, &[], cx, None)?;
    let mut returned = Vec::new();
    let n = matches.len() as u64;
    for (pk, old) in matches {
        let mut new = old.clone();
        for (c, e) in &p.assignments {
            new[*c] = types::assign(eval(e, &old, cx)?, t.columns[*c].ty, &t.columns[*c].name)?;
        }
        exec::check_row(cx, t, &p.checks, &new)?;
        exec::replace_row(cx, t, &pk, &old, &new)?;
        returning_row(&p.returning, &new, cx, &mut returned)?;
    }
    Ok(QueryResult { rows_affected: n, rows: returned, ..Default::default() })
}

fn exec_delete(p: &DeletePlan, cx: &mut Cx<'_>) -> Result<QueryResult> {
    let t = &p.scan.table;
    cx.check_write(t)?;
    let matches = exec::scan_rows(&p.scan, &[], cx, None)?;
    let mut returned = Vec::new();
    let n = matches.len() as u64;
    for (pk, row) in matches {
        exec::remove_row(cx, t, &pk, &row)?;
        returning_row(&p.returning, &row, cx, &mut returned)?;
    }
    Ok(QueryResult { rows_affected: n, rows: returned, ..Default::default() })
}

// Re-exported for ddl.rs.
pub(crate) use crate::catalog::lookup as catalog_lookup;

pub(crate) fn new_table_def(
    schema: &str,
    name: &str,
    columns: Vec<ColumnDef>,
    primary_key: Vec<usize>,
    indexes: Vec<IndexDef>,
    checks: Vec<CheckDef>,
) -> TableDef {
    TableDef { schema: schema.into(), name: name.into(), columns, primary_key, indexes, checks }
}

pub(crate) fn view_def(schema: &str, name: &str, columns: Vec<String>, query: String) -> ViewDef {
    ViewDef { schema: schema.into(), name: name.into(), columns, query }
}

pub(crate) fn relation_kind(r: &Relation) -> &'static str {
    match r {
        Relation::Table(_) => "table",
        Relation::View(_) => "view",
        Relation::Index { .. } => "index",
    }
}
