//! Compact, canonical, bounded byte encodings of votes, quorum
//! certificates, safety states and anchors.
//!
//! Every encoding starts with a version byte (1), integers are big-endian,
//! keys are 33-byte compressed secp256k1 points and signatures 64-byte
//! compact `r || s` with low `s`. Decoders check every length before
//! reading, accept each value in exactly one form (decode then encode
//! gives back the input bytes) and return [`ConsensusError::Decode`] on
//! anything else; they never panic.
//!
//! - Vote (138 bytes): `01 | slot u64 | block 32 | voter 33 | sig 64`.
//! - Quorum certificate: `01 | slot u64 | block 32 | voter_count u8 |
//!   bitmap ceil(voter_count/8) bytes (bit i of byte i/8, least significant
//!   first, set when voter i signed; unused high bits zero) | one 64-byte
//!   signature per set bit, in index order`. The implicit genesis
//!   certificate has `voter_count` 0 and nothing after it; any other
//!   certificate has at least one signature. At most [`MAX_VOTERS`] voters.
//! - Safety state (57 bytes): `01 | last_voted_slot u64 |
//!   last_produced_slot u64 | locked_slot u64 | locked_block 32`.
//! - Anchor: `01 | hash 32 | height u64 | slot u64 | joint_run u8 |
//!   kind u8 (1 single, 2 joint) | per set: count u8, keys | has_qc u8 |
//!   [qc_len u16 | qc]`.

use super::types::{Anchor, ProducerId, Qc, QuorumConfig, SafetyState, Vote, MAX_PRODUCERS, MAX_VOTERS};
use crate::error::{ConsensusError, Result};
use aergo_crypto::{PublicKey, Signature};
use aergo_types::Hash;

const VERSION: u8 = 1;
/// Encoded size of a vote.
pub const VOTE_SIZE_BYTES: usize = 1 + 8 + 32 + 33 + 64;
/// Encoded size of a safety state.
pub const SAFETY_STATE_SIZE_BYTES: usize = 1 + 8 + 8 + 8 + 32;
/// Largest encoded quorum certificate.
pub const MAX_QC_SIZE_BYTES: usize = 1 + 8 + 32 + 1 + MAX_VOTERS.div_ceil(8) + MAX_VOTERS * 64;
/// Largest encoded anchor.
pub const MAX_ANCHOR_SIZE_BYTES: usize =
    1 + 32 + 8 + 8 + 1 + 1 + 2 * (1 + 33 * MAX_PRODUCERS) + 1 + 2 + MAX_QC_SIZE_BYTES;

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a> {
    what: &'static str,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(what: &'static str, data: &'a [u8], max_len: usize) -> Result<Reader<'a>> {
        if data.len() > max_len {
            return Err(err(what, format!("{} bytes, at most {max_len} expected", data.len())));
        }
        Ok(Reader { what, data, pos: 0 })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            err(self.what, format!("truncated: needed {n} bytes at offset {}, have {}", self.pos, self.data.len()))
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn hash(&mut self) -> Result<Hash> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(Hash(a))
    }

    fn key(&mut self) -> Result<ProducerId> {
        let what = self.what;
        PublicKey::from_compressed(self.take(33)?).map_err(|e| err(what, format!("public key: {e}")))
    }

    fn signature(&mut self) -> Result<Signature> {
        let mut a = [0u8; 64];
        a.copy_from_slice(self.take(64)?);
        Signature::from_compact(&a).map_err(|e| err(self.what, format!("signature: {e}")))
    }

    fn version(&mut self) -> Result<()> {
        let v = self.u8()?;
        if v != VERSION {
            return Err(err(self.what, format!("version {v}, expected {VERSION}")));
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        if self.pos != self.data.len() {
            return Err(err(self.what, format!("{} trailing bytes", self.data.len() - self.pos)));
        }
        Ok(())
    }
}

fn err(what: &'static str, reason: String) -> ConsensusError {
    ConsensusError::Decode { what, reason }
}

impl Vote {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(VOTE_SIZE_BYTES);
        v.push(VERSION);
        v.extend_from_slice(&self.slot.to_be_bytes());
        v.extend_from_slice(self.block.as_bytes());
        v.extend_from_slice(&self.voter.to_compressed());
        v.extend_from_slice(&self.signature.to_compact());
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Vote> {
        let mut r = Reader::new("vote", bytes, VOTE_SIZE_BYTES)?;
        r.version()?;
        let vote = Vote { slot: r.u64()?, block: r.hash()?, voter: r.key()?, signature: r.signature()? };
        r.finish()?;
        Ok(vote)
    }
}

impl Qc {
    pub fn encode(&self) -> Vec<u8> {
        let count = self.voter_count as usize;
        let mut v = Vec::with_capacity(42 + count.div_ceil(8) + 64 * self.signatures.len());
        v.push(VERSION);
        v.extend_from_slice(&self.slot.to_be_bytes());
        v.extend_from_slice(self.block.as_bytes());
        v.push(self.voter_count);
        let mut bitmap = vec![0u8; count.div_ceil(8)];
        for (i, _) in &self.signatures {
            // Indices beyond the bitmap cannot be represented; `check_shape`
            // rejects such a value before it is ever trusted.
            if let Some(b) = bitmap.get_mut(*i as usize / 8) {
                *b |= 1 << (i % 8);
            }
        }
        v.extend_from_slice(&bitmap);
        for (_, s) in &self.signatures {
            v.extend_from_slice(&s.to_compact());
        }
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Qc> {
        let mut r = Reader::new("quorum certificate", bytes, MAX_QC_SIZE_BYTES)?;
        r.version()?;
        let slot = r.u64()?;
        let block = r.hash()?;
        let voter_count = r.u8()?;
        let count = voter_count as usize;
        if count > MAX_VOTERS {
            return Err(err("quorum certificate", format!("{count} voters, at most {MAX_VOTERS}")));
        }
        let bitmap = r.take(count.div_ceil(8))?;
        let mut indices = Vec::new();
        for i in 0..bitmap.len() * 8 {
            if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                if i >= count {
                    return Err(err("quorum certificate", format!("bitmap bit {i} set beyond {count} voters")));
                }
                indices.push(i as u8);
            }
        }
        if count > 0 && indices.is_empty() {
            return Err(err("quorum certificate", "no signatures".to_string()));
        }
        let mut signatures = Vec::with_capacity(indices.len());
        for i in indices {
            signatures.push((i, r.signature()?));
        }
        r.finish()?;
        Ok(Qc { slot, block, voter_count, signatures })
    }

    /// Structural checks a decoded value always passes: indices strictly
    /// increasing and below `voter_count`, and signatures present unless
    /// implicit.
    pub fn check_shape(&self) -> Result<()> {
        let count = self.voter_count as usize;
        if count > MAX_VOTERS {
            return Err(err("quorum certificate", format!("{count} voters, at most {MAX_VOTERS}")));
        }
        if count > 0 && self.signatures.is_empty() {
            return Err(err("quorum certificate", "no signatures".to_string()));
        }
        let mut prev: Option<u8> = None;
        for (i, _) in &self.signatures {
            if *i as usize >= count || prev.is_some_and(|p| p >= *i) {
                return Err(err("quorum certificate", format!("signer index {i} out of order or range")));
            }
            prev = Some(*i);
        }
        Ok(())
    }
}

impl SafetyState {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(SAFETY_STATE_SIZE_BYTES);
        v.push(VERSION);
        v.extend_from_slice(&self.last_voted_slot.to_be_bytes());
        v.extend_from_slice(&self.last_produced_slot.to_be_bytes());
        v.extend_from_slice(&self.locked_slot.to_be_bytes());
        v.extend_from_slice(self.locked_block.as_bytes());
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<SafetyState> {
        let mut r = Reader::new("safety state", bytes, SAFETY_STATE_SIZE_BYTES)?;
        r.version()?;
        let s = SafetyState {
            last_voted_slot: r.u64()?,
            last_produced_slot: r.u64()?,
            locked_slot: r.u64()?,
            locked_block: r.hash()?,
        };
        r.finish()?;
        Ok(s)
    }
}

fn put_set(v: &mut Vec<u8>, set: &[ProducerId]) {
    // Sets come from a validated configuration (at most MAX_PRODUCERS).
    v.push(set.len().min(u8::MAX as usize) as u8);
    for p in set {
        v.extend_from_slice(&p.to_compressed());
    }
}

fn get_set(r: &mut Reader<'_>) -> Result<Vec<ProducerId>> {
    let n = r.u8()? as usize;
    if n > MAX_PRODUCERS {
        return Err(err("anchor", format!("{n} producers, at most {MAX_PRODUCERS}")));
    }
    (0..n).map(|_| r.key()).collect()
}

impl Anchor {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256);
        v.push(VERSION);
        v.extend_from_slice(self.hash.as_bytes());
        v.extend_from_slice(&self.height.to_be_bytes());
        v.extend_from_slice(&self.slot.to_be_bytes());
        v.push(self.joint_run);
        match &self.config {
            QuorumConfig::Single(s) => {
                v.push(1);
                put_set(&mut v, s);
            }
            QuorumConfig::Joint { old, new } => {
                v.push(2);
                put_set(&mut v, old);
                put_set(&mut v, new);
            }
        }
        match &self.qc {
            None => v.push(0),
            Some(qc) => {
                v.push(1);
                let q = qc.encode();
                v.extend_from_slice(&(q.len().min(u16::MAX as usize) as u16).to_be_bytes());
                v.extend_from_slice(&q);
            }
        }
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Anchor> {
        let mut r = Reader::new("anchor", bytes, MAX_ANCHOR_SIZE_BYTES)?;
        r.version()?;
        let hash = r.hash()?;
        let height = r.u64()?;
        let slot = r.u64()?;
        let joint_run = r.u8()?;
        let config = match r.u8()? {
            1 => QuorumConfig::Single(get_set(&mut r)?),
            2 => {
                let old = get_set(&mut r)?;
                let new = get_set(&mut r)?;
                QuorumConfig::Joint { old, new }
            }
            k => return Err(err("anchor", format!("configuration kind {k}, expected 1 or 2"))),
        };
        config.validate()?;
        let run_ok = match config {
            QuorumConfig::Single(_) => joint_run == 0,
            QuorumConfig::Joint { .. } => (1..=3).contains(&joint_run),
        };
        if !run_ok {
            return Err(err("anchor", format!("joint run {joint_run} does not fit the configuration")));
        }
        let qc = match r.u8()? {
            0 => None,
            1 => {
                let len = r.u16()? as usize;
                let qc = Qc::decode(r.take(len)?)?;
                if qc.block != hash || qc.slot != slot {
                    return Err(err("anchor", "certificate is for another block".to_string()));
                }
                Some(qc)
            }
            f => return Err(err("anchor", format!("certificate flag {f}, expected 0 or 1"))),
        };
        r.finish()?;
        Ok(Anchor { hash, height, slot, config, joint_run, qc })
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::vote_digest;
    use super::*;
    use aergo_crypto::{dev_key, dev_keys};
    use proptest::prelude::*;

    fn keys() -> Vec<aergo_crypto::PrivateKey> {
        dev_keys("dpos-codec", 6)
    }

    fn sample_qc(slot: u64, block: Hash, voter_count: u8, signers: &[u8]) -> Qc {
        let ks = keys();
        let tag = Hash::sha256(b"tag");
        let signatures = signers
            .iter()
            .map(|i| (*i, ks[*i as usize % ks.len()].sign_hash(&vote_digest(&tag, slot, &block))))
            .collect();
        Qc { slot, block, voter_count, signatures }
    }

    #[test]
    fn golden_vote_digest_and_encoding() {
        // Consensus-critical: these bytes are what producers sign and gossip.
        let tag = Hash::sha256(b"aergo-golden-chain");
        let block = Hash::sha256(b"aergo-golden-block");
        let d = vote_digest(&tag, 42, &block);
        assert_eq!(d.to_hex(), GOLDEN_DIGEST);
        let key = dev_key("dpos-golden", 0);
        let v = Vote::sign(&tag, 42, block, &key);
        let enc = v.encode();
        assert_eq!(enc.len(), VOTE_SIZE_BYTES);
        assert_eq!(hex::encode(&enc), GOLDEN_VOTE);
        assert_eq!(Vote::decode(&enc).unwrap(), v);
        v.verify(&tag).unwrap();
        let qc = Qc { slot: 42, block, voter_count: 10, signatures: vec![(0, v.signature), (9, v.signature)] };
        let q = qc.encode();
        // version, slot, block, count, 2 bitmap bytes (bits 0 and 9), 2 signatures.
        assert_eq!(hex::encode(&q[..44]), format!("01000000000000002a{}0a0102", block.to_hex()));
        assert_eq!(q.len(), 44 + 128);
        assert_eq!(Qc::decode(&q).unwrap(), qc);
        let s = SafetyState { last_voted_slot: 7, last_produced_slot: 5, locked_slot: 3, locked_block: block };
        assert_eq!(
            hex::encode(s.encode()),
            format!("01000000000000000700000000000000050000000000000003{}", block.to_hex())
        );
    }

    const GOLDEN_DIGEST: &str = "055dc60431d22fae601a5165a80189adec3705f6294a7de60b7bd84718de113c";
    const GOLDEN_VOTE: &str = "01000000000000002a478c9b0cd7881ef34d6b9cd583304366f14890cf6905fcff089939248a27c56102107413340f63dec901f016b0bb60b1d132ca31d9db369e4c8b64fedf79389797e329288149c15959b5f7e76d382148bb6b3c21c287e937abf234f299e1dfc3740c184475a81b8579d7bc8b9a2945dcdf4a9801633dd4f27446403eb4c6d4a1a6";

    #[test]
    fn decoders_reject_malformed_input() {
        let block = Hash::sha256(b"b");
        let qc = sample_qc(3, block, 4, &[0, 1, 2]);
        let good = qc.encode();
        // Trailing byte, truncation, version.
        let mut long = good.clone();
        long.push(0);
        assert!(Qc::decode(&long).is_err());
        assert!(Qc::decode(&good[..good.len() - 1]).is_err());
        let mut v2 = good.clone();
        v2[0] = 2;
        assert!(Qc::decode(&v2).is_err());
        // A bit beyond voter_count.
        let mut beyond = good.clone();
        beyond[41] |= 0x10;
        assert!(Qc::decode(&beyond).is_err());
        // Non-implicit without signatures.
        let mut empty = good[..42].to_vec();
        empty.push(0);
        assert!(Qc::decode(&empty).is_err());
        // Implicit genesis form round-trips.
        let g = Qc::genesis(block);
        assert_eq!(Qc::decode(&g.encode()).unwrap(), g);
        // More voters than allowed.
        let mut many = good[..41].to_vec();
        many.push((MAX_VOTERS + 1) as u8);
        assert!(Qc::decode(&many).is_err());
        // High-s signature in a vote.
        let v = Vote::sign(&block, 1, block, &keys()[0]);
        let mut enc = v.encode();
        enc[74 + 32..].fill(0xff);
        assert!(Vote::decode(&enc).is_err());
        // Bad public key.
        let mut enc = v.encode();
        enc[41] = 0x05;
        assert!(Vote::decode(&enc).is_err());
    }

    #[test]
    fn anchors_round_trip_and_check_themselves() {
        let ks: Vec<_> = keys().iter().map(|k| k.public_key()).collect();
        let block = Hash::sha256(b"a");
        let a = Anchor {
            hash: block,
            height: 9,
            slot: 12,
            config: QuorumConfig::Joint { old: ks[..3].to_vec(), new: ks[2..6].to_vec() },
            joint_run: 2,
            qc: Some(sample_qc(12, block, 6, &[0, 1, 2, 3, 4])),
        };
        assert_eq!(Anchor::decode(&a.encode()).unwrap(), a);
        let g = Anchor::genesis(block, 0, ks.clone());
        assert_eq!(Anchor::decode(&g.encode()).unwrap(), g);
        let mut bad = a.clone();
        bad.joint_run = 0;
        assert!(Anchor::decode(&bad.encode()).is_err());
        let mut bad = a.clone();
        bad.qc = Some(sample_qc(11, block, 6, &[0]));
        assert!(Anchor::decode(&bad.encode()).is_err());
        let mut dup = g.clone();
        dup.config = QuorumConfig::Single(vec![ks[0], ks[0]]);
        assert!(Anchor::decode(&dup.encode()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        #[test]
        fn qc_round_trips(slot in any::<u64>(), seed in any::<[u8; 32]>(), count in 1u8..=64, mask in any::<u64>()) {
            let block = Hash(seed);
            let signers: Vec<u8> = (0..count).filter(|i| mask & (1 << i) != 0).collect();
            prop_assume!(!signers.is_empty());
            let qc = sample_qc(slot, block, count, &signers);
            let enc = qc.encode();
            prop_assert!(enc.len() <= MAX_QC_SIZE_BYTES);
            prop_assert_eq!(Qc::decode(&enc).unwrap(), qc);
        }

        #[test]
        fn safety_state_round_trips(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), h in any::<[u8; 32]>()) {
            let s = SafetyState { last_voted_slot: a, last_produced_slot: b, locked_slot: c, locked_block: Hash(h) };
            prop_assert_eq!(SafetyState::decode(&s.encode()).unwrap(), s);
        }

        #[test]
        fn decoders_never_panic_and_are_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(v) = Vote::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(q) = Qc::decode(&bytes) { prop_assert_eq!(q.encode(), bytes.clone()); }
            if let Ok(s) = SafetyState::decode(&bytes) { prop_assert_eq!(s.encode(), bytes.clone()); }
            if let Ok(a) = Anchor::decode(&bytes) { prop_assert_eq!(a.encode(), bytes.clone()); }
        }

        #[test]
        fn mutated_encodings_never_panic(slot in any::<u64>(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
            let block = Hash::sha256(&slot.to_be_bytes());
            let qc = sample_qc(slot, block, 7, &[0, 2, 4, 6]);
            let v = Vote::sign(&block, slot, block, &keys()[1]);
            let ks: Vec<_> = keys().iter().map(|k| k.public_key()).collect();
            let a = Anchor { hash: block, height: 1, slot, config: QuorumConfig::Single(ks[..4].to_vec()), joint_run: 0, qc: Some(qc.clone()) };
            for enc in [qc.encode(), v.encode(), a.encode()] {
                let mut m = enc.clone();
                let i = pos % m.len();
                m[i] = byte;
                let t = &m[..cut % (m.len() + 1)];
                for input in [&m[..], t] {
                    if let Ok(x) = Qc::decode(input) { prop_assert_eq!(x.encode(), input.to_vec()); }
                    if let Ok(x) = Vote::decode(input) { prop_assert_eq!(x.encode(), input.to_vec()); }
                    if let Ok(x) = Anchor::decode(input) { prop_assert_eq!(x.encode(), input.to_vec()); }
                }
            }
        }
    }
}
