//! `ao-localnet`: a whole AO network on this machine (gateway, SU, CU, MU) with embedded
//! defaults. Parses flags, starts [`localnet::Localnet`], prints where everything is, and runs
//! until SIGINT or SIGTERM.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use localnet::{Config, Localnet, Ports, Summary};
use tokio_util::sync::CancellationToken;

/// Every flag also reads an `AO_LOCALNET_*` environment variable.
#[derive(Debug, Parser)]
#[command(name = "ao-localnet", version, about = "A complete local AO network")]
struct Args {
    /// Where the units keep their data and wallets; starting again resumes from it.
    #[arg(long, env = "AO_LOCALNET_DATA_DIR", default_value = "data/localnet")]
    data_dir: PathBuf,
    /// The address every unit listens on.
    #[arg(long, env = "AO_LOCALNET_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, env = "AO_LOCALNET_GATEWAY_PORT", default_value_t = Ports::DEFAULT.gateway)]
    gateway_port: u16,
    #[arg(long, env = "AO_LOCALNET_SU_PORT", default_value_t = Ports::DEFAULT.su)]
    su_port: u16,
    #[arg(long, env = "AO_LOCALNET_CU_PORT", default_value_t = Ports::DEFAULT.cu)]
    cu_port: u16,
    #[arg(long, env = "AO_LOCALNET_MU_PORT", default_value_t = Ports::DEFAULT.mu)]
    mu_port: u16,
    /// Milliseconds between the gateway's blocks.
    #[arg(long, env = "AO_LOCALNET_BLOCK_MS", default_value_t = 1000)]
    block_ms: u64,
}

/// The allocator every unit binary uses: mimalloc (why: `cu/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Four units log to one terminal: only warnings unless RUST_LOG asks for more.
    ao_unit::init_tracing_with_default("warn");
    let args = Args::parse();
    let mut config = Config::new(&args.data_dir);
    config.host = args.host;
    config.ports = Ports {
        gateway: args.gateway_port,
        su: args.su_port,
        cu: args.cu_port,
        mu: args.mu_port,
    };
    config.block_interval = std::time::Duration::from_millis(args.block_ms.max(1));
    // Listening for Ctrl-C from the start: one during start-up stops the network once it is up.
    let shutdown = CancellationToken::new();
    tokio::spawn(ao_unit::cancel_on_signal(shutdown.clone()));
    let net = Localnet::start(config)
        .await
        .context("starting the local network")?;
    print_summary(net.summary());
    net.run_until(shutdown)
        .await
        .context("running the local network")?;
    println!("stopped; start again to resume every process");
    Ok(())
}

fn print_summary(s: &Summary) {
    println!("AO localnet is running (data in {})", s.data_dir.display());
    println!("  gateway  {}", s.gateway_url);
    println!("  SU       {}   scheduler {}", s.su_url, s.scheduler);
    println!("  CU       {}", s.cu_url);
    println!("  MU       {}   authority {}", s.mu_url, s.authority);
    println!("  module   {}   (the default process library)", s.module);
    println!();
    println!("Open a process in the aos shell:  cargo run --release --bin aos -- my-process");
    println!("Ctrl-C stops every unit; starting again resumes every process.");
}
