//! The SU's integration tests: real sockets on 127.0.0.1:0, `su::run` (or the `ao-su` binary
//! for crash safety), reqwest as the client; `arweave` also starts arlocal (npm).

mod api;
mod arweave;
mod assign;
mod common;
mod load;
mod outbox;
