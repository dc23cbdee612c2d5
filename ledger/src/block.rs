//! Blocks: a header committing to everything, and the transactions.

use serde::{Deserialize, Serialize};

use crate::codec::{self, BLOCK_BYTES_MAX, CodecError};
use crate::crypto::{sha256, tag};
use crate::ids::{ChainId, Hash};
use crate::tx::SignedTransaction;
use crate::validators::ValidatorKey;

/// A block header. The block hash is `SHA-256(block-header tag ‖ encoding)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The chain (genesis hash).
    pub chain_id: ChainId,
    /// 1 for the first block after genesis.
    pub height: u64,
    /// The previous block's hash; for height 1, the chain id (so the chain is
    /// anchored to its genesis).
    pub previous_hash: Hash,
    /// The validator that proposed it.
    pub proposer: ValidatorKey,
    /// The proposer's clock, milliseconds since the Unix epoch. Informative:
    /// execution never reads it.
    pub timestamp_ms: u64,
    /// Merkle root of the transaction ids ([`crate::merkle`]).
    pub tx_root: Hash,
    /// State root after executing this block ([`crate::state::commitment`]).
    pub state_root: Hash,
    /// Merkle root of the hashes of this block's receipts, in order.
    pub receipts_root: Hash,
    /// Hash of the validator set that must certify this block.
    pub validator_set_hash: Hash,
}

impl BlockHeader {
    /// The block hash.
    pub fn hash(&self) -> Result<Hash, CodecError> {
        Ok(sha256(&[tag::BLOCK_HEADER, &codec::encode(self)?]))
    }
}

/// A block: header and transactions in execution order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions.
    pub transactions: Vec<SignedTransaction>,
}

impl Block {
    /// Decodes a block (at most [`BLOCK_BYTES_MAX`] bytes).
    pub fn decode(bytes: &[u8]) -> Result<Block, CodecError> {
        codec::decode::<Block, BLOCK_BYTES_MAX>(bytes)
    }

    /// The encoded block.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }

    /// The block hash (the header's).
    pub fn hash(&self) -> Result<Hash, CodecError> {
        self.header.hash()
    }
}
