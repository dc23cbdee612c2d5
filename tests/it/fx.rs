//! Settlement across currencies on a whole network of four banks: a
//! customer of the CNY bank pays a USD-denominated merchant at the USD bank
//! through that bank's FX quote, and two customers swap CNY for EUR
//! atomically. Every node shows the same balances, the quote's remaining
//! size, both banks' shares of the fee and the receipts with both legs;
//! a swap the counterparty cannot fund moves nothing anywhere.

use std::time::Duration;

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::crypto::Signature;
use clearhouse_ledger::payment::{EndToEndId, PaymentData, PaymentDetails, Remittance};
use clearhouse_ledger::{AccountId, Amount, AssetCode, Body, SignedTransaction, Transaction};
use clearhouse_node::api::dto::{self, TxState};
use clearhouse_testnet::{OPENING_UNITS, TREASURY_OPENING_UNITS};

use crate::cluster::Cluster;

/// Minor units of a 2-decimal asset.
fn units(whole: u64) -> u128 {
    u128::from(whole) * 100
}

fn asset(code: &str) -> AssetCode {
    AssetCode::new(code).unwrap()
}

fn balance(cluster: &Cluster, i: usize, account: &AccountId, code: &str) -> u128 {
    cluster.balance(i, account, code)
}

fn treasury(cluster: &Cluster, bank: usize) -> clearhouse_ledger::crypto::Keypair {
    clearhouse_node::keyfile::read(&cluster.testnet.treasuries[bank]).unwrap()
}

fn signed(
    cluster: &Cluster,
    key: &clearhouse_ledger::crypto::Keypair,
    nonce: u64,
    body: Body,
) -> Transaction {
    Transaction {
        chain_id: cluster.chain_id,
        sender: key.account(),
        nonce,
        fee: Amount(1_000_000),
        expiry_height: 1_000_000,
        body,
    }
}

fn committed(cluster: &Cluster, tx: &SignedTransaction) -> Vec<dto::TransactionStatus> {
    cluster.final_everywhere(4, tx)
}

#[test]
fn a_cny_customer_pays_a_usd_merchant_through_a_quote_and_swaps_settle_both_legs() {
    let cluster = Cluster::start(4, 0, 2, 53);
    let treasury_units = units(TREASURY_OPENING_UNITS);
    let opening = units(OPENING_UNITS);
    // Customers: 0 and 1 at bank-0 (CNY), 2 and 3 at bank-1 (USD), 4 and 5
    // at bank-2 (EUR).
    let (payer, merchant) = (cluster.keys[0].account(), cluster.keys[2].account());
    let usd_bank = treasury(&cluster, 1);
    let cny_bank = treasury(&cluster, 0);

    // Bank 1 quotes 0.14 USD per CNY (14 cents per 100 fen), up to 5,000.00 USD.
    let rate = Rate {
        numerator: 14,
        denominator: 100,
    };
    let post = signed(
        &cluster,
        &usd_bank,
        0,
        Body::QuotePost {
            pay_asset: asset("USD"),
            receive_asset: asset("CNY"),
            rate,
            maximum: Amount(units(5_000)),
            valid_until: 100_000,
        },
    )
    .sign(&usd_bank)
    .unwrap();
    let quote = post.id().unwrap();
    cluster.submit_accepted(1, &post);
    for status in committed(&cluster, &post) {
        assert_eq!(status.status, TxState::Committed, "{status:?}");
    }
    // Every node lists it, best first for CNY/USD.
    for i in 0..4 {
        let (code, answer) = cluster.get_as(i, "/v1/quotes?pair=CNY/USD", None);
        assert_eq!(code, 200, "{answer}");
        let quotes: dto::Quotes = serde_json::from_value(answer).unwrap();
        assert_eq!(quotes.quotes.len(), 1, "node {i}");
        assert_eq!(quotes.quotes[0].id, quote.to_hex());
        assert_eq!(quotes.quotes[0].rate_decimal.as_deref(), Some("0.14000000"));
    }

    // 10,000.00 CNY from the payer becomes 1,400.00 USD for the merchant.
    let paid = units(10_000);
    let pay = cluster.sign(
        0,
        0,
        Body::CrossTransfer {
            to: merchant,
            asset: asset("CNY"),
            amount: Amount(paid),
            quote,
            details: PaymentDetails::Clear(PaymentData {
                end_to_end_id: EndToEndId::new("FX-2026-0001").unwrap(),
                remittance: Remittance::new("order 77, paid in CNY").unwrap(),
            }),
        },
    );
    cluster.submit_accepted(0, &pay);
    // The testnet's schedule: 0.01 + 2 bps; the payee's bank keeps 30 %.
    let fee = 1 + paid * 2 / 10_000;
    let receiving = fee * 3_000 / 10_000;
    let converted = units(1_400);
    for (i, status) in committed(&cluster, &pay).iter().enumerate() {
        assert_eq!(status.status, TxState::Committed, "node {i}: {status:?}");
        assert_eq!(status.fee.as_deref(), Some(fee.to_string().as_str()));
        let conversion = status.converted.as_ref().unwrap();
        assert_eq!(conversion.asset, "USD");
        assert_eq!(conversion.minor_units, converted.to_string());
        assert_eq!(conversion.rate, rate.into());
        let body = &status.transaction.as_ref().unwrap().body;
        assert!(
            matches!(body, dto::Body::CrossTransfer { end_to_end_id: Some(id), .. } if id == "FX-2026-0001"),
            "{body:?}"
        );
    }
    for i in 0..4 {
        assert_eq!(balance(&cluster, i, &payer, "CNY"), opening - paid - fee);
        assert_eq!(balance(&cluster, i, &merchant, "USD"), opening + converted);
        assert_eq!(balance(&cluster, i, &merchant, "CNY"), opening);
        assert_eq!(
            balance(&cluster, i, &usd_bank.account(), "CNY"),
            treasury_units + paid + receiving,
            "node {i}: the quoting bank took the CNY and, as the payee's bank, its share of the fee"
        );
        assert_eq!(
            balance(&cluster, i, &usd_bank.account(), "USD"),
            treasury_units - converted
        );
        assert_eq!(
            balance(&cluster, i, &cny_bank.account(), "CNY"),
            treasury_units + fee - receiving,
            "node {i}: the payer's bank kept the rest of the fee"
        );
        let (code, answer) = cluster.get_as(i, &format!("/v1/quotes/{quote}"), None);
        assert_eq!(code, 200, "{answer}");
        let live: dto::Quote = serde_json::from_value(answer).unwrap();
        assert_eq!(
            live.remaining.minor_units,
            (units(5_000) - converted).to_string()
        );
    }

    // A swap: customer 1 (CNY) gives 500.00 CNY for 65.00 EUR of customer 4.
    let (a, b) = (cluster.keys[1].account(), cluster.keys[4].account());
    let swap_body = |take: u128| Body::Swap {
        counterparty: b,
        give_asset: asset("CNY"),
        give_amount: Amount(units(500)),
        take_asset: asset("EUR"),
        take_amount: Amount(take),
        counter_fee: Amount(1_000_000),
        counter_signature: Signature([0; 64]),
    };
    let swap = signed(&cluster, &cluster.keys[1], 0, swap_body(units(65)))
        .with_consent(&cluster.keys[4])
        .unwrap()
        .sign(&cluster.keys[1])
        .unwrap();
    cluster.submit_accepted(2, &swap);
    let give_fee = 1 + units(500) * 2 / 10_000;
    let take_fee = 1 + units(65) * 2 / 10_000;
    for status in committed(&cluster, &swap) {
        assert_eq!(status.status, TxState::Committed, "{status:?}");
        assert_eq!(status.counter_fee, Some(take_fee.to_string()));
    }
    // The counterparty short of its leg: nothing moves, on any node.
    let short = signed(&cluster, &cluster.keys[1], 1, swap_body(opening * 2))
        .with_consent(&cluster.keys[4])
        .unwrap()
        .sign(&cluster.keys[1])
        .unwrap();
    cluster.submit_accepted(3, &short);
    for status in committed(&cluster, &short) {
        assert_eq!(status.status, TxState::Rejected, "{status:?}");
        assert_eq!(status.reason_code.as_deref(), Some("insufficient_funds"));
    }
    for i in 0..4 {
        assert_eq!(
            balance(&cluster, i, &a, "CNY"),
            opening - units(500) - give_fee
        );
        assert_eq!(balance(&cluster, i, &a, "EUR"), opening + units(65));
        assert_eq!(balance(&cluster, i, &b, "CNY"), opening + units(500));
        assert_eq!(
            balance(&cluster, i, &b, "EUR"),
            opening - units(65) - take_fee
        );
    }

    cluster.wait_until(Duration::from_secs(30), "all nodes at one tip", || {
        let tips = cluster.tips();
        let first = tips.values().next().cloned();
        tips.values().all(|t| Some(t.clone()) == first)
    });
    cluster.shutdown_and_check_stores();
}
