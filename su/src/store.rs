//! The embedded database (redb): the schema, the records, every read, and [`Store::apply`],
//! which writes one group of ordered entries in a single durable transaction.
//!
//! Must never: decide an order (the sequencer does), or commit from more than one thread (only
//! the writer calls `apply`). Invariant: an entry, its indexes and its outbox references are
//! written in the same transaction, so after a crash either all of them exist or none.
//!
//! Schema (ids are raw 32-byte keys; nonces and timestamps big-endian so keys sort by them):
//! - `items`: item id → raw data item (processes, messages, items fetched to assign)
//! - `schedule`: process ++ nonce → [`ScheduleRecord`] (postcard)
//! - `by_time`: process ++ timestamp → nonce (timestamps strictly increase per process)
//! - `assignment_ids`: assignment id → process ++ nonce
//! - `message_nonces`: item id ++ process → nonce (an item may be assigned to several processes)
//! - `dedup`: dedup hash of a pushed message → its id
//! - `outbox`: sequence → [`OutboxEntry`] (postcard), deleted once permanent storage confirms

use std::path::Path;

use ao_core::Id;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

const ITEMS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("items");
const SCHEDULE: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("schedule");
const BY_TIME: TableDefinition<&[u8; 40], u64> = TableDefinition::new("by_time");
const ASSIGNMENT_IDS: TableDefinition<&[u8; 32], &[u8; 40]> =
    TableDefinition::new("assignment_ids");
const MESSAGE_NONCES: TableDefinition<&[u8; 64], u64> = TableDefinition::new("message_nonces");
const DEDUP: TableDefinition<&[u8; 48], &[u8; 32]> = TableDefinition::new("dedup");
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("record encoding error: {0}")]
    Encoding(#[from] postcard::Error),
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// One scheduled entry: the assignment and what it assigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub timestamp: u64,
    pub block_height: u64,
    /// The assigned item: the process id itself at nonce 0, else the message id.
    pub message: Option<[u8; 32]>,
    /// Whether the assigned item is held in `items` (false for base-layer assignments).
    pub message_held: bool,
    pub assignment_id: [u8; 32],
    pub hash_chain: [u8; 32],
    /// The raw signed Assignment item.
    pub assignment: Vec<u8>,
}

/// What to upload: references to stored bytes, so nothing is written twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxEntry {
    Item([u8; 32]),
    Assignment([u8; 32], u64),
    Raw(Vec<u8>),
}

/// The tail of a process's schedule, from which the next entry is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub next_nonce: u64,
    pub last_assignment: Id,
    pub last_hash_chain: Id,
    pub last_timestamp: u64,
}

/// An ordered entry ready to be written.
#[derive(Debug, Clone)]
pub struct Ordered {
    pub process: Id,
    pub nonce: u64,
    pub record: ScheduleRecord,
    /// The raw item to store, when the SU did not hold it yet.
    pub new_item: Option<(Id, Bytes)>,
    pub dedup: Option<[u8; 48]>,
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

fn split_key(key: &[u8; 40]) -> (Id, u64) {
    let mut id = [0u8; 32];
    id.copy_from_slice(&key[..32]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&key[32..]);
    (Id(id), u64::from_be_bytes(n))
}

fn pair_key(a: &Id, b: &Id) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(a.as_bytes());
    key[32..].copy_from_slice(b.as_bytes());
    key
}

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) `dir/su.redb` and its tables.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("su.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(ITEMS)?;
        txn.open_table(SCHEDULE)?;
        txn.open_table(BY_TIME)?;
        txn.open_table(ASSIGNMENT_IDS)?;
        txn.open_table(MESSAGE_NONCES)?;
        txn.open_table(DEDUP)?;
        txn.open_table(OUTBOX)?;
        txn.commit()?;
        Ok(Store { db })
    }

    pub fn head(&self, process: &Id) -> Result<Option<Head>, StoreError> {
        Ok(self.latest(process)?.map(|(nonce, r)| Head {
            next_nonce: nonce + 1,
            last_assignment: Id(r.assignment_id),
            last_hash_chain: Id(r.hash_chain),
            last_timestamp: r.timestamp,
        }))
    }

    pub fn latest(&self, process: &Id) -> Result<Option<(u64, ScheduleRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SCHEDULE)?;
        let lo = schedule_key(process, 0);
        let hi = schedule_key(process, u64::MAX);
        let last = table
            .range::<&[u8; 40]>(&lo..=&hi)?
            .next_back()
            .transpose()?;
        match last {
            Some((k, v)) => Ok(Some((
                split_key(k.value()).1,
                postcard::from_bytes(v.value())?,
            ))),
            None => Ok(None),
        }
    }

    pub fn record(&self, process: &Id, nonce: u64) -> Result<Option<ScheduleRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SCHEDULE)?;
        match table.get(&schedule_key(process, nonce))? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn item(&self, id: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ITEMS)?;
        Ok(table.get(id.as_bytes())?.map(|v| v.value().to_vec()))
    }

    pub fn has_item(&self, id: &Id) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(ITEMS)?.get(id.as_bytes())?.is_some())
    }

    /// Whether an item with this id, or a pushed message with this dedup hash, was ordered.
    pub fn duplicate(
        &self,
        id: &Id,
        dedup: Option<&[u8; 48]>,
    ) -> Result<Option<Duplicate>, StoreError> {
        let txn = self.db.begin_read()?;
        if txn.open_table(ITEMS)?.get(id.as_bytes())?.is_some() {
            return Ok(Some(Duplicate::SameId));
        }
        if let Some(hash) = dedup
            && let Some(first) = txn.open_table(DEDUP)?.get(hash)?
        {
            return Ok(Some(Duplicate::SamePush(Id(*first.value()))));
        }
        Ok(None)
    }

    /// The nonce of item `item` in `process`'s schedule.
    pub fn scheduled_nonce(&self, item: &Id, process: &Id) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MESSAGE_NONCES)?;
        Ok(table.get(&pair_key(item, process))?.map(|v| v.value()))
    }

    /// The first process (by id) that scheduled `item`, and its nonce there.
    pub fn find_message(&self, item: &Id) -> Result<Option<(Id, u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MESSAGE_NONCES)?;
        let lo = pair_key(item, &Id([0; 32]));
        let hi = pair_key(item, &Id([0xff; 32]));
        let first = table.range::<&[u8; 64]>(&lo..=&hi)?.next().transpose()?;
        Ok(first.map(|(k, v)| {
            let mut p = [0u8; 32];
            p.copy_from_slice(&k.value()[32..]);
            (Id(p), v.value())
        }))
    }

    pub fn find_assignment(&self, assignment: &Id) -> Result<Option<(Id, u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ASSIGNMENT_IDS)?;
        Ok(table
            .get(assignment.as_bytes())?
            .map(|v| split_key(v.value())))
    }

    /// The first nonce whose timestamp is after `from` (exclusive) and the last whose
    /// timestamp is at most `to` (inclusive).
    pub fn nonce_bounds(
        &self,
        process: &Id,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<(Option<u64>, Option<u64>), StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BY_TIME)?;
        let start = match from {
            None => None,
            Some(from) => {
                let lo = schedule_key(process, from.saturating_add(1));
                let hi = schedule_key(process, u64::MAX);
                let first = table.range::<&[u8; 40]>(&lo..=&hi)?.next().transpose()?;
                Some(first.map_or(u64::MAX, |(_, v)| v.value()))
            }
        };
        let end = match to {
            None => None,
            Some(to) => {
                let lo = schedule_key(process, 0);
                let hi = schedule_key(process, to);
                let last = table
                    .range::<&[u8; 40]>(&lo..=&hi)?
                    .next_back()
                    .transpose()?;
                // Nothing at or before `to`: an empty range.
                Some(match last {
                    Some((_, v)) => v.value(),
                    None => return Ok((Some(1), Some(0))),
                })
            }
        };
        Ok((start, end))
    }

    /// Entries with `start <= nonce <= end`, at most `limit`, and whether more follow.
    pub fn page(
        &self,
        process: &Id,
        start: u64,
        end: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, ScheduleRecord)>, bool), StoreError> {
        let mut out = Vec::new();
        if start > end {
            return Ok((out, false));
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SCHEDULE)?;
        let lo = schedule_key(process, start);
        let hi = schedule_key(process, end);
        for entry in table.range::<&[u8; 40]>(&lo..=&hi)? {
            let (k, v) = entry?;
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push((split_key(k.value()).1, postcard::from_bytes(v.value())?));
        }
        Ok((out, false))
    }

    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(OUTBOX)?.len()?)
    }

    pub fn outbox_last_seq(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(OUTBOX)?.last()?.map(|(k, _)| k.value()))
    }

    /// The oldest `max` outbox entries with their raw bytes (`None` if a reference dangles,
    /// which only a corrupted database could cause).
    pub fn outbox_batch(&self, max: usize) -> Result<Vec<OutboxRaw>, StoreError> {
        let txn = self.db.begin_read()?;
        let outbox = txn.open_table(OUTBOX)?;
        let items = txn.open_table(ITEMS)?;
        let schedule = txn.open_table(SCHEDULE)?;
        let mut out = Vec::new();
        for entry in outbox.iter()?.take(max) {
            let (k, v) = entry?;
            let raw = match postcard::from_bytes::<OutboxEntry>(v.value())? {
                OutboxEntry::Raw(bytes) => Some(bytes),
                OutboxEntry::Item(id) => items.get(&id)?.map(|v| v.value().to_vec()),
                OutboxEntry::Assignment(process, nonce) => {
                    match schedule.get(&schedule_key(&Id(process), nonce))? {
                        Some(v) => {
                            Some(postcard::from_bytes::<ScheduleRecord>(v.value())?.assignment)
                        }
                        None => None,
                    }
                }
            };
            out.push((k.value(), raw));
        }
        Ok(out)
    }

    /// Writes `ops` in one transaction and commits it durably. `outbox_seq` is the next outbox
    /// key; it only advances if the commit succeeds.
    pub fn apply<'a>(
        &self,
        ops: impl Iterator<Item = &'a WriteOp>,
        outbox_seq: &mut u64,
    ) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        let mut seq = *outbox_seq;
        let txn = self.db.begin_write()?;
        {
            let mut items = txn.open_table(ITEMS)?;
            let mut schedule = txn.open_table(SCHEDULE)?;
            let mut by_time = txn.open_table(BY_TIME)?;
            let mut assignment_ids = txn.open_table(ASSIGNMENT_IDS)?;
            let mut message_nonces = txn.open_table(MESSAGE_NONCES)?;
            let mut dedup = txn.open_table(DEDUP)?;
            let mut outbox = txn.open_table(OUTBOX)?;
            for op in ops {
                match op {
                    WriteOp::Order(o) => {
                        let key = schedule_key(&o.process, o.nonce);
                        if let Some((id, raw)) = &o.new_item {
                            items.insert(id.as_bytes(), raw.as_ref())?;
                            push(
                                &mut outbox,
                                &mut seq,
                                &mut applied,
                                &OutboxEntry::Item(id.0),
                            )?;
                        }
                        let record = postcard::to_allocvec(&o.record)?;
                        schedule.insert(&key, record.as_slice())?;
                        by_time.insert(&schedule_key(&o.process, o.record.timestamp), o.nonce)?;
                        assignment_ids.insert(&o.record.assignment_id, &key)?;
                        if let Some(message) = &o.record.message {
                            message_nonces.insert(&pair_key(&Id(*message), &o.process), o.nonce)?;
                        }
                        if let (Some(hash), Some((id, _))) = (&o.dedup, &o.new_item) {
                            dedup.insert(hash, id.as_bytes())?;
                        }
                        push(
                            &mut outbox,
                            &mut seq,
                            &mut applied,
                            &OutboxEntry::Assignment(o.process.0, o.nonce),
                        )?;
                        applied.ordered += 1;
                    }
                    WriteOp::OutboxPush(raw) => push(
                        &mut outbox,
                        &mut seq,
                        &mut applied,
                        &OutboxEntry::Raw(raw.clone()),
                    )?,
                    WriteOp::OutboxAck(seqs) => {
                        for s in seqs {
                            if outbox.remove(*s)?.is_some() {
                                applied.outbox_removed += 1;
                            }
                        }
                    }
                }
            }
        }
        txn.commit()?;
        *outbox_seq = seq;
        Ok(applied)
    }
}

fn push(
    outbox: &mut redb::Table<u64, &[u8]>,
    seq: &mut u64,
    applied: &mut Applied,
    entry: &OutboxEntry,
) -> Result<(), StoreError> {
    outbox.insert(*seq, postcard::to_allocvec(entry)?.as_slice())?;
    *seq += 1;
    applied.outbox_added += 1;
    Ok(())
}
