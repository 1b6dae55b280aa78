//! Static access analysis: which (table, key or key range) a prepared
//! statement or a function call may read and write, given its arguments.
//!
//! Keys are computed exactly when they depend only on constants,
//! parameters and function arguments; anything computed from rows read
//! (join keys, PL/pgSQL variables assigned from queries, hidden row ids,
//! index entries of changed rows) falls back to the whole table. Nested
//! function calls are analysed with unknown arguments. The result is a
//! superset of what any execution touches; a test checks this against the
//! accesses actually recorded.

use aergo_store::{Hash, Snapshot, Store, TableStore, Value};

use crate::access::{AccessSet, KeyAccess};
use crate::catalog::TableDef;
use crate::context::ExecContext;
use crate::engine::Engine;
use crate::error::Result;
use crate::gas::Gas;
use crate::ir::{function_exprs, function_statements, Access, Bound, Dep, Expr, Plan, Scan};
use crate::run::cx::Cx;
use crate::run::eval::eval;
use crate::run::scan::{key_range, KeyRange};
use crate::types;

/// Deepest chain of nested function calls analysed before giving up and
/// reporting "conflicts with everything".
const MAX_ANALYSIS_DEPTH: usize = 8;

struct Known<'a> {
    engine: &'a Engine,
    store: &'a dyn TableStore,
    ctx: &'a ExecContext,
    params: &'a [Value],
    vars: &'a [Option<Value>],
    depth: usize,
}

/// An empty store, shared by every analysis: evaluating a constant key
/// expression reads nothing, and anything that tried to write would fail
/// (a snapshot is read-only). One per process because the parallel
/// executor analyses every call of a block, and making a store allocates.
fn empty_store() -> &'static Store {
    static EMPTY: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Store::memory)
}

impl Known<'_> {
    /// The value of an expression if it can be known before running.
    fn value(&self, e: &Expr) -> Option<Value> {
        let mut ok = true;
        e.walk(&mut |x| match x {
            Expr::Col(_)
            | Expr::Outer(..)
            | Expr::UserFunc { .. }
            | Expr::Host { .. }
            | Expr::Scalar(_)
            | Expr::Exists { .. } => ok = false,
            Expr::InSubquery { .. } | Expr::Quantified { .. } => ok = false,
            Expr::Var(s) if self.vars.get(*s).cloned().flatten().is_none() => ok = false,
            Expr::Param(i) if *i >= self.params.len() => ok = false,
            _ => {}
        });
        if !ok {
            return None;
        }
        self.with_cx(|cx| eval(e, &[], cx)).ok()
    }

    fn with_cx<T>(&self, f: impl FnOnce(&mut Cx<'_>) -> Result<T>) -> Result<T> {
        let mut dummy = Snapshot::open(empty_store(), Hash::ZERO);
        let mut gas = Gas::new(1_000_000);
        let mut cx = self.engine.cx(&mut dummy, self.ctx, &mut gas, self.params.to_vec());
        cx.vars = self.vars.iter().map(|v| v.clone().unwrap_or(Value::Null)).collect();
        f(&mut cx)
    }

    fn access_exprs_static(&self, a: &Access) -> bool {
        let mut ok = true;
        let mut check = |e: &Expr| {
            if self.value(e).is_none() {
                ok = false;
            }
        };
        match a {
            Access::Full { .. } => {}
            Access::Range { eq, lower, upper, .. } => {
                eq.iter().for_each(&mut check);
                if let Some((e, _)) = lower {
                    check(e);
                }
                if let Some((e, _)) = upper {
                    check(e);
                }
            }
            Access::InList { values, .. } => values.iter().for_each(check),
        }
        ok
    }

    /// What a scan reads from the main table (and its index), as the key
    /// accesses on the main table.
    fn scan(&self, scan: &Scan, set: &mut AccessSet) -> Result<KeyAccess> {
        let t = &scan.table;
        let main = t.store_name();
        if let Some(f) = &scan.filter {
            self.expr(f, set)?;
        }
        if !self.access_exprs_static(&scan.access) {
            if let Access::Range { index: Some(i), .. } | Access::InList { index: Some(i), .. } = &scan.access {
                set.read(&t.index_store_name(&t.indexes[*i]), KeyAccess::Table);
            }
            set.read(main, KeyAccess::Table);
            return Ok(KeyAccess::Table);
        }
        let ka = match &scan.access {
            Access::Full { .. } => KeyAccess::Table,
            Access::InList { index: None, values, key_type } if t.primary_key.len() == 1 => {
                for v in values {
                    if let Some(kv) = self.value(v).and_then(|v| types::assign(v, *key_type, "key").ok()) {
                        set.read(main, KeyAccess::Key(aergo_store::codec::encode_key(&[kv])));
                    }
                }
                // Writes through an IN list are reported for the whole table.
                return Ok(KeyAccess::Table);
            }
            Access::InList { index, .. } => {
                if let Some(i) = index {
                    set.read(&t.index_store_name(&t.indexes[*i]), KeyAccess::Table);
                }
                KeyAccess::Table
            }
            Access::Range { index, eq, .. } => {
                let r = self.with_cx(|cx| key_range(&scan.access, &[], cx))?;
                match (r, index) {
                    (KeyRange::Empty, _) => {
                        return Ok(KeyAccess::Range(
                            std::ops::Bound::Excluded(vec![]),
                            std::ops::Bound::Excluded(vec![]),
                        ))
                    }
                    (KeyRange::Full, Some(i)) => {
                        set.read(&t.index_store_name(&t.indexes[*i]), KeyAccess::Table);
                        KeyAccess::Table
                    }
                    (KeyRange::Full, None) => KeyAccess::Table,
                    (KeyRange::Bytes(lo, hi), Some(i)) => {
                        set.read(&t.index_store_name(&t.indexes[*i]), KeyAccess::Range(lo, hi));
                        KeyAccess::Table
                    }
                    (KeyRange::Bytes(lo, hi), None) => {
                        if eq.len() == t.primary_key.len() && !t.primary_key.is_empty() {
                            match lo {
                                std::ops::Bound::Included(k) => KeyAccess::Key(k),
                                other => KeyAccess::Range(other, hi),
                            }
                        } else {
                            KeyAccess::Range(lo, hi)
                        }
                    }
                }
            }
        };
        set.read(main, ka.clone());
        Ok(ka)
    }

    fn expr(&self, e: &Expr, set: &mut AccessSet) -> Result<()> {
        let mut subs = Vec::new();
        let mut calls = Vec::new();
        e.walk(&mut |x| match x {
            Expr::InSubquery { sub, .. }
            | Expr::Quantified { sub, .. }
            | Expr::Exists { sub, .. }
            | Expr::Scalar(sub) => subs.push(sub.plan.clone()),
            Expr::UserFunc { store_name, .. } => calls.push(store_name.clone()),
            // A host function may touch anything (balances, other contracts).
            Expr::Host { .. } => set.catalog_write = true,
            _ => {}
        });
        for p in subs {
            // Inside a subquery, keys from the outer row are unknown.
            self.plan(&p, set)?;
        }
        for c in calls {
            set.merge(function_access(self.engine, self.store, self.ctx, &c, None, self.depth + 1)?);
        }
        Ok(())
    }

    fn plan(&self, p: &Plan, set: &mut AccessSet) -> Result<()> {
        match p {
            Plan::Values { rows } => {
                for r in rows {
                    for e in r {
                        self.expr(e, set)?;
                    }
                }
            }
            Plan::Scan(s) => {
                self.scan(s, set)?;
            }
            Plan::Join { left, right, cond, hash, .. } => {
                self.plan(left, set)?;
                self.plan(right, set)?;
                for e in hash.iter().flat_map(|h| h.left.iter().chain(&h.right)) {
                    self.expr(e, set)?;
                }
                if let Some(c) = cond {
                    self.expr(c, set)?;
                }
            }
            Plan::Filter { input, pred } => {
                self.plan(input, set)?;
                self.expr(pred, set)?;
            }
            Plan::Project { input, exprs } => {
                self.plan(input, set)?;
                for e in exprs {
                    self.expr(e, set)?;
                }
            }
            Plan::Aggregate { input, group_by, aggs } => {
                self.plan(input, set)?;
                for e in group_by {
                    self.expr(e, set)?;
                }
                for a in aggs {
                    if let Some(e) = &a.arg {
                        self.expr(e, set)?;
                    }
                }
            }
            Plan::Sort { input, keys } => {
                self.plan(input, set)?;
                for k in keys {
                    self.expr(&k.expr, set)?;
                }
            }
            Plan::Distinct { input } => self.plan(input, set)?,
            Plan::Limit { input, .. } => self.plan(input, set)?,
            Plan::SetOp { left, right, .. } => {
                self.plan(left, set)?;
                self.plan(right, set)?;
            }
        }
        Ok(())
    }

    fn index_tables(&self, t: &TableDef, set: &mut AccessSet) {
        for ix in &t.indexes {
            let n = t.index_store_name(ix);
            set.read(&n, KeyAccess::Table);
            set.write(&n, KeyAccess::Table);
        }
    }

    fn statement(&self, b: &Bound) -> Result<AccessSet> {
        let mut set = AccessSet::default();
        match b {
            Bound::Query { plan, .. } | Bound::ExplainAnalyze { plan } => self.plan(plan, &mut set)?,
            Bound::Ddl(_) | Bound::CreateFunction(_) => set.catalog_write = true,
            Bound::Insert(p) => {
                let t = &p.table;
                self.plan(&p.source, &mut set)?;
                for d in p.defaults.iter().flatten() {
                    self.expr(d, &mut set)?;
                }
                for (_, c) in &p.checks {
                    self.expr(c, &mut set)?;
                }
                let main = t.store_name();
                // Exact keys when every inserted row is known up front.
                let mut keys = Vec::new();
                let mut exact = !t.has_rowid();
                if let (true, Plan::Values { rows }) = (exact, &p.source) {
                    for r in rows {
                        let mut full: Vec<Option<Value>> = p
                            .defaults
                            .iter()
                            .map(|d| d.as_ref().map_or(Some(Value::Null), |e| self.value(e)))
                            .collect();
                        for (e, &c) in r.iter().zip(&p.columns) {
                            full[c] = self.value(e);
                        }
                        let mut pk = Vec::new();
                        for &c in &t.primary_key {
                            match full[c].clone().and_then(|v| types::assign(v, t.columns[c].ty, "key").ok()) {
                                Some(v) => pk.push(v),
                                None => exact = false,
                            }
                        }
                        keys.push(aergo_store::codec::encode_key(&pk));
                    }
                } else {
                    exact = false;
                }
                if exact {
                    for k in keys {
                        set.read(main, KeyAccess::Key(k.clone()));
                        set.write(main, KeyAccess::Key(k));
                    }
                } else {
                    set.read(main, KeyAccess::Table);
                    set.write(main, KeyAccess::Table);
                }
                if let Some(oc) = &p.on_conflict {
                    if let Some((assigns, sel)) = &oc.update {
                        for (_, e) in assigns {
                            self.expr(e, &mut set)?;
                        }
                        if let Some(s) = sel {
                            self.expr(s, &mut set)?;
                        }
                    }
                }
                self.index_tables(t, &mut set);
            }
            Bound::Update(p) => {
                let t = &p.scan.table;
                let ka = self.scan(&p.scan, &mut set)?;
                for (_, e) in &p.assignments {
                    self.expr(e, &mut set)?;
                }
                for (_, c) in &p.checks {
                    self.expr(c, &mut set)?;
                }
                let moves_key = p.assignments.iter().any(|(c, _)| t.primary_key.contains(c));
                let main = t.store_name();
                if moves_key {
                    set.read(main, KeyAccess::Table);
                    set.write(main, KeyAccess::Table);
                } else {
                    set.write(main, ka);
                }
                self.index_tables(t, &mut set);
            }
            Bound::Delete(p) => {
                let t = &p.scan.table;
                let ka = self.scan(&p.scan, &mut set)?;
                set.write(t.store_name(), ka);
                self.index_tables(t, &mut set);
            }
        }
        Ok(set)
    }
}

/// Reads that checking a plan's dependencies makes before it runs: each
/// table whose size class the plan depends on is counted, which reads the
/// whole table (any write to it may change the count).
pub(crate) fn plan_dependency_reads(deps: &[Dep], set: &mut AccessSet) {
    for d in deps {
        if let Dep::Rows { table, .. } = d {
            set.read(table, KeyAccess::Table);
        }
    }
}

pub(crate) fn statement_access(
    engine: &Engine,
    store: &dyn TableStore,
    ctx: &ExecContext,
    b: &Bound,
    params: &[Value],
    vars: &[Option<Value>],
    depth: usize,
) -> Result<AccessSet> {
    Known { engine, store, ctx, params, vars, depth }.statement(b)
}

/// Accesses of calling function `sname`; `args` None = unknown arguments.
pub(crate) fn function_access(
    engine: &Engine,
    store: &dyn TableStore,
    ctx: &ExecContext,
    sname: &str,
    args: Option<&[Value]>,
    depth: usize,
) -> Result<AccessSet> {
    let mut set = AccessSet::default();
    if depth > MAX_ANALYSIS_DEPTH {
        set.catalog_write = true;
        return Ok(set);
    }
    let f = engine.function(store, sname)?;
    let mut vars: Vec<Option<Value>> = vec![None; f.param_count() + 1];
    let params: Vec<Value> = match args {
        Some(a) => {
            for (i, (v, (n, ty, _))) in a.iter().zip(&f.src.params).enumerate() {
                vars[i + 1] = types::assign(v.clone(), *ty, n).ok();
            }
            a.to_vec()
        }
        None => vec![],
    };
    plan_dependency_reads(&f.deps, &mut set);
    let k = Known { engine, store, ctx, params: &params, vars: &vars, depth };
    for b in function_statements(&f) {
        set.merge(k.statement(b)?);
    }
    for e in function_exprs(&f) {
        k.expr(e, &mut set)?;
    }
    Ok(set)
}
