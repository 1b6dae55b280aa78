//! Measures signature verification speed on this machine, the reference
//! the chain's transfer benchmark reports its throughput against.
//!
//! Two figures, each measured for about `duration_ms` on one thread over a
//! pool of pre-made signatures:
//! - `raw_per_sec`: `PublicKey::verify_hash` alone (libsecp256k1 verify);
//! - `tx_per_sec`: [`crate::verify_tx`] on signed transfer transactions
//!   (signing hash, public key decompression, DER parsing, verify): the
//!   real per-tx cost of signature checking, and the natural ceiling for a
//!   node's transfer throughput on one core.

use crate::dev::dev_key;
use crate::keys::{PrivateKey, PublicKey};
use crate::signature::Signature;
use crate::tx::{sign_tx, verify_tx};
use aergo_types::{Amount, ChainId, Hash, Tx, TxBody};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Result of [`measure_verify_rate`].
#[derive(Clone, Copy, Debug)]
pub struct VerifyRate {
    pub raw_per_sec: f64,
    pub tx_per_sec: f64,
    pub raw_count: u64,
    pub tx_count: u64,
}

const POOL: u32 = 64;

/// Measures verification rates, spending about `duration_ms` on each of the
/// two figures (in ten alternating slices). Verifications that fail would abort the measurement with a
/// wrong figure, so the pool is checked once up front.
pub fn measure_verify_rate(duration_ms: u64) -> VerifyRate {
    let keys: Vec<PrivateKey> = (0..POOL).map(|i| dev_key("bench", i)).collect();
    let chain = ChainId::dev().hash();
    let raw: Vec<(PublicKey, Hash, Signature)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let h = Hash::sha256(&(i as u64).to_le_bytes());
            (k.public_key(), h, k.sign_hash(&h))
        })
        .collect();
    let txs: Vec<Tx> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = keys[(i + 1) % keys.len()].address();
            let body = TxBody::transfer(i as u64 + 1, &k.address(), &to, Amount::ONE_AERGO, &chain);
            sign_tx(body, k)
        })
        .collect();
    let pool_ok = raw.iter().all(|(pk, h, s)| pk.verify_hash(h, s).is_ok()) && txs.iter().all(|t| verify_tx(t).is_ok());
    assert!(pool_ok, "benchmark pool must verify");

    // The two figures are measured in alternating slices so that load from
    // other processes (this machine is shared) hits both alike and their
    // ratio stays meaningful.
    const SLICES: u32 = 10;
    let slice = Duration::from_millis(duration_ms.max(SLICES.into())) / SLICES;
    let (mut raw_count, mut raw_elapsed) = (0u64, Duration::ZERO);
    let (mut tx_count, mut tx_elapsed) = (0u64, Duration::ZERO);
    for _ in 0..SLICES {
        let (n, t) = run_for(slice, |i| {
            let (pk, h, s) = &raw[i % raw.len()];
            black_box(pk.verify_hash(black_box(h), s).is_ok());
        });
        raw_count += n;
        raw_elapsed += t;
        let (n, t) = run_for(slice, |i| {
            black_box(verify_tx(black_box(&txs[i % txs.len()])).is_ok());
        });
        tx_count += n;
        tx_elapsed += t;
    }
    VerifyRate {
        raw_per_sec: raw_count as f64 / raw_elapsed.as_secs_f64(),
        tx_per_sec: tx_count as f64 / tx_elapsed.as_secs_f64(),
        raw_count,
        tx_count,
    }
}

/// Calls `f(0), f(1), ...` in batches until `budget` has passed.
fn run_for(budget: Duration, mut f: impl FnMut(usize)) -> (u64, Duration) {
    const BATCH: usize = 32;
    let start = Instant::now();
    let mut n = 0usize;
    loop {
        for _ in 0..BATCH {
            f(n);
            n += 1;
        }
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return (n as u64, elapsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_something() {
        let r = measure_verify_rate(20);
        assert!(r.raw_count >= 320 && r.tx_count >= 320);
        assert!(r.raw_per_sec > 0.0 && r.tx_per_sec > 0.0);
    }
}
