//! The ledger's integration tests: one binary, one module per concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::needless_range_loop,
    missing_docs
)]

mod bad_input;
mod crash;
mod disk_full;
mod escrow_credit;
mod fixture;
mod fx;
mod genesis;
mod governance;
mod history;
mod properties;
mod references;
mod sealed;
mod signatures;
mod snapshot;
mod store;
mod vectors;
