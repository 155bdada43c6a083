//! Assignments (`POST /?process-id=&assign=`) of held items, of items fetched from a gateway,
//! of base-layer transactions, and the block height read from the gateway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ao_core::Id;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing;

use crate::common::*;

async fn assign(c: &reqwest::Client, url: &str, query: &str) -> (u16, serde_json::Value) {
    let r = c.post(format!("{url}/?{query}")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, json_body(r).await)
}

#[tokio::test]
async fn assign_held_item_and_errors() {
    let su = Su::start().await;
    let c = client();
    let a = spawn(&c, &su, "a").await;
    let b = spawn(&c, &su, "b").await;
    let m = message_item(&signer(2), &Id::parse(&a, "a").unwrap(), 1);
    assert_eq!(post(&c, &su.url, &m).await.0, 200);
    let mid = m.id().to_string();
    let (status, body) = assign(
        &c,
        &su.url,
        &format!("process-id={b}&assign={mid}&exclude=Data,Anchor"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let aid = body["id"].as_str().unwrap().to_owned();
    assert!(body["timestamp"].is_u64());
    let edges = schedule(&c, &su.url, &b).await;
    assert_eq!(check_schedule(&b, &edges), [b.clone(), mid.clone()]);
    let node = &edges[1]["node"];
    assert_eq!(node["assignment"]["id"], aid);
    assert_eq!(node["message"]["id"], mid);
    let excludes: Vec<&str> = node["assignment"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "Exclude")
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    assert_eq!(excludes, ["Data", "Anchor"]);
    // The same message in a's schedule and, by assignment id, in b's.
    let (_, in_b) = get(&c, &format!("{}/{aid}", su.url)).await;
    assert_eq!(&in_b, node);
    let (_, in_a) = get(&c, &format!("{}/{mid}?process-id={a}", su.url)).await;
    assert_eq!(tag(&in_a["assignment"], "Process").unwrap(), a);

    let q = format!("process-id={b}&assign={mid}");
    let (status, body) = assign(&c, &su.url, &q).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (409, "Message already exists")
    );
    let unknown = Id([8; 32]);
    let (status, body) = assign(&c, &su.url, &format!("process-id={b}&assign={unknown}")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = assign(&c, &su.url, &format!("process-id={unknown}&assign={mid}")).await;
    assert_eq!(status, 404);
    let (status, body) = assign(&c, &su.url, &format!("assign={mid}")).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("process-id"));
    let (status, _) = assign(&c, &su.url, &format!("process-id={b}")).await;
    assert_eq!(status, 400);
    let (status, _) = assign(&c, &su.url, &format!("process-id={b}&assign=short")).await;
    assert_eq!(status, 400);

    // A base-layer transaction the SU does not hold: a pure assignment, message null.
    let (status, body) = assign(
        &c,
        &su.url,
        &format!("process-id={b}&assign={unknown}&base-layer"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let edges = schedule(&c, &su.url, &b).await;
    check_schedule(&b, &edges);
    assert!(edges[2]["node"]["message"].is_null());
    assert_eq!(
        tag(&edges[2]["node"]["assignment"], "Message").unwrap(),
        unknown.to_string()
    );
    su.stop().await;
}

type Items = Arc<Mutex<HashMap<String, Vec<u8>>>>;

async fn raw(State(items): State<Items>, Path(id): Path<String>) -> Result<Vec<u8>, StatusCode> {
    items
        .lock()
        .unwrap()
        .get(&id)
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)
}

#[tokio::test]
async fn gateway_items_and_block_height() {
    let items: Items = Arc::default();
    let gateway = axum::Router::new()
        .route(
            "/info",
            routing::get(|| async {
                axum::Json(serde_json::json!({"height": 1234567, "network": "x"}))
            }),
        )
        .route("/raw/{id}", routing::get(raw))
        .with_state(items.clone());
    let (gateway_url, stop) = serve(gateway).await;
    let su = Su::start_with(|c| {
        c.gateway = Some(su::config::GatewayConfig {
            url: gateway_url,
            item_path: "/raw/{id}".into(),
            height_refresh: Duration::from_secs(1),
        })
    })
    .await;
    let c = client();
    let (_, ts) = get(&c, &format!("{}/timestamp", su.url)).await;
    assert_eq!(ts["block_height"], "000001234567");
    let pid = spawn(&c, &su, "gw").await;
    let (_, p) = get(&c, &format!("{}/processes/{pid}", su.url)).await;
    assert_eq!(p["block"], "000001234567");
    // An item only the gateway has (targeting another process entirely).
    let m = message_item(&signer(3), &Id([4; 32]), 9);
    items.lock().unwrap().insert(m.id().to_string(), m.encode());
    let (status, body) = assign(&c, &su.url, &format!("process-id={pid}&assign={}", m.id())).await;
    assert_eq!(status, 200, "{body}");
    let edges = schedule(&c, &su.url, &pid).await;
    check_schedule(&pid, &edges);
    assert_eq!(edges[1]["node"]["message"]["id"], m.id().to_string());
    assert_eq!(
        tag(&edges[1]["node"]["assignment"], "Block-Height").unwrap(),
        "000001234567"
    );
    // Bytes that are not the item with that id are refused.
    let other = message_item(&signer(3), &Id([4; 32]), 10);
    items
        .lock()
        .unwrap()
        .insert(Id([2; 32]).to_string(), other.encode());
    let (status, _) = assign(
        &c,
        &su.url,
        &format!("process-id={pid}&assign={}", Id([2; 32])),
    )
    .await;
    assert_eq!(status, 404);
    su.stop().await;
    stop.cancel();
}
