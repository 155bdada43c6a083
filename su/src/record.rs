//! The records the store writes and the keys it writes them under: plain data and their
//! encodings, no I/O. An [`Ordered`] entry is encoded where it is built (on the request's
//! thread), so the single writer thread only inserts bytes.

use ao_core::Id;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// One scheduled entry: the assignment and what it assigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// First, so [`crate::store::Store::nonce_bounds`] can decode it alone.
    pub timestamp: u64,
    pub block_height: u64,
    /// The assigned item: the process id itself at nonce 0, else the message id.
    pub message: Option<[u8; 32]>,
    /// Where the assigned item's bytes are.
    pub item: HeldItem,
    pub assignment_id: [u8; 32],
    pub hash_chain: [u8; 32],
    /// The raw signed Assignment item.
    #[serde(with = "raw")]
    pub assignment: Vec<u8>,
}

/// Where the raw item an entry assigns is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeldItem {
    /// Not held (a base-layer assignment).
    No,
    /// In this record: the entry that brought the item to the SU.
    Here(#[serde(with = "raw")] Vec<u8>),
    /// In the record of process ++ nonce (an item assigned again).
    At([u8; 32], u64),
}

/// What to upload: references to stored bytes, so nothing is written twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxEntry {
    /// The item held in the record of process ++ nonce.
    Item([u8; 32], u64),
    /// The assignment of process ++ nonce.
    Assignment([u8; 32], u64),
    Raw(#[serde(with = "raw")] Vec<u8>),
}

/// The tail of a process's schedule, from which the next entry is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub next_nonce: u64,
    pub last_assignment: Id,
    pub last_hash_chain: Id,
    pub last_timestamp: u64,
}

/// An ordered entry ready to be written, its record already encoded (by [`Ordered::new`], on
/// the request's thread, so the writer thread only inserts).
#[derive(Debug, Clone)]
pub struct Ordered {
    pub(crate) process: Id,
    pub(crate) nonce: u64,
    pub(crate) message: Option<[u8; 32]>,
    pub(crate) assignment_id: [u8; 32],
    /// Whether the record holds the item (it is then uploaded, and `dedup` recorded).
    pub(crate) brings_item: bool,
    pub(crate) dedup: Option<[u8; 48]>,
    pub(crate) record: Vec<u8>,
}

impl Ordered {
    pub fn new(
        process: Id,
        nonce: u64,
        record: &ScheduleRecord,
        dedup: Option<[u8; 48]>,
    ) -> Result<Ordered, StoreError> {
        Ok(Ordered {
            process,
            nonce,
            message: record.message,
            assignment_id: record.assignment_id,
            brings_item: matches!(record.item, HeldItem::Here(_)),
            dedup,
            record: postcard::to_allocvec(record)?,
        })
    }
}

#[derive(Debug, Clone)]
pub enum WriteOp {
    Order(Box<Ordered>),
    OutboxPush(Vec<u8>),
    OutboxAck(Vec<u64>),
}

/// What a commit changed, for the metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    pub ordered: u64,
    pub outbox_added: u64,
    pub outbox_removed: u64,
}

/// An outbox entry's sequence and raw bytes (`None` if its reference dangles).
pub type OutboxRaw = (u64, Option<Vec<u8>>);

/// Why an item may not be scheduled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicate {
    SameId,
    SamePush(Id),
}

pub fn schedule_key(process: &Id, nonce: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(process.as_bytes());
    key[32..].copy_from_slice(&nonce.to_be_bytes());
    key
}

pub(crate) fn split_key(key: &[u8; 40]) -> (Id, u64) {
    let mut id = [0u8; 32];
    id.copy_from_slice(&key[..32]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&key[32..]);
    (Id(id), u64::from_be_bytes(n))
}

pub(crate) fn pair_key(a: &Id, b: &Id) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(a.as_bytes());
    key[32..].copy_from_slice(b.as_bytes());
    key
}

/// Byte strings as one length and a copy (serde's default for `Vec<u8>` goes byte by byte, which
/// matters for items of megabytes). Postcard writes both the same way, so either reads the other.
mod raw {
    use serde::{Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl de::Visitor<'_> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}
