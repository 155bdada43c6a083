//! The SU-JSON → msg/env translation and the schedule checks, over items signed with real keys.

use ao_core::ao::Assignment;
use ao_core::wire::{SuItem, SuMessage, SuProcess};
use ao_core::{DataItem, Id, ItemBuilder, Signer, hash_chain};
use cu::schedule::{ModuleInfo, ScheduleError, ScheduleReader, env};

struct Schedule {
    process: DataItem,
    nodes: Vec<SuMessage>,
}

fn su() -> Signer {
    Signer::from_ed25519_seed(&[1; 32]).unwrap()
}

/// A process and `messages` more, each with its signed assignment, as the SU serves them.
fn schedule(messages: Vec<DataItem>, user: &Signer) -> Schedule {
    let su = su();
    let process = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Type", "Process")
        .tag("Module", Id([2; 32]).to_string())
        .tag("Scheduler", su.address())
        .tag("Owner", "spoofed")
        .data(&b"process data"[..])
        .sign(user)
        .unwrap();
    let pid = process.id();
    let mut hc = hash_chain::first(&pid);
    let mut nodes = Vec::new();
    for (nonce, item) in std::iter::once(process.clone()).chain(messages).enumerate() {
        let assignment = Assignment {
            process: pid,
            epoch: 0,
            nonce: nonce as u64,
            hash_chain: hc,
            block_height: 42,
            timestamp: 1_000 + nonce as u64,
            message: (nonce > 0).then(|| item.id()),
            exclude: vec![],
        }
        .sign(&su, [0; 32])
        .unwrap();
        hc = hash_chain::next(&assignment.id(), &hc);
        nodes.push(SuMessage {
            message: Some(SuItem::from_item(&item, true)),
            assignment: SuItem::from_item(&assignment, false),
        });
    }
    Schedule { process, nodes }
}

fn message(user: &Signer, target: Id, extra: &[(&str, &str)]) -> DataItem {
    let mut b = ItemBuilder::new()
        .target(target)
        .anchor(*b"00000000000000000000000000000001")
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .tag("Action", "Ping")
        .tag("From", "spoofed")
        .data(&b"hello"[..]);
    for (name, value) in extra {
        b = b.tag(*name, *value);
    }
    b.sign(user).unwrap()
}

#[test]
fn messages_carry_what_the_protocol_says() {
    let user = Signer::from_ed25519_seed(&[7; 32]).unwrap();
    let probe = schedule(vec![], &user);
    let pid = probe.process.id();
    let mu = Signer::from_ed25519_seed(&[8; 32]).unwrap();
    let s = schedule(
        vec![
            message(&user, pid, &[]),
            message(&mu, pid, &[("From-Process", "SenderProcess")]),
        ],
        &user,
    );
    let mut reader = ScheduleReader::new(pid);
    let first = reader.next(&s.nodes[0], "MODULE").unwrap();
    assert_eq!(first.nonce, 0);
    assert_eq!(first.message_id, pid.to_string());
    let m = &first.msg;
    assert_eq!(m["Id"], pid.to_string());
    assert_eq!(
        m["Target"],
        pid.to_string(),
        "the process item targets itself"
    );
    assert_eq!(m["Module"], "MODULE");
    assert_eq!(m["Owner"], user.address());
    assert_eq!(m["From"], user.address());
    assert_eq!(m["Data"], "process data");
    assert_eq!(m["Nonce"], 0);
    assert_eq!(m["Timestamp"], 1000);
    assert_eq!(m["Block-Height"], 42);
    assert_eq!(m["Epoch"], 0);
    assert_eq!(m["Cron"], false);
    assert!(
        m["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "Owner"),
        "Owner tags are removed"
    );

    let second = reader.next(&s.nodes[1], "MODULE").unwrap();
    assert_eq!(second.msg["Anchor"], "00000000000000000000000000000001");
    assert_eq!(second.msg["Target"], pid.to_string());
    assert!(second.msg.get("Module").is_none());
    assert!(second.msg.get("Forwarded-By").is_none());
    assert!(
        second.msg["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "From")
    );

    let pushed = reader.next(&s.nodes[2], "MODULE").unwrap();
    assert_eq!(pushed.msg["From"], "SenderProcess");
    assert_eq!(pushed.msg["Owner"], mu.address());
    assert_eq!(pushed.msg["Forwarded-By"], mu.address());
    assert_eq!(reader.next_nonce(), 3);
}

#[test]
fn ethereum_owners_are_eip55_addresses() {
    let eth = Signer::from_ethereum_secret(&[5; 32]).unwrap();
    let s = schedule(vec![], &eth);
    let mut reader = ScheduleReader::new(s.process.id());
    let first = reader.next(&s.nodes[0], "M").unwrap();
    let owner = first.msg["Owner"].as_str().unwrap();
    assert!(owner.starts_with("0x") && owner.len() == 42, "{owner}");
    assert_eq!(owner, s.process.ao_address());
}

#[test]
fn a_gap_stops_the_process() {
    let user = Signer::from_ed25519_seed(&[7; 32]).unwrap();
    let pid = schedule(vec![], &user).process.id();
    let s = schedule(
        vec![message(&user, pid, &[]), message(&user, pid, &[])],
        &user,
    );
    let mut reader = ScheduleReader::new(pid);
    reader.next(&s.nodes[0], "M").unwrap();
    let err = reader.next(&s.nodes[2], "M").unwrap_err();
    assert_eq!(
        err,
        ScheduleError::Gap {
            expected: 1,
            found: 2
        }
    );
}

#[test]
fn a_tampered_chain_stops_the_process() {
    let user = Signer::from_ed25519_seed(&[7; 32]).unwrap();
    let pid = schedule(vec![], &user).process.id();
    let mut s = schedule(vec![message(&user, pid, &[])], &user);
    for tag in &mut s.nodes[1].assignment.tags {
        if tag.name == "Hash-Chain" {
            tag.value = Id([9; 32]).to_string();
        }
    }
    let mut reader = ScheduleReader::new(pid);
    reader.next(&s.nodes[0], "M").unwrap();
    let err = reader.next(&s.nodes[1], "M").unwrap_err();
    assert!(
        matches!(err, ScheduleError::ChainBroken(ref b) if b.nonce == 1),
        "{err}"
    );
    assert!(err.to_string().contains("hash chain broken at nonce 1"));
}

#[test]
fn env_has_process_and_module() {
    let user = Signer::from_ed25519_seed(&[7; 32]).unwrap();
    let s = schedule(vec![], &user);
    let p = &s.process;
    let process = SuProcess {
        process_id: p.id().to_string(),
        block: "000000000042".into(),
        owner: SuItem::from_item(p, false).owner,
        tags: p.tags.clone(),
        timestamp: 1000,
        data: None,
        data_encoding: None,
        anchor: None,
        anchor_encoding: None,
        signature: None,
        target: None,
    };
    let module = ModuleInfo {
        id: "MOD".into(),
        owner: "MODOWNER".into(),
        tags: vec![ao_core::Tag::new("Module-Format", "lua53")],
    };
    let e = env(&process, &module);
    assert_eq!(e["Process"]["Id"], p.id().to_string());
    assert_eq!(e["Process"]["Owner"], user.address());
    assert_eq!(e["Process"]["Tags"][1]["value"], "Process");
    assert_eq!(e["Module"]["Id"], "MOD");
    assert_eq!(e["Module"]["Tags"][0]["value"], "lua53");
}
