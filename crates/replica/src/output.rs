//! What a replica hands back to its shell: verdicts on messages and the
//! outputs to carry out, in order.

use aergo_chain::Head;
use aergo_consensus::dpos::Evidence;
use aergo_types::Block;
use std::fmt;

/// A peer as the replica names it: the text of its peer id (`16Uiu2...`,
/// the same text `aergo_crypto::PublicKey::peer_id` gives and libp2p
/// prints). The replica never parses it; the shell maps it back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Peer(pub String);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Peer {
    fn from(s: &str) -> Peer {
        Peer(s.to_string())
    }
}

/// The replica's judgement of one message from the network, which the
/// shell passes on to gossip validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new: relay it.
    Accept,
    /// Invalid: do not relay; the sender has been penalised (an
    /// [`Output::Penalise`] is in the same step).
    Reject,
    /// Not invalid, but not worth relaying: a duplicate, a stale message,
    /// something this node cannot judge yet (unknown parent), or something
    /// a local limit refused.
    Ignore,
}

/// Why a peer is penalised. The shell maps each to its network's scoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offence {
    /// Bytes that do not decode (transaction, block or vote).
    Malformed,
    /// A transaction whose signature, hash or chain id is wrong.
    InvalidTx,
    /// A block that fails a check: producer signature, slot owner,
    /// certificate, height, timestamp, any transaction, or the state,
    /// receipts or transactions root after re-execution.
    InvalidBlock,
    /// A vote whose signature does not verify.
    InvalidVote,
    /// A producer's own node sent two blocks for one slot.
    Equivocation,
}

/// One thing the shell must do. Outputs come in the order they must be
/// carried out; everything that had to be durable (the consensus safety
/// state, blocks) already is when the step returns.
#[derive(Clone, Debug)]
pub enum Output {
    /// Gossip an encoded transaction (accepted locally).
    PublishTx(Vec<u8>),
    /// Gossip an encoded block (produced here).
    PublishBlock(Vec<u8>),
    /// Gossip an encoded consensus vote (signed here, after its safety
    /// state was persisted).
    PublishVote(Vec<u8>),
    /// Penalise a peer.
    Penalise { peer: Peer, offence: Offence, reason: String },
    /// Fetch the peer's main-chain blocks `from_height..=to_height` (in
    /// bounded batches) and feed them back through
    /// [`crate::Replica::on_sync_blocks`]: a block from it had a parent
    /// this node does not know.
    RequestBlocks { peer: Peer, from_height: u64, to_height: u64 },
    /// The head moved: `adopted` joined the main chain (oldest first),
    /// `abandoned` blocks left it.
    NewHead { head: Head, adopted: Vec<Block>, abandoned: usize },
    /// The last irreversible block advanced.
    NewLib { lib: Head },
    /// Proof of a producer's misbehaviour (the message was still
    /// processed); `aergo evidence submit` makes a slashing of it.
    Evidence(Box<Evidence>),
    /// New pre-confirmations of transactions whose earlier promise named
    /// an open block that can no longer be sealed (the producer reopened
    /// on another head): the hand-off, for the node to publish.
    Reissued(Vec<aergo_types::Preconfirmation>),
    /// Something the operator should know that is not a failure of this
    /// step (a proposal that could not be built, a block a local bound
    /// refused).
    Warning(String),
}

/// The result of handling one message from the network.
#[derive(Clone, Debug)]
pub struct Step {
    pub verdict: Verdict,
    pub outputs: Vec<Output>,
}

impl Step {
    pub(crate) fn new(verdict: Verdict, outputs: Vec<Output>) -> Step {
        Step { verdict, outputs }
    }

    pub(crate) fn ignore() -> Step {
        Step { verdict: Verdict::Ignore, outputs: Vec::new() }
    }

    pub(crate) fn reject(peer: Option<&Peer>, offence: Offence, reason: String) -> Step {
        let outputs = match peer {
            Some(p) => vec![Output::Penalise { peer: p.clone(), offence, reason }],
            None => Vec::new(),
        };
        Step { verdict: Verdict::Reject, outputs }
    }
}
