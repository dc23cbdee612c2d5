//! Ledger benchmarks: `cargo bench -p clearhouse-ledger`.
//!
//! - `verify/strict_single`: one transaction's `verify_strict` (what every
//!   validator pays per payment).
//! - `verify/dalek_verify_strict_raw`: the library call alone, for scale.
//! - `verify/batch_64`: dalek's randomized batch verification of 64
//!   signatures, for comparison only (it is not what the ledger uses).
//! - `verify/ledger_batch_64`: `SignedTransaction::verify_batch` of 64
//!   transactions (what the nodes use: exactly `verify_strict`'s verdicts,
//!   one field inversion per batch, see `crypto::KeyCache::verify_batch`);
//!   compare its per-element time with `strict_single`.
//! - `apply_commit/N`: apply a block of N transfers between distinct accounts
//!   on a sled store and commit it (transaction, then flush), with signature
//!   checks (`verify`) and without (`preverified`, as when the mempool already
//!   checked them). Signing happens in setup and is not measured.
//! - `commit/2000`: `Store::commit` alone for a block of 2000 transfers on a
//!   fresh store (execution happens in setup): the consensus critical path's
//!   share of the store. `examples/commit_probe.rs` counts its instructions.
//! - `sealed/seal_4`, `sealed/open`: sealing a payment's data for four
//!   recipients (the payer's client) and opening it (each recipient's node,
//!   once when it indexes the block and once per API read).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use clearhouse_ledger::crypto::{Keypair, sha256};
use clearhouse_ledger::genesis::{
    AccountEntry, AssetEntry, FeeEntry, Genesis, GenesisFile, MemberEntry,
};
use clearhouse_ledger::state::{BlockOutcome, Signatures, apply_block, propose_block};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{
    Amount, AssetCode, Body, CommitCertificate, SignedTransaction, Transaction,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn key(label: &str) -> Keypair {
    Keypair::from_seed(&sha256(&[b"bench", label.as_bytes()]).0)
}

struct Chain {
    genesis: Genesis,
    validators: Vec<Keypair>,
    accounts: Vec<Keypair>,
}

fn chain(accounts: usize) -> Chain {
    let validators: Vec<Keypair> = (0..4).map(|i| key(&format!("validator-{i}"))).collect();
    let customers: Vec<Keypair> = (0..accounts)
        .map(|i| key(&format!("account-{i}")))
        .collect();
    let file = GenesisFile {
        chain_name: "bench".into(),
        genesis_time_ms: 0,
        members: (0..4)
            .map(|i| MemberEntry {
                id: format!("bank-{i}"),
                name: format!("Bank {i}"),
                validator_key: validators[i].account().to_hex(),
                network_key: key(&format!("net-{i}")).account().to_hex(),
                voting_power: 1,
                treasury: key(&format!("treasury-{i}")).account().to_hex(),
                governance_key: key(&format!("governance-{i}")).account().to_hex(),
                addresses: Vec::new(),
                api_key: None,
                sealing_key: None,
            })
            .collect(),
        assets: vec![AssetEntry {
            code: "CNY".into(),
            issuer: "bank-0".into(),
            decimals: 2,
        }],
        accounts: customers
            .iter()
            .enumerate()
            .map(|(i, k)| AccountEntry {
                key: k.account().to_hex(),
                bank: format!("bank-{}", i % 4),
                balances: [("CNY".to_owned(), "1000000.00".to_owned())].into(),
            })
            .collect(),
        fees: vec![FeeEntry {
            asset: "CNY".into(),
            flat: "0.01".into(),
            basis_points: 5,
            receiving_share: 0,
        }],
        escrow: None,
        credit: None,
        auditors: Vec::new(),
        regulators: Vec::new(),
        governance: None,
    };
    Chain {
        genesis: file.validate().unwrap(),
        validators,
        accounts: customers,
    }
}

/// `n` signed transfers: account i pays account i + n.
fn transfers(chain: &Chain, n: usize) -> Vec<SignedTransaction> {
    let chain_id = chain.genesis.chain_id().unwrap();
    (0..n)
        .map(|i| {
            let from = &chain.accounts[i];
            Transaction {
                chain_id,
                sender: from.account(),
                nonce: 0,
                fee: Amount(1_000),
                expiry_height: 100,
                body: Body::Transfer {
                    to: chain.accounts[i + n].account(),
                    asset: AssetCode::new("CNY").unwrap(),
                    amount: Amount(12_345),
                },
            }
            .sign(from)
            .unwrap()
        })
        .collect()
}

fn bench_verify(c: &mut Criterion) {
    let chain = chain(128);
    let txs = transfers(&chain, 64);
    let chain_id = chain.genesis.chain_id().unwrap();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("strict_single", |b| {
        b.iter(|| black_box(&txs[0]).verify(&chain_id).unwrap())
    });
    let messages: Vec<Vec<u8>> = txs.iter().map(|t| t.tx.signing_bytes().unwrap()).collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<ed25519_dalek::Signature> = txs
        .iter()
        .map(|t| ed25519_dalek::Signature::from_bytes(&t.signature.0))
        .collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = txs
        .iter()
        .map(|t| ed25519_dalek::VerifyingKey::from_bytes(&t.tx.sender.0).unwrap())
        .collect();
    // The library call alone, on prepared bytes and a decompressed key: the
    // difference to `strict_single` is our encoding and key decompression.
    group.bench_function("dalek_verify_strict_raw", |b| {
        b.iter(|| {
            keys[0]
                .verify_strict(black_box(&messages[0]), &signatures[0])
                .unwrap()
        })
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("ledger_batch_64", |b| {
        b.iter(|| {
            for verdict in SignedTransaction::verify_batch(black_box(&txs), &chain_id) {
                verdict.unwrap();
            }
        })
    });
    group.bench_function("batch_64", |b| {
        b.iter(|| ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).unwrap())
    });
    group.finish();
}

/// A block of `n` transfers at height 1 (and its roots), proposed once on a
/// scratch memory state, with a commit certificate from every validator.
fn block_of_transfers(chain: &Chain, n: usize) -> (BlockOutcome, CommitCertificate) {
    let txs = transfers(chain, n);
    let proposer = ValidatorKey(chain.validators[0].account().0);
    let memory = chain.genesis.memory_state().unwrap();
    let proposed = propose_block(&memory, txs, proposer, 1, Signatures::Verify).unwrap();
    let keys: Vec<&Keypair> = chain.validators.iter().collect();
    let certificate = CommitCertificate::sign(
        &chain.genesis.chain_id().unwrap(),
        1,
        0,
        proposed.block_hash,
        &keys,
    );
    (proposed, certificate)
}

fn bench_apply_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_commit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for n in [1_000usize, 10_000] {
        let chain = chain(2 * n);
        let (proposed, certificate) = block_of_transfers(&chain, n);
        group.throughput(Throughput::Elements(n as u64));
        for (name, signatures) in [
            ("verify", Signatures::Verify),
            ("preverified", Signatures::AlreadyVerified),
        ] {
            group.bench_function(format!("{n}/{name}"), |b| {
                b.iter_batched(
                    || {
                        let dir = tempfile::tempdir().unwrap();
                        let store = Store::open(dir.path(), &chain.genesis).unwrap();
                        (dir, store)
                    },
                    |(dir, store)| {
                        let outcome = apply_block(&store, &proposed.block, signatures).unwrap();
                        store.commit(&outcome, &certificate).unwrap();
                        (dir, store)
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

fn bench_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    let n = 2_000usize;
    let chain = chain(2 * n);
    let (proposed, certificate) = block_of_transfers(&chain, n);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("{n}"), |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(dir.path(), &chain.genesis).unwrap();
                let outcome =
                    apply_block(&store, &proposed.block, Signatures::AlreadyVerified).unwrap();
                (dir, store, outcome)
            },
            |(dir, store, outcome)| {
                store.commit(&outcome, &certificate).unwrap();
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn bench_sealed(c: &mut Criterion) {
    use clearhouse_ledger::payment::{EndToEndId, PaymentData, Remittance};
    use clearhouse_ledger::sealed::{SealedDetails, SealingContext, SealingSecret};
    let secrets: Vec<SealingSecret> = (1..=4u8)
        .map(|i| SealingSecret::from_bytes([i; 32]))
        .collect();
    let keys: Vec<_> = secrets.iter().map(SealingSecret::public).collect();
    let context = SealingContext::new(
        &clearhouse_ledger::Hash([1; 32]),
        &clearhouse_ledger::AccountId([2; 32]),
        &clearhouse_ledger::AccountId([3; 32]),
        &AssetCode::new("CNY").unwrap(),
        Amount(12_345),
    );
    let data = PaymentData {
        end_to_end_id: EndToEndId::new("INV-2026-118").unwrap(),
        remittance: Remittance::new("invoice 118, May").unwrap(),
    };
    let mut group = c.benchmark_group("sealed");
    group.bench_function("seal_4", |b| {
        b.iter(|| SealedDetails::seal(black_box(&data), &keys, &context, [9; 32]).unwrap())
    });
    let sealed = SealedDetails::seal(&data, &keys, &context, [9; 32]).unwrap();
    group.bench_function("open", |b| {
        b.iter(|| black_box(&sealed).open(&secrets[2], &context).unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_verify,
    bench_apply_commit,
    bench_commit,
    bench_sealed
);
criterion_main!(benches);
