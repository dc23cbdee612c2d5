//! The one task that owns the swarm: it executes client commands, turns
//! swarm events into [`NetworkEvent`]s, and redials configured peers.
//!
//! It never waits on the application: events go out with `try_send`, and
//! what does not fit is dropped and counted (gossip, sync requests) or held
//! in a bounded side queue (peer events), so a slow application cannot stall
//! the swarm or grow memory without bound.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, ListenError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identity};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use super::behaviour::{Behaviour, BehaviourEvent, build_swarm};
use super::codec::{FrameKind, frame_too_large};
use super::{
    MessageId, NetworkConfig, NetworkError, NetworkEvent, NetworkKey, NetworkLimits, NetworkStats,
    Responder, Topic, TopicExt, Verdict, peer_id_of,
};

/// How often the loop looks for configured peers due for a redial.
const REDIAL_TICK: Duration = Duration::from_millis(100);

/// A client's request to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    Report {
        id: MessageId,
        source: NetworkKey,
        verdict: Verdict,
    },
    Request {
        peer: NetworkKey,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    },
    Respond {
        responder: Responder,
        data: Vec<u8>,
    },
    Peers {
        reply: oneshot::Sender<Vec<NetworkKey>>,
    },
    TopicPeers {
        topic: Topic,
        reply: oneshot::Sender<Vec<NetworkKey>>,
    },
    Stats {
        reply: oneshot::Sender<NetworkStats>,
    },
    Admit {
        allowed: Vec<NetworkKey>,
        dial: Vec<(NetworkKey, Multiaddr)>,
    },
}

/// A configured peer we keep dialling while disconnected.
#[derive(Debug)]
struct Redial {
    address: Multiaddr,
    next_attempt: Instant,
    backoff: Duration,
    /// When the current connection was established, if there is one.
    connected_since: Option<Instant>,
}

/// A sync request in flight.
#[derive(Debug)]
struct PendingRequest {
    peer: NetworkKey,
    reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
}

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    listen: SocketAddr,
    limits: NetworkLimits,
    /// The allow-list, by peer id.
    allowed: HashMap<PeerId, NetworkKey>,
    redials: BTreeMap<PeerId, Redial>,
    pending_requests: HashMap<OutboundRequestId, PendingRequest>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    /// Peer and listen events that found the event channel full, in order.
    held_events: VecDeque<NetworkEvent>,
    stop: oneshot::Receiver<()>,
    stats: NetworkStats,
}

impl EventLoop {
    pub(crate) fn new(
        keypair: identity::Keypair,
        local_key: NetworkKey,
        config: NetworkConfig,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetworkEvent>,
        stop: oneshot::Receiver<()>,
    ) -> Result<EventLoop, NetworkError> {
        let mut allowed = HashMap::new();
        for key in &config.allowed {
            allowed.insert(peer_id_of(*key)?, *key);
        }
        let now = Instant::now();
        let mut redials = BTreeMap::new();
        for (key, address) in &config.peers {
            let peer_id = peer_id_of(*key)?;
            if *key == local_key {
                tracing::warn!(%key, "skipping ourselves in the configured peers");
                continue;
            }
            if !allowed.contains_key(&peer_id) {
                return Err(NetworkError::InvalidConfig(format!(
                    "configured peer {key} is not in the allow-list"
                )));
            }
            redials.insert(
                peer_id,
                Redial {
                    address: multiaddr_of(*address),
                    next_attempt: now,
                    backoff: Duration::from_millis(config.limits.redial_backoff_initial_ms),
                    connected_since: None,
                },
            );
        }
        let allowed_ids: HashSet<PeerId> = allowed.keys().copied().collect();
        let mut swarm = build_swarm(keypair, &allowed_ids, &config.limits)?;
        for topic in Topic::ALL {
            swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(&topic.ident())
                .map_err(|error| NetworkError::Setup(format!("subscribe {topic:?}: {error}")))?;
        }
        // libp2p listens with SO_REUSEPORT, so a second process listening
        // on this port (another node given the same address, say) would not
        // make `listen_on` fail: both would listen, and the kernel would
        // split incoming connections between them. A plain bind first
        // refuses an address that something already listens on (a check,
        // then libp2p's bind: two nodes starting in the same instant could
        // still both pass it).
        std::net::TcpListener::bind(config.listen).map_err(|error| NetworkError::Listen {
            addr: config.listen,
            reason: error.to_string(),
        })?;
        swarm
            .listen_on(multiaddr_of(config.listen))
            .map_err(|error| NetworkError::Listen {
                addr: config.listen,
                reason: error.to_string(),
            })?;
        tracing::info!(%local_key, peer_id = %swarm.local_peer_id(), listen = %config.listen, "network starting");
        Ok(EventLoop {
            swarm,
            listen: config.listen,
            limits: config.limits,
            allowed,
            redials,
            pending_requests: HashMap::new(),
            commands,
            events,
            held_events: VecDeque::new(),
            stop,
            stats: NetworkStats::default(),
        })
    }

    /// Runs until stopped (or until its owner and every client are gone).
    pub(crate) async fn run(mut self) {
        let mut redial_tick = tokio::time::interval(REDIAL_TICK);
        redial_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // A second sender for the held-events branch, whose permit must not
        // borrow `self` while the arm runs.
        let events = self.events.clone();
        loop {
            tokio::select! {
                biased;
                _ = &mut self.stop => break,
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                permit = events.reserve(), if !self.held_events.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.held_events.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => self.held_events.clear(),
                },
                _ = redial_tick.tick() => self.redial_due_peers(),
            }
        }
        tracing::info!(listen = %self.listen, "network stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish(topic, data));
            }
            Command::Report {
                id,
                source,
                verdict,
            } => self.report(id, source, verdict),
            Command::Request { peer, data, reply } => self.request(peer, data, reply),
            Command::Respond { responder, data } => self.respond(responder, data),
            Command::Peers { reply } => {
                let mut peers: Vec<NetworkKey> = self
                    .swarm
                    .connected_peers()
                    .filter_map(|peer_id| self.allowed.get(peer_id).copied())
                    .collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            Command::TopicPeers { topic, reply } => {
                let hash = topic.hash();
                let mut peers: Vec<NetworkKey> = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .filter_map(|(peer_id, _)| self.allowed.get(peer_id).copied())
                    .collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats);
            }
            Command::Admit { allowed, dial } => self.admit(allowed, dial),
        }
    }

    /// Replaces the allow-list (the chain's member list changed): newly
    /// allowed identities may connect and, with an address, are dialled;
    /// identities no longer allowed are cut off and never redialled.
    fn admit(&mut self, allowed: Vec<NetworkKey>, dial: Vec<(NetworkKey, Multiaddr)>) {
        let mut next = HashMap::new();
        for key in allowed {
            match peer_id_of(key) {
                Ok(peer_id) => {
                    next.insert(peer_id, key);
                }
                Err(error) => tracing::warn!(%key, %error, "an allowed key is not a peer id"),
            }
        }
        let gone: Vec<PeerId> = self
            .allowed
            .keys()
            .filter(|peer_id| !next.contains_key(peer_id))
            .copied()
            .collect();
        for peer_id in &gone {
            let behaviour = self.swarm.behaviour_mut();
            behaviour.allowed.disallow_peer(*peer_id);
            self.redials.remove(peer_id);
            if self.swarm.is_connected(peer_id) {
                let _ = self.swarm.disconnect_peer_id(*peer_id);
                // Its `ConnectionClosed` comes after the allow-list below
                // has dropped it and says nothing: the engine hears here
                // that the peer is gone (or it keeps it among its peers).
                if let Some(key) = self.allowed.get(peer_id).copied() {
                    self.emit_held(NetworkEvent::PeerDisconnected(key));
                }
            }
            tracing::info!(peer = %peer_id, "no longer a member: disconnected");
        }
        for (peer_id, key) in &next {
            if !self.allowed.contains_key(peer_id) {
                self.swarm.behaviour_mut().allowed.allow_peer(*peer_id);
                tracing::info!(peer = %peer_id, %key, "admitted");
            }
        }
        self.allowed = next;
        let local = *self.swarm.local_peer_id();
        let now = Instant::now();
        for (key, address) in dial {
            let Ok(peer_id) = peer_id_of(key) else {
                continue;
            };
            if peer_id == local || !self.allowed.contains_key(&peer_id) {
                continue;
            }
            self.redials.entry(peer_id).or_insert_with(|| Redial {
                address,
                next_attempt: now,
                backoff: Duration::from_millis(self.limits.redial_backoff_initial_ms),
                connected_since: None,
            });
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) -> Result<(), NetworkError> {
        let limit = self.gossip_bytes_max(topic);
        if data.len() > limit {
            return Err(NetworkError::TooLarge {
                what: topic_what(topic),
                size: data.len(),
                limit,
            });
        }
        let size = data.len();
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.hash(), data)
        {
            Ok(id) => {
                tracing::debug!(?topic, %id, size, "published");
                Ok(())
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                Err(NetworkError::NoPeers { topic })
            }
            Err(gossipsub::PublishError::Duplicate) => Err(NetworkError::Duplicate),
            Err(gossipsub::PublishError::MessageTooLarge) => Err(NetworkError::TooLarge {
                what: topic_what(topic),
                size,
                limit,
            }),
            Err(error) => Err(NetworkError::PublishFailed(error.to_string())),
        }
    }

    fn report(&mut self, id: MessageId, source: NetworkKey, verdict: Verdict) {
        let Ok(source_id) = peer_id_of(source) else {
            tracing::warn!(%source, "verdict for an invalid source key ignored");
            return;
        };
        let acceptance = match verdict {
            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
            Verdict::Reject => gossipsub::MessageAcceptance::Reject,
            Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
        };
        let found = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(
                &gossipsub::MessageId::new(&id.0),
                &source_id,
                acceptance,
            );
        tracing::debug!(?id, %source, ?verdict, found, "gossip verdict");
    }

    fn request(
        &mut self,
        peer: NetworkKey,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    ) {
        if data.len() > self.limits.sync_request_bytes_max {
            let _ = reply.send(Err(NetworkError::TooLarge {
                what: "sync request",
                size: data.len(),
                limit: self.limits.sync_request_bytes_max,
            }));
            return;
        }
        let peer_id = match peer_id_of(peer) {
            Ok(peer_id) if self.swarm.is_connected(&peer_id) => peer_id,
            _ => {
                let _ = reply.send(Err(NetworkError::NotConnected { peer }));
                return;
            }
        };
        let request_id = self.swarm.behaviour_mut().sync.send_request(&peer_id, data);
        tracing::debug!(%peer, ?request_id, "sync request sent");
        self.pending_requests
            .insert(request_id, PendingRequest { peer, reply });
    }

    fn respond(&mut self, responder: Responder, data: Vec<u8>) {
        let Responder { peer, channel } = responder;
        if data.len() > self.limits.sync_response_bytes_max {
            // Dropping the channel fails the requester's call promptly.
            tracing::warn!(
                %peer,
                size = data.len(),
                limit = self.limits.sync_response_bytes_max,
                "sync response over the limit not sent"
            );
            return;
        }
        if self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, data)
            .is_err()
        {
            tracing::debug!(%peer, "sync response not sent: the request is gone");
        }
    }

    fn redial_due_peers(&mut self) {
        let now = Instant::now();
        let backoff_max = Duration::from_millis(self.limits.redial_backoff_max_ms);
        for (peer_id, redial) in &mut self.redials {
            if now < redial.next_attempt || self.swarm.is_connected(peer_id) {
                continue;
            }
            // The next attempt waits for the current backoff; a failure
            // doubles it (see `on_dial_failure`), a connection resets it.
            redial.next_attempt = now + redial.backoff;
            let options = DialOpts::peer_id(*peer_id)
                .addresses(vec![redial.address.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .allocate_new_port()
                .build();
            match self.swarm.dial(options) {
                Ok(()) => tracing::debug!(peer = %peer_id, address = %redial.address, "dialling"),
                Err(DialError::DialPeerConditionFalse(_)) => {}
                Err(error) => {
                    tracing::debug!(peer = %peer_id, %error, "dial refused");
                    redial.backoff = (redial.backoff * 2).min(backoff_max);
                }
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if let Some(address) = socket_addr_of(&address) {
                    self.emit_held(NetworkEvent::Listening(address));
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                endpoint,
                ..
            } => {
                let Some(key) = self.allowed.get(&peer_id).copied() else {
                    // The allow-list behaviour denies these before this point.
                    tracing::error!(peer = %peer_id, "connection from a peer outside the allow-list; closing");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                };
                tracing::debug!(%key, address = %endpoint_address(&endpoint), num_established, "connection established");
                if num_established.get() == 1 {
                    if let Some(redial) = self.redials.get_mut(&peer_id) {
                        redial.connected_since = Some(Instant::now());
                    }
                    tracing::info!(%key, "peer connected");
                    self.emit_held(NetworkEvent::PeerConnected(key));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                let Some(key) = self.allowed.get(&peer_id).copied() else {
                    return;
                };
                tracing::debug!(%key, num_established, ?cause, "connection closed");
                if num_established == 0 {
                    tracing::info!(%key, "peer disconnected");
                    self.schedule_redial_after_disconnect(peer_id);
                    self.emit_held(NetworkEvent::PeerDisconnected(key));
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if matches!(error, DialError::Denied { .. }) {
                    self.stats.connections_denied += 1;
                }
                if let Some(peer_id) = peer_id {
                    self.on_dial_failure(peer_id, &error);
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                if matches!(error, ListenError::Denied { .. }) {
                    self.stats.connections_denied += 1;
                }
                tracing::debug!(%send_back_addr, %error, "incoming connection refused");
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossipsub(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    /// A connection that lived long resets the backoff; one the peer cut
    /// short (e.g. because it does not allow us) doubles it, so a peer that
    /// refuses us is not redialled in a tight loop.
    fn schedule_redial_after_disconnect(&mut self, peer_id: PeerId) {
        let Some(redial) = self.redials.get_mut(&peer_id) else {
            return;
        };
        let now = Instant::now();
        let backoff_max = Duration::from_millis(self.limits.redial_backoff_max_ms);
        let lived = redial
            .connected_since
            .take()
            .map_or(Duration::ZERO, |since| now - since);
        redial.backoff = if lived >= backoff_max {
            Duration::from_millis(self.limits.redial_backoff_initial_ms)
        } else {
            (redial.backoff * 2).min(backoff_max)
        };
        redial.next_attempt = now + redial.backoff;
    }

    fn on_dial_failure(&mut self, peer_id: PeerId, error: &DialError) {
        let Some(redial) = self.redials.get_mut(&peer_id) else {
            tracing::debug!(peer = %peer_id, %error, "dial failed");
            return;
        };
        if matches!(error, DialError::DialPeerConditionFalse(_)) {
            return;
        }
        self.stats.dials_failed += 1;
        let backoff_max = Duration::from_millis(self.limits.redial_backoff_max_ms);
        redial.backoff = (redial.backoff * 2).min(backoff_max);
        redial.next_attempt = Instant::now() + redial.backoff;
        tracing::debug!(peer = %peer_id, %error, backoff_ms = redial.backoff.as_millis(), "dial failed");
    }

    fn on_gossipsub(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        } = event
        else {
            tracing::debug!(?event, "gossipsub event");
            return;
        };
        let checked = self.check_gossip(&propagation_source, &message_id, &message);
        let (topic, id, source) = match checked {
            Ok(checked) => checked,
            Err(reason) => {
                tracing::warn!(peer = %propagation_source, %message_id, reason, "gossip rejected by the network");
                self.stats.gossip_rejected_by_network += 1;
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        gossipsub::MessageAcceptance::Reject,
                    );
                return;
            }
        };
        tracing::debug!(?topic, ?id, %source, size = message.data.len(), "gossip received");
        let event = NetworkEvent::Gossip {
            topic,
            id,
            source,
            data: message.data,
        };
        if !self.emit_or_drop(event) {
            self.stats.gossip_dropped_queue_full += 1;
            tracing::warn!(?topic, ?id, "event queue full: gossip dropped");
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    gossipsub::MessageAcceptance::Ignore,
                );
        }
    }

    /// The network's own checks on a gossip message, before the application
    /// sees it: known topic, payload within the topic's limit, allowed
    /// forwarder. (Messages have no author: see `behaviour::gossipsub_config`.)
    fn check_gossip(
        &self,
        propagation_source: &PeerId,
        message_id: &gossipsub::MessageId,
        message: &gossipsub::Message,
    ) -> Result<(Topic, MessageId, NetworkKey), &'static str> {
        let topic = super::topic_from_hash(&message.topic).ok_or("unknown topic")?;
        if message.data.len() > self.gossip_bytes_max(topic) {
            return Err("payload over the topic limit");
        }
        let id = <[u8; 32]>::try_from(message_id.0.as_slice())
            .map(MessageId)
            .map_err(|_| "message id is not a content hash")?;
        let source = *self
            .allowed
            .get(propagation_source)
            .ok_or("forwarder not allowed")?;
        Ok((topic, id, source))
    }

    fn on_sync(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let Some(key) = self.allowed.get(&peer).copied() else {
                    return;
                };
                tracing::debug!(%key, size = request.len(), "sync request received");
                let event = NetworkEvent::SyncRequest {
                    peer: key,
                    data: request,
                    responder: Responder { peer: key, channel },
                };
                if !self.emit_or_drop(event) {
                    self.stats.sync_requests_dropped_queue_full += 1;
                    tracing::warn!(%key, "event queue full: sync request dropped");
                }
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(pending) = self.pending_requests.remove(&request_id) {
                    tracing::debug!(peer = %pending.peer, size = response.len(), "sync response received");
                    let _ = pending.reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(pending) = self.pending_requests.remove(&request_id) {
                    tracing::debug!(peer = %pending.peer, %error, "sync request failed");
                    let _ = pending.reply.send(Err(request_error(pending.peer, error)));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn gossip_bytes_max(&self, topic: Topic) -> usize {
        match topic {
            Topic::Transactions => self.limits.gossip_tx_bytes_max,
            Topic::Consensus => self.limits.gossip_consensus_bytes_max,
        }
    }

    /// Sends a droppable event (gossip, sync request) if there is room now.
    /// Returns false if it was dropped.
    fn emit_or_drop(&mut self, event: NetworkEvent) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            // Nobody listens any more: the event is moot, not dropped.
            Err(TrySendError::Closed(_)) => true,
            Err(TrySendError::Full(_)) => false,
        }
    }

    /// Sends a peer or listen event, holding it (in order, bounded) while
    /// the channel is full.
    fn emit_held(&mut self, event: NetworkEvent) {
        if self.held_events.is_empty() {
            match self.events.try_send(event) {
                // A closed channel means nobody listens: nothing to hold.
                Ok(()) | Err(TrySendError::Closed(_)) => {}
                Err(TrySendError::Full(event)) => self.held_events.push_back(event),
            }
        } else if self.held_events.len() < self.limits.events_queue_max.max(1) {
            self.held_events.push_back(event);
        } else {
            self.stats.peer_events_dropped += 1;
            tracing::warn!(
                ?event,
                "event queue and side queue full: peer event dropped"
            );
        }
    }
}

fn request_error(peer: NetworkKey, error: OutboundFailure) -> NetworkError {
    match error {
        OutboundFailure::Timeout => NetworkError::Timeout { peer },
        OutboundFailure::Io(io_error) => match frame_too_large(&io_error) {
            Some(too_large) if too_large.kind == FrameKind::Response => {
                NetworkError::ResponseTooLarge {
                    peer,
                    size: too_large.size,
                    limit: too_large.limit,
                }
            }
            _ => NetworkError::RequestFailed {
                peer,
                reason: io_error.to_string(),
            },
        },
        other => NetworkError::RequestFailed {
            peer,
            reason: other.to_string(),
        },
    }
}

fn topic_what(topic: Topic) -> &'static str {
    match topic {
        Topic::Transactions => "transactions gossip",
        Topic::Consensus => "consensus gossip",
    }
}

fn multiaddr_of(address: SocketAddr) -> Multiaddr {
    Multiaddr::from(address.ip()).with(Protocol::Tcp(address.port()))
}

fn socket_addr_of(address: &Multiaddr) -> Option<SocketAddr> {
    let mut protocols = address.iter();
    let ip: IpAddr = match protocols.next()? {
        Protocol::Ip4(ip) => ip.into(),
        Protocol::Ip6(ip) => ip.into(),
        _ => return None,
    };
    match protocols.next()? {
        Protocol::Tcp(port) => Some(SocketAddr::new(ip, port)),
        _ => None,
    }
}

fn endpoint_address(endpoint: &ConnectedPoint) -> &Multiaddr {
    match endpoint {
        ConnectedPoint::Dialer { address, .. } => address,
        ConnectedPoint::Listener { send_back_addr, .. } => send_back_addr,
    }
}
