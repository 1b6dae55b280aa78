//! SQL text as a contract's deploy, a call's body or an API query brings
//! it: split into statements, parsed, then executed against a small state
//! (tables with rows, an index, a view, a PL/pgSQL function), read-only as
//! the API runs queries and writable in a fresh overlay as a transaction
//! runs, with a small gas limit. A failed batch must leave the state as it
//! was. Its `AS OF` clauses are taken out as the API does. Runs on a
//! thread with the stack the engine documents.
#![no_main]

use aergo_sql::{parse_sql, split_statements, Engine, ExecContext, Gas};
use aergo_store::{Hash, Overlay, Store};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Small enough that no input runs long, large enough for real work.
const GAS: u64 = 2_000_000;

const BASE: &str = "
CREATE TABLE accounts (
    id VARCHAR(64) PRIMARY KEY,
    balance NUMERIC(20, 2) NOT NULL DEFAULT 0 CHECK (balance >= 0)
);
CREATE TABLE t (k INT PRIMARY KEY, v TEXT, n NUMERIC, b BYTEA, ts TIMESTAMP, f BOOLEAN);
CREATE INDEX t_v ON t (v);
CREATE VIEW rich AS SELECT id, balance FROM accounts WHERE balance > 10;
CREATE FUNCTION transfer(sender VARCHAR, to VARCHAR, amount NUMERIC) RETURNS VARCHAR AS $$
DECLARE
    sender_balance NUMERIC;
BEGIN
    SELECT balance INTO sender_balance FROM accounts WHERE id = sender;
    IF NOT FOUND THEN
        RETURN 'Sender not found';
    END IF;
    IF sender_balance < amount THEN
        RETURN 'Not enough balance';
    END IF;
    UPDATE accounts SET balance = balance - amount WHERE id = sender;
    UPDATE accounts SET balance = balance + amount WHERE id = to;
    RETURN 'OK';
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION twice(x INT) RETURNS INT AS $$ SELECT x * 2 $$ LANGUAGE sql;
INSERT INTO accounts VALUES ('alice', 100), ('bob', 50.25), ('carol', 0);
INSERT INTO t VALUES (1, 'one', 1.5, '\\x01', '2024-01-01 00:00:00', true),
                     (2, 'two', -2, '\\x', '1970-01-01 00:00:00', false),
                     (3, NULL, NULL, NULL, NULL, NULL);
";

fn base() -> &'static (Store, Hash) {
    static BASE_STATE: OnceLock<(Store, Hash)> = OnceLock::new();
    BASE_STATE.get_or_init(|| {
        aergo_fuzz::on_sql_stack(|| {
            let store = Store::memory();
            let mut o = Overlay::new(&store, Hash::ZERO);
            Engine::default()
                .execute_batch(&mut o, &ExecContext::default(), BASE, &mut Gas::unlimited())
                .expect("the base state builds");
            let root = o.flush().expect("the base state flushes");
            (store, root)
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let text = text.to_string();
    let (store, root) = base().clone();
    aergo_fuzz::on_sql_stack(move || {
        let _ = split_statements(&text);
        let _ = parse_sql(&text);
        // The API takes `AS OF` out of a query's text before it runs.
        if let Ok((rest, _)) = aergo_sql::as_of::strip_as_of(&text) {
            assert!(rest.len() <= text.len(), "stripping AS OF made the text longer");
        }
        let engine = Engine::default();
        let read_only = ExecContext { read_only: true, ..ExecContext::default() };
        let mut view = Overlay::new(&store, root);
        let _ = engine.execute_batch(&mut view, &read_only, &text, &mut Gas::new(GAS));
        assert!(!view.is_dirty() || view.flush().ok() == Some(root), "a read-only session changed the state");

        let mut o = Overlay::new(&store, root);
        if engine.execute_batch(&mut o, &ExecContext::default(), &text, &mut Gas::new(GAS)).is_err() {
            assert_eq!(o.flush().ok(), Some(root), "a failed batch changed the state");
        }
    });
});
