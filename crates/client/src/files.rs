//! The AergoFS registry from a client: register a stored file on chain
//! (paying the storage fee), release it, read its record. Payloads are
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

/// Storage fee per byte (`exec::files::FS_BYTE_PRICE`): 1 gaer.
pub const FS_BYTE_PRICE_AER: u128 = 1_000_000_000;

/// Signs and sends `call` from `key` on main, paying `amount` (default:
/// the storage fee of a registration, nothing for a release).
pub async fn send_file_call(
    client: &RpcClient,
    key: &PrivateKey,
    call: &FileCall,
    amount: Option<Amount>,
    nonce: Option<u64>,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    let amount = amount.unwrap_or(match call {
        FileCall::Register { size, .. } => Amount::from_aer(FS_BYTE_PRICE_AER.saturating_mul(u128::from(*size))),
        FileCall::Release { .. } => Amount::ZERO,
    });
    send_system_call(client, key, AERGO_FS, call.payload(), amount, nonce, wait_timeout_ms).await
}

/// The chain's record of a file (`sys.files`), `Null` when not registered.
pub async fn record(client: &RpcClient, hash: &aergo_types::Hash) -> Result<Value> {
    // A parsed hash's hex: 64 hex digits, nothing to escape.
    let text = format!("SELECT hash, size, owner, height FROM sys.files WHERE hash = '{}'", hash.to_hex());
    match client.call("query", json!([text])).await {
        Ok(v) => Ok(v["rows"]
            .get(0)
            .cloned()
            .map_or(Value::Null, |r| json!({ "hash": r[0], "size": r[1], "owner": r[2], "height": r[3] }))),
        // No file was ever registered on this chain: no table yet.
        Err(crate::CliError::Rpc { message, .. }) if message.contains("sys.files") => Ok(Value::Null),
        Err(e) => Err(e),
    }
}
