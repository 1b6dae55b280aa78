//! aergo-types: the chain's values and their canonical encodings,
//! compatible with the Go Aergo node (aergoio/aergo).
//!
//! Owns:
//! - [`Hash`](struct@Hash) (SHA-256, printed in base58) and the Go node's binary Merkle
//!   root ([`merkle_root`]);
//! - [`Address`]: 33-byte account keys, contract addresses
//!   ([`Address::contract_from`], the Go `CreateContractID`) and names;
//!   text form base58check with version 0x42 ("Am...");
//! - [`Amount`]: exact u128 aer, parsed and printed with aer/gaer/aergo;
//! - [`ChainId`] and its hash, the `chainIdHash` every tx carries;
//! - transactions [`TxBody`]/[`Tx`] ([`TxType`] with the Go values), the
//!   tx hash and signing hash, and stateless validation ([`Tx::validate`]);
//! - blocks [`BlockHeader`]/[`Block`]: block hash, header signing bytes,
//!   txs root, structural validation; our state root goes in
//!   `blocks_root_hash`;
//! - receipts [`Receipt`]/[`Event`]: the Go V2 Merkle leaf and
//!   [`receipts_root`];
//! - [`Preconfirmation`]: a producer's signed promise of a transaction's
//!   place and result in its next block, and the pending-block digest;
//! - [`Evidence`]: proof that a producer signed two blocks or two votes
//!   for one slot, or broke a pre-confirmation, with compact Merkle
//!   proofs of a block's content;
//! - [`RejectReason`]: the stable codes of why a transaction is refused,
//!   shared by every crate that refuses one;
//! - [`Genesis`]: the genesis JSON with the whitepaper allocation
//!   (30/30/25/10/5% of 500,000,000 AERGO), its validation and the genesis
//!   block;
//! - [`payload`]: the payloads a contract deploy, a contract call and an
//!   `aergo.system` call carry, built and parsed by the same code for the
//!   executor and the clients.
//!
//! Wire structs are prost derives written by hand to match the Go node's
//! `blockchain.proto` field numbers (no build script, no protoc), so stored
//! and gossiped bytes are the Go node's bytes; the herapy test vectors show
//! prost re-encodes SDK-made txs byte for byte. Hashes are computed from
//! fields, never from encoded bytes, exactly as the Go node computes them.
//! Every decoder of untrusted bytes is size-bounded and returns
//! [`TypesError`] (the payload parsers its part [`payload::PayloadError`]),
//! never panics.
//!
//! Does not: sign or verify (that is `aergo-crypto`), hold or read state,
//! or check anything that needs state (nonces, balances, names, stakes) or
//! keys (a vote's candidates are peer ids: the executor checks them), or
//! build the Go node's per-block bloom filter.

pub mod address;
pub mod amount;
pub mod block;
pub mod chain_id;
mod error;
pub mod evidence;
pub mod genesis;
pub mod hash;
pub mod merkle;
pub mod payload;
pub mod preconf;
pub mod receipt;
pub mod reject;
pub mod tx;

pub use address::Address;
pub use amount::{Amount, Unit};
pub use block::{txs_root, Block, BlockBody, BlockHeader};
pub use chain_id::ChainId;
pub use error::{Result, TypesError};
pub use evidence::Evidence;
pub use genesis::{AllocationCategory, Genesis, Grant};
pub use hash::Hash;
pub use merkle::{merkle_fold, merkle_path, merkle_root};
pub use preconf::Preconfirmation;
pub use receipt::{receipts_root, Event, Receipt, ReceiptStatus};
pub use reject::RejectReason;
pub use tx::{encode_tx_batch, Tx, TxBody, TxList, TxType, TX_BATCH_MAX_BYTES, TX_BATCH_MAX_TXS, TX_MAX_SIZE_BYTES};

/// The prost version our wire structs derive from, for crates (gRPC) that
/// must use the same `prost::Message` trait.
pub use prost;
