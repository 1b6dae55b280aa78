//! Pre-confirmations: a block producer's signed promise, given as a
//! transaction arrives, of the place and the result the transaction will
//! have in the producer's next block.
//!
//! A producer keeps a *pending block*: its next block, opened on a parent
//! with a fixed height and timestamp, to which each admitted transaction
//! is applied at once, in arrival order. For a transaction applied at
//! position `index` it signs a [`Preconfirmation`] saying: "my block at
//! `height` on `parent` holds `tx_hash` at `index`, with this receipt".
//! The receipt carried is the one the sealed block will hold: its Merkle
//! leaf ([`Receipt::merkle_hash`]) covers status, return value, fee, gas
//! and events, and none of what only sealing fixes (block hash and
//! number), so the promise can be checked leaf for leaf against the
//! block's receipts root.
//!
//! `pending_digest` commits to the whole pending block up to and including
//! the transaction: a hash chain over the parent, height and timestamp and
//! then each (tx hash, receipt leaf) in order ([`pending_digest_start`],
//! [`pending_digest_step`]). The state after a prefix is a function of the
//! parent state and the prefix, so this digest names the pending state as
//! well as its state root would, and costs one hash per transaction where
//! a state root costs a flush of every changed table (milliseconds: the
//! whole latency budget). Anyone holding the sealed block recomputes it.
//!
//! A promise is *broken* by a block signed by the same producer at the
//! same height on the same parent whose transaction or receipt at `index`
//! differs (or which has fewer transactions). The checks that need keys
//! are in `aergo-crypto` (`sign_preconf`, `verify_preconf`,
//! `find_breach`); this module holds the message, its canonical signing
//! bytes and its encodings.

use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{merkle_fold, Hash, Receipt, Result, TypesError};

/// Domain tag of a pre-confirmation's signing bytes: a signature over
/// them can never be mistaken for one over a transaction or a header.
const SIGNING_DOMAIN: &[u8] = b"AERGO-PRECONF-1\0";
/// Domain tag of what a producer signs: the root of a group of promises.
const BATCH_DOMAIN: &[u8] = b"AERGO-PRECONF-BATCH-1\0";
/// Domain tag of the first pending digest of a block.
const DIGEST_DOMAIN: &[u8] = b"AERGO-PENDING-1\0";

/// Largest encoded pre-confirmation accepted (a receipt's bound plus
/// the fixed fields).
pub const PRECONF_MAX_BYTES: usize = 256 * 1024;

/// A producer's signed promise of one transaction's place and result.
#[derive(Clone, PartialEq, Message)]
pub struct Preconfirmation {
    /// The chain's id hash (what every transaction of it carries).
    #[prost(bytes = "vec", tag = "1")]
    pub chain_id_hash: Vec<u8>,
    /// The block the promised block builds on.
    #[prost(bytes = "vec", tag = "2")]
    pub parent: Vec<u8>,
    /// The promised block's height (the parent's plus one).
    #[prost(uint64, tag = "3")]
    pub height: u64,
    /// The promised block's timestamp, fixed when it was opened.
    #[prost(int64, tag = "4")]
    pub timestamp_ns: i64,
    /// The transaction's position in the block.
    #[prost(uint32, tag = "5")]
    pub index: u32,
    #[prost(bytes = "vec", tag = "6")]
    pub tx_hash: Vec<u8>,
    /// The receipt the block will hold for it (block hash and number
    /// empty: sealing fills them, and the Merkle leaf leaves them out).
    #[prost(message, optional, tag = "7")]
    pub receipt: Option<Receipt>,
    /// The pending block's digest after this transaction.
    #[prost(bytes = "vec", tag = "8")]
    pub pending_digest: Vec<u8>,
    /// The producer's public key, 33 bytes compressed.
    #[prost(bytes = "vec", tag = "9")]
    pub producer: Vec<u8>,
    /// Strict DER, low-s signature of [`Preconfirmation::signed_hash`]:
    /// one signature covers a group of promises signed together.
    #[prost(bytes = "vec", tag = "10")]
    pub signature: Vec<u8>,
    /// This promise's leaf in its group's Merkle tree.
    #[prost(uint32, tag = "11")]
    pub batch_index: u32,
    /// The sibling hashes from this promise's leaf to the group's root
    /// (empty for a group of one).
    #[prost(bytes = "vec", repeated, tag = "12")]
    pub batch_path: Vec<Vec<u8>>,
}

/// Deepest group Merkle path accepted (2^32 promises).
pub const MAX_BATCH_PATH: usize = 32;

fn hash_field(what: &'static str, bytes: &[u8]) -> Result<Hash> {
    Ok(Hash::from_slice(what, bytes)?)
}

impl Preconfirmation {
    pub fn chain_id_hash(&self) -> Result<Hash> {
        hash_field("preconf chain id hash", &self.chain_id_hash)
    }

    pub fn parent(&self) -> Result<Hash> {
        hash_field("preconf parent", &self.parent)
    }

    pub fn tx_hash(&self) -> Result<Hash> {
        hash_field("preconf tx hash", &self.tx_hash)
    }

    pub fn pending_digest(&self) -> Result<Hash> {
        hash_field("preconf pending digest", &self.pending_digest)
    }

    pub fn receipt(&self) -> Result<&Receipt> {
        self.receipt.as_ref().ok_or(TypesError::MissingField { what: "preconf", field: "receipt" })
    }

    /// SHA-256 of the canonical signing bytes: every field but the
    /// signature and the group fields, the receipt by its Merkle leaf. This
    /// is the promise's leaf in its group (see
    /// [`Preconfirmation::signed_hash`]). Errors on a field of the
    /// wrong length or a receipt out of bounds.
    pub fn signing_hash(&self) -> Result<Hash> {
        let receipt = self.receipt()?;
        if receipt.tx_hash != self.tx_hash {
            return Err(TypesError::Decode {
                what: "preconf",
                reason: "the receipt is for another transaction than the one promised".into(),
            });
        }
        if self.producer.len() != 33 {
            return Err(TypesError::AddressLength { expected: 33, found: self.producer.len() });
        }
        let mut h = Sha256::new();
        h.update(SIGNING_DOMAIN);
        h.update(self.chain_id_hash()?.as_bytes());
        h.update(self.parent()?.as_bytes());
        h.update(self.height.to_be_bytes());
        h.update(self.timestamp_ns.to_be_bytes());
        h.update(self.index.to_be_bytes());
        h.update(self.tx_hash()?.as_bytes());
        h.update(receipt.merkle_hash()?.as_bytes());
        h.update(self.pending_digest()?.as_bytes());
        h.update(&self.producer);
        Ok(Hash(h.finalize().into()))
    }

    /// The root of the group this promise was signed in: its
    /// [`Preconfirmation::signing_hash`] folded with `batch_path`.
    pub fn batch_root(&self) -> Result<Hash> {
        if self.batch_path.len() > MAX_BATCH_PATH {
            return Err(TypesError::TooLarge {
                what: "preconf batch path",
                found: self.batch_path.len(),
                limit: MAX_BATCH_PATH,
            });
        }
        let path = self.batch_path.iter().map(|h| hash_field("preconf batch path", h)).collect::<Result<Vec<_>>>()?;
        Ok(merkle_fold(&self.signing_hash()?, u64::from(self.batch_index), &path))
    }

    /// What the producer's signature is over: the group root, domain-tagged.
    pub fn signed_hash(&self) -> Result<Hash> {
        Ok(batch_signed_hash(&self.batch_root()?))
    }

    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes untrusted bytes ([`PRECONF_MAX_BYTES`] at most).
    pub fn decode_bounded(bytes: &[u8]) -> Result<Preconfirmation> {
        if bytes.len() > PRECONF_MAX_BYTES {
            return Err(TypesError::TooLarge { what: "encoded preconf", found: bytes.len(), limit: PRECONF_MAX_BYTES });
        }
        Preconfirmation::decode(bytes).map_err(|e| TypesError::Decode { what: "preconf", reason: e.to_string() })
    }

    /// The JSON the API answers with and `aergo preconf verify` reads:
    /// readable fields for people, and `raw`, the hex of the encoding,
    /// which is what a verifier checks.
    pub fn to_json(&self) -> Value {
        let b58 = |b: &[u8]| Hash::from_slice("", b).map(|h| h.to_string()).unwrap_or_else(|_| hex::encode(b));
        let receipt = self.receipt.as_ref();
        json!({
            "chainIdHash": b58(&self.chain_id_hash),
            "parent": b58(&self.parent),
            "height": self.height,
            "timestampNs": self.timestamp_ns,
            "index": self.index,
            "txHash": b58(&self.tx_hash),
            "status": receipt.map(|r| r.status.clone()),
            "ret": receipt.map(|r| r.ret.clone()),
            "gasUsed": receipt.map(|r| r.gas_used),
            "receiptHash": receipt.and_then(|r| r.merkle_hash().ok()).map(|h| h.to_string()),
            "pendingDigest": b58(&self.pending_digest),
            "producer": hex::encode(&self.producer),
            "signature": hex::encode(&self.signature),
            "batchIndex": self.batch_index,
            "batchPath": self.batch_path.iter().map(hex::encode).collect::<Vec<_>>(),
            "raw": hex::encode(self.encode()),
        })
    }

    /// Reads what [`Preconfirmation::to_json`] wrote (only `raw` counts),
    /// or the bare hex of the encoding.
    pub fn from_json_or_hex(text: &str) -> Result<Preconfirmation> {
        let text = text.trim();
        let raw = if text.starts_with('{') {
            let v: Value = serde_json::from_str(text)
                .map_err(|e| TypesError::Decode { what: "preconf JSON", reason: e.to_string() })?;
            match v.get("raw").and_then(Value::as_str) {
                Some(raw) => raw.to_string(),
                None => return Err(TypesError::MissingField { what: "preconf JSON", field: "raw" }),
            }
        } else {
            text.to_string()
        };
        if raw.len() > 2 * PRECONF_MAX_BYTES {
            return Err(TypesError::TooLarge { what: "preconf hex", found: raw.len(), limit: 2 * PRECONF_MAX_BYTES });
        }
        let bytes = hex::decode(raw.strip_prefix("0x").unwrap_or(&raw))
            .map_err(|e| TypesError::Decode { what: "preconf hex", reason: e.to_string() })?;
        Preconfirmation::decode_bounded(&bytes)
    }
}

/// What a producer signs for a group of promises whose Merkle root (over
/// their [`Preconfirmation::signing_hash`]es) is `root`.
pub fn batch_signed_hash(root: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(BATCH_DOMAIN);
    h.update(root.as_bytes());
    Hash(h.finalize().into())
}

/// The digest of a pending block before any transaction.
pub fn pending_digest_start(chain_id_hash: &Hash, parent: &Hash, height: u64, timestamp_ns: i64) -> Hash {
    let mut h = Sha256::new();
    h.update(DIGEST_DOMAIN);
    h.update(chain_id_hash.as_bytes());
    h.update(parent.as_bytes());
    h.update(height.to_be_bytes());
    h.update(timestamp_ns.to_be_bytes());
    Hash(h.finalize().into())
}

/// The digest after one more transaction with this receipt leaf.
pub fn pending_digest_step(previous: &Hash, tx_hash: &Hash, receipt_leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update(tx_hash.as_bytes());
    h.update(receipt_leaf.as_bytes());
    Hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Preconfirmation {
        let tx_hash = Hash::sha256(b"tx");
        Preconfirmation {
            chain_id_hash: Hash::sha256(b"chain").to_vec(),
            parent: Hash::sha256(b"parent").to_vec(),
            height: 7,
            timestamp_ns: 1_700_000_000_000_000_000,
            index: 3,
            tx_hash: tx_hash.to_vec(),
            receipt: Some(Receipt {
                status: "SUCCESS".into(),
                tx_hash: tx_hash.to_vec(),
                fee_used: vec![1],
                cumulative_fee_used: vec![4],
                gas_used: 100_000,
                ..Default::default()
            }),
            pending_digest: Hash::sha256(b"digest").to_vec(),
            producer: vec![2; 33],
            signature: vec![0x30, 1, 2],
            batch_index: 0,
            batch_path: Vec::new(),
        }
    }

    #[test]
    fn every_signed_field_changes_the_signing_hash() {
        let base = sample().signing_hash().unwrap();
        let mut variants: Vec<Preconfirmation> = Vec::new();
        let mut p = sample();
        p.chain_id_hash = Hash::sha256(b"other").to_vec();
        variants.push(p);
        let mut p = sample();
        p.parent = Hash::sha256(b"other").to_vec();
        variants.push(p);
        let mut p = sample();
        p.height += 1;
        variants.push(p);
        let mut p = sample();
        p.timestamp_ns += 1;
        variants.push(p);
        let mut p = sample();
        p.index += 1;
        variants.push(p);
        let mut p = sample();
        p.receipt.as_mut().unwrap().ret = "1".into();
        variants.push(p);
        let mut p = sample();
        p.receipt.as_mut().unwrap().gas_used += 1;
        variants.push(p);
        let mut p = sample();
        p.pending_digest = Hash::sha256(b"other").to_vec();
        variants.push(p);
        let mut p = sample();
        p.producer = vec![3; 33];
        variants.push(p);
        for v in variants {
            assert_ne!(v.signing_hash().unwrap(), base);
        }
        // The signature itself is not signed.
        let mut p = sample();
        p.signature = vec![9];
        assert_eq!(p.signing_hash().unwrap(), base);
    }

    #[test]
    fn a_group_of_one_signs_its_leaf_and_a_path_moves_the_root() {
        let p = sample();
        assert_eq!(p.batch_root().unwrap(), p.signing_hash().unwrap());
        let mut q = sample();
        q.batch_path = vec![Hash::sha256(b"sibling").to_vec()];
        assert_ne!(q.signed_hash().unwrap(), p.signed_hash().unwrap());
        q.batch_path = vec![vec![0; 31]];
        assert!(q.batch_root().is_err());
        q.batch_path = vec![vec![0; 32]; MAX_BATCH_PATH + 1];
        assert!(matches!(q.batch_root(), Err(TypesError::TooLarge { .. })));
    }

    #[test]
    fn malformed_fields_are_errors() {
        let mut p = sample();
        p.parent = vec![1; 31];
        assert!(p.signing_hash().is_err());
        let mut p = sample();
        p.receipt = None;
        assert!(matches!(p.signing_hash(), Err(TypesError::MissingField { .. })));
        let mut p = sample();
        p.receipt.as_mut().unwrap().tx_hash = vec![0; 32];
        assert!(p.signing_hash().is_err());
        let mut p = sample();
        p.producer = vec![2; 32];
        assert!(p.signing_hash().is_err());
        assert!(Preconfirmation::from_json_or_hex("{\"height\": 1}").is_err());
        assert!(Preconfirmation::from_json_or_hex("zz").is_err());
        assert!(Preconfirmation::decode_bounded(&vec![0u8; PRECONF_MAX_BYTES + 1]).is_err());
    }

    #[test]
    fn json_and_hex_round_trip() {
        let p = sample();
        let json = p.to_json().to_string();
        assert_eq!(Preconfirmation::from_json_or_hex(&json).unwrap(), p);
        assert_eq!(Preconfirmation::from_json_or_hex(&hex::encode(p.encode())).unwrap(), p);
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(p) = Preconfirmation::decode_bounded(&bytes) {
                let _ = p.signing_hash();
                let _ = p.to_json();
            }
        }

        #[test]
        fn digests_chain_in_order(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            let start = pending_digest_start(&Hash(a), &Hash(b), 1, 2);
            let (x, y) = (Hash::sha256(&a), Hash::sha256(&b));
            let xy = pending_digest_step(&pending_digest_step(&start, &x, &y), &y, &x);
            let yx = pending_digest_step(&pending_digest_step(&start, &y, &x), &x, &y);
            prop_assert_ne!(xy, yx);
        }
    }
}
