//! Branches and tags from a client: registry calls (transactions to
//! `aergo.branch` on main, whatever branch the client works on) and the
//! registry's views. Payloads are `aergo_types::payload::BranchCall`, the
//! same code the chain parses them with.

use aergo_crypto::{sign_tx, PrivateKey};
use aergo_types::address::AERGO_BRANCH;
use aergo_types::payload::BranchCall;
use aergo_types::{Address, Amount, TxBody, TxType};
use serde_json::{json, Value};

use crate::client::RpcClient;
use crate::error::Result;
use crate::transfer::Sent;

/// Signs and sends `call` from `key` on main; with `wait_timeout_ms`, waits
/// for the receipt.
pub async fn send_branch_call(
    client: &RpcClient,
    key: &PrivateKey,
    call: &BranchCall,
    nonce: Option<u64>,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    let status = client.main_status().await?;
    let from = key.address();
    let nonce = match nonce {
        Some(n) => n,
        None => {
            let acct = client.call("getAccount", json!([from.to_string(), "main"])).await?;
            let committed = acct["nonce"].as_u64().unwrap_or(0);
            acct["nextNonce"].as_u64().unwrap_or(committed + 1)
        }
    };
    let registry = Address::name(AERGO_BRANCH)?;
    let body = TxBody::new(TxType::Governance, nonce, &from, Some(&registry), Amount::ZERO, &status.chain_id_hash)
        .with_payload(call.payload());
    let tx = sign_tx(body, key);
    let hash = client.send_tx(&tx).await?;
    let receipt = match wait_timeout_ms {
        Some(ms) => Some(client.wait_receipt(&hash, ms).await?),
        None => None,
    };
    Ok(Sent { hash, tx, receipt })
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
