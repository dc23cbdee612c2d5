//! The Merkle tree over a block's transaction ids (and, in the same
//! construction, over its signatures' hashes), and inclusion proofs.
//!
//! Construction (the auditor's reference):
//! - leaf: `SHA-256(0x00 ‖ transaction id)`
//! - inner node: `SHA-256(0x01 ‖ left ‖ right)`
//! - a level with an odd number of nodes promotes its last node unchanged to
//!   the next level (it is never paired with itself, so no two different leaf
//!   lists share a root by duplication);
//! - the root of zero transactions is `SHA-256(0x02)`.
//!
//! The 0x00/0x01 prefixes keep a leaf from ever being read as an inner node.

use serde::{Deserialize, Serialize};

use crate::crypto::sha256;
use crate::ids::Hash;

const LEAF: &[u8] = &[0x00];
const NODE: &[u8] = &[0x01];
const EMPTY: &[u8] = &[0x02];

fn leaf_hash(item: &Hash) -> Hash {
    sha256(&[LEAF, &item.0])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[NODE, &left.0, &right.0])
}

/// The root over `items` (transaction ids, in block order).
pub fn root(items: &[Hash]) -> Hash {
    if items.is_empty() {
        return sha256(&[EMPTY]);
    }
    let mut level: Vec<Hash> = items.iter().map(leaf_hash).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node_hash(left, right),
            // chunks(2) yields one or two items: this is the odd last node.
            _ => pair[0],
        })
        .collect()
}

/// Proof that an item sits at `index` among `leaf_count` items under a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Position of the item in the block.
    pub index: u32,
    /// Number of items in the block.
    pub leaf_count: u32,
    /// Sibling hashes from the leaf level up, skipping levels where the
    /// node was promoted without a sibling.
    pub siblings: Vec<Hash>,
}

/// Builds the proof for `items[index]`, or `None` if `index` is out of range.
pub fn prove(items: &[Hash], index: usize) -> Option<InclusionProof> {
    if index >= items.len() {
        return None;
    }
    let leaf_count = u32::try_from(items.len()).ok()?;
    let mut siblings = Vec::new();
    let mut level: Vec<Hash> = items.iter().map(leaf_hash).collect();
    let mut position = index;
    while level.len() > 1 {
        let sibling = position ^ 1;
        if sibling < level.len() {
            siblings.push(level[sibling]);
        }
        level = next_level(&level);
        position /= 2;
    }
    Some(InclusionProof {
        index: u32::try_from(index).ok()?,
        leaf_count,
        siblings,
    })
}

impl InclusionProof {
    /// Whether this proof shows `item` at `self.index` under `root`.
    pub fn verify(&self, item: &Hash, root: &Hash) -> bool {
        if self.index >= self.leaf_count {
            return false;
        }
        let mut hash = leaf_hash(item);
        let mut position = self.index as usize;
        let mut width = self.leaf_count as usize;
        let mut siblings = self.siblings.iter();
        while width > 1 {
            let sibling = position ^ 1;
            if sibling < width {
                let Some(other) = siblings.next() else {
                    return false;
                };
                hash = if position.is_multiple_of(2) {
                    node_hash(&hash, other)
                } else {
                    node_hash(other, &hash)
                };
            }
            position /= 2;
            width = width.div_ceil(2);
        }
        siblings.next().is_none() && hash == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(n: usize) -> Vec<Hash> {
        (0..n).map(|i| sha256(&[&i.to_be_bytes()])).collect()
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_only_for_its_item(n in 1usize..70, pick in 0usize..70) {
            let items = items(n);
            let root = root(&items);
            let index = pick % n;
            let proof = prove(&items, index).unwrap();
            prop_assert!(proof.verify(&items[index], &root));
            let other = (index + 1) % n;
            if other != index {
                prop_assert!(!proof.verify(&items[other], &root));
            }
            let mut moved = proof.clone();
            moved.index = u32::try_from(other).unwrap();
            if other != index {
                prop_assert!(!moved.verify(&items[index], &root));
            }
        }

        #[test]
        fn different_lists_different_roots(n in 1usize..40) {
            let a = items(n);
            let mut b = a.clone();
            b.push(*a.last().unwrap()); // duplicating the last item must change the root
            prop_assert_ne!(root(&a), root(&b));
        }
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(root(&[]), sha256(&[&[0x02]]));
        let one = items(1);
        assert_eq!(root(&one), leaf_hash(&one[0]));
        assert!(prove(&one, 1).is_none());
    }
}
