//! `clearhouse-testnet bench`: committed payments per second and
//! submit-to-commit latency, against this machine's ceiling measured in the
//! same run.
//!
//! The ceiling: `verify_strict` verifications per second on one core, times
//! the cores, divided by the validators (every validator verifies every
//! payment once). Transfers are signed before the clock starts; they are
//! submitted open-loop (on a fixed schedule, whatever the network does)
//! through the batch endpoint, spread over all nodes. Commits are observed
//! by polling node 0's blocks; a payment's latency is from its submission
//! to the poll that first sees its block (polls every 20 ms).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::{
    AccountId, Amount, AssetCode, Body, ChainId, Hash, SignedTransaction, Transaction,
};
use serde_json::{Value, json};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Offered payments per second.
    pub rate: u64,
    /// How long to offer them.
    pub duration: Duration,
    /// Every payer pays this one account (the hot-account scenario).
    pub hot_account: bool,
    /// Payments per batch submission.
    pub batch: usize,
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The JSON written to the report file.
    pub json: Value,
    /// The human table.
    pub table: String,
}

/// `verify_strict` verifications per second on one core (about 0.5 s).
pub fn verify_rate_per_core() -> f64 {
    let key = Keypair::from_seed(&[9; 32]);
    let message = b"clearhouse ceiling probe";
    let signature = key.sign(message);
    let public = key.account().0;
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < Duration::from_millis(500) {
        for _ in 0..100 {
            let _ = clearhouse_ledger::crypto::verify(&public, message, &signature);
        }
        count += 100;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Signs `count` transfers among `keys` (or all to `hot`), nonces in order.
pub fn presign(
    chain_id: ChainId,
    keys: &[Keypair],
    asset: &AssetCode,
    count: usize,
    hot: Option<AccountId>,
) -> Result<Vec<SignedTransaction>, clearhouse_ledger::codec::CodecError> {
    let mut nonces = vec![0u64; keys.len()];
    (0..count)
        .map(|i| {
            let from = i % keys.len();
            let to = hot.unwrap_or_else(|| keys[(from + 1) % keys.len()].account());
            let tx = Transaction {
                chain_id,
                sender: keys[from].account(),
                nonce: nonces[from],
                fee: Amount(1_000_000),
                expiry_height: u64::MAX,
                body: Body::Transfer {
                    to,
                    asset: asset.clone(),
                    amount: Amount(1),
                },
            };
            nonces[from] += 1;
            tx.sign(&keys[from])
        })
        .collect()
}

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn get(agent: &ureq::Agent, url: &str) -> Option<Value> {
    agent.get(url).call().ok()?.body_mut().read_json().ok()
}

/// CPU seconds and peak RSS (KiB) of a process, from /proc.
fn process_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks / 100.0, peak_kib))
}

/// The value at `percent` (nearest rank) of sorted values.
fn percentile(sorted: &[u64], percent: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (percent.min(100) * (sorted.len() - 1) + 50) / 100;
    sorted[rank]
}

/// What the submitter thread reports: accepted ids with their submit
/// times, the count refused, and how long submitting took.
type Submitted = (Vec<(Hash, Instant)>, u64, Duration);

/// Runs the load against nodes at `urls` (node 0 is observed), whose
/// processes are `pids` (for CPU and memory; empty when attached).
pub fn run(
    spec: &BenchSpec,
    urls: &[String],
    pids: &[u32],
    transactions: &[SignedTransaction],
    validators: usize,
) -> BenchReport {
    let agent = http_agent();
    let per_core = verify_rate_per_core();
    let ceiling = per_core * cores() as f64 / validators.max(1) as f64;
    let start_height = get(&agent, &format!("{}/v1/status", urls[0]))
        .and_then(|s| s["height"].as_u64())
        .unwrap_or(0);
    let cpu_before: Vec<f64> = pids
        .iter()
        .map(|p| process_usage(*p).map_or(0.0, |u| u.0))
        .collect();

    // Submission on its own thread, on a fixed schedule.
    let total = transactions.len();
    let batch = spec.batch.max(1);
    let interval = Duration::from_secs_f64(batch as f64 / spec.rate.max(1) as f64);
    let encoded: Vec<(Hash, String)> = transactions
        .iter()
        .map(|t| {
            (
                t.id().unwrap_or(Hash::ZERO),
                hex::encode(t.encode().unwrap_or_default()),
            )
        })
        .collect();
    let urls_for_submit = urls.to_vec();
    let started = Instant::now();
    // One submitting thread per node, all on one schedule: batch k is due
    // at start + k x interval and goes to node k mod nodes. A thread per
    // node keeps one slow admission from delaying the others' batches.
    let encoded = std::sync::Arc::new(encoded);
    let mut submitter = Some(std::thread::spawn(move || {
        let nodes = urls_for_submit.len().max(1);
        let threads: Vec<_> = (0..nodes)
            .map(|node| {
                let encoded = encoded.clone();
                let url = format!("{}/v1/transactions/batch", urls_for_submit[node]);
                std::thread::spawn(move || {
                    let agent = http_agent();
                    let mut submitted: Vec<(Hash, Instant)> = Vec::new();
                    let mut refused = 0u64;
                    for (k, chunk) in encoded.chunks(batch).enumerate().filter(|(k, _)| k % nodes == node) {
                        let due = started + interval * u32::try_from(k).unwrap_or(u32::MAX);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let body = json!({"transactions": chunk.iter().map(|(_, hex)| hex).collect::<Vec<_>>()});
                        let now = Instant::now();
                        match agent
                            .post(&url)
                            .send_json(&body)
                            .ok()
                            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                        {
                            Some(answer) => {
                                for (result, (id, _)) in answer["results"].as_array().into_iter().flatten().zip(chunk) {
                                    if result.get("hash").is_some() {
                                        submitted.push((*id, now));
                                    } else {
                                        refused += 1;
                                    }
                                }
                            }
                            None => refused += chunk.len() as u64,
                        }
                    }
                    (submitted, refused)
                })
            })
            .collect();
        let mut submitted: Vec<(Hash, Instant)> = Vec::with_capacity(total);
        let mut refused = 0u64;
        for thread in threads {
            if let Ok((ids, refusals)) = thread.join() {
                submitted.extend(ids);
                refused += refusals;
            }
        }
        (submitted, refused, started.elapsed())
    }));

    // Observe commits on node 0.
    let mut committed_at: HashMap<Hash, Instant> = HashMap::new();
    let mut rejected = 0u64;
    let mut blocks = 0u64;
    let mut height = start_height;
    let deadline = started + spec.duration + Duration::from_secs(30);
    let mut submit_done: Option<Submitted> = None;
    loop {
        let tip = get(&agent, &format!("{}/v1/status", urls[0]))
            .and_then(|s| s["height"].as_u64())
            .unwrap_or(height);
        while height < tip {
            height += 1;
            let Some(block) = get(&agent, &format!("{}/v1/blocks/{height}", urls[0])) else {
                height -= 1;
                break;
            };
            let now = Instant::now();
            blocks += 1;
            let receipts = block["receipts"].as_array().cloned().unwrap_or_default();
            for (tx, receipt) in block["transactions"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(receipts)
            {
                if let Some(id) = tx["hash"].as_str().and_then(|h| Hash::from_hex(h).ok()) {
                    committed_at.insert(id, now);
                    if receipt["outcome"] == "rejected" {
                        rejected += 1;
                    }
                }
            }
        }
        if submitter.as_ref().is_some_and(|h| h.is_finished()) {
            submit_done = submitter.take().and_then(|h| h.join().ok());
        }
        let all_in = submit_done.as_ref().is_some_and(|(submitted, _, _)| {
            submitted
                .iter()
                .all(|(id, _)| committed_at.contains_key(id))
        });
        if all_in || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (submitted, refused, submit_elapsed) = match submit_done {
        Some(done) => done,
        None => submitter
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default(),
    };
    let observed = started.elapsed();
    let mut latencies: Vec<u64> = submitted
        .iter()
        .filter_map(|(id, at)| {
            committed_at
                .get(id)
                .map(|c| u64::try_from(c.duration_since(*at).as_millis()).unwrap_or(u64::MAX))
        })
        .collect();
    latencies.sort_unstable();
    let committed = latencies.len() as u64;
    let offered_per_s = submitted.len() as f64 / submit_elapsed.as_secs_f64().max(1e-9);
    let committed_per_s = committed as f64 / observed.as_secs_f64().max(1e-9);
    let nodes: Vec<Value> = pids
        .iter()
        .zip(&cpu_before)
        .map(|(pid, before)| {
            let (cpu, peak) = process_usage(*pid).unwrap_or((0.0, 0));
            json!({"pid": pid, "cpu_seconds": cpu - before, "cpu_percent": 100.0 * (cpu - before) / observed.as_secs_f64(), "peak_rss_mib": peak as f64 / 1024.0})
        })
        .collect();
    let json = json!({
        "scenario": if spec.hot_account { "hot-account" } else { "transfers" },
        "validators": validators,
        "offered_payments_per_s": offered_per_s,
        "committed_payments_per_s": committed_per_s,
        "submitted": submitted.len(),
        "committed": committed,
        "refused_at_submit": refused,
        "rejected_in_blocks": rejected,
        "latency_ms": {"p50": percentile(&latencies, 50), "p99": percentile(&latencies, 99), "max": latencies.last().copied().unwrap_or(0)},
        "blocks": blocks,
        "blocks_per_s": blocks as f64 / observed.as_secs_f64(),
        "average_block_size": if blocks == 0 { 0.0 } else { committed as f64 / blocks as f64 },
        "ceiling": {"verify_strict_per_s_one_core": per_core, "cores": cores(), "payments_per_s": ceiling},
        "fraction_of_ceiling": committed_per_s / ceiling,
        "nodes": nodes,
    });
    let mut table = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        table,
        "scenario                {}",
        json["scenario"].as_str().unwrap_or("")
    );
    let _ = writeln!(table, "offered payments/s      {offered_per_s:.0}");
    let _ = writeln!(
        table,
        "committed payments/s    {committed_per_s:.0}  ({committed} of {} submitted)",
        submitted.len()
    );
    let _ = writeln!(
        table,
        "latency p50/p99/max ms  {}/{}/{}",
        json["latency_ms"]["p50"], json["latency_ms"]["p99"], json["latency_ms"]["max"]
    );
    let _ = writeln!(table, "refused / rejected      {refused} / {rejected}");
    let _ = writeln!(
        table,
        "blocks/s, avg size      {:.2}, {:.0}",
        json["blocks_per_s"].as_f64().unwrap_or(0.0),
        json["average_block_size"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        table,
        "ceiling payments/s      {ceiling:.0}  ({per_core:.0} verify_strict/s/core x {} cores / {validators} validators)",
        cores()
    );
    let _ = writeln!(
        table,
        "fraction of ceiling     {:.1} %",
        100.0 * committed_per_s / ceiling
    );
    for (i, node) in nodes.iter().enumerate() {
        let _ = writeln!(
            table,
            "node {i}: cpu {:.0} %, peak RSS {:.0} MiB",
            node["cpu_percent"].as_f64().unwrap_or(0.0),
            node["peak_rss_mib"].as_f64().unwrap_or(0.0)
        );
    }
    BenchReport { json, table }
}

/// Writes the JSON report.
pub fn write_report(path: &Path, report: &BenchReport) -> std::io::Result<()> {
    std::fs::write(
        path,
        serde_json::to_string_pretty(&report.json).unwrap_or_default(),
    )
}
