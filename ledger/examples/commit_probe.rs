//! Instruction-count probe for `Store::commit`: commits `blocks` blocks of
//! `n` preverified transfers on a sled store in a temporary directory and
//! prints each commit's wall time and, on Linux, the committing thread's
//! time on a CPU (from `/proc/thread-self/schedstat`, so other processes on
//! a busy machine do not count). Execution happens outside the commit, so
//! a callgrind run toggled on the commit counts the store's work alone, and
//! instruction counts do not depend on what else the machine is doing:
//!
//! ```text
//! cargo build --release -p clearhouse-ledger --example commit_probe
//! valgrind --tool=callgrind --toggle-collect='*Store::commit*' \
//!     target/release/examples/commit_probe 2000 4
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use clearhouse_ledger::state::{Signatures, propose_block};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::testing::Fixture;
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{Amount, Body, Transaction};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let f = Fixture::new(4, 2 * n);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &f.genesis).unwrap();
    let proposer = ValidatorKey(f.validators[0].account().0);
    // Signed here with the chain id computed once: `Fixture::transfer`
    // encodes the whole genesis per transaction.
    let chain_id = f.chain_id();
    let asset = f.asset(0);
    let mut total = std::time::Duration::ZERO;
    let mut total_cpu_ns = 0u64;
    for height in 1..=blocks {
        // Account i pays account i + n, one transfer per sender per block.
        let nonce = height - 1;
        let txs: Vec<_> = (0..n)
            .map(|i| {
                let sender = &f.accounts[i];
                Transaction {
                    chain_id,
                    sender: sender.account(),
                    nonce,
                    fee: Amount(u128::MAX),
                    expiry_height: u64::MAX,
                    body: Body::Transfer {
                        to: f.accounts[i + n].account(),
                        asset: asset.clone(),
                        amount: Amount(100),
                    },
                }
                .sign(sender)
                .unwrap()
            })
            .collect();
        let outcome = propose_block(
            &store,
            txs,
            proposer,
            1_763_700_000_000 + height * 1000,
            Signatures::AlreadyVerified,
        )
        .unwrap();
        let certificate = f.certify(&outcome);
        let cpu_before = thread_cpu_ns();
        let started = std::time::Instant::now();
        store.commit(&outcome, &certificate).unwrap();
        let elapsed = started.elapsed();
        let cpu_ns = thread_cpu_ns().saturating_sub(cpu_before);
        total += elapsed;
        total_cpu_ns += cpu_ns;
        println!(
            "height {height}: {n} transfers committed in {elapsed:?} ({:.1} ms on a CPU)",
            cpu_ns as f64 / 1e6
        );
    }
    println!(
        "{blocks} commits in {total:?} ({:.1} ms on a CPU)",
        total_cpu_ns as f64 / 1e6
    );
}

/// This thread's time on a CPU so far, in nanoseconds (0 where
/// `/proc/thread-self/schedstat` is missing).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
