//! Who may use the server, and how much of it at once: open connections
//! and requests in flight, in total and per client address.
//!
//! Two kinds of slot, both counted with a [`Slots`] table:
//!
//! * a *connection* slot is taken when a TCP connection is accepted and
//!   freed when it closes or becomes a WebSocket (WebSockets are counted
//!   by their own bound, `max_ws_connections`); with none free the
//!   connection is answered `503` and closed at once;
//! * a *request* slot is taken while a request (an HTTP body or one
//!   WebSocket message, batches included) is executed; with none free the
//!   request is answered HTTP `429` / JSON-RPC `-32005` at once, never
//!   queued, so a flood costs the server one refusal per request.
//!
//! Each kind has a total bound and a per-address bound smaller than it, so
//! one client (one IP address) can hold at most its share and the rest is
//! left for everyone else: a flood from one address does not starve
//! another. Addresses are whole IPs (a client cannot gain slots by opening
//! more ports).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a slot was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Total { limit: usize },
    PerClient { client: IpAddr, limit: usize },
}

impl Refusal {
    pub(crate) fn describe(&self, what: &str) -> String {
        match self {
            Refusal::Total { limit } => format!("the server already has {limit} {what}, the limit; retry later"),
            Refusal::PerClient { client, limit } => {
                format!("client {client} already has {limit} {what}, the per-client limit; retry later")
            }
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses holding at least one slot: the map is bounded by the
    /// total limit.
    by_client: BTreeMap<IpAddr, usize>,
}

/// A counted resource with a total and a per-client bound.
#[derive(Clone, Debug)]
pub(crate) struct Slots {
    counts: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_client: usize,
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    counts: Arc<Mutex<Counts>>,
    client: IpAddr,
}

impl Slots {
    pub(crate) fn new(max_total: usize, max_per_client: usize) -> Slots {
        Slots { counts: Arc::new(Mutex::new(Counts::default())), max_total, max_per_client }
    }

    /// Takes a slot for `client`, or says which bound is full.
    pub(crate) fn try_take(&self, client: IpAddr) -> Result<Slot, Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= self.max_total {
            return Err(Refusal::Total { limit: self.max_total });
        }
        let mine = c.by_client.get(&client).copied().unwrap_or(0);
        if mine >= self.max_per_client {
            return Err(Refusal::PerClient { client, limit: self.max_per_client });
        }
        c.total += 1;
        c.by_client.insert(client, mine + 1);
        Ok(Slot { counts: self.counts.clone(), client })
    }

    /// Slots held now (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        // Invariant: a held slot was counted once in both counts.
        assert!(c.total > 0, "bug: freeing a slot the table does not count");
        c.total -= 1;
        match c.by_client.get_mut(&self.client) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                c.by_client.remove(&self.client);
            }
            None => panic!("bug: freeing a slot of {} that the table does not count", self.client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_and_total_bounds() {
        let slots = Slots::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = slots.try_take(a).unwrap();
        let _a2 = slots.try_take(a).unwrap();
        assert_eq!(slots.try_take(a).unwrap_err(), Refusal::PerClient { client: a, limit: 2 });
        let _b1 = slots.try_take(b).unwrap();
        assert_eq!(slots.try_take(b).unwrap_err(), Refusal::Total { limit: 3 });
        drop(a1);
        assert_eq!(slots.held(), 2);
        let _b2 = slots.try_take(b).unwrap();
        assert!(slots.try_take(a).is_err());
    }

    #[test]
    fn freed_clients_leave_the_table() {
        let slots = Slots::new(10, 10);
        for i in 0..100u8 {
            let s = slots.try_take(IpAddr::from([10, 0, 0, i])).unwrap();
            drop(s);
        }
        assert_eq!(slots.held(), 0);
        assert!(slots.counts.lock().unwrap().by_client.is_empty());
    }
}
