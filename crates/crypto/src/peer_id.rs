//! libp2p peer ids of secp256k1 keys, the names block producers go by.
//!
//! A libp2p peer id is a multihash of the key's libp2p protobuf form
//! (`08 02 12 21 || 33-byte compressed key` for secp256k1, 37 bytes). Keys
//! whose protobuf form is at most 42 bytes are not hashed: the multihash is
//! the *identity* one, `0x00 (identity code) || 0x25 (length 37) || key
//! bytes`. The text form is base58btc of those 39 bytes, which for
//! secp256k1 keys always starts with "16Uiu2".
//!
//! Only this form is accepted when parsing: the Go node's voting accepts any
//! well-formed peer id (RSA, Ed25519, ...), but a producer of this chain
//! signs blocks with a secp256k1 key, so any other id could never produce.

use crate::error::{CryptoError, Result};
use crate::keys::{PublicKey, LIBP2P_PUBKEY_PREFIX};

/// Multihash code of the identity "hash".
const MULTIHASH_IDENTITY: u8 = 0x00;
/// Length of a secp256k1 key's libp2p protobuf form.
const LIBP2P_PUBKEY_LEN: u8 = 37;
/// Length of the binary peer id: code, length, key bytes.
pub const PEER_ID_BYTES: usize = 2 + LIBP2P_PUBKEY_LEN as usize;
/// Longest text accepted before decoding (39 bytes need 53 base58 digits).
const PEER_ID_MAX_TEXT: usize = 60;

impl PublicKey {
    /// The binary libp2p peer id (identity multihash of the protobuf key).
    pub fn peer_id_bytes(&self) -> [u8; PEER_ID_BYTES] {
        let mut out = [0u8; PEER_ID_BYTES];
        out[0] = MULTIHASH_IDENTITY;
        out[1] = LIBP2P_PUBKEY_LEN;
        out[2..6].copy_from_slice(&LIBP2P_PUBKEY_PREFIX);
        out[6..].copy_from_slice(&self.to_compressed());
        out
    }

    /// The text libp2p peer id ("16Uiu2...").
    pub fn peer_id(&self) -> String {
        bs58::encode(self.peer_id_bytes()).into_string()
    }

    /// The key a text peer id names. Accepts only the canonical text of an
    /// identity-hashed secp256k1 key whose point is on the curve.
    pub fn from_peer_id(text: &str) -> Result<PublicKey> {
        let bad = |reason: String| CryptoError::PeerId { input: text.chars().take(64).collect(), reason };
        if text.len() > PEER_ID_MAX_TEXT {
            return Err(bad(format!("{} characters, a secp256k1 peer id has about 53", text.len())));
        }
        let raw = bs58::decode(text).into_vec().map_err(|e| bad(format!("not base58: {e}")))?;
        if raw.len() != PEER_ID_BYTES {
            return Err(bad(format!(
                "{} bytes, expected {PEER_ID_BYTES} (identity multihash of a secp256k1 key)",
                raw.len()
            )));
        }
        if raw[0] != MULTIHASH_IDENTITY || raw[1] != LIBP2P_PUBKEY_LEN {
            return Err(bad(format!(
                "multihash header {:02x} {:02x}, expected 00 25 (identity, 37 bytes)",
                raw[0], raw[1]
            )));
        }
        let key = PublicKey::from_libp2p_bytes(&raw[2..]).map_err(|e| bad(e.to_string()))?;
        // base58 is bijective on byte strings, but say so in code: one
        // producer has exactly one text id.
        if key.peer_id() != text {
            return Err(bad("not the canonical text form".to_string()));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;
    use proptest::prelude::*;

    /// Vectors from two independent libp2p implementations (found with the
    /// research tool): a js-libp2p run printing private key, compressed
    /// public key and peer id, and a go-libp2p based tool (open-aea docs)
    /// printing a peer id and its compressed public key.
    #[test]
    fn known_vectors() {
        let sk = PrivateKey::from_bytes(
            &hex::decode("db82e7408fbe37e0641087557f3535a34049d19d27f6939f43b47418cd981434").unwrap(),
        )
        .unwrap();
        let pk = sk.public_key();
        assert_eq!(
            hex::encode(pk.to_compressed()),
            "03143d31fe6a0516a34c5a5b1e0629ad3e82eb7c76c61bbdcd71031227d58a05b2"
        );
        assert_eq!(pk.peer_id(), "16Uiu2HAmE1zdG92om3Y49m3ZeT5T3jAZCZ1w7JGWi93NWGRbjmW1");
        assert_eq!(PublicKey::from_peer_id(&pk.peer_id()).unwrap(), pk);

        let go = PublicKey::from_compressed(
            &hex::decode("02d9383bc6e37e4d6b56cecb93c1e2796407c07decaa3ae598b6f762946a464353").unwrap(),
        )
        .unwrap();
        assert_eq!(go.peer_id(), "16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa");

        // Binary layout (a lodestar fixture's bytes).
        let bytes =
            hex::decode("002508021221039481269fe831799b1a0f1d521c1395b4831514859e4559c44d155eae46f03819").unwrap();
        let k = PublicKey::from_compressed(&bytes[6..]).unwrap();
        assert_eq!(k.peer_id_bytes().to_vec(), bytes);
    }

    #[test]
    fn rejects_other_ids() {
        // An RSA-style sha2-256 peer id ("Qm...") and an Ed25519 one.
        assert!(PublicKey::from_peer_id("QmULzn6KtFUCKpkFymEUgUvkLtv9j2Eo4utZPELmQEebR6").is_err());
        assert!(PublicKey::from_peer_id("12D3KooWPBRNBzgceXh7Z27wGoyYYz9ggwaYg2dWiwXXe8ieyFCN").is_err());
        assert!(PublicKey::from_peer_id("").is_err());
        assert!(PublicKey::from_peer_id("0OIl").is_err());
        assert!(PublicKey::from_peer_id(&"1".repeat(500)).is_err());
        // A right-shaped id whose key is not on the curve.
        let mut raw = PrivateKey::from_bytes(&[7]).unwrap().public_key().peer_id_bytes();
        raw[6] = 0x05;
        assert!(PublicKey::from_peer_id(&bs58::encode(raw).into_string()).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(seed in proptest::array::uniform32(1u8..)) {
            let pk = PrivateKey::from_bytes(&seed).unwrap().public_key();
            let id = pk.peer_id();
            prop_assert!(id.starts_with("16Uiu2"), "{}", id);
            prop_assert_eq!(PublicKey::from_peer_id(&id).unwrap(), pk);
        }

        #[test]
        fn parse_never_panics(s in ".{0,70}") {
            let _ = PublicKey::from_peer_id(&s);
        }
    }
}
