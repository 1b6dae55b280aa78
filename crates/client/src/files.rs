//! The AergoFS registry from a client: register a stored file on chain
//! (paying the fee at the prices in force), extend its term, release it,
//! read its record. Payloads are
//! `aergo_types::payload::FileCall`, the same code the chain parses them
//! with.

use aergo_crypto::PrivateKey;
use aergo_types::address::AERGO_FS;
use aergo_types::payload::FileCall;
use aergo_types::Amount;
use serde_json::{json, Value};

use crate::client::RpcClient;
use crate::error::Result;
use crate::transfer::{send_system_call, Sent};

/// `FILEPRICE` while no vote has set it (`exec::files::DEFAULT_FILE_PRICE`):
/// 1 gaer per byte.
pub const DEFAULT_FILE_PRICE_AER: u128 = 1_000_000_000;

/// The AergoFS prices in force on the node's chain, in aer: `FILEPRICE`
/// (per byte) and `FILERENT` (per byte per block), from `getParams`.
pub async fn prices(client: &RpcClient) -> Result<(u128, u128)> {
    let params = client.call("getParams", json!([])).await?;
    let param = |name: &str| {
        params.as_array().and_then(|ps| {
            ps.iter().find(|p| p["name"] == name).and_then(|p| p["value"].as_str()).and_then(|v| v.parse().ok())
        })
    };
    Ok((param("FILEPRICE").unwrap_or(DEFAULT_FILE_PRICE_AER), param("FILERENT").unwrap_or(0)))
}

/// The fee `call` pays at the prices in force: `size * FILEPRICE + size *
/// blocks * FILERENT` for a registration, `size * blocks * FILERENT` for
/// an extension (the size from the chain's record), nothing for a release.
pub async fn fee(client: &RpcClient, call: &FileCall) -> Result<Amount> {
    let (price, rent) = prices(client).await?;
    let overflow = || crate::CliError::InvalidInput {
        what: "file call",
        input: call.call().to_string(),
        reason: "its fee overflows".into(),
    };
    let aer = match call {
        FileCall::Register { size, blocks, .. } => {
            let held = rent
                .checked_mul(u128::from(*size))
                .and_then(|r| r.checked_mul(u128::from(blocks.unwrap_or(0))))
                .ok_or_else(overflow)?;
            price.checked_mul(u128::from(*size)).and_then(|p| p.checked_add(held)).ok_or_else(overflow)?
        }
        FileCall::Extend { hash, blocks } => {
            let size = record(client, hash).await?["size"].as_u64().ok_or_else(|| crate::CliError::InvalidInput {
                what: "file",
                input: hash.to_hex(),
                reason: "not registered on chain".into(),
            })?;
            rent.checked_mul(u128::from(size)).and_then(|r| r.checked_mul(u128::from(*blocks))).ok_or_else(overflow)?
        }
        FileCall::Release { .. } => 0,
    };
    Ok(Amount::from_aer(aer))
}

/// Signs and sends `call` from `key` on main, paying `amount` (default:
/// its [`fee`] at the prices in force).
pub async fn send_file_call(
    client: &RpcClient,
    key: &PrivateKey,
    call: &FileCall,
    amount: Option<Amount>,
    nonce: Option<u64>,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    let amount = match amount {
        Some(a) => a,
        None => fee(client, call).await?,
    };
    send_system_call(client, key, AERGO_FS, call.payload(), amount, nonce, wait_timeout_ms).await
}

/// The chain's record of a file (`sys.files`), `Null` when not registered.
pub async fn record(client: &RpcClient, hash: &aergo_types::Hash) -> Result<Value> {
    // A parsed hash's hex: 64 hex digits, nothing to escape.
    let text = format!("SELECT hash, size, owner, height FROM sys.files WHERE hash = '{}'", hash.to_hex());
    let mut rec = match client.call("query", json!([text])).await {
        Ok(v) => v["rows"]
            .get(0)
            .cloned()
            .map_or(Value::Null, |r| json!({ "hash": r[0], "size": r[1], "owner": r[2], "height": r[3] })),
        // No file was ever registered on this chain: no table yet.
        Err(crate::CliError::Rpc { message, .. }) if message.contains("sys.files") => Value::Null,
        Err(e) => return Err(e),
    };
    if rec.is_null() {
        return Ok(rec);
    }
    // Its term, when it has one (`until`: the last height it is held
    // through; null: without end).
    let text = format!("SELECT until FROM sys.file_terms WHERE hash = '{}'", hash.to_hex());
    rec["until"] = match client.call("query", json!([text])).await {
        Ok(v) => v["rows"].get(0).map_or(Value::Null, |r| r[0].clone()),
        Err(crate::CliError::Rpc { message, .. }) if message.contains("sys.file_terms") => Value::Null,
        Err(e) => return Err(e),
    };
    Ok(rec)
}
