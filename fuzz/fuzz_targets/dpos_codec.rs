//! BFT-DPoS messages and records: votes (gossiped), quorum certificates
//! (in blocks), safety states and anchors (read back from disk). Every
//! decoder accepts each value in exactly one form, so whatever decodes
//! re-encodes to the input bytes.
#![no_main]

use aergo_consensus::dpos::{Anchor, Qc, SafetyState, Vote};
use aergo_types::Hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tag = Hash::sha256(b"fuzz chain tag");
    if let Ok(v) = Vote::decode(data) {
        assert_eq!(v.encode(), data);
        let _ = v.verify(&tag);
    }
    if let Ok(q) = Qc::decode(data) {
        assert_eq!(q.encode(), data);
        q.check_shape().expect("a decoded certificate has a valid shape");
        let _ = q.is_implicit();
    }
    if let Ok(s) = SafetyState::decode(data) {
        assert_eq!(s.encode(), data);
    }
    if let Ok(a) = Anchor::decode(data) {
        assert_eq!(a.encode(), data);
        a.config.validate().expect("a decoded anchor has a valid configuration");
        let _ = a.config.voters();
        let _ = a.config.leader(a.slot);
    }
});
