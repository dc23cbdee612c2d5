//! Settlement across currencies, scenario by scenario (`state::fx`): a swap
//! settles both legs or neither in every failure case, quotes convert
//! exactly (rounded down), run down, expire and are withdrawn, and fees are
//! split between the sending and the receiving bank. Random mixes are in
//! `properties`. Amounts are written in minor units with the cents apart
//! (`100_00` is 100.00).
#![allow(clippy::inconsistent_digit_grouping)]

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::payment::PaymentDetails;
use clearhouse_ledger::state::fx::QuoteState;
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::state::{DueItem, Outcome, RejectReason, StateKey, read};
use clearhouse_ledger::testing::Fixture;
use clearhouse_ledger::{AccountId, Amount, Body, Hash, SignedTransaction, Transaction};

use crate::fixture::assert_conserved;

const CNY: usize = 0;
const USD: usize = 1;
const EUR: usize = 2;

/// Four banks (bank i issues CNY, USD, EUR, JPY), eight customers
/// (customer i at bank i % 4, 1,000.00 of each asset). CNY and USD charge
/// 0.01 + 5 bps; EUR moves free.
struct Chain {
    f: Fixture,
    state: MemoryState,
    height: u64,
}

impl Chain {
    fn new() -> Chain {
        Chain::with(Fixture::new(4, 8))
    }

    fn with(f: Fixture) -> Chain {
        let state = f.genesis.memory_state().unwrap();
        Chain {
            f,
            state,
            height: 0,
        }
    }

    fn customer(&self, i: usize) -> Keypair {
        Keypair::from_seed(&self.f.accounts[i].seed())
    }

    fn treasury(&self, bank: usize) -> Keypair {
        Keypair::from_seed(&self.f.treasuries[bank].seed())
    }

    fn nonce(&self, id: &AccountId) -> u64 {
        read::<clearhouse_ledger::state::AccountState>(&self.state, &StateKey::Account(*id))
            .unwrap()
            .map_or(0, |a| a.nonce)
    }

    fn balance(&self, id: &AccountId, asset: usize) -> u128 {
        read::<clearhouse_ledger::state::AccountState>(&self.state, &StateKey::Account(*id))
            .unwrap()
            .unwrap()
            .balance(&self.f.asset(asset))
            .0
    }

    /// Every balance of the eight customers and four treasuries in CNY,
    /// USD and EUR.
    fn books(&self) -> Vec<u128> {
        let mut out = Vec::new();
        for key in self.f.accounts.iter().chain(&self.f.treasuries) {
            for asset in [CNY, USD, EUR] {
                out.push(self.balance(&key.account(), asset));
            }
        }
        out
    }

    fn envelope(&self, sender: &Keypair, body: Body) -> Transaction {
        Transaction {
            chain_id: self.f.chain_id(),
            sender: sender.account(),
            nonce: self.nonce(&sender.account()),
            fee: Amount(u128::MAX),
            expiry_height: u64::MAX,
            body,
        }
    }

    fn commit(&mut self, signed: Vec<SignedTransaction>) -> Vec<(Outcome, Hash)> {
        let outcome = self.f.propose(&self.state, signed);
        self.state.commit(&outcome);
        self.height += 1;
        assert_conserved(self.state.entries());
        outcome
            .execution
            .receipts
            .iter()
            .map(|r| (r.outcome.clone(), r.tx_id))
            .collect()
    }

    fn one(&mut self, sender: &Keypair, body: Body) -> (Outcome, Hash) {
        let signed = self.envelope(sender, body).sign(sender).unwrap();
        self.commit(vec![signed]).remove(0)
    }

    fn rejected(&mut self, sender: &Keypair, body: Body) -> RejectReason {
        match self.one(sender, body.clone()).0 {
            Outcome::Rejected(reason) => reason,
            applied => panic!("{body:?} applied: {applied:?}"),
        }
    }

    fn empty_blocks(&mut self, n: u64) {
        for _ in 0..n {
            self.commit(Vec::new());
        }
    }

    fn swap_body(&self, counterparty: usize, give: (usize, u128), take: (usize, u128)) -> Body {
        Body::Swap {
            counterparty: self.f.accounts[counterparty].account(),
            give_asset: self.f.asset(give.0),
            give_amount: Amount(give.1),
            take_asset: self.f.asset(take.0),
            take_amount: Amount(take.1),
            counter_fee: Amount(u128::MAX),
            counter_signature: clearhouse_ledger::crypto::Signature([0; 64]),
        }
    }

    /// A swap from customer `a` with customer `b`, consented by `consenter`.
    fn swap(&mut self, a: usize, body: Body, consenter: &Keypair) -> Outcome {
        let sender = self.customer(a);
        let signed = self
            .envelope(&sender, body)
            .with_consent(consenter)
            .unwrap()
            .sign(&sender)
            .unwrap();
        self.commit(vec![signed]).remove(0).0
    }

    fn quote(&self, id: &Hash) -> Option<QuoteState> {
        read(&self.state, &StateKey::Quote(*id)).unwrap()
    }

    /// Bank 1 (USD) pays 14 US cents for 100 fen, up to `maximum` cents.
    fn post_usd_for_cny(&mut self, maximum: u128, valid_until: u64) -> Hash {
        let body = Body::QuotePost {
            pay_asset: self.f.asset(USD),
            receive_asset: self.f.asset(CNY),
            rate: Rate {
                numerator: 14,
                denominator: 100,
            },
            maximum: Amount(maximum),
            valid_until,
        };
        let treasury = self.treasury(1);
        let (outcome, id) = self.one(&treasury, body);
        assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
        id
    }

    fn cross(&self, to: usize, asset: usize, amount: u128, quote: Hash) -> Body {
        Body::CrossTransfer {
            to: self.f.accounts[to].account(),
            asset: self.f.asset(asset),
            amount: Amount(amount),
            quote,
            details: PaymentDetails::Clear(clearhouse_ledger::payment::PaymentData {
                end_to_end_id: clearhouse_ledger::payment::EndToEndId::new("FX-1").unwrap(),
                remittance: clearhouse_ledger::payment::Remittance::new("").unwrap(),
            }),
        }
    }
}

/// The fee of the fixture's CNY and USD rule: 1 + 5 bps, rounded down.
fn fee(amount: u128) -> u128 {
    1 + amount * 5 / 10_000
}

#[test]
fn a_swap_settles_both_legs_and_each_side_pays_its_own_fee() {
    let mut c = Chain::new();
    let (a, b) = (c.f.accounts[0].account(), c.f.accounts[1].account());
    let body = c.swap_body(1, (CNY, 10_000), (USD, 1_400));
    let outcome = c.swap(0, body, &c.customer(1));
    assert_eq!(
        outcome,
        Outcome::Swapped {
            fee: Amount(fee(10_000)),
            counter_fee: Amount(fee(1_400)),
        }
    );
    assert_eq!(c.balance(&a, CNY), 100_000 - 10_000 - fee(10_000));
    assert_eq!(c.balance(&a, USD), 100_000 + 1_400);
    assert_eq!(c.balance(&b, CNY), 100_000 + 10_000);
    assert_eq!(c.balance(&b, USD), 100_000 - 1_400 - fee(1_400));
    // No receiving share in this fixture: each sending bank keeps its fee.
    let (t0, t1) = (c.f.treasuries[0].account(), c.f.treasuries[1].account());
    assert_eq!(c.balance(&t0, CNY), 10_000_000 + fee(10_000));
    assert_eq!(c.balance(&t1, USD), 10_000_000 + fee(1_400));
}

#[test]
fn a_swap_that_fails_on_either_side_moves_nothing() {
    let mut c = Chain::new();
    let before = c.books();
    let one = |c: &Chain| c.swap_body(1, (CNY, 10_000), (USD, 1_400));
    // The counterparty cannot pay its leg.
    let body = c.swap_body(1, (CNY, 10_000), (USD, 200_000));
    let outcome = c.swap(0, body, &c.customer(1));
    assert!(
        matches!(
            outcome,
            Outcome::Rejected(RejectReason::InsufficientFunds { .. })
        ),
        "{outcome:?}"
    );
    // The sender cannot pay its leg.
    let body = c.swap_body(1, (CNY, 200_000), (USD, 1_400));
    let outcome = c.swap(0, body, &c.customer(1));
    assert!(
        matches!(
            outcome,
            Outcome::Rejected(RejectReason::InsufficientFunds { .. })
        ),
        "{outcome:?}"
    );
    // One signature only: consented by a third account, or not at all.
    let body = one(&c);
    let outcome = c.swap(0, body, &c.customer(2));
    assert_eq!(outcome, Outcome::Rejected(RejectReason::BadConsent));
    let sender = c.customer(0);
    let (outcome, _) = c.one(&sender, one(&c));
    assert_eq!(outcome, Outcome::Rejected(RejectReason::BadConsent));
    // A consent for other terms.
    let sender = c.customer(0);
    let mut tx = c
        .envelope(&sender, one(&c))
        .with_consent(&c.customer(1))
        .unwrap();
    if let Body::Swap { take_amount, .. } = &mut tx.body {
        *take_amount = Amount(1);
    }
    let outcome = c.commit(vec![tx.sign(&sender).unwrap()]).remove(0).0;
    assert_eq!(outcome, Outcome::Rejected(RejectReason::BadConsent));
    // Both legs in one asset, with itself, zero, the counterparty's fee cap.
    let body = c.swap_body(1, (CNY, 10_000), (CNY, 1_400));
    let outcome = c.swap(0, body, &c.customer(1));
    assert_eq!(
        outcome,
        Outcome::Rejected(RejectReason::SameAsset(c.f.asset(CNY)))
    );
    let body = c.swap_body(0, (CNY, 10_000), (USD, 1_400));
    let outcome = c.swap(0, body, &c.customer(0));
    assert_eq!(outcome, Outcome::Rejected(RejectReason::SelfTransfer));
    let body = c.swap_body(1, (CNY, 0), (USD, 1_400));
    let outcome = c.swap(0, body, &c.customer(1));
    assert_eq!(outcome, Outcome::Rejected(RejectReason::ZeroAmount));
    let mut body = one(&c);
    if let Body::Swap { counter_fee, .. } = &mut body {
        *counter_fee = Amount(0);
    }
    let outcome = c.swap(0, body, &c.customer(1));
    assert_eq!(
        outcome,
        Outcome::Rejected(RejectReason::FeeAboveMaximum {
            required: Amount(fee(1_400)),
            maximum: Amount(0),
        })
    );
    assert_eq!(c.books(), before, "no refused swap moved any money");
}

#[test]
fn a_consent_is_good_for_one_transaction_only() {
    let mut c = Chain::new();
    let sender = c.customer(0);
    let body = c.swap_body(1, (CNY, 10_000), (USD, 1_400));
    let signed = c
        .envelope(&sender, body)
        .with_consent(&c.customer(1))
        .unwrap()
        .sign(&sender)
        .unwrap();
    let outcomes = c.commit(vec![signed.clone(), signed.clone()]);
    assert!(matches!(outcomes[0].0, Outcome::Swapped { .. }));
    assert!(
        matches!(
            outcomes[1].0,
            Outcome::Rejected(RejectReason::BadNonce { .. })
        ),
        "{:?}",
        outcomes[1]
    );
    let after = c.books();
    // The same consent under the sender's next nonce is another message.
    let mut replay = signed.tx.clone();
    replay.nonce += 1;
    let outcome = c.commit(vec![replay.sign(&sender).unwrap()]).remove(0).0;
    assert_eq!(outcome, Outcome::Rejected(RejectReason::BadConsent));
    // And an expired swap does nothing.
    let mut late = c.envelope(&sender, c.swap_body(1, (CNY, 10), (USD, 1)));
    late.expiry_height = 1;
    let late = late
        .with_consent(&c.customer(1))
        .unwrap()
        .sign(&sender)
        .unwrap();
    let outcome = c.commit(vec![late]).remove(0).0;
    assert!(
        matches!(outcome, Outcome::Rejected(RejectReason::Expired { .. })),
        "{outcome:?}"
    );
    assert_eq!(c.books(), after);
}

#[test]
fn fees_are_split_between_the_sending_and_the_receiving_bank() {
    let mut c = Chain::with(Fixture::new(4, 8).with_receiving_share(3_000));
    let (t0, t1) = (c.f.treasuries[0].account(), c.f.treasuries[1].account());
    let sender = c.customer(0);
    let to = c.f.accounts[1].account();
    let body = Body::Transfer {
        to,
        asset: c.f.asset(CNY),
        amount: Amount(200_00),
    };
    let (outcome, _) = c.one(&sender, body);
    let charged = fee(200_00);
    assert_eq!(
        outcome,
        Outcome::Applied {
            fee: Amount(charged)
        }
    );
    let receiving = charged * 3_000 / 10_000;
    assert_eq!(c.balance(&t1, CNY), 10_000_000 + receiving);
    assert_eq!(c.balance(&t0, CNY), 10_000_000 + charged - receiving);
    // Within one bank, the bank keeps the whole fee.
    let to = c.f.accounts[4].account();
    let body = Body::Transfer {
        to,
        asset: c.f.asset(CNY),
        amount: Amount(200_00),
    };
    c.one(&sender, body);
    assert_eq!(c.balance(&t0, CNY), 10_000_000 + 2 * charged - receiving);
    // A swap's legs: each receiving bank takes its share of the other's fee.
    let body = c.swap_body(1, (CNY, 10_000), (USD, 10_000));
    let outcome = c.swap(0, body, &c.customer(1));
    assert!(matches!(outcome, Outcome::Swapped { .. }), "{outcome:?}");
    let leg = fee(10_000);
    let share = leg * 3_000 / 10_000;
    assert_eq!(c.balance(&t1, CNY), 10_000_000 + receiving + share);
    assert_eq!(c.balance(&t0, USD), 10_000_000 + share);
    assert_eq!(c.balance(&t1, USD), 10_000_000 + leg - share);
}

#[test]
fn a_cross_currency_transfer_converts_at_the_quote_rounded_down() {
    let mut c = Chain::with(Fixture::new(4, 8).with_receiving_share(5_000));
    let quote = c.post_usd_for_cny(50_00, 20);
    let (payer, payee) = (c.f.accounts[0].account(), c.f.accounts[5].account());
    let (t0, t1) = (c.f.treasuries[0].account(), c.f.treasuries[1].account());
    let sender = c.customer(0);
    let body = c.cross(5, CNY, 100_00, quote);
    let (outcome, _) = c.one(&sender, body);
    let rate = Rate {
        numerator: 14,
        denominator: 100,
    };
    let charged = fee(100_00);
    assert_eq!(
        outcome,
        Outcome::Converted {
            fee: Amount(charged),
            paid_out: Amount(14_00),
            pay_asset: c.f.asset(USD),
            rate,
            provider: clearhouse_ledger::MemberId::new("bank-1").unwrap(),
        }
    );
    assert_eq!(c.balance(&payer, CNY), 1_000_00 - 100_00 - charged);
    assert_eq!(c.balance(&payee, USD), 1_000_00 + 14_00);
    // The quoting bank took the CNY, paid the USD, and (as the payee's
    // bank) half the fee.
    let half = charged / 2;
    assert_eq!(c.balance(&t1, CNY), 10_000_000 + 100_00 + half);
    assert_eq!(c.balance(&t1, USD), 10_000_000 - 14_00);
    assert_eq!(c.balance(&t0, CNY), 10_000_000 + charged - half);
    assert_eq!(c.quote(&quote).unwrap().remaining, Amount(50_00 - 14_00));
    // 7 fen is 0.98 cents: nothing; 8 fen is 1.12 cents: 1 cent.
    let body = c.cross(5, CNY, 7, quote);
    assert_eq!(
        c.rejected(&sender, body),
        RejectReason::ConversionTooSmall {
            amount: Amount(7),
            rate,
        }
    );
    let body = c.cross(5, CNY, 8, quote);
    let (outcome, _) = c.one(&sender, body);
    assert!(
        matches!(
            outcome,
            Outcome::Converted {
                paid_out: Amount(1),
                ..
            }
        ),
        "{outcome:?}"
    );
    // More than the quote has left, the wrong asset, an unknown quote.
    let body = c.cross(5, CNY, 300_00, quote);
    assert_eq!(
        c.rejected(&sender, body),
        RejectReason::QuoteExhausted {
            remaining: Amount(50_00 - 14_00 - 1),
            needed: Amount(42_00),
        }
    );
    let body = c.cross(5, EUR, 100, quote);
    assert_eq!(
        c.rejected(&sender, body),
        RejectReason::QuoteAssetMismatch {
            expected: c.f.asset(CNY),
            found: c.f.asset(EUR),
        }
    );
    let body = c.cross(5, CNY, 100, Hash([7; 32]));
    assert_eq!(
        c.rejected(&sender, body),
        RejectReason::QuoteNotFound(Hash([7; 32]))
    );
    // Paid down to exactly zero: the quote and its deadline are gone.
    let left = c.quote(&quote).unwrap().remaining.0;
    let body = c.cross(5, CNY, (left * 100).div_ceil(14), quote);
    let (outcome, _) = c.one(&sender, body);
    assert!(matches!(outcome, Outcome::Converted { .. }), "{outcome:?}");
    assert_eq!(c.quote(&quote), None);
    let due: Option<Vec<DueItem>> = read(&c.state, &StateKey::Due(20)).unwrap();
    assert_eq!(due, None, "the quote's deadline left with it");
}

#[test]
fn a_quote_lives_through_its_last_height_and_can_be_withdrawn_by_its_bank_only() {
    let mut c = Chain::new();
    let sender = c.customer(0);
    // Posted at height 1, usable through height 4.
    let quote = c.post_usd_for_cny(50_00, 4);
    c.empty_blocks(2);
    assert_eq!(c.height, 3);
    let body = c.cross(5, CNY, 100, quote);
    let (outcome, _) = c.one(&sender, body);
    assert!(matches!(outcome, Outcome::Converted { .. }), "at height 4");
    let body = c.cross(5, CNY, 100, quote);
    assert_eq!(
        c.rejected(&sender, body),
        RejectReason::QuoteNotFound(quote),
        "deleted at height 5"
    );
    assert_eq!(c.quote(&quote), None);

    let quote = c.post_usd_for_cny(50_00, 100);
    let other = c.treasury(2);
    assert_eq!(
        c.rejected(&other, Body::QuoteWithdraw { quote }),
        RejectReason::NotQuoteProvider(clearhouse_ledger::MemberId::new("bank-1").unwrap())
    );
    let owner = c.treasury(1);
    let (outcome, _) = c.one(&owner, Body::QuoteWithdraw { quote });
    assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
    assert_eq!(c.quote(&quote), None);
    let due: Option<Vec<DueItem>> = read(&c.state, &StateKey::Due(100)).unwrap();
    assert_eq!(due, None);
    assert_eq!(
        c.rejected(&owner, Body::QuoteWithdraw { quote }),
        RejectReason::QuoteNotFound(quote)
    );
}

#[test]
fn bad_quotes_and_conversions_are_typed_rejections() {
    let mut c = Chain::new();
    let treasury = c.treasury(1);
    let post = |c: &Chain, pay: usize, receive: usize, n: u64, d: u64, max: u128, until: u64| {
        Body::QuotePost {
            pay_asset: c.f.asset(pay),
            receive_asset: c.f.asset(receive),
            rate: Rate {
                numerator: n,
                denominator: d,
            },
            maximum: Amount(max),
            valid_until: until,
        }
    };
    let zero = Rate {
        numerator: 0,
        denominator: 100,
    };
    let body = post(&c, USD, CNY, 0, 100, 100, 50);
    assert_eq!(c.rejected(&treasury, body), RejectReason::InvalidRate(zero));
    let body = post(&c, USD, CNY, 14, 0, 100, 50);
    assert!(matches!(
        c.rejected(&treasury, body),
        RejectReason::InvalidRate(_)
    ));
    let body = post(&c, USD, USD, 1, 1, 100, 50);
    assert_eq!(
        c.rejected(&treasury, body),
        RejectReason::SameAsset(c.f.asset(USD))
    );
    let body = post(&c, USD, CNY, 14, 100, 0, 50);
    assert_eq!(c.rejected(&treasury, body), RejectReason::ZeroAmount);
    let body = post(&c, USD, CNY, 14, 100, 100, 1);
    assert!(matches!(
        c.rejected(&treasury, body),
        RejectReason::DeadlinePassed { .. }
    ));
    let body = post(&c, USD, CNY, 14, 100, 100, 5_000);
    assert!(matches!(
        c.rejected(&treasury, body),
        RejectReason::DeadlineTooFar { .. }
    ));
    let customer = c.customer(1);
    let body = post(&c, USD, CNY, 14, 100, 100, 50);
    assert_eq!(c.rejected(&customer, body), RejectReason::NotBank);

    // A quote larger than the treasury holds: the conversion that the
    // treasury cannot fund is refused, and nothing moves.
    let body = post(&c, USD, CNY, 1, 1, u128::from(u64::MAX), 50);
    let (outcome, quote) = c.one(&treasury, body);
    assert!(matches!(outcome, Outcome::Applied { .. }));
    let sender = c.customer(0);
    let before = c.books();
    let body = c.cross(5, CNY, 500_00, quote);
    let (outcome, _) = c.one(&sender, body);
    assert!(matches!(outcome, Outcome::Converted { .. }), "{outcome:?}");
    assert_ne!(c.books(), before);
    let before = c.books();
    let issuer = c.treasury(0);
    let rich = c.f.accounts[0].account();
    let (outcome, _) = c.one(
        &issuer,
        Body::Issue {
            to: rich,
            asset: c.f.asset(CNY),
            amount: Amount(1 << 100),
        },
    );
    assert!(matches!(outcome, Outcome::Applied { .. }));
    let body = c.cross(5, CNY, 200_000_00, quote);
    let reason = c.rejected(&sender, body);
    assert!(
        matches!(reason, RejectReason::QuoteUnfunded { .. }),
        "{reason:?}"
    );
    // Converting 2^100 at u64::MAX / 1 overflows a u128: a typed refusal.
    let body = post(&c, USD, CNY, u64::MAX, 1, u128::from(u64::MAX), 50);
    let (_, huge) = c.one(&treasury, body);
    let body = c.cross(5, CNY, 1 << 100, huge);
    assert_eq!(
        c.rejected(&sender, body),
        RejectReason::Overflow(c.f.asset(USD))
    );
    let mut after = c.books();
    // Only the issue moved money since `before`.
    after[0] -= 1 << 100;
    assert_eq!(after, before);
}

#[test]
fn rate_conversion_is_exact_and_never_overflows_silently() {
    let rate = Rate {
        numerator: 14,
        denominator: 100,
    };
    assert_eq!(rate.convert(Amount(99)), Some(Amount(13)));
    assert_eq!(rate.convert(Amount(100)), Some(Amount(14)));
    let max = Rate {
        numerator: u64::MAX,
        denominator: u64::MAX - 1,
    };
    // u128::MAX × (2^64-1)/(2^64-2) does not fit.
    assert_eq!(max.convert(Amount(u128::MAX)), None);
    let down = Rate {
        numerator: u64::MAX - 1,
        denominator: u64::MAX,
    };
    // Exact against 256-bit arithmetic done by hand: floor(x × (d-1) / d) = x - ceil(x / d).
    let x = u128::MAX;
    let d = u128::from(u64::MAX);
    assert_eq!(down.convert(Amount(x)), Some(Amount(x - x.div_ceil(d))));
    assert_eq!(
        Rate {
            numerator: 0,
            denominator: 1
        }
        .convert(Amount(5)),
        None
    );
    assert_eq!(
        rate.compare(&Rate {
            numerator: 7,
            denominator: 50
        }),
        std::cmp::Ordering::Equal
    );
}

#[test]
fn a_bank_has_at_most_64_live_quotes_and_its_book_follows_them() {
    use clearhouse_ledger::state::fx::{QUOTES_PER_BANK_MAX, QuoteBook};
    let mut c = Chain::new();
    let bank = clearhouse_ledger::MemberId::new("bank-1").unwrap();
    let mut ids = Vec::new();
    // Posted 8 to a block (the chain takes them in one go).
    while ids.len() < QUOTES_PER_BANK_MAX {
        let treasury = c.treasury(1);
        let nonce = c.nonce(&treasury.account());
        let signed: Vec<SignedTransaction> = (0..8u64)
            .map(|i| {
                let mut tx = c.envelope(
                    &treasury,
                    Body::QuotePost {
                        pay_asset: c.f.asset(USD),
                        receive_asset: c.f.asset(CNY),
                        rate: Rate {
                            numerator: 14,
                            denominator: 100,
                        },
                        maximum: Amount(100),
                        valid_until: 500,
                    },
                );
                tx.nonce = nonce + i;
                tx.sign(&treasury).unwrap()
            })
            .collect();
        for (outcome, id) in c.commit(signed) {
            assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
            ids.push(id);
        }
    }
    let book = |c: &Chain| -> Option<QuoteBook> {
        read(&c.state, &StateKey::QuoteBook(bank.clone())).unwrap()
    };
    assert_eq!(book(&c).unwrap().live, ids);
    let treasury = c.treasury(1);
    let body = Body::QuotePost {
        pay_asset: c.f.asset(USD),
        receive_asset: c.f.asset(CNY),
        rate: Rate {
            numerator: 14,
            denominator: 100,
        },
        maximum: Amount(100),
        valid_until: 500,
    };
    assert_eq!(
        c.rejected(&treasury, body.clone()),
        RejectReason::TooManyQuotes {
            bank: bank.clone(),
            max: 64,
        }
    );
    // Another bank is not held back by it.
    let other = c.treasury(0);
    let mut other_body = body.clone();
    if let Body::QuotePost {
        pay_asset,
        receive_asset,
        ..
    } = &mut other_body
    {
        *pay_asset = c.f.asset(CNY);
        *receive_asset = c.f.asset(USD);
    }
    assert!(matches!(
        c.one(&other, other_body).0,
        Outcome::Applied { .. }
    ));
    // A withdrawal makes room; paying one down to zero takes it out too.
    let (outcome, _) = c.one(&treasury, Body::QuoteWithdraw { quote: ids[0] });
    assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
    let sender = c.customer(0);
    let body_cross = c.cross(5, CNY, 715, ids[1]);
    let (outcome, _) = c.one(&sender, body_cross);
    assert!(
        matches!(
            outcome,
            Outcome::Converted {
                paid_out: Amount(100),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(book(&c).unwrap().live, ids[2..].to_vec());
    let (outcome, _) = c.one(&treasury, body.clone());
    assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
    // All of them expire together: the book goes with the last.
    c.empty_blocks(500);
    assert_eq!(book(&c), None);
    assert!(c.quote(&ids[5]).is_none());
}
