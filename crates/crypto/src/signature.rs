//! ECDSA signatures over secp256k1 in DER form.
//!
//! We always *produce* canonical signatures: strict DER (minimal, positive
//! integers) with low s, which is what the Go node's btcec produces.
//!
//! We *accept* two sets of encodings:
//! - [`DerRules::Strict`]: canonical DER only, low s (a high-s signature
//!   is the malleated twin of a valid one and is rejected with
//!   [`CryptoError::HighS`]). Used for block signatures (the Go node
//!   verifies those with a strict DER parser too).
//! - [`DerRules::GoTx`]: what the Go node's tx verification accepts
//!   (btcec `ParseSignature` and `Verify`): the DER structure with exact
//!   lengths, but the integers may carry redundant leading zero bytes and
//!   may have their top bit set, and s may be high. The official SDKs rely
//!   on this: the Python SDK pads r and s to 32 bytes and its "needs a zero
//!   byte" test checks the wrong bit, so a fair share of its signatures are
//!   not strict DER; the JavaScript SDK (elliptic, without `canonical`)
//!   signs with high s half of the time. Unlike btcec we refuse trailing
//!   bytes after the sequence and integers longer than 33 bytes.
//!
//! Accepting high s for transactions makes a transaction malleable: anyone
//! relaying it can flip s and so change its hash (the hash covers the
//! signature). The twin has the same sender and nonce, so at most one of
//! the two is ever applied: the pool refuses the second as a same-nonce
//! duplicate and a block takes one transaction per nonce. What a client
//! can lose is only the hash it computed, if a relay malleates its
//! transaction; the Go node has the same property.

use crate::error::{CryptoError, Result};
use secp256k1::ecdsa;
use std::fmt;

/// Which DER encodings [`Signature::from_der`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerRules {
    /// Canonical DER only.
    Strict,
    /// The Go node's tx signature parsing (see the module docs).
    GoTx,
}

/// Longest DER signature accepted: 2 header bytes and two integers of at
/// most 2 + 33 bytes each.
pub const MAX_DER_SIGNATURE_LEN: usize = 2 + 2 * (2 + 33);

/// A low-s ECDSA signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub(crate) ecdsa::Signature);

impl Signature {
    /// Parses a DER signature under `rules`: [`DerRules::Strict`] rejects
    /// high s, [`DerRules::GoTx`] takes it as its low-s twin (which
    /// verifies exactly when the high-s form does).
    pub fn from_der(bytes: &[u8], rules: DerRules) -> Result<Signature> {
        let (r, s) = split_der(bytes)?;
        let r = parse_integer(r, "r", rules)?;
        let s = parse_integer(s, "s", rules)?;
        let mut compact = [0u8; 64];
        compact[32 - r.len()..32].copy_from_slice(r);
        compact[64 - s.len()..].copy_from_slice(s);
        match rules {
            DerRules::Strict => Signature::from_compact(&compact),
            DerRules::GoTx => Signature::from_compact_any_s(&compact),
        }
    }

    /// From 64 bytes r || s, high s normalised to low s.
    fn from_compact_any_s(compact: &[u8; 64]) -> Result<Signature> {
        let mut sig = Self::checked_compact(compact)?;
        sig.normalize_s();
        Ok(Signature(sig))
    }

    fn checked_compact(compact: &[u8; 64]) -> Result<ecdsa::Signature> {
        if compact[..32].iter().all(|&b| b == 0) || compact[32..].iter().all(|&b| b == 0) {
            return Err(CryptoError::MalformedSignature { reason: "r and s must be non-zero".to_string() });
        }
        ecdsa::Signature::from_compact(compact)
            .map_err(|_| CryptoError::MalformedSignature { reason: "r or s is not below the curve order".to_string() })
    }

    /// From 64 bytes r || s (big-endian); rejects r or s out of range and
    /// high s.
    pub fn from_compact(compact: &[u8; 64]) -> Result<Signature> {
        let sig = Self::checked_compact(compact)?;
        let mut normalized = sig;
        normalized.normalize_s();
        if normalized != sig {
            return Err(CryptoError::HighS);
        }
        Ok(Signature(sig))
    }

    /// Canonical DER (what the Go node produces and stores).
    pub fn to_der(&self) -> Vec<u8> {
        self.0.serialize_der().to_vec()
    }

    /// r || s, 64 bytes.
    pub fn to_compact(&self) -> [u8; 64] {
        self.0.serialize_compact()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.to_der()))
    }
}

/// Checks the SEQUENCE { INTEGER r, INTEGER s } structure and returns the
/// content bytes of r and s.
fn split_der(b: &[u8]) -> Result<(&[u8], &[u8])> {
    let bad = |reason: String| CryptoError::MalformedSignature { reason };
    if b.len() > MAX_DER_SIGNATURE_LEN {
        return Err(bad(format!("{} bytes, at most {MAX_DER_SIGNATURE_LEN} expected", b.len())));
    }
    if b.len() < 8 {
        return Err(bad(format!("{} bytes, at least 8 expected", b.len())));
    }
    if b[0] != 0x30 {
        return Err(bad(format!("expected SEQUENCE tag 0x30, got 0x{:02x}", b[0])));
    }
    if usize::from(b[1]) != b.len() - 2 {
        return Err(bad(format!("sequence length byte says {}, {} bytes follow", b[1], b.len() - 2)));
    }
    let (r, rest) = take_integer(&b[2..], "r")?;
    let (s, rest) = take_integer(rest, "s")?;
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes after s", rest.len())));
    }
    Ok((r, s))
}

fn take_integer<'a>(b: &'a [u8], name: &str) -> Result<(&'a [u8], &'a [u8])> {
    let bad = |reason: String| CryptoError::MalformedSignature { reason };
    if b.len() < 2 {
        return Err(bad(format!("{name}: truncated before the INTEGER header")));
    }
    if b[0] != 0x02 {
        return Err(bad(format!("{name}: expected INTEGER tag 0x02, got 0x{:02x}", b[0])));
    }
    let len = usize::from(b[1]);
    if len == 0 {
        return Err(bad(format!("{name}: zero-length integer")));
    }
    if len > b.len() - 2 {
        return Err(bad(format!("{name}: length {len} runs past the end ({} bytes left)", b.len() - 2)));
    }
    Ok((&b[2..2 + len], &b[2 + len..]))
}

/// Returns the significant big-endian bytes (at most 32) of a DER integer's
/// content under `rules`.
fn parse_integer<'a>(content: &'a [u8], name: &str, rules: DerRules) -> Result<&'a [u8]> {
    if content.len() > 33 {
        return Err(CryptoError::MalformedSignature {
            reason: format!("{name}: {} content bytes, at most 33 expected", content.len()),
        });
    }
    if rules == DerRules::Strict {
        let non_canonical = |reason: &str| CryptoError::NonCanonicalDer { reason: format!("{name} {reason}") };
        if content[0] & 0x80 != 0 {
            return Err(non_canonical("is negative (top bit set without a zero byte)"));
        }
        if content.len() > 1 && content[0] == 0 && content[1] & 0x80 == 0 {
            return Err(non_canonical("has a redundant leading zero byte"));
        }
    }
    let first = content.iter().position(|&b| b != 0).unwrap_or(content.len());
    let significant = &content[first..];
    if significant.len() > 32 {
        return Err(CryptoError::MalformedSignature { reason: format!("{name} is wider than 256 bits") });
    }
    Ok(significant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// secp256k1 group order n.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae,
        0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    ];

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut v = vec![0x30, (4 + r.len() + s.len()) as u8, 0x02, r.len() as u8];
        v.extend_from_slice(r);
        v.push(0x02);
        v.push(s.len() as u8);
        v.extend_from_slice(s);
        v
    }

    #[test]
    fn small_values_parse_in_both_modes() {
        let sig = Signature::from_der(&der(&[1], &[2]), DerRules::Strict).unwrap();
        let mut expected = [0u8; 64];
        expected[31] = 1;
        expected[63] = 2;
        assert_eq!(sig.to_compact(), expected);
        assert_eq!(sig.to_der(), der(&[1], &[2]));
    }

    #[test]
    fn padded_and_negative_integers_only_in_go_mode() {
        let mut padded_r = vec![0u8; 31];
        padded_r.push(5);
        let d = der(&padded_r, &[2]);
        assert!(matches!(Signature::from_der(&d, DerRules::Strict), Err(CryptoError::NonCanonicalDer { .. })));
        let sig = Signature::from_der(&d, DerRules::GoTx).unwrap();
        assert_eq!(sig.to_der(), der(&[5], &[2]));

        let negative = der(&[0x85, 1], &[2]);
        assert!(Signature::from_der(&negative, DerRules::Strict).is_err());
        let sig = Signature::from_der(&negative, DerRules::GoTx).unwrap();
        assert_eq!(sig.to_der(), der(&[0, 0x85, 1], &[2]));
    }

    #[test]
    fn high_s_is_rejected_strictly_and_normalised_for_txs() {
        // s = n - 1 is high; its low twin is 1.
        let mut s = N;
        s[31] -= 1;
        let mut s_der = vec![0];
        s_der.extend_from_slice(&s);
        assert!(matches!(Signature::from_der(&der(&[1], &s_der), DerRules::Strict), Err(CryptoError::HighS)));
        let twin = Signature::from_der(&der(&[1], &s_der), DerRules::GoTx).unwrap();
        assert_eq!(twin.to_der(), der(&[1], &[1]));
    }

    #[test]
    fn out_of_range_and_zero_are_rejected() {
        let mut n = vec![0];
        n.extend_from_slice(&N);
        assert!(Signature::from_der(&der(&n, &[1]), DerRules::Strict).is_err());
        assert!(Signature::from_der(&der(&[0], &[1]), DerRules::GoTx).is_err());
        assert!(Signature::from_der(&der(&[1], &[0]), DerRules::GoTx).is_err());
    }

    #[test]
    fn structural_errors() {
        let good = der(&[1], &[2]);
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(Signature::from_der(&trailing, DerRules::GoTx).is_err());
        let mut bad_len = good.clone();
        bad_len[1] += 1;
        assert!(Signature::from_der(&bad_len, DerRules::GoTx).is_err());
        let mut bad_tag = good.clone();
        bad_tag[0] = 0x31;
        assert!(Signature::from_der(&bad_tag, DerRules::GoTx).is_err());
        let mut bad_int_tag = good.clone();
        bad_int_tag[2] = 0x03;
        assert!(Signature::from_der(&bad_int_tag, DerRules::GoTx).is_err());
        assert!(Signature::from_der(&[], DerRules::GoTx).is_err());
        assert!(Signature::from_der(&[0x30; 200], DerRules::GoTx).is_err());
        let too_wide = der(&[1; 34], &[2]);
        assert!(Signature::from_der(&too_wide, DerRules::GoTx).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Signature::from_der(&b, DerRules::GoTx);
            let _ = Signature::from_der(&b, DerRules::Strict);
        }

        #[test]
        fn strict_output_round_trips(r in proptest::array::uniform32(any::<u8>()), s in proptest::array::uniform32(any::<u8>())) {
            let mut c = [0u8; 64];
            c[..32].copy_from_slice(&r);
            c[32..].copy_from_slice(&s);
            if let Ok(sig) = Signature::from_compact(&c) {
                let d = sig.to_der();
                prop_assert_eq!(Signature::from_der(&d, DerRules::Strict).unwrap(), sig);
                prop_assert_eq!(Signature::from_der(&d, DerRules::GoTx).unwrap(), sig);
            }
        }
    }
}
