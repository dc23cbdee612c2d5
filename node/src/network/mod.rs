//! The libp2p network: the only libp2p code in Clearhouse.
//!
//! What it does: TCP + Noise + Yamux connections between the identities in
//! an allow-list (everyone else is cut off right after the handshake);
//! gossipsub on two topics ([`Topic::Transactions`], [`Topic::Consensus`])
//! with content-addressed message ids, no gossipsub author or signature
//! (payloads are signed end to end; each hop is an allow-listed Noise
//! connection), and application validation, so nothing is forwarded before
//! the application reports [`Verdict::Accept`]; block sync
//! by request/response on `/clearhouse/sync/1` with size-capped frames; and
//! redialling of configured peers with backoff while they are disconnected.
//!
//! What it does not do: decode or judge message contents (the application
//! reports a [`Verdict`] for every gossip message and answers every sync
//! request), discover peers (they come from genesis and configuration), or
//! retry requests.
//!
//! The shape follows rust-libp2p's file-sharing example: [`Network::start`]
//! spawns one event loop task that owns the swarm; a cheap, cloneable
//! [`NetworkClient`] sends it typed commands (with oneshot replies where
//! there is an answer); the loop hands [`NetworkEvent`]s to the application
//! over one bounded channel. [`Network::shutdown`] (or
//! [`NetworkHandle::shutdown`]) stops the loop and joins its task.
//!
//! Obligations of the application:
//! - every [`NetworkEvent::Gossip`] must be answered with
//!   [`NetworkClient::report`] (same id and source), or the message is never
//!   forwarded and sits in gossipsub's cache until it expires;
//! - every [`NetworkEvent::SyncRequest`] should be answered with
//!   [`NetworkClient::respond`]; dropping the [`Responder`] fails the
//!   requester's call;
//! - the event channel must be drained: when it is full, gossip and sync
//!   requests are dropped and counted in [`NetworkStats`] (gossip dropped
//!   this way is reported `Ignore`, so it is not forwarded);
//! - [`NetworkError::NoPeers`] and [`NetworkError::Duplicate`] from
//!   [`NetworkClient::publish`] are normal (nobody subscribed yet; the same
//!   bytes went out recently) and must not stop the caller;
//!   [`NetworkClient::topic_peers`] tells who a publish would reach.

mod behaviour;
mod codec;
mod config;
mod event_loop;

use std::fmt;
use std::net::SocketAddr;

use libp2p::gossipsub::{IdentTopic, TopicHash};
use libp2p::identity;
use libp2p::request_response::ResponseChannel;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use crate::peer::{MessageId, NetworkKey, Topic, Verdict};
pub use config::{NetworkConfig, NetworkLimits};

use event_loop::{Command, EventLoop};

/// Bound of the command channel from clients to the event loop. Clients wait
/// (backpressure) when it is full.
const COMMANDS_QUEUE_MAX: usize = 256;

/// gossipsub's names for our topics.
trait TopicExt {
    fn ident(self) -> IdentTopic;
    fn hash(self) -> TopicHash;
}

impl TopicExt for Topic {
    fn ident(self) -> IdentTopic {
        IdentTopic::new(self.name())
    }

    fn hash(self) -> TopicHash {
        self.ident().hash()
    }
}

fn topic_from_hash(hash: &TopicHash) -> Option<Topic> {
    Topic::ALL.into_iter().find(|topic| topic.hash() == *hash)
}

/// What the network tells the application.
#[derive(Debug)]
pub enum NetworkEvent {
    /// We listen on this address (with port 0 configured, the OS's choice).
    Listening(SocketAddr),
    /// An allowed peer now holds its first connection with us.
    PeerConnected(NetworkKey),
    /// An allowed peer lost its last connection with us.
    PeerDisconnected(NetworkKey),
    /// A gossip message awaiting the application's verdict. The application
    /// MUST call [`NetworkClient::report`]`(id, source, verdict)`; nothing is
    /// forwarded before `Accept`.
    Gossip {
        /// The topic it arrived on.
        topic: Topic,
        /// Its content hash.
        id: MessageId,
        /// The peer that forwarded it to us (not necessarily its author);
        /// the one to pass back to `report`.
        source: NetworkKey,
        /// The payload, at most the topic's limit.
        data: Vec<u8>,
    },
    /// A block-sync request; answer with [`NetworkClient::respond`].
    SyncRequest {
        /// The requesting peer.
        peer: NetworkKey,
        /// The request bytes, at most `sync_request_bytes_max`.
        data: Vec<u8>,
        /// Where the answer goes.
        responder: Responder,
    },
}

/// The handle to answer one sync request with. Dropping it unanswered fails
/// the requester's call.
pub struct Responder {
    peer: NetworkKey,
    channel: ResponseChannel<Vec<u8>>,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Counters of what the network dropped or refused, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Gossip messages dropped because the event channel was full.
    pub gossip_dropped_queue_full: u64,
    /// Gossip messages rejected before reaching the application (payload
    /// over the topic limit, unknown topic, or forwarder not allowed). Not
    /// counted: messages gossipsub itself refuses before we see them (one
    /// carrying an author or a signature, a malformed frame), which it
    /// logs.
    pub gossip_rejected_by_network: u64,
    /// Sync requests dropped because the event channel was full.
    pub sync_requests_dropped_queue_full: u64,
    /// Peer events dropped because the side queue was full too.
    pub peer_events_dropped: u64,
    /// Connections refused after the handshake (identity not allowed, or a
    /// connection limit reached), inbound and outbound.
    pub connections_denied: u64,
    /// Dials of configured peers that failed.
    pub dials_failed: u64,
}

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The identity seed or a configured key is not a valid ed25519 key.
    #[error("invalid ed25519 network key {key:?}")]
    InvalidKey {
        /// The offending key (our own public key is unknown if the seed is
        /// bad; then this is all zeros).
        key: NetworkKey,
    },
    /// The configuration contradicts itself.
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
    /// Building the transport or behaviour failed.
    #[error("network setup failed: {0}")]
    Setup(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The configured address.
        addr: SocketAddr,
        /// What the OS or libp2p said.
        reason: String,
    },
    /// A payload over its limit (gossip per topic, or a sync request or
    /// response), refused before sending.
    #[error("{what} of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Which limit ("transactions gossip", "sync request", ...).
        what: &'static str,
        /// The payload's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No connected peer is subscribed to the topic (yet): nothing was sent.
    #[error("no peer subscribed to {topic:?}")]
    NoPeers {
        /// The topic published on.
        topic: Topic,
    },
    /// The same bytes were published or received recently (ids are content
    /// hashes): nothing was sent, which is usually fine.
    #[error("duplicate gossip message")]
    Duplicate,
    /// Gossipsub refused the message for another reason (e.g. all peer
    /// queues full).
    #[error("publish failed: {0}")]
    PublishFailed(String),
    /// The peer holds no connection with us.
    #[error("peer {peer} is not connected")]
    NotConnected {
        /// The peer asked.
        peer: NetworkKey,
    },
    /// The peer's response exceeded our `sync_response_bytes_max`.
    #[error("response from {peer} exceeds the limit of {limit} bytes (announced {size})")]
    ResponseTooLarge {
        /// The responding peer.
        peer: NetworkKey,
        /// The size it announced.
        size: usize,
        /// Our limit.
        limit: usize,
    },
    /// No response within `sync_request_timeout_ms`.
    #[error("request to {peer} timed out")]
    Timeout {
        /// The peer asked.
        peer: NetworkKey,
    },
    /// The request failed otherwise (connection closed, peer refused or did
    /// not answer, stream error).
    #[error("request to {peer} failed: {reason}")]
    RequestFailed {
        /// The peer asked.
        peer: NetworkKey,
        /// What happened.
        reason: String,
    },
    /// The event loop has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Sends commands to the event loop. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NetworkClient {
    commands: mpsc::Sender<Command>,
    local_key: NetworkKey,
}

impl NetworkClient {
    /// Publishes `data` on `topic` to the peers subscribed to it.
    ///
    /// Typed errors, none of which should stop the caller: `TooLarge`,
    /// `NoPeers` (nobody to send to yet), `Duplicate` (the same bytes went
    /// out or came in recently), `PublishFailed`, `Stopped`.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { topic, data, reply }).await?;
        answer.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Reports the verdict on a gossip message received as
    /// [`NetworkEvent::Gossip`]; `Accept` forwards it.
    pub async fn report(&self, id: MessageId, source: NetworkKey, verdict: Verdict) {
        // A stopped loop has nothing left to forward: ignoring is right.
        let _ = self
            .send(Command::Report {
                id,
                source,
                verdict,
            })
            .await;
    }

    /// Sends a block-sync request to a connected peer and waits for its
    /// response, at most `sync_request_timeout_ms`.
    pub async fn request(&self, peer: NetworkKey, data: Vec<u8>) -> Result<Vec<u8>, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request { peer, data, reply }).await?;
        answer.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Answers a [`NetworkEvent::SyncRequest`]. A response over
    /// `sync_response_bytes_max` is not sent (and logged); the requester's
    /// call then fails.
    pub async fn respond(&self, responder: Responder, data: Vec<u8>) {
        // A stopped loop has no connection left to answer on.
        let _ = self.send(Command::Respond { responder, data }).await;
    }

    /// The allowed peers currently connected, sorted.
    pub async fn peers(&self) -> Vec<NetworkKey> {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Peers { reply }).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// The connected allowed peers subscribed to `topic`, sorted: those a
    /// publish on it reaches directly.
    pub async fn topic_peers(&self, topic: Topic) -> Vec<NetworkKey> {
        let (reply, answer) = oneshot::channel();
        if self
            .send(Command::TopicPeers { topic, reply })
            .await
            .is_err()
        {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// Replaces the allow-list with `allowed` (the chain's members in force,
    /// plus configured observers and peers): a newly allowed identity may
    /// connect, and is dialled at its first parseable address in `dial`; one
    /// no longer allowed is disconnected and never redialled.
    pub async fn admit(&self, allowed: Vec<NetworkKey>, dial: Vec<(NetworkKey, Vec<String>)>) {
        let dial = dial
            .into_iter()
            .filter_map(|(key, addresses)| {
                let address = addresses.iter().find_map(|text| {
                    text.parse::<libp2p::Multiaddr>()
                        .map_err(|error| {
                            tracing::warn!(%key, address = %text, %error, "a member's address does not parse");
                        })
                        .ok()
                })?;
                Some((key, address))
            })
            .collect();
        let _ = self.send(Command::Admit { allowed, dial }).await;
    }

    /// What the network has dropped or refused so far.
    pub async fn stats(&self) -> NetworkStats {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Stats { reply }).await.is_err() {
            return NetworkStats::default();
        }
        answer.await.unwrap_or_default()
    }

    /// This node's identity.
    pub fn local_key(&self) -> NetworkKey {
        self.local_key
    }

    async fn send(&self, command: Command) -> Result<(), NetworkError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| NetworkError::Stopped)
    }
}

/// The owner of the event loop task: stops it and joins it.
#[derive(Debug)]
pub struct NetworkHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl NetworkHandle {
    /// Stops the event loop (closing every connection and the listener) and
    /// waits for its task to end.
    pub async fn shutdown(self) {
        // An error means the loop already ended; joining is still right.
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::error!(%error, "network event loop task failed");
        }
    }
}

/// A running network: its client, its events, and the handle that stops it.
/// Dropping the handle also stops the loop (without joining it).
#[derive(Debug)]
pub struct Network {
    /// Commands to the event loop.
    pub client: NetworkClient,
    /// Events from the event loop, bounded by `events_queue_max`.
    pub events: mpsc::Receiver<NetworkEvent>,
    /// Stops the event loop; kept separate so that `client` and `events` can
    /// be moved out.
    pub handle: NetworkHandle,
}

impl Network {
    /// Binds the listener, builds the swarm and spawns the event loop, which
    /// dials the configured peers at once.
    pub async fn start(config: NetworkConfig) -> Result<Network, NetworkError> {
        let (keypair, local_key) = keypair_from_seed(config.identity_seed)?;
        let events_queue_max = config.limits.events_queue_max.max(1);
        let (events_tx, events) = mpsc::channel(events_queue_max);
        let (commands_tx, commands_rx) = mpsc::channel(COMMANDS_QUEUE_MAX);
        let (stop, stop_rx) = oneshot::channel();

        let event_loop =
            EventLoop::new(keypair, local_key, config, commands_rx, events_tx, stop_rx)?;
        let task = tokio::spawn(event_loop.run());
        Ok(Network {
            client: NetworkClient {
                commands: commands_tx,
                local_key,
            },
            events,
            handle: NetworkHandle { stop, task },
        })
    }

    /// Stops the event loop and joins its task.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }

    /// This node's identity.
    pub fn local_key(&self) -> NetworkKey {
        self.client.local_key
    }
}

/// The network key of an ed25519 libp2p public key (None for other kinds).
fn network_key_of(public: &identity::PublicKey) -> Option<NetworkKey> {
    public
        .clone()
        .try_into_ed25519()
        .ok()
        .map(|key| NetworkKey(key.to_bytes()))
}

/// The libp2p peer id of a network key, if the key is a valid ed25519 point.
fn peer_id_of(key: NetworkKey) -> Result<libp2p::PeerId, NetworkError> {
    let public = identity::ed25519::PublicKey::try_from_bytes(&key.0)
        .map_err(|_| NetworkError::InvalidKey { key })?;
    Ok(identity::PublicKey::from(public).to_peer_id())
}

/// The seed's public key, without starting anything: lets configuration and
/// tests derive a node's [`NetworkKey`] from its secret seed.
pub fn network_key_from_seed(seed: [u8; 32]) -> Result<NetworkKey, NetworkError> {
    keypair_from_seed(seed).map(|(_, key)| key)
}

/// The libp2p identity of an ed25519 secret seed, and its network key.
fn keypair_from_seed(seed: [u8; 32]) -> Result<(identity::Keypair, NetworkKey), NetworkError> {
    // Our own key is unknown when the seed is bad: report all zeros.
    let invalid = || NetworkError::InvalidKey {
        key: NetworkKey([0; 32]),
    };
    let mut seed = seed;
    let keypair = identity::Keypair::ed25519_from_bytes(&mut seed).map_err(|_| invalid())?;
    let key = network_key_of(&keypair.public()).ok_or_else(invalid)?;
    Ok((keypair, key))
}
