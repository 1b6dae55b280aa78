//! Pre-confirmations on a DPoS chain: which producer keeps the open
//! block, when it opens, what becomes of it at its slot, and the
//! hand-off when it cannot be sealed (the protocol is in `pending`'s
//! module doc, "DPoS").

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use aergo_chain::Head;
use aergo_exec::slots::{producer_index, slot_start_ns};
use aergo_types::{Hash, Preconfirmation};

use super::{Replica, Result};
use crate::output::Output;
use crate::pending::{Pending, PreconfOutcome};

/// Producer sets remembered by head, for the schedule check at admission.
const SET_CACHE_ENTRIES: usize = 8;

/// Why this node opens no block now, and who would.
pub(crate) struct NotHere {
    /// The next slot's producer, when another node.
    pub(crate) producer: Option<String>,
    pub(crate) reason: String,
}

impl NotHere {
    fn because(reason: impl Into<String>) -> NotHere {
        NotHere { producer: None, reason: reason.into() }
    }
}

/// The elected set after recent heads (admission asks for every
/// transaction while no block is open; the set changes once an epoch).
#[derive(Default)]
pub(crate) struct SetCache {
    sets: Vec<(Hash, Vec<String>)>,
}

impl Replica {
    /// The producer set elected after `head`, cached.
    fn producers_after(&self, head: &Head) -> Result<Vec<String>> {
        let mut cache = self.set_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, set)) = cache.sets.iter().find(|(h, _)| *h == head.hash) {
            return Ok(set.clone());
        }
        // The set of this head's state, not of whatever the head is now:
        // the cache is keyed by this head.
        let set = aergo_exec::dpos::producers(&aergo_store::Snapshot::open(self.chain.store(), head.state_root))?;
        if cache.sets.len() >= SET_CACHE_ENTRIES {
            cache.sets.remove(0);
        }
        cache.sets.push((head.hash, set.clone()));
        Ok(set)
    }

    /// The timestamp of the block this node would open after `head` now,
    /// or why it opens none: only the producer of the next slot keeps an
    /// open block, on the block of the current slot (or, past half the
    /// slot without one, on the head: the current producer missed it).
    /// The timestamp is the start of its slot, which the sealed block
    /// then carries.
    pub(super) fn dpos_open_timestamp(&self, head: &Head) -> Result<std::result::Result<i64, NotHere>> {
        let Some(settings) = self.chain.dpos() else { return Ok(Err(NotHere::because("not a DPoS chain"))) };
        let (genesis_ns, interval_ms) = (self.chain.genesis().timestamp, settings.block_interval_ms);
        let now = self.clock_ns.load(Ordering::Relaxed);
        let current = self.chain.slot_of(now);
        let next = current + 1;
        let set = self.producers_after(head)?;
        let Some(leader) = set.get(producer_index(next, set.len())) else {
            return Ok(Err(NotHere::because("the producer set is empty")));
        };
        if *leader != self.peer_id {
            return Ok(Err(NotHere {
                producer: Some(leader.clone()),
                reason: format!("this node does not produce the next slot ({next} belongs to {leader})"),
            }));
        }
        let head_slot = self.chain.slot_of(head.timestamp_ns);
        let start = |slot: u64| slot_start_ns(slot, genesis_ns, interval_ms).unwrap_or(i64::MAX);
        let half_slot_ns = (interval_ms as i64).saturating_mul(500_000);
        if head_slot < current && now < start(current).saturating_add(half_slot_ns) {
            return Ok(Err(NotHere::because(format!(
                "waiting for the block of slot {current} before opening slot {next}; the tx goes in when it opens"
            ))));
        }
        Ok(Ok(start(next)))
    }

    /// Whether an open DPoS block can still be sealed as opened: it sits on
    /// the head and its slot has not passed.
    pub(super) fn dpos_pending_current(&self, p: &Pending, head: &Head) -> bool {
        let now_slot = self.chain.slot_of(self.clock_ns.load(Ordering::Relaxed));
        p.parent() == head.hash && self.chain.slot_of(p.timestamp_ns()) >= now_slot
    }

    /// After a step of a DPoS node: an open block that can no longer be
    /// sealed is dropped (its promises name a block that will not exist:
    /// void, never broken); the next producer opens its block when it is
    /// due and takes the pool's ready transactions, and transactions
    /// promised in a dropped block get new promises, published as
    /// [`Output::Reissued`] (the hand-off: the client learns its
    /// transaction's new place from the new promise).
    pub(super) fn refresh_dpos_pending(&self, out: &mut Vec<Output>) -> Result<()> {
        if !self.pre_executes() {
            return Ok(());
        }
        let head = self.chain.head();
        let mut slot = self.lock_pending();
        let mut voided: BTreeSet<Hash> = BTreeSet::new();
        if slot.as_ref().is_some_and(|p| !self.dpos_pending_current(p, &head)) {
            if let Some(p) = slot.take() {
                voided = p.tx_hashes().into_iter().collect();
            }
        }
        let ready = self.lock_pool().len();
        if slot.is_none() && (ready > 0 || !voided.is_empty()) {
            if let Ok(timestamp_ns) = self.dpos_open_timestamp(&head)? {
                *slot = Some(self.open_pending_at(timestamp_ns)?);
            }
        }
        let again: Vec<_> = match slot.as_ref() {
            Some(p) if !voided.is_empty() => voided.iter().filter_map(|h| p.ticket(h).cloned()).collect(),
            _ => Vec::new(),
        };
        drop(slot);
        if !again.is_empty() {
            let promised: Vec<Preconfirmation> = self
                .promise_all(&again)?
                .into_iter()
                .filter_map(|o| match o {
                    PreconfOutcome::Preconfirmed(p) => Some(*p),
                    PreconfOutcome::Queued { .. } | PreconfOutcome::Elsewhere { .. } => None,
                })
                .collect();
            if !promised.is_empty() {
                out.push(Output::Reissued(promised));
            }
        }
        Ok(())
    }
}
