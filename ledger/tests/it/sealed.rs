//! Sealed payment details: who a payment must be sealed for, that a sealed
//! payment moves money exactly as a transfer does, and that only a store
//! holding a recipient's sealing secret indexes its end-to-end id.

use clearhouse_ledger::genesis::GenesisError;
use clearhouse_ledger::payment::EndToEndId;
use clearhouse_ledger::sealed::{SealError, SealingSecret};
use clearhouse_ledger::state::{Outcome, RejectReason};
use clearhouse_ledger::store::{Store, StoreConfig};
use clearhouse_ledger::testing::sealing;
use clearhouse_ledger::{Amount, AssetCode, MemberId};

use crate::fixture::Fixture;

fn member(id: &str) -> MemberId {
    MemberId::new(id).unwrap()
}

#[test]
fn a_sealed_payment_names_both_banks_and_the_regulator_or_is_rejected() {
    // Accounts 0, 1, 2 are customers of banks 0, 1, 2; account 3 of bank 0.
    let f = Fixture::new(3, 4);
    let state = f.genesis.memory_state().unwrap();
    let (payer, payee) = (&f.accounts[0], f.accounts[1].account());
    let bank = |i: usize| Fixture::sealing(i).public();
    let regulator = sealing("regulator").public();
    let auditor = sealing("auditor").public();
    let stranger = SealingSecret::from_bytes([0x77; 32]).public();
    let cases = [
        // Both banks and the regulator: applied (the auditor is optional).
        (vec![bank(0), bank(1), regulator], None),
        (Fixture::sealing_keys(0, 1), None),
        (
            vec![bank(0), regulator, auditor],
            Some(RejectReason::NotSealedFor(member("bank-1"))),
        ),
        (
            vec![bank(1), regulator],
            Some(RejectReason::NotSealedFor(member("bank-0"))),
        ),
        (
            vec![bank(0), bank(1)],
            Some(RejectReason::NotSealedFor(member("regulator"))),
        ),
        (
            vec![bank(0), bank(1), regulator, stranger],
            Some(RejectReason::UnknownSealingKey(stranger)),
        ),
        // Bank 2 is on neither side: it may not read the reference.
        (
            vec![bank(0), bank(1), regulator, bank(2)],
            Some(RejectReason::SealedForOutsider(member("bank-2"))),
        ),
    ];
    let txs = cases
        .iter()
        .enumerate()
        .map(|(nonce, (keys, _))| {
            f.sealed_payment(payer, nonce as u64, payee, 0, 100, "E2E-1", "inv", keys)
        })
        .collect();
    let outcome = f.propose(&state, txs);
    for ((keys, expected), receipt) in cases.iter().zip(&outcome.execution.receipts) {
        match expected {
            None => assert!(
                matches!(receipt.outcome, Outcome::Applied { .. }),
                "{keys:?}: {:?}",
                receipt.outcome
            ),
            Some(reason) => assert_eq!(
                receipt.outcome,
                Outcome::Rejected(reason.clone()),
                "{keys:?}"
            ),
        }
    }
    // Payer and payee at one bank: that bank once, and the regulator.
    let same_bank = f.sealed_payment(
        payer,
        0,
        f.accounts[3].account(),
        0,
        100,
        "E2E-2",
        "",
        &[bank(0), regulator],
    );
    // The transfer's own rules come first: a zero amount is refused as a
    // zero amount whether its details are sealed well or not at all.
    let zero = f.sealed_payment(payer, 1, payee, 0, 0, "E2E-3", "", &[bank(0)]);
    let outcome = f.propose(&state, vec![same_bank, zero]);
    assert!(matches!(
        outcome.execution.receipts[0].outcome,
        Outcome::Applied { .. }
    ));
    assert_eq!(
        outcome.execution.receipts[1].outcome,
        Outcome::Rejected(RejectReason::ZeroAmount)
    );
}

#[test]
fn a_bank_without_a_sealing_key_cannot_be_party_to_sealed_details() {
    let mut f = Fixture::new(2, 2);
    f.file.members[1].sealing_key = None;
    f.genesis = f.file.validate().unwrap();
    let state = f.genesis.memory_state().unwrap();
    let keys = [Fixture::sealing(0).public(), sealing("regulator").public()];
    let sealed = f.sealed_payment(
        &f.accounts[0],
        0,
        f.accounts[1].account(),
        0,
        100,
        "E2E-3",
        "",
        &keys,
    );
    // The same payment in the clear goes through.
    let clear = f.payment(
        &f.accounts[0],
        1,
        f.accounts[1].account(),
        0,
        100,
        "E2E-3",
        "",
    );
    let outcome = f.propose(&state, vec![sealed, clear]);
    assert_eq!(
        outcome.execution.receipts[0].outcome,
        Outcome::Rejected(RejectReason::NoSealingKey(member("bank-1")))
    );
    assert!(matches!(
        outcome.execution.receipts[1].outcome,
        Outcome::Applied { .. }
    ));
}

#[test]
fn a_sealed_payment_moves_money_as_a_transfer_and_only_its_banks_index_it() {
    let f = Fixture::new(3, 3);
    let (payer, payee) = (&f.accounts[0], f.accounts[1].account());
    let sealed = f.sealed_payment(
        payer,
        0,
        payee,
        0,
        2_500,
        "SEALED-REF-1",
        "private",
        &Fixture::sealing_keys(0, 1),
    );
    let transfer = f.transfer(payer, 1, payee, 0, 2_500);
    let e2e = EndToEndId::new("SEALED-REF-1").unwrap();
    let id = sealed.id().unwrap();
    let opened_by = |secret: Option<SealingSecret>| {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            sealing: secret.clone(),
            ..crate::fixture::small_store()
        };
        let store = Store::open_with(dir.path(), &f.genesis, config.clone()).unwrap();
        let outcome = f.propose(&store, vec![sealed.clone(), transfer.clone()]);
        let fees: Vec<Amount> = outcome
            .execution
            .receipts
            .iter()
            .map(|r| match r.outcome {
                Outcome::Applied { fee } => fee,
                ref other => panic!("{other:?}"),
            })
            .collect();
        // The same fee as the transfer of the same amount.
        assert_eq!(fees[0], fees[1]);
        store.commit(&outcome, &f.certify(&outcome)).unwrap();
        let cny = AssetCode::new("CNY").unwrap();
        let balance = store.account(&payee).unwrap().unwrap().balance(&cny);
        assert_eq!(balance, Amount(100_000 + 5_000));
        let found = |store: &Store| {
            store
                .transactions_with_end_to_end_id(&e2e, 10)
                .unwrap()
                .iter()
                .map(|t| t.transaction.id().unwrap())
                .collect::<Vec<_>>()
        };
        let before = found(&store);
        drop(store);
        // What a reopen finds is what was indexed at commit.
        let store = Store::open_with(dir.path(), &f.genesis, config).unwrap();
        assert_eq!(found(&store), before);
        before
    };
    assert_eq!(opened_by(Some(Fixture::sealing(0))), vec![id]);
    assert_eq!(opened_by(Some(Fixture::sealing(1))), vec![id]);
    assert_eq!(opened_by(Some(sealing("regulator"))), vec![id]);
    // Bank 2 carries the block but cannot read or index it.
    assert_eq!(opened_by(Some(Fixture::sealing(2))), vec![]);
    assert_eq!(opened_by(None), vec![]);
    let (details, context) = sealed.tx.payment_details().unwrap();
    assert_eq!(
        details
            .sealed()
            .unwrap()
            .open(&Fixture::sealing(2), &context),
        Err(SealError::NotARecipient(Fixture::sealing(2).public()))
    );
    assert_eq!(
        sealed
            .tx
            .payment_data(Some(&Fixture::sealing(1)))
            .unwrap()
            .remittance
            .as_str(),
        "private"
    );
}

#[test]
fn genesis_refuses_bad_and_shared_sealing_keys() {
    let f = Fixture::new(2, 1);
    let mut bad = f.file.clone();
    bad.members[0].sealing_key = Some("zz".into());
    assert!(matches!(
        bad.validate(),
        Err(GenesisError::SealingKey { field, .. }) if field == "members[0].sealing_key"
    ));
    let mut weak = f.file.clone();
    weak.regulators[0].sealing_key = Some("00".repeat(32));
    assert!(matches!(
        weak.validate(),
        Err(GenesisError::SealingKey {
            error: SealError::WeakKey(_),
            ..
        })
    ));
    let mut shared = f.file.clone();
    shared.members[1].sealing_key = shared.members[0].sealing_key.clone();
    assert!(matches!(
        shared.validate(),
        Err(GenesisError::Duplicate {
            what: "sealing key",
            ..
        })
    ));
}
