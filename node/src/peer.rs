//! The plain types the engine and the network share: who a peer is, what a
//! gossip message is called, which topic it travels on, and the verdict the
//! application gives it. No libp2p here (the network module maps these to
//! gossipsub's), so the engine and its simulator build without the network
//! stack.

use std::fmt;

/// A peer's identity: the 32-byte ed25519 public key of its libp2p identity
/// (the genesis `network_key` of a member, or a configured observer's key).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkKey(pub [u8; 32]);

impl fmt::Debug for NetworkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkKey({})", hex::encode(self.0))
    }
}

impl fmt::Display for NetworkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A gossip topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Transactions (batches of them), topic `clearhouse/tx/2`.
    Transactions,
    /// Proposals and votes, topic `clearhouse/consensus/2`.
    Consensus,
}

impl Topic {
    /// Both topics.
    pub const ALL: [Topic; 2] = [Topic::Transactions, Topic::Consensus];

    /// The gossipsub topic name.
    pub fn name(self) -> &'static str {
        match self {
            // Version 2: unsigned gossip (see `network::behaviour`).
            Topic::Transactions => "clearhouse/tx/2",
            Topic::Consensus => "clearhouse/consensus/2",
        }
    }
}

/// A gossip message id: the SHA-256 of the message data, so the same bytes
/// always have the same id (and are delivered once per cache window).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 32]);

impl MessageId {
    /// The id of `data`, as the network computes it.
    pub fn of(data: &[u8]) -> MessageId {
        MessageId(clearhouse_ledger::crypto::sha256(&[data]).0)
    }

    /// The content hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", hex::encode(self.0))
    }
}

/// The application's judgement of a gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Valid: forward it to our mesh peers.
    Accept,
    /// Invalid: drop it and penalise the peer that sent it.
    Reject,
    /// Not invalid but not worth forwarding (e.g. stale): drop it quietly.
    Ignore,
}
