//! `clearhouse-node --config FILE`: runs a validator or observer node until
//! Ctrl-C (or SIGTERM), then stops cleanly. See `node/example-config.toml`.
//!
//! `--from-snapshot FILE` starts a new node's store from a snapshot (`GET
//! /v1/snapshot` of a running node, or `clearhouse snapshot fetch`) instead
//! of replaying the chain from genesis. Exit codes: 0 stopped cleanly, 1 a
//! failure while running or starting, 2 a refused configuration or
//! snapshot (the data directory already holds a store, the snapshot is
//! damaged or not certified for the configured genesis).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the C library's allocator: a node allocates and frees
/// small buffers per payment (decoding, execution, sled's page cache), and
/// glibc's malloc/free took about a tenth of a loaded node's CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs a Clearhouse validator or observer node.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The node's TOML configuration file.
    #[arg(long, env = "CLEARHOUSE_NODE_CONFIG")]
    config: PathBuf,
    /// Start the store from this snapshot file (checked against the
    /// genesis) instead of from genesis; the data directory must not hold
    /// a store yet.
    #[arg(long, value_name = "FILE")]
    from_snapshot: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let config = match clearhouse_node::config::NodeConfig::read(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("clearhouse-node: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(file) = &args.from_snapshot {
        match clearhouse_node::import_snapshot(&config, file) {
            Ok(height) => {
                tracing::info!(height, file = %file.display(), "store started from the snapshot")
            }
            Err(error) => {
                eprintln!(
                    "clearhouse-node: --from-snapshot {}: {error}",
                    file.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    let node = match clearhouse_node::start(config).await {
        Ok(node) => node,
        Err(error) => {
            eprintln!("clearhouse-node: {error}");
            return ExitCode::from(1);
        }
    };
    let stop = async {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    match node.wait_for_stop(stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("clearhouse-node: stopped: {error}");
            ExitCode::from(1)
        }
    }
}
