//! `aergo bench branch`, the chain's part: branches as the chain runs them
//! (transactions through `exec::BlockBuilder`, signed as clients sign
//! them), at two sizes of state, to show that creating a branch and
//! merging one cost the size of the change and not of the state.
//!
//! For each size, a dev chain's genesis state gets `rows` more accounts in
//! `sys.accounts` (built as one tree and mounted, so building costs what
//! writing the tree costs). Then, each as its own block on the same
//! parent and timed from the builder's creation to its `finish` (the new
//! state root):
//! - **create**: one `v1createBranch` at the parent height;
//! - **auto merge**: `v1mergeBranch` of a branch holding `changes`
//!   transfers (to as many new accounts), replayed on main, which has
//!   `changes` transfers of its own since the fork;
//! - **three-way merge**: the same with a `three-way` branch: both sides'
//!   `changes` rows (and the coinbase, paid on both, settled by the
//!   balance rule).
//!
//! Each figure is the median of `repeats` blocks, in microseconds.

use std::time::Instant;

use aergo_client::Result;
use aergo_crypto::{dev_genesis, sign_tx, PrivateKey};
use aergo_exec::{genesis_state, system, verify_tx_in, BlockBuilder, BlockContext, ChainRules, VerifiedTx};
use aergo_store::codec::{encode_key, encode_row, Value};
use aergo_store::{Overlay, Snapshot, Store, TableStore};
use aergo_types::address::AERGO_BRANCH;
use aergo_types::payload::{BranchCall, MergePolicy, MergeStrategy};
use aergo_types::{Address, Amount, ChainId, Hash, Tx, TxBody, TxType};

use crate::{fail, median};

/// The chain's figures at one size, in microseconds.
#[derive(Clone, Debug)]
pub struct ChainFigures {
    pub create_us: f64,
    pub auto_merge_us: f64,
    pub three_way_merge_us: f64,
}

struct Bench {
    store: Store,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
    root: Hash,
    height: u64,
    nonces: std::collections::BTreeMap<(Hash, usize), u64>,
}

impl Bench {
    fn sign(&mut self, who: usize, lane: Hash, body: impl FnOnce(u64, &Address, &Hash) -> TxBody) -> Tx {
        let n = self.nonces.entry((lane, who)).or_insert(0);
        *n += 1;
        let nonce = *n;
        sign_tx(body(nonce, &self.keys[who].address(), &lane), &self.keys[who])
    }

    fn registry(&mut self, who: usize, call: BranchCall) -> Tx {
        let lane = self.rules.chain_id_hash;
        let to = Address::name(AERGO_BRANCH).expect("a system name");
        self.sign(who, lane, |n, from, lane| {
            TxBody::new(TxType::Governance, n, from, Some(&to), Amount::ZERO, lane).with_payload(call.payload())
        })
    }

    fn verify(&self, txs: Vec<Tx>) -> Result<Vec<VerifiedTx>> {
        let main = Snapshot::open(&self.store, self.root);
        txs.into_iter()
            .map(|tx| verify_tx_in(tx, &self.rules, &main).map_err(|e| fail(format!("verify: {e}"))))
            .collect()
    }

    /// Builds a block of `txs` on the current root; every one must apply.
    /// Returns the new root and the microseconds it took.
    fn block(&self, txs: Vec<VerifiedTx>) -> Result<(Hash, f64)> {
        let ctx = BlockContext {
            height: self.height + 1,
            timestamp_ns: (self.height as i64 + 1) * 1_000_000_000,
            coinbase: self.keys[3].address(),
        };
        let started = Instant::now();
        let mut b = BlockBuilder::new(&self.store, self.root, ctx).map_err(|e| fail(e.to_string()))?;
        for tx in txs {
            let r = b.push(tx).map_err(|e| fail(format!("a bench transaction was refused: {e}")))?;
            if r.status == "ERROR" {
                return Err(fail(format!("a bench transaction failed: {}", r.ret)));
            }
        }
        let out = b.finish().map_err(|e| fail(e.to_string()))?;
        Ok((out.state_root, started.elapsed().as_secs_f64() * 1e6))
    }

    fn commit(&mut self, txs: Vec<Tx>) -> Result<()> {
        let txs = self.verify(txs)?;
        let (root, _) = self.block(txs)?;
        self.root = root;
        self.height += 1;
        Ok(())
    }

    fn lane(&self, branch: &str) -> Result<Hash> {
        aergo_exec::branches::read(&Snapshot::open(&self.store, self.root), branch)
            .map_err(|e| fail(e.to_string()))?
            .map(|b| b.lane)
            .ok_or_else(|| fail(format!("branch {branch} was not created")))
    }
}

/// A chain whose state holds `rows` accounts besides the dev ones.
fn chain_of(store: &Store, rows: u64) -> Result<Bench> {
    let aergo = |n: u128| Amount::from_aergo(n).expect("a small amount");
    let chain = ChainId::dev();
    let (genesis, keys) =
        dev_genesis(chain.clone(), 0, 4, aergo(1_000_000), vec![]).map_err(|e| fail(e.to_string()))?;
    let g = genesis_state(store, &genesis).map_err(|e| fail(e.to_string()))?;
    let snap = Snapshot::open(store, g);
    let accounts = system::ACCOUNTS;
    let meta = snap.table(accounts).map_err(|e| fail(e.to_string()))?.ok_or_else(|| fail("no sys.accounts"))?;
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = snap
        .range(accounts, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, aergo_store::Direction::Forward)
        .map_err(|e| fail(e.to_string()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let balance = Value::Numeric(1_000u32.into());
    for i in 0..rows {
        let address = format!("bench{i:012}");
        entries.push((
            encode_key(&[Value::Text(address.clone())]),
            encode_row(&[Value::Text(address), balance.clone(), Value::Int(0)]),
        ));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let tree = store.build(&entries).map_err(|e| fail(e.to_string()))?;
    drop(entries);
    let mut o = Overlay::new(store, g);
    o.mount(accounts, tree, meta).map_err(|e| fail(e.to_string()))?;
    let root = o.flush().map_err(|e| fail(e.to_string()))?;
    store.commit(&[], &[root]).map_err(|e| fail(e.to_string()))?;
    let rules = ChainRules { chain_id_hash: chain.hash(), public: false };
    Ok(Bench { store: store.clone(), keys, rules, root, height: 0, nonces: Default::default() })
}

/// Recipients of the transfers: fresh accounts, `count` of them from `seed`.
fn recipients(seed: u64, count: u64) -> Result<Vec<Address>> {
    (0..count)
        .map(|i| {
            let secret = Hash::sha256(format!("bench recipient {seed} {i}").as_bytes());
            PrivateKey::from_bytes(secret.as_bytes()).map(|k| k.address()).map_err(|e| fail(e.to_string()))
        })
        .collect()
}

/// Measures creating and merging branches on a chain of `rows` accounts.
pub fn chain_figures(store: &Store, rows: u64, changes: u64, repeats: usize) -> Result<ChainFigures> {
    let mut c = chain_of(store, rows)?;
    let one = Amount::from_aer(1);
    // Block 1: the two branches (a past-height fork is a lookup: at 0).
    let writers = vec![c.keys[1].address()];
    let auto = c.registry(
        0,
        BranchCall::Create {
            name: "auto".into(),
            base: "main".into(),
            at: None,
            policy: MergePolicy::Auto,
            writers: writers.clone(),
        },
    );
    let three = c.registry(
        0,
        BranchCall::Create {
            name: "three".into(),
            base: "main".into(),
            at: None,
            policy: MergePolicy::ThreeWay,
            writers,
        },
    );
    c.commit(vec![auto, three])?;
    // Block 2: `changes` transfers on each branch and on main.
    let mut txs = Vec::new();
    for (branch, seed, from) in [("auto", 1, 1), ("three", 2, 1), ("main", 3, 2)] {
        let lane = if branch == "main" { c.rules.chain_id_hash } else { c.lane(branch)? };
        for to in recipients(seed, changes)? {
            txs.push(c.sign(from, lane, |n, f, l| TxBody::transfer(n, f, &to, one, l)));
        }
    }
    c.commit(txs)?;

    let (mut create, mut auto_merge, mut three_way) = (Vec::new(), Vec::new(), Vec::new());
    let nonces = c.nonces.clone();
    for r in 0..repeats {
        // Each measured block starts from the same parent.
        c.nonces = nonces.clone();
        let call = BranchCall::Create {
            name: format!("x{r}"),
            base: "main".into(),
            at: Some(0),
            policy: MergePolicy::Auto,
            writers: Vec::new(),
        };
        let tx = c.registry(0, call);
        create.push(c.block(c.verify(vec![tx])?)?.1);
        c.nonces = nonces.clone();
        let tx = c.registry(
            1,
            BranchCall::Merge { source: "auto".into(), target: "main".into(), strategy: MergeStrategy::Auto },
        );
        auto_merge.push(c.block(c.verify(vec![tx])?)?.1);
        c.nonces = nonces.clone();
        let tx = c.registry(
            1,
            BranchCall::Merge { source: "three".into(), target: "main".into(), strategy: MergeStrategy::Consensual },
        );
        three_way.push(c.block(c.verify(vec![tx])?)?.1);
    }
    // The merges did what they say: one auto merge, checked.
    c.nonces = nonces;
    let tx = c
        .registry(1, BranchCall::Merge { source: "auto".into(), target: "main".into(), strategy: MergeStrategy::Auto });
    c.commit(vec![tx])?;
    let main = Snapshot::open(&c.store, c.root);
    let first = recipients(1, 1)?;
    let got = aergo_exec::account(&main, &first[0]).map_err(|e| fail(e.to_string()))?.balance;
    if got != one {
        return Err(fail(format!("after the auto merge a recipient holds {got} aer, expected 1")));
    }
    Ok(ChainFigures {
        create_us: median(create),
        auto_merge_us: median(auto_merge),
        three_way_merge_us: median(three_way),
    })
}
