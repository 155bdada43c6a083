//! The AO Messenger Unit (PROTOCOL.md §5) as a library: [`run`] serves the MU on a listener
//! until a shutdown token is cancelled. The `ao-mu` binary only parses flags and calls it.
//!
//! Codemap: `config` (flags → [`Config`]), `http` (routes: ingest, assign, monitor) →
//! `router` (process → scheduler → SU URL) and `upstream` (SU, CU, gateway clients);
//! `pusher` (the durable push loop) runs `task`s kept by `store` (redb, group commit) and turns
//! results into signed items with `push`; `monitor` (cron results of monitored processes);
//! `metrics`, `error`.
//!
//! Invariant: a 2xx is sent only after the SU acknowledged the item and the crank of its result
//! is on disk; a push step is removed only in the commit that queues what it led to.

pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod monitor;
pub mod push;
pub mod pusher;
pub mod router;
pub mod store;
pub mod task;
pub mod upstream;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{Args, Config};

use crate::metrics::Metrics;
use crate::monitor::Monitors;
use crate::pusher::{PushLimits, Pusher};
use crate::router::Router;
use crate::store::Store;
use crate::upstream::Upstream;

#[derive(Debug, thiserror::Error)]
pub enum MuError {
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Key(#[from] ao_unit::wallet::KeyError),
    #[error("a startup task failed")]
    Startup,
}

/// Serves the MU on `listener` until `shutdown` is cancelled; queued pushes resume from disk
/// on the next start.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), MuError> {
    let address = listener.local_addr()?;
    let metrics = Arc::new(Metrics::default());
    let dir = config.data_dir.clone();
    let wallet = config.wallet.clone();
    let (signer, (store, loaded, writer_thread)) = tokio::task::spawn_blocking(move || {
        let signer = ao_unit::wallet::load_or_create(wallet.as_deref(), &dir)?;
        Ok::<_, MuError>((signer, Store::open(&dir)?))
    })
    .await
    .map_err(|_| MuError::Startup)??;
    let signer = Arc::new(signer);
    let wallet_address = signer.address();
    metrics
        .set_aside
        .store(loaded.set_aside, std::sync::atomic::Ordering::Relaxed);

    let upstream = Upstream::new(
        &config.cu_url,
        config.gateway_url.as_deref(),
        &config.upload_path,
        config.request_timeout,
    );
    let router = Arc::new(Router::new(
        upstream.clone(),
        config.su_urls.clone(),
        config.schedulers.clone(),
        config.location_ttl_default,
    ));
    router.learn_sus().await;
    let pusher = Arc::new(Pusher::new(
        store,
        router.clone(),
        upstream.clone(),
        signer,
        metrics.clone(),
        PushLimits {
            depth_max: config.push_depth_max,
            retry_initial: config.retry_initial,
            retry_max: config.retry_max,
            attempts_max: config.attempts_max,
        },
    ));
    let resumed = loaded.tasks.len();
    pusher.schedule(loaded.tasks);
    let monitors = Arc::new(Monitors::new(loaded.monitors, metrics.clone()));

    let background = shutdown.child_token();
    let mut tasks = JoinSet::new();
    for _ in 0..config.workers {
        tasks.spawn(pusher.clone().work(background.clone()));
    }
    tasks.spawn(monitors.clone().run(
        pusher.clone(),
        router.clone(),
        upstream.clone(),
        config.monitor_interval,
        background.clone(),
    ));

    tracing::info!(
        %address,
        wallet = %wallet_address,
        cu = %config.cu_url,
        gateway = config.gateway_url.as_deref().unwrap_or("-"),
        resumed,
        "MU listening"
    );
    let app = Arc::new(http::App {
        pusher,
        router,
        upstream,
        monitors,
        metrics,
        address: wallet_address,
        item_bytes_max: config.item_bytes_max,
    });
    let served = axum::serve(listener, http::router(app))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;

    background.cancel();
    while tasks.join_next().await.is_some() {}
    // The app (and with it the last store handle) is gone: the writer drains and stops.
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    tracing::info!("MU stopped");
    Ok(served?)
}
