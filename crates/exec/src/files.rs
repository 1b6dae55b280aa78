//! The AergoFS registry, `aergo.fs`: the chain's record of files kept in
//! AergoFS, so that transactions and contracts reference a file by its
//! hash and the chain commits to the file's content without holding it.
//!
//! **Calls** (governance transactions to `aergo.fs`, payloads in
//! [`aergo_types::payload::FileCall`]):
//! - `v1registerFile [hash, size]`: records a file of `size` bytes (at most
//!   [`MAX_REGISTERED_FILE_BYTES`]) whose SHA-256 is `hash`, owned by the
//!   sender. The tx amount must cover the storage fee, `size` times the
//!   byte price ([`FS_BYTE_PRICE`], 1 gaer per byte), paid to the `aergo.fs`
//!   account where it stays (no key controls it): no token is created or
//!   destroyed. A file registered by someone else is refused; its owner may
//!   register it again (a new height), paying again.
//! - `v1releaseFile [hash]`: its owner drops the record (no refund).
//!
//! **Contracts** read the registry with host functions
//! `aergo_file_size(hash)` (BIGINT, NULL when not registered) and
//! `aergo_file_owner(hash)` (TEXT address or NULL); `hash` is the 64 hex
//! digits or the base58 form AergoFS prints. They read only the state,
//! never a node's disk: the same answer on every node, whether or not that
//! node holds the bytes.
//!
//! **State**: `sys.files (hash TEXT PRIMARY KEY, size BIGINT, owner TEXT,
//! height BIGINT)`, created by the first registration.
//!
//! Not here: a price set by governance votes (the price is fixed), rent per
//! block held, and any check that a node holds the bytes (replication is
//! not built: the record is the owner's claim, which a reader checks
//! against the hash when fetching the file).

use std::ops::Bound;

use aergo_store::{TableMeta, TableStore};
use aergo_types::address::AERGO_FS;
use aergo_types::payload::FileCall;
use aergo_types::{Address, Amount, Hash};
use serde_json::json;

use crate::rows::{self, as_text, as_u64, corrupt, text};
use crate::system::{read_account, write_account};
use crate::ExecError;

pub const FILES: &str = "sys.files";
pub const FILES_DDL: &str = "CREATE TABLE sys.files (hash TEXT PRIMARY KEY, size BIGINT NOT NULL, \
                             owner TEXT NOT NULL, height BIGINT NOT NULL)";
/// Storage fee per registered byte: 1 gaer.
pub const FS_BYTE_PRICE: Amount = Amount::from_aer(1_000_000_000);
/// Largest file the registry records (AergoFS's own bound is a node's
/// configuration; 16 GiB is far above any).
pub const MAX_REGISTERED_FILE_BYTES: u64 = 16 << 30;

/// A registered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub hash: Hash,
    pub size: u64,
    pub owner: Address,
    /// Height of the block that registered it.
    pub height: u64,
}

/// The record of `hash`, if registered.
pub fn lookup(view: &dyn TableStore, hash: &Hash) -> Result<Option<FileRecord>, ExecError> {
    if view.table(FILES)?.is_none() {
        return Ok(None);
    }
    let Some(row) = rows::read(view, FILES, &[text(&hash.to_hex())])? else { return Ok(None) };
    record_of(&row).map(Some)
}

fn record_of(row: &[aergo_store::Value]) -> Result<FileRecord, ExecError> {
    match row {
        [hash, size, owner, height] => Ok(FileRecord {
            hash: Hash::from_hex(&as_text(FILES, hash)?).map_err(|e| corrupt(FILES, e.to_string()))?,
            size: as_u64(FILES, size)?,
            owner: Address::parse(&as_text(FILES, owner)?).map_err(|e| corrupt(FILES, e.to_string()))?,
            height: as_u64(FILES, height)?,
        }),
        other => Err(corrupt(FILES, format!("unexpected row {other:?}"))),
    }
}

/// Registered files in hash order, after `after` (from the first when
/// `None`), at most `limit`: how a node walks the registry in bounded
/// steps to replicate what it records.
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
        out.push(record_of(&row)?);
    }
    Ok(out)
}

/// The storage fee of `size` bytes.
pub fn fee_of(size: u64) -> Option<Amount> {
    FS_BYTE_PRICE.checked_mul(u128::from(size))
}

fn refuse(call: &FileCall, reason: impl Into<String>) -> ExecError {
    ExecError::FileRejected { call: call.call(), hash: call.hash().to_hex(), reason: reason.into() }
}

/// What refuses a registry call against `view` before anything is
/// written. Block execution and pool admission share it.
pub(crate) fn precheck(
    view: &dyn TableStore,
    sender: &Address,
    call: &FileCall,
    amount: Amount,
) -> Result<(), ExecError> {
    let record = lookup(view, call.hash())?;
    match call {
        FileCall::Register { size, .. } => {
            if *size > MAX_REGISTERED_FILE_BYTES {
                return Err(refuse(call, format!("{size} bytes, at most {MAX_REGISTERED_FILE_BYTES}")));
            }
            let fee = fee_of(*size).ok_or_else(|| refuse(call, "the fee overflows"))?;
            if amount < fee {
                return Err(refuse(
                    call,
                    format!("the tx amount {amount} is below the storage fee {fee} ({size} bytes)"),
                ));
            }
            if let Some(r) = record.filter(|r| &r.owner != sender) {
                return Err(refuse(call, format!("registered by {}", r.owner)));
            }
        }
        FileCall::Release { .. } => {
            let r = record.ok_or_else(|| refuse(call, "not registered"))?;
            if &r.owner != sender {
                return Err(refuse(call, format!("only its owner {} may release it", r.owner)));
            }
            if !amount.is_zero() {
                return Err(refuse(call, "a release carries no amount"));
            }
        }
    }
    Ok(())
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
    precheck(view, sender, call, amount)?;
    let hash = call.hash().to_hex();
    match call {
        FileCall::Register { size, .. } => {
            let service = Address::name(AERGO_FS).map_err(|e| corrupt(FILES, e.to_string()))?;
            let mut account = read_account(view, &service)?;
            account.balance = account
                .balance
                .checked_add(amount)
                .ok_or_else(|| ExecError::BalanceOverflow { account: AERGO_FS.to_string() })?;
            write_account(view, &service, account)?;
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
            Ok(("registerFile", json!([hash, size, sender.to_string()]).to_string()))
        }
        FileCall::Release { .. } => {
            rows::delete(view, FILES, &[text(&hash)])?;
            Ok(("releaseFile", json!([hash]).to_string()))
        }
    }
}
