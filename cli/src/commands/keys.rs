//! `clearhouse keys new|show`: key files in the node's format
//! (`clearhouse_node::keyfile`: TOML with `kind`, `public_key`,
//! `secret_seed`, mode 0600).

use std::path::Path;

use serde_json::json;

use clearhouse_ledger::crypto::Keypair;
use clearhouse_node::keyfile::{self, KeyFileError};

use crate::cli::KeysCommand;
use crate::commands::Context;
use crate::exit::CliError;
use crate::output::{Table, print, print_json};

/// Runs a `keys` command.
pub fn run(context: &Context, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::New { out } => new(context, &out),
        KeysCommand::Show { file } => show(context, &file),
    }
}

fn new(context: &Context, out: &Path) -> Result<(), CliError> {
    if out.exists() {
        return Err(CliError::Usage(format!(
            "{} already exists; refusing to overwrite a key file",
            out.display()
        )));
    }
    let key = Keypair::from_seed(&rand::random::<[u8; 32]>());
    keyfile::write(out, &key).map_err(|e| match e {
        KeyFileError::Io { error, .. } if error.kind() == std::io::ErrorKind::AlreadyExists => {
            CliError::Usage(format!(
                "{} already exists; refusing to overwrite a key file",
                out.display()
            ))
        }
        KeyFileError::Io { path, error } => {
            CliError::Usage(format!("cannot write {}: {error}", path.display()))
        }
        other => CliError::Internal(other.to_string()),
    })?;
    describe(context, out, &key);
    Ok(())
}

fn show(context: &Context, file: &Path) -> Result<(), CliError> {
    let key = read_key(file)?;
    describe(context, file, &key);
    Ok(())
}

/// Reads a key file; any problem with it is a bad argument (exit 2).
pub fn read_key(file: &Path) -> Result<Keypair, CliError> {
    keyfile::read(file).map_err(|e| CliError::Usage(format!("key file {e}")))
}

fn describe(context: &Context, file: &Path, key: &Keypair) {
    let public_key = key.account().to_hex();
    if context.json {
        print_json(&json!({
            "file": file.display().to_string(),
            "public_key": public_key,
            "account": public_key,
        }));
    } else {
        let mut table = Table::key_values();
        table
            .field("file", file.display().to_string())
            .field("public key", public_key.clone())
            .field("account", public_key);
        print(&table.render());
    }
}
