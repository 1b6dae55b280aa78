//! Golden vectors taken from the Go node's own test fixtures.

use aergo_crypto::{decrypt_key, CryptoError};

/// `account/key/crypto/test/AmMzdvQ...__keystore.txt` in aergoio/aergo,
/// written by the Go node with passphrase "password" and the SDK's default
/// scrypt cost (n = 2^18, 256 MiB, about a second).
const GO_KEYSTORE: &str = r#"{
  "aergo_address":"AmMzdvQMremMBwFqrVWc4Urq1VaFPmbAGY7VBtfDnCXE93vSct7H",
  "ks_version":"1",
  "cipher":{
    "algorithm":"aes-128-ctr",
    "params":{
      "iv":"09992626f58c1c6e4b828e39d14a93b0"
    },
    "ciphertext":"7b70e1bd0131745a74f1068a28ae32bbea07fa34c3a536e9e4deaac86ea66dca"
  },
  "kdf":{
    "algorithm":"scrypt",
    "params":{
      "dklen":32,
      "n":262144,
      "p":1,
      "r":8,
      "salt":"df2643aab55ff3c11f310be2072d563f8b625d1fa4d9e43269ce771076e7d775"
    },
    "mac":"a941c96b1ee13184856465322db95bfb1ca6c70df09e2fe9acbd74d3d6ba801d"
  }
}"#;

#[test]
fn go_node_keystore_file_decrypts() {
    let key = decrypt_key(GO_KEYSTORE, "password").unwrap();
    assert_eq!(key.address().to_string(), "AmMzdvQMremMBwFqrVWc4Urq1VaFPmbAGY7VBtfDnCXE93vSct7H");
    assert!(matches!(decrypt_key(GO_KEYSTORE, "Password"), Err(CryptoError::WrongPassphrase)));
}
