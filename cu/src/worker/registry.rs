//! The registry of workers: process id → the mailbox of the one thread that owns it. Owns:
//! spawning a worker on first use, the limits on processes and queued requests, retrying a
//! request whose worker just unloaded, and shutdown (every mailbox closed, every thread
//! awaited). Must never: run a second worker for a process that has one, or block an async
//! task (mailboxes are bounded and sent to with `try_send`).

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use ao_core::Id;
use tokio::sync::oneshot;

use super::{Reply, Request, Shared, WorkerError, spawn};

/// A request whose worker unloaded between lookup and delivery is sent again this many times.
const ATTEMPTS_MAX: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Worker(Arc<WorkerError>),
    #[error("too many processes in memory ({max}); try again later")]
    TooManyProcesses { max: usize },
    #[error("process {0} has too many queued requests; try again later")]
    MailboxFull(Id),
    #[error("the CU is shutting down")]
    ShuttingDown,
    #[error("cannot start a worker thread: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("process {0} kept unloading; try again")]
    Unavailable(Id),
}

struct Entry {
    mailbox: SyncSender<Request>,
    generation: u64,
}

struct Inner {
    entries: HashMap<Id, Entry>,
    next_generation: u64,
    /// Each worker holds a clone; when the last one is dropped, every worker has exited.
    done: Option<tokio::sync::mpsc::Sender<()>>,
}

pub struct Workers {
    shared: Arc<Shared>,
    inner: Arc<Mutex<Inner>>,
}

/// Resolves when every worker thread has exited after [`Workers::shutdown`].
pub struct AllDone(tokio::sync::mpsc::Receiver<()>);

impl AllDone {
    pub async fn wait(mut self) {
        while self.0.recv().await.is_some() {}
    }
}

impl Workers {
    pub fn new(shared: Arc<Shared>) -> (Workers, AllDone) {
        let (done, all_done) = tokio::sync::mpsc::channel(1);
        let inner = Inner {
            entries: HashMap::new(),
            next_generation: 0,
            done: Some(done),
        };
        let workers = Workers {
            shared,
            inner: Arc::new(Mutex::new(inner)),
        };
        (workers, AllDone(all_done))
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Sends the request `make` builds to the process's worker (starting one if needed) and
    /// waits for the answer.
    pub async fn call<T>(
        &self,
        process: Id,
        make: impl Fn(Reply<T>) -> Request,
    ) -> Result<T, CallError> {
        for _ in 0..ATTEMPTS_MAX {
            let (reply, answer) = oneshot::channel();
            let (mailbox, generation) = self.mailbox(process)?;
            match mailbox.try_send(make(reply)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(CallError::MailboxFull(process)),
                Err(TrySendError::Disconnected(_)) => {
                    self.forget(process, generation);
                    continue;
                }
            }
            match answer.await {
                Ok(result) => return result.map_err(CallError::Worker),
                // The worker exited without answering (it unloaded): start over.
                Err(_) => self.forget(process, generation),
            }
        }
        Err(CallError::Unavailable(process))
    }

    fn mailbox(&self, process: Id) -> Result<(SyncSender<Request>, u64), CallError> {
        let mut inner = self.inner.lock().expect("worker registry");
        let Some(done) = inner.done.clone() else {
            return Err(CallError::ShuttingDown);
        };
        if let Some(entry) = inner.entries.get(&process) {
            return Ok((entry.mailbox.clone(), entry.generation));
        }
        let max = self.shared.config.processes_max;
        if inner.entries.len() >= max {
            return Err(CallError::TooManyProcesses { max });
        }
        let generation = inner.next_generation;
        inner.next_generation += 1;
        let (mailbox, receiver) = sync_channel(self.shared.config.mailbox_max);
        let registry = self.inner.clone();
        let forget = move || forget_in(&registry, process, generation);
        spawn(self.shared.clone(), process, receiver, forget, done)?;
        inner.entries.insert(
            process,
            Entry {
                mailbox: mailbox.clone(),
                generation,
            },
        );
        Ok((mailbox, generation))
    }

    fn forget(&self, process: Id, generation: u64) {
        forget_in(&self.inner, process, generation);
    }

    /// Processes in memory now.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("worker registry").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every mailbox: each worker finishes what is queued, saves a checkpoint and
    /// exits. Await the [`AllDone`] from [`Workers::new`] for the threads to be gone.
    pub fn shutdown(&self) {
        let mut inner = self.inner.lock().expect("worker registry");
        inner.entries.clear();
        inner.done = None;
    }
}

/// Removes the worker `generation` of `process` (a newer worker for it stays).
fn forget_in(registry: &Mutex<Inner>, process: Id, generation: u64) {
    let mut inner = registry.lock().expect("worker registry");
    if inner
        .entries
        .get(&process)
        .is_some_and(|e| e.generation == generation)
    {
        inner.entries.remove(&process);
    }
}
