//! Votes' signing bytes and commit certificates.
//!
//! A vote's signing bytes are fixed width: the purpose tag (proposal, prevote
//! or precommit), the chain id (32 bytes), the height (u64, big-endian), the
//! round (u32, big-endian), then `0x00` for nil or `0x01` and the block hash
//! (32 bytes). A commit certificate holds precommits for one block hash in one
//! round, from distinct validators holding more than two thirds of the power.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::codec::{self, CERTIFICATE_BYTES_MAX, CodecError};
use crate::crypto::{self, CryptoError, Keypair, Signature, tag};
use crate::ids::{ChainId, Hash};
use crate::validators::{ValidatorKey, ValidatorSet};

/// Which vote a signature is for (proposals sign [`proposal_signing_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VoteKind {
    /// A first-round vote.
    Prevote,
    /// A second-round vote; certificates hold these.
    Precommit,
}

impl VoteKind {
    fn tag(self) -> &'static [u8] {
        match self {
            VoteKind::Prevote => tag::PREVOTE,
            VoteKind::Precommit => tag::PRECOMMIT,
        }
    }
}

/// The bytes a validator signs for a vote on `block_hash` at
/// (`height`, `round`); `None` is a nil vote.
pub fn vote_signing_bytes(
    kind: VoteKind,
    chain_id: &ChainId,
    height: u64,
    round: u32,
    block_hash: Option<&Hash>,
) -> Vec<u8> {
    let tag = kind.tag();
    let mut bytes = Vec::with_capacity(tag.len() + 32 + 8 + 4 + 33);
    bytes.extend_from_slice(tag);
    bytes.extend_from_slice(&chain_id.0);
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&round.to_be_bytes());
    match block_hash {
        None => bytes.push(0x00),
        Some(hash) => {
            bytes.push(0x01);
            bytes.extend_from_slice(&hash.0);
        }
    }
    bytes
}

/// The bytes a proposer signs for proposing `block_hash` at (`height`,
/// `round`) with the paper's valid round (`None` for -1): the proposal tag,
/// chain id (32), height (u64), round (u32), the block hash (32), then `0x00`
/// or `0x01` and the valid round (u32). The valid round is signed so no
/// relay can alter it.
pub fn proposal_signing_bytes(
    chain_id: &ChainId,
    height: u64,
    round: u32,
    block_hash: &Hash,
    valid_round: Option<u32>,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(tag::PROPOSAL.len() + 32 + 8 + 4 + 32 + 5);
    bytes.extend_from_slice(tag::PROPOSAL);
    bytes.extend_from_slice(&chain_id.0);
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&round.to_be_bytes());
    bytes.extend_from_slice(&block_hash.0);
    match valid_round {
        None => bytes.push(0x00),
        Some(valid_round) => {
            bytes.push(0x01);
            bytes.extend_from_slice(&valid_round.to_be_bytes());
        }
    }
    bytes
}

/// One validator's precommit inside a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitVote {
    /// The signer.
    pub validator: ValidatorKey,
    /// Its signature over the precommit's signing bytes.
    pub signature: Signature,
}

/// Proof that a block is final: > 2/3 of the voting power precommitted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCertificate {
    /// The block's height.
    pub height: u64,
    /// The consensus round that decided it.
    pub round: u32,
    /// The block's hash.
    pub block_hash: Hash,
    /// The precommits.
    pub votes: Vec<CommitVote>,
}

/// Why a certificate does not prove finality.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// It is for another height or block.
    #[error(
        "certificate is for height {found_height} block {found_hash}, expected height {height} block {hash}"
    )]
    WrongBlock {
        /// Expected height.
        height: u64,
        /// Expected block hash.
        hash: Hash,
        /// The certificate's height.
        found_height: u64,
        /// The certificate's block hash.
        found_hash: Hash,
    },
    /// A signer outside the validator set.
    #[error("vote from {0}, which is not in the validator set")]
    UnknownValidator(ValidatorKey),
    /// One validator counted twice.
    #[error("two votes from validator {0}")]
    DuplicateVote(ValidatorKey),
    /// A signature that fails `verify_strict`.
    #[error("bad signature from validator {validator}: {error}")]
    BadSignature {
        /// The signer.
        validator: ValidatorKey,
        /// What failed.
        error: CryptoError,
    },
    /// Not enough power.
    #[error("votes hold {power} of {total} voting power, more than two thirds is needed")]
    NoQuorum {
        /// Power of the valid votes.
        power: u64,
        /// Total power of the set.
        total: u64,
    },
    /// Not decodable.
    #[error("malformed certificate: {0}")]
    Codec(#[from] CodecError),
}

impl CommitCertificate {
    /// Builds a certificate by having each key sign the precommit (tests,
    /// simulations, and a node assembling one from collected precommits
    /// pass signatures instead).
    pub fn sign(
        chain_id: &ChainId,
        height: u64,
        round: u32,
        block_hash: Hash,
        keys: &[&Keypair],
    ) -> CommitCertificate {
        let bytes = vote_signing_bytes(
            VoteKind::Precommit,
            chain_id,
            height,
            round,
            Some(&block_hash),
        );
        let votes = keys
            .iter()
            .map(|key| CommitVote {
                validator: ValidatorKey(key.account().0),
                signature: key.sign(&bytes),
            })
            .collect();
        CommitCertificate {
            height,
            round,
            block_hash,
            votes,
        }
    }

    /// Checks that this certificate finalises `block_hash` at `height` under
    /// `validators`: every vote from a distinct member of the set, every
    /// signature valid, more than two thirds of the power.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        height: u64,
        block_hash: &Hash,
        validators: &ValidatorSet,
    ) -> Result<(), CertificateError> {
        if self.height != height || self.block_hash != *block_hash {
            return Err(CertificateError::WrongBlock {
                height,
                hash: *block_hash,
                found_height: self.height,
                found_hash: self.block_hash,
            });
        }
        let bytes = vote_signing_bytes(
            VoteKind::Precommit,
            chain_id,
            self.height,
            self.round,
            Some(&self.block_hash),
        );
        let mut seen = BTreeSet::new();
        let mut power: u64 = 0;
        for vote in &self.votes {
            let validator = validators
                .get(&vote.validator)
                .ok_or(CertificateError::UnknownValidator(vote.validator))?;
            if !seen.insert(vote.validator) {
                return Err(CertificateError::DuplicateVote(vote.validator));
            }
            crypto::verify(&vote.validator.0, &bytes, &vote.signature).map_err(|error| {
                CertificateError::BadSignature {
                    validator: vote.validator,
                    error,
                }
            })?;
            // Cannot overflow: distinct validators of a set whose total fits.
            power = power.saturating_add(validator.voting_power);
        }
        if !validators.is_quorum(power) {
            return Err(CertificateError::NoQuorum {
                power,
                total: validators.total_power(),
            });
        }
        Ok(())
    }

    /// Decodes a certificate (at most [`CERTIFICATE_BYTES_MAX`] bytes).
    pub fn decode(bytes: &[u8]) -> Result<CommitCertificate, CertificateError> {
        Ok(codec::decode::<CommitCertificate, CERTIFICATE_BYTES_MAX>(
            bytes,
        )?)
    }
}
