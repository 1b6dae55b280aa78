//! The public face of the engine: [`Engine`] (configuration and the cache
//! of compiled functions) and [`Prepared`] statements, execution with
//! atomicity, stored-function calls and signatures; and the
//! [`FunctionSource`] the runtime reaches the compile wing through.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aergo_store::{Savepoint, TableStore, Value};
use sqlparser::ast;

use crate::access::AccessSet;
use crate::catalog::{self, TableDef};
use crate::compile::{self, function_decl::parse_create_function, parse::split_statements};
use crate::context::{
    Call, EngineConfig, ExecContext, FunctionParam, FunctionSignature, JoinOrder, Limits, QueryResult,
};
use crate::error::{internal, Pos, Result, SqlError};
use crate::gas::Gas;
use crate::host::{Host, Hosted};
use crate::ir::{size_class, Bound, CompiledFunction, Dep, Deps, Expr, FunctionDecl, Lang, OutCol};
use crate::run::{self, cx::Cx, cx::FunctionSource, host::HostCall};
use crate::types;

/// A statement parsed, checked and planned once, executed many times.
#[derive(Clone, Debug)]
pub struct Prepared {
    engine: Engine,
    sql: String,
    default_schema: String,
    pub(crate) bound: Bound,
    pub(crate) deps: Deps,
    join_order: JoinOrder,
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

    /// The statically known accesses of this statement with `params`, as
    /// it would run on `store` now.
    pub fn access_set(&self, store: &dyn TableStore, ctx: &ExecContext, params: &[Value]) -> Result<AccessSet> {
        let replanned = self.replan_if_stale(store, ctx)?;
        let (bound, deps) = replanned.as_ref().map_or((&self.bound, &self.deps), |(b, d)| (b, d));
        let mut set = crate::analysis::statement_access(&self.engine, store, ctx, bound, params, &[], 0)?;
        crate::analysis::plan_dependency_reads(deps, &mut set);
        Ok(set)
    }

    /// A new plan when what this one was made for no longer holds on
    /// `store` (the catalogue changed, a joined table changed size class,
    /// another default schema); `None` when this plan stands.
    fn replan_if_stale(&self, store: &dyn TableStore, ctx: &ExecContext) -> Result<Option<(Bound, Deps)>> {
        if self.default_schema == ctx.default_schema && !deps_stale(store, &self.deps)? {
            return Ok(None);
        }
        compile::bind_text(store, &ctx.default_schema, &self.sql, None, self.join_order).map(Some)
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Whether the statement is a query (SELECT, VALUES, a set operation)
    /// rather than a write or DDL.
    pub fn is_query(&self) -> bool {
        matches!(self.bound, Bound::Query { .. } | Bound::ExplainAnalyze { .. })
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

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        Engine { inner: Arc::new(EngineInner { config, functions: Mutex::new(BTreeMap::new()) }) }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Parses, checks and plans one statement.
    pub fn prepare(&self, store: &dyn TableStore, ctx: &ExecContext, sql: &str) -> Result<Prepared> {
        self.prepare_with_order(store, ctx, sql, JoinOrder::Planned)
    }

    /// [`Engine::prepare`] with the inner joins ordered as `order` says
    /// (FROM order, for comparing the planner with the query as written).
    pub fn prepare_with_order(
        &self,
        store: &dyn TableStore,
        ctx: &ExecContext,
        sql: &str,
        order: JoinOrder,
    ) -> Result<Prepared> {
        if sql.len() > self.inner.config.limits.max_sql_bytes {
            return Err(SqlError::LimitExceeded {
                what: "SQL text bytes",
                limit: self.inner.config.limits.max_sql_bytes as u64,
            });
        }
        let (bound, deps) = compile::bind_text(store, &ctx.default_schema, sql, None, order)?;
        Ok(Prepared {
            engine: self.clone(),
            sql: sql.to_string(),
            default_schema: ctx.default_schema.clone(),
            bound,
            deps,
            join_order: order,
        })
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
        let r = run::plpgsql::call_user_function(&sname, args.to_vec(), &mut cx);
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
        let mut hosted = host.map(|host| Hosted { engine: self, host });
        let mut cx = self.cx(store, ctx, gas, vec![]);
        cx.host = hosted.as_mut().map(|h| h as &mut dyn HostCall);
        cx.call_depth = call.call_depth;
        let r = run::plpgsql::call_user_function(&sname, call.args, &mut cx);
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
        let signature = |src: &FunctionDecl| FunctionSignature {
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
                Lang::PlPgSql => "plpgsql",
                Lang::Sql => "sql",
            },
        };
        // The compiled form is cached; a body that does not compile (it
        // names objects that do not exist) still has a signature.
        match self.function(store, &sname) {
            Ok(f) => Ok(signature(&f.src)),
            Err(_) => {
                let def = catalog::decode_function(&meta.schema, &sname)?;
                Ok(signature(&parse_create_function(&def.source, &def.schema)?))
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
        let unknown = || SqlError::UnknownFunction { name: name.into(), arity: 0, pos: Pos::UNKNOWN };
        let mut parts = name.split('.');
        let (schema, fname) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), None, None) => (ctx.default_schema.as_str(), n),
            (Some(s), Some(n), None) => (s, n),
            _ => return Err(unknown()),
        };
        Ok(catalog::function_store_name(&schema.to_lowercase(), &fname.to_lowercase()))
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
            functions: self,
            params,
            vars: Vec::new(),
            outer: Vec::new(),
            sub_cache: BTreeMap::new(),
            profile: None,
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
        let replanned = p.replan_if_stale(&*store, ctx)?;
        let bound = replanned.as_ref().map_or(&p.bound, |(b, _)| b);
        let sp = store.savepoint();
        let mut hosted = host.map(|host| Hosted { engine: self, host });
        let mut cx = self.cx(store, ctx, gas, params.to_vec());
        cx.host = hosted.as_mut().map(|h| h as &mut dyn HostCall);
        let r = run::exec_bound(bound, &mut cx).and_then(|mut res| {
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
            let cache = self.inner.functions.lock().map_err(|_| internal("function cache poisoned"))?;
            if let Some(f) = cache.get(sname) {
                if f.meta == meta.schema && !deps_stale(store, &f.deps)? {
                    return Ok(f.clone());
                }
            }
        }
        let def = catalog::decode_function(&meta.schema, sname)?;
        let compiled = Arc::new(compile::plpgsql::compile(store, &def, meta.schema.clone())?);
        let mut cache = self.inner.functions.lock().map_err(|_| internal("function cache poisoned"))?;
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

pub(crate) fn deps_stale(store: &dyn TableStore, deps: &[Dep]) -> Result<bool> {
    for d in deps {
        let holds = match d {
            Dep::Schema { table, blob } => store.table(table)?.is_some_and(|m| m.schema == *blob),
            Dep::Rows { table, class } => store.table(table)?.is_some() && size_class(store.count(table)?) == *class,
        };
        if !holds {
            return Ok(true);
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

/// The runtime reaches the compile wing only through here.
impl FunctionSource for Engine {
    fn compiled_function(&self, store: &dyn TableStore, sname: &str) -> Result<Arc<CompiledFunction>> {
        self.function(store, sname)
    }

    fn check_function(&self, store: &dyn TableStore, decl: &FunctionDecl) -> Result<()> {
        compile::plpgsql::compile_source(store, decl, Vec::new()).map(|_| ())
    }

    fn bind_scalar(&self, store: &dyn TableStore, schema: &str, text: &str, table: Option<&TableDef>) -> Result<Expr> {
        compile::bind_scalar(store, schema, text, table)
    }

    fn bind_view(&self, store: &dyn TableStore, schema: &str, query: &ast::Query) -> Result<Vec<OutCol>> {
        compile::bind_view(store, schema, query)
    }
}
