//! What travels between nodes: consensus messages, transaction batches and
//! block-sync requests, encoded with the ledger's codec (one canonical form,
//! a byte limit on every decode).
//!
//! Consensus messages carry the signer's validator key and an ed25519
//! signature over the ledger's fixed-width signing bytes
//! ([`clearhouse_ledger::certificate::vote_signing_bytes`] and
//! [`clearhouse_ledger::certificate::proposal_signing_bytes`]), so a vote
//! verifies only for its chain, height, round and kind. A proposal carries
//! its whole block.

use serde::{Deserialize, Serialize};

use clearhouse_ledger::certificate::{
    CommitCertificate, VoteKind, proposal_signing_bytes, vote_signing_bytes,
};
use clearhouse_ledger::codec::{self, CodecError};
use clearhouse_ledger::crypto::{self, CryptoError, Keypair, Signature};
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{Block, ChainId, Hash, SignedTransaction};

/// Most bytes of a consensus message (a proposal carries a whole block).
pub const CONSENSUS_MESSAGE_BYTES_MAX: usize = codec::BLOCK_BYTES_MAX + 4096;
/// Most bytes of a gossiped transaction batch.
pub const TX_BATCH_BYTES_MAX: usize = 1024 * 1024;
/// Most bytes of a sync request.
pub const SYNC_REQUEST_BYTES_MAX: usize = 1024;
/// Most bytes of a sync response.
pub const SYNC_RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Most blocks one sync response carries.
pub const SYNC_BLOCKS_MAX: u32 = 64;

/// A signed block proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedProposal {
    /// Consensus height (the block's height).
    pub height: u64,
    /// Consensus round.
    pub round: u32,
    /// The paper's valid round (`None` is -1).
    pub valid_round: Option<u32>,
    /// The proposed block.
    pub block: Block,
    /// The proposer's validator key.
    pub proposer: ValidatorKey,
    /// Signature over the proposal signing bytes.
    pub signature: Signature,
}

/// A signed prevote or precommit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedVote {
    /// Consensus height.
    pub height: u64,
    /// Consensus round.
    pub round: u32,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block voted for; `None` is nil.
    pub block_hash: Option<Hash>,
    /// The voter's validator key.
    pub validator: ValidatorKey,
    /// Signature over the vote signing bytes.
    pub signature: Signature,
}

/// A message on the consensus topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusMessage {
    /// A proposal with its block (boxed: a block is large, a vote small).
    Proposal(Box<SignedProposal>),
    /// A vote.
    Vote(SignedVote),
}

/// Why a consensus message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not decodable within its limit.
    #[error("malformed message: {0}")]
    Codec(#[from] CodecError),
    /// The signature does not verify.
    #[error("bad signature: {0}")]
    Signature(#[from] CryptoError),
    /// The proposal's block does not match the proposal.
    #[error(
        "proposal for height {height} carries block of height {block_height} proposed by another key"
    )]
    BlockMismatch {
        /// The proposal's height.
        height: u64,
        /// The block's height.
        block_height: u64,
    },
}

impl SignedProposal {
    /// Signs a proposal of `block`.
    pub fn sign(
        chain_id: &ChainId,
        round: u32,
        valid_round: Option<u32>,
        block: Block,
        key: &Keypair,
    ) -> Result<SignedProposal, CodecError> {
        let hash = block.hash()?;
        let height = block.header.height;
        let bytes = proposal_signing_bytes(chain_id, height, round, &hash, valid_round);
        Ok(SignedProposal {
            height,
            round,
            valid_round,
            block,
            proposer: ValidatorKey(key.account().0),
            signature: key.sign(&bytes),
        })
    }

    /// Checks the signature and that the block is this proposal's: its
    /// height, and — for a fresh proposal (no valid round) — its proposer.
    /// A re-proposal (`valid_round` set, the paper's L15-16) carries the
    /// valid value, which another validator may have built in an earlier
    /// round: refusing it left a locked network unable to re-propose its
    /// value, and no round could decide (the whole-node simulator found it).
    /// Returns the block hash.
    pub fn verify(&self, chain_id: &ChainId) -> Result<Hash, WireError> {
        let header = &self.block.header;
        let own_block = self.valid_round.is_some() || header.proposer == self.proposer;
        if header.height != self.height || !own_block {
            return Err(WireError::BlockMismatch {
                height: self.height,
                block_height: header.height,
            });
        }
        let hash = self.block.hash()?;
        let bytes =
            proposal_signing_bytes(chain_id, self.height, self.round, &hash, self.valid_round);
        crypto::verify(&self.proposer.0, &bytes, &self.signature)?;
        Ok(hash)
    }
}

impl SignedVote {
    /// Signs a vote.
    pub fn sign(
        chain_id: &ChainId,
        height: u64,
        round: u32,
        kind: VoteKind,
        block_hash: Option<Hash>,
        key: &Keypair,
    ) -> SignedVote {
        let bytes = vote_signing_bytes(kind, chain_id, height, round, block_hash.as_ref());
        SignedVote {
            height,
            round,
            kind,
            block_hash,
            validator: ValidatorKey(key.account().0),
            signature: key.sign(&bytes),
        }
    }

    /// Checks the signature.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), WireError> {
        let bytes = vote_signing_bytes(
            self.kind,
            chain_id,
            self.height,
            self.round,
            self.block_hash.as_ref(),
        );
        crypto::verify(&self.validator.0, &bytes, &self.signature)?;
        Ok(())
    }
}

impl ConsensusMessage {
    /// Decodes a consensus message.
    pub fn decode(bytes: &[u8]) -> Result<ConsensusMessage, CodecError> {
        codec::decode::<ConsensusMessage, CONSENSUS_MESSAGE_BYTES_MAX>(bytes)
    }

    /// Encodes it.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }

    /// Its height.
    pub fn height(&self) -> u64 {
        match self {
            ConsensusMessage::Proposal(p) => p.height,
            ConsensusMessage::Vote(v) => v.height,
        }
    }
}

/// A batch of transactions on the transaction topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBatch(pub Vec<SignedTransaction>);

impl TxBatch {
    /// Decodes a batch.
    pub fn decode(bytes: &[u8]) -> Result<TxBatch, CodecError> {
        codec::decode::<TxBatch, TX_BATCH_BYTES_MAX>(bytes)
    }

    /// Encodes it.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }
}

/// A block-sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// The peer's last committed height.
    Status,
    /// Committed blocks with certificates, `from` upwards, at most `count`.
    Blocks {
        /// First height wanted.
        from: u64,
        /// How many (capped at [`SYNC_BLOCKS_MAX`]).
        count: u32,
    },
}

/// A block-sync response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The responder's last committed height.
    Status {
        /// Its tip height.
        height: u64,
    },
    /// Blocks with their certificates, in height order (possibly fewer than asked).
    Blocks(Vec<(Block, CommitCertificate)>),
}

impl SyncRequest {
    /// Decodes a request.
    pub fn decode(bytes: &[u8]) -> Result<SyncRequest, CodecError> {
        codec::decode::<SyncRequest, SYNC_REQUEST_BYTES_MAX>(bytes)
    }

    /// Encodes it.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }
}

impl SyncResponse {
    /// Decodes a response.
    pub fn decode(bytes: &[u8]) -> Result<SyncResponse, CodecError> {
        codec::decode::<SyncResponse, SYNC_RESPONSE_BYTES_MAX>(bytes)
    }

    /// Encodes it.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }
}

/// What goes on the consensus topic: a message and the sender's send
/// counter. Gossip deduplicates by content hash, so re-sending a message
/// (to a peer that restarted, or after a partition) needs new bytes; the
/// counter provides them. Receivers deduplicate by the message itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusGossip {
    /// Increases with every send by this node.
    pub sequence: u64,
    /// The signed message.
    pub message: ConsensusMessage,
}

impl ConsensusGossip {
    /// Decodes gossip bytes.
    pub fn decode(bytes: &[u8]) -> Result<ConsensusGossip, CodecError> {
        codec::decode::<ConsensusGossip, CONSENSUS_MESSAGE_BYTES_MAX>(bytes)
    }

    /// Encodes it.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }
}
