//! Store soak: commits `--payments N` transfers in blocks of `--block B`
//! over `--accounts A` accounts (account i pays account i + 1, a ring, so
//! balances stay put and the chain can run for as long as asked) on a store
//! in a temporary folder with its production layout, and prints one JSON
//! line every `--every K` payments: the payments so far, the process's
//! resident memory, the store's size on disk and the ledger's own work per
//! payment over the last step (executing the block and committing it;
//! signing the payments is the load generator's, not counted, and
//! signatures are not checked: a node checks them before a block reaches
//! the ledger). Memory that grows with `payments` rather than with
//! `accounts` is a leak of chain history into memory.
//!
//! With `--keep K` the store prunes, keeping at least the latest K blocks
//! (the disk figure then stays bounded). With `--snapshot 1` it then takes a snapshot of the store and starts a
//! second store from it, printing how long each step took (what a new node
//! spends before it can serve, besides downloading the file).
//!
//! ```text
//! cargo run --release -p clearhouse-ledger --example store_soak -- \
//!     --payments 3000000 --accounts 100000 [--keep 1000] [--snapshot 1]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use std::time::{Duration, Instant};

use clearhouse_ledger::state::{Signatures, propose_block};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::testing::Fixture;
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{Amount, Body, Transaction};

struct Args {
    payments: u64,
    accounts: usize,
    block: usize,
    every: u64,
    snapshot: bool,
    keep: Option<u64>,
}

fn args() -> Args {
    let mut args = Args {
        payments: 3_000_000,
        accounts: 1_000,
        block: 2_000,
        every: 500_000,
        snapshot: false,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--payments" => args.payments = value,
            "--accounts" => args.accounts = usize::try_from(value).unwrap(),
            "--block" => args.block = usize::try_from(value).unwrap(),
            "--every" => args.every = value,
            "--snapshot" => args.snapshot = value != 0,
            "--keep" => args.keep = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(args.accounts >= 2 && args.block >= 1);
    args
}

fn main() {
    let args = args();
    let f = Fixture::new(4, args.accounts);
    let rss_fixture = rss_kib();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        &f.genesis,
        clearhouse_ledger::store::StoreConfig {
            keep_blocks: args.keep,
            ..Default::default()
        },
    )
    .unwrap();
    // What the load generator holds (keys, genesis) and what the store holds
    // after writing the genesis state: the baseline of every line after.
    println!(
        "{{\"accounts\":{},\"rss_mib_fixture\":{:.1},\"rss_mib_open\":{:.1}}}",
        args.accounts,
        rss_fixture as f64 / 1024.0,
        rss_kib() as f64 / 1024.0,
    );
    let proposer = ValidatorKey(f.validators[0].account().0);
    let chain_id = f.chain_id();
    // EUR moves free in the fixture: the ring can run forever.
    let asset = f.asset(2);
    let mut nonces = vec![0u64; args.accounts];
    let mut next_sender = 0usize;
    let mut done = 0u64;
    let mut height = 0u64;
    let mut step_work = Duration::ZERO;
    let mut step_payments = 0u64;
    let mut next_report = args.every;
    let started = Instant::now();
    while done < args.payments {
        let n = usize::try_from((args.payments - done).min(args.block as u64)).unwrap();
        // At most one payment per sender per block: the nonces follow.
        let n = n.min(args.accounts);
        let txs: Vec<_> = (0..n)
            .map(|_| {
                let i = next_sender;
                next_sender = (next_sender + 1) % args.accounts;
                let sender = &f.accounts[i];
                let nonce = nonces[i];
                nonces[i] += 1;
                Transaction {
                    chain_id,
                    sender: sender.account(),
                    nonce,
                    fee: Amount(u128::MAX),
                    expiry_height: u64::MAX,
                    body: Body::Transfer {
                        to: f.accounts[(i + 1) % args.accounts].account(),
                        asset: asset.clone(),
                        amount: Amount(1),
                    },
                }
                .sign(sender)
                .unwrap()
            })
            .collect();
        height += 1;
        let work = Instant::now();
        let outcome = propose_block(
            &store,
            txs,
            proposer,
            1_763_700_000_000 + height * 1000,
            Signatures::AlreadyVerified,
        )
        .unwrap();
        step_work += work.elapsed();
        assert_eq!(outcome.execution.receipts.len(), n, "a payment was refused");
        // Certifying is the load generator's (it signs votes).
        let certificate = f.certify(&outcome);
        let work = Instant::now();
        store.commit(&outcome, &certificate).unwrap();
        step_work += work.elapsed();
        done += n as u64;
        step_payments += n as u64;
        if done >= next_report || done == args.payments {
            next_report += args.every;
            println!(
                "{{\"payments\":{done},\"height\":{height},\"rss_mib\":{:.1},\"disk_mib\":{:.1},\"segments\":{},\"first_height\":{},\"us_per_payment\":{:.1},\"wall_s\":{:.1}}}",
                rss_kib() as f64 / 1024.0,
                disk_bytes(dir.path()) as f64 / (1024.0 * 1024.0),
                store.segment_count(),
                store.first_height(),
                step_work.as_secs_f64() * 1e6 / step_payments as f64,
                started.elapsed().as_secs_f64(),
            );
            step_work = Duration::ZERO;
            step_payments = 0;
        }
    }
    if args.snapshot {
        snapshot_figures(&f, &store);
    }
    let audit = store.supply_audit().unwrap();
    for (asset, (sum, supply)) in audit {
        assert_eq!(sum, supply, "{asset} not conserved");
    }
}

/// Takes a snapshot of `store`, writes it to a file, reads and verifies it
/// and starts a second store from it, timing each step.
fn snapshot_figures(f: &Fixture, store: &Store) {
    use clearhouse_ledger::store::StoreConfig;
    use clearhouse_ledger::store::snapshot::Snapshot;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tip.chsnap");
    let t = Instant::now();
    let snapshot = store.snapshot().unwrap();
    let take = t.elapsed();
    let t = Instant::now();
    snapshot
        .write_to(std::fs::File::create(&file).unwrap())
        .unwrap();
    let write = t.elapsed();
    drop(snapshot);
    let t = Instant::now();
    let read = Snapshot::read_from(std::fs::File::open(&file).unwrap()).unwrap();
    let read_time = t.elapsed();
    let t = Instant::now();
    read.verify(&f.genesis).unwrap();
    let verify = t.elapsed();
    let t = Instant::now();
    let imported = Store::import(
        &dir.path().join("store"),
        &f.genesis,
        &read,
        StoreConfig::default(),
    )
    .unwrap();
    let import = t.elapsed();
    assert_eq!(imported.state_root().unwrap(), store.state_root().unwrap());
    drop(imported);
    let t = Instant::now();
    let reopened = Store::open(&dir.path().join("store"), &f.genesis).unwrap();
    let reopen = t.elapsed();
    println!(
        "{{\"snapshot_height\":{},\"entries\":{},\"bytes_mib\":{:.1},\"take_s\":{:.2},\"write_s\":{:.2},\"read_s\":{:.2},\"verify_s\":{:.2},\"import_s\":{:.2},\"reopen_s\":{:.2}}}",
        read.height,
        read.entries.len(),
        std::fs::metadata(&file).unwrap().len() as f64 / (1024.0 * 1024.0),
        take.as_secs_f64(),
        write.as_secs_f64(),
        read_time.as_secs_f64(),
        verify.as_secs_f64(),
        import.as_secs_f64(),
        reopen.as_secs_f64(),
    );
    drop(reopened);
}

/// This process's resident memory in KiB (0 where `/proc` is missing).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn disk_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
