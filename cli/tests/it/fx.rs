//! Settlement across currencies through the `clearhouse` binary on a
//! two-bank loopback testnet (bank-0 issues CNY, bank-1 USD; accounts 0
//! and 1 at bank-0, 2 and 3 at bank-1; fee 0.01 + 2 basis points, 30 % to
//! the receiving bank): a quote posted, listed and paid through with
//! `transfer --via`, withdrawn; a swap proposed into a file, refused while
//! unconsented or tampered with, consented and submitted; bad input exits
//! 2, the chain's refusals exit 4 with their reason codes.

use serde_json::Value;

use crate::net::{Net, balance};

fn json(net: &Net, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = net.clearhouse(&all);
    run.expect(code);
    run.json()
}

fn account(net: &Net, i: usize) -> Value {
    json(net, &["account", "show", &net.account(i)], 0)
}

#[test]
fn a_quote_converts_a_payment_and_a_swap_goes_through_a_reviewed_file() {
    let net = Net::start(2, 61);
    let treasury = net.treasury(1);
    let posted = json(
        &net,
        &[
            "quote",
            "post",
            "--key",
            &treasury,
            "--pay",
            "USD",
            "--receive",
            "CNY",
            "--rate",
            "0.14",
            "--maximum",
            "500.00 USD",
            "--valid-blocks",
            "500",
            "--wait",
        ],
        0,
    );
    assert_eq!(posted["outcome"], "applied", "{posted}");
    let quote = posted["hash"].as_str().unwrap().to_owned();
    let list = json(&net, &["quote", "list", "--pair", "CNY/USD"], 0);
    assert_eq!(list["quotes"][0]["id"], quote.as_str(), "{list}");
    assert_eq!(list["quotes"][0]["rate"]["numerator"], 7);
    assert_eq!(list["quotes"][0]["rate"]["denominator"], 50);
    assert_eq!(list["quotes"][0]["rate_decimal"], "0.14000000");

    // 100.00 CNY from account 0 pays account 2 14.00 USD.
    let (payer_before, payee_before) = (account(&net, 0), account(&net, 2));
    let paid = json(
        &net,
        &[
            "transfer",
            "--key",
            &net.key(0),
            "--to",
            &net.account(2),
            "--amount",
            "100.00 CNY",
            "--via",
            &quote,
            "--end-to-end-id",
            "FX-CLI-1",
            "--wait",
        ],
        0,
    );
    assert_eq!(paid["outcome"], "applied", "{paid}");
    assert_eq!(paid["converted"]["asset"], "USD");
    assert_eq!(paid["converted"]["minor_units"], "1400");
    let fee: u128 = paid["fee"].as_str().unwrap().parse().unwrap();
    assert_eq!(fee, 1 + 10_000 * 2 / 10_000);
    let (payer, payee) = (account(&net, 0), account(&net, 2));
    assert_eq!(
        balance(&payer, "CNY"),
        balance(&payer_before, "CNY") - 10_000 - fee
    );
    assert_eq!(
        balance(&payee, "USD"),
        balance(&payee_before, "USD") + 1_400
    );
    let shown = json(&net, &["quote", "show", &quote], 0);
    assert_eq!(shown["remaining"]["minor_units"], "48600");

    // Refusals: the wrong asset for the quote (exit 4), a rate of zero and
    // a quote of one asset (exit 2), another bank withdrawing (exit 4).
    let wrong = json(
        &net,
        &[
            "transfer",
            "--key",
            &net.key(0),
            "--to",
            &net.account(2),
            "--amount",
            "1.00 USD",
            "--via",
            &quote,
            "--wait",
        ],
        4,
    );
    assert_eq!(wrong["reason_code"], "quote_asset_mismatch");
    for (rate, pay) in [("0", "USD"), ("0.14", "CNY")] {
        net.clearhouse(&[
            "quote",
            "post",
            "--key",
            &treasury,
            "--pay",
            pay,
            "--receive",
            "CNY",
            "--rate",
            rate,
            "--maximum",
            "5.00 USD",
        ])
        .expect(2);
    }
    let withdrawn = json(
        &net,
        &[
            "quote",
            "withdraw",
            &quote,
            "--key",
            &net.treasury(0),
            "--wait",
        ],
        4,
    );
    assert_eq!(withdrawn["reason_code"], "not_quote_provider");
    let withdrawn = json(
        &net,
        &["quote", "withdraw", &quote, "--key", &treasury, "--wait"],
        0,
    );
    assert_eq!(withdrawn["outcome"], "applied");
    net.clearhouse(&["quote", "show", &quote]).expect(5);

    // A swap through a file: account 0 gives 70.00 CNY for 9.50 USD of account 2.
    let file = net.root.join("swap.json");
    let file = file.to_str().unwrap();
    let proposal = json(
        &net,
        &[
            "swap",
            "propose",
            "--key",
            &net.key(0),
            "--with",
            &net.account(2),
            "--give",
            "70.00 CNY",
            "--take",
            "9.50 USD",
            "--out",
            file,
        ],
        0,
    );
    assert_eq!(proposal["consented"], false);
    assert_eq!(proposal["counterparty_gives"], "9.50 USD");
    // Not consented yet: refused before anything is sent.
    net.clearhouse(&["swap", "submit", file, "--key", &net.key(0)])
        .expect(2);
    // Consent by anyone but the counterparty, or to a doctored summary: refused.
    net.clearhouse(&["swap", "consent", file, "--key", &net.key(1)])
        .expect(2);
    let honest = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, honest.replace("9.50 USD", "0.95 USD")).unwrap();
    net.clearhouse(&["swap", "consent", file, "--key", &net.key(2)])
        .expect(2);
    std::fs::write(file, &honest).unwrap();
    let consented = json(&net, &["swap", "consent", file, "--key", &net.key(2)], 0);
    assert_eq!(consented["consented"], true);
    let (a_before, b_before) = (account(&net, 0), account(&net, 2));
    let swapped = json(
        &net,
        &["swap", "submit", file, "--key", &net.key(0), "--wait"],
        0,
    );
    assert_eq!(swapped["outcome"], "applied", "{swapped}");
    let give_fee: u128 = swapped["fee"].as_str().unwrap().parse().unwrap();
    let take_fee: u128 = swapped["counter_fee"].as_str().unwrap().parse().unwrap();
    assert_eq!(give_fee, 1 + 7_000 * 2 / 10_000);
    assert_eq!(take_fee, 1);
    let (a, b) = (account(&net, 0), account(&net, 2));
    assert_eq!(
        balance(&a, "CNY"),
        balance(&a_before, "CNY") - 7_000 - give_fee
    );
    assert_eq!(balance(&a, "USD"), balance(&a_before, "USD") + 950);
    assert_eq!(balance(&b, "CNY"), balance(&b_before, "CNY") + 7_000);
    assert_eq!(
        balance(&b, "USD"),
        balance(&b_before, "USD") - 950 - take_fee
    );
    // Both keys at hand: one command.
    let direct = json(
        &net,
        &[
            "swap",
            "propose",
            "--key",
            &net.key(1),
            "--with",
            &net.account(3),
            "--give",
            "1.00 CNY",
            "--take",
            "0.10 USD",
            "--counter-key",
            &net.key(3),
            "--wait",
        ],
        0,
    );
    assert_eq!(direct["outcome"], "applied", "{direct}");
    // The counterparty's key must be the counterparty's.
    net.clearhouse(&[
        "swap",
        "propose",
        "--key",
        &net.key(1),
        "--with",
        &net.account(3),
        "--give",
        "1.00 CNY",
        "--take",
        "0.10 USD",
        "--counter-key",
        &net.key(2),
    ])
    .expect(2);
}
