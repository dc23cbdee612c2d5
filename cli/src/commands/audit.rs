//! `clearhouse audit verify|export|proof`: the wiring only. The checks live
//! in [`crate::audit`]; this module resolves the flags, draws the progress
//! bar, prints the summary and maps [`AuditError`] to exit codes
//! (`Failed` → 6, `Unreachable` → 3, `Source` → 1).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde_json::{Value, json};

use clearhouse_ledger::genesis::Genesis;

use crate::audit::{self, AuditError, ChainSource, ProofReport, Summary};
use crate::cli::AuditCommand;
use crate::client::Client;
use crate::commands::{Context, parse_hash};
use crate::defaults;
use crate::exit::CliError;
use crate::output::{Table, print, print_json};

/// Runs an `audit` command.
pub fn run(context: &Context, command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify {
            genesis,
            data_dir,
            file,
        } => {
            let (_, genesis) = defaults::required_genesis(genesis.as_deref())?;
            let source = match (data_dir, file) {
                (Some(dir), _) => ChainSource::DataDir(dir),
                (None, Some(file)) => ChainSource::File(file),
                (None, None) => ChainSource::Node {
                    url: context.node_url()?,
                    auth: context.auth_key()?.map(std::sync::Arc::new),
                    trust: context.trust()?,
                },
            };
            verify(context, &genesis, &source)
        }
        AuditCommand::Export { out } => export(context, &out),
        AuditCommand::Proof { hash, genesis } => {
            let hash = parse_hash(&hash, "transaction hash")?;
            let (_, genesis) = defaults::required_genesis(genesis.as_deref())?;
            let url = context.node_url()?;
            // Only a committed transaction has a proof: say "not found"
            // (exit 5) for anything else, like `tx show`.
            let trust = context.trust()?;
            let status =
                Client::trusting(&url, context.auth_key()?, trust.clone()).transaction(&hash, 0)?;
            if !status.status.is_final() {
                return Err(CliError::NotFound(format!(
                    "transaction {hash} is not committed (the node says {})",
                    status.status
                )));
            }
            let node = audit::NodeApi::connect(&url, context.auth_key()?.as_ref(), &trust)
                .map_err(audit_error)?;
            let report = audit::proof(&genesis, &node, &hash).map_err(audit_error)?;
            print_proof(context, &report);
            Ok(())
        }
    }
}

/// How an audit failure exits.
pub fn audit_error(error: AuditError) -> CliError {
    match error {
        AuditError::Failed { .. } => CliError::AuditFailed(format!("audit failed at {error}")),
        AuditError::Unreachable(_) => CliError::Unreachable(error.to_string()),
        AuditError::Source(_) => CliError::Internal(error.to_string()),
        AuditError::Denied(_) => CliError::Denied(error.to_string()),
    }
}

fn verify(context: &Context, genesis: &Genesis, source: &ChainSource) -> Result<(), CliError> {
    let progress = Progress::new("verifying");
    let result = audit::verify(genesis, source, &mut |done, total| {
        progress.update(done, total);
    });
    progress.finish();
    let summary = result.map_err(audit_error)?;
    if context.json {
        print_json(&summary_json(genesis, &summary));
    } else {
        print(&summary_table(genesis, &summary).render());
    }
    Ok(())
}

fn export(context: &Context, out: &Path) -> Result<(), CliError> {
    let url = context.node_url()?;
    let node = audit::NodeApi::connect(&url, context.auth_key()?.as_ref(), &context.trust()?)
        .map_err(audit_error)?;
    let progress = Progress::new("exporting");
    let result = audit::export(&node, out, &mut |done, total| {
        progress.update(done, total);
    });
    progress.finish();
    let blocks = result.map_err(audit_error)?;
    if context.json {
        print_json(&json!({"file": out.display().to_string(), "blocks": blocks}));
    } else {
        let mut table = Table::key_values();
        table
            .field("file", out.display().to_string())
            .field("blocks", blocks.to_string());
        print(&table.render());
    }
    Ok(())
}

fn print_proof(context: &Context, report: &ProofReport) {
    if context.json {
        print_json(&json!({
            "tx_hash": report.tx_hash.to_hex(),
            "height": report.height,
            "index": report.index,
            "block_hash": report.block_hash.to_hex(),
            "outcome": report.outcome,
            "validator_set_hash": report.set_hash.to_hex(),
            "validator_set_from": report.set_from,
            "verified": true,
        }));
    } else {
        let mut table = Table::key_values();
        table
            .field("transaction", report.tx_hash.to_hex())
            .field("height", report.height.to_string())
            .field("index", report.index.to_string())
            .field("block", report.block_hash.to_hex())
            .field("outcome", report.outcome.clone())
            .field("proof", "verified against the certified header")
            .field(
                "certified by",
                format!(
                    "validator set {} (in force from height {})",
                    report.set_hash.to_hex(),
                    report.set_from
                ),
            );
        print(&table.render());
    }
}

/// Per-second rate, 0 when no time passed.
fn rate(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        // Precision loss above 2^53 blocks is irrelevant for a rate.
        #[allow(clippy::cast_precision_loss)]
        let count = count as f64;
        count / seconds
    } else {
        0.0
    }
}

/// The `--json` summary of `audit verify`.
pub fn summary_json(genesis: &Genesis, summary: &Summary) -> Value {
    let elapsed_ms = u64::try_from(summary.elapsed.as_millis()).unwrap_or(u64::MAX);
    let supply: Vec<Value> = summary
        .supply
        .iter()
        .map(|(asset, amount)| {
            let decimals = genesis.assets.get(asset).map(|a| a.decimals);
            json!({
                "asset": asset.as_str(),
                "minor_units": amount.0.to_string(),
                "amount": decimals.map(|d| amount.to_decimal_string(d)),
            })
        })
        .collect();
    json!({
        "chain_id": summary.chain_id.to_hex(),
        "blocks": summary.blocks,
        "transactions": summary.transactions,
        "validators": summary.validators,
        "validator_sets": summary
            .sets
            .iter()
            .map(|(from, hash)| json!({"from_height": from, "set_hash": hash.to_hex()}))
            .collect::<Vec<Value>>(),
        "elapsed_ms": elapsed_ms,
        "blocks_per_sec": rate(summary.blocks, summary.elapsed),
        "transactions_per_sec": rate(summary.transactions, summary.elapsed),
        "state_root": summary.state_root.to_hex(),
        "supply": supply,
    })
}

fn summary_table(genesis: &Genesis, summary: &Summary) -> Table {
    let mut table = Table::key_values();
    table
        .field("result", "verified")
        .field("chain id", summary.chain_id.to_hex())
        .field("blocks", summary.blocks.to_string())
        .field("transactions", summary.transactions.to_string())
        .field("validators", summary.validators.to_string())
        .field("elapsed", format!("{:.2} s", summary.elapsed.as_secs_f64()))
        .field(
            "blocks/s",
            format!("{:.1}", rate(summary.blocks, summary.elapsed)),
        )
        .field(
            "transactions/s",
            format!("{:.1}", rate(summary.transactions, summary.elapsed)),
        )
        .field("state root", summary.state_root.to_hex());
    for (from, hash) in &summary.sets {
        table.field(
            &format!("validator set from {from}"),
            format!("{} (certificates checked)", hash.to_hex()),
        );
    }
    for (asset, amount) in &summary.supply {
        let text = match genesis.assets.get(asset) {
            Some(state) => crate::amount::format(*amount, state.decimals, asset.as_str()),
            None => format!("{} minor units of {}", amount.0, asset.as_str()),
        };
        table.field(&format!("supply {}", asset.as_str()), text);
    }
    table
}

/// A progress bar on stderr with blocks/s, drawn only when stderr is a
/// terminal (never in pipes, logs or tests).
struct Progress {
    bar: Option<ProgressBar>,
    has_length: std::cell::Cell<bool>,
}

impl Progress {
    fn new(message: &'static str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {pos} blocks, {rate}")
            {
                bar.set_style(style.with_key("rate", write_rate));
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            has_length: std::cell::Cell::new(false),
        }
    }

    fn update(&self, done: u64, total: Option<u64>) {
        let Some(bar) = &self.bar else {
            return;
        };
        if let Some(total) = total {
            if !self.has_length.get() {
                self.has_length.set(true);
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} blocks, {rate}, eta {eta}",
                ) {
                    bar.set_style(style.with_key("rate", write_rate));
                }
            }
            bar.set_length(total);
        }
        bar.set_position(done);
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn write_rate(state: &ProgressState, out: &mut dyn std::fmt::Write) {
    let _ = write!(out, "{:.0} blocks/s", state.per_sec());
}
