//! Peer penalties, bans and per-peer request rate limiting.
//!
//! Penalty points drain linearly with time (`recovery_points_per_min`); a
//! peer whose points reach the threshold is banned for a fixed time. Both
//! tables are bounded: when full, the entry that matters least (fewest
//! points, or the ban ending soonest) makes room.

use crate::config::{Misbehaviour, ScoreConfig};
use libp2p::PeerId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Penalty {
    points: u64,
    updated: Instant,
}

/// What a penalty led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Still welcome; current points.
    Tolerated { points: u64 },
    /// Over the threshold: banned until the given time.
    Banned { until: Instant },
}

pub(crate) struct Scores {
    cfg: ScoreConfig,
    max_tracked: usize,
    penalties: BTreeMap<PeerId, Penalty>,
    bans: BTreeMap<PeerId, Instant>,
}

impl Scores {
    pub(crate) fn new(cfg: ScoreConfig, max_tracked: usize) -> Scores {
        Scores { cfg, max_tracked: max_tracked.max(1), penalties: BTreeMap::new(), bans: BTreeMap::new() }
    }

    fn drained(&self, p: Penalty, now: Instant) -> u64 {
        let elapsed_ms = now.saturating_duration_since(p.updated).as_millis();
        let forgiven = elapsed_ms.saturating_mul(u128::from(self.cfg.recovery_points_per_min)) / 60_000;
        p.points.saturating_sub(u64::try_from(forgiven).unwrap_or(u64::MAX))
    }

    /// Current penalty points of a peer.
    pub(crate) fn points(&self, peer: &PeerId, now: Instant) -> u64 {
        self.penalties.get(peer).map_or(0, |p| self.drained(*p, now))
    }

    /// Adds the penalty of `m`; bans the peer when it reaches the threshold.
    pub(crate) fn penalise(&mut self, peer: PeerId, m: Misbehaviour, now: Instant) -> Verdict {
        let points = self.points(&peer, now).saturating_add(u64::from(m.penalty_points()));
        if points >= u64::from(self.cfg.ban_threshold) {
            self.penalties.remove(&peer);
            let until = now + Duration::from_millis(self.cfg.ban_duration_ms);
            self.ban_until(peer, until);
            return Verdict::Banned { until };
        }
        if !self.penalties.contains_key(&peer) && self.penalties.len() >= self.max_tracked {
            // Forget the least-penalised peer (ties: smallest id) to make room.
            let victim = self.penalties.iter().map(|(id, p)| (self.drained(*p, now), *id)).min().map(|(_, id)| id);
            if let Some(id) = victim {
                self.penalties.remove(&id);
            }
        }
        self.penalties.insert(peer, Penalty { points, updated: now });
        Verdict::Tolerated { points }
    }

    /// Bans a peer until `until` (used directly for peers on another chain).
    pub(crate) fn ban_until(&mut self, peer: PeerId, until: Instant) {
        if !self.bans.contains_key(&peer) && self.bans.len() >= self.max_tracked {
            let victim = self.bans.iter().map(|(id, t)| (*t, *id)).min().map(|(_, id)| id);
            if let Some(id) = victim {
                self.bans.remove(&id);
            }
        }
        let entry = self.bans.entry(peer).or_insert(until);
        *entry = (*entry).max(until);
    }

    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.bans.get(peer).is_some_and(|until| *until > now)
    }

    /// Removes and returns the bans that ended by `now`.
    pub(crate) fn expire_bans(&mut self, now: Instant) -> Vec<PeerId> {
        let ended: Vec<PeerId> = self.bans.iter().filter(|(_, until)| **until <= now).map(|(id, _)| *id).collect();
        for id in &ended {
            self.bans.remove(id);
        }
        ended
    }

    pub(crate) fn banned_count(&self) -> usize {
        self.bans.len()
    }
}

/// A token bucket: `rate_per_sec` sustained, `burst` at once.
#[derive(Clone, Debug)]
pub(crate) struct RateLimiter {
    tokens: f64,
    rate_per_sec: f64,
    burst: f64,
    updated: Instant,
}

impl RateLimiter {
    pub(crate) fn new(rate_per_sec: u32, burst: u32, now: Instant) -> RateLimiter {
        let burst = f64::from(burst.max(1));
        RateLimiter { tokens: burst, rate_per_sec: f64::from(rate_per_sec), burst, updated: now }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate_per_sec).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        PeerId::random()
    }

    fn cfg() -> ScoreConfig {
        ScoreConfig { ban_threshold: 100, ban_duration_ms: 1_000, recovery_points_per_min: 60 }
    }

    #[test]
    fn penalties_accumulate_drain_and_ban() {
        let t0 = Instant::now();
        let mut s = Scores::new(cfg(), 16);
        let p = peer();
        assert_eq!(s.penalise(p, Misbehaviour::InvalidBlock, t0), Verdict::Tolerated { points: 50 });
        // 60 points per minute: 10 s forgive 10 points.
        assert_eq!(s.points(&p, t0 + Duration::from_secs(10)), 40);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(s.penalise(p, Misbehaviour::InvalidTx, t1), Verdict::Tolerated { points: 50 });
        match s.penalise(p, Misbehaviour::InvalidBlock, t1) {
            Verdict::Banned { until } => assert_eq!(until, t1 + Duration::from_secs(1)),
            v => panic!("expected a ban, got {v:?}"),
        }
        assert!(s.is_banned(&p, t1));
        assert_eq!(s.points(&p, t1), 0, "points reset once banned");
        assert!(s.expire_bans(t1 + Duration::from_millis(999)).is_empty());
        assert_eq!(s.expire_bans(t1 + Duration::from_secs(1)), vec![p]);
        assert!(!s.is_banned(&p, t1 + Duration::from_secs(1)));
        assert_eq!(
            s.penalise(peer(), Misbehaviour::Malicious, t1),
            Verdict::Banned { until: t1 + Duration::from_secs(1) }
        );
    }

    #[test]
    fn tables_stay_bounded() {
        let t0 = Instant::now();
        let mut s = Scores::new(cfg(), 3);
        let banned: Vec<PeerId> = (0..10).map(|_| peer()).collect();
        for (n, b) in banned.iter().enumerate() {
            s.penalise(peer(), Misbehaviour::RequestFlood, t0);
            s.ban_until(*b, t0 + Duration::from_secs(n as u64 + 1));
        }
        assert_eq!(s.penalties.len(), 3);
        assert_eq!(s.banned_count(), 3);
        // The bans kept are the longest ones.
        assert!(s.is_banned(&banned[9], t0));
        assert!(!s.is_banned(&banned[0], t0));
    }

    #[test]
    fn rate_limiter_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(10, 3, t0);
        assert!(r.try_take(t0) && r.try_take(t0) && r.try_take(t0));
        assert!(!r.try_take(t0));
        assert!(r.try_take(t0 + Duration::from_millis(100)));
        assert!(!r.try_take(t0 + Duration::from_millis(100)));
    }
}
