//! Addresses as the Go node defines them.
//!
//! On the wire an address is a byte string:
//! - an *account* is its 33-byte compressed secp256k1 public key
//!   (first byte 0x02 or 0x03);
//! - a *contract* is 0x0C followed by SHA-256(creator bytes || decimal nonce),
//!   also 33 bytes, as the Go node's `CreateContractID` derives it;
//! - a *name* is a short ASCII string: a user name of up to 12 characters
//!   `[a-z0-9]`, or one of the system contracts (`aergo.system`,
//!   `aergo.name`, `aergo.enterprise`, `aergo.vault`).
//!
//! In text, 33-byte addresses are base58check with version byte 0x42 (the
//! 52-character "Am..." form); names are written as themselves.

use crate::error::{Result, TypesError};
use crate::hash::{truncate_for_error, Hash};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Version byte of base58check addresses.
pub const ADDRESS_VERSION: u8 = 0x42;
/// Length of account and contract addresses in bytes.
pub const ADDRESS_LENGTH: usize = 33;
/// Longest user name, in bytes (the Go node's `NameLength`).
pub const NAME_MAX_LENGTH: usize = 12;
/// First byte of a contract address.
pub const CONTRACT_PREFIX: u8 = 0x0C;

/// The system contracts' names, addressable without a key.
pub const SYSTEM_NAMES: [&str; 6] =
    ["aergo.system", "aergo.name", "aergo.enterprise", "aergo.vault", "aergo.branch", "aergo.fs"];
pub const AERGO_SYSTEM: &str = "aergo.system";
pub const AERGO_NAME: &str = "aergo.name";
pub const AERGO_ENTERPRISE: &str = "aergo.enterprise";
pub const AERGO_VAULT: &str = "aergo.vault";
/// This node's own system contract (not in the Go node): the registry of
/// the chain's branches and tags, and merges.
pub const AERGO_BRANCH: &str = "aergo.branch";
/// This node's own system contract (not in the Go node): the on-chain
/// registry of AergoFS files, which contracts reference by hash.
pub const AERGO_FS: &str = "aergo.fs";

/// An account, contract or name address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A 33-byte compressed secp256k1 public key (0x02/0x03 prefix).
    Account([u8; ADDRESS_LENGTH]),
    /// A contract: 0x0C followed by a 32-byte hash.
    Contract([u8; ADDRESS_LENGTH]),
    /// A user name or system contract name.
    Name(String),
}

impl Address {
    /// Interprets wire bytes (a tx's account/recipient field, a receipt's
    /// contract address).
    pub fn from_bytes(bytes: &[u8]) -> Result<Address> {
        if bytes.len() == ADDRESS_LENGTH {
            let mut arr = [0u8; ADDRESS_LENGTH];
            arr.copy_from_slice(bytes);
            return match arr[0] {
                0x02 | 0x03 => Ok(Address::Account(arr)),
                CONTRACT_PREFIX => Ok(Address::Contract(arr)),
                other => Err(TypesError::AddressPrefix { found: other }),
            };
        }
        if bytes.is_empty() || bytes.len() > NAME_MAX_LENGTH && !is_system_name_bytes(bytes) {
            return Err(TypesError::AddressLength { expected: ADDRESS_LENGTH, found: bytes.len() });
        }
        let name = std::str::from_utf8(bytes).map_err(|_| TypesError::AddressName {
            name: String::from_utf8_lossy(bytes).into_owned(),
            reason: "names are ASCII",
        })?;
        Address::name(name)
    }

    /// A name address, checked against the Go node's rules.
    pub fn name(name: &str) -> Result<Address> {
        validate_name(name)?;
        Ok(Address::Name(name.to_string()))
    }

    /// An account address from a compressed public key.
    pub fn account(compressed_pubkey: [u8; ADDRESS_LENGTH]) -> Result<Address> {
        match compressed_pubkey[0] {
            0x02 | 0x03 => Ok(Address::Account(compressed_pubkey)),
            other => Err(TypesError::AddressPrefix { found: other }),
        }
    }

    /// The address of the contract deployed by `creator` with tx nonce
    /// `nonce`, as the Go node's `CreateContractID` computes it:
    /// `0x0C || SHA-256(creator bytes || nonce in decimal ASCII)`.
    pub fn contract_from(creator: &Address, nonce: u64) -> Address {
        let digest = Hash::sha256_parts(&[creator.as_bytes(), nonce.to_string().as_bytes()]);
        let mut arr = [0u8; ADDRESS_LENGTH];
        arr[0] = CONTRACT_PREFIX;
        arr[1..].copy_from_slice(digest.as_bytes());
        Address::Contract(arr)
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Address::Account(b) | Address::Contract(b) => b,
            Address::Name(n) => n.as_bytes(),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    pub fn is_account(&self) -> bool {
        matches!(self, Address::Account(_))
    }

    pub fn is_contract(&self) -> bool {
        matches!(self, Address::Contract(_))
    }

    pub fn is_name(&self) -> bool {
        matches!(self, Address::Name(_))
    }

    /// True for the system contracts' names (`aergo.system`, ...).
    pub fn is_system(&self) -> bool {
        matches!(self, Address::Name(n) if SYSTEM_NAMES.contains(&n.as_str()))
    }

    /// The compressed public key of an account address.
    pub fn account_key(&self) -> Option<&[u8; ADDRESS_LENGTH]> {
        match self {
            Address::Account(k) => Some(k),
            _ => None,
        }
    }

    /// Parses the text form: a base58check "Am..." string or a name.
    pub fn parse(s: &str) -> Result<Address> {
        if s.len() <= NAME_MAX_LENGTH || SYSTEM_NAMES.contains(&s) {
            return Address::name(s);
        }
        // 1 version byte + 33 bytes + 4 checksum bytes encode in 52 digits;
        // anything far longer is refused before decoding.
        if s.len() > 60 {
            return Err(TypesError::AddressBase58 {
                input: truncate_for_error(s),
                reason: format!("{} characters, expected 52", s.len()),
            });
        }
        let raw = bs58::decode(s)
            .into_vec()
            .map_err(|e| TypesError::AddressBase58 { input: s.to_string(), reason: e.to_string() })?;
        if raw.len() < 5 {
            return Err(TypesError::AddressLength { expected: ADDRESS_LENGTH, found: raw.len().saturating_sub(5) });
        }
        let (body, checksum) = raw.split_at(raw.len() - 4);
        let digest = Hash::sha256(Hash::sha256(body).as_bytes());
        if &digest.as_bytes()[..4] != checksum {
            return Err(TypesError::AddressChecksum { input: s.to_string() });
        }
        if body[0] != ADDRESS_VERSION {
            return Err(TypesError::AddressVersion { input: s.to_string(), found: body[0] });
        }
        let payload = &body[1..];
        if payload.len() != ADDRESS_LENGTH {
            return Err(TypesError::AddressLength { expected: ADDRESS_LENGTH, found: payload.len() });
        }
        Address::from_bytes(payload)
    }
}

fn is_system_name_bytes(b: &[u8]) -> bool {
    SYSTEM_NAMES.iter().any(|n| n.as_bytes() == b)
}

fn validate_name(name: &str) -> Result<()> {
    if SYSTEM_NAMES.contains(&name) {
        return Ok(());
    }
    let err = |reason| Err(TypesError::AddressName { name: truncate_for_error(name), reason });
    if name.is_empty() {
        return err("empty");
    }
    if name.len() > NAME_MAX_LENGTH {
        return err("longer than 12 characters and not a system contract name");
    }
    if !name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return err("only a-z and 0-9 are allowed");
    }
    Ok(())
}

/// Base58check with version 0x42 of a 33-byte payload.
fn encode_base58check(payload: &[u8]) -> String {
    bs58::encode(payload).with_check_version(ADDRESS_VERSION).into_string()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Account(b) | Address::Contract(b) => f.write_str(&encode_base58check(b)),
            Address::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Account(_) => write!(f, "Account({self})"),
            Address::Contract(_) => write!(f, "Contract({self})"),
            Address::Name(n) => write!(f, "Name({n})"),
        }
    }
}

impl FromStr for Address {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Address> {
        Address::parse(s)
    }
}

/// Ordered by wire bytes, so sorted address lists are the same whatever
/// their kinds.
impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The Go node's mainnet genesis funds this address.
    const MAINNET_GENESIS_ADDR: &str = "AmLrV7tg69KE5ZQehkjGiA7yJyDxJ25uyF96PMRptfzwozhAJbaK";

    #[test]
    fn parses_and_prints_the_mainnet_genesis_address() {
        let a = Address::parse(MAINNET_GENESIS_ADDR).unwrap();
        assert!(a.is_account());
        assert_eq!(a.to_string(), MAINNET_GENESIS_ADDR);
        assert_eq!(a.to_string().len(), 52);
        assert_eq!(Address::from_bytes(a.as_bytes()).unwrap(), a);
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let mut s = MAINNET_GENESIS_ADDR.to_string();
        // change the last character to another valid base58 digit
        let last = s.pop().unwrap();
        s.push(if last == 'K' { 'L' } else { 'K' });
        assert!(matches!(Address::parse(&s), Err(TypesError::AddressChecksum { .. })));
    }

    #[test]
    fn bad_version_is_rejected() {
        let a = Address::parse(MAINNET_GENESIS_ADDR).unwrap();
        let s = bs58::encode(a.as_bytes()).with_check_version(0x43).into_string();
        assert!(matches!(Address::parse(&s), Err(TypesError::AddressVersion { found: 0x43, .. })));
    }

    #[test]
    fn bad_length_is_rejected() {
        let s = bs58::encode([0x02u8; 20]).with_check_version(ADDRESS_VERSION).into_string();
        assert!(matches!(Address::parse(&s), Err(TypesError::AddressLength { expected: 33, found: 20 })));
        assert!(Address::parse(&"A".repeat(500)).is_err());
        assert!(Address::parse("0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIlxx").is_err());
    }

    #[test]
    fn bad_prefix_is_rejected() {
        let mut b = [7u8; 33];
        b[0] = 0x04;
        assert!(matches!(Address::from_bytes(&b), Err(TypesError::AddressPrefix { found: 0x04 })));
    }

    #[test]
    fn names() {
        assert!(Address::parse("aergo.system").unwrap().is_system());
        assert!(Address::parse("aergo.enterprise").unwrap().is_system());
        let n = Address::parse("abcdefghij12").unwrap();
        assert!(n.is_name() && !n.is_system());
        assert_eq!(Address::from_bytes(b"abcdefghij12").unwrap(), n);
        assert!(Address::parse("Upper").is_err());
        assert!(Address::parse("").is_err());
        assert!(Address::from_bytes(b"").is_err());
        assert!(Address::from_bytes(b"way.too.long.name.here").is_err());
        assert!(Address::from_bytes(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn contract_address_follows_create_contract_id() {
        let creator = Address::parse(MAINNET_GENESIS_ADDR).unwrap();
        let c = Address::contract_from(&creator, 7);
        assert!(c.is_contract());
        let mut expected = vec![CONTRACT_PREFIX];
        expected.extend_from_slice(Hash::sha256_parts(&[creator.as_bytes(), b"7"]).as_bytes());
        assert_eq!(c.as_bytes(), &expected[..]);
        let text = c.to_string();
        assert_eq!(Address::parse(&text).unwrap(), c);
    }

    #[test]
    fn serde_is_the_text_form() {
        let a = Address::parse(MAINNET_GENESIS_ADDR).unwrap();
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(j, format!("\"{MAINNET_GENESIS_ADDR}\""));
        assert_eq!(serde_json::from_str::<Address>(&j).unwrap(), a);
    }

    proptest! {
        #[test]
        fn account_text_round_trips(prefix in 2u8..=3, rest in proptest::array::uniform32(any::<u8>())) {
            let mut b = [0u8; 33];
            b[0] = prefix;
            b[1..].copy_from_slice(&rest);
            let a = Address::account(b).unwrap();
            let s = a.to_string();
            prop_assert_eq!(s.len() >= 50 && s.len() <= 53, true);
            prop_assert_eq!(Address::parse(&s).unwrap(), a);
        }

        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = Address::parse(&s);
        }

        #[test]
        fn from_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Address::from_bytes(&b);
        }
    }
}
