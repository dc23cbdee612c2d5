//! Settlement across currencies: atomic swaps and FX quotes.
//!
//! **Swaps** (payment versus payment, `Body::Swap`) need no state: one
//! transaction carries both legs and both parties' signatures (the
//! sender's over the envelope, the counterparty's over the swap consent
//! bytes, see `Transaction::swap_consent_bytes`). Both legs run in one
//! step, so a failure of either (insufficient funds on either side, a fee
//! above either party's maximum, an unknown account, a bad consent) undoes
//! both. A consent names the sender's nonce, so it is good for exactly one
//! transaction, and the envelope's expiry height bounds how long it waits.
//!
//! **Quotes** are state ([`QuoteState`], under `StateKey::Quote(id)`, the
//! id being the posting transaction's): a member bank's treasury offers to
//! pay out `pay_asset` for `receive_asset` at an exact [`Rate`] up to a
//! maximum, through a height. A cross-currency transfer (`Body::
//! CrossTransfer`) names a quote; in one step:
//!
//! 1. the payer pays `amount` of `receive_asset` to the quoting bank's
//!    treasury, plus the fee of the schedule of `receive_asset`, on top
//!    (split between the payer's and the payee's bank as any transfer's);
//! 2. the treasury pays `rate.convert(amount)` of `pay_asset` to the payee:
//!    `amount × numerator / denominator`, **rounded down**, so the payee
//!    never receives more than the quote gives and the quoting bank never
//!    pays more than it offered;
//! 3. the quote's remaining size goes down by what was paid out; a quote
//!    paid down to zero is deleted.
//!
//! A bank has at most [`QUOTES_PER_BANK_MAX`] live quotes (its
//! [`QuoteBook`], under `StateKey::QuoteBook(bank)`, lists them in posting
//! order): one more is refused (`TooManyQuotes`), which bounds the quotes
//! the chain holds, the work of listing them, and the room a bank's quotes
//! take in a height's deadline list.
//!
//! A quote is usable through `valid_until` inclusive; block `valid_until +
//! 1` deletes it (a [`super::DueItem::Quote`]), as does a withdrawal by
//! the posting bank. `valid_until` may be at most the escrow horizon
//! (`Params::escrow.deadline_blocks_max`) ahead. A quote holds no money:
//! the treasury pays out of its balance when a transfer converts, and a
//! treasury that cannot cover the conversion rejects that transfer
//! (`QuoteUnfunded`), not the quote.

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Rate};
use crate::ids::{AssetCode, Hash, MemberId};

/// Most live quotes one bank may have.
pub const QUOTES_PER_BANK_MAX: usize = 64;

/// A bank's live quotes, by id, in posting order (never empty: a bank
/// without live quotes has no book).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuoteBook {
    /// The ids of its live quotes.
    pub live: Vec<Hash>,
}

/// A live FX quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteState {
    /// The bank whose treasury posted it and pays out.
    pub provider: MemberId,
    /// What the bank pays out.
    pub pay_asset: AssetCode,
    /// What it takes in.
    pub receive_asset: AssetCode,
    /// Minor units of `pay_asset` per minor units of `receive_asset`.
    pub rate: Rate,
    /// How much of `pay_asset` it still pays out in all (never zero: a
    /// quote paid down to zero is deleted).
    pub remaining: Amount,
    /// The last height at which it may be used.
    pub valid_until: u64,
    /// The height it was posted at.
    pub posted_at: u64,
}
