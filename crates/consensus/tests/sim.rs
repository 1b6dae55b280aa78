//! The deterministic simulation as tests.
//!
//! - `sim_ci_seeds`: a handful of seeds, fast enough for every CI run.
//! - `SEED=<n> cargo test -p aergo-consensus --test sim sim_replay -- --nocapture`
//!   replays one seed with a trace of every event (set `TRACE=0` to
//!   silence it).
//! - `cargo test -p aergo-consensus --release --test sim -- --ignored sim_many --nocapture`
//!   runs many seeds (`SIM_SEEDS=<count>`, default 200; `SIM_FIRST_SEED`
//!   to start elsewhere).

use aergo_consensus::sim::{run_seed, SimReport};

fn show(r: &SimReport) {
    println!(
        "seed {:>6} ({}): {} steps, final height min {} (at heal {}), progress {} slots after heal, {} blocks, {} votes, \
         {} txs final of {}, {} crashes (+{} mid-actions), {} partitions, {} messages lost, set changes {}/{} started/completed",
        r.seed,
        r.scenario,
        r.steps,
        r.min_final_height,
        r.final_height_at_heal,
        r.slots_to_progress_after_heal,
        r.blocks_produced,
        r.votes_sent,
        r.txs_final,
        r.txs_submitted,
        r.crashes,
        r.mid_action_crashes,
        r.partitions,
        r.messages_lost,
        r.joint_started,
        r.joint_completed
    );
}

#[test]
fn sim_ci_seeds() {
    let mut hand_overs = 0;
    let mut mid_action_crashes = 0;
    for seed in 1..=4u64 {
        match run_seed(seed, false) {
            Ok(r) => {
                show(&r);
                assert!(r.min_final_height > r.final_height_at_heal);
                hand_overs += r.joint_completed;
                mid_action_crashes += r.mid_action_crashes;
            }
            Err(f) => panic!("{f}"),
        }
    }
    // The seeds are chosen so that CI exercises producer-set hand-overs
    // and crashes between persisting and sending.
    assert!(hand_overs > 0 && mid_action_crashes > 0);
}

#[test]
fn sim_replay() {
    let Some(seed) = std::env::var("SEED").ok().and_then(|s| s.parse::<u64>().ok()) else {
        println!("set SEED=<n> to replay a seed");
        return;
    };
    let trace = std::env::var("TRACE").map(|t| t != "0").unwrap_or(true);
    match run_seed(seed, trace) {
        Ok(r) => show(&r),
        Err(f) => panic!("{f}"),
    }
}

#[test]
#[ignore = "many seeds: run with --release -- --ignored sim_many"]
fn sim_many() {
    let count: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let first: u64 = std::env::var("SIM_FIRST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut failures = Vec::new();
    let mut worst_progress = 0;
    for seed in first..first + count {
        match run_seed(seed, false) {
            Ok(r) => {
                worst_progress = worst_progress.max(r.slots_to_progress_after_heal);
            }
            Err(f) => {
                println!("{f}");
                failures.push(seed);
            }
        }
    }
    println!(
        "{count} seeds from {first}: {} failed {failures:?}; worst progress after heal {worst_progress} slots",
        failures.len()
    );
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}
