//! JSON views of escrows, credit lines and credit records, for the API.
//!
//! Amounts are `{"asset", "minor_units", "amount"}` objects (strings: they
//! exceed JSON's safe integers); hashes and keys are hex.

use serde_json::{Value, json};

use clearhouse_ledger::state::credit::{CreditLine, CreditParams, CreditRecord, Tally, rating};
use clearhouse_ledger::state::escrow::{EscrowState, EscrowStatus};
use clearhouse_ledger::state::{AccountState, Params};
use clearhouse_ledger::{AccountId, Amount, AssetCode, Hash};

/// Renders an amount of an asset; `decimals` is `None` for an unknown asset.
pub fn amount(asset: &AssetCode, value: Amount, decimals: Option<u8>) -> Value {
    let human = decimals.map(|d| value.to_decimal_string(d));
    json!({"asset": asset.as_str(), "minor_units": value.0.to_string(), "amount": human})
}

/// An escrow.
pub fn escrow(id: &Hash, escrow: &EscrowState, decimals: Option<u8>) -> Value {
    let money = |value: Amount| amount(&escrow.asset, value, decimals);
    let settlement = match &escrow.status {
        EscrowStatus::Settled(settlement) => json!({
            "at": settlement.at,
            "how": settlement.how.name(),
            "to_seller": money(settlement.to_seller),
            "to_buyer": money(settlement.to_buyer),
        }),
        EscrowStatus::Open | EscrowStatus::Disputed => Value::Null,
    };
    json!({
        "id": id.to_hex(),
        "buyer": escrow.buyer.to_hex(),
        "seller": escrow.seller.to_hex(),
        "value": money(escrow.amount),
        "held": money(escrow.held()),
        "arbiter": escrow.arbiter.as_str(),
        "reference": escrow.reference.to_hex(),
        "opened_at": escrow.opened_at,
        "confirm_deadline": escrow.confirm_deadline,
        "arbiter_deadline": escrow.arbiter_deadline,
        "status": escrow.status.name(),
        "dispute": escrow.dispute.as_ref().map(|d| json!({"by": d.by.to_hex(), "at": d.at})),
        "settlement": settlement,
    })
}

/// The rating of a record under the parameters in force (`None` if the
/// version is unknown to this node, which genesis validation rules out).
pub fn rating_of(record: &CreditRecord, params: &CreditParams) -> Option<u16> {
    rating(record, params.rating_version)
}

/// One credit line, with its usable limit and headroom now (`available`
/// is what the limit allows; a draw also needs the lending treasury to
/// hold the money).
pub fn line(
    asset: &AssetCode,
    line: &CreditLine,
    params: &CreditParams,
    rating: u16,
    decimals: Option<u8>,
) -> Value {
    let money = |value: Amount| amount(asset, value, decimals);
    let usable = line.usable(params, asset, rating);
    json!({
        "asset": asset.as_str(),
        "limit": money(line.limit),
        "usable": money(usable),
        "drawn": money(line.drawn),
        "available": money(Amount(usable.0.saturating_sub(line.drawn.0))),
        "overdue": money(line.overdue()),
        "period_blocks": line.period_blocks,
        "granted_at": line.granted_at,
        "debt": line.debt.map(|debt| json!({
            "since": debt.since,
            "due": debt.due,
            "overdue": debt.overdue,
        })),
    })
}

/// An account's credit record.
pub fn record(record: &CreditRecord, decimals: &dyn Fn(&AssetCode) -> Option<u8>) -> Value {
    let tallies = |tallies: &std::collections::BTreeMap<AssetCode, Tally>| {
        tallies
            .iter()
            .map(|(asset, tally)| {
                json!({
                    "asset": asset.as_str(),
                    "count": tally.count,
                    "volume": amount(asset, tally.volume, decimals(asset)),
                })
            })
            .collect::<Vec<_>>()
    };
    let (positive, negative) = record.attesting_banks();
    json!({
        "payments_sent": tallies(&record.sent),
        "payments_received": tallies(&record.received),
        "escrows": {
            "completed": record.escrows.completed,
            "refunded": record.escrows.refunded,
            "disputed": record.escrows.disputed,
            "won": record.escrows.won,
            "lost": record.escrows.lost,
        },
        "credit": record.credit.iter().map(|(asset, tally)| json!({
            "asset": asset.as_str(),
            "drawn": amount(asset, tally.drawn, decimals(asset)),
            "repaid": amount(asset, tally.repaid, decimals(asset)),
            "overdue": amount(asset, tally.overdue, decimals(asset)),
        })).collect::<Vec<_>>(),
        "repaid_on_time": record.repaid_on_time,
        "overdue_events": record.overdue_events,
        "overdue_open": record.overdue_open,
        "attestations": record.attestations.iter().map(|(bank, a)| json!({
            "bank": bank.as_str(),
            "positive": a.positive,
            "category": a.category.as_str(),
            "reference": a.reference.to_hex(),
            "at": a.at,
        })).collect::<Vec<_>>(),
        "attesting_banks": {"positive": positive, "negative": negative},
        "attestations_filed": record.attestations_filed,
    })
}

/// `/v1/credit/{account}`: record, rating and lines.
pub fn credit(
    id: &AccountId,
    account: &AccountState,
    params: &Params,
    decimals: &dyn Fn(&AssetCode) -> Option<u8>,
) -> Value {
    let rating = rating_of(&account.record, &params.credit);
    let lines: Vec<Value> = account
        .lines
        .iter()
        .map(|(asset, l)| {
            line(
                asset,
                l,
                &params.credit,
                rating.unwrap_or(0),
                decimals(asset),
            )
        })
        .collect();
    json!({
        "account": id.to_hex(),
        "bank": account.bank.as_str(),
        "rating": rating,
        "rating_version": params.credit.rating_version,
        "min_rating": params.credit.min_rating,
        "record": record(&account.record, decimals),
        "lines": lines,
    })
}
