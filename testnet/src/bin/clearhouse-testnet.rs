//! `clearhouse-testnet up [--validators N] [--dir DIR]`: a local network on
//! loopback. Generates keys, genesis and configs (or reuses the network
//! already in DIR), starts one `clearhouse-node` process per validator,
//! prints where everything is, and stops them all cleanly on Ctrl-C.

use std::path::PathBuf;
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use clearhouse_testnet::join::JoinError;
use clearhouse_testnet::{NodeFiles, Spec, Testnet, generate, node_binary, spawn_node};

/// Local Clearhouse networks on loopback.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the whole-node simulator: real engines over a seeded network
    /// with faults, crashes and a Byzantine validator; checks agreement,
    /// validity, no double sign, the lock and liveness on every seed.
    Sim(clearhouse_testnet::sim::SimArgs),
    /// Measure the API's front door: one caller's latency while another
    /// floods the node and others hold slow connections (a fresh
    /// one-validator network with default limits).
    Door {
        /// Seconds of each phase (quiet, then flood).
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Threads flooding unsigned requests from one address.
        #[arg(long, default_value_t = 4)]
        flooders: usize,
        /// Connections trickling their headers (slowloris).
        #[arg(long, default_value_t = 200)]
        slow: usize,
        /// Milliseconds between the probe's requests.
        #[arg(long, default_value_t = 5)]
        probe_interval_ms: u64,
        /// Milliseconds between the payments submitted meanwhile.
        #[arg(long, default_value_t = 20)]
        payment_interval_ms: u64,
        /// Where the JSON report goes.
        #[arg(long, default_value = "door.json")]
        out: PathBuf,
    },
    /// Add a bank to a testnet folder: its keys, node config and member
    /// entry (DIR/NAME/member.toml); prints the governance commands the
    /// members run to admit it and the command that starts its node (`up`
    /// on DIR starts it with the others from then on). Exit 2 bad input,
    /// 3 DIR is no testnet, 4 the name or asset code is taken.
    AddBank {
        /// The testnet folder.
        #[arg(long, default_value = "clearhouse-testnet")]
        dir: PathBuf,
        /// The new bank's member id, e.g. bank-4.
        #[arg(long)]
        name: String,
        /// Its own asset's code, registered by governance once it joins.
        #[arg(long, value_name = "CODE")]
        asset: Option<String>,
        /// Decimal places of its asset.
        #[arg(long, value_name = "N", default_value_t = 2, requires = "asset")]
        decimals: u8,
        /// Demo customer accounts.
        #[arg(long, value_name = "K", default_value_t = 4)]
        customers: usize,
    },
    /// Start a local network (fresh keys and genesis unless DIR already holds one).
    Up {
        /// Number of validators (one demo bank each, 1 to 10).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Folder for keys, genesis, configs, data and logs.
        #[arg(long, default_value = "clearhouse-testnet")]
        dir: PathBuf,
        /// Demo customer accounts per bank.
        #[arg(long, default_value_t = 4)]
        accounts_per_bank: usize,
        /// Serve every node's API over TLS (a fresh testnet CA in
        /// DIR/tls/ca.pem; a new network only: an existing DIR keeps how
        /// it was made).
        #[arg(long)]
        tls: bool,
    },
    /// Measure committed payments/s and latency against this machine's
    /// ceiling: starts a fresh network (or attaches to one started by `up`),
    /// offers pre-signed transfers at a fixed rate, prints a table and
    /// writes JSON.
    Bench {
        /// Validators to start (ignored with --attach).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Offered payments per second.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Paying accounts per bank (more spreads nonces).
        #[arg(long, default_value_t = 250)]
        accounts_per_bank: usize,
        /// Everyone pays one merchant account.
        #[arg(long)]
        hot_account: bool,
        /// This percentage of the payments are cross-currency transfers
        /// (1.00 CNY paid through bank 1's CNY/USD quote, the payee
        /// receiving USD); the demo quotes are posted first.
        #[arg(long, value_name = "PERCENT", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        cross_currency: u8,
        /// Payments per batch submission.
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Where to write the JSON report.
        #[arg(long, default_value = "bench.json")]
        out: PathBuf,
        /// Attach to the network `up` runs in this folder instead of starting one.
        #[arg(long)]
        attach: Option<PathBuf>,
        /// A few seconds at a low rate: checks the bench still works.
        #[arg(long)]
        smoke: bool,
        /// Find the highest sustainable rate: steps of --duration seconds
        /// from --rate, x1.5 until one fails, then bisection.
        #[arg(long)]
        find_max: bool,
        /// Most steps of --find-max.
        #[arg(long, default_value_t = 12)]
        steps_max: usize,
        /// Repeat the run this many times on one network (fresh transfers
        /// each time), printing each segment: a long run without holding
        /// every signed payment in memory (e.g. 1,000,000 payments).
        #[arg(long, default_value_t = 1)]
        segments: usize,
        /// Keep the fresh network's folder (node logs) instead of deleting it.
        #[arg(long)]
        keep: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Commands::Sim(args) => {
            match clearhouse_testnet::sim::run_seeds(&args) {
                Ok(summary) => {
                    clearhouse_testnet::sim::print_summary(&args, &summary);
                    // Exit 1 when any seed broke a safety promise (the
                    // honest engine) or none did (a mutant survived);
                    // exit 3 when only liveness was missed.
                    let caught = !summary.unsafe_seeds.is_empty();
                    if args.mutant.is_some() {
                        if caught {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::from(1)
                        }
                    } else if caught {
                        ExitCode::from(1)
                    } else if !summary.not_live_seeds.is_empty() {
                        ExitCode::from(3)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(2)
                }
            }
        }
        Commands::Bench {
            validators,
            rate,
            duration,
            accounts_per_bank,
            hot_account,
            cross_currency,
            batch,
            out,
            attach,
            smoke,
            find_max,
            steps_max,
            segments,
            keep,
        } => {
            let (rate, duration, accounts_per_bank, steps_max) = if smoke {
                // --find-max --smoke: steps of 2 s from 100/s, at most 3.
                let duration = if find_max { 2 } else { 3 };
                (100, duration, accounts_per_bank.min(4), steps_max.min(3))
            } else {
                (rate, duration, accounts_per_bank, steps_max)
            };
            let spec = clearhouse_testnet::bench::BenchSpec {
                rate,
                duration: Duration::from_secs(duration),
                hot_account,
                // Several batches per step even at the smoke's low rate.
                batch: if smoke { batch.min(20) } else { batch },
                cross_currency_percent: cross_currency,
            };
            let mode = if find_max {
                Mode::FindMax { steps_max }
            } else {
                Mode::Fixed { segments }
            };
            match bench(
                validators,
                accounts_per_bank,
                &spec,
                mode,
                &out,
                attach.as_deref(),
                keep,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("clearhouse-testnet: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Commands::Door {
            duration,
            flooders,
            slow,
            probe_interval_ms,
            payment_interval_ms,
            out,
        } => {
            let spec = clearhouse_testnet::door::DoorSpec {
                duration: Duration::from_secs(duration),
                flooders,
                slow,
                probe_interval: Duration::from_millis(probe_interval_ms.max(1)),
                payment_interval: Duration::from_millis(payment_interval_ms.max(1)),
            };
            match door(&spec, &out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("clearhouse-testnet: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Commands::AddBank {
            dir,
            name,
            asset,
            decimals,
            customers,
        } => {
            let spec = clearhouse_testnet::join::AddBank {
                dir,
                name,
                asset: asset.map(|code| (code, decimals)),
                customers,
                seed: None,
            };
            match add_bank(&spec) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("clearhouse-testnet: {error}");
                    ExitCode::from(error.exit_code())
                }
            }
        }
        Commands::Up {
            validators,
            dir,
            accounts_per_bank,
            tls,
        } => match up(validators, dir, accounts_per_bank, tls) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("clearhouse-testnet: {error}");
                ExitCode::from(1)
            }
        },
    }
}

fn up(validators: usize, dir: PathBuf, accounts_per_bank: usize, tls: bool) -> Result<(), String> {
    let testnet = if dir.join("genesis.toml").exists() {
        reopen(&dir)?
    } else {
        let mut spec = Spec::new(dir.clone());
        spec.validators = validators;
        spec.accounts_per_bank = accounts_per_bank;
        spec.tls = tls;
        generate(&spec).map_err(|e| e.to_string())?
    };
    let mut children = start_all(&testnet)?;
    let agent = testnet
        .agent(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let quotes = match clearhouse_testnet::quotes::post_demo_quotes(&testnet, &agent) {
        Ok(quotes) => quotes,
        Err(error) => {
            stop(&mut children);
            return Err(format!("posting the demo FX quotes: {error}"));
        }
    };
    print_table(&testnet, &quotes);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    eprintln!("\nstopping...");
    stop(&mut children);
    eprintln!(
        "stopped; the network stays in {} (run `up` again to restart it)",
        testnet.dir.display()
    );
    Ok(())
}

/// `add-bank`: writes the bank's files, then prints how it joins.
fn add_bank(spec: &clearhouse_testnet::join::AddBank) -> Result<(), JoinError> {
    use clearhouse_testnet::join::{PROPOSAL, shell_line};
    let added = clearhouse_testnet::join::add_bank(spec)?;
    let testnet = Testnet::open(&spec.dir)?;
    let commands = added.commands(&testnet);
    let name = &added.record.name;
    println!(
        "{name} written: keys in {}, node config {}, member entry {}",
        testnet.dir.join("keys").display(),
        added.node.config_path.display(),
        added.member_file.display()
    );
    println!(
        "\n1. An existing member proposes {name} (with the network running, e.g. `clearhouse-testnet up`):"
    );
    println!("  export CLEARHOUSE_NODE={}", commands.node_url);
    println!("  {}", shell_line(&commands.propose_member));
    println!(
        "\n2. Enough members vote yes to pass it ({PROPOSAL} is the proposal id the first command printed):"
    );
    for vote in &commands.member_votes {
        println!("  {}", shell_line(vote));
    }
    println!(
        "  clearhouse governance show {PROPOSAL}   # passed at H, takes effect at H + the activation offset"
    );
    println!(
        "\n3. Start {name}'s node (it syncs from genesis and votes from the activation height; `clearhouse-testnet up --dir {}` starts it with the others from now on):",
        testnet.dir.display()
    );
    println!("  {}", shell_line(&commands.start_node));
    if let Some(register) = &commands.register_asset {
        println!("\n4. Once {name} is a member, it proposes its own asset and the others vote:");
        println!("  {}", shell_line(register));
        for vote in &commands.asset_votes {
            println!("  {}", shell_line(vote));
        }
    }
    if !commands.register_customers.is_empty() {
        println!("\n5. {name}'s treasury registers its customers (and issues its asset to them):");
        for command in commands.register_customers.iter().chain(&commands.issue) {
            println!("  {}", shell_line(command));
        }
    }
    Ok(())
}

/// What `bench` does on its network.
#[derive(Clone, Copy)]
enum Mode {
    /// One rate, repeated `segments` times.
    Fixed { segments: usize },
    /// The highest sustainable rate.
    FindMax { steps_max: usize },
}

fn bench(
    validators: usize,
    accounts_per_bank: usize,
    spec: &clearhouse_testnet::bench::BenchSpec,
    mode: Mode,
    out: &std::path::Path,
    attach: Option<&std::path::Path>,
    keep: bool,
) -> Result<(), String> {
    let mut children: Vec<(String, Child)> = Vec::new();
    let mut scratch = None;
    let testnet = match attach {
        Some(dir) => {
            let testnet = reopen(dir)?;
            if testnet.ca_cert.is_some() {
                // The bench's load generator speaks plain HTTP: it measures
                // consensus and execution, not TLS.
                return Err(format!(
                    "{} serves its API over TLS; bench attaches to a testnet started without --tls",
                    dir.display()
                ));
            }
            testnet
        }
        None => {
            let dir = std::env::temp_dir().join(format!("clearhouse-bench-{}", std::process::id()));
            let mut generated = Spec::new(dir.clone());
            generated.validators = validators;
            generated.accounts_per_bank = accounts_per_bank;
            let testnet = generate(&generated).map_err(|e| e.to_string())?;
            scratch = Some(dir);
            children = start_all(&testnet)?;
            testnet
        }
    };
    let result = (|| {
        let chain_id = testnet.genesis.chain_id().map_err(|e| e.to_string())?;
        let keys = testnet
            .accounts
            .iter()
            .map(|a| clearhouse_node::keyfile::read(&a.key_file).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let (payers, hot) = if spec.hot_account && keys.len() > 1 {
            {
                let hot = keys[0].account();
                (keys.into_iter().skip(1).collect(), Some(hot))
            }
        } else {
            (keys, None)
        };
        let asset = clearhouse_ledger::AssetCode::new(clearhouse_testnet::ASSETS[0].0)
            .map_err(|e| e.to_string())?;
        let targets = clearhouse_testnet::bench::Target::all(&testnet)?;
        let mut payers = clearhouse_testnet::bench::Payers::new(chain_id, payers, asset, hot);
        if spec.cross_currency_percent > 0 {
            let agent = testnet
                .agent(Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            let quotes = clearhouse_testnet::quotes::post_demo_quotes(&testnet, &agent)
                .map_err(|e| format!("posting the demo FX quotes: {e}"))?;
            let (from, to) = (
                clearhouse_testnet::ASSETS[0].0,
                clearhouse_testnet::ASSETS[1].0,
            );
            let quote = quotes
                .iter()
                .find(|q| q.from == from && q.to == to)
                .ok_or_else(|| {
                    format!("no {from}/{to} quote: --cross-currency needs 2 validators or more")
                })?;
            payers = payers.with_quote(quote.id, spec.cross_currency_percent);
        }
        if attach.is_some() {
            payers.fetch_nonces(&targets[0])?;
        }
        let pids: Vec<u32> = children.iter().map(|(_, c)| c.id()).collect();
        let validators = testnet.genesis.members.len();
        let report = match mode {
            Mode::FindMax { steps_max } => {
                let search = clearhouse_testnet::bench::SearchSpec {
                    start_rate: spec.rate,
                    step_duration: spec.duration,
                    steps_max,
                    batch: spec.batch,
                    hot_account: spec.hot_account,
                };
                eprintln!(
                    "finding the highest sustainable rate from {} payments/s ({} s steps, {} accounts paying)...",
                    spec.rate,
                    spec.duration.as_secs(),
                    payers.len()
                );
                clearhouse_testnet::bench::find_max(
                    &search,
                    &targets,
                    &pids,
                    &mut payers,
                    validators,
                )?
            }
            Mode::Fixed { segments } => {
                let count = usize::try_from(spec.rate.saturating_mul(spec.duration.as_secs()))
                    .unwrap_or(usize::MAX);
                let mut reports = Vec::new();
                for segment in 0..segments.max(1) {
                    eprintln!(
                        "signing {count} transfers from {} accounts...",
                        payers.len()
                    );
                    let transactions = payers.sign(count).map_err(|e| e.to_string())?;
                    eprintln!(
                        "segment {segment}: offering {} payments/s for {} s to {} nodes...",
                        spec.rate,
                        spec.duration.as_secs(),
                        targets.len()
                    );
                    let report = clearhouse_testnet::bench::run(
                        spec,
                        &targets,
                        &pids,
                        &transactions,
                        validators,
                    )?;
                    if segments > 1 {
                        eprintln!("segment {segment}:\n{}", report.table);
                    }
                    reports.push(report);
                }
                if reports.len() == 1 {
                    reports.remove(0)
                } else {
                    let table = reports
                        .iter()
                        .enumerate()
                        .map(|(i, r)| format!("segment {i}:\n{}", r.table))
                        .collect::<Vec<_>>()
                        .join("\n");
                    clearhouse_testnet::bench::BenchReport {
                        json: serde_json::json!({
                            "mode": "segments",
                            "payments": count * reports.len(),
                            "segments": reports.iter().map(|r| r.json.clone()).collect::<Vec<_>>(),
                        }),
                        table,
                    }
                }
            }
        };
        println!("{}", report.table);
        clearhouse_testnet::bench::write_report(out, &report)
            .map_err(|e| format!("{}: {e}", out.display()))?;
        println!("report written to {}", out.display());
        Ok(())
    })();
    stop(&mut children);
    if let Some(dir) = scratch {
        if keep {
            eprintln!("network kept in {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

/// `door`: a scratch one-validator network, the measurement, the report.
fn door(spec: &clearhouse_testnet::door::DoorSpec, out: &std::path::Path) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("clearhouse-door-{}", std::process::id()));
    let mut generated = Spec::new(dir.clone());
    generated.validators = 1;
    generated.accounts_per_bank = 4;
    let testnet = generate(&generated).map_err(|e| e.to_string())?;
    let mut children = Vec::new();
    let result = (|| {
        children = start_all(&testnet)?;
        let node = testnet.nodes.first().ok_or("no node")?;
        let chain_id = testnet.genesis.chain_id().map_err(|e| e.to_string())?;
        let auditor =
            clearhouse_node::keyfile::read(&testnet.auditor_key).map_err(|e| e.to_string())?;
        let probe = clearhouse_node::api::auth::RequestSigner::new(auditor, chain_id, &node.name);
        let payments = clearhouse_testnet::door::DoorPayments::for_testnet(&testnet, spec)?;
        let report = clearhouse_testnet::door::run(
            spec,
            &node.api_url(),
            node.config.api,
            &probe,
            &payments,
        )?;
        println!("{}", report.table);
        std::fs::write(
            out,
            serde_json::to_string_pretty(&report.json).unwrap_or_default(),
        )
        .map_err(|e| format!("{}: {e}", out.display()))?;
        println!("report written to {}", out.display());
        Ok(())
    })();
    stop(&mut children);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Reads back a network written by an earlier `up` (with the banks
/// `add-bank` added to it).
fn reopen(dir: &std::path::Path) -> Result<Testnet, String> {
    Testnet::open(dir).map_err(|e| e.to_string())
}

/// Starts a `clearhouse-node` process per node of `testnet` and waits
/// until each serves its API; on any failure, stops those it started.
fn start_all(testnet: &Testnet) -> Result<Vec<(String, Child)>, String> {
    let binary = node_binary().map_err(|e| e.to_string())?;
    let agent = testnet
        .agent(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let mut children: Vec<(String, Child)> = Vec::new();
    for node in &testnet.nodes {
        match spawn_node(&binary, node) {
            Ok(child) => children.push((node.name.clone(), child)),
            Err(error) => {
                stop(&mut children);
                return Err(error.to_string());
            }
        }
    }
    for (node, (_, child)) in testnet.nodes.iter().zip(children.iter_mut()) {
        if let Err(error) = wait_ready(&agent, node, child) {
            stop(&mut children);
            return Err(error);
        }
    }
    Ok(children)
}

/// Waits until the node serves its API; fails at once if it exits.
fn wait_ready(agent: &ureq::Agent, node: &NodeFiles, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("{}/v1/status", node.api_url());
    let log = node.config_path.with_file_name("node.log");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = text.lines().last().unwrap_or("").to_owned();
            return Err(format!(
                "{} exited ({status}): {last}\n(full log: {})",
                node.name,
                log.display()
            ));
        }
        if agent
            .get(&url)
            .call()
            .is_ok_and(|answer| answer.status().is_success())
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{} did not start within 30 s; see {}",
        node.name,
        log.display()
    ))
}

/// Asks each node to stop (SIGTERM), waits, then kills what is left.
fn stop(children: &mut Vec<(String, Child)>) {
    for (_, child) in children.iter() {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for (name, child) in children.iter_mut() {
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    eprintln!("{name} did not stop in time; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
    children.clear();
}

fn print_table(testnet: &Testnet, quotes: &[clearhouse_testnet::quotes::DemoQuote]) {
    println!(
        "\nClearhouse testnet: {} nodes on 127.0.0.1 (chain {})\n",
        testnet.nodes.len(),
        testnet.genesis.chain_name
    );
    println!(
        "{:<12} {:<10} {:<28} {:<22} ASSET",
        "NODE", "ROLE", "API", "P2P"
    );
    for (i, node) in testnet.nodes.iter().enumerate() {
        let role = match node.config.role {
            clearhouse_node::config::Role::Validator => "validator",
            clearhouse_node::config::Role::Observer => "observer",
        };
        let added = testnet.added.iter().find(|b| b.record.name == node.name);
        let asset = match added {
            Some(bank) => bank.record.asset.as_deref().unwrap_or("-"),
            None if node.config.role == clearhouse_node::config::Role::Validator => {
                clearhouse_testnet::ASSETS
                    .get(i)
                    .map(|(code, _)| *code)
                    .unwrap_or("-")
            }
            None => "-",
        };
        println!(
            "{:<12} {:<10} {:<28} {:<22} {}",
            node.name,
            role,
            node.api_url(),
            node.config.listen.to_string(),
            asset
        );
    }
    let api = testnet
        .nodes
        .first()
        .map(NodeFiles::api_url)
        .unwrap_or_default();
    let account = testnet
        .accounts
        .first()
        .map(|a| a.account.to_hex())
        .unwrap_or_default();
    println!(
        "\nDemo accounts: {} (key files in {}), each opened with {} of every asset.",
        testnet.accounts.len(),
        testnet.dir.join("keys").display(),
        clearhouse_testnet::OPENING_UNITS
    );
    let key = testnet
        .accounts
        .first()
        .map(|a| a.key_file.display().to_string())
        .unwrap_or_default();
    let to = testnet
        .accounts
        .get(1)
        .map(|a| a.account.to_hex())
        .unwrap_or_default();
    let asset = clearhouse_testnet::ASSETS[0].0;
    let bank_api = testnet
        .bank_api_keys
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let auditor = testnet.auditor_key.display().to_string();
    println!(
        "\nWho may read what: an account its own data (--auth-key its key), a bank its customers' \
         (--auth-key {bank_api}), the auditor and the regulator everything (--auth-key {auditor}, \
         --auth-key {}). Transaction commands sign with --key.",
        testnet.regulator_key.display()
    );
    println!(
        "\nWith the clearhouse CLI (target/release/clearhouse; from this folder it finds the network by itself):"
    );
    println!("  export CLEARHOUSE_NODE={api}");
    if let Some(ca) = &testnet.ca_cert {
        println!("  export CLEARHOUSE_CA_CERT={}", ca.display());
    }
    println!("  clearhouse status --auth-key {bank_api}");
    println!("  clearhouse account show {account} --auth-key {key}");
    println!("  clearhouse transfer --key {key} --to {to} --amount \"12.50 {asset}\" --wait");
    println!(
        "  clearhouse transfer --key {key} --to {to} --amount \"99.00 {asset}\" --end-to-end-id INV-2026-118 --reference \"invoice 118\" --wait"
    );
    println!("  clearhouse tx find --end-to-end-id INV-2026-118 --auth-key {bank_api}");
    println!(
        "  clearhouse escrow open --key {key} --to {to} --amount \"250.00 {asset}\" --arbiter bank-0 --order \"order 1\" --wait"
    );
    println!(
        "  clearhouse escrow release --key {key} --escrow <hash printed by escrow open> --wait"
    );
    // A cross-currency example: pay a customer of bank 1 in its asset
    // from this account's first asset, through bank 1's quote.
    let payee_abroad = testnet.accounts.iter().find(|a| a.bank == "bank-1");
    let quote = testnet.accounts.first().zip(payee_abroad).and_then(|_| {
        quotes
            .iter()
            .find(|q| q.from == asset && q.to == clearhouse_testnet::ASSETS[1].0)
    });
    if let (Some(payee), Some(quote)) = (payee_abroad, quote) {
        println!("  clearhouse quote list --pair {}/{}", quote.from, quote.to);
        println!(
            "  clearhouse transfer --key {key} --to {} --amount \"100.00 {asset}\" --via {} --end-to-end-id FX-2026-1 --wait",
            payee.account.to_hex(),
            quote.id.to_hex()
        );
        println!(
            "  clearhouse swap propose --key {key} --with {} --give \"70.00 {asset}\" --take \"9.50 {}\" --counter-key {} --wait",
            payee.account.to_hex(),
            quote.to,
            payee.key_file.display()
        );
    }
    println!("  clearhouse credit show {account} --auth-key {bank_api}");
    println!("  clearhouse block show latest --auth-key {auditor}");
    println!(
        "  clearhouse audit verify --genesis {} --auth-key {auditor}",
        testnet.genesis_path.display()
    );
    println!(
        "\nOr over HTTP (public routes; private ones need a signed request, see \"Who may call what\" in README.md):"
    );
    let curl = match &testnet.ca_cert {
        Some(ca) => format!("curl -s --cacert {}", ca.display()),
        None => "curl -s".to_owned(),
    };
    println!("  {curl} {api}/v1/status");
    println!("  {curl} {api}/v1/blocks/latest");
    println!("  {curl} {api}/metrics");
    println!(
        "\nLogs: {}/<node>/node.log   Stop: Ctrl-C",
        testnet.dir.display()
    );
}
