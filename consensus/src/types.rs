//! The vocabulary of the protocol: heights, rounds, validators, messages, and the
//! [`Input`] / [`Output`] enums through which a node drives a [`crate::Machine`].
//!
//! This module holds plain data only. It does not count votes (see `votes`),
//! decide anything (see `round`) or compute durations (see [`crate::timeouts`]).

use std::fmt::Debug;
use std::hash::Hash;

/// What validators agree on (the node uses a block hash). Ordered so that every map the
/// machine keeps iterates deterministically.
pub trait Value: Clone + Eq + Ord + Hash + Debug {}
impl<T: Clone + Eq + Ord + Hash + Debug> Value for T {}

/// An opaque signature. The machine never verifies one: the node checks every signature
/// before it feeds a message in, and the machine only carries them into certificates and
/// evidence.
pub trait Signature: Clone + Eq + Debug {}
impl<T: Clone + Eq + Debug> Signature for T {}

/// A consensus instance: one decided value per height.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Height(pub u64);

impl Height {
    /// The following height, saturating at `u64::MAX` (never reached in practice).
    #[must_use]
    pub fn next(self) -> Height {
        Height(self.0.saturating_add(1))
    }
}

/// A round within a height. The paper's "nil round" (`-1`, used for `lockedRound`,
/// `validRound` and a proposal's `vr`) is `Option<Round>::None`, never a sentinel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Round(pub u32);

impl Round {
    /// The following round, saturating at `u32::MAX`.
    #[must_use]
    pub fn next(self) -> Round {
        Round(self.0.saturating_add(1))
    }
}

/// A validator's position in the [`crate::ValidatorSet`]. The node maps public keys to
/// indices; the machine only ever sees indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorIndex(pub u32);

/// The two kinds of vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VoteKind {
    /// First voting step of a round (paper: PREVOTE).
    Prevote,
    /// Second voting step of a round (paper: PRECOMMIT).
    Precommit,
}

/// The step of a round (paper: `step_p`). Ordered as in the paper, so that
/// `step >= Step::Prevote` reads like line 36.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Waiting for the round's proposal.
    Propose,
    /// Prevoted; waiting for prevotes.
    Prevote,
    /// Precommitted; waiting for precommits.
    Precommit,
}

/// Which timer elapsed. Each one carries the (height, round) it was scheduled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeoutKind {
    /// Paper: `OnTimeoutPropose` (line 57).
    Propose,
    /// Paper: `OnTimeoutPrevote` (line 61).
    Prevote,
    /// Paper: `OnTimeoutPrecommit` (line 65).
    Precommit,
}

/// A vote, unsigned. `value == None` is a vote for nil.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vote<V> {
    /// Height voted at.
    pub height: Height,
    /// Round voted at.
    pub round: Round,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The value voted for (`id(v)` in the paper), or nil.
    pub value: Option<V>,
    /// Who votes.
    pub validator: ValidatorIndex,
}

/// A proposal, unsigned (paper: `⟨PROPOSAL, h, r, v, vr⟩`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proposal<V> {
    /// Height proposed at.
    pub height: Height,
    /// Round proposed at.
    pub round: Round,
    /// The value proposed.
    pub value: V,
    /// The round in which the proposer saw a prevote quorum for `value` (paper: `vr`);
    /// `None` is the paper's `-1`.
    pub valid_round: Option<Round>,
    /// Who proposes; must be the proposer of (height, round) to be considered.
    pub proposer: ValidatorIndex,
}

/// A message a validator signs: the unit of the write-ahead log (see the crate docs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message<V> {
    /// A proposal.
    Proposal(Proposal<V>),
    /// A prevote or a precommit.
    Vote(Vote<V>),
}

/// Which signing slot a message occupies. An honest validator signs at most one message
/// per (height, round, slot) — promise S4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The proposal slot.
    Proposal,
    /// The prevote slot.
    Prevote,
    /// The precommit slot.
    Precommit,
}

impl<V> Message<V> {
    /// The height the message is for.
    pub fn height(&self) -> Height {
        match self {
            Message::Proposal(p) => p.height,
            Message::Vote(v) => v.height,
        }
    }

    /// The round the message is for.
    pub fn round(&self) -> Round {
        match self {
            Message::Proposal(p) => p.round,
            Message::Vote(v) => v.round,
        }
    }

    /// The validator that signs it.
    pub fn signer(&self) -> ValidatorIndex {
        match self {
            Message::Proposal(p) => p.proposer,
            Message::Vote(v) => v.validator,
        }
    }

    /// The signing slot it occupies.
    pub fn slot(&self) -> Slot {
        match self {
            Message::Proposal(_) => Slot::Proposal,
            Message::Vote(v) => match v.kind {
                VoteKind::Prevote => Slot::Prevote,
                VoteKind::Precommit => Slot::Precommit,
            },
        }
    }
}

/// A message together with its (opaque) signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signed<T, S> {
    /// The signed content.
    pub message: T,
    /// The signature over `message`, produced and verified by the node.
    pub signature: S,
}

/// A decision: the value decided at a height and its commit certificate, the
/// precommits for it from more than two thirds of the voting power.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decision<V, S> {
    /// The decided height.
    pub height: Height,
    /// The round whose precommits decided it.
    pub round: Round,
    /// The decided value.
    pub value: V,
    /// Precommits for `value` at (`height`, `round`), one per validator, ordered by
    /// validator index, holding more than two thirds of the voting power.
    pub certificate: Vec<Signed<Vote<V>, S>>,
}

/// Proof that a validator signed two conflicting messages for one (height, round, slot).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Evidence<V, S> {
    /// Two different votes of one kind, at one (height, round), from one validator.
    ConflictingVotes {
        /// The vote seen first.
        first: Signed<Vote<V>, S>,
        /// The conflicting vote.
        second: Signed<Vote<V>, S>,
    },
    /// Two different proposals for one (height, round) from its proposer.
    ConflictingProposals {
        /// The proposal seen first.
        first: Signed<Proposal<V>, S>,
        /// The conflicting proposal.
        second: Signed<Proposal<V>, S>,
    },
}

impl<V, S> Evidence<V, S> {
    /// The validator the evidence accuses.
    pub fn offender(&self) -> ValidatorIndex {
        match self {
            Evidence::ConflictingVotes { first, .. } => first.message.validator,
            Evidence::ConflictingProposals { first, .. } => first.message.proposer,
        }
    }
}

/// Everything that can happen to a validator, fed to [`crate::Machine::on`].
///
/// Messages must have valid signatures (the node checks them); anything else may be
/// arbitrary: stale, duplicated, for other heights, or from unknown validators. Such
/// inputs are ignored or become [`Output::Evidence`], never a panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<V, S> {
    /// Begin consensus at `height`: after the previous height's decision was committed,
    /// after a catch-up (block sync) to `height - 1`, or after a restart (see
    /// [`crate::Machine::restore`]). Ignored unless `height` is above the current height,
    /// or equal to it while the machine has not started it yet.
    StartHeight {
        /// The height to run.
        height: Height,
    },
    /// A signed proposal, including the validator's own (the node feeds back everything
    /// it signs).
    Proposal(Signed<Proposal<V>, S>),
    /// A signed prevote or precommit, including the validator's own.
    Vote(Signed<Vote<V>, S>),
    /// A timer scheduled by [`Output::ScheduleTimeout`] has elapsed.
    TimeoutElapsed {
        /// Height the timer was scheduled for.
        height: Height,
        /// Round the timer was scheduled for.
        round: Round,
        /// Which timer.
        kind: TimeoutKind,
    },
    /// The application's answer to [`Output::CheckValidity`] (paper: `valid(v)`).
    ValidityChecked {
        /// Height the value was proposed at.
        height: Height,
        /// The value judged.
        value: V,
        /// Whether the application accepts it.
        valid: bool,
    },
    /// The application's answer to [`Output::RequestValue`] (paper: `getValue()`).
    ValueToPropose {
        /// Height the value is for.
        height: Height,
        /// Round the value is for.
        round: Round,
        /// The value. The machine treats it as valid.
        value: V,
    },
}

/// What the machine asks the node to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<V, S> {
    /// Persist `message` to the write-ahead log and flush, then sign it, broadcast it,
    /// and feed the signed message back in as an [`Input`]. The order is the safety
    /// contract: see the crate docs.
    SignAndBroadcast(Message<V>),
    /// Feed `Input::TimeoutElapsed { height, round, kind }` in after `duration_ms`.
    ScheduleTimeout {
        /// Height of the timer.
        height: Height,
        /// Round of the timer.
        round: Round,
        /// Which timer.
        kind: TimeoutKind,
        /// How long to wait, in milliseconds.
        duration_ms: u64,
    },
    /// This validator proposes at (height, round): answer with
    /// [`Input::ValueToPropose`] (paper: `getValue()`).
    RequestValue {
        /// Height to propose at.
        height: Height,
        /// Round to propose at.
        round: Round,
    },
    /// Answer with [`Input::ValidityChecked`] whether `value` is valid at `height`
    /// (paper: `valid(v)`). Asked at most once per (height, value).
    CheckValidity {
        /// Height of the proposal.
        height: Height,
        /// The value to judge.
        value: V,
    },
    /// The height is decided; commit it, then feed `StartHeight { height + 1 }`.
    Decide(Decision<V, S>),
    /// A validator equivocated; record and gossip the evidence.
    Evidence(Evidence<V, S>),
}
