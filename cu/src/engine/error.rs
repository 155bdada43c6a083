//! The engine's error types. Owns: what can go wrong, as values. Must never: carry a bare
//! `String` as the whole error, or panic instead of returning one of these.

/// Why the engine could not do what was asked (as opposed to a message that failed: see
/// [`Failure`], which is a normal evaluation outcome).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("module is not valid: {reason}")]
    ModuleFormat { reason: String },
    #[error("module bundle names main module {main:?}, which it does not contain")]
    ModuleMainMissing { main: String },
    #[error("module {name:?} does not compile: {message}")]
    ModuleSyntax { name: String, message: String },
    #[error("module {name:?} is a binary chunk; only Lua source is accepted")]
    ModuleBinary { name: String },
    #[error("tag {tag} has an invalid value {value:?}: {reason}")]
    LimitTag {
        tag: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("state cannot be checkpointed: {what} at {path}")]
    Unserializable { path: String, what: &'static str },
    #[error("checkpoint is corrupt: {reason}")]
    CheckpointCorrupt { reason: String },
    #[error("replaying message {index} after a rollback gave a different outcome")]
    ReplayDiverged { index: usize },
    #[error("Lua state error: {0}")]
    Lua(#[from] mlua::Error),
}

/// Why one message failed. The failed message leaves no trace in the process state; its result
/// is `{"Error": <this, displayed>}` unless the module returned its own `Error` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Lua(String),
    #[error("memory limit exceeded: the process may use {limit} bytes")]
    MemoryLimit { limit: u64 },
    #[error("compute limit exceeded: the message may run {limit} instructions")]
    ComputeLimit { limit: u64 },
    #[error("{0}")]
    ModuleError(String),
    #[error("result cannot be converted to JSON: {0}")]
    BadResult(String),
}
