//! Payment data: end-to-end ids indexed by the store, found across runs,
//! merges and reopens, each payment once, newest first.

use std::collections::BTreeMap;

use clearhouse_ledger::payment::EndToEndId;
use clearhouse_ledger::state::Outcome;
use clearhouse_ledger::store::{Store, StoreConfig};
use clearhouse_ledger::{Body, Hash};

use crate::fixture::Fixture;

fn small() -> StoreConfig {
    crate::fixture::small_store()
}

/// The end-to-end id payment `n` of a run carries: every third one shares
/// `SHARED`, the rest are their own.
fn reference(n: usize) -> String {
    if n.is_multiple_of(3) {
        "SHARED/2026 +1".to_owned()
    } else {
        format!("E2E-{n:05}")
    }
}

/// Commits `blocks` blocks of 3 payments (distinct senders) and one plain
/// transfer, recording each payment's id under its reference.
fn commit_payments(
    f: &Fixture,
    store: &Store,
    blocks: usize,
    counter: &mut usize,
    expected: &mut BTreeMap<String, Vec<Hash>>,
) {
    for _ in 0..blocks {
        let height = store.tip().unwrap().height as usize + 1;
        let mut txs = Vec::new();
        for i in 0..4 {
            let from = &f.accounts[(height * 4 + i) % f.accounts.len()];
            let to = f.accounts[(height * 4 + i + 1) % f.accounts.len()].account();
            let nonce = store.account(&from.account()).unwrap().unwrap().nonce;
            if i == 3 {
                txs.push(f.transfer(from, nonce, to, 0, 1));
                continue;
            }
            let e2e = reference(*counter);
            // Every seventh payment cannot be funded: it is found, rejected.
            let amount = if *counter % 7 == 6 { u128::MAX / 4 } else { 2 };
            let tx = f.payment(from, nonce, to, 0, amount, &e2e, "invoice");
            expected.entry(e2e).or_default().push(tx.id().unwrap());
            *counter += 1;
            txs.push(tx);
        }
        let outcome = f.propose(store, txs);
        store.commit(&outcome, &f.certify(&outcome)).unwrap();
    }
}

fn found_ids(store: &Store, e2e: &str, limit: usize) -> Vec<Hash> {
    store
        .transactions_with_end_to_end_id(&EndToEndId::new(e2e).unwrap(), limit)
        .unwrap()
        .into_iter()
        .map(|t| t.transaction.id().unwrap())
        .collect()
}

#[test]
fn every_payment_is_found_by_its_end_to_end_id_across_runs_merges_and_reopens() {
    let f = Fixture::new(3, 12);
    let dir = tempfile::tempdir().unwrap();
    let mut expected: BTreeMap<String, Vec<Hash>> = BTreeMap::new();
    let mut counter = 0;
    for round in 0..3 {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        commit_payments(&f, &store, 30, &mut counter, &mut expected);
        if round == 1 {
            store.flush().unwrap();
        }
        let (runs, _) = store.index_shape();
        assert!(runs > 0, "the ids went out as runs");
        for (e2e, ids) in &expected {
            let newest_first: Vec<Hash> = ids.iter().rev().copied().collect();
            assert_eq!(found_ids(&store, e2e, 1_000), newest_first, "{e2e}");
        }
    }
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    let shared = &expected["SHARED/2026 +1"];
    assert!(shared.len() > 50, "{} shared", shared.len());
    // The limit keeps the newest.
    let newest: Vec<Hash> = shared.iter().rev().take(5).copied().collect();
    assert_eq!(found_ids(&store, "SHARED/2026 +1", 5), newest);
    // Each one reads back as itself, with its receipt: rejected ones too.
    let mut rejected = 0;
    for stored in store
        .transactions_with_end_to_end_id(&EndToEndId::new("SHARED/2026 +1").unwrap(), 1_000)
        .unwrap()
    {
        let Body::Payment { details, .. } = &stored.transaction.tx.body else {
            panic!("a transfer without payment data was indexed");
        };
        assert_eq!(
            details.clear().unwrap().end_to_end_id.as_str(),
            "SHARED/2026 +1"
        );
        assert_eq!(stored.receipt.tx_id, stored.transaction.id().unwrap());
        if !matches!(stored.receipt.outcome, Outcome::Applied { .. }) {
            rejected += 1;
        }
    }
    assert!(rejected > 0, "a rejected payment is found too");
    // Ids nobody used, and one differing in case only, find nothing.
    assert!(found_ids(&store, "E2E-99999", 10).is_empty());
    assert!(found_ids(&store, "e2e-00001", 10).is_empty());
    assert_eq!(found_ids(&store, "E2E-00001", 10), expected["E2E-00001"]);
}

#[test]
fn notprovided_names_no_payment_and_is_not_indexed() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    let to = f.accounts[1].account();
    let txs = vec![
        f.payment(&f.accounts[0], 0, to, 0, 5, "NOTPROVIDED", "no reference"),
        f.payment(&f.accounts[2], 0, to, 0, 5, "NOTPROVIDED-2", "a reference"),
    ];
    let ids: Vec<Hash> = txs.iter().map(|t| t.id().unwrap()).collect();
    let outcome = f.propose(&store, txs);
    store.commit(&outcome, &f.certify(&outcome)).unwrap();
    assert!(found_ids(&store, "NOTPROVIDED", 10).is_empty());
    assert_eq!(found_ids(&store, "NOTPROVIDED-2", 10), [ids[1]]);
    // Still found by its transaction id, with its data.
    let stored = store.transaction(&ids[0]).unwrap().unwrap();
    assert!(matches!(stored.receipt.outcome, Outcome::Applied { .. }));
}
