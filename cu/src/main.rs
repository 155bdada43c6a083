//! `ao-cu`: parses flags and environment into a [`cu::Config`], binds, and runs the CU until
//! SIGINT or SIGTERM. `ao-cu verify …` instead replays a process from a gateway and checks
//! another CU's results ([`cu::verify`]).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use cu::verify::{Progress, Report, VerifyOptions};
use tokio_util::sync::CancellationToken;

/// `ao-cu verify`: rebuild a process from permanent storage alone, evaluate it, and compare
/// every result (and the final state hash) with what a CU serves.
#[derive(Debug, Parser)]
#[command(name = "ao-cu verify", version)]
struct VerifyArgs {
    /// The process to verify.
    #[arg(long)]
    process: String,
    /// The gateway to rebuild it from (GraphQL and /raw).
    #[arg(long = "from", default_value = "http://127.0.0.1:4000")]
    gateway: String,
    /// The CU whose results are checked; without it the replay only reports its state hash.
    #[arg(long)]
    against: Option<String>,
    /// Seconds to wait for any one answer.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

/// mimalloc: Lua allocates and frees small blocks at a high rate, and glibc's malloc spent a
/// quarter of the engine's time doing so (W1 ran 40–60% faster with mimalloc here). The
/// allocator does not affect evaluation: Lua's memory limit counts requested bytes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("verify") {
        let args = VerifyArgs::parse_from(std::env::args().skip(1));
        let code = verify(args).await?;
        std::process::exit(code);
    }
    ao_unit::init_tracing();
    let (listen, config) = cu::Args::parse()
        .into_config()
        .context("reading the CU configuration")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(ao_unit::cancel_on_signal(shutdown.clone()));
    cu::run(config, listener, shutdown)
        .await
        .context("running the CU")
}

/// Exit status: 0 when everything matched, 1 on a divergence, 2 when verification could not
/// be done (the error says why).
async fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    ao_unit::init_tracing_with_default("error");
    let Ok(process) = args.process.parse() else {
        eprintln!("--process {:?} is not a process id", args.process);
        return Ok(2);
    };
    let dir = tempdir()?;
    let options = VerifyOptions {
        process,
        gateway_url: args.gateway.trim_end_matches('/').to_owned(),
        against: args.against.map(|a| a.trim_end_matches('/').to_owned()),
        data_dir: dir.clone(),
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
    };
    eprintln!(
        "verifying process {} from {}{}",
        args.process,
        options.gateway_url,
        options
            .against
            .as_deref()
            .map(|a| format!(" against the CU at {a}"))
            .unwrap_or_default()
    );
    let tty = std::io::stderr().is_terminal();
    let result = cu::verify::verify(&options, |p| bar(tty, p)).await;
    if tty {
        eprint!("\r\x1b[K");
    }
    std::fs::remove_dir_all(&dir).ok();
    match result {
        Ok(report) => {
            print_report(&report);
            Ok(if report.divergence.is_some() { 1 } else { 0 })
        }
        Err(e) => {
            eprintln!("verification failed: {e}");
            Ok(2)
        }
    }
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("ao-cu-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A progress bar on a terminal; nothing otherwise (logs stay clean).
fn bar(tty: bool, progress: Progress) {
    if !tty {
        return;
    }
    let (what, done, total) = match progress {
        Progress::Fetching { done, total } => ("fetched", done, total),
        Progress::Comparing { done, total } => ("replayed", done, total),
    };
    if total == 0 || (done % 16 != 0 && done != total) {
        return;
    }
    const WIDTH: usize = 30;
    let filled = WIDTH * done / total;
    eprint!(
        "\r[{}{}] {done}/{total} {what}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    );
    std::io::stderr().flush().ok();
}

fn print_report(r: &Report) {
    let rate = r.messages as f64 / r.replay_time.as_secs_f64().max(1e-9);
    println!(
        "rebuilt {} messages from the gateway in {:.2} s: every item verified, signed by scheduler {}, nonces gap-free, hash chain intact",
        r.messages,
        r.rebuild_time.as_secs_f64(),
        r.scheduler
    );
    println!(
        "replayed in {:.2} s ({rate:.0} msgs/s); state hash after nonce {}: {}",
        r.replay_time.as_secs_f64(),
        r.messages.saturating_sub(1),
        r.state_hash
    );
    match &r.divergence {
        None if r.compared > 0 && r.state_compared => println!(
            "OK: all {} results and the final state hash match",
            r.compared
        ),
        None if r.compared > 0 => println!(
            "OK: all {} results match (the other CU does not serve its state at nonce {} to compare)",
            r.compared,
            r.messages.saturating_sub(1)
        ),
        None => println!("nothing compared (no --against CU)"),
        Some(d) => {
            println!(
                "DIVERGENCE at nonce {} (message {}): {} differ",
                d.nonce,
                d.message,
                d.fields.join(", ")
            );
            for field in &d.fields {
                let pick = |v: &serde_json::Value| {
                    let v = if field == "state hash" { v } else { &v[field] };
                    let text = v.to_string();
                    if text.len() > 300 {
                        format!("{}…", &text[..text.floor_char_boundary(300)])
                    } else {
                        text
                    }
                };
                println!("  {field}");
                println!("    replayed: {}", pick(&d.replayed));
                println!("    served:   {}", pick(&d.served));
            }
        }
    }
}
