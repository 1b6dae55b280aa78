//! The Go node's binary Merkle root (`internal/merkle.CalculateMerkleRoot`),
//! used for a block's transactions root and receipts root.
//!
//! Algorithm: no leaves gives 32 zero bytes; one leaf gives the leaf itself.
//! Otherwise the leaves are padded (conceptually) to the next power of two;
//! each parent is SHA-256(left || right), where a missing right child is
//! replaced by a copy of the left one and a missing left child makes the
//! parent missing too. The root is the last node computed.

use crate::hash::Hash;

/// The Merkle root of `leaves` exactly as the Go node computes it.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => return Hash::ZERO,
        1 => return leaves[0],
        _ => {}
    }
    // Level by level: a level of n present nodes (always a prefix of the
    // padded level, since missing nodes only occur at the end) gives
    // ceil(n/2) parents; an odd last node is paired with itself.
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            let left = &pair[0];
            let right = pair.get(1).unwrap_or(left);
            next.push(Hash::sha256_parts(&[left.as_bytes(), right.as_bytes()]));
        }
        level = next;
    }
    level[0]
}

/// The siblings from leaf `index` up to the root of [`merkle_root`]'s tree
/// over `leaves` (a last odd node is its own sibling); empty for one leaf.
/// [`merkle_fold`] gives the root back from the leaf and this path.
pub fn merkle_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    if index >= leaves.len() {
        return path;
    }
    let (mut level, mut i) = (leaves.to_vec(), index);
    while level.len() > 1 {
        path.push(*level.get(i ^ 1).unwrap_or(&level[i]));
        level = level
            .chunks(2)
            .map(|pair| Hash::sha256_parts(&[pair[0].as_bytes(), pair.get(1).unwrap_or(&pair[0]).as_bytes()]))
            .collect();
        i /= 2;
    }
    path
}

/// The root of the tree in which `leaf` sits at `index` with sibling path
/// `path` (see [`merkle_path`]).
pub fn merkle_fold(leaf: &Hash, index: u64, path: &[Hash]) -> Hash {
    let (mut node, mut i) = (*leaf, index);
    for sibling in path {
        node = if i % 2 == 0 {
            Hash::sha256_parts(&[node.as_bytes(), sibling.as_bytes()])
        } else {
            Hash::sha256_parts(&[sibling.as_bytes(), node.as_bytes()])
        };
        i /= 2;
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_folds_back_to_the_root_and_only_at_its_index() {
        for n in 1..40usize {
            let leaves: Vec<Hash> = (0..n as u32).map(|i| Hash::sha256(&i.to_be_bytes())).collect();
            let root = merkle_root(&leaves);
            for (i, leaf) in leaves.iter().enumerate() {
                let path = merkle_path(&leaves, i);
                assert_eq!(merkle_fold(leaf, i as u64, &path), root, "n = {n}, i = {i}");
                if n > 1 && i + 1 < n {
                    assert_ne!(merkle_fold(leaf, i as u64 + 1, &path), root, "n = {n}, i = {i}");
                }
            }
        }
        assert!(merkle_path(&[Hash::ZERO], 1).is_empty());
    }

    /// A direct transcription of the Go algorithm (flat array of
    /// 2*leafCount-1 nodes, children consumed two by two) to check the
    /// level-by-level version against.
    fn go_style(entries: &[Hash]) -> Hash {
        if entries.is_empty() {
            return Hash::ZERO;
        }
        let n = entries.len();
        let leaf_count = if n == 1 { 1 } else { n.next_power_of_two() };
        let total = leaf_count * 2 - 1;
        let mut nodes: Vec<Option<Hash>> = vec![None; total];
        for (i, e) in entries.iter().enumerate() {
            nodes[i] = Some(*e);
        }
        let mut child = 0;
        for i in leaf_count..total {
            let (lc, rc) = (child, child + 1);
            child += 2;
            let Some(l) = nodes[lc] else {
                nodes[i] = None;
                continue;
            };
            let r = nodes[rc].unwrap_or(l);
            nodes[rc] = Some(r);
            nodes[i] = Some(Hash::sha256_parts(&[l.as_bytes(), r.as_bytes()]));
        }
        nodes[total - 1].expect("root present when there is a leaf")
    }

    #[test]
    fn matches_the_go_layout_for_many_sizes() {
        for n in 0..70 {
            let leaves: Vec<Hash> = (0..n).map(|i: u32| Hash::sha256(&i.to_le_bytes())).collect();
            assert_eq!(merkle_root(&leaves), go_style(&leaves), "n = {n}");
        }
    }

    #[test]
    fn small_cases() {
        let a = Hash::sha256(b"a");
        let b = Hash::sha256(b"b");
        let c = Hash::sha256(b"c");
        assert_eq!(merkle_root(&[]), Hash::ZERO);
        assert_eq!(merkle_root(&[a]), a);
        let ab = Hash::sha256_parts(&[a.as_bytes(), b.as_bytes()]);
        assert_eq!(merkle_root(&[a, b]), ab);
        let cc = Hash::sha256_parts(&[c.as_bytes(), c.as_bytes()]);
        assert_eq!(merkle_root(&[a, b, c]), Hash::sha256_parts(&[ab.as_bytes(), cc.as_bytes()]));
    }
}
