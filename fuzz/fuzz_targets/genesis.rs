//! A genesis file as a network's operators hand it around: parsed and
//! validated (allocation, balances, producers, DPoS settings), its content
//! hash and genesis block, and the state it creates; a valid genesis
//! round-trips through its canonical JSON.
#![no_main]

use aergo_types::{Genesis, Hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = aergo_types::ChainId::from_bytes(data);
    let Ok(genesis) = Genesis::from_json(text) else { return };
    let json = genesis.to_json().expect("a valid genesis serializes");
    assert_eq!(Genesis::from_json(&json).expect("its canonical JSON parses"), genesis);
    let _ = genesis.content_hash();
    let _ = genesis.dpos_settings();
    let _ = genesis.block(&Hash::ZERO);
    let store = aergo_store::Store::memory();
    let _ = aergo_exec::genesis_state(&store, &genesis);
});
