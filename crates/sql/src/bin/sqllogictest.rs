//! Runs the sqllogictest corpus against AergoSQL and prints pass rates.
//!
//! Usage: `cargo run --release -p aergo-sql --bin sqllogictest -- [DIR|FILE] [--failures N] [--max-records N]`
//! (default DIR: `../shared/sqllogictest`).

use std::path::PathBuf;

use aergo_sql::conformance::{run_file, test_files};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut target = PathBuf::from("../shared/sqllogictest");
    let mut show_failures = 0usize;
    let mut max_records = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--failures" => show_failures = args.next().and_then(|n| n.parse().ok()).unwrap_or(10),
            "--max-records" => max_records = args.next().and_then(|n| n.parse().ok()),
            _ => target = PathBuf::from(a),
        }
    }
    let files = if target.is_file() {
        vec![target.clone()]
    } else {
        match test_files(&target) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    };
    if files.is_empty() {
        eprintln!("error: no .test files under {}", target.display());
        std::process::exit(2);
    }
    let (mut run, mut passed) = (0usize, 0usize);
    for f in &files {
        let name = f.strip_prefix(&target).unwrap_or(f).display().to_string();
        let start = std::time::Instant::now();
        match run_file(f, max_records, show_failures) {
            Ok(r) => {
                let pct = if r.run == 0 { 100.0 } else { 100.0 * r.passed as f64 / r.run as f64 };
                println!("{name}: {}/{} passed ({pct:.2}%) in {:.1}s", r.passed, r.run, start.elapsed().as_secs_f64());
                for fail in &r.failures {
                    println!("    FAIL {fail}");
                }
                run += r.run;
                passed += r.passed;
            }
            Err(e) => println!("{name}: ERROR {e}"),
        }
    }
    let pct = if run == 0 { 100.0 } else { 100.0 * passed as f64 / run as f64 };
    println!("TOTAL: {passed}/{run} passed ({pct:.2}%)");
    println!("BENCH sqllogictest files={} records={run} passed={passed} pass_rate={:.4}", files.len(), pct / 100.0);
}
