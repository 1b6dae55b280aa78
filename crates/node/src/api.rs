//! The JSON-RPC methods of the node.
//!
//! | method | params | result |
//! |---|---|---|
//! | `status` | `[]` | chain id, head height/hash/state root/time, genesis hash, gas price, pool size |
//! | `getBlock` | `[height or hash, full?]` | block summary; with `full`, transactions in full |
//! | `getTx` | `[hash]` | transaction, with its block if committed, else `"status": "pending"` |
//! | `getReceipt` | `[hash]` | receipt of a committed transaction |
//! | `getAccount` | `[address, height?]` | balance, nonce (and, at the head, the next nonce to use) |
//! | `sendTx` | `[hex of the protobuf-encoded Tx, {wait?, timeoutMs?}]` | `{"hash": ...}`, or error -32000 with the reason; `wait` (`none`, `preconfirmed`, `included`, `final`) adds the producer's signed `preconfirmation` or the `receipt` (see `api/preconf.rs`) |
//! | `sendTxs` | `[[hex, ...], {wait?}]` (at most 100; `wait`: `none` or `preconfirmed`) | one entry per transaction, in order: `{"hash", "preconfirmation"?}` or `{"error": {code, message, reason}}`; promised with one durable write for all |
//! | `checkPreconf` | `[pre-confirmation JSON or hex]` | `valid`, `producer`, and `promise`: `pending`, `kept`, `broken` (with `breach`) or `void` against this node's main chain |
//! | `query` | `[sql, {height?, contract?}]` | one read-only SELECT: `columns`, `types`, `rows`, `gasUsed`, `height` |
//! | `queryContract` | as `query`, or `[address, {"Name", "Args"}, {height?}]` | the second form calls a public function read-only: `ret` (JSON text), `result`, `gasUsed` |
//! | `getContract` | `[address, height?]` | catalogue row: creator, schema, source hash and source, functions, balance |
//! | `getABI` | `[address, height?]` | `{"language": "sql", "functions": [{"name", "arguments": [{"name", "type"}], "returns"}]}` |
//! | `getEvents` | `[{contract?, name?, fromHeight?, toHeight?}]` | events in height order, `truncated` when more matched |
//! | `listTables` | `[{height?}]` | every table, view, index and function of the snapshot, all schemas: `relations` (`schema`, `name`, `kind`, `table` of an index), `truncated` past `query.max_rows` |
//! | `describeTable` | `[name, {height?, contract?}]` | one object: a table's `columns` (`name`, `type`, `notNull`, `default`), `primaryKey`, `indexes`, `checks`; a view's `columns` and `query`; a function's `params`, `returns`, `source` |
//! | `getPeers` | `[]` | `[{"peerId", "address", "height", "lib"}]`: connected peers and their heads |
//! | `getProducers` | `[]` | DPoS: `epochBlocks`, `bpCount`, `producers` (`rank`, `peerId`, `votes`, `rating` %, `slashed`), top 100 `candidates` |
//! | `getStake` | `[address]` | DPoS: `amount`, `sinceHeight`, `unlockHeight` |
//! | `getParams` | `[]` | `[{"name", "value"}]`: governance parameters in force (`BPCOUNT`, `STAKINGMIN`, `GASPRICE`, `NAMEPRICE`, `STAKINGLOCK`, `MAXTXGAS`, `MAXBLOCKGAS`, `SLASHPERCENT`, `FILEPRICE`, `FILERENT`) |
//! | `getOffences` | `[{limit?}]` | DPoS: `offences` punished (`id`, `kind`, `producer`, `at` slot or height, `height` punished at, `reporter`, `slashed`, `reward`, `detail`) and `burned` |
//! | `getParamVotes` | `[name]` | DPoS: `[{"value", "votes"}]`, most votes first |
//! | `getNameInfo` | `[name, height?]` | `name`, `owner`, `destination`, `height` (of its last change) |
//! | `getAccountTxs`, `getMetricsHistory`, `getRawBlocks` | see `api/explorer.rs` | an account's transactions; the node's figures per block; blocks as bytes |
//! | `diff` | `[from, to, {table?, limit?}]` (heights or block hashes) | `relations`: each changed table, view or function (`name`, `kind`, `change`, `columns`, `rows`: `key`, `old`, `new`), `truncated`; cost follows the change, not the state |
//!
//! `status` also reports the consensus: `lib` (height, hash), `peers`,
//! `role` (`producer`, `follower` or `solo`), `consensus` (`sbp`, `dpos`),
//! `peerId` (the node key's libp2p id) and `sync` (`syncing`, `target`: the
//! best head height seen among peers).
//!
//! Contract queries run on the snapshot of the head or of `height` in a
//! read-only session (writes fail with error -32602 and change nothing),
//! with the gas and row/byte caps of the `[query]` configuration (hitting
//! one is error -32005 naming it); `contract` makes its schema the default
//! one. NUMERIC values come back as strings of their exact decimal text.
//! `getEvents` spans at most `query.max_event_blocks` blocks (default: the
//! last ones up to `toHeight`, itself defaulting to the head) and returns at
//! most `query.max_events` events.
//!
//! WebSocket topic `blocks` streams block summaries as they are committed;
//! `preconfirmations` streams the pre-confirmations this node signs.
//!
//! Encodings: hashes in base58 (as the Go node's tools print them; hex with
//! a `0x` prefix is accepted on input), addresses in base58check, amounts as
//! decimal strings of aer (exact; JSON numbers would lose precision), with
//! a formatted copy alongside where a human reads it.

use std::sync::Arc;

use aergo_exec::events::{list_events, EventFilter, ListLimits};
use aergo_exec::query::{
    describe_relation, list_relations, query_call, query_engine, query_sql, strip_as_of, QueryContext, RelationDetail,
};
use aergo_exec::ExecError;
use aergo_replica::TxRejection;
use aergo_rpc::{Handler, RpcError};
use aergo_store::Snapshot;
use aergo_types::{Address, Amount, Block, Event, Hash, Receipt, RejectReason, Tx, Unit};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::Node;

mod branches;
mod consensus;
mod diff;
mod explorer;
mod preconf;

/// Largest raw transaction accepted by `sendTx`, in hex characters.
const MAX_RAW_TX_HEX: usize = 2 * aergo_types::TX_MAX_SIZE_BYTES;

pub struct Api {
    pub(crate) node: Arc<Node>,
    /// Engine of the read-only contract API: its cache of compiled
    /// functions outlives single requests. The gRPC methods share it.
    pub(crate) queries: aergo_exec::query::Engine,
}

impl Api {
    pub fn new(node: Arc<Node>) -> Api {
        let queries = query_engine(&node.config().query.limits());
        Api { node, queries }
    }
}

/// Rows scanned at most by one `getEvents` call.
pub(crate) const MAX_EVENT_ROWS_SCANNED: usize = 100_000;

fn param<'a>(params: &'a Value, index: usize, name: &str) -> Option<&'a Value> {
    match params {
        Value::Array(a) => a.get(index),
        Value::Object(o) => o.get(name),
        _ => None,
    }
    .filter(|v| !v.is_null())
}

fn required<'a>(params: &'a Value, index: usize, name: &str) -> Result<&'a Value, RpcError> {
    param(params, index, name).ok_or_else(|| RpcError::invalid_params(format!("missing parameter #{index} ({name})")))
}

fn parse_hash(v: &Value, what: &str) -> Result<Hash, RpcError> {
    let s = v.as_str().ok_or_else(|| RpcError::invalid_params(format!("{what}: expected a string, got {v}")))?;
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => Hash::from_hex(hex),
        None => Hash::from_base58(s),
    };
    parsed.map_err(|e| RpcError::invalid_params(format!("{what}: {e}")))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::internal(e.to_string())
}

fn amount_json(a: Amount) -> Value {
    json!(a.aer().to_string())
}

fn address_text(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match Address::from_bytes(bytes) {
        Ok(a) => json!(a.to_string()),
        Err(_) => json!(format!("0x{}", hex::encode(bytes))),
    }
}

fn hash_text(bytes: &[u8]) -> Value {
    match Hash::from_slice("hash", bytes) {
        Ok(h) => json!(h.to_string()),
        Err(_) if bytes.is_empty() => Value::Null,
        Err(_) => json!(format!("0x{}", hex::encode(bytes))),
    }
}

/// A transaction as JSON.
pub fn tx_json(tx: &Tx) -> Value {
    let Some(b) = tx.body.as_ref() else { return json!({ "hash": hash_text(&tx.hash) }) };
    let amount = Amount::from_be_bytes(&b.amount).unwrap_or(Amount::ZERO);
    let gas_price = Amount::from_be_bytes(&b.gas_price).unwrap_or(Amount::ZERO);
    json!({
        "hash": hash_text(&tx.hash),
        "nonce": b.nonce,
        "from": address_text(&b.account),
        "to": address_text(&b.recipient),
        "amount": amount_json(amount),
        "amountFormatted": amount.format(Unit::Aergo),
        "payload": hex::encode(&b.payload),
        "gasLimit": b.gas_limit,
        "gasPrice": amount_json(gas_price),
        "type": b.tx_type().map(|t| t.name()).unwrap_or("unknown"),
        "chainIdHash": hash_text(&b.chain_id_hash),
        "sign": hex::encode(&b.sign),
    })
}

/// A block summary (or the full block) as JSON.
pub fn block_json(block: &Block, full: bool) -> Value {
    let Ok(h) = block.header() else { return json!({ "hash": hash_text(&block.hash) }) };
    let producer = aergo_crypto::PublicKey::from_libp2p_bytes(&h.pub_key).map(|k| k.address().to_string()).ok();
    let txs: Vec<Value> = block.txs().iter().map(|tx| if full { tx_json(tx) } else { hash_text(&tx.hash) }).collect();
    json!({
        "hash": hash_text(&block.hash),
        "height": h.block_no,
        "prevHash": hash_text(&h.prev_block_hash),
        "timestamp": h.timestamp,
        "stateRoot": hash_text(&h.blocks_root_hash),
        "txsRoot": hash_text(&h.txs_root_hash),
        "receiptsRoot": hash_text(&h.receipts_root_hash),
        "producer": producer,
        "coinbase": address_text(&h.coinbase_account),
        "txCount": block.txs().len(),
        "txs": txs,
    })
}

/// A receipt as JSON.
pub fn receipt_json(r: &Receipt) -> Value {
    let fee = Amount::from_be_bytes(&r.fee_used).unwrap_or(Amount::ZERO);
    json!({
        "txHash": hash_text(&r.tx_hash),
        "status": r.status,
        "ret": r.ret,
        "gasUsed": r.gas_used,
        "fee": amount_json(fee),
        "feeFormatted": fee.format(Unit::Aergo),
        "blockHash": hash_text(&r.block_hash),
        "blockHeight": r.block_no,
        "txIndex": r.tx_index,
        "from": address_text(&r.from),
        "to": address_text(&r.to),
        "contractAddress": address_text(&r.contract_address),
        "events": r.events.iter().map(|e| json!({
            "contract": address_text(&e.contract_address),
            "name": e.event_name,
            "args": e.json_args,
            "index": e.event_idx,
        })).collect::<Vec<_>>(),
    })
}

impl Api {
    fn status(&self) -> Result<Value, RpcError> {
        let chain = self.node.chain();
        let head = chain.head();
        let state = chain.head_state();
        let gas_price = aergo_exec::system::gas_price(&state).map_err(internal)?;
        let (pool_txs, pool_bytes) = self.node.pool_size();
        let g = chain.genesis();
        let mut status = json!({
            "chainId": {
                "magic": g.chain_id.magic,
                "public": g.chain_id.public,
                "mainnet": g.chain_id.mainnet,
                "consensus": g.chain_id.consensus,
                "version": g.chain_id.version,
            },
            "chainIdHash": chain.rules().chain_id_hash.to_string(),
            "height": head.height,
            "hash": head.hash.to_string(),
            "stateRoot": head.state_root.to_string(),
            "timestamp": head.timestamp_ns,
            "genesisHash": chain.genesis_hash().to_string(),
            "gasPrice": amount_json(gas_price),
            "producer": self.node.producer_key().address().to_string(),
            "pool": { "txs": pool_txs, "bytes": pool_bytes },
        });
        if let (Some(v), Value::Object(extra)) = (status.as_object_mut(), self.consensus_status()?) {
            v.extend(extra);
        }
        Ok(status)
    }

    fn get_block(&self, params: &Value) -> Result<Value, RpcError> {
        let which = required(params, 0, "block")?;
        let full = param(params, 1, "full").and_then(Value::as_bool).unwrap_or(false);
        let blocks = self.node.chain().blocks();
        let block = match which {
            Value::Number(n) => {
                let height = n.as_u64().ok_or_else(|| RpcError::invalid_params(format!("height {n} is not a u64")))?;
                blocks.block_by_height(height).map_err(internal)?
            }
            other => blocks.block_by_hash(&parse_hash(other, "block hash")?).map_err(internal)?,
        };
        block.map(|b| block_json(&b, full)).ok_or_else(|| RpcError::not_found(format!("no block {which}")))
    }

    fn get_tx(&self, params: &Value) -> Result<Value, RpcError> {
        let hash = parse_hash(required(params, 0, "hash")?, "tx hash")?;
        if let Some((tx, loc, height)) = self.node.chain().blocks().tx(&hash).map_err(internal)? {
            let mut v = tx_json(&tx);
            v["status"] = json!("committed");
            v["blockHash"] = json!(loc.block_hash.to_string());
            v["blockHeight"] = json!(height);
            v["index"] = json!(loc.index);
            return Ok(v);
        }
        if let Some(tx) = self.node.pending_tx(&hash) {
            let mut v = tx_json(&tx);
            v["status"] = json!("pending");
            return Ok(v);
        }
        Err(RpcError::not_found(format!("no transaction {hash}")))
    }

    fn get_receipt(&self, params: &Value) -> Result<Value, RpcError> {
        let hash = parse_hash(required(params, 0, "hash")?, "tx hash")?;
        match self.node.chain().blocks().receipt(&hash).map_err(internal)? {
            Some(r) => Ok(receipt_json(&r)),
            None if self.node.pending_tx(&hash).is_some() => {
                Err(RpcError::not_found(format!("transaction {hash} is pending: no receipt yet")))
            }
            None => Err(RpcError::not_found(format!("no transaction {hash}"))),
        }
    }

    fn get_account(&self, params: &Value) -> Result<Value, RpcError> {
        let text = required(params, 0, "address")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("address: expected a string"))?;
        let address = Address::parse(text).map_err(|e| RpcError::invalid_params(e.to_string()))?;
        let head = self.node.chain().head();
        let at = self.resolve_at(param(params, 1, "height"))?;
        let (height, state) = (at.height, &at.state);
        let acct = aergo_exec::account(state, &address).map_err(internal)?;
        let mut v = json!({
            "address": address.to_string(),
            "balance": amount_json(acct.balance),
            "balanceFormatted": acct.balance.format(Unit::Aergo),
            "nonce": acct.nonce,
            "height": height,
            "branch": at.branch,
        });
        if height == head.height {
            let lane = self.lane_of(&at.branch)?;
            v["nextNonce"] = json!(self.node.next_nonce(&lane, &address).map_err(internal)?);
        }
        Ok(v)
    }

    fn send_tx(&self, params: &Value) -> Result<Value, RpcError> {
        let raw = required(params, 0, "tx")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("tx: expected the hex of a protobuf-encoded Tx"))?;
        let tx = decode_raw_tx(raw)?;
        self.submit_and_wait(tx, param(params, 1, "options"))
    }
}

/// A transaction from the hex of its protobuf encoding; bytes that are
/// not one are bad params (-32602) with the reason code a refused
/// transaction would carry.
pub(crate) fn decode_raw_tx(raw: &str) -> Result<Tx, RpcError> {
    let bad_tx = |message: String, reason: RejectReason| {
        RpcError::invalid_params(message).with_data(json!({ "reason": reason.as_str() }))
    };
    if raw.len() > MAX_RAW_TX_HEX {
        return Err(bad_tx(
            format!("tx of {} hex characters exceeds the limit of {MAX_RAW_TX_HEX}", raw.len()),
            RejectReason::TooLarge,
        ));
    }
    let bytes = hex::decode(raw.strip_prefix("0x").unwrap_or(raw))
        .map_err(|e| bad_tx(format!("tx: not hex: {e}"), RejectReason::InvalidFormat))?;
    Tx::decode_bounded(&bytes).map_err(|e| bad_tx(format!("tx: {e}"), e.reason()))
}

/// A refused transaction: -32000 with the message, and the stable reason
/// code in `data.reason` for programs.
fn rejection(r: &TxRejection) -> RpcError {
    RpcError::rejected(r.to_string()).with_data(json!({ "reason": r.reason().as_str() }))
}

fn parse_address(v: &Value, what: &str) -> Result<Address, RpcError> {
    let s =
        v.as_str().ok_or_else(|| RpcError::invalid_params(format!("{what}: expected an address string, got {v}")))?;
    Address::parse(s).map_err(|e| RpcError::invalid_params(format!("{what}: {e}")))
}

/// A ref from a `branch` option and a `height` option: `branch@height`,
/// the branch's latest state, or the height (itself any ref) alone.
fn ref_spec(branch: Option<&Value>, height: Option<&Value>) -> Result<Option<Value>, RpcError> {
    let Some(b) = branch else { return Ok(height.cloned()) };
    let b = b.as_str().ok_or_else(|| RpcError::invalid_params(format!("branch: expected a name, got {b}")))?;
    Ok(Some(match height {
        None => json!(b),
        Some(h) => json!(format!("{b}@{}", height_param(h)?)),
    }))
}

fn height_param(v: &Value) -> Result<u64, RpcError> {
    v.as_u64().ok_or_else(|| RpcError::invalid_params(format!("height {v} is not a u64")))
}

/// An options object with only the `allowed` keys (null values ignored).
fn options<'a>(
    v: Option<&'a Value>,
    what: &str,
    allowed: &[&str],
) -> Result<Option<&'a serde_json::Map<String, Value>>, RpcError> {
    match v {
        None => Ok(None),
        Some(Value::Object(o)) => {
            if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(RpcError::invalid_params(format!(
                    "{what}: unknown key {k:?} (allowed: {})",
                    allowed.join(", ")
                )));
            }
            Ok(Some(o))
        }
        Some(other) => Err(RpcError::invalid_params(format!("{what}: expected an object, got {other}"))),
    }
}

fn opt<'a>(o: Option<&'a serde_json::Map<String, Value>>, key: &str) -> Option<&'a Value> {
    o.and_then(|o| o.get(key)).filter(|v| !v.is_null())
}

/// How a contract API error reaches the client: caps are -32005, a missing
/// contract -32001, this node's own failures -32603, anything else the
/// caller got wrong -32602.
pub(crate) fn contract_error(e: ExecError) -> RpcError {
    use aergo_exec::query::SqlError as S;
    match &e {
        ExecError::LimitExceeded { .. }
        | ExecError::Sql(S::OutOfGas { .. } | S::ResultTooLarge { .. } | S::LimitExceeded { .. }) => {
            RpcError::new(aergo_rpc::LIMIT_EXCEEDED, e.to_string())
        }
        ExecError::NoContract { .. } => RpcError::not_found(e.to_string()),
        _ if !e.is_rejection() => internal(e),
        _ => RpcError::invalid_params(e.to_string()),
    }
}

fn event_json(e: &Event, block_hash: Option<Hash>) -> Value {
    json!({
        "contract": address_text(&e.contract_address),
        "name": e.event_name,
        "args": e.json_args,
        "index": e.event_idx,
        "txHash": hash_text(&e.tx_hash),
        "txIndex": e.tx_index,
        "blockHeight": e.block_no,
        "blockHash": block_hash.map(|h| h.to_string()),
    })
}

impl Api {
    /// The state at `height` (the head when absent) with its block's height
    /// and time.
    pub(crate) fn snapshot_at(&self, height: Option<&Value>) -> Result<(u64, i64, Snapshot), RpcError> {
        let at = self.resolve_at(height)?;
        Ok((at.height, at.timestamp_ns, at.state))
    }

    fn query(&self, params: &Value) -> Result<Value, RpcError> {
        let sql = required(params, 0, "sql")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("sql: expected the text of one SELECT"))?;
        let opts = options(param(params, 1, "options"), "options", &["height", "contract", "branch"])?;
        let contract = opt(opts, "contract").map(|v| parse_address(v, "contract")).transpose()?;
        // `AS OF 'ref'` in the text names the snapshot as the options can.
        let (sql, as_of) = strip_as_of(sql).map_err(|e| RpcError::invalid_params(e.to_string()))?;
        let spec = match as_of {
            Some(_) if opt(opts, "branch").is_some() || opt(opts, "height").is_some() => {
                return Err(RpcError::invalid_params(
                    "the query's AS OF and the height or branch option both name a snapshot; give one",
                ))
            }
            Some(r) => Some(json!(r)),
            None => ref_spec(opt(opts, "branch"), opt(opts, "height"))?,
        };
        let (height, timestamp_ns, mut snap) = self.snapshot_at(spec.as_ref())?;
        let qc = QueryContext { height, timestamp_ns, contract };
        let gas_limit = self.node.config().query.gas_limit;
        let out = query_sql(&self.queries, &mut snap, &qc, &sql, gas_limit).map_err(contract_error)?;
        Ok(json!({
            "columns": out.columns,
            "types": out.types,
            "rowCount": out.rows.len(),
            "rows": out.rows,
            "gasUsed": out.gas_used,
            "height": height,
        }))
    }

    fn query_contract(&self, params: &Value) -> Result<Value, RpcError> {
        let call = param(params, 1, "call");
        let is_call = matches!(call, Some(Value::Object(o)) if o.keys().any(|k| k.eq_ignore_ascii_case("name")));
        if !is_call {
            return self.query(params);
        }
        let address = parse_address(required(params, 0, "address")?, "address")?;
        let payload = call.map(|c| c.to_string().into_bytes()).unwrap_or_default();
        let opts = options(param(params, 2, "options"), "options", &["height", "branch"])?;
        let spec = ref_spec(opt(opts, "branch"), opt(opts, "height"))?;
        let (height, timestamp_ns, mut snap) = self.snapshot_at(spec.as_ref())?;
        let qc = QueryContext { height, timestamp_ns, contract: Some(address.clone()) };
        let gas_limit = self.node.config().query.gas_limit;
        let (ret, gas_used) =
            query_call(&self.queries, &mut snap, &qc, &address, &payload, gas_limit).map_err(contract_error)?;
        let result = if ret.is_empty() { Value::Null } else { serde_json::from_str(&ret).unwrap_or(Value::Null) };
        Ok(json!({ "ret": ret, "result": result, "gasUsed": gas_used, "height": height }))
    }

    fn contract_at(&self, params: &Value) -> Result<(u64, Snapshot, aergo_exec::contract::ContractInfo), RpcError> {
        let address = parse_address(required(params, 0, "address")?, "address")?;
        let (height, _, snap) = self.snapshot_at(param(params, 1, "height"))?;
        let info = aergo_exec::contract::read_contract(&snap, &address)
            .map_err(internal)?
            .ok_or_else(|| RpcError::not_found(format!("no contract at {address} (height {height})")))?;
        Ok((height, snap, info))
    }

    fn get_contract(&self, params: &Value) -> Result<Value, RpcError> {
        let (height, snap, info) = self.contract_at(params)?;
        let balance = aergo_exec::account(&snap, &info.address).map_err(internal)?.balance;
        Ok(json!({
            "address": info.address.to_string(),
            "creator": info.creator.to_string(),
            "schema": info.schema,
            "sourceHash": info.source_hash.to_hex(),
            "functions": info.functions.iter().map(|f| f.to_json()).collect::<Vec<_>>(),
            "constructor": info.has_constructor,
            "deployedHeight": info.deployed_height,
            "deployTx": info.deploy_tx.to_string(),
            "source": info.source,
            "balance": amount_json(balance),
            "balanceFormatted": balance.format(Unit::Aergo),
            "height": height,
        }))
    }

    fn get_abi(&self, params: &Value) -> Result<Value, RpcError> {
        let (_, _, info) = self.contract_at(params)?;
        let functions: Vec<Value> = info
            .functions
            .iter()
            .map(|f| {
                json!({
                    "name": f.name,
                    "arguments": f.params.iter().map(|(n, t)| json!({ "name": n, "type": t })).collect::<Vec<_>>(),
                    "returns": f.returns,
                })
            })
            .collect();
        Ok(json!({
            "address": info.address.to_string(),
            "version": "1",
            "language": "sql",
            "functions": functions,
        }))
    }

    fn get_events(&self, params: &Value) -> Result<Value, RpcError> {
        let cfg = &self.node.config().query;
        let f = options(param(params, 0, "filter"), "filter", &["contract", "name", "fromHeight", "toHeight"])?;
        let chain = self.node.chain();
        let head = chain.head();
        let contract = opt(f, "contract").map(|v| parse_address(v, "contract")).transpose()?;
        let name = opt(f, "name")
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| RpcError::invalid_params("name: expected a string")))
            .transpose()?;
        let span = cfg.max_event_blocks.max(1);
        let to = opt(f, "toHeight").map(height_param).transpose()?.unwrap_or(head.height);
        let from = opt(f, "fromHeight").map(height_param).transpose()?.unwrap_or(to.saturating_sub(span - 1));
        if from > to {
            return Err(RpcError::invalid_params(format!("fromHeight {from} is above toHeight {to}")));
        }
        if to - from >= span {
            return Err(RpcError::new(
                aergo_rpc::LIMIT_EXCEEDED,
                format!("heights {from}..={to} span more than query.max_event_blocks = {span} blocks"),
            ));
        }
        let filter = EventFilter { contract, name, from_height: from, to_height: to.min(head.height) };
        let limits = ListLimits { max_results: cfg.max_events, max_scanned: MAX_EVENT_ROWS_SCANNED };
        let list = list_events(&chain.head_state(), &filter, limits).map_err(contract_error)?;
        let mut hashes: std::collections::BTreeMap<u64, Option<Hash>> = std::collections::BTreeMap::new();
        let mut events = Vec::with_capacity(list.events.len());
        for e in &list.events {
            let hash = match hashes.get(&e.block_no) {
                Some(h) => *h,
                None => {
                    let h = chain.blocks().hash_at(e.block_no).map_err(internal)?;
                    hashes.insert(e.block_no, h);
                    h
                }
            };
            events.push(event_json(e, hash));
        }
        Ok(json!({ "events": events, "truncated": list.truncated, "fromHeight": from, "toHeight": to }))
    }
}

impl Api {
    fn list_tables(&self, params: &Value) -> Result<Value, RpcError> {
        let opts = options(param(params, 0, "options"), "options", &["height", "branch"])?;
        let spec = ref_spec(opt(opts, "branch"), opt(opts, "height"))?;
        let (height, _, snap) = self.snapshot_at(spec.as_ref())?;
        let list = list_relations(&snap, self.node.config().query.max_rows).map_err(contract_error)?;
        let relations: Vec<Value> = list
            .relations
            .iter()
            .map(|r| json!({ "schema": r.schema, "name": r.name, "kind": r.kind.as_str(), "table": r.table }))
            .collect();
        Ok(json!({ "relations": relations, "truncated": list.truncated, "height": height }))
    }

    fn describe_table(&self, params: &Value) -> Result<Value, RpcError> {
        let name = required(params, 0, "name")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("name: expected NAME, SCHEMA.NAME or NAME()"))?;
        let opts = options(param(params, 1, "options"), "options", &["height", "contract", "branch"])?;
        let contract = opt(opts, "contract").map(|v| parse_address(v, "contract")).transpose()?;
        let spec = ref_spec(opt(opts, "branch"), opt(opts, "height"))?;
        let (height, timestamp_ns, snap) = self.snapshot_at(spec.as_ref())?;
        let qc = QueryContext { height, timestamp_ns, contract };
        let d = describe_relation(&self.queries, &snap, &qc, name)
            .map_err(contract_error)?
            .ok_or_else(|| RpcError::not_found(format!("no table, view or function {name:?} at height {height}")))?;
        let mut v = json!({ "schema": d.schema, "name": d.name, "height": height });
        match d.detail {
            RelationDetail::Table { columns, primary_key, indexes, checks } => {
                v["kind"] = json!("table");
                v["columns"] = columns
                    .iter()
                    .map(|c| json!({ "name": c.name, "type": c.ty, "notNull": c.not_null, "default": c.default }))
                    .collect();
                v["primaryKey"] = json!(primary_key);
                v["indexes"] = indexes
                    .iter()
                    .map(|i| json!({ "name": i.name, "columns": i.columns, "unique": i.unique }))
                    .collect();
                v["checks"] = checks.iter().map(|(n, e)| json!({ "name": n, "expr": e })).collect();
            }
            RelationDetail::View { columns, query } => {
                v["kind"] = json!("view");
                v["columns"] = columns.iter().map(|c| json!({ "name": c, "type": null })).collect();
                v["query"] = json!(query);
            }
            RelationDetail::Function { params, returns, language, source } => {
                v["kind"] = json!("function");
                v["params"] = params.iter().map(|(n, t, d)| json!({ "name": n, "type": t, "hasDefault": d })).collect();
                v["returns"] = json!(returns);
                v["language"] = json!(language);
                v["source"] = json!(source);
            }
        }
        Ok(v)
    }
}

impl Api {
    fn get_name_info(&self, params: &Value) -> Result<Value, RpcError> {
        let name = required(params, 0, "name")?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("name: expected a name such as \"alice1234567\""))?;
        let (height, _, snap) = self.snapshot_at(param(params, 1, "height"))?;
        let r = self.name_record(&snap, name, height)?;
        Ok(json!({
            "name": r.name,
            "owner": r.owner.to_string(),
            "destination": r.destination.to_string(),
            "height": r.height,
        }))
    }

    /// The record of `name` in `snap` (at `height`), or not found.
    pub(crate) fn name_record(
        &self,
        snap: &Snapshot,
        name: &str,
        height: u64,
    ) -> Result<aergo_exec::names::NameRecord, RpcError> {
        aergo_exec::names::lookup(snap, name).map_err(internal)?.ok_or_else(|| {
            RpcError::not_found(format!("name not found: {name:?} is not registered at height {height}"))
        })
    }
}

/// Every JSON-RPC method, as the metrics label them (and the fuzz target
/// calls them).
pub const METHODS: &[&str] = &[
    "status",
    "getBlock",
    "getTx",
    "getReceipt",
    "getAccount",
    "sendTx",
    "query",
    "queryContract",
    "getContract",
    "getABI",
    "getEvents",
    "listTables",
    "describeTable",
    "getPeers",
    "getProducers",
    "getStake",
    "getParams",
    "getParamVotes",
    "getOffences",
    "getNameInfo",
    "diff",
    "getAccountTxs",
    "getMetricsHistory",
    "getRawBlocks",
    "getGenesis",
    "listBranches",
    "getBranch",
    "listTags",
    "checkPreconf",
    "sendTxs",
];

impl Api {
    fn dispatch(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "status" => self.status(),
            "getBlock" => self.get_block(&params),
            "getTx" => self.get_tx(&params),
            "getReceipt" => self.get_receipt(&params),
            "getAccount" => self.get_account(&params),
            "sendTx" => self.send_tx(&params),
            "query" => self.query(&params),
            "queryContract" => self.query_contract(&params),
            "getContract" => self.get_contract(&params),
            "getABI" => self.get_abi(&params),
            "getEvents" => self.get_events(&params),
            "listTables" => self.list_tables(&params),
            "describeTable" => self.describe_table(&params),
            "getPeers" => self.get_peers(),
            "getProducers" => self.get_producers(),
            "getStake" => self.get_stake(&params),
            "getParams" => self.get_params(),
            "getParamVotes" => self.get_param_votes(&params),
            "getOffences" => self.get_offences(&params),
            "getNameInfo" => self.get_name_info(&params),
            "diff" => self.diff(&params),
            "getAccountTxs" => self.get_account_txs(&params),
            "getMetricsHistory" => self.get_metrics_history(&params),
            "getRawBlocks" => self.get_raw_blocks(&params),
            "getGenesis" => self.get_genesis(),
            "listBranches" => self.list_branches(&params),
            "getBranch" => self.get_branch(&params),
            "listTags" => self.list_tags(),
            "checkPreconf" => self.check_preconf(&params),
            "sendTxs" => self.send_txs(&params),
            other => Err(RpcError::method_not_found(other)),
        }
    }
}

impl Handler for Api {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let started = std::time::Instant::now();
        let result = self.dispatch(method, params);
        // Only names that are methods become labels: a client cannot grow
        // the label set by calling made-up names.
        let label = match &result {
            Err(e) if e.code == aergo_rpc::METHOD_NOT_FOUND => "unknown",
            _ => METHODS.iter().copied().find(|m| *m == method).unwrap_or("unknown"),
        };
        self.node.metrics().rpc_call(label, started.elapsed());
        result
    }

    fn metrics(&self) -> Option<String> {
        let chain = self.node.chain();
        let (pool_txs, pool_bytes) = self.node.pool_size();
        let (block_interval_seconds, tps) = self.node.with_stats(|s| (s.block_interval_seconds(), s.tps()));
        let sync = self.node.sync_progress();
        let now = crate::metrics::Snapshot {
            height: chain.head().height,
            lib_height: chain.lib().height,
            peers: self.node.peers().len(),
            sync_target: sync.target,
            syncing: sync.syncing,
            pool_txs,
            pool_bytes,
            block_interval_seconds,
            tps,
            exec: chain.exec_totals(),
        };
        Some(self.node.metrics().encode(&now))
    }

    /// Healthy once the node is not catching up with its peers: a load
    /// balancer then sends clients only to nodes that answer at the tip.
    fn health(&self) -> Result<Value, String> {
        let head = self.node.chain().head();
        let sync = self.node.sync_progress();
        if sync.syncing {
            return Err(format!("syncing: at height {} of {}", head.height, sync.target));
        }
        Ok(json!({ "status": "ok", "height": head.height, "hash": head.hash.to_string() }))
    }

    /// The web console's assets, when `[console] enabled`.
    fn page(&self, path: &str) -> Option<aergo_rpc::Page> {
        if !self.node.config().console.enabled {
            return None;
        }
        aergo_console::asset(path).map(|a| aergo_rpc::Page {
            content_type: a.content_type,
            body: a.body,
            content_security_policy: aergo_console::CONTENT_SECURITY_POLICY,
        })
    }

    fn subscribe(&self, topic: &str, _params: &Value) -> Result<broadcast::Receiver<Value>, RpcError> {
        match topic {
            "blocks" => Ok(self.node.subscribe_blocks()),
            "preconfirmations" => Ok(self.node.subscribe_preconfs()),
            other => {
                Err(RpcError::invalid_params(format!("unknown topic {other:?}; topics: blocks, preconfirmations")))
            }
        }
    }
}
