//! Blocks and the node endpoints: pending items, mining on a timer and on `/mine`, tx status,
//! `/info`, the arlocal-compatible `/mint`, health and metrics.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{item, signer, start};

#[tokio::test]
async fn pending_items_have_no_block_until_mined() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let one = item(&signer(20), &[("K", "v")], b"x");
    gw.upload(&one).await;
    let query = "query($id: ID!) { transaction(id: $id) { block { id height } } }";
    let vars = json!({"id": one.id().to_string()});
    assert_eq!(
        gw.graphql(query, vars.clone()).await["transaction"]["block"],
        Value::Null
    );
    let response = gw.get(&format!("/tx/{}/status", one.id())).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.text().await.unwrap(), "Pending");

    let height = gw.mine().await;
    let block = gw.graphql(query, vars.clone()).await["transaction"]["block"].clone();
    assert_eq!(block["height"], height);
    let info: Value = gw.get("/info").await.json().await.unwrap();
    assert_eq!(info["height"], height);
    assert_eq!(info["current"], block["id"]);
    let status: Value = gw
        .get(&format!("/tx/{}/status", one.id()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        json!({"block_height": height, "block_indep_hash": block["id"], "number_of_confirmations": 1})
    );
    // Empty blocks still advance the height and add confirmations.
    let body: Value = gw.get("/mine/3").await.json().await.unwrap();
    assert_eq!(body["height"], height + 3);
    let status: Value = gw
        .get(&format!("/tx/{}/status", one.id()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["number_of_confirmations"], 4);
    assert_eq!(gw.graphql(query, vars).await["transaction"]["block"], block);
    gw.stop().await;
}

async fn height(gw: &crate::Gateway) -> u64 {
    let info: Value = gw.get("/info").await.json().await.unwrap();
    info["height"].as_u64().unwrap()
}

#[tokio::test]
async fn blocks_are_mined_on_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Some(Duration::from_millis(50))).await;
    let one = item(&signer(21), &[], b"timer");
    gw.upload(&one).await;
    let first = height(&gw).await;

    let mut mined = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if height(&gw).await > first
            && gw.get(&format!("/tx/{}/status", one.id())).await.status() == 200
        {
            mined = true;
            break;
        }
    }
    assert!(mined, "the height advanced and the upload was mined");
    gw.stop().await;
}

#[tokio::test]
async fn arlocal_compat_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let info: Value = gw.get("/info").await.json().await.unwrap();
    assert_eq!(info["network"], "ao-local");
    assert_eq!(info["height"], 0);
    assert_eq!(info["blocks"], 1);
    let mint = gw.get("/mint/someaddress/1000000000000").await;
    assert_eq!(mint.status(), 200);
    assert_eq!(mint.text().await.unwrap(), "1000000000000");
    assert_eq!(gw.get("/mint/someaddress/lots").await.status(), 400);
    assert_eq!(gw.mine().await, 1);
    assert_eq!(gw.get("/mine/0").await.status(), 400);
    assert_eq!(gw.get("/health").await.status(), 200);
    gw.upload(&item(&signer(22), &[], b"m")).await;
    let metrics = gw.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("gateway_uploads_total 1"), "{metrics}");
    assert!(metrics.contains("gateway_block_height 1"), "{metrics}");
    gw.stop().await;
}
