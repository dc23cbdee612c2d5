//! Instruction-count probe for `Store::commit`: commits `blocks` blocks of
//! `n` preverified transfers on a sled store in a temporary directory and
//! prints each commit's wall time. Execution happens outside the commit, so
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
        let started = std::time::Instant::now();
        store.commit(&outcome, &certificate).unwrap();
        let elapsed = started.elapsed();
        total += elapsed;
        println!("height {height}: {n} transfers committed in {elapsed:?}");
    }
    println!("{blocks} commits in {total:?}");
}
