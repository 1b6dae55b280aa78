//! Building, signing and sending transfers: the one code path `send`,
//! `demo` and the tests share.

use aergo_crypto::{sign_tx, PrivateKey};
use aergo_types::{Address, Amount, Hash, Tx, TxBody};
use serde_json::Value;

use crate::client::RpcClient;
use crate::error::{CliError, Result};

/// What to transfer; the chain id and (unless given) the nonce come from
/// the node.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub to: Address,
    pub amount: Amount,
    /// `None`: the node's `nextNonce` for the sender.
    pub nonce: Option<u64>,
    pub payload: Vec<u8>,
    /// 0: no limit beyond what the transfer needs.
    pub gas_limit: u64,
}

/// A signed transfer and what happened to it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub hash: Hash,
    pub tx: Tx,
    /// The receipt, when waited for.
    pub receipt: Option<Value>,
    /// The producer's pre-confirmation (JSON), or why there is none, when
    /// asked for.
    pub preconfirmation: Option<std::result::Result<Value, String>>,
}

/// Signs and sends a call to a system contract (`aergo.name`, `aergo.fs`,
/// `aergo.branch`) from `key` on main, whatever branch the client works
/// on: a governance transaction carrying `payload` and `amount`, with the
/// sender's next nonce on main unless `nonce` is given; with
/// `wait_timeout_ms`, waits for the receipt.
pub async fn send_system_call(
    client: &RpcClient,
    key: &PrivateKey,
    system: &str,
    payload: Vec<u8>,
    amount: Amount,
    nonce: Option<u64>,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    let status = client.main_status().await?;
    let from = key.address();
    let nonce = match nonce {
        Some(n) => n,
        None => {
            let acct = client.call("getAccount", serde_json::json!([from.to_string(), "main"])).await?;
            let committed = acct["nonce"].as_u64().unwrap_or(0);
            acct["nextNonce"].as_u64().unwrap_or(committed + 1)
        }
    };
    let to = Address::name(system)?;
    let body = TxBody::new(aergo_types::TxType::Governance, nonce, &from, Some(&to), amount, &status.chain_id_hash)
        .with_payload(payload);
    let tx = sign_tx(body, key);
    let hash = client.send_tx(&tx).await?;
    let receipt = match wait_timeout_ms {
        Some(ms) => Some(client.wait_receipt(&hash, ms).await?),
        None => None,
    };
    Ok(Sent { hash, tx, receipt, preconfirmation: None })
}

/// Parses a `--payload` argument: hex, optionally `0x`-prefixed.
pub fn parse_payload(text: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    hex::decode(t.strip_prefix("0x").unwrap_or(t))
        .map_err(|e| CliError::invalid("payload", text, format!("{e}; expected hex bytes")))
}

/// Parses an `--amount` argument: `"1.5 aergo"`, `"100 gaer"`, `"7 aer"`
/// or a bare number of aer.
pub fn parse_amount(text: &str) -> Result<Amount> {
    Amount::parse(text).map_err(|e| {
        CliError::invalid(
            "amount",
            text,
            format!("{e}; e.g. \"1.5 aergo\", \"100 gaer\" or \"7 aer\" (a bare number is aer)"),
        )
    })
}

/// Builds and signs `t` from `key` against the node's chain id.
pub async fn sign_transfer(client: &RpcClient, key: &PrivateKey, t: &Transfer) -> Result<Tx> {
    let status = client.status().await?;
    let from = key.address();
    let nonce = match t.nonce {
        Some(n) => n,
        None => {
            let acct = client.account(&from, None).await?;
            acct.next_nonce.unwrap_or(acct.nonce + 1)
        }
    };
    let body = TxBody::transfer(nonce, &from, &t.to, t.amount, &status.chain_id_hash).with_payload(t.payload.clone());
    let body = if t.gas_limit > 0 { body.with_gas(t.gas_limit, Amount::ZERO) } else { body };
    Ok(sign_tx(body, key))
}

/// Signs and submits `t`; with `wait_timeout_ms`, waits for its receipt.
pub async fn send_transfer(
    client: &RpcClient,
    key: &PrivateKey,
    t: &Transfer,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    let tx = sign_transfer(client, key, t).await?;
    let hash = client.send_tx(&tx).await?;
    let receipt = match wait_timeout_ms {
        Some(ms) => Some(client.wait_receipt(&hash, ms).await?),
        None => None,
    };
    Ok(Sent { hash, tx, receipt, preconfirmation: None })
}

/// Signs and submits `t` asking the producer for a pre-confirmation.
pub async fn send_transfer_preconfirmed(client: &RpcClient, key: &PrivateKey, t: &Transfer) -> Result<Sent> {
    let tx = sign_transfer(client, key, t).await?;
    let (hash, preconf) = client.send_tx_preconfirmed(&tx).await?;
    Ok(Sent { hash, tx, receipt: None, preconfirmation: Some(preconf) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_with_helpful_errors() {
        assert_eq!(parse_amount("1.5 aergo").unwrap(), Amount::from_aer(1_500_000_000_000_000_000));
        assert_eq!(parse_amount("7").unwrap(), Amount::from_aer(7));
        let e = parse_amount("1.5").unwrap_err().to_string();
        assert!(e.contains("\"1.5 aergo\""), "{e}");
        assert_eq!(parse_payload("0x0102").unwrap(), vec![1, 2]);
        assert_eq!(parse_payload("").unwrap(), Vec::<u8>::new());
        assert!(parse_payload("xyz").unwrap_err().to_string().contains("expected hex"));
    }
}
