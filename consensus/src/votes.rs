//! The message log of one height: proposals and votes weighted by voting power, and
//! equivocation detection.
//!
//! Every validator counts at most once per (round, kind): the first vote it sends is
//! counted, an identical copy is a duplicate, and a different one becomes evidence. The
//! log keeps only what the machine admits (the current height, rounds up to a window
//! ahead), so each round holds at most one vote per validator and kind and one proposal.
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
    /// Conflicts with what the same validator sent before; not counted.
    Conflict(Box<Evidence<V, S>>),
}

/// The votes of one kind in one round.
#[derive(Clone, Debug)]
pub(crate) struct RoundVotes<V, S> {
    by_validator: BTreeMap<ValidatorIndex, Signed<Vote<V>, S>>,
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
    proposals: BTreeMap<Round, Signed<Proposal<V>, S>>,
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

    /// Offers a vote from a validator of power `power`.
    pub(crate) fn add_vote(&mut self, vote: Signed<Vote<V>, S>, power: u64) -> Admit<V, S> {
        let key = (vote.message.round, vote.message.kind);
        let round_votes = self.votes.entry(key).or_insert_with(RoundVotes::new);
        if let Some(first) = round_votes.by_validator.get(&vote.message.validator) {
            if first.message == vote.message {
                return Admit::Duplicate;
            }
            return Admit::Conflict(Box::new(Evidence::ConflictingVotes {
                first: first.clone(),
                second: vote,
            }));
        }
        let tally = round_votes
            .power_by_value
            .entry(vote.message.value.clone())
            .or_insert(0);
        *tally = tally.saturating_add(power);
        round_votes.total_power = round_votes.total_power.saturating_add(power);
        round_votes
            .by_validator
            .insert(vote.message.validator, vote);
        Admit::Added
    }

    /// Offers a proposal already known to come from the round's proposer.
    pub(crate) fn add_proposal(&mut self, proposal: Signed<Proposal<V>, S>) -> Admit<V, S> {
        if let Some(first) = self.proposals.get(&proposal.message.round) {
            if first.message == proposal.message {
                return Admit::Duplicate;
            }
            return Admit::Conflict(Box::new(Evidence::ConflictingProposals {
                first: first.clone(),
                second: proposal,
            }));
        }
        self.proposals.insert(proposal.message.round, proposal);
        Admit::Added
    }

    /// The proposal of `round`, if any.
    pub(crate) fn proposal(&self, round: Round) -> Option<&Proposal<V>> {
        self.proposals.get(&round).map(|p| &p.message)
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
            .flat_map(|r| r.by_validator.values())
            .filter(|v| v.message.value.as_ref() == Some(value))
            .cloned()
            .collect()
    }

    /// Validators' highest rounds, for L55.
    pub(crate) fn highest_rounds(&self) -> impl Iterator<Item = (ValidatorIndex, Round)> + '_ {
        self.highest_round.iter().map(|(v, r)| (*v, *r))
    }
}
