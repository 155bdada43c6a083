//! The MU over real sockets with the real gateway, SU and CU in-process (the MU itself
//! in-process, or as the real `ao-mu` binary where it gets killed): items are ordered and
//! evaluated, processes talk to each other, spawn children and assign messages through the
//! push loop, a SIGKILL loses no push, a message loop stops at the depth bound, and every bad
//! request gets a JSON error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ao_core::{DataItem, Id, ItemBuilder, Signer, Tag};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

/// Every wait on an eventual outcome gives up after this long (debug builds on 2 cores).
const DEADLINE: Duration = Duration::from_secs(60);

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

async fn wait_ready(url: &str, path: &str) -> reqwest::Response {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{url}{path}")).send().await
            && r.status().is_success()
        {
            return r;
        }
        assert!(start.elapsed() < DEADLINE, "{url} never became ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn spawn_unit<E: Send + 'static>(
    url: String,
    run: impl FnOnce(CancellationToken) -> Task<E>,
) -> Unit<E> {
    let shutdown = CancellationToken::new();
    let task = run(shutdown.clone());
    Unit {
        url,
        shutdown,
        task,
    }
}

struct Net {
    client: reqwest::Client,
    gateway: Unit<gateway::GatewayError>,
    su: Unit<su::SuError>,
    su_address: String,
    cu: Unit<cu::CuError>,
    mu: Option<Unit<mu::MuError>>,
    mu_url: String,
    mu_address: String,
    mu_dir: Arc<tempfile::TempDir>,
    _dirs: Vec<tempfile::TempDir>,
    user: Signer,
    module: Id,
    sent: AtomicU64,
}

impl Net {
    /// Gateway, SU (uploading to the gateway, so its Scheduler-Location is there), CU, and an
    /// MU configured by `configure` (which gets the SU's URL).
    async fn start(configure: impl FnOnce(&mut mu::Config, &str)) -> Net {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let (listener, gateway_url) = bind().await;
        let mut config = gateway::Config::new(dirs[0].path());
        config.block_interval = Some(Duration::from_millis(200));
        let gateway = spawn_unit(gateway_url.clone(), |s| {
            tokio::spawn(gateway::run(config, listener, s))
        });
        wait_ready(&gateway_url, "/info").await;

        let (listener, su_url) = bind().await;
        let mut config = su::Config::new(dirs[1].path());
        config.storage = su::StorageConfig::Http {
            url: gateway_url.clone(),
            path: "/tx".into(),
        };
        config.gateway = Some(su::config::GatewayConfig {
            url: gateway_url.clone(),
            item_path: "/item/{id}".into(),
            height_refresh: Duration::from_secs(1),
        });
        config.upload_retry_initial = Duration::from_millis(50);
        let su = spawn_unit(su_url.clone(), |s| {
            tokio::spawn(su::run(config, listener, s))
        });
        let info: Json = wait_ready(&su_url, "/").await.json().await.unwrap();
        let su_address = info["address"].as_str().unwrap().to_owned();

        let (listener, cu_url) = bind().await;
        let config = cu::Config::new(dirs[2].path(), &su_url, &gateway_url);
        let cu = spawn_unit(cu_url.clone(), |s| {
            tokio::spawn(cu::run(config, listener, s))
        });
        wait_ready(&cu_url, "/").await;

        let client = reqwest::Client::new();
        let user = Signer::from_ed25519_seed(&[11; 32]).unwrap();
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
        let r = client
            .post(format!("{gateway_url}/tx/arweave"))
            .body(module.encode())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());

        let mu_dir = Arc::new(tempfile::tempdir().unwrap());
        let mut config = mu::Config::new(mu_dir.path(), &cu_url);
        config.gateway_url = Some(gateway_url.clone());
        config.retry_initial = Duration::from_millis(50);
        config.retry_max = Duration::from_millis(500);
        config.monitor_interval = Duration::from_millis(200);
        configure(&mut config, &su_url);
        let (listener, mu_url) = bind().await;
        let mu = spawn_unit(mu_url.clone(), |s| {
            tokio::spawn(mu::run(config, listener, s))
        });
        let health: Json = wait_ready(&mu_url, "/health").await.json().await.unwrap();
        let mu_address = health["address"].as_str().unwrap().to_owned();
        Net {
            client,
            gateway,
            su,
            su_address,
            cu,
            mu: Some(mu),
            mu_url,
            mu_address,
            mu_dir,
            _dirs: dirs,
            user,
            module: module.id(),
            sent: AtomicU64::new(0),
        }
    }

    fn anchor(&self) -> [u8; 32] {
        // Signatures are deterministic: a fresh anchor keeps equal messages distinct.
        let mut anchor = [b'u'; 32];
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        anchor[..8].copy_from_slice(&n.to_be_bytes());
        anchor
    }

    /// POSTs raw bytes to the MU: (status, JSON body).
    async fn post(&self, path: &str, body: Vec<u8>) -> (u16, Json) {
        let r = self
            .client
            .post(format!("{}{path}", self.mu_url))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    async fn accepted(&self, item: &DataItem) -> Id {
        let (status, body) = self.post("/", item.encode()).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["message"], "Processing DataItem");
        assert_eq!(body["id"], item.id().to_string());
        item.id()
    }

    /// Spawns a process (trusting the MU) through the MU and waits for its first result.
    async fn spawn(&self, name: &str) -> Id {
        let item = ItemBuilder::new()
            .anchor(self.anchor())
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Process")
            .tag("Module", self.module.to_string())
            .tag("Scheduler", self.su_address.clone())
            .tag("Authority", self.mu_address.clone())
            .tag("Name", name)
            .data("1984")
            .sign(&self.user)
            .unwrap();
        let pid = self.accepted(&item).await;
        let spawned = self.result(&pid, &pid).await;
        assert!(spawned.get("Error").is_none(), "{spawned}");
        pid
    }

    fn message(&self, pid: &Id, tags: &[(&str, &str)], data: &str) -> DataItem {
        ItemBuilder::new()
            .target(*pid)
            .anchor(self.anchor())
            .tag("Data-Protocol", "ao")
            .tag("Variant", "ao.TN.1")
            .tag("Type", "Message")
            .tags(tags.iter().map(|(n, v)| Tag::new(*n, *v)))
            .data(data)
            .sign(&self.user)
            .unwrap()
    }

    async fn send(&self, pid: &Id, tags: &[(&str, &str)], data: &str) -> Id {
        self.accepted(&self.message(pid, tags, data)).await
    }

    /// Sends an Eval and waits for its result, which must not be an error.
    async fn eval(&self, pid: &Id, code: &str) -> Json {
        let id = self.send(pid, &[("Action", "Eval")], code).await;
        let result = self.result(pid, &id).await;
        assert!(result.get("Error").is_none(), "{code}: {result}");
        result
    }

    /// The result of `message` on `pid`, waiting until the CU has it.
    async fn result(&self, pid: &Id, message: &Id) -> Json {
        let start = Instant::now();
        loop {
            let r = self
                .client
                .get(format!("{}/result/{message}?process-id={pid}", self.cu.url))
                .send()
                .await
                .unwrap();
            let body: Json = r.json().await.unwrap();
            if body.get("error").is_none() {
                return body;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no result for {message}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `expr` evaluated by a dry run from the owner: its printed value.
    async fn read(&self, pid: &Id, expr: &str) -> String {
        let body = json!({
            "Owner": self.user.address(),
            "Tags": [{"name": "Action", "value": "Eval"}],
            "Data": format!("return tostring({expr})"),
        });
        let r = self
            .client
            .post(format!("{}/dry-run?process-id={pid}", self.cu.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let result: Json = r.json().await.unwrap();
        result["Output"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("no Output.data in {result}"))
            .to_owned()
    }

    /// Waits until `expr` on `pid` reads `expected`.
    async fn wait_for(&self, pid: &Id, expr: &str, expected: &str) {
        let start = Instant::now();
        loop {
            let value = self.read(pid, expr).await;
            if value == expected {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{expr} on {pid} is {value:?}, never {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every scheduled item of `pid`'s schedule, as the SU holds it.
    async fn schedule(&self, pid: &Id) -> Vec<Json> {
        let r = self
            .client
            .get(format!("{}/{pid}?limit=1000", self.su.url))
            .send()
            .await
            .unwrap();
        let page: Json = r.json().await.unwrap();
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    }

    /// Scheduled messages of `pid` whose `Action` is `action`.
    async fn scheduled(&self, pid: &Id, action: &str) -> usize {
        self.schedule(pid)
            .await
            .iter()
            .filter(|node| {
                node["message"]["tags"].as_array().is_some_and(|tags| {
                    tags.iter()
                        .any(|t| t["name"] == "Action" && t["value"] == action)
                })
            })
            .count()
    }

    /// How many cron results the CU has for `pid` (it catches up to now first).
    async fn cron_results(&self, pid: &Id) -> usize {
        let mut count = 0;
        let mut from = String::new();
        loop {
            let r = self
                .client
                .get(format!("{}/cron/{pid}?limit=1000{from}", self.cu.url))
                .send()
                .await
                .unwrap();
            let page: Json = r.json().await.unwrap();
            let edges = page["edges"].as_array().unwrap_or_else(|| panic!("{page}"));
            count += edges.len();
            match edges.last() {
                Some(last) if page["pageInfo"]["hasNextPage"] == true => {
                    from = format!("&from={}", last["cursor"].as_str().unwrap());
                }
                _ => return count,
            }
        }
    }

    async fn metric(&self, name: &str) -> u64 {
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
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no metric {name}"))
            .parse()
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(mu) = self.mu.take() {
            mu.stop().await;
        }
        self.cu.stop().await;
        self.su.stop().await;
        self.gateway.stop().await;
    }
}

fn known_su(config: &mut mu::Config, su_url: &str) {
    config.su_urls = vec![su_url.to_owned()];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_talk_through_the_mu() {
    let net = Net::start(known_su).await;
    let a = net.spawn("a").await;
    let b = net.spawn("b").await;

    // A message is ordered and evaluated.
    let two = net.eval(&a, "1 + 1").await;
    assert!(
        two["Output"]["data"].as_str().unwrap().contains('2'),
        "{two}"
    );

    // A's Send reaches B, and B's reply reaches A.
    net.eval(
        &b,
        "Handlers.add('ping', 'Ping', function(m) m.reply({ Action = 'Pong', Data = 'pong from B' }) end)",
    )
    .await;
    net.eval(
        &a,
        "Handlers.add('pong', 'Pong', function(m) Got = m.Data; GotFrom = m.From end)",
    )
    .await;
    net.eval(&a, &format!("Send({{ Target = '{b}', Action = 'Ping' }})"))
        .await;
    net.wait_for(&a, "Got", "pong from B").await;
    assert_eq!(net.read(&a, "GotFrom").await, b.to_string());
    // The pushed message is signed by the MU and says whom it came from.
    let pushed = net.schedule(&b).await;
    let ping = pushed
        .iter()
        .find(|n| {
            n["message"]["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["value"] == "Ping")
        })
        .unwrap();
    assert_eq!(ping["message"]["owner"]["address"], net.mu_address.as_str());
    let tag = |name: &str| {
        ping["message"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(tag("From-Process").unwrap(), a.to_string());
    assert_eq!(tag("From-Module").unwrap(), net.module.to_string());
    assert!(tag("Pushed-For").is_some());

    // A spawn from a process creates the child and notifies the parent, and the parent can
    // talk to its child.
    net.eval(
        &a,
        "Handlers.add('spawned', 'Spawned', function(m) Child = m.Process end)",
    )
    .await;
    net.eval(
        &a,
        "ao.spawn(ao.env.Module.Id, { Data = \"Handlers.add('hi', 'Hi', function(m) m.reply({ Action = 'Hello', Data = 'hello parent' }) end)\", ['On-Boot'] = 'Data', Name = 'child' })",
    )
    .await;
    let start = Instant::now();
    let child = loop {
        let child = net.read(&a, "Child").await;
        if child != "nil" {
            break Id::parse(&child, "child").unwrap();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the parent never heard of its child"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let r = net
        .client
        .get(format!("{}/processes/{child}", net.su.url))
        .send()
        .await
        .unwrap();
    let process: Json = r.json().await.unwrap();
    let tags = process["tags"].as_array().unwrap();
    let has = |name: &str, value: &str| {
        tags.iter()
            .any(|t| t["name"] == name && t["value"] == value)
    };
    assert!(has("From-Process", &a.to_string()), "{process}");
    assert!(has("Name", "child"));
    assert!(has("Scheduler", &net.su_address));
    net.eval(
        &a,
        "Handlers.add('hello', 'Hello', function(m) Greeting = m.Data end)",
    )
    .await;
    net.eval(&a, "Send({ Target = Child, Action = 'Hi' })")
        .await;
    net.wait_for(&a, "Greeting", "hello parent").await;

    // An outbox assignment is delivered: B accepts assignments and counts the assigned Note.
    net.eval(&b, "ao.addAssignable('notes', { Action = 'Note' }); Handlers.add('note', 'Note', function(m) Noted = m.Data end)")
        .await;
    let note = net.send(&a, &[("Action", "Note")], "assigned note").await;
    net.result(&a, &note).await;
    net.eval(
        &a,
        &format!("ao.assign({{ Processes = {{ '{b}' }}, Message = '{note}' }})"),
    )
    .await;
    net.wait_for(&b, "Noted", "assigned note").await;

    // A message to a wallet goes to permanent storage.
    net.eval(
        &a,
        &format!(
            "Send({{ Target = '{}', Action = 'ForYou', Data = 'to a wallet' }})",
            net.user.address()
        ),
    )
    .await;
    let start = Instant::now();
    loop {
        let query = json!({
            "query": "query ($p: [String!]!) { transactions(tags: [{name: \"From-Process\", values: $p}, {name: \"Action\", values: [\"ForYou\"]}]) { edges { node { id recipient } } } }",
            "variables": { "p": [a.to_string()] },
        });
        let r = net
            .client
            .post(format!("{}/graphql", net.gateway.url))
            .json(&query)
            .send()
            .await
            .unwrap();
        let body: Json = r.json().await.unwrap();
        let edges = body["data"]["transactions"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(edge) = edges.first() {
            assert_eq!(
                edge["node"]["recipient"],
                net.user.address().as_str(),
                "{body}"
            );
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the wallet message never reached the gateway: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(net.metric("mu_wallet_uploads_total").await >= 1);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_loop_stops_at_the_depth_bound() {
    let net = Net::start(|config, su| {
        known_su(config, su);
        config.push_depth_max = 6;
    })
    .await;
    let a = net.spawn("a").await;
    let b = net.spawn("b").await;
    let bounce = "Handlers.add('bounce', 'Bounce', function(m) Bounces = (Bounces or 0) + 1; ao.send({ Target = m.From, Action = 'Bounce' }) end)";
    net.eval(&a, bounce).await;
    net.eval(&b, bounce).await;
    net.eval(
        &a,
        &format!("Send({{ Target = '{b}', Action = 'Bounce' }})"),
    )
    .await;
    // Depth 1 is the push of A's Send to B; B answers at depth 2, and so on up to 6.
    let start = Instant::now();
    while net.metric("mu_depth_bound_hits_total").await == 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "the loop never reached the bound"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pushed = net.scheduled(&a, "Bounce").await + net.scheduled(&b, "Bounce").await;
    assert_eq!(pushed, 6);
    assert_eq!(net.read(&a, "Bounces").await, "3");
    assert_eq!(net.read(&b, "Bounces").await, "3");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedulers_are_found_by_their_location_on_the_gateway() {
    // No SU is configured: the MU finds the SU by the Scheduler-Location item it published.
    let net = Net::start(|_, _| {}).await;
    let a = net.spawn("a").await;
    let two = net.eval(&a, "20 + 22").await;
    assert!(
        two["Output"]["data"].as_str().unwrap().contains("42"),
        "{two}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors() {
    let net = Net::start(|config, su| {
        known_su(config, su);
        config.item_bytes_max = 64 * 1024;
    })
    .await;
    let a = net.spawn("a").await;
    let r = net.client.get(&net.mu_url).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ao messenger unit");

    let error = |(status, body): (u16, Json)| {
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (status, e) = error(net.post("/", Vec::new()).await);
    assert_eq!(status, 400);
    assert!(e.contains("empty"), "{e}");
    let (status, e) = error(net.post("/", b"not a data item".to_vec()).await);
    assert_eq!(status, 400);
    assert!(e.starts_with("invalid data item"), "{e}");

    let mut forged = net.message(&a, &[("Action", "Eval")], "1").encode();
    forged[10] ^= 1; // inside the signature
    let (status, e) = error(net.post("/", forged).await);
    assert_eq!(status, 400);
    assert!(e.starts_with("invalid signature"), "{e}");

    let module = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Module")
        .sign(&net.user)
        .unwrap();
    let (status, e) = error(net.post("/", module.encode()).await);
    assert_eq!(status, 400);
    assert!(e.contains("Type Module"), "{e}");

    let untyped = ItemBuilder::new()
        .target(a)
        .tag("Data-Protocol", "ao")
        .sign(&net.user)
        .unwrap();
    let (status, e) = error(net.post("/", untyped.encode()).await);
    assert_eq!(status, 400);
    assert!(e.contains("Type"), "{e}");

    let nowhere = net.message(&Id([9; 32]), &[], "x");
    let (status, e) = error(net.post("/", nowhere.encode()).await);
    assert_eq!(status, 404);
    assert!(e.starts_with("unknown target process"), "{e}");

    let unknown_su = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Process")
        .tag("Module", net.module.to_string())
        .tag("Scheduler", "nobody-at-all")
        .sign(&net.user)
        .unwrap();
    let (status, e) = error(net.post("/", unknown_su.encode()).await);
    assert_eq!(status, 400);
    assert!(
        e.contains("no scheduler unit is known for Scheduler nobody-at-all"),
        "{e}"
    );

    let big = net.message(&a, &[], &"x".repeat(70 * 1024));
    let (status, e) = error(net.post("/", big.encode()).await);
    assert_eq!(status, 413);
    assert!(e.contains("limit") || e.contains("larger"), "{e}");

    // The same message twice: the SU's words, with its status.
    let once = net.message(&a, &[("Action", "Noop")], "");
    net.accepted(&once).await;
    let (status, e) = error(net.post("/", once.encode()).await);
    assert_eq!(status, 409);
    assert!(e.contains("already exists"), "{e}");

    // Assignments need both parameters, as ids.
    let (status, e) = error(net.post(&format!("/?process-id={a}"), Vec::new()).await);
    assert_eq!(status, 400);
    assert!(e.contains("needs both"), "{e}");
    let (status, e) = error(
        net.post(&format!("/?process-id={a}&assign=short"), Vec::new())
            .await,
    );
    assert_eq!(status, 400);
    assert!(e.starts_with("query parameter assign"), "{e}");
    let (status, body) = net
        .post(
            &format!("/?process-id={a}&assign={}", once.id()),
            Vec::new(),
        )
        .await;
    // Already on this process: the SU refuses to order it twice.
    assert_eq!(status, 409, "{body}");

    // Monitors must be signed items aimed at the process.
    let elsewhere = net.message(&Id([9; 32]), &[], " ");
    let (status, e) = error(net.post(&format!("/monitor/{a}"), elsewhere.encode()).await);
    assert_eq!(status, 400);
    assert!(e.contains("targets"), "{e}");
    let r = net
        .client
        .delete(format!("{}/monitor/{a}", net.mu_url))
        .body(net.message(&a, &[], " ").encode())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Json = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("not monitored"),
        "{body}"
    );

    let r = net.client.put(&net.mu_url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let body: Json = r.json().await.unwrap();
    assert!(body["error"].is_string());
    assert!(net.metric("mu_client_errors_total").await >= 10);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_and_unmonitor_are_remembered() {
    let net = Net::start(known_su).await;
    let a = net.spawn("a").await;
    let monitor = net.message(&a, &[], " ");
    let (status, body) = net.post(&format!("/monitor/{a}"), monitor.encode()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(net.metric("mu_monitors").await, 1);
    // Restarting keeps the subscription.
    let mut net = net;
    restart_in_process(&mut net, known_su).await;
    assert_eq!(net.metric("mu_monitors").await, 1);
    let r = net
        .client
        .delete(format!("{}/monitor/{a}", net.mu_url))
        .body(net.message(&a, &[], " ").encode())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(net.metric("mu_monitors").await, 0);
    net.stop().await;
}

/// Stops the in-process MU and starts another on the same data directory.
async fn restart_in_process(net: &mut Net, configure: impl FnOnce(&mut mu::Config, &str)) {
    net.mu.take().unwrap().stop().await;
    let mut config = mu::Config::new(net.mu_dir.path(), &net.cu.url);
    config.gateway_url = Some(net.gateway.url.clone());
    configure(&mut config, &net.su.url);
    let (listener, mu_url) = bind().await;
    net.mu = Some(spawn_unit(mu_url.clone(), |s| {
        tokio::spawn(mu::run(config, listener, s))
    }));
    wait_ready(&mu_url, "/health").await;
    net.mu_url = mu_url;
}

/// The real `ao-mu` binary on a free port, with `data_dir`.
fn start_binary(net: &Net, data_dir: &std::path::Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ao-mu"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--cu-url", &net.cu.url])
        .args(["--gateway-url", &net.gateway.url])
        .args(["--su-url", &net.su.url])
        .args(["--retry-ms", "50", "--retry-max-ms", "500"])
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mu_delivers_every_queued_push_once() {
    const SENDS: usize = 120;
    let mut net = Net::start(known_su).await;
    let a = net.spawn("a").await;
    let b = net.spawn("b").await;
    net.eval(
        &b,
        "Handlers.add('inc', 'Inc', function(m) Count = (Count or 0) + 1 end)",
    )
    .await;

    // The rest goes through the real binary, killed while it pushes.
    net.mu.take().unwrap().stop().await;
    let data = tempfile::tempdir().unwrap();
    // It shares the wallet of the in-process MU, which the processes trust.
    std::fs::copy(
        net.mu_dir.path().join("wallet.json"),
        data.path().join("wallet.json"),
    )
    .unwrap();
    let (mut child, url) = start_binary(&net, data.path());
    wait_ready(&url, "/health").await;
    net.mu_url = url;
    net.send(
        &a,
        &[("Action", "Eval")],
        &format!("for i = 1, {SENDS} do Send({{ Target = '{b}', Action = 'Inc' }}) end"),
    )
    .await;
    let start = Instant::now();
    loop {
        let delivered = net.scheduled(&b, "Inc").await;
        if delivered > 0 {
            assert!(
                delivered < SENDS,
                "all {delivered} pushes were done before the kill"
            );
            break;
        }
        assert!(start.elapsed() < DEADLINE, "no push was ever delivered");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = net.scheduled(&b, "Inc").await;

    let (mut child, url) = start_binary(&net, data.path());
    wait_ready(&url, "/health").await;
    net.mu_url = url;
    net.wait_for(&b, "Count", &SENDS.to_string()).await;
    // Nothing more arrives later: each push is in B's schedule exactly once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        net.scheduled(&b, "Inc").await,
        SENDS,
        "{before} were delivered before the kill"
    );
    assert_eq!(net.read(&b, "Count").await, SENDS.to_string());
    child.kill().unwrap();
    child.wait().unwrap();
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitored_cron_results_are_pushed() {
    let net = Net::start(known_su).await;
    let b = net.spawn("b").await;
    net.eval(
        &b,
        "Handlers.add('tock', 'Tock', function(m) Tocks = (Tocks or 0) + 1 end)",
    )
    .await;
    // A ticks every second and tells B each time.
    let item = ItemBuilder::new()
        .anchor(net.anchor())
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Process")
        .tag("Module", net.module.to_string())
        .tag("Scheduler", net.su_address.clone())
        .tag("Authority", net.mu_address.clone())
        .tag("Cron-Interval", "1-second")
        .tag("Cron-Tag-Action", "Tick")
        .data(format!(
            "Handlers.add('tick', 'Tick', function(m) ao.send({{ Target = '{b}', Action = 'Tock' }}) end)"
        ))
        .tag("On-Boot", "Data")
        .sign(&net.user)
        .unwrap();
    let a = net.accepted(&item).await;
    net.result(&a, &a).await;

    // Unmonitored, cron outboxes stay where they are. (The CU runs ticks up to the SU's time
    // less a 1 s settle margin.)
    let start = Instant::now();
    let before = loop {
        let before = net.cron_results(&a).await;
        if before >= 1 {
            break before;
        }
        assert!(start.elapsed() < DEADLINE, "no tick ever");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(net.read(&b, "Tocks").await, "nil");

    let (status, body) = net
        .post(&format!("/monitor/{a}"), net.message(&a, &[], " ").encode())
        .await;
    assert_eq!(status, 200, "{body}");
    let start = Instant::now();
    loop {
        let tocks = net.read(&b, "Tocks").await;
        if tocks.parse::<u32>().is_ok_and(|n| n >= 2) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "B heard {tocks} tocks");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The ticks from before the subscription were not pushed.
    let pushed = net.scheduled(&b, "Tock").await;
    assert!(pushed <= net.cron_results(&a).await - before);
    assert!(net.metric("mu_cron_results_pushed_total").await >= 2);

    let r = net
        .client
        .delete(format!("{}/monitor/{a}", net.mu_url))
        .body(net.message(&a, &[], " ").encode())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Once unmonitored, no more pushes (give the poll in flight time to finish).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let settled = net.scheduled(&b, "Tock").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(net.scheduled(&b, "Tock").await, settled);
    net.stop().await;
}
