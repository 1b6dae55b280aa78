//! Branches and tags of the chain: the registry (`aergo.branch`) and the
//! lanes of the one consensus log.
//!
//! # The design, in prose
//!
//! The chain keeps one consensus log: every block follows the previous
//! block, DPoS certifies and finalises it, sync fetches it, exactly as
//! before. A *branch* is a lane in that log: a whole state of its own,
//! held inside the main state as a catalogue entry `@branch/NAME` whose
//! tree root is the branch's own state root (a mount, see
//! `Overlay::mount`). The block's state root therefore commits to every
//! branch, and commits, proofs and garbage collection follow branch states
//! without knowing about them. Forking is O(1) in the size of the state: a
//! new catalogue entry pointing at an existing root (minus the registry
//! tables below, a handful of catalogue edits).
//!
//! A transaction names its branch by its chain id hash: `main` keeps the
//! chain's own (so every SDK works unchanged), a branch has its *lane id*
//! `sha256("aergo branch" 0x00 || hash of the creating tx || NAME)`
//! ([`lane_id`]), recorded in `sys.branches.chain_id_hash`. The creating
//! transaction's hash covers the chain id and its sender's nonce, so no two
//! branches of any chains share a lane id, not even a branch deleted and
//! created again under the same name: a signature for one branch can never
//! be replayed on another. One block carries transactions of any number of branches; each
//! runs on its branch's state (its own balances, nonces, contracts) and
//! pays its fee there, to the block's coinbase on that branch. A branch's
//! height is the log's height: `feature@120` is the state the branch had
//! after block 120, and a branch block is final when the log is final at
//! it. Governance parameters (gas price, gas caps) are main's for every
//! lane: the block's gas is one budget.
//!
//! Only writers may send transactions on a branch (its creator and the
//! writers listed at creation; anyone on `main`). The registry calls are
//! transactions to `aergo.branch` on `main`:
//!
//! | call | args | who | effect |
//! |---|---|---|---|
//! | `v1createBranch` | name, base, at, policy, writers... | anyone | forks `base` as of height `at` (empty: the parent block) |
//! | `v1deleteBranch` | name | its creator | the branch's lane ends; its state is no longer reachable from new blocks |
//! | `v1createTag` | name, branch, height | a writer of the branch | names (branch, height) for ever |
//! | `v1mergeBranch` | source, target, auto or consensual | a writer of both | see below |
//!
//! An *auto merge* replays, on the target, the source's transactions
//! logged since its fork or last merge (`sys.branch_log` in the source's
//! own state), in their order, each as a normal transaction of its sender
//! except that its nonce is neither checked nor consumed on the target (it
//! was signed for the source, where its nonce already made it unique; the
//! source's `merged_seq` makes sure it is replayed once). Each replay pays
//! its own fee on the target. What no longer applies (balance, constraint,
//! RAISE, gas) is dropped; every replay is listed in the merge
//! transaction's receipt as an event (`mergeApplied` or `mergeDropped`
//! with the reason code). A merge replays at most [`MAX_MERGE_TXS`]
//! transactions; the rest waits for the next merge.
//!
//! A *consensual merge* (a branch whose policy is `three-way` or
//! `resolver:CONTRACT.FUNCTION`) merges the two states row by row against
//! the state the source was forked or last merged at; the rules are in the
//! module doc of `block/merge3.rs`. A branch merges one way only, the way
//! its policy says.
//!
//! System tables, in the main state only (a fork strips them):
//! `sys.branches`, `sys.tags`, `sys.history` (height -> main state root,
//! one row per block, so a fork at a past height is a lookup). Each
//! branch's own state has `sys.branch_log`.

use aergo_store::codec::encode_key;
use aergo_store::{Overlay, Snapshot, Store, TableMeta, TableStore, Value};
use aergo_types::{Address, Hash};

use crate::rows::{self, as_text, as_u64, text, u64_value};
use crate::ExecError;

pub const BRANCHES: &str = "sys.branches";
pub const TAGS: &str = "sys.tags";
pub const HISTORY: &str = "sys.history";
pub const BRANCH_LOG: &str = "sys.branch_log";
/// Catalogue names of branch states: `@branch/NAME`.
pub const MOUNT_PREFIX: &str = "@branch/";
/// The chain itself.
pub const MAIN: &str = "main";
/// Most live branches.
pub const MAX_BRANCHES: usize = 256;
/// Most tags.
pub const MAX_TAGS: usize = 65_536;
/// Longest branch or tag name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Most transactions one merge replays.
pub const MAX_MERGE_TXS: usize = 1_000;

pub const BRANCHES_DDL: &str = "CREATE TABLE sys.branches (name TEXT PRIMARY KEY, chain_id_hash TEXT NOT NULL, \
     base TEXT NOT NULL, fork_height BIGINT NOT NULL, fork_root TEXT NOT NULL, creator TEXT NOT NULL, \
     created_height BIGINT NOT NULL, head_height BIGINT NOT NULL, txs BIGINT NOT NULL, merged_seq BIGINT NOT NULL, \
     merge_policy TEXT NOT NULL, writers TEXT NOT NULL)";
pub const TAGS_DDL: &str =
    "CREATE TABLE sys.tags (name TEXT PRIMARY KEY, branch TEXT NOT NULL, height BIGINT NOT NULL, \
     creator TEXT NOT NULL, created_height BIGINT NOT NULL)";
pub const HISTORY_DDL: &str = "CREATE TABLE sys.history (height BIGINT PRIMARY KEY, state_root TEXT NOT NULL)";
pub const BRANCH_LOG_DDL: &str = "CREATE TABLE sys.branch_log (seq BIGINT PRIMARY KEY, height BIGINT NOT NULL, \
     tx_hash TEXT NOT NULL, tx BYTEA NOT NULL)";
/// The schema blob of a mount entry (not SQL: the SQL layer lists only
/// `schema.name` entries, and a mount's name has no dot).
const MOUNT_SCHEMA: &[u8] = b"branch state";

/// One branch, as `sys.branches` records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchInfo {
    pub name: String,
    /// What its transactions carry as chain id hash.
    pub lane: Hash,
    pub base: String,
    pub fork_height: u64,
    /// The branch's state when it was forked (the base of a consensual
    /// merge and of diffs).
    pub fork_root: Hash,
    pub creator: String,
    pub created_height: u64,
    /// The last block that changed the branch.
    pub head_height: u64,
    /// Transactions applied on the branch.
    pub txs: u64,
    /// Entries of its `sys.branch_log` already merged somewhere.
    pub merged_seq: u64,
    pub merge_policy: String,
    /// Base58 addresses besides the creator's.
    pub writers: Vec<String>,
}

impl BranchInfo {
    /// Whether `sender` may send transactions on this branch and merge it.
    pub fn may_write(&self, sender: &str) -> bool {
        self.creator == sender || self.writers.iter().any(|w| w == sender)
    }
}

/// One tag: a branch at a height, for ever.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagInfo {
    pub name: String,
    pub branch: String,
    pub height: u64,
    pub creator: String,
    pub created_height: u64,
}

/// The chain id hash transactions of branch `name`, created by the
/// transaction `creation`, carry.
pub fn lane_id(creation: &Hash, name: &str) -> Hash {
    let mut bytes = b"aergo branch\0".to_vec();
    bytes.extend_from_slice(creation.as_bytes());
    bytes.extend_from_slice(name.as_bytes());
    Hash::sha256(&bytes)
}

/// The catalogue name of a branch's state.
pub fn mount_name(name: &str) -> String {
    format!("{MOUNT_PREFIX}{name}")
}

/// Whether a catalogue entry is a branch's state (not a table).
pub fn is_mount(store_name: &str) -> bool {
    store_name.starts_with(MOUNT_PREFIX)
}

/// A branch or tag name: 1..=64 bytes of `a-z 0-9 . _ -`, starting with a
/// letter or digit, not all digits (a digit string is a height wherever a
/// ref is read).
pub fn check_name(what: &'static str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!("a {what} name has 1 to {MAX_NAME_BYTES} bytes, got {}", name.len()));
    }
    let ok_first = name.as_bytes()[0].is_ascii_lowercase() || name.as_bytes()[0].is_ascii_digit();
    let ok_rest = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} name {name:?} is all digits, which reads as a height"));
    }
    if !ok_first || !ok_rest {
        return Err(format!(
            "{what} name {:?}: expected lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
            aergo_types::payload::abbreviate(name)
        ));
    }
    Ok(())
}

fn decode_branch(row: &[Value]) -> Result<BranchInfo, ExecError> {
    let t = BRANCHES;
    let [name, lane, base, fork_height, fork_root, creator, created, head, txs, merged, policy, writers] = row else {
        return Err(rows::corrupt(t, format!("expected 12 columns, got {}", row.len())));
    };
    let hash = |v: &Value| -> Result<Hash, ExecError> {
        Hash::from_hex(&as_text(t, v)?).map_err(|e| rows::corrupt(t, e.to_string()))
    };
    let writers = as_text(t, writers)?;
    Ok(BranchInfo {
        name: as_text(t, name)?,
        lane: hash(lane)?,
        base: as_text(t, base)?,
        fork_height: as_u64(t, fork_height)?,
        fork_root: hash(fork_root)?,
        creator: as_text(t, creator)?,
        created_height: as_u64(t, created)?,
        head_height: as_u64(t, head)?,
        txs: as_u64(t, txs)?,
        merged_seq: as_u64(t, merged)?,
        merge_policy: as_text(t, policy)?,
        writers: if writers.is_empty() { Vec::new() } else { writers.split(',').map(str::to_string).collect() },
    })
}

fn encode_branch(b: &BranchInfo) -> Result<Vec<Value>, ExecError> {
    let t = BRANCHES;
    Ok(vec![
        text(&b.name),
        text(&b.lane.to_hex()),
        text(&b.base),
        u64_value(t, b.fork_height)?,
        text(&b.fork_root.to_hex()),
        text(&b.creator),
        u64_value(t, b.created_height)?,
        u64_value(t, b.head_height)?,
        u64_value(t, b.txs)?,
        u64_value(t, b.merged_seq)?,
        text(&b.merge_policy),
        text(&b.writers.join(",")),
    ])
}

/// A branch of the registry in `view` (a main state), `None` when there is
/// no such branch. `main` is not in the registry.
pub fn read(view: &dyn TableStore, name: &str) -> Result<Option<BranchInfo>, ExecError> {
    if view.table(BRANCHES)?.is_none() {
        return Ok(None);
    }
    rows::read(view, BRANCHES, &[text(name)])?.map(|r| decode_branch(&r)).transpose()
}

/// Every branch, by name (at most [`MAX_BRANCHES`]).
pub fn list(view: &dyn TableStore) -> Result<Vec<BranchInfo>, ExecError> {
    if view.table(BRANCHES)?.is_none() {
        return Ok(Vec::new());
    }
    rows::scan_prefix(view, BRANCHES, &[], MAX_BRANCHES + 1)?.iter().map(|r| decode_branch(r)).collect()
}

/// The branch whose transactions carry `lane` as chain id hash.
pub fn by_lane(view: &dyn TableStore, lane: &Hash) -> Result<Option<BranchInfo>, ExecError> {
    Ok(list(view)?.into_iter().find(|b| b.lane == *lane))
}

pub(crate) fn write(view: &mut dyn TableStore, b: &BranchInfo) -> Result<(), ExecError> {
    if view.table(BRANCHES)?.is_none() {
        view.create_table(BRANCHES, TableMeta { schema: BRANCHES_DDL.as_bytes().to_vec() })?;
    }
    rows::write(view, BRANCHES, &[text(&b.name)], &encode_branch(b)?)
}

pub(crate) fn remove(view: &mut dyn TableStore, name: &str) -> Result<(), ExecError> {
    rows::delete(view, BRANCHES, &[text(name)])
}

fn decode_tag(row: &[Value]) -> Result<TagInfo, ExecError> {
    let t = TAGS;
    let [name, branch, height, creator, created] = row else {
        return Err(rows::corrupt(t, format!("expected 5 columns, got {}", row.len())));
    };
    Ok(TagInfo {
        name: as_text(t, name)?,
        branch: as_text(t, branch)?,
        height: as_u64(t, height)?,
        creator: as_text(t, creator)?,
        created_height: as_u64(t, created)?,
    })
}

/// A tag, `None` when there is no such tag.
pub fn tag(view: &dyn TableStore, name: &str) -> Result<Option<TagInfo>, ExecError> {
    if view.table(TAGS)?.is_none() {
        return Ok(None);
    }
    rows::read(view, TAGS, &[text(name)])?.map(|r| decode_tag(&r)).transpose()
}

/// Number of tags.
pub fn tag_count(view: &dyn TableStore) -> Result<u64, ExecError> {
    if view.table(TAGS)?.is_none() {
        return Ok(0);
    }
    Ok(view.count(TAGS)?)
}

/// Tags by name, at most `limit`.
pub fn tags(view: &dyn TableStore, limit: usize) -> Result<Vec<TagInfo>, ExecError> {
    if view.table(TAGS)?.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in
        view.range(TAGS, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, aergo_store::Direction::Forward)?
    {
        if out.len() == limit {
            break;
        }
        let (_, bytes) = entry?;
        let row = aergo_store::codec::decode_row(&bytes).map_err(|e| rows::corrupt(TAGS, e.to_string()))?;
        out.push(decode_tag(&row)?);
    }
    Ok(out)
}

pub(crate) fn write_tag(view: &mut dyn TableStore, t: &TagInfo) -> Result<(), ExecError> {
    if view.table(TAGS)?.is_none() {
        view.create_table(TAGS, TableMeta { schema: TAGS_DDL.as_bytes().to_vec() })?;
    }
    let row = vec![
        text(&t.name),
        text(&t.branch),
        u64_value(TAGS, t.height)?,
        text(&t.creator),
        u64_value(TAGS, t.created_height)?,
    ];
    rows::write(view, TAGS, &[text(&t.name)], &row)
}

/// Records that the main state after block `height` had root `root`.
pub(crate) fn record_history(view: &mut dyn TableStore, height: u64, root: Hash) -> Result<(), ExecError> {
    if view.table(HISTORY)?.is_none() {
        view.create_table(HISTORY, TableMeta { schema: HISTORY_DDL.as_bytes().to_vec() })?;
    }
    rows::write(view, HISTORY, &[u64_value(HISTORY, height)?], &[u64_value(HISTORY, height)?, text(&root.to_hex())])
}

/// The state after a block at `height` on `parent` that applied nothing
/// (on a chain without DPoS bookkeeping): the parent plus its history
/// row. What a block of rejected transactions must leave.
pub fn empty_block_root(store: &Store, parent: Hash, height: u64) -> Result<Hash, ExecError> {
    let mut o = Overlay::new(store, parent);
    record_history(&mut o, height.saturating_sub(1), parent)?;
    Ok(o.flush()?)
}

/// The main state root after block `height`, as recorded by later blocks
/// (`None` for the parent of the block being built and beyond, and for
/// heights before the history began).
pub fn history_root(view: &dyn TableStore, height: u64) -> Result<Option<Hash>, ExecError> {
    if view.table(HISTORY)?.is_none() {
        return Ok(None);
    }
    let Some(row) = rows::read(view, HISTORY, &[u64_value(HISTORY, height)?])? else { return Ok(None) };
    match row.as_slice() {
        [_, root] => {
            Hash::from_hex(&as_text(HISTORY, root)?).map(Some).map_err(|e| rows::corrupt(HISTORY, e.to_string()))
        }
        other => Err(rows::corrupt(HISTORY, format!("expected 2 columns, got {}", other.len()))),
    }
}

/// The state of branch `name` within the main state `main` (`main`
/// itself for [`MAIN`]); `None` when the branch does not exist there.
pub fn open(store: &Store, main: &Snapshot, name: &str) -> Result<Option<Snapshot>, ExecError> {
    if name == MAIN {
        return Ok(Some(Snapshot::open(store, main.state_root())));
    }
    Ok(main.table_root(&mount_name(name))?.map(|root| Snapshot::open(store, root)))
}

/// The state a new branch starts from: `source` without the main-only
/// tables and other branches' states, with an empty transaction log. A
/// few catalogue edits, whatever the size of the state.
pub(crate) fn fork_state(store: &Store, source: Hash) -> Result<Hash, ExecError> {
    let mut ov = Overlay::new(store, source);
    for (name, _) in ov.tables()? {
        if is_mount(&name) || [BRANCHES, TAGS, HISTORY, BRANCH_LOG].contains(&name.as_str()) {
            ov.drop_table(&name)?;
        }
    }
    ov.create_table(BRANCH_LOG, TableMeta { schema: BRANCH_LOG_DDL.as_bytes().to_vec() })?;
    Ok(ov.flush()?)
}

/// Puts a branch's state root into the main state.
pub(crate) fn mount(main: &mut Overlay, name: &str, root: Hash) -> Result<(), ExecError> {
    Ok(main.mount(&mount_name(name), root, TableMeta { schema: MOUNT_SCHEMA.to_vec() })?)
}

/// Appends a transaction to a branch's log (in the branch's own state).
pub(crate) fn log_tx(view: &mut dyn TableStore, height: u64, hash: &Hash, tx: &[u8]) -> Result<u64, ExecError> {
    let seq = view.count(BRANCH_LOG)? + 1;
    let key = [u64_value(BRANCH_LOG, seq)?];
    let row = [key[0].clone(), u64_value(BRANCH_LOG, height)?, text(&hash.to_hex()), Value::Bytes(tx.to_vec())];
    rows::write(view, BRANCH_LOG, &key, &row)?;
    Ok(seq)
}

/// Logged transactions with `seq > after`, in order, at most `limit`:
/// `(seq, encoded tx)`.
pub(crate) fn logged_since(view: &dyn TableStore, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, ExecError> {
    let lower = encode_key(&[u64_value(BRANCH_LOG, after.saturating_add(1))?]);
    let mut out = Vec::new();
    for entry in view.range(
        BRANCH_LOG,
        std::ops::Bound::Included(&lower),
        std::ops::Bound::Unbounded,
        aergo_store::Direction::Forward,
    )? {
        if out.len() == limit {
            break;
        }
        let (_, bytes) = entry?;
        let row = aergo_store::codec::decode_row(&bytes).map_err(|e| rows::corrupt(BRANCH_LOG, e.to_string()))?;
        match row.as_slice() {
            [seq, _, _, Value::Bytes(tx)] => out.push((as_u64(BRANCH_LOG, seq)?, tx.clone())),
            other => return Err(rows::corrupt(BRANCH_LOG, format!("unexpected row of {} columns", other.len()))),
        }
    }
    Ok(out)
}

/// Writers as the registry stores them (base58, creator excluded, no
/// duplicates, in the order given).
pub(crate) fn writers_text(creator: &Address, writers: &[Address]) -> Vec<String> {
    let creator = creator.to_string();
    let mut out: Vec<String> = Vec::new();
    for w in writers {
        let w = w.to_string();
        if w != creator && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lanes() {
        assert!(check_name("branch", "feature-1.x_y").is_ok());
        for bad in ["", "Feature", "-x", "a b", "a/b", "a@1", "123", &"x".repeat(65)] {
            assert!(check_name("branch", bad).is_err(), "{bad:?}");
        }
        let tx = Hash::sha256(b"tx");
        assert_ne!(lane_id(&tx, "a"), lane_id(&tx, "b"));
        assert_ne!(lane_id(&tx, "a"), lane_id(&Hash::sha256(b"tx2"), "a"));
        assert!(is_mount(&mount_name("a")) && !is_mount("sys.accounts"));
    }
}
