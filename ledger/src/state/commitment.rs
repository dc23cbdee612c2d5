//! The state root: a fixed-depth Merkle tree over hash buckets.
//!
//! Construction (the auditor's reference):
//! - Every state entry is a pair (key bytes, value bytes), both canonical
//!   encodings ([`super::StateKey`] and its value type). For an entry let
//!   `k = SHA-256(key)` and `v = SHA-256(value)`.
//! - The entry belongs to bucket `b = k[0] * 256 + k[1]` (its first 16 bits),
//!   one of 65,536 buckets.
//! - A bucket's hash is `SHA-256(0x02 ‖ k1 ‖ v1 ‖ k2 ‖ v2 ‖ …)` over its
//!   entries in ascending `k` order; an empty bucket hashes to `SHA-256(0x02)`.
//! - The 65,536 bucket hashes are the leaves (level 16) of a complete binary
//!   tree; an inner node at level `l < 16`, index `i` is
//!   `SHA-256(0x01 ‖ node(l+1, 2i) ‖ node(l+1, 2i+1))`. The root is node (0, 0).
//!
//! Why buckets: updating an entry rehashes one small bucket and 16 inner
//! nodes, so a block costs O(entries touched), not O(state). A proof of an
//! entry (or of its absence) is its bucket's (k, v) list plus 16 siblings.
//! Nothing of the commitment is persisted: it is derived data. The buckets
//! ([`Buckets`], 64 bytes per state entry) and the inner nodes
//! ([`CommitmentTree`], 2^16 - 1 hashes, 2 MiB) are kept in memory and
//! rebuilt from the state entries when a store opens (two hashes per
//! entry), which also re-derives the state root from the stored data.

use std::collections::{BTreeMap, HashMap};

use crate::crypto::sha256;
use crate::ids::Hash;

use super::{StateView, ViewError};

/// Depth of the tree: 2^16 buckets.
pub const BUCKET_BITS: u8 = 16;

/// One entry as the commitment sees it: (SHA-256 of key, SHA-256 of value).
pub type BucketEntry = (Hash, Hash);

/// The bucket an entry with key hash `key_hash` lives in.
pub fn bucket_of(key_hash: &Hash) -> u16 {
    u16::from_be_bytes([key_hash.0[0], key_hash.0[1]])
}

/// The hash of a bucket holding `entries` (sorted by key hash).
pub fn bucket_hash(entries: &[BucketEntry]) -> Hash {
    let mut bytes = Vec::with_capacity(1 + entries.len() * 64);
    bytes.push(0x02);
    for (key_hash, value_hash) in entries {
        bytes.extend_from_slice(&key_hash.0);
        bytes.extend_from_slice(&value_hash.0);
    }
    sha256(&[&bytes])
}

/// The hash of an inner node.
pub fn inner_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], &left.0, &right.0])
}

/// The hash of an empty subtree whose root is at `level` (16 = one bucket).
pub fn empty_hash(level: u8) -> Hash {
    let mut hash = bucket_hash(&[]);
    for _ in level..BUCKET_BITS {
        hash = inner_hash(&hash, &hash);
    }
    hash
}

/// The root of an empty state.
pub fn empty_root() -> Hash {
    empty_hash(0)
}

/// What a block did to the commitment: buckets and inner nodes to store
/// (`None` deletes a node equal to its level's empty hash), and the new root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentUpdate {
    /// New contents of every touched bucket.
    pub buckets: Vec<(u16, Vec<BucketEntry>)>,
    /// New value of every touched node, (level, index), levels 0..=16.
    pub nodes: Vec<((u8, u32), Option<Hash>)>,
    /// The new state root.
    pub root: Hash,
}

/// Computes the commitment after writing `writes` (encoded key, encoded value
/// or `None` to delete) on top of `view`.
pub fn update(
    view: &dyn StateView,
    writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Result<CommitmentUpdate, ViewError> {
    if writes.is_empty() {
        return Ok(CommitmentUpdate {
            root: root(view)?,
            ..CommitmentUpdate::default()
        });
    }
    // Every change as (bucket, key hash, new value hash), grouped per bucket
    // in key-hash order (keys are distinct, so their hashes are too).
    let mut changes: Vec<(u16, Hash, Option<Hash>)> = writes
        .iter()
        .map(|(key, value)| {
            let key_hash = sha256(&[key]);
            let value_hash = value.as_ref().map(|value| sha256(&[value]));
            (bucket_of(&key_hash), key_hash, value_hash)
        })
        .collect();
    changes.sort_unstable_by_key(|&(bucket, key_hash, _)| (bucket, key_hash));
    let empty: Vec<Hash> = (0..=BUCKET_BITS).map(empty_hash_cached).collect();
    let mut out = CommitmentUpdate::default();
    // The changed nodes of the level being hashed, in index order.
    let mut level_nodes: Vec<(u32, Hash)> = Vec::new();
    for group in changes.chunk_by(|a, b| a.0 == b.0) {
        let bucket = group[0].0;
        let mut entries = view.bucket(bucket)?;
        entries.retain(|(key_hash, _)| !group.iter().any(|change| change.1 == *key_hash));
        entries.extend(
            group
                .iter()
                .filter_map(|&(_, key_hash, value_hash)| Some((key_hash, value_hash?))),
        );
        sort_entries(&mut entries);
        let hash = bucket_hash(&entries);
        level_nodes.push((u32::from(bucket), hash));
        out.buckets.push((bucket, entries));
    }
    // Walk up the levels, recomputing the parents of changed nodes.
    let mut level = BUCKET_BITS;
    loop {
        for &(index, hash) in &level_nodes {
            let stored = (hash != empty[usize::from(level)]).then_some(hash);
            out.nodes.push(((level, index), stored));
        }
        if level == 0 {
            // With at least one write, the walk always reaches the root.
            out.root = level_nodes.first().map_or(empty[0], |&(_, hash)| hash);
            break;
        }
        let child = |index: u32, changed: Option<Hash>| -> Result<Hash, ViewError> {
            match changed {
                Some(hash) => Ok(hash),
                None => Ok(view
                    .node(level, index)?
                    .unwrap_or(empty[usize::from(level)])),
            }
        };
        let mut next = Vec::with_capacity(level_nodes.len());
        // Changed siblings are neighbours in index order.
        for pair in level_nodes.chunk_by(|a, b| a.0 / 2 == b.0 / 2) {
            let parent = pair[0].0 / 2;
            let changed = |index: u32| pair.iter().find(|n| n.0 == index).map(|n| n.1);
            let left = child(parent * 2, changed(parent * 2))?;
            let right = child(parent * 2 + 1, changed(parent * 2 + 1))?;
            next.push((parent, inner_hash(&left, &right)));
        }
        level_nodes = next;
        level -= 1;
    }
    Ok(out)
}

/// Sorts a bucket's entries by key hash; of entries sharing a key hash (a
/// damaged bucket), the last one stays, as when they are collected into a map.
fn sort_entries(entries: &mut Vec<BucketEntry>) {
    entries.sort_by_key(|&(key_hash, _)| key_hash);
    entries.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            *earlier = *later;
            true
        } else {
            false
        }
    });
}

/// The non-empty buckets of a state, in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buckets(HashMap<u16, Vec<BucketEntry>>);

impl Buckets {
    /// The buckets of a state given as its (encoded key, encoded value)
    /// entries, keys distinct.
    pub fn from_entries<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Buckets {
        let mut buckets: HashMap<u16, Vec<BucketEntry>> = HashMap::new();
        for (key, value) in entries {
            let key_hash = sha256(&[key.as_ref()]);
            buckets
                .entry(bucket_of(&key_hash))
                .or_default()
                .push((key_hash, sha256(&[value.as_ref()])));
        }
        for entries in buckets.values_mut() {
            sort_entries(entries);
        }
        Buckets(buckets)
    }

    /// A bucket's entries, sorted by key hash (empty for an empty bucket).
    pub fn get(&self, bucket: u16) -> Vec<BucketEntry> {
        self.0.get(&bucket).cloned().unwrap_or_default()
    }

    /// The hashes of the non-empty buckets.
    pub fn hashes(&self) -> impl Iterator<Item = (u16, Hash)> + '_ {
        self.0
            .iter()
            .map(|(bucket, entries)| (*bucket, bucket_hash(entries)))
    }

    /// Applies the bucket changes of an update.
    pub fn apply(&mut self, update: &CommitmentUpdate) {
        for (bucket, entries) in &update.buckets {
            if entries.is_empty() {
                self.0.remove(bucket);
            } else {
                self.0.insert(*bucket, entries.clone());
            }
        }
    }
}

/// The current root of `view`.
pub fn root(view: &dyn StateView) -> Result<Hash, ViewError> {
    Ok(view.node(0, 0)?.unwrap_or_else(empty_root))
}

/// All node hashes of the tree, level by level (level `l` holds `2^l`
/// hashes; level 16 holds the bucket hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentTree {
    levels: Vec<Vec<Hash>>,
}

impl CommitmentTree {
    /// The tree of an empty state.
    pub fn empty() -> CommitmentTree {
        let levels = (0..=BUCKET_BITS)
            .map(|level| vec![empty_hash(level); 1usize << level])
            .collect();
        CommitmentTree { levels }
    }

    /// Builds the tree from the hashes of the non-empty buckets.
    pub fn from_buckets(buckets: impl IntoIterator<Item = (u16, Hash)>) -> CommitmentTree {
        let mut tree = CommitmentTree::empty();
        for (bucket, hash) in buckets {
            tree.levels[usize::from(BUCKET_BITS)][usize::from(bucket)] = hash;
        }
        for level in (0..usize::from(BUCKET_BITS)).rev() {
            for index in 0..tree.levels[level].len() {
                let left = tree.levels[level + 1][2 * index];
                let right = tree.levels[level + 1][2 * index + 1];
                tree.levels[level][index] = inner_hash(&left, &right);
            }
        }
        tree
    }

    /// A node; `None` when it equals its level's empty hash (levels above 16
    /// or indices out of range are `None` too).
    pub fn node(&self, level: u8, index: u32) -> Option<Hash> {
        let hash = *self.levels.get(usize::from(level))?.get(index as usize)?;
        (hash != empty_hash_cached(level)).then_some(hash)
    }

    /// Applies the node changes of an update.
    pub fn apply(&mut self, update: &CommitmentUpdate) {
        for ((level, index), hash) in &update.nodes {
            if let Some(slot) = self
                .levels
                .get_mut(usize::from(*level))
                .and_then(|nodes| nodes.get_mut(*index as usize))
            {
                *slot = hash.unwrap_or_else(|| empty_hash_cached(*level));
            }
        }
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.levels[0][0]
    }
}

fn empty_hash_cached(level: u8) -> Hash {
    use std::sync::OnceLock;
    static EMPTY: OnceLock<Vec<Hash>> = OnceLock::new();
    EMPTY
        .get_or_init(|| (0..=BUCKET_BITS).map(empty_hash).collect())
        .get(usize::from(level))
        .copied()
        .unwrap_or_else(|| empty_hash(BUCKET_BITS))
}
