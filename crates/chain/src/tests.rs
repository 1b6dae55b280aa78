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
    verify_tx(sign_tx(body, &keys[from]), chain.rules()).unwrap()
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
            .build_block(vec![transfer(&chain, &keys, 0, 1, 1), transfer(&chain, &keys, 0, 1, 5)], &producer, 2_000)
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
    let built =
        a.build_block(vec![transfer(&a, &keys, 0, 2, 1), transfer(&a, &keys, 1, 2, 1)], &producer, 2_000).unwrap();
    a.commit(&built.block, &built.receipts).unwrap();

    // A block whose state root lies is refused and changes nothing.
    let mut header = built.block.header().unwrap().clone();
    header.blocks_root_hash = Hash::sha256(b"lie").to_vec();
    let forged = aergo_crypto::sign_block(header, built.block.txs().to_vec(), &producer).unwrap();
    let err = b.import(&forged).unwrap_err();
    assert!(err.to_string().contains("state root mismatch"), "{err}");
    assert_eq!(b.head().height, 0);

    // A block signed by someone else than its pub_key says is refused.
    let mut tampered = built.block.clone();
    tampered.header.as_mut().unwrap().timestamp += 1;
    assert!(b.import(&tampered).is_err());

    let head = b.import(&built.block).unwrap();
    assert_eq!(head, a.head(), "same block on the same parent gives the same state root");
}
