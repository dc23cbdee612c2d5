//! Whole-network scenarios: validators (and observers) on loopback, each
//! scenario bounded by a deadline and cleaning up its nodes and folders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod access;
mod cluster;
mod confidential;
mod front_door;
mod fx;
mod membership;
mod python_signer;
mod scenarios;
mod testnet;
mod tls;
