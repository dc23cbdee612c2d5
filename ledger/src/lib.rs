//! Clearhouse's ledger: the money.
//!
//! Identifiers ([`ids`]), money ([`amount`]), transactions ([`tx`]), blocks
//! ([`block`]), commit certificates ([`certificate`]), validator sets
//! ([`validators`]), genesis ([`genesis`]), the one encoder ([`codec`]),
//! hashing and signatures ([`crypto`]), the transaction Merkle tree
//! ([`merkle`]), the pure state transition ([`state`]) and the sled store
//! ([`store`], the only module doing I/O).
//!
//! # Signing bytes, byte by byte
//!
//! A client in any language builds a transaction's signing bytes as the
//! concatenation of (all integers big-endian, fixed width):
//!
//! | bytes | field |
//! |---|---|
//! | 26 | the ASCII tag `clearhouse/transaction/v1` followed by one `0x00` |
//! | 32 | chain id (SHA-256 of the genesis, see [`genesis`]) |
//! | 32 | sender: the ed25519 public key |
//! | 8  | nonce, `u64` |
//! | 16 | fee (the most the sender accepts), `u128` minor units |
//! | 8  | expiry height, `u64` |
//! | 4  | body variant, `u32`: 0 transfer, 1 issue, 2 redeem, 3 register account |
//! | …  | the body's fields, in order |
//!
//! Body fields: an account is its 32 key bytes; an asset code is its length
//! as a `u64` then its ASCII bytes; an amount is a `u128`.
//! - transfer (0): to (32), asset, amount (16)
//! - issue (1): to (32), asset, amount (16)
//! - redeem (2): asset, amount (16)
//! - register account (3): account (32)
//!
//! The signature is ed25519 (RFC 8032) over those bytes, verified with
//! `verify_strict`. The transaction id is SHA-256 of the signing bytes. On
//! the wire a signed transaction is the signing bytes *without* the tag,
//! followed by the 64 signature bytes. The golden vectors in
//! `tests/it/vectors.rs` pin all of this.
//!
//! Votes sign fixed-width bytes, see [`certificate::vote_signing_bytes`].

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod amount;
pub mod block;
pub mod certificate;
pub mod codec;
pub mod crypto;
pub mod genesis;
pub mod ids;
pub mod merkle;
pub mod state;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tx;
pub mod validators;

pub use amount::Amount;
pub use block::{Block, BlockHeader};
pub use certificate::CommitCertificate;
pub use ids::{AccountId, AssetCode, ChainId, Hash, MemberId};
pub use tx::{Body, SignedTransaction, Transaction};
