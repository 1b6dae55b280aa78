//! The catalogue: how SQL objects map onto store tables.
//!
//! Every object lives in the store's table catalogue; its schema blob
//! ([`aergo_store::TableMeta`]) is a canonical encoding of its definition,
//! starting with a kind byte and a format version:
//!
//! | object | store table name | rows |
//! |---|---|---|
//! | table | `<schema>.<table>` | key = `encode_key(pk)` (or a hidden row id), value = `encode_row(all columns)` |
//! | index / UNIQUE constraint | `<schema>.<index>` | key = `encode_key(index columns ++ pk)`, value empty |
//! | view | `<schema>.<view>` | none: the blob holds the query text |
//! | function | `<schema>.<function>()` | none: the blob holds the source |
//!
//! A table whose blob is instead the UTF-8 text of its `CREATE TABLE`
//! statement (the chain's system tables, which the executor writes without
//! going through SQL) is read as that statement declares it, with the same
//! row layout; NUMERIC precisions above what the engine can check are read
//! as plain NUMERIC, and UNIQUE constraints are ignored (no index tables).
//!
//! Tables, indexes and views share one namespace per schema, as relations do
//! in PostgreSQL. Identifiers may not contain `.`, `(`, `)` or control
//! characters, so these names never collide.
//!
//! Also here: the one-byte codes of [`SqlType`] in blobs, qualified names
//! (`[schema.]name`), and the column definitions of `CREATE TABLE` that
//! both DDL execution and the text blobs above read.

use std::sync::Arc;

use aergo_store::{TableMeta, TableStore};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::error::{syntax, Pos, Result, SqlError};
use crate::names::{ident_name, object_parts};
use crate::types::SqlType;

const KIND_TABLE: u8 = 1;
const KIND_INDEX: u8 = 2;
const KIND_VIEW: u8 = 3;
const KIND_FUNCTION: u8 = 4;
const FORMAT_VERSION: u8 = 1;

/// Longest identifier, in bytes (PostgreSQL's NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;
/// Most columns in one table.
pub const MAX_COLUMNS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub not_null: bool,
    /// DEFAULT expression as SQL text.
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    /// Unqualified index name; its store table is `<schema>.<name>`.
    pub name: String,
    pub columns: Vec<usize>,
    pub unique: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

/// A table's definition, stored in its schema blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDef {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Primary key column positions; empty means a hidden BIGINT row id.
    pub primary_key: Vec<usize>,
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    /// `<schema>.<name>`, made once: every row read and write names its
    /// store table, and formatting it per row was a measurable share of a
    /// point update. Private so that it cannot disagree with the two names.
    store: String,
}

impl TableDef {
    pub fn new(
        schema: String,
        name: String,
        columns: Vec<ColumnDef>,
        primary_key: Vec<usize>,
        indexes: Vec<IndexDef>,
        checks: Vec<CheckDef>,
    ) -> TableDef {
        let store = store_name(&schema, &name);
        TableDef { schema, name, columns, primary_key, indexes, checks, store }
    }

    /// The store table holding the rows: `<schema>.<name>`.
    pub fn store_name(&self) -> &str {
        &self.store
    }

    pub fn index_store_name(&self, index: &IndexDef) -> String {
        store_name(&self.schema, &index.name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn has_rowid(&self) -> bool {
        self.primary_key.is_empty()
    }

    /// The key of `row` (stored under `pk`) in index number `ix`: the
    /// index columns' key encoding followed by the row's key.
    pub fn index_key(&self, ix: usize, row: &[aergo_store::Value], pk: &[u8]) -> Vec<u8> {
        let vals: Vec<aergo_store::Value> = self.indexes[ix].columns.iter().map(|&c| row[c].clone()).collect();
        let mut k = aergo_store::codec::encode_key(&vals);
        k.extend_from_slice(pk);
        k
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewDef {
    pub schema: String,
    pub name: String,
    pub columns: Vec<String>,
    pub query: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionDef {
    pub schema: String,
    pub name: String,
    /// The complete `CREATE FUNCTION` text (recompiled when first called).
    pub source: String,
}

/// What a relation name refers to.
#[derive(Clone, Debug)]
pub enum Relation {
    Table(Arc<TableDef>),
    View(Arc<ViewDef>),
    /// An index: its owning table's store name.
    Index {
        table: String,
    },
}

pub fn store_name(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

pub fn function_store_name(schema: &str, name: &str) -> String {
    format!("{schema}.{name}()")
}

/// Checks an identifier (already case-folded).
pub fn check_ident(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_IDENT_BYTES {
        return Err(SqlError::InvalidValue {
            ty: "identifier".into(),
            input: format!("{name:?} (identifiers are 1..={MAX_IDENT_BYTES} bytes)"),
        });
    }
    if name.chars().any(|c| c == '.' || c == '(' || c == ')' || c.is_control()) {
        return Err(SqlError::InvalidValue {
            ty: "identifier".into(),
            input: format!("{name:?} (identifiers may not contain '.', '(', ')' or control characters)"),
        });
    }
    Ok(())
}

struct MetaWriter(Vec<u8>);

impl MetaWriter {
    fn new(kind: u8) -> Self {
        MetaWriter(vec![kind, FORMAT_VERSION])
    }
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    fn len(&mut self, n: usize) {
        aergo_store::codec::put_uvarint(&mut self.0, n as u128);
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.byte(1);
                self.str(s);
            }
        }
    }
}

/// A bounds-checked reader of catalogue blobs: corrupt blobs are errors.
pub struct MetaReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    name: &'a str,
}

impl<'a> MetaReader<'a> {
    fn new(bytes: &'a [u8], name: &'a str) -> Self {
        MetaReader { bytes, pos: 0, name }
    }
    pub fn corrupt(&self, reason: &str) -> SqlError {
        SqlError::CorruptCatalog { name: self.name.into(), reason: reason.into() }
    }
    pub fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| self.corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }
    pub fn u32(&mut self) -> Result<u32> {
        let raw = self.bytes.get(self.pos..self.pos + 4).ok_or_else(|| self.corrupt("truncated"))?;
        self.pos += 4;
        Ok(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }
    fn len(&mut self, max: usize) -> Result<usize> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                if v > max as u64 {
                    return Err(self.corrupt("length out of range"));
                }
                return Ok(v as usize);
            }
        }
        Err(self.corrupt("bad length"))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.len(1 << 24)?;
        let raw = self.bytes.get(self.pos..self.pos + n).ok_or_else(|| self.corrupt("truncated string"))?;
        self.pos += n;
        String::from_utf8(raw.to_vec()).map_err(|_| self.corrupt("string is not UTF-8"))
    }
    fn opt_str(&mut self) -> Result<Option<String>> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err(self.corrupt("bad option tag")),
        }
    }
    fn finish(&self) -> Result<()> {
        if self.pos != self.bytes.len() {
            return Err(self.corrupt("trailing bytes"));
        }
        Ok(())
    }
    fn header(&mut self, kind: u8) -> Result<()> {
        let k = self.byte()?;
        if k != kind {
            return Err(self.corrupt("unexpected object kind"));
        }
        if self.byte()? != FORMAT_VERSION {
            return Err(self.corrupt("unknown format version"));
        }
        Ok(())
    }
}

pub fn encode_table(t: &TableDef) -> TableMeta {
    let mut w = MetaWriter::new(KIND_TABLE);
    w.str(&t.schema);
    w.str(&t.name);
    w.len(t.columns.len());
    for c in &t.columns {
        w.str(&c.name);
        c.ty.encode(&mut w.0);
        w.byte(u8::from(c.not_null));
        w.opt_str(&c.default);
    }
    w.len(t.primary_key.len());
    for &i in &t.primary_key {
        w.len(i);
    }
    w.len(t.indexes.len());
    for ix in &t.indexes {
        w.str(&ix.name);
        w.byte(u8::from(ix.unique));
        w.len(ix.columns.len());
        for &i in &ix.columns {
            w.len(i);
        }
    }
    w.len(t.checks.len());
    for c in &t.checks {
        w.str(&c.name);
        w.str(&c.expr);
    }
    TableMeta { schema: w.0 }
}

fn decode_table(bytes: &[u8], name: &str) -> Result<TableDef> {
    let mut r = MetaReader::new(bytes, name);
    r.header(KIND_TABLE)?;
    let schema = r.str()?;
    let tname = r.str()?;
    let ncols = r.len(MAX_COLUMNS)?;
    let mut columns = Vec::with_capacity(ncols);
    for _ in 0..ncols {
        let cname = r.str()?;
        let ty = SqlType::decode(&mut r)?;
        let not_null = r.byte()? != 0;
        let default = r.opt_str()?;
        columns.push(ColumnDef { name: cname, ty, not_null, default });
    }
    let col = |r: &mut MetaReader<'_>| -> Result<usize> {
        let i = r.len(MAX_COLUMNS)?;
        if i >= ncols {
            return Err(r.corrupt("column position out of range"));
        }
        Ok(i)
    };
    let npk = r.len(MAX_COLUMNS)?;
    let mut primary_key = Vec::with_capacity(npk);
    for _ in 0..npk {
        primary_key.push(col(&mut r)?);
    }
    let nix = r.len(1024)?;
    let mut indexes = Vec::with_capacity(nix);
    for _ in 0..nix {
        let iname = r.str()?;
        let unique = r.byte()? != 0;
        let n = r.len(MAX_COLUMNS)?;
        let mut cols = Vec::with_capacity(n);
        for _ in 0..n {
            cols.push(col(&mut r)?);
        }
        indexes.push(IndexDef { name: iname, columns: cols, unique });
    }
    let nchk = r.len(1024)?;
    let mut checks = Vec::with_capacity(nchk);
    for _ in 0..nchk {
        let cname = r.str()?;
        let expr = r.str()?;
        checks.push(CheckDef { name: cname, expr });
    }
    r.finish()?;
    Ok(TableDef::new(schema, tname, columns, primary_key, indexes, checks))
}

pub fn encode_index(table_store_name: &str) -> TableMeta {
    let mut w = MetaWriter::new(KIND_INDEX);
    w.str(table_store_name);
    TableMeta { schema: w.0 }
}

pub fn encode_view(v: &ViewDef) -> TableMeta {
    let mut w = MetaWriter::new(KIND_VIEW);
    w.str(&v.schema);
    w.str(&v.name);
    w.len(v.columns.len());
    for c in &v.columns {
        w.str(c);
    }
    w.str(&v.query);
    TableMeta { schema: w.0 }
}

pub fn encode_function(f: &FunctionDef) -> TableMeta {
    let mut w = MetaWriter::new(KIND_FUNCTION);
    w.str(&f.schema);
    w.str(&f.name);
    w.str(&f.source);
    TableMeta { schema: w.0 }
}

pub fn decode_function(bytes: &[u8], name: &str) -> Result<FunctionDef> {
    let mut r = MetaReader::new(bytes, name);
    r.header(KIND_FUNCTION)?;
    let schema = r.str()?;
    let fname = r.str()?;
    let source = r.str()?;
    r.finish()?;
    Ok(FunctionDef { schema, name: fname, source })
}

/// Decodes whatever relation a store table's blob describes.
pub fn decode_relation(bytes: &[u8], name: &str) -> Result<Relation> {
    match bytes.first() {
        Some(&KIND_TABLE) => Ok(Relation::Table(Arc::new(decode_table(bytes, name)?))),
        Some(&KIND_INDEX) => {
            let mut r = MetaReader::new(bytes, name);
            r.header(KIND_INDEX)?;
            let table = r.str()?;
            r.finish()?;
            Ok(Relation::Index { table })
        }
        Some(&KIND_VIEW) => {
            let mut r = MetaReader::new(bytes, name);
            r.header(KIND_VIEW)?;
            let schema = r.str()?;
            let vname = r.str()?;
            let n = r.len(MAX_COLUMNS)?;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                columns.push(r.str()?);
            }
            let query = r.str()?;
            r.finish()?;
            Ok(Relation::View(Arc::new(ViewDef { schema, name: vname, columns, query })))
        }
        // The platform's own tables (the chain's `sys.*`) carry their
        // `CREATE TABLE` text as schema blob.
        Some(b'C' | b'c') => Ok(Relation::Table(Arc::new(table_def_from_text(bytes, name)?))),
        _ => Err(SqlError::CorruptCatalog { name: name.into(), reason: "not a relation".into() }),
    }
}

/// Looks a relation up by its store name.
pub fn lookup(store: &dyn TableStore, name: &str) -> Result<Option<(Relation, TableMeta)>> {
    match store.table(name)? {
        None => Ok(None),
        Some(meta) => Ok(Some((decode_relation(&meta.schema, name)?, meta))),
    }
}

pub fn lookup_table(store: &dyn TableStore, schema: &str, name: &str) -> Result<Arc<TableDef>> {
    let sname = store_name(schema, name);
    match lookup(store, &sname)? {
        Some((Relation::Table(t), _)) => Ok(t),
        _ => Err(SqlError::UnknownObject { kind: "table", name: sname, pos: Pos::UNKNOWN }),
    }
}

// ----- type codes, names and definitions -----

impl SqlType {
    /// Stable one-byte code plus parameters, for the catalogue encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SqlType::Bool => out.push(1),
            SqlType::SmallInt => out.push(2),
            SqlType::Int => out.push(3),
            SqlType::BigInt => out.push(4),
            SqlType::Numeric(None) => out.push(5),
            SqlType::Numeric(Some((p, s))) => {
                out.push(6);
                out.push(*p as u8);
                out.push(*s as u8);
            }
            SqlType::Text => out.push(7),
            SqlType::Varchar(n) => {
                out.push(8);
                out.extend_from_slice(&n.to_be_bytes());
            }
            SqlType::Bytea => out.push(9),
            SqlType::Timestamp => out.push(10),
        }
    }

    pub fn decode(r: &mut MetaReader<'_>) -> Result<SqlType> {
        Ok(match r.byte()? {
            1 => SqlType::Bool,
            2 => SqlType::SmallInt,
            3 => SqlType::Int,
            4 => SqlType::BigInt,
            5 => SqlType::Numeric(None),
            6 => {
                let p = r.byte()? as u32;
                let s = r.byte()? as u32;
                SqlType::Numeric(Some((p, s)))
            }
            7 => SqlType::Text,
            8 => SqlType::Varchar(r.u32()?),
            9 => SqlType::Bytea,
            10 => SqlType::Timestamp,
            other => return Err(r.corrupt(&format!("unknown type code {other}"))),
        })
    }
}

/// Splits `[schema.]name` into (schema, name), checking both identifiers.
pub(crate) fn qualify(default_schema: &str, name: &ast::ObjectName) -> Result<(String, String)> {
    let parts = object_parts(name)?;
    let (schema, obj) = match parts.as_slice() {
        [n] => (default_schema.to_string(), n.clone()),
        [s, n] => (s.clone(), n.clone()),
        _ => return unsupported_feature(format!("name {name} with more than two parts")),
    };
    check_ident(&schema)?;
    check_ident(&obj)?;
    Ok((schema, obj))
}

fn unsupported_feature<T>(what: impl Into<String>) -> Result<T> {
    Err(SqlError::Unsupported { feature: what.into() })
}

pub(crate) fn new_table_def(
    schema: &str,
    name: &str,
    columns: Vec<ColumnDef>,
    primary_key: Vec<usize>,
    indexes: Vec<IndexDef>,
    checks: Vec<CheckDef>,
) -> TableDef {
    TableDef::new(schema.into(), name.into(), columns, primary_key, indexes, checks)
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

/// Reads a table definition from a schema blob holding the text of its
/// `CREATE TABLE` statement (see the module docs). `store_name` must be
/// the name the statement declares.
pub(crate) fn table_def_from_text(bytes: &[u8], store_name: &str) -> Result<TableDef> {
    let corrupt = |reason: String| SqlError::CorruptCatalog { name: store_name.into(), reason };
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("CREATE TABLE text is not UTF-8".into()))?;
    let mut stmts = Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(64)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| corrupt(syntax(e).to_string()))?;
    let (Some(ast::Statement::CreateTable(ct)), true) = (stmts.pop(), stmts.is_empty()) else {
        return Err(corrupt("expected exactly one CREATE TABLE statement".into()));
    };
    let parts = object_parts(&ct.name)?;
    let [schema, name] = parts.as_slice() else {
        return Err(corrupt(format!("table name {} is not schema-qualified", ct.name)));
    };
    if self::store_name(schema, name) != store_name {
        return Err(corrupt(format!("the statement declares {schema}.{name}")));
    }
    if ct.columns.is_empty() || ct.columns.len() > MAX_COLUMNS {
        return Err(corrupt(format!("{} columns", ct.columns.len())));
    }
    let mut t = new_table_def(schema, name, vec![], vec![], vec![], vec![]);
    let mut pk = Vec::new();
    let mut uniques = Vec::new();
    for c in &ct.columns {
        column_def_typed(c, lenient_type(&c.data_type)?, &mut t, &mut pk, &mut uniques)?;
    }
    for con in &ct.constraints {
        if let ast::TableConstraint::PrimaryKey { columns, .. } = con {
            if !pk.is_empty() {
                return Err(corrupt("two primary keys".into()));
            }
            for ic in columns {
                let ast::Expr::Identifier(id) = &ic.column.expr else {
                    return Err(corrupt(format!("key expression {}", ic.column.expr)));
                };
                let n = ident_name(id);
                let i = t.column_index(&n).ok_or_else(|| corrupt(format!("key column {n:?} is not a column")))?;
                t.columns[i].not_null = true;
                pk.push(i);
            }
        }
    }
    t.primary_key = pk;
    Ok(t)
}

/// A column type of a platform table: precisions beyond what NUMERIC(p, s)
/// checks (p > 28, e.g. the chain's NUMERIC(38,0) balances) read as NUMERIC.
pub(crate) fn lenient_type(dt: &ast::DataType) -> Result<SqlType> {
    match SqlType::from_ast(dt) {
        Ok(t) => Ok(t),
        Err(e) => match dt {
            ast::DataType::Numeric(_) | ast::DataType::Decimal(_) | ast::DataType::Dec(_) => Ok(SqlType::Numeric(None)),
            _ => Err(e),
        },
    }
}

pub(crate) fn column_def(
    c: &ast::ColumnDef,
    t: &mut TableDef,
    pk: &mut Vec<usize>,
    uniques: &mut Vec<Vec<usize>>,
) -> Result<()> {
    column_def_typed(c, SqlType::from_ast(&c.data_type)?, t, pk, uniques)
}

pub(crate) fn column_def_typed(
    c: &ast::ColumnDef,
    ty: SqlType,
    t: &mut TableDef,
    pk: &mut Vec<usize>,
    uniques: &mut Vec<Vec<usize>>,
) -> Result<()> {
    let name = ident_name(&c.name);
    check_ident(&name)?;
    if t.column_index(&name).is_some() {
        return Err(SqlError::ObjectExists { kind: "column", name });
    }
    let idx = t.columns.len();
    let mut col = ColumnDef { name: name.clone(), ty, not_null: false, default: None };
    for o in &c.options {
        match &o.option {
            ast::ColumnOption::Null => {}
            ast::ColumnOption::NotNull => col.not_null = true,
            ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
            ast::ColumnOption::Unique { is_primary: true, .. } => {
                if !pk.is_empty() {
                    return Err(SqlError::Syntax {
                        message: format!("multiple primary keys for table {:?}", t.name),
                        pos: Pos::UNKNOWN,
                    });
                }
                pk.push(idx);
                col.not_null = true;
            }
            ast::ColumnOption::Unique { is_primary: false, .. } => uniques.push(vec![idx]),
            ast::ColumnOption::Check(e) => {
                let cname = o.name.as_ref().map(ident_name).unwrap_or_else(|| format!("{}_{}_check", t.name, name));
                t.checks.push(CheckDef { name: cname, expr: e.to_string() });
            }
            ast::ColumnOption::ForeignKey { .. } => return unsupported_feature("foreign keys"),
            other => return unsupported_feature(format!("column option {other}")),
        }
    }
    t.columns.push(col);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_blob_roundtrip_and_corruption() {
        let t = TableDef::new(
            "public".into(),
            "accounts".into(),
            vec![
                ColumnDef { name: "id".into(), ty: SqlType::Varchar(64), not_null: true, default: None },
                ColumnDef {
                    name: "balance".into(),
                    ty: SqlType::Numeric(Some((20, 2))),
                    not_null: false,
                    default: Some("0".into()),
                },
            ],
            vec![0],
            vec![IndexDef { name: "accounts_balance_idx".into(), columns: vec![1], unique: false }],
            vec![CheckDef { name: "accounts_balance_check".into(), expr: "balance >= 0".into() }],
        );
        let meta = encode_table(&t);
        match decode_relation(&meta.schema, "x").unwrap() {
            Relation::Table(d) => assert_eq!(*d, t),
            other => panic!("{other:?}"),
        }
        for cut in 0..meta.schema.len() {
            assert!(decode_relation(&meta.schema[..cut], "x").is_err());
        }
        let mut extra = meta.schema.clone();
        extra.push(0);
        assert!(decode_relation(&extra, "x").is_err());
    }
}
