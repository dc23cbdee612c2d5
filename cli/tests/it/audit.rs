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
