//! The durable outbox: kept without storage, drained after a restart into a storage that
//! first fails and then succeeds.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ao_core::{DataItem, Id};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing;

use crate::common::*;

#[derive(Default)]
struct Target {
    calls: AtomicUsize,
    received: Mutex<Vec<DataItem>>,
}

async fn upload(State(t): State<Arc<Target>>, body: Bytes) -> StatusCode {
    // The first three attempts fail, as a storage that is down would.
    if t.calls.fetch_add(1, Ordering::SeqCst) < 3 {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let item = DataItem::decode(&body).expect("uploads are raw data items");
    item.verify().expect("uploads are signed");
    t.received.lock().unwrap().push(item);
    StatusCode::OK
}

#[tokio::test]
async fn outbox_survives_restart_and_retries_until_confirmed() {
    let c = client();
    let su = Su::start().await;
    let pid = spawn(&c, &su, "outbox").await;
    let pid_id = Id::parse(&pid, "pid").unwrap();
    for n in 0..2 {
        assert_eq!(
            post(&c, &su.url, &message_item(&signer(2), &pid_id, n))
                .await
                .0,
            200
        );
    }
    let edges = schedule(&c, &su.url, &pid).await;
    let mut expected: HashSet<String> = HashSet::new();
    for e in &edges {
        expected.insert(e["node"]["message"]["id"].as_str().unwrap().to_owned());
        expected.insert(e["node"]["assignment"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(expected.len(), 6);
    let dir = su.stop().await;

    let target = Arc::new(Target::default());
    let router = axum::Router::new()
        .route("/tx", routing::post(upload))
        .with_state(target.clone());
    let (storage_url, stop) = serve(router).await;
    let su = Su::start_in(dir, |c| {
        c.storage = su::StorageConfig::Http {
            url: storage_url,
            path: "/tx".into(),
        };
        c.upload_retry_initial = Duration::from_millis(20);
    })
    .await;
    let drained = outbox_drained(&c, &su, Duration::from_secs(6)).await;
    assert!(drained, "the outbox never drained");
    // Uploads run several at a time: after a failure, items that were stored alongside it are
    // sent again (storage keeps one copy per id), so count distinct items.
    let mut received = target.received.lock().unwrap().clone();
    let mut seen = HashSet::new();
    received.retain(|i| seen.insert(i.id()));
    let ids: HashSet<String> = received.iter().map(|i| i.id().to_string()).collect();
    assert!(ids.is_superset(&expected), "missing uploads");
    let locations: Vec<&DataItem> = received
        .iter()
        .filter(|i| i.tag("Type") == Some("Scheduler-Location"))
        .collect();
    // One per start, both signed by the SU wallet and naming its URL.
    assert_eq!(locations.len(), 2);
    assert!(locations.iter().all(|l| l.owner_address() == su.address));
    assert!(
        locations
            .iter()
            .any(|l| l.tag("Url") == Some(su.url.as_str()))
    );
    assert_eq!(received.len(), 8);
    assert!(target.calls.load(Ordering::SeqCst) >= 11);
    su.stop().await;
    stop.cancel();
}
