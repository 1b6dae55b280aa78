//! The genesis file and the token's initial allocation.
//!
//! The JSON follows the Go node's `genesis.json` where it makes sense
//! (`chain_id`, `timestamp` in nanoseconds, `balance` as address -> aer
//! string, `bps`) and adds `allocation`, the whitepaper's split of the
//! 500,000,000 AERGO supply:
//!
//! | category | share |
//! |---|---|
//! | `sale` | 30% |
//! | `partners_community` | 30% |
//! | `reserve` | 25% |
//! | `advisors` | 10% |
//! | `team` | 5% |
//!
//! Each category lists one or more grants (address, amount). A valid
//! genesis has every category, grants that sum exactly to each category's
//! share (so the whole supply exactly), positive amounts to account
//! addresses, and, if `balance` is given, a `balance` equal to the grants
//! summed per address (it is what a Go-style tool reads; we always write it).
//!
//! ```json
//! {
//!   "chain_id": {"version": 0, "public": false, "mainnet": false,
//!                "magic": "dev.chain", "consensus": "sbp"},
//!   "timestamp": 1555304401000000000,
//!   "allocation": {
//!     "sale": [{"address": "Am...", "amount": "150000000 aergo"}],
//!     "partners_community": [...], "reserve": [...],
//!     "advisors": [...], "team": [...]
//!   },
//!   "balance": {"Am...": "150000000000000000000000000", ...},
//!   "bps": ["16Uiu2HAm..."],
//!   "dpos": {"block_interval_ms": 1000, "bp_count": 3, "epoch_blocks": 100,
//!            "min_stake": "10000 aergo", "stake_lock_blocks": 86400,
//!            "rating_window_slots": 1000}
//! }
//! ```
//!
//! `dpos` is optional and allowed only when the consensus is `dpos`; every
//! field in it is optional too, with the defaults of [`DposGenesis`]. A
//! `dpos` chain needs at least one initial producer in `bps` (libp2p peer
//! ids; their syntax is checked where keys are known, in `aergo-exec`).
//! Files without the section stay valid and keep their content hash: the
//! field is left out of the JSON when absent.
//!
//! The genesis block has height 0, no parent, no txs, zero txs and receipts
//! roots, the chain id bytes and timestamp of the file, and the state root
//! the caller computed by applying the balances. Same file and same state
//! root give the same block hash on every machine.

use crate::address::Address;
use crate::amount::Amount;
use crate::block::{Block, BlockHeader};
use crate::chain_id::ChainId;
use crate::error::{Result, TypesError};
use crate::hash::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest genesis file accepted.
pub const GENESIS_MAX_BYTES: usize = 16 << 20;
/// Most grants across all categories.
pub const GENESIS_MAX_GRANTS: usize = 100_000;
/// Most initial block producers.
pub const GENESIS_MAX_BPS: usize = 1_000;

/// The consensus name of a DPoS chain (the chain id's `consensus`).
pub const CONSENSUS_DPOS: &str = "dpos";

/// Shortest block interval a DPoS genesis may set.
pub const DPOS_MIN_BLOCK_INTERVAL_MS: u64 = 250;
/// Longest block interval a DPoS genesis may set (one hour).
pub const DPOS_MAX_BLOCK_INTERVAL_MS: u64 = 3_600_000;
/// Largest producer set (the Go node's bound on its `BPCOUNT` vote).
pub const DPOS_MAX_BP_COUNT: u64 = 100;
/// Longest epoch, in blocks.
pub const DPOS_MAX_EPOCH_BLOCKS: u64 = 1_000_000;
/// Longest stake lock, in blocks (about 3 years at one block a second).
pub const DPOS_MAX_STAKE_LOCK_BLOCKS: u64 = 100_000_000;
/// Longest producer-rating window, in slots (bounds the per-slot rows kept).
pub const DPOS_MAX_RATING_WINDOW_SLOTS: u64 = 20_000;

/// The optional `dpos` section of a genesis file. Absent fields take the
/// defaults documented on each; [`Genesis::dpos_settings`] resolves them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DposGenesis {
    /// Slot length; default 1000, at least [`DPOS_MIN_BLOCK_INTERVAL_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_interval_ms: Option<u64>,
    /// Size of the producer set elected at each epoch; default the number
    /// of genesis `bps` (at most [`DPOS_MAX_BP_COUNT`]). A governance
    /// parameter afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bp_count: Option<u64>,
    /// Blocks per epoch (the set is re-elected at heights divisible by it);
    /// default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_blocks: Option<u64>,
    /// Least stake an account may hold; default 10,000 aergo (the Go
    /// node's `StakingMinimum`). A governance parameter afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_stake: Option<Amount>,
    /// Blocks a stake stays locked after its last increase; default 86,400
    /// (the Go node's `StakingDelay`). A governance parameter afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake_lock_blocks: Option<u64>,
    /// Slots over which producers' missed and produced slots are counted
    /// for their rating; default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_window_slots: Option<u64>,
}

/// A DPoS configuration with every default filled in and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DposSettings {
    pub block_interval_ms: u64,
    pub bp_count: u64,
    pub epoch_blocks: u64,
    pub min_stake: Amount,
    pub stake_lock_blocks: u64,
    pub rating_window_slots: u64,
}

impl DposSettings {
    pub const DEFAULT_BLOCK_INTERVAL_MS: u64 = 1000;
    pub const DEFAULT_EPOCH_BLOCKS: u64 = 100;
    pub const DEFAULT_MIN_STAKE: Amount = Amount::from_aer(10_000 * 1_000_000_000_000_000_000);
    pub const DEFAULT_STAKE_LOCK_BLOCKS: u64 = 86_400;
    pub const DEFAULT_RATING_WINDOW_SLOTS: u64 = 1000;

    fn validate(&self) -> Result<()> {
        let range = |name: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err(bad(format!("dpos.{name} is {v}, expected {lo}..={hi}")))
            } else {
                Ok(())
            }
        };
        range("block_interval_ms", self.block_interval_ms, DPOS_MIN_BLOCK_INTERVAL_MS, DPOS_MAX_BLOCK_INTERVAL_MS)?;
        range("bp_count", self.bp_count, 1, DPOS_MAX_BP_COUNT)?;
        range("epoch_blocks", self.epoch_blocks, 1, DPOS_MAX_EPOCH_BLOCKS)?;
        range("stake_lock_blocks", self.stake_lock_blocks, 0, DPOS_MAX_STAKE_LOCK_BLOCKS)?;
        range("rating_window_slots", self.rating_window_slots, 1, DPOS_MAX_RATING_WINDOW_SLOTS)?;
        if self.min_stake.is_zero() || self.min_stake > Amount::TOTAL_SUPPLY {
            return Err(bad(format!(
                "dpos.min_stake is {}, expected more than 0 and at most the supply {}",
                self.min_stake,
                Amount::TOTAL_SUPPLY
            )));
        }
        Ok(())
    }
}

/// The whitepaper's allocation categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationCategory {
    Sale,
    PartnersCommunity,
    Reserve,
    Advisors,
    Team,
}

impl AllocationCategory {
    pub const ALL: [AllocationCategory; 5] = [
        AllocationCategory::Sale,
        AllocationCategory::PartnersCommunity,
        AllocationCategory::Reserve,
        AllocationCategory::Advisors,
        AllocationCategory::Team,
    ];

    /// Share of the supply in percent.
    pub fn percent(self) -> u128 {
        match self {
            AllocationCategory::Sale => 30,
            AllocationCategory::PartnersCommunity => 30,
            AllocationCategory::Reserve => 25,
            AllocationCategory::Advisors => 10,
            AllocationCategory::Team => 5,
        }
    }

    /// The category's exact share of [`Amount::TOTAL_SUPPLY`].
    pub fn share(self) -> Amount {
        // 5e26 is divisible by 100: exact.
        Amount::from_aer(Amount::TOTAL_SUPPLY.aer() / 100 * self.percent())
    }

    pub fn name(self) -> &'static str {
        match self {
            AllocationCategory::Sale => "sale",
            AllocationCategory::PartnersCommunity => "partners_community",
            AllocationCategory::Reserve => "reserve",
            AllocationCategory::Advisors => "advisors",
            AllocationCategory::Team => "team",
        }
    }
}

/// An initial balance given to an address out of a category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub address: Address,
    pub amount: Amount,
}

/// A genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: ChainId,
    /// Genesis time in nanoseconds since the Unix epoch.
    pub timestamp: i64,
    pub allocation: BTreeMap<AllocationCategory, Vec<Grant>>,
    /// Per-address totals (the Go node's field). Derived from
    /// `allocation`; checked when present in a file.
    #[serde(default)]
    pub balance: BTreeMap<Address, Amount>,
    /// Initial block producers (peer ids), as in the Go node's file.
    #[serde(default)]
    pub bps: Vec<String>,
    /// DPoS settings (only for `dpos` chains; see [`DposGenesis`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpos: Option<DposGenesis>,
}

fn bad(reason: String) -> TypesError {
    TypesError::Genesis { reason }
}

impl Genesis {
    /// A genesis from its allocation; fills `balance` and validates.
    pub fn new(
        chain_id: ChainId,
        timestamp_ns: i64,
        allocation: BTreeMap<AllocationCategory, Vec<Grant>>,
        bps: Vec<String>,
    ) -> Result<Genesis> {
        let mut g =
            Genesis { chain_id, timestamp: timestamp_ns, allocation, balance: BTreeMap::new(), bps, dpos: None };
        g.balance = g.balances()?;
        g.validate()?;
        Ok(g)
    }

    /// A development genesis: each category goes to its holder in
    /// `holders`, except that `each` is carved out of the reserve for every
    /// address in `dev_accounts` (deterministic dev accounts that tests and
    /// local networks can spend from at once).
    pub fn dev(
        chain_id: ChainId,
        timestamp_ns: i64,
        holders: &BTreeMap<AllocationCategory, Address>,
        dev_accounts: &[Address],
        each: Amount,
        bps: Vec<String>,
    ) -> Result<Genesis> {
        let mut allocation = BTreeMap::new();
        for cat in AllocationCategory::ALL {
            let holder =
                holders.get(&cat).ok_or_else(|| bad(format!("no holder given for category {}", cat.name())))?;
            let mut grants = Vec::new();
            let mut rest = cat.share();
            if cat == AllocationCategory::Reserve {
                for a in dev_accounts {
                    rest = rest.checked_sub(each).ok_or_else(|| {
                        bad(format!(
                            "{} dev accounts of {each} exceed the reserve of {}",
                            dev_accounts.len(),
                            cat.share()
                        ))
                    })?;
                    grants.push(Grant { address: a.clone(), amount: each });
                }
            }
            if !rest.is_zero() {
                grants.push(Grant { address: holder.clone(), amount: rest });
            }
            allocation.insert(cat, grants);
        }
        Genesis::new(chain_id, timestamp_ns, allocation, bps)
    }

    /// True when the chain id names the DPoS engine.
    pub fn is_dpos(&self) -> bool {
        self.chain_id.consensus == CONSENSUS_DPOS
    }

    /// The DPoS settings with defaults filled in: `Some` exactly when the
    /// consensus is `dpos`. Errors on out-of-range values.
    pub fn dpos_settings(&self) -> Result<Option<DposSettings>> {
        if !self.is_dpos() {
            return Ok(None);
        }
        let d = self.dpos.clone().unwrap_or_default();
        let settings = DposSettings {
            block_interval_ms: d.block_interval_ms.unwrap_or(DposSettings::DEFAULT_BLOCK_INTERVAL_MS),
            bp_count: d.bp_count.unwrap_or((self.bps.len() as u64).min(DPOS_MAX_BP_COUNT)),
            epoch_blocks: d.epoch_blocks.unwrap_or(DposSettings::DEFAULT_EPOCH_BLOCKS),
            min_stake: d.min_stake.unwrap_or(DposSettings::DEFAULT_MIN_STAKE),
            stake_lock_blocks: d.stake_lock_blocks.unwrap_or(DposSettings::DEFAULT_STAKE_LOCK_BLOCKS),
            rating_window_slots: d.rating_window_slots.unwrap_or(DposSettings::DEFAULT_RATING_WINDOW_SLOTS),
        };
        settings.validate()?;
        Ok(Some(settings))
    }

    /// The grants summed per address.
    pub fn balances(&self) -> Result<BTreeMap<Address, Amount>> {
        let mut out: BTreeMap<Address, Amount> = BTreeMap::new();
        for grant in self.allocation.values().flatten() {
            let entry = out.entry(grant.address.clone()).or_default();
            *entry = entry
                .checked_add(grant.amount)
                .ok_or_else(|| bad(format!("balance of {} overflows", grant.address)))?;
        }
        Ok(out)
    }

    /// Checks every rule in the module docs.
    pub fn validate(&self) -> Result<()> {
        self.chain_id.validate()?;
        if self.timestamp < 0 {
            return Err(bad(format!("timestamp {} is before 1970", self.timestamp)));
        }
        if self.bps.len() > GENESIS_MAX_BPS {
            return Err(bad(format!("{} bps, at most {GENESIS_MAX_BPS} allowed", self.bps.len())));
        }
        if let Some(bp) = self.bps.iter().find(|b| b.is_empty() || b.len() > 128) {
            return Err(bad(format!("bp id {bp:?} must be 1 to 128 characters")));
        }
        if self.dpos.is_some() && !self.is_dpos() {
            return Err(bad(format!(
                "a dpos section needs consensus \"{CONSENSUS_DPOS}\", the chain id says {:?}",
                self.chain_id.consensus
            )));
        }
        if self.is_dpos() {
            if self.bps.is_empty() || self.bps.len() as u64 > DPOS_MAX_BP_COUNT {
                return Err(bad(format!(
                    "a dpos chain needs 1..={DPOS_MAX_BP_COUNT} initial producers in bps, found {}",
                    self.bps.len()
                )));
            }
            let distinct: std::collections::BTreeSet<&String> = self.bps.iter().collect();
            if distinct.len() != self.bps.len() {
                return Err(bad("bps lists a producer twice".to_string()));
            }
            self.dpos_settings()?;
        }
        let grants: usize = self.allocation.values().map(Vec::len).sum();
        if grants > GENESIS_MAX_GRANTS {
            return Err(bad(format!("{grants} grants, at most {GENESIS_MAX_GRANTS} allowed")));
        }
        let mut total = Amount::ZERO;
        for cat in AllocationCategory::ALL {
            let list = self
                .allocation
                .get(&cat)
                .ok_or_else(|| bad(format!("allocation category {} is missing", cat.name())))?;
            if list.is_empty() {
                return Err(bad(format!("allocation category {} has no grant", cat.name())));
            }
            let mut sum = Amount::ZERO;
            for g in list {
                if !g.address.is_account() {
                    return Err(bad(format!(
                        "{} grant to {}: only account (key) addresses can hold genesis funds",
                        cat.name(),
                        g.address
                    )));
                }
                if g.amount.is_zero() {
                    return Err(bad(format!("{} grant to {} is zero", cat.name(), g.address)));
                }
                sum = sum.checked_add(g.amount).ok_or_else(|| bad(format!("{} grants overflow", cat.name())))?;
            }
            if sum != cat.share() {
                return Err(bad(format!(
                    "category {} ({}%) must total exactly {}, its grants total {}",
                    cat.name(),
                    cat.percent(),
                    cat.share(),
                    sum
                )));
            }
            total = total.checked_add(sum).ok_or_else(|| bad("allocation total overflows".to_string()))?;
        }
        if total != Amount::TOTAL_SUPPLY {
            // Unreachable while the shares add to 100%; kept as the invariant.
            return Err(bad(format!("allocation totals {total}, the supply is {}", Amount::TOTAL_SUPPLY)));
        }
        if !self.balance.is_empty() {
            let derived = self.balances()?;
            if derived != self.balance {
                let diff = derived
                    .iter()
                    .find(|(a, v)| self.balance.get(*a) != Some(*v))
                    .map(|(a, v)| format!("{a} should have {v}"))
                    .or_else(|| {
                        self.balance.keys().find(|a| !derived.contains_key(*a)).map(|a| format!("{a} has no grant"))
                    })
                    .unwrap_or_default();
                return Err(bad(format!("balance does not match the allocation: {diff}")));
            }
        }
        Ok(())
    }

    /// Parses and validates a genesis file.
    pub fn from_json(text: &str) -> Result<Genesis> {
        if text.len() > GENESIS_MAX_BYTES {
            return Err(TypesError::TooLarge { what: "genesis file", found: text.len(), limit: GENESIS_MAX_BYTES });
        }
        let mut g: Genesis = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        g.validate()?;
        if g.balance.is_empty() {
            g.balance = g.balances()?;
        }
        Ok(g)
    }

    /// Canonical pretty JSON (maps sorted; `balance` filled in).
    pub fn to_json(&self) -> Result<String> {
        let mut g = self.clone();
        g.balance = g.balances()?;
        serde_json::to_string_pretty(&g).map_err(|e| bad(format!("cannot serialize: {e}")))
    }

    /// SHA-256 of the canonical compact JSON: the same for the same genesis
    /// on every machine, whatever the file's formatting.
    pub fn content_hash(&self) -> Result<Hash> {
        let mut g = self.clone();
        g.balance = g.balances()?;
        let bytes = serde_json::to_vec(&g).map_err(|e| bad(format!("cannot serialize: {e}")))?;
        Ok(Hash::sha256(&bytes))
    }

    /// The genesis block over `state_root` (the root after applying the
    /// balances, computed by the caller).
    pub fn block(&self, state_root: &Hash) -> Result<Block> {
        let header = BlockHeader {
            chain_id: self.chain_id.to_bytes(),
            prev_block_hash: Vec::new(),
            block_no: 0,
            timestamp: self.timestamp,
            blocks_root_hash: state_root.to_vec(),
            txs_root_hash: Hash::ZERO.to_vec(),
            receipts_root_hash: Hash::ZERO.to_vec(),
            ..Default::default()
        };
        Block::new(header, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(n: u8) -> Address {
        let mut k = [n; 33];
        k[0] = 0x03;
        Address::account(k).unwrap()
    }

    fn holders() -> BTreeMap<AllocationCategory, Address> {
        AllocationCategory::ALL.iter().enumerate().map(|(i, c)| (*c, acct(i as u8 + 1))).collect()
    }

    fn dev() -> Genesis {
        Genesis::dev(
            ChainId::dev(),
            1_555_304_401_000_000_000,
            &holders(),
            &[acct(100), acct(101)],
            Amount::from_aergo(1_000_000).unwrap(),
            vec!["16Uiu2HAmERrf7WqtVpr6zrtAYZW7w7C9txQ4vP6haEsKySG8c2cJ".into()],
        )
        .unwrap()
    }

    #[test]
    fn shares_are_the_whitepapers() {
        let total: u128 = AllocationCategory::ALL.iter().map(|c| c.share().aer()).sum();
        assert_eq!(total, Amount::TOTAL_SUPPLY.aer());
        assert_eq!(AllocationCategory::Sale.share(), Amount::from_aergo(150_000_000).unwrap());
        assert_eq!(AllocationCategory::Team.share(), Amount::from_aergo(25_000_000).unwrap());
    }

    #[test]
    fn dev_genesis_is_valid_and_prefunds() {
        let g = dev();
        let b = g.balances().unwrap();
        assert_eq!(b[&acct(100)], Amount::from_aergo(1_000_000).unwrap());
        assert_eq!(b[&acct(3)], Amount::from_aergo(125_000_000 - 2_000_000).unwrap());
        let sum = b.values().fold(Amount::ZERO, |a, v| a.checked_add(*v).unwrap());
        assert_eq!(sum, Amount::TOTAL_SUPPLY);
    }

    #[test]
    fn json_round_trip_and_hashes_are_deterministic() {
        let g = dev();
        let text = g.to_json().unwrap();
        let back = Genesis::from_json(&text).unwrap();
        assert_eq!(back, g);
        assert_eq!(back.content_hash().unwrap(), g.content_hash().unwrap());
        let root = Hash::sha256(b"state");
        let b1 = g.block(&root).unwrap();
        let b2 = back.block(&root).unwrap();
        assert_eq!(b1.hash, b2.hash);
        b1.validate_structure().unwrap();
        let h = b1.header().unwrap();
        assert_eq!(h.block_no, 0);
        assert_eq!(ChainId::from_bytes(&h.chain_id).unwrap(), ChainId::dev());
        assert_eq!(h.state_root().unwrap(), root);
        assert_ne!(g.block(&Hash::sha256(b"other")).unwrap().hash, b1.hash);
    }

    #[test]
    fn file_without_balance_and_with_unit_amounts_is_accepted() {
        let g = dev();
        let mut v: serde_json::Value = serde_json::from_str(&g.to_json().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("balance");
        v["allocation"]["team"][0]["amount"] = "25000000 aergo".into();
        let back = Genesis::from_json(&v.to_string()).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn rejects_wrong_sums_missing_categories_and_bad_balances() {
        let g = dev();
        let mut short = g.clone();
        short.allocation.get_mut(&AllocationCategory::Team).unwrap()[0].amount =
            Amount::from_aergo(24_999_999).unwrap();
        short.balance.clear();
        let e = short.validate().unwrap_err().to_string();
        assert!(e.contains("team"), "{e}");

        let mut missing = g.clone();
        missing.allocation.remove(&AllocationCategory::Advisors);
        missing.balance.clear();
        assert!(missing.validate().is_err());

        let mut bad_balance = g.clone();
        bad_balance.balance.insert(acct(100), Amount::from_aergo(2).unwrap());
        assert!(bad_balance.validate().is_err());

        let mut to_name = g.clone();
        to_name.allocation.get_mut(&AllocationCategory::Sale).unwrap()[0].address =
            Address::parse("aergo.system").unwrap();
        to_name.balance.clear();
        assert!(to_name.validate().is_err());

        let mut zero = g.clone();
        zero.allocation
            .get_mut(&AllocationCategory::Sale)
            .unwrap()
            .push(Grant { address: acct(50), amount: Amount::ZERO });
        zero.balance.clear();
        assert!(zero.validate().is_err());

        let mut dpos_on_solo = g.clone();
        dpos_on_solo.dpos = Some(DposGenesis::default());
        assert!(dpos_on_solo.validate().unwrap_err().to_string().contains("dpos section"));

        assert!(Genesis::from_json("{}").is_err());
        assert!(Genesis::from_json("not json").is_err());
        let too_much = Genesis::dev(ChainId::dev(), 0, &holders(), &[acct(100)], Amount::TOTAL_SUPPLY, vec![]);
        assert!(too_much.is_err());
    }

    fn dpos_genesis(bps: Vec<String>) -> Genesis {
        let chain = ChainId::new(0, false, false, "dpos.chain", CONSENSUS_DPOS).unwrap();
        Genesis::dev(chain, 0, &holders(), &[acct(100)], Amount::from_aergo(1_000_000).unwrap(), bps).unwrap()
    }

    #[test]
    fn dpos_section_defaults_and_bounds() {
        let bps = vec!["16Uiu2HAmERrf7WqtVpr6zrtAYZW7w7C9txQ4vP6haEsKySG8c2cJ".to_string()];
        let g = dpos_genesis(bps.clone());
        let s = g.dpos_settings().unwrap().unwrap();
        assert_eq!(s.block_interval_ms, 1000);
        assert_eq!(s.bp_count, 1);
        assert_eq!(s.min_stake, Amount::from_aergo(10_000).unwrap());
        assert_eq!(dev().dpos_settings().unwrap(), None);

        let mut custom = g.clone();
        custom.dpos = Some(DposGenesis { block_interval_ms: Some(250), bp_count: Some(5), ..Default::default() });
        custom.validate().unwrap();
        let text = custom.to_json().unwrap();
        assert!(text.contains("\"block_interval_ms\": 250"), "{text}");
        let back = Genesis::from_json(&text).unwrap();
        assert_eq!(back, custom);
        assert_eq!(back.dpos_settings().unwrap().unwrap().bp_count, 5);

        for bad_section in [
            DposGenesis { block_interval_ms: Some(249), ..Default::default() },
            DposGenesis { bp_count: Some(0), ..Default::default() },
            DposGenesis { bp_count: Some(101), ..Default::default() },
            DposGenesis { epoch_blocks: Some(0), ..Default::default() },
            DposGenesis { min_stake: Some(Amount::ZERO), ..Default::default() },
            DposGenesis { rating_window_slots: Some(0), ..Default::default() },
        ] {
            let mut b = g.clone();
            b.dpos = Some(bad_section.clone());
            assert!(b.validate().is_err(), "{bad_section:?} accepted");
        }

        // A dpos chain needs producers, each once.
        let mut none = g.clone();
        none.bps.clear();
        assert!(none.validate().is_err());
        let mut twice = g.clone();
        twice.bps.push(bps[0].clone());
        assert!(twice.validate().is_err());
        let mut too_many = g.clone();
        too_many.bps = (0..=DPOS_MAX_BP_COUNT).map(|i| format!("bp{i}")).collect();
        assert!(too_many.validate().unwrap_err().to_string().contains("1..=100"));

        // The JSON form of the section, with an amount in units.
        let mut v: serde_json::Value = serde_json::from_str(&g.to_json().unwrap()).unwrap();
        v["dpos"] = serde_json::json!({"min_stake": "5 aergo", "epoch_blocks": 7});
        let parsed = Genesis::from_json(&v.to_string()).unwrap();
        let s = parsed.dpos_settings().unwrap().unwrap();
        assert_eq!((s.min_stake, s.epoch_blocks), (Amount::from_aergo(5).unwrap(), 7));
        v["dpos"] = serde_json::json!({"unknown": 1});
        assert!(Genesis::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn genesis_without_dpos_keeps_its_json_and_hash() {
        // Files written before the dpos section existed carry no such key,
        // and their content hash must not change.
        let g = dev();
        let text = g.to_json().unwrap();
        assert!(!text.contains("dpos"));
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("dpos");
        assert_eq!(Genesis::from_json(&v.to_string()).unwrap().content_hash().unwrap(), g.content_hash().unwrap());
    }
}
