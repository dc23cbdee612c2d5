//! The node crate's tests: one binary, one module per concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod batch_body;
mod config;
mod mempool;
mod network;
mod verify;
mod wal;
