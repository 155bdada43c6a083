//! The CU server over real sockets, with the real gateway and the real SU in-process: the
//! default process library is uploaded as a Module item, a Process and its Messages go to the
//! SU, and the CU answers `/result`, `/results`, `/dry-run`, `/state`, `/cron` and survives a
//! restart; cron results are the same on a second CU; idle processes are evicted under the
//! process and memory limits and continue from their checkpoints; a process on another SU is
//! read from the SU its `Scheduler-Location` names.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ao_core::{DataItem, Id, ItemBuilder, Signer, Tag};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

type Task<E> = tokio::task::JoinHandle<Result<(), E>>;

struct Unit<E> {
    url: String,
    shutdown: CancellationToken,
    task: Task<E>,
}

impl<E: std::fmt::Debug> Unit<E> {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

async fn wait_ready(url: &str) -> Json {
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if let Ok(r) = client.get(format!("{url}/")).send().await
            && r.status().is_success()
            && let Ok(v) = r.json::<Json>().await
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{url} never became ready");
}

async fn start_gateway(dir: &std::path::Path) -> Unit<gateway::GatewayError> {
    let (listener, url) = bind().await;
    let shutdown = CancellationToken::new();
    let config = gateway::Config::new(dir);
    let task = tokio::spawn(gateway::run(config, listener, shutdown.clone()));
    wait_ready(&url).await;
    Unit {
        url,
        shutdown,
        task,
    }
}

async fn start_su(dir: &std::path::Path) -> (Unit<su::SuError>, String) {
    start_su_with(dir, |_| {}).await
}

/// An SU that uploads what it orders, and its Scheduler-Location item, to the gateway.
async fn start_su_uploading(dir: &std::path::Path, gateway: &str) -> (Unit<su::SuError>, String) {
    start_su_with(dir, |config| {
        config.storage = su::StorageConfig::Http {
            url: gateway.to_owned(),
            path: "/tx".into(),
        };
        config.gateway = Some(su::config::GatewayConfig {
            url: gateway.to_owned(),
            item_path: "/item/{id}".into(),
            height_refresh: Duration::from_secs(1),
        });
        config.upload_retry_initial = Duration::from_millis(50);
    })
    .await
}

/// An SU on its own port, configured by `configure`; its URL and wallet address.
async fn start_su_with(
    dir: &std::path::Path,
    configure: impl FnOnce(&mut su::Config),
) -> (Unit<su::SuError>, String) {
    let (listener, url) = bind().await;
    let shutdown = CancellationToken::new();
    let mut config = su::Config::new(dir);
    configure(&mut config);
    let task = tokio::spawn(su::run(config, listener, shutdown.clone()));
    let info = wait_ready(&url).await;
    let address = info["address"].as_str().unwrap().to_owned();
    (
        Unit {
            url,
            shutdown,
            task,
        },
        address,
    )
}

async fn start_cu(dir: &std::path::Path, su: &str, gateway: &str) -> Unit<cu::CuError> {
    start_cu_with(dir, su, gateway, |_| {}).await
}

async fn start_cu_with(
    dir: &std::path::Path,
    su: &str,
    gateway: &str,
    configure: impl FnOnce(&mut cu::Config),
) -> Unit<cu::CuError> {
    let (listener, url) = bind().await;
    let shutdown = CancellationToken::new();
    let mut config = cu::Config::new(dir, su, gateway);
    config.checkpoint_every = 3;
    // The in-process SU commits in well under this.
    config.cron_settle = Duration::from_millis(200);
    configure(&mut config);
    let task = tokio::spawn(cu::run(config, listener, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    if task.is_finished() {
        panic!("CU did not start: {:?}", task.await.unwrap());
    }
    wait_ready(&url).await;
    Unit {
        url,
        shutdown,
        task,
    }
}

fn signer() -> Signer {
    Signer::from_ed25519_seed(&[7; 32]).unwrap()
}

struct Net {
    client: reqwest::Client,
    gateway: Unit<gateway::GatewayError>,
    su: Unit<su::SuError>,
    su_address: String,
    cu: Option<Unit<cu::CuError>>,
    dirs: Vec<Arc<tempfile::TempDir>>,
    module: Id,
    process: Id,
    sent: AtomicU64,
}

impl Net {
    async fn start(module_format: &str) -> Net {
        Net::start_process(module_format, &[], "1984").await
    }

    /// A network whose process carries `tags` (after the protocol tags) and `data`.
    async fn start_process(module_format: &str, tags: &[(&str, &str)], data: &str) -> Net {
        let dirs: Vec<_> = (0..3)
            .map(|_| Arc::new(tempfile::tempdir().unwrap()))
            .collect();
        let gateway = start_gateway(dirs[0].path()).await;
        let (su, su_address) = start_su(dirs[1].path()).await;
        let cu = start_cu(dirs[2].path(), &su.url, &gateway.url).await;
        let client = reqwest::Client::new();
        let module = ItemBuilder::new()
            .tag("Data-Protocol", "ao")
            .tag("Type", "Module")
            .tag("Module-Format", module_format)
            .tag("Input-Encoding", "JSON-1")
            .tag("Output-Encoding", "JSON-1")
            .tag("Content-Type", "application/json")
            .data(cu::library::bundle())
            .sign(&signer())
            .unwrap();
        post_raw(&client, &format!("{}/tx/arweave", gateway.url), &module).await;
        let mut net = Net {
            client,
            gateway,
            su,
            su_address,
            cu: Some(cu),
            dirs,
            module: module.id(),
            process: module.id(),
            sent: AtomicU64::new(0),
        };
        net.process = net.spawn(tags, data).await;
        net
    }

    /// Posts another process of the same module to the SU; returns its id.
    async fn spawn(&self, tags: &[(&str, &str)], data: &str) -> Id {
        let process = ItemBuilder::new()
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Process")
            .tag("Module", self.module.to_string())
            .tag("Scheduler", self.su_address.clone())
            .tag("Authority", self.su_address.clone())
            .tags(tags.iter().map(|(n, v)| Tag::new(*n, *v)))
            .data(data)
            .sign(&signer())
            .unwrap();
        post_raw(&self.client, &format!("{}/", self.su.url), &process).await;
        process.id()
    }

    fn cu_url(&self) -> &str {
        &self.cu.as_ref().unwrap().url
    }

    /// Posts a message from the process owner to the SU; returns its id.
    async fn send(&self, tags: &[(&str, &str)], data: &str) -> Id {
        self.send_timed(tags, data).await.0
    }

    /// Posts a message from the process owner to the SU; returns its id and the timestamp the
    /// SU gave it.
    async fn send_timed(&self, tags: &[(&str, &str)], data: &str) -> (Id, u64) {
        self.send_to(self.process, tags, data).await
    }

    /// Posts a message to `process` (the SU's own) from the process owner; returns its id and
    /// the timestamp the SU gave it.
    async fn send_to(&self, process: Id, tags: &[(&str, &str)], data: &str) -> (Id, u64) {
        // Signatures are deterministic: a fresh anchor keeps equal messages distinct.
        let mut anchor = [0u8; 32];
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        anchor[..8].copy_from_slice(&n.to_be_bytes());
        let item = ItemBuilder::new()
            .target(process)
            .anchor(anchor)
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Message")
            .tags(tags.iter().map(|(n, v)| Tag::new(*n, *v)))
            .data(data)
            .sign(&signer())
            .unwrap();
        let posted = post_raw(&self.client, &format!("{}/", self.su.url), &item).await;
        (item.id(), posted["timestamp"].as_u64().unwrap())
    }

    async fn eval(&self, code: &str) -> Id {
        self.send(&[("Action", "Eval")], code).await
    }

    async fn get(&self, path: &str) -> (u16, Json) {
        let r = self
            .client
            .get(format!("{}{path}", self.cu_url()))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn result(&self, message: &Id) -> Json {
        self.result_of(self.process, message).await
    }

    async fn result_of(&self, process: Id, message: &Id) -> Json {
        let (status, body) = self
            .get(&format!("/result/{message}?process-id={process}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn output(&self, message: &Id) -> String {
        self.output_of(self.process, message).await
    }

    async fn output_of(&self, process: Id, message: &Id) -> String {
        let result = self.result_of(process, message).await;
        result["Output"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("no Output.data in {result}"))
            .to_owned()
    }

    async fn dry_run(&self, body: Json) -> Json {
        let r = self
            .client
            .post(format!(
                "{}/dry-run?process-id={}",
                self.cu_url(),
                self.process
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.cu_url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no metric {name}"))
            .parse()
            .unwrap()
    }

    /// `GET {url}{path}` on any unit.
    async fn get_at(&self, url: &str, path: &str) -> (u16, Json) {
        let r = self
            .client
            .get(format!("{url}{path}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// The process's own timestamp on the SU: cron ticks count from it.
    async fn process_timestamp(&self) -> u64 {
        let (status, body) = self
            .get_at(&self.su.url, &format!("/processes/{}", self.process))
            .await;
        assert_eq!(status, 200, "{body}");
        body["timestamp"].as_u64().unwrap()
    }

    /// Every cron edge the CU at `url` has, asking until there are at least `min` (the CU
    /// catches up on each request); panics after a generous deadline.
    async fn cron_edges(&self, url: &str, min: usize) -> Vec<Json> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, page) = self
                .get_at(url, &format!("/cron/{}?limit=1000", self.process))
                .await;
            assert_eq!(status, 200, "{page}");
            let edges = page["edges"].as_array().unwrap().clone();
            if edges.len() >= min {
                return edges;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{url}: {} cron results, waited for {min}",
                edges.len()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn restart_cu(&mut self) {
        self.restart_cu_with(|_| {}).await;
    }

    async fn restart_cu_with(&mut self, configure: impl FnOnce(&mut cu::Config)) {
        self.cu.take().unwrap().stop().await;
        let dir = self.dirs[2].path();
        let cu = start_cu_with(dir, &self.su.url, &self.gateway.url, configure).await;
        self.cu = Some(cu);
    }

    async fn stop(mut self) {
        self.cu.take().unwrap().stop().await;
        self.su.stop().await;
        self.gateway.stop().await;
    }
}

async fn post_raw(client: &reqwest::Client, url: &str, item: &DataItem) -> Json {
    let r = client
        .post(url)
        .header("content-type", "application/octet-stream")
        .body(item.encode())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluates_pages_dry_runs_and_restarts() {
    let mut net = Net::start("lua53").await;
    let pid = net.process;
    let info = net.get("/").await.1;
    assert!(info["address"].as_str().is_some_and(|a| a.len() == 43));
    assert!(info["timestamp"].as_u64().is_some());
    assert_eq!(net.su_address.len(), 43);

    // The spawn, then Eval.
    let spawn = net.result(&pid).await;
    assert!(spawn.get("Error").is_none(), "{spawn}");
    let two = net.eval("1 + 1").await;
    assert!(net.output(&two).await.contains('2'));

    // A handler added by Eval answers Ping with one outbox message.
    let add = net
        .eval(
            "Handlers.add('ping', Handlers.utils.hasMatchingTag('Action', 'Ping'), \
             function(msg) ao.send({ Target = msg.From, Data = 'pong' }) end)",
        )
        .await;
    net.result(&add).await;
    let ping = net.send(&[("Action", "Ping")], "").await;
    let pong = net.result(&ping).await;
    assert_eq!(pong["Messages"].as_array().unwrap().len(), 1, "{pong}");
    assert_eq!(pong["Messages"][0]["Data"], "pong");

    // A syntax error is an Error result, and the next message works.
    let bad = net.eval("return (").await;
    assert!(net.result(&bad).await.get("Error").is_some());
    let after = net.eval("return 40 + 2").await;
    assert!(net.output(&after).await.contains("42"));

    // /results both ways, with paging by cursor.
    let base = format!("/results/{pid}");
    let (status, asc) = net.get(&format!("{base}?sort=ASC&limit=2")).await;
    assert_eq!(status, 200);
    assert_eq!(asc["pageInfo"]["hasNextPage"], true);
    let cursors = |page: &Json| -> Vec<String> {
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["cursor"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(cursors(&asc), ["0", "1"]);
    let (_, next) = net.get(&format!("{base}?sort=ASC&limit=25&from=1")).await;
    assert_eq!(cursors(&next), ["2", "3", "4", "5"]);
    assert_eq!(next["pageInfo"]["hasNextPage"], false);
    let (_, desc) = net.get(&format!("{base}?sort=DESC&limit=3")).await;
    assert_eq!(cursors(&desc), ["5", "4", "3"]);
    let (_, older) = net.get(&format!("{base}?sort=DESC&limit=3&from=3")).await;
    assert_eq!(cursors(&older), ["2", "1", "0"]);
    assert_eq!(older["pageInfo"]["hasNextPage"], false);
    assert!(
        desc["edges"][0]["node"]["Output"]["data"]
            .as_str()
            .unwrap()
            .contains("42")
    );

    // A dry run sees the state and leaves no trace.
    let inbox = net.eval("return #Inbox").await;
    let before = net.output(&inbox).await;
    let dry = net
        .dry_run(json!({
            "Id": "1234", "Owner": "1234", "Target": pid.to_string(), "Anchor": "0",
            "Data": "hello", "Tags": [{ "name": "Action", "value": "Unhandled" }],
        }))
        .await;
    assert!(dry.get("Error").is_none(), "{dry}");
    let dry_eval = net
        .dry_run(json!({ "Owner": "1234", "Tags": [{ "name": "Action", "value": "Eval" }], "Data": "1" }))
        .await;
    assert!(dry_eval.get("Messages").is_some());
    let inbox_again = net.eval("return #Inbox").await;
    assert_eq!(net.output(&inbox_again).await, before);

    // /state: checkpoint bytes with their hash.
    let r = net
        .client
        .get(format!("{}/state/{pid}", net.cu_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()[cu::server::STATE_HASH_HEADER].len(), 64);
    assert!(!r.bytes().await.unwrap().is_empty());

    // Unknown messages and processes are JSON errors.
    let unknown = Id([3; 32]);
    let (status, body) = net
        .get(&format!("/result/{unknown}?process-id={pid}"))
        .await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().is_some());
    let (status, body) = net
        .get(&format!("/result/{unknown}?process-id={unknown}"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().is_some());
    let (status, body) = net.get(&format!("/results/{unknown}?sort=ASC")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = net.get(&format!("/result/{unknown}")).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("process-id"));
    let (status, body) = net.get("/no/such/path").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().is_some());

    // A restart answers old results from the store and continues from the checkpoint.
    let counted = net.eval("Count = 41 return Count").await;
    net.result(&counted).await;
    net.restart_cu().await;
    assert!(net.output(&two).await.contains('2'));
    assert_eq!(net.metric("ao_cu_messages_evaluated_total").await, 0);
    assert_eq!(net.metric("ao_cu_process_loads_total").await, 0);
    let next = net.eval("Count = Count + 1 return Count").await;
    assert!(net.output(&next).await.contains("42"));
    assert_eq!(net.metric("ao_cu_messages_evaluated_total").await, 1);
    assert_eq!(net.metric("ao_cu_process_loads_total").await, 1);
    let (_, health) = net.get("/health").await;
    assert_eq!(health["status"], "ok");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_of_another_format_is_refused_clearly() {
    let net = Net::start("wasm64-unknown-emscripten-draft_2024_02_15").await;
    let (status, body) = net
        .get(&format!(
            "/result/{}?process-id={}",
            net.process, net.process
        ))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("lua53"), "{body}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_results_coalesce_on_the_process_worker() {
    let net = Arc::new(Net::start("lua53").await);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(net.eval(&format!("return {i} * 10")).await);
    }
    let mut calls = tokio::task::JoinSet::new();
    for round in 0..3 {
        for (i, id) in ids.iter().enumerate() {
            let (net, id) = (net.clone(), *id);
            calls.spawn(async move { (i, round, net.output(&id).await) });
        }
    }
    while let Some(done) = calls.join_next().await {
        let (i, _, output) = done.unwrap();
        assert!(output.contains(&(i * 10).to_string()), "{output}");
    }
    // The spawn and four messages, each evaluated once.
    assert_eq!(net.metric("ao_cu_messages_evaluated_total").await, 5);
    assert_eq!(net.metric("ao_cu_process_loads_total").await, 1);
    Arc::into_inner(net).unwrap().stop().await;
}

/// Tags of a process with a one-second cron whose messages carry `Action: Tick`.
const CRON_TAGS: [(&str, &str); 3] = [
    ("On-Boot", "Data"),
    ("Cron-Interval", "1-second"),
    ("Cron-Tag-Action", "Tick"),
];

/// Process data (evaluated at spawn): counts ticks and reports each one, with what the tick
/// message looked like, in an outbox message.
const TICKER: &str = r#"Handlers.add("tick", "Tick", function(m)
  Count = (Count or 0) + 1
  ao.send({ Target = m.From, Data = Count .. " " .. m.Timestamp .. " " .. tostring(m.Cron) .. " " .. tostring(m.Id) })
end)"#;

fn cursors(page: &Json) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().to_owned())
        .collect()
}

fn tick_data(edge: &Json) -> String {
    let messages = edge["node"]["Messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{edge}");
    messages[0]["Data"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_ticks_run_in_order_before_later_messages() {
    let net = Net::start_process("lua53", &CRON_TAGS, TICKER).await;
    let pid = net.process;
    let origin = net.process_timestamp().await;
    let spawn = net.result(&pid).await;
    assert!(spawn.get("Error").is_none(), "{spawn}");

    // Ticks at origin + 1 s, + 2 s, … each counted once, in order, with an outbox message.
    let edges = net.cron_edges(net.cu_url(), 2).await;
    for (i, edge) in edges.iter().enumerate() {
        assert_eq!(edge["cursor"], i.to_string());
        assert!(edge["node"].get("Error").is_none(), "{edge}");
        let at = origin + 1000 * (i as u64 + 1);
        assert_eq!(tick_data(edge), format!("{} {at} true nil", i + 1));
    }

    // A message scheduled later sees every tick at or before its timestamp, and no other.
    let (count, at) = net
        .send_timed(&[("Action", "Eval")], "return 'count=' .. Count")
        .await;
    let ticks = (at - origin) / 1000;
    assert_eq!(net.output(&count).await, format!("count={ticks}"));

    // /results holds the scheduled messages only: the spawn and the Eval.
    let (status, results) = net.get(&format!("/results/{pid}?sort=ASC")).await;
    assert_eq!(status, 200);
    assert_eq!(cursors(&results), ["0", "1"]);

    // Paging: `to` bounds by tick time (inclusive), `from` is an exclusive cursor.
    let page = |query: String| {
        let net = &net;
        async move {
            let (status, body) = net.get(&format!("/cron/{pid}?{query}")).await;
            assert_eq!(status, 200, "{body}");
            (
                cursors(&body),
                body["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            )
        }
    };
    let two = origin + 2000;
    assert_eq!(
        page(format!("to={two}")).await,
        (vec!["0".into(), "1".into()], false)
    );
    assert_eq!(
        page(format!("to={two}&limit=1")).await,
        (vec!["0".into()], true)
    );
    assert_eq!(
        page(format!("to={two}&from=0")).await,
        (vec!["1".into()], false)
    );
    let newest = page(format!("to={two}&sort=DESC&limit=1")).await;
    assert_eq!(newest, (vec!["1".into()], true));
    let older = page(format!("to={two}&sort=DESC&from=1")).await;
    assert_eq!(older, (vec!["0".into()], false));
    assert_eq!(page(format!("to={}", origin + 999)).await, (vec![], false));
    assert_eq!(page("from=99999".into()).await, (vec![], false));
    assert!(net.metric("ao_cu_cron_messages_evaluated_total").await >= 2);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_results_are_identical_on_a_second_cu_and_continue_after_a_restart() {
    let mut net = Net::start_process("lua53", &CRON_TAGS, TICKER).await;
    let pid = net.process;
    net.result(&pid).await;
    net.cron_edges(net.cu_url(), 1).await;
    // A scheduled message among the ticks.
    let eval = net.eval("Seen = Count").await;
    net.result(&eval).await;
    let first = net.cron_edges(net.cu_url(), 3).await;

    // A second CU, from nothing, over the same SU and gateway: the same cron results, byte
    // for byte, and the same scheduled results.
    let dir = tempfile::tempdir().unwrap();
    let other = start_cu(dir.path(), &net.su.url, &net.gateway.url).await;
    let second = net.cron_edges(&other.url, first.len()).await;
    let text = |edges: &[Json]| edges.iter().map(Json::to_string).collect::<Vec<_>>();
    assert_eq!(text(&second[..first.len()]), text(&first));
    let results = format!("/results/{pid}?sort=ASC");
    assert_eq!(
        net.get_at(&other.url, &results).await,
        net.get(&results).await
    );
    other.stop().await;

    // A restart keeps every cursor and goes on without repeating or skipping a tick: tick i
    // still reports count i + 1, and only the new ticks were evaluated.
    let before = net.cron_edges(net.cu_url(), 0).await;
    net.restart_cu().await;
    let after = net.cron_edges(net.cu_url(), before.len() + 1).await;
    assert_eq!(text(&after[..before.len()]), text(&before));
    for (i, edge) in after.iter().enumerate() {
        assert_eq!(edge["cursor"], i.to_string());
        assert!(
            tick_data(edge).starts_with(&format!("{} ", i + 1)),
            "{edge}"
        );
    }
    let evaluated = net.metric("ao_cu_cron_messages_evaluated_total").await;
    assert_eq!(evaluated as usize, after.len() - before.len());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_bad_requests_are_json_errors() {
    let net = Net::start_process("lua53", &CRON_TAGS, TICKER).await;
    let pid = net.process;
    let unknown = Id([3; 32]);
    for (path, expected) in [
        (format!("/cron/{pid}?from=x"), 400),
        (format!("/cron/{pid}?to=-1"), 400),
        (format!("/cron/{pid}?sort=UP"), 400),
        (format!("/cron/{pid}?limit=many"), 400),
        ("/cron/not-an-id".to_owned(), 400),
        (format!("/cron/{unknown}"), 404),
    ] {
        let (status, body) = net.get(&path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(body["error"].as_str().is_some(), "{path}: {body}");
    }
    let (status, body) = net.get(&format!("/cron/{pid}?limit=5000")).await;
    assert_eq!(status, 200, "{body}");

    // A process without crons has none.
    let plain = net.spawn(&[], "1984").await;
    let (status, body) = net.get(&format!("/cron/{plain}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "pageInfo": { "hasNextPage": false }, "edges": [] })
    );

    // An interval under a second, or of nothing, refuses the process with the reason.
    for (interval, reason) in [
        ("500-milliseconds", "at least 1 second"),
        ("0-blocks", "at least 1"),
        ("3-fortnights", "not a unit"),
    ] {
        let bad = net.spawn(&[("Cron-Interval", interval)], "1984").await;
        for path in [
            format!("/cron/{bad}"),
            format!("/result/{bad}?process-id={bad}"),
        ] {
            let (status, body) = net.get(&path).await;
            assert_eq!(status, 422, "{path}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(
                error.contains(reason) && error.contains(interval),
                "{error}"
            );
        }
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_cron_message_rolls_back_and_unhandled_ones_reach_the_inbox() {
    let tags = [
        ("On-Boot", "Data"),
        ("Cron-Interval", "1-second"),
        ("Cron-Tag-Action", "Tick"),
        ("Cron-Interval", "1-second"),
        ("Cron-Tag-Action", "Nobody"),
    ];
    let boot = r#"Origin = os.time()
Handlers.add("tick", "Tick", function(m)
  Count = (Count or 0) + 1
  if m.Timestamp - Origin == 2000 then error("the second tick fails") end
  ao.send({ Target = m.From, Data = tostring(Count) })
end)"#;
    let net = Net::start_process("lua53", &tags, boot).await;
    let origin = net.process_timestamp().await;
    net.result(&net.process).await;
    let edges = net.cron_edges(net.cu_url(), 5).await;
    // Simultaneous ticks go in tag order: Tick, Nobody, Tick, Nobody, …
    assert_eq!(tick_data(&edges[0]), "1");
    let unhandled = &edges[1]["node"];
    assert!(unhandled.get("Error").is_none(), "{unhandled}");
    assert_eq!(unhandled["Messages"], json!([]));
    let failed = &edges[2]["node"];
    let error = failed["Error"].as_str().unwrap();
    assert!(error.contains("the second tick fails"), "{error}");
    assert_eq!(failed["Messages"], json!([]));
    // The failed tick left no trace: the next one counts 2.
    assert_eq!(tick_data(&edges[4]), "2");

    // Every unhandled (Id-less) cron message up to the next scheduled one is in the Inbox.
    let (inbox, at) = net
        .send_timed(&[("Action", "Eval")], "return 'inbox=' .. #Inbox")
        .await;
    let nobody = (at - origin) / 1000;
    assert_eq!(net.output(&inbox).await, format!("inbox={nobody}"));
    net.stop().await;
}

/// Each process counts the Evals it got; the answer is `count=<n>`.
const COUNT: &str = "Count = (Count or 0) + 1 return 'count=' .. Count";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_processes_are_evicted_and_continue_from_their_checkpoints() {
    let mut net = Net::start("lua53").await;
    let processes = [
        net.process,
        net.spawn(&[("Name", "second")], "1984").await,
        net.spawn(&[("Name", "third")], "1984").await,
    ];
    // Two processes at most: every third one evicts the least recently used.
    net.restart_cu_with(|config| config.processes_max = 2).await;
    for round in 1..=3 {
        for process in processes {
            let (eval, _) = net.send_to(process, &[("Action", "Eval")], COUNT).await;
            assert_eq!(
                net.output_of(process, &eval).await,
                format!("count={round}")
            );
            let (_, health) = net.get("/health").await;
            assert!(health["resident"].as_u64().unwrap() <= 2, "{health}");
        }
    }
    let evictions = net.metric("ao_cu_process_evictions_total").await;
    assert!(evictions >= 6, "{evictions} evictions");
    assert!(net.metric("ao_cu_process_loads_total").await >= 9);
    assert!(net.metric("ao_cu_process_memory_bytes").await > 0);

    // A budget smaller than one process: each new one evicts every idle one, and still loads.
    net.restart_cu_with(|config| config.memory_budget_bytes = 1)
        .await;
    for round in 4..=5 {
        for process in processes {
            let (eval, _) = net.send_to(process, &[("Action", "Eval")], COUNT).await;
            assert_eq!(
                net.output_of(process, &eval).await,
                format!("count={round}")
            );
        }
    }
    let (_, health) = net.get("/health").await;
    assert_eq!(health["resident"], 1, "{health}");
    assert!(
        health["resident_memory_bytes"].as_u64().unwrap() > 0,
        "{health}"
    );
    assert!(net.metric("ao_cu_process_evictions_total").await >= 5);
    // Every result is still served, from the store, after all that.
    let (status, results) = net
        .get(&format!("/results/{}?sort=ASC", processes[1]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(cursors(&results), ["0", "1", "2", "3", "4", "5"]);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_with_work_in_progress_is_never_evicted() {
    let net = Net::start("lua53").await;
    let other = net.spawn(&[("Name", "other")], "1984").await;
    // A "gateway" that accepts connections and never answers: loading a process waits on it
    // for the module, so that load is work in progress for as long as the test needs.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cu = start_cu_with(dir.path(), &net.su.url, &hole_url, |config| {
        config.processes_max = 1;
        config.upstream_timeout = Duration::from_secs(10);
    })
    .await;
    let pid = net.process;
    let loading = tokio::spawn({
        let (client, url) = (net.client.clone(), cu.url.clone());
        async move {
            let r = client
                .get(format!("{url}/result/{pid}?process-id={pid}"))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    });
    // Once the first process has its worker, the second finds no idle one to evict.
    for _ in 0..400 {
        let (_, health) = net.get_at(&cu.url, "/health").await;
        if health["processes"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, body) = net
        .get_at(&cu.url, &format!("/result/{other}?process-id={other}"))
        .await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("too many processes"), "{error}");
    // The first one's load gives up on the silent gateway: a 502, not a lost request.
    assert_eq!(loading.await.unwrap(), 502);
    holding.abort();
    cu.stop().await;
    net.stop().await;
}

/// A Process item on `module`, scheduled by `scheduler`, signed by the test wallet.
fn process_item(module: &Id, scheduler: &str) -> DataItem {
    ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Process")
        .tag("Module", module.to_string())
        .tag("Scheduler", scheduler)
        .data("1984")
        .sign(&signer())
        .unwrap()
}

/// Polls the gateway until GraphQL finds `query` non-empty.
async fn wait_on_gateway(client: &reqwest::Client, gateway: &str, query: Json) {
    for _ in 0..400 {
        let r = client
            .post(format!("{gateway}/graphql"))
            .json(&query)
            .send()
            .await
            .unwrap();
        let body: Json = r.json().await.unwrap();
        if body["data"]["transactions"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the gateway never showed {query}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_on_another_su_is_read_from_its_scheduler_location() {
    let net = Net::start("lua53").await;
    // A second SU, which publishes its location and its processes to the gateway. The CU
    // knows only the first one.
    let dir = tempfile::tempdir().unwrap();
    let (other, other_address) = start_su_uploading(dir.path(), &net.gateway.url).await;
    assert_ne!(other_address, net.su_address);
    let process = process_item(&net.module, &other_address);
    post_raw(&net.client, &format!("{}/", other.url), &process).await;
    let pid = process.id();
    let mut sent = Vec::new();
    for i in 0..3 {
        let item = ItemBuilder::new()
            .target(pid)
            .anchor([i; 32])
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Message")
            .tag("Action", "Eval")
            .data(COUNT)
            .sign(&signer())
            .unwrap();
        post_raw(&net.client, &format!("{}/", other.url), &item).await;
        sent.push(item.id());
    }
    let location = json!({
        "query": ao_unit::location::LOCATION_QUERY,
        "variables": { "owners": [other_address] },
    });
    wait_on_gateway(&net.client, &net.gateway.url, location).await;
    let by_id = json!({
        "query": "query ($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id } } } }",
        "variables": { "ids": [pid.to_string()] },
    });
    wait_on_gateway(&net.client, &net.gateway.url, by_id).await;

    // The CU finds the process on the gateway, its SU by the location, and evaluates it.
    assert_eq!(net.output_of(pid, &sent[2]).await, "count=3");
    assert_eq!(net.output_of(pid, &sent[0]).await, "count=1");
    let (status, results) = net.get(&format!("/results/{pid}?sort=ASC")).await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(cursors(&results), ["0", "1", "2", "3"]);
    // The CU's own SU still serves its own processes.
    let own = net.eval(COUNT).await;
    assert_eq!(net.output(&own).await, "count=1");

    // An address with no Scheduler-Location is refused clearly.
    let lost = process_item(&net.module, &"x".repeat(43));
    post_raw(
        &net.client,
        &format!("{}/tx/arweave", net.gateway.url),
        &lost,
    )
    .await;
    let (status, body) = net
        .get(&format!("/result/{}?process-id={}", lost.id(), lost.id()))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Scheduler-Location"),
        "{body}"
    );
    other.stop().await;
    net.stop().await;
}

/// Resident processes share the evaluation threads: with one thread, many processes stay
/// resident and answer, and a process whose SU never answers holds up none of them (the
/// clients run on the server's runtime, not on the evaluation thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_one_evaluation_thread_and_a_silent_su_blocks_none() {
    const PROCESSES: usize = 12;
    let mut net = Net::start("lua53").await;
    net.restart_cu_with(|config| {
        config.eval_threads = 1;
        config.upstream_timeout = Duration::from_secs(20);
    })
    .await;
    let (_, health) = net.get("/health").await;
    assert_eq!(health["eval_threads"], 1, "{health}");
    let mut processes = vec![net.process];
    for n in 1..PROCESSES {
        processes.push(net.spawn(&[("Name", &format!("p{n}"))], "1984").await);
    }
    // Every process answers, twice, from the one thread.
    for round in 1..=2 {
        let mut sent = Vec::new();
        for process in &processes {
            let (eval, _) = net.send_to(*process, &[("Action", "Eval")], COUNT).await;
            sent.push((*process, eval));
        }
        for (process, eval) in &sent {
            assert_eq!(
                net.output_of(*process, eval).await,
                format!("count={round}")
            );
        }
    }
    let (_, health) = net.get("/health").await;
    assert_eq!(health["resident"], PROCESSES as u64, "{health}");

    // A process whose SU (found by its Scheduler-Location) accepts and never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    let (reached, mut reached_rx) = tokio::sync::mpsc::unbounded_channel();
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            held.push(socket);
            let _ = reached.send(());
        }
    });
    let silent = Signer::from_ed25519_seed(&[9; 32]).unwrap();
    let location = ao_core::ao::SchedulerLocation {
        url: hole_url,
        time_to_live_ms: 3_600_000,
    }
    .sign(&silent, [1; 32])
    .unwrap();
    let gateway_tx = format!("{}/tx/arweave", net.gateway.url);
    post_raw(&net.client, &gateway_tx, &location).await;
    let stuck = process_item(&net.module, &silent.address());
    post_raw(&net.client, &gateway_tx, &stuck).await;
    let location_query = json!({
        "query": ao_unit::location::LOCATION_QUERY,
        "variables": { "owners": [silent.address()] },
    });
    wait_on_gateway(&net.client, &net.gateway.url, location_query).await;
    let waiting = tokio::spawn({
        let (client, url, pid) = (net.client.clone(), net.cu_url().to_owned(), stuck.id());
        async move {
            let r = client
                .get(format!("{url}/result/{pid}?process-id={pid}"))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    });
    // Once that process's worker waits on the silent SU, the others still answer.
    tokio::time::timeout(Duration::from_secs(10), reached_rx.recv())
        .await
        .expect("the CU never asked the silent SU");
    let (_, health) = net.get("/health").await;
    assert_eq!(health["processes"], PROCESSES as u64 + 1, "{health}");
    for process in &processes {
        let (eval, _) = net.send_to(*process, &[("Action", "Eval")], COUNT).await;
        assert_eq!(net.output_of(*process, &eval).await, "count=3");
    }
    assert!(!waiting.is_finished(), "the silent SU answered");
    waiting.abort();
    holding.abort();
    net.stop().await;
}

/// A result request for a message not yet evaluated evaluates the whole page the SU has
/// newly scheduled, so a burst is read, evaluated and committed once, and the later messages'
/// results are then served from the store without the SU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_request_evaluates_the_burst_it_arrived_in() {
    let net = Net::start("lua53").await;
    // The process message first, alone.
    let first = net.eval(COUNT).await;
    assert_eq!(net.output(&first).await, "count=1");
    let before = net.metric("ao_cu_messages_evaluated_total").await;
    let mut burst = Vec::new();
    for _ in 0..10 {
        burst.push(net.eval(COUNT).await);
    }
    // Asking for the first of the burst evaluates all ten.
    assert_eq!(net.output(&burst[0]).await, "count=2");
    assert_eq!(
        net.metric("ao_cu_messages_evaluated_total").await,
        before + 10
    );
    // The SU goes away: the others are answered from the store, in order.
    net.su.shutdown.cancel();
    for (i, message) in burst.iter().enumerate().skip(1) {
        assert_eq!(net.output(message).await, format!("count={}", i + 2));
    }
    net.stop().await;
}
