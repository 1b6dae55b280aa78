//! The server streams: new blocks, their metadata, and contract events as
//! blocks commit.
//!
//! Each stream holds one of `[grpc] max_streams` permits (past the cap a
//! new stream is refused with `RESOURCE_EXHAUSTED`) and a buffer of
//! [`STREAM_BUFFER`] items. A client slower than the chain misses blocks
//! rather than growing the node's memory (the block notifications it
//! lagged behind are skipped, as the Go node drops them too), and the
//! stream's task ends as soon as the client goes or the node stops.

use std::sync::Arc;

use aergo_exec::events::{list_events, EventFilter, ListLimits};
use aergo_grpc::pb::FilterInfo;
use aergo_grpc::{ReceiverStream, Status};
use aergo_types::{Block, Hash};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::state::{arg_filter, event_arg, with_block_hash};
use super::{address_arg, internal, status_of};
use crate::api::{contract_error, Api, MAX_EVENT_ROWS_SCANNED};

/// Items waiting for a slow client, per stream.
pub const STREAM_BUFFER: usize = 16;

pub type Items<T> = ReceiverStream<Result<T, Status>>;

fn permit(permits: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, Status> {
    permits.clone().try_acquire_owned().map_err(|_| {
        Status::resource_exhausted("too many streams are open on this node (grpc.max_streams); close one and retry")
    })
}

/// For each committed block, sends what `item` makes of it (and of the
/// node) until the client goes.
fn follow_blocks<T: Send + 'static>(
    api: Arc<Api>,
    permits: &Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    item: impl Fn(&Api, Block) -> Result<Vec<T>, Status> + Send + Sync + 'static,
) -> Result<Items<T>, Status> {
    let permit = permit(permits)?;
    let mut blocks = api.node.subscribe_blocks();
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let item = Arc::new(item);
    tokio::spawn(async move {
        let _permit = permit;
        loop {
            let note = tokio::select! {
                _ = tx.closed() => break,
                _ = stop.changed() => break,
                note = blocks.recv() => note,
            };
            let summary = match note {
                Ok(v) => v,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let Some(hash) = summary.get("hash").and_then(Value::as_str).and_then(|h| Hash::from_base58(h).ok()) else {
                continue;
            };
            let (api, item) = (api.clone(), item.clone());
            let made = tokio::task::spawn_blocking(move || {
                let block = api.node.chain().blocks().block_by_hash(&hash).map_err(internal)?;
                match block {
                    Some(b) => item(&api, b),
                    None => Ok(Vec::new()),
                }
            })
            .await
            .unwrap_or_else(|e| Err(Status::internal(format!("stream task failed: {e}"))));
            let items = match made {
                Ok(items) => items.into_iter().map(Ok).collect(),
                Err(status) => vec![Err(status)],
            };
            for it in items {
                let stop = it.is_err();
                if tx.send(it).await.is_err() || stop {
                    return;
                }
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// New blocks as `map` makes them (whole blocks, or their metadata).
pub fn blocks<T: Send + 'static>(
    api: Arc<Api>,
    permits: &Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    map: fn(Block) -> Result<T, Status>,
) -> Result<Items<T>, Status> {
    follow_blocks(api, permits, stop, move |_, b| Ok(vec![map(b)?]))
}

/// Events of each new block that match `filter` (contract, name and
/// argument filter; the block range fields do not apply to a stream).
pub fn events(
    api: Arc<Api>,
    permits: &Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    filter: FilterInfo,
) -> Result<Items<aergo_types::Event>, Status> {
    let contract = if filter.contract_address.is_empty() {
        None
    } else {
        Some(address_arg("contractAddress", &filter.contract_address)?)
    };
    let name = (!filter.event_name.is_empty()).then(|| filter.event_name.clone());
    let args = arg_filter(&filter.arg_filter)?;
    follow_blocks(api, permits, stop, move |api, block| {
        let height = block.header().map_err(internal)?.block_no;
        let f = EventFilter { contract: contract.clone(), name: name.clone(), from_height: height, to_height: height };
        let cfg = &api.node.config().query;
        let limits = ListLimits { max_results: cfg.max_events, max_scanned: MAX_EVENT_ROWS_SCANNED };
        let found =
            list_events(&api.node.chain().head_state(), &f, limits).map_err(|e| status_of(contract_error(e)))?;
        let mut out = Vec::new();
        for e in found.events {
            let keep = args.iter().all(|(i, v)| event_arg(&e, *i).as_ref() == Some(v));
            if keep {
                out.push(with_block_hash(api, e)?);
            }
        }
        Ok(out)
    })
}
