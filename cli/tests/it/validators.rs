//! `clearhouse validators` and the routes behind it on a four-bank
//! loopback testnet: the set at the tip and at a height (hash, powers,
//! quorum, first height, the hash block 1's header carries), the record
//! of changes (the genesis set, everyone joined), a height above the tip
//! (404 `future_height`, exit 5) and bad heights (400 `bad_query` and
//! `bad_height`, exit 2), all public. The changes a governed chain makes
//! are covered by `audit.rs` (a chain admitting a fifth bank) and the
//! ledger's store test.

use serde_json::Value;

use crate::net::{Net, get_json};

fn status_and_body(url: &str) -> (u16, Value) {
    let mut response = ureq::get(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_json().unwrap_or(Value::Null),
    )
}

#[test]
fn validators_shows_the_set_in_force_and_the_record_of_changes() {
    let net = Net::start(4, 83);
    // One committed block, so that there is a header to compare with.
    let paid = net.clearhouse(&[
        "--json",
        "transfer",
        "--key",
        &net.key(0),
        "--to",
        &net.account(1),
        "--amount",
        "0.01 CNY",
        "--wait",
    ]);
    paid.expect(0);
    let header = get_json(&format!("{}/v1/blocks/1", net.url(1))).unwrap();

    // Public: no key needed.
    let tip = net.run_unsigned(&["--node", &net.url(0), "--json", "validators"]);
    tip.expect(0);
    let tip = tip.json();
    assert_eq!(tip["from_height"], 1, "{tip}");
    assert_eq!(tip["total_power"], 40);
    assert_eq!(tip["quorum_power"], 27);
    assert_eq!(tip["validators"].as_array().unwrap().len(), 4);
    assert_eq!(tip["validators"][0]["member"], "bank-0");
    assert_eq!(tip["validators"][0]["voting_power"], 10);
    assert_eq!(tip["set_hash"], header["validator_set_hash"], "{header}");
    assert!(tip["height"].as_u64().unwrap() >= 1);

    let at_one = net.clearhouse(&["--json", "validators", "--height", "1"]);
    at_one.expect(0);
    let at_one = at_one.json();
    assert_eq!(at_one["height"], 1);
    assert_eq!(at_one["set_hash"], tip["set_hash"]);

    let table = net.clearhouse(&["validators", "--height", "1"]);
    table.expect(0);
    assert!(table.stdout.contains("quorum power"), "{table:#?}");
    assert!(table.stdout.contains("bank-3"), "{table:#?}");

    let changes = net.clearhouse(&["--json", "validators", "--changes"]);
    changes.expect(0);
    let changes = changes.json();
    let list = changes["changes"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{changes}");
    assert_eq!(list[0]["from_height"], 1);
    assert_eq!(list[0]["set_hash"], tip["set_hash"]);
    assert_eq!(list[0]["joined"].as_array().unwrap().len(), 4);
    assert!(list[0].get("handover").is_none(), "{changes}");
    let table = net.clearhouse(&["validators", "--changes"]);
    table.expect(0);
    assert!(table.stdout.contains("genesis"), "{table:#?}");

    // Above the tip: not found, with its own code.
    let future = net.clearhouse(&["validators", "--height", "1000000"]);
    future.expect(5);
    assert!(future.stderr.contains("above"), "{future:#?}");
    let (status, body) = status_and_body(&format!("{}/v1/validators?height=1000000", net.url(0)));
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "future_height", "{body}");
    // Bad heights: the API's 400s, the CLI's usage exit.
    let (status, body) = status_and_body(&format!("{}/v1/validators?height=abc", net.url(0)));
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_query", "{body}");
    let (status, body) = status_and_body(&format!("{}/v1/validators?height=0", net.url(0)));
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_height", "{body}");
    let (status, body) = status_and_body(&format!("{}/v1/validators/changes?from=x", net.url(0)));
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_query", "{body}");
    net.clearhouse(&["validators", "--height", "0"]).expect(2);
    net.clearhouse(&["validators", "--height", "abc"]).expect(2);
}
