//! The API's front door on a running node: one caller over its rate gets
//! `429` with `retry-after` while another is served; a connection over the
//! bound is answered `503 too_many_connections` and closed; a client that
//! sends its headers too slowly is cut off; payments commit throughout.
//! Every refusal shows in `/metrics`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::cluster::Cluster;

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

#[test]
fn the_front_door_limits_each_caller_and_serves_the_others() {
    let mut cluster = Cluster::generate(1, 0, 2, 41);
    let limits = &mut cluster.testnet.nodes[0].config.limits;
    limits.api_caller_requests_per_sec = 2;
    limits.api_caller_burst = 5;
    limits.api_connections_max = 8;
    limits.api_header_timeout_ms = 1_000;
    cluster.start_node(0);
    let address = cluster.testnet.nodes[0].config.api;

    // An unsigned caller (by its address) has 5 at once, then waits.
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let (status, body) = cluster.get_as(0, "/v1/status", None);
        statuses.push(status);
        if status == 429 {
            limited = Some(body);
        }
    }
    assert_eq!(&statuses[..5], &[200; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(limited.unwrap()["error"]["code"], "rate_limited");
    let retry = ureq::get(&format!("{}/v1/status", cluster.url(0)))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(retry.status().as_u16(), 429);
    let after: u64 = retry.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(after, 1, "2 per second: the next one within a second");

    // The CLI waits out a 429 and tries again: refused once (the node
    // counts it), then served.
    let limited_before = metric(
        &cluster.metrics_as_auditor(0),
        "clearhouse_api_rate_limited_total",
    );
    assert_eq!(cluster.get_as(0, "/v1/status", None).0, 429);
    let url = cluster.url(0);
    assert_eq!(
        clearhouse_cli::main_with_args(["clearhouse", "--node", &url, "status"]),
        0
    );
    let limited_after = metric(
        &cluster.metrics_as_auditor(0),
        "clearhouse_api_rate_limited_total",
    );
    assert!(
        limited_after >= limited_before + 2,
        "the probe and the CLI's first try were refused: {limited_before} -> {limited_after}"
    );

    // A signed caller has its own allowance: the bank still submits and
    // the payment commits.
    let payment = cluster.transfer(0, 0, cluster.keys[1].account(), "CNY", 10);
    cluster.submit_accepted(0, &payment);

    // Eight idle connections fill the door; the ninth hears why it is
    // closed. (An idle connection is itself cut off at the header timeout,
    // so on a machine too loaded to connect the ninth within that second
    // the door has room again and the ninth is served: try again with
    // fresh connections; a door that never answers 503 fails.)
    let mut idle = Vec::new();
    let mut answer = String::new();
    for _attempt in 0..5 {
        idle = (0..8)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect::<Vec<TcpStream>>();
        std::thread::sleep(Duration::from_millis(100));
        let mut ninth = TcpStream::connect(address).unwrap();
        ninth
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        answer.clear();
        let _ = ninth.read_to_string(&mut answer);
        if !answer.is_empty() {
            break;
        }
    }
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("too_many_connections"), "{answer:?}");

    // A client that sends half its headers is cut off after the header
    // timeout (bounded here by the read timeout), freeing its place.
    let mut slow = idle.into_iter().next().unwrap();
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    assert!(
        read.is_ok(),
        "the node closes a slow connection, the client does not time out first: {read:?}"
    );
    drop(slow);

    // Once the idle ones are gone, the node serves again; the payment
    // committed meanwhile.
    let committed = cluster.transaction(0, &payment.id().unwrap().to_hex(), 20_000);
    assert_eq!(
        committed.status,
        clearhouse_node::api::dto::TxState::Committed
    );
    // Read as the auditor: the address's allowance is spent.
    let text = ureq::get(&format!("{}/metrics", cluster.url(0)))
        .header(
            "authorization",
            cluster.auditor(0).header("GET", "/metrics", b""),
        )
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metric(&text, "clearhouse_api_rate_limited_total") >= 4,
        "{text}"
    );
    assert!(metric(&text, "clearhouse_api_connections_refused_total") >= 1);
    assert!(metric(&text, "clearhouse_api_timeouts_total") >= 1);
    cluster.shutdown_and_check_stores();
}

/// `clearhouse-testnet door`'s measurement against a node with small
/// limits: the probe (its own allowance) is answered in both phases while
/// the flood is refused 429 and every slow connection is cut.
#[test]
fn the_door_measurement_sees_the_flood_refused_and_the_probe_served() {
    let mut cluster = Cluster::generate(1, 0, 4, 45);
    let limits = &mut cluster.testnet.nodes[0].config.limits;
    limits.api_caller_requests_per_sec = 50;
    limits.api_caller_burst = 50;
    limits.api_header_timeout_ms = 300;
    cluster.start_node(0);
    let spec = clearhouse_testnet::door::DoorSpec {
        duration: Duration::from_secs(1),
        flooders: 1,
        slow: 2,
        probe_interval: Duration::from_millis(100),
        payment_interval: Duration::from_millis(100),
    };
    let payments =
        clearhouse_testnet::door::DoorPayments::for_testnet(&cluster.testnet, &spec).unwrap();
    let report = clearhouse_testnet::door::run(
        &spec,
        &cluster.url(0),
        cluster.testnet.nodes[0].config.api,
        &cluster.auditor(0),
        &payments,
    )
    .unwrap();
    let json = &report.json;
    assert_eq!(json["quiet"]["failed"], 0, "{}", report.table);
    assert_eq!(json["flood"]["failed"], 0, "{}", report.table);
    assert!(
        json["quiet"]["answered"].as_u64().unwrap() >= 5,
        "{}",
        report.table
    );
    assert!(
        json["flood_rate_limited"].as_u64().unwrap() > 0,
        "{}",
        report.table
    );
    assert!(
        json["slow_connections_cut_by_node"].as_u64().unwrap() >= 2,
        "{}",
        report.table
    );
    for phase in ["quiet_payments", "flood_payments"] {
        let paid = &json[phase];
        assert!(paid["submitted"].as_u64().unwrap() >= 5, "{}", report.table);
        assert_eq!(paid["refused"], 0, "{}", report.table);
        assert_eq!(paid["committed"], paid["submitted"], "{}", report.table);
    }
    assert_eq!(
        json["node_rate_limited_total"], json["flood_rate_limited"],
        "the node refused exactly what the flood saw refused: {}",
        report.table
    );
    cluster.shutdown_and_check_stores();
}
