//! MU throughput and push latency over real HTTP on loopback, with the real gateway, SU and
//! CU in the same process (all on this machine's cores, with the client):
//! - `accept_*`: pre-signed messages (RSA-4096 like aoconnect, and ed25519) posted at a fixed
//!   concurrency over 10 processes; each 202 means verified, ordered by the SU and its crank
//!   on disk. `drained_*` adds the time until every crank (a CU evaluation) has run.
//! - `chain_*`: a message that bounces between two processes `HOPS` times through the push
//!   loop: from the POST to the last hop's evaluation, p50/p99 over `CHAINS` chains.
//!
//! Prints `name value unit` lines. `MU_BENCH_N` sets the messages per key type (default 2000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ao_core::wallet::Jwk;
use ao_core::{Id, ItemBuilder, Signer};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

const PROCESSES: usize = 10;
const CONCURRENCY: usize = 32;
const HOPS: u32 = 10;
const CHAINS: usize = 20;

struct Net {
    client: reqwest::Client,
    su_address: String,
    cu_url: String,
    mu_url: String,
    mu_address: String,
    module: Id,
    user: Signer,
    shutdown: CancellationToken,
    _dirs: Vec<tempfile::TempDir>,
}

async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

async fn ready(client: &reqwest::Client, url: &str) -> Json {
    for _ in 0..400 {
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
    async fn start() -> Net {
        let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let shutdown = CancellationToken::new();
        let client = reqwest::Client::new();
        let (listener, gateway_url) = bind().await;
        let config = gateway::Config::new(dirs[0].path());
        tokio::spawn(gateway::run(config, listener, shutdown.clone()));
        ready(&client, &format!("{gateway_url}/info")).await;
        let (listener, su_url) = bind().await;
        let config = su::Config::new(dirs[1].path());
        tokio::spawn(su::run(config, listener, shutdown.clone()));
        let su_address = ready(&client, &format!("{su_url}/")).await["address"]
            .as_str()
            .unwrap()
            .to_owned();
        let (listener, cu_url) = bind().await;
        let config = cu::Config::new(dirs[2].path(), &su_url, &gateway_url);
        tokio::spawn(cu::run(config, listener, shutdown.clone()));
        ready(&client, &format!("{cu_url}/")).await;
        let (listener, mu_url) = bind().await;
        let mut config = mu::Config::new(dirs[3].path(), &cu_url);
        config.gateway_url = Some(gateway_url.clone());
        config.su_urls = vec![su_url];
        tokio::spawn(mu::run(config, listener, shutdown.clone()));
        let mu_address = ready(&client, &format!("{mu_url}/health")).await["address"]
            .as_str()
            .unwrap()
            .to_owned();

        let user = Signer::from_ed25519_seed(&[5; 32]).unwrap();
        let module = ItemBuilder::new()
            .tag("Data-Protocol", "ao")
            .tag("Type", "Module")
            .tag("Module-Format", "lua53")
            .tag("Input-Encoding", "JSON-1")
            .tag("Output-Encoding", "JSON-1")
            .tag("Content-Type", "application/json")
            .data(cu::library::bundle())
            .sign(&user)
            .unwrap();
        client
            .post(format!("{gateway_url}/tx/arweave"))
            .body(module.encode())
            .send()
            .await
            .unwrap();
        Net {
            client,
            su_address,
            cu_url,
            mu_url,
            mu_address,
            module: module.id(),
            user,
            shutdown,
            _dirs: dirs,
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
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    }

    async fn spawn(&self, n: u64) -> Id {
        let item = ItemBuilder::new()
            .anchor(anchor(u64::MAX - n))
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Process")
            .tag("Module", self.module.to_string())
            .tag("Scheduler", self.su_address.clone())
            .tag("Authority", self.mu_address.clone())
            .sign(&self.user)
            .unwrap();
        self.post(item.encode()).await;
        item.id()
    }

    fn message(
        &self,
        signer: &Signer,
        pid: &Id,
        n: u64,
        tags: &[(&str, &str)],
        data: &str,
    ) -> Vec<u8> {
        let mut builder = ItemBuilder::new()
            .target(*pid)
            .anchor(anchor(n))
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Message");
        for (name, value) in tags {
            builder = builder.tag(*name, *value);
        }
        builder.data(data).sign(signer).unwrap().encode()
    }

    async fn eval(&self, pid: &Id, n: u64, code: &str) {
        let item = self.message(&self.user, pid, n, &[("Action", "Eval")], code);
        self.post(item).await;
    }

    async fn read(&self, pid: &Id, expr: &str) -> String {
        let body = json!({
            "Owner": self.user.address(),
            "Tags": [{"name": "Action", "value": "Eval"}],
            "Data": format!("return tostring({expr})"),
        });
        let r = self
            .client
            .post(format!("{}/dry-run?process-id={pid}", self.cu_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let result: Json = r.json().await.unwrap();
        result["Output"]["data"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn wait_for(&self, pid: &Id, expr: &str, expected: &str) {
        let start = Instant::now();
        while self.read(pid, expr).await != expected {
            assert!(
                start.elapsed() < Duration::from_secs(600),
                "{expr} never became {expected}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn queue_depth(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.mu_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("mu_queue_depth "))
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn anchor(n: u64) -> [u8; 32] {
    format!("{n:032}").as_bytes().try_into().unwrap()
}

async fn accept(net: &Arc<Net>, name: &str, signer: Signer, processes: &[Id], n: usize, base: u64) {
    let signer = Arc::new(signer);
    // Sign ahead of time, on both cores (RSA-4096 takes milliseconds per item).
    let mut signing = Vec::new();
    for half in 0..2u64 {
        let (net, signer, processes) = (net.clone(), signer.clone(), processes.to_vec());
        signing.push(tokio::task::spawn_blocking(move || {
            (0..n as u64)
                .filter(|i| i % 2 == half)
                .map(|i| {
                    let pid = &processes[i as usize % processes.len()];
                    net.message(&signer, pid, base + i, &[("Action", "Count")], "1")
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut items = Vec::new();
    for part in signing {
        items.extend(part.await.unwrap());
    }
    let items = Arc::new(tokio::sync::Mutex::new(items));
    let start = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CONCURRENCY {
        let (net, items) = (net.clone(), items.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let Some(item) = items.lock().await.pop() else {
                    return;
                };
                net.post(item).await;
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let accepted = start.elapsed();
    while net.queue_depth().await > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = start.elapsed();
    println!(
        "accept_{name} {:.0} msgs/s (c{CONCURRENCY}, {n} messages)",
        n as f64 / accepted.as_secs_f64()
    );
    println!(
        "drained_{name} {:.0} msgs/s (accepted and cranked)",
        n as f64 / drained.as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The allocator every unit binary uses (see `cu/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("MU_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let net = Arc::new(Net::start().await);
    let mut processes = Vec::new();
    for i in 0..PROCESSES as u64 {
        let pid = net.spawn(i).await;
        net.eval(
            &pid,
            1,
            "Count = 0; Handlers.add('count', 'Count', function(m) Count = Count + 1 end)",
        )
        .await;
        processes.push(pid);
    }
    for pid in &processes {
        net.wait_for(pid, "Count", "0").await;
    }

    accept(
        &net,
        "ed25519",
        Signer::from_ed25519_seed(&[6; 32]).unwrap(),
        &processes,
        n,
        1000,
    )
    .await;
    let rsa = Jwk::generate_rsa4096().unwrap().signer().unwrap();
    accept(&net, "rsa4096", rsa, &processes, n, 1_000_000).await;
    let total: u64 = {
        let mut sum = 0;
        for pid in &processes {
            sum += net.read(pid, "Count").await.parse::<u64>().unwrap();
        }
        sum
    };
    assert_eq!(
        total,
        2 * n as u64,
        "every accepted message was evaluated once"
    );

    // Push chains: A and B hand a counter back and forth through the MU.
    let a = net.spawn(100).await;
    let b = net.spawn(101).await;
    for (me, other) in [(&a, &b), (&b, &a)] {
        net.eval(
            me,
            2,
            &format!(
                "Done = 0; Handlers.add('hop', 'Hop', function(m) local n = tonumber(m.Data); \
                 if n > 1 then ao.send({{ Target = '{other}', Action = 'Hop', Data = tostring(n - 1) }}) \
                 else Done = Done + 1 end end)"
            ),
        )
        .await;
    }
    net.wait_for(&a, "Done", "0").await;
    net.wait_for(&b, "Done", "0").await;
    // HOPS evaluations per chain: the user's message on A, then HOPS - 1 pushes; with HOPS
    // even the last one runs on B.
    let last = if HOPS.is_multiple_of(2) { &b } else { &a };
    let mut latencies = Vec::new();
    for chain in 0..CHAINS {
        let item = net.message(
            &net.user,
            &a,
            10_000 + chain as u64,
            &[("Action", "Hop")],
            &HOPS.to_string(),
        );
        let start = Instant::now();
        net.post(item).await;
        net.wait_for(last, "Done", &(chain + 1).to_string()).await;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!("chain_{HOPS}_hops_p50 {:.1} ms", p50.as_secs_f64() * 1e3);
    println!("chain_{HOPS}_hops_p99 {:.1} ms", p99.as_secs_f64() * 1e3);
    println!(
        "push_hop_p50 {:.2} ms (one MU push: sign, SU order, CU evaluate, crank)",
        p50.as_secs_f64() * 1e3 / f64::from(HOPS - 1)
    );
    net.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
}
