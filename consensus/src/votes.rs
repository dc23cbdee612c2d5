//! The message log of one height: proposals and votes weighted by voting power, and
//! equivocation detection.
//!
//! A validator counts at most once per (round, kind) towards "any value" totals (L34,
//! L47, and at most once per value towards a value's tally (L28, L36, L44, L49). A
//! second, different vote for the same (round, kind) is evidence, and is still counted
//! for its own value: otherwise validators that heard an equivocator's two votes in
//! different orders would count different ones, and could never agree on a quorum (the
//! problem CometBFT solves with peer "maj23" claims). This is safe: quorums for two
//! values would overlap in more than a third of the power, all of it equivocating. The
//! log keeps at most `Limits::conflicting_messages_per_slot_max` different messages per
//! validator and slot, and only what the machine admits (the current height, rounds up
//! to a window ahead).
//! This module decides nothing; `round` reads the tallies.

use std::collections::BTreeMap;

use crate::types::{Evidence, Proposal, Round, Signed, ValidatorIndex, Value, Vote, VoteKind};

/// What happened to a message offered to the log.
#[derive(Debug)]
pub(crate) enum Admit<V, S> {
    /// Stored and counted.
    Added,
    /// Already known (same content); nothing changes.
    Duplicate,
    /// Conflicts with what the same validator sent before: evidence. The message is
    /// still counted for its own value while under the per-slot cap.
    Conflict(Box<Evidence<V, S>>),
}

/// The votes of one kind in one round.
#[derive(Clone, Debug)]
pub(crate) struct RoundVotes<V, S> {
    /// Each validator's different votes, in arrival order; never empty.
    by_validator: BTreeMap<ValidatorIndex, Vec<Signed<Vote<V>, S>>>,
    power_by_value: BTreeMap<Option<V>, u64>,
    total_power: u64,
}

impl<V: Value, S: Clone> RoundVotes<V, S> {
    fn new() -> Self {
        RoundVotes {
            by_validator: BTreeMap::new(),
            power_by_value: BTreeMap::new(),
            total_power: 0,
        }
    }
}

/// Proposals and votes of one height.
#[derive(Clone, Debug)]
pub(crate) struct HeightLog<V, S> {
    votes: BTreeMap<(Round, VoteKind), RoundVotes<V, S>>,
    /// Each round's proposals from its proposer, in arrival order (more than one only
    /// from an equivocating proposer).
    proposals: BTreeMap<Round, Vec<Signed<Proposal<V>, S>>>,
    /// Each validator's highest round seen in any message of this height, for the
    /// round-skip rule (L55). One entry per validator, whatever the rounds.
    highest_round: BTreeMap<ValidatorIndex, Round>,
}

impl<V: Value, S: Clone + Eq> HeightLog<V, S> {
    pub(crate) fn new() -> Self {
        HeightLog {
            votes: BTreeMap::new(),
            proposals: BTreeMap::new(),
            highest_round: BTreeMap::new(),
        }
    }

    /// Notes that `validator` sent something at `round` (for L55), whether or not the
    /// message itself is kept.
    pub(crate) fn saw_round(&mut self, validator: ValidatorIndex, round: Round) {
        let highest = self.highest_round.entry(validator).or_insert(round);
        if round > *highest {
            *highest = round;
        }
    }

    /// Offers a vote from a validator of power `power`; at most `per_slot_max` different
    /// votes of one validator and slot are kept. `count_duplicates` is the
    /// `count_duplicate_votes` mutant: a repeated vote counts again.
    pub(crate) fn add_vote(
        &mut self,
        vote: Signed<Vote<V>, S>,
        power: u64,
        per_slot_max: usize,
        count_duplicates: bool,
    ) -> Admit<V, S> {
        let key = (vote.message.round, vote.message.kind);
        let round_votes = self.votes.entry(key).or_insert_with(RoundVotes::new);
        let earlier = round_votes
            .by_validator
            .entry(vote.message.validator)
            .or_default();
        if earlier.iter().any(|v| v.message == vote.message) {
            if count_duplicates {
                let tally = round_votes
                    .power_by_value
                    .entry(vote.message.value.clone())
                    .or_insert(0);
                *tally = tally.saturating_add(power);
                round_votes.total_power = round_votes.total_power.saturating_add(power);
            }
            return Admit::Duplicate;
        }
        let first = earlier.first().cloned();
        if first.is_none() {
            round_votes.total_power = round_votes.total_power.saturating_add(power);
        }
        if earlier.len() < per_slot_max.max(1) {
            let tally = round_votes
                .power_by_value
                .entry(vote.message.value.clone())
                .or_insert(0);
            *tally = tally.saturating_add(power);
            earlier.push(vote.clone());
        }
        match first {
            None => Admit::Added,
            Some(first) => Admit::Conflict(Box::new(Evidence::ConflictingVotes {
                first,
                second: vote,
            })),
        }
    }

    /// Offers a proposal already known to come from the round's proposer.
    pub(crate) fn add_proposal(
        &mut self,
        proposal: Signed<Proposal<V>, S>,
        per_slot_max: usize,
    ) -> Admit<V, S> {
        let earlier = self.proposals.entry(proposal.message.round).or_default();
        if earlier.iter().any(|p| p.message == proposal.message) {
            return Admit::Duplicate;
        }
        let first = earlier.first().cloned();
        if earlier.len() < per_slot_max.max(1) {
            earlier.push(proposal.clone());
        }
        match first {
            None => Admit::Added,
            Some(first) => Admit::Conflict(Box::new(Evidence::ConflictingProposals {
                first,
                second: proposal,
            })),
        }
    }

    /// The first proposal of `round`, if any (what L22 and L28 act on).
    pub(crate) fn proposal(&self, round: Round) -> Option<&Proposal<V>> {
        self.proposals
            .get(&round)
            .and_then(|p| p.first())
            .map(|p| &p.message)
    }

    /// The values proposed at `round` (one unless the proposer equivocated).
    pub(crate) fn proposed_values(&self, round: Round) -> impl Iterator<Item = &V> + '_ {
        self.proposals
            .get(&round)
            .into_iter()
            .flatten()
            .map(|p| &p.message.value)
    }

    /// Power of all votes of `kind` at `round`, whatever their value (the paper's `∗`).
    pub(crate) fn power_any(&self, round: Round, kind: VoteKind) -> u64 {
        self.votes.get(&(round, kind)).map_or(0, |r| r.total_power)
    }

    /// Power of the votes of `kind` at `round` for `value` (`None`: nil).
    pub(crate) fn power_for(&self, round: Round, kind: VoteKind, value: Option<&V>) -> u64 {
        let Some(round_votes) = self.votes.get(&(round, kind)) else {
            return 0;
        };
        match value {
            None => round_votes.power_by_value.get(&None).copied().unwrap_or(0),
            Some(v) => round_votes
                .power_by_value
                .get(&Some(v.clone()))
                .copied()
                .unwrap_or(0),
        }
    }

    /// Rounds in which some precommits were received, ascending.
    pub(crate) fn precommit_rounds(&self) -> impl Iterator<Item = Round> + '_ {
        self.votes
            .keys()
            .filter(|(_, kind)| *kind == VoteKind::Precommit)
            .map(|(round, _)| *round)
    }

    /// The values with precommits at `round`, with their power, excluding nil.
    pub(crate) fn precommitted_values(&self, round: Round) -> impl Iterator<Item = (&V, u64)> + '_ {
        self.votes
            .get(&(round, VoteKind::Precommit))
            .into_iter()
            .flat_map(|r| {
                r.power_by_value
                    .iter()
                    .filter_map(|(v, p)| v.as_ref().map(|v| (v, *p)))
            })
    }

    /// The precommits for `value` at `round`, ordered by validator: a commit certificate
    /// once their power is a quorum.
    pub(crate) fn certificate(&self, round: Round, value: &V) -> Vec<Signed<Vote<V>, S>> {
        self.votes
            .get(&(round, VoteKind::Precommit))
            .into_iter()
            .flat_map(|r| r.by_validator.values().flatten())
            .filter(|v| v.message.value.as_ref() == Some(value))
            .cloned()
            .collect()
    }

    /// Validators' highest rounds, for L55.
    pub(crate) fn highest_rounds(&self) -> impl Iterator<Item = (ValidatorIndex, Round)> + '_ {
        self.highest_round.iter().map(|(v, r)| (*v, *r))
    }
}
