//! On-chain governance through the `clearhouse` binary on a four-bank
//! loopback testnet (equal voting power: three yes votes of four pass): a
//! proposal to register GBP, voted through by the governance keys of banks
//! 0 (the proposer's yes), 1 and 2, taking effect `activation_offset` (10)
//! blocks after it passed, and the asset then on the chain; a second vote,
//! a vote from a key that governs nothing and an unknown proposal exit
//! with the rejected and not-found codes; the unsigned public sees the
//! proposal in its block.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::net::{Net, get_json};

/// The whole scenario's bound (the network's start excluded).
const SCENARIO_DEADLINE: Duration = Duration::from_secs(60);

fn json(net: &Net, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = net.clearhouse(&all);
    run.expect(code);
    run.json()
}

fn show(net: &Net, id: &str) -> Value {
    json(net, &["governance", "show", id], 0)
}

fn vote(net: &Net, id: &str, key: &str, code: i32) -> Value {
    json(
        net,
        &["governance", "vote", id, "--yes", "--key", key, "--wait"],
        code,
    )
}

fn height(net: &Net) -> u64 {
    get_json(&format!("{}/v1/status", net.url(0))).unwrap()["height"]
        .as_u64()
        .unwrap()
}

#[test]
fn governance_registers_an_asset_once_three_of_four_banks_vote_yes() {
    let net = Net::start(4, 71);
    let deadline = Instant::now() + SCENARIO_DEADLINE;

    // Bank 0 proposes; proposing is its yes.
    let proposed = json(
        &net,
        &[
            "governance",
            "propose",
            "register-asset",
            "GBP",
            "--decimals",
            "2",
            "--issuer",
            "bank-1",
            "--key",
            &net.governor(0),
            "--voting-period",
            "500",
            "--wait",
        ],
        0,
    );
    assert_eq!(proposed["outcome"], "applied", "{proposed}");
    assert_eq!(proposed["fee"], "0");
    let id = proposed["hash"].as_str().unwrap().to_owned();
    let proposed_at = proposed["height"].as_u64().unwrap();
    let shown = show(&net, &id);
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["status"], "voting", "{shown}");
    assert_eq!(shown["proposer"], "bank-0");
    assert_eq!(shown["proposed_at"], proposed_at);
    assert_eq!(shown["voting_ends"], proposed_at + 499);
    assert_eq!(shown["action"]["kind"], "register_asset");
    assert_eq!(shown["action"]["code"], "GBP");
    assert_eq!(shown["action"]["issuer"], "bank-1");
    assert_eq!(
        shown["votes"],
        serde_json::json!([{"member": "bank-0", "approve": true}])
    );
    assert_eq!(
        shown["tally"],
        serde_json::json!({"yes": 10, "no": 0, "total": 40})
    );
    assert!(shown.get("activates_at").is_none(), "{shown}");

    // The proposal is public business: the unsigned public sees it in its
    // block, and `tx show` names the action.
    let block = net.run_unsigned(&[
        "--node",
        &net.url(1),
        "--json",
        "block",
        "show",
        &proposed_at.to_string(),
    ]);
    block.expect(0);
    let block = block.json();
    let transactions = block["transactions"].as_array().unwrap();
    assert!(
        transactions
            .iter()
            .any(|tx| tx["hash"] == id.as_str() && tx["body"]["kind"] == "propose"),
        "{block}"
    );
    let tx = json(&net, &["tx", "show", &id], 0);
    assert_eq!(
        tx["transaction"]["body"]["action"]["kind"],
        "register_asset"
    );

    // Bank 1 votes yes: 20 of 40 is not yet more than two thirds.
    let voted = vote(&net, &id, &net.governor(1), 0);
    assert_eq!(voted["outcome"], "applied", "{voted}");
    assert_eq!(show(&net, &id)["status"], "voting");

    // A second vote of bank 1, and a vote from a customer's key: the
    // chain's refusals, exit 4 with their reason codes.
    let again = vote(&net, &id, &net.governor(1), 4);
    assert_eq!(again["reason_code"], "already_voted", "{again}");
    let stranger = vote(&net, &id, &net.key(0), 4);
    assert_eq!(stranger["reason_code"], "not_governor", "{stranger}");
    let treasury = vote(&net, &id, &net.treasury(2), 4);
    assert_eq!(treasury["reason_code"], "not_governor", "{treasury}");

    // Bank 2's yes makes 30 of 40: passed, taking effect 10 blocks later.
    let deciding = vote(&net, &id, &net.governor(2), 0);
    assert_eq!(deciding["outcome"], "applied", "{deciding}");
    let passed_at = deciding["height"].as_u64().unwrap();
    let shown = show(&net, &id);
    assert_eq!(shown["status"], "passed", "{shown}");
    assert_eq!(shown["status_at"], passed_at);
    let activates_at = shown["activates_at"].as_u64().unwrap();
    assert_eq!(activates_at, passed_at + 10);
    assert_eq!(shown["tally"]["yes"], 30);
    let open = json(&net, &["governance", "show", "--status", "open"], 0);
    assert_eq!(open["proposals"][0]["id"], id.as_str(), "{open}");
    // Not yet in effect.
    assert!(get_json(&format!("{}/v1/assets/GBP", net.url(0))).is_none());

    // An idle network makes no blocks: keep it moving with small
    // transfers until the activation height is committed.
    while height(&net) < activates_at {
        assert!(
            Instant::now() < deadline,
            "height {} never reached {activates_at}",
            height(&net)
        );
        let paid = json(
            &net,
            &[
                "transfer",
                "--key",
                &net.key(0),
                "--to",
                &net.account(1),
                "--amount",
                "0.01 CNY",
                "--wait",
            ],
            0,
        );
        assert_eq!(paid["outcome"], "applied", "{paid}");
    }
    let shown = show(&net, &id);
    assert_eq!(shown["status"], "applied", "{shown}");
    assert_eq!(shown["status_at"], activates_at);
    let asset = get_json(&format!("{}/v1/assets/GBP", net.url(3))).unwrap();
    assert_eq!(asset["issuer"], "bank-1", "{asset}");
    assert_eq!(asset["decimals"], 2);
    let applied = json(&net, &["governance", "show", "--status", "applied"], 0);
    assert_eq!(applied["proposals"].as_array().unwrap().len(), 1);
    let open = json(&net, &["governance", "show", "--status", "open"], 0);
    assert!(open["proposals"].as_array().unwrap().is_empty(), "{open}");

    // A vote on a closed proposal, an unknown proposal, a malformed id.
    let late = vote(&net, &id, &net.governor(3), 4);
    assert_eq!(late["reason_code"], "proposal_closed", "{late}");
    net.clearhouse(&["governance", "show", &"ee".repeat(32)])
        .expect(5);
    net.clearhouse(&["governance", "show", "not-a-hash"])
        .expect(2);
    // People's output: the list and one proposal as tables.
    let table = net.clearhouse(&["governance", "show"]);
    table.expect(0);
    assert!(table.stdout.contains("register_asset"), "{table:#?}");
    assert!(table.stdout.contains("applied"), "{table:#?}");
    let detail = net.clearhouse(&["governance", "show", &id]);
    detail.expect(0);
    assert!(detail.stdout.contains("GBP"), "{detail:#?}");
    assert!(Instant::now() < deadline, "the scenario took too long");
}
