//! A pre-confirmation as a client or a verifier receives it: proto bytes
//! (or the JSON/hex text `aergo preconf verify` reads), its signing hash,
//! its signature check, and its JSON form read back.
#![no_main]

use aergo_types::Preconfirmation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Preconfirmation::from_json_or_hex(text);
    }
    let Ok(p) = Preconfirmation::decode_bounded(data) else { return };
    let again = Preconfirmation::decode_bounded(&p.encode()).expect("re-encodes to decodable bytes");
    assert_eq!(again, p);
    let _ = p.signing_hash();
    let _ = aergo_crypto::verify_preconf(&p);
    let json = p.to_json().to_string();
    assert_eq!(Preconfirmation::from_json_or_hex(&json).expect("its own JSON reads back"), p);
});
