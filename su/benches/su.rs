//! SU throughput and latency over real HTTP on loopback: pre-signed ed25519 messages are
//! posted at concurrency 1, 16 and 256 (spread over 50 processes, and all into one process);
//! each answer means ordered, assignment signed, and durably committed. Prints `name value
//! unit` lines. Check: every process's latest nonce adds up to the number of messages sent.
//!
//! The client runs in the same process and on the same cores as the SU, so besides the rate
//! each level prints the CPU time per message of the whole process (client included) and of the
//! SU's writer thread alone: on a shared machine these are steadier than the rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ao_core::{DataItem, Id, ItemBuilder, Signer};
use tokio_util::sync::CancellationToken;

const PROCESSES: usize = 50;

fn message(signer: &Signer, process: &Id, n: u64) -> Vec<u8> {
    let anchor: [u8; 32] = format!("{n:032}").as_bytes().try_into().unwrap();
    ItemBuilder::new()
        .target(*process)
        .anchor(anchor)
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Message")
        .tag("Action", "Ping")
        .data("ping")
        .sign(signer)
        .unwrap()
        .encode()
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Duration {
    let start = Instant::now();
    let r = client
        .post(url)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let _ = r.bytes().await.unwrap();
    start.elapsed()
}

/// A keep-alive HTTP/1.1 connection that sends pre-built requests and reads just enough of
/// each answer (status, `content-length`, body): the server's work per message is unchanged,
/// while the client's share of these 2 cores stays far smaller than reqwest's.
struct RawConnection {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl RawConnection {
    async fn open(addr: std::net::SocketAddr) -> RawConnection {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawConnection {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The complete request for a raw data item.
    fn request(addr: std::net::SocketAddr, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/octet-stream\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    async fn post(&mut self, request: &[u8]) -> Duration {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let start = Instant::now();
        self.stream.write_all(request).await.unwrap();
        self.buf.clear();
        let (head, len) = loop {
            assert!(
                self.stream.read_buf(&mut self.buf).await.unwrap() > 0,
                "closed"
            );
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..at]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                break (head, at + 4 + len);
            }
        };
        while self.buf.len() < len {
            assert!(
                self.stream.read_buf(&mut self.buf).await.unwrap() > 0,
                "closed"
            );
        }
        assert!(
            head.starts_with("http/1.1 200"),
            "{}",
            String::from_utf8_lossy(&self.buf)
        );
        start.elapsed()
    }
}

/// Which client posts the timed messages.
#[derive(Clone, Copy, PartialEq)]
enum Client {
    /// [`RawConnection`], the default.
    Raw,
    /// reqwest (`SU_BENCH_CLIENT=reqwest`), as the first version of this bench did.
    Reqwest,
}

async fn level(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    items: Vec<Vec<u8>>,
    concurrency: usize,
    kind: Client,
) {
    let total = items.len();
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let items = match kind {
        Client::Raw => items
            .iter()
            .map(|body| RawConnection::request(addr, body))
            .collect(),
        Client::Reqwest => items,
    };
    let queue = Arc::new(std::sync::Mutex::new(items));
    let mut connections = Vec::new();
    if kind == Client::Raw {
        for _ in 0..concurrency {
            connections.push(RawConnection::open(addr).await);
        }
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, queue) = (client.clone(), url.to_owned(), queue.clone());
        let mut connection = connections.pop();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(body) = next else { break };
                latencies.push(match &mut connection {
                    Some(c) => c.post(&body).await,
                    None => post(&client, &url, body).await,
                });
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "su_{name}_throughput {:.0} msgs/s",
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "su_{name}_latency_p50 {:.3} ms",
        pct(0.50).as_secs_f64() * 1e3
    );
    println!(
        "su_{name}_latency_p99 {:.3} ms",
        pct(0.99).as_secs_f64() * 1e3
    );
}

/// (commits, writes, seconds committing) from the metrics.
async fn commit_stats(client: &reqwest::Client, url: &str) -> (f64, f64, f64) {
    let text = client
        .get(format!("{url}metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    (
        value("su_commit_batch_size_count "),
        value("su_commit_batch_size_sum "),
        value("su_commit_seconds_total "),
    )
}

/// CPU seconds used so far by this whole process (every thread, the client's too).
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(vec![], |(_, rest)| rest.split(' ').collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far by the SU's writer thread.
fn writer_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "su-writer" {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            let ns: f64 = stat
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0.0);
            return ns / 1e9;
        }
    }
    0.0
}

async fn latest_nonce(client: &reqwest::Client, url: &str, pid: &Id) -> u64 {
    let v: serde_json::Value = client
        .get(format!("{url}/{pid}/latest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tags = v["assignment"]["tags"].as_array().unwrap();
    let nonce = tags.iter().find(|t| t["name"] == "Nonce").unwrap();
    nonce["value"].as_str().unwrap().parse().unwrap()
}

/// The allocator every unit binary uses (see `cu/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(su::run(
            su::Config::new(dir.path()),
            listener,
            shutdown.clone(),
        ));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .build()
            .unwrap();
        let mut address = String::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(&url).send().await {
                let v: serde_json::Value = r.json().await.unwrap();
                address = v["address"].as_str().unwrap().to_owned();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let owner = Signer::from_ed25519_seed(&[1; 32]).unwrap();
        let mut pids = Vec::new();
        for i in 0..PROCESSES {
            let p: DataItem = ItemBuilder::new()
                .tag("Data-Protocol", "ao")
                .tag("Type", "Process")
                .tag("Module", Id([9; 32]).to_string())
                .tag("Scheduler", address.clone())
                .tag("Name", format!("bench-{i}"))
                .sign(&owner)
                .unwrap();
            post(&client, &url, p.encode()).await;
            pids.push(p.id());
        }
        let signer = Signer::from_ed25519_seed(&[2; 32]).unwrap();
        let mut n = 0u64;
        let mut sign = |count: usize, spread: usize| -> Vec<Vec<u8>> {
            (0..count)
                .map(|i| {
                    n += 1;
                    message(&signer, &pids[i % spread], n)
                })
                .collect()
        };
        let levels = [
            ("c1", 1, 3_000, PROCESSES),
            ("c16", 16, 30_000, PROCESSES),
            ("c256", 256, 50_000, PROCESSES),
            ("c16_one_process", 16, 20_000, 1),
        ];
        let batches: Vec<_> = levels
            .iter()
            .map(|(_, _, count, spread)| sign(*count, *spread))
            .collect();
        let kind = match std::env::var("SU_BENCH_CLIENT").as_deref() {
            Ok("reqwest") => Client::Reqwest,
            _ => Client::Raw,
        };
        let mut sent = 0;
        for ((name, concurrency, count, _), items) in levels.iter().zip(batches) {
            let before = commit_stats(&client, &url).await;
            let cpu = (process_cpu(), writer_cpu());
            level(&client, &url, name, items, *concurrency, kind).await;
            let cpu = (process_cpu() - cpu.0, writer_cpu() - cpu.1);
            let after = commit_stats(&client, &url).await;
            println!(
                "su_{name}_cpu_per_msg {:.1} us",
                cpu.0 / *count as f64 * 1e6
            );
            println!(
                "su_{name}_writer_cpu_per_msg {:.1} us",
                cpu.1 / *count as f64 * 1e6
            );
            let commits = after.0 - before.0;
            println!("su_{name}_commits {commits} commits");
            println!(
                "su_{name}_batch_mean {:.1} writes",
                (after.1 - before.1) / commits
            );
            println!(
                "su_{name}_commit_mean {:.3} ms",
                (after.2 - before.2) / commits * 1e3
            );
            sent += count;
        }
        let mut ordered = 0;
        for pid in &pids {
            ordered += latest_nonce(&client, url.trim_end_matches('/'), pid).await;
        }
        assert_eq!(
            ordered as usize, sent,
            "check failed: messages lost or duplicated"
        );
        println!("su_check_messages_ordered {ordered} msgs");
        shutdown.cancel();
        server.await.unwrap().unwrap();
    });
}
