//! Inclusion and absence proofs.
//!
//! A proof for `key` under `root` is the list of node bytes on the path from
//! the root toward the key: at each internal node the path takes the first
//! child whose last key is `>= key`; it ends at a leaf, or at an internal node
//! whose last key is below `key` (every key is smaller: absence). The path is
//! fully determined by the root and the key, so the verifier needs nothing
//! else and the proven answer cannot be forged without breaking SHA-256.
//!
//! Wire form ([`Proof::encode`]): `count:uvarint (len:uvarint bytes){count}`.

use crate::codec::{put_uvarint, Reader};
use crate::node::{node_hash, Node, MAX_LEVEL, MAX_NODE_BYTES};
use crate::state::decode_descriptor;
use crate::store::Store;
use crate::{Hash, StoreError};

/// The nodes on the path from a root toward a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proof {
    pub nodes: Vec<Vec<u8>>,
}

/// A proof of one row of one table of a state: the catalogue path to the
/// table's descriptor, then the table path to the row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowProof {
    pub catalogue: Proof,
    pub table: Proof,
}

fn bad(reason: impl Into<String>) -> StoreError {
    StoreError::BadProof { reason: reason.into() }
}

impl Proof {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_uvarint(&mut out, self.nodes.len() as u128);
        for n in &self.nodes {
            put_uvarint(&mut out, n.len() as u128);
            out.extend_from_slice(n);
        }
        out
    }

    /// Decodes the wire form; bounded by the maximum depth and node size.
    pub fn decode(bytes: &[u8]) -> Result<Proof, StoreError> {
        let mut r = Reader::new(bytes);
        let count = r.uvarint("proof node count")?;
        if count > MAX_LEVEL as u128 + 1 {
            return Err(bad(format!("{count} nodes, at most {} allowed", MAX_LEVEL as u32 + 1)));
        }
        let mut nodes = Vec::new();
        for _ in 0..count {
            let n = r.lenbytes("proof node")?;
            if n.len() > MAX_NODE_BYTES {
                return Err(bad("node larger than the maximum node size"));
            }
            nodes.push(n.to_vec());
        }
        if !r.is_empty() {
            return Err(bad("trailing bytes after the proof"));
        }
        Ok(Proof { nodes })
    }
}

/// Checks `proof` for `key` under `root`. Returns the proven value (`Some`)
/// or proven absence (`None`); any inconsistency is [`StoreError::BadProof`].
pub fn verify_proof(root: Hash, key: &[u8], proof: &Proof) -> Result<Option<Vec<u8>>, StoreError> {
    if root == Hash::ZERO {
        return if proof.nodes.is_empty() { Ok(None) } else { Err(bad("the empty tree has no nodes")) };
    }
    let mut expected = root;
    let mut parent_level: Option<u8> = None;
    for (depth, bytes) in proof.nodes.iter().enumerate() {
        if node_hash(bytes) != expected {
            return Err(bad(format!("node {depth} does not hash to {expected}")));
        }
        let node = Node::decode(expected, bytes.clone().into_boxed_slice())
            .map_err(|e| bad(format!("node {depth} does not decode: {e}")))?;
        if let Some(p) = parent_level {
            if node.level() + 1 != p {
                return Err(bad(format!("node {depth} has level {}, expected {}", node.level(), p - 1)));
            }
        }
        let last = depth + 1 == proof.nodes.len();
        let i = node.lower_bound(key);
        if node.is_leaf() {
            if !last {
                return Err(bad("nodes after the leaf"));
            }
            return Ok((i < node.len() && node.key(i) == key).then(|| node.value(i).to_vec()));
        }
        if i == node.len() {
            // Every key of the tree is below `key`.
            return if last { Ok(None) } else { Err(bad("nodes after an absence proof")) };
        }
        if last {
            return Err(bad("proof ends above the leaf level"));
        }
        expected = node.child(i);
        parent_level = Some(node.level());
    }
    Err(bad("proof has no nodes"))
}

/// Checks a row proof against a state root: returns the row's value or its
/// absence. A missing table is proven too (`Ok(None)` with an empty table
/// proof).
pub fn verify_row_proof(
    state_root: Hash,
    table: &str,
    key: &[u8],
    proof: &RowProof,
) -> Result<Option<Vec<u8>>, StoreError> {
    match verify_proof(state_root, table.as_bytes(), &proof.catalogue)? {
        None => {
            if proof.table.nodes.is_empty() {
                Ok(None)
            } else {
                Err(bad("table proof for a table that does not exist"))
            }
        }
        Some(desc) => {
            let (root, _) = decode_descriptor(table, &desc).map_err(|e| bad(e.to_string()))?;
            verify_proof(root, key, &proof.table)
        }
    }
}

impl Store {
    /// Builds the inclusion or absence proof of `key` under `root`.
    pub fn prove(&self, root: Hash, key: &[u8]) -> Result<Proof, StoreError> {
        let mut proof = Proof::default();
        if root == Hash::ZERO {
            return Ok(proof);
        }
        let mut node = self.load(root)?;
        loop {
            proof.nodes.push(node.bytes().to_vec());
            let i = node.lower_bound(key);
            if node.is_leaf() || i == node.len() {
                return Ok(proof);
            }
            node = self.load_child(&node, i)?;
        }
    }

    /// Builds the proof of one row of one table of the state at `state_root`.
    pub fn prove_row(&self, state_root: Hash, table: &str, key: &[u8]) -> Result<RowProof, StoreError> {
        let catalogue = self.prove(state_root, table.as_bytes())?;
        let table_proof = match self.get(state_root, table.as_bytes())? {
            None => Proof::default(),
            Some(desc) => self.prove(decode_descriptor(table, &desc)?.0, key)?,
        };
        Ok(RowProof { catalogue, table: table_proof })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::build_state;
    use crate::TableMeta;
    use proptest::prelude::*;

    fn tree(store: &Store, n: u32) -> Hash {
        let entries: Vec<_> = (0..n).map(|i| ((i * 2).to_be_bytes().to_vec(), vec![i as u8; 24])).collect();
        store.build(&entries).unwrap()
    }

    #[test]
    fn inclusion_and_absence() {
        let store = Store::memory();
        let root = tree(&store, 20_000);
        let p = store.prove(root, &10u32.to_be_bytes()).unwrap();
        assert!(p.nodes.len() >= 2);
        assert_eq!(verify_proof(root, &10u32.to_be_bytes(), &p).unwrap(), Some(vec![5u8; 24]));
        for absent in [11u32, u32::MAX] {
            let p = store.prove(root, &absent.to_be_bytes()).unwrap();
            assert_eq!(verify_proof(root, &absent.to_be_bytes(), &p).unwrap(), None);
        }
        let p = store.prove(root, &10u32.to_be_bytes()).unwrap();
        // A proof for one key does not prove another.
        assert!(verify_proof(root, &40_000u32.to_be_bytes(), &p).is_err());
        assert_eq!(Proof::decode(&p.encode()).unwrap(), p);
        assert_eq!(verify_proof(Hash::ZERO, b"k", &Proof::default()).unwrap(), None);
    }

    #[test]
    fn row_proofs() {
        let store = Store::memory();
        let rows = vec![(b"alice".to_vec(), b"100".to_vec()), (b"bob".to_vec(), b"5".to_vec())];
        let root = build_state(&store, &[("balances", TableMeta { schema: vec![] }, rows)]).unwrap();
        let p = store.prove_row(root, "balances", b"bob").unwrap();
        assert_eq!(verify_row_proof(root, "balances", b"bob", &p).unwrap(), Some(b"5".to_vec()));
        let p = store.prove_row(root, "nope", b"bob").unwrap();
        assert_eq!(verify_row_proof(root, "nope", b"bob", &p).unwrap(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Flipping any bit of any node of a proof makes it fail.
        #[test]
        fn tampered_proofs_fail(key in 0u32..9000, node_pick in any::<usize>(), byte_pick in any::<usize>(), bit in 0u8..8) {
            let store = Store::memory();
            let root = tree(&store, 3000);
            let k = key.to_be_bytes();
            let mut p = store.prove(root, &k).unwrap();
            let honest = verify_proof(root, &k, &p).unwrap();
            prop_assert_eq!(honest.is_some(), key % 2 == 0 && key < 6000);
            let n = node_pick % p.nodes.len();
            let b = byte_pick % p.nodes[n].len();
            p.nodes[n][b] ^= 1 << bit;
            prop_assert!(verify_proof(root, &k, &p).is_err());
        }

        #[test]
        fn proof_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), key in proptest::collection::vec(any::<u8>(), 0..8)) {
            if let Ok(p) = Proof::decode(&bytes) {
                let _ = verify_proof(Hash([1; 32]), &key, &p);
            }
        }
    }
}
