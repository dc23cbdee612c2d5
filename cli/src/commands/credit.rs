//! `clearhouse credit grant|revoke|attest|show`.
//!
//! Grants, revocations and attestations are transactions signed by a bank's
//! treasury key (same options, receipts and exit codes as `transfer`); they
//! pay no fee. `show` prints the account's credit record, trust rating and
//! lines from `/v1/credit/{account}`.

use serde_json::Value;

use clearhouse_ledger::ids::Category;
use clearhouse_ledger::{Amount, AssetCode, Body};

use crate::cli::{CreditAttestArgs, CreditCommand, CreditGrantArgs};
use crate::client::ClientError;
use crate::commands::escrow::send_free;
use crate::commands::query::value_text;
use crate::commands::transaction::Priced;
use crate::commands::{Context, parse_account, reference_hash};
use crate::exit::CliError;
use crate::output::{Table, cell, print, print_json};

/// Runs a credit command.
pub fn run(context: &Context, command: CreditCommand) -> Result<(), CliError> {
    match command {
        CreditCommand::Grant(args) => grant(context, &args),
        CreditCommand::Revoke {
            account,
            asset,
            options,
        } => {
            let account = parse_account(&account, "--account")?;
            let asset = AssetCode::new(asset.trim())
                .map_err(|e| CliError::Usage(format!("invalid --asset: {e}")))?;
            send_free(context, &options, Body::CreditRevoke { account, asset })
        }
        CreditCommand::Attest(args) => attest(context, &args),
        CreditCommand::Show { account } => show(context, &account),
    }
}

fn grant(context: &Context, args: &CreditGrantArgs) -> Result<(), CliError> {
    let account = parse_account(&args.account, "--account")?;
    if args.period_blocks == 0 {
        return Err(CliError::Usage("--period-blocks must be at least 1".into()));
    }
    let priced = Priced::new(context, &args.options, &args.limit, None, Some(&account))?;
    let body = Body::CreditGrant {
        account,
        asset: priced.asset.clone(),
        limit: priced.amount,
        period_blocks: args.period_blocks,
    };
    priced.send(context, body, Amount::ZERO)
}

fn attest(context: &Context, args: &CreditAttestArgs) -> Result<(), CliError> {
    let account = parse_account(&args.account, "--account")?;
    let category = Category::new(args.category.trim())
        .map_err(|e| CliError::Usage(format!("invalid --category: {e}")))?;
    let reference = reference_hash(
        args.reference.as_deref(),
        args.evidence.as_deref(),
        "evidence",
    )?;
    if args.positive == args.negative {
        return Err(CliError::Usage(
            "give exactly one of --positive and --negative".into(),
        ));
    }
    let body = Body::CreditAttest {
        account,
        positive: args.positive,
        category,
        reference,
    };
    send_free(context, &args.options, body)
}

fn show(context: &Context, account: &str) -> Result<(), CliError> {
    let id = parse_account(account, "account")?;
    let credit = match context
        .client()?
        .get(&format!("/v1/credit/{}", id.to_hex()))
    {
        Ok(value) => value,
        Err(ClientError::Http { status: 404, .. }) => {
            return Err(CliError::NotFound(format!(
                "account {id} is not registered"
            )));
        }
        Err(error) => return Err(error.into()),
    };
    if context.json {
        print_json(&credit);
        return Ok(());
    }
    print(&render(&credit));
    Ok(())
}

fn render(credit: &Value) -> String {
    let record = &credit["record"];
    let escrows = &record["escrows"];
    let mut fields = Table::key_values();
    fields
        .field("account", cell(&credit["account"]))
        .field("bank", cell(&credit["bank"]))
        .field(
            "rating",
            format!(
                "{} (formula v{}, credit from {})",
                cell(&credit["rating"]),
                cell(&credit["rating_version"]),
                cell(&credit["min_rating"])
            ),
        )
        .field(
            "escrows",
            format!(
                "{} completed, {} refunded, {} disputed, {} won, {} lost",
                cell(&escrows["completed"]),
                cell(&escrows["refunded"]),
                cell(&escrows["disputed"]),
                cell(&escrows["won"]),
                cell(&escrows["lost"])
            ),
        )
        .field("repaid on time", cell(&record["repaid_on_time"]))
        .field(
            "overdue",
            format!(
                "{} events, {} open now",
                cell(&record["overdue_events"]),
                cell(&record["overdue_open"])
            ),
        );
    let mut out = fields.render();

    let mut payments = Table::with_header(&[
        "asset",
        "sent",
        "sent volume",
        "received",
        "received volume",
    ]);
    let received = record["payments_received"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let sent = record["payments_sent"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut assets: Vec<String> = sent
        .iter()
        .chain(&received)
        .filter_map(|t| t["asset"].as_str().map(str::to_owned))
        .collect();
    assets.sort();
    assets.dedup();
    for asset in assets {
        let find = |list: &[Value]| list.iter().find(|t| t["asset"] == asset.as_str()).cloned();
        let (s, r) = (find(&sent), find(&received));
        payments.row([
            asset.clone(),
            s.as_ref().map_or("0".into(), |t| cell(&t["count"])),
            s.as_ref().map_or("-".into(), |t| value_text(&t["volume"])),
            r.as_ref().map_or("0".into(), |t| cell(&t["count"])),
            r.as_ref().map_or("-".into(), |t| value_text(&t["volume"])),
        ]);
    }
    if !payments.is_empty() {
        out.push('\n');
        out.push_str(&payments.render());
    }

    let mut lines = Table::with_header(&[
        "line",
        "limit",
        "usable",
        "drawn",
        "available",
        "overdue",
        "period",
    ]);
    for line in credit["lines"].as_array().into_iter().flatten() {
        lines.row([
            cell(&line["asset"]),
            value_text(&line["limit"]),
            value_text(&line["usable"]),
            value_text(&line["drawn"]),
            value_text(&line["available"]),
            value_text(&line["overdue"]),
            format!("{} blocks", cell(&line["period_blocks"])),
        ]);
    }
    if !lines.is_empty() {
        out.push('\n');
        out.push_str(&lines.render());
    }

    let mut history = Table::with_header(&["credit", "drawn", "repaid", "gone overdue"]);
    for tally in record["credit"].as_array().into_iter().flatten() {
        history.row([
            cell(&tally["asset"]),
            value_text(&tally["drawn"]),
            value_text(&tally["repaid"]),
            value_text(&tally["overdue"]),
        ]);
    }
    if !history.is_empty() {
        out.push('\n');
        out.push_str(&history.render());
    }

    let mut attestations =
        Table::with_header(&["attested by", "verdict", "category", "at", "reference"]);
    for a in record["attestations"].as_array().into_iter().flatten() {
        attestations.row([
            cell(&a["bank"]),
            if a["positive"] == true {
                "positive"
            } else {
                "negative"
            }
            .to_owned(),
            cell(&a["category"]),
            cell(&a["at"]),
            cell(&a["reference"]),
        ]);
    }
    if !attestations.is_empty() {
        out.push('\n');
        out.push_str(&attestations.render());
    }
    out
}
