//! Gateway benchmarks over real HTTP on 127.0.0.1, printed as `name value unit` lines:
//! uploads per second of small ed25519 items at concurrency 16, then GraphQL tag-query latency
//! (p50/p99) with 10,000 items stored. Run: `cargo bench -p gateway`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ao_core::{DataItem, ItemBuilder, Signer};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

const CONCURRENCY: usize = 16;
const ITEMS: usize = 10_000;
const GROUPS: usize = 100;
const QUERIES: usize = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    let config = gateway::Config::new(dir.path());
    let server = tokio::spawn(gateway::run(config, listener, shutdown.clone()));

    let signers: Vec<Signer> = (0..8u8)
        .map(|n| Signer::from_ed25519_seed(&[n + 1; 32]).expect("signer"))
        .collect();
    let items: Vec<DataItem> = (0..ITEMS)
        .map(|n| {
            ItemBuilder::new()
                .tag("Data-Protocol", "ao")
                .tag("Type", "Message")
                .tag("Group", format!("g{}", n % GROUPS))
                .tag("N", n.to_string())
                .data(format!("payload {n}").into_bytes())
                .sign(&signers[n % signers.len()])
                .expect("sign")
        })
        .collect();
    let client = reqwest::Client::new();

    let queue = Arc::new(Mutex::new(items));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (queue, client, url) = (queue.clone(), client.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(item) = queue.lock().await.pop() else {
                    break;
                };
                let response = client
                    .post(format!("{url}/tx/arweave"))
                    .header("content-type", "application/octet-stream")
                    .body(item.encode())
                    .send()
                    .await
                    .expect("upload");
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let took = started.elapsed();
    println!(
        "upload_small_ed25519_items_c{CONCURRENCY} {:.0} items/s",
        ITEMS as f64 / took.as_secs_f64()
    );

    // Let a block cover everything, as queries would usually see it.
    client
        .get(format!("{url}/mine"))
        .send()
        .await
        .expect("mine");
    let query = "query($group: [String!]!) { transactions(first: 10, tags: [{name: \"Data-Protocol\", values: [\"ao\"]}, {name: \"Group\", values: $group}]) { pageInfo { hasNextPage } edges { cursor node { id owner { address } tags { name value } block { height } } } } }";
    let mut latencies = Vec::with_capacity(QUERIES);
    for n in 0..QUERIES {
        let started = Instant::now();
        let body: Value = client
            .post(format!("{url}/graphql"))
            .json(&json!({"query": query, "variables": {"group": [format!("g{}", n % GROUPS)]}}))
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("json");
        latencies.push(started.elapsed());
        assert_eq!(
            body["data"]["transactions"]["edges"]
                .as_array()
                .map(Vec::len),
            Some(10)
        );
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let micros = |d: Duration| d.as_micros();
    println!(
        "graphql_tag_query_{ITEMS}_items_p50 {} us",
        micros(at(0.50))
    );
    println!(
        "graphql_tag_query_{ITEMS}_items_p99 {} us",
        micros(at(0.99))
    );

    shutdown.cancel();
    server.await.expect("server").expect("run");
}
