//! `aos`: the shell Lua developers live in. It finds the user's process by name (or spawns
//! it), then every line typed is an `Eval` of that process, sent signed through the MU, its
//! result read from the CU and shown with the process's prompt; what other messages print
//! appears live between prompts.
//!
//! Codemap: [`Args`] (flags and env) → [`run`] (connect, one-shot or REPL) → [`repl`] (the line
//! editor and dot-commands) → [`session::Session`] (evaluation, output, the live feed) →
//! [`process`] (wallet, lookup, spawn, signed items) and [`client`] (HTTP, errors naming the
//! endpoint); [`load`] inlines local `require`s for `.load`; [`blueprints`] are the examples.

pub mod blueprints;
pub mod client;
pub mod load;
pub mod process;
pub mod repl;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Parser;

use crate::client::{Client, ShellError};
use crate::process::SpawnOptions;
use crate::session::{Origin, Session};

/// The shell's version, as the banner shows it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `aos [name]`: every flag also reads an `AOS_*` environment variable. The defaults reach
/// the local network `ao-localnet` starts.
#[derive(Debug, Parser)]
#[command(name = "aos", version, about = "The REPL for AO processes")]
pub struct Args {
    /// The process to open: found by its `Name` among the wallet's processes, else spawned.
    #[arg(default_value = "default")]
    pub name: String,
    /// Arweave JWK wallet; created (RSA-4096) if missing. Default: ~/.aos.json.
    #[arg(long, env = "AOS_WALLET")]
    pub wallet: Option<PathBuf>,
    #[arg(long, env = "AOS_MU_URL", default_value = "http://127.0.0.1:3004")]
    pub mu_url: String,
    #[arg(long, env = "AOS_CU_URL", default_value = "http://127.0.0.1:6363")]
    pub cu_url: String,
    #[arg(long, env = "AOS_GATEWAY_URL", default_value = "http://127.0.0.1:4000")]
    pub gateway_url: String,
    /// Module of a new process; default: the newest "ao-rs process library" on the gateway.
    #[arg(long, env = "AOS_MODULE")]
    pub module: Option<String>,
    /// Scheduler address of a new process; default: the newest Scheduler-Location's owner.
    #[arg(long, env = "AOS_SCHEDULER")]
    pub scheduler: Option<String>,
    /// Cron interval of a new process, e.g. `1-minute` (its ticks carry `Action: Cron`).
    #[arg(long)]
    pub cron: Option<String>,
    /// A tag for a new process (pairs with the --tag-value at the same position).
    #[arg(long = "tag-name")]
    pub tag_names: Vec<String>,
    #[arg(long = "tag-value")]
    pub tag_values: Vec<String>,
    /// File whose contents are a new process's data.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Lua files to `.load` once connected.
    #[arg(long)]
    pub load: Vec<PathBuf>,
    /// Evaluate this Lua, print the output and exit: 0 if it ran, 1 if it raised an error,
    /// 2 if a unit could not be reached.
    #[arg(long)]
    pub run: Option<String>,
    /// List the wallet's processes and exit.
    #[arg(long)]
    pub list: bool,
    /// Seconds to wait for any answer.
    #[arg(long, env = "AOS_TIMEOUT_SECS", default_value_t = 30)]
    pub timeout_secs: u64,
    /// Milliseconds between polls of the live feed.
    #[arg(long, env = "AOS_LIVE_MS", default_value_t = 1000)]
    pub live_ms: u64,
    /// Where command history is kept, one file per process. Default: ~/.aos/history.
    #[arg(long, env = "AOS_HISTORY_DIR")]
    pub history_dir: Option<PathBuf>,
}

/// Runs the shell; the value is the process exit status.
pub fn run(args: Args) -> i32 {
    match connect_and_go(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("\x1b[31maos: {e}\x1b[0m");
            if matches!(e, ShellError::Unreachable { .. }) {
                eprintln!(
                    "Is the network running? Start one with `cargo run --release --bin ao-localnet`, \
                     or point the shell at one with --mu-url, --cu-url, --gateway-url \
                     (AOS_MU_URL, AOS_CU_URL, AOS_GATEWAY_URL)."
                );
            }
            if e.is_unreachable() { 2 } else { 1 }
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn connect_and_go(args: Args) -> Result<i32, ShellError> {
    let client = Arc::new(Client::new(
        &args.mu_url,
        &args.cu_url,
        &args.gateway_url,
        Duration::from_secs(args.timeout_secs.max(1)),
    )?);
    let wallet_path = args
        .wallet
        .clone()
        .unwrap_or_else(|| home().join(".aos.json"));
    let (signer, created) = process::wallet(&wallet_path)?;
    if created {
        eprintln!("created a new wallet at {}", wallet_path.display());
    }
    let owner = signer.address();

    if args.list {
        let found = process::processes(&client, &owner, None)?;
        if found.is_empty() {
            println!("no processes for {owner}");
        }
        for p in found {
            println!("{}  {}", p.id, p.name);
        }
        return Ok(0);
    }

    if args.tag_names.len() != args.tag_values.len() {
        return Err(ShellError::Setup(
            "every --tag-name needs a --tag-value".into(),
        ));
    }
    let data = match &args.data {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            ShellError::Setup(format!("cannot read --data {}: {e}", path.display()))
        })?),
        None => None,
    };
    let options = SpawnOptions {
        module: args.module.clone(),
        scheduler: args.scheduler.clone(),
        cron: args.cron.clone(),
        tags: args
            .tag_names
            .iter()
            .cloned()
            .zip(args.tag_values.iter().cloned())
            .collect(),
        data,
    };
    let process = {
        let _spin = session::Spinner::start("connecting");
        match process::processes(&client, &owner, Some(&args.name))?.first() {
            Some(found) => found.id.clone(),
            None => {
                let id = process::spawn(&client, &signer, &args.name, &options)?;
                eprintln!("spawned process {} ({id})", args.name);
                id
            }
        }
    };
    let mut session = Session {
        client,
        signer,
        owner,
        process,
        name: args.name.clone(),
        prompt: String::new(),
        dry_run: false,
        live: Arc::new(AtomicBool::new(true)),
    };

    for path in &args.load {
        let shown = session.load(path)?;
        print_shown(&shown.text);
        if shown.failed && args.run.is_some() {
            return Ok(1);
        }
    }
    if let Some(code) = &args.run {
        let shown = session.eval(code, Origin::Typed(code))?;
        print_shown(&shown.text);
        return Ok(if shown.failed { 1 } else { 0 });
    }

    let history_dir = args
        .history_dir
        .clone()
        .unwrap_or_else(|| home().join(".aos").join("history"));
    repl::run(
        session,
        &history_dir,
        Duration::from_millis(args.live_ms.max(50)),
    )?;
    Ok(0)
}

fn print_shown(text: &str) {
    if !text.is_empty() {
        println!("{text}");
    }
}
