//! Checks keys and signatures against vectors made by the official Python
//! SDK (aergo-herapy); the generator is
//! `crates/types/tests/vectors/gen_herapy.py`.

use aergo_crypto::{verify_tx, CryptoError, DerRules, PrivateKey, Signature};
use aergo_types::{Amount, Hash, Tx};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("../../types/tests/vectors/herapy.json");
    serde_json::from_str(text).expect("vector file is valid JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} is a string in {v}"))
}

fn hex_field(v: &Value, k: &str) -> Vec<u8> {
    hex::decode(s(v, k)).unwrap()
}

fn sdk_tx(t: &Value) -> Tx {
    Tx::decode_bounded(&hex_field(t, "grpc_tx_hex")).unwrap()
}

#[test]
fn our_address_from_the_key_equals_the_sdks() {
    let v = vectors();
    for k in v["keys"].as_array().unwrap() {
        let key = PrivateKey::from_bytes(&hex_field(k, "private_key_hex")).unwrap();
        assert_eq!(key.address().to_string(), s(k, "address"));
        // The SDK's text form and its (minimal) byte form give the same key.
        assert_eq!(PrivateKey::from_base58check(s(k, "private_key_b58check")).unwrap(), key);
        assert_eq!(PrivateKey::from_bytes(&hex_field(k, "private_key_sdk_bytes_hex")).unwrap(), key);
        // Our text form is the SDK's for full-width keys (it drops leading
        // zero bytes, we keep 32).
        if k["private_key_sdk_bytes_hex"].as_str().unwrap().len() == 64 {
            assert_eq!(key.to_base58check(), s(k, "private_key_b58check"));
        }
    }
}

#[test]
fn every_sdk_signature_verifies() {
    let v = vectors();
    let keys = v["keys"].as_array().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for t in v["txs"].as_array().unwrap() {
        let tx = sdk_tx(t);
        let signer = verify_tx(&tx).unwrap_or_else(|e| panic!("{e}: {t}"));
        let key_index = t["key_index"].as_u64().unwrap() as usize;
        assert_eq!(signer.address().to_string(), s(&keys[key_index], "address"));
        kinds.insert(s(t, "sign_der_kind").to_string());
    }
    // The vectors do exercise the SDK's non-strict DER forms.
    assert!(kinds.contains("padded") && kinds.contains("negative") && kinds.contains("strict"));
}

#[test]
fn non_strict_sdk_signatures_need_the_go_tx_rules() {
    let v = vectors();
    for t in v["txs"].as_array().unwrap() {
        let sign = hex_field(t, "sign_hex");
        let strict = Signature::from_der(&sign, DerRules::Strict);
        match s(t, "sign_der_kind") {
            "strict" => assert!(strict.is_ok()),
            _ => assert!(matches!(strict, Err(CryptoError::NonCanonicalDer { .. }))),
        }
        assert!(Signature::from_der(&sign, DerRules::GoTx).is_ok());
    }
}

#[test]
fn tampered_bodies_are_rejected() {
    let v = vectors();
    for t in v["txs"].as_array().unwrap() {
        let tx = sdk_tx(t);

        let mut more = tx.clone();
        let body = more.body.as_mut().unwrap();
        let amount = body.amount().unwrap();
        body.amount = amount.checked_add(Amount::from_aer(1)).unwrap().to_be_bytes_minimal();
        assert!(matches!(verify_tx(&more), Err(CryptoError::BadSignature)));

        let mut renonced = tx.clone();
        renonced.body.as_mut().unwrap().nonce ^= 1;
        assert!(matches!(verify_tx(&renonced), Err(CryptoError::BadSignature)));

        let mut rechained = tx.clone();
        rechained.body.as_mut().unwrap().chain_id_hash = Hash::sha256(b"other").to_vec();
        assert!(matches!(verify_tx(&rechained), Err(CryptoError::BadSignature)));
    }
}

#[test]
fn high_s_twins_of_sdk_signatures_verify_as_on_the_go_node() {
    // The JavaScript SDK signs with high s half of the time and the Go
    // node accepts it; a twin verifies exactly when the original does.
    let v = vectors();
    for t in v["txs"].as_array().unwrap() {
        let mut tx = sdk_tx(t);
        tx.body.as_mut().unwrap().sign = hex_field(t, "sign_high_s_hex");
        assert!(verify_tx(&tx).is_ok(), "{t}");
        tx.body.as_mut().unwrap().nonce ^= 1;
        assert!(matches!(verify_tx(&tx), Err(CryptoError::BadSignature)), "{t}");
    }
}

#[test]
fn sdk_exported_keys_import_here() {
    let v = vectors();
    let keys = v["keys"].as_array().unwrap();
    let exported = v["exported_keys"].as_array().unwrap();
    assert!(!exported.is_empty());
    for e in exported {
        let key_index = e["key_index"].as_u64().unwrap() as usize;
        let expected = PrivateKey::from_bytes(&hex_field(&keys[key_index], "private_key_hex")).unwrap();
        let password = s(e, "password");
        let text = s(e, "exported");
        assert_eq!(aergo_crypto::import_exported_key(text, password).unwrap(), expected);
        assert!(aergo_crypto::import_exported_key(text, "not the password").is_err());
        // Same passphrase, same key: the format is deterministic, so ours
        // is byte-identical to the SDK's for full-width keys.
        if s(&keys[key_index], "private_key_sdk_bytes_hex").len() == 64 {
            assert_eq!(aergo_crypto::export_key(&expected, password).unwrap(), text);
        }
    }
}

#[test]
fn sdk_keystore_files_decrypt_here() {
    let v = vectors();
    let keys = v["keys"].as_array().unwrap();
    let stores = v["keystores"].as_array().unwrap();
    assert!(!stores.is_empty());
    for k in stores {
        let key_index = k["key_index"].as_u64().unwrap() as usize;
        let expected = PrivateKey::from_bytes(&hex_field(&keys[key_index], "private_key_hex")).unwrap();
        let json = k["keystore"].to_string();
        assert_eq!(aergo_crypto::decrypt_key(&json, s(k, "password")).unwrap(), expected);
        assert!(matches!(aergo_crypto::decrypt_key(&json, "wrong"), Err(CryptoError::WrongPassphrase)));
    }
}
