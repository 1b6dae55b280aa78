//! The native token's amounts: an exact integer number of aer.
//!
//! 1 aergo = 10^9 gaer = 10^18 aer. The whole supply (5 * 10^26 aer) fits
//! easily in 128 bits, so an amount is a `u128` of aer and all arithmetic is
//! checked.
//!
//! Text: `"1.5 aergo"`, `"100 gaer"`, `"7 aer"`, or a bare integer (aer).
//! The unit may follow the number with or without a space and in any case
//! (as the Python SDK accepts). Parsing is exact: more decimals than the unit
//! has, a sign, an exponent or a value above 2^128-1 aer is an error.
//! Printing defaults to aergo with trailing zeros trimmed (`"1.5 aergo"`).
//!
//! Wire: the Go node stores amounts as minimal big-endian bytes of a
//! big.Int (zero is the empty string).

use crate::error::{Result, TypesError};
use crate::hash::truncate_for_error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Decimal places of each unit.
pub const AERGO_DECIMALS: u32 = 18;
pub const GAER_DECIMALS: u32 = 9;

/// An amount in aer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(u128);

/// The units amounts are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Aer,
    Gaer,
    Aergo,
}

impl Unit {
    pub fn decimals(self) -> u32 {
        match self {
            Unit::Aer => 0,
            Unit::Gaer => GAER_DECIMALS,
            Unit::Aergo => AERGO_DECIMALS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Aer => "aer",
            Unit::Gaer => "gaer",
            Unit::Aergo => "aergo",
        }
    }
}

/// Longest amount text accepted; u128 has 39 digits, so this leaves room
/// for a decimal point, spaces and the unit but bounds the work.
const MAX_TEXT_LEN: usize = 100;

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// One aergo: 10^18 aer.
    pub const ONE_AERGO: Amount = Amount(1_000_000_000_000_000_000);
    /// One gaer: 10^9 aer.
    pub const ONE_GAER: Amount = Amount(1_000_000_000);
    /// The token's total supply: 500,000,000 aergo (the Go node's `MaxAER`).
    pub const TOTAL_SUPPLY: Amount = Amount(500_000_000 * 1_000_000_000_000_000_000);

    pub const fn from_aer(aer: u128) -> Amount {
        Amount(aer)
    }

    pub const fn aer(self) -> u128 {
        self.0
    }

    /// `n` gaer; errors on overflow.
    pub fn from_gaer(n: u128) -> Result<Amount> {
        n.checked_mul(Amount::ONE_GAER.0)
            .map(Amount)
            .ok_or_else(|| TypesError::AmountOverflow { what: format!("{n} gaer") })
    }

    /// `n` aergo; errors on overflow.
    pub fn from_aergo(n: u128) -> Result<Amount> {
        n.checked_mul(Amount::ONE_AERGO.0)
            .map(Amount)
            .ok_or_else(|| TypesError::AmountOverflow { what: format!("{n} aergo") })
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_add(rhs.0).map(Amount)
    }

    pub fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_sub(rhs.0).map(Amount)
    }

    pub fn checked_mul(self, factor: u128) -> Option<Amount> {
        self.0.checked_mul(factor).map(Amount)
    }

    /// Minimal big-endian bytes, as Go's `big.Int.Bytes()` (zero is empty).
    pub fn to_be_bytes_minimal(self) -> Vec<u8> {
        let bytes = self.0.to_be_bytes();
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        bytes[first..].to_vec()
    }

    /// Reads big-endian bytes as Go's `big.Int.SetBytes` does (leading zeros
    /// allowed); errors if the value needs more than 128 bits.
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Amount> {
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let significant = &bytes[first..];
        if significant.len() > 16 {
            return Err(TypesError::AmountBytes { found: significant.len() });
        }
        let mut buf = [0u8; 16];
        buf[16 - significant.len()..].copy_from_slice(significant);
        Ok(Amount(u128::from_be_bytes(buf)))
    }

    /// Parses `"1.5 aergo"`, `"100 gaer"`, `"7 aer"`, `"7"` (aer).
    pub fn parse(input: &str) -> Result<Amount> {
        let fail =
            |reason: &str| TypesError::AmountParse { input: truncate_for_error(input), reason: reason.to_string() };
        if input.len() > MAX_TEXT_LEN {
            return Err(fail(&format!("{} characters, at most {MAX_TEXT_LEN} accepted", input.len())));
        }
        let lower = input.trim().to_ascii_lowercase();
        // "gaer" ends with "aer": test the longer units first.
        let (number, unit) = if let Some(n) = lower.strip_suffix("aergo") {
            (n, Unit::Aergo)
        } else if let Some(n) = lower.strip_suffix("gaer") {
            (n, Unit::Gaer)
        } else if let Some(n) = lower.strip_suffix("aer") {
            (n, Unit::Aer)
        } else {
            (lower.as_str(), Unit::Aer)
        };
        let number = number.trim();
        if number.is_empty() {
            return Err(fail("no number"));
        }
        if number.starts_with('-') {
            return Err(fail("amounts cannot be negative"));
        }
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (number, None),
        };
        let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        if !is_digits(int_part) {
            return Err(fail("expected digits, an optional '.' and digits, then an optional unit (aergo, gaer, aer)"));
        }
        let decimals = unit.decimals();
        let frac = match frac_part {
            None => "",
            Some(f) if is_digits(f) => f,
            Some(_) => return Err(fail("expected digits after the decimal point")),
        };
        let frac = frac.trim_end_matches('0');
        if frac.len() > decimals as usize {
            return Err(fail(&format!("too many decimals: {} has {decimals}", unit.name())));
        }
        let overflow = || TypesError::AmountOverflow { what: truncate_for_error(input) };
        let scale = 10u128.pow(decimals);
        let int_value: u128 = parse_digits(int_part).ok_or_else(overflow)?;
        let mut total = int_value.checked_mul(scale).ok_or_else(overflow)?;
        if !frac.is_empty() {
            let frac_value = parse_digits(frac).ok_or_else(overflow)?;
            let frac_scale = 10u128.pow(decimals - frac.len() as u32);
            total = total.checked_add(frac_value * frac_scale).ok_or_else(overflow)?;
        }
        Ok(Amount(total))
    }

    /// Formats in `unit`, trailing zeros trimmed: `"1.5 aergo"`, `"0 aer"`.
    pub fn format(self, unit: Unit) -> String {
        format!("{} {}", self.format_number(unit), unit.name())
    }

    /// The number alone in `unit`, trailing zeros trimmed: `"1.5"`.
    pub fn format_number(self, unit: Unit) -> String {
        let scale = 10u128.pow(unit.decimals());
        let int = self.0 / scale;
        let frac = self.0 % scale;
        if frac == 0 {
            return int.to_string();
        }
        let frac_str = format!("{:0width$}", frac, width = unit.decimals() as usize);
        format!("{int}.{}", frac_str.trim_end_matches('0'))
    }
}

/// Decimal digits (already checked to be ASCII digits) to u128, None on
/// overflow. Leading zeros are fine.
fn parse_digits(s: &str) -> Option<u128> {
    let mut v: u128 = 0;
    for c in s.bytes() {
        v = v.checked_mul(10)?.checked_add(u128::from(c - b'0'))?;
    }
    Some(v)
}

impl fmt::Display for Amount {
    /// In aergo: `"1.5 aergo"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(Unit::Aergo))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({} aer)", self.0)
    }
}

impl FromStr for Amount {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Amount> {
        Amount::parse(s)
    }
}

/// Serialized as the decimal integer of aer in a string (the Go node's
/// genesis balance form, lossless in JSON); deserialized from any text
/// [`Amount::parse`] accepts, or a JSON integer of aer.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Amount, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount such as \"1.5 aergo\", \"100 gaer\" or \"7\" (aer)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Amount, E> {
                Ok(Amount(u128::from(v)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn aer(s: &str) -> u128 {
        Amount::parse(s).unwrap().aer()
    }

    #[test]
    fn parses_units() {
        assert_eq!(aer("1.5 aergo"), 1_500_000_000_000_000_000);
        assert_eq!(aer("100 gaer"), 100_000_000_000);
        assert_eq!(aer("7 aer"), 7);
        assert_eq!(aer("7"), 7);
        assert_eq!(aer("  2 AERGO "), 2 * 10u128.pow(18));
        assert_eq!(aer("3aergo"), 3 * 10u128.pow(18));
        assert_eq!(aer("0.000000001 aergo"), 1_000_000_000);
        assert_eq!(aer("1.000000000000000001 aergo"), 10u128.pow(18) + 1);
        assert_eq!(aer("1.50000000000000000000000 aergo"), 15 * 10u128.pow(17));
        assert_eq!(aer("007 aer"), 7);
        assert_eq!(aer("500000000 aergo"), Amount::TOTAL_SUPPLY.aer());
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            " ",
            "aergo",
            "-1",
            "-1 aergo",
            "1.5",
            "1.5 aer",
            "0.0000000001 gaer",
            "1.0000000000000000001 aergo",
            "1e18",
            "1,000",
            "+1",
            "1.",
            ".5 aergo",
            "1.2.3 aergo",
            "1 eth",
            "0x10",
            "1 000",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!(
            Amount::parse("340282366920938463463374607431768211456"),
            Err(TypesError::AmountOverflow { .. })
        ));
        assert!(matches!(
            Amount::parse("340282366920938463463374607431768211456 aergo"),
            Err(TypesError::AmountOverflow { .. })
        ));
        assert!(Amount::parse(&"9".repeat(200)).is_err());
        // u128::MAX itself is fine in aer.
        assert_eq!(aer("340282366920938463463374607431768211455"), u128::MAX);
    }

    #[test]
    fn formats() {
        let a = Amount::parse("1.5 aergo").unwrap();
        assert_eq!(a.to_string(), "1.5 aergo");
        assert_eq!(a.format(Unit::Gaer), "1500000000 gaer");
        assert_eq!(a.format(Unit::Aer), "1500000000000000000 aer");
        assert_eq!(Amount::ZERO.to_string(), "0 aergo");
        assert_eq!(Amount::from_aer(1).to_string(), "0.000000000000000001 aergo");
        assert_eq!(Amount::from_aer(1).format(Unit::Gaer), "0.000000001 gaer");
        assert_eq!(Amount::TOTAL_SUPPLY.to_string(), "500000000 aergo");
    }

    #[test]
    fn wire_bytes_match_go_big_int() {
        assert_eq!(Amount::ZERO.to_be_bytes_minimal(), Vec::<u8>::new());
        assert_eq!(Amount::from_aer(1).to_be_bytes_minimal(), vec![1]);
        assert_eq!(Amount::from_aer(256).to_be_bytes_minimal(), vec![1, 0]);
        assert_eq!(Amount::from_be_bytes(&[0, 0, 1, 0]).unwrap().aer(), 256);
        assert_eq!(Amount::from_be_bytes(&[]).unwrap(), Amount::ZERO);
        assert!(matches!(Amount::from_be_bytes(&[1; 17]), Err(TypesError::AmountBytes { found: 17 })));
        let mut padded = vec![0u8; 30];
        padded.push(5);
        assert_eq!(Amount::from_be_bytes(&padded).unwrap().aer(), 5);
    }

    #[test]
    fn serde_forms() {
        let a: Amount = serde_json::from_str("\"1.5 aergo\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"1500000000000000000\"");
        let b: Amount = serde_json::from_str("\"1500000000000000000\"").unwrap();
        assert_eq!(a, b);
        let c: Amount = serde_json::from_str("42").unwrap();
        assert_eq!(c.aer(), 42);
        assert!(serde_json::from_str::<Amount>("\"-1\"").is_err());
        assert!(serde_json::from_str::<Amount>("-1").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trips_in_every_unit(v in any::<u128>()) {
            let a = Amount::from_aer(v);
            for unit in [Unit::Aer, Unit::Gaer, Unit::Aergo] {
                prop_assert_eq!(Amount::parse(&a.format(unit)).unwrap(), a);
            }
        }

        #[test]
        fn bytes_round_trip(v in any::<u128>()) {
            let a = Amount::from_aer(v);
            prop_assert_eq!(Amount::from_be_bytes(&a.to_be_bytes_minimal()).unwrap(), a);
        }

        #[test]
        fn parse_never_panics(s in ".{0,60}") {
            let _ = Amount::parse(&s);
        }
    }
}
