//! Step tests: one table per rule of Algorithm 1 (paper line numbers), each row a
//! (description, validator, inputs given, input, exact outputs expected) with the lock
//! and valid value after it where they matter.
//!
//! Four validators of power 1 at height 1, so a quorum is 3 and a third-plus is 2; the
//! proposer of (1, r) is validator (1 + r) mod 4. Signatures are the signer's index
//! times 1000 (the machine never looks at them).

use clearhouse_consensus::{
    Config, Decision, Evidence, Height, Input, Machine, Message, Output, Proposal, Round, Signed,
    Step, TimeoutKind, ValidatorIndex, ValidatorSet, Vote, VoteKind,
};

type M = Machine<u64, u64>;
type In = Input<u64, u64>;
type Out = Output<u64, u64>;

const H: Height = Height(1);

fn config(me: u32) -> Config {
    Config::new(ValidatorSet::equal(4).unwrap(), Some(ValidatorIndex(me)))
}

fn vote_msg(kind: VoteKind, validator: u32, round: u32, value: Option<u64>) -> Vote<u64> {
    Vote {
        height: H,
        round: Round(round),
        kind,
        value,
        validator: ValidatorIndex(validator),
    }
}

fn signed_vote(
    kind: VoteKind,
    validator: u32,
    round: u32,
    value: Option<u64>,
) -> Signed<Vote<u64>, u64> {
    Signed {
        message: vote_msg(kind, validator, round, value),
        signature: u64::from(validator) * 1000,
    }
}

fn prevote(validator: u32, round: u32, value: Option<u64>) -> In {
    Input::Vote(signed_vote(VoteKind::Prevote, validator, round, value))
}

fn precommit(validator: u32, round: u32, value: Option<u64>) -> In {
    Input::Vote(signed_vote(VoteKind::Precommit, validator, round, value))
}

fn proposal_msg(proposer: u32, round: u32, value: u64, valid_round: Option<u32>) -> Proposal<u64> {
    Proposal {
        height: H,
        round: Round(round),
        value,
        valid_round: valid_round.map(Round),
        proposer: ValidatorIndex(proposer),
    }
}

fn proposal(proposer: u32, round: u32, value: u64, valid_round: Option<u32>) -> In {
    Input::Proposal(Signed {
        message: proposal_msg(proposer, round, value, valid_round),
        signature: u64::from(proposer) * 1000,
    })
}

fn valid(value: u64, valid: bool) -> In {
    Input::ValidityChecked {
        height: H,
        value,
        valid,
    }
}

fn timeout(kind: TimeoutKind, round: u32) -> In {
    Input::TimeoutElapsed {
        height: H,
        round: Round(round),
        kind,
    }
}

fn start() -> In {
    Input::StartHeight { height: H }
}

fn sends_prevote(me: u32, round: u32, value: Option<u64>) -> Out {
    Output::SignAndBroadcast(Message::Vote(vote_msg(VoteKind::Prevote, me, round, value)))
}

fn sends_precommit(me: u32, round: u32, value: Option<u64>) -> Out {
    Output::SignAndBroadcast(Message::Vote(vote_msg(
        VoteKind::Precommit,
        me,
        round,
        value,
    )))
}

fn sends_proposal(me: u32, round: u32, value: u64, valid_round: Option<u32>) -> Out {
    Output::SignAndBroadcast(Message::Proposal(proposal_msg(
        me,
        round,
        value,
        valid_round,
    )))
}

fn schedules(kind: TimeoutKind, round: u32) -> Out {
    let duration_ms =
        clearhouse_consensus::TimeoutParams::default().duration_ms(kind, Round(round));
    Output::ScheduleTimeout {
        height: H,
        round: Round(round),
        kind,
        duration_ms,
    }
}

fn asks_validity(value: u64) -> Out {
    Output::CheckValidity { height: H, value }
}

/// Inputs that make validator `me` (not the proposer) lock on `value` in `round`, from
/// step propose of that round: the proposal, its validity, and prevotes of the others.
fn lock_on(me: u32, round: u32, value: u64, validity_known: bool) -> Vec<In> {
    let proposer = (1 + round) % 4;
    let mut inputs = vec![proposal(proposer, round, value, None)];
    if !validity_known {
        inputs.push(valid(value, true));
    }
    inputs.extend(
        (0..4)
            .filter(|v| *v != me)
            .map(|v| prevote(v, round, Some(value))),
    );
    inputs
}

/// A (round, value) pair such as the lock, `None` for (-1, nil).
type RoundValue = Option<(u32, u64)>;

/// One row of a step table.
struct Case {
    what: &'static str,
    me: u32,
    given: Vec<In>,
    when: In,
    then: Vec<Out>,
    /// `(lockedRound, lockedValue)` and `(validRound, validValue)` after `when`, if checked.
    state: Option<(RoundValue, RoundValue)>,
}

fn case(what: &'static str, me: u32, given: Vec<In>, when: In, then: Vec<Out>) -> Case {
    Case {
        what,
        me,
        given,
        when,
        then,
        state: None,
    }
}

fn run(machine: &mut M, given: Vec<In>) {
    for input in given {
        machine.on(input);
    }
}

/// Feeds `start()` and `given` to a fresh machine, then `when`, and compares outputs.
fn check(cases: Vec<Case>) {
    for c in cases {
        let mut machine = M::new(config(c.me));
        run(
            &mut machine,
            std::iter::once(start()).chain(c.given).collect(),
        );
        let outputs = machine.on(c.when);
        assert_eq!(outputs, c.then, "{}", c.what);
        if let Some((locked, valid)) = c.state {
            let as_pair = |x: Option<&(Round, u64)>| x.map(|(r, v)| (r.0, *v));
            assert_eq!(as_pair(machine.locked()), locked, "{}: lock", c.what);
            assert_eq!(as_pair(machine.valid()), valid, "{}: valid value", c.what);
        }
    }
}

#[test]
fn l11_start_round() {
    check(vec![
        Case {
            what: "the proposer without a valid value asks for one and schedules the propose timer",
            me: 2,
            given: vec![],
            when: Input::StartHeight { height: Height(2) },
            then: vec![
                Output::RequestValue {
                    height: Height(2),
                    round: Round(0),
                },
                Output::ScheduleTimeout {
                    height: Height(2),
                    round: Round(0),
                    kind: TimeoutKind::Propose,
                    duration_ms: 3000,
                },
            ],
            state: None,
        },
        case(
            "a non-proposer schedules the propose timer (L21)",
            0,
            vec![],
            Input::StartHeight { height: Height(2) },
            vec![Output::ScheduleTimeout {
                height: Height(2),
                round: Round(0),
                kind: TimeoutKind::Propose,
                duration_ms: 3000,
            }],
        ),
        case(
            "getValue() answered: the proposer broadcasts the proposal with valid round -1 (L18-19)",
            1,
            vec![],
            Input::ValueToPropose {
                height: H,
                round: Round(0),
                value: 10,
            },
            vec![sends_proposal(1, 0, 10, None)],
        ),
        case(
            "a value for another round is not proposed",
            1,
            vec![],
            Input::ValueToPropose {
                height: H,
                round: Round(1),
                value: 10,
            },
            vec![],
        ),
        case(
            "a non-proposer never proposes",
            0,
            vec![],
            Input::ValueToPropose {
                height: H,
                round: Round(0),
                value: 10,
            },
            vec![],
        ),
        case(
            "the proposer re-proposes its valid value with its valid round (L15-16)",
            2,
            lock_on(2, 0, 10, false),
            timeout(TimeoutKind::Precommit, 0),
            vec![
                sends_proposal(2, 1, 10, Some(0)),
                schedules(TimeoutKind::Propose, 1),
            ],
        ),
        case(
            "timers grow with the round",
            1,
            vec![
                timeout(TimeoutKind::Precommit, 0),
                timeout(TimeoutKind::Precommit, 1),
            ],
            timeout(TimeoutKind::Precommit, 2),
            vec![Output::ScheduleTimeout {
                height: H,
                round: Round(3),
                kind: TimeoutKind::Propose,
                duration_ms: 4500,
            }],
        ),
    ]);
}

#[test]
fn l22_proposal_without_valid_round() {
    check(vec![
        case(
            "an unknown value is checked first",
            0,
            vec![],
            proposal(1, 0, 10, None),
            vec![asks_validity(10)],
        ),
        case(
            "valid and unlocked: prevote v (L24)",
            0,
            vec![proposal(1, 0, 10, None)],
            valid(10, true),
            vec![sends_prevote(0, 0, Some(10))],
        ),
        case(
            "invalid: prevote nil (L26)",
            0,
            vec![proposal(1, 0, 10, None)],
            valid(10, false),
            vec![sends_prevote(0, 0, None)],
        ),
        case(
            "locked on another value: prevote nil (L26)",
            0,
            [
                lock_on(0, 0, 10, false),
                vec![timeout(TimeoutKind::Precommit, 0), proposal(2, 1, 20, None)],
            ]
            .concat(),
            valid(20, true),
            vec![sends_prevote(0, 1, None)],
        ),
        case(
            "locked on the same value: prevote v (L24)",
            0,
            [
                lock_on(0, 0, 10, false),
                vec![timeout(TimeoutKind::Precommit, 0)],
            ]
            .concat(),
            proposal(2, 1, 10, None),
            vec![sends_prevote(0, 1, Some(10))],
        ),
        case(
            "a proposal from a non-proposer is ignored",
            0,
            vec![],
            proposal(2, 0, 10, None),
            vec![],
        ),
        case(
            "a proposal arriving after step propose does nothing",
            0,
            vec![timeout(TimeoutKind::Propose, 0)],
            proposal(1, 0, 10, None),
            vec![],
        ),
    ]);
}

#[test]
fn l28_proposal_with_valid_round() {
    // Validator 0 locks on 20 in round 0; round 1 sees a prevote quorum for 10 (from the
    // others) while validator 0 already left for precommit; round 2's proposer (3)
    // re-proposes 10 with valid round 1.
    let locked_r0_quorum_r1 = [
        lock_on(0, 0, 20, false),
        vec![
            timeout(TimeoutKind::Precommit, 0),
            proposal(2, 1, 10, None),
            valid(10, true),
            // Validator 0 prevoted nil (locked on 20) and leaves for precommit.
            timeout(TimeoutKind::Prevote, 1),
            prevote(1, 1, Some(10)),
            prevote(2, 1, Some(10)),
            prevote(3, 1, Some(10)),
            timeout(TimeoutKind::Precommit, 1),
        ],
    ]
    .concat();
    check(vec![
        Case {
            what: "lockedRound <= vr: prevote v (L29-30)",
            me: 0,
            given: locked_r0_quorum_r1.clone(),
            when: proposal(3, 2, 10, Some(1)),
            then: vec![sends_prevote(0, 2, Some(10))],
            state: Some((Some((0, 20)), Some((1, 10)))),
        },
        case(
            "no prevote quorum at vr: wait",
            0,
            [
                lock_on(0, 0, 20, false),
                vec![
                    timeout(TimeoutKind::Precommit, 0),
                    timeout(TimeoutKind::Precommit, 1),
                ],
            ]
            .concat(),
            proposal(3, 2, 10, Some(1)),
            vec![],
        ),
        case(
            "lockedRound > vr and another value: prevote nil (L32)",
            0,
            [
                // Round 0: the others prevote 10, validator 0 does not see the proposal.
                vec![
                    prevote(1, 0, Some(10)),
                    prevote(2, 0, Some(10)),
                    prevote(3, 0, Some(10)),
                ],
                vec![
                    timeout(TimeoutKind::Propose, 0),
                    timeout(TimeoutKind::Precommit, 0),
                ],
                // Round 1: validator 0 locks on 20.
                lock_on(0, 1, 20, false),
                vec![
                    timeout(TimeoutKind::Precommit, 1),
                    proposal(3, 2, 10, Some(0)),
                ],
            ]
            .concat(),
            valid(10, true),
            vec![sends_prevote(0, 2, None)],
        ),
        case(
            "locked on the same value, even after vr: prevote v (L29)",
            0,
            [
                vec![
                    prevote(1, 0, Some(10)),
                    prevote(2, 0, Some(10)),
                    prevote(3, 0, Some(10)),
                ],
                vec![
                    timeout(TimeoutKind::Propose, 0),
                    timeout(TimeoutKind::Precommit, 0),
                ],
                lock_on(0, 1, 10, false),
                vec![timeout(TimeoutKind::Precommit, 1)],
            ]
            .concat(),
            proposal(3, 2, 10, Some(0)),
            vec![sends_prevote(0, 2, Some(10))],
        ),
        case(
            "invalid value: prevote nil (L32)",
            0,
            [
                vec![
                    prevote(1, 0, Some(10)),
                    prevote(2, 0, Some(10)),
                    prevote(3, 0, Some(10)),
                ],
                vec![
                    timeout(TimeoutKind::Propose, 0),
                    timeout(TimeoutKind::Precommit, 0),
                ],
                vec![
                    timeout(TimeoutKind::Precommit, 1),
                    proposal(3, 2, 10, Some(0)),
                ],
            ]
            .concat(),
            valid(10, false),
            vec![sends_prevote(0, 2, None)],
        ),
    ]);
}

#[test]
fn l34_prevote_quorum_for_anything() {
    let prevoted = vec![proposal(1, 0, 10, None), valid(10, true)];
    check(vec![
        case(
            "a quorum of mixed prevotes in step prevote schedules the prevote timer (L35)",
            0,
            [
                prevoted.clone(),
                vec![prevote(1, 0, Some(10)), prevote(2, 0, None)],
            ]
            .concat(),
            prevote(3, 0, Some(20)),
            vec![schedules(TimeoutKind::Prevote, 0)],
        ),
        case(
            "only the first time",
            0,
            [
                prevoted.clone(),
                vec![
                    prevote(1, 0, Some(10)),
                    prevote(2, 0, None),
                    prevote(3, 0, Some(20)),
                ],
            ]
            .concat(),
            prevote(0, 0, Some(10)),
            vec![],
        ),
        case(
            "two votes are not a quorum",
            0,
            [prevoted.clone(), vec![prevote(1, 0, Some(10))]].concat(),
            prevote(2, 0, None),
            vec![],
        ),
        case(
            "not in step propose",
            0,
            vec![prevote(1, 0, Some(10)), prevote(2, 0, None)],
            prevote(3, 0, Some(20)),
            vec![],
        ),
    ]);
}

#[test]
fn l36_proposal_and_prevote_quorum() {
    check(vec![
        Case {
            what: "in step prevote: lock, precommit v, set the valid value (L37-43)",
            me: 0,
            given: vec![
                proposal(1, 0, 10, None),
                valid(10, true),
                prevote(1, 0, Some(10)),
                prevote(2, 0, Some(10)),
            ],
            when: prevote(3, 0, Some(10)),
            then: vec![
                schedules(TimeoutKind::Prevote, 0),
                sends_precommit(0, 0, Some(10)),
            ],
            state: Some((Some((0, 10)), Some((0, 10)))),
        },
        Case {
            what: "in step precommit: only the valid value changes (L42-43)",
            me: 0,
            given: vec![
                proposal(1, 0, 10, None),
                valid(10, true),
                prevote(1, 0, Some(10)),
                prevote(2, 0, Some(10)),
                timeout(TimeoutKind::Prevote, 0),
            ],
            when: prevote(3, 0, Some(10)),
            then: vec![],
            state: Some((None, Some((0, 10)))),
        },
        Case {
            what: "the quorum without the proposal: no lock",
            me: 0,
            given: vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, Some(10)),
                prevote(2, 0, Some(10)),
            ],
            when: prevote(3, 0, Some(10)),
            then: vec![schedules(TimeoutKind::Prevote, 0)],
            state: Some((None, None)),
        },
        Case {
            what: "the proposal arriving last completes the rule",
            me: 0,
            given: vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, Some(10)),
                prevote(2, 0, Some(10)),
                prevote(3, 0, Some(10)),
            ],
            when: proposal(1, 0, 10, None),
            then: vec![asks_validity(10)],
            state: Some((None, None)),
        },
        Case {
            what: "...once valid(v) is known",
            me: 0,
            given: vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, Some(10)),
                prevote(2, 0, Some(10)),
                prevote(3, 0, Some(10)),
                proposal(1, 0, 10, None),
            ],
            when: valid(10, true),
            then: vec![sends_precommit(0, 0, Some(10))],
            state: Some((Some((0, 10)), Some((0, 10)))),
        },
        Case {
            what: "an invalid value is never locked",
            me: 0,
            given: vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, Some(10)),
                prevote(2, 0, Some(10)),
                prevote(3, 0, Some(10)),
                proposal(1, 0, 10, None),
            ],
            when: valid(10, false),
            then: vec![],
            state: Some((None, None)),
        },
    ]);
}

#[test]
fn l44_prevote_quorum_for_nil() {
    check(vec![
        case(
            "a nil quorum in step prevote: precommit nil (L45-46)",
            0,
            vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, None),
                prevote(2, 0, None),
            ],
            prevote(3, 0, None),
            vec![
                schedules(TimeoutKind::Prevote, 0),
                sends_precommit(0, 0, None),
            ],
        ),
        case(
            "a nil quorum in step propose does nothing",
            0,
            vec![prevote(1, 0, None), prevote(2, 0, None)],
            prevote(3, 0, None),
            vec![],
        ),
        case(
            "an equivocator's second vote is evidence and counts for its own value only",
            0,
            vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, None),
                prevote(2, 0, Some(10)),
            ],
            prevote(2, 0, None),
            vec![Output::Evidence(Evidence::ConflictingVotes {
                first: signed_vote(VoteKind::Prevote, 2, 0, Some(10)),
                second: signed_vote(VoteKind::Prevote, 2, 0, None),
            })],
        ),
        case(
            "...so a nil quorum that includes it is reached whatever the arrival order",
            0,
            vec![
                timeout(TimeoutKind::Propose, 0),
                prevote(1, 0, None),
                prevote(2, 0, Some(10)),
                prevote(3, 0, None),
            ],
            prevote(2, 0, None),
            vec![
                Output::Evidence(Evidence::ConflictingVotes {
                    first: signed_vote(VoteKind::Prevote, 2, 0, Some(10)),
                    second: signed_vote(VoteKind::Prevote, 2, 0, None),
                }),
                sends_precommit(0, 0, None),
            ],
        ),
    ]);
}

#[test]
fn l47_precommit_quorum_for_anything() {
    check(vec![
        case(
            "a quorum of mixed precommits schedules the precommit timer (L48), in any step",
            0,
            vec![precommit(1, 0, Some(10)), precommit(2, 0, None)],
            precommit(3, 0, Some(20)),
            vec![schedules(TimeoutKind::Precommit, 0)],
        ),
        case(
            "only the first time",
            0,
            vec![
                precommit(1, 0, Some(10)),
                precommit(2, 0, None),
                precommit(3, 0, Some(20)),
            ],
            precommit(0, 0, None),
            vec![],
        ),
        case(
            "precommits of another round do not count",
            0,
            vec![precommit(1, 0, Some(10)), precommit(2, 0, None)],
            precommit(3, 1, Some(20)),
            vec![],
        ),
    ]);
}

#[test]
fn l49_decide() {
    let decision = |round: u32, voters: &[u32]| {
        Output::Decide(Decision {
            height: H,
            round: Round(round),
            value: 10,
            certificate: voters
                .iter()
                .map(|v| signed_vote(VoteKind::Precommit, *v, round, Some(10)))
                .collect(),
        })
    };
    check(vec![
        case(
            "the proposal and a precommit quorum for it: decide with the precommits as certificate (L51)",
            0,
            vec![
                proposal(1, 0, 10, None),
                valid(10, true),
                precommit(1, 0, Some(10)),
                precommit(3, 0, Some(10)),
            ],
            precommit(2, 0, Some(10)),
            vec![decision(0, &[1, 2, 3])],
        ),
        case(
            "a decision in an earlier round, in any step",
            0,
            vec![
                proposal(1, 0, 10, None),
                valid(10, true),
                timeout(TimeoutKind::Precommit, 0),
                timeout(TimeoutKind::Precommit, 1),
                precommit(1, 0, Some(10)),
                precommit(2, 0, Some(10)),
            ],
            precommit(3, 0, Some(10)),
            vec![decision(0, &[1, 2, 3])],
        ),
        case(
            "the certificate comes before the proposal",
            0,
            vec![
                precommit(1, 0, Some(10)),
                precommit(2, 0, Some(10)),
                precommit(3, 0, Some(10)),
            ],
            proposal(1, 0, 10, None),
            vec![asks_validity(10)],
        ),
        case(
            "...and valid(v) completes it (L50)",
            0,
            vec![
                precommit(1, 0, Some(10)),
                precommit(2, 0, Some(10)),
                precommit(3, 0, Some(10)),
                proposal(1, 0, 10, None),
            ],
            valid(10, true),
            vec![decision(0, &[1, 2, 3])],
        ),
        case(
            "an invalid value is never decided",
            0,
            vec![
                precommit(1, 0, Some(10)),
                precommit(2, 0, Some(10)),
                precommit(3, 0, Some(10)),
                proposal(1, 0, 10, None),
            ],
            valid(10, false),
            vec![sends_prevote(0, 0, None)],
        ),
        case(
            "two precommits are not a certificate",
            0,
            vec![
                proposal(1, 0, 10, None),
                valid(10, true),
                precommit(1, 0, Some(10)),
            ],
            precommit(2, 0, Some(10)),
            vec![],
        ),
        case(
            "after deciding, the height is over: inputs of it are ignored",
            0,
            vec![
                proposal(1, 0, 10, None),
                valid(10, true),
                precommit(1, 0, Some(10)),
                precommit(2, 0, Some(10)),
                precommit(3, 0, Some(10)),
            ],
            timeout(TimeoutKind::Propose, 0),
            vec![],
        ),
    ]);
}

#[test]
fn l55_round_skip() {
    check(vec![
        case(
            "more than a third of the power in a higher round: start it (L56)",
            1,
            vec![prevote(2, 3, None)],
            precommit(3, 3, None),
            vec![schedules(TimeoutKind::Propose, 3)],
        ),
        case(
            "one validator ahead is not enough",
            1,
            vec![],
            prevote(2, 3, None),
            vec![],
        ),
        case(
            "a proposal counts as a message of its round",
            2,
            vec![prevote(1, 3, None)],
            proposal(0, 3, 10, None),
            vec![schedules(TimeoutKind::Propose, 3), asks_validity(10)],
        ),
        case(
            "rounds far beyond the stored window still count",
            1,
            vec![prevote(2, 1000, None)],
            prevote(3, 900, None),
            vec![
                Output::RequestValue {
                    height: H,
                    round: Round(900),
                },
                schedules(TimeoutKind::Propose, 900),
            ],
        ),
    ]);
}

#[test]
fn l57_timeout_propose() {
    check(vec![
        case(
            "in step propose: prevote nil (L59-60)",
            0,
            vec![],
            timeout(TimeoutKind::Propose, 0),
            vec![sends_prevote(0, 0, None)],
        ),
        case(
            "a timer of another round is stale",
            0,
            vec![],
            timeout(TimeoutKind::Propose, 1),
            vec![],
        ),
        case(
            "after prevoting it does nothing",
            0,
            vec![proposal(1, 0, 10, None), valid(10, true)],
            timeout(TimeoutKind::Propose, 0),
            vec![],
        ),
    ]);
}

#[test]
fn l61_timeout_prevote() {
    check(vec![
        case(
            "in step prevote: precommit nil (L63-64)",
            0,
            vec![timeout(TimeoutKind::Propose, 0)],
            timeout(TimeoutKind::Prevote, 0),
            vec![sends_precommit(0, 0, None)],
        ),
        case(
            "in step propose it does nothing",
            0,
            vec![],
            timeout(TimeoutKind::Prevote, 0),
            vec![],
        ),
        case(
            "a timer of another height is stale",
            0,
            vec![timeout(TimeoutKind::Propose, 0)],
            Input::TimeoutElapsed {
                height: Height(2),
                round: Round(0),
                kind: TimeoutKind::Prevote,
            },
            vec![],
        ),
    ]);
}

#[test]
fn l65_timeout_precommit() {
    check(vec![
        case(
            "start the next round (L67)",
            0,
            vec![],
            timeout(TimeoutKind::Precommit, 0),
            vec![schedules(TimeoutKind::Propose, 1)],
        ),
        case(
            "...as its proposer",
            2,
            vec![],
            timeout(TimeoutKind::Precommit, 0),
            vec![
                Output::RequestValue {
                    height: H,
                    round: Round(1),
                },
                schedules(TimeoutKind::Propose, 1),
            ],
        ),
        case(
            "a timer of another round is stale",
            0,
            vec![],
            timeout(TimeoutKind::Precommit, 3),
            vec![],
        ),
    ]);
}

#[test]
fn equivocation_becomes_evidence() {
    check(vec![
        case(
            "two different precommits",
            0,
            vec![precommit(3, 2, Some(10))],
            precommit(3, 2, Some(11)),
            vec![Output::Evidence(Evidence::ConflictingVotes {
                first: signed_vote(VoteKind::Precommit, 3, 2, Some(10)),
                second: signed_vote(VoteKind::Precommit, 3, 2, Some(11)),
            })],
        ),
        case(
            "an identical copy is a duplicate",
            0,
            vec![prevote(3, 0, Some(10))],
            prevote(3, 0, Some(10)),
            vec![],
        ),
        case(
            "a prevote and a precommit of one round do not conflict",
            0,
            vec![prevote(3, 0, Some(10))],
            precommit(3, 0, Some(11)),
            vec![],
        ),
        case(
            "two different proposals from the proposer",
            0,
            vec![proposal(1, 0, 10, None)],
            proposal(1, 0, 11, None),
            vec![Output::Evidence(Evidence::ConflictingProposals {
                first: Signed {
                    message: proposal_msg(1, 0, 10, None),
                    signature: 1000,
                },
                second: Signed {
                    message: proposal_msg(1, 0, 11, None),
                    signature: 1000,
                },
            })],
        ),
        case(
            "votes from unknown validators are ignored",
            0,
            vec![prevote(9, 0, Some(1))],
            prevote(9, 0, Some(2)),
            vec![],
        ),
    ]);
}

/// Feeds `inputs` to `machine` and collects what it asks to sign.
fn signed_by(machine: &mut M, inputs: Vec<In>) -> Vec<Message<u64>> {
    let mut signed = Vec::new();
    for input in inputs {
        for output in machine.on(input) {
            if let Output::SignAndBroadcast(message) = output {
                signed.push(message);
            }
        }
    }
    signed
}

#[test]
fn restart_from_the_wal_keeps_lock_round_and_signatures() {
    // Validator 0 locks on 10 in round 0, then moves to round 1 and prevotes nil there.
    let mut before = M::new(config(0));
    let wal = signed_by(
        &mut before,
        [
            vec![start()],
            lock_on(0, 0, 10, false),
            vec![
                timeout(TimeoutKind::Precommit, 0),
                timeout(TimeoutKind::Propose, 1),
            ],
        ]
        .concat(),
    );
    assert_eq!(
        wal.len(),
        3,
        "prevote 10, precommit 10, prevote nil: {wal:?}"
    );

    let mut after = M::restore(config(0), wal.clone());
    let outputs = after.on(start());
    assert_eq!(
        outputs,
        vec![
            schedules(TimeoutKind::Propose, 1),
            sends_prevote(0, 1, None)
        ],
        "resumes round 1, step prevote, re-sending its prevote"
    );
    assert_eq!((after.round(), after.step()), (Round(1), Step::Prevote));
    assert_eq!(
        after.locked(),
        Some(&(Round(0), 10)),
        "the lock comes from the WAL's precommit"
    );

    // Still locked: round 2's proposal of 20 gets a nil prevote.
    let outputs = after.on(timeout(TimeoutKind::Precommit, 1));
    assert_eq!(outputs, vec![schedules(TimeoutKind::Propose, 2)]);
    let outputs = after.on(proposal(3, 2, 20, None));
    assert_eq!(outputs, vec![asks_validity(20)]);
    assert_eq!(after.on(valid(20, true)), vec![sends_prevote(0, 2, None)]);

    // A conflicting message for a slot already signed is never produced: the timer of
    // round 1 cannot make it prevote again there.
    assert_eq!(after.on(timeout(TimeoutKind::Propose, 1)), vec![]);
}

#[test]
fn restart_never_signs_a_second_proposal() {
    let mut before = M::new(config(1));
    let wal = signed_by(
        &mut before,
        vec![
            start(),
            Input::ValueToPropose {
                height: H,
                round: Round(0),
                value: 10,
            },
        ],
    );
    assert_eq!(wal, vec![Message::Proposal(proposal_msg(1, 0, 10, None))]);
    let mut after = M::restore(config(1), wal);
    assert_eq!(
        after.on(start()),
        vec![
            sends_proposal(1, 0, 10, None),
            schedules(TimeoutKind::Propose, 0)
        ]
    );
    assert_eq!(
        after.on(Input::ValueToPropose {
            height: H,
            round: Round(0),
            value: 20
        }),
        vec![]
    );
}

#[test]
fn restart_into_a_later_height_starts_fresh() {
    let mut before = M::new(config(0));
    let wal = signed_by(
        &mut before,
        [vec![start()], lock_on(0, 0, 10, false)].concat(),
    );
    let mut after = M::restore(config(0), wal);
    let outputs = after.on(Input::StartHeight { height: Height(2) });
    assert_eq!(
        outputs,
        vec![Output::ScheduleTimeout {
            height: Height(2),
            round: Round(0),
            kind: TimeoutKind::Propose,
            duration_ms: 3000
        }]
    );
    assert_eq!(after.locked(), None);
}

#[test]
fn mutant_forgetting_the_lock_prevotes_against_it() {
    // The broken restart that the simulator must catch: with the lock forgotten, the
    // restored validator prevotes a value other than the one it is locked on.
    let mut before = M::new(config(0));
    let wal = signed_by(
        &mut before,
        [vec![start()], lock_on(0, 0, 10, false)].concat(),
    );
    let mut broken = config(0);
    broken.mutants.forget_lock_on_restore = true;
    for (config, expected) in [(config(0), None), (broken, Some(20))] {
        let mut after = M::restore(config, wal.clone());
        after.on(start());
        after.on(timeout(TimeoutKind::Precommit, 0));
        after.on(proposal(2, 1, 20, None));
        assert_eq!(
            after.on(valid(20, true)),
            vec![sends_prevote(0, 1, expected)]
        );
    }
}

#[test]
fn messages_for_the_next_height_wait_for_it() {
    let mut machine = M::new(config(0));
    run(&mut machine, vec![start()]);
    let next = |validator: u32| {
        Input::Vote(Signed {
            message: Vote {
                height: Height(2),
                round: Round(0),
                kind: VoteKind::Prevote,
                value: None,
                validator: ValidatorIndex(validator),
            },
            signature: 0,
        })
    };
    for v in 1..4 {
        assert_eq!(machine.on(next(v)), vec![]);
    }
    let outputs = machine.on(Input::StartHeight { height: Height(2) });
    assert_eq!(
        outputs,
        vec![Output::ScheduleTimeout {
            height: Height(2),
            round: Round(0),
            kind: TimeoutKind::Propose,
            duration_ms: 3000
        }],
        "the buffered prevotes are replayed, but validator 0 is still in step propose"
    );
    let outputs = machine.on(Input::TimeoutElapsed {
        height: Height(2),
        round: Round(0),
        kind: TimeoutKind::Propose,
    });
    assert_eq!(
        outputs.len(),
        3,
        "prevote nil, then the buffered nil quorum: timer and precommit nil: {outputs:?}"
    );
}

#[test]
fn proposer_rotation_is_weighted_by_power() {
    let set = ValidatorSet::new(vec![3, 1, 2]).unwrap();
    let mut counts = [0u32; 3];
    for round in 0..600 {
        counts[set.proposer(Height(7), Round(round)).0 as usize] += 1;
    }
    assert_eq!(counts, [300, 100, 200]);
    // Spread out, not in runs: validator 0 never proposes four rounds in a row.
    let run: Vec<u32> = (0..6)
        .map(|r| set.proposer(Height(0), Round(r)).0)
        .collect();
    assert!(
        run.windows(4).all(|w| !w.iter().all(|v| *v == 0)),
        "{run:?}"
    );
    assert!(ValidatorSet::new(vec![]).is_err());
    assert!(ValidatorSet::new(vec![1, 0]).is_err());
}
