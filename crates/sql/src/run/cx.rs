//! The execution context [`Cx`], and [`FunctionSource`]: what the runtime
//! asks of the engine above it instead of importing it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::rc::Rc;
use std::sync::Arc;

use aergo_store::{Direction, TableStore, Value};
use sqlparser::ast;

use crate::catalog::TableDef;
use crate::context::{ExecContext, Limits};
use crate::error::{Result, SqlError};
use crate::gas::{Gas, GasSchedule};
use crate::ir::{CompiledFunction, Expr, FunctionDecl, OutCol, Row};

use super::host::HostCall;

/// What execution needs that only the compile wing can give: compiled
/// functions, and binding at run time (DDL checks expressions and views
/// against the catalogue as it is then). The engine implements it; the
/// runtime holds it as a trait object, so `run/` never imports `compile/`.
pub(crate) trait FunctionSource {
    /// The compiled form of stored function `sname` (its store name),
    /// compiled on first use and cached until its catalogue entry changes.
    fn compiled_function(&self, store: &dyn TableStore, sname: &str) -> Result<Arc<CompiledFunction>>;
    /// Compiles a `CREATE FUNCTION` body to report its errors.
    fn check_function(&self, store: &dyn TableStore, decl: &FunctionDecl) -> Result<()>;
    /// Binds the text of a DEFAULT or CHECK expression, against the
    /// columns of `table` if given.
    fn bind_scalar(&self, store: &dyn TableStore, schema: &str, text: &str, table: Option<&TableDef>) -> Result<Expr>;
    /// Binds a view's query: its result columns.
    fn bind_view(&self, store: &dyn TableStore, schema: &str, query: &ast::Query) -> Result<Vec<OutCol>>;
}

/// What one plan operator did under EXPLAIN ANALYZE, over all its runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpStats {
    /// Times the operator ran (a correlated side runs once per outer row).
    pub loops: u64,
    /// Rows it returned, over all runs.
    pub rows: u64,
    /// Gas used while it ran, its inputs' included.
    pub gas: u64,
}

/// The state of one execution: store, context, gas, parameters, PL/pgSQL
/// variables, outer rows of correlated subqueries.
pub struct Cx<'a> {
    pub store: &'a mut dyn TableStore,
    pub ctx: &'a ExecContext,
    pub gas: &'a mut Gas,
    pub schedule: &'a GasSchedule,
    pub limits: &'a Limits,
    /// What the runtime needs from the engine: compiled functions and
    /// binding at run time (DDL).
    pub functions: &'a dyn FunctionSource,
    pub params: Vec<Value>,
    pub vars: Vec<Value>,
    pub outer: Vec<Row>,
    pub sub_cache: BTreeMap<usize, Rc<Vec<Row>>>,
    /// What each plan operator did, while EXPLAIN ANALYZE runs a query:
    /// keyed by the operator's address in the plan being run (only looked
    /// up while walking that plan, never iterated).
    pub profile: Option<BTreeMap<usize, OpStats>>,
    pub call_depth: usize,
    pub notices: Vec<String>,
    /// Provider of `aergo_*` host functions, if any (see [`crate::host`]).
    pub host: Option<&'a mut dyn HostCall>,
}

impl Cx<'_> {
    pub fn check_write(&self, table: &TableDef) -> Result<()> {
        if self.ctx.read_only {
            return Err(SqlError::ReadOnly { statement: format!("writing table {}.{}", table.schema, table.name) });
        }
        self.check_schema_write(&table.schema)
    }

    pub fn check_schema_write(&self, schema: &str) -> Result<()> {
        if self.ctx.read_only {
            return Err(SqlError::ReadOnly { statement: format!("changing schema {schema}") });
        }
        if let Some(allowed) = &self.ctx.writable_schemas {
            if !allowed.iter().any(|s| s == schema) {
                return Err(SqlError::WriteDenied { schema: schema.into() });
            }
        }
        Ok(())
    }

    fn read_charge(&mut self, bytes: usize) -> Result<()> {
        self.gas.charge(self.schedule.row_read + self.schedule.byte_read * bytes as u64)
    }

    pub fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let v = self.store.get(table, key)?;
        self.read_charge(key.len() + v.as_ref().map_or(0, |v| v.len()))?;
        Ok(v)
    }

    pub fn put(&mut self, table: &str, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.gas.charge(self.schedule.row_write + self.schedule.byte_write * (key.len() + value.len()) as u64)?;
        self.store.put(table, key, value)?;
        Ok(())
    }

    pub fn delete(&mut self, table: &str, key: &[u8]) -> Result<()> {
        self.gas.charge(self.schedule.row_write + self.schedule.byte_write * key.len() as u64)?;
        self.store.delete(table, key)?;
        Ok(())
    }

    /// Reads up to `max` entries of `[lower, upper]` in `dir`.
    pub fn range_chunk(
        &mut self,
        table: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        {
            let it = self.store.range(table, lower, upper, dir)?;
            for entry in it.take(max) {
                out.push(entry?);
            }
        }
        for (k, v) in &out {
            self.read_charge(k.len() + v.len())?;
        }
        Ok(out)
    }

    /// Charges for `bytes` that execution created (see the gas schedule's
    /// `byte_materialize`).
    pub(crate) fn charge_created(&mut self, bytes: usize) -> Result<()> {
        self.gas.charge(self.schedule.byte_materialize.saturating_mul(bytes as u64))
    }

    /// Checks the bytes one operator's output holds against
    /// [`Limits::max_operator_bytes`].
    pub(crate) fn check_bytes(&self, bytes: usize) -> Result<()> {
        if bytes > self.limits.max_operator_bytes {
            return Err(SqlError::LimitExceeded {
                what: "bytes held by one operator",
                limit: self.limits.max_operator_bytes as u64,
            });
        }
        Ok(())
    }

    pub(crate) fn check_rows(&self, n: usize) -> Result<()> {
        if n > self.limits.max_intermediate_rows {
            return Err(SqlError::LimitExceeded {
                what: "rows held by one operator",
                limit: self.limits.max_intermediate_rows as u64,
            });
        }
        Ok(())
    }
}
