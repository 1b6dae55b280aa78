//! The whitepaper's AergoSQL example: the `accounts` table and the
//! `transfer(sender, to, amount)` function, run through the engine.
//!
//! The example's text could not be retrieved verbatim here; this is the
//! closest faithful reconstruction of it (see the crate report): the
//! function returns 'OK', 'Sender not found', 'Not enough balance' or
//! 'Receiver not found', uses a parameter named `to` (a reserved word in
//! PostgreSQL), and carries the two typo fixes (`REPLACE`, and the `;`
//! after the first `END IF`).

mod common;

use aergo_sql::{Engine, ExecContext, Gas, SqlError, Value};
use aergo_store::Overlay;
use common::{dump, mem};
use rust_decimal::Decimal;

pub const ACCOUNTS: &str = include_str!("whitepaper_ddl.sql");

pub const TRANSFER: &str = include_str!("whitepaper_fn.sql");

fn balance(e: &Engine, s: &mut Overlay, id: &str) -> Option<Decimal> {
    let ctx = ExecContext::default();
    let r = e
        .execute(
            s,
            &ctx,
            "SELECT balance FROM accounts WHERE id = $1",
            &[Value::Text(id.into())],
            &mut Gas::unlimited(),
        )
        .unwrap();
    r.rows.first().map(|row| match &row[0] {
        Value::Numeric(d) => *d,
        other => panic!("balance is {other:?}"),
    })
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn whitepaper_transfer_all_four_outcomes() {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    let mut gas = Gas::unlimited();
    e.execute(&mut s, &ctx, ACCOUNTS, &[], &mut gas).unwrap();
    e.execute(&mut s, &ctx, TRANSFER, &[], &mut gas).unwrap();
    e.execute(&mut s, &ctx, "INSERT INTO accounts VALUES ('alice', 100), ('bob', 50)", &[], &mut gas).unwrap();
    let call = |s: &mut Overlay, from: &str, to: &str, amount: &str| -> Value {
        e.call_function(
            s,
            &ExecContext::default(),
            "transfer",
            &[Value::Text(from.into()), Value::Text(to.into()), Value::Numeric(dec(amount))],
            &mut Gas::new(1_000_000),
        )
        .unwrap()
    };
    assert_eq!(call(&mut s, "alice", "bob", "30"), Value::Text("OK".into()));
    assert_eq!(balance(&e, &mut s, "alice"), Some(dec("70")));
    assert_eq!(balance(&e, &mut s, "bob"), Some(dec("80")));

    assert_eq!(call(&mut s, "carol", "bob", "1"), Value::Text("Sender not found".into()));
    assert_eq!(balance(&e, &mut s, "alice"), Some(dec("70")));
    assert_eq!(balance(&e, &mut s, "bob"), Some(dec("80")));

    assert_eq!(call(&mut s, "alice", "bob", "70.01"), Value::Text("Not enough balance".into()));
    assert_eq!(balance(&e, &mut s, "alice"), Some(dec("70")));
    assert_eq!(balance(&e, &mut s, "bob"), Some(dec("80")));

    assert_eq!(call(&mut s, "alice", "dave", "10"), Value::Text("Receiver not found".into()));
    assert_eq!(balance(&e, &mut s, "alice"), Some(dec("70")));
    assert_eq!(balance(&e, &mut s, "bob"), Some(dec("80")));
    assert_eq!(balance(&e, &mut s, "dave"), None);

    // The same call from SQL, as a contract call or console would make it.
    let r = e.execute(&mut s, &ctx, "SELECT transfer('bob', 'alice', 80)", &[], &mut gas).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Text("OK".into())]]);
    assert_eq!(balance(&e, &mut s, "alice"), Some(dec("150")));
    assert_eq!(balance(&e, &mut s, "bob"), Some(dec("0")));
}

#[test]
fn transfer_out_of_gas_changes_nothing() {
    let e = Engine::default();
    let mut s = mem();
    let ctx = ExecContext::default();
    let mut gas = Gas::unlimited();
    e.execute(&mut s, &ctx, ACCOUNTS, &[], &mut gas).unwrap();
    e.execute(&mut s, &ctx, TRANSFER, &[], &mut gas).unwrap();
    e.execute(&mut s, &ctx, "INSERT INTO accounts VALUES ('alice', 100), ('bob', 50)", &[], &mut gas).unwrap();
    let before = dump(&s);
    // Find a limit that stops the call after the first UPDATE.
    let args = [Value::Text("alice".into()), Value::Text("bob".into()), Value::Int(10)];
    let mut full = Gas::unlimited();
    let mut probe = mem();
    e.execute(&mut probe, &ctx, ACCOUNTS, &[], &mut Gas::unlimited()).unwrap();
    e.execute(&mut probe, &ctx, TRANSFER, &[], &mut Gas::unlimited()).unwrap();
    e.execute(&mut probe, &ctx, "INSERT INTO accounts VALUES ('alice', 100), ('bob', 50)", &[], &mut Gas::unlimited())
        .unwrap();
    e.call_function(&mut probe, &ctx, "transfer", &args, &mut full).unwrap();
    let needed = full.used();
    for limit in [needed / 4, needed / 2, needed - 1] {
        let r = e.call_function(&mut s, &ctx, "transfer", &args, &mut Gas::new(limit));
        assert!(matches!(r, Err(SqlError::OutOfGas { .. })), "{r:?}");
        assert_eq!(dump(&s), before, "state changed after running out of gas at {limit}");
    }
    assert!(e.call_function(&mut s, &ctx, "transfer", &args, &mut Gas::new(needed)).is_ok());
}
