//! The results database (redb, one file `cu.redb` in the data directory): evaluated results,
//! cron results, the message index, each process's latest evaluated nonce and its latest
//! checkpoint.
//!
//! Must never: decide what a result is (the workers do), or let a result and the nonce that
//! says it exists be written apart. Invariant: a [`Batch`] is one transaction, so `latest`
//! never names a nonce whose result is missing, and a checkpoint is never ahead of `latest`
//! (nor of the cron results: it records how far cron has run).
//!
//! Schema (ids are raw 32-byte keys; nonces big-endian so keys sort by them):
//! - `results`: process ++ nonce → result JSON bytes
//! - `message_nonces`: message id ++ process → nonce (a message may go to several processes)
//! - `latest`: process → highest evaluated nonce
//! - `cron_results`: process ++ cron sequence number → the tick's `Timestamp` (8 bytes,
//!   big-endian) ++ result JSON bytes. Sequence numbers count a process's cron messages from 0
//!   in evaluation order, so they page in order; timestamps never decrease with them.
//! - `checkpoints`: process → [`StoredCheckpoint`] (postcard)

use std::path::Path;

use ao_core::Id;
use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::cron::CronPosition;

/// The database file inside the data directory.
pub const DB_FILE: &str = "cu.redb";

const RESULTS: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("results");
const CRON_RESULTS: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("cron_results");
const MESSAGE_NONCES: TableDefinition<&[u8; 64], u64> = TableDefinition::new("message_nonces");
const LATEST: TableDefinition<&[u8; 32], u64> = TableDefinition::new("latest");
const CHECKPOINTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("checkpoints");

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

/// A process state and where in the schedule it stands: enough for `ScheduleReader::resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// The nonce of the last message the state includes.
    pub nonce: u64,
    pub assignment_id: [u8; 32],
    pub hash_chain: [u8; 32],
    pub timestamp: u64,
    pub block_height: u64,
    /// `Checkpoint::bytes`.
    pub state: Vec<u8>,
    /// How far the process's crons had run when the state was taken (`None` without crons).
    pub cron: Option<CronPosition>,
}

/// One evaluated message.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub nonce: u64,
    pub message_id: Id,
    /// The result object as JSON.
    pub result: Vec<u8>,
}

/// One evaluated cron message.
#[derive(Debug, Clone)]
pub struct CronEvaluated {
    /// Its place among the process's cron messages, from 0.
    pub seq: u64,
    /// The `Timestamp` the message carried.
    pub timestamp: u64,
    /// The result object as JSON.
    pub result: Vec<u8>,
}

/// What one worker commits at once: consecutive results, the cron results evaluated among
/// them, and perhaps a newer checkpoint.
#[derive(Debug, Clone)]
pub struct Batch {
    pub process: Id,
    pub evaluated: Vec<Evaluated>,
    pub crons: Vec<CronEvaluated>,
    pub checkpoint: Option<StoredCheckpoint>,
}

impl Batch {
    pub fn new(process: Id) -> Batch {
        Batch {
            process,
            evaluated: Vec::new(),
            crons: Vec::new(),
            checkpoint: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.evaluated.is_empty() && self.crons.is_empty() && self.checkpoint.is_none()
    }
}

/// A page of stored results: `(nonce or cron sequence number, result JSON)`, and whether
/// more lie in the range.
pub type ResultsPage = (Vec<(u64, Vec<u8>)>, bool);

/// Which results a page reads.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Results,
    Cron,
}

/// Bytes before the JSON in a `cron_results` value: the timestamp.
const CRON_PREFIX_LEN: usize = 8;

pub struct Store {
    db: Database,
}

fn result_key(process: &Id, nonce: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(process.as_bytes());
    key[32..].copy_from_slice(&nonce.to_be_bytes());
    key
}

fn message_key(message: &Id, process: &Id) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(message.as_bytes());
    key[32..].copy_from_slice(process.as_bytes());
    key
}

impl Store {
    /// Opens (or creates) `dir/cu.redb` with every table.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join(DB_FILE))?;
        let tx = db.begin_write()?;
        tx.open_table(RESULTS)?;
        tx.open_table(CRON_RESULTS)?;
        tx.open_table(MESSAGE_NONCES)?;
        tx.open_table(LATEST)?;
        tx.open_table(CHECKPOINTS)?;
        tx.commit()?;
        Ok(Store { db })
    }

    /// Writes a batch in one durable transaction.
    pub fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut results = tx.open_table(RESULTS)?;
            let mut nonces = tx.open_table(MESSAGE_NONCES)?;
            let mut latest = tx.open_table(LATEST)?;
            for e in &batch.evaluated {
                results.insert(&result_key(&batch.process, e.nonce), e.result.as_slice())?;
                nonces.insert(&message_key(&e.message_id, &batch.process), e.nonce)?;
            }
            if let Some(last) = batch.evaluated.last() {
                latest.insert(batch.process.as_bytes(), last.nonce)?;
            }
            let mut crons = tx.open_table(CRON_RESULTS)?;
            let mut value = Vec::new();
            for e in &batch.crons {
                value.clear();
                value.extend_from_slice(&e.timestamp.to_be_bytes());
                value.extend_from_slice(&e.result);
                crons.insert(&result_key(&batch.process, e.seq), value.as_slice())?;
            }
            if let Some(checkpoint) = &batch.checkpoint {
                let bytes = postcard::to_allocvec(checkpoint)?;
                tx.open_table(CHECKPOINTS)?
                    .insert(batch.process.as_bytes(), bytes.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn result(&self, process: &Id, nonce: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(RESULTS)?;
        Ok(table
            .get(&result_key(process, nonce))?
            .map(|v| v.value().to_vec()))
    }

    /// The nonce `message` was evaluated at in `process`, if it was.
    pub fn message_nonce(&self, message: &Id, process: &Id) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(MESSAGE_NONCES)?;
        Ok(table
            .get(&message_key(message, process))?
            .map(|v| v.value()))
    }

    /// The highest evaluated nonce of `process`.
    pub fn latest(&self, process: &Id) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(LATEST)?;
        Ok(table.get(process.as_bytes())?.map(|v| v.value()))
    }

    pub fn checkpoint(&self, process: &Id) -> Result<Option<StoredCheckpoint>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(CHECKPOINTS)?;
        match table.get(process.as_bytes())? {
            Some(v) => Ok(Some(decode_checkpoint(v.value())?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` results with nonces in `low..=high`, ascending or descending, and
    /// whether more lie in the range beyond them.
    pub fn results_page(
        &self,
        process: &Id,
        low: u64,
        high: u64,
        descending: bool,
        limit: usize,
    ) -> Result<ResultsPage, StoreError> {
        self.page(Kind::Results, process, low..=high, descending, limit)
    }

    /// Up to `limit` cron results with sequence numbers in `low..=high`, ascending or
    /// descending, and whether more lie in the range beyond them.
    pub fn cron_page(
        &self,
        process: &Id,
        low: u64,
        high: u64,
        descending: bool,
        limit: usize,
    ) -> Result<ResultsPage, StoreError> {
        self.page(Kind::Cron, process, low..=high, descending, limit)
    }

    /// The highest sequence number in `low..=high` whose cron message's `Timestamp` is at or
    /// before `time`; `None` if there is none. Timestamps never decrease with sequence
    /// numbers, so this is a binary search; every number in the range must be stored.
    pub fn cron_seq_through(
        &self,
        process: &Id,
        low: u64,
        high: u64,
        time: u64,
    ) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(CRON_RESULTS)?;
        let at_or_before = |seq: u64| -> Result<bool, StoreError> {
            let value = table.get(&result_key(process, seq))?;
            Ok(value.is_some_and(|v| cron_timestamp(v.value()) <= time))
        };
        if low > high || !at_or_before(low)? {
            return Ok(None);
        }
        // Invariant: `low` is at or before `time`; everything above `high` is not.
        let (mut low, mut high) = (low, high);
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            if at_or_before(middle)? {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        Ok(Some(low))
    }

    fn page(
        &self,
        kind: Kind,
        process: &Id,
        numbers: std::ops::RangeInclusive<u64>,
        descending: bool,
        limit: usize,
    ) -> Result<ResultsPage, StoreError> {
        let (low, high) = numbers.into_inner();
        if low > high || limit == 0 {
            return Ok((Vec::new(), false));
        }
        let (definition, skip) = match kind {
            Kind::Results => (RESULTS, 0),
            Kind::Cron => (CRON_RESULTS, CRON_PREFIX_LEN),
        };
        let tx = self.db.begin_read()?;
        let table = tx.open_table(definition)?;
        let (first, last) = (result_key(process, low), result_key(process, high));
        let range = table.range::<&[u8; 40]>(&first..=&last)?;
        let mut entries = Vec::new();
        let mut more = false;
        let mut push = |entry: Result<_, redb::StorageError>| -> Result<bool, StoreError> {
            let (key, value): (redb::AccessGuard<&[u8; 40]>, redb::AccessGuard<&[u8]>) = entry?;
            if entries.len() == limit {
                more = true;
                return Ok(false);
            }
            let mut number = [0u8; 8];
            number.copy_from_slice(&key.value()[32..]);
            let bytes = value.value();
            let body = bytes.get(skip..).unwrap_or_default();
            entries.push((u64::from_be_bytes(number), body.to_vec()));
            Ok(true)
        };
        if descending {
            for entry in range.rev() {
                if !push(entry)? {
                    break;
                }
            }
        } else {
            for entry in range {
                if !push(entry)? {
                    break;
                }
            }
        }
        Ok((entries, more))
    }
}

/// A stored checkpoint, also in the layout written before checkpoints recorded a cron
/// position (postcard is not self-describing: that layout simply ends before `cron`).
fn decode_checkpoint(bytes: &[u8]) -> Result<StoredCheckpoint, StoreError> {
    #[derive(Deserialize)]
    struct WithoutCron {
        nonce: u64,
        assignment_id: [u8; 32],
        hash_chain: [u8; 32],
        timestamp: u64,
        block_height: u64,
        state: Vec<u8>,
    }
    match postcard::from_bytes(bytes) {
        Ok(checkpoint) => Ok(checkpoint),
        Err(e) => {
            let Ok(old) = postcard::from_bytes::<WithoutCron>(bytes) else {
                return Err(e.into());
            };
            Ok(StoredCheckpoint {
                nonce: old.nonce,
                assignment_id: old.assignment_id,
                hash_chain: old.hash_chain,
                timestamp: old.timestamp,
                block_height: old.block_height,
                state: old.state,
                cron: None,
            })
        }
    }
}

fn cron_timestamp(value: &[u8]) -> u64 {
    let mut bytes = [0u8; CRON_PREFIX_LEN];
    if let Some(prefix) = value.get(..CRON_PREFIX_LEN) {
        bytes.copy_from_slice(prefix);
    }
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluated(nonce: u64) -> Evaluated {
        Evaluated {
            nonce,
            message_id: Id([nonce as u8; 32]),
            result: format!("{{\"Output\":{nonce}}}").into_bytes(),
        }
    }

    #[test]
    fn batches_pages_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let p = Id([7; 32]);
        let other = Id([8; 32]);
        assert_eq!(store.latest(&p).unwrap(), None);
        let checkpoint = StoredCheckpoint {
            nonce: 2,
            assignment_id: [1; 32],
            hash_chain: [2; 32],
            timestamp: 3,
            block_height: 9,
            state: vec![4, 5],
            cron: Some(CronPosition {
                next: vec![3, 1],
                seq: 2,
                timestamp: 3,
                block_height: 9,
            }),
        };
        store
            .commit(&Batch {
                process: p,
                evaluated: (0..5).map(evaluated).collect(),
                crons: Vec::new(),
                checkpoint: Some(checkpoint.clone()),
            })
            .unwrap();
        store
            .commit(&Batch {
                process: other,
                evaluated: vec![evaluated(0)],
                crons: Vec::new(),
                checkpoint: None,
            })
            .unwrap();
        assert_eq!(store.latest(&p).unwrap(), Some(4));
        assert_eq!(store.checkpoint(&p).unwrap(), Some(checkpoint));
        assert_eq!(store.checkpoint(&other).unwrap(), None);
        assert_eq!(store.message_nonce(&Id([3; 32]), &p).unwrap(), Some(3));
        assert_eq!(store.message_nonce(&Id([3; 32]), &other).unwrap(), None);
        assert_eq!(store.result(&p, 1).unwrap().unwrap(), b"{\"Output\":1}");

        let nonces = |(page, more): ResultsPage| (page.iter().map(|e| e.0).collect(), more);
        let asc: (Vec<u64>, bool) = nonces(store.results_page(&p, 1, 4, false, 2).unwrap());
        assert_eq!(asc, (vec![1, 2], true));
        let desc: (Vec<u64>, bool) = nonces(store.results_page(&p, 0, 4, true, 5).unwrap());
        assert_eq!(desc, (vec![4, 3, 2, 1, 0], false));
        let empty: (Vec<u64>, bool) = nonces(store.results_page(&p, 5, 4, false, 5).unwrap());
        assert_eq!(empty, (vec![], false));
    }

    #[test]
    fn checkpoints_written_before_cron_still_load() {
        #[derive(Serialize)]
        struct WithoutCron {
            nonce: u64,
            assignment_id: [u8; 32],
            hash_chain: [u8; 32],
            timestamp: u64,
            block_height: u64,
            state: Vec<u8>,
        }
        let old = WithoutCron {
            nonce: 4,
            assignment_id: [1; 32],
            hash_chain: [2; 32],
            timestamp: 5,
            block_height: 6,
            state: vec![7, 8],
        };
        let decoded = decode_checkpoint(&postcard::to_allocvec(&old).unwrap()).unwrap();
        assert_eq!(
            (decoded.nonce, decoded.state, decoded.cron),
            (4, vec![7, 8], None)
        );
        assert!(decode_checkpoint(&[1, 2]).is_err());
    }

    #[test]
    fn cron_results_page_in_order_and_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let p = Id([7; 32]);
        // Timestamps 1000, 2000, 2000, 3000, … never decreasing with the sequence number.
        let times = [1000, 2000, 2000, 3000, 4000, 5000];
        let mut batch = Batch::new(p);
        batch.crons = times
            .iter()
            .enumerate()
            .map(|(seq, &timestamp)| CronEvaluated {
                seq: seq as u64,
                timestamp,
                result: format!("{{\"Output\":{seq}}}").into_bytes(),
            })
            .collect();
        store.commit(&batch).unwrap();
        assert_eq!(
            store.latest(&p).unwrap(),
            None,
            "crons are not scheduled results"
        );
        assert_eq!(store.results_page(&p, 0, 9, false, 9).unwrap().0, vec![]);

        let (page, more) = store.cron_page(&p, 1, 5, false, 2).unwrap();
        assert!(more);
        assert_eq!(
            page,
            vec![
                (1, b"{\"Output\":1}".to_vec()),
                (2, b"{\"Output\":2}".to_vec())
            ]
        );
        let (page, more) = store.cron_page(&p, 0, 5, true, 9).unwrap();
        assert!(!more);
        assert_eq!(
            page.iter().map(|e| e.0).collect::<Vec<_>>(),
            [5, 4, 3, 2, 1, 0]
        );

        let through = |time| store.cron_seq_through(&p, 0, 5, time).unwrap();
        assert_eq!(through(999), None);
        assert_eq!(through(1000), Some(0));
        assert_eq!(through(2500), Some(2));
        assert_eq!(through(4000), Some(4));
        assert_eq!(through(u64::MAX), Some(5));
        assert_eq!(store.cron_seq_through(&p, 3, 5, 2000).unwrap(), None);
        assert_eq!(store.cron_seq_through(&p, 3, 2, 9000).unwrap(), None);
    }
}
