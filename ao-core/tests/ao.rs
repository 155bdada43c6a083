//! The AO views over items: assignments signed and read back, the hash chain across signed
//! assignments, process/message/module checks, the de-duplication hash and the SU JSON view.

use ao_core::ao::{self, AoError, Assignment, ItemType, ProcessView, SchedulerLocation};
use ao_core::wire::SuItem;
use ao_core::{DataItem, Id, ItemBuilder, Signer, hash_chain};

fn signer() -> Signer {
    Signer::from_ed25519_seed(&[9; 32]).unwrap()
}

fn process_item(signer: &Signer) -> DataItem {
    ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Process")
        .tag("Module", Id([1; 32]).to_string())
        .tag("Scheduler", signer.address())
        .tag("Authority", "a1, a2")
        .tag("Authority", "a2,a3")
        .data(&b"print('hi')"[..])
        .sign(signer)
        .unwrap()
}

#[test]
fn assignments_sign_read_back_and_chain() {
    let su = signer();
    let process = process_item(&su);
    let pid = process.id();
    let mut verifier = hash_chain::ChainVerifier::new(&pid);
    let mut hc = hash_chain::first(&pid);
    for nonce in 0..5u64 {
        let assignment = Assignment {
            process: pid,
            epoch: 0,
            nonce,
            hash_chain: hc,
            block_height: 1234,
            timestamp: 1_700_000_000_000 + nonce,
            message: (nonce > 0).then_some(Id([nonce as u8; 32])),
            exclude: vec![],
        };
        let item = assignment.sign(&su, [nonce as u8; 32]).unwrap();
        item.verify().unwrap();
        assert_eq!(ao::item_type(&item), Ok(ItemType::Assignment));
        assert!(item.target.is_none() && item.data.is_empty());
        let names: Vec<&str> = item.tags.iter().map(|t| t.name.as_str()).collect();
        let mut expected = vec![
            "Process",
            "Epoch",
            "Nonce",
            "Hash-Chain",
            "Block-Height",
            "Timestamp",
            "Data-Protocol",
            "Type",
            "Variant",
        ];
        if nonce > 0 {
            expected.push("Message");
        }
        assert_eq!(names, expected);
        assert_eq!(item.tag("Block-Height"), Some("000000001234"));
        let decoded = DataItem::decode(&item.encode()).unwrap();
        assert_eq!(Assignment::from_item(&decoded).unwrap(), assignment);
        verifier.check(&item.id(), &hc).unwrap();
        hc = hash_chain::next(&item.id(), &hc);
    }
    assert_eq!(verifier.next_nonce(), 5);
}

#[test]
fn process_view_requires_module_and_scheduler() {
    let su = signer();
    let view = ProcessView::new(&process_item(&su)).unwrap();
    assert_eq!(view.module, Id([1; 32]));
    assert_eq!(view.scheduler, su.address());
    assert_eq!(view.authorities, vec!["a1", "a2", "a3"]);

    let no_module = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Process")
        .tag("Scheduler", "x")
        .sign(&su)
        .unwrap();
    assert_eq!(
        ProcessView::new(&no_module),
        Err(AoError::MissingTag("Module"))
    );
    let not_ao = ItemBuilder::new().tag("Type", "Process").sign(&su).unwrap();
    assert_eq!(
        ProcessView::new(&not_ao).unwrap_err().to_string(),
        "tag Data-Protocol must be \"ao\", found None"
    );
    let message = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .sign(&su)
        .unwrap();
    assert_eq!(ao::MessageView::new(&message), Err(AoError::MissingTarget));
    assert!(matches!(
        ProcessView::new(&message),
        Err(AoError::WrongType { .. })
    ));
}

#[test]
fn scheduler_location_round_trips() {
    let su = signer();
    let location = SchedulerLocation {
        url: "http://127.0.0.1:9000".into(),
        time_to_live_ms: 3_600_000,
    };
    let item = location.sign(&su, [0; 32]).unwrap();
    item.verify().unwrap();
    assert_eq!(SchedulerLocation::from_item(&item).unwrap(), location);
}

#[test]
fn dedup_hash_ignores_signer_and_pushed_for() {
    let pushed = |signer: &Signer, pushed_for: &str| {
        ItemBuilder::new()
            .target(Id([5; 32]))
            .anchor(*b"00000000000000000000000000000001")
            .tag("Action", "Ping")
            .tag("Data-Protocol", "ao")
            .tag("Type", "Message")
            .tag("From-Process", "P")
            .tag("Pushed-For", pushed_for)
            .data(&b"x"[..])
            .sign(signer)
            .unwrap()
    };
    let a = pushed(&signer(), "one");
    let b = pushed(&Signer::from_ed25519_seed(&[3; 32]).unwrap(), "two");
    assert_ne!(a.id(), b.id());
    assert_eq!(ao::dedup_hash(&a), ao::dedup_hash(&b));
    let mut c = pushed(&signer(), "one");
    c.data = b"y".to_vec();
    assert_ne!(ao::dedup_hash(&a), ao::dedup_hash(&c));
}

#[test]
fn su_item_json_keeps_binary_data() {
    let su = signer();
    let binary = ItemBuilder::new()
        .target(Id([5; 32]))
        .anchor([0xff; 32])
        .tag("Data-Protocol", "ao")
        .data(vec![0xff, 0x00, 0xfe])
        .sign(&su)
        .unwrap();
    let json = SuItem::from_item(&binary, true);
    assert_eq!(json.data_encoding.as_deref(), Some("base64url"));
    assert_eq!(json.data_bytes().unwrap(), vec![0xff, 0x00, 0xfe]);
    assert_eq!(json.anchor_bytes().unwrap(), vec![0xff; 32]);
    let v = serde_json::to_value(&json).unwrap();
    assert_eq!(v["owner"]["address"], su.address());
    assert_eq!(v["target"], Id([5; 32]).to_string());
    let back: SuItem = serde_json::from_value(v).unwrap();
    assert_eq!(back, json);

    let text = ItemBuilder::new()
        .anchor(*b"00000000000000000000000000000007")
        .data(&b"hello"[..])
        .sign(&su)
        .unwrap();
    let json = SuItem::from_item(&text, true);
    assert_eq!(json.data.as_deref(), Some("hello"));
    assert_eq!(json.data_encoding, None);
    assert_eq!(
        json.anchor.as_deref(),
        Some("00000000000000000000000000000007")
    );
    assert_eq!(json.target.as_deref(), Some(""));
}
