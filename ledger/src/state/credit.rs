//! Credit lines, credit records and the trust rating.
//!
//! **Credit lines.** The treasury of the bank hosting an account grants it a
//! line in an asset: a limit and a repayment period in blocks. The bank
//! lends its own money: when a payment needs more than the account's balance,
//! the shortfall is drawn from the line and paid out of the hosting bank's
//! treasury (so balances plus held escrows still equal the supply, and an
//! account's net position is `balance - drawn`, below zero while it owes).
//! A draw is refused when it would take `drawn` above the *usable limit*, or
//! when the treasury cannot fund it. Money arriving in that asset repays the
//! line first (back to the treasury), oldest draw first; only the rest
//! reaches the balance, so an account never holds a balance and a debt in
//! the same asset.
//!
//! A line's *debt* opens with the draw that takes it from zero and is due
//! `period_blocks` later; further draws join the open debt and its due
//! height (so a debt cannot be rolled over by paying it with new draws: only
//! money from elsewhere brings it to zero). If anything is still owed after
//! the due height, the debt becomes overdue at the start of the next block
//! (processed with the deadlines, before escrows, see [`super::DueItem`]);
//! a draw joining an overdue debt is overdue at once. Repaying in full
//! closes the debt; the next draw opens a new one. Revoking sets the limit
//! to zero: the debt stays until repaid, and the line disappears once it is
//! zero and repaid.
//!
//! **Usable limit.** `min(granted limit, cap)`, where the cap follows the
//! account's trust rating: `cap = rating × per_point(asset)` when
//! `rating ≥ min_rating`, else zero. `per_point` and `min_rating` are genesis
//! parameters (`[credit]`, `[[credit.caps]]`); an asset without a cap rule
//! offers no credit, and a grant in it is refused.
//!
//! **Credit record.** Kept per account by the state transition: payments
//! sent and received (count and volume per asset), escrows completed,
//! refunded, disputed, won and lost, credit drawn, repaid and gone overdue
//! (volume per asset), debts repaid on time (in full, by the due height, in
//! a later block than they opened), overdue events and debts overdue now,
//! and the latest attestation of each member bank.
//!
//! **Trust rating, version 1** — a pure function of the record, integers
//! only, clamped to 0..=1000 (see [`rating`]):
//!
//! ```text
//!   500
//! + min(payments sent, 200) / 2                 up to +100
//! + min(payments received, 200) / 4             up to  +50
//! + 2 × min(escrows completed, 50)              up to +100
//! + 5 × min(debts repaid on time, 20)           up to +100
//! + 25 × min(banks attesting positively, 4)     up to +100
//! − 40 × min(disputes lost, 10)                 up to −400
//! − 100 × min(overdue events, 5)                up to −500
//! − 150 if a debt is overdue now
//! − 100 × min(banks attesting negatively, 5)    up to −500
//! ```
//!
//! Payment counts are summed over assets. A dispute is won or lost only by
//! an arbiter's split: the party given more than half wins, the other loses
//! (an even split is neither). A release (also automatic) counts as
//! completed for both parties, a refund (also automatic) as refunded for
//! both, and a dispute as disputed for both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::ids::{AssetCode, Category, Hash, MemberId};

/// The rating formula versions this code knows.
pub const RATING_VERSIONS: &[u16] = &[1];

/// The highest rating.
pub const RATING_MAX: u16 = 1000;

/// Credit parameters (genesis `[credit]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditParams {
    /// Which rating formula is in force (only 1 exists).
    pub rating_version: u16,
    /// Below this rating, the usable limit of every line is zero.
    pub min_rating: u16,
    /// The longest repayment period a grant may set, in blocks.
    pub period_blocks_max: u64,
    /// Per asset: the cap on the usable limit per rating point, minor units.
    /// An asset missing here offers no credit.
    pub caps: BTreeMap<AssetCode, Amount>,
}

impl Default for CreditParams {
    fn default() -> CreditParams {
        CreditParams {
            rating_version: 1,
            min_rating: 400,
            period_blocks_max: 1_000_000,
            caps: BTreeMap::new(),
        }
    }
}

impl CreditParams {
    /// The cap on usable credit in `asset` for an account rated `rating`.
    pub fn cap(&self, asset: &AssetCode, rating: u16) -> Amount {
        if rating < self.min_rating {
            return Amount::ZERO;
        }
        match self.caps.get(asset) {
            // Saturates rather than fails: a cap above 2^128 caps nothing.
            Some(per_point) => Amount(per_point.0.saturating_mul(u128::from(rating))),
            None => Amount::ZERO,
        }
    }
}

/// A count and a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub count: u64,
    /// How much in all, minor units (saturating: statistics, not money).
    pub volume: Amount,
}

impl Tally {
    fn add(&mut self, amount: Amount) {
        self.count = self.count.saturating_add(1);
        self.volume = self.volume.saturating_add(amount);
    }
}

/// Escrow outcomes an account took part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EscrowTally {
    /// Released to the seller (by the buyer or at the deadline).
    pub completed: u64,
    /// Refunded to the buyer (by the seller or after an unresolved dispute).
    pub refunded: u64,
    /// Disputed (by either party).
    pub disputed: u64,
    /// Disputes the arbiter decided for this account.
    pub won: u64,
    /// Disputes the arbiter decided against this account.
    pub lost: u64,
}

/// Credit volumes in one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreditTally {
    /// Drawn in all.
    pub drawn: Amount,
    /// Repaid in all.
    pub repaid: Amount,
    /// Gone overdue in all (counted when a debt goes overdue, and for draws
    /// joining an overdue debt).
    pub overdue: Amount,
}

/// A bank's latest attestation about an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationEntry {
    /// Favourable or adverse.
    pub positive: bool,
    /// What it is about.
    pub category: Category,
    /// The bank's evidence reference.
    pub reference: Hash,
    /// Height of the block that recorded it.
    pub at: u64,
}

/// An account's credit record, kept by the state transition.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreditRecord {
    /// Transfers sent, per asset.
    pub sent: BTreeMap<AssetCode, Tally>,
    /// Transfers received, per asset.
    pub received: BTreeMap<AssetCode, Tally>,
    /// Escrow outcomes.
    pub escrows: EscrowTally,
    /// Credit volumes per asset.
    pub credit: BTreeMap<AssetCode, CreditTally>,
    /// Debts repaid in full by their due height (in a later block than
    /// they opened).
    pub repaid_on_time: u64,
    /// Debts that went overdue, ever.
    pub overdue_events: u64,
    /// Debts overdue now (not yet repaid).
    pub overdue_open: u64,
    /// Each member bank's latest attestation.
    pub attestations: BTreeMap<MemberId, AttestationEntry>,
    /// Attestations filed in all (including replaced ones).
    pub attestations_filed: u64,
}

impl CreditRecord {
    /// Counts a transfer sent.
    pub fn sent(&mut self, asset: &AssetCode, amount: Amount) {
        count(&mut self.sent, asset, amount);
    }

    /// Counts a transfer received.
    pub fn received(&mut self, asset: &AssetCode, amount: Amount) {
        count(&mut self.received, asset, amount);
    }

    fn credit_tally(&mut self, asset: &AssetCode) -> &mut CreditTally {
        self.credit.entry(asset.clone()).or_default()
    }

    /// Banks whose latest attestation is favourable / adverse.
    pub fn attesting_banks(&self) -> (u64, u64) {
        let positive = self.attestations.values().filter(|a| a.positive).count();
        let negative = self.attestations.len() - positive;
        (positive as u64, negative as u64)
    }
}

/// Counts `amount` in the tally of `asset`, created empty if need be (the
/// code is copied only then: most payments move an asset the account has
/// moved before).
fn count(tallies: &mut BTreeMap<AssetCode, Tally>, asset: &AssetCode, amount: Amount) {
    match tallies.get_mut(asset) {
        Some(tally) => tally.add(amount),
        None => tallies.entry(asset.clone()).or_default().add(amount),
    }
}

/// The trust rating of `record` under formula `version`, or `None` for a
/// version this code does not know (genesis validation refuses those).
pub fn rating(record: &CreditRecord, version: u16) -> Option<u16> {
    match version {
        1 => Some(rating_v1(record)),
        _ => None,
    }
}

fn rating_v1(record: &CreditRecord) -> u16 {
    let count = |tallies: &BTreeMap<AssetCode, Tally>| {
        tallies
            .values()
            .fold(0u64, |sum, tally| sum.saturating_add(tally.count))
    };
    // Every term is bounded by its `min`, so i64 arithmetic cannot overflow.
    let capped = |value: u64, cap: u64| i64::try_from(value.min(cap)).unwrap_or(0);
    let (positive, negative) = record.attesting_banks();
    let mut score: i64 = 500;
    score += capped(count(&record.sent), 200) / 2;
    score += capped(count(&record.received), 200) / 4;
    score += 2 * capped(record.escrows.completed, 50);
    score += 5 * capped(record.repaid_on_time, 20);
    score += 25 * capped(positive, 4);
    score -= 40 * capped(record.escrows.lost, 10);
    score -= 100 * capped(record.overdue_events, 5);
    if record.overdue_open > 0 {
        score -= 150;
    }
    score -= 100 * capped(negative, 5);
    u16::try_from(score.clamp(0, i64::from(RATING_MAX))).unwrap_or(0)
}

/// What a line owes and by when: open from the draw that took the line's
/// debt from zero until the debt is repaid in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debt {
    /// Height of the draw that opened it.
    pub since: u64,
    /// The last height by which all of it must be repaid.
    pub due: u64,
    /// Whether the due height passed with something still owed.
    pub overdue: bool,
}

/// A credit line of an account in one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLine {
    /// The granted limit (zero once revoked).
    pub limit: Amount,
    /// Blocks within which a debt must be repaid.
    pub period_blocks: u64,
    /// Owed now.
    pub drawn: Amount,
    /// The open debt's terms: `Some` exactly while `drawn` is not zero.
    pub debt: Option<Debt>,
    /// Height of the latest grant.
    pub granted_at: u64,
}

impl CreditLine {
    /// The most that may be owed at once: the granted limit, capped by the
    /// rating.
    pub fn usable(&self, params: &CreditParams, asset: &AssetCode, rating: u16) -> Amount {
        self.limit.min(params.cap(asset, rating))
    }

    /// What is overdue now.
    pub fn overdue(&self) -> Amount {
        match self.debt {
            Some(debt) if debt.overdue => self.drawn,
            _ => Amount::ZERO,
        }
    }

    /// Records a draw of `amount` at `height`. Returns the due height when
    /// the draw opened a debt (its deadline must be registered), or `None`
    /// when it joined the open one. `None` also on overflow of `drawn`,
    /// which the caller rules out by checking `drawn + amount ≤ usable`.
    pub(crate) fn draw(
        &mut self,
        record: &mut CreditRecord,
        asset: &AssetCode,
        amount: Amount,
        height: u64,
    ) -> Option<Option<u64>> {
        self.drawn = self.drawn.checked_add(amount)?;
        let tally = record.credit_tally(asset);
        tally.drawn = tally.drawn.saturating_add(amount);
        match &self.debt {
            // Joining an overdue debt: the new money is overdue at once,
            // and counts as gone overdue.
            Some(debt) => {
                if debt.overdue {
                    tally.overdue = tally.overdue.saturating_add(amount);
                }
                Some(None)
            }
            None => {
                let due = height.saturating_add(self.period_blocks);
                self.debt = Some(Debt {
                    since: height,
                    due,
                    overdue: false,
                });
                Some(Some(due))
            }
        }
    }

    /// Repays up to `amount` at `height`; returns what was repaid (at most
    /// `drawn`). Repaying the debt in full closes it: on time if by its due
    /// height and in a later block than it opened (a draw and its repayment
    /// in one block prove nothing), else clearing an overdue debt.
    pub(crate) fn repay(
        &mut self,
        record: &mut CreditRecord,
        asset: &AssetCode,
        amount: Amount,
        height: u64,
    ) -> Amount {
        let repaid = self.drawn.min(amount);
        // `repaid ≤ drawn`.
        self.drawn = Amount(self.drawn.0 - repaid.0);
        let tally = record.credit_tally(asset);
        tally.repaid = tally.repaid.saturating_add(repaid);
        if self.drawn.is_zero()
            && let Some(debt) = self.debt.take()
        {
            if debt.overdue {
                record.overdue_open = record.overdue_open.saturating_sub(1);
            } else if height <= debt.due && height > debt.since {
                record.repaid_on_time = record.repaid_on_time.saturating_add(1);
            }
        }
        repaid
    }

    /// Marks the debt overdue if its due height is before `height` (once);
    /// returns whether it went overdue now.
    pub(crate) fn mark_overdue(
        &mut self,
        record: &mut CreditRecord,
        asset: &AssetCode,
        height: u64,
    ) -> bool {
        let Some(debt) = &mut self.debt else {
            return false;
        };
        if debt.overdue || debt.due >= height {
            return false;
        }
        debt.overdue = true;
        record.overdue_events = record.overdue_events.saturating_add(1);
        record.overdue_open = record.overdue_open.saturating_add(1);
        let tally = record.credit_tally(asset);
        tally.overdue = tally.overdue.saturating_add(self.drawn);
        true
    }

    /// Whether the line can be forgotten: revoked and nothing owed.
    pub fn is_closed(&self) -> bool {
        self.limit.is_zero() && self.drawn.is_zero()
    }
}
