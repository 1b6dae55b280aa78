//! Checks our types against vectors made by the official Python SDK
//! (aergo-herapy); see `tests/vectors/gen_herapy.py`. Signature checks are
//! in aergo-crypto's tests, which read the same file.

use aergo_types::{Address, Amount, Hash, Tx, TxBody, TxType, Unit};
use prost::Message;
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("vectors/herapy.json");
    serde_json::from_str(text).expect("vector file is valid JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} is a string in {v}"))
}

fn hex_field(v: &Value, k: &str) -> Vec<u8> {
    hex::decode(s(v, k)).unwrap()
}

fn proto_type(name: &str) -> TxType {
    TxType::from_name(name).unwrap_or_else(|| panic!("unknown type {name}"))
}

#[test]
fn sdk_addresses_parse_and_print_identically() {
    let v = vectors();
    let keys = v["keys"].as_array().unwrap();
    assert!(keys.len() >= 5);
    for k in keys {
        let text = s(k, "address");
        let a = Address::parse(text).unwrap();
        assert!(a.is_account());
        assert_eq!(a.to_string(), text);
        assert_eq!(text.len(), 52);
        assert!(text.starts_with("Am"));
    }
}

fn body_from_vector(t: &Value) -> TxBody {
    let to = t["to"].as_str();
    TxBody {
        nonce: t["nonce"].as_u64().unwrap(),
        account: Address::parse(s(t, "from")).unwrap().to_vec(),
        recipient: to.map(|a| Address::parse(a).unwrap().to_vec()).unwrap_or_default(),
        amount: hex_field(t, "amount_bytes_hex"),
        payload: hex_field(t, "payload_hex"),
        gas_limit: t["gas_limit"].as_u64().unwrap(),
        gas_price: hex_field(t, "gas_price_bytes_hex"),
        r#type: proto_type(s(t, "type")) as i32,
        chain_id_hash: Hash::from_base58(s(t, "chain_id_hash_b58")).unwrap().to_vec(),
        sign: hex_field(t, "sign_hex"),
    }
}

#[test]
fn sdk_tx_hashes_match_ours() {
    let v = vectors();
    let txs = v["txs"].as_array().unwrap();
    assert!(txs.len() >= 40);
    for t in txs {
        let body = body_from_vector(t);
        assert_eq!(body.signing_hash().to_hex(), s(t, "signing_hash_hex"), "{t}");
        assert_eq!(body.tx_hash().to_hex(), s(t, "tx_hash_hex"), "{t}");
        assert_eq!(body.tx_hash().to_string(), s(t, "tx_hash_b58"), "{t}");
        // The amount the SDK encoded is the amount it was asked for.
        assert_eq!(body.amount().unwrap(), Amount::parse(s(t, "amount")).unwrap());
    }
}

#[test]
fn sdk_wire_bytes_decode_to_the_same_tx_and_reencode_identically() {
    let v = vectors();
    for t in v["txs"].as_array().unwrap() {
        let wire = hex_field(t, "grpc_tx_hex");
        let tx = Tx::decode_bounded(&wire).unwrap();
        let body = body_from_vector(t);
        assert_eq!(tx.body.as_ref().unwrap(), &body);
        assert_eq!(tx.hash().unwrap(), body.tx_hash());
        assert_eq!(tx.encode_to_vec(), wire, "prost re-encodes byte for byte");
        let chain = Hash::from_base58(s(t, "chain_id_hash_b58")).unwrap();
        tx.validate(&chain, true).unwrap();
        let other_chain = Hash::sha256(b"another chain");
        assert!(tx.validate(&other_chain, true).is_err());
    }
}

#[test]
fn sdk_amount_conversions_agree() {
    let v = vectors();
    for a in v["amounts"].as_array().unwrap() {
        let amount = Amount::parse(s(a, "input")).unwrap();
        assert_eq!(amount.format(Unit::Aer), s(a, "aer"), "{a}");
        assert_eq!(amount.format(Unit::Gaer), s(a, "gaer"), "{a}");
        assert_eq!(amount.format(Unit::Aergo), s(a, "aergo"), "{a}");
        assert_eq!(Amount::parse(s(a, "aergo")).unwrap(), amount);
    }
}
