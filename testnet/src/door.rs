//! The front door under attack, measured: what one well-behaved caller
//! sees from a node while another floods it and others hold slow
//! connections (`clearhouse-testnet door`).
//!
//! Two phases of equal length against one node. **Quiet**: a probe (the
//! auditor's key, so its own allowance) asks `GET /v1/status` at a steady
//! pace and records each answer's latency. **Flood**: the same probe while
//! `flooders` threads ask `/v1/status` unsigned from one address as fast
//! as they can (kept-alive connections; over the address's allowance they
//! get 429) and `slow` connections trickle a request's headers one byte
//! at a time (the node cuts each at `api_header_timeout_ms`). Through both
//! phases a bank submits a payment every `payment_interval`, each checked
//! committed afterwards. The report
//! gives the probe's p50/p99/max and failures in each phase, what the
//! flood got (served, refused 429, other), how many slow connections the
//! node cut, and the node's own counters. The figures depend on the
//! machine: flooders, node and probe share its cores.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clearhouse_ledger::SignedTransaction;
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::dto;

use crate::bench::percentile;

/// What to measure.
#[derive(Debug, Clone)]
pub struct DoorSpec {
    /// Length of each phase.
    pub duration: Duration,
    /// Threads flooding unsigned requests.
    pub flooders: usize,
    /// Connections trickling their headers.
    pub slow: usize,
    /// The probe's pace.
    pub probe_interval: Duration,
    /// The pace of the payments submitted through both phases.
    pub payment_interval: Duration,
}

/// The payments the door submits while it probes: pre-signed transfers in
/// nonce order, and the bank key that submits them (its own allowance).
pub struct DoorPayments {
    /// Enough for both phases at `payment_interval`.
    pub transactions: Vec<SignedTransaction>,
    /// The submitting bank's signer.
    pub submit: RequestSigner,
}

/// The probe's view of one phase.
#[derive(Debug, Clone, Default)]
struct Probe {
    latencies_us: Vec<u64>,
    failures: u64,
}

impl Probe {
    fn json(&self) -> serde_json::Value {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        serde_json::json!({
            "answered": sorted.len(),
            "failed": self.failures,
            "p50_us": percentile(&sorted, 50),
            "p99_us": percentile(&sorted, 99),
            "max_us": sorted.last().copied().unwrap_or(0),
        })
    }
}

impl DoorPayments {
    /// Transfers between `testnet`'s demo accounts (at least two) in its first asset,
    /// enough for both phases of `spec`, submitted by bank 0's API key to
    /// its first node.
    pub fn for_testnet(testnet: &crate::Testnet, spec: &DoorSpec) -> Result<DoorPayments, String> {
        let chain_id = testnet.genesis.chain_id().map_err(|e| e.to_string())?;
        let read = |path: &std::path::Path| {
            clearhouse_node::keyfile::read(path).map_err(|e| e.to_string())
        };
        let keys = testnet
            .accounts
            .iter()
            .map(|a| read(&a.key_file))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() < 2 {
            return Err("the door's payments need at least two demo accounts".into());
        }
        let asset =
            clearhouse_ledger::AssetCode::new(crate::ASSETS[0].0).map_err(|e| e.to_string())?;
        let per_phase = spec.duration.as_millis() / spec.payment_interval.as_millis().max(1);
        let count = usize::try_from(per_phase.saturating_mul(2).saturating_add(2))
            .map_err(|e| e.to_string())?;
        let transactions = crate::bench::Payers::new(chain_id, keys, asset, None)
            .sign(count)
            .map_err(|e| e.to_string())?;
        let bank = testnet
            .bank_api_keys
            .first()
            .ok_or("the testnet has no bank")?;
        let node = testnet.nodes.first().ok_or("the testnet has no node")?;
        Ok(DoorPayments {
            transactions,
            submit: RequestSigner::new(read(bank)?, chain_id, &node.name),
        })
    }
}

/// What became of one phase's payments.
#[derive(Debug, Clone, Copy, Default)]
struct Paid {
    submitted: u64,
    refused: u64,
    committed: u64,
}

impl Paid {
    fn json(self) -> serde_json::Value {
        serde_json::json!({
            "submitted": self.submitted,
            "refused": self.refused,
            "committed": self.committed,
        })
    }
}

/// Submits `transactions` one every `interval` until `stop` (or they run
/// out); the ids accepted, and the count refused.
fn submit_paced(
    url: &str,
    signer: &RequestSigner,
    transactions: &[SignedTransaction],
    interval: Duration,
    stop: &AtomicBool,
) -> (Vec<String>, u64) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for tx in transactions {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (Ok(id), Ok(bytes)) = (tx.id(), tx.encode()) else {
            refused += 1;
            continue;
        };
        let body = serde_json::to_vec(&dto::SubmitRequest {
            transaction: hex::encode(bytes),
        })
        .unwrap_or_default();
        let answer = agent
            .post(&format!("{url}/v1/transactions"))
            .header("content-type", "application/json")
            .header(
                "authorization",
                signer.header("POST", "/v1/transactions", &body),
            )
            .send(&body[..]);
        match answer {
            Ok(answer) if answer.status().is_success() => accepted.push(id.to_hex()),
            _ => refused += 1,
        }
        std::thread::sleep(interval);
    }
    (accepted, refused)
}

/// How many of `ids` the node reports committed (each waited for at most
/// 10 s).
fn count_committed(agent: &ureq::Agent, url: &str, reader: &RequestSigner, ids: &[String]) -> u64 {
    let mut committed = 0;
    for id in ids {
        let path = format!("/v1/transactions/{id}?wait_ms=10000");
        let status = agent
            .get(&format!("{url}{path}"))
            .header("authorization", reader.header("GET", &path, b""))
            .call()
            .ok()
            .and_then(|mut answer| answer.body_mut().read_json::<dto::TransactionStatus>().ok());
        if status.is_some_and(|s| s.status == dto::TxState::Committed) {
            committed += 1;
        }
    }
    committed
}

/// One phase: the probe in this thread, payments beside it; then what
/// became of the payments.
fn phase(
    agent: &ureq::Agent,
    url: &str,
    probe: &RequestSigner,
    spec: &DoorSpec,
    payments: &DoorPayments,
    next: &mut usize,
) -> (Probe, Paid) {
    let share = payments.transactions.get(*next..).unwrap_or_default();
    let stop = AtomicBool::new(false);
    let (observed, (accepted, refused)) = std::thread::scope(|scope| {
        let submitter = scope
            .spawn(|| submit_paced(url, &payments.submit, share, spec.payment_interval, &stop));
        let observed = run_probe(agent, url, probe, spec.duration, spec.probe_interval);
        stop.store(true, Ordering::Relaxed);
        (observed, submitter.join().unwrap_or_default())
    });
    // The next phase goes on where this one stopped: a payment skipped
    // would leave a nonce gap the rest of its sender's wait behind.
    *next += accepted.len() + usize::try_from(refused).unwrap_or(usize::MAX);
    let committed = count_committed(agent, url, probe, &accepted);
    let paid = Paid {
        submitted: u64::try_from(accepted.len()).unwrap_or(u64::MAX) + refused,
        refused,
        committed,
    };
    (observed, paid)
}

/// The report: a table for people, JSON for files.
pub struct DoorReport {
    /// What `door` prints.
    pub table: String,
    /// What it writes.
    pub json: serde_json::Value,
}

/// Runs both phases against the node at `url` (`address` its API socket),
/// probing with `probe` (a signer for that node).
pub fn run(
    spec: &DoorSpec,
    url: &str,
    address: SocketAddr,
    probe: &RequestSigner,
    payments: &DoorPayments,
) -> Result<DoorReport, String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    eprintln!("quiet: probing for {} s...", spec.duration.as_secs());
    let mut next = 0;
    let (quiet, quiet_paid) = phase(&agent, url, probe, spec, payments, &mut next);

    eprintln!(
        "flood: {} flooding threads, {} slow connections, probing for {} s...",
        spec.flooders,
        spec.slow,
        spec.duration.as_secs()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..spec.flooders)
        .map(|_| {
            let (stop, served, limited, other) =
                (stop.clone(), served.clone(), limited.clone(), other.clone());
            let url = format!("{url}/v1/status");
            std::thread::spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .new_agent();
                while !stop.load(Ordering::Relaxed) {
                    let counter = match agent.get(&url).call() {
                        Ok(mut answer) => {
                            let _ = answer.body_mut().read_to_vec();
                            match answer.status().as_u16() {
                                200 => &served,
                                429 => &limited,
                                _ => &other,
                            }
                        }
                        Err(_) => &other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let cut = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let slow: Vec<_> = (0..spec.slow)
        .map(|_| {
            let (stop, cut, opened) = (stop.clone(), cut.clone(), opened.clone());
            std::thread::spawn(move || slow_loris(address, &stop, &cut, &opened))
        })
        .collect();
    let started = Instant::now();
    let (flood, flood_paid) = phase(&agent, url, probe, spec, payments, &mut next);
    let flood_seconds = started.elapsed().as_secs_f64().max(0.001);
    stop.store(true, Ordering::Relaxed);
    for thread in flooders.into_iter().chain(slow) {
        let _ = thread.join();
    }

    let metrics = agent
        .get(&format!("{url}/metrics"))
        .header("authorization", probe.header("GET", "/metrics", b""))
        .call()
        .ok()
        .and_then(|mut answer| answer.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    let per_sec = |count: u64| count as f64 / flood_seconds;
    let (served, limited, other) = (
        served.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    let json = serde_json::json!({
        "phase_seconds": spec.duration.as_secs(),
        "probe_interval_ms": spec.probe_interval.as_millis(),
        "quiet": quiet.json(),
        "flood": flood.json(),
        "quiet_payments": quiet_paid.json(),
        "flood_payments": flood_paid.json(),
        "flooders": spec.flooders,
        "flood_served": served,
        "flood_rate_limited": limited,
        "flood_other": other,
        "flood_served_per_sec": per_sec(served),
        "flood_rate_limited_per_sec": per_sec(limited),
        "slow_connections": spec.slow,
        "slow_connections_opened": opened.load(Ordering::Relaxed),
        "slow_connections_cut_by_node": cut.load(Ordering::Relaxed),
        "node_rate_limited_total": counter("clearhouse_api_rate_limited_total"),
        "node_connections_refused_total": counter("clearhouse_api_connections_refused_total"),
        "node_timeouts_total": counter("clearhouse_api_timeouts_total"),
    });
    let row = |name: &str, probe: &serde_json::Value| {
        format!(
            "{name:<8} {:>9} {:>7} {:>10} {:>10} {:>10}\n",
            probe["answered"].as_u64().unwrap_or(0),
            probe["failed"].as_u64().unwrap_or(0),
            probe["p50_us"].as_u64().unwrap_or(0),
            probe["p99_us"].as_u64().unwrap_or(0),
            probe["max_us"].as_u64().unwrap_or(0)
        )
    };
    let mut table = format!(
        "{:<8} {:>9} {:>7} {:>10} {:>10} {:>10}\n",
        "phase", "answered", "failed", "p50 µs", "p99 µs", "max µs"
    );
    table.push_str(&row("quiet", &json["quiet"]));
    table.push_str(&row("flood", &json["flood"]));
    table.push_str(&format!(
        "\npayments (one per {} ms, a bank's key): quiet {} submitted, {} committed; \
         flood {} submitted, {} committed\n",
        spec.payment_interval.as_millis(),
        quiet_paid.submitted,
        quiet_paid.committed,
        flood_paid.submitted,
        flood_paid.committed,
    ));
    table.push_str(&format!(
        "\nflood: {served} served ({:.0}/s), {limited} refused 429 ({:.0}/s), {other} other, from {} threads\n\
         slow connections: {} opened, {} cut by the node (header timeout)\n\
         node counters: rate_limited {}, connections_refused {}, timeouts {}\n",
        per_sec(served),
        per_sec(limited),
        spec.flooders,
        opened.load(Ordering::Relaxed),
        cut.load(Ordering::Relaxed),
        json["node_rate_limited_total"],
        json["node_connections_refused_total"],
        json["node_timeouts_total"],
    ));
    Ok(DoorReport { table, json })
}

/// The probe: `GET /v1/status` signed by `signer` every `interval` for
/// `duration`; the latency of each 200, and the count of anything else.
fn run_probe(
    agent: &ureq::Agent,
    url: &str,
    signer: &RequestSigner,
    duration: Duration,
    interval: Duration,
) -> Probe {
    let mut probe = Probe::default();
    let end = Instant::now() + duration;
    let mut next = Instant::now();
    while Instant::now() < end {
        let sent = Instant::now();
        let answer = agent
            .get(&format!("{url}/v1/status"))
            .header("authorization", signer.header("GET", "/v1/status", b""))
            .call();
        match answer {
            Ok(mut answer) if answer.status().as_u16() == 200 => {
                let _ = answer.body_mut().read_to_vec();
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                probe.latencies_us.push(micros);
            }
            _ => probe.failures += 1,
        }
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        } else {
            next = Instant::now();
        }
    }
    probe
}

/// One slow connection at a time, over and over until `stop`: a request
/// line, then a header byte every 200 ms, never finishing; counts the
/// connections the node closed.
fn slow_loris(address: SocketAddr, stop: &AtomicBool, cut: &AtomicU64, opened: &AtomicU64) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(address) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        if stream
            .write_all(b"GET /v1/status HTTP/1.1\r\nx-slow: ")
            .is_err()
        {
            continue;
        }
        let mut buffer = [0u8; 512];
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            // The node closing the connection: a read of 0 bytes, or a
            // write that fails.
            match stream.read(&mut buffer) {
                Ok(0) => {
                    cut.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(_) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    cut.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            if stream.write_all(b"a").is_err() {
                cut.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
}
