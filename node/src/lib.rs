//! The validator/observer process.
//!
//! Built so far: [`mempool`], the pool of admitted transactions, as a plain
//! struct with no I/O. Not built yet (the node issue): configuration, the
//! libp2p network, the consensus driver with its write-ahead log, block
//! sync, the HTTP API and `clearhouse-node`. Nothing here runs a node.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod mempool;
