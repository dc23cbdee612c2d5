//! `clearhouse snapshot fetch|verify`: a node's state at a certified
//! height, downloaded and checked here against the genesis, never taken on
//! the node's word.

use std::path::{Path, PathBuf};

use serde_json::json;

use clearhouse_ledger::genesis::Genesis;
use clearhouse_ledger::store::snapshot::{Snapshot, SnapshotError, Verified};

use crate::cli::SnapshotCommand;
use crate::commands::Context;
use crate::defaults;
use crate::exit::CliError;
use crate::output::{Table, print, print_json};

/// Runs a `snapshot` command.
pub fn run(context: &Context, command: SnapshotCommand) -> Result<(), CliError> {
    match command {
        SnapshotCommand::Fetch { out, genesis } => {
            let (_, genesis) = defaults::required_genesis(genesis.as_deref())?;
            fetch(context, &genesis, &out)
        }
        SnapshotCommand::Verify { file, genesis } => {
            let (_, genesis) = defaults::required_genesis(genesis.as_deref())?;
            let (snapshot, verified, bytes) = check(&genesis, &file)?;
            report(context, &file, &snapshot, &verified, bytes);
            Ok(())
        }
    }
}

/// Downloads into `{out}.part`, checks it, and only then renames it to
/// `out`: a file at `out` is always a verified snapshot.
fn fetch(context: &Context, genesis: &Genesis, out: &Path) -> Result<(), CliError> {
    let client = context.client()?;
    let mut part = out.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let written = (|| {
        let mut file = std::fs::File::create(&part)
            .map_err(|e| CliError::Usage(format!("{}: {e}", part.display())))?;
        client.snapshot_to(&mut file)?;
        file.sync_all()
            .map_err(|e| CliError::Internal(format!("{}: {e}", part.display())))?;
        check(genesis, &part)
    })();
    let (snapshot, verified, bytes) = match written {
        Ok(checked) => checked,
        Err(error) => {
            let _ = std::fs::remove_file(&part);
            return Err(error);
        }
    };
    std::fs::rename(&part, out)
        .map_err(|e| CliError::Internal(format!("{}: {e}", out.display())))?;
    report(context, out, &snapshot, &verified, bytes);
    Ok(())
}

/// Reads and verifies the snapshot at `path`: a damaged or uncertified
/// snapshot is an audit failure (exit 6).
fn check(genesis: &Genesis, path: &Path) -> Result<(Snapshot, Verified, u64), CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let bytes = file
        .metadata()
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?
        .len();
    let refused = |e: SnapshotError| match e {
        SnapshotError::Io(_) => CliError::Internal(format!("{}: {e}", path.display())),
        _ => CliError::AuditFailed(format!("{}: {e}", path.display())),
    };
    let snapshot = Snapshot::read_from(file).map_err(refused)?;
    let verified = snapshot.verify(genesis).map_err(refused)?;
    Ok((snapshot, verified, bytes))
}

fn report(context: &Context, path: &Path, snapshot: &Snapshot, verified: &Verified, bytes: u64) {
    let signers = verified.certificate.votes.len();
    if context.json {
        print_json(&json!({
            "file": path.display().to_string(),
            "height": snapshot.height,
            "block_hash": verified.block_hash.to_hex(),
            "state_root": verified.state_root.to_hex(),
            "entries": snapshot.entries.len(),
            "bytes": bytes,
            "signers": signers,
            "verified": true,
        }));
    } else {
        let mut table = Table::key_values();
        table
            .field("file", path.display().to_string())
            .field("height", snapshot.height.to_string())
            .field("block", verified.block_hash.to_hex())
            .field("state root", verified.state_root.to_hex())
            .field("entries", snapshot.entries.len().to_string())
            .field("bytes", bytes.to_string())
            .field(
                "verified",
                format!(
                    "certificate of {signers} validators over a quorum of the genesis set; \
                     state entries hash to the certified state root"
                ),
            );
        print(&table.render());
    }
}
