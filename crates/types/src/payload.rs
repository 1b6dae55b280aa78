//! Transaction payloads as they travel: the framing of a contract deploy,
//! the JSON of a contract call, and the JSON of an `aergo.system` call
//! (staking, producer votes, parameter votes). The executor parses them and
//! clients build them with the same code, so the two cannot disagree.
//!
//! **Deploy framing** is the Go node's (`LuaCodePayload`): a 4-byte
//! little-endian length `L` that counts itself (`L = 4 + code bytes`), the
//! code, then optionally the constructor arguments as a JSON array. Here the
//! code is a contract's SQL source text (UTF-8). [`encode_deploy_payload`]
//! builds one, [`parse_deploy_payload`] splits one.
//!
//! **Call payload** is the Go node's `CallInfo` JSON: `Name` (a string) and
//! `Args` (an array, optional); field names match case-insensitively, as
//! Go's decoder does; other fields are refused. [`encode_call_payload`]
//! builds one, [`parse_call_payload`] reads one (arguments stay raw JSON:
//! only the callee's parameter types say what they mean). A call names a
//! function exactly, or in any letter case if that is unambiguous
//! ([`find_function`]).
//!
//! **System calls** ([`GovCall`]) are `{"Name": "v1stake"}` and its
//! siblings (`v1unstake`, `v1voteBP` with 1 to [`MAX_CANDIDATES_PER_VOTE`]
//! peer ids, `v1voteDAO` with a [`GovParam`] id and a value, `v1evidence`
//! with the hex of an encoded [`crate::Evidence`]). Parsing
//! checks the form; that each candidate is named once and is a valid
//! secp256k1 peer id needs the key code, so the executor checks it.
//!
//! Parse errors are [`PayloadError`]s: each says what was expected and what
//! came (the executor shows them as they are in its rejections).

use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::genesis::{DPOS_MAX_BP_COUNT, DPOS_MAX_STAKE_LOCK_BLOCKS};
use crate::Amount;

/// Most arguments a call may pass (PostgreSQL's limit on function arguments).
pub const MAX_CALL_ARGS: usize = 100;
/// Most candidates one `v1voteBP` may name (the Go node's `MaxCandidates`).
pub const MAX_CANDIDATES_PER_VOTE: usize = 30;
/// Longest decimal value accepted in a `v1voteDAO` (u128 has 39 digits).
pub const MAX_VALUE_DIGITS: usize = 39;

pub const CALL_STAKE: &str = "v1stake";
pub const CALL_UNSTAKE: &str = "v1unstake";
pub const CALL_VOTE_BP: &str = "v1voteBP";
pub const CALL_VOTE_DAO: &str = "v1voteDAO";
pub const CALL_EVIDENCE: &str = "v1evidence";

/// Why a payload does not parse. The text of each is what the executor
/// puts in its rejection, so it names what was expected and what came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    // --- deploy ------------------------------------------------------------
    #[error("a deploy payload starts with a 4-byte length, got {found} bytes in all")]
    DeployTooShort { found: usize },
    #[error(
        "the length prefix says {prefix} bytes (prefix included), the payload has {found} \
         (the code must be framed as 4-byte little-endian length, code, JSON arguments)"
    )]
    DeployLength { prefix: usize, found: usize },
    #[error("the SQL source is not UTF-8: {reason}")]
    SourceNotUtf8 { reason: String },

    // --- contract calls ----------------------------------------------------
    #[error("arguments must be a JSON array: {reason}")]
    ArgsNotArray { reason: String },
    #[error("{found} arguments, at most {} are allowed", MAX_CALL_ARGS)]
    TooManyArgs { found: usize },
    #[error("a call payload is a JSON object {{\"Name\": ..., \"Args\": [...]}}: {reason}")]
    CallNotObject { reason: String },
    #[error("unknown field {field:?} (a call payload has Name and Args)")]
    UnknownCallField { field: String },
    #[error("the call payload has no Name")]
    CallWithoutName,

    // --- system calls ------------------------------------------------------
    #[error("not JSON: {reason}")]
    NotJson { reason: String },
    #[error("expected a JSON object {{\"Name\": ..., \"Args\": [...]}}")]
    NotObject,
    #[error("unknown field {field:?}; expected Name and Args")]
    UnknownSystemField { field: String },
    #[error("field {field:?} is given twice (names match case-insensitively)")]
    FieldTwice { field: String },
    #[error("Name is missing")]
    NameMissing,
    #[error("Args must be an array, got {found}")]
    ArgsNotList { found: String },
    #[error("{call}: every argument must be a string, got {found}")]
    ArgNotString { call: &'static str, found: String },
    #[error("{call} takes no arguments (the tx amount is the amount)")]
    TakesNoArgs { call: &'static str },
    #[error("{call} names 1..={} candidates, got {found}", MAX_CANDIDATES_PER_VOTE)]
    CandidateCount { call: &'static str, found: usize },
    #[error("{call} takes two arguments, a parameter id and one value; got {found}")]
    DaoArgCount { call: &'static str, found: usize },
    #[error("{call}: unknown parameter {found:?}, expected one of {}", GovParam::ids().join(", "))]
    UnknownParam { call: &'static str, found: String },
    #[error("{call}: value {found:?} is not a decimal integer")]
    ValueNotDecimal { call: &'static str, found: String },
    #[error("{call}: value {found} is too large")]
    ValueTooLarge { call: &'static str, found: String },
    #[error("{call}: {} must be {}..={}, got {found}", .param.dao_id(), .param.min_value(), .param.max_value())]
    ValueOutOfRange { call: &'static str, param: GovParam, found: u128 },
    #[error("{call} takes one argument, the hex of the encoded evidence; got {found}")]
    EvidenceArgs { call: &'static str, found: usize },
    #[error("{call}: {reason}")]
    BadEvidence { call: &'static str, reason: String },
    #[error("unknown system call {name:?}: expected v1stake, v1unstake, v1voteBP, v1voteDAO or v1evidence")]
    UnknownSystemCall { name: String },

    // --- the name service --------------------------------------------------
    #[error("unknown aergo.name call {name:?}: expected v1createName or v1updateName")]
    UnknownNameCall { name: String },
    #[error("{call} takes {expected} argument(s), got {found}")]
    NameArgCount { call: &'static str, expected: usize, found: usize },
    #[error("v1updateName: the new owner {found:?} is not an address: {reason}")]
    NameOwner { found: String, reason: String },

    // --- the branch registry -----------------------------------------------
    #[error(
        "unknown aergo.branch call {name:?}: expected v1createBranch, v1deleteBranch, v1createTag or v1mergeBranch"
    )]
    UnknownBranchCall { name: String },
    #[error("{call} takes {expected} argument(s), got {found}")]
    BranchArgCount { call: &'static str, expected: &'static str, found: usize },
    #[error("{call}: {reason}")]
    BranchArg { call: &'static str, reason: String },

    // --- the file registry -------------------------------------------------
    #[error("unknown aergo.fs call {name:?}: expected v1registerFile or v1releaseFile")]
    UnknownFileCall { name: String },
    #[error("{call}: {reason}")]
    FileArg { call: &'static str, reason: String },

    // --- both --------------------------------------------------------------
    /// `Name` of a call or system call is not a JSON string (`found` is
    /// the JSON given, shortened for a contract call).
    #[error("Name must be a string, got {found}")]
    NameNotString { found: String },
}

type Result<T> = std::result::Result<T, PayloadError>;

/// At most 40 bytes of `s` (cut at a character boundary, `...` appended):
/// how payload errors quote what came.
pub fn abbreviate(s: &str) -> String {
    if s.len() <= 40 {
        return s.to_string();
    }
    let mut end = 40;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

// ----- deploy -----

/// A parsed deploy payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployPayload<'a> {
    pub source: &'a str,
    /// The constructor arguments' JSON text, if any bytes follow the code.
    pub args: Option<&'a [u8]>,
}

/// Splits a deploy payload (see the module docs).
pub fn parse_deploy_payload(payload: &[u8]) -> Result<DeployPayload<'_>> {
    let Some(head) = payload.get(..4) else {
        return Err(PayloadError::DeployTooShort { found: payload.len() });
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len < 4 || len > payload.len() {
        return Err(PayloadError::DeployLength { prefix: len, found: payload.len() });
    }
    let source =
        std::str::from_utf8(&payload[4..len]).map_err(|e| PayloadError::SourceNotUtf8 { reason: e.to_string() })?;
    let rest = &payload[len..];
    Ok(DeployPayload { source, args: (!rest.is_empty()).then_some(rest) })
}

/// Builds a deploy payload from SQL source and optional JSON arguments.
pub fn encode_deploy_payload(source: &str, args_json: Option<&str>) -> Vec<u8> {
    let len = (4 + source.len()) as u32;
    let mut out = Vec::with_capacity(len as usize + args_json.map_or(0, str::len));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(source.as_bytes());
    if let Some(a) = args_json {
        out.extend_from_slice(a.as_bytes());
    }
    out
}

// ----- contract calls -----

/// Builds a call payload `{"Name": name, "Args": args}`.
pub fn encode_call_payload(name: &str, args: &[Value]) -> Vec<u8> {
    serde_json::json!({ "Name": name, "Args": args }).to_string().into_bytes()
}

/// A parsed call payload: the function name and the raw JSON arguments.
#[derive(Debug)]
pub struct CallInfo<'a> {
    pub name: String,
    pub args: Vec<&'a RawValue>,
}

/// Parses a JSON array of at most [`MAX_CALL_ARGS`] arguments. JSON
/// `null` is no arguments, as the Go node reads it (herapy sends `null`
/// for a deploy or call without arguments).
pub fn parse_args(json: &[u8]) -> Result<Vec<&RawValue>> {
    if json.trim_ascii() == b"null" {
        return Ok(Vec::new());
    }
    let args: Vec<&RawValue> =
        serde_json::from_slice(json).map_err(|e| PayloadError::ArgsNotArray { reason: e.to_string() })?;
    if args.len() > MAX_CALL_ARGS {
        return Err(PayloadError::TooManyArgs { found: args.len() });
    }
    Ok(args)
}

/// Parses a call payload (see the module docs).
pub fn parse_call_payload(payload: &[u8]) -> Result<CallInfo<'_>> {
    let fields: std::collections::BTreeMap<String, &RawValue> =
        serde_json::from_slice(payload).map_err(|e| PayloadError::CallNotObject { reason: e.to_string() })?;
    let mut name = None;
    let mut args = Vec::new();
    for (k, v) in fields {
        if k.eq_ignore_ascii_case("name") {
            let n: String = serde_json::from_str(v.get())
                .map_err(|_| PayloadError::NameNotString { found: abbreviate(v.get()) })?;
            name = Some(n);
        } else if k.eq_ignore_ascii_case("args") {
            args = parse_args(v.get().as_bytes())?;
        } else {
            return Err(PayloadError::UnknownCallField { field: k });
        }
    }
    let name = name.ok_or(PayloadError::CallWithoutName)?;
    Ok(CallInfo { name, args })
}

/// The function `name` picks among `functions` (whose names `name_of`
/// gives): the exact name first, else the only one equal ignoring ASCII
/// case. The chain resolves calls this way; clients that check a name
/// before sending use the same rule.
pub fn find_function<'f, T>(functions: &'f [T], name: &str, name_of: impl Fn(&T) -> &str) -> Option<&'f T> {
    if let Some(f) = functions.iter().find(|f| name_of(f) == name) {
        return Some(f);
    }
    let mut it = functions.iter().filter(|f| name_of(f).eq_ignore_ascii_case(name));
    match (it.next(), it.next()) {
        (Some(f), None) => Some(f),
        _ => None,
    }
}

// ----- system calls -----

/// A parameter that `v1voteDAO` can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GovParam {
    BpCount,
    MinStake,
    GasPrice,
    NamePrice,
    StakeLockBlocks,
    /// Most gas one transaction may use (and ask for as its limit).
    MaxTxGas,
    /// Most gas the transactions of one block may use together.
    MaxBlockGas,
    /// Percent of a convicted producer's stake that is slashed.
    SlashPercent,
    /// AergoFS registration price, aer per byte.
    FilePrice,
    /// AergoFS rent, aer per byte per block held (0: files are held
    /// without end).
    FileRent,
}

/// Smallest value of the gas caps: a transfer with the largest payload the
/// pool admits (128 KiB at 5 gas per byte, plus the base) must still fit,
/// so no vote can make ordinary transactions impossible.
pub const MIN_GAS_CAP: u128 = 1_000_000;
/// Largest value of the gas caps.
pub const MAX_GAS_CAP: u128 = 1_000_000_000_000;

impl GovParam {
    pub const ALL: [GovParam; 10] = [
        GovParam::BpCount,
        GovParam::MinStake,
        GovParam::GasPrice,
        GovParam::NamePrice,
        GovParam::StakeLockBlocks,
        GovParam::MaxTxGas,
        GovParam::MaxBlockGas,
        GovParam::SlashPercent,
        GovParam::FilePrice,
        GovParam::FileRent,
    ];

    /// The id a `v1voteDAO` names (case-insensitive on input), as the
    /// node's `getParams` shows it. The first four are the Go node's;
    /// `STAKINGLOCK`, `MAXTXGAS`, `MAXBLOCKGAS`, `SLASHPERCENT`,
    /// `FILEPRICE` and `FILERENT` are ours.
    pub fn dao_id(self) -> &'static str {
        match self {
            GovParam::BpCount => "BPCOUNT",
            GovParam::MinStake => "STAKINGMIN",
            GovParam::GasPrice => "GASPRICE",
            GovParam::NamePrice => "NAMEPRICE",
            GovParam::StakeLockBlocks => "STAKINGLOCK",
            GovParam::MaxTxGas => "MAXTXGAS",
            GovParam::MaxBlockGas => "MAXBLOCKGAS",
            GovParam::SlashPercent => "SLASHPERCENT",
            GovParam::FilePrice => "FILEPRICE",
            GovParam::FileRent => "FILERENT",
        }
    }

    /// Every id, in [`GovParam::ALL`] order.
    pub fn ids() -> Vec<&'static str> {
        GovParam::ALL.iter().map(|p| p.dao_id()).collect()
    }

    /// The parameter's row name in the state's `sys.params` table (the
    /// executor's `system::PARAM_*` names, which its tests check against
    /// these).
    pub fn param_name(self) -> &'static str {
        match self {
            GovParam::BpCount => "bp_count",
            GovParam::MinStake => "min_stake",
            GovParam::GasPrice => "gas_price",
            GovParam::NamePrice => "name_price",
            GovParam::StakeLockBlocks => "stake_lock_blocks",
            GovParam::MaxTxGas => "max_tx_gas",
            GovParam::MaxBlockGas => "max_block_gas",
            GovParam::SlashPercent => "slash_percent",
            GovParam::FilePrice => "file_price",
            GovParam::FileRent => "file_rent",
        }
    }

    pub fn from_dao_id(id: &str) -> Option<GovParam> {
        GovParam::ALL.into_iter().find(|p| p.dao_id().eq_ignore_ascii_case(id))
    }

    /// Whether the value is an amount of aer (else a count).
    pub fn is_amount(self) -> bool {
        matches!(
            self,
            GovParam::MinStake | GovParam::GasPrice | GovParam::NamePrice | GovParam::FilePrice | GovParam::FileRent
        )
    }

    /// Smallest value a vote may propose.
    pub fn min_value(self) -> u128 {
        match self {
            GovParam::MaxTxGas | GovParam::MaxBlockGas => MIN_GAS_CAP,
            // Zero turns slashing off; conviction still bars the producer.
            GovParam::SlashPercent => 0,
            // Zero turns rent off: files are then held without end.
            GovParam::FileRent => 0,
            _ => 1,
        }
    }

    /// Largest value a vote may propose.
    pub fn max_value(self) -> u128 {
        match self {
            GovParam::BpCount => DPOS_MAX_BP_COUNT as u128,
            GovParam::MinStake
            | GovParam::GasPrice
            | GovParam::NamePrice
            | GovParam::FilePrice
            | GovParam::FileRent => Amount::TOTAL_SUPPLY.aer(),
            GovParam::StakeLockBlocks => DPOS_MAX_STAKE_LOCK_BLOCKS as u128,
            GovParam::MaxTxGas | GovParam::MaxBlockGas => MAX_GAS_CAP,
            GovParam::SlashPercent => 100,
        }
    }
}

/// One `aergo.system` call.
#[derive(Clone, Debug, PartialEq)]
pub enum GovCall {
    /// Moves the tx amount from the balance into the stake.
    Stake,
    /// Moves the tx amount from the stake back to the balance.
    Unstake,
    /// Replaces the sender's candidate list: peer ids, in the order given
    /// (the executor requires them distinct and valid).
    VoteBp(Vec<String>),
    /// Votes a value for a parameter (aer for amounts).
    VoteDao { param: GovParam, value: u128 },
    /// Submits evidence of a producer's misbehaviour (one argument: the
    /// hex of an encoded [`crate::Evidence`]).
    Evidence(Box<crate::Evidence>),
}

impl GovCall {
    /// The call's name in the payload.
    pub fn name(&self) -> &'static str {
        match self {
            GovCall::Stake => CALL_STAKE,
            GovCall::Unstake => CALL_UNSTAKE,
            GovCall::VoteBp(_) => CALL_VOTE_BP,
            GovCall::VoteDao { .. } => CALL_VOTE_DAO,
            GovCall::Evidence(_) => CALL_EVIDENCE,
        }
    }

    /// The payload's arguments.
    pub fn args(&self) -> Vec<String> {
        match self {
            GovCall::Stake | GovCall::Unstake => Vec::new(),
            GovCall::VoteBp(ids) => ids.clone(),
            GovCall::VoteDao { param, value } => vec![param.dao_id().to_string(), value.to_string()],
            GovCall::Evidence(e) => vec![e.to_hex()],
        }
    }

    /// Whether the tx carries an amount (stake and unstake do; votes
    /// carry none).
    pub fn takes_amount(&self) -> bool {
        matches!(self, GovCall::Stake | GovCall::Unstake)
    }

    /// The payload bytes: `{"Name":"<call>"}` or
    /// `{"Name":"<call>","Args":[...]}`, in this field order and without
    /// spaces, as the Go tools write it (field order is part of the tx
    /// hash, so it is built by hand rather than by a map).
    pub fn payload(&self) -> Vec<u8> {
        system_payload(self.name(), self.args())
    }

    /// Parses the Go node's JSON payload: `{"Name": <call>, "Args": [...]}`.
    /// Field names match case-insensitively, as Go's `encoding/json` does;
    /// any other field is refused. Candidates of a `v1voteBP` are checked
    /// for count and type only (see the module docs).
    pub fn parse(payload: &[u8]) -> Result<GovCall> {
        let (name, args) = system_call_parts(payload)?;
        let args = args.as_slice();
        let strings = |call: &'static str| string_args(call, args);
        match name.as_str() {
            CALL_STAKE | CALL_UNSTAKE => {
                let call = if name == CALL_STAKE { CALL_STAKE } else { CALL_UNSTAKE };
                if !args.is_empty() {
                    return Err(PayloadError::TakesNoArgs { call });
                }
                Ok(if name == CALL_STAKE { GovCall::Stake } else { GovCall::Unstake })
            }
            CALL_VOTE_BP => {
                let call = CALL_VOTE_BP;
                if args.is_empty() || args.len() > MAX_CANDIDATES_PER_VOTE {
                    return Err(PayloadError::CandidateCount { call, found: args.len() });
                }
                let ids = strings(call)?;
                Ok(GovCall::VoteBp(ids.into_iter().map(str::to_string).collect()))
            }
            CALL_VOTE_DAO => {
                let call = CALL_VOTE_DAO;
                let a = strings(call)?;
                let [id, value] = a.as_slice() else {
                    return Err(PayloadError::DaoArgCount { call, found: a.len() });
                };
                let param = GovParam::from_dao_id(id)
                    .ok_or_else(|| PayloadError::UnknownParam { call, found: id.to_string() })?;
                if value.is_empty() || value.len() > MAX_VALUE_DIGITS || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PayloadError::ValueNotDecimal { call, found: value.to_string() });
                }
                let v: u128 =
                    value.parse().map_err(|_| PayloadError::ValueTooLarge { call, found: value.to_string() })?;
                if v < param.min_value() || v > param.max_value() {
                    return Err(PayloadError::ValueOutOfRange { call, param, found: v });
                }
                Ok(GovCall::VoteDao { param, value: v })
            }
            CALL_EVIDENCE => {
                let call = CALL_EVIDENCE;
                let a = strings(call)?;
                let [hex] = a.as_slice() else {
                    return Err(PayloadError::EvidenceArgs { call, found: a.len() });
                };
                let evidence = crate::Evidence::from_hex(hex)
                    .map_err(|e| PayloadError::BadEvidence { call, reason: e.to_string() })?;
                evidence.kind().map_err(|e| PayloadError::BadEvidence { call, reason: e.to_string() })?;
                Ok(GovCall::Evidence(Box::new(evidence)))
            }
            other => Err(PayloadError::UnknownSystemCall { name: other.chars().take(64).collect() }),
        }
    }
}

/// A system contract's payload as the Go tools write it:
/// `{"Name":"<call>"}` or `{"Name":"<call>","Args":[...]}`, in this field
/// order and without spaces (field order is part of the tx hash, so it is
/// built by hand rather than by a map).
fn system_payload(name: &str, args: Vec<String>) -> Vec<u8> {
    let mut out = format!("{{\"Name\":{}", Value::String(name.to_string()));
    if !args.is_empty() {
        let list: Vec<String> = args.into_iter().map(|a| Value::String(a).to_string()).collect();
        out.push_str(&format!(",\"Args\":[{}]", list.join(",")));
    }
    out.push('}');
    out.into_bytes()
}

/// Splits a system contract's payload into the call's name and arguments.
/// Field names match case-insensitively, as Go's `encoding/json` does; any
/// other field, or one given twice, is refused; `Args` absent or `null` is
/// no arguments.
fn system_call_parts(payload: &[u8]) -> Result<(String, Vec<Value>)> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| PayloadError::NotJson { reason: e.to_string() })?;
    let Value::Object(map) = value else {
        return Err(PayloadError::NotObject);
    };
    let mut name = None;
    let mut args = None;
    for (k, v) in map {
        let slot = if k.eq_ignore_ascii_case("name") {
            &mut name
        } else if k.eq_ignore_ascii_case("args") {
            &mut args
        } else {
            return Err(PayloadError::UnknownSystemField { field: k });
        };
        if slot.replace(v).is_some() {
            return Err(PayloadError::FieldTwice { field: k });
        }
    }
    let name = match name {
        Some(Value::String(s)) => s,
        Some(other) => return Err(PayloadError::NameNotString { found: other.to_string() }),
        None => return Err(PayloadError::NameMissing),
    };
    let args = match args {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(PayloadError::ArgsNotList { found: other.to_string() }),
    };
    Ok((name, args))
}

/// Every argument as a string, or which one is not.
fn string_args<'a>(call: &'static str, args: &'a [Value]) -> Result<Vec<&'a str>> {
    args.iter().map(|a| a.as_str().ok_or_else(|| PayloadError::ArgNotString { call, found: a.to_string() })).collect()
}

// ----- the name service -----

pub const CALL_CREATE_NAME: &str = "v1createName";
pub const CALL_UPDATE_NAME: &str = "v1updateName";

/// A call to the name service `aergo.name` (a governance transaction, as
/// in the Go node): `v1createName` registers a name for the sender,
/// `v1updateName` hands a name to a new owner. The tx amount pays the
/// name price. Which names are valid and who may update is the executor's
/// to check against the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameCall {
    Create { name: String },
    Update { name: String, owner: crate::Address },
}

impl NameCall {
    /// The call's name in the payload.
    pub fn call(&self) -> &'static str {
        match self {
            NameCall::Create { .. } => CALL_CREATE_NAME,
            NameCall::Update { .. } => CALL_UPDATE_NAME,
        }
    }

    /// The name registered or updated.
    pub fn name(&self) -> &str {
        match self {
            NameCall::Create { name } | NameCall::Update { name, .. } => name,
        }
    }

    /// The payload bytes, as the Go tools write them.
    pub fn payload(&self) -> Vec<u8> {
        let args = match self {
            NameCall::Create { name } => vec![name.clone()],
            NameCall::Update { name, owner } => vec![name.clone(), owner.to_string()],
        };
        system_payload(self.call(), args)
    }

    /// Parses `{"Name": "v1createName", "Args": [name]}` or
    /// `{"Name": "v1updateName", "Args": [name, new owner address]}`.
    pub fn parse(payload: &[u8]) -> Result<NameCall> {
        let (name, args) = system_call_parts(payload)?;
        match name.as_str() {
            CALL_CREATE_NAME => match string_args(CALL_CREATE_NAME, &args)?.as_slice() {
                [name] => Ok(NameCall::Create { name: name.to_string() }),
                other => Err(PayloadError::NameArgCount { call: CALL_CREATE_NAME, expected: 1, found: other.len() }),
            },
            CALL_UPDATE_NAME => match string_args(CALL_UPDATE_NAME, &args)?.as_slice() {
                [name, owner] => {
                    let owner = crate::Address::parse(owner)
                        .map_err(|e| PayloadError::NameOwner { found: abbreviate(owner), reason: e.to_string() })?;
                    Ok(NameCall::Update { name: name.to_string(), owner })
                }
                other => Err(PayloadError::NameArgCount { call: CALL_UPDATE_NAME, expected: 2, found: other.len() }),
            },
            other => Err(PayloadError::UnknownNameCall { name: other.chars().take(64).collect() }),
        }
    }
}

// ----- the branch registry -----

pub const CALL_CREATE_BRANCH: &str = "v1createBranch";
pub const CALL_DELETE_BRANCH: &str = "v1deleteBranch";
pub const CALL_CREATE_TAG: &str = "v1createTag";
pub const CALL_MERGE_BRANCH: &str = "v1mergeBranch";
/// Most writers a branch lists besides its creator.
pub const MAX_BRANCH_WRITERS: usize = 32;

/// How a branch merges into another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergePolicy {
    /// Replay the branch's transactions on the target (the default).
    Auto,
    /// Three-way row merge; a conflict outside native balances fails it.
    ThreeWay,
    /// Three-way row merge; conflicts go to `contract.function`.
    Resolver { contract: String, function: String },
}

impl MergePolicy {
    /// `auto`, `three-way` or `resolver:CONTRACT.FUNCTION`.
    pub fn parse(s: &str) -> Option<MergePolicy> {
        match s {
            "auto" => return Some(MergePolicy::Auto),
            "three-way" => return Some(MergePolicy::ThreeWay),
            _ => {}
        }
        let (contract, function) = s.strip_prefix("resolver:")?.rsplit_once('.')?;
        if contract.is_empty() || function.is_empty() || s.len() > 160 {
            return None;
        }
        Some(MergePolicy::Resolver { contract: contract.to_string(), function: function.to_string() })
    }
}

impl fmt::Display for MergePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergePolicy::Auto => f.write_str("auto"),
            MergePolicy::ThreeWay => f.write_str("three-way"),
            MergePolicy::Resolver { contract, function } => write!(f, "resolver:{contract}.{function}"),
        }
    }
}

/// How one merge is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeStrategy {
    /// Replays the source's transactions since the fork on the target.
    Auto,
    /// Three-way, row-level merge of the two states (base: the fork).
    Consensual,
}

impl MergeStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStrategy::Auto => "auto",
            MergeStrategy::Consensual => "consensual",
        }
    }
}

/// A call to the branch registry `aergo.branch` (a governance transaction
/// on the main branch). Which names are free and who may write is the
/// executor's to check against the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchCall {
    /// `[name, base, at, policy, writers...]`: `at` is a height of `base`
    /// or empty for its latest state.
    Create {
        name: String,
        base: String,
        at: Option<u64>,
        policy: MergePolicy,
        writers: Vec<crate::Address>,
    },
    Delete {
        name: String,
    },
    /// `[name, branch, height]`.
    Tag {
        name: String,
        branch: String,
        height: u64,
    },
    /// `[source, target, strategy]`.
    Merge {
        source: String,
        target: String,
        strategy: MergeStrategy,
    },
}

impl BranchCall {
    pub fn call(&self) -> &'static str {
        match self {
            BranchCall::Create { .. } => CALL_CREATE_BRANCH,
            BranchCall::Delete { .. } => CALL_DELETE_BRANCH,
            BranchCall::Tag { .. } => CALL_CREATE_TAG,
            BranchCall::Merge { .. } => CALL_MERGE_BRANCH,
        }
    }

    /// The payload bytes, in the Go tools' system-call form.
    pub fn payload(&self) -> Vec<u8> {
        let args = match self {
            BranchCall::Create { name, base, at, policy, writers } => {
                let mut a =
                    vec![name.clone(), base.clone(), at.map(|h| h.to_string()).unwrap_or_default(), policy.to_string()];
                a.extend(writers.iter().map(|w| w.to_string()));
                a
            }
            BranchCall::Delete { name } => vec![name.clone()],
            BranchCall::Tag { name, branch, height } => vec![name.clone(), branch.clone(), height.to_string()],
            BranchCall::Merge { source, target, strategy } => {
                vec![source.clone(), target.clone(), strategy.as_str().to_string()]
            }
        };
        system_payload(self.call(), args)
    }

    pub fn parse(payload: &[u8]) -> Result<BranchCall> {
        let (name, args) = system_call_parts(payload)?;
        let call: &'static str = match name.as_str() {
            CALL_CREATE_BRANCH => CALL_CREATE_BRANCH,
            CALL_DELETE_BRANCH => CALL_DELETE_BRANCH,
            CALL_CREATE_TAG => CALL_CREATE_TAG,
            CALL_MERGE_BRANCH => CALL_MERGE_BRANCH,
            other => return Err(PayloadError::UnknownBranchCall { name: other.chars().take(64).collect() }),
        };
        let a = string_args(call, &args)?;
        let count = |expected: &'static str| PayloadError::BranchArgCount { call, expected, found: a.len() };
        let height = |s: &str| -> Result<u64> {
            if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PayloadError::BranchArg {
                    call,
                    reason: format!("height {:?} is not a decimal integer", abbreviate(s)),
                });
            }
            s.parse().map_err(|_| PayloadError::BranchArg { call, reason: format!("height {s} is too large") })
        };
        match call {
            CALL_CREATE_BRANCH => {
                if a.len() < 4 || a.len() > 4 + MAX_BRANCH_WRITERS {
                    return Err(count("4 to 36"));
                }
                let at = if a[2].is_empty() { None } else { Some(height(a[2])?) };
                let policy = MergePolicy::parse(a[3]).ok_or_else(|| PayloadError::BranchArg {
                    call,
                    reason: format!(
                        "merge policy {:?}: expected auto, three-way or resolver:CONTRACT.FUNCTION",
                        abbreviate(a[3])
                    ),
                })?;
                let writers = a[4..]
                    .iter()
                    .map(|w| {
                        crate::Address::parse(w).map_err(|e| PayloadError::BranchArg {
                            call,
                            reason: format!("writer {:?}: {e}", abbreviate(w)),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(BranchCall::Create { name: a[0].to_string(), base: a[1].to_string(), at, policy, writers })
            }
            CALL_DELETE_BRANCH => match a.as_slice() {
                [name] => Ok(BranchCall::Delete { name: name.to_string() }),
                _ => Err(count("1")),
            },
            CALL_CREATE_TAG => match a.as_slice() {
                [name, branch, h] => {
                    Ok(BranchCall::Tag { name: name.to_string(), branch: branch.to_string(), height: height(h)? })
                }
                _ => Err(count("3")),
            },
            _ => match a.as_slice() {
                [source, target, strategy] => {
                    let strategy = match *strategy {
                        "auto" => MergeStrategy::Auto,
                        "consensual" => MergeStrategy::Consensual,
                        other => {
                            return Err(PayloadError::BranchArg {
                                call,
                                reason: format!("strategy {:?}: expected auto or consensual", abbreviate(other)),
                            })
                        }
                    };
                    Ok(BranchCall::Merge { source: source.to_string(), target: target.to_string(), strategy })
                }
                _ => Err(count("3")),
            },
        }
    }
}

// ----- the file registry -----

pub const CALL_REGISTER_FILE: &str = "v1registerFile";
pub const CALL_RELEASE_FILE: &str = "v1releaseFile";
pub const CALL_EXTEND_FILE: &str = "v1extendFile";

/// A call to the AergoFS registry `aergo.fs` (a governance transaction),
/// paying its fee as the tx amount:
/// - `v1registerFile [hash hex, size]` or `[hash hex, size, blocks]`
///   records that a file of `size` bytes whose SHA-256 is `hash` belongs
///   to the sender, held for `blocks` blocks (without end when not given,
///   which only a chain without rent allows);
/// - `v1extendFile [hash hex, blocks]` holds a file with a term for
///   `blocks` more blocks (anyone may pay);
/// - `v1releaseFile [hash hex]` drops the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileCall {
    Register { hash: crate::Hash, size: u64, blocks: Option<u64> },
    Extend { hash: crate::Hash, blocks: u64 },
    Release { hash: crate::Hash },
}

impl FileCall {
    pub fn call(&self) -> &'static str {
        match self {
            FileCall::Register { .. } => CALL_REGISTER_FILE,
            FileCall::Extend { .. } => CALL_EXTEND_FILE,
            FileCall::Release { .. } => CALL_RELEASE_FILE,
        }
    }

    pub fn hash(&self) -> &crate::Hash {
        match self {
            FileCall::Register { hash, .. } | FileCall::Extend { hash, .. } | FileCall::Release { hash } => hash,
        }
    }

    pub fn payload(&self) -> Vec<u8> {
        let args = match self {
            FileCall::Register { hash, size, blocks: None } => vec![hash.to_hex(), size.to_string()],
            FileCall::Register { hash, size, blocks: Some(b) } => vec![hash.to_hex(), size.to_string(), b.to_string()],
            FileCall::Extend { hash, blocks } => vec![hash.to_hex(), blocks.to_string()],
            FileCall::Release { hash } => vec![hash.to_hex()],
        };
        system_payload(self.call(), args)
    }

    pub fn parse(payload: &[u8]) -> Result<FileCall> {
        let (name, args) = system_call_parts(payload)?;
        let call: &'static str = match name.as_str() {
            CALL_REGISTER_FILE => CALL_REGISTER_FILE,
            CALL_EXTEND_FILE => CALL_EXTEND_FILE,
            CALL_RELEASE_FILE => CALL_RELEASE_FILE,
            other => return Err(PayloadError::UnknownFileCall { name: other.chars().take(64).collect() }),
        };
        let a = string_args(call, &args)?;
        let bad = |reason: String| PayloadError::FileArg { call, reason };
        let hash = |s: &str| {
            if s.len() != 64 {
                return Err(bad(format!("hash {:?}: expected 64 hex digits (the file's SHA-256)", abbreviate(s))));
            }
            crate::Hash::from_hex(s).map_err(|e| bad(format!("hash {:?}: {e}", abbreviate(s))))
        };
        let number = |what: &str, s: &str| {
            s.parse::<u64>()
                .ok()
                .filter(|_| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad(format!("{what} {:?} is not a decimal integer", abbreviate(s))))
        };
        let blocks = |s: &str| {
            let b = number("blocks", s)?;
            if b == 0 {
                return Err(bad("blocks: expected at least 1".into()));
            }
            Ok(b)
        };
        match (call, a.as_slice()) {
            (CALL_REGISTER_FILE, [h, size]) => {
                Ok(FileCall::Register { hash: hash(h)?, size: number("size", size)?, blocks: None })
            }
            (CALL_REGISTER_FILE, [h, size, b]) => {
                Ok(FileCall::Register { hash: hash(h)?, size: number("size", size)?, blocks: Some(blocks(b)?) })
            }
            (CALL_EXTEND_FILE, [h, b]) => Ok(FileCall::Extend { hash: hash(h)?, blocks: blocks(b)? }),
            (CALL_RELEASE_FILE, [h]) => Ok(FileCall::Release { hash: hash(h)? }),
            (_, other) => Err(bad(format!(
                "{} argument(s), expected {}",
                other.len(),
                match call {
                    CALL_REGISTER_FILE => "2 or 3 (hash, size[, blocks])",
                    CALL_EXTEND_FILE => "2 (hash, blocks)",
                    _ => "1 (hash)",
                }
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_calls_round_trip_and_refuse_bad_arguments() {
        let hash = crate::Hash::sha256(b"file");
        for c in [
            FileCall::Register { hash, size: 42, blocks: None },
            FileCall::Register { hash, size: 0, blocks: Some(1_000) },
            FileCall::Extend { hash, blocks: 7 },
            FileCall::Release { hash },
        ] {
            assert_eq!(FileCall::parse(&c.payload()).unwrap(), c);
        }
        let h = hash.to_hex();
        for bad in [
            format!(r#"{{"Name":"v1registerFile","Args":["{h}"]}}"#),
            format!(r#"{{"Name":"v1registerFile","Args":["{h}","-1"]}}"#),
            format!(r#"{{"Name":"v1registerFile","Args":["{h}","1e3"]}}"#),
            r#"{"Name":"v1registerFile","Args":["abc","1"]}"#.to_string(),
            format!(r#"{{"Name":"v1releaseFile","Args":["{h}","1"]}}"#),
            format!(r#"{{"Name":"v1registerFile","Args":["{h}","1","0"]}}"#),
            format!(r#"{{"Name":"v1registerFile","Args":["{h}","1","2","3"]}}"#),
            format!(r#"{{"Name":"v1extendFile","Args":["{h}"]}}"#),
            format!(r#"{{"Name":"v1extendFile","Args":["{h}","-5"]}}"#),
            r#"{"Name":"v1pin"}"#.to_string(),
        ] {
            assert!(FileCall::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_calls_round_trip_and_refuse_bad_arguments() {
        let w = crate::Address::Name("alice".into());
        let calls = [
            BranchCall::Create {
                name: "f".into(),
                base: "main".into(),
                at: Some(7),
                policy: MergePolicy::Auto,
                writers: vec![w],
            },
            BranchCall::Create {
                name: "g".into(),
                base: "f".into(),
                at: None,
                policy: MergePolicy::Resolver { contract: "AmX".into(), function: "resolve".into() },
                writers: vec![],
            },
            BranchCall::Delete { name: "f".into() },
            BranchCall::Tag { name: "v1".into(), branch: "main".into(), height: 3 },
            BranchCall::Merge { source: "f".into(), target: "main".into(), strategy: MergeStrategy::Consensual },
        ];
        for c in calls {
            assert_eq!(BranchCall::parse(&c.payload()).unwrap(), c);
        }
        for bad in [
            r#"{"Name":"v1createBranch","Args":["f","main",""]}"#,
            r#"{"Name":"v1createBranch","Args":["f","main","x","auto"]}"#,
            r#"{"Name":"v1createBranch","Args":["f","main","","sometimes"]}"#,
            r#"{"Name":"v1createTag","Args":["t","main","-1"]}"#,
            r#"{"Name":"v1mergeBranch","Args":["a","b","rebase"]}"#,
            r#"{"Name":"v1deleteBranch","Args":[1]}"#,
            r#"{"Name":"v1fork"}"#,
        ] {
            assert!(BranchCall::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn null_is_no_arguments_in_deploys_and_calls() {
        assert!(parse_args(b"null").unwrap().is_empty());
        assert!(parse_args(b" null\n").unwrap().is_empty());
        let payload = encode_deploy_payload("CREATE TABLE t (a INT)", Some("null"));
        let d = parse_deploy_payload(&payload).unwrap();
        assert!(parse_args(d.args.unwrap()).unwrap().is_empty());
        let c = parse_call_payload(br#"{"Name":"f","Args":null}"#).unwrap();
        assert_eq!((c.name.as_str(), c.args.len()), ("f", 0));
        assert!(parse_args(b"nul").is_err());
        assert!(parse_args(b"{}").is_err());
    }
    use serde_json::json;

    #[test]
    fn deploy_framing_round_trips_and_refuses_bad_lengths() {
        let p = encode_deploy_payload("SELECT 1", Some("[1,\"a\"]"));
        assert_eq!(&p[..4], &12u32.to_le_bytes());
        let d = parse_deploy_payload(&p).unwrap();
        assert_eq!(d.source, "SELECT 1");
        assert_eq!(d.args, Some(&b"[1,\"a\"]"[..]));
        assert_eq!(parse_deploy_payload(&encode_deploy_payload("x", None)).unwrap().args, None);
        assert_eq!(parse_deploy_payload(b"ab"), Err(PayloadError::DeployTooShort { found: 2 }));
        assert_eq!(
            parse_deploy_payload(b"\x09\x00\x00\x00abc"),
            Err(PayloadError::DeployLength { prefix: 9, found: 7 })
        );
        let e = parse_deploy_payload(b"\x05\x00\x00\x00\xff").unwrap_err();
        assert!(e.to_string().starts_with("the SQL source is not UTF-8"), "{e}");
    }

    #[test]
    fn call_payloads_round_trip_and_name_what_is_wrong() {
        let p = encode_call_payload("transfer", &[json!("a"), json!(1)]);
        let c = parse_call_payload(&p).unwrap();
        assert_eq!(c.name, "transfer");
        assert_eq!(c.args.iter().map(|a| a.get()).collect::<Vec<_>>(), ["\"a\"", "1"]);
        assert_eq!(parse_call_payload(b"{\"Args\": []}").unwrap_err(), PayloadError::CallWithoutName);
        let long = format!("{{\"Name\": [{}]}}", vec!["1"; 30].join(","));
        let PayloadError::NameNotString { found } = parse_call_payload(long.as_bytes()).unwrap_err() else { panic!() };
        assert!(found.ends_with("...") && found.len() == 43, "{found}");
        assert_eq!(
            parse_call_payload(b"{\"Name\": \"f\", \"x\": 1}").unwrap_err().to_string(),
            "unknown field \"x\" (a call payload has Name and Args)"
        );
        let many = format!("[{}]", vec!["1"; MAX_CALL_ARGS + 1].join(","));
        assert_eq!(parse_args(many.as_bytes()).unwrap_err().to_string(), "101 arguments, at most 100 are allowed");
    }

    #[test]
    fn function_names_resolve_exactly_then_by_unique_case() {
        let names = ["transfer", "Fund", "fund2", "AB", "ab"];
        let find = |n: &str| find_function(&names, n, |s| s).copied();
        assert_eq!(find("transfer"), Some("transfer"));
        assert_eq!(find("TRANSFER"), Some("transfer"));
        assert_eq!(find("fund"), Some("Fund"));
        assert_eq!(find("ab"), Some("ab"));
        assert_eq!(find("Ab"), None, "ambiguous ignoring case");
        assert_eq!(find("nope"), None);
    }

    #[test]
    fn system_calls_encode_as_the_go_tools_and_parse_back() {
        assert_eq!(GovCall::Stake.payload(), br#"{"Name":"v1stake"}"#);
        assert_eq!(GovCall::Unstake.payload(), br#"{"Name":"v1unstake"}"#);
        let dao = GovCall::VoteDao { param: GovParam::GasPrice, value: 50_000_000_000 };
        assert_eq!(dao.payload(), br#"{"Name":"v1voteDAO","Args":["GASPRICE","50000000000"]}"#);
        for call in [GovCall::Stake, GovCall::Unstake, GovCall::VoteBp(vec!["a".into(), "b".into()]), dao] {
            assert_eq!(GovCall::parse(&call.payload()).unwrap(), call);
        }
        assert_eq!(
            GovCall::parse(br#"{"name":"v1voteDAO","args":["bpcount","13"]}"#).unwrap(),
            GovCall::VoteDao { param: GovParam::BpCount, value: 13 }
        );
        assert_eq!(
            GovCall::parse(br#"{"Name":"v1voteDAO","Args":["BPCOUNT","101"]}"#).unwrap_err().to_string(),
            "v1voteDAO: BPCOUNT must be 1..=100, got 101"
        );
        assert_eq!(
            GovCall::parse(br#"{"Name":"v1voteDAO","Args":["X","1"]}"#).unwrap_err().to_string(),
            "v1voteDAO: unknown parameter \"X\", expected one of BPCOUNT, STAKINGMIN, GASPRICE, NAMEPRICE, STAKINGLOCK, MAXTXGAS, MAXBLOCKGAS, SLASHPERCENT, FILEPRICE, FILERENT"
        );
        assert_eq!(
            GovCall::parse(br#"{"Name":"v1createName"}"#).unwrap_err(),
            PayloadError::UnknownSystemCall { name: "v1createName".into() }
        );
        for p in GovParam::ALL {
            assert_eq!(GovParam::from_dao_id(&p.dao_id().to_lowercase()), Some(p));
        }
    }
}
