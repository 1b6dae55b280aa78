//! Executing DDL: CREATE/DROP TABLE, INDEX and VIEW, ALTER TABLE ADD
//! COLUMN and DROP FUNCTION (CREATE FUNCTION is in [`super::plpgsql`]).

use std::ops::Bound;
use std::sync::Arc;

use aergo_store::codec::{decode_row, encode_row};
use aergo_store::{Direction, Value};
use sqlparser::ast;

use crate::catalog::{self, CheckDef, IndexDef, Relation, TableDef, MAX_COLUMNS};
use crate::error::{Pos, Result, SqlError};
use crate::names::{ident_name, object_parts, pos_of};
use crate::types;

use super::cx::Cx;
use super::eval::eval;
use super::write::{conflict_error, find_conflict};

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(SqlError::Unsupported { feature: what.into() })
}

fn qualify(cx: &Cx<'_>, name: &ast::ObjectName) -> Result<(String, String)> {
    catalog::qualify(&cx.ctx.default_schema, name)
}

/// Checks that a DEFAULT or CHECK expression binds (and is deterministic).
fn validate_expr(cx: &Cx<'_>, t: Option<&TableDef>, text: &str) -> Result<()> {
    cx.functions.bind_scalar(&*cx.store, &cx.ctx.default_schema, text, t)?;
    Ok(())
}

pub fn exec_ddl(stmt: &ast::Statement, cx: &mut Cx<'_>) -> Result<()> {
    use ast::Statement as S;
    match stmt {
        S::CreateTable(ct) => create_table(ct, cx),
        S::CreateIndex(ci) => create_index(ci, cx),
        S::Drop { object_type, if_exists, names, cascade, .. } => {
            if *cascade {
                return unsupported("DROP ... CASCADE");
            }
            for n in names {
                drop_object(*object_type, *if_exists, n, cx)?;
            }
            Ok(())
        }
        S::CreateView { or_replace, materialized, name, columns, query, if_not_exists, temporary, .. } => {
            if *materialized || *temporary {
                return unsupported("MATERIALIZED or TEMPORARY views");
            }
            let (schema, vname) = qualify(cx, name)?;
            cx.check_schema_write(&schema)?;
            // Validate now: a view must bind against the current catalogue.
            let out = cx.functions.bind_view(&*cx.store, &schema, query)?;
            let cols: Vec<String> = columns.iter().map(|c| ident_name(&c.name)).collect();
            if cols.len() > out.len() {
                return Err(SqlError::Syntax {
                    message: "CREATE VIEW specifies more column names than columns".into(),
                    pos: Pos::UNKNOWN,
                });
            }
            let sname = catalog::store_name(&schema, &vname);
            let meta = catalog::encode_view(&catalog::view_def(&schema, &vname, cols, query.to_string()));
            match catalog::lookup(&*cx.store, &sname)? {
                Some((Relation::View(_), _)) if *or_replace => cx.store.set_table_meta(&sname, meta)?,
                Some(_) if *if_not_exists => {}
                Some((r, _)) => return Err(SqlError::ObjectExists { kind: catalog::relation_kind(&r), name: sname }),
                None => cx.store.create_table(&sname, meta)?,
            }
            Ok(())
        }
        S::AlterTable { name, if_exists, operations, .. } => {
            let (schema, tname) = qualify(cx, name)?;
            cx.check_schema_write(&schema)?;
            let sname = catalog::store_name(&schema, &tname);
            let table = match catalog::lookup(&*cx.store, &sname)? {
                Some((Relation::Table(t), _)) => t,
                _ if *if_exists => return Ok(()),
                _ => return Err(SqlError::UnknownObject { kind: "table", name: sname, pos: Pos::UNKNOWN }),
            };
            let mut t = (*table).clone();
            for op in operations {
                match op {
                    ast::AlterTableOperation::AddColumn { if_not_exists, column_def, .. } => {
                        let cname = ident_name(&column_def.name);
                        if t.column_index(&cname).is_some() {
                            if *if_not_exists {
                                continue;
                            }
                            return Err(SqlError::ObjectExists { kind: "column", name: cname });
                        }
                        add_column(&mut t, column_def, cx)?;
                    }
                    _ => return unsupported("this ALTER TABLE operation (only ADD COLUMN is supported)"),
                }
            }
            cx.store.set_table_meta(&sname, catalog::encode_table(&t))?;
            Ok(())
        }
        S::DropFunction { if_exists, func_desc, .. } => {
            for f in func_desc {
                let (schema, fname) = qualify(cx, &f.name)?;
                cx.check_schema_write(&schema)?;
                let sname = catalog::function_store_name(&schema, &fname);
                if cx.store.table(&sname)?.is_some() {
                    cx.store.drop_table(&sname)?;
                } else if !*if_exists {
                    return Err(SqlError::UnknownFunction { name: fname, arity: 0, pos: Pos::UNKNOWN });
                }
            }
            Ok(())
        }
        _ => unsupported("this statement"),
    }
}

fn index_name(t: &TableDef, cols: &[usize], suffix: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let base = format!(
        "{}_{}_{}",
        t.name,
        cols.iter().map(|&c| t.columns[c].name.as_str()).collect::<Vec<_>>().join("_"),
        suffix
    );
    let mut base: String = base.chars().take(catalog::MAX_IDENT_BYTES - 4).collect();
    while base.len() > catalog::MAX_IDENT_BYTES - 4 {
        base.pop();
    }
    if !taken(&base) {
        return base;
    }
    for i in 1..1000 {
        let n = format!("{base}{i}");
        if !taken(&n) {
            return n;
        }
    }
    base
}

fn create_table(ct: &ast::CreateTable, cx: &mut Cx<'_>) -> Result<()> {
    if ct.or_replace || ct.external || ct.query.is_some() || ct.like.is_some() || ct.clone.is_some() {
        return unsupported("CREATE TABLE with OR REPLACE, AS, LIKE or CLONE");
    }
    let (schema, name) = qualify(cx, &ct.name)?;
    cx.check_schema_write(&schema)?;
    let sname = catalog::store_name(&schema, &name);
    if let Some((r, _)) = catalog::lookup(&*cx.store, &sname)? {
        if ct.if_not_exists {
            return Ok(());
        }
        return Err(SqlError::ObjectExists { kind: catalog::relation_kind(&r), name: sname });
    }
    if ct.columns.is_empty() || ct.columns.len() > MAX_COLUMNS {
        return Err(SqlError::LimitExceeded { what: "columns per table (1..=256)", limit: MAX_COLUMNS as u64 });
    }
    let mut t = catalog::new_table_def(&schema, &name, vec![], vec![], vec![], vec![]);
    let mut pk = Vec::new();
    let mut uniques: Vec<Vec<usize>> = Vec::new();
    for c in &ct.columns {
        catalog::column_def(c, &mut t, &mut pk, &mut uniques)?;
    }
    let col_of = |t: &TableDef, ic: &ast::IndexColumn| -> Result<usize> {
        match &ic.column.expr {
            ast::Expr::Identifier(id) => {
                let n = ident_name(id);
                t.column_index(&n).ok_or(SqlError::UnknownColumn { name: n, pos: pos_of(id.span) })
            }
            other => unsupported(format!("key expression {other}")),
        }
    };
    for con in &ct.constraints {
        match con {
            ast::TableConstraint::PrimaryKey { columns, .. } => {
                if !pk.is_empty() {
                    return Err(SqlError::Syntax {
                        message: format!("multiple primary keys for table {name:?}"),
                        pos: Pos::UNKNOWN,
                    });
                }
                for ic in columns {
                    let i = col_of(&t, ic)?;
                    t.columns[i].not_null = true;
                    pk.push(i);
                }
            }
            ast::TableConstraint::Unique { columns, .. } => {
                let mut cols = Vec::new();
                for ic in columns {
                    cols.push(col_of(&t, ic)?);
                }
                uniques.push(cols);
            }
            ast::TableConstraint::Check { name: cname, expr, .. } => {
                let cname =
                    cname.as_ref().map(ident_name).unwrap_or_else(|| format!("{name}_check{}", t.checks.len() + 1));
                t.checks.push(CheckDef { name: cname, expr: expr.to_string() });
            }
            ast::TableConstraint::ForeignKey { .. } => return unsupported("foreign keys"),
            other => return unsupported(format!("table constraint {other}")),
        }
    }
    t.primary_key = pk;
    for cols in uniques {
        // A UNIQUE constraint identical to the primary key adds nothing.
        if cols == t.primary_key {
            continue;
        }
        let store = &*cx.store;
        let existing: Vec<String> = t.indexes.iter().map(|i| i.name.clone()).collect();
        let iname = index_name(&t, &cols, "key", &|n| {
            existing.iter().any(|e| e == n) || store.table(&catalog::store_name(&schema, n)).ok().flatten().is_some()
        });
        t.indexes.push(IndexDef { name: iname, columns: cols, unique: true });
    }
    for c in t.columns.clone().iter().filter_map(|c| c.default.clone()) {
        validate_expr(cx, None, &c)?;
    }
    for c in t.checks.clone() {
        validate_expr(cx, Some(&t), &c.expr)?;
    }
    cx.store.create_table(&sname, catalog::encode_table(&t))?;
    for ix in &t.indexes {
        cx.store.create_table(&t.index_store_name(ix), catalog::encode_index(&sname))?;
    }
    Ok(())
}

fn create_index(ci: &ast::CreateIndex, cx: &mut Cx<'_>) -> Result<()> {
    if ci.predicate.is_some() || !ci.include.is_empty() {
        return unsupported("partial or covering indexes");
    }
    let (schema, tname) = qualify(cx, &ci.table_name)?;
    cx.check_schema_write(&schema)?;
    let sname = catalog::store_name(&schema, &tname);
    let table: Arc<TableDef> = match catalog::lookup(&*cx.store, &sname)? {
        Some((Relation::Table(t), _)) => t,
        _ => return Err(SqlError::UnknownObject { kind: "table", name: sname, pos: Pos::UNKNOWN }),
    };
    let mut cols = Vec::new();
    for ic in &ci.columns {
        match &ic.column.expr {
            ast::Expr::Identifier(id) => {
                let n = ident_name(id);
                cols.push(table.column_index(&n).ok_or(SqlError::UnknownColumn { name: n, pos: pos_of(id.span) })?);
            }
            other => return unsupported(format!("index expression {other}")),
        }
    }
    let iname = match &ci.name {
        Some(n) => {
            let parts = object_parts(n)?;
            let last = parts.last().cloned().unwrap_or_default();
            catalog::check_ident(&last)?;
            last
        }
        None => {
            let store = &*cx.store;
            index_name(&table, &cols, "idx", &|n| {
                store.table(&catalog::store_name(&schema, n)).ok().flatten().is_some()
            })
        }
    };
    let iname_store = catalog::store_name(&schema, &iname);
    if let Some((r, _)) = catalog::lookup(&*cx.store, &iname_store)? {
        if ci.if_not_exists {
            return Ok(());
        }
        return Err(SqlError::ObjectExists { kind: catalog::relation_kind(&r), name: iname_store });
    }
    let mut t = (*table).clone();
    t.indexes.push(IndexDef { name: iname.clone(), columns: cols, unique: ci.unique });
    cx.store.create_table(&iname_store, catalog::encode_index(&sname))?;
    cx.store.set_table_meta(&sname, catalog::encode_table(&t))?;
    // Fill the index from the existing rows, checking uniqueness as we go.
    let ix = t.indexes.len() - 1;
    let mut lo: Bound<Vec<u8>> = Bound::Unbounded;
    loop {
        let chunk = cx.range_chunk(&sname, as_ref(&lo), Bound::Unbounded, Direction::Forward, 256)?;
        let n = chunk.len();
        for (k, v) in chunk {
            lo = Bound::Excluded(k.clone());
            let row = decode_row(&v)?;
            if t.indexes[ix].unique {
                if let Some((which, _)) = find_conflict(cx, &t, &row, &k, false, None)? {
                    if which == Some(ix) {
                        return Err(conflict_error(&t, which));
                    }
                }
            }
            let vals: Vec<Value> = t.indexes[ix].columns.iter().map(|&c| row[c].clone()).collect();
            let mut ik = aergo_store::codec::encode_key(&vals);
            ik.extend_from_slice(&k);
            cx.put(&iname_store, ik, Vec::new())?;
        }
        if n < 256 {
            break;
        }
    }
    Ok(())
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v),
        Bound::Excluded(v) => Bound::Excluded(v),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn drop_object(kind: ast::ObjectType, if_exists: bool, name: &ast::ObjectName, cx: &mut Cx<'_>) -> Result<()> {
    let (schema, obj) = qualify(cx, name)?;
    cx.check_schema_write(&schema)?;
    let sname = catalog::store_name(&schema, &obj);
    let found = catalog::lookup(&*cx.store, &sname)?;
    let want = match kind {
        ast::ObjectType::Table => "table",
        ast::ObjectType::View => "view",
        ast::ObjectType::Index => "index",
        other => return unsupported(format!("DROP {other}")),
    };
    match found {
        None => {
            if if_exists {
                Ok(())
            } else {
                Err(SqlError::UnknownObject {
                    kind: want,
                    name: sname,
                    pos: pos_of(sqlparser::ast::Spanned::span(name)),
                })
            }
        }
        Some((r, _)) if catalog::relation_kind(&r) != want => Err(SqlError::TypeMismatch {
            context: format!("DROP {}", want.to_uppercase()),
            expected: format!("a {want}"),
            found: format!("{sname:?} is a {}", catalog::relation_kind(&r)),
        }),
        Some((Relation::Table(t), _)) => {
            for ix in &t.indexes {
                cx.store.drop_table(&t.index_store_name(ix))?;
            }
            cx.store.drop_table(&sname)?;
            Ok(())
        }
        Some((Relation::View(_), _)) => {
            cx.store.drop_table(&sname)?;
            Ok(())
        }
        Some((Relation::Index { table }, _)) => {
            if let Some((Relation::Table(t), _)) = catalog::lookup(&*cx.store, &table)? {
                let mut t = (*t).clone();
                t.indexes.retain(|ix| ix.name != obj);
                cx.store.set_table_meta(&table, catalog::encode_table(&t))?;
            }
            cx.store.drop_table(&sname)?;
            Ok(())
        }
    }
}

fn add_column(t: &mut TableDef, c: &ast::ColumnDef, cx: &mut Cx<'_>) -> Result<()> {
    let mut pk = Vec::new();
    let mut uniques = Vec::new();
    let before = t.columns.len();
    catalog::column_def(c, t, &mut pk, &mut uniques)?;
    if !pk.is_empty() || !uniques.is_empty() {
        return unsupported("ADD COLUMN with PRIMARY KEY or UNIQUE");
    }
    let col = t.columns[before].clone();
    // Existing rows get the default, computed once (as in PostgreSQL for
    // constant defaults); rows are rewritten so they stay canonical.
    let default = match &col.default {
        Some(text) => {
            validate_expr(cx, None, text)?;
            let bound = cx.functions.bind_scalar(&*cx.store, &cx.ctx.default_schema, text, None)?;
            types::assign(eval(&bound, &[], cx)?, col.ty, &col.name)?
        }
        None => Value::Null,
    };
    let sname = t.store_name();
    let mut lo: Bound<Vec<u8>> = Bound::Unbounded;
    loop {
        let chunk = cx.range_chunk(sname, as_ref(&lo), Bound::Unbounded, Direction::Forward, 256)?;
        let n = chunk.len();
        for (k, v) in chunk {
            lo = Bound::Excluded(k.clone());
            if col.not_null && default == Value::Null {
                return Err(SqlError::NotNullViolation { table: t.name.clone(), column: col.name.clone() });
            }
            let mut row = decode_row(&v)?;
            row.push(default.clone());
            cx.put(sname, k, encode_row(&row))?;
        }
        if n < 256 {
            break;
        }
    }
    Ok(())
}
