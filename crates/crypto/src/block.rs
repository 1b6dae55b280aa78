//! Signing and verifying block headers as the Go node does
//! (`Block.Sign` / `Block.VerifySign`): the producer's public key goes in
//! `pub_key` in libp2p's marshalled form, then the producer signs
//! SHA-256 of the header's signing bytes (every field but `sign`) and the
//! strict-DER, low-s signature goes in `sign`.

use crate::error::{CryptoError, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::signature::{DerRules, Signature};
use aergo_types::{txs_root, Block, BlockHeader, Tx};

/// Sets `header.pub_key` to `key`'s public key and signs the header.
/// Fill every other field (txs root included) first.
pub fn sign_block_header(header: &mut BlockHeader, key: &PrivateKey) {
    header.pub_key = key.public_key().to_libp2p_bytes();
    header.sign = key.sign_hash(&header.signing_hash()).to_der();
}

/// Verifies a header's signature and returns the producer's key.
pub fn verify_block_header(header: &BlockHeader) -> Result<PublicKey> {
    if header.sign.is_empty() {
        return Err(CryptoError::MalformedSignature {
            reason: "the block header is not signed (empty sign field)".to_string(),
        });
    }
    let key = PublicKey::from_libp2p_bytes(&header.pub_key)?;
    let sig = Signature::from_der(&header.sign, DerRules::Strict)?;
    key.verify_hash(&header.signing_hash(), &sig)?;
    Ok(key)
}

/// Fills the txs root, signs the header with `key` and assembles the block
/// (whose hash then covers the signature).
pub fn sign_block(mut header: BlockHeader, txs: Vec<Tx>, key: &PrivateKey) -> Result<Block> {
    header.txs_root_hash = txs_root(&txs)?.to_vec();
    sign_block_header(&mut header, key);
    Ok(Block::new(header, txs)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::sign_tx;
    use aergo_types::{Amount, ChainId, Hash, TxBody};

    fn header() -> BlockHeader {
        BlockHeader {
            chain_id: ChainId::dev().to_bytes(),
            prev_block_hash: Hash::sha256(b"parent").to_vec(),
            block_no: 1,
            timestamp: 1_700_000_000_000_000_000,
            blocks_root_hash: Hash::sha256(b"state").to_vec(),
            receipts_root_hash: Hash::ZERO.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn signed_block_verifies_and_validates() {
        let bp = PrivateKey::generate().unwrap();
        let user = PrivateKey::generate().unwrap();
        let tx = sign_tx(
            TxBody::transfer(1, &user.address(), &bp.address(), Amount::ONE_GAER, &ChainId::dev().hash()),
            &user,
        );
        let block = sign_block(header(), vec![tx], &bp).unwrap();
        block.validate_structure().unwrap();
        let h = block.header().unwrap();
        assert_eq!(verify_block_header(h).unwrap(), bp.public_key());
        assert_eq!(h.pub_key[..4], crate::keys::LIBP2P_PUBKEY_PREFIX);
    }

    #[test]
    fn tampered_or_unsigned_headers_fail() {
        let bp = PrivateKey::generate().unwrap();
        let block = sign_block(header(), vec![], &bp).unwrap();
        let h = block.header().unwrap().clone();

        let mut later = h.clone();
        later.timestamp += 1;
        assert!(matches!(verify_block_header(&later), Err(CryptoError::BadSignature)));

        let mut other_root = h.clone();
        other_root.blocks_root_hash = Hash::sha256(b"x").to_vec();
        assert!(matches!(verify_block_header(&other_root), Err(CryptoError::BadSignature)));

        let mut impostor = h.clone();
        impostor.pub_key = PrivateKey::generate().unwrap().public_key().to_libp2p_bytes();
        assert!(matches!(verify_block_header(&impostor), Err(CryptoError::BadSignature)));

        let mut unsigned = h.clone();
        unsigned.sign.clear();
        assert!(verify_block_header(&unsigned).is_err());

        let mut raw_key = h.clone();
        raw_key.pub_key = bp.public_key().to_compressed().to_vec();
        assert!(matches!(verify_block_header(&raw_key), Err(CryptoError::InvalidPublicKey { .. })));
    }
}
