//! The CLI's one error type and its exit codes.
//!
//! Every failure becomes one [`CliError`]; `main` prints it as a single
//! line on stderr (`clearhouse: <message>`) and exits with
//! [`CliError::exit_code`]. The codes are part of the CLI's public surface:
//! scripts branch on them, so a code never changes meaning.

/// Success.
pub const EXIT_OK: u8 = 0;
/// An unexpected or internal error (a malformed answer, a node failure).
pub const EXIT_INTERNAL: u8 = 1;
/// A bad argument or usage: unknown flag, invalid amount, asset, account,
/// hash or key file. (clap uses 2 for usage errors too.)
pub const EXIT_USAGE: u8 = 2;
/// The node could not be reached (connection refused, timeout).
pub const EXIT_UNREACHABLE: u8 = 3;
/// The transaction was rejected: refused by the node with a 4xx, or
/// committed with outcome `rejected`.
pub const EXIT_REJECTED: u8 = 4;
/// Not found: unknown account, block or transaction.
pub const EXIT_NOT_FOUND: u8 = 5;
/// `audit` verification failed.
pub const EXIT_AUDIT_FAILED: u8 = 6;
/// `--wait` timed out before the transaction reached a final state.
pub const EXIT_WAIT_TIMED_OUT: u8 = 7;
/// The node refused the caller: the request was unsigned where a
/// signature is needed, its signature was bad, stale, replayed or by a key
/// the chain does not know (HTTP 401), or it asked for what is outside the
/// caller's scope (HTTP 403).
pub const EXIT_DENIED: u8 = 8;

/// The exit-code table as shown in `clearhouse --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  unexpected or internal error
  2  bad argument or usage (also an invalid amount, asset, account, hash or key file)
  3  node unreachable (connection refused or timed out)
  4  transaction rejected (refused by the node with a 4xx, or committed with outcome rejected)
  5  not found (unknown account, block or transaction)
  6  audit verification failed
  7  --wait timed out before the transaction was committed or rejected
  8  refused: not signed, bad or unknown --auth-key (HTTP 401), or outside its scope (HTTP 403)
Every failure prints exactly one line on stderr: `clearhouse: <message>`.";

/// Why a command failed; each variant has its own exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Exit 1: unexpected or internal.
    #[error("{0}")]
    Internal(String),
    /// Exit 2: bad argument or usage.
    #[error("{0}")]
    Usage(String),
    /// Exit 3: the node could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// Exit 4: the transaction was rejected.
    #[error("{0}")]
    Rejected(String),
    /// Exit 5: what was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Exit 6: audit verification failed.
    #[error("{0}")]
    AuditFailed(String),
    /// Exit 7: `--wait` gave up before a final state.
    #[error("{0}")]
    WaitTimedOut(String),
    /// Exit 8: the node refused the caller (401 or 403).
    #[error("{0}")]
    Denied(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Internal(_) => EXIT_INTERNAL,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Unreachable(_) => EXIT_UNREACHABLE,
            CliError::Rejected(_) => EXIT_REJECTED,
            CliError::NotFound(_) => EXIT_NOT_FOUND,
            CliError::AuditFailed(_) => EXIT_AUDIT_FAILED,
            CliError::WaitTimedOut(_) => EXIT_WAIT_TIMED_OUT,
            CliError::Denied(_) => EXIT_DENIED,
        }
    }

    /// The message, flattened to one line (stderr carries exactly one).
    pub fn one_line(&self) -> String {
        self.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let errors = [
            CliError::Internal(String::new()),
            CliError::Usage(String::new()),
            CliError::Unreachable(String::new()),
            CliError::Rejected(String::new()),
            CliError::NotFound(String::new()),
            CliError::AuditFailed(String::new()),
            CliError::WaitTimedOut(String::new()),
            CliError::Denied(String::new()),
        ];
        let mut codes: Vec<u8> = errors.iter().map(CliError::exit_code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn one_line_flattens() {
        let error = CliError::Usage("a\n  b\tc".into());
        assert_eq!(error.one_line(), "a b c");
    }
}
