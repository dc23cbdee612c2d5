//! The `clearhouse` command-line tool: keys, transactions, queries and audit.
//!
//! Modules: [`cli`] (clap definitions), [`commands`] (what each command
//! does), [`client`] (the commands' HTTP client: typed errors over ureq),
//! [`amount`] (human amounts such as `12.50 CNY`), [`output`] (aligned
//! tables, JSON), [`defaults`] (where the node and genesis are when not
//! given), [`exit`] (the error type and its exit codes), [`tls`] (how an `https`
//! node is trusted) and [`audit`] (verification from genesis, export,
//! inclusion proofs).
//!
//! The CLI links neither libp2p nor tokio: it uses `clearhouse-node`
//! without its `server` feature, for key files, config and the API's
//! typed request and response shapes (`clearhouse_node::api::dto`).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod amount;
pub mod audit;
pub mod cli;
pub mod client;
pub mod commands;
pub mod defaults;
pub mod exit;
pub mod iso20022;
pub mod output;

pub use clearhouse_node::api::trust as tls;

pub use exit::CliError;

/// Runs the command line `args` (program name first) and returns the
/// process exit code; failures are printed as one line on stderr.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let result = cli::parse(args).and_then(|parsed| match parsed {
        Some(parsed) => commands::run(parsed),
        None => Ok(()),
    });
    match result {
        Ok(()) => exit::EXIT_OK,
        Err(error) => {
            eprintln!("clearhouse: {}", error.one_line());
            error.exit_code()
        }
    }
}
