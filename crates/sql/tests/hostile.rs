//! Hostile SQL: inputs built to exhaust the stack or the memory of a node.
//! Each must give a clear error (never abort the process) and change
//! nothing. Every case runs on a thread with the stack the engine
//! documents as enough ([`aergo_sql::MIN_STACK_BYTES`], what the node's
//! threads get), in the unoptimised test build, whose frames are the
//! largest.

mod common;

use aergo_sql::{Engine, ExecContext, Gas, SqlError};
use common::{dump, mem};

/// Stack of the node's threads that run SQL.
const NODE_THREAD_STACK_BYTES: usize = aergo_sql::MIN_STACK_BYTES;

/// Runs `f` on a thread with the node's stack size; a stack overflow
/// aborts the whole test process, which fails the test.
fn on_node_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(NODE_THREAD_STACK_BYTES).spawn(f).unwrap().join().unwrap()
}

fn run(sql: String) -> Result<(), SqlError> {
    on_node_stack(move || {
        let e = Engine::default();
        let mut s = mem();
        let ctx = ExecContext::default();
        e.execute_batch(&mut s, &ctx, "CREATE TABLE t (k INT PRIMARY KEY)", &mut Gas::unlimited()).unwrap();
        let before = dump(&s);
        let r = e.execute_batch(&mut s, &ctx, &sql, &mut Gas::new(1_000_000_000));
        if r.is_err() {
            assert_eq!(dump(&s), before, "a failed statement changed the store");
        }
        r.map(|_| ())
    })
}

fn refused(sql: String, what: &str) -> String {
    let e = run(sql).expect_err(what).to_string();
    assert!(e.len() < 2_000, "{what}: the error text is bounded: {} bytes", e.len());
    e
}

/// Issue 11, finding 1: `SELECT 1+1+...+1` with 40,000 terms overflowed
/// the stack of a read-only query.
#[test]
fn long_operator_chains() {
    for terms in [300, 2_000, 40_000, 200_000] {
        let sql = format!("SELECT {}", vec!["1"; terms].join("+"));
        let e = refused(sql, "a long chain");
        assert!(e.contains("nest") || e.contains("complex") || e.contains("deep"), "{terms} terms: {e}");
    }
    for (op, term) in [(" AND ", "k = 1"), (" || ", "'x'"), ("::INT", ""), (" * ", "2")] {
        let sql = if term.is_empty() {
            format!("SELECT 1{}", op.repeat(40_000))
        } else {
            format!("SELECT k FROM t WHERE {}", vec![term; 40_000].join(op))
        };
        refused(sql, op);
    }
    // Ordinary sizes still run.
    run(format!("SELECT {}", vec!["1"; 60].join("+"))).unwrap();
}

/// Nesting by parentheses, function calls, CASE, NOT and unary minus.
#[test]
fn deep_nesting() {
    let n = 40_000;
    for sql in [
        format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n)),
        format!("SELECT {}1{}", "abs(".repeat(n), ")".repeat(n)),
        format!("SELECT {}1{}", "CASE WHEN true THEN ".repeat(n), " END".repeat(n)),
        format!("SELECT {}true", "NOT ".repeat(n)),
        format!("SELECT {}1", "- ".repeat(n)),
        format!("SELECT {}1{}", "(SELECT ".repeat(n), ")".repeat(n)),
        format!("SELECT 1 WHERE 1 IN {}1{}", "(SELECT ".repeat(n), ")".repeat(n)),
    ] {
        refused(sql, "deep nesting");
    }
}

/// Issue 11, finding 2: a function body of 1,000 nested BEGIN blocks,
/// 5,000 nested IF or 8,000 nested LOOP passed admission and aborted every
/// producer while building the block.
#[test]
fn deep_plpgsql_bodies() {
    let function = |body: String| format!("CREATE FUNCTION f() RETURNS INT AS $$ {body} $$ LANGUAGE plpgsql");
    let n = 10_000;
    let begins = format!("{} RETURN 1; {}", "BEGIN ".repeat(n), "END; ".repeat(n));
    let ifs = format!("BEGIN {} RETURN 1; {} END;", "IF true THEN ".repeat(n), "END IF; ".repeat(n));
    let loops = format!("BEGIN {} RETURN 1; {} END;", "LOOP ".repeat(n), "END LOOP; ".repeat(n));
    let whiles = format!("BEGIN {} RETURN 1; {} END;", "WHILE true LOOP ".repeat(n), "END LOOP; ".repeat(n));
    let expr = format!("BEGIN RETURN {}; END;", vec!["1"; 40_000].join("+"));
    let declares = format!("{} BEGIN RETURN 1; END;", "DECLARE x INT; BEGIN ".repeat(n));
    for body in [begins, ifs, loops, whiles, expr, declares] {
        refused(function(body), "a deep function body");
    }
    // Moderate nesting is fine.
    let ok = format!("BEGIN {} RETURN 1; {} END;", "IF true THEN ".repeat(20), "END IF; ".repeat(20));
    run(function(ok)).unwrap();
}

/// Issue 11, finding 3: `repeat('x', 1000000)` rows through a cross join
/// took hundreds of MB for about 1,500 gas. Bytes a function creates and
/// bytes copied into joined rows cost gas, and one operator's output is
/// bounded in bytes whatever the gas.
#[test]
fn memory_is_metered() {
    let e = on_node_stack(|| {
        let e = Engine::default();
        let mut s = mem();
        let ctx = ExecContext::default();
        let setup = "CREATE TABLE n (i INT PRIMARY KEY); INSERT INTO n VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)";
        e.execute_batch(&mut s, &ctx, setup, &mut Gas::unlimited()).unwrap();
        // One big value costs gas in proportion to its size.
        let mut gas = Gas::new(100_000_000);
        e.execute(&mut s, &ctx, "SELECT length(repeat('x', 1000000))", &[], &mut gas).unwrap();
        assert!(gas.used() >= 1_000_000, "a 1 MB value cost only {} gas", gas.used());
        // A cross join multiplying it runs out of a contract call's default
        // gas (10^7) after about 10 MB.
        let cross = "SELECT count(*) FROM n a, n b, n c, (SELECT repeat('x', 1000000) AS big) r";
        let mut gas = Gas::new(10_000_000);
        let err = e.execute(&mut s, &ctx, cross, &[], &mut gas).unwrap_err();
        assert!(matches!(err, SqlError::OutOfGas { .. }), "{err}");
        // With unlimited gas the operator bound stops it.
        let err = e.execute(&mut s, &ctx, cross, &[], &mut Gas::unlimited()).unwrap_err();
        assert!(matches!(err, SqlError::LimitExceeded { what, .. } if what.contains("bytes")), "{err}");
        // string_agg builds one value: bounded like every value.
        let agg = "SELECT length(string_agg(repeat('y', 100000), ',')) FROM n a, n b";
        let err = e.execute(&mut s, &ctx, agg, &[], &mut Gas::unlimited()).unwrap_err();
        err.to_string()
    });
    assert!(e.contains("1048576") || e.contains("bytes"), "{e}");
}
