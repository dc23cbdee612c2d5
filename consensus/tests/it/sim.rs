//! The seeded network simulator over many seeds, its determinism, and mutants of the
//! algorithm that its checkers must catch.
//!
//! `CONSENSUS_SEEDS=N` runs seeds `0..N` (default 2,100, split over the three validator
//! counts); `CONSENSUS_SEED=S` replays one seed and prints its trace (test `sim::replay`).

use std::time::Instant;

use clearhouse_consensus::Mutants;
use clearhouse_consensus::sim::{self, Report, RunConfig, SCENARIOS};

const DEFAULT_SEEDS: u64 = 2_100;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn seeds_total() -> u64 {
    env_u64("CONSENSUS_SEEDS").unwrap_or(DEFAULT_SEEDS)
}

/// Prints a failed run with the tail of its replayed trace.
fn describe(report: &Report) -> String {
    let mut config = RunConfig::for_seed(report.seed);
    config.record_trace = true;
    let replay = sim::run(&config);
    let tail: Vec<&String> = replay.trace.iter().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().map(String::as_str).collect();
    format!(
        "{}\n  {}\n  validators at the end:\n    {}\n  last events:\n    {}",
        report.headline(),
        report.violations.join("\n  "),
        report.final_states.join("\n    "),
        tail.join("\n    ")
    )
}

/// Runs every seed below the total that names `n_validators` validators.
fn check_seeds(n_validators: u32) {
    let started = Instant::now();
    let mut runs = 0u64;
    let mut decisions = 0u64;
    let mut evidence = 0u64;
    let mut rounds_after_heal_max = 0u64;
    let mut failures = Vec::new();
    for seed in 0..seeds_total() {
        let config = RunConfig::for_seed(seed);
        if config.n_validators != n_validators {
            continue;
        }
        let report = sim::run(&config);
        runs += 1;
        decisions += report.decisions;
        evidence += report.evidence;
        rounds_after_heal_max = rounds_after_heal_max.max(report.rounds_after_heal_max);
        if !report.violations.is_empty() {
            failures.push(describe(&report));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    eprintln!(
        "sim n={n_validators}: {runs} seeds, {decisions} decisions, {evidence} evidence, \
         at most {rounds_after_heal_max} rounds after healing, {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(runs == 0 || decisions > runs, "runs must decide");
}

#[test]
fn four_validators_over_seeds() {
    check_seeds(4);
}

#[test]
fn seven_validators_over_seeds() {
    check_seeds(7);
}

#[test]
fn ten_validators_over_seeds() {
    check_seeds(10);
}

#[test]
fn replay() {
    let seed = env_u64("CONSENSUS_SEED").unwrap_or(0);
    let mut config = RunConfig::for_seed(seed);
    config.record_trace = true;
    let report = sim::run(&config);
    if std::env::var("CONSENSUS_SEED").is_ok() {
        for line in &report.trace {
            println!("{line}");
        }
        println!(
            "{}\n{} decisions, {} events, violations: {:#?}",
            report.headline(),
            report.decisions,
            report.events,
            report.violations
        );
    }
    assert!(!report.trace.is_empty());
    assert!(report.violations.is_empty(), "{}", describe(&report));
}

#[test]
fn same_seed_same_trace_hash() {
    for seed in [0, 1, 2, 31, 62, 293] {
        let config = RunConfig::for_seed(seed);
        let (first, second) = (sim::run(&config), sim::run(&config));
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.events, second.events, "seed {seed}");
        let mut traced = config;
        traced.record_trace = true;
        assert_eq!(
            sim::run(&traced).trace_hash,
            first.trace_hash,
            "recording the trace changes nothing"
        );
        let other = sim::run(&RunConfig::for_seed(seed + 3));
        assert_ne!(
            first.trace_hash,
            other.trace_hash,
            "seeds {seed} and {}",
            seed + 3
        );
    }
}

#[test]
fn every_scenario_and_behaviour_is_exercised() {
    // Over one cycle of seeds, each scenario runs with each validator count.
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..(3 * SCENARIOS.len() as u64) {
        let config = RunConfig::for_seed(seed);
        seen.insert((config.scenario.name, config.n_validators));
    }
    assert_eq!(seen.len(), 3 * SCENARIOS.len());
}

/// Runs seeds with `mutants` until one breaks a promise; returns its report.
fn first_failure(
    mutants: Mutants,
    seeds: impl Iterator<Item = u64>,
    scenario: Option<&str>,
) -> Option<Report> {
    for seed in seeds {
        let mut config = RunConfig::for_seed(seed);
        if scenario.is_some_and(|name| name != config.scenario.name) {
            continue;
        }
        config.mutants = mutants;
        let report = sim::run(&config);
        if !report.violations.is_empty() {
            return Some(report);
        }
    }
    None
}

#[test]
fn mutant_quorum_of_two_f_is_caught() {
    let mutants = Mutants {
        quorum_two_f: true,
        ..Mutants::default()
    };
    let report = first_failure(mutants, 0..600, None).expect("a quorum of 2f must break a promise");
    eprintln!(
        "quorum 2f caught: {}\n  {}",
        report.headline(),
        report.violations[0]
    );
}

#[test]
fn mutant_forgetting_what_was_signed_is_caught() {
    let mutants = Mutants {
        forget_signed_on_restore: true,
        ..Mutants::default()
    };
    let report = first_failure(mutants, 0..600, Some("crash-restart"))
        .expect("forgetting the WAL must be caught");
    assert!(
        report.violations.iter().any(|v| v.starts_with("S4")),
        "{:?}",
        report.violations
    );
    eprintln!(
        "forgotten WAL caught: {}\n  {}",
        report.headline(),
        report.violations[0]
    );
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn decisions_per_second() {
    let seeds = env_u64("CONSENSUS_SEEDS").unwrap_or(600);
    let started = Instant::now();
    let mut decisions = 0;
    let mut sim_time_ms = 0;
    for seed in 0..seeds {
        let report = sim::run(&RunConfig::for_seed(seed));
        assert!(report.violations.is_empty(), "{}", describe(&report));
        decisions += report.decisions;
        sim_time_ms += report.sim_time_ms;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{seeds} seeds, {decisions} decisions in {seconds:.2}s on one thread: {:.0} simulated decisions/s \
         ({:.0} simulated seconds, {:.0}x real time)",
        decisions as f64 / seconds,
        sim_time_ms as f64 / 1000.0,
        sim_time_ms as f64 / 1000.0 / seconds
    );
}
