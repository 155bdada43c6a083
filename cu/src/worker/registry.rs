//! The registry of workers: process id → the mailbox of the one task that owns it. Owns:
//! spawning a worker on first use, the limits on resident processes (`processes_max`), on their
//! resident Lua memory (`memory_budget_bytes`) and on queued requests, eviction (the least
//! recently used idle process goes first), sending a request again after its worker left, and
//! shutdown (every mailbox closed, every worker awaited).
//!
//! A worker leaves (evicted, idle, or failed to load) in two steps: the registry drops its
//! mailbox sender, so no new request reaches it, and the worker serves what is queued, saves a
//! checkpoint and exits; only then does its entry go (its [`Lease`] drops). A request for a
//! leaving process awaits that exit and starts a new worker, which loads the checkpoint just
//! saved. Must never: run a second worker for a process whose worker has not exited, evict a
//! process with a call in progress (from lookup to answer), or block an async task (mailboxes
//! are bounded and sent to with `try_send`, a leaving worker is awaited on a channel, and the
//! lock is never held across I/O).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ao_core::Id;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::{oneshot, watch};

use super::pool::Pool;
use super::{Reply, Request, Shared, WorkerError, start};
use crate::metrics::Metrics;

/// A request is sent again this many times when its worker left before taking it (each wait
/// for a leaving worker counts).
const ATTEMPTS_MAX: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Worker(Arc<WorkerError>),
    #[error("too many processes in memory ({max}), all with work in progress; try again later")]
    TooManyProcesses { max: usize },
    #[error(
        "the memory budget ({budget_mb} MiB) is used by processes with work in progress; \
         try again later"
    )]
    MemoryBudget { budget_mb: usize },
    #[error("process {0} has too many queued requests; try again later")]
    MailboxFull(Id),
    #[error("the CU is shutting down")]
    ShuttingDown,
    #[error("cannot start a worker: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("process {0} kept unloading; try again")]
    Unavailable(Id),
}

struct Entry {
    generation: u64,
    /// `None` once the worker is leaving: it serves what is queued, saves a checkpoint and
    /// exits, and its lease then removes this entry.
    mailbox: Option<mpsc::Sender<Request>>,
    /// Closed when the worker has exited.
    gone: watch::Receiver<()>,
    /// Calls between lookup and answer: while any, the process is not evicted.
    calls: usize,
    /// `Inner::clock` at the last lookup.
    used: u64,
    /// The process's Lua memory, as its worker last reported it.
    memory: Arc<AtomicUsize>,
    /// `memory` when the worker started leaving (counted in `Inner::leaving_bytes`).
    left_with: usize,
}

impl Entry {
    fn resident(&self) -> bool {
        self.mailbox.is_some()
    }
}

struct Inner {
    entries: HashMap<Id, Entry>,
    /// The resident entries as (`used`, id): the least recently used first. Kept in step with
    /// `entries`, so finding whom to evict never scans or sorts every process.
    lru: BTreeSet<(u64, Id)>,
    /// The Lua memory leaving workers had when they left: `Limits::memory_bytes` less this is
    /// what resident processes hold (closely enough for a budget).
    leaving_bytes: usize,
    next_generation: u64,
    /// Counts lookups: the least recently used process has the smallest `used`.
    clock: u64,
    /// Each worker holds a clone; when the last one is dropped, every worker has exited.
    done: Option<tokio::sync::mpsc::Sender<()>>,
}

/// Why no room could be made.
enum Full {
    Processes,
    Memory,
}

impl Inner {
    /// Resident (not leaving) processes and their Lua memory.
    fn resident(&self, limits: &Limits) -> (usize, usize) {
        let all = limits.memory_bytes.load(Ordering::Relaxed);
        (self.lru.len(), all.saturating_sub(self.leaving_bytes))
    }

    /// Marks `process` leaving: no new request reaches it; it is no longer resident.
    fn leave(&mut self, process: &Id, generation: Option<u64>) {
        let Some(entry) = self.entries.get_mut(process) else {
            return;
        };
        if generation.is_some_and(|g| g != entry.generation) || entry.mailbox.is_none() {
            return;
        }
        entry.mailbox = None;
        entry.left_with = entry.memory.load(Ordering::Relaxed);
        self.leaving_bytes += entry.left_with;
        self.lru.remove(&(entry.used, *process));
    }

    /// Removes the entry of a worker that exited.
    fn remove(&mut self, process: &Id, generation: u64) {
        let Some(entry) = self.entries.get(process) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        if entry.resident() {
            self.lru.remove(&(entry.used, *process));
        } else {
            self.leaving_bytes = self.leaving_bytes.saturating_sub(entry.left_with);
        }
        self.entries.remove(process);
    }

    /// Evicts idle resident processes (other than `except`), least recently used first, until
    /// `extra_count` more processes of `extra_bytes` fit under both limits.
    fn make_room(
        &mut self,
        limits: &Limits,
        extra_count: usize,
        extra_bytes: usize,
        except: Option<Id>,
    ) -> Result<(), Full> {
        let (mut count, mut bytes) = self.resident(limits);
        let over = |count: usize, bytes: usize| {
            if count + extra_count > limits.processes_max {
                Some(Full::Processes)
            } else if bytes + extra_bytes > limits.memory_budget_bytes && count > 0 {
                // With nothing else resident, a process is loaded whatever its size.
                Some(Full::Memory)
            } else {
                None
            }
        };
        let mut victims = Vec::new();
        // Busy processes are skipped: they are few, so this walks little past the victims.
        for (_, process) in &self.lru {
            if over(count, bytes).is_none() {
                break;
            }
            let entry = &self.entries[process];
            if entry.calls > 0 || Some(*process) == except {
                continue;
            }
            victims.push(*process);
            count -= 1;
            bytes = bytes.saturating_sub(entry.memory.load(Ordering::Relaxed));
        }
        for process in victims {
            self.leave(&process, None);
            Metrics::add(&limits.metrics.evictions, 1);
            tracing::debug!(%process, "process evicted");
        }
        match over(count, bytes) {
            Some(full) => Err(full),
            None => Ok(()),
        }
    }
}

struct Limits {
    processes_max: usize,
    memory_budget_bytes: usize,
    /// The Lua memory of every worker's process (leaving ones included): while it is under the
    /// budget, a worker's report needs no look at the registry.
    memory_bytes: AtomicUsize,
    metrics: Arc<Metrics>,
}

pub struct Workers {
    shared: Arc<Shared>,
    inner: Arc<Mutex<Inner>>,
    limits: Arc<Limits>,
    pool: Pool,
}

/// Resolves when every worker has exited after [`Workers::shutdown`].
pub struct AllDone(tokio::sync::mpsc::Receiver<()>);

impl AllDone {
    pub async fn wait(mut self) {
        while self.0.recv().await.is_some() {}
    }
}

/// Where a request goes: a resident worker's mailbox, or wait for a leaving one to exit.
enum Route {
    Send(mpsc::Sender<Request>, u64),
    Wait(watch::Receiver<()>),
}

/// Counts a call on its process from lookup to answer (or to the caller giving up).
struct CallGuard<'a> {
    inner: &'a Mutex<Inner>,
    process: Id,
    generation: u64,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let mut inner = self.inner.lock().expect("worker registry");
        if let Some(entry) = inner.entries.get_mut(&self.process)
            && entry.generation == self.generation
        {
            entry.calls = entry.calls.saturating_sub(1);
        }
    }
}

/// What a worker holds of its registry entry. Dropping it (when the worker ends) removes
/// the entry and wakes the requests waiting for the worker to exit.
pub(super) struct Lease {
    registry: Arc<Mutex<Inner>>,
    limits: Arc<Limits>,
    process: Id,
    generation: u64,
    memory: Arc<AtomicUsize>,
    /// Dropped after the entry is removed (fields drop after `Drop::drop`).
    _gone: watch::Sender<()>,
}

impl Lease {
    /// Stops new requests from reaching this worker (the ones queued are still served).
    pub(super) fn leave(&self) {
        let mut inner = self.registry.lock().expect("worker registry");
        inner.leave(&self.process, Some(self.generation));
    }

    /// Records the process's Lua memory now; past the budget, idle others are evicted.
    pub(super) fn report_memory(&self, bytes: usize) {
        let before = self.memory.swap(bytes, Ordering::Relaxed);
        let gauge = &self.limits.metrics.process_memory_bytes;
        gauge.fetch_add(bytes as u64, Ordering::Relaxed);
        gauge.fetch_sub(before as u64, Ordering::Relaxed);
        let total = &self.limits.memory_bytes;
        total.fetch_add(bytes, Ordering::Relaxed);
        // `fetch_sub` answers the sum before it: this process's old figure is still in it.
        let total = total
            .fetch_sub(before, Ordering::Relaxed)
            .saturating_sub(before);
        if bytes > before && total > self.limits.memory_budget_bytes {
            let mut inner = self.registry.lock().expect("worker registry");
            // Nothing more can be done when the rest is busy: the next new process waits.
            let _ = inner.make_room(&self.limits, 0, 0, Some(self.process));
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.report_memory(0);
        let mut inner = self.registry.lock().expect("worker registry");
        inner.remove(&self.process, self.generation);
    }
}

impl Workers {
    /// The registry and its evaluation threads (`Config::eval_threads`).
    pub fn new(shared: Arc<Shared>) -> std::io::Result<(Workers, AllDone)> {
        let (done, all_done) = tokio::sync::mpsc::channel(1);
        let inner = Inner {
            entries: HashMap::new(),
            lru: BTreeSet::new(),
            leaving_bytes: 0,
            next_generation: 0,
            clock: 0,
            done: Some(done),
        };
        let limits = Arc::new(Limits {
            processes_max: shared.config.processes_max.max(1),
            memory_budget_bytes: shared.config.memory_budget_bytes,
            memory_bytes: AtomicUsize::new(0),
            metrics: shared.metrics.clone(),
        });
        let pool = Pool::start(shared.config.eval_threads)?;
        let workers = Workers {
            shared,
            inner: Arc::new(Mutex::new(inner)),
            limits,
            pool,
        };
        Ok((workers, AllDone(all_done)))
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Sends the request `make` builds to the process's worker (starting one if needed, after
    /// the previous one exited) and waits for the answer.
    pub async fn call<T>(
        &self,
        process: Id,
        make: impl Fn(Reply<T>) -> Request,
    ) -> Result<T, CallError> {
        for _ in 0..ATTEMPTS_MAX {
            let (mailbox, generation) = match self.route(process)? {
                Route::Send(mailbox, generation) => (mailbox, generation),
                Route::Wait(mut gone) => {
                    // Only closes, when the leaving worker has exited.
                    let _ = gone.changed().await;
                    continue;
                }
            };
            let _call = CallGuard {
                inner: &self.inner,
                process,
                generation,
            };
            let (reply, answer) = oneshot::channel();
            let sent = mailbox.try_send(make(reply));
            // A leaving worker exits once every sender is gone: never hold one across a wait.
            drop(mailbox);
            match sent {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(CallError::MailboxFull(process)),
                // The worker ended (it panicked): its lease removed the entry.
                Err(TrySendError::Closed(_)) => continue,
            }
            match answer.await {
                Ok(result) => return result.map_err(CallError::Worker),
                // The worker ended without answering: start over.
                Err(_) => continue,
            }
        }
        Err(CallError::Unavailable(process))
    }

    fn route(&self, process: Id) -> Result<Route, CallError> {
        let mut inner = self.inner.lock().expect("worker registry");
        let Some(done) = inner.done.clone() else {
            return Err(CallError::ShuttingDown);
        };
        inner.clock += 1;
        let now = inner.clock;
        if let Some(entry) = inner.entries.get_mut(&process) {
            return Ok(match &entry.mailbox {
                Some(mailbox) => {
                    let route = Route::Send(mailbox.clone(), entry.generation);
                    entry.calls += 1;
                    let used = std::mem::replace(&mut entry.used, now);
                    inner.lru.remove(&(used, process));
                    inner.lru.insert((now, process));
                    route
                }
                None => Route::Wait(entry.gone.clone()),
            });
        }
        let max = self.limits.processes_max;
        // Leaving workers hold their state until their checkpoint is saved.
        if inner.entries.len() >= 2 * max {
            return Err(CallError::TooManyProcesses { max });
        }
        let (count, bytes) = inner.resident(&self.limits);
        let estimate = bytes.checked_div(count).unwrap_or(0);
        inner
            .make_room(&self.limits, 1, estimate, None)
            .map_err(|full| match full {
                Full::Processes => CallError::TooManyProcesses { max },
                Full::Memory => CallError::MemoryBudget {
                    budget_mb: self.limits.memory_budget_bytes >> 20,
                },
            })?;
        let generation = inner.next_generation;
        inner.next_generation += 1;
        let (mailbox, receiver) = mpsc::channel(self.shared.config.mailbox_max);
        let (gone_sender, gone) = watch::channel(());
        let memory = Arc::new(AtomicUsize::new(0));
        let lease = Lease {
            registry: self.inner.clone(),
            limits: self.limits.clone(),
            process,
            generation,
            memory: memory.clone(),
            _gone: gone_sender,
        };
        // The entry goes in first: a lease dropped by a failed spawn finds it and removes it.
        inner.entries.insert(
            process,
            Entry {
                generation,
                mailbox: Some(mailbox.clone()),
                gone,
                calls: 1,
                used: now,
                memory,
                left_with: 0,
            },
        );
        inner.lru.insert((now, process));
        drop(inner);
        start(
            self.shared.clone(),
            &self.pool,
            process,
            receiver,
            lease,
            done,
        )?;
        Ok(Route::Send(mailbox, generation))
    }

    /// Processes with a worker now (resident or leaving).
    pub fn len(&self) -> usize {
        self.inner.lock().expect("worker registry").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The OS threads evaluating processes.
    pub fn eval_threads(&self) -> usize {
        self.pool.threads()
    }

    /// Resident processes (not leaving) and the Lua memory they hold, bytes.
    pub fn resident(&self) -> (usize, usize) {
        self.inner
            .lock()
            .expect("worker registry")
            .resident(&self.limits)
    }

    /// Closes every mailbox: each worker finishes what is queued, saves a checkpoint and
    /// exits. Await the [`AllDone`] from [`Workers::new`] for the workers to be gone.
    pub fn shutdown(&self) {
        let mut inner = self.inner.lock().expect("worker registry");
        inner.entries.clear();
        inner.lru.clear();
        inner.leaving_bytes = 0;
        inner.done = None;
    }
}
