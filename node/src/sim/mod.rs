//! The whole-node simulator: N real [`Engine`]s (with the real mempool, the
//! real ledger execution and the store's in-memory twin) over a simulated
//! network and clock, with crashes and Byzantine peers, all driven by one
//! seed. Same seed, same trace, same digest.
//!
//! A run has two phases. Faults (the first [`FAULT_PHASE_MS`] of simulated
//! time): message delays, drops, duplicates and reordering, a slow link,
//! partitions that heal, validators that crash at any effect (losing what
//! their WAL had not synced, and any store write not yet landed) and
//! restart from WAL and store, clock skew, and at most one Byzantine
//! validator (an equivocating proposer and voter, a Twins copy of one key,
//! a proposer of invalid blocks, messages for far-future heights, forged
//! sync answers). Payments from many accounts go to random nodes
//! throughout, and clients resubmit what is not final, as `--wait` does.
//! Then liveness: faults stop (the Byzantine validator keeps misbehaving)
//! and every submitted payment must be committed everywhere within
//! [`LIVENESS_BOUND_MS`].
//!
//! Checked on every seed (a violation names the node, height and what):
//! agreement (one block per height on every honest node), validity (the
//! chain re-executes from genesis to every state root, every certificate
//! verifies against the validator set, money is conserved per asset), no
//! honest validator signs two different messages for one (height, round,
//! step) nor prevotes against its lock without a proof-of-lock, persist
//! then speak (the host's [`PersistGuard`]), no fatal error on an honest
//! node, and liveness.
//!
//! It does not model gossipsub's mesh (every publish reaches every
//! connected node directly) or the API's HTTP layer (submissions enter as
//! [`Event::Submit`] with their signatures checked, as the API does).

mod rng;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use clearhouse_ledger::block::signatures_root;
use clearhouse_ledger::certificate::{CommitCertificate, VoteKind};
use clearhouse_ledger::crypto::{self, Keypair, sha256};
use clearhouse_ledger::genesis::{
    AccountEntry, AssetEntry, Genesis, GenesisFile, GovernanceEntry, MemberEntry,
};
use clearhouse_ledger::merkle;
use clearhouse_ledger::state::{self, Signatures};
use clearhouse_ledger::store::ChainStore;
use clearhouse_ledger::store::memory::MemoryStore;
use clearhouse_ledger::validators::{ValidatorKey, ValidatorSet};
use clearhouse_ledger::{Amount, AssetCode, Body, ChainId, Hash, SignedTransaction, Transaction};

use crate::config::{Limits, Timeouts};
use crate::engine::{
    Effect, Engine, EngineConfig, Event, Millis, Mutants, PersistGuard, Signer, message_id,
};
use crate::mempool::{Mempool, MempoolLimits};
use crate::metrics::Metrics;
use crate::peer::{MessageId, NetworkKey, Topic};
use crate::verify::{self, Verified};
use crate::wal::WalRecord;
use crate::wire::{
    ConsensusGossip, ConsensusMessage, SignedProposal, SignedVote, SyncRequest, SyncResponse,
};

pub use rng::Rng;

/// Simulated time during which faults are injected.
pub const FAULT_PHASE_MS: Millis = 6_000;
/// After the faults stop, every payment must be committed everywhere
/// within this much simulated time.
pub const LIVENESS_BOUND_MS: Millis = 30_000;
/// After the faults stop, the longest the network may go without a new
/// height while it has work: a few rounds of the simulator's timeouts
/// plus a sync.
pub const STALL_BOUND_MS: Millis = 10_000;
/// Accounts that send payments.
const ACCOUNTS: usize = 12;
const ASSETS: [&str; 10] = [
    "CNY", "USD", "EUR", "JPY", "GBP", "CHF", "SGD", "HKD", "AUD", "CAD",
];

/// One simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed: everything else follows from it.
    pub seed: u64,
    /// Validators (4 to 10).
    pub validators: usize,
    /// Broken variants of the engine (all off: the real engine).
    pub mutants: Mutants,
    /// Payments submitted during the fault phase.
    pub payments: usize,
    /// Keep a readable trace.
    pub trace: bool,
    /// Change the validator set by governance throughout the run
    /// ([`GOVERNANCE_STEPS`] proposals: a bank whose node runs from the
    /// start outside the set is admitted, one is suspended and later
    /// reinstated, one rotates its validator key, one is removed, and
    /// voting powers change).
    pub governance: bool,
}

/// Proposals a governed run carries through.
pub const GOVERNANCE_STEPS: usize = 7;

impl SimConfig {
    /// A run of `validators` validators with defaults.
    pub fn new(seed: u64, validators: usize) -> SimConfig {
        SimConfig {
            seed,
            validators,
            mutants: Mutants::default(),
            payments: 60,
            trace: false,
            governance: false,
        }
    }
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// The scenario the seed chose, in words.
    pub scenario: String,
    /// Every violated safety promise (agreement, validity, no double
    /// sign, the lock, persist then speak, no fatal error on an honest
    /// node). Empty: safe.
    pub violations: Vec<String>,
    /// Liveness failures: payments not committed everywhere within the
    /// bound after the faults stopped, or honest nodes at different heights.
    pub liveness: Vec<String>,
    /// The height every honest node reached.
    pub height: u64,
    /// How many times the validator set changed along the chain.
    pub set_changes: usize,
    /// The longest time without a new height after the faults stopped
    /// (while payments or governance steps were outstanding).
    pub stall_ms: Millis,
    /// Payments committed.
    pub committed: usize,
    /// Payments submitted.
    pub submitted: usize,
    /// A digest of the whole trace (same seed, same digest).
    pub digest: Hash,
    /// The readable trace, when asked for.
    pub trace: Vec<String>,
}

/// A Byzantine behaviour of the last validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Byzantine {
    None,
    /// Sends a second, different proposal and vote to some peers.
    Equivocate,
    /// A second engine runs with its key (Twins).
    Twins,
    /// Its proposals carry a wrong state root or a badly signed payment.
    BadBlocks,
    /// Sends votes for heights far ahead.
    FarFuture,
    /// Claims a higher chain and serves a block with a forged certificate.
    ForgedSync,
}

/// What the simulated world does next.
#[derive(Debug)]
enum Action {
    /// Deliver an event to a node (dropped if the node restarted since).
    Deliver {
        node: usize,
        incarnation: u64,
        event: Event,
    },
    /// A store write lands.
    Land {
        node: usize,
        incarnation: u64,
        outcome: Arc<clearhouse_ledger::state::BlockOutcome>,
        certificate: CommitCertificate,
    },
    /// The node's clock reaches its next wake.
    Tick {
        node: usize,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Partition {
        groups: Vec<usize>,
    },
    Heal,
    /// A client submits (or resubmits) payment `index`.
    Submit {
        index: usize,
    },
    /// Clients resubmit what is not final yet.
    Resubmit,
    /// The banks' governance clients take their next step.
    Govern,
    /// A sync request's timeout: fails it unless it was answered.
    SyncTimeout {
        token: u64,
    },
}

struct Node {
    key: NetworkKey,
    /// The validator key's seed (`Keypair` is deliberately not `Clone`).
    signer: Option<[u8; 32]>,
    store: Arc<MemoryStore>,
    engine: Option<Engine>,
    incarnation: u64,
    /// The WAL file: its records, and how many of them are synced.
    wal: Vec<WalRecord>,
    wal_synced: usize,
    guard: PersistGuard,
    skew_ms: Millis,
    next_tick: Option<Millis>,
    honest: bool,
    crash_budget: u32,
    fatal: bool,
}

struct Payment {
    tx: SignedTransaction,
    id: Hash,
}

/// One planned governance proposal.
#[derive(Clone)]
struct GovStep {
    action: state::governance::Action,
    proposer: usize,
    /// The other active banks: each votes yes.
    voters: Vec<usize>,
    /// A key rotation: once it took effect, this node restarts signing
    /// with this key seed (its operator's new key file).
    rotate: Option<(usize, [u8; 32])>,
}

#[derive(Debug, Clone, Copy)]
enum GovPhase {
    Idle,
    Proposed(Hash),
    Voted(Hash),
}

/// The banks' governance clients: a plan of proposals carried out one
/// after the other, each signed by its bank's governance key.
struct Governance {
    steps: Vec<GovStep>,
    current: usize,
    phase: GovPhase,
    keys: Vec<Keypair>,
    nonces: Vec<u64>,
    outcomes: Vec<&'static str>,
}

/// What a governed run starts from: `n` genesis banks, and the node of the
/// bank the run admits.
struct GovernedNetwork {
    n: usize,
    /// The node index of bank `n` (it starts outside the set).
    candidate: usize,
    /// The Byzantine validator's bank, if any: its key is never rotated
    /// (its twin would keep the old one).
    byzantine: Option<usize>,
    seed: u64,
}

/// The member id of bank `i`.
fn bank(i: usize) -> clearhouse_ledger::MemberId {
    clearhouse_ledger::MemberId::new(&format!("bank-{i}"))
        .unwrap_or_else(|_| unreachable_genesis("bank id"))
}

/// The admitted bank's node keys: its validator key seed and network key.
fn candidate_keys(network: &GovernedNetwork) -> ([u8; 32], Keypair) {
    (
        seed_of("validator-candidate", network.seed),
        key_of(&format!("network-{}", network.candidate), network.seed),
    )
}

impl Governance {
    /// [`GOVERNANCE_STEPS`] steps over `n` genesis banks of power 10 and
    /// one bank waiting outside: its admission, a suspension and later
    /// its reinstatement, a validator key rotation, voting power changes
    /// and the removal of a bank. Every step keeps at least 4 validators
    /// and every validator below a third of the active power, so each one
    /// must apply.
    fn plan(rng: &mut Rng, network: &GovernedNetwork) -> Governance {
        use state::governance::Action as A;
        let n = network.n;
        let seed = network.seed;
        let banks = n + 1;
        // Bank i's power; 0 while not in the set.
        let mut powers = vec![10u64; banks];
        powers[n] = 0;
        let mut status = vec![true; banks];
        status[n] = false;
        let mut suspended: Option<usize> = None;
        let mut steps = Vec::new();
        let pick =
            |rng: &mut Rng, below: usize| usize::try_from(rng.below(below as u64)).unwrap_or(0);
        let fits = |powers: &[u64], active: &[bool]| {
            let total: u64 = (0..banks).filter(|i| active[*i]).map(|i| powers[i]).sum();
            let count = active.iter().filter(|a| **a).count();
            count >= 4
                && (0..banks)
                    .filter(|i| active[*i])
                    .all(|i| powers[i] * 3 < total)
        };
        let node_of = |bank: usize| if bank == n { network.candidate } else { bank };
        let mut attempts = 0;
        while steps.len() < GOVERNANCE_STEPS && attempts < 1_000 {
            attempts += 1;
            let active: Vec<usize> = (0..banks).filter(|i| status[*i]).collect();
            let mut rotate = None;
            let mut next = status.clone();
            let action = match steps.len() {
                0 => {
                    let (validator, network_key) = candidate_keys(network);
                    powers[n] = 10;
                    next[n] = true;
                    A::AddMember(state::governance::NewMember {
                        id: bank(n),
                        name: format!("Bank {n}"),
                        validator_key: ValidatorKey(Keypair::from_seed(&validator).account().0),
                        network_key: network_key.account().0,
                        voting_power: 10,
                        treasury: key_of(&format!("treasury-{n}"), seed).account(),
                        governance: key_of(&format!("governance-{n}"), seed).account(),
                        api_key: None,
                        sealing_key: None,
                        addresses: Vec::new(),
                    })
                }
                1 | 5 => {
                    let target = active[pick(rng, active.len())];
                    next[target] = false;
                    if !fits(&powers, &next) {
                        continue;
                    }
                    if steps.len() == 1 {
                        suspended = Some(target);
                        A::SuspendMember {
                            member: bank(target),
                        }
                    } else {
                        A::RemoveMember {
                            member: bank(target),
                        }
                    }
                }
                2 => {
                    let candidates: Vec<usize> = active
                        .iter()
                        .copied()
                        .filter(|i| Some(*i) != network.byzantine)
                        .collect();
                    let target = candidates[pick(rng, candidates.len())];
                    let new = seed_of(&format!("validator-{target}-rotated"), seed);
                    rotate = Some((node_of(target), new));
                    A::RotateValidatorKey {
                        member: bank(target),
                        validator_key: ValidatorKey(Keypair::from_seed(&new).account().0),
                    }
                }
                4 => {
                    let Some(target) = suspended.take() else {
                        continue;
                    };
                    next[target] = true;
                    A::ReinstateMember {
                        member: bank(target),
                    }
                }
                _ => {
                    // A new power for an active bank, within what keeps
                    // every bank below a third of the active total.
                    let target = active[pick(rng, active.len())];
                    let candidates: Vec<u64> = (8..=13)
                        .filter(|p| *p != powers[target])
                        .filter(|p| {
                            let mut changed = powers.clone();
                            changed[target] = *p;
                            fits(&changed, &status)
                        })
                        .collect();
                    if candidates.is_empty() {
                        continue;
                    }
                    let power = candidates[pick(rng, candidates.len())];
                    powers[target] = power;
                    A::SetVotingPower {
                        member: bank(target),
                        voting_power: power,
                    }
                }
            };
            // Proposer and voters: the banks active while it is voted on.
            let proposer = active[pick(rng, active.len())];
            let voters = active.iter().copied().filter(|i| *i != proposer).collect();
            status = next;
            steps.push(GovStep {
                action,
                proposer,
                voters,
                rotate,
            });
        }
        Governance {
            steps,
            current: 0,
            phase: GovPhase::Idle,
            keys: (0..banks)
                .map(|i| key_of(&format!("governance-{i}"), seed))
                .collect(),
            nonces: vec![0; banks],
            outcomes: Vec::new(),
        }
    }

    /// Bank `bank`'s next transaction (its nonce advances).
    fn sign(&mut self, chain_id: ChainId, bank: usize, body: Body) -> Option<Payment> {
        let key = self.keys.get(bank)?;
        let tx = Transaction {
            chain_id,
            sender: key.account(),
            nonce: self.nonces[bank],
            fee: Amount(0),
            expiry_height: u64::MAX,
            body,
        }
        .sign(key)
        .ok()?;
        self.nonces[bank] += 1;
        let id = tx.id().ok()?;
        Some(Payment { tx, id })
    }

    fn finished(&self) -> bool {
        self.current >= self.steps.len()
    }

    fn summary(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|step| match &step.action {
                state::governance::Action::SetVotingPower {
                    member,
                    voting_power,
                } => format!("{member}={voting_power}"),
                other => format!("{}:{:?}", other.kind(), step.proposer),
            })
            .collect()
    }
}

/// A signed message an honest validator published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Proposal,
    Prevote,
    Precommit,
}

/// (signer, height, round, step) of a signed message.
type SignedSlot = (ValidatorKey, u64, u32, Slot);
/// What was signed there: the value and, for a proposal, its valid round.
type Signed = (Option<Hash>, Option<u32>);

struct World {
    config: SimConfig,
    rng: Rng,
    chain_id: ChainId,
    genesis: Genesis,
    /// The validator set of each height where it changed, from the replay.
    sets: BTreeMap<u64, ValidatorSet>,
    governance: Option<Governance>,
    nodes: Vec<Node>,
    queue: BTreeMap<(Millis, u64), Action>,
    sequence: u64,
    now: Millis,
    byzantine: Byzantine,
    /// Network parameters (during faults).
    delay_ms_max: Millis,
    drop_per_mille: u64,
    duplicate_per_mille: u64,
    effect_crash_per_mille: u64,
    slow_link: Option<(usize, usize)>,
    partition: Option<Vec<usize>>,
    faults_over: bool,
    payments: Vec<Payment>,
    /// Payments submitted at least once.
    submitted: BTreeSet<usize>,
    /// Committed payment ids (by any honest node).
    committed: BTreeSet<Hash>,
    /// Height -> block hash, as committed by honest nodes.
    chain: BTreeMap<u64, Hash>,
    /// When an honest node first reached the highest height so far.
    progress_at: Millis,
    /// The longest gap between new heights after the faults stopped.
    stall_ms: Millis,
    /// (signer, height, round, slot) -> what it signed.
    signed: BTreeMap<SignedSlot, Signed>,
    /// Every proposal seen published: (height, round, value) -> valid rounds.
    proposals: BTreeMap<(u64, u32, Hash), BTreeSet<Option<u32>>>,
    /// Every prevote published: (height, round, value) -> signers.
    prevotes: BTreeMap<(u64, u32, Option<Hash>), BTreeSet<ValidatorKey>>,
    /// Sync requests in flight: token -> (requester, its incarnation, for
    /// blocks, the peer asked).
    sync_tokens: BTreeMap<u64, (usize, u64, bool, NetworkKey)>,
    scenario: String,
    next_token: u64,
    violations: Vec<String>,
    liveness: Vec<String>,
    digest: sha2_state::Digest,
    trace: Vec<String>,
}

mod sha2_state {
    //! A running trace digest: the hash of the previous digest and each line.
    use clearhouse_ledger::Hash;
    use clearhouse_ledger::crypto::sha256;

    #[derive(Default)]
    pub struct Digest(pub Hash);

    impl Digest {
        pub fn add(&mut self, line: &str) {
            self.0 = sha256(&[&self.0.0, line.as_bytes()]);
        }
    }
}

fn seed_of(label: &str, seed: u64) -> [u8; 32] {
    sha256(&[b"clearhouse-sim-key", label.as_bytes(), &seed.to_be_bytes()]).0
}

fn key_of(label: &str, seed: u64) -> Keypair {
    Keypair::from_seed(&seed_of(label, seed))
}

/// Runs one seed. Its nodes share one memo of signature verdicts
/// ([`crypto::with_verdict_memo`]): each distinct signature is checked
/// once per seed rather than once per node, with the same answers.
pub fn run(config: &SimConfig) -> SimReport {
    crypto::with_verdict_memo(|| {
        let mut world = World::new(config.clone());
        world.run();
        world.report()
    })
}

/// The genesis of a simulated chain: one bank per validator, each issuing
/// one asset, and funded customer accounts spread over the banks.
fn genesis(validators: &[Keypair], accounts: &[Keypair], seed: u64) -> Genesis {
    let n = validators.len();
    let assets: Vec<AssetEntry> = (0..n)
        .map(|i| AssetEntry {
            code: ASSETS[i].into(),
            issuer: format!("bank-{i}"),
            decimals: 2,
        })
        .collect();
    let balances = |amount: &str| -> BTreeMap<String, String> {
        assets
            .iter()
            .map(|a| (a.code.clone(), amount.to_owned()))
            .collect()
    };
    let file = GenesisFile {
        chain_name: "clearhouse-sim".into(),
        genesis_time_ms: 1_763_700_000_000,
        members: (0..n)
            .map(|i| MemberEntry {
                id: format!("bank-{i}"),
                name: format!("Bank {i}"),
                validator_key: validators[i].account().to_hex(),
                network_key: key_of(&format!("network-{i}"), seed).account().to_hex(),
                voting_power: 10,
                treasury: key_of(&format!("treasury-{i}"), seed).account().to_hex(),
                governance_key: key_of(&format!("governance-{i}"), seed).account().to_hex(),
                addresses: Vec::new(),
                api_key: None,
                sealing_key: None,
            })
            .collect(),
        accounts: accounts
            .iter()
            .enumerate()
            .map(|(i, account)| AccountEntry {
                key: account.account().to_hex(),
                bank: format!("bank-{}", i % n),
                balances: balances("1000000.00"),
            })
            .chain((0..n).map(|i| AccountEntry {
                key: key_of(&format!("treasury-{i}"), seed).account().to_hex(),
                bank: format!("bank-{i}"),
                balances: balances("1000000.00"),
            }))
            .collect(),
        assets,
        fees: Vec::new(),
        escrow: None,
        credit: None,
        auditors: Vec::new(),
        regulators: Vec::new(),
        // Proposals take effect in the block after they pass.
        governance: Some(GovernanceEntry {
            activation_offset: 1,
            voting_period_min: 1,
            voting_period_max: 10_000,
        }),
    };
    match file.validate() {
        Ok(genesis) => genesis,
        // The simulator builds this genesis itself: invalid is our bug.
        Err(error) => unreachable_genesis(&error.to_string()),
    }
}

#[allow(clippy::panic)]
fn unreachable_genesis(error: &str) -> ! {
    panic!("the simulator's own genesis is invalid: {error}")
}

fn timeouts() -> Timeouts {
    Timeouts {
        propose_ms: 300,
        propose_delta_ms: 150,
        prevote_ms: 150,
        prevote_delta_ms: 75,
        precommit_ms: 150,
        precommit_delta_ms: 75,
        rebroadcast_ms: 400,
        deadline_block_ms: 1_000,
    }
}

impl World {
    fn new(config: SimConfig) -> World {
        let mut rng = Rng::new(config.seed);
        let n = config.validators.clamp(4, 10);
        let validator_keys: Vec<Keypair> = (0..n)
            .map(|i| key_of(&format!("validator-{i}"), config.seed))
            .collect();
        let accounts: Vec<Keypair> = (0..ACCOUNTS)
            .map(|i| key_of(&format!("account-{i}"), config.seed))
            .collect();
        let genesis = genesis(&validator_keys, &accounts, config.seed);
        let chain_id = genesis.chain_id().unwrap_or_default();
        let byzantine = match rng.below(8) {
            0 | 1 => Byzantine::None,
            2 => Byzantine::Equivocate,
            3 => Byzantine::Twins,
            4 => Byzantine::BadBlocks,
            5 => Byzantine::FarFuture,
            _ => Byzantine::ForgedSync,
        };
        let byzantine_index = n - 1;
        let observers = usize::from(rng.below(2) == 0);
        let twins = usize::from(byzantine == Byzantine::Twins);
        // A governed run's last node belongs to the bank it admits: it
        // starts with its validator key, outside the set.
        let candidate = config.governance.then_some(n + observers + twins);
        let network = GovernedNetwork {
            n,
            candidate: n + observers + twins,
            byzantine: (byzantine != Byzantine::None).then_some(byzantine_index),
            seed: config.seed,
        };
        let mut nodes = Vec::new();
        for i in 0..n + observers + twins + usize::from(candidate.is_some()) {
            let (signer, honest) = if Some(i) == candidate {
                (Some(candidate_keys(&network).0), true)
            } else if i < n {
                (
                    Some(seed_of(&format!("validator-{i}"), config.seed)),
                    byzantine == Byzantine::None || i != byzantine_index,
                )
            } else if i == n && twins == 1 {
                (
                    Some(seed_of(
                        &format!("validator-{byzantine_index}"),
                        config.seed,
                    )),
                    false,
                )
            } else {
                (None, true)
            };
            let store = match MemoryStore::new(&genesis) {
                Ok(store) => Arc::new(store),
                Err(error) => unreachable_genesis(&error.to_string()),
            };
            nodes.push(Node {
                key: NetworkKey(key_of(&format!("network-{i}"), config.seed).account().0),
                signer,
                store,
                engine: None,
                incarnation: 0,
                wal: Vec::new(),
                wal_synced: 0,
                guard: PersistGuard::default(),
                skew_ms: rng.below(300),
                next_tick: None,
                honest,
                crash_budget: 2,
                fatal: false,
            });
        }
        // Payments: each account sends in nonce order.
        let mut payments = Vec::new();
        let mut nonces = [0u64; ACCOUNTS];
        for _ in 0..config.payments {
            let from = usize::try_from(rng.below(ACCOUNTS as u64)).unwrap_or(0);
            let to = (from + 1 + usize::try_from(rng.below(ACCOUNTS as u64 - 1)).unwrap_or(0))
                % ACCOUNTS;
            let asset = ASSETS[usize::try_from(rng.below(n as u64)).unwrap_or(0)];
            let tx = Transaction {
                chain_id,
                sender: accounts[from].account(),
                nonce: nonces[from],
                fee: Amount(0),
                expiry_height: u64::MAX,
                body: Body::Transfer {
                    to: accounts[to].account(),
                    asset: AssetCode::new(asset).unwrap_or_else(|_| unreachable_genesis(asset)),
                    amount: Amount(u128::from(1 + rng.below(500))),
                },
            }
            .sign(&accounts[from]);
            nonces[from] += 1;
            if let Ok(tx) = tx
                && let Ok(id) = tx.id()
            {
                payments.push(Payment { tx, id });
            }
        }
        let faulty = rng.below(4) != 0;
        let mut world = World {
            rng,
            chain_id,
            genesis,
            sets: BTreeMap::new(),
            governance: None,
            nodes,
            queue: BTreeMap::new(),
            sequence: 0,
            now: 0,
            byzantine,
            delay_ms_max: 0,
            drop_per_mille: 0,
            duplicate_per_mille: 0,
            effect_crash_per_mille: 0,
            slow_link: None,
            partition: None,
            faults_over: false,
            payments,
            submitted: BTreeSet::new(),
            committed: BTreeSet::new(),
            chain: BTreeMap::new(),
            progress_at: 0,
            stall_ms: 0,
            signed: BTreeMap::new(),
            proposals: BTreeMap::new(),
            prevotes: BTreeMap::new(),
            sync_tokens: BTreeMap::new(),
            next_token: 0,
            violations: Vec::new(),
            liveness: Vec::new(),
            scenario: String::new(),
            digest: sha2_state::Digest::default(),
            trace: Vec::new(),
            config,
        };
        world.delay_ms_max = 2 + world.rng.below(40);
        if faulty {
            world.drop_per_mille = world.rng.below(150);
            world.duplicate_per_mille = world.rng.below(100);
            world.effect_crash_per_mille = world.rng.below(4);
            if world.rng.below(2) == 0 {
                let a = usize::try_from(world.rng.below(n as u64)).unwrap_or(0);
                let b = (a + 1) % n;
                world.slow_link = Some((a, b));
            }
            for _ in 0..world.rng.below(3) {
                let at = world.rng.below(FAULT_PHASE_MS);
                let node = usize::try_from(world.rng.below(n as u64)).unwrap_or(0);
                world.schedule(at, Action::Crash { node });
            }
            if world.rng.below(2) == 0 {
                let at = world.rng.below(FAULT_PHASE_MS / 2);
                let groups = (0..world.nodes.len())
                    .map(|_| usize::try_from(world.rng.below(2)).unwrap_or(0))
                    .collect();
                world.schedule(at, Action::Partition { groups });
                let heal = at + 300 + world.rng.below(2_500);
                world.schedule(heal.min(FAULT_PHASE_MS), Action::Heal);
            }
        }
        world.schedule(FAULT_PHASE_MS, Action::Heal);
        for index in 0..world.payments.len() {
            let at = world.rng.below(FAULT_PHASE_MS);
            world.schedule(at, Action::Submit { index });
        }
        world.schedule(700, Action::Resubmit);
        if world.config.governance {
            world.governance = Some(Governance::plan(&mut world.rng, &network));
            world.schedule(200, Action::Govern);
        }
        world.scenario = world.scenario();
        world
    }

    fn scenario(&self) -> String {
        let governance = self
            .governance
            .as_ref()
            .map(|g| format!(", governance {:?}", g.summary()))
            .unwrap_or_default();
        format!(
            "{} validators, {} nodes, byzantine {:?}, delay <= {} ms, drop {}‰, duplicate {}‰, crash-at-effect {}‰, slow link {:?}{governance}",
            self.config.validators.clamp(4, 10),
            self.nodes.len(),
            self.byzantine,
            self.delay_ms_max,
            self.drop_per_mille,
            self.duplicate_per_mille,
            self.effect_crash_per_mille,
            self.slow_link,
        )
    }

    /// The governance clients' next step: propose the current step's
    /// action; once the proposal is committed, every other active bank
    /// votes yes; once it took effect (or failed), the next step.
    fn govern(&mut self) {
        let Some(mut governance) = self.governance.take() else {
            return;
        };
        let store = self
            .nodes
            .iter()
            .filter(|n| n.honest && !n.fatal)
            .max_by_key(|n| n.store.chain_tip().map(|t| t.height).unwrap_or(0))
            .map(|n| n.store.clone());
        let mut submit = Vec::new();
        let mut rotate = Vec::new();
        match governance.phase {
            GovPhase::Idle if governance.current < governance.steps.len() => {
                let step = governance.steps[governance.current].clone();
                let body = Body::Propose {
                    action: step.action.clone(),
                    voting_period: 1_000,
                };
                if let Some(payment) = governance.sign(self.chain_id, step.proposer, body) {
                    self.note(format!(
                        "governance step {}: bank {} proposes {}",
                        governance.current,
                        step.proposer,
                        step.action.kind()
                    ));
                    governance.phase = GovPhase::Proposed(payment.id);
                    submit.push(payment);
                }
            }
            GovPhase::Idle => {}
            GovPhase::Proposed(id) => {
                if self.committed.contains(&id) {
                    let step = governance.steps[governance.current].clone();
                    for voter in step.voters {
                        let body = Body::Vote {
                            proposal: id,
                            approve: true,
                        };
                        if let Some(payment) = governance.sign(self.chain_id, voter, body) {
                            submit.push(payment);
                        }
                    }
                    governance.phase = GovPhase::Voted(id);
                }
            }
            GovPhase::Voted(id) => {
                let proposal = store.as_ref().and_then(|store| {
                    state::read::<state::governance::Proposal>(
                        &**store,
                        &state::StateKey::Proposal(id),
                    )
                    .ok()
                    .flatten()
                });
                if let Some(proposal) = proposal
                    && !proposal.status.is_open()
                {
                    self.note(format!(
                        "governance step {}: {}",
                        governance.current,
                        proposal.status.as_str()
                    ));
                    governance.outcomes.push(proposal.status.as_str());
                    if let (Some((node, key)), state::governance::ProposalStatus::Applied { .. }) = (
                        governance.steps[governance.current].rotate,
                        &proposal.status,
                    ) {
                        rotate.push((node, key));
                    }
                    governance.current += 1;
                    governance.phase = GovPhase::Idle;
                }
            }
        }
        for (node, key) in rotate {
            self.rotate_key(node, key);
        }
        for payment in submit {
            let index = self.payments.len();
            self.payments.push(payment);
            self.submit(index);
        }
        let finished = governance.finished();
        self.governance = Some(governance);
        if !finished {
            self.schedule(self.now + 150, Action::Govern);
        }
    }

    fn schedule(&mut self, at: Millis, action: Action) {
        self.sequence += 1;
        self.queue.insert((at, self.sequence), action);
    }

    fn note(&mut self, line: String) {
        self.digest.add(&line);
        if self.config.trace {
            self.trace.push(format!("{:>7} {line}", self.now));
        }
    }

    fn violation(&mut self, what: String) {
        let line = format!("VIOLATION at {} ms: {what}", self.now);
        self.note(line.clone());
        if self.violations.len() < 20 {
            self.violations.push(line);
        }
    }

    fn liveness_failure(&mut self, what: String) {
        let line = format!("LIVENESS at {} ms: {what}", self.now);
        self.note(line.clone());
        self.liveness.push(line);
    }

    fn engine_config(&self, node: usize) -> EngineConfig {
        let signer = self.nodes[node].signer.as_ref().map(|seed| Signer {
            key: Keypair::from_seed(seed),
        });
        EngineConfig {
            chain_id: self.chain_id,
            signer,
            limits: Limits {
                block_txs_max: 50,
                ..Limits::default()
            },
            timeouts: timeouts(),
            mutants: if self.nodes[node].honest {
                self.config.mutants
            } else {
                Mutants::default()
            },
        }
    }

    fn node_now(&self, node: usize) -> Millis {
        // Skewed clocks: a node's clock runs ahead by its skew.
        1_763_700_000_000 + self.now + self.nodes[node].skew_ms
    }

    fn boot(&mut self, node: usize) {
        let config = self.engine_config(node);
        let mempool = Mempool::new(MempoolLimits {
            mempool_txs_max: 10_000,
            mempool_bytes_max: 16 * 1024 * 1024,
            sender_txs_max: 1_000,
        });
        let store: Arc<dyn ChainStore> = self.nodes[node].store.clone();
        let now = self.node_now(node);
        match Engine::new(config, store, mempool, Arc::new(Metrics::default()), now) {
            Ok(engine) => self.nodes[node].engine = Some(engine),
            Err(error) => {
                self.fatal(node, &error.to_string());
                return;
            }
        }
        self.nodes[node].incarnation += 1;
        let wal = self.nodes[node].wal[..self.nodes[node].wal_synced].to_vec();
        self.nodes[node].wal = wal.clone();
        self.nodes[node].guard = PersistGuard::recovered(&wal);
        let validator = self.nodes[node]
            .signer
            .map(|seed| hex_short(&Keypair::from_seed(&seed).account().0))
            .unwrap_or_else(|| "observer".into());
        self.note(format!(
            "node {node} ({validator}) boots with {} WAL records",
            wal.len()
        ));
        self.feed(node, Event::Start { wal });
        for peer in 0..self.nodes.len() {
            if peer != node && self.connected(node, peer) && self.nodes[peer].engine.is_some() {
                let key = self.nodes[peer].key;
                self.feed(node, Event::PeerConnected(key));
                let own = self.nodes[node].key;
                self.feed(peer, Event::PeerConnected(own));
            }
        }
    }

    fn fatal(&mut self, node: usize, error: &str) {
        self.nodes[node].fatal = true;
        self.nodes[node].engine = None;
        if self.nodes[node].honest {
            self.violation(format!("node {node} stopped with a fatal error: {error}"));
        } else {
            self.note(format!("byzantine node {node} stopped: {error}"));
        }
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        match &self.partition {
            Some(groups) => groups[a] == groups[b],
            None => true,
        }
    }

    fn run(&mut self) {
        for node in 0..self.nodes.len() {
            self.boot(node);
        }
        let deadline = FAULT_PHASE_MS + LIVENESS_BOUND_MS;
        while let Some(((at, _), action)) = self.queue.pop_first() {
            if at > deadline {
                break;
            }
            self.now = at;
            self.act(action);
            if self.faults_over && self.done() {
                break;
            }
        }
        self.finish();
    }

    /// Liveness reached: every payment committed and every honest node at
    /// the same height with nothing in flight.
    fn done(&self) -> bool {
        if self.committed.len() < self.payments.len() {
            return false;
        }
        if self.governance.as_ref().is_some_and(|g| !g.finished()) {
            return false;
        }
        let mut heights = self
            .nodes
            .iter()
            .filter(|n| n.honest && !n.fatal)
            .map(|n| n.store.chain_tip().map(|t| t.height).unwrap_or(0));
        let first = heights.next();
        heights.all(|h| Some(h) == first)
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Deliver {
                node,
                incarnation,
                event,
            } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].engine.is_some()
                {
                    self.feed(node, event);
                }
            }
            Action::Land {
                node,
                incarnation,
                outcome,
                certificate,
            } => {
                if self.nodes[node].incarnation != incarnation || self.nodes[node].engine.is_none()
                {
                    return;
                }
                self.land(node, &outcome, &certificate);
            }
            Action::Tick { node } => {
                if self.nodes[node].next_tick == Some(self.now) {
                    self.nodes[node].next_tick = None;
                    if self.nodes[node].engine.is_some() {
                        self.feed(node, Event::Tick);
                    }
                }
            }
            Action::Crash { node } => self.crash(node),
            Action::Restart { node } => {
                if self.nodes[node].engine.is_none() && !self.nodes[node].fatal {
                    self.boot(node);
                }
            }
            Action::Partition { groups } => {
                self.note(format!("partition {groups:?}"));
                self.partition = Some(groups);
                self.reconnect(false);
            }
            Action::Heal => {
                self.note("heal".into());
                self.partition = None;
                self.reconnect(true);
                if self.now >= FAULT_PHASE_MS {
                    self.faults_over = true;
                    self.drop_per_mille = 0;
                    self.duplicate_per_mille = 0;
                    self.effect_crash_per_mille = 0;
                    self.slow_link = None;
                    for node in 0..self.nodes.len() {
                        if self.nodes[node].engine.is_none() && !self.nodes[node].fatal {
                            self.boot(node);
                        }
                    }
                }
            }
            Action::Submit { index } => self.submit(index),
            Action::Govern => self.govern(),
            Action::SyncTimeout { token } => {
                if let Some((requester, incarnation, blocks, peer)) =
                    self.sync_tokens.remove(&token)
                {
                    self.schedule(
                        self.now,
                        Action::Deliver {
                            node: requester,
                            incarnation,
                            event: Event::SyncAnswer {
                                peer,
                                response: None,
                                blocks,
                            },
                        },
                    );
                }
            }
            Action::Resubmit => {
                let pending: Vec<usize> = self
                    .submitted
                    .iter()
                    .copied()
                    .filter(|i| !self.committed.contains(&self.payments[*i].id))
                    .collect();
                for index in pending {
                    self.submit(index);
                }
                self.schedule(self.now + 700, Action::Resubmit);
            }
        }
    }

    /// Tells every node pair whether it is connected now.
    fn reconnect(&mut self, connected: bool) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if a == b || self.nodes[a].engine.is_none() || self.nodes[b].engine.is_none() {
                    continue;
                }
                let key = self.nodes[b].key;
                if connected {
                    self.feed(a, Event::PeerConnected(key));
                } else if !self.connected(a, b) {
                    self.feed(a, Event::PeerDisconnected(key));
                }
            }
        }
    }

    fn crash(&mut self, node: usize) {
        if self.faults_over
            || self.nodes[node].engine.is_none()
            || self.nodes[node].crash_budget == 0
            || self.nodes[node].signer.is_none()
        {
            return;
        }
        self.nodes[node].crash_budget -= 1;
        let synced = self.nodes[node].wal_synced;
        self.note(format!("node {node} crashes, {synced} WAL records survive"));
        let back = self.now + 100 + self.rng.below(1_500);
        self.schedule(back, Action::Restart { node });
        self.take_down(node);
    }

    /// Stops a node as a crash does (the WAL keeps its synced prefix) and
    /// tells its peers it is gone.
    fn take_down(&mut self, node: usize) {
        self.nodes[node].engine = None;
        self.nodes[node].next_tick = None;
        let synced = self.nodes[node].wal_synced;
        self.nodes[node].wal.truncate(synced);
        for peer in 0..self.nodes.len() {
            if peer != node && self.nodes[peer].engine.is_some() {
                let key = self.nodes[node].key;
                self.feed(peer, Event::PeerDisconnected(key));
            }
        }
    }

    /// A bank's validator key was rotated on chain: its operator restarts
    /// the node with the new key file (same data, same WAL).
    fn rotate_key(&mut self, node: usize, key: [u8; 32]) {
        self.note(format!(
            "node {node} restarts with its rotated key {}",
            hex_short(&Keypair::from_seed(&key).account().0)
        ));
        self.nodes[node].signer = Some(key);
        if self.nodes[node].engine.is_none() {
            // Down already: it comes back with the new key.
            return;
        }
        self.take_down(node);
        self.schedule(self.now + 50, Action::Restart { node });
    }

    fn submit(&mut self, index: usize) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|n| self.nodes[*n].engine.is_some() && self.nodes[*n].honest)
            .collect();
        // A client whose submission finds no node up tries again with the
        // next resubmission round, as `--wait` does.
        self.submitted.insert(index);
        if up.is_empty() {
            return;
        }
        let node = up[usize::try_from(self.rng.below(up.len() as u64)).unwrap_or(0)];
        let tx = self.payments[index].tx.clone();
        let len = tx.encode().map(|b| b.len()).unwrap_or(usize::MAX);
        let checked = Verified::check(tx, len, &self.chain_id);
        self.note(format!("submit payment {index} to node {node}"));
        self.feed(
            node,
            Event::Submit {
                request: 0,
                transactions: vec![checked],
            },
        );
    }

    /// Feeds an event to a node's engine and carries out its effects.
    fn feed(&mut self, node: usize, event: Event) {
        let now = self.node_now(node);
        let kind = event_kind(&event);
        let Some(engine) = self.nodes[node].engine.as_mut() else {
            return;
        };
        let result = engine.on(now, event);
        let line = format!("node {node} <- {kind}");
        // The state summary is for readers of a trace only: the digest is
        // the same with and without `trace`, so a replay shows the digest
        // of the run it replays.
        if self.config.trace {
            let summary = engine.summary();
            self.digest.add(&line);
            self.trace
                .push(format!("{:>7} {line} ({summary})", self.now));
        } else {
            self.note(line);
        }
        match result {
            Ok(effects) => self.execute(node, effects),
            Err(error) => self.fatal(node, &error.to_string()),
        }
        self.arm_tick(node);
    }

    fn arm_tick(&mut self, node: usize) {
        let Some(engine) = &self.nodes[node].engine else {
            return;
        };
        if engine.waiting().is_some() {
            return;
        }
        let Some(wake) = engine.next_wake() else {
            return;
        };
        // Back to simulated time (the node's clock is skewed ahead).
        let at = wake
            .saturating_sub(1_763_700_000_000 + self.nodes[node].skew_ms)
            .max(self.now + 1);
        if self.nodes[node].next_tick.is_none_or(|t| at < t) {
            self.nodes[node].next_tick = Some(at);
            self.schedule(at, Action::Tick { node });
        }
    }

    fn delay(&mut self, from: usize, to: usize) -> Millis {
        let mut delay = 1 + self.rng.below(self.delay_ms_max);
        if self
            .slow_link
            .is_some_and(|(a, b)| (a, b) == (from, to) || (b, a) == (from, to))
        {
            delay += 100 + self.rng.below(200);
        }
        delay
    }

    fn deliver(&mut self, from: usize, to: usize, event: Event) {
        let delay = self.delay(from, to);
        let incarnation = self.nodes[to].incarnation;
        self.schedule(
            self.now + delay,
            Action::Deliver {
                node: to,
                incarnation,
                event,
            },
        );
    }

    fn execute(&mut self, node: usize, effects: Vec<Effect>) {
        for effect in effects {
            if self.nodes[node].engine.is_none() {
                return;
            }
            if self.nodes[node].signer.is_some()
                && self.effect_crash_per_mille > 0
                && self.rng.below(1_000) < self.effect_crash_per_mille
            {
                self.crash(node);
                if self.nodes[node].engine.is_none() {
                    return;
                }
            }
            self.effect(node, effect);
        }
    }

    fn effect(&mut self, node: usize, effect: Effect) {
        match effect {
            Effect::WalAppend { record, sync } => {
                let n = &mut self.nodes[node];
                n.guard.appended(&record, sync);
                n.wal.push(record);
                if sync {
                    n.wal_synced = n.wal.len();
                }
            }
            Effect::WalPrune { keep, .. } => {
                let n = &mut self.nodes[node];
                n.guard.pruned(&keep);
                n.wal = keep;
                n.wal_synced = n.wal.len();
            }
            Effect::Publish {
                topic,
                data,
                signed,
            } => {
                if let Some(id) = signed {
                    if let Err(error) = self.nodes[node].guard.check_publish(&id)
                        && self.nodes[node].honest
                    {
                        self.violation(format!("node {node}: {error}"));
                    }
                    self.observe_signed(node, &data);
                }
                let data = self.byzantine_rewrite(node, topic, data);
                self.broadcast(node, topic, data);
            }
            Effect::Report { .. } => {}
            Effect::Commit {
                outcome,
                certificate,
                ..
            } => {
                let incarnation = self.nodes[node].incarnation;
                let at = self.now + 1 + self.rng.below(5);
                self.schedule(
                    at,
                    Action::Land {
                        node,
                        incarnation,
                        outcome,
                        certificate,
                    },
                );
            }
            Effect::Verify {
                job, transactions, ..
            } => {
                // On this thread whatever the job asks: the simulation is
                // one thread (and so is its verdict memo).
                let results = verify::job_verdicts(transactions, &self.chain_id, false);
                let incarnation = self.nodes[node].incarnation;
                let at = self.now + 1 + self.rng.below(3);
                self.schedule(
                    at,
                    Action::Deliver {
                        node,
                        incarnation,
                        event: Event::Verified { job, results },
                    },
                );
            }
            Effect::SyncRequest { peer, request } => self.sync_request(node, peer, request),
            Effect::Respond { request, data } => self.respond(node, request, data),
            Effect::Submitted { results, .. } => {
                for result in results {
                    let line = match result {
                        Ok(id) => format!("node {node} admits {id}"),
                        Err(error) => format!("node {node} refuses: {error}"),
                    };
                    self.note(line);
                }
            }
            Effect::Pending { .. } => {}
        }
    }

    fn broadcast(&mut self, from: usize, topic: Topic, data: Vec<u8>) {
        let source = self.nodes[from].key;
        for to in 0..self.nodes.len() {
            if to == from || !self.connected(from, to) || self.nodes[to].engine.is_none() {
                continue;
            }
            if self.rng.below(1_000) < self.drop_per_mille {
                continue;
            }
            let copies = if self.rng.below(1_000) < self.duplicate_per_mille {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let event = Event::Gossip {
                    topic,
                    id: MessageId::of(&data),
                    source,
                    data: data.clone(),
                };
                self.deliver(from, to, event);
            }
        }
    }

    fn node_by_key(&self, key: &NetworkKey) -> Option<usize> {
        self.nodes.iter().position(|n| n.key == *key)
    }

    fn sync_request(&mut self, from: usize, peer: NetworkKey, request: SyncRequest) {
        let blocks = matches!(request, SyncRequest::Blocks { .. });
        let reachable = self
            .node_by_key(&peer)
            .filter(|to| self.connected(from, *to) && self.nodes[*to].engine.is_some());
        let Some(to) = reachable else {
            let incarnation = self.nodes[from].incarnation;
            self.schedule(
                self.now + 50,
                Action::Deliver {
                    node: from,
                    incarnation,
                    event: Event::SyncAnswer {
                        peer,
                        response: None,
                        blocks,
                    },
                },
            );
            return;
        };
        let Ok(data) = request.encode() else {
            return;
        };
        self.next_token += 1;
        let token = self.next_token;
        self.sync_tokens
            .insert(token, (from, self.nodes[from].incarnation, blocks, peer));
        // As libp2p's request-response does, a request not answered in time
        // fails (the peer crashed, or the answer was lost).
        self.schedule(self.now + 2_000, Action::SyncTimeout { token });
        let requester = self.nodes[from].key;
        self.deliver(
            from,
            to,
            Event::SyncRequest {
                peer: requester,
                request: token,
                data,
            },
        );
    }

    fn respond(&mut self, node: usize, token: u64, data: Option<Vec<u8>>) {
        let Some((requester, incarnation, blocks, _)) = self.sync_tokens.remove(&token) else {
            return;
        };
        let mut response = data.and_then(|d| SyncResponse::decode(&d).ok());
        if !self.nodes[node].honest && self.byzantine == Byzantine::ForgedSync {
            response = self.forge_sync(node, response);
        }
        let peer = self.nodes[node].key;
        let delay = self.delay(node, requester);
        self.schedule(
            self.now + delay,
            Action::Deliver {
                node: requester,
                incarnation,
                event: Event::SyncAnswer {
                    peer,
                    response,
                    blocks,
                },
            },
        );
    }

    /// A Byzantine peer's sync answers: a committed height ahead of its
    /// own, and after its real blocks one it made up, under a certificate
    /// only it signed.
    fn forge_sync(&mut self, node: usize, response: Option<SyncResponse>) -> Option<SyncResponse> {
        let store = self.nodes[node].store.clone();
        let tip = store.chain_tip().ok()?;
        match response? {
            SyncResponse::Status { .. } => Some(SyncResponse::Status {
                height: tip.height + 5,
            }),
            SyncResponse::Blocks(mut blocks) => {
                let key = Keypair::from_seed(&self.nodes[node].signer?);
                let outcome = state::propose_block(
                    &*store,
                    Vec::new(),
                    ValidatorKey(key.account().0),
                    self.node_now(node),
                    Signatures::AlreadyVerified,
                )
                .ok()?;
                let certificate = CommitCertificate::sign(
                    &self.chain_id,
                    outcome.block.header.height,
                    0,
                    outcome.block_hash,
                    &[&key],
                );
                blocks.push((outcome.block, certificate));
                Some(SyncResponse::Blocks(blocks))
            }
        }
    }

    /// A Byzantine validator's changes to what it publishes.
    fn byzantine_rewrite(&mut self, node: usize, topic: Topic, data: Vec<u8>) -> Vec<u8> {
        if self.nodes[node].honest || topic != Topic::Consensus {
            return data;
        }
        let Some(key) = self.nodes[node]
            .signer
            .map(|seed| Keypair::from_seed(&seed))
        else {
            return data;
        };
        let Ok(gossip) = ConsensusGossip::decode(&data) else {
            return data;
        };
        match (self.byzantine, &gossip.message) {
            (Byzantine::BadBlocks, ConsensusMessage::Proposal(p)) => {
                let mut block = p.block.clone();
                let bad_payment = self.payments.first().map(|first| {
                    let mut bad = first.tx.clone();
                    bad.signature.0[0] ^= 1;
                    bad
                });
                match (self.rng.below(4), bad_payment) {
                    // A new block with a wrong state root.
                    (0, _) | (_, None) => block.header.state_root = sha256(&[b"wrong root"]),
                    // A new block whose header commits to a badly signed
                    // payment: refused when executed.
                    (1, Some(bad)) => {
                        block.transactions.push(bad);
                        if let Ok(ids) = block
                            .transactions
                            .iter()
                            .map(SignedTransaction::id)
                            .collect::<Result<Vec<_>, _>>()
                        {
                            block.header.tx_root = merkle::root(&ids);
                        }
                        block.header.signatures_root = signatures_root(&block.transactions);
                    }
                    // The same header (so the same hash, often a valid
                    // value being re-proposed) over a body it does not
                    // commit to: a payment added, or a signature changed.
                    (2, Some(bad)) => block.transactions.push(bad),
                    (_, Some(bad)) => match block.transactions.first_mut() {
                        Some(first) => first.signature.0[0] ^= 1,
                        None => block.transactions.push(bad),
                    },
                }
                match SignedProposal::sign(&self.chain_id, p.round, p.valid_round, block, &key) {
                    Ok(bad) => {
                        encode_gossip(gossip.sequence, ConsensusMessage::Proposal(Box::new(bad)))
                            .unwrap_or(data)
                    }
                    Err(_) => data,
                }
            }
            (Byzantine::Equivocate, message) => {
                let other = match message {
                    ConsensusMessage::Proposal(p) => {
                        let mut block = p.block.clone();
                        block.header.timestamp_ms += 1;
                        SignedProposal::sign(&self.chain_id, p.round, p.valid_round, block, &key)
                            .ok()
                            .map(|p| ConsensusMessage::Proposal(Box::new(p)))
                    }
                    ConsensusMessage::Vote(v) => {
                        let value = match v.block_hash {
                            Some(_) => None,
                            None => Some(sha256(&[b"equivocation", &v.round.to_be_bytes()])),
                        };
                        Some(ConsensusMessage::Vote(SignedVote::sign(
                            &self.chain_id,
                            v.height,
                            v.round,
                            v.kind,
                            value,
                            &key,
                        )))
                    }
                };
                if let Some(other) = other
                    && let Some(bytes) = encode_gossip(gossip.sequence, other)
                {
                    // The conflicting message goes to some peers first.
                    self.broadcast(node, Topic::Consensus, bytes);
                }
                data
            }
            (Byzantine::FarFuture, ConsensusMessage::Vote(v)) => {
                let far = SignedVote::sign(
                    &self.chain_id,
                    v.height + 1_000,
                    v.round,
                    v.kind,
                    v.block_hash,
                    &key,
                );
                if let Some(bytes) = encode_gossip(gossip.sequence, ConsensusMessage::Vote(far)) {
                    self.broadcast(node, Topic::Consensus, bytes);
                }
                data
            }
            _ => data,
        }
    }

    /// Records what an honest validator signed and checks it against what
    /// it signed before: one message per (height, round, step), and no
    /// prevote against its lock without a proof-of-lock.
    fn observe_signed(&mut self, node: usize, data: &[u8]) {
        let Ok(gossip) = ConsensusGossip::decode(data) else {
            return;
        };
        let message = gossip.message;
        let (key, height, round, slot, value, valid_round) = match &message {
            ConsensusMessage::Proposal(p) => (
                p.proposer,
                p.height,
                p.round,
                Slot::Proposal,
                p.block.hash().ok(),
                p.valid_round,
            ),
            ConsensusMessage::Vote(v) => (
                v.validator,
                v.height,
                v.round,
                match v.kind {
                    VoteKind::Prevote => Slot::Prevote,
                    VoteKind::Precommit => Slot::Precommit,
                },
                v.block_hash,
                None,
            ),
        };
        if let (Slot::Proposal, Some(value)) = (slot, value) {
            self.proposals
                .entry((height, round, value))
                .or_default()
                .insert(valid_round);
        }
        if slot == Slot::Prevote {
            self.prevotes
                .entry((height, round, value))
                .or_default()
                .insert(key);
        }
        if !self.nodes[node].honest {
            return;
        }
        let entry = (value, valid_round);
        match self.signed.get(&(key, height, round, slot)) {
            Some(earlier) if *earlier != entry => {
                let id = message_id(&message);
                self.violation(format!(
                    "validator of node {node} signed two different {slot:?}s at height {height} round {round}: {earlier:?} then {entry:?} ({id})"
                ));
            }
            Some(_) => {}
            None => {
                self.signed.insert((key, height, round, slot), entry);
            }
        }
    }

    fn land(
        &mut self,
        node: usize,
        outcome: &clearhouse_ledger::state::BlockOutcome,
        certificate: &CommitCertificate,
    ) {
        let height = outcome.block.header.height;
        if let Err(error) = self.nodes[node].store.commit(outcome, certificate) {
            self.fatal(node, &format!("the store refused height {height}: {error}"));
            return;
        }
        if self.nodes[node].honest {
            match self.chain.get(&height) {
                Some(hash) if *hash != outcome.block_hash => {
                    let hash = *hash;
                    self.violation(format!(
                        "agreement: node {node} committed {} at height {height}, another honest node {hash}",
                        outcome.block_hash
                    ));
                }
                Some(_) => {}
                None => {
                    self.chain.insert(height, outcome.block_hash);
                    self.progress();
                }
            }
            for id in &outcome.execution.tx_ids {
                self.committed.insert(*id);
            }
        }
        self.note(format!(
            "node {node} commits height {height} ({} txs)",
            outcome.execution.tx_ids.len()
        ));
        self.feed(
            node,
            Event::Committed {
                height,
                store_ms: 0,
            },
        );
    }

    /// A new height: the gap since the last one counts once the faults
    /// are over.
    fn progress(&mut self) {
        if self.faults_over {
            let gap = self.now - self.progress_at.max(FAULT_PHASE_MS);
            self.stall_ms = self.stall_ms.max(gap);
        }
        self.progress_at = self.now;
    }

    fn finish(&mut self) {
        let outstanding = self.committed.len() < self.payments.len()
            || self.governance.as_ref().is_some_and(|g| !g.finished());
        if outstanding {
            self.progress();
        }
        if self.stall_ms > STALL_BOUND_MS {
            let line = format!(
                "no new height for {} ms after the faults stopped (bound {STALL_BOUND_MS} ms)",
                self.stall_ms
            );
            self.liveness_failure(line);
        }
        if let Some(governance) = &self.governance {
            if !governance.finished() {
                let line = format!(
                    "governance stuck at step {} of {} ({:?}) after {:?}",
                    governance.current,
                    governance.steps.len(),
                    governance.phase,
                    governance.outcomes
                );
                self.liveness_failure(line);
            } else if governance.outcomes.iter().any(|o| *o != "applied") {
                let line = format!("a governance step did not apply: {:?}", governance.outcomes);
                self.violation(line);
            }
        }
        // Liveness.
        let missing = self
            .payments
            .iter()
            .filter(|p| !self.committed.contains(&p.id))
            .count();
        if missing > 0 {
            // Why, for the first few: the payment's nonce next to its
            // sender's next nonce on the first honest node, and where it is
            // pending.
            let store = self
                .nodes
                .iter()
                .find(|n| n.honest)
                .map(|n| n.store.clone());
            let mut lines = Vec::new();
            for payment in self
                .payments
                .iter()
                .filter(|p| !self.committed.contains(&p.id))
                .take(3)
            {
                let next = store.as_ref().and_then(|s| {
                    state::read::<state::AccountState>(
                        &**s,
                        &state::StateKey::Account(payment.tx.tx.sender),
                    )
                    .ok()
                    .flatten()
                    .map(|a| a.nonce)
                });
                let holders: Vec<usize> = (0..self.nodes.len())
                    .filter(|n| {
                        self.nodes[*n]
                            .engine
                            .as_ref()
                            .is_some_and(|e| e.mempool().contains(&payment.id))
                    })
                    .collect();
                lines.push(format!(
                    "{} nonce {} (sender's next {next:?}) pending at nodes {holders:?}",
                    payment.id, payment.tx.tx.nonce
                ));
            }
            self.note(format!("stuck: {lines:?}"));
            self.liveness_failure(format!(
                "{missing} of {} payments not committed {LIVENESS_BOUND_MS} ms after the faults stopped",
                self.payments.len()
            ));
        }
        let heights: Vec<(usize, u64)> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.honest && !n.fatal)
            .map(|(i, n)| (i, n.store.chain_tip().map(|t| t.height).unwrap_or(0)))
            .collect();
        if heights.windows(2).any(|w| w[0].1 != w[1].1) {
            self.liveness_failure(format!("honest nodes end at different heights {heights:?}"));
        }
        // Validity: re-execute the longest honest chain from genesis.
        if let Some(&(node, _)) = heights.iter().max_by_key(|(_, h)| *h) {
            self.replay(node);
        }
        self.check_locks();
        self.check_signers_in_force();
        self.check_newcomers_vote();
        if self.config.governance && self.sets.len() <= GOVERNANCE_STEPS {
            let changes = self.sets.len().saturating_sub(1);
            self.liveness_failure(format!(
                "the validator set changed {changes} times, {GOVERNANCE_STEPS} planned"
            ));
        }
    }

    /// Re-executes a node's chain on a fresh store: every block must
    /// execute (signatures checked, money conserved per asset — the state
    /// transition asserts it after every step) to its header's roots, and
    /// every certificate must verify against the validator set.
    fn replay(&mut self, node: usize) {
        let Ok(fresh) = MemoryStore::new(&self.genesis) else {
            return;
        };
        let store = self.nodes[node].store.clone();
        let tip = store.chain_tip().map(|t| t.height).unwrap_or(0);
        for height in 1..=tip {
            let (Ok(Some(block)), Ok(Some(certificate))) =
                (store.block_at(height), store.certificate_at(height))
            else {
                self.violation(format!("node {node} lacks block {height}"));
                return;
            };
            let hash = block.hash().unwrap_or_default();
            // The set of this height: from the state before the block.
            let set = match state::read_members(&fresh)
                .map_err(|e| e.to_string())
                .and_then(|members| state::validator_set(&members).map_err(|e| e.to_string()))
            {
                Ok(set) => set,
                Err(error) => {
                    self.violation(format!("no validator set at height {height}: {error}"));
                    return;
                }
            };
            if self.sets.values().next_back() != Some(&set) {
                self.sets.insert(height, set.clone());
            }
            if let Err(error) = certificate.verify(&self.chain_id, height, &hash, &set) {
                self.violation(format!(
                    "certificate of height {height} does not verify: {error}"
                ));
                return;
            }
            match state::apply_block(&fresh, &block, Signatures::Verify) {
                Ok(outcome) => {
                    if let Err(error) = fresh.commit(&outcome, &certificate) {
                        self.violation(format!("replay commit {height}: {error}"));
                        return;
                    }
                }
                Err(error) => {
                    self.violation(format!("block {height} does not re-execute: {error}"));
                    return;
                }
            }
        }
        // The set the tip's state leaves in force (after the last change).
        if let Ok(set) = state::read_members(&fresh)
            .map_err(|e| e.to_string())
            .and_then(|members| state::validator_set(&members).map_err(|e| e.to_string()))
            && self.sets.values().next_back() != Some(&set)
        {
            self.sets.insert(tip + 1, set);
        }
        if fresh.root().ok() != store.root().ok() {
            self.violation(format!(
                "node {node}'s state differs from its chain's re-execution"
            ));
        }
        let entries = fresh.state_entries();
        if let Some(asset) = unconserved(&entries) {
            self.violation(format!("money not conserved in {asset}"));
        }
    }

    /// An honest validator signs at a height only if that height's
    /// validator set holds its key (a suspended validator, or one whose key
    /// governance replaced, stays silent).
    fn check_signers_in_force(&mut self) {
        let tip = self.chain.keys().next_back().copied().unwrap_or(0);
        let mut found = Vec::new();
        for &(key, height, round, slot) in self.signed.keys() {
            // Heights past the replayed chain have no known set.
            if height > tip {
                continue;
            }
            let set = self.sets.range(..=height).next_back().map(|(_, set)| set);
            if set.is_some_and(|set| set.get(&key).is_none()) {
                found.push(format!(
                    "a validator outside the set of height {height} signed a {slot:?} in round {round}"
                ));
            }
        }
        found.truncate(3);
        for line in found {
            self.violation(line);
        }
    }

    /// An honest node's key that joined the set (an admitted bank, a
    /// rotated key, a reinstated bank) and is still in it at the tip must
    /// have started voting: some precommit of a height from its first on,
    /// unless it joined in the last two.
    fn check_newcomers_vote(&mut self) {
        let tip = self.chain.keys().next_back().copied().unwrap_or(0);
        let honest: BTreeSet<ValidatorKey> = self
            .nodes
            .iter()
            .filter(|n| n.honest && !n.fatal)
            .filter_map(|n| {
                n.signer
                    .map(|seed| ValidatorKey(Keypair::from_seed(&seed).account().0))
            })
            .collect();
        let Some(last) = self.sets.values().next_back() else {
            return;
        };
        let mut found = Vec::new();
        let mut previous: Option<&ValidatorSet> = None;
        for (&from, set) in &self.sets {
            if let Some(previous) = previous {
                for validator in set.validators() {
                    let key = validator.key;
                    if previous.get(&key).is_some()
                        || last.get(&key).is_none()
                        || !honest.contains(&key)
                        || from + 2 > tip
                    {
                        continue;
                    }
                    let voted = self
                        .signed
                        .range((key, from, 0, Slot::Proposal)..)
                        .take_while(|((k, ..), _)| *k == key)
                        .any(|((_, _, _, slot), _)| *slot == Slot::Precommit);
                    if !voted {
                        found.push(format!(
                            "validator {} joined the set at height {from} but never precommitted (tip {tip})",
                            hex_short(&key.0)
                        ));
                    }
                }
            }
            previous = Some(set);
        }
        for line in found {
            self.liveness_failure(line);
        }
    }

    /// Tendermint's lock: an honest validator that precommitted X in round
    /// r prevotes another value at a later round only for a proposal whose
    /// valid round is at least r and has a proof-of-lock (prevotes of more
    /// than two thirds of the power) behind it.
    fn check_locks(&mut self) {
        let power_of = |signers: &BTreeSet<ValidatorKey>, set: &ValidatorSet| -> u64 {
            set.validators()
                .iter()
                .filter(|v| signers.contains(&v.key))
                .map(|v| v.voting_power)
                .sum()
        };
        let genesis_set = self.genesis.validator_set().ok();
        let set_at = |height: u64| -> Option<&ValidatorSet> {
            self.sets
                .range(..=height)
                .next_back()
                .map(|(_, set)| set)
                .or(genesis_set.as_ref())
        };
        let quorum = |power: u64, set: &ValidatorSet| power * 3 > set.total_power() * 2;
        let mut found = Vec::new();
        for (&(key, height, round, slot), &(value, _)) in &self.signed {
            let (Slot::Prevote, Some(y)) = (slot, value) else {
                continue;
            };
            // The latest lock before this round.
            let lock = self
                .signed
                .range((key, height, 0, Slot::Proposal)..(key, height, round, Slot::Proposal))
                .rfind(|((_, _, _, s), (v, _))| *s == Slot::Precommit && v.is_some())
                .map(|((_, _, r, _), (v, _))| (*r, *v));
            let Some((locked_round, Some(x))) = lock else {
                continue;
            };
            if x == y {
                continue;
            }
            let justified = self
                .proposals
                .get(&(height, round, y))
                .into_iter()
                .flatten()
                .flatten()
                .any(|vr| {
                    *vr >= locked_round
                        && *vr < round
                        && self.prevotes.get(&(height, *vr, Some(y))).is_some_and(|s| {
                            set_at(height).is_some_and(|set| quorum(power_of(s, set), set))
                        })
                });
            if !justified {
                found.push(format!(
                    "lock: a validator locked on {x} at height {height} round {locked_round} prevoted {y} in round {round} without a proof-of-lock"
                ));
            }
        }
        for line in found {
            self.violation(line);
        }
    }

    fn report(self) -> SimReport {
        let height = self.chain.keys().next_back().copied().unwrap_or(0);
        SimReport {
            seed: self.config.seed,
            scenario: self.scenario.clone(),
            violations: self.violations,
            liveness: self.liveness,
            height,
            set_changes: self.sets.len().saturating_sub(1),
            stall_ms: self.stall_ms,
            committed: self.committed.len(),
            submitted: self.payments.len(),
            digest: self.digest.0,
            trace: self.trace,
        }
    }
}

fn encode_gossip(sequence: u64, message: ConsensusMessage) -> Option<Vec<u8>> {
    ConsensusGossip { sequence, message }.encode().ok()
}

fn event_kind(event: &Event) -> String {
    match event {
        Event::Start { wal } => format!("start ({} records)", wal.len()),
        Event::Tick => "tick".into(),
        Event::PeerConnected(_) => "peer connected".into(),
        Event::PeerDisconnected(_) => "peer disconnected".into(),
        Event::Gossip {
            topic: Topic::Consensus,
            data,
            ..
        } => match ConsensusGossip::decode(data) {
            Ok(gossip) => match gossip.message {
                ConsensusMessage::Proposal(p) => format!(
                    "proposal h{} r{} vr{:?} from {} ({} txs)",
                    p.height,
                    p.round,
                    p.valid_round,
                    hex_short(&p.proposer.0),
                    p.block.transactions.len()
                ),
                ConsensusMessage::Vote(v) => format!(
                    "{:?} h{} r{} for {} from {}",
                    v.kind,
                    v.height,
                    v.round,
                    v.block_hash.map_or("nil".into(), |h| hex_short(&h.0)),
                    hex_short(&v.validator.0)
                ),
            },
            Err(_) => "undecodable consensus gossip".into(),
        },
        Event::Gossip { topic, id, .. } => format!("gossip {topic:?} {}", hex_short(&id.0)),
        Event::SyncRequest { .. } => "sync request".into(),
        Event::SyncAnswer { response, .. } => match response {
            Some(SyncResponse::Status { height }) => format!("sync status {height}"),
            Some(SyncResponse::Blocks(blocks)) => format!("sync {} blocks", blocks.len()),
            None => "sync failed".into(),
        },
        Event::Verified { job, results } => format!("verified job {job} ({})", results.len()),
        Event::Committed { height, .. } => format!("committed {height}"),
        Event::Submit { .. } => "submit".into(),
        Event::IsPending { .. } => "is pending".into(),
    }
}

fn hex_short(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// The first asset whose holdings do not sum to its supply, if any.
fn unconserved(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<String> {
    use clearhouse_ledger::codec;
    use clearhouse_ledger::state::{AccountState, AssetState, StateKey};
    let mut sums: BTreeMap<AssetCode, (u128, u128)> = BTreeMap::new();
    for (key, value) in entries {
        match codec::decode::<StateKey, { codec::STATE_KEY_BYTES_MAX }>(key) {
            Ok(StateKey::Account(_)) => {
                let account: AccountState = codec::decode::<_, 1_048_576>(value).ok()?;
                for (asset, amount) in account.balances {
                    let slot = sums.entry(asset).or_default();
                    slot.0 = slot.0.saturating_add(amount.0);
                }
            }
            Ok(StateKey::Asset(code)) => {
                let asset: AssetState = codec::decode::<_, 1_048_576>(value).ok()?;
                sums.entry(code).or_default().1 = asset.supply.0;
            }
            _ => {}
        }
    }
    sums.into_iter()
        .find(|(_, (sum, supply))| sum != supply)
        .map(|(asset, _)| asset.to_string())
}
