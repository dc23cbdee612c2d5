//! Node metrics, rendered in the Prometheus text format for `/metrics`.
//! Plain atomics: the driver writes, the API reads.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (milliseconds) of the commit-latency histogram buckets.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

/// Where the driver loop spends its time: one busy-time counter per phase,
/// so a profile under load needs no profiler (`/metrics`,
/// `clearhouse_driver_busy_seconds_total{phase=..}`). Each is the time the
/// engine took on one kind of event plus the driver's execution of the
/// effects it returned: the consensus work an event triggers (building or
/// checking a block, a decision) counts towards the event that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Admitting API submissions (decoding, state reads, signature checks).
    ApiSubmit,
    /// Admitting gossiped transaction batches.
    TxGossip,
    /// Validating and feeding consensus gossip (excluding the phases below).
    ConsensusGossip,
    /// A block landed in the store: the WAL prune, and what the landing
    /// unblocked.
    Commit,
    /// Signature checks answered (gossip admission, the proposal check
    /// that waited for them).
    Verified,
    /// Answering peers' sync requests.
    SyncAnswer,
    /// Verifying and committing synced blocks.
    SyncApply,
    /// Timeouts and rebroadcasts.
    Timers,
}

impl Phase {
    /// Every phase, in rendering order.
    pub const ALL: [Phase; 8] = [
        Phase::ApiSubmit,
        Phase::TxGossip,
        Phase::ConsensusGossip,
        Phase::Commit,
        Phase::Verified,
        Phase::SyncAnswer,
        Phase::SyncApply,
        Phase::Timers,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Phase::ApiSubmit => "api_submit",
            Phase::TxGossip => "tx_gossip",
            Phase::ConsensusGossip => "consensus_gossip",
            Phase::Commit => "commit",
            Phase::Verified => "verified",
            Phase::SyncAnswer => "sync_answer",
            Phase::SyncApply => "sync_apply",
            Phase::Timers => "timers",
        }
    }
}

/// Where a transaction's signature check was asked for: each payment should
/// be checked once per node, whichever path brings it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckSource {
    /// An API submission.
    Api,
    /// A gossiped transaction batch.
    Gossip,
    /// A proposed block, for payments this node had not checked yet.
    Proposal,
    /// A decided or synced block checked in full (this node had not
    /// executed it before).
    Block,
}

impl CheckSource {
    /// Every source, in rendering order.
    pub const ALL: [CheckSource; 4] = [
        CheckSource::Api,
        CheckSource::Gossip,
        CheckSource::Proposal,
        CheckSource::Block,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            CheckSource::Api => "api",
            CheckSource::Gossip => "gossip",
            CheckSource::Proposal => "proposal",
            CheckSource::Block => "block",
        }
    }
}

// The counters are arrays indexed by the enums' discriminants: every variant
// must be in `ALL` (the last one listed last), or counting it would index
// past the end.
const _: () = assert!(Phase::ALL.len() == Phase::Timers as usize + 1);
const _: () = assert!(CheckSource::ALL.len() == CheckSource::Block as usize + 1);

/// Counters and gauges of one node.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Last committed height.
    pub height: AtomicU64,
    /// Transactions committed (applied or rejected) since start.
    pub committed_txs_total: AtomicU64,
    /// Blocks committed since start (by consensus or sync).
    pub committed_blocks_total: AtomicU64,
    /// Blocks committed by sync since start.
    pub synced_blocks_total: AtomicU64,
    /// Transactions in the mempool.
    pub mempool_size: AtomicU64,
    /// Connected peers.
    pub peers: AtomicU64,
    /// Current consensus round.
    pub round: AtomicU64,
    /// Equivocation evidence seen since start.
    pub evidence_total: AtomicU64,
    /// Gossip messages rejected as invalid since start.
    pub gossip_rejected_total: AtomicU64,
    /// Gossiped transaction batches ignored because too many waited for a
    /// signature check (overload shedding).
    pub tx_gossip_shed_total: AtomicU64,
    /// API requests refused 401 (unsigned where a signature is needed, or
    /// a bad, stale, replayed or unknown signature) since start.
    pub api_unauthenticated_total: AtomicU64,
    /// API requests refused 403 (outside the caller's scope) since start.
    pub api_out_of_scope_total: AtomicU64,
    /// API connections open now.
    pub api_connections_open: AtomicU64,
    /// API connections refused since start because `api_connections_max`
    /// were open.
    pub api_connections_refused_total: AtomicU64,
    /// API requests refused 429 (over the caller's request rate) since start.
    pub api_rate_limited_total: AtomicU64,
    /// API requests whose body did not arrive within `api_body_timeout_ms`,
    /// and connections closed for headers slower than
    /// `api_header_timeout_ms`, since start.
    pub api_timeouts_total: AtomicU64,
    /// API connections whose TLS handshake failed (not TLS, an unknown
    /// certificate authority on the client's side, no common version) or
    /// did not finish within `api_header_timeout_ms`, since start.
    pub api_tls_failed_total: AtomicU64,
    driver_busy_us: [AtomicU64; Phase::ALL.len()],
    signature_checks: [AtomicU64; CheckSource::ALL.len()],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    latency_count: AtomicU64,
    latency_sum_ms: AtomicU64,
}

impl Metrics {
    /// Adds time the driver spent in `phase`.
    pub fn add_busy(&self, phase: Phase, elapsed: std::time::Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.driver_busy_us[phase as usize].fetch_add(micros, Ordering::Relaxed);
    }

    /// Microseconds the driver spent in `phase` since start.
    pub fn busy_us(&self, phase: Phase) -> u64 {
        self.driver_busy_us[phase as usize].load(Ordering::Relaxed)
    }

    /// Counts transaction signature checks asked for by `source`.
    pub fn add_signature_checks(&self, source: CheckSource, count: usize) {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        self.signature_checks[source as usize].fetch_add(count, Ordering::Relaxed);
    }

    /// Transaction signature checks asked for by `source` since start.
    pub fn signature_checks(&self, source: CheckSource) -> u64 {
        self.signature_checks[source as usize].load(Ordering::Relaxed)
    }

    /// Records one submit-to-commit latency.
    pub fn observe_commit_latency_ms(&self, latency_ms: u64) {
        for (bound, bucket) in LATENCY_BUCKETS_MS.iter().zip(&self.latency_buckets) {
            if latency_ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ms.fetch_add(latency_ms, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
        gauge(
            &mut out,
            "clearhouse_height",
            "Last committed height.",
            "gauge",
            load(&self.height),
        );
        gauge(
            &mut out,
            "clearhouse_committed_transactions_total",
            "Transactions committed since start.",
            "counter",
            load(&self.committed_txs_total),
        );
        gauge(
            &mut out,
            "clearhouse_committed_blocks_total",
            "Blocks committed since start.",
            "counter",
            load(&self.committed_blocks_total),
        );
        gauge(
            &mut out,
            "clearhouse_synced_blocks_total",
            "Blocks committed by block sync since start.",
            "counter",
            load(&self.synced_blocks_total),
        );
        gauge(
            &mut out,
            "clearhouse_mempool_size",
            "Transactions waiting in the mempool.",
            "gauge",
            load(&self.mempool_size),
        );
        gauge(
            &mut out,
            "clearhouse_peers",
            "Connected peers.",
            "gauge",
            load(&self.peers),
        );
        gauge(
            &mut out,
            "clearhouse_consensus_round",
            "Current consensus round.",
            "gauge",
            load(&self.round),
        );
        gauge(
            &mut out,
            "clearhouse_evidence_total",
            "Equivocation evidence seen since start.",
            "counter",
            load(&self.evidence_total),
        );
        gauge(
            &mut out,
            "clearhouse_gossip_rejected_total",
            "Gossip messages rejected as invalid.",
            "counter",
            load(&self.gossip_rejected_total),
        );
        gauge(
            &mut out,
            "clearhouse_tx_gossip_shed_total",
            "Gossiped transaction batches ignored because too many waited for a signature check.",
            "counter",
            load(&self.tx_gossip_shed_total),
        );
        gauge(
            &mut out,
            "clearhouse_api_unauthenticated_total",
            "API requests refused 401: unsigned where a signature is needed, or a bad, stale, replayed or unknown signature.",
            "counter",
            load(&self.api_unauthenticated_total),
        );
        gauge(
            &mut out,
            "clearhouse_api_out_of_scope_total",
            "API requests refused 403: outside the caller's scope.",
            "counter",
            load(&self.api_out_of_scope_total),
        );
        gauge(
            &mut out,
            "clearhouse_api_connections_open",
            "API connections open now.",
            "gauge",
            load(&self.api_connections_open),
        );
        gauge(
            &mut out,
            "clearhouse_api_connections_refused_total",
            "API connections refused because api_connections_max were open.",
            "counter",
            load(&self.api_connections_refused_total),
        );
        gauge(
            &mut out,
            "clearhouse_api_rate_limited_total",
            "API requests refused 429: over the caller's request rate.",
            "counter",
            load(&self.api_rate_limited_total),
        );
        gauge(
            &mut out,
            "clearhouse_api_timeouts_total",
            "API requests or connections cut off because headers or body arrived too slowly.",
            "counter",
            load(&self.api_timeouts_total),
        );
        gauge(
            &mut out,
            "clearhouse_api_tls_failed_total",
            "API connections closed because their TLS handshake failed or was too slow.",
            "counter",
            load(&self.api_tls_failed_total),
        );
        // A counter with one line per label value.
        let labelled = |out: &mut String,
                        name: &str,
                        help: &str,
                        label: &str,
                        values: &mut dyn Iterator<Item = (&str, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (value_label, value) in values {
                let _ = writeln!(out, "{name}{{{label}=\"{value_label}\"}} {value}");
            }
        };
        labelled(
            &mut out,
            "clearhouse_driver_busy_seconds_total",
            "Time the driver loop spent per phase.",
            "phase",
            &mut Phase::ALL.iter().map(|phase| {
                (
                    phase.name(),
                    format!("{:.6}", self.busy_us(*phase) as f64 / 1e6),
                )
            }),
        );
        labelled(
            &mut out,
            "clearhouse_tx_signature_checks_total",
            "Transaction signature checks, by what asked for them.",
            "source",
            &mut CheckSource::ALL
                .iter()
                .map(|source| (source.name(), self.signature_checks(*source).to_string())),
        );
        let name = "clearhouse_commit_latency_ms";
        let _ = writeln!(
            out,
            "# HELP {name} Submit-to-commit latency of transactions submitted to this node.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in LATENCY_BUCKETS_MS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", load(bucket));
        }
        let count = load(&self.latency_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", load(&self.latency_sum_ms));
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}
