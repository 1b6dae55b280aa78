//! Signing and checking pre-confirmations (`aergo_types::preconf`), and
//! finding the block that breaks one.
//!
//! A breach needs three things a stranger can check without any state:
//! the pre-confirmation, signed by the producer; a block signed by the
//! same producer at the promised height on the promised parent; and the
//! block's receipts, which must hash to the receipts root its header
//! signs. The block breaks the promise when it has no transaction at the
//! promised position, another transaction there, or the same transaction
//! with another receipt leaf. Anything short of that is not evidence, and
//! says why ([`CryptoError::NotEvidence`]).

use aergo_types::preconf::batch_signed_hash;
use aergo_types::{merkle_path, merkle_root, receipts_root, txs_root, Block, Hash, Preconfirmation, Receipt};

use crate::block::verify_block_header;
use crate::error::{CryptoError, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::signature::{DerRules, Signature};

/// Sets the producer field to `key`'s public key and signs. Fill every
/// other field first.
pub fn sign_preconf(p: &mut Preconfirmation, key: &PrivateKey) -> Result<()> {
    sign_preconf_as(p, key, &key.public_key())
}

/// [`sign_preconf`] with `key`'s public key given: deriving it costs as
/// much as the signature, and a producer signs many promises.
pub fn sign_preconf_as(p: &mut Preconfirmation, key: &PrivateKey, public: &PublicKey) -> Result<()> {
    sign_preconfs_as(std::slice::from_mut(p), key, public)
}

/// Signs a group of promises with one signature: over the Merkle root of
/// their signing hashes, each promise carrying its index and path in the
/// tree, so each verifies alone ([`verify_preconf`]). A producer that
/// promises many transactions at once pays one signature, not one each.
pub fn sign_preconfs_as(ps: &mut [Preconfirmation], key: &PrivateKey, public: &PublicKey) -> Result<()> {
    debug_assert!(key.public_key() == *public, "the public key given is not the signing key's");
    if ps.is_empty() {
        return Ok(());
    }
    let producer = public.to_compressed().to_vec();
    for p in ps.iter_mut() {
        p.producer = producer.clone();
    }
    let leaves = ps.iter().map(Preconfirmation::signing_hash).collect::<std::result::Result<Vec<Hash>, _>>()?;
    let signature = key.sign_hash(&batch_signed_hash(&merkle_root(&leaves))).to_der();
    for (i, p) in ps.iter_mut().enumerate() {
        p.batch_index = u32::try_from(i).map_err(|_| CryptoError::Length {
            what: "pre-confirmation group",
            expected: "at most 2^32 promises".into(),
            found: i,
        })?;
        p.batch_path = merkle_path(&leaves, i).iter().map(Hash::to_vec).collect();
        p.signature = signature.clone();
    }
    Ok(())
}

/// Checks the signature against the producer key the pre-confirmation
/// names and returns that key. (Whether the key belongs to a producer of
/// the chain is for the caller, who knows the producer set.)
pub fn verify_preconf(p: &Preconfirmation) -> Result<PublicKey> {
    let key = PublicKey::from_compressed(&p.producer)?;
    let sig = Signature::from_der(&p.signature, DerRules::Strict)?;
    key.verify_hash(&p.signed_hash()?, &sig)?;
    Ok(key)
}

/// How a block breaks a pre-confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breach {
    /// The block ends before the promised position.
    Missing { index: u32, block_txs: usize },
    /// Another transaction sits at the promised position.
    OtherTx { index: u32, promised: Hash, found: Hash },
    /// The promised transaction is there with another result.
    OtherReceipt { index: u32, promised: Hash, found: Hash },
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breach::Missing { index, block_txs } => {
                write!(f, "position {index} was promised, the block has {block_txs} transactions")
            }
            Breach::OtherTx { index, promised, found } => {
                write!(f, "position {index}: promised tx {promised}, the block has {found}")
            }
            Breach::OtherReceipt { index, promised, found } => {
                write!(f, "position {index}: promised receipt {promised}, the block's is {found}")
            }
        }
    }
}

fn not_evidence(reason: impl Into<String>) -> CryptoError {
    CryptoError::NotEvidence { reason: reason.into() }
}

/// Checks whether `block` (with its `receipts`) breaks `p`: `Ok(Some)`
/// when it does; `Ok(None)` when it is the promised block and keeps the
/// promise; an error when the three do not make a case (a signature does
/// not verify, the block is another producer's or at another place, the
/// receipts are not the block's).
pub fn find_breach(p: &Preconfirmation, block: &Block, receipts: &[Receipt]) -> Result<Option<Breach>> {
    let producer = verify_preconf(p)?;
    let header = block.header()?;
    let signer = verify_block_header(header).map_err(|e| not_evidence(format!("block signature: {e}")))?;
    if signer != producer {
        return Err(not_evidence("the block was signed by another producer than the pre-confirmation"));
    }
    if header.chain_id()?.hash() != p.chain_id_hash()? {
        return Err(not_evidence("the block is of another chain"));
    }
    if header.prev_hash()? != p.parent()? || header.block_no != p.height {
        return Err(not_evidence(format!(
            "the promise is for height {} on {}, the block is height {} on {}",
            p.height,
            p.parent()?,
            header.block_no,
            header.prev_hash()?
        )));
    }
    if txs_root(block.txs())? != header.txs_root()? {
        return Err(not_evidence("the block's transactions do not match its txs root"));
    }
    if receipts.len() != block.txs().len() || receipts_root(receipts)? != header.receipts_root()? {
        return Err(not_evidence("the receipts given are not the block's (receipts root differs)"));
    }
    let index = p.index;
    let Some(tx) = block.txs().get(index as usize) else {
        return Ok(Some(Breach::Missing { index, block_txs: block.txs().len() }));
    };
    let (promised, found) = (p.tx_hash()?, tx.hash()?);
    if promised != found {
        return Ok(Some(Breach::OtherTx { index, promised, found }));
    }
    let (promised, found) = (p.receipt()?.merkle_hash()?, receipts[index as usize].merkle_hash()?);
    if promised != found {
        return Ok(Some(Breach::OtherReceipt { index, promised, found }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::sign_block;
    use crate::tx::sign_tx;
    use aergo_types::{Amount, BlockHeader, ChainId, Tx, TxBody};

    struct Case {
        bp: PrivateKey,
        parent: Hash,
        txs: Vec<Tx>,
        receipts: Vec<Receipt>,
    }

    fn receipt_for(tx: &Tx, gas: u64) -> Receipt {
        Receipt {
            status: "SUCCESS".into(),
            tx_hash: tx.hash.clone(),
            fee_used: vec![1],
            cumulative_fee_used: vec![1],
            gas_used: gas,
            ..Default::default()
        }
    }

    fn case() -> Case {
        let bp = PrivateKey::generate().unwrap();
        let user = PrivateKey::generate().unwrap();
        let txs: Vec<Tx> = (1..=3)
            .map(|n| {
                sign_tx(
                    TxBody::transfer(n, &user.address(), &bp.address(), Amount::ONE_GAER, &ChainId::dev().hash()),
                    &user,
                )
            })
            .collect();
        let receipts = txs.iter().map(|t| receipt_for(t, 100_000)).collect();
        Case { bp, parent: Hash::sha256(b"parent"), txs, receipts }
    }

    fn block(c: &Case, key: &PrivateKey, txs: Vec<Tx>, receipts: &[Receipt]) -> Block {
        let header = BlockHeader {
            chain_id: ChainId::dev().to_bytes(),
            prev_block_hash: c.parent.to_vec(),
            block_no: 8,
            timestamp: 1_700_000_000_000_000_000,
            blocks_root_hash: Hash::sha256(b"state").to_vec(),
            receipts_root_hash: receipts_root(receipts).unwrap().to_vec(),
            ..Default::default()
        };
        sign_block(header, txs, key).unwrap()
    }

    fn promise(c: &Case, index: u32) -> Preconfirmation {
        let tx = &c.txs[index as usize];
        let mut p = Preconfirmation {
            chain_id_hash: ChainId::dev().hash().to_vec(),
            parent: c.parent.to_vec(),
            height: 8,
            timestamp_ns: 1_700_000_000_000_000_000,
            index,
            tx_hash: tx.hash.clone(),
            receipt: Some(c.receipts[index as usize].clone()),
            pending_digest: Hash::sha256(b"digest").to_vec(),
            ..Default::default()
        };
        sign_preconf(&mut p, &c.bp).unwrap();
        p
    }

    #[test]
    fn a_kept_promise_is_no_breach_and_a_forged_one_is_refused() {
        let c = case();
        let p = promise(&c, 1);
        assert_eq!(verify_preconf(&p).unwrap(), c.bp.public_key());
        let kept = block(&c, &c.bp, c.txs.clone(), &c.receipts);
        assert_eq!(find_breach(&p, &kept, &c.receipts).unwrap(), None);

        let mut forged = p.clone();
        forged.receipt.as_mut().unwrap().gas_used = 1;
        assert!(matches!(verify_preconf(&forged), Err(CryptoError::BadSignature)));
        let mut other_key = p.clone();
        other_key.producer = PrivateKey::generate().unwrap().public_key().to_compressed().to_vec();
        assert!(matches!(verify_preconf(&other_key), Err(CryptoError::BadSignature)));
        let mut unsigned = p.clone();
        unsigned.signature.clear();
        assert!(verify_preconf(&unsigned).is_err());
    }

    #[test]
    fn a_group_signed_once_verifies_promise_by_promise() {
        let c = case();
        for n in 1..=3usize {
            let mut group: Vec<Preconfirmation> = (0..n as u32).map(|i| promise(&c, i)).collect();
            sign_preconfs_as(&mut group, &c.bp, &c.bp.public_key()).unwrap();
            assert!(group.iter().all(|p| p.signature == group[0].signature), "one signature for the group");
            let block = block(&c, &c.bp, c.txs.clone(), &c.receipts);
            for p in &group {
                assert_eq!(verify_preconf(p).unwrap(), c.bp.public_key());
                assert_eq!(find_breach(p, &block, &c.receipts).unwrap(), None);
            }
            if n > 1 {
                // A promise with another's place in the group, or a path
                // changed, does not verify.
                let mut moved = group[0].clone();
                moved.batch_index = 1;
                assert!(verify_preconf(&moved).is_err());
                let mut bent = group[1].clone();
                bent.batch_path[0] = Hash::sha256(b"x").to_vec();
                assert!(verify_preconf(&bent).is_err());
                let mut changed = group[1].clone();
                changed.receipt.as_mut().unwrap().gas_used += 1;
                assert!(verify_preconf(&changed).is_err());
            }
        }
    }

    #[test]
    fn each_kind_of_breach_is_found() {
        let c = case();
        let p = promise(&c, 1);
        // The promised tx left out: another one takes its place.
        let swapped = vec![c.txs[0].clone(), c.txs[2].clone()];
        let swapped_receipts = vec![c.receipts[0].clone(), c.receipts[2].clone()];
        let b = block(&c, &c.bp, swapped, &swapped_receipts);
        assert!(matches!(find_breach(&p, &b, &swapped_receipts).unwrap(), Some(Breach::OtherTx { index: 1, .. })));
        // The block ends early.
        let short = block(&c, &c.bp, vec![c.txs[0].clone()], &c.receipts[..1]);
        assert_eq!(
            find_breach(&p, &short, &c.receipts[..1]).unwrap(),
            Some(Breach::Missing { index: 1, block_txs: 1 })
        );
        // Same tx, another result.
        let mut other = c.receipts.clone();
        other[1].gas_used = 7;
        let b = block(&c, &c.bp, c.txs.clone(), &other);
        assert!(matches!(find_breach(&p, &b, &other).unwrap(), Some(Breach::OtherReceipt { index: 1, .. })));
    }

    #[test]
    fn what_does_not_make_a_case_is_refused() {
        let c = case();
        let p = promise(&c, 1);
        let short = vec![c.txs[0].clone()];
        // Another producer's block.
        let stranger = PrivateKey::generate().unwrap();
        let b = block(&c, &stranger, short.clone(), &c.receipts[..1]);
        assert!(matches!(find_breach(&p, &b, &c.receipts[..1]), Err(CryptoError::NotEvidence { .. })));
        // Receipts that are not the block's.
        let b = block(&c, &c.bp, short.clone(), &c.receipts[..1]);
        assert!(matches!(find_breach(&p, &b, &c.receipts[1..2]), Err(CryptoError::NotEvidence { .. })));
        // Another height.
        let mut later = p.clone();
        later.height = 9;
        sign_preconf(&mut later, &c.bp).unwrap();
        assert!(matches!(find_breach(&later, &b, &c.receipts[..1]), Err(CryptoError::NotEvidence { .. })));
        // A forged promise proves nothing.
        let mut forged = p.clone();
        forged.index = 0;
        assert!(matches!(find_breach(&forged, &b, &c.receipts[..1]), Err(CryptoError::BadSignature)));
    }
}
