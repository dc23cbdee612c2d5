//! Workspace-level scenarios over whole nodes on loopback.
//!
//! Empty until the node issue: there are no whole nodes to run yet. The ledger's
//! and the consensus crate's own tests live in their crates (`tests/it`).
