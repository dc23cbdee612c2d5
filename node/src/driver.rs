//! The driver: the one loop that owns the node's state and turns events
//! (gossip, API commands, timers, sync answers) into consensus inputs, and
//! consensus outputs into signatures, WAL records, gossip and commits.
//!
//! Persist, then speak: for every message the consensus machine asks to
//! sign, the driver appends it to the WAL and flushes *before* it is
//! published or fed back.
//!
//! Empty blocks: a validator does not start the next height while it has no
//! work. After a commit (or at start) it idles at the next height until a
//! transaction enters its mempool or a consensus message for that height (or
//! above) arrives from a peer that has work; then it starts the height, and a
//! proposer whose mempool is empty proposes an empty block. So an idle
//! network sends nothing, and heights advance as soon as there is work.
//!
//! Sync: when a peer reports (or a message shows) a higher committed height,
//! the driver fetches the missing blocks with their certificates, checks each
//! certificate against the validator set, re-executes the block (every
//! signature checked), commits it, and then joins consensus above it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use clearhouse_consensus as consensus;
use clearhouse_consensus::{Height, Input, Machine, Output, Round, ValidatorIndex};
use clearhouse_ledger::certificate::{CommitCertificate, CommitVote, VoteKind};
use clearhouse_ledger::crypto::{Keypair, Signature};
use clearhouse_ledger::state::overlay::{Decided, Overlay};
use clearhouse_ledger::state::{self, BlockOutcome, Signatures};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::validators::{ValidatorKey, ValidatorSet};
use clearhouse_ledger::{Block, ChainId, Hash};

use crate::config::{Limits, Timeouts};
use crate::mempool::{AdmitError, Mempool, Verified, on_all_cores};
use crate::metrics::{CheckSource, Metrics, Phase};
use crate::network::{MessageId, NetworkClient, NetworkEvent, NetworkKey, Topic, Verdict};
use crate::wal::{Wal, WalRecord};
use crate::wire::{
    ConsensusGossip, ConsensusMessage, SYNC_BLOCKS_MAX, SignedProposal, SignedVote, SyncRequest,
    SyncResponse, TxBatch,
};

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

/// What the node shows on `/v1/status`, refreshed by the driver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Last committed height.
    pub height: u64,
    /// Its block hash (the chain id at genesis).
    pub block_hash: Hash,
    /// The state root after it.
    pub state_root: Hash,
    /// The consensus round of the next height.
    pub round: u32,
    /// Connected peers.
    pub peers: Vec<NetworkKey>,
    /// Transactions in the mempool.
    pub mempool_size: usize,
}

/// A fatal driver failure: the node stops rather than risk its promises.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] clearhouse_ledger::store::StoreError),
    /// The WAL failed: a validator must not speak unpersisted.
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    /// A decided block could not be committed.
    #[error("cannot commit height {height}: {reason}")]
    Commit {
        /// The height.
        height: u64,
        /// Why.
        reason: String,
    },
}

/// This validator's identity in consensus.
pub struct Signer {
    /// Its index in the validator set.
    pub index: ValidatorIndex,
    /// Its key.
    pub key: Keypair,
}

/// Everything the driver needs.
pub struct DriverParts {
    /// The chain.
    pub chain_id: ChainId,
    /// The store.
    pub store: Store,
    /// The validators (fixed for the chain's life until governance arrives).
    pub validators: ValidatorSet,
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

/// Why a synced block was not committed.
enum SyncFailure {
    /// The peer sent something that does not verify.
    Peer(String),
    /// Our own store or WAL failed: stop the node.
    Fatal(DriverError),
}

/// The result of a spawned sync request.
enum SyncAnswer {
    Status {
        peer: NetworkKey,
        height: u64,
    },
    Blocks {
        peer: NetworkKey,
        blocks: Vec<(Block, CommitCertificate)>,
    },
    Failed {
        peer: NetworkKey,
        blocks: bool,
    },
}

/// Most blocks kept per (height, round): the proposer's, and a few more if
/// it equivocates.
const BLOCKS_PER_SLOT_MAX: usize = 2;
/// Rounds ahead of the current one whose messages are kept and persisted.
const ROUNDS_AHEAD_MAX: u32 = 16;
/// Most received messages persisted per height (own messages always are).
const RECEIVED_RECORDS_MAX: usize = 50_000;
/// Most consensus messages kept while idle.
const IDLE_BUFFER_MAX: usize = 1_024;
/// Most submit times kept for latency metrics.
const SUBMIT_TIMES_MAX: usize = 200_000;
/// Most gossiped transaction batches waiting for a signature check. More
/// are ignored (not forwarded, not admitted here): under overload this node
/// sheds transaction gossip rather than delay consensus behind it. A
/// dropped payment still reaches this node in a proposal, where it is
/// verified then.
const TX_GOSSIP_QUEUE_MAX: usize = 64;
/// Most gossiped batches whose signatures are being checked at once, on the
/// blocking pool.
const TX_CHECKS_IN_FLIGHT_MAX: usize = 2;
/// Most transactions kept verified outside the mempool (two full blocks'
/// worth is plenty; when full it is emptied).
const VERIFIED_CACHE_MAX: usize = 20_000;

/// A gossiped transaction batch waiting for, or back from, its check.
struct TxGossip {
    id: MessageId,
    source: NetworkKey,
    data: Vec<u8>,
}

/// A gossiped batch after its signature checks: every transaction
/// verified, or the batch is invalid.
struct TxChecked {
    id: MessageId,
    source: NetworkKey,
    /// The transactions the task carries (checked by it, or checked
    /// before and taken from `verified`).
    checked_ids: Vec<Hash>,
    transactions: Option<Vec<Verified>>,
}

/// A pending block's store write, finished.
struct Landed {
    height: u64,
    by_sync: bool,
    /// How long the store took, or why it failed.
    stored: Result<Duration, clearhouse_ledger::store::StoreError>,
}

/// The state the next height executes on: the decided block the store is
/// still writing, if any, over the store.
fn view<'a>(store: &'a Store, pending: &'a Option<Decided>) -> Overlay<'a> {
    Overlay::new(store, pending.as_ref())
}

struct Driver {
    chain_id: ChainId,
    store: Store,
    validators: ValidatorSet,
    keys: Vec<ValidatorKey>,
    signer: Option<Signer>,
    wal: Option<Wal>,
    wal_records: Vec<WalRecord>,
    machine: Machine<Hash, Signature>,
    mempool: Mempool,
    network: NetworkClient,
    status: watch::Sender<Status>,
    metrics: Arc<Metrics>,
    limits: Limits,
    timeouts: Timeouts,
    timers: BTreeMap<(Instant, u64), (Height, Round, consensus::TimeoutKind)>,
    timer_sequence: u64,
    gossip_sequence: u64,
    /// Blocks proposed at the current or next height, by hash.
    proposals: HashMap<Hash, Block>,
    /// Blocks executed on the current tip, by hash.
    executed: HashMap<Hash, BlockOutcome>,
    /// The decided block the store is still writing (at most one): the
    /// next height executes on it over the store (see [`Driver::settle`]).
    pending: Option<Decided>,
    /// The store's write of `pending`, on the blocking pool.
    committing: JoinSet<Landed>,
    /// Messages already fed, by (signer, signature) (deduplication across
    /// re-sends).
    seen: HashSet<Hash>,
    /// Idle at the next height (no work yet).
    idle: bool,
    /// Start the next height once the current inputs are processed.
    want_start: bool,
    idle_buffer: Vec<ConsensusMessage>,
    /// The highest committed height any peer reported, and who.
    sync_target: Option<(u64, NetworkKey)>,
    sync_in_flight: bool,
    sync_tasks: JoinSet<SyncAnswer>,
    /// The consensus machine's view of the validators (proposer rotation).
    schedule: consensus::ValidatorSet,
    /// Blocks kept per (height, round): at most a few, from that round's proposer.
    proposals_per_slot: HashMap<(u64, u32), usize>,
    /// A message for the height after the next was seen: work is waiting.
    next_height_seen: bool,
    /// When each peer was last asked for its status.
    status_asked: HashMap<NetworkKey, Instant>,
    submit_times: HashMap<Hash, Instant>,
    peers: Vec<NetworkKey>,
    /// When the last block was committed (or the driver started).
    last_commit: Instant,
    /// When this node started its current height.
    height_started: Instant,
    /// Gossiped transaction batches waiting for a signature check.
    tx_gossip_queue: std::collections::VecDeque<TxGossip>,
    /// Signature checks of gossiped batches, on the blocking pool.
    tx_checks: JoinSet<TxChecked>,
    /// Transactions verified while checking a proposal but not (yet) in
    /// the mempool: their gossip, when it is processed later, is admitted
    /// without a second signature check.
    verified: HashMap<Hash, Verified>,
    /// Ids of the transactions a gossip check task is checking now: a
    /// proposal carrying one waits for that check instead of repeating it.
    checking: HashSet<Hash>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn consensus_kind(kind: VoteKind) -> consensus::VoteKind {
    match kind {
        VoteKind::Prevote => consensus::VoteKind::Prevote,
        VoteKind::Precommit => consensus::VoteKind::Precommit,
    }
}

fn ledger_kind(kind: consensus::VoteKind) -> VoteKind {
    match kind {
        consensus::VoteKind::Prevote => VoteKind::Prevote,
        consensus::VoteKind::Precommit => VoteKind::Precommit,
    }
}

/// The consensus machine's view of a validator set.
pub fn consensus_validators(validators: &ValidatorSet) -> Option<consensus::ValidatorSet> {
    consensus::ValidatorSet::new(
        validators
            .validators()
            .iter()
            .map(|v| v.voting_power)
            .collect(),
    )
    .ok()
}

/// The consensus machine configuration from the node's.
pub fn machine_config(
    validators: &ValidatorSet,
    me: Option<ValidatorIndex>,
    timeouts: &Timeouts,
) -> Option<consensus::Config> {
    let mut config = consensus::Config::new(consensus_validators(validators)?, me);
    config.timeouts = consensus::TimeoutParams {
        timeout_propose_ms: timeouts.propose_ms,
        timeout_propose_delta_ms: timeouts.propose_delta_ms,
        timeout_prevote_ms: timeouts.prevote_ms,
        timeout_prevote_delta_ms: timeouts.prevote_delta_ms,
        timeout_precommit_ms: timeouts.precommit_ms,
        timeout_precommit_delta_ms: timeouts.precommit_delta_ms,
    };
    Some(config)
}

/// Runs the driver until shutdown or a fatal error.
pub async fn run(parts: DriverParts) -> Result<(), DriverError> {
    let DriverParts {
        chain_id,
        store,
        validators,
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
    let keys: Vec<ValidatorKey> = validators.validators().iter().map(|v| v.key).collect();
    let me = signer.as_ref().map(|s| s.index);
    let config = machine_config(&validators, me, &timeouts).ok_or_else(|| DriverError::Commit {
        height: 0,
        reason: "the validator set does not fit the consensus machine".into(),
    })?;
    let (wal, wal_records) = match wal {
        Some((wal, records)) => (Some(wal), records),
        None => (None, Vec::new()),
    };
    let tip = store.tip()?;
    let resume_height = tip.height + 1;
    let current: Vec<WalRecord> = wal_records
        .into_iter()
        .filter(|r| r.height() >= resume_height)
        .collect();
    let mut driver = Driver {
        chain_id,
        store,
        validators,
        keys,
        signer,
        wal,
        wal_records: Vec::new(),
        machine: Machine::new(config.clone()),
        mempool,
        network,
        status,
        metrics,
        limits,
        timeouts,
        timers: BTreeMap::new(),
        timer_sequence: 0,
        gossip_sequence: 0,
        proposals: HashMap::new(),
        executed: HashMap::new(),
        pending: None,
        committing: JoinSet::new(),
        seen: HashSet::new(),
        idle: true,
        want_start: false,
        idle_buffer: Vec::new(),
        sync_target: None,
        sync_in_flight: false,
        sync_tasks: JoinSet::new(),
        schedule: config.validators.clone(),
        proposals_per_slot: HashMap::new(),
        next_height_seen: false,
        status_asked: HashMap::new(),
        submit_times: HashMap::new(),
        peers: Vec::new(),
        last_commit: Instant::now(),
        height_started: Instant::now(),
        tx_gossip_queue: std::collections::VecDeque::new(),
        tx_checks: JoinSet::new(),
        verified: HashMap::new(),
        checking: HashSet::new(),
    };
    // Restart: rebuild the machine from what this validator signed, resume
    // the height, and replay what it had received.
    let signed: Vec<consensus::Message<Hash>> = current
        .iter()
        .filter_map(|record| match record {
            WalRecord::Signed(message) => driver.unsigned(message),
            WalRecord::Received(_) => None,
        })
        .collect();
    driver.machine = Machine::restore(config, signed);
    if !current.is_empty() {
        tracing::info!(
            height = resume_height,
            records = current.len(),
            "resuming from the WAL"
        );
        driver.wal_records = current.clone();
        // Blocks first: the resumed round may re-send this validator's own
        // proposal, which needs its block.
        for record in &current {
            let (WalRecord::Signed(message) | WalRecord::Received(message)) = record;
            driver.remember_proposal(message);
        }
        driver.start_height().await?;
        for record in &current {
            let (WalRecord::Signed(message) | WalRecord::Received(message)) = record;
            if let Some(input) = driver.signed_input(message) {
                driver.feed(input).await?;
            }
        }
    } else if driver.deadlines_due() {
        driver.start_height().await?;
    }
    driver.publish_status();
    let mut rebroadcast = tokio::time::interval(Duration::from_millis(
        driver.timeouts.rebroadcast_ms.max(50),
    ));
    rebroadcast.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut deadline_ticks = tokio::time::interval(Duration::from_millis(
        (driver.timeouts.deadline_block_ms / 4).max(20),
    ));
    deadline_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next_timer = driver.timers.keys().next().map(|(at, _)| *at);
        let timer = async {
            match next_timer {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        let check_more =
            !driver.tx_gossip_queue.is_empty() && driver.tx_checks.len() < TX_CHECKS_IN_FLIGHT_MAX;
        // Biased: a landed commit, then finished gossip checks (at most
        // TX_CHECKS_IN_FLIGHT_MAX batches run at once, so this is bounded),
        // then consensus messages, timers and sync; API submissions and
        // starting the next gossip check last, so a flood of payments
        // cannot delay a proposal or a vote by more than two batches'
        // admission.
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some(joined) = driver.committing.join_next() => {
                let started = Instant::now();
                driver.landed(joined)?;
                driver.start_if_deadline_due().await?;
                driver.busy(Phase::Commit, started);
            }
            // Finished gossip checks next: at most TX_CHECKS_IN_FLIGHT_MAX
            // batches, and a payment left waiting here is one a proposal
            // would make this node check again on its critical path, and
            // one its own proposal would lack.
            Some(joined) = driver.tx_checks.join_next() => {
                if let Ok(checked) = joined {
                    let started = Instant::now();
                    driver.on_tx_checked(checked).await?;
                    driver.busy(Phase::TxGossip, started);
                }
                if driver.tx_checks.is_empty() {
                    // A task that panicked or was cancelled left its ids.
                    driver.checking.clear();
                }
            }
            event = events.recv() => match event {
                Some(event) => {
                    let started = Instant::now();
                    let phase = match &event {
                        NetworkEvent::Gossip { topic: Topic::Transactions, .. } => Phase::TxGossip,
                        NetworkEvent::SyncRequest { .. } => Phase::SyncAnswer,
                        _ => Phase::ConsensusGossip,
                    };
                    driver.on_network(event).await?;
                    driver.busy(phase, started);
                }
                None => break,
            },
            () = timer => {
                let started = Instant::now();
                driver.on_timers().await?;
                driver.busy(Phase::Timers, started);
            }
            Some(joined) = driver.sync_tasks.join_next() => {
                if let Ok(answer) = joined {
                    let started = Instant::now();
                    driver.on_sync(answer).await?;
                    driver.busy(Phase::SyncApply, started);
                }
            }
            // Before payments too: re-sending lost consensus messages is
            // what keeps a loaded network live.
            _ = rebroadcast.tick() => {
                let started = Instant::now();
                driver.rebroadcast().await;
                driver.busy(Phase::Timers, started);
            }
            _ = deadline_ticks.tick() => {
                let started = Instant::now();
                driver.deadline_tick().await?;
                driver.busy(Phase::Timers, started);
            }
            command = commands.recv() => match command {
                Some(command) => {
                    let started = Instant::now();
                    driver.on_command(command).await?;
                    driver.busy(Phase::ApiSubmit, started);
                }
                None => break,
            },
            // Starting a check last: the queue can hold many batches, and
            // only finishing the (at most two) running ones goes first.
            () = std::future::ready(()), if check_more => driver.check_next_tx_gossip(),
        }
        driver.publish_status();
    }
    // A decided block in flight lands before the driver stops.
    let landed = driver.settle().await;
    driver.sync_tasks.shutdown().await;
    driver.tx_checks.shutdown().await;
    landed
}

/// One driver event taking longer than this is logged: every other event
/// (votes, API submissions) waited that long.
const SLOW_EVENT_MS: u128 = 250;

impl Driver {
    /// Records time spent in a phase, and warns about a slow one.
    fn busy(&self, phase: Phase, started: Instant) {
        let elapsed = started.elapsed();
        self.metrics.add_busy(phase, elapsed);
        if elapsed.as_millis() >= SLOW_EVENT_MS {
            tracing::warn!(
                phase = phase.name(),
                elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                "slow driver event"
            );
        }
    }

    fn index_of(&self, key: &ValidatorKey) -> Option<ValidatorIndex> {
        self.keys
            .iter()
            .position(|k| k == key)
            .and_then(|i| u32::try_from(i).ok())
            .map(ValidatorIndex)
    }

    fn key_of(&self, index: ValidatorIndex) -> Option<ValidatorKey> {
        self.keys.get(index.0 as usize).copied()
    }

    /// A wire message as the consensus machine's unsigned message.
    fn unsigned(&self, message: &ConsensusMessage) -> Option<consensus::Message<Hash>> {
        Some(match message {
            ConsensusMessage::Proposal(p) => consensus::Message::Proposal(consensus::Proposal {
                height: Height(p.height),
                round: Round(p.round),
                value: p.block.hash().ok()?,
                valid_round: p.valid_round.map(Round),
                proposer: self.index_of(&p.proposer)?,
            }),
            ConsensusMessage::Vote(v) => consensus::Message::Vote(consensus::Vote {
                height: Height(v.height),
                round: Round(v.round),
                kind: consensus_kind(v.kind),
                value: v.block_hash,
                validator: self.index_of(&v.validator)?,
            }),
        })
    }

    /// A verified wire message as a consensus input.
    fn signed_input(&self, message: &ConsensusMessage) -> Option<Input<Hash, Signature>> {
        let signature = match message {
            ConsensusMessage::Proposal(p) => p.signature,
            ConsensusMessage::Vote(v) => v.signature,
        };
        Some(match self.unsigned(message)? {
            consensus::Message::Proposal(proposal) => Input::Proposal(consensus::Signed {
                message: proposal,
                signature,
            }),
            consensus::Message::Vote(vote) => Input::Vote(consensus::Signed {
                message: vote,
                signature,
            }),
        })
    }

    /// Keeps a proposal's block if it comes from its round's proposer and
    /// its slot holds fewer than [`BLOCKS_PER_SLOT_MAX`] blocks (more only
    /// from an equivocating proposer). Returns whether the block is held.
    fn remember_proposal(&mut self, message: &ConsensusMessage) -> bool {
        let ConsensusMessage::Proposal(p) = message else {
            return true;
        };
        let Ok(hash) = p.block.hash() else {
            return false;
        };
        if self.proposals.contains_key(&hash) {
            return true;
        }
        let expected = self.schedule.proposer(Height(p.height), Round(p.round));
        if self.index_of(&p.proposer) != Some(expected) {
            return false;
        }
        let slot = self
            .proposals_per_slot
            .entry((p.height, p.round))
            .or_insert(0);
        if *slot >= BLOCKS_PER_SLOT_MAX {
            return false;
        }
        *slot += 1;
        self.proposals.insert(hash, p.block.clone());
        true
    }

    /// Whether a message's round is within the window the machine keeps
    /// (later rounds would only fill memory and the WAL).
    fn round_in_window(&self, message: &ConsensusMessage) -> bool {
        let round = match message {
            ConsensusMessage::Proposal(p) => p.round,
            ConsensusMessage::Vote(v) => v.round,
        };
        let current = if self.idle { 0 } else { self.machine.round().0 };
        round <= current.saturating_add(ROUNDS_AHEAD_MAX)
    }

    fn next_height(&self) -> Result<u64, DriverError> {
        Ok(self.tip_height()? + 1)
    }

    /// The last decided height: the pending block's, or the store's tip.
    fn tip_height(&self) -> Result<u64, DriverError> {
        match &self.pending {
            Some(decided) => Ok(decided.height()),
            None => Ok(self.store.tip()?.height),
        }
    }

    /// Waits until the decided block in flight (if any) is in the store.
    ///
    /// Called before this validator signs anything (so a WAL record above
    /// height `h` exists only once the store holds `h`, and a restart
    /// resumes where the store is), before the next commit, and before
    /// applying synced blocks.
    async fn settle(&mut self) -> Result<(), DriverError> {
        while let Some(joined) = self.committing.join_next().await {
            self.landed(joined)?;
        }
        Ok(())
    }

    /// A decided block is in the store: it counts as committed from here
    /// on (metrics, latencies), and the WAL forgets its height. A store
    /// error is fatal, as a synchronous commit's was.
    fn landed(
        &mut self,
        joined: Result<Landed, tokio::task::JoinError>,
    ) -> Result<(), DriverError> {
        let Some(decided) = self.pending.take() else {
            return Err(DriverError::Commit {
                height: 0,
                reason: "a store write landed with no block pending".into(),
            });
        };
        let landed = joined.map_err(|error| DriverError::Commit {
            height: decided.height(),
            reason: format!("the store write stopped: {error}"),
        })?;
        let height = landed.height;
        let stored = landed.stored?;
        let now = Instant::now();
        let outcome = decided.outcome();
        for id in &outcome.execution.tx_ids {
            if let Some(submitted) = self.submit_times.remove(id) {
                let latency =
                    u64::try_from(now.duration_since(submitted).as_millis()).unwrap_or(u64::MAX);
                self.metrics.observe_commit_latency_ms(latency);
            }
        }
        if self.submit_times.len() >= SUBMIT_TIMES_MAX {
            // Ids of transactions that left the pool without committing
            // (this block's were taken above).
            let mempool = &self.mempool;
            self.submit_times.retain(|id, _| mempool.contains(id));
        }
        self.metrics.height.store(height, Ordering::Relaxed);
        self.metrics
            .committed_txs_total
            .fetch_add(outcome.execution.tx_ids.len() as u64, Ordering::Relaxed);
        self.metrics
            .committed_blocks_total
            .fetch_add(1, Ordering::Relaxed);
        if landed.by_sync {
            self.metrics
                .synced_blocks_total
                .fetch_add(1, Ordering::Relaxed);
        }
        // Records of this height are no longer needed: the store has it.
        let keep: Vec<WalRecord> = self
            .wal_records
            .iter()
            .filter(|r| r.height() > height)
            .cloned()
            .collect();
        if let Some(wal) = &mut self.wal {
            wal.prune_below(height + 1, &keep)?;
        }
        self.wal_records = keep;
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            height,
            txs = outcome.execution.tx_ids.len(),
            by_sync = landed.by_sync,
            store_ms = millis(stored),
            wal_ms = millis(now.elapsed()),
            "committed"
        );
        Ok(())
    }

    /// Starts consensus at the next height, then feeds what arrived while idle.
    async fn start_height(&mut self) -> Result<(), DriverError> {
        self.want_start = true;
        self.feed_all(std::collections::VecDeque::new()).await
    }

    /// Feeds an input and carries out every output.
    async fn feed(&mut self, input: Input<Hash, Signature>) -> Result<(), DriverError> {
        self.feed_all(std::collections::VecDeque::from([input]))
            .await
    }

    /// Feeds inputs and carries out every output, including the inputs
    /// those outputs produce (a signed message is fed back) and the start of
    /// the next height after a commit.
    async fn feed_all(
        &mut self,
        mut queue: std::collections::VecDeque<Input<Hash, Signature>>,
    ) -> Result<(), DriverError> {
        loop {
            while let Some(input) = queue.pop_front() {
                for output in self.machine.on(input) {
                    if let Some(next) = self.on_output(output).await? {
                        queue.push_back(next);
                    }
                }
            }
            if !std::mem::take(&mut self.want_start) {
                break;
            }
            self.idle = false;
            self.height_started = Instant::now();
            queue.push_back(Input::StartHeight {
                height: Height(self.next_height()?),
            });
            for message in std::mem::take(&mut self.idle_buffer) {
                if let Some(input) = self.signed_input(&message) {
                    queue.push_back(input);
                }
            }
        }
        self.metrics
            .round
            .store(u64::from(self.machine.round().0), Ordering::Relaxed);
        Ok(())
    }

    async fn on_output(
        &mut self,
        output: Output<Hash, Signature>,
    ) -> Result<Option<Input<Hash, Signature>>, DriverError> {
        match output {
            Output::SignAndBroadcast(message) => self.sign_and_broadcast(message).await,
            Output::ScheduleTimeout {
                height,
                round,
                kind,
                duration_ms,
            } => {
                let at = Instant::now() + Duration::from_millis(duration_ms);
                self.timer_sequence += 1;
                self.timers
                    .insert((at, self.timer_sequence), (height, round, kind));
                Ok(None)
            }
            Output::RequestValue { height, round } => {
                let started = Instant::now();
                tracing::debug!(target: "timeline", height = height.0, "build start");
                let value = self.build_block(height.0)?;
                tracing::debug!(target: "timeline", height = height.0, "build end");
                self.busy(Phase::BuildBlock, started);
                Ok(value.map(|value| Input::ValueToPropose {
                    height,
                    round,
                    value,
                }))
            }
            Output::CheckValidity { height, value } => {
                let started = Instant::now();
                tracing::debug!(target: "timeline", height = height.0, "check start");
                let valid = self.check_block(height.0, &value).await;
                tracing::debug!(target: "timeline", height = height.0, "check end");
                self.busy(Phase::CheckBlock, started);
                Ok(Some(Input::ValidityChecked {
                    height,
                    value,
                    valid,
                }))
            }
            Output::Decide(decision) => {
                let started = Instant::now();
                tracing::debug!(target: "timeline", height = decision.height.0, "decision");
                self.commit_decision(decision).await?;
                self.busy(Phase::Commit, started);
                Ok(None)
            }
            Output::Evidence(evidence) => {
                self.metrics.evidence_total.fetch_add(1, Ordering::Relaxed);
                let offender = self.key_of(evidence.offender());
                tracing::warn!(?offender, "equivocation evidence");
                Ok(None)
            }
        }
    }

    /// Persist, then speak: sign, append to the WAL and flush, publish, and
    /// return the signed message to feed back.
    async fn sign_and_broadcast(
        &mut self,
        message: consensus::Message<Hash>,
    ) -> Result<Option<Input<Hash, Signature>>, DriverError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let wire = match &message {
            consensus::Message::Proposal(p) => {
                let Some(block) = self.proposals.get(&p.value).cloned() else {
                    tracing::error!(value = %p.value, "asked to propose a block this node does not hold");
                    return Ok(None);
                };
                match SignedProposal::sign(
                    &self.chain_id,
                    p.round.0,
                    p.valid_round.map(|r| r.0),
                    block,
                    &signer.key,
                ) {
                    Ok(proposal) => ConsensusMessage::Proposal(Box::new(proposal)),
                    Err(error) => {
                        tracing::error!(%error, "cannot encode a proposal");
                        return Ok(None);
                    }
                }
            }
            consensus::Message::Vote(v) => ConsensusMessage::Vote(SignedVote::sign(
                &self.chain_id,
                v.height.0,
                v.round.0,
                ledger_kind(v.kind),
                v.value,
                &signer.key,
            )),
        };
        // A record above height `h` only once the store holds `h`: a restart
        // then resumes at the WAL's height (see `settle`).
        self.settle().await?;
        let (what, height, round) = match &wire {
            ConsensusMessage::Proposal(p) => ("proposal", p.height, p.round),
            ConsensusMessage::Vote(v) => (
                match v.kind {
                    VoteKind::Prevote => "prevote",
                    VoteKind::Precommit => "precommit",
                },
                v.height,
                v.round,
            ),
        };
        tracing::debug!(target: "timeline", what, height, round, "signed");
        if let Some(wal) = &mut self.wal {
            wal.append_signed(&wire)?;
        }
        tracing::debug!(target: "timeline", what, height, "in the WAL");
        self.wal_records.push(WalRecord::Signed(wire.clone()));
        self.publish_consensus(&wire).await;
        tracing::debug!(target: "timeline", what, height, "published");
        Ok(self.signed_input(&wire))
    }

    async fn publish_consensus(&mut self, message: &ConsensusMessage) {
        self.gossip_sequence += 1;
        let gossip = ConsensusGossip {
            sequence: self.gossip_sequence,
            message: message.clone(),
        };
        match gossip.encode() {
            Ok(bytes) => {
                if let Err(error) = self.network.publish(Topic::Consensus, bytes).await {
                    tracing::debug!(%error, "consensus publish");
                }
            }
            Err(error) => tracing::error!(%error, "cannot encode consensus gossip"),
        }
    }

    /// Builds this validator's block for `height` from the mempool.
    fn build_block(&mut self, height: u64) -> Result<Option<Hash>, DriverError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        if self.next_height()? != height {
            return Ok(None);
        }
        let proposer = ValidatorKey(signer.key.account().0);
        let view = view(&self.store, &self.pending);
        let txs = self
            .mempool
            .select(
                &view,
                self.limits.block_txs_max,
                self.limits.block_bytes_max,
            )
            .map_err(|e| DriverError::Commit {
                height,
                reason: e.to_string(),
            })?;
        // Mempool transactions were verified at admission.
        let outcome = match state::propose_block(
            &view,
            txs,
            proposer,
            now_ms(),
            Signatures::AlreadyVerified,
        ) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(%error, "block from the mempool failed; proposing an empty block");
                match state::propose_block(
                    &view,
                    Vec::new(),
                    proposer,
                    now_ms(),
                    Signatures::AlreadyVerified,
                ) {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        tracing::error!(%error, "cannot build even an empty block");
                        return Ok(None);
                    }
                }
            }
        };
        let hash = outcome.block_hash;
        self.proposals.insert(hash, outcome.block.clone());
        self.executed.insert(hash, outcome);
        Ok(Some(hash))
    }

    /// Executes a proposed block on a scratch view of the tip.
    async fn check_block(&mut self, height: u64, hash: &Hash) -> bool {
        if self.executed.contains_key(hash) {
            return true;
        }
        let Some(block) = self.proposals.get(hash) else {
            return false;
        };
        if block.header.height != height {
            return false;
        }
        let ids: Vec<Option<Hash>> = block.transactions.iter().map(|tx| tx.id().ok()).collect();
        // A payment whose gossip is being checked right now: wait for that
        // check (at most TX_CHECKS_IN_FLIGHT_MAX batches, already running
        // on other threads) rather than check its signature a second time.
        self.finish_tx_checks_of(&ids).await;
        let Some(block) = self.proposals.get(hash) else {
            return false;
        };
        // Each payment's signature is checked once per node: those this
        // node's mempool admitted (the same signed bytes) were verified then.
        // The others are verified here on every core, and remembered so
        // their gossip, processed later, is not verified again.
        let unknown: Vec<clearhouse_ledger::SignedTransaction> = block
            .transactions
            .iter()
            .zip(&ids)
            .filter(|(tx, id)| {
                id.is_some_and(|id| {
                    self.mempool.get(&id) != Some(*tx)
                        && self
                            .verified
                            .get(&id)
                            .is_none_or(|v| v.transaction() != *tx)
                })
            })
            .map(|(tx, _)| tx.clone())
            .collect();
        if self.verified.len() + unknown.len() > VERIFIED_CACHE_MAX {
            self.verified.clear();
        }
        self.metrics
            .add_signature_checks(CheckSource::Proposal, unknown.len());
        let chain_id = self.chain_id;
        let checked = on_all_cores(
            unknown,
            |chunk| {
                let sized = chunk
                    .into_iter()
                    .map(|tx| {
                        let len = tx.encode().map(|b| b.len()).unwrap_or(usize::MAX);
                        (tx, len)
                    })
                    .collect();
                Verified::check_batch(sized, &chain_id)
                    .into_iter()
                    .map(Result::ok)
                    .collect()
            },
            || None,
        );
        for verified in checked.into_iter().flatten() {
            self.verified.insert(verified.id(), verified);
        }
        let mempool = &self.mempool;
        let verified = &self.verified;
        let known = |id: &Hash, tx: &clearhouse_ledger::SignedTransaction| {
            mempool.get(id).is_some_and(|held| held == tx)
                || verified.get(id).is_some_and(|v| v.transaction() == tx)
        };
        let view = view(&self.store, &self.pending);
        match state::apply_block(&view, block, Signatures::VerifyUnlessKnown(&known)) {
            Ok(outcome) => {
                self.executed.insert(*hash, outcome);
                true
            }
            Err(error) => {
                tracing::warn!(%error, %hash, height, "proposed block is invalid");
                false
            }
        }
    }

    /// Waits for gossip check tasks in flight until none carries any of
    /// `ids`, admitting what they checked.
    async fn finish_tx_checks_of(&mut self, ids: &[Option<Hash>]) {
        while ids.iter().flatten().any(|id| self.checking.contains(id)) {
            let Some(joined) = self.tx_checks.join_next().await else {
                // A task that panicked or was cancelled left its ids behind.
                self.checking.clear();
                break;
            };
            if let Ok(checked) = joined {
                // Not idle (a height is running): nothing to wake.
                let (id, source, verdict) = self.admit_checked(checked);
                self.network.report(id, source, verdict).await;
            }
        }
    }

    async fn commit_decision(
        &mut self,
        decision: consensus::Decision<Hash, Signature>,
    ) -> Result<(), DriverError> {
        // One block in flight at a time: the overlay covers one.
        self.settle().await?;
        let height = decision.height.0;
        let hash = decision.value;
        let votes = decision
            .certificate
            .iter()
            .filter_map(|signed| {
                Some(CommitVote {
                    validator: self.key_of(signed.message.validator)?,
                    signature: signed.signature,
                })
            })
            .collect();
        let certificate = CommitCertificate {
            height,
            round: decision.round.0,
            block_hash: hash,
            votes,
        };
        if let Err(error) = certificate.verify(&self.chain_id, height, &hash, &self.validators) {
            return Err(DriverError::Commit {
                height,
                reason: format!("the decision's certificate does not verify: {error}"),
            });
        }
        let outcome = match self.executed.remove(&hash) {
            Some(outcome) => outcome,
            None => {
                let block = self
                    .proposals
                    .get(&hash)
                    .ok_or_else(|| DriverError::Commit {
                        height,
                        reason: "decided block not held".into(),
                    })?;
                self.metrics
                    .add_signature_checks(CheckSource::Block, block.transactions.len());
                state::apply_block(&view(&self.store, &self.pending), block, Signatures::Verify)
                    .map_err(|e| DriverError::Commit {
                        height,
                        reason: e.to_string(),
                    })?
            }
        };
        self.decide(outcome, certificate, false);
        self.after_commit();
        Ok(())
    }

    /// Hands a decided block to the store (on the blocking pool) and moves
    /// on: the pool forgets its transactions, and the next height executes
    /// on the block over the store until it lands ([`Driver::landed`]).
    /// The caller has settled any earlier block.
    fn decide(&mut self, outcome: BlockOutcome, certificate: CommitCertificate, by_sync: bool) {
        let decided = Decided::new(Arc::new(outcome));
        let height = decided.height();
        let store = self.store.clone();
        let outcome = decided.outcome().clone();
        self.committing.spawn_blocking(move || {
            let started = Instant::now();
            Landed {
                height,
                by_sync,
                stored: store
                    .commit(&outcome, &certificate)
                    .map(|()| started.elapsed()),
            }
        });
        self.pending = Some(decided);
        let started = Instant::now();
        if let Some(decided) = &self.pending {
            let outcome = decided.outcome();
            let view = view(&self.store, &self.pending);
            if let Err(error) = self.mempool.remove_committed(outcome, &view) {
                tracing::error!(%error, "mempool eviction");
            }
            for id in &outcome.execution.tx_ids {
                self.verified.remove(id);
            }
        }
        self.metrics
            .mempool_size
            .store(self.mempool.len() as u64, Ordering::Relaxed);
        // Nothing executed on the old tip is valid any more.
        self.executed.clear();
        self.proposals
            .retain(|_, block| block.header.height > height);
        self.proposals_per_slot.retain(|(h, _), _| *h > height);
        self.seen.clear();
        self.timers.clear();
        tracing::debug!(
            target: "timeline",
            height,
            by_sync,
            mempool_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "decided"
        );
    }

    /// After a commit: start the next height if there is work, else idle.
    fn after_commit(&mut self) {
        self.idle = true;
        self.last_commit = Instant::now();
        let next_seen = std::mem::take(&mut self.next_height_seen);
        if !self.mempool.is_empty()
            || !self.idle_buffer.is_empty()
            || next_seen
            || self.deadlines_due()
        {
            self.want_start = true;
        }
    }

    /// After a decided block landed: an idle node whose last block leaves a
    /// deadline due starts the block that settles it.
    async fn start_if_deadline_due(&mut self) -> Result<(), DriverError> {
        if self.idle && !self.want_start && self.deadlines_due() {
            self.start_height().await?;
        }
        Ok(())
    }

    /// Whether escrow or credit deadlines fall at the tip's height: the next
    /// block settles them, so it is work even with an empty mempool (every
    /// node reads the same state, so they all start together). Read from
    /// the store: while a decided block is still being written this says
    /// no, and the driver asks again when it lands.
    fn deadlines_due(&self) -> bool {
        if self.pending.is_some() {
            return false;
        }
        match (self.store.tip(), self.store.next_deadline()) {
            (Ok(tip), Ok(Some(height))) => height <= tip.height,
            _ => false,
        }
    }

    /// On a quiet chain with a deadline pending further out, starts the next
    /// height `deadline_block_ms` after the last commit (an empty block), so
    /// a deadline `n` blocks away passes within about `n` such intervals.
    async fn deadline_tick(&mut self) -> Result<(), DriverError> {
        let quiet =
            self.last_commit.elapsed() >= Duration::from_millis(self.timeouts.deadline_block_ms);
        if self.idle
            && quiet
            && self.pending.is_none()
            && matches!(self.store.next_deadline(), Ok(Some(_)))
        {
            self.start_height().await?;
        }
        Ok(())
    }

    async fn on_timers(&mut self) -> Result<(), DriverError> {
        let now = Instant::now();
        while let Some((&(at, sequence), _)) = self.timers.iter().next() {
            if at > now {
                break;
            }
            if let Some((height, round, kind)) = self.timers.remove(&(at, sequence)) {
                tracing::debug!(height = height.0, round = round.0, ?kind, "timeout");
                self.feed(Input::TimeoutElapsed {
                    height,
                    round,
                    kind,
                })
                .await?;
            }
        }
        Ok(())
    }

    async fn on_command(&mut self, command: Command) -> Result<(), DriverError> {
        match command {
            Command::Submit {
                transactions,
                reply,
            } => {
                let mut results = Vec::with_capacity(transactions.len());
                let mut admitted = Vec::new();
                for checked in transactions {
                    let result = checked.and_then(|verified| {
                        self.mempool
                            .admit_verified(verified, &view(&self.store, &self.pending))
                    });
                    if let Ok(id) = &result {
                        if self.submit_times.len() < SUBMIT_TIMES_MAX {
                            self.submit_times.insert(*id, Instant::now());
                        }
                        if let Some(tx) = self.mempool.get(id) {
                            admitted.push(tx.clone());
                        }
                    }
                    results.push(result);
                }
                let _ = reply.send(results);
                self.gossip_transactions(admitted).await;
                self.wake_if_idle().await?;
            }
            Command::IsPending { id, reply } => {
                let deciding = self
                    .pending
                    .as_ref()
                    .is_some_and(|decided| decided.contains_tx(&id));
                let _ = reply.send(self.mempool.contains(&id) || deciding);
            }
        }
        Ok(())
    }

    async fn gossip_transactions(
        &mut self,
        transactions: Vec<clearhouse_ledger::SignedTransaction>,
    ) {
        for chunk in transactions.chunks(self.limits.gossip_batch_txs_max.max(1)) {
            match TxBatch(chunk.to_vec()).encode() {
                Ok(bytes) => {
                    if let Err(error) = self.network.publish(Topic::Transactions, bytes).await {
                        tracing::debug!(%error, "transaction publish");
                    }
                }
                Err(error) => tracing::error!(%error, "cannot encode a transaction batch"),
            }
        }
        self.metrics
            .mempool_size
            .store(self.mempool.len() as u64, Ordering::Relaxed);
    }

    async fn wake_if_idle(&mut self) -> Result<(), DriverError> {
        if self.idle && !self.mempool.is_empty() {
            self.start_height().await?;
        }
        Ok(())
    }

    fn syncing(&self) -> bool {
        match (self.sync_target, self.tip_height()) {
            (Some((target, _)), Ok(tip)) => target > tip,
            _ => false,
        }
    }

    async fn on_network(&mut self, event: NetworkEvent) -> Result<(), DriverError> {
        match event {
            NetworkEvent::Listening(address) => tracing::info!(%address, "listening"),
            NetworkEvent::PeerConnected(peer) => {
                if !self.peers.contains(&peer) {
                    self.peers.push(peer);
                }
                self.metrics
                    .peers
                    .store(self.peers.len() as u64, Ordering::Relaxed);
                self.spawn_sync_request(peer, SyncRequest::Status);
            }
            NetworkEvent::PeerDisconnected(peer) => {
                self.peers.retain(|p| *p != peer);
                self.metrics
                    .peers
                    .store(self.peers.len() as u64, Ordering::Relaxed);
            }
            NetworkEvent::Gossip {
                topic: Topic::Transactions,
                id,
                source,
                data,
            } => {
                if self.tx_gossip_queue.len() < TX_GOSSIP_QUEUE_MAX {
                    self.tx_gossip_queue
                        .push_back(TxGossip { id, source, data });
                } else {
                    self.metrics
                        .tx_gossip_shed_total
                        .fetch_add(1, Ordering::Relaxed);
                    self.network.report(id, source, Verdict::Ignore).await;
                }
            }
            NetworkEvent::Gossip {
                topic: Topic::Consensus,
                id,
                source,
                data,
            } => {
                let verdict = self.on_consensus_gossip(&data, source).await?;
                if verdict == Verdict::Reject {
                    self.metrics
                        .gossip_rejected_total
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.network.report(id, source, verdict).await;
            }
            NetworkEvent::SyncRequest {
                peer,
                data,
                responder,
            } => {
                let response = self.answer_sync(&data);
                tracing::debug!(?peer, "sync request answered");
                if let Some(bytes) = response {
                    self.network.respond(responder, bytes).await;
                }
            }
        }
        Ok(())
    }

    /// Takes the oldest waiting gossiped batch: admits what a proposal
    /// check already verified, skips what the pool holds or would refuse,
    /// and hands the rest to the blocking pool for signature checks.
    fn check_next_tx_gossip(&mut self) {
        let Some(TxGossip { id, source, data }) = self.tx_gossip_queue.pop_front() else {
            return;
        };
        let Ok(batch) = TxBatch::decode(&data) else {
            self.tx_checks.spawn(async move {
                TxChecked {
                    id,
                    source,
                    checked_ids: Vec::new(),
                    transactions: None,
                }
            });
            return;
        };
        let mut to_check = Vec::new();
        let mut admitted = Vec::new();
        let mut carried = Vec::new();
        for tx in batch.0 {
            let Ok((tx_id, len)) = tx.id_and_wire_len() else {
                continue;
            };
            if let Some(verified) = self.verified.remove(&tx_id)
                && *verified.transaction() == tx
            {
                // Rides along with the task: in `checking` meanwhile, as it
                // is neither in `verified` nor in the mempool.
                carried.push(tx_id);
                admitted.push(verified);
                continue;
            }
            if self
                .mempool
                .check_admissible(&tx, tx_id, len, &view(&self.store, &self.pending))
                .is_ok()
            {
                to_check.push((tx, len, tx_id));
            }
        }
        let mut checked_ids = carried;
        checked_ids.extend(to_check.iter().map(|(_, _, id)| *id));
        self.checking.extend(checked_ids.iter().copied());
        self.metrics
            .add_signature_checks(CheckSource::Gossip, to_check.len());
        let chain_id = self.chain_id;
        self.tx_checks.spawn_blocking(move || {
            let sized = to_check.into_iter().map(|(tx, len, _)| (tx, len)).collect();
            let checked = Verified::check_batch(sized, &chain_id)
                .into_iter()
                .map(Result::ok)
                .collect::<Option<Vec<_>>>();
            TxChecked {
                id,
                source,
                checked_ids,
                transactions: checked.map(|mut checked| {
                    checked.extend(admitted);
                    checked
                }),
            }
        });
    }

    /// Admits a checked gossiped batch and reports the verdict.
    async fn on_tx_checked(&mut self, checked: TxChecked) -> Result<(), DriverError> {
        let (id, source, verdict) = self.admit_checked(checked);
        if verdict == Verdict::Accept {
            self.wake_if_idle().await?;
        }
        self.network.report(id, source, verdict).await;
        Ok(())
    }

    /// Admits a checked batch to the mempool: the verdict rejects a batch
    /// with any invalid transaction and accepts one that brought news.
    fn admit_checked(&mut self, checked: TxChecked) -> (MessageId, NetworkKey, Verdict) {
        let TxChecked {
            id,
            source,
            checked_ids,
            transactions,
        } = checked;
        for tx_id in &checked_ids {
            self.checking.remove(tx_id);
        }
        let verdict = match transactions {
            None => Verdict::Reject,
            Some(transactions) => {
                let mut new = false;
                for verified in transactions {
                    if self
                        .mempool
                        .admit_verified(verified, &view(&self.store, &self.pending))
                        .is_ok()
                    {
                        new = true;
                    }
                }
                self.metrics
                    .mempool_size
                    .store(self.mempool.len() as u64, Ordering::Relaxed);
                if new {
                    Verdict::Accept
                } else {
                    Verdict::Ignore
                }
            }
        };
        if verdict == Verdict::Reject {
            self.metrics
                .gossip_rejected_total
                .fetch_add(1, Ordering::Relaxed);
        }
        (id, source, verdict)
    }

    async fn on_consensus_gossip(
        &mut self,
        data: &[u8],
        source: NetworkKey,
    ) -> Result<Verdict, DriverError> {
        let Ok(gossip) = ConsensusGossip::decode(data) else {
            return Ok(Verdict::Reject);
        };
        let message = gossip.message;
        if let ConsensusMessage::Proposal(p) = &message {
            tracing::debug!(
                target: "timeline",
                height = p.height,
                round = p.round,
                txs = p.block.transactions.len(),
                "proposal received"
            );
        }
        // Signed by a validator of this chain?
        let valid = match &message {
            ConsensusMessage::Proposal(p) => {
                self.index_of(&p.proposer).is_some() && p.verify(&self.chain_id).is_ok()
            }
            ConsensusMessage::Vote(v) => {
                self.index_of(&v.validator).is_some() && v.verify(&self.chain_id).is_ok()
            }
        };
        if !valid {
            return Ok(Verdict::Reject);
        }
        let next = self.next_height()?;
        let height = message.height();
        if height < next {
            // Old news: a peer may be behind; it will sync from us.
            return Ok(Verdict::Ignore);
        }
        if height > next + 1 {
            // Someone claims to be ahead: ask that peer for its committed
            // height (a claim in a message is not a sync target by itself).
            self.ask_status(source);
            return Ok(Verdict::Ignore);
        }
        if !self.round_in_window(&message) {
            return Ok(Verdict::Ignore);
        }
        // A verified signature names its message: one signer's signature
        // verifies for one message only, so (signer, signature) identifies
        // the message without encoding and hashing a whole block again.
        let content = match &message {
            ConsensusMessage::Proposal(p) => {
                clearhouse_ledger::crypto::sha256(&[&p.proposer.0, &p.signature.0])
            }
            ConsensusMessage::Vote(v) => {
                clearhouse_ledger::crypto::sha256(&[&v.validator.0, &v.signature.0])
            }
        };
        if self.seen.contains(&content) {
            return Ok(Verdict::Ignore);
        }
        if !self.remember_proposal(&message) {
            // Not from its round's proposer, or its slot is full.
            return Ok(Verdict::Ignore);
        }
        self.seen.insert(content);
        if height == next + 1 {
            // The next height started elsewhere: we may be missing block
            // `next`; the machine buffers the message meanwhile.
            self.next_height_seen = true;
            self.ask_status(source);
        }
        let received = self.wal_records.len();
        if let Some(wal) = &mut self.wal
            && height == next
            && received < RECEIVED_RECORDS_MAX
        {
            wal.append_received(&message)?;
            self.wal_records.push(WalRecord::Received(message.clone()));
        }
        if self.idle && height == next {
            if self.idle_buffer.len() < IDLE_BUFFER_MAX {
                self.idle_buffer.push(message);
            }
            self.start_height().await?;
            return Ok(Verdict::Accept);
        }
        if let Some(input) = self.signed_input(&message) {
            self.feed(input).await?;
        }
        Ok(Verdict::Accept)
    }

    /// Asks a peer for its committed height, at most once per rebroadcast
    /// interval per peer.
    fn ask_status(&mut self, peer: NetworkKey) {
        let now = Instant::now();
        let interval = Duration::from_millis(self.timeouts.rebroadcast_ms.max(50));
        if self
            .status_asked
            .get(&peer)
            .is_some_and(|at| now.duration_since(*at) < interval)
        {
            return;
        }
        if self.status_asked.len() > 1_024 {
            self.status_asked.clear();
        }
        self.status_asked.insert(peer, now);
        self.spawn_sync_request(peer, SyncRequest::Status);
    }

    fn note_peer_height(&mut self, height: u64, peer: NetworkKey) {
        let tip = self.tip_height().unwrap_or(0);
        if height > tip && self.sync_target.is_none_or(|(target, _)| height > target) {
            self.sync_target = Some((height, peer));
        }
        self.request_blocks();
    }

    fn request_blocks(&mut self) {
        if self.sync_in_flight {
            return;
        }
        let Some((target, peer)) = self.sync_target else {
            return;
        };
        let Ok(tip) = self.tip_height() else {
            return;
        };
        if target <= tip {
            self.sync_target = None;
            return;
        }
        let count = u32::try_from((target - tip).min(u64::from(SYNC_BLOCKS_MAX)))
            .unwrap_or(SYNC_BLOCKS_MAX);
        self.sync_in_flight = true;
        self.spawn_sync_request(
            peer,
            SyncRequest::Blocks {
                from: tip + 1,
                count,
            },
        );
    }

    fn spawn_sync_request(&mut self, peer: NetworkKey, request: SyncRequest) {
        let Ok(bytes) = request.encode() else {
            return;
        };
        let network = self.network.clone();
        let blocks = matches!(request, SyncRequest::Blocks { .. });
        self.sync_tasks.spawn(async move {
            match network.request(peer, bytes).await {
                Ok(reply) => match SyncResponse::decode(&reply) {
                    Ok(SyncResponse::Status { height }) => SyncAnswer::Status { peer, height },
                    Ok(SyncResponse::Blocks(blocks)) => SyncAnswer::Blocks { peer, blocks },
                    Err(_) => SyncAnswer::Failed { peer, blocks },
                },
                Err(_) => SyncAnswer::Failed { peer, blocks },
            }
        });
    }

    async fn on_sync(&mut self, answer: SyncAnswer) -> Result<(), DriverError> {
        match answer {
            SyncAnswer::Status { peer, height } => self.note_peer_height(height, peer),
            SyncAnswer::Failed { peer, blocks } => {
                tracing::debug!(?peer, blocks, "sync request failed");
                if blocks {
                    self.sync_in_flight = false;
                    // Forget the target: the next status answer sets a new one.
                    self.sync_target = None;
                }
            }
            SyncAnswer::Blocks { peer, blocks } => {
                self.sync_in_flight = false;
                // Synced blocks extend the store: a decided block lands first.
                self.settle().await?;
                let mut applied = 0;
                for (block, certificate) in blocks {
                    match self.apply_synced(&block, certificate) {
                        Ok(()) => {
                            applied += 1;
                            self.settle().await?;
                        }
                        Err(SyncFailure::Fatal(error)) => return Err(error),
                        Err(SyncFailure::Peer(reason)) => {
                            tracing::warn!(?peer, %reason, "sync block refused");
                            break;
                        }
                    }
                }
                if applied == 0 {
                    // The peer did not deliver what it claimed: drop its target.
                    self.sync_target = None;
                    // The settle above may have landed a decided block.
                    self.start_if_deadline_due().await?;
                } else if self.syncing() {
                    self.request_blocks();
                } else {
                    // Join consensus above what was synced.
                    self.sync_target = None;
                    let next = self.next_height()?;
                    self.idle_buffer.retain(|m| m.height() >= next);
                    self.idle = true;
                    self.start_height().await?;
                }
            }
        }
        Ok(())
    }

    /// Verifies and commits one synced block. A verification failure is the
    /// peer's fault; a failure of our own store or WAL is fatal.
    fn apply_synced(
        &mut self,
        block: &Block,
        certificate: CommitCertificate,
    ) -> Result<(), SyncFailure> {
        let tip = self.store.tip().map_err(|e| SyncFailure::Fatal(e.into()))?;
        if block.header.height != tip.height + 1 {
            return Err(SyncFailure::Peer(format!(
                "block {} is not the next height {}",
                block.header.height,
                tip.height + 1
            )));
        }
        let hash = block.hash().map_err(|e| SyncFailure::Peer(e.to_string()))?;
        certificate
            .verify(&self.chain_id, block.header.height, &hash, &self.validators)
            .map_err(|e| SyncFailure::Peer(e.to_string()))?;
        self.metrics
            .add_signature_checks(CheckSource::Block, block.transactions.len());
        let outcome = match state::apply_block(
            &view(&self.store, &self.pending),
            block,
            Signatures::Verify,
        ) {
            Ok(outcome) => outcome,
            Err(state::BlockError::View(error)) => {
                return Err(SyncFailure::Fatal(DriverError::Commit {
                    height: block.header.height,
                    reason: error.to_string(),
                }));
            }
            Err(error) => return Err(SyncFailure::Peer(error.to_string())),
        };
        self.decide(outcome, certificate, true);
        Ok(())
    }

    /// Answers a peer's sync request from the store.
    fn answer_sync(&self, data: &[u8]) -> Option<Vec<u8>> {
        let response = match SyncRequest::decode(data).ok()? {
            SyncRequest::Status => SyncResponse::Status {
                height: self.store.tip().ok()?.height,
            },
            SyncRequest::Blocks { from, count } => {
                let mut blocks = Vec::new();
                let mut bytes = 0usize;
                for height in from..from.saturating_add(u64::from(count.min(SYNC_BLOCKS_MAX))) {
                    let (Ok(Some(block)), Ok(Some(certificate))) =
                        (self.store.block(height), self.store.certificate(height))
                    else {
                        break;
                    };
                    bytes += block.encode().map(|b| b.len()).unwrap_or(0);
                    if !blocks.is_empty() && bytes > crate::wire::SYNC_RESPONSE_BYTES_MAX / 2 {
                        break;
                    }
                    blocks.push((block, certificate));
                }
                SyncResponse::Blocks(blocks)
            }
        };
        response.encode().ok()
    }

    /// Re-sends this validator's messages of the current height, so peers
    /// that missed them (or restarted) still hear them.
    async fn rebroadcast(&mut self) {
        if self.syncing() {
            self.request_blocks();
        }
        // A height making progress needs no help: re-sending its messages
        // (a proposal is a whole block) to every peer, from every node, once
        // per interval, doubled the consensus traffic of a loaded network
        // whose heights take a fraction of the interval.
        let stalled = self.height_started.elapsed()
            >= Duration::from_millis(self.timeouts.rebroadcast_ms.max(50));
        if self.idle || !stalled {
            return;
        }
        let Ok(next) = self.next_height() else {
            return;
        };
        // Own messages, and those received at this height: a quorum seen
        // here must not vanish from the network (the consensus crate's
        // liveness contract).
        let messages: Vec<ConsensusMessage> = self
            .wal_records
            .iter()
            .filter_map(|record| {
                let (WalRecord::Signed(message) | WalRecord::Received(message)) = record;
                (message.height() == next).then(|| message.clone())
            })
            .collect();
        for message in messages {
            self.publish_consensus(&message).await;
        }
    }

    fn publish_status(&self) {
        let Ok(tip) = self.store.tip() else {
            return;
        };
        let state_root = self.store.state_root().unwrap_or_default();
        let status = Status {
            height: tip.height,
            block_hash: tip.block_hash,
            state_root,
            round: self.machine.round().0,
            peers: self.peers.clone(),
            mempool_size: self.mempool.len(),
        };
        self.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
    }
}
