//! A loaded process inside its worker: reads the schedule from the SU page by page, checks
//! each entry with the `ScheduleReader`, evaluates it, and commits the results (and a
//! checkpoint every `checkpoint_every` messages) one page per transaction; serves dry runs and
//! state snapshots. Must never: evaluate out of nonce order, keep going after a gap, a broken
//! chain or an engine failure (the process stops), or persist anything for a dry run.

use std::sync::Arc;

use ao_core::Id;
use ao_core::wire::{DryRunRequest, SuPage};
use serde_json::{Map, Value as Json, json};

use super::{Request, Shared, StateSnapshot, WorkerError};
use crate::engine::{Evaluation, Process};
use crate::metrics::Metrics;
use crate::schedule::ScheduleReader;
use crate::store::{Batch, Evaluated, StoredCheckpoint};
use crate::su_client::nonce_of;

/// Where the process stands: the last evaluated message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Position {
    pub nonce: u64,
    pub assignment_id: Id,
    pub hash_chain: Id,
    pub timestamp: u64,
    pub block_height: u64,
}

pub(super) struct Loaded {
    shared: Arc<Shared>,
    process: Id,
    /// The process's `Module` tag, given to the first message.
    module_id: String,
    env: Json,
    engine: Process,
    reader: ScheduleReader,
    position: Option<Position>,
    /// The nonce of the stored checkpoint.
    checkpointed: Option<u64>,
    next_checkpoint_at: u64,
    stopped: Option<Arc<WorkerError>>,
}

impl Loaded {
    pub(super) fn new(
        shared: Arc<Shared>,
        process: Id,
        module_id: String,
        env: Json,
        engine: Process,
        reader: ScheduleReader,
        position: Option<Position>,
    ) -> Loaded {
        let checkpointed = position.map(|p| p.nonce);
        let next_checkpoint_at = checkpointed.unwrap_or(0) + shared.config.checkpoint_every;
        Loaded {
            shared,
            process,
            module_id,
            env,
            engine,
            reader,
            position,
            checkpointed,
            next_checkpoint_at,
            stopped: None,
        }
    }

    pub(super) fn serve(&mut self, request: Request) {
        // A requester that gave up has dropped its receiver: the work is kept all the same.
        match request {
            Request::Evaluate { to, reply } => drop(reply.send(self.evaluate_to(to))),
            Request::DryRun { body, reply } => {
                let answer = self
                    .evaluate_to(None)
                    .and_then(|_| self.dry_run(&body).map_err(Arc::new));
                drop(reply.send(answer));
            }
            Request::State { to, reply } => {
                let answer = self
                    .evaluate_to(to)
                    .and_then(|_| self.snapshot(to).map_err(Arc::new));
                drop(reply.send(answer));
            }
        }
    }

    /// Evaluates up to nonce `to` (the SU's latest when `None`); the highest evaluated nonce.
    fn evaluate_to(&mut self, to: Option<u64>) -> Result<Option<u64>, Arc<WorkerError>> {
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        let outcome = match to {
            Some(target) => self.advance(target),
            None => self.latest_nonce().and_then(|target| self.advance(target)),
        };
        match outcome {
            Ok(()) => Ok(self.position.map(|p| p.nonce)),
            // The SU being away or behind is worth retrying; anything else stops the process.
            Err(e @ (WorkerError::Upstream(_) | WorkerError::ScheduleShort { .. })) => {
                Err(Arc::new(e))
            }
            Err(cause) => {
                let nonce = self.reader.next_nonce();
                tracing::warn!(process = %self.process, nonce, error = %cause, "process stopped");
                Metrics::add(&self.shared.metrics.processes_stopped, 1);
                let stopped = Arc::new(WorkerError::Stopped {
                    process: self.process,
                    nonce,
                    cause: Arc::new(cause),
                });
                self.stopped = Some(stopped.clone());
                Err(stopped)
            }
        }
    }

    fn latest_nonce(&self) -> Result<u64, WorkerError> {
        let shared = &self.shared;
        let latest = shared
            .runtime
            .block_on(shared.su.latest(&self.process))?
            .ok_or(WorkerError::ProcessNotFound(self.process))?;
        nonce_of(&latest).ok_or(WorkerError::ScheduleShort {
            wanted: 0,
            found: None,
        })
    }

    fn advance(&mut self, target: u64) -> Result<(), WorkerError> {
        while self.reader.next_nonce() <= target {
            let from = self.reader.next_nonce();
            let limit = (target - from + 1).min(self.shared.config.schedule_page as u64) as usize;
            let shared = self.shared.clone();
            let page =
                shared
                    .runtime
                    .block_on(shared.su.page(&self.process, from, target, limit))?;
            if page.edges.is_empty() {
                return Err(WorkerError::ScheduleShort {
                    wanted: target,
                    found: from.checked_sub(1),
                });
            }
            let mut batch = Batch {
                process: self.process,
                evaluated: Vec::with_capacity(page.edges.len()),
                checkpoint: None,
            };
            let outcome = self.evaluate_page(&page, target, &mut batch);
            // What was evaluated is committed even when a later entry failed: the state in
            // memory already includes it.
            self.commit(&batch)?;
            outcome?;
        }
        Ok(())
    }

    fn evaluate_page(
        &mut self,
        page: &SuPage,
        target: u64,
        batch: &mut Batch,
    ) -> Result<(), WorkerError> {
        for edge in &page.edges {
            if self.reader.next_nonce() > target {
                break;
            }
            let scheduled = self.reader.next(&edge.node, &self.module_id)?;
            let message_id =
                Id::parse(&scheduled.message_id, "message id").map_err(|_| WorkerError::BadId {
                    what: "scheduled message id",
                    value: scheduled.message_id.clone(),
                })?;
            let evaluation = self
                .engine
                .handle(&scheduled.msg, &self.env)
                .map_err(WorkerError::engine)?;
            Metrics::add(&self.shared.metrics.messages_evaluated, 1);
            if evaluation.failure.is_some() {
                Metrics::add(&self.shared.metrics.message_errors, 1);
            }
            let result = result_object(evaluation);
            batch.evaluated.push(Evaluated {
                nonce: scheduled.nonce,
                message_id,
                result: serde_json::to_vec(&result).expect("JSON values serialize"),
            });
            self.position = Some(Position {
                nonce: scheduled.nonce,
                assignment_id: scheduled.assignment_id,
                hash_chain: scheduled.hash_chain,
                timestamp: scheduled.timestamp,
                block_height: scheduled.block_height,
            });
            if scheduled.nonce >= self.next_checkpoint_at
                && let Some(checkpoint) = self.take_checkpoint()?
            {
                batch.checkpoint = Some(checkpoint);
            }
        }
        Ok(())
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), WorkerError> {
        if batch.evaluated.is_empty() && batch.checkpoint.is_none() {
            return Ok(());
        }
        self.shared.store.commit(batch)?;
        if let Some(checkpoint) = &batch.checkpoint {
            self.checkpointed = Some(checkpoint.nonce);
            Metrics::add(&self.shared.metrics.checkpoints_saved, 1);
        }
        Ok(())
    }

    /// A checkpoint of the current state, or `None` if the state cannot give one now (a
    /// suspended coroutine): the older stored checkpoint stays, and the next try waits for
    /// another `checkpoint_every` messages.
    fn take_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, WorkerError> {
        let Some(position) = self.position else {
            return Ok(None);
        };
        self.next_checkpoint_at = position.nonce + self.shared.config.checkpoint_every;
        match self.engine.checkpoint() {
            Ok(checkpoint) => Ok(Some(StoredCheckpoint {
                nonce: position.nonce,
                assignment_id: position.assignment_id.0,
                hash_chain: position.hash_chain.0,
                timestamp: position.timestamp,
                block_height: position.block_height,
                state: checkpoint.bytes,
            })),
            Err(crate::engine::Error::Unserializable { path, what }) => {
                tracing::debug!(process = %self.process, %path, what, "checkpoint refused");
                Metrics::add(&self.shared.metrics.checkpoints_refused, 1);
                Ok(None)
            }
            Err(e) => Err(WorkerError::engine(e)),
        }
    }

    /// Stores a checkpoint of the current state if it is newer than the stored one (when the
    /// worker unloads the process), so the next load starts here.
    pub(super) fn save_checkpoint(&mut self) {
        let newer = match (self.position, self.checkpointed) {
            (Some(p), Some(c)) => p.nonce > c,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if self.stopped.is_some() || !newer {
            return;
        }
        let saved = self.take_checkpoint().and_then(|checkpoint| {
            self.commit(&Batch {
                process: self.process,
                evaluated: Vec::new(),
                checkpoint,
            })
        });
        if let Err(e) = saved {
            tracing::warn!(process = %self.process, error = %e, "checkpoint not saved");
        }
    }

    fn dry_run(&mut self, body: &DryRunRequest) -> Result<Json, WorkerError> {
        let msg = dry_run_msg(body, &self.process, self.position.as_ref());
        let evaluation = self
            .engine
            .dry_run(&msg, &self.env)
            .map_err(WorkerError::engine)?;
        Metrics::add(&self.shared.metrics.dry_runs, 1);
        Ok(result_object(evaluation))
    }

    fn snapshot(&mut self, to: Option<u64>) -> Result<StateSnapshot, WorkerError> {
        let Some(position) = self.position else {
            return Err(WorkerError::ScheduleShort {
                wanted: to.unwrap_or(0),
                found: None,
            });
        };
        if let Some(to) = to
            && to < position.nonce
        {
            return Err(WorkerError::StateGone {
                wanted: to,
                have: position.nonce,
            });
        }
        let checkpoint = self.engine.checkpoint().map_err(WorkerError::engine)?;
        Ok(StateSnapshot {
            nonce: position.nonce,
            hash: checkpoint.hash,
            bytes: checkpoint.bytes,
        })
    }
}

/// The result object of PROTOCOL.md §6: what `handle` returned, with `Messages`, `Spawns`,
/// `Assignments` always arrays, `Output` always present, and `GasUsed`.
fn result_object(evaluation: Evaluation) -> Json {
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
fn dry_run_msg(body: &DryRunRequest, process: &Id, position: Option<&Position>) -> Json {
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
    if let Some(p) = position {
        msg.insert("Timestamp".into(), json!(p.timestamp));
        msg.insert("Block-Height".into(), json!(p.block_height));
    }
    Json::Object(msg)
}
