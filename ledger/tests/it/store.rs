//! The sled store: commits, reads, refusals, certificates and reopening.

use clearhouse_ledger::certificate::CertificateError;
use clearhouse_ledger::state::{Outcome, RejectReason, Signatures, apply_block};
use clearhouse_ledger::store::{FORMAT_VERSION, Store, StoreError, StoredChain, keys};

use crate::fixture::Fixture;

#[test]
fn commit_then_read_back_everything() {
    let f = Fixture::new(4, 4);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &f.genesis).unwrap();
    assert_eq!(store.tip().unwrap().height, 0);
    let to = f.accounts[1].account();
    let txs = vec![
        f.transfer(&f.accounts[0], 0, to, 0, 10_000),
        f.transfer(&f.accounts[0], 0, to, 0, 10_000), // replayed nonce
        f.transfer(&f.accounts[0], 2, to, 0, 10_000), // skipped nonce
    ];
    let outcome = f.propose(&store, txs.clone());
    let certificate = f.certify(&outcome);
    certificate
        .verify(
            &f.chain_id(),
            1,
            &outcome.block_hash,
            &f.genesis.validator_set().unwrap(),
        )
        .unwrap();
    store.commit(&outcome, &certificate).unwrap();

    let receipts = store.receipts(1).unwrap().unwrap();
    assert_eq!(
        receipts[0].outcome,
        Outcome::Applied {
            fee: clearhouse_ledger::Amount(1 + 5)
        }
    );
    assert_eq!(
        receipts[1].outcome,
        Outcome::Rejected(RejectReason::BadNonce {
            expected: 1,
            found: 0
        })
    );
    assert_eq!(
        receipts[2].outcome,
        Outcome::Rejected(RejectReason::BadNonce {
            expected: 1,
            found: 2
        })
    );
    assert_eq!(store.block(1).unwrap().unwrap(), outcome.block);
    assert_eq!(store.certificate(1).unwrap().unwrap(), certificate);
    let found = store.transaction(&txs[0].id().unwrap()).unwrap().unwrap();
    assert_eq!((found.height, found.index), (1, 0));
    assert_eq!(found.transaction, txs[0]);
    let sender = store.account(&f.accounts[0].account()).unwrap().unwrap();
    assert_eq!(sender.nonce, 1);
    assert_eq!(sender.balance(&f.asset(0)).0, 100_000 - 10_000 - 6);
    let treasury = store.account(&f.treasuries[0].account()).unwrap().unwrap();
    assert_eq!(
        treasury.balance(&f.asset(0)).0,
        10_000_000 + 6,
        "the fee goes to the sender's bank"
    );
    store.check_state().unwrap();
}

#[test]
fn a_block_that_does_not_extend_the_tip_is_refused() {
    let f = Fixture::new(2, 2);
    let store = Store::temporary(&f.genesis).unwrap();
    let outcome = f.propose(&store, vec![]);
    let certificate = f.certify(&outcome);
    store.commit(&outcome, &certificate).unwrap();
    // The same block again: not the next height.
    assert!(matches!(
        store.commit(&outcome, &certificate),
        Err(StoreError::NotNext { .. })
    ));
    // Re-executing it on the new tip fails too.
    assert!(apply_block(&store, &outcome.block, Signatures::Verify).is_err());
    // A certificate for another block is refused.
    let next = f.propose(&store, vec![]);
    assert!(matches!(
        store.commit(&next, &certificate),
        Err(StoreError::CertificateMismatch { .. })
    ));
}

#[test]
fn a_store_opened_with_another_genesis_is_refused() {
    let f = Fixture::new(2, 2);
    let g = Fixture::new(3, 2);
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &f.genesis).unwrap());
    assert!(matches!(
        Store::open(dir.path(), &g.genesis),
        Err(StoreError::WrongChain { .. })
    ));
}

#[test]
fn certificates_need_distinct_known_signers_with_a_quorum() {
    let f = Fixture::new(4, 1);
    let store = Store::temporary(&f.genesis).unwrap();
    let outcome = f.propose(&store, vec![]);
    let set = f.genesis.validator_set().unwrap();
    let chain = f.chain_id();
    let keys: Vec<_> = f.validators.iter().collect();
    let sign = |keys: &[&clearhouse_ledger::crypto::Keypair]| {
        clearhouse_ledger::CommitCertificate::sign(&chain, 1, 0, outcome.block_hash, keys)
    };
    // 3 of 4 equal powers: 30 of 40 > 2/3.
    sign(&keys[..3])
        .verify(&chain, 1, &outcome.block_hash, &set)
        .unwrap();
    // 2 of 4: exactly 1/2.
    assert!(matches!(
        sign(&keys[..2]).verify(&chain, 1, &outcome.block_hash, &set),
        Err(CertificateError::NoQuorum {
            power: 20,
            total: 40
        })
    ));
    // A duplicated vote does not count twice.
    let mut duplicated = sign(&keys[..2]);
    duplicated.votes.push(duplicated.votes[0].clone());
    assert!(matches!(
        duplicated.verify(&chain, 1, &outcome.block_hash, &set),
        Err(CertificateError::DuplicateVote(_))
    ));
    // A stranger's vote is refused.
    let stranger = crate::fixture::key("stranger");
    let with_stranger = sign(&[keys[0], keys[1], &stranger]);
    assert!(matches!(
        with_stranger.verify(&chain, 1, &outcome.block_hash, &set),
        Err(CertificateError::UnknownValidator(_))
    ));
    // A bad signature is refused.
    let mut forged = sign(&keys[..3]);
    forged.votes[2].signature.0[0] ^= 1;
    assert!(matches!(
        forged.verify(&chain, 1, &outcome.block_hash, &set),
        Err(CertificateError::BadSignature { .. })
    ));
    // Another block or height is refused.
    assert!(matches!(
        sign(&keys[..3]).verify(&chain, 2, &outcome.block_hash, &set),
        Err(CertificateError::WrongBlock { .. })
    ));
    // Signed for another chain: the signatures fail.
    let other = clearhouse_ledger::CommitCertificate::sign(
        &clearhouse_ledger::Hash([1; 32]),
        1,
        0,
        outcome.block_hash,
        &keys[..3],
    );
    assert!(other.verify(&chain, 1, &outcome.block_hash, &set).is_err());
}

#[test]
fn a_tampered_header_root_is_caught_by_reexecution() {
    let f = Fixture::new(2, 2);
    let store = Store::temporary(&f.genesis).unwrap();
    let outcome = f.propose(
        &store,
        vec![f.transfer(&f.accounts[0], 0, f.accounts[1].account(), 0, 5)],
    );
    for field in 0..3 {
        let mut block = outcome.block.clone();
        match field {
            0 => block.header.state_root.0[0] ^= 1,
            1 => block.header.tx_root.0[0] ^= 1,
            _ => block.header.receipts_root.0[0] ^= 1,
        }
        assert!(matches!(
            apply_block(&store, &block, Signatures::Verify),
            Err(clearhouse_ledger::state::BlockError::RootMismatch { .. })
        ));
    }
}

#[test]
fn damage_to_the_state_is_detected_at_open() {
    let f = Fixture::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &f.genesis).unwrap();
        let outcome = f.propose(
            &store,
            vec![f.transfer(&f.accounts[0], 0, f.accounts[1].account(), 0, 5)],
        );
        store.commit(&outcome, &f.certify(&outcome)).unwrap();
    }
    // Damage one state entry behind the store's back: the root rebuilt
    // from the state at open no longer matches the tip header.
    {
        let db =
            clearhouse_ledger::store::open_db(&clearhouse_ledger::store::state_dir(dir.path()))
                .unwrap();
        let data = db.open_tree(keys::TREE).unwrap();
        let (key, mut value) = data.scan_prefix([keys::STATE]).next().unwrap().unwrap();
        let mut bytes = value.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        value = bytes.into();
        data.insert(key, value).unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(
        Store::open(dir.path(), &f.genesis),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn a_transaction_included_early_and_applied_later_reads_back_as_applied() {
    let f = Fixture::new(2, 2);
    let store = Store::temporary(&f.genesis).unwrap();
    let to = f.accounts[1].account();
    let early = f.transfer(&f.accounts[0], 1, to, 0, 7); // nonce 1 before nonce 0
    let first = f.propose(&store, vec![early.clone()]);
    assert!(!first.execution.receipts[0].outcome.is_final());
    store.commit(&first, &f.certify(&first)).unwrap();
    let found = store.transaction(&early.id().unwrap()).unwrap().unwrap();
    assert_eq!(found.height, 1);
    // Now nonce 0, then the same transaction again: it applies in block 2.
    let second = f.propose(
        &store,
        vec![f.transfer(&f.accounts[0], 0, to, 0, 7), early.clone()],
    );
    store.commit(&second, &f.certify(&second)).unwrap();
    let found = store.transaction(&early.id().unwrap()).unwrap().unwrap();
    assert_eq!((found.height, found.index), (2, 1));
    assert!(matches!(found.receipt.outcome, Outcome::Applied { .. }));
    // A replay in block 3 is rejected and does not hide the applied one.
    let third = f.propose(&store, vec![early.clone()]);
    assert_eq!(
        third.execution.receipts[0].outcome,
        Outcome::Rejected(RejectReason::BadNonce {
            expected: 2,
            found: 1
        })
    );
    store.commit(&third, &f.certify(&third)).unwrap();
    let found = store.transaction(&early.id().unwrap()).unwrap().unwrap();
    assert_eq!((found.height, found.index), (2, 1));
}

#[test]
fn a_committed_payment_replayed_later_keeps_its_applied_index_entry() {
    let f = Fixture::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let to = f.accounts[1].account();
    let payment = f.transfer(&f.accounts[0], 0, to, 0, 7);
    let id = payment.id().unwrap();
    {
        let store = Store::open(dir.path(), &f.genesis).unwrap();
        let first = f.propose(&store, vec![payment.clone()]);
        assert!(matches!(
            first.execution.receipts[0].outcome,
            Outcome::Applied { .. }
        ));
        store.commit(&first, &f.certify(&first)).unwrap();
        // Replayed in each of the next two blocks, once twice in a block.
        for replays in [1, 2] {
            let replay = f.propose(&store, vec![payment.clone(); replays]);
            for receipt in &replay.execution.receipts {
                assert_eq!(
                    receipt.outcome,
                    Outcome::Rejected(RejectReason::BadNonce {
                        expected: 1,
                        found: 0
                    })
                );
            }
            store.commit(&replay, &f.certify(&replay)).unwrap();
            let found = store.transaction(&id).unwrap().unwrap();
            assert_eq!((found.height, found.index), (1, 0));
            assert!(matches!(found.receipt.outcome, Outcome::Applied { .. }));
        }
    }
    // And so it reads back after a reopen.
    let store = Store::open(dir.path(), &f.genesis).unwrap();
    let found = store.transaction(&id).unwrap().unwrap();
    assert_eq!((found.height, found.index), (1, 0));
    assert!(matches!(found.receipt.outcome, Outcome::Applied { .. }));
}

#[test]
fn the_tip_follows_every_commit_and_survives_a_reopen() {
    let f = Fixture::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let last;
    {
        let store = Store::open(dir.path(), &f.genesis).unwrap();
        let clone = store.clone();
        let genesis_tip = store.tip().unwrap();
        assert_eq!(
            (genesis_tip.height, genesis_tip.block_hash),
            (0, f.chain_id())
        );
        for height in 1..=3 {
            let outcome = f.propose(&store, vec![]);
            store.commit(&outcome, &f.certify(&outcome)).unwrap();
            // Seen at once, through every handle on the store.
            for handle in [&store, &clone] {
                let tip = handle.tip().unwrap();
                assert_eq!((tip.height, tip.block_hash), (height, outcome.block_hash));
            }
        }
        // A refused commit leaves the tip alone.
        let fourth = f.propose(&store, vec![]);
        store.commit(&fourth, &f.certify(&fourth)).unwrap();
        assert!(matches!(
            store.commit(&fourth, &f.certify(&fourth)),
            Err(StoreError::NotNext { tip_height: 4, .. })
        ));
        assert_eq!(store.tip().unwrap().height, 4);
        last = Some(fourth.block_hash);
    }
    let store = Store::open(dir.path(), &f.genesis).unwrap();
    let tip = store.tip().unwrap();
    assert_eq!((tip.height, Some(tip.block_hash)), (4, last));
}

#[test]
fn two_commits_of_one_block_at_once_make_one_block() {
    let f = Fixture::new(2, 2);
    let store = Store::temporary(&f.genesis).unwrap();
    let outcome = f.propose(
        &store,
        vec![f.transfer(&f.accounts[0], 0, f.accounts[1].account(), 0, 5)],
    );
    let certificate = f.certify(&outcome);
    let start = std::sync::Barrier::new(2);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let store = store.clone();
                    start.wait();
                    store.commit(&outcome, &certificate)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(StoreError::NotNext { tip_height: 1, .. })))
    );
    assert_eq!(store.tip().unwrap().height, 1);
    store.check_tip().unwrap();
}

/// Writes the meta tree formats 1 and 2 kept, as such a store had it.
fn write_legacy_store(dir: &std::path::Path, f: &Fixture, format: u32) {
    let db = clearhouse_ledger::store::open_db(dir).unwrap();
    let meta = db.open_tree(keys::LEGACY_META_TREE).unwrap();
    meta.insert(keys::LEGACY_META_FORMAT, &format.to_be_bytes()[..])
        .unwrap();
    meta.insert(b"chain_id", &f.chain_id().0[..]).unwrap();
    db.open_tree("blocks").unwrap();
    db.flush().unwrap();
}

#[test]
fn a_store_of_an_older_format_is_refused_by_its_format_number() {
    assert_eq!(FORMAT_VERSION, 8);
    let f = Fixture::new(2, 2);
    for format in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        write_legacy_store(dir.path(), &f, format);
        let error = Store::open(dir.path(), &f.genesis).unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Format { found: Some(found), supported: 8 } if found == format
            ),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            format!("store format {format}, this build reads format 8")
        );
        // Refused again, not initialised beside the old trees.
        assert!(matches!(
            Store::open(dir.path(), &f.genesis),
            Err(StoreError::Format { .. })
        ));
        assert!(matches!(
            StoredChain::open(dir.path()),
            Err(StoreError::Format { .. })
        ));
    }
}

#[test]
fn a_format_3_or_4_store_is_refused_too() {
    // Formats 3 and 4 had one sled tree right in the store folder, with
    // blocks in it.
    let f = Fixture::new(2, 2);
    for format in [3u32, 4] {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = clearhouse_ledger::store::open_db(dir.path()).unwrap();
            let data = db.open_tree(keys::TREE).unwrap();
            data.insert(keys::META_FORMAT, &format.to_be_bytes()[..])
                .unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            Store::open(dir.path(), &f.genesis),
            Err(StoreError::Format {
                found: Some(found),
                supported: 8
            }) if found == format
        ));
        assert!(matches!(
            StoredChain::open(dir.path()),
            Err(StoreError::Format { found: Some(found), .. }) if found == format
        ));
    }
    // A format 5 store: this layout, but fee rules without the receiving
    // share and no quotes.
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &f.genesis).unwrap());
    {
        let state = clearhouse_ledger::store::state_dir(dir.path());
        let db = clearhouse_ledger::store::open_db(&state).unwrap();
        let data = db.open_tree(keys::TREE).unwrap();
        data.insert(keys::META_FORMAT, &5u32.to_be_bytes()[..])
            .unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(
        Store::open(dir.path(), &f.genesis),
        Err(StoreError::Format {
            found: Some(5),
            supported: 8
        })
    ));
}

#[test]
fn the_stored_chain_reads_the_raw_blocks_and_certificates() {
    let f = Fixture::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let mut committed = Vec::new();
    {
        let store = Store::open(dir.path(), &f.genesis).unwrap();
        for _ in 0..3 {
            let outcome = f.propose(
                &store,
                vec![f.transfer(
                    &f.accounts[0],
                    store.tip().unwrap().height,
                    f.accounts[1].account(),
                    0,
                    5,
                )],
            );
            let certificate = f.certify(&outcome);
            store.commit(&outcome, &certificate).unwrap();
            committed.push((outcome.block, certificate));
        }
    }
    let chain = StoredChain::open(dir.path()).unwrap();
    assert_eq!(chain.tip_height(), 3);
    for (height, (block, certificate)) in (1..).zip(&committed) {
        assert_eq!(
            chain.block(height).unwrap().unwrap(),
            block.encode().unwrap()
        );
        assert_eq!(
            chain.certificate(height).unwrap().unwrap(),
            clearhouse_ledger::codec::encode(certificate).unwrap()
        );
    }
    assert!(chain.block(4).unwrap().is_none());
    assert!(chain.certificate(4).unwrap().is_none());
}

#[test]
fn every_key_kind_has_its_own_prefix() {
    let prefixes = [keys::META, keys::RUN, keys::STATE];
    let distinct: std::collections::BTreeSet<u8> = prefixes.iter().copied().collect();
    assert_eq!(distinct.len(), prefixes.len());
    for meta in [
        keys::META_FORMAT,
        keys::META_CHAIN_ID,
        keys::META_TIP,
        keys::META_GENESIS_ROOT,
    ] {
        assert_eq!(meta[0], keys::META);
    }
    assert_eq!(keys::run(1, 7)[0], keys::RUN);
    assert_eq!(keys::parse_run(&keys::run(3, 9)), Some((3, 9)));
    assert_eq!(keys::state(b"x")[0], keys::STATE);
    assert_eq!(keys::parse_state(&keys::state(b"xy")), Some(&b"xy"[..]));
    // Runs sort by height within their kind.
    assert!(keys::run(255, 300) < keys::run(301, 400));
    let hash = clearhouse_ledger::Hash([3; 32]);
    assert_eq!(keys::parse_tip(&keys::tip(42, &hash)), Some((42, hash)));
}

/// A node executes height `h+1` on an overlay of the decided block `h`
/// over the store while the store is still writing `h`: every read, and so
/// the next block's whole outcome, must be what the store gives once `h`
/// has landed.
#[test]
fn the_next_height_executes_identically_on_an_overlay_of_the_decided_block() {
    use clearhouse_ledger::state::StateView;
    use clearhouse_ledger::state::overlay::{Decided, Overlay};
    use std::sync::Arc;

    let f = Fixture::new(4, 6);
    let store = Store::temporary(&f.genesis).unwrap();
    let fresh = clearhouse_ledger::testing::key("fresh-account");
    let mut nonces = [0u64; 6];
    let mut transfer = |from: usize, to: clearhouse_ledger::AccountId, asset: usize| {
        let tx = f.transfer(
            &f.accounts[from],
            nonces[from],
            to,
            asset,
            1_000 + from as u128,
        );
        nonces[from] += 1;
        tx
    };
    // The first block opens an account the later ones pay: entries the
    // store does not hold yet, in buckets the overlay must answer.
    let register = f.sign(
        &f.treasuries[0],
        0,
        clearhouse_ledger::tx::Body::RegisterAccount {
            account: fresh.account(),
        },
    );
    let mut blocks = Vec::new();
    for round in 0..4usize {
        blocks.push(vec![
            transfer(round % 6, f.accounts[(round + 1) % 6].account(), round % 3),
            transfer((round + 2) % 6, fresh.account(), 0),
            transfer((round + 3) % 6, f.accounts[round % 6].account(), 1),
        ]);
    }
    blocks[0].insert(0, register);
    let mut decided_outcome = Arc::new(f.propose(&store, blocks[0].clone()));
    for txs in &blocks[1..] {
        let decided = Decided::new(decided_outcome.clone());
        let overlay = Overlay::new(&store, Some(&decided));
        assert_eq!(overlay.tip().unwrap(), decided.tip());
        let pipelined = f.propose(&overlay, txs.clone());
        // What the overlay answers before the block lands, for every entry,
        // bucket and inner node the block changed...
        let update = &decided_outcome.execution.commitment;
        let entries: Vec<_> = decided_outcome
            .execution
            .writes
            .keys()
            .map(|key| overlay.get(key).unwrap())
            .collect();
        let buckets: Vec<_> = update
            .buckets
            .iter()
            .map(|(bucket, _)| overlay.bucket(*bucket).unwrap())
            .collect();
        let nodes: Vec<_> = update
            .nodes
            .iter()
            .map(|((level, index), _)| overlay.node(*level, *index).unwrap())
            .collect();
        store
            .commit(&decided_outcome, &f.certify(&decided_outcome))
            .unwrap();
        // ... is what the store answers once it has.
        for (key, before) in decided_outcome.execution.writes.keys().zip(entries) {
            assert_eq!(store.get(key).unwrap(), before);
        }
        for ((bucket, _), before) in update.buckets.iter().zip(buckets) {
            assert_eq!(store.bucket(*bucket).unwrap(), before);
        }
        for (((level, index), _), before) in update.nodes.iter().zip(nodes) {
            assert_eq!(store.node(*level, *index).unwrap(), before);
        }
        assert_eq!(overlay.tip().unwrap(), store.tip().unwrap());
        let sequential = f.propose(&store, txs.clone());
        assert_eq!(pipelined, sequential);
        assert!(
            pipelined
                .execution
                .receipts
                .iter()
                .all(|r| matches!(r.outcome, Outcome::Applied { .. })),
            "each block spends the nonces the decided one advanced: {:?}",
            pipelined.execution.receipts
        );
        decided_outcome = Arc::new(pipelined);
    }
    store
        .commit(&decided_outcome, &f.certify(&decided_outcome))
        .unwrap();
    assert_eq!(store.tip().unwrap().height, 4);
    store.check_state().unwrap();
}

/// The in-memory twin the whole-node simulator runs on answers every read
/// the engine makes exactly as the sled store does, block after block of a
/// seeded random chain (transfers, replays, escrows with deadlines).
#[test]
fn the_memory_store_answers_every_read_like_the_sled_store() {
    use clearhouse_ledger::store::ChainStore;
    use clearhouse_ledger::store::memory::MemoryStore;
    use clearhouse_ledger::{Amount, Body, Hash, MemberId};

    let f = Fixture::new(4, 6);
    let sled = Store::temporary(&f.genesis).unwrap();
    let memory = MemoryStore::new(&f.genesis).unwrap();
    let mut nonces = [0u64; 6];
    let mut rng = 0x5eed_u64;
    let mut next = |bound: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % bound
    };
    let same = |sled: &Store, memory: &MemoryStore, height: u64| {
        assert_eq!(
            sled.chain_tip().unwrap(),
            memory.chain_tip().unwrap(),
            "tip at {height}"
        );
        assert_eq!(
            ChainStore::root(sled).unwrap(),
            memory.root().unwrap(),
            "root at {height}"
        );
        assert_eq!(
            ChainStore::next_deadline(sled).unwrap(),
            memory.next_deadline().unwrap(),
            "deadline at {height}"
        );
        assert_eq!(
            sled.state_entries().unwrap(),
            memory.state_entries(),
            "state at {height}"
        );
        for h in 0..=height + 1 {
            assert_eq!(sled.block_at(h).unwrap(), memory.block_at(h).unwrap());
            assert_eq!(
                sled.certificate_at(h).unwrap(),
                memory.certificate_at(h).unwrap()
            );
        }
    };
    same(&sled, &memory, 0);
    for height in 1..=30u64 {
        let mut txs = Vec::new();
        for _ in 0..next(6) {
            let from = usize::try_from(next(6)).unwrap();
            let to = f.accounts[(from + 1) % 6].account();
            let tx = if next(4) == 0 {
                let deadline = height + 1 + next(4);
                f.sign(
                    &f.accounts[from],
                    nonces[from],
                    Body::EscrowOpen {
                        seller: to,
                        asset: f.asset(0),
                        amount: Amount(u128::from(1 + next(100))),
                        arbiter: MemberId::new("bank-2").unwrap(),
                        confirm_deadline: deadline,
                        arbiter_deadline: deadline + 2,
                        reference: Hash([7; 32]),
                    },
                )
            } else {
                f.transfer(
                    &f.accounts[from],
                    nonces[from],
                    to,
                    0,
                    u128::from(1 + next(500)),
                )
            };
            // Now and then a replay of the same nonce, rejected in its receipt.
            if next(5) != 0 {
                nonces[from] += 1;
            }
            txs.push(tx);
        }
        let outcome = f.propose(&sled, txs.clone());
        let twin = f.propose(&memory, txs);
        assert_eq!(outcome.block_hash, twin.block_hash, "block at {height}");
        let certificate = f.certify(&outcome);
        sled.commit(&outcome, &certificate).unwrap();
        memory.commit(&twin, &certificate).unwrap();
        same(&sled, &memory, height);
        // The same refusal of a block that does not extend the tip.
        assert!(memory.commit(&twin, &certificate).is_err());
    }
}

#[test]
fn an_initialisation_cut_off_before_its_chain_id_starts_over_with_nothing_left() {
    let first = Fixture::new(3, 40);
    let second = Fixture::new(2, 5);
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &first.genesis).unwrap());
    // As if the process died after the state batches and before the last
    // one: state entries on disk, no chain id.
    {
        let db = sled::open(clearhouse_ledger::store::state_dir(dir.path())).unwrap();
        let tree = db.open_tree(clearhouse_ledger::store::keys::TREE).unwrap();
        tree.remove(clearhouse_ledger::store::keys::META_CHAIN_ID)
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), &second.genesis).unwrap();
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(fresh_dir.path(), &second.genesis).unwrap();
    assert_eq!(
        store.state_entries().unwrap(),
        fresh.state_entries().unwrap()
    );
    assert_eq!(store.state_root().unwrap(), fresh.state_root().unwrap());
    store.check_state().unwrap();
}
