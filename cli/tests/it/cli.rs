//! The `clearhouse` binary against a loopback testnet: keys, transactions
//! with `--wait`, queries, exit codes and the `--json` shapes.

use serde_json::Value;

use crate::net::{Net, balance, clearhouse, get_json, keys};

use clearhouse_cli::commands::transaction::RECEIPT_JSON_KEYS as RECEIPT_KEYS;

#[test]
fn keys_new_writes_a_private_file_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let new = clearhouse(
        dir.path(),
        &["--json", "keys", "new", "--out", "alice.key"],
        &[],
    );
    new.expect(0);
    let created = new.json();
    assert_eq!(keys(&created), ["account", "file", "public_key"]);
    let public_key = created["public_key"].as_str().unwrap().to_owned();
    assert_eq!(public_key.len(), 64);
    assert_eq!(created["account"], public_key.as_str());

    let path = dir.path().join("alice.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = std::fs::read(&path).unwrap();

    let again = clearhouse(dir.path(), &["keys", "new", "--out", "alice.key"], &[]);
    again.expect(2);
    assert!(again.stderr.contains("already exists"), "{again:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the key file changed"
    );

    let show = clearhouse(dir.path(), &["keys", "show", "alice.key"], &[]);
    show.expect(0);
    assert!(show.stdout.contains(&public_key), "{show:?}");
    let show = clearhouse(dir.path(), &["--json", "keys", "show", "alice.key"], &[]);
    assert_eq!(show.expect(0).json(), created);

    clearhouse(dir.path(), &["keys", "show", "missing.key"], &[]).expect(2);
}

#[test]
fn an_unreachable_node_exits_3_and_a_missing_node_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: nothing listens there.
    let address = clearhouse_testnet::free_address().unwrap();
    let url = format!("http://{address}");
    let run = clearhouse(dir.path(), &["--node", &url, "status"], &[]);
    run.expect(3);
    assert!(run.stderr.contains("unreachable"), "{run:?}");
    // The environment variable is honoured the same way.
    clearhouse(dir.path(), &["status"], &[("CLEARHOUSE_NODE", &url)]).expect(3);
    // No --node, no CLEARHOUSE_NODE, no local testnet: a usage error.
    let run = clearhouse(dir.path(), &["status"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("--node"), "{run:?}");
    // Arguments are checked before the node is asked.
    clearhouse(dir.path(), &["--node", &url, "account", "show", "zz"], &[]).expect(2);
    clearhouse(dir.path(), &["--node", &url, "tx", "show", "12"], &[]).expect(2);
    clearhouse(dir.path(), &["--node", &url, "block", "show", "tip"], &[]).expect(2);
    clearhouse(dir.path(), &["transfer", "--to", "x"], &[]).expect(2);
    clearhouse(dir.path(), &["no-such-command"], &[]).expect(2);
}

#[test]
fn transfer_with_wait_commits_and_moves_the_balances() {
    let net = Net::start(4, 11);
    let (sender, receiver) = (net.account(0), net.account(3));
    let before_sender = net
        .clearhouse(&["--json", "account", "show", &sender])
        .expect(0)
        .json();
    let before_receiver = net
        .clearhouse(&["--json", "account", "show", &receiver])
        .expect(0)
        .json();

    let run = net.clearhouse(&[
        "--json",
        "transfer",
        "--key",
        &net.key(0),
        "--to",
        &receiver,
        "--amount",
        "12.50 CNY",
        "--wait",
    ]);
    let receipt = run.expect(0).json();
    assert_eq!(keys(&receipt), RECEIPT_KEYS);
    assert_eq!(receipt["status"], "committed", "{receipt}");
    assert_eq!(receipt["outcome"], "applied");
    assert!(receipt["height"].as_u64().unwrap() >= 1);
    assert!(receipt["reason"].is_null());
    let fee: u128 = receipt["fee"].as_str().unwrap().parse().unwrap();
    // The testnet's schedule: 0.01 flat + 2 basis points of 12.50.
    assert_eq!(fee, 1);

    let after_sender = net
        .clearhouse(&["--json", "account", "show", &sender])
        .expect(0)
        .json();
    let after_receiver = net
        .clearhouse(&["--json", "account", "show", &receiver])
        .expect(0)
        .json();
    assert_eq!(
        balance(&after_sender, "CNY"),
        balance(&before_sender, "CNY") - 1250 - fee
    );
    assert_eq!(
        balance(&after_receiver, "CNY"),
        balance(&before_receiver, "CNY") + 1250
    );
    assert_eq!(after_sender["nonce"], 1);

    // The human receipt of a second transfer (nonce filled in again).
    let run = net.clearhouse(&[
        "transfer",
        "--key",
        &net.key(0),
        "--to",
        &receiver,
        "--amount",
        "1 JPY",
        "--wait",
    ]);
    run.expect(0);
    for expected in ["status   committed", "outcome  applied", "fee      1 JPY"] {
        assert!(run.stdout.contains(expected), "{expected:?} in {run:#?}");
    }
    let hash = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("hash"))
        .unwrap()
        .trim()
        .to_owned();

    // Queries of what just happened.
    let shown = net.clearhouse(&["tx", "show", &hash]);
    assert!(shown.expect(0).stdout.contains("1 JPY"), "{shown:#?}");
    let shown = net
        .clearhouse(&["--json", "tx", "show", &hash])
        .expect(0)
        .json();
    assert_eq!(shown["status"], "committed");
    assert_eq!(shown["transaction"]["body"]["kind"], "transfer");
    let block = net.clearhouse(&["block", "show", "latest"]);
    assert!(block.expect(0).stdout.contains(&hash), "{block:#?}");
    let latest = net
        .clearhouse(&["--json", "block", "show", "latest"])
        .expect(0)
        .json();
    assert!(latest["receipts"].is_array(), "{latest}");
    net.clearhouse(&["status"]).expect(0);
    net.clearhouse(&["account", "show", &sender]).expect(0);

    // Without --wait: the hash and "pending", exit 0. The same command
    // again is a new payment with the next free nonce, not a resubmission.
    let nonce_before = after_sender["nonce"].as_u64().unwrap() + 1;
    let pay = |extra: &[&str]| {
        let key = net.key(0);
        let mut args = vec![
            "--json", "transfer", "--key", &key, "--to", &receiver, "--amount", "0.01 USD",
        ];
        args.extend_from_slice(extra);
        net.clearhouse(&args)
    };
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let pending = pay(&[]).expect(0).json();
        assert_eq!(keys(&pending), RECEIPT_KEYS);
        assert_eq!(pending["status"], "pending");
        assert!(pending["height"].is_null());
        hashes.push(pending["hash"].as_str().unwrap().to_owned());
    }
    hashes.dedup();
    assert_eq!(hashes.len(), 3, "{hashes:?}");
    // --wait with no time to wait: exit 7, still pending.
    let timed_out = pay(&["--wait", "--timeout-secs", "0"]);
    assert_eq!(timed_out.expect(7).json()["status"], "pending");
    // The last one commits after the others (nonce order).
    pay(&["--wait"]).expect(0);
    let sender_now = net
        .clearhouse(&["--json", "account", "show", &sender])
        .expect(0)
        .json();
    assert_eq!(sender_now["nonce"].as_u64().unwrap(), nonce_before + 5);

    // A payment with its data: shown by `tx show`, found by `tx find` for
    // the payer and both banks, not for a bank outside it.
    let key = net.key(0);
    let paid = net
        .clearhouse(&[
            "--json",
            "transfer",
            "--key",
            &key,
            "--to",
            &receiver,
            "--amount",
            "2 CNY",
            "--end-to-end-id",
            "INV 2026/118",
            "--reference",
            "invoice 118 \u{2013} May",
            "--wait",
        ])
        .expect(0)
        .json();
    let paid_hash = paid["hash"].as_str().unwrap().to_owned();
    let shown = net.clearhouse(&["tx", "show", &paid_hash]);
    for expected in [
        "kind           payment",
        "end-to-end id  INV 2026/118",
        "invoice 118 \u{2013} May",
    ] {
        assert!(
            shown.expect(0).stdout.contains(expected),
            "{expected:?} in {shown:#?}"
        );
    }
    let find = |auth: &str| {
        net.clearhouse(&[
            "--json",
            "--auth-key",
            auth,
            "tx",
            "find",
            "--end-to-end-id",
            "INV 2026/118",
        ])
    };
    for auth in [net.key(0), net.bank_api(0), net.bank_api(1), net.auditor()] {
        let found = find(&auth).expect(0).json();
        let found = found["transactions"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{found:?} as {auth}");
        assert_eq!(found[0]["hash"], paid_hash.as_str());
        assert_eq!(
            found[0]["transaction"]["body"]["remittance"],
            "invoice 118 \u{2013} May"
        );
    }
    // Outside the payment: nothing found, exit 5 (and the same for a typo).
    let bank_2 = net.bank_api(2);
    let none = net.clearhouse(&[
        "--auth-key",
        &bank_2,
        "tx",
        "find",
        "--end-to-end-id",
        "INV 2026/118",
    ]);
    none.expect(5);
    let table = net.clearhouse(&["tx", "find", "--end-to-end-id", "INV 2026/118"]);
    assert!(table.expect(0).stdout.contains(&paid_hash), "{table:#?}");
    // Bad payment data is a usage error before anything is signed.
    let long = "X".repeat(36);
    let bad = [
        vec!["--end-to-end-id", long.as_str()],
        vec!["--end-to-end-id", " leading"],
        vec!["--reference", "line\nbreak"],
    ];
    for extra in bad {
        let mut args = vec![
            "transfer", "--key", &key, "--to", &receiver, "--amount", "1 CNY",
        ];
        args.extend(extra.iter().copied());
        net.clearhouse(&args).expect(2);
    }
    net.clearhouse(&["tx", "find", "--end-to-end-id", &long])
        .expect(2);
    // NOTPROVIDED names no payment: the node refuses to search it (400).
    net.clearhouse(&["tx", "find", "--end-to-end-id", "NOTPROVIDED"])
        .expect(2);
}

#[test]
fn rejected_transactions_exit_4_and_bad_arguments_exit_2() {
    let net = Net::start(4, 12);
    let receiver = net.account(1);

    // More than the balance: committed with outcome rejected.
    let run = net.clearhouse(&[
        "--json",
        "transfer",
        "--key",
        &net.key(0),
        "--to",
        &receiver,
        "--amount",
        "2000000 CNY",
        "--wait",
    ]);
    let receipt = run.expect(4).json();
    assert_eq!(keys(&receipt), RECEIPT_KEYS);
    assert_eq!(receipt["status"], "rejected", "{receipt}");
    assert_eq!(receipt["reason_code"], "insufficient_funds");
    assert!(run.stderr.contains("rejected"), "{run:?}");

    // A sender the chain does not know: its key signs no request the node
    // accepts (401 unknown_caller, exit 8).
    let fresh = net.elsewhere.join("stranger.key");
    let fresh = fresh.to_str().unwrap();
    net.clearhouse(&["keys", "new", "--out", fresh]).expect(0);
    let run = net.clearhouse(&[
        "transfer",
        "--key",
        fresh,
        "--to",
        &receiver,
        "--amount",
        "1.00 CNY",
        "--genesis",
        &net.genesis(),
        "--wait",
    ]);
    run.expect(8);
    assert!(run.stderr.contains("unknown_caller"), "{run:?}");

    // Bad arguments, each refused before anything is sent.
    let transfer = |amount: &str, to: &str| {
        net.clearhouse(&[
            "transfer",
            "--key",
            &net.key(0),
            "--to",
            to,
            "--amount",
            amount,
        ])
    };
    let run = transfer("12.505 CNY", &receiver);
    run.expect(2);
    assert!(run.stderr.contains("12.505"), "{run:?}");
    transfer("1.5 JPY", &receiver).expect(2);
    transfer("0 CNY", &receiver).expect(2);
    transfer("12.50", &receiver).expect(2);
    transfer("12.50 CNY", "not-an-account").expect(2);
    let run = net.clearhouse(&[
        "transfer",
        "--key",
        &net.key(0),
        "--to",
        &receiver,
        "--amount",
        "1 XYZ",
        "--genesis",
        &net.genesis(),
    ]);
    run.expect(2);
    assert!(run.stderr.contains("XYZ"), "{run:?}");
    let run = net.clearhouse(&[
        "transfer",
        "--key",
        &net.key(0),
        "--to",
        &receiver,
        "--amount",
        "1.00 CNY",
        "--max-fee",
        "1 JPY",
    ]);
    run.expect(2);
    // Nothing above consumed a nonce but the rejected transfer.
    let sender = net
        .clearhouse(&["--json", "account", "show", &net.account(0)])
        .expect(0)
        .json();
    assert_eq!(sender["nonce"], 1);
}

#[test]
fn unknown_things_exit_5() {
    let net = Net::start(1, 13);
    // An idle network has no block yet.
    net.clearhouse(&["block", "show", "latest"]).expect(5);
    let run = net.clearhouse(&["block", "show", "999999"]);
    run.expect(5);
    assert!(run.stderr.contains("999999"), "{run:?}");
    net.clearhouse(&["tx", "show", &"ab".repeat(32)]).expect(5);
    net.clearhouse(&["account", "show", &"cd".repeat(32)])
        .expect(5);
}

#[test]
fn json_shapes_of_status_and_account_are_stable() {
    let net = Net::start(1, 14);
    let status = net.clearhouse(&["--json", "status"]).expect(0).json();
    assert_eq!(
        keys(&status),
        [
            "caller",
            "chain_id",
            "height",
            "latest_block_hash",
            "members",
            "mempool_size",
            "node",
            "peers",
            "role",
            "round",
            "state_root",
            "validators",
        ]
    );
    assert_eq!(
        keys(&status["validators"][0]),
        ["key", "member", "voting_power"]
    );
    assert_eq!(
        keys(&status["members"][0]),
        [
            "addresses",
            "governance",
            "id",
            "name",
            "network_key",
            "status",
            "treasury",
            "validator_key",
            "voting_power",
        ]
    );
    assert_eq!(status["members"][0]["status"], "active");
    let account = net
        .clearhouse(&["--json", "account", "show", &net.account(0)])
        .expect(0)
        .json();
    assert_eq!(
        keys(&account),
        ["account", "balances", "bank", "nonce", "owed", "rating"]
    );
    assert_eq!(
        keys(&account["balances"][0]),
        ["amount", "asset", "minor_units"]
    );
    assert!(matches!(
        account["balances"][0]["minor_units"],
        Value::String(_)
    ));
}

#[test]
fn a_treasury_registers_issues_and_redeems_with_the_local_testnet_defaults() {
    let net = Net::start(1, 15);
    // Run from the folder holding ./clearhouse-testnet: no --node, no
    // --genesis needed.
    let run = |args: &[&str]| clearhouse(&net.root, args, &[]);
    let status = run(&["--json", "status"]).expect(0).json();
    assert_eq!(status["node"], "bank-0");

    let created = run(&["--json", "keys", "new", "--out", "carol.key"])
        .expect(0)
        .json();
    let carol = created["account"].as_str().unwrap().to_owned();
    let treasury = net.treasury(0);
    let receipt = run(&[
        "--json",
        "account",
        "register",
        "--key",
        &treasury,
        "--account",
        &carol,
        "--wait",
    ])
    .expect(0)
    .json();
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    // Registering twice: committed, rejected.
    let receipt = run(&[
        "--json",
        "account",
        "register",
        "--key",
        &treasury,
        "--account",
        &carol,
        "--wait",
    ])
    .expect(4)
    .json();
    assert_eq!(receipt["reason_code"], "account_exists");

    // Carol holds nothing yet: the decimals come from the local genesis.
    run(&[
        "issue",
        "--key",
        &treasury,
        "--to",
        &carol,
        "--amount",
        "50.00 CNY",
        "--wait",
    ])
    .expect(0);
    // Carol's account is private: unsigned, the node refuses (exit 8, with
    // the way out in the message); her bank's back office reads it.
    let refused = run(&["account", "show", &carol]);
    refused.expect(8);
    assert!(refused.stderr.contains("--auth-key"), "{refused:?}");
    let bank = net.bank_api(0);
    let account = run(&["--json", "--auth-key", &bank, "account", "show", &carol])
        .expect(0)
        .json();
    assert_eq!(balance(&account, "CNY"), 5000);
    assert_eq!(account["bank"], "bank-0");

    // Carol pays back; the treasury redeems what it holds.
    run(&[
        "transfer",
        "--key",
        "carol.key",
        "--to",
        &net.account(0),
        "--amount",
        "10 CNY",
        "--max-fee",
        "0.05 CNY",
        "--wait",
    ])
    .expect(0);
    let treasury_id = run(&["--json", "keys", "show", &treasury]).expect(0).json()["account"]
        .as_str()
        .unwrap()
        .to_owned();
    run(&[
        "issue",
        "--key",
        &treasury,
        "--to",
        &treasury_id,
        "--amount",
        "3 CNY",
        "--wait",
    ])
    .expect(0);
    let before = balance(
        &run(&[
            "--json",
            "--auth-key",
            &bank,
            "account",
            "show",
            &treasury_id,
        ])
        .expect(0)
        .json(),
        "CNY",
    );
    run(&[
        "redeem", "--key", &treasury, "--amount", "2.25 CNY", "--wait",
    ])
    .expect(0);
    let after = balance(
        &run(&[
            "--json",
            "--auth-key",
            &bank,
            "account",
            "show",
            &treasury_id,
        ])
        .expect(0)
        .json(),
        "CNY",
    );
    assert_eq!(after, before - 225);
    // JPY does not exist on a one-bank testnet: a bad argument.
    run(&[
        "issue", "--key", &treasury, "--to", &carol, "--amount", "1 JPY",
    ])
    .expect(2);
}

/// The wiring of `audit` (the checks themselves are tested in `audit.rs`):
/// exit codes and the JSON summary.
#[test]
fn audit_commands_are_wired_to_the_node() {
    let net = Net::start(1, 16);
    let genesis = net.genesis();
    let receipt = net
        .clearhouse(&[
            "--json",
            "transfer",
            "--key",
            &net.key(0),
            "--to",
            &net.account(1),
            "--amount",
            "5.00 CNY",
            "--wait",
        ])
        .expect(0)
        .json();
    let hash = receipt["hash"].as_str().unwrap();

    let summary = net
        .clearhouse(&["--json", "audit", "verify", "--genesis", &genesis])
        .expect(0)
        .json();
    assert_eq!(
        keys(&summary),
        [
            "blocks",
            "blocks_per_sec",
            "chain_id",
            "elapsed_ms",
            "state_root",
            "supply",
            "transactions",
            "transactions_per_sec",
            "validator_sets",
            "validators",
        ]
    );
    assert!(summary["blocks"].as_u64().unwrap() >= 1);
    assert_eq!(summary["validators"], 1);
    // One set, the genesis one, named by the hash the headers carry.
    let status: Value = get_json(&format!("{}/v1/validators", net.url(0))).unwrap();
    assert_eq!(
        summary["validator_sets"],
        serde_json::json!([{"from_height": 1, "set_hash": status["set_hash"]}])
    );

    let proof = net
        .clearhouse(&["--json", "audit", "proof", hash, "--genesis", &genesis])
        .expect(0)
        .json();
    assert_eq!(proof["verified"], true);
    assert_eq!(proof["height"], receipt["height"]);
    assert_eq!(proof["validator_set_from"], 1);
    assert_eq!(proof["validator_set_hash"], status["set_hash"]);
    net.clearhouse(&["audit", "proof", &"ef".repeat(32), "--genesis", &genesis])
        .expect(5);
    net.clearhouse(&["audit", "verify", "--genesis", "missing.toml"])
        .expect(2);
}

#[test]
fn snapshot_fetch_and_verify_check_what_the_node_sends() {
    let net = Net::start(1, 17);
    let genesis = net.genesis();
    // No block yet: nothing to snapshot (exit 5), and no file is left.
    let out = net.elsewhere.join("tip.chsnap");
    let out_text = out.display().to_string();
    net.clearhouse(&[
        "snapshot",
        "fetch",
        "--out",
        &out_text,
        "--genesis",
        &genesis,
    ])
    .expect(5);
    assert!(!out.exists());
    // Two blocks, so the snapshot is above block 1.
    for _ in 0..2 {
        net.clearhouse(&[
            "transfer",
            "--key",
            &net.key(0),
            "--to",
            &net.account(1),
            "--amount",
            "5.00 CNY",
            "--wait",
        ])
        .expect(0);
    }
    let fetched = net
        .clearhouse(&[
            "--json",
            "snapshot",
            "fetch",
            "--out",
            &out_text,
            "--genesis",
            &genesis,
        ])
        .expect(0)
        .json();
    assert_eq!(fetched["verified"], true);
    assert!(fetched["height"].as_u64().unwrap() >= 2, "{fetched}");
    assert!(!net.elsewhere.join("tip.chsnap.part").exists());
    let verified = net
        .clearhouse(&[
            "--json",
            "snapshot",
            "verify",
            &out_text,
            "--genesis",
            &genesis,
        ])
        .expect(0)
        .json();
    assert_eq!(verified["state_root"], fetched["state_root"]);

    // A damaged copy is an audit failure (exit 6); a missing file, usage.
    let mut bytes = std::fs::read(&out).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let damaged = net.elsewhere.join("damaged.chsnap");
    std::fs::write(&damaged, &bytes).unwrap();
    let run = net.clearhouse(&[
        "snapshot",
        "verify",
        &damaged.display().to_string(),
        "--genesis",
        &genesis,
    ]);
    run.expect(6);
    assert!(run.stderr.contains("checksum"), "{run:#?}");
    net.clearhouse(&[
        "snapshot",
        "verify",
        "missing.chsnap",
        "--genesis",
        &genesis,
    ])
    .expect(2);

    // A store started from it holds the chain from there only: `audit
    // verify --data-dir` says so instead of failing at block 1.
    let snapshot =
        clearhouse_ledger::store::snapshot::Snapshot::read_from(&std::fs::read(&out).unwrap()[..])
            .unwrap();
    let folder = net.elsewhere.join("imported");
    drop(
        clearhouse_ledger::store::Store::import(
            &folder.join("store"),
            &net.testnet.genesis,
            &snapshot,
            clearhouse_ledger::store::StoreConfig::default(),
        )
        .unwrap(),
    );
    let run = net.clearhouse(&[
        "audit",
        "verify",
        "--genesis",
        &genesis,
        "--data-dir",
        &folder.display().to_string(),
    ]);
    run.expect(1);
    assert!(
        run.stderr.contains("holds the chain from height"),
        "{run:#?}"
    );
}

#[test]
fn a_pacs008_message_imports_as_payments_and_exports_as_status_and_notification() {
    use clearhouse_cli::iso20022::{TxStatus, parse_camt054, parse_pacs002};
    let net = Net::start(4, 12);
    let (payer, creditor_1, creditor_2) = (net.account(0), net.account(3), net.account(5));
    let message = include_str!("../samples/pacs008.xml")
        .replace("{DEBTOR}", &payer)
        .replace("{CREDITOR_1}", &creditor_1)
        .replace("{CREDITOR_2}", &creditor_2);
    let file = net.elsewhere.join("pacs008.xml");
    std::fs::write(&file, &message).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let before = balance(
        &net.clearhouse(&["--json", "account", "show", &creditor_1])
            .expect(0)
            .json(),
        "CNY",
    );

    // A key that is not the debtor's: refused before anything is sent.
    let other = net.key(1);
    net.clearhouse(&["iso20022", "import", &file, "--key", &other, "--wait"])
        .expect(2);
    // The debtor's key: two settle, the third cannot be funded (exit 4).
    let key = net.key(0);
    let run = net.clearhouse(&[
        "--json", "iso20022", "import", &file, "--key", &key, "--wait",
    ]);
    let answer = run.expect(4).json();
    assert_eq!(answer["message_id"], "BANK0-20261207-0001");
    let statuses: Vec<&str> = answer["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["committed", "committed", "rejected"], "{answer}");
    let after = balance(
        &net.clearhouse(&["--json", "account", "show", &creditor_1])
            .expect(0)
            .json(),
        "CNY",
    );
    assert_eq!(after, before + 1250);

    // pacs.002 as the payer's bank: each original transaction's status.
    let report = net.elsewhere.join("pacs002.xml");
    let bank_0 = net.bank_api(0);
    net.clearhouse(&[
        "--auth-key",
        &bank_0,
        "iso20022",
        "export",
        "--original",
        &file,
        "--report",
        "pacs.002",
        "--out",
        report.to_str().unwrap(),
    ])
    .expect(0);
    let report = parse_pacs002(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report.original_message_id, "BANK0-20261207-0001");
    let codes: Vec<(String, TxStatus)> = report
        .transactions
        .iter()
        .map(|t| (t.original_end_to_end_id.clone(), t.status))
        .collect();
    assert_eq!(
        codes,
        [
            ("INV-2026-0001".to_owned(), TxStatus::Settled),
            ("INV-2026-0002".to_owned(), TxStatus::Settled),
            ("INV-2026-0003".to_owned(), TxStatus::Rejected),
        ]
    );
    assert!(
        report.transactions[2]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("insufficient_funds"),
        "{report:?}"
    );
    for (t, imported) in report
        .transactions
        .iter()
        .zip(answer["transactions"].as_array().unwrap())
    {
        assert_eq!(t.transaction_id.as_deref(), imported["hash"].as_str());
    }
    // camt.054 for the first creditor, as its bank: the one settled credit.
    let bank_1 = net.bank_api(1);
    let run = net.clearhouse(&[
        "--auth-key",
        &bank_1,
        "iso20022",
        "export",
        "--original",
        &file,
        "--report",
        "camt.054",
        "--account",
        &creditor_1,
    ]);
    let notification = parse_camt054(&run.expect(0).stdout).unwrap();
    assert_eq!(notification.account, creditor_1);
    assert_eq!(notification.entries.len(), 1, "{notification:?}");
    let entry = &notification.entries[0];
    assert!(entry.credit);
    assert_eq!(
        (entry.amount.as_str(), entry.currency.as_str()),
        ("12.50", "CNY")
    );
    assert_eq!(entry.end_to_end_id, "INV-2026-0001");
    assert_eq!(entry.remittance, "invoice 0001 \u{2013} December");
    // A bank outside the payments finds none of them: all pending to it.
    let bank_3 = net.bank_api(3);
    let run = net.clearhouse(&[
        "--auth-key",
        &bank_3,
        "iso20022",
        "export",
        "--original",
        &file,
        "--report",
        "pacs.002",
    ]);
    let outside = parse_pacs002(&run.expect(0).stdout).unwrap();
    assert!(
        outside
            .transactions
            .iter()
            .all(|t| t.status == TxStatus::Pending && t.transaction_id.is_none())
    );
    // A message of many payments: each gets the next nonce, all settle.
    let many: String = (0..70)
        .map(|n| {
            format!(
                "<CdtTrfTxInf><PmtId><EndToEndId>BULK-{n}</EndToEndId></PmtId>\
                 <IntrBkSttlmAmt Ccy=\"CNY\">0.01</IntrBkSttlmAmt>\
                 <DbtrAcct><Id><Othr><Id>{payer}</Id></Othr></Id></DbtrAcct>\
                 <CdtrAcct><Id><Othr><Id>{creditor_2}</Id></Othr></Id></CdtrAcct></CdtTrfTxInf>"
            )
        })
        .collect();
    let bulk = net.elsewhere.join("bulk.xml");
    std::fs::write(
        &bulk,
        format!(
            "<Document xmlns=\"{}\"><FIToFICstmrCdtTrf><GrpHdr><MsgId>BULK</MsgId></GrpHdr>{many}</FIToFICstmrCdtTrf></Document>",
            clearhouse_cli::iso20022::PACS_008
        ),
    )
    .unwrap();
    let answer = net
        .clearhouse(&[
            "--json",
            "iso20022",
            "import",
            bulk.to_str().unwrap(),
            "--key",
            &key,
            "--wait",
        ])
        .expect(0)
        .json();
    assert_eq!(answer["transactions"].as_array().unwrap().len(), 70);
    // A camt.054 needs its account; a file that is not a pacs.008 is exit 2.
    net.clearhouse(&[
        "iso20022",
        "export",
        "--original",
        &file,
        "--report",
        "camt.054",
    ])
    .expect(2);
    let not_pacs = net.elsewhere.join("not.xml");
    std::fs::write(&not_pacs, "<Document><Other/></Document>").unwrap();
    net.clearhouse(&[
        "iso20022",
        "import",
        not_pacs.to_str().unwrap(),
        "--key",
        &key,
    ])
    .expect(2);
}
