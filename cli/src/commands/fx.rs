//! `clearhouse swap propose|consent|submit` and `clearhouse quote
//! post|withdraw|list|show` (paying through a quote is `transfer --via`).
//!
//! A swap needs both parties' signatures over one envelope: the
//! counterparty signs the consent bytes (the envelope with its own
//! signature zeroed), which name the proposer's nonce, fee cap and expiry.
//! With both keys at hand, `propose --counter-key` signs both and sends.
//! Otherwise `propose --out FILE` fixes the envelope (nonce: the
//! proposer's next, expiry: `--expiry-blocks` from now) and writes it;
//! the counterparty reviews it and signs with `consent FILE`; the proposer
//! sends it with `submit FILE`. A proposal whose nonce the proposer used
//! meanwhile is refused by the chain (`bad_nonce`): propose again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::codec::{self, TX_BYTES_MAX};
use clearhouse_ledger::crypto::{self, Signature};
use clearhouse_ledger::{Amount, AssetCode, Body, Transaction};

use crate::amount::{self, HumanAmount};
use crate::cli::{QuoteCommand, QuotePostArgs, SwapCommand, SwapProposeArgs, TxOptions};
use crate::commands::keys::read_key;
use crate::commands::query::value_text;
use crate::commands::transaction::{Prepared, Priced, default_transfer_fee, positive};
use crate::commands::{Context, parse_account, parse_hash};
use crate::exit::CliError;
use crate::output::{Table, print, print_json};

/// Runs a swap command.
pub fn swap(context: &Context, command: SwapCommand) -> Result<(), CliError> {
    match command {
        SwapCommand::Propose(args) => propose(context, &args),
        SwapCommand::Consent { file, key } => consent(context, &file, &key),
        SwapCommand::Submit { file, options } => submit(context, &file, &options),
    }
}

/// Runs a quote command.
pub fn quote(context: &Context, command: QuoteCommand) -> Result<(), CliError> {
    match command {
        QuoteCommand::Post(args) => post(context, &args),
        QuoteCommand::Withdraw { quote, options } => {
            let quote = parse_hash(&quote, "quote id")?;
            Prepared::new(context, &options)?.send(
                context,
                Body::QuoteWithdraw { quote },
                Amount::ZERO,
                None,
            )
        }
        QuoteCommand::List { pair } => list(context, pair.as_deref()),
        QuoteCommand::Show { quote } => show(context, &quote),
    }
}

/// A swap proposal file: the envelope to sign, and what it says for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Proposal {
    /// What this file is.
    kind: String,
    /// The proposer (the envelope's sender), hex.
    proposer: String,
    /// The counterparty, hex.
    counterparty: String,
    /// What the proposer gives, e.g. `100.00 CNY`.
    proposer_gives: String,
    /// What the counterparty gives.
    counterparty_gives: String,
    /// The most fee the counterparty pays, in the asset it gives.
    counterparty_max_fee: String,
    /// The proposer's nonce the consent is good for.
    nonce: u64,
    /// The last height the swap may settle at.
    expiry_height: u64,
    /// Whether the counterparty has consented.
    consented: bool,
    /// The envelope's canonical encoding, hex (the counterparty's
    /// signature in it once consented).
    transaction: String,
}

const PROPOSAL_KIND: &str = "clearhouse swap proposal v1";

fn propose(context: &Context, args: &SwapProposeArgs) -> Result<(), CliError> {
    let counterparty = parse_account(&args.counterparty, "--with account")?;
    let Priced {
        prepared,
        asset: give_asset,
        decimals: give_decimals,
        amount: give_amount,
        max_fee,
    } = Priced::new(
        context,
        &args.options,
        &args.give,
        args.max_fee.as_deref(),
        Some(&counterparty),
    )?;
    let take = HumanAmount::parse(&args.take)?;
    let take_decimals = prepared.decimals(&take.asset, Some(&counterparty))?;
    let take_amount = positive(take.to_minor_units(take_decimals)?, &take)?;
    if take.asset == give_asset {
        return Err(CliError::Usage(format!(
            "both legs are {}: a swap exchanges two assets",
            give_asset.as_str()
        )));
    }
    let counter_fee = match &args.counter_max_fee {
        Some(text) => {
            let fee = HumanAmount::parse(text)?;
            if fee.asset != take.asset {
                return Err(CliError::Usage(format!(
                    "invalid --counter-max-fee {fee}: the counterparty pays its fee in {}",
                    take.asset.as_str()
                )));
            }
            fee.to_minor_units(take_decimals)?
        }
        None => default_transfer_fee(take_amount),
    };
    let fee = max_fee.unwrap_or_else(|| default_transfer_fee(give_amount));
    let body = Body::Swap {
        counterparty,
        give_asset: give_asset.clone(),
        give_amount,
        take_asset: take.asset.clone(),
        take_amount,
        counter_fee,
        counter_signature: Signature([0; 64]),
    };
    if let Some(counter_key) = &args.counter_key {
        let counter_key = read_key(counter_key)?;
        if counter_key.account() != counterparty {
            return Err(CliError::Usage(format!(
                "--counter-key is account {}, not the counterparty {counterparty}",
                counter_key.account()
            )));
        }
        return prepared.with_counter_key(counter_key).send(
            context,
            body,
            fee,
            Some((give_asset, give_decimals)),
        );
    }
    let Some(out) = &args.out else {
        return Err(CliError::Usage(
            "give --counter-key FILE, or --out FILE for the counterparty's consent".into(),
        ));
    };
    let nonce = args.options.nonce.unwrap_or_else(|| prepared.nonce());
    let expiry_height = prepared
        .height
        .checked_add(args.options.expiry_blocks)
        .ok_or_else(|| CliError::Usage("--expiry-blocks is too large".into()))?;
    let transaction = Transaction {
        chain_id: prepared.chain_id(),
        sender: prepared.account(),
        nonce,
        fee,
        expiry_height,
        body,
    };
    let proposal = Proposal {
        kind: PROPOSAL_KIND.into(),
        proposer: prepared.account().to_hex(),
        counterparty: counterparty.to_hex(),
        proposer_gives: amount::format(give_amount, give_decimals, give_asset.as_str()),
        counterparty_gives: amount::format(take_amount, take_decimals, take.asset.as_str()),
        counterparty_max_fee: amount::format(counter_fee, take_decimals, take.asset.as_str()),
        nonce,
        expiry_height,
        consented: false,
        transaction: encode(&transaction)?,
    };
    write_proposal(out, &proposal)?;
    if context.json {
        print_json(&proposal);
    } else {
        print(&proposal_table(&proposal).render());
        print(&format!(
            "\nwritten to {}: the counterparty signs it with\n  clearhouse swap consent {} --key COUNTERPARTY.key\n",
            out.display(),
            out.display()
        ));
    }
    Ok(())
}

fn consent(context: &Context, file: &Path, key: &Path) -> Result<(), CliError> {
    let mut proposal = read_proposal(file)?;
    let transaction = decode(&proposal.transaction)?;
    let key = read_key(key)?;
    let Body::Swap { counterparty, .. } = &transaction.body else {
        return Err(CliError::Usage(format!(
            "{}: not a swap proposal",
            file.display()
        )));
    };
    if *counterparty != key.account() {
        return Err(CliError::Usage(format!(
            "{}: the counterparty is {counterparty}, --key is {}",
            file.display(),
            key.account()
        )));
    }
    // The summary is the proposer's word; the envelope is what is signed:
    // they must say the same.
    check_summary(context, &proposal, &transaction)?;
    let transaction = transaction
        .with_consent(&key)
        .map_err(|e| CliError::Internal(format!("cannot sign the consent: {e}")))?;
    proposal.transaction = encode(&transaction)?;
    proposal.consented = true;
    write_proposal(file, &proposal)?;
    if context.json {
        print_json(&proposal);
    } else {
        print(&proposal_table(&proposal).render());
        print(&format!(
            "\nconsented: the proposer sends it with\n  clearhouse swap submit {} --key PROPOSER.key\n",
            file.display()
        ));
    }
    Ok(())
}

fn submit(context: &Context, file: &Path, options: &TxOptions) -> Result<(), CliError> {
    let proposal = read_proposal(file)?;
    let transaction = decode(&proposal.transaction)?;
    check_summary(context, &proposal, &transaction)?;
    let prepared = Prepared::new(context, options)?;
    if transaction.sender != prepared.account() {
        return Err(CliError::Usage(format!(
            "{}: the proposer is {}, --key is {}",
            file.display(),
            transaction.sender,
            prepared.account()
        )));
    }
    if transaction.chain_id != prepared.chain_id() {
        return Err(CliError::Usage(format!(
            "{}: proposed for chain {}, the node is on chain {}",
            file.display(),
            transaction.chain_id,
            prepared.chain_id()
        )));
    }
    let Body::Swap {
        counterparty,
        counter_signature,
        give_asset,
        ..
    } = &transaction.body
    else {
        return Err(CliError::Usage(format!(
            "{}: not a swap proposal",
            file.display()
        )));
    };
    let consent = transaction
        .swap_consent_bytes()
        .and_then(Result::ok)
        .ok_or_else(|| CliError::Internal("cannot encode the consent bytes".into()))?;
    if crypto::verify(&counterparty.0, &consent, counter_signature).is_err() {
        return Err(CliError::Usage(format!(
            "{}: the counterparty has not consented (or its consent does not verify): \
             clearhouse swap consent {} --key COUNTERPARTY.key",
            file.display(),
            file.display()
        )));
    }
    let decimals = prepared.decimals(give_asset, Some(counterparty))?;
    let give_asset = give_asset.clone();
    prepared.send_exact(context, transaction, Some((give_asset, decimals)))
}

/// Refuses a proposal whose readable summary does not say exactly what its
/// envelope says (parties, both legs with the chain's decimals, nonce,
/// expiry): what is shown is what is signed.
fn check_summary(
    context: &Context,
    proposal: &Proposal,
    transaction: &Transaction,
) -> Result<(), CliError> {
    let Body::Swap {
        counterparty,
        give_asset,
        give_amount,
        take_asset,
        take_amount,
        counter_fee,
        ..
    } = &transaction.body
    else {
        return Err(CliError::Usage(
            "the proposal's envelope is not a swap".into(),
        ));
    };
    let client = context.client()?;
    let human = |asset: &AssetCode, amount: Amount| -> Result<String, CliError> {
        let found = client.asset(asset.as_str())?.ok_or_else(|| {
            CliError::Usage(format!(
                "the proposal moves {}, which this chain does not know",
                asset.as_str()
            ))
        })?;
        Ok(amount::format(amount, found.decimals, asset.as_str()))
    };
    if proposal.kind != PROPOSAL_KIND
        || proposal.proposer != transaction.sender.to_hex()
        || proposal.counterparty != counterparty.to_hex()
        || proposal.proposer_gives != human(give_asset, *give_amount)?
        || proposal.counterparty_gives != human(take_asset, *take_amount)?
        || proposal.counterparty_max_fee != human(take_asset, *counter_fee)?
        || proposal.nonce != transaction.nonce
        || proposal.expiry_height != transaction.expiry_height
    {
        return Err(CliError::Usage(
            "the proposal's summary does not match its envelope: ask for a new proposal".into(),
        ));
    }
    Ok(())
}

fn proposal_table(proposal: &Proposal) -> Table {
    let mut table = Table::key_values();
    table
        .field("proposer", proposal.proposer.as_str())
        .field("counterparty", proposal.counterparty.as_str())
        .field("proposer gives", proposal.proposer_gives.as_str())
        .field("counterparty gives", proposal.counterparty_gives.as_str())
        .field(
            "counterparty max fee",
            proposal.counterparty_max_fee.as_str(),
        )
        .field("nonce", proposal.nonce.to_string())
        .field("expiry height", proposal.expiry_height.to_string())
        .field("consented", if proposal.consented { "yes" } else { "no" });
    table
}

fn encode(transaction: &Transaction) -> Result<String, CliError> {
    codec::encode(transaction)
        .map(hex::encode)
        .map_err(|e| CliError::Internal(format!("cannot encode the proposal: {e}")))
}

fn decode(text: &str) -> Result<Transaction, CliError> {
    let bytes = hex::decode(text.trim())
        .map_err(|e| CliError::Usage(format!("the proposal's transaction is not hex: {e}")))?;
    codec::decode::<Transaction, TX_BYTES_MAX>(&bytes)
        .map_err(|e| CliError::Usage(format!("the proposal's transaction does not decode: {e}")))
}

fn read_proposal(file: &Path) -> Result<Proposal, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not a swap proposal: {e}", file.display())))
}

fn write_proposal(file: &Path, proposal: &Proposal) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(proposal)
        .map_err(|e| CliError::Internal(format!("cannot write the proposal: {e}")))?;
    std::fs::write(file, text + "\n")
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", file.display())))
}

fn post(context: &Context, args: &QuotePostArgs) -> Result<(), CliError> {
    let asset = |text: &str, flag: &str| {
        AssetCode::new(text.trim()).map_err(|e| CliError::Usage(format!("invalid {flag}: {e}")))
    };
    let pay = asset(&args.pay, "--pay")?;
    let receive = asset(&args.receive, "--receive")?;
    if pay == receive {
        return Err(CliError::Usage(format!(
            "--pay and --receive are both {}: a quote exchanges two assets",
            pay.as_str()
        )));
    }
    if args.valid_blocks == 0 {
        return Err(CliError::Usage("--valid-blocks must be at least 1".into()));
    }
    let prepared = Prepared::new(context, &args.options)?;
    let pay_decimals = prepared.decimals(&pay, None)?;
    let receive_decimals = prepared.decimals(&receive, None)?;
    let rate = parse_rate(&args.rate, receive_decimals, pay_decimals)?;
    let maximum = HumanAmount::parse(&args.maximum)?;
    if maximum.asset != pay {
        return Err(CliError::Usage(format!(
            "invalid --maximum {maximum}: the quote pays out {}",
            pay.as_str()
        )));
    }
    let maximum = positive(maximum.to_minor_units(pay_decimals)?, &maximum)?;
    let valid_until = prepared
        .height
        .checked_add(args.valid_blocks)
        .ok_or_else(|| CliError::Usage("--valid-blocks is too large".into()))?;
    prepared.send(
        context,
        Body::QuotePost {
            pay_asset: pay,
            receive_asset: receive,
            rate,
            maximum,
            valid_until,
        },
        Amount::ZERO,
        None,
    )
}

/// A rate as typed: `n/d` (exact minor units of the paid-out asset per
/// minor units of the taken-in one) or a decimal (units of the paid-out
/// asset per one unit of the other), reduced to lowest terms.
pub fn parse_rate(text: &str, receive_decimals: u8, pay_decimals: u8) -> Result<Rate, CliError> {
    let text = text.trim();
    let bad = |why: &str| CliError::Usage(format!("invalid --rate {text:?}: {why}"));
    let (numerator, denominator) = if let Some((n, d)) = text.split_once('/') {
        let n: u128 = n
            .trim()
            .parse()
            .map_err(|_| bad("expected n/d in integers"))?;
        let d: u128 = d
            .trim()
            .parse()
            .map_err(|_| bad("expected n/d in integers"))?;
        (n, d)
    } else {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad("expected a decimal number, e.g. 0.1385, or n/d"));
        }
        let digits: u128 = format!("{whole}{fraction}")
            .parse()
            .map_err(|_| bad("too many digits"))?;
        let places = u32::try_from(fraction.len()).map_err(|_| bad("too many digits"))?;
        let scale = |exponent: u32| {
            10u128
                .checked_pow(exponent)
                .ok_or_else(|| bad("too many digits"))
        };
        let numerator = digits
            .checked_mul(scale(u32::from(pay_decimals))?)
            .ok_or_else(|| bad("too large"))?;
        let denominator = scale(places)?
            .checked_mul(scale(u32::from(receive_decimals))?)
            .ok_or_else(|| bad("too many digits"))?;
        (numerator, denominator)
    };
    if numerator == 0 || denominator == 0 {
        return Err(bad("a rate must be above zero"));
    }
    Rate::reduced(numerator, denominator)
        .ok_or_else(|| bad("too precise: the exact fraction does not fit in 64 bits"))
}

fn list(context: &Context, pair: Option<&str>) -> Result<(), CliError> {
    let quotes = context.client()?.quotes(pair)?;
    if context.json {
        print_json(&quotes);
        return Ok(());
    }
    if quotes.quotes.is_empty() {
        print(&format!(
            "no live quotes{} at height {}",
            pair.map(|p| format!(" for {p}")).unwrap_or_default(),
            quotes.height
        ));
        return Ok(());
    }
    let mut table = Table::with_header(&[
        "quote",
        "provider",
        "pair",
        "rate",
        "remaining",
        "valid until",
    ]);
    for quote in &quotes.quotes {
        table.row([
            quote.id.clone(),
            quote.provider.clone(),
            quote.pair.clone(),
            rate_text(quote),
            value_text(&quote.remaining),
            quote.valid_until.to_string(),
        ]);
    }
    print(&table.render());
    Ok(())
}

fn show(context: &Context, quote: &str) -> Result<(), CliError> {
    let id = parse_hash(quote, "quote id")?;
    let Some(quote) = context.client()?.quote(&id)? else {
        return Err(CliError::NotFound(format!("no live quote {id}")));
    };
    if context.json {
        print_json(&quote);
        return Ok(());
    }
    let mut fields = Table::key_values();
    fields
        .field("quote", quote.id.as_str())
        .field("provider", quote.provider.as_str())
        .field("pair", quote.pair.as_str())
        .field("rate", rate_text(&quote))
        .field(
            "exact rate",
            format!(
                "{} / {} minor units",
                quote.rate.numerator, quote.rate.denominator
            ),
        )
        .field("remaining", value_text(&quote.remaining))
        .field("valid until", quote.valid_until.to_string())
        .field("posted at", quote.posted_at.to_string());
    print(&fields.render());
    Ok(())
}

/// `0.13850000 USD per CNY`, or the exact fraction when no decimal fits.
fn rate_text(quote: &clearhouse_node::api::dto::Quote) -> String {
    let (from, to) = quote.pair.split_once('/').unwrap_or(("?", "?"));
    match &quote.rate_decimal {
        Some(rate) => format!("{rate} {to} per {from}"),
        None => format!(
            "{}/{} minor units",
            quote.rate.numerator, quote.rate.denominator
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_decimals_or_exact_fractions_in_lowest_terms() {
        let rate = |text| parse_rate(text, 2, 2).unwrap();
        assert_eq!(
            rate("0.1385"),
            Rate {
                numerator: 277,
                denominator: 2000
            }
        );
        assert_eq!(
            rate("14/100"),
            Rate {
                numerator: 7,
                denominator: 50
            }
        );
        // 1 USD (2 decimals) buys 150 JPY (0 decimals): 1 cent, 1.5 yen.
        assert_eq!(
            parse_rate("150", 2, 0).unwrap(),
            Rate {
                numerator: 3,
                denominator: 2
            }
        );
        for bad in ["0", "0/5", "5/0", "-1", ".5", "1.2.3", "abc", "1e3"] {
            assert!(parse_rate(bad, 2, 2).is_err(), "{bad}");
        }
        assert!(parse_rate("0.0000000000000000000000001", 2, 2).is_err());
    }
}
