//! `clearhouse credit grant|revoke|attest|show`.
//!
//! Grants, revocations and attestations are transactions signed by a bank's
//! treasury key (same options, receipts and exit codes as `transfer`); they
//! pay no fee. `show` prints the account's credit record, trust rating and
//! lines from `/v1/credit/{account}`.

use clearhouse_ledger::ids::Category;
use clearhouse_ledger::{Amount, AssetCode, Body};
use clearhouse_node::api::dto::{Credit, PaymentTally};

use crate::cli::{CreditAttestArgs, CreditCommand, CreditGrantArgs};
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
    let Some(credit) = context.client()?.credit(&id)? else {
        return Err(CliError::NotFound(format!(
            "account {id} is not registered"
        )));
    };
    if context.json {
        print_json(&credit);
        return Ok(());
    }
    print(&render(&credit));
    Ok(())
}

fn render(credit: &Credit) -> String {
    let record = &credit.record;
    let escrows = &record.escrows;
    let mut fields = Table::key_values();
    fields
        .field("account", credit.account.as_str())
        .field("bank", credit.bank.as_str())
        .field(
            "rating",
            format!(
                "{} (formula v{}, credit from {})",
                cell(credit.rating),
                credit.rating_version,
                credit.min_rating
            ),
        )
        .field(
            "escrows",
            format!(
                "{} completed, {} refunded, {} disputed, {} won, {} lost",
                escrows.completed, escrows.refunded, escrows.disputed, escrows.won, escrows.lost
            ),
        )
        .field("repaid on time", record.repaid_on_time.to_string())
        .field(
            "overdue",
            format!(
                "{} events, {} open now",
                record.overdue_events, record.overdue_open
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
    let (sent, received) = (&record.payments_sent, &record.payments_received);
    let mut assets: Vec<&str> = sent
        .iter()
        .chain(received)
        .map(|t| t.asset.as_str())
        .collect();
    assets.sort_unstable();
    assets.dedup();
    for asset in assets {
        let find = |list: &[PaymentTally]| list.iter().find(|t| t.asset == asset).cloned();
        let (s, r) = (find(sent), find(received));
        payments.row([
            asset.to_owned(),
            s.as_ref().map_or("0".into(), |t| t.count.to_string()),
            s.as_ref().map_or("-".into(), |t| value_text(&t.volume)),
            r.as_ref().map_or("0".into(), |t| t.count.to_string()),
            r.as_ref().map_or("-".into(), |t| value_text(&t.volume)),
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
    for line in &credit.lines {
        lines.row([
            line.asset.clone(),
            value_text(&line.limit),
            value_text(&line.usable),
            value_text(&line.drawn),
            value_text(&line.available),
            value_text(&line.overdue),
            format!("{} blocks", line.period_blocks),
        ]);
    }
    if !lines.is_empty() {
        out.push('\n');
        out.push_str(&lines.render());
    }

    let mut history = Table::with_header(&["credit", "drawn", "repaid", "gone overdue"]);
    for tally in &record.credit {
        history.row([
            tally.asset.clone(),
            value_text(&tally.drawn),
            value_text(&tally.repaid),
            value_text(&tally.overdue),
        ]);
    }
    if !history.is_empty() {
        out.push('\n');
        out.push_str(&history.render());
    }

    let mut attestations =
        Table::with_header(&["attested by", "verdict", "category", "at", "reference"]);
    for a in &record.attestations {
        attestations.row([
            a.bank.clone(),
            if a.positive { "positive" } else { "negative" }.to_owned(),
            a.category.clone(),
            a.at.to_string(),
            a.reference.clone(),
        ]);
    }
    if !attestations.is_empty() {
        out.push('\n');
        out.push_str(&attestations.render());
    }
    out
}
