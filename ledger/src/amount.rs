//! Money: [`Amount`] is a count of an asset's minor units (cents, fen, yen) in a
//! `u128`. Arithmetic is checked only: there is no `Add` impl to misuse, every
//! operation that can overflow returns `Option`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most decimal places an asset may declare: 10^18 still leaves 20 integer
/// digits in a `u128`.
pub const DECIMALS_MAX: u8 = 18;

/// An amount in an asset's minor units.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` if it would go below zero.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `self * bps / 10_000`, rounded down, or `None` if the result overflows.
    /// Computed as `(q * bps) + (r * bps / 10_000)` with `self = q * 10_000 + r`,
    /// which is exact and never overflows when the result fits.
    pub fn checked_basis_points(self, bps: u16) -> Option<Amount> {
        let bps = u128::from(bps);
        let whole = (self.0 / 10_000).checked_mul(bps)?;
        let part = (self.0 % 10_000) * bps / 10_000;
        whole.checked_add(part).map(Amount)
    }

    /// `self + other`, capped at the largest amount: for statistics (a
    /// credit record's volumes), never for balances.
    pub fn saturating_add(self, other: Amount) -> Amount {
        Amount(self.0.saturating_add(other.0))
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Amount) -> Amount {
        Amount(self.0.min(other.0))
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a human amount with at most `decimals` fractional digits:
    /// `"12.5"` with 2 decimals is 1250 minor units. No sign, no exponent,
    /// no separators; `"12."` and `".5"` are refused.
    pub fn parse_decimal(text: &str, decimals: u8) -> Result<Amount, AmountError> {
        let bad = || AmountError::Syntax {
            text: text.to_owned(),
            decimals,
        };
        if decimals > DECIMALS_MAX {
            return Err(bad());
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (text, ""),
        };
        let digits_only = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (text.contains('.') && fraction.is_empty())
            || fraction.len() > usize::from(decimals)
        {
            return Err(bad());
        }
        let overflow = || AmountError::Overflow(text.to_owned());
        let scale = 10u128.pow(u32::from(decimals));
        let whole: u128 = whole.parse().map_err(|_| overflow())?;
        let mut fraction_units: u128 = 0;
        if !fraction.is_empty() {
            fraction_units = fraction.parse().map_err(|_| overflow())?;
            let missing = u32::from(decimals) - u32::try_from(fraction.len()).map_err(|_| bad())?;
            fraction_units *= 10u128.pow(missing);
        }
        whole
            .checked_mul(scale)
            .and_then(|units| units.checked_add(fraction_units))
            .map(Amount)
            .ok_or_else(overflow)
    }

    /// Formats with exactly `decimals` fractional digits: 1250 with 2 is `"12.50"`.
    pub fn to_decimal_string(self, decimals: u8) -> String {
        if decimals == 0 {
            return self.0.to_string();
        }
        let scale = 10u128.pow(u32::from(decimals.min(DECIMALS_MAX)));
        format!(
            "{}.{:0width$}",
            self.0 / scale,
            self.0 % scale,
            width = usize::from(decimals)
        )
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

/// An exchange rate as an exact fraction of minor units: `numerator`
/// minor units of the asset paid out for every `denominator` minor units of
/// the asset paid in. A rate with a zero part is representable (so a bad
/// quote decodes and is refused with a typed reason) but converts nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Rate {
    /// Minor units paid out per `denominator` minor units paid in.
    pub numerator: u64,
    /// Minor units paid in per `numerator` minor units paid out.
    pub denominator: u64,
}

impl Rate {
    /// `numerator / denominator` in lowest terms, or `None` when a part
    /// is zero or the reduced fraction does not fit in 64 bits.
    pub fn reduced(numerator: u128, denominator: u128) -> Option<Rate> {
        if numerator == 0 || denominator == 0 {
            return None;
        }
        let (mut a, mut b) = (numerator, denominator);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        Some(Rate {
            numerator: u64::try_from(numerator / a).ok()?,
            denominator: u64::try_from(denominator / a).ok()?,
        })
    }

    /// Whether both parts are non-zero.
    pub fn is_valid(&self) -> bool {
        self.numerator != 0 && self.denominator != 0
    }

    /// What `amount` paid in converts to: `amount × numerator /
    /// denominator`, rounded down (the payee never receives more than the
    /// rate gives), or `None` for an invalid rate or a result that does not
    /// fit. Exact: with `amount = q × denominator + r`, it is `q × numerator
    /// + r × numerator / denominator`, and `r × numerator < 2^128`.
    pub fn convert(&self, amount: Amount) -> Option<Amount> {
        if !self.is_valid() {
            return None;
        }
        let (numerator, denominator) = (u128::from(self.numerator), u128::from(self.denominator));
        let whole = (amount.0 / denominator).checked_mul(numerator)?;
        let part = (amount.0 % denominator) * numerator / denominator;
        whole.checked_add(part).map(Amount)
    }

    /// Orders rates by what they pay out per unit paid in (cross
    /// multiplied, exact): `Greater` when `self` pays more.
    pub fn compare(&self, other: &Rate) -> std::cmp::Ordering {
        let left = u128::from(self.numerator) * u128::from(other.denominator);
        let right = u128::from(other.numerator) * u128::from(self.denominator);
        left.cmp(&right)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// A human amount that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not digits with an optional fraction of at most `decimals` digits.
    #[error("invalid amount {text:?}: expected digits with at most {decimals} decimal places")]
    Syntax {
        /// What was given.
        text: String,
        /// How many decimal places the asset allows.
        decimals: u8,
    },
    /// Does not fit in 128 bits of minor units.
    #[error("amount {0:?} is too large")]
    Overflow(String),
}
