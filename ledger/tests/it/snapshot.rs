//! Snapshots: a store taken at a certified height, checked, and started
//! from in an empty folder; every kind of bad snapshot refused by name.

use clearhouse_ledger::store::history::HistoryConfig;
use clearhouse_ledger::store::snapshot::{Snapshot, SnapshotError};
use clearhouse_ledger::store::{Store, StoreConfig, StoreError, StoredChain};

use crate::fixture::{Fixture, assert_conserved};

/// A store with `blocks` blocks of payments between the fixture's accounts.
fn chain(f: &Fixture, dir: &std::path::Path, blocks: u64) -> Store {
    let store = Store::open(dir, &f.genesis).unwrap();
    for height in 1..=blocks {
        let txs = (0..f.accounts.len())
            .map(|i| {
                let to = f.accounts[(i + 1) % f.accounts.len()].account();
                f.transfer(
                    &f.accounts[i],
                    height - 1,
                    to,
                    i % 2,
                    1_000 + height as u128,
                )
            })
            .collect();
        let outcome = f.propose(&store, txs);
        store.commit(&outcome, &f.certify(&outcome)).unwrap();
    }
    store
}

/// The same payments committed on every store given.
fn commit_on(f: &Fixture, stores: &[&Store], nonce: u64) {
    let txs: Vec<_> = (0..f.accounts.len())
        .map(|i| {
            let to = f.accounts[(i + 2) % f.accounts.len()].account();
            f.transfer(&f.accounts[i], nonce, to, 0, 7)
        })
        .collect();
    let outcome = f.propose(stores[0], txs);
    let certificate = f.certify(&outcome);
    for store in stores {
        store.commit(&outcome, &certificate).unwrap();
    }
}

#[test]
fn a_store_started_from_a_snapshot_holds_the_same_state_and_goes_on_committing() {
    let f = Fixture::new(4, 6);
    let source_dir = tempfile::tempdir().unwrap();
    let source = chain(&f, source_dir.path(), 5);
    let snapshot = source.snapshot().unwrap();
    assert_eq!(snapshot.height, 5);
    let bytes = snapshot.to_bytes().unwrap();
    let read = Snapshot::read_from(&bytes[..]).unwrap();
    assert_eq!(read, snapshot);
    let verified = read.verify(&f.genesis).unwrap();
    assert_eq!(verified.state_root, source.state_root().unwrap());

    let target_dir = tempfile::tempdir().unwrap();
    let path = target_dir.path().join("node");
    let imported = Store::import(&path, &f.genesis, &read, StoreConfig::default()).unwrap();
    assert_eq!(imported.tip().unwrap(), source.tip().unwrap());
    assert_eq!(imported.state_root().unwrap(), source.state_root().unwrap());
    assert_eq!(
        imported.state_entries().unwrap(),
        source.state_entries().unwrap()
    );
    assert_conserved(&imported.state_entries().unwrap());
    assert_eq!(imported.first_height(), 5);
    assert_eq!(imported.block(5).unwrap(), source.block(5).unwrap());
    assert_eq!(imported.block(4).unwrap(), None, "below the snapshot");
    assert_eq!(imported.certificate(4).unwrap(), None);
    // The snapshot block's payments are found; older ones are not held.
    let last = &source.block(5).unwrap().unwrap().transactions[0];
    let found = imported.transaction(&last.id().unwrap()).unwrap().unwrap();
    assert_eq!(found.height, 5);
    let older = &source.block(4).unwrap().unwrap().transactions[0];
    assert_eq!(imported.transaction(&older.id().unwrap()).unwrap(), None);
    imported.check_state().unwrap();

    // Both go on with the same blocks to the same roots.
    for nonce in 5..8 {
        commit_on(&f, &[&source, &imported], nonce);
        assert_eq!(imported.state_root().unwrap(), source.state_root().unwrap());
    }
    drop(imported);

    // Reopened, it is still the store of a snapshot; so is what it serves.
    let reopened = Store::open(&path, &f.genesis).unwrap();
    assert_eq!(reopened.tip().unwrap(), source.tip().unwrap());
    assert_eq!(reopened.first_height(), 5);
    reopened.check_state().unwrap();
    let again = reopened.snapshot().unwrap();
    assert_eq!(again, source.snapshot().unwrap());
    let chain = StoredChain::open(&path).unwrap();
    assert_eq!((chain.first_height(), chain.tip_height()), (5, 8));
}

#[test]
fn an_imported_store_reopens_after_many_blocks_small_segments_and_pruning() {
    let f = Fixture::new(2, 4);
    let source_dir = tempfile::tempdir().unwrap();
    let source = chain(&f, source_dir.path(), 3);
    let snapshot = source.snapshot().unwrap();
    let config = StoreConfig {
        history: HistoryConfig {
            segment_bytes: 4096,
        },
        state_flush_blocks: 3,
        run_ids: 8,
        keep_blocks: Some(16),
        ..StoreConfig::default()
    };
    let target_dir = tempfile::tempdir().unwrap();
    let imported = Store::import(target_dir.path(), &f.genesis, &snapshot, config.clone()).unwrap();
    for nonce in 3..60 {
        commit_on(&f, &[&source, &imported], nonce);
    }
    imported.flush().unwrap();
    assert!(imported.segment_count() > 1, "the segments rolled");
    assert!(imported.index_shape().0 > 0, "runs were written");
    drop(imported);
    let reopened = Store::open_with(target_dir.path(), &f.genesis, config.clone()).unwrap();
    assert_eq!(reopened.tip().unwrap(), source.tip().unwrap());
    assert_eq!(reopened.state_root().unwrap(), source.state_root().unwrap());
    // It pruned above its snapshot too, and answers what it still holds.
    let first = reopened.first_height();
    assert!(first > 3, "nothing pruned");
    for height in 3..=source.tip().unwrap().height {
        for tx in source.block(height).unwrap().unwrap().transactions {
            let found = reopened.transaction(&tx.id().unwrap()).unwrap();
            if height >= first {
                assert_eq!(found.unwrap().height, height);
            } else {
                assert_eq!(found, None);
            }
        }
    }
}

#[test]
fn damaged_cut_or_forged_snapshots_are_refused_by_name() {
    let f = Fixture::new(4, 4);
    let dir = tempfile::tempdir().unwrap();
    let source = chain(&f, dir.path(), 3);
    let earlier = source.snapshot().unwrap();
    commit_on(&f, &[&source], 3);
    let snapshot = source.snapshot().unwrap();
    let bytes = snapshot.to_bytes().unwrap();

    // A flipped bit anywhere: the checksum.
    for at in [20, bytes.len() / 2, bytes.len() - 40] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        let result = Snapshot::read_from(&flipped[..]);
        assert!(
            matches!(
                result,
                Err(SnapshotError::Checksum | SnapshotError::Malformed(_))
            ),
            "flip at {at}: {result:?}"
        );
    }
    // Cut short, or with bytes after the end.
    for len in [0, 7, 50, bytes.len() - 1] {
        assert!(Snapshot::read_from(&bytes[..len]).is_err(), "cut at {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Snapshot::read_from(&longer[..]),
        Err(SnapshotError::Malformed(_))
    ));
    // Not a snapshot at all.
    assert!(matches!(
        Snapshot::read_from(&b"hello, this is not a snapshot of anything at all"[..]),
        Err(SnapshotError::Malformed(_))
    ));

    // Whole bytes with a changed balance: the certified state root.
    let mut forged = snapshot.clone();
    let (key, value) = forged
        .entries
        .iter()
        .max_by_key(|(_, value)| value.len())
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let mut value = value;
    let last = value.len() - 1;
    value[last] ^= 1;
    forged.entries.insert(key, value);
    let forged = Snapshot::read_from(&forged.to_bytes().unwrap()[..]).unwrap();
    assert!(matches!(
        forged.verify(&f.genesis),
        Err(SnapshotError::StateRoot { height: 4, .. })
    ));
    // An entry taken away: the root too.
    let mut fewer = snapshot.clone();
    let first = fewer.entries.keys().next().cloned().unwrap();
    fewer.entries.remove(&first);
    assert!(matches!(
        fewer.verify(&f.genesis),
        Err(SnapshotError::StateRoot { .. })
    ));
    // The certificate of another block.
    let mut uncertified = snapshot.clone();
    uncertified.certificate = earlier.certificate.clone();
    assert!(matches!(
        uncertified.verify(&f.genesis),
        Err(SnapshotError::Certificate { height: 4, .. })
    ));
    // Another chain's genesis.
    let other = Fixture::new(3, 3);
    assert!(matches!(
        snapshot.verify(&other.genesis),
        Err(SnapshotError::WrongChain { .. })
    ));
    // None of these starts a store, and no folder is left behind.
    let target = tempfile::tempdir().unwrap();
    let path = target.path().join("node");
    for bad in [&fewer, &uncertified] {
        assert!(matches!(
            Store::import(&path, &f.genesis, bad, StoreConfig::default()),
            Err(StoreError::Snapshot(_))
        ));
    }
    assert!(!path.exists());
}

#[test]
fn a_snapshot_is_refused_at_height_0_and_into_a_folder_that_holds_a_store() {
    let f = Fixture::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let empty = Store::open(dir.path(), &f.genesis).unwrap();
    assert!(empty.snapshot().is_err());
    drop(empty);
    let source_dir = tempfile::tempdir().unwrap();
    let snapshot = chain(&f, source_dir.path(), 2).snapshot().unwrap();
    assert!(matches!(
        Store::import(dir.path(), &f.genesis, &snapshot, StoreConfig::default()),
        Err(StoreError::NotEmpty { .. })
    ));
    // The store that was there is untouched.
    assert_eq!(
        Store::open(dir.path(), &f.genesis)
            .unwrap()
            .tip()
            .unwrap()
            .height,
        0
    );
}

#[test]
fn an_imported_store_whose_first_segment_is_gone_is_damaged_not_shorter() {
    let f = Fixture::new(2, 2);
    let source_dir = tempfile::tempdir().unwrap();
    let snapshot = chain(&f, source_dir.path(), 3).snapshot().unwrap();
    let target = tempfile::tempdir().unwrap();
    drop(Store::import(target.path(), &f.genesis, &snapshot, StoreConfig::default()).unwrap());
    let history = clearhouse_ledger::store::history_dir(target.path());
    for entry in std::fs::read_dir(&history).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "seg") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let result = Store::open(target.path(), &f.genesis);
    assert!(
        matches!(result, Err(StoreError::Damaged { .. })),
        "{result:?}"
    );
}
