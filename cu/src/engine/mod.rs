//! The Lua host engine: one [`Process`] owns one Lua state and evaluates messages in order.
//!
//! Owns: loading modules (PROTOCOL.md §9), the sandbox, per-message budgets, atomic messages
//! (rollback), checkpoints and state hashes. Must never: do I/O, read the clock or the
//! environment, or share a Lua state between owners (`Process` is neither `Send` nor `Sync`;
//! the server gives each process one task).
//!
//! Invariant: the same module and the same ordered messages give byte-identical results and
//! checkpoints on every run and every machine. What Lua cannot make deterministic is listed in
//! [`sandbox`] ("Known limits").
//!
//! Codemap:
//! - [`module`]: `Module::parse` (one source or a JSON bundle).
//! - [`limits`]: `Limits` and the `Memory-Limit`/`Compute-Limit` tag parsing.
//! - [`sandbox`]: building a state: libraries, the prelude (`prelude.lua`), builtin names.
//! - [`convert`]: JSON ↔ Lua values.
//! - [`checkpoint`] and [`restore`]: the canonical state format.
//! - [`process`]: `Process`: handle, rollback by replay, checkpoints.

mod checkpoint;
mod convert;
mod error;
mod limits;
mod module;
mod process;
mod restore;
mod sandbox;

pub use checkpoint::{Checkpoint, STATE_HASH_LEN};
pub use error::{Error, Failure};
pub use limits::Limits;
pub use module::Module;
pub use process::{CHECKPOINT_INTERVAL_DEFAULT, Evaluation, Process, STACK_BYTES_MIN};
