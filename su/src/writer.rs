//! Group commit: the one thread that writes to the database. Requests arrive over a bounded
//! channel; the writer drains everything available (up to [`WRITE_BATCH_MAX`]) into a single
//! transaction, commits it durably (one fsync shared by the whole batch), then answers each
//! request. Nothing is acknowledged before its commit returns.
//!
//! Must never: reorder requests (the sequencer sends a process's entries in nonce order, under
//! its lock, and relies on that order), or write an entry built on a failed one. Invariant:
//! once a commit fails, every queued entry of an affected process that was built on the lost
//! state (same or older generation) is refused, and the process's slot is flagged so its next
//! user reloads the state from disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ao_core::Id;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{Store, StoreError, WriteOp};

/// Most requests in one transaction; larger groups add latency and gain little.
pub const WRITE_BATCH_MAX: usize = 4096;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("too many pending writes (max {max}); retry later")]
    Busy { max: usize },
    #[error("storage failure, nothing was stored: {0}")]
    Storage(Arc<StoreError>),
    #[error("an earlier write of this process failed, nothing was stored; retry")]
    Invalidated,
    #[error("the SU is shutting down")]
    Closed,
}

/// Ties an ordered entry to the in-memory state it was built on.
#[derive(Debug, Clone)]
pub struct Guard {
    pub process: Id,
    pub generation: u64,
    /// The slot's lost generation, raised when this entry's commit fails.
    pub lost: Arc<AtomicU64>,
}

#[derive(Debug)]
pub struct WriteRequest {
    pub op: WriteOp,
    pub guard: Option<Guard>,
    pub reply: oneshot::Sender<Result<(), WriteError>>,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<WriteRequest>,
    depth: usize,
}

/// Commits to fail on purpose: always zero outside tests.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(pub Arc<std::sync::atomic::AtomicUsize>);

impl Faults {
    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

pub type Permit<'a> = mpsc::Permit<'a, WriteRequest>;

impl Writer {
    /// Starts the writer thread. It stops once every [`Writer`] clone is dropped and the queue
    /// is drained; join the handle to wait for the last commit.
    pub fn start(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        outbox_ready: Arc<Notify>,
        depth: usize,
    ) -> Result<(Writer, std::thread::JoinHandle<()>), StoreError> {
        Writer::start_with_faults(store, metrics, outbox_ready, depth, Faults::default())
    }

    /// As [`Writer::start`], failing the next `faults` commits (tests of the failure path).
    pub(crate) fn start_with_faults(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        outbox_ready: Arc<Notify>,
        depth: usize,
        faults: Faults,
    ) -> Result<(Writer, std::thread::JoinHandle<()>), StoreError> {
        let next_seq = store.outbox_last_seq()?.map_or(0, |s| s + 1);
        let (tx, rx) = mpsc::channel(depth);
        let handle = std::thread::Builder::new()
            .name("su-writer".into())
            .spawn(move || write_loop(store, metrics, outbox_ready, rx, next_seq, faults))?;
        Ok((Writer { tx, depth }, handle))
    }

    /// A slot in the queue, or [`WriteError::Busy`] at once when it is full.
    pub fn try_reserve(&self) -> Result<Permit<'_>, WriteError> {
        self.tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => WriteError::Busy { max: self.depth },
            mpsc::error::TrySendError::Closed(()) => WriteError::Closed,
        })
    }

    /// Queues `op` (waiting for room) and waits until it is durable.
    pub async fn submit(&self, op: WriteOp) -> Result<(), WriteError> {
        let (reply, done) = oneshot::channel();
        let request = WriteRequest {
            op,
            guard: None,
            reply,
        };
        self.tx
            .send(request)
            .await
            .map_err(|_| WriteError::Closed)?;
        done.await.map_err(|_| WriteError::Closed)?
    }
}

fn write_loop(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    outbox_ready: Arc<Notify>,
    mut rx: mpsc::Receiver<WriteRequest>,
    mut next_seq: u64,
    faults: Faults,
) {
    // The newest generation of each process whose state was lost in a failed commit.
    let mut failed: HashMap<Id, u64> = HashMap::new();
    let mut batch: Vec<WriteRequest> = Vec::with_capacity(WRITE_BATCH_MAX);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < WRITE_BATCH_MAX {
            match rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        if !failed.is_empty() {
            batch.retain_mut(|r| {
                let stale = r.guard.as_ref().is_some_and(|g| {
                    failed
                        .get(&g.process)
                        .is_some_and(|lost| g.generation <= *lost)
                });
                if stale {
                    let (reply, _) = oneshot::channel();
                    let _ =
                        std::mem::replace(&mut r.reply, reply).send(Err(WriteError::Invalidated));
                }
                !stale
            });
        }
        if batch.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let result = if faults.take() {
            Err(StoreError::Io(std::io::Error::other(
                "injected commit failure",
            )))
        } else {
            store.apply(batch.iter().map(|r| &r.op), &mut next_seq)
        };
        match result {
            Ok(applied) => {
                metrics.record_batch(batch.len() as u64, started.elapsed());
                metrics
                    .items_ordered
                    .fetch_add(applied.ordered, Ordering::Relaxed);
                metrics
                    .outbox_depth
                    .fetch_add(applied.outbox_added, Ordering::Relaxed);
                metrics
                    .outbox_depth
                    .fetch_sub(applied.outbox_removed, Ordering::Relaxed);
                if applied.outbox_added > 0 {
                    outbox_ready.notify_one();
                }
                for request in batch.drain(..) {
                    let _ = request.reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = batch.len(), "commit failed");
                metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                let e = Arc::new(e);
                for request in batch.drain(..) {
                    if let Some(g) = &request.guard {
                        let lost = failed.entry(g.process).or_insert(g.generation);
                        *lost = (*lost).max(g.generation);
                        g.lost.fetch_max(g.generation, Ordering::Release);
                    }
                    let _ = request.reply.send(Err(WriteError::Storage(e.clone())));
                }
            }
        }
    }
    tracing::debug!("writer stopped");
}
