//! Why an included transaction did not take effect.
//!
//! [`RejectReason`] is the typed verdict a receipt carries when a
//! transaction was included in a block but changed nothing (beyond, when
//! its nonce matched, the sender's nonce): one variant per rule the state
//! transition checks, each carrying the offending data. Execution is total,
//! so every way a body can fail is a variant here, never a panic.
//!
//! Only the reasons live here: the rules that produce them are in
//! `state::exec` (one helper per body), and the escrow and credit variants
//! follow the life cycles documented in [`super::escrow`] and
//! [`super::credit`]. A receipt's encoding, variant index included, feeds
//! the receipts root, so reordering or changing a variant would change the
//! roots of blocks already committed: new reasons go at the end.

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Rate};
use crate::ids::{AccountId, AssetCode, Hash, MemberId};
use crate::sealed::SealingKey;

use super::governance::MemberStatus;

/// Why a transaction was included but did not take effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RejectReason {
    /// Included after its expiry height.
    #[error("expired at height {expiry_height}, block is at {height}")]
    Expired {
        /// The transaction's last valid height.
        expiry_height: u64,
        /// The block's height.
        height: u64,
    },
    /// The sender is not a registered account.
    #[error("sender is not a registered account")]
    UnknownSender,
    /// Not the sender's next nonce (replayed or skipped).
    #[error("bad nonce: expected {expected}, got {found}")]
    BadNonce {
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The sender used its last nonce (2^64 - 1): it can send nothing more.
    #[error("the sender's nonces are exhausted")]
    NonceExhausted,
    /// An account the body names is not registered.
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    /// An asset the body names does not exist.
    #[error("unknown asset {0}")]
    UnknownAsset(AssetCode),
    /// Amounts must be positive.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A transfer to the sender itself (it would only pay a fee, and would
    /// count as payments in the sender's credit record).
    #[error("a transfer must go to another account")]
    SelfTransfer,
    /// Not enough money.
    #[error("insufficient funds: need {needed} {asset}, have {available}")]
    InsufficientFunds {
        /// The asset.
        asset: AssetCode,
        /// Amount plus fee, minor units.
        needed: Amount,
        /// The sender's balance.
        available: Amount,
    },
    /// The schedule's fee exceeds what the sender accepted.
    #[error("fee {required} exceeds the sender's maximum {maximum}")]
    FeeAboveMaximum {
        /// The schedule's fee.
        required: Amount,
        /// The envelope's fee.
        maximum: Amount,
    },
    /// Issue or redeem by someone other than the issuer's treasury.
    #[error("only the treasury of {issuer}, the issuer of {asset}, may do this")]
    NotIssuer {
        /// The asset.
        asset: AssetCode,
        /// Its issuer.
        issuer: MemberId,
    },
    /// A bank-only action by an account that is no bank's treasury.
    #[error("only a member bank's treasury may do this")]
    NotBank,
    /// Registering an account that exists.
    #[error("account {0} is already registered")]
    AccountExists(AccountId),
    /// Registering bytes that are not an ed25519 public key.
    #[error("account key is not a valid ed25519 public key")]
    InvalidKey,
    /// Registering a small-order key, under which signatures prove nothing.
    #[error("account key is weak (small order)")]
    WeakKey,
    /// A balance or supply would exceed 2^128 - 1.
    #[error("amount overflow in {0}")]
    Overflow(AssetCode),
    /// The escrow does not exist.
    #[error("no escrow {0}")]
    EscrowNotFound(Hash),
    /// The escrow has already been paid out.
    #[error("escrow {0} is already settled")]
    EscrowSettled(Hash),
    /// The step does not apply to the escrow as it stands.
    #[error("escrow {escrow} is {status}: this step does not apply")]
    WrongEscrowStatus {
        /// The escrow.
        escrow: Hash,
        /// Its status (`open` or `disputed`).
        status: String,
    },
    /// Only the buyer may release.
    #[error("only the escrow's buyer may do this")]
    NotBuyer,
    /// Only the seller may refund.
    #[error("only the escrow's seller may do this")]
    NotSeller,
    /// Only the buyer or the seller may dispute.
    #[error("only the escrow's buyer or seller may do this")]
    NotParty,
    /// Only the arbiter's treasury may resolve.
    #[error("only the treasury of {arbiter}, the escrow's arbiter, may do this")]
    NotArbiter {
        /// The escrow's arbiter.
        arbiter: MemberId,
    },
    /// An escrow paying its own buyer.
    #[error("the seller must not be the buyer")]
    SellerIsBuyer,
    /// A member id that is not a member.
    #[error("{0} is not a member bank")]
    UnknownMember(MemberId),
    /// The deadline for this step has passed (or an escrow was opened with
    /// a confirmation deadline already behind).
    #[error("deadline {deadline} has passed, block is at {height}")]
    DeadlinePassed {
        /// The deadline.
        deadline: u64,
        /// The block's height.
        height: u64,
    },
    /// The arbiter deadline must come after the confirmation deadline.
    #[error(
        "arbiter deadline {arbiter_deadline} is not after confirmation deadline {confirm_deadline}"
    )]
    DeadlineOrder {
        /// The confirmation deadline.
        confirm_deadline: u64,
        /// The arbiter deadline.
        arbiter_deadline: u64,
    },
    /// A deadline beyond the escrow horizon of the chain parameters.
    #[error("deadline {deadline} is beyond the latest allowed, {latest}")]
    DeadlineTooFar {
        /// The deadline.
        deadline: u64,
        /// The latest allowed.
        latest: u64,
    },
    /// An arbiter's split giving the seller more than is held.
    #[error("split gives the seller {to_seller} of an escrow of {amount}")]
    SplitTooLarge {
        /// The seller's part.
        to_seller: Amount,
        /// The escrowed amount.
        amount: Amount,
    },
    /// The height already carries [`DUE_ITEMS_MAX`](super::DUE_ITEMS_MAX) deadlines.
    #[error("too many deadlines at height {height}; choose another")]
    DueListFull {
        /// The crowded height.
        height: u64,
    },
    /// A credit step by a treasury other than the account's hosting bank's.
    #[error("only the treasury of {bank}, the account's bank, may do this")]
    NotHostingBank {
        /// The account's bank.
        bank: MemberId,
    },
    /// Credit lines are for customers, not for bank treasuries.
    #[error("a bank treasury cannot hold a credit line")]
    CreditForBank,
    /// The chain parameters set no rating cap for this asset.
    #[error("credit is not offered in {0}")]
    CreditNotOffered(AssetCode),
    /// A repayment period of zero or above the maximum.
    #[error("repayment period {period_blocks} blocks: must be 1 to {max}")]
    PeriodInvalid {
        /// The requested period.
        period_blocks: u64,
        /// The largest allowed.
        max: u64,
    },
    /// Revoking a line that does not exist.
    #[error("no credit line in {0}")]
    NoCreditLine(AssetCode),
    /// The hosting bank's treasury cannot fund a draw on a credit line.
    #[error("{bank} cannot fund the credit draw: needs {needed} {asset}, holds {available}")]
    LenderInsufficientFunds {
        /// The lending bank.
        bank: MemberId,
        /// The asset.
        asset: AssetCode,
        /// The draw.
        needed: Amount,
        /// The treasury's balance.
        available: Amount,
    },
    /// Registering a key that is a bank's API request key, an auditor's or
    /// a regulator's: a request key names one caller and is never an
    /// account (the API would not know whose data it may read).
    #[error(
        "key {0} is an API request key (a bank's, an auditor's or a regulator's), not an account"
    )]
    ReservedKey(AccountId),
    /// Sealed payment details where a bank on either side publishes no
    /// sealing key: its node could not read them.
    #[error(
        "{0} publishes no sealing key: payments of its customers can carry details in the clear only"
    )]
    NoSealingKey(MemberId),
    /// Sealed payment details that leave out someone who must be able to
    /// read them (either bank, or a regulator).
    #[error("the sealed details are not sealed for {0}, who must be able to read them")]
    NotSealedFor(MemberId),
    /// Sealed payment details naming a key that is no member's or
    /// overseer's sealing key.
    #[error("sealing key {0} is not a sealing key of this chain")]
    UnknownSealingKey(SealingKey),
    /// Sealed payment details sealed for a member bank on neither side of
    /// the payment: it would read another bank's customers' references.
    #[error("the sealed details are sealed for {0}, which is on neither side of the payment")]
    SealedForOutsider(MemberId),
    /// A swap whose counterparty's consent does not verify (missing,
    /// for other terms, or by another key).
    #[error("the counterparty's consent signature does not verify")]
    BadConsent,
    /// A swap or a quote whose two assets are one.
    #[error("both sides are {0}: an exchange needs two assets")]
    SameAsset(AssetCode),
    /// A quote rate with a zero part.
    #[error("rate {0} is not valid: both parts must be above zero")]
    InvalidRate(Rate),
    /// No live quote has this id (never posted, withdrawn, used up, or
    /// expired and deleted).
    #[error("no live quote {0}")]
    QuoteNotFound(Hash),
    /// The quote's last height has passed (a guard: the block after its
    /// last height deletes a quote, so a later transfer finds none,
    /// `QuoteNotFound`).
    #[error("quote valid until height {valid_until}, block is at {height}")]
    QuoteExpired {
        /// The quote's last height.
        valid_until: u64,
        /// The block's height.
        height: u64,
    },
    /// The quote takes in another asset than the one paid.
    #[error("the quote takes {expected}, the transfer pays {found}")]
    QuoteAssetMismatch {
        /// The quote's `receive_asset`.
        expected: AssetCode,
        /// The transfer's asset.
        found: AssetCode,
    },
    /// The conversion needs more than the quote has left.
    #[error("the quote has {remaining} left, the conversion needs {needed}")]
    QuoteExhausted {
        /// What the quote still pays out.
        remaining: Amount,
        /// What this conversion would pay out.
        needed: Amount,
    },
    /// The amount converts to nothing at the quote's rate.
    #[error("{amount} converts to nothing at rate {rate}")]
    ConversionTooSmall {
        /// The amount paid.
        amount: Amount,
        /// The quote's rate.
        rate: Rate,
    },
    /// The quoting bank's treasury cannot pay out the conversion.
    #[error("{bank} cannot fund the conversion: needs {needed} {asset}, holds {available}")]
    QuoteUnfunded {
        /// The quoting bank.
        bank: MemberId,
        /// The asset paid out.
        asset: AssetCode,
        /// The conversion.
        needed: Amount,
        /// The treasury's balance.
        available: Amount,
    },
    /// Withdrawing a quote another bank posted.
    #[error("only the treasury of {0}, which posted the quote, may withdraw it")]
    NotQuoteProvider(MemberId),
    /// A bank posting a quote beyond its
    /// [`QUOTES_PER_BANK_MAX`](super::fx::QUOTES_PER_BANK_MAX) live ones.
    #[error("{bank} has {max} live quotes, the most a bank may have; withdraw one first")]
    TooManyQuotes {
        /// The bank.
        bank: MemberId,
        /// The limit.
        max: u64,
    },
    /// The sender's bank is suspended or removed: its accounts send nothing.
    #[error("bank {bank} is {status}: its accounts cannot send")]
    BankNotActive {
        /// The bank.
        bank: MemberId,
        /// Its status.
        status: MemberStatus,
    },
    /// A proposal or vote not sent from a member's governance account.
    #[error("only a member bank's governance account may propose or vote")]
    NotGovernor,
    /// A voting period outside the governance bounds.
    #[error("voting period of {period} blocks, must be {min} to {max}")]
    VotingPeriodInvalid {
        /// The proposal's.
        period: u64,
        /// The shortest allowed.
        min: u64,
        /// The longest allowed.
        max: u64,
    },
    /// More open proposals than allowed, in all or of one member.
    #[error("{open} proposals are open, at most {max} allowed{}", member.as_ref().map(|m| format!(" for {m}")).unwrap_or_default())]
    TooManyProposals {
        /// The member, when its own limit is reached.
        member: Option<MemberId>,
        /// How many are open.
        open: u64,
        /// The limit.
        max: u64,
    },
    /// No proposal has this id.
    #[error("no proposal {0}")]
    UnknownProposal(Hash),
    /// The proposal no longer takes votes.
    #[error("proposal {proposal} is {status}, not voting")]
    ProposalClosed {
        /// The proposal.
        proposal: Hash,
        /// Its status's name.
        status: String,
    },
    /// A member's second vote on one proposal.
    #[error("{0} has already voted on this proposal")]
    AlreadyVoted(MemberId),
    /// A member without voting power (suspended or removed) voting.
    #[error("{0} holds no voting power")]
    NotVoting(MemberId),
    /// A member or overseer id already in use (or once used).
    #[error("member id {0} is taken")]
    MemberExists(MemberId),
    /// The action needs the member in another status.
    #[error("{member} is {status}, the action needs it {needed}")]
    MemberStatusMismatch {
        /// The member.
        member: MemberId,
        /// Its status.
        status: MemberStatus,
        /// The status the action needs.
        needed: MemberStatus,
    },
    /// A key already used by a member (now or before), an overseer or an
    /// account.
    #[error("key {0} is already in use")]
    KeyInUse(Hash),
    /// A key that is not a usable ed25519 public key (not on the curve, or
    /// of small order).
    #[error("key {0} is not a usable public key")]
    UnusableKey(Hash),
    /// The action would leave fewer validators than the least allowed.
    #[error("the action would leave {left} validators, at least {min} required")]
    TooFewValidators {
        /// How many would remain.
        left: u64,
        /// The least allowed.
        min: u64,
    },
    /// The action would give one validator a third of the power or more.
    #[error(
        "{member} would hold {power} of {total} voting power: a third or more stops the chain alone"
    )]
    PowerConcentration {
        /// The member.
        member: MemberId,
        /// Its power.
        power: u64,
        /// The total.
        total: u64,
    },
    /// The action would change nothing.
    #[error("the action changes nothing")]
    NoChange,
    /// An asset code already registered.
    #[error("asset {0} already exists")]
    AssetExists(AssetCode),
    /// A field of the action is outside its bounds.
    #[error("{field}: {reason}")]
    ActionInvalid {
        /// Which field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No evidence on record has this id.
    #[error("no evidence {0} on record")]
    UnknownEvidence(Hash),
}
