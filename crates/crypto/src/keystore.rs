//! Encrypted key storage compatible with the Go node and the Python SDK.
//!
//! **Key files** (the Go node's `account/key/crypto` "v1" strategy, also
//! the SDK's `export_account_to_keystore`): JSON
//!
//! ```json
//! {"aergo_address": "Am...", "ks_version": "1",
//!  "cipher": {"algorithm": "aes-128-ctr", "params": {"iv": "<hex 16 bytes>"},
//!             "ciphertext": "<hex>"},
//!  "kdf": {"algorithm": "scrypt",
//!          "params": {"dklen": 32, "n": 32768, "p": 1, "r": 8, "salt": "<hex>"},
//!          "mac": "<hex>"}}
//! ```
//!
//! The passphrase goes through scrypt to 32 bytes `dk`; the 32 key bytes
//! are encrypted with AES-128-CTR under `dk[0..16]` (the IV is the initial
//! 128-bit big-endian counter); `mac = SHA-256(dk[16..32] || ciphertext)`.
//! A directory holds one file per account named `<address>__keystore.txt`
//! (the Go node's naming), written with mode 0600 through a temporary file
//! and a rename. We write the Go node's parameters (n = 2^15, r = 8, p = 1,
//! 32-byte salt); tests may use cheaper ones ([`ScryptParams::insecure_fast`]).
//! Parameters read from a file are bounded before any work is done.
//!
//! **Exported keys** (`aergocli account export`/`import`, the SDK's
//! `export_account`): base58check with version 0xAA of
//! AES-256-GCM(key = SHA-256(p || SHA-256(p)), nonce = SHA-256(p)[4..16])
//! of the key bytes, where p is the passphrase. The nonce depends on the
//! passphrase only, so two different keys exported under one passphrase
//! reuse a GCM nonce and leak the XOR of the keys: we support the format
//! for compatibility, but key files are the safer way to move keys.
//!
//! Passphrases are never logged or put in errors.

use crate::error::{CryptoError, Result};
use crate::keys::{decode_base58check, PrivateKey, PRIVATE_KEY_VERSION};
use aergo_types::{Address, Hash};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ctr::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Suffix of key file names (after the base58 address).
pub const KEY_FILE_SUFFIX: &str = "__keystore.txt";
/// Largest key file read.
pub const KEY_FILE_MAX_BYTES: u64 = 64 * 1024;
/// Most key files a directory listing returns.
pub const KEYSTORE_MAX_FILES: usize = 100_000;

const KS_VERSION: &str = "1";
const CIPHER: &str = "aes-128-ctr";
const KDF: &str = "scrypt";
const DKLEN: usize = 32;
/// Bounds on untrusted scrypt parameters: at most 1 GiB of memory
/// (128 * n * r bytes) and 2^24 units of work (n * r * p).
const MAX_LOG_N: u8 = 20;
const MAX_SCRYPT_MEMORY_BYTES: u128 = 1 << 30;
const MAX_SCRYPT_WORK: u128 = 1 << 24;

/// scrypt cost parameters: n = 2^log_n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptParams {
    /// The Go node's parameters: n = 2^15, r = 8, p = 1.
    pub const GO_DEFAULT: ScryptParams = ScryptParams { log_n: 15, r: 8, p: 1 };

    /// n = 2^4: fast enough for unit tests, far too weak for real keys.
    pub fn insecure_fast() -> ScryptParams {
        ScryptParams { log_n: 4, r: 8, p: 1 }
    }

    fn check(&self) -> Result<scrypt::Params> {
        let bad = |reason: String| CryptoError::ScryptParams { reason };
        if self.log_n == 0 || self.log_n > MAX_LOG_N {
            return Err(bad(format!("n = 2^{} is outside 2^1..=2^{MAX_LOG_N}", self.log_n)));
        }
        if self.r == 0 || self.p == 0 {
            return Err(bad("r and p must be positive".to_string()));
        }
        let n = 1u128 << self.log_n;
        let memory = 128 * n * u128::from(self.r);
        if memory > MAX_SCRYPT_MEMORY_BYTES {
            return Err(bad(format!(
                "n = 2^{}, r = {} needs {memory} bytes, at most {MAX_SCRYPT_MEMORY_BYTES} allowed",
                self.log_n, self.r
            )));
        }
        let work = n * u128::from(self.r) * u128::from(self.p);
        if work > MAX_SCRYPT_WORK {
            return Err(bad(format!("n * r * p = {work}, at most {MAX_SCRYPT_WORK} allowed")));
        }
        scrypt::Params::new(self.log_n, self.r, self.p, DKLEN).map_err(|e| bad(format!("rejected by scrypt: {e}")))
    }

    fn derive(&self, passphrase: &str, salt: &[u8]) -> Result<[u8; DKLEN]> {
        let params = self.check()?;
        let mut dk = [0u8; DKLEN];
        scrypt::scrypt(passphrase.as_bytes(), salt, &params, &mut dk)
            .map_err(|e| CryptoError::ScryptParams { reason: format!("derivation failed: {e}") })?;
        Ok(dk)
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    aergo_address: String,
    ks_version: String,
    cipher: CipherJson,
    kdf: KdfJson,
}

#[derive(Serialize, Deserialize)]
struct CipherJson {
    algorithm: String,
    params: CipherParams,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParams {
    iv: String,
}

#[derive(Serialize, Deserialize)]
struct KdfJson {
    algorithm: String,
    params: KdfParams,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    dklen: u64,
    n: u64,
    p: u64,
    r: u64,
    salt: String,
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| CryptoError::Random { reason: e.to_string() })?;
    Ok(b)
}

fn mac(dk: &[u8; DKLEN], ciphertext: &[u8]) -> Hash {
    Hash::sha256_parts(&[&dk[16..32], ciphertext])
}

fn ctr_xor(dk: &[u8; DKLEN], iv: &[u8; 16], data: &mut [u8]) {
    let mut cipher = Aes128Ctr::new(dk[..16].into(), iv.into());
    cipher.apply_keystream(data);
}

/// Equal-time comparison, so a MAC check does not leak how many leading
/// bytes matched.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Encrypts `key` into key file JSON (the Go node's v1 format).
pub fn encrypt_key(key: &PrivateKey, passphrase: &str, params: ScryptParams) -> Result<String> {
    let salt: [u8; 32] = random_bytes()?;
    let iv: [u8; 16] = random_bytes()?;
    let dk = params.derive(passphrase, &salt)?;
    let mut ciphertext = key.to_bytes();
    ctr_xor(&dk, &iv, &mut ciphertext);
    let file = KeyFile {
        aergo_address: key.address().to_string(),
        ks_version: KS_VERSION.to_string(),
        cipher: CipherJson {
            algorithm: CIPHER.to_string(),
            params: CipherParams { iv: hex::encode(iv) },
            ciphertext: hex::encode(ciphertext),
        },
        kdf: KdfJson {
            algorithm: KDF.to_string(),
            params: KdfParams {
                dklen: DKLEN as u64,
                n: 1u64 << params.log_n,
                p: u64::from(params.p),
                r: u64::from(params.r),
                salt: hex::encode(salt),
            },
            mac: mac(&dk, &ciphertext).to_hex(),
        },
    };
    serde_json::to_string_pretty(&file).map_err(|e| CryptoError::KeystoreFormat {
        what: "key file".to_string(),
        reason: format!("cannot serialize: {e}"),
    })
}

fn format_err(reason: impl Into<String>) -> CryptoError {
    CryptoError::KeystoreFormat { what: "key file".to_string(), reason: reason.into() }
}

fn hex_field(name: &str, value: &str, min: usize, max: usize) -> Result<Vec<u8>> {
    if value.len() > 2 * max {
        return Err(format_err(format!("{name} is longer than {max} bytes")));
    }
    let b = hex::decode(value).map_err(|e| format_err(format!("{name} is not hex: {e}")))?;
    if b.len() < min {
        return Err(format_err(format!("{name} is {} bytes, at least {min} expected", b.len())));
    }
    Ok(b)
}

/// Decrypts key file JSON; checks the MAC (wrong passphrase) and that the
/// key matches the file's address.
pub fn decrypt_key(json: &str, passphrase: &str) -> Result<PrivateKey> {
    if json.len() as u64 > KEY_FILE_MAX_BYTES {
        return Err(format_err(format!("{} bytes is too large", json.len())));
    }
    let file: KeyFile = serde_json::from_str(json).map_err(|e| format_err(format!("invalid JSON: {e}")))?;
    if file.ks_version != KS_VERSION {
        return Err(format_err(format!("ks_version {:?}, only \"1\" is supported", file.ks_version)));
    }
    if file.cipher.algorithm != CIPHER {
        return Err(format_err(format!("cipher {:?}, only {CIPHER} is supported", file.cipher.algorithm)));
    }
    if file.kdf.algorithm != KDF {
        return Err(format_err(format!("kdf {:?}, only {KDF} is supported", file.kdf.algorithm)));
    }
    let kp = &file.kdf.params;
    if kp.dklen != DKLEN as u64 {
        return Err(format_err(format!("dklen {}, expected 32", kp.dklen)));
    }
    if !kp.n.is_power_of_two() || kp.n < 2 {
        return Err(CryptoError::ScryptParams { reason: format!("n = {} is not a power of two above 1", kp.n) });
    }
    let params = ScryptParams {
        log_n: kp.n.trailing_zeros() as u8,
        r: u32::try_from(kp.r)
            .map_err(|_| CryptoError::ScryptParams { reason: format!("r = {} is too large", kp.r) })?,
        p: u32::try_from(kp.p)
            .map_err(|_| CryptoError::ScryptParams { reason: format!("p = {} is too large", kp.p) })?,
    };
    params.check()?;
    let salt = hex_field("salt", &kp.salt, 8, 64)?;
    let iv: [u8; 16] =
        hex_field("iv", &file.cipher.params.iv, 16, 16)?.try_into().map_err(|_| format_err("iv must be 16 bytes"))?;
    let mut data = hex_field("ciphertext", &file.cipher.ciphertext, 1, 32)?;
    let stored_mac = hex_field("mac", &file.kdf.mac, 32, 32)?;
    let address = Address::parse(&file.aergo_address)?;

    let dk = params.derive(passphrase, &salt)?;
    if !same_bytes(mac(&dk, &data).as_bytes(), &stored_mac) {
        return Err(CryptoError::WrongPassphrase);
    }
    ctr_xor(&dk, &iv, &mut data);
    let key = PrivateKey::from_bytes(&data)?;
    if key.address() != address {
        return Err(format_err(format!("the decrypted key belongs to {}, the file says {address}", key.address())));
    }
    Ok(key)
}

fn export_cipher(passphrase: &str) -> (Aes256Gcm, [u8; 12]) {
    let h = Hash::sha256(passphrase.as_bytes());
    let k = Hash::sha256_parts(&[passphrase.as_bytes(), h.as_bytes()]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&h.as_bytes()[4..16]);
    (Aes256Gcm::new(k.as_bytes().into()), nonce)
}

/// The exported-key text of `key` (see the module docs for its weakness).
pub fn export_key(key: &PrivateKey, passphrase: &str) -> Result<String> {
    let (cipher, nonce) = export_cipher(passphrase);
    // AES-GCM only fails on plaintexts over 64 GiB; 32 bytes cannot.
    let sealed = cipher.encrypt(Nonce::from_slice(&nonce), key.to_bytes().as_slice()).map_err(|_| {
        CryptoError::KeystoreFormat {
            what: "exported key".to_string(),
            reason: "AES-GCM encryption failed".to_string(),
        }
    })?;
    Ok(bs58::encode(sealed).with_check_version(PRIVATE_KEY_VERSION).into_string())
}

/// Decrypts exported-key text (Go `aergocli account export`, SDK
/// `export_account`).
pub fn import_exported_key(text: &str, passphrase: &str) -> Result<PrivateKey> {
    let sealed = decode_base58check(text, PRIVATE_KEY_VERSION, "exported key")?;
    // 1..=32 key bytes (the SDK drops leading zeros) plus a 16-byte tag.
    if !(17..=48).contains(&sealed.len()) {
        return Err(CryptoError::Length {
            what: "exported key",
            expected: "17..=48 bytes (key and GCM tag)".to_string(),
            found: sealed.len(),
        });
    }
    let (cipher, nonce) = export_cipher(passphrase);
    let plain = cipher.decrypt(Nonce::from_slice(&nonce), sealed.as_slice()).map_err(|_| CryptoError::ExportDecrypt)?;
    PrivateKey::from_bytes(&plain)
}

/// A directory of key files.
#[derive(Clone, Debug)]
pub struct Keystore {
    dir: PathBuf,
    params: ScryptParams,
}

impl Keystore {
    /// Opens (creating if needed) the key directory `dir`; new files use the
    /// Go node's scrypt parameters.
    pub fn open(dir: impl AsRef<Path>) -> Result<Keystore> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| CryptoError::Io { path: dir.display().to_string(), source })?;
        Ok(Keystore { dir, params: ScryptParams::GO_DEFAULT })
    }

    /// Uses `params` for files written from now on.
    pub fn with_scrypt_params(mut self, params: ScryptParams) -> Keystore {
        self.params = params;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `address`'s key.
    pub fn path_of(&self, address: &Address) -> PathBuf {
        self.dir.join(format!("{address}{KEY_FILE_SUFFIX}"))
    }

    /// Generates a key, stores it under `passphrase`, returns its address.
    pub fn new_account(&self, passphrase: &str) -> Result<Address> {
        let key = PrivateKey::generate()?;
        self.import(&key, passphrase)
    }

    /// Stores `key` under `passphrase`; refuses to overwrite an existing
    /// file for the same address.
    pub fn import(&self, key: &PrivateKey, passphrase: &str) -> Result<Address> {
        let address = key.address();
        let path = self.path_of(&address);
        if path.exists() {
            return Err(CryptoError::KeyExists { address: address.to_string() });
        }
        let json = encrypt_key(key, passphrase, self.params)?;
        write_private_file(&self.dir, &path, json.as_bytes())?;
        Ok(address)
    }

    /// Decrypts the key of `address`.
    pub fn load(&self, address: &Address, passphrase: &str) -> Result<PrivateKey> {
        let path = self.path_of(address);
        if !path.exists() {
            return Err(CryptoError::KeyNotFound { address: address.to_string() });
        }
        let json = read_bounded(&path)?;
        decrypt_key(&json, passphrase)
    }

    /// The exported-key text of `address`'s key: decrypted with
    /// `passphrase`, re-encrypted with `export_passphrase`.
    pub fn export(&self, address: &Address, passphrase: &str, export_passphrase: &str) -> Result<String> {
        let key = self.load(address, passphrase)?;
        export_key(&key, export_passphrase)
    }

    /// The key file JSON of `address` as stored (already encrypted).
    pub fn export_file(&self, address: &Address) -> Result<String> {
        let path = self.path_of(address);
        if !path.exists() {
            return Err(CryptoError::KeyNotFound { address: address.to_string() });
        }
        read_bounded(&path)
    }

    /// The addresses with a key file here, sorted. Files whose name is not
    /// `<valid address>__keystore.txt` are ignored.
    pub fn list(&self) -> Result<Vec<Address>> {
        let io = |source| CryptoError::Io { path: self.dir.display().to_string(), source };
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(addr) = name.strip_suffix(KEY_FILE_SUFFIX) else {
                continue;
            };
            if let Ok(a) = Address::parse(addr) {
                if a.is_account() {
                    if out.len() >= KEYSTORE_MAX_FILES {
                        return Err(CryptoError::KeystoreFormat {
                            what: self.dir.display().to_string(),
                            reason: format!("more than {KEYSTORE_MAX_FILES} key files"),
                        });
                    }
                    out.push(a);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn read_bounded(path: &Path) -> Result<String> {
    let io = |source| CryptoError::Io { path: path.display().to_string(), source };
    let len = fs::metadata(path).map_err(io)?.len();
    if len > KEY_FILE_MAX_BYTES {
        return Err(CryptoError::KeystoreFormat {
            what: path.display().to_string(),
            reason: format!("{len} bytes, at most {KEY_FILE_MAX_BYTES} expected"),
        });
    }
    fs::read_to_string(path).map_err(io)
}

/// Writes `bytes` to `path` readable by the owner only, through a temporary
/// file in the same directory and a rename, so a crash leaves either no
/// file or a whole one.
fn write_private_file(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let suffix: [u8; 8] = random_bytes()?;
    let tmp = dir.join(format!(".tmp-{}", hex::encode(suffix)));
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| CryptoError::Io { path: p, source }
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        // Best effort: the temporary file is useless after a failure.
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_wrong_passphrase() {
        let key = PrivateKey::generate().unwrap();
        let json = encrypt_key(&key, "secret", ScryptParams::insecure_fast()).unwrap();
        assert!(!json.contains("secret"));
        assert_eq!(decrypt_key(&json, "secret").unwrap(), key);
        assert!(matches!(decrypt_key(&json, "wrong"), Err(CryptoError::WrongPassphrase)));
    }

    #[test]
    fn tampered_and_hostile_files_are_rejected() {
        let key = PrivateKey::generate().unwrap();
        let json = encrypt_key(&key, "pw", ScryptParams::insecure_fast()).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();

        let mut other_addr = v.clone();
        other_addr["aergo_address"] = PrivateKey::generate().unwrap().address().to_string().into();
        assert!(decrypt_key(&other_addr.to_string(), "pw").is_err());

        let mut huge_n = v.clone();
        huge_n["kdf"]["params"]["n"] = (1u64 << 40).into();
        assert!(matches!(decrypt_key(&huge_n.to_string(), "pw"), Err(CryptoError::ScryptParams { .. })));
        let mut odd_n = v.clone();
        odd_n["kdf"]["params"]["n"] = 1000.into();
        assert!(decrypt_key(&odd_n.to_string(), "pw").is_err());
        let mut big_p = v.clone();
        big_p["kdf"]["params"]["p"] = (1u64 << 30).into();
        assert!(decrypt_key(&big_p.to_string(), "pw").is_err());

        let mut bad_cipher = v.clone();
        bad_cipher["cipher"]["algorithm"] = "aes-256-cbc".into();
        assert!(decrypt_key(&bad_cipher.to_string(), "pw").is_err());

        let ct = v["cipher"]["ciphertext"].as_str().unwrap().to_string();
        let flipped = format!("{}{}", if &ct[..1] == "0" { "1" } else { "0" }, &ct[1..]);
        v["cipher"]["ciphertext"] = flipped.into();
        assert!(matches!(decrypt_key(&v.to_string(), "pw"), Err(CryptoError::WrongPassphrase)));

        assert!(decrypt_key("{", "pw").is_err());
        assert!(decrypt_key(&"x".repeat(100_000), "pw").is_err());
    }

    #[test]
    fn exported_key_round_trip() {
        let key = PrivateKey::generate().unwrap();
        let text = export_key(&key, "pass").unwrap();
        assert_eq!(import_exported_key(&text, "pass").unwrap(), key);
        assert!(matches!(import_exported_key(&text, "nope"), Err(CryptoError::ExportDecrypt)));
        assert!(import_exported_key("garbage", "pass").is_err());
        assert!(import_exported_key(&key.to_base58check(), "pass").is_err());
    }

    #[test]
    fn directory_store() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path().join("keystore")).unwrap().with_scrypt_params(ScryptParams::insecure_fast());
        assert!(ks.list().unwrap().is_empty());
        let a = ks.new_account("one").unwrap();
        let key = PrivateKey::generate().unwrap();
        let b = ks.import(&key, "two").unwrap();
        assert!(matches!(ks.import(&key, "two"), Err(CryptoError::KeyExists { .. })));
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(ks.list().unwrap(), expected);
        assert_eq!(ks.load(&b, "two").unwrap(), key);
        assert!(matches!(ks.load(&b, "one"), Err(CryptoError::WrongPassphrase)));
        let missing = PrivateKey::generate().unwrap().address();
        assert!(matches!(ks.load(&missing, "x"), Err(CryptoError::KeyNotFound { .. })));
        let exported = ks.export(&b, "two", "moving").unwrap();
        assert_eq!(import_exported_key(&exported, "moving").unwrap(), key);
        assert_eq!(decrypt_key(&ks.export_file(&b).unwrap(), "two").unwrap(), key);
        // Stray files are ignored.
        fs::write(ks.dir().join("notes.txt"), "hi").unwrap();
        fs::write(ks.dir().join(format!("bogus{KEY_FILE_SUFFIX}")), "{}").unwrap();
        assert_eq!(ks.list().unwrap().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(ks.path_of(&a)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
