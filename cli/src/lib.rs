//! The `clearhouse` command-line tool: keys, transactions, queries and audit.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod audit;
