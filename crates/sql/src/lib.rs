//! aergo-sql: not built yet.
