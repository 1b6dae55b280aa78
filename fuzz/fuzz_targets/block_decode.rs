//! A block as a peer sends it (gossip and sync responses): proto bytes,
//! the header's fields, the computed hash, the structural checks and the
//! producer's signature.
#![no_main]

use aergo_types::{Block, ChainId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(block) = Block::decode_bounded(data) else { return };
    let again = Block::decode_bounded(&block.encode()).expect("a decoded block re-encodes to decodable bytes");
    assert_eq!(again, block);
    let _ = block.computed_hash();
    let _ = aergo_types::txs_root(block.txs());
    let structure = block.validate_structure();
    if let Ok(header) = block.header() {
        let _ = header.signing_bytes();
        let _ = header.chain_id();
        let _ = ChainId::from_bytes(&header.chain_id);
        let _ = header.prev_hash();
        let _ = header.state_root();
        let _ = header.txs_root();
        let _ = header.receipts_root();
        let _ = aergo_crypto::verify_block_header(header);
        if structure.is_ok() {
            assert_eq!(block.computed_hash().ok(), Some(header.hash()));
        }
    }
    for tx in block.txs() {
        let _ = tx.computed_hash();
        let _ = aergo_crypto::verify_tx(tx);
    }
});
