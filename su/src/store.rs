//! The embedded database (redb): the schema, every read, and [`Store::apply`], which writes one
//! group of ordered entries in a single durable transaction (the records are in `record.rs`).
//!
//! Must never: decide an order (the sequencer does), or commit from more than one thread (only
//! the writer calls `apply`). Invariant: an entry, its indexes and its outbox references are
//! written in the same transaction, so after a crash either all of them exist or none.
//!
//! Schema (ids are raw 32-byte keys; nonces big-endian so keys sort by them):
//! - `schedule`: process ++ nonce → [`ScheduleRecord`] (postcard), which also holds the raw
//!   item it assigns when this entry brought it (processes, messages, items fetched to assign)
//! - `assignment_ids`: assignment id → process ++ nonce
//! - `message_nonces`: item id ++ process → nonce (an item may be assigned to several processes)
//! - `dedup`: dedup hash of a pushed message → its id
//! - `outbox`: sequence → [`OutboxEntry`] (postcard), deleted once permanent storage confirms
//!
//! Why this shape: each commit costs about one 4 KiB page written per distinct leaf it touches,
//! and random keys (ids) touch one leaf each. Items live in their schedule record (per process
//! sequential keys) rather than in a table of their own, and timestamps are found by binary
//! search over `schedule` (they strictly increase with the nonce) rather than by an index, so
//! an entry costs two random-key inserts, the least that lookups by id allow.

use std::path::Path;

use ao_core::Id;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

pub use crate::record::{
    Applied, Duplicate, Head, HeldItem, Ordered, OutboxEntry, OutboxRaw, ScheduleRecord, WriteOp,
    schedule_key,
};
use crate::record::{pair_key, split_key};

const SCHEDULE: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("schedule");
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
    #[error("schedule has no entry at nonce {nonce} below its latest")]
    Gap { nonce: u64 },
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

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) `dir/su.redb` and its tables.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("su.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(SCHEDULE)?;
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

    /// The raw item `id`, if the SU holds it.
    pub fn item(&self, id: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let schedule = txn.open_table(SCHEDULE)?;
        let Some((process, nonce)) = held_at(&txn.open_table(MESSAGE_NONCES)?, &schedule, id)?
        else {
            return Ok(None);
        };
        item_in(&schedule, &Id(process), nonce)
    }

    /// The raw item an entry assigns, if the SU holds it.
    pub fn record_item(&self, record: &ScheduleRecord) -> Result<Option<Vec<u8>>, StoreError> {
        match &record.item {
            HeldItem::No => Ok(None),
            HeldItem::Here(raw) => Ok(Some(raw.clone())),
            HeldItem::At(process, nonce) => {
                let txn = self.db.begin_read()?;
                item_in(&txn.open_table(SCHEDULE)?, &Id(*process), *nonce)
            }
        }
    }

    /// The entry (process, nonce) whose record holds item `id`, if the SU holds it.
    pub fn held_at(&self, id: &Id) -> Result<Option<([u8; 32], u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        held_at(
            &txn.open_table(MESSAGE_NONCES)?,
            &txn.open_table(SCHEDULE)?,
            id,
        )
    }

    /// Whether an item with this id is held, or a pushed message with this dedup hash was
    /// ordered.
    pub fn duplicate(
        &self,
        id: &Id,
        dedup: Option<&[u8; 48]>,
    ) -> Result<Option<Duplicate>, StoreError> {
        let txn = self.db.begin_read()?;
        let nonces = txn.open_table(MESSAGE_NONCES)?;
        if held_at(&nonces, &txn.open_table(SCHEDULE)?, id)?.is_some() {
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
    /// timestamp is at most `to` (inclusive). Binary search: timestamps strictly increase with
    /// the nonce, and nonces are gap-free from 0.
    pub fn nonce_bounds(
        &self,
        process: &Id,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<(Option<u64>, Option<u64>), StoreError> {
        if from.is_none() && to.is_none() {
            return Ok((None, None));
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SCHEDULE)?;
        let lo = schedule_key(process, 0);
        let hi = schedule_key(process, u64::MAX);
        let last = table
            .range::<&[u8; 40]>(&lo..=&hi)?
            .next_back()
            .transpose()?;
        let count = last.map_or(0, |(k, _)| split_key(k.value()).1 + 1);
        // The first nonce in 0..count whose timestamp is above `t` (count if none).
        let first_after = |t: u64| -> Result<u64, StoreError> {
            let (mut lo, mut hi) = (0, count);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let value = table.get(&schedule_key(process, mid))?;
                let value = value.ok_or(StoreError::Gap { nonce: mid })?;
                let (timestamp, _) = postcard::take_from_bytes::<u64>(value.value())?;
                if timestamp > t {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            Ok(lo)
        };
        let start = match from {
            None => None,
            Some(from) => {
                let n = first_after(from)?;
                Some(if n == count { u64::MAX } else { n })
            }
        };
        let end = match to {
            None => None,
            Some(to) => match first_after(to)? {
                // Nothing at or before `to`: an empty range.
                0 => return Ok((Some(1), Some(0))),
                n => Some(n - 1),
            },
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
        let schedule = txn.open_table(SCHEDULE)?;
        let mut out = Vec::new();
        for entry in outbox.iter()?.take(max) {
            let (k, v) = entry?;
            let raw = match postcard::from_bytes::<OutboxEntry>(v.value())? {
                OutboxEntry::Raw(bytes) => Some(bytes),
                OutboxEntry::Item(process, nonce) => item_in(&schedule, &Id(process), nonce)?,
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
            let mut schedule = txn.open_table(SCHEDULE)?;
            let mut assignment_ids = txn.open_table(ASSIGNMENT_IDS)?;
            let mut message_nonces = txn.open_table(MESSAGE_NONCES)?;
            let mut dedup = txn.open_table(DEDUP)?;
            let mut outbox = txn.open_table(OUTBOX)?;
            for op in ops {
                match op {
                    WriteOp::Order(o) => {
                        let key = schedule_key(&o.process, o.nonce);
                        schedule.insert(&key, o.record.as_slice())?;
                        assignment_ids.insert(&o.assignment_id, &key)?;
                        if let Some(message) = &o.message {
                            message_nonces.insert(&pair_key(&Id(*message), &o.process), o.nonce)?;
                        }
                        if o.brings_item {
                            if let (Some(hash), Some(message)) = (&o.dedup, &o.message) {
                                dedup.insert(hash, message)?;
                            }
                            let entry = OutboxEntry::Item(o.process.0, o.nonce);
                            push(&mut outbox, &mut seq, &mut applied, &entry)?;
                        }
                        let entry = OutboxEntry::Assignment(o.process.0, o.nonce);
                        push(&mut outbox, &mut seq, &mut applied, &entry)?;
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

/// The entry whose record holds item `id`: the first of its entries (usually its only one) that
/// holds it or points to where it is.
fn held_at(
    nonces: &impl ReadableTable<&'static [u8; 64], u64>,
    schedule: &impl ReadableTable<&'static [u8; 40], &'static [u8]>,
    id: &Id,
) -> Result<Option<([u8; 32], u64)>, StoreError> {
    let lo = pair_key(id, &Id([0; 32]));
    let hi = pair_key(id, &Id([0xff; 32]));
    for entry in nonces.range::<&[u8; 64]>(&lo..=&hi)? {
        let (k, v) = entry?;
        let mut process = [0u8; 32];
        process.copy_from_slice(&k.value()[32..]);
        let nonce = v.value();
        let Some(record) = schedule.get(&schedule_key(&Id(process), nonce))? else {
            continue;
        };
        match postcard::from_bytes::<ScheduleRecord>(record.value())?.item {
            HeldItem::No => {}
            HeldItem::Here(_) => return Ok(Some((process, nonce))),
            HeldItem::At(process, nonce) => return Ok(Some((process, nonce))),
        }
    }
    Ok(None)
}

/// The raw item held in the record of `process` ++ `nonce`.
fn item_in(
    schedule: &impl ReadableTable<&'static [u8; 40], &'static [u8]>,
    process: &Id,
    nonce: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(match schedule.get(&schedule_key(process, nonce))? {
        Some(v) => match postcard::from_bytes::<ScheduleRecord>(v.value())?.item {
            HeldItem::Here(raw) => Some(raw),
            HeldItem::No | HeldItem::At(..) => None,
        },
        None => None,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
