//! Every sled key the store writes, built in one place.
//!
//! The store keeps all its entries in one sled tree, [`TREE`]. The first
//! byte of every key names the kind of entry, so each kind is one
//! contiguous key range that a `scan_prefix` (or a `range` inside the
//! prefix) reads alone. Integers are big-endian so that iteration within a
//! kind follows height.

use crate::ids::Hash;

/// The one sled tree holding every entry (format 3).
pub const TREE: &str = "clearhouse";

/// Prefix: metadata (format, chain id, tip, genesis root).
pub const META: u8 = b'm';
/// Prefix: blocks by height.
pub const BLOCK: u8 = b'b';
/// Prefix: commit certificates by height.
pub const CERTIFICATE: u8 = b'c';
/// Prefix: receipt lists by height.
pub const RECEIPTS: u8 = b'r';
/// Prefix: the transaction index, by transaction id.
pub const TX_INDEX: u8 = b't';
/// Prefix: state entries, by their encoded [`crate::state::StateKey`].
pub const STATE: u8 = b's';

/// Meta: the store format version (u32).
pub const META_FORMAT: &[u8] = b"mformat";
/// Meta: the chain id (32 bytes).
pub const META_CHAIN_ID: &[u8] = b"mchain_id";
/// Meta: the last committed block, see [`tip`].
pub const META_TIP: &[u8] = b"mtip";
/// Meta: the state root right after genesis (32 bytes).
pub const META_GENESIS_ROOT: &[u8] = b"mgenesis_root";

/// Formats 1 and 2 kept one sled tree per kind; this one held the format.
/// Read only to refuse such a store by its format number.
pub const LEGACY_META_TREE: &str = "meta";
/// The format key in [`LEGACY_META_TREE`] (u32).
pub const LEGACY_META_FORMAT: &[u8] = b"format";

/// The block at `height`.
pub fn block(height: u64) -> [u8; 9] {
    by_height(BLOCK, height)
}

/// The certificate of the block at `height`.
pub fn certificate(height: u64) -> [u8; 9] {
    by_height(CERTIFICATE, height)
}

/// The receipts of the block at `height`.
pub fn receipts(height: u64) -> [u8; 9] {
    by_height(RECEIPTS, height)
}

fn by_height(prefix: u8, height: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = prefix;
    key[1..].copy_from_slice(&height.to_be_bytes());
    key
}

/// The transaction-index entry of a transaction id.
pub fn tx(id: &Hash) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = TX_INDEX;
    key[1..].copy_from_slice(&id.0);
    key
}

/// A state entry, from the encoded state key. Encoded state keys sort as
/// the state's own order (e.g. deadlines by height), and one prefix byte
/// in front keeps that order.
pub fn state(encoded_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + encoded_key.len());
    key.push(STATE);
    key.extend_from_slice(encoded_key);
    key
}

/// The encoded state key of a state entry's sled key.
pub fn parse_state(key: &[u8]) -> Option<&[u8]> {
    key.strip_prefix(&[STATE])
}

/// The value of [`META_TIP`]: the height and hash of the last committed
/// block (height 0 and the chain id at genesis), in one entry so that one
/// read gives both.
pub fn tip(height: u64, block_hash: &Hash) -> [u8; 40] {
    let mut value = [0u8; 40];
    value[..8].copy_from_slice(&height.to_be_bytes());
    value[8..].copy_from_slice(&block_hash.0);
    value
}

/// Reads a [`META_TIP`] value back: (height, hash).
pub fn parse_tip(value: &[u8]) -> Option<(u64, Hash)> {
    if value.len() != 40 {
        return None;
    }
    let height = u64::from_be_bytes(value[..8].try_into().ok()?);
    let hash = Hash(value[8..].try_into().ok()?);
    Some((height, hash))
}

/// The value of a transaction-index entry: height, position in the block,
/// and 1 if that occurrence's outcome is final (0 if not).
pub fn tx_location(height: u64, index: u32, is_final: bool) -> [u8; 13] {
    let mut value = [0u8; 13];
    value[..8].copy_from_slice(&height.to_be_bytes());
    value[8..12].copy_from_slice(&index.to_be_bytes());
    value[12] = u8::from(is_final);
    value
}

/// Reads a transaction-index value back: (height, position, final).
pub fn parse_tx_location(value: &[u8]) -> Option<(u64, u32, bool)> {
    if value.len() != 13 || value[12] > 1 {
        return None;
    }
    let height = u64::from_be_bytes(value[..8].try_into().ok()?);
    let index = u32::from_be_bytes(value[8..12].try_into().ok()?);
    Some((height, index, value[12] == 1))
}
