//! The push loop ("crank"): a fixed set of worker tasks takes due [`Task`]s from the queue and
//! runs each as one exchange with an SU, the CU or the gateway. A task that succeeded is
//! removed in the same commit that queues what it led to; one that failed is retried with
//! exponential backoff and, after `attempts_max` failures in a row (or at once, when the peer
//! refused it for good), set aside on disk for the operator.
//!
//! Delivery is at least once: a crash between an effect and its commit repeats the effect, and
//! the SU absorbs the repeat (the same id, or the same pushed message signed again, is a 409).
//! Must never: run a task that is not on disk, or push deeper than `push_depth_max`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ao_core::ao::{ItemType, item_type};
use ao_core::wire::CuResult;
use ao_core::{DataItem, Signer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::push::{Sender, pushes};
use crate::router::{ProcessInfo, RouteError, Router};
use crate::store::{Change, Store, StoreError};
use crate::task::{Task, Work};
use crate::upstream::{Upstream, UpstreamError};

/// How the push loop behaves (from the configuration).
#[derive(Debug, Clone)]
pub struct PushLimits {
    pub depth_max: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub attempts_max: u32,
}

/// Why a task did not finish.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Might work later.
    Retry(String),
    /// Will never work: set aside at once.
    Refused(String),
}

impl From<UpstreamError> for Failure {
    fn from(e: UpstreamError) -> Failure {
        match e {
            UpstreamError::Refused { .. } => Failure::Refused(e.to_string()),
            UpstreamError::Unavailable { .. } => Failure::Retry(e.to_string()),
        }
    }
}

impl From<RouteError> for Failure {
    fn from(e: RouteError) -> Failure {
        Failure::Retry(e.to_string())
    }
}

struct Pending {
    task: Arc<Task>,
    attempts: u32,
}

#[derive(Default)]
struct Queue {
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    tasks: HashMap<u64, Pending>,
}

pub struct Pusher {
    store: Store,
    router: Arc<Router>,
    upstream: Upstream,
    signer: Arc<Signer>,
    metrics: Arc<Metrics>,
    limits: PushLimits,
    queue: Mutex<Queue>,
    ready: Notify,
}

impl Pusher {
    pub fn new(
        store: Store,
        router: Arc<Router>,
        upstream: Upstream,
        signer: Arc<Signer>,
        metrics: Arc<Metrics>,
        limits: PushLimits,
    ) -> Pusher {
        Pusher {
            store,
            router,
            upstream,
            signer,
            metrics,
            limits,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Schedules tasks already on disk (at start, and after a commit that added them).
    pub fn schedule(&self, tasks: impl IntoIterator<Item = (u64, Task)>) {
        let now = Instant::now();
        let mut queue = self.queue.lock().expect("unpoisoned");
        for (id, task) in tasks {
            queue.tasks.insert(
                id,
                Pending {
                    task: Arc::new(task),
                    attempts: 0,
                },
            );
            queue.due.push(Reverse((now, id)));
        }
        self.metrics
            .queue_depth
            .store(queue.tasks.len() as u64, Relaxed);
        drop(queue);
        self.ready.notify_waiters();
    }

    /// Writes `change` durably, then schedules the tasks it added.
    pub async fn commit(&self, change: Change) -> Result<(), StoreError> {
        let added = change.add.clone();
        let ids = self.store.commit(change).await?;
        self.schedule(ids.into_iter().zip(added));
        Ok(())
    }

    /// One worker: runs due tasks until `shutdown`.
    pub async fn work(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let (id, task) = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = self.next_due() => next,
            };
            let outcome = tokio::select! {
                // An unfinished task stays on disk and runs again after a restart.
                _ = shutdown.cancelled() => return,
                outcome = self.run(&task) => outcome,
            };
            self.finish(id, &task, outcome).await;
        }
    }

    async fn next_due(&self) -> (u64, Arc<Task>) {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut queue = self.queue.lock().expect("unpoisoned");
                match queue.due.peek().copied() {
                    Some(Reverse((due, id))) if due <= Instant::now() => {
                        queue.due.pop();
                        if let Some(pending) = queue.tasks.get(&id) {
                            return (id, pending.task.clone());
                        }
                        continue;
                    }
                    Some(Reverse((due, _))) => Some(due - Instant::now()),
                    None => None,
                }
            };
            match wait {
                Some(wait) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    async fn finish(&self, id: u64, task: &Task, outcome: Result<Vec<Task>, Failure>) {
        let change = match outcome {
            Ok(next) => Change {
                done: Some(id),
                add: next,
                ..Change::default()
            },
            Err(failure) => {
                let (why, give_up) = {
                    let mut queue = self.queue.lock().expect("unpoisoned");
                    let attempts = queue.tasks.get_mut(&id).map_or(0, |p| {
                        p.attempts += 1;
                        p.attempts
                    });
                    match failure {
                        Failure::Refused(why) => (why, true),
                        Failure::Retry(why) => (why, attempts >= self.limits.attempts_max),
                    }
                };
                if !give_up {
                    self.metrics.retries.fetch_add(1, Relaxed);
                    tracing::debug!(task = %task.describe(), error = %why, "push step failed; will retry");
                    self.retry_later(id);
                    return;
                }
                tracing::warn!(task = %task.describe(), error = %why, "push step set aside");
                self.metrics.set_aside.fetch_add(1, Relaxed);
                Change {
                    done: Some(id),
                    set_aside: Some(why),
                    ..Change::default()
                }
            }
        };
        let added = change.add.clone();
        match self.store.commit(change).await {
            Ok(ids) => {
                {
                    let mut queue = self.queue.lock().expect("unpoisoned");
                    queue.tasks.remove(&id);
                }
                self.schedule(ids.into_iter().zip(added));
            }
            Err(e) => {
                // The task is still on disk: run it again (its effects repeat harmlessly).
                tracing::error!(task = %task.describe(), error = %e, "cannot record a push step");
                self.retry_later(id);
            }
        }
    }

    fn retry_later(&self, id: u64) {
        let mut queue = self.queue.lock().expect("unpoisoned");
        let attempts = queue.tasks.get(&id).map_or(1, |p| p.attempts.max(1));
        let factor = 1u32 << (attempts - 1).min(16);
        let delay = self
            .limits
            .retry_initial
            .saturating_mul(factor)
            .min(self.limits.retry_max);
        queue.due.push(Reverse((Instant::now() + delay, id)));
        drop(queue);
        self.ready.notify_waiters();
    }

    async fn run(&self, task: &Task) -> Result<Vec<Task>, Failure> {
        match &task.work {
            Work::Deliver { item } => self.deliver(task, item).await,
            Work::Crank { process, message } => self.crank(task, process, message).await,
            Work::Assign {
                process,
                message,
                base_layer,
                exclude,
            } => {
                let Some((su, _)) = self.router.route(process).await? else {
                    return Err(Failure::Retry(format!(
                        "assign target {process} is not a known process yet"
                    )));
                };
                let assigned = self
                    .upstream
                    .su_assign(&su, process, message, *base_layer, exclude)
                    .await;
                match assigned {
                    Ok(_) => {}
                    Err(e) if e.is_duplicate() => {}
                    // The SU fetches the message from the gateway, which may not hold it yet.
                    Err(e) if e.status() == Some(404) => return Err(Failure::Retry(e.to_string())),
                    Err(e) => return Err(e.into()),
                }
                Ok(vec![crank_task(task, process, message)])
            }
        }
    }

    async fn deliver(&self, task: &Task, bytes: &[u8]) -> Result<Vec<Task>, Failure> {
        let item = DataItem::decode(bytes)
            .map_err(|e| Failure::Refused(format!("queued item is invalid: {e}")))?;
        let id = item.id().to_string();
        let kind = item_type(&item).map_err(|e| Failure::Refused(e.to_string()))?;
        let mut next = task.then.clone();
        match kind {
            ItemType::Process => {
                let info = ProcessInfo::from_tags(&item.tags).ok_or_else(|| {
                    Failure::Refused("a spawned Process needs Module and Scheduler".into())
                })?;
                let su = self.router.su_url(&info.scheduler).await?;
                self.router.remember(&id, info);
                match self.upstream.su_post(&su, bytes.to_vec()).await {
                    Ok(_) => {}
                    Err(e) if e.is_duplicate() => {}
                    Err(e) => return Err(e.into()),
                }
                self.metrics.spawns_pushed.fetch_add(1, Relaxed);
                next.push(crank_task(task, &id, &id));
            }
            ItemType::Message => {
                let target = item
                    .target_id()
                    .ok_or_else(|| Failure::Refused("a pushed Message needs a target".into()))?
                    .to_string();
                match self.router.route(&target).await? {
                    Some((su, _)) => {
                        let cranked = match self.upstream.su_post(&su, bytes.to_vec()).await {
                            Ok(_) => id,
                            Err(e) if e.is_duplicate() => scheduled_as(&e).unwrap_or(id),
                            Err(e) => return Err(e.into()),
                        };
                        self.metrics.messages_pushed.fetch_add(1, Relaxed);
                        next.push(crank_task(task, &target, &cranked));
                    }
                    None => {
                        // Not a process: a message to a wallet is kept on permanent storage.
                        self.upstream.upload(bytes.to_vec()).await?;
                        self.metrics.wallet_uploads.fetch_add(1, Relaxed);
                    }
                }
            }
            other => {
                return Err(Failure::Refused(format!(
                    "cannot push an item of Type {}",
                    other.as_str()
                )));
            }
        }
        Ok(next)
    }

    async fn crank(&self, task: &Task, process: &str, message: &str) -> Result<Vec<Task>, Failure> {
        let Some(info) = self.router.process(process).await? else {
            return Err(Failure::Retry(format!(
                "process {process} is not known yet"
            )));
        };
        let result = self.upstream.cu_result(process, message).await?;
        self.metrics.cranks.fetch_add(1, Relaxed);
        self.outbox(
            process,
            &info,
            &result,
            task.depth + 1,
            &task.pushed_for,
            message,
        )
        .await
    }

    /// The tasks that push `result`'s outbox at `depth`; none past the depth bound.
    pub(crate) async fn outbox(
        &self,
        process: &str,
        info: &ProcessInfo,
        result: &CuResult,
        depth: u32,
        pushed_for: &str,
        source: &str,
    ) -> Result<Vec<Task>, Failure> {
        let entries = result.messages.len() + result.spawns.len() + result.assignments.len();
        // A result with Error was rolled back: its outbox never happened.
        if entries == 0 || result.error.is_some() {
            return Ok(Vec::new());
        }
        if depth > self.limits.depth_max {
            self.metrics.depth_bound_hits.fetch_add(1, Relaxed);
            tracing::warn!(
                process,
                message = source,
                pushed_for,
                depth,
                bound = self.limits.depth_max,
                dropped = entries,
                "push depth bound reached: the outbox of this result is not pushed (a message loop?)"
            );
            return Ok(Vec::new());
        }
        let signer = self.signer.clone();
        let (process, info, result, pushed_for) = (
            process.to_owned(),
            info.clone(),
            result.clone(),
            pushed_for.to_owned(),
        );
        // RSA signing takes milliseconds: keep it off the runtime's threads.
        let out = tokio::task::spawn_blocking(move || {
            let sender = Sender {
                process: &process,
                module: &info.module,
                scheduler: &info.scheduler,
            };
            pushes(&result, &sender, depth, &pushed_for, &signer)
        })
        .await
        .map_err(|_| Failure::Retry("signing task failed".into()))?;
        for why in &out.skipped {
            tracing::warn!(message = source, error = %why, "outbox entry not pushed");
        }
        Ok(out.tasks)
    }
}

/// The pushed message the SU already holds under another id ("… scheduled as {id}").
fn scheduled_as(e: &UpstreamError) -> Option<String> {
    match e {
        UpstreamError::Refused { error, .. } => error
            .rsplit_once("scheduled as ")
            .map(|(_, id)| id.trim().to_owned())
            .filter(|id| id.len() == 43),
        UpstreamError::Unavailable { .. } => None,
    }
}

fn crank_task(task: &Task, process: &str, message: &str) -> Task {
    Task::new(
        Work::Crank {
            process: process.to_owned(),
            message: message.to_owned(),
        },
        task.depth,
        task.pushed_for.clone(),
    )
}
