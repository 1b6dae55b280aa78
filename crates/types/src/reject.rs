//! Why a transaction was refused, as a stable machine-readable code.
//!
//! Every crate that can refuse a transaction (`types` for its form,
//! `crypto` for its signature, `exec` against state, `pool` at admission)
//! keeps its own structured error enum; each maps its variants onto this
//! one vocabulary with a `reason()` method, so the reason survives every
//! seam (pool -> replica -> node -> API) as a value, not as text. The API
//! puts [`RejectReason::as_str`] next to the message (JSON-RPC
//! `error.data.reason`), and the Go node's gRPC `CommitStatus` is
//! [`RejectReason::commit_status`].
//!
//! The strings are part of the API: never rename one, add new ones.

use std::fmt;

/// A stable reason code for a refused transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The bytes are not a well-formed transaction of this chain's format
    /// (bad encoding, missing fields, sizes, unknown type, bad address).
    InvalidFormat,
    /// Signed for another chain (chain id hash mismatch).
    WrongChain,
    /// The hash carried does not match the body.
    BadHash,
    /// The signature is malformed, high-s or does not verify.
    BadSignature,
    /// The nonce was already used.
    NonceTooLow,
    /// The nonce is further ahead of the account than allowed (or, in a
    /// block, not the next one).
    NonceTooHigh,
    /// The same transaction is already pending.
    AlreadyKnown,
    /// Another transaction with this nonce is pending at a gas price this
    /// one does not beat.
    ReplacementUnderpriced,
    /// Amount plus maximum fee exceeds the balance.
    InsufficientBalance,
    /// The gas limit is below what the transaction needs.
    GasLimitTooLow,
    /// The gas limit is above the chain's maximum per transaction.
    GasLimitTooHigh,
    /// The gas price is below the chain's.
    GasPriceTooLow,
    /// A payload, transaction or result exceeds a bound.
    TooLarge,
    /// The sender already has as many pending transactions as allowed.
    AccountFull,
    /// The pool is full; retry later.
    PoolFull,
    /// The block being built has no room left.
    BlockFull,
    /// The payload does not parse (deploy framing, call JSON, system call).
    BadPayload,
    /// A governance (staking, voting) rule refused it.
    GovernanceRejected,
    /// No contract at the recipient address.
    NoContract,
    /// The contract has no such public function.
    UnknownFunction,
    /// The call's arguments do not fit the function.
    BadArguments,
    /// The contract's SQL failed (RAISE, constraint, out of gas, ...).
    ContractFailed,
    /// A transaction type or feature this chain does not run.
    Unsupported,
    /// The amount would overflow a balance.
    Overflow,
    /// A name (as recipient, or to update) that is not registered.
    UnknownName,
    /// The name service refused it: a name taken or malformed, an update
    /// by someone other than the owner, less than the name price paid.
    NameRejected,
    /// The transaction names a branch this chain does not have (or no
    /// longer has), or a branch or tag call names one.
    UnknownBranch,
    /// The branch registry refused it: a name taken or malformed, a
    /// sender who may not write to or merge the branch, nothing to merge.
    BranchRejected,
    /// The AergoFS registry refused it: a file registered by someone else,
    /// a fee below the storage price, a release by a non-owner.
    FileRejected,
    /// Evidence of misbehaviour that proves nothing (a signature that does
    /// not verify, two blocks of two slots, a kept promise), names no
    /// producer of the chain, or names an offence punished already.
    EvidenceRejected,
}

impl RejectReason {
    /// Every reason, in declaration order.
    pub const ALL: [RejectReason; 30] = [
        RejectReason::InvalidFormat,
        RejectReason::WrongChain,
        RejectReason::BadHash,
        RejectReason::BadSignature,
        RejectReason::NonceTooLow,
        RejectReason::NonceTooHigh,
        RejectReason::AlreadyKnown,
        RejectReason::ReplacementUnderpriced,
        RejectReason::InsufficientBalance,
        RejectReason::GasLimitTooLow,
        RejectReason::GasLimitTooHigh,
        RejectReason::GasPriceTooLow,
        RejectReason::TooLarge,
        RejectReason::AccountFull,
        RejectReason::PoolFull,
        RejectReason::BlockFull,
        RejectReason::BadPayload,
        RejectReason::GovernanceRejected,
        RejectReason::NoContract,
        RejectReason::UnknownFunction,
        RejectReason::BadArguments,
        RejectReason::ContractFailed,
        RejectReason::Unsupported,
        RejectReason::Overflow,
        RejectReason::UnknownName,
        RejectReason::NameRejected,
        RejectReason::UnknownBranch,
        RejectReason::BranchRejected,
        RejectReason::FileRejected,
        RejectReason::EvidenceRejected,
    ];

    /// The stable code, e.g. `"NONCE_TOO_LOW"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidFormat => "INVALID_FORMAT",
            RejectReason::WrongChain => "WRONG_CHAIN",
            RejectReason::BadHash => "BAD_HASH",
            RejectReason::BadSignature => "BAD_SIGNATURE",
            RejectReason::NonceTooLow => "NONCE_TOO_LOW",
            RejectReason::NonceTooHigh => "NONCE_TOO_HIGH",
            RejectReason::AlreadyKnown => "ALREADY_KNOWN",
            RejectReason::ReplacementUnderpriced => "REPLACEMENT_UNDERPRICED",
            RejectReason::InsufficientBalance => "INSUFFICIENT_BALANCE",
            RejectReason::GasLimitTooLow => "GAS_LIMIT_TOO_LOW",
            RejectReason::GasLimitTooHigh => "GAS_LIMIT_TOO_HIGH",
            RejectReason::GasPriceTooLow => "GAS_PRICE_TOO_LOW",
            RejectReason::TooLarge => "TOO_LARGE",
            RejectReason::AccountFull => "ACCOUNT_FULL",
            RejectReason::PoolFull => "POOL_FULL",
            RejectReason::BlockFull => "BLOCK_FULL",
            RejectReason::BadPayload => "BAD_PAYLOAD",
            RejectReason::GovernanceRejected => "GOVERNANCE_REJECTED",
            RejectReason::NoContract => "NO_CONTRACT",
            RejectReason::UnknownFunction => "UNKNOWN_FUNCTION",
            RejectReason::BadArguments => "BAD_ARGUMENTS",
            RejectReason::ContractFailed => "CONTRACT_FAILED",
            RejectReason::Unsupported => "UNSUPPORTED",
            RejectReason::Overflow => "OVERFLOW",
            RejectReason::UnknownName => "UNKNOWN_NAME",
            RejectReason::NameRejected => "NAME_REJECTED",
            RejectReason::UnknownBranch => "UNKNOWN_BRANCH",
            RejectReason::BranchRejected => "BRANCH_REJECTED",
            RejectReason::FileRejected => "FILE_REJECTED",
            RejectReason::EvidenceRejected => "EVIDENCE_REJECTED",
        }
    }

    /// Parses [`RejectReason::as_str`] (for clients reading the API).
    pub fn parse(code: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The Go node's `types.CommitStatus` value for this reason (its gRPC
    /// `CommitResult.error`): 1 nonce too low, 2 already exists, 3 invalid
    /// hash, 4 invalid signature, 5 invalid format, 6 insufficient
    /// balance, 7 same nonce, 9 internal error. Reasons the Go node has no
    /// status for map to 5 (invalid format) when they concern the
    /// transaction's form and 9 otherwise; the message says more.
    pub fn commit_status(self) -> i32 {
        match self {
            RejectReason::NonceTooLow => 1,
            RejectReason::AlreadyKnown => 2,
            RejectReason::BadHash => 3,
            RejectReason::BadSignature => 4,
            RejectReason::InvalidFormat
            | RejectReason::WrongChain
            | RejectReason::TooLarge
            | RejectReason::BadPayload
            | RejectReason::Unsupported
            | RejectReason::GasLimitTooLow
            | RejectReason::GasLimitTooHigh
            | RejectReason::GasPriceTooLow => 5,
            RejectReason::InsufficientBalance | RejectReason::Overflow => 6,
            RejectReason::ReplacementUnderpriced => 7,
            RejectReason::NonceTooHigh
            | RejectReason::AccountFull
            | RejectReason::PoolFull
            | RejectReason::BlockFull
            | RejectReason::GovernanceRejected
            | RejectReason::NoContract
            | RejectReason::UnknownFunction
            | RejectReason::BadArguments
            | RejectReason::ContractFailed
            | RejectReason::UnknownName
            | RejectReason::NameRejected
            | RejectReason::UnknownBranch
            | RejectReason::BranchRejected
            | RejectReason::FileRejected
            | RejectReason::EvidenceRejected => 9,
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RejectReason::ALL {
            assert!(seen.insert(r.as_str()), "duplicate code {r}");
            assert_eq!(RejectReason::parse(r.as_str()), Some(r));
            assert!(r.as_str().bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
            assert!((1..=9).contains(&r.commit_status()) && r.commit_status() != 8);
        }
        assert_eq!(RejectReason::parse("nonce_too_low"), None);
    }
}
