//! The decoded state entries a store keeps beside their bytes, so that
//! execution reads accounts, assets and escrows without decoding them.
//!
//! Bounded by two generations: entries go into the current one; when it
//! holds half the bound it becomes the previous one (the old previous one
//! is dropped). A block re-inserts every entry it read or wrote, so what
//! blocks keep touching stays, and what they stopped touching ages out.
//! Every write of a block replaces or removes its key in both, in the same
//! critical section as the bytes, so the cache never answers a value other
//! than decoding the bytes would.

use std::collections::{BTreeMap, HashMap};

use crate::state::Decoded;

/// Decoded entries, at most a bound of them.
#[derive(Debug)]
pub(super) struct DecodedCache {
    current: HashMap<Vec<u8>, Decoded>,
    previous: HashMap<Vec<u8>, Decoded>,
    /// Entries a generation holds before it ages.
    generation: usize,
}

impl DecodedCache {
    /// A cache of at most `entries` entries (0: none kept).
    pub(super) fn new(entries: usize) -> DecodedCache {
        DecodedCache {
            current: HashMap::new(),
            previous: HashMap::new(),
            generation: entries / 2,
        }
    }

    /// The decoded value under `key`, if kept.
    pub(super) fn get(&self, key: &[u8]) -> Option<Decoded> {
        self.current
            .get(key)
            .or_else(|| self.previous.get(key))
            .cloned()
    }

    /// Follows a block: every key it wrote takes its decoded value or
    /// leaves the cache; every entry it read is kept fresh.
    pub(super) fn follow(
        &mut self,
        writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        decoded: &BTreeMap<Vec<u8>, Decoded>,
    ) {
        for key in writes.keys() {
            if !decoded.contains_key(key) {
                self.current.remove(key);
                self.previous.remove(key);
            }
        }
        if self.generation == 0 {
            return;
        }
        for (key, value) in decoded {
            // Most keys are in the current generation: replaced in place,
            // without a new key.
            if let Some(slot) = self.current.get_mut(key) {
                *slot = value.clone();
                continue;
            }
            if self.current.len() >= self.generation {
                self.previous = std::mem::take(&mut self.current);
            }
            // The older copy, if any, is stale or equal: drop it so a
            // lookup never finds it after this one ages out.
            self.previous.remove(key);
            self.current.insert(key.clone(), value.clone());
        }
    }

    /// How many entries it holds.
    pub(super) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}
