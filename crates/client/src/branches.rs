//! Branches and tags from a client: registry calls (transactions to
//! `aergo.branch` on main, whatever branch the client works on) and the
//! registry's views. Payloads are `aergo_types::payload::BranchCall`, the
//! same code the chain parses them with.

use aergo_crypto::PrivateKey;
use aergo_types::address::AERGO_BRANCH;
use aergo_types::payload::BranchCall;
use aergo_types::Amount;
use serde_json::{json, Value};

use crate::client::RpcClient;
use crate::error::Result;
use crate::transfer::{send_system_call, Sent};

/// Signs and sends `call` from `key` on main; with `wait_timeout_ms`, waits
/// for the receipt.
pub async fn send_branch_call(
    client: &RpcClient,
    key: &PrivateKey,
    call: &BranchCall,
    nonce: Option<u64>,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    send_system_call(client, key, AERGO_BRANCH, call.payload(), Amount::ZERO, nonce, wait_timeout_ms).await
}

/// `listBranches` at the head.
pub async fn list(client: &RpcClient) -> Result<Value> {
    client.call("listBranches", json!([])).await
}

/// `getBranch` at the head or after block `at`.
pub async fn show(client: &RpcClient, name: &str, at: Option<u64>) -> Result<Value> {
    match at {
        Some(h) => client.call("getBranch", json!([name, h])).await,
        None => client.call("getBranch", json!([name])).await,
    }
}

/// `listTags`.
pub async fn tags(client: &RpcClient) -> Result<Value> {
    client.call("listTags", json!([])).await
}
