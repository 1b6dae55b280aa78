//! A PL/pgSQL function body as a contract brings it: the input becomes the
//! body of a `CREATE FUNCTION ... LANGUAGE plpgsql`, which is created and,
//! when that succeeds, called with a small gas limit. Runs on a thread
//! with the stack the engine documents.
#![no_main]

use aergo_sql::{Engine, ExecContext, Gas};
use aergo_store::{Hash, Overlay, Store};
use libfuzzer_sys::fuzz_target;

const GAS: u64 = 2_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let create = format!(
        "CREATE TABLE t (k INT PRIMARY KEY, v TEXT);\n\
         INSERT INTO t VALUES (1, 'one'), (2, 'two');\n\
         CREATE FUNCTION f(a INT, b TEXT) RETURNS TEXT AS $fz$\n{body}\n$fz$ LANGUAGE plpgsql;"
    );
    aergo_fuzz::on_sql_stack(move || {
        let store = Store::memory();
        let mut o = Overlay::new(&store, Hash::ZERO);
        let engine = Engine::default();
        let ctx = ExecContext::default();
        if engine.execute_batch(&mut o, &ctx, &create, &mut Gas::new(GAS)).is_ok() {
            let _ = engine.execute_batch(&mut o, &ctx, "SELECT f(1, 'x'); SELECT f(NULL, NULL)", &mut Gas::new(GAS));
        }
    });
});
