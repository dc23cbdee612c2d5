//! Instruction-count probe: executes one block of N preverified transfers
//! on a memory state. Instruction counts do not depend on what else the
//! machine is doing, so this compares executor changes on a busy machine:
//!
//! ```text
//! cargo build --release -p clearhouse-ledger --example exec_probe
//! valgrind --tool=callgrind --toggle-collect='*propose_block*' \
//!     target/release/examples/exec_probe 2000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use clearhouse_ledger::state::{Signatures, propose_block};
use clearhouse_ledger::testing::Fixture;
use clearhouse_ledger::validators::ValidatorKey;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let f = Fixture::new(4, n + 1);
    let state = f.genesis.memory_state().unwrap();
    let txs: Vec<_> = (0..n)
        .map(|i| f.transfer(&f.accounts[i], 0, f.accounts[i + 1].account(), 0, 100))
        .collect();
    let proposer = ValidatorKey(f.validators[0].account().0);
    let started = std::time::Instant::now();
    let outcome = propose_block(&state, txs, proposer, 1, Signatures::AlreadyVerified).unwrap();
    println!(
        "{} receipts in {:?}",
        outcome.execution.receipts.len(),
        started.elapsed()
    );
}
