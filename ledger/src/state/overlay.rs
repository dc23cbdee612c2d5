//! A decided block over the state it was executed on: the [`StateView`] of
//! the next height while the block is still being written to the store.
//!
//! A node pipelines its commits: once a height is decided, the store writes
//! the block on another thread while the next height already executes
//! against an [`Overlay`] of the decided outcome over the store. The overlay
//! answers every key, bucket and inner node the block changed from the
//! outcome, and everything else from the store underneath. A commit of
//! that block changes exactly those entries, so a read of the store
//! returns the same answer whether or not the commit has landed yet: the
//! overlay is consistent while the commit runs, and equal to the store once
//! it has.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ids::{ChainId, Hash};

use super::commitment::BucketEntry;
use super::{BlockOutcome, Decoded, StateView, Tip, ViewError};

/// A decided block's outcome, indexed for reading.
#[derive(Debug, Clone)]
pub struct Decided {
    outcome: Arc<BlockOutcome>,
    /// Index into `outcome.execution.commitment.buckets` per bucket.
    buckets: HashMap<u16, usize>,
    /// Every inner node the block changed.
    nodes: HashMap<(u8, u32), Option<Hash>>,
}

impl Decided {
    /// Indexes an outcome executed on the view it will be overlaid on.
    pub fn new(outcome: Arc<BlockOutcome>) -> Decided {
        let update = &outcome.execution.commitment;
        let buckets = update
            .buckets
            .iter()
            .enumerate()
            .map(|(index, (bucket, _))| (*bucket, index))
            .collect();
        let nodes = update.nodes.iter().copied().collect();
        Decided {
            outcome,
            buckets,
            nodes,
        }
    }

    /// The outcome.
    pub fn outcome(&self) -> &Arc<BlockOutcome> {
        &self.outcome
    }

    /// The block's height.
    pub fn height(&self) -> u64 {
        self.outcome.block.header.height
    }

    /// Whether the block holds the transaction `id`.
    pub fn contains_tx(&self, id: &Hash) -> bool {
        self.outcome.execution.tx_ids.contains(id)
    }

    /// The tip once the block is committed.
    pub fn tip(&self) -> Tip {
        Tip {
            height: self.height(),
            block_hash: self.outcome.block_hash,
        }
    }
}

/// The state after a decided block: the block's writes and commitment over
/// `base`, the state it was executed on (see the module docs).
#[derive(Clone, Copy)]
pub struct Overlay<'a> {
    base: &'a dyn StateView,
    decided: Option<&'a Decided>,
}

impl<'a> Overlay<'a> {
    /// `decided` over `base`; with `None`, `base` itself.
    pub fn new(base: &'a dyn StateView, decided: Option<&'a Decided>) -> Overlay<'a> {
        Overlay { base, decided }
    }
}

impl StateView for Overlay<'_> {
    fn chain_id(&self) -> ChainId {
        self.base.chain_id()
    }

    fn tip(&self) -> Result<Tip, ViewError> {
        match self.decided {
            Some(decided) => Ok(decided.tip()),
            None => self.base.tip(),
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError> {
        if let Some(decided) = self.decided
            && let Some(written) = decided.outcome.execution.writes.get(key)
        {
            return Ok(written.clone());
        }
        self.base.get(key)
    }

    fn bucket(&self, bucket: u16) -> Result<Vec<BucketEntry>, ViewError> {
        if let Some(decided) = self.decided
            && let Some(&index) = decided.buckets.get(&bucket)
            && let Some((_, entries)) = decided.outcome.execution.commitment.buckets.get(index)
        {
            return Ok(entries.clone());
        }
        self.base.bucket(bucket)
    }

    fn node(&self, level: u8, index: u32) -> Result<Option<Hash>, ViewError> {
        if let Some(decided) = self.decided
            && let Some(node) = decided.nodes.get(&(level, index))
        {
            return Ok(*node);
        }
        self.base.node(level, index)
    }

    fn decoded(&self, key: &[u8]) -> Option<Decoded> {
        if let Some(decided) = self.decided {
            let execution = &decided.outcome.execution;
            if let Some(decoded) = execution.decoded.get(key) {
                return Some(decoded.clone());
            }
            // Written without a decoded copy (removed): what `base` holds
            // is the old value.
            if execution.writes.contains_key(key) {
                return None;
            }
        }
        self.base.decoded(key)
    }
}
