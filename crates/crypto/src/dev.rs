//! Deterministic keys for development and tests.
//!
//! `dev_key(label, index)` is the secp256k1 key whose 32 bytes are
//! `SHA-256("aergo-dev-key" || 0x00 || label || 0x00 || index as u32 big-endian)`;
//! in the (astronomically unlikely) case that is not a valid scalar, the
//! bytes are hashed again until they are. Anyone can recompute these keys:
//! they must never hold real value.

use crate::keys::PrivateKey;
use aergo_types::Hash;

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

#[cfg(test)]
mod tests {
    use super::*;

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
