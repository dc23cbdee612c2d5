//! The validator/observer process (libp2p, mempool, consensus driver, sync, HTTP API).
//!
//! Not built yet: this crate is a placeholder in the workspace layout and exports
//! nothing. The node issue fills it in; until then no binary claims to run a node.
