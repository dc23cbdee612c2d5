//! The shared test chain lives in `clearhouse_ledger::testing`.

pub use clearhouse_ledger::testing::*;

/// Small everything: a segment per few blocks, the state written every 4
/// blocks, a run every 6 ids (so 8 runs, and a merge, every ~48 ids).
pub fn small_store() -> clearhouse_ledger::store::StoreConfig {
    clearhouse_ledger::store::StoreConfig {
        history: clearhouse_ledger::store::history::HistoryConfig {
            segment_bytes: 4 * 1024,
        },
        state_flush_blocks: 4,
        run_ids: 6,
        decoded_entries: 8,
        keep_blocks: None,
        sealing: None,
    }
}
