//! Monitored processes: the MU polls the CU's `/cron/{pid}` for each and pushes the outboxes of
//! new cron results, as it pushes those of messages (PROTOCOL.md §5). The tasks of a page of
//! results and the cursor past it are committed together, so a restart neither skips nor
//! repeats a cron result. Must never push a cron result that existed before the first
//! subscription (the first poll only finds where "now" is).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::pusher::Pusher;
use crate::router::Router;
use crate::store::{Change, StoreError};
use crate::task::Monitor;
use crate::upstream::{Upstream, UpstreamError};

/// Cron results asked for per request.
const PAGE_LIMIT: usize = 100;
/// Pages read for one process in one round (the rest waits for the next round).
const PAGES_PER_ROUND_MAX: usize = 10;

pub struct Monitors {
    /// Held across each change so a poll cannot write back a monitor that was just removed.
    state: Mutex<HashMap<String, Monitor>>,
    metrics: Arc<Metrics>,
}

impl Monitors {
    pub fn new(loaded: Vec<(String, Monitor)>, metrics: Arc<Metrics>) -> Monitors {
        metrics.monitors.store(loaded.len() as u64, Relaxed);
        Monitors {
            state: Mutex::new(loaded.into_iter().collect()),
            metrics,
        }
    }

    pub async fn subscribe(
        &self,
        pusher: &Pusher,
        process: &str,
        address: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        let mut monitor = state.get(process).cloned().unwrap_or_default();
        if monitor.subscribers.iter().any(|a| a == address) {
            return Ok(());
        }
        monitor.subscribers.push(address.to_owned());
        pusher
            .commit(Change {
                monitor: Some((process.to_owned(), Some(monitor.clone()))),
                ..Change::default()
            })
            .await?;
        state.insert(process.to_owned(), monitor);
        self.metrics.monitors.store(state.len() as u64, Relaxed);
        tracing::info!(process, address, "monitor started");
        Ok(())
    }

    /// Removes `address`'s subscription; false when it had none.
    pub async fn unsubscribe(
        &self,
        pusher: &Pusher,
        process: &str,
        address: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        let Some(mut monitor) = state.get(process).cloned() else {
            return Ok(false);
        };
        let before = monitor.subscribers.len();
        monitor.subscribers.retain(|a| a != address);
        if monitor.subscribers.len() == before {
            return Ok(false);
        }
        let kept = (!monitor.subscribers.is_empty()).then_some(monitor);
        pusher
            .commit(Change {
                monitor: Some((process.to_owned(), kept.clone())),
                ..Change::default()
            })
            .await?;
        match kept {
            Some(monitor) => state.insert(process.to_owned(), monitor),
            None => state.remove(process),
        };
        self.metrics.monitors.store(state.len() as u64, Relaxed);
        tracing::info!(process, address, "monitor stopped");
        Ok(true)
    }

    /// Polls every monitored process each `interval` until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        pusher: Arc<Pusher>,
        router: Arc<Router>,
        upstream: Upstream,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let processes: Vec<String> = self.state.lock().await.keys().cloned().collect();
            for process in processes {
                if shutdown.is_cancelled() {
                    return;
                }
                if let Err(e) = self.poll(&pusher, &router, &upstream, &process).await {
                    tracing::warn!(process, error = %e, "cannot poll cron results");
                }
            }
        }
    }

    async fn poll(
        &self,
        pusher: &Pusher,
        router: &Router,
        upstream: &Upstream,
        process: &str,
    ) -> Result<(), PollError> {
        for _ in 0..PAGES_PER_ROUND_MAX {
            let Some(monitor) = self.state.lock().await.get(process).cloned() else {
                return Ok(());
            };
            let mut next = monitor.clone();
            let mut tasks = Vec::new();
            let mut pushed = 0;
            let more = if monitor.started {
                let page = upstream
                    .cu_cron(process, monitor.cursor.as_deref(), PAGE_LIMIT, false)
                    .await?;
                if !page.edges.is_empty() {
                    let info = router
                        .process(process)
                        .await
                        .map_err(|e| PollError::Other(e.to_string()))?
                        .ok_or_else(|| PollError::Other("the process is not known".into()))?;
                    for edge in &page.edges {
                        let source = format!("cron result {} of {process}", edge.cursor);
                        let out = pusher
                            .outbox(process, &info, &edge.node, 1, process, &source)
                            .await
                            .map_err(|e| PollError::Other(format!("{e:?}")))?;
                        pushed += 1;
                        tasks.extend(out);
                    }
                }
                if let Some(last) = page.edges.last() {
                    next.cursor = Some(last.cursor.clone());
                }
                page.page_info.has_next_page
            } else {
                // The first poll: start after the newest result that exists now.
                let newest = upstream.cu_cron(process, None, 1, true).await?;
                next.cursor = newest.edges.first().map(|e| e.cursor.clone());
                next.started = true;
                false
            };
            if next != monitor || !tasks.is_empty() {
                let mut state = self.state.lock().await;
                // Unsubscribed (or changed) while this page was read: drop the page, the
                // next round starts from what is current.
                if state.get(process) != Some(&monitor) {
                    return Ok(());
                }
                pusher
                    .commit(Change {
                        add: tasks,
                        monitor: Some((process.to_owned(), Some(next.clone()))),
                        ..Change::default()
                    })
                    .await?;
                state.insert(process.to_owned(), next);
                self.metrics.cron_results_pushed.fetch_add(pushed, Relaxed);
            }
            if !more {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}
