//! 32-byte SHA-256 hashes as the Go node uses them: tx hashes, block hashes,
//! chain id hashes, Merkle roots.

use crate::error::{Result, TypesError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A 32-byte SHA-256 digest. Displayed in base58 (no checksum), the form the
/// Go node's CLI and the SDKs print for tx and block hashes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zeros: the Go node's Merkle root of an empty list.
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// SHA-256 of the concatenation of `parts`.
    pub fn sha256_parts(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// A hash from a byte slice that must be exactly 32 bytes long.
    pub fn from_slice(what: &'static str, bytes: &[u8]) -> Result<Hash> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| TypesError::HashLength { what, found: bytes.len() })?;
        Ok(Hash(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn to_base58(&self) -> String {
        bs58::encode(self.0).into_string()
    }

    /// Parses the base58 form (as printed by [`Display`](fmt::Display)).
    pub fn from_base58(s: &str) -> Result<Hash> {
        // 32 bytes never need more than 44 base58 digits; refuse long input
        // before decoding it.
        if s.len() > 64 {
            return Err(TypesError::HashParse {
                input: truncate_for_error(s),
                reason: format!("{} characters, at most 44 expected", s.len()),
            });
        }
        let bytes = bs58::decode(s)
            .into_vec()
            .map_err(|e| TypesError::HashParse { input: s.to_string(), reason: e.to_string() })?;
        Hash::from_slice("base58 hash", &bytes)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash> {
        if s.len() != 64 {
            return Err(TypesError::HashParse {
                input: truncate_for_error(s),
                reason: format!("expected 64 hex digits, got {} characters", s.len()),
            });
        }
        let bytes =
            hex::decode(s).map_err(|e| TypesError::HashParse { input: s.to_string(), reason: e.to_string() })?;
        Hash::from_slice("hex hash", &bytes)
    }
}

/// Keeps error messages bounded when the offending input is huge.
pub(crate) fn truncate_for_error(s: &str) -> String {
    const MAX_CHARS: usize = 80;
    if s.chars().count() <= MAX_CHARS {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX_CHARS).collect();
        format!("{head}...")
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Hash> {
        Hash::from_base58(s)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(b: [u8; 32]) -> Hash {
        Hash(b)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base58())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_base58(&s).map_err(serde::de::Error::custom)
    }
}

/// Shows a byte string as base58 for error messages (empty shows as `<empty>`).
pub(crate) fn show_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        "<empty>".to_string()
    } else {
        bs58::encode(b).into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_is_the_known_constant() {
        assert_eq!(Hash::sha256(b"").to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(Hash::sha256_parts(&[b"ab", b"c"]), Hash::sha256(b"abc"));
    }

    #[test]
    fn base58_and_hex_round_trip() {
        let h = Hash::sha256(b"aergo");
        assert_eq!(Hash::from_base58(&h.to_string()).unwrap(), h);
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
    }

    #[test]
    fn bad_lengths_are_rejected() {
        assert!(matches!(Hash::from_slice("x", &[0; 31]), Err(TypesError::HashLength { found: 31, .. })));
        assert!(Hash::from_base58("abc").is_err());
        assert!(Hash::from_base58("0OIl").is_err());
        assert!(Hash::from_hex("zz").is_err());
        assert!(Hash::from_base58(&"1".repeat(1000)).is_err());
    }
}
