//! `clearhouse governance propose|vote|show`: on-chain governance.
//!
//! A proposal and a vote are transactions of a member bank's governance
//! account (`--key` is its governance key), signed, sent and waited for
//! through the same [`Prepared`] plumbing as every other transaction; they
//! pay no fee, so the envelope offers none. The chain decides the rest
//! (who may propose, the voting period's bounds, whether the action fits)
//! and a refusal comes back as a rejected receipt with its reason code
//! (exit 4), like any transaction's. A proposal's id is its transaction's
//! hash, printed in its receipt.
//!
//! `show` reads `GET /v1/governance/proposals[/{id}]`, which is public: no
//! key needed. It does not: check an action before the chain does (beyond
//! parsing its keys, ids and amounts), or keep anything locally.

use std::path::Path;

use clearhouse_ledger::genesis::{GenesisFile, MemberEntry};
use clearhouse_ledger::ids::MemberId;
use clearhouse_ledger::sealed::SealingKey;
use clearhouse_ledger::state::FeeRule;
use clearhouse_ledger::state::governance::{Action, GovernanceParams, NewMember, ParamChange};
use clearhouse_ledger::validators::ValidatorKey;
use clearhouse_ledger::{Amount, AssetCode, Body};
use clearhouse_node::api::dto;

use crate::amount::HumanAmount;
use crate::cli::{
    AddMemberArgs, GovernanceCommand, ProposalStatusArg, ProposeAction, SetAddressesArgs,
    SetCreditCapArgs, SetFeeArgs, VoteArgs,
};
use crate::commands::query::value_text;
use crate::commands::transaction::Prepared;
use crate::commands::{Context, parse_account, parse_hash};
use crate::exit::CliError;
use crate::output::{Table, cell, print, print_json};

/// Runs a governance command.
pub fn run(context: &Context, command: GovernanceCommand) -> Result<(), CliError> {
    match command {
        GovernanceCommand::Propose(action) => propose(context, *action),
        GovernanceCommand::Vote(args) => vote(context, &args),
        GovernanceCommand::Show {
            proposal: Some(id), ..
        } => show_one(context, &id),
        GovernanceCommand::Show {
            proposal: None,
            status,
            limit,
        } => list(context, status.map(filter), limit.map(usize::from)),
    }
}

fn propose(context: &Context, action: ProposeAction) -> Result<(), CliError> {
    let (propose, action) = match action {
        ProposeAction::AddMember(args) => {
            let member = new_member(&args)?;
            (args.propose, Action::AddMember(member))
        }
        ProposeAction::RemoveMember { member, propose } => (
            propose,
            Action::RemoveMember {
                member: member_id(&member)?,
            },
        ),
        ProposeAction::SuspendMember { member, propose } => (
            propose,
            Action::SuspendMember {
                member: member_id(&member)?,
            },
        ),
        ProposeAction::SuspendForEvidence { evidence, propose } => (
            propose,
            Action::SuspendForEvidence {
                evidence: super::parse_hash(&evidence, "evidence id")?,
            },
        ),
        ProposeAction::ReinstateMember { member, propose } => (
            propose,
            Action::ReinstateMember {
                member: member_id(&member)?,
            },
        ),
        ProposeAction::SetVotingPower {
            member,
            voting_power,
            propose,
        } => (
            propose,
            Action::SetVotingPower {
                member: member_id(&member)?,
                voting_power,
            },
        ),
        ProposeAction::RotateValidatorKey {
            member,
            validator_key,
            propose,
        } => (
            propose,
            Action::RotateValidatorKey {
                member: member_id(&member)?,
                validator_key: ValidatorKey(key32(&validator_key, "validator key")?),
            },
        ),
        ProposeAction::SetAddresses(SetAddressesArgs {
            member,
            address,
            clear: _,
            propose,
        }) => (
            propose,
            Action::SetAddresses {
                member: member_id(&member)?,
                addresses: address,
            },
        ),
        ProposeAction::RegisterAsset {
            code,
            decimals,
            issuer,
            propose,
        } => (
            propose,
            Action::RegisterAsset {
                code: asset_code(&code)?,
                decimals,
                issuer: member_id(&issuer)?,
            },
        ),
        ProposeAction::SetFee(args) => return set_fee(context, args),
        ProposeAction::SetEscrowDeadlineMax { blocks, propose } => (
            propose,
            Action::SetParams(ParamChange::EscrowDeadlineMax(blocks)),
        ),
        ProposeAction::SetCredit {
            rating_version,
            min_rating,
            period_blocks_max,
            propose,
        } => (
            propose,
            Action::SetParams(ParamChange::Credit {
                rating_version,
                min_rating,
                period_blocks_max,
            }),
        ),
        ProposeAction::SetCreditCap(args) => return set_credit_cap(context, args),
        ProposeAction::SetGovernance {
            activation_offset,
            voting_period_min,
            voting_period_max,
            propose,
        } => (
            propose,
            Action::SetParams(ParamChange::Governance(GovernanceParams {
                activation_offset,
                voting_period_min,
                voting_period_max,
            })),
        ),
    };
    let prepared = Prepared::new(context, &propose.options)?;
    send_proposal(context, &prepared, action, propose.voting_period)
}

/// Signs and sends a proposal; in human mode also says how to follow it.
fn send_proposal(
    context: &Context,
    prepared: &Prepared<'_>,
    action: Action,
    voting_period: u64,
) -> Result<(), CliError> {
    let submitted = prepared.submit(
        Body::Propose {
            action,
            voting_period,
        },
        Amount::ZERO,
    )?;
    let hash = submitted.hash;
    prepared.report(context, &submitted, None)?;
    if !context.json {
        print(&format!(
            "proposal {hash}: follow it with `clearhouse governance show {hash}`\n"
        ));
    }
    Ok(())
}

fn set_fee(context: &Context, args: SetFeeArgs) -> Result<(), CliError> {
    let asset = asset_code(&args.asset)?;
    let prepared = Prepared::new(context, &args.propose.options)?;
    let rule = match (&args.flat, args.none) {
        (Some(flat), false) => Some(FeeRule {
            flat: human_in(&prepared, flat, &asset, "--flat")?,
            basis_points: args.basis_points.unwrap_or(0),
            receiving_share: args.receiving_share,
        }),
        // clap's group: exactly one of --flat and --none.
        _ => None,
    };
    send_proposal(
        context,
        &prepared,
        Action::SetFee { asset, rule },
        args.propose.voting_period,
    )
}

fn set_credit_cap(context: &Context, args: SetCreditCapArgs) -> Result<(), CliError> {
    let asset = asset_code(&args.asset)?;
    let prepared = Prepared::new(context, &args.propose.options)?;
    let per_point = match (&args.per_point, args.none) {
        (Some(cap), false) => Some(human_in(&prepared, cap, &asset, "cap")?),
        _ => None,
    };
    send_proposal(
        context,
        &prepared,
        Action::SetParams(ParamChange::CreditCap { asset, per_point }),
        args.propose.voting_period,
    )
}

fn vote(context: &Context, args: &VoteArgs) -> Result<(), CliError> {
    let proposal = parse_hash(&args.proposal, "proposal id")?;
    let prepared = Prepared::new(context, &args.options)?;
    let submitted = prepared.submit(
        Body::Vote {
            proposal,
            // clap's group: exactly one of --yes and --no.
            approve: args.yes && !args.no,
        },
        Amount::ZERO,
    )?;
    prepared.report(context, &submitted, None)?;
    if !context.json
        && let Ok(Some(found)) = prepared.client.proposal(&proposal)
    {
        print(&format!(
            "proposal {proposal}: {}, {}\n",
            status_text(&found),
            tally_text(&found.tally)
        ));
    }
    Ok(())
}

fn list(
    context: &Context,
    status: Option<dto::ProposalFilter>,
    limit: Option<usize>,
) -> Result<(), CliError> {
    let found = context.client()?.proposals(status, limit)?;
    if context.json {
        print_json(&found);
        return Ok(());
    }
    if found.proposals.is_empty() {
        print(&format!(
            "no {}proposals at height {}\n",
            status.map(|s| format!("{s} ")).unwrap_or_default(),
            found.height
        ));
        return Ok(());
    }
    let mut table = Table::with_header(&[
        "proposal",
        "kind",
        "proposer",
        "status",
        "yes/no/total",
        "when",
    ]);
    for proposal in &found.proposals {
        table.row([
            proposal.id.clone(),
            proposal.action.kind().to_owned(),
            proposal.proposer.clone(),
            proposal.status.as_str().to_owned(),
            format!(
                "{}/{}/{}",
                proposal.tally.yes, proposal.tally.no, proposal.tally.total
            ),
            when_text(proposal),
        ]);
    }
    print(&table.render());
    Ok(())
}

fn show_one(context: &Context, id: &str) -> Result<(), CliError> {
    let id = parse_hash(id, "proposal id")?;
    let Some(proposal) = context.client()?.proposal(&id)? else {
        return Err(CliError::NotFound(format!("no proposal {id}")));
    };
    if context.json {
        print_json(&proposal);
        return Ok(());
    }
    let mut fields = Table::key_values();
    fields
        .field("proposal", proposal.id.as_str())
        .field("kind", proposal.action.kind())
        .field("proposer", proposal.proposer.as_str())
        .field("status", status_text(&proposal))
        .field("proposed at", proposal.proposed_at.to_string())
        .field("voting ends", proposal.voting_ends.to_string());
    if let Some(code) = &proposal.reason_code {
        fields
            .field("reason", cell(proposal.reason.as_deref()))
            .field("reason code", code.as_str());
    }
    fields.field("tally", tally_text(&proposal.tally));
    for (name, value) in action_fields(&proposal.action) {
        fields.field(name, value);
    }
    let mut votes = Table::with_header(&["member", "vote"]);
    for vote in &proposal.votes {
        votes.row([
            vote.member.clone(),
            if vote.approve { "yes" } else { "no" }.to_owned(),
        ]);
    }
    print(&format!("{}\n{}", fields.render(), votes.render()));
    Ok(())
}

/// `passed at 12, takes effect at 22`, `voting`, `applied at 22`.
fn status_text(proposal: &dto::Proposal) -> String {
    let status = proposal.status.as_str();
    match (proposal.status_at, proposal.activates_at) {
        (Some(at), Some(activates_at)) => {
            format!("{status} at {at}, takes effect at {activates_at}")
        }
        (Some(at), None) => format!("{status} at {at}"),
        _ => status.to_owned(),
    }
}

/// The height that matters next (or last) for a proposal in a list.
fn when_text(proposal: &dto::Proposal) -> String {
    match (proposal.status, proposal.activates_at, proposal.status_at) {
        (dto::ProposalStatus::Voting, _, _) => format!("votes until {}", proposal.voting_ends),
        (_, Some(activates_at), _) => format!("activates at {activates_at}"),
        (status, None, Some(at)) => format!("{status} at {at}"),
        (status, None, None) => status.as_str().to_owned(),
    }
}

/// `30 yes, 0 no of 40 (passes above 26.67)`.
fn tally_text(tally: &dto::Tally) -> String {
    format!(
        "{} yes, {} no of {} voting power",
        tally.yes, tally.no, tally.total
    )
}

/// An action's fields for people, in a fixed order.
pub(crate) fn action_fields(action: &dto::Action) -> Vec<(&'static str, String)> {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    match action {
        dto::Action::AddMember {
            id,
            name,
            validator_key,
            network_key,
            voting_power,
            treasury,
            governance,
            api_key,
            sealing_key,
            addresses,
        } => vec![
            ("member", id.clone()),
            ("name", name.clone()),
            ("voting power", voting_power.to_string()),
            ("validator key", validator_key.clone()),
            ("network key", network_key.clone()),
            ("treasury", treasury.clone()),
            ("governance", governance.clone()),
            ("api key", cell(api_key.as_deref())),
            ("sealing key", cell(sealing_key.as_deref())),
            ("addresses", list(addresses)),
        ],
        dto::Action::RemoveMember { member }
        | dto::Action::SuspendMember { member }
        | dto::Action::ReinstateMember { member } => vec![("member", member.clone())],
        dto::Action::SuspendForEvidence { evidence } => vec![("evidence", evidence.clone())],
        dto::Action::SetVotingPower {
            member,
            voting_power,
        } => vec![
            ("member", member.clone()),
            ("voting power", voting_power.to_string()),
        ],
        dto::Action::RotateValidatorKey {
            member,
            validator_key,
        } => vec![
            ("member", member.clone()),
            ("validator key", validator_key.clone()),
        ],
        dto::Action::SetAddresses { member, addresses } => {
            vec![("member", member.clone()), ("addresses", list(addresses))]
        }
        dto::Action::RegisterAsset {
            code,
            decimals,
            issuer,
        } => vec![
            ("asset", code.clone()),
            ("decimals", decimals.to_string()),
            ("issuer", issuer.clone()),
        ],
        dto::Action::SetFee { asset, rule } => {
            let mut fields = vec![("asset", asset.clone())];
            match rule {
                Some(rule) => fields.extend([
                    ("flat fee", value_text(&rule.flat)),
                    ("basis points", rule.basis_points.to_string()),
                    ("receiving share", rule.receiving_share.to_string()),
                ]),
                None => fields.push(("fee rule", "none (free)".to_owned())),
            }
            fields
        }
        dto::Action::SetParams { change } => match change {
            dto::ParamChange::EscrowDeadlineMax {
                deadline_blocks_max,
            } => vec![
                ("parameter", "escrow deadline max".to_owned()),
                ("blocks", deadline_blocks_max.to_string()),
            ],
            dto::ParamChange::Credit {
                rating_version,
                min_rating,
                period_blocks_max,
            } => vec![
                ("parameter", "credit".to_owned()),
                ("rating version", rating_version.to_string()),
                ("min rating", min_rating.to_string()),
                ("period blocks max", period_blocks_max.to_string()),
            ],
            dto::ParamChange::CreditCap { asset, per_point } => vec![
                ("parameter", "credit cap".to_owned()),
                ("asset", asset.clone()),
                (
                    "per rating point",
                    per_point
                        .as_ref()
                        .map_or_else(|| "none (no credit)".to_owned(), value_text),
                ),
            ],
            dto::ParamChange::Governance {
                activation_offset,
                voting_period_min,
                voting_period_max,
            } => vec![
                ("parameter", "governance".to_owned()),
                ("activation offset", activation_offset.to_string()),
                ("voting period min", voting_period_min.to_string()),
                ("voting period max", voting_period_max.to_string()),
            ],
        },
    }
}

fn filter(status: ProposalStatusArg) -> dto::ProposalFilter {
    match status {
        ProposalStatusArg::Open => dto::ProposalFilter::Open,
        ProposalStatusArg::Voting => dto::ProposalFilter::Voting,
        ProposalStatusArg::Passed => dto::ProposalFilter::Passed,
        ProposalStatusArg::Applied => dto::ProposalFilter::Applied,
        ProposalStatusArg::Failed => dto::ProposalFilter::Failed,
        ProposalStatusArg::Rejected => dto::ProposalFilter::Rejected,
        ProposalStatusArg::Expired => dto::ProposalFilter::Expired,
    }
}

/// The new bank of `add-member`, from its flags or its file.
fn new_member(args: &AddMemberArgs) -> Result<NewMember, CliError> {
    let entry = match &args.from_file {
        Some(path) => read_member_file(path)?,
        None => {
            // clap requires each of these unless --from-file is given.
            let required = |value: &Option<String>, flag: &str| {
                value
                    .clone()
                    .ok_or_else(|| CliError::Usage(format!("--{flag} is required")))
            };
            MemberEntry {
                id: required(&args.id, "id")?,
                name: required(&args.name, "name")?,
                validator_key: required(&args.validator_key, "validator-key")?,
                network_key: required(&args.network_key, "network-key")?,
                voting_power: args
                    .voting_power
                    .ok_or_else(|| CliError::Usage("--voting-power is required".into()))?,
                treasury: required(&args.treasury, "treasury")?,
                governance_key: required(&args.governance_key, "governance-key")?,
                addresses: args.address.clone(),
                api_key: args.api_key.clone(),
                sealing_key: args.sealing_key.clone(),
            }
        }
    };
    Ok(NewMember {
        id: member_id(&entry.id)?,
        name: entry.name,
        validator_key: ValidatorKey(key32(&entry.validator_key, "validator key")?),
        network_key: key32(&entry.network_key, "network key")?,
        voting_power: entry.voting_power,
        treasury: parse_account(&entry.treasury, "treasury")?,
        governance: parse_account(&entry.governance_key, "governance key")?,
        api_key: entry
            .api_key
            .as_deref()
            .map(|key| key32(key, "API key"))
            .transpose()?,
        sealing_key: entry
            .sealing_key
            .as_deref()
            .map(|key| {
                SealingKey::from_hex(key.trim())
                    .map_err(|e| CliError::Usage(format!("invalid sealing key: {e}")))
            })
            .transpose()?,
        addresses: entry.addresses,
    })
}

/// The one `[[members]]` table of a TOML file, written as in a genesis
/// file (read by the genesis parser, so the fields are exactly a genesis
/// member's).
fn read_member_file(path: &Path) -> Result<MemberEntry, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let bad = |why: String| {
        CliError::Usage(format!(
            "{} is not one genesis [[members]] table (id, name, validator_key, network_key, \
             voting_power, treasury, governance_key, …): {why}",
            path.display()
        ))
    };
    // The genesis file's two required top-level keys go before the file's
    // tables; the rest of a genesis is optional.
    let fragment = format!("chain_name = \"\"\ngenesis_time_ms = 0\n{text}");
    let mut file = GenesisFile::from_toml(&fragment).map_err(|e| bad(e.to_string()))?;
    match (file.members.pop(), file.members.is_empty()) {
        (Some(entry), true) => Ok(entry),
        (found, _) => Err(bad(format!(
            "{} member tables",
            file.members.len() + usize::from(found.is_some())
        ))),
    }
}

/// An amount of `asset` typed `"0.01 CNY"` or `"0.01"`, in minor units with
/// the asset's decimals as the chain (or the genesis) states them.
fn human_in(
    prepared: &Prepared<'_>,
    text: &str,
    asset: &AssetCode,
    what: &str,
) -> Result<Amount, CliError> {
    let human = if text.split_whitespace().count() == 1 {
        HumanAmount::parse(&format!("{} {}", text.trim(), asset.as_str()))?
    } else {
        HumanAmount::parse(text)?
    };
    if human.asset != *asset {
        return Err(CliError::Usage(format!(
            "invalid {what} {human}: it is an amount of {}",
            asset.as_str()
        )));
    }
    let decimals = prepared.decimals(asset, None)?;
    human.to_minor_units(decimals)
}

fn member_id(text: &str) -> Result<MemberId, CliError> {
    MemberId::new(text.trim())
        .map_err(|e| CliError::Usage(format!("invalid member id {text:?}: {e}")))
}

fn asset_code(text: &str) -> Result<AssetCode, CliError> {
    AssetCode::new(text.trim())
        .map_err(|e| CliError::Usage(format!("invalid asset code {text:?}: {e}")))
}

/// A 32-byte key given as 64 hex digits (exit 2 otherwise).
fn key32(text: &str, what: &str) -> Result<[u8; 32], CliError> {
    let bytes = hex::decode(text.trim())
        .map_err(|e| CliError::Usage(format!("invalid {what}: not hex ({e})")))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        CliError::Usage(format!(
            "invalid {what}: {} bytes, expected 32 (64 hex digits)",
            bytes.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_hex_digits() {
        assert_eq!(key32(&"ab".repeat(32), "key").unwrap(), [0xab; 32]);
        assert_eq!(key32("abcd", "key").unwrap_err().exit_code(), 2);
        assert_eq!(key32("zz", "key").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn member_files_are_genesis_member_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bank.toml");
        let key = "11".repeat(32);
        std::fs::write(
            &path,
            format!(
                "[[members]]\nid = \"bank-9\"\nname = \"Bank Nine\"\nvalidator_key = \"{key}\"\n\
                 network_key = \"{key}\"\nvoting_power = 10\ntreasury = \"{key}\"\n\
                 governance_key = \"{key}\"\naddresses = [\"/ip4/10.0.0.9/tcp/7000\"]\n"
            ),
        )
        .unwrap();
        let entry = read_member_file(&path).unwrap();
        assert_eq!(entry.id, "bank-9");
        assert_eq!(entry.addresses.len(), 1);
        std::fs::write(&path, "[[members]]\nid = \"bank-9\"\nunknown = 1\n").unwrap();
        assert_eq!(read_member_file(&path).unwrap_err().exit_code(), 2);
        std::fs::write(&path, "id = \"bank-9\"\n").unwrap();
        assert_eq!(read_member_file(&path).unwrap_err().exit_code(), 2);
    }
}
