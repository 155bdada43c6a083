//! Loading a process into a worker: the Process JSON from the SU its `Scheduler` tag names
//! (`crate::locate`), its module from the gateway (`Module-Format: lua53`, parsed once and cached
//! by id), its limits, its crons, and the latest stored checkpoint to resume from. Must never:
//! evaluate a message, or accept a module, a scheduler or a cron it cannot vouch for.

use std::sync::Arc;

use ao_core::Id;

use super::evaluate::{CronState, Loaded, Position, Start};
use super::{LoadedModule, Shared, WorkerError};
use crate::cron::CronSchedule;
use crate::engine::{Checkpoint, Limits, Module, Process};
use crate::schedule::{self, ScheduleReader};

/// The only module format this CU runs (PROTOCOL.md §9).
pub const MODULE_FORMAT: &str = "lua53";

pub(super) async fn load(shared: &Arc<Shared>, process: Id) -> Result<Loaded, WorkerError> {
    let located = shared.clone();
    let (su, su_process) = shared
        .io(async move { located.locator.process(&process).await })
        .await?
        .ok_or(WorkerError::ProcessNotFound(process))?;
    let tag = |name: &'static str| {
        su_process
            .tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value.clone())
            .ok_or(WorkerError::TagMissing { process, tag: name })
    };
    let module_tag = tag("Module")?;
    let module = module(shared, &module_tag).await?;
    let limits = Limits::from_tags(pairs(&module.info.tags), pairs(&su_process.tags))
        .map_err(WorkerError::engine)?;
    let env = schedule::env(&su_process, &module.info);
    let origin_height = su_process
        .block
        .parse::<u64>()
        .map_err(|_| WorkerError::ProcessField {
            process,
            field: "block",
            value: su_process.block.clone(),
        })?;
    // An invalid Cron-Interval refuses the whole process (422 on every request), as the
    // reference CU does: evaluating it without its crons would give results no other CU gives.
    let crons = CronSchedule::from_tags(
        &su_process.tags,
        process.to_string(),
        schedule::process_owner(&su_process),
        su_process.timestamp,
        origin_height,
    )
    .map_err(|source| WorkerError::Cron { process, source })?;
    let mut stored = shared.store.checkpoint(&process)?;
    if crons.is_some() && stored.as_ref().is_some_and(|c| c.cron.is_none()) {
        // A checkpoint that does not say how far cron had run cannot be resumed without
        // repeating or skipping ticks: start over from the process message.
        tracing::warn!(%process, "checkpoint without a cron position ignored");
        stored = None;
    }
    let cron_position = stored.as_ref().and_then(|c| c.cron.clone());
    let cron = crons.map(|schedule| CronState {
        position: cron_position.unwrap_or_else(|| schedule.start()),
        schedule,
    });
    let (engine, reader, position) = match stored {
        Some(stored) => {
            let checkpoint = Checkpoint::from_bytes(stored.state);
            let engine = Process::restore(module.module.clone(), limits, &checkpoint)
                .map_err(WorkerError::engine)?;
            let reader = ScheduleReader::resume(
                process,
                stored.nonce,
                &Id(stored.assignment_id),
                &Id(stored.hash_chain),
                stored.timestamp,
            );
            let position = Position {
                nonce: stored.nonce,
                assignment_id: Id(stored.assignment_id),
                hash_chain: Id(stored.hash_chain),
                timestamp: stored.timestamp,
                block_height: stored.block_height,
            };
            (engine, reader, Some(position))
        }
        None => {
            let engine =
                Process::new(module.module.clone(), limits).map_err(WorkerError::engine)?;
            (engine, ScheduleReader::new(process), None)
        }
    };
    tracing::debug!(%process, from = ?position.as_ref().map(|p| p.nonce), "process loaded");
    Ok(Loaded::new(
        shared.clone(),
        su,
        process,
        module_tag,
        env,
        Start {
            engine,
            reader,
            position,
            cron,
        },
    ))
}

/// The module from the cache, or fetched from the gateway, checked and parsed.
async fn module(shared: &Shared, id_text: &str) -> Result<Arc<LoadedModule>, WorkerError> {
    let id = Id::parse(id_text, "Module").map_err(|_| WorkerError::BadId {
        what: "Module tag",
        value: id_text.to_owned(),
    })?;
    if let Some(found) = shared.modules.lock().expect("module cache").get(&id) {
        return Ok(found.clone());
    }
    let gateway = shared.gateway.clone();
    let info = shared
        .io(async move { gateway.module_info(&id).await })
        .await?
        .ok_or_else(|| WorkerError::ModuleNotFound(id_text.to_owned()))?;
    let format = info
        .tags
        .iter()
        .find(|t| t.name == "Module-Format")
        .map(|t| t.value.as_str())
        .unwrap_or("");
    if format != MODULE_FORMAT {
        return Err(WorkerError::ModuleFormat {
            module: id_text.to_owned(),
            found: format.to_owned(),
        });
    }
    let gateway = shared.gateway.clone();
    let data = shared.io(async move { gateway.data(&id).await }).await?;
    let module = Module::parse(&data).map_err(WorkerError::engine)?;
    let loaded = Arc::new(LoadedModule {
        info,
        module: Arc::new(module),
    });
    shared
        .modules
        .lock()
        .expect("module cache")
        .insert(id, loaded.clone());
    Ok(loaded)
}

fn pairs(tags: &[ao_core::Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|t| (t.name.as_str(), t.value.as_str()))
}
