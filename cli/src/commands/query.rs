//! Queries: `status`, `account show`, `tx show`, `block show`.
//!
//! With `--json` each prints the node's JSON exactly as the node returned
//! it (the shapes are the node API's, see `node::api`); otherwise an
//! aligned table of the fields people look at.

use serde_json::Value;

use clearhouse_ledger::AssetCode;

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
    let mut fields = Table::key_values();
    fields
        .field("chain id", cell(&status["chain_id"]))
        .field("node", cell(&status["node"]))
        .field("role", cell(&status["role"]))
        .field("height", cell(&status["height"]))
        .field("latest block", cell(&status["latest_block_hash"]))
        .field("state root", cell(&status["state_root"]))
        .field("round", cell(&status["round"]))
        .field("mempool", cell(&status["mempool_size"]))
        .field("peers", count(&status["peers"]));
    let mut validators = Table::with_header(&["validator", "key", "voting power"]);
    for validator in status["validators"].as_array().into_iter().flatten() {
        validators.row([
            cell(&validator["member"]),
            cell(&validator["key"]),
            cell(&validator["voting_power"]),
        ]);
    }
    print(&format!("{}\n{}", fields.render(), validators.render()));
    Ok(())
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
        .field("account", cell(&account["account"]))
        .field("bank", cell(&account["bank"]))
        .field("nonce", cell(&account["nonce"]));
    let mut balances = Table::with_header(&["asset", "balance", "minor units"]);
    for balance in account["balances"].as_array().into_iter().flatten() {
        balances.row([
            cell(&balance["asset"]),
            cell(&balance["amount"]),
            cell(&balance["minor_units"]),
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
    if found["status"] == "unknown" {
        return Err(CliError::NotFound(format!(
            "transaction {hash} is unknown to the node"
        )));
    }
    if context.json {
        print_json(&found);
        return Ok(());
    }
    let tx = &found["transaction"];
    let body = &tx["body"];
    let asset = value_asset(&body["value"]);
    let mut fields = Table::key_values();
    fields
        .field("hash", hash.to_hex())
        .field("status", cell(&found["status"]));
    if found["status"] != "pending" {
        fields
            .field("height", cell(&found["height"]))
            .field("index", cell(&found["index"]))
            .field("outcome", cell(&found["outcome"]));
    }
    if let Some(fee) = found["fee"].as_str() {
        fields.field("fee", human_fee(fee, asset.as_ref()));
    }
    if !found["reason"].is_null() {
        fields
            .field("reason", cell(&found["reason"]))
            .field("reason code", cell(&found["reason_code"]));
    }
    if !tx.is_null() {
        fields
            .field("kind", cell(&body["kind"]))
            .field("sender", cell(&tx["sender"]));
        // Whichever of the body's fields this kind has, in a fixed order.
        for (key, name) in [
            ("to", "to"),
            ("seller", "seller"),
            ("account", "account"),
            ("escrow", "escrow"),
            ("arbiter", "arbiter"),
            ("confirm_deadline", "confirm deadline"),
            ("arbiter_deadline", "arbiter deadline"),
            ("positive", "positive"),
            ("category", "category"),
            ("reference", "reference"),
            ("period_blocks", "period blocks"),
            ("asset", "asset"),
        ] {
            if !body[key].is_null() {
                fields.field(name, cell(&body[key]));
            }
        }
        for (key, name) in [
            ("value", "amount"),
            ("limit", "limit"),
            ("to_seller", "to seller"),
        ] {
            if !body[key].is_null() {
                fields.field(name, value_text(&body[key]));
            }
        }
        if let Some(max_fee) = tx["max_fee"].as_str() {
            fields.field("max fee", human_fee(max_fee, asset.as_ref()));
        }
        fields
            .field("nonce", cell(&tx["nonce"]))
            .field("expiry height", cell(&tx["expiry_height"]));
    }
    print(&fields.render());
    Ok(())
}

/// `clearhouse block show HEIGHT|latest`. `latest` asks for the latest
/// height, then shows that block like any other (with its receipts).
pub fn block(context: &Context, height: &str) -> Result<(), CliError> {
    let client = context.client()?;
    let height = if height.trim() == "latest" {
        let latest = client.latest_block()?;
        latest["height"].as_u64().ok_or_else(|| {
            CliError::Internal(format!(
                "malformed answer from {}: block without a height",
                client.base_url()
            ))
        })?
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
    let transactions = block["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut fields = Table::key_values();
    fields
        .field("height", cell(&block["height"]))
        .field("hash", cell(&block["hash"]))
        .field("previous hash", cell(&block["previous_hash"]))
        .field("proposer", cell(&block["proposer"]))
        .field("timestamp ms", cell(&block["timestamp_ms"]))
        .field("tx root", cell(&block["tx_root"]))
        .field("state root", cell(&block["state_root"]))
        .field("receipts root", cell(&block["receipts_root"]))
        .field("validator set", cell(&block["validator_set_hash"]))
        .field("transactions", transactions.len().to_string());
    let mut table = Table::with_header(&["index", "hash", "kind", "amount", "outcome"]);
    for (index, tx) in transactions.iter().enumerate() {
        let receipt = &block["receipts"][index];
        let outcome = match receipt["reason_code"].as_str() {
            Some(code) => format!("rejected ({code})"),
            None => cell(&receipt["outcome"]),
        };
        table.row([
            index.to_string(),
            cell(&tx["hash"]),
            cell(&tx["body"]["kind"]),
            value_text(&tx["body"]["value"]),
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

/// A `{"asset", "minor_units", "amount"}` value for people: `12.50 CNY`
/// (minor units when the node did not know the decimals); `-` if absent.
pub(crate) fn value_text(value: &Value) -> String {
    let asset = value["asset"].as_str().unwrap_or("");
    match (value["amount"].as_str(), value["minor_units"].as_str()) {
        (Some(amount), _) => format!("{amount} {asset}"),
        (None, Some(units)) => format!("{units} minor units of {asset}"),
        _ => "-".into(),
    }
}

/// The asset and decimals of a `{"asset", "amount"}` value, if the node
/// told both.
pub(crate) fn value_asset(value: &Value) -> Option<(AssetCode, u8)> {
    let asset = AssetCode::new(value["asset"].as_str()?).ok()?;
    let decimals = amount::decimals_of(value["amount"].as_str()?)?;
    Some((asset, decimals))
}

fn count(value: &Value) -> String {
    value
        .as_array()
        .map_or_else(|| "-".into(), |items| items.len().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearhouse_ledger::Amount;
    use serde_json::json;

    #[test]
    fn values_read_as_money() {
        let value = json!({"asset": "CNY", "minor_units": "1250", "amount": "12.50"});
        assert_eq!(value_text(&value), "12.50 CNY");
        let (asset, decimals) = value_asset(&value).unwrap();
        assert_eq!((asset.as_str(), decimals), ("CNY", 2));
        assert_eq!(
            amount::format(Amount(1250), decimals, asset.as_str()),
            "12.50 CNY"
        );
        assert_eq!(value_text(&Value::Null), "-");
    }
}
