//! What each command does: [`run`] dispatches a parsed [`Cli`] to
//! [`keys`], [`transaction`], [`query`], [`audit`], [`snapshot`],
//! [`governance`], [`validators`] and the others below.
//!
//! Commands print their result to stdout (a table, or JSON with `--json`)
//! and return a [`CliError`] for `main` to print and exit with. A command
//! that fails after learning something worth keeping (a rejected receipt)
//! prints it first, then returns the error.

pub mod audit;
pub mod credit;
pub mod escrow;
pub mod fx;
pub mod governance;
pub mod iso20022;
pub mod keys;
pub mod query;
pub mod snapshot;
pub mod transaction;
pub mod validators;

use crate::cli::{AccountCommand, BlockCommand, Cli, Command, TxCommand};
use crate::client::Client;
use crate::exit::CliError;

/// What every command may need: output mode and the node.
pub struct Context {
    /// Print JSON instead of tables.
    pub json: bool,
    node_flag: Option<String>,
    auth_key: Option<std::path::PathBuf>,
    ca_cert: Option<std::path::PathBuf>,
}

impl Context {
    /// The context of a parsed command line.
    pub fn new(cli: &Cli) -> Context {
        Context {
            json: cli.json,
            node_flag: cli.node.clone(),
            auth_key: cli.auth_key.clone(),
            ca_cert: cli.ca_cert.clone(),
        }
    }

    /// The node's URL, resolved only when a command needs it (see
    /// [`crate::defaults::node_url`]).
    pub fn node_url(&self) -> Result<String, CliError> {
        crate::defaults::node_url(self.node_flag.as_deref())
    }

    /// A client for the node, signing with `--auth-key` if given.
    pub fn client(&self) -> Result<Client, CliError> {
        self.client_or(None)
    }

    /// A client signing with `--auth-key`, else with `default` (a
    /// transaction command's `--key`), else unsigned.
    pub fn client_or(&self, default: Option<&std::path::Path>) -> Result<Client, CliError> {
        let key = match self.auth_key.as_deref().or(default) {
            Some(file) => Some(keys::read_key(file)?),
            None => None,
        };
        Ok(Client::trusting(&self.node_url()?, key, self.trust()?))
    }

    /// How an https node is trusted (see [`crate::tls`]); exit 2 for an
    /// unusable `--ca-cert`.
    pub fn trust(&self) -> Result<crate::tls::Trust, CliError> {
        let ca_cert = crate::defaults::ca_cert(self.ca_cert.as_deref(), self.node_flag.as_deref());
        crate::tls::Trust::load(ca_cert.as_deref()).map_err(CliError::Usage)
    }

    /// The `--auth-key` key, if given.
    pub fn auth_key(&self) -> Result<Option<clearhouse_ledger::crypto::Keypair>, CliError> {
        self.auth_key.as_deref().map(keys::read_key).transpose()
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let context = Context::new(&cli);
    match cli.command {
        Command::Keys(command) => keys::run(&context, command),
        Command::Transfer(args) => transaction::transfer(&context, &args),
        Command::Issue(args) => transaction::issue(&context, &args),
        Command::Redeem(args) => transaction::redeem(&context, &args),
        Command::Escrow(command) => escrow::run(&context, command),
        Command::Credit(command) => credit::run(&context, command),
        Command::Swap(command) => fx::swap(&context, command),
        Command::Quote(command) => fx::quote(&context, command),
        Command::Governance(command) => governance::run(&context, command),
        Command::Account(AccountCommand::Register { account, options }) => {
            transaction::register_account(&context, &account, &options)
        }
        Command::Account(AccountCommand::Show { account }) => query::account(&context, &account),
        Command::Tx(TxCommand::Show { hash }) => query::transaction(&context, &hash),
        Command::Tx(TxCommand::Find {
            end_to_end_id,
            limit,
        }) => query::find_transactions(&context, &end_to_end_id, usize::from(limit)),
        Command::Block(BlockCommand::Show { height }) => query::block(&context, &height),
        Command::Status => query::status(&context),
        Command::Audit(command) => audit::run(&context, command),
        Command::Snapshot(command) => snapshot::run(&context, command),
        Command::Iso20022(command) => iso20022::run(&context, command),
        Command::Validators(args) => validators::run(&context, &args),
    }
}

/// Parses an account id given on the command line (exit 2 if malformed).
pub fn parse_account(text: &str, what: &str) -> Result<clearhouse_ledger::AccountId, CliError> {
    clearhouse_ledger::AccountId::from_hex(text.trim())
        .map_err(|e| CliError::Usage(format!("invalid {what}: {e}")))
}

/// A reference hash: 64 hex digits given as `hex`, or the SHA-256 of `text`.
pub fn reference_hash(
    hex: Option<&str>,
    text: Option<&str>,
    what: &str,
) -> Result<clearhouse_ledger::Hash, CliError> {
    match (hex, text) {
        (Some(hex), None) => parse_hash(hex, what),
        (None, Some(text)) => Ok(clearhouse_ledger::crypto::sha256(&[text.as_bytes()])),
        _ => Err(CliError::Usage(format!(
            "give the {what} as a hash or as text, not both"
        ))),
    }
}

/// Parses a hash given on the command line (exit 2 if malformed).
pub fn parse_hash(text: &str, what: &str) -> Result<clearhouse_ledger::Hash, CliError> {
    clearhouse_ledger::Hash::from_hex(text.trim())
        .map_err(|e| CliError::Usage(format!("invalid {what}: {e}")))
}
