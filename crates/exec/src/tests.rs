use super::*;
use aergo_crypto::{dev_genesis, sign_tx, PrivateKey};
use aergo_types::{ChainId, RejectReason, TxBody, TxType};

struct Fixture {
    store: Store,
    root: Hash,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
}

fn fixture() -> Fixture {
    let chain = ChainId::dev();
    let (genesis, keys) = dev_genesis(chain.clone(), 0, 4, Amount::from_aergo(1000).unwrap(), vec![]).unwrap();
    let store = Store::memory();
    let root = genesis_state(&store, &genesis).unwrap();
    Fixture { store, root, keys, rules: ChainRules { chain_id_hash: chain.hash(), public: false } }
}

fn ctx(height: u64, coinbase: &Address) -> BlockContext {
    BlockContext { height, timestamp_ns: 1_000 * height as i64, coinbase: coinbase.clone() }
}

fn transfer(f: &Fixture, from: usize, to: usize, nonce: u64, aergo: u128) -> VerifiedTx {
    let body = TxBody::transfer(
        nonce,
        &f.keys[from].address(),
        &f.keys[to].address(),
        Amount::from_aergo(aergo).unwrap(),
        &f.rules.chain_id_hash,
    );
    verify_tx(sign_tx(body, &f.keys[from]), &f.rules).unwrap()
}

#[test]
fn transfer_moves_amount_and_pays_fee_to_coinbase() {
    let f = fixture();
    let coinbase = f.keys[3].address();
    let mut b = BlockBuilder::new(&f.store, f.root, ctx(1, &coinbase)).unwrap();
    let receipt = b.push(transfer(&f, 0, 1, 1, 10)).unwrap().clone();
    assert_eq!(receipt.status, "SUCCESS");
    assert_eq!(receipt.gas_used, TX_BASE_GAS);
    let fee = GENESIS_GAS_PRICE.checked_mul(TX_BASE_GAS as u128).unwrap();
    assert_eq!(Amount::from_be_bytes(&receipt.fee_used).unwrap(), fee);
    let out = b.finish().unwrap();
    let snap = aergo_store::Snapshot::open(&f.store, out.state_root);
    let a0 = account(&snap, &f.keys[0].address()).unwrap();
    let a1 = account(&snap, &f.keys[1].address()).unwrap();
    let cb = account(&snap, &coinbase).unwrap();
    let start = Amount::from_aergo(1000).unwrap();
    assert_eq!(a0.nonce, 1);
    assert_eq!(a0.balance, start.checked_sub(Amount::from_aergo(10).unwrap()).unwrap().checked_sub(fee).unwrap());
    assert_eq!(a1.balance, start.checked_add(Amount::from_aergo(10).unwrap()).unwrap());
    assert_eq!(cb.balance, start.checked_add(fee).unwrap());
    assert_eq!(out.fees, fee);
}

#[test]
fn rejected_transactions_change_nothing() {
    let f = fixture();
    let coinbase = f.keys[3].address();
    let mut b = BlockBuilder::new(&f.store, f.root, ctx(1, &coinbase)).unwrap();
    // Wrong nonce (replay of a future or past one).
    assert!(matches!(b.push(transfer(&f, 0, 1, 2, 1)), Err(ExecError::Nonce { expected: 1, got: 2, .. })));
    // More than the balance.
    assert!(matches!(b.push(transfer(&f, 0, 1, 1, 1000)), Err(ExecError::InsufficientBalance { .. })));
    assert!(b.is_empty());
    let out = b.finish().unwrap();
    let unchanged = crate::branches::empty_block_root(&f.store, f.root, 1).unwrap();
    assert_eq!(out.state_root, unchanged, "rejections change nothing but the block's history row");
    // And a replay after success is rejected.
    let mut b = BlockBuilder::new(&f.store, f.root, ctx(1, &coinbase)).unwrap();
    b.push(transfer(&f, 0, 1, 1, 1)).unwrap();
    assert!(matches!(b.push(transfer(&f, 0, 1, 1, 1)), Err(ExecError::Nonce { .. })));
    assert_eq!(b.len(), 1);
}

#[test]
fn verification_rejects_wrong_chain_and_bad_signature() {
    let f = fixture();
    let other = ChainRules {
        chain_id_hash: ChainId::new(0, false, false, "other.chain", "sbp").unwrap().hash(),
        public: false,
    };
    let body =
        TxBody::transfer(1, &f.keys[0].address(), &f.keys[1].address(), Amount::ONE_AERGO, &f.rules.chain_id_hash);
    let tx = sign_tx(body.clone(), &f.keys[0]);
    assert!(matches!(verify_tx(tx.clone(), &other), Err(ExecError::Invalid(_))));
    // Signed by the wrong key.
    let forged = sign_tx(body, &f.keys[1]);
    assert!(matches!(verify_tx(forged, &f.rules), Err(ExecError::Signature(_))));
    verify_tx(tx, &f.rules).unwrap();
}

#[test]
fn same_block_same_root() {
    let build = || {
        let f = fixture();
        let coinbase = f.keys[3].address();
        let txs = vec![transfer(&f, 0, 1, 1, 5), transfer(&f, 1, 2, 1, 7), transfer(&f, 0, 2, 2, 1)];
        execute_block(&f.store, f.root, ctx(1, &coinbase), txs).unwrap()
    };
    let a = build();
    let b = build();
    assert_eq!(a.state_root, b.state_root);
    assert_eq!(a.receipts_root, b.receipts_root);
    assert_eq!(a.txs_root, b.txs_root);
}

#[test]
fn self_transfer_only_costs_the_fee() {
    let f = fixture();
    let coinbase = f.keys[3].address();
    let out = execute_block(&f.store, f.root, ctx(1, &coinbase), vec![transfer(&f, 0, 0, 1, 3)]).unwrap();
    let snap = aergo_store::Snapshot::open(&f.store, out.state_root);
    let a0 = account(&snap, &f.keys[0].address()).unwrap();
    assert_eq!(a0.balance, Amount::from_aergo(1000).unwrap().checked_sub(out.fees).unwrap());
}

#[test]
fn what_no_block_could_run_is_refused_before_admission() {
    let f = fixture();
    let state = aergo_store::Snapshot::open(&f.store, f.root);
    let k = &f.keys[0];
    let chain = &f.rules.chain_id_hash;
    let body = |tx_type: TxType, recipient: Option<&Address>, payload: &[u8]| {
        let b = TxBody::new(tx_type, 1, &k.address(), recipient, Amount::ZERO, chain).with_payload(payload.to_vec());
        sign_tx(b, k)
    };
    let system = Address::name(aergo_types::address::AERGO_SYSTEM).unwrap();
    let names = Address::name(aergo_types::address::AERGO_NAME).unwrap();
    let contract = Address::contract_from(&k.address(), 1);
    let reason = |tx: &Tx| check_runnable(&state, tx, 1).map_err(|e| (e.reason(), e.to_string()));
    // What blocks run passes.
    assert_eq!(reason(&body(TxType::Transfer, Some(&f.keys[1].address()), b"")), Ok(()));
    assert_eq!(reason(&body(TxType::Call, Some(&contract), b"{\"Name\":\"f\"}")), Ok(()));
    assert_eq!(reason(&body(TxType::Deploy, None, b"not even SQL")), Ok(()), "deploys fail in their receipt");
    // Types and recipients this chain does not run.
    for (tx, what) in [
        (body(TxType::Redeploy, Some(&contract), b"x"), "transaction type REDEPLOY"),
        (body(TxType::FeeDelegation, Some(&contract), b"{}"), "transaction type FEEDELEGATION"),
        (body(TxType::Transfer, Some(&system), b""), "recipient aergo.system"),
    ] {
        let (r, msg) = reason(&tx).unwrap_err();
        assert_eq!(r, Some(RejectReason::Unsupported), "{msg}");
        assert!(msg.contains(what), "{msg}");
    }
    // A name nobody registered, a name call that does not parse.
    let (r, msg) = reason(&body(TxType::Transfer, Some(&Address::name("someone12345").unwrap()), b"")).unwrap_err();
    assert_eq!(r, Some(RejectReason::UnknownName), "{msg}");
    let (r, msg) = reason(&body(TxType::Governance, Some(&names), b"{\"Name\":\"v1createName\"}")).unwrap_err();
    assert_eq!(r, Some(RejectReason::BadPayload), "{msg}");
    assert!(msg.contains("takes 1 argument"), "{msg}");
    // System calls that do not parse, or that a solo chain has no staking for.
    let (r, msg) = reason(&body(TxType::Governance, Some(&system), b"{not json")).unwrap_err();
    assert_eq!(r, Some(RejectReason::BadPayload), "{msg}");
    let (r, msg) = reason(&body(TxType::Governance, Some(&system), b"{\"Name\":\"v1stake\"}")).unwrap_err();
    assert_eq!(r, Some(RejectReason::Unsupported), "{msg}");
    assert!(msg.contains("staking and voting exist only on dpos chains"), "{msg}");
}

/// A governance tx to `aergo.name` from key `from` with `amount` aer.
fn name_tx(f: &Fixture, from: usize, nonce: u64, call: &aergo_types::payload::NameCall, amount: Amount) -> VerifiedTx {
    let service = Address::name(aergo_types::address::AERGO_NAME).unwrap();
    let body =
        TxBody::new(TxType::Governance, nonce, &f.keys[from].address(), Some(&service), amount, &f.rules.chain_id_hash)
            .with_payload(call.payload());
    verify_tx(sign_tx(body, &f.keys[from]), &f.rules).unwrap()
}

#[test]
fn names_register_resolve_hand_over_and_refuse_what_they_must() {
    use aergo_types::payload::NameCall;
    let f = fixture();
    let coinbase = f.keys[3].address();
    let price = names::name_price(&aergo_store::Snapshot::open(&f.store, f.root)).unwrap();
    assert_eq!(price, Amount::ONE_AERGO, "the Go node's price on a chain without NAMEPRICE");
    let create = NameCall::Create { name: "alice1234567".into() };
    let handed = NameCall::Update { name: "alice1234567".into(), owner: f.keys[2].address() };
    let to_name = |from: usize, nonce: u64| {
        let body = TxBody::transfer(
            nonce,
            &f.keys[from].address(),
            &Address::name("alice1234567").unwrap(),
            Amount::from_aergo(5).unwrap(),
            &f.rules.chain_id_hash,
        );
        verify_tx(sign_tx(body, &f.keys[from]), &f.rules).unwrap()
    };

    // Block 1: key 0 registers; key 1 sends 5 AERGO to the name.
    let out =
        execute_block(&f.store, f.root, ctx(1, &coinbase), vec![name_tx(&f, 0, 1, &create, price), to_name(1, 1)])
            .unwrap();
    let snap = aergo_store::Snapshot::open(&f.store, out.state_root);
    let record = names::lookup(&snap, "alice1234567").unwrap().unwrap();
    assert_eq!(
        (record.owner.clone(), record.destination.clone(), record.height),
        (f.keys[0].address(), f.keys[0].address(), 1)
    );
    assert_eq!(out.receipts[0].events[0].event_name, "createName");
    let service = Address::name(aergo_types::address::AERGO_NAME).unwrap();
    assert_eq!(account(&snap, &service).unwrap().balance, price, "the price goes to aergo.name");
    let fee = Amount::from_be_bytes(&out.receipts[0].fee_used).unwrap();
    let k0 = account(&snap, &f.keys[0].address()).unwrap().balance;
    let expected = Amount::from_aergo(1000 + 5 - 1).unwrap().checked_sub(fee).unwrap();
    assert_eq!(k0, expected, "paid the price and the fee, received the transfer to its name");

    // Refused, each changing nothing: a taken name, a short one, a price
    // not paid, an update by someone other than the owner.
    for (tx, reason) in [
        (name_tx(&f, 1, 2, &create, price), "taken"),
        (name_tx(&f, 1, 2, &NameCall::Create { name: "short".into() }, price), "exactly 12"),
        (
            name_tx(&f, 1, 2, &NameCall::Create { name: "bob123456789".into() }, Amount::ONE_GAER),
            "below the name price",
        ),
        (name_tx(&f, 1, 2, &handed, price), "only its owner"),
    ] {
        let e = execute_block(&f.store, out.state_root, ctx(2, &coinbase), vec![tx]).unwrap_err().1;
        assert_eq!(e.reason(), Some(RejectReason::NameRejected), "{e}");
        assert!(e.to_string().contains(reason), "{e}");
    }

    // Block 2: the owner hands it to key 2; transfers now reach key 2.
    let out2 = execute_block(
        &f.store,
        out.state_root,
        ctx(2, &coinbase),
        vec![name_tx(&f, 0, 2, &handed, price), to_name(1, 2)],
    )
    .unwrap();
    let snap2 = aergo_store::Snapshot::open(&f.store, out2.state_root);
    let record = names::lookup(&snap2, "alice1234567").unwrap().unwrap();
    assert_eq!((record.owner, record.destination), (f.keys[2].address(), f.keys[2].address()));
    assert_eq!(account(&snap2, &f.keys[2].address()).unwrap().balance, Amount::from_aergo(1005).unwrap());
    // No token made or lost: fees went to the coinbase (key 3), prices to
    // aergo.name.
    let total = |s: &aergo_store::Snapshot| -> u128 {
        let mut all: Vec<Address> = f.keys.iter().map(|k| k.address()).collect();
        all.push(service.clone());
        all.iter().map(|a| account(s, a).unwrap().balance.aer()).sum()
    };
    assert_eq!(total(&snap2), Amount::from_aergo(4000).unwrap().aer());
}
