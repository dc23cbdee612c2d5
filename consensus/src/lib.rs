//! Tendermint BFT consensus as a pure, deterministic state machine (sans-IO).
//!
//! This crate implements Algorithm 1 of "The latest gossip on BFT consensus" (Buchman,
//! Kwon, Milosevic, arXiv:1807.04938) for validators with voting power. It is safe
//! while the validators that deviate from the protocol hold less than one third of the
//! power, and live once the network delivers messages within a bound. It does no I/O and
//! reads no clock or randomness: a [`Machine`] turns each [`Input`] into a list of
//! [`Output`]s, so the same inputs always give the same outputs.
//!
//! It is generic over the value agreed on (`V`, the node uses a block hash) and over an
//! opaque signature (`S`). It never verifies a signature: the node does that before it
//! feeds a message in, and the machine only carries signatures into commit certificates
//! and evidence.
//!
//! # The algorithm, with the paper's line numbers
//!
//! A height runs rounds `0, 1, 2, ...`; each round has a proposer (a pure function of
//! (height, round), weighted by power: [`ValidatorSet::proposer`]) and three steps.
//! "Quorum" means more than two thirds of the power (the paper's `2f + 1`), "a third"
//! more than one third (`f + 1`).
//!
//! - **L11 `StartRound(r)`**: step propose. The proposer proposes its valid value with
//!   its valid round (L15-16) or asks the application for a value (L18,
//!   [`Output::RequestValue`]); everyone schedules the propose timer (L21).
//! - **L22** a proposal `v` with valid round -1, in step propose: prevote `v` if
//!   `valid(v)` and unlocked or locked on `v`, else nil.
//! - **L28** a proposal `v` with valid round `vr < round` and a prevote quorum for `v`
//!   at `vr`, in step propose: prevote `v` if `valid(v)` and (`lockedRound <= vr` or
//!   locked on `v`), else nil.
//! - **L34** a prevote quorum for anything, in step prevote, first time: schedule the
//!   prevote timer.
//! - **L36** the proposal `v` and a prevote quorum for `v`, `valid(v)`, step at least
//!   prevote, first time: if in prevote, lock on `v` and precommit `v`; in any case
//!   `validValue = v`, `validRound = round`.
//! - **L44** a prevote quorum for nil, in step prevote: precommit nil.
//! - **L47** a precommit quorum for anything, first time: schedule the precommit timer.
//! - **L49** the proposal `v` of any round `r` and a precommit quorum for `v` at `r`,
//!   `valid(v)`, not yet decided: decide `v` ([`Output::Decide`], with the precommits as
//!   commit certificate).
//! - **L55** more than a third of the power in a higher round: start that round.
//! - **L57 / L61 / L65** timers: propose timer in step propose → prevote nil; prevote
//!   timer in step prevote → precommit nil; precommit timer → start the next round.
//!
//! Deviations, all deliberate: after deciding, the machine waits for
//! [`Input::StartHeight`] instead of starting the next height itself (L52-54), so the
//! node commits first; the proposer also schedules its propose timer, because its value
//! arrives asynchronously; and L55 counts each validator's highest round seen (see
//! the `round` module).
//!
//! Two conflicting signed votes of one kind, or proposals, for one (height, round) from
//! one validator become [`Output::Evidence`]. The second vote still counts for its own
//! value (never twice towards "any value" totals), so that validators hearing an
//! equivocator's votes in different orders tally alike; the `votes` module explains why
//! that is safe.
//!
//! # Driving the machine
//!
//! 1. Build it with [`Machine::new`] (or [`Machine::restore`] after a crash) and feed
//!    [`Input::StartHeight`].
//! 2. Feed every message whose signature verified ([`Input::Proposal`], [`Input::Vote`]),
//!    including this validator's own once signed, every elapsed timer, and the
//!    application's answers ([`Input::ValidityChecked`], [`Input::ValueToPropose`]).
//! 3. Execute the outputs in order: [`Output::SignAndBroadcast`] (see below),
//!    [`Output::ScheduleTimeout`], [`Output::RequestValue`], [`Output::CheckValidity`],
//!    [`Output::Evidence`], and [`Output::Decide`]: commit the value with its certificate,
//!    then feed `StartHeight { height + 1 }`.
//! 4. Rebroadcast this validator's signed messages of the current height from time to
//!    time (the paper assumes gossip eventually delivers every message), and catch up a
//!    validator that is behind by handing it later decisions with their certificates
//!    (block sync), then `StartHeight` above them.
//!
//! # What the node must persist, and when (the restart contract)
//!
//! The write-ahead log (WAL) is the list of messages the machine asked to sign:
//!
//! - On [`Output::SignAndBroadcast`]`(message)`: append `message` to the WAL and flush,
//!   *then* sign it, broadcast it and feed it back. A crash between the flush and the
//!   broadcast is harmless: the message is sent again after the restart.
//! - Nothing else needs persisting for safety. The lock (`lockedValue`, `lockedRound`)
//!   changes only at L38-40, together with a precommit for the locked value, so it is the
//!   highest-round non-nil precommit in the WAL; the valid value is at least as recent,
//!   and proposals carrying a valid round record it too. Votes received are not needed:
//!   peers send them again.
//! - For liveness only: also append the proposals and votes received at the current
//!   height to the same WAL, without a flush of their own (as CometBFT does); the flush
//!   before each signature then makes them durable too, so the prevote quorum that
//!   justified a lock survives with the lock. After a restart, feed them back, and the
//!   WAL's own signed messages of the height too, and keep serving them to peers: a
//!   quorum this validator saw (perhaps including Byzantine votes no one else kept) must
//!   not vanish from the network, or validators locked on a value can wait forever for
//!   proof of it (the simulator found exactly that).
//! - The decided values with their certificates are the node's block store, committed
//!   before `StartHeight` of the next height. WAL records of heights below the newest
//!   may then be pruned.
//!
//! After a crash: `Machine::restore(config, wal)`, then `StartHeight` with the height
//! after the last committed one. If that is the WAL's height, the machine resumes the
//! round and step it was in, with its lock, and re-sends what it signed there; in any
//! case it never signs a second, different message for a (height, round, slot) already
//! in the WAL (it re-sends the first instead). Deterministic signatures (ed25519) make
//! the re-sent bytes identical.
//!
//! # Bounds
//!
//! The log keeps one height. Per round it holds at most
//! [`Limits::conflicting_messages_per_slot_max`] different proposals, and votes per
//! validator and kind (one, unless the sender equivocates); rounds more than [`Limits::rounds_ahead_max`] ahead are not
//! stored (but count for L55); at most [`Limits::next_height_msgs_per_validator_max`]
//! messages per validator are kept for the next height.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod machine;
mod round;
pub mod timeouts;
pub mod types;
pub mod validators;
mod votes;

#[cfg(feature = "sim")]
pub mod sim;

pub use machine::Mutants;
pub use machine::{Config, Limits, Machine};
pub use timeouts::TimeoutParams;
pub use types::{
    Decision, Evidence, Height, Input, Message, Output, Proposal, Round, Signature, Signed, Slot,
    Step, TimeoutKind, ValidatorIndex, Value, Vote, VoteKind,
};
pub use validators::{ValidatorSet, ValidatorSetError};
