//! Guaranteed payments and credit through the `clearhouse` binary on a
//! loopback testnet: a purchase released by the buyer, one auto-released at
//! its deadline, a dispute split by the arbiter, an unresolved dispute
//! refunded, a credit line drawn and repaid and another left overdue — then
//! every party's credit record and trust rating asserted exactly.
//!
//! Testnet facts used: 2 customers per bank (accounts 2i and 2i+1 belong to
//! bank-i), CNY has 2 decimals, fee 0.01 + 2 basis points, treasuries hold
//! 10,000,000 of every asset, credit cap 10 units per rating point.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::net::{Net, balance};

/// Runs a transaction command with `--json --wait`; asserts it applied.
fn applied(net: &Net, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    all.push("--wait");
    let receipt = net.clearhouse(&all).expect(0).json();
    assert_eq!(receipt["outcome"], "applied", "{args:?}: {receipt}");
    receipt
}

/// Runs a transaction command that the chain must reject with `code`.
fn rejected(net: &Net, args: &[&str], code: &str) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    all.push("--wait");
    let run = net.clearhouse(&all);
    run.expect(4);
    let receipt = run.json();
    assert_eq!(receipt["reason_code"], code, "{args:?}: {receipt}");
}

fn escrow(net: &Net, id: &str) -> Value {
    net.clearhouse(&["--json", "escrow", "show", id])
        .expect(0)
        .json()
}

fn credit(net: &Net, account: &str) -> Value {
    net.clearhouse(&["--json", "credit", "show", account])
        .expect(0)
        .json()
}

fn account(net: &Net, account: &str) -> Value {
    net.clearhouse(&["--json", "account", "show", account])
        .expect(0)
        .json()
}

fn height(net: &Net) -> u64 {
    net.clearhouse(&["--json", "status"]).expect(0).json()["height"]
        .as_u64()
        .unwrap()
}

/// Waits until `done` holds. Deadlines are heights, and nothing else is
/// submitted meanwhile: the nodes make the blocks themselves while a
/// deadline is pending (`deadline_block_ms`, 200 ms on a loopback testnet).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not reached in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A new account of `bank` with nothing in it: its key file and id.
fn new_account(net: &Net, bank: usize, name: &str) -> (String, String) {
    let file = net.elsewhere.join(format!("{name}.key"));
    let file = file.to_str().unwrap().to_owned();
    let created = net
        .clearhouse(&["--json", "keys", "new", "--out", &file])
        .expect(0)
        .json();
    let id = created["account"].as_str().unwrap().to_owned();
    applied(
        net,
        &[
            "account",
            "register",
            "--key",
            &net.treasury(bank),
            "--account",
            &id,
        ],
    );
    (file, id)
}

fn minor(value: &Value) -> u128 {
    value["minor_units"].as_str().unwrap().parse().unwrap()
}

/// The parts of a credit record the scenario asserts, in one comparable
/// line: sent/received counts per asset, escrow tallies, credit volumes,
/// repaid on time, overdue events/open, attestations, rating.
fn summary(credit: &Value) -> String {
    let r = &credit["record"];
    let tallies = |name: &str| {
        r[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}:{}/{}",
                    t["asset"].as_str().unwrap(),
                    t["count"],
                    minor(&t["volume"])
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let e = &r["escrows"];
    let credit_volumes = r["credit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}/{}/{}",
                t["asset"].as_str().unwrap(),
                minor(&t["drawn"]),
                minor(&t["repaid"]),
                minor(&t["overdue"])
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "sent[{}] received[{}] escrows[c{} r{} d{} w{} l{}] credit[{}] on_time={} overdue={}/{} attest={}+/{}- rating={}",
        tallies("payments_sent"),
        tallies("payments_received"),
        e["completed"],
        e["refunded"],
        e["disputed"],
        e["won"],
        e["lost"],
        credit_volumes,
        r["repaid_on_time"],
        r["overdue_events"],
        r["overdue_open"],
        r["attesting_banks"]["positive"],
        r["attesting_banks"]["negative"],
        credit["rating"],
    )
}

#[test]
fn guaranteed_payments_and_credit_build_exact_records() {
    let net = Net::start(4, 29);
    let id = |i: usize| net.account(i);
    let key = |i: usize| net.key(i);
    let opening = balance(&account(&net, &id(0)), "CNY");

    // 1. A purchase the buyer releases: account 0 buys from account 2.
    let open = applied(
        &net,
        &[
            "escrow",
            "open",
            "--key",
            &key(0),
            "--to",
            &id(2),
            "--amount",
            "100.00 CNY",
            "--arbiter",
            "bank-2",
            "--order",
            "order-1",
        ],
    );
    let first = open["hash"].as_str().unwrap().to_owned();
    // Amount plus fee (0.01 + 2 bps of 100.00 = 0.03) left the buyer; held.
    assert_eq!(balance(&account(&net, &id(0)), "CNY"), opening - 10_000 - 3);
    let shown = escrow(&net, &first);
    assert_eq!(shown["status"], "open");
    assert_eq!(minor(&shown["held"]), 10_000);
    // Nobody but the buyer releases; nobody but the seller refunds.
    rejected(
        &net,
        &["escrow", "release", "--key", &key(2), "--escrow", &first],
        "not_buyer",
    );
    rejected(
        &net,
        &["escrow", "refund", "--key", &key(0), "--escrow", &first],
        "not_seller",
    );
    rejected(
        &net,
        &["escrow", "dispute", "--key", &key(4), "--escrow", &first],
        "not_party",
    );
    applied(
        &net,
        &["escrow", "release", "--key", &key(0), "--escrow", &first],
    );
    let shown = escrow(&net, &first);
    assert_eq!(shown["status"], "settled");
    assert_eq!(shown["settlement"]["how"], "released_by_buyer");
    assert_eq!(minor(&shown["settlement"]["to_seller"]), 10_000);
    assert_eq!(minor(&shown["held"]), 0);
    assert_eq!(balance(&account(&net, &id(2)), "CNY"), opening + 10_000);
    // Nothing settles twice.
    rejected(
        &net,
        &["escrow", "release", "--key", &key(0), "--escrow", &first],
        "escrow_settled",
    );

    // 2. One the buyer forgets: account 1 buys from account 3; it releases
    //    to the seller by itself after the confirmation deadline.
    let open = applied(
        &net,
        &[
            "escrow",
            "open",
            "--key",
            &key(1),
            "--to",
            &id(3),
            "--amount",
            "50.00 CNY",
            "--arbiter",
            "bank-0",
            "--order",
            "order-2",
            "--confirm-blocks",
            "3",
            "--arbiter-blocks",
            "2",
        ],
    );
    let second = open["hash"].as_str().unwrap().to_owned();
    let confirm_deadline = escrow(&net, &second)["confirm_deadline"].as_u64().unwrap();
    wait_until("auto-release", || {
        escrow(&net, &second)["status"] == "settled"
    });
    let shown = escrow(&net, &second);
    assert_eq!(shown["settlement"]["how"], "auto_released");
    assert_eq!(shown["settlement"]["at"], confirm_deadline + 1, "{shown}");
    assert_eq!(balance(&account(&net, &id(3)), "CNY"), opening + 5_000);

    // 3. A dispute the arbiter splits: account 4 buys from account 5 for
    //    80.00, the seller disputes, bank-1 gives the seller 30.00.
    let open = applied(
        &net,
        &[
            "escrow",
            "open",
            "--key",
            &key(4),
            "--to",
            &id(5),
            "--amount",
            "80.00 CNY",
            "--arbiter",
            "bank-1",
            "--order",
            "order-3",
        ],
    );
    let third = open["hash"].as_str().unwrap().to_owned();
    // Only the arbiter resolves, and only a disputed escrow.
    rejected(
        &net,
        &[
            "escrow",
            "resolve",
            "--key",
            &net.treasury(1),
            "--escrow",
            &third,
            "--to-seller",
            "30.00 CNY",
        ],
        "wrong_escrow_status",
    );
    applied(
        &net,
        &["escrow", "dispute", "--key", &key(5), "--escrow", &third],
    );
    rejected(
        &net,
        &[
            "escrow",
            "resolve",
            "--key",
            &net.treasury(2),
            "--escrow",
            &third,
            "--to-seller",
            "30.00 CNY",
        ],
        "not_arbiter",
    );
    rejected(
        &net,
        &[
            "escrow",
            "resolve",
            "--key",
            &net.treasury(1),
            "--escrow",
            &third,
            "--to-seller",
            "80.01 CNY",
        ],
        "split_too_large",
    );
    applied(
        &net,
        &[
            "escrow",
            "resolve",
            "--key",
            &net.treasury(1),
            "--escrow",
            &third,
            "--to-seller",
            "30.00 CNY",
        ],
    );
    let shown = escrow(&net, &third);
    assert_eq!(shown["settlement"]["how"], "resolved_by_arbiter");
    assert_eq!(shown["dispute"]["by"], id(5).as_str());
    assert_eq!(minor(&shown["settlement"]["to_buyer"]), 5_000);
    // Fee 0.01 + 2 bps of 80.00 = 0.02.
    assert_eq!(
        balance(&account(&net, &id(4)), "CNY"),
        opening - 8_000 - 2 + 5_000
    );
    assert_eq!(balance(&account(&net, &id(5)), "CNY"), opening + 3_000);

    // 4. A dispute nobody resolves: refunded to the buyer by itself.
    let open = applied(
        &net,
        &[
            "escrow",
            "open",
            "--key",
            &key(6),
            "--to",
            &id(7),
            "--amount",
            "20.00 CNY",
            "--arbiter",
            "bank-0",
            "--reference",
            &"ab".repeat(32),
            "--confirm-blocks",
            "5",
            "--arbiter-blocks",
            "2",
        ],
    );
    let fourth = open["hash"].as_str().unwrap().to_owned();
    applied(
        &net,
        &["escrow", "dispute", "--key", &key(6), "--escrow", &fourth],
    );
    let arbiter_deadline = escrow(&net, &fourth)["arbiter_deadline"].as_u64().unwrap();
    wait_until("auto-refund", || {
        escrow(&net, &fourth)["status"] == "settled"
    });
    let shown = escrow(&net, &fourth);
    assert_eq!(shown["settlement"]["how"], "auto_refunded");
    assert_eq!(shown["settlement"]["at"], arbiter_deadline + 1);
    assert_eq!(shown["reference"], "ab".repeat(32).as_str());
    // Fee 0.01 + 2 bps of 20.00 = 0.01 + 0.004 → 0.01.
    assert_eq!(balance(&account(&net, &id(6)), "CNY"), opening - 1);

    // 5. A credit line drawn and repaid: a new, empty customer of bank-1.
    let (borrower_key, borrower) = new_account(&net, 1, "borrower");
    applied(
        &net,
        &[
            "credit",
            "grant",
            "--key",
            &net.treasury(1),
            "--account",
            &borrower,
            "--limit",
            "500.00 CNY",
            "--period-blocks",
            "50",
        ],
    );
    // Only the hosting bank grants.
    rejected(
        &net,
        &[
            "credit",
            "grant",
            "--key",
            &net.treasury(0),
            "--account",
            &borrower,
            "--limit",
            "500.00 CNY",
            "--period-blocks",
            "50",
        ],
        "not_hosting_bank",
    );
    // It pays 200.00 with nothing in its balance: it draws 200.05 (with the fee).
    applied(
        &net,
        &[
            "transfer",
            "--key",
            &borrower_key,
            "--to",
            &id(3),
            "--amount",
            "200.00 CNY",
        ],
    );
    let shown = account(&net, &borrower);
    assert_eq!(balance(&shown, "CNY"), 0);
    assert_eq!(minor(&shown["owed"][0]), 20_005);
    // More than the line allows is refused.
    rejected(
        &net,
        &[
            "transfer",
            "--key",
            &borrower_key,
            "--to",
            &id(3),
            "--amount",
            "300.00 CNY",
        ],
        "insufficient_funds",
    );
    // Incoming money repays the line first, the rest is balance.
    applied(
        &net,
        &[
            "transfer",
            "--key",
            &key(3),
            "--to",
            &borrower,
            "--amount",
            "300.00 CNY",
        ],
    );
    let shown = account(&net, &borrower);
    assert_eq!(balance(&shown, "CNY"), 30_000 - 20_005);
    assert_eq!(shown["owed"].as_array().unwrap().len(), 0);
    let line = &credit(&net, &borrower)["lines"][0];
    assert_eq!(minor(&line["drawn"]), 0);
    assert_eq!(minor(&line["usable"]), 50_000);

    // 6. A line left overdue: a new customer of bank-2 with a 2-block period.
    let (late_key, late) = new_account(&net, 2, "late");
    applied(
        &net,
        &[
            "credit",
            "grant",
            "--key",
            &net.treasury(2),
            "--account",
            &late,
            "--limit",
            "100.00 CNY",
            "--period-blocks",
            "2",
        ],
    );
    applied(
        &net,
        &[
            "transfer",
            "--key",
            &late_key,
            "--to",
            &id(4),
            "--amount",
            "50.00 CNY",
        ],
    );
    wait_until("overdue", || {
        credit(&net, &late)["record"]["overdue_events"] == 1
    });
    let line = &credit(&net, &late)["lines"][0];
    // 50.00 + fee 0.02, all overdue; the rating fell below 400: no credit.
    assert_eq!(minor(&line["overdue"]), 5_002);
    assert_eq!(minor(&line["usable"]), 0);
    rejected(
        &net,
        &[
            "transfer",
            "--key",
            &late_key,
            "--to",
            &id(4),
            "--amount",
            "1.00 CNY",
        ],
        "insufficient_funds",
    );

    // 7. Attestations: bank-0 vouches for account 0, bank-2 reports account 5.
    applied(
        &net,
        &[
            "credit",
            "attest",
            "--key",
            &net.treasury(0),
            "--account",
            &id(0),
            "--positive",
            "--category",
            "repayment",
            "--evidence",
            "statement-2026-11",
        ],
    );
    applied(
        &net,
        &[
            "credit",
            "attest",
            "--key",
            &net.treasury(2),
            "--account",
            &id(5),
            "--negative",
            "--category",
            "dispute-conduct",
            "--evidence",
            "case-77",
        ],
    );
    rejected(
        &net,
        &[
            "credit",
            "attest",
            "--key",
            &key(1),
            "--account",
            &id(5),
            "--negative",
            "--category",
            "spite",
            "--evidence",
            "none",
        ],
        "not_bank",
    );

    // The records and ratings, exactly (formula v1, ledger/src/state/credit.rs).
    let expect = [
        // Released purchase, vouched for: 500 + 2 (completed) + 25 (positive).
        (
            id(0),
            "sent[] received[] escrows[c1 r0 d0 w0 l0] credit[] on_time=0 overdue=0/0 attest=1+/0- rating=527",
        ),
        // Auto-released purchase: 500 + 2.
        (
            id(1),
            "sent[] received[] escrows[c1 r0 d0 w0 l0] credit[] on_time=0 overdue=0/0 attest=0+/0- rating=502",
        ),
        (
            id(2),
            "sent[] received[] escrows[c1 r0 d0 w0 l0] credit[] on_time=0 overdue=0/0 attest=0+/0- rating=502",
        ),
        // Seller of the auto-release; received 200.00 from the borrower and
        // sent it 300.00: 500 + 1/2 + 1/4 (rounded down) + 2.
        (
            id(3),
            "sent[CNY:1/30000] received[CNY:1/20000] escrows[c1 r0 d0 w0 l0] credit[] on_time=0 overdue=0/0 attest=0+/0- rating=502",
        ),
        // Buyer who won the split; received 50.00 from the late borrower.
        (
            id(4),
            "sent[] received[CNY:1/5000] escrows[c0 r0 d1 w1 l0] credit[] on_time=0 overdue=0/0 attest=0+/0- rating=500",
        ),
        // Seller who lost it and was reported: 500 - 40 - 100.
        (
            id(5),
            "sent[] received[] escrows[c0 r0 d1 w0 l1] credit[] on_time=0 overdue=0/0 attest=0+/1- rating=360",
        ),
        (
            id(6),
            "sent[] received[] escrows[c0 r1 d1 w0 l0] credit[] on_time=0 overdue=0/0 attest=0+/0- rating=500",
        ),
        (
            id(7),
            "sent[] received[] escrows[c0 r1 d1 w0 l0] credit[] on_time=0 overdue=0/0 attest=0+/0- rating=500",
        ),
        // Drew 200.05, repaid it in time: 500 + 5.
        (
            borrower,
            "sent[CNY:1/20000] received[CNY:1/30000] escrows[c0 r0 d0 w0 l0] credit[CNY:20005/20005/0] on_time=1 overdue=0/0 attest=0+/0- rating=505",
        ),
        // Drew 50.02, overdue and unpaid: 500 - 100 - 150.
        (
            late,
            "sent[CNY:1/5000] received[] escrows[c0 r0 d0 w0 l0] credit[CNY:5002/0/5002] on_time=0 overdue=1/1 attest=0+/0- rating=250",
        ),
    ];
    for (account, expected) in expect {
        assert_eq!(
            summary(&credit(&net, &account)),
            expected,
            "account {account}"
        );
    }

    // The auditor re-executes all of it from genesis (at least up to the
    // height seen now: deadline blocks may still be added meanwhile).
    let seen = height(&net);
    let audit = net.clearhouse(&["--json", "audit", "verify", "--genesis", &net.genesis()]);
    let report = audit.expect(0).json();
    assert!(report["blocks"].as_u64().unwrap() >= seen, "{report}");
}
