//! An in-memory [`StateView`]: the reference the sled store is tested
//! against, and a scratch state for tests and simulations.

use std::collections::{BTreeMap, HashMap};

use crate::ids::{ChainId, Hash};

use super::commitment::{self, BucketEntry, Buckets, CommitmentUpdate};
use super::{BlockOutcome, StateView, Tip, ViewError};

/// State held in maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryState {
    chain_id: ChainId,
    tip: Tip,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    buckets: Buckets,
    nodes: HashMap<(u8, u32), Hash>,
}

impl MemoryState {
    /// An empty state at genesis height 0 of `chain_id`.
    pub fn empty(chain_id: ChainId) -> MemoryState {
        MemoryState {
            chain_id,
            tip: Tip {
                height: 0,
                block_hash: chain_id,
            },
            entries: BTreeMap::new(),
            buckets: Buckets::default(),
            nodes: HashMap::new(),
        }
    }

    /// Writes entries and their commitment update, without moving the tip
    /// (genesis uses this).
    pub fn write(
        &mut self,
        writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        update: &CommitmentUpdate,
    ) {
        for (key, value) in writes {
            match value {
                Some(value) => self.entries.insert(key.clone(), value.clone()),
                None => self.entries.remove(key),
            };
        }
        self.buckets.apply(update);
        for (position, hash) in &update.nodes {
            match hash {
                Some(hash) => self.nodes.insert(*position, *hash),
                None => self.nodes.remove(position),
            };
        }
    }

    /// Commits a block outcome computed on this state.
    pub fn commit(&mut self, outcome: &BlockOutcome) {
        self.write(&outcome.execution.writes, &outcome.execution.commitment);
        self.tip = Tip {
            height: outcome.block.header.height,
            block_hash: outcome.block_hash,
        };
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.entries
    }

    /// The state root.
    pub fn root(&self) -> Hash {
        self.nodes
            .get(&(0, 0))
            .copied()
            .unwrap_or_else(commitment::empty_root)
    }
}

impl StateView for MemoryState {
    fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    fn tip(&self) -> Result<Tip, ViewError> {
        Ok(self.tip)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError> {
        Ok(self.entries.get(key).cloned())
    }

    fn bucket(&self, bucket: u16) -> Result<Vec<BucketEntry>, ViewError> {
        Ok(self.buckets.get(bucket))
    }

    fn node(&self, level: u8, index: u32) -> Result<Option<Hash>, ViewError> {
        Ok(self.nodes.get(&(level, index)).copied())
    }
}
