//! `clearhouse validators [--height H] [--changes]`: the validator set in
//! force at a height, or the chain's every set change, as the node's
//! `/v1/validators` and `/v1/validators/changes` answer them.
//!
//! It shows the node's word; `audit verify` and `audit proof` are what
//! check the sets against the genesis.

use clearhouse_node::api::dto;

use crate::cli::ValidatorsArgs;
use crate::commands::Context;
use crate::exit::CliError;
use crate::output::{Table, print, print_json};

/// Runs `clearhouse validators`.
pub fn run(context: &Context, args: &ValidatorsArgs) -> Result<(), CliError> {
    let client = context.client()?;
    if args.changes {
        let changes = client.validator_changes()?;
        if context.json {
            print_json(&changes);
        } else {
            print(&changes_text(&changes));
        }
        return Ok(());
    }
    if args.height == Some(0) {
        return Err(CliError::Usage(
            "--height starts at 1 (block 1 is the first after genesis)".into(),
        ));
    }
    let set = client.validators(args.height)?;
    if context.json {
        print_json(&set);
    } else {
        print(&set_text(&set));
    }
    Ok(())
}

/// The set at a height: its facts, then one row per validator.
pub fn set_text(set: &dto::ValidatorSetAt) -> String {
    let mut fields = Table::key_values();
    fields
        .field("height", set.height.to_string())
        .field("tip", set.tip.to_string())
        .field("in force from", set.from_height.to_string())
        .field("set hash", set.set_hash.as_str())
        .field("total power", set.total_power.to_string())
        .field("quorum power", set.quorum_power.to_string());
    format!("{}\n{}", fields.render(), validators_table(&set.validators))
}

/// Every change: one row per set, then what changed, one line each.
pub fn changes_text(changes: &dto::ValidatorSetChanges) -> String {
    let mut table = Table::with_header(&[
        "from height",
        "set hash",
        "validators",
        "total power",
        "quorum power",
        "changes",
    ]);
    for change in &changes.changes {
        table.row([
            change.from_height.to_string(),
            change.set_hash.clone(),
            change.validators.len().to_string(),
            change.total_power.to_string(),
            change.quorum_power.to_string(),
            summary(change),
        ]);
    }
    format!("tip {}\n{}", changes.tip, table.render())
}

/// What changed from the previous set, in a few words.
fn summary(change: &dto::ValidatorSetChange) -> String {
    if change.from_height == 1 {
        return "genesis".into();
    }
    let mut parts: Vec<String> = Vec::new();
    parts.extend(change.joined.iter().map(|v| format!("+{}", v.member)));
    parts.extend(change.left.iter().map(|v| format!("-{}", v.member)));
    parts.extend(
        change
            .power_changed
            .iter()
            .map(|p| format!("{} power {}→{}", p.member, p.from, p.to)),
    );
    parts.extend(change.key_changed.iter().map(|k| {
        format!(
            "{} key {}…→{}…",
            k.member,
            k.from.get(..8).unwrap_or(&k.from),
            k.to.get(..8).unwrap_or(&k.to)
        )
    }));
    if parts.is_empty() {
        "order".into()
    } else {
        parts.join(", ")
    }
}

fn validators_table(validators: &[dto::Validator]) -> String {
    let mut table = Table::with_header(&["validator", "key", "voting power"]);
    for validator in validators {
        table.row([
            validator.member.clone(),
            validator.key.clone(),
            validator.voting_power.to_string(),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(member: &str, power: u64) -> dto::Validator {
        dto::Validator {
            member: member.into(),
            key: "ab".repeat(32),
            voting_power: power,
        }
    }

    #[test]
    fn a_change_reads_as_who_joined_left_and_changed() {
        let change = dto::ValidatorSetChange {
            from_height: 12,
            set_hash: "cd".repeat(32),
            total_power: 42,
            quorum_power: 29,
            validators: vec![validator("bank-0", 12), validator("bank-4", 10)],
            joined: vec![validator("bank-4", 10)],
            left: vec![validator("bank-3", 10)],
            power_changed: vec![dto::PowerChange {
                member: "bank-0".into(),
                from: 10,
                to: 12,
            }],
            key_changed: Vec::new(),
            handover: None,
        };
        assert_eq!(summary(&change), "+bank-4, -bank-3, bank-0 power 10→12");
        let text = changes_text(&dto::ValidatorSetChanges {
            tip: 20,
            changes: vec![change],
            next_from: None,
        });
        assert!(text.starts_with("tip 20\n"), "{text}");
        assert!(text.contains("+bank-4"), "{text}");
    }
}
