//! What the network is told at start: who we are, where we listen, whom we
//! dial, who may connect, and every bound the network enforces.

use crate::peer::NetworkKey;
use std::net::SocketAddr;

/// Everything [`super::Network::start`] needs.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// This node's libp2p ed25519 secret seed (32 bytes).
    pub identity_seed: [u8; 32],
    /// The TCP address to listen on, e.g. `127.0.0.1:0` (port 0: the OS
    /// chooses; the chosen address arrives as [`super::NetworkEvent::Listening`]).
    pub listen: SocketAddr,
    /// Peers to dial at start and to redial, with backoff, whenever we hold
    /// no connection to them. Each must also be in `allowed`.
    pub peers: Vec<(NetworkKey, SocketAddr)>,
    /// The only identities that may hold a connection with us (members and
    /// observers). Every other peer is cut off right after the Noise
    /// handshake, in both directions.
    pub allowed: Vec<NetworkKey>,
    /// Every bound the network enforces.
    pub limits: NetworkLimits,
}

/// Every bound the network enforces, in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkLimits {
    /// Largest payload published or accepted on [`super::Topic::Transactions`]
    /// (a batch of transactions).
    pub gossip_tx_bytes_max: usize,
    /// Largest payload published or accepted on [`super::Topic::Consensus`]
    /// (a proposal carries a full block).
    pub gossip_consensus_bytes_max: usize,
    /// Largest sync request sent or read.
    pub sync_request_bytes_max: usize,
    /// Largest sync response sent or read.
    pub sync_response_bytes_max: usize,
    /// Bound of the event channel handed to the application. Gossip and sync
    /// requests that find it full are dropped (and counted); peer events wait
    /// in a side queue of the same bound.
    pub events_queue_max: usize,
    /// Connections one peer may hold with us at once (two lets simultaneous
    /// dials in both directions both succeed).
    pub connections_per_peer_max: u32,
    /// How long a sync request may take, response included, before it fails
    /// with [`super::NetworkError::Timeout`].
    pub sync_request_timeout_ms: u64,
    /// A connection no protocol uses is closed after this long.
    pub idle_connection_timeout_ms: u64,
    /// A connection must finish its upgrade (multistream negotiation, the
    /// Noise handshake, Yamux) within this long, in both directions, or it
    /// is dropped: a peer that opens TCP and stalls holds a pending slot no
    /// longer than this.
    pub handshake_timeout_ms: u64,
    /// First delay before redialling a configured peer; doubled after each
    /// failed dial (or connection cut short) up to `redial_backoff_max_ms`,
    /// reset when a connection lived at least `redial_backoff_max_ms`.
    pub redial_backoff_initial_ms: u64,
    /// Longest delay between two dials of a configured peer.
    pub redial_backoff_max_ms: u64,
}

impl Default for NetworkLimits {
    fn default() -> Self {
        Self {
            gossip_tx_bytes_max: 1 << 20,
            gossip_consensus_bytes_max: 32 << 20,
            sync_request_bytes_max: 64 << 10,
            sync_response_bytes_max: 64 << 20,
            events_queue_max: 1024,
            connections_per_peer_max: 2,
            sync_request_timeout_ms: 30_000,
            idle_connection_timeout_ms: 3_600_000,
            handshake_timeout_ms: 5_000,
            redial_backoff_initial_ms: 250,
            redial_backoff_max_ms: 5_000,
        }
    }
}
