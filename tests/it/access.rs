//! Who may read what, on a running network: every route called as every
//! role (unsigned, an account, the banks involved and one that is not, the
//! auditor, the regulator), against the table in README.md; and each way a
//! signed request can be wrong, each a typed 401 while the node carries on.

use std::time::{SystemTime, UNIX_EPOCH};

use clearhouse_node::api::access::{Access, ROLES};
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::{access_table, routes};
use serde_json::{Value, json};

use crate::cluster::Cluster;

/// The README's table is the one `routes()` gives: it cannot drift.
#[test]
fn the_readme_access_table_is_the_served_one() {
    let readme = include_str!("../../README.md");
    let table = access_table();
    assert!(
        readme.contains(&table),
        "README.md's access table differs from the served routes; it should read:\n{table}"
    );
}

/// One caller of the table test.
struct Role {
    name: &'static str,
    /// The README column it is checked against.
    column: &'static str,
    signer: Option<RequestSigner>,
    /// Whether the payment under test is within its scope.
    involved: bool,
    /// Whether the payer's account is (its own, its bank's, an overseer's).
    owns_account: bool,
}

#[test]
fn every_route_admits_exactly_the_roles_its_table_row_names() {
    // Bank 0's customer pays bank 1's customer; bank 2 (a validator that
    // carries the block) is not involved.
    let cluster = Cluster::start(3, 0, 1, 31);
    let payer = 0;
    let payee = 1;
    let payment = cluster.payment(
        payer,
        0,
        cluster.keys[payee].account(),
        ("CNY", 1_250),
        "ACCESS/TEST 1",
        "order 77",
    );
    cluster.submit_accepted(0, &payment);
    let hash = payment.id().unwrap().to_hex();
    let committed = cluster.transaction(2, &hash, 10_000);
    assert_eq!(
        committed.status,
        clearhouse_node::api::dto::TxState::Committed
    );
    let height = committed.height.unwrap();
    let node = 2; // ask the uninvolved bank's own node
    let account = cluster.keys[payer].account().to_hex();
    let signer = |path: &std::path::Path| Some(cluster.signer(node, path));
    let roles = [
        Role {
            name: "unsigned",
            column: "public",
            signer: None,
            involved: false,
            owns_account: false,
        },
        Role {
            name: "the payer's account",
            column: "account",
            signer: signer(&cluster.testnet.accounts[payer].key_file),
            involved: true,
            owns_account: true,
        },
        Role {
            name: "the payer's bank",
            column: "bank",
            signer: signer(&cluster.testnet.bank_api_keys[0]),
            involved: true,
            owns_account: true,
        },
        Role {
            name: "the payee's bank",
            column: "bank",
            signer: signer(&cluster.testnet.bank_api_keys[1]),
            involved: true,
            owns_account: false,
        },
        Role {
            name: "an uninvolved bank",
            column: "bank",
            signer: signer(&cluster.testnet.bank_api_keys[2]),
            involved: false,
            owns_account: false,
        },
        Role {
            name: "the auditor",
            column: "auditor",
            signer: signer(&cluster.testnet.auditor_key),
            involved: true,
            owns_account: true,
        },
        Role {
            name: "the regulator",
            column: "regulator",
            signer: signer(&cluster.testnet.regulator_key),
            involved: true,
            owns_account: true,
        },
    ];
    let concrete = |path: &str| {
        path.replace("{hash}", &hash)
            .replace("{account}", &account)
            .replace("{height}", &height.to_string())
            .replace("{id}", &"ee".repeat(32))
            .replace("{code}", "CNY")
    };
    let mut checked = 0;
    for route in routes() {
        let mut path = concrete(route.path);
        if route.path == "/v1/chain" {
            path.push_str("?from=1&count=1");
        }
        if route.path == "/v1/transactions" && route.method == "GET" {
            path.push_str("?end_to_end_id=ACCESS%2FTEST%201");
        }
        if route.path == "/v1/sealing-keys" {
            path.push_str(&format!(
                "?from={account}&to={}",
                cluster.keys[payee].account()
            ));
        }
        for role in &roles {
            let grant = route.access.grants(role.column);
            let (status, body) = if route.method == "POST" {
                // A body that does not decode: admitted callers get the
                // malformed_transaction 400, never a submission.
                let body = if route.path.ends_with("batch") {
                    json!({"transactions": ["zz"]})
                } else {
                    json!({"transaction": "zz"})
                };
                cluster.post_as(node, &path, &body, role.signer.as_ref())
            } else {
                cluster.get_as(node, &path, role.signer.as_ref())
            };
            let code = body["error"]["code"].as_str().unwrap_or("");
            let expected: &[u16] = match (grant, route.access) {
                ("no", _) if role.signer.is_none() => &[401],
                ("no", _) => &[403],
                // Escrow `ee…` does not exist: whoever may ask hears so.
                (_, Access::Scoped) if route.path == "/v1/escrows/{id}" => &[404],
                // So does quote `ee…`, to anyone (quotes are public).
                _ if route.path == "/v1/quotes/{id}" => &[404],
                // And proposal `ee…`: governance is public too.
                _ if route.path == "/v1/governance/proposals/{id}" => &[404],
                // A search leaves out what the caller may not see.
                ("own", Access::Scoped) if route.path == "/v1/transactions" => &[200],
                ("own", Access::Scoped)
                    if !(if route.path.contains("{account}") {
                        role.owns_account
                    } else {
                        role.involved
                    }) =>
                {
                    &[403]
                }
                (_, Access::Submit) => &[400],
                _ => &[200],
            };
            assert!(
                expected.contains(&status),
                "{} {path} as {}: HTTP {status} {code}, the table says {grant}",
                route.method,
                role.name
            );
            match status {
                401 => assert_eq!(code, "unauthenticated", "{path} as {}", role.name),
                403 => assert_eq!(code, "out_of_scope", "{path} as {}", role.name),
                _ => {}
            }
            if route.path == "/v1/transactions" && status == 200 {
                let found = body["transactions"].as_array().unwrap();
                assert_eq!(
                    found.len(),
                    usize::from(role.involved),
                    "{path} as {}: {body}",
                    role.name
                );
                if role.involved {
                    assert_eq!(found[0]["hash"], hash.as_str());
                    assert_eq!(found[0]["transaction"]["body"]["remittance"], "order 77");
                    assert_eq!(
                        found[0]["transaction"]["body"]["end_to_end_id"],
                        "ACCESS/TEST 1"
                    );
                }
            }
            // Filtered routes: the header for everyone, the payment only
            // within scope.
            if route.access == Access::Filtered && route.path != "/v1/blocks/latest" {
                let hidden = body["hidden_transactions"].as_u64().unwrap();
                let sees = role.involved && role.signer.is_some();
                assert_eq!(hidden, u64::from(!sees), "{path} as {}: {body}", role.name);
                let shown = if route.path.ends_with("receipts") {
                    &body["receipts"]
                } else {
                    &body["transactions"]
                };
                assert_eq!(shown.as_array().unwrap().len(), usize::from(sees));
                if route.path == "/v1/blocks/{height}" {
                    assert!(body["state_root"].is_string(), "the header is public");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes().len() * roles.len());
    // Every role was tried on every column.
    for column in ROLES {
        assert!(roles.iter().any(|r| r.column == column));
    }

    // The status says whom the node took the caller to be.
    let (_, status) = cluster.get_as(node, "/v1/status", roles[2].signer.as_ref());
    assert_eq!(
        status["caller"],
        json!({"role": "bank", "id": "bank-0"}),
        "{status}"
    );
    let (_, status) = cluster.get_as(node, "/v1/status", roles[1].signer.as_ref());
    assert_eq!(status["caller"]["role"], "account");
    assert_eq!(status["caller"]["bank"], "bank-0");
    // An account reads its own payment, with the amount it paid.
    let (status, answer) = cluster.get_as(
        node,
        &format!("/v1/transactions/{hash}"),
        roles[1].signer.as_ref(),
    );
    assert_eq!(status, 200);
    assert_eq!(answer["transaction"]["sender"], account.as_str());
    // The refusals are counted.
    let metrics = cluster.metrics(node);
    for name in [
        "clearhouse_api_unauthenticated_total",
        "clearhouse_api_out_of_scope_total",
    ] {
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .parse()
            .unwrap();
        assert!(count > 0, "{name} is {count}");
    }
    cluster.shutdown_and_check_stores();
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn each_bad_signature_is_a_typed_401_and_the_node_serves_on() {
    let cluster = Cluster::start(3, 0, 1, 32);
    let node = 0;
    let path = format!("/v1/accounts/{}", cluster.keys[0].account().to_hex());
    let url = format!("{}{path}", cluster.url(node));
    let auditor = cluster.auditor(node);
    let send = |header: &str| -> (u16, Value) {
        let mut response = ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("authorization", header)
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_json().unwrap_or(Value::Null),
        )
    };
    let expect = |header: &str, status: u16, code: &str| {
        let (got, body) = send(header);
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    };
    // A good request, once; the same header again is a replay.
    let header = auditor.header("GET", &path, b"");
    assert_eq!(send(&header).0, 200);
    expect(&header, 401, "replayed_request");
    // Signed two minutes ago, or two minutes ahead.
    for skew in [-120_000i64, 120_000] {
        let ts = now_ms().saturating_add_signed(skew);
        expect(
            &auditor.header_at("GET", &path, b"", ts, [skew as u8; 16]),
            401,
            "stale_request",
        );
    }
    // Over another path, another body, or for another node.
    expect(
        &auditor.header("GET", "/v1/accounts/00", b""),
        401,
        "bad_request_signature",
    );
    expect(
        &auditor.header("GET", &path, b"{}"),
        401,
        "bad_request_signature",
    );
    expect(
        &cluster.auditor(1).header("GET", &path, b""),
        401,
        "bad_request_signature",
    );
    // A key the chain does not know.
    let stranger = RequestSigner::new(
        clearhouse_ledger::crypto::Keypair::from_seed(&[99; 32]),
        cluster.chain_id,
        &cluster.testnet.nodes[node].name,
    );
    expect(&stranger.header("GET", &path, b""), 401, "unknown_caller");
    // Not the scheme, not parsable, absurdly long.
    expect("Bearer abc", 401, "bad_authorization");
    expect(&header.replace("ts=", "ts=x"), 401, "bad_authorization");
    expect(
        &format!("{header}{}", "a".repeat(8_000)),
        401,
        "bad_authorization",
    );
    // A signed POST whose body was changed on the way.
    let bank = cluster.bank(node, 0);
    let signed_for = serde_json::to_vec(&json!({"transaction": "00"})).unwrap();
    let mut response = ureq::post(&format!("{}/v1/transactions", cluster.url(node)))
        .config()
        .http_status_as_error(false)
        .build()
        .header("content-type", "application/json")
        .header(
            "authorization",
            bank.header("POST", "/v1/transactions", &signed_for),
        )
        .send(&br#"{"transaction": "01"}"#[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.body_mut().read_json().unwrap();
    assert_eq!(body["error"]["code"], "bad_request_signature");
    // Through all of it the node serves and commits.
    let payment = cluster.transfer(0, 0, cluster.keys[1].account(), "CNY", 5);
    cluster.submit_batch(node, std::slice::from_ref(&payment));
    let status = cluster.transaction(node, &payment.id().unwrap().to_hex(), 10_000);
    assert_eq!(status.status, clearhouse_node::api::dto::TxState::Committed);
    cluster.shutdown_and_check_stores();
}
