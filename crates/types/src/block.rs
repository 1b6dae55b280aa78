//! Blocks: the Go node's `Block`/`BlockHeader`/`BlockBody` messages, the
//! block hash and the header's signing bytes.
//!
//! Block hash (Go `Block.calculateBlockHash`): SHA-256 over the header
//! fields in proto order, byte fields raw and integers as 8 bytes
//! little-endian: chain id, prev block hash, block no, timestamp, blocks
//! root hash, txs root hash, receipts root hash, confirms, pub key,
//! coinbase account, sign, consensus. The signing bytes are the same
//! sequence without `sign`; the producer signs SHA-256 of them (libp2p's
//! secp256k1 `Sign` hashes its message), see `aergo-crypto`.
//!
//! Our state root (SHA-256 of the storage catalogue) goes in
//! `blocks_root_hash`, the field the Go node uses for its state trie root.

use crate::chain_id::ChainId;
use crate::error::{Result, TypesError};
use crate::hash::{show_bytes, Hash};
use crate::merkle::merkle_root;
use crate::tx::{Tx, TX_MAX_SIZE_BYTES};
use prost::Message;
use sha2::{Digest, Sha256};

/// Largest block body the Go node produces (`DefaultMaxBlockSize`, 1 MiB):
/// the sum of the encoded sizes of its txs.
pub const BLOCK_MAX_SIZE_BYTES: usize = 1 << 20;
/// Largest encoded header accepted. The Go node estimates 400 bytes for
/// its fields; we leave room for consensus data and a long chain id.
pub const HEADER_MAX_SIZE_BYTES: usize = 4096;
/// Largest encoded block accepted by [`Block::decode_bounded`]: body,
/// header and per-tx framing.
pub const BLOCK_MAX_ENCODED_BYTES: usize = BLOCK_MAX_SIZE_BYTES + HEADER_MAX_SIZE_BYTES + 64 * 1024;
/// Most transactions a block may hold (every tx costs at least a few
/// dozen bytes, so the size bound already implies a count bound; this one
/// keeps per-block loops small and explicit).
pub const BLOCK_MAX_TXS: usize = 16_384;

/// A block header (proto `types.BlockHeader`).
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct BlockHeader {
    /// [`crate::ChainId::to_bytes`] of the chain at this block's version.
    #[prost(bytes = "vec", tag = "1")]
    pub chain_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub prev_block_hash: Vec<u8>,
    #[prost(uint64, tag = "3")]
    pub block_no: u64,
    /// Nanoseconds since the Unix epoch (Go `time.UnixNano`).
    #[prost(int64, tag = "4")]
    pub timestamp: i64,
    /// The state root after this block.
    #[prost(bytes = "vec", tag = "5")]
    pub blocks_root_hash: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub txs_root_hash: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    pub receipts_root_hash: Vec<u8>,
    #[prost(uint64, tag = "8")]
    pub confirms: u64,
    /// The producer's public key in libp2p's marshalled form.
    #[prost(bytes = "vec", tag = "9")]
    pub pub_key: Vec<u8>,
    /// Account credited with the block's fees.
    #[prost(bytes = "vec", tag = "10")]
    pub coinbase_account: Vec<u8>,
    /// The producer's DER signature over SHA-256 of [`BlockHeader::signing_bytes`].
    #[prost(bytes = "vec", tag = "11")]
    pub sign: Vec<u8>,
    /// Consensus-specific data (e.g. raft or DPoS info).
    #[prost(bytes = "vec", tag = "12")]
    pub consensus: Vec<u8>,
}

/// A block body (proto `types.BlockBody`).
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct BlockBody {
    #[prost(message, repeated, tag = "1")]
    pub txs: Vec<Tx>,
}

/// A block (proto `types.Block`).
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Block {
    #[prost(bytes = "vec", tag = "1")]
    pub hash: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub header: Option<BlockHeader>,
    #[prost(message, optional, tag = "3")]
    pub body: Option<BlockBody>,
}

impl BlockHeader {
    fn write_fields(&self, with_sign: bool, out: &mut impl FnMut(&[u8])) {
        out(&self.chain_id);
        out(&self.prev_block_hash);
        out(&self.block_no.to_le_bytes());
        out(&self.timestamp.to_le_bytes());
        out(&self.blocks_root_hash);
        out(&self.txs_root_hash);
        out(&self.receipts_root_hash);
        out(&self.confirms.to_le_bytes());
        out(&self.pub_key);
        out(&self.coinbase_account);
        if with_sign {
            out(&self.sign);
        }
        out(&self.consensus);
    }

    /// The block hash.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        self.write_fields(true, &mut |b| h.update(b));
        Hash(h.finalize().into())
    }

    /// What the producer signs (after hashing): every field but `sign`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256);
        self.write_fields(false, &mut |b| v.extend_from_slice(b));
        v
    }

    /// SHA-256 of [`BlockHeader::signing_bytes`]: the digest the producer's
    /// ECDSA signature is over.
    pub fn signing_hash(&self) -> Hash {
        let mut h = Sha256::new();
        self.write_fields(false, &mut |b| h.update(b));
        Hash(h.finalize().into())
    }

    /// The chain id this header carries.
    pub fn chain_id(&self) -> Result<ChainId> {
        ChainId::from_bytes(&self.chain_id)
    }

    pub fn prev_hash(&self) -> Result<Hash> {
        Hash::from_slice("prev block hash", &self.prev_block_hash).map_err(Into::into)
    }

    pub fn state_root(&self) -> Result<Hash> {
        Hash::from_slice("blocks root hash", &self.blocks_root_hash).map_err(Into::into)
    }

    pub fn txs_root(&self) -> Result<Hash> {
        Hash::from_slice("txs root hash", &self.txs_root_hash).map_err(Into::into)
    }

    pub fn receipts_root(&self) -> Result<Hash> {
        Hash::from_slice("receipts root hash", &self.receipts_root_hash).map_err(Into::into)
    }
}

/// The Go node's `CalculateTxsRootHash`: the Merkle root of the txs'
/// hashes as carried in their `hash` fields (each must be 32 bytes).
pub fn txs_root(txs: &[Tx]) -> Result<Hash> {
    let leaves = txs.iter().map(Tx::hash).collect::<Result<Vec<Hash>>>()?;
    Ok(merkle_root(&leaves))
}

impl Block {
    /// A block with `header` and `txs`: fills the header's txs root and the
    /// block hash. To sign, fill the txs root first
    /// ([`BlockHeader::txs_root_hash`] from [`txs_root`]), sign the header,
    /// then build the block: the hash covers the signature and the
    /// signature covers the txs root. Errors if a tx's hash field is not
    /// 32 bytes.
    pub fn new(mut header: BlockHeader, txs: Vec<Tx>) -> Result<Block> {
        header.txs_root_hash = txs_root(&txs)?.to_vec();
        Ok(Block { hash: header.hash().to_vec(), header: Some(header), body: Some(BlockBody { txs }) })
    }

    pub fn header(&self) -> Result<&BlockHeader> {
        self.header.as_ref().ok_or(TypesError::MissingField { what: "block", field: "header" })
    }

    /// The txs (an absent body is an empty one).
    pub fn txs(&self) -> &[Tx] {
        self.body.as_ref().map(|b| b.txs.as_slice()).unwrap_or(&[])
    }

    /// The hash computed from the header.
    pub fn computed_hash(&self) -> Result<Hash> {
        Ok(self.header()?.hash())
    }

    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes untrusted proto bytes; refuses more than
    /// [`BLOCK_MAX_ENCODED_BYTES`] before looking at them.
    pub fn decode_bounded(bytes: &[u8]) -> Result<Block> {
        if bytes.len() > BLOCK_MAX_ENCODED_BYTES {
            return Err(TypesError::TooLarge {
                what: "encoded block",
                found: bytes.len(),
                limit: BLOCK_MAX_ENCODED_BYTES,
            });
        }
        Block::decode(bytes).map_err(|e| TypesError::Decode { what: "block", reason: e.to_string() })
    }

    /// Structural checks that need no state and no keys: header present,
    /// sizes within bounds, every tx's hash field matches its body, the
    /// txs root matches the body and the block hash matches the header.
    /// Signatures and per-tx validation (chain id, types) are the caller's.
    pub fn validate_structure(&self) -> Result<()> {
        let header = self.header()?;
        let header_size = header.encoded_len();
        if header_size > HEADER_MAX_SIZE_BYTES {
            return Err(TypesError::TooLarge {
                what: "block header",
                found: header_size,
                limit: HEADER_MAX_SIZE_BYTES,
            });
        }
        let txs = self.txs();
        if txs.len() > BLOCK_MAX_TXS {
            return Err(TypesError::TooLarge { what: "block tx count", found: txs.len(), limit: BLOCK_MAX_TXS });
        }
        let mut body_size = 0usize;
        for tx in txs {
            let size = tx.encoded_len();
            if size > TX_MAX_SIZE_BYTES {
                return Err(TypesError::TooLarge { what: "tx in block", found: size, limit: TX_MAX_SIZE_BYTES });
            }
            body_size += size;
            let computed = tx.computed_hash()?;
            if tx.hash.as_slice() != computed.as_bytes() {
                return Err(TypesError::TxHashMismatch {
                    claimed: show_bytes(&tx.hash),
                    computed: computed.to_string(),
                });
            }
        }
        if body_size > BLOCK_MAX_SIZE_BYTES {
            return Err(TypesError::TooLarge { what: "block body", found: body_size, limit: BLOCK_MAX_SIZE_BYTES });
        }
        let root = txs_root(txs)?;
        if header.txs_root_hash.as_slice() != root.as_bytes() {
            return Err(TypesError::TxsRootMismatch {
                claimed: show_bytes(&header.txs_root_hash),
                computed: root.to_string(),
            });
        }
        let hash = header.hash();
        if self.hash.as_slice() != hash.as_bytes() {
            return Err(TypesError::BlockHashMismatch { claimed: show_bytes(&self.hash), computed: hash.to_string() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use crate::amount::Amount;
    use crate::tx::TxBody;
    use proptest::prelude::*;

    fn header() -> BlockHeader {
        BlockHeader {
            chain_id: ChainId::dev().to_bytes(),
            prev_block_hash: Hash::sha256(b"parent").to_vec(),
            block_no: 7,
            timestamp: 1_555_304_401_000_000_000,
            blocks_root_hash: Hash::sha256(b"state").to_vec(),
            txs_root_hash: vec![],
            receipts_root_hash: Hash::ZERO.to_vec(),
            confirms: 0,
            pub_key: vec![8, 2, 18, 33, 2, 1],
            coinbase_account: vec![],
            sign: vec![0x30, 0],
            consensus: b"c".to_vec(),
        }
    }

    fn tx(n: u64) -> Tx {
        let mut k = [n as u8; 33];
        k[0] = 2;
        let a = Address::account(k).unwrap();
        Tx::new(TxBody::transfer(n, &a, &a, Amount::from_aer(n.into()), &ChainId::dev().hash()))
    }

    #[test]
    fn hash_layout_is_the_go_one() {
        let h = header();
        let mut data = Vec::new();
        data.extend_from_slice(&h.chain_id);
        data.extend_from_slice(&h.prev_block_hash);
        data.extend_from_slice(&7u64.to_le_bytes());
        data.extend_from_slice(&h.timestamp.to_le_bytes());
        data.extend_from_slice(&h.blocks_root_hash);
        data.extend_from_slice(&h.txs_root_hash);
        data.extend_from_slice(&h.receipts_root_hash);
        data.extend_from_slice(&0u64.to_le_bytes());
        data.extend_from_slice(&h.pub_key);
        data.extend_from_slice(&h.coinbase_account);
        let mut unsigned = data.clone();
        unsigned.extend_from_slice(&h.consensus);
        data.extend_from_slice(&h.sign);
        data.extend_from_slice(&h.consensus);
        assert_eq!(h.hash(), Hash::sha256(&data));
        assert_eq!(h.signing_bytes(), unsigned);
        assert_eq!(h.signing_hash(), Hash::sha256(&unsigned));
    }

    #[test]
    fn block_round_trip_and_validation() {
        let b = Block::new(header(), vec![tx(1), tx(2), tx(3)]).unwrap();
        b.validate_structure().unwrap();
        let back = Block::decode_bounded(&b.encode()).unwrap();
        assert_eq!(back, b);
        assert_eq!(
            back.header().unwrap().txs_root().unwrap(),
            merkle_root(&[tx(1).hash().unwrap(), tx(2).hash().unwrap(), tx(3).hash().unwrap()])
        );

        let mut bad_hash = b.clone();
        bad_hash.hash[0] ^= 1;
        assert!(matches!(bad_hash.validate_structure(), Err(TypesError::BlockHashMismatch { .. })));

        let mut bad_root = b.clone();
        bad_root.body.as_mut().unwrap().txs.pop();
        assert!(matches!(bad_root.validate_structure(), Err(TypesError::TxsRootMismatch { .. })));

        let mut bad_tx = b.clone();
        bad_tx.body.as_mut().unwrap().txs[0].body.as_mut().unwrap().nonce += 1;
        assert!(matches!(bad_tx.validate_structure(), Err(TypesError::TxHashMismatch { .. })));

        let no_header = Block { hash: vec![], header: None, body: None };
        assert!(no_header.validate_structure().is_err());
    }

    #[test]
    fn empty_block_has_zero_txs_root() {
        let b = Block::new(header(), vec![]).unwrap();
        assert_eq!(b.header().unwrap().txs_root().unwrap(), Hash::ZERO);
        b.validate_structure().unwrap();
    }

    #[test]
    fn oversized_input_is_refused() {
        assert!(matches!(
            Block::decode_bounded(&vec![0; BLOCK_MAX_ENCODED_BYTES + 1]),
            Err(TypesError::TooLarge { .. })
        ));
        let mut h = header();
        h.consensus = vec![0; HEADER_MAX_SIZE_BYTES];
        assert!(Block::new(h, vec![]).unwrap().validate_structure().is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(block) = Block::decode_bounded(&b) {
                let _ = block.validate_structure();
            }
        }
    }
}
