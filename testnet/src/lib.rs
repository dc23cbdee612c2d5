//! Local multi-validator networks on loopback (genesis, launch, load, faults).
//!
//! Not built yet: this crate is a placeholder in the workspace layout and exports
//! nothing. The node issue fills it in with `clearhouse-testnet up`.
