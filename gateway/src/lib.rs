//! A local stand-in for Arweave (PROTOCOL.md §7) as a library: [`run`] serves the gateway on a
//! listener until a shutdown token is cancelled. The `ao-gateway` binary only parses flags and
//! calls it.
//!
//! Codemap: `config` (flags → [`Config`]), `http` (routes) → `ingest` (verify, unbundle) →
//! `writer` (group commit, mining) → `store` (redb schema); `graphql` (parse, validate,
//! execute) → `query` (index search); `metrics`, `error`.
//!
//! Blocks: the gateway "mines" a block every `block_interval` (default 1 s) and on
//! `GET /mine`. A block holds every item stored since the previous one; until then an item is
//! pending: GraphQL shows `block: null`, `/tx/{id}/status` answers 202 `Pending`, and it sorts
//! first under HEIGHT_DESC, last under HEIGHT_ASC, as on arweave.net.
//!
//! Invariant: an upload is answered only after it is committed durably, with its nested items.

pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod store;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Args, Config};

use crate::metrics::Metrics;
use crate::store::Store;
use crate::writer::Writer;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("a startup task failed")]
    Startup,
    #[error("the writer thread panicked")]
    WriterPanicked,
}

/// Milliseconds since the Unix epoch: the one clock of the gateway (upload timestamps,
/// block times).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Serves the gateway on `listener` until `shutdown` is cancelled, then stops mining, waits
/// for open requests and the last commit, and closes the database.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let address = listener.local_addr()?;
    let metrics = Arc::new(Metrics::default());
    let dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, now_ms()))
        .await
        .map_err(|_| GatewayError::Startup)??;
    let store = Arc::new(store);
    let (writer, writer_thread) =
        Writer::start(store.clone(), metrics.clone(), config.pending_writes_max)?;
    let background = shutdown.child_token();
    let miner = config
        .block_interval
        .map(|every| tokio::spawn(mine_every(writer.clone(), every, background.clone())));
    tracing::info!(
        %address,
        data_dir = %config.data_dir.display(),
        height = writer.tip().block.height,
        block_interval_ms = config.block_interval.map(|d| d.as_millis() as u64),
        "gateway listening"
    );
    let app = Arc::new(http::App {
        store,
        writer,
        metrics,
        upload_bytes_max: config.upload_bytes_max,
        graphql_bytes_max: config.graphql_bytes_max,
        network: config.network.clone(),
    });
    let served = axum::serve(listener, http::router(app))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    background.cancel();
    if let Some(miner) = miner {
        let _ = miner.await;
    }
    // Every writer handle is gone with the router and the miner: the thread finishes the
    // queued commits and ends, closing the database.
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .map_err(|_| GatewayError::WriterPanicked)?
        .map_err(|_| GatewayError::WriterPanicked)?;
    served?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Mines one block every `every` until `shutdown`.
async fn mine_every(writer: Writer, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = writer.mine(1).await {
                    tracing::warn!(error = %e, "cannot mine a block");
                }
            }
        }
    }
}
