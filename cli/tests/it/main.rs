//! The CLI's tests: one binary, one module per concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod audit;
mod cli;
mod escrow_credit;
mod fx;
mod governance;
mod net;
mod validators;
