//! The AergoFS registry, `aergo.fs`: the chain's record of files kept in
//! AergoFS, so that transactions and contracts reference a file by its
//! hash and the chain commits to the file's content without holding it.
//!
//! **Prices** are governance parameters: `FILEPRICE` (aer per byte
//! registered; [`DEFAULT_FILE_PRICE`], 1 gaer, until a vote sets it) and
//! `FILERENT` (aer per byte per block held; 0, no rent, until a vote sets
//! it). Fees are paid as the tx amount to the `aergo.fs` account, where
//! they stay (no key controls it): no token is created or destroyed.
//!
//! **Calls** (governance transactions to `aergo.fs`, payloads in
//! [`aergo_types::payload::FileCall`]):
//! - `v1registerFile [hash, size]` or `[hash, size, blocks]`: records a
//!   file of `size` bytes (at most [`MAX_REGISTERED_FILE_BYTES`]) whose
//!   SHA-256 is `hash`, owned by the sender, for `blocks` blocks after the
//!   registering one, or without end when `blocks` is not given (refused
//!   while rent is in force). The fee is
//!   `size × FILEPRICE + size × blocks × FILERENT`. A file registered by
//!   someone else is refused while its record is in force; its owner may
//!   register it again (a new height and term), paying again.
//! - `v1extendFile [hash, blocks]`: holds a file with a term `blocks`
//!   blocks longer, for `size × blocks × FILERENT`; anyone may pay.
//! - `v1releaseFile [hash]`: its owner drops the record (no refund).
//!
//! **Lapse.** A record whose term has passed (the block's height is above
//! its `until`) counts as absent: contracts see NULL, anyone may register
//! the hash anew, and nodes stop fetching the file. The rows stay until a
//! registration or release replaces them: lapse is a rule of reading, so
//! no block has to sweep anything.
//!
//! **Contracts** read the registry with host functions
//! `aergo_file_size(hash)` (BIGINT, NULL when not registered) and
//! `aergo_file_owner(hash)` (TEXT address or NULL); `hash` is the 64 hex
//! digits or the base58 form AergoFS prints. They read only the state,
//! never a node's disk: the same answer on every node, whether or not that
//! node holds the bytes.
//!
//! **State**: `sys.files (hash TEXT PRIMARY KEY, size BIGINT, owner TEXT,
//! height BIGINT)`, created by the first registration, and
//! `sys.file_terms (hash TEXT PRIMARY KEY, until BIGINT)` for the files
//! that have a term, created by the first of them.
//!
//! Not here: any check that a node holds the bytes (the record is the
//! owner's claim, which every reader checks against the hash; nodes
//! replicate registered files, `node::fs_replica`), and refunds.

use std::ops::Bound;

use aergo_store::{TableMeta, TableStore};
use aergo_types::address::AERGO_FS;
use aergo_types::payload::FileCall;
use aergo_types::{Address, Amount, Hash};
use serde_json::json;

use crate::rows::{self, as_text, as_u64, corrupt, text};
use crate::system::{self, read_account, write_account};
use crate::ExecError;

pub const FILES: &str = "sys.files";
pub const FILES_DDL: &str = "CREATE TABLE sys.files (hash TEXT PRIMARY KEY, size BIGINT NOT NULL, \
                             owner TEXT NOT NULL, height BIGINT NOT NULL)";
pub const FILE_TERMS: &str = "sys.file_terms";
pub const FILE_TERMS_DDL: &str = "CREATE TABLE sys.file_terms (hash TEXT PRIMARY KEY, until BIGINT NOT NULL)";
/// `FILEPRICE` while no vote has set it: 1 gaer per byte.
pub const DEFAULT_FILE_PRICE: Amount = Amount::from_aer(1_000_000_000);
/// Largest file the registry records (AergoFS's own bound is a node's
/// configuration; 16 GiB is far above any).
pub const MAX_REGISTERED_FILE_BYTES: u64 = 16 << 30;
/// Longest term one call buys: about 3,000 years of one-second blocks.
pub const MAX_TERM_BLOCKS: u64 = 100_000_000_000;

/// A registered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub hash: Hash,
    pub size: u64,
    pub owner: Address,
    /// Height of the block that registered it.
    pub height: u64,
    /// Last height it is held through; `None`: without end.
    pub until: Option<u64>,
}

impl FileRecord {
    /// Whether the record is in force in a block at `height`.
    pub fn in_force_at(&self, height: u64) -> bool {
        self.until.is_none_or(|u| height <= u)
    }
}

/// `FILEPRICE` in force.
pub fn byte_price(view: &dyn TableStore) -> Result<Amount, ExecError> {
    Ok(system::read_param(view, system::PARAM_FILE_PRICE)?.unwrap_or(DEFAULT_FILE_PRICE))
}

/// `FILERENT` in force.
pub fn rent(view: &dyn TableStore) -> Result<Amount, ExecError> {
    Ok(system::read_param(view, system::PARAM_FILE_RENT)?.unwrap_or(Amount::ZERO))
}

/// The fee of registering `size` bytes for `blocks` blocks (without end:
/// `None`) at the prices in force; `None` when it overflows.
pub fn registration_fee(view: &dyn TableStore, size: u64, blocks: Option<u64>) -> Result<Option<Amount>, ExecError> {
    let price = byte_price(view)?;
    let held = match blocks {
        None => Some(Amount::ZERO),
        Some(b) => rent_fee(view, size, b)?,
    };
    Ok(price.checked_mul(u128::from(size)).zip(held).and_then(|(a, b)| a.checked_add(b)))
}

/// The rent of `size` bytes for `blocks` blocks; `None` when it overflows.
pub fn rent_fee(view: &dyn TableStore, size: u64, blocks: u64) -> Result<Option<Amount>, ExecError> {
    Ok(rent(view)?.checked_mul(u128::from(size)).and_then(|a| a.checked_mul(u128::from(blocks))))
}

fn term_of(view: &dyn TableStore, hash_hex: &str) -> Result<Option<u64>, ExecError> {
    if view.table(FILE_TERMS)?.is_none() {
        return Ok(None);
    }
    match rows::read(view, FILE_TERMS, &[text(hash_hex)])? {
        None => Ok(None),
        Some(row) => match row.as_slice() {
            [_, until] => Ok(Some(as_u64(FILE_TERMS, until)?)),
            other => Err(corrupt(FILE_TERMS, format!("unexpected row {other:?}"))),
        },
    }
}

/// The record of `hash`, if registered (in force or not: see
/// [`lookup_in_force`]).
pub fn lookup(view: &dyn TableStore, hash: &Hash) -> Result<Option<FileRecord>, ExecError> {
    if view.table(FILES)?.is_none() {
        return Ok(None);
    }
    let Some(row) = rows::read(view, FILES, &[text(&hash.to_hex())])? else { return Ok(None) };
    record_of(view, &row).map(Some)
}

/// The record of `hash` if it is in force in a block at `height`.
pub fn lookup_in_force(view: &dyn TableStore, hash: &Hash, height: u64) -> Result<Option<FileRecord>, ExecError> {
    Ok(lookup(view, hash)?.filter(|r| r.in_force_at(height)))
}

fn record_of(view: &dyn TableStore, row: &[aergo_store::Value]) -> Result<FileRecord, ExecError> {
    match row {
        [hash, size, owner, height] => {
            let hex = as_text(FILES, hash)?;
            Ok(FileRecord {
                hash: Hash::from_hex(&hex).map_err(|e| corrupt(FILES, e.to_string()))?,
                size: as_u64(FILES, size)?,
                owner: Address::parse(&as_text(FILES, owner)?).map_err(|e| corrupt(FILES, e.to_string()))?,
                height: as_u64(FILES, height)?,
                until: term_of(view, &hex)?,
            })
        }
        other => Err(corrupt(FILES, format!("unexpected row {other:?}"))),
    }
}

/// Registered files in hash order, after `after` (from the first when
/// `None`), at most `limit`, in force or not: how a node walks the
/// registry in bounded steps to replicate what it records.
pub fn list(view: &dyn TableStore, after: Option<&Hash>, limit: usize) -> Result<Vec<FileRecord>, ExecError> {
    if view.table(FILES)?.is_none() {
        return Ok(Vec::new());
    }
    // The key is the hash's lowercase hex, whose order is the hash's.
    let from = after.map(|h| aergo_store::codec::encode_key(&[text(&h.to_hex())]));
    let lower = match &from {
        Some(k) => Bound::Excluded(k.as_slice()),
        None => Bound::Unbounded,
    };
    let mut out = Vec::new();
    for entry in view.range(FILES, lower, Bound::Unbounded, aergo_store::Direction::Forward)?.take(limit) {
        let (_, bytes) = entry?;
        let row = aergo_store::codec::decode_row(&bytes).map_err(|e| corrupt(FILES, e.to_string()))?;
        out.push(record_of(view, &row)?);
    }
    Ok(out)
}

fn refuse(call: &FileCall, reason: impl Into<String>) -> ExecError {
    ExecError::FileRejected { call: call.call(), hash: call.hash().to_hex(), reason: reason.into() }
}

/// What refuses a registry call by `sender` in a block at `height`
/// against `view` before anything is written; the fee it pays when not.
/// Block execution and pool admission share it.
pub(crate) fn precheck(
    view: &dyn TableStore,
    height: u64,
    sender: &Address,
    call: &FileCall,
    amount: Amount,
) -> Result<Amount, ExecError> {
    let record = lookup_in_force(view, call.hash(), height)?;
    let check_term = |blocks: u64| {
        if blocks > MAX_TERM_BLOCKS {
            return Err(refuse(call, format!("a term of {blocks} blocks, at most {MAX_TERM_BLOCKS}")));
        }
        Ok(())
    };
    let fee = match call {
        FileCall::Register { size, blocks, .. } => {
            if *size > MAX_REGISTERED_FILE_BYTES {
                return Err(refuse(call, format!("{size} bytes, at most {MAX_REGISTERED_FILE_BYTES}")));
            }
            match blocks {
                Some(b) => check_term(*b)?,
                None => {
                    let rent = rent(view)?;
                    if !rent.is_zero() {
                        return Err(refuse(
                            call,
                            format!("FILERENT is {rent} per byte per block: name the blocks to hold it for"),
                        ));
                    }
                }
            }
            if let Some(r) = record.filter(|r| &r.owner != sender) {
                return Err(refuse(call, format!("registered by {}", r.owner)));
            }
            registration_fee(view, *size, *blocks)?.ok_or_else(|| refuse(call, "the fee overflows"))?
        }
        FileCall::Extend { blocks, .. } => {
            check_term(*blocks)?;
            let r = record.ok_or_else(|| refuse(call, "not registered, or its term has passed"))?;
            let until = r.until.ok_or_else(|| refuse(call, "held without end: nothing to extend"))?;
            if until.saturating_add(*blocks) > height.saturating_add(MAX_TERM_BLOCKS) {
                return Err(refuse(call, format!("a term past {MAX_TERM_BLOCKS} blocks from now")));
            }
            rent_fee(view, r.size, *blocks)?.ok_or_else(|| refuse(call, "the fee overflows"))?
        }
        FileCall::Release { .. } => {
            // Its owner may drop a lapsed record too.
            let r = lookup(view, call.hash())?.ok_or_else(|| refuse(call, "not registered"))?;
            if &r.owner != sender {
                return Err(refuse(call, format!("only its owner {} may release it", r.owner)));
            }
            if !amount.is_zero() {
                return Err(refuse(call, "a release carries no amount"));
            }
            Amount::ZERO
        }
    };
    if amount < fee {
        return Err(refuse(call, format!("the tx amount {amount} is below the fee {fee}")));
    }
    Ok(fee)
}

/// Executes a registry call by `sender` in the block at `height` (fee paid,
/// nonce bumped, amount already taken from the sender). Returns the event.
pub(crate) fn execute(
    view: &mut dyn TableStore,
    height: u64,
    sender: &Address,
    call: &FileCall,
    amount: Amount,
) -> Result<(&'static str, String), ExecError> {
    precheck(view, height, sender, call, amount)?;
    let hash = call.hash().to_hex();
    if !amount.is_zero() {
        let service = Address::name(AERGO_FS).map_err(|e| corrupt(FILES, e.to_string()))?;
        let mut account = read_account(view, &service)?;
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or_else(|| ExecError::BalanceOverflow { account: AERGO_FS.to_string() })?;
        write_account(view, &service, account)?;
    }
    match call {
        FileCall::Register { size, blocks, .. } => {
            if view.table(FILES)?.is_none() {
                view.create_table(FILES, TableMeta { schema: FILES_DDL.as_bytes().to_vec() })?;
            }
            let row = [
                text(&hash),
                rows::u64_value(FILES, *size)?,
                text(&sender.to_string()),
                rows::u64_value(FILES, height)?,
            ];
            rows::write(view, FILES, &[text(&hash)], &row)?;
            match blocks {
                Some(b) => write_term(view, &hash, height.saturating_add(*b))?,
                None => {
                    if view.table(FILE_TERMS)?.is_some() {
                        rows::delete(view, FILE_TERMS, &[text(&hash)])?;
                    }
                }
            }
            Ok(("registerFile", json!([hash, size, sender.to_string(), blocks]).to_string()))
        }
        FileCall::Extend { blocks, .. } => {
            let until = term_of(view, &hash)?.ok_or_else(|| corrupt(FILE_TERMS, "an extended file without a term"))?;
            // A term that lapsed is not extended (precheck): `until` is at
            // or above this height.
            let until = until.saturating_add(*blocks);
            write_term(view, &hash, until)?;
            Ok(("extendFile", json!([hash, until]).to_string()))
        }
        FileCall::Release { .. } => {
            rows::delete(view, FILES, &[text(&hash)])?;
            if view.table(FILE_TERMS)?.is_some() {
                rows::delete(view, FILE_TERMS, &[text(&hash)])?;
            }
            Ok(("releaseFile", json!([hash]).to_string()))
        }
    }
}

fn write_term(view: &mut dyn TableStore, hash: &str, until: u64) -> Result<(), ExecError> {
    if view.table(FILE_TERMS)?.is_none() {
        view.create_table(FILE_TERMS, TableMeta { schema: FILE_TERMS_DDL.as_bytes().to_vec() })?;
    }
    rows::write(view, FILE_TERMS, &[text(hash)], &[text(hash), rows::u64_value(FILE_TERMS, until)?])
}
