//! [`InlineKey`]: a key of the overlay's write buffer, kept inside the map
//! node when short.
//!
//! Why: a point read or write of the overlay is a descent of a `BTreeMap`
//! whose comparisons, with `Vec<u8>` keys, each follow a pointer to a
//! separate heap block. With a block's worth of buffered rows (100k
//! accounts in `sql_bench`) those blocks are spread over megabytes and
//! most comparisons miss the cache. Table keys are short (a text or integer
//! primary key encodes in a dozen bytes), so keeping up to
//! [`INLINE_BYTES`] in the node makes the descent touch only the nodes it
//! walks, and copying a key (the undo log keeps one per write) allocates
//! nothing. Longer keys live on the heap as before.
//!
//! The order is the byte order of the key, exactly as for `Vec<u8>`, and
//! the map is looked up by `&[u8]` through `Borrow<[u8]>`: callers never
//! see the type change.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;

/// Keys up to this many bytes are stored inline. 30 makes the whole key 32
/// bytes (the tag, the length, the bytes), the size of a cache line half.
pub(crate) const INLINE_BYTES: usize = 30;

#[derive(Clone)]
pub(crate) struct InlineKey(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    Heap(Box<[u8]>),
}

const _: () = assert!(std::mem::size_of::<InlineKey>() == 32);

impl InlineKey {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    pub(crate) fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }
}

impl From<&[u8]> for InlineKey {
    fn from(key: &[u8]) -> InlineKey {
        if key.len() <= INLINE_BYTES {
            let mut bytes = [0u8; INLINE_BYTES];
            bytes[..key.len()].copy_from_slice(key);
            InlineKey(Repr::Inline { len: key.len() as u8, bytes })
        } else {
            InlineKey(Repr::Heap(key.into()))
        }
    }
}

impl From<Vec<u8>> for InlineKey {
    fn from(key: Vec<u8>) -> InlineKey {
        if key.len() <= INLINE_BYTES {
            InlineKey::from(key.as_slice())
        } else {
            // Reuses the caller's allocation.
            InlineKey(Repr::Heap(key.into_boxed_slice()))
        }
    }
}

impl Deref for InlineKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for InlineKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

// Equality and order are those of the bytes, as `Borrow<[u8]>` requires;
// the representation never takes part.
impl PartialEq for InlineKey {
    fn eq(&self, other: &InlineKey) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for InlineKey {}

impl PartialOrd for InlineKey {
    fn partial_cmp(&self, other: &InlineKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InlineKey {
    fn cmp(&self, other: &InlineKey) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for InlineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn short_and_long_keys_keep_their_bytes() {
        for n in [0, 1, INLINE_BYTES - 1, INLINE_BYTES, INLINE_BYTES + 1, 1000] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            assert_eq!(InlineKey::from(v.clone()).as_slice(), &v[..]);
            assert_eq!(InlineKey::from(&v[..]).to_vec(), v);
        }
    }

    proptest! {
        /// The order is byte order whatever the representations compared
        /// (inline against heap included), so a map of these keys iterates
        /// and looks up exactly as a map of `Vec<u8>`.
        #[test]
        fn order_and_lookup_agree_with_vec_keys(
            keys in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..60),
            probe in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let plain: BTreeMap<Vec<u8>, usize> = keys.iter().cloned().enumerate().map(|(i, k)| (k, i)).collect();
            let inline: BTreeMap<InlineKey, usize> =
                keys.iter().cloned().enumerate().map(|(i, k)| (InlineKey::from(k), i)).collect();
            let a: Vec<(Vec<u8>, usize)> = plain.iter().map(|(k, v)| (k.clone(), *v)).collect();
            let b: Vec<(Vec<u8>, usize)> = inline.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
            prop_assert_eq!(a, b);
            prop_assert_eq!(plain.get(&probe[..]), inline.get(&probe[..]));
            let lo: &[u8] = &probe;
            let ra: Vec<usize> = plain.range::<[u8], _>((std::ops::Bound::Included(lo), std::ops::Bound::Unbounded)).map(|(_, v)| *v).collect();
            let rb: Vec<usize> = inline.range::<[u8], _>((std::ops::Bound::Included(lo), std::ops::Bound::Unbounded)).map(|(_, v)| *v).collect();
            prop_assert_eq!(ra, rb);
        }
    }
}
