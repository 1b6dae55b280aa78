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
//!
//! [`SqlError::Unsupported`]: crate::SqlError::Unsupported

use aergo_store::{TableStore, Value};

use crate::context::ExecContext;
use crate::engine::Engine;
use crate::error::Result;
use crate::gas::Gas;
use crate::run::host::HostCall;

pub use crate::names::{is_host_name, HOST_PREFIX};

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
    ///
    /// [`SqlError::UnknownFunction`]: crate::SqlError::UnknownFunction
    /// [`SqlError::WrongArity`]: crate::SqlError::WrongArity
    fn call(&mut self, name: &str, args: Vec<Value>, env: HostEnv<'_>) -> Result<Value>;
}

/// A host with the engine attached, as execution calls it: builds the
/// [`HostEnv`] (which names the engine, so `run/` need not).
pub(crate) struct Hosted<'e, 'h> {
    pub engine: &'e Engine,
    pub host: &'h mut dyn Host,
}

impl HostCall for Hosted<'_, '_> {
    fn call(
        &mut self,
        name: &str,
        args: Vec<Value>,
        store: &mut dyn TableStore,
        gas: &mut Gas,
        ctx: &ExecContext,
        call_depth: usize,
    ) -> Result<Value> {
        self.host.call(name, args, HostEnv { store, gas, ctx, engine: self.engine, call_depth })
    }
}
