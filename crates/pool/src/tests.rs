use super::*;
use aergo_crypto::{dev_keys, sign_tx, PrivateKey};
use aergo_exec::{verify_tx, ChainRules, GENESIS_GAS_PRICE};
use aergo_types::{ChainId, TxBody};

fn rules() -> ChainRules {
    ChainRules { chain_id_hash: ChainId::dev().hash(), public: false }
}

fn tx(key: &PrivateKey, to: &PrivateKey, nonce: u64, aer: u128, gas_price: Amount) -> VerifiedTx {
    let body = TxBody::transfer(nonce, &key.address(), &to.address(), Amount::from_aer(aer), &rules().chain_id_hash)
        .with_gas(0, gas_price);
    verify_tx(sign_tx(body, key), &rules()).unwrap()
}

/// An account's queue on main.
fn main(key: &PrivateKey) -> Sender {
    (rules().chain_id_hash, key.address())
}

/// The chain's parameters at genesis.
fn fees() -> ChainFees {
    ChainFees { gas_price: GENESIS_GAS_PRICE, max_tx_gas: aergo_exec::system::DEFAULT_MAX_TX_GAS }
}

fn rich() -> AccountState {
    AccountState { balance: Amount::from_aergo(1_000_000).unwrap(), nonce: 0 }
}

#[test]
fn nonce_rules() {
    let k = dev_keys("pool", 2);
    let mut p = Pool::new(PoolConfig { max_nonce_gap: 5, ..PoolConfig::default() });
    let committed = AccountState { nonce: 3, ..rich() };
    assert!(matches!(
        p.admit(tx(&k[0], &k[1], 3, 1, Amount::ZERO), committed, fees()),
        Err(PoolError::NonceTooLow { got: 3, committed: 3, .. })
    ));
    assert!(matches!(
        p.admit(tx(&k[0], &k[1], 9, 1, Amount::ZERO), committed, fees()),
        Err(PoolError::NonceGap { .. })
    ));
    p.admit(tx(&k[0], &k[1], 5, 1, Amount::ZERO), committed, fees()).unwrap();
    // Not ready: nonce 4 is missing.
    assert!(p.select(10, 1 << 20).is_empty());
    assert_eq!(p.next_nonce(&main(&k[0])), Some(4));
    p.admit(tx(&k[0], &k[1], 4, 1, Amount::ZERO), committed, fees()).unwrap();
    let ready: Vec<u64> = p.select(10, 1 << 20).iter().map(VerifiedTx::nonce).collect();
    assert_eq!(ready, vec![4, 5]);
    assert_eq!(p.next_nonce(&main(&k[0])), Some(6));
    p.on_committed(&main(&k[0]), 4);
    assert_eq!(p.len(), 1);
    p.on_committed(&main(&k[0]), 5);
    assert!(p.is_empty());
    assert_eq!(p.size_bytes(), 0);
}

#[test]
fn duplicates_and_replacement() {
    let k = dev_keys("pool", 2);
    let mut p = Pool::new(PoolConfig::default());
    let t = tx(&k[0], &k[1], 1, 1, Amount::ZERO);
    p.admit(t.clone(), rich(), fees()).unwrap();
    assert!(matches!(p.admit(t, rich(), fees()), Err(PoolError::Duplicate { .. })));
    let same_price = tx(&k[0], &k[1], 1, 2, Amount::ZERO);
    assert!(matches!(p.admit(same_price, rich(), fees()), Err(PoolError::ReplacementUnderpriced { .. })));
    let higher = tx(&k[0], &k[1], 1, 2, Amount::from_aer(GENESIS_GAS_PRICE.aer() * 2));
    assert!(matches!(p.admit(higher.clone(), rich(), fees()), Ok(Admitted::Replaced(_))));
    assert_eq!(p.len(), 1);
    assert_eq!(p.select(10, 1 << 20)[0].hash(), higher.hash());
}

#[test]
fn balance_covers_all_pending() {
    let k = dev_keys("pool", 2);
    let mut p = Pool::new(PoolConfig::default());
    let fee = GENESIS_GAS_PRICE.aer() * aergo_exec::TX_BASE_GAS as u128;
    let committed = AccountState { balance: Amount::from_aer(2 * (100 + fee)), nonce: 0 };
    p.admit(tx(&k[0], &k[1], 1, 100, Amount::ZERO), committed, fees()).unwrap();
    p.admit(tx(&k[0], &k[1], 2, 100, Amount::ZERO), committed, fees()).unwrap();
    assert!(matches!(
        p.admit(tx(&k[0], &k[1], 3, 1, Amount::ZERO), committed, fees()),
        Err(PoolError::InsufficientBalance { .. })
    ));
}

#[test]
fn bounds() {
    let k = dev_keys("pool", 3);
    let mut p = Pool::new(PoolConfig { max_per_account: 2, max_txs: 3, ..PoolConfig::default() });
    p.admit(tx(&k[0], &k[1], 1, 1, Amount::ZERO), rich(), fees()).unwrap();
    p.admit(tx(&k[0], &k[1], 2, 1, Amount::ZERO), rich(), fees()).unwrap();
    assert!(matches!(
        p.admit(tx(&k[0], &k[1], 3, 1, Amount::ZERO), rich(), fees()),
        Err(PoolError::AccountFull { limit: 2, .. })
    ));
    p.admit(tx(&k[1], &k[0], 1, 1, Amount::ZERO), rich(), fees()).unwrap();
    assert!(matches!(
        p.admit(tx(&k[2], &k[0], 1, 1, Amount::ZERO), rich(), fees()),
        Err(PoolError::PoolFull { what: "transactions", .. })
    ));
    let mut p = Pool::new(PoolConfig { max_payload_bytes: 4, ..PoolConfig::default() });
    let body = TxBody::transfer(1, &k[0].address(), &k[1].address(), Amount::from_aer(1), &rules().chain_id_hash)
        .with_payload(vec![0; 5]);
    let big = verify_tx(sign_tx(body, &k[0]), &rules()).unwrap();
    assert!(matches!(p.admit(big, rich(), fees()), Err(PoolError::PayloadTooLarge { got: 5, limit: 4 })));
}

#[test]
fn select_interleaves_accounts_fairly() {
    let k = dev_keys("pool", 3);
    let mut p = Pool::new(PoolConfig::default());
    for n in 1..=3 {
        p.admit(tx(&k[0], &k[2], n, 1, Amount::ZERO), rich(), fees()).unwrap();
    }
    for n in 1..=3 {
        p.admit(tx(&k[1], &k[2], n, 1, Amount::ZERO), rich(), fees()).unwrap();
    }
    let order: Vec<(Address, u64)> = p.select(4, 1 << 20).iter().map(|t| (t.sender().clone(), t.nonce())).collect();
    let (a, b) = (k[0].address(), k[1].address());
    assert_eq!(order, vec![(a.clone(), 1), (b.clone(), 1), (a, 2), (b, 2)]);
    let one = p.select(1, 1 << 20);
    assert_eq!(one.len(), 1);
    p.remove_with_successors(&one[0].hash());
    assert_eq!(p.len(), 3, "account 0's three transactions are gone");
}

/// A head switch gives back transactions of abandoned blocks while their
/// sender's slots are full of later nonces: they must come back anyway,
/// or every later nonce is stranded.
#[test]
fn readmit_waives_size_bounds_not_validity() {
    let k = dev_keys("pool", 2);
    let mut p = Pool::new(PoolConfig { max_per_account: 2, max_txs: 2, ..PoolConfig::default() });
    // Nonces 1 and 2 went into a block; 3 and 4 wait in the pool.
    let committed = AccountState { nonce: 2, ..rich() };
    p.admit(tx(&k[0], &k[1], 3, 1, Amount::ZERO), committed, fees()).unwrap();
    p.admit(tx(&k[0], &k[1], 4, 1, Amount::ZERO), committed, fees()).unwrap();
    // The block is abandoned: the committed nonce goes back to 0.
    p.on_committed(&main(&k[0]), 0);
    let back = || tx(&k[0], &k[1], 1, 1, Amount::ZERO);
    assert!(matches!(p.admit(back(), rich(), fees()), Err(PoolError::AccountFull { .. })));
    p.readmit(back(), rich(), fees()).unwrap();
    p.readmit(tx(&k[0], &k[1], 2, 1, Amount::ZERO), rich(), fees()).unwrap();
    let ready: Vec<u64> = p.select(10, 1 << 20).iter().map(VerifiedTx::nonce).collect();
    assert_eq!(ready, vec![1, 2, 3, 4]);
    // A switch across many blocks: far ahead of the committed nonce.
    let mut p2 = Pool::new(PoolConfig { max_nonce_gap: 5, ..PoolConfig::default() });
    let far = || tx(&k[0], &k[1], 50, 1, Amount::ZERO);
    assert!(matches!(p2.admit(far(), rich(), fees()), Err(PoolError::NonceGap { .. })));
    p2.readmit(far(), rich(), fees()).unwrap();
    // Validity still holds: a used nonce or an unaffordable one is refused.
    let poor = AccountState { balance: Amount::from_aer(1), nonce: 0 };
    assert!(matches!(
        p.readmit(tx(&k[1], &k[0], 1, 1, Amount::ZERO), poor, fees()),
        Err(PoolError::InsufficientBalance { .. })
    ));
    let used = AccountState { nonce: 4, ..rich() };
    assert!(matches!(
        p.readmit(tx(&k[1], &k[0], 3, 1, Amount::ZERO), used, fees()),
        Err(PoolError::NonceTooLow { got: 3, committed: 4, .. })
    ));
}

/// Refusals of senders the pool has never seen leave no queue behind
/// (issue 11: they were created before the checks and kept until a commit).
#[test]
fn refused_strangers_leave_nothing_behind() {
    let k = dev_keys("pool", 40);
    let mut p = Pool::new(PoolConfig { max_nonce_gap: 5, max_per_account: 1, ..PoolConfig::default() });
    let poor = AccountState { balance: Amount::from_aer(1), nonce: 0 };
    for (i, key) in k.iter().enumerate().skip(1) {
        let e = match i % 3 {
            0 => p.admit(tx(key, &k[0], 1, 1, Amount::ZERO), poor, fees()).unwrap_err(),
            1 => p.admit(tx(key, &k[0], 50, 1, Amount::ZERO), rich(), fees()).unwrap_err(),
            _ => p.admit(tx(key, &k[0], 1, 1, Amount::ZERO), AccountState { nonce: 3, ..rich() }, fees()).unwrap_err(),
        };
        assert!(
            matches!(
                e,
                PoolError::InsufficientBalance { .. } | PoolError::NonceGap { .. } | PoolError::NonceTooLow { .. }
            ),
            "{e}"
        );
    }
    assert_eq!((p.len(), p.senders(), p.size_bytes()), (0, 0, 0));
    // A known sender's refused extra leaves its queue as it was.
    p.admit(tx(&k[1], &k[0], 1, 1, Amount::ZERO), rich(), fees()).unwrap();
    let full = p.admit(tx(&k[1], &k[0], 2, 1, Amount::ZERO), rich(), fees()).unwrap_err();
    assert!(matches!(full, PoolError::AccountFull { .. }), "{full}");
    assert_eq!((p.len(), p.senders()), (1, 1));
}

/// What block building refuses whatever the state is refused at admission
/// (issue 11: a gas limit below the intrinsic gas was acknowledged, then
/// dropped).
#[test]
fn gas_limit_and_price_are_checked_at_admission() {
    let k = dev_keys("pool", 2);
    let mut p = Pool::new(PoolConfig::default());
    let low_limit = {
        let body = TxBody::transfer(1, &k[0].address(), &k[1].address(), Amount::from_aer(1), &rules().chain_id_hash)
            .with_gas(aergo_exec::TX_BASE_GAS - 1, Amount::ZERO);
        verify_tx(sign_tx(body, &k[0]), &rules()).unwrap()
    };
    let e = p.admit(low_limit, rich(), fees()).unwrap_err();
    assert!(matches!(e, PoolError::GasLimitTooLow { needed: aergo_exec::TX_BASE_GAS, .. }), "{e}");
    assert_eq!(e.reason(), RejectReason::GasLimitTooLow);
    let cheap = tx(&k[0], &k[1], 1, 1, Amount::from_aer(GENESIS_GAS_PRICE.aer() - 1));
    let e = p.admit(cheap, rich(), fees()).unwrap_err();
    assert!(matches!(e, PoolError::GasPriceTooLow { .. }), "{e}");
    assert_eq!((p.len(), p.senders()), (0, 0));
    // Exactly the intrinsic gas and the chain's price are fine.
    let body = TxBody::transfer(1, &k[0].address(), &k[1].address(), Amount::from_aer(1), &rules().chain_id_hash)
        .with_gas(aergo_exec::TX_BASE_GAS, GENESIS_GAS_PRICE);
    p.admit(verify_tx(sign_tx(body, &k[0]), &rules()).unwrap(), rich(), fees()).unwrap();
}

#[test]
fn gas_limit_above_the_cap_is_refused() {
    let k = dev_keys("pool", 2);
    let mut p = Pool::new(PoolConfig::default());
    let body = TxBody::transfer(1, &k[0].address(), &k[1].address(), Amount::from_aer(1), &rules().chain_id_hash)
        .with_gas(10_000_000_000, Amount::ZERO);
    let e = p.admit(verify_tx(sign_tx(body, &k[0]), &rules()).unwrap(), rich(), fees()).unwrap_err();
    assert!(matches!(e, PoolError::GasLimitTooHigh { limit: 10_000_000_000, .. }), "{e}");
    assert_eq!(e.reason(), RejectReason::GasLimitTooHigh);
}
