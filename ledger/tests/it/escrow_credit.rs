//! Escrow and credit, scenario by scenario: exact heights of automatic
//! settlement and overdue marking, every refusal's typed reason, the
//! rating cap on credit, FIFO repayment of tranches, revocation, lending
//! treasuries, attestations. The random interleavings are in `properties`.

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::ids::Category;
use clearhouse_ledger::state::credit::rating;
use clearhouse_ledger::state::escrow::{EscrowState, EscrowStatus, SettledBy};
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::state::{AccountState, DueItem, Outcome, RejectReason, StateKey, read};
use clearhouse_ledger::{AccountId, Amount, Body, Hash, MemberId};

use crate::fixture::{Fixture, assert_conserved, key};

/// Four banks (bank-i issues CNY, USD, EUR, JPY in that order; every asset
/// but JPY offers credit at 1.00 per rating point), eight customers
/// (customer i at bank i % 4, 1,000.00 of each asset), funded treasuries.
struct Chain {
    f: Fixture,
    state: MemoryState,
    height: u64,
}

const CNY: usize = 0;

impl Chain {
    fn new() -> Chain {
        let f = Fixture::new(4, 8);
        let state = f.genesis.memory_state().unwrap();
        Chain {
            f,
            state,
            height: 0,
        }
    }

    fn customer(&self, i: usize) -> &Keypair {
        &self.f.accounts[i]
    }

    fn treasury(&self, bank: usize) -> &Keypair {
        &self.f.treasuries[bank]
    }

    fn nonce(&self, account: &AccountId) -> u64 {
        self.account(account).map_or(0, |a| a.nonce)
    }

    /// Commits one block of `(sender, body)`, nonces filled in; returns
    /// each outcome and transaction id.
    fn block(&mut self, txs: &[(&Keypair, Body)]) -> Vec<(Outcome, Hash)> {
        let mut nonces = std::collections::BTreeMap::new();
        let signed: Vec<_> = txs
            .iter()
            .map(|(sender, body)| {
                let next = nonces
                    .entry(sender.account())
                    .or_insert_with(|| self.nonce(&sender.account()));
                let tx = self.f.sign(sender, *next, body.clone());
                *next += 1;
                tx
            })
            .collect();
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

    /// One transaction in its own block; its outcome and id.
    fn one(&mut self, sender: &Keypair, body: Body) -> (Outcome, Hash) {
        let sender = Keypair::from_seed(&sender.seed());
        self.block(&[(&sender, body)]).remove(0)
    }

    fn applied(&mut self, sender: &Keypair, body: Body) -> Hash {
        let (outcome, id) = self.one(sender, body.clone());
        assert!(
            matches!(outcome, Outcome::Applied { .. }),
            "{body:?}: {outcome:?}"
        );
        id
    }

    fn rejected(&mut self, sender: &Keypair, body: Body) -> RejectReason {
        match self.one(sender, body.clone()).0 {
            Outcome::Rejected(reason) => reason,
            applied => panic!("{body:?} applied: {applied:?}"),
        }
    }

    fn empty_blocks(&mut self, n: u64) {
        for _ in 0..n {
            self.block(&[]);
        }
    }

    fn account(&self, id: &AccountId) -> Option<AccountState> {
        read(&self.state, &StateKey::Account(*id)).unwrap()
    }

    fn balance(&self, id: &AccountId, asset: usize) -> u128 {
        self.account(id).unwrap().balance(&self.f.asset(asset)).0
    }

    fn drawn(&self, id: &AccountId) -> u128 {
        self.account(id).unwrap().drawn(&self.f.asset(CNY)).0
    }

    fn rating(&self, id: &AccountId) -> u16 {
        rating(&self.account(id).unwrap().record, 1).unwrap()
    }

    fn escrow(&self, id: &Hash) -> EscrowState {
        read(&self.state, &StateKey::Escrow(*id)).unwrap().unwrap()
    }

    fn open(&self, seller: usize, amount: u128, confirm: u64, arbiter: u64) -> Body {
        Body::EscrowOpen {
            seller: self.customer(seller).account(),
            asset: self.f.asset(CNY),
            amount: Amount(amount),
            arbiter: MemberId::new("bank-2").unwrap(),
            confirm_deadline: confirm,
            arbiter_deadline: arbiter,
            reference: Hash([9; 32]),
        }
    }

    fn pay(&self, to: AccountId, amount: u128) -> Body {
        Body::Transfer {
            to,
            asset: self.f.asset(CNY),
            amount: Amount(amount),
        }
    }

    fn grant(&self, account: AccountId, limit: u128, period_blocks: u64) -> Body {
        Body::CreditGrant {
            account,
            asset: self.f.asset(CNY),
            limit: Amount(limit),
            period_blocks,
        }
    }

    /// Registers a new, empty customer of bank 1.
    fn new_customer(&mut self, label: &str) -> Keypair {
        let customer = key(label);
        let treasury = Keypair::from_seed(&self.treasury(1).seed());
        self.applied(
            &treasury,
            Body::RegisterAccount {
                account: customer.account(),
            },
        );
        customer
    }
}

/// The fixture's CNY fee: 0.01 + 5 basis points, in fen.
fn fee(amount: u128) -> u128 {
    1 + amount * 5 / 10_000
}

#[test]
fn an_undisputed_escrow_releases_right_after_its_confirmation_deadline() {
    let mut c = Chain::new();
    let buyer = Keypair::from_seed(&c.customer(0).seed());
    let seller = c.customer(1).account();
    let before = c.balance(&seller, CNY);
    // Opened in block 1; the buyer may act up to and including block 3.
    let id = c.applied(&buyer, c.open(1, 10_000, 3, 5));
    assert_eq!(
        c.balance(&buyer.account(), CNY),
        100_000 - 10_000 - fee(10_000)
    );
    c.empty_blocks(2);
    assert_eq!(
        c.escrow(&id).status,
        EscrowStatus::Open,
        "block 3 is still in time"
    );
    // Block 4 settles it before its own transactions run: too late to release.
    let reason = c.rejected(&buyer, Body::EscrowRelease { escrow: id });
    assert_eq!(reason, RejectReason::EscrowSettled(id));
    let EscrowStatus::Settled(settlement) = c.escrow(&id).status else {
        panic!("not settled");
    };
    assert_eq!(
        (settlement.at, settlement.how),
        (4, SettledBy::AutoReleased)
    );
    assert_eq!(c.balance(&seller, CNY), before + 10_000);
    let record = &c.account(&seller).unwrap().record;
    assert_eq!(record.escrows.completed, 1);
}

#[test]
fn a_conceded_dispute_pays_once_and_its_deadline_passes_quietly() {
    let mut c = Chain::new();
    let buyer = Keypair::from_seed(&c.customer(0).seed());
    let seller = Keypair::from_seed(&c.customer(1).seed());
    let (buyer_id, seller_id) = (buyer.account(), seller.account());
    let id = c.applied(&buyer, c.open(1, 10_000, 2, 4));
    c.applied(&seller, Body::EscrowDispute { escrow: id });
    assert_eq!(
        c.rejected(&buyer, Body::EscrowDispute { escrow: id }),
        RejectReason::WrongEscrowStatus {
            escrow: id,
            status: "disputed".into()
        }
    );
    // The buyer concedes: the seller is paid, once.
    c.applied(&buyer, Body::EscrowRelease { escrow: id });
    let buyer_after = c.balance(&buyer_id, CNY);
    let seller_after = c.balance(&seller_id, CNY);
    assert_eq!(seller_after, 100_000 + 10_000);
    // Past both deadlines nothing moves again.
    c.empty_blocks(4);
    assert_eq!(c.balance(&buyer_id, CNY), buyer_after);
    assert_eq!(c.balance(&seller_id, CNY), seller_after);
    let EscrowStatus::Settled(settlement) = c.escrow(&id).status else {
        panic!("not settled");
    };
    assert_eq!(settlement.how, SettledBy::ReleasedByBuyer);
    for party in [buyer_id, seller_id] {
        let tally = c.account(&party).unwrap().record.escrows;
        assert_eq!((tally.completed, tally.disputed, tally.refunded), (1, 1, 0));
    }
}

#[test]
fn an_unresolved_dispute_refunds_right_after_the_arbiter_deadline() {
    let mut c = Chain::new();
    let buyer = Keypair::from_seed(&c.customer(0).seed());
    let id = c.applied(&buyer, c.open(1, 10_000, 2, 5));
    c.applied(&buyer, Body::EscrowDispute { escrow: id });
    // The arbiter is bank-2: another bank's treasury cannot resolve.
    let other = Keypair::from_seed(&c.treasury(3).seed());
    assert_eq!(
        c.rejected(
            &other,
            Body::EscrowResolve {
                escrow: id,
                to_seller: Amount(1)
            }
        ),
        RejectReason::NotArbiter {
            arbiter: MemberId::new("bank-2").unwrap()
        }
    );
    c.empty_blocks(1); // block 4
    assert_eq!(c.escrow(&id).status, EscrowStatus::Disputed);
    c.empty_blocks(1); // block 5: the arbiter's last chance passes unused
    assert_eq!(c.escrow(&id).status, EscrowStatus::Disputed);
    c.empty_blocks(1); // block 6
    let EscrowStatus::Settled(settlement) = c.escrow(&id).status else {
        panic!("not settled");
    };
    assert_eq!(
        (settlement.at, settlement.how),
        (6, SettledBy::AutoRefunded)
    );
    assert_eq!(
        c.balance(&buyer.account(), CNY),
        100_000 - fee(10_000),
        "refunded in full, the fee stays paid"
    );
}

#[test]
fn the_arbiter_splits_and_the_larger_share_wins() {
    let mut c = Chain::new();
    let buyer = Keypair::from_seed(&c.customer(0).seed());
    let seller = Keypair::from_seed(&c.customer(1).seed());
    let arbiter = Keypair::from_seed(&c.treasury(2).seed());
    let id = c.applied(&buyer, c.open(1, 10_000, 10, 20));
    let resolve = |to_seller| Body::EscrowResolve {
        escrow: id,
        to_seller: Amount(to_seller),
    };
    assert_eq!(
        c.rejected(&arbiter, resolve(1)),
        RejectReason::WrongEscrowStatus {
            escrow: id,
            status: "open".into()
        }
    );
    c.applied(&buyer, Body::EscrowDispute { escrow: id });
    assert_eq!(
        c.rejected(&arbiter, resolve(10_001)),
        RejectReason::SplitTooLarge {
            to_seller: Amount(10_001),
            amount: Amount(10_000)
        }
    );
    c.applied(&arbiter, resolve(7_000));
    assert_eq!(c.balance(&seller.account(), CNY), 100_000 + 7_000);
    assert_eq!(
        c.balance(&buyer.account(), CNY),
        100_000 - 10_000 - fee(10_000) + 3_000
    );
    let seller_tally = c.account(&seller.account()).unwrap().record.escrows;
    let buyer_tally = c.account(&buyer.account()).unwrap().record.escrows;
    assert_eq!((seller_tally.won, seller_tally.lost), (1, 0));
    assert_eq!((buyer_tally.won, buyer_tally.lost), (0, 1));
    assert_eq!(c.rating(&buyer.account()), 500 - 40);
    assert_eq!(
        c.rejected(&arbiter, resolve(0)),
        RejectReason::EscrowSettled(id)
    );
}

#[test]
fn every_bad_opening_and_step_is_refused_with_its_reason() {
    let mut c = Chain::new();
    let buyer = Keypair::from_seed(&c.customer(0).seed());
    let stranger = Keypair::from_seed(&c.customer(5).seed());
    c.empty_blocks(3);
    // Each refusal below is a block of its own, from block 4 on.
    assert_eq!(
        c.rejected(&buyer, c.open(1, 10_000, 3, 9)),
        RejectReason::DeadlinePassed {
            deadline: 3,
            height: 4
        }
    );
    assert_eq!(
        c.rejected(&buyer, c.open(1, 10_000, 9, 9)),
        RejectReason::DeadlineOrder {
            confirm_deadline: 9,
            arbiter_deadline: 9
        }
    );
    // Block 6: the arbiter deadline may be at most 1,000 blocks later.
    assert_eq!(
        c.rejected(&buyer, c.open(1, 10_000, 9, 1_007)),
        RejectReason::DeadlineTooFar {
            deadline: 1_007,
            latest: 1_006
        }
    );
    c.applied(&buyer, c.open(1, 1, 9, 1_007));
    assert_eq!(
        c.rejected(&buyer, c.open(0, 10_000, 9, 20)),
        RejectReason::SellerIsBuyer
    );
    assert_eq!(
        c.rejected(&buyer, c.open(1, 0, 9, 20)),
        RejectReason::ZeroAmount
    );
    let mut unknown_arbiter = c.open(1, 10_000, 20, 30);
    if let Body::EscrowOpen { arbiter, .. } = &mut unknown_arbiter {
        *arbiter = MemberId::new("bank-9").unwrap();
    }
    assert_eq!(
        c.rejected(&buyer, unknown_arbiter),
        RejectReason::UnknownMember(MemberId::new("bank-9").unwrap())
    );
    assert!(matches!(
        c.rejected(&buyer, c.open(1, 100_001, 20, 30)),
        RejectReason::InsufficientFunds { .. }
    ));
    let missing = Hash([1; 32]);
    assert_eq!(
        c.rejected(&buyer, Body::EscrowRelease { escrow: missing }),
        RejectReason::EscrowNotFound(missing)
    );
    let id = c.applied(&buyer, c.open(1, 10_000, 20, 30));
    assert_eq!(
        c.rejected(&stranger, Body::EscrowRelease { escrow: id }),
        RejectReason::NotBuyer
    );
    assert_eq!(
        c.rejected(&stranger, Body::EscrowRefund { escrow: id }),
        RejectReason::NotSeller
    );
    assert_eq!(
        c.rejected(&stranger, Body::EscrowDispute { escrow: id }),
        RejectReason::NotParty
    );
    // Nothing above moved money: the escrow still holds the whole amount.
    assert_eq!(c.escrow(&id).held(), Amount(10_000));
}

#[test]
fn credit_is_capped_by_the_rating_and_funded_by_the_hosting_treasury() {
    let mut c = Chain::new();
    let bank = Keypair::from_seed(&c.treasury(1).seed());
    let customer = Keypair::from_seed(&c.customer(1).seed()); // bank-1
    let id = customer.account();
    let payee = c.customer(2).account();
    // Granted 1,000,000.00; usable: rating 500 × 1.00 = 500.00.
    c.applied(&bank, c.grant(id, 100_000_000, 10));
    let treasury_before = c.balance(&bank.account(), CNY);
    assert_eq!(
        c.rejected(&customer, c.pay(payee, 150_000)),
        RejectReason::InsufficientFunds {
            asset: c.f.asset(CNY),
            needed: Amount(150_000 + fee(150_000)),
            available: Amount(150_000),
        }
    );
    // Balance 1,000.00 plus about 290.00 of credit.
    let amount = 129_000;
    let drawn = amount + fee(amount) - 100_000;
    c.applied(&customer, c.pay(payee, amount));
    assert_eq!(c.balance(&id, CNY), 0);
    assert_eq!(c.drawn(&id), drawn);
    assert_eq!(
        c.balance(&bank.account(), CNY),
        treasury_before - drawn + fee(amount),
        "the treasury lent 300.00 and earned the fee"
    );
    // Two banks report the customer: rating 500 + 0 - 200 = 300 < 400.
    for reporter in [0, 3] {
        let reporter = Keypair::from_seed(&c.treasury(reporter).seed());
        c.applied(
            &reporter,
            Body::CreditAttest {
                account: id,
                positive: false,
                category: Category::new("fraud-report").unwrap(),
                reference: Hash([3; 32]),
            },
        );
    }
    assert_eq!(c.rating(&id), 300);
    assert!(matches!(
        c.rejected(&customer, c.pay(payee, 1)),
        RejectReason::InsufficientFunds { available, .. } if available == Amount::ZERO
    ));
    // A bank's later attestation replaces its earlier one.
    let reporter = Keypair::from_seed(&c.treasury(3).seed());
    c.applied(
        &reporter,
        Body::CreditAttest {
            account: id,
            positive: true,
            category: Category::new("error-corrected").unwrap(),
            reference: Hash([4; 32]),
        },
    );
    let record = c.account(&id).unwrap().record;
    assert_eq!(record.attesting_banks(), (1, 1));
    assert_eq!(record.attestations_filed, 3);
    assert_eq!(c.rating(&id), 500 + 25 - 100);
}

#[test]
fn a_debt_is_due_a_period_after_it_opens_and_later_draws_join_it() {
    let mut c = Chain::new();
    let bank = Keypair::from_seed(&c.treasury(1).seed());
    let borrower = c.new_customer("borrower"); // block 1
    let id = borrower.account();
    let payee = Keypair::from_seed(&c.customer(2).seed());
    c.applied(&bank, c.grant(id, 40_000, 3)); // block 2
    c.applied(&borrower, c.pay(payee.account(), 10_000)); // block 3: due 6
    c.applied(&borrower, c.pay(payee.account(), 5_000)); // block 4: joins it
    let line = c.account(&id).unwrap().lines[&c.f.asset(CNY)].clone();
    let debt = line.debt.unwrap();
    assert_eq!((debt.since, debt.due, debt.overdue), (3, 6, false));
    // Block 5: 12,000 arrives and repays part; nothing reaches the balance.
    c.applied(&payee, c.pay(id, 12_000));
    let left = 10_000 + fee(10_000) + 5_000 + fee(5_000) - 12_000;
    assert_eq!(c.drawn(&id), left);
    assert_eq!(c.balance(&id, CNY), 0);
    c.empty_blocks(1); // block 6: the due height itself is still in time
    assert_eq!(c.account(&id).unwrap().record.overdue_events, 0);
    c.empty_blocks(1); // block 7 marks it overdue
    let account = c.account(&id).unwrap();
    assert_eq!(
        (account.record.overdue_events, account.record.overdue_open),
        (1, 1)
    );
    assert_eq!(account.lines[&c.f.asset(CNY)].overdue(), Amount(left));
    assert_eq!(account.record.credit[&c.f.asset(CNY)].overdue, Amount(left));
    // 500 + 2 sent / 2 + 1 received / 4 - 100 - 150.
    assert_eq!(c.rating(&id), 500 + 1 - 100 - 150);
    // Repaying the overdue debt closes it (not on time); the history stays.
    c.applied(&payee, c.pay(id, left + 100)); // block 8
    let account = c.account(&id).unwrap();
    assert_eq!(
        (
            account.record.overdue_events,
            account.record.overdue_open,
            account.record.repaid_on_time
        ),
        (1, 0, 0)
    );
    assert_eq!(account.balance(&c.f.asset(CNY)), Amount(100));
    assert_eq!(c.rating(&id), 500 + 1 - 100);
    // A new debt repaid in full in a later block, in time, counts.
    c.applied(&borrower, c.pay(payee.account(), 1_000)); // block 9
    assert_eq!(
        c.account(&id).unwrap().lines[&c.f.asset(CNY)]
            .debt
            .unwrap()
            .since,
        9
    );
    c.applied(&payee, c.pay(id, 2_000)); // block 10
    let account = c.account(&id).unwrap();
    assert_eq!(account.record.repaid_on_time, 1);
    assert!(account.lines[&c.f.asset(CNY)].debt.is_none());
    // A draw repaid within its own block proves nothing.
    let spend = c.balance(&id, CNY) + 500;
    let pay_out = c.f.sign(
        &borrower,
        c.nonce(&id),
        c.pay(payee.account(), spend - fee(spend)),
    );
    let pay_back =
        c.f.sign(&payee, c.nonce(&payee.account()), c.pay(id, 5_000));
    let outcome = c.f.propose(&c.state, vec![pay_out, pay_back]);
    c.state.commit(&outcome);
    assert_eq!(c.account(&id).unwrap().record.repaid_on_time, 1);
}

#[test]
fn revoking_keeps_the_debt_until_it_is_repaid() {
    let mut c = Chain::new();
    let bank = Keypair::from_seed(&c.treasury(1).seed());
    let borrower = c.new_customer("borrower");
    let id = borrower.account();
    let payee = Keypair::from_seed(&c.customer(2).seed());
    c.applied(&bank, c.grant(id, 40_000, 100));
    c.applied(&borrower, c.pay(payee.account(), 10_000));
    let owed = 10_000 + fee(10_000);
    c.applied(
        &bank,
        Body::CreditRevoke {
            account: id,
            asset: c.f.asset(CNY),
        },
    );
    assert_eq!(c.drawn(&id), owed);
    assert!(matches!(
        c.rejected(&borrower, c.pay(payee.account(), 1)),
        RejectReason::InsufficientFunds { .. }
    ));
    c.applied(&payee, c.pay(id, owed));
    assert!(
        c.account(&id).unwrap().lines.is_empty(),
        "closed once repaid"
    );
    assert_eq!(
        c.rejected(
            &bank,
            Body::CreditRevoke {
                account: id,
                asset: c.f.asset(CNY)
            }
        ),
        RejectReason::NoCreditLine(c.f.asset(CNY))
    );
}

#[test]
fn a_draw_the_treasury_cannot_fund_is_refused() {
    let mut c = Chain::new();
    // bank-0 issues CNY; its treasury redeems everything it holds.
    let bank = Keypair::from_seed(&c.treasury(0).seed());
    let held = c.balance(&bank.account(), CNY);
    c.applied(
        &bank,
        Body::Redeem {
            asset: c.f.asset(CNY),
            amount: Amount(held),
        },
    );
    let customer = Keypair::from_seed(&c.customer(0).seed()); // bank-0
    c.applied(&bank, c.grant(customer.account(), 10_000, 10));
    let payee = c.customer(1).account();
    let amount = 100_000 + 5_000 - fee(105_000);
    assert_eq!(
        c.rejected(&customer, c.pay(payee, amount)),
        RejectReason::LenderInsufficientFunds {
            bank: MemberId::new("bank-0").unwrap(),
            asset: c.f.asset(CNY),
            needed: Amount(5_000),
            available: Amount::ZERO,
        }
    );
    assert_eq!(
        c.balance(&customer.account(), CNY),
        100_000,
        "nothing moved"
    );
}

#[test]
fn only_the_hosting_bank_grants_and_only_where_credit_is_offered() {
    let mut c = Chain::new();
    let host = Keypair::from_seed(&c.treasury(1).seed());
    let other = Keypair::from_seed(&c.treasury(2).seed());
    let customer = Keypair::from_seed(&c.customer(1).seed()); // bank-1
    let id = customer.account();
    assert_eq!(
        c.rejected(&other, c.grant(id, 1_000, 10)),
        RejectReason::NotHostingBank {
            bank: MemberId::new("bank-1").unwrap()
        }
    );
    assert_eq!(
        c.rejected(&customer, c.grant(id, 1_000, 10)),
        RejectReason::NotHostingBank {
            bank: MemberId::new("bank-1").unwrap()
        }
    );
    assert_eq!(
        c.rejected(&host, c.grant(host.account(), 1_000, 10)),
        RejectReason::CreditForBank
    );
    assert_eq!(
        c.rejected(&host, c.grant(id, 0, 10)),
        RejectReason::ZeroAmount
    );
    for period in [0, 1_001] {
        assert_eq!(
            c.rejected(&host, c.grant(id, 1_000, period)),
            RejectReason::PeriodInvalid {
                period_blocks: period,
                max: 1_000
            }
        );
    }
    let jpy = c.f.asset(3);
    assert_eq!(
        c.rejected(
            &host,
            Body::CreditGrant {
                account: id,
                asset: jpy.clone(),
                limit: Amount(10),
                period_blocks: 10
            }
        ),
        RejectReason::CreditNotOffered(jpy)
    );
    assert_eq!(
        c.rejected(
            &customer,
            Body::CreditAttest {
                account: id,
                positive: true,
                category: Category::new("self-praise").unwrap(),
                reference: Hash::ZERO,
            }
        ),
        RejectReason::NotBank
    );
    assert!(c.account(&id).unwrap().lines.is_empty());
}

#[test]
fn both_deadlines_are_registered_at_opening_and_dropped_at_settlement() {
    let mut c = Chain::new();
    let buyer = Keypair::from_seed(&c.customer(0).seed());
    let seller = Keypair::from_seed(&c.customer(1).seed());
    let due = |c: &Chain, height: u64| -> Vec<DueItem> {
        read(&c.state, &StateKey::Due(height))
            .unwrap()
            .unwrap_or_default()
    };
    let id = c.applied(&buyer, c.open(1, 10_000, 20, 30));
    assert_eq!(due(&c, 20), [DueItem::Escrow(id)]);
    assert_eq!(due(&c, 30), [DueItem::Escrow(id)]);
    // A dispute needs no room in any list: it writes none.
    let before = c.state.entries().clone();
    c.applied(&seller, Body::EscrowDispute { escrow: id });
    let changed: Vec<StateKey> = c
        .state
        .entries()
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, _)| clearhouse_ledger::codec::decode::<StateKey, 256>(key).unwrap())
        .collect();
    assert!(
        changed.iter().all(|key| !matches!(key, StateKey::Due(_))),
        "{changed:?}"
    );
    // Settled: nothing left to wait for, the lists are gone.
    c.applied(&buyer, Body::EscrowRelease { escrow: id });
    assert!(due(&c, 20).is_empty() && due(&c, 30).is_empty());
    assert!(
        c.state.entries().keys().all(|key| !matches!(
            clearhouse_ledger::codec::decode::<StateKey, 256>(key).unwrap(),
            StateKey::Due(_)
        )),
        "no deadline list is left"
    );
}
