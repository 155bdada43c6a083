//! Turns what the SU serves (PROTOCOL.md §4: the Process JSON and the pages of Message JSON)
//! into the `msg` and `env` values a module's `handle(msg, env)` receives (§6), and checks the
//! schedule as it goes: nonces gap-free from 0, timestamps never going back, the hash chain
//! intact. Owns: that translation and those checks. Must never: do I/O, or let a gap or a
//! broken link through (the process stops with an error instead).

use ao_core::hash_chain::{ChainBroken, ChainVerifier};
use ao_core::wire::{SuItem, SuMessage, SuProcess};
use ao_core::{Id, Tag, b64, crypto};
use serde_json::{Map, Value as Json, json};

/// Tags the CU removes from `msg.Tags`: the process must not be able to spoof them.
const TAGS_HIDDEN: [&str; 2] = ["From", "Owner"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule has a gap: expected nonce {expected}, the SU sent {found}")]
    Gap { expected: u64, found: u64 },
    #[error(transparent)]
    ChainBroken(#[from] ChainBroken),
    #[error("assignment {assignment} is for process {found}, not {expected}")]
    WrongProcess {
        assignment: String,
        expected: String,
        found: String,
    },
    #[error("assignment {assignment}: tag {tag} is {problem}")]
    BadAssignmentTag {
        assignment: String,
        tag: &'static str,
        problem: &'static str,
    },
    #[error("assignment {assignment} has timestamp {found}, before the previous {previous}")]
    TimeWentBack {
        assignment: String,
        previous: u64,
        found: u64,
    },
    #[error("assignment {assignment} names message {message}, which the SU did not include")]
    MessageMissing { assignment: String, message: String },
    #[error("{what} is not valid base64url in {item}")]
    Encoding { item: String, what: &'static str },
}

/// The module a process runs, as the CU found it on the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub id: String,
    pub owner: String,
    pub tags: Vec<Tag>,
}

/// The `env` argument: `{Process: {Id, Owner, Tags}, Module: {Id, Owner, Tags}}`.
pub fn env(process: &SuProcess, module: &ModuleInfo) -> Json {
    json!({
        "Process": {
            "Id": process.process_id,
            "Owner": process_owner(process),
            "Tags": process.tags,
        },
        "Module": {
            "Id": module.id,
            "Owner": module.owner,
            "Tags": module.tags,
        },
    })
}

/// The process owner as the process sees it (`env.Process.Owner`, and `Owner`/`From` of its
/// cron messages).
pub fn process_owner(process: &SuProcess) -> String {
    owner_text(&process.owner.key, &process.owner.address)
}

/// One scheduled message, ready for `handle`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub nonce: u64,
    pub timestamp: u64,
    pub block_height: u64,
    pub assignment_id: Id,
    pub hash_chain: Id,
    /// The id of the evaluated item (the process id at nonce 0).
    pub message_id: String,
    pub msg: Json,
}

/// Reads a process's schedule in order and checks every step.
#[derive(Debug, Clone)]
pub struct ScheduleReader {
    process_id: Id,
    chain: ChainVerifier,
    last_timestamp: Option<u64>,
}

impl ScheduleReader {
    pub fn new(process_id: Id) -> Self {
        ScheduleReader {
            process_id,
            chain: ChainVerifier::new(&process_id),
            last_timestamp: None,
        }
    }

    /// Continues after the message with `nonce` (from a checkpoint).
    pub fn resume(
        process_id: Id,
        nonce: u64,
        assignment: &Id,
        hash_chain: &Id,
        timestamp: u64,
    ) -> Self {
        ScheduleReader {
            process_id,
            chain: ChainVerifier::resume(nonce, assignment, hash_chain),
            last_timestamp: Some(timestamp),
        }
    }

    /// The nonce the next message must have.
    pub fn next_nonce(&self) -> u64 {
        self.chain.next_nonce()
    }

    /// Checks `node` as the next message and builds its `msg`. `module` is the process's
    /// `Module` tag, given to the first message.
    pub fn next(&mut self, node: &SuMessage, module: &str) -> Result<Scheduled, ScheduleError> {
        let assignment = &node.assignment;
        let tag = |name: &'static str| {
            find(&assignment.tags, name).ok_or_else(|| ScheduleError::BadAssignmentTag {
                assignment: assignment.id.clone(),
                tag: name,
                problem: "missing",
            })
        };
        let number = |name: &'static str| -> Result<u64, ScheduleError> {
            tag(name)?
                .parse()
                .map_err(|_| ScheduleError::BadAssignmentTag {
                    assignment: assignment.id.clone(),
                    tag: name,
                    problem: "not a non-negative integer",
                })
        };
        let id = |name: &'static str, text: &str| {
            Id::parse(text, name).map_err(|_| ScheduleError::BadAssignmentTag {
                assignment: assignment.id.clone(),
                tag: name,
                problem: "not a 43-character id",
            })
        };
        let process = tag("Process")?;
        if process != self.process_id.to_string() {
            return Err(ScheduleError::WrongProcess {
                assignment: assignment.id.clone(),
                expected: self.process_id.to_string(),
                found: process.to_owned(),
            });
        }
        let nonce = number("Nonce")?;
        if nonce != self.chain.next_nonce() {
            return Err(ScheduleError::Gap {
                expected: self.chain.next_nonce(),
                found: nonce,
            });
        }
        let timestamp = number("Timestamp")?;
        if let Some(previous) = self.last_timestamp
            && timestamp < previous
        {
            return Err(ScheduleError::TimeWentBack {
                assignment: assignment.id.clone(),
                previous,
                found: timestamp,
            });
        }
        let block_height = number("Block-Height")?;
        let epoch = number("Epoch")?;
        let hash_chain = id("Hash-Chain", tag("Hash-Chain")?)?;
        let assignment_id = id("Id", &assignment.id)?;
        let message = node
            .message
            .as_ref()
            .ok_or_else(|| ScheduleError::MessageMissing {
                assignment: assignment.id.clone(),
                message: find(&assignment.tags, "Message")
                    .unwrap_or("(none)")
                    .to_owned(),
            })?;
        self.chain.check(&assignment_id, &hash_chain)?;
        self.last_timestamp = Some(timestamp);

        let mut msg = item_msg(message)?;
        let fields = msg.as_object_mut().expect("item_msg builds an object");
        if fields["Target"] == "" {
            fields.insert("Target".into(), json!(self.process_id.to_string()));
        }
        if nonce == 0 {
            fields.insert("Module".into(), json!(module));
        }
        fields.insert("Epoch".into(), json!(epoch));
        fields.insert("Nonce".into(), json!(nonce));
        fields.insert("Timestamp".into(), json!(timestamp));
        fields.insert("Block-Height".into(), json!(block_height));
        fields.insert("Hash-Chain".into(), json!(hash_chain.to_string()));
        fields.insert("Cron".into(), json!(false));
        Ok(Scheduled {
            nonce,
            timestamp,
            block_height,
            assignment_id,
            hash_chain,
            message_id: message.id.clone(),
            msg,
        })
    }
}

/// The item-derived part of `msg`: Id, Signature, Owner, From, Forwarded-By, Target, Anchor,
/// Data and Tags.
fn item_msg(item: &SuItem) -> Result<Json, ScheduleError> {
    let encoding = |what| ScheduleError::Encoding {
        item: item.id.clone(),
        what,
    };
    let owner = owner_text(&item.owner.key, &item.owner.address);
    let data = item.data_bytes().map_err(|_| encoding("data"))?;
    let anchor = item.anchor_bytes().map_err(|_| encoding("anchor"))?;
    let from_process = find(&item.tags, "From-Process");
    let tags: Vec<&Tag> = item
        .tags
        .iter()
        .filter(|t| !TAGS_HIDDEN.contains(&t.name.as_str()))
        .collect();
    let mut msg = Map::new();
    msg.insert("Id".into(), json!(item.id));
    msg.insert("Signature".into(), json!(item.signature));
    msg.insert("Owner".into(), json!(owner));
    msg.insert("From".into(), json!(from_process.unwrap_or(&owner)));
    if from_process.is_some() {
        msg.insert("Forwarded-By".into(), json!(owner));
    }
    msg.insert(
        "Target".into(),
        json!(item.target.clone().unwrap_or_default()),
    );
    // Lua strings are bytes but our bridge is JSON text: data that is not UTF-8 reaches the
    // process lossily, as in the reference CU.
    msg.insert("Anchor".into(), json!(String::from_utf8_lossy(&anchor)));
    msg.insert("Data".into(), json!(String::from_utf8_lossy(&data)));
    msg.insert("Tags".into(), json!(tags));
    Ok(Json::Object(msg))
}

/// The address a process sees: EIP-55 for Ethereum keys (65-byte uncompressed), else the
/// SHA-256 address the SU gave.
fn owner_text(key: &str, address: &str) -> String {
    match b64::decode(key, "owner") {
        Ok(bytes) if bytes.len() == 65 && bytes[0] == 4 => {
            crypto::ethereum_address(&bytes).unwrap_or_else(|_| address.to_owned())
        }
        _ => address.to_owned(),
    }
}

fn find<'a>(tags: &'a [Tag], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.name == name)
        .map(|t| t.value.as_str())
}
