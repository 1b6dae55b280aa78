//! The name service from a client: register a name, hand it over, read
//! who owns it. Payloads are `aergo_types::payload::NameCall`, the same
//! code the chain parses them with.

use aergo_crypto::PrivateKey;
use aergo_types::address::AERGO_NAME;
use aergo_types::payload::NameCall;
use aergo_types::Amount;
use serde_json::{json, Value};

use crate::client::RpcClient;
use crate::error::Result;
use crate::transfer::{send_system_call, Sent};

/// The name price in force: `NAMEPRICE` from `getParams`, or the Go node's
/// 1 AERGO on a chain without the parameter (solo chains).
pub async fn name_price(client: &RpcClient) -> Result<Amount> {
    let params = client.call("getParams", json!([])).await?;
    let price = params.as_array().and_then(|ps| {
        ps.iter().find(|p| p["name"] == "NAMEPRICE").and_then(|p| p["value"].as_str()).and_then(|v| v.parse().ok())
    });
    Ok(price.map(Amount::from_aer).unwrap_or(Amount::ONE_AERGO))
}

/// Signs and sends `call` from `key` paying `amount` (default: the name
/// price); with `wait_timeout_ms`, waits for the receipt.
pub async fn send_name_call(
    client: &RpcClient,
    key: &PrivateKey,
    call: &NameCall,
    amount: Option<Amount>,
    nonce: Option<u64>,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    let amount = match amount {
        Some(a) => a,
        None => name_price(client).await?,
    };
    send_system_call(client, key, AERGO_NAME, call.payload(), amount, nonce, wait_timeout_ms).await
}

/// `getNameInfo`: owner and destination of `name`, at the head or `height`.
pub async fn name_info(client: &RpcClient, name: &str, height: Option<u64>) -> Result<Value> {
    let params = match height {
        Some(h) => json!([name, h]),
        None => json!([name]),
    };
    client.call("getNameInfo", params).await
}
