//! A seeded, deterministic network simulator for the consensus machine, and the history
//! checker it reports to (test tooling, behind the `sim` feature).
//!
//! One run is a seed; the seed picks the number of validators (4, 7 or 10), the
//! scenario, and every fault. Simulated time is in milliseconds; events (deliveries,
//! timers, gossip ticks, crashes, restarts) are processed in order of (time, sequence
//! number), so the same seed always gives the same trace, summarised by a trace hash.
//!
//! A run has two phases. In the *safety phase* the scenario's faults apply: random
//! delays (hence reordering), drops, duplicates, partitions that heal at a known time,
//! crash-restarts of honest validators, and Byzantine validators (under a third of the
//! power) that equivocate as proposer, double-vote, vote only nil, go silent, or send
//! messages for other heights and rounds. At `heal_at_ms` the *liveness phase* starts:
//! no drops, partitions or crashes, delays bounded by `LIVENESS_DELAY_MS_MAX`; Byzantine
//! validators keep misbehaving. Every honest validator must then decide `K_HEIGHTS`
//! more heights within a bounded number of rounds.
//!
//! Honest validators follow the restart contract of the crate docs: a crash loses the
//! machine, its timers and messages in flight to it, and keeps only the WAL of signed
//! messages and the decided chain. Each gossip tick, an honest validator re-sends its
//! signed messages of its current height and its height (a status) to two random peers;
//! a peer that has decided further answers with decisions and certificates (block sync),
//! which the laggard verifies, adopts, and follows with `StartHeight`.

pub mod history;
pub mod rng;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::machine::{Config, Machine, Mutants};
use crate::timeouts::TimeoutParams;
use crate::types::{
    Decision, Height, Input, Message, Output, Proposal, Round, Signed, TimeoutKind, ValidatorIndex,
    Vote,
};
use crate::validators::ValidatorSet;
use history::History;
use rng::{Rng, fnv, mix64};

/// Heights every honest validator must decide after the network heals.
pub const K_HEIGHTS: u64 = 3;
/// Message delay bound in the liveness phase.
pub const LIVENESS_DELAY_MS_MAX: u64 = 40;
/// Round starts an honest validator may need, after healing, to decide `K_HEIGHTS`
/// heights (including catching up): the termination bound checked on every run.
pub const ROUNDS_AFTER_HEAL_MAX: u64 = 20;
/// Simulated time allowed for the liveness phase before termination fails.
pub const LIVENESS_TIME_MS_MAX: u64 = 120_000;
/// Events per run before it is declared stuck.
pub const EVENTS_PER_RUN_MAX: u64 = 2_000_000;
/// Interval between gossip ticks of one validator.
pub const GOSSIP_INTERVAL_MS: u64 = 100;

/// The simulator's values are `u64`s; even ones are valid.
pub type SimValue = u64;
/// A fake signature: a hash of the signer and the message. Only the signer's own
/// simulated node produces it, so the checker can verify it by recomputing.
pub type SimSignature = u64;

/// How a Byzantine validator misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Sends different proposals (and matching votes) to two halves of the network.
    EquivocatingProposer,
    /// Sends conflicting votes to two halves of the network.
    DoubleVote,
    /// Votes nil, always.
    NilOnly,
    /// Sends nothing.
    Silent,
    /// Also sends signed messages for other heights and far rounds.
    OtherHeightsRounds,
}

const BEHAVIOURS: [Behaviour; 5] = [
    Behaviour::EquivocatingProposer,
    Behaviour::DoubleVote,
    Behaviour::NilOnly,
    Behaviour::Silent,
    Behaviour::OtherHeightsRounds,
];

/// A family of runs: which faults the seed draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Short name, printed with failures.
    pub name: &'static str,
    /// Drops, duplicates and long random delays (reordering).
    pub lossy: bool,
    /// Partitions that heal before the liveness phase.
    pub partitions: bool,
    /// Crash-restarts of honest validators.
    pub crashes: bool,
    /// Byzantine behaviour of the faulty validators; `None` draws one per validator.
    pub byzantine: Option<Behaviour>,
    /// Whether there are Byzantine validators at all.
    pub with_byzantine: bool,
    /// Unequal voting powers.
    pub weighted: bool,
}

const fn scenario(name: &'static str, lossy: bool, partitions: bool, crashes: bool) -> Scenario {
    Scenario {
        name,
        lossy,
        partitions,
        crashes,
        byzantine: None,
        with_byzantine: false,
        weighted: false,
    }
}

const fn byzantine(name: &'static str, behaviour: Behaviour) -> Scenario {
    Scenario {
        name,
        lossy: true,
        partitions: false,
        crashes: false,
        byzantine: Some(behaviour),
        with_byzantine: true,
        weighted: false,
    }
}

/// The scenarios, cycled through by seed.
pub const SCENARIOS: [Scenario; 10] = [
    scenario("calm", false, false, false),
    scenario("lossy", true, false, false),
    scenario("partitions", true, true, false),
    scenario("crash-restart", true, false, true),
    byzantine("equivocating-proposer", Behaviour::EquivocatingProposer),
    byzantine("double-vote", Behaviour::DoubleVote),
    byzantine("nil-only", Behaviour::NilOnly),
    byzantine("silent", Behaviour::Silent),
    byzantine("other-heights-rounds", Behaviour::OtherHeightsRounds),
    Scenario {
        name: "chaos",
        lossy: true,
        partitions: true,
        crashes: true,
        byzantine: None,
        with_byzantine: true,
        weighted: true,
    },
];

/// The validator counts, cycled through by seed.
pub const VALIDATOR_COUNTS: [u32; 3] = [4, 7, 10];

/// One run's parameters.
#[derive(Clone, Copy, Debug)]
pub struct RunConfig {
    /// The seed; with `for_seed` it also picks `n_validators` and the scenario.
    pub seed: u64,
    /// Number of validators.
    pub n_validators: u32,
    /// The scenario.
    pub scenario: Scenario,
    /// Broken variants of the algorithm, to show the checkers catch them.
    pub mutants: Mutants,
    /// Keep a human-readable trace (slower).
    pub record_trace: bool,
}

impl RunConfig {
    /// The run a seed names: `n_validators = VALIDATOR_COUNTS[seed % 3]`, scenario
    /// `SCENARIOS[(seed / 3) % 10]`.
    pub fn for_seed(seed: u64) -> Self {
        let n_validators = VALIDATOR_COUNTS[usize::try_from(seed % 3).unwrap_or(0)];
        let scenario = SCENARIOS[usize::try_from((seed / 3) % SCENARIOS.len() as u64).unwrap_or(0)];
        RunConfig {
            seed,
            n_validators,
            scenario,
            mutants: Mutants::default(),
            record_trace: false,
        }
    }
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The run's seed.
    pub seed: u64,
    /// Number of validators.
    pub n_validators: u32,
    /// Scenario name.
    pub scenario: &'static str,
    /// Broken promises; empty on success.
    pub violations: Vec<String>,
    /// Hash of every processed event, in order.
    pub trace_hash: u64,
    /// The trace, if recorded.
    pub trace: Vec<String>,
    /// Decisions reached by honest validators' machines.
    pub decisions: u64,
    /// Well-formed evidence reported by honest validators.
    pub evidence: u64,
    /// Events processed.
    pub events: u64,
    /// Simulated time at the end, in milliseconds.
    pub sim_time_ms: u64,
    /// Most round starts an honest validator needed after healing.
    pub rounds_after_heal_max: u64,
    /// Each validator at the end: behaviour, power, chain length, machine state.
    pub final_states: Vec<String>,
}

impl Report {
    /// A one-line summary for a failure message.
    pub fn headline(&self) -> String {
        format!(
            "seed={} n={} scenario={} trace_hash={:016x} (replay: CONSENSUS_SEED={} cargo test -p clearhouse-consensus --test it sim::replay -- --nocapture)",
            self.seed, self.n_validators, self.scenario, self.trace_hash, self.seed
        )
    }
}

/// The fake signature of `validator` on `message`.
pub fn sign(validator: ValidatorIndex, message: &Message<SimValue>) -> SimSignature {
    fnv(&(0x5167_u16, validator, message))
}

/// Whether `signature` is `validator`'s on `message`.
pub fn verify(
    validator: ValidatorIndex,
    message: &Message<SimValue>,
    signature: &SimSignature,
) -> bool {
    sign(validator, message) == *signature
}

fn verify_vote(vote: &Signed<Vote<SimValue>, SimSignature>) -> bool {
    verify(
        vote.message.validator,
        &Message::Vote(vote.message.clone()),
        &vote.signature,
    )
}

/// The application's validity rule: even values are valid.
pub fn is_valid(value: &SimValue) -> bool {
    value.is_multiple_of(2)
}

type SimMachine = Machine<SimValue, SimSignature>;
type SimInput = Input<SimValue, SimSignature>;
type SimDecision = Decision<SimValue, SimSignature>;

#[derive(Clone, Debug, Hash)]
enum Packet {
    Proposal(Signed<Proposal<SimValue>, SimSignature>),
    Vote(Signed<Vote<SimValue>, SimSignature>),
    /// "I am at this height": a peer that decided it answers with `Sync`.
    Status(Height),
    Sync(Vec<SimDecision>),
}

#[derive(Clone, Debug, Hash)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        packet: Packet,
    },
    Timer {
        node: usize,
        epoch: u64,
        height: Height,
        round: Round,
        kind: TimeoutKind,
    },
    Gossip {
        node: usize,
        epoch: u64,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Heal,
}

struct Node {
    index: ValidatorIndex,
    behaviour: Option<Behaviour>,
    machine: Option<SimMachine>,
    /// Durable: every message this validator asked to sign, in order.
    wal: Vec<Message<SimValue>>,
    /// Durable: decisions, `chain[i]` at height `i + 1`.
    chain: Vec<SimDecision>,
    /// Incarnation, so that timers of a previous life are dropped.
    epoch: u64,
    last_height_round: (Height, Round),
    rounds_after_heal: u64,
    /// Received proposals and votes of the current and later heights, appended to the
    /// WAL without a flush of their own (like CometBFT's): replayed after a restart, for
    /// liveness only. A crash loses those after `received_flushed`.
    received: Vec<Packet>,
    received_flushed: usize,
    /// Gossip state (volatile): the signed messages of the current and next heights
    /// this validator holds, sent or received, to pass on to peers that lack them.
    gossip: BTreeMap<Height, GossipStore>,
}

/// Signed messages of one height, with their hashes.
#[derive(Default)]
struct GossipStore {
    packets: Vec<(u64, Packet)>,
    seen: BTreeSet<u64>,
}

struct Partition {
    start_ms: u64,
    end_ms: u64,
    side: Vec<bool>,
}

struct World {
    rng: Rng,
    config: RunConfig,
    validators: ValidatorSet,
    nodes: Vec<Node>,
    events: BTreeMap<(u64, u64), Event>,
    now_ms: u64,
    seq: u64,
    heal_at_ms: u64,
    max_delay_ms: u64,
    drop_per_mille: u64,
    duplicate_per_mille: u64,
    partitions: Vec<Partition>,
    history: History<SimValue>,
    trace_hash: rng::Fnv,
    trace: Vec<String>,
    target_height: Option<u64>,
}

/// Runs one simulation and checks every promise on it.
pub fn run(config: &RunConfig) -> Report {
    match World::new(*config) {
        Ok(mut world) => {
            world.run();
            world.report()
        }
        Err(why) => Report {
            seed: config.seed,
            n_validators: config.n_validators,
            scenario: config.scenario.name,
            violations: vec![format!("setup: {why}")],
            trace_hash: 0,
            trace: Vec::new(),
            decisions: 0,
            evidence: 0,
            events: 0,
            sim_time_ms: 0,
            rounds_after_heal_max: 0,
            final_states: Vec::new(),
        },
    }
}

impl World {
    fn new(config: RunConfig) -> Result<World, String> {
        let mut rng = Rng::new(mix64(config.seed ^ 0xC1EA_4405E));
        let n = usize::try_from(config.n_validators).unwrap_or(4).max(1);
        let scenario = config.scenario;
        let powers: Vec<u64> = (0..n)
            .map(|_| {
                if scenario.weighted {
                    rng.between(1, 5)
                } else {
                    1
                }
            })
            .collect();
        let total: u64 = powers.iter().sum();
        let validators = ValidatorSet::new(powers.clone())
            .map_err(|e| format!("validator set {powers:?}: {e:?}"))?;

        // Byzantine validators: up to f, in random order, while under a third of the power.
        let mut behaviours: Vec<Option<Behaviour>> = vec![None; n];
        if scenario.with_byzantine {
            let f = (n - 1) / 3;
            let mut byzantine_power = 0;
            let mut count = 0;
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = rng.index(i + 1);
                order.swap(i, j);
            }
            for i in order {
                if count == f || (byzantine_power + powers[i]) * 3 >= total {
                    continue;
                }
                byzantine_power += powers[i];
                count += 1;
                behaviours[i] = Some(
                    scenario
                        .byzantine
                        .unwrap_or(BEHAVIOURS[rng.index(BEHAVIOURS.len())]),
                );
            }
        }
        let honest: Vec<bool> = behaviours.iter().map(Option::is_none).collect();
        let heal_at_ms = rng.between(1_500, 4_000);
        let max_delay_ms = if scenario.lossy {
            rng.between(20, 400)
        } else {
            rng.between(5, 60)
        };
        let (drop_per_mille, duplicate_per_mille) = if scenario.lossy {
            (rng.between(0, 250), rng.between(0, 200))
        } else {
            (0, 0)
        };
        let mut world = World {
            rng,
            config,
            validators: validators.clone(),
            nodes: Vec::new(),
            events: BTreeMap::new(),
            now_ms: 0,
            seq: 0,
            heal_at_ms,
            max_delay_ms,
            drop_per_mille,
            duplicate_per_mille,
            partitions: Vec::new(),
            history: History::new(validators, honest.clone()),
            trace_hash: rng::Fnv::default(),
            trace: Vec::new(),
            target_height: None,
        };
        for (i, behaviour) in behaviours.into_iter().enumerate() {
            let index = ValidatorIndex(u32::try_from(i).unwrap_or(0));
            world.nodes.push(Node {
                index,
                behaviour,
                machine: None,
                wal: Vec::new(),
                chain: Vec::new(),
                epoch: 0,
                last_height_round: (Height(0), Round(0)),
                rounds_after_heal: 0,
                gossip: BTreeMap::new(),
                received: Vec::new(),
                received_flushed: 0,
            });
        }
        if scenario.partitions {
            let mut start_ms = world.rng.between(0, heal_at_ms / 2);
            for _ in 0..world.rng.between(1, 2) {
                let end_ms = world.rng.between(start_ms + 100, heal_at_ms);
                let side = (0..n).map(|_| world.rng.chance(500)).collect();
                world.partitions.push(Partition {
                    start_ms,
                    end_ms,
                    side,
                });
                start_ms = end_ms;
                if start_ms >= heal_at_ms {
                    break;
                }
            }
        }
        if scenario.crashes {
            let honest_nodes: Vec<usize> = (0..n).filter(|i| honest[*i]).collect();
            for _ in 0..world.rng.between(1, 3) {
                let node = honest_nodes[world.rng.index(honest_nodes.len())];
                let crash_ms = world.rng.between(0, heal_at_ms.saturating_sub(200));
                let restart_ms = world.rng.between(crash_ms + 1, heal_at_ms);
                world.schedule_at(crash_ms, Event::Crash { node });
                world.schedule_at(restart_ms, Event::Restart { node });
            }
        }
        world.schedule_at(heal_at_ms, Event::Heal);
        Ok(world)
    }

    fn machine_config(&self, node: usize) -> Config {
        let mut config = Config::new(self.validators.clone(), Some(self.nodes[node].index));
        config.timeouts = TimeoutParams {
            timeout_propose_ms: 200,
            timeout_propose_delta_ms: 100,
            timeout_prevote_ms: 100,
            timeout_prevote_delta_ms: 50,
            timeout_precommit_ms: 100,
            timeout_precommit_delta_ms: 50,
        };
        config.mutants = self.config.mutants;
        config
    }

    fn schedule_at(&mut self, time_ms: u64, event: Event) {
        self.seq += 1;
        self.events.insert((time_ms, self.seq), event);
    }

    fn run(&mut self) {
        for node in 0..self.nodes.len() {
            self.boot(node);
        }
        let mut processed: u64 = 0;
        while let Some(((time_ms, seq), event)) = self.events.pop_first() {
            self.now_ms = time_ms;
            processed += 1;
            std::hash::Hash::hash(&(time_ms, seq, &event), &mut self.trace_hash);
            if self.config.record_trace {
                self.trace
                    .push(format!("{time_ms:>7}ms #{seq:<7} {event:?}"));
            }
            self.process(event);
            if let Some(target) = self.target_height {
                if self
                    .honest_nodes()
                    .all(|i| self.nodes[i].chain.len() as u64 >= target)
                {
                    break;
                }
                if self.now_ms > self.heal_at_ms + LIVENESS_TIME_MS_MAX
                    || processed >= EVENTS_PER_RUN_MAX
                {
                    let heights: Vec<usize> = self.nodes.iter().map(|n| n.chain.len()).collect();
                    self.history.violation(format!(
                        "termination: honest validators did not all reach height {target} by {}ms ({processed} events); heights {heights:?}",
                        self.now_ms
                    ));
                    break;
                }
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].behaviour.is_none()
                && self.nodes[i].rounds_after_heal > ROUNDS_AFTER_HEAL_MAX
            {
                let rounds = self.nodes[i].rounds_after_heal;
                self.history.violation(format!(
                    "termination: validator {i} needed {rounds} rounds after healing (bound {ROUNDS_AFTER_HEAL_MAX})"
                ));
            }
        }
    }

    fn honest_nodes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].behaviour.is_none())
    }

    fn report(self) -> Report {
        Report {
            seed: self.config.seed,
            n_validators: self.config.n_validators,
            scenario: self.config.scenario.name,
            violations: self.history.violations().to_vec(),
            trace_hash: std::hash::Hasher::finish(&self.trace_hash),
            trace: self.trace,
            decisions: self.history.decisions,
            evidence: self.history.evidence,
            events: self.seq,
            sim_time_ms: self.now_ms,
            rounds_after_heal_max: self
                .nodes
                .iter()
                .map(|n| n.rounds_after_heal)
                .max()
                .unwrap_or(0),
            final_states: self
                .nodes
                .iter()
                .map(|n| {
                    let machine = n.machine.as_ref().map(|m| {
                        format!(
                            "h={} r={} {:?} locked={:?} valid={:?}",
                            m.height().0,
                            m.round().0,
                            m.step(),
                            m.locked(),
                            m.valid()
                        )
                    });
                    format!(
                        "{:?} power={} {:?} chain={} rounds_after_heal={} {}",
                        n.index,
                        self.validators.power(n.index).unwrap_or(0),
                        n.behaviour,
                        n.chain.len(),
                        n.rounds_after_heal,
                        machine.unwrap_or_else(|| "down".to_string())
                    )
                })
                .collect(),
        }
    }

    /// Builds `node`'s machine from its durable state and starts the next height.
    fn boot(&mut self, node: usize) {
        let config = self.machine_config(node);
        let machine = SimMachine::restore(config, self.nodes[node].wal.iter().cloned());
        self.nodes[node].machine = Some(machine);
        self.nodes[node].epoch += 1;
        let epoch = self.nodes[node].epoch;
        let jitter = self.rng.between(0, GOSSIP_INTERVAL_MS);
        self.schedule_at(self.now_ms + jitter, Event::Gossip { node, epoch });
        let height = Height(self.nodes[node].chain.len() as u64 + 1);
        self.feed(node, Input::StartHeight { height });
        // Liveness after a restart: replay what this validator signed at this height (so
        // its peers can get it again) and the received messages it logged.
        let own: Vec<Packet> = self.nodes[node]
            .wal
            .iter()
            .filter(|m| m.height() == height)
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .map(|m| self.packet(node, m))
            .collect();
        let received: Vec<Packet> = self.nodes[node]
            .received
            .iter()
            .filter(|p| packet_height(p) >= Some(height))
            .cloned()
            .collect();
        for packet in own.into_iter().chain(received) {
            self.remember(node, &packet);
            match packet {
                Packet::Proposal(p) => self.feed(node, Input::Proposal(p)),
                Packet::Vote(v) => self.feed(node, Input::Vote(v)),
                Packet::Status(_) | Packet::Sync(_) => {}
            }
        }
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, packet } => self.deliver(to, from, packet),
            Event::Timer {
                node,
                epoch,
                height,
                round,
                kind,
            } => {
                if self.nodes[node].epoch == epoch {
                    self.feed(
                        node,
                        Input::TimeoutElapsed {
                            height,
                            round,
                            kind,
                        },
                    );
                }
            }
            Event::Gossip { node, epoch } => self.gossip(node, epoch),
            Event::Crash { node } => {
                // Everything but the WAL and the chain is lost, timers included.
                self.nodes[node].machine = None;
                self.nodes[node].epoch += 1;
                self.nodes[node].gossip.clear();
                let flushed = self.nodes[node].received_flushed;
                self.nodes[node].received.truncate(flushed);
            }
            Event::Restart { node } => {
                if self.nodes[node].machine.is_none() {
                    self.boot(node);
                }
            }
            Event::Heal => {
                let highest = self
                    .honest_nodes()
                    .map(|i| self.nodes[i].chain.len() as u64)
                    .max()
                    .unwrap_or(0);
                self.target_height = Some(highest + K_HEIGHTS);
            }
        }
    }

    fn deliver(&mut self, to: usize, from: usize, packet: Packet) {
        if self.nodes[to].machine.is_none() {
            return;
        }
        match packet {
            Packet::Proposal(_) | Packet::Vote(_) => {
                self.remember(to, &packet);
                self.log_received(to, &packet);
                match packet {
                    Packet::Proposal(p) => self.feed(to, Input::Proposal(p)),
                    Packet::Vote(v) => self.feed(to, Input::Vote(v)),
                    Packet::Status(_) | Packet::Sync(_) => {}
                }
            }
            Packet::Status(height) => {
                let chain = &self.nodes[to].chain;
                if self.nodes[to].behaviour.is_none() && (chain.len() as u64) >= height.0 {
                    let start = usize::try_from(height.0.saturating_sub(1)).unwrap_or(usize::MAX);
                    let decisions: Vec<SimDecision> =
                        chain.iter().skip(start).take(4).cloned().collect();
                    self.send(to, from, Packet::Sync(decisions));
                }
            }
            Packet::Sync(decisions) => self.adopt(to, decisions),
        }
    }

    /// Block sync: adopt verified decisions that extend the chain, then start above them.
    fn adopt(&mut self, node: usize, decisions: Vec<SimDecision>) {
        let mut adopted = false;
        for decision in decisions {
            let next = self.nodes[node].chain.len() as u64 + 1;
            if decision.height.0 != next
                || history::check_certificate(&self.validators, &decision, verify_vote).is_err()
                || !is_valid(&decision.value)
            {
                continue;
            }
            if self.nodes[node].behaviour.is_none() {
                let index = self.nodes[node].index;
                self.history
                    .decided(index, &decision, verify_vote, is_valid);
            }
            self.nodes[node].chain.push(decision);
            adopted = true;
        }
        if adopted {
            let height = Height(self.nodes[node].chain.len() as u64 + 1);
            self.feed(node, Input::StartHeight { height });
        }
    }

    fn gossip(&mut self, node: usize, epoch: u64) {
        if self.nodes[node].epoch != epoch || self.nodes[node].machine.is_none() {
            return;
        }
        self.schedule_at(
            self.now_ms + GOSSIP_INTERVAL_MS,
            Event::Gossip { node, epoch },
        );
        if self.nodes[node].behaviour.is_some() {
            return;
        }
        let height = Height(self.nodes[node].chain.len() as u64 + 1);
        let n = self.nodes.len();
        for _ in 0..2 {
            let peer = self.rng.index(n);
            if peer == node {
                continue;
            }
            self.send(node, peer, Packet::Status(height));
            // Pass on what the peer lacks (a digest exchange, modelled by looking at its
            // set): the paper's gossip assumption that a message received by one correct
            // validator reaches all of them, Byzantine messages included.
            let peer_height = Height(self.nodes[peer].chain.len() as u64 + 1);
            if peer_height != height {
                continue;
            }
            let (Some(mine), theirs) = (
                self.nodes[node].gossip.get(&height),
                self.nodes[peer].gossip.get(&height),
            ) else {
                continue;
            };
            let missing: Vec<Packet> = mine
                .packets
                .iter()
                .filter(|(hash, _)| theirs.is_none_or(|t| !t.seen.contains(hash)))
                .map(|(_, packet)| packet.clone())
                .collect();
            for packet in missing {
                self.send(node, peer, packet);
            }
        }
    }

    /// Appends a received message of the current or a later height to `node`'s
    /// received-message log: written, but durable only from the next flush (before the
    /// next signature).
    fn log_received(&mut self, node: usize, packet: &Packet) {
        let current = Height(self.nodes[node].chain.len() as u64 + 1);
        if self.nodes[node].behaviour.is_none() && packet_height(packet) >= Some(current) {
            self.nodes[node].received.push(packet.clone());
        }
    }

    /// The flush before a signature: the WAL record and every received message logged
    /// before it become durable. Old heights are pruned.
    fn flush(&mut self, node: usize) {
        let current = Some(Height(self.nodes[node].chain.len() as u64 + 1));
        let n = &mut self.nodes[node];
        n.received.retain(|p| packet_height(p) >= current);
        n.received_flushed = n.received.len();
    }

    /// Adds a signed message to `node`'s gossip store if it is for its current height.
    fn remember(&mut self, node: usize, packet: &Packet) {
        let height = match packet {
            Packet::Proposal(p) => p.message.height,
            Packet::Vote(v) => v.message.height,
            Packet::Status(_) | Packet::Sync(_) => return,
        };
        let current = Height(self.nodes[node].chain.len() as u64 + 1);
        if !(height == current || height == current.next()) || self.nodes[node].behaviour.is_some()
        {
            return;
        }
        let gossip = &mut self.nodes[node].gossip;
        gossip.retain(|h, _| *h >= current);
        let store = gossip.entry(height).or_default();
        let hash = fnv(packet);
        if store.seen.insert(hash) {
            store.packets.push((hash, packet.clone()));
        }
    }

    fn packet(&self, node: usize, message: Message<SimValue>) -> Packet {
        let signature = sign(self.nodes[node].index, &message);
        match message {
            Message::Proposal(p) => Packet::Proposal(Signed {
                message: p,
                signature,
            }),
            Message::Vote(v) => Packet::Vote(Signed {
                message: v,
                signature,
            }),
        }
    }

    fn partitioned(&self, from: usize, to: usize) -> bool {
        self.partitions.iter().any(|p| {
            p.start_ms <= self.now_ms && self.now_ms < p.end_ms && p.side[from] != p.side[to]
        })
    }

    fn send(&mut self, from: usize, to: usize, packet: Packet) {
        let faulty = self.now_ms < self.heal_at_ms;
        if faulty && (self.partitioned(from, to) || self.rng.chance(self.drop_per_mille)) {
            return;
        }
        let max_delay = if faulty {
            self.max_delay_ms
        } else {
            LIVENESS_DELAY_MS_MAX
        };
        if faulty && self.rng.chance(self.duplicate_per_mille) {
            let delay = self.rng.between(1, max_delay);
            self.schedule_at(
                self.now_ms + delay,
                Event::Deliver {
                    to,
                    from,
                    packet: packet.clone(),
                },
            );
        }
        let delay = self.rng.between(1, max_delay);
        self.schedule_at(self.now_ms + delay, Event::Deliver { to, from, packet });
    }

    fn broadcast(&mut self, from: usize, packet: &Packet) {
        for to in 0..self.nodes.len() {
            if to != from {
                self.send(from, to, packet.clone());
            }
        }
    }

    /// Feeds `input` to `node`'s machine and carries out the outputs, feeding back what
    /// it signs and the application's answers.
    fn feed(&mut self, node: usize, input: SimInput) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let Some(machine) = self.nodes[node].machine.as_mut() else {
                return;
            };
            let outputs = machine.on(input);
            let height_round = (machine.height(), machine.round());
            if height_round != self.nodes[node].last_height_round {
                self.nodes[node].last_height_round = height_round;
                let done = self
                    .target_height
                    .is_some_and(|t| self.nodes[node].chain.len() as u64 >= t);
                if self.now_ms >= self.heal_at_ms && !done {
                    self.nodes[node].rounds_after_heal += 1;
                }
            }
            for output in outputs {
                self.on_output(node, output, &mut queue);
            }
        }
    }

    fn on_output(
        &mut self,
        node: usize,
        output: Output<SimValue, SimSignature>,
        queue: &mut VecDeque<SimInput>,
    ) {
        match output {
            Output::SignAndBroadcast(message) => {
                let index = self.nodes[node].index;
                // Persist, then sign, then speak.
                self.history.signed(index, &message);
                if self.nodes[node].behaviour.is_none() {
                    self.nodes[node].wal.push(message.clone());
                    self.flush(node);
                }
                let packet = self.packet(node, message.clone());
                self.remember(node, &packet);
                match self.nodes[node].behaviour {
                    None => self.broadcast(node, &packet),
                    Some(behaviour) => self.misbehave(node, behaviour, &message, &packet),
                }
                queue.push_back(match packet {
                    Packet::Proposal(p) => Input::Proposal(p),
                    Packet::Vote(v) => Input::Vote(v),
                    Packet::Status(_) | Packet::Sync(_) => return,
                });
            }
            Output::ScheduleTimeout {
                height,
                round,
                kind,
                duration_ms,
            } => {
                let epoch = self.nodes[node].epoch;
                self.schedule_at(
                    self.now_ms + duration_ms,
                    Event::Timer {
                        node,
                        epoch,
                        height,
                        round,
                        kind,
                    },
                );
            }
            Output::RequestValue { height, round } => {
                let value = mix64(
                    self.config.seed
                        ^ height.0.wrapping_mul(0x1_0000_0001)
                        ^ u64::from(round.0) << 40
                        ^ node as u64,
                ) & !1;
                queue.push_back(Input::ValueToPropose {
                    height,
                    round,
                    value,
                });
            }
            Output::CheckValidity { height, value } => {
                queue.push_back(Input::ValidityChecked {
                    height,
                    value,
                    valid: is_valid(&value),
                });
            }
            Output::Decide(decision) => {
                if self.nodes[node].behaviour.is_none() {
                    let index = self.nodes[node].index;
                    self.history.decisions += 1;
                    self.history
                        .decided(index, &decision, verify_vote, is_valid);
                    if decision.height.0 != self.nodes[node].chain.len() as u64 + 1 {
                        self.history.violation(format!(
                            "validator {node} decided {:?} out of order",
                            decision.height
                        ));
                    }
                }
                let next = decision.height.next();
                self.nodes[node].chain.push(decision);
                queue.push_back(Input::StartHeight { height: next });
            }
            Output::Evidence(evidence) => {
                if self.nodes[node].behaviour.is_none() {
                    let index = self.nodes[node].index;
                    let check = |v: ValidatorIndex, m: &Message<SimValue>, s: &SimSignature| {
                        verify(v, m, s)
                    };
                    self.history.reported(index, &evidence, check);
                }
            }
        }
    }

    /// A Byzantine validator's version of "broadcast `message`".
    fn misbehave(
        &mut self,
        node: usize,
        behaviour: Behaviour,
        message: &Message<SimValue>,
        packet: &Packet,
    ) {
        let index = self.nodes[node].index;
        match behaviour {
            Behaviour::Silent => {}
            Behaviour::NilOnly => match message {
                Message::Vote(vote) => {
                    let nil = Message::Vote(Vote {
                        value: None,
                        ..vote.clone()
                    });
                    let packet = self.packet(node, nil);
                    self.broadcast(node, &packet);
                }
                Message::Proposal(_) => self.broadcast(node, packet),
            },
            Behaviour::DoubleVote | Behaviour::EquivocatingProposer => {
                // Half the network gets the message, the other half a conflicting one.
                let other_value = self.rng.between(1, 1 << 20) << 1;
                let other = match message {
                    Message::Vote(vote) => {
                        let value = match vote.value {
                            Some(_) if self.rng.chance(500) => None,
                            _ => Some(other_value),
                        };
                        Message::Vote(Vote {
                            value,
                            ..vote.clone()
                        })
                    }
                    Message::Proposal(p) if behaviour == Behaviour::EquivocatingProposer => {
                        Message::Proposal(Proposal {
                            value: other_value,
                            ..p.clone()
                        })
                    }
                    Message::Proposal(_) => message.clone(),
                };
                self.history.signed(index, &other);
                let other_packet = self.packet(node, other);
                for to in 0..self.nodes.len() {
                    if to != node {
                        let chosen = if to % 2 == 0 {
                            packet.clone()
                        } else {
                            other_packet.clone()
                        };
                        self.send(node, to, chosen);
                    }
                }
            }
            Behaviour::OtherHeightsRounds => {
                self.broadcast(node, packet);
                let height = Height(
                    message
                        .height()
                        .0
                        .saturating_add(self.rng.between(0, 4))
                        .saturating_sub(1),
                );
                let round = Round(
                    message
                        .round()
                        .0
                        .saturating_add(u32::try_from(self.rng.between(0, 60)).unwrap_or(0)),
                );
                let value = self.rng.next_u64();
                let stray = match message {
                    Message::Vote(vote) => Message::Vote(Vote {
                        height,
                        round,
                        value: Some(value),
                        ..vote.clone()
                    }),
                    Message::Proposal(p) => Message::Proposal(Proposal {
                        height,
                        round,
                        value,
                        valid_round: None,
                        ..p.clone()
                    }),
                };
                self.history.signed(index, &stray);
                let stray_packet = self.packet(node, stray);
                self.broadcast(node, &stray_packet);
            }
        }
    }
}

fn packet_height(packet: &Packet) -> Option<Height> {
    match packet {
        Packet::Proposal(p) => Some(p.message.height),
        Packet::Vote(v) => Some(v.message.height),
        Packet::Status(_) | Packet::Sync(_) => None,
    }
}
