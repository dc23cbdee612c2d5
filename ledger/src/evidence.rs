//! Double-sign evidence: two conflicting messages signed by one validator
//! for one (height, round, kind), carried in blocks and recorded once.
//!
//! A validator that signs two different prevotes, two different precommits
//! or two different proposals for the same height and round has broken the
//! protocol: either message alone is a vote, the pair is proof. A node that
//! sees such a pair (the consensus machine reports it) keeps it, gossips
//! it, and the next proposer includes it in a block (at most
//! [`EVIDENCE_PER_BLOCK_MAX`]). Every validator checks it when it applies
//! the block ([`check`]): the signer was in the validator set in force at
//! the evidence's height, both signatures verify under the vote or proposal
//! signing bytes of [`crate::certificate`], the two claims differ, the
//! height lies below the block and within [`EVIDENCE_HORIZON`] of it, and
//! the offence (validator, height) is not on record yet. Applying it writes
//! an [`EvidenceRecord`] under [`StateKey::Evidence`] and appends it to the
//! [`EvidenceLog`]; a governance proposal may then cite the record to
//! suspend the offending bank
//! ([`crate::state::governance::Action::SuspendForEvidence`]).
//!
//! One form per pair: the two claims are in ascending order (block hash,
//! then valid round, then signature bytes), so two nodes that saw the
//! messages in opposite orders build the same evidence with the same id,
//! `SHA-256(evidence tag ‖ encoding)`. A block's evidence is in ascending
//! id order (so none twice) and its Merkle root of ids is the header's
//! `evidence_root`.

use serde::{Deserialize, Serialize};

use crate::certificate::{VoteKind, proposal_signing_bytes, vote_signing_bytes};
use crate::codec::{self, CodecError};
use crate::crypto::{self, Signature, sha256, tag};
use crate::ids::{ChainId, Hash, MemberId};
use crate::merkle;
use crate::validators::{ValidatorKey, ValidatorSet};

/// Most evidence one block carries.
pub const EVIDENCE_PER_BLOCK_MAX: usize = 8;
/// Evidence older than this many heights below the block is refused: a
/// bound on the sets a node must keep to check it, and on how long an
/// offender stays accusable.
pub const EVIDENCE_HORIZON: u64 = 100_000;
/// Most offences the chain records (the [`EvidenceLog`] is one state
/// value): a validator that double-signs this often has long been removed.
pub const EVIDENCE_LOG_MAX: usize = 10_000;

/// Which message was signed twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EvidenceKind {
    /// Variant 0: two prevotes.
    Prevote,
    /// Variant 1: two precommits.
    Precommit,
    /// Variant 2: two proposals.
    Proposal,
}

impl EvidenceKind {
    /// Its wire name (the API's).
    pub fn name(self) -> &'static str {
        match self {
            EvidenceKind::Prevote => "prevote",
            EvidenceKind::Precommit => "precommit",
            EvidenceKind::Proposal => "proposal",
        }
    }
}

/// One of the two signed messages: what it claimed and its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedClaim {
    /// The block voted for or proposed; `None` is a nil vote (never a
    /// proposal).
    pub block_hash: Option<Hash>,
    /// A proposal's valid round (`None` is -1); always `None` for a vote.
    pub valid_round: Option<u32>,
    /// The signature over the message's signing bytes.
    pub signature: Signature,
}

impl SignedClaim {
    fn order_key(&self) -> (Option<Hash>, Option<u32>, [u8; 64]) {
        (self.block_hash, self.valid_round, self.signature.0)
    }

    fn claim(&self) -> (Option<Hash>, Option<u32>) {
        (self.block_hash, self.valid_round)
    }
}

/// Proof that `validator` signed two different messages of one `kind` at
/// (`height`, `round`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Evidence {
    /// The offender's validator key.
    pub validator: ValidatorKey,
    /// The doubled message.
    pub kind: EvidenceKind,
    /// Its height (the block it was about).
    pub height: u64,
    /// Its round.
    pub round: u32,
    /// The claim that orders first.
    pub first: SignedClaim,
    /// The other.
    pub second: SignedClaim,
}

/// Why evidence is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The two messages make the same claim: no conflict.
    #[error("the two messages do not conflict")]
    NoConflict,
    /// The claims are not in their one order.
    #[error("the two messages are not in canonical order")]
    NotCanonical,
    /// A proposal without a block, or a vote with a valid round.
    #[error("a {kind} cannot carry that claim")]
    Malformed {
        /// The kind.
        kind: &'static str,
    },
    /// Height 0, or not below the block that carries it.
    #[error("evidence of height {height} cannot be in block {block}")]
    TooNew {
        /// The evidence's height.
        height: u64,
        /// The block's.
        block: u64,
    },
    /// Older than [`EVIDENCE_HORIZON`] below the block.
    #[error("evidence of height {height} is beyond the horizon of block {block}")]
    Expired {
        /// The evidence's height.
        height: u64,
        /// The block's.
        block: u64,
    },
    /// The key was not a validator at that height.
    #[error("{validator} was not a validator at height {height}")]
    NotValidator {
        /// The key.
        validator: ValidatorKey,
        /// The height.
        height: u64,
    },
    /// A signature does not verify.
    #[error("the {which} signature does not verify")]
    BadSignature {
        /// `first` or `second`.
        which: &'static str,
    },
    /// This validator's offence at this height is on record already.
    #[error("{validator}'s offence at height {height} is already on record")]
    AlreadyRecorded {
        /// The key.
        validator: ValidatorKey,
        /// The height.
        height: u64,
    },
    /// The chain's record of offences is full ([`EVIDENCE_LOG_MAX`]).
    #[error("the evidence log is full")]
    LogFull,
    /// The block's evidence is not in ascending id order.
    #[error("evidence out of order or repeated")]
    Order,
}

impl Evidence {
    /// Evidence from two signed messages in either order; `None` when they
    /// do not conflict.
    pub fn new(
        validator: ValidatorKey,
        kind: EvidenceKind,
        height: u64,
        round: u32,
        a: SignedClaim,
        b: SignedClaim,
    ) -> Option<Evidence> {
        if a.claim() == b.claim() {
            return None;
        }
        let (first, second) = if a.order_key() <= b.order_key() {
            (a, b)
        } else {
            (b, a)
        };
        Some(Evidence {
            validator,
            kind,
            height,
            round,
            first,
            second,
        })
    }

    /// Its id: `SHA-256(evidence tag ‖ encoding)`.
    pub fn id(&self) -> Result<Hash, CodecError> {
        Ok(sha256(&[tag::EVIDENCE, &codec::encode(self)?]))
    }

    /// Checks what needs no chain: the claims conflict, are well formed and
    /// in order.
    pub fn check_form(&self) -> Result<(), EvidenceError> {
        if self.first.claim() == self.second.claim() {
            return Err(EvidenceError::NoConflict);
        }
        if self.first.order_key() > self.second.order_key() {
            return Err(EvidenceError::NotCanonical);
        }
        for claim in [&self.first, &self.second] {
            let well_formed = match self.kind {
                EvidenceKind::Proposal => claim.block_hash.is_some(),
                EvidenceKind::Prevote | EvidenceKind::Precommit => claim.valid_round.is_none(),
            };
            if !well_formed {
                return Err(EvidenceError::Malformed {
                    kind: self.kind.name(),
                });
            }
        }
        Ok(())
    }

    /// The bytes the validator signed for `claim`.
    fn signing_bytes(&self, chain_id: &ChainId, claim: &SignedClaim) -> Vec<u8> {
        match self.kind {
            EvidenceKind::Prevote => vote_signing_bytes(
                VoteKind::Prevote,
                chain_id,
                self.height,
                self.round,
                claim.block_hash.as_ref(),
            ),
            EvidenceKind::Precommit => vote_signing_bytes(
                VoteKind::Precommit,
                chain_id,
                self.height,
                self.round,
                claim.block_hash.as_ref(),
            ),
            EvidenceKind::Proposal => proposal_signing_bytes(
                chain_id,
                self.height,
                self.round,
                &claim.block_hash.unwrap_or_default(),
                claim.valid_round,
            ),
        }
    }

    /// Checks the form and both signatures, and that the validator is in
    /// `set` (the set in force at the evidence's height). Returns the
    /// offender's member.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        set: &ValidatorSet,
    ) -> Result<MemberId, EvidenceError> {
        self.check_form()?;
        let Some(validator) = set.get(&self.validator) else {
            return Err(EvidenceError::NotValidator {
                validator: self.validator,
                height: self.height,
            });
        };
        for (which, claim) in [("first", &self.first), ("second", &self.second)] {
            let bytes = self.signing_bytes(chain_id, claim);
            crypto::verify(&self.validator.0, &bytes, &claim.signature)
                .map_err(|_| EvidenceError::BadSignature { which })?;
        }
        Ok(validator.member.clone())
    }
}

/// The header's `evidence_root`: the Merkle tree of [`crate::merkle`] over
/// the evidence ids, in block order.
pub fn evidence_root(evidence: &[Evidence]) -> Result<Hash, CodecError> {
    let ids = evidence
        .iter()
        .map(Evidence::id)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(merkle::root(&ids))
}

/// An offence on record, under [`crate::state::StateKey::Evidence`] by the
/// evidence id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// The evidence.
    pub evidence: Evidence,
    /// The bank whose validator signed twice.
    pub member: MemberId,
    /// The block that carried it.
    pub included_at: u64,
}

/// One line of the [`EvidenceLog`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedOffence {
    /// The evidence id.
    pub id: Hash,
    /// The offender.
    pub validator: ValidatorKey,
    /// The height of the offence.
    pub height: u64,
}

/// Every offence on record in inclusion order, under
/// [`crate::state::StateKey::EvidenceLog`]: at most one per (validator,
/// height), at most [`EVIDENCE_LOG_MAX`].
pub type EvidenceLog = Vec<LoggedOffence>;

/// Whether `log` already holds an offence of `validator` at `height`.
pub fn recorded(log: &[LoggedOffence], validator: &ValidatorKey, height: u64) -> bool {
    log.iter()
        .any(|entry| entry.validator == *validator && entry.height == height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;
    use crate::validators::Validator;

    fn chain() -> ChainId {
        Hash([7; 32])
    }

    fn key(label: &str) -> Keypair {
        Keypair::from_seed(&sha256(&[label.as_bytes()]).0)
    }

    fn set(keys: &[&Keypair]) -> ValidatorSet {
        ValidatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| Validator {
                    member: MemberId::new(&format!("bank-{i}")).unwrap(),
                    key: ValidatorKey(k.account().0),
                    voting_power: 10,
                })
                .collect(),
        )
        .unwrap()
    }

    fn vote(k: &Keypair, kind: VoteKind, block: Option<Hash>) -> SignedClaim {
        SignedClaim {
            block_hash: block,
            valid_round: None,
            signature: k.sign(&vote_signing_bytes(kind, &chain(), 5, 1, block.as_ref())),
        }
    }

    #[test]
    fn double_precommit_verifies_in_either_order_with_one_id() {
        let k = key("v0");
        let a = vote(&k, VoteKind::Precommit, Some(Hash([1; 32])));
        let b = vote(&k, VoteKind::Precommit, None);
        let validator = ValidatorKey(k.account().0);
        let e1 = Evidence::new(validator, EvidenceKind::Precommit, 5, 1, a, b).unwrap();
        let e2 = Evidence::new(validator, EvidenceKind::Precommit, 5, 1, b, a).unwrap();
        assert_eq!(e1, e2);
        assert_eq!(e1.id().unwrap(), e2.id().unwrap());
        let member = e1.verify(&chain(), &set(&[&k])).unwrap();
        assert_eq!(member.as_str(), "bank-0");
    }

    #[test]
    fn no_conflict_wrong_kind_outsider_and_forgery_are_refused() {
        let k = key("v0");
        let other = key("v1");
        let validator = ValidatorKey(k.account().0);
        let a = vote(&k, VoteKind::Precommit, Some(Hash([1; 32])));
        assert!(Evidence::new(validator, EvidenceKind::Precommit, 5, 1, a, a).is_none());
        let b = vote(&k, VoteKind::Precommit, Some(Hash([2; 32])));
        let good = Evidence::new(validator, EvidenceKind::Precommit, 5, 1, a, b).unwrap();
        // Signed as precommits, claimed as prevotes: the signatures fail.
        let mut as_prevote = good.clone();
        as_prevote.kind = EvidenceKind::Prevote;
        assert!(matches!(
            as_prevote.verify(&chain(), &set(&[&k])),
            Err(EvidenceError::BadSignature { .. })
        ));
        // Another chain's bytes.
        assert!(matches!(
            good.verify(&Hash([8; 32]), &set(&[&k])),
            Err(EvidenceError::BadSignature { .. })
        ));
        assert!(matches!(
            good.verify(&chain(), &set(&[&other])),
            Err(EvidenceError::NotValidator { .. })
        ));
        let mut swapped = good.clone();
        std::mem::swap(&mut swapped.first, &mut swapped.second);
        assert_eq!(swapped.check_form(), Err(EvidenceError::NotCanonical));
        let mut forged = good.clone();
        forged.second.signature = other.sign(b"x");
        assert!(forged.verify(&chain(), &set(&[&k])).is_err());
        let mut nil_proposal = good;
        nil_proposal.kind = EvidenceKind::Proposal;
        nil_proposal.first.block_hash = None;
        assert!(matches!(
            nil_proposal.check_form(),
            Err(EvidenceError::Malformed { .. })
        ));
    }

    #[test]
    fn double_proposal_verifies() {
        let k = key("v0");
        let claim = |block: Hash| SignedClaim {
            block_hash: Some(block),
            valid_round: None,
            signature: k.sign(&proposal_signing_bytes(&chain(), 9, 0, &block, None)),
        };
        let e = Evidence::new(
            ValidatorKey(k.account().0),
            EvidenceKind::Proposal,
            9,
            0,
            claim(Hash([3; 32])),
            claim(Hash([4; 32])),
        )
        .unwrap();
        e.verify(&chain(), &set(&[&k])).unwrap();
    }
}
