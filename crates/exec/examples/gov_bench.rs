//! Costs of the governance transactions and the DPoS hook, as ratios
//! against references measured in the same run.
//!
//! Run: `cargo run --release -p aergo-exec --example gov_bench`
//! (a few seconds; `-- --quick` for a smaller run). The last lines are
//! `BENCH` lines:
//! - `gov_tx`: execution time per tx of stake, a 30-candidate vote and a
//!   parameter vote, each over a plain transfer (signatures are checked
//!   before timing, as the pool does);
//! - `dpos_hook`: an empty DPoS block (hook included) over an empty block
//!   of a solo chain;
//! - `election`: electing from many voted candidates over one full scan of
//!   `sys.candidates` (the election reads only the top of the ranking).

use std::ops::Bound;
use std::time::Instant;

use aergo_crypto::{dev_genesis, dev_key, sign_tx, PrivateKey};
use aergo_exec::{dpos, genesis_state, verify_tx, BlockBuilder, BlockContext, ChainRules, SlotInfo, VerifiedTx};
use aergo_store::{Direction, Hash, Snapshot, Store, TableStore};
use aergo_types::address::AERGO_SYSTEM;
use aergo_types::genesis::DposGenesis;
use aergo_types::{Address, Amount, ChainId, TxBody, TxType};

struct Net {
    store: Store,
    root: Hash,
    height: u64,
    slot: u64,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
    dpos: bool,
}

fn aergo(n: u128) -> Amount {
    Amount::from_aergo(n).unwrap()
}

fn bp_id(i: usize) -> String {
    dev_key("bench-bp", i as u32).public_key().peer_id()
}

impl Net {
    fn new(dpos: bool, accounts: u32) -> Net {
        let chain = ChainId::new(0, false, false, "bench", if dpos { "dpos" } else { "sbp" }).unwrap();
        let bps = if dpos { (0..3).map(bp_id).collect() } else { vec![] };
        let (mut g, keys) = dev_genesis(chain.clone(), 0, accounts, aergo(100_000), bps).unwrap();
        if dpos {
            g.dpos = Some(DposGenesis {
                min_stake: Some(aergo(1)),
                stake_lock_blocks: Some(0),
                epoch_blocks: Some(1_000_000),
                ..Default::default()
            });
        }
        let store = Store::memory();
        let root = genesis_state(&store, &g).unwrap();
        Net {
            store,
            root,
            height: 0,
            slot: 0,
            keys,
            rules: ChainRules { chain_id_hash: chain.hash(), public: false },
            dpos,
        }
    }

    fn builder(&self) -> BlockBuilder {
        let ctx = BlockContext { height: self.height + 1, timestamp_ns: 0, coinbase: self.keys[0].address() };
        let mut b = BlockBuilder::new(&self.store, self.root, ctx).unwrap();
        if self.dpos {
            let snap = Snapshot::open(&self.store, self.root);
            let producer = dpos::producer_for_slot(&snap, self.slot + 1).unwrap();
            b.begin_dpos(&SlotInfo { height: self.height + 1, slot: self.slot + 1, parent_slot: self.slot, producer })
                .unwrap();
        }
        b
    }

    /// Runs one block of `txs`; returns seconds spent building it.
    fn block(&mut self, txs: Vec<VerifiedTx>) -> f64 {
        let start = Instant::now();
        let mut b = self.builder();
        for tx in txs {
            b.push(tx).unwrap();
        }
        let out = b.finish().unwrap();
        let secs = start.elapsed().as_secs_f64();
        self.root = out.state_root;
        self.height += 1;
        self.slot += 1;
        secs
    }

    fn nonce(&self, who: usize) -> u64 {
        aergo_exec::account(&Snapshot::open(&self.store, self.root), &self.keys[who].address()).unwrap().nonce + 1
    }

    fn tx(&self, who: usize, ty: TxType, to: &Address, amount: Amount, payload: String) -> VerifiedTx {
        let body =
            TxBody::new(ty, self.nonce(who), &self.keys[who].address(), Some(to), amount, &self.rules.chain_id_hash)
                .with_payload(payload.into_bytes());
        verify_tx(sign_tx(body, &self.keys[who]), &self.rules).unwrap()
    }

    fn sys(&self, who: usize, amount: Amount, payload: String) -> VerifiedTx {
        self.tx(who, TxType::Governance, &Address::name(AERGO_SYSTEM).unwrap(), amount, payload)
    }
}

/// Best of `rounds` block times per tx, for one tx from each account.
fn per_tx(net: &mut Net, accounts: usize, rounds: usize, make: &dyn Fn(&Net, usize) -> VerifiedTx) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let txs: Vec<VerifiedTx> = (0..accounts).map(|w| make(net, w)).collect();
        best = best.min(net.block(txs) / accounts as f64);
    }
    best
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (accounts, rounds, voters) = if quick { (50usize, 3, 40usize) } else { (200, 5, 340) };

    // Transactions.
    let mut net = Net::new(true, accounts as u32);
    let ids: Vec<String> = (0..30).map(bp_id).collect();
    let transfer = per_tx(&mut net, accounts, rounds, &|n, w| {
        let to = n.keys[(w + 1) % n.keys.len()].address();
        n.tx(w, TxType::Transfer, &to, Amount::ONE_AERGO, String::new())
    });
    let stake = per_tx(&mut net, accounts, rounds, &|n, w| n.sys(w, aergo(10), r#"{"Name":"v1stake"}"#.into()));
    let vote = per_tx(&mut net, accounts, rounds, &|n, w| {
        n.sys(w, Amount::ZERO, serde_json::json!({"Name": "v1voteBP", "Args": ids}).to_string())
    });
    let dao = per_tx(&mut net, accounts, rounds, &|n, w| {
        n.sys(w, Amount::ZERO, format!(r#"{{"Name":"v1voteDAO","Args":["NAMEPRICE","{}"]}}"#, 1000 + w))
    });
    let payload = serde_json::json!({"Name": "v1voteBP", "Args": ids}).to_string();
    let mut parse_best = f64::MAX;
    for _ in 0..100 {
        let t = Instant::now();
        aergo_exec::gov::parse_call(payload.as_bytes()).unwrap();
        parse_best = parse_best.min(t.elapsed().as_secs_f64());
    }
    println!("parsing a 30-candidate v1voteBP payload (peer ids checked): {:.1} us", parse_best * 1e6);
    println!(
        "per tx: transfer {:.1} us, stake {:.1} us, voteBP(30) {:.1} us, voteDAO {:.1} us",
        transfer * 1e6,
        stake * 1e6,
        vote * 1e6,
        dao * 1e6
    );

    // The hook: empty blocks on both kinds of chain.
    let mut solo = Net::new(false, 1);
    let mut dpos_net = Net::new(true, 1);
    let (mut solo_best, mut dpos_best) = (f64::MAX, f64::MAX);
    for _ in 0..(rounds * 40) {
        solo_best = solo_best.min(solo.block(vec![]));
        dpos_best = dpos_best.min(dpos_net.block(vec![]));
    }
    println!("empty block: solo {:.1} us, dpos {:.1} us", solo_best * 1e6, dpos_best * 1e6);

    // The election over many candidates: `voters` accounts each vote 30
    // distinct candidates with distinct stakes.
    let mut big = Net::new(true, voters as u32);
    let stakes: Vec<VerifiedTx> =
        (0..voters).map(|w| big.sys(w, aergo(1 + w as u128), r#"{"Name":"v1stake"}"#.into())).collect();
    big.block(stakes);
    let votes: Vec<VerifiedTx> = (0..voters)
        .map(|w| {
            let ids: Vec<String> = (0..30).map(|j| bp_id(1000 + w * 30 + j)).collect();
            big.sys(w, Amount::ZERO, serde_json::json!({"Name": "v1voteBP", "Args": ids}).to_string())
        })
        .collect();
    big.block(votes);
    let snap = Snapshot::open(&big.store, big.root);
    let candidates = snap.count(aergo_exec::gov::CANDIDATES).unwrap();
    let current = dpos::producers(&snap).unwrap();
    let (mut elect_best, mut scan_best) = (f64::MAX, f64::MAX);
    let mut elected = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        elected = dpos::elect(&snap, &current).unwrap();
        elect_best = elect_best.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut rows = 0usize;
        for e in
            snap.range(aergo_exec::gov::CANDIDATES, Bound::Unbounded, Bound::Unbounded, Direction::Forward).unwrap()
        {
            let (_, v) = e.unwrap();
            aergo_store::codec::decode_row(&v).unwrap();
            rows += 1;
        }
        assert_eq!(rows as u64, candidates);
        scan_best = scan_best.min(t.elapsed().as_secs_f64());
    }
    assert_eq!(elected.len(), 3);
    println!("election over {candidates} candidates: {:.1} us; full scan {:.1} us", elect_best * 1e6, scan_best * 1e6);

    println!(
        "BENCH gov_tx stake_vs_transfer={:.2} vote_bp30_vs_transfer={:.2} vote_dao_vs_transfer={:.2}",
        stake / transfer,
        vote / transfer,
        dao / transfer
    );
    println!("BENCH dpos_hook empty_dpos_block_vs_empty_solo_block={:.2}", dpos_best / solo_best);
    println!("BENCH election candidates={candidates} elect_vs_full_scan={:.4}", elect_best / scan_best);
}
