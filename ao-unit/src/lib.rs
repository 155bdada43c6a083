//! What every unit binary (SU, CU, gateway, and the MU to come) needs and the protocol core must
//! not do, because it touches the disk, signals or the log: the unit's wallet file, the shutdown
//! signal, log setup, JSON bodies on every error response, and reading `Scheduler-Location`
//! items. Must never: hold protocol logic (that is `ao-core`) or anything one
//! unit alone needs.

pub mod http;
pub mod location;
pub mod wallet;

use tokio_util::sync::CancellationToken;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    init_tracing_with_default("info");
}

/// Logs to stderr, filtered by `RUST_LOG`, else by `default` (a filter such as `warn`).
pub fn init_tracing_with_default(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .init();
}

/// Cancels `shutdown` on SIGINT (Ctrl-C) or SIGTERM.
pub async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
