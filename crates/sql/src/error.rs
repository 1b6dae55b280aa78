//! The one error type of the SQL engine.

use std::fmt;

/// A position in SQL text (1-based line and column; 0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    pub fn new(line: u64, column: u64) -> Pos {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str("unknown position")
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// Everything that can go wrong while parsing, planning or executing SQL.
///
/// Every error leaves the state unchanged: the engine rolls back to the
/// savepoint it took before the statement or call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SqlError {
    #[error("syntax error at {pos}: {message}")]
    Syntax { message: String, pos: Pos },
    #[error("{feature} is not supported by AergoSQL")]
    Unsupported { feature: String },
    #[error("{kind} {name:?} does not exist (at {pos})")]
    UnknownObject { kind: &'static str, name: String, pos: Pos },
    #[error("column {name:?} does not exist (at {pos})")]
    UnknownColumn { name: String, pos: Pos },
    #[error("column reference {name:?} is ambiguous (at {pos})")]
    AmbiguousColumn { name: String, pos: Pos },
    #[error("function {name}({arity} arguments) does not exist (at {pos})")]
    UnknownFunction { name: String, arity: usize, pos: Pos },
    #[error("{kind} {name:?} already exists")]
    ObjectExists { kind: &'static str, name: String },
    #[error("type error in {context}: expected {expected}, found {found}")]
    TypeMismatch { context: String, expected: String, found: String },
    #[error("invalid input for type {ty}: {input:?}")]
    InvalidValue { ty: String, input: String },
    #[error("null value in column {column:?} of table {table:?} violates not-null constraint")]
    NotNullViolation { table: String, column: String },
    #[error("duplicate key value violates unique constraint {constraint:?} on table {table:?}")]
    UniqueViolation { table: String, constraint: String },
    #[error("new row for table {table:?} violates check constraint {constraint:?}")]
    CheckViolation { table: String, constraint: String },
    #[error("division by zero")]
    DivisionByZero,
    #[error("numeric value out of range: {context}")]
    NumericOutOfRange { context: String },
    #[error("non-deterministic construct {construct} is not allowed: {hint}")]
    NonDeterministic { construct: String, hint: &'static str },
    #[error("out of gas: limit {limit}, needed more than that")]
    OutOfGas { limit: u64 },
    #[error("result too large: {what} exceeds the limit of {limit}")]
    ResultTooLarge { what: &'static str, limit: u64 },
    #[error("limit exceeded: {what} exceeds {limit}")]
    LimitExceeded { what: &'static str, limit: u64 },
    #[error("cannot write to schema {schema:?} from this session")]
    WriteDenied { schema: String },
    #[error("this session is read-only: {statement} is not allowed")]
    ReadOnly { statement: String },
    #[error("more than one row returned by a subquery used as an expression")]
    CardinalityViolation,
    #[error("query returned no rows (SELECT INTO STRICT)")]
    NoDataFound,
    #[error("query returned more than one row (SELECT INTO STRICT)")]
    TooManyRows,
    #[error("{message}")]
    Raised { message: String },
    #[error("function {function:?} ended without RETURN")]
    NoReturn { function: String },
    #[error("wrong number of arguments for {function}: expected {expected}, got {got}")]
    WrongArity { function: String, expected: String, got: usize },
    #[error("PL/pgSQL error in function {function:?} at line {line}: {message}")]
    Plpgsql { function: String, line: u64, message: String },
    #[error("the catalogue entry of {name:?} is corrupt: {reason}")]
    CorruptCatalog { name: String, reason: String },
    /// The storage layer failed (missing or corrupt node, backend I/O): the
    /// node is broken, not the statement. See [`SqlError::is_node_failure`].
    #[error("storage error: {message}")]
    Store { message: String },
    /// The store refused an operation for a reason that depends only on the
    /// operation and the state (a key or value over the store's size bounds,
    /// a read-only view, an overlay over its size budget): a property of the
    /// statement, the same on every node.
    #[error("the store refused the operation: {message}")]
    StoreRefused { message: String },
    /// A broken invariant inside the engine. Deterministic (a bug, the same
    /// on every node), so it fails the statement rather than the node.
    #[error("internal engine error: {message}")]
    Internal { message: String },
    /// A host function (see [`crate::Host`]) refused its call.
    #[error("{function}: {message}")]
    Host { function: String, message: String },
}

impl From<aergo_store::StoreError> for SqlError {
    fn from(e: aergo_store::StoreError) -> Self {
        use aergo_store::StoreError as S;
        match e {
            S::NoSuchTable { .. }
            | S::TableExists { .. }
            | S::BadTableName { .. }
            | S::ReadOnly
            | S::KeyTooLarge { .. }
            | S::ValueTooLarge { .. }
            | S::ValueTooSmall { .. }
            | S::LimitExceeded { .. } => SqlError::StoreRefused { message: e.to_string() },
            other => SqlError::Store { message: other.to_string() },
        }
    }
}

impl SqlError {
    /// True when the error says this machine's storage failed, not the SQL:
    /// a caller that must stay deterministic (block execution) aborts
    /// instead of recording the error as the statement's outcome, because
    /// another node would not see it. Everything else, a corrupt catalogue
    /// entry included (the state is content-addressed, so every node holds
    /// the same entry), is a property of the statement and the state.
    pub fn is_node_failure(&self) -> bool {
        matches!(self, SqlError::Store { .. })
    }

    /// The PostgreSQL condition name of this error, as matched by
    /// `EXCEPTION WHEN <condition>` in PL/pgSQL. `None` for errors that no
    /// handler may catch (gas, resource limits, node failures), so a contract
    /// cannot swallow them and keep running.
    pub fn condition_name(&self) -> Option<&'static str> {
        Some(match self {
            SqlError::OutOfGas { .. } | SqlError::ResultTooLarge { .. } | SqlError::LimitExceeded { .. } => {
                return None
            }
            // A broken node must stop the block, not be handled as data.
            e if e.is_node_failure() => return None,
            SqlError::DivisionByZero => "division_by_zero",
            SqlError::UniqueViolation { .. } => "unique_violation",
            SqlError::NotNullViolation { .. } => "not_null_violation",
            SqlError::CheckViolation { .. } => "check_violation",
            SqlError::NumericOutOfRange { .. } => "numeric_value_out_of_range",
            SqlError::NoDataFound => "no_data_found",
            SqlError::TooManyRows => "too_many_rows",
            SqlError::Raised { .. } => "raise_exception",
            SqlError::CardinalityViolation => "cardinality_violation",
            SqlError::InvalidValue { .. } => "invalid_text_representation",
            SqlError::TypeMismatch { .. } => "datatype_mismatch",
            _ => "others_only",
        })
    }
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// A broken internal invariant (a bug, never the input's fault).
pub(crate) fn internal(msg: impl Into<String>) -> SqlError {
    SqlError::Internal { message: msg.into() }
}

/// A sqlparser error as [`SqlError::Syntax`], at the position it names.
pub(crate) fn syntax(e: sqlparser::parser::ParserError) -> SqlError {
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
