//! aergo-exec: the state transition of the chain.
//!
//! Bird's-eye view: a block is executed against an [`aergo_store::Overlay`]
//! on its parent's state root. Each transaction runs inside a savepoint; a
//! transaction that is invalid against the current state (wrong nonce, not
//! enough balance, ...) is *rejected*: rolled back, left out of the block,
//! with an [`ExecError`] saying why. At the end the fees of the block are
//! credited to its coinbase and the overlay is flushed into the trees in one
//! batch, giving the new state root.
//!
//! The pieces:
//! - [`system`]: the system tables (accounts, parameters) and their rows;
//! - [`verify_tx`]: stateless checks and the signature, producing a
//!   [`VerifiedTx`], the only form the executor accepts, so a signature is
//!   checked exactly once on every path (at pool admission for local
//!   blocks, at import for blocks from elsewhere);
//! - [`BlockBuilder`]: applies verified transactions one by one (the block
//!   producer uses it to fill a block, dropping rejected transactions);
//! - [`execute_block`]: replays a complete block, failing if any of its
//!   transactions is rejected (block import and restart checks use it);
//! - [`genesis_state`]: the state of block 0 from a [`Genesis`];
//! - [`contract`], [`host`], [`events`], [`query`]: SQL smart contracts
//!   (deploy and call transactions, the host functions contracts use, the
//!   event table, read-only queries for the API).
//!
//! Fees are *stable*: `gas used x gas price`, where the gas price is a
//! governance parameter in `sys.params`, not an auction. A transfer uses
//! [`TX_BASE_GAS`] plus [`PAYLOAD_GAS_PER_BYTE`] per payload byte (the Go
//! node's schedule).
//!
//! Determinism: nothing here reads a clock, randomness, the environment or
//! the network; block time and height come in a [`BlockContext`]. All maps
//! are ordered.
//!
//! Deliberately absent (for now, each a clear [`ExecError::Unsupported`]):
//! governance transactions, names, fee delegation, redeploy.

pub mod contract;
mod error;
pub mod events;
pub mod host;
pub mod query;
pub mod system;

use aergo_store::{Hash as StoreHash, Overlay, Store, TableStore};
use aergo_types::block::{BLOCK_MAX_SIZE_BYTES, BLOCK_MAX_TXS};
use aergo_types::{receipts_root, txs_root, Address, Amount, Genesis, Hash, Receipt, ReceiptStatus, Tx, TxType};

pub use error::ExecError;
pub use system::AccountState;

/// Gas charged for every transaction.
pub const TX_BASE_GAS: u64 = 100_000;
/// Gas charged per byte of payload.
pub const PAYLOAD_GAS_PER_BYTE: u64 = 5;
/// Gas price at genesis: 50 gaer per unit of gas, so a plain transfer costs
/// 0.005 AERGO.
pub const GENESIS_GAS_PRICE: Amount = Amount::from_aer(50 * 1_000_000_000);

/// Converts between the store's and the chain's hash types (both SHA-256).
pub fn to_store_hash(h: &Hash) -> StoreHash {
    StoreHash(*h.as_bytes())
}

/// See [`to_store_hash`].
pub fn from_store_hash(h: &StoreHash) -> Hash {
    Hash(h.0)
}

/// The rules of one chain that transactions are checked against.
#[derive(Clone, Debug)]
pub struct ChainRules {
    pub chain_id_hash: Hash,
    /// Public chains refuse some transaction types (see `Tx::validate`).
    pub public: bool,
}

/// What the executor needs to know about the block being built.
#[derive(Clone, Debug)]
pub struct BlockContext {
    pub height: u64,
    /// Block time in nanoseconds since the Unix epoch, from the header.
    pub timestamp_ns: i64,
    /// Account credited with the block's fees.
    pub coinbase: Address,
}

/// A transaction whose stateless rules and signature have been checked.
/// Only [`verify_tx`] makes one.
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    tx: Tx,
    hash: Hash,
    sender: Address,
}

impl VerifiedTx {
    pub fn tx(&self) -> &Tx {
        &self.tx
    }

    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn sender(&self) -> &Address {
        &self.sender
    }

    pub fn nonce(&self) -> u64 {
        self.tx.body.as_ref().map_or(0, |b| b.nonce)
    }

    /// Encoded size in bytes.
    pub fn size_bytes(&self) -> usize {
        prost::Message::encoded_len(&self.tx)
    }

    pub fn into_tx(self) -> Tx {
        self.tx
    }
}

/// Checks everything about `tx` that does not need state: chain id, hash,
/// sizes, type rules and the signature.
pub fn verify_tx(tx: Tx, rules: &ChainRules) -> Result<VerifiedTx, ExecError> {
    tx.validate(&rules.chain_id_hash, rules.public)?;
    aergo_crypto::verify_tx(&tx)?;
    let body = tx.body()?;
    let sender = body.sender()?;
    let hash = body.tx_hash();
    Ok(VerifiedTx { tx, hash, sender })
}

/// Gas a transaction needs before any contract code runs.
pub fn intrinsic_gas(tx: &Tx) -> u64 {
    let payload = tx.body.as_ref().map_or(0, |b| b.payload.len() as u64);
    TX_BASE_GAS + PAYLOAD_GAS_PER_BYTE * payload
}

/// Reads an account from any view of state.
pub fn account(view: &dyn TableStore, address: &Address) -> Result<AccountState, ExecError> {
    system::read_account(view, address)
}

/// The state after genesis: system tables, parameters and the allocation.
/// Returns the state root (nodes staged in `store`; commit to persist).
pub fn genesis_state(store: &Store, genesis: &Genesis) -> Result<StoreHash, ExecError> {
    genesis.validate()?;
    let mut overlay = Overlay::new(store, StoreHash::ZERO);
    system::create_tables(&mut overlay)?;
    contract::create_tables(&mut overlay)?;
    system::write_param(&mut overlay, system::PARAM_GAS_PRICE, GENESIS_GAS_PRICE)?;
    for (address, balance) in genesis.balances()? {
        system::write_account(&mut overlay, &address, AccountState { balance, nonce: 0 })?;
    }
    Ok(overlay.flush()?)
}

/// The result of building or executing a block.
#[derive(Debug)]
pub struct BlockOutcome {
    pub state_root: StoreHash,
    pub txs: Vec<Tx>,
    pub receipts: Vec<Receipt>,
    pub txs_root: Hash,
    pub receipts_root: Hash,
    /// Fees credited to the coinbase.
    pub fees: Amount,
}

/// Applies verified transactions one at a time on top of a parent state.
pub struct BlockBuilder {
    overlay: Overlay,
    ctx: BlockContext,
    gas_price: Amount,
    txs: Vec<Tx>,
    receipts: Vec<Receipt>,
    fees: Amount,
    size_bytes: usize,
    engine: aergo_sql::Engine,
}

impl BlockBuilder {
    pub fn new(store: &Store, parent_state_root: StoreHash, ctx: BlockContext) -> Result<BlockBuilder, ExecError> {
        let overlay = Overlay::new(store, parent_state_root);
        let gas_price = system::gas_price(&overlay)?;
        Ok(BlockBuilder {
            overlay,
            ctx,
            gas_price,
            txs: Vec::new(),
            receipts: Vec::new(),
            fees: Amount::ZERO,
            size_bytes: 0,
            engine: aergo_sql::Engine::new(contract::engine_config()),
        })
    }

    /// Uses `engine` (built with [`contract::engine_config`]) for contract
    /// code, so its cache of compiled functions outlives this block.
    pub fn with_engine(mut self, engine: aergo_sql::Engine) -> BlockBuilder {
        self.engine = engine;
        self
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

    /// Applies one transaction. On error the state is exactly as before and
    /// the transaction is not part of the block.
    pub fn push(&mut self, vtx: VerifiedTx) -> Result<&Receipt, ExecError> {
        if self.txs.len() >= BLOCK_MAX_TXS {
            return Err(ExecError::BlockFull { what: "transaction count" });
        }
        let size = vtx.size_bytes();
        if self.size_bytes + size > BLOCK_MAX_SIZE_BYTES {
            return Err(ExecError::BlockFull { what: "block size" });
        }
        let savepoint = self.overlay.savepoint();
        match self.apply(&vtx) {
            Ok(receipt) => {
                self.overlay.release_savepoint(savepoint)?;
                self.size_bytes += size;
                self.fees = self
                    .fees
                    .checked_add(receipt_fee(&receipt))
                    .ok_or(ExecError::BalanceOverflow { account: self.ctx.coinbase.to_string() })?;
                self.txs.push(vtx.into_tx());
                self.receipts.push(receipt);
                Ok(self.receipts.last().expect("just pushed"))
            }
            Err(e) => {
                self.overlay.rollback_to(savepoint)?;
                Err(e)
            }
        }
    }

    fn apply(&mut self, vtx: &VerifiedTx) -> Result<Receipt, ExecError> {
        let body = vtx.tx.body()?;
        let tx_type = body.tx_type()?;
        if let Some(kind) = contract::classify(tx_type, body.recipient()?.as_ref()) {
            let env = contract::TxEnv {
                view: &mut self.overlay,
                engine: &self.engine,
                block: &self.ctx,
                gas_price: self.gas_price,
                fees_before: self.fees,
                tx_index: self.txs.len(),
            };
            return contract::apply(env, vtx, kind);
        }
        let recipient = match (tx_type, body.recipient()?) {
            (TxType::Normal | TxType::Transfer, Some(r)) => r,
            (TxType::Normal | TxType::Transfer, None) => {
                return Err(ExecError::Unsupported {
                    what: "a transaction without recipient (contract deploy)".into(),
                    reason: "SQL contracts are not on chain yet",
                })
            }
            (other, _) => {
                return Err(ExecError::Unsupported {
                    what: format!("transaction type {}", other.name()),
                    reason: "only transfers are executed so far",
                })
            }
        };
        if !recipient.is_account() {
            return Err(ExecError::Unsupported {
                what: format!("recipient {recipient}"),
                reason: "only account recipients are supported so far (no contracts, no names)",
            });
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
        let mut from = system::read_account(&self.overlay, sender)?;
        if body.nonce != from.nonce + 1 {
            return Err(ExecError::Nonce { account: sender.to_string(), expected: from.nonce + 1, got: body.nonce });
        }
        let amount = body.amount()?;
        let fee = self
            .gas_price
            .checked_mul(gas as u128)
            .ok_or(ExecError::BalanceOverflow { account: sender.to_string() })?;
        let needed = amount.checked_add(fee).ok_or(ExecError::BalanceOverflow { account: sender.to_string() })?;
        if from.balance < needed {
            return Err(ExecError::InsufficientBalance {
                account: sender.to_string(),
                needed: needed.to_string(),
                available: from.balance.to_string(),
            });
        }
        from.balance = from.balance.checked_sub(needed).expect("checked above");
        from.nonce += 1;
        system::write_account(&mut self.overlay, sender, from)?;
        let mut to = system::read_account(&self.overlay, &recipient)?;
        to.balance =
            to.balance.checked_add(amount).ok_or(ExecError::BalanceOverflow { account: recipient.to_string() })?;
        system::write_account(&mut self.overlay, &recipient, to)?;

        let cumulative = self.fees.checked_add(fee).unwrap_or(Amount::TOTAL_SUPPLY);
        Ok(Receipt {
            status: ReceiptStatus::Success.as_str().to_string(),
            tx_hash: vtx.hash.to_vec(),
            fee_used: fee.to_be_bytes_minimal(),
            cumulative_fee_used: cumulative.to_be_bytes_minimal(),
            block_no: self.ctx.height,
            tx_index: self.txs.len() as i32,
            from: sender.to_vec(),
            to: recipient.to_vec(),
            gas_used: gas,
            ..Receipt::default()
        })
    }

    /// Credits the fees to the coinbase and flushes the state.
    pub fn finish(mut self) -> Result<BlockOutcome, ExecError> {
        if !self.fees.is_zero() {
            let coinbase = self.ctx.coinbase.clone();
            let mut acct = system::read_account(&self.overlay, &coinbase)?;
            acct.balance = acct
                .balance
                .checked_add(self.fees)
                .ok_or(ExecError::BalanceOverflow { account: coinbase.to_string() })?;
            system::write_account(&mut self.overlay, &coinbase, acct)?;
        }
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

fn receipt_fee(receipt: &Receipt) -> Amount {
    Amount::from_be_bytes(&receipt.fee_used).unwrap_or(Amount::ZERO)
}

/// Replays a whole block of already verified transactions; any rejected
/// transaction makes the block invalid.
pub fn execute_block(
    store: &Store,
    parent_state_root: StoreHash,
    ctx: BlockContext,
    txs: Vec<VerifiedTx>,
) -> Result<BlockOutcome, (usize, ExecError)> {
    let mut builder = BlockBuilder::new(store, parent_state_root, ctx).map_err(|e| (0, e))?;
    for (i, tx) in txs.into_iter().enumerate() {
        builder.push(tx).map_err(|e| (i, e))?;
    }
    builder.finish().map_err(|e| (usize::MAX, e))
}

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod tests;
