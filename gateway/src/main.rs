//! `ao-gateway`: parses flags and environment into a [`gateway::Config`], binds, and runs the
//! gateway until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// The allocator every unit binary uses: mimalloc (why: `cu/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ao_unit::init_tracing();
    let (listen, config) = gateway::Args::parse()
        .into_config()
        .context("reading the gateway configuration")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(ao_unit::cancel_on_signal(shutdown.clone()));
    gateway::run(config, listener, shutdown)
        .await
        .context("running the gateway")
}
