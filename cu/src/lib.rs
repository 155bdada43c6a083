//! The AO compute unit (CU).
//!
//! The evaluation engine ([`engine`]) is a deterministic, sandboxed Lua 5.3 state per process
//! that runs a module's `handle(msg, env)` under memory and instruction budgets, rolls failed
//! messages back, and checkpoints its state canonically; [`schedule`] turns the SU's JSON into
//! checked `msg`/`env` values, and [`cron`] places the CU's own cron messages among them. None
//! of them does I/O. The server around them: [`run`] serves
//! PROTOCOL.md §6 on a listener until a shutdown token is cancelled; the `ao-cu` binary only
//! parses flags and calls it.
//!
//! Codemap: [`config`] (flags → [`Config`]), [`server`] (routes, errors) → [`worker`] (one
//! thread per resident process: load, evaluate in nonce order, dry runs, state; eviction under
//! the process and memory limits) → [`locate`] (which SU schedules a process) → [`su_client`]
//! and [`gateway_client`] (HTTP), [`store`] (redb: results, message index, checkpoints);
//! the wallet comes from `ao_unit::wallet`; [`metrics`].
//!
//! Invariant: a process's Lua state is touched only by its worker thread.

pub mod config;
pub mod cron;
pub mod engine;
pub mod gateway_client;
pub mod library;
pub mod locate;
pub mod metrics;
pub mod schedule;
pub mod server;
pub mod store;
pub mod su_client;
pub mod verify;
pub mod worker;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Args, Config};
pub use engine::{Checkpoint, Error, Evaluation, Failure, Limits, Module, Process, STATE_HASH_LEN};

use crate::metrics::Metrics;
use crate::store::Store;
use crate::worker::{Shared, Workers};

#[derive(Debug, thiserror::Error)]
pub enum CuError {
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Key(#[from] ao_unit::wallet::KeyError),
    #[error("cannot start the evaluation threads: {0}")]
    Threads(std::io::Error),
    #[error("a startup task failed")]
    Startup,
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Serves the CU on `listener` until `shutdown` is cancelled, then lets every process worker
/// finish its queue, save a checkpoint and exit.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), CuError> {
    let address = listener.local_addr()?;
    let dir = config.data_dir.clone();
    let wallet = config.wallet.clone();
    let (store, signer) = tokio::task::spawn_blocking(move || {
        let signer = ao_unit::wallet::load_or_create(wallet.as_deref(), &dir)?;
        Ok::<_, CuError>((Store::open(&dir)?, signer))
    })
    .await
    .map_err(|_| CuError::Startup)??;
    let store = Arc::new(store);
    let metrics = Arc::new(Metrics::default());
    tracing::info!(
        %address,
        wallet = signer.address(),
        su = config.su_url,
        gateway = config.gateway_url,
        "CU listening"
    );
    let shared = Arc::new(Shared::new(config, store.clone(), metrics.clone()));
    let (workers, all_done) = Workers::new(shared).map_err(CuError::Threads)?;
    let app = Arc::new(server::App {
        workers,
        store,
        metrics,
        address: signer.address(),
        clock: now_ms,
    });
    let served = axum::serve(listener, server::router(app.clone()))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    app.workers.shutdown();
    drop(app);
    all_done.wait().await;
    tracing::info!("CU stopped");
    Ok(served?)
}
