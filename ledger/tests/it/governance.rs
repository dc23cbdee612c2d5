//! Governance, scenario by scenario (`state::governance`): proposals pass
//! with more than two thirds of the power and take effect exactly at their
//! activation height, fail, expire, or no longer fit when due; members
//! join, are suspended, reinstated and removed, changing the validator set
//! the headers commit to; and every bad proposal or vote is a typed
//! rejection that changes nothing.

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::state::governance::{
    Action, Agenda, GovernanceParams, MemberStatus, NewMember, ParamChange, Proposal,
    ProposalStatus, VALIDATORS_MIN,
};
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::state::{
    AccountState, AssetState, BlockOutcome, FeeRule, Member, Outcome, Params, RejectReason,
    Signatures, StateKey, StateView, propose_block, read, read_members, validator_set,
};
use clearhouse_ledger::testing::{Fixture, key};
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{AccountId, Amount, AssetCode, Body, Hash, MemberId, Transaction};

use crate::fixture::assert_conserved;

/// Four banks of power 10 (bank i issues CNY, USD, EUR, JPY), eight
/// customers; the default activation offset (10 blocks).
struct Chain {
    f: Fixture,
    state: MemoryState,
    last: Option<BlockOutcome>,
    /// Every block committed, in order.
    blocks: Vec<BlockOutcome>,
}

fn member(id: &str) -> MemberId {
    MemberId::new(id).unwrap()
}

fn code(text: &str) -> AssetCode {
    AssetCode::new(text).unwrap()
}

/// A bank to admit, its keys derived from `label`.
fn new_member(label: &str, power: u64) -> NewMember {
    NewMember {
        id: member(label),
        name: format!("Bank {label}"),
        validator_key: ValidatorKey(key(&format!("{label}-validator")).account().0),
        network_key: key(&format!("{label}-network")).account().0,
        voting_power: power,
        treasury: key(&format!("{label}-treasury")).account(),
        governance: key(&format!("{label}-governance")).account(),
        api_key: None,
        sealing_key: None,
        addresses: vec!["/ip4/127.0.0.1/tcp/7100".into()],
    }
}

impl Chain {
    fn new() -> Chain {
        let f = Fixture::new(4, 8);
        let state = f.genesis.memory_state().unwrap();
        Chain {
            f,
            state,
            last: None,
            blocks: Vec::new(),
        }
    }

    fn height(&self) -> u64 {
        self.state.tip().unwrap().height
    }

    fn governor(&self, bank: usize) -> Keypair {
        Fixture::governor(bank)
    }

    fn members(&self) -> Vec<Member> {
        read_members(&self.state).unwrap()
    }

    fn status_of(&self, id: &str) -> MemberStatus {
        self.members()
            .into_iter()
            .find(|m| m.id == member(id))
            .unwrap()
            .status
    }

    fn nonce(&self, id: &AccountId) -> u64 {
        read::<AccountState>(&self.state, &StateKey::Account(*id))
            .unwrap()
            .map_or(0, |a| a.nonce)
    }

    fn proposal(&self, id: &Hash) -> Proposal {
        read(&self.state, &StateKey::Proposal(*id))
            .unwrap()
            .expect("the proposal is in the state")
    }

    fn agenda(&self) -> Option<Agenda> {
        read(&self.state, &StateKey::Agenda).unwrap()
    }

    fn params(&self) -> Params {
        read(&self.state, &StateKey::Params).unwrap().unwrap()
    }

    fn asset(&self, text: &str) -> Option<AssetState> {
        read(&self.state, &StateKey::Asset(code(text))).unwrap()
    }

    /// Commits a block proposed by the first validator in force.
    fn commit(&mut self, signed: Vec<clearhouse_ledger::SignedTransaction>) -> Vec<Outcome> {
        let set = validator_set(&self.members()).unwrap();
        let proposer = set.validators()[0].key;
        let height = self.height() + 1;
        let outcome = propose_block(
            &self.state,
            signed,
            proposer,
            1_763_700_000_000 + height * 1000,
            Signatures::Verify,
        )
        .unwrap();
        // What a validator replaying the block concludes is the same.
        let replayed =
            clearhouse_ledger::state::apply_block(&self.state, &outcome.block, Signatures::Verify)
                .unwrap();
        assert_eq!(replayed.execution, outcome.execution);
        self.state.commit(&outcome);
        assert_conserved(self.state.entries());
        let receipts = outcome
            .execution
            .receipts
            .iter()
            .map(|r| r.outcome.clone())
            .collect();
        self.blocks.push(outcome.clone());
        self.last = Some(outcome);
        receipts
    }

    fn until(&mut self, height: u64) {
        while self.height() < height {
            self.commit(Vec::new());
        }
    }

    fn send(&mut self, sender: &Keypair, body: Body) -> (Outcome, Hash) {
        let tx = Transaction {
            chain_id: self.f.chain_id(),
            sender: sender.account(),
            nonce: self.nonce(&sender.account()),
            fee: Amount(u128::MAX),
            expiry_height: u64::MAX,
            body,
        };
        let id = tx.id().unwrap();
        let signed = tx.sign(sender).unwrap();
        (self.commit(vec![signed]).remove(0), id)
    }

    fn rejected(&mut self, sender: &Keypair, body: Body) -> RejectReason {
        let before = self.state.entries().clone();
        match self.send(sender, body.clone()).0 {
            Outcome::Rejected(reason) => {
                // Nothing changed but the sender's nonce.
                let after = self.state.entries();
                let changed: Vec<_> = after
                    .iter()
                    .filter(|(k, v)| before.get(*k) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .collect();
                let nonce_key = StateKey::Account(sender.account()).encode().unwrap();
                assert!(
                    changed.iter().all(|k| *k == nonce_key),
                    "a rejected {body:?} changed more than the sender's nonce"
                );
                reason
            }
            applied => panic!("{body:?} applied: {applied:?}"),
        }
    }

    fn propose(&mut self, bank: usize, action: Action, voting_period: u64) -> Hash {
        let governor = self.governor(bank);
        let (outcome, id) = self.send(
            &governor,
            Body::Propose {
                action,
                voting_period,
            },
        );
        assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
        id
    }

    fn vote(&mut self, bank: usize, proposal: Hash, approve: bool) {
        let governor = self.governor(bank);
        let (outcome, _) = self.send(&governor, Body::Vote { proposal, approve });
        assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
    }

    /// Proposes from bank 0 and has banks 1 and 2 vote yes: passes with
    /// 30 of 40. Returns the id and the activation height.
    fn pass(&mut self, action: Action) -> (Hash, u64) {
        let id = self.propose(0, action, 100);
        self.vote(1, id, true);
        self.vote(2, id, true);
        match self.proposal(&id).status {
            ProposalStatus::Passed { activates_at, .. } => (id, activates_at),
            other => panic!("not passed: {other:?}"),
        }
    }
}

#[test]
fn a_proposal_passes_with_more_than_two_thirds_and_takes_effect_at_its_offset() {
    let mut chain = Chain::new();
    let action = Action::RegisterAsset {
        code: code("GBP"),
        decimals: 2,
        issuer: member("bank-1"),
    };
    let id = chain.propose(0, action.clone(), 50);
    let proposed_at = chain.height();
    let proposal = chain.proposal(&id);
    assert_eq!(proposal.status, ProposalStatus::Voting);
    assert_eq!(proposal.proposer, member("bank-0"));
    assert_eq!(proposal.voting_ends, proposed_at + 49);
    assert_eq!(proposal.votes.get(&member("bank-0")), Some(&true));
    chain.vote(1, id, true);
    // 20 of 40: not yet.
    assert_eq!(chain.proposal(&id).status, ProposalStatus::Voting);
    chain.vote(2, id, true);
    let passed_at = chain.height();
    let offset = GovernanceParams::default().activation_offset;
    assert_eq!(
        chain.proposal(&id).status,
        ProposalStatus::Passed {
            at: passed_at,
            activates_at: passed_at + offset
        }
    );
    // Bank 3 may still vote on a passed proposal? No: it is closed.
    let governor = chain.governor(3);
    assert!(matches!(
        chain.rejected(
            &governor,
            Body::Vote {
                proposal: id,
                approve: false
            }
        ),
        RejectReason::ProposalClosed { .. }
    ));
    chain.until(passed_at + offset - 1);
    assert_eq!(chain.asset("GBP"), None, "not before its activation height");
    chain.commit(Vec::new());
    assert_eq!(
        chain.asset("GBP"),
        Some(AssetState {
            issuer: member("bank-1"),
            decimals: 2,
            supply: Amount::ZERO,
        })
    );
    assert_eq!(
        chain.proposal(&id).status,
        ProposalStatus::Applied {
            at: passed_at + offset
        }
    );
    assert_eq!(chain.agenda(), None, "an empty agenda is not stored");
    // The new asset is usable: its issuer issues it.
    let treasury = Keypair::from_seed(&chain.f.treasuries[1].seed());
    let to = chain.f.accounts[0].account();
    let (outcome, _) = chain.send(
        &treasury,
        Body::Issue {
            to,
            asset: code("GBP"),
            amount: Amount(50_000),
        },
    );
    assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
}

#[test]
fn a_third_voting_no_rejects_and_a_silent_proposal_expires() {
    let mut chain = Chain::new();
    let action = Action::SetFee {
        asset: code("CNY"),
        rule: None,
    };
    let id = chain.propose(0, action.clone(), 50);
    chain.vote(1, id, false);
    assert_eq!(chain.proposal(&id).status, ProposalStatus::Voting);
    chain.vote(2, id, false);
    assert_eq!(
        chain.proposal(&id).status,
        ProposalStatus::Rejected { at: chain.height() }
    );
    assert_eq!(chain.agenda(), None);

    let id = chain.propose(1, action, 3);
    let ends = chain.proposal(&id).voting_ends;
    assert_eq!(ends, chain.height() + 2);
    chain.until(ends);
    assert_eq!(chain.proposal(&id).status, ProposalStatus::Voting);
    chain.commit(Vec::new());
    assert_eq!(
        chain.proposal(&id).status,
        ProposalStatus::Expired { at: ends + 1 }
    );
    let governor = chain.governor(2);
    assert!(matches!(
        chain.rejected(
            &governor,
            Body::Vote {
                proposal: id,
                approve: true
            }
        ),
        RejectReason::ProposalClosed { .. }
    ));
    // The fee rule never changed.
    assert!(chain.params().fees.contains_key(&code("CNY")));
}

#[test]
fn bad_proposals_and_votes_are_typed_rejections_that_change_nothing() {
    let mut chain = Chain::new();
    let governor = chain.governor(0);
    let customer = Keypair::from_seed(&chain.f.accounts[0].seed());
    let treasury = Keypair::from_seed(&chain.f.treasuries[0].seed());
    let propose = |action: Action| Body::Propose {
        action,
        voting_period: 10,
    };
    let asset = Action::RegisterAsset {
        code: code("GBP"),
        decimals: 2,
        issuer: member("bank-0"),
    };
    assert_eq!(
        chain.rejected(&customer, propose(asset.clone())),
        RejectReason::NotGovernor
    );
    assert_eq!(
        chain.rejected(&treasury, propose(asset.clone())),
        RejectReason::NotGovernor
    );
    assert!(matches!(
        chain.rejected(
            &governor,
            Body::Propose {
                action: asset.clone(),
                voting_period: 0
            }
        ),
        RejectReason::VotingPeriodInvalid { period: 0, .. }
    ));
    assert_eq!(
        chain.rejected(
            &governor,
            Body::Vote {
                proposal: Hash([7; 32]),
                approve: true
            }
        ),
        RejectReason::UnknownProposal(Hash([7; 32]))
    );
    type Expected = fn(&RejectReason) -> bool;
    let cases: Vec<(Action, Expected)> = vec![
        (Action::AddMember(new_member("bank-1", 10)), |r| {
            matches!(r, RejectReason::MemberExists(_))
        }),
        (Action::AddMember(new_member("auditor", 10)), |r| {
            matches!(r, RejectReason::MemberExists(_))
        }),
        (
            Action::AddMember(NewMember {
                validator_key: ValidatorKey(chain.f.validators[2].account().0),
                ..new_member("bank-9", 10)
            }),
            |r| matches!(r, RejectReason::KeyInUse(_)),
        ),
        (
            Action::AddMember(NewMember {
                treasury: chain.f.accounts[3].account(),
                ..new_member("bank-9", 10)
            }),
            |r| matches!(r, RejectReason::KeyInUse(_)),
        ),
        (
            Action::AddMember(NewMember {
                governance: new_member("bank-9", 10).treasury,
                ..new_member("bank-9", 10)
            }),
            |r| matches!(r, RejectReason::KeyInUse(_)),
        ),
        (
            // The identity point: of small order.
            Action::AddMember(NewMember {
                network_key: {
                    let mut k = [0u8; 32];
                    k[0] = 1;
                    k
                },
                ..new_member("bank-9", 10)
            }),
            |r| matches!(r, RejectReason::UnusableKey(_)),
        ),
        (
            Action::AddMember(NewMember {
                addresses: vec!["not a multiaddr".into()],
                ..new_member("bank-9", 10)
            }),
            |r| matches!(r, RejectReason::ActionInvalid { .. }),
        ),
        (Action::AddMember(new_member("bank-9", 0)), |r| {
            matches!(r, RejectReason::ActionInvalid { .. })
        }),
        // 30 of 70 is more than a third.
        (Action::AddMember(new_member("bank-9", 30)), |r| {
            matches!(r, RejectReason::PowerConcentration { .. })
        }),
        (
            Action::RemoveMember {
                member: member("bank-3"),
            },
            |r| matches!(r, RejectReason::TooFewValidators { left: 3, min } if *min == VALIDATORS_MIN as u64),
        ),
        (
            Action::SuspendMember {
                member: member("bank-3"),
            },
            |r| matches!(r, RejectReason::TooFewValidators { .. }),
        ),
        (
            Action::ReinstateMember {
                member: member("bank-3"),
            },
            |r| matches!(r, RejectReason::MemberStatusMismatch { .. }),
        ),
        (
            Action::RemoveMember {
                member: member("bank-77"),
            },
            |r| matches!(r, RejectReason::UnknownMember(_)),
        ),
        (
            Action::SetVotingPower {
                member: member("bank-0"),
                voting_power: 10,
            },
            |r| *r == RejectReason::NoChange,
        ),
        (
            Action::SetVotingPower {
                member: member("bank-0"),
                voting_power: 15,
            },
            |r| matches!(r, RejectReason::PowerConcentration { .. }),
        ),
        (
            Action::RotateValidatorKey {
                member: member("bank-0"),
                validator_key: ValidatorKey(chain.f.validators[1].account().0),
            },
            |r| matches!(r, RejectReason::KeyInUse(_)),
        ),
        (
            Action::RegisterAsset {
                code: code("CNY"),
                decimals: 2,
                issuer: member("bank-0"),
            },
            |r| matches!(r, RejectReason::AssetExists(_)),
        ),
        (
            Action::RegisterAsset {
                code: code("GBP"),
                decimals: 19,
                issuer: member("bank-0"),
            },
            |r| matches!(r, RejectReason::ActionInvalid { .. }),
        ),
        (
            Action::SetFee {
                asset: code("CNY"),
                rule: Some(FeeRule {
                    flat: Amount(1),
                    basis_points: 10_001,
                    receiving_share: 0,
                }),
            },
            |r| matches!(r, RejectReason::ActionInvalid { .. }),
        ),
        (
            Action::SetFee {
                asset: code("XAU"),
                rule: None,
            },
            |r| matches!(r, RejectReason::UnknownAsset(_)),
        ),
        (
            Action::SetParams(ParamChange::Governance(GovernanceParams {
                activation_offset: 0,
                ..GovernanceParams::default()
            })),
            |r| matches!(r, RejectReason::ActionInvalid { .. }),
        ),
        (
            Action::SetParams(ParamChange::Governance(GovernanceParams::default())),
            |r| *r == RejectReason::NoChange,
        ),
    ];
    for (action, expected) in cases {
        let reason = chain.rejected(&governor, propose(action.clone()));
        assert!(expected(&reason), "{action:?} gave {reason:?}");
    }
    // Four open proposals of one member at most.
    for i in 0..4 {
        chain.propose(
            0,
            Action::RegisterAsset {
                code: code(&format!("XA{i}")),
                decimals: 2,
                issuer: member("bank-0"),
            },
            100,
        );
    }
    assert!(matches!(
        chain.rejected(&governor, propose(asset)),
        RejectReason::TooManyProposals {
            member: Some(_),
            open: 4,
            max: 4
        }
    ));
    // One vote per member.
    let id = chain.propose(
        1,
        Action::SetFee {
            asset: code("USD"),
            rule: None,
        },
        100,
    );
    chain.vote(2, id, false);
    let second = chain.governor(2);
    assert_eq!(
        chain.rejected(
            &second,
            Body::Vote {
                proposal: id,
                approve: true
            }
        ),
        RejectReason::AlreadyVoted(member("bank-2"))
    );
    let votes = &chain.proposal(&id).votes;
    assert_eq!(votes.get(&member("bank-2")), Some(&false));
}

#[test]
fn members_join_are_suspended_reinstated_and_removed_and_the_headers_follow() {
    let mut chain = Chain::new();
    let before = validator_set(&chain.members()).unwrap();
    let (_, at) = chain.pass(Action::AddMember(new_member("bank-4", 10)));
    chain.until(at - 1);
    chain.commit(Vec::new());
    let header = chain.last.as_ref().unwrap().block.header.clone();
    let after = validator_set(&chain.members()).unwrap();
    assert_eq!(after.validators().len(), 5);
    assert_eq!(header.validator_set_hash, before.hash().unwrap());
    assert_eq!(header.next_validator_set_hash, after.hash().unwrap());
    // Its accounts exist, hosted by it; its governance account votes.
    for account in [
        key("bank-4-treasury").account(),
        key("bank-4-governance").account(),
    ] {
        let state: AccountState = read(&chain.state, &StateKey::Account(account))
            .unwrap()
            .unwrap();
        assert_eq!(state.bank, member("bank-4"));
    }

    // Suspend bank 3 (5 validators: 4 remain).
    let id = chain.propose(
        0,
        Action::SuspendMember {
            member: member("bank-3"),
        },
        100,
    );
    chain.vote(1, id, true);
    chain.vote(2, id, true);
    // 30 of 50 is not more than two thirds: bank 4 is needed.
    assert_eq!(chain.proposal(&id).status, ProposalStatus::Voting);
    let new_governor = key("bank-4-governance");
    let (outcome, _) = chain.send(
        &new_governor,
        Body::Vote {
            proposal: id,
            approve: true,
        },
    );
    assert_eq!(outcome, Outcome::Applied { fee: Amount::ZERO });
    let ProposalStatus::Passed { activates_at, .. } = chain.proposal(&id).status else {
        panic!("bank 4's vote passes it");
    };
    chain.until(activates_at);
    assert_eq!(chain.status_of("bank-3"), MemberStatus::Suspended);
    let set = validator_set(&chain.members()).unwrap();
    assert!(
        set.validators()
            .iter()
            .all(|v| v.member != member("bank-3"))
    );
    // A customer of bank 3 sends nothing; others still pay it.
    let customer3 = Keypair::from_seed(&chain.f.accounts[3].seed());
    let customer0 = Keypair::from_seed(&chain.f.accounts[0].seed());
    let pay = |to: AccountId| Body::Transfer {
        to,
        asset: code("CNY"),
        amount: Amount(1_00),
    };
    assert_eq!(
        chain.rejected(&customer3, pay(customer0.account())),
        RejectReason::BankNotActive {
            bank: member("bank-3"),
            status: MemberStatus::Suspended
        }
    );
    let (outcome, _) = chain.send(&customer0, pay(customer3.account()));
    assert!(outcome.is_applied());
    // Its governance account neither proposes nor votes.
    let governor3 = chain.governor(3);
    assert!(matches!(
        chain.rejected(
            &governor3,
            Body::Propose {
                action: Action::ReinstateMember {
                    member: member("bank-3")
                },
                voting_period: 10
            }
        ),
        RejectReason::BankNotActive { .. }
    ));

    // Reinstate it: 4 validators of 10 in force, 3 yes pass.
    let (_, at) = chain.pass(Action::ReinstateMember {
        member: member("bank-3"),
    });
    chain.until(at);
    assert_eq!(chain.status_of("bank-3"), MemberStatus::Active);
    let (outcome, _) = chain.send(&customer3, pay(customer0.account()));
    assert!(outcome.is_applied());

    // Remove bank 0 (5 -> 4): bank 0 proposes its own removal.
    let id = chain.propose(
        0,
        Action::RemoveMember {
            member: member("bank-0"),
        },
        100,
    );
    for bank in [1, 2] {
        chain.vote(bank, id, true);
    }
    let (outcome, _) = chain.send(
        &new_governor,
        Body::Vote {
            proposal: id,
            approve: true,
        },
    );
    assert!(outcome.is_applied());
    let ProposalStatus::Passed { activates_at, .. } = chain.proposal(&id).status else {
        panic!("40 of 50 passes");
    };
    chain.until(activates_at);
    assert_eq!(chain.status_of("bank-0"), MemberStatus::Removed);
    let set = validator_set(&chain.members()).unwrap();
    assert_eq!(set.validators().len(), 4);
    assert_eq!(
        chain.rejected(&customer0, pay(customer3.account())),
        RejectReason::BankNotActive {
            bank: member("bank-0"),
            status: MemberStatus::Removed
        }
    );
    // A removed member is never reinstated, nor its id reused.
    let governor1 = chain.governor(1);
    assert!(matches!(
        chain.rejected(
            &governor1,
            Body::Propose {
                action: Action::ReinstateMember {
                    member: member("bank-0")
                },
                voting_period: 10
            }
        ),
        RejectReason::MemberStatusMismatch { .. }
    ));
    assert!(matches!(
        chain.rejected(
            &governor1,
            Body::Propose {
                action: Action::AddMember(new_member("bank-0", 10)),
                voting_period: 10
            }
        ),
        RejectReason::MemberExists(_)
    ));
}

#[test]
fn a_passed_action_that_no_longer_fits_fails_when_due_and_a_fee_change_applies() {
    let mut chain = Chain::new();
    let gbp = Action::RegisterAsset {
        code: code("GBP"),
        decimals: 2,
        issuer: member("bank-2"),
    };
    let (first, first_at) = chain.pass(gbp.clone());
    let (second, second_at) = chain.pass(gbp);
    let fee = FeeRule {
        flat: Amount(1_00),
        basis_points: 0,
        receiving_share: 0,
    };
    let (_, fee_at) = chain.pass(Action::SetFee {
        asset: code("CNY"),
        rule: Some(fee),
    });
    chain.until(first_at.max(second_at).max(fee_at));
    assert!(matches!(
        chain.proposal(&first).status,
        ProposalStatus::Applied { .. }
    ));
    assert_eq!(
        chain.proposal(&second).status,
        ProposalStatus::Failed {
            at: second_at,
            reason: RejectReason::AssetExists(code("GBP"))
        }
    );
    assert_eq!(chain.params().fees.get(&code("CNY")), Some(&fee));
    let customer = Keypair::from_seed(&chain.f.accounts[0].seed());
    let to = chain.f.accounts[1].account();
    let (outcome, _) = chain.send(
        &customer,
        Body::Transfer {
            to,
            asset: code("CNY"),
            amount: Amount(10_00),
        },
    );
    assert_eq!(outcome, Outcome::Applied { fee: Amount(1_00) });
}

#[test]
fn a_single_validator_chain_passes_its_own_proposals() {
    let f = Fixture::new(1, 2);
    let state = f.genesis.memory_state().unwrap();
    let mut chain = Chain {
        f,
        state,
        last: None,
        blocks: Vec::new(),
    };
    let (outcome, id) = chain.send(
        &Fixture::governor(0),
        Body::Propose {
            action: Action::AddMember(new_member("bank-1", 10)),
            voting_period: 5,
        },
    );
    assert!(outcome.is_applied());
    let ProposalStatus::Passed { activates_at, .. } = chain.proposal(&id).status else {
        panic!("the only validator's yes passes it");
    };
    chain.until(activates_at);
    assert_eq!(
        validator_set(&chain.members()).unwrap().validators().len(),
        2
    );
}

#[test]
fn the_chain_records_each_validator_set_from_its_first_height_and_a_store_serves_it() {
    let mut chain = Chain::new();
    let genesis_set = validator_set(&chain.members()).unwrap();
    let mut outcomes = Vec::new();
    let (_, at) = chain.pass(Action::AddMember(new_member("bank-4", 10)));
    outcomes.append(&mut chain.blocks);
    chain.until(at);
    // Five validators now: bank 4's yes is needed too.
    let id = chain.propose(
        0,
        Action::SetVotingPower {
            member: member("bank-1"),
            voting_power: 12,
        },
        100,
    );
    chain.vote(1, id, true);
    chain.vote(2, id, true);
    let (outcome, _) = chain.send(
        &key("bank-4-governance"),
        Body::Vote {
            proposal: id,
            approve: true,
        },
    );
    assert!(outcome.is_applied());
    let ProposalStatus::Passed {
        activates_at: power_at,
        ..
    } = chain.proposal(&id).status
    else {
        panic!("40 of 50 passes");
    };
    chain.until(power_at);
    outcomes.append(&mut chain.blocks);
    let five = {
        let mut members = chain.members();
        members
            .iter_mut()
            .find(|m| m.id == member("bank-1"))
            .unwrap()
            .voting_power = 10;
        validator_set(&members).unwrap()
    };
    let last = validator_set(&chain.members()).unwrap();
    assert_eq!(last.validators().len(), 5);
    let recorded = |height: u64| -> Option<clearhouse_ledger::validators::ValidatorSet> {
        read(&chain.state, &StateKey::ValidatorSetFrom(height)).unwrap()
    };
    assert_eq!(recorded(1), Some(genesis_set.clone()));
    assert_eq!(recorded(at + 1), Some(five.clone()));
    assert_eq!(recorded(power_at + 1), Some(last.clone()));
    assert_eq!(recorded(at), None, "nothing where the set did not change");

    // The sled store serves the set of any height from that record.
    let dir = tempfile::tempdir().unwrap();
    let store = clearhouse_ledger::store::Store::open_with(
        dir.path(),
        &chain.f.genesis,
        crate::fixture::small_store(),
    )
    .unwrap();
    for outcome in &outcomes {
        store.commit(outcome, &chain.f.certify(outcome)).unwrap();
    }
    for (height, expected) in [
        (1, &genesis_set),
        (at, &genesis_set),
        (at + 1, &five),
        (power_at, &five),
        (power_at + 1, &last),
        (power_at + 50, &last),
    ] {
        assert_eq!(
            store.validator_set_at(height).unwrap().as_ref(),
            Some(expected),
            "height {height}"
        );
        // Every header names the set that certifies it, and the next.
        if let Some(block) = store.block(height).unwrap() {
            assert_eq!(block.header.validator_set_hash, expected.hash().unwrap());
            let next = store.validator_set_at(height + 1).unwrap().unwrap();
            assert_eq!(block.header.next_validator_set_hash, next.hash().unwrap());
        }
    }
    assert_eq!(store.validator_set_at(0).unwrap(), None);
    // The first height of the set in force comes with it.
    for (height, from) in [
        (1, 1),
        (at, 1),
        (at + 1, at + 1),
        (power_at, at + 1),
        (power_at + 1, power_at + 1),
        (power_at + 50, power_at + 1),
    ] {
        assert_eq!(
            store.validator_set_in_force(height).unwrap().unwrap().0,
            from,
            "height {height}"
        );
    }

    // A store started from a snapshot holds no block below it but the
    // whole record: it answers every height like the archival one.
    let snapshot = store.snapshot().unwrap();
    let target = tempfile::tempdir().unwrap();
    let imported = clearhouse_ledger::store::Store::import(
        &target.path().join("node"),
        &chain.f.genesis,
        &snapshot,
        crate::fixture::small_store(),
    )
    .unwrap();
    assert!(imported.first_height() > at);
    assert_eq!(
        imported.validator_sets().unwrap(),
        store.validator_sets().unwrap()
    );
    for height in [1, at, at + 1, power_at, power_at + 1, power_at + 50] {
        assert_eq!(
            imported.validator_set_in_force(height).unwrap(),
            store.validator_set_in_force(height).unwrap(),
            "height {height}"
        );
    }
}
