//! Host calls from SQL: what the runtime sees of a [`crate::host::Host`].

use aergo_store::{TableStore, Value};

use crate::context::ExecContext;
use crate::error::{Result, SqlError};
use crate::gas::Gas;

use super::cx::Cx;

/// A host as execution sees it: [`crate::host::Host`] with the engine
/// already attached (the engine wraps it; see `host.rs`).
pub(crate) trait HostCall {
    fn call(
        &mut self,
        name: &str,
        args: Vec<Value>,
        store: &mut dyn TableStore,
        gas: &mut Gas,
        ctx: &ExecContext,
        call_depth: usize,
    ) -> Result<Value>;
}

/// Evaluates a bound host call.
pub(crate) fn call_host(name: &str, args: Vec<Value>, cx: &mut Cx<'_>) -> Result<Value> {
    cx.gas.charge(cx.schedule.call)?;
    let Some(host) = cx.host.take() else {
        return Err(SqlError::Unsupported {
            feature: format!("{name}() without a host (it exists only inside chain transactions and API queries)"),
        });
    };
    let r = host.call(name, args, &mut *cx.store, &mut *cx.gas, cx.ctx, cx.call_depth);
    cx.host = Some(host);
    r
}
