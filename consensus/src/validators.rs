//! The validator set: voting powers, the two quorum thresholds, and the deterministic
//! proposer rotation weighted by power.
//!
//! The rotation is a pure function of (height, round), so every validator, and a
//! validator rebuilt after a crash, agrees on the proposer without shared state. It does
//! not handle validator-set changes: a node that changes the set builds a new machine at
//! the height where the new set starts.

use crate::types::{Height, Round, ValidatorIndex};

/// The most slots in one turn of the proposer rotation. Powers whose reduced sum exceeds
/// it are scaled down to fit (every validator keeps at least one slot).
pub const PROPOSER_SCHEDULE_SLOTS_MAX: u64 = 4096;

/// Voting powers, indexed by [`ValidatorIndex`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    powers: Vec<u64>,
    total_power: u64,
    schedule: Vec<ValidatorIndex>,
}

/// Why a validator set was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidatorSetError {
    /// No validators.
    Empty,
    /// A validator with zero power would never count; leave it out instead.
    ZeroPower {
        /// The offending validator.
        validator: ValidatorIndex,
    },
    /// The powers sum to more than `u64::MAX`, or there are more than `u32::MAX` of them.
    TooLarge,
}

impl ValidatorSet {
    /// A set with the given powers; validator `i` has power `powers[i]`.
    ///
    /// # Errors
    /// An empty set, a zero power, or powers that overflow.
    pub fn new(powers: Vec<u64>) -> Result<Self, ValidatorSetError> {
        if powers.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if u32::try_from(powers.len()).is_err() {
            return Err(ValidatorSetError::TooLarge);
        }
        let mut total_power: u64 = 0;
        for (i, &power) in powers.iter().enumerate() {
            if power == 0 {
                let validator =
                    ValidatorIndex(u32::try_from(i).map_err(|_| ValidatorSetError::TooLarge)?);
                return Err(ValidatorSetError::ZeroPower { validator });
            }
            total_power = total_power
                .checked_add(power)
                .ok_or(ValidatorSetError::TooLarge)?;
        }
        let schedule = proposer_schedule(&powers, total_power);
        Ok(ValidatorSet {
            powers,
            total_power,
            schedule,
        })
    }

    /// `n` validators of equal power 1.
    ///
    /// # Errors
    /// When `n == 0`.
    pub fn equal(n: u32) -> Result<Self, ValidatorSetError> {
        ValidatorSet::new(vec![1; n as usize])
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.powers.len()
    }

    /// Whether the set is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.powers.is_empty()
    }

    /// Sum of all powers.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// The power of `validator`, or `None` if it is not in the set.
    pub fn power(&self, validator: ValidatorIndex) -> Option<u64> {
        self.powers.get(validator.0 as usize).copied()
    }

    /// All validator indices, in order.
    pub fn indices(&self) -> impl Iterator<Item = ValidatorIndex> + '_ {
        (0..self.powers.len()).filter_map(|i| u32::try_from(i).ok().map(ValidatorIndex))
    }

    /// Whether `power` is more than two thirds of the total (the paper's `2f + 1`).
    pub fn is_quorum(&self, power: u64) -> bool {
        u128::from(power) * 3 > u128::from(self.total_power) * 2
    }

    /// Whether `power` is more than one third of the total (the paper's `f + 1`): any such
    /// set of validators holds at least one honest one.
    pub fn is_one_third_plus(&self, power: u64) -> bool {
        u128::from(power) * 3 > u128::from(self.total_power)
    }

    /// The proposer of (height, round) (paper: `proposer(h, r)`).
    pub fn proposer(&self, height: Height, round: Round) -> ValidatorIndex {
        let len = self.schedule.len() as u128;
        let slot = (u128::from(height.0) + u128::from(round.0)) % len.max(1);
        // `slot < len`, and `len` came from a Vec, so it fits usize.
        let slot = usize::try_from(slot).unwrap_or(0);
        self.schedule
            .get(slot)
            .copied()
            .unwrap_or(ValidatorIndex(0))
    }
}

/// One turn of the rotation: each validator appears in proportion to its power, spread
/// out by smooth weighted round robin (each slot goes to the highest accumulated credit,
/// which then pays the total).
fn proposer_schedule(powers: &[u64], total_power: u64) -> Vec<ValidatorIndex> {
    let divisor = powers.iter().fold(0, |g, &p| gcd(g, p)).max(1);
    let reduced_total = total_power / divisor;
    let weights: Vec<u64> = powers
        .iter()
        .map(|&p| {
            let w = p / divisor;
            if reduced_total > PROPOSER_SCHEDULE_SLOTS_MAX {
                let scaled = u128::from(w) * u128::from(PROPOSER_SCHEDULE_SLOTS_MAX)
                    / u128::from(reduced_total);
                u64::try_from(scaled).unwrap_or(1).max(1)
            } else {
                w
            }
        })
        .collect();
    let slots: u64 = weights.iter().sum();
    let mut credit: Vec<i128> = vec![0; weights.len()];
    let mut schedule = Vec::new();
    for _ in 0..slots {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            credit[i] += i128::from(*w);
            if credit[i] > credit[best] {
                best = i;
            }
        }
        credit[best] -= i128::from(slots);
        schedule.push(ValidatorIndex(u32::try_from(best).unwrap_or(0)));
    }
    schedule
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}
