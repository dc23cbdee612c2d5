//! `clearhouse escrow open|release|refund|dispute|resolve|show`.
//!
//! The steps are transactions like `transfer` (same options, receipts and
//! exit codes); `open` turns its relative deadlines into heights from the
//! node's current height, and its receipt's hash is the escrow id.

use clearhouse_ledger::{Amount, Body, Hash, MemberId};
use clearhouse_node::api::dto::Escrow;

use crate::amount::HumanAmount;
use crate::cli::{EscrowCommand, EscrowOpenArgs, EscrowResolveArgs, EscrowStepArgs, TxOptions};
use crate::client::Client;
use crate::commands::query::{value_asset, value_text};
use crate::commands::transaction::{Prepared, Priced, default_transfer_fee};
use crate::commands::{Context, parse_account, parse_hash, reference_hash};
use crate::exit::CliError;
use crate::output::{Table, print, print_json};

/// Runs an escrow command.
pub fn run(context: &Context, command: EscrowCommand) -> Result<(), CliError> {
    match command {
        EscrowCommand::Open(args) => open(context, &args),
        EscrowCommand::Release(args) => {
            step(context, &args, |escrow| Body::EscrowRelease { escrow })
        }
        EscrowCommand::Refund(args) => step(context, &args, |escrow| Body::EscrowRefund { escrow }),
        EscrowCommand::Dispute(args) => {
            step(context, &args, |escrow| Body::EscrowDispute { escrow })
        }
        EscrowCommand::Resolve(args) => resolve(context, &args),
        EscrowCommand::Show { escrow } => show(context, &escrow),
    }
}

fn open(context: &Context, args: &EscrowOpenArgs) -> Result<(), CliError> {
    let seller = parse_account(&args.to, "--to account")?;
    let arbiter = MemberId::new(args.arbiter.trim())
        .map_err(|e| CliError::Usage(format!("invalid --arbiter: {e}")))?;
    let reference = reference_hash(args.reference.as_deref(), args.order.as_deref(), "order")?;
    if args.confirm_blocks == 0 || args.arbiter_blocks == 0 {
        return Err(CliError::Usage(
            "--confirm-blocks and --arbiter-blocks must be at least 1".into(),
        ));
    }
    let priced = Priced::new(
        context,
        &args.options,
        &args.amount,
        args.max_fee.as_deref(),
        Some(&seller),
    )?;
    let too_far = || CliError::Usage("--confirm-blocks/--arbiter-blocks are too large".into());
    let confirm_deadline = priced
        .prepared
        .height
        .checked_add(args.confirm_blocks)
        .ok_or_else(too_far)?;
    let arbiter_deadline = confirm_deadline
        .checked_add(args.arbiter_blocks)
        .ok_or_else(too_far)?;
    let fee = priced
        .max_fee
        .unwrap_or_else(|| default_transfer_fee(priced.amount));
    let body = Body::EscrowOpen {
        seller,
        asset: priced.asset.clone(),
        amount: priced.amount,
        arbiter,
        confirm_deadline,
        arbiter_deadline,
        reference,
    };
    priced.send(context, body, fee)
}

fn step(
    context: &Context,
    args: &EscrowStepArgs,
    body: impl FnOnce(Hash) -> Body,
) -> Result<(), CliError> {
    let escrow = parse_hash(&args.escrow, "--escrow id")?;
    send_free(context, &args.options, body(escrow))
}

fn resolve(context: &Context, args: &EscrowResolveArgs) -> Result<(), CliError> {
    let id = parse_hash(&args.escrow, "--escrow id")?;
    let human = HumanAmount::parse(&args.to_seller)?;
    let prepared = Prepared::new(context, &args.options)?;
    // The split is in the escrow's asset, with its decimals.
    let escrow = fetch(&prepared.client, &id)?;
    let (asset, decimals) = value_asset(&escrow.value).ok_or_else(|| {
        CliError::Internal(format!("escrow {id}: the node's answer lacks its amount"))
    })?;
    if human.asset != asset {
        return Err(CliError::Usage(format!(
            "invalid --to-seller {human}: escrow {id} holds {}",
            asset.as_str()
        )));
    }
    let to_seller = human.to_minor_units(decimals)?;
    prepared.send(
        context,
        Body::EscrowResolve {
            escrow: id,
            to_seller,
        },
        Amount::ZERO,
        Some((asset, decimals)),
    )
}

/// Sends a step that pays no fee.
pub(crate) fn send_free(
    context: &Context,
    options: &TxOptions,
    body: Body,
) -> Result<(), CliError> {
    Prepared::new(context, options)?.send(context, body, Amount::ZERO, None)
}

/// `GET /v1/escrows/{id}`, an unknown escrow as exit 5.
fn fetch(client: &Client, id: &Hash) -> Result<Escrow, CliError> {
    client
        .escrow(id)?
        .ok_or_else(|| CliError::NotFound(format!("no escrow {id}")))
}

fn show(context: &Context, escrow: &str) -> Result<(), CliError> {
    let id = parse_hash(escrow, "escrow id")?;
    let escrow = fetch(&context.client()?, &id)?;
    if context.json {
        print_json(&escrow);
        return Ok(());
    }
    let mut fields = Table::key_values();
    fields
        .field("escrow", escrow.id.as_str())
        .field("status", escrow.status.as_str())
        .field("amount", value_text(&escrow.value))
        .field("held", value_text(&escrow.held))
        .field("buyer", escrow.buyer.as_str())
        .field("seller", escrow.seller.as_str())
        .field("arbiter", escrow.arbiter.as_str())
        .field("reference", escrow.reference.as_str())
        .field("opened at", escrow.opened_at.to_string())
        .field("confirm deadline", escrow.confirm_deadline.to_string())
        .field("arbiter deadline", escrow.arbiter_deadline.to_string());
    if let Some(dispute) = &escrow.dispute {
        fields
            .field("disputed by", dispute.by.as_str())
            .field("disputed at", dispute.at.to_string());
    }
    if let Some(settlement) = &escrow.settlement {
        fields
            .field("settled by", settlement.how.as_str())
            .field("settled at", settlement.at.to_string())
            .field("to seller", value_text(&settlement.to_seller))
            .field("to buyer", value_text(&settlement.to_buyer));
    }
    print(&fields.render());
    Ok(())
}
