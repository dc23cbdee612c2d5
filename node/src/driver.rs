//! The driver: the tokio loop that hosts the [`Engine`]. It turns I/O into
//! engine events (network events, API commands, the clock, finished store
//! writes, signature checks and sync requests) and executes the effects the
//! engine returns, in order. It decides nothing: every policy lives in the
//! engine.
//!
//! Persist, then speak, checked here: every WAL append goes through a
//! [`PersistGuard`], and a message this validator signed is published only
//! if the guard says its record is synced; otherwise the driver stops with
//! [`DriverError::Unpersisted`] (our bug, never papered over).
//!
//! Blocking work runs off the async worker threads: WAL syncs and prunes,
//! store commits and signature checks go to the blocking pool. While the
//! engine waits (for a store write or a signature check), the loop polls
//! only what it waits for.
//!
//! The loop is biased: a landed commit first, then finished signature
//! checks, network events (consensus messages, gossiped payments, sync
//! requests), the clock, sync answers, and API commands last, so a flood of
//! payments cannot delay a vote.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use clearhouse_ledger::state::{self, Member};
use clearhouse_ledger::store::{Store, StoreError};
use clearhouse_ledger::{ChainId, Hash};

use crate::config::{Limits, Timeouts};
use crate::engine::{
    Effect, Engine, EngineConfig, EngineError, Event, Millis, Mutants, PersistGuard, Unpersisted,
};
use crate::mempool::{AdmitError, Mempool};
use crate::metrics::{Metrics, Phase};
use crate::network::{NetworkClient, NetworkEvent, NetworkKey, Responder, Topic};
use crate::verify::{Verified, job_verdicts};
use crate::wal::{Wal, WalRecord};
use crate::wire::{SyncRequest, SyncResponse};

pub use crate::engine::{Signer, Status};

/// A request from the API to the driver.
#[derive(Debug)]
pub enum Command {
    /// Admit transactions, gossip the admitted ones.
    Submit {
        /// The transactions, their signatures already checked off the loop
        /// (or why they could not be read or verified).
        transactions: Vec<Result<Verified, AdmitError>>,
        /// One result per transaction.
        reply: oneshot::Sender<Vec<Result<Hash, AdmitError>>>,
    },
    /// Whether a transaction is in the mempool, or in a decided block the
    /// store is still writing (it is not in the store yet).
    IsPending {
        /// The transaction id.
        id: Hash,
        /// The answer.
        reply: oneshot::Sender<bool>,
    },
}

/// A fatal driver failure: the node stops rather than risk its promises.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The WAL failed: a validator must not speak unpersisted.
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    /// The engine found a broken invariant of our own.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    /// A signed message was about to leave before its WAL record was synced.
    #[error(transparent)]
    Unpersisted(#[from] Unpersisted),
    /// A task of the driver's failed.
    #[error("cannot commit height {height}: {reason}")]
    Commit {
        /// The height.
        height: u64,
        /// Why.
        reason: String,
    },
}

/// Everything the driver needs.
pub struct DriverParts {
    /// The chain.
    pub chain_id: ChainId,
    /// The store.
    pub store: Store,
    /// Identities allowed whatever the member list says: the configured
    /// observers and peers.
    pub fixed_peers: Vec<NetworkKey>,
    /// `Some` for a validator.
    pub signer: Option<Signer>,
    /// The WAL and its records (validators only).
    pub wal: Option<(Wal, Vec<WalRecord>)>,
    /// The mempool.
    pub mempool: Mempool,
    /// The network.
    pub network: NetworkClient,
    /// Network events.
    pub events: mpsc::Receiver<NetworkEvent>,
    /// API commands.
    pub commands: mpsc::Receiver<Command>,
    /// Status for the API.
    pub status: watch::Sender<Status>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Bounds.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Stops the loop.
    pub shutdown: watch::Receiver<bool>,
}

/// One event taking longer than this (with its effects) is logged: every
/// other event waited that long.
const SLOW_EVENT_MS: u128 = 250;

/// The engine's clock: Unix milliseconds at start plus the monotonic time
/// since, so timers never jump with the wall clock and block timestamps
/// stay Unix times.
struct Clock {
    started: Instant,
    started_unix_ms: Millis,
}

impl Clock {
    fn new() -> Clock {
        let started_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            started: Instant::now(),
            started_unix_ms,
        }
    }

    fn now(&self) -> Millis {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.started_unix_ms.saturating_add(elapsed)
    }

    fn instant(&self, at: Millis) -> tokio::time::Instant {
        let after = Duration::from_millis(at.saturating_sub(self.started_unix_ms));
        tokio::time::Instant::from_std(self.started + after)
    }
}

/// A store write, finished.
struct Landed {
    height: u64,
    stored: Result<Duration, StoreError>,
}

struct Driver {
    chain_id: ChainId,
    engine: Engine,
    store: Store,
    fixed_peers: Vec<NetworkKey>,
    wal: Option<Wal>,
    guard: PersistGuard,
    network: NetworkClient,
    status: watch::Sender<Status>,
    metrics: Arc<Metrics>,
    clock: Clock,
    committing: JoinSet<Landed>,
    verifying: JoinSet<(u64, Vec<Option<Verified>>)>,
    sync_tasks: JoinSet<Event>,
    next_request: u64,
    responders: HashMap<u64, Responder>,
    submit_replies: HashMap<u64, oneshot::Sender<Vec<Result<Hash, AdmitError>>>>,
    pending_replies: HashMap<u64, oneshot::Sender<bool>>,
}

/// The identities the network admits: every active member's (a suspended
/// or removed bank's node may no longer hold a connection) and the fixed
/// ones (configured observers and peers).
///
/// A fixed key that is any member's network key (active, suspended or
/// removed) follows the member list like every member's: a bank's node is
/// usually also a configured peer of the others, and being configured must
/// not keep a removed or suspended bank connected.
pub fn allowed_peers(members: &[Member], fixed: &[NetworkKey]) -> Vec<NetworkKey> {
    let mut allowed: Vec<NetworkKey> = members
        .iter()
        .filter(|m| m.is_active())
        .map(|m| NetworkKey(m.network_key))
        .collect();
    for key in fixed {
        let a_member = members.iter().any(|m| NetworkKey(m.network_key) == *key);
        if !a_member && !allowed.contains(key) {
            allowed.push(*key);
        }
    }
    allowed
}

/// Runs the driver until shutdown or a fatal error.
pub async fn run(parts: DriverParts) -> Result<(), DriverError> {
    let DriverParts {
        chain_id,
        store,
        fixed_peers,
        signer,
        wal,
        mempool,
        network,
        mut events,
        mut commands,
        status,
        metrics,
        limits,
        timeouts,
        mut shutdown,
    } = parts;
    let clock = Clock::new();
    let engine = Engine::new(
        EngineConfig {
            chain_id,
            signer,
            limits,
            timeouts,
            mutants: Mutants::default(),
        },
        Arc::new(store.clone()),
        mempool,
        metrics.clone(),
        clock.now(),
    )?;
    let (wal, records) = match wal {
        Some((wal, records)) => (Some(wal), records),
        None => (None, Vec::new()),
    };
    let mut driver = Driver {
        chain_id,
        engine,
        store,
        fixed_peers,
        wal,
        guard: PersistGuard::recovered(&records),
        network,
        status,
        metrics,
        clock,
        committing: JoinSet::new(),
        verifying: JoinSet::new(),
        sync_tasks: JoinSet::new(),
        next_request: 0,
        responders: HashMap::new(),
        submit_replies: HashMap::new(),
        pending_replies: HashMap::new(),
    };
    driver
        .feed(Event::Start { wal: records }, Phase::Timers)
        .await?;
    driver.publish_status()?;
    let result = driver
        .run_loop(&mut events, &mut commands, &mut shutdown)
        .await;
    // A decided block in flight lands before the driver stops.
    while let Some(joined) = driver.committing.join_next().await {
        driver.landed(joined)?;
    }
    // Every committed block is already durable in the history; writing the
    // state now only spares the next start replaying the last blocks.
    if let Err(error) = driver.store.flush() {
        tracing::warn!(%error, "writing the state at shutdown failed; the next start replays it");
    }
    driver.sync_tasks.shutdown().await;
    driver.verifying.shutdown().await;
    result
}

impl Driver {
    async fn run_loop(
        &mut self,
        events: &mut mpsc::Receiver<NetworkEvent>,
        commands: &mut mpsc::Receiver<Command>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), DriverError> {
        loop {
            let free = self.engine.waiting().is_none();
            let wake = self.engine.next_wake().map(|at| self.clock.instant(at));
            let timer = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = shutdown.changed() => return Ok(()),
                Some(joined) = self.committing.join_next() => {
                    let (height, store_ms) = self.landed(joined)?;
                    self.feed(Event::Committed { height, store_ms }, Phase::Commit).await?;
                }
                Some(joined) = self.verifying.join_next() => {
                    let (job, results) = joined.map_err(|error| DriverError::Commit {
                        height: 0,
                        reason: format!("a signature check task failed: {error}"),
                    })?;
                    self.feed(Event::Verified { job, results }, Phase::Verified).await?;
                }
                event = events.recv(), if free => match event {
                    Some(event) => self.on_network(event).await?,
                    None => return Ok(()),
                },
                () = timer, if free => self.feed(Event::Tick, Phase::Timers).await?,
                Some(joined) = self.sync_tasks.join_next(), if free => {
                    if let Ok(event) = joined {
                        self.feed(event, Phase::SyncApply).await?;
                    }
                }
                command = commands.recv(), if free => match command {
                    Some(command) => self.on_command(command).await?,
                    None => return Ok(()),
                },
            }
            self.publish_status()?;
        }
    }

    /// Feeds one event to the engine and executes its effects, timing both.
    async fn feed(&mut self, event: Event, phase: Phase) -> Result<(), DriverError> {
        let started = Instant::now();
        let effects = self.engine.on(self.clock.now(), event)?;
        self.execute(effects).await?;
        let elapsed = started.elapsed();
        self.metrics.add_busy(phase, elapsed);
        if elapsed.as_millis() >= SLOW_EVENT_MS {
            tracing::warn!(
                phase = phase.name(),
                elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                "slow driver event"
            );
        }
        Ok(())
    }

    fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    async fn on_network(&mut self, event: NetworkEvent) -> Result<(), DriverError> {
        match event {
            NetworkEvent::Listening(address) => {
                tracing::info!(%address, "listening");
                Ok(())
            }
            NetworkEvent::PeerConnected(peer) => {
                self.feed(Event::PeerConnected(peer), Phase::ConsensusGossip)
                    .await
            }
            NetworkEvent::PeerDisconnected(peer) => {
                self.feed(Event::PeerDisconnected(peer), Phase::ConsensusGossip)
                    .await
            }
            NetworkEvent::Gossip {
                topic,
                id,
                source,
                data,
            } => {
                let phase = match topic {
                    Topic::Transactions => Phase::TxGossip,
                    Topic::Consensus => Phase::ConsensusGossip,
                };
                self.feed(
                    Event::Gossip {
                        topic,
                        id,
                        source,
                        data,
                    },
                    phase,
                )
                .await
            }
            NetworkEvent::SyncRequest {
                peer,
                data,
                responder,
            } => {
                let request = self.request_id();
                self.responders.insert(request, responder);
                self.feed(
                    Event::SyncRequest {
                        peer,
                        request,
                        data,
                    },
                    Phase::SyncAnswer,
                )
                .await
            }
        }
    }

    async fn on_command(&mut self, command: Command) -> Result<(), DriverError> {
        let request = self.request_id();
        match command {
            Command::Submit {
                transactions,
                reply,
            } => {
                self.submit_replies.insert(request, reply);
                self.feed(
                    Event::Submit {
                        request,
                        transactions,
                    },
                    Phase::ApiSubmit,
                )
                .await
            }
            Command::IsPending { id, reply } => {
                self.pending_replies.insert(request, reply);
                self.feed(Event::IsPending { request, id }, Phase::ApiSubmit)
                    .await
            }
        }
    }

    /// A store write finished: its error is fatal.
    fn landed(
        &mut self,
        joined: Result<Landed, tokio::task::JoinError>,
    ) -> Result<(u64, u64), DriverError> {
        let landed = joined.map_err(|error| DriverError::Commit {
            height: 0,
            reason: format!("the store write stopped: {error}"),
        })?;
        let stored = landed.stored?;
        Ok((
            landed.height,
            u64::try_from(stored.as_millis()).unwrap_or(u64::MAX),
        ))
    }

    /// Executes effects in order.
    async fn execute(&mut self, effects: Vec<Effect>) -> Result<(), DriverError> {
        for effect in effects {
            match effect {
                Effect::WalAppend { record, sync } => self.wal_append(record, sync).await?,
                Effect::WalPrune { from_height, keep } => {
                    if let Some(mut wal) = self.wal.take() {
                        let (wal, result, keep) = tokio::task::spawn_blocking(move || {
                            let result = wal.prune_below(from_height, &keep);
                            (wal, result, keep)
                        })
                        .await
                        .map_err(|error| DriverError::Commit {
                            height: from_height,
                            reason: format!("the WAL prune stopped: {error}"),
                        })?;
                        self.wal = Some(wal);
                        result?;
                        self.guard.pruned(&keep);
                    }
                }
                Effect::Publish {
                    topic,
                    data,
                    signed,
                } => {
                    if let Some(id) = signed {
                        self.guard.check_publish(&id)?;
                    }
                    if let Err(error) = self.network.publish(topic, data).await {
                        tracing::debug!(%error, ?topic, "publish");
                    }
                }
                Effect::Report {
                    id,
                    source,
                    verdict,
                } => self.network.report(id, source, verdict).await,
                Effect::Commit {
                    outcome,
                    certificate,
                    by_sync: _,
                } => {
                    // The network follows the chain's member list.
                    if let Ok(Some(members)) =
                        outcome.written::<Vec<Member>>(&state::StateKey::Members)
                    {
                        let allowed = allowed_peers(&members, &self.fixed_peers);
                        let dial = members
                            .iter()
                            .filter(|m| m.is_active())
                            .map(|m| (NetworkKey(m.network_key), m.addresses.clone()))
                            .collect();
                        tracing::info!(
                            height = outcome.block.header.height,
                            peers = allowed.len(),
                            "the member list changed: the network follows"
                        );
                        self.network.admit(allowed, dial).await;
                    }
                    let store = self.store.clone();
                    let height = outcome.block.header.height;
                    self.committing.spawn_blocking(move || {
                        let started = Instant::now();
                        Landed {
                            height,
                            stored: store
                                .commit(&outcome, &certificate)
                                .map(|()| started.elapsed()),
                        }
                    });
                }
                Effect::Verify {
                    job,
                    transactions,
                    all_cores,
                } => {
                    let chain_id = self.chain_id;
                    self.verifying.spawn_blocking(move || {
                        (job, job_verdicts(transactions, &chain_id, all_cores))
                    });
                }
                Effect::SyncRequest { peer, request } => self.sync_request(peer, request),
                Effect::Respond { request, data } => {
                    if let Some(responder) = self.responders.remove(&request) {
                        match data {
                            Some(data) => self.network.respond(responder, data).await,
                            // Dropped unanswered: the requester's call fails.
                            None => drop(responder),
                        }
                    }
                }
                Effect::Submitted { request, results } => {
                    if let Some(reply) = self.submit_replies.remove(&request) {
                        let _ = reply.send(results);
                    }
                }
                Effect::Pending { request, pending } => {
                    if let Some(reply) = self.pending_replies.remove(&request) {
                        let _ = reply.send(pending);
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends to the WAL; a synced append runs on the blocking pool (an
    /// fsync can take milliseconds) and the next effect waits for it.
    async fn wal_append(&mut self, record: WalRecord, sync: bool) -> Result<(), DriverError> {
        let Some(mut wal) = self.wal.take() else {
            return Ok(());
        };
        let (wal, result, record) = if sync {
            tokio::task::spawn_blocking(move || {
                let result = wal.append_record(&record, true);
                (wal, result, record)
            })
            .await
            .map_err(|error| DriverError::Commit {
                height: 0,
                reason: format!("the WAL append stopped: {error}"),
            })?
        } else {
            let result = wal.append_record(&record, false);
            (wal, result, record)
        };
        self.wal = Some(wal);
        result?;
        self.guard.appended(&record, sync);
        Ok(())
    }

    fn sync_request(&mut self, peer: crate::network::NetworkKey, request: SyncRequest) {
        let Ok(bytes) = request.encode() else {
            return;
        };
        let network = self.network.clone();
        let blocks = matches!(request, SyncRequest::Blocks { .. });
        self.sync_tasks.spawn(async move {
            let response = match network.request(peer, bytes).await {
                Ok(reply) => SyncResponse::decode(&reply).ok(),
                Err(_) => None,
            };
            Event::SyncAnswer {
                peer,
                response,
                blocks,
            }
        });
    }

    fn publish_status(&self) -> Result<(), DriverError> {
        let status = self.engine.status()?;
        self.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clearhouse_ledger::AccountId;
    use clearhouse_ledger::ids::MemberId;
    use clearhouse_ledger::state::governance::MemberStatus;
    use clearhouse_ledger::validators::ValidatorKey;

    use super::*;

    fn member(n: u8, status: MemberStatus) -> Member {
        Member {
            id: MemberId::new(&format!("bank-{n}")).unwrap(),
            name: format!("Bank {n}"),
            validator_key: ValidatorKey([n; 32]),
            network_key: [n; 32],
            voting_power: 10,
            treasury: AccountId([n; 32]),
            api_key: None,
            sealing_key: None,
            governance: AccountId([n; 32]),
            status,
            addresses: Vec::new(),
        }
    }

    /// Every bank's node is a configured peer of the others: a removed or
    /// suspended one must still be cut off, while an observer (no member's
    /// key) stays allowed.
    #[test]
    fn a_configured_peer_that_is_a_member_follows_the_member_list() {
        let members = [
            member(1, MemberStatus::Active),
            member(2, MemberStatus::Removed),
            member(3, MemberStatus::Suspended),
        ];
        let observer = NetworkKey([9; 32]);
        let fixed = [
            NetworkKey([1; 32]),
            NetworkKey([2; 32]),
            NetworkKey([3; 32]),
            observer,
        ];
        let mut allowed = allowed_peers(&members, &fixed);
        allowed.sort();
        assert_eq!(allowed, vec![NetworkKey([1; 32]), observer]);
        // Reinstated, the suspended bank is allowed again.
        let reinstated = [
            member(1, MemberStatus::Active),
            member(3, MemberStatus::Active),
        ];
        let mut allowed = allowed_peers(&reinstated, &fixed);
        allowed.sort();
        assert_eq!(
            allowed,
            vec![
                NetworkKey([1; 32]),
                NetworkKey([2; 32]),
                NetworkKey([3; 32]),
                observer
            ]
        );
    }
}
