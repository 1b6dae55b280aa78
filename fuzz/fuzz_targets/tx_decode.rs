//! A transaction as a client sends it (`sendTx`) and a batch of them as
//! a peer gossips it (`TxList::decode_batch`): proto bytes, then the
//! stateless checks and the signature, against the dev chain's rules and
//! against rules matching the tx's own chain id (so the checks past the
//! chain id are reached too).
#![no_main]

use aergo_exec::{verify_tx, ChainRules};
use aergo_types::{encode_tx_batch, ChainId, Hash, Tx, TxList};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn dev_rules() -> &'static ChainRules {
    static RULES: OnceLock<ChainRules> = OnceLock::new();
    RULES.get_or_init(|| ChainRules { chain_id_hash: ChainId::dev().hash(), public: false })
}

fuzz_target!(|data: &[u8]| {
    // As a batch: what decodes re-encodes, from its transactions' bytes,
    // to a batch that decodes to the same list.
    if let Ok(list) = TxList::decode_batch(data) {
        let parts: Vec<Vec<u8>> = list.txs.iter().map(Tx::encode).collect();
        let again = TxList::decode_batch(&encode_tx_batch(&parts)).expect("a decoded batch re-encodes");
        assert_eq!(again, list);
    }
    let Ok(tx) = Tx::decode_bounded(data) else { return };
    // Decoding is stable: what decoded re-encodes to bytes that decode to it.
    let again = Tx::decode_bounded(&tx.encode()).expect("a decoded tx re-encodes to decodable bytes");
    assert_eq!(again, tx);
    let _ = tx.hash();
    let _ = tx.computed_hash();
    if let Ok(body) = tx.body() {
        let _ = body.sender();
        let _ = body.recipient();
        let _ = body.amount();
        let _ = body.gas_price();
        let _ = body.tx_type();
        let _ = body.signing_hash();
    }
    let _ = aergo_exec::intrinsic_gas(&tx);
    let _ = verify_tx(tx.clone(), dev_rules());
    if let Some(own) = tx.body.as_ref().and_then(|b| Hash::from_slice("chain id hash", &b.chain_id_hash).ok()) {
        for public in [false, true] {
            if let Ok(v) = verify_tx(tx.clone(), &ChainRules { chain_id_hash: own, public }) {
                assert_eq!(v.hash(), tx.computed_hash().expect("a verified tx has a body"));
            }
        }
    }
});
