//! Branches and tags in the API: where every read names its snapshot, and
//! the registry methods.
//!
//! A *ref* says which state a read sees, wherever a method takes a height:
//! a height (`120`, main at that block), a branch (`"feature"`, its latest
//! state), a branch at a height (`"feature@120"`, `"main@120"`) or a tag
//! (`"v1.0"`). Names are never all digits, so a digit string is a height.
//! A branch's height is the chain's: `feature@120` is the state the branch
//! had after block 120.
//!
//! | method | params | result |
//! |---|---|---|
//! | `listBranches` | `[ref?]` | `branches`: `main` first, then each branch's registry row and `stateRoot` |
//! | `getBranch` | `[name, ref?]` | one branch: `chainIdHash` (what its transactions carry), `base`, `forkHeight`, `creator`, `writers`, `mergePolicy`, `headHeight`, `txs`, `mergedSeq`, `stateRoot` |
//! | `listTags` | `[]` | `tags`: `name`, `branch`, `height`, `creator`, `createdHeight` |

use aergo_exec::branches::{self, BranchInfo, MAIN};
use aergo_rpc::RpcError;
use aergo_store::Snapshot;
use serde_json::{json, Value};

use super::{internal, param, required, Api};

/// Most tags `listTags` returns.
const MAX_LISTED_TAGS: usize = 10_000;

/// A resolved ref: which branch, at which height of the chain.
pub(crate) struct At {
    pub branch: String,
    pub height: u64,
    pub timestamp_ns: i64,
    pub state: Snapshot,
}

impl Api {
    /// The snapshot a ref names (the head of main when absent).
    pub(crate) fn resolve_at(&self, spec: Option<&Value>) -> Result<At, RpcError> {
        let chain = self.node.chain();
        let head = chain.head();
        let (branch, height) = match spec {
            None => (MAIN.to_string(), None),
            Some(Value::Number(n)) => {
                let h = n.as_u64().ok_or_else(|| RpcError::invalid_params(format!("height {n} is not a u64")))?;
                (MAIN.to_string(), Some(h))
            }
            Some(Value::String(s)) => self.parse_ref(s)?,
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "expected a height, a branch, branch@height or a tag, got {other}"
                )))
            }
        };
        let (height, main) = match height {
            None => (head.height, chain.head_state()),
            Some(h) => {
                let state = chain
                    .state_at(h)
                    .map_err(internal)?
                    .ok_or_else(|| RpcError::not_found(format!("no block at height {h} (head is {})", head.height)))?;
                (h, state)
            }
        };
        let timestamp_ns = if height == head.height {
            head.timestamp_ns
        } else {
            let block = chain.blocks().block_by_height(height).map_err(internal)?;
            block.and_then(|b| b.header().ok().map(|h| h.timestamp)).unwrap_or(0)
        };
        let state = branches::open(chain.store(), &main, &branch)
            .map_err(internal)?
            .ok_or_else(|| RpcError::not_found(format!("no branch {branch:?} at height {height}")))?;
        Ok(At { branch, height, timestamp_ns, state })
    }

    /// `NAME`, `NAME@HEIGHT` or a digit string, against the head's
    /// registry: (branch, height or the head).
    fn parse_ref(&self, s: &str) -> Result<(String, Option<u64>), RpcError> {
        let digits = |t: &str| !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit());
        let height =
            |t: &str| t.parse::<u64>().map_err(|_| RpcError::invalid_params(format!("height {t:?} is not a u64")));
        if digits(s) {
            return Ok((MAIN.to_string(), Some(height(s)?)));
        }
        if let Some((name, h)) = s.rsplit_once('@') {
            if !digits(h) {
                return Err(RpcError::invalid_params(format!("{s:?}: expected BRANCH@HEIGHT")));
            }
            return Ok((name.to_string(), Some(height(h)?)));
        }
        let head = self.node.chain().head_state();
        if s == MAIN || branches::read(&head, s).map_err(internal)?.is_some() {
            return Ok((s.to_string(), None));
        }
        match branches::tag(&head, s).map_err(internal)? {
            Some(tag) => Ok((tag.branch, Some(tag.height))),
            None => Err(RpcError::not_found(format!("no branch or tag {s:?} (list them with listBranches, listTags)"))),
        }
    }

    pub(crate) fn list_branches(&self, params: &Value) -> Result<Value, RpcError> {
        let at = self.resolve_main(param(params, 0, "at"))?;
        let mut out = vec![self.main_json(&at)];
        for b in branches::list(&at.state).map_err(internal)? {
            let root = at.state.table_root(&branches::mount_name(&b.name)).map_err(internal)?;
            out.push(branch_json(&b, root));
        }
        Ok(json!({ "height": at.height, "branches": out }))
    }

    pub(crate) fn get_branch(&self, params: &Value) -> Result<Value, RpcError> {
        let name =
            required(params, 0, "name")?.as_str().ok_or_else(|| RpcError::invalid_params("name: expected a string"))?;
        let at = self.resolve_main(param(params, 1, "at"))?;
        if name == MAIN {
            return Ok(self.main_json(&at));
        }
        let info = branches::read(&at.state, name)
            .map_err(internal)?
            .ok_or_else(|| RpcError::not_found(format!("no branch {name:?} at height {}", at.height)))?;
        let root = at.state.table_root(&branches::mount_name(name)).map_err(internal)?;
        let mut v = branch_json(&info, root);
        v["height"] = json!(at.height);
        Ok(v)
    }

    pub(crate) fn list_tags(&self) -> Result<Value, RpcError> {
        let head = self.node.chain().head_state();
        let tags = branches::tags(&head, MAX_LISTED_TAGS + 1).map_err(internal)?;
        let truncated = tags.len() > MAX_LISTED_TAGS;
        let tags: Vec<Value> = tags
            .iter()
            .take(MAX_LISTED_TAGS)
            .map(|t| {
                json!({
                    "name": t.name,
                    "branch": t.branch,
                    "height": t.height,
                    "creator": t.creator,
                    "createdHeight": t.created_height,
                })
            })
            .collect();
        Ok(json!({ "tags": tags, "truncated": truncated }))
    }

    /// What transactions of `branch` carry as chain id hash (per the head).
    pub(crate) fn lane_of(&self, branch: &str) -> Result<aergo_types::Hash, RpcError> {
        let chain = self.node.chain();
        if branch == MAIN {
            return Ok(chain.rules().chain_id_hash);
        }
        let info = branches::read(&chain.head_state(), branch)
            .map_err(internal)?
            .ok_or_else(|| RpcError::not_found(format!("no branch {branch:?}")))?;
        Ok(info.lane)
    }

    /// The main state a ref's height names (registry reads are main's).
    fn resolve_main(&self, spec: Option<&Value>) -> Result<At, RpcError> {
        let at = self.resolve_at(spec)?;
        if at.branch != MAIN {
            return Err(RpcError::invalid_params("the branch registry is read at a height of main, not of a branch"));
        }
        Ok(at)
    }

    fn main_json(&self, at: &At) -> Value {
        let chain = self.node.chain();
        json!({
            "name": MAIN,
            "chainIdHash": chain.rules().chain_id_hash.to_string(),
            "base": Value::Null,
            "headHeight": at.height,
            "stateRoot": at.state.state_root().to_string(),
            "mergePolicy": "auto",
            "writers": "anyone",
        })
    }
}

fn branch_json(b: &BranchInfo, root: Option<aergo_types::Hash>) -> Value {
    json!({
        "name": b.name,
        "chainIdHash": b.lane.to_string(),
        "base": b.base,
        "forkHeight": b.fork_height,
        "forkRoot": b.fork_root.to_string(),
        "creator": b.creator,
        "createdHeight": b.created_height,
        "headHeight": b.head_height,
        "txs": b.txs,
        "mergedSeq": b.merged_seq,
        "mergePolicy": b.merge_policy,
        "writers": b.writers,
        "stateRoot": root.map(|r| r.to_string()),
    })
}
