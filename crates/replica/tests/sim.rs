//! The deterministic BFT-DPoS simulation of `aergo_consensus::sim` over
//! real execution: every node has its own memory [`Store`] holding the
//! state of a real [`Genesis`]; transactions are real signed transfers;
//! a block is applied with the real [`BlockBuilder`] on its parent's state
//! root, so the state roots the checker compares across nodes (at every
//! final height, after every step) are real prolly-tree roots.
//!
//! - `sim_real_execution_ci_seeds`: four seeds, for every CI run (a few
//!   seconds in debug mode).
//! - `SEED=<n> cargo test -p aergo-replica --test sim sim_real_execution_replay -- --nocapture`
//!   replays one seed (`TRACE=1` prints every event).
//! - `SIM_SEEDS=<count> cargo test -p aergo-replica --release --test sim -- --ignored --nocapture`
//!   runs many seeds (default 50, from `SIM_FIRST_SEED`,
//!   default 1000) and prints the failing seeds with their replay command.
//!
//! Each transaction id has its own prefunded sender (`dev_key("dev", id)`,
//! nonce 1), so every transaction is valid exactly once on any branch. A
//! transaction the state refuses would be skipped (as the block builder
//! skips it), and is counted: the tests require none, since the simulator
//! never puts a transaction twice on one branch.
//!
//! Not covered here: the DPoS producer bookkeeping in execution (the
//! simulated chain has a plain state; the simulator elects the producer
//! sets itself). The replica's bus tests run that part with real blocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use aergo_consensus::sim::{Application, SimParams, SimReport, Simulation};
use aergo_crypto::{dev_genesis, dev_key, sign_tx, PrivateKey};
use aergo_exec::{verify_tx, BlockBuilder, BlockContext, ChainRules, VerifiedTx};
use aergo_store::Store;
use aergo_types::{Address, Amount, ChainId, Genesis, Hash, TxBody};

/// Prefunded senders: one per transaction id; ids at or above it have an
/// unfunded sender (refused by the state, counted as skipped).
const SENDERS: u32 = 1200;
const GENESIS_TS_NS: i64 = 1_700_000_000_000_000_000;

struct Fixture {
    genesis: Genesis,
    rules: ChainRules,
    senders: Vec<PrivateKey>,
    recipient: Address,
    coinbase: Address,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let chain_id = ChainId::new(0, false, false, "sim.real", "sbp").unwrap();
        let (genesis, senders) =
            dev_genesis(chain_id, GENESIS_TS_NS, SENDERS, Amount::from_aergo(100).unwrap(), Vec::new()).unwrap();
        genesis.validate().unwrap();
        let rules = ChainRules { chain_id_hash: genesis.chain_id.hash(), public: false };
        Fixture {
            genesis,
            rules,
            senders,
            recipient: dev_key("sim-recipient", 0).address(),
            coinbase: dev_key("sim-coinbase", 0).address(),
        }
    })
}

/// A transaction of the simulation: its id and the verified transfer.
#[derive(Clone, Debug)]
struct SimTx {
    id: u64,
    vtx: VerifiedTx,
}

#[derive(Default)]
struct Counters {
    blocks_applied: AtomicU64,
    txs_applied: AtomicU64,
    txs_skipped: AtomicU64,
}

/// One node's execution: its own memory store (its "disk": it survives
/// the node's simulated crashes, like the block store it stands for).
struct RealApp {
    store: Store,
    genesis_root: Hash,
    counters: Arc<Counters>,
}

impl RealApp {
    fn new(counters: Arc<Counters>) -> RealApp {
        let store = Store::memory();
        let root = aergo_exec::genesis_state(&store, &fixture().genesis).unwrap();
        RealApp { store, genesis_root: root, counters }
    }
}

impl Application for RealApp {
    type Tx = SimTx;

    fn make_tx(id: u64) -> SimTx {
        let f = fixture();
        let key = match f.senders.get(id as usize) {
            Some(k) => k.clone(),
            None => dev_key("sim-unfunded", id as u32),
        };
        let body =
            TxBody::transfer(1, &key.address(), &f.recipient, Amount::from_aergo(1).unwrap(), &f.rules.chain_id_hash);
        let vtx = verify_tx(sign_tx(body, &key), &f.rules).unwrap();
        SimTx { id, vtx }
    }

    fn tx_id(tx: &SimTx) -> u64 {
        tx.id
    }

    fn tx_bytes(tx: &SimTx) -> Vec<u8> {
        tx.vtx.hash().to_vec()
    }

    fn genesis_root(&self) -> Hash {
        self.genesis_root
    }

    fn apply(&mut self, parent_root: &Hash, height: u64, txs: &[SimTx]) -> Result<Hash, String> {
        let ctx = BlockContext {
            height,
            timestamp_ns: GENESIS_TS_NS.saturating_add(height as i64 * 1_000_000_000),
            coinbase: fixture().coinbase.clone(),
        };
        let mut builder = BlockBuilder::new(&self.store, *parent_root, ctx)
            .map_err(|e| format!("execution at height {height}: {e}"))?;
        for tx in txs {
            match builder.push(tx.vtx.clone()) {
                Ok(_) => {
                    self.counters.txs_applied.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.is_rejection() => {
                    self.counters.txs_skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => return Err(format!("execution of tx {} at height {height}: {e}", tx.id)),
            }
        }
        let out = builder.finish().map_err(|e| format!("execution at height {height}: {e}"))?;
        self.counters.blocks_applied.fetch_add(1, Ordering::Relaxed);
        Ok(out.state_root)
    }
}

/// The seed's scenario (the same as over the stand-in execution).
fn params(seed: u64) -> SimParams {
    SimParams::for_seed(seed)
}

fn run(p: SimParams) -> Result<(SimReport, Arc<Counters>), String> {
    let seed = p.seed;
    let total_slots = p.chaos_slots + p.heal_slots;
    assert!(
        p.txs_per_slot * (total_slots + 2) < SENDERS as u64,
        "the scenario submits more transactions than there are prefunded senders"
    );
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let sim = Simulation::new(p, move |_| RealApp::new(c.clone())).map_err(|e| format!("seed {seed}: setup: {e}"))?;
    let report = sim.run().map_err(|f| {
        format!(
            "{f}\n  replay over real execution: SEED={seed} cargo test -p aergo-replica --test sim \
             sim_real_execution_replay -- --nocapture"
        )
    })?;
    let skipped = counters.txs_skipped.load(Ordering::Relaxed);
    if skipped > 0 {
        return Err(format!("seed {seed}: {skipped} transactions refused by the state: one was put twice on a branch"));
    }
    if report.min_final_height <= report.final_height_at_heal {
        return Err(format!(
            "seed {seed}: no progress after the heal: final height {} (was {} at the heal)",
            report.min_final_height, report.final_height_at_heal
        ));
    }
    Ok((report, counters))
}

fn show(r: &SimReport, c: &Counters) {
    println!(
        "seed {:>6} ({}): {} steps, final height min {} (at heal {}), {} blocks produced, {} applied, {} txs applied, \
         {} final of {} submitted, {} crashes, {} partitions, {} messages lost",
        r.seed,
        r.scenario,
        r.steps,
        r.min_final_height,
        r.final_height_at_heal,
        r.blocks_produced,
        c.blocks_applied.load(Ordering::Relaxed),
        c.txs_applied.load(Ordering::Relaxed),
        r.txs_final,
        r.txs_submitted,
        r.crashes,
        r.partitions,
        r.messages_lost,
    );
}

#[test]
fn sim_real_execution_ci_seeds() {
    let mut txs_final = 0;
    let mut crashes = 0;
    for seed in 1..=4u64 {
        match run(params(seed)) {
            Ok((r, c)) => {
                show(&r, &c);
                assert!(c.blocks_applied.load(Ordering::Relaxed) >= r.blocks_produced);
                txs_final += r.txs_final;
                crashes += r.crashes;
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The seeds exercise transactions reaching finality and crashes.
    assert!(txs_final > 0 && crashes > 0, "txs final {txs_final}, crashes {crashes}");
}

#[test]
fn sim_real_execution_replay() {
    let Some(seed) = std::env::var("SEED").ok().and_then(|s| s.parse::<u64>().ok()) else {
        println!("set SEED=<n> to replay a seed over real execution");
        return;
    };
    let mut p = params(seed);
    p.trace = std::env::var("TRACE").is_ok_and(|t| t != "0");
    match run(p) {
        Ok((r, c)) => show(&r, &c),
        Err(e) => panic!("{e}"),
    }
}

#[test]
#[ignore = "many seeds: SIM_SEEDS=<n> cargo test -p aergo-replica --release --test sim -- --ignored --nocapture"]
fn sim_real_execution_many() {
    let count: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let first: u64 = std::env::var("SIM_FIRST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut failures = Vec::new();
    for seed in first..first + count {
        match run(params(seed)) {
            Ok((r, c)) => show(&r, &c),
            Err(e) => {
                println!("FAILED {e}");
                failures.push(seed);
            }
        }
    }
    println!("sim over real execution: {count} seeds, {} failed", failures.len());
    assert!(failures.is_empty(), "failing seeds: {failures:?} (replay with SEED=<n>)");
}
