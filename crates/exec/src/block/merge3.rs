//! Consensual merges: a three-way, row-level merge of a branch's state into
//! the branch it forked from.
//!
//! # How it works
//!
//! The base is the source's state when it was forked or last merged
//! (`sys.branches.fork_root`), *ours* the target's state as this block left
//! it so far, *theirs* the source's. `Store::merge3_state` walks the two
//! diffs against the base: a row changed on one side only is taken from
//! that side; a row changed on both sides differently is a conflict,
//! settled here:
//!
//! - `sys.accounts` (native balances) is not merged row by row at all:
//!   every account the source changed gets balance = ours + the source's
//!   delta (base + both sides' deltas; two identical changes, the same
//!   transfer made on each side, count twice, as they are two transfers),
//!   nonce = ours (the target's own sequence); the merge creates and
//!   destroys no token (the supply is checked after every merge), and a
//!   balance that would go negative fails it. An account both sides
//!   changed is reported as a settled conflict.
//! - any other system table: the merge fails (no rule can be right for
//!   governance or the contract catalogue).
//! - a contract table: the source's resolver function, named by its merge
//!   policy (`resolver:CONTRACT.FUNCTION`), is called read-only on ours as
//!   `FUNCTION(table TEXT, key TEXT, base TEXT, ours TEXT, theirs TEXT)
//!   RETURNS TEXT`, with rows as JSON arrays of their columns (NULL where
//!   the row is absent, the key as the JSON array of the primary key), and
//!   returns the row to keep as a JSON array or NULL to delete it. A row
//!   with the wrong column count, types or key, or a resolver that fails
//!   or runs out of gas (it has one transaction's gas cap for the whole
//!   merge), fails the merge. Without a resolver, a conflict fails it.
//!
//! Schema changes on both sides (or a drop on one and a change on the
//! other) fail the merge. Tables the merge changed are mounted into the
//! target's overlay (O(1) each); secondary indexes are not merged but
//! maintained from the merged rows' changes against ours (O(changes)),
//! unique ones checked again. The conflicts and their resolutions go in
//! the merge's receipt (`mergeConflict [table, key, resolution]`).

use std::collections::BTreeSet;

use aergo_sql::catalog::{decode_relation, Relation, TableDef};
use aergo_store::codec::{decode_key, decode_row, encode_key, encode_row};
use aergo_store::{Conflict, Resolution, Snapshot, Store, TableMeta, TableStore, Value};
use aergo_types::payload::{encode_call_payload, MergePolicy};
use aergo_types::{Address, Amount, Hash};

use super::branch_calls::RegistryEvent;
use super::BlockBuilder;
use crate::branches::{self, BranchInfo};
use crate::contract::value_to_json_value;
use crate::query::{query_call, QueryContext};
use crate::{rows, system, ExecError};

/// An encoded key and the encoded row to write there.
type KeyRow = (Vec<u8>, Vec<u8>);

/// Most conflicts one consensual merge settles.
pub const MAX_MERGE_CONFLICTS: usize = 1_000;

/// Tables a merge never takes from the source: the main-only registry,
/// branch states, the source's own log, and secondary indexes (maintained
/// from the merged rows instead).
fn kept_as_ours(name: &str, indexes: &BTreeSet<String>) -> bool {
    branches::is_mount(name)
        || [branches::BRANCHES, branches::TAGS, branches::HISTORY, branches::BRANCH_LOG].contains(&name)
        || indexes.contains(name)
}

/// Store names of the secondary indexes in a state.
fn index_tables(view: &dyn TableStore) -> Result<BTreeSet<String>, ExecError> {
    let mut out = BTreeSet::new();
    for (name, meta) in view.tables()? {
        if name.contains('.') && !name.ends_with("()") {
            if let Ok(Relation::Index { .. }) = decode_relation(&meta.schema, &name) {
                out.insert(name);
            }
        }
    }
    Ok(out)
}

fn table_def(view: &dyn TableStore, table: &str) -> Result<Option<std::sync::Arc<TableDef>>, ExecError> {
    let Some(meta) = view.table(table)? else { return Ok(None) };
    match decode_relation(&meta.schema, table) {
        Ok(Relation::Table(def)) => Ok(Some(def)),
        _ => Ok(None),
    }
}

fn row_json(bytes: Option<&Vec<u8>>) -> Result<serde_json::Value, ExecError> {
    let Some(b) = bytes else { return Ok(serde_json::Value::Null) };
    let row = decode_row(b).map_err(ExecError::Storage)?;
    Ok(serde_json::Value::String(serde_json::Value::Array(row.iter().map(value_to_json_value).collect()).to_string()))
}

/// What settling the conflicts needs, gathered before the merge walk.
struct Settler<'a> {
    store: &'a Store,
    ours: Snapshot,
    resolver: Option<(Address, String)>,
    engine: &'a crate::query::Engine,
    qc: QueryContext,
    gas_left: u64,
    /// The first reason the merge cannot go on.
    failure: Option<ExecError>,
    settled: Vec<(String, String, String)>,
    source: String,
}

impl Settler<'_> {
    fn fail(&mut self, reason: String) -> Resolution {
        self.failure.get_or_insert(ExecError::BranchRejected {
            call: "v1mergeBranch",
            name: self.source.clone(),
            reason,
        });
        Resolution::Unresolved
    }

    fn settle(&mut self, table: &str, c: &Conflict) -> Resolution {
        if self.failure.is_some() {
            return Resolution::Unresolved;
        }
        if self.settled.len() >= MAX_MERGE_CONFLICTS {
            return self.fail(format!("more than {MAX_MERGE_CONFLICTS} conflicting rows"));
        }
        let key_text = decode_key(&c.key)
            .map(|k| serde_json::Value::Array(k.iter().map(value_to_json_value).collect()).to_string())
            .unwrap_or_else(|_| c.key.iter().map(|b| format!("{b:02x}")).collect());
        let outcome = if table == system::ACCOUNTS {
            self.balances(c)
        } else if table.starts_with("sys.") {
            Err(format!("rows of system table {table} changed on both sides (key {key_text})"))
        } else {
            self.call_resolver(table, c, &key_text)
        };
        match outcome {
            Ok(r) => {
                let what = match &r {
                    Resolution::Value(None) => "deleted".to_string(),
                    Resolution::Value(Some(_)) => "resolved".to_string(),
                    other => format!("{other:?}").to_lowercase(),
                };
                self.settled.push((table.to_string(), key_text, what));
                r
            }
            Err(reason) => self.fail(reason),
        }
    }

    /// The account rows of the merge: every account the source changed
    /// gets ours' balance plus the source's delta ([`Settler::balances`]);
    /// an account both sides changed is reported as a settled conflict.
    fn account_deltas(&mut self, base: Hash, theirs: Hash) -> Result<Vec<KeyRow>, ExecError> {
        let root = |state: Hash| Snapshot::open(self.store, state).table_root(system::ACCOUNTS);
        let (base_root, theirs_root) = (root(base)?.unwrap_or(Hash::ZERO), root(theirs)?.unwrap_or(Hash::ZERO));
        let mut rows = Vec::new();
        for d in self.store.diff(base_root, theirs_root)? {
            let d = d?;
            if self.failure.is_some() {
                break;
            }
            let ours = self.ours.get(system::ACCOUNTS, &d.key)?;
            let both = ours != d.old;
            let c = Conflict { key: d.key, base: d.old, ours, theirs: d.new, resolution: Resolution::Unresolved };
            let resolution = if both {
                self.settle(system::ACCOUNTS, &c)
            } else {
                self.balances(&c).unwrap_or_else(|e| self.fail(e))
            };
            if let Resolution::Value(Some(row)) = resolution {
                rows.push((c.key, row));
            }
        }
        Ok(rows)
    }

    /// Native balances: base + both deltas, ours' nonce.
    fn balances(&mut self, c: &Conflict) -> Result<Resolution, String> {
        let read = |b: &Option<Vec<u8>>| -> Result<Option<(String, i128, i64)>, String> {
            let Some(b) = b else { return Ok(None) };
            let row = decode_row(b).map_err(|e| e.to_string())?;
            match row.as_slice() {
                [Value::Text(a), bal, Value::Int(n)] => {
                    let amount = rows::as_amount(system::ACCOUNTS, bal).map_err(|e| e.to_string())?;
                    Ok(Some((a.clone(), amount.aer() as i128, *n)))
                }
                _ => Err("an account row of an unexpected shape".into()),
            }
        };
        let (base, ours, theirs) = (read(&c.base)?, read(&c.ours)?, read(&c.theirs)?);
        let Some(address) = ours.as_ref().or(theirs.as_ref()).map(|r| r.0.clone()) else {
            return Ok(Resolution::Value(None));
        };
        let bal = |r: &Option<(String, i128, i64)>| r.as_ref().map_or(0, |r| r.1);
        let merged = bal(&ours) + bal(&theirs) - bal(&base);
        if merged < 0 {
            return Err(format!("the balance of {address} would be negative after the merge"));
        }
        let nonce = ours.as_ref().map_or(0, |r| r.2);
        let amount =
            rows::amount_value(system::ACCOUNTS, Amount::from_aer(merged as u128)).map_err(|e| e.to_string())?;
        Ok(Resolution::Value(Some(encode_row(&[Value::Text(address), amount, Value::Int(nonce)]))))
    }

    fn call_resolver(&mut self, table: &str, c: &Conflict, key_text: &str) -> Result<Resolution, String> {
        let Some((contract, function)) = self.resolver.clone() else {
            return Err(format!(
                "row {key_text} of {table} changed on both sides, and the branch has no resolver \
                 (create it with --merge-policy resolver:CONTRACT.FUNCTION)"
            ));
        };
        let def = table_def(&self.ours, table)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{table} is not a table of the target"))?;
        let args = [
            serde_json::Value::String(table.to_string()),
            serde_json::Value::String(key_text.to_string()),
            row_json(c.base.as_ref()).map_err(|e| e.to_string())?,
            row_json(c.ours.as_ref()).map_err(|e| e.to_string())?,
            row_json(c.theirs.as_ref()).map_err(|e| e.to_string())?,
        ];
        let payload = encode_call_payload(&function, &args);
        let mut view = Snapshot::open(self.store, self.ours.state_root());
        let (ret, gas) = query_call(self.engine, &mut view, &self.qc, &contract, &payload, self.gas_left)
            .map_err(|e| format!("resolver {contract}.{function} failed on {table} {key_text}: {e}"))?;
        self.gas_left = self.gas_left.saturating_sub(gas);
        let doc: serde_json::Value =
            serde_json::from_str(&ret).map_err(|e| format!("resolver returned {ret:?}, not JSON: {e}"))?;
        let text = match doc {
            serde_json::Value::Null => return Ok(Resolution::Value(None)),
            serde_json::Value::String(s) => s,
            other => return Err(format!("resolver returned {other}, expected a JSON array as TEXT or NULL")),
        };
        let row = row_from_json(&def, &text).map_err(|e| format!("resolver's row for {table} {key_text}: {e}"))?;
        let key: Vec<Value> = def.primary_key.iter().map(|&i| row[i].clone()).collect();
        if !def.has_rowid() && encode_key(&key) != c.key {
            return Err(format!("resolver returned a row of another key for {table} {key_text}"));
        }
        Ok(Resolution::Value(Some(encode_row(&row))))
    }
}

/// A row of `def` from a JSON array of its column values.
fn row_from_json(def: &TableDef, text: &str) -> Result<Vec<Value>, String> {
    let raw: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON array: {e}"))?;
    if raw.len() != def.columns.len() {
        return Err(format!("{} values, the table has {} columns", raw.len(), def.columns.len()));
    }
    let mut row = Vec::with_capacity(raw.len());
    for (r, col) in raw.iter().zip(&def.columns) {
        let v = crate::contract::json_to_value(r.get(), col.ty).map_err(|e| format!("column {}: {e}", col.name))?;
        let v = aergo_sql::types::assign(v, col.ty, &col.name).map_err(|e| format!("column {}: {e}", col.name))?;
        if v == Value::Null && (col.not_null || def.primary_key.iter().any(|&i| def.columns[i].name == col.name)) {
            return Err(format!("column {} may not be NULL", col.name));
        }
        row.push(v);
    }
    Ok(row)
}

impl BlockBuilder {
    /// `v1mergeBranch` with the consensual strategy: see the module docs.
    pub(super) fn merge_consensual(
        &mut self,
        mut src: BranchInfo,
        target: &str,
        own_gas: u64,
    ) -> Result<Vec<RegistryEvent>, ExecError> {
        let source = src.name.clone();
        let refuse = |reason: String| ExecError::BranchRejected { call: "v1mergeBranch", name: source.clone(), reason };
        if target != src.base {
            return Err(refuse(format!(
                "a consensual merge goes into the branch {source} forked from ({}); an auto merge goes anywhere",
                src.base
            )));
        }
        let theirs = {
            let lane = self.take_lane(&source)?;
            let root = lane.overlay.flush();
            self.lanes.insert(source.clone(), lane);
            root?
        };
        if theirs == src.fork_root {
            return Err(refuse(format!("nothing to merge: {source} has not changed since its last merge")));
        }
        let resolver = match MergePolicy::parse(&src.merge_policy) {
            Some(MergePolicy::Resolver { contract, function }) => {
                let contract = Address::parse(&contract).map_err(|e| refuse(format!("resolver contract: {e}")))?;
                Some((contract, function))
            }
            Some(MergePolicy::ThreeWay) => None,
            _ => return Err(refuse("the branch's merge policy is auto: merge it with the auto strategy".into())),
        };
        let base = src.fork_root;
        let gas_left = self.caps.tx.min(self.caps.block.saturating_sub(self.gas_used.saturating_add(own_gas)));
        let (events, gas) = if target == branches::MAIN {
            self.merge_into_here(base, theirs, resolver, gas_left, &source)?
        } else {
            let mut lane = self.take_lane(target)?;
            let r = self.on_lane(&mut lane, |b| b.merge_into_here(base, theirs, resolver, gas_left, &source));
            self.lanes.insert(target.to_string(), lane);
            r?
        };
        self.gas_used += gas;
        src.fork_root = theirs;
        branches::write(&mut self.overlay, &src)?;
        let mut events = events;
        events.push(("branchMerged".into(), serde_json::json!([source, target, "consensual"]).to_string()));
        Ok(events)
    }

    /// Merges state `theirs` into the state in place relative to `base`;
    /// returns the conflict events and the resolver's gas. On error the
    /// state in place is unchanged.
    fn merge_into_here(
        &mut self,
        base: Hash,
        theirs: Hash,
        resolver: Option<(Address, String)>,
        gas_left: u64,
        source: &str,
    ) -> Result<(Vec<RegistryEvent>, u64), ExecError> {
        let store = self.store.clone();
        let ours = self.overlay.flush()?;
        let ours_snap = Snapshot::open(&store, ours);
        let theirs_snap = Snapshot::open(&store, theirs);
        let mut indexes = index_tables(&ours_snap)?;
        indexes.extend(index_tables(&theirs_snap)?);
        let engine = crate::query::query_engine(&crate::query::QueryLimits::default());
        let qc = QueryContext { height: self.ctx.height, timestamp_ns: self.ctx.timestamp_ns, contract: None };
        let mut settler = Settler {
            store: &store,
            ours: Snapshot::open(&store, ours),
            resolver,
            engine: &engine,
            qc,
            gas_left,
            failure: None,
            settled: Vec::new(),
            source: source.to_string(),
        };
        // Native balances merge by deltas, never row by row: two sides that
        // changed an account identically (the same transfer made on each)
        // still add both changes, which a row merge would take once.
        let out = store.merge3_state(
            base,
            ours,
            theirs,
            |t| t == system::ACCOUNTS || kept_as_ours(t, &indexes),
            |t, c| Ok(settler.settle(t, c)),
        )?;
        let account_rows = settler.account_deltas(base, theirs)?;
        if let Some(e) = settler.failure.take() {
            return Err(e);
        }
        let refuse =
            |reason: String| ExecError::BranchRejected { call: "v1mergeBranch", name: source.to_string(), reason };
        if let Some(t) = out.table_conflicts.first() {
            return Err(refuse(format!("table {}: {}", t.table, t.reason)));
        }
        let savepoint = self.overlay.savepoint();
        let merged = self.take_merged(&store, ours, out.root, &out.merged_tables).and_then(|()| {
            for (key, row) in account_rows {
                self.overlay.put(system::ACCOUNTS, key, row)?;
            }
            Ok(())
        });
        match merged {
            Ok(()) => self.overlay.release_savepoint(savepoint)?,
            Err(e) => {
                self.overlay.rollback_to(savepoint)?;
                return Err(e);
            }
        }
        let gas = gas_left - settler.gas_left;
        let events = settler
            .settled
            .into_iter()
            .map(|(t, k, r)| ("mergeConflict".to_string(), serde_json::json!([t, k, r]).to_string()))
            .collect();
        Ok((events, gas))
    }

    /// Makes the state in place the merged state: every table the merge
    /// changed is mounted at its merged root, and the indexes of those
    /// tables follow their rows' changes.
    fn take_merged(&mut self, store: &Store, ours: Hash, merged: Hash, changed: &[String]) -> Result<(), ExecError> {
        let merged_snap = Snapshot::open(store, merged);
        let ours_snap = Snapshot::open(store, ours);
        for table in changed {
            let Some(meta) = merged_snap.table(table)? else {
                self.overlay.drop_table(table)?;
                continue;
            };
            let root = merged_snap.table_root(table)?.unwrap_or(Hash::ZERO);
            let old_root = ours_snap.table_root(table)?.unwrap_or(Hash::ZERO);
            self.overlay.mount(table, root, meta.clone())?;
            self.maintain_indexes(store, table, &meta, old_root, root)?;
        }
        Ok(())
    }

    /// Brings the indexes of `table` from its rows at `old_root` to its
    /// rows at `new_root`, checking unique ones.
    fn maintain_indexes(
        &mut self,
        store: &Store,
        table: &str,
        meta: &TableMeta,
        old_root: Hash,
        new_root: Hash,
    ) -> Result<(), ExecError> {
        let Ok(Relation::Table(def)) = decode_relation(&meta.schema, table) else { return Ok(()) };
        if def.indexes.is_empty() {
            return Ok(());
        }
        for (i, ix) in def.indexes.iter().enumerate() {
            let name = def.index_store_name(ix);
            if self.overlay.table(&name)?.is_none() {
                self.overlay.create_table(&name, aergo_sql::catalog::encode_index(table))?;
            }
            for d in store.diff(old_root, new_root)? {
                let d = d?;
                if let Some(old) = &d.old {
                    let row = decode_row(old)?;
                    self.overlay.delete(&name, &def.index_key(i, &row, &d.key))?;
                }
                if let Some(new) = &d.new {
                    let row = decode_row(new)?;
                    let key = def.index_key(i, &row, &d.key);
                    if ix.unique {
                        let prefix = encode_key(&ix.columns.iter().map(|&c| row[c].clone()).collect::<Vec<_>>());
                        let has_null = ix.columns.iter().any(|&c| row[c] == Value::Null);
                        let mut upper = prefix.clone();
                        upper.push(0xFF);
                        let clash = !has_null
                            && self
                                .overlay
                                .range(
                                    &name,
                                    std::ops::Bound::Included(&prefix),
                                    std::ops::Bound::Excluded(&upper),
                                    aergo_store::Direction::Forward,
                                )?
                                .next()
                                .transpose()?
                                .is_some();
                        if clash {
                            return Err(ExecError::BranchRejected {
                                call: "v1mergeBranch",
                                name: table.to_string(),
                                reason: format!("the merged rows break the unique index {}", ix.name),
                            });
                        }
                    }
                    self.overlay.put(&name, key, Vec::new())?;
                }
            }
        }
        Ok(())
    }
}
