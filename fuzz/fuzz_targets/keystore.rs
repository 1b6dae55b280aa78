//! Key material a user is handed: a keystore file (the Go node's JSON
//! format, scrypt + AES-128-CTR) and an exported key (base58check, AES-GCM),
//! both decrypted with a fixed passphrase, and the address text they carry.
#![no_main]

use aergo_crypto::{decrypt_key, import_exported_key, ScryptParams};
use libfuzzer_sys::fuzz_target;

const PASSPHRASE: &str = "fuzz";

/// scrypt work (n * r * p) above which the harness does not derive: the
/// library accepts up to 2^24 (about a second and up to 1 GiB, a real key
/// file's cost), which would only slow the fuzzer down. Work beyond the
/// library's own limit is still run, since it is refused before deriving.
const MAX_FUZZ_WORK: u128 = 1 << 12;
const LIBRARY_MAX_WORK: u128 = 1 << 24;

fn scrypt_work(text: &str) -> Option<u128> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let p = &v["kdf"]["params"];
    let n = u128::from(p["n"].as_u64()?);
    Some(n * u128::from(p["r"].as_u64()?) * u128::from(p["p"].as_u64()?))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let affordable = match scrypt_work(text) {
        Some(work) => work <= MAX_FUZZ_WORK || work > LIBRARY_MAX_WORK,
        None => true,
    };
    if affordable {
        if let Ok(key) = decrypt_key(text, PASSPHRASE) {
            // What decrypts re-encrypts to a file that decrypts to it.
            let file = aergo_crypto::encrypt_key(&key, PASSPHRASE, ScryptParams::insecure_fast()).unwrap();
            assert_eq!(decrypt_key(&file, PASSPHRASE).unwrap().to_bytes(), key.to_bytes());
        }
    }
    if let Ok(key) = import_exported_key(text, PASSPHRASE) {
        let again = aergo_crypto::export_key(&key, PASSPHRASE).unwrap();
        assert_eq!(import_exported_key(&again, PASSPHRASE).unwrap().to_bytes(), key.to_bytes());
    }
    if let Ok(a) = aergo_types::Address::parse(text) {
        assert_eq!(aergo_types::Address::parse(&a.to_string()), Ok(a));
    }
});
