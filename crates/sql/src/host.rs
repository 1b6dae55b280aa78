//! The host interface: functions the embedding platform provides to SQL.
//!
//! The engine knows nothing about accounts, tokens or contracts. A platform
//! that runs SQL on its behalf (the chain's executor) attaches a [`Host`] to
//! an execution; every call of a function named `aergo_<something>` that is
//! not one of the engine's own built-ins (`aergo_caller()`,
//! `aergo_contract()`, `aergo_block_height()`, `aergo_block_time()`,
//! `aergo_tx_hash()`) is handed to it with its evaluated arguments.
//!
//! Binding does not depend on the host: any such name binds to a host call,
//! so compiled plans and functions can be cached and shared between sessions
//! with different hosts (or none). Whether the name exists, its arity and
//! its argument types are checked by the host when called; without a host
//! the call fails with [`SqlError::Unsupported`]. The `aergo_` prefix is
//! reserved: `CREATE FUNCTION aergo_...` is refused.
//!
//! A host call gets a [`HostEnv`]: the same store, gas meter, context and
//! engine as the statement that made it, and the current function-call
//! depth. Through them a host may read and write the store (inside the
//! caller's savepoints, so anything it writes is undone with the statement),
//! charge gas, and run SQL of its own (nested contract calls) with
//! [`crate::Engine::call`], passing itself on as the host and
//! `call_depth + 1` so the engine's depth bound covers the whole chain of
//! calls.
//!
//! Host calls are opaque to the static access analysis: a statement or
//! function that contains one reports an [`crate::AccessSet`] with
//! `catalog_write` set (conflicts with everything).

use aergo_store::{TableStore, Value};

use crate::engine::{Engine, ExecContext};
use crate::error::{Result, SqlError};
use crate::exec::Cx;
use crate::gas::Gas;

/// The reserved prefix of host function names.
pub const HOST_PREFIX: &str = "aergo_";

/// True for names that bind to host calls (see the module docs).
pub fn is_host_name(name: &str) -> bool {
    name.starts_with(HOST_PREFIX)
}

/// What a host function may use while it runs.
pub struct HostEnv<'a> {
    pub store: &'a mut dyn TableStore,
    pub gas: &'a mut Gas,
    pub ctx: &'a ExecContext,
    pub engine: &'a Engine,
    /// Nesting of user-function calls at the point of the host call.
    pub call_depth: usize,
}

/// Functions provided by the platform. See the module docs.
pub trait Host {
    /// Runs host function `name` (lowercase, starting with
    /// [`HOST_PREFIX`]) on `args`. Errors fail the calling statement like
    /// any SQL error; an unknown name or a wrong argument count should be
    /// [`SqlError::UnknownFunction`] / [`SqlError::WrongArity`].
    fn call(&mut self, name: &str, args: Vec<Value>, env: HostEnv<'_>) -> Result<Value>;
}

/// Evaluates a bound host call.
pub(crate) fn call_host(name: &str, args: Vec<Value>, cx: &mut Cx<'_>) -> Result<Value> {
    cx.gas.charge(cx.schedule.call)?;
    let Some(host) = cx.host.take() else {
        return Err(SqlError::Unsupported {
            feature: format!("{name}() without a host (it exists only inside chain transactions and API queries)"),
        });
    };
    let r = host.call(
        name,
        args,
        HostEnv { store: &mut *cx.store, gas: &mut *cx.gas, ctx: cx.ctx, engine: cx.engine, call_depth: cx.call_depth },
    );
    cx.host = Some(host);
    r
}
