//! AO views over data items (PROTOCOL.md §3): what makes an item a Process, a Message, a
//! Module, an Assignment or a Scheduler-Location, and how the SU builds Assignments. Views
//! only read tags; they never change an item.

use crate::crypto::Signer;
use crate::deep_hash::{deep_hash_blob, deep_hash_list};
use crate::id::Id;
use crate::item::{BuildError, DataItem, ItemBuilder};
use crate::tags::{self, Tag};

pub const DATA_PROTOCOL: &str = "ao";
pub const VARIANT: &str = "ao.TN.1";
/// Width of the `Block-Height` tag: 12 zero-padded decimal digits.
pub const BLOCK_HEIGHT_DIGITS: usize = 12;

/// The `Type` tag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    Process,
    Message,
    Assignment,
    Module,
    SchedulerLocation,
    Checkpoint,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Process => "Process",
            ItemType::Message => "Message",
            ItemType::Assignment => "Assignment",
            ItemType::Module => "Module",
            ItemType::SchedulerLocation => "Scheduler-Location",
            ItemType::Checkpoint => "Checkpoint",
        }
    }

    pub fn parse(text: &str) -> Option<ItemType> {
        [
            ItemType::Process,
            ItemType::Message,
            ItemType::Assignment,
            ItemType::Module,
            ItemType::SchedulerLocation,
            ItemType::Checkpoint,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AoError {
    #[error("missing tag {0}")]
    MissingTag(&'static str),
    #[error("tag Data-Protocol must be \"ao\", found {0:?}")]
    NotAo(Option<String>),
    #[error("tag Type must be {expected}, found {found:?}")]
    WrongType {
        expected: &'static str,
        found: Option<String>,
    },
    #[error("tag {name} has an invalid value {value:?}: {why}")]
    InvalidTag {
        name: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("a Message needs a target (the process it is sent to)")]
    MissingTarget,
}

/// The `Data-Protocol: ao` item type, checked.
pub fn item_type(item: &DataItem) -> Result<ItemType, AoError> {
    match item.tag("Data-Protocol") {
        Some(DATA_PROTOCOL) => {}
        other => return Err(AoError::NotAo(other.map(str::to_owned))),
    }
    let found = item.tag("Type").ok_or(AoError::MissingTag("Type"))?;
    ItemType::parse(found).ok_or_else(|| AoError::InvalidTag {
        name: "Type",
        value: found.to_owned(),
        why: "not an AO item type",
    })
}

fn expect_type(item: &DataItem, expected: ItemType) -> Result<(), AoError> {
    let found = item.tag("Type");
    match item.tag("Data-Protocol") {
        Some(DATA_PROTOCOL) => {}
        other => return Err(AoError::NotAo(other.map(str::to_owned))),
    }
    if found != Some(expected.as_str()) {
        return Err(AoError::WrongType {
            expected: expected.as_str(),
            found: found.map(str::to_owned),
        });
    }
    Ok(())
}

fn id_tag(item: &DataItem, name: &'static str) -> Result<Id, AoError> {
    let value = item.tag(name).ok_or(AoError::MissingTag(name))?;
    Id::parse(value, name).map_err(|_| AoError::InvalidTag {
        name,
        value: value.to_owned(),
        why: "not a 43-character base64url id",
    })
}

fn u64_tag(item: &DataItem, name: &'static str) -> Result<u64, AoError> {
    let value = item.tag(name).ok_or(AoError::MissingTag(name))?;
    value.parse().map_err(|_| AoError::InvalidTag {
        name,
        value: value.to_owned(),
        why: "not a non-negative integer",
    })
}

/// A Process item: `Module` and `Scheduler` are required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessView {
    pub id: Id,
    pub module: Id,
    pub scheduler: String,
    /// Every `Authority` address, comma lists split, in order, without repeats.
    pub authorities: Vec<String>,
}

impl ProcessView {
    pub fn new(item: &DataItem) -> Result<ProcessView, AoError> {
        expect_type(item, ItemType::Process)?;
        let module = id_tag(item, "Module")?;
        let scheduler = item
            .tag("Scheduler")
            .ok_or(AoError::MissingTag("Scheduler"))?
            .to_owned();
        let mut authorities: Vec<String> = Vec::new();
        for value in item.tag_values("Authority") {
            for address in value.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                if !authorities.iter().any(|a| a == address) {
                    authorities.push(address.to_owned());
                }
            }
        }
        Ok(ProcessView {
            id: item.id(),
            module,
            scheduler,
            authorities,
        })
    }
}

/// A Message item: it has a target, the process it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub id: Id,
    pub target: Id,
    /// `From-Process`: set when an MU pushed this message for a process.
    pub from_process: Option<String>,
}

impl MessageView {
    pub fn new(item: &DataItem) -> Result<MessageView, AoError> {
        expect_type(item, ItemType::Message)?;
        let target = item.target_id().ok_or(AoError::MissingTarget)?;
        Ok(MessageView {
            id: item.id(),
            target,
            from_process: item.tag("From-Process").map(str::to_owned),
        })
    }
}

/// A Module item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleView {
    pub id: Id,
    pub module_format: String,
    pub input_encoding: String,
    pub output_encoding: String,
    pub memory_limit: Option<String>,
    pub compute_limit: Option<String>,
}

impl ModuleView {
    pub fn new(item: &DataItem) -> Result<ModuleView, AoError> {
        expect_type(item, ItemType::Module)?;
        let required = |name: &'static str| {
            item.tag(name)
                .map(str::to_owned)
                .ok_or(AoError::MissingTag(name))
        };
        Ok(ModuleView {
            id: item.id(),
            module_format: required("Module-Format")?,
            input_encoding: required("Input-Encoding")?,
            output_encoding: required("Output-Encoding")?,
            memory_limit: item.tag("Memory-Limit").map(str::to_owned),
            compute_limit: item.tag("Compute-Limit").map(str::to_owned),
        })
    }
}

/// What an Assignment says: message (or process) `message` of `process` has `nonce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub process: Id,
    pub epoch: u64,
    pub nonce: u64,
    pub hash_chain: Id,
    pub block_height: u64,
    /// Milliseconds since the Unix epoch, from the SU's clock.
    pub timestamp: u64,
    /// The assigned item; `None` on the process's own assignment (nonce 0).
    pub message: Option<Id>,
    pub exclude: Vec<String>,
}

impl Assignment {
    /// The tags in the order PROTOCOL.md §3 fixes.
    pub fn tags(&self) -> Vec<Tag> {
        let mut tags = vec![
            Tag::new("Process", self.process.to_string()),
            Tag::new("Epoch", self.epoch.to_string()),
            Tag::new("Nonce", self.nonce.to_string()),
            Tag::new("Hash-Chain", self.hash_chain.to_string()),
            Tag::new(
                "Block-Height",
                format!("{:0width$}", self.block_height, width = BLOCK_HEIGHT_DIGITS),
            ),
            Tag::new("Timestamp", self.timestamp.to_string()),
            Tag::new("Data-Protocol", DATA_PROTOCOL),
            Tag::new("Type", ItemType::Assignment.as_str()),
            Tag::new("Variant", VARIANT),
        ];
        if let Some(message) = &self.message {
            tags.push(Tag::new("Message", message.to_string()));
        }
        tags.extend(self.exclude.iter().map(|e| Tag::new("Exclude", e.clone())));
        tags
    }

    /// Signs the assignment item: no target, empty data, `anchor` (32 random bytes, injected
    /// so that callers control randomness).
    pub fn sign(&self, signer: &Signer, anchor: [u8; 32]) -> Result<DataItem, BuildError> {
        ItemBuilder::new()
            .anchor(anchor)
            .tags(self.tags())
            .sign(signer)
    }

    /// Reads an Assignment item's tags.
    pub fn from_item(item: &DataItem) -> Result<Assignment, AoError> {
        expect_type(item, ItemType::Assignment)?;
        let message = match item.tag("Message") {
            Some(_) => Some(id_tag(item, "Message")?),
            None => None,
        };
        Ok(Assignment {
            process: id_tag(item, "Process")?,
            epoch: u64_tag(item, "Epoch")?,
            nonce: u64_tag(item, "Nonce")?,
            hash_chain: id_tag(item, "Hash-Chain")?,
            block_height: u64_tag(item, "Block-Height")?,
            timestamp: u64_tag(item, "Timestamp")?,
            message,
            exclude: item.tag_values("Exclude").map(str::to_owned).collect(),
        })
    }
}

/// A Scheduler-Location item: where the SU owned by the item's signer lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerLocation {
    pub url: String,
    /// How long clients may cache this location, in milliseconds.
    pub time_to_live_ms: u64,
}

impl SchedulerLocation {
    pub fn tags(&self) -> Vec<Tag> {
        vec![
            Tag::new("Data-Protocol", DATA_PROTOCOL),
            Tag::new("Variant", VARIANT),
            Tag::new("Type", ItemType::SchedulerLocation.as_str()),
            Tag::new("Url", self.url.clone()),
            Tag::new("Time-To-Live", self.time_to_live_ms.to_string()),
        ]
    }

    pub fn sign(&self, signer: &Signer, anchor: [u8; 32]) -> Result<DataItem, BuildError> {
        ItemBuilder::new()
            .anchor(anchor)
            .tags(self.tags())
            .sign(signer)
    }

    pub fn from_item(item: &DataItem) -> Result<SchedulerLocation, AoError> {
        expect_type(item, ItemType::SchedulerLocation)?;
        Ok(SchedulerLocation {
            url: item
                .tag("Url")
                .ok_or(AoError::MissingTag("Url"))?
                .to_owned(),
            time_to_live_ms: u64_tag(item, "Time-To-Live")?,
        })
    }
}

/// The hash that de-duplicates items an MU pushed for a process (they carry `From-Process`):
/// the deep hash with signature type "1", an empty owner and the `Pushed-For` tags removed, so
/// the same outbox message pushed twice (by any MU, with any signature) hashes the same.
pub fn dedup_hash(item: &DataItem) -> [u8; 48] {
    let kept: Vec<Tag> = item
        .tags
        .iter()
        .filter(|t| t.name != "Pushed-For")
        .cloned()
        .collect();
    let tag_bytes = tags::encode(&kept);
    let empty: &[u8] = &[];
    let parts = [
        deep_hash_blob(b"dataitem"),
        deep_hash_blob(b"1"),
        deep_hash_blob(b"1"),
        deep_hash_blob(empty),
        deep_hash_blob(item.target.as_ref().map_or(empty, |t| &t[..])),
        deep_hash_blob(item.anchor.as_ref().map_or(empty, |a| &a[..])),
        deep_hash_blob(&tag_bytes),
        deep_hash_blob(&item.data),
    ];
    deep_hash_list(parts.into_iter())
}
