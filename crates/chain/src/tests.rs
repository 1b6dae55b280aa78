use super::*;
use aergo_crypto::{dev_genesis, sign_tx};
use aergo_exec::account;
use aergo_types::{Amount, ChainId, TxBody};

fn genesis() -> (Genesis, Vec<PrivateKey>) {
    dev_genesis(ChainId::dev(), 1_000, 3, Amount::from_aergo(100).unwrap(), vec![]).unwrap()
}

fn transfer(chain: &Chain, keys: &[PrivateKey], from: usize, to: usize, nonce: u64) -> VerifiedTx {
    let body = TxBody::transfer(
        nonce,
        &keys[from].address(),
        &keys[to].address(),
        Amount::ONE_AERGO,
        &chain.rules().chain_id_hash,
    );
    aergo_exec::verify_tx(sign_tx(body, &keys[from]), chain.rules()).unwrap()
}

#[test]
fn build_commit_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (g, keys) = genesis();
    let producer = PrivateKey::generate().unwrap();
    let head = {
        let chain = Chain::open(dir.path(), g.clone()).unwrap();
        assert_eq!(chain.head().height, 0);
        let built = chain
            .build_block(
                &chain.head().hash,
                vec![transfer(&chain, &keys, 0, 1, 1), transfer(&chain, &keys, 0, 1, 5)],
                &producer,
                2_000,
                vec![],
            )
            .unwrap();
        assert_eq!(built.block.txs().len(), 1);
        assert_eq!(built.rejected.len(), 1, "the nonce-5 transfer is rejected");
        let head = chain.commit(&built.block, &built.receipts).unwrap();
        assert_eq!(head.height, 1);
        let tx_hash = built.block.txs()[0].hash().unwrap();
        let receipt = chain.blocks().receipt(&tx_hash).unwrap().unwrap();
        assert_eq!(receipt.status, "SUCCESS");
        assert_eq!(receipt.block_hash, head.hash.to_vec());
        head
    };
    let chain = Chain::open(dir.path(), g).unwrap();
    assert_eq!(chain.head(), head, "restart resumes at the same head and state root");
    let a1 = account(&chain.head_state(), &keys[1].address()).unwrap();
    assert_eq!(a1.balance, Amount::from_aergo(101).unwrap());
    let before = account(&chain.state_at(0).unwrap().unwrap(), &keys[1].address()).unwrap();
    assert_eq!(before.balance, Amount::from_aergo(100).unwrap());
}

#[test]
fn other_genesis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (g, _) = genesis();
    drop(Chain::open(dir.path(), g).unwrap());
    let (other, _) = dev_genesis(ChainId::dev(), 2_000, 3, Amount::from_aergo(100).unwrap(), vec![]).unwrap();
    assert!(matches!(Chain::open(dir.path(), other), Err(ChainError::GenesisMismatch { .. })));
}

#[test]
fn import_replays_and_checks_roots() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (g, keys) = genesis();
    let producer = PrivateKey::generate().unwrap();
    let a = Chain::open(a_dir.path(), g.clone()).unwrap();
    let b = Chain::open(b_dir.path(), g).unwrap();
    let built = a
        .build_block(
            &a.head().hash,
            vec![transfer(&a, &keys, 0, 2, 1), transfer(&a, &keys, 1, 2, 1)],
            &producer,
            2_000,
            vec![],
        )
        .unwrap();
    a.commit(&built.block, &built.receipts).unwrap();

    // A block whose state root lies is refused and changes nothing.
    let mut header = built.block.header().unwrap().clone();
    header.blocks_root_hash = Hash::sha256(b"lie").to_vec();
    let forged = aergo_crypto::sign_block(header, built.block.txs().to_vec(), &producer).unwrap();
    let err = b.import_and_extend(&forged).unwrap_err();
    assert!(err.to_string().contains("state root mismatch"), "{err}");
    assert_eq!(b.head().height, 0);

    // A block signed by someone else than its pub_key says is refused.
    let mut tampered = built.block.clone();
    tampered.header.as_mut().unwrap().timestamp += 1;
    assert!(b.import_and_extend(&tampered).is_err());

    let head = b.import_and_extend(&built.block).unwrap();
    assert_eq!(b.head(), head);
    assert_eq!(head, a.head(), "same block on the same parent gives the same state root");
}

#[test]
fn forks_switch_heads_and_respect_the_lib() {
    let (g, keys) = genesis();
    let chain = Chain::memory(g).unwrap();
    let producer = PrivateKey::generate().unwrap();
    let genesis_hash = chain.head().hash;
    // Branch A: two blocks; branch B: three blocks, both from genesis.
    let a1 =
        chain.build_block(&genesis_hash, vec![transfer(&chain, &keys, 0, 1, 1)], &producer, 2_000, vec![]).unwrap();
    let a1h = chain.store_block(&a1.block, &a1.receipts).unwrap();
    let a2 = chain.build_block(&a1h.hash, vec![transfer(&chain, &keys, 0, 1, 2)], &producer, 3_000, vec![]).unwrap();
    let a2h = chain.store_block(&a2.block, &a2.receipts).unwrap();
    chain.set_head(&a2h.hash).unwrap();
    let tx_a1 = a1.block.txs()[0].hash().unwrap();
    let tx_a2 = a2.block.txs()[0].hash().unwrap();
    assert_eq!(chain.blocks().tx_location(&tx_a1).unwrap().unwrap().block_hash, a1h.hash);
    // The account index lists both sides of a transfer, newest first, and
    // pages with `before`.
    let history = |i: usize, before: Option<(u64, u32)>, limit: usize| -> Vec<(u64, Hash)> {
        let raw = keys[i].address().as_bytes().to_vec();
        chain.blocks().account_txs(&raw, before, limit).unwrap().into_iter().map(|t| (t.height, t.tx_hash)).collect()
    };
    assert_eq!(history(0, None, 10), vec![(2, tx_a2), (1, tx_a1)]);
    assert_eq!(history(1, None, 10), vec![(2, tx_a2), (1, tx_a1)]);
    assert_eq!(history(1, Some((2, 0)), 10), vec![(1, tx_a1)]);
    assert_eq!(history(1, Some((2, 1)), 10), vec![(2, tx_a2), (1, tx_a1)], "before (2, 1) includes (2, 0)");
    assert_eq!(chain.blocks().account_index_from().unwrap(), 0, "a new store indexes every block");
    assert_eq!(history(1, None, 1), vec![(2, tx_a2)]);
    assert_eq!(history(2, None, 10), vec![]);

    let b1 =
        chain.build_block(&genesis_hash, vec![transfer(&chain, &keys, 2, 1, 1)], &producer, 2_500, vec![]).unwrap();
    let b1h = chain.store_block(&b1.block, &b1.receipts).unwrap();
    let b2 = chain.build_block(&b1h.hash, vec![], &producer, 3_500, vec![]).unwrap();
    let b2h = chain.store_block(&b2.block, &b2.receipts).unwrap();
    let b3 = chain.build_block(&b2h.hash, vec![], &producer, 4_500, vec![]).unwrap();
    let b3h = chain.store_block(&b3.block, &b3.receipts).unwrap();
    assert_eq!(chain.head(), a2h, "storing side blocks does not move the head");

    let change = chain.set_head(&b3h.hash).unwrap();
    assert_eq!(change.abandoned.len(), 2);
    assert_eq!(change.adopted.len(), 3);
    assert_eq!(chain.head(), b3h);
    assert_eq!(chain.blocks().hash_at(1).unwrap(), Some(b1h.hash));
    assert_eq!(chain.blocks().hash_at(3).unwrap(), Some(b3h.hash));
    assert!(chain.blocks().tx_location(&tx_a1).unwrap().is_none(), "abandoned txs leave the index");
    let tx_b1 = b1.block.txs()[0].hash().unwrap();
    assert_eq!(history(0, None, 10), vec![], "and the account index");
    assert_eq!(history(1, None, 10), vec![(1, tx_b1)]);
    assert_eq!(history(2, None, 10), vec![(1, tx_b1)]);
    let a0 = account(&chain.head_state(), &keys[0].address()).unwrap();
    assert_eq!(a0.nonce, 0, "branch B never ran account 0's transfers");

    // Finalise B1: branch A can no longer become the head, and is forgotten.
    chain.set_lib(&b1h.hash).unwrap();
    assert!(chain.known(&a2h.hash).is_none());
    assert!(matches!(chain.set_head(&a2h.hash), Err(ChainError::UnknownBlock { .. })));
    assert!(matches!(
        chain.set_lib(&genesis_hash),
        Err(ChainError::UnknownBlock { .. }) | Err(ChainError::BelowLib { .. })
    ));
    // A block whose parent is gone is refused.
    let late = chain.import(&a2.block);
    assert!(matches!(late, Err(ChainError::UnknownParent { .. })), "{late:?}");
}

fn dpos_genesis(producers: &[PrivateKey]) -> (Genesis, Vec<PrivateKey>) {
    let chain_id = ChainId::new(0, false, false, "dpos.test", "dpos").unwrap();
    let bps = producers.iter().map(|k| k.public_key().peer_id()).collect();
    let (mut g, keys) = dev_genesis(chain_id, 1_000_000_000, 3, Amount::from_aergo(100).unwrap(), bps).unwrap();
    g.dpos = Some(aergo_types::genesis::DposGenesis { block_interval_ms: Some(1_000), ..Default::default() });
    g.validate().unwrap();
    (g, keys)
}

#[test]
fn dpos_blocks_run_the_producer_hooks_and_check_the_slot_owner() {
    let producers = aergo_crypto::dev_keys("bp", 2);
    let (g, keys) = dpos_genesis(&producers);
    let a = Chain::memory(g.clone()).unwrap();
    let b = Chain::memory(g).unwrap();
    assert!(a.dpos().is_some());
    let genesis = a.head().hash;
    // Slot 1 starts one interval after genesis; its owner is producers[1 % 2].
    let t1 = 1_000_000_000 + 1_000_000_000 + 5;
    assert_eq!(a.slot_of(t1), 1);
    let owner = &producers[1];
    let built = a.build_block(&genesis, vec![transfer(&a, &keys, 0, 1, 1)], owner, t1, vec![]).unwrap();
    let head = b.import_and_extend(&built.block).unwrap();
    assert_eq!(head.height, 1);
    let producers_now = aergo_exec::dpos::producers(&b.head_state()).unwrap();
    assert_eq!(producers_now.len(), 2);

    // The other producer may not produce in slot 1.
    let c = Chain::memory(dpos_genesis(&producers).0).unwrap();
    let wrong = c.build_block(&genesis, vec![], &producers[0], t1, vec![]);
    assert!(wrong.is_err(), "building in someone else's slot must fail");
}

#[test]
fn import_reuses_only_verifications_of_identical_transactions() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (g, keys) = genesis();
    let producer = PrivateKey::generate().unwrap();
    let a = Chain::open(a_dir.path(), g.clone()).unwrap();
    let b = Chain::open(b_dir.path(), g).unwrap();
    let txs = vec![transfer(&a, &keys, 0, 2, 1), transfer(&a, &keys, 1, 2, 1)];
    let known: BTreeMap<Hash, VerifiedTx> = txs.iter().map(|v| (v.hash(), v.clone())).collect();
    let built = a.build_block(&a.head().hash, txs, &producer, 2_000, vec![]).unwrap();

    // The same hash with other bytes (a signature of someone else) is not
    // taken from the known ones: the block is refused (its structure check
    // already recomputes every tx hash; the reuse also compares bytes).
    let mut body = built.block.txs().to_vec();
    body[0].body.as_mut().unwrap().sign = sign_tx(body[0].body.clone().unwrap(), &keys[1]).body.unwrap().sign;
    let mut header = built.block.header().unwrap().clone();
    header.txs_root_hash = aergo_types::txs_root(&body).unwrap().to_vec();
    let forged = aergo_crypto::sign_block(header, body, &producer).unwrap();
    let err = b.import_reusing(&forged, &known).unwrap_err();
    assert!(err.to_string().contains("tx hash mismatch"), "{err}");
    assert_eq!(b.head().height, 0);

    let head = b.import_reusing(&built.block, &known).unwrap();
    a.commit(&built.block, &built.receipts).unwrap();
    assert_eq!(head, a.head());
}
