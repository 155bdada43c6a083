//! Shared helpers: start an SU, sign items, read schedules, tiny HTTP stand-ins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ao_core::hash_chain::ChainVerifier;
use ao_core::{DataItem, Id, ItemBuilder, Signer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct Su {
    pub url: String,
    pub address: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), su::SuError>>,
    pub dir: Arc<tempfile::TempDir>,
}

impl Su {
    pub async fn start() -> Su {
        Su::start_with(|_| {}).await
    }

    pub async fn start_with(edit: impl FnOnce(&mut su::Config)) -> Su {
        Su::start_in(Arc::new(tempfile::tempdir().unwrap()), edit).await
    }

    /// Starts an SU on a data directory (reused across restarts).
    pub async fn start_in(dir: Arc<tempfile::TempDir>, edit: impl FnOnce(&mut su::Config)) -> Su {
        let mut config = su::Config::new(dir.path());
        edit(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(su::run(config, listener, shutdown.clone()));
        let address = wait_ready(&url).await;
        Su {
            url,
            address,
            shutdown,
            task,
            dir,
        }
    }

    pub async fn stop(self) -> Arc<tempfile::TempDir> {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        self.dir
    }
}

/// Waits until `GET /` answers; returns the SU address.
pub async fn wait_ready(url: &str) -> String {
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if let Ok(r) = client.get(format!("{url}/")).send().await
            && r.status().is_success()
        {
            let v: Value = r.json().await.unwrap();
            return v["address"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("SU at {url} never became ready");
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

pub fn signer(seed: u8) -> Signer {
    Signer::from_ed25519_seed(&[seed; 32]).unwrap()
}

pub fn module_id() -> Id {
    Id([9; 32])
}

pub fn process_item(signer: &Signer, scheduler: &str, name: &str) -> DataItem {
    ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Process")
        .tag("Module", module_id().to_string())
        .tag("Scheduler", scheduler)
        .tag("Name", name)
        .data("process data")
        .sign(signer)
        .unwrap()
}

pub fn anchor(n: u64) -> [u8; 32] {
    let text = format!("{n:032}");
    text.as_bytes().try_into().unwrap()
}

pub fn message_item(signer: &Signer, process: &Id, n: u64) -> DataItem {
    ItemBuilder::new()
        .target(*process)
        .anchor(anchor(n))
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Message")
        .tag("Action", "Ping")
        .data(format!("message {n}"))
        .sign(signer)
        .unwrap()
}

pub async fn post(client: &reqwest::Client, url: &str, item: &DataItem) -> (u16, Value) {
    post_raw(client, url, item.encode()).await
}

pub async fn post_raw(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, Value) {
    let r = client
        .post(format!("{url}/"))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, json_body(r).await)
}

pub async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, json_body(r).await)
}

/// The body as JSON; panics (naming the text) if it is not, since every answer must be JSON.
pub async fn json_body(r: reqwest::Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
}

pub fn tag<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    item["tags"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["value"].as_str())
}

/// Every edge of a process's schedule, paging by `from` with the cursors.
pub async fn schedule(client: &reqwest::Client, url: &str, process: &str) -> Vec<Value> {
    let mut edges = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let mut page_url = format!("{url}/{process}?limit=1000");
        if let Some(f) = &from {
            page_url.push_str(&format!("&from={f}"));
        }
        let (status, page) = get(client, &page_url).await;
        assert_eq!(status, 200, "{page}");
        let batch = page["edges"].as_array().unwrap().clone();
        from = batch
            .last()
            .map(|e| e["cursor"].as_str().unwrap().to_owned());
        edges.extend(batch);
        if !page["page_info"]["has_next_page"].as_bool().unwrap() {
            return edges;
        }
    }
}

/// Checks nonces 0.. gap-free, the hash chain and strictly increasing timestamps; returns
/// the message ids in order (the process id first).
pub fn check_schedule(process: &str, edges: &[Value]) -> Vec<String> {
    let pid = Id::parse(process, "process").unwrap();
    let mut chain = ChainVerifier::new(&pid);
    let mut last_ts = 0u64;
    let mut ids = Vec::new();
    for (i, edge) in edges.iter().enumerate() {
        let a = &edge["node"]["assignment"];
        assert_eq!(tag(a, "Nonce").unwrap(), i.to_string(), "nonce gap at {i}");
        assert_eq!(tag(a, "Process").unwrap(), process);
        let ts: u64 = tag(a, "Timestamp").unwrap().parse().unwrap();
        assert!(ts > last_ts, "timestamp not increasing at nonce {i}");
        last_ts = ts;
        let aid = Id::parse(a["id"].as_str().unwrap(), "a").unwrap();
        let hc = Id::parse(tag(a, "Hash-Chain").unwrap(), "hc").unwrap();
        chain.check(&aid, &hc).unwrap();
        ids.push(
            edge["node"]["message"]["id"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    ids
}

/// Spawns a process on `su`; returns its id.
pub async fn spawn(client: &reqwest::Client, su: &Su, name: &str) -> String {
    let item = process_item(&signer(1), &su.address, name);
    let (status, body) = post(client, &su.url, &item).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A tiny HTTP server for the gateway or storage stand-ins; returns its base URL.
/// Polls the SU's metrics until its outbox is empty, for up to `wait`; false if it never was.
pub async fn outbox_drained(client: &reqwest::Client, su: &Su, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        let text = client
            .get(format!("{}/metrics", su.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("su_outbox_depth 0\n") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub async fn serve(router: axum::Router) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(s.cancelled_owned())
            .await
            .unwrap();
    });
    (format!("http://{addr}"), stop)
}
