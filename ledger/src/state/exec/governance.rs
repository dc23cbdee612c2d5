//! The governance rules of the executor: proposals, votes, the agenda at
//! the start of each block, and every action's checks and effects (see
//! [`crate::state::governance`] for the rules in prose).

use std::collections::BTreeMap;

use crate::amount::DECIMALS_MAX;
use crate::crypto;
use crate::ids::{AccountId, AssetCode, Hash, MemberId};
use crate::state::credit::{RATING_MAX, RATING_VERSIONS};
use crate::state::governance::{
    Action, Agenda, AgendaItem, MemberStatus, NewMember, OPEN_PROPOSALS_MAX,
    OPEN_PROPOSALS_PER_MEMBER_MAX, ParamChange, Proposal, ProposalStatus, Tally, VALIDATORS_MIN,
    check_addresses, check_governance_params,
};
use crate::state::{
    AccountState, AssetState, BlockError, FeeRule, Member, Overseer, Params, RejectReason,
    StateKey, read, read_overseers, validator_set,
};
use crate::validators::ValidatorSetError;

use super::{Exec, Failure, ProposalId, Step, corrupt};

/// Most bytes of a new member's display name.
const NAME_BYTES_MAX: usize = crate::genesis::MEMBER_NAME_BYTES_MAX;

/// What a governance step may change outside the tables, as it was
/// before the step (restored when the step is rolled back).
pub(super) struct Saved {
    members: Vec<Member>,
    params: Params,
    agenda: Option<Agenda>,
    dirty: GovernanceDirty,
}

/// Which singletons the block changed.
#[derive(Clone, Copy, Default)]
pub(super) struct GovernanceDirty {
    pub(super) members: bool,
    pub(super) params: bool,
    pub(super) agenda: bool,
}

fn invalid(field: &str, reason: impl Into<String>) -> Failure {
    Failure::Reject(RejectReason::ActionInvalid {
        field: field.to_owned(),
        reason: reason.into(),
    })
}

fn in_range(field: &str, value: u64, min: u64, max: u64) -> Step {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{value} is not within {min} to {max}"),
        ))
    }
}

fn usable_key(key: &[u8; 32]) -> Step {
    crypto::check_public_key(key)
        .map(|_| ())
        .map_err(|_| Failure::Reject(RejectReason::UnusableKey(Hash(*key))))
}

impl Exec<'_> {
    /// The member list as the block has left it so far.
    pub(in crate::state) fn members(&self) -> &[Member] {
        &self.members
    }

    /// Whether the block changed the member list.
    pub(in crate::state) fn members_changed(&self) -> bool {
        self.dirty.members
    }

    /// Keeps what the current step may change outside the tables, once.
    fn save_governance(&mut self) {
        if self.saved.is_none() {
            self.saved = Some(Box::new(Saved {
                members: self.members.clone(),
                params: self.params.clone(),
                agenda: self.agenda.clone(),
                dirty: self.dirty,
            }));
        }
    }

    /// Restores what a rolled-back step changed outside the tables.
    pub(super) fn restore_governance(&mut self) {
        if let Some(saved) = self.saved.take() {
            let Saved {
                members,
                params,
                agenda,
                dirty,
            } = *saved;
            self.members = members;
            self.params = params;
            self.agenda = agenda;
            self.dirty = dirty;
            self.refresh_inactive();
        }
    }

    fn members_mut(&mut self) -> &mut Vec<Member> {
        self.save_governance();
        self.dirty.members = true;
        &mut self.members
    }

    fn params_mut(&mut self) -> &mut Params {
        self.save_governance();
        self.dirty.params = true;
        &mut self.params
    }

    fn load_agenda(&mut self) -> Step<()> {
        if self.agenda.is_none() {
            self.agenda = Some(read(self.view, &StateKey::Agenda)?.unwrap_or_default());
        }
        Ok(())
    }

    fn agenda(&mut self) -> Step<&Agenda> {
        self.load_agenda()?;
        self.agenda
            .as_ref()
            .ok_or_else(|| corrupt("the agenda was not loaded".into()))
    }

    fn agenda_mut(&mut self) -> Step<&mut Agenda> {
        self.load_agenda()?;
        self.save_governance();
        self.dirty.agenda = true;
        self.agenda
            .as_mut()
            .ok_or_else(|| corrupt("the agenda was not loaded".into()))
    }

    /// Recomputes the banks whose accounts may not send.
    pub(super) fn refresh_inactive(&mut self) {
        self.inactive = self
            .members
            .iter()
            .filter(|m| !m.is_active())
            .map(|m| (m.id.clone(), m.status))
            .collect();
    }

    /// Refuses a sender whose bank is suspended or removed.
    pub(super) fn sender_bank_active(&mut self, sender: &AccountId) -> Step {
        if self.inactive.is_empty() {
            return Ok(());
        }
        let bank = self.bank_of(sender)?;
        match self.inactive.iter().find(|(id, _)| *id == bank) {
            Some((_, status)) => Err(RejectReason::BankNotActive {
                bank,
                status: *status,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// The member whose governance account `sender` is.
    fn governor(&self, sender: &AccountId) -> Step<MemberId> {
        self.members
            .iter()
            .find(|m| m.governance == *sender)
            .map(|m| m.id.clone())
            .ok_or(Failure::Reject(RejectReason::NotGovernor))
    }

    fn member(&self, id: &MemberId) -> Step<&Member> {
        self.members
            .iter()
            .find(|m| m.id == *id)
            .ok_or_else(|| Failure::Reject(RejectReason::UnknownMember(id.clone())))
    }

    fn overseers(&mut self) -> Step<&[Overseer]> {
        if self.overseers.is_none() {
            self.overseers = Some(read_overseers(self.view)?);
        }
        Ok(self.overseers.as_deref().unwrap_or_default())
    }

    // ----- proposals and votes ------------------------------------------

    /// `Body::Propose`.
    pub(super) fn propose(
        &mut self,
        tx_id: &Hash,
        sender: &AccountId,
        action: &Action,
        voting_period: u64,
    ) -> Step {
        let proposer = self.governor(sender)?;
        let limits = self.params.governance;
        if !(limits.voting_period_min..=limits.voting_period_max).contains(&voting_period) {
            return Err(RejectReason::VotingPeriodInvalid {
                period: voting_period,
                min: limits.voting_period_min,
                max: limits.voting_period_max,
            }
            .into());
        }
        let agenda = self.agenda()?;
        let open = agenda.open.len();
        let own = agenda
            .open
            .iter()
            .filter(|item| item.proposer == proposer)
            .count();
        if open >= OPEN_PROPOSALS_MAX {
            return Err(RejectReason::TooManyProposals {
                member: None,
                open: open as u64,
                max: OPEN_PROPOSALS_MAX as u64,
            }
            .into());
        }
        if own >= OPEN_PROPOSALS_PER_MEMBER_MAX {
            return Err(RejectReason::TooManyProposals {
                member: Some(proposer),
                open: own as u64,
                max: OPEN_PROPOSALS_PER_MEMBER_MAX as u64,
            }
            .into());
        }
        self.check_action(action)?;
        // The period includes this block.
        let voting_ends = self.height.saturating_add(voting_period - 1);
        let proposal = Proposal {
            proposer: proposer.clone(),
            action: action.clone(),
            proposed_at: self.height,
            voting_ends,
            votes: BTreeMap::from([(proposer.clone(), true)]),
            status: ProposalStatus::Voting,
        };
        self.proposals
            .put(self.view, ProposalId(*tx_id), Some(proposal))?;
        self.agenda_mut()?.open.push(AgendaItem {
            id: *tx_id,
            proposer,
            due: voting_ends,
            passed: false,
        });
        self.tally(tx_id)
    }

    /// `Body::Vote`.
    pub(super) fn vote(&mut self, sender: &AccountId, id: &Hash, approve: bool) -> Step {
        let voter = self.governor(sender)?;
        if !self.member(&voter)?.is_active() {
            return Err(RejectReason::NotVoting(voter).into());
        }
        let height = self.height;
        let proposal = self
            .proposals
            .get_mut(self.view, &ProposalId(*id))?
            .ok_or(RejectReason::UnknownProposal(*id))?;
        if proposal.status != ProposalStatus::Voting || height > proposal.voting_ends {
            let status = if proposal.status == ProposalStatus::Voting {
                "past its voting period"
            } else {
                proposal.status.as_str()
            };
            return Err(RejectReason::ProposalClosed {
                proposal: *id,
                status: status.into(),
            }
            .into());
        }
        if proposal.votes.contains_key(&voter) {
            return Err(RejectReason::AlreadyVoted(voter).into());
        }
        proposal.votes.insert(voter, approve);
        self.tally(id)
    }

    /// Counts a voting proposal's votes: passed, rejected, or still voting.
    fn tally(&mut self, id: &Hash) -> Step {
        let height = self.height;
        let offset = self.params.governance.activation_offset;
        let Some(proposal) = self.proposals.get(self.view, &ProposalId(*id))? else {
            return Err(corrupt(format!("proposal {id} vanished while voting")));
        };
        let tally = Tally::count(&self.members, &proposal.votes);
        let status = if tally.passed() {
            ProposalStatus::Passed {
                at: height,
                activates_at: height.saturating_add(offset),
            }
        } else if tally.defeated() {
            ProposalStatus::Rejected { at: height }
        } else {
            return Ok(());
        };
        let agenda = self.agenda_mut()?;
        match status {
            ProposalStatus::Passed { activates_at, .. } => {
                if let Some(item) = agenda.open.iter_mut().find(|item| item.id == *id) {
                    item.passed = true;
                    item.due = activates_at;
                }
            }
            _ => agenda.open.retain(|item| item.id != *id),
        }
        self.set_status(id, status)
    }

    fn set_status(&mut self, id: &Hash, status: ProposalStatus) -> Step {
        match self.proposals.get_mut(self.view, &ProposalId(*id))? {
            Some(proposal) => {
                proposal.status = status;
                Ok(())
            }
            None => Err(corrupt(format!("proposal {id} on the agenda is missing"))),
        }
    }

    /// The start of a block: proposals whose voting period ended expire,
    /// then passed proposals due take effect, each in proposing order and
    /// each in a step of its own.
    pub(super) fn governance_due(&mut self) -> Result<(), BlockError> {
        let height = self.height;
        let due: Vec<AgendaItem> = match self.agenda() {
            Ok(agenda) => agenda
                .open
                .iter()
                .filter(|item| {
                    if item.passed {
                        item.due <= height
                    } else {
                        item.due < height
                    }
                })
                .cloned()
                .collect(),
            Err(Failure::View(error)) => return Err(error.into()),
            Err(Failure::Reject(reason)) => {
                return Err(BlockError::Invariant(format!(
                    "reading the agenda: {reason}"
                )));
            }
        };
        for item in due {
            let status = if item.passed {
                self.begin();
                let result = self.apply_proposal(&item.id);
                match self.finish(result)? {
                    Ok(()) => ProposalStatus::Applied { at: height },
                    Err(reason) => ProposalStatus::Failed { at: height, reason },
                }
            } else {
                ProposalStatus::Expired { at: height }
            };
            self.begin();
            let result = self.close(&item.id, status);
            if let Err(reason) = self.finish(result)? {
                return Err(BlockError::Invariant(format!(
                    "closing proposal {}: {reason}",
                    item.id
                )));
            }
        }
        Ok(())
    }

    fn close(&mut self, id: &Hash, status: ProposalStatus) -> Step {
        self.agenda_mut()?.open.retain(|item| item.id != *id);
        self.set_status(id, status)
    }

    fn apply_proposal(&mut self, id: &Hash) -> Step {
        let action = match self.proposals.get(self.view, &ProposalId(*id))? {
            Some(proposal) => proposal.action.clone(),
            None => return Err(corrupt(format!("proposal {id} on the agenda is missing"))),
        };
        self.check_action(&action)?;
        self.apply_action(action)
    }

    // ----- actions --------------------------------------------------------

    /// Whether `action` fits the state now (run when proposed and again
    /// when it takes effect).
    fn check_action(&mut self, action: &Action) -> Step {
        match action {
            Action::SuspendForEvidence { evidence } => {
                let member = self.offender(evidence)?;
                self.check_action(&Action::SuspendMember { member })
            }
            Action::AddMember(new) => self.check_new_member(new),
            Action::RemoveMember { member } => {
                self.not_removed(member)?;
                self.check_set(action)
            }
            Action::SuspendMember { member } => {
                self.member_status_is(member, MemberStatus::Active)?;
                self.check_set(action)
            }
            Action::ReinstateMember { member } => {
                self.member_status_is(member, MemberStatus::Suspended)?;
                self.check_set(action)
            }
            Action::SetVotingPower {
                member,
                voting_power,
            } => {
                let found = self.not_removed(member)?;
                if *voting_power == 0 {
                    return Err(invalid(
                        "voting_power",
                        "must be above zero (suspend or remove a member instead)",
                    ));
                }
                if found.voting_power == *voting_power {
                    return Err(RejectReason::NoChange.into());
                }
                self.check_set(action)
            }
            Action::RotateValidatorKey {
                member,
                validator_key,
            } => {
                let found = self.not_removed(member)?;
                if found.validator_key == *validator_key {
                    return Err(RejectReason::NoChange.into());
                }
                usable_key(&validator_key.0)?;
                self.node_key_free(&validator_key.0)?;
                self.check_set(action)
            }
            Action::SetAddresses { member, addresses } => {
                let found = self.not_removed(member)?;
                if found.addresses == *addresses {
                    return Err(RejectReason::NoChange.into());
                }
                Ok(check_addresses(addresses)?)
            }
            Action::RegisterAsset {
                code,
                decimals,
                issuer,
            } => {
                if self.assets.get(self.view, code)?.is_some() {
                    return Err(RejectReason::AssetExists(code.clone()).into());
                }
                if *decimals > DECIMALS_MAX {
                    return Err(invalid(
                        "decimals",
                        format!("{decimals}, at most {DECIMALS_MAX}"),
                    ));
                }
                self.member_status_is(issuer, MemberStatus::Active)
            }
            Action::SetFee { asset, rule } => {
                self.known_asset(asset)?;
                if let Some(rule) = rule {
                    in_range("basis_points", u64::from(rule.basis_points), 0, 10_000)?;
                    in_range(
                        "receiving_share",
                        u64::from(rule.receiving_share),
                        0,
                        10_000,
                    )?;
                }
                if self.params.fees.get(asset) == rule.as_ref() {
                    return Err(RejectReason::NoChange.into());
                }
                Ok(())
            }
            Action::SetParams(change) => self.check_params(change),
        }
    }

    fn member_status_is(&self, member: &MemberId, needed: MemberStatus) -> Step {
        let found = self.member(member)?;
        if found.status != needed {
            return Err(RejectReason::MemberStatusMismatch {
                member: member.clone(),
                status: found.status,
                needed,
            }
            .into());
        }
        Ok(())
    }

    fn not_removed(&self, member: &MemberId) -> Step<&Member> {
        let found = self.member(member)?;
        if found.status == MemberStatus::Removed {
            return Err(RejectReason::MemberStatusMismatch {
                member: member.clone(),
                status: found.status,
                needed: MemberStatus::Active,
            }
            .into());
        }
        Ok(found)
    }

    /// A validator or network key no member (removed ones included) uses.
    fn node_key_free(&self, key: &[u8; 32]) -> Step {
        let taken = self
            .members
            .iter()
            .any(|m| m.validator_key.0 == *key || m.network_key == *key);
        if taken {
            return Err(RejectReason::KeyInUse(Hash(*key)).into());
        }
        Ok(())
    }

    /// A key that is no account, and no member's or overseer's request key.
    fn party_key_free(&mut self, key: &[u8; 32]) -> Step {
        let account = AccountId(*key);
        let request_key = self.members.iter().any(|m| m.api_key == Some(*key))
            || self.overseers()?.iter().any(|o| o.api_key == *key);
        if request_key || self.accounts.get(self.view, &account)?.is_some() {
            return Err(RejectReason::KeyInUse(Hash(*key)).into());
        }
        Ok(())
    }

    fn check_new_member(&mut self, new: &NewMember) -> Step {
        let id_taken = self.members.iter().any(|m| m.id == new.id)
            || self.overseers()?.iter().any(|o| o.id == new.id);
        if id_taken {
            return Err(RejectReason::MemberExists(new.id.clone()).into());
        }
        let name_ok = !new.name.trim().is_empty()
            && new.name.len() <= NAME_BYTES_MAX
            && !new.name.chars().any(char::is_control);
        if !name_ok {
            return Err(invalid(
                "name",
                format!("must be 1 to {NAME_BYTES_MAX} bytes without control characters"),
            ));
        }
        if new.voting_power == 0 {
            return Err(invalid("voting_power", "must be above zero"));
        }
        let mut keys = vec![
            new.validator_key.0,
            new.network_key,
            new.treasury.0,
            new.governance.0,
        ];
        keys.extend(new.api_key);
        for (index, key) in keys.iter().enumerate() {
            usable_key(key)?;
            if keys[..index].contains(key) {
                return Err(RejectReason::KeyInUse(Hash(*key)).into());
            }
        }
        self.node_key_free(&new.validator_key.0)?;
        self.node_key_free(&new.network_key)?;
        for key in [new.treasury.0, new.governance.0]
            .into_iter()
            .chain(new.api_key)
        {
            self.node_key_free(&key)?;
            self.party_key_free(&key)?;
        }
        if let Some(sealing) = &new.sealing_key {
            sealing
                .check()
                .map_err(|_| Failure::Reject(RejectReason::UnusableKey(Hash(sealing.0))))?;
            let taken = self
                .members
                .iter()
                .any(|m| m.sealing_key.as_ref() == Some(sealing))
                || self
                    .overseers()?
                    .iter()
                    .any(|o| o.sealing_key.as_ref() == Some(sealing));
            if taken {
                return Err(RejectReason::KeyInUse(Hash(sealing.0)).into());
            }
        }
        check_addresses(&new.addresses)?;
        self.check_set(&Action::AddMember(new.clone()))
    }

    /// The member list after `action`, for the set checks.
    fn members_after(&self, action: &Action) -> Step<Vec<Member>> {
        let mut members = self.members.clone();
        Self::change_members(&mut members, action)?;
        Ok(members)
    }

    /// Applies a member action to a member list.
    fn change_members(members: &mut Vec<Member>, action: &Action) -> Step {
        let find = |members: &mut Vec<Member>, id: &MemberId| -> Step<usize> {
            members
                .iter()
                .position(|m| m.id == *id)
                .ok_or_else(|| Failure::Reject(RejectReason::UnknownMember(id.clone())))
        };
        match action {
            Action::AddMember(new) => members.push(Member {
                id: new.id.clone(),
                name: new.name.clone(),
                validator_key: new.validator_key,
                network_key: new.network_key,
                voting_power: new.voting_power,
                treasury: new.treasury,
                api_key: new.api_key,
                sealing_key: new.sealing_key,
                governance: new.governance,
                status: MemberStatus::Active,
                addresses: new.addresses.clone(),
            }),
            Action::RemoveMember { member } => {
                let index = find(members, member)?;
                members[index].status = MemberStatus::Removed;
            }
            Action::SuspendMember { member } => {
                let index = find(members, member)?;
                members[index].status = MemberStatus::Suspended;
            }
            Action::ReinstateMember { member } => {
                let index = find(members, member)?;
                members[index].status = MemberStatus::Active;
            }
            Action::SetVotingPower {
                member,
                voting_power,
            } => {
                let index = find(members, member)?;
                members[index].voting_power = *voting_power;
            }
            Action::RotateValidatorKey {
                member,
                validator_key,
            } => {
                let index = find(members, member)?;
                members[index].validator_key = *validator_key;
            }
            Action::SetAddresses { member, addresses } => {
                let index = find(members, member)?;
                members[index].addresses = addresses.clone();
            }
            Action::RegisterAsset { .. } | Action::SetFee { .. } | Action::SetParams(_) => {}
            Action::SuspendForEvidence { .. } => {
                return Err(corrupt(
                    "a suspension for evidence reached the member list unresolved".into(),
                ));
            }
        }
        Ok(())
    }

    /// The validator set after a member action must be a valid set; it may
    /// not shrink below [`VALIDATORS_MIN`]; and when it has at least that
    /// many, no validator may hold a third of the power or more.
    fn check_set(&self, action: &Action) -> Step {
        let before = self.members.iter().filter(|m| m.is_active()).count();
        let after = self.members_after(action)?;
        let set = validator_set(&after).map_err(|error| match error {
            ValidatorSetError::Empty => Failure::Reject(RejectReason::TooFewValidators {
                left: 0,
                min: VALIDATORS_MIN as u64,
            }),
            ValidatorSetError::DuplicateKey(key) => {
                Failure::Reject(RejectReason::KeyInUse(Hash(key.0)))
            }
            other => invalid("validators", other.to_string()),
        })?;
        let count = set.validators().len();
        if count < before && count < VALIDATORS_MIN {
            return Err(RejectReason::TooFewValidators {
                left: count as u64,
                min: VALIDATORS_MIN as u64,
            }
            .into());
        }
        if count >= VALIDATORS_MIN {
            let total = set.total_power();
            if let Some(big) = set
                .validators()
                .iter()
                .find(|v| u128::from(v.voting_power) * 3 >= u128::from(total))
            {
                return Err(RejectReason::PowerConcentration {
                    member: big.member.clone(),
                    power: big.voting_power,
                    total,
                }
                .into());
            }
        }
        Ok(())
    }

    fn check_params(&mut self, change: &ParamChange) -> Step {
        let unchanged = match change {
            ParamChange::EscrowDeadlineMax(blocks) => {
                in_range("escrow.deadline_blocks_max", *blocks, 1, u64::MAX / 2)?;
                self.params.escrow.deadline_blocks_max == *blocks
            }
            ParamChange::Credit {
                rating_version,
                min_rating,
                period_blocks_max,
            } => {
                if !RATING_VERSIONS.contains(rating_version) {
                    return Err(invalid(
                        "credit.rating_version",
                        format!("{rating_version} is unknown (known: {RATING_VERSIONS:?})"),
                    ));
                }
                in_range(
                    "credit.min_rating",
                    u64::from(*min_rating),
                    0,
                    u64::from(RATING_MAX),
                )?;
                in_range(
                    "credit.period_blocks_max",
                    *period_blocks_max,
                    1,
                    u64::MAX / 2,
                )?;
                let credit = &self.params.credit;
                credit.rating_version == *rating_version
                    && credit.min_rating == *min_rating
                    && credit.period_blocks_max == *period_blocks_max
            }
            ParamChange::CreditCap { asset, per_point } => {
                self.known_asset(asset)?;
                self.params.credit.caps.get(asset) == per_point.as_ref()
            }
            ParamChange::Governance(limits) => {
                check_governance_params(limits)?;
                self.params.governance == *limits
            }
        };
        if unchanged {
            return Err(RejectReason::NoChange.into());
        }
        Ok(())
    }

    /// Carries out a checked action.
    /// The member an evidence record accuses.
    fn offender(&self, evidence: &Hash) -> Step<MemberId> {
        let record: Option<crate::evidence::EvidenceRecord> =
            read(self.view, &StateKey::Evidence(*evidence))?;
        match record {
            Some(record) => Ok(record.member),
            None => Err(RejectReason::UnknownEvidence(*evidence).into()),
        }
    }

    fn apply_action(&mut self, action: Action) -> Step {
        let action = match action {
            Action::SuspendForEvidence { evidence } => Action::SuspendMember {
                member: self.offender(&evidence)?,
            },
            other => other,
        };
        match action {
            Action::AddMember(new) => {
                for account in [new.treasury, new.governance] {
                    self.accounts.put(
                        self.view,
                        account,
                        Some(AccountState::new(new.id.clone())),
                    )?;
                }
                Self::change_members(self.members_mut(), &Action::AddMember(new))?;
            }
            Action::RegisterAsset {
                code,
                decimals,
                issuer,
            } => {
                let state = AssetState {
                    issuer,
                    decimals,
                    supply: crate::amount::Amount::ZERO,
                };
                self.assets.put(self.view, code, Some(state))?;
            }
            Action::SetFee { asset, rule } => self.set_fee(asset, rule),
            Action::SetParams(change) => {
                let params = self.params_mut();
                match change {
                    ParamChange::EscrowDeadlineMax(blocks) => {
                        params.escrow.deadline_blocks_max = blocks;
                    }
                    ParamChange::Credit {
                        rating_version,
                        min_rating,
                        period_blocks_max,
                    } => {
                        params.credit.rating_version = rating_version;
                        params.credit.min_rating = min_rating;
                        params.credit.period_blocks_max = period_blocks_max;
                    }
                    ParamChange::CreditCap { asset, per_point } => match per_point {
                        Some(cap) => {
                            params.credit.caps.insert(asset, cap);
                        }
                        None => {
                            params.credit.caps.remove(&asset);
                        }
                    },
                    ParamChange::Governance(limits) => params.governance = limits,
                }
            }
            member_action => {
                Self::change_members(self.members_mut(), &member_action)?;
            }
        }
        self.refresh_inactive();
        Ok(())
    }

    fn set_fee(&mut self, asset: AssetCode, rule: Option<FeeRule>) {
        let params = self.params_mut();
        match rule {
            Some(rule) => {
                params.fees.insert(asset, rule);
            }
            None => {
                params.fees.remove(&asset);
            }
        }
    }

    /// The singletons the block changed, encoded, into `out`.
    pub(super) fn governance_writes(
        &self,
        out: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ) -> Result<(), BlockError> {
        if self.dirty.members {
            out.insert(
                StateKey::Members.encode()?,
                Some(crate::codec::encode(&self.members)?),
            );
        }
        if self.dirty.params {
            out.insert(
                StateKey::Params.encode()?,
                Some(crate::codec::encode(&self.params)?),
            );
        }
        if self.dirty.agenda {
            let value = match &self.agenda {
                Some(agenda) if !agenda.is_empty() => Some(crate::codec::encode(agenda)?),
                _ => None,
            };
            out.insert(StateKey::Agenda.encode()?, value);
        }
        Ok(())
    }
}
