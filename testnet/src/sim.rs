//! `clearhouse-testnet sim`: runs the whole-node simulator
//! ([`clearhouse_node::sim`]) over a range of seeds on every core, and
//! prints per seed the heights decided, payments committed and the trace
//! digest, then the totals. A seed with a violation prints the command that
//! replays it alone with its trace.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clearhouse_node::engine::Mutants;
use clearhouse_node::sim::{SimConfig, SimReport, run};

/// What `sim` was asked to do (the `clearhouse-testnet sim` flags).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// How many seeds to run (in parallel on every core).
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub from_seed: u64,
    /// Validators per run (4 to 10).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Spread the seeds over network sizes from `--validators` up to this
    /// (seed `s` runs `validators + s % (sizes)` validators).
    #[arg(long)]
    pub validators_max: Option<usize>,
    /// Run a deliberately broken engine instead: skip-wal-sync,
    /// count-duplicate-votes, accept-unchecked-sync,
    /// forget-lock-on-restart.
    #[arg(long)]
    pub mutant: Option<String>,
    /// One JSON object per seed, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Print each seed's readable trace (use with --seeds 1).
    #[arg(long)]
    pub trace: bool,
    /// Change the validator set by governance during each run (a bank
    /// admitted, one suspended and reinstated, a validator key rotated, a
    /// bank removed, voting power changes): every seed must carry all its
    /// changes through and keep deciding blocks.
    #[arg(long)]
    pub governance: bool,
}

/// The totals of a run of seeds.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SimSummary {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds with a safety violation.
    pub unsafe_seeds: Vec<u64>,
    /// Seeds that missed the liveness bound.
    pub not_live_seeds: Vec<u64>,
    /// Heights decided, summed over seeds.
    pub heights: u64,
    /// Payments committed, summed over seeds.
    pub committed: u64,
    /// Validator-set changes along the chains, summed over seeds.
    pub set_changes: u64,
    /// The longest stall (no new height) after the faults stopped, over
    /// all seeds, simulated milliseconds.
    pub stall_ms_max: u64,
    /// Wall time, seconds.
    pub wall_seconds: f64,
}

/// Runs the seeds; `Err` names an unknown mutant.
pub fn run_seeds(args: &SimArgs) -> Result<SimSummary, String> {
    let mutants = match &args.mutant {
        None => Mutants::default(),
        Some(name) => Mutants::named(name).ok_or_else(|| {
            format!(
                "unknown mutant {name:?}; one of {}",
                Mutants::NAMES.join(", ")
            )
        })?,
    };
    let started = Instant::now();
    let next = AtomicU64::new(args.from_seed);
    let end = args.from_seed.saturating_add(args.seeds);
    let summary = Mutex::new(SimSummary::default());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let mut config = SimConfig::new(seed, args.validators_for(seed));
                    config.mutants = mutants;
                    config.trace = args.trace;
                    config.governance = args.governance;
                    let report = run(&config);
                    print_report(args, &report);
                    let mut summary = summary.lock().unwrap_or_else(|e| e.into_inner());
                    summary.seeds += 1;
                    summary.heights += report.height;
                    summary.committed += report.committed as u64;
                    summary.set_changes += report.set_changes as u64;
                    summary.stall_ms_max = summary.stall_ms_max.max(report.stall_ms);
                    if !report.violations.is_empty() {
                        summary.unsafe_seeds.push(seed);
                    }
                    if !report.liveness.is_empty() {
                        summary.not_live_seeds.push(seed);
                    }
                }
            });
        }
    });
    let mut summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.unsafe_seeds.sort_unstable();
    summary.not_live_seeds.sort_unstable();
    summary.wall_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

impl SimArgs {
    /// The network size seed `seed` runs.
    pub fn validators_for(&self, seed: u64) -> usize {
        let low = self.validators.clamp(4, 10);
        let high = self.validators_max.unwrap_or(low).clamp(low, 10);
        let sizes = u64::try_from(high - low + 1).unwrap_or(1);
        low + usize::try_from(seed % sizes).unwrap_or(0)
    }
}

fn replay_command(args: &SimArgs, seed: u64) -> String {
    let mutant = args
        .mutant
        .as_ref()
        .map(|m| format!(" --mutant {m}"))
        .unwrap_or_default();
    let governance = if args.governance { " --governance" } else { "" };
    format!(
        "clearhouse-testnet sim --seeds 1 --from-seed {seed} --validators {}{mutant}{governance} --trace",
        args.validators_for(seed)
    )
}

/// Writes to stdout, ignoring a closed pipe (`| head` must not panic).
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.write_all(b"\n");
}

fn print_report(args: &SimArgs, report: &SimReport) {
    if args.trace {
        for line in &report.trace {
            say(line);
        }
    }
    if args.json {
        let line = serde_json::json!({
            "seed": report.seed,
            "scenario": report.scenario,
            "violations": report.violations,
            "liveness": report.liveness,
            "height": report.height,
            "committed": report.committed,
            "submitted": report.submitted,
            "set_changes": report.set_changes,
            "stall_ms": report.stall_ms,
            "digest": report.digest.to_hex(),
        });
        say(&line.to_string());
        return;
    }
    let verdict = match (report.violations.is_empty(), report.liveness.is_empty()) {
        (true, true) => "ok",
        (true, false) => "NOT LIVE",
        (false, _) => "UNSAFE",
    };
    say(&format!(
        "seed {:>6}  {verdict:<8}  height {:>4}  committed {:>3}/{:<3}  set changes {:>2}  stall {:>5} ms  digest {}",
        report.seed,
        report.height,
        report.committed,
        report.submitted,
        report.set_changes,
        report.stall_ms,
        report.digest.to_hex()
    ));
    if verdict != "ok" {
        say(&format!("    scenario: {}", report.scenario));
        for line in report.violations.iter().chain(&report.liveness) {
            say(&format!("    {line}"));
        }
        say(&format!(
            "    replay: {}",
            replay_command(args, report.seed)
        ));
    }
}

/// Prints the totals.
pub fn print_summary(args: &SimArgs, summary: &SimSummary) {
    if args.json {
        say(&serde_json::json!({ "summary": summary }).to_string());
        return;
    }
    say(&format!(
        "{} seeds ({}{}{}) in {:.1} s: {} unsafe, {} missed the liveness bound; {} heights decided, {} payments committed, {} validator-set changes, longest stall after the faults {} ms",
        summary.seeds,
        match args.validators_max {
            Some(max) if max > args.validators =>
                format!("{} to {max} validators", args.validators),
            _ => format!("{} validators", args.validators),
        },
        args.mutant
            .as_ref()
            .map(|m| format!(", mutant {m}"))
            .unwrap_or_default(),
        if args.governance { ", governance" } else { "" },
        summary.wall_seconds,
        summary.unsafe_seeds.len(),
        summary.not_live_seeds.len(),
        summary.heights,
        summary.committed,
        summary.set_changes,
        summary.stall_ms_max,
    ));
}
