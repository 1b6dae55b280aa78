//! A receipt as stored and as a light client would receive it: proto
//! bytes, its status and its Merkle leaf, and the receipts root of a list.
#![no_main]

use aergo_types::{receipts_root, Receipt};
use libfuzzer_sys::fuzz_target;

const LIMIT_BYTES: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(receipt) = Receipt::decode_bounded(data, LIMIT_BYTES) else { return };
    let again = Receipt::decode_bounded(&receipt.encode(), LIMIT_BYTES).expect("re-encodes to decodable bytes");
    assert_eq!(again, receipt);
    let _ = receipt.status();
    let leaf = receipt.merkle_hash();
    let _ = receipt.merkle_bytes();
    let root = receipts_root(std::slice::from_ref(&receipt));
    assert_eq!(leaf.is_ok(), root.is_ok());
    for e in &receipt.events {
        let _ = aergo_types::Address::from_bytes(&e.contract_address);
    }
});
