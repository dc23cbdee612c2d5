//! The demo banks' FX quotes: at `up`, each bank's treasury offers its own
//! asset for every other bank's, at a reference rate less a 0.2 % spread,
//! up to a tenth of its treasury, for [`QUOTE_BLOCKS`] blocks, so a
//! cross-currency transfer works from the first minute
//! (`clearhouse transfer --via QUOTE`). A network that still has live
//! quotes posts none.

use std::time::{Duration, Instant};

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::{Amount, AssetCode, Body, Hash, Transaction};
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::dto;

use crate::{ASSETS, TREASURY_OPENING_UNITS, Testnet, TestnetError};

/// How long a demo quote lives, in blocks (within the testnet's escrow
/// horizon of 100,000, which bounds a quote's life too).
pub const QUOTE_BLOCKS: u64 = 90_000;

/// Reference value of one unit of each demo asset, in millionths of a US
/// dollar (demo figures, not market data).
const MICRO_USD: [(&str, u128); 10] = [
    ("CNY", 140_000),
    ("USD", 1_000_000),
    ("EUR", 1_080_000),
    ("JPY", 6_700),
    ("GBP", 1_270_000),
    ("CHF", 1_130_000),
    ("SGD", 740_000),
    ("HKD", 128_000),
    ("AUD", 660_000),
    ("CAD", 730_000),
];

/// A quote a demo bank posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoQuote {
    /// Its id.
    pub id: Hash,
    /// The asset a payer pays.
    pub from: String,
    /// The asset the payee receives.
    pub to: String,
}

/// The demo rate of `from` into `to` in minor units, less the spread: what
/// `to`'s bank pays out for `from`.
pub fn demo_rate(from: usize, to: usize) -> Option<Rate> {
    let value = |i: usize| MICRO_USD.get(i).map(|(_, v)| *v);
    let decimals = |i: usize| ASSETS.get(i).map(|(_, d)| u32::from(*d));
    // minor(to) per minor(from) = v_from / 10^d_from ÷ (v_to / 10^d_to) × 998/1000.
    let numerator = value(from)? * 10u128.pow(decimals(to)?) * 998;
    let denominator = value(to)? * 10u128.pow(decimals(from)?) * 1000;
    Rate::reduced(numerator, denominator)
}

/// Posts the demo quotes through the first node unless live quotes exist,
/// and waits (at most 30 s) until they are committed. The live quotes,
/// as the node lists them, either way.
pub fn post_demo_quotes(
    testnet: &Testnet,
    agent: &ureq::Agent,
) -> Result<Vec<DemoQuote>, TestnetError> {
    let node = testnet
        .nodes
        .first()
        .ok_or_else(|| TestnetError::Invalid("a network without nodes".into()))?;
    let url = node.api_url();
    let live = list(agent, &url)?;
    if !live.is_empty() || testnet.treasuries.len() < 2 {
        return Ok(live);
    }
    let chain_id = testnet.genesis.chain_id().map_err(TestnetError::Genesis)?;
    let height = status(agent, &url)?.height;
    let mut ids = Vec::new();
    for (bank, treasury_file) in testnet.treasuries.iter().enumerate() {
        let treasury = clearhouse_node::keyfile::read(treasury_file)?;
        let signer = RequestSigner::new(
            clearhouse_node::keyfile::read(treasury_file)?,
            chain_id,
            &node.name,
        );
        let mut nonce = account_nonce(agent, &url, &signer, &treasury.account().to_hex())?;
        let (pay, pay_decimals) = ASSETS[bank];
        let maximum = u128::from(TREASURY_OPENING_UNITS / 10) * 10u128.pow(u32::from(pay_decimals));
        for (other, (receive, _)) in ASSETS.iter().enumerate().take(testnet.treasuries.len()) {
            if other == bank {
                continue;
            }
            let rate = demo_rate(other, bank)
                .ok_or_else(|| TestnetError::Invalid(format!("no demo rate {receive}/{pay}")))?;
            let asset =
                |code: &str| AssetCode::new(code).map_err(|e| TestnetError::Invalid(e.to_string()));
            let signed = Transaction {
                chain_id,
                sender: treasury.account(),
                nonce,
                fee: Amount::ZERO,
                expiry_height: height + 1_000,
                body: Body::QuotePost {
                    pay_asset: asset(pay)?,
                    receive_asset: asset(receive)?,
                    rate,
                    maximum: Amount(maximum),
                    valid_until: height + QUOTE_BLOCKS,
                },
            }
            .sign(&treasury)
            .map_err(|e| TestnetError::Invalid(e.to_string()))?;
            let id = signed
                .id()
                .map_err(|e| TestnetError::Invalid(e.to_string()))?;
            submit(agent, &url, &signer, &signed)?;
            ids.push((id, signer.clone()));
            nonce += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for (id, signer) in &ids {
        wait_committed(agent, &url, signer, id, deadline)?;
    }
    list(agent, &url)
}

fn status(agent: &ureq::Agent, url: &str) -> Result<dto::NodeStatus, TestnetError> {
    read_json(agent.get(&format!("{url}/v1/status")).call(), "status")
}

fn list(agent: &ureq::Agent, url: &str) -> Result<Vec<DemoQuote>, TestnetError> {
    let quotes: dto::Quotes = read_json(agent.get(&format!("{url}/v1/quotes")).call(), "quotes")?;
    Ok(quotes
        .quotes
        .into_iter()
        .filter_map(|quote| {
            let (from, to) = quote.pair.split_once('/')?;
            Some(DemoQuote {
                id: Hash::from_hex(&quote.id).ok()?,
                from: from.to_owned(),
                to: to.to_owned(),
            })
        })
        .collect())
}

fn account_nonce(
    agent: &ureq::Agent,
    url: &str,
    signer: &RequestSigner,
    account: &str,
) -> Result<u64, TestnetError> {
    let path = format!("/v1/accounts/{account}");
    let answer: dto::Account = read_json(
        agent
            .get(&format!("{url}{path}"))
            .header("authorization", signer.header("GET", &path, b""))
            .call(),
        "treasury account",
    )?;
    Ok(answer.nonce)
}

fn submit(
    agent: &ureq::Agent,
    url: &str,
    signer: &RequestSigner,
    signed: &clearhouse_ledger::SignedTransaction,
) -> Result<(), TestnetError> {
    let bytes = signed
        .encode()
        .map_err(|e| TestnetError::Invalid(e.to_string()))?;
    let body = serde_json::to_vec(&dto::SubmitRequest {
        transaction: hex::encode(bytes),
    })
    .map_err(|e| TestnetError::Invalid(e.to_string()))?;
    let answer = agent
        .post(&format!("{url}/v1/transactions"))
        .header("content-type", "application/json")
        .header(
            "authorization",
            signer.header("POST", "/v1/transactions", &body),
        )
        .send(&body[..])
        .map_err(|e| TestnetError::Io(format!("posting a demo quote: {e}")))?;
    if !answer.status().is_success() {
        return Err(TestnetError::Io(format!(
            "posting a demo quote: the node answered {}",
            answer.status()
        )));
    }
    Ok(())
}

fn wait_committed(
    agent: &ureq::Agent,
    url: &str,
    signer: &RequestSigner,
    id: &Hash,
    deadline: Instant,
) -> Result<(), TestnetError> {
    let path = format!("/v1/transactions/{}?wait_ms=1000", id.to_hex());
    while Instant::now() < deadline {
        let status: dto::TransactionStatus = read_json(
            agent
                .get(&format!("{url}{path}"))
                .header("authorization", signer.header("GET", &path, b""))
                .call(),
            "a demo quote's status",
        )?;
        match status.status {
            dto::TxState::Committed => return Ok(()),
            dto::TxState::Rejected => {
                return Err(TestnetError::Invalid(format!(
                    "demo quote {id} rejected: {}",
                    status.reason.unwrap_or_default()
                )));
            }
            dto::TxState::Pending | dto::TxState::Unknown => {}
        }
    }
    Err(TestnetError::Io(format!(
        "demo quote {id} not committed within 30 s"
    )))
}

fn read_json<T: serde::de::DeserializeOwned>(
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> Result<T, TestnetError> {
    let mut answer = answer.map_err(|e| TestnetError::Io(format!("{what}: {e}")))?;
    if !answer.status().is_success() {
        return Err(TestnetError::Io(format!(
            "{what}: the node answered {}",
            answer.status()
        )));
    }
    answer
        .body_mut()
        .read_json::<T>()
        .map_err(|e| TestnetError::Io(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_rates_convert_like_the_reference_values() {
        // 100.00 CNY (10,000 fen) is 14.00 USD less 0.2 %: 13.972, so 1,397 cents.
        let rate = demo_rate(0, 1).unwrap();
        assert_eq!(rate.convert(Amount(10_000)), Some(Amount(1_397)));
        // 1.00 USD is 149.25... JPY less the spread: 148 yen (0 decimals).
        let rate = demo_rate(1, 3).unwrap();
        assert_eq!(rate.convert(Amount(100)), Some(Amount(148)));
        for from in 0..ASSETS.len() {
            for to in 0..ASSETS.len() {
                assert!(demo_rate(from, to).is_some_and(|r| r.is_valid()));
            }
        }
    }
}
