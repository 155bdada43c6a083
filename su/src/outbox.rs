//! The durable outbox drain: every ordered item and assignment (and the Scheduler-Location
//! item) waits in the `outbox` table until permanent storage confirms it, then is deleted. The
//! port is [`PermanentStorage`]; [`HttpStorage`] POSTs each raw item to a bundler-style URL,
//! `crate::arweave::ArweaveStorage` posts bundle transactions to an Arweave node.
//! With no storage configured nothing drains and the queue simply keeps everything.
//!
//! Must never: delete an entry before the storage confirmed it, or give up: failures are
//! retried with exponential backoff for as long as the SU runs, and across restarts because
//! the queue is in the database. Delivery is at least once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::store::{Store, WriteOp};
use crate::writer::Writer;

/// Entries read and uploaded per round.
pub const UPLOAD_BATCH_MAX: usize = 64;
/// How often an idle drain looks at the queue even without a notification.
const IDLE_POLL: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("upload request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("storage answered {status}")]
    Status { status: u16 },
    #[error(transparent)]
    Arweave(#[from] crate::arweave::ArweaveError),
    #[error("the upload task ended without an answer")]
    Interrupted,
}

/// An upload that stopped part way: the first `confirmed` items were stored.
#[derive(Debug, thiserror::Error)]
#[error("{confirmed} items confirmed, then: {error}")]
pub struct UploadFailed {
    pub confirmed: usize,
    pub error: UploadError,
}

/// Permanent storage for raw data items (a bundler, a gateway, Arweave).
pub trait PermanentStorage: Send + Sync + 'static {
    /// Stores `items` in order; `Ok` only when every one is confirmed.
    fn upload(&self, items: &[Vec<u8>]) -> impl Future<Output = Result<(), UploadFailed>> + Send;
}

/// POSTs each raw item to `{url}{path}` as `application/octet-stream`, [`UPLOADS_IN_FLIGHT`]
/// at a time; any 2xx confirms.
pub struct HttpStorage {
    client: reqwest::Client,
    endpoint: String,
}

impl HttpStorage {
    pub fn new(url: &str, path: &str) -> HttpStorage {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        HttpStorage {
            client,
            endpoint: format!("{url}{path}"),
        }
    }
}

/// Items posted at once: the gateway commits concurrent uploads together (one fsync), where
/// one at a time each paid its own.
const UPLOADS_IN_FLIGHT: usize = 8;

impl PermanentStorage for HttpStorage {
    async fn upload(&self, items: &[Vec<u8>]) -> Result<(), UploadFailed> {
        let mut confirmed = 0;
        for chunk in items.chunks(UPLOADS_IN_FLIGHT) {
            let mut posts = tokio::task::JoinSet::new();
            for (i, item) in chunk.iter().enumerate() {
                let request = self
                    .client
                    .post(&self.endpoint)
                    .header("content-type", "application/octet-stream")
                    .body(item.clone());
                posts.spawn(async move {
                    let outcome = match request.send().await {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => Err(UploadError::Status {
                            status: response.status().as_u16(),
                        }),
                        Err(e) => Err(e.into()),
                    };
                    (i, outcome)
                });
            }
            let mut outcomes: Vec<Option<Result<(), UploadError>>> =
                (0..chunk.len()).map(|_| None).collect();
            // A post task that panicked (a bug) leaves its item unconfirmed.
            while let Some(joined) = posts.join_next().await {
                if let Ok((i, outcome)) = joined {
                    outcomes[i] = Some(outcome);
                }
            }
            // Confirmed is a prefix: items after a failure are uploaded again (the storage
            // treats a repeated item as already stored).
            for outcome in outcomes {
                match outcome {
                    Some(Ok(())) => confirmed += 1,
                    Some(Err(error)) => return Err(UploadFailed { confirmed, error }),
                    None => {
                        return Err(UploadFailed {
                            confirmed,
                            error: UploadError::Interrupted,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

pub struct Drain {
    pub store: Arc<Store>,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<Notify>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Drain {
    /// Uploads the queue in order until `shutdown`.
    pub async fn run<S: PermanentStorage>(self, storage: S, shutdown: CancellationToken) {
        let mut backoff = self.retry_initial;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let store = self.store.clone();
            let batch =
                tokio::task::spawn_blocking(move || store.outbox_batch(UPLOAD_BATCH_MAX)).await;
            let batch = match batch {
                Ok(Ok(batch)) => batch,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    if sleep_or_stop(&shutdown, backoff).await {
                        break;
                    }
                    continue;
                }
                Err(_) => break,
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.ready.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            // A dangling reference (never expected) has nothing to upload: acknowledge it.
            let mut seqs = Vec::with_capacity(batch.len());
            let mut items = Vec::with_capacity(batch.len());
            let mut dangling = Vec::new();
            for (seq, raw) in batch {
                match raw {
                    Some(raw) => {
                        seqs.push(seq);
                        items.push(raw);
                    }
                    None => dangling.push(seq),
                }
            }
            if !dangling.is_empty() {
                tracing::error!(entries = ?dangling, "outbox entries reference missing data");
                let _ = self.writer.submit(WriteOp::OutboxAck(dangling)).await;
            }
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => break,
                outcome = storage.upload(&items) => outcome,
            };
            let confirmed = match &outcome {
                Ok(()) => seqs.len(),
                Err(failed) => failed.confirmed.min(seqs.len()),
            };
            if confirmed > 0 {
                self.metrics
                    .uploads_confirmed
                    .fetch_add(confirmed as u64, Ordering::Relaxed);
                let ack = WriteOp::OutboxAck(seqs[..confirmed].to_vec());
                if let Err(e) = self.writer.submit(ack).await {
                    tracing::warn!(error = %e, "cannot acknowledge uploaded outbox entries");
                }
            }
            match outcome {
                Ok(()) => backoff = self.retry_initial,
                Err(failed) => {
                    self.metrics.upload_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %failed, retry_in = ?backoff, "upload failed");
                    if sleep_or_stop(&shutdown, backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(self.retry_max);
                }
            }
        }
        tracing::debug!("outbox drain stopped");
    }
}

/// Sleeps `delay`; true if shutdown came first.
async fn sleep_or_stop(shutdown: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}
