//! The rules of Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
//! Milosevic, arXiv:1807.04938), one helper per `upon` clause, each marked with the
//! paper's line number.
//!
//! [`Machine::drive`] owns the control flow: after every input it evaluates the `upon`
//! clauses enabled in the current step, fires the first whose condition holds, and
//! repeats until none does. Timers (L57, L61, L65) and `getValue()` answers arrive as
//! inputs and are handled by [`Machine::on_timeout`] and
//! [`Machine::on_value_to_propose`]. This module does not filter or store messages
//! (see [`crate::machine`]).

use crate::machine::{FirstTime, Machine, Phase};
use crate::types::{
    Decision, Message, Output, Proposal, Round, Signature, Step, TimeoutKind, Value, Vote, VoteKind,
};

/// Upper bound on rule firings per input. Every firing advances the step, the round,
/// a "first time" flag or the phase, so a handful suffices; the bound turns a bug into
/// a stall rather than a hang.
const FIRINGS_PER_INPUT_MAX: usize = 64;

impl<V: Value, S: Signature> Machine<V, S> {
    /// Fires enabled `upon` clauses until none is.
    pub(crate) fn drive(&mut self, out: &mut Vec<Output<V, S>>) {
        for _ in 0..FIRINGS_PER_INPUT_MAX {
            if self.phase != Phase::Running || !self.fire_one(out) {
                return;
            }
        }
    }

    /// Evaluates the clauses in the paper's order; returns whether one fired.
    fn fire_one(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        // L49 holds in every step: a decision ends the height.
        if self.upon_decide(out) {
            return true;
        }
        // L55 holds in every step.
        if self.upon_round_skip(out) {
            return true;
        }
        let fired = match self.step {
            // L22, L28
            Step::Propose => self.upon_proposal(out) || self.upon_proposal_with_valid_round(out),
            // L34, L36, L44
            Step::Prevote => {
                self.upon_prevote_any(out)
                    || self.upon_proposal_and_prevotes(out)
                    || self.upon_prevote_nil(out)
            }
            // L36 (step >= prevote)
            Step::Precommit => self.upon_proposal_and_prevotes(out),
        };
        // L47 holds in every step.
        fired || self.upon_precommit_any(out)
    }

    /// L11-21: `StartRound(round)`.
    pub(crate) fn start_round(&mut self, round: Round, out: &mut Vec<Output<V, S>>) {
        // L12-13
        self.round = round;
        self.step = Step::Propose;
        self.first_time = FirstTime::default();
        let height = self.height;
        // L14
        if self.config.me.is_some()
            && self.config.me == Some(self.config.validators.proposer(height, round))
        {
            if let Some(proposal) = self.signed.get(&(round, crate::types::Slot::Proposal)) {
                // Proposed in this round before a restart: the same proposal again.
                out.push(Output::SignAndBroadcast(proposal.clone()));
            } else if let Some((valid_round, valid_value)) = self.valid.clone() {
                // L15-16, L19
                self.propose(valid_value, Some(valid_round), out);
            } else {
                // L18: getValue() is asynchronous here; L19 runs in on_value_to_propose.
                out.push(Output::RequestValue { height, round });
            }
        }
        // L21. The proposer schedules it too: its value arrives asynchronously, and the
        // timer is a no-op once its own proposal has moved it to prevote.
        self.schedule(TimeoutKind::Propose, out);
    }

    /// L18-19 once the application answers `getValue()`.
    pub(crate) fn on_value_to_propose(
        &mut self,
        round: Round,
        value: V,
        out: &mut Vec<Output<V, S>>,
    ) {
        let me = self.config.me;
        if round != self.round || self.step != Step::Propose || me.is_none() {
            return;
        }
        if me != Some(self.config.validators.proposer(self.height, round)) {
            return;
        }
        if self
            .signed
            .contains_key(&(round, crate::types::Slot::Proposal))
            || self.valid.is_some()
        {
            return;
        }
        // The application proposes only values it considers valid.
        self.validity.insert(value.clone(), Some(true));
        self.propose(value, None, out);
    }

    /// L57, L61, L65: a timer elapsed.
    pub(crate) fn on_timeout(
        &mut self,
        round: Round,
        kind: TimeoutKind,
        out: &mut Vec<Output<V, S>>,
    ) {
        if round != self.round {
            return;
        }
        match (self.step, kind) {
            // L57-60
            (Step::Propose, TimeoutKind::Propose) => self.prevote(None, out),
            // L61-64
            (Step::Prevote, TimeoutKind::Prevote) => self.precommit(None, out),
            // L65-67
            (_, TimeoutKind::Precommit) => self.start_round(round.next(), out),
            _ => {}
        }
    }

    /// L22: a proposal with no valid round, in step propose.
    fn upon_proposal(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        let Some(Proposal {
            value,
            valid_round: None,
            ..
        }) = self.log.proposal(self.round).cloned()
        else {
            return false;
        };
        let Some(valid) = self.validity_of(&value, out) else {
            return false;
        };
        // L23
        let unlocked_or_same = match &self.locked {
            None => true,
            Some((_, locked_value)) => *locked_value == value,
        };
        // L24, L26-27
        self.prevote(
            if valid && unlocked_or_same {
                Some(value)
            } else {
                None
            },
            out,
        );
        true
    }

    /// L28: a proposal re-proposing a value with a prevote quorum at its valid round.
    fn upon_proposal_with_valid_round(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        let Some(Proposal {
            value,
            valid_round: Some(vr),
            ..
        }) = self.log.proposal(self.round).cloned()
        else {
            return false;
        };
        if vr >= self.round
            || !self.is_quorum(self.log.power_for(vr, VoteKind::Prevote, Some(&value)))
        {
            return false;
        }
        let Some(valid) = self.validity_of(&value, out) else {
            return false;
        };
        // L29
        let lock_allows = match &self.locked {
            None => true,
            Some((locked_round, locked_value)) => *locked_round <= vr || *locked_value == value,
        };
        // L30, L32-33
        self.prevote(
            if valid && lock_allows {
                Some(value)
            } else {
                None
            },
            out,
        );
        true
    }

    /// L34: prevotes of a quorum for anything, first time in this round.
    fn upon_prevote_any(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        if self.first_time.prevote_timeout_scheduled
            || !self.is_quorum(self.log.power_any(self.round, VoteKind::Prevote))
        {
            return false;
        }
        // L35
        self.first_time.prevote_timeout_scheduled = true;
        self.schedule(TimeoutKind::Prevote, out);
        true
    }

    /// L36: the proposal and a prevote quorum for it, step >= prevote, first time.
    fn upon_proposal_and_prevotes(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        if self.first_time.l36_done {
            return false;
        }
        // Any proposal of the round (an equivocating proposer may have sent several).
        let round = self.round;
        let with_quorum = self
            .log
            .proposed_values(round)
            .find(|v| self.is_quorum(self.log.power_for(round, VoteKind::Prevote, Some(v))))
            .cloned();
        let Some(value) = with_quorum else {
            return false;
        };
        if self.validity_of(&value, out) != Some(true) {
            return false;
        }
        self.first_time.l36_done = true;
        // L37-41
        if self.step == Step::Prevote {
            self.locked = Some((self.round, value.clone()));
            self.precommit(Some(value.clone()), out);
        }
        // L42-43
        self.valid = Some((self.round, value));
        true
    }

    /// L44: a prevote quorum for nil, in step prevote.
    fn upon_prevote_nil(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        if !self.is_quorum(self.log.power_for(self.round, VoteKind::Prevote, None)) {
            return false;
        }
        // L45-46
        self.precommit(None, out);
        true
    }

    /// L47: precommits of a quorum for anything, first time in this round.
    fn upon_precommit_any(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        if self.first_time.precommit_timeout_scheduled
            || !self.is_quorum(self.log.power_any(self.round, VoteKind::Precommit))
        {
            return false;
        }
        // L48
        self.first_time.precommit_timeout_scheduled = true;
        self.schedule(TimeoutKind::Precommit, out);
        true
    }

    /// L49: the proposal of some round r and a precommit quorum for it at r.
    fn upon_decide(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        let mut candidate = None;
        'rounds: for round in self.log.precommit_rounds() {
            for (value, power) in self.log.precommitted_values(round) {
                if self.is_quorum(power) && self.log.proposed_values(round).any(|p| p == value) {
                    candidate = Some((round, value.clone()));
                    break 'rounds;
                }
            }
        }
        let Some((round, value)) = candidate else {
            return false;
        };
        // L50
        if self.validity_of(&value, out) != Some(true) {
            return false;
        }
        // L51. L52-54 (next height, reset, StartRound(0)) wait for StartHeight, so that
        // the node commits the decision first.
        let certificate = self.log.certificate(round, &value);
        self.phase = Phase::Decided;
        out.push(Output::Decide(Decision {
            height: self.height,
            round,
            value,
            certificate,
        }));
        true
    }

    /// L55: more than a third of the power is in a higher round.
    ///
    /// The paper counts messages of one round; this counts each validator's highest
    /// round seen, so it also fires when those validators are spread over higher
    /// rounds (or beyond the stored window). Skipping to the highest round that more
    /// than a third of the power has reached includes every round the paper's rule
    /// would skip to, and some honest validator has been in it.
    fn upon_round_skip(&mut self, out: &mut Vec<Output<V, S>>) -> bool {
        let mut highest: Vec<(Round, u64)> = self
            .log
            .highest_rounds()
            .filter(|(_, round)| *round > self.round)
            .map(|(validator, round)| (round, self.config.validators.power(validator).unwrap_or(0)))
            .collect();
        highest.sort_unstable_by_key(|(round, _)| std::cmp::Reverse(*round));
        let mut power: u64 = 0;
        for (round, validator_power) in highest {
            power = power.saturating_add(validator_power);
            if self.config.validators.is_one_third_plus(power) {
                // L56
                self.start_round(round, out);
                return true;
            }
        }
        false
    }

    /// L19: broadcast a proposal.
    fn propose(&mut self, value: V, valid_round: Option<Round>, out: &mut Vec<Output<V, S>>) {
        let Some(me) = self.config.me else { return };
        let proposal = Proposal {
            height: self.height,
            round: self.round,
            value,
            valid_round,
            proposer: me,
        };
        self.sign(Message::Proposal(proposal), out);
    }

    /// L24/L26/L30/L32/L59 and the step change after them.
    fn prevote(&mut self, value: Option<V>, out: &mut Vec<Output<V, S>>) {
        self.vote(VoteKind::Prevote, value, out);
        self.step = Step::Prevote;
    }

    /// L40/L45/L63 and the step change after them.
    fn precommit(&mut self, value: Option<V>, out: &mut Vec<Output<V, S>>) {
        self.vote(VoteKind::Precommit, value, out);
        self.step = Step::Precommit;
    }

    fn vote(&mut self, kind: VoteKind, value: Option<V>, out: &mut Vec<Output<V, S>>) {
        let Some(me) = self.config.me else { return };
        let vote = Vote {
            height: self.height,
            round: self.round,
            kind,
            value,
            validator: me,
        };
        self.sign(Message::Vote(vote), out);
    }

    fn schedule(&self, kind: TimeoutKind, out: &mut Vec<Output<V, S>>) {
        let duration_ms = self.config.timeouts.duration_ms(kind, self.round);
        out.push(Output::ScheduleTimeout {
            height: self.height,
            round: self.round,
            kind,
            duration_ms,
        });
    }
}
