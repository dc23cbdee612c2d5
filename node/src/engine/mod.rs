//! The node's engine: everything a validator or observer decides, as a
//! plain value. `Engine::on(now, event) -> Vec<Effect>`.
//!
//! It hosts the consensus machine (signing its messages, feeding them back,
//! its timers), builds and checks blocks by executing them on the tip,
//! admits payments from the API and gossip, syncs blocks from peers,
//! answers their sync requests, and holds the policy: the idle rule, the
//! deadline blocks, the rebroadcast of a stalled height, whom to sync from.
//! It reads the store through [`ChainStore`] and never writes it.
//!
//! What it does not do: I/O, tokio, clocks or randomness. Time arrives as
//! the `now` of every call (milliseconds; the host's clock, also used as
//! block timestamps), and everything the engine wants done leaves as an
//! [`Effect`] for its host — the tokio driver in production, the seeded
//! simulator in tests — to execute in order: append to the WAL, publish,
//! commit a block, check signatures, send a sync request, answer a peer or
//! the API. Results come back as [`Event`]s.
//!
//! Persist, then speak: a message this validator signs leaves as
//! [`Effect::WalAppend`] with `sync` set, then [`Effect::Publish`] naming
//! it; the host checks with a [`PersistGuard`] that the record is synced
//! before publishing.
//!
//! Waiting: some steps need an answer before anything else may happen —
//! signing or deciding at `h + 1` while block `h` is still being written
//! (a signed WAL record above `h` exists only once the store holds `h`, so
//! a restart resumes where the store is), applying synced blocks, and
//! checking a proposal whose payments are being verified. The engine then
//! reports [`Engine::waiting`]; it keeps every other event for later, in
//! order, and the host should feed only what it waits for until then.
//!
//! Empty blocks: a validator does not start the next height while it has
//! no work. After a commit (or at start) it idles at the next height until
//! a transaction enters its mempool, a consensus message for that height
//! (or above) arrives, or an escrow or credit deadline is due, or a passed
//! governance proposal waits for its activation height (then an empty
//! block every `deadline_block_ms`). An idle network sends nothing.
//!
//! Sync: when a peer reports (or a message shows) a higher committed
//! height, the engine asks for the missing blocks with their certificates,
//! checks each certificate against the validator set, re-executes the block
//! with every signature checked, commits it, and joins consensus above it.

mod guard;

pub use guard::{PersistGuard, Unpersisted, message_id};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use clearhouse_consensus as consensus;
use clearhouse_consensus::{Height, Input, Machine, Output, Round, ValidatorIndex};
use clearhouse_ledger::certificate::{CommitCertificate, CommitVote, VoteKind};
use clearhouse_ledger::crypto::{Keypair, Signature};
use clearhouse_ledger::state::overlay::{Decided, Overlay};
use clearhouse_ledger::state::{self, BlockError, BlockOutcome, Signatures};
use clearhouse_ledger::store::{ChainStore, StoreError};
use clearhouse_ledger::validators::{ValidatorKey, ValidatorSet};
use clearhouse_ledger::{Block, ChainId, Hash, SignedTransaction};

use crate::config::{Limits, Timeouts};
use crate::mempool::{AdmitError, Mempool};
use crate::metrics::{CheckSource, Metrics};
use crate::peer::{MessageId, NetworkKey, Topic, Verdict};
use crate::verify::{Verified, VerifiedCache};
use crate::wal::{WalRecord, WalRecords};
use crate::wire::{
    ConsensusGossip, ConsensusMessage, SYNC_BLOCKS_MAX, SignedProposal, SignedVote, SyncRequest,
    SyncResponse, TxBatch,
};

/// Milliseconds on the host's clock.
pub type Millis = u64;

/// What happens to the engine.
#[derive(Debug)]
pub enum Event {
    /// The node starts: what its WAL held (empty for an observer).
    Start {
        /// The log's records, in order.
        wal: Vec<WalRecord>,
    },
    /// Time passed (the host calls at [`Engine::next_wake`] or later).
    Tick,
    /// A peer holds its first connection with us.
    PeerConnected(NetworkKey),
    /// A peer lost its last connection with us.
    PeerDisconnected(NetworkKey),
    /// A gossip message awaiting a verdict ([`Effect::Report`]).
    Gossip {
        /// Its topic.
        topic: Topic,
        /// Its content id.
        id: MessageId,
        /// The peer that forwarded it.
        source: NetworkKey,
        /// The payload.
        data: Vec<u8>,
    },
    /// A peer's sync request; answer with [`Effect::Respond`] and the same
    /// `request`.
    SyncRequest {
        /// The requesting peer.
        peer: NetworkKey,
        /// The host's handle for the answer.
        request: u64,
        /// The request bytes.
        data: Vec<u8>,
    },
    /// The answer to an [`Effect::SyncRequest`].
    SyncAnswer {
        /// The peer asked.
        peer: NetworkKey,
        /// Its decoded answer, or `None` when the request failed or the
        /// answer did not decode.
        response: Option<SyncResponse>,
        /// Whether the request asked for blocks.
        blocks: bool,
    },
    /// The results of an [`Effect::Verify`], one per transaction in order.
    Verified {
        /// The job.
        job: u64,
        /// Each transaction, checked (`None`: it does not verify).
        results: Vec<Option<Verified>>,
    },
    /// The store holds the block of an [`Effect::Commit`]. (A failed commit
    /// is fatal for the host; the engine never hears of it.)
    Committed {
        /// The block's height.
        height: u64,
        /// How long the store took, for the log.
        store_ms: u64,
    },
    /// The API submits transactions, their signatures already checked.
    Submit {
        /// The host's handle for [`Effect::Submitted`].
        request: u64,
        /// The transactions (or why they could not be read or verified).
        transactions: Vec<Result<Verified, AdmitError>>,
    },
    /// The API asks whether a transaction is pending (in the mempool, or in
    /// a decided block the store is still writing).
    IsPending {
        /// The host's handle for [`Effect::Pending`].
        request: u64,
        /// The transaction id.
        id: Hash,
    },
}

/// What the engine asks its host to do, in order.
#[derive(Debug)]
pub enum Effect {
    /// Append a record to the WAL; with `sync`, sync the file before the
    /// next effect.
    WalAppend {
        /// The record.
        record: WalRecord,
        /// Sync after appending.
        sync: bool,
    },
    /// Rewrite the WAL holding only `keep` (records from `from_height` on),
    /// synced.
    WalPrune {
        /// The lowest height kept.
        from_height: u64,
        /// The records to keep.
        keep: Vec<WalRecord>,
    },
    /// Publish gossip.
    Publish {
        /// The topic.
        topic: Topic,
        /// The payload.
        data: Vec<u8>,
        /// For a message this validator signed, its [`message_id`]: the
        /// host refuses to publish it unless its WAL record is synced.
        signed: Option<Hash>,
    },
    /// The verdict on a gossip message.
    Report {
        /// Its id.
        id: MessageId,
        /// The peer it came from.
        source: NetworkKey,
        /// The verdict.
        verdict: Verdict,
    },
    /// Write a decided block to the store (off the engine's thread); answer
    /// with [`Event::Committed`].
    Commit {
        /// The executed block.
        outcome: Arc<BlockOutcome>,
        /// Its certificate, verified.
        certificate: CommitCertificate,
        /// Whether it came by sync.
        by_sync: bool,
    },
    /// Check transactions' signatures; answer with [`Event::Verified`].
    Verify {
        /// The job.
        job: u64,
        /// The transactions with their wire sizes.
        transactions: Vec<(SignedTransaction, usize)>,
        /// Spread over every core (a proposal waits for it) rather than one
        /// worker (gossip).
        all_cores: bool,
    },
    /// Ask a peer; answer with [`Event::SyncAnswer`].
    SyncRequest {
        /// The peer.
        peer: NetworkKey,
        /// The request.
        request: SyncRequest,
    },
    /// Answer a peer's [`Event::SyncRequest`] (`None`: the request was bad).
    Respond {
        /// The host's handle.
        request: u64,
        /// The encoded answer.
        data: Option<Vec<u8>>,
    },
    /// Answer an [`Event::Submit`].
    Submitted {
        /// The host's handle.
        request: u64,
        /// One result per transaction.
        results: Vec<Result<Hash, AdmitError>>,
    },
    /// Answer an [`Event::IsPending`].
    Pending {
        /// The host's handle.
        request: u64,
        /// Whether it is pending.
        pending: bool,
    },
}

/// What the engine waits for before it handles anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// [`Event::Committed`] for the decided block in flight.
    Store,
    /// [`Event::Verified`] for these jobs (signature checks a proposal
    /// check needs).
    Verify,
}

/// A fatal engine failure: the node stops rather than risk its promises.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed to answer a read.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Our own invariant broke (a bug, never a peer's fault).
    #[error("at height {height}: {reason}")]
    Invariant {
        /// The height concerned.
        height: u64,
        /// What broke.
        reason: String,
    },
}

/// This validator's identity in consensus: its key. Its place in the
/// validator set is looked up at every height's set (governance may add,
/// rotate or remove it); while the set in force does not hold its key, the
/// node follows the chain without signing.
pub struct Signer {
    /// Its key.
    pub key: Keypair,
}

/// Deliberately broken variants of the engine, for the simulator's tests
/// (they prove its checkers can fail). All `false` (the default) is the
/// real engine; production never sets one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mutants {
    /// Publish a signed message before its WAL record is synced.
    pub skip_wal_sync: bool,
    /// Count a quorum by messages, not distinct signers (no deduplication
    /// of repeated votes, in the engine or the consensus machine).
    pub count_duplicate_votes: bool,
    /// Apply a synced block without checking its certificate.
    pub accept_unchecked_sync: bool,
    /// After a restart, forget the lock the WAL's precommits imply.
    pub forget_lock_on_restart: bool,
}

impl Mutants {
    /// The mutants by name, as `clearhouse-testnet sim --mutant` takes them.
    pub const NAMES: [&'static str; 4] = [
        "skip-wal-sync",
        "count-duplicate-votes",
        "accept-unchecked-sync",
        "forget-lock-on-restart",
    ];

    /// The mutant called `name` (one of [`Mutants::NAMES`]).
    pub fn named(name: &str) -> Option<Mutants> {
        let mut mutants = Mutants::default();
        match name {
            "skip-wal-sync" => mutants.skip_wal_sync = true,
            "count-duplicate-votes" => mutants.count_duplicate_votes = true,
            "accept-unchecked-sync" => mutants.accept_unchecked_sync = true,
            "forget-lock-on-restart" => mutants.forget_lock_on_restart = true,
            _ => return None,
        }
        Some(mutants)
    }
}

/// Everything fixed for one engine.
pub struct EngineConfig {
    /// The chain.
    pub chain_id: ChainId,
    /// `Some` for a validator.
    pub signer: Option<Signer>,
    /// Bounds.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Broken variants (tests only).
    pub mutants: Mutants,
}

/// What the node shows on `/v1/status`.
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
/// Most gossiped batches whose signatures are being checked at once.
const TX_CHECKS_IN_FLIGHT_MAX: usize = 2;
/// Most transactions kept verified outside the mempool (two full blocks'
/// worth is plenty; when full it is emptied).
const VERIFIED_CACHE_MAX: usize = 20_000;
/// Most peers whose last status question is remembered.
const STATUS_ASKED_MAX: usize = 1_024;
/// Most events kept while the engine waits (the host feeds only what it
/// waits for; this bounds a host that does not).
const DEFERRED_MAX: usize = 65_536;

/// A gossiped transaction batch waiting for its check.
struct TxGossip {
    id: MessageId,
    source: NetworkKey,
    data: Vec<u8>,
}

/// A signature check in flight.
enum Job {
    /// A gossiped batch.
    Gossip {
        id: MessageId,
        source: NetworkKey,
        /// The transactions the job carries (checked by it, or checked
        /// before and riding along in `carried`).
        checked_ids: Vec<Hash>,
        carried: Vec<Verified>,
    },
    /// The unknown payments of a proposal being checked.
    Proposal,
}

/// A proposal check that waits.
#[derive(Clone, Copy)]
struct Check {
    height: u64,
    hash: Hash,
    /// The signature job it waits for, once started.
    job: Option<u64>,
}

/// Synced blocks being applied one by one (each must land before the next).
struct SyncApply {
    peer: NetworkKey,
    blocks: VecDeque<(Block, CommitCertificate)>,
    applied: usize,
}

/// A peer's fault or our own, for a synced block.
enum SyncFailure {
    Peer(String),
    Fatal(EngineError),
}

/// The node's engine. See the module docs.
pub struct Engine {
    chain_id: ChainId,
    store: Arc<dyn ChainStore>,
    validators: ValidatorSet,
    keys: Vec<ValidatorKey>,
    signer: Option<Signer>,
    mutants: Mutants,
    config: consensus::Config,
    machine: Machine<Hash, Signature>,
    mempool: Mempool,
    metrics: Arc<Metrics>,
    limits: Limits,
    timeouts: Timeouts,
    wal: WalRecords,
    now: Millis,
    effects: Vec<Effect>,
    /// Consensus timers by (when, sequence).
    timers: BTreeMap<(Millis, u64), (Height, Round, consensus::TimeoutKind)>,
    timer_sequence: u64,
    gossip_sequence: u64,
    job_sequence: u64,
    /// Consensus inputs to feed, and outputs of the last input still to
    /// carry out (the machine's order).
    inputs: VecDeque<Input<Hash, Signature>>,
    outputs: VecDeque<Output<Hash, Signature>>,
    /// What the engine waits for, with the events kept meanwhile.
    waiting: Option<Waiting>,
    deferred: VecDeque<Event>,
    check: Option<Check>,
    sync_apply: Option<SyncApply>,
    /// Blocks proposed at the current or next height, by hash.
    proposals: HashMap<Hash, Block>,
    /// Blocks executed on the current tip, by hash.
    executed: HashMap<Hash, BlockOutcome>,
    /// The decided block the store is still writing (at most one).
    pending: Option<Decided>,
    /// Messages already fed, by [`message_id`].
    seen: HashSet<Hash>,
    /// Idle at the next height (no work yet).
    idle: bool,
    /// Start the next height once the current inputs are processed.
    want_start: bool,
    idle_buffer: Vec<ConsensusMessage>,
    /// The highest committed height any peer reported, and who.
    sync_target: Option<(u64, NetworkKey)>,
    sync_in_flight: bool,
    schedule: consensus::ValidatorSet,
    proposals_per_slot: HashMap<(u64, u32), usize>,
    next_height_seen: bool,
    status_asked: HashMap<NetworkKey, Millis>,
    submit_times: HashMap<Hash, Millis>,
    peers: Vec<NetworkKey>,
    last_commit: Millis,
    height_started: Millis,
    next_rebroadcast: Millis,
    next_deadline_tick: Millis,
    tx_gossip_queue: VecDeque<TxGossip>,
    jobs: BTreeMap<u64, Job>,
    gossip_jobs: usize,
    verified: VerifiedCache,
    checking: HashSet<Hash>,
    /// Why the last proposal this node refused was invalid (for traces).
    last_refusal: Option<String>,
    /// The last validity answers given, for traces.
    answers: VecDeque<(u64, String, bool)>,
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

/// The validator set in force for the height after the store's tip.
fn set_in_force(store: &Arc<dyn ChainStore>) -> Result<ValidatorSet, EngineError> {
    let view: &dyn state::StateView = &**store;
    let members = state::read_members(view).map_err(|error| EngineError::Invariant {
        height: 0,
        reason: format!("reading the member list: {error}"),
    })?;
    state::validator_set(&members).map_err(|error| EngineError::Invariant {
        height: 0,
        reason: format!("the validator set in the state is invalid: {error}"),
    })
}

/// The keys in set order and the machine configuration for a validator
/// set: `signer` gets the index of its key, if the set holds it.
fn epoch(
    validators: &ValidatorSet,
    signer: Option<&Signer>,
    timeouts: &Timeouts,
    mutants: Mutants,
    tip: u64,
) -> Result<(Vec<ValidatorKey>, consensus::Config), EngineError> {
    let keys: Vec<ValidatorKey> = validators.validators().iter().map(|v| v.key).collect();
    let me = signer.and_then(|signer| {
        let key = ValidatorKey(signer.key.account().0);
        keys.iter()
            .position(|k| *k == key)
            .and_then(|i| u32::try_from(i).ok())
            .map(ValidatorIndex)
    });
    let mut config =
        machine_config(validators, me, timeouts).ok_or_else(|| EngineError::Invariant {
            height: tip + 1,
            reason: "the validator set does not fit the consensus machine".into(),
        })?;
    config.mutants.forget_lock_on_restore = mutants.forget_lock_on_restart;
    config.mutants.count_duplicate_votes = mutants.count_duplicate_votes;
    Ok((keys, config))
}

fn millis_between(later: Millis, earlier: Millis) -> Millis {
    later.saturating_sub(earlier)
}

impl Engine {
    /// An engine over `store`, at `now`. Feed [`Event::Start`] first.
    pub fn new(
        config: EngineConfig,
        store: Arc<dyn ChainStore>,
        mempool: Mempool,
        metrics: Arc<Metrics>,
        now: Millis,
    ) -> Result<Engine, EngineError> {
        let EngineConfig {
            chain_id,
            signer,
            limits,
            timeouts,
            mutants,
        } = config;
        let validators = set_in_force(&store)?;
        let (keys, machine_config) = epoch(
            &validators,
            signer.as_ref(),
            &timeouts,
            mutants,
            store.chain_tip()?.height,
        )?;
        let schedule = machine_config.validators.clone();
        let rebroadcast_ms = timeouts.rebroadcast_ms.max(50);
        Ok(Engine {
            chain_id,
            store,
            validators,
            keys,
            signer,
            mutants,
            machine: Machine::new(machine_config.clone()),
            config: machine_config,
            mempool,
            metrics,
            limits,
            timeouts,
            wal: WalRecords::default(),
            now,
            effects: Vec::new(),
            timers: BTreeMap::new(),
            timer_sequence: 0,
            gossip_sequence: 0,
            job_sequence: 0,
            inputs: VecDeque::new(),
            outputs: VecDeque::new(),
            waiting: None,
            deferred: VecDeque::new(),
            check: None,
            sync_apply: None,
            proposals: HashMap::new(),
            executed: HashMap::new(),
            pending: None,
            seen: HashSet::new(),
            idle: true,
            want_start: false,
            idle_buffer: Vec::new(),
            sync_target: None,
            sync_in_flight: false,
            schedule,
            proposals_per_slot: HashMap::new(),
            next_height_seen: false,
            status_asked: HashMap::new(),
            submit_times: HashMap::new(),
            peers: Vec::new(),
            last_commit: now,
            height_started: now,
            next_rebroadcast: now.saturating_add(rebroadcast_ms),
            next_deadline_tick: now,
            tx_gossip_queue: VecDeque::new(),
            jobs: BTreeMap::new(),
            gossip_jobs: 0,
            verified: VerifiedCache::new(VERIFIED_CACHE_MAX),
            checking: HashSet::new(),
            last_refusal: None,
            answers: VecDeque::new(),
        })
    }

    /// Handles one event at `now` and returns what the host must do, in
    /// order. An error is fatal: stop the node.
    pub fn on(&mut self, now: Millis, event: Event) -> Result<Vec<Effect>, EngineError> {
        self.now = self.now.max(now);
        if self.waiting.is_some() && !self.awaited(&event) {
            if self.deferred.len() >= DEFERRED_MAX {
                return Err(EngineError::Invariant {
                    height: self.next_height()?,
                    reason: format!(
                        "{DEFERRED_MAX} events arrived while waiting for {:?}",
                        self.waiting
                    ),
                });
            }
            self.deferred.push_back(event);
            return Ok(Vec::new());
        }
        self.handle(event)?;
        // Events kept while waiting: in order once nothing is awaited; while
        // something is, the awaited ones first (one may have arrived while
        // the engine waited for something else).
        loop {
            let next = if self.waiting.is_some() {
                let Some(position) = self.deferred.iter().position(|e| self.awaited(e)) else {
                    break;
                };
                self.deferred.remove(position)
            } else {
                self.deferred.pop_front()
            };
            let Some(event) = next else {
                break;
            };
            self.handle(event)?;
        }
        if self.waiting.is_none() {
            self.start_tx_checks();
        }
        Ok(std::mem::take(&mut self.effects))
    }

    /// What the engine waits for, if anything: the host should feed only
    /// that kind of event until it is answered.
    pub fn waiting(&self) -> Option<Waiting> {
        self.waiting
    }

    /// When the engine next needs [`Event::Tick`]: its earliest consensus
    /// timer, the next rebroadcast, or (idle) the next deadline block.
    pub fn next_wake(&self) -> Option<Millis> {
        let timer = self.timers.keys().next().map(|(at, _)| *at);
        let deadline = self.idle.then_some(self.next_deadline_tick);
        [timer, Some(self.next_rebroadcast), deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// What `/v1/status` shows.
    pub fn status(&self) -> Result<Status, EngineError> {
        let tip = self.store.chain_tip()?;
        Ok(Status {
            height: tip.height,
            block_hash: tip.block_hash,
            state_root: self.store.root()?,
            round: self.machine.round().0,
            peers: self.peers.clone(),
            mempool_size: self.mempool.len(),
        })
    }

    /// A one-line summary of the engine's state, for traces.
    pub fn summary(&self) -> String {
        format!(
            "height {} round {} proposal {:?} next {:?} step {:?} locked {:?} valid {:?} timers {:?} inputs {} outputs {} idle {} running {} mempool {} pending {:?} sync {:?}/{} waiting {:?} deferred {} refused {:?} answers {:?} r0 prevote power {:?}",
            self.machine.height().0,
            self.machine.round().0,
            self.machine
                .proposal_at(self.machine.round())
                .map(|(v, vr)| (v.to_hex()[..8].to_owned(), vr.map(|r| r.0))),
            self.machine
                .proposal_at(Round(self.machine.round().0 + 1))
                .map(|(v, vr)| (v.to_hex()[..8].to_owned(), vr.map(|r| r.0))),
            self.machine.step(),
            self.machine
                .locked()
                .map(|(r, v)| (r.0, v.to_hex()[..8].to_owned())),
            self.machine
                .valid()
                .map(|(r, v)| (r.0, v.to_hex()[..8].to_owned())),
            self.timers
                .keys()
                .next()
                .map(|(at, _)| at.saturating_sub(self.now)),
            self.inputs.len(),
            self.outputs.len(),
            self.idle,
            self.machine.is_running(),
            self.mempool.len(),
            self.pending.as_ref().map(Decided::height),
            self.sync_target.map(|(h, _)| h),
            self.sync_in_flight,
            self.waiting,
            self.deferred.len(),
            self.last_refusal,
            self.answers,
            {
                let mut powers: Vec<(String, u64)> = self
                    .proposals
                    .iter()
                    .filter(|(_, b)| b.header.height == self.machine.height().0)
                    .map(|(h, _)| {
                        (
                            h.to_hex()[..8].to_owned(),
                            self.machine.prevote_power(Round(0), Some(h)),
                        )
                    })
                    .collect();
                powers.sort();
                powers
            },
        )
    }

    /// The mempool (read-only, for the host's views and tests).
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    fn awaited(&self, event: &Event) -> bool {
        match (self.waiting, event) {
            (Some(Waiting::Store), Event::Committed { .. }) => true,
            (Some(Waiting::Verify), Event::Verified { job, .. }) => self.jobs.contains_key(job),
            _ => false,
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), EngineError> {
        match event {
            Event::Start { wal } => self.start(wal)?,
            Event::Tick => self.on_tick()?,
            Event::PeerConnected(peer) => {
                if !self.peers.contains(&peer) {
                    self.peers.push(peer);
                }
                self.metrics
                    .peers
                    .store(self.peers.len() as u64, Ordering::Relaxed);
                self.sync_request(peer, SyncRequest::Status);
            }
            Event::PeerDisconnected(peer) => {
                self.peers.retain(|p| *p != peer);
                self.metrics
                    .peers
                    .store(self.peers.len() as u64, Ordering::Relaxed);
            }
            Event::Gossip {
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
                    self.report(id, source, Verdict::Ignore);
                }
            }
            Event::Gossip {
                topic: Topic::Consensus,
                id,
                source,
                data,
            } => {
                let verdict = self.on_consensus_gossip(&data, source)?;
                if verdict == Verdict::Reject {
                    self.metrics
                        .gossip_rejected_total
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.report(id, source, verdict);
            }
            Event::SyncRequest { request, data, .. } => {
                let data = self.answer_sync(&data)?;
                self.effects.push(Effect::Respond { request, data });
            }
            Event::SyncAnswer {
                peer,
                response,
                blocks,
            } => self.on_sync(peer, response, blocks)?,
            Event::Verified { job, results } => self.on_verified(job, results)?,
            Event::Committed { height, store_ms } => {
                self.landed(height, store_ms)?;
                if self.waiting == Some(Waiting::Store) {
                    self.waiting = None;
                    self.run()?;
                }
                self.start_if_deadline_due()?;
            }
            Event::Submit {
                request,
                transactions,
            } => self.on_submit(request, transactions)?,
            Event::IsPending { request, id } => {
                let deciding = self
                    .pending
                    .as_ref()
                    .is_some_and(|decided| decided.contains_tx(&id));
                let pending = self.mempool.contains(&id) || deciding;
                self.effects.push(Effect::Pending { request, pending });
            }
        }
        Ok(())
    }

    // ----- start and restart -------------------------------------------

    /// Restart: rebuild the machine from what this validator signed, resume
    /// the height, and replay what it had received.
    fn start(&mut self, wal: Vec<WalRecord>) -> Result<(), EngineError> {
        let tip = self.store.chain_tip()?.height;
        self.wal = WalRecords::resume(wal, tip);
        let signed: Vec<consensus::Message<Hash>> = self
            .wal
            .records()
            .iter()
            .filter_map(|record| match record {
                WalRecord::Signed(message) => self.unsigned(message),
                WalRecord::Received(_) => None,
            })
            .collect();
        self.machine = Machine::restore(self.config.clone(), signed);
        if self.wal.is_empty() {
            if self.deadlines_due()? {
                self.start_height()?;
            }
            return Ok(());
        }
        tracing::info!(
            height = tip + 1,
            records = self.wal.len(),
            "resuming from the WAL"
        );
        let current: Vec<ConsensusMessage> = self.wal.messages_at(tip + 1).cloned().collect();
        // Blocks first: the resumed round may re-send this validator's own
        // proposal, which needs its block.
        for message in &current {
            self.remember_proposal(message);
        }
        self.want_start = true;
        for message in &current {
            if let Some(input) = self.signed_input(message) {
                self.inputs.push_back(input);
            }
        }
        // The start goes before the replayed messages.
        self.run_start_first()
    }

    /// Starts the height, then feeds the queued inputs (the restart order).
    fn run_start_first(&mut self) -> Result<(), EngineError> {
        let replay = std::mem::take(&mut self.inputs);
        self.want_start = false;
        self.begin_height()?;
        self.inputs.extend(replay);
        self.run()
    }

    // ----- the consensus loop ------------------------------------------

    /// Starts consensus at the next height, then feeds what arrived while idle.
    fn start_height(&mut self) -> Result<(), EngineError> {
        self.want_start = true;
        self.run()
    }

    fn begin_height(&mut self) -> Result<(), EngineError> {
        self.idle = false;
        self.height_started = self.now;
        self.next_rebroadcast = self.now.saturating_add(self.rebroadcast_ms());
        self.inputs.push_back(Input::StartHeight {
            height: Height(self.next_height()?),
        });
        for message in std::mem::take(&mut self.idle_buffer) {
            if let Some(input) = self.signed_input(&message) {
                self.inputs.push_back(input);
            }
        }
        Ok(())
    }

    /// Carries out the machine's outputs and feeds its inputs (a signed
    /// message is fed back) until nothing is left or the engine must wait.
    fn run(&mut self) -> Result<(), EngineError> {
        loop {
            if self.waiting.is_some() {
                return Ok(());
            }
            if self.sync_apply.is_some() {
                self.step_sync_apply()?;
                continue;
            }
            if let Some(output) = self.outputs.pop_front() {
                self.on_output(output)?;
                continue;
            }
            if let Some(input) = self.inputs.pop_front() {
                self.outputs.extend(self.machine.on(input));
                continue;
            }
            if std::mem::take(&mut self.want_start) {
                self.begin_height()?;
                continue;
            }
            break;
        }
        self.metrics
            .round
            .store(u64::from(self.machine.round().0), Ordering::Relaxed);
        Ok(())
    }

    /// Waits for the store when a decided block is in flight: the output
    /// goes back first in line.
    fn must_settle(&mut self, output: Output<Hash, Signature>) -> Option<Output<Hash, Signature>> {
        if self.pending.is_some() {
            self.outputs.push_front(output);
            self.waiting = Some(Waiting::Store);
            None
        } else {
            Some(output)
        }
    }

    fn on_output(&mut self, output: Output<Hash, Signature>) -> Result<(), EngineError> {
        match output {
            output @ Output::SignAndBroadcast(_) => {
                // A record above height `h` only once the store holds `h`.
                if let Some(Output::SignAndBroadcast(message)) = self.must_settle(output) {
                    self.sign_and_broadcast(message)?;
                }
            }
            Output::ScheduleTimeout {
                height,
                round,
                kind,
                duration_ms,
            } => {
                let at = self.now.saturating_add(duration_ms);
                self.timer_sequence += 1;
                self.timers
                    .insert((at, self.timer_sequence), (height, round, kind));
            }
            Output::RequestValue { height, round } => {
                tracing::debug!(target: "timeline", height = height.0, "build start");
                if let Some(value) = self.build_block(height.0)? {
                    self.inputs.push_back(Input::ValueToPropose {
                        height,
                        round,
                        value,
                    });
                }
                tracing::debug!(target: "timeline", height = height.0, "build end");
            }
            Output::CheckValidity { height, value } => {
                tracing::debug!(target: "timeline", height = height.0, "check start");
                if let Some(previous) = self.check {
                    // One check at a time: the engine waits while one runs.
                    return Err(EngineError::Invariant {
                        height: height.0,
                        reason: format!(
                            "a validity check of {} began while the check of {} was unanswered",
                            value, previous.hash
                        ),
                    });
                }
                self.check = Some(Check {
                    height: height.0,
                    hash: value,
                    job: None,
                });
                self.continue_check()?;
            }
            output @ Output::Decide(_) => {
                // One block in flight at a time: the overlay covers one.
                if let Some(Output::Decide(decision)) = self.must_settle(output) {
                    tracing::debug!(target: "timeline", height = decision.height.0, "decision");
                    self.commit_decision(decision)?;
                }
            }
            Output::Evidence(evidence) => {
                self.metrics.evidence_total.fetch_add(1, Ordering::Relaxed);
                let offender = self.key_of(evidence.offender());
                tracing::warn!(?offender, "equivocation evidence");
            }
        }
        Ok(())
    }

    /// Persist, then speak: sign, append to the WAL (synced), publish, and
    /// feed the signed message back.
    fn sign_and_broadcast(&mut self, message: consensus::Message<Hash>) -> Result<(), EngineError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let wire = match &message {
            consensus::Message::Proposal(p) => {
                let Some(block) = self.proposals.get(&p.value).cloned() else {
                    // A valid value restored from our own precommit after a
                    // crash, whose block's record was not in the WAL (it
                    // arrived while the height had not started): nothing is
                    // signed, the round times out, another proposer moves on.
                    tracing::warn!(value = %p.value, "cannot re-propose a block this node does not hold");
                    return Ok(());
                };
                let proposal = SignedProposal::sign(
                    &self.chain_id,
                    p.round.0,
                    p.valid_round.map(|r| r.0),
                    block,
                    &signer.key,
                )
                .map_err(|error| EngineError::Invariant {
                    height: p.height.0,
                    reason: format!("cannot encode our proposal: {error}"),
                })?;
                ConsensusMessage::Proposal(Box::new(proposal))
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
        tracing::debug!(target: "timeline", height = wire.height(), "signed");
        let record = WalRecord::Signed(wire.clone());
        if self.mutants.skip_wal_sync {
            // The mutant: speak first, persist after.
            self.publish_consensus(&wire, true)?;
            self.effects.push(Effect::WalAppend { record, sync: true });
            self.wal.push(WalRecord::Signed(wire.clone()));
        } else {
            self.effects.push(Effect::WalAppend { record, sync: true });
            self.wal.push(WalRecord::Signed(wire.clone()));
            self.publish_consensus(&wire, true)?;
        }
        if let Some(input) = self.signed_input(&wire) {
            self.inputs.push_back(input);
        }
        Ok(())
    }

    fn publish_consensus(
        &mut self,
        message: &ConsensusMessage,
        own: bool,
    ) -> Result<(), EngineError> {
        self.gossip_sequence += 1;
        let gossip = ConsensusGossip {
            sequence: self.gossip_sequence,
            message: message.clone(),
        };
        let data = gossip.encode().map_err(|error| EngineError::Invariant {
            height: message.height(),
            reason: format!("cannot encode consensus gossip: {error}"),
        })?;
        self.effects.push(Effect::Publish {
            topic: Topic::Consensus,
            data,
            signed: own.then(|| message_id(message)),
        });
        Ok(())
    }

    fn report(&mut self, id: MessageId, source: NetworkKey, verdict: Verdict) {
        self.effects.push(Effect::Report {
            id,
            source,
            verdict,
        });
    }

    // ----- identities ----------------------------------------------------

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
    ///
    /// The block's transactions must be exactly those its header commits
    /// to ([`Block::check_body`]), checked by the caller before this: the
    /// machine's validity answer is about the hash, so a body that the
    /// hash does not name (a Byzantine re-proposal of a valid value with
    /// a payment added or a signature changed) must never be held under
    /// it, or this node would refuse the valid value for the whole height.
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

    /// Whether a message's round is within the window the machine keeps.
    fn round_in_window(&self, message: &ConsensusMessage) -> bool {
        let round = match message {
            ConsensusMessage::Proposal(p) => p.round,
            ConsensusMessage::Vote(v) => v.round,
        };
        let current = if self.idle { 0 } else { self.machine.round().0 };
        round <= current.saturating_add(ROUNDS_AHEAD_MAX)
    }

    fn next_height(&self) -> Result<u64, EngineError> {
        Ok(self.tip_height()? + 1)
    }

    /// The last decided height: the pending block's, or the store's tip.
    fn tip_height(&self) -> Result<u64, EngineError> {
        match &self.pending {
            Some(decided) => Ok(decided.height()),
            None => Ok(self.store.chain_tip()?.height),
        }
    }

    fn view(&self) -> Overlay<'_> {
        view_of(&self.store, &self.pending)
    }

    fn rebroadcast_ms(&self) -> Millis {
        self.timeouts.rebroadcast_ms.max(50)
    }

    // ----- blocks ----------------------------------------------------------

    /// Builds this validator's block for `height` from the mempool. A block
    /// that fails to build is our bug (mempool transactions were checked,
    /// and a failing one is a rejection in its receipt, not an error).
    fn build_block(&mut self, height: u64) -> Result<Option<Hash>, EngineError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        if self.next_height()? != height {
            return Ok(None);
        }
        let proposer = ValidatorKey(signer.key.account().0);
        let view = view_of(&self.store, &self.pending);
        let txs = self
            .mempool
            .select(
                &view,
                self.limits.block_txs_max,
                self.limits.block_bytes_max,
            )
            .map_err(|e| EngineError::Invariant {
                height,
                reason: format!("mempool selection: {e}"),
            })?;
        let outcome =
            state::propose_block(&view, txs, proposer, self.now, Signatures::AlreadyVerified)
                .map_err(|error| EngineError::Invariant {
                    height,
                    reason: format!("our own block failed to build: {error}"),
                })?;
        let hash = outcome.block_hash;
        self.proposals.insert(hash, outcome.block.clone());
        self.executed.insert(hash, outcome);
        Ok(Some(hash))
    }

    /// Moves the proposal check on: waits for gossip checks carrying its
    /// payments, then for the check of the payments this node has not seen,
    /// then executes the block and answers the machine.
    fn continue_check(&mut self) -> Result<(), EngineError> {
        let Some(check) = self.check else {
            return Ok(());
        };
        if self.executed.contains_key(&check.hash) {
            return self.finish_check(true);
        }
        let Some(block) = self.proposals.get(&check.hash) else {
            return self.finish_check(false);
        };
        if block.header.height != check.height {
            return self.finish_check(false);
        }
        let ids: Vec<Option<Hash>> = block.transactions.iter().map(|tx| tx.id().ok()).collect();
        // A payment whose gossip is being checked right now: wait for that
        // check rather than check its signature a second time.
        if ids.iter().flatten().any(|id| self.checking.contains(id)) {
            self.waiting = Some(Waiting::Verify);
            return Ok(());
        }
        if check.job.is_none() {
            // Each payment's signature is checked once per node: those the
            // mempool admitted (the same signed bytes) were verified then.
            let unknown: Vec<(SignedTransaction, usize)> = block
                .transactions
                .iter()
                .zip(&ids)
                .filter(|(tx, id)| {
                    id.is_some_and(|id| {
                        self.mempool.get(&id) != Some(*tx) && !self.verified.holds(&id, tx)
                    })
                })
                .map(|(tx, _)| {
                    let len = tx.encode().map(|b| b.len()).unwrap_or(usize::MAX);
                    (tx.clone(), len)
                })
                .collect();
            if !unknown.is_empty() {
                self.verified.make_room(unknown.len());
                self.metrics
                    .add_signature_checks(CheckSource::Proposal, unknown.len());
                let job = self.next_job();
                self.jobs.insert(job, Job::Proposal);
                self.check = Some(Check {
                    job: Some(job),
                    ..check
                });
                self.effects.push(Effect::Verify {
                    job,
                    transactions: unknown,
                    all_cores: true,
                });
                self.waiting = Some(Waiting::Verify);
                return Ok(());
            }
        }
        let mempool = &self.mempool;
        let verified = &self.verified;
        let known = |id: &Hash, tx: &SignedTransaction| {
            mempool.get(id).is_some_and(|held| held == tx) || verified.holds(id, tx)
        };
        let view = self.view();
        match state::apply_block(&view, block, Signatures::VerifyUnlessKnown(&known)) {
            Ok(outcome) => {
                self.executed.insert(check.hash, outcome);
                self.finish_check(true)
            }
            Err(error) if is_our_bug(&error) => Err(EngineError::Invariant {
                height: check.height,
                reason: format!("executing proposed block {}: {error}", check.hash),
            }),
            Err(error) => {
                tracing::warn!(%error, hash = %check.hash, height = check.height, "proposed block is invalid");
                self.last_refusal = Some(format!("height {}: {error}", check.height));
                self.finish_check(false)
            }
        }
    }

    fn finish_check(&mut self, valid: bool) -> Result<(), EngineError> {
        if let Some(check) = self.check.take() {
            tracing::debug!(target: "timeline", height = check.height, "check end");
            if self.answers.len() >= 4 {
                self.answers.pop_front();
            }
            self.answers
                .push_back((check.height, check.hash.to_hex()[..8].to_owned(), valid));
            self.waiting = None;
            self.inputs.push_back(Input::ValidityChecked {
                height: Height(check.height),
                value: check.hash,
                valid,
            });
        }
        Ok(())
    }

    fn next_job(&mut self) -> u64 {
        self.job_sequence += 1;
        self.job_sequence
    }

    fn commit_decision(
        &mut self,
        decision: consensus::Decision<Hash, Signature>,
    ) -> Result<(), EngineError> {
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
            return Err(EngineError::Invariant {
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
                    .ok_or_else(|| EngineError::Invariant {
                        height,
                        reason: "decided block not held".into(),
                    })?;
                self.metrics
                    .add_signature_checks(CheckSource::Block, block.transactions.len());
                // More than two thirds precommitted it after checking it:
                // a block that fails here fails our execution, not theirs.
                state::apply_block(&self.view(), block, Signatures::Verify).map_err(|e| {
                    EngineError::Invariant {
                        height,
                        reason: format!("the decided block does not execute here: {e}"),
                    }
                })?
            }
        };
        self.decide(outcome, certificate, false)?;
        self.after_commit()
    }

    /// Moves to the validator set in force after a decided block: when it
    /// differs, a fresh machine for it (the decided one holds nothing the
    /// next height needs but messages counted under the old set, which
    /// their senders rebroadcast), this validator's place in it, and the
    /// proposer schedule. Returns whether the set changed.
    fn adopt(&mut self, validators: &ValidatorSet, tip: u64) -> Result<bool, EngineError> {
        if *validators == self.validators {
            return Ok(false);
        }
        let (keys, config) = epoch(
            validators,
            self.signer.as_ref(),
            &self.timeouts,
            self.mutants,
            tip,
        )?;
        tracing::info!(
            height = tip + 1,
            validators = keys.len(),
            signing = config.me.is_some(),
            "the validator set changes"
        );
        self.schedule = config.validators.clone();
        self.machine = Machine::new(config.clone());
        self.config = config;
        self.keys = keys;
        self.validators = validators.clone();
        Ok(true)
    }

    /// Hands a decided block to the store and moves on: the pool forgets
    /// its transactions, and the next height executes on the block over
    /// the store until it lands ([`Engine::landed`]).
    fn decide(
        &mut self,
        outcome: BlockOutcome,
        certificate: CommitCertificate,
        by_sync: bool,
    ) -> Result<(), EngineError> {
        let decided = Decided::new(Arc::new(outcome));
        let height = decided.height();
        let next_validators = decided.outcome().execution.next_validators.clone();
        self.effects.push(Effect::Commit {
            outcome: decided.outcome().clone(),
            certificate,
            by_sync,
        });
        self.pending = Some(decided);
        if let Some(decided) = &self.pending {
            let outcome = decided.outcome();
            let view = view_of(&self.store, &self.pending);
            if let Err(error) = self.mempool.remove_committed(outcome, &view) {
                return Err(EngineError::Invariant {
                    height,
                    reason: format!("mempool eviction: {error}"),
                });
            }
            for id in &outcome.execution.tx_ids {
                self.verified.forget(id);
            }
        }
        self.metrics
            .mempool_size
            .store(self.mempool.len() as u64, Ordering::Relaxed);
        if by_sync {
            self.metrics
                .synced_blocks_total
                .fetch_add(1, Ordering::Relaxed);
        }
        // Nothing executed on the old tip is valid any more.
        self.executed.clear();
        self.proposals
            .retain(|_, block| block.header.height > height);
        self.proposals_per_slot.retain(|(h, _), _| *h > height);
        self.seen.clear();
        self.timers.clear();
        if self.adopt(&next_validators, height)? {
            // Messages kept for the next height were checked against the
            // old set: their senders rebroadcast them.
            self.idle_buffer.clear();
        }
        tracing::debug!(target: "timeline", height, by_sync, "decided");
        Ok(())
    }

    /// A decided block is in the store: it counts as committed from here
    /// on (metrics, latencies), and the WAL forgets its height.
    fn landed(&mut self, height: u64, store_ms: u64) -> Result<(), EngineError> {
        let Some(decided) = self.pending.take() else {
            return Err(EngineError::Invariant {
                height,
                reason: "a store write landed with no block pending".into(),
            });
        };
        if decided.height() != height {
            return Err(EngineError::Invariant {
                height,
                reason: format!(
                    "the store wrote height {height}, {} was pending",
                    decided.height()
                ),
            });
        }
        let outcome = decided.outcome();
        for id in &outcome.execution.tx_ids {
            if let Some(submitted) = self.submit_times.remove(id) {
                self.metrics
                    .observe_commit_latency_ms(millis_between(self.now, submitted));
            }
        }
        if self.submit_times.len() >= SUBMIT_TIMES_MAX {
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
        if self.signer.is_some() {
            let keep = self.wal.prune_through(height);
            self.effects.push(Effect::WalPrune {
                from_height: height + 1,
                keep,
            });
        }
        tracing::info!(
            height,
            txs = outcome.execution.tx_ids.len(),
            store_ms,
            "committed"
        );
        Ok(())
    }

    /// After a commit: start the next height if there is work, else idle.
    fn after_commit(&mut self) -> Result<(), EngineError> {
        self.idle = true;
        self.last_commit = self.now;
        self.next_deadline_tick = self.now.saturating_add(self.timeouts.deadline_block_ms);
        let next_seen = std::mem::take(&mut self.next_height_seen);
        if !self.mempool.is_empty()
            || !self.idle_buffer.is_empty()
            || next_seen
            || self.deadlines_due()?
        {
            self.want_start = true;
        }
        Ok(())
    }

    /// After a decided block landed: an idle node whose last block leaves a
    /// deadline due starts the block that settles it.
    fn start_if_deadline_due(&mut self) -> Result<(), EngineError> {
        if self.waiting.is_none() && self.idle && !self.want_start && self.deadlines_due()? {
            self.start_height()?;
        }
        Ok(())
    }

    /// Whether escrow or credit deadlines fall at the tip's height (read
    /// from the store: while a decided block is being written this says no,
    /// and the engine asks again when it lands).
    fn deadlines_due(&self) -> Result<bool, EngineError> {
        if self.pending.is_some() {
            return Ok(false);
        }
        let tip = self.store.chain_tip()?;
        if self
            .store
            .next_deadline()?
            .is_some_and(|height| height <= tip.height)
        {
            return Ok(true);
        }
        // A passed proposal takes effect at its height: build up to it.
        let view: &dyn state::StateView = &*self.store;
        let activation =
            state::governance::next_activation(view).map_err(|error| EngineError::Invariant {
                height: tip.height,
                reason: format!("reading the governance agenda: {error}"),
            })?;
        Ok(activation.is_some_and(|height| height <= tip.height + 1))
    }

    // ----- time ------------------------------------------------------------

    fn on_tick(&mut self) -> Result<(), EngineError> {
        while let Some((&(at, sequence), _)) = self.timers.iter().next() {
            if at > self.now {
                break;
            }
            if let Some((height, round, kind)) = self.timers.remove(&(at, sequence)) {
                tracing::debug!(height = height.0, round = round.0, ?kind, "timeout");
                self.inputs.push_back(Input::TimeoutElapsed {
                    height,
                    round,
                    kind,
                });
                self.run()?;
                if self.waiting.is_some() {
                    return Ok(());
                }
            }
        }
        if self.now >= self.next_rebroadcast {
            self.next_rebroadcast = self.now.saturating_add(self.rebroadcast_ms());
            self.rebroadcast()?;
        }
        if self.now >= self.next_deadline_tick {
            self.next_deadline_tick = self
                .now
                .saturating_add((self.timeouts.deadline_block_ms / 4).max(20));
            self.deadline_tick()?;
        }
        Ok(())
    }

    /// On a quiet chain with a deadline pending further out, starts the
    /// next height `deadline_block_ms` after the last commit (an empty
    /// block), so a deadline `n` blocks away passes within about `n` such
    /// intervals.
    fn deadline_tick(&mut self) -> Result<(), EngineError> {
        let quiet = millis_between(self.now, self.last_commit) >= self.timeouts.deadline_block_ms;
        if self.waiting.is_none()
            && self.idle
            && quiet
            && self.pending.is_none()
            && self.store.next_deadline()?.is_some()
        {
            self.start_height()?;
        }
        Ok(())
    }

    /// Re-sends this height's messages (own and received) once the height
    /// has gone a rebroadcast interval without a commit; asks for blocks
    /// again while syncing.
    fn rebroadcast(&mut self) -> Result<(), EngineError> {
        if self.syncing() {
            self.request_blocks();
        }
        let stalled = millis_between(self.now, self.height_started) >= self.rebroadcast_ms();
        if self.idle || !stalled {
            return Ok(());
        }
        // A stalled height may be one the others decided while this node
        // missed the decision: if they went idle since, nothing new would
        // ever tell it. Ask every peer how far it got.
        for peer in self.peers.clone() {
            self.ask_status(peer);
        }
        let next = self.next_height()?;
        let messages: Vec<(ConsensusMessage, bool)> = self
            .wal
            .records()
            .iter()
            .filter(|record| record.height() == next)
            .map(|record| match record {
                WalRecord::Signed(message) => (message.clone(), true),
                WalRecord::Received(message) => (message.clone(), false),
            })
            .collect();
        for (message, own) in messages {
            self.publish_consensus(&message, own)?;
        }
        Ok(())
    }

    // ----- the API -----------------------------------------------------------

    fn on_submit(
        &mut self,
        request: u64,
        transactions: Vec<Result<Verified, AdmitError>>,
    ) -> Result<(), EngineError> {
        let mut results = Vec::with_capacity(transactions.len());
        let mut admitted = Vec::new();
        for checked in transactions {
            let result = checked.and_then(|verified| {
                self.mempool
                    .admit_verified(verified, &view_of(&self.store, &self.pending))
            });
            if let Err(AdmitError::Duplicate(id)) = &result
                && let Some(tx) = self.mempool.get(id)
            {
                // A client resubmitting what this node holds has not seen
                // it committed: the first gossip may have been lost, so
                // send it again (the pool still holds it only once).
                admitted.push(tx.clone());
            }
            if let Ok(id) = &result {
                if self.submit_times.len() < SUBMIT_TIMES_MAX {
                    self.submit_times.insert(*id, self.now);
                }
                if let Some(tx) = self.mempool.get(id) {
                    admitted.push(tx.clone());
                }
            }
            results.push(result);
        }
        self.effects.push(Effect::Submitted { request, results });
        self.gossip_transactions(admitted)?;
        self.wake_if_idle()
    }

    fn gossip_transactions(
        &mut self,
        transactions: Vec<SignedTransaction>,
    ) -> Result<(), EngineError> {
        for chunk in transactions.chunks(self.limits.gossip_batch_txs_max.max(1)) {
            let data =
                TxBatch(chunk.to_vec())
                    .encode()
                    .map_err(|error| EngineError::Invariant {
                        height: 0,
                        reason: format!("cannot encode a transaction batch: {error}"),
                    })?;
            self.effects.push(Effect::Publish {
                topic: Topic::Transactions,
                data,
                signed: None,
            });
        }
        self.metrics
            .mempool_size
            .store(self.mempool.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn wake_if_idle(&mut self) -> Result<(), EngineError> {
        if self.waiting.is_none() && self.idle && !self.mempool.is_empty() {
            self.start_height()?;
        }
        Ok(())
    }

    // ----- transaction gossip ------------------------------------------------

    /// Starts signature checks of waiting gossiped batches, at most
    /// [`TX_CHECKS_IN_FLIGHT_MAX`] at once.
    fn start_tx_checks(&mut self) {
        while self.gossip_jobs < TX_CHECKS_IN_FLIGHT_MAX {
            let Some(gossip) = self.tx_gossip_queue.pop_front() else {
                return;
            };
            self.start_tx_check(gossip);
        }
    }

    /// Takes a gossiped batch: admits what a proposal check already
    /// verified, skips what the pool holds or would refuse, and asks for
    /// the rest to be checked.
    fn start_tx_check(&mut self, gossip: TxGossip) {
        let TxGossip { id, source, data } = gossip;
        let Ok(batch) = TxBatch::decode(&data) else {
            self.metrics
                .gossip_rejected_total
                .fetch_add(1, Ordering::Relaxed);
            self.report(id, source, Verdict::Reject);
            return;
        };
        let mut to_check = Vec::new();
        let mut carried = Vec::new();
        let mut checked_ids = Vec::new();
        for tx in batch.0 {
            let Ok((tx_id, len)) = tx.id_and_wire_len() else {
                continue;
            };
            if let Some(verified) = self.verified.take(&tx_id, &tx) {
                // Rides along with the job: in `checking` meanwhile, as it
                // is neither in `verified` nor in the mempool.
                checked_ids.push(tx_id);
                carried.push(verified);
                continue;
            }
            if self
                .mempool
                .check_admissible(&tx, tx_id, len, &view_of(&self.store, &self.pending))
                .is_ok()
            {
                checked_ids.push(tx_id);
                to_check.push((tx, len));
            }
        }
        self.checking.extend(checked_ids.iter().copied());
        self.metrics
            .add_signature_checks(CheckSource::Gossip, to_check.len());
        let job = self.next_job();
        self.jobs.insert(
            job,
            Job::Gossip {
                id,
                source,
                checked_ids,
                carried,
            },
        );
        self.gossip_jobs += 1;
        self.effects.push(Effect::Verify {
            job,
            transactions: to_check,
            all_cores: false,
        });
    }

    fn on_verified(&mut self, job: u64, results: Vec<Option<Verified>>) -> Result<(), EngineError> {
        match self.jobs.remove(&job) {
            None => Err(EngineError::Invariant {
                height: self.next_height()?,
                reason: format!("signature job {job} answered twice or never asked"),
            }),
            Some(Job::Proposal) => {
                for verified in results.into_iter().flatten() {
                    self.verified.insert(verified);
                }
                if self.check.is_some_and(|c| c.job == Some(job)) {
                    self.waiting = None;
                    self.continue_check()?;
                    self.run()?;
                }
                Ok(())
            }
            Some(Job::Gossip {
                id,
                source,
                checked_ids,
                carried,
            }) => {
                self.gossip_jobs = self.gossip_jobs.saturating_sub(1);
                for tx_id in &checked_ids {
                    self.checking.remove(tx_id);
                }
                let checked: Option<Vec<Verified>> = results.into_iter().collect();
                let verdict = match checked {
                    None => {
                        // The batch is refused; what it carried from the
                        // cache was verified all the same.
                        for verified in carried {
                            self.verified.insert(verified);
                        }
                        Verdict::Reject
                    }
                    Some(mut transactions) => {
                        transactions.extend(carried);
                        let mut new = false;
                        for verified in transactions {
                            if self
                                .mempool
                                .admit_verified(verified, &view_of(&self.store, &self.pending))
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
                self.report(id, source, verdict);
                if self.waiting == Some(Waiting::Verify)
                    && self.check.is_some_and(|c| c.job.is_none())
                {
                    // A proposal check waited for this batch.
                    self.waiting = None;
                    self.continue_check()?;
                    self.run()?;
                } else if verdict == Verdict::Accept {
                    self.wake_if_idle()?;
                }
                Ok(())
            }
        }
    }

    // ----- consensus gossip ----------------------------------------------------

    fn on_consensus_gossip(
        &mut self,
        data: &[u8],
        source: NetworkKey,
    ) -> Result<Verdict, EngineError> {
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
        let (signer, verifies) = match &message {
            ConsensusMessage::Proposal(p) => (p.proposer, p.verify(&self.chain_id).is_ok()),
            ConsensusMessage::Vote(v) => (v.validator, v.verify(&self.chain_id).is_ok()),
        };
        if !verifies {
            return Ok(Verdict::Reject);
        }
        let next = self.next_height()?;
        let height = message.height();
        if self.index_of(&signer).is_none() {
            // Not in the set of the next height: a stranger's message, or
            // one of a later height whose set governance changes (not
            // known here until the next block is decided; its sender
            // rebroadcasts it).
            return Ok(if height > next {
                Verdict::Ignore
            } else {
                Verdict::Reject
            });
        }
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
        let content = message_id(&message);
        if self.seen.contains(&content) && !self.mutants.count_duplicate_votes {
            return Ok(Verdict::Ignore);
        }
        if let ConsensusMessage::Proposal(p) = &message
            && let Err(error) = p.block.check_body()
        {
            // Signed by its proposer, yet its body is not the block its
            // header names: the proposer's fault, never relayed.
            tracing::warn!(%error, height = p.height, round = p.round, "proposal body does not match its header");
            self.last_refusal = Some(format!("height {}: proposal body: {error}", p.height));
            return Ok(Verdict::Reject);
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
        if self.signer.is_some() && height == next && self.wal.len() < RECEIVED_RECORDS_MAX {
            let record = WalRecord::Received(message.clone());
            self.effects.push(Effect::WalAppend {
                record: record.clone(),
                sync: false,
            });
            self.wal.push(record);
        }
        if self.idle && height == next {
            if self.idle_buffer.len() < IDLE_BUFFER_MAX {
                self.idle_buffer.push(message);
            }
            self.start_height()?;
            return Ok(Verdict::Accept);
        }
        if let Some(input) = self.signed_input(&message) {
            self.inputs.push_back(input);
            self.run()?;
        }
        Ok(Verdict::Accept)
    }

    // ----- sync --------------------------------------------------------------

    fn sync_request(&mut self, peer: NetworkKey, request: SyncRequest) {
        self.effects.push(Effect::SyncRequest { peer, request });
    }

    /// Asks a peer for its committed height, at most once per rebroadcast
    /// interval per peer.
    fn ask_status(&mut self, peer: NetworkKey) {
        let interval = self.rebroadcast_ms();
        if self
            .status_asked
            .get(&peer)
            .is_some_and(|at| millis_between(self.now, *at) < interval)
        {
            return;
        }
        if self.status_asked.len() > STATUS_ASKED_MAX {
            self.status_asked.clear();
        }
        self.status_asked.insert(peer, self.now);
        self.sync_request(peer, SyncRequest::Status);
    }

    fn syncing(&self) -> bool {
        match (self.sync_target, self.tip_height()) {
            (Some((target, _)), Ok(tip)) => target > tip,
            _ => false,
        }
    }

    fn note_peer_height(&mut self, height: u64, peer: NetworkKey) -> Result<(), EngineError> {
        let tip = self.tip_height()?;
        if height > tip && self.sync_target.is_none_or(|(target, _)| height > target) {
            self.sync_target = Some((height, peer));
        }
        self.request_blocks();
        Ok(())
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
        self.sync_request(
            peer,
            SyncRequest::Blocks {
                from: tip + 1,
                count,
            },
        );
    }

    fn on_sync(
        &mut self,
        peer: NetworkKey,
        response: Option<SyncResponse>,
        blocks: bool,
    ) -> Result<(), EngineError> {
        match response {
            Some(SyncResponse::Status { height }) => self.note_peer_height(height, peer),
            None => {
                tracing::debug!(?peer, blocks, "sync request failed");
                if blocks {
                    self.sync_in_flight = false;
                    // Forget the target (the next status answer sets a new
                    // one) and take part again at the store's next height:
                    // an earlier answer may have moved the store past the
                    // machine, and a peer that claimed more and then fails
                    // must not leave it behind. (Blocks still being applied
                    // end the same way when they are done.)
                    if self.sync_apply.is_none() {
                        self.sync_done(false)?;
                        self.run()?;
                    }
                }
                Ok(())
            }
            Some(SyncResponse::Blocks(answer)) => {
                if blocks {
                    self.sync_in_flight = false;
                }
                self.sync_apply = Some(SyncApply {
                    peer,
                    blocks: answer.into(),
                    applied: 0,
                });
                self.run()
            }
        }
    }

    /// One step of applying synced blocks: wait for the block in flight,
    /// apply the next block, or finish.
    fn step_sync_apply(&mut self) -> Result<(), EngineError> {
        if self.pending.is_some() {
            // Synced blocks extend the store: a decided block lands first.
            self.waiting = Some(Waiting::Store);
            return Ok(());
        }
        let Some(sync) = &mut self.sync_apply else {
            return Ok(());
        };
        if let Some((block, certificate)) = sync.blocks.pop_front() {
            let peer = sync.peer;
            match self.apply_synced(&block, certificate) {
                Ok(()) => {
                    if let Some(sync) = &mut self.sync_apply {
                        sync.applied += 1;
                    }
                }
                Err(SyncFailure::Fatal(error)) => return Err(error),
                Err(SyncFailure::Peer(reason)) => {
                    tracing::warn!(?peer, %reason, "sync block refused");
                    if let Some(sync) = &mut self.sync_apply {
                        sync.blocks.clear();
                    }
                }
            }
            return Ok(());
        }
        let applied = sync.applied;
        self.sync_apply = None;
        if applied > 0 && self.syncing() {
            self.request_blocks();
            return Ok(());
        }
        self.sync_done(applied > 0)
    }

    /// A sync ended: done, or the peer did not deliver what it claimed
    /// (its target is dropped: a peer that lies about its height cannot
    /// hold us). Consensus resumes above what the store holds.
    fn sync_done(&mut self, applied: bool) -> Result<(), EngineError> {
        self.sync_target = None;
        let next = self.next_height()?;
        if applied || (!self.idle && self.machine.height().0 < next) {
            // Join consensus above what was synced (also after an earlier
            // answer of this sync moved the store past the machine).
            self.idle_buffer.retain(|m| m.height() >= next);
            self.idle = true;
            self.want_start = true;
        } else {
            self.start_if_deadline_due()?;
        }
        Ok(())
    }

    /// Verifies and hands one synced block to the store. A verification
    /// failure is the peer's fault; a failure of our own is fatal.
    fn apply_synced(
        &mut self,
        block: &Block,
        certificate: CommitCertificate,
    ) -> Result<(), SyncFailure> {
        let tip = self
            .store
            .chain_tip()
            .map_err(|e| SyncFailure::Fatal(e.into()))?;
        if block.header.height != tip.height + 1 {
            return Err(SyncFailure::Peer(format!(
                "block {} is not the next height {}",
                block.header.height,
                tip.height + 1
            )));
        }
        let hash = block.hash().map_err(|e| SyncFailure::Peer(e.to_string()))?;
        // The body first (cheap): the certificate is about the hash only.
        block
            .check_body()
            .map_err(|e| SyncFailure::Peer(e.to_string()))?;
        let checked = if self.mutants.accept_unchecked_sync {
            Ok(())
        } else {
            certificate.verify(&self.chain_id, block.header.height, &hash, &self.validators)
        };
        checked.map_err(|e| SyncFailure::Peer(e.to_string()))?;
        if certificate.height != block.header.height || certificate.block_hash != hash {
            return Err(SyncFailure::Peer(
                "the certificate names another block".into(),
            ));
        }
        self.metrics
            .add_signature_checks(CheckSource::Block, block.transactions.len());
        let outcome = match state::apply_block(&self.view(), block, Signatures::Verify) {
            Ok(outcome) => outcome,
            Err(error) if is_our_bug(&error) => {
                return Err(SyncFailure::Fatal(EngineError::Invariant {
                    height: block.header.height,
                    reason: format!("executing a certified block: {error}"),
                }));
            }
            Err(error) => return Err(SyncFailure::Peer(error.to_string())),
        };
        self.decide(outcome, certificate, true)
            .map_err(SyncFailure::Fatal)
    }

    /// Answers a peer's sync request from the store (`None`: a bad request).
    fn answer_sync(&self, data: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let Ok(request) = SyncRequest::decode(data) else {
            return Ok(None);
        };
        let response = match request {
            SyncRequest::Status => SyncResponse::Status {
                height: self.store.chain_tip()?.height,
            },
            SyncRequest::Blocks { from, count } => {
                let mut blocks = Vec::new();
                let mut bytes = 0usize;
                for height in from..from.saturating_add(u64::from(count.min(SYNC_BLOCKS_MAX))) {
                    let (Some(block), Some(certificate)) = (
                        self.store.block_at(height)?,
                        self.store.certificate_at(height)?,
                    ) else {
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
        Ok(response.encode().ok())
    }
}

/// The state the next height executes on: the decided block the store is
/// still writing, if any, over the store. (A free function, so callers can
/// borrow the mempool mutably beside it.)
fn view_of<'a>(store: &'a Arc<dyn ChainStore>, pending: &'a Option<Decided>) -> Overlay<'a> {
    let base: &dyn state::StateView = &**store;
    Overlay::new(base, pending.as_ref())
}

/// Whether a block failing to execute is our bug rather than bad data:
/// a broken invariant of the state transition, or our store failing.
fn is_our_bug(error: &BlockError) -> bool {
    matches!(
        error,
        BlockError::Invariant(_) | BlockError::View(_) | BlockError::ValidatorSet(_)
    )
}
