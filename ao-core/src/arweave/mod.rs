//! Arweave layer-one transactions, format 2: the fields, the signature data (a deep hash),
//! signing with an Arweave RSA wallet, and the JSON bodies nodes take at `POST /tx` and
//! `POST /chunk`. Written on this crate's own hashing and RSA code (see ARCHITECTURE.md for why
//! not `arweave-rs`). [`merkle`] owns the data root and chunk proofs.
//!
//! Must never: do I/O, sign with anything but an RSA key (nodes verify only RSA-PSS), or panic
//! on a node's JSON (every malformed field is a [`TxError`]).

pub mod merkle;
mod tx;

pub use tx::{ChunkBody, Transaction, TxError, TxJson, TxTagJson, Winston};
