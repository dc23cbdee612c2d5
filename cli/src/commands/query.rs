//! Queries: `status` (with the member banks), `account show`, `tx show`,
//! `block show`.
//!
//! Each reads the node's typed answer (`clearhouse_node::api::dto`). With
//! `--json` it prints that answer back as JSON (the node's keys; fields a
//! newer node adds and this build does not know are dropped); otherwise an
//! aligned table of the fields people look at.

use clearhouse_ledger::AssetCode;
use clearhouse_ledger::payment::EndToEndId;
use clearhouse_node::api::dto::{self, Body, DetailsForm, Role, TxState};

use crate::amount;
use crate::commands::transaction::human_fee;
use crate::commands::{Context, parse_account, parse_hash};
use crate::exit::CliError;
use crate::output::{Table, cell, print, print_json};

/// `clearhouse status`.
pub fn status(context: &Context) -> Result<(), CliError> {
    let status = context.client()?.status()?;
    if context.json {
        print_json(&status);
        return Ok(());
    }
    let role = match status.role {
        Role::Validator => "validator",
        Role::Observer => "observer",
    };
    let mut fields = Table::key_values();
    fields
        .field("chain id", status.chain_id.as_str())
        .field("node", status.node.as_str())
        .field("role", role)
        .field("height", status.height.to_string())
        .field("latest block", status.latest_block_hash.as_str())
        .field("state root", status.state_root.as_str())
        .field("round", status.round.to_string())
        .field("mempool", status.mempool_size.to_string())
        .field("peers", status.peers.len().to_string())
        .field("caller", caller_text(&status.caller));
    let mut validators = Table::with_header(&["validator", "key", "voting power"]);
    for validator in &status.validators {
        validators.row([
            validator.member.clone(),
            validator.key.clone(),
            validator.voting_power.to_string(),
        ]);
    }
    let mut members =
        Table::with_header(&["member", "name", "status", "voting power", "governance"]);
    for member in &status.members {
        members.row([
            member.id.clone(),
            member.name.clone(),
            member.status.as_str().to_owned(),
            member.voting_power.to_string(),
            member.governance.clone(),
        ]);
    }
    if members.is_empty() {
        print(&format!("{}\n{}", fields.render(), validators.render()));
    } else {
        print(&format!(
            "{}\n{}\n{}",
            fields.render(),
            validators.render(),
            members.render()
        ));
    }
    Ok(())
}

/// Whom the node took the caller to be, for people.
pub fn caller_text(caller: &dto::CallerInfo) -> String {
    match (caller.role.as_str(), &caller.bank) {
        ("public" | "", _) => "public (unsigned; pass --auth-key FILE to sign)".to_owned(),
        (role, Some(bank)) => format!("{role} {} of {bank}", caller.id),
        (role, None) => format!("{role} {}", caller.id),
    }
}

/// `clearhouse account show ACCOUNT`.
pub fn account(context: &Context, account: &str) -> Result<(), CliError> {
    let id = parse_account(account, "account")?;
    let client = context.client()?;
    let Some(account) = client.account(&id)? else {
        return Err(CliError::NotFound(format!(
            "account {id} is not registered"
        )));
    };
    if context.json {
        print_json(&account);
        return Ok(());
    }
    let mut fields = Table::key_values();
    fields
        .field("account", account.account.as_str())
        .field("bank", account.bank.as_str())
        .field("nonce", account.nonce.to_string());
    let mut balances = Table::with_header(&["asset", "balance", "minor units"]);
    for balance in &account.balances {
        balances.row([
            cell(balance.asset.as_deref()),
            cell(balance.amount.as_deref()),
            balance.minor_units.clone(),
        ]);
    }
    if balances.is_empty() {
        print(&format!("{}\nno balances\n", fields.render()));
    } else {
        print(&format!("{}\n{}", fields.render(), balances.render()));
    }
    Ok(())
}

/// `clearhouse tx show HASH`.
pub fn transaction(context: &Context, hash: &str) -> Result<(), CliError> {
    let hash = parse_hash(hash, "transaction hash")?;
    let found = context.client()?.transaction(&hash, 0)?;
    if found.status == TxState::Unknown {
        return Err(CliError::NotFound(format!(
            "transaction {hash} is unknown to the node"
        )));
    }
    if context.json {
        print_json(&found);
        return Ok(());
    }
    let asset = found
        .transaction
        .as_ref()
        .and_then(|tx| tx.body.value())
        .and_then(value_asset);
    let mut fields = Table::key_values();
    fields
        .field("hash", hash.to_hex())
        .field("status", found.status.as_str());
    if found.status != TxState::Pending {
        fields
            .field("height", cell(found.height))
            .field("index", cell(found.index))
            .field("outcome", cell(found.outcome));
    }
    if let Some(fee) = &found.fee {
        fields.field("fee", human_fee(fee, asset.as_ref()));
    }
    if let Some(counter_fee) = &found.counter_fee {
        let take = found.transaction.as_ref().and_then(|tx| match &tx.body {
            Body::Swap { take, .. } => value_asset(take),
            _ => None,
        });
        fields.field("counter fee", human_fee(counter_fee, take.as_ref()));
    }
    if let Some(converted) = &found.converted {
        let decimals = context
            .client()?
            .asset(&converted.asset)
            .ok()
            .flatten()
            .map(|asset| asset.decimals);
        let received = match (converted.minor_units.parse::<u128>(), decimals) {
            (Ok(units), Some(decimals)) => {
                crate::amount::format(clearhouse_ledger::Amount(units), decimals, &converted.asset)
            }
            _ => format!(
                "{} minor units of {}",
                converted.minor_units, converted.asset
            ),
        };
        fields.field("received", received).field(
            "rate",
            format!(
                "{} / {} (minor units out per minor units in)",
                converted.rate.numerator, converted.rate.denominator
            ),
        );
    }
    if let Some(reason) = &found.reason {
        fields
            .field("reason", reason.as_str())
            .field("reason code", cell(found.reason_code.as_deref()));
    }
    if let Some(tx) = &found.transaction {
        fields
            .field("kind", tx.body.kind())
            .field("sender", tx.sender.as_str());
        for (name, value) in body_fields(&tx.body) {
            fields.field(name, value);
        }
        fields
            .field("max fee", human_fee(&tx.max_fee, asset.as_ref()))
            .field("nonce", tx.nonce.to_string())
            .field("expiry height", tx.expiry_height.to_string());
    }
    print(&fields.render());
    Ok(())
}

/// `clearhouse tx find --end-to-end-id ID`.
pub fn find_transactions(
    context: &Context,
    end_to_end_id: &str,
    limit: usize,
) -> Result<(), CliError> {
    EndToEndId::new(end_to_end_id).map_err(|e| CliError::Usage(e.to_string()))?;
    let found = context.client()?.find_transactions(end_to_end_id, limit)?;
    if found.transactions.is_empty() {
        return Err(CliError::NotFound(format!(
            "no committed payment with end-to-end id {end_to_end_id:?} that this caller may see"
        )));
    }
    if context.json {
        print_json(&found);
        return Ok(());
    }
    let mut table = Table::with_header(&[
        "hash",
        "height",
        "status",
        "sender",
        "to",
        "amount",
        "remittance",
    ]);
    for status in &found.transactions {
        let Some(tx) = &status.transaction else {
            continue;
        };
        let (to, value, remittance) = match &tx.body {
            Body::Payment {
                to,
                value,
                remittance,
                ..
            } => (
                to.as_str(),
                value_text(value),
                remittance.as_deref().unwrap_or(SEALED_UNREADABLE),
            ),
            _ => ("", String::new(), ""),
        };
        table.row([
            status.hash.clone(),
            cell(status.height),
            status.status.as_str().to_owned(),
            tx.sender.clone(),
            to.to_owned(),
            value,
            remittance.to_owned(),
        ]);
    }
    print(&table.render());
    Ok(())
}

/// What a sealed field shows where the node could not open it.
const SEALED_UNREADABLE: &str = "(sealed: this node cannot open it)";

/// A body's fields for people, in a fixed order: parties and references
/// first, amounts last.
fn body_fields(body: &Body) -> Vec<(&'static str, String)> {
    match body {
        Body::Transfer { to, value } | Body::Issue { to, value } => {
            vec![("to", to.clone()), ("amount", value_text(value))]
        }
        Body::Payment {
            to,
            value,
            details,
            end_to_end_id,
            remittance,
            sealed_for,
        } => {
            let mut fields = vec![("to", to.clone())];
            fields.extend(details_fields(
                *details,
                end_to_end_id,
                remittance,
                sealed_for,
            ));
            fields.push(("amount", value_text(value)));
            fields
        }
        Body::CrossTransfer {
            to,
            value,
            quote,
            details,
            end_to_end_id,
            remittance,
            sealed_for,
        } => {
            let mut fields = vec![("to", to.clone()), ("quote", quote.clone())];
            fields.extend(details_fields(
                *details,
                end_to_end_id,
                remittance,
                sealed_for,
            ));
            fields.push(("amount", value_text(value)));
            fields
        }
        Body::Swap {
            counterparty,
            give,
            take,
            counter_fee,
            counter_signature,
        } => vec![
            ("counterparty", counterparty.clone()),
            ("counter signature", counter_signature.clone()),
            ("counter max fee", counter_fee.clone()),
            ("gives", value_text(give)),
            ("takes", value_text(take)),
        ],
        Body::QuotePost {
            pay_asset,
            receive_asset,
            rate,
            maximum,
            valid_until,
        } => vec![
            ("pays", pay_asset.clone()),
            ("receives", receive_asset.clone()),
            (
                "rate",
                format!("{} / {} (minor units)", rate.numerator, rate.denominator),
            ),
            ("valid until", valid_until.to_string()),
            ("maximum", value_text(maximum)),
        ],
        Body::QuoteWithdraw { quote } => vec![("quote", quote.clone())],
        Body::Propose {
            action,
            voting_period,
        } => {
            let mut fields = vec![
                ("action", action.kind().to_owned()),
                ("voting period", format!("{voting_period} blocks")),
            ];
            fields.extend(crate::commands::governance::action_fields(action));
            fields
        }
        Body::Vote { proposal, approve } => vec![
            ("proposal", proposal.clone()),
            ("vote", if *approve { "yes" } else { "no" }.to_owned()),
        ],
        Body::Redeem { value } => vec![("amount", value_text(value))],
        Body::RegisterAccount { account } => vec![("account", account.clone())],
        Body::EscrowOpen {
            seller,
            value,
            arbiter,
            confirm_deadline,
            arbiter_deadline,
            reference,
        } => vec![
            ("seller", seller.clone()),
            ("arbiter", arbiter.clone()),
            ("confirm deadline", confirm_deadline.to_string()),
            ("arbiter deadline", arbiter_deadline.to_string()),
            ("reference", reference.clone()),
            ("amount", value_text(value)),
        ],
        Body::EscrowRelease { escrow }
        | Body::EscrowRefund { escrow }
        | Body::EscrowDispute { escrow } => vec![("escrow", escrow.clone())],
        Body::EscrowResolve { escrow, to_seller } => vec![
            ("escrow", escrow.clone()),
            ("to seller", value_text(to_seller)),
        ],
        Body::CreditGrant {
            account,
            limit,
            period_blocks,
        } => vec![
            ("account", account.clone()),
            ("period blocks", period_blocks.to_string()),
            ("limit", value_text(limit)),
        ],
        Body::CreditRevoke { account, asset } => {
            vec![("account", account.clone()), ("asset", asset.clone())]
        }
        Body::CreditAttest {
            account,
            positive,
            category,
            reference,
        } => vec![
            ("account", account.clone()),
            ("positive", positive.to_string()),
            ("category", category.clone()),
            ("reference", reference.clone()),
        ],
    }
}

/// A payment's data for people: who may read it, and what it says here.
fn details_fields(
    details: DetailsForm,
    end_to_end_id: &Option<String>,
    remittance: &Option<String>,
    sealed_for: &[String],
) -> Vec<(&'static str, String)> {
    let readable =
        |text: &Option<String>| text.clone().unwrap_or_else(|| SEALED_UNREADABLE.to_owned());
    let form = match details {
        DetailsForm::Clear => "in the clear".to_owned(),
        DetailsForm::Sealed | DetailsForm::SealedUnreadable => {
            format!("sealed for {} keys", sealed_for.len())
        }
    };
    vec![
        ("end-to-end id", readable(end_to_end_id)),
        ("remittance", readable(remittance)),
        ("details", form),
    ]
}

/// `clearhouse block show HEIGHT|latest`. `latest` asks for the latest
/// height, then shows that block like any other (with its receipts).
pub fn block(context: &Context, height: &str) -> Result<(), CliError> {
    let client = context.client()?;
    let height = if height.trim() == "latest" {
        client.latest_block()?.height
    } else {
        height.trim().parse::<u64>().map_err(|_| {
            CliError::Usage(format!(
                "invalid height {height:?}: expected a number or \"latest\""
            ))
        })?
    };
    let block = client.block(height)?;
    if context.json {
        print_json(&block);
        return Ok(());
    }
    let mut fields = Table::key_values();
    fields
        .field("height", block.height.to_string())
        .field("hash", block.hash.as_str())
        .field("previous hash", block.previous_hash.as_str())
        .field("proposer", block.proposer.as_str())
        .field("timestamp ms", block.timestamp_ms.to_string())
        .field("tx root", block.tx_root.as_str())
        .field("signatures root", block.signatures_root.as_str())
        .field("state root", block.state_root.as_str())
        .field("receipts root", block.receipts_root.as_str())
        .field("validator set", block.validator_set_hash.as_str())
        .field("transactions", block.transactions.len().to_string());
    let mut table = Table::with_header(&["index", "hash", "kind", "amount", "outcome"]);
    let receipts = block.receipts.as_deref().unwrap_or_default();
    for (index, tx) in block.transactions.iter().enumerate() {
        let receipt = receipts.get(index);
        let outcome = match receipt.and_then(|r| r.reason_code.as_deref()) {
            Some(code) => format!("rejected ({code})"),
            None => cell(receipt.map(|r| r.outcome)),
        };
        table.row([
            index.to_string(),
            tx.hash.clone(),
            tx.body.kind().to_owned(),
            tx.body.value().map_or_else(|| "-".into(), value_text),
            outcome,
        ]);
    }
    if table.is_empty() {
        print(&fields.render());
    } else {
        print(&format!("{}\n{}", fields.render(), table.render()));
    }
    Ok(())
}

/// An amount for people: `12.50 CNY` (minor units when the node did not
/// know the decimals).
pub(crate) fn value_text(value: &dto::Amount) -> String {
    let asset = value.asset.as_deref().unwrap_or("");
    match &value.amount {
        Some(amount) => format!("{amount} {asset}"),
        None => format!("{} minor units of {asset}", value.minor_units),
    }
}

/// The asset and decimals of an amount, if the node told both.
pub(crate) fn value_asset(value: &dto::Amount) -> Option<(AssetCode, u8)> {
    let asset = AssetCode::new(value.asset.as_deref()?).ok()?;
    let decimals = amount::decimals_of(value.amount.as_deref()?)?;
    Some((asset, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearhouse_ledger::Amount;

    #[test]
    fn values_read_as_money() {
        let value = dto::Amount {
            asset: Some("CNY".into()),
            minor_units: "1250".into(),
            amount: Some("12.50".into()),
        };
        assert_eq!(value_text(&value), "12.50 CNY");
        let (asset, decimals) = value_asset(&value).unwrap();
        assert_eq!((asset.as_str(), decimals), ("CNY", 2));
        assert_eq!(
            amount::format(Amount(1250), decimals, asset.as_str()),
            "12.50 CNY"
        );
        let unknown = dto::Amount {
            amount: None,
            ..value
        };
        assert_eq!(value_text(&unknown), "1250 minor units of CNY");
    }
}
