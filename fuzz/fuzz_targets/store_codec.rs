//! The store's typed codecs: keys (order-preserving, prefix-free) and rows
//! (canonical), decoded from arbitrary bytes as a corrupt or hostile
//! database or proof would bring them, and round trips of arbitrary values
//! built from the input: rows come back exactly, keys come back equal in
//! key order (NUMERIC normalised), and key bytes sort as the values do.
#![no_main]

use aergo_store::codec::{decode_key, decode_row, encode_key, encode_row, Value};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// Values read off the input bytes: a tag byte, then the value's bytes.
fn values(mut data: &[u8]) -> Vec<Value> {
    fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if data.len() < n {
            return None;
        }
        let (head, tail) = data.split_at(n);
        *data = tail;
        Some(head)
    }
    fn u64_of(b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(a)
    }
    let mut out = Vec::new();
    while let Some(&[tag]) = take(&mut data, 1) {
        let v = match tag % 7 {
            0 => Value::Null,
            1 => Value::Bool(tag & 0x80 != 0),
            2 => Value::Int(u64_of(take(&mut data, 8).unwrap_or_default()) as i64),
            3 => {
                let Some(b) = take(&mut data, 13) else { break };
                let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                Value::Numeric(Decimal::from_parts(word(0), word(4), word(8), b[12] & 0x80 != 0, u32::from(b[12] % 29)))
            }
            4 | 5 => {
                let n = usize::from(take(&mut data, 1).map_or(0, |b| b[0]) % 32).min(data.len());
                let bytes = take(&mut data, n).unwrap_or_default();
                if tag % 7 == 4 {
                    Value::Text(String::from_utf8_lossy(bytes).into_owned())
                } else {
                    Value::Bytes(bytes.to_vec())
                }
            }
            _ => Value::Timestamp(u64_of(take(&mut data, 8).unwrap_or_default()) as i64),
        };
        out.push(v);
    }
    out
}

fn key_equal(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.key_cmp(y) == Ordering::Equal)
}

fuzz_target!(|data: &[u8]| {
    // Decoding arbitrary bytes: canonical, so whatever decodes re-encodes
    // to the same bytes.
    if let Ok(key) = decode_key(data) {
        assert_eq!(encode_key(&key), data, "key {key:?}");
    }
    if let Ok(row) = decode_row(data) {
        assert_eq!(encode_row(&row), data, "row {row:?}");
    }

    // Round trips of values built from the input.
    let vals = values(data);
    let row = encode_row(&vals);
    assert_eq!(decode_row(&row).expect("an encoded row decodes"), vals);
    let key = encode_key(&vals);
    let back = decode_key(&key).expect("an encoded key decodes");
    assert!(key_equal(&back, &vals), "key {vals:?} came back as {back:?}");
    assert_eq!(encode_key(&back), key);

    // Order: the bytes of two one-value keys compare as the values do.
    if let [a, b, ..] = vals.as_slice() {
        let (ka, kb) = (encode_key(std::slice::from_ref(a)), encode_key(std::slice::from_ref(b)));
        assert_eq!(ka.cmp(&kb), a.key_cmp(b), "{a:?} vs {b:?}");
        // Prefix-free: a tuple's key sorts by its first value first.
        if a.key_cmp(b) != Ordering::Equal {
            assert_eq!(encode_key(&vals[..1]).cmp(&encode_key(&vals[1..])), a.key_cmp(&vals[1]));
        }
    }
});
