//! `aergo bench parallel`: one block's execution with the parallel
//! executor (`exec::BlockBuilder::push_each` on `threads` workers) against
//! the same block executed in order on one thread, in the same process on
//! the same parent state.
//!
//! A dev chain gets `senders` funded keys and the whitepaper contract with
//! two ids per key (`accounts` rows). Three blocks of `txs` transactions,
//! signed as clients sign them, each key sending `txs / senders` in nonce
//! order:
//! - **calls**: the whitepaper `transfer` between the sender's own two ids
//!   (no two keys touch the same rows: the groups are the senders);
//! - **transfers**: plain AERGO transfers from each key to its twin (keys
//!   2k and 2k+1), so that pairs of keys form the groups;
//! - **hot25**: as calls, but a quarter of them move between the same
//!   two ids (a hot spot joining a quarter of the senders in one group);
//! - **hot**: every call moves between the same two ids (one group: the
//!   cost of finding that out, against plain execution in order).
//!
//! Beside them, as this machine's reference: the two-thread scaling of
//! plain SHA-256 (the same hashing on one thread and on two), since what
//! two vCPUs give varies from machine to machine, and the parallelism
//! each block has to offer whatever the machine (transactions over the
//! critical path of its dependency forest).
//!
//! - **smallbank**: the six Smallbank transaction types (`workloads/
//!   smallbank.sql`) in turn, on customers drawn uniformly from 400 (two
//!   customers for Amalgamate and SendPayment, which join their groups);
//! - **ycsb**: YCSB's workload A (`workloads/ycsb.sql`): half reads, half
//!   updates of records drawn uniformly from 1,000.
//!
//! Each block runs `repeats` times per mode, timed from the builder's
//! creation to its `finish` (state root computed); the figure is the
//! median. Every run must give the same state root and receipts root as
//! the first serial run, or the benchmark fails.

use std::ops::ControlFlow;
use std::time::Instant;

use aergo_client::Result;
use aergo_crypto::{dev_genesis, sign_tx, PrivateKey};
use aergo_exec::{genesis_state, verify_tx, BlockContext, ChainRules, Executor, ParallelStats, VerifiedTx};
use aergo_store::Store;
use aergo_types::payload::{encode_call_payload, encode_deploy_payload};
use aergo_types::{Address, Amount, ChainId, Hash, TxBody, TxType};
use serde_json::{json, Value};

use crate::contract::{WHITEPAPER_DDL, WHITEPAPER_FN};
use crate::{fail, median};

const FUND_FN: &str = "CREATE FUNCTION fund(who VARCHAR, amt NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO accounts VALUES (who, amt);
END;
$$ LANGUAGE plpgsql";

#[derive(Clone, Debug)]
pub struct ParallelBenchOptions {
    /// Transactions per block.
    pub txs: usize,
    /// Funded keys sending them (an even number).
    pub senders: usize,
    /// Workers of the parallel runs (0: one per core).
    pub threads: usize,
    pub repeats: usize,
}

impl ParallelBenchOptions {
    pub fn full() -> Self {
        ParallelBenchOptions { txs: 3_000, senders: 200, threads: 0, repeats: 5 }
    }

    pub fn quick() -> Self {
        ParallelBenchOptions { txs: 600, senders: 60, threads: 0, repeats: 3 }
    }

    fn workers(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// One workload's figures.
#[derive(Clone, Debug)]
pub struct Workload {
    pub name: &'static str,
    pub serial_ms: f64,
    pub parallel_ms: f64,
    pub stats: ParallelStats,
}

impl Workload {
    /// Parallel throughput over serial throughput.
    pub fn speedup(&self) -> f64 {
        self.serial_ms / self.parallel_ms
    }

    fn tps(&self, txs: usize, ms: f64) -> f64 {
        txs as f64 / (ms / 1000.0)
    }
}

#[derive(Clone, Debug)]
pub struct ParallelReport {
    pub txs: usize,
    pub threads: usize,
    pub workloads: Vec<Workload>,
    /// SHA-256 throughput on two threads over one, on this machine.
    pub sha_scaling: f64,
}

impl ParallelReport {
    pub fn bench_line(&self) -> String {
        let mut line = format!(
            "BENCH parallel threads={} txs={} sha256_two_thread_scaling={:.2}",
            self.threads, self.txs, self.sha_scaling
        );
        for w in &self.workloads {
            line.push_str(&format!(
                " {n}_speedup={:.2} {n}_available_parallelism={:.1} {n}_ideal_parallelism={:.1} {n}_serial_tps={:.0} {n}_parallel_tps={:.0} {n}_rerun={}",
                w.speedup(),
                w.stats.available_parallelism(),
                w.stats.ideal_parallelism(),
                w.tps(self.txs, w.serial_ms),
                w.tps(self.txs, w.parallel_ms),
                w.stats.rerun,
                n = w.name
            ));
        }
        line
    }

    pub fn text(&self) -> String {
        let mut t = format!(
            "one block of {} transactions, in order on one thread vs on {} workers (median, builder to state root);\n\
             this machine's SHA-256 on two threads over one: {:.2}x\n",
            self.txs, self.threads, self.sha_scaling
        );
        for w in &self.workloads {
            t.push_str(&format!(
                "  {:<10} in order {:>8.1} ms   parallel {:>8.1} ms   speedup {:.2}x   \
                 parallelism {:.1} (ideal {:.1})   (groups {}, committed {}, re-run {}, ordered {})\n",
                w.name,
                w.serial_ms,
                w.parallel_ms,
                w.speedup(),
                w.stats.available_parallelism(),
                w.stats.ideal_parallelism(),
                w.stats.groups,
                w.stats.committed,
                w.stats.rerun,
                w.stats.ordered
            ));
        }
        t.push_str(&self.bench_line());
        t
    }

    pub fn json(&self) -> Value {
        json!({
            "txs": self.txs,
            "threads": self.threads,
            "sha256_two_thread_scaling": self.sha_scaling,
            "workloads": self.workloads.iter().map(|w| json!({
                "name": w.name,
                "serial_ms": w.serial_ms,
                "parallel_ms": w.parallel_ms,
                "speedup": w.speedup(),
                "available_parallelism": w.stats.available_parallelism(),
                "ideal_parallelism": w.stats.ideal_parallelism(),
                "groups": w.stats.groups,
                "committed": w.stats.committed,
                "rerun": w.stats.rerun,
                "ordered": w.stats.ordered,
            })).collect::<Vec<_>>(),
            "bench": self.bench_line(),
        })
    }
}

/// SHA-256 throughput of two threads over one thread (each hashing the
/// same amount), the best median of three.
fn sha256_scaling() -> f64 {
    const ROUNDS: usize = 40_000;
    let hash = || {
        let mut h = aergo_types::Hash::ZERO;
        for _ in 0..ROUNDS {
            h = aergo_types::Hash::sha256(h.as_bytes().as_slice());
        }
        h
    };
    let mut ratios = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(hash());
        let one = t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::thread::scope(|s| {
            let other = s.spawn(|| std::hint::black_box(hash()));
            std::hint::black_box(hash());
            let _ = other.join();
        });
        let two = t.elapsed().as_secs_f64();
        ratios.push(2.0 * one / two);
    }
    median(ratios)
}

struct Chain {
    store: Store,
    root: Hash,
    keys: Vec<PrivateKey>,
    rules: ChainRules,
    /// The whitepaper contract, Smallbank and the YCSB store.
    whitepaper: Address,
    smallbank: Address,
    ycsb: Address,
    /// Nonces key 0 used in the setup blocks.
    setup_nonces: u64,
}

impl Chain {
    fn ctx(&self, height: u64) -> BlockContext {
        BlockContext { height, timestamp_ns: 1_000_000_000 * height as i64, coinbase: self.keys[0].address() }
    }

    fn signed(&self, from: usize, body: TxBody) -> Result<VerifiedTx> {
        verify_tx(sign_tx(body, &self.keys[from]), &self.rules).map_err(|e| fail(format!("verify: {e}")))
    }

    fn call(&self, from: usize, nonce: u64, name: &str, args: &[Value]) -> Result<VerifiedTx> {
        self.call_on(&self.whitepaper, from, nonce, name, args)
    }

    fn call_on(&self, contract: &Address, from: usize, nonce: u64, name: &str, args: &[Value]) -> Result<VerifiedTx> {
        let body = TxBody::new(
            TxType::Call,
            nonce,
            &self.keys[from].address(),
            Some(contract),
            Amount::ZERO,
            &self.rules.chain_id_hash,
        )
        .with_payload(encode_call_payload(name, args))
        .with_gas(0, Amount::ZERO);
        self.signed(from, body)
    }

    /// Runs a block, returning (elapsed ms, state root, receipts root, stats).
    fn run(&self, threads: usize, txs: &[VerifiedTx]) -> Result<(f64, Hash, Hash, ParallelStats)> {
        let started = Instant::now();
        let mut b = Executor::with_threads(threads)
            .builder(&self.store, self.root, self.ctx(2))
            .map_err(|e| fail(format!("builder: {e}")))?;
        let failed = b.push_each(txs.to_vec(), |i, _, r| match r {
            Ok(_) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(format!("tx {i}: {e}")),
        });
        if let Some(e) = failed {
            return Err(fail(format!("a bench transaction was refused: {e}")));
        }
        let stats = b.parallel_stats();
        let out = b.finish().map_err(|e| fail(format!("finish: {e}")))?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.store.discard_staged().map_err(|e| fail(format!("store: {e}")))?;
        Ok((ms, out.state_root, out.receipts_root, stats))
    }
}

/// Smallbank's customers and YCSB's records in the setup.
const CUSTOMERS: usize = 400;
const RECORDS: usize = 1_000;

/// Smallbank and the YCSB store, as SQL contracts in this repository.
pub const SMALLBANK_SQL: &str = include_str!("../workloads/smallbank.sql");
pub const YCSB_SQL: &str = include_str!("../workloads/ycsb.sql");

fn setup(o: &ParallelBenchOptions) -> Result<Chain> {
    let chain_id = ChainId::dev();
    let each = Amount::from_aergo(100_000).map_err(|e| fail(e.to_string()))?;
    let (genesis, keys) =
        dev_genesis(chain_id.clone(), 0, o.senders as u32, each, vec![]).map_err(|e| fail(e.to_string()))?;
    let store = Store::memory();
    let root = genesis_state(&store, &genesis).map_err(|e| fail(format!("genesis: {e}")))?;
    let rules = ChainRules { chain_id_hash: chain_id.hash(), public: false };
    let nobody = Address::contract_from(&keys[0].address(), 0);
    let mut chain = Chain {
        store,
        root,
        keys,
        rules,
        whitepaper: nobody.clone(),
        smallbank: nobody.clone(),
        ycsb: nobody,
        setup_nonces: 0,
    };
    let mut nonce = 0u64;
    let mut next = || {
        nonce += 1;
        nonce
    };
    let deploy = |chain: &Chain, nonce: u64, source: &str| {
        let body = TxBody::new(
            TxType::Deploy,
            nonce,
            &chain.keys[0].address(),
            None,
            Amount::ZERO,
            &chain.rules.chain_id_hash,
        )
        .with_payload(encode_deploy_payload(source, None))
        .with_gas(0, Amount::ZERO);
        chain.signed(0, body)
    };
    // Block 1: the contracts. Block 2: their rows.
    let n = next();
    chain.whitepaper = Address::contract_from(&chain.keys[0].address(), n);
    let mut txs = vec![deploy(&chain, n, &format!("{WHITEPAPER_DDL};\n{WHITEPAPER_FN};\n{FUND_FN};\n"))?];
    let n = next();
    chain.smallbank = Address::contract_from(&chain.keys[0].address(), n);
    txs.push(deploy(&chain, n, SMALLBANK_SQL)?);
    let n = next();
    chain.ycsb = Address::contract_from(&chain.keys[0].address(), n);
    txs.push(deploy(&chain, n, YCSB_SQL)?);
    chain.commit_setup(1, txs)?;
    let mut txs = Vec::new();
    for id in 0..2 * o.senders {
        txs.push(chain.call(0, next(), "fund", &[json!(format!("id{id}")), json!("1000000")])?);
    }
    for c in 0..CUSTOMERS {
        let args = [json!(format!("c{c}")), json!("10000"), json!("10000")];
        txs.push(chain.call_on(&chain.smallbank, 0, next(), "open_account", &args)?);
    }
    for r in 0..RECORDS {
        txs.push(chain.call_on(&chain.ycsb, 0, next(), "ycsb_insert", &[json!(format!("k{r}")), json!("v")])?);
    }
    chain.commit_setup(2, txs)?;
    chain.setup_nonces = nonce;
    Ok(chain)
}

impl Chain {
    /// Executes a setup block in order and makes its state the parent of
    /// the measured blocks; every call must succeed.
    fn commit_setup(&mut self, height: u64, txs: Vec<VerifiedTx>) -> Result<()> {
        let out = aergo_exec::execute_block(&self.store, self.root, self.ctx(height), txs)
            .map_err(|(i, e)| fail(format!("setup tx {i}: {e}")))?;
        if let Some(r) = out.receipts.iter().find(|r| r.status == "ERROR") {
            return Err(fail(format!("setup call failed: {}", r.ret)));
        }
        self.store.commit(&[], &[out.state_root]).map_err(|e| fail(format!("commit: {e}")))?;
        self.root = out.state_root;
        Ok(())
    }

    /// The nonce of key `k` for its `round`-th transaction of the measured
    /// block (key 0 used nonces in the setup).
    fn nonce(&self, k: usize, round: usize) -> u64 {
        let used = if k == 0 { self.setup_nonces } else { 0 };
        used + round as u64 + 1
    }
}

/// A deterministic stream of pseudo-random indices (a 64-bit LCG), so
/// every run measures the same blocks.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn workload(chain: &Chain, o: &ParallelBenchOptions, name: &str) -> Result<Vec<VerifiedTx>> {
    let rounds = o.txs / o.senders;
    let mut txs = Vec::with_capacity(o.txs);
    let mut rng = Lcg(0x5eed);
    let own = |k: usize| [json!(format!("id{}", 2 * k)), json!(format!("id{}", 2 * k + 1)), json!("1")];
    let hot = [json!("id0"), json!("id1"), json!("1")];
    for round in 0..rounds {
        for k in 0..o.senders {
            let n = chain.nonce(k, round);
            let tx = match name {
                "calls" => chain.call(k, n, "transfer", &own(k))?,
                "hot" => chain.call(k, n, "transfer", &hot)?,
                "hot25" if k % 4 == 0 => chain.call(k, n, "transfer", &hot)?,
                "hot25" => chain.call(k, n, "transfer", &own(k))?,
                "smallbank" => {
                    let a = json!(format!("c{}", rng.below(CUSTOMERS)));
                    let b = json!(format!("c{}", rng.below(CUSTOMERS)));
                    let (f, args) = match (k + round) % 6 {
                        0 => ("balance", vec![a]),
                        1 => ("deposit_checking", vec![a, json!("5")]),
                        2 => ("transact_savings", vec![a, json!("-3")]),
                        3 => ("amalgamate", vec![a, b]),
                        4 => ("write_check", vec![a, json!("7")]),
                        _ => ("send_payment", vec![a, b, json!("2")]),
                    };
                    chain.call_on(&chain.smallbank, k, n, f, &args)?
                }
                "ycsb" => {
                    let key = json!(format!("k{}", rng.below(RECORDS)));
                    if rng.below(2) == 0 {
                        chain.call_on(&chain.ycsb, k, n, "ycsb_read", &[key])?
                    } else {
                        chain.call_on(&chain.ycsb, k, n, "ycsb_update", &[key, json!(format!("v{round}"))])?
                    }
                }
                _ => {
                    let twin = chain.keys[k ^ 1].address();
                    let body = TxBody::new(
                        TxType::Transfer,
                        n,
                        &chain.keys[k].address(),
                        Some(&twin),
                        Amount::from_aer(1),
                        &chain.rules.chain_id_hash,
                    );
                    chain.signed(k, body)?
                }
            };
            txs.push(tx);
        }
    }
    Ok(txs)
}

/// Runs the benchmark, reporting progress through `progress`.
pub fn bench_parallel(o: &ParallelBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<ParallelReport> {
    if o.senders < 2 || !o.senders.is_multiple_of(2) || o.txs < o.senders {
        return Err(fail(format!(
            "need an even number of senders >= 2 and txs >= senders, got {} and {}",
            o.senders, o.txs
        )));
    }
    let threads = o.workers();
    progress(&format!("setting up: {} keys, the whitepaper contract with {} ids", o.senders, 2 * o.senders));
    let chain = setup(o)?;
    let mut workloads = Vec::new();
    let sha_scaling = sha256_scaling();
    progress(&format!("SHA-256 on two threads over one: {sha_scaling:.2}x"));
    for name in ["calls", "transfers", "hot25", "hot", "smallbank", "ycsb"] {
        let txs = workload(&chain, o, name)?;
        let (_, root, receipts_root, _) = chain.run(1, &txs)?;
        let mut serial = Vec::new();
        let mut parallel = Vec::new();
        let mut stats = ParallelStats::default();
        for _ in 0..o.repeats.max(1) {
            for (threads_now, times) in [(1, &mut serial), (threads, &mut parallel)] {
                let (ms, r, rr, s) = chain.run(threads_now, &txs)?;
                if (r, rr) != (root, receipts_root) {
                    return Err(fail(format!("{name}: {threads_now} workers gave state root {r}, in order {root}")));
                }
                times.push(ms);
                if threads_now == threads {
                    stats = s;
                }
            }
        }
        let w = Workload { name, serial_ms: median(serial), parallel_ms: median(parallel), stats };
        progress(&format!(
            "{name}: in order {:.1} ms, parallel {:.1} ms ({:.2}x)",
            w.serial_ms,
            w.parallel_ms,
            w.speedup()
        ));
        workloads.push(w);
    }
    Ok(ParallelReport { txs: (o.txs / o.senders) * o.senders, threads, workloads, sha_scaling })
}
