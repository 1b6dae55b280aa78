//! Checking evidence of misbehaviour (`aergo_types::evidence`): which
//! producer it convicts of which offence, or why it convicts no one.
//!
//! Every check needs only the evidence, the chain's id hash and its slot
//! clock: signatures, the chain each message names, and for a broken
//! promise the compact proofs against the header's roots. Whether the
//! producer is one of the chain's, whether the offence was punished
//! already and what the punishment is need state: that is the executor's
//! (`aergo_exec`'s slashing).
//!
//! **One offence, one id.** Evidence names an offence by
//! `SHA-256(domain || kind || producer || place)` where the place is the
//! slot (two blocks or two votes in it) or the promised block's parent and
//! height: a third block in the same slot, the same two blocks in the
//! other order, or another broken promise of the same block is the same
//! offence, so nothing is punished twice for it.

use aergo_types::evidence::{
    prove_count, prove_leaf, vote_digest, BrokenPromise, DoubleBlock, DoubleVote, OffenceKind, SignedVote, SlotClock,
};
use aergo_types::{BlockHeader, Evidence, Hash};

use crate::block::verify_block_header;
use crate::error::{CryptoError, Result};
use crate::keys::PublicKey;
use crate::preconf::verify_preconf;
use crate::signature::Signature;
use crate::tx::verify_tx;

/// Domain tag of an offence id.
const OFFENCE_DOMAIN: &[u8] = b"AERGO-OFFENCE-1\0";

/// What a piece of evidence proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offence {
    pub kind: OffenceKind,
    /// The producer convicted.
    pub producer: PublicKey,
    /// The slot of the double block or vote; the promised height of a
    /// broken promise.
    pub at: u64,
    /// Names the offence: equal for any two pieces of evidence of it.
    pub id: Hash,
    /// One line saying what was proved, for the record and the event.
    pub detail: String,
}

fn not_evidence(reason: impl Into<String>) -> CryptoError {
    CryptoError::NotEvidence { reason: reason.into() }
}

fn offence_id(kind: OffenceKind, producer: &PublicKey, place: &[&[u8]]) -> Hash {
    let mut parts: Vec<&[u8]> = vec![OFFENCE_DOMAIN];
    let tag = [kind.tag()];
    let key = producer.to_compressed();
    parts.push(&tag);
    parts.push(&key);
    parts.extend_from_slice(place);
    Hash::sha256_parts(&parts)
}

/// Checks `evidence` for the chain whose id hash is `chain_id_hash` and
/// whose slots `clock` measures, and returns the offence it proves.
pub fn check_evidence(evidence: &Evidence, chain_id_hash: &Hash, clock: &SlotClock) -> Result<Offence> {
    match evidence.kind()? {
        OffenceKind::DoubleBlock => double_block(evidence.double_block.as_ref().expect("kind"), chain_id_hash, clock),
        OffenceKind::DoubleVote => double_vote(evidence.double_vote.as_ref().expect("kind"), chain_id_hash),
        OffenceKind::BrokenPromise => broken_promise(evidence.broken_promise.as_ref().expect("kind"), chain_id_hash),
    }
}

/// A header of this chain, signed: returns its signer.
fn chain_header(which: &str, header: &BlockHeader, chain_id_hash: &Hash) -> Result<PublicKey> {
    let signer = verify_block_header(header).map_err(|e| not_evidence(format!("{which} block's signature: {e}")))?;
    let id = header.chain_id().map_err(|e| not_evidence(format!("{which} block's chain id: {e}")))?;
    if id.hash() != *chain_id_hash {
        return Err(not_evidence(format!("the {which} block is of another chain")));
    }
    Ok(signer)
}

fn double_block(e: &DoubleBlock, chain_id_hash: &Hash, clock: &SlotClock) -> Result<Offence> {
    let (Some(first), Some(second)) = (&e.first, &e.second) else {
        return Err(not_evidence("double production needs two block headers"));
    };
    let a = chain_header("first", first, chain_id_hash)?;
    let b = chain_header("second", second, chain_id_hash)?;
    if a != b {
        return Err(not_evidence(format!(
            "the blocks were signed by two producers ({} and {})",
            a.peer_id(),
            b.peer_id()
        )));
    }
    let (ha, hb) = (first.hash(), second.hash());
    if ha == hb {
        return Err(not_evidence("the two blocks are one block"));
    }
    let (sa, sb) = (clock.slot_of(first.timestamp), clock.slot_of(second.timestamp));
    if sa != sb {
        return Err(not_evidence(format!("the blocks are in slots {sa} and {sb}, not one slot")));
    }
    Ok(Offence {
        kind: OffenceKind::DoubleBlock,
        id: offence_id(OffenceKind::DoubleBlock, &a, &[&sa.to_be_bytes()]),
        detail: format!("blocks {ha} and {hb} in slot {sa}"),
        producer: a,
        at: sa,
    })
}

/// A vote's signer, after checking its signature on this chain.
fn vote_signer(which: &str, v: &SignedVote, chain_id_hash: &Hash) -> Result<(PublicKey, Hash)> {
    let voter = PublicKey::from_compressed(&v.voter).map_err(|e| not_evidence(format!("{which} vote's voter: {e}")))?;
    let block = Hash::from_slice("vote block", &v.block).map_err(|e| not_evidence(format!("{which} vote: {e}")))?;
    let compact: &[u8; 64] = v.signature.as_slice().try_into().map_err(|_| {
        not_evidence(format!("{which} vote's signature is {} bytes, expected 64 (compact)", v.signature.len()))
    })?;
    let sig = Signature::from_compact(compact).map_err(|e| not_evidence(format!("{which} vote's signature: {e}")))?;
    voter
        .verify_hash(&vote_digest(chain_id_hash, v.slot, &block), &sig)
        .map_err(|_| not_evidence(format!("the {which} vote's signature does not verify for this chain")))?;
    Ok((voter, block))
}

fn double_vote(e: &DoubleVote, chain_id_hash: &Hash) -> Result<Offence> {
    let (Some(first), Some(second)) = (&e.first, &e.second) else {
        return Err(not_evidence("a double vote needs two votes"));
    };
    let (a, block_a) = vote_signer("first", first, chain_id_hash)?;
    let (b, block_b) = vote_signer("second", second, chain_id_hash)?;
    if a != b {
        return Err(not_evidence("the votes are by two producers"));
    }
    if first.slot != second.slot {
        return Err(not_evidence(format!("the votes are in slots {} and {}, not one slot", first.slot, second.slot)));
    }
    if block_a == block_b {
        return Err(not_evidence("the two votes are for one block"));
    }
    Ok(Offence {
        kind: OffenceKind::DoubleVote,
        id: offence_id(OffenceKind::DoubleVote, &a, &[&first.slot.to_be_bytes()]),
        detail: format!("votes for {block_a} and {block_b} in slot {}", first.slot),
        producer: a,
        at: first.slot,
    })
}

/// The hash of a signed transaction of this chain: never an inner Merkle
/// node (see `aergo_types::evidence`).
fn real_tx(tx: &aergo_types::Tx, chain_id_hash: &Hash) -> Result<Hash> {
    let body = tx.body().map_err(|e| not_evidence(format!("the last transaction: {e}")))?;
    if body.chain_id_hash != chain_id_hash.as_bytes() {
        return Err(not_evidence("the last transaction is of another chain"));
    }
    verify_tx(tx).map_err(|e| not_evidence(format!("the last transaction: {e}")))?;
    Ok(tx.hash()?)
}

fn broken_promise(e: &BrokenPromise, chain_id_hash: &Hash) -> Result<Offence> {
    let (Some(p), Some(header)) = (&e.preconf, &e.header) else {
        return Err(not_evidence("a broken promise needs the pre-confirmation and the block header"));
    };
    let producer = verify_preconf(p).map_err(|e| not_evidence(format!("the pre-confirmation: {e}")))?;
    if p.chain_id_hash()? != *chain_id_hash {
        return Err(not_evidence("the pre-confirmation is of another chain"));
    }
    let signer = chain_header("promised", header, chain_id_hash)?;
    if signer != producer {
        return Err(not_evidence("the block was signed by another producer than the pre-confirmation"));
    }
    let parent = p.parent()?;
    if header.prev_hash()? != parent || header.block_no != p.height {
        return Err(not_evidence(format!(
            "the promise is for height {} on {parent}, the block is height {} on {}",
            p.height,
            header.block_no,
            header.prev_hash()?
        )));
    }
    let txs_root = header.txs_root()?;
    let n = e.tx_count;
    let last = match (&e.last_tx, n) {
        (None, 0) => Hash::ZERO,
        (Some(tx), 1..) => real_tx(tx, chain_id_hash)?,
        (_, _) => {
            return Err(not_evidence(format!(
                "{n} transactions claimed: the last one must be given if and only if n > 0"
            )))
        }
    };
    prove_count(&txs_root, n, &last, &e.last_tx_path).map_err(|e| not_evidence(e.to_string()))?;
    let index = u64::from(p.index);
    let offence = |detail: String| Offence {
        kind: OffenceKind::BrokenPromise,
        id: offence_id(OffenceKind::BrokenPromise, &producer, &[parent.as_bytes(), &p.height.to_be_bytes()]),
        detail,
        producer,
        at: p.height,
    };
    let block = header.hash();
    if index >= n {
        return Ok(offence(format!("block {block} has {n} transactions, position {index} was promised")));
    }
    let hash = |what: &'static str, b: &[u8]| Hash::from_slice(what, b).map_err(|e| not_evidence(e.to_string()));
    let found = hash("tx hash", &e.tx_hash)?;
    prove_leaf("transaction proof", &txs_root, n, index, &found, &e.tx_path)
        .map_err(|e| not_evidence(e.to_string()))?;
    let promised = p.tx_hash()?;
    if found != promised {
        return Ok(offence(format!("block {block} holds {found} at position {index}, {promised} was promised")));
    }
    let leaf = hash("receipt leaf", &e.receipt_leaf)?;
    prove_leaf("receipt proof", &header.receipts_root()?, n, index, &leaf, &e.receipt_path)
        .map_err(|e| not_evidence(e.to_string()))?;
    let promised_leaf = p.receipt()?.merkle_hash()?;
    if leaf != promised_leaf {
        return Ok(offence(format!(
            "block {block} gives {promised} the receipt {leaf} at position {index}, {promised_leaf} was promised"
        )));
    }
    Err(not_evidence(format!(
        "block {block} keeps the promise: {promised} at position {index} with the promised receipt"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::sign_block;
    use crate::keys::PrivateKey;
    use crate::preconf::sign_preconf;
    use crate::tx::sign_tx;
    use aergo_types::evidence::EVIDENCE_MAX_BYTES;
    use aergo_types::{receipts_root, Amount, ChainId, Preconfirmation, Receipt, Tx, TxBody};

    const GENESIS_NS: i64 = 1_700_000_000_000_000_000;
    const CLOCK: SlotClock = SlotClock { genesis_timestamp_ns: GENESIS_NS, interval_ms: 1000 };

    fn chain() -> Hash {
        ChainId::dev().hash()
    }

    fn header(key: &PrivateKey, height: u64, slot: u64, salt: &[u8]) -> BlockHeader {
        let h = BlockHeader {
            chain_id: ChainId::dev().to_bytes(),
            prev_block_hash: Hash::sha256(b"parent").to_vec(),
            block_no: height,
            timestamp: GENESIS_NS + slot as i64 * 1_000_000_000 + 7,
            blocks_root_hash: Hash::sha256(salt).to_vec(),
            ..Default::default()
        };
        sign_block(h, vec![], key).unwrap().header.unwrap()
    }

    fn double_block_evidence(first: BlockHeader, second: BlockHeader) -> Evidence {
        Evidence { double_block: Some(DoubleBlock { first: Some(first), second: Some(second) }), ..Default::default() }
    }

    fn vote(key: &PrivateKey, slot: u64, block: &[u8]) -> SignedVote {
        let block = Hash::sha256(block);
        let sig = key.sign_hash(&vote_digest(&chain(), slot, &block));
        SignedVote {
            slot,
            block: block.to_vec(),
            voter: key.public_key().to_compressed().to_vec(),
            signature: sig.to_compact().to_vec(),
        }
    }

    #[test]
    fn two_blocks_in_one_slot_convict_their_producer_once() {
        let bp = PrivateKey::generate().unwrap();
        let (a, b) = (header(&bp, 5, 9, b"a"), header(&bp, 5, 9, b"b"));
        let o = check_evidence(&double_block_evidence(a.clone(), b.clone()), &chain(), &CLOCK).unwrap();
        assert_eq!((o.kind, o.producer, o.at), (OffenceKind::DoubleBlock, bp.public_key(), 9));
        // The other order, or a third block in the slot, is the same offence.
        let swapped = check_evidence(&double_block_evidence(b.clone(), a.clone()), &chain(), &CLOCK).unwrap();
        let third =
            check_evidence(&double_block_evidence(a.clone(), header(&bp, 6, 9, b"c")), &chain(), &CLOCK).unwrap();
        assert_eq!((swapped.id, third.id), (o.id, o.id));

        let refused = |e: Evidence, fragment: &str| {
            let err = check_evidence(&e, &chain(), &CLOCK).unwrap_err().to_string();
            assert!(err.contains(fragment), "{err} lacks {fragment:?}");
        };
        refused(double_block_evidence(a.clone(), a.clone()), "one block");
        refused(double_block_evidence(a.clone(), header(&bp, 5, 10, b"b")), "slots 9 and 10");
        let other = PrivateKey::generate().unwrap();
        refused(double_block_evidence(a.clone(), header(&other, 5, 9, b"b")), "two producers");
        let mut forged = b.clone();
        forged.blocks_root_hash = Hash::sha256(b"forged").to_vec();
        refused(double_block_evidence(a.clone(), forged), "signature");
        let mut elsewhere = b.clone();
        elsewhere.chain_id = ChainId::new(1, false, false, "other", "dpos").unwrap().to_bytes();
        let elsewhere = sign_block(elsewhere, vec![], &bp).unwrap().header.unwrap();
        refused(double_block_evidence(a.clone(), elsewhere), "another chain");
        refused(
            Evidence { double_block: Some(DoubleBlock { first: Some(a), second: None }), ..Default::default() },
            "two block headers",
        );
    }

    #[test]
    fn two_votes_in_one_slot_convict_the_voter() {
        let bp = PrivateKey::generate().unwrap();
        let ev = |a: SignedVote, b: SignedVote| Evidence {
            double_vote: Some(DoubleVote { first: Some(a), second: Some(b) }),
            ..Default::default()
        };
        let o = check_evidence(&ev(vote(&bp, 4, b"x"), vote(&bp, 4, b"y")), &chain(), &CLOCK).unwrap();
        assert_eq!((o.kind, o.at), (OffenceKind::DoubleVote, 4));
        let err = |e: Evidence| check_evidence(&e, &chain(), &CLOCK).unwrap_err().to_string();
        assert!(err(ev(vote(&bp, 4, b"x"), vote(&bp, 4, b"x"))).contains("one block"));
        assert!(err(ev(vote(&bp, 4, b"x"), vote(&bp, 5, b"y"))).contains("not one slot"));
        let mut forged = vote(&bp, 4, b"y");
        forged.block = Hash::sha256(b"z").to_vec();
        assert!(err(ev(vote(&bp, 4, b"x"), forged)).contains("does not verify"));
        let mut short = vote(&bp, 4, b"y");
        short.signature.pop();
        assert!(err(ev(vote(&bp, 4, b"x"), short)).contains("expected 64"));
    }

    struct Promised {
        bp: PrivateKey,
        txs: Vec<Tx>,
        receipts: Vec<Receipt>,
    }

    fn promised(n: u64) -> Promised {
        let bp = PrivateKey::generate().unwrap();
        let user = PrivateKey::generate().unwrap();
        let txs: Vec<Tx> = (1..=n)
            .map(|k| sign_tx(TxBody::transfer(k, &user.address(), &bp.address(), Amount::ONE_GAER, &chain()), &user))
            .collect();
        let receipts = txs
            .iter()
            .map(|t| Receipt {
                status: "SUCCESS".into(),
                tx_hash: t.hash.clone(),
                gas_used: 100_000,
                ..Default::default()
            })
            .collect();
        Promised { bp, txs, receipts }
    }

    fn block_of(key: &PrivateKey, txs: &[Tx], receipts: &[Receipt]) -> (BlockHeader, Vec<Tx>, Vec<Hash>) {
        let h = BlockHeader {
            chain_id: ChainId::dev().to_bytes(),
            prev_block_hash: Hash::sha256(b"parent").to_vec(),
            block_no: 8,
            timestamp: GENESIS_NS,
            receipts_root_hash: receipts_root(receipts).unwrap().to_vec(),
            ..Default::default()
        };
        let header = sign_block(h, txs.to_vec(), key).unwrap().header.unwrap();
        let leaves = receipts.iter().map(|r| r.merkle_hash().unwrap()).collect();
        (header, txs.to_vec(), leaves)
    }

    fn preconf(p: &Promised, index: u32) -> Preconfirmation {
        let mut c = Preconfirmation {
            chain_id_hash: chain().to_vec(),
            parent: Hash::sha256(b"parent").to_vec(),
            height: 8,
            timestamp_ns: GENESIS_NS,
            index,
            tx_hash: p.txs[index as usize].hash.clone(),
            receipt: Some(p.receipts[index as usize].clone()),
            pending_digest: Hash::sha256(b"digest").to_vec(),
            ..Default::default()
        };
        sign_preconf(&mut c, &p.bp).unwrap();
        c
    }

    fn promise_evidence(c: Preconfirmation, block: (BlockHeader, Vec<Tx>, Vec<Hash>)) -> Evidence {
        let (header, txs, leaves) = block;
        Evidence { broken_promise: Some(BrokenPromise::build(c, header, &txs, &leaves).unwrap()), ..Default::default() }
    }

    #[test]
    fn a_block_that_breaks_a_promise_convicts_and_one_that_keeps_it_does_not() {
        for n in [1u64, 2, 3, 5, 8, 13] {
            let p = promised(n);
            for index in 0..n as u32 {
                let c = preconf(&p, index);
                // Kept: not evidence.
                let kept = promise_evidence(c.clone(), block_of(&p.bp, &p.txs, &p.receipts));
                let err = check_evidence(&kept, &chain(), &CLOCK).unwrap_err().to_string();
                assert!(err.contains("keeps the promise"), "{err}");
                // Missing: the block ends before the promised position.
                let cut = index as usize;
                let short = promise_evidence(c.clone(), block_of(&p.bp, &p.txs[..cut], &p.receipts[..cut]));
                let o = check_evidence(&short, &chain(), &CLOCK).unwrap();
                assert!(o.detail.contains(&format!("has {cut} transactions")), "{}", o.detail);
                // Another receipt at the position.
                let mut receipts = p.receipts.clone();
                receipts[cut].gas_used += 1;
                let other = promise_evidence(c.clone(), block_of(&p.bp, &p.txs, &receipts));
                assert!(check_evidence(&other, &chain(), &CLOCK).unwrap().detail.contains("the receipt"));
                // Another transaction at the position (the last one first).
                if n > 1 {
                    let mut txs = p.txs.clone();
                    let mut receipts = p.receipts.clone();
                    txs.swap(cut, (cut + 1) % n as usize);
                    receipts.swap(cut, (cut + 1) % n as usize);
                    let moved = promise_evidence(c.clone(), block_of(&p.bp, &txs, &receipts));
                    let o = check_evidence(&moved, &chain(), &CLOCK).unwrap();
                    assert!(o.detail.contains("was promised"), "{}", o.detail);
                    assert_eq!(o.id, check_evidence(&short, &chain(), &CLOCK).unwrap().id, "one offence per block");
                }
                // Another producer's block convicts no one.
                let stranger = PrivateKey::generate().unwrap();
                let theirs = promise_evidence(c.clone(), block_of(&stranger, &p.txs[..cut], &p.receipts[..cut]));
                assert!(check_evidence(&theirs, &chain(), &CLOCK).is_err());
            }
        }
    }

    #[test]
    fn a_lied_count_or_path_is_refused() {
        let p = promised(4);
        let c = preconf(&p, 3);
        let (header, txs, leaves) = block_of(&p.bp, &p.txs, &p.receipts);
        let hashes: Vec<Hash> = txs.iter().map(|t| t.hash().unwrap()).collect();
        // Claim the block has 2 "transactions", H(t0, t1) and H(t2, t3):
        // the inner node is no transaction.
        let ab = Hash::sha256_parts(&[hashes[0].as_bytes(), hashes[1].as_bytes()]);
        let mut lie = BrokenPromise::build(c.clone(), header.clone(), &txs[..2], &leaves[..2]).unwrap();
        lie.tx_count = 2;
        lie.last_tx_path = vec![ab.to_vec()];
        let e = Evidence { broken_promise: Some(lie.clone()), ..Default::default() };
        assert!(check_evidence(&e, &chain(), &CLOCK).is_err());
        // Claim it has 3, with the real third transaction as the last.
        lie = BrokenPromise::build(c.clone(), header.clone(), &txs[..3], &leaves[..3]).unwrap();
        lie.last_tx_path = aergo_types::merkle_path(&hashes, 2).iter().map(Hash::to_vec).collect();
        let e = Evidence { broken_promise: Some(lie), ..Default::default() };
        assert!(check_evidence(&e, &chain(), &CLOCK).unwrap_err().to_string().contains("not the last"));
        // A forged transaction hash at the position.
        let mut forged = BrokenPromise::build(c.clone(), header.clone(), &txs, &leaves).unwrap();
        forged.tx_hash = Hash::sha256(b"forged").to_vec();
        let e = Evidence { broken_promise: Some(forged), ..Default::default() };
        assert!(check_evidence(&e, &chain(), &CLOCK).unwrap_err().to_string().contains("do not give the root"));
        // A forged pre-confirmation.
        let mut c2 = c.clone();
        c2.index = 5;
        let e = promise_evidence(c2, (header, txs, leaves));
        assert!(check_evidence(&e, &chain(), &CLOCK).unwrap_err().to_string().contains("pre-confirmation"));
        // Everything fits the bound.
        assert!(e.encode().len() < EVIDENCE_MAX_BYTES);
    }
}
