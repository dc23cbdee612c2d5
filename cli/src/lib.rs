//! The `clearhouse` command-line tool (keys, transactions, queries, audit).
//!
//! Not built yet: this crate is a placeholder in the workspace layout and exports
//! nothing. The CLI issue fills it in.
