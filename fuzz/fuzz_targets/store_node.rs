//! The store's on-disk and on-wire tree formats: prolly tree nodes (read
//! back from a database that may be corrupt), Merkle proofs (as a light
//! client receives them) checked against the root their first node hashes
//! to, and table descriptors. A decoded node re-encodes to its bytes.
#![no_main]

use aergo_store::node::{build_node, node_hash, Node};
use aergo_store::proof::{verify_proof, Proof};
use aergo_store::state::decode_descriptor;
use libfuzzer_sys::fuzz_target;

fn exercise(node: &Node, probe: &[u8]) {
    let n = node.len();
    assert!(n > 0);
    let mut entries = Vec::new();
    for i in 0..n {
        let _ = node.key(i);
        let (raw, key_range) = node.raw_entry_with_key(i);
        assert_eq!(&raw[key_range], node.key(i));
        entries.extend_from_slice(node.raw_entry(i));
        if node.is_leaf() {
            let _ = node.value(i);
        } else {
            let _ = node.child(i);
        }
        let _ = node.child_count(i);
        let _ = node.count_before(i);
    }
    let _ = node.last_key();
    let total = node.subtree_count();
    if !node.is_leaf() && total > 0 {
        assert!(node.child_for_position(total - 1) < n);
        assert!(node.child_for_position(total / 2) < n);
    }
    assert!(node.lower_bound(probe) <= node.upper_bound(probe));
    assert!(node.upper_bound(probe) <= n);
    let _ = node.references();
    let _ = node.weight_bytes();
    let rebuilt = build_node(node.level(), node.kind(), n, &entries).expect("a decoded node rebuilds");
    assert_eq!(rebuilt.bytes(), node.bytes(), "a decoded node re-encodes to its bytes");
}

fuzz_target!(|data: &[u8]| {
    let probe = data.get(..data.len().min(8)).unwrap_or_default();
    if let Ok(node) = Node::decode(node_hash(data), data.to_vec().into_boxed_slice()) {
        exercise(&node, probe);
    }
    if let Ok(proof) = Proof::decode(data) {
        assert_eq!(proof.encode(), data);
        if let Some(first) = proof.nodes.first() {
            let root = node_hash(first);
            let _ = verify_proof(root, probe, &proof);
            if let Ok(node) = Node::decode(root, first.clone().into_boxed_slice()) {
                let key = node.key(0).to_vec();
                let _ = verify_proof(root, &key, &proof);
            }
        }
    }
    let _ = decode_descriptor("t", data);
});
