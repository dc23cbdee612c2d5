//! Guaranteed payments: escrows with an arbiter bank.
//!
//! Life cycle of an escrow (its id is the id of the transaction that opened
//! it):
//!
//! ```text
//!            open (buyer; amount + fee leave the buyer, amount is held)
//!              │
//!            Open ──release (buyer)──────────────► Settled: ReleasedByBuyer
//!              │  ──refund (seller)──────────────► Settled: RefundedBySeller
//!              │  ──height > confirm_deadline────► Settled: AutoReleased
//!      dispute (buyer or seller, height ≤ confirm_deadline)
//!              │
//!          Disputed ──resolve (arbiter, split)───► Settled: ResolvedByArbiter
//!              │  ──release (buyer concedes)─────► Settled: ReleasedByBuyer
//!              │  ──refund (seller concedes)─────► Settled: RefundedBySeller
//!              │  ──height > arbiter_deadline────► Settled: AutoRefunded
//! ```
//!
//! Deadlines are heights, inclusive: the confirmation deadline is the last
//! height at which the buyer may release or either party may dispute, the
//! arbiter deadline the last at which the arbiter may resolve. Deadlines are
//! enforced by the state transition at the start of each block: block `h`
//! first settles every escrow whose deadline was `h - 1` and that is still
//! in the state the deadline applies to, in the order the deadlines were
//! registered, after the credit deadlines of that height (see
//! [`super::DueItem`]). Both deadlines are registered when the escrow
//! opens, so a dispute never needs room in a deadline list, and both are
//! unregistered when it settles. A settled escrow stays in the state (with
//! how and when it settled) and never moves money again: every step checks
//! the status first, so nothing settles twice.
//!
//! The buyer chooses the arbiter and the deadlines when opening; the seller
//! sees them (`/v1/escrows/{id}`) before delivering, and should refuse an
//! arbiter it does not accept (e.g. the buyer's own bank) or an arbiter
//! deadline too close to the confirmation deadline for a dispute to be
//! heard. The chain only requires the arbiter to be a member bank and the
//! arbiter deadline to come after the confirmation deadline.
//!
//! Money held by open and disputed escrows counts in conservation: for every
//! asset, balances plus held escrows equal the supply.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::ids::{AccountId, AssetCode, Hash, MemberId};

/// An escrow, stored under `StateKey::Escrow(id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowState {
    /// Who paid in (the opening transaction's sender).
    pub buyer: AccountId,
    /// Who is paid on release.
    pub seller: AccountId,
    /// The asset held.
    pub asset: AssetCode,
    /// The amount held, minor units.
    pub amount: Amount,
    /// The member bank that resolves a dispute.
    pub arbiter: MemberId,
    /// What the payment is for.
    pub reference: Hash,
    /// Height of the opening block.
    pub opened_at: u64,
    /// Last height for the buyer's release and for disputes.
    pub confirm_deadline: u64,
    /// Last height for the arbiter's resolution.
    pub arbiter_deadline: u64,
    /// The dispute, if one was raised.
    pub dispute: Option<Dispute>,
    /// Where it stands.
    pub status: EscrowStatus,
}

/// A dispute on an escrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    /// The party that raised it.
    pub by: AccountId,
    /// Height of the block that recorded it.
    pub at: u64,
}

/// Where an escrow stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EscrowStatus {
    /// Funds held, no dispute.
    Open,
    /// Funds held, waiting for the arbiter.
    Disputed,
    /// Paid out; final.
    Settled(Settlement),
}

/// How an escrow was paid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Height of the block that settled it.
    pub at: u64,
    /// What went to the seller.
    pub to_seller: Amount,
    /// What went back to the buyer.
    pub to_buyer: Amount,
    /// Which step settled it.
    pub how: SettledBy,
}

/// Which step settled an escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettledBy {
    /// The buyer released it to the seller.
    ReleasedByBuyer,
    /// The seller refunded the buyer.
    RefundedBySeller,
    /// The confirmation deadline passed without a release or dispute.
    AutoReleased,
    /// The arbiter split it.
    ResolvedByArbiter,
    /// The arbiter deadline passed without a resolution.
    AutoRefunded,
}

impl SettledBy {
    /// A short lower-case name for the API.
    pub fn name(self) -> &'static str {
        match self {
            SettledBy::ReleasedByBuyer => "released_by_buyer",
            SettledBy::RefundedBySeller => "refunded_by_seller",
            SettledBy::AutoReleased => "auto_released",
            SettledBy::ResolvedByArbiter => "resolved_by_arbiter",
            SettledBy::AutoRefunded => "auto_refunded",
        }
    }
}

impl EscrowStatus {
    /// A short lower-case name for the API and rejection messages.
    pub fn name(&self) -> &'static str {
        match self {
            EscrowStatus::Open => "open",
            EscrowStatus::Disputed => "disputed",
            EscrowStatus::Settled(_) => "settled",
        }
    }
}

impl EscrowState {
    /// The amount the escrow holds now: all of it until it settles, then none.
    pub fn held(&self) -> Amount {
        match self.status {
            EscrowStatus::Open | EscrowStatus::Disputed => self.amount,
            EscrowStatus::Settled(_) => Amount::ZERO,
        }
    }
}

/// Escrow parameters (genesis `[escrow]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowParams {
    /// The arbiter deadline may be at most this many blocks after the
    /// opening block (bounds how long money can be held).
    pub deadline_blocks_max: u64,
}

impl Default for EscrowParams {
    fn default() -> EscrowParams {
        EscrowParams {
            deadline_blocks_max: 1_000_000,
        }
    }
}
