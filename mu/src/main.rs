//! `ao-mu`: parses flags and environment into a [`mu::Config`], binds, and runs the MU until
//! SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// The allocator every unit binary uses: mimalloc (why: `cu/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ao_unit::init_tracing();
    let (listen, config) = mu::Args::parse()
        .into_config()
        .context("reading the MU configuration")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(ao_unit::cancel_on_signal(shutdown.clone()));
    mu::run(config, listener, shutdown)
        .await
        .context("running the MU")
}
