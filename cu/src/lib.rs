//! The AO compute unit (CU).
//!
//! So far: the evaluation engine ([`engine`]): a deterministic, sandboxed
//! Lua 5.3 state per process that runs a module's `handle(msg, env)` under memory and
//! instruction budgets, rolls failed messages back, and checkpoints its state canonically.
//! [`schedule`] turns the SU's JSON into checked `msg`/`env` values. The HTTP server that will
//! own one [`engine::Process`] per AO process comes later; this crate
//! does no I/O.

pub mod engine;
pub mod schedule;

pub use engine::{Checkpoint, Error, Evaluation, Failure, Limits, Module, Process, STATE_HASH_LEN};
