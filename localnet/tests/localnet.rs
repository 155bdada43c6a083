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

/// Waits until the gateway holds `count` assignments of `process` (the SU uploads them from
/// its outbox a moment after ordering).
async fn uploaded(client: &reqwest::Client, net: &Summary, process: &str, count: usize) {
    let query = format!(
        "{{ transactions(tags: [{{name: \"Process\", values: [\"{process}\"]}}, {{name: \"Type\", values: [\"Assignment\"]}}], first: 100) {{ edges {{ node {{ id }} }} }} }}"
    );
    for _ in 0..200 {
        let found = graphql(client, net, &query).await;
        let edges = found["data"]["transactions"]["edges"]
            .as_array()
            .unwrap()
            .len();
        if edges >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never had {count} assignments of {process}");
}

/// A CU in front of `cu_url` that serves one message's result altered.
async fn tampering_proxy(cu_url: String, altered: String) -> String {
    use axum::extract::State;
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let forward = |State((cu, altered)): State<(String, String)>, uri: axum::http::Uri| async move {
        let response = reqwest::get(format!("{cu}{uri}")).await.unwrap();
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let mut body = response.bytes().await.unwrap().to_vec();
        if uri.path() == format!("/result/{altered}") {
            let mut json: Json = serde_json::from_slice(&body).unwrap();
            json["Output"]["data"] = Json::String("what the CU under test made up".into());
            body = serde_json::to_vec(&json).unwrap();
        }
        let mut response =
            (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
        for (k, v) in headers {
            if k != "content-length" {
                response.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
        }
        response
    };
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((cu_url, altered));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_cu_verifies_a_process_from_the_gateway_alone_and_finds_a_tampered_result() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let user = Signer::from_ed25519_seed(&[9; 32]).unwrap();
    let net = start(dir.path()).await;
    let s = net.summary().clone();

    let process = spawn(&client, &s, &user, "verified").await;
    let peer = spawn(&client, &s, &user, "peer").await;
    let mut sent = Vec::new();
    for code in [
        "Words = {}; for i = 1, 50 do Words['w' .. i] = i * i end",
        "local n = 0; for k, v in pairs(Words) do n = n + #k + v end; return n",
        "Handlers.add('count', 'Count', function(m) Seen = (Seen or 0) + 1; print('seen ' .. Seen) end)",
        &format!("Send({{ Target = '{peer}', Data = 'hello' }})"),
        "return require('json').encode({ a = 1, b = { 'x', 'y' } })",
    ] {
        let tags = [("Type", "Message"), ("Action", "Eval")];
        let id = send(&client, &s, &user, Some(&process), &tags, code).await;
        result(&client, &s, &process, &id).await;
        sent.push(id);
    }
    let tags = [("Type", "Message"), ("Action", "Count")];
    let count = send(&client, &s, &user, Some(&process), &tags, "").await;
    result(&client, &s, &process, &count).await;
    // 1 spawn + 5 evals + 1 Count.
    uploaded(&client, &s, &process, 7).await;

    let options = cu::verify::VerifyOptions {
        process: process.parse().unwrap(),
        gateway_url: s.gateway_url.clone(),
        against: Some(s.cu_url.clone()),
        data_dir: dir.path().join("replay"),
        timeout: Duration::from_secs(30),
    };
    let report = cu::verify::verify(&options, |_| {}).await.unwrap();
    assert_eq!(report.messages, 7, "{report:?}");
    assert_eq!(report.compared, 7);
    assert_eq!(report.divergence, None);
    assert!(report.state_compared);
    assert_eq!(report.scheduler, s.scheduler);
    assert_eq!(report.state_hash.len(), 64);

    // The same check against a CU that serves one result altered.
    let lying = tampering_proxy(s.cu_url.clone(), sent[1].clone()).await;
    let options = cu::verify::VerifyOptions {
        against: Some(lying),
        data_dir: dir.path().join("replay-2"),
        ..options
    };
    let report = cu::verify::verify(&options, |_| {}).await.unwrap();
    let divergence = report.divergence.expect("the altered result is found");
    assert_eq!(divergence.nonce, 2);
    assert_eq!(divergence.message, sent[1]);
    assert_eq!(divergence.fields, ["Output"]);
    assert_eq!(report.compared, 3);
    net.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_a_process_the_gateway_lacks_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    let s = net.summary().clone();
    let options = cu::verify::VerifyOptions {
        process: "7jbt0nOA0JBxva2z2JkiJCCIN__lWrUiiMbRhkpvoTg"
            .parse()
            .unwrap(),
        gateway_url: s.gateway_url.clone(),
        against: None,
        data_dir: dir.path().join("replay"),
        timeout: Duration::from_secs(30),
    };
    let error = cu::verify::verify(&options, |_| {}).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "process 7jbt0nOA0JBxva2z2JkiJCCIN__lWrUiiMbRhkpvoTg is not on the gateway"
    );
    net.stop().await.unwrap();
}
