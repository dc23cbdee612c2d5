//! Governance: member banks propose and vote on changes to the network,
//! and a passed change takes effect at a known height.
//!
//! **Who.** Every member has a governance account (`Member::governance`,
//! an account of that bank, created with it). `Body::Propose` and
//! `Body::Vote` must be sent from it (`NotGovernor` otherwise); an account
//! of a suspended or removed bank sends nothing (`BankNotActive`), so such
//! a member neither proposes nor votes.
//!
//! **Voting.** A proposal is the [`Action`] and a voting period in blocks
//! (within [`GovernanceParams`]' bounds). Proposing counts as the
//! proposer's yes. Each member votes once (`AlreadyVoted`); a vote counts
//! with the voting power its member holds when the votes are tallied,
//! which happens at every vote: the proposal **passes** once the yes votes
//! hold more than two thirds of the power in force, and is **rejected**
//! once the no votes hold at least a third (it can no longer pass). Votes
//! count through the height `voting_ends`; the block after it marks a
//! proposal still voting as **expired**.
//!
//! **Activation.** A proposal that passes at height `p` takes effect at the
//! start of block `p + activation_offset` (before its transactions, after
//! its escrow, credit and quote deadlines), so the validator set that
//! certifies the block after that one is known `activation_offset` blocks
//! ahead. The action is checked again then, against the state of that
//! moment: one that no longer fits (a member id taken meanwhile, a removal
//! that would now leave too few validators) is recorded as **failed** with
//! its reason and changes nothing.
//!
//! **Bounds.** At most [`OPEN_PROPOSALS_MAX`] proposals are voting or
//! waiting to take effect at once, at most [`OPEN_PROPOSALS_PER_MEMBER_MAX`]
//! of one member's. The open ones are listed in the [`Agenda`] (under
//! `StateKey::Agenda`, absent when empty), which each block reads once.
//! Finished proposals stay in the state as the record of what was decided
//! (a few hundred bytes each).
//!
//! **Safety of the validator set.** An action is refused if it would leave
//! fewer than [`VALIDATORS_MIN`] validators by removing or suspending one,
//! or a set of at least [`VALIDATORS_MIN`] in which one validator holds a
//! third of the power or more (that bank alone could then stop the chain).
//! Validator and network keys are never reused, not even a removed
//! member's; a removed member's id is never given again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::ids::{AccountId, AssetCode, Hash, MemberId};
use crate::sealed::SealingKey;
use crate::validators::ValidatorKey;

use super::{FeeRule, Member, RejectReason};

/// Most proposals voting or waiting to take effect at once.
pub const OPEN_PROPOSALS_MAX: usize = 64;
/// Most open proposals of one member.
pub const OPEN_PROPOSALS_PER_MEMBER_MAX: usize = 4;
/// The fewest validators a removal or suspension may leave.
pub const VALIDATORS_MIN: usize = 4;
/// Most listen addresses a member may publish.
pub const ADDRESSES_MAX: usize = 8;
/// Most bytes of one listen address.
pub const ADDRESS_BYTES_MAX: usize = 256;

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MemberStatus {
    /// Its validator counts, its accounts transact.
    #[default]
    Active,
    /// Its validator does not count and its accounts send nothing, until
    /// reinstated.
    Suspended,
    /// Gone for good: as suspended, and never reinstated. The entry stays
    /// so that its accounts still name their bank.
    Removed,
}

impl std::fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MemberStatus {
    /// Its lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Suspended => "suspended",
            MemberStatus::Removed => "removed",
        }
    }
}

/// Governance limits (genesis `[governance]`, changed by
/// [`ParamChange::Governance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceParams {
    /// Blocks between passing and taking effect (at least 1).
    pub activation_offset: u64,
    /// The shortest voting period, in blocks (at least 1).
    pub voting_period_min: u64,
    /// The longest voting period, in blocks.
    pub voting_period_max: u64,
}

impl Default for GovernanceParams {
    fn default() -> GovernanceParams {
        GovernanceParams {
            activation_offset: 10,
            voting_period_min: 1,
            voting_period_max: 100_000,
        }
    }
}

/// The most any governance block count may be (heights stay far from
/// overflow when added).
pub const GOVERNANCE_BLOCKS_MAX: u64 = 10_000_000;

/// A bank to admit, with everything the chain and the network need of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// Its id (never used before).
    pub id: MemberId,
    /// Display name (1 to 128 bytes).
    pub name: String,
    /// The key its validator signs with.
    pub validator_key: ValidatorKey,
    /// Its libp2p identity's ed25519 public key (its peer id).
    pub network_key: [u8; 32],
    /// Its validator's voting power (above zero).
    pub voting_power: u64,
    /// Its treasury account (created with it).
    pub treasury: AccountId,
    /// Its governance account (created with it).
    pub governance: AccountId,
    /// Its back office's API request key, if any.
    pub api_key: Option<[u8; 32]>,
    /// Its X25519 sealing key, if any.
    pub sealing_key: Option<SealingKey>,
    /// Its nodes' libp2p listen addresses (multiaddr text).
    pub addresses: Vec<String>,
}

/// A change of a chain parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamChange {
    /// Variant 0. The escrow horizon (`[escrow] deadline_blocks_max`).
    EscrowDeadlineMax(u64),
    /// Variant 1. The credit terms (`[credit]`, caps apart).
    Credit {
        /// The trust rating formula.
        rating_version: u16,
        /// Below it no credit is usable.
        min_rating: u16,
        /// Longest repayment period of a grant.
        period_blocks_max: u64,
    },
    /// Variant 2. One asset's credit cap per rating point (`None`: no
    /// credit in it).
    CreditCap {
        /// The asset.
        asset: AssetCode,
        /// The cap per rating point, minor units.
        per_point: Option<Amount>,
    },
    /// Variant 3. The governance limits.
    Governance(GovernanceParams),
}

/// What a proposal changes. Variant indexes are part of the signed bytes:
/// new actions go at the end. (Proposals are rare and short-lived in
/// memory, so the large `AddMember` variant stays unboxed.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Variant 0. Admit a bank: a member, its validator, its treasury and
    /// governance accounts.
    AddMember(NewMember),
    /// Variant 1. Remove a member for good.
    RemoveMember {
        /// The member.
        member: MemberId,
    },
    /// Variant 2. Suspend an active member.
    SuspendMember {
        /// The member.
        member: MemberId,
    },
    /// Variant 3. Reinstate a suspended member.
    ReinstateMember {
        /// The member.
        member: MemberId,
    },
    /// Variant 4. Change a member's voting power.
    SetVotingPower {
        /// The member.
        member: MemberId,
        /// Its new power (above zero).
        voting_power: u64,
    },
    /// Variant 5. Replace a member's validator key.
    RotateValidatorKey {
        /// The member.
        member: MemberId,
        /// The new key (never used before).
        validator_key: ValidatorKey,
    },
    /// Variant 6. Replace a member's published listen addresses.
    SetAddresses {
        /// The member.
        member: MemberId,
        /// The new list.
        addresses: Vec<String>,
    },
    /// Variant 7. Register a new asset, issued by an active member.
    RegisterAsset {
        /// Its code (not taken).
        code: AssetCode,
        /// Decimal places (at most 18).
        decimals: u8,
        /// The issuing member.
        issuer: MemberId,
    },
    /// Variant 8. Set (or with `None` remove) an asset's fee rule.
    SetFee {
        /// The asset.
        asset: AssetCode,
        /// Its new rule.
        rule: Option<FeeRule>,
    },
    /// Variant 9. Change a chain parameter.
    SetParams(ParamChange),
    /// Variant 10. Suspend the member whose validator signed twice, citing
    /// the evidence on record ([`crate::evidence::EvidenceRecord`]); the
    /// member must be active, as for [`Action::SuspendMember`].
    SuspendForEvidence {
        /// The evidence id.
        evidence: Hash,
    },
}

impl Action {
    /// Its wire name (the API's and the CLI's).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::AddMember(_) => "add_member",
            Action::RemoveMember { .. } => "remove_member",
            Action::SuspendMember { .. } => "suspend_member",
            Action::ReinstateMember { .. } => "reinstate_member",
            Action::SetVotingPower { .. } => "set_voting_power",
            Action::RotateValidatorKey { .. } => "rotate_validator_key",
            Action::SetAddresses { .. } => "set_addresses",
            Action::RegisterAsset { .. } => "register_asset",
            Action::SetFee { .. } => "set_fee",
            Action::SetParams(_) => "set_params",
            Action::SuspendForEvidence { .. } => "suspend_for_evidence",
        }
    }

    /// Whether taking effect may change the validator set.
    pub fn touches_validators(&self) -> bool {
        matches!(
            self,
            Action::AddMember(_)
                | Action::RemoveMember { .. }
                | Action::SuspendMember { .. }
                | Action::ReinstateMember { .. }
                | Action::SetVotingPower { .. }
                | Action::RotateValidatorKey { .. }
                | Action::SuspendForEvidence { .. }
        )
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalStatus {
    /// Votes are being taken.
    Voting,
    /// More than two thirds of the power voted yes at `at`; it takes
    /// effect at the start of block `activates_at`.
    Passed {
        /// The height of the deciding vote.
        at: u64,
        /// The block it takes effect in.
        activates_at: u64,
    },
    /// It took effect at the start of block `at`.
    Applied {
        /// That height.
        at: u64,
    },
    /// It passed but no longer fitted the state when it was due, at `at`.
    Failed {
        /// That height.
        at: u64,
        /// Why.
        reason: super::RejectReason,
    },
    /// At least a third of the power voted no, at `at`.
    Rejected {
        /// The height of the deciding vote.
        at: u64,
    },
    /// Its voting period ended without a decision (marked at `at`).
    Expired {
        /// The first height after the period.
        at: u64,
    },
}

impl ProposalStatus {
    /// Its lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProposalStatus::Voting => "voting",
            ProposalStatus::Passed { .. } => "passed",
            ProposalStatus::Applied { .. } => "applied",
            ProposalStatus::Failed { .. } => "failed",
            ProposalStatus::Rejected { .. } => "rejected",
            ProposalStatus::Expired { .. } => "expired",
        }
    }

    /// Whether it is voting or waiting to take effect.
    pub fn is_open(&self) -> bool {
        matches!(self, ProposalStatus::Voting | ProposalStatus::Passed { .. })
    }
}

/// A proposal, under `StateKey::Proposal(id)`, the id being the proposing
/// transaction's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The member that proposed it.
    pub proposer: MemberId,
    /// What it changes.
    pub action: Action,
    /// The height it was proposed at.
    pub proposed_at: u64,
    /// The last height a vote counts.
    pub voting_ends: u64,
    /// Each member's vote (`true`: yes), the proposer's included.
    pub votes: BTreeMap<MemberId, bool>,
    /// Where it stands.
    pub status: ProposalStatus,
}

/// The open proposals, under `StateKey::Agenda` (absent when there are
/// none), in proposing order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Agenda {
    /// Each open proposal.
    pub open: Vec<AgendaItem>,
}

impl Agenda {
    /// Whether no proposal is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// The height of the first block in which a passed proposal takes effect,
/// if any is waiting: a node that idles without payments must still build
/// the blocks up to it.
pub fn next_activation(view: &dyn super::StateView) -> Result<Option<u64>, super::ViewError> {
    let agenda: Option<Agenda> = super::read(view, &super::StateKey::Agenda)?;
    Ok(agenda.and_then(|agenda| {
        agenda
            .open
            .iter()
            .filter(|item| item.passed)
            .map(|item| item.due)
            .min()
    }))
}

/// One open proposal on the [`Agenda`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgendaItem {
    /// The proposal id.
    pub id: Hash,
    /// Its proposer.
    pub proposer: MemberId,
    /// Voting: its last voting height; passed: the height it takes
    /// effect at.
    pub due: u64,
    /// Whether it passed.
    pub passed: bool,
}

/// The voting power for, against, and in all, among the members in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Power of the yes votes.
    pub yes: u64,
    /// Power of the no votes.
    pub no: u64,
    /// All the power in force.
    pub total: u64,
}

impl Tally {
    /// Counts `votes` with the power each member holds now (a member
    /// without power, suspended or removed, counts nothing).
    pub fn count(members: &[Member], votes: &BTreeMap<MemberId, bool>) -> Tally {
        let mut tally = Tally::default();
        for member in members.iter().filter(|m| m.status == MemberStatus::Active) {
            let power = member.voting_power;
            tally.total = tally.total.saturating_add(power);
            match votes.get(&member.id) {
                Some(true) => tally.yes = tally.yes.saturating_add(power),
                Some(false) => tally.no = tally.no.saturating_add(power),
                None => {}
            }
        }
        tally
    }

    /// More than two thirds voted yes.
    pub fn passed(&self) -> bool {
        u128::from(self.yes) * 3 > u128::from(self.total) * 2
    }

    /// At least a third voted no: yes can no longer pass.
    pub fn defeated(&self) -> bool {
        let could = u128::from(self.total.saturating_sub(self.no));
        could * 3 <= u128::from(self.total) * 2
    }
}

/// Checks a list of listen addresses: at most [`ADDRESSES_MAX`], each 1 to
/// [`ADDRESS_BYTES_MAX`] bytes of printable ASCII starting with `/`
/// (multiaddr text; the network layer parses it), no two alike.
pub fn check_addresses(addresses: &[String]) -> Result<(), RejectReason> {
    let fail = |reason: String| RejectReason::ActionInvalid {
        field: "addresses".into(),
        reason,
    };
    if addresses.len() > ADDRESSES_MAX {
        return Err(fail(format!(
            "{} addresses, at most {ADDRESSES_MAX}",
            addresses.len()
        )));
    }
    for (index, address) in addresses.iter().enumerate() {
        let printable = address.bytes().all(|b| b.is_ascii_graphic());
        if address.is_empty()
            || address.len() > ADDRESS_BYTES_MAX
            || !printable
            || !address.starts_with('/')
        {
            return Err(fail(format!(
                "{address:?} is not a multiaddr of 1 to {ADDRESS_BYTES_MAX} printable bytes"
            )));
        }
        if addresses[..index].contains(address) {
            return Err(fail(format!("{address} is listed twice")));
        }
    }
    Ok(())
}

/// Checks the governance limits.
pub fn check_governance_params(params: &GovernanceParams) -> Result<(), RejectReason> {
    let check = |field: &str, value: u64, min: u64, max: u64| {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(RejectReason::ActionInvalid {
                field: field.into(),
                reason: format!("{value} is not within {min} to {max}"),
            })
        }
    };
    check(
        "activation_offset",
        params.activation_offset,
        1,
        GOVERNANCE_BLOCKS_MAX,
    )?;
    check(
        "voting_period_max",
        params.voting_period_max,
        1,
        GOVERNANCE_BLOCKS_MAX,
    )?;
    check(
        "voting_period_min",
        params.voting_period_min,
        1,
        params.voting_period_max,
    )
}
