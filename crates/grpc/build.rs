//! Generates the `types.AergoRPCService` server, client and messages from
//! `proto/aergo.proto` with protox (a protobuf compiler in Rust), so that a
//! build needs no system `protoc`.
//!
//! The messages that already exist as hand-written prost structs in
//! `aergo-types` (blocks, transactions, receipts, events) are mapped there
//! with `extern_path`: the node serves its own values without a copy. A
//! second module, `wire`, is generated without that mapping for
//! `tests/wire.rs`, which checks the hand-written structs against it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/aergo.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);

    let mut service = tonic_prost_build::configure().build_server(true).build_client(true).btree_map(".").out_dir(&out);
    for (proto_name, rust_path) in [
        ("Block", "Block"),
        ("BlockHeader", "BlockHeader"),
        ("BlockBody", "BlockBody"),
        ("Tx", "Tx"),
        ("TxBody", "TxBody"),
        ("TxList", "TxList"),
        ("Receipt", "Receipt"),
        ("Event", "Event"),
    ] {
        service = service.extern_path(format!(".types.{proto_name}"), format!("::aergo_types::{rust_path}"));
    }
    service.compile_fds(fds.clone())?;

    // The same definitions, every message generated, in a file of its own.
    let wire_dir = out.join("wire");
    std::fs::create_dir_all(&wire_dir)?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(false)
        .btree_map(".")
        .out_dir(&wire_dir)
        .compile_fds(fds)?;
    Ok(())
}
