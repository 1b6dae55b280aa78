//! Staking, block-producer votes and governance parameters: the
//! `aergo.system` calls of `stake`, `unstake`, `vote`, `param vote`, and the
//! reads behind `stake show`, `bp list` and `param list|votes`.
//!
//! A call is a `GOVERNANCE` transaction to the name `aergo.system` whose
//! payload is the Go node's JSON (`{"Name":"v1stake"}`,
//! `{"Name":"v1voteBP","Args":[peer ids]}`, ...: [`GovCall`] in
//! `aergo_types::payload`, which the executor parses; its rules are in
//! `aergo_exec::gov`). Signing, nonces and submission are the same as for a
//! transfer.
//!
//! Before sending, [`preflight`] reads the account, its stake and the
//! parameters over RPC and refuses what the chain would certainly reject
//! (below the minimum stake, unstaking more than is staked or while the
//! stake is locked, voting without a stake). This matters because the node
//! drops a governance call it cannot apply when it builds a block, without
//! a receipt; [`wait_included`] notices such a drop instead of waiting out
//! its timeout. A node without the DPoS API (no `getStake`) skips those
//! checks; the chain stays the judge either way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aergo_crypto::{sign_tx, PrivateKey, PublicKey};
use aergo_types::address::AERGO_SYSTEM;
use aergo_types::payload::{GovCall, GovParam, MAX_CANDIDATES_PER_VOTE};
use aergo_types::{Address, Amount, Hash, Tx, TxBody, TxType, Unit};
use serde_json::{json, Value};

use aergo_client::client::{amount_field, field, RpcClient};
use aergo_client::transfer::Sent;
use aergo_client::{CliError, Result};

/// How long a transaction must stay unknown to the node (no receipt, not
/// pending) before [`wait_included`] calls it dropped: covers the moment
/// between a block's commit and its transactions leaving the pool.
pub const DROP_CONFIRM_MS: u64 = 1_500;
/// How often [`wait_included`] asks.
pub const POLL_MS: u64 = 100;
/// Most candidates and parameter tallies read from one answer.
pub const MAX_LIST_ROWS: usize = 10_000;

/// Parses a parameter id (`BPCOUNT`, ...), in any case.
pub fn parse_param(text: &str) -> Result<GovParam> {
    GovParam::from_dao_id(text.trim())
        .ok_or_else(|| CliError::invalid("parameter", text, format!("expected one of {}", GovParam::ids().join(", "))))
}

/// A parameter's values as a person types and reads them.
pub trait ParamText {
    /// Parses a proposed value: an amount (`"100 aergo"`, `"50 gaer"`, a
    /// bare number of aer) for amount parameters, a plain count otherwise.
    fn parse_value(self, text: &str) -> Result<u128>;
    /// A value as a person reads it.
    fn describe(self, value: u128) -> String;
}

impl ParamText for GovParam {
    fn parse_value(self, text: &str) -> Result<u128> {
        let t = text.trim();
        let value = if self.is_amount() {
            Amount::parse(t)
                .map_err(|e| {
                    CliError::invalid(
                        "value",
                        text,
                        format!("{e}; {} is an amount, e.g. \"100 aergo\", \"50 gaer\" or aer", self.dao_id()),
                    )
                })?
                .aer()
        } else {
            if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CliError::invalid("value", text, format!("{} is a whole number", self.dao_id())));
            }
            t.parse::<u128>().map_err(|e| CliError::invalid("value", text, e.to_string()))?
        };
        if value < self.min_value() || value > self.max_value() {
            return Err(CliError::invalid(
                "value",
                text,
                format!(
                    "{} must be {}..={} ({})",
                    self.dao_id(),
                    self.min_value(),
                    self.max_value(),
                    self.describe(self.max_value())
                ),
            ));
        }
        Ok(value)
    }

    fn describe(self, value: u128) -> String {
        match self {
            GovParam::GasPrice => Amount::from_aer(value).format(Unit::Gaer),
            GovParam::MinStake | GovParam::NamePrice => Amount::from_aer(value).format(Unit::Aergo),
            GovParam::StakeLockBlocks => format!("{value} blocks"),
            GovParam::BpCount => format!("{value} producers"),
            GovParam::MaxTxGas | GovParam::MaxBlockGas => format!("{value} gas"),
            GovParam::SlashPercent => format!("{value}% of a convicted producer's stake"),
            GovParam::FilePrice => format!("{} per byte registered", Amount::from_aer(value).format(Unit::Gaer)),
            GovParam::FileRent => format!("{value} aer per byte per block held"),
        }
    }
}

/// A `v1voteBP` for 1..=30 distinct canonical secp256k1 peer ids.
pub fn vote_bp<S: AsRef<str>>(peer_ids: &[S]) -> Result<GovCall> {
    if peer_ids.is_empty() || peer_ids.len() > MAX_CANDIDATES_PER_VOTE {
        return Err(CliError::invalid(
            "candidates",
            &format!("{} peer ids", peer_ids.len()),
            format!("a vote names 1..={MAX_CANDIDATES_PER_VOTE} candidates"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut ids = Vec::with_capacity(peer_ids.len());
    for id in peer_ids {
        let id = id.as_ref().trim();
        PublicKey::from_peer_id(id)
            .map_err(|e| CliError::invalid("peer id", id, format!("{e}; expected a node's peer id (16Uiu2...)")))?;
        if !seen.insert(id.to_string()) {
            return Err(CliError::invalid("candidates", id, "named twice"));
        }
        ids.push(id.to_string());
    }
    Ok(GovCall::VoteBp(ids))
}

/// A `v1voteDAO` for `param` (an id such as `BPCOUNT`) and `value`.
pub fn vote_param(param: &str, value: &str) -> Result<GovCall> {
    let param = parse_param(param)?;
    let value = param.parse_value(value)?;
    Ok(GovCall::VoteDao { param, value })
}

/// A governance transaction to send.
#[derive(Clone, Debug)]
pub struct GovTx {
    pub call: GovCall,
    /// Stake or unstake amount; zero for votes.
    pub amount: Amount,
    /// `None`: the node's `nextNonce` for the sender.
    pub nonce: Option<u64>,
    /// 0: no limit beyond what the call needs.
    pub gas_limit: u64,
}

impl GovTx {
    /// Checks what can be checked without the chain: stake and unstake
    /// move a positive amount, votes none.
    pub fn check_shape(&self) -> Result<()> {
        let refuse = |reason: &str| Err(CliError::GovRefused { call: self.call.name(), reason: reason.to_string() });
        match (self.call.takes_amount(), self.amount.is_zero()) {
            (true, true) => refuse("the amount must be more than zero"),
            (false, false) => refuse("a vote or evidence moves no AERGO; a vote's weight is the voter's stake"),
            _ => Ok(()),
        }
    }

    /// The unsigned body from `from` with `nonce` on chain `chain_id_hash`.
    pub fn body(&self, from: &Address, nonce: u64, chain_id_hash: &Hash) -> Result<TxBody> {
        let system = Address::name(AERGO_SYSTEM)?;
        let body = TxBody::new(TxType::Governance, nonce, from, Some(&system), self.amount, chain_id_hash)
            .with_payload(self.call.payload());
        Ok(if self.gas_limit > 0 { body.with_gas(self.gas_limit, Amount::ZERO) } else { body })
    }
}

/// Builds and signs `t` from `key` against the node's chain id and (unless
/// given) the sender's next nonce.
pub async fn sign_gov(client: &RpcClient, key: &PrivateKey, t: &GovTx) -> Result<Tx> {
    t.check_shape()?;
    let status = client.status().await?;
    let from = key.address();
    let nonce = match t.nonce {
        Some(n) => n,
        None => {
            let acct = client.account(&from, None).await?;
            acct.next_nonce.unwrap_or(acct.nonce + 1)
        }
    };
    Ok(sign_tx(t.body(&from, nonce, &status.chain_id_hash)?, key))
}

/// Signs and submits `t`; with `wait_timeout_ms`, waits for its receipt
/// (and fails at once if the node drops it).
pub async fn send_gov(client: &RpcClient, key: &PrivateKey, t: &GovTx, wait_timeout_ms: Option<u64>) -> Result<Sent> {
    let tx = sign_gov(client, key, t).await?;
    let hash = client.send_tx(&tx).await?;
    let receipt = match wait_timeout_ms {
        Some(ms) => Some(wait_included(client, &hash, ms).await?),
        None => None,
    };
    Ok(Sent { hash, tx, receipt, preconfirmation: None })
}

/// Waits for the receipt of `hash`. Unlike a plain wait, notices when the
/// node no longer knows the transaction at all (not committed, not
/// pending) for [`DROP_CONFIRM_MS`]: it was dropped when a block was
/// built, and will never get a receipt.
pub async fn wait_included(client: &RpcClient, hash: &Hash, timeout_ms: u64) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let mut unknown_since: Option<Instant> = None;
    loop {
        if let Some(r) = client.receipt(hash).await? {
            return Ok(r);
        }
        match client.call("getTx", json!([hash.to_string()])).await {
            Ok(_) => unknown_since = None,
            Err(CliError::Rpc { code, .. }) if code == aergo_rpc::NOT_FOUND => {
                let since = *unknown_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_millis(DROP_CONFIRM_MS) {
                    // One last look: it may have been committed meanwhile.
                    if let Some(r) = client.receipt(hash).await? {
                        return Ok(r);
                    }
                    return Err(CliError::TxDropped {
                        hash: hash.to_string(),
                        reason: format!(
                            "it is neither pending nor in a block on {}; the chain rejected it when a block was \
                             built (the node's log says why)",
                            client.url()
                        ),
                    });
                }
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            return Err(CliError::Timeout { what: format!("the receipt of {hash}"), timeout_ms });
        }
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

/// Calls a method of the DPoS API, saying clearly when the node lacks it.
pub async fn call_dpos(client: &RpcClient, method: &str, params: Value) -> Result<Value> {
    match client.call(method, params).await {
        Err(CliError::Rpc { code, method, message, reason }) if code == aergo_rpc::METHOD_NOT_FOUND => {
            Err(CliError::Rpc {
                code,
                reason,
                message: format!(
                    "{message} (the node at {} has no DPoS API: is it a DPoS node of this version?)",
                    client.url()
                ),
                method,
            })
        }
        other => other,
    }
}

/// The stake of an account, as `getStake` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StakeInfo {
    pub amount: Amount,
    /// Height of the last increase (the lock counts from it).
    pub since_height: u64,
    /// First block height at which an unstake is accepted.
    pub unlock_height: u64,
}

impl StakeInfo {
    pub fn parse(v: &Value) -> std::result::Result<StakeInfo, String> {
        Ok(StakeInfo {
            amount: amount_field(v, "amount")?,
            since_height: u64_of(v, "sinceHeight")?,
            unlock_height: u64_of(v, "unlockHeight")?,
        })
    }
}

fn u64_of(v: &Value, name: &str) -> std::result::Result<u64, String> {
    field(v, name)?.as_u64().ok_or_else(|| format!("field {name:?} is not an unsigned integer"))
}

/// A decimal value given as a JSON string or number.
fn u128_of(v: &Value) -> Option<u128> {
    match v {
        Value::String(s) if s.len() <= 39 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        Value::Number(n) => n.as_u64().map(u128::from),
        _ => None,
    }
}

fn bad(client: &RpcClient, method: &str, reason: impl Into<String>) -> CliError {
    aergo_client::client::bad(method, client.url(), reason)
}

/// `getStake` of `address`.
pub async fn stake_of(client: &RpcClient, address: &Address) -> Result<(StakeInfo, Value)> {
    let raw = call_dpos(client, "getStake", json!([address.to_string()])).await?;
    let info = StakeInfo::parse(&raw).map_err(|r| bad(client, "getStake", r))?;
    Ok((info, raw))
}

/// `getParams`: parameter id -> value (aer for amounts).
pub fn parse_params(v: &Value) -> std::result::Result<BTreeMap<String, u128>, String> {
    let list = v.as_array().ok_or("expected a list of {name, value}")?;
    if list.len() > MAX_LIST_ROWS {
        return Err(format!("{} parameters, at most {MAX_LIST_ROWS} expected", list.len()));
    }
    let mut out = BTreeMap::new();
    for item in list {
        let name = field(item, "name")?.as_str().ok_or("a parameter name is not a string")?;
        let value = u128_of(field(item, "value")?).ok_or_else(|| format!("parameter {name}: value is not a number"))?;
        out.insert(name.to_ascii_uppercase(), value);
    }
    Ok(out)
}

/// `getParams`, parsed and raw.
pub async fn params(client: &RpcClient) -> Result<(BTreeMap<String, u128>, Value)> {
    let raw = call_dpos(client, "getParams", json!([])).await?;
    let parsed = parse_params(&raw).map_err(|r| bad(client, "getParams", r))?;
    Ok((parsed, raw))
}

/// `getOffences` as text: one line per punished offence, then the burned
/// total.
pub fn format_offences(v: &Value) -> String {
    let aergo =
        |v: &Value| v.as_str().and_then(|s| s.parse::<u128>().ok()).map(|a| Amount::from_aer(a).format(Unit::Aergo));
    let list = v["offences"].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    if list.is_empty() {
        out.push_str("no offence punished\n");
    }
    for o in &list {
        out.push_str(&format!(
            "{} by {} at {} (block {}): slashed {}, {} to {}\n  {}\n",
            o["kind"].as_str().unwrap_or("?"),
            o["producer"].as_str().unwrap_or("?"),
            o["at"],
            o["height"],
            aergo(&o["slashed"]).unwrap_or_default(),
            aergo(&o["reward"]).unwrap_or_default(),
            o["reporter"].as_str().unwrap_or("?"),
            o["detail"].as_str().unwrap_or(""),
        ));
    }
    out.push_str(&format!("burned {}", aergo(&v["burned"]).unwrap_or_default()));
    out
}

/// The parameters as a table.
pub fn format_params(params: &BTreeMap<String, u128>) -> String {
    let width = params.keys().map(String::len).max().unwrap_or(0);
    params
        .iter()
        .map(|(name, v)| {
            let shown = parse_param(name).map(|p| p.describe(*v)).unwrap_or_else(|_| v.to_string());
            format!("{name:<width$}  {shown}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `getParamVotes` of one parameter: (value, stake behind it), most first.
pub async fn param_votes(client: &RpcClient, param: GovParam) -> Result<(Vec<(u128, Amount)>, Value)> {
    let raw = call_dpos(client, "getParamVotes", json!([param.dao_id()])).await?;
    let parse = || -> std::result::Result<Vec<(u128, Amount)>, String> {
        let list = raw.as_array().ok_or("expected a list of {value, votes}")?;
        if list.len() > MAX_LIST_ROWS {
            return Err(format!("{} tallies, at most {MAX_LIST_ROWS} expected", list.len()));
        }
        list.iter()
            .map(|t| {
                let value = u128_of(field(t, "value")?).ok_or("a value is not a number")?;
                Ok((value, amount_field(t, "votes")?))
            })
            .collect()
    };
    let tallies = parse().map_err(|r| bad(client, "getParamVotes", r))?;
    Ok((tallies, raw))
}

pub fn format_param_votes(param: GovParam, tallies: &[(u128, Amount)]) -> String {
    if tallies.is_empty() {
        return format!("no votes for {}", param.dao_id());
    }
    let rows: Vec<(String, String)> =
        tallies.iter().map(|(v, votes)| (param.describe(*v), votes.format(Unit::Aergo))).collect();
    let width = rows.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
    let mut out = format!("votes for {}", param.dao_id());
    for (v, votes) in rows {
        out.push_str(&format!("\n  {v:<width$}  {votes}"));
    }
    out
}

/// One elected producer.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerRow {
    pub rank: u64,
    pub peer_id: String,
    pub votes: Amount,
    /// Percent, 0..=100.
    pub rating: f64,
}

/// The producer set and the top candidates, as `getProducers` reports them.
#[derive(Clone, Debug, PartialEq)]
pub struct Producers {
    pub epoch_blocks: u64,
    pub bp_count: u64,
    pub producers: Vec<ProducerRow>,
    /// Candidates by votes, most first.
    pub candidates: Vec<(String, Amount)>,
}

impl Producers {
    pub fn parse(v: &Value) -> std::result::Result<Producers, String> {
        let list = |name: &str| -> std::result::Result<&Vec<Value>, String> {
            let l = field(v, name)?.as_array().ok_or_else(|| format!("field {name:?} is not a list"))?;
            if l.len() > MAX_LIST_ROWS {
                return Err(format!("{} {name}, at most {MAX_LIST_ROWS} expected", l.len()));
            }
            Ok(l)
        };
        let peer = |p: &Value| -> std::result::Result<String, String> {
            Ok(field(p, "peerId")?.as_str().ok_or("a peerId is not a string")?.to_string())
        };
        let producers = list("producers")?
            .iter()
            .map(|p| {
                Ok(ProducerRow {
                    rank: u64_of(p, "rank")?,
                    peer_id: peer(p)?,
                    votes: amount_field(p, "votes")?,
                    rating: field(p, "rating")?.as_f64().ok_or("a rating is not a number")?,
                })
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let candidates = list("candidates")?
            .iter()
            .map(|c| Ok((peer(c)?, amount_field(c, "votes")?)))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Producers {
            epoch_blocks: u64_of(v, "epochBlocks")?,
            bp_count: u64_of(v, "bpCount")?,
            producers,
            candidates,
        })
    }

    /// The producers as a table, then at most `top` candidates.
    pub fn format(&self, top: usize) -> String {
        let mut out = format!(
            "{} producers (bp count {}), elected every {} blocks\n",
            self.producers.len(),
            self.bp_count,
            self.epoch_blocks
        );
        let id_width = self.producers.iter().map(|p| p.peer_id.len()).max().unwrap_or(0).max("peer id".len());
        let votes: Vec<String> = self.producers.iter().map(|p| p.votes.format(Unit::Aergo)).collect();
        let votes_width = votes.iter().map(String::len).max().unwrap_or(0).max("votes".len());
        out.push_str(&format!("{:>4}  {:<id_width$}  {:>votes_width$}  {:>6}", "rank", "peer id", "votes", "rating"));
        for (p, v) in self.producers.iter().zip(&votes) {
            out.push_str(&format!("\n{:>4}  {:<id_width$}  {v:>votes_width$}  {:>5.1}%", p.rank, p.peer_id, p.rating));
        }
        if self.candidates.is_empty() {
            out.push_str("\n\nno candidate has votes");
        } else {
            let shown = self.candidates.len().min(top);
            out.push_str(&format!("\n\ntop {shown} of {} candidates by votes", self.candidates.len()));
            for (id, votes) in self.candidates.iter().take(top) {
                out.push_str(&format!("\n  {id}  {}", votes.format(Unit::Aergo)));
            }
        }
        out
    }
}

/// `getProducers`, parsed and raw.
pub async fn producers(client: &RpcClient) -> Result<(Producers, Value)> {
    let raw = call_dpos(client, "getProducers", json!([])).await?;
    let parsed = Producers::parse(&raw).map_err(|r| bad(client, "getProducers", r))?;
    Ok((parsed, raw))
}

/// What the chain says about the sender, for [`check_rules`].
#[derive(Clone, Debug, Default)]
pub struct ChainView {
    pub head_height: u64,
    pub balance: Amount,
    /// `None` when the node has no `getStake`.
    pub stake: Option<StakeInfo>,
    /// Parameter id -> value; empty when the node has no `getParams`.
    pub params: BTreeMap<String, u128>,
}

/// Refuses what the chain's rules certainly reject (see
/// `aergo_exec::gov`); silent on what it cannot know (no stake or
/// parameters reported). Fees are not counted: the node checks them.
pub fn check_rules(t: &GovTx, view: &ChainView) -> Result<()> {
    t.check_shape()?;
    let refuse = |reason: String| Err(CliError::GovRefused { call: t.call.name(), reason });
    let min_stake = view.params.get(GovParam::MinStake.dao_id()).map(|v| Amount::from_aer(*v));
    let staked = view.stake.as_ref().map(|s| s.amount);
    match &t.call {
        GovCall::Stake => {
            if view.balance < t.amount {
                return refuse(format!(
                    "the balance is {}, less than the {} to stake",
                    view.balance.format(Unit::Aergo),
                    t.amount.format(Unit::Aergo)
                ));
            }
            if let (Some(min), Some(staked)) = (min_stake, staked) {
                let total = staked.checked_add(t.amount).unwrap_or(Amount::TOTAL_SUPPLY);
                if total < min {
                    return refuse(format!(
                        "a stake must be at least {} (the STAKINGMIN parameter); {} staked plus {} is {}",
                        min.format(Unit::Aergo),
                        staked.format(Unit::Aergo),
                        t.amount.format(Unit::Aergo),
                        total.format(Unit::Aergo)
                    ));
                }
            }
        }
        GovCall::Unstake => {
            let Some(stake) = &view.stake else { return Ok(()) };
            let Some(rest) = stake.amount.checked_sub(t.amount) else {
                return refuse(format!(
                    "only {} is staked, less than the {} to unstake",
                    stake.amount.format(Unit::Aergo),
                    t.amount.format(Unit::Aergo)
                ));
            };
            if let Some(min) = min_stake {
                if !rest.is_zero() && rest < min {
                    return refuse(format!(
                        "{} would stay staked, below the minimum {}: unstake everything ({}) or leave at least the \
                         minimum",
                        rest.format(Unit::Aergo),
                        min.format(Unit::Aergo),
                        stake.amount.format(Unit::Aergo)
                    ));
                }
            }
            // The next block is head + 1.
            if view.head_height.saturating_add(1) < stake.unlock_height {
                return refuse(format!(
                    "the stake is locked until block {} (the head is at {}; the lock restarts with every stake)",
                    stake.unlock_height, view.head_height
                ));
            }
        }
        GovCall::VoteBp(_) | GovCall::VoteDao { .. } => {
            if staked.is_some_and(|s| s.is_zero()) {
                return refuse("voting needs a stake: a vote weighs the voter's stake; stake first".to_string());
            }
        }
        // The node checks evidence at admission (signatures, the offence
        // not punished yet) and answers EVIDENCE_REJECTED with the reason.
        GovCall::Evidence(_) => {}
    }
    Ok(())
}

/// Reads what [`check_rules`] needs for `from`. A node that does not
/// answer `getStake` or `getParams` (no DPoS API, or not a DPoS chain: any
/// error answer) gives a view without them, and the checks that need them
/// are skipped: they are advice, the chain decides. A node that cannot be
/// reached is an error.
pub async fn chain_view(client: &RpcClient, from: &Address) -> Result<ChainView> {
    let status = client.status().await?;
    let account = client.account(from, None).await?;
    let answered_no = |e: &CliError| e.rpc_code().is_some();
    let stake = match stake_of(client, from).await {
        Ok((s, _)) => Some(s),
        Err(e) if answered_no(&e) => None,
        Err(e) => return Err(e),
    };
    let params = match params(client).await {
        Ok((p, _)) => p,
        Err(e) if answered_no(&e) => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    Ok(ChainView { head_height: status.height, balance: account.balance, stake, params })
}

/// Checks `t` against the chain (unless `skip`), then signs, sends and
/// optionally waits.
pub async fn preflight_and_send(
    client: &RpcClient,
    key: &PrivateKey,
    t: &GovTx,
    skip_checks: bool,
    wait_timeout_ms: Option<u64>,
) -> Result<Sent> {
    if !skip_checks {
        let view = chain_view(client, &key.address()).await?;
        check_rules(t, &view)?;
    }
    send_gov(client, key, t, wait_timeout_ms).await
}

/// The stake as text.
pub fn format_stake(address: &Address, s: &StakeInfo, head_height: u64) -> String {
    let lock = if s.amount.is_zero() {
        "-".to_string()
    } else if head_height.saturating_add(1) >= s.unlock_height {
        format!("unlocked (since block {})", s.unlock_height)
    } else {
        format!("locked until block {} (head {head_height})", s.unlock_height)
    };
    let rows = [
        ("address", address.to_string()),
        ("staked", s.amount.format(Unit::Aergo)),
        ("since block", s.since_height.to_string()),
        ("unstake", lock),
    ];
    rows.iter().map(|(k, v)| format!("{k:<11}  {v}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aergo_crypto::dev_key;

    fn peer(i: u32) -> String {
        dev_key("peer", i).public_key().peer_id()
    }

    #[test]
    fn payloads_are_the_go_json_byte_for_byte() {
        assert_eq!(GovCall::Stake.payload(), br#"{"Name":"v1stake"}"#);
        assert_eq!(GovCall::Unstake.payload(), br#"{"Name":"v1unstake"}"#);
        let p = vote_param("bpcount", "5").unwrap();
        assert_eq!(p.payload(), br#"{"Name":"v1voteDAO","Args":["BPCOUNT","5"]}"#);
        let ids = [peer(0), peer(1)];
        let v = vote_bp(&ids).unwrap();
        let expected = format!(r#"{{"Name":"v1voteBP","Args":["{}","{}"]}}"#, ids[0], ids[1]);
        assert_eq!(String::from_utf8(v.payload()).unwrap(), expected);
        // A golden vector: a fixed key's peer id in a vote.
        assert_eq!(
            String::from_utf8(vote_bp(&[peer(0)]).unwrap().payload()).unwrap(),
            format!("{{\"Name\":\"v1voteBP\",\"Args\":[\"{}\"]}}", dev_key("peer", 0).public_key().peer_id())
        );
    }

    #[test]
    fn payloads_parse_as_the_executor_reads_them() {
        let parse = |call: &GovCall| GovCall::parse(&call.payload()).unwrap();
        assert_eq!(parse(&GovCall::Stake), GovCall::Stake);
        assert_eq!(parse(&GovCall::Unstake), GovCall::Unstake);
        let ids: Vec<String> = (0..MAX_CANDIDATES_PER_VOTE as u32).map(peer).collect();
        assert_eq!(parse(&vote_bp(&ids).unwrap()), GovCall::VoteBp(ids.clone()));
        for (param, value, expected) in [
            ("BPCOUNT", "7", GovParam::BpCount),
            ("stakingmin", "1 aergo", GovParam::MinStake),
            ("GASPRICE", "50 gaer", GovParam::GasPrice),
            ("NamePrice", "3", GovParam::NamePrice),
            ("STAKINGLOCK", "100000000", GovParam::StakeLockBlocks),
        ] {
            let call = vote_param(param, value).unwrap();
            let GovCall::VoteDao { value: v, .. } = call else { panic!() };
            assert_eq!(parse(&call), GovCall::VoteDao { param: expected, value: v });
        }
    }

    #[test]
    fn bad_votes_are_refused_with_reasons() {
        let none: [&str; 0] = [];
        assert!(vote_bp(&none).unwrap_err().to_string().contains("1..=30"));
        let many: Vec<String> = (0..31).map(peer).collect();
        assert!(vote_bp(&many).unwrap_err().to_string().contains("1..=30"));
        let e = vote_bp(&[peer(1), peer(1)]).unwrap_err().to_string();
        assert!(e.contains("named twice"), "{e}");
        let e = vote_bp(&["16Uiu2notapeer"]).unwrap_err().to_string();
        assert!(e.contains("peer id"), "{e}");
        let e = vote_param("BLOCKSIZE", "1").unwrap_err().to_string();
        assert!(e.contains("BPCOUNT, STAKINGMIN"), "{e}");
        assert!(vote_param("BPCOUNT", "0").unwrap_err().to_string().contains("1..=100"));
        assert!(vote_param("BPCOUNT", "101").is_err());
        assert!(vote_param("BPCOUNT", "1.5").unwrap_err().to_string().contains("whole number"));
        assert!(vote_param("BPCOUNT", "99999999999999999999999").is_err());
        assert!(vote_param("GASPRICE", "1.5").unwrap_err().to_string().contains("amount"));
        assert!(vote_param("STAKINGMIN", "600000000 aergo").is_err());
        assert_eq!(
            vote_param("GASPRICE", "50 gaer").unwrap(),
            GovCall::VoteDao { param: GovParam::GasPrice, value: 50_000_000_000 }
        );
    }

    #[test]
    fn bodies_go_to_aergo_system_with_the_amount() {
        let key = dev_key("dev", 0);
        let chain = Hash::sha256(b"chain");
        let t = GovTx { call: GovCall::Stake, amount: Amount::ONE_AERGO, nonce: None, gas_limit: 0 };
        let body = t.body(&key.address(), 4, &chain).unwrap();
        assert_eq!(body.tx_type().unwrap(), TxType::Governance);
        assert_eq!(body.recipient().unwrap(), Some(Address::name(AERGO_SYSTEM).unwrap()));
        assert_eq!(body.amount().unwrap(), Amount::ONE_AERGO);
        assert_eq!(body.nonce, 4);
        let tx = sign_tx(body, &key);
        tx.validate(&chain, false).unwrap();

        let zero = GovTx { amount: Amount::ZERO, ..t.clone() };
        assert!(zero.check_shape().unwrap_err().to_string().contains("more than zero"));
        let paid_vote = GovTx { call: vote_bp(&[peer(0)]).unwrap(), ..t };
        assert!(paid_vote.check_shape().unwrap_err().to_string().contains("moves no AERGO"));
    }

    fn view(balance: u128, staked: Option<u128>, unlock: u64, head: u64) -> ChainView {
        let aergo = |n: u128| Amount::from_aergo(n).unwrap();
        ChainView {
            head_height: head,
            balance: aergo(balance),
            stake: staked.map(|s| StakeInfo { amount: aergo(s), since_height: 1, unlock_height: unlock }),
            params: [(GovParam::MinStake.dao_id().to_string(), aergo(10).aer())].into_iter().collect(),
        }
    }

    fn tx(call: GovCall, aergo: u128) -> GovTx {
        GovTx { call, amount: Amount::from_aergo(aergo).unwrap(), nonce: None, gas_limit: 0 }
    }

    #[test]
    fn rules_refuse_what_the_chain_would_drop() {
        let err = |t: &GovTx, v: &ChainView| check_rules(t, v).unwrap_err().to_string();
        // Staking: balance and minimum.
        assert!(check_rules(&tx(GovCall::Stake, 10), &view(100, Some(0), 0, 5)).is_ok());
        assert!(err(&tx(GovCall::Stake, 200), &view(100, Some(0), 0, 5)).contains("less than the 200 aergo"));
        assert!(err(&tx(GovCall::Stake, 5), &view(100, Some(0), 0, 5)).contains("at least 10 aergo"));
        assert!(check_rules(&tx(GovCall::Stake, 5), &view(100, Some(10), 0, 5)).is_ok());
        // Unstaking: amount, rest, lock (the next block is head + 1).
        assert!(err(&tx(GovCall::Unstake, 20), &view(0, Some(10), 0, 5)).contains("only 10 aergo is staked"));
        assert!(err(&tx(GovCall::Unstake, 15), &view(0, Some(20), 0, 5)).contains("below the minimum"));
        assert!(check_rules(&tx(GovCall::Unstake, 20), &view(0, Some(20), 6, 5)).is_ok());
        assert!(err(&tx(GovCall::Unstake, 20), &view(0, Some(20), 7, 5)).contains("locked until block 7"));
        // Votes need a stake.
        let vote = GovTx { amount: Amount::ZERO, ..tx(vote_bp(&[peer(2)]).unwrap(), 0) };
        assert!(err(&vote, &view(100, Some(0), 0, 5)).contains("voting needs a stake"));
        assert!(check_rules(&vote, &view(100, Some(1), 0, 5)).is_ok());
        // A node without the DPoS API: only the balance is known.
        let blind = ChainView { stake: None, params: BTreeMap::new(), ..view(100, None, 0, 5) };
        assert!(check_rules(&tx(GovCall::Unstake, 1000), &blind).is_ok());
        assert!(check_rules(&vote, &blind).is_ok());
        assert!(err(&tx(GovCall::Stake, 1000), &blind).contains("balance"));
    }

    #[test]
    fn node_answers_parse_and_print() {
        let raw = json!({
            "epochBlocks": 10, "bpCount": 2,
            "producers": [
                {"rank": 1, "peerId": peer(0), "votes": "2000000000000000000", "rating": 100},
                {"rank": 2, "peerId": peer(1), "votes": "0", "rating": 87.5},
            ],
            "candidates": [{"peerId": peer(0), "votes": "2000000000000000000"}, {"peerId": peer(2), "votes": "1"}],
        });
        let p = Producers::parse(&raw).unwrap();
        assert_eq!((p.epoch_blocks, p.bp_count, p.producers.len(), p.candidates.len()), (10, 2, 2, 2));
        assert_eq!(p.producers[1].rating, 87.5);
        let text = p.format(1);
        assert!(text.starts_with("2 producers (bp count 2), elected every 10 blocks\nrank  peer id"), "{text}");
        assert!(text.contains(&format!("   1  {}  2 aergo  100.0%", peer(0))), "{text}");
        assert!(text.contains(" 87.5%") && text.contains("top 1 of 2 candidates"), "{text}");
        assert!(!text.contains(&peer(2)), "{text}");
        assert!(Producers::parse(&json!({"epochBlocks": 1})).unwrap_err().contains("no field \"producers\""));
        let mut bad_votes = raw.clone();
        bad_votes["producers"][0]["votes"] = json!(5);
        assert!(Producers::parse(&bad_votes).is_err());

        let params = parse_params(&json!([
            {"name": "BPCOUNT", "value": 4}, {"name": "GASPRICE", "value": "50000000000"},
            {"name": "STAKINGLOCK", "value": "10"},
        ]))
        .unwrap();
        assert_eq!(format_params(&params), "BPCOUNT      4 producers\nGASPRICE     50 gaer\nSTAKINGLOCK  10 blocks");
        assert!(parse_params(&json!([{"name": "X", "value": "-1"}])).is_err());
        assert!(parse_params(&json!({})).is_err());

        let s =
            StakeInfo::parse(&json!({"address": "A", "amount": "5", "sinceHeight": 3, "unlockHeight": 13})).unwrap();
        assert_eq!(s, StakeInfo { amount: Amount::from_aer(5), since_height: 3, unlock_height: 13 });
        let addr = dev_key("dev", 0).address();
        assert!(format_stake(&addr, &s, 5).contains("locked until block 13 (head 5)"));
        assert!(format_stake(&addr, &s, 12).contains("unlocked"));
        assert!(format_param_votes(GovParam::BpCount, &[(5, Amount::ONE_AERGO)]).contains("5 producers  1 aergo"));
    }
}
