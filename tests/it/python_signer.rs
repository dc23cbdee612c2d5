//! The other-language client against a live network: `docs/sign_transfer.py`,
//! which knows only the documented layout, signs a transfer, a swap (the
//! counterparty's consent included) and a cross-currency transfer; the
//! nodes accept, commit and apply all three, and the balances are exactly
//! what the bodies and the fee schedule imply. CI installs `cryptography`
//! and sets `CLEARHOUSE_REQUIRE_PYTHON=1`, so there this test cannot skip;
//! on a machine without them it says so and passes.

use clearhouse_ledger::amount::Rate;
use clearhouse_ledger::{AccountId, Amount, AssetCode, Body, SignedTransaction, Transaction};
use clearhouse_node::api::dto::{self, TxState};
use clearhouse_testnet::OPENING_UNITS;

use crate::cluster::Cluster;

const VALIDATORS: usize = 2;

fn asset(code: &str) -> AssetCode {
    AssetCode::new(code).unwrap()
}

fn balance(cluster: &Cluster, i: usize, account: &AccountId, code: &str) -> u128 {
    cluster.balance(i, account, code)
}

/// The testnet's schedule for a 2-decimal asset: 0.01 + 2 bps, rounded down.
fn fee(amount: u128) -> u128 {
    1 + amount * 2 / 10_000
}

/// `tx`'s status on every node, once it is no longer pending anywhere.
fn committed(cluster: &Cluster, tx: &SignedTransaction) -> Vec<dto::TransactionStatus> {
    let statuses = cluster.final_everywhere(VALIDATORS, tx);
    for (i, status) in statuses.iter().enumerate() {
        assert_eq!(status.status, TxState::Committed, "node {i}: {status:?}");
        assert_eq!(status.outcome, Some(dto::Outcome::Applied), "node {i}");
    }
    statuses
}

/// Runs `docs/sign_transfer.py` with `args`: its output, or `None` (after
/// saying so) when python3 with `cryptography` is not there and not required.
fn python(args: &[String]) -> Option<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/sign_transfer.py");
    let required = std::env::var("CLEARHOUSE_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output();
    match output {
        Ok(output) if output.status.success() => Some(String::from_utf8(output.stdout).unwrap()),
        other => {
            assert!(
                !required,
                "python3 {script} sign failed (pip install cryptography): {other:?}"
            );
            eprintln!("skipped: python3 with `cryptography` is not available ({other:?})");
            None
        }
    }
}

#[test]
fn the_python_signer_s_transfer_swap_and_cross_transfer_settle_on_a_network() {
    // Bank 0 issues CNY (customers 0 and 1), bank 1 USD (customers 2, 3).
    let mut cluster = Cluster::generate(VALIDATORS, 0, 2, 71);
    let opening = u128::from(OPENING_UNITS) * 100;
    let (sender, payee) = (cluster.keys[0].account(), cluster.keys[2].account());
    let usd_bank = clearhouse_node::keyfile::read(&cluster.testnet.treasuries[1]).unwrap();

    // Bank 1 quotes 0.14 USD per CNY, up to 5,000.00 USD.
    let rate = Rate {
        numerator: 14,
        denominator: 100,
    };
    let maximum = 500_000;
    let post = Transaction {
        chain_id: cluster.chain_id,
        sender: usd_bank.account(),
        nonce: 0,
        fee: Amount(1_000_000),
        expiry_height: 1_000_000,
        body: Body::QuotePost {
            pay_asset: asset("USD"),
            receive_asset: asset("CNY"),
            rate,
            maximum: Amount(maximum),
            valid_until: 100_000,
        },
    }
    .sign(&usd_bank)
    .unwrap();
    let quote = post.id().unwrap();

    // Python signs before any node starts: nothing to stop if it skips.
    let sender_seed = clearhouse_node::keyfile::read(&cluster.testnet.accounts[0].key_file)
        .unwrap()
        .seed();
    let counter_seed = clearhouse_node::keyfile::read(&cluster.testnet.accounts[2].key_file)
        .unwrap()
        .seed();
    let args = [
        "sign".to_owned(),
        cluster.chain_id.to_hex(),
        hex::encode(sender_seed),
        hex::encode(counter_seed),
        payee.to_hex(),
        quote.to_hex(),
        "1000000".to_owned(),
    ];
    let Some(output) = python(&args) else {
        return;
    };
    let txs: Vec<(String, SignedTransaction)> = output
        .lines()
        .map(|line| {
            let (kind, wire) = line.split_once(' ').unwrap();
            let bytes = hex::decode(wire).unwrap();
            let tx =
                SignedTransaction::decode(&bytes).unwrap_or_else(|e| panic!("{kind}: {e}: {wire}"));
            assert_eq!(tx.encode().unwrap(), bytes, "{kind}: not canonical");
            (kind.to_owned(), tx)
        })
        .collect();
    let kinds: Vec<&str> = txs.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["transfer", "swap", "cross_transfer"], "{output}");
    let [(_, transfer), (_, swap), (_, cross)] = &txs[..] else {
        unreachable!()
    };
    for (nonce, (kind, tx)) in txs.iter().enumerate() {
        assert_eq!(tx.tx.chain_id, cluster.chain_id, "{kind}");
        assert_eq!(tx.tx.sender, sender, "{kind}");
        assert_eq!(tx.tx.nonce, nonce as u64, "{kind}");
    }

    // What the bodies say.
    let Body::Transfer {
        to,
        asset: ref sent_asset,
        amount: Amount(sent),
    } = transfer.tx.body
    else {
        panic!("{:?}", transfer.tx.body)
    };
    assert_eq!((to, sent_asset.as_str()), (payee, "CNY"));
    let Body::Swap {
        counterparty,
        ref give_asset,
        give_amount: Amount(give),
        ref take_asset,
        take_amount: Amount(take),
        ..
    } = swap.tx.body
    else {
        panic!("{:?}", swap.tx.body)
    };
    assert_eq!(
        (counterparty, give_asset.as_str(), take_asset.as_str()),
        (payee, "CNY", "USD")
    );
    let Body::CrossTransfer {
        to,
        asset: ref paid_asset,
        amount: Amount(paid),
        quote: via,
        ..
    } = cross.tx.body
    else {
        panic!("{:?}", cross.tx.body)
    };
    assert_eq!((to, paid_asset.as_str(), via), (payee, "CNY", quote));
    let converted = rate.convert(Amount(paid)).unwrap().0;

    for i in 0..VALIDATORS {
        cluster.start_node(i);
    }
    cluster.submit_accepted(1, &post);
    committed(&cluster, &post);
    for (_, tx) in &txs {
        cluster.submit_accepted(0, tx);
    }

    for status in committed(&cluster, transfer) {
        assert_eq!(status.fee, Some(fee(sent).to_string()));
    }
    for status in committed(&cluster, swap) {
        assert_eq!(status.fee, Some(fee(give).to_string()));
        assert_eq!(status.counter_fee, Some(fee(take).to_string()));
    }
    for status in committed(&cluster, cross) {
        assert_eq!(status.fee, Some(fee(paid).to_string()));
        let conversion = status.converted.as_ref().unwrap();
        assert_eq!(conversion.asset, "USD");
        assert_eq!(conversion.minor_units, converted.to_string());
        assert_eq!(conversion.rate, rate.into());
        let body = &status.transaction.as_ref().unwrap().body;
        assert!(
            matches!(body, dto::Body::CrossTransfer { end_to_end_id: Some(id), .. } if id == "PY-2026-0001"),
            "{body:?}"
        );
    }

    for i in 0..VALIDATORS {
        assert_eq!(
            balance(&cluster, i, &sender, "CNY"),
            opening - sent - fee(sent) - give - fee(give) - paid - fee(paid),
            "node {i}"
        );
        assert_eq!(
            balance(&cluster, i, &sender, "USD"),
            opening + take,
            "node {i}"
        );
        assert_eq!(
            balance(&cluster, i, &payee, "CNY"),
            opening + sent + give,
            "node {i}"
        );
        assert_eq!(
            balance(&cluster, i, &payee, "USD"),
            opening - take - fee(take) + converted,
            "node {i}: the swap's USD leg and its fee out, the conversion in"
        );
        let (code, answer) = cluster.get_as(i, &format!("/v1/quotes/{quote}"), None);
        assert_eq!(code, 200, "{answer}");
        let live: dto::Quote = serde_json::from_value(answer).unwrap();
        assert_eq!(
            live.remaining.minor_units,
            (maximum - converted).to_string()
        );
    }

    cluster.shutdown_and_check_stores();
}
