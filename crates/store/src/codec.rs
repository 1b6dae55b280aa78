//! Typed values and their two canonical byte encodings.
//!
//! The relational layer stores every table as a prolly tree of
//! `key bytes -> row bytes`. Two encodings turn typed values into those bytes:
//!
//! * **Key encoding** ([`encode_key`]) is *order-preserving*: for two tuples of
//!   the same column types, comparing their encodings byte by byte gives the
//!   same order as comparing the values. It is also *prefix-free* per value, so
//!   a composite key sorts by its first column, then its second, and so on, and
//!   a range scan over a key prefix is a byte-range scan. Keys must be
//!   canonical: values that compare equal encode identically (so `1.5` and
//!   `1.50` are one key).
//! * **Row encoding** ([`encode_row`]) is *canonical and compact*: one byte
//!   string per row, identical on every machine for the same values, decoded
//!   without trusting the input ([`decode_row`] returns an error, never
//!   panics, on any byte string).
//!
//! Both formats are pinned by golden vectors in the tests below; changing a
//! byte of either changes every state root, so they are versioned by the
//! leading byte of a row and must never change silently.
//!
//! # Key encoding
//!
//! Each value starts with a type tag whose order fixes the cross-type order
//! (only ever used for NULL versus non-NULL within one column: NULL sorts
//! first):
//!
//! | value | bytes |
//! |---|---|
//! | NULL | `0x05` |
//! | BOOLEAN | `0x10`, then `0x00` (false) or `0x01` (true) |
//! | INTEGER (i64) | `0x20`, then 8 bytes big-endian with the sign bit flipped |
//! | NUMERIC < 0 | `0x30`, then the bytes of the positive form of `-v`, each inverted (`!b`) |
//! | NUMERIC = 0 | `0x31` |
//! | NUMERIC > 0 | `0x32`, then `exponent + 128` (1 byte), then digit pairs, then `0x00` |
//! | TEXT | `0x40`, then UTF-8 bytes with `0x00` escaped as `0x00 0xFF`, then `0x00 0x01` |
//! | BYTEA | `0x50`, then bytes escaped as for TEXT, then `0x00 0x01` |
//! | TIMESTAMP (µs since epoch) | `0x60`, then 8 bytes as for INTEGER |
//!
//! A positive NUMERIC is normalised to `0.d1 d2 ... dn × 10^exponent` with
//! `d1 != 0` and no trailing zero digit. Its digits are packed two per byte as
//! `10*d(2i-1) + d(2i) + 1` (an odd last digit pairs with 0), so every digit
//! byte lies in `1..=100` and the `0x00` terminator makes a shorter digit
//! string (a smaller number at equal exponent) sort first. A negative NUMERIC
//! inverts every byte of that form, so larger magnitudes sort first.
//!
//! # Row encoding
//!
//! `0x01` (format version), the column count as a LEB128 varint, then each
//! value as a one-byte tag and its payload:
//!
//! | value | tag | payload |
//! |---|---|---|
//! | NULL | `0` | none |
//! | false / true | `1` / `2` | none |
//! | INTEGER | `3` | zig-zag LEB128 varint |
//! | NUMERIC | `4` | scale (1 byte, 0..=28), then the 96-bit mantissa as zig-zag LEB128 of an i128 |
//! | TEXT | `5` | LEB128 length, UTF-8 bytes |
//! | BYTEA | `6` | LEB128 length, bytes |
//! | TIMESTAMP | `7` | zig-zag LEB128 varint |
//!
//! NUMERIC keeps its scale in a row (`1.50` stays `1.50`), as PostgreSQL does;
//! only keys normalise it.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;

use crate::error::{CodecError, StoreError};

/// A typed SQL value as the storage layer sees it.
///
/// The store does not interpret values beyond encoding them; type checking
/// and coercion belong to the SQL engine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Numeric(Decimal),
    Text(String),
    Bytes(Vec<u8>),
    /// Microseconds since 1970-01-01 00:00:00 UTC, no time zone.
    Timestamp(i64),
}

impl Value {
    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOLEAN",
            Value::Int(_) => "BIGINT",
            Value::Numeric(_) => "NUMERIC",
            Value::Text(_) => "TEXT",
            Value::Bytes(_) => "BYTEA",
            Value::Timestamp(_) => "TIMESTAMP",
        }
    }

    /// Total order matching the key encoding: NULL first, then by type tag,
    /// then by value. `Numeric` compares numerically (`1.5 == 1.50`).
    pub fn key_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Int(_) => 2,
                Value::Numeric(_) => 3,
                Value::Text(_) => 4,
                Value::Bytes(_) => 5,
                Value::Timestamp(_) => 6,
            }
        }
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Numeric(a), Value::Numeric(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Numeric(d) => write!(f, "{d}"),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("\\x")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            Value::Timestamp(t) => write!(f, "{t}us"),
        }
    }
}

const KEY_NULL: u8 = 0x05;
const KEY_BOOL: u8 = 0x10;
const KEY_INT: u8 = 0x20;
const KEY_NUM_NEG: u8 = 0x30;
const KEY_NUM_ZERO: u8 = 0x31;
const KEY_NUM_POS: u8 = 0x32;
const KEY_TEXT: u8 = 0x40;
const KEY_BYTES: u8 = 0x50;
const KEY_TIMESTAMP: u8 = 0x60;

/// Encodes a tuple of values as an order-preserving key.
pub fn encode_key(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 9);
    for v in values {
        encode_key_value(v, &mut out);
    }
    out
}

/// Appends the order-preserving encoding of one value to `out`.
pub fn encode_key_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(KEY_NULL),
        Value::Bool(b) => {
            out.push(KEY_BOOL);
            out.push(u8::from(*b));
        }
        Value::Int(i) => {
            out.push(KEY_INT);
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Numeric(d) => encode_key_numeric(*d, out),
        Value::Text(s) => {
            out.push(KEY_TEXT);
            encode_key_escaped(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(KEY_BYTES);
            encode_key_escaped(b, out);
        }
        Value::Timestamp(t) => {
            out.push(KEY_TIMESTAMP);
            out.extend_from_slice(&((*t as u64) ^ (1 << 63)).to_be_bytes());
        }
    }
}

fn encode_key_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    // Copies runs between zero bytes whole: keys are built on every point
    // read and write, and byte-at-a-time pushes regrew the buffer.
    out.reserve(bytes.len() + 2);
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=i]);
        out.push(0xFF);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&[0x00, 0x01]);
}

fn encode_key_numeric(d: Decimal, out: &mut Vec<u8>) {
    if d.is_zero() {
        out.push(KEY_NUM_ZERO);
        return;
    }
    let negative = d.is_sign_negative();
    // Decimal digits of |mantissa|, most significant first; value is
    // digits × 10^-scale.
    let digits: Vec<u8> = d.mantissa().unsigned_abs().to_string().bytes().map(|c| c - b'0').collect();
    let scale = d.scale() as i32;
    // 0.d1d2..dn × 10^exp  ==  d1d2..dn × 10^(exp - n)  ==  digits × 10^-scale
    let exponent = digits.len() as i32 - scale;
    let significant = {
        let mut end = digits.len();
        while end > 0 && digits[end - 1] == 0 {
            end -= 1;
        }
        &digits[..end]
    };
    let start = out.len();
    out.push(KEY_NUM_POS);
    // Mantissa has at most 29 digits and scale at most 28: exponent in -27..=29.
    out.push((exponent + 128) as u8);
    for pair in significant.chunks(2) {
        let hi = pair[0];
        let lo = pair.get(1).copied().unwrap_or(0);
        out.push(hi * 10 + lo + 1);
    }
    out.push(0x00);
    if negative {
        out[start] = KEY_NUM_NEG;
        for b in &mut out[start + 1..] {
            *b = !*b;
        }
    }
}

/// Decodes a key produced by [`encode_key`] back into its values.
///
/// NUMERIC values come back normalised (no trailing zeros). Any byte string
/// that is not a valid key gives [`CodecError`], never a panic.
pub fn decode_key(mut bytes: &[u8]) -> Result<Vec<Value>, StoreError> {
    let mut values = Vec::new();
    while !bytes.is_empty() {
        let (v, rest) = decode_key_value(bytes)?;
        values.push(v);
        bytes = rest;
    }
    Ok(values)
}

fn decode_key_value(bytes: &[u8]) -> Result<(Value, &[u8]), StoreError> {
    let (&tag, rest) = bytes.split_first().ok_or(CodecError::Truncated { what: "key tag" })?;
    match tag {
        KEY_NULL => Ok((Value::Null, rest)),
        KEY_BOOL => match rest.split_first() {
            Some((0, r)) => Ok((Value::Bool(false), r)),
            Some((1, r)) => Ok((Value::Bool(true), r)),
            Some((b, _)) => Err(CodecError::BadByte { what: "key boolean", expected: "0 or 1", got: *b }.into()),
            None => Err(CodecError::Truncated { what: "key boolean" }.into()),
        },
        KEY_INT | KEY_TIMESTAMP => {
            let raw: [u8; 8] = rest
                .get(..8)
                .ok_or(CodecError::Truncated { what: "key integer" })?
                .try_into()
                .map_err(|_| CodecError::Truncated { what: "key integer" })?;
            let v = (u64::from_be_bytes(raw) ^ (1 << 63)) as i64;
            let value = if tag == KEY_INT { Value::Int(v) } else { Value::Timestamp(v) };
            Ok((value, &rest[8..]))
        }
        KEY_NUM_ZERO => Ok((Value::Numeric(Decimal::ZERO), rest)),
        KEY_NUM_POS | KEY_NUM_NEG => decode_key_numeric(tag == KEY_NUM_NEG, rest),
        KEY_TEXT => {
            let (raw, rest) = decode_key_escaped(rest)?;
            let s = String::from_utf8(raw).map_err(|_| CodecError::BadUtf8)?;
            Ok((Value::Text(s), rest))
        }
        KEY_BYTES => {
            let (raw, rest) = decode_key_escaped(rest)?;
            Ok((Value::Bytes(raw), rest))
        }
        other => Err(CodecError::BadByte { what: "key tag", expected: "a key type tag", got: other }.into()),
    }
}

fn decode_key_escaped(bytes: &[u8]) -> Result<(Vec<u8>, &[u8]), StoreError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != 0 {
            out.push(b);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(0xFF) => {
                out.push(0);
                i += 2;
            }
            Some(0x01) => return Ok((out, &bytes[i + 2..])),
            Some(other) => {
                return Err(
                    CodecError::BadByte { what: "key string escape", expected: "0xFF or 0x01", got: *other }.into()
                )
            }
            None => break,
        }
    }
    Err(CodecError::Truncated { what: "key string" }.into())
}

fn decode_key_numeric(negative: bool, bytes: &[u8]) -> Result<(Value, &[u8]), StoreError> {
    let flip = |b: u8| if negative { !b } else { b };
    let exp_byte = flip(*bytes.first().ok_or(CodecError::Truncated { what: "key numeric exponent" })?);
    let exponent = exp_byte as i32 - 128;
    let mut digits: Vec<u8> = Vec::new();
    let mut i = 1;
    let mut last_pair = None;
    loop {
        let b = flip(*bytes.get(i).ok_or(CodecError::Truncated { what: "key numeric digits" })?);
        i += 1;
        if b == 0 {
            break;
        }
        if b > 100 {
            return Err(CodecError::BadByte { what: "key numeric digit pair", expected: "1..=100", got: b }.into());
        }
        let pair = b - 1;
        digits.push(pair / 10);
        digits.push(pair % 10);
        last_pair = Some(pair);
        if digits.len() > 40 {
            return Err(CodecError::OutOfRange { what: "key numeric digit count" }.into());
        }
    }
    // The encoder writes significant digits only: the first is never 0 and
    // the last pair is never "00". Another spelling of the same number
    // would be a second key for one value, sorted in the wrong place.
    if digits.first() == Some(&0) {
        return Err(CodecError::NonCanonical { what: "key numeric leading zero" }.into());
    }
    if last_pair == Some(0) {
        return Err(CodecError::NonCanonical { what: "key numeric trailing zero digits" }.into());
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        return Err(CodecError::OutOfRange { what: "key numeric without digits" }.into());
    }
    // value = digits × 10^(exponent - n)
    let n = digits.len() as i32;
    let shift = exponent - n;
    let mut mantissa: i128 = 0;
    for d in &digits {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(*d as i128))
            .ok_or(CodecError::OutOfRange { what: "key numeric mantissa" })?;
    }
    let (mantissa, scale) = if shift >= 0 {
        let factor = 10i128.checked_pow(shift as u32).ok_or(CodecError::OutOfRange { what: "key numeric exponent" })?;
        (mantissa.checked_mul(factor).ok_or(CodecError::OutOfRange { what: "key numeric mantissa" })?, 0u32)
    } else {
        (mantissa, (-shift) as u32)
    };
    let mut d = Decimal::try_from_i128_with_scale(mantissa, scale)
        .map_err(|_| CodecError::OutOfRange { what: "key numeric value" })?;
    if negative {
        d.set_sign_negative(true);
    }
    Ok((Value::Numeric(d), &bytes[i..]))
}

const ROW_VERSION: u8 = 0x01;
const ROW_NULL: u8 = 0;
const ROW_FALSE: u8 = 1;
const ROW_TRUE: u8 = 2;
const ROW_INT: u8 = 3;
const ROW_NUMERIC: u8 = 4;
const ROW_TEXT: u8 = 5;
const ROW_BYTES: u8 = 6;
const ROW_TIMESTAMP: u8 = 7;

/// Upper bound on the columns of a decoded row: a row claiming more is
/// rejected before anything is allocated for it.
pub const MAX_ROW_COLUMNS: usize = 1024;

/// Encodes a row canonically.
pub fn encode_row(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + values.len() * 9);
    out.push(ROW_VERSION);
    put_uvarint(&mut out, values.len() as u128);
    for v in values {
        match v {
            Value::Null => out.push(ROW_NULL),
            Value::Bool(false) => out.push(ROW_FALSE),
            Value::Bool(true) => out.push(ROW_TRUE),
            Value::Int(i) => {
                out.push(ROW_INT);
                put_uvarint(&mut out, zigzag(*i as i128));
            }
            Value::Numeric(d) => {
                out.push(ROW_NUMERIC);
                out.push(d.scale() as u8);
                put_uvarint(&mut out, zigzag(d.mantissa()));
            }
            Value::Text(s) => {
                out.push(ROW_TEXT);
                put_uvarint(&mut out, s.len() as u128);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(ROW_BYTES);
                put_uvarint(&mut out, b.len() as u128);
                out.extend_from_slice(b);
            }
            Value::Timestamp(t) => {
                out.push(ROW_TIMESTAMP);
                put_uvarint(&mut out, zigzag(*t as i128));
            }
        }
    }
    out
}

/// Decodes a row produced by [`encode_row`]. Rejects trailing bytes,
/// non-canonical varints and out-of-range values.
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>, StoreError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.byte("row version")?;
    if version != ROW_VERSION {
        return Err(CodecError::BadByte { what: "row version", expected: "0x01", got: version }.into());
    }
    let count = r.uvarint("row column count")?;
    if count > MAX_ROW_COLUMNS as u128 {
        return Err(CodecError::OutOfRange { what: "row column count" }.into());
    }
    let mut values = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let tag = r.byte("row value tag")?;
        let v = match tag {
            ROW_NULL => Value::Null,
            ROW_FALSE => Value::Bool(false),
            ROW_TRUE => Value::Bool(true),
            ROW_INT => Value::Int(
                i64::try_from(unzigzag(r.uvarint("row integer")?))
                    .map_err(|_| CodecError::OutOfRange { what: "row integer" })?,
            ),
            ROW_NUMERIC => {
                let scale = r.byte("row numeric scale")? as u32;
                let mantissa = unzigzag(r.uvarint("row numeric mantissa")?);
                Value::Numeric(
                    Decimal::try_from_i128_with_scale(mantissa, scale)
                        .map_err(|_| CodecError::OutOfRange { what: "row numeric" })?,
                )
            }
            ROW_TEXT => {
                let raw = r.lenbytes("row text")?;
                Value::Text(String::from_utf8(raw.to_vec()).map_err(|_| CodecError::BadUtf8)?)
            }
            ROW_BYTES => Value::Bytes(r.lenbytes("row bytes")?.to_vec()),
            ROW_TIMESTAMP => Value::Timestamp(
                i64::try_from(unzigzag(r.uvarint("row timestamp")?))
                    .map_err(|_| CodecError::OutOfRange { what: "row timestamp" })?,
            ),
            other => return Err(CodecError::BadByte { what: "row value tag", expected: "0..=7", got: other }.into()),
        };
        values.push(v);
    }
    if r.pos != bytes.len() {
        return Err(CodecError::TrailingBytes { count: bytes.len() - r.pos }.into());
    }
    Ok(values)
}

fn zigzag(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

fn unzigzag(v: u128) -> i128 {
    ((v >> 1) as i128) ^ -((v & 1) as i128)
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounds-checked cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(crate) fn byte(&mut self, what: &'static str) -> Result<u8, CodecError> {
        let b = *self.bytes.get(self.pos).ok_or(CodecError::Truncated { what })?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated { what })?;
        let s = self.bytes.get(self.pos..end).ok_or(CodecError::Truncated { what })?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a canonical (shortest-form) unsigned LEB128 varint of at most
    /// 128 bits.
    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u128, CodecError> {
        let mut v: u128 = 0;
        for i in 0..19 {
            let b = self.byte(what)?;
            let low = (b & 0x7F) as u128;
            if i == 18 && (b & 0x7F) > 0x03 {
                return Err(CodecError::OutOfRange { what });
            }
            v |= low << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(CodecError::NonCanonical { what });
                }
                return Ok(v);
            }
        }
        Err(CodecError::OutOfRange { what })
    }

    pub(crate) fn lenbytes(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.uvarint(what)?;
        let len = usize::try_from(len).map_err(|_| CodecError::OutOfRange { what })?;
        self.take(len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Value {
        Value::Numeric(Decimal::from_str(s).unwrap())
    }

    /// Golden vectors: these bytes are part of the consensus format. If one
    /// changes, every state root changes; do it only with a format version.
    #[test]
    fn key_golden_vectors() {
        let cases: Vec<(Value, &str)> = vec![
            (Value::Null, "05"),
            (Value::Bool(false), "1000"),
            (Value::Bool(true), "1001"),
            (Value::Int(0), "208000000000000000"),
            (Value::Int(-1), "207fffffffffffffff"),
            (Value::Int(1), "208000000000000001"),
            (Value::Int(i64::MIN), "200000000000000000"),
            (dec("0"), "31"),
            (dec("0.000"), "31"),
            (dec("1"), "32810b00"),
            (dec("1.50"), "32811000"),
            (dec("1.5"), "32811000"),
            (dec("123.45"), "32830d233300"),
            (dec("0.01"), "327f0b00"),
            (dec("-1"), "307ef4ff"),
            (Value::Text("".into()), "400001"),
            (Value::Text("ab".into()), "4061620001"),
            (Value::Bytes(vec![0, 1]), "5000ff010001"),
            (Value::Timestamp(0), "608000000000000000"),
        ];
        for (v, hex_bytes) in cases {
            assert_eq!(hex::encode(encode_key(std::slice::from_ref(&v))), hex_bytes, "key of {v:?}");
        }
    }

    #[test]
    fn row_golden_vectors() {
        let row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-2),
            dec("1.50"),
            Value::Text("hé".into()),
            Value::Bytes(vec![0xAB]),
            Value::Timestamp(1),
        ];
        assert_eq!(hex::encode(encode_row(&row)), "01070002030304 02ac02 050368c3a9 0601ab 0702".replace(' ', ""));
        assert_eq!(decode_row(&encode_row(&row)).unwrap(), row);
    }

    /// Issue 11, fuzzing (store_codec): `decode_key` took NUMERIC keys
    /// with a trailing "00" digit pair or a leading zero digit, other
    /// spellings of a number than `encode_key` writes, which sort in the
    /// wrong place (0.6 spelled "06" with exponent 1 sorted above 0.9).
    #[test]
    fn non_canonical_numeric_keys_are_errors() {
        // The fuzzer's input: 0, then 1.501010033 with a trailing "00" pair.
        let found = [0x31, 0x32, 0x81, 0x10, 0x02, 0x02, 0x01, 0x22, 0x01, 0x00];
        assert!(decode_key(&found).is_err());
        assert_eq!(
            decode_key(&[0x31, 0x32, 0x81, 0x10, 0x02, 0x02, 0x01, 0x22, 0x00]).unwrap(),
            vec![dec("0"), dec("1.501010033")]
        );
        for bad in [
            "32810b0100", // 1 with a "00" pair after it
            "32810700",   // 0.6 as "06" x 10^1, beside the canonical 32803d00
            "32810100",   // only a "00" pair
            "307ef4feff", // -1 with a "00" pair after it
        ] {
            let bytes = hex::decode(bad).unwrap();
            assert!(decode_key(&bytes).is_err(), "{bad} decoded as {:?}", decode_key(&bytes));
        }
        assert_eq!(decode_key(&hex::decode("32803d00").unwrap()).unwrap(), vec![dec("0.6")]);
    }

    #[test]
    fn bad_rows_are_errors() {
        for bad in [
            &[][..],
            &[0x02, 0x00],
            &[0x01, 0x01],
            &[0x01, 0x01, 0x09],
            &[0x01, 0x01, 0x05, 0x05, b'a'],
            &[0x01, 0x01, 0x05, 0x01, 0xFF],
            &[0x01, 0x00, 0x00],
            &[0x01, 0x80, 0x00],
            &[0x01, 0x01, 0x04, 29, 0x00],
        ] {
            assert!(decode_row(bad).is_err(), "{bad:?} decoded");
        }
    }

    fn arb_decimal() -> impl Strategy<Value = Decimal> {
        (any::<i64>(), 0u32..=18).prop_map(|(m, s)| Decimal::new(m, s))
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            arb_decimal().prop_map(Value::Numeric),
            (any::<u128>(), 0u32..=28).prop_map(|(m, s)| Value::Numeric(
                Decimal::try_from_i128_with_scale((m >> 32) as i128 - (1i128 << 95), s).unwrap()
            )),
            ".{0,12}".prop_map(Value::Text),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()], 0..10)
                .prop_map(Value::Bytes),
            any::<i64>().prop_map(Value::Timestamp),
        ]
    }

    proptest! {
        #[test]
        fn row_roundtrip(row in proptest::collection::vec(arb_value(), 0..8)) {
            prop_assert_eq!(decode_row(&encode_row(&row)).unwrap(), row);
        }

        #[test]
        fn row_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_row(&bytes);
            let _ = decode_key(&bytes);
        }

        #[test]
        fn key_roundtrip(key in proptest::collection::vec(arb_value(), 0..5)) {
            let decoded = decode_key(&encode_key(&key)).unwrap();
            prop_assert_eq!(decoded.len(), key.len());
            for (a, b) in decoded.iter().zip(&key) {
                prop_assert_eq!(a.key_cmp(b), Ordering::Equal);
            }
        }

        #[test]
        fn key_order_matches_value_order(a in arb_value(), b in arb_value()) {
            let ka = encode_key(std::slice::from_ref(&a));
            let kb = encode_key(std::slice::from_ref(&b));
            prop_assert_eq!(ka.cmp(&kb), a.key_cmp(&b), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn composite_key_order(a in proptest::collection::vec(arb_value(), 2), b in proptest::collection::vec(arb_value(), 2)) {
            let expected = a[0].key_cmp(&b[0]).then_with(|| a[1].key_cmp(&b[1]));
            prop_assert_eq!(encode_key(&a).cmp(&encode_key(&b)), expected);
        }

        #[test]
        fn numeric_keys_order(a in arb_decimal(), b in arb_decimal()) {
            let ka = encode_key(&[Value::Numeric(a)]);
            let kb = encode_key(&[Value::Numeric(b)]);
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }
    }
}
