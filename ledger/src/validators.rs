//! The validator set: each member bank's validator key and voting power.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::crypto::{sha256, tag};
use crate::ids::{Hash, IdError, MemberId};

/// A validator's ed25519 public key (signs proposals and votes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ValidatorKey(pub [u8; 32]);

impl ValidatorKey {
    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<ValidatorKey, IdError> {
        Ok(ValidatorKey(Hash::from_hex(text)?.0))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorKey({})", &self.to_hex()[..16])
    }
}

/// One validator: the member bank it belongs to, its key and voting power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The bank running it.
    pub member: MemberId,
    /// Its signing key.
    pub key: ValidatorKey,
    /// Its weight in every quorum (never zero).
    pub voting_power: u64,
}

/// The validators in force at a height, in genesis order (which fixes
/// proposer rotation). Construction guarantees distinct keys, non-zero powers
/// and a total that fits a `u64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Validator>", into = "Vec<Validator>")]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

/// Why a list of validators is not a valid set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validators.
    #[error("the validator set is empty")]
    Empty,
    /// A validator with no power.
    #[error("validator of member {0} has zero voting power")]
    ZeroPower(MemberId),
    /// One key twice.
    #[error("validator key {0} appears twice")]
    DuplicateKey(ValidatorKey),
    /// More than [`VALIDATORS_MAX`] validators.
    #[error("{0} validators, at most {VALIDATORS_MAX} allowed")]
    TooMany(usize),
    /// The total power does not fit in a u64.
    #[error("total voting power overflows")]
    PowerOverflow,
}

impl TryFrom<Vec<Validator>> for ValidatorSet {
    type Error = ValidatorSetError;
    fn try_from(validators: Vec<Validator>) -> Result<Self, Self::Error> {
        ValidatorSet::new(validators)
    }
}

impl From<ValidatorSet> for Vec<Validator> {
    fn from(set: ValidatorSet) -> Vec<Validator> {
        set.validators
    }
}

/// Most validators a set may hold (certificates must fit their byte limit).
pub const VALIDATORS_MAX: usize = 512;

impl ValidatorSet {
    /// Checks and wraps a list of validators.
    pub fn new(validators: Vec<Validator>) -> Result<ValidatorSet, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if validators.len() > VALIDATORS_MAX {
            return Err(ValidatorSetError::TooMany(validators.len()));
        }
        let mut total: u64 = 0;
        for (index, validator) in validators.iter().enumerate() {
            if validator.voting_power == 0 {
                return Err(ValidatorSetError::ZeroPower(validator.member.clone()));
            }
            if validators[..index].iter().any(|v| v.key == validator.key) {
                return Err(ValidatorSetError::DuplicateKey(validator.key));
            }
            total = total
                .checked_add(validator.voting_power)
                .ok_or(ValidatorSetError::PowerOverflow)?;
        }
        Ok(ValidatorSet { validators })
    }

    /// The validators in order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The validator with this key.
    pub fn get(&self, key: &ValidatorKey) -> Option<&Validator> {
        self.validators.iter().find(|v| v.key == *key)
    }

    /// The sum of all voting power.
    pub fn total_power(&self) -> u64 {
        // Cannot overflow: checked in `new`.
        self.validators.iter().map(|v| v.voting_power).sum()
    }

    /// Whether `power` is more than two thirds of the total.
    pub fn is_quorum(&self, power: u64) -> bool {
        u128::from(power) * 3 > u128::from(self.total_power()) * 2
    }

    /// The least power that is a quorum (more than two thirds of the
    /// total): what a commit certificate must gather.
    pub fn quorum_power(&self) -> u64 {
        let total = self.total_power();
        // total - total / 3 is at least two thirds; one more than the
        // largest power that is not a quorum, computed without overflow:
        // floor(2t/3) + 1 = t - ceil(t/3) + 1.
        total - total.div_ceil(3) + 1
    }

    /// The hash committed to in every block header.
    pub fn hash(&self) -> Result<Hash, CodecError> {
        Ok(sha256(&[tag::VALIDATOR_SET, &codec::encode(self)?]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn set(powers: &[u64]) -> ValidatorSet {
        ValidatorSet::new(
            powers
                .iter()
                .enumerate()
                .map(|(i, power)| Validator {
                    member: MemberId::new(&format!("bank-{i}")).unwrap(),
                    key: ValidatorKey([u8::try_from(i).unwrap(); 32]),
                    voting_power: *power,
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn the_quorum_power_is_the_least_quorum() {
        for powers in [
            &[1][..],
            &[1, 1],
            &[1, 1, 1],
            &[10; 4],
            &[10, 10, 10, 12, 7],
            &[u64::MAX / 2, u64::MAX / 2],
        ] {
            let set = set(powers);
            let quorum = set.quorum_power();
            assert!(set.is_quorum(quorum), "{powers:?}");
            assert!(!set.is_quorum(quorum - 1), "{powers:?}");
        }
    }
}
