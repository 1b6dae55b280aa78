//! Evidence of misbehaviour as anyone submits it (a `v1evidence` call's
//! argument): proto bytes or their hex text, re-encoded, and checked
//! against a chain (signatures, slots, compact Merkle proofs), which must
//! refuse or convict, never panic.
#![no_main]

use aergo_types::evidence::SlotClock;
use aergo_types::{ChainId, Evidence};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Evidence::from_hex(text);
    }
    let Ok(e) = Evidence::decode_bounded(data) else { return };
    let again = Evidence::decode_bounded(&e.encode()).expect("re-encodes to decodable bytes");
    assert_eq!(again, e);
    assert_eq!(Evidence::from_hex(&e.to_hex()).expect("its own hex reads back"), e);
    let chain = ChainId::dev().hash();
    let clock = SlotClock { genesis_timestamp_ns: 1_700_000_000_000_000_000, interval_ms: 1000 };
    if let Ok(offence) = aergo_crypto::check_evidence(&e, &chain, &clock) {
        // A conviction names the signer of what it proves.
        assert_eq!(offence.kind, e.kind().expect("convicted evidence has one offence"));
    }
});
