//! A result's outbox → the signed items and tasks that carry it onward (PROTOCOL.md §5): each
//! `Messages[i]` becomes a Message item, each `Spawns[i]` a Process item followed by the
//! `Spawned` notice to the parent, each `Assignments[i]` one assign per process. Every item is
//! signed here, before it is queued, so a retried delivery sends the very same bytes.
//! Must never do I/O: the crank reads the result and queues what this returns.

use ao_core::wire::{CuResult, OutboxMessage, OutboxSpawn};
use ao_core::{DataItem, Id, ItemBuilder, Signer, Tag};
use serde_json::Value as Json;

use crate::task::{Task, Work};

/// Tags of an outbox message the MU replaces with its own.
const MESSAGE_TAGS_REPLACED: [&str; 5] = [
    "Data-Protocol",
    "Type",
    "From-Process",
    "From-Module",
    "Assignments",
];
/// Tags of a spawn the MU replaces with its own.
const SPAWN_TAGS_REPLACED: [&str; 6] = [
    "Data-Protocol",
    "Variant",
    "Type",
    "From-Process",
    "From-Module",
    "Pushed-For",
];
const VARIANT_DEFAULT: &str = "ao.TN.1";

/// The process whose result is pushed.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    pub process: &'a str,
    pub module: &'a str,
    /// Its SU's address: the default `Scheduler` of the processes it spawns.
    pub scheduler: &'a str,
}

/// What one result turns into.
#[derive(Debug, Default)]
pub struct Pushes {
    pub tasks: Vec<Task>,
    /// Outbox entries that could not be pushed, each with the reason (logged by the caller).
    pub skipped: Vec<String>,
}

/// The tasks that push `result` of `sender`, at `depth` (the depth of the pushes themselves).
pub fn pushes(
    result: &CuResult,
    sender: &Sender<'_>,
    depth: u32,
    pushed_for: &str,
    signer: &Signer,
) -> Pushes {
    let mut out = Pushes::default();
    for (i, message) in result.messages.iter().enumerate() {
        match message_item(message, sender, pushed_for, signer) {
            Ok((item, assign_to)) => {
                let id = item.id().to_string();
                let mut task = Task::new(
                    Work::Deliver {
                        item: item.encode(),
                    },
                    depth,
                    pushed_for,
                );
                task.then = assign_to
                    .into_iter()
                    .map(|process| {
                        Task::new(
                            Work::Assign {
                                process,
                                message: id.clone(),
                                base_layer: false,
                                exclude: Vec::new(),
                            },
                            depth,
                            pushed_for,
                        )
                    })
                    .collect();
                out.tasks.push(task);
            }
            Err(why) => out.skipped.push(format!("Messages[{i}]: {why}")),
        }
    }
    for (i, spawn) in result.spawns.iter().enumerate() {
        match spawn_items(spawn, sender, pushed_for, signer) {
            Ok((process, notice)) => {
                let mut task = Task::new(
                    Work::Deliver {
                        item: process.encode(),
                    },
                    depth,
                    pushed_for,
                );
                task.then.push(Task::new(
                    Work::Deliver {
                        item: notice.encode(),
                    },
                    depth,
                    pushed_for,
                ));
                out.tasks.push(task);
            }
            Err(why) => out.skipped.push(format!("Spawns[{i}]: {why}")),
        }
    }
    for (i, assignment) in result.assignments.iter().enumerate() {
        if Id::parse(&assignment.message, "Message").is_err() {
            out.skipped.push(format!(
                "Assignments[{i}]: Message {:?} is not an id",
                assignment.message
            ));
            continue;
        }
        for process in &assignment.processes {
            if Id::parse(process, "Processes").is_err() {
                out.skipped.push(format!(
                    "Assignments[{i}]: process {process:?} is not an id"
                ));
                continue;
            }
            out.tasks.push(Task::new(
                Work::Assign {
                    process: process.clone(),
                    message: assignment.message.clone(),
                    base_layer: false,
                    exclude: Vec::new(),
                },
                depth,
                pushed_for,
            ));
        }
    }
    out
}

/// The Message item for an outbox message, and the processes its `Assignments` tag names.
fn message_item(
    message: &OutboxMessage,
    sender: &Sender<'_>,
    pushed_for: &str,
    signer: &Signer,
) -> Result<(DataItem, Vec<String>), String> {
    let target = message
        .target
        .as_deref()
        .ok_or_else(|| "no Target".to_owned())?;
    let target = Id::parse(target, "Target").map_err(|e| format!("{e}"))?;
    let assign_to = message
        .tags
        .iter()
        .filter(|t| t.name == "Assignments")
        .flat_map(|t| assignment_list(&t.value))
        .collect();
    let mut tags: Vec<Tag> = message
        .tags
        .iter()
        .filter(|t| !MESSAGE_TAGS_REPLACED.contains(&t.name.as_str()))
        .cloned()
        .collect();
    tags.extend([
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Type", "Message"),
        Tag::new("From-Process", sender.process),
        Tag::new("From-Module", sender.module),
        Tag::new("Pushed-For", pushed_for),
    ]);
    let mut builder = ItemBuilder::new()
        .target(target)
        .tags(tags)
        .data(data_bytes(message.data.as_ref(), " "));
    if let Some(anchor) = anchor_bytes(message.anchor.as_deref()) {
        builder = builder.anchor(anchor);
    }
    let item = builder.sign(signer).map_err(|e| e.to_string())?;
    Ok((item, assign_to))
}

/// The Process item of a spawn and the `Spawned` notice to the parent.
fn spawn_items(
    spawn: &OutboxSpawn,
    sender: &Sender<'_>,
    pushed_for: &str,
    signer: &Signer,
) -> Result<(DataItem, DataItem), String> {
    let tag = |name: &str| spawn.tags.iter().find(|t| t.name == name);
    let module = tag("Module")
        .map(|t| t.value.clone())
        .ok_or_else(|| "no Module tag".to_owned())?;
    Id::parse(&module, "Module").map_err(|e| e.to_string())?;
    let variant = tag("Variant").map_or(VARIANT_DEFAULT.to_owned(), |t| t.value.clone());
    let reference = tag("Reference").map(|t| t.value.clone());
    let mut tags: Vec<Tag> = spawn
        .tags
        .iter()
        .filter(|t| !SPAWN_TAGS_REPLACED.contains(&t.name.as_str()))
        .cloned()
        .collect();
    if tag("Scheduler").is_none() {
        tags.push(Tag::new("Scheduler", sender.scheduler));
    }
    // The child trusts what the MU pushes to it, as aos makes every process trust its MU:
    // without it the parent's own messages to its child would be refused as untrusted.
    if tag("Authority").is_none() {
        tags.push(Tag::new("Authority", signer.address()));
    }
    tags.extend([
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Variant", variant.clone()),
        Tag::new("Type", "Process"),
        Tag::new("From-Process", sender.process),
        Tag::new("From-Module", sender.module),
        Tag::new("Pushed-For", pushed_for),
    ]);
    let anchor = anchor_bytes(spawn.anchor.as_deref());
    let mut builder = ItemBuilder::new()
        .tags(tags)
        .data(data_bytes(spawn.data.as_ref(), " "));
    if let Some(anchor) = anchor {
        builder = builder.anchor(anchor);
    }
    let process = builder.sign(signer).map_err(|e| e.to_string())?;

    let child = process.id().to_string();
    let mut notice_tags = vec![
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Variant", variant),
        Tag::new("Type", "Message"),
        Tag::new("Action", "Spawned"),
        Tag::new("AO-Spawn-Success", "true"),
        Tag::new("Process", child.clone()),
        Tag::new("From-Process", child),
        Tag::new("From-Module", module),
        Tag::new("Pushed-For", pushed_for),
    ];
    if let Some(reference) = reference {
        notice_tags.push(Tag::new("Reference", reference.clone()));
        notice_tags.push(Tag::new("X-Reference", reference));
    }
    let parent = Id::parse(sender.process, "From-Process").map_err(|e| e.to_string())?;
    let mut builder = ItemBuilder::new()
        .target(parent)
        .tags(notice_tags)
        .data(" ");
    if let Some(anchor) = anchor {
        builder = builder.anchor(anchor);
    }
    let notice = builder.sign(signer).map_err(|e| e.to_string())?;
    Ok((process, notice))
}

/// The processes of an `Assignments` tag: a JSON array of ids, or ids separated by commas.
fn assignment_list(value: &str) -> Vec<String> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(value) {
        return list;
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Outbox data as bytes: strings as they are, other JSON as its text, nothing as `empty`.
fn data_bytes(data: Option<&Json>, empty: &str) -> Vec<u8> {
    let bytes = match data {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(s)) => s.as_bytes().to_vec(),
        Some(other) => other.to_string().into_bytes(),
    };
    if bytes.is_empty() {
        empty.as_bytes().to_vec()
    } else {
        bytes
    }
}

/// An ANS-104 anchor is 32 bytes: a 32-byte anchor (the library's `%032d`) is kept as it is,
/// any other non-empty one is hashed to 32 bytes (still deterministic, so de-duplication holds).
fn anchor_bytes(anchor: Option<&str>) -> Option<[u8; 32]> {
    let anchor = anchor.filter(|a| !a.is_empty())?;
    match <[u8; 32]>::try_from(anchor.as_bytes()) {
        Ok(bytes) => Some(bytes),
        Err(_) => Some(ao_core::hash::sha256(anchor.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ao_core::wire::{OutboxAssignment, OutboxMessage, OutboxSpawn};
    use serde_json::json;

    const PARENT: &str = "PARENT_PROCESS_ID_0000000000000000000000000";
    const MODULE: &str = "MODULE_ID_000000000000000000000000000000000";
    const OTHER: &str = "OTHER_PROCESS_ID_00000000000000000000000000";

    fn signer() -> Signer {
        Signer::from_ed25519_seed(&[3; 32]).unwrap()
    }

    fn sender() -> Sender<'static> {
        Sender {
            process: PARENT,
            module: MODULE,
            scheduler: "su-address",
        }
    }

    fn result() -> CuResult {
        serde_json::from_value(
            json!({"Messages": [], "Spawns": [], "Assignments": [], "Output": ""}),
        )
        .unwrap()
    }

    fn delivered(task: &Task) -> DataItem {
        match &task.work {
            Work::Deliver { item } => DataItem::decode(item).unwrap(),
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn names(item: &DataItem) -> Vec<(&str, &str)> {
        item.tags
            .iter()
            .map(|t| (t.name.as_str(), t.value.as_str()))
            .collect()
    }

    #[test]
    fn a_message_is_signed_with_the_protocol_tags_last() {
        let mut r = result();
        r.messages.push(OutboxMessage {
            target: Some(OTHER.into()),
            anchor: Some(format!("{:032}", 7)),
            tags: vec![
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Message"),
                Tag::new("Reference", "7"),
                Tag::new("From-Process", "forged"),
                Tag::new("Action", "Ping"),
                Tag::new("Assignments", format!("[\"{PARENT}\"]")),
            ],
            data: None,
        });
        let out = pushes(&r, &sender(), 2, "origin", &signer());
        assert!(out.skipped.is_empty());
        assert_eq!(out.tasks.len(), 1);
        let task = &out.tasks[0];
        assert_eq!(task.depth, 2);
        let item = delivered(task);
        item.verify().unwrap();
        assert_eq!(item.target_id().unwrap().to_string(), OTHER);
        assert_eq!(item.anchor.unwrap(), *format!("{:032}", 7).as_bytes());
        assert_eq!(item.data, b" ");
        assert_eq!(
            names(&item),
            [
                ("Variant", "ao.TN.1"),
                ("Reference", "7"),
                ("Action", "Ping"),
                ("Data-Protocol", "ao"),
                ("Type", "Message"),
                ("From-Process", PARENT),
                ("From-Module", sender().module),
                ("Pushed-For", "origin"),
            ]
        );
        // The Assignments tag becomes an assign of the pushed message once it is delivered.
        assert_eq!(
            task.then[0].work,
            Work::Assign {
                process: PARENT.into(),
                message: item.id().to_string(),
                base_layer: false,
                exclude: vec![],
            }
        );
    }

    #[test]
    fn pushing_the_same_result_twice_dedups_at_the_su() {
        let mut r = result();
        r.messages.push(OutboxMessage {
            target: Some(OTHER.into()),
            anchor: Some(format!("{:032}", 1)),
            tags: vec![Tag::new("Action", "Ping")],
            data: Some(json!("hello")),
        });
        let a = delivered(&pushes(&r, &sender(), 1, "first", &signer()).tasks[0]);
        let other_signer = Signer::from_ed25519_seed(&[4; 32]).unwrap();
        let b = delivered(&pushes(&r, &sender(), 1, "second", &other_signer).tasks[0]);
        assert_ne!(a.id(), b.id());
        assert_eq!(ao_core::ao::dedup_hash(&a), ao_core::ao::dedup_hash(&b));
    }

    #[test]
    fn a_spawn_becomes_a_process_then_a_notice_to_the_parent() {
        let mut r = result();
        r.spawns.push(OutboxSpawn {
            anchor: Some(format!("{:032}", 3)),
            tags: vec![
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Process"),
                Tag::new("From-Process", PARENT),
                Tag::new("Module", sender().module),
                Tag::new("Reference", "3"),
                Tag::new("Name", "child"),
            ],
            data: Some(json!("NODATA")),
        });
        let out = pushes(&r, &sender(), 1, "origin", &signer());
        assert_eq!(out.tasks.len(), 1, "{:?}", out.skipped);
        let process = delivered(&out.tasks[0]);
        process.verify().unwrap();
        let view = ao_core::ao::ProcessView::new(&process).unwrap();
        assert_eq!(view.scheduler, "su-address");
        assert_eq!(view.authorities, [signer().address()]);
        assert_eq!(process.tag("From-Process"), Some(PARENT));
        assert_eq!(process.tag("Name"), Some("child"));
        assert_eq!(process.data, b"NODATA");
        let notice = delivered(&out.tasks[0].then[0]);
        assert_eq!(notice.target_id().unwrap().to_string(), PARENT);
        assert_eq!(notice.tag("Action"), Some("Spawned"));
        assert_eq!(
            notice.tag("Process"),
            Some(process.id().to_string().as_str())
        );
        assert_eq!(notice.tag("X-Reference"), Some("3"));
    }

    #[test]
    fn assignments_and_bad_entries() {
        let mut r = result();
        r.assignments.push(OutboxAssignment {
            processes: vec![OTHER.into(), "nope".into()],
            message: PARENT.into(),
        });
        r.messages.push(OutboxMessage {
            target: None,
            anchor: None,
            tags: vec![],
            data: None,
        });
        r.spawns.push(OutboxSpawn {
            anchor: None,
            tags: vec![],
            data: None,
        });
        let out = pushes(&r, &sender(), 1, "origin", &signer());
        assert_eq!(out.tasks.len(), 1);
        assert!(matches!(&out.tasks[0].work, Work::Assign { process, .. } if process == OTHER));
        assert_eq!(
            out.skipped,
            [
                "Messages[0]: no Target",
                "Spawns[0]: no Module tag",
                "Assignments[0]: process \"nope\" is not an id"
            ]
        );
    }

    #[test]
    fn assignment_lists_and_anchors() {
        assert_eq!(assignment_list("a, b,,c"), ["a", "b", "c"]);
        assert_eq!(assignment_list("[\"x\",\"y\"]"), ["x", "y"]);
        assert_eq!(anchor_bytes(Some("")), None);
        assert_eq!(
            anchor_bytes(Some("short")),
            Some(ao_core::hash::sha256(b"short"))
        );
    }
}
