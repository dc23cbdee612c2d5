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
//! | 4  | body variant, `u32` (the list below) |
//! | …  | the body's fields, in order |
//!
//! Field encodings: an account, a hash or an escrow id is its 32 bytes; an
//! amount is a `u128` (16); a height or a count a `u64` (8); a flag one
//! byte, `0x00` or `0x01`; text (an asset code, a member id, a category,
//! an end-to-end id, remittance information) its byte length as a `u64`
//! then its bytes (ASCII; remittance UTF-8); an enum a `u32` variant, then
//! its fields.
//! - 0 transfer: to (32), asset, amount (16)
//! - 1 issue: to (32), asset, amount (16)
//! - 2 redeem: asset, amount (16)
//! - 3 register account: account (32)
//! - 4 escrow open: seller (32), asset, amount (16), arbiter (member id),
//!   confirm deadline (8), arbiter deadline (8), reference (32)
//! - 5 escrow release, 6 escrow refund, 7 escrow dispute: escrow (32)
//! - 8 escrow resolve: escrow (32), to seller (16)
//! - 9 credit grant: account (32), asset, limit (16), period blocks (8)
//! - 10 credit revoke: account (32), asset
//! - 11 credit attest: account (32), positive (1), category, reference (32)
//! - 12 payment: to (32), asset, amount (16), details: a `u32` variant,
//!   `0` in the clear, then end-to-end id (1 to 35 bytes of printable
//!   ASCII, see [`payment`]) and remittance (0 to 140 bytes of UTF-8);
//!   or `1` sealed ([`sealed`]): the ephemeral X25519 key (32), the
//!   commitment to the content key (32), the count
//!   of recipients (`u64`, 1 to 8) and per recipient, in ascending key
//!   order, its sealing key (32), the wrapped content key (32) and its tag
//!   (16); then the ciphertext's length (`u64`, always 216) and its bytes
//! - 13 swap: counterparty (32), give asset, give amount (16), take asset,
//!   take amount (16), counter fee (16), counter signature (64, the raw
//!   ed25519 signature, no length). The counterparty signs the consent
//!   bytes: the 27-byte tag, ASCII `clearhouse/swap-consent/v1` and one
//!   `0x00`, then the envelope exactly as above with the counter
//!   signature's 64 bytes all zero, i.e. the signing bytes with the tag
//!   replaced and the counter signature zeroed (see
//!   [`Transaction::swap_consent_bytes`]). The sender then signs the
//!   signing bytes, the counter signature in place
//! - 14 quote post: pay asset, receive asset, rate numerator (8), rate
//!   denominator (8), maximum (16), valid until (8)
//! - 15 quote withdraw: quote (32)
//! - 16 cross transfer: to (32), asset, amount (16), quote (32), details
//!   exactly as a payment's (clear or sealed, sealed under this body's to,
//!   asset and amount)
//! - 17 propose: the action (a `u32` variant, then its fields), voting
//!   period (8). An option is one byte, `0x00` (none) or `0x01` then the
//!   value; a list its count (`u64`) then its items. Actions:
//!   0 add member: id, name, validator key (32), network key (32), voting
//!   power (8), treasury (32), governance account (32), API key (option of
//!   32), sealing key (option of 32), listen addresses (a list of texts);
//!   1 remove, 2 suspend, 3 reinstate a member: member id;
//!   4 set voting power: member id, power (8);
//!   5 rotate validator key: member id, key (32);
//!   6 set addresses: member id, addresses (a list of texts);
//!   7 register asset: code, decimals (1), issuer (member id);
//!   8 set fee: asset, rule (option of: flat (16), basis points (2),
//!   receiving share (2));
//!   9 set params: a `u32` variant, then 0 escrow deadline max (8), 1
//!   credit: rating version (2), min rating (2), longest period (8), 2
//!   credit cap: asset, cap per point (option of 16), 3 governance:
//!   activation offset (8), shortest and longest voting period (8 each)
//! - 18 vote: proposal (32), approve (1)
//!
//! Every field is checked when the bytes decode: a text out of its rules,
//! an unknown variant, a flag other than 0 or 1, a byte left over, or an
//! encoding that is not the canonical one is a malformed transaction.
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
pub mod evidence;
pub mod genesis;
pub mod ids;
pub mod merkle;
pub mod payment;
pub mod sealed;
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
