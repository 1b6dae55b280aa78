//! Deterministic keys for development and tests.
//!
//! `dev_key(label, index)` is the secp256k1 key whose 32 bytes are
//! `SHA-256("aergo-dev-key" || 0x00 || label || 0x00 || index as u32 big-endian)`;
//! in the (astronomically unlikely) case that is not a valid scalar, the
//! bytes are hashed again until they are. Anyone can recompute these keys:
//! they must never hold real value.

use crate::error::Result;
use crate::keys::PrivateKey;
use aergo_types::{AllocationCategory, Amount, ChainId, Genesis, Hash};
use std::collections::BTreeMap;

const DOMAIN: &[u8] = b"aergo-dev-key";

/// The deterministic development key number `index` of family `label`.
pub fn dev_key(label: &str, index: u32) -> PrivateKey {
    let mut seed = Hash::sha256_parts(&[DOMAIN, &[0], label.as_bytes(), &[0], &index.to_be_bytes()]);
    // Each round fails with probability below 2^-127; the loop is bounded
    // for form's sake, and hashing again is always possible.
    for _ in 0..1024 {
        if let Ok(k) = PrivateKey::from_bytes(seed.as_bytes()) {
            return k;
        }
        seed = Hash::sha256(seed.as_bytes());
    }
    // Unreachable in practice (1024 consecutive invalid SHA-256 outputs);
    // documented rather than hidden.
    panic!("dev_key: 1024 consecutive hashes were invalid secp256k1 scalars")
}

/// The first `count` keys of family `label`.
pub fn dev_keys(label: &str, count: u32) -> Vec<PrivateKey> {
    (0..count).map(|i| dev_key(label, i)).collect()
}

/// Family label of the dev accounts [`dev_genesis`] prefunds.
pub const DEV_ACCOUNT_LABEL: &str = "dev";

/// The key holding category `cat` in [`dev_genesis`]:
/// `dev_key("genesis-<category name>", 0)`.
pub fn dev_category_key(cat: AllocationCategory) -> PrivateKey {
    dev_key(&format!("genesis-{}", cat.name()), 0)
}

/// A development genesis with the whitepaper's allocation, each category
/// held by [`dev_category_key`], and `accounts` dev accounts
/// (`dev_key("dev", 0..accounts)`, returned in order) prefunded with `each`
/// out of the reserve.
pub fn dev_genesis(
    chain_id: ChainId,
    timestamp_ns: i64,
    accounts: u32,
    each: Amount,
    bps: Vec<String>,
) -> Result<(Genesis, Vec<PrivateKey>)> {
    let holders: BTreeMap<_, _> =
        AllocationCategory::ALL.iter().map(|c| (*c, dev_category_key(*c).address())).collect();
    let keys = dev_keys(DEV_ACCOUNT_LABEL, accounts);
    let addresses: Vec<_> = keys.iter().map(PrivateKey::address).collect();
    let genesis = Genesis::dev(chain_id, timestamp_ns, &holders, &addresses, each, bps)?;
    Ok((genesis, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_genesis_prefunds_dev_keys() {
        let each = Amount::from_aergo(1000).unwrap();
        let (g, keys) = dev_genesis(ChainId::dev(), 0, 4, each, vec![]).unwrap();
        let b = g.balances().unwrap();
        for k in &keys {
            assert_eq!(b[&k.address()], each);
        }
        let (g2, _) = dev_genesis(ChainId::dev(), 0, 4, each, vec![]).unwrap();
        assert_eq!(g.content_hash().unwrap(), g2.content_hash().unwrap());
    }

    #[test]
    fn deterministic_and_distinct() {
        let a = dev_key("dev", 0);
        assert_eq!(a, dev_key("dev", 0));
        assert_ne!(a, dev_key("dev", 1));
        assert_ne!(a, dev_key("other", 0));
        let expected = Hash::sha256(b"aergo-dev-key\0dev\0\0\0\0\0");
        assert_eq!(a.to_bytes(), expected.0);
        assert_eq!(dev_keys("dev", 3).len(), 3);
    }
}
