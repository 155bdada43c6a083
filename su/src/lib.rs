//! The AO Scheduler Unit (PROTOCOL.md §4) as a library: [`run`] serves the SU on a listener
//! until a shutdown token is cancelled. The `ao-su` binary only parses flags and calls it.
//!
//! Codemap: `config` (flags → [`Config`]), `http` (routes) → `sequencer` (per-process order,
//! assignments) → `writer` (group commit) → `store` (redb schema) and `record` (what it
//! stores); `views` (read JSON), `outbox` (permanent storage port and drain), `arweave` (the
//! storage adapter posting bundle transactions to an Arweave node), `gateway` (block
//! height, items to assign), `listener` (connection limit), `metrics`,
//! `error`.
//!
//! Invariant: an answer to a write is sent only after the entry is committed durably.

pub mod arweave;
pub mod config;
pub mod error;
pub mod gateway;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod outbox;
pub mod record;
pub mod sequencer;
pub mod store;
pub mod views;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{Args, ArweaveConfig, Config, StorageConfig};

use crate::arweave::{ArweaveError, ArweaveStorage};
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::outbox::{Drain, HttpStorage};
use crate::sequencer::{Limits, Sequencer};
use crate::store::Store;
use crate::writer::Writer;

/// How long the first block-height read may delay the start.
const FIRST_HEIGHT_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum SuError {
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Key(#[from] ao_unit::wallet::KeyError),
    #[error("--arweave-wallet: {0}")]
    Arweave(#[from] ArweaveError),
    #[error("cannot publish the Scheduler-Location item: {0}")]
    Location(#[from] error::ApiError),
    #[error("a startup task failed")]
    Startup,
}

/// The permanent-storage adapter `config.storage` names.
enum Storage {
    /// Nothing drains: the outbox keeps every entry.
    Keep,
    Http(HttpStorage),
    /// With the node's URL, for the log.
    Arweave(Box<ArweaveStorage>, String),
}

/// Serves the SU on `listener` until `shutdown` is cancelled, then stops every background
/// loop and waits for the last commit.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), SuError> {
    let address = listener.local_addr()?;
    let metrics = Arc::new(Metrics::default());
    let dir = config.data_dir.clone();
    let wallet = config.wallet.clone();
    let storage_config = config.storage.clone();
    let (store, signer, storage) = tokio::task::spawn_blocking(move || {
        let signer = ao_unit::wallet::load_or_create(wallet.as_deref(), &dir)?;
        // Built before anything starts: a bad Arweave wallet stops the SU at once.
        let storage = match storage_config {
            StorageConfig::None => Storage::Keep,
            StorageConfig::Http { url, path } => Storage::Http(HttpStorage::new(&url, &path)),
            StorageConfig::Arweave(arweave) => {
                let payer = ao_unit::wallet::load_or_create(Some(&arweave.wallet), &dir)?;
                Storage::Arweave(Box::new(ArweaveStorage::new(&arweave, payer)?), arweave.url)
            }
        };
        Ok::<_, SuError>((Store::open(&dir)?, signer, storage))
    })
    .await
    .map_err(|_| SuError::Startup)??;
    let store = Arc::new(store);
    metrics
        .outbox_depth
        .store(store.outbox_len()?, std::sync::atomic::Ordering::Relaxed);
    let outbox_ready = Arc::new(Notify::new());
    let (writer, writer_thread) = Writer::start(
        store.clone(),
        metrics.clone(),
        outbox_ready.clone(),
        config.pending_writes_max,
    )?;
    let background = shutdown.child_token();
    let mut tasks = JoinSet::new();

    let gateway = config.gateway.clone().map(|g| Arc::new(Gateway::new(g)));
    if let Some(gateway) = &gateway {
        match tokio::time::timeout(FIRST_HEIGHT_WAIT, gateway.height()).await {
            Ok(Ok(height)) => metrics
                .block_height
                .store(height, std::sync::atomic::Ordering::Relaxed),
            _ => tracing::warn!("no block height from the gateway yet; using 0 until it answers"),
        }
        tasks.spawn(gateway::refresh_height(
            gateway.clone(),
            metrics.clone(),
            background.clone(),
        ));
    }

    let sequencer = Arc::new(Sequencer::new(
        store.clone(),
        writer.clone(),
        signer,
        gateway,
        metrics.clone(),
        Limits {
            process_bytes_max: config.process_bytes_max,
            message_bytes_max: config.message_bytes_max,
        },
    ));
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let location = sequencer
        .publish_location(public_url.clone(), config.location_ttl_ms)
        .await?;

    let drain = Drain {
        store: store.clone(),
        writer: writer.clone(),
        metrics: metrics.clone(),
        ready: outbox_ready,
        retry_initial: config.upload_retry_initial,
        retry_max: config.upload_retry_max,
    };
    match storage {
        // The drain holds a writer handle, and the writer stops only when every handle is gone.
        Storage::Keep => drop(drain),
        Storage::Http(storage) => {
            tasks.spawn(drain.run(storage, background.clone()));
        }
        Storage::Arweave(storage, url) => {
            tracing::info!(%url, wallet = storage.address(), "uploading to Arweave");
            tasks.spawn(drain.run(*storage, background.clone()));
        }
    }
    drop(writer);

    tracing::info!(
        %address,
        wallet = sequencer.address(),
        %public_url,
        %location,
        "SU listening"
    );
    let app = Arc::new(http::App {
        sequencer,
        metrics: metrics.clone(),
        body_bytes_max: config.process_bytes_max.max(config.message_bytes_max),
    });
    let listener = listener::LimitedListener::new(listener, config.connections_max, metrics);
    let served = axum::serve(listener, http::router(app))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;

    background.cancel();
    while tasks.join_next().await.is_some() {}
    // The router (and with it the last writer handle) is gone: the writer drains and stops.
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    tracing::info!("SU stopped");
    Ok(served?)
}
