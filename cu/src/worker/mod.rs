//! Per-process workers: each AO process in memory is owned by one task on one evaluation
//! thread ([`pool`]: `Process` is not `Send`, and Lua needs deep C stacks) that serves a
//! bounded mailbox of [`Request`]s in order, so concurrent requests for the same process
//! queue up and coalesce. Owns: the thread loop, loading, evaluation in nonce
//! order, storing results and checkpoints. Must never: hand its `Process` to another thread,
//! skip a message, or keep evaluating after a gap or a broken chain (the process stops and
//! every request gets the error).
//!
//! Codemap: [`registry`] (process id → mailbox, spawning, eviction under the process and
//! memory limits, shutdown), `pool` (the evaluation threads), `load` (SU process,
//! module from the gateway, crons, checkpoint), `evaluate` (the schedule and the cron ticks
//! among and after it, dry runs, state).

mod evaluate;
mod load;
mod pool;
pub mod registry;
mod result;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use ao_core::Id;
use ao_core::wire::DryRunRequest;
use serde_json::Value as Json;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::engine::Module;
use crate::gateway_client::GatewayClient;
use crate::locate::{LocateError, Locator};
use crate::metrics::Metrics;
use crate::schedule::{ModuleInfo, ScheduleError};
use crate::store::{Store, StoreError};
use crate::su_client::{SuClient, UpstreamError};

pub use registry::Workers;

/// How long a process waits without requests before its garbage is collected.
const IDLE_COLLECT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// What a worker can be asked. Each carries the channel its answer goes back on.
pub enum Request {
    /// Evaluate up to and including nonce `to` (and the rest of the schedule page holding it),
    /// or to the SU's latest when `None`; answers the highest evaluated nonce.
    Evaluate {
        to: Option<u64>,
        reply: Reply<Option<u64>>,
    },
    /// The nonce of `message` if it is evaluated, or once one page of newly scheduled
    /// messages is evaluated; `None` when it is in neither.
    Reach {
        message: Id,
        reply: Reply<Option<u64>>,
    },
    /// Evaluate to the latest message and catch up on cron ticks; answers how many cron
    /// messages the process has evaluated (the next cron sequence number).
    Cron { reply: Reply<u64> },
    /// Evaluate to the latest message (and cron ticks up to now), then evaluate `body` on a
    /// throw-away copy.
    DryRun {
        body: Box<DryRunRequest>,
        reply: Reply<Json>,
    },
    /// Evaluate up to `to` (or the latest, and cron ticks up to now), then checkpoint.
    State {
        to: Option<u64>,
        reply: Reply<StateSnapshot>,
    },
}

pub type Reply<T> = oneshot::Sender<Result<T, Arc<WorkerError>>>;

/// A process state as `GET /state` serves it.
#[derive(Debug, Clone)]
pub struct StateSnapshot {
    /// The nonce of the last message the state includes.
    pub nonce: u64,
    pub bytes: Vec<u8>,
    pub hash: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("process {0} not found on the SU")]
    ProcessNotFound(Id),
    #[error("process {process} has no {tag} tag")]
    TagMissing { process: Id, tag: &'static str },
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error("module {0} not found on the gateway")]
    ModuleNotFound(String),
    #[error("module {module} has Module-Format {found:?}; this CU runs only lua53")]
    ModuleFormat { module: String, found: String },
    #[error("{what} is not a valid id: {value}")]
    BadId { what: &'static str, value: String },
    #[error("process {process}: {source}")]
    Cron {
        process: Id,
        source: crate::cron::CronError,
    },
    #[error("process {process}: the SU gave {field} {value:?}, not a non-negative integer")]
    ProcessField {
        process: Id,
        field: &'static str,
        value: String,
    },
    #[error(
        "scheduled message {nonce} (Timestamp {timestamp}, Block-Height {block_height}) comes \
         after cron ticks already evaluated: the SU ordered it before the time it vouched for"
    )]
    CronOvertaken {
        nonce: u64,
        timestamp: u64,
        block_height: u64,
    },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("process stopped: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("the SU's schedule ends at nonce {found:?}, before nonce {wanted}")]
    ScheduleShort { wanted: u64, found: Option<u64> },
    /// The engine's own errors hold Lua values that cannot leave the thread: kept as text.
    #[error("engine: {0}")]
    Engine(String),
    #[error("the state at nonce {wanted} is not kept; the process is at nonce {have}")]
    StateGone { wanted: u64, have: u64 },
    #[error("state cannot be checkpointed now: {0}")]
    Unserializable(String),
    #[error("the CU is shutting down")]
    ShuttingDown,
    #[error("process {process} stopped at nonce {nonce}: {cause}")]
    Stopped {
        process: Id,
        nonce: u64,
        cause: Arc<WorkerError>,
    },
}

impl WorkerError {
    fn engine(e: crate::engine::Error) -> WorkerError {
        match e {
            crate::engine::Error::Unserializable { .. } => {
                WorkerError::Unserializable(e.to_string())
            }
            other => WorkerError::Engine(other.to_string()),
        }
    }
}

/// A module as fetched and parsed once, shared by every process that runs it.
#[derive(Debug)]
pub struct LoadedModule {
    pub info: ModuleInfo,
    pub module: Arc<Module>,
}

/// What every worker shares: configuration, clients, the database, the module cache.
pub struct Shared {
    pub config: Config,
    pub store: Arc<Store>,
    /// Which SU schedules a process.
    pub locator: Locator,
    pub gateway: GatewayClient,
    pub metrics: Arc<Metrics>,
    pub modules: Mutex<HashMap<Id, Arc<LoadedModule>>>,
    /// The server's runtime: the SU and gateway clients run on it (see [`Shared::io`]).
    pub runtime: tokio::runtime::Handle,
}

impl Shared {
    pub fn new(config: Config, store: Arc<Store>, metrics: Arc<Metrics>) -> Shared {
        let gateway = GatewayClient::new(
            &config.gateway_url,
            config.upstream_timeout,
            config.module_bytes_max,
        );
        let own = SuClient::new(&config.su_url, config.upstream_timeout);
        Shared {
            locator: Locator::new(own, gateway.clone(), config.location_ttl),
            gateway,
            config,
            store,
            metrics,
            modules: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Runs `work` (a request to the SU or the gateway) on the server's runtime and waits for
    /// it. The evaluation threads never do I/O themselves: a connection opened on one would
    /// stall whenever that thread evaluates, for every thread sharing the connection pool.
    async fn io<T, E>(
        &self,
        work: impl Future<Output = Result<T, E>> + Send + 'static,
    ) -> Result<T, WorkerError>
    where
        T: Send + 'static,
        E: Into<WorkerError> + Send + 'static,
    {
        match self.runtime.spawn(work).await {
            Ok(result) => result.map_err(Into::into),
            // The server's runtime is going away (a panic in a client is a bug; it surfaces
            // the same way, as a failed request).
            Err(_) => Err(WorkerError::ShuttingDown),
        }
    }
}

/// The task that owns `process`, started on an evaluation thread. It ends when its mailbox is
/// closed and empty (the registry evicted it, or shuts down) or after the idle timeout,
/// having saved a checkpoint; dropping `lease` then removes it from the registry.
fn start(
    shared: Arc<Shared>,
    pool: &pool::Pool,
    process: Id,
    mailbox: mpsc::Receiver<Request>,
    lease: registry::Lease,
    done: tokio::sync::mpsc::Sender<()>,
) -> std::io::Result<()> {
    pool.spawn(Box::new(move || {
        Box::pin(async move {
            let mut mailbox = mailbox;
            run(&shared, process, &mut mailbox, &lease).await;
            // Only now may a new worker for the process start: the checkpoint is saved.
            drop(lease);
            // The database must be closed once every worker is done: `shared` goes first.
            drop(shared);
            drop(done);
        })
    }))
}

async fn run(
    shared: &Arc<Shared>,
    process: Id,
    mailbox: &mut mpsc::Receiver<Request>,
    lease: &registry::Lease,
) {
    let Some(first) = mailbox.recv().await else {
        return;
    };
    let mut loaded = match load::load(shared, process).await {
        Ok(loaded) => loaded,
        Err(e) => {
            // Nothing is kept: the next request starts a fresh worker that tries again.
            tracing::info!(%process, error = %e, "process did not load");
            let e = Arc::new(e);
            lease.leave();
            fail(first, &e);
            // Until every sender is gone: the registry's went with `leave`, and callers drop
            // theirs right after sending.
            while let Some(request) = mailbox.recv().await {
                fail(request, &e);
            }
            return;
        }
    };
    Metrics::add(&shared.metrics.process_loads, 1);
    Metrics::add(&shared.metrics.processes_loaded, 1);
    lease.report_memory(loaded.used_memory());
    loaded.serve(first).await;
    lease.report_memory(loaded.used_memory());
    // A process idle for `IDLE_COLLECT_AFTER` gets one full collection: what it then holds
    // (and reports against the budget) is its live state, not the garbage of its last burst.
    let collect_after = IDLE_COLLECT_AFTER.min(shared.config.idle_timeout);
    let mut collected = false;
    loop {
        let wait = if collected {
            shared.config.idle_timeout.saturating_sub(collect_after)
        } else {
            collect_after
        };
        match tokio::time::timeout(wait, mailbox.recv()).await {
            Ok(Some(request)) => {
                loaded.serve(request).await;
                lease.report_memory(loaded.used_memory());
                collected = false;
            }
            Err(_) if !collected => {
                loaded.collect_garbage();
                lease.report_memory(loaded.used_memory());
                collected = true;
            }
            // Requests already queued are still served; `None` comes once none are.
            Err(_) => lease.leave(),
            Ok(None) => break,
        }
    }
    loaded.save_checkpoint();
    shared
        .metrics
        .processes_loaded
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

fn fail(request: Request, e: &Arc<WorkerError>) {
    // A requester that gave up has dropped its receiver; nothing to do then.
    match request {
        Request::Evaluate { reply, .. } => drop(reply.send(Err(e.clone()))),
        Request::Reach { reply, .. } => drop(reply.send(Err(e.clone()))),
        Request::Cron { reply } => drop(reply.send(Err(e.clone()))),
        Request::DryRun { reply, .. } => drop(reply.send(Err(e.clone()))),
        Request::State { reply, .. } => drop(reply.send(Err(e.clone()))),
    }
}
