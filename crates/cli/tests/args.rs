//! The command line as a user meets it: options that belong to another
//! command are refused before anything starts.

mod common;

use common::*;

#[test]
fn node_refuses_the_client_rpc_flag() {
    for args in [&["node", "--dev", "--rpc", "http://127.0.0.1:7847"][..], &["--rpc", "http://127.0.0.1:7847", "node"]]
    {
        let r = aergo(args);
        assert!(!r.ok, "aergo {args:?} must fail");
        assert!(r.stdout.is_empty(), "nothing may start: {}", r.stdout);
        assert!(r.stderr.contains("does not take --rpc") && r.stderr.contains("--rpc-listen"), "{}", r.stderr);
    }
}
