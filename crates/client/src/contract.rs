//! SQL contracts from the command line: deploy and call transactions, and
//! the read-only contract API (queries, ABI, catalogue row, events).
//!
//! Payloads are built with the encoders the executor's parsers sit beside
//! ([`aergo_types::payload::encode_deploy_payload`] and
//! [`aergo_types::payload::encode_call_payload`]), so the CLI and the
//! executor cannot disagree on the framing; a function name resolves by
//! the chain's own rule ([`aergo_types::payload::find_function`]).
//!
//! **Call arguments** come from the command line as text. Each is turned
//! into a JSON value by the type of the parameter it lands on, read from
//! the contract's ABI (`getABI`):
//!
//! - `null` is SQL NULL, whatever the type;
//! - a TEXT/VARCHAR parameter takes the argument verbatim (`123` is the
//!   string "123"), unless it is a quoted JSON string (`'"x"'`);
//! - any other parameter takes the argument as JSON when it parses
//!   (`30`, `1.5`, `true`), else as a string (`2024-01-01 10:00:00`,
//!   `0xabcd`), which the chain converts by the parameter's type.
//!
//! A function the ABI does not list is refused here, before anything is
//! signed (nothing is sent, so nothing is paid); `--args-json` bypasses the
//! ABI and sends the given JSON array as is. Everything else (argument
//! count and type, gas, SQL errors) is checked by the chain: an included
//! call that fails has an `ERROR` receipt and costs its fee.

use aergo_crypto::{sign_tx, PrivateKey};
use aergo_types::payload::{encode_call_payload, encode_deploy_payload, MAX_CALL_ARGS};
use aergo_types::{Address, Amount, Hash, Tx, TxBody, TxType};
use serde_json::{json, Value};

use crate::client::RpcClient;
use crate::error::{CliError, Result};

/// Largest SQL source file `deploy` reads (a transaction is at most 1 MiB,
/// payload included).
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// What every contract transaction carries besides its payload.
#[derive(Clone, Debug, Default)]
pub struct TxOptions {
    /// Aer sent with the transaction.
    pub amount: Amount,
    /// `None`: the node's `nextNonce` for the sender.
    pub nonce: Option<u64>,
    /// 0: the chain's default (10,000,000 gas, lowered to what the sender
    /// can pay).
    pub gas_limit: u64,
    /// Wait this long for the receipt; `None`: do not wait.
    pub wait_timeout_ms: Option<u64>,
    /// Ask the producer for a pre-confirmation (`sendTx` with
    /// `wait: "preconfirmed"`).
    pub preconfirm: bool,
}

/// A signed contract transaction and what happened to it.
#[derive(Clone, Debug)]
pub struct SentContractTx {
    pub hash: Hash,
    pub tx: Tx,
    pub nonce: u64,
    /// The contract deployed or called.
    pub contract: Address,
    /// The receipt, when waited for.
    pub receipt: Option<Value>,
    /// The producer's pre-confirmation (JSON), or why there is none, when
    /// asked for.
    pub preconfirmation: Option<std::result::Result<Value, String>>,
}

/// Parses a contract's address (base58check, `Am...`).
pub fn parse_contract_address(text: &str) -> Result<Address> {
    let a = Address::parse(text.trim()).map_err(|e| CliError::invalid("contract address", text, e.to_string()))?;
    if !a.is_contract() {
        return Err(CliError::invalid("contract address", text, "this is an account address, not a contract's"));
    }
    Ok(a)
}

/// Parses `--args` of a deploy: a JSON array of constructor arguments.
pub fn parse_args_array(text: &str) -> Result<Vec<Value>> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| CliError::invalid("arguments", text, format!("not JSON ({e}); expected a JSON array")))?;
    match v {
        Value::Array(a) if a.len() <= MAX_CALL_ARGS => Ok(a),
        Value::Array(a) => {
            Err(CliError::invalid("arguments", text, format!("{} arguments, at most {MAX_CALL_ARGS}", a.len())))
        }
        other => Err(CliError::invalid("arguments", text, format!("expected a JSON array, got {other}"))),
    }
}

/// Reads a contract's SQL source file.
pub fn read_source(path: &std::path::Path) -> Result<String> {
    let source = crate::devnode::read_bounded(path, MAX_SOURCE_BYTES)?;
    if source.trim().is_empty() {
        return Err(CliError::invalid("SQL source", &path.display().to_string(), "the file is empty"));
    }
    Ok(source)
}

/// True for the ABI's text types (`TEXT`, `VARCHAR(n)`).
fn is_text_type(ty: &str) -> bool {
    let t = ty.trim().to_ascii_uppercase();
    t == "TEXT" || t.starts_with("VARCHAR") || t.starts_with("CHARACTER VARYING")
}

/// Converts one command-line argument by its parameter's SQL type (see
/// the module docs); `ty` is `None` past the last parameter.
pub fn arg_to_json(text: &str, ty: Option<&str>) -> Value {
    if text == "null" {
        return Value::Null;
    }
    match ty {
        Some(t) if is_text_type(t) => match serde_json::from_str::<Value>(text) {
            Ok(Value::String(s)) if text.trim_start().starts_with('"') => Value::String(s),
            _ => Value::String(text.to_string()),
        },
        _ => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// A function of a `getABI` answer: its exact name and parameter types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbiFunction {
    pub name: String,
    /// `(name, SQL type)` per parameter.
    pub params: Vec<(String, String)>,
    pub returns: Option<String>,
}

/// Parses the `functions` of a `getABI` answer.
pub fn abi_functions(abi: &Value) -> std::result::Result<Vec<AbiFunction>, String> {
    let list = abi.get("functions").and_then(Value::as_array).ok_or("no \"functions\" array in the ABI")?;
    list.iter()
        .map(|f| {
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| format!("function without name: {f}"))?;
            let params = f
                .get("arguments")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("function {name} without arguments"))?
                .iter()
                .map(|p| {
                    let n = p.get("name").and_then(Value::as_str).unwrap_or_default();
                    let t = p.get("type").and_then(Value::as_str).unwrap_or_default();
                    (n.to_string(), t.to_string())
                })
                .collect();
            let returns = f.get("returns").and_then(Value::as_str).map(str::to_string);
            Ok(AbiFunction { name: name.to_string(), params, returns })
        })
        .collect()
}

/// One line per function: `name(param TYPE, ...) -> TYPE`.
pub fn signature(f: &AbiFunction) -> String {
    let params: Vec<String> = f.params.iter().map(|(n, t)| format!("{n} {t}")).collect();
    format!("{}({}) -> {}", f.name, params.join(", "), f.returns.as_deref().unwrap_or("void"))
}

/// Converts command-line arguments for `function` of the contract whose
/// ABI is given. An unknown function is an error listing the public ones.
pub fn call_args(abi: &Value, contract: &Address, function: &str, args: &[String]) -> Result<(String, Vec<Value>)> {
    let functions = abi_functions(abi).map_err(|reason| crate::client::bad("getABI", "", reason))?;
    let Some(f) = aergo_types::payload::find_function(&functions, function, |f| f.name.as_str()) else {
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        let list = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        return Err(CliError::invalid(
            "function",
            function,
            format!(
                "contract {contract} has no public function of that name (public functions: {list}); nothing was sent"
            ),
        ));
    };
    if args.len() > MAX_CALL_ARGS {
        return Err(CliError::invalid("arguments", &args.join(" "), format!("at most {MAX_CALL_ARGS}")));
    }
    let values =
        args.iter().enumerate().map(|(i, a)| arg_to_json(a, f.params.get(i).map(|(_, t)| t.as_str()))).collect();
    Ok((f.name.clone(), values))
}

async fn sign_and_send(
    client: &RpcClient,
    key: &PrivateKey,
    tx_type: TxType,
    recipient: Option<&Address>,
    payload: Vec<u8>,
    opts: &TxOptions,
) -> Result<(Hash, Tx, u64, Option<std::result::Result<Value, String>>)> {
    let status = client.status().await?;
    let from = key.address();
    let nonce = match opts.nonce {
        Some(n) => n,
        None => {
            let acct = client.account(&from, None).await?;
            acct.next_nonce.unwrap_or(acct.nonce + 1)
        }
    };
    let body = TxBody::new(tx_type, nonce, &from, recipient, opts.amount, &status.chain_id_hash)
        .with_payload(payload)
        .with_gas(opts.gas_limit, Amount::ZERO);
    let tx = sign_tx(body, key);
    if opts.preconfirm {
        let (hash, preconf) = client.send_tx_preconfirmed(&tx).await?;
        return Ok((hash, tx, nonce, Some(preconf)));
    }
    let hash = client.send_tx(&tx).await?;
    Ok((hash, tx, nonce, None))
}

/// Waits for the receipt and turns a failed one into [`CliError::TxFailed`].
async fn settle(client: &RpcClient, hash: &Hash, timeout_ms: Option<u64>) -> Result<Option<Value>> {
    let Some(ms) = timeout_ms else { return Ok(None) };
    let r = client.wait_receipt(hash, ms).await?;
    let status = r.get("status").and_then(Value::as_str).unwrap_or("");
    if status == "SUCCESS" || status == "CREATED" {
        return Ok(Some(r));
    }
    Err(CliError::TxFailed {
        hash: hash.to_string(),
        status: status.to_string(),
        message: r.get("ret").and_then(Value::as_str).unwrap_or("").to_string(),
        receipt: Box::new(r),
    })
}

/// Signs and sends a deploy of `source` with constructor `args`.
pub async fn deploy(
    client: &RpcClient,
    key: &PrivateKey,
    source: &str,
    args: Option<&[Value]>,
    opts: &TxOptions,
) -> Result<SentContractTx> {
    let args_text = args.map(|a| Value::Array(a.to_vec()).to_string());
    let payload = encode_deploy_payload(source, args_text.as_deref());
    let (hash, tx, nonce, preconfirmation) = sign_and_send(client, key, TxType::Deploy, None, payload, opts).await?;
    let contract = Address::contract_from(&key.address(), nonce);
    let receipt = settle(client, &hash, opts.wait_timeout_ms).await?;
    Ok(SentContractTx { hash, tx, nonce, contract, receipt, preconfirmation })
}

/// Signs and sends a call of `function` with JSON `args`.
pub async fn call(
    client: &RpcClient,
    key: &PrivateKey,
    contract: &Address,
    function: &str,
    args: &[Value],
    opts: &TxOptions,
) -> Result<SentContractTx> {
    let payload = encode_call_payload(function, args);
    let (hash, tx, nonce, preconfirmation) =
        sign_and_send(client, key, TxType::Call, Some(contract), payload, opts).await?;
    let receipt = settle(client, &hash, opts.wait_timeout_ms).await?;
    Ok(SentContractTx { hash, tx, nonce, contract: contract.clone(), receipt, preconfirmation })
}

/// `query` with the contract's schema as default, at the head or `height`.
pub async fn query(client: &RpcClient, contract: Option<&Address>, sql: &str, height: Option<u64>) -> Result<Value> {
    let mut opts = serde_json::Map::new();
    if let Some(c) = contract {
        opts.insert("contract".into(), json!(c.to_string()));
    }
    if let Some(h) = height {
        opts.insert("height".into(), json!(h));
    }
    if let Some(b) = client.branch() {
        opts.insert("branch".into(), json!(b));
    }
    client.call("query", json!([sql, opts])).await
}

/// `getABI` at the head or `height`.
pub async fn abi(client: &RpcClient, contract: &Address, height: Option<u64>) -> Result<Value> {
    let params = match client.read_ref(height) {
        Value::Null => json!([contract.to_string()]),
        at => json!([contract.to_string(), at]),
    };
    client.call("getABI", params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_follow_the_parameter_types() {
        let text = Some("TEXT");
        assert_eq!(arg_to_json("alice", text), json!("alice"));
        assert_eq!(arg_to_json("123", text), json!("123"));
        assert_eq!(arg_to_json("\"quoted\"", text), json!("quoted"));
        assert_eq!(arg_to_json("{\"a\":1}", Some("VARCHAR(10)")), json!("{\"a\":1}"));
        assert_eq!(arg_to_json("null", text), Value::Null);
        assert_eq!(arg_to_json("30", Some("NUMERIC")), json!(30));
        assert_eq!(arg_to_json("1.25", Some("NUMERIC(20,2)")), json!(1.25));
        assert_eq!(arg_to_json("\"7\"", Some("BIGINT")), json!("7"));
        assert_eq!(arg_to_json("true", Some("BOOLEAN")), json!(true));
        assert_eq!(arg_to_json("0xab", Some("BYTEA")), json!("0xab"));
        assert_eq!(arg_to_json("2024-01-01 10:00:00", Some("TIMESTAMP")), json!("2024-01-01 10:00:00"));
        assert_eq!(arg_to_json("[1,2]", None), json!([1, 2]));
        assert_eq!(arg_to_json("word", None), json!("word"));
    }

    fn abi() -> Value {
        json!({"functions": [
            {"name": "transfer", "arguments": [{"name": "sender", "type": "TEXT"}, {"name": "to", "type": "TEXT"},
             {"name": "amount", "type": "NUMERIC"}], "returns": "TEXT"},
            {"name": "fund", "arguments": [{"name": "who", "type": "TEXT"}], "returns": null},
        ]})
    }

    #[test]
    fn calls_resolve_names_like_the_chain_and_refuse_unknown_ones() {
        let c = Address::contract_from(&aergo_crypto::dev_key("t", 0).address(), 1);
        let args: Vec<String> = ["alice", "42", "30"].iter().map(|s| s.to_string()).collect();
        let (name, values) = call_args(&abi(), &c, "TRANSFER", &args).unwrap();
        assert_eq!(name, "transfer");
        assert_eq!(values, vec![json!("alice"), json!("42"), json!(30)]);
        let e = call_args(&abi(), &c, "nope", &[]).unwrap_err().to_string();
        assert!(e.contains("public functions: transfer, fund") && e.contains("nothing was sent"), "{e}");
        let f = abi_functions(&abi()).unwrap();
        assert_eq!(signature(&f[0]), "transfer(sender TEXT, to TEXT, amount NUMERIC) -> TEXT");
        assert_eq!(signature(&f[1]), "fund(who TEXT) -> void");
        assert!(abi_functions(&json!({})).is_err());
    }

    #[test]
    fn deploy_arguments_must_be_a_json_array() {
        assert_eq!(parse_args_array("[1, \"a\"]").unwrap(), vec![json!(1), json!("a")]);
        assert!(parse_args_array("{}").unwrap_err().to_string().contains("expected a JSON array"));
        assert!(parse_args_array("[1,").unwrap_err().to_string().contains("not JSON"));
        let many = format!("[{}]", vec!["1"; MAX_CALL_ARGS + 1].join(","));
        assert!(parse_args_array(&many).unwrap_err().to_string().contains("at most"));
    }
}
