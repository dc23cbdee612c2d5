//! The validator/observer process.
//!
//! [`start`] opens the store, the WAL and the network, spawns the driver
//! (the one loop, see [`driver`]) and the HTTP API, and returns a
//! [`NodeHandle`] whose [`NodeHandle::shutdown`] stops and joins every task.
//! The binary `clearhouse-node --config FILE` is a thin wrapper.
//!
//! Modules: [`engine`] (everything the node decides, as a value: no tokio,
//! clock, I/O or randomness), [`driver`] (the tokio loop hosting it),
//! [`sim`] (the seeded whole-node simulator over real engines), [`config`]
//! (TOML), [`keyfile`], [`mempool`] (plain struct), [`wal`] (persist, then
//! speak), [`wire`] (what travels between nodes), [`peer`] (peer and gossip
//! ids shared by the engine and the network), [`verify`] (every signature
//! check: batches, the cores, the verified cache), [`network`] (the only libp2p
//! code), [`api`] (the only HTTP code; its `dto` and `batch` shapes are
//! compiled without the `server` feature, for clients), [`metrics`].
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod config;
#[cfg(feature = "server")]
pub mod driver;
pub mod engine;
pub mod keyfile;
pub mod mempool;
pub mod metrics;
#[cfg(feature = "server")]
pub mod network;
pub mod peer;
pub mod sim;
pub mod verify;
pub mod wal;
pub mod wire;

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::{NodeHandle, StartError, import_snapshot, start};
