//! The producer schedule backed by the chain: the set elected for a block
//! on parent `P` is the producer table (`sys.bps`) of `P`'s state, in rank
//! order, as [`aergo_exec::dpos::producers`] reads it. It is a pure
//! function of `P` (its state root), so every node computes the same set
//! for the same block, which the engine's safety argument needs.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use aergo_chain::Chain;
use aergo_consensus::dpos::{ProducerId, ProducerSchedule};
use aergo_crypto::PublicKey;
use aergo_store::Snapshot;
use aergo_types::Hash;

/// Parents whose elected set is remembered. Non-leaders ask once per
/// tick, so the cache saves a table scan per tick; a few epochs' worth of
/// forks is plenty.
const CACHE_ENTRIES: usize = 256;

/// Elected sets by parent hash, bounded, oldest entry evicted first.
#[derive(Default)]
pub(crate) struct ScheduleCache {
    sets: BTreeMap<Hash, Vec<ProducerId>>,
    order: VecDeque<Hash>,
}

impl ScheduleCache {
    fn get(&self, parent: &Hash) -> Option<Vec<ProducerId>> {
        self.sets.get(parent).cloned()
    }

    fn put(&mut self, parent: Hash, set: Vec<ProducerId>) {
        if self.sets.insert(parent, set).is_none() {
            self.order.push_back(parent);
        }
        while self.order.len() > CACHE_ENTRIES {
            if let Some(old) = self.order.pop_front() {
                self.sets.remove(&old);
            }
        }
    }
}

/// [`ProducerSchedule`] over a chain's stored states.
pub(crate) struct ChainSchedule<'a> {
    pub chain: &'a Chain,
    pub cache: &'a RefCell<ScheduleCache>,
}

impl ChainSchedule<'_> {
    /// The state root after `block`: from the chain's tree when the block
    /// is at or above the LIB, else from the stored header (restarts
    /// replay blocks that the chain's LIB already passed).
    fn state_root(&self, block: &Hash) -> Result<Hash, String> {
        if let Some(h) = self.chain.known(block) {
            return Ok(h.state_root);
        }
        let stored = self
            .chain
            .blocks()
            .block_by_hash(block)
            .map_err(|e| format!("reading block {block}: {e}"))?
            .ok_or_else(|| format!("block {block} is not stored"))?;
        let header = stored.header().map_err(|e| format!("block {block}: {e}"))?;
        Hash::from_slice("state root", &header.blocks_root_hash).map_err(|e| format!("block {block}: {e}"))
    }

    /// The producer set of `block`'s state, as keys.
    pub fn elected_after(&self, block: &Hash) -> Result<Vec<ProducerId>, String> {
        if let Some(set) = self.cache.borrow().get(block) {
            return Ok(set);
        }
        let root = self.state_root(block)?;
        let snap = Snapshot::open(self.chain.store(), root);
        let ids = aergo_exec::dpos::producers(&snap).map_err(|e| format!("producer table of {block}: {e}"))?;
        let mut set = Vec::with_capacity(ids.len());
        for id in &ids {
            set.push(PublicKey::from_peer_id(id).map_err(|e| format!("producer {id} of {block}: {e}"))?);
        }
        self.cache.borrow_mut().put(*block, set.clone());
        Ok(set)
    }
}

impl ProducerSchedule for ChainSchedule<'_> {
    fn producers(&self, parent: &Hash, _slot: u64) -> Result<Vec<ProducerId>, String> {
        self.elected_after(parent)
    }
}
