//! `aergo-types`' hand-written prost structs (which the service sends and
//! receives for blocks, transactions, receipts and events) against the
//! messages generated from `proto/aergo.proto`: with every field set, a
//! message encoded by one decodes in the other and re-encodes to the same
//! bytes, both ways. A field missing, renumbered or of another type on
//! either side loses or changes bytes.

use aergo_grpc::wire;
use prost::Message;

fn same_bytes<A: Message + Default, B: Message + Default>(a: &A) {
    let bytes = a.encode_to_vec();
    let b = B::decode(bytes.as_slice()).expect("decodes as the generated message");
    assert_eq!(b.encode_to_vec(), bytes, "{}", std::any::type_name::<A>());
    let back = A::decode(b.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back.encode_to_vec(), bytes);
}

fn body() -> wire::TxBody {
    wire::TxBody {
        nonce: 7,
        account: vec![2; 33],
        recipient: vec![3; 33],
        amount: vec![1, 0],
        payload: b"{}".to_vec(),
        gas_limit: 100_000,
        gas_price: vec![5],
        r#type: wire::TxType::Call as i32,
        chain_id_hash: vec![9; 32],
        sign: vec![0x30, 1, 2],
    }
}

fn event(i: i32) -> wire::Event {
    wire::Event {
        contract_address: vec![4; 33],
        event_name: "moved".into(),
        json_args: "[1]".into(),
        event_idx: i,
        tx_hash: vec![5; 32],
        block_hash: vec![6; 32],
        block_no: 12,
        tx_index: 3,
    }
}

#[test]
fn transactions_blocks_receipts_and_events_match_the_definitions() {
    let tx = wire::Tx { hash: vec![1; 32], body: Some(body()) };
    same_bytes::<wire::TxBody, aergo_types::TxBody>(&body());
    same_bytes::<wire::Tx, aergo_types::Tx>(&tx);
    same_bytes::<wire::TxList, aergo_types::TxList>(&wire::TxList { txs: vec![tx.clone(), tx.clone()] });

    let header = wire::BlockHeader {
        chain_id: vec![1; 40],
        prev_block_hash: vec![2; 32],
        block_no: 99,
        timestamp: -5,
        blocks_root_hash: vec![3; 32],
        txs_root_hash: vec![4; 32],
        receipts_root_hash: vec![5; 32],
        confirms: 8,
        pub_key: vec![6; 37],
        coinbase_account: vec![7; 33],
        sign: vec![8; 70],
        consensus: vec![9; 10],
    };
    same_bytes::<wire::BlockHeader, aergo_types::BlockHeader>(&header);
    let block = wire::Block { hash: vec![1; 32], header: Some(header), body: Some(wire::BlockBody { txs: vec![tx] }) };
    same_bytes::<wire::Block, aergo_types::Block>(&block);
    same_bytes::<wire::BlockBody, aergo_types::BlockBody>(block.body.as_ref().unwrap());

    same_bytes::<wire::Event, aergo_types::Event>(&event(1));
    let receipt = wire::Receipt {
        contract_address: vec![1; 33],
        status: "SUCCESS".into(),
        ret: "\"OK\"".into(),
        tx_hash: vec![2; 32],
        fee_used: vec![3, 4],
        cumulative_fee_used: vec![5, 6],
        bloom: vec![7; 8],
        events: vec![event(0), event(1)],
        block_no: 10,
        block_hash: vec![8; 32],
        tx_index: 2,
        from: vec![9; 33],
        to: vec![10; 33],
        fee_delegation: true,
        gas_used: 1234,
    };
    same_bytes::<wire::Receipt, aergo_types::Receipt>(&receipt);
}

#[test]
fn our_transaction_types_are_the_go_nodes() {
    for t in aergo_types::TxType::ALL {
        let generated = wire::TxType::try_from(t as i32).expect("a type the definitions know");
        assert_eq!(generated.as_str_name(), t.name(), "{t:?}");
    }
}
