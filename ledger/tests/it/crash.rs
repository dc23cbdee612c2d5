//! SIGKILL a process that commits blocks in a loop, at seeded random moments;
//! after every kill the reopened store holds whole blocks only, every block
//! the child acknowledged as committed, and conserves every asset. The store
//! is laid out small (segments of 64 KiB, the state written every 3 blocks,
//! a transaction-index run every 50 ids) so that kills land in segment
//! rolls, run writes and merges, and reopens replay blocks. It prunes
//! segments more than 40 blocks below the tip, so kills land in prunes
//! too: the first height held only grows, and never leaves fewer blocks.
//!
//! The child is this same test binary, re-run with `CLEARHOUSE_CRASH_DIR` set
//! and the ignored test `crash::child_commits_blocks_forever` selected.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clearhouse_ledger::store::history::HistoryConfig;
use clearhouse_ledger::store::{Store, StoreConfig};

use crate::fixture::{Fixture, assert_conserved};

const KILLS: u32 = 50;
const SEED: u64 = 0x5eed_c0de;
const TXS_PER_BLOCK: usize = 40;
/// The store prunes: kills land in prunes too (a few blocks a segment).
const KEEP_BLOCKS: u64 = 40;

fn config() -> StoreConfig {
    StoreConfig {
        history: HistoryConfig {
            segment_bytes: 64 * 1024,
        },
        state_flush_blocks: 3,
        run_ids: 50,
        decoded_entries: 16,
        keep_blocks: Some(KEEP_BLOCKS),
        sealing: None,
    }
}

fn fixture() -> Fixture {
    Fixture::new(3, 12)
}

/// splitmix64: a tiny deterministic generator for kill timings.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
#[ignore = "run only as the child of sigkill_at_random_moments_leaves_whole_blocks"]
fn child_commits_blocks_forever() {
    let Ok(dir) = std::env::var("CLEARHOUSE_CRASH_DIR") else {
        return;
    };
    let f = fixture();
    let store = Store::open_with(std::path::Path::new(&dir), &f.genesis, config()).unwrap();
    loop {
        let height = store.tip().unwrap().height + 1;
        let mut rng = height;
        // Distinct senders per block keep nonces simple: one transfer each.
        let mut senders = std::collections::BTreeSet::new();
        let mut txs = Vec::new();
        for _ in 0..TXS_PER_BLOCK {
            let from = &f.accounts[(next(&mut rng) as usize) % f.accounts.len()];
            let to = f.accounts[(next(&mut rng) as usize) % f.accounts.len()].account();
            if senders.insert(from.account()) {
                let nonce = store.account(&from.account()).unwrap().unwrap().nonce;
                let amount = 1 + u128::from(height % 500);
                txs.push(f.transfer(from, nonce, to, (height % 3) as usize, amount));
            }
        }
        let outcome = f.propose(&store, txs);
        store.commit(&outcome, &f.certify(&outcome)).unwrap();
        // Acknowledge only after commit (and its flush) returned.
        println!("committed {height}");
    }
}

#[test]
fn sigkill_at_random_moments_leaves_whole_blocks() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = SEED;
    let mut acknowledged = 0u64;
    let mut last_tip = 0u64;
    let mut last_first = 1u64;
    let mut pruned = 1u64;
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "crash::child_commits_blocks_forever",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CLEARHOUSE_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill while it commits: after its first acknowledgement in this life
        // (or a deadline), then a seeded delay of up to 60 ms, which lands
        // inside a commit or an execution at random.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, receiver) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            // libtest prints its own header first, and the first
            // acknowledgement shares a line with the test's name.
            let mut output = String::new();
            let mut signalled = false;
            let mut line = String::new();
            while stdout.read_line(&mut line).unwrap_or(0) > 0 {
                if !signalled && line.contains("committed ") {
                    let _ = sender.send(());
                    signalled = true;
                }
                output.push_str(&line);
                line.clear();
            }
            output
        });
        let _ = receiver.recv_timeout(Duration::from_secs(20));
        let wait_ms = next(&mut rng) % 60;
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let output = reader.join().unwrap();
        for line in output.lines() {
            if let Some((_, height)) = line.rsplit_once("committed ") {
                acknowledged = acknowledged.max(height.trim().parse().unwrap());
            }
        }

        let store = Store::open_with(dir.path(), &f.genesis, config())
            .unwrap_or_else(|e| panic!("kill {kill} after {wait_ms} ms: reopen failed: {e}"));
        let tip = store.tip().unwrap();
        assert!(
            tip.height >= acknowledged,
            "kill {kill}: acknowledged {acknowledged} but tip is {}",
            tip.height
        );
        assert!(
            tip.height >= last_tip,
            "kill {kill}: the tip went back from {last_tip} to {}",
            tip.height
        );
        last_tip = tip.height;
        let first = store.first_height();
        assert!(first >= last_first, "kill {kill}: pruned blocks came back");
        assert!(
            tip.height + 1 - first >= KEEP_BLOCKS.min(tip.height),
            "kill {kill}: holds {first}..={}, fewer than {KEEP_BLOCKS}",
            tip.height
        );
        last_first = first;
        pruned = pruned.max(first);
        // Whole blocks only: every height held up to the tip has its
        // block, certificate and receipts; nothing lies beyond the tip.
        for height in first..=tip.height {
            let block = store.block(height).unwrap().expect("block");
            assert!(store.certificate(height).unwrap().is_some());
            let receipts = store.receipts(height).unwrap().expect("receipts");
            assert_eq!(receipts.len(), block.transactions.len());
            for tx in &block.transactions {
                assert_eq!(
                    store
                        .transaction(&tx.id().unwrap())
                        .unwrap()
                        .unwrap()
                        .height,
                    height
                );
            }
        }
        assert!(store.block(tip.height + 1).unwrap().is_none());
        assert!(store.certificate(tip.height + 1).unwrap().is_none());
        assert!(store.receipts(tip.height + 1).unwrap().is_none());
        store.check_state().unwrap();
        assert_conserved(&store.state_entries().unwrap());
    }
    assert!(
        last_tip > 0,
        "the child never committed a block: the test proved nothing"
    );
    assert!(
        pruned > 1,
        "nothing was ever pruned: the prunes went untested"
    );
    let store = Store::open_with(dir.path(), &f.genesis, config()).unwrap();
    let (runs, _) = store.index_shape();
    assert!(
        store.segment_count() > 1 && runs > 1,
        "the chain never rolled a segment ({}) or wrote runs ({runs}): the layout went untested",
        store.segment_count()
    );
    eprintln!(
        "{KILLS} kills, final height {last_tip}, acknowledged {acknowledged}, {} segments, {runs} runs",
        store.segment_count()
    );
}
