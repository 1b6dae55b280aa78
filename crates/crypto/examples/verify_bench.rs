//! Signature verification rate on this machine.
//!
//! Run: `cargo run --release -p aergo-crypto --example verify_bench [ms]`
//! (default 2000 ms per figure). The last line is
//! `BENCH crypto_verify raw_per_sec=.. tx_per_sec=.. tx_vs_raw=..`, where
//! `tx_vs_raw` is full tx signature checking relative to bare libsecp256k1
//! verification measured in the same run.

fn main() {
    let ms = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000u64);
    let r = aergo_crypto::measure_verify_rate(ms);
    println!("raw verify: {} in {} ms each figure; tx verify: {}", r.raw_count, ms, r.tx_count);
    println!(
        "BENCH crypto_verify raw_per_sec={:.0} tx_per_sec={:.0} tx_vs_raw={:.3}",
        r.raw_per_sec,
        r.tx_per_sec,
        r.tx_per_sec / r.raw_per_sec
    );
}
