//! The one place that encodes and decodes bytes (bincode 2.0.1 through serde).
//!
//! Configuration: big-endian, fixed-width integers (`u8` 1 byte, `u16` 2,
//! `u32` 4, `u64` 8, `u128` 16), enum variants as a `u32` index, sequence and
//! string lengths as a `u64`, `Option` as a 0/1 byte then the value, fixed
//! arrays as their bytes with no length. See the crate docs for the resulting
//! transaction layout byte by byte.
//!
//! Every decode names a byte limit (the allocation ceiling bincode enforces
//! *before* allocating, which defuses length-prefix bombs such as a `u64`
//! length of 2^60), rejects trailing bytes, and re-encodes the value to check
//! the input was the one canonical encoding. bincode is unmaintained upstream;
//! keeping every call here means a format-compatible successor touches only
//! this file.

use serde::{Serialize, de::DeserializeOwned};

/// Most bytes of an encoded state key.
pub const STATE_KEY_BYTES_MAX: usize = 256;

/// Most bytes a signed transaction may have on the wire.
pub const TX_BYTES_MAX: usize = 4 * 1024;
/// Most bytes a block (header + transactions) may have.
pub const BLOCK_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Most bytes a commit certificate may have (room for 1,000 validators).
pub const CERTIFICATE_BYTES_MAX: usize = 128 * 1024;
/// Most bytes of any single stored state value (account, asset, member...).
pub const STATE_VALUE_BYTES_MAX: usize = 1024 * 1024;
/// Most bytes of a block's receipts.
pub const RECEIPTS_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Why bytes could not become a value (or a value bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input is longer than the limit for this kind of value.
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLong {
        /// Input length.
        len: usize,
        /// The limit for this kind of value.
        limit: usize,
    },
    /// bincode refused the bytes: truncated input, an unknown enum tag, a
    /// length beyond the limit, invalid UTF-8, an invalid identifier...
    #[error("malformed bytes: {0}")]
    Malformed(String),
    /// The value ended before the input did.
    #[error("{trailing} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left over.
        trailing: usize,
    },
    /// The input decodes but is not the canonical encoding of its value.
    #[error("non-canonical encoding")]
    NonCanonical,
    /// A value could not be encoded (our bug, reported rather than panicking).
    #[error("cannot encode: {0}")]
    Encode(String),
}

fn config<const LIMIT: usize>() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<LIMIT>()
}

/// Encodes a value canonically.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = Vec::new();
    encode_into(value, &mut bytes)?;
    Ok(bytes)
}

/// Appends the canonical encoding of a value to `out` (e.g. after a domain
/// tag), without an intermediate buffer.
pub fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    // Measure first, then write once into room of the exact size: growing
    // a vector byte by byte reallocates it several times per value.
    let mut size = bincode::enc::write::SizeWriter::default();
    write(value, &mut size)?;
    out.reserve(size.bytes_written);
    write(value, &mut VecOut(out))
}

/// Decodes exactly one canonically encoded value of at most `LIMIT` bytes.
pub fn decode<T: Serialize + DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<T, CodecError> {
    if bytes.len() > LIMIT {
        return Err(CodecError::TooLong {
            len: bytes.len(),
            limit: LIMIT,
        });
    }
    let (value, consumed): (T, usize) = bincode::serde::decode_from_slice(bytes, config::<LIMIT>())
        .map_err(|error| CodecError::Malformed(error.to_string()))?;
    if consumed != bytes.len() {
        return Err(CodecError::TrailingBytes {
            trailing: bytes.len() - consumed,
        });
    }
    // Re-encode against the input rather than into a new buffer: the same
    // check, without allocating.
    let mut same = SameAs {
        expected: bytes,
        differs: false,
    };
    write(&value, &mut same)?;
    if same.differs || !same.expected.is_empty() {
        return Err(CodecError::NonCanonical);
    }
    Ok(value)
}

fn write<T: Serialize, W: bincode::enc::write::Writer>(
    value: &T,
    writer: W,
) -> Result<(), CodecError> {
    // The encode side needs no allocation ceiling; the limit type parameter is
    // required by the config, so pass the largest we ever decode.
    bincode::serde::encode_into_writer(value, writer, config::<BLOCK_BYTES_MAX>())
        .map_err(|error| CodecError::Encode(error.to_string()))
}

/// Appends to a vector.
struct VecOut<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for VecOut<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Compares what is written with `expected`, consuming it as it matches.
struct SameAs<'a> {
    expected: &'a [u8],
    differs: bool,
}

impl bincode::enc::write::Writer for SameAs<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        match self.expected.split_at_checked(bytes.len()) {
            Some((head, rest)) if head == bytes && !self.differs => self.expected = rest,
            _ => self.differs = true,
        }
        Ok(())
    }
}
