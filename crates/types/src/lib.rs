//! aergo-types: the chain's values and their canonical encodings,
//! compatible with the Go Aergo node (aergoio/aergo).
//!
//! Owns: [`Hash`] (SHA-256), [`Address`] (33-byte account keys, contract
//! addresses, names; base58check "Am..." text), [`Amount`] (exact u128 aer
//! with aer/gaer/aergo units), [`ChainId`] and its hash, and the
//! transaction messages [`TxBody`]/[`Tx`] with the Go node's field numbers,
//! tx hash and signing hash.
//!
//! Wire structs are prost derives written by hand to match the Go node's
//! `blockchain.proto` (no build script), so stored and gossiped bytes are the
//! Go node's bytes. Every decoder of untrusted bytes is bounded and returns
//! [`TypesError`], never panics.
//!
//! Does not: sign or verify (that is `aergo-crypto`), know any state, or
//! check anything that needs state (nonces, balances, names).

pub mod address;
pub mod amount;
pub mod chain_id;
mod error;
pub mod hash;
pub mod merkle;
pub mod tx;

pub use address::Address;
pub use amount::{Amount, Unit};
pub use chain_id::ChainId;
pub use error::{Result, TypesError};
pub use hash::Hash;
pub use merkle::merkle_root;
pub use tx::{Tx, TxBody, TxList, TxType, TX_MAX_SIZE_BYTES};
