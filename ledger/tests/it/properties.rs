//! Random transaction sequences against an independent reference model.
//!
//! Every receipt must be exactly what the model predicts; after every block,
//! per asset, balances sum to supply; a memory state and two fresh sled stores
//! (one proposing, one re-executing) agree on every entry and root; a store
//! reopened from disk is the same store.

use std::collections::BTreeMap;

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::state::{Outcome, RejectReason, Signatures, apply_block};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::{AccountId, Amount, AssetCode, Body, SignedTransaction, Transaction};
use proptest::prelude::*;

use crate::fixture::{Fixture, assert_conserved, key};

const BANKS: usize = 3;
const CUSTOMERS: usize = 6;

/// One randomly chosen action.
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
}

fn op() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        6 => 0u128..=250_000,
        1 => Just(0u128),
        1 => (u128::MAX - 1_000)..=u128::MAX,
    ];
    let skew = prop_oneof![12 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)];
    (
        0u8..10,
        0usize..64,
        0usize..64,
        0usize..4,
        amount,
        skew,
        0u8..30,
        0u8..20,
    )
        .prop_map(
            |(kind, sender, target, asset, amount, nonce_skew, expired, low)| Op {
                kind,
                sender,
                target,
                asset,
                amount,
                nonce_skew,
                expired: expired == 0,
                low_max_fee: low == 0,
            },
        )
}

/// The reference: accounts as plain maps, rules written out once more.
#[derive(Clone)]
struct Model {
    accounts: BTreeMap<AccountId, (usize, u64, BTreeMap<usize, u128>)>,
    supply: Vec<u128>,
    treasuries: Vec<AccountId>,
}

// Per asset (CNY, USD, EUR): EUR has no fee rule in the fixture.
const FLAT: [u128; 3] = [1, 1, 0];
const BPS: [u128; 3] = [5, 5, 0];

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

impl Model {
    fn new(f: &Fixture) -> Model {
        let mut accounts = BTreeMap::new();
        let mut supply = vec![0u128; BANKS];
        for (i, account) in f.accounts.iter().enumerate() {
            let balances: BTreeMap<usize, u128> = (0..BANKS)
                .map(|a| (a, if a == 3 { 1_000 } else { 100_000 }))
                .collect();
            for (a, amount) in &balances {
                supply[*a] += amount;
            }
            accounts.insert(account.account(), (i % BANKS, 0, balances));
        }
        let treasuries: Vec<AccountId> = f.treasuries.iter().map(Keypair::account).collect();
        for (bank, treasury) in treasuries.iter().enumerate() {
            let balances: BTreeMap<usize, u128> = (0..BANKS).map(|a| (a, 10_000_000)).collect();
            for (a, amount) in &balances {
                supply[*a] += amount;
            }
            accounts.insert(*treasury, (bank, 0, balances));
        }
        Model {
            accounts,
            supply,
            treasuries,
        }
    }

    fn balance(&self, account: &AccountId, asset: usize) -> u128 {
        self.accounts[account].2.get(&asset).copied().unwrap_or(0)
    }

    fn credit(
        &mut self,
        account: &AccountId,
        asset: usize,
        amount: u128,
        code: &AssetCode,
    ) -> Result<(), RejectReason> {
        let new = self
            .balance(account, asset)
            .checked_add(amount)
            .ok_or_else(|| RejectReason::Overflow(code.clone()))?;
        self.accounts.get_mut(account).unwrap().2.insert(asset, new);
        Ok(())
    }

    fn debit(
        &mut self,
        account: &AccountId,
        asset: usize,
        amount: u128,
        code: &AssetCode,
    ) -> Result<(), RejectReason> {
        let available = self.balance(account, asset);
        let new = available
            .checked_sub(amount)
            .ok_or_else(|| RejectReason::InsufficientFunds {
                asset: code.clone(),
                needed: Amount(amount),
                available: Amount(available),
            })?;
        self.accounts.get_mut(account).unwrap().2.insert(asset, new);
        Ok(())
    }

    /// Applies a transaction, returning the outcome the ledger must report.
    fn apply(&mut self, f: &Fixture, height: u64, tx: &Transaction) -> Outcome {
        if tx.expiry_height < height {
            return Outcome::Rejected(RejectReason::Expired {
                expiry_height: tx.expiry_height,
                height,
            });
        }
        let Some(sender) = self.accounts.get_mut(&tx.sender) else {
            return Outcome::Rejected(RejectReason::UnknownSender);
        };
        if sender.1 != tx.nonce {
            return Outcome::Rejected(RejectReason::BadNonce {
                expected: sender.1,
                found: tx.nonce,
            });
        }
        sender.1 += 1;
        let before = self.clone();
        let result = self.body(f, tx);
        match result {
            Ok(fee) => Outcome::Applied { fee: Amount(fee) },
            Err(reason) => {
                *self = before;
                Outcome::Rejected(reason)
            }
        }
    }

    fn asset_index(f: &Fixture, code: &AssetCode) -> Option<usize> {
        (0..BANKS).find(|i| f.asset(*i) == *code)
    }

    fn body(&mut self, f: &Fixture, tx: &Transaction) -> Result<u128, RejectReason> {
        let sender = tx.sender;
        match &tx.body {
            Body::Transfer { to, asset, amount } => {
                let amount = amount.0;
                if amount == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                let a = Model::asset_index(f, asset)
                    .ok_or_else(|| RejectReason::UnknownAsset(asset.clone()))?;
                let fee = basis_points(amount, BPS[a])
                    .and_then(|p| p.checked_add(FLAT[a]))
                    .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
                if fee > tx.fee.0 {
                    return Err(RejectReason::FeeAboveMaximum {
                        required: Amount(fee),
                        maximum: tx.fee,
                    });
                }
                if !self.accounts.contains_key(to) {
                    return Err(RejectReason::UnknownAccount(*to));
                }
                let needed = amount
                    .checked_add(fee)
                    .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
                self.debit(&sender, a, needed, asset)?;
                self.credit(to, a, amount, asset)?;
                let bank = self.accounts[&sender].0;
                let treasury = self.treasuries[bank];
                if fee > 0 {
                    self.credit(&treasury, a, fee, asset)?;
                }
                Ok(fee)
            }
            Body::Issue { to, asset, amount } => {
                let a = Model::asset_index(f, asset)
                    .ok_or_else(|| RejectReason::UnknownAsset(asset.clone()))?;
                if self.treasuries[a] != sender {
                    return Err(RejectReason::NotIssuer {
                        asset: asset.clone(),
                        issuer: clearhouse_ledger::MemberId::new(&format!("bank-{a}")).unwrap(),
                    });
                }
                if amount.0 == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                if !self.accounts.contains_key(to) {
                    return Err(RejectReason::UnknownAccount(*to));
                }
                self.supply[a] = self.supply[a]
                    .checked_add(amount.0)
                    .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
                self.credit(to, a, amount.0, asset)?;
                Ok(0)
            }
            Body::Redeem { asset, amount } => {
                let a = Model::asset_index(f, asset)
                    .ok_or_else(|| RejectReason::UnknownAsset(asset.clone()))?;
                if self.treasuries[a] != sender {
                    return Err(RejectReason::NotIssuer {
                        asset: asset.clone(),
                        issuer: clearhouse_ledger::MemberId::new(&format!("bank-{a}")).unwrap(),
                    });
                }
                if amount.0 == 0 {
                    return Err(RejectReason::ZeroAmount);
                }
                self.debit(&sender, a, amount.0, asset)?;
                self.supply[a] -= amount.0;
                Ok(0)
            }
            Body::RegisterAccount { account } => {
                let bank = self
                    .treasuries
                    .iter()
                    .position(|t| *t == sender)
                    .ok_or(RejectReason::NotBank)?;
                if self.accounts.contains_key(account) {
                    return Err(RejectReason::AccountExists(*account));
                }
                self.accounts.insert(*account, (bank, 0, BTreeMap::new()));
                Ok(0)
            }
            other => panic!("the model does not cover {other:?} yet"),
        }
    }
}

/// Turns random ops into signed transactions, tracking nonces as a client would.
struct Builder {
    keys: Vec<Keypair>,
    nonces: BTreeMap<AccountId, u64>,
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
        Builder {
            keys,
            nonces: BTreeMap::new(),
        }
    }

    fn build(&mut self, f: &Fixture, op: &Op, height: u64) -> SignedTransaction {
        let sender = &self.keys[op.sender % self.keys.len()];
        let target = self.keys[op.target % self.keys.len()].account();
        let next = self.nonces.entry(sender.account()).or_insert(0);
        let nonce = next.saturating_add_signed(i64::from(op.nonce_skew));
        if op.nonce_skew == 0 {
            *next += 1;
        }
        let asset = if op.asset < BANKS {
            f.asset(op.asset)
        } else {
            AssetCode::new("XAU").unwrap()
        };
        let body = match op.kind {
            0..=5 => Body::Transfer {
                to: target,
                asset,
                amount: Amount(op.amount),
            },
            6 => Body::Issue {
                to: target,
                asset,
                amount: Amount(op.amount),
            },
            7 => Body::Redeem {
                asset,
                amount: Amount(op.amount),
            },
            _ => Body::RegisterAccount { account: target },
        };
        Transaction {
            chain_id: f.chain_id(),
            sender: sender.account(),
            nonce,
            fee: Amount(if op.low_max_fee { 0 } else { u128::MAX }),
            expiry_height: if op.expired { height - 1 } else { height + 5 },
            body,
        }
        .sign(sender)
        .unwrap()
    }
}

/// The model's nonce view can drift from the builder's (a rejected-before-
/// nonce transaction does not consume it); resync the builder from the model.
fn resync(builder: &mut Builder, model: &Model) {
    for (account, nonce) in builder.nonces.iter_mut() {
        *nonce = model.accounts.get(account).map_or(0, |a| a.1);
    }
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

    /// Memory state only, many cases: receipts match the model exactly and
    /// every asset is conserved after every block.
    #[test]
    fn receipts_match_the_reference_model(
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..12), 1..6)
    ) {
        let f = Fixture::new(BANKS, CUSTOMERS);
        let mut state = f.genesis.memory_state().unwrap();
        let mut model = Model::new(&f);
        let mut builder = Builder::new(&f);
        for (i, ops) in blocks.iter().enumerate() {
            let height = i as u64 + 1;
            let txs: Vec<_> = ops.iter().map(|op| builder.build(&f, op, height)).collect();
            let outcome = f.propose(&state, txs.clone());
            for (tx, receipt) in txs.iter().zip(&outcome.execution.receipts) {
                let expected = model.apply(&f, height, &tx.tx);
                prop_assert_eq!(&receipt.outcome, &expected, "tx {:?}", tx.tx);
            }
            state.commit(&outcome);
            resync(&mut builder, &model);
            assert_conserved(state.entries());
            for (a, supply) in model.supply.iter().enumerate() {
                let asset = clearhouse_ledger::state::read::<clearhouse_ledger::state::AssetState>(
                    &state,
                    &clearhouse_ledger::state::StateKey::Asset(f.asset(a)),
                ).unwrap().unwrap();
                prop_assert_eq!(asset.supply.0, *supply);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Two fresh sled stores (one proposing, one re-executing the block as a
    /// peer would) and a memory state end every block identical; reopening
    /// the store from disk gives the same state.
    #[test]
    fn stores_agree_and_reopen_identically(
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..16), 1..5)
    ) {
        let f = Fixture::new(BANKS, CUSTOMERS);
        let dir_a = tempfile::tempdir().unwrap();
        let dir_b = tempfile::tempdir().unwrap();
        let store_a = Store::open(dir_a.path(), &f.genesis).unwrap();
        let store_b = Store::open(dir_b.path(), &f.genesis).unwrap();
        let mut memory = f.genesis.memory_state().unwrap();
        prop_assert_eq!(store_a.state_root().unwrap(), memory.root());
        let mut builder = Builder::new(&f);
        let mut model = Model::new(&f);
        for (i, ops) in blocks.iter().enumerate() {
            let height = i as u64 + 1;
            let txs: Vec<_> = ops.iter().map(|op| builder.build(&f, op, height)).collect();
            for tx in &txs {
                model.apply(&f, height, &tx.tx);
            }
            resync(&mut builder, &model);
            let proposed = f.propose(&store_a, txs);
            let certificate = f.certify(&proposed);
            let replayed = apply_block(&store_b, &proposed.block, Signatures::Verify).unwrap();
            prop_assert_eq!(&replayed, &proposed);
            store_a.commit(&proposed, &certificate).unwrap();
            store_b.commit(&replayed, &certificate).unwrap();
            memory.commit(&proposed);
            prop_assert_eq!(store_a.state_root().unwrap(), memory.root());
            prop_assert_eq!(store_b.state_root().unwrap(), memory.root());
            prop_assert_eq!(&store_a.state_entries().unwrap(), memory.entries());
            prop_assert_eq!(&store_b.state_entries().unwrap(), memory.entries());
            assert_conserved(memory.entries());
            for (asset, (sum, supply)) in store_a.supply_audit().unwrap() {
                prop_assert_eq!(sum, supply, "{}", asset);
            }
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
    }
}
