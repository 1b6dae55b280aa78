//! Signing and verifying transactions as the Go node does
//! (`key.SignTx` / `key.VerifyTxWithAddress`): the signature is over
//! [`TxBody::signing_hash`] and goes in `body.sign`; the tx hash then
//! covers the signature too.

use crate::error::{CryptoError, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::signature::{DerRules, Signature};
use aergo_types::{Address, Tx, TxBody};

/// Signs `body` with `key` (filling `sign`) and returns the tx with its
/// hash. Does not check that `body.account` is `key`'s address: a name
/// account signs with the key its name points to.
pub fn sign_tx(mut body: TxBody, key: &PrivateKey) -> Tx {
    sign_tx_body(&mut body, key);
    Tx::new(body)
}

/// Fills `body.sign` with `key`'s signature over the signing hash.
pub fn sign_tx_body(body: &mut TxBody, key: &PrivateKey) {
    let sig = key.sign_hash(&body.signing_hash());
    body.sign = sig.to_der();
}

/// Verifies the signature of a tx whose sender is an account (key)
/// address, and returns the signer's key. Signature encodings are those the
/// Go node accepts for txs ([`DerRules::GoTx`]), high s included.
///
/// Only the signature is checked: the caller also runs
/// [`Tx::validate`] (chain id, hash, sizes, type rules). A tx sent from a
/// name needs the name resolved to a key first; use
/// [`verify_tx_with_key`].
pub fn verify_tx(tx: &Tx) -> Result<PublicKey> {
    let body = tx.body()?;
    let sender = body.sender()?;
    let key = match &sender {
        Address::Account(_) => PublicKey::from_address(&sender)?,
        Address::Name(n) => {
            return Err(CryptoError::Signer {
                reason: format!("sender is the name {n:?}: resolve it to its owner's key and use verify_tx_with_key"),
            })
        }
        Address::Contract(_) => {
            return Err(CryptoError::Signer { reason: format!("sender {sender} is a contract, which cannot sign") })
        }
    };
    verify_body_signature(body, &key)?;
    Ok(key)
}

/// Verifies a tx's signature against a known key (for name senders).
pub fn verify_tx_with_key(tx: &Tx, key: &PublicKey) -> Result<()> {
    verify_body_signature(tx.body()?, key)
}

fn verify_body_signature(body: &TxBody, key: &PublicKey) -> Result<()> {
    if body.sign.is_empty() {
        return Err(CryptoError::MalformedSignature { reason: "the tx is not signed (empty sign field)".to_string() });
    }
    let sig = Signature::from_der(&body.sign, DerRules::GoTx)?;
    key.verify_hash(&body.signing_hash(), &sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_types::{Amount, ChainId, TxType};
    use proptest::prelude::*;

    fn transfer(from: &PrivateKey, to: &Address) -> TxBody {
        TxBody::transfer(1, &from.address(), to, Amount::ONE_AERGO, &ChainId::dev().hash())
    }

    #[test]
    fn sign_then_verify() {
        let k = PrivateKey::generate().unwrap();
        let to = PrivateKey::generate().unwrap().address();
        let tx = sign_tx(transfer(&k, &to), &k);
        assert_eq!(verify_tx(&tx).unwrap(), k.public_key());
        tx.validate(&ChainId::dev().hash(), true).unwrap();
    }

    #[test]
    fn tampering_and_wrong_keys_are_rejected() {
        let k = PrivateKey::generate().unwrap();
        let other = PrivateKey::generate().unwrap();
        let to = other.address();
        let tx = sign_tx(transfer(&k, &to), &k);

        let mut tampered = tx.clone();
        tampered.body.as_mut().unwrap().amount = Amount::from_aergo(2).unwrap().to_be_bytes_minimal();
        assert!(matches!(verify_tx(&tampered), Err(CryptoError::BadSignature)));

        // Signed by someone else.
        let forged = sign_tx(transfer(&k, &to), &other);
        assert!(matches!(verify_tx(&forged), Err(CryptoError::BadSignature)));

        let mut unsigned = tx.clone();
        unsigned.body.as_mut().unwrap().sign.clear();
        assert!(verify_tx(&unsigned).is_err());

        let mut garbage = tx.clone();
        garbage.body.as_mut().unwrap().sign = vec![0x30, 0x02, 0x01];
        assert!(matches!(verify_tx(&garbage), Err(CryptoError::MalformedSignature { .. })));
    }

    #[test]
    fn name_and_contract_senders() {
        let k = PrivateKey::generate().unwrap();
        let name = Address::parse("myname123456").unwrap();
        let body = TxBody::new(TxType::Transfer, 1, &name, Some(&k.address()), Amount::ZERO, &ChainId::dev().hash());
        let tx = sign_tx(body, &k);
        assert!(matches!(verify_tx(&tx), Err(CryptoError::Signer { .. })));
        verify_tx_with_key(&tx, &k.public_key()).unwrap();

        let contract = Address::contract_from(&k.address(), 1);
        let body =
            TxBody::new(TxType::Transfer, 1, &contract, Some(&k.address()), Amount::ZERO, &ChainId::dev().hash());
        assert!(matches!(verify_tx(&sign_tx(body, &k)), Err(CryptoError::Signer { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_signed_body_verifies_and_any_field_change_breaks_it(
            seed in any::<u32>(), nonce in any::<u64>(), amount in any::<u128>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            gas in any::<u64>(), ty in 0i32..7, which in 0usize..6,
        ) {
            let k = crate::dev::dev_key("prop", seed);
            let to = crate::dev::dev_key("prop-to", seed).address();
            let mut body = TxBody::transfer(nonce, &k.address(), &to, Amount::from_aer(amount), &ChainId::dev().hash())
                .with_payload(payload)
                .with_gas(gas, Amount::from_aer(amount / 7));
            body.r#type = ty;
            let tx = sign_tx(body, &k);
            prop_assert_eq!(verify_tx(&tx).unwrap(), k.public_key());

            let mut bad = tx.clone();
            let b = bad.body.as_mut().unwrap();
            match which {
                0 => b.nonce = b.nonce.wrapping_add(1),
                1 => b.recipient[5] ^= 1,
                2 => b.amount.push(0),
                3 => b.payload.push(1),
                4 => b.gas_limit = b.gas_limit.wrapping_add(1),
                _ => b.r#type = (b.r#type + 1) % 7,
            }
            prop_assert!(matches!(verify_tx(&bad), Err(CryptoError::BadSignature)));
        }
    }
}
