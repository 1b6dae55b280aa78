//! Gas: the metering that makes every statement and call end.
//!
//! Each operator charges for the work it does, from the [`GasSchedule`]:
//!
//! | what | charge |
//! |---|---|
//! | statement executed (top level or inside a function) | `statement` |
//! | row read from a table or index (point lookup or scan step) | `row_read` + `byte_read` × row bytes |
//! | row written or deleted (table or index entry) | `row_write` + `byte_write` × row bytes |
//! | expression node evaluated | `expr_step` |
//! | PL/pgSQL statement executed | `pl_step` |
//! | row sorted, grouped, joined or deduplicated | `row_process` |
//! | result row returned | `row_result` + `byte_result` × row bytes |
//! | byte created: a function's or `\|\|`'s text or bytea result, a joined row, a `string_agg` part | `byte_materialize` × bytes |
//! | function call | `call` |
//!
//! Running out of gas returns [`SqlError::OutOfGas`]; the engine then rolls
//! the store back to the savepoint taken before the statement or call, so
//! nothing it wrote survives.

use crate::error::{Result, SqlError};

/// Gas prices of the elementary operations. The defaults are the chain's
/// schedule; changing them is a consensus change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasSchedule {
    pub statement: u64,
    pub row_read: u64,
    pub byte_read: u64,
    pub row_write: u64,
    pub byte_write: u64,
    pub expr_step: u64,
    pub pl_step: u64,
    pub row_process: u64,
    pub row_result: u64,
    pub byte_result: u64,
    pub call: u64,
    /// Memory is metered: bytes that execution creates (not reads) cost
    /// this much each, so a statement cannot build large values or
    /// multiply them through joins cheaply.
    pub byte_materialize: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        GasSchedule {
            statement: 100,
            row_read: 20,
            byte_read: 1,
            row_write: 200,
            byte_write: 5,
            expr_step: 1,
            pl_step: 5,
            row_process: 5,
            row_result: 10,
            byte_result: 1,
            call: 50,
            byte_materialize: 1,
        }
    }
}

/// A gas meter: a limit and what has been used so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gas {
    limit: u64,
    used: u64,
}

impl Gas {
    pub fn new(limit: u64) -> Gas {
        Gas { limit, used: 0 }
    }

    /// A meter with no practical limit, for tools and tests.
    pub fn unlimited() -> Gas {
        Gas::new(u64::MAX)
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn remaining(&self) -> u64 {
        self.limit - self.used
    }

    #[inline]
    pub fn charge(&mut self, amount: u64) -> Result<()> {
        let next = self.used.saturating_add(amount);
        if next > self.limit {
            self.used = self.limit;
            return Err(SqlError::OutOfGas { limit: self.limit });
        }
        self.used = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_stops_at_limit() {
        let mut g = Gas::new(10);
        g.charge(6).unwrap();
        assert_eq!(g.remaining(), 4);
        assert_eq!(g.charge(5), Err(SqlError::OutOfGas { limit: 10 }));
        assert_eq!(g.used(), 10);
    }
}
