//! Every sled key the store writes, built in one place.
//!
//! The store keeps all its entries in one sled tree, [`TREE`]. The first
//! byte of every key names the kind of entry, so each kind is one
//! contiguous key range that a `scan_prefix` (or a `range` inside the
//! prefix) reads alone. Integers are big-endian so that iteration within a
//! kind follows height.

use crate::ids::Hash;

/// The one sled tree holding every entry (formats 3 to 5).
pub const TREE: &str = "clearhouse";

/// Prefix: metadata (format, chain id, tip, genesis root).
pub const META: u8 = b'm';
/// Prefix: the transaction index's run files, by window (see
/// [`run`]). Blocks, certificates and receipts live in the history's
/// segment files, not in sled.
pub const RUN: u8 = b'x';
/// Prefix: state entries, by their encoded [`crate::state::StateKey`].
pub const STATE: u8 = b's';

/// Meta: the store format version (u32).
pub const META_FORMAT: &[u8] = b"mformat";
/// Meta: the chain id (32 bytes).
pub const META_CHAIN_ID: &[u8] = b"mchain_id";
/// Meta: the block whose state sled holds, see [`tip`] (the history may
/// hold later blocks: they are replayed at open).
pub const META_TIP: &[u8] = b"mtip";
/// Meta: the state root right after genesis (32 bytes).
pub const META_GENESIS_ROOT: &[u8] = b"mgenesis_root";
/// Meta: the lowest height the history holds, when above 1 (a store
/// started from a snapshot of that height; u64 BE).
pub const META_BASE: &[u8] = b"mbase";
/// Meta: the lowest height the history still holds after pruning (u64 BE;
/// absent: the base). The transaction index still starts at the base.
pub const META_PRUNED: &[u8] = b"mpruned";

/// Formats 1 and 2 kept one sled tree per kind; this one held the format.
/// Read only to refuse such a store by its format number.
pub const LEGACY_META_TREE: &str = "meta";
/// The format key in [`LEGACY_META_TREE`] (u32).
pub const LEGACY_META_FORMAT: &[u8] = b"format";

/// The entry naming the transaction-index run of heights `from..=to`;
/// its value is the run's level (how many merges made it).
pub fn run(from: u64, to: u64) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = RUN;
    key[1..9].copy_from_slice(&from.to_be_bytes());
    key[9..].copy_from_slice(&to.to_be_bytes());
    key
}

/// Reads a [`run`] key back: (from, to).
pub fn parse_run(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != 17 || key[0] != RUN {
        return None;
    }
    let from = u64::from_be_bytes(key[1..9].try_into().ok()?);
    let to = u64::from_be_bytes(key[9..].try_into().ok()?);
    Some((from, to))
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

/// The value of [`META_TIP`]: the height and hash of the block whose
/// state sled holds (height 0 and the chain id at genesis), in one entry
/// so that one read gives both.
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
