//! "Persist, then speak", checked in code: the host of an engine (the
//! driver, the simulator) tells this guard what it appended to the WAL and
//! when the file was synced, and asks it before publishing a message this
//! validator signed. A signed message whose record is not synced yet is
//! refused with [`Unpersisted`], which the host treats as a fatal bug.

use std::collections::HashSet;

use clearhouse_ledger::Hash;

use crate::wal::WalRecord;
use crate::wire::ConsensusMessage;

/// The identity of a signed consensus message: the hash of its signer and
/// signature (one signer's signature verifies for one message only).
pub fn message_id(message: &ConsensusMessage) -> Hash {
    match message {
        ConsensusMessage::Proposal(p) => {
            clearhouse_ledger::crypto::sha256(&[&p.proposer.0, &p.signature.0])
        }
        ConsensusMessage::Vote(v) => {
            clearhouse_ledger::crypto::sha256(&[&v.validator.0, &v.signature.0])
        }
    }
}

/// A signed message was about to leave before its WAL record was synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("persist, then speak: signed message {0} was published before its WAL record was synced")]
pub struct Unpersisted(pub Hash);

/// What of this validator's signed records is durable.
#[derive(Debug, Default, Clone)]
pub struct PersistGuard {
    synced: HashSet<Hash>,
    unsynced: Vec<Hash>,
}

impl PersistGuard {
    /// A guard for a log read back at start-up: all of it is durable.
    pub fn recovered(records: &[WalRecord]) -> PersistGuard {
        let mut guard = PersistGuard::default();
        for record in records {
            if let WalRecord::Signed(message) = record {
                guard.synced.insert(message_id(message));
            }
        }
        guard
    }

    /// A record was appended; `synced` when the file was synced after it
    /// (which makes every earlier append durable too).
    pub fn appended(&mut self, record: &WalRecord, synced: bool) {
        if let WalRecord::Signed(message) = record {
            self.unsynced.push(message_id(message));
        }
        if synced {
            self.synced.extend(self.unsynced.drain(..));
        }
    }

    /// The log was rewritten (and synced) holding `keep` only.
    pub fn pruned(&mut self, keep: &[WalRecord]) {
        let kept: HashSet<Hash> = keep
            .iter()
            .filter_map(|record| match record {
                WalRecord::Signed(message) => Some(message_id(message)),
                WalRecord::Received(_) => None,
            })
            .collect();
        self.synced.retain(|id| kept.contains(id));
        self.unsynced.retain(|id| kept.contains(id));
        self.synced.extend(self.unsynced.drain(..));
    }

    /// Whether the signed message `id` may be published.
    pub fn check_publish(&self, id: &Hash) -> Result<(), Unpersisted> {
        if self.synced.contains(id) {
            Ok(())
        } else {
            Err(Unpersisted(*id))
        }
    }
}
