//! The store alone: timestamp bounds found by binary search, and items found where they are held.

use ao_core::Id;

use super::{HeldItem, Ordered, ScheduleRecord, Store, WriteOp};

fn record(timestamp: u64, message: u8, item: HeldItem) -> ScheduleRecord {
    ScheduleRecord {
        timestamp,
        block_height: 7,
        message: Some([message; 32]),
        item,
        assignment_id: [message ^ 0xff; 32],
        hash_chain: [0; 32],
        assignment: vec![message],
    }
}

fn write(store: &Store, seq: &mut u64, entries: Vec<(Id, u64, ScheduleRecord)>) {
    let ops: Vec<WriteOp> = entries
        .into_iter()
        .map(|(p, n, r)| WriteOp::Order(Box::new(Ordered::new(p, n, &r, None).unwrap())))
        .collect();
    store.apply(ops.iter(), seq).unwrap();
}

#[test]
fn nonce_bounds_match_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, other) = (Id([1; 32]), Id([2; 32]));
    let mut seq = 0;
    // Timestamps 10, 20, …, 70 at nonces 0..7; another process around it must not interfere.
    let mut entries = vec![(other, 0, record(5, 200, HeldItem::Here(vec![1])))];
    for n in 0..7u8 {
        entries.push((
            p,
            n.into(),
            record(10 * (u64::from(n) + 1), n, HeldItem::No),
        ));
    }
    write(&store, &mut seq, entries);
    let stamps: Vec<u64> = (1..=7).map(|n| 10 * n).collect();
    for t in [0, 9, 10, 11, 35, 69, 70, 71, 1000] {
        let first = stamps
            .iter()
            .position(|s| *s > t)
            .map_or(u64::MAX, |i| i as u64);
        let (start, _) = store.nonce_bounds(&p, Some(t), None).unwrap();
        assert_eq!(start, Some(first), "from {t}");
        let (start, end) = store.nonce_bounds(&p, None, Some(t)).unwrap();
        match stamps.iter().rposition(|s| *s <= t) {
            Some(last) => assert_eq!((start, end), (None, Some(last as u64)), "to {t}"),
            // Nothing at or before `to`: an empty range.
            None => assert_eq!((start, end), (Some(1), Some(0)), "to {t}"),
        }
    }
    assert_eq!(store.nonce_bounds(&p, None, None).unwrap(), (None, None));
    let nobody = Id([3; 32]);
    assert_eq!(
        store.nonce_bounds(&nobody, Some(0), None).unwrap(),
        (Some(u64::MAX), None)
    );
    assert_eq!(
        store.nonce_bounds(&nobody, None, Some(9)).unwrap(),
        (Some(1), Some(0))
    );
}

#[test]
fn items_are_found_where_they_are_held() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, q, r) = (Id([1; 32]), Id([2; 32]), Id([3; 32]));
    let mut seq = 0;
    let item = Id([9; 32]);
    write(
        &store,
        &mut seq,
        vec![
            // A base-layer assignment of the id does not hold it.
            (p, 0, record(1, 9, HeldItem::No)),
            (q, 0, record(1, 9, HeldItem::Here(b"raw".to_vec()))),
            (r, 0, record(1, 9, HeldItem::At(q.0, 0))),
        ],
    );
    assert_eq!(store.held_at(&item).unwrap(), Some((q.0, 0)));
    assert_eq!(store.item(&item).unwrap(), Some(b"raw".to_vec()));
    let again = store.record(&r, 0).unwrap().unwrap();
    assert_eq!(store.record_item(&again).unwrap(), Some(b"raw".to_vec()));
    assert_eq!(
        store.duplicate(&item, None).unwrap(),
        Some(super::Duplicate::SameId)
    );
    assert_eq!(store.held_at(&Id([8; 32])).unwrap(), None);
    // Two outbox rows for the entry that brought the item, one for each other entry.
    assert_eq!(store.outbox_len().unwrap(), 4);
    let batch = store.outbox_batch(10).unwrap();
    assert!(batch.iter().all(|(_, raw)| raw.is_some()));
    assert_eq!(batch[1].1.as_deref(), Some(&b"raw"[..]));
}

#[test]
fn byte_strings_encode_as_serde_default_does() {
    // Records hold items as byte strings; the encoding must not depend on that choice.
    let raw = HeldItem::Here((0..=255).collect());
    let default: Vec<u8> = (0..=255).collect();
    let encoded = postcard::to_allocvec(&raw).unwrap();
    assert_eq!(
        &encoded[1..],
        postcard::to_allocvec(&default).unwrap().as_slice()
    );
    assert_eq!(postcard::from_bytes::<HeldItem>(&encoded).unwrap(), raw);
}
