//! The evaluation threads: a fixed set of OS threads, each running a single-threaded tokio
//! runtime with a `LocalSet`, on which every resident process is one local task. A `Process`
//! is not `Send`, so a process stays on the thread it was loaded on until it unloads; the
//! next load may pick another thread. Owns: starting the threads, placing a new worker on the
//! thread with the fewest resident processes, and letting the threads finish once every
//! worker is done. Must never: run blocking I/O on these threads (the SU and gateway clients
//! run on the server's runtime, see [`Shared::io`](super::Shared::io)), or hold a Lua call
//! across an `.await` (Lua runs between awaits, on the thread's own 8 MiB stack).
//!
//! Why not a thread per process: a thread costs four memory mappings, and Linux allows 65,530
//! a process, so threads cap residency near 12,000 (100,000 resident is the target). Why not
//! tokio's multi-thread runtime: its tasks must be `Send`, and its worker stacks (2 MiB) are
//! too small for Lua's C recursion.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::engine::STACK_BYTES_MIN;

/// A worker to start on a pool thread: builds its (not `Send`) future there.
pub(super) type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

struct Thread {
    jobs: mpsc::UnboundedSender<Job>,
    /// Workers running on this thread now.
    load: Arc<AtomicUsize>,
}

pub(super) struct Pool {
    threads: Vec<Thread>,
}

impl Pool {
    /// Starts `threads` evaluation threads (at least one). They exit once the pool is dropped
    /// and every worker on them has finished.
    pub(super) fn start(threads: usize) -> std::io::Result<Pool> {
        let mut started = Vec::with_capacity(threads.max(1));
        for n in 0..threads.max(1) {
            let (jobs, receiver) = mpsc::unbounded_channel();
            let load = Arc::new(AtomicUsize::new(0));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()?;
            let thread_load = load.clone();
            std::thread::Builder::new()
                .name(format!("cu-eval-{n}"))
                .stack_size(STACK_BYTES_MIN)
                .spawn(move || serve(runtime, receiver, thread_load))?;
            started.push(Thread { jobs, load });
        }
        Ok(Pool { threads: started })
    }

    /// Runs `job`'s future on the least loaded thread.
    pub(super) fn spawn(&self, job: Job) -> std::io::Result<()> {
        let thread = self
            .threads
            .iter()
            .min_by_key(|t| t.load.load(Ordering::Relaxed))
            .expect("the pool has a thread");
        // Counted here, not when the thread takes the job, so a burst of spawns spreads out.
        thread.load.fetch_add(1, Ordering::Relaxed);
        thread.jobs.send(job).map_err(|_| {
            thread.load.fetch_sub(1, Ordering::Relaxed);
            std::io::Error::other("the evaluation thread has stopped")
        })
    }

    pub(super) fn threads(&self) -> usize {
        self.threads.len()
    }
}

fn serve(
    runtime: tokio::runtime::Runtime,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    load: Arc<AtomicUsize>,
) {
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        while let Some(job) = jobs.recv().await {
            let load = load.clone();
            let future = job();
            tokio::task::spawn_local(async move {
                future.await;
                load.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    // The pool is gone: finish the workers still running (each is leaving and saving its
    // checkpoint) before the thread ends.
    runtime.block_on(local);
}
