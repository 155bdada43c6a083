//! Orders items per process: checks what is posted, gives it the next nonce, a strictly
//! increasing timestamp and the next hash-chain link, signs its Assignment, and hands it to the
//! writer. Answers only after the writer says the entry is durable.
//!
//! Each process has its own slot (a tokio mutex over its schedule head), so processes never
//! wait on each other; the writer shares one commit among all of them.
//!
//! Invariants: nonces are gap-free from 0 (the process itself) and never reused; the head in
//! memory is advanced only after the entry is queued, in queue order; if a commit fails, the
//! writer raises the slot's lost generation and the next user of a state that old reloads the
//! head from disk (see writer.rs). Must
//! never: hold the slot lock across anything but CPU work and the queue reservation, or read
//! the clock outside the lock.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ao_core::ao::{self, Assignment, ItemType, MessageView, ProcessView, SchedulerLocation};
use ao_core::hash_chain;
use ao_core::item::BuildError;
use ao_core::wire::SuPosted;
use ao_core::{DataItem, Id, Signer};
use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::store::{Duplicate, Head, HeldItem, Ordered, ScheduleRecord, Store, WriteOp};
use crate::writer::{Guard, WriteError, WriteRequest, Writer};

/// Items larger than this are decoded and verified off the async runtime's threads.
const INLINE_VERIFY_BYTES_MAX: usize = 64 * 1024;

enum SlotState {
    /// Not read from disk yet (or to be re-read).
    Unloaded,
    /// No such process.
    Absent,
    Live {
        head: Head,
        generation: u64,
    },
}

#[derive(Default)]
struct Pending {
    ids: HashSet<Id>,
    dedup: HashSet<[u8; 48]>,
}

/// One process's ordering state.
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
    /// The newest generation lost in a failed commit (0: none). A state built on that
    /// generation or an older one is reloaded from disk before it is used again.
    lost: Arc<AtomicU64>,
    /// Items queued but not yet committed, so a concurrent duplicate is caught.
    pending: Mutex<Pending>,
}

/// What is being scheduled.
struct NewEntry {
    /// The process itself (nonce 0) or the message.
    id: Id,
    /// Where the item's bytes will be: in this entry's record when the SU does not hold it
    /// yet, nowhere for base-layer assignments.
    item: HeldItem,
    dedup: Option<[u8; 48]>,
    exclude: Vec<String>,
    creates_process: bool,
    /// Answer with the assignment id instead of the item id.
    is_assign: bool,
}

pub struct Limits {
    pub process_bytes_max: usize,
    pub message_bytes_max: usize,
}

pub struct Sequencer {
    store: Arc<Store>,
    writer: Writer,
    signer: Signer,
    address: String,
    gateway: Option<Arc<Gateway>>,
    metrics: Arc<Metrics>,
    limits: Limits,
    slots: Mutex<HashMap<Id, Arc<Slot>>>,
    generations: AtomicU64,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn random_anchor() -> Result<[u8; 32], ApiError> {
    let mut anchor = [0u8; 32];
    aws_lc_rs::rand::fill(&mut anchor).map_err(|_| ApiError::Internal("no randomness"))?;
    Ok(anchor)
}

impl Sequencer {
    pub fn new(
        store: Arc<Store>,
        writer: Writer,
        signer: Signer,
        gateway: Option<Arc<Gateway>>,
        metrics: Arc<Metrics>,
        limits: Limits,
    ) -> Sequencer {
        Sequencer {
            address: signer.address(),
            store,
            writer,
            signer,
            gateway,
            metrics,
            limits,
            slots: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(1),
        }
    }

    /// The SU wallet's address (a Process's `Scheduler` must be this).
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn block_height(&self) -> u64 {
        self.metrics.block_height.load(Ordering::Relaxed)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Signs a Scheduler-Location item and queues it for permanent storage.
    pub async fn publish_location(&self, url: String, ttl_ms: u64) -> Result<Id, ApiError> {
        let location = SchedulerLocation {
            url,
            time_to_live_ms: ttl_ms,
        };
        let item = location
            .sign(&self.signer, random_anchor()?)
            .map_err(|_| ApiError::Internal("cannot sign the Scheduler-Location item"))?;
        self.writer
            .submit(WriteOp::OutboxPush(item.encode()))
            .await?;
        Ok(item.id())
    }

    /// `POST /` with a raw data item: a Process or a Message.
    pub async fn post(&self, raw: Bytes) -> Result<SuPosted, ApiError> {
        let item = if raw.len() > INLINE_VERIFY_BYTES_MAX {
            let raw = raw.clone();
            tokio::task::spawn_blocking(move || decode_verified(&raw))
                .await
                .map_err(|_| ApiError::Internal("verification task failed"))??
        } else {
            decode_verified(&raw)?
        };
        match ao::item_type(&item)? {
            ItemType::Process => {
                check_size("Process item", raw.len(), self.limits.process_bytes_max)?;
                let view = ProcessView::new(&item)?;
                if view.scheduler != self.address {
                    return Err(ApiError::WrongScheduler {
                        found: view.scheduler,
                        ours: self.address.clone(),
                    });
                }
                let entry = NewEntry {
                    id: view.id,
                    item: HeldItem::Here(raw.to_vec()),
                    dedup: None,
                    exclude: Vec::new(),
                    creates_process: true,
                    is_assign: false,
                };
                self.order(view.id, entry).await
            }
            ItemType::Message => {
                check_size("Message item", raw.len(), self.limits.message_bytes_max)?;
                let view = MessageView::new(&item)?;
                let dedup = view.from_process.is_some().then(|| ao::dedup_hash(&item));
                let entry = NewEntry {
                    id: view.id,
                    item: HeldItem::Here(raw.to_vec()),
                    dedup,
                    exclude: Vec::new(),
                    creates_process: false,
                    is_assign: false,
                };
                self.order(view.target, entry).await
            }
            other => Err(ApiError::NotPostable(other.as_str())),
        }
    }

    /// `POST /?process-id=&assign=`: schedules item `target` (held here, fetched from the
    /// gateway, or, with `base_layer`, a base-layer transaction known by id only).
    pub async fn assign(
        &self,
        process: Id,
        target: Id,
        base_layer: bool,
        exclude: Vec<String>,
    ) -> Result<SuPosted, ApiError> {
        let mut item = match self.store.held_at(&target)? {
            Some((p, nonce)) => HeldItem::At(p, nonce),
            None => HeldItem::No,
        };
        if item == HeldItem::No
            && let Some(gateway) = &self.gateway
            && let Some(raw) = gateway.fetch_item(&target).await?
            // The gateway is not trusted: the bytes must be the signed item with this id.
            && let Ok(fetched) = decode_verified(&raw)
            && fetched.id() == target
        {
            item = HeldItem::Here(raw.to_vec());
        }
        if item == HeldItem::No && !base_layer {
            return Err(ApiError::AssignTargetNotFound(target));
        }
        let entry = NewEntry {
            id: target,
            item,
            dedup: None,
            exclude,
            creates_process: false,
            is_assign: true,
        };
        self.order(process, entry).await
    }

    /// The SU's time for `process`, once every message of it stamped before that time is
    /// durable (and so readable): a reader that then reads the schedule misses nothing
    /// stamped at or before the answer, and any later message is stamped after it.
    /// (The CU runs cron ticks up to this time; PROTOCOL.md §4 `GET /timestamp`.)
    pub async fn settled_time(&self, process: &Id) -> Result<u64, ApiError> {
        // The clock is read first. A message stamped after this read carries at least `now`,
        // so answering `now - 1` leaves out every message stamped at the same millisecond as
        // the answer (a reader could otherwise see a stamp at `now` whose commit had not yet
        // been queued). Every message stamped below `now` was stamped before the read, when
        // its slot already existed.
        let now = now_ms();
        // Without a slot nothing of this process is in flight (and none is made for it, so
        // asking about unknown ids costs no memory).
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(process)
            .cloned();
        if let Some(slot) = slot {
            // Entries are handed to the writer under this lock: once we hold it, every entry
            // stamped before `now` is queued ahead of the barrier below.
            drop(slot.state.lock().await);
        }
        // The writer answers in queue order after each commit: an empty change is a barrier.
        self.writer.submit(WriteOp::OutboxAck(Vec::new())).await?;
        Ok(now.saturating_sub(1))
    }

    fn slot(&self, process: &Id) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(*process)
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: tokio::sync::Mutex::new(SlotState::Unloaded),
                    lost: Arc::new(AtomicU64::new(0)),
                    pending: Mutex::new(Pending::default()),
                })
            })
            .clone()
    }

    /// Drops an Absent slot nobody else holds, so unknown ids do not fill memory.
    fn forget_absent(&self, process: &Id, slot: Arc<Slot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Clones are only made under this lock: two references are the map's and ours.
        if Arc::strong_count(&slot) == 2 {
            slots.remove(process);
        }
    }

    fn load(&self, process: &Id, slot: &Slot, state: &mut SlotState) -> Result<(), ApiError> {
        // Idempotent on purpose: a failed batch marks the slot once per request, and a mark
        // that arrives after a reload must not trigger a second reload (that one could read
        // the disk before an entry built on the first reload is committed, and reuse its nonce).
        let lost = slot.lost.load(Ordering::Acquire);
        let stale = match state {
            SlotState::Live { generation, .. } => *generation <= lost,
            SlotState::Unloaded => true,
            SlotState::Absent => false,
        };
        if stale {
            *state = match self.store.head(process)? {
                Some(head) => SlotState::Live {
                    head,
                    generation: self.generations.fetch_add(1, Ordering::Relaxed),
                },
                None => SlotState::Absent,
            };
        }
        Ok(())
    }

    async fn order(&self, process: Id, entry: NewEntry) -> Result<SuPosted, ApiError> {
        let slot = self.slot(&process);
        let mut state = slot.state.lock().await;
        if let Err(e) = self.load(&process, &slot, &mut state) {
            *state = SlotState::Unloaded;
            return Err(e);
        }
        let (head, generation) = match (&*state, entry.creates_process) {
            (SlotState::Live { .. }, true) => {
                self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                return Err(ApiError::Duplicate);
            }
            (SlotState::Absent, false) | (SlotState::Unloaded, _) => {
                drop(state);
                self.forget_absent(&process, slot);
                return Err(ApiError::ProcessNotFound(process));
            }
            (SlotState::Absent, true) => (None, self.generations.fetch_add(1, Ordering::Relaxed)),
            (SlotState::Live { head, generation }, false) => (Some(*head), *generation),
        };
        if let Err(e) = self.check_duplicate(&process, &slot, &entry) {
            if matches!(e, ApiError::Duplicate | ApiError::DuplicatePush(_)) {
                self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            return Err(e);
        }
        let permit = self.writer.try_reserve()?;

        let now = now_ms();
        let (nonce, timestamp, hash_chain) = match head {
            None => (0, now, hash_chain::first(&process)),
            Some(h) => (
                h.next_nonce,
                now.max(h.last_timestamp + 1),
                hash_chain::next(&h.last_assignment, &h.last_hash_chain),
            ),
        };
        let block_height = self.block_height();
        let assignment = Assignment {
            process,
            epoch: 0,
            nonce,
            hash_chain,
            block_height,
            timestamp,
            message: (!entry.creates_process).then_some(entry.id),
            exclude: entry.exclude,
        };
        let signed = assignment
            .sign(&self.signer, random_anchor()?)
            .map_err(|e| match e {
                BuildError::Tags(_) => ApiError::BadQuery {
                    name: "exclude",
                    why: "the Exclude tags exceed the ANS-104 tag limits",
                },
                _ => ApiError::Internal("cannot sign the assignment"),
            })?;
        let assignment_id = signed.id();
        let record = ScheduleRecord {
            timestamp,
            block_height,
            message: Some(entry.id.0),
            item: entry.item,
            assignment_id: assignment_id.0,
            hash_chain: hash_chain.0,
            assignment: signed.encode(),
        };
        let dedup = match record.item {
            HeldItem::Here(_) => entry.dedup,
            HeldItem::No | HeldItem::At(..) => None,
        };
        let ordered = Ordered::new(process, nonce, &record, dedup)?;
        let (reply, done) = oneshot::channel();
        permit.send(WriteRequest {
            op: WriteOp::Order(Box::new(ordered)),
            guard: Some(Guard {
                process,
                generation,
                lost: slot.lost.clone(),
            }),
            reply,
        });
        debug_assert!(head.is_none_or(|h| h.next_nonce == nonce));
        *state = SlotState::Live {
            head: Head {
                next_nonce: nonce + 1,
                last_assignment: assignment_id,
                last_hash_chain: hash_chain,
                last_timestamp: timestamp,
            },
            generation,
        };
        {
            let mut pending = slot.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.ids.insert(entry.id);
            if let Some(hash) = entry.dedup {
                pending.dedup.insert(hash);
            }
        }
        drop(state);

        let result = done.await;
        {
            let mut pending = slot.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.ids.remove(&entry.id);
            if let Some(hash) = &entry.dedup {
                pending.dedup.remove(hash);
            }
        }
        result.map_err(|_| WriteError::Closed)??;
        let id = if entry.is_assign {
            assignment_id
        } else {
            entry.id
        };
        Ok(SuPosted {
            timestamp,
            id: id.to_string(),
        })
    }

    /// Refuses an item already ordered or in flight (by id; pushed messages also by content).
    fn check_duplicate(&self, process: &Id, slot: &Slot, entry: &NewEntry) -> Result<(), ApiError> {
        {
            let pending = slot.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.ids.contains(&entry.id) {
                return Err(ApiError::Duplicate);
            }
            if let Some(hash) = &entry.dedup
                && pending.dedup.contains(hash)
            {
                return Err(ApiError::Duplicate);
            }
        }
        if entry.creates_process {
            return Ok(());
        }
        if entry.is_assign {
            if self.store.scheduled_nonce(&entry.id, process)?.is_some() {
                return Err(ApiError::Duplicate);
            }
            return Ok(());
        }
        match self.store.duplicate(&entry.id, entry.dedup.as_ref())? {
            None => Ok(()),
            Some(Duplicate::SameId) => Err(ApiError::Duplicate),
            Some(Duplicate::SamePush(first)) => Err(ApiError::DuplicatePush(first)),
        }
    }
}

fn check_size(what: &'static str, len: usize, max: usize) -> Result<(), ApiError> {
    if len > max {
        return Err(ApiError::TooLarge { what, len, max });
    }
    Ok(())
}

fn decode_verified(raw: &[u8]) -> Result<DataItem, ApiError> {
    let item = DataItem::decode(raw)?;
    item.verify()?;
    Ok(item)
}

#[cfg(test)]
#[path = "sequencer_tests.rs"]
mod tests;
