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
//! at a time (the node cuts each at `api_header_timeout_ms`). The report
//! gives the probe's p50/p99/max and failures in each phase, what the
//! flood got (served, refused 429, other), how many slow connections the
//! node cut, and the node's own counters. The figures depend on the
//! machine: flooders, node and probe share its cores.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clearhouse_node::api::auth::RequestSigner;

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
) -> Result<DoorReport, String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    eprintln!("quiet: probing for {} s...", spec.duration.as_secs());
    let quiet = run_probe(&agent, url, probe, spec.duration, spec.probe_interval);

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
    let flood = run_probe(&agent, url, probe, spec.duration, spec.probe_interval);
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
