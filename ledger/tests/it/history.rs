//! The store's history (segment files) and transaction index (run files):
//! replay at open, rolls, runs and merges across reopens, and each kind of
//! damage reported as what it is.

use std::path::{Path, PathBuf};

use clearhouse_ledger::store::{Store, StoreConfig, StoreError, StoredChain, history_dir};

use crate::fixture::{Fixture, assert_conserved};

fn small() -> StoreConfig {
    crate::fixture::small_store()
}

/// Commits `blocks` blocks of `per_block` transfers (distinct senders),
/// returning every transaction id with its height.
fn commit_blocks(
    f: &Fixture,
    store: &Store,
    blocks: usize,
    per_block: usize,
) -> Vec<(clearhouse_ledger::Hash, u64)> {
    let mut ids = Vec::new();
    for _ in 0..blocks {
        let height = store.tip().unwrap().height + 1;
        let mut txs = Vec::new();
        for i in 0..per_block {
            let from = &f.accounts[(height as usize * 7 + i) % f.accounts.len()];
            if txs
                .iter()
                .any(|t: &clearhouse_ledger::tx::SignedTransaction| t.tx.sender == from.account())
            {
                continue;
            }
            let to = f.accounts[(height as usize + i + 1) % f.accounts.len()].account();
            let nonce = store.account(&from.account()).unwrap().unwrap().nonce;
            txs.push(f.transfer(from, nonce, to, 0, 1 + height as u128));
        }
        for tx in &txs {
            ids.push((tx.id().unwrap(), height));
        }
        let outcome = f.propose(store, txs);
        store.commit(&outcome, &f.certify(&outcome)).unwrap();
    }
    ids
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(history_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    found.sort();
    found
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn blocks_above_the_written_state_are_replayed_at_open() {
    let f = Fixture::new(3, 6);
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        state_flush_blocks: 1000,
        ..small()
    };
    let (tip, root, entries, ids) = {
        let store = Store::open_with(dir.path(), &f.genesis, config.clone()).unwrap();
        let ids = commit_blocks(&f, &store, 25, 5);
        (
            store.tip().unwrap(),
            store.state_root().unwrap(),
            store.state_entries().unwrap(),
            ids,
        )
    };
    // Nothing of those 25 blocks reached sled: the reopen replays them all.
    let store = Store::open_with(dir.path(), &f.genesis, config.clone()).unwrap();
    assert_eq!(store.tip().unwrap(), tip);
    assert_eq!(store.state_root().unwrap(), root);
    assert_eq!(store.state_entries().unwrap(), entries);
    store.check_state().unwrap();
    assert_conserved(&entries);
    for (id, height) in &ids {
        assert_eq!(store.transaction(id).unwrap().unwrap().height, *height);
    }
    // And it goes on committing where it was.
    commit_blocks(&f, &store, 3, 5);
    assert_eq!(store.tip().unwrap().height, tip.height + 3);
}

#[test]
fn rolls_runs_and_merges_answer_every_transaction_across_reopens() {
    let f = Fixture::new(3, 6);
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        ids.extend(commit_blocks(&f, &store, 40, 5));
        for (id, height) in &ids {
            let found = store.transaction(id).unwrap().unwrap();
            assert_eq!(found.height, *height);
            assert_eq!(found.transaction.id().unwrap(), *id);
        }
    }
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    let (runs, recent) = store.index_shape();
    assert!(
        store.segment_count() > 3,
        "{} segments",
        store.segment_count()
    );
    // 600 ids at 6 per run would be ~100 runs unmerged.
    assert!(runs > 1 && runs < 30, "{runs} runs");
    // A run's pointer is durable with the next state write (every 4 blocks,
    // or when a background merge installs), and each store above was
    // dropped without a flush: a reopen rebuilds at most a run's worth
    // plus 4 blocks of 5 ids.
    assert!(recent < 6 + 4 * 5, "{recent} ids in memory");
    for (id, height) in &ids {
        assert_eq!(store.transaction(id).unwrap().unwrap().height, *height);
    }
    assert!(
        store
            .transaction(&clearhouse_ledger::Hash([0xab; 32]))
            .unwrap()
            .is_none()
    );
    // Only the runs the state names remain on disk.
    let run_files = std::fs::read_dir(history_dir(dir.path()))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "txr")
        })
        .count();
    assert_eq!(run_files, runs);
}

#[test]
fn a_torn_last_record_is_cut_and_reported() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::default();
    {
        let store = Store::open_with(dir.path(), &f.genesis, config.clone()).unwrap();
        commit_blocks(&f, &store, 5, 3);
    }
    let last = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    // A crash in the middle of appending block 5.
    let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    file.set_len(len - 10).unwrap();
    drop(file);
    let store = Store::open_with(dir.path(), &f.genesis, config.clone()).unwrap();
    assert_eq!(store.tip().unwrap().height, 4);
    let repair = store.repair().expect("the cut is reported");
    assert_eq!(repair.file, last);
    assert!(repair.offset < len - 10);
    assert_eq!(std::fs::metadata(&last).unwrap().len(), repair.offset);
    store.check_state().unwrap();
    // Height 5 commits again on top.
    commit_blocks(&f, &store, 1, 3);
    assert_eq!(store.tip().unwrap().height, 5);
    drop(store);
    let store = Store::open_with(dir.path(), &f.genesis, config.clone()).unwrap();
    assert!(store.repair().is_none());
    assert_eq!(store.tip().unwrap().height, 5);
}

#[test]
fn garbage_after_the_last_record_is_cut_too() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &f.genesis).unwrap();
        commit_blocks(&f, &store, 3, 3);
    }
    let last = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.extend_from_slice(&[0u8; 300]);
    std::fs::write(&last, bytes).unwrap();
    let store = Store::open(dir.path(), &f.genesis).unwrap();
    assert_eq!(store.tip().unwrap().height, 3);
    assert!(store.repair().is_some());
}

#[test]
fn damage_inside_the_last_segment_is_an_error_not_a_cut() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &f.genesis).unwrap();
        commit_blocks(&f, &store, 4, 3);
    }
    let last = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    // A byte of the first record's payload: whole records follow it.
    flip_byte(&last, 40);
    match Store::open(dir.path(), &f.genesis) {
        Err(StoreError::Damaged { file, offset, .. }) => {
            assert_eq!(file, last);
            assert_eq!(offset, 0);
        }
        other => panic!("expected a damaged history, got {other:?}"),
    }
    assert!(matches!(
        StoredChain::open(dir.path()),
        Err(StoreError::Damaged { .. })
    ));
    // Nothing was cut.
    assert_eq!(std::fs::metadata(&last).unwrap().len(), len);
}

#[test]
fn damage_in_a_closed_segment_is_never_served() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        commit_blocks(&f, &store, 30, 3);
    }
    let first = segments(dir.path()).remove(0);
    flip_byte(&first, 40);
    // The open checks only the latest blocks: it succeeds, and block 1 is
    // refused when read, naming the file and the offset.
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    match store.block(1) {
        Err(StoreError::Damaged { file, offset, what }) => {
            assert_eq!(file, first);
            assert_eq!(offset, 0);
            assert!(what.contains("checksum"), "{what}");
        }
        other => panic!("expected a damaged record, got {other:?}"),
    }
    let chain = StoredChain::open(dir.path()).unwrap();
    assert!(matches!(chain.block(1), Err(StoreError::Damaged { .. })));
}

#[test]
fn a_closed_segment_without_its_index_gets_it_back() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        commit_blocks(&f, &store, 20, 3);
    }
    let first = segments(dir.path()).remove(0);
    let index = first.with_extension("idx");
    std::fs::remove_file(&index).unwrap();
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    assert!(index.exists());
    for height in 1..=20 {
        assert_eq!(store.block(height).unwrap().unwrap().header.height, height);
    }
}

#[test]
fn a_missing_run_file_is_a_typed_error() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        commit_blocks(&f, &store, 12, 3);
        store.flush().unwrap();
    }
    let run = std::fs::read_dir(history_dir(dir.path()))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "txr"))
        .expect("a run file");
    std::fs::remove_file(&run).unwrap();
    match Store::open_with(dir.path(), &f.genesis, small()) {
        Err(StoreError::MissingRun { path }) => assert_eq!(path, run),
        other => panic!("expected a missing run, got {other:?}"),
    }
}

#[test]
fn an_auditor_reads_the_history_without_sled_while_the_store_is_open() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    commit_blocks(&f, &store, 10, 3);
    let chain = StoredChain::open(dir.path()).unwrap();
    assert_eq!(chain.tip_height(), 10);
    for height in 1..=10 {
        assert_eq!(
            chain.block(height).unwrap().unwrap(),
            store.block(height).unwrap().unwrap().encode().unwrap()
        );
    }
    // Later commits do not disturb what it opened.
    commit_blocks(&f, &store, 2, 3);
    assert_eq!(chain.tip_height(), 10);
    assert!(chain.block(11).unwrap().is_none());
}

fn runs(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(history_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txr"))
        .collect();
    found.sort();
    found
}

#[test]
fn a_bit_flipped_in_a_run_fails_the_merge_that_reads_it_and_nothing_replaces_it() {
    let f = Fixture::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    // Six ids a run, three a block: a run every two blocks, so seven runs
    // after fourteen blocks, one short of a merge.
    {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        commit_blocks(&f, &store, 14, 3);
        store.flush().unwrap();
    }
    let before = runs(dir.path());
    assert_eq!(before.len(), 7, "{before:?}");
    // The first entry's position byte (12-byte header, then prefix 8,
    // height 8, position 4): in range and in order, so only the checksum
    // can see it.
    flip_byte(&before[0], 12 + 19);
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    commit_blocks(&f, &store, 2, 3);
    match store.flush() {
        Err(StoreError::Damaged { file, what, .. }) => {
            assert_eq!(file, before[0]);
            assert!(what.contains("checksum"), "{what}");
        }
        other => panic!("expected the damaged run, got {other:?}"),
    }
    // The damaged run and its neighbours stay; no merged run was renamed
    // into place and no partial file is left.
    let after = runs(dir.path());
    assert!(after.starts_with(&before), "{after:?}");
    assert!(
        !std::fs::read_dir(history_dir(dir.path()))
            .unwrap()
            .any(|e| e.unwrap().path().to_string_lossy().ends_with(".tmp"))
    );
}

#[test]
fn merges_run_beside_commits_and_a_flush_finishes_them() {
    let f = Fixture::new(3, 6);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    let ids = commit_blocks(&f, &store, 400, 5);
    store.flush().unwrap();
    // 2,000 ids at 6 a run: 333 runs unmerged; merged 8 into 1 per level,
    // what is left is fewer than 8 of each level.
    let (count, _) = store.index_shape();
    assert!(count < 8 * 4, "{count} runs");
    assert_eq!(runs(dir.path()).len(), count, "files no pointer names");
    for (id, height) in &ids {
        assert_eq!(store.transaction(id).unwrap().unwrap().height, *height);
    }
    drop(store);
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    assert_eq!(store.index_shape().0, count);
    for (id, height) in ids.iter().step_by(7) {
        assert_eq!(store.transaction(id).unwrap().unwrap().height, *height);
    }
}

#[test]
fn decoded_entries_equal_their_bytes_stay_bounded_and_change_no_outcome() {
    use clearhouse_ledger::state::{Decoded, StateKey, StateView};
    let f = Fixture::new(3, 24);
    let (cached_dir, plain_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // 40 entries (24 accounts and the assets): a generation ages every 20
    // inserts, about every other block, so entries both outlive blocks
    // that change them and come and go.
    let cached_config = StoreConfig {
        decoded_entries: 40,
        ..small()
    };
    let cached = Store::open_with(cached_dir.path(), &f.genesis, cached_config.clone()).unwrap();
    let plain_config = StoreConfig {
        decoded_entries: 0,
        ..small()
    };
    let plain = Store::open_with(plain_dir.path(), &f.genesis, plain_config.clone()).unwrap();
    let mut hits = 0;
    for round in 0..12 {
        commit_blocks(&f, &cached, 3, 6);
        commit_blocks(&f, &plain, 3, 6);
        assert_eq!(cached.tip().unwrap(), plain.tip().unwrap(), "round {round}");
        assert_eq!(cached.state_root().unwrap(), plain.state_root().unwrap());
        assert!(cached.decoded_len() <= 40, "{} kept", cached.decoded_len());
        assert_eq!(plain.decoded_len(), 0);
        for account in &f.accounts {
            let key = StateKey::Account(account.account()).encode().unwrap();
            if let Some(decoded) = cached.decoded(&key) {
                hits += 1;
                let Decoded::Account(state) = decoded else {
                    panic!("an account key holds another kind");
                };
                assert_eq!(
                    Some(&*state),
                    cached.account(&account.account()).unwrap().as_ref()
                );
                assert_eq!(cached.get(&key).unwrap(), plain.get(&key).unwrap());
            }
        }
    }
    assert!(hits > 0, "the cache never held an account");
    // Reopened, the state is the same and the cache starts empty.
    let root = cached.state_root().unwrap();
    drop(cached);
    let reopened = Store::open_with(cached_dir.path(), &f.genesis, cached_config.clone()).unwrap();
    assert_eq!(reopened.state_root().unwrap(), root);
    commit_blocks(&f, &reopened, 2, 6);
    commit_blocks(&f, &plain, 2, 6);
    assert_eq!(reopened.state_root().unwrap(), plain.state_root().unwrap());
}

/// A pruning store beside an archival twin fed the same blocks: the same
/// state and tip throughout; the pruned one holds at least the kept
/// blocks, none of the removed segments, answers the payments it holds and
/// none it removed, and reopens as pruned.
#[test]
fn a_pruning_store_keeps_the_latest_blocks_and_the_same_state() {
    let f = Fixture::new(3, 12);
    let (pruned_dir, archival_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let keep = 20;
    let config = StoreConfig {
        keep_blocks: Some(keep),
        ..small()
    };
    let pruned = Store::open_with(pruned_dir.path(), &f.genesis, config.clone()).unwrap();
    let archival = Store::open_with(archival_dir.path(), &f.genesis, small()).unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let before = ids.len();
        ids.extend(commit_blocks(&f, &archival, 4, 4));
        for height in archival.tip().unwrap().height - 3..=archival.tip().unwrap().height {
            let block = archival.block(height).unwrap().unwrap();
            let outcome = clearhouse_ledger::state::apply_block(
                &pruned,
                &block,
                clearhouse_ledger::state::Signatures::Verify,
            )
            .unwrap();
            pruned
                .commit(&outcome, &archival.certificate(height).unwrap().unwrap())
                .unwrap();
        }
        assert!(ids.len() > before);
        assert_eq!(pruned.tip().unwrap(), archival.tip().unwrap());
        assert_eq!(pruned.state_root().unwrap(), archival.state_root().unwrap());
        let (tip, first) = (pruned.tip().unwrap().height, pruned.first_height());
        assert!(
            tip + 1 - first >= keep.min(tip),
            "{first}..={tip} keeps fewer than {keep}"
        );
    }
    let tip = pruned.tip().unwrap().height;
    let first = pruned.first_height();
    assert!(first > 1, "nothing was pruned over {tip} blocks");
    assert!(segments(pruned_dir.path()).len() < segments(archival_dir.path()).len());
    assert_eq!(pruned.block(first - 1).unwrap(), None);
    assert_eq!(pruned.block(first).unwrap(), archival.block(first).unwrap());
    for (id, height) in &ids {
        let found = pruned.transaction(id).unwrap();
        if *height >= first {
            assert_eq!(found.unwrap().height, *height);
        } else {
            assert_eq!(found, None, "a payment of pruned block {height}");
        }
    }
    pruned.check_state().unwrap();
    drop(pruned);
    let reopened = Store::open_with(pruned_dir.path(), &f.genesis, config.clone()).unwrap();
    assert_eq!(reopened.first_height(), first);
    assert_eq!(
        reopened.state_root().unwrap(),
        archival.state_root().unwrap()
    );
    reopened.check_state().unwrap();
    // The audit reader says what the folder lacks.
    assert_eq!(
        StoredChain::open(pruned_dir.path()).unwrap().first_height(),
        first
    );
}

/// A prune recorded in sled whose file removals a crash cut short is
/// finished at the next open; a recorded first height that no segment
/// starts at is a refusal, not a guess.
#[test]
fn an_interrupted_prune_is_finished_at_open() {
    let f = Fixture::new(3, 12);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
        commit_blocks(&f, &store, 40, 4);
        store.flush().unwrap();
    }
    let all = segments(dir.path());
    assert!(all.len() >= 3, "{all:?}");
    let boundary: u64 = all[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let record = |value: u64| {
        let db =
            clearhouse_ledger::store::open_db(&clearhouse_ledger::store::state_dir(dir.path()))
                .unwrap();
        db.open_tree(clearhouse_ledger::store::keys::TREE)
            .unwrap()
            .insert(
                clearhouse_ledger::store::keys::META_PRUNED,
                &value.to_be_bytes()[..],
            )
            .unwrap();
        db.flush().unwrap();
    };
    record(boundary + 1);
    assert!(matches!(
        Store::open_with(dir.path(), &f.genesis, small()),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(segments(dir.path()), all, "a refused prune removes nothing");
    record(boundary);
    let store = Store::open_with(dir.path(), &f.genesis, small()).unwrap();
    assert_eq!(store.first_height(), boundary);
    assert_eq!(segments(dir.path()), all[2..].to_vec());
    store.check_state().unwrap();
}
