//! A bounded cache of decoded nodes, sized in bytes, with CLOCK eviction (an
//! approximation of least-recently-used that costs O(1) per hit: a hit only
//! sets a bit). Sharded by hash so that parallel table flushes rarely contend.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use crate::node::Node;
use crate::Hash;

const SHARDS: usize = 16;

/// Node hashes are uniformly random already: their first eight bytes are a
/// perfectly good hash-map hash, no need to run SipHash over 32 bytes.
#[derive(Default)]
pub(crate) struct HashPrefixHasher(u64);

impl Hasher for HashPrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= (*b as u64) << (8 * i);
        }
    }
}

pub(crate) type HashMapByHash<V> = HashMap<Hash, V, BuildHasherDefault<HashPrefixHasher>>;

struct Slot {
    node: Arc<Node>,
    referenced: bool,
}

struct Shard {
    map: HashMapByHash<usize>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
}

impl Shard {
    fn evict_one(&mut self) -> bool {
        if self.map.is_empty() {
            return false;
        }
        // Terminates: each full turn clears every referenced bit.
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            let Some(slot) = self.slots[i].as_mut() else { continue };
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            if let Some(slot) = self.slots[i].take() {
                self.map.remove(&slot.node.hash());
                self.bytes -= slot.node.weight_bytes();
                self.free.push(i);
            }
            return true;
        }
    }
}

/// Decoded-node cache with a byte budget.
pub struct NodeCache {
    shards: Vec<Mutex<Shard>>,
    shard_budget_bytes: usize,
}

impl NodeCache {
    pub fn new(capacity_bytes: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMapByHash::default(),
                    slots: Vec::new(),
                    free: Vec::new(),
                    hand: 0,
                    bytes: 0,
                })
            })
            .collect();
        NodeCache { shards, shard_budget_bytes: capacity_bytes / SHARDS }
    }

    fn shard(&self, hash: &Hash) -> &Mutex<Shard> {
        &self.shards[hash.0[31] as usize % SHARDS]
    }

    pub fn get(&self, hash: &Hash) -> Option<Arc<Node>> {
        let mut s = self.shard(hash).lock().ok()?;
        let i = *s.map.get(hash)?;
        let slot = s.slots.get_mut(i)?.as_mut()?;
        slot.referenced = true;
        Some(slot.node.clone())
    }

    pub fn insert(&self, node: Arc<Node>) {
        let weight = node.weight_bytes();
        if weight > self.shard_budget_bytes {
            return;
        }
        let hash = node.hash();
        let Ok(mut s) = self.shard(&hash).lock() else { return };
        if s.map.contains_key(&hash) {
            return;
        }
        while s.bytes + weight > self.shard_budget_bytes {
            if !s.evict_one() {
                break;
            }
        }
        let slot = Some(Slot { node, referenced: false });
        let i = match s.free.pop() {
            Some(i) => {
                s.slots[i] = slot;
                i
            }
            None => {
                s.slots.push(slot);
                s.slots.len() - 1
            }
        };
        s.map.insert(hash, i);
        s.bytes += weight;
    }

    pub fn remove(&self, hash: &Hash) {
        let Ok(mut s) = self.shard(hash).lock() else { return };
        if let Some(i) = s.map.remove(hash) {
            if let Some(slot) = s.slots.get_mut(i).and_then(Option::take) {
                s.bytes -= slot.node.weight_bytes();
                s.free.push(i);
            }
        }
    }

    /// Bytes currently held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.shards.iter().filter_map(|s| s.lock().ok().map(|s| s.bytes)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{build_node, encode_leaf_entry, KIND_PLAIN};

    fn node(i: u32) -> Arc<Node> {
        let mut buf = Vec::new();
        encode_leaf_entry(&mut buf, &i.to_be_bytes(), &[0u8; 100]);
        build_node(0, KIND_PLAIN, 1, &buf).unwrap()
    }

    #[test]
    fn stays_within_budget_and_keeps_hot_nodes() {
        let cache = NodeCache::new(64 * 1024);
        let nodes: Vec<_> = (0..2000).map(node).collect();
        let hot = &nodes[0];
        for n in &nodes {
            cache.insert(n.clone());
            // Touch the hot node constantly: CLOCK must keep it.
            cache.get(&hot.hash());
            assert!(cache.bytes() <= 64 * 1024);
        }
        assert!(cache.get(&hot.hash()).is_some());
        assert!(cache.get(&nodes[1999].hash()).is_some());
        // Most cold early nodes were evicted.
        let survivors = nodes[1..1000].iter().filter(|n| cache.get(&n.hash()).is_some()).count();
        assert!(survivors < 500, "{survivors} cold nodes survived");
        cache.remove(&nodes[1999].hash());
        assert!(cache.get(&nodes[1999].hash()).is_none());
    }
}
