//! aergo-crypto: keys, signatures and encrypted key storage,
//! compatible with the Go Aergo node and its SDKs.
//!
//! Owns: [`PrivateKey`]/[`PublicKey`] (secp256k1 via libsecp256k1; the
//! account address of a key is its compressed public key), [`Signature`]
//! (DER ECDSA, low s), signing and verifying transactions
//! ([`sign_tx`]/[`verify_tx`]), block headers ([`sign_block`]/
//! [`verify_block_header`]) and pre-confirmations ([`sign_preconf`]/
//! [`verify_preconf`], and [`find_breach`], which checks a block against
//! one), evidence of misbehaviour ([`check_evidence`]: which producer
//! signed two blocks or two votes for one slot, or broke a promise),
//! deterministic development keys ([`dev_key`])
//! and a dev genesis built from them ([`dev_genesis`]), encrypted key
//! storage ([`keystore`]: the Go node's key files in a directory, and the
//! exported-key text of `aergocli account export`), libp2p peer ids of
//! keys ([`PublicKey::peer_id`], [`PublicKey::from_peer_id`]), and a
//! verification-speed probe ([`measure_verify_rate`]).
//!
//! Signatures: we sign the 32-byte digest with RFC 6979 nonces and always
//! emit strict DER with low s. We verify block signatures with low s
//! required (a high-s one is rejected with [`CryptoError::HighS`]); for
//! txs we accept what the Go node's btcec accepts and the SDKs produce:
//! redundant zero padding, unpadded "negative" integers (the Python SDK)
//! and high s (the JavaScript SDK); see [`DerRules`] for why that is safe.
//!
//! Does not: look at state (a tx sent from a name needs the name resolved
//! by the caller), check anything but signatures (see
//! `aergo_types::Tx::validate` for the rest).

mod bench;
mod block;
mod dev;
mod error;
mod evidence;
mod keys;
pub mod keystore;
mod peer_id;
mod preconf;
mod signature;
mod tx;

pub use bench::{measure_verify_rate, VerifyRate};
pub use block::{sign_block, sign_block_header, verify_block_header};
pub use dev::{dev_category_key, dev_genesis, dev_key, dev_keys, DEV_ACCOUNT_LABEL};
pub use error::{CryptoError, Result};
pub use evidence::{check_evidence, Offence};
pub use keys::{PrivateKey, PublicKey, LIBP2P_PUBKEY_PREFIX, PRIVATE_KEY_VERSION};
pub use keystore::{decrypt_key, encrypt_key, export_key, import_exported_key, Keystore, ScryptParams};
pub use peer_id::PEER_ID_BYTES;
pub use preconf::{find_breach, sign_preconf, sign_preconf_as, sign_preconfs_as, verify_preconf, Breach};
pub use signature::{DerRules, Signature, MAX_DER_SIGNATURE_LEN};
pub use tx::{sign_tx, sign_tx_body, verify_tx, verify_tx_with_key};
