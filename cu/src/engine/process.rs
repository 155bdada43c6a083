//! A process: one Lua state evaluating messages in order, with atomic messages. Owns: calling
//! `handle`, classifying failures, rollback, and when to checkpoint. Must never: let a failed
//! message change the state, or give the Lua state a second owner.
//!
//! Rollback (atomic messages) is by rebuild and replay. The process keeps a base (the last
//! checkpoint, or the module start) and the messages evaluated successfully since. When a
//! message fails, the state is thrown away, a fresh one is restored from the base, and the
//! messages since are evaluated again, which gives the same state because evaluation is
//! deterministic. A checkpoint is taken every [`CHECKPOINT_INTERVAL_DEFAULT`] successful
//! messages and right after a rollback, so a failure costs one restore plus at most that many
//! replayed messages, and a run of failures costs one restore each. Successful messages cost a
//! clone of `msg` and `env` and an amortized 1/interval of a checkpoint. If the state cannot be
//! checkpointed (a suspended coroutine, userdata), the base stays where it was and the list
//! grows until a checkpoint succeeds: replay then starts further back (from the module start
//! if no checkpoint ever succeeded).

use std::rc::Rc;
use std::sync::Arc;

use mlua::{Function, Value};
use serde_json::Value as Json;

use super::checkpoint::{self, Checkpoint};
use super::convert::{json_to_lua, lua_to_json};
use super::error::{Error, Failure};
use super::limits::Limits;
use super::module::Module;
use super::restore;
use super::sandbox::State;

/// The native stack a thread calling [`Process::handle`] needs. Lua nests up to 200 C calls
/// (`LUAI_MAXCCALLS`, "C stack overflow" beyond), and some of them keep 8 KiB buffers on the
/// stack (`string.gsub`), which overflows the 2 MiB of a default Rust thread; 3 MiB was
/// measured enough in a debug build. Run processes on threads built with at least this much.
pub const STACK_BYTES_MIN: usize = 8 << 20;

/// Successful messages between two automatic checkpoints (the bound on replay after a failure).
pub const CHECKPOINT_INTERVAL_DEFAULT: usize = 256;

/// The outcome of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The result object: what `handle` returned, or `{"Error": "…"}` when the host caught an
    /// error. Carries `Error` whenever `failure` is set.
    pub result: Json,
    /// Why the message failed; the state is as before the message.
    pub failure: Option<Failure>,
    /// VM instructions the message ran, in steps of [`Limits::INSTRUCTION_STEP`].
    pub instructions: u64,
}

/// One AO process's Lua state and its history since the last checkpoint.
pub struct Process {
    module: Arc<Module>,
    limits: Limits,
    state: State,
    base: Option<Checkpoint>,
    /// The messages since `base` with their `env`; a process's `env` rarely changes, so
    /// consecutive equal ones share one copy.
    since: Vec<(Json, Rc<Json>)>,
    checkpoint_interval: usize,
    next_checkpoint_at: usize,
}

impl Process {
    /// A process at the module start: a fresh sandboxed state; the module runs on the first
    /// message.
    pub fn new(module: Arc<Module>, limits: Limits) -> Result<Process, Error> {
        let state = State::new(&module, limits)?;
        Ok(Process::with_state(module, limits, state, None))
    }

    /// A process continuing from a checkpoint of the same module (see `restore.rs` on trust).
    pub fn restore(
        module: Arc<Module>,
        limits: Limits,
        checkpoint: &Checkpoint,
    ) -> Result<Process, Error> {
        let state = restored_state(&module, limits, Some(checkpoint))?;
        Ok(Process::with_state(
            module,
            limits,
            state,
            Some(checkpoint.clone()),
        ))
    }

    fn with_state(
        module: Arc<Module>,
        limits: Limits,
        state: State,
        base: Option<Checkpoint>,
    ) -> Process {
        Process {
            module,
            limits,
            state,
            base,
            since: Vec::new(),
            checkpoint_interval: CHECKPOINT_INTERVAL_DEFAULT,
            next_checkpoint_at: CHECKPOINT_INTERVAL_DEFAULT,
        }
    }

    /// Evaluates one message: `require(main).handle(msg, env)`. A failed message is an `Ok`
    /// evaluation with `failure` set, and the state is rolled back; `Err` means the engine
    /// itself failed (the process should be stopped and reloaded). Call it on a thread with
    /// at least [`STACK_BYTES_MIN`] of stack.
    pub fn handle(&mut self, msg: &Json, env: &Json) -> Result<Evaluation, Error> {
        let evaluation = evaluate(&self.state, self.module.main(), self.limits, msg, env);
        if evaluation.failure.is_some() {
            self.roll_back()?;
            return Ok(evaluation);
        }
        let env = match self.since.last() {
            Some((_, last)) if **last == *env => last.clone(),
            _ => Rc::new(env.clone()),
        };
        self.since.push((msg.clone(), env));
        if self.since.len() >= self.next_checkpoint_at {
            self.try_checkpoint()?;
        }
        Ok(evaluation)
    }

    /// Evaluates `msg` on the current state and then discards every effect, successful or not
    /// (a dry run): the state afterwards is exactly the state before. The state is checkpointed
    /// first when that is possible, so throwing the effects away costs one restore and no
    /// replay. Call it on a thread with at least [`STACK_BYTES_MIN`] of stack.
    pub fn dry_run(&mut self, msg: &Json, env: &Json) -> Result<Evaluation, Error> {
        if !self.since.is_empty() {
            self.try_checkpoint()?;
        }
        let evaluation = evaluate(&self.state, self.module.main(), self.limits, msg, env);
        self.roll_back()?;
        Ok(evaluation)
    }

    /// The current state as canonical bytes and their SHA-256. Also becomes the rollback base.
    pub fn checkpoint(&mut self) -> Result<Checkpoint, Error> {
        self.state.lift_memory_limit()?;
        let written = checkpoint::write(&self.state);
        self.state.set_memory_limit(self.limits)?;
        let checkpoint = written?;
        self.base = Some(checkpoint.clone());
        self.since.clear();
        self.next_checkpoint_at = self.checkpoint_interval;
        Ok(checkpoint)
    }

    /// Sets how many successful messages pass between automatic checkpoints (at least 1).
    pub fn set_checkpoint_interval(&mut self, messages: usize) {
        self.checkpoint_interval = messages.max(1);
        self.next_checkpoint_at = self.since.len().saturating_add(self.checkpoint_interval);
    }

    /// Runs a full garbage collection (what an idle process keeps is then only its live
    /// state). Not observable by the process beyond what `collectgarbage("collect")` is.
    pub fn collect_garbage(&self) -> Result<(), Error> {
        Ok(self.state.lua.gc_collect()?)
    }

    /// Bytes the Lua state uses now.
    pub fn used_memory(&self) -> usize {
        self.state.lua.used_memory()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Messages a rollback would replay now.
    pub fn messages_since_checkpoint(&self) -> usize {
        self.since.len()
    }

    fn try_checkpoint(&mut self) -> Result<(), Error> {
        match self.checkpoint() {
            Ok(_) => Ok(()),
            Err(Error::Unserializable { .. }) => {
                self.next_checkpoint_at = self.since.len().saturating_add(self.checkpoint_interval);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn roll_back(&mut self) -> Result<(), Error> {
        let state = restored_state(&self.module, self.limits, self.base.as_ref())?;
        for (index, (msg, env)) in self.since.iter().enumerate() {
            let replayed = evaluate(&state, self.module.main(), self.limits, msg, env);
            if replayed.failure.is_some() {
                return Err(Error::ReplayDiverged { index });
            }
        }
        self.state = state;
        if !self.since.is_empty() {
            self.try_checkpoint()?;
        }
        Ok(())
    }
}

fn restored_state(
    module: &Arc<Module>,
    limits: Limits,
    base: Option<&Checkpoint>,
) -> Result<State, Error> {
    let state = State::new(module, limits)?;
    if let Some(checkpoint) = base {
        state.lift_memory_limit()?;
        restore::read(&state, &checkpoint.bytes)?;
        state.lua.gc_collect()?;
        state.set_memory_limit(limits)?;
    }
    Ok(state)
}

fn evaluate(state: &State, main: &str, limits: Limits, msg: &Json, env: &Json) -> Evaluation {
    state
        .timestamp
        .set(msg.get("Timestamp").and_then(Json::as_i64));
    state.budget.used.set(0);
    state.budget.max.set(limits.instructions_max);
    state.budget.exceeded.set(false);
    if let Err(e) = state.arm_budget() {
        let failure = Failure::Lua(format!("cannot install the instruction hook: {e}"));
        return Evaluation {
            result: serde_json::json!({ "Error": failure.to_string() }),
            failure: Some(failure),
            instructions: 0,
        };
    }
    let outcome = call_handle(state, main, msg, env);
    let instructions = state.budget.used.get();
    let failure = if state.budget.exceeded.get() {
        Err(Failure::ComputeLimit {
            limit: limits.instructions_max,
        })
    } else {
        outcome
            .map_err(|e| classify(&e, limits))
            .and_then(|value| result_json(&value))
    };
    match failure {
        Ok(result) => {
            let failure = match result.get("Error") {
                None | Some(Json::Null) => None,
                Some(Json::String(s)) => Some(Failure::ModuleError(s.clone())),
                Some(other) => Some(Failure::ModuleError(other.to_string())),
            };
            Evaluation {
                result,
                failure,
                instructions,
            }
        }
        Err(failure) => Evaluation {
            result: serde_json::json!({ "Error": failure.to_string() }),
            failure: Some(failure),
            instructions,
        },
    }
}

fn call_handle(state: &State, main: &str, msg: &Json, env: &Json) -> mlua::Result<Value> {
    let module: Value = state.require.call(main)?;
    let handle: Function = match &module {
        Value::Table(t) => t.raw_get::<Option<Function>>("handle")?.ok_or_else(|| {
            mlua::Error::runtime(format!("module {main} has no function handle(msg, env)"))
        })?,
        other => {
            return Err(mlua::Error::runtime(format!(
                "module {main} returned a {}, not a table with handle(msg, env)",
                other.type_name()
            )));
        }
    };
    let msg = json_to_lua(&state.lua, msg)?;
    let env = json_to_lua(&state.lua, env)?;
    handle.call((msg, env))
}

fn result_json(value: &Value) -> Result<Json, Failure> {
    let json = lua_to_json(value).map_err(Failure::BadResult)?;
    match json {
        Json::Object(_) => Ok(json),
        Json::Array(items) if items.is_empty() => Ok(Json::Object(Default::default())),
        _ => Err(Failure::BadResult(format!(
            "handle returned a {}, not a table",
            value.type_name()
        ))),
    }
}

fn classify(error: &mlua::Error, limits: Limits) -> Failure {
    match error {
        mlua::Error::MemoryError(_) => Failure::MemoryLimit {
            limit: limits.memory_bytes_max,
        },
        mlua::Error::CallbackError { cause, .. } => classify(cause, limits),
        mlua::Error::RuntimeError(message) => {
            // The message alone, as Lua's own error would read; mlua appends a traceback.
            let message = message
                .split("\nstack traceback:")
                .next()
                .unwrap_or(message);
            Failure::Lua(message.to_owned())
        }
        other => Failure::Lua(other.to_string()),
    }
}
