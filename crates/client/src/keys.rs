//! Which key signs, and where its passphrase comes from.
//!
//! A signing key is found, in order: the `--key` text (hex or the SDKs'
//! base58check form); the deterministic dev accounts (`dev:N`, or an
//! address that is one of them); the encrypted keystore, unlocked with a
//! passphrase from `--password`, `AERGO_PASSWORD`, or a prompt when stdin
//! is a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use aergo_crypto::{dev_key, Keystore, PrivateKey, DEV_ACCOUNT_LABEL};
use aergo_node::DEV_ACCOUNTS;
use aergo_types::Address;

use crate::error::{CliError, Result};

/// Environment variable naming the CLI's home directory.
pub const AERGO_HOME_ENV: &str = "AERGO_HOME";

/// `$AERGO_HOME`, else `~/.aergo`.
pub fn aergo_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os(AERGO_HOME_ENV).filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".aergo")),
        None => Err(CliError::invalid("home directory", "", "neither AERGO_HOME nor HOME is set; pass --dir")),
    }
}

/// The keystore directory: `--keystore`, else `DATADIR/keystore` for
/// `--dir DATADIR`, else `$AERGO_HOME/keystore`.
pub fn keystore_dir(keystore: Option<&Path>, data_dir: Option<&Path>) -> Result<PathBuf> {
    Ok(match (keystore, data_dir) {
        (Some(k), _) => k.to_path_buf(),
        (None, Some(d)) => d.join("keystore"),
        (None, None) => aergo_home()?.join("keystore"),
    })
}

/// Dev account number `index` (`aergo node --dev` prefunds
/// [`DEV_ACCOUNTS`] of them).
pub fn dev_account(index: u32) -> Result<PrivateKey> {
    if index >= DEV_ACCOUNTS {
        return Err(CliError::invalid(
            "dev account",
            &format!("dev:{index}"),
            format!("the dev chain has accounts dev:0 to dev:{}", DEV_ACCOUNTS - 1),
        ));
    }
    Ok(dev_key(DEV_ACCOUNT_LABEL, index))
}

/// The index of `address` among the dev accounts, if it is one.
pub fn dev_index_of(address: &Address) -> Option<u32> {
    (0..DEV_ACCOUNTS).find(|i| &dev_key(DEV_ACCOUNT_LABEL, *i).address() == address)
}

fn parse_dev_ref(text: &str) -> Option<Result<u32>> {
    let n = text.strip_prefix("dev:")?;
    Some(n.parse::<u32>().map_err(|_| CliError::invalid("dev account", text, "expected dev:N with N a number")))
}

/// An account argument: `dev:N` or an `Am...` address. Names are refused:
/// the chain does not resolve them yet.
pub fn parse_account(text: &str) -> Result<Address> {
    if let Some(index) = parse_dev_ref(text) {
        return Ok(dev_account(index?)?.address());
    }
    let address = Address::parse(text.trim())
        .map_err(|e| CliError::invalid("address", text, format!("{e}; expected an Am... address or dev:N")))?;
    if !address.is_account() {
        return Err(CliError::invalid(
            "address",
            text,
            "only account addresses (Am...) are supported so far: names and contracts are not on chain yet",
        ));
    }
    Ok(address)
}

/// A transfer's recipient: an account (`Am...`, `dev:N`) or a registered
/// user name (12 lowercase letters and digits; the chain resolves it).
pub fn parse_recipient(text: &str) -> Result<Address> {
    let t = text.trim();
    match Address::parse(t) {
        Ok(a @ Address::Name(_)) if a.is_system() => Err(CliError::invalid(
            "recipient",
            text,
            "a system contract (aergo.system, aergo.name, ...) takes governance transactions, not transfers",
        )),
        Ok(a @ Address::Name(_)) => Ok(a),
        _ => parse_account(text),
    }
}

/// A private key given as text: 64 hex digits (optionally `0x`), or the
/// SDKs' base58check form (version 0xAA).
pub fn parse_private_key(text: &str) -> Result<PrivateKey> {
    let t = text.trim();
    let hex_part = t.strip_prefix("0x").unwrap_or(t);
    if hex_part.len() == 64 && hex_part.bytes().all(|c| c.is_ascii_hexdigit()) {
        let bytes = hex::decode(hex_part).map_err(|e| CliError::invalid("private key", "(hidden)", e.to_string()))?;
        // A value out of the key range is a bad input like any other.
        return PrivateKey::from_bytes(&bytes).map_err(|e| CliError::invalid("private key", "(hidden)", e.to_string()));
    }
    PrivateKey::from_base58check(t).map_err(|e| {
        CliError::invalid(
            "private key",
            "(hidden)",
            format!("{e}; expected 64 hex digits or the base58check private key text (for exported, encrypted keys use `aergo account import --exported`)"),
        )
    })
}

/// Where a signing key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `--key`.
    Given,
    /// A deterministic dev account.
    Dev(u32),
    /// A keystore file.
    Keystore(PathBuf),
}

/// How to find a signing key for an account.
pub struct KeyOptions<'a> {
    /// `--key` text.
    pub key: Option<&'a str>,
    /// The keystore directory.
    pub keystore_dir: PathBuf,
    /// `--password` / `AERGO_PASSWORD`.
    pub password: Option<&'a str>,
}

/// Resolves `--from` to its address and signing key.
pub fn resolve_signer(from: &str, opts: &KeyOptions<'_>) -> Result<(Address, PrivateKey, KeySource)> {
    if let Some(text) = opts.key {
        let key = parse_private_key(text)?;
        let address = key.address();
        if let Some(index) = parse_dev_ref(from) {
            let dev = dev_account(index?)?.address();
            if dev != address {
                return Err(CliError::invalid(
                    "--key",
                    "(hidden)",
                    format!("it is the key of {address}, not of {from}"),
                ));
            }
        } else if !from.is_empty() {
            let named = parse_account(from)?;
            if named != address {
                return Err(CliError::invalid(
                    "--key",
                    "(hidden)",
                    format!("it is the key of {address}, not of --from {named}"),
                ));
            }
        }
        return Ok((address, key, KeySource::Given));
    }
    if let Some(index) = parse_dev_ref(from) {
        let index = index?;
        let key = dev_account(index)?;
        return Ok((key.address(), key, KeySource::Dev(index)));
    }
    let address = parse_account(from)?;
    if let Some(index) = dev_index_of(&address) {
        return Ok((address, dev_account(index)?, KeySource::Dev(index)));
    }
    let ks = Keystore::open(&opts.keystore_dir)?;
    let path = ks.path_of(&address);
    if !path.exists() {
        return Err(CliError::invalid(
            "--from",
            from,
            format!(
                "no key for it in the keystore {} (and it is not a dev account); pass --key, --keystore DIR or \
                 import it with `aergo account import`",
                opts.keystore_dir.display()
            ),
        ));
    }
    let password = password(opts.password, &format!("passphrase for {address}: "), false)?;
    let key = ks.load(&address, &password)?;
    Ok((address, key, KeySource::Keystore(path)))
}

/// The passphrase: the given one (flag or environment), else a prompt if
/// stdin is a terminal (asked twice when `confirm`), else an error.
pub fn password(given: Option<&str>, prompt: &str, confirm: bool) -> Result<String> {
    if let Some(p) = given {
        return Ok(p.to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Password {
            reason: "none given and stdin is not a terminal to ask on: pass --password or set AERGO_PASSWORD".into(),
        });
    }
    let first = rpassword::prompt_password(prompt)
        .map_err(|e| CliError::Password { reason: format!("cannot read it from the terminal: {e}") })?;
    if confirm {
        let again = rpassword::prompt_password("repeat it: ")
            .map_err(|e| CliError::Password { reason: format!("cannot read it from the terminal: {e}") })?;
        if again != first {
            return Err(CliError::Password { reason: "the two entries differ".into() });
        }
    }
    if first.is_empty() {
        return Err(CliError::Password { reason: "empty passphrase refused".into() });
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_keys_parse() {
        let k0 = dev_account(0).unwrap();
        assert_eq!(parse_account("dev:0").unwrap(), k0.address());
        assert_eq!(parse_account(&k0.address().to_string()).unwrap(), k0.address());
        assert!(parse_account("dev:99").unwrap_err().to_string().contains("dev:0 to dev:9"));
        assert!(parse_account("dev:x").unwrap_err().to_string().contains("dev:N"));
        assert!(parse_account("myname").unwrap_err().to_string().contains("names"));
        assert!(parse_account("AmNotAnAddressAtAllButLongEnoughToBeTried12345678901").is_err());
        assert_eq!(dev_index_of(&k0.address()), Some(0));
        assert_eq!(dev_index_of(&dev_key("other", 0).address()), None);

        let hex_text = hex::encode(k0.to_bytes());
        assert_eq!(parse_private_key(&hex_text).unwrap(), k0);
        assert_eq!(parse_private_key(&format!("0x{hex_text}")).unwrap(), k0);
        assert_eq!(parse_private_key(&k0.to_base58check()).unwrap(), k0);
        let e = parse_private_key("zz").unwrap_err().to_string();
        assert!(e.contains("64 hex digits") && !e.contains("zz"), "{e}");
        // Out of the key range: a usage error too (exit status 2), not a
        // failure of the tool.
        for bad in ["00".repeat(32), "ff".repeat(32)] {
            let e = parse_private_key(&bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{e}");
            assert!(e.to_string().contains("invalid private key \"(hidden)\""), "{e}");
            assert!(!e.to_string().contains(&bad), "{e}");
        }
    }

    #[test]
    fn signer_resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        let opts = |key| KeyOptions { key, keystore_dir: dir.path().to_path_buf(), password: Some("pw") };
        let (a, k, src) = resolve_signer("dev:3", &opts(None)).unwrap();
        assert_eq!((a, src), (dev_account(3).unwrap().address(), KeySource::Dev(3)));
        assert_eq!(k, dev_account(3).unwrap());
        let addr2 = dev_account(2).unwrap().address().to_string();
        assert_eq!(resolve_signer(&addr2, &opts(None)).unwrap().2, KeySource::Dev(2));

        let other = dev_key("other", 1);
        let text = hex::encode(other.to_bytes());
        let (a, _, src) = resolve_signer(&other.address().to_string(), &opts(Some(&text))).unwrap();
        assert_eq!((a, src), (other.address(), KeySource::Given));
        let e = resolve_signer("dev:0", &opts(Some(&text))).unwrap_err().to_string();
        assert!(e.contains("not of dev:0"), "{e}");

        let e = resolve_signer(&other.address().to_string(), &opts(None)).unwrap_err().to_string();
        assert!(e.contains("no key for it in the keystore"), "{e}");

        let ks = Keystore::open(dir.path()).unwrap().with_scrypt_params(aergo_crypto::ScryptParams::insecure_fast());
        ks.import(&other, "pw").unwrap();
        let (_, k, src) = resolve_signer(&other.address().to_string(), &opts(None)).unwrap();
        assert_eq!(k, other);
        assert!(matches!(src, KeySource::Keystore(_)));
        let wrong = KeyOptions { key: None, keystore_dir: dir.path().to_path_buf(), password: Some("nope") };
        let e = resolve_signer(&other.address().to_string(), &wrong).unwrap_err().to_string();
        assert!(e.contains("wrong passphrase"), "{e}");
    }
}
