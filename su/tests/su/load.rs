//! Concurrency (many clients, many processes) and crash safety (SIGKILL mid-load).

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ao_core::Id;

use crate::common::*;

const PROCESSES: usize = 50;
const CLIENTS: usize = 16;

/// Messages per client (the full 16 × 1,000 takes about 7 s in a debug build on 2 cores).
fn per_client() -> usize {
    1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_gap_free_chained_schedules() {
    let su = Su::start().await;
    let c = client();
    let mut pids = Vec::new();
    for i in 0..PROCESSES {
        pids.push(spawn(&c, &su, &format!("load-{i}")).await);
    }
    let pids = Arc::new(pids);
    let mut tasks = Vec::new();
    for client_no in 0..CLIENTS {
        let (pids, url, c) = (pids.clone(), su.url.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            let s = signer(100 + client_no as u8);
            let mut sent = Vec::new();
            for n in 0..per_client() {
                let pid = &pids[(client_no * 7 + n) % PROCESSES];
                let m = message_item(&s, &Id::parse(pid, "pid").unwrap(), n as u64);
                let (status, body) = post(&c, &url, &m).await;
                assert_eq!(status, 200, "{body}");
                sent.push((pid.clone(), m.id().to_string()));
            }
            sent
        }));
    }
    let mut sent: HashMap<String, HashSet<String>> = HashMap::new();
    for t in tasks {
        for (pid, id) in t.await.unwrap() {
            sent.entry(pid).or_default().insert(id);
        }
    }
    let mut total = 0;
    for pid in pids.iter() {
        let edges = schedule(&c, &su.url, pid).await;
        let ids = check_schedule(pid, &edges);
        assert_eq!(ids[0], *pid);
        let got: HashSet<String> = ids[1..].iter().cloned().collect();
        assert_eq!(got.len(), ids.len() - 1, "a message was scheduled twice");
        assert_eq!(&got, sent.get(pid).unwrap());
        total += ids.len() - 1;
    }
    assert_eq!(total, CLIENTS * per_client());
    su.stop().await;
}

struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_binary(dir: &std::path::Path) -> (Binary, String, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ao-su"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let child = Binary(child);
    let address = wait_ready(&url).await;
    (child, url, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, address) = start_binary(dir.path()).await;
    let c = client();
    let mut pids = Vec::new();
    for i in 0..5 {
        let p = process_item(&signer(1), &address, &format!("crash-{i}"));
        assert_eq!(post(&c, &url, &p).await.0, 200);
        pids.push(p.id());
    }
    // (process, message id, acknowledged timestamp)
    let acked: Arc<Mutex<Vec<(Id, String, u64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let (c, url, pids, acked) = (c.clone(), url.clone(), pids.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let s = signer(50 + w as u8);
            for n in 0.. {
                let pid = pids[(w as usize + n) % pids.len()];
                let m = message_item(&s, &pid, n as u64);
                let sent = c.post(format!("{url}/")).body(m.encode()).send().await;
                let Ok(r) = sent else { break };
                if r.status() != 200 {
                    break;
                }
                let Ok(body) = r.json::<serde_json::Value>().await else {
                    break;
                };
                let ts = body["timestamp"].as_u64().unwrap();
                acked.lock().unwrap().push((pid, m.id().to_string(), ts));
            }
        }));
    }
    while acked.lock().unwrap().len() < 400 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);

    let (_child, url, _) = start_binary(dir.path()).await;
    let c = client();
    let mut by_id: HashMap<String, (Id, u64)> = HashMap::new();
    for (pid, id, ts) in &acked {
        by_id.insert(id.clone(), (*pid, *ts));
    }
    for pid in &pids {
        let p = pid.to_string();
        let edges = schedule(&c, &url, &p).await;
        let ids = check_schedule(&p, &edges);
        for (edge, id) in edges.iter().zip(&ids) {
            if let Some((_, ts)) = by_id.remove(id) {
                let a = &edge["node"]["assignment"];
                assert_eq!(tag(a, "Timestamp").unwrap(), ts.to_string());
            }
        }
        // New writes continue the chain: no nonce reused.
        for n in 0..3 {
            let m = message_item(&signer(99), pid, 10_000 + n);
            let (status, body) = post(&c, &url, &m).await;
            assert_eq!(status, 200, "{body}");
        }
        let after = schedule(&c, &url, &p).await;
        check_schedule(&p, &after);
        assert_eq!(after.len(), edges.len() + 3);
    }
    assert!(
        by_id.is_empty(),
        "{} acknowledged messages lost",
        by_id.len()
    );
}

/// `GET /timestamp?process-id=P` answers only once every message of P stamped at or before
/// its answer is readable: a reader (the CU running cron ticks up to that time) that reads the
/// schedule afterwards never misses one. It once answered the bare clock while stamped
/// messages were still waiting for their commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_for_a_process_waits_for_its_stamped_messages() {
    const WRITERS: usize = 8;
    const EACH: usize = 60;
    let su = Su::start().await;
    let c = client();
    let pid = spawn(&c, &su, "settled").await;
    let process = Id::parse(&pid, "pid").unwrap();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (url, c) = (su.url.clone(), c.clone());
        writers.push(tokio::spawn(async move {
            let s = signer(50 + w as u8);
            for n in 0..EACH {
                let (status, body) = post(&c, &url, &message_item(&s, &process, n as u64)).await;
                assert_eq!(status, 200, "{body}");
            }
        }));
    }
    // While they write: each answer, then what the schedule showed right after it.
    let mut seen: Vec<(u64, usize)> = Vec::new();
    while !writers.iter().all(|w| w.is_finished()) {
        let (status, body) = get(&c, &format!("{}/timestamp?process-id={pid}", su.url)).await;
        assert_eq!(status, 200, "{body}");
        let t: u64 = body["timestamp"].as_str().unwrap().parse().unwrap();
        let (_, page) = get(&c, &format!("{}/{pid}?to={t}&limit=1000", su.url)).await;
        // Without `from` the process itself is the first edge.
        seen.push((t, page["edges"].as_array().unwrap().len() - 1));
    }
    for w in writers {
        w.await.unwrap();
    }
    let edges = schedule(&c, &su.url, &pid).await;
    let stamps: Vec<u64> = edges
        .iter()
        .map(|e| {
            tag(&e["node"]["assignment"], "Timestamp")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(!seen.is_empty());
    for (t, read) in seen {
        let stamped = stamps[1..].iter().filter(|s| **s <= t).count();
        assert_eq!(
            read, stamped,
            "at {t} the schedule showed {read} of {stamped} stamped messages"
        );
    }
    su.stop().await;
}
