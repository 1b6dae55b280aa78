//! What changed between two states, as a user reads it: per table, the
//! rows added, removed and changed, with their values decoded by the
//! table's own schema (the JSON of `query` results). The walk is the
//! store's [`aergo_store::Store::diff_state`], whose cost follows the size
//! of the change, not of the state.
//!
//! Secondary indexes are left out: their rows follow from the table's. A
//! view or function that was created, dropped or redefined is listed
//! without rows.

use aergo_sql::catalog::{decode_relation, Relation};
use aergo_store::{codec, Hash, Store, TableDiff, TableMeta};
use serde_json::Value as Json;

use crate::contract::value_to_json_value;
use crate::query::RelationKind;
use crate::ExecError;

/// One row that differs: its key, and its whole row before and after
/// (`None` where it did not exist).
#[derive(Clone, Debug, PartialEq)]
pub struct RowChange {
    pub key: Vec<Json>,
    pub old: Option<Vec<Json>>,
    pub new: Option<Vec<Json>>,
}

/// What happened to one table, view or function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Dropped,
    /// Its definition changed (for a table, its rows may also have).
    Redefined,
    /// Only rows changed.
    Rows,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Dropped => "dropped",
            Change::Redefined => "redefined",
            Change::Rows => "rows",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RelationChange {
    /// Store name: `schema.table`, or `schema.function()`.
    pub name: String,
    pub kind: RelationKind,
    pub change: Change,
    /// Column names of a table (of its newer definition).
    pub columns: Vec<String>,
    pub rows: Vec<RowChange>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiffReport {
    pub relations: Vec<RelationChange>,
    /// The row budget ran out before the end.
    pub truncated: bool,
}

/// The differences from state `from` to state `to` (only relation `only`,
/// a store name, when given), at most `max_rows` row changes in all.
pub fn diff_states(
    store: &Store,
    from: Hash,
    to: Hash,
    only: Option<&str>,
    max_rows: usize,
) -> Result<DiffReport, ExecError> {
    // Indexes are left out before their rows are walked: they would take
    // from the budget rows that are then dropped.
    let keep = |name: &str, meta: &TableMeta| {
        only.is_none_or(|t| t == name)
            && !crate::branches::is_mount(name)
            && (name.ends_with("()") || !matches!(decode_relation(&meta.schema, name), Ok(Relation::Index { .. })))
    };
    let d = store.diff_state_where(from, to, &keep, max_rows)?;
    let mut out = DiffReport { relations: Vec::with_capacity(d.tables.len()), truncated: d.truncated };
    for t in d.tables {
        if let Some(r) = relation_change(t)? {
            out.relations.push(r);
        }
    }
    Ok(out)
}

fn relation_change(t: TableDiff) -> Result<Option<RelationChange>, ExecError> {
    let change = match (&t.old_meta, &t.new_meta) {
        (None, Some(_)) => Change::Created,
        (Some(_), None) => Change::Dropped,
        (Some(a), Some(b)) if a != b => Change::Redefined,
        _ => Change::Rows,
    };
    let meta: &TableMeta = match t.new_meta.as_ref().or(t.old_meta.as_ref()) {
        Some(m) => m,
        None => return Ok(None),
    };
    let (kind, columns) = if t.table.ends_with("()") {
        (RelationKind::Function, Vec::new())
    } else {
        match decode_relation(&meta.schema, &t.table)? {
            Relation::Index { .. } => return Ok(None),
            Relation::View(_) => (RelationKind::View, Vec::new()),
            Relation::Table(def) => (RelationKind::Table, def.columns.iter().map(|c| c.name.clone()).collect()),
        }
    };
    let decode_row = |bytes: &Option<Vec<u8>>| -> Result<Option<Vec<Json>>, ExecError> {
        bytes.as_deref().map(|b| Ok(codec::decode_row(b)?.iter().map(value_to_json_value).collect())).transpose()
    };
    let mut rows = Vec::with_capacity(t.rows.len());
    if kind == RelationKind::Table {
        for r in &t.rows {
            let key = codec::decode_key(&r.key)?.iter().map(value_to_json_value).collect();
            rows.push(RowChange { key, old: decode_row(&r.old)?, new: decode_row(&r.new)? });
        }
    }
    Ok(Some(RelationChange { name: t.table, kind, change, columns, rows }))
}
