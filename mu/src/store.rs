//! The embedded database (redb) and its single writer thread. Every change (queue new tasks,
//! finish a task and queue what it led to, set a task aside, change a monitor) goes through
//! [`Store::commit`], which batches concurrent changes into one durable transaction (one fsync
//! for the whole batch) and answers each caller only after that commit.
//!
//! Must never: answer a change before it is durable, or commit from more than one thread.
//! Invariant: a finished task is removed in the same transaction that adds its successors.
//!
//! Schema:
//! - `tasks`: id → [`Task`] (postcard), the pending push steps
//! - `set_aside`: id → [`SetAside`] (postcard), tasks that failed `attempts_max` times in a row
//! - `monitors`: process id → [`Monitor`] (postcard)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::task::{Monitor, Task};

const TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");
const SET_ASIDE: TableDefinition<u64, &[u8]> = TableDefinition::new("set_aside");
const MONITORS: TableDefinition<&str, &[u8]> = TableDefinition::new("monitors");

/// Changes waiting for the writer; past it callers wait for room (back-pressure).
const PENDING_CHANGES_MAX: usize = 4096;
/// Most changes in one transaction.
const BATCH_MAX: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("record encoding error: {0}")]
    Encoding(#[from] postcard::Error),
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("commit failed: {0}")]
    Commit(String),
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

/// A task that failed too often, kept for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    pub task: Task,
    pub error: String,
}

/// One atomic change.
#[derive(Debug, Default)]
pub struct Change {
    /// A task that is finished (removed).
    pub done: Option<u64>,
    /// The finished task is not dropped but set aside with this reason.
    pub set_aside: Option<String>,
    /// New tasks; their ids are returned in order.
    pub add: Vec<Task>,
    /// A monitor written (`Some`) or removed (`None`).
    pub monitor: Option<(String, Option<Monitor>)>,
}

impl Change {
    /// A change that only queues `task`.
    pub fn with_task(task: Task) -> Change {
        Change {
            add: vec![task],
            ..Change::default()
        }
    }
}

/// Everything on disk at start.
pub struct Loaded {
    pub tasks: BTreeMap<u64, Task>,
    pub monitors: Vec<(String, Monitor)>,
    pub set_aside: u64,
}

type Reply = oneshot::Sender<Result<Vec<u64>, StoreError>>;

#[derive(Clone)]
pub struct Store {
    changes: mpsc::SyncSender<(Change, Reply)>,
}

impl Store {
    /// Opens (or creates) `dir/mu.redb`, reads what is pending and starts the writer thread,
    /// which stops once every `Store` handle is dropped; join the handle to wait for it.
    pub fn open(dir: &Path) -> Result<(Store, Loaded, JoinHandle<()>), StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("mu.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(TASKS)?;
        txn.open_table(SET_ASIDE)?;
        txn.open_table(MONITORS)?;
        txn.commit()?;

        let read = db.begin_read()?;
        let mut tasks = BTreeMap::new();
        for entry in read.open_table(TASKS)?.iter()? {
            let (id, bytes) = entry?;
            tasks.insert(id.value(), Task::decode(bytes.value())?);
        }
        let mut monitors = Vec::new();
        for entry in read.open_table(MONITORS)?.iter()? {
            let (pid, bytes) = entry?;
            monitors.push((pid.value().to_owned(), Monitor::decode(bytes.value())?));
        }
        let set_aside_table = read.open_table(SET_ASIDE)?;
        let set_aside = set_aside_table.len()?;
        let last_aside = set_aside_table.last()?.map(|(k, _)| k.value());
        drop(set_aside_table);
        drop(read);
        let next_id = tasks
            .keys()
            .next_back()
            .copied()
            .max(last_aside)
            .map_or(0, |id| id + 1);

        let (changes, receiver) = mpsc::sync_channel(PENDING_CHANGES_MAX);
        let thread = std::thread::Builder::new()
            .name("mu-writer".into())
            .spawn(move || write_loop(db, receiver, next_id))?;
        Ok((
            Store { changes },
            Loaded {
                tasks,
                monitors,
                set_aside,
            },
            thread,
        ))
    }

    /// Applies `change` durably; returns the ids given to `change.add`.
    pub async fn commit(&self, change: Change) -> Result<Vec<u64>, StoreError> {
        let (reply, answer) = oneshot::channel();
        match self.changes.try_send((change, reply)) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(pending)) => {
                // The writer is behind: wait for room off the runtime's threads.
                let sender = self.changes.clone();
                tokio::task::spawn_blocking(move || sender.send(pending).is_ok())
                    .await
                    .ok()
                    .filter(|sent| *sent)
                    .ok_or(StoreError::WriterGone)?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(StoreError::WriterGone),
        }
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Reads the tasks set aside (newest last).
    pub fn read_set_aside(dir: &Path) -> Result<Vec<(u64, SetAside)>, StoreError> {
        let db = Database::open(dir.join("mu.redb"))?;
        let read = db.begin_read()?;
        let mut out = Vec::new();
        for entry in read.open_table(SET_ASIDE)?.iter()? {
            let (id, bytes) = entry?;
            out.push((id.value(), postcard::from_bytes(bytes.value())?));
        }
        Ok(out)
    }
}

fn write_loop(db: Database, changes: mpsc::Receiver<(Change, Reply)>, mut next_id: u64) {
    while let Ok(first) = changes.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        let start_id = next_id;
        let mut ids = Vec::with_capacity(batch.len());
        let outcome = apply(&db, &batch, &mut next_id, &mut ids);
        match outcome {
            Ok(()) => {
                for ((_, reply), ids) in batch.into_iter().zip(ids) {
                    let _ = reply.send(Ok(ids));
                }
            }
            Err(e) => {
                // Nothing of the batch is on disk: give the ids back and fail every caller,
                // each of whom still holds its task and retries.
                next_id = start_id;
                tracing::error!(error = %e, batch = batch.len(), "commit failed");
                let text = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::Commit(text.clone())));
                }
            }
        }
    }
}

fn apply(
    db: &Database,
    batch: &[(Change, Reply)],
    next_id: &mut u64,
    ids: &mut Vec<Vec<u64>>,
) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut tasks = txn.open_table(TASKS)?;
        let mut set_aside = txn.open_table(SET_ASIDE)?;
        let mut monitors = txn.open_table(MONITORS)?;
        for (change, _) in batch {
            if let Some(done) = change.done {
                let removed = tasks.remove(done)?.map(|t| t.value().to_vec());
                if let (Some(error), Some(bytes)) = (&change.set_aside, removed) {
                    let record = SetAside {
                        task: Task::decode(&bytes)?,
                        error: error.clone(),
                    };
                    set_aside.insert(done, postcard::to_allocvec(&record)?.as_slice())?;
                }
            }
            let mut added = Vec::with_capacity(change.add.len());
            for task in &change.add {
                let id = *next_id;
                *next_id += 1;
                tasks.insert(id, task.encode().as_slice())?;
                added.push(id);
            }
            ids.push(added);
            match &change.monitor {
                Some((pid, Some(monitor))) => {
                    monitors.insert(pid.as_str(), monitor.encode().as_slice())?;
                }
                Some((pid, None)) => {
                    monitors.remove(pid.as_str())?;
                }
                None => {}
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Work;

    fn crank(n: u32) -> Task {
        Task::new(
            Work::Crank {
                process: format!("p{n}"),
                message: format!("m{n}"),
            },
            n,
            "origin",
        )
    }

    #[tokio::test]
    async fn changes_survive_reopen_and_ids_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let (store, loaded, thread) = Store::open(dir.path()).unwrap();
        assert!(loaded.tasks.is_empty());
        let ids = store
            .commit(Change {
                add: vec![crank(0), crank(1), crank(2)],
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(ids, [0, 1, 2]);
        let ids = store
            .commit(Change {
                done: Some(0),
                add: vec![crank(3)],
                monitor: Some(("p".into(), Some(Monitor::default()))),
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(ids, [3]);
        store
            .commit(Change {
                done: Some(3),
                set_aside: Some("gave up".into()),
                ..Change::default()
            })
            .await
            .unwrap();
        drop(store);
        thread.join().unwrap();

        let (store, loaded, thread) = Store::open(dir.path()).unwrap();
        assert_eq!(loaded.tasks.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(loaded.tasks[&2], crank(2));
        assert_eq!(loaded.monitors.len(), 1);
        assert_eq!(loaded.set_aside, 1);
        // Ids continue past the set-aside one, so they never collide.
        let ids = store
            .commit(Change {
                add: vec![crank(4)],
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(ids, [4]);
        drop(store);
        thread.join().unwrap();
        let aside = Store::read_set_aside(dir.path()).unwrap();
        assert_eq!(aside.len(), 1);
        assert_eq!(aside[0].1.task, crank(3));
        assert_eq!(aside[0].1.error, "gave up");
    }
}
