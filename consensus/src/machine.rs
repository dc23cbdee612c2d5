//! The machine: the state of one validator (paper: `h_p`, `round_p`, `step_p`, locks),
//! its constructors (fresh, and rebuilt from the write-ahead log), and `on(input) ->
//! outputs`, which admits messages into the log and hands control to `round`.
//!
//! This module filters input (wrong height, unknown validator, a proposal from someone
//! who is not the proposer, rounds beyond the window) and bounds memory; the protocol's
//! rules live in `round`.

use std::collections::BTreeMap;

use crate::timeouts::TimeoutParams;
use crate::types::{
    Height, Input, Message, Output, Proposal, Round, Signature, Signed, Slot, Step, ValidatorIndex,
    Value, Vote, VoteKind,
};
use crate::validators::ValidatorSet;
use crate::votes::{Admit, HeightLog};

/// Memory bounds, each with its unit in the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Messages for rounds more than this many rounds above the current one are not
    /// stored; they still count towards the round skip (L55) through each validator's
    /// highest round seen, so a validator far behind in rounds still catches up.
    pub rounds_ahead_max: u32,
    /// Messages for the next height kept per validator until that height starts (others
    /// often decide and move on a little earlier). Further ones are dropped.
    pub next_height_msgs_per_validator_max: usize,
    /// Different messages kept per validator and (round, slot): more than one only from
    /// an equivocator. Each counts for its own value (see the `votes` module).
    pub conflicting_messages_per_slot_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rounds_ahead_max: 16,
            next_height_msgs_per_validator_max: 8,
            conflicting_messages_per_slot_max: 4,
        }
    }
}

/// Deliberately broken variants of the algorithm, used only by the simulators' tests to
/// prove their checkers can fail. All `false` (the default) is the real algorithm. A
/// field switched at run time, not a cargo feature: production and the simulators run
/// the same compiled code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutants {
    /// Count `2f` of the power (not `2f + 1`) as a quorum.
    pub quorum_two_f: bool,
    /// After a restart, forget the lock implied by the precommits in the log.
    pub forget_lock_on_restore: bool,
    /// After a restart, forget what was signed (and so sign again from round 0).
    pub forget_signed_on_restore: bool,
    /// Count a vote again when the same validator's same vote arrives twice (a quorum
    /// counted by messages, not by distinct signers).
    pub count_duplicate_votes: bool,
}

/// Everything fixed for one machine.
#[derive(Clone, Debug)]
pub struct Config {
    /// The validators of every height this machine runs.
    pub validators: ValidatorSet,
    /// This validator's index, or `None` for an observer that never signs.
    pub me: Option<ValidatorIndex>,
    /// Timer durations.
    pub timeouts: TimeoutParams,
    /// Memory bounds.
    pub limits: Limits,
    /// Broken variants for the simulators' tests (all off in production).
    pub mutants: Mutants,
}

impl Config {
    /// A configuration with default timeouts and limits.
    pub fn new(validators: ValidatorSet, me: Option<ValidatorIndex>) -> Self {
        Config {
            validators,
            me,
            timeouts: TimeoutParams::default(),
            limits: Limits::default(),
            mutants: Mutants::default(),
        }
    }
}

/// Where the machine is in the life of its height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Built (fresh or restored) and waiting for `StartHeight`.
    NotStarted,
    /// Running rounds.
    Running,
    /// Decided (paper: `decision_p[h_p] ≠ nil`); waiting for `StartHeight(h + 1)`.
    Decided,
}

/// "For the first time" flags of the current round (paper lines 34, 36, 47).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FirstTime {
    pub(crate) prevote_timeout_scheduled: bool,
    pub(crate) l36_done: bool,
    pub(crate) precommit_timeout_scheduled: bool,
}

/// One validator's Tendermint state machine. See the crate docs for how to drive it.
#[derive(Clone, Debug)]
pub struct Machine<V, S> {
    pub(crate) config: Config,
    pub(crate) height: Height,
    pub(crate) round: Round,
    pub(crate) step: Step,
    pub(crate) phase: Phase,
    /// `(lockedRound_p, lockedValue_p)`; `None` is (-1, nil).
    pub(crate) locked: Option<(Round, V)>,
    /// `(validRound_p, validValue_p)`; `None` is (-1, nil).
    pub(crate) valid: Option<(Round, V)>,
    pub(crate) first_time: FirstTime,
    pub(crate) log: HeightLog<V, S>,
    /// The application's `valid(v)` answers for this height; `None` while asked.
    pub(crate) validity: BTreeMap<V, Option<bool>>,
    /// What this validator signed at this height, by (round, slot): never sign another
    /// message in a slot already used.
    pub(crate) signed: BTreeMap<(Round, Slot), Message<V>>,
    /// Messages for the next height, replayed when it starts.
    pub(crate) next_height: Vec<Input<V, S>>,
    pub(crate) next_height_counts: BTreeMap<ValidatorIndex, usize>,
}

impl<V: Value, S: Signature> Machine<V, S> {
    /// A machine that has signed nothing yet. Feed `Input::StartHeight` to begin.
    pub fn new(config: Config) -> Self {
        Machine {
            config,
            height: Height(0),
            round: Round(0),
            step: Step::Propose,
            phase: Phase::NotStarted,
            locked: None,
            valid: None,
            first_time: FirstTime::default(),
            log: HeightLog::new(),
            validity: BTreeMap::new(),
            signed: BTreeMap::new(),
            next_height: Vec::new(),
            next_height_counts: BTreeMap::new(),
        }
    }

    /// A machine rebuilt after a crash from its write-ahead log: every message it was
    /// asked to sign (see the crate docs). Records of heights below the highest one are
    /// ignored. Feed `Input::StartHeight` with the height to run: the highest height in
    /// the log if it was not committed (the machine then resumes the round and step it
    /// was in, with its lock), or any later height.
    pub fn restore(config: Config, wal: impl IntoIterator<Item = Message<V>>) -> Self {
        let mut records: Vec<Message<V>> = wal
            .into_iter()
            .filter(|m| Some(m.signer()) == config.me)
            .collect();
        let mut machine = Machine::new(config);
        let Some(height) = records.iter().map(Message::height).max() else {
            return machine;
        };
        records.retain(|m| m.height() == height);
        machine.height = height;
        if machine.config.mutants.forget_signed_on_restore {
            return machine;
        }
        for record in records {
            machine.restore_record(record);
        }
        machine
    }

    fn restore_record(&mut self, record: Message<V>) {
        let round = record.round();
        if round > self.round {
            self.round = round;
        }
        match &record {
            // A proposal with a valid round proves validRound_p >= vr with that value (L15-16).
            Message::Proposal(Proposal {
                value,
                valid_round: Some(vr),
                ..
            }) if self.valid.as_ref().is_none_or(|(r, _)| *vr > *r) => {
                self.valid = Some((*vr, value.clone()));
            }
            // The lock changes only at L38-40, together with a precommit for it.
            Message::Vote(Vote {
                kind: VoteKind::Precommit,
                value: Some(value),
                ..
            }) => {
                let forget = self.config.mutants.forget_lock_on_restore;
                if !forget && self.locked.as_ref().is_none_or(|(r, _)| round > *r) {
                    self.locked = Some((round, value.clone()));
                }
                if self.valid.as_ref().is_none_or(|(r, _)| round > *r) {
                    self.valid = Some((round, value.clone()));
                }
            }
            _ => {}
        }
        self.signed.insert((round, record.slot()), record);
    }

    /// Handles one input and returns what the node must do, in order.
    pub fn on(&mut self, input: Input<V, S>) -> Vec<Output<V, S>> {
        let mut out = Vec::new();
        self.handle(input, &mut out);
        out
    }

    fn handle(&mut self, input: Input<V, S>, out: &mut Vec<Output<V, S>>) {
        match input {
            Input::StartHeight { height } => self.start_height(height, out),
            Input::Proposal(proposal) => self.admit_proposal(proposal, out),
            Input::Vote(vote) => self.admit_vote(vote, out),
            Input::TimeoutElapsed {
                height,
                round,
                kind,
            } => {
                if height == self.height && self.phase == Phase::Running {
                    self.on_timeout(round, kind, out);
                }
            }
            Input::ValidityChecked {
                height,
                value,
                valid,
            } => {
                if height == self.height
                    && self.phase != Phase::Decided
                    && let Some(answer) = self.validity.get_mut(&value)
                {
                    *answer = Some(valid);
                }
            }
            Input::ValueToPropose {
                height,
                round,
                value,
            } => {
                if height == self.height && self.phase == Phase::Running {
                    self.on_value_to_propose(round, value, out);
                }
            }
        }
        if self.phase == Phase::Running {
            self.drive(out);
        }
    }

    fn start_height(&mut self, height: Height, out: &mut Vec<Output<V, S>>) {
        let resume = height == self.height && self.phase == Phase::NotStarted;
        if !(height > self.height || resume) {
            return;
        }
        let buffered = if height == self.height.next() {
            std::mem::take(&mut self.next_height)
        } else {
            Vec::new()
        };
        if !resume {
            // L52-53: a new height starts with no lock, no valid value and an empty log.
            self.height = height;
            self.round = Round(0);
            self.locked = None;
            self.valid = None;
            self.log = HeightLog::new();
            self.validity.clear();
            self.signed.clear();
        }
        self.next_height.clear();
        self.next_height_counts.clear();
        self.phase = Phase::Running;
        let round = self.round;
        self.start_round(round, out);
        if resume {
            self.resume_signed_votes(out);
        }
        for input in buffered {
            self.handle(input, out);
        }
    }

    /// After a restart, the round's step follows what was already signed in it, and the
    /// signed votes are sent again (identical, so harmless) in case they never left.
    fn resume_signed_votes(&mut self, out: &mut Vec<Output<V, S>>) {
        for (slot, step) in [
            (Slot::Prevote, Step::Prevote),
            (Slot::Precommit, Step::Precommit),
        ] {
            if let Some(message) = self.signed.get(&(self.round, slot)) {
                out.push(Output::SignAndBroadcast(message.clone()));
                self.step = step;
            }
        }
    }

    /// Whether a message at `height` should be kept for the next height instead.
    fn buffer_for_next_height(
        &mut self,
        height: Height,
        sender: ValidatorIndex,
        input: Input<V, S>,
    ) {
        if height != self.height.next() {
            return;
        }
        let count = self.next_height_counts.entry(sender).or_insert(0);
        if *count < self.config.limits.next_height_msgs_per_validator_max {
            *count += 1;
            self.next_height.push(input);
        }
    }

    /// Whether `round` is within the stored window. Rounds below the current one are kept
    /// (L28 and L49 read earlier rounds); their number is bounded by the rounds this
    /// height has actually reached.
    fn round_in_window(&self, round: Round) -> bool {
        u64::from(round.0)
            <= u64::from(self.round.0) + u64::from(self.config.limits.rounds_ahead_max)
    }

    fn admit_vote(&mut self, vote: Signed<Vote<V>, S>, out: &mut Vec<Output<V, S>>) {
        let (height, round, validator) = (
            vote.message.height,
            vote.message.round,
            vote.message.validator,
        );
        let Some(power) = self.config.validators.power(validator) else {
            return;
        };
        if height != self.height || self.phase == Phase::Decided {
            self.buffer_for_next_height(height, validator, Input::Vote(vote));
            return;
        }
        self.log.saw_round(validator, round);
        if !self.round_in_window(round) {
            return;
        }
        if let Admit::Conflict(evidence) = self.log.add_vote(
            vote,
            power,
            self.config.limits.conflicting_messages_per_slot_max,
            self.config.mutants.count_duplicate_votes,
        ) {
            out.push(Output::Evidence(*evidence));
        }
    }

    fn admit_proposal(&mut self, proposal: Signed<Proposal<V>, S>, out: &mut Vec<Output<V, S>>) {
        let message = &proposal.message;
        let (height, round, proposer) = (message.height, message.round, message.proposer);
        if self.config.validators.power(proposer).is_none() {
            return;
        }
        if height != self.height || self.phase == Phase::Decided {
            self.buffer_for_next_height(height, proposer, Input::Proposal(proposal));
            return;
        }
        // A proposal's valid round must precede its round (L28: vr < round).
        if self.config.validators.proposer(height, round) != proposer
            || message.valid_round.is_some_and(|vr| vr >= round)
        {
            return;
        }
        self.log.saw_round(proposer, round);
        if !self.round_in_window(round) {
            return;
        }
        if let Admit::Conflict(evidence) = self.log.add_proposal(
            proposal,
            self.config.limits.conflicting_messages_per_slot_max,
        ) {
            out.push(Output::Evidence(*evidence));
        }
    }

    /// The paper's `valid(v)`: the application's answer, asked for once.
    pub(crate) fn validity_of(&mut self, value: &V, out: &mut Vec<Output<V, S>>) -> Option<bool> {
        if let Some(answer) = self.validity.get(value) {
            return *answer;
        }
        self.validity.insert(value.clone(), None);
        out.push(Output::CheckValidity {
            height: self.height,
            value: value.clone(),
        });
        None
    }

    /// Signs `message` unless its slot is already used at this height; then the earlier
    /// message is sent again instead, so a validator never signs two messages for one
    /// (height, round, slot), whatever it forgot.
    pub(crate) fn sign(&mut self, message: Message<V>, out: &mut Vec<Output<V, S>>) {
        if self.config.me.is_none() {
            return;
        }
        let key = (message.round(), message.slot());
        let message = self.signed.entry(key).or_insert(message).clone();
        out.push(Output::SignAndBroadcast(message));
    }

    /// Whether `power` is a quorum (the paper's `2f + 1`).
    pub(crate) fn is_quorum(&self, power: u64) -> bool {
        if self.config.mutants.quorum_two_f {
            let total = self.config.validators.total_power();
            let f = total.saturating_sub(1) / 3;
            return power >= 2 * f;
        }
        self.config.validators.is_quorum(power)
    }

    /// The current height (paper: `h_p`).
    pub fn height(&self) -> Height {
        self.height
    }

    /// The current round (paper: `round_p`).
    pub fn round(&self) -> Round {
        self.round
    }

    /// The current step (paper: `step_p`).
    pub fn step(&self) -> Step {
        self.step
    }

    /// `(lockedRound_p, lockedValue_p)`, `None` when unlocked.
    pub fn locked(&self) -> Option<&(Round, V)> {
        self.locked.as_ref()
    }

    /// `(validRound_p, validValue_p)`, `None` when there is none.
    pub fn valid(&self) -> Option<&(Round, V)> {
        self.valid.as_ref()
    }

    /// Whether the current height is decided and the machine waits for the next.
    pub fn is_decided(&self) -> bool {
        self.phase == Phase::Decided
    }

    /// Whether the machine is running a height.
    pub fn is_running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// The power of the prevotes for `value` (`None`: nil) at `round` of
    /// the current height, as the rules read it (for hosts' traces).
    pub fn prevote_power(&self, round: Round, value: Option<&V>) -> u64 {
        self.log.power_for(round, VoteKind::Prevote, value)
    }

    /// The first proposal of `round` at the current height (what L22 and
    /// L28 act on): its value and valid round, for hosts' traces.
    pub fn proposal_at(&self, round: Round) -> Option<(V, Option<Round>)> {
        self.log
            .proposal(round)
            .map(|p| (p.value.clone(), p.valid_round))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
