//! Integration tests of the gateway over real sockets: each test binds `127.0.0.1:0`, calls
//! `gateway::run` on a temporary data directory, and talks to it with reqwest.

#[path = "gateway/blocks.rs"]
mod blocks;
#[path = "gateway/graphql.rs"]
mod graphql;
#[path = "gateway/uploads.rs"]
mod uploads;

use std::path::Path;
use std::time::Duration;

use ao_core::{DataItem, ItemBuilder, Signer};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Gateway {
    pub url: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), gateway::GatewayError>>,
}

/// Starts a gateway on `dir`; `block_interval: None` mines only on `GET /mine`.
pub async fn start(dir: &Path, block_interval: Option<Duration>) -> Gateway {
    let mut config = gateway::Config::new(dir);
    config.block_interval = block_interval;
    start_with(config).await
}

pub async fn start_with(config: gateway::Config) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(gateway::run(config, listener, shutdown.clone()));
    Gateway {
        url,
        client: reqwest::Client::new(),
        shutdown,
        task,
    }
}

impl Gateway {
    /// Shuts down and waits until the database is closed.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `item` to `/tx/arweave`; asserts 200 and returns the body.
    pub async fn upload(&self, item: &DataItem) -> Value {
        let response = self.post_bytes("/tx/arweave", item.encode()).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], item.id().to_string());
        body
    }

    pub async fn mine(&self) -> u64 {
        let body: Value = self.get("/mine").await.json().await.unwrap();
        body["height"].as_u64().unwrap()
    }

    /// POSTs a GraphQL query; returns (status, body).
    pub async fn graphql_raw(&self, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A query that must succeed; returns `data`.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_raw(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    /// The ids of `transactions(<args>)`, in answer order, and `hasNextPage`.
    pub async fn ids(&self, args: &str) -> (Vec<String>, bool) {
        let query = format!(
            "{{ transactions({args}) {{ pageInfo {{ hasNextPage }} edges {{ cursor node {{ id }} }} }} }}"
        );
        let data = self.graphql(&query, Value::Null).await;
        let ids = data["transactions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        (
            ids,
            data["transactions"]["pageInfo"]["hasNextPage"]
                .as_bool()
                .unwrap(),
        )
    }
}

pub fn signer(n: u8) -> Signer {
    Signer::from_ed25519_seed(&[n; 32]).unwrap()
}

pub fn item(signer: &Signer, tags: &[(&str, &str)], data: &[u8]) -> DataItem {
    tags.iter()
        .fold(ItemBuilder::new(), |b, (n, v)| b.tag(*n, *v))
        .data(data.to_vec())
        .sign(signer)
        .unwrap()
}

pub fn rsa_signer() -> Signer {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/keys.json"
    ))
    .unwrap();
    let keys: Value = serde_json::from_str(&text).unwrap();
    ao_core::wallet::Jwk::from_json(&keys["rsa"]["jwk"].to_string())
        .unwrap()
        .signer()
        .unwrap()
}

pub fn ids_of(items: &[&DataItem]) -> Vec<String> {
    items.iter().map(|i| i.id().to_string()).collect()
}
