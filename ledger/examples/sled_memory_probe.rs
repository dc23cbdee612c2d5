//! Memory probe for sled alone: writes `blocks` batches of 1,000 random
//! 33-byte keys with 13-byte values (the transaction index's shape) into
//! one sled tree with a given page cache (bytes; default the store's
//! [`SLED_CACHE_BYTES`]), flushing after each batch as the store does, and
//! prints the process' resident memory and the size on disk every 100
//! batches, then once more after closing the database:
//!
//! ```text
//! cargo run --release -p clearhouse-ledger --example sled_memory_probe -- 1000 1048576
//! ```
//!
//! On sled 0.34.7 resident memory grows with what was written whatever the
//! cache is set to, and a smaller cache makes it larger, not smaller. On
//! this machine, after 1,000,000 keys (about 200 MiB on disk): 259 MiB
//! resident with the store's 64 MiB cache, 1,319 MiB with a 1 MiB cache.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use clearhouse_ledger::crypto::sha256;
use clearhouse_ledger::store::SLED_CACHE_BYTES;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let cache: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(SLED_CACHE_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(cache)
        .open()
        .unwrap();
    let tree = db.open_tree("probe").unwrap();
    for block in 0..blocks {
        let mut batch = sled::Batch::default();
        for i in 0..1000u64 {
            let id = sha256(&[&(block * 1000 + i).to_be_bytes()]);
            let mut key = vec![b't'];
            key.extend_from_slice(&id.0);
            batch.insert(key, vec![7u8; 13]);
        }
        tree.apply_batch(batch).unwrap();
        db.flush().unwrap();
        if (block + 1) % 100 == 0 {
            println!(
                "{} keys: resident {} MiB, on disk {} MiB (cache {} MiB)",
                (block + 1) * 1000,
                resident_kib() / 1024,
                db.size_on_disk().unwrap() / (1024 * 1024),
                cache / (1024 * 1024)
            );
        }
    }
    drop(tree);
    drop(db);
    println!("closed: resident {} MiB", resident_kib() / 1024);
}
