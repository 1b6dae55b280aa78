//! Evidence of a block producer's misbehaviour, as anyone submits it to
//! the chain (`v1evidence`, an `aergo.system` call) to have the producer
//! slashed.
//!
//! Three offences, each provable from signed messages alone, with no
//! state:
//!
//! - **Double production** ([`DoubleBlock`]): two different block headers
//!   of this chain signed by one producer for one slot.
//! - **Double vote** ([`DoubleVote`]): two DPoS votes by one producer in
//!   one slot for different blocks ([`vote_digest`] is what a vote signs).
//! - **A broken pre-confirmation** ([`BrokenPromise`]): a producer's signed
//!   promise that its block at height `h` on parent `P` holds a
//!   transaction at position `i` with a receipt, and a block header the
//!   same producer signed at `h` on `P` that does not: it ends before `i`,
//!   holds another transaction there, or the same one with another
//!   receipt.
//!
//! **Compact proofs of a block's content.** A broken promise does not
//! carry the block's transactions and receipts, only Merkle paths into
//! the header's roots: the transaction hash and receipt leaf at the
//! promised position, and the block's transaction count `n`, proved by the
//! *last* transaction (position `n - 1`), given whole, and its path. The
//! Go node's Merkle tree has no domain separation between leaves and inner
//! nodes, so a path alone could pass an inner node off as a leaf: the root
//! of leaves `a, b, c, d` is also the root of the two "leaves" `H(a, b)`
//! and `H(c, d)`. Two rules close that:
//!
//! - the last leaf must be the hash of a signed transaction of this chain,
//!   and a transaction's hashed fields (at least a 33-byte account and a
//!   32-byte chain id hash) are longer than the 64 bytes an inner node
//!   hashes, so it is no inner node without a SHA-256 collision; its path
//!   must have the shape only the last leaf has: wherever its position is
//!   even on a level, its sibling is itself (the Go tree pairs a lone last
//!   node with itself). A shorter count would need a real sibling to equal
//!   the node, a collision again.
//! - knowing `n` fixes the tree's shape (its depth is `ceil(log2 n)`), and
//!   every other path must have exactly that length, so the leaf it proves
//!   sits on the bottom level.
//!
//! The checks that need keys (signatures, the producer's identity) are in
//! `aergo-crypto` (`check_evidence`); this module holds the messages, the
//! vote digest, the slot clock and the Merkle arithmetic.

use prost::Message;

use crate::{merkle_fold, merkle_path, BlockHeader, Hash, Preconfirmation, Result, Tx, TypesError};

/// Largest encoded evidence accepted: it travels hex-encoded in a
/// transaction payload, which is at most `TX_MAX_SIZE_BYTES` (200 KiB).
pub const EVIDENCE_MAX_BYTES: usize = 96 * 1024;
/// Deepest Merkle path accepted in a compact block proof (2^32 leaves).
pub const MAX_PROOF_DEPTH: usize = 32;

/// Domain separator of vote signatures (never a valid transaction or
/// block-header signing hash, which start with other fields).
pub const VOTE_DOMAIN: &[u8] = b"aergo-dpos-vote-v1\0";

/// The digest a producer signs to vote for `block` in `slot` on the chain
/// named by `chain_tag` (the hash of the chain id, so a vote cannot be
/// replayed on another chain):
/// `SHA-256(VOTE_DOMAIN || chain_tag || slot as u64 big-endian || block)`.
pub fn vote_digest(chain_tag: &Hash, slot: u64, block: &Hash) -> Hash {
    Hash::sha256_parts(&[VOTE_DOMAIN, chain_tag.as_bytes(), &slot.to_be_bytes(), block.as_bytes()])
}

/// A DPoS chain's slot clock: slot `s` covers
/// `[genesis + s * interval, genesis + (s + 1) * interval)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotClock {
    pub genesis_timestamp_ns: i64,
    pub interval_ms: u64,
}

impl SlotClock {
    /// The slot a timestamp falls in. Timestamps at or before genesis are
    /// in slot 0; an interval of 0 is treated as 1 ms (genesis validation
    /// keeps it at least 250).
    pub fn slot_of(&self, timestamp_ns: i64) -> u64 {
        let interval_ns = i128::from(self.interval_ms.max(1)) * 1_000_000;
        let elapsed_ns = i128::from(timestamp_ns) - i128::from(self.genesis_timestamp_ns);
        if elapsed_ns <= 0 {
            return 0;
        }
        // elapsed < 2^64 ns and interval >= 1e6 ns: the quotient fits u64.
        (elapsed_ns / interval_ns) as u64
    }
}

/// One of the three offences; exactly one field is set.
#[derive(Clone, PartialEq, Message)]
pub struct Evidence {
    #[prost(message, optional, tag = "1")]
    pub double_block: Option<DoubleBlock>,
    #[prost(message, optional, tag = "2")]
    pub double_vote: Option<DoubleVote>,
    #[prost(message, optional, tag = "3")]
    pub broken_promise: Option<BrokenPromise>,
}

/// Two headers (bodies are not needed: a header's hash and signature do
/// not cover them) signed by one producer for one slot.
#[derive(Clone, PartialEq, Message)]
pub struct DoubleBlock {
    #[prost(message, optional, tag = "1")]
    pub first: Option<BlockHeader>,
    #[prost(message, optional, tag = "2")]
    pub second: Option<BlockHeader>,
}

/// A DPoS vote as the producer signed it.
#[derive(Clone, PartialEq, Message)]
pub struct SignedVote {
    #[prost(uint64, tag = "1")]
    pub slot: u64,
    #[prost(bytes = "vec", tag = "2")]
    pub block: Vec<u8>,
    /// The voter's public key, 33 bytes compressed.
    #[prost(bytes = "vec", tag = "3")]
    pub voter: Vec<u8>,
    /// The compact (64-byte, low-s) signature of [`vote_digest`].
    #[prost(bytes = "vec", tag = "4")]
    pub signature: Vec<u8>,
}

/// Two votes by one producer in one slot for different blocks.
#[derive(Clone, PartialEq, Message)]
pub struct DoubleVote {
    #[prost(message, optional, tag = "1")]
    pub first: Option<SignedVote>,
    #[prost(message, optional, tag = "2")]
    pub second: Option<SignedVote>,
}

/// A pre-confirmation and the header of the block that breaks it, with
/// compact proofs of what the block holds (see the module docs).
#[derive(Clone, PartialEq, Message)]
pub struct BrokenPromise {
    #[prost(message, optional, tag = "1")]
    pub preconf: Option<Preconfirmation>,
    #[prost(message, optional, tag = "2")]
    pub header: Option<BlockHeader>,
    /// How many transactions the block holds.
    #[prost(uint64, tag = "3")]
    pub tx_count: u64,
    /// The block's last transaction, whole, and its path in the txs tree
    /// (proves `tx_count`; absent when the block has none).
    #[prost(message, optional, tag = "4")]
    pub last_tx: Option<Tx>,
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub last_tx_path: Vec<Vec<u8>>,
    /// The transaction hash at the promised position and its path (empty
    /// when the block ends before it).
    #[prost(bytes = "vec", tag = "6")]
    pub tx_hash: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "7")]
    pub tx_path: Vec<Vec<u8>>,
    /// The receipt leaf at the promised position and its path in the
    /// receipts tree (empty when the block ends before it).
    #[prost(bytes = "vec", tag = "8")]
    pub receipt_leaf: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub receipt_path: Vec<Vec<u8>>,
}

/// Which offence a piece of evidence is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffenceKind {
    DoubleBlock,
    DoubleVote,
    BrokenPromise,
}

impl OffenceKind {
    /// The name stored in `sys.offences` and shown by the API.
    pub fn name(self) -> &'static str {
        match self {
            OffenceKind::DoubleBlock => "double_block",
            OffenceKind::DoubleVote => "double_vote",
            OffenceKind::BrokenPromise => "broken_promise",
        }
    }

    /// One byte naming the kind in an offence id.
    pub fn tag(self) -> u8 {
        match self {
            OffenceKind::DoubleBlock => 1,
            OffenceKind::DoubleVote => 2,
            OffenceKind::BrokenPromise => 3,
        }
    }
}

impl Evidence {
    /// Which offence this is; an error unless exactly one is set.
    pub fn kind(&self) -> Result<OffenceKind> {
        let set = [
            (self.double_block.is_some(), OffenceKind::DoubleBlock),
            (self.double_vote.is_some(), OffenceKind::DoubleVote),
            (self.broken_promise.is_some(), OffenceKind::BrokenPromise),
        ];
        let mut kinds = set.iter().filter(|(on, _)| *on).map(|(_, k)| *k);
        match (kinds.next(), kinds.next()) {
            (Some(k), None) => Ok(k),
            (None, _) => Err(TypesError::Decode {
                what: "evidence",
                reason: "no offence given: expected one of double_block, double_vote, broken_promise".into(),
            }),
            (Some(a), Some(b)) => Err(TypesError::Decode {
                what: "evidence",
                reason: format!("two offences given ({} and {}), expected one", a.name(), b.name()),
            }),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes untrusted bytes ([`EVIDENCE_MAX_BYTES`] at most).
    pub fn decode_bounded(bytes: &[u8]) -> Result<Evidence> {
        if bytes.len() > EVIDENCE_MAX_BYTES {
            return Err(TypesError::TooLarge {
                what: "encoded evidence",
                found: bytes.len(),
                limit: EVIDENCE_MAX_BYTES,
            });
        }
        Evidence::decode(bytes).map_err(|e| TypesError::Decode { what: "evidence", reason: e.to_string() })
    }

    /// Reads the hex of an encoding (as `v1evidence` carries it and
    /// `aergo evidence submit` reads it), with or without `0x`.
    pub fn from_hex(text: &str) -> Result<Evidence> {
        let text = text.trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        if text.len() > 2 * EVIDENCE_MAX_BYTES {
            return Err(TypesError::TooLarge {
                what: "evidence hex",
                found: text.len(),
                limit: 2 * EVIDENCE_MAX_BYTES,
            });
        }
        let bytes =
            hex::decode(text).map_err(|e| TypesError::Decode { what: "evidence hex", reason: e.to_string() })?;
        Evidence::decode_bounded(&bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.encode())
    }
}

/// Depth of the Go Merkle tree over `n` leaves: `ceil(log2 n)`, 0 for 0
/// or 1 leaf.
pub fn tree_depth(n: u64) -> usize {
    if n <= 1 {
        0
    } else {
        (64 - (n - 1).leading_zeros()) as usize
    }
}

fn path_hashes(what: &'static str, path: &[Vec<u8>]) -> Result<Vec<Hash>> {
    if path.len() > MAX_PROOF_DEPTH {
        return Err(TypesError::TooLarge { what, found: path.len(), limit: MAX_PROOF_DEPTH });
    }
    path.iter().map(|h| Ok(Hash::from_slice(what, h)?)).collect()
}

/// Checks that `leaf` sits at `index` of a tree of `n` leaves with root
/// `root`, through `path` of exactly the tree's depth.
pub fn prove_leaf(what: &'static str, root: &Hash, n: u64, index: u64, leaf: &Hash, path: &[Vec<u8>]) -> Result<()> {
    let path = path_hashes(what, path)?;
    let depth = tree_depth(n);
    if index >= n || path.len() != depth {
        return Err(TypesError::Decode {
            what,
            reason: format!(
                "a path of {} hashes for leaf {index} of {n}, expected {depth} (a tree of {n} leaves is {depth} deep)",
                path.len()
            ),
        });
    }
    if merkle_fold(leaf, index, &path) != *root {
        return Err(TypesError::Decode { what, reason: format!("leaf {index} and its path do not give the root") });
    }
    Ok(())
}

/// Checks that a tree with root `root` has exactly `n` leaves, the last
/// being `last` with `path` (see the module docs). `n = 0` needs the zero
/// root and no leaf.
pub fn prove_count(root: &Hash, n: u64, last: &Hash, path: &[Vec<u8>]) -> Result<()> {
    const WHAT: &str = "transaction count proof";
    if n == 0 {
        return if *root == Hash::ZERO {
            Ok(())
        } else {
            Err(TypesError::Decode { what: WHAT, reason: "a block of no transactions has the zero txs root".into() })
        };
    }
    prove_leaf(WHAT, root, n, n - 1, last, path)?;
    // Walk up: where the last node's position is even, the level's node
    // count is odd and the Go tree pairs it with itself.
    let hashes = path_hashes(WHAT, path)?;
    let (mut node, mut position) = (*last, n - 1);
    for (level, sibling) in hashes.iter().enumerate() {
        if position % 2 == 0 && sibling != &node {
            return Err(TypesError::Decode {
                what: WHAT,
                reason: format!("leaf {} is not the last: level {level} has a node after it", n - 1),
            });
        }
        node = if position % 2 == 0 {
            Hash::sha256_parts(&[node.as_bytes(), sibling.as_bytes()])
        } else {
            Hash::sha256_parts(&[sibling.as_bytes(), node.as_bytes()])
        };
        position /= 2;
    }
    Ok(())
}

impl BrokenPromise {
    /// The compact evidence against `header` for `preconf`, from the
    /// block's transactions and receipt leaves in block order. Errors if a
    /// transaction's hash field is not 32 bytes.
    pub fn build(
        preconf: Preconfirmation,
        header: BlockHeader,
        txs: &[Tx],
        receipt_leaves: &[Hash],
    ) -> Result<BrokenPromise> {
        let tx_hashes = txs.iter().map(Tx::hash).collect::<Result<Vec<Hash>>>()?;
        let n = txs.len();
        let to_vecs = |p: Vec<Hash>| p.iter().map(Hash::to_vec).collect::<Vec<_>>();
        let index = preconf.index as usize;
        let last_tx_path = if n == 0 { Vec::new() } else { to_vecs(merkle_path(&tx_hashes, n - 1)) };
        let at = |leaves: &[Hash]| match leaves.get(index) {
            Some(leaf) => (leaf.to_vec(), to_vecs(merkle_path(leaves, index))),
            None => (Vec::new(), Vec::new()),
        };
        let (tx_hash, tx_path) = at(&tx_hashes);
        let (receipt_leaf, receipt_path) = at(receipt_leaves);
        Ok(BrokenPromise {
            preconf: Some(preconf),
            header: Some(header),
            tx_count: n as u64,
            last_tx: txs.last().cloned(),
            last_tx_path,
            tx_hash,
            tx_path,
            receipt_leaf,
            receipt_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle_root;

    fn leaves(n: u32) -> Vec<Hash> {
        (0..n).map(|i| Hash::sha256(&i.to_be_bytes())).collect()
    }

    fn vecs(p: Vec<Hash>) -> Vec<Vec<u8>> {
        p.iter().map(Hash::to_vec).collect()
    }

    #[test]
    fn depth_is_the_ceiling_of_log2() {
        let expected = [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4), (1 << 20, 20)];
        for (n, d) in expected {
            assert_eq!(tree_depth(n), d, "n = {n}");
        }
    }

    #[test]
    fn only_the_true_count_is_proved() {
        for n in 1..40u32 {
            let l = leaves(n);
            let root = merkle_root(&l);
            let last = (n - 1) as usize;
            prove_count(&root, n as u64, &l[last], &vecs(merkle_path(&l, last))).unwrap();
            // Every other leaf, claimed to be the last one, fails: with the
            // depth of its own count or with the true depth.
            for i in 0..last {
                let path = vecs(merkle_path(&l, i));
                assert!(prove_count(&root, i as u64 + 1, &l[i], &path).is_err(), "n {n}, leaf {i}");
            }
            // Every leaf proves its own place, at the true depth only.
            for (i, leaf) in l.iter().enumerate() {
                let path = vecs(merkle_path(&l, i));
                prove_leaf("t", &root, n as u64, i as u64, leaf, &path).unwrap();
                let deeper = (n as u64 + 1..).find(|m| tree_depth(*m) != tree_depth(n as u64)).unwrap();
                assert!(prove_leaf("t", &root, deeper, i as u64, leaf, &path).is_err());
            }
        }
        assert!(prove_count(&Hash::ZERO, 0, &Hash::ZERO, &[]).is_ok());
        assert!(prove_count(&Hash::sha256(b"x"), 0, &Hash::ZERO, &[]).is_err());
    }

    #[test]
    fn an_inner_node_is_not_a_leaf_at_the_true_depth() {
        // Leaves a, b, c, d: the inner node H(c, d) at position 1 of level
        // 1 folds to the root with path [H(a, b)], but not at depth 2. As
        // the last of two "leaves" it passes the count check: that is why
        // the last leaf must be a real transaction (aergo-crypto).
        let l = leaves(4);
        let root = merkle_root(&l);
        let inner = Hash::sha256_parts(&[l[2].as_bytes(), l[3].as_bytes()]);
        let ab = Hash::sha256_parts(&[l[0].as_bytes(), l[1].as_bytes()]);
        assert_eq!(merkle_fold(&inner, 1, &[ab]), root);
        assert!(prove_leaf("t", &root, 4, 1, &inner, &[ab.to_vec()]).is_err());
        assert!(prove_count(&root, 2, &inner, &[ab.to_vec()]).is_ok());
    }

    #[test]
    fn exactly_one_offence_and_bounded_bytes() {
        assert!(Evidence::default().kind().is_err());
        let two = Evidence {
            double_block: Some(DoubleBlock::default()),
            double_vote: Some(DoubleVote::default()),
            ..Default::default()
        };
        assert!(two.kind().unwrap_err().to_string().contains("two offences"));
        let one = Evidence { double_vote: Some(DoubleVote::default()), ..Default::default() };
        assert_eq!(one.kind().unwrap(), OffenceKind::DoubleVote);
        assert_eq!(Evidence::from_hex(&one.to_hex()).unwrap(), one);
        assert!(Evidence::decode_bounded(&vec![0u8; EVIDENCE_MAX_BYTES + 1]).is_err());
        assert!(Evidence::from_hex("zz").is_err());
    }

    #[test]
    fn slot_clock() {
        let c = SlotClock { genesis_timestamp_ns: 1_000_000_000_000, interval_ms: 1000 };
        assert_eq!(c.slot_of(c.genesis_timestamp_ns - 5), 0);
        assert_eq!(c.slot_of(c.genesis_timestamp_ns + 999_999_999), 0);
        assert_eq!(c.slot_of(c.genesis_timestamp_ns + 1_000_000_000), 1);
        let any = SlotClock { genesis_timestamp_ns: i64::MIN, interval_ms: 1 };
        assert_eq!(any.slot_of(i64::MAX), u64::MAX / 1_000_000);
    }
}
