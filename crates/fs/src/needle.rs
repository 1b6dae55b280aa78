//! A needle: one file (or one deletion) as it sits in a volume.
//!
//! ```text
//! offset size  field
//! 0      4     magic "AGFS"
//! 4      1     version = 2 (1 is still read, see below)
//! 5      1     flags: bit 0 = tombstone (a deletion; no data)
//! 6      1     content type length (0..=127)
//! 7      1     reserved = 0
//! 8      8     data length, little-endian
//! 16     32    key: SHA-256 of the data
//! 48     4     header check: the first 4 bytes of SHA-256 of bytes 0..48
//!              followed by the content type
//! 52     4     data check: CRC-32 (IEEE) of the data, little-endian
//! 56     n     content type (ASCII)
//! 56+n   size  data
//! ...          zero padding to a multiple of 8 bytes
//! ```
//!
//! The header check catches a damaged or torn header; the data check is
//! what every read verifies, Haystack's choice: a CRC finds the random
//! damage disks do at memory speed, where SHA-256 would cost a large read
//! more than its copy. The key is still the SHA-256 of the data (content
//! addressing), computed when the file is stored and checked whole by
//! [`crate::FsStore::verify`] (the scrubber, and before a file is sent to
//! a peer) and by every client that fetches it. Every needle starts at a
//! multiple of 8, so a scan can step from one to the next by the length
//! its header gives.
//!
//! Version 1 needles (an 8-byte header check at 48, no data check; the
//! data checked against its key) are read as they are; new needles, and
//! compaction's copies, are version 2.

use aergo_hash::Hash;
use sha2::{Digest, Sha256};

use crate::FsError;

pub const MAGIC: &[u8; 4] = b"AGFS";
pub const VERSION: u8 = 2;
/// The first format: no data check, the data is checked against its key.
pub const VERSION_1: u8 = 1;
pub const HEADER_BYTES: usize = 56;
pub const ALIGN: u64 = 8;
/// Longest content type kept with a file.
pub const MAX_CONTENT_TYPE_BYTES: usize = 127;
const FLAG_TOMBSTONE: u8 = 1;

/// The fields of a needle's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub key: Hash,
    pub tombstone: bool,
    pub content_type_len: u8,
    pub size: u64,
    /// The data's CRC-32 (version 2); `None` in version 1 needles.
    pub data_crc: Option<u32>,
}

impl Header {
    /// Bytes of the whole needle, padding included.
    pub fn needle_len(&self) -> u64 {
        padded(HEADER_BYTES as u64 + u64::from(self.content_type_len) + self.size)
    }
}

pub fn padded(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

fn header_check(first48: &[u8], content_type: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(first48);
    h.update(content_type);
    h.finalize().into()
}

/// The CRC-32 of `data`.
pub fn crc(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// A content type worth keeping: printable ASCII, bounded.
pub fn valid_content_type(ct: &str) -> bool {
    ct.len() <= MAX_CONTENT_TYPE_BYTES && ct.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The bytes of a needle holding `data` (key = its SHA-256).
pub fn encode(key: &Hash, content_type: &str, data: &[u8]) -> Vec<u8> {
    encode_with(key, false, content_type, data)
}

/// A tombstone: `key` is deleted.
pub fn encode_tombstone(key: &Hash) -> Vec<u8> {
    encode_with(key, true, "", &[])
}

fn encode_with(key: &Hash, tombstone: bool, content_type: &str, data: &[u8]) -> Vec<u8> {
    debug_assert!(valid_content_type(content_type));
    let ct = content_type.as_bytes();
    let total = padded((HEADER_BYTES + ct.len() + data.len()) as u64) as usize;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(if tombstone { FLAG_TOMBSTONE } else { 0 });
    out.push(ct.len() as u8);
    out.push(0);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    let check = header_check(&out[..48], ct);
    out.extend_from_slice(&check[..4]);
    out.extend_from_slice(&crc(data).to_le_bytes());
    out.extend_from_slice(ct);
    out.extend_from_slice(data);
    out.resize(total, 0);
    out
}

/// Parses a header (the first [`HEADER_BYTES`] of a needle) and checks its
/// structure; the header check needs the content type after it (see
/// [`check_header`]).
pub fn decode_header(b: &[u8]) -> Result<Header, FsError> {
    let bad = |reason: &str| FsError::Corrupt { reason: reason.to_string() };
    if b.len() < HEADER_BYTES {
        return Err(bad("a needle header is cut short"));
    }
    if &b[..4] != MAGIC {
        return Err(bad("no needle magic"));
    }
    let version = b[4];
    if version != VERSION && version != VERSION_1 {
        return Err(bad("unknown needle version"));
    }
    let flags = b[5];
    if flags & !FLAG_TOMBSTONE != 0 || b[7] != 0 {
        return Err(bad("unknown needle flags"));
    }
    let content_type_len = b[6];
    if usize::from(content_type_len) > MAX_CONTENT_TYPE_BYTES {
        return Err(bad("content type too long"));
    }
    let size = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
    // A needle's whole length is a u32 (the index's field): no larger data.
    if size > u64::from(u32::MAX) - (HEADER_BYTES + MAX_CONTENT_TYPE_BYTES + ALIGN as usize) as u64 {
        return Err(bad("data length beyond the needle bound"));
    }
    let key = Hash::from(<[u8; 32]>::try_from(&b[16..48]).expect("32 bytes"));
    let tombstone = flags & FLAG_TOMBSTONE != 0;
    if tombstone && (size != 0 || content_type_len != 0) {
        return Err(bad("a tombstone with data"));
    }
    let data_crc = (version == VERSION).then(|| u32::from_le_bytes(b[52..56].try_into().expect("4 bytes")));
    Ok(Header { key, tombstone, content_type_len, size, data_crc })
}

/// Checks the header check of a needle whose header and content type are
/// in `b`.
pub fn check_header(b: &[u8], h: &Header) -> Result<(), FsError> {
    let ct_end = HEADER_BYTES + usize::from(h.content_type_len);
    let stored = match h.data_crc {
        Some(_) => &b[48..52],
        None => &b[48..56],
    };
    if b.len() < ct_end || header_check(&b[..48], &b[HEADER_BYTES..ct_end])[..stored.len()] != *stored {
        return Err(FsError::Corrupt { reason: "needle header check mismatch".into() });
    }
    Ok(())
}

/// A whole needle, checked: its header, and its data against its key.
/// Returns the header, the content type and the data's range in `b`.
pub fn decode(b: &[u8]) -> Result<(Header, String, std::ops::Range<usize>), FsError> {
    let h = decode_header(b)?;
    let len = usize::try_from(h.needle_len()).map_err(|_| FsError::Corrupt { reason: "needle too long".into() })?;
    if b.len() < len {
        return Err(FsError::Corrupt { reason: "a needle is cut short".into() });
    }
    check_header(b, &h)?;
    let ct_end = HEADER_BYTES + usize::from(h.content_type_len);
    let content_type = String::from_utf8(b[HEADER_BYTES..ct_end].to_vec())
        .ok()
        .filter(|c| valid_content_type(c))
        .ok_or_else(|| FsError::Corrupt { reason: "content type is not printable ASCII".into() })?;
    let data = ct_end..ct_end + h.size as usize;
    let intact = match h.data_crc {
        Some(c) => crc(&b[data.clone()]) == c,
        None => h.tombstone || Hash::sha256(&b[data.clone()]) == h.key,
    };
    if !intact {
        return Err(FsError::Corrupt { reason: format!("data of {} does not match its check", h.key) });
    }
    Ok((h, content_type, data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn needles_round_trip_and_any_flip_is_caught(data in proptest::collection::vec(any::<u8>(), 0..300),
                                                      ct in "[ -~]{0,20}", flip in any::<usize>()) {
            let key = Hash::sha256(&data);
            let n = encode(&key, &ct, &data);
            prop_assert_eq!(n.len() as u64 % ALIGN, 0);
            let (h, got_ct, range) = decode(&n).unwrap();
            prop_assert_eq!(&h.key, &key);
            prop_assert_eq!(got_ct, ct.clone());
            prop_assert_eq!(&n[range], data.as_slice());
            prop_assert_eq!(h.needle_len() as usize, n.len());
            // One bit flipped outside the padding: refused.
            let meaningful = HEADER_BYTES + ct.len() + data.len();
            let i = flip % meaningful;
            let mut bad = n.clone();
            bad[i] ^= 0x10;
            prop_assert!(decode(&bad).is_err());
        }
    }

    /// A version 1 needle as the first format wrote it.
    pub(crate) fn encode_v1(key: &Hash, content_type: &str, data: &[u8]) -> Vec<u8> {
        let ct = content_type.as_bytes();
        let total = padded((HEADER_BYTES + ct.len() + data.len()) as u64) as usize;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION_1, 0, ct.len() as u8, 0]);
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        let check = header_check(&out[..48], ct);
        out.extend_from_slice(&check[..8]);
        out.extend_from_slice(ct);
        out.extend_from_slice(data);
        out.resize(total, 0);
        out
    }

    #[test]
    fn version_1_needles_are_still_read_and_checked_against_their_key() {
        let data = b"written by the first format".to_vec();
        let key = Hash::sha256(&data);
        let n = encode_v1(&key, "text/plain", &data);
        let (h, ct, range) = decode(&n).unwrap();
        assert_eq!((h.key, h.data_crc, ct.as_str(), &n[range]), (key, None, "text/plain", data.as_slice()));
        let mut bad = n.clone();
        bad[HEADER_BYTES + 10 + 3] ^= 1;
        assert!(decode(&bad).is_err(), "damaged data is caught by the key");
        let mut bad = n;
        bad[50] ^= 1;
        assert!(decode(&bad).is_err(), "the 8-byte header check of version 1");
        // New needles are version 2, with a data check.
        let n = encode(&key, "text/plain", &data);
        assert_eq!(decode(&n).unwrap().0.data_crc, Some(crc(&data)));
    }

    #[test]
    fn tombstones_and_cut_needles() {
        let key = Hash::sha256(b"x");
        let t = encode_tombstone(&key);
        let (h, _, _) = decode(&t).unwrap();
        assert!(h.tombstone && h.key == key);
        let n = encode(&key, "text/plain", b"x");
        for cut in 0..n.len() - 7 {
            assert!(decode(&n[..cut]).is_err(), "cut at {cut}");
        }
    }
}
