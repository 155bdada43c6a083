//! The commit-failure path: a failed commit never leaves a gap or a reused nonce.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ao_core::hash_chain::ChainVerifier;
use ao_core::{DataItem, Id, ItemBuilder, Signer};
use bytes::Bytes;
use tokio::sync::Notify;

use super::{Limits, Sequencer};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::writer::{Faults, Writer};

fn setup(dir: &std::path::Path) -> (Arc<Sequencer>, Faults, Signer) {
    let store = Arc::new(Store::open(dir).unwrap());
    let metrics = Arc::new(Metrics::default());
    let faults = Faults::default();
    let (writer, _thread) = Writer::start_with_faults(
        store.clone(),
        metrics.clone(),
        Arc::new(Notify::new()),
        1024,
        faults.clone(),
    )
    .unwrap();
    let su = Signer::from_ed25519_seed(&[3; 32]).unwrap();
    let limits = Limits {
        process_bytes_max: 1 << 20,
        message_bytes_max: 1 << 20,
    };
    let sequencer = Sequencer::new(store, writer, su, None, metrics, limits);
    (
        Arc::new(sequencer),
        faults,
        Signer::from_ed25519_seed(&[4; 32]).unwrap(),
    )
}

fn process(signer: &Signer, scheduler: &str) -> DataItem {
    ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Process")
        .tag("Module", Id([1; 32]).to_string())
        .tag("Scheduler", scheduler)
        .sign(signer)
        .unwrap()
}

fn message(signer: &Signer, pid: Id, n: u8) -> Bytes {
    let item = ItemBuilder::new()
        .target(pid)
        .anchor([n; 32])
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .sign(signer)
        .unwrap();
    Bytes::from(item.encode())
}

/// Reads the stored schedule and checks nonces and the chain; returns the message ids.
fn stored_schedule(seq: &Sequencer, pid: &Id) -> Vec<Id> {
    let (entries, more) = seq.store().page(pid, 0, u64::MAX, 1000).unwrap();
    assert!(!more);
    let mut chain = ChainVerifier::new(pid);
    let mut ids = Vec::new();
    for (i, (nonce, record)) in entries.iter().enumerate() {
        assert_eq!(*nonce, i as u64);
        chain
            .check(&Id(record.assignment_id), &Id(record.hash_chain))
            .unwrap();
        ids.push(Id(record.message.unwrap()));
    }
    ids
}

#[tokio::test]
async fn failed_commit_does_not_skip_a_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, faults, user) = setup(dir.path());
    let p = process(&user, seq.address());
    seq.post(Bytes::from(p.encode())).await.unwrap();
    let pid = p.id();
    faults.0.store(1, Ordering::Relaxed);
    let lost = seq.post(message(&user, pid, 1)).await;
    assert!(matches!(lost, Err(ApiError::Write(_))), "{lost:?}");
    let kept = seq.post(message(&user, pid, 2)).await.unwrap();
    let ids = stored_schedule(&seq, &pid);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1].to_string(), kept.id);
    // The lost message may be posted again.
    seq.post(message(&user, pid, 1)).await.unwrap();
    assert_eq!(stored_schedule(&seq, &pid).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commit_under_load_keeps_every_chain_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, faults, user) = setup(dir.path());
    let p = process(&user, seq.address());
    seq.post(Bytes::from(p.encode())).await.unwrap();
    let pid = p.id();
    faults.0.store(2, Ordering::Relaxed);
    let mut tasks = Vec::new();
    for n in 0..64u8 {
        let (seq, body) = (seq.clone(), message(&user, pid, n));
        tasks.push(tokio::spawn(async move { seq.post(body).await }));
    }
    let mut acknowledged = Vec::new();
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(posted) => acknowledged.push(posted.id),
            Err(ApiError::Write(_)) => failed += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(failed > 0);
    let stored: Vec<String> = stored_schedule(&seq, &pid)[1..]
        .iter()
        .map(|id| id.to_string())
        .collect();
    acknowledged.sort();
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(sorted, acknowledged, "stored = acknowledged, nothing else");
    // Faults not used up by the load must not hit the check below.
    faults.0.store(0, Ordering::Relaxed);
    seq.post(message(&user, pid, 200)).await.unwrap();
    assert_eq!(stored_schedule(&seq, &pid).len(), stored.len() + 2);
}
