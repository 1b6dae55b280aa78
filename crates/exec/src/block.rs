//! Block execution: [`BlockBuilder`] applies verified transactions one at
//! a time on an overlay of the parent state; [`Executor`] owns what every
//! block of a chain shares (the SQL engine and its cache of compiled
//! contract functions).

use std::collections::BTreeMap;

use aergo_store::{Overlay, Store, TableStore};
use aergo_types::address::{AERGO_BRANCH, AERGO_FS, AERGO_NAME, AERGO_SYSTEM};
use aergo_types::block::{BLOCK_MAX_SIZE_BYTES, BLOCK_MAX_TXS};
use aergo_types::payload::{BranchCall, FileCall, NameCall};
use aergo_types::{receipts_root, txs_root, Address, Amount, Event, Hash, Receipt, ReceiptStatus, Tx, TxBody, TxType};

use crate::branches::{self, BranchInfo};
use crate::gov::{self, GovCall, GovParam};

mod branch_calls;
mod dtt;
mod merge3;
mod parallel;
use crate::{contract, dpos, files, intrinsic_gas, names, system, BlockContext, ExecError, SlotInfo, VerifiedTx};
#[cfg(test)]
pub(crate) use parallel::Dtt;
pub use parallel::{ParallelStats, MAX_EXEC_THREADS};

/// The result of building or executing a block.
#[derive(Debug)]
pub struct BlockOutcome {
    pub state_root: Hash,
    pub txs: Vec<Tx>,
    pub receipts: Vec<Receipt>,
    pub txs_root: Hash,
    pub receipts_root: Hash,
    /// Fees credited to the coinbase.
    pub fees: Amount,
}

/// What every block of one chain shares: the SQL engine, whose
/// configuration ([`contract::engine_config`]) is a consensus rule and
/// whose cache of compiled contract functions outlives each block.
/// Cloning is cheap and shares the cache.
///
/// `threads` is how many workers a block's transactions may run on
/// ([`BlockBuilder::push_each`]); it changes how fast a block executes,
/// never what it gives.
#[derive(Clone)]
pub struct Executor {
    engine: aergo_sql::Engine,
    threads: usize,
}

impl Default for Executor {
    fn default() -> Self {
        Executor { engine: aergo_sql::Engine::new(contract::engine_config()), threads: 1 }
    }
}

impl Executor {
    /// An executor whose blocks run on up to `threads` workers (clamped to
    /// 1..=[`MAX_EXEC_THREADS`]; 1 runs every block in order on the
    /// calling thread).
    pub fn with_threads(threads: usize) -> Executor {
        Executor { threads: threads.clamp(1, MAX_EXEC_THREADS), ..Executor::default() }
    }

    /// The workers a block may run on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// A builder for the block after the state at `parent_state_root`.
    pub fn builder(
        &self,
        store: &Store,
        parent_state_root: Hash,
        ctx: BlockContext,
    ) -> Result<BlockBuilder, ExecError> {
        let mut b = BlockBuilder::with_engine(store, parent_state_root, ctx, self.engine.clone())?;
        b.threads = self.threads;
        Ok(b)
    }
}

/// Applies verified transactions one at a time on top of a parent state.
///
/// On a DPoS chain (a state with the producer tables) every block must
/// start with [`BlockBuilder::begin_dpos`]; `push` and `finish` refuse to
/// go on without it, so a block can never be built or replayed without its
/// producer bookkeeping.
pub struct BlockBuilder {
    overlay: Overlay,
    ctx: BlockContext,
    gas_price: Amount,
    txs: Vec<Tx>,
    receipts: Vec<Receipt>,
    fees: Amount,
    size_bytes: usize,
    /// Gas the block's transactions used so far, against `caps.block`.
    gas_used: u64,
    caps: system::GasCaps,
    dpos: bool,
    dpos_begun: bool,
    /// Parameters a governance vote changed in this block, written to
    /// `sys.params` by `finish` so they apply from the next block.
    passed_params: BTreeMap<&'static str, Amount>,
    engine: aergo_sql::Engine,
    store: Store,
    /// Branches touched by this block, by name: each a state of its own
    /// (see [`branches`]), mounted back into the main state by `finish`.
    lanes: BTreeMap<String, Lane>,
    /// Workers [`BlockBuilder::push_each`] may use.
    threads: usize,
    /// Block position of `txs[0]`: 0, except in a speculative worker,
    /// which applies one transaction at a time at the position it was
    /// given (see `parallel.rs`).
    index_base: usize,
    stats: ParallelStats,
}

/// What [`BlockBuilder::room_for`] found a transaction needs of the block.
#[derive(Clone, Copy, Debug)]
struct Room {
    size_bytes: usize,
    reserved_gas: u64,
}

/// A branch's state while a block runs on it.
struct Lane {
    overlay: Overlay,
    /// Fees its transactions paid, credited to the coinbase on the branch.
    fees: Amount,
    /// Transactions the block applied on it.
    txs: u64,
}

impl BlockBuilder {
    /// A builder with an engine of its own: for one-off blocks and tests.
    /// A chain builds through [`Executor::builder`], whose engine keeps
    /// compiled contract functions from block to block.
    pub fn new(store: &Store, parent_state_root: Hash, ctx: BlockContext) -> Result<BlockBuilder, ExecError> {
        Self::with_engine(store, parent_state_root, ctx, aergo_sql::Engine::new(contract::engine_config()))
    }

    fn with_engine(
        store: &Store,
        parent_state_root: Hash,
        ctx: BlockContext,
        engine: aergo_sql::Engine,
    ) -> Result<BlockBuilder, ExecError> {
        let overlay = Overlay::new(store, parent_state_root);
        let gas_price = system::gas_price(&overlay)?;
        let caps = system::gas_caps(&overlay)?;
        let dpos = dpos::is_enabled(&overlay)?;
        Ok(BlockBuilder {
            overlay,
            ctx,
            gas_price,
            txs: Vec::new(),
            receipts: Vec::new(),
            fees: Amount::ZERO,
            size_bytes: 0,
            gas_used: 0,
            caps,
            dpos,
            dpos_begun: false,
            passed_params: BTreeMap::new(),
            engine,
            store: store.clone(),
            lanes: BTreeMap::new(),
            threads: 1,
            index_base: 0,
            stats: ParallelStats::default(),
        })
    }

    /// Runs the DPoS block hook ([`dpos::begin_block`]): must come first,
    /// once, on DPoS chains only. On error the state is as before.
    pub fn begin_dpos(&mut self, info: &SlotInfo) -> Result<(), ExecError> {
        if !self.dpos {
            return Err(ExecError::BadSlot { reason: "this chain's state has no DPoS producer tables".into() });
        }
        if self.dpos_begun || !self.txs.is_empty() {
            return Err(ExecError::BadSlot { reason: "begin_dpos must be called once, before any transaction".into() });
        }
        if info.height != self.ctx.height {
            return Err(ExecError::BadSlot {
                reason: format!("slot info is for height {}, the block is at {}", info.height, self.ctx.height),
            });
        }
        let savepoint = self.overlay.savepoint();
        match dpos::begin_block(&mut self.overlay, info) {
            Ok(()) => {
                self.overlay.release_savepoint(savepoint)?;
                self.dpos_begun = true;
                Ok(())
            }
            Err(e) => {
                self.overlay.rollback_to(savepoint)?;
                Err(e)
            }
        }
    }

    fn check_dpos_begun(&self, what: &'static str) -> Result<(), ExecError> {
        if self.dpos && !self.dpos_begun {
            return Err(ExecError::DposHookMissing { what });
        }
        Ok(())
    }

    /// The block position of the next transaction applied.
    fn next_index(&self) -> usize {
        self.index_base + self.txs.len()
    }

    /// Number of transactions applied so far.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// The current state (parent plus the transactions applied so far).
    pub fn view(&self) -> &dyn TableStore {
        &self.overlay
    }

    /// Applies one transaction, on main or on the branch it was signed
    /// for. On error the state is exactly as before and the transaction is
    /// not part of the block.
    pub fn push(&mut self, vtx: VerifiedTx) -> Result<&Receipt, ExecError> {
        let Some(name) = vtx.branch().map(str::to_string) else { return self.push_here(vtx) };
        self.check_dpos_begun("transactions")?;
        // The registry as this block left it so far: a branch deleted
        // earlier in the block takes no more transactions.
        let info = branches::read(&self.overlay, &name)?
            .filter(|b| b.lane == vtx.lane())
            .ok_or_else(|| ExecError::UnknownBranch { name: name.clone() })?;
        check_branch_tx(&info, &vtx)?;
        let hash = vtx.hash();
        let bytes = vtx.tx().encode();
        let height = self.ctx.height;
        let mut lane = self.take_lane(&name)?;
        let result = self.on_lane(&mut lane, |b| {
            b.push_here(vtx)?;
            branches::log_tx(&mut b.overlay, height, &hash, &bytes)
        });
        if result.is_ok() {
            lane.txs += 1;
        }
        self.lanes.insert(name, lane);
        result?;
        Ok(self.receipts.last().expect("a pushed transaction has a receipt"))
    }

    /// The branch's lane, opened on its state in the main state if this
    /// block has not touched it yet.
    fn take_lane(&mut self, name: &str) -> Result<Lane, ExecError> {
        if let Some(lane) = self.lanes.remove(name) {
            return Ok(lane);
        }
        let root = self
            .overlay
            .table_root(&branches::mount_name(name))?
            .ok_or_else(|| ExecError::UnknownBranch { name: name.to_string() })?;
        Ok(Lane { overlay: Overlay::new(&self.store, root), fees: Amount::ZERO, txs: 0 })
    }

    /// Runs `f` with the lane's state and fees in place of main's (so every
    /// path that applies a transaction serves branches unchanged), and
    /// puts main's back whatever `f` returns.
    fn on_lane<T>(
        &mut self,
        lane: &mut Lane,
        f: impl FnOnce(&mut Self) -> Result<T, ExecError>,
    ) -> Result<T, ExecError> {
        std::mem::swap(&mut self.overlay, &mut lane.overlay);
        std::mem::swap(&mut self.fees, &mut lane.fees);
        let result = f(self);
        std::mem::swap(&mut self.overlay, &mut lane.overlay);
        std::mem::swap(&mut self.fees, &mut lane.fees);
        result
    }

    /// [`BlockBuilder::push`] on the state in place.
    fn push_here(&mut self, vtx: VerifiedTx) -> Result<&Receipt, ExecError> {
        let room = self.room_for(&vtx)?;
        let savepoint = self.overlay.savepoint();
        match self.apply(&vtx) {
            Ok((receipt, passed)) => {
                self.overlay.release_savepoint(savepoint)?;
                self.record_applied(vtx, receipt, passed, room)
            }
            Err(e) => {
                self.overlay.rollback_to(savepoint)?;
                Err(e)
            }
        }
    }

    /// What a transaction must find before it is applied, in the order
    /// they are checked: the DPoS hook ran, the block has room for one
    /// more transaction, for its bytes and for the most gas it can use.
    fn room_for(&self, vtx: &VerifiedTx) -> Result<Room, ExecError> {
        self.check_dpos_begun("transactions")?;
        if self.txs.len() >= BLOCK_MAX_TXS {
            return Err(ExecError::BlockFull { what: "transaction count" });
        }
        let size_bytes = vtx.size_bytes();
        if self.size_bytes + size_bytes > BLOCK_MAX_SIZE_BYTES {
            return Err(ExecError::BlockFull { what: "block size" });
        }
        // Gas: a limit above the per-transaction cap never fits; the most
        // this one can use must fit what is left of the block's gas, else
        // it waits for the next block (like a block full of bytes).
        let reserved_gas = self.gas_reservation(vtx)?;
        if self.gas_used.saturating_add(reserved_gas) > self.caps.block {
            return Err(ExecError::BlockFull { what: "block gas" });
        }
        Ok(Room { size_bytes, reserved_gas })
    }

    /// Makes an applied transaction part of the block: its gas, bytes,
    /// fee, the parameters it passed, its receipt.
    fn record_applied(
        &mut self,
        vtx: VerifiedTx,
        receipt: Receipt,
        passed: Vec<(GovParam, Amount)>,
        room: Room,
    ) -> Result<&Receipt, ExecError> {
        // Invariant: a transaction uses at most what it reserved.
        assert!(
            receipt.gas_used <= room.reserved_gas,
            "bug: tx {} used {} gas, more than the {} it reserved",
            vtx.hash(),
            receipt.gas_used,
            room.reserved_gas
        );
        let fees = self
            .fees
            .checked_add(receipt_fee(&receipt))
            .ok_or_else(|| ExecError::BalanceOverflow { account: self.ctx.coinbase.to_string() })?;
        self.gas_used += receipt.gas_used;
        for (param, value) in passed {
            self.passed_params.insert(param.param_name(), value);
        }
        self.size_bytes += room.size_bytes;
        self.fees = fees;
        self.txs.push(vtx.into_tx());
        self.receipts.push(receipt);
        Ok(self.receipts.last().expect("just pushed"))
    }

    /// The most gas `vtx` can use in this block: its gas limit, or for a
    /// limit of 0 what the executor would give it (the default contract
    /// limit under the cap, or the intrinsic gas of a plain transfer).
    fn gas_reservation(&self, vtx: &VerifiedTx) -> Result<u64, ExecError> {
        let body = vtx.tx.body()?;
        if body.gas_limit > self.caps.tx {
            return Err(ExecError::GasLimitTooHigh { limit: body.gas_limit, max: self.caps.tx });
        }
        if body.gas_limit != 0 {
            return Ok(body.gas_limit);
        }
        let intrinsic = intrinsic_gas(&vtx.tx);
        Ok(match contract::classify(body.tx_type()?, body.recipient()?.as_ref()) {
            Some(_) => contract::DEFAULT_TX_GAS_LIMIT.min(self.caps.tx).max(intrinsic),
            None => intrinsic,
        })
    }

    /// Gas the block's transactions used so far.
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    fn apply(&mut self, vtx: &VerifiedTx) -> Result<(Receipt, Vec<(GovParam, Amount)>), ExecError> {
        let body = vtx.tx.body()?;
        let kind = match plan(body)? {
            Planned::Contract(kind) => {
                let tx_index = self.next_index();
                let env = contract::TxEnv {
                    view: &mut self.overlay,
                    engine: &self.engine,
                    block: &self.ctx,
                    gas_price: self.gas_price,
                    max_tx_gas: self.caps.tx,
                    fees_before: self.fees,
                    tx_index,
                };
                return contract::apply(env, vtx, kind).map(|r| (r, Vec::new()));
            }
            Planned::Plain(kind) => kind,
        };
        if let TxKind::Branch(call) = &kind {
            branch_calls::precheck(&self.overlay, vtx.sender_text(), call)?;
        }
        let gas = intrinsic_gas(&vtx.tx);
        if body.gas_limit != 0 && body.gas_limit < gas {
            return Err(ExecError::GasLimitTooLow { limit: body.gas_limit, needed: gas });
        }
        let offered = body.gas_price()?;
        if !offered.is_zero() && offered < self.gas_price {
            return Err(ExecError::GasPriceTooLow {
                offered: offered.to_string(),
                required: self.gas_price.to_string(),
            });
        }
        let sender = &vtx.sender;
        let sender_key = &vtx.sender_key;
        let overflow = |account: &str| ExecError::BalanceOverflow { account: account.to_string() };
        let mut from = system::read_account_at(&self.overlay, sender_key)?;
        if body.nonce != from.nonce + 1 {
            return Err(ExecError::Nonce {
                account: sender_key.text().to_string(),
                expected: from.nonce + 1,
                got: body.nonce,
            });
        }
        let amount = body.amount()?;
        let fee = self.gas_price.checked_mul(gas as u128).ok_or_else(|| overflow(sender_key.text()))?;
        // What leaves the sender's balance: the amount for a transfer or a
        // stake (an unstake's amount comes back, a vote moves none).
        let spent = match &kind {
            TxKind::Transfer(_) | TxKind::System(GovCall::Stake) | TxKind::Name(_) | TxKind::File(_) => amount,
            TxKind::System(_) | TxKind::Branch(_) => Amount::ZERO,
        };
        if matches!(kind, TxKind::Branch(_)) && !amount.is_zero() {
            return Err(ExecError::BadPayload { reason: "an aergo.branch call carries no amount".into() });
        }
        let needed = spent.checked_add(fee).ok_or_else(|| overflow(sender_key.text()))?;
        if from.balance < needed {
            return Err(ExecError::InsufficientBalance {
                account: sender_key.text().to_string(),
                needed: needed.to_string(),
                available: from.balance.to_string(),
            });
        }
        // A transfer to a name goes where the name points now; an unknown
        // name refuses the transfer before anything is written.
        let kind = match kind {
            TxKind::Transfer(to) => TxKind::Transfer(names::resolve(&self.overlay, &to)?),
            other => other,
        };
        // A transfer or a name call debits amount and fee in one write (the
        // name service credits the amount to aergo.name); a system call
        // pays the fee here and lets the system contract move the amount.
        let debit = match &kind {
            TxKind::Transfer(_) | TxKind::Name(_) | TxKind::File(_) => needed,
            TxKind::System(_) | TxKind::Branch(_) => fee,
        };
        from.balance = from.balance.checked_sub(debit).ok_or_else(|| overflow(sender_key.text()))?;
        from.nonce += 1;
        system::write_account_at(&mut self.overlay, sender_key, from)?;

        let mut events = Vec::new();
        let mut passed = Vec::new();
        let mut failure: Option<String> = None;
        let to = match kind {
            TxKind::Transfer(recipient) => {
                let recipient_key = system::AccountKey::new(&recipient);
                let mut to = system::read_account_at(&self.overlay, &recipient_key)?;
                to.balance = to.balance.checked_add(amount).ok_or_else(|| overflow(recipient_key.text()))?;
                system::write_account_at(&mut self.overlay, &recipient_key, to)?;
                recipient.to_vec()
            }
            TxKind::System(call) => {
                let chain =
                    Hash::from_slice("tx chain id hash", &body.chain_id_hash).map_err(aergo_types::TypesError::from)?;
                let outcome = gov::execute(&mut self.overlay, self.ctx.height, sender, &call, amount, &chain)?;
                if let Some((name, json_args)) = outcome.event {
                    events.push(self.system_event(vtx, AERGO_SYSTEM, name, json_args));
                }
                passed = outcome.passed;
                AERGO_SYSTEM.as_bytes().to_vec()
            }
            TxKind::Name(call) => {
                let (name, json_args) = names::execute(&mut self.overlay, self.ctx.height, sender, &call, amount)?;
                events.push(self.system_event(vtx, AERGO_NAME, name, json_args));
                AERGO_NAME.as_bytes().to_vec()
            }
            TxKind::File(call) => {
                let (name, json_args) = files::execute(&mut self.overlay, self.ctx.height, sender, &call, amount)?;
                events.push(self.system_event(vtx, AERGO_FS, name, json_args));
                AERGO_FS.as_bytes().to_vec()
            }
            TxKind::Branch(call) => {
                // What the registry refuses whatever the block was refused
                // at admission already (`precheck`); what only running it
                // tells (a merge's conflicts, a resolver's failure, a height
                // not recorded) is an included failure that pays its fee,
                // so its sender learns why from the receipt.
                let savepoint = self.overlay.savepoint();
                match self.branch_call(vtx, &call, gas) {
                    Ok(evs) => {
                        self.overlay.release_savepoint(savepoint)?;
                        for (name, json_args) in evs {
                            events.push(self.system_event(vtx, AERGO_BRANCH, &name, json_args));
                        }
                    }
                    Err(e) if e.is_rejection() => {
                        self.overlay.rollback_to(savepoint)?;
                        failure = Some(e.to_string());
                    }
                    Err(e) => return Err(e),
                }
                AERGO_BRANCH.as_bytes().to_vec()
            }
        };
        for (i, e) in events.iter_mut().enumerate() {
            e.event_idx = i as i32;
        }

        let cumulative = self.fees.checked_add(fee).unwrap_or(Amount::TOTAL_SUPPLY);
        let status = if failure.is_some() { ReceiptStatus::Error } else { ReceiptStatus::Success };
        let receipt = Receipt {
            status: status.as_str().to_string(),
            ret: failure.unwrap_or_default(),
            tx_hash: vtx.hash.to_vec(),
            fee_used: fee.to_be_bytes_minimal(),
            cumulative_fee_used: cumulative.to_be_bytes_minimal(),
            block_no: self.ctx.height,
            tx_index: self.next_index() as i32,
            from: sender.to_vec(),
            to,
            gas_used: gas,
            events,
            ..Receipt::default()
        };
        Ok((receipt, passed))
    }

    /// The event a system contract (`aergo.system`, `aergo.name`) emits for
    /// the transaction being applied.
    fn system_event(&self, vtx: &VerifiedTx, contract: &str, name: &str, json_args: String) -> Event {
        Event {
            contract_address: contract.as_bytes().to_vec(),
            event_name: name.to_string(),
            json_args,
            event_idx: 0,
            tx_hash: vtx.hash.to_vec(),
            block_hash: Vec::new(),
            block_no: self.ctx.height,
            tx_index: self.next_index() as i32,
        }
    }

    /// Credits the fees to the coinbase and flushes the state.
    pub fn finish(mut self) -> Result<BlockOutcome, ExecError> {
        self.check_dpos_begun("finishing")?;
        for (name, value) in &self.passed_params {
            system::write_param(&mut self.overlay, name, *value)?;
        }
        credit_fees(&mut self.overlay, &self.ctx.coinbase, self.fees)?;
        let lanes = std::mem::take(&mut self.lanes);
        for (name, mut lane) in lanes {
            credit_fees(&mut lane.overlay, &self.ctx.coinbase, lane.fees)?;
            if !lane.overlay.is_dirty() {
                continue;
            }
            let root = lane.overlay.flush()?;
            branches::mount(&mut self.overlay, &name, root)?;
            if let Some(mut info) = branches::read(&self.overlay, &name)? {
                info.head_height = self.ctx.height;
                info.txs += lane.txs;
                branches::write(&mut self.overlay, &info)?;
            }
        }
        // Every block records its parent's main state, so that a branch can
        // fork at any past height by a lookup.
        let parent_height = self.ctx.height.saturating_sub(1);
        let parent_root = self.overlay.base_root();
        branches::record_history(&mut self.overlay, parent_height, parent_root)?;
        let state_root = self.overlay.flush()?;
        let txs_root = txs_root(&self.txs)?;
        let receipts_root = receipts_root(&self.receipts)?;
        Ok(BlockOutcome {
            state_root,
            txs: self.txs,
            receipts: self.receipts,
            txs_root,
            receipts_root,
            fees: self.fees,
        })
    }
}

/// Credits a block's fees to its coinbase in one state (main's, or a
/// branch's for the fees its transactions paid there).
fn credit_fees(view: &mut Overlay, coinbase: &Address, fees: Amount) -> Result<(), ExecError> {
    if fees.is_zero() {
        return Ok(());
    }
    let mut acct = system::read_account(view, coinbase)?;
    acct.balance =
        acct.balance.checked_add(fees).ok_or_else(|| ExecError::BalanceOverflow { account: coinbase.to_string() })?;
    system::write_account(view, coinbase, acct)
}

/// What a transaction does, decided before any state is touched.
enum TxKind {
    /// To an account, or to a user name (resolved when it executes).
    Transfer(Address),
    System(GovCall),
    Name(NameCall),
    Branch(BranchCall),
    File(FileCall),
}

/// How a transaction is executed: by the contract engine, or as a plain
/// transfer or system call.
enum Planned {
    Contract(contract::ContractTx),
    Plain(TxKind),
}

/// Decides from the transaction alone how it is executed, refusing what
/// this chain cannot run whatever the state: a type or recipient it does
/// not execute, a system call whose payload does not parse.
fn plan(body: &TxBody) -> Result<Planned, ExecError> {
    let tx_type = body.tx_type()?;
    let recipient = body.recipient()?;
    if let Some(kind) = contract::classify(tx_type, recipient.as_ref()) {
        return Ok(Planned::Contract(kind));
    }
    let kind = match (tx_type, recipient) {
        (TxType::Normal | TxType::Transfer, Some(r)) => {
            if r.is_system() {
                return Err(ExecError::Unsupported {
                    what: format!("recipient {r}"),
                    reason: "a system contract takes governance transactions, not transfers",
                });
            }
            TxKind::Transfer(r)
        }
        (TxType::Normal | TxType::Transfer, None) => {
            return Err(ExecError::Unsupported {
                what: "a transfer without recipient".into(),
                reason: "a deploy carries SQL source in its payload",
            })
        }
        (TxType::Governance, Some(Address::Name(n))) if n == AERGO_SYSTEM => {
            TxKind::System(GovCall::parse(&body.payload)?)
        }
        (TxType::Governance, Some(Address::Name(n))) if n == AERGO_NAME => {
            TxKind::Name(NameCall::parse(&body.payload)?)
        }
        (TxType::Governance, Some(Address::Name(n))) if n == AERGO_FS => TxKind::File(FileCall::parse(&body.payload)?),
        (TxType::Governance, Some(Address::Name(n))) if n == AERGO_BRANCH => {
            TxKind::Branch(BranchCall::parse(&body.payload)?)
        }
        (TxType::Governance, r) => {
            return Err(ExecError::Unsupported {
                what: format!("governance call to {}", r.map(|r| r.to_string()).unwrap_or_default()),
                reason: "aergo.system, aergo.name, aergo.branch and aergo.fs are implemented; enterprise is not",
            })
        }
        (other, _) => {
            return Err(ExecError::Unsupported {
                what: format!("transaction type {}", other.name()),
                reason: "only transfers and aergo.system calls are executed so far",
            })
        }
    };
    Ok(Planned::Plain(kind))
}

/// Refuses, before a transaction is admitted, what building a block on
/// `state` would refuse whatever comes first: a type or recipient this
/// chain does not run, a system call that does not parse, names a
/// candidate twice, carries the wrong amount, or asks for staking on a
/// chain without it. (Admitting it would acknowledge a transaction that
/// every block then leaves out.) What depends on the sender's state at
/// inclusion (stake, lock, balance) is left to execution. `height` is the
/// height of the block it would go into (registry records lapse by it).
pub fn check_runnable(state: &dyn TableStore, tx: &Tx, height: u64) -> Result<(), ExecError> {
    let body = tx.body()?;
    match plan(body)? {
        Planned::Contract(_) => Ok(()),
        Planned::Plain(TxKind::Transfer(to)) => names::resolve(state, &to).map(|_| ()),
        Planned::Plain(TxKind::System(call)) => {
            let chain =
                Hash::from_slice("tx chain id hash", &body.chain_id_hash).map_err(aergo_types::TypesError::from)?;
            gov::precheck(state, &call, body.amount()?, &chain)
        }
        Planned::Plain(TxKind::Name(call)) => names::precheck(state, &body.sender()?, &call, body.amount()?),
        Planned::Plain(TxKind::File(call)) => {
            files::precheck(state, height, &body.sender()?, &call, body.amount()?).map(|_| ())
        }
        Planned::Plain(TxKind::Branch(_)) if !body.amount()?.is_zero() => {
            Err(ExecError::BadPayload { reason: "an aergo.branch call carries no amount".into() })
        }
        Planned::Plain(TxKind::Branch(call)) => branch_calls::precheck(state, &body.sender()?.to_string(), &call),
    }
}

/// What a branch refuses whatever its state: senders who are not its
/// writers, and calls to system contracts (staking, names and the branch
/// registry live on main).
pub(crate) fn check_branch_tx(info: &BranchInfo, vtx: &VerifiedTx) -> Result<(), ExecError> {
    if !info.may_write(vtx.sender_text()) {
        return Err(ExecError::BranchRejected {
            call: "a transaction",
            name: info.name.clone(),
            reason: format!("{} is not a writer of this branch", vtx.sender_text()),
        });
    }
    if vtx.tx().body()?.recipient()?.is_some_and(|r| r.is_system()) {
        return Err(ExecError::Unsupported {
            what: format!("a system contract call on branch {}", info.name),
            reason: "aergo.system, aergo.name and aergo.branch run on main only",
        });
    }
    Ok(())
}

fn receipt_fee(receipt: &Receipt) -> Amount {
    Amount::from_be_bytes(&receipt.fee_used).unwrap_or(Amount::ZERO)
}

/// Replays a whole block of already verified transactions; any rejected
/// transaction makes the block invalid.
pub fn execute_block(
    store: &Store,
    parent_state_root: Hash,
    ctx: BlockContext,
    txs: Vec<VerifiedTx>,
) -> Result<BlockOutcome, (usize, ExecError)> {
    let mut builder = BlockBuilder::new(store, parent_state_root, ctx).map_err(|e| (0, e))?;
    for (i, tx) in txs.into_iter().enumerate() {
        builder.push(tx).map_err(|e| (i, e))?;
    }
    builder.finish().map_err(|e| (usize::MAX, e))
}

/// [`execute_block`] for a DPoS chain: runs the block hook with `slot`
/// first. Errors from the hook are reported at index 0.
pub fn execute_dpos_block(
    store: &Store,
    parent_state_root: Hash,
    ctx: BlockContext,
    slot: &SlotInfo,
    txs: Vec<VerifiedTx>,
) -> Result<BlockOutcome, (usize, ExecError)> {
    let mut builder = BlockBuilder::new(store, parent_state_root, ctx).map_err(|e| (0, e))?;
    builder.begin_dpos(slot).map_err(|e| (0, e))?;
    for (i, tx) in txs.into_iter().enumerate() {
        builder.push(tx).map_err(|e| (i, e))?;
    }
    builder.finish().map_err(|e| (usize::MAX, e))
}
