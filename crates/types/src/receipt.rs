//! Receipts and events: the Go node's `Receipt`/`Event` messages and the
//! receipts root.
//!
//! A receipt's Merkle leaf is SHA-256 of its canonical binary form, the Go
//! node's `MarshalMerkleBinaryV2` (in force since its V2 hard fork):
//!
//! ```text
//! contract address (raw, 33 bytes or empty)
//! status byte: SUCCESS 0, CREATED 1, ERROR 2, RECREATED 3
//! unless ERROR: ret length (u32 LE) || ret
//! tx hash (raw)
//! fee used length (u32 LE) || fee used (big-endian aer)
//! cumulative fee used length (u32 LE) || cumulative fee used
//! gas used (u64 LE)
//! fee delegation (1 byte)
//! bloom: 0, or 1 || bloom bytes
//! event count (u32 LE), then each event:
//!   contract address || name length (u32 LE) || name ||
//!   json args length (u32 LE) || json args || tx hash || event index (u32 LE)
//! ```
//!
//! The receipts root is the Go Merkle root of those leaves. We do not build
//! the Go node's block-level bloom filter (an extra last leaf there when a
//! block has events); our receipts root is over receipts only.

use crate::error::{Result, TypesError};
use crate::hash::Hash;
use crate::merkle::merkle_root;
use prost::Message;
use sha2::{Digest, Sha256};

/// Largest `ret` accepted in a receipt (bounds receipt size).
pub const RECEIPT_RET_MAX_BYTES: usize = 64 * 1024;
/// Most events one receipt may carry.
pub const RECEIPT_MAX_EVENTS: usize = 1024;

/// The outcome of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptStatus {
    Success,
    /// A contract was created.
    Created,
    Error,
    /// A contract was redeployed.
    Recreated,
}

impl ReceiptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Success => "SUCCESS",
            ReceiptStatus::Created => "CREATED",
            ReceiptStatus::Error => "ERROR",
            ReceiptStatus::Recreated => "RECREATED",
        }
    }

    pub fn parse(s: &str) -> Result<ReceiptStatus> {
        match s {
            "SUCCESS" => Ok(ReceiptStatus::Success),
            "CREATED" => Ok(ReceiptStatus::Created),
            "ERROR" => Ok(ReceiptStatus::Error),
            "RECREATED" => Ok(ReceiptStatus::Recreated),
            other => Err(TypesError::ReceiptStatus { found: other.chars().take(40).collect() }),
        }
    }

    fn code(self) -> u8 {
        match self {
            ReceiptStatus::Success => 0,
            ReceiptStatus::Created => 1,
            ReceiptStatus::Error => 2,
            ReceiptStatus::Recreated => 3,
        }
    }
}

/// A contract event (proto `types.Event`).
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Event {
    #[prost(bytes = "vec", tag = "1")]
    pub contract_address: Vec<u8>,
    #[prost(string, tag = "2")]
    pub event_name: String,
    #[prost(string, tag = "3")]
    pub json_args: String,
    #[prost(int32, tag = "4")]
    pub event_idx: i32,
    #[prost(bytes = "vec", tag = "5")]
    pub tx_hash: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub block_hash: Vec<u8>,
    #[prost(uint64, tag = "7")]
    pub block_no: u64,
    #[prost(int32, tag = "8")]
    pub tx_index: i32,
}

/// A transaction receipt (proto `types.Receipt`). `block_no`, `block_hash`
/// and `tx_index` are filled when the receipt is served; they are not part
/// of its Merkle leaf.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Receipt {
    #[prost(bytes = "vec", tag = "1")]
    pub contract_address: Vec<u8>,
    /// "SUCCESS", "CREATED", "ERROR" or "RECREATED".
    #[prost(string, tag = "2")]
    pub status: String,
    /// Return value (JSON) or error message.
    #[prost(string, tag = "3")]
    pub ret: String,
    #[prost(bytes = "vec", tag = "4")]
    pub tx_hash: Vec<u8>,
    /// Fee paid in aer, minimal big-endian.
    #[prost(bytes = "vec", tag = "5")]
    pub fee_used: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub cumulative_fee_used: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    pub bloom: Vec<u8>,
    #[prost(message, repeated, tag = "8")]
    pub events: Vec<Event>,
    #[prost(uint64, tag = "9")]
    pub block_no: u64,
    #[prost(bytes = "vec", tag = "10")]
    pub block_hash: Vec<u8>,
    #[prost(int32, tag = "11")]
    pub tx_index: i32,
    #[prost(bytes = "vec", tag = "12")]
    pub from: Vec<u8>,
    #[prost(bytes = "vec", tag = "13")]
    pub to: Vec<u8>,
    #[prost(bool, tag = "14")]
    pub fee_delegation: bool,
    #[prost(uint64, tag = "15")]
    pub gas_used: u64,
}

fn put_len_prefixed(out: &mut Vec<u8>, b: &[u8]) {
    // Lengths are bounded by the checks in `merkle_bytes`, far below u32.
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

impl Event {
    fn write_merkle(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.contract_address);
        put_len_prefixed(out, self.event_name.as_bytes());
        put_len_prefixed(out, self.json_args.as_bytes());
        out.extend_from_slice(&self.tx_hash);
        out.extend_from_slice(&(self.event_idx as u32).to_le_bytes());
    }
}

impl Receipt {
    pub fn status(&self) -> Result<ReceiptStatus> {
        ReceiptStatus::parse(&self.status)
    }

    /// The canonical binary form (Go `MarshalMerkleBinaryV2`); errors on an
    /// unknown status or out-of-bounds sizes.
    pub fn merkle_bytes(&self) -> Result<Vec<u8>> {
        let status = self.status()?;
        if self.ret.len() > RECEIPT_RET_MAX_BYTES {
            return Err(TypesError::TooLarge {
                what: "receipt ret",
                found: self.ret.len(),
                limit: RECEIPT_RET_MAX_BYTES,
            });
        }
        if self.events.len() > RECEIPT_MAX_EVENTS {
            return Err(TypesError::TooLarge {
                what: "receipt events",
                found: self.events.len(),
                limit: RECEIPT_MAX_EVENTS,
            });
        }
        for (field, len) in
            [("receipt fee used", self.fee_used.len()), ("receipt cumulative fee used", self.cumulative_fee_used.len())]
        {
            if len > 32 {
                return Err(TypesError::TooLarge { what: field, found: len, limit: 32 });
            }
        }
        for e in &self.events {
            let len = e.event_name.len() + e.json_args.len();
            if len > RECEIPT_RET_MAX_BYTES {
                return Err(TypesError::TooLarge {
                    what: "event name and args",
                    found: len,
                    limit: RECEIPT_RET_MAX_BYTES,
                });
            }
        }
        let mut out = Vec::with_capacity(128 + self.ret.len());
        out.extend_from_slice(&self.contract_address);
        out.push(status.code());
        if status != ReceiptStatus::Error {
            put_len_prefixed(&mut out, self.ret.as_bytes());
        }
        out.extend_from_slice(&self.tx_hash);
        put_len_prefixed(&mut out, &self.fee_used);
        put_len_prefixed(&mut out, &self.cumulative_fee_used);
        out.extend_from_slice(&self.gas_used.to_le_bytes());
        out.push(u8::from(self.fee_delegation));
        if self.bloom.is_empty() {
            out.push(0);
        } else {
            out.push(1);
            out.extend_from_slice(&self.bloom);
        }
        out.extend_from_slice(&(self.events.len() as u32).to_le_bytes());
        for e in &self.events {
            e.write_merkle(&mut out);
        }
        Ok(out)
    }

    /// The receipt's Merkle leaf: SHA-256 of [`Receipt::merkle_bytes`].
    pub fn merkle_hash(&self) -> Result<Hash> {
        let bytes = self.merkle_bytes()?;
        Ok(Hash(Sha256::digest(&bytes).into()))
    }

    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes untrusted proto bytes, refusing more than `limit_bytes`.
    pub fn decode_bounded(bytes: &[u8], limit_bytes: usize) -> Result<Receipt> {
        if bytes.len() > limit_bytes {
            return Err(TypesError::TooLarge { what: "encoded receipt", found: bytes.len(), limit: limit_bytes });
        }
        Receipt::decode(bytes).map_err(|e| TypesError::Decode { what: "receipt", reason: e.to_string() })
    }
}

/// The receipts root of a block: the Go Merkle root of the receipts'
/// leaves, in block order.
pub fn receipts_root(receipts: &[Receipt]) -> Result<Hash> {
    let leaves = receipts.iter().map(Receipt::merkle_hash).collect::<Result<Vec<Hash>>>()?;
    Ok(merkle_root(&leaves))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn receipt() -> Receipt {
        Receipt {
            contract_address: vec![0x0c; 33],
            status: "SUCCESS".into(),
            ret: "{\"ok\":1}".into(),
            tx_hash: vec![9; 32],
            fee_used: vec![1, 0],
            cumulative_fee_used: vec![2, 0],
            gas_used: 21_000,
            events: vec![Event {
                contract_address: vec![0x0c; 33],
                event_name: "transfer".into(),
                json_args: "[1]".into(),
                event_idx: 0,
                tx_hash: vec![9; 32],
                ..Default::default()
            }],
            block_no: 99,
            ..Default::default()
        }
    }

    /// Golden layout, assembled by hand from the Go node's
    /// `marshalBodyV2(isMerkle=true)` and `Event.MarshalMerkleBinary`.
    #[test]
    fn merkle_layout() {
        let r = receipt();
        let mut e = Vec::new();
        e.extend_from_slice(&[0x0c; 33]);
        e.push(0);
        e.extend_from_slice(&8u32.to_le_bytes());
        e.extend_from_slice(b"{\"ok\":1}");
        e.extend_from_slice(&[9; 32]);
        e.extend_from_slice(&2u32.to_le_bytes());
        e.extend_from_slice(&[1, 0]);
        e.extend_from_slice(&2u32.to_le_bytes());
        e.extend_from_slice(&[2, 0]);
        e.extend_from_slice(&21_000u64.to_le_bytes());
        e.push(0);
        e.push(0);
        e.extend_from_slice(&1u32.to_le_bytes());
        e.extend_from_slice(&[0x0c; 33]);
        e.extend_from_slice(&8u32.to_le_bytes());
        e.extend_from_slice(b"transfer");
        e.extend_from_slice(&3u32.to_le_bytes());
        e.extend_from_slice(b"[1]");
        e.extend_from_slice(&[9; 32]);
        e.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(r.merkle_bytes().unwrap(), e);
        assert_eq!(r.merkle_hash().unwrap(), Hash::sha256(&e));
    }

    #[test]
    fn error_receipts_leave_ret_out_of_the_leaf() {
        let mut a = receipt();
        a.status = "ERROR".into();
        let mut b = a.clone();
        b.ret = "a different message".into();
        assert_eq!(a.merkle_hash().unwrap(), b.merkle_hash().unwrap());
        let mut c = receipt();
        c.ret = "other".into();
        assert_ne!(c.merkle_hash().unwrap(), receipt().merkle_hash().unwrap());
    }

    #[test]
    fn serving_fields_are_not_hashed() {
        let mut a = receipt();
        a.block_no = 1;
        a.block_hash = vec![1; 32];
        a.tx_index = 5;
        assert_eq!(a.merkle_hash().unwrap(), receipt().merkle_hash().unwrap());
    }

    #[test]
    fn root_and_bounds() {
        let rs = vec![receipt(), receipt()];
        let leaf = receipt().merkle_hash().unwrap();
        assert_eq!(receipts_root(&rs).unwrap(), Hash::sha256_parts(&[leaf.as_bytes(), leaf.as_bytes()]));
        assert_eq!(receipts_root(&[]).unwrap(), Hash::ZERO);
        let mut bad = receipt();
        bad.status = "OK".into();
        assert!(matches!(receipts_root(&[bad]), Err(TypesError::ReceiptStatus { .. })));
        let mut big = receipt();
        big.ret = "x".repeat(RECEIPT_RET_MAX_BYTES + 1);
        assert!(big.merkle_hash().is_err());
    }

    #[test]
    fn wire_round_trip() {
        let r = receipt();
        assert_eq!(Receipt::decode_bounded(&r.encode(), 1 << 20).unwrap(), r);
        assert!(Receipt::decode_bounded(&r.encode(), 10).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(r) = Receipt::decode_bounded(&b, 1 << 20) {
                let _ = r.merkle_hash();
            }
        }
    }
}
