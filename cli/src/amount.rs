//! Human amounts: `"12.50 CNY"` on the command line, minor units on the
//! wire. Parsing is two steps because the asset's decimals come from the
//! chain: [`HumanAmount::parse`] reads the number and the asset code,
//! [`HumanAmount::to_minor_units`] applies the decimals (refusing more
//! fractional digits than the asset has, e.g. `12.505 CNY`).

use std::fmt;

use clearhouse_ledger::{Amount, AssetCode};

use crate::exit::CliError;

/// An amount as typed: digits with an optional fraction, and an asset code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanAmount {
    /// The number as typed, e.g. `12.50`.
    pub number: String,
    /// The asset, e.g. `CNY`.
    pub asset: AssetCode,
}

impl HumanAmount {
    /// Reads `"<number> <ASSET>"`, e.g. `12.50 CNY`.
    pub fn parse(text: &str) -> Result<HumanAmount, CliError> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [number, asset] = parts.as_slice() else {
            return Err(CliError::Usage(format!(
                "invalid amount {text:?}: expected a number and an asset, e.g. \"12.50 CNY\""
            )));
        };
        let asset = AssetCode::new(asset)
            .map_err(|e| CliError::Usage(format!("invalid amount {text:?}: {e}")))?;
        Ok(HumanAmount {
            number: (*number).to_owned(),
            asset,
        })
    }

    /// Minor units, given the asset's decimals.
    pub fn to_minor_units(&self, decimals: u8) -> Result<Amount, CliError> {
        Amount::parse_decimal(&self.number, decimals)
            .map_err(|e| CliError::Usage(format!("{e} (amount of {})", self.asset.as_str())))
    }
}

impl fmt::Display for HumanAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number, self.asset.as_str())
    }
}

/// `amount` of `asset` for people: `12.50 CNY`.
pub fn format(amount: Amount, decimals: u8, asset: &str) -> String {
    format!("{} {asset}", amount.to_decimal_string(decimals))
}

/// The decimals implied by a decimal string the node produced (`"12.50"` →
/// 2, `"100"` → 0).
pub fn decimals_of(text: &str) -> Option<u8> {
    match text.split_once('.') {
        None => Some(0),
        Some((_, fraction)) => u8::try_from(fraction.len()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_number_and_asset() {
        let amount = HumanAmount::parse(" 12.50  CNY ").unwrap();
        assert_eq!(amount.number, "12.50");
        assert_eq!(amount.asset.as_str(), "CNY");
        assert_eq!(amount.to_minor_units(2).unwrap(), Amount(1250));
        assert_eq!(amount.to_string(), "12.50 CNY");
    }

    #[test]
    fn refuses_bad_amounts() {
        for text in ["12.50", "CNY", "12.50 cny", "1 2 CNY", ""] {
            let error = HumanAmount::parse(text).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{text}");
        }
        let too_precise = HumanAmount::parse("12.505 CNY").unwrap();
        assert_eq!(too_precise.to_minor_units(2).unwrap_err().exit_code(), 2);
        let negative = HumanAmount::parse("-1 CNY").unwrap();
        assert!(negative.to_minor_units(2).is_err());
    }

    #[test]
    fn formats_and_reads_decimals() {
        assert_eq!(format(Amount(1250), 2, "CNY"), "12.50 CNY");
        assert_eq!(format(Amount(7), 0, "JPY"), "7 JPY");
        assert_eq!(decimals_of("12.50"), Some(2));
        assert_eq!(decimals_of("100"), Some(0));
    }
}
