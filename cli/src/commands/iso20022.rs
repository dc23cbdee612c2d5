//! `clearhouse iso20022 import|export`: ISO 20022 messages in and out (the
//! mapping is in [`crate::iso20022`]).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use clearhouse_ledger::crypto::sha256;
use clearhouse_ledger::payment::{EndToEndId, NOT_PROVIDED, PaymentData, Remittance};
use clearhouse_ledger::{AccountId, Amount, Body};
use clearhouse_node::api::dto::{self, Outcome, TxState};

use crate::amount::HumanAmount;
use crate::cli::{IsoCommand, IsoReport, TxOptions};
use crate::commands::transaction::{
    CommandReceipt, Prepared, default_transfer_fee, positive, receipt_json,
};
use crate::commands::{Context, parse_account};
use crate::exit::CliError;
use crate::iso20022::{
    self, CreditTransfer, CreditTransferTx, Entry, Notification, StatusReport, TxStatus,
    TxStatusEntry,
};
use crate::output::{Table, cell, print, print_json};

/// Runs an `iso20022` subcommand.
pub fn run(context: &Context, command: IsoCommand) -> Result<(), CliError> {
    match command {
        IsoCommand::Import {
            file,
            clear_details,
            options,
        } => import(context, &file, clear_details, &options),
        IsoCommand::Export {
            original,
            report,
            account,
            out,
        } => export(
            context,
            &original,
            report,
            account.as_deref(),
            out.as_deref(),
        ),
    }
}

fn read_message(path: &Path) -> Result<CreditTransfer, CliError> {
    let size = std::fs::metadata(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?
        .len();
    if size > iso20022::MESSAGE_BYTES_MAX as u64 {
        return Err(CliError::Usage(format!(
            "{} is {size} bytes, over the 16 MiB a message may have",
            path.display()
        )));
    }
    let xml = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    iso20022::parse_pacs008(&xml).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// One credit transfer, checked and turned into a payment body.
struct Planned {
    end_to_end_id: String,
    body: Body,
    fee: Amount,
}

fn plan(
    prepared: &Prepared<'_>,
    i: usize,
    tx: &CreditTransferTx,
    clear_details: bool,
) -> Result<Planned, CliError> {
    let at = |e: &dyn std::fmt::Display| {
        CliError::Usage(format!("transaction {} ({}): {e}", i + 1, tx.end_to_end_id))
    };
    let debtor = parse_account(&tx.debtor_account, "DbtrAcct").map_err(|e| at(&e))?;
    if debtor != prepared.account() {
        return Err(at(&format!(
            "DbtrAcct {debtor} is not the --key account {}",
            prepared.account()
        )));
    }
    let to = parse_account(&tx.creditor_account, "CdtrAcct").map_err(|e| at(&e))?;
    let human =
        HumanAmount::parse(&format!("{} {}", tx.amount, tx.currency)).map_err(|e| at(&e))?;
    let decimals = prepared.decimals(&human.asset, Some(&to))?;
    let amount = human
        .to_minor_units(decimals)
        .and_then(|a| positive(a, &human))
        .map_err(|e| at(&e))?;
    let data = PaymentData {
        end_to_end_id: EndToEndId::new(&tx.end_to_end_id).map_err(|e| at(&e))?,
        remittance: Remittance::new(&tx.remittance).map_err(|e| at(&e))?,
    };
    let details = prepared.payment_details(&to, &human.asset, amount, data, clear_details)?;
    Ok(Planned {
        end_to_end_id: tx.end_to_end_id.clone(),
        body: Body::Payment {
            to,
            asset: human.asset,
            amount,
            details,
        },
        fee: default_transfer_fee(amount),
    })
}

/// `--json` of `iso20022 import`.
#[derive(Debug, Serialize)]
struct ImportAnswer {
    message_id: String,
    transactions: Vec<ImportedTx>,
}

#[derive(Debug, Serialize)]
struct ImportedTx {
    end_to_end_id: String,
    #[serde(flatten)]
    receipt: CommandReceipt,
}

fn import(
    context: &Context,
    file: &Path,
    clear_details: bool,
    options: &TxOptions,
) -> Result<(), CliError> {
    let message = read_message(file)?;
    if options.nonce.is_some() && message.transactions.len() > 1 {
        return Err(CliError::Usage(
            "--nonce names one transaction; this message holds several".into(),
        ));
    }
    let prepared = Prepared::new(context, options)?;
    // Every transaction is checked before the first is sent.
    let planned = message
        .transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| plan(&prepared, i, tx, clear_details))
        .collect::<Result<Vec<_>, _>>()?;
    let mut submitted = Vec::with_capacity(planned.len());
    for planned in planned {
        let sent = prepared.submit(planned.body, planned.fee)?;
        submitted.push((planned.end_to_end_id, sent));
    }
    let mut answers = Vec::with_capacity(submitted.len());
    let mut timed_out = false;
    // One --timeout-secs for the whole message.
    let deadline = prepared.deadline();
    for (end_to_end_id, sent) in &submitted {
        let (answer, late) = prepared.wait_until(sent, deadline)?;
        timed_out |= late;
        answers.push(ImportedTx {
            end_to_end_id: end_to_end_id.clone(),
            receipt: receipt_json(&sent.hash, answer.as_ref()),
        });
    }
    let rejected = answers
        .iter()
        .filter(|a| a.receipt.status == TxState::Rejected)
        .count();
    if context.json {
        print_json(&ImportAnswer {
            message_id: message.message_id.clone(),
            transactions: answers,
        });
    } else {
        let mut table =
            Table::with_header(&["end-to-end id", "hash", "status", "height", "reason"]);
        for a in &answers {
            table.row([
                a.end_to_end_id.clone(),
                a.receipt.hash.clone(),
                a.receipt.status.as_str().to_owned(),
                cell(a.receipt.height),
                cell(a.receipt.reason.as_deref()),
            ]);
        }
        print(&table.render());
    }
    if timed_out {
        return Err(CliError::WaitTimedOut(format!(
            "payments of message {} are still pending after {} s",
            message.message_id, options.timeout_secs
        )));
    }
    if rejected > 0 {
        return Err(CliError::Rejected(format!(
            "{rejected} of the payments of message {} were rejected",
            message.message_id
        )));
    }
    Ok(())
}

/// The committed payment a credit transfer became, if the caller may see
/// it: the newest carrying its end-to-end id from its debtor to its
/// creditor.
fn find_payment(
    context: &Context,
    tx: &CreditTransferTx,
) -> Result<Option<dto::TransactionStatus>, CliError> {
    let found = context
        .client()?
        .find_transactions(&tx.end_to_end_id, dto::TRANSACTION_SEARCH_MAX)?;
    let debtor = tx.debtor_account.to_ascii_lowercase();
    let creditor = tx.creditor_account.to_ascii_lowercase();
    Ok(found.transactions.into_iter().find(|status| {
        status.transaction.as_ref().is_some_and(|t| {
            t.sender == debtor
                && matches!(&t.body, dto::Body::Payment { to, .. } if *to == creditor)
        })
    }))
}

fn export(
    context: &Context,
    original: &Path,
    report: IsoReport,
    account: Option<&str>,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let message = read_message(original)?;
    let account: Option<AccountId> = account.map(|a| parse_account(a, "--account")).transpose()?;
    if report == IsoReport::Camt054 && account.is_none() {
        return Err(CliError::Usage(
            "a camt.054 notifies one account: pass --account".into(),
        ));
    }
    let created = now_iso8601();
    let message_id = |kind: &str| {
        // Max35Text: a kind, then 16 hex digits naming the original.
        let digest = sha256(&[kind.as_bytes(), message.message_id.as_bytes()]).to_hex();
        format!("CH-{kind}-{}", &digest[..16])
    };
    let mut found = Vec::with_capacity(message.transactions.len());
    for tx in &message.transactions {
        found.push(find_payment(context, tx)?);
    }
    let xml = match report {
        IsoReport::Pacs002 => iso20022::write_pacs002(&StatusReport {
            message_id: message_id("STS"),
            created,
            original_message_id: message.message_id.clone(),
            transactions: message
                .transactions
                .iter()
                .zip(&found)
                .map(|(tx, status)| status_entry(tx, status.as_ref()))
                .collect(),
        }),
        IsoReport::Camt054 => {
            let account = account.map(|a| a.to_hex()).unwrap_or_default();
            let entries = found
                .iter()
                .flatten()
                .filter_map(|status| entry(&account, status))
                .collect();
            iso20022::write_camt054(&Notification {
                message_id: message_id("NTF"),
                created,
                account,
                entries,
            })
        }
    };
    match out {
        Some(path) => std::fs::write(path, xml)
            .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display()))),
        None => {
            print(&xml);
            Ok(())
        }
    }
}

fn status_entry(tx: &CreditTransferTx, status: Option<&dto::TransactionStatus>) -> TxStatusEntry {
    let (code, reason) = match status {
        Some(s) if s.outcome == Some(Outcome::Applied) => (TxStatus::Settled, None),
        Some(s) if s.status == TxState::Rejected => (
            TxStatus::Rejected,
            Some(format!(
                "{}: {}",
                s.reason_code.as_deref().unwrap_or("rejected"),
                s.reason.as_deref().unwrap_or("no reason given")
            )),
        ),
        _ => (TxStatus::Pending, None),
    };
    TxStatusEntry {
        original_instruction_id: tx.instruction_id.clone(),
        original_end_to_end_id: tx.end_to_end_id.clone(),
        transaction_id: status.map(|s| s.hash.clone()),
        status: code,
        reason,
    }
}

/// A booked entry of `account` for a settled payment it sent or received.
fn entry(account: &str, status: &dto::TransactionStatus) -> Option<Entry> {
    if status.outcome != Some(Outcome::Applied) {
        return None;
    }
    let tx = status.transaction.as_ref()?;
    let dto::Body::Payment {
        to,
        value,
        end_to_end_id,
        remittance,
        ..
    } = &tx.body
    else {
        return None;
    };
    let credit = match (tx.sender == account, to == account) {
        (false, true) => true,
        (true, false) => false,
        _ => return None,
    };
    Some(Entry {
        amount: value
            .amount
            .clone()
            .unwrap_or_else(|| value.minor_units.clone()),
        currency: value.asset.clone().unwrap_or_default(),
        credit,
        height: status.height?,
        // Sealed data this node cannot open is booked without its
        // reference, as ISO 20022 books a payment that carried none.
        end_to_end_id: end_to_end_id
            .clone()
            .unwrap_or_else(|| NOT_PROVIDED.to_owned()),
        transaction_id: status.hash.clone(),
        remittance: remittance.clone().unwrap_or_default(),
    })
}

/// Now as an ISO 8601 UTC date-time (`2026-12-07T08:59:01Z`).
fn now_iso8601() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}
