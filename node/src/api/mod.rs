//! The HTTP JSON API: the only HTTP/JSON code of the node.
//!
//! - [`dto`] — every request and response shape and the error codes,
//!   compiled without the `server` feature so the CLI, the testnet bench
//!   and the tests read typed values. Shared.
//! - [`batch`] — the binary batch body (framing and splitting). Shared.
//! - `router` (feature `server`) — the router (every route listed once,
//!   in [`routes`]), [`ApiError`] (a [`dto::ErrorCode`] and a message; the
//!   HTTP status comes from the code), the OpenAPI document ([`ApiDoc`],
//!   served at `GET /v1/openapi.json`) and [`serve`]. Re-exported here.
//! - [`auth`] — the signed-request header and its signing bytes, and
//!   [`auth::RequestSigner`] for clients. Shared.
//! - [`access`] (feature `server`) — who is calling ([`access::Caller`])
//!   and what each role may see: the one place the access rules live.
//! - [`front`] (feature `server`) — the front door: connection bound,
//!   header timeout, per-caller request rates.
//! - [`trust`] (feature `client`) — how a client checks an https node's
//!   certificate (ureq over rustls).
//! - [`tls`] (feature `server`) — TLS on the API by configuration (rustls).
//! - `handlers` (feature `server`) — one async function per route: parse,
//!   read the store or ask the driver, convert to a [`dto`] type.
//!
//! Errors are `{"error": {"code": "...", "message": "..."}}`; the codes and
//! their statuses are [`dto::ErrorCode`]. Amounts are strings (they exceed
//! JSON's safe integers). Resubmitting a transaction returns its existing
//! outcome (202 pending, 200 final); a transaction id never seen is `200
//! {"status": "unknown"}`.

pub mod auth;
pub mod batch;
pub mod dto;

pub use batch::{WIRE_BATCH_MEDIA_TYPE, WireBatchError, frame_wire_batch, split_wire_batch};
pub use dto::{CHAIN_BLOCKS_MAX, ErrorCode, reject_code};

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod front;
#[cfg(feature = "server")]
mod handlers;
#[cfg(feature = "server")]
mod router;
#[cfg(feature = "server")]
pub mod tls;
#[cfg(feature = "client")]
pub mod trust;
#[cfg(feature = "server")]
pub use router::{
    ApiAddress, ApiDoc, ApiError, ApiState, Route, access_table, admit_error, router, routes, serve,
};
