//! An in-memory twin of the sled [`Store`](super::Store) behind the same
//! [`ChainStore`] reads and the same commit rule: what the node's engine
//! runs on in the whole-node simulator, where thousands of seeds each run
//! several validators and a sled database per validator would cost more
//! than the rest of the simulation. `tests/it/store.rs` commits one random
//! chain to both and asserts they answer every read alike after each block.
//!
//! A crash in the simulator drops the engine, not this value: a commit
//! that returned is durable, one that was not asked for did not happen,
//! exactly what sled's atomic batch gives the real node.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use crate::block::Block;
use crate::certificate::CommitCertificate;
use crate::genesis::Genesis;
use crate::ids::{ChainId, Hash};
use crate::state::commitment::{self, BucketEntry};
use crate::state::memory::MemoryState;
use crate::state::{BlockOutcome, StateKey, StateView, Tip, ViewError};

use super::{ChainStore, StoreError};

/// Blocks, certificates and state in memory.
#[derive(Debug)]
pub struct MemoryStore {
    chain_id: ChainId,
    inner: RwLock<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: MemoryState,
    blocks: BTreeMap<u64, (Block, CommitCertificate)>,
}

impl MemoryStore {
    /// A store holding the genesis state of `genesis`.
    pub fn new(genesis: &Genesis) -> Result<MemoryStore, StoreError> {
        let chain_id = genesis.chain_id()?;
        let mut state = MemoryState::empty(chain_id);
        let writes = genesis.initial_writes()?;
        let update = commitment::update(&state, &writes)?;
        state.write(&writes, &update);
        Ok(MemoryStore {
            chain_id,
            inner: RwLock::new(Inner {
                state,
                blocks: BTreeMap::new(),
            }),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits a block outcome computed on this store, with its
    /// certificate: the checks of [`Store::commit`](super::Store::commit)
    /// (the block extends the tip, the certificate names it), then the
    /// writes, all under one lock.
    pub fn commit(
        &self,
        outcome: &BlockOutcome,
        certificate: &CommitCertificate,
    ) -> Result<(), StoreError> {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let header = &outcome.block.header;
        let tip = inner.state.tip()?;
        if header.height != tip.height.saturating_add(1) || header.previous_hash != tip.block_hash {
            return Err(super::not_next(outcome, tip));
        }
        if certificate.height != header.height || certificate.block_hash != outcome.block_hash {
            return Err(StoreError::CertificateMismatch {
                cert_height: certificate.height,
                cert_hash: certificate.block_hash,
            });
        }
        inner.state.commit(outcome);
        inner
            .blocks
            .insert(header.height, (outcome.block.clone(), certificate.clone()));
        Ok(())
    }

    /// Every state entry (encoded key, encoded value), in key order.
    pub fn state_entries(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.read().state.entries().clone()
    }
}

impl StateView for MemoryStore {
    fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    fn tip(&self) -> Result<Tip, ViewError> {
        self.read().state.tip()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError> {
        self.read().state.get(key)
    }

    fn bucket(&self, bucket: u16) -> Result<Vec<BucketEntry>, ViewError> {
        self.read().state.bucket(bucket)
    }

    fn node(&self, level: u8, index: u32) -> Result<Option<Hash>, ViewError> {
        self.read().state.node(level, index)
    }
}

impl ChainStore for MemoryStore {
    fn chain_tip(&self) -> Result<Tip, StoreError> {
        Ok(self.read().state.tip()?)
    }

    fn root(&self) -> Result<Hash, StoreError> {
        Ok(self.read().state.root())
    }

    fn next_deadline(&self) -> Result<Option<u64>, StoreError> {
        let from = StateKey::Due(0).encode()?;
        let to = StateKey::Due(u64::MAX).encode()?;
        let inner = self.read();
        match inner.state.entries().range(from..=to).next() {
            None => Ok(None),
            Some((key, _)) => {
                match crate::codec::decode::<StateKey, { crate::codec::STATE_KEY_BYTES_MAX }>(key)?
                {
                    StateKey::Due(height) => Ok(Some(height)),
                    other => Err(StoreError::Corrupt(format!(
                        "{other:?} sorts among the deadlines"
                    ))),
                }
            }
        }
    }

    fn block_at(&self, height: u64) -> Result<Option<Block>, StoreError> {
        Ok(self.read().blocks.get(&height).map(|(b, _)| b.clone()))
    }

    fn certificate_at(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        Ok(self.read().blocks.get(&height).map(|(_, c)| c.clone()))
    }
}
