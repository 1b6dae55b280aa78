//! Forwarding for pre-confirmations: a node that is not the next slot's
//! producer hands a transaction whose client waits for a promise to that
//! producer (the network's forward request) and relays its answer; the
//! producer takes a forwarded transaction as if a client sent it.
//!
//! The answer is JSON, opaque to the network: `{"preconfirmation": ...}`
//! (the promise's JSON), `{"queued": reason}` or `{"error": {"message",
//! "reason"}}`. A forwarded transaction is never forwarded again (no
//! loops: the producer answers for itself), and a relayed promise is
//! checked before it is passed on: its signature, its signer (the
//! producer asked), its transaction (the one sent).

use std::str::FromStr;
use std::time::Duration;

use aergo_replica::PreconfOutcome;
use aergo_types::{Preconfirmation, Tx};
use serde_json::{json, Value};

use crate::{Node, NodeError};

/// How long a follower waits for the producer's answer.
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_millis(2_000);

/// What the producer made of a forwarded transaction.
pub enum Forwarded {
    /// Its promise, checked.
    Promised(Box<Preconfirmation>),
    /// Not promised (the producer's reason); admitted all the same.
    Queued(String),
}

impl Node {
    /// The producer's side: `bytes` is an encoded transaction from a peer.
    pub(crate) fn take_forwarded(&self, bytes: &[u8]) -> Vec<u8> {
        let answer = match Tx::decode_bounded(bytes) {
            Err(e) => json!({ "error": { "message": e.to_string(), "reason": "INVALID_FORMAT" } }),
            // The forwarder gossiped it already: publishing it again here
            // would only be refused by gossip as a duplicate.
            Ok(tx) => match self.submitted(self.replica.submit_tx_preconfirmed(tx).map(|(hash, outcome, out)| {
                (hash, outcome, out.into_iter().filter(|o| !matches!(o, aergo_replica::Output::PublishTx(_))).collect())
            })) {
                Ok((_, PreconfOutcome::Preconfirmed(p))) => {
                    self.metrics.preconfirmation("for_peer");
                    json!({ "preconfirmation": p.to_json() })
                }
                Ok((_, PreconfOutcome::Queued { reason } | PreconfOutcome::Elsewhere { reason, .. })) => {
                    json!({ "queued": reason })
                }
                Err(NodeError::Rejected(r)) => {
                    json!({ "error": { "message": r.to_string(), "reason": r.reason().as_str() } })
                }
                Err(e) => json!({ "error": { "message": e.to_string() } }),
            },
        };
        answer.to_string().into_bytes()
    }

    /// The follower's side: hands `tx` to `producer` (a peer id) and waits
    /// for its answer. Blocking: call it from a blocking thread (the RPC
    /// handlers run on one). `Err` says why there is no answer.
    pub fn forward_for_preconf(&self, producer: &str, tx: &Tx) -> Result<Forwarded, String> {
        let net = Self::lock(&self.net).clone().ok_or("the network is off: nothing to forward to")?;
        let peer = libp2p_peer(producer)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| format!("no runtime to forward on: {e}"))?;
        let bytes = tx.encode();
        let answer = runtime
            .block_on(async { tokio::time::timeout(FORWARD_TIMEOUT, net.forward_tx(peer, bytes)).await })
            .map_err(|_| format!("the producer {producer} did not answer within {} ms", FORWARD_TIMEOUT.as_millis()))?
            .map_err(|e| format!("forwarding to the producer {producer}: {e}"))?;
        let v: Value =
            serde_json::from_slice(&answer).map_err(|e| format!("the producer's answer is not JSON: {e}"))?;
        if let Some(p) = v.get("preconfirmation") {
            let p = Preconfirmation::from_json_or_hex(&p.to_string())
                .map_err(|e| format!("the producer's promise: {e}"))?;
            let signer = aergo_crypto::verify_preconf(&p).map_err(|e| format!("the producer's promise: {e}"))?;
            if signer.peer_id() != producer {
                return Err(format!("the promise is signed by {}, not the producer {producer}", signer.peer_id()));
            }
            if p.tx_hash.as_slice() != tx.hash.as_slice() {
                return Err("the producer promised another transaction".into());
            }
            self.metrics.preconfirmation("relayed");
            // Subscribers here see the promises their clients got here.
            let _ = self.preconfs_tx.send(p.to_json());
            return Ok(Forwarded::Promised(Box::new(p)));
        }
        if let Some(reason) = v.get("queued").and_then(Value::as_str) {
            return Ok(Forwarded::Queued(format!("the producer {producer}: {reason}")));
        }
        let message = v.pointer("/error/message").and_then(Value::as_str).unwrap_or("an answer of unknown form");
        Ok(Forwarded::Queued(format!("the producer {producer} refused it: {message}")))
    }
}

fn libp2p_peer(peer_id: &str) -> Result<aergo_net::PeerId, String> {
    aergo_net::PeerId::from_str(peer_id).map_err(|e| format!("producer {peer_id:?} is not a peer id: {e}"))
}
