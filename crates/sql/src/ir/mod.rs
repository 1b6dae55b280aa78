//! The intermediate representation: the plans, expressions, statements
//! and compiled functions that `compile/` produces and `run/` executes.
//! Data only: nothing here reads the store or needs the engine.

mod explain;
mod expr;
mod function;
mod plan;
mod statement;

pub(crate) use explain::{explain, explain_annotated};
pub(crate) use expr::*;
pub(crate) use function::*;
pub(crate) use plan::*;
pub(crate) use statement::*;
