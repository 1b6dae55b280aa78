//! Pre-confirmations at a solo producer: promised places and results are
//! what the sealed block holds, across a crash and restart too; what would
//! break a promise is refused.

use std::sync::Arc;

use aergo_chain::Chain;
use aergo_crypto::{dev_genesis, find_breach, sign_tx, verify_preconf, PrivateKey};
use aergo_replica::{PreconfOutcome, Replica, ReplicaConfig};
use aergo_types::{Amount, ChainId, Genesis, Preconfirmation, RejectReason, Tx, TxBody};

const T0: i64 = 1_700_000_000_000_000_000;
const SECOND_NS: i64 = 1_000_000_000;

fn genesis() -> (Genesis, Vec<PrivateKey>) {
    dev_genesis(ChainId::dev(), T0, 3, Amount::from_aergo(1_000).unwrap(), Vec::new()).unwrap()
}

fn open(chain: Arc<Chain>, now_ns: i64) -> Replica {
    let key = aergo_crypto::dev_key("producer", 0);
    let (replica, _) = Replica::open(chain, key, ReplicaConfig::default(), now_ns).unwrap();
    replica
}

fn transfer(chain: &Chain, from: &PrivateKey, to: &PrivateKey, nonce: u64, aergo: u64) -> Tx {
    let mut body = TxBody::transfer(
        nonce,
        &from.address(),
        &to.address(),
        Amount::from_aergo(aergo.into()).unwrap(),
        &chain.rules().chain_id_hash,
    );
    body.gas_limit = 100_000;
    sign_tx(body, from)
}

fn promised(outcome: PreconfOutcome) -> Preconfirmation {
    match outcome {
        PreconfOutcome::Preconfirmed(p) => *p,
        PreconfOutcome::Queued { reason } | PreconfOutcome::Elsewhere { reason, .. } => {
            panic!("not pre-confirmed: {reason}")
        }
    }
}

/// Seals the open block (ticking past its timestamp) and returns it with
/// its receipts.
fn seal(replica: &Replica, now_ns: i64) -> (aergo_types::Block, Vec<aergo_types::Receipt>) {
    let chain = replica.chain().clone();
    let before = chain.head().height;
    replica.on_tick(now_ns).unwrap();
    let head = chain.head();
    assert_eq!(head.height, before + 1, "a block was sealed");
    let block = chain.blocks().block_by_hash(&head.hash).unwrap().unwrap();
    let receipts = chain.blocks().block_receipts(&head.hash).unwrap().unwrap();
    (block, receipts)
}

#[test]
fn promises_are_signed_at_once_and_kept_by_the_sealed_block() {
    let (g, keys) = genesis();
    let chain = Arc::new(Chain::memory(g).unwrap());
    let replica = open(chain.clone(), T0 + SECOND_NS);
    assert!(replica.pre_executes());
    let mut preconfs = Vec::new();
    for nonce in 1..=3 {
        let tx = transfer(&chain, &keys[0], &keys[1], nonce, 1);
        let (hash, outcome, _) = replica.submit_tx_preconfirmed(tx).unwrap();
        let p = promised(outcome);
        assert_eq!(p.tx_hash().unwrap(), hash);
        assert_eq!(p.index, nonce as u32 - 1);
        assert_eq!(p.height, 1);
        assert_eq!(p.parent().unwrap(), chain.head().hash);
        assert_eq!(verify_preconf(&p).unwrap(), replica.producer_key().public_key());
        assert_eq!(p.receipt().unwrap().status, "SUCCESS");
        preconfs.push(p);
    }
    // Another sender's transaction, submitted without asking for a
    // promise, still takes the next place.
    let (other, _) = replica.submit_tx(transfer(&chain, &keys[2], &keys[1], 1, 1)).unwrap();
    let (block, receipts) = seal(&replica, T0 + 3 * SECOND_NS);
    assert_eq!(block.txs().len(), 4);
    assert_eq!(block.txs()[3].hash().unwrap(), other);
    assert_eq!(block.header().unwrap().timestamp, preconfs[0].timestamp_ns);
    for p in &preconfs {
        assert_eq!(find_breach(p, &block, &receipts).unwrap(), None);
    }
    // The next block's promises start again at position 0 on the new head.
    let tx = transfer(&chain, &keys[0], &keys[1], 4, 1);
    let p = promised(replica.submit_tx_preconfirmed(tx).unwrap().1);
    assert_eq!((p.height, p.index), (2, 0));
    assert_eq!(p.parent().unwrap(), block.computed_hash().unwrap());
}

#[test]
fn a_promised_nonce_cannot_be_replaced_and_a_gap_waits() {
    let (g, keys) = genesis();
    let chain = Arc::new(Chain::memory(g).unwrap());
    let replica = open(chain.clone(), T0 + SECOND_NS);
    let first = transfer(&chain, &keys[0], &keys[1], 1, 1);
    promised(replica.submit_tx_preconfirmed(first).unwrap().1);
    // Same nonce, another recipient and amount: would change a promised
    // result, so it is refused, typed.
    let mut body = TxBody::transfer(
        1,
        &keys[0].address(),
        &keys[2].address(),
        Amount::from_aergo(2).unwrap(),
        &chain.rules().chain_id_hash,
    );
    body.gas_limit = 100_000;
    body.gas_price = Amount::from_aergo(1).unwrap().to_be_bytes_minimal();
    let err = replica.submit_tx_preconfirmed(sign_tx(body, &keys[0])).unwrap_err();
    match err {
        aergo_replica::ReplicaError::TxRejected(r) => assert_eq!(r.reason(), RejectReason::NonceTooLow),
        e => panic!("expected a rejection, got {e}"),
    }
    // Nonce 3 before 2: admitted, not promised yet; 2 brings it in after.
    let (third, outcome, _) = replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 3, 1)).unwrap();
    assert!(
        matches!(&outcome, PreconfOutcome::Queued { reason } if reason.contains("waiting for nonce 2")),
        "{outcome:?}"
    );
    let p2 = promised(replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 2, 1)).unwrap().1);
    assert_eq!(p2.index, 1);
    let (block, receipts) = seal(&replica, T0 + 3 * SECOND_NS);
    assert_eq!(block.txs().len(), 3);
    assert_eq!(block.txs()[2].hash().unwrap(), third);
    assert_eq!(find_breach(&p2, &block, &receipts).unwrap(), None);
}

#[test]
fn a_transaction_the_open_block_refuses_is_refused_at_submission() {
    let (g, keys) = genesis();
    let chain = Arc::new(Chain::memory(g).unwrap());
    let replica = open(chain.clone(), T0 + SECOND_NS);
    // The pool checks the balance against the head; the open block spends
    // most of it first: 900 then 900 of 1,000 AERGO.
    promised(replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 1, 900)).unwrap().1);
    let before = chain.head();
    let err = replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 2, 900));
    assert!(err.is_err(), "a second transfer of 900 of 1,000 AERGO must be refused: {:?}", err.map(|r| r.1));
    assert_eq!(chain.head().hash, before.hash);
    assert_eq!(replica.with_pool(|p| p.len()), 1, "the refused transaction left the pool");
}

#[test]
fn promises_survive_a_crash_of_the_producer() {
    let dir = tempfile::tempdir().unwrap();
    let (g, keys) = genesis();
    let mut preconfs = Vec::new();
    {
        let chain = Arc::new(Chain::open(dir.path(), g.clone()).unwrap());
        let replica = open(chain.clone(), T0 + SECOND_NS);
        for nonce in 1..=2 {
            let tx = transfer(&chain, &keys[0], &keys[1], nonce, 1);
            preconfs.push(promised(replica.submit_tx_preconfirmed(tx).unwrap().1));
        }
        // Applied but never promised: it may go anywhere after a crash.
        replica.submit_tx(transfer(&chain, &keys[2], &keys[1], 1, 1)).unwrap();
        // Dropped without sealing: the pool and the open block are gone.
    }
    let chain = Arc::new(Chain::open(dir.path(), g).unwrap());
    assert_eq!(chain.head().height, 0);
    let replica = open(chain.clone(), T0 + 2 * SECOND_NS);
    assert_eq!(replica.with_pool(|p| p.len()), 2, "the logged transactions are back in the pool");
    let p = promised(replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 3, 1)).unwrap().1);
    assert_eq!(p.index, 2);
    assert_eq!(p.timestamp_ns, preconfs[0].timestamp_ns, "the reopened block keeps its timestamp");
    let (block, receipts) = seal(&replica, T0 + 3 * SECOND_NS);
    for p in preconfs.iter().chain([&p]) {
        assert_eq!(find_breach(p, &block, &receipts).unwrap(), None);
    }
    // A restart now finds no log for the block after the new head.
    let head = chain.head();
    assert_eq!(chain.preconf_log().read(head.height + 1, &head.hash).unwrap(), None);
    // Promises two blocks on drop the sealed block's log.
    promised(replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 4, 1)).unwrap().1);
    seal(&replica, T0 + 5 * SECOND_NS);
    assert!(chain.preconf_log().read(1, &chain.genesis_hash()).unwrap().is_some());
    promised(replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 5, 1)).unwrap().1);
    assert_eq!(chain.preconf_log().read(1, &chain.genesis_hash()).unwrap(), None);
}

#[test]
fn a_clock_that_steps_back_does_not_stall_the_open_block() {
    let (g, keys) = genesis();
    let chain = Arc::new(Chain::memory(g).unwrap());
    let replica = open(chain.clone(), T0 + 100 * SECOND_NS);
    let p = promised(replica.submit_tx_preconfirmed(transfer(&chain, &keys[0], &keys[1], 1, 1)).unwrap().1);
    assert_eq!(p.timestamp_ns, T0 + 100 * SECOND_NS);
    // Within an interval of the promised timestamp it waits for it...
    replica.on_tick(T0 + 100 * SECOND_NS - SECOND_NS / 2).unwrap();
    assert_eq!(chain.head().height, 0);
    // ...but a clock a minute behind would stall the chain: it seals.
    let (block, receipts) = seal(&replica, T0 + 40 * SECOND_NS);
    assert_eq!(block.header().unwrap().timestamp, p.timestamp_ns);
    assert_eq!(find_breach(&p, &block, &receipts).unwrap(), None);
}

#[derive(Clone, Debug)]
enum Op {
    /// A transfer of `aergo` from account `from`, asking for a promise
    /// or not.
    Submit { from: usize, aergo: u64, promise: bool },
    /// The clock moves on by this many tenths of the block interval.
    Tick(u8),
    /// The producer dies (pool and open block lost) and restarts.
    Crash,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0usize..3, 1u64..4, any::<bool>()).prop_map(|(from, aergo, promise)| Op::Submit { from, aergo, promise }),
        3 => (1u8..25).prop_map(Op::Tick),
        1 => Just(Op::Crash),
    ]
}

/// The nonce a client would use next: the pool's, else the head's.
fn next_nonce(replica: &Replica, key: &PrivateKey) -> u64 {
    let chain = replica.chain();
    let sender = (chain.rules().chain_id_hash, key.address());
    replica
        .with_pool(|p| p.next_nonce(&sender))
        .unwrap_or_else(|| aergo_exec::account(&chain.head_state(), &key.address()).unwrap().nonce + 1)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Whatever the interleaving of submissions, seals and crashes of the
    /// producer, every promise it signed is kept by the block it named,
    /// and every promised transaction is on the chain exactly once.
    #[test]
    fn every_promise_is_kept_through_seals_and_crashes(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let (g, keys) = genesis();
        let mut now = T0 + SECOND_NS;
        let mut chain = Arc::new(Chain::open(dir.path(), g.clone()).unwrap());
        let mut replica = open(chain.clone(), now);
        let mut promises: Vec<Preconfirmation> = Vec::new();
        for op in ops {
            match op {
                Op::Submit { from, aergo, promise } => {
                    let to = (from + 1) % keys.len();
                    let tx = transfer(&chain, &keys[from], &keys[to], next_nonce(&replica, &keys[from]), aergo);
                    if promise {
                        if let PreconfOutcome::Preconfirmed(p) = replica.submit_tx_preconfirmed(tx).unwrap().1 {
                            promises.push(*p);
                        }
                    } else {
                        replica.submit_tx(tx).unwrap();
                    }
                }
                Op::Tick(tenths) => {
                    now += SECOND_NS / 10 * i64::from(tenths);
                    replica.on_tick(now).unwrap();
                }
                Op::Crash => {
                    drop(replica);
                    drop(chain);
                    chain = Arc::new(Chain::open(dir.path(), g.clone()).unwrap());
                    replica = open(chain.clone(), now);
                }
            }
        }
        // Seal whatever is open.
        for _ in 0..4 {
            now += 2 * SECOND_NS;
            replica.on_tick(now).unwrap();
        }
        proptest::prop_assert_eq!(replica.with_pool(|p| p.len()), 0);
        for p in &promises {
            let hash = chain.blocks().hash_at(p.height).unwrap().expect("the promised height was sealed");
            let block = chain.blocks().block_by_hash(&hash).unwrap().unwrap();
            let receipts = chain.blocks().block_receipts(&hash).unwrap().unwrap();
            proptest::prop_assert_eq!(find_breach(p, &block, &receipts).unwrap(), None);
            let location = chain.blocks().tx_location(&p.tx_hash().unwrap()).unwrap().unwrap();
            proptest::prop_assert_eq!((location.block_hash, location.index), (hash, p.index));
        }
    }
}
