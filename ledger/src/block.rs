//! Blocks: a header committing to everything, and the transactions.

use serde::{Deserialize, Serialize};

use crate::codec::{self, BLOCK_BYTES_MAX, CodecError};
use crate::crypto::{sha256, tag};
use crate::evidence::{self, Evidence};
use crate::ids::{ChainId, Hash};
use crate::merkle;
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
    /// Merkle root of the SHA-256 of each transaction's 64 signature bytes,
    /// in block order ([`signatures_root`]). A transaction id leaves the
    /// signature out, so without this root two blocks differing in one
    /// signature would share a hash, and a validity verdict about one
    /// would be taken for the other.
    pub signatures_root: Hash,
    /// State root after executing this block ([`crate::state::commitment`]).
    pub state_root: Hash,
    /// Merkle root of the hashes of this block's receipts, in order.
    pub receipts_root: Hash,
    /// Hash of the validator set that must certify this block.
    pub validator_set_hash: Hash,
    /// Hash of the validator set that must certify the next block (the
    /// state after this block's), so that a certified header names the
    /// set that certifies its successor: a light client follows the sets
    /// from genesis one header at a time.
    pub next_validator_set_hash: Hash,
    /// Merkle root of the ids of this block's double-sign evidence, in
    /// order ([`crate::evidence::evidence_root`]).
    pub evidence_root: Hash,
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
    /// Double-sign evidence ([`crate::evidence`]), in ascending id order.
    pub evidence: Vec<Evidence>,
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

    /// Checks that the transactions and evidence are exactly those the
    /// header commits to (its transaction, signatures and evidence roots), so that the block
    /// hash names this body and no other. Cheap (one hash per transaction
    /// and two trees, no signature check): run it on any block from a
    /// peer before anything is concluded about its hash. Returns the
    /// transaction ids in block order.
    pub fn check_body(&self) -> Result<Vec<Hash>, BodyError> {
        let ids = self
            .transactions
            .iter()
            .map(SignedTransaction::id)
            .collect::<Result<Vec<_>, _>>()?;
        let tx_root = merkle::root(&ids);
        if tx_root != self.header.tx_root {
            return Err(BodyError::Mismatch {
                what: "transaction root",
                header: self.header.tx_root,
                computed: tx_root,
            });
        }
        let signatures = signatures_root(&self.transactions);
        if signatures != self.header.signatures_root {
            return Err(BodyError::Mismatch {
                what: "signatures root",
                header: self.header.signatures_root,
                computed: signatures,
            });
        }
        let evidence = evidence::evidence_root(&self.evidence)?;
        if evidence != self.header.evidence_root {
            return Err(BodyError::Mismatch {
                what: "evidence root",
                header: self.header.evidence_root,
                computed: evidence,
            });
        }
        Ok(ids)
    }
}

/// The header's [`BlockHeader::signatures_root`] for these transactions:
/// the Merkle tree of [`crate::merkle`] over `SHA-256(signature)` per
/// transaction, in order.
pub fn signatures_root(transactions: &[SignedTransaction]) -> Hash {
    let leaves: Vec<Hash> = transactions
        .iter()
        .map(|tx| sha256(&[&tx.signature.0]))
        .collect();
    merkle::root(&leaves)
}

/// Why a block's transactions are not the ones its header commits to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A transaction does not encode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A root recomputed from the transactions differs from the header's.
    #[error("{what} mismatch: the header says {header}, the transactions give {computed}")]
    Mismatch {
        /// Which root.
        what: &'static str,
        /// The header's value.
        header: Hash,
        /// The value the transactions give.
        computed: Hash,
    },
}
