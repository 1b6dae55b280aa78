//! The chain's identity, as the Go node defines it.
//!
//! Bytes (`ChainID.Bytes()` in the Go node): version as 4 bytes little-endian
//! (int32), one byte `public`, one byte `mainnet`, then the ASCII text
//! `"<magic>/<consensus>"`. The *chain id hash* that every transaction
//! carries is SHA-256 of those bytes. The version changes at hard forks, so
//! the hash a tx must carry depends on the version in force.

use crate::error::{Result, TypesError};
use crate::hash::Hash;
use serde::{Deserialize, Serialize};

/// Longest magic or consensus name accepted (bounds header size).
pub const CHAIN_ID_FIELD_MAX_LEN: usize = 128;

/// The identity of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainId {
    /// Hard-fork version (int32, as the Go node).
    #[serde(default)]
    pub version: i32,
    /// Public network (anyone may join).
    #[serde(default)]
    pub public: bool,
    /// The main network (as opposed to a test or private one).
    #[serde(default)]
    pub mainnet: bool,
    /// Name of the network, e.g. "aergo.io", "testnet.aergo.io", "dev.chain".
    pub magic: String,
    /// Consensus engine: "dpos", "sbp" (solo), "raft".
    pub consensus: String,
}

impl ChainId {
    /// A chain id, checked: magic and consensus are non-empty ASCII without
    /// '/' (it separates them in the byte form), each at most 128 bytes.
    pub fn new(version: i32, public: bool, mainnet: bool, magic: &str, consensus: &str) -> Result<ChainId> {
        let id = ChainId { version, public, mainnet, magic: magic.to_string(), consensus: consensus.to_string() };
        id.validate()?;
        Ok(id)
    }

    /// The Go node's development chain id: `dev.chain/sbp`, private.
    pub fn dev() -> ChainId {
        ChainId {
            version: 0,
            public: false,
            mainnet: false,
            magic: "dev.chain".to_string(),
            consensus: "sbp".to_string(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        for (field, value) in [("magic", &self.magic), ("consensus", &self.consensus)] {
            if value.is_empty() {
                return Err(TypesError::ChainId { reason: format!("{field} is empty") });
            }
            if value.len() > CHAIN_ID_FIELD_MAX_LEN {
                return Err(TypesError::ChainId {
                    reason: format!("{field} is {} bytes, at most {CHAIN_ID_FIELD_MAX_LEN} allowed", value.len()),
                });
            }
            if !value.bytes().all(|c| c.is_ascii_graphic() && c != b'/') {
                return Err(TypesError::ChainId {
                    reason: format!("{field} {value:?} must be printable ASCII without '/'"),
                });
            }
        }
        Ok(())
    }

    /// The byte form (`ChainID.Bytes()`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.magic.len() + 1 + self.consensus.len());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.push(u8::from(self.public));
        out.push(u8::from(self.mainnet));
        out.extend_from_slice(self.magic.as_bytes());
        out.push(b'/');
        out.extend_from_slice(self.consensus.as_bytes());
        out
    }

    /// Reads the byte form (a block header's `chainID`).
    pub fn from_bytes(bytes: &[u8]) -> Result<ChainId> {
        let bad = |reason: String| TypesError::ChainId { reason };
        if bytes.len() > 6 + 2 * CHAIN_ID_FIELD_MAX_LEN + 1 {
            return Err(bad(format!("{} bytes is too long", bytes.len())));
        }
        if bytes.len() < 6 {
            return Err(bad(format!("expected at least 6 bytes (version, public, mainnet), got {}", bytes.len())));
        }
        let version = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let flag = |b: u8, name: &str| match b {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(bad(format!("{name} flag must be 0 or 1, got {other}"))),
        };
        let public = flag(bytes[4], "public")?;
        let mainnet = flag(bytes[5], "mainnet")?;
        let text = std::str::from_utf8(&bytes[6..]).map_err(|_| bad("magic/consensus is not UTF-8".to_string()))?;
        let (magic, consensus) =
            text.split_once('/').ok_or_else(|| bad(format!("expected \"<magic>/<consensus>\", got {text:?}")))?;
        ChainId::new(version, public, mainnet, magic, consensus)
    }

    /// SHA-256 of the byte form: the `chainIdHash` a tx must carry.
    pub fn hash(&self) -> Hash {
        Hash::sha256(&self.to_bytes())
    }

    /// The same chain at another hard-fork version.
    pub fn with_version(&self, version: i32) -> ChainId {
        ChainId { version, ..self.clone() }
    }

    /// Same chain ignoring the version (the Go node's
    /// `ChainIdEqualWithoutVersion`): parent and child blocks may straddle a
    /// fork.
    pub fn same_chain(&self, other: &ChainId) -> bool {
        self.with_version(0) == other.with_version(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn byte_form() {
        let id = ChainId::new(2, true, false, "testnet.aergo.io", "dpos").unwrap();
        let mut expected = vec![2, 0, 0, 0, 1, 0];
        expected.extend_from_slice(b"testnet.aergo.io/dpos");
        assert_eq!(id.to_bytes(), expected);
        assert_eq!(ChainId::from_bytes(&expected).unwrap(), id);
    }

    /// Golden vector: the Aergo testnet's chain id hash at fork version 2,
    /// as published in the Java SDK's documentation
    /// (`ChainIdHash.of("6YCMGJu3UN66ULzUuS5R7GTxXLDsSjRdjWPB94EiqMJc")`).
    #[test]
    fn testnet_v2_chain_id_hash_matches_the_published_value() {
        let id = ChainId::new(2, true, false, "testnet.aergo.io", "dpos").unwrap();
        assert_eq!(id.hash().to_string(), "6YCMGJu3UN66ULzUuS5R7GTxXLDsSjRdjWPB94EiqMJc");
    }

    #[test]
    fn go_json_shape() {
        // The Go node's mainnet genesis writes the chain id without version.
        let j = r#"{"public":true,"mainnet":true,"magic":"aergo.io","consensus":"dpos"}"#;
        let id: ChainId = serde_json::from_str(j).unwrap();
        assert_eq!(id.version, 0);
        assert!(id.public && id.mainnet);
        assert_eq!(id.magic, "aergo.io");
    }

    #[test]
    fn rejects_bad_bytes() {
        assert!(ChainId::from_bytes(&[]).is_err());
        assert!(ChainId::from_bytes(&[0, 0, 0, 0, 2, 0, b'a', b'/', b'b']).is_err());
        assert!(ChainId::from_bytes(&[0, 0, 0, 0, 0, 0, b'a', b'b']).is_err());
        assert!(ChainId::from_bytes(&[0, 0, 0, 0, 0, 0, b'a', b'/']).is_err());
        assert!(ChainId::from_bytes(&vec![b'a'; 1000]).is_err());
        assert!(ChainId::new(0, false, false, "a/b", "c").is_err());
    }

    #[test]
    fn versions() {
        let a = ChainId::dev();
        let b = a.with_version(3);
        assert!(a.same_chain(&b));
        assert_ne!(a.hash(), b.hash());
    }

    proptest! {
        #[test]
        fn bytes_round_trip(v in any::<i32>(), p in any::<bool>(), m in any::<bool>(),
                            magic in "[a-z.]{1,20}", cons in "[a-z]{1,8}") {
            let id = ChainId::new(v, p, m, &magic, &cons).unwrap();
            prop_assert_eq!(ChainId::from_bytes(&id.to_bytes()).unwrap(), id);
        }

        #[test]
        fn from_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ChainId::from_bytes(&b);
        }
    }
}
