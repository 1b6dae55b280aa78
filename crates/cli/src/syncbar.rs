//! Shows a node catching up with its peers: while `aergo node` runs, a
//! watcher asks the node how far it is (the `sync` field of `status`:
//! `{"syncing": bool, "target": n}`, with `height` as the current block)
//! and draws a progress bar on stderr when that is a terminal, or writes a
//! log line every few seconds when it is not (a file or a pipe).
//!
//! The watcher goes through the node's JSON-RPC, like every other part of
//! the CLI, so it works the same for a node in this process and for one
//! elsewhere. A node that does not report `sync` (a solo chain) never
//! shows anything.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde_json::Value;

use aergo_client::client::RpcClient;

/// How often the node is asked.
pub const POLL_MS: u64 = 500;
/// How often a log line is written while syncing without a terminal.
pub const LOG_EVERY_MS: u64 = 5_000;

/// How far a node is behind its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncProgress {
    pub syncing: bool,
    /// Height of the node's head.
    pub current: u64,
    /// Best height seen among peers.
    pub target: u64,
}

impl SyncProgress {
    /// Reads it from a `status` answer; `None` if the node does not report
    /// a sync state.
    pub fn from_status(status: &Value) -> Option<SyncProgress> {
        let sync = status.get("sync")?;
        Some(SyncProgress {
            syncing: sync.get("syncing")?.as_bool()?,
            current: status.get("height")?.as_u64()?,
            target: sync.get("target")?.as_u64()?,
        })
    }

    /// Blocks still to fetch.
    pub fn remaining(&self) -> u64 {
        self.target.saturating_sub(self.current)
    }

    /// One log line.
    pub fn describe(&self) -> String {
        if self.syncing {
            let pct = if self.target == 0 { 100.0 } else { 100.0 * self.current as f64 / self.target as f64 };
            format!("syncing: block {} of {} ({pct:.1}%, {} to go)", self.current, self.target, self.remaining())
        } else {
            format!("in sync at block {}", self.current)
        }
    }
}

/// Where progress goes.
enum Display {
    Bar(Option<indicatif::ProgressBar>),
    Log { last: Option<Instant> },
}

impl Display {
    fn show(&mut self, p: &SyncProgress) {
        match self {
            Display::Bar(bar) => {
                if p.syncing {
                    let b = bar.get_or_insert_with(|| {
                        let b = indicatif::ProgressBar::with_draw_target(
                            Some(p.target),
                            indicatif::ProgressDrawTarget::stderr(),
                        );
                        let style = indicatif::ProgressStyle::with_template(
                            "syncing [{bar:40}] {pos}/{len} blocks ({per_sec}, eta {eta})",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> ");
                        b.set_style(style);
                        b
                    });
                    b.set_length(p.target.max(p.current));
                    b.set_position(p.current);
                } else if let Some(b) = bar.take() {
                    b.finish_and_clear();
                    tracing::info!("{}", p.describe());
                }
            }
            Display::Log { last } => {
                if p.syncing {
                    if last.is_none_or(|t| t.elapsed() >= Duration::from_millis(LOG_EVERY_MS)) {
                        tracing::info!("{}", p.describe());
                        *last = Some(Instant::now());
                    }
                } else if last.take().is_some() {
                    tracing::info!("{}", p.describe());
                }
            }
        }
    }
}

/// Watches the node at `url` until the task is aborted.
pub async fn watch(url: String) {
    let Ok(client) = RpcClient::new(&url) else { return };
    let mut display = if std::io::stderr().is_terminal() { Display::Bar(None) } else { Display::Log { last: None } };
    loop {
        if let Ok(status) = client.call("status", serde_json::json!([])).await {
            if let Some(p) = SyncProgress::from_status(&status) {
                display.show(&p);
            }
        }
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

/// Starts [`watch`] on the runtime; abort the handle to stop it.
pub fn spawn_watch(url: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(watch(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_reads_from_status() {
        let s = json!({"height": 250, "sync": {"syncing": true, "target": 1000}});
        let p = SyncProgress::from_status(&s).unwrap();
        assert_eq!(p, SyncProgress { syncing: true, current: 250, target: 1000 });
        assert_eq!(p.describe(), "syncing: block 250 of 1000 (25.0%, 750 to go)");
        let done = SyncProgress { syncing: false, current: 1000, target: 1000 };
        assert_eq!(done.describe(), "in sync at block 1000");
        assert_eq!(SyncProgress::from_status(&json!({"height": 3})), None, "a solo node reports no sync");
        assert_eq!(SyncProgress::from_status(&json!({"height": 3, "sync": {"syncing": "yes"}})), None);
        // A peer that claims less than we have is not "behind".
        assert_eq!(SyncProgress { syncing: true, current: 9, target: 5 }.remaining(), 0);
    }

    #[test]
    fn log_display_speaks_while_syncing_and_once_when_done() {
        let mut d = Display::Log { last: None };
        let syncing = SyncProgress { syncing: true, current: 1, target: 10 };
        d.show(&syncing);
        let Display::Log { last } = &d else { panic!() };
        let first = last.unwrap();
        d.show(&syncing);
        let Display::Log { last } = &d else { panic!() };
        assert_eq!(last.unwrap(), first, "no second line within {LOG_EVERY_MS} ms");
        d.show(&SyncProgress { syncing: false, current: 10, target: 10 });
        let Display::Log { last } = &d else { panic!() };
        assert!(last.is_none(), "caught up: reset for the next time it falls behind");
    }
}
