//! The sync protocol's frames as a peer sends them: requests (status
//! handshake, block ranges, forwarded transactions, file pieces) and
//! responses (status, blocks, forward answers, file pieces, "no file",
//! refusals).
//! Whatever decodes re-encodes to the same bytes (the format is canonical).
#![no_main]

use aergo_net::wire::{decode_request, decode_response, encode_request, encode_response, SyncResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, body) = aergo_fuzz::split_first(data);
    if let Ok(req) = decode_request(data) {
        assert_eq!(encode_request(&req), data);
    }
    // Responses: the node's own block count limit, and one from the input.
    for max_blocks in [aergo_net::NetLimits::default().max_sync_blocks, u32::from(selector)] {
        if let Ok(resp) = decode_response(body, max_blocks) {
            assert_eq!(encode_response(&resp), body);
            if let SyncResponse::Blocks(blocks) = &resp {
                assert!(blocks.len() <= max_blocks as usize);
                for b in blocks {
                    let _ = aergo_types::Block::decode_bounded(b);
                }
            }
        }
    }
});
