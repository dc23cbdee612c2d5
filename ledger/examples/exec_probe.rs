//! Instruction-count probe: executes one block of N preverified transfers
//! on a memory state. Instruction counts do not depend on what else the
//! machine is doing, so this compares executor changes on a busy machine:
//!
//! ```text
//! cargo build --release -p clearhouse-ledger --example exec_probe
//! valgrind --tool=callgrind --toggle-collect='*propose_block*' \
//!     target/release/examples/exec_probe 2000
//! ```
//!
//! An optional second argument repeats the execution (on the same state)
//! and prints the fastest run, for wall-time comparisons on the real CPU.
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
    let repeat: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let proposer = ValidatorKey(f.validators[0].account().0);
    let mut fastest = std::time::Duration::MAX;
    let mut receipts = 0;
    for _ in 0..repeat {
        let txs = txs.clone();
        let started = std::time::Instant::now();
        let outcome = propose_block(&state, txs, proposer, 1, Signatures::AlreadyVerified).unwrap();
        fastest = fastest.min(started.elapsed());
        receipts = outcome.execution.receipts.len();
    }
    println!("{receipts} receipts in {fastest:?} (fastest of {repeat})");
}
