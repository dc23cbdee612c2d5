//! `audit verify` against exported chains: a valid chain passes; each kind
//! of tampering is detected at the right height.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clearhouse_cli::audit::{AuditError, ChainSource, ExportWriter, verify};
use clearhouse_ledger::certificate::{CommitCertificate, CommitVote};
use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::testing::{Fixture, key};
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{Block, codec};

/// A chain of `blocks` blocks of `per_block` transfers (distinct senders
/// per block), with certificates by every validator.
fn build_chain(f: &Fixture, blocks: u64, per_block: usize) -> Vec<(Block, CommitCertificate)> {
    let mut state: MemoryState = f.genesis.memory_state().unwrap();
    let mut chain = Vec::new();
    for height in 1..=blocks {
        let txs = (0..per_block)
            .map(|i| {
                let from = &f.accounts[i % f.accounts.len()];
                let to = f.accounts[(i + 1) % f.accounts.len()].account();
                f.transfer(from, height - 1, to, i % 2, 10 + u128::from(height))
            })
            .collect();
        let outcome = f.propose(&state, txs);
        let certificate = f.certify(&outcome);
        state.commit(&outcome);
        chain.push((outcome.block, certificate));
    }
    chain
}

fn write(dir: &Path, name: &str, f: &Fixture, chain: &[(Block, CommitCertificate)]) -> PathBuf {
    let path = dir.join(name);
    let mut writer = ExportWriter::create(&path, &f.chain_id()).unwrap();
    for (block, certificate) in chain {
        writer
            .push(
                &block.encode().unwrap(),
                &codec::encode(certificate).unwrap(),
            )
            .unwrap();
    }
    writer.finish().unwrap();
    path
}

fn audit(f: &Fixture, path: &Path) -> Result<clearhouse_cli::audit::Summary, AuditError> {
    verify(
        &f.genesis,
        &ChainSource::File(path.to_path_buf()),
        &mut |_, _| {},
    )
}

fn expect_failure_at(f: &Fixture, path: &Path, height: u64, contains: &str) {
    match audit(f, path) {
        Err(AuditError::Failed {
            height: found,
            what,
        }) => {
            assert_eq!(found, height, "{what}");
            assert!(what.contains(contains), "expected {contains:?} in {what:?}");
        }
        other => panic!("tampering not detected: {other:?}"),
    }
}

fn recertify(f: &Fixture, block: &Block) -> CommitCertificate {
    let keys: Vec<&Keypair> = f.validators.iter().collect();
    CommitCertificate::sign(
        &f.chain_id(),
        block.header.height,
        0,
        block.hash().unwrap(),
        &keys,
    )
}

#[test]
fn a_valid_export_verifies_completely() {
    let f = Fixture::new(4, 8);
    let chain = build_chain(&f, 6, 8);
    let dir = tempfile::tempdir().unwrap();
    let summary = audit(&f, &write(dir.path(), "good", &f, &chain)).unwrap();
    assert_eq!(
        (summary.blocks, summary.transactions, summary.validators),
        (6, 48, 4)
    );
    assert_eq!(
        summary.state_root,
        chain.last().unwrap().0.header.state_root
    );
}

#[test]
fn every_kind_of_tampering_is_caught_at_its_height() {
    let f = Fixture::new(4, 8);
    let chain = build_chain(&f, 6, 8);
    let dir = tempfile::tempdir().unwrap();
    let at = 4usize; // tamper with height 4 (index 3)
    let h = at as u64;

    // One changed byte in a transaction: its signature no longer verifies.
    let mut c = chain.clone();
    c[at - 1].0.transactions[2].tx.nonce ^= 1;
    expect_failure_at(&f, &write(dir.path(), "tx", &f, &c), h, "transaction 2");

    // One changed byte in a signature.
    let mut c = chain.clone();
    c[at - 1].0.transactions[0].signature.0[17] ^= 1;
    expect_failure_at(&f, &write(dir.path(), "sig", &f, &c), h, "transaction 0");

    // One changed byte in a certificate vote.
    let mut c = chain.clone();
    c[at - 1].1.votes[1].signature.0[3] ^= 1;
    expect_failure_at(&f, &write(dir.path(), "vote", &f, &c), h, "certificate");

    // A changed state root in a header: the certificate no longer names it...
    let mut c = chain.clone();
    c[at - 1].0.header.state_root.0[0] ^= 1;
    expect_failure_at(&f, &write(dir.path(), "root", &f, &c), h, "certificate");
    // ...and even re-certified by every validator, re-execution disagrees.
    let mut c = chain.clone();
    c[at - 1].0.header.state_root.0[0] ^= 1;
    c[at - 1].1 = recertify(&f, &c[at - 1].0);
    expect_failure_at(&f, &write(dir.path(), "root2", &f, &c), h, "state root");

    // A missing block.
    let mut c = chain.clone();
    c.remove(at - 1);
    expect_failure_at(
        &f,
        &write(dir.path(), "missing", &f, &c),
        h,
        "missing or reordered",
    );

    // Two blocks swapped.
    let mut c = chain.clone();
    c.swap(at - 1, at);
    expect_failure_at(
        &f,
        &write(dir.path(), "swapped", &f, &c),
        h,
        "missing or reordered",
    );

    // A certificate with a vote from a non-validator instead of a validator's.
    let mut c = chain.clone();
    let stranger = key("stranger");
    let bytes = clearhouse_ledger::certificate::vote_signing_bytes(
        clearhouse_ledger::certificate::VoteKind::Precommit,
        &f.chain_id(),
        h,
        0,
        Some(&c[at - 1].0.hash().unwrap()),
    );
    c[at - 1].1.votes[0] = CommitVote {
        validator: ValidatorKey(stranger.account().0),
        signature: stranger.sign(&bytes),
    };
    expect_failure_at(
        &f,
        &write(dir.path(), "stranger", &f, &c),
        h,
        "not in the validator set",
    );

    // A certificate padded to a quorum with a duplicated vote.
    let mut c = chain.clone();
    c[at - 1].1.votes.truncate(2);
    let again = c[at - 1].1.votes[0].clone();
    c[at - 1].1.votes.push(again);
    expect_failure_at(&f, &write(dir.path(), "duplicate", &f, &c), h, "two votes");

    // A certificate short of a quorum.
    let mut c = chain.clone();
    c[at - 1].1.votes.truncate(2);
    expect_failure_at(&f, &write(dir.path(), "short", &f, &c), h, "two thirds");

    // A truncated file ends inside a block.
    let good = write(dir.path(), "good", &f, &chain);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    expect_failure_at(&f, &truncated, 6, "ends inside");

    // An export of another chain is refused before any block.
    let other = Fixture::new(3, 8);
    assert!(matches!(audit(&other, &good), Err(AuditError::Source(_))));
}

#[test]
fn a_copied_data_folder_verifies_completely() {
    let f = Fixture::new(4, 8);
    let chain = build_chain(&f, 4, 8);
    let dir = tempfile::tempdir().unwrap();
    {
        // A node's data folder: its store lives in `store/`.
        let store =
            clearhouse_ledger::store::Store::open(&dir.path().join("store"), &f.genesis).unwrap();
        for (block, certificate) in &chain {
            let outcome = clearhouse_ledger::state::apply_block(
                &store,
                block,
                clearhouse_ledger::state::Signatures::Verify,
            )
            .unwrap();
            store.commit(&outcome, certificate).unwrap();
        }
    }
    let summary = verify(
        &f.genesis,
        &ChainSource::DataDir(dir.path().to_path_buf()),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!((summary.blocks, summary.transactions), (4, 32));
    assert_eq!(
        summary.state_root,
        chain.last().unwrap().0.header.state_root
    );
}

/// A figure for the note: `audit verify` throughput on a chain of at least
/// 10,000 transactions.
/// `cargo test --release -p clearhouse --test it audit_throughput -- --ignored --nocapture`
#[test]
#[ignore = "a measurement; run on demand"]
fn audit_throughput() {
    let f = Fixture::new(4, 500);
    let chain = build_chain(&f, 40, 500);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "chain", &f, &chain);
    let started = Instant::now();
    let summary = audit(&f, &path).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "audit verify: {} blocks, {} transactions in {seconds:.2}s: {:.0} blocks/s, {:.0} transactions/s",
        summary.blocks,
        summary.transactions,
        summary.blocks as f64 / seconds,
        summary.transactions as f64 / seconds
    );
}

/// A chain of `blocks` blocks (a transfer each) into which governance
/// admits a fifth bank of power 10: proposed and voted through in block 1,
/// in effect from block 11, so block 11 records the new set from 12.
/// Every block is certified by validators 0 to 3 (40 of 40, then 40 of
/// 50: a quorum of either set; validators 1 to 3 alone hold 30, a quorum
/// of the first set only).
fn build_governed_chain(f: &Fixture, blocks: u64) -> Vec<(Block, CommitCertificate)> {
    use clearhouse_ledger::Body;
    use clearhouse_ledger::state::governance::{Action, NewMember};
    let mut state: MemoryState = f.genesis.memory_state().unwrap();
    let mut chain = Vec::new();
    for height in 1..=blocks {
        let from = &f.accounts[0];
        let to = f.accounts[1].account();
        let mut txs = vec![f.transfer(from, height - 1, to, 0, 10 + u128::from(height))];
        if height == 1 {
            let propose = f.sign(
                &Fixture::governor(0),
                0,
                Body::Propose {
                    action: Action::AddMember(NewMember {
                        id: clearhouse_ledger::MemberId::new("bank-4").unwrap(),
                        name: "Bank 4".into(),
                        validator_key: ValidatorKey(key("bank-4-validator").account().0),
                        network_key: key("bank-4-network").account().0,
                        voting_power: 10,
                        treasury: key("bank-4-treasury").account(),
                        governance: key("bank-4-governance").account(),
                        api_key: None,
                        sealing_key: None,
                        addresses: vec!["/ip4/127.0.0.1/tcp/7100".into()],
                    }),
                    voting_period: 100,
                },
            );
            let id = propose.id().unwrap();
            txs.push(propose);
            for bank in [1, 2] {
                txs.push(f.sign(
                    &Fixture::governor(bank),
                    0,
                    Body::Vote {
                        proposal: id,
                        approve: true,
                    },
                ));
            }
        }
        let outcome = f.propose(&state, txs);
        assert!(
            outcome
                .execution
                .receipts
                .iter()
                .all(|r| r.outcome.is_applied()),
            "block {height}: {:?}",
            outcome.execution.receipts
        );
        let certificate = f.certify(&outcome);
        state.commit(&outcome);
        chain.push((outcome.block, certificate));
    }
    chain
}

/// A certificate of block `block` by the validators `signers` only.
fn certify_by(f: &Fixture, block: &Block, signers: &[usize]) -> CommitCertificate {
    let keys: Vec<&Keypair> = signers.iter().map(|i| &f.validators[*i]).collect();
    CommitCertificate::sign(
        &f.chain_id(),
        block.header.height,
        0,
        block.hash().unwrap(),
        &keys,
    )
}

#[test]
fn each_certificate_is_checked_against_the_set_in_force_at_its_height() {
    let f = Fixture::new(4, 8);
    let chain = build_governed_chain(&f, 14);
    assert_ne!(
        chain[11].0.header.validator_set_hash, chain[10].0.header.validator_set_hash,
        "block 12 is the first certified by the new set"
    );
    let dir = tempfile::tempdir().unwrap();
    let summary = audit(&f, &write(dir.path(), "good", &f, &chain)).unwrap();
    assert_eq!(summary.blocks, 14);
    let sets: Vec<u64> = summary.sets.iter().map(|(from, _)| *from).collect();
    assert_eq!(sets, [1, 12]);
    assert_eq!(summary.sets[1].1, chain[11].0.header.validator_set_hash);

    // Validators 1 to 3 are a quorum of the genesis set (30 of 40): their
    // certificate of block 11 passes, the set still being in force...
    let mut c = chain.clone();
    c[10].1 = certify_by(&f, &c[10].0, &[1, 2, 3]);
    assert!(audit(&f, &write(dir.path(), "old-at-11", &f, &c)).is_ok());
    // ...but not of block 12: under the set in force there they hold 30
    // of 50, and the refusal names that set.
    let mut c = chain.clone();
    c[11].1 = certify_by(&f, &c[11].0, &[1, 2, 3]);
    expect_failure_at(
        &f,
        &write(dir.path(), "old-at-12", &f, &c),
        12,
        "in force from height 12",
    );
}

/// The node's answers for a proof of block `height`'s first transaction
/// and its validator-set changes, built from `chain` as a node would.
fn proof_answers(
    chain: &[(Block, CommitCertificate)],
    height: u64,
    state: &MemoryState,
) -> (
    clearhouse_node::api::dto::TransactionProof,
    Vec<clearhouse_node::api::dto::ValidatorSetChange>,
) {
    use clearhouse_ledger::state::{StateKey, read};
    use clearhouse_ledger::validators::ValidatorSet;
    use clearhouse_node::api::dto;
    let (block, certificate) = &chain[usize::try_from(height).unwrap() - 1];
    let ids: Vec<_> = block
        .transactions
        .iter()
        .map(|tx| tx.id().unwrap())
        .collect();
    let receipt = clearhouse_ledger::state::Receipt {
        tx_id: ids[0],
        outcome: clearhouse_ledger::state::Outcome::Applied {
            fee: clearhouse_ledger::Amount::ZERO,
        },
    };
    let proof = dto::TransactionProof {
        height,
        index: 0,
        transaction: hex::encode(block.transactions[0].encode().unwrap()),
        header: hex::encode(codec::encode(&block.header).unwrap()),
        certificate: hex::encode(codec::encode(certificate).unwrap()),
        receipt: dto::Receipt::new(&receipt),
        proof: dto::MerklePath::new(&clearhouse_ledger::merkle::prove(&ids, 0).unwrap()),
    };
    let mut changes = Vec::new();
    let mut previous: Option<ValidatorSet> = None;
    for from in 1..=u64::try_from(chain.len()).unwrap() + 1 {
        let Some(set) = read::<ValidatorSet>(state, &StateKey::ValidatorSetFrom(from)).unwrap()
        else {
            continue;
        };
        let handover = (from > 1).then(|| {
            let (block, certificate) = &chain[usize::try_from(from).unwrap() - 2];
            dto::SetHandover {
                header: hex::encode(codec::encode(&block.header).unwrap()),
                certificate: hex::encode(codec::encode(certificate).unwrap()),
            }
        });
        changes
            .push(dto::ValidatorSetChange::new(from, &set, previous.as_ref(), handover).unwrap());
        previous = Some(set);
    }
    (proof, changes)
}

#[test]
fn a_proof_is_checked_against_the_set_reached_from_genesis_through_the_handovers() {
    use clearhouse_cli::audit::check_proof;
    let f = Fixture::new(4, 8);
    let chain = build_governed_chain(&f, 14);
    let mut state: MemoryState = f.genesis.memory_state().unwrap();
    for (block, _) in &chain {
        let outcome = clearhouse_ledger::state::apply_block(
            &state,
            block,
            clearhouse_ledger::state::Signatures::Verify,
        )
        .unwrap();
        state.commit(&outcome);
    }
    let (proof, changes) = proof_answers(&chain, 13, &state);
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1].from_height, 12);
    assert_eq!(changes[1].joined[0].member, "bank-4");
    assert!(changes[1].left.is_empty() && changes[1].power_changed.is_empty());
    let tx = chain[12].0.transactions[0].id().unwrap();
    let report = check_proof(&f.genesis, &proof, &changes, &tx).unwrap();
    assert_eq!(report.set_from, 12);
    assert_eq!(report.set_hash, chain[12].0.header.validator_set_hash);
    // Before the change, the genesis set.
    let (early, _) = proof_answers(&chain, 5, &state);
    let early_tx = chain[4].0.transactions[0].id().unwrap();
    assert_eq!(
        check_proof(&f.genesis, &early, &changes, &early_tx)
            .unwrap()
            .set_from,
        1
    );

    // A node hiding the change: the header names a set the walk never
    // reached.
    let hidden = check_proof(&f.genesis, &proof, &changes[..1], &tx).unwrap_err();
    assert!(
        hidden.to_string().contains("names validator set"),
        "{hidden}"
    );
    // A certificate by validators 1 to 3 alone: a quorum of the genesis
    // set, not of the set in force at 13.
    let mut short = chain.clone();
    short[12].1 = certify_by(&f, &short[12].0, &[1, 2, 3]);
    let (weak, _) = proof_answers(&short, 13, &state);
    let refused = check_proof(&f.genesis, &weak, &changes, &tx).unwrap_err();
    assert!(
        refused.to_string().contains("in force from height 12"),
        "{refused}"
    );
    // A handover whose certificate the old set did not give.
    let mut forged = changes.clone();
    let mut bad = short.clone();
    bad[10].1 = certify_by(&f, &bad[10].0, &[1, 2]);
    forged[1].handover.as_mut().unwrap().certificate =
        hex::encode(codec::encode(&bad[10].1).unwrap());
    let refused = check_proof(&f.genesis, &proof, &forged, &tx).unwrap_err();
    assert!(refused.to_string().contains("handover"), "{refused}");
}
