//! Timeout durations: arithmetic only. A timer grows linearly with the round
//! (`base + round * delta`), so that after the network stabilises the timers eventually
//! exceed the message delay and rounds succeed (the paper's liveness argument).
//!
//! This module schedules nothing and reads no clock: the machine emits
//! [`crate::Output::ScheduleTimeout`] with a duration from here, and the node feeds
//! [`crate::Input::TimeoutElapsed`] back when it expires.

use crate::types::{Round, TimeoutKind};

/// Timeout parameters, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutParams {
    /// `timeoutPropose(0)`.
    pub timeout_propose_ms: u64,
    /// Added to the propose timeout per round.
    pub timeout_propose_delta_ms: u64,
    /// `timeoutPrevote(0)`.
    pub timeout_prevote_ms: u64,
    /// Added to the prevote timeout per round.
    pub timeout_prevote_delta_ms: u64,
    /// `timeoutPrecommit(0)`.
    pub timeout_precommit_ms: u64,
    /// Added to the precommit timeout per round.
    pub timeout_precommit_delta_ms: u64,
}

impl Default for TimeoutParams {
    /// CometBFT's defaults: 3 s propose, 1 s prevote and precommit, +0.5 s per round.
    fn default() -> Self {
        TimeoutParams {
            timeout_propose_ms: 3000,
            timeout_propose_delta_ms: 500,
            timeout_prevote_ms: 1000,
            timeout_prevote_delta_ms: 500,
            timeout_precommit_ms: 1000,
            timeout_precommit_delta_ms: 500,
        }
    }
}

impl TimeoutParams {
    /// The duration of timer `kind` in `round`, saturating instead of overflowing.
    pub fn duration_ms(&self, kind: TimeoutKind, round: Round) -> u64 {
        let (base, delta) = match kind {
            TimeoutKind::Propose => (self.timeout_propose_ms, self.timeout_propose_delta_ms),
            TimeoutKind::Prevote => (self.timeout_prevote_ms, self.timeout_prevote_delta_ms),
            TimeoutKind::Precommit => (self.timeout_precommit_ms, self.timeout_precommit_delta_ms),
        };
        base.saturating_add(delta.saturating_mul(u64::from(round.0)))
    }
}
