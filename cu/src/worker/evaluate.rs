//! A loaded process inside its worker: reads the schedule from the SU page by page, checks
//! each entry with the `ScheduleReader`, evaluates the cron ticks due before it and then the
//! entry, and commits the results (and a checkpoint every `checkpoint_every` evaluations) one
//! page per transaction; catches up on cron ticks after the last scheduled message up to the
//! time the SU vouches for; serves dry runs and state snapshots. Must never: evaluate out of
//! nonce order or out of the cron order of `crate::cron`, keep going after a gap, a broken
//! chain or an engine failure (the process stops), read the CU's own clock, or persist
//! anything for a dry run.

use std::sync::Arc;

use ao_core::Id;
use ao_core::wire::{DryRunRequest, SuPage};
use serde_json::Value as Json;

use super::result::{dry_run_msg, result_object};
use super::{Request, Shared, StateSnapshot, WorkerError};
use crate::cron::{CronPosition, CronSchedule, Due};
use crate::engine::Process;
use crate::metrics::Metrics;
use crate::schedule::ScheduleReader;
use crate::store::{Batch, CronEvaluated, Evaluated, StoredCheckpoint};
use crate::su_client::{SuClient, SuNow};

/// How far a request needs the process evaluated.
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// Through this nonce and no further (a state at that nonce is wanted).
    Exactly(u64),
    /// Through this nonce, and whatever else the same pages hold.
    AtLeast(u64),
    /// Everything the SU has scheduled; with `catch_up`, cron ticks up to the SU's clock.
    Now { catch_up: bool },
    /// One page of what the SU has newly scheduled, if any.
    OnePage,
}

/// Where the process stands: the last evaluated message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Position {
    pub nonce: u64,
    pub assignment_id: Id,
    pub hash_chain: Id,
    pub timestamp: u64,
    pub block_height: u64,
}

/// A process's crons and how far they have run.
#[derive(Debug, Clone)]
pub(super) struct CronState {
    pub schedule: CronSchedule,
    pub position: CronPosition,
}

/// Where a loaded process starts: its state, and where in the schedule and the crons that
/// state stands.
pub(super) struct Start {
    pub engine: Process,
    pub reader: ScheduleReader,
    pub position: Option<Position>,
    pub cron: Option<CronState>,
}

pub(super) struct Loaded {
    shared: Arc<Shared>,
    /// The SU that schedules the process.
    su: SuClient,
    process: Id,
    /// The process's `Module` tag, given to the first message.
    module_id: String,
    env: Json,
    engine: Process,
    reader: ScheduleReader,
    position: Option<Position>,
    cron: Option<CronState>,
    /// Messages (scheduled and cron) evaluated since the stored checkpoint.
    since_checkpoint: u64,
    /// When `since_checkpoint` reaches this, a checkpoint is taken.
    checkpoint_at: u64,
    stopped: Option<Arc<WorkerError>>,
}

impl Loaded {
    pub(super) fn new(
        shared: Arc<Shared>,
        su: SuClient,
        process: Id,
        module_id: String,
        env: Json,
        start: Start,
    ) -> Loaded {
        let Start {
            engine,
            reader,
            position,
            cron,
        } = start;
        let checkpoint_at = shared.config.checkpoint_every;
        Loaded {
            shared,
            su,
            process,
            module_id,
            env,
            engine,
            reader,
            position,
            cron,
            since_checkpoint: 0,
            checkpoint_at,
            stopped: None,
        }
    }

    /// Bytes the process's Lua state uses now.
    pub(super) fn used_memory(&self) -> usize {
        self.engine.used_memory()
    }

    /// A full collection, once the process is idle. Not observable by the process beyond
    /// weak tables (see the sandbox's known limits), so a failure is only logged.
    pub(super) fn collect_garbage(&mut self) {
        if let Err(e) = self.engine.collect_garbage() {
            tracing::warn!(process = %self.process, error = %e, "garbage collection failed");
        }
    }

    pub(super) async fn serve(&mut self, request: Request) {
        // A requester that gave up has dropped its receiver: the work is kept all the same.
        match request {
            Request::Evaluate { to, reply } => {
                let goal = to.map_or(Goal::Now { catch_up: false }, Goal::AtLeast);
                drop(reply.send(self.evaluate(goal).await));
            }
            Request::Reach { message, reply } => drop(reply.send(self.reach(&message).await)),
            Request::Cron { reply } => {
                let answer = self
                    .evaluate(Goal::Now { catch_up: true })
                    .await
                    .map(|_| self.cron.as_ref().map_or(0, |c| c.position.seq));
                drop(reply.send(answer));
            }
            Request::DryRun { body, reply } => {
                let answer = self
                    .evaluate(Goal::Now { catch_up: true })
                    .await
                    .and_then(|_| self.dry_run(&body).map_err(Arc::new));
                drop(reply.send(answer));
            }
            Request::State { to, reply } => {
                let goal = to.map_or(Goal::Now { catch_up: true }, Goal::Exactly);
                let answer = self
                    .evaluate(goal)
                    .await
                    .and_then(|_| self.snapshot(to).map_err(Arc::new));
                drop(reply.send(answer));
            }
        }
    }

    /// The nonce of `message` once evaluated: from the store, or after evaluating one page of
    /// what the SU has newly scheduled (under load that page holds this message and the ones
    /// queued behind it, which then find theirs in the store). `None`: not in that page.
    async fn reach(&mut self, message: &Id) -> Result<Option<u64>, Arc<WorkerError>> {
        let stored = |shared: &Shared, process: &Id| {
            shared
                .store
                .message_nonce(message, process)
                .map_err(|e| Arc::new(WorkerError::from(e)))
        };
        if let Some(nonce) = stored(&self.shared, &self.process)? {
            return Ok(Some(nonce));
        }
        self.evaluate(Goal::OnePage).await?;
        stored(&self.shared, &self.process)
    }

    /// Evaluates towards `goal`; the highest evaluated nonce. An error other than the SU being
    /// away or behind stops the process for good.
    async fn evaluate(&mut self, goal: Goal) -> Result<Option<u64>, Arc<WorkerError>> {
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        let outcome = match goal {
            Goal::Exactly(target) => self.advance(target).await,
            Goal::AtLeast(target) => self.advance_past(target).await,
            Goal::Now { catch_up } => self.advance_to_now(catch_up).await,
            Goal::OnePage => self.advance_page().await.map(|_| ()),
        };
        match outcome {
            Ok(()) => Ok(self.position.map(|p| p.nonce)),
            // The SU being away or behind is worth retrying; anything else stops the process.
            Err(
                e @ (WorkerError::Upstream(_)
                | WorkerError::ScheduleShort { .. }
                | WorkerError::ShuttingDown),
            ) => Err(Arc::new(e)),
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

    /// Evaluates to the SU's latest message and, with `catch_up` and crons, the ticks after it.
    async fn advance_to_now(&mut self, catch_up: bool) -> Result<(), WorkerError> {
        // The SU's clock is read before its schedule: every message it orders afterwards has a
        // timestamp at or after it, so no tick up to it can belong before a message not yet read.
        let now = match &self.cron {
            Some(_) if catch_up => {
                let (su, process) = (self.su.clone(), self.process);
                Some(
                    self.shared
                        .io(async move { su.timestamp(&process).await })
                        .await?,
                )
            }
            _ => None,
        };
        while self.advance_page().await? {}
        match now {
            Some(now) => self.catch_up(now),
            None => Ok(()),
        }
    }

    /// Evaluates through nonce `target` and on to the end of the page that holds it: messages
    /// scheduled in a burst are read, evaluated and committed together.
    async fn advance_past(&mut self, target: u64) -> Result<(), WorkerError> {
        while self.reader.next_nonce() <= target {
            if !self.advance_page().await? && self.reader.next_nonce() <= target {
                return Err(WorkerError::ScheduleShort {
                    wanted: target,
                    found: self.reader.next_nonce().checked_sub(1),
                });
            }
        }
        Ok(())
    }

    /// Evaluates the next page of the schedule (up to `schedule_page` entries); true when the
    /// page was full, so more may be waiting.
    async fn advance_page(&mut self) -> Result<bool, WorkerError> {
        let page = self.shared.config.schedule_page.max(1);
        let to = self.reader.next_nonce().saturating_add(page as u64 - 1);
        Ok(self.next_page(to).await? >= page)
    }

    /// Evaluates exactly up to nonce `target` (a state at that nonce is wanted).
    async fn advance(&mut self, target: u64) -> Result<(), WorkerError> {
        while self.reader.next_nonce() <= target {
            let from = self.reader.next_nonce();
            if self.next_page(target).await? == 0 {
                return Err(WorkerError::ScheduleShort {
                    wanted: target,
                    found: from.checked_sub(1),
                });
            }
        }
        Ok(())
    }

    /// Reads the schedule from the next nonce up to `to` (one page at most), evaluates it and
    /// commits it; how many entries the page held.
    async fn next_page(&mut self, to: u64) -> Result<usize, WorkerError> {
        let from = self.reader.next_nonce();
        let limit = (to - from + 1).min(self.shared.config.schedule_page.max(1) as u64) as usize;
        let (su, process) = (self.su.clone(), self.process);
        let page = self
            .shared
            .io(async move { su.page(&process, from, to, limit).await })
            .await?;
        if page.edges.is_empty() {
            return Ok(0);
        }
        let mut batch = Batch::new(self.process);
        let outcome = self.evaluate_page(&page, to, &mut batch);
        // What was evaluated is committed even when a later entry failed: the state in memory
        // already includes it.
        self.commit(&batch)?;
        outcome?;
        // The other processes on this thread get their turn between pages.
        tokio::task::yield_now().await;
        Ok(page.edges.len())
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
            if let Some(cron) = &self.cron {
                let (schedule, position) = (&cron.schedule, &cron.position);
                if schedule.overtaken(position, scheduled.timestamp, scheduled.block_height) {
                    return Err(WorkerError::CronOvertaken {
                        nonce: scheduled.nonce,
                        timestamp: scheduled.timestamp,
                        block_height: scheduled.block_height,
                    });
                }
                let due = Due {
                    time: scheduled.timestamp,
                    height: Some(scheduled.block_height),
                };
                self.run_crons(due, u64::MAX, batch)?;
            }
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
            if let Some(cron) = &mut self.cron {
                cron.position
                    .passed(scheduled.timestamp, scheduled.block_height);
            }
            self.evaluated_one(batch)?;
        }
        Ok(())
    }

    /// Evaluates up to `max` cron ticks that are `due`, in order, into `batch` (committing it
    /// whenever it holds a page of them, so a long gap does not pile up in memory).
    fn run_crons(&mut self, due: Due, max: u64, batch: &mut Batch) -> Result<(), WorkerError> {
        let page = self.shared.config.schedule_page.max(1);
        for _ in 0..max {
            let Some(cron) = &self.cron else {
                return Ok(());
            };
            let Some(tick) = cron.schedule.next_due(&cron.position, due) else {
                return Ok(());
            };
            let msg = cron.schedule.message(tick, &cron.position);
            let seq = cron.position.seq;
            let timestamp = msg["Timestamp"].as_u64().unwrap_or_default();
            let evaluation = self
                .engine
                .handle(&msg, &self.env)
                .map_err(WorkerError::engine)?;
            Metrics::add(&self.shared.metrics.cron_evaluated, 1);
            if evaluation.failure.is_some() {
                Metrics::add(&self.shared.metrics.message_errors, 1);
            }
            let result = result_object(evaluation);
            batch.crons.push(CronEvaluated {
                seq,
                timestamp,
                result: serde_json::to_vec(&result).expect("JSON values serialize"),
            });
            if let Some(cron) = &mut self.cron {
                let schedule = &cron.schedule;
                schedule.advance(&mut cron.position, tick);
            }
            self.evaluated_one(batch)?;
            if batch.crons.len() >= page {
                self.commit(batch)?;
                *batch = Batch::new(self.process);
            }
        }
        Ok(())
    }

    /// Cron ticks after the last scheduled message, up to the SU's clock less the settle time
    /// (block ticks only for a process without time crons), at most `cron_catch_up_max`.
    fn catch_up(&mut self, now: SuNow) -> Result<(), WorkerError> {
        let (Some(cron), Some(_)) = (&self.cron, self.position) else {
            return Ok(());
        };
        let settle = self.shared.config.cron_settle.as_millis() as u64;
        let due = cron
            .schedule
            .catch_up_to(now.timestamp.saturating_sub(settle), now.block_height);
        let mut batch = Batch::new(self.process);
        let outcome = self.run_crons(due, self.shared.config.cron_catch_up_max, &mut batch);
        self.commit(&batch)?;
        outcome
    }

    /// Counts an evaluation towards the next checkpoint, and takes it into `batch` when due.
    fn evaluated_one(&mut self, batch: &mut Batch) -> Result<(), WorkerError> {
        self.since_checkpoint += 1;
        if self.since_checkpoint >= self.checkpoint_at
            && let Some(checkpoint) = self.take_checkpoint()?
        {
            batch.checkpoint = Some(checkpoint);
        }
        Ok(())
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), WorkerError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.shared.store.commit(batch)?;
        if batch.checkpoint.is_some() {
            Metrics::add(&self.shared.metrics.checkpoints_saved, 1);
        }
        Ok(())
    }

    /// A checkpoint of the current state, or `None` if the state cannot give one now (a
    /// suspended coroutine): the older stored checkpoint stays, and the next try waits for
    /// another `checkpoint_every` evaluations.
    fn take_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, WorkerError> {
        let Some(position) = self.position else {
            return Ok(None);
        };
        let every = self.shared.config.checkpoint_every;
        match self.engine.checkpoint() {
            Ok(checkpoint) => {
                // Counted from here: the batch carrying it is committed before anything newer.
                self.since_checkpoint = 0;
                self.checkpoint_at = every;
                Ok(Some(StoredCheckpoint {
                    nonce: position.nonce,
                    assignment_id: position.assignment_id.0,
                    hash_chain: position.hash_chain.0,
                    timestamp: position.timestamp,
                    block_height: position.block_height,
                    state: checkpoint.bytes,
                    cron: self.cron.as_ref().map(|c| c.position.clone()),
                }))
            }
            Err(crate::engine::Error::Unserializable { path, what }) => {
                self.checkpoint_at = self.since_checkpoint + every;
                tracing::debug!(process = %self.process, %path, what, "checkpoint refused");
                Metrics::add(&self.shared.metrics.checkpoints_refused, 1);
                Ok(None)
            }
            Err(e) => Err(WorkerError::engine(e)),
        }
    }

    /// Stores a checkpoint of the current state if anything was evaluated since the stored one
    /// (when the worker unloads the process), so the next load starts here.
    pub(super) fn save_checkpoint(&mut self) {
        if self.stopped.is_some() || self.since_checkpoint == 0 {
            return;
        }
        let saved = self.take_checkpoint().and_then(|checkpoint| {
            let mut batch = Batch::new(self.process);
            batch.checkpoint = checkpoint;
            self.commit(&batch)
        });
        if let Err(e) = saved {
            tracing::warn!(process = %self.process, error = %e, "checkpoint not saved");
        }
    }

    fn dry_run(&mut self, body: &DryRunRequest) -> Result<Json, WorkerError> {
        let msg = dry_run_msg(body, &self.process, self.clock());
        let evaluation = self
            .engine
            .dry_run(&msg, &self.env)
            .map_err(WorkerError::engine)?;
        Metrics::add(&self.shared.metrics.dry_runs, 1);
        Ok(result_object(evaluation))
    }

    /// `Timestamp` and `Block-Height` of the last evaluated message, scheduled or cron.
    fn clock(&self) -> Option<(u64, u64)> {
        let position = self.position?;
        Some(match &self.cron {
            Some(cron) => (cron.position.timestamp, cron.position.block_height),
            None => (position.timestamp, position.block_height),
        })
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
