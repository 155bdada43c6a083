//! Every endpoint of PROTOCOL.md §4 and every error path.

use ao_core::ao::dedup_hash;
use ao_core::wallet::Jwk;
use ao_core::{DataItem, Id, ItemBuilder};
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn info_timestamp_health_metrics() {
    let su = Su::start().await;
    let c = client();
    let (status, info) = get(&c, &format!("{}/", su.url)).await;
    assert_eq!(status, 200);
    assert!(info["timestamp"].as_str().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000);
    assert_eq!(info["address"].as_str().unwrap().len(), 43);
    let (status, ts) = get(&c, &format!("{}/timestamp", su.url)).await;
    assert_eq!(status, 200);
    assert_eq!(ts["block_height"], "000000000000");
    assert!(ts["timestamp"].is_string());
    let (status, _) = get(&c, &format!("{}/health", su.url)).await;
    assert_eq!(status, 200);
    let metrics = c.get(format!("{}/metrics", su.url)).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("su_items_ordered_total 0"), "{text}");
    // The Scheduler-Location item waits in the outbox (no storage configured).
    assert!(text.contains("su_outbox_depth 1"), "{text}");
    assert!(text.contains("su_commit_batch_size_count"), "{text}");
    su.stop().await;
}

#[tokio::test]
async fn process_and_messages_are_ordered_and_readable() {
    let su = Su::start().await;
    let c = client();
    let process = process_item(&signer(1), &su.address, "p");
    let (status, posted) = post(&c, &su.url, &process).await;
    assert_eq!(status, 200, "{posted}");
    let pid = process.id().to_string();
    assert_eq!(posted["id"], pid);
    assert!(posted["timestamp"].is_u64());
    let pid_id = Id::parse(&pid, "pid").unwrap();
    let mut ids = vec![pid.clone()];
    for n in 0..5 {
        let m = message_item(&signer(2), &pid_id, n);
        let (status, body) = post(&c, &su.url, &m).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], m.id().to_string());
        ids.push(m.id().to_string());
    }
    let edges = schedule(&c, &su.url, &pid).await;
    assert_eq!(check_schedule(&pid, &edges), ids);
    // The process's own assignment has no Message tag; the others name their message.
    let first = &edges[0]["node"];
    assert!(tag(&first["assignment"], "Message").is_none());
    assert_eq!(first["message"]["id"], pid);
    let second = &edges[1]["node"];
    assert_eq!(tag(&second["assignment"], "Message").unwrap(), ids[1]);
    assert_eq!(tag(&second["assignment"], "Type").unwrap(), "Assignment");
    assert_eq!(
        tag(&second["assignment"], "Block-Height").unwrap(),
        "000000000000"
    );
    assert_eq!(second["assignment"]["target"], "");
    assert_eq!(second["assignment"]["owner"]["address"], su.address);
    assert_eq!(second["message"]["data"], "message 0");
    assert_eq!(second["message"]["target"], pid);
    assert_eq!(second["message"]["owner"]["address"], signer(2).address());

    // One message, by message id and by assignment id.
    let (status, one) = get(&c, &format!("{}/{}?process-id={pid}", su.url, ids[3])).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one, edges[3]["node"]);
    let aid = edges[3]["node"]["assignment"]["id"].as_str().unwrap();
    let (status, by_assignment) = get(&c, &format!("{}/{aid}?process-id={pid}", su.url)).await;
    assert_eq!(status, 200);
    assert_eq!(by_assignment, edges[3]["node"]);
    let (status, no_pid) = get(&c, &format!("{}/{}", su.url, ids[3])).await;
    assert_eq!(status, 200);
    assert_eq!(no_pid, edges[3]["node"]);

    let (status, latest) = get(&c, &format!("{}/{pid}/latest", su.url)).await;
    assert_eq!(status, 200);
    assert_eq!(latest, edges[5]["node"]);

    let (status, p) = get(&c, &format!("{}/processes/{pid}", su.url)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["process_id"], pid);
    assert_eq!(p["block"], "000000000000");
    assert_eq!(p["owner"]["address"], signer(1).address());
    assert_eq!(p["data"], "process data");
    assert!(p["timestamp"].is_u64());
    assert_eq!(tag(&p, "Type").unwrap(), "Process");
    assert!(p["signature"].is_string() && p["anchor"].is_null() && p["target"] == "");
    su.stop().await;
}

#[tokio::test]
async fn duplicates_are_refused() {
    let su = Su::start().await;
    let c = client();
    let process = process_item(&signer(1), &su.address, "dup");
    assert_eq!(post(&c, &su.url, &process).await.0, 200);
    let (status, body) = post(&c, &su.url, &process).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (409, "Message already exists")
    );
    let pid = process.id();
    let m = message_item(&signer(2), &pid, 1);
    assert_eq!(post(&c, &su.url, &m).await.0, 200);
    let (status, body) = post(&c, &su.url, &m).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (409, "Message already exists")
    );
    let text = c
        .get(format!("{}/metrics", su.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("su_duplicates_total 2"), "{text}");
    su.stop().await;
}

fn pushed(signer_seed: u8, pid: &Id, pushed_for: &str) -> DataItem {
    ItemBuilder::new()
        .target(*pid)
        .anchor(anchor(77))
        .tag("Action", "Credit-Notice")
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .tag("From-Process", "X".repeat(43))
        .tag("Pushed-For", pushed_for)
        .data("pushed")
        .sign(&signer(signer_seed))
        .unwrap()
}

#[tokio::test]
async fn duplicate_push_is_absorbed() {
    let su = Su::start().await;
    let c = client();
    let pid = Id::parse(&spawn(&c, &su, "push").await, "pid").unwrap();
    let a = pushed(3, &pid, "first");
    let b = pushed(4, &pid, "second");
    assert_ne!(a.id(), b.id());
    assert_eq!(dedup_hash(&a), dedup_hash(&b));
    assert_eq!(post(&c, &su.url, &a).await.0, 200);
    let (status, body) = post(&c, &su.url, &b).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Message already exists")
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(&a.id().to_string())
    );
    su.stop().await;
}

#[tokio::test]
async fn rsa_signed_items_are_accepted() {
    let keys: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/keys.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let rsa = Jwk::from_json(&keys["rsa"]["jwk"].to_string())
        .unwrap()
        .signer()
        .unwrap();
    let su = Su::start().await;
    let c = client();
    let process = process_item(&rsa, &su.address, "rsa");
    assert_eq!(post(&c, &su.url, &process).await.0, 200);
    let m = message_item(&rsa, &process.id(), 1);
    let (status, body) = post(&c, &su.url, &m).await;
    assert_eq!(status, 200, "{body}");
    let (_, one) = get(
        &c,
        &format!("{}/{}?process-id={}", su.url, m.id(), process.id()),
    )
    .await;
    assert_eq!(one["message"]["owner"]["address"], keys["rsa"]["address"]);
    su.stop().await;
}

#[tokio::test]
async fn binary_data_survives_the_json() {
    let su = Su::start().await;
    let c = client();
    let pid = Id::parse(&spawn(&c, &su, "bin").await, "pid").unwrap();
    let data: Vec<u8> = (0..=255u8).rev().collect();
    let m = ItemBuilder::new()
        .target(pid)
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .data(data.clone())
        .sign(&signer(2))
        .unwrap();
    assert_eq!(post(&c, &su.url, &m).await.0, 200);
    let (_, one) = get(&c, &format!("{}/{}?process-id={pid}", su.url, m.id())).await;
    assert_eq!(one["message"]["data_encoding"], "base64url");
    let item: ao_core::wire::SuItem = serde_json::from_value(one["message"].clone()).unwrap();
    assert_eq!(item.data_bytes().unwrap(), data);
    su.stop().await;
}

#[tokio::test]
async fn paging_by_timestamp_and_nonce() {
    let su = Su::start().await;
    let c = client();
    let pid = spawn(&c, &su, "pages").await;
    let pid_id = Id::parse(&pid, "pid").unwrap();
    for n in 0..9 {
        assert_eq!(
            post(&c, &su.url, &message_item(&signer(2), &pid_id, n))
                .await
                .0,
            200
        );
    }
    let all = schedule(&c, &su.url, &pid).await;
    assert_eq!(all.len(), 10);
    check_schedule(&pid, &all);
    let ts = |i: usize| all[i]["cursor"].as_str().unwrap().to_owned();
    let nonces = |page: &Value| -> Vec<String> {
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| tag(&e["node"]["assignment"], "Nonce").unwrap().to_owned())
            .collect()
    };
    let (_, p) = get(&c, &format!("{}/{pid}?limit=3", su.url)).await;
    assert_eq!(nonces(&p), ["0", "1", "2"]);
    assert_eq!(p["page_info"]["has_next_page"], true);
    // from is exclusive, to inclusive.
    let (_, p) = get(&c, &format!("{}/{pid}?from={}&to={}", su.url, ts(2), ts(5))).await;
    assert_eq!(nonces(&p), ["3", "4", "5"]);
    assert_eq!(p["page_info"]["has_next_page"], false);
    let (_, p) = get(&c, &format!("{}/{pid}?from={}", su.url, ts(9))).await;
    assert_eq!(nonces(&p), Vec::<String>::new());
    let (_, p) = get(&c, &format!("{}/{pid}?to=1", su.url)).await;
    assert_eq!(nonces(&p), Vec::<String>::new());
    // Nonce bounds are both inclusive; cursors are then nonces.
    let (_, p) = get(&c, &format!("{}/{pid}?from-nonce=4&to-nonce=6", su.url)).await;
    assert_eq!(nonces(&p), ["4", "5", "6"]);
    assert_eq!(p["edges"][0]["cursor"], "4");
    let (_, p) = get(&c, &format!("{}/{pid}?from-nonce=8&limit=5000", su.url)).await;
    assert_eq!(nonces(&p), ["8", "9"]);
    su.stop().await;
}

#[tokio::test]
async fn bad_items_are_refused_with_json_errors() {
    let su = Su::start_with(|c| {
        c.message_bytes_max = 2048;
        c.process_bytes_max = 8192;
    })
    .await;
    let c = client();
    let pid = Id::parse(&spawn(&c, &su, "errors").await, "pid").unwrap();
    let s = signer(2);
    let base = || {
        ItemBuilder::new()
            .target(pid)
            .tag("Data-Protocol", "ao")
            .tag("Type", "Message")
    };
    let expect = |status: u16, needle: &'static str| {
        move |(got, body): (u16, Value)| {
            let error = body["error"]
                .as_str()
                .unwrap_or_else(|| panic!("no error: {body}"));
            assert_eq!(got, status, "{error}");
            assert!(error.contains(needle), "{error:?} lacks {needle:?}");
        }
    };
    expect(400, "invalid data item")(post_raw(&c, &su.url, vec![1, 2, 3]).await);
    expect(400, "empty")(post_raw(&c, &su.url, vec![]).await);
    let mut tampered = base().data("x").sign(&s).unwrap().encode();
    *tampered.last_mut().unwrap() = b'y';
    expect(400, "signature")(post_raw(&c, &su.url, tampered).await);
    // Type 4 (Solana) parses but is not verified.
    let mut solana = base().data("x").sign(&s).unwrap().encode();
    solana[0] = 4;
    expect(400, "not verified")(post_raw(&c, &su.url, solana).await);
    let not_ao = ItemBuilder::new()
        .target(pid)
        .tag("Type", "Message")
        .sign(&s)
        .unwrap();
    expect(400, "Data-Protocol")(post(&c, &su.url, &not_ao).await);
    let module = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Module")
        .sign(&s)
        .unwrap();
    expect(400, "Type Module cannot be posted")(post(&c, &su.url, &module).await);
    let no_target = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .sign(&s)
        .unwrap();
    expect(400, "target")(post(&c, &su.url, &no_target).await);
    let elsewhere = message_item(&s, &Id([5; 32]), 1);
    expect(404, "not found on this SU")(post(&c, &su.url, &elsewhere).await);
    let foreign = process_item(&s, &"Z".repeat(43), "foreign");
    expect(400, "not this SU")(post(&c, &su.url, &foreign).await);
    let no_module = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Process")
        .tag("Scheduler", su.address.clone())
        .sign(&s)
        .unwrap();
    expect(400, "Module")(post(&c, &su.url, &no_module).await);
    let big = base().data(vec![b'a'; 4096]).sign(&s).unwrap();
    expect(413, "limit")(post(&c, &su.url, &big).await);
    // Over the body limit, refused from Content-Length before reading.
    expect(413, "limit")(post_raw(&c, &su.url, vec![0; 100 * 1024]).await);

    // Paths, methods, queries and ids.
    let url = &su.url;
    expect(404, "not found")(get(&c, &format!("{url}/a/b/c")).await);
    let r = c.delete(format!("{url}/")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(json_body(r).await["error"].is_string());
    expect(400, "limit")(get(&c, &format!("{url}/{pid}?limit=abc")).await);
    expect(400, "from")(get(&c, &format!("{url}/{pid}?from=-1")).await);
    expect(400, "id")(get(&c, &format!("{url}/not-an-id")).await);
    expect(400, "process-id")(get(&c, &format!("{url}/timestamp?process-id=zz")).await);
    let unknown = Id([6; 32]);
    expect(404, "not found")(get(&c, &format!("{url}/{unknown}")).await);
    expect(404, "not found")(get(&c, &format!("{url}/{unknown}?process-id={pid}")).await);
    expect(404, "not found")(get(&c, &format!("{url}/processes/{unknown}")).await);
    expect(404, "not found")(get(&c, &format!("{url}/{unknown}/latest")).await);
    let text = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("su_client_errors_total 0"), "{text}");
    su.stop().await;
}

#[tokio::test]
async fn connections_past_the_limit_get_503() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let su = Su::start_with(|c| c.connections_max = 2).await;
    let addr = su.url.trim_start_matches("http://").to_owned();
    // wait_ready's pooled connection may still hold a permit; hold two more of our own.
    let mut held = Vec::new();
    let mut refused = None;
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("HTTP/1.1 503") {
            refused = Some(text);
            break;
        }
        held.push(s);
    }
    let refused = refused.expect("no connection was refused");
    assert!(
        refused.contains("{\"error\":\"too many open connections"),
        "{refused}"
    );
    drop(held);
    su.stop().await;
}

#[tokio::test]
async fn rsa_su_wallet_signs_assignments() {
    let keys: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/keys.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wallet = dir.path().join("arweave.json");
    std::fs::write(&wallet, keys["rsa"]["jwk"].to_string()).unwrap();
    let su = Su::start_with(|c| c.wallet = Some(wallet)).await;
    assert_eq!(su.address, keys["rsa"]["address"]);
    let c = client();
    let pid = spawn(&c, &su, "rsa-su").await;
    let m = message_item(&signer(2), &Id::parse(&pid, "pid").unwrap(), 1);
    assert_eq!(post(&c, &su.url, &m).await.0, 200);
    let edges = schedule(&c, &su.url, &pid).await;
    check_schedule(&pid, &edges);
    let item: ao_core::wire::SuItem =
        serde_json::from_value(edges[1]["node"]["assignment"].clone()).unwrap();
    assert_eq!(item.owner.address, su.address);
    assert_eq!(item.signature.len(), 683); // 512 bytes, base64url
    su.stop().await;
}

#[tokio::test]
async fn pending_writes_past_the_limit_get_503() {
    let su = Su::start_with(|c| c.pending_writes_max = 1).await;
    let c = client();
    let pid = Id::parse(&spawn(&c, &su, "busy").await, "pid").unwrap();
    let mut tasks = Vec::new();
    for n in 0..64 {
        let (c, url) = (c.clone(), su.url.clone());
        let m = message_item(&signer(2), &pid, n);
        tasks.push(tokio::spawn(async move {
            (m.id().to_string(), post(&c, &url, &m).await)
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        let (id, (status, body)) = t.await.unwrap();
        match status {
            200 => acknowledged.push(id),
            503 => assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .contains("too many pending writes")
            ),
            other => panic!("{other}: {body}"),
        }
    }
    let edges = schedule(&c, &su.url, &pid.to_string()).await;
    let mut stored = check_schedule(&pid.to_string(), &edges)[1..].to_vec();
    stored.sort();
    acknowledged.sort();
    assert_eq!(stored, acknowledged);
    su.stop().await;
}
