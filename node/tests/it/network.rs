//! Network tests: real libp2p nodes on loopback, ports chosen by the OS,
//! every test bounded by a deadline and synchronised by polling conditions,
//! never by sleeping.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clearhouse_node::network::{
    MessageId, Network, NetworkConfig, NetworkError, NetworkEvent, NetworkKey, NetworkLimits,
    Topic, Verdict, network_key_from_seed,
};

/// Every test finishes within this, or fails.
const TEST_DEADLINE: Duration = Duration::from_secs(45);
/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(50);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Runs a test body under the deadline.
async fn within_deadline(body: impl Future<Output = ()>) {
    init_tracing();
    tokio::time::timeout(TEST_DEADLINE, body)
        .await
        .expect("test deadline exceeded");
}

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

fn key(n: u8) -> NetworkKey {
    network_key_from_seed(seed(n)).unwrap()
}

fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn small_limits() -> NetworkLimits {
    NetworkLimits {
        gossip_tx_bytes_max: 1024,
        gossip_consensus_bytes_max: 4096,
        ..NetworkLimits::default()
    }
}

/// A running node and the address it listens on.
struct Node {
    network: Network,
    address: SocketAddr,
}

impl Node {
    /// Starts node `n` and waits for its listen address.
    async fn start(
        n: u8,
        listen: SocketAddr,
        peers: &[&Node],
        allowed: &[u8],
        limits: NetworkLimits,
    ) -> Node {
        let config = NetworkConfig {
            identity_seed: seed(n),
            listen,
            peers: peers
                .iter()
                .map(|peer| (peer.key(), peer.address))
                .collect(),
            allowed: allowed.iter().map(|m| key(*m)).collect(),
            limits,
        };
        let mut network = Network::start(config).await.unwrap();
        assert_eq!(network.local_key(), key(n));
        let address = match network.events.recv().await.unwrap() {
            NetworkEvent::Listening(address) => address,
            other => panic!("the first event is not Listening: {other:?}"),
        };
        assert_ne!(address.port(), 0);
        Node { network, address }
    }

    fn key(&self) -> NetworkKey {
        self.network.local_key()
    }

    async fn peers(&self) -> Vec<NetworkKey> {
        self.network.client.peers().await
    }

    /// The next event that `select` keeps; others are returned to the caller
    /// through `skipped` so tests can assert on them.
    async fn next_matching<T>(
        &mut self,
        skipped: &mut Vec<NetworkEvent>,
        mut select: impl FnMut(NetworkEvent) -> Result<T, NetworkEvent>,
    ) -> T {
        loop {
            let event = self
                .network
                .events
                .recv()
                .await
                .expect("event loop stopped");
            match select(event) {
                Ok(kept) => return kept,
                Err(other) => skipped.push(other),
            }
        }
    }

    /// The next gossip message: (topic, id, source, data). Other events are
    /// collected in `skipped`.
    async fn next_gossip(
        &mut self,
        skipped: &mut Vec<NetworkEvent>,
    ) -> (
        Topic,
        clearhouse_node::network::MessageId,
        NetworkKey,
        Vec<u8>,
    ) {
        self.next_matching(skipped, |event| match event {
            NetworkEvent::Gossip {
                topic,
                id,
                source,
                data,
            } => Ok((topic, id, source, data)),
            other => Err(other),
        })
        .await
    }
}

/// Polls `condition` until it holds (the test deadline bounds the wait).
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        tokio::time::sleep(POLL).await;
    }
    tracing::info!(
        what,
        elapsed_ms = started.elapsed().as_millis(),
        "condition reached"
    );
}

/// Waits until each node is connected to exactly the given peers.
async fn wait_connected(nodes: &[(&Node, &[&Node])]) {
    for (node, expected) in nodes {
        let mut expected: Vec<NetworkKey> = expected.iter().map(|peer| peer.key()).collect();
        expected.sort();
        eventually("peers connected", || async {
            node.peers().await == expected
        })
        .await;
    }
}

/// Publishes once every one of `receivers` is subscribed to the topic (the
/// subscription exchange follows the connection by a moment), so that the
/// message goes to each of them directly.
async fn publish_reaching(node: &Node, topic: Topic, data: &[u8], receivers: &[NetworkKey]) {
    eventually("receivers subscribed", || async {
        let subscribed = node.network.client.topic_peers(topic).await;
        receivers
            .iter()
            .all(|receiver| subscribed.contains(receiver))
    })
    .await;
    node.network
        .client
        .publish(topic, data.to_vec())
        .await
        .unwrap();
}

/// Takes the next gossip message, reports Accept (as the application must),
/// and returns (topic, source, data).
async fn accept_next_gossip(node: &mut Node) -> (Topic, MessageId, NetworkKey, Vec<u8>) {
    let (topic, id, source, data) = node.next_gossip(&mut Vec::new()).await;
    node.network
        .client
        .report(id, source, Verdict::Accept)
        .await;
    (topic, id, source, data)
}

fn saw_peer_connected(events: &[NetworkEvent], peer: NetworkKey) -> bool {
    events
        .iter()
        .any(|event| matches!(event, NetworkEvent::PeerConnected(key) if *key == peer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_gossip_reaches_all_three_nodes_and_oversized_is_refused() {
    within_deadline(async {
        let all = [1, 2, 3];
        // A may publish more than B and C accept, to show the receivers'
        // limit holds whatever a sender does.
        let generous = NetworkLimits {
            gossip_tx_bytes_max: 4096,
            ..small_limits()
        };
        let a = Node::start(1, loopback_any_port(), &[], &all, generous).await;
        let mut b = Node::start(2, loopback_any_port(), &[&a], &all, small_limits()).await;
        let mut c = Node::start(3, loopback_any_port(), &[&a, &b], &all, small_limits()).await;
        wait_connected(&[(&a, &[&b, &c]), (&b, &[&a, &c]), (&c, &[&a, &b])]).await;

        let payload = b"transfer 10 USD from alice to bob".to_vec();
        publish_reaching(&a, Topic::Transactions, &payload, &[key(2), key(3)]).await;
        // Each receiver judges on its own, concurrently, as applications do.
        let (at_b, at_c) = tokio::join!(accept_next_gossip(&mut b), accept_next_gossip(&mut c));
        for (topic, id, source, data) in [at_b, at_c] {
            assert_eq!(topic, Topic::Transactions);
            assert_eq!(data, payload);
            assert_eq!(
                id.as_bytes(),
                &clearhouse_ledger::crypto::sha256(&[&payload]).0,
                "message id is the content hash"
            );
            assert!(source == key(1) || source == key(2) || source == key(3));
        }

        // Republishing the same bytes is a typed duplicate, not a crash.
        let again = a
            .network
            .client
            .publish(Topic::Transactions, payload.clone())
            .await;
        assert!(matches!(again, Err(NetworkError::Duplicate)), "{again:?}");

        // Over the sender's own limit: refused at publish.
        let too_large = b
            .network
            .client
            .publish(Topic::Transactions, vec![7; 1025])
            .await;
        assert!(
            matches!(
                too_large,
                Err(NetworkError::TooLarge {
                    size: 1025,
                    limit: 1024,
                    ..
                })
            ),
            "{too_large:?}"
        );
        // Within A's limit but over B's and C's: sent, never delivered.
        publish_reaching(&a, Topic::Transactions, &[8; 2000], &[key(2), key(3)]).await;
        for node in [&b, &c] {
            eventually("oversized gossip rejected", || async {
                node.network.client.stats().await.gossip_rejected_by_network >= 1
            })
            .await;
        }
        let marker = b"after the oversized one".to_vec();
        publish_reaching(&a, Topic::Consensus, &marker, &[key(2), key(3)]).await;
        let (at_b, at_c) = tokio::join!(accept_next_gossip(&mut b), accept_next_gossip(&mut c));
        for (topic, _, _, data) in [at_b, at_c] {
            assert_eq!(
                (topic, &data),
                (Topic::Consensus, &marker),
                "oversized was delivered"
            );
        }

        for node in [a, b, c] {
            node.network.shutdown().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_validation_gates_forwarding_in_a_line() {
    within_deadline(async {
        let all = [1, 2, 3];
        // A — B — C: A and C do not know each other's address.
        let a = Node::start(1, loopback_any_port(), &[], &all, small_limits()).await;
        let mut b = Node::start(2, loopback_any_port(), &[&a], &all, small_limits()).await;
        let mut c = Node::start(3, loopback_any_port(), &[&b], &all, small_limits()).await;
        wait_connected(&[(&a, &[&b]), (&b, &[&a, &c]), (&c, &[&b])]).await;

        let rejected = b"invalid vote".to_vec();
        publish_reaching(&a, Topic::Consensus, &rejected, &[key(2)]).await;
        let (_, id, source, data) = b.next_gossip(&mut Vec::new()).await;
        assert_eq!((data, source), (rejected.clone(), key(1)));
        b.network.client.report(id, source, Verdict::Reject).await;

        let accepted = b"valid vote".to_vec();
        publish_reaching(&a, Topic::Consensus, &accepted, &[key(2)]).await;
        let (_, id, source, data) = b.next_gossip(&mut Vec::new()).await;
        assert_eq!((data, source), (accepted.clone(), key(1)));
        b.network.client.report(id, source, Verdict::Accept).await;

        // C's first gossip is the accepted message, forwarded by B; the
        // rejected one, published earlier, never arrived.
        let (topic, id, source, data) = c.next_gossip(&mut Vec::new()).await;
        assert_eq!((topic, source), (Topic::Consensus, key(2)));
        assert_eq!(data, accepted, "a rejected message was forwarded");
        c.network.client.report(id, source, Verdict::Accept).await;

        for node in [a, b, c] {
            node.network.shutdown().await;
        }
    })
    .await;
}

/// A TCP connection that never starts its handshake is closed once the
/// handshake timeout passes: a stalled dialer holds no slot for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_a_stalled_handshake_is_cut_off() {
    use tokio::io::AsyncReadExt;
    within_deadline(async {
        let limits = NetworkLimits {
            handshake_timeout_ms: 300,
            ..small_limits()
        };
        let node = Node::start(1, loopback_any_port(), &[], &[2], limits).await;
        let started = std::time::Instant::now();
        let mut stalled = tokio::net::TcpStream::connect(node.address).await.unwrap();
        let mut buffer = [0u8; 256];
        // The node's multistream header may arrive first; then the close.
        loop {
            match stalled.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let waited = started.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(250),
            "closed before the timeout: {waited:?}"
        );
        // libp2p's own default would keep it 10 s; ours cut it at 0.3 s
        // (the bound leaves a loaded machine room).
        assert!(
            waited < std::time::Duration::from_secs(5),
            "a stalled handshake held its connection {waited:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_stranger_cannot_hold_a_connection_or_gossip() {
    within_deadline(async {
        let members = [1, 2];
        let mut a = Node::start(1, loopback_any_port(), &[], &members, small_limits()).await;
        let mut b = Node::start(2, loopback_any_port(), &[&a], &members, small_limits()).await;
        // The stranger allows everyone and dials both members.
        let stranger = Node::start(
            9,
            loopback_any_port(),
            &[&a, &b],
            &[1, 2, 9],
            small_limits(),
        )
        .await;
        wait_connected(&[(&a, &[&b]), (&b, &[&a])]).await;

        // Let the stranger try several times, publishing all along.
        let stranger_data = b"stranger's payment".to_vec();
        eventually("stranger refused repeatedly by both", || async {
            let _ = stranger
                .network
                .client
                .publish(Topic::Transactions, stranger_data.clone())
                .await;
            a.network.client.stats().await.connections_denied >= 2
                && b.network.client.stats().await.connections_denied >= 2
        })
        .await;
        assert!(!a.peers().await.contains(&stranger.key()));
        assert!(!b.peers().await.contains(&stranger.key()));

        // Members still gossip; the first gossip each sees is the member's.
        let member_data = b"member's payment".to_vec();
        publish_reaching(&a, Topic::Transactions, &member_data, &[key(2)]).await;
        let mut b_events = Vec::new();
        let (_, id, source, data) = b.next_gossip(&mut b_events).await;
        assert_eq!((data, source), (member_data, key(1)));
        b.network.client.report(id, source, Verdict::Accept).await;
        assert!(
            !saw_peer_connected(&b_events, stranger.key()),
            "{b_events:?}"
        );

        // Drain whatever A has seen so far: no PeerConnected for the stranger,
        // no gossip at all (A only published).
        let mut a_events = Vec::new();
        while let Ok(event) = a.network.events.try_recv() {
            a_events.push(event);
        }
        assert!(
            !saw_peer_connected(&a_events, stranger.key()),
            "{a_events:?}"
        );
        assert!(
            !a_events
                .iter()
                .any(|event| matches!(event, NetworkEvent::Gossip { .. })),
            "{a_events:?}"
        );

        for node in [a, b, stranger] {
            node.network.shutdown().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_sync_request_response_with_size_limits() {
    within_deadline(async {
        let all = [1, 2];
        let mut a = Node::start(1, loopback_any_port(), &[], &all, NetworkLimits::default()).await;
        let b_limits = NetworkLimits {
            sync_request_bytes_max: 64,
            sync_response_bytes_max: 1024,
            ..NetworkLimits::default()
        };
        let b = Node::start(2, loopback_any_port(), &[&a], &all, b_limits).await;
        wait_connected(&[(&a, &[&b]), (&b, &[&a])]).await;

        // Answers the next sync request on A with `answer`, or drops the
        // responder when `answer` is None.
        async fn serve(a: &mut Node, expected_request: &[u8], answer: Option<Vec<u8>>) {
            let (peer, data, responder) = a
                .next_matching(&mut Vec::new(), |event| match event {
                    NetworkEvent::SyncRequest {
                        peer,
                        data,
                        responder,
                    } => Ok((peer, data, responder)),
                    other => Err(other),
                })
                .await;
            assert_eq!((peer, data.as_slice()), (key(2), expected_request));
            match answer {
                Some(answer) => a.network.client.respond(responder, answer).await,
                None => drop(responder),
            }
        }

        let a_key = a.key();
        // A plain exchange.
        let (response, ()) = tokio::join!(
            b.network.client.request(a_key, b"blocks from 7".to_vec()),
            serve(&mut a, b"blocks from 7", Some(b"block 7".to_vec())),
        );
        assert_eq!(response.unwrap(), b"block 7");

        // A response over B's limit fails with a typed error.
        let (response, ()) = tokio::join!(
            b.network.client.request(a_key, b"blocks from 8".to_vec()),
            serve(&mut a, b"blocks from 8", Some(vec![0; 4096])),
        );
        assert!(
            matches!(
                response,
                Err(NetworkError::ResponseTooLarge {
                    size: 4096,
                    limit: 1024,
                    ..
                })
            ),
            "{response:?}"
        );

        // An unanswered request fails instead of hanging.
        let (response, ()) = tokio::join!(
            b.network.client.request(a_key, b"blocks from 9".to_vec()),
            serve(&mut a, b"blocks from 9", None),
        );
        assert!(
            matches!(response, Err(NetworkError::RequestFailed { .. })),
            "{response:?}"
        );

        // Refused locally: a request over B's limit, a peer not connected.
        let response = b.network.client.request(a_key, vec![0; 65]).await;
        assert!(
            matches!(response, Err(NetworkError::TooLarge { .. })),
            "{response:?}"
        );
        let response = b.network.client.request(key(3), vec![1]).await;
        assert!(
            matches!(response, Err(NetworkError::NotConnected { .. })),
            "{response:?}"
        );

        // The connection survived all of it.
        let (response, ()) = tokio::join!(
            b.network.client.request(a_key, b"blocks from 10".to_vec()),
            serve(&mut a, b"blocks from 10", Some(b"block 10".to_vec())),
        );
        assert_eq!(response.unwrap(), b"block 10");

        for node in [a, b] {
            node.network.shutdown().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_restarted_node_is_reconnected_by_its_peers() {
    within_deadline(async {
        let all = [1, 2, 3];
        let a = Node::start(1, loopback_any_port(), &[], &all, small_limits()).await;
        let a_address = a.address;
        let mut b = Node::start(2, loopback_any_port(), &[&a], &all, small_limits()).await;
        let mut c = Node::start(3, loopback_any_port(), &[&a, &b], &all, small_limits()).await;
        wait_connected(&[(&a, &[&b, &c]), (&b, &[&a, &c]), (&c, &[&a, &b])]).await;

        a.network.shutdown().await;
        for node in [&mut b, &mut c] {
            node.next_matching(&mut Vec::new(), |event| match event {
                NetworkEvent::PeerDisconnected(peer) if peer == key(1) => Ok(()),
                other => Err(other),
            })
            .await;
        }

        // Same identity, same port, and no peers of its own to dial: B and C
        // must find it again.
        let restarted_at = Instant::now();
        let a = Node::start(1, a_address, &[], &all, small_limits()).await;
        assert_eq!(a.address, a_address);
        wait_connected(&[(&a, &[&b, &c]), (&b, &[&a, &c]), (&c, &[&a, &b])]).await;
        tracing::info!(
            reconnect_ms = restarted_at.elapsed().as_millis(),
            "restarted node reconnected"
        );

        // And gossip flows again.
        let payload = b"after the restart".to_vec();
        publish_reaching(&a, Topic::Consensus, &payload, &[key(2), key(3)]).await;
        let (at_b, at_c) = tokio::join!(accept_next_gossip(&mut b), accept_next_gossip(&mut c));
        assert_eq!((at_b.3, at_c.3), (payload.clone(), payload));

        for node in [a, b, c] {
            node.network.shutdown().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_slow_application_loses_gossip_not_memory() {
    within_deadline(async {
        let all = [1, 2];
        let a = Node::start(1, loopback_any_port(), &[], &all, small_limits()).await;
        let tiny_queue = NetworkLimits {
            events_queue_max: 2,
            ..small_limits()
        };
        let mut b = Node::start(2, loopback_any_port(), &[&a], &all, tiny_queue).await;
        wait_connected(&[(&a, &[&b]), (&b, &[&a])]).await;

        // Empty B's queue (PeerConnected) so it holds gossip only; then B
        // does not read its events while A publishes ten messages.
        while let Ok(event) = b.network.events.try_recv() {
            assert!(matches!(event, NetworkEvent::PeerConnected(_)), "{event:?}");
        }
        let n_messages = 10;
        publish_reaching(&a, Topic::Transactions, b"message 0", &[key(2)]).await;
        for i in 1..n_messages {
            let data = format!("message {i}").into_bytes();
            a.network
                .client
                .publish(Topic::Transactions, data)
                .await
                .unwrap();
        }
        eventually("every message delivered or dropped", || async {
            let stats = b.network.client.stats().await;
            let queued = b.network.events.len() as u64;
            stats.gossip_dropped_queue_full >= 1
                && stats.gossip_dropped_queue_full + queued >= n_messages
        })
        .await;

        // What was kept is still there, in order, and can be judged.
        let mut delivered = 0;
        while let Ok(event) = b.network.events.try_recv() {
            if let NetworkEvent::Gossip { id, source, .. } = event {
                delivered += 1;
                b.network.client.report(id, source, Verdict::Accept).await;
            }
        }
        let dropped = b.network.client.stats().await.gossip_dropped_queue_full;
        assert!(delivered <= 2, "the queue bound was exceeded: {delivered}");
        assert_eq!(delivered + dropped, n_messages);

        for node in [a, b] {
            node.network.shutdown().await;
        }
    })
    .await;
}
