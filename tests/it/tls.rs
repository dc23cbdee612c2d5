//! TLS on the API: a testnet generated with `tls` serves every node's API
//! over https with a certificate from its own CA. Clients that trust the
//! CA (the testnet's agent, the CLI with `--ca-cert`, an audit) read,
//! submit and verify over it; a client that does not trust it is refused
//! before any request is made (CLI exit 3); plain HTTP, a stalled
//! handshake and a wrong certificate authority are each closed and
//! counted, and the node carries on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::cluster::Cluster;

fn cli(args: &[&str]) -> u8 {
    clearhouse_cli::main_with_args(std::iter::once("clearhouse").chain(args.iter().copied()))
}

/// The CLI against `url`, trusting `ca`.
fn https(url: &str, ca: &str, args: &[&str]) -> u8 {
    cli(&[&["--node", url, "--ca-cert", ca], args].concat())
}

#[test]
fn the_api_serves_tls_to_clients_that_trust_its_ca_and_only_to_them() {
    let mut cluster = Cluster::generate_with(1, 0, 2, 43, |spec| spec.tls = true);
    cluster.testnet.nodes[0].config.limits.api_header_timeout_ms = 1_000;
    cluster.start_node(0);
    let url = cluster.url(0);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = cluster.testnet.ca_cert.clone().unwrap();
    let ca = ca.to_str().unwrap();
    let bank = cluster.testnet.bank_api_keys[0]
        .to_str()
        .unwrap()
        .to_owned();
    let auditor = cluster.testnet.auditor_key.to_str().unwrap().to_owned();

    // A client trusting the CA reads and submits; the payment commits.
    assert_eq!(cluster.status(0).node, "bank-0");
    let payment = cluster.transfer(0, 0, cluster.keys[1].account(), "CNY", 10);
    cluster.submit_batch(0, std::slice::from_ref(&payment));
    let hash = payment.id().unwrap().to_hex();
    assert_eq!(
        cluster.transaction(0, &hash, 20_000).status,
        clearhouse_node::api::dto::TxState::Committed
    );

    // The CLI over https: status, a transfer that waits, a full audit.
    assert_eq!(https(&url, ca, &["--auth-key", &bank, "status"]), 0);
    let customer = cluster.testnet.accounts[0]
        .key_file
        .to_str()
        .unwrap()
        .to_owned();
    let to = cluster.keys[1].account().to_hex();
    let genesis = cluster.testnet.genesis_path.to_str().unwrap().to_owned();
    assert_eq!(
        https(
            &url,
            ca,
            &[
                "transfer", "--key", &customer, "--to", &to, "--amount", "1.00 CNY", "--wait",
            ]
        ),
        0
    );
    assert_eq!(
        https(
            &url,
            ca,
            &[
                "--auth-key",
                &auditor,
                "audit",
                "verify",
                "--genesis",
                &genesis,
            ]
        ),
        0
    );

    // A snapshot streams over https too (its own longer-lived agent).
    let snapshot = cluster.testnet.dir.join("tip.snapshot");
    assert_eq!(
        https(
            &url,
            ca,
            &[
                "--auth-key",
                &auditor,
                "snapshot",
                "fetch",
                "--out",
                snapshot.to_str().unwrap(),
                "--genesis",
                &genesis,
            ]
        ),
        0
    );

    // Not trusting the CA: the system bundle does not hold it, nor does
    // another CA's certificate; both exit 3 (the node was not reached).
    assert_eq!(cli(&["--node", &url, "status"]), 3);
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let stranger_pem = cluster.testnet.dir.join("stranger.pem");
    std::fs::write(&stranger_pem, stranger.cert.pem()).unwrap();
    assert_eq!(
        cli(&[
            "--node",
            &url,
            "--ca-cert",
            stranger_pem.to_str().unwrap(),
            "status"
        ]),
        3
    );
    // An unreadable CA file is a usage error (exit 2).
    let missing = cluster.testnet.dir.join("missing.pem");
    assert_eq!(
        cli(&[
            "--node",
            &url,
            "--ca-cert",
            missing.to_str().unwrap(),
            "status"
        ]),
        2
    );

    // Plain HTTP to the TLS port gets no answer and is closed.
    let address = cluster.testnet.nodes[0].config.api;
    let mut plain = TcpStream::connect(address).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /v1/status HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was served: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // A connection that never starts its handshake is closed at the
    // header timeout (the read ends before the client's own 10 s bound).
    let mut silent = TcpStream::connect(address).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let read = silent.read_to_end(&mut Vec::new());
    assert!(
        read.is_ok(),
        "the node closes a stalled handshake: {read:?}"
    );

    // The node carried on, and counted each closed handshake.
    assert_eq!(cluster.status(0).node, "bank-0");
    let metrics = cluster.metrics(0);
    let failed: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("clearhouse_api_tls_failed_total")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap();
    assert!(
        failed >= 4,
        "plain, silent, untrusted twice: {failed}\n{metrics}"
    );
    cluster.shutdown_and_check_stores();
}
