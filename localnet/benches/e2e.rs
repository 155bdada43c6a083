//! E2E benchmark (BENCHMARKS.md "E2E — through the network"): pre-signed `Action=Ping`
//! messages (ed25519 and RSA-4096, alternating) posted to the MU at a fixed concurrency, each
//! ordered by the SU, evaluated by the CU (W1's handler) and its result read back from the CU.
//!
//! Each unit runs in its own OS process so the CPU split between units can be read from
//! `/proc/<pid>/stat`: this binary re-executes itself with `--unit <name>` and, in that mode,
//! runs one unit wired as `localnet` wires it, until its stdin closes. The client (this
//! process) shares the machine's cores with the four units.
//!
//! Phases, after 200 untimed pings: closed loop at `E2E_C` clients over `PROCESSES` processes
//! (peak), the same on one process, then open loop at half the multi-process sustained rate
//! (latency). Latency runs from the POST (its scheduled time in the open loop) until
//! `GET /result/{id}` on the CU answers. "Sustained" also waits until the MU has drained its
//! cranks (each result read back and its pong delivered to the gateway) and the SU its outbox
//! (every message and assignment uploaded to the gateway).
//!
//! `-- processes N` instead spawns N library processes through the MU (each ordered by the SU,
//! its Process message evaluated by the CU when the MU cranks it) and reports the spawn rate
//! and the CU's resident processes and memory at the end.
//!
//! Prints `name value unit` lines. `E2E_N` sets the messages per phase (default 2000), `E2E_C`
//! the closed-loop concurrency (default 32). The machine's load average is printed first: other
//! work on the same cores shows up in every figure.
//! Check: every result has one outbox message, and `Count` on each process equals the pings it
//! was sent; a mismatch panics.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ao_core::wallet::Jwk;
use ao_core::{Id, ItemBuilder, Signer};
use localnet::wiring;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

const PROCESSES: usize = 8;
const CONCURRENCY_DEFAULT: usize = 32;
const WARM_UP: usize = 200;
const N_DEFAULT: usize = 2000;
const RESULT_TIMEOUT: Duration = Duration::from_secs(120);
const PING_HANDLER: &str = "Handlers.add('ping', Handlers.utils.hasMatchingTag('Action','Ping'), \
    function(m) Count = (Count or 0) + 1; ao.send({Target=m.From, Data='pong'}) end)";

/// The allocator every unit binary uses: mimalloc (why: `cu/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` adds `--bench` (and possibly a filter); only `--unit` changes the mode.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    match (flag(&args, "--unit"), flag(&args, "processes")) {
        (Some(unit), _) => unit_main(&unit, &args),
        (None, Some(n)) => runtime().block_on(many_processes(n.parse().expect("processes N"))),
        (None, None) => runtime().block_on(bench()),
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

// ---------------------------------------------------------------------------------------------
// Unit mode: one unit in this process.

fn unit_main(unit: &str, args: &[String]) {
    ao_unit::init_tracing_with_default("warn");
    let need = |name: &str| flag(args, name).unwrap_or_else(|| panic!("--unit {unit}: {name}"));
    let dir = PathBuf::from(need("--data-dir"));
    let listen = flag(args, "--listen").unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let result: anyhow::Result<()> = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        // The parent reads this line to learn the port.
        println!("listening http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        // The parent closes our stdin (or dies) to stop us.
        std::thread::spawn(move || {
            std::io::copy(&mut std::io::stdin(), &mut std::io::sink()).ok();
            stop.cancel();
        });
        match unit {
            "gateway" => {
                let config = wiring::gateway(&dir, Duration::from_secs(1));
                gateway::run(config, listener, shutdown).await?;
            }
            "su" => {
                let config = wiring::su(&dir, &need("--gateway"));
                su::run(config, listener, shutdown).await?;
            }
            "cu" => {
                let config = wiring::cu(&dir, &need("--su"), &need("--gateway"));
                cu::run(config, listener, shutdown).await?;
            }
            "mu" => {
                let config = wiring::mu(&dir, &need("--cu"), &need("--gateway"), &need("--su"));
                mu::run(config, listener, shutdown).await?;
            }
            other => anyhow::bail!("unknown unit {other}"),
        }
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("{unit}: {e:#}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The network: four child processes, stopped (stdin closed, then killed) when dropped, also
// while a panic unwinds.

struct Unit {
    name: &'static str,
    child: Child,
    _stdout: BufReader<ChildStdout>,
}

#[derive(Default)]
struct Units(Vec<Unit>);

impl Units {
    fn start(&mut self, name: &'static str, dir: &Path, urls: &[(&str, &str)]) -> String {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--unit", name, "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir);
        for (flag, url) in urls {
            command.args([flag, url]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening ").map(str::to_owned);
        // Push before checking so a failed start is still killed.
        self.0.push(Unit {
            name,
            child,
            _stdout: stdout,
        });
        url.unwrap_or_else(|| panic!("the {name} did not start: {line:?}"))
    }

    fn pids(&self) -> Vec<(&'static str, u32)> {
        self.0.iter().map(|u| (u.name, u.child.id())).collect()
    }
}

impl Drop for Units {
    fn drop(&mut self) {
        // MU first, as localnet stops them.
        for unit in self.0.iter_mut().rev() {
            drop(unit.child.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(unit.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            unit.child.kill().ok();
            unit.child.wait().ok();
        }
    }
}

struct Net {
    client: reqwest::Client,
    su_url: String,
    cu_url: String,
    mu_url: String,
    scheduler: String,
    authority: String,
    module: Id,
    owner: Signer,
}

static ANCHORS: AtomicU64 = AtomicU64::new(0);

fn next_anchor() -> [u8; 32] {
    let n = ANCHORS.fetch_add(1, Ordering::Relaxed);
    format!("{n:032}").as_bytes().try_into().unwrap()
}

async fn ready(client: &reqwest::Client, url: &str) -> Json {
    for _ in 0..1200 {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return r.json().await.unwrap_or(Json::Null);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{url} never became ready");
}

impl Net {
    async fn start(units: &mut Units, root: &Path) -> Net {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let gateway_url = units.start("gateway", &root.join("gateway"), &[]);
        ready(&client, &format!("{gateway_url}/info")).await;
        let su_url = units.start("su", &root.join("su"), &[("--gateway", &gateway_url)]);
        let su_info = ready(&client, &format!("{su_url}/")).await;
        let cu_url = units.start(
            "cu",
            &root.join("cu"),
            &[("--su", &su_url), ("--gateway", &gateway_url)],
        );
        ready(&client, &format!("{cu_url}/")).await;
        let mu_url = units.start(
            "mu",
            &root.join("mu"),
            &[
                ("--cu", &cu_url),
                ("--gateway", &gateway_url),
                ("--su", &su_url),
            ],
        );
        let mu_health = ready(&client, &format!("{mu_url}/health")).await;

        let publisher = Signer::from_ed25519_seed(&[3; 32]).unwrap();
        let library = localnet::publish_library(&client, &gateway_url, &publisher)
            .await
            .unwrap();
        Net {
            client,
            su_url,
            cu_url,
            mu_url,
            scheduler: su_info["address"].as_str().unwrap().to_owned(),
            authority: mu_health["address"].as_str().unwrap().to_owned(),
            module: library,
            owner: Signer::from_ed25519_seed(&[5; 32]).unwrap(),
        }
    }

    async fn post(&self, body: Vec<u8>) {
        let r = self
            .client
            .post(format!("{}/", self.mu_url))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "MU: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// The CU's result for `message`, retrying while the CU has not seen it scheduled.
    async fn result(&self, process: &Id, message: &Id) -> Json {
        let url = format!("{}/result/{message}?process-id={process}", self.cu_url);
        let start = Instant::now();
        loop {
            let r = self.client.get(&url).send().await.unwrap();
            if r.status().is_success() {
                return r.json().await.unwrap();
            }
            assert!(
                r.status() == 404 && start.elapsed() < RESULT_TIMEOUT,
                "CU: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn spawn(&self, name: &str) -> Id {
        let item = self.process_item(name);
        self.post(item.encode()).await;
        self.result(&item.id(), &item.id()).await;
        item.id()
    }

    fn process_item(&self, name: &str) -> ao_core::DataItem {
        ItemBuilder::new()
            .anchor(next_anchor())
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Process")
            .tag("Module", self.module.to_string())
            .tag("Scheduler", self.scheduler.clone())
            .tag("Authority", self.authority.clone())
            .tag("Name", name)
            .data("")
            .sign(&self.owner)
            .unwrap()
    }

    async fn cu_health(&self) -> Json {
        let r = self.client.get(format!("{}/health", self.cu_url)).send();
        r.await.unwrap().json().await.unwrap()
    }

    /// Sends an `Eval` through the MU and returns its output.
    async fn eval(&self, process: &Id, code: &str) -> String {
        let item = message(&self.owner, process, "Eval", code);
        self.post(item.encode()).await;
        let result = self.result(process, &item.id()).await;
        assert!(result.get("Error").is_none(), "{result}");
        result["Output"]["data"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A gauge from a unit's Prometheus text.
    async fn gauge(&self, url: &str, name: &str) -> u64 {
        let text = self
            .client
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{url} reports no {name}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits until the MU has pushed every crank and the SU has uploaded every ordered item
    /// to the gateway: work still queued is not sustained throughput.
    async fn drain(&self) {
        while self.gauge(&self.mu_url, "mu_queue_depth").await > 0
            || self.gauge(&self.su_url, "su_outbox_depth").await > 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn message(signer: &Signer, process: &Id, action: &str, data: &str) -> ao_core::DataItem {
    ItemBuilder::new()
        .target(*process)
        .anchor(next_anchor())
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Message")
        .tag("Action", action)
        .data(data)
        .sign(signer)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Pings: signed ahead of time, sent closed or open loop.

struct Ping {
    process: Id,
    id: Id,
    body: Vec<u8>,
    rsa: bool,
}

/// `n` pings over `processes`, alternating ed25519 and RSA, signed on both cores (each
/// signing half of either kind).
fn sign_pings(signers: &[Arc<Signer>; 2], processes: &[Id], n: usize) -> Vec<Ping> {
    let mut all: Vec<(usize, Ping)> = std::thread::scope(|scope| {
        let halves: Vec<_> = (0..2)
            .map(|half| {
                scope.spawn(move || {
                    (0..n)
                        .filter(|i| (i / 2) % 2 == half)
                        .map(|i| {
                            let rsa = i % 2 == 1;
                            let process = processes[(i / 2) % processes.len()];
                            let signer = &signers[usize::from(rsa)];
                            let item = message(signer, &process, "Ping", "ping");
                            let ping = Ping {
                                process,
                                id: item.id(),
                                body: item.encode(),
                                rsa,
                            };
                            (i, ping)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, p)| p).collect()
}

/// One ping: POST to the MU, then read its result from the CU. Returns the latency from
/// `start` and whether the result had exactly one outbox message.
async fn ping(net: &Net, p: &Ping, start: Instant) -> (Duration, bool) {
    net.post(p.body.clone()).await;
    let result = net.result(&p.process, &p.id).await;
    let one_outbox = result["Messages"].as_array().is_some_and(|m| m.len() == 1);
    (start.elapsed(), one_outbox)
}

struct Run {
    /// (latency, rsa) per message.
    latencies: Vec<(Duration, bool)>,
    /// Until the last result was read.
    results: Duration,
    /// Until the MU's queue was empty as well.
    drained: Duration,
    bad_outboxes: usize,
}

async fn closed_loop(net: &Arc<Net>, pings: Arc<Vec<Ping>>, concurrency: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (net, pings, next) = (net.clone(), pings.clone(), next.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = pings.get(i) else {
                        return out;
                    };
                    let (latency, ok) = ping(&net, p, Instant::now()).await;
                    out.push((latency, p.rsa, ok));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    finish(net, all, start).await
}

/// Sends ping `i` at `start + i / rate` whatever is in flight; latency counts from that time.
async fn open_loop(net: &Arc<Net>, pings: Arc<Vec<Ping>>, rate: f64) -> Run {
    let start = Instant::now();
    let tasks: Vec<_> = (0..pings.len())
        .map(|i| {
            let at = start + Duration::from_secs_f64(i as f64 / rate);
            let (net, pings) = (net.clone(), pings.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                let p = &pings[i];
                let (latency, ok) = ping(&net, p, at).await;
                (latency, p.rsa, ok)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    finish(net, all, start).await
}

async fn finish(net: &Net, all: Vec<(Duration, bool, bool)>, start: Instant) -> Run {
    let results = start.elapsed();
    net.drain().await;
    Run {
        bad_outboxes: all.iter().filter(|(_, _, ok)| !ok).count(),
        latencies: all.iter().map(|&(l, rsa, _)| (l, rsa)).collect(),
        results,
        drained: start.elapsed(),
    }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc.

/// utime + stime of `pid` ("self" for this process), in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) may hold spaces; fields after it start at 3 (state).
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

struct Cpu {
    /// (name, pid) of each unit, then the client.
    who: Vec<(&'static str, String)>,
    tick: f64,
}

impl Cpu {
    fn snapshot(&self) -> Vec<u64> {
        self.who.iter().map(|(_, pid)| cpu_ticks(pid)).collect()
    }

    fn report(&self, phase: &str, before: &[u64], after: &[u64], wall: Duration, n: usize) {
        let mut total = 0.0;
        for ((name, _), (b, a)) in self.who.iter().zip(before.iter().zip(after)) {
            let seconds = (a - b) as f64 / self.tick;
            total += seconds;
            println!("{phase}_cpu_{name} {seconds:.2} cpu-s");
            println!(
                "{phase}_cpu_per_msg_{name} {:.0} us/msg",
                seconds * 1e6 / n as f64
            );
        }
        println!(
            "{phase}_cpu_per_msg_total {:.0} us/msg",
            total * 1e6 / n as f64
        );
        println!(
            "{phase}_cpu_busy {:.0} % (of 2 cores over {:.2} s)",
            total * 100.0 / (2.0 * wall.as_secs_f64()),
            wall.as_secs_f64()
        );
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report_latency(phase: &str, run: &Run) {
    let mut all: Vec<Duration> = run.latencies.iter().map(|l| l.0).collect();
    all.sort();
    println!("{phase}_p50 {:.2} ms", ms(percentile(&all, 0.5)));
    println!("{phase}_p99 {:.2} ms", ms(percentile(&all, 0.99)));
    println!("{phase}_max {:.2} ms", ms(*all.last().unwrap()));
    for (key, rsa) in [("ed25519", false), ("rsa4096", true)] {
        let mut some: Vec<Duration> = run
            .latencies
            .iter()
            .filter(|l| l.1 == rsa)
            .map(|l| l.0)
            .collect();
        some.sort();
        println!("{phase}_p50_{key} {:.2} ms", ms(percentile(&some, 0.5)));
    }
}

#[derive(Clone, Copy)]
enum Load {
    /// This many clients, each sending its next ping once the last one's result is read.
    Closed(usize),
    /// Pings per second, whatever is in flight.
    Open(f64),
}

/// Runs one timed phase, prints its figures, and returns the sustained rate (until drained).
async fn phase(net: &Arc<Net>, cpu: &Cpu, name: &str, pings: Vec<Ping>, load: Load) -> f64 {
    let n = pings.len();
    let pings = Arc::new(pings);
    let before = cpu.snapshot();
    let run = match load {
        Load::Closed(concurrency) => closed_loop(net, pings, concurrency).await,
        Load::Open(rate) => open_loop(net, pings, rate).await,
    };
    let after = cpu.snapshot();
    let results_rate = n as f64 / run.results.as_secs_f64();
    let sustained = n as f64 / run.drained.as_secs_f64();
    match load {
        Load::Closed(c) => println!(
            "{name}_msgs_s {results_rate:.0} msgs/s (closed loop, c{c}, {n} messages, results read)"
        ),
        Load::Open(rate) => println!("{name}_offered {rate:.0} msgs/s (open loop, {n} messages)"),
    }
    println!("{name}_sustained {sustained:.0} msgs/s (until the MU and the SU outbox drained)");
    report_latency(name, &run);
    cpu.report(name, &before, &after, run.drained, n);
    assert_eq!(
        run.bad_outboxes, 0,
        "{name}: results without exactly one outbox message"
    );
    sustained
}

async fn bench() {
    let env = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, concurrency) = (env("E2E_N", N_DEFAULT), env("E2E_C", CONCURRENCY_DEFAULT));
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg = loadavg.split_whitespace().next().unwrap_or("?");
    println!("e2e_loadavg_1m {loadavg} runnable (before start; other work shares the cores)");
    let root = tempfile::tempdir().unwrap();
    let mut units = Units::default();
    let net = Arc::new(Net::start(&mut units, root.path()).await);

    let mut processes = Vec::new();
    for i in 0..=PROCESSES {
        let pid = net.spawn(&format!("e2e-{i}")).await;
        net.eval(&pid, PING_HANDLER).await;
        processes.push(pid);
    }
    let single = processes.pop().unwrap();

    let ed25519 = Signer::from_ed25519_seed(&[6; 32]).unwrap();
    let keys = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/keys.json"
    );
    let rsa = match std::fs::read_to_string(keys) {
        Ok(text) => {
            let keys: Json = serde_json::from_str(&text).unwrap();
            Jwk::from_json(&keys["rsa"]["jwk"].to_string()).unwrap()
        }
        Err(_) => Jwk::generate_rsa4096().unwrap(),
    };
    let signers = [Arc::new(ed25519), Arc::new(rsa.signer().unwrap())];
    let signing = Instant::now();
    let warm_up = sign_pings(&signers, &processes, WARM_UP);
    let peak = sign_pings(&signers, &processes, n);
    let peak_single = sign_pings(&signers, &[single], n);
    let half = sign_pings(&signers, &processes, n);
    println!(
        "e2e_presign {:.2} s ({} messages, half RSA-4096)",
        signing.elapsed().as_secs_f64(),
        WARM_UP + 3 * n
    );
    let mut expected = std::collections::HashMap::<Id, u64>::new();
    for p in warm_up.iter().chain(&peak).chain(&peak_single).chain(&half) {
        *expected.entry(p.process).or_default() += 1;
    }

    let mut who: Vec<(&'static str, String)> = units
        .pids()
        .into_iter()
        .map(|(name, pid)| (name, pid.to_string()))
        .collect();
    who.push(("client", "self".into()));
    let cpu = Cpu {
        who,
        tick: clock_ticks_per_second(),
    };

    let closed = Load::Closed(concurrency);
    closed_loop(&net, Arc::new(warm_up), concurrency).await;
    let rate = phase(&net, &cpu, "e2e_peak_8p", peak, closed).await;
    phase(&net, &cpu, "e2e_peak_1p", peak_single, closed).await;
    phase(&net, &cpu, "e2e_half_8p", half, Load::Open(rate / 2.0)).await;

    let mut total = 0;
    for (pid, want) in &expected {
        let count = net.eval(pid, "Count").await;
        let count: u64 = count
            .parse()
            .unwrap_or_else(|_| panic!("Count on {pid}: {count:?}"));
        assert_eq!(count, *want, "Count on {pid}");
        total += count;
    }
    println!(
        "e2e_check_count {total} pings (Count right on all {} processes, one outbox each)",
        expected.len()
    );
    drop(units);
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// `-- processes N`: N library processes spawned through the MU at `E2E_C` concurrency; each
/// is resident on the CU once the MU has cranked its Process message.
async fn many_processes(n: usize) {
    let concurrency = std::env::var("E2E_C")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONCURRENCY_DEFAULT);
    let root = tempfile::tempdir().unwrap();
    let mut units = Units::default();
    let net = Arc::new(Net::start(&mut units, root.path()).await);
    let cu_pid = units
        .pids()
        .into_iter()
        .find(|(name, _)| *name == "cu")
        .map(|(_, pid)| pid)
        .unwrap();
    let rss_before = rss_bytes(cu_pid);
    let items: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..n)
            .map(|i| net.process_item(&format!("many-{i}")).encode())
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let (net, items, next) = (net.clone(), items.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    net.post(item.clone()).await;
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let accepted = start.elapsed().as_secs_f64();
    // Every crank reads the spawn's result from the CU, which loads the process.
    net.drain().await;
    let loaded = start.elapsed().as_secs_f64();
    // Idle processes get a full collection after a second (`cu::worker`).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let health = net.cu_health().await;
    let resident = health["resident"].as_u64().unwrap_or(0);
    let rss = rss_bytes(cu_pid);
    println!("processes_spawned {n} processes (through the MU, concurrency {concurrency})");
    println!(
        "processes_accepted_rate {:.0} processes/s",
        n as f64 / accepted
    );
    println!(
        "processes_loaded_rate {:.0} processes/s (ordered, cranked, evaluated on the CU)",
        n as f64 / loaded
    );
    println!("processes_cu_resident {resident} processes");
    println!(
        "processes_cu_eval_threads {} threads",
        health["eval_threads"]
    );
    println!(
        "processes_cu_lua_per_process {} bytes",
        health["resident_memory_bytes"].as_u64().unwrap_or(0) / resident.max(1)
    );
    println!("processes_cu_rss {} MiB", rss >> 20);
    println!(
        "processes_cu_rss_per_process {} bytes",
        rss.saturating_sub(rss_before) / resident.max(1)
    );
    drop(units);
}
