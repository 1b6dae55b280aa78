//! A bounded cache of decoded nodes, least-recently-used first out, sized in
//! bytes. Sharded by hash so that parallel table flushes rarely contend.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::node::Node;
use crate::Hash;

const SHARDS: usize = 16;

struct Shard {
    map: HashMap<Hash, (Arc<Node>, u64)>,
    /// Use stamp -> hash, oldest first.
    order: BTreeMap<u64, Hash>,
    bytes: usize,
    clock: u64,
}

/// Decoded-node LRU cache with a byte budget.
pub struct NodeCache {
    shards: Vec<Mutex<Shard>>,
    shard_budget_bytes: usize,
}

impl NodeCache {
    pub fn new(capacity_bytes: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard { map: HashMap::new(), order: BTreeMap::new(), bytes: 0, clock: 0 }))
            .collect();
        NodeCache { shards, shard_budget_bytes: capacity_bytes / SHARDS }
    }

    fn shard(&self, hash: &Hash) -> &Mutex<Shard> {
        &self.shards[hash.0[0] as usize % SHARDS]
    }

    pub fn get(&self, hash: &Hash) -> Option<Arc<Node>> {
        let mut s = self.shard(hash).lock().ok()?;
        s.clock += 1;
        let now = s.clock;
        let (node, stamp) = s.map.get_mut(hash)?;
        let old = std::mem::replace(stamp, now);
        let node = node.clone();
        s.order.remove(&old);
        s.order.insert(now, *hash);
        Some(node)
    }

    pub fn insert(&self, node: Arc<Node>) {
        let weight = node.weight_bytes();
        if weight > self.shard_budget_bytes {
            return;
        }
        let hash = node.hash();
        let Ok(mut s) = self.shard(&hash).lock() else { return };
        s.clock += 1;
        let now = s.clock;
        if let Some((_, stamp)) = s.map.get(&hash) {
            let old = *stamp;
            s.order.remove(&old);
            s.order.insert(now, hash);
            if let Some(e) = s.map.get_mut(&hash) {
                e.1 = now;
            }
            return;
        }
        s.bytes += weight;
        s.map.insert(hash, (node, now));
        s.order.insert(now, hash);
        while s.bytes > self.shard_budget_bytes {
            let Some((_, victim)) = s.order.pop_first() else { break };
            if let Some((n, _)) = s.map.remove(&victim) {
                s.bytes -= n.weight_bytes();
            }
        }
    }

    pub fn remove(&self, hash: &Hash) {
        let Ok(mut s) = self.shard(hash).lock() else { return };
        if let Some((n, stamp)) = s.map.remove(hash) {
            s.order.remove(&stamp);
            s.bytes -= n.weight_bytes();
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
    fn stays_within_budget_and_evicts_oldest() {
        let cache = NodeCache::new(16 * 1024);
        let nodes: Vec<_> = (0..1000).map(node).collect();
        for n in &nodes {
            cache.insert(n.clone());
        }
        assert!(cache.bytes() <= 16 * 1024);
        // The most recent insert is present; the very first was evicted.
        assert!(cache.get(&nodes[999].hash()).is_some());
        assert!(cache.get(&nodes[0].hash()).is_none());
        cache.remove(&nodes[999].hash());
        assert!(cache.get(&nodes[999].hash()).is_none());
    }
}
