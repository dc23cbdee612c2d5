//! The shared test chain lives in `clearhouse_ledger::testing`.

pub use clearhouse_ledger::testing::*;
