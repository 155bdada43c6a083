//! `--storage arweave` against arlocal, the npm local Arweave testnet (real node code: it checks
//! each transaction's signature, anchor, data root and the payer's balance, and unbundles
//! ANS-104 bundles into items it serves and indexes). arlocal is installed once into
//! `<target>/arlocal` from `su/tests/arlocal/` (`.ci/run` does it before the tests); without
//! `node` the test says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ao_core::arweave::{Transaction, TxJson};
use ao_core::{Id, ItemBuilder};
use serde_json::{Value, json};

use crate::common::*;

/// Where arlocal is installed: `<cargo target dir>/arlocal`.
fn install_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("arlocal")
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The arlocal entry point, installing it first if needed; `Err` says why it cannot run here.
fn arlocal_entry() -> Result<PathBuf, String> {
    if !runs("node") {
        return Err("node is not installed".into());
    }
    let dir = install_dir();
    let entry = dir.join("node_modules/arlocal/bin/index.js");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/arlocal");
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    if entry.exists() && std::fs::read(dir.join("package-lock.json")).ok() == Some(lock.clone()) {
        return Ok(entry);
    }
    if !runs("npm") {
        return Err("npm is not installed and arlocal is not in target/arlocal".into());
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(source.join("package.json"), dir.join("package.json")).unwrap();
    std::fs::write(dir.join("package-lock.json"), &lock).unwrap();
    eprintln!("installing arlocal into {} (once)", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "npm ci in {} failed", dir.display());
    Ok(entry)
}

/// A running arlocal on a free port, with its database in a temporary directory; stopped on drop.
struct ArLocal {
    url: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl ArLocal {
    async fn start(entry: &Path) -> ArLocal {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("arlocal.log")).unwrap();
        // arlocal joins --dbpath to its working directory and writes `logs/` there.
        let child = Command::new("node")
            .arg(entry)
            .arg(port.to_string())
            .args(["--hidelogs", "--dbpath", "db"])
            .current_dir(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut arlocal = ArLocal {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        let c = client();
        for _ in 0..300 {
            if let Ok(r) = c.get(format!("{}/info", arlocal.url)).send().await
                && r.status().is_success()
            {
                return arlocal;
            }
            if let Ok(Some(status)) = arlocal.child.try_wait() {
                panic!("arlocal exited with {status}: {}", arlocal.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("arlocal never answered /info: {}", arlocal.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("arlocal.log")).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let r = client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r
    }

    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let r = client()
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "graphql: {}", r.status());
        let body = json_body(r).await;
        assert!(body.get("errors").is_none(), "graphql errors: {body}");
        body
    }
}

impl Drop for ArLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ids of every transaction carrying `name: value`.
async fn ids_tagged(arlocal: &ArLocal, name: &str, value: &str) -> Vec<String> {
    let query = "query($name: String!, $value: String!) { transactions(first: 100, tags: [{name: $name, values: [$value]}]) { edges { node { id } } } }";
    let body = arlocal
        .graphql(query, json!({ "name": name, "value": value }))
        .await;
    body["data"]["transactions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_drained(c: &reqwest::Client, su: &Su, arlocal: &ArLocal) {
    if !outbox_drained(c, su, Duration::from_secs(30)).await {
        panic!("the outbox never drained; arlocal says: {}", arlocal.log());
    }
}

#[tokio::test]
async fn outbox_lands_on_arlocal_as_bundles() {
    let entry = match arlocal_entry() {
        Ok(entry) => entry,
        Err(why) => {
            eprintln!("skipping the arlocal test: {why}");
            return;
        }
    };
    let arlocal = ArLocal::start(&entry).await;

    // The payer: the test RSA wallet of the shared vectors, funded with 1000 AR.
    let keys_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/keys.json"
    );
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(keys_path).unwrap()).unwrap();
    let payer = keys["rsa"]["address"].as_str().unwrap().to_owned();
    let wallet = arlocal.dir.path().join("arweave-wallet.json");
    std::fs::write(&wallet, keys["rsa"]["jwk"].to_string()).unwrap();
    arlocal
        .get(&format!("/mint/{payer}/1000000000000000"))
        .await;

    let arweave_url = arlocal.url.clone();
    let su = Su::start_with(|c| {
        c.storage = su::StorageConfig::Arweave(su::ArweaveConfig {
            url: arweave_url,
            wallet,
            bundle_items_max: 64,
        });
        c.upload_retry_initial = Duration::from_millis(50);
        c.upload_retry_max = Duration::from_millis(500);
    })
    .await;
    let c = client();
    let pid = spawn(&c, &su, "to-arweave").await;
    let pid_id = Id::parse(&pid, "pid").unwrap();
    let mut sent = vec![];
    for n in 0..5 {
        let item = message_item(&signer(2), &pid_id, n);
        assert_eq!(post(&c, &su.url, &item).await.0, 200);
        sent.push(item);
    }
    // Small bundles so far, inline in POST /tx; the next one is over 256 KiB: header + chunks.
    wait_drained(&c, &su, &arlocal).await;
    let big_data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let big = ItemBuilder::new()
        .target(pid_id)
        .anchor(anchor(99))
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Message")
        .tag("Action", "Blob")
        .data(big_data)
        .sign(&signer(2))
        .unwrap();
    assert_eq!(post(&c, &su.url, &big).await.0, 200);
    sent.push(big);
    wait_drained(&c, &su, &arlocal).await;
    arlocal.get("/mine").await;

    // Every assignment is found by its Process tag.
    let edges = schedule(&c, &su.url, &pid).await;
    assert_eq!(edges.len(), 7);
    let mut assignments: Vec<String> = edges
        .iter()
        .map(|e| e["node"]["assignment"]["id"].as_str().unwrap().to_owned())
        .collect();
    let mut found = ids_tagged(&arlocal, "Process", &pid).await;
    assignments.sort();
    found.sort();
    assert_eq!(found, assignments, "arlocal log: {}", arlocal.log());

    // Every message (and the process) reads back byte for byte.
    let process_item = process_item(&signer(1), &su.address, "to-arweave");
    assert_eq!(process_item.id().to_string(), pid);
    for item in std::iter::once(&process_item).chain(&sent) {
        let body = arlocal.get(&format!("/{}", item.id())).await;
        let bytes = body.bytes().await.unwrap();
        assert!(bytes[..] == item.data[..], "data of {} differs", item.id());
    }

    // The bundles themselves: paid by the wallet, mined, inline ones and a chunked one.
    let bundles = ids_tagged(&arlocal, "App-Name", su::arweave::APP_NAME).await;
    assert!(bundles.len() >= 2, "{bundles:?}");
    let mut sizes = vec![];
    for id in &bundles {
        let status: Value = arlocal
            .get(&format!("/tx/{id}/status"))
            .await
            .json()
            .await
            .unwrap();
        assert!(status["block_height"].is_u64(), "{id}: {status}");
        let tx: TxJson = arlocal
            .get(&format!("/tx/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let (tx, _) = Transaction::from_json(&tx).unwrap();
        tx.verify().unwrap();
        assert_eq!(tx.owner_address(), payer);
        sizes.push(tx.data_size as usize);
    }
    let inline_max = su::arweave::INLINE_DATA_BYTES_MAX;
    assert!(sizes.iter().any(|&s| s <= inline_max), "{sizes:?}");
    assert!(sizes.iter().any(|&s| s > inline_max), "{sizes:?}");
    let location = ids_tagged(&arlocal, "Type", "Scheduler-Location").await;
    assert_eq!(location.len(), 1);
    su.stop().await;

    // What makes this test worth running: arlocal refuses a bad signature or data root.
    let jwk = ao_core::wallet::Jwk::from_json(&keys["rsa"]["jwk"].to_string()).unwrap();
    let data = b"some data".to_vec();
    let (mut tx, _) = Transaction::for_data(&data);
    tx.sign(&jwk.signer().unwrap()).unwrap();
    let post_tx = |body: TxJson| {
        let url = format!("{}/tx", arlocal.url);
        async move {
            client()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut forged = tx.to_json(Some(&data));
    forged.reward = "1".into();
    assert_eq!(post_tx(forged).await, 400);
    assert_eq!(post_tx(tx.to_json(Some(b"same size"))).await, 400);
    assert!(post_tx(tx.to_json(Some(&data))).await.is_success());
}

#[tokio::test]
async fn an_ed25519_arweave_wallet_stops_the_su_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = dir.path().join("ed25519.json");
    let jwk = ao_core::wallet::Jwk::generate_ed25519().unwrap();
    std::fs::write(&wallet, jwk.to_json()).unwrap();
    let mut config = su::Config::new(dir.path());
    config.storage = su::StorageConfig::Arweave(su::ArweaveConfig {
        url: "http://127.0.0.1:1".into(),
        wallet,
        bundle_items_max: 64,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let outcome = su::run(config, listener, tokio_util::sync::CancellationToken::new()).await;
    let error = outcome.unwrap_err();
    assert!(matches!(error, su::SuError::Arweave(_)), "{error}");
    assert!(error.to_string().contains("RSA"), "{error}");
}
