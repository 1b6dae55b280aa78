//! The `aergo.branch` calls as a block runs them: creating and deleting
//! branches, tags, and merges (the design is in [`crate::branches`]).

use aergo_store::{Snapshot, TableStore};
use aergo_types::payload::{BranchCall, MergePolicy, MergeStrategy};
use aergo_types::{Hash, Tx};

use super::{receipt_fee, BlockBuilder};
use crate::branches::{self, BranchInfo, TagInfo, MAIN};
use crate::{system, ExecError, VerifiedTx};

/// An event of the registry: its name and JSON arguments.
pub(super) type RegistryEvent = (String, String);

fn json(values: &[serde_json::Value]) -> String {
    serde_json::Value::Array(values.to_vec()).to_string()
}

/// What a registry call needs of the main state `view` whatever the
/// block it lands in: names free and well formed, branches that exist,
/// the sender's permissions, a strategy that is built. Admission runs it
/// so that what a block would refuse is refused at once; the block runs
/// it again, then checks what depends on the height.
pub(crate) fn precheck(view: &dyn TableStore, sender: &str, call: &BranchCall) -> Result<(), ExecError> {
    let refuse =
        |name: &str, reason: String| ExecError::BranchRejected { call: call.call(), name: name.to_string(), reason };
    let branch = |name: &str| -> Result<BranchInfo, ExecError> {
        branches::read(view, name)?.ok_or_else(|| ExecError::UnknownBranch { name: name.to_string() })
    };
    let is_branch =
        |name: &str| -> Result<bool, ExecError> { Ok(name == MAIN || branches::read(view, name)?.is_some()) };
    match call {
        BranchCall::Create { name, base, .. } => {
            branches::check_name("branch", name).map_err(|r| refuse(name, r))?;
            if is_branch(name)? {
                return Err(refuse(name, "a branch of that name exists".into()));
            }
            if branches::tag(view, name)?.is_some() {
                return Err(refuse(name, "a tag has that name (branch and tag names share one space)".into()));
            }
            if !is_branch(base)? {
                return Err(refuse(name, format!("its base {base:?} is not a branch of this chain")));
            }
            if branches::list(view)?.len() >= branches::MAX_BRANCHES {
                return Err(refuse(
                    name,
                    format!("the chain has {} branches, the most it keeps", branches::MAX_BRANCHES),
                ));
            }
        }
        BranchCall::Delete { name } => {
            let info = branch(name)?;
            if info.creator != sender {
                return Err(refuse(name, format!("only its creator {} may delete it", info.creator)));
            }
        }
        BranchCall::Tag { name, branch: on, .. } => {
            branches::check_name("tag", name).map_err(|r| refuse(name, r))?;
            if branches::tag(view, name)?.is_some() {
                return Err(refuse(name, "a tag of that name exists".into()));
            }
            if is_branch(name)? {
                return Err(refuse(name, "a branch has that name (branch and tag names share one space)".into()));
            }
            if on != MAIN && !branch(on)?.may_write(sender) {
                return Err(refuse(name, format!("{sender} is not a writer of branch {on}")));
            }
        }
        BranchCall::Merge { source, target, strategy } => {
            if source == target {
                return Err(refuse(source, "a branch cannot be merged into itself".into()));
            }
            if source == MAIN {
                return Err(refuse(source, "main has no branch log to replay; merge branches into main".into()));
            }
            let src = branch(source)?;
            if target != MAIN && !branch(target)?.may_write(sender) {
                return Err(refuse(source, format!("{sender} is not a writer of the target branch {target}")));
            }
            if !src.may_write(sender) {
                return Err(refuse(source, format!("{sender} is not a writer of branch {source}")));
            }
            let auto_policy = MergePolicy::parse(&src.merge_policy) == Some(MergePolicy::Auto);
            match strategy {
                MergeStrategy::Auto if !auto_policy => {
                    return Err(refuse(
                        source,
                        format!("{source} merges three-way (policy {}): use the consensual strategy", src.merge_policy),
                    ))
                }
                MergeStrategy::Consensual if auto_policy => {
                    return Err(refuse(
                        source,
                        format!(
                            "{source} merges by replay (policy auto); a branch created with --merge-policy \
                             three-way or resolver:CONTRACT.FUNCTION merges consensually"
                        ),
                    ))
                }
                _ => {}
            }
            // The registry counts the branch's transactions as of the last
            // block (its log's length): a merge waits for them to land.
            if *strategy == MergeStrategy::Auto && src.txs <= src.merged_seq {
                return Err(refuse(
                    source,
                    format!("nothing to merge: no transaction on {source} since its last merge"),
                ));
            }
        }
    }
    Ok(())
}

impl BlockBuilder {
    /// Runs one registry call on the main state in place (a branch call
    /// never runs on a lane). `own_gas` is the calling transaction's gas,
    /// which a merge's replays must leave room for in the block.
    pub(super) fn branch_call(
        &mut self,
        vtx: &VerifiedTx,
        call: &BranchCall,
        own_gas: u64,
    ) -> Result<Vec<RegistryEvent>, ExecError> {
        let sender = vtx.sender_text().to_string();
        precheck(&self.overlay, &sender, call)?;
        let refuse = |name: &str, reason: String| ExecError::BranchRejected {
            call: call.call(),
            name: name.to_string(),
            reason,
        };
        let parent = self.ctx.height.saturating_sub(1);
        let in_the_past = |name: &str, height: u64| {
            if height > parent {
                return Err(refuse(name, format!("height {height} is not in the past: the last block is {parent}")));
            }
            Ok(height)
        };
        match call {
            BranchCall::Create { name, base, at, policy, writers } => {
                let height = in_the_past(name, at.unwrap_or(parent))?;
                let source = self.branch_root_at(base, height).map_err(|r| refuse(name, r))?;
                let fork_root = branches::fork_state(&self.store, source)?;
                let info = BranchInfo {
                    name: name.clone(),
                    lane: branches::lane_id(&vtx.hash(), name),
                    base: base.clone(),
                    fork_height: height,
                    fork_root,
                    creator: sender.clone(),
                    created_height: self.ctx.height,
                    head_height: self.ctx.height,
                    txs: 0,
                    merged_seq: 0,
                    merge_policy: policy.to_string(),
                    writers: branches::writers_text(vtx.sender(), writers),
                };
                branches::write(&mut self.overlay, &info)?;
                branches::mount(&mut self.overlay, name, fork_root)?;
                Ok(vec![(
                    "branchCreated".into(),
                    json(&[name.clone().into(), base.clone().into(), height.into(), info.lane.to_hex().into()]),
                )])
            }
            BranchCall::Delete { name } => {
                branches::remove(&mut self.overlay, name)?;
                self.overlay.drop_table(&branches::mount_name(name))?;
                self.lanes.remove(name);
                Ok(vec![("branchDeleted".into(), json(&[name.clone().into()]))])
            }
            BranchCall::Tag { name, branch, height } => {
                let height = in_the_past(name, *height)?;
                // The branch must have had a state at that height.
                self.branch_root_at(branch, height).map_err(|r| refuse(name, r))?;
                if branches::tag_count(&self.overlay)? >= branches::MAX_TAGS as u64 {
                    return Err(refuse(name, format!("the chain has {} tags, the most it keeps", branches::MAX_TAGS)));
                }
                let tag = TagInfo {
                    name: name.clone(),
                    branch: branch.clone(),
                    height,
                    creator: sender,
                    created_height: self.ctx.height,
                };
                branches::write_tag(&mut self.overlay, &tag)?;
                Ok(vec![("tagCreated".into(), json(&[name.clone().into(), branch.clone().into(), height.into()]))])
            }
            BranchCall::Merge { source, target, strategy } => self.merge(source, target, *strategy, own_gas),
        }
    }

    /// A branch of the registry as this block left it so far.
    fn branch(&self, name: &str) -> Result<BranchInfo, ExecError> {
        branches::read(&self.overlay, name)?.ok_or_else(|| ExecError::UnknownBranch { name: name.to_string() })
    }

    /// The state root branch `name` had after block `height` (at most the
    /// parent of this block), or why there is none.
    fn branch_root_at(&self, name: &str, height: u64) -> Result<Hash, String> {
        let parent = self.ctx.height.saturating_sub(1);
        let main_root = if height == parent {
            Some(self.overlay.base_root())
        } else {
            branches::history_root(&self.overlay, height).map_err(|e| e.to_string())?
        };
        let Some(main_root) = main_root else {
            return Err(format!(
                "the chain's state at height {height} is not recorded (older than the branch history)"
            ));
        };
        if name == MAIN {
            return Ok(main_root);
        }
        let main = Snapshot::open(&self.store, main_root);
        main.table_root(&branches::mount_name(name))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("branch {name} did not exist at height {height}"))
    }

    /// `v1mergeBranch`: see the auto merge in [`crate::branches`].
    fn merge(
        &mut self,
        source: &str,
        target: &str,
        strategy: MergeStrategy,
        own_gas: u64,
    ) -> Result<Vec<RegistryEvent>, ExecError> {
        // `precheck` ran: the branches exist, the sender may merge, the
        // strategy is the branch's.
        let refuse =
            |reason: String| ExecError::BranchRejected { call: "v1mergeBranch", name: source.to_string(), reason };
        let mut src = self.branch(source)?;
        if strategy == MergeStrategy::Consensual {
            return self.merge_consensual(src, target, own_gas);
        }
        let logged = {
            let lane = self.take_lane(source)?;
            let entries = branches::logged_since(&lane.overlay, src.merged_seq, branches::MAX_MERGE_TXS);
            self.lanes.insert(source.to_string(), lane);
            entries?
        };
        if logged.is_empty() {
            return Err(refuse(format!("nothing to merge: no transaction on {source} since its last merge")));
        }
        let mut events = Vec::new();
        let mut last_seq = src.merged_seq;
        if target == MAIN {
            self.replay_all(&logged, own_gas, &mut events, &mut last_seq)?;
        } else {
            let mut lane = self.take_lane(target)?;
            // The caller's savepoint covers main only: the replays on the
            // target's state are undone here if the merge fails.
            let r = self.on_lane(&mut lane, |b| {
                let (savepoint, fees) = (b.overlay.savepoint(), b.fees);
                match b.replay_all(&logged, own_gas, &mut events, &mut last_seq) {
                    Ok(()) => Ok(b.overlay.release_savepoint(savepoint)?),
                    Err(e) => {
                        b.overlay.rollback_to(savepoint)?;
                        b.fees = fees;
                        Err(e)
                    }
                }
            });
            self.lanes.insert(target.to_string(), lane);
            r?;
        }
        if last_seq == src.merged_seq {
            return Err(refuse("the block has no gas left for the first transaction to merge".into()));
        }
        src.merged_seq = last_seq;
        branches::write(&mut self.overlay, &src)?;
        events.push(("branchMerged".into(), json(&[source.into(), target.into(), last_seq.into()])));
        Ok(events)
    }

    /// Replays logged transactions on the state in place, in order, until
    /// the block's gas would not hold the next one.
    fn replay_all(
        &mut self,
        logged: &[(u64, Vec<u8>)],
        own_gas: u64,
        events: &mut Vec<RegistryEvent>,
        last_seq: &mut u64,
    ) -> Result<(), ExecError> {
        for (seq, bytes) in logged {
            let tx = Tx::decode_bounded(bytes)?;
            let vtx = VerifiedTx::from_log(tx, None)?;
            let hash = vtx.hash().to_hex();
            let outcome = match self.gas_reservation(&vtx) {
                Ok(reserve) if self.gas_used.saturating_add(own_gas).saturating_add(reserve) > self.caps.block => break,
                Ok(_) => self.replay(&vtx)?,
                Err(e) if e.is_rejection() => Err(e),
                Err(e) => return Err(e),
            };
            match outcome {
                Ok((gas, ret)) => {
                    self.gas_used += gas;
                    let mut args = vec![(*seq).into(), hash.into()];
                    if !ret.is_empty() {
                        args.push(ret.into());
                    }
                    events.push(("mergeApplied".into(), json(&args)));
                }
                Err(e) => {
                    let code = e.reason().map_or("", |r| r.as_str());
                    events.push((
                        "mergeDropped".into(),
                        json(&[(*seq).into(), hash.into(), code.into(), e.to_string().into()]),
                    ));
                }
            }
            *last_seq = *seq;
        }
        Ok(())
    }

    /// Replays one transaction: applied as its sender's next transaction
    /// and its nonce put back, so the target's nonce is neither checked
    /// nor consumed. `Ok(Ok((gas, ret)))` applied it; `Ok(Err(_))` is a
    /// replay that no longer applies (nothing of it stays, not even a
    /// fee); `Err` is this node's failure.
    fn replay(&mut self, vtx: &VerifiedTx) -> Result<Result<(u64, String), ExecError>, ExecError> {
        let savepoint = self.overlay.savepoint();
        let key = system::AccountKey::new(vtx.sender());
        let mut account = system::read_account_at(&self.overlay, &key)?;
        let nonce = account.nonce;
        account.nonce = vtx.nonce().saturating_sub(1);
        system::write_account_at(&mut self.overlay, &key, account)?;
        match self.apply(vtx) {
            // A contract call that failed (RAISE, constraint, out of gas)
            // is included with its fee in a block; replayed, it no longer
            // applies, and leaves nothing.
            Ok((receipt, _)) if receipt.status == aergo_types::ReceiptStatus::Error.as_str() => {
                self.overlay.rollback_to(savepoint)?;
                Ok(Err(ExecError::Sql(aergo_sql::SqlError::Raised { message: receipt.ret })))
            }
            Ok((receipt, _)) => {
                let mut after = system::read_account_at(&self.overlay, &key)?;
                after.nonce = nonce;
                system::write_account_at(&mut self.overlay, &key, after)?;
                let Some(fees) = self.fees.checked_add(receipt_fee(&receipt)) else {
                    self.overlay.rollback_to(savepoint)?;
                    return Ok(Err(ExecError::BalanceOverflow { account: self.ctx.coinbase.to_string() }));
                };
                self.overlay.release_savepoint(savepoint)?;
                self.fees = fees;
                Ok(Ok((receipt.gas_used, receipt.ret)))
            }
            Err(e) if e.is_rejection() => {
                self.overlay.rollback_to(savepoint)?;
                Ok(Err(e))
            }
            Err(e) => {
                self.overlay.rollback_to(savepoint)?;
                Err(e)
            }
        }
    }
}
