//! Forwarding for pre-confirmations: a node that is not the next slot's
//! producer hands the transactions whose clients wait for a promise to
//! that producer (the network's forward request) and relays its answers;
//! the producer takes forwarded transactions as if a client sent them.
//!
//! A forward request carries a batch (an encoded `TxList`, at most
//! `aergo_net::wire::MAX_FORWARD_BYTES`), so a `sendTxs` batch is promised
//! by the producer with one durable write, as if it were sent there. The
//! answer is a JSON array, one entry per transaction in order:
//! `{"preconfirmation": ...}` (the promise's JSON), `{"queued": reason}`
//! or `{"error": {"message", "reason"}}`. Forwarded transactions are never
//! forwarded again (no loops: the producer answers for itself), and a
//! relayed promise is checked before it is passed on: its signature, its
//! signer (the producer asked), its transaction (the one sent).

use std::str::FromStr;
use std::time::Duration;

use aergo_net::wire::MAX_FORWARD_BYTES;
use aergo_replica::PreconfOutcome;
use aergo_types::{Preconfirmation, Tx, TxList, TX_BATCH_MAX_TXS};
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
    /// The producer's side: `bytes` is an encoded batch of transactions
    /// from a peer; the answer is one JSON entry per transaction.
    pub(crate) fn take_forwarded(&self, bytes: &[u8]) -> Vec<u8> {
        let answers: Vec<Value> = match TxList::decode_batch(bytes) {
            Err(e) => vec![json!({ "error": { "message": e.to_string(), "reason": "INVALID_FORMAT" } })],
            // The forwarder gossiped them already: publishing them again
            // here would only be refused by gossip as duplicates.
            Ok(list) => self
                .replica
                .submit_txs_preconfirmed(list.txs)
                .into_iter()
                .map(|r| {
                    let r = r.map(|(hash, outcome, out)| {
                        let out = out.into_iter().filter(|o| !matches!(o, aergo_replica::Output::PublishTx(_)));
                        (hash, outcome, out.collect())
                    });
                    match self.submitted(r) {
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
                    }
                })
                .collect(),
        };
        Value::Array(answers).to_string().into_bytes()
    }

    /// The follower's side: hands `tx` to `producer` (a peer id) and waits
    /// for its answer. Blocking: call it from a blocking thread (the RPC
    /// handlers run on one). `Err` says why there is no answer.
    pub fn forward_for_preconf(&self, producer: &str, tx: &Tx) -> Result<Forwarded, String> {
        self.forward_many_for_preconf(producer, std::slice::from_ref(tx)).remove(0)
    }

    /// [`Node::forward_for_preconf`] for many transactions: in batches of
    /// at most `MAX_FORWARD_BYTES`, each promised by the producer with one
    /// durable write. One answer per transaction, in order.
    pub fn forward_many_for_preconf(&self, producer: &str, txs: &[Tx]) -> Vec<Result<Forwarded, String>> {
        let mut out = Vec::with_capacity(txs.len());
        let mut batch: Vec<(&Tx, Vec<u8>)> = Vec::new();
        let mut batch_bytes = 0usize;
        for tx in txs {
            let bytes = tx.encode();
            // A length prefix costs at most 6 bytes on top of the tx.
            let size = bytes.len() + 6;
            if !batch.is_empty() && (batch_bytes + size > MAX_FORWARD_BYTES || batch.len() == TX_BATCH_MAX_TXS) {
                out.extend(self.forward_batch(producer, std::mem::take(&mut batch)));
                batch_bytes = 0;
            }
            batch.push((tx, bytes));
            batch_bytes += size;
        }
        if !batch.is_empty() {
            out.extend(self.forward_batch(producer, batch));
        }
        assert_eq!(out.len(), txs.len(), "one answer per forwarded transaction");
        out
    }

    /// One forward request: the batch (each tx with its encoding) out, one
    /// checked answer per transaction back.
    fn forward_batch(&self, producer: &str, batch: Vec<(&Tx, Vec<u8>)>) -> Vec<Result<Forwarded, String>> {
        let (txs, encoded): (Vec<&Tx>, Vec<Vec<u8>>) = batch.into_iter().unzip();
        let all = |why: String| txs.iter().map(|_| Err(why.clone())).collect();
        let answers = match self.forward_request(producer, aergo_types::encode_tx_batch(&encoded)) {
            Ok(a) => a,
            Err(why) => return all(why),
        };
        if answers.len() != txs.len() {
            return all(format!("the producer {producer} answered {} of {} transactions", answers.len(), txs.len()));
        }
        txs.iter().zip(answers).map(|(tx, v)| self.relayed(producer, tx, &v)).collect()
    }

    /// Sends an encoded batch to the producer; its JSON array back.
    fn forward_request(&self, producer: &str, bytes: Vec<u8>) -> Result<Vec<Value>, String> {
        let net = Self::lock(&self.net).clone().ok_or("the network is off: nothing to forward to")?;
        let peer = libp2p_peer(producer)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| format!("no runtime to forward on: {e}"))?;
        let answer = runtime
            .block_on(async { tokio::time::timeout(FORWARD_TIMEOUT, net.forward_tx(peer, bytes)).await })
            .map_err(|_| format!("the producer {producer} did not answer within {} ms", FORWARD_TIMEOUT.as_millis()))?
            .map_err(|e| format!("forwarding to the producer {producer}: {e}"))?;
        match serde_json::from_slice(&answer) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(_) => Err(format!("the producer {producer} answered with something other than a list")),
            Err(e) => Err(format!("the producer's answer is not JSON: {e}")),
        }
    }

    /// One entry of the producer's answer about `tx`, checked.
    fn relayed(&self, producer: &str, tx: &Tx, v: &Value) -> Result<Forwarded, String> {
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
