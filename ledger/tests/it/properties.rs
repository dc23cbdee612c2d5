//! Random transaction sequences against an independent reference model.
//!
//! The model ([`Model`]) writes the rules of every body out once more from
//! the documentation (`state` module docs, `state::escrow`, `state::credit`,
//! `state::fx`, `state::exec`) without calling the ledger's execution code:
//! plain money with fees split between the sending and the receiving bank
//! (the chain runs with a receiving share of 2,500 bps on every fee rule),
//! escrows with an arbiter, credit lines and their debts, attestations,
//! credit records and the version 1 trust rating, atomic swaps, FX quotes
//! and cross-currency transfers, and the deadlines processed at the start
//! of every block. A [`Harness`] drives random interleavings (right and
//! wrong parties, missing and settled escrows, draws beyond the balance,
//! repayments, empty blocks so deadlines, due heights and quotes' last
//! heights pass) and checks, after every block:
//! - every receipt is exactly what the model predicts, typed rejection
//!   reasons included (fees, the swap's two fees, a conversion's payout
//!   and rate);
//! - per asset, balances plus held escrows equal the supply (the ledger's
//!   state and the model's own books), and every account (balances, nonce,
//!   credit lines and debts, credit record), escrow, quote (remaining size,
//!   last height) and deadline list in the state equals the model's;
//! - no escrow is paid out twice: once settled, a settlement never changes,
//!   and it pays out exactly the escrowed amount;
//! - never one leg of a swap without the other: on the ledger's own state,
//!   an applied swap between customers moves both legs and both fees;
//! - a quote is live exactly while registered for deletion at its last
//!   height, which has not passed, and it holds no money;
//! - the model's rating equals `credit::rating(record, 1)` for every account.
//!
//! The fee split covers transfers, payments, escrow openings (to the
//! seller's bank), both legs of a swap and cross-currency transfers (to the
//! payee's bank), at one bank and across two, with shares rounding to zero.
//! Swaps run between random customers, sometimes with the sender itself,
//! one asset on both legs, unknown assets, zero amounts, amounts beyond
//! either side's balance (drawing on credit lines), a counter fee maximum
//! below the schedule's, and consents by the wrong key, for altered terms,
//! or none. Quotes are posted by treasuries (and customers: `NotBank`) with
//! invalid rates, one asset, a zero maximum, a last height past or beyond
//! the horizon, withdrawn by their bank, another bank or for an unknown id;
//! cross-currency transfers name live, unknown, expired, withdrawn and used
//! up quotes, the wrong asset, amounts converting to nothing, to more than
//! the quote has left or exactly all of it, and conversions a treasury
//! cannot fund or that overflow; some seal their data. (An expired quote
//! is deleted at the start of the block after its last height, so a
//! transfer naming it gets `QuoteNotFound`: `QuoteExpired` stays
//! unreachable while deletion is on time, and the stats show it never.)
//!
//! At the end, the same blocks replayed on a fresh state give the same
//! outcomes, roots, credit records and ratings; in the store property a
//! memory state and two fresh sled stores (one proposing, one re-executing
//! with signature checks) agree on every entry, record and rating, and a
//! store reopened from disk is the same store.
//!
//! Directed scenarios at the end run through the same harness: a line full
//! of debts, a draw the lender cannot fund, two deadlines at one height,
//! a dispute conceded after the confirmation deadline. Cases: the model
//! property runs `LEDGER_MODEL_CASES` (default 400);
//! `LEDGER_MODEL_STATS=1 cargo test -p clearhouse-ledger --test it
//! model_coverage -- --nocapture` prints which rules the generators reached.

use std::collections::{BTreeMap, BTreeSet};

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::codec;
use clearhouse_ledger::crypto::{self, Keypair, Signature, sha256};
use clearhouse_ledger::ids::Category;
use clearhouse_ledger::payment::{EndToEndId, PaymentData, PaymentDetails, Remittance};
use clearhouse_ledger::sealed::{SealedDetails, SealingContext};
use clearhouse_ledger::state::credit::{self, CreditRecord};
use clearhouse_ledger::state::escrow::{EscrowState, EscrowStatus, SettledBy, Settlement};
use clearhouse_ledger::state::fx::{QuoteBook, QuoteState};
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::state::{
    AccountState, AssetState, BlockOutcome, DueItem, Outcome, RejectReason, Signatures, StateKey,
    apply_block, propose_block,
};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::testing::sealing;
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{
    AccountId, Amount, AssetCode, Body, Hash, MemberId, SignedTransaction, Transaction,
};
use proptest::prelude::*;

use crate::fixture::{Fixture, assert_conserved, key};

const BANKS: usize = 3;
const CUSTOMERS: usize = 6;

// The fixture's chain parameters, as documented in `testing.rs`.
/// Every asset but the last (EUR) offers credit.
const CREDIT_ASSETS: usize = BANKS - 1;
/// 1.00 of cap per rating point, in minor units.
const PER_POINT: u128 = 100;
const MIN_RATING: u16 = 400;
const PERIOD_BLOCKS_MAX: u64 = 1_000;
const DEADLINE_BLOCKS_MAX: u64 = 1_000;
/// `state::DUE_ITEMS_MAX`, from the docs.
const DUE_ITEMS_MAX: usize = 8192;
// Per asset (CNY, USD, EUR): EUR has no fee rule in the fixture.
const FLAT: [u128; 3] = [1, 1, 0];
const BPS: [u128; 3] = [5, 5, 0];
/// The receiving bank's share of every fee on the harness's chain, basis
/// points of the fee (`Fixture::with_receiving_share`).
const RECEIVING_SHARE: u16 = 2_500;

/// The harness's chain: the fixture with fees split between the banks.
fn fixture() -> Fixture {
    Fixture::new(BANKS, CUSTOMERS).with_receiving_share(RECEIVING_SHARE)
}

/// One randomly chosen action. `role`, `pick`, `a` and `b` choose, per kind,
/// who sends it (right or wrong party), which escrow or quote, deadlines,
/// limits, periods, splits, rates, swap legs and consents.
#[derive(Debug, Clone)]
struct Op {
    kind: u8,
    sender: usize,
    target: usize,
    asset: usize,
    amount: u128,
    nonce_skew: i8,
    expired: bool,
    low_max_fee: bool,
    role: u8,
    pick: usize,
    a: u8,
    b: u8,
}

/// How many kinds `Op::kind` ranges over (see `Builder::build`).
const KINDS: u8 = 38;

fn op() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        12 => 0u128..=250_000,
        1 => Just(0u128),
        1 => 2_000_000u128..=12_000_000,
        1 => (u128::MAX - 1_000)..=u128::MAX,
    ];
    let skew = prop_oneof![24 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)];
    (
        (
            0u8..KINDS,
            0usize..10_000,
            0usize..10_000,
            0usize..10,
            amount,
            skew,
        ),
        (
            0u8..30,
            0u8..20,
            any::<u8>(),
            any::<usize>(),
            any::<u8>(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |(
                (kind, sender, target, asset, amount, nonce_skew),
                (expired, low, role, pick, a, b),
            )| Op {
                kind,
                sender,
                target,
                asset,
                amount,
                nonce_skew,
                expired: expired == 0,
                low_max_fee: low == 0,
                role,
                pick,
                a,
                b,
            },
        )
}

/// A block of ops; a third of blocks are empty, so deadlines pass.
fn block() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec(op(), 1..10),
    ]
}

/// amount * bps / 10_000 rounded down, computed independently of the ledger
/// with the numerator split in two 64-bit halves.
fn basis_points(amount: u128, bps: u128) -> Option<u128> {
    let high = (amount >> 64) * bps; // < 2^64 * 2^14: no overflow
    let low = (amount & u128::from(u64::MAX)) * bps;
    // (high * 2^64 + low) / 10_000, by long division on 2^64 limbs.
    let q_high = high / 10_000;
    let r_high = high % 10_000;
    let combined = (r_high << 64) + low; // r_high < 10_000: fits
    let q = q_high
        .checked_mul(1u128 << 64)?
        .checked_add(combined / 10_000)?;
    Some(q)
}

/// `amount * numerator / denominator` rounded down, or `None` when it does
/// not fit (or the denominator is zero): the exact quotient of a 192-bit
/// product by long division on 64-bit limbs, independently of `Rate`.
fn mul_div(amount: u128, numerator: u64, denominator: u64) -> Option<u128> {
    if denominator == 0 {
        return None;
    }
    let (n, d) = (u128::from(numerator), u128::from(denominator));
    let mask = u128::from(u64::MAX);
    // amount * n = high * 2^64 + low, high < 2^128, low < 2^64.
    let low_product = (amount & mask) * n;
    let high = (amount >> 64) * n + (low_product >> 64); // < 2^128
    let low = low_product & mask;
    let q_high = high / d;
    let r_high = high % d; // < 2^64
    let q_low = ((r_high << 64) | low) / d;
    q_high.checked_mul(1u128 << 64)?.checked_add(q_low)
}

/// Whether a swap carries its counterparty's consent, checked as its docs
/// say: an ed25519 signature by the counterparty's key over the consent
/// tag and the envelope's encoding with the consent signature zeroed.
fn consented(tx: &Transaction) -> bool {
    let mut unsigned = tx.clone();
    let Body::Swap {
        counterparty,
        counter_signature,
        ..
    } = &mut unsigned.body
    else {
        return false;
    };
    let signature = std::mem::replace(counter_signature, Signature([0; 64]));
    let key = counterparty.0;
    let mut bytes = crypto::tag::SWAP_CONSENT.to_vec();
    bytes.extend(codec::encode(&unsigned).unwrap());
    crypto::verify(&key, &bytes, &signature).is_ok()
}

fn member(bank: usize) -> MemberId {
    MemberId::new(&format!("bank-{bank}")).unwrap()
}

fn bank_index(id: &MemberId) -> usize {
    id.as_str()
        .strip_prefix("bank-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{id} is not a fixture bank"))
}

// ----- the model's state ----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct MTally {
    count: u64,
    volume: u128,
}

impl MTally {
    fn add(&mut self, amount: u128) {
        self.count += 1;
        self.volume = self.volume.saturating_add(amount);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct MCredit {
    drawn: u128,
    repaid: u128,
    overdue: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MAttestation {
    positive: bool,
    category: String,
    reference: Hash,
    at: u64,
}

/// A credit record, asset and bank as fixture indices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct MRecord {
    sent: BTreeMap<usize, MTally>,
    received: BTreeMap<usize, MTally>,
    completed: u64,
    refunded: u64,
    disputed: u64,
    won: u64,
    lost: u64,
    credit: BTreeMap<usize, MCredit>,
    repaid_on_time: u64,
    overdue_events: u64,
    overdue_open: u64,
    attestations: BTreeMap<usize, MAttestation>,
    attestations_filed: u64,
}

/// The trust rating, version 1, from the formula in `state::credit`'s docs.
fn rating_v1(record: &MRecord) -> u16 {
    let sent: u64 = record.sent.values().map(|t| t.count).sum();
    let received: u64 = record.received.values().map(|t| t.count).sum();
    let positive = record.attestations.values().filter(|a| a.positive).count() as u64;
    let negative = record.attestations.len() as u64 - positive;
    let term = |value: u64, cap: u64, weight: i64| weight * i64::try_from(value.min(cap)).unwrap();
    let mut score = 500 + term(sent, 200, 1) / 2 + term(received, 200, 1) / 4;
    score += term(record.completed, 50, 2);
    score += term(record.repaid_on_time, 20, 5);
    score += term(positive, 4, 25);
    score -= term(record.lost, 10, 40);
    score -= term(record.overdue_events, 5, 100);
    if record.overdue_open > 0 {
        score -= 150;
    }
    score -= term(negative, 5, 100);
    u16::try_from(score.clamp(0, 1000)).unwrap()
}

/// The cap on usable credit in asset `a` for an account rated `rating`.
fn cap(a: usize, rating: u16) -> u128 {
    if rating >= MIN_RATING && a < CREDIT_ASSETS {
        PER_POINT * u128::from(rating)
    } else {
        0
    }
}

/// A line's open debt: since, due, overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MDebt {
    since: u64,
    due: u64,
    overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MLine {
    limit: u128,
    period_blocks: u64,
    drawn: u128,
    debt: Option<MDebt>,
    granted_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MAccount {
    bank: usize,
    nonce: u64,
    /// Non-zero balances only.
    balances: BTreeMap<usize, u128>,
    lines: BTreeMap<usize, MLine>,
    record: MRecord,
}

impl MAccount {
    fn new(bank: usize) -> MAccount {
        MAccount {
            bank,
            nonce: 0,
            balances: BTreeMap::new(),
            lines: BTreeMap::new(),
            record: MRecord::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    ReleasedByBuyer,
    RefundedBySeller,
    AutoReleased,
    ResolvedByArbiter,
    AutoRefunded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MStatus {
    Open,
    Disputed,
    Settled {
        at: u64,
        to_seller: u128,
        to_buyer: u128,
        how: How,
    },
}

impl MStatus {
    fn name(&self) -> &'static str {
        match self {
            MStatus::Open => "open",
            MStatus::Disputed => "disputed",
            MStatus::Settled { .. } => "settled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MEscrow {
    buyer: AccountId,
    seller: AccountId,
    asset: usize,
    amount: u128,
    arbiter: usize,
    reference: Hash,
    opened_at: u64,
    confirm_deadline: u64,
    arbiter_deadline: u64,
    dispute: Option<(AccountId, u64)>,
    status: MStatus,
}

impl MEscrow {
    fn held(&self) -> u128 {
        match self.status {
            MStatus::Open | MStatus::Disputed => self.amount,
            MStatus::Settled { .. } => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MDue {
    Escrow(Hash),
    Credit(AccountId, usize),
    Quote(Hash),
}

/// A live FX quote, bank and assets as fixture indices.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MQuote {
    provider: usize,
    pay: usize,
    receive: usize,
    rate: Rate,
    remaining: u128,
    valid_until: u64,
    posted_at: u64,
}

type Rule<T = ()> = Result<T, RejectReason>;

/// The reference: the state as plain maps, the rules written out once more.
#[derive(Clone)]
struct Model {
    /// The height of the block being executed.
    height: u64,
    accounts: BTreeMap<AccountId, MAccount>,
    supply: Vec<u128>,
    treasuries: Vec<AccountId>,
    codes: Vec<AssetCode>,
    escrows: BTreeMap<Hash, MEscrow>,
    /// Escrow ids in opening order (for choosing one).
    escrow_ids: Vec<Hash>,
    due: BTreeMap<u64, Vec<MDue>>,
    /// Every payout of every escrow: (height, to seller, to buyer).
    payouts: BTreeMap<Hash, Vec<(u64, u128, u128)>>,
    /// Live quotes.
    quotes: BTreeMap<Hash, MQuote>,
    /// Every quote ever posted, in posting order, with its bank (for
    /// choosing one, live or gone).
    quote_ids: Vec<(Hash, usize)>,
    /// Events for the coverage stats (undone with a rejected step, as
    /// everything else in the model).
    events: BTreeMap<(&'static str, &'static str), u64>,
    /// The kind of the body being executed, for the events.
    body_kind: &'static str,
}

impl Model {
    fn new(f: &Fixture) -> Model {
        let mut accounts = BTreeMap::new();
        let mut supply = vec![0u128; BANKS];
        for (i, customer) in f.accounts.iter().enumerate() {
            let mut account = MAccount::new(i % BANKS);
            for a in 0..BANKS {
                account.balances.insert(a, 100_000);
                supply[a] += 100_000;
            }
            accounts.insert(customer.account(), account);
        }
        let treasuries: Vec<AccountId> = f.treasuries.iter().map(Keypair::account).collect();
        for (bank, treasury) in treasuries.iter().enumerate() {
            let mut account = MAccount::new(bank);
            for a in 0..BANKS {
                account.balances.insert(a, 10_000_000);
                supply[a] += 10_000_000;
            }
            accounts.insert(*treasury, account);
            // Each bank's governance account: empty, and never used here.
            accounts.insert(Fixture::governor(bank).account(), MAccount::new(bank));
        }
        Model {
            height: 0,
            accounts,
            supply,
            treasuries,
            codes: (0..BANKS).map(|a| f.asset(a)).collect(),
            escrows: BTreeMap::new(),
            escrow_ids: Vec::new(),
            due: BTreeMap::new(),
            payouts: BTreeMap::new(),
            quotes: BTreeMap::new(),
            quote_ids: Vec::new(),
            events: BTreeMap::new(),
            body_kind: "block start",
        }
    }

    fn event(&mut self, what: &'static str) {
        *self.events.entry((what, self.body_kind)).or_default() += 1;
    }

    fn nonce(&self, account: &AccountId) -> u64 {
        self.accounts.get(account).map_or(0, |a| a.nonce)
    }

    fn asset(&self, code: &AssetCode) -> Rule<usize> {
        self.codes
            .iter()
            .position(|c| c == code)
            .ok_or_else(|| RejectReason::UnknownAsset(code.clone()))
    }

    fn account(&self, id: &AccountId) -> Rule<&MAccount> {
        self.accounts
            .get(id)
            .ok_or(RejectReason::UnknownAccount(*id))
    }

    fn account_mut(&mut self, id: &AccountId) -> Rule<&mut MAccount> {
        self.accounts
            .get_mut(id)
            .ok_or(RejectReason::UnknownAccount(*id))
    }

    fn balance(&self, id: &AccountId, a: usize) -> u128 {
        self.accounts[id].balances.get(&a).copied().unwrap_or(0)
    }

    fn set_balance(&mut self, id: &AccountId, a: usize, amount: u128) {
        let balances = &mut self.accounts.get_mut(id).unwrap().balances;
        if amount == 0 {
            balances.remove(&a);
        } else {
            balances.insert(a, amount);
        }
    }

    fn bank_of_treasury(&self, id: &AccountId) -> Option<usize> {
        self.treasuries.iter().position(|t| t == id)
    }

    // ----- blocks and transactions -----

    /// The start of block `height`: the deadlines registered for
    /// `height - 1`, credit debts first, then escrows and quotes, each
    /// group in registration order; a deadline that cannot be carried out
    /// is undone and skipped. A quote whose last height it was is deleted.
    fn begin_block(&mut self, height: u64) {
        self.height = height;
        self.body_kind = "block start";
        let deadline = height - 1;
        let Some(items) = self.due.remove(&deadline) else {
            return;
        };
        let kind = |quote: bool| {
            items.iter().any(|item| match item {
                MDue::Quote(_) => quote,
                MDue::Escrow(_) => !quote,
                MDue::Credit(..) => false,
            })
        };
        if kind(true) && kind(false) {
            self.event("a deadline list of escrows and quotes");
        }
        // Tranches before the rest, each in registration order.
        let (credit, escrows): (Vec<MDue>, Vec<MDue>) = items
            .into_iter()
            .partition(|item| matches!(item, MDue::Credit(..)));
        for item in credit.into_iter().chain(escrows) {
            let before = self.clone();
            let result = match item {
                MDue::Escrow(id) => {
                    let escrow = self.escrows[&id].clone();
                    match escrow.status {
                        MStatus::Open if escrow.confirm_deadline == deadline => {
                            self.settle(&id, escrow.amount, 0, How::AutoReleased)
                        }
                        MStatus::Disputed if escrow.arbiter_deadline == deadline => {
                            self.settle(&id, 0, escrow.amount, How::AutoRefunded)
                        }
                        _ => Ok(()),
                    }
                }
                MDue::Credit(id, a) => {
                    let MAccount { lines, record, .. } = self.accounts.get_mut(&id).unwrap();
                    if let Some(line) = lines.get_mut(&a) {
                        mark_overdue(line, record, a, height);
                    }
                    Ok(())
                }
                MDue::Quote(id) => {
                    if self
                        .quotes
                        .get(&id)
                        .is_some_and(|q| q.valid_until == deadline)
                    {
                        self.quotes.remove(&id);
                        self.event("quote expired and deleted");
                    }
                    Ok(())
                }
            };
            if result.is_err() {
                *self = before;
            }
        }
    }

    /// Applies a transaction of the current block, returning the outcome the
    /// ledger must report.
    fn apply(&mut self, tx: &Transaction, id: Hash) -> Outcome {
        let height = self.height;
        if tx.expiry_height < height {
            return Outcome::Rejected(RejectReason::Expired {
                expiry_height: tx.expiry_height,
                height,
            });
        }
        let Some(sender) = self.accounts.get_mut(&tx.sender) else {
            return Outcome::Rejected(RejectReason::UnknownSender);
        };
        if sender.nonce != tx.nonce {
            return Outcome::Rejected(RejectReason::BadNonce {
                expected: sender.nonce,
                found: tx.nonce,
            });
        }
        sender.nonce += 1;
        self.body_kind = tx.body.kind();
        let before = self.clone();
        match self.body(tx, id) {
            Ok(outcome) => outcome,
            Err(reason) => {
                *self = before;
                Outcome::Rejected(reason)
            }
        }
    }

    fn body(&mut self, tx: &Transaction, id: Hash) -> Rule<Outcome> {
        let sender = tx.sender;
        match &tx.body {
            Body::Swap { .. } => self.swap(tx),
            Body::QuotePost {
                pay_asset,
                receive_asset,
                rate,
                maximum,
                valid_until,
            } => {
                let terms = (*rate, maximum.0, *valid_until);
                self.quote_post(id, &sender, pay_asset, receive_asset, terms)?;
                Ok(Outcome::Applied { fee: Amount(0) })
            }
            Body::QuoteWithdraw { quote } => {
                self.quote_withdraw(&sender, quote)?;
                Ok(Outcome::Applied { fee: Amount(0) })
            }
            Body::CrossTransfer { .. } => self.cross_transfer(tx),
            _ => Ok(Outcome::Applied {
                fee: Amount(self.plain_body(tx, id)?),
            }),
        }
    }

    /// The bodies whose outcome is a fee alone.
    fn plain_body(&mut self, tx: &Transaction, id: Hash) -> Rule<u128> {
        let sender = tx.sender;
        let height = self.height;
        match &tx.body {
            // A payment moves money as a transfer does; its data is inert,
            // but sealed data must be sealed for the right parties.
            Body::Payment {
                to,
                asset,
                amount,
                details: PaymentDetails::Sealed(sealed),
            } => {
                let transfer = Body::Transfer {
                    to: *to,
                    asset: asset.clone(),
                    amount: *amount,
                };
                let fee = self.plain_body(
                    &Transaction {
                        body: transfer,
                        ..tx.clone()
                    },
                    id,
                )?;
                self.check_sealed(&sender, to, sealed)?;
                Ok(fee)
            }
            Body::Transfer { to, asset, amount }
            | Body::Payment {
                to, asset, amount, ..
            } => {
                let amount = amount.0;
                if amount == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                if *to == sender {
                    return Err(RejectReason::SelfTransfer);
                }
                let a = self.asset(asset)?;
                let fee = self.fee(a, amount, tx.fee)?;
                self.account(to)?;
                self.charge(&sender, a, amount, fee, to)?;
                self.credit(to, a, amount)?;
                self.account_mut(&sender)?
                    .record
                    .sent
                    .entry(a)
                    .or_default()
                    .add(amount);
                self.account_mut(to)?
                    .record
                    .received
                    .entry(a)
                    .or_default()
                    .add(amount);
                Ok(fee)
            }
            Body::Issue { to, asset, amount } => {
                let a = self.asset(asset)?;
                if self.treasuries[a] != sender {
                    return Err(RejectReason::NotIssuer {
                        asset: asset.clone(),
                        issuer: member(a),
                    });
                }
                if amount.0 == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                self.account(to)?;
                self.supply[a] = self.supply[a]
                    .checked_add(amount.0)
                    .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
                self.credit(to, a, amount.0)?;
                Ok(0)
            }
            Body::Redeem { asset, amount } => {
                let a = self.asset(asset)?;
                if self.treasuries[a] != sender {
                    return Err(RejectReason::NotIssuer {
                        asset: asset.clone(),
                        issuer: member(a),
                    });
                }
                if amount.0 == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                self.debit(&sender, a, amount.0)?;
                self.supply[a] -= amount.0;
                Ok(0)
            }
            Body::RegisterAccount { account } => {
                let bank = self
                    .bank_of_treasury(&sender)
                    .ok_or(RejectReason::NotBank)?;
                if self.accounts.contains_key(account) {
                    return Err(RejectReason::AccountExists(*account));
                }
                self.accounts.insert(*account, MAccount::new(bank));
                Ok(0)
            }
            Body::EscrowOpen {
                seller,
                asset,
                amount,
                arbiter,
                confirm_deadline,
                arbiter_deadline,
                reference,
            } => {
                let (confirm_deadline, arbiter_deadline) = (*confirm_deadline, *arbiter_deadline);
                if amount.0 == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                let a = self.asset(asset)?;
                let fee = self.fee(a, amount.0, tx.fee)?;
                if *seller == sender {
                    return Err(RejectReason::SellerIsBuyer);
                }
                self.account(seller)?;
                let arbiter_bank = (0..BANKS)
                    .find(|bank| member(*bank) == *arbiter)
                    .ok_or_else(|| RejectReason::UnknownMember(arbiter.clone()))?;
                if confirm_deadline < height {
                    return Err(RejectReason::DeadlinePassed {
                        deadline: confirm_deadline,
                        height,
                    });
                }
                if arbiter_deadline <= confirm_deadline {
                    return Err(RejectReason::DeadlineOrder {
                        confirm_deadline,
                        arbiter_deadline,
                    });
                }
                let latest = height.saturating_add(DEADLINE_BLOCKS_MAX);
                if arbiter_deadline > latest {
                    return Err(RejectReason::DeadlineTooFar {
                        deadline: arbiter_deadline,
                        latest,
                    });
                }
                self.charge(&sender, a, amount.0, fee, seller)?;
                self.add_due(confirm_deadline, MDue::Escrow(id))?;
                self.add_due(arbiter_deadline, MDue::Escrow(id))?;
                assert!(!self.escrows.contains_key(&id), "escrow id {id} reused");
                self.escrows.insert(
                    id,
                    MEscrow {
                        buyer: sender,
                        seller: *seller,
                        asset: a,
                        amount: amount.0,
                        arbiter: arbiter_bank,
                        reference: *reference,
                        opened_at: height,
                        confirm_deadline,
                        arbiter_deadline,
                        dispute: None,
                        status: MStatus::Open,
                    },
                );
                self.escrow_ids.push(id);
                Ok(fee)
            }
            Body::EscrowRelease { escrow: id } => {
                let escrow = self.escrow(id)?;
                if sender != escrow.buyer {
                    return Err(RejectReason::NotBuyer);
                }
                Self::expect_status(id, &escrow, &["open", "disputed"])?;
                self.settle(id, escrow.amount, 0, How::ReleasedByBuyer)?;
                Ok(0)
            }
            Body::EscrowRefund { escrow: id } => {
                let escrow = self.escrow(id)?;
                if sender != escrow.seller {
                    return Err(RejectReason::NotSeller);
                }
                Self::expect_status(id, &escrow, &["open", "disputed"])?;
                self.settle(id, 0, escrow.amount, How::RefundedBySeller)?;
                Ok(0)
            }
            Body::EscrowDispute { escrow: id } => {
                let escrow = self.escrow(id)?;
                if sender != escrow.buyer && sender != escrow.seller {
                    return Err(RejectReason::NotParty);
                }
                Self::expect_status(id, &escrow, &["open"])?;
                if height > escrow.confirm_deadline {
                    return Err(RejectReason::DeadlinePassed {
                        deadline: escrow.confirm_deadline,
                        height,
                    });
                }
                let stored = self.escrows.get_mut(id).unwrap();
                stored.status = MStatus::Disputed;
                stored.dispute = Some((sender, height));
                for party in [escrow.buyer, escrow.seller] {
                    self.account_mut(&party)?.record.disputed += 1;
                }
                Ok(0)
            }
            Body::EscrowResolve {
                escrow: id,
                to_seller,
            } => {
                let escrow = self.escrow(id)?;
                if self.treasuries[escrow.arbiter] != sender {
                    return Err(RejectReason::NotArbiter {
                        arbiter: member(escrow.arbiter),
                    });
                }
                Self::expect_status(id, &escrow, &["disputed"])?;
                if height > escrow.arbiter_deadline {
                    return Err(RejectReason::DeadlinePassed {
                        deadline: escrow.arbiter_deadline,
                        height,
                    });
                }
                if to_seller.0 > escrow.amount {
                    return Err(RejectReason::SplitTooLarge {
                        to_seller: *to_seller,
                        amount: Amount(escrow.amount),
                    });
                }
                let to_buyer = escrow.amount - to_seller.0;
                self.settle(id, to_seller.0, to_buyer, How::ResolvedByArbiter)?;
                Ok(0)
            }
            Body::CreditGrant {
                account,
                asset,
                limit,
                period_blocks,
            } => {
                self.hosting_bank(&sender, account)?;
                let a = self.asset(asset)?;
                if limit.0 == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                if a >= CREDIT_ASSETS {
                    return Err(RejectReason::CreditNotOffered(asset.clone()));
                }
                let period_blocks = *period_blocks;
                if period_blocks == 0 || period_blocks > PERIOD_BLOCKS_MAX {
                    return Err(RejectReason::PeriodInvalid {
                        period_blocks,
                        max: PERIOD_BLOCKS_MAX,
                    });
                }
                let line = self.account_mut(account)?.lines.entry(a).or_insert(MLine {
                    limit: limit.0,
                    period_blocks,
                    drawn: 0,
                    debt: None,
                    granted_at: height,
                });
                line.limit = limit.0;
                line.period_blocks = period_blocks;
                line.granted_at = height;
                Ok(0)
            }
            Body::CreditRevoke { account, asset } => {
                self.hosting_bank(&sender, account)?;
                let a = self.codes.iter().position(|c| c == asset);
                let lines = &mut self.account_mut(account)?.lines;
                let Some(line) = a.and_then(|a| lines.get_mut(&a)) else {
                    return Err(RejectReason::NoCreditLine(asset.clone()));
                };
                line.limit = 0;
                if line.drawn == 0 {
                    lines.remove(&a.unwrap());
                }
                Ok(0)
            }
            Body::CreditAttest {
                account,
                positive,
                category,
                reference,
            } => {
                let bank = self
                    .bank_of_treasury(&sender)
                    .ok_or(RejectReason::NotBank)?;
                let record = &mut self.account_mut(account)?.record;
                record.attestations.insert(
                    bank,
                    MAttestation {
                        positive: *positive,
                        category: category.as_str().to_owned(),
                        reference: *reference,
                        at: height,
                    },
                );
                record.attestations_filed += 1;
                Ok(0)
            }
            Body::Swap { .. }
            | Body::QuotePost { .. }
            | Body::QuoteWithdraw { .. }
            | Body::CrossTransfer { .. } => unreachable!("{} is not a plain body", tx.body.kind()),
            // Governance has its own scenario tests (`governance`); the
            // model's generator never proposes or votes.
            Body::Propose { .. } | Body::Vote { .. } => {
                unreachable!("the model sends no {}", tx.body.kind())
            }
        }
    }

    /// Sealed details must be sealed for both sides' banks and the
    /// regulator, and for no one else but the auditor.
    fn check_sealed(&self, sender: &AccountId, to: &AccountId, sealed: &SealedDetails) -> Rule {
        let sides = [self.account(sender)?.bank, self.account(to)?.bank];
        let side_keys = sides.map(|bank| Fixture::sealing(bank).public());
        let overseers = [sealing("regulator").public(), sealing("auditor").public()];
        for key in sealed.recipients() {
            if side_keys.contains(&key) || overseers.contains(&key) {
                continue;
            }
            return Err(
                match (0..BANKS).find(|b| Fixture::sealing(*b).public() == key) {
                    Some(bank) => RejectReason::SealedForOutsider(member(bank)),
                    None => RejectReason::UnknownSealingKey(key),
                },
            );
        }
        let required = [
            (member(sides[0]), side_keys[0]),
            (member(sides[1]), side_keys[1]),
            (MemberId::new("regulator").unwrap(), overseers[0]),
        ];
        match required
            .into_iter()
            .find(|(_, key)| !sealed.is_sealed_for(key))
        {
            Some((party, _)) => Err(RejectReason::NotSealedFor(party)),
            None => Ok(()),
        }
    }

    // ----- across currencies -----

    /// Both legs or neither: the checks, then the sender's leg, then the
    /// counterparty's, each paying its own fee in the asset it gives.
    fn swap(&mut self, tx: &Transaction) -> Rule<Outcome> {
        let Body::Swap {
            counterparty,
            give_asset,
            give_amount,
            take_asset,
            take_amount,
            counter_fee,
            ..
        } = &tx.body
        else {
            unreachable!("not a swap")
        };
        let (sender, counterparty) = (tx.sender, *counterparty);
        let (give, take) = (give_amount.0, take_amount.0);
        if give == 0 || take == 0 {
            return Err(RejectReason::ZeroAmount);
        }
        if counterparty == sender {
            return Err(RejectReason::SelfTransfer);
        }
        if give_asset == take_asset {
            return Err(RejectReason::SameAsset(give_asset.clone()));
        }
        let g = self.asset(give_asset)?;
        let t = self.asset(take_asset)?;
        self.account(&counterparty)?;
        if !consented(tx) {
            return Err(RejectReason::BadConsent);
        }
        let fee = self.fee(g, give, tx.fee)?;
        let counter = self.fee(t, take, *counter_fee)?;
        let drawn = |model: &Model, id: &AccountId, a: usize| {
            model.accounts[id]
                .lines
                .get(&a)
                .map_or(0, |line| line.drawn)
        };
        let before = (drawn(self, &sender, g), drawn(self, &counterparty, t));
        self.charge(&sender, g, give, fee, &counterparty)?;
        self.credit(&counterparty, g, give)?;
        self.charge(&counterparty, t, take, counter, &sender)?;
        self.credit(&sender, t, take)?;
        if drawn(self, &sender, g) > before.0 {
            self.event("the sender's leg drew on its credit line");
        }
        if drawn(self, &counterparty, t) > before.1 {
            self.event("the counterparty's leg drew on its credit line");
        }
        let record = &mut self.account_mut(&sender)?.record;
        record.sent.entry(g).or_default().add(give);
        record.received.entry(t).or_default().add(take);
        let record = &mut self.account_mut(&counterparty)?.record;
        record.sent.entry(t).or_default().add(take);
        record.received.entry(g).or_default().add(give);
        Ok(Outcome::Swapped {
            fee: Amount(fee),
            counter_fee: Amount(counter),
        })
    }

    /// A treasury offers `pay` for `receive` at `rate`, up to `maximum`,
    /// through `valid_until`: registered for deletion at that height.
    fn quote_post(
        &mut self,
        id: Hash,
        sender: &AccountId,
        pay: &AssetCode,
        receive: &AssetCode,
        (rate, maximum, valid_until): (Rate, u128, u64),
    ) -> Rule {
        let height = self.height;
        let provider = self.bank_of_treasury(sender).ok_or(RejectReason::NotBank)?;
        if pay == receive {
            return Err(RejectReason::SameAsset(pay.clone()));
        }
        let (pay, receive) = (self.asset(pay)?, self.asset(receive)?);
        if rate.numerator == 0 || rate.denominator == 0 {
            return Err(RejectReason::InvalidRate(rate));
        }
        if maximum == 0 {
            return Err(RejectReason::ZeroAmount);
        }
        if height > valid_until {
            return Err(RejectReason::DeadlinePassed {
                deadline: valid_until,
                height,
            });
        }
        let latest = height.saturating_add(DEADLINE_BLOCKS_MAX);
        if valid_until > latest {
            return Err(RejectReason::DeadlineTooFar {
                deadline: valid_until,
                latest,
            });
        }
        self.add_due(valid_until, MDue::Quote(id))?;
        // `state::fx::QUOTES_PER_BANK_MAX`, from the docs.
        let live = self
            .quotes
            .values()
            .filter(|q| q.provider == provider)
            .count();
        if live >= 64 {
            return Err(RejectReason::TooManyQuotes {
                bank: member(provider),
                max: 64,
            });
        }
        let quote = MQuote {
            provider,
            pay,
            receive,
            rate,
            remaining: maximum,
            valid_until,
            posted_at: height,
        };
        assert!(
            self.quotes.insert(id, quote).is_none(),
            "quote id {id} reused"
        );
        self.quote_ids.push((id, provider));
        Ok(())
    }

    fn quote_withdraw(&mut self, sender: &AccountId, id: &Hash) -> Rule {
        let quote = self
            .quotes
            .get(id)
            .ok_or(RejectReason::QuoteNotFound(*id))?;
        if self.treasuries[quote.provider] != *sender {
            return Err(RejectReason::NotQuoteProvider(member(quote.provider)));
        }
        let due = quote.valid_until;
        self.remove_due(due, &MDue::Quote(*id));
        self.quotes.remove(id);
        Ok(())
    }

    /// The payer pays the amount (and its fee, split with the payee's bank)
    /// to the quoting treasury, which pays the conversion, rounded down,
    /// out of its balance to the payee; the quote runs down by it.
    fn cross_transfer(&mut self, tx: &Transaction) -> Rule<Outcome> {
        let Body::CrossTransfer {
            to,
            asset,
            amount,
            quote: id,
            details,
        } = &tx.body
        else {
            unreachable!("not a cross transfer")
        };
        let (sender, amount, height) = (tx.sender, amount.0, self.height);
        if amount == 0 {
            return Err(RejectReason::ZeroAmount);
        }
        if *to == sender {
            return Err(RejectReason::SelfTransfer);
        }
        let quote = self
            .quotes
            .get(id)
            .cloned()
            .ok_or(RejectReason::QuoteNotFound(*id))?;
        if quote.valid_until < height {
            return Err(RejectReason::QuoteExpired {
                valid_until: quote.valid_until,
                height,
            });
        }
        let (a, pay) = (quote.receive, quote.pay);
        if self.codes[a] != *asset {
            return Err(RejectReason::QuoteAssetMismatch {
                expected: self.codes[a].clone(),
                found: asset.clone(),
            });
        }
        let paid_out = mul_div(amount, quote.rate.numerator, quote.rate.denominator)
            .ok_or_else(|| RejectReason::Overflow(self.codes[pay].clone()))?;
        if paid_out == 0 {
            return Err(RejectReason::ConversionTooSmall {
                amount: Amount(amount),
                rate: quote.rate,
            });
        }
        if paid_out > quote.remaining {
            return Err(RejectReason::QuoteExhausted {
                remaining: Amount(quote.remaining),
                needed: Amount(paid_out),
            });
        }
        let fee = self.fee(a, amount, tx.fee)?;
        self.account(to)?;
        let treasury = self.treasuries[quote.provider];
        self.charge(&sender, a, amount, fee, to)?;
        self.credit(&treasury, a, amount)?;
        let available = self.balance(&treasury, pay);
        if available < paid_out {
            return Err(RejectReason::QuoteUnfunded {
                bank: member(quote.provider),
                asset: self.codes[pay].clone(),
                needed: Amount(paid_out),
                available: Amount(available),
            });
        }
        self.set_balance(&treasury, pay, available - paid_out);
        self.credit(to, pay, paid_out)?;
        self.account_mut(&sender)?
            .record
            .sent
            .entry(a)
            .or_default()
            .add(amount);
        self.account_mut(to)?
            .record
            .received
            .entry(pay)
            .or_default()
            .add(paid_out);
        if let PaymentDetails::Sealed(sealed) = details {
            self.check_sealed(&sender, to, sealed)?;
        }
        let remaining = quote.remaining - paid_out;
        if remaining == 0 {
            self.remove_due(quote.valid_until, &MDue::Quote(*id));
            self.quotes.remove(id);
            self.event("quote paid down to zero and deleted");
        } else {
            self.quotes.get_mut(id).unwrap().remaining = remaining;
        }
        Ok(Outcome::Converted {
            fee: Amount(fee),
            paid_out: Amount(paid_out),
            pay_asset: self.codes[pay].clone(),
            rate: quote.rate,
            provider: member(quote.provider),
        })
    }

    // ----- money -----

    fn fee(&self, a: usize, amount: u128, maximum: Amount) -> Rule<u128> {
        let fee = basis_points(amount, BPS[a])
            .and_then(|p| p.checked_add(FLAT[a]))
            .ok_or_else(|| RejectReason::Overflow(self.codes[a].clone()))?;
        if fee > maximum.0 {
            return Err(RejectReason::FeeAboveMaximum {
                required: Amount(fee),
                maximum,
            });
        }
        Ok(fee)
    }

    /// Amount plus fee leave the sender; `RECEIVING_SHARE` of the fee
    /// (rounded down) goes to the treasury of the receiver's bank, the rest
    /// to the sender's; all of it to the one bank when both are its.
    fn charge(
        &mut self,
        sender: &AccountId,
        a: usize,
        amount: u128,
        fee: u128,
        receiver: &AccountId,
    ) -> Rule {
        let needed = amount
            .checked_add(fee)
            .ok_or_else(|| RejectReason::Overflow(self.codes[a].clone()))?;
        self.debit(sender, a, needed)?;
        if fee == 0 {
            return Ok(());
        }
        let (sending, receiving) = (self.accounts[sender].bank, self.account(receiver)?.bank);
        let share = if sending == receiving {
            self.event("fee: both sides at one bank");
            0
        } else {
            let share = basis_points(fee, u128::from(RECEIVING_SHARE)).unwrap();
            self.event(if share == 0 {
                "fee: two banks, share rounds to zero"
            } else {
                "fee: split between two banks"
            });
            share
        };
        if share > 0 {
            let treasury = self.treasuries[receiving];
            self.credit(&treasury, a, share)?;
        }
        if fee > share {
            let treasury = self.treasuries[sending];
            self.credit(&treasury, a, fee - share)?;
        }
        Ok(())
    }

    /// From the balance first; the shortfall is drawn on the credit line, up
    /// to the usable limit, and paid by the hosting bank's treasury.
    fn debit(&mut self, id: &AccountId, a: usize, amount: u128) -> Rule {
        let code = self.codes[a].clone();
        let height = self.height;
        let account = self.account(id)?.clone();
        let balance = account.balances.get(&a).copied().unwrap_or(0);
        if balance >= amount {
            self.set_balance(id, a, balance - amount);
            return Ok(());
        }
        let shortfall = amount - balance;
        let headroom = account.lines.get(&a).map_or(0, |line| {
            let usable = line.limit.min(cap(a, rating_v1(&account.record)));
            usable.saturating_sub(line.drawn)
        });
        if shortfall > headroom {
            return Err(RejectReason::InsufficientFunds {
                asset: code,
                needed: Amount(amount),
                available: Amount(balance.saturating_add(headroom)),
            });
        }
        let lender = self.treasuries[account.bank];
        let lender_balance = self.balance(&lender, a);
        if lender_balance < shortfall {
            return Err(RejectReason::LenderInsufficientFunds {
                bank: member(account.bank),
                asset: code,
                needed: Amount(shortfall),
                available: Amount(lender_balance),
            });
        }
        self.set_balance(&lender, a, lender_balance - shortfall);
        self.set_balance(id, a, 0);
        let MAccount { lines, record, .. } = self.accounts.get_mut(id).unwrap();
        let line = lines.get_mut(&a).unwrap();
        line.drawn = line
            .drawn
            .checked_add(shortfall)
            .ok_or_else(|| RejectReason::Overflow(code.clone()))?;
        let tally = record.credit.entry(a).or_default();
        tally.drawn = tally.drawn.saturating_add(shortfall);
        // One debt per line: a draw opens it (due a period later) or joins
        // it; joining an overdue debt is overdue at once.
        match line.debt {
            Some(debt) => {
                if debt.overdue {
                    tally.overdue = tally.overdue.saturating_add(shortfall);
                }
            }
            None => {
                let due = height.saturating_add(line.period_blocks);
                line.debt = Some(MDebt {
                    since: height,
                    due,
                    overdue: false,
                });
                self.add_due(due, MDue::Credit(*id, a))?;
            }
        }
        let _ = code;
        Ok(())
    }

    /// Incoming money repays the credit line first (to the hosting bank's
    /// treasury); the rest reaches the balance.
    fn credit(&mut self, id: &AccountId, a: usize, amount: u128) -> Rule {
        let height = self.height;
        let code = self.codes[a].clone();
        let MAccount {
            bank,
            balances,
            lines,
            record,
            ..
        } = self.account_mut(id)?;
        let mut repaid = 0;
        let mut closed_due = None;
        if let Some(line) = lines.get_mut(&a) {
            if line.drawn > 0 {
                let due = line.debt.map(|d| d.due);
                repaid = repay(line, record, a, amount, height);
                if line.debt.is_none() {
                    closed_due = due;
                }
            }
            if line.limit == 0 && line.drawn == 0 {
                lines.remove(&a);
            }
        }
        let balance = balances.get(&a).copied().unwrap_or(0);
        let total = balance
            .checked_add(amount - repaid)
            .ok_or(RejectReason::Overflow(code))?;
        let bank = *bank;
        self.set_balance(id, a, total);
        if let Some(due) = closed_due {
            self.remove_due(due, &MDue::Credit(*id, a));
        }
        if repaid > 0 {
            let treasury = self.treasuries[bank];
            assert_ne!(treasury, *id, "a treasury with a credit line");
            self.credit(&treasury, a, repaid)?;
        }
        Ok(())
    }

    /// Registers once; at most `DUE_ITEMS_MAX` items of each kind per height.
    fn add_due(&mut self, height: u64, item: MDue) -> Rule {
        let items = self.due.get(&height).cloned().unwrap_or_default();
        if items.contains(&item) {
            return Ok(());
        }
        let credit = matches!(item, MDue::Credit(..));
        let same_kind = items
            .iter()
            .filter(|other| matches!(other, MDue::Credit(..)) == credit)
            .count();
        if same_kind >= DUE_ITEMS_MAX {
            return Err(RejectReason::DueListFull { height });
        }
        self.due.entry(height).or_default().push(item);
        Ok(())
    }

    /// Unregisters (a settled escrow, a repaid debt); an emptied list goes.
    fn remove_due(&mut self, height: u64, item: &MDue) {
        if let Some(items) = self.due.get_mut(&height) {
            if let Some(index) = items.iter().position(|other| other == item) {
                items.remove(index);
            }
            if items.is_empty() {
                self.due.remove(&height);
            }
        }
    }

    // ----- escrow -----

    fn escrow(&self, id: &Hash) -> Rule<MEscrow> {
        self.escrows
            .get(id)
            .cloned()
            .ok_or(RejectReason::EscrowNotFound(*id))
    }

    fn expect_status(id: &Hash, escrow: &MEscrow, wanted: &[&str]) -> Rule {
        match escrow.status {
            MStatus::Settled { .. } => Err(RejectReason::EscrowSettled(*id)),
            ref status if wanted.contains(&status.name()) => Ok(()),
            ref status => Err(RejectReason::WrongEscrowStatus {
                escrow: *id,
                status: status.name().to_owned(),
            }),
        }
    }

    /// Pays a held escrow out, once, and counts the outcome for both parties.
    fn settle(&mut self, id: &Hash, to_seller: u128, to_buyer: u128, how: How) -> Rule {
        let height = self.height;
        let escrow = self.escrows.get_mut(id).unwrap();
        assert!(
            escrow.held() == escrow.amount && to_seller + to_buyer == escrow.amount,
            "model: escrow {id} settles twice or not for its amount"
        );
        escrow.status = MStatus::Settled {
            at: height,
            to_seller,
            to_buyer,
            how,
        };
        let escrow = escrow.clone();
        for deadline in [escrow.confirm_deadline, escrow.arbiter_deadline] {
            self.remove_due(deadline, &MDue::Escrow(*id));
        }
        self.payouts
            .entry(*id)
            .or_default()
            .push((height, to_seller, to_buyer));
        if to_seller > 0 {
            self.credit(&escrow.seller, escrow.asset, to_seller)?;
        }
        if to_buyer > 0 {
            self.credit(&escrow.buyer, escrow.asset, to_buyer)?;
        }
        for party in [escrow.buyer, escrow.seller] {
            let record = &mut self.account_mut(&party)?.record;
            match how {
                How::ReleasedByBuyer | How::AutoReleased => record.completed += 1,
                How::RefundedBySeller | How::AutoRefunded => record.refunded += 1,
                How::ResolvedByArbiter => {
                    let (mine, theirs) = if party == escrow.seller {
                        (to_seller, to_buyer)
                    } else {
                        (to_buyer, to_seller)
                    };
                    if mine > theirs {
                        record.won += 1;
                    } else if mine < theirs {
                        record.lost += 1;
                    }
                }
            }
        }
        Ok(())
    }

    // ----- credit -----

    /// The account's bank, if it is a customer and `sender` its bank's treasury.
    fn hosting_bank(&self, sender: &AccountId, account: &AccountId) -> Rule<usize> {
        let bank = self.account(account)?.bank;
        if self.bank_of_treasury(account).is_some() {
            return Err(RejectReason::CreditForBank);
        }
        if self.treasuries[bank] != *sender {
            return Err(RejectReason::NotHostingBank { bank: member(bank) });
        }
        Ok(bank)
    }

    // ----- the model's own invariants -----

    /// Balances plus held escrows equal the supply, per asset; every escrow
    /// was paid out at most once, and then exactly its amount.
    fn check_books(&self) {
        let mut held = vec![0u128; BANKS];
        for account in self.accounts.values() {
            for (a, amount) in &account.balances {
                held[*a] += amount;
            }
            for line in account.lines.values() {
                assert_eq!(
                    line.debt.is_some(),
                    line.drawn > 0,
                    "model: a debt exactly while something is owed"
                );
            }
        }
        for (id, escrow) in &self.escrows {
            held[escrow.asset] += escrow.held();
            let payouts = self.payouts.get(id).map_or(&[][..], Vec::as_slice);
            match escrow.status {
                MStatus::Settled { .. } => {
                    assert_eq!(payouts.len(), 1, "model: escrow {id} paid out {payouts:?}");
                    let (_, to_seller, to_buyer) = payouts[0];
                    assert_eq!(to_seller + to_buyer, escrow.amount);
                }
                _ => assert!(payouts.is_empty(), "model: held escrow {id} paid out"),
            }
        }
        assert_eq!(held, self.supply, "model: books do not balance");
        // A quote holds no money; it is live exactly while registered for
        // deletion at its last height, which has not passed.
        for (id, quote) in &self.quotes {
            assert!(quote.remaining > 0, "model: quote {id} paid down but live");
            assert!(
                quote.valid_until >= self.height,
                "model: quote {id} expired but live"
            );
            let due = self
                .due
                .get(&quote.valid_until)
                .map_or(&[][..], Vec::as_slice);
            let registered = due.iter().filter(|item| **item == MDue::Quote(*id));
            assert_eq!(
                registered.count(),
                1,
                "model: quote {id} not registered once"
            );
        }
        for (at, items) in &self.due {
            for item in items {
                if let MDue::Quote(id) = item {
                    let quote = self.quotes.get(id);
                    assert_eq!(
                        quote.map(|q| q.valid_until),
                        Some(*at),
                        "model: due {item:?}"
                    );
                }
            }
        }
    }
}

fn repay(line: &mut MLine, record: &mut MRecord, a: usize, amount: u128, height: u64) -> u128 {
    let repaid = line.drawn.min(amount);
    line.drawn -= repaid;
    if line.drawn == 0
        && let Some(debt) = line.debt.take()
    {
        if debt.overdue {
            record.overdue_open -= 1;
        } else if height <= debt.due && height > debt.since {
            // In full, by the due height, in a later block than it opened.
            record.repaid_on_time += 1;
        }
    }
    let tally = record.credit.entry(a).or_default();
    tally.repaid = tally.repaid.saturating_add(repaid);
    repaid
}

/// The debt goes overdue, once, when its due height is behind `height`.
fn mark_overdue(line: &mut MLine, record: &mut MRecord, a: usize, height: u64) {
    let drawn = line.drawn;
    if let Some(debt) = &mut line.debt
        && !debt.overdue
        && debt.due < height
    {
        debt.overdue = true;
        record.overdue_events += 1;
        record.overdue_open += 1;
        let tally = record.credit.entry(a).or_default();
        tally.overdue = tally.overdue.saturating_add(drawn);
    }
}

// ----- the ledger's state in the model's terms ------------------------------

fn asset_index(code: &AssetCode) -> usize {
    crate::fixture::ASSETS
        .iter()
        .position(|c| *c == code.as_str())
        .unwrap_or_else(|| panic!("{code} is not a fixture asset"))
}

fn observed_record(record: &CreditRecord) -> MRecord {
    let tallies = |map: &BTreeMap<AssetCode, credit::Tally>| {
        map.iter()
            .map(|(code, t)| {
                (
                    asset_index(code),
                    MTally {
                        count: t.count,
                        volume: t.volume.0,
                    },
                )
            })
            .collect()
    };
    MRecord {
        sent: tallies(&record.sent),
        received: tallies(&record.received),
        completed: record.escrows.completed,
        refunded: record.escrows.refunded,
        disputed: record.escrows.disputed,
        won: record.escrows.won,
        lost: record.escrows.lost,
        credit: record
            .credit
            .iter()
            .map(|(code, t)| {
                (
                    asset_index(code),
                    MCredit {
                        drawn: t.drawn.0,
                        repaid: t.repaid.0,
                        overdue: t.overdue.0,
                    },
                )
            })
            .collect(),
        repaid_on_time: record.repaid_on_time,
        overdue_events: record.overdue_events,
        overdue_open: record.overdue_open,
        attestations: record
            .attestations
            .iter()
            .map(|(bank, a)| {
                (
                    bank_index(bank),
                    MAttestation {
                        positive: a.positive,
                        category: a.category.as_str().to_owned(),
                        reference: a.reference,
                        at: a.at,
                    },
                )
            })
            .collect(),
        attestations_filed: record.attestations_filed,
    }
}

fn observed_account(account: &AccountState) -> MAccount {
    MAccount {
        bank: bank_index(&account.bank),
        nonce: account.nonce,
        balances: account
            .balances
            .iter()
            .map(|(code, amount)| (asset_index(code), amount.0))
            .collect(),
        lines: account
            .lines
            .iter()
            .map(|(code, line)| {
                (
                    asset_index(code),
                    MLine {
                        limit: line.limit.0,
                        period_blocks: line.period_blocks,
                        drawn: line.drawn.0,
                        debt: line.debt.map(|d| MDebt {
                            since: d.since,
                            due: d.due,
                            overdue: d.overdue,
                        }),
                        granted_at: line.granted_at,
                    },
                )
            })
            .collect(),
        record: observed_record(&account.record),
    }
}

fn observed_escrow(escrow: &EscrowState) -> MEscrow {
    MEscrow {
        buyer: escrow.buyer,
        seller: escrow.seller,
        asset: asset_index(&escrow.asset),
        amount: escrow.amount.0,
        arbiter: bank_index(&escrow.arbiter),
        reference: escrow.reference,
        opened_at: escrow.opened_at,
        confirm_deadline: escrow.confirm_deadline,
        arbiter_deadline: escrow.arbiter_deadline,
        dispute: escrow.dispute.as_ref().map(|d| (d.by, d.at)),
        status: match &escrow.status {
            EscrowStatus::Open => MStatus::Open,
            EscrowStatus::Disputed => MStatus::Disputed,
            EscrowStatus::Settled(s) => MStatus::Settled {
                at: s.at,
                to_seller: s.to_seller.0,
                to_buyer: s.to_buyer.0,
                how: match s.how {
                    SettledBy::ReleasedByBuyer => How::ReleasedByBuyer,
                    SettledBy::RefundedBySeller => How::RefundedBySeller,
                    SettledBy::AutoReleased => How::AutoReleased,
                    SettledBy::ResolvedByArbiter => How::ResolvedByArbiter,
                    SettledBy::AutoRefunded => How::AutoRefunded,
                },
            },
        },
    }
}

fn observed_due(item: &DueItem) -> MDue {
    match item {
        DueItem::Escrow(id) => MDue::Escrow(*id),
        DueItem::Credit(account, code) => MDue::Credit(*account, asset_index(code)),
        DueItem::Quote(id) => MDue::Quote(*id),
    }
}

fn observed_quote(quote: &QuoteState) -> MQuote {
    MQuote {
        provider: bank_index(&quote.provider),
        pay: asset_index(&quote.pay_asset),
        receive: asset_index(&quote.receive_asset),
        rate: quote.rate,
        remaining: quote.remaining.0,
        valid_until: quote.valid_until,
        posted_at: quote.posted_at,
    }
}

/// Every account's credit record and rating.
type Ratings = BTreeMap<AccountId, (CreditRecord, u16)>;

/// Every account's credit record and its rating under formula 1, read from
/// the ledger's own function.
fn ratings(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Ratings {
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        if let StateKey::Account(id) = codec::decode::<StateKey, 256>(key).unwrap() {
            let account: AccountState = codec::decode::<_, 1_048_576>(value).unwrap();
            let rating = credit::rating(&account.record, 1).unwrap();
            out.insert(id, (account.record, rating));
        }
    }
    out
}

/// What the ledger's state says about escrow payouts, block after block: a
/// settled escrow's settlement is recorded the first time it is seen and
/// must never change; it pays out exactly the escrowed amount; a settled
/// escrow never holds money again and no escrow disappears.
#[derive(Default)]
struct PayoutLedger {
    seen: BTreeSet<Hash>,
    settled: BTreeMap<Hash, Settlement>,
}

impl PayoutLedger {
    fn observe(&mut self, id: Hash, escrow: &EscrowState, height: u64) {
        self.seen.insert(id);
        match &escrow.status {
            EscrowStatus::Settled(settlement) => {
                let paid = settlement.to_seller.0.checked_add(settlement.to_buyer.0);
                assert_eq!(
                    paid,
                    Some(escrow.amount.0),
                    "escrow {id} paid out {settlement:?} of {}",
                    escrow.amount
                );
                match self.settled.get(&id) {
                    Some(first) => assert_eq!(first, settlement, "escrow {id} settled twice"),
                    None => {
                        assert_eq!(
                            settlement.at, height,
                            "escrow {id} first seen settled at {height}"
                        );
                        self.settled.insert(id, settlement.clone());
                    }
                }
            }
            EscrowStatus::Open | EscrowStatus::Disputed => assert!(
                !self.settled.contains_key(&id),
                "escrow {id} holds money again after settling"
            ),
        }
    }
}

// ----- driving the ledger and the model together ---------------------------

/// With `LEDGER_MODEL_STATS` set, counts what the runs exercised (receipts
/// by body and outcome, escrow settlements, credit events) and prints it
/// at the end of each property, to check the generators reach every rule.
mod stats {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static COUNTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

    pub fn enabled() -> bool {
        std::env::var_os("LEDGER_MODEL_STATS").is_some()
    }

    pub fn add(what: String, n: u64) {
        if enabled() && n > 0 {
            *COUNTS.lock().unwrap().entry(what).or_default() += n;
        }
    }

    pub fn print(title: &str) {
        if enabled() {
            let counts = COUNTS.lock().unwrap();
            eprintln!("{title}:");
            for (what, n) in counts.iter() {
                eprintln!("  {n:>8}  {what}");
            }
        }
    }
}

fn outcome_name(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied { .. } => "applied".into(),
        Outcome::Swapped { .. } => "swapped".into(),
        Outcome::Converted { .. } => "converted".into(),
        Outcome::Rejected(reason) => {
            let text = format!("{reason:?}");
            text.split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned()
        }
    }
}

impl Model {
    /// Counts, for the stats, what a finished run did.
    fn count_stats(&self) {
        if !stats::enabled() {
            return;
        }
        for escrow in self.escrows.values() {
            let what = match &escrow.status {
                MStatus::Settled { how, .. } => format!("escrow settled {how:?}"),
                status => format!("escrow left {}", status.name()),
            };
            stats::add(what, 1);
        }
        for account in self.accounts.values() {
            let r = &account.record;
            stats::add("record disputed".into(), r.disputed);
            stats::add("record won".into(), r.won);
            stats::add("record lost".into(), r.lost);
            stats::add("record repaid_on_time".into(), r.repaid_on_time);
            stats::add("record overdue_events".into(), r.overdue_events);
            stats::add("record overdue_open at end".into(), r.overdue_open);
            stats::add("record attestations_filed".into(), r.attestations_filed);
            let draws = r.credit.values().filter(|c| c.drawn > 0).count() as u64;
            stats::add("accounts that drew credit".into(), draws);
            let repaid = r.credit.values().filter(|c| c.repaid > 0).count() as u64;
            stats::add("accounts that repaid credit".into(), repaid);
            let rating = rating_v1(r);
            stats::add(format!("rating at end {}xx", rating / 100), 1);
            for line in account.lines.values() {
                stats::add(format!("line debt open at end {}", line.debt.is_some()), 1);
            }
        }
        for ((what, kind), n) in &self.events {
            stats::add(format!("{what} ({kind})"), *n);
        }
        stats::add("quote left live at end".into(), self.quotes.len() as u64);
    }
}

/// A fixture asset by index, and XAU (unknown to the chain) for 9.
fn asset_code(i: usize) -> AssetCode {
    if i < 9 {
        AssetCode::new(crate::fixture::ASSETS[i % BANKS]).unwrap()
    } else {
        AssetCode::new("XAU").unwrap()
    }
}

/// The fee schedule's fee for moving `amount` of asset index `i` (none for
/// XAU, saturating where the ledger reports an overflow).
fn schedule_fee(i: usize, amount: u128) -> u128 {
    if i >= 9 {
        return 0;
    }
    let a = i % BANKS;
    basis_points(amount, BPS[a]).map_or(u128::MAX, |p| p.saturating_add(FLAT[a]))
}

/// How a swap's counterparty consents: by a key (its own or another),
/// by its own key to other terms, or not at all.
enum Consent {
    By(usize),
    ForOther(usize, Box<Body>),
    Missing,
}

/// Turns random ops into signed transactions, choosing parties, escrows
/// and quotes from the model's state as a client would.
struct Builder {
    keys: Vec<Keypair>,
    index: BTreeMap<AccountId, usize>,
}

impl Builder {
    fn new(f: &Fixture) -> Builder {
        let mut keys: Vec<Keypair> = f
            .accounts
            .iter()
            .map(|k| Keypair::from_seed(&k.seed()))
            .collect();
        keys.extend(f.treasuries.iter().map(|k| Keypair::from_seed(&k.seed())));
        // Accounts that exist only once registered, and one stranger.
        keys.extend((0..3).map(|i| key(&format!("late-{i}"))));
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.account(), i))
            .collect();
        Builder { keys, index }
    }

    fn treasury_key(&self, bank: usize) -> usize {
        CUSTOMERS + bank
    }

    /// A key index from a random number: customers 60%, treasuries 30%,
    /// the late keys (unregistered until a bank registers them) 10%.
    fn key_index(choice: usize) -> usize {
        match choice % 20 {
            0..=11 => choice % CUSTOMERS,
            12..=17 => CUSTOMERS + choice % BANKS,
            _ => CUSTOMERS + BANKS + choice % 3,
        }
    }

    fn build(&self, f: &Fixture, model: &Model, op: &Op, height: u64) -> SignedTransaction {
        let mut sender = Builder::key_index(op.sender);
        let mut target = self.keys[Builder::key_index(op.target)].account();
        let mut a = op.asset % 10;
        // Credit lines as (account, asset), and the accounts owing on one.
        let lines: Vec<(AccountId, usize)> = model
            .accounts
            .iter()
            .flat_map(|(id, account)| account.lines.keys().map(|a| (*id, *a)))
            .collect();
        let debts: Vec<(AccountId, usize)> = model
            .accounts
            .iter()
            .flat_map(|(id, account)| {
                let owing = account.lines.iter().filter(|(_, line)| line.drawn > 0);
                owing.map(|(a, _)| (*id, *a))
            })
            .collect();
        if (22..=25).contains(&op.kind) && !op.target.is_multiple_of(4) {
            // Credit steps are mostly about customers.
            target = self.keys[op.target / 4 % CUSTOMERS].account();
        }
        let mode = op.role % 3;
        if mode == 0 && !lines.is_empty() && op.kind <= 14 {
            // Spend from an account with a line, in the line's asset.
            let (account, line_asset) = lines[op.pick % lines.len()];
            sender = self.index[&account];
            a = line_asset;
        } else if mode == 1 && !debts.is_empty() && op.kind <= 14 {
            // Pay an account that owes: a repayment.
            let (account, line_asset) = debts[op.pick % debts.len()];
            target = account;
            a = line_asset;
        }
        let asset = if a < 9 {
            f.asset(a % BANKS)
        } else {
            AssetCode::new("XAU").unwrap()
        };
        // A third of payments try to spend a little more than the balance,
        // drawing on the credit line if there is one.
        let has_line = |account: &MAccount| account.lines.contains_key(&(a % BANKS));
        let sender_has_line = model
            .accounts
            .get(&self.keys[sender].account())
            .is_some_and(has_line);
        let amount = if mode == 0 && a < 9 && sender_has_line {
            let balance = model
                .accounts
                .get(&self.keys[sender].account())
                .map_or(0, |account| {
                    account.balances.get(&(a % BANKS)).copied().unwrap_or(0)
                });
            Amount(balance + 1 + op.amount % 40_000)
        } else {
            Amount(op.amount)
        };
        let role = op.role / 3 % 8;
        // The bank hosting the target (bank 0 for the unregistered).
        let target_bank = model.accounts.get(&target).map_or(0, |a| a.bank);
        let mut consent = None;
        let body = match op.kind {
            0..=5 => Body::Transfer {
                to: target,
                asset,
                amount,
            },
            6..=7 => Body::Payment {
                to: target,
                asset,
                amount,
                details: PaymentDetails::Clear(PaymentData {
                    end_to_end_id: EndToEndId::new(&format!("E2E {}", op.a)).unwrap(),
                    remittance: Remittance::new("invoice").unwrap(),
                }),
            },
            8 => Body::Issue {
                to: target,
                asset,
                amount,
            },
            9 if mode == 2 && op.a.is_multiple_of(4) && a < 9 => {
                // The issuer redeems everything it holds: its customers'
                // draws in that asset then find the lender short.
                let issuer = a % BANKS;
                sender = self.treasury_key(issuer);
                let balance = model.balance(&model.treasuries[issuer], issuer);
                Body::Redeem {
                    asset,
                    amount: Amount(balance),
                }
            }
            9 => Body::Redeem { asset, amount },
            10 => Body::RegisterAccount { account: target },
            11..=14 => {
                let arbiter = if op.pick % 10 == 9 {
                    MemberId::new("bank-9").unwrap()
                } else {
                    member(op.pick % BANKS)
                };
                let confirm_deadline = match op.a % 16 {
                    0 => height - 1,
                    1..=3 => height,
                    4..=7 => height + 1,
                    8..=10 => height + 2,
                    11 => height + 3,
                    12 | 13 => height + 4,
                    14 => height + 8,
                    _ => u64::MAX,
                };
                let arbiter_deadline = match op.b % 16 {
                    0 => confirm_deadline,
                    1..=6 => confirm_deadline.saturating_add(1),
                    7..=9 => confirm_deadline.saturating_add(2),
                    10 | 11 => confirm_deadline.saturating_add(3),
                    12 | 13 => confirm_deadline.saturating_add(6),
                    14 => height + DEADLINE_BLOCKS_MAX,
                    _ => height + DEADLINE_BLOCKS_MAX + 1,
                };
                Body::EscrowOpen {
                    seller: target,
                    asset,
                    amount,
                    arbiter,
                    confirm_deadline,
                    arbiter_deadline,
                    reference: sha256(&[b"order", &op.pick.to_be_bytes()]),
                }
            }
            15..=21 => {
                let (escrow, parties) = self.pick_escrow(model, op);
                if let Some((buyer, seller, arbiter)) = parties {
                    let other_treasury = self.treasury_key((arbiter + 1) % BANKS);
                    let arbiter = self.treasury_key(arbiter);
                    sender = match (op.kind, role) {
                        // release: the buyer, or a wrong party
                        (15, 0..=4) => buyer,
                        (15, 5) => seller,
                        (15, 6) => arbiter,
                        // refund: the seller, or a wrong party
                        (16, 0..=4) => seller,
                        (16, 5) => buyer,
                        (16, 6) => arbiter,
                        // dispute: either party, or a wrong one
                        (17 | 18, 0..=2) => buyer,
                        (17 | 18, 3 | 4) => seller,
                        (17 | 18, 5) => arbiter,
                        (15..=18, _) => sender,
                        // resolve: the arbiter's treasury, or a wrong party
                        (_, 0..=4) => arbiter,
                        (_, 5) => buyer,
                        (_, 6) => seller,
                        (_, _) => other_treasury,
                    };
                }
                match op.kind {
                    15 => Body::EscrowRelease { escrow },
                    16 => Body::EscrowRefund { escrow },
                    17 | 18 => Body::EscrowDispute { escrow },
                    _ => {
                        let held = model.escrows.get(&escrow).map_or(op.amount, |e| e.amount);
                        let to_seller = match op.a % 6 {
                            0 => 0,
                            1 => held / 2,
                            2 => held,
                            3 => held.saturating_add(1),
                            _ => op.amount % held.saturating_add(1),
                        };
                        Body::EscrowResolve {
                            escrow,
                            to_seller: Amount(to_seller),
                        }
                    }
                }
            }
            22..=25 => {
                sender = match role {
                    0..=4 => self.treasury_key(target_bank),
                    5 => self.treasury_key((target_bank + 1) % BANKS),
                    6 => self.index[&target],
                    _ => sender,
                };
                if op.kind == 25 {
                    Body::CreditRevoke {
                        account: target,
                        asset,
                    }
                } else {
                    let limit = match op.a % 6 {
                        0 => 0,
                        1 => 5_000,
                        2 => 30_000,
                        3 => 60_000,
                        4 => 200_000,
                        _ => u128::MAX,
                    };
                    let period_blocks = match op.b % 8 {
                        0 => 0,
                        1 | 2 => 1,
                        3 => 2,
                        4 => 3,
                        5 => 6,
                        6 => PERIOD_BLOCKS_MAX,
                        _ => PERIOD_BLOCKS_MAX + 1,
                    };
                    Body::CreditGrant {
                        account: target,
                        asset,
                        limit: Amount(limit),
                        period_blocks,
                    }
                }
            }
            28 | 29 => {
                let (body, swap_consent) = self.swap(model, op, &mut sender, a);
                consent = swap_consent;
                body
            }
            30..=32 => self.quote_post(op, &mut sender, a, height),
            33 => {
                let (quote, provider) = self.pick_quote(model, op);
                if let Some(bank) = provider {
                    sender = match role {
                        0..=4 => self.treasury_key(bank),
                        5 | 6 => self.treasury_key((bank + 1 + usize::from(role % 2)) % BANKS),
                        _ => sender,
                    };
                }
                Body::QuoteWithdraw { quote }
            }
            // With no live quote, half of them post one instead.
            34..=37 if model.quotes.is_empty() && (op.pick / 40).is_multiple_of(2) => {
                self.quote_post(op, &mut sender, a, height)
            }
            34..=37 => {
                let (mut quote, _) = self.pick_quote(model, op);
                if op.a % 8 == 4 {
                    // A quote promising more than its treasury holds, used
                    // by a treasury that can pay in enough.
                    let unfunded = model.quotes.iter().find(|(_, q)| {
                        q.remaining > model.balance(&model.treasuries[q.provider], q.pay)
                    });
                    if let Some((id, q)) = unfunded {
                        quote = *id;
                        sender = self.treasury_key((q.provider + 1) % BANKS);
                    }
                }
                let live = model.quotes.get(&quote);
                // Mostly the asset the quote takes in.
                let asset = match live {
                    Some(q) if !op.b.is_multiple_of(8) => f.asset(q.receive),
                    _ => asset,
                };
                let own = self.keys[sender].account();
                if op.b % 16 == 1 {
                    target = own;
                } else if target == own {
                    target = self.keys[(sender + 1) % CUSTOMERS].account();
                }
                // The least amount converting to at least `target`.
                let least = |q: &MQuote, target: u128| {
                    let (n, d) = (q.rate.numerator, q.rate.denominator);
                    mul_div(target, d, n).map_or(u128::MAX, |x| {
                        if mul_div(x, n, d) >= Some(target) {
                            x
                        } else {
                            x.saturating_add(1)
                        }
                    })
                };
                let pay_in = match (op.a % 8, live) {
                    (0, _) => op.amount,
                    // All the quote has left (at rates above one it may
                    // convert to more), or a unit of the rate beyond it.
                    (1 | 2, Some(q)) => least(q, q.remaining),
                    (3, Some(q)) => {
                        least(q, q.remaining).saturating_add(1 + u128::from(q.rate.denominator))
                    }
                    // More than the quoting treasury holds.
                    (4, Some(q)) => {
                        let treasury = &model.treasuries[q.provider];
                        least(q, model.balance(treasury, q.pay).saturating_add(1))
                    }
                    // Converts to nothing at rates below one.
                    (5, _) => 1,
                    // Some of what the quote has left.
                    (6, Some(q)) => least(q, 1 + op.amount % q.remaining),
                    _ => 1 + op.amount % 30_000,
                };
                Body::CrossTransfer {
                    to: target,
                    asset,
                    amount: Amount(pay_in),
                    quote,
                    details: PaymentDetails::Clear(PaymentData {
                        end_to_end_id: EndToEndId::new(&format!("FX {}", op.a)).unwrap(),
                        remittance: Remittance::new("fx invoice").unwrap(),
                    }),
                }
            }
            26 | 27 => {
                if role < 6 {
                    sender = self.treasury_key(op.pick % BANKS);
                }
                let category = ["repayment", "fraud-report", "kyc_check"][usize::from(op.a % 3)];
                Body::CreditAttest {
                    account: target,
                    positive: !op.b.is_multiple_of(4),
                    category: Category::new(category).unwrap(),
                    reference: sha256(&[b"evidence", &[op.a]]),
                }
            }
            _ => unreachable!("kind {} of {KINDS}", op.kind),
        };
        let sender = &self.keys[sender];
        // One payment in eight, and one cross-currency transfer in eight,
        // seals its data: for the right parties, or without the regulator,
        // or for a bank on neither side too, or for the auditor as well.
        let seal = |to: &AccountId, asset: &AssetCode, amount: Amount, variant: u8| {
            let bank = |id: &AccountId| model.accounts.get(id).map_or(0, |account| account.bank);
            let mut keys = vec![
                Fixture::sealing(bank(&sender.account())).public(),
                Fixture::sealing(bank(to)).public(),
                sealing("regulator").public(),
            ];
            match variant % 4 {
                1 => drop(keys.pop()),
                2 => keys.push(Fixture::sealing((bank(to) + 1) % BANKS).public()),
                3 => keys.push(sealing("auditor").public()),
                _ => {}
            }
            let context = SealingContext::new(&f.chain_id(), &sender.account(), to, asset, amount);
            let data = PaymentData {
                end_to_end_id: EndToEndId::new(&format!("E2E {}", op.a)).unwrap(),
                remittance: Remittance::new("sealed invoice").unwrap(),
            };
            let seed = sha256(&[b"property seed", &[op.a, op.b]]).0;
            PaymentDetails::Sealed(SealedDetails::seal(&data, &keys, &context, seed).unwrap())
        };
        let body = match body {
            Body::Payment {
                to, asset, amount, ..
            } if op.kind == 7 => Body::Payment {
                details: seal(&to, &asset, amount, op.a),
                to,
                asset,
                amount,
            },
            Body::CrossTransfer {
                to,
                asset,
                amount,
                quote,
                ..
            } if op.kind == 37 && op.b.is_multiple_of(2) => Body::CrossTransfer {
                details: seal(&to, &asset, amount, op.a / 8),
                to,
                asset,
                amount,
                quote,
            },
            other => other,
        };
        let nonce = model
            .nonce(&sender.account())
            .saturating_add_signed(i64::from(op.nonce_skew));
        let mut tx = Transaction {
            chain_id: f.chain_id(),
            sender: sender.account(),
            nonce,
            fee: Amount(if op.low_max_fee { 0 } else { u128::MAX }),
            expiry_height: if op.expired { height - 1 } else { height + 5 },
            body,
        };
        match consent {
            None | Some(Consent::Missing) => {}
            Some(Consent::By(key)) => tx = tx.with_consent(&self.keys[key]).unwrap(),
            Some(Consent::ForOther(key, terms)) => {
                // Consent to other terms, carried on these.
                let other = Transaction {
                    body: *terms,
                    ..tx.clone()
                }
                .with_consent(&self.keys[key])
                .unwrap();
                if let (
                    Body::Swap {
                        counter_signature, ..
                    },
                    Body::Swap {
                        counter_signature: signed,
                        ..
                    },
                ) = (&mut tx.body, other.body)
                {
                    *counter_signature = signed;
                }
            }
        }
        tx.sign(sender).unwrap()
    }

    /// A swap of `sender` (mostly a customer) with a customer, sometimes
    /// with itself or any key; same or unknown assets, zero amounts,
    /// amounts beyond either side's balance, a counter fee maximum below,
    /// at or above the schedule's, and a consent by the counterparty, by
    /// another key, for altered terms, or none.
    fn swap(
        &self,
        model: &Model,
        op: &Op,
        sender: &mut usize,
        a: usize,
    ) -> (Body, Option<Consent>) {
        if op.role / 3 % 8 < 7 {
            *sender = op.sender % CUSTOMERS;
        }
        let p = op.pick;
        // Credit lines as (key index, asset): one side may spend beyond its
        // balance on one.
        let lines: Vec<(usize, usize)> = model
            .accounts
            .iter()
            .flat_map(|(id, account)| account.lines.keys().map(|a| (self.index[id], *a)))
            .collect();
        let line = (!lines.is_empty()).then(|| lines[p / 5760 % lines.len()]);
        let mut a = a;
        let on_line = match (p % 16, line) {
            (3 | 4, Some((key, line_asset))) => {
                (*sender, a) = (key, line_asset);
                Some(true)
            }
            (5 | 6, Some(_)) => Some(false),
            _ => None,
        };
        let sender = *sender;
        let mut counterparty = match p % 16 {
            0 => sender,
            1 => Builder::key_index(op.target),
            // A late key: unknown until a bank registers it.
            2 => CUSTOMERS + BANKS + op.target % 3,
            _ => (sender + 1 + op.target % (CUSTOMERS - 1)) % CUSTOMERS,
        };
        let mut take = match op.b % 10 {
            0 => a,
            1 => 9,
            _ => (a % BANKS + 1 + usize::from(op.b / 10 % 2)) % BANKS,
        };
        if let (Some(false), Some((key, line_asset))) = (on_line, line) {
            (counterparty, take) = (key, line_asset);
        }
        let balance = |key: usize, i: usize| {
            model
                .accounts
                .get(&self.keys[key].account())
                .map_or(0, |account| {
                    account.balances.get(&(i % BANKS)).copied().unwrap_or(0)
                })
        };
        let beyond = |key: usize, i: usize| balance(key, i).saturating_add(1 + op.amount % 5_000);
        let give_amount = match op.a % 8 {
            _ if on_line == Some(true) => beyond(sender, a),
            0 => op.amount,
            1 => beyond(sender, a),
            _ => 1 + op.amount % 60_000,
        };
        let take_amount = match op.a / 8 % 8 {
            _ if on_line == Some(false) => beyond(counterparty, take),
            0 => 0,
            1 => beyond(counterparty, take),
            2 => op.amount,
            _ => 1 + (op.amount / 7) % 60_000,
        };
        let required = schedule_fee(take, take_amount);
        let counter_fee = match p / 16 % 6 {
            0 => 0,
            1 => required.saturating_sub(1),
            2 => required,
            _ => u128::MAX,
        };
        let body = |take_amount: u128, counter_fee: u128| Body::Swap {
            counterparty: self.keys[counterparty].account(),
            give_asset: asset_code(a),
            give_amount: Amount(give_amount),
            take_asset: asset_code(take),
            take_amount: Amount(take_amount),
            counter_fee: Amount(counter_fee),
            counter_signature: Signature([0; 64]),
        };
        let (what, consent) = match p / 96 % 10 {
            0 if (p / 960).is_multiple_of(2) => ("by the sender", Consent::By(sender)),
            0 => (
                "by another customer",
                Consent::By((counterparty + 1) % CUSTOMERS),
            ),
            1 if (p / 960).is_multiple_of(2) => (
                "for another take amount",
                Consent::ForOther(counterparty, Box::new(body(take_amount ^ 1, counter_fee))),
            ),
            1 => (
                "for another counter fee",
                Consent::ForOther(counterparty, Box::new(body(take_amount, counter_fee ^ 1))),
            ),
            2 => ("missing", Consent::Missing),
            _ => ("by the counterparty", Consent::By(counterparty)),
        };
        stats::add(format!("swap built: consent {what}"), 1);
        (body(take_amount, counter_fee), Some(consent))
    }

    /// A quote posted by a treasury (mostly) paying asset index `a`: rates
    /// above and below one, extreme and invalid; maximums small enough to
    /// run down, beyond a treasury's balance, or zero; last heights from
    /// past to beyond the horizon.
    fn quote_post(&self, op: &Op, sender: &mut usize, a: usize, height: u64) -> Body {
        if op.role / 3 % 8 < 7 {
            *sender = self.treasury_key(op.pick % BANKS);
        }
        let receive = match op.b % 20 {
            0 => a,
            1 => 9,
            _ => (a % BANKS + 1 + usize::from(op.b / 20 % 2)) % BANKS,
        };
        let (numerator, denominator) = match op.a % 16 {
            0 => (0, 100),
            1 => (14, 0),
            2..=4 => (14, 100),
            5..=7 => (100, 14),
            8 => (1, 1),
            9 | 10 => (7, 3),
            11 | 12 => (1, 1_000),
            13 => (1_000, 1),
            14 => (u64::MAX, 1),
            _ => (3, u64::MAX),
        };
        let maximum = match op.a / 16 % 16 {
            0 => 0,
            1 | 2 => 500,
            3 | 4 => 5_000,
            5..=8 => 50_000,
            // More than a treasury holds.
            9 | 10 => 20_000_000,
            11 => u128::MAX,
            _ => 1 + op.amount % 200_000,
        };
        let valid_until = match op.pick / 8 % 16 {
            0 => height - 1,
            1 | 2 => height,
            3 | 4 => height + 1,
            5 | 6 => height + 2,
            7 | 8 => height + 4,
            9..=11 => height + 8,
            12 => height + DEADLINE_BLOCKS_MAX,
            13 => height + DEADLINE_BLOCKS_MAX + 1,
            14 => u64::MAX,
            _ => height + 16,
        };
        Body::QuotePost {
            pay_asset: asset_code(a),
            receive_asset: asset_code(receive),
            rate: Rate {
                numerator,
                denominator,
            },
            maximum: Amount(maximum),
            valid_until,
        }
    }

    /// A quote id (a live one, any one ever posted, or one never posted)
    /// and, for a posted one, its bank.
    fn pick_quote(&self, model: &Model, op: &Op) -> (Hash, Option<usize>) {
        let ids = &model.quote_ids;
        if ids.is_empty() || op.pick % 10 == 9 {
            return (sha256(&[b"no such quote", &op.pick.to_be_bytes()]), None);
        }
        let choice = op.pick / 10;
        let live: Vec<&(Hash, usize)> = ids
            .iter()
            .filter(|(id, _)| model.quotes.contains_key(id))
            .collect();
        let (id, bank) = match choice % 4 {
            0..=2 if !live.is_empty() => *live[(choice / 4) % live.len()],
            _ => ids[(choice / 4) % ids.len()],
        };
        (id, Some(bank))
    }

    /// An escrow id (a recent one, any one, or one that does not exist) and,
    /// for an existing escrow, the key indices of buyer and seller and the
    /// arbiter bank.
    fn pick_escrow(&self, model: &Model, op: &Op) -> (Hash, Option<(usize, usize, usize)>) {
        let ids = &model.escrow_ids;
        if ids.is_empty() || op.pick % 10 == 9 {
            return (sha256(&[b"no such escrow", &op.pick.to_be_bytes()]), None);
        }
        let choice = op.pick / 10;
        let held: Vec<&Hash> = ids
            .iter()
            .filter(|id| model.escrows[*id].held() > 0)
            .collect();
        let id = match choice % 4 {
            0 => ids[ids.len() - 1 - (choice / 4) % ids.len().min(3)],
            1 | 2 if !held.is_empty() => *held[(choice / 4) % held.len()],
            _ => ids[(choice / 4) % ids.len()],
        };
        let escrow = &model.escrows[&id];
        let parties = (
            self.index[&escrow.buyer],
            self.index[&escrow.seller],
            escrow.arbiter,
        );
        (id, Some(parties))
    }
}

/// One chain, run block by block on a memory state next to the model.
struct Harness {
    f: Fixture,
    state: MemoryState,
    model: Model,
    builder: Builder,
    payouts: PayoutLedger,
    /// What each block did, for the replay: the outcome, and every
    /// account's credit record and rating after it.
    history: Vec<(BlockOutcome, Ratings)>,
}

impl Harness {
    fn new() -> Harness {
        let f = fixture();
        let state = f.genesis.memory_state().unwrap();
        let model = Model::new(&f);
        let builder = Builder::new(&f);
        let harness = Harness {
            f,
            state,
            model,
            builder,
            payouts: PayoutLedger::default(),
            history: Vec::new(),
        };
        harness.check_state();
        harness
    }

    fn height(&self) -> u64 {
        self.history.len() as u64
    }

    /// Builds the next block from `ops` with the model's predictions.
    fn prepare(&mut self, ops: &[Op]) -> (Vec<SignedTransaction>, Vec<Outcome>) {
        let height = self.height() + 1;
        self.model.begin_block(height);
        let mut txs = Vec::new();
        let mut expected = Vec::new();
        for op in ops {
            let tx = self.builder.build(&self.f, &self.model, op, height);
            expected.push(self.model.apply(&tx.tx, tx.id().unwrap()));
            txs.push(tx);
        }
        (txs, expected)
    }

    /// Proposes and commits the next block, checking everything.
    fn block(&mut self, ops: &[Op]) {
        let (txs, expected) = self.prepare(ops);
        self.commit_checked(&txs, &expected);
    }

    /// Proposes and commits the next block of `(sender key index, body)`,
    /// checking everything; returns the outcomes.
    fn block_of(&mut self, bodies: Vec<(usize, Body)>) -> Vec<Outcome> {
        let height = self.height() + 1;
        self.model.begin_block(height);
        let mut txs = Vec::new();
        let mut expected = Vec::new();
        for (sender, body) in bodies {
            let key = &self.builder.keys[sender];
            let tx = self.f.sign(key, self.model.nonce(&key.account()), body);
            expected.push(self.model.apply(&tx.tx, tx.id().unwrap()));
            txs.push(tx);
        }
        self.commit_checked(&txs, &expected);
        expected
    }

    fn commit_checked(&mut self, txs: &[SignedTransaction], expected: &[Outcome]) {
        let outcome = self.f.propose(&self.state, txs.to_vec());
        self.check_receipts(&outcome, txs, expected);
        self.check_swap_legs(&outcome, txs);
        self.state.commit(&outcome);
        self.check_state();
        self.history.push((outcome, ratings(self.state.entries())));
        self.check_payouts();
    }

    fn check_receipts(
        &self,
        outcome: &BlockOutcome,
        txs: &[SignedTransaction],
        expected: &[Outcome],
    ) {
        let receipts = &outcome.execution.receipts;
        assert_eq!(receipts.len(), txs.len());
        for ((tx, receipt), expected) in txs.iter().zip(receipts).zip(expected) {
            stats::add(
                format!("{} {}", tx.tx.body.kind(), outcome_name(expected)),
                1,
            );
            assert_eq!(
                &receipt.outcome, expected,
                "height {}: receipt of {:?}",
                outcome.block.header.height, tx.tx
            );
        }
    }

    /// Never one leg without the other, seen on the ledger's own state:
    /// for every applied swap between two customers, the state after the
    /// block's transactions up to it differs from the state before it by
    /// both legs and both fees. A customer's position in an asset (its
    /// balance less what it owes on its line there) moves by exactly what
    /// it gives or takes, however the money splits between balance, debt
    /// and the treasuries.
    fn check_swap_legs(&self, outcome: &BlockOutcome, txs: &[SignedTransaction]) {
        let customers: BTreeSet<AccountId> = self.f.accounts.iter().map(Keypair::account).collect();
        let receipts = &outcome.execution.receipts;
        for (i, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
            let (
                Outcome::Swapped { fee, counter_fee },
                Body::Swap {
                    counterparty,
                    give_asset,
                    give_amount,
                    take_asset,
                    take_amount,
                    ..
                },
            ) = (&receipt.outcome, &tx.tx.body)
            else {
                continue;
            };
            let sender = tx.tx.sender;
            if !customers.contains(&sender) || !customers.contains(counterparty) {
                continue;
            }
            stats::add("swap legs checked on the ledger's state".into(), 1);
            let before = self.prefix(&txs[..i]);
            let after = self.prefix(&txs[..=i]);
            let moved = |id: &AccountId, asset: &AssetCode| {
                let position = |outcome: &BlockOutcome| {
                    let account = self.account_after(outcome, id);
                    account
                        .balance(asset)
                        .0
                        .wrapping_sub(account.drawn(asset).0)
                };
                position(&after).wrapping_sub(position(&before))
            };
            let gives = |amount: Amount, fee: &Amount| 0u128.wrapping_sub(amount.0 + fee.0);
            let height = outcome.block.header.height;
            assert_eq!(
                (
                    moved(&sender, give_asset),
                    moved(&sender, take_asset),
                    moved(counterparty, give_asset),
                    moved(counterparty, take_asset),
                ),
                (
                    gives(*give_amount, fee),
                    take_amount.0,
                    give_amount.0,
                    gives(*take_amount, counter_fee),
                ),
                "height {height}: legs of swap {:?}",
                tx.tx
            );
        }
    }

    /// The next block of just `txs` (already verified), not committed.
    fn prefix(&self, txs: &[SignedTransaction]) -> BlockOutcome {
        let proposer = ValidatorKey(self.f.validators[0].account().0);
        let height = self.height() + 1;
        let timestamp_ms = 1_763_700_000_000 + height * 1000;
        propose_block(
            &self.state,
            txs.to_vec(),
            proposer,
            timestamp_ms,
            Signatures::AlreadyVerified,
        )
        .unwrap()
    }

    /// An account as `outcome` leaves it on the committed state.
    fn account_after(&self, outcome: &BlockOutcome, id: &AccountId) -> AccountState {
        let key = StateKey::Account(*id).encode().unwrap();
        let value = match outcome.execution.writes.get(&key) {
            Some(written) => written.as_ref().expect("an account deleted"),
            None => &self.state.entries()[&key],
        };
        codec::decode::<_, 1_048_576>(value).unwrap()
    }

    /// The committed state against the model, entry by entry.
    fn check_state(&self) {
        check_against_model(&self.model, self.state.entries(), self.height());
        self.model.check_books();
    }

    /// Payouts, seen from the ledger's state after every block.
    fn check_payouts(&mut self) {
        let height = self.height();
        let mut present = BTreeSet::new();
        for (key, value) in self.state.entries() {
            if let StateKey::Escrow(id) = codec::decode::<StateKey, 256>(key).unwrap() {
                let escrow: EscrowState = codec::decode::<_, 1_048_576>(value).unwrap();
                self.payouts.observe(id, &escrow, height);
                present.insert(id);
            }
        }
        assert!(
            self.payouts.seen.is_subset(&present),
            "an escrow disappeared"
        );
    }

    /// The same blocks on a fresh state, signatures checked: the same
    /// outcomes, and after every block the same records and ratings.
    fn replay(&self) {
        let mut fresh = self.f.genesis.memory_state().unwrap();
        for (outcome, records) in &self.history {
            let replayed = apply_block(&fresh, &outcome.block, Signatures::Verify).unwrap();
            assert_eq!(
                &replayed, outcome,
                "replay of block {}",
                outcome.block.header.height
            );
            fresh.commit(&replayed);
            assert_eq!(&ratings(fresh.entries()), records);
        }
        assert_eq!(fresh.entries(), self.state.entries());
        assert_eq!(fresh.root(), self.state.root());
    }
}

/// Every entry of `entries` equals the model's: accounts (balances, nonces,
/// lines, records, and the rating by both formulas), supplies, escrows,
/// quotes and deadline lists, and nothing is in one but not the other. Conservation is
/// counted independently of the ledger's own audit.
fn check_against_model(model: &Model, entries: &BTreeMap<Vec<u8>, Vec<u8>>, height: u64) {
    assert_conserved(entries);
    let (mut accounts, mut escrows, mut due, mut assets, mut quotes, mut books) =
        (0, 0, 0, 0, 0, 0);
    for (key, value) in entries {
        match codec::decode::<StateKey, 256>(key).unwrap() {
            StateKey::Account(id) => {
                let account: AccountState = codec::decode::<_, 1_048_576>(value).unwrap();
                let expected = model.accounts.get(&id).unwrap_or_else(|| {
                    panic!("height {height}: account {id} unknown to the model")
                });
                assert_eq!(
                    &observed_account(&account),
                    expected,
                    "height {height}: account {id}"
                );
                assert_eq!(
                    credit::rating(&account.record, 1),
                    Some(rating_v1(&expected.record)),
                    "height {height}: rating of {id}"
                );
                accounts += 1;
            }
            StateKey::Asset(code) => {
                let asset: AssetState = codec::decode::<_, 1_048_576>(value).unwrap();
                assert_eq!(
                    asset.supply.0,
                    model.supply[asset_index(&code)],
                    "supply of {code}"
                );
                assets += 1;
            }
            StateKey::Escrow(id) => {
                let escrow: EscrowState = codec::decode::<_, 1_048_576>(value).unwrap();
                let expected = model
                    .escrows
                    .get(&id)
                    .unwrap_or_else(|| panic!("height {height}: escrow {id} unknown to the model"));
                assert_eq!(
                    &observed_escrow(&escrow),
                    expected,
                    "height {height}: escrow {id}"
                );
                escrows += 1;
            }
            StateKey::Due(at) => {
                let items: Vec<DueItem> = codec::decode::<_, 1_048_576>(value).unwrap();
                let items: Vec<MDue> = items.iter().map(observed_due).collect();
                assert_eq!(
                    Some(&items),
                    model.due.get(&at),
                    "height {height}: due at {at}"
                );
                due += 1;
            }
            StateKey::Members
            | StateKey::Params
            | StateKey::Overseers
            | StateKey::ValidatorSetFrom(_)
            | StateKey::ValidatorSetHeights
            | StateKey::Evidence(_)
            | StateKey::EvidenceLog => {}
            StateKey::Proposal(_) | StateKey::Agenda => {
                panic!("height {height}: governance state, but the model never proposes")
            }
            StateKey::Quote(id) => {
                let quote: QuoteState = codec::decode::<_, 1_048_576>(value).unwrap();
                let expected = model
                    .quotes
                    .get(&id)
                    .unwrap_or_else(|| panic!("height {height}: quote {id} unknown to the model"));
                assert_eq!(
                    &observed_quote(&quote),
                    expected,
                    "height {height}: quote {id}"
                );
                quotes += 1;
            }
            StateKey::QuoteBook(bank) => {
                let book: QuoteBook = codec::decode::<_, 1_048_576>(value).unwrap();
                // The bank's live quotes in posting order.
                let expected: Vec<Hash> = model
                    .quote_ids
                    .iter()
                    .filter(|(id, provider)| {
                        member(*provider) == bank && model.quotes.contains_key(id)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                assert_eq!(book.live, expected, "height {height}: quote book of {bank}");
                assert!(
                    !book.live.is_empty(),
                    "height {height}: empty book of {bank}"
                );
                books += 1;
            }
        }
    }
    let banks_quoting: BTreeSet<usize> = model.quotes.values().map(|q| q.provider).collect();
    assert_eq!(books, banks_quoting.len(), "quote books the ledger lacks");
    assert_eq!(accounts, model.accounts.len(), "accounts the ledger lacks");
    assert_eq!(quotes, model.quotes.len(), "quotes the ledger lacks");
    assert_eq!(escrows, model.escrows.len(), "escrows the ledger lacks");
    assert_eq!(due, model.due.len(), "deadline lists the ledger lacks");
    assert_eq!(assets, BANKS);
}

proptest! {
    /// The ledger's basis points agree with an independent long division,
    /// including amounts where `amount * bps` itself would overflow.
    #[test]
    fn basis_points_are_exact(amount in any::<u128>(), bps in 0u16..=10_000) {
        let ledger = Amount(amount).checked_basis_points(bps).map(|a| a.0);
        prop_assert_eq!(ledger, basis_points(amount, u128::from(bps)));
        prop_assert!(ledger.is_some(), "bps <= 10,000 never exceeds the amount");
    }
}

fn model_cases() -> u32 {
    std::env::var("LEDGER_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(model_cases()))]

    /// Memory state, many cases: receipts, accounts, escrows, deadlines and
    /// ratings match the model after every block; conservation holds; no
    /// escrow pays out twice; a replay on a fresh state is identical.
    #[test]
    fn receipts_match_the_reference_model(blocks in blocks()) {
        run_model_case(&blocks);
    }
}

fn blocks() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(block(), 1..16)
}

fn run_model_case(blocks: &[Vec<Op>]) {
    let mut harness = Harness::new();
    for ops in blocks {
        harness.block(ops);
    }
    harness.replay();
    harness.model.count_stats();
}

/// With `LEDGER_MODEL_STATS=1`, runs the model property's cases once more
/// and prints what they exercised:
/// `LEDGER_MODEL_STATS=1 cargo test -p clearhouse-ledger --test it model_coverage -- --nocapture`.
#[test]
fn model_coverage() {
    if !stats::enabled() {
        return;
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(model_cases())
    });
    runner
        .run(&blocks(), |blocks| {
            run_model_case(&blocks);
            Ok(())
        })
        .unwrap();
    stats::print("what the model property exercised");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Two fresh sled stores (one proposing, one re-executing the block as a
    /// peer would, signatures checked) and a memory state end every block
    /// identical, credit records and ratings included; reopening the store
    /// from disk gives the same state.
    #[test]
    fn stores_agree_and_reopen_identically(
        blocks in prop::collection::vec(block(), 1..10)
    ) {
        let mut harness = Harness::new();
        let f = fixture();
        let dir_a = tempfile::tempdir().unwrap();
        let dir_b = tempfile::tempdir().unwrap();
        let store_a = Store::open(dir_a.path(), &f.genesis).unwrap();
        let store_b = Store::open(dir_b.path(), &f.genesis).unwrap();
        prop_assert_eq!(store_a.state_root().unwrap(), harness.state.root());
        for ops in &blocks {
            let (txs, expected) = harness.prepare(ops);
            let proposed = f.propose(&store_a, txs.clone());
            harness.check_receipts(&proposed, &txs, &expected);
            let certificate = f.certify(&proposed);
            let replayed = apply_block(&store_b, &proposed.block, Signatures::Verify).unwrap();
            prop_assert_eq!(&replayed, &proposed);
            store_a.commit(&proposed, &certificate).unwrap();
            store_b.commit(&replayed, &certificate).unwrap();
            harness.state.commit(&proposed);
            harness.check_state();
            let memory = harness.state.entries();
            prop_assert_eq!(store_a.state_root().unwrap(), harness.state.root());
            prop_assert_eq!(store_b.state_root().unwrap(), harness.state.root());
            let entries_a = store_a.state_entries().unwrap();
            let entries_b = store_b.state_entries().unwrap();
            prop_assert_eq!(&entries_a, memory);
            prop_assert_eq!(&entries_b, memory);
            let records = ratings(memory);
            prop_assert_eq!(&ratings(&entries_a), &records);
            prop_assert_eq!(&ratings(&entries_b), &records);
            for (asset, (sum, supply)) in store_a.supply_audit().unwrap() {
                prop_assert_eq!(sum, supply, "{}", asset);
            }
            harness.history.push((proposed, records));
            harness.check_payouts();
        }
        let tip = store_a.tip().unwrap();
        let root = store_a.state_root().unwrap();
        let entries = store_a.state_entries().unwrap();
        drop(store_a);
        let reopened = Store::open(dir_a.path(), &f.genesis).unwrap();
        prop_assert_eq!(reopened.tip().unwrap(), tip);
        prop_assert_eq!(reopened.state_root().unwrap(), root);
        prop_assert_eq!(reopened.state_entries().unwrap(), entries);
        reopened.check_state().unwrap();
        harness.replay();
    }
}

// ----- directed scenarios, through the same harness -------------------------

fn account_of(harness: &Harness, key: usize) -> AccountId {
    harness.builder.keys[key].account()
}

fn pay(harness: &Harness, from: usize, to: usize, asset: usize, amount: u128) -> (usize, Body) {
    let body = Body::Transfer {
        to: account_of(harness, to),
        asset: harness.f.asset(asset),
        amount: Amount(amount),
    };
    (from, body)
}

/// The hosting bank's treasury grants customer `customer` a line.
fn grant(
    harness: &Harness,
    customer: usize,
    asset: usize,
    limit: u128,
    period: u64,
) -> (usize, Body) {
    let body = Body::CreditGrant {
        account: account_of(harness, customer),
        asset: harness.f.asset(asset),
        limit: Amount(limit),
        period_blocks: period,
    };
    (CUSTOMERS + customer % BANKS, body)
}

fn open_escrow(
    harness: &Harness,
    buyer: usize,
    seller: usize,
    amount: u128,
    confirm_deadline: u64,
    arbiter_deadline: u64,
) -> (usize, Body) {
    let body = Body::EscrowOpen {
        seller: account_of(harness, seller),
        asset: harness.f.asset(0),
        amount: Amount(amount),
        arbiter: member(2),
        confirm_deadline,
        arbiter_deadline,
        reference: sha256(&[b"order"]),
    };
    (buyer, body)
}

fn applied(outcomes: &[Outcome]) {
    for outcome in outcomes {
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    }
}

fn record_of(harness: &Harness, key: usize) -> &MRecord {
    &harness.model.accounts[&account_of(harness, key)].record
}

/// A debt cannot be rolled over: draws in later blocks join the open debt
/// and keep its due height, so paying part of it with money that came from
/// a new draw never resets the clock; the debt goes overdue on time.
#[test]
fn draws_join_the_open_debt_and_its_due_height() {
    let mut harness = Harness::new();
    // Customer 0 (bank 0): a line of 600.00 CNY repayable in 6 blocks.
    applied(&harness.block_of(vec![grant(&harness, 0, 0, 60_000, 6)]));
    // Spend nearly the whole balance, then draw a little in each block while
    // customer 1 pays a little back.
    applied(&harness.block_of(vec![pay(&harness, 0, 1, 0, 99_800)]));
    let opened = harness.model.height + 1;
    for _ in 0..4 {
        applied(&harness.block_of(vec![
            pay(&harness, 0, 1, 0, 300),
            pay(&harness, 1, 0, 0, 100),
        ]));
    }
    let customer = account_of(&harness, 0);
    let line = &harness.model.accounts[&customer].lines[&0];
    let debt = line.debt.expect("an open debt");
    assert_eq!((debt.since, debt.due), (opened, opened + 6));
    assert!(line.drawn > 0);
    while harness.model.height <= opened + 6 {
        harness.block_of(vec![]);
    }
    let record = record_of(&harness, 0);
    assert_eq!(
        (
            record.overdue_events,
            record.overdue_open,
            record.repaid_on_time
        ),
        (1, 1, 0)
    );
    // Customer 1 pays it all back: overdue closed, not on time.
    applied(&harness.block_of(vec![pay(&harness, 1, 0, 0, 10_000)]));
    assert_eq!(harness.model.accounts[&customer].lines[&0].drawn, 0);
    let record = record_of(&harness, 0);
    assert_eq!(
        (
            record.overdue_events,
            record.overdue_open,
            record.repaid_on_time
        ),
        (1, 0, 0)
    );
    harness.replay();
}

/// A draw the hosting bank's treasury cannot fund is refused with
/// `LenderInsufficientFunds`.
#[test]
fn a_draw_the_lender_cannot_fund_is_refused() {
    let mut harness = Harness::new();
    let redeem_all = Body::Redeem {
        asset: harness.f.asset(0),
        amount: Amount(10_000_000),
    };
    applied(&harness.block_of(vec![
        (CUSTOMERS, redeem_all),
        grant(&harness, 0, 0, 60_000, 5),
    ]));
    let outcomes = harness.block_of(vec![pay(&harness, 0, 1, 0, 100_500)]);
    assert!(
        matches!(
            &outcomes[0],
            Outcome::Rejected(RejectReason::LenderInsufficientFunds { needed, available, .. })
                if needed.0 == 551 && available.0 == 0
        ),
        "{outcomes:?}"
    );
    harness.replay();
}

/// A debt and an escrow paying its debtor fall due at the same height:
/// the next block marks debts overdue before it settles escrows, so
/// whichever was registered first, the debt goes overdue and the payout
/// then repays it (late: not on time).
#[test]
fn a_debt_due_with_an_escrow_payout_goes_overdue_first() {
    for draw_first in [true, false] {
        let mut harness = Harness::new();
        applied(&harness.block_of(vec![grant(&harness, 0, 0, 60_000, 2)]));
        let (draw, open) = (
            pay(&harness, 0, 2, 0, 100_500),
            open_escrow(&harness, 1, 0, 1_000, 4, 5),
        );
        let block = if draw_first {
            vec![draw, open]
        } else {
            vec![open, draw]
        };
        applied(&harness.block_of(block));
        harness.block_of(vec![]);
        harness.block_of(vec![]);
        harness.block_of(vec![]);
        let record = record_of(&harness, 0);
        assert_eq!(
            (record.overdue_events, record.overdue_open),
            (1, 0),
            "draw first: {draw_first}"
        );
        assert_eq!((record.repaid_on_time, record.completed), (0, 1));
        harness.replay();
    }
}

/// A disputed escrow may still be released by its buyer (conceding) after
/// the confirmation deadline, until the arbiter deadline auto-refunds it.
#[test]
fn a_disputed_escrow_can_be_conceded_after_the_confirmation_deadline() {
    let mut harness = Harness::new();
    let opened = harness.block_of(vec![open_escrow(&harness, 0, 1, 1_000, 2, 6)]);
    applied(&opened);
    let id = harness.model.escrow_ids[0];
    applied(&harness.block_of(vec![(1, Body::EscrowDispute { escrow: id })]));
    harness.block_of(vec![]);
    // Height 4 > confirmation deadline 2.
    applied(&harness.block_of(vec![(0, Body::EscrowRelease { escrow: id })]));
    let outcomes = harness.block_of(vec![(
        CUSTOMERS + 2,
        Body::EscrowResolve {
            escrow: id,
            to_seller: Amount(0),
        },
    )]);
    assert_eq!(
        outcomes,
        vec![Outcome::Rejected(RejectReason::EscrowSettled(id))]
    );
    for party in [0, 1] {
        let record = record_of(&harness, party);
        assert_eq!((record.disputed, record.completed), (1, 1));
    }
    harness.replay();
}
