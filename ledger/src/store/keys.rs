//! Every sled key the store writes, built in one place. Integers are
//! big-endian so that iteration follows height.

/// A block, certificate or receipts list by height.
pub fn height(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// Reads a height key back.
pub fn parse_height(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// A commitment bucket.
pub fn bucket(bucket: u16) -> [u8; 2] {
    bucket.to_be_bytes()
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

/// Meta: the chain id (32 bytes).
pub const META_CHAIN_ID: &[u8] = b"chain_id";
/// Meta: the last committed height (u64).
pub const META_TIP_HEIGHT: &[u8] = b"tip_height";
/// Meta: the last committed block hash (32 bytes; the chain id at genesis).
pub const META_TIP_HASH: &[u8] = b"tip_hash";
/// Meta: the state root right after genesis (32 bytes).
pub const META_GENESIS_ROOT: &[u8] = b"genesis_root";
/// Meta: the store format version (u32).
pub const META_FORMAT: &[u8] = b"format";
