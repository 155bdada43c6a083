//! Group commit: the one thread that writes to the database. Uploads and mining requests
//! arrive over a bounded channel; the writer drains what is queued (up to [`WRITE_BATCH_MAX`]
//! requests or [`WRITE_BATCH_BYTES_MAX`] bytes) into one transaction, commits it durably (one
//! fsync for the whole group), then answers each request and publishes the new tip.
//!
//! Must never answer a request before its commit returns. Invariant: requests are applied in
//! arrival order, so a block mined after an upload was acknowledged holds that upload.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::Metrics;
use crate::now_ms;
use crate::store::{Applied, Block, NewItem, Store, StoreError, Tip, WriteOp};

/// Most requests in one transaction.
pub const WRITE_BATCH_MAX: usize = 1024;
/// Most upload bytes in one transaction (a larger single upload still goes alone).
pub const WRITE_BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("too many pending uploads (max {max}); retry later")]
    Busy { max: usize },
    #[error("storage failure, nothing was stored: {0}")]
    Storage(Arc<StoreError>),
    #[error("the gateway is shutting down")]
    Closed,
}

struct Request {
    op: WriteOp,
    reply: oneshot::Sender<Result<Applied, WriteError>>,
}

impl Request {
    fn bytes(&self) -> usize {
        match &self.op {
            WriteOp::Upload(items) => items.iter().map(|i| i.data.len() + i.header.len()).sum(),
            WriteOp::Mine(_) => 0,
        }
    }
}

/// A handle to the writer thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
    depth: usize,
    tip: watch::Receiver<Tip>,
}

impl Writer {
    /// Starts the writer thread on `store`, from its current tip.
    pub fn start(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        depth: usize,
    ) -> Result<(Writer, JoinHandle<()>), StoreError> {
        let tip = store.tip()?;
        metrics
            .block_height
            .store(tip.block.height, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(depth);
        let (tip_tx, tip_rx) = watch::channel(tip);
        let thread = std::thread::Builder::new()
            .name("gateway-writer".into())
            .spawn(move || write_loop(store, metrics, rx, tip_tx))?;
        Ok((
            Writer {
                tx,
                depth,
                tip: tip_rx,
            },
            thread,
        ))
    }

    /// The newest committed block and the next sequence.
    pub fn tip(&self) -> Tip {
        *self.tip.borrow()
    }

    /// Stores an upload (the uploaded item first, then its nested items) durably.
    pub async fn upload(&self, items: Vec<NewItem>) -> Result<Applied, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Request {
                op: WriteOp::Upload(items),
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => WriteError::Busy { max: self.depth },
                mpsc::error::TrySendError::Closed(_) => WriteError::Closed,
            })?;
        answer.await.map_err(|_| WriteError::Closed)?
    }

    /// Mines `count` blocks after everything queued before; returns the newest.
    pub async fn mine(&self, count: u32) -> Result<Block, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request {
                op: WriteOp::Mine(count),
                reply,
            })
            .await
            .map_err(|_| WriteError::Closed)?;
        match answer.await.map_err(|_| WriteError::Closed)?? {
            Applied::Mined(block) => Ok(block),
            Applied::Upload { .. } => unreachable!("a mine request is answered with a block"),
        }
    }
}

fn write_loop(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Request>,
    tip_tx: watch::Sender<Tip>,
) {
    let mut tip = *tip_tx.borrow();
    let mut carried: Option<Request> = None;
    loop {
        let Some(first) = carried.take().or_else(|| rx.blocking_recv()) else {
            break;
        };
        let mut bytes = first.bytes();
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH_MAX && bytes < WRITE_BATCH_BYTES_MAX {
            let Ok(next) = rx.try_recv() else { break };
            if bytes + next.bytes() > WRITE_BATCH_BYTES_MAX {
                carried = Some(next);
                break;
            }
            bytes += next.bytes();
            batch.push(next);
        }
        let (ops, replies): (Vec<WriteOp>, Vec<_>) =
            batch.into_iter().map(|r| (r.op, r.reply)).unzip();
        let started = Instant::now();
        match store.apply(&ops, tip, now_ms()) {
            Ok((applied, new_tip)) => {
                metrics.record_commit(ops.len() as u64, started.elapsed());
                metrics
                    .items_stored
                    .fetch_add(new_tip.next_seq - tip.next_seq, Ordering::Relaxed);
                metrics
                    .block_height
                    .store(new_tip.block.height, Ordering::Relaxed);
                tip = new_tip;
                tip_tx.send_replace(tip);
                for (reply, result) in replies.into_iter().zip(applied) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) => {
                metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, requests = ops.len(), "commit failed");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(WriteError::Storage(e.clone())));
                }
            }
        }
    }
    tracing::debug!("writer stopped");
}
