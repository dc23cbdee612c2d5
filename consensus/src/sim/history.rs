//! The history checker: what every honest validator signed, decided and reported, checked
//! against the promises as it happens. It knows nothing of the simulated network, so a
//! whole-node test can feed it the same facts.
//!
//! - S1 agreement: no two honest validators decide different values at a height.
//! - Validity: a decided value was proposed and is valid.
//! - S2 certificates: every decision carries precommits for it, at its height and round,
//!   from distinct validators, with good signatures, of more than two thirds of the power.
//! - S4 no honest equivocation: an honest key never signs two different messages for one
//!   (height, round, slot), across restarts too.
//! - S8 evidence: evidence names a validator that really signed both conflicting
//!   messages, and never an honest one.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::{
    Decision, Evidence, Height, Message, Round, Signed, Slot, ValidatorIndex, Value, Vote, VoteKind,
};
use crate::validators::ValidatorSet;

/// Checks a run's history as it unfolds; violations are collected, never panicked on.
#[derive(Clone, Debug)]
pub struct History<V> {
    validators: ValidatorSet,
    honest: Vec<bool>,
    decided: BTreeMap<Height, (V, ValidatorIndex)>,
    proposed: BTreeSet<V>,
    signed: BTreeMap<(ValidatorIndex, Height, Round, Slot), Message<V>>,
    violations: Vec<String>,
    /// Decisions reached by honest validators' own machines.
    pub decisions: u64,
    /// Well-formed evidence reported by honest validators.
    pub evidence: u64,
}

impl<V: Value> History<V> {
    /// A history for `validators`, where `honest[i]` says whether validator `i` is honest.
    pub fn new(validators: ValidatorSet, honest: Vec<bool>) -> Self {
        History {
            validators,
            honest,
            decided: BTreeMap::new(),
            proposed: BTreeSet::new(),
            signed: BTreeMap::new(),
            violations: Vec::new(),
            decisions: 0,
            evidence: 0,
        }
    }

    fn is_honest(&self, validator: ValidatorIndex) -> bool {
        self.honest
            .get(validator.0 as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The violations found so far.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Records a violation found outside the checker (e.g. termination).
    pub fn violation(&mut self, what: String) {
        self.violations.push(what);
    }

    /// A proposal was broadcast (by anyone): its value counts as proposed.
    pub fn proposed(&mut self, value: &V) {
        if !self.proposed.contains(value) {
            self.proposed.insert(value.clone());
        }
    }

    /// `validator` signed `message` (S4 for honest validators).
    pub fn signed(&mut self, validator: ValidatorIndex, message: &Message<V>) {
        if let Message::Proposal(p) = message {
            self.proposed(&p.value);
        }
        if !self.is_honest(validator) {
            return;
        }
        let key = (validator, message.height(), message.round(), message.slot());
        match self.signed.get(&key) {
            Some(first) if first != message => {
                self.violations.push(format!(
                    "S4: honest {validator:?} signed {first:?} and then {message:?}"
                ));
            }
            Some(_) => {}
            None => {
                self.signed.insert(key, message.clone());
            }
        }
    }

    /// Honest `node` decided (or adopted through sync) `decision`. `verify` checks one
    /// signature; `is_valid` is the application's validity.
    pub fn decided<S: std::fmt::Debug>(
        &mut self,
        node: ValidatorIndex,
        decision: &Decision<V, S>,
        verify: impl Fn(&Signed<Vote<V>, S>) -> bool,
        is_valid: impl Fn(&V) -> bool,
    ) {
        if let Err(why) = check_certificate(&self.validators, decision, verify) {
            self.violations.push(format!(
                "S2: {node:?} decided {decision:?} with a bad certificate: {why}"
            ));
        }
        if !is_valid(&decision.value) || !self.proposed.contains(&decision.value) {
            self.violations.push(format!(
                "validity: {node:?} decided {:?} at {:?}, which is invalid or was never proposed",
                decision.value, decision.height
            ));
        }
        match self.decided.get(&decision.height) {
            Some((value, first)) if *value != decision.value => self.violations.push(format!(
                "S1: at {:?} {first:?} decided {value:?} but {node:?} decided {:?}",
                decision.height, decision.value
            )),
            Some(_) => {}
            None => {
                self.decided
                    .insert(decision.height, (decision.value.clone(), node));
            }
        }
    }

    /// Honest `node` reported `evidence` (S8).
    pub fn reported<S>(
        &mut self,
        node: ValidatorIndex,
        evidence: &Evidence<V, S>,
        verify: impl Fn(ValidatorIndex, &Message<V>, &S) -> bool,
    ) {
        let (first, first_sig, second, second_sig) = match evidence {
            Evidence::ConflictingVotes { first, second } => (
                Message::Vote(first.message.clone()),
                &first.signature,
                Message::Vote(second.message.clone()),
                &second.signature,
            ),
            Evidence::ConflictingProposals { first, second } => (
                Message::Proposal(first.message.clone()),
                &first.signature,
                Message::Proposal(second.message.clone()),
                &second.signature,
            ),
        };
        let offender = first.signer();
        let conflicting = first != second
            && second.signer() == offender
            && (first.height(), first.round(), first.slot())
                == (second.height(), second.round(), second.slot());
        if !conflicting
            || !verify(offender, &first, first_sig)
            || !verify(offender, &second, second_sig)
        {
            self.violations.push(format!(
                "S8: {node:?} reported malformed evidence {first:?} / {second:?}"
            ));
        } else if self.is_honest(offender) {
            self.violations.push(format!(
                "S8: {node:?} accused honest {offender:?}: {first:?} / {second:?}"
            ));
        } else {
            self.evidence += 1;
        }
    }
}

/// Checks that `decision` carries a commit certificate (S2).
///
/// # Errors
/// A description of the first defect found.
pub fn check_certificate<V: Value, S>(
    validators: &ValidatorSet,
    decision: &Decision<V, S>,
    verify: impl Fn(&Signed<Vote<V>, S>) -> bool,
) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    let mut power: u64 = 0;
    for vote in &decision.certificate {
        let m = &vote.message;
        if m.kind != VoteKind::Precommit
            || m.height != decision.height
            || m.round != decision.round
            || m.value.as_ref() != Some(&decision.value)
        {
            return Err(format!("{m:?} is not a precommit for the decision"));
        }
        if !seen.insert(m.validator) {
            return Err(format!("{:?} counted twice", m.validator));
        }
        let Some(validator_power) = validators.power(m.validator) else {
            return Err(format!("{:?} is not a validator", m.validator));
        };
        if !verify(vote) {
            return Err(format!("bad signature on {m:?}"));
        }
        power = power.saturating_add(validator_power);
    }
    if validators.is_quorum(power) {
        Ok(())
    } else {
        Err(format!(
            "power {power} of {} is not more than two thirds",
            validators.total_power()
        ))
    }
}
