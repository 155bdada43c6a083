//! What leaves and enters `handle` besides scheduled and cron messages: the result object a
//! worker stores and serves (PROTOCOL.md §6), and the `msg` of a dry run. Must never: touch a
//! Lua state or the store.

use ao_core::Id;
use ao_core::wire::DryRunRequest;
use serde_json::{Map, Value as Json, json};

use crate::engine::Evaluation;

/// The result object of PROTOCOL.md §6: what `handle` returned, with `Messages`, `Spawns`,
/// `Assignments` always arrays, `Output` always present, and `GasUsed`.
pub(super) fn result_object(evaluation: Evaluation) -> Json {
    let mut fields = match evaluation.result {
        Json::Object(fields) => fields,
        other => Map::from_iter([("Output".to_owned(), other)]),
    };
    for key in ["Messages", "Spawns", "Assignments"] {
        let value = fields.entry(key).or_insert_with(|| json!([]));
        if value.as_object().is_some_and(Map::is_empty) || value.is_null() {
            *value = json!([]);
        }
    }
    fields.entry("Output").or_insert_with(|| json!({}));
    fields.insert("GasUsed".into(), json!(evaluation.instructions));
    Json::Object(fields)
}

/// The dry-run `msg`: the body as sent, addressed to the process, `From` the `From-Process`
/// tag or the owner, `Read-Only`, and the time of the last evaluated message.
pub(super) fn dry_run_msg(body: &DryRunRequest, process: &Id, clock: Option<(u64, u64)>) -> Json {
    let mut msg = body.extra.clone();
    let owner = body.owner.clone().unwrap_or_default();
    let from = body
        .tags
        .iter()
        .find(|t| t.name == "From-Process")
        .map(|t| t.value.clone())
        .unwrap_or_else(|| owner.clone());
    let tags: Vec<&ao_core::Tag> = body
        .tags
        .iter()
        .filter(|t| t.name != "From" && t.name != "Owner")
        .collect();
    let data = match &body.data {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    msg.insert("Id".into(), json!(body.id.clone().unwrap_or_default()));
    msg.insert("Owner".into(), json!(owner));
    msg.insert("From".into(), json!(from));
    msg.insert("Target".into(), json!(process.to_string()));
    msg.insert(
        "Anchor".into(),
        json!(body.anchor.clone().unwrap_or_default()),
    );
    msg.insert("Data".into(), json!(data));
    msg.insert("Tags".into(), json!(tags));
    msg.insert("Read-Only".into(), json!(true));
    msg.insert("Cron".into(), json!(false));
    if let Some((timestamp, block_height)) = clock {
        msg.insert("Timestamp".into(), json!(timestamp));
        msg.insert("Block-Height".into(), json!(block_height));
    }
    Json::Object(msg)
}
