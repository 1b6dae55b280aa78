//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! Each target feeds the bytes libFuzzer gives it to one of the node's
//! decoders or parsers of untrusted input and asserts that it returns
//! `Ok` or `Err` without panicking, plus cheap properties (round trips)
//! where the format has them. A panic anywhere aborts the process, which
//! libFuzzer reports as a crash with the input that caused it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on a long-lived thread with the stack the SQL engine documents
/// as enough for any statement ([`aergo_sql::MIN_STACK_BYTES`], what the
/// node's runtime threads get), and waits for its result. One thread per
/// process, reused for every input: spawning one per input would cost more
/// than most inputs take to run.
pub fn on_sql_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    static WORKER: OnceLock<Mutex<SyncSender<Job>>> = OnceLock::new();
    let sender = WORKER.get_or_init(|| {
        let (tx, rx): (SyncSender<Job>, Receiver<Job>) = sync_channel(0);
        std::thread::Builder::new()
            .name("fuzz-sql".into())
            .stack_size(aergo_sql::MIN_STACK_BYTES)
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("spawn the SQL worker thread");
        Mutex::new(tx)
    });
    let (done_tx, done_rx) = sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = done_tx.send(f());
    });
    sender.lock().unwrap_or_else(|e| e.into_inner()).send(job).expect("the SQL worker thread is alive");
    // A panic on the worker aborts the process (libFuzzer's panic hook),
    // so the result always arrives.
    done_rx.recv().expect("the SQL worker returned a result")
}

/// Splits the input into a selector byte and the rest.
pub fn split_first(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    }
}
