//! The libp2p stack: TCP + Noise + Yamux under a behaviour that admits only
//! allowed identities, bounds connections per peer, gossips unsigned
//! messages that the application validates before they are forwarded, and
//! serves block sync by request/response.
//!
//! Everything here is construction; what happens at run time is in
//! [`super::event_loop`].

use std::collections::HashSet;
use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    PeerId, Swarm, SwarmBuilder, allow_block_list, connection_limits, gossipsub, identity, noise,
    request_response, tcp, yamux,
};

use super::codec::{SYNC_PROTOCOL, SyncCodec};
use super::config::NetworkLimits;
use super::{NetworkError, Topic, TopicExt};

/// Room for the protobuf envelope around a gossip payload (the topic; a
/// source peer id, sequence number and signature when a message carries
/// them, which ours do not and which are refused). Gossipsub checks the
/// *encoded* message against the per-topic limit on receipt but only the
/// payload on publish, so the wire limit is the payload limit plus this
/// margin; our own payload limit is checked separately on both sides.
pub(crate) const GOSSIP_ENVELOPE_BYTES_MAX: usize = 4 << 10;

/// Mesh degree for a permissioned network of 4 to 10 nodes (the defaults,
/// 5/6/12 with 2 outbound, assume a large open network).
const MESH_N_LOW: usize = 2;
const MESH_N: usize = 3;
const MESH_N_HIGH: usize = 6;
const MESH_OUTBOUND_MIN: usize = 1;

/// The protocols of one node. The admission behaviours come first: the
/// derived code asks the fields in order, so a denied connection never
/// reaches gossipsub or request/response.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
}

/// Identities the connection limits leave room for beyond the allow-list
/// at start: banks that governance admits before the next restart.
const ADMITTED_ROOM: usize = 16;

/// Builds the swarm. `allowed` are the peer ids that may connect.
pub(crate) fn build_swarm(
    keypair: identity::Keypair,
    allowed: &HashSet<PeerId>,
    limits: &NetworkLimits,
) -> Result<Swarm<Behaviour>, NetworkError> {
    let gossipsub_config = gossipsub_config(limits)?;
    let sync_codec = SyncCodec {
        request_bytes_max: limits.sync_request_bytes_max,
        response_bytes_max: limits.sync_response_bytes_max,
    };
    let sync_config = request_response::Config::default()
        .with_request_timeout(Duration::from_millis(limits.sync_request_timeout_ms));
    // Room for members governance admits while this process runs (a
    // restart sizes the limits for the member list it starts with).
    let connection_limits = connection_limits_for(limits, allowed.len() + ADMITTED_ROOM);

    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|error| NetworkError::Setup(format!("transport: {error}")))?
        .with_behaviour(|_key| {
            let mut admitted = allow_block_list::Behaviour::default();
            for peer in allowed {
                admitted.allow_peer(*peer);
            }
            // Unsigned, authorless gossip (see `gossipsub_config`).
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Anonymous,
                gossipsub_config,
            )?;
            let sync = request_response::Behaviour::with_codec(
                sync_codec,
                [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
                sync_config,
            );
            // The builder wants this exact error type (an `io::Error` or a
            // `&str` here gives a misleading "NetworkBehaviour not satisfied").
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Behaviour {
                allowed: admitted,
                limits: connection_limits::Behaviour::new(connection_limits),
                gossipsub,
                sync,
            })
        })
        .map_err(|error| NetworkError::Setup(format!("behaviour: {error}")))?
        .with_swarm_config(|config| {
            config.with_idle_connection_timeout(Duration::from_millis(
                limits.idle_connection_timeout_ms,
            ))
        })
        .with_connection_timeout(Duration::from_millis(limits.handshake_timeout_ms))
        .build();
    Ok(swarm)
}

/// Gossipsub for a small permissioned network: content-addressed ids,
/// nothing forwarded before the application accepts, per-topic size limits,
/// a small mesh and a quick first heartbeat.
///
/// Messages carry no author, sequence number or gossipsub signature, and a
/// message that carries any of them is refused (`ValidationMode::Anonymous`,
/// as in Ethereum's consensus-layer gossip). Every payload is signed end to
/// end by whoever it speaks for (payments by their payer, proposals and
/// votes by their validator's key) and checked by the application before it
/// is accepted and forwarded; each hop is a Noise connection to a peer on
/// the allow-list. A gossipsub signature would only name the member that
/// first published the bytes, which nothing here needs, and it cost about
/// 2.6 % of the machine at saturation (SHA-512 over every proposal to sign
/// it, and again on every copy received, before deduplication).
///
/// Nodes that sign their gossip and nodes that do not refuse each other's
/// messages inside gossipsub (no counter of ours sees it), so the topic
/// names carry version 2 from this change on: nodes of the two kinds do not
/// share a topic at all, and a network must upgrade all at once (stop every
/// node, upgrade, start), not node by node.
fn gossipsub_config(limits: &NetworkLimits) -> Result<gossipsub::Config, NetworkError> {
    let tx_wire_max = limits
        .gossip_tx_bytes_max
        .saturating_add(GOSSIP_ENVELOPE_BYTES_MAX);
    let consensus_wire_max = limits
        .gossip_consensus_bytes_max
        .saturating_add(GOSSIP_ENVELOPE_BYTES_MAX);
    // The stream decoder enforces the global limit on a whole RPC frame, so it
    // must admit the largest topic; each topic then has its own limit.
    let rpc_wire_max = tx_wire_max
        .max(consensus_wire_max)
        .saturating_add(GOSSIP_ENVELOPE_BYTES_MAX);
    gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|message: &gossipsub::Message| {
            gossipsub::MessageId::new(&clearhouse_ledger::crypto::sha256(&[&message.data]).0)
        })
        .max_transmit_size(rpc_wire_max)
        .max_transmit_size_for_topic(tx_wire_max, Topic::Transactions.hash())
        .max_transmit_size_for_topic(consensus_wire_max, Topic::Consensus.hash())
        .mesh_n_low(MESH_N_LOW)
        .mesh_n(MESH_N)
        .mesh_n_high(MESH_N_HIGH)
        .mesh_outbound_min(MESH_OUTBOUND_MIN)
        .heartbeat_initial_delay(Duration::from_millis(500))
        .heartbeat_interval(Duration::from_secs(1))
        .build()
        .map_err(|error| NetworkError::Setup(format!("gossipsub: {error}")))
}

/// Per-peer bound from the limits; totals sized for the allow-list so that a
/// flood of strangers cannot hold more than a few pending slots each.
fn connection_limits_for(
    limits: &NetworkLimits,
    n_allowed: usize,
) -> connection_limits::ConnectionLimits {
    let n_allowed = u32::try_from(n_allowed).unwrap_or(u32::MAX);
    let per_peer = limits.connections_per_peer_max.max(1);
    let established_max = n_allowed.saturating_mul(per_peer).saturating_add(2);
    connection_limits::ConnectionLimits::default()
        .with_max_established_per_peer(Some(per_peer))
        .with_max_established(Some(established_max))
        .with_max_pending_incoming(Some(n_allowed.saturating_mul(2).saturating_add(16)))
        .with_max_pending_outgoing(Some(n_allowed.saturating_mul(2).saturating_add(16)))
}
