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

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

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

/// Turns to execute, shared round-robin among clients: at most `running`
/// requests execute at once; while all turns are taken, new requests wait
/// in their client's queue without using the CPU (their connections are
/// not read meanwhile), and a freed turn goes to the next client in line,
/// not to the next request. A lone client gets every turn (the server is
/// work-conserving); under a flood, a client with one request waits for
/// about one turn, however many requests the flooder keeps in flight.
/// Who may wait at all is bounded by the request [`Slots`] taken before.
#[derive(Clone, Debug)]
pub(crate) struct Turns {
    state: Arc<Mutex<TurnState>>,
    running: usize,
}

#[derive(Debug, Default)]
struct TurnState {
    /// Turns held now.
    busy: usize,
    /// Waiting requests by client, each a channel its turn is sent on.
    waiting: BTreeMap<IpAddr, VecDeque<oneshot::Sender<()>>>,
    /// Clients with waiting requests, in the order they get turns.
    order: VecDeque<IpAddr>,
}

/// The right to execute one request; dropping it passes the turn on.
#[derive(Debug)]
pub(crate) struct Turn {
    state: Arc<Mutex<TurnState>>,
}

impl Turns {
    pub(crate) fn new(running: usize) -> Turns {
        Turns { state: Arc::new(Mutex::new(TurnState::default())), running: running.max(1) }
    }

    /// Waits until this request of `client` may execute.
    pub(crate) async fn wait(&self, client: IpAddr) -> Turn {
        let rx = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.busy < self.running && st.order.is_empty() {
                st.busy += 1;
                return Turn { state: self.state.clone() };
            }
            let (tx, rx) = oneshot::channel();
            let queue = st.waiting.entry(client).or_default();
            let first = queue.is_empty();
            queue.push_back(tx);
            if first {
                st.order.push_back(client);
            }
            rx
        };
        // A turn is handed over by the holder that frees it (`Drop`). If
        // this future is dropped (the connection closed) after a turn was
        // sent but before it was taken, `Waiting` passes the turn on.
        let mut w = Waiting { rx: Some(rx), state: self.state.clone() };
        if let Some(rx) = w.rx.as_mut() {
            // The sender is never dropped unsent while its turn is held; an
            // error only means the server is going away: go ahead then.
            let _ = rx.await;
        }
        w.rx = None;
        Turn { state: self.state.clone() }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        let st = self.state.lock().unwrap();
        st.waiting.values().map(VecDeque::len).sum()
    }
}

/// A request waiting for its turn; see [`Turns::wait`].
struct Waiting {
    rx: Option<oneshot::Receiver<()>>,
    state: Arc<Mutex<TurnState>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            if rx.try_recv().is_ok() {
                // A turn arrived that nobody will use: pass it on.
                drop(Turn { state: self.state.clone() });
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // Hand the turn to the first waiting request of the next client in
        // line; a waiter that gave up (its connection closed) is skipped.
        while let Some(client) = st.order.pop_front() {
            let Some(queue) = st.waiting.get_mut(&client) else { continue };
            let next = queue.pop_front();
            let more = !queue.is_empty();
            if more {
                st.order.push_back(client);
            } else {
                st.waiting.remove(&client);
            }
            if let Some(tx) = next {
                if tx.send(()).is_ok() {
                    return;
                }
            }
        }
        // Invariant: a held turn was counted.
        assert!(st.busy > 0, "bug: freeing a turn that was not counted");
        st.busy -= 1;
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

    #[tokio::test]
    async fn a_turn_sent_to_a_request_that_gave_up_is_passed_on() {
        use std::future::Future;
        let turns = Turns::new(1);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held = turns.wait(a).await;
        // A waiter that is dropped after its turn was sent, before it ran.
        let mut gave_up = Box::pin(turns.wait(a));
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(gave_up.as_mut().poll(cx).is_pending())).await;
        assert!(polled, "the second request must wait");
        drop(held);
        drop(gave_up);
        // The turn was not lost: the next request runs at once.
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), turns.wait(a)).await;
        assert!(next.is_ok(), "the turn was lost");
    }

    #[tokio::test]
    async fn turns_go_round_robin_between_clients() {
        let turns = Turns::new(1);
        let flood: IpAddr = "10.0.0.1".parse().unwrap();
        let polite: IpAddr = "10.0.0.2".parse().unwrap();
        let first = turns.wait(flood).await;
        // The flooder queues three more, then the polite client one.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (who, tag) in [(flood, "f1"), (flood, "f2"), (flood, "f3"), (polite, "p")] {
            let (t, tx) = (turns.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let turn = t.wait(who).await;
                tx.send(tag).unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                drop(turn);
            }));
            // Queue them in this order.
            while turns.waiting() < ["f1", "f2", "f3", "p"].iter().position(|x| *x == tag).unwrap() + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(rx.recv().await.unwrap());
        }
        // The polite client goes second, not after the flooder's queue.
        assert_eq!(got, ["f1", "p", "f2", "f3"]);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(turns.waiting(), 0);
        assert_eq!(turns.state.lock().unwrap().busy, 0);
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
