//! aergo-hash: the one 32-byte SHA-256 hash of the whole tree.
//!
//! Bird's-eye view: a [`Hash`] names a prolly-tree node and a state root in
//! `aergo-store`, and a transaction, a block, a chain id or a Merkle root in
//! `aergo-types`. They are the same function (SHA-256) over different
//! bytes, so they are one type: a state root read from a block header is
//! handed to the store as it is, with no conversion at the seam.
//!
//! This crate is a leaf so that both `store` (which must not know about
//! blocks) and `types` (which must not know about storage) can depend on
//! it. It holds the type, its text forms and nothing else.
//!
//! Text forms: [`Display`](fmt::Display) and serde use base58 without a
//! checksum, the form the Go node's CLI and SDKs print for transaction and
//! block hashes; [`Hash::to_hex`] and [`Hash::from_hex`] give 64 hex digits
//! (what golden vectors and the store's tools print). `Debug` shows hex.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Longest base58 text accepted by [`Hash::from_base58`]: 32 bytes need at
/// most 44 digits; anything much longer is refused before decoding.
const MAX_BASE58_CHARS: usize = 64;

/// Characters of an offending input kept in an error message.
const MAX_ERROR_INPUT_CHARS: usize = 80;

/// Why bytes or text are not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// `what` names the field, so the message says which hash was wrong.
    #[error("{what}: expected a 32-byte hash, got {found} bytes")]
    Length { what: &'static str, found: usize },
    #[error("hash {input:?}: {reason}")]
    Parse { input: String, reason: String },
}

/// A 32-byte SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zeros: the empty tree in the store, and the Go node's Merkle root
    /// of an empty list.
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

    /// A hash from a byte slice that must be exactly 32 bytes long; `what`
    /// names the field in the error.
    pub fn from_slice(what: &'static str, bytes: &[u8]) -> Result<Hash, HashError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| HashError::Length { what, found: bytes.len() })?;
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
    pub fn from_base58(s: &str) -> Result<Hash, HashError> {
        if s.len() > MAX_BASE58_CHARS {
            return Err(HashError::Parse {
                input: truncate_for_error(s),
                reason: format!("{} characters, at most 44 expected", s.len()),
            });
        }
        let bytes =
            bs58::decode(s).into_vec().map_err(|e| HashError::Parse { input: s.to_string(), reason: e.to_string() })?;
        Hash::from_slice("base58 hash", &bytes)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, HashError> {
        if s.len() != 64 {
            return Err(HashError::Parse {
                input: truncate_for_error(s),
                reason: format!("expected 64 hex digits, got {} characters", s.len()),
            });
        }
        let bytes = hex::decode(s).map_err(|e| HashError::Parse { input: s.to_string(), reason: e.to_string() })?;
        Hash::from_slice("hex hash", &bytes)
    }
}

/// Keeps error messages bounded when the offending input is huge.
pub fn truncate_for_error(s: &str) -> String {
    if s.chars().count() <= MAX_ERROR_INPUT_CHARS {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX_ERROR_INPUT_CHARS).collect();
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
    type Err = HashError;
    fn from_str(s: &str) -> Result<Hash, HashError> {
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
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base58())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_base58(&s).map_err(serde::de::Error::custom)
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
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{h}\""));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("Hash({})", h.to_hex()));
    }

    #[test]
    fn bad_lengths_are_rejected() {
        assert_eq!(Hash::from_slice("x", &[0; 31]), Err(HashError::Length { what: "x", found: 31 }));
        assert!(Hash::from_base58("abc").is_err());
        assert!(Hash::from_base58("0OIl").is_err());
        assert!(Hash::from_hex("zz").is_err());
        let long = Hash::from_base58(&"1".repeat(1000)).unwrap_err().to_string();
        assert!(long.len() < 300, "error text is bounded: {long}");
    }
}
