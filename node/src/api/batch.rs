//! The binary body of `POST /v1/transactions/batch`: framing (the client's
//! side) and splitting (the node's side) in one place, so the two cannot
//! disagree.
//!
//! Compiled without the `server` feature: the bench and other clients frame
//! batches with it. It does not decode transactions; each framed item is
//! decoded and checked on its own, as in the JSON form.

/// The media type of a binary batch body ([`frame_wire_batch`]); any
/// other body of `POST /v1/transactions/batch` is JSON.
pub const WIRE_BATCH_MEDIA_TYPE: &str = "application/octet-stream";

/// Why a binary batch body does not split into transactions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireBatchError {
    /// More transactions than one batch may hold.
    #[error("at most {most} transactions per batch")]
    TooMany {
        /// The most allowed.
        most: usize,
    },
    /// The body ends inside a length prefix.
    #[error("transaction {index}: the body ends inside its 4-byte length")]
    CutLength {
        /// The transaction's position in the batch.
        index: usize,
    },
    /// The body ends inside a transaction.
    #[error("transaction {index} declares {declared} bytes, {remaining} remain")]
    CutTransaction {
        /// The transaction's position in the batch.
        index: usize,
        /// Its declared length.
        declared: usize,
        /// The bytes left in the body.
        remaining: usize,
    },
    /// A transaction too long for a 4-byte length (framing only).
    #[error("transaction {index} is longer than a 4-byte length can say")]
    TooLong {
        /// The transaction's position in the batch.
        index: usize,
    },
}

/// A binary batch body: each transaction's wire bytes after its length as
/// a 4-byte little-endian integer, one after another. It spares the
/// node the hex and JSON of the JSON form (the answer is JSON either way).
pub fn frame_wire_batch<'a>(
    transactions: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, WireBatchError> {
    let mut body = Vec::new();
    for (index, transaction) in transactions.into_iter().enumerate() {
        let len =
            u32::try_from(transaction.len()).map_err(|_| WireBatchError::TooLong { index })?;
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(transaction);
    }
    Ok(body)
}

/// Splits a binary batch body ([`frame_wire_batch`]) into at most `most`
/// transactions' wire bytes. Each is then decoded and checked on its own,
/// as in the JSON form.
pub fn split_wire_batch(mut body: &[u8], most: usize) -> Result<Vec<&[u8]>, WireBatchError> {
    let mut transactions = Vec::with_capacity(most.min(body.len() / 4));
    while !body.is_empty() {
        let index = transactions.len();
        let (len, rest) = body
            .split_first_chunk::<4>()
            .ok_or(WireBatchError::CutLength { index })?;
        if index == most {
            return Err(WireBatchError::TooMany { most });
        }
        let declared = u32::from_le_bytes(*len) as usize;
        if declared > rest.len() {
            return Err(WireBatchError::CutTransaction {
                index,
                declared,
                remaining: rest.len(),
            });
        }
        let (transaction, rest) = rest.split_at(declared);
        transactions.push(transaction);
        body = rest;
    }
    Ok(transactions)
}
