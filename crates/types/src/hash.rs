//! 32-byte SHA-256 hashes as the Go node uses them: tx hashes, block hashes,
//! chain id hashes, Merkle roots. The type itself is [`aergo_hash::Hash`],
//! shared with the store (a state root is one hash on both sides).

pub use aergo_hash::{truncate_for_error, Hash, HashError};

/// Shows a byte string as base58 for error messages (empty shows as `<empty>`).
pub(crate) fn show_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        "<empty>".to_string()
    } else {
        bs58::encode(b).into_string()
    }
}
