//! The local network as a user meets it: one call (or one binary) starts gateway, SU, CU and
//! MU; the default library is on the gateway; a process spawned through the MU evaluates; a
//! restart on the same data directory resumes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ao_core::{ItemBuilder, Signer};
use localnet::{Config, Localnet, Ports, Summary};
use serde_json::Value as Json;

async fn start(dir: &std::path::Path) -> Localnet {
    let mut config = Config::new(dir);
    config.ports = Ports::ANY;
    config.block_interval = Duration::from_millis(200);
    Localnet::start(config).await.unwrap()
}

/// Signs an item, posts it to the MU and returns its id.
async fn send(
    client: &reqwest::Client,
    net: &Summary,
    signer: &Signer,
    target: Option<&str>,
    tags: &[(&str, &str)],
    data: &str,
) -> String {
    // ed25519 signatures are deterministic: the anchor keeps repeated messages distinct.
    static SENT: AtomicU64 = AtomicU64::new(0);
    let mut anchor = [b'0'; 32];
    let n = format!("{:032}", SENT.fetch_add(1, Ordering::Relaxed));
    anchor.copy_from_slice(n.as_bytes());
    let mut builder = ItemBuilder::new()
        .anchor(anchor)
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1");
    if let Some(target) = target {
        builder = builder.target(target.parse().unwrap());
    }
    for (name, value) in tags {
        builder = builder.tag(*name, *value);
    }
    let item = builder.data(data).sign(signer).unwrap();
    let response = client
        .post(format!("{}/", net.mu_url))
        .header("content-type", "application/octet-stream")
        .body(item.encode())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    item.id().to_string()
}

async fn spawn(client: &reqwest::Client, net: &Summary, signer: &Signer, name: &str) -> String {
    let tags = [
        ("Type", "Process"),
        ("Module", net.module.as_str()),
        ("Scheduler", net.scheduler.as_str()),
        ("Authority", net.authority.as_str()),
        ("Name", name),
    ];
    let id = send(client, net, signer, None, &tags, "").await;
    result(client, net, &id, &id).await;
    id
}

async fn eval(
    client: &reqwest::Client,
    net: &Summary,
    signer: &Signer,
    process: &str,
    code: &str,
) -> String {
    let tags = [("Type", "Message"), ("Action", "Eval")];
    let id = send(client, net, signer, Some(process), &tags, code).await;
    let result = result(client, net, process, &id).await;
    assert!(result.get("Error").is_none(), "{result}");
    result["Output"]["data"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn result(client: &reqwest::Client, net: &Summary, process: &str, id: &str) -> Json {
    let url = format!("{}/result/{id}?process-id={process}", net.cu_url);
    for _ in 0..200 {
        let response = client.get(&url).send().await.unwrap();
        if response.status().is_success() {
            return response.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no result for {id}");
}

async fn graphql(client: &reqwest::Client, net: &Summary, query: &str) -> Json {
    let response = client
        .post(format!("{}/graphql", net.gateway_url))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_starts_runs_a_process_and_resumes_it_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let user = Signer::from_ed25519_seed(&[7; 32]).unwrap();

    let net = start(dir.path()).await;
    let first = net.summary().clone();
    for field in [&first.scheduler, &first.authority, &first.module] {
        assert_eq!(field.len(), 43, "{first:?}");
    }
    // The summary file says the same.
    let file: Json =
        serde_json::from_slice(&std::fs::read(dir.path().join(localnet::SUMMARY_FILE)).unwrap())
            .unwrap();
    assert_eq!(file["module"], first.module.as_str());
    assert_eq!(file["mu_url"], first.mu_url.as_str());

    // The library is on the gateway, findable by its name as the aos shell looks for it.
    let raw = client
        .get(format!("{}/raw/{}", first.gateway_url, first.module))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), cu::library::bundle());
    let query = format!(
        "{{ transactions(tags: [{{name: \"Type\", values: [\"Module\"]}}, {{name: \"Name\", values: [\"{}\"]}}]) {{ edges {{ node {{ id }} }} }} }}",
        localnet::MODULE_NAME
    );
    let found = graphql(&client, &first, &query).await;
    assert_eq!(
        found["data"]["transactions"]["edges"][0]["node"]["id"],
        first.module.as_str()
    );

    let process = spawn(&client, &first, &user, "counter").await;
    eval(&client, &first, &user, &process, "Count = 41").await;
    // A message one process sends to another goes through the MU's push loop.
    let other = spawn(&client, &first, &user, "other").await;
    eval(
        &client,
        &first,
        &user,
        &other,
        "Handlers.add('inc', 'Inc', function(m) Count = (Count or 0) + 1 end)",
    )
    .await;
    eval(
        &client,
        &first,
        &user,
        &process,
        &format!("Send({{ Target = '{other}', Action = 'Inc' }})"),
    )
    .await;
    let mut pushed = String::new();
    for _ in 0..100 {
        pushed = eval(&client, &first, &user, &other, "Count").await;
        if pushed == "1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pushed, "1");
    net.stop().await.unwrap();

    // Same data directory: same wallets, same module id, the processes go on.
    let net = start(dir.path()).await;
    let second = net.summary().clone();
    assert_eq!(second.scheduler, first.scheduler);
    assert_eq!(second.authority, first.authority);
    assert_eq!(second.module, first.module);
    assert_eq!(
        eval(
            &client,
            &second,
            &user,
            &process,
            "Count = Count + 1; return Count"
        )
        .await,
        "42"
    );
    assert_eq!(eval(&client, &second, &user, &other, "Count").await, "1");
    net.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = Config::new(dir.path());
    config.ports = Ports {
        su: taken.local_addr().unwrap().port(),
        ..Ports::ANY
    };
    let error = Localnet::start(config).await.err().unwrap().to_string();
    assert!(error.starts_with("cannot listen on 127.0.0.1:"), "{error}");
    assert!(error.contains("for the SU"), "{error}");
}

#[test]
fn the_binary_prints_where_everything_is_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string()
    };
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ao-localnet"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--gateway-port", &port(), "--su-port", &port()])
        .args(["--cu-port", &port(), "--mu-port", &port()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let summary = dir.path().join(localnet::SUMMARY_FILE);
    for _ in 0..600 {
        if summary.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(summary.exists(), "the localnet never came up");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let file: Json = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    for field in [
        "gateway_url",
        "su_url",
        "cu_url",
        "mu_url",
        "scheduler",
        "module",
    ] {
        let value = file[field].as_str().unwrap();
        assert!(
            text.contains(value),
            "{field} {value} missing from:\n{text}"
        );
    }
    assert!(text.contains("stopped"), "{text}");
}
