//! The HTTP client: every request the CLI makes to a node goes through
//! [`Client`], which turns transport failures and the node's error bodies
//! (`{"error": {"code", "message"}}`) into a typed [`ClientError`].
//!
//! It does not interpret answers beyond that: the JSON shapes belong to the
//! node (`node::api`), and commands read the fields they need.

use std::time::Duration;

use serde_json::{Value, json};

use clearhouse_ledger::{AccountId, Hash, SignedTransaction};

use crate::exit::CliError;

/// How long one request may take end to end. Longer than the longest
/// `wait_ms` the CLI asks for ([`WAIT_MS_PER_POLL`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one transaction-status poll asks the node to wait for a final
/// state.
pub const WAIT_MS_PER_POLL: u64 = 5_000;

/// Most bytes of one JSON answer (a full block can be large).
pub const ANSWER_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused, reset or timed out, host unknown.
    #[error("node {url} is unreachable: {reason}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The URL itself is unusable.
    #[error("invalid node URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node answered with an error status.
    #[error("{message} ({code}, HTTP {status})")]
    Http {
        /// HTTP status.
        status: u16,
        /// The node's stable error code (empty if the body had none).
        code: String,
        /// The node's message.
        message: String,
    },
    /// The answer was not what a node sends.
    #[error("malformed answer from {url}: {reason}")]
    Malformed {
        /// The URL asked.
        url: String,
        /// Why.
        reason: String,
    },
}

impl From<ClientError> for CliError {
    /// The default mapping: unreachable → 3, 404 → 5, 400 → 2, other 4xx →
    /// 4 (they only arise from submissions), anything else → 1.
    fn from(error: ClientError) -> CliError {
        match &error {
            ClientError::Unreachable { .. } => CliError::Unreachable(error.to_string()),
            ClientError::BadUrl { .. } => CliError::Usage(error.to_string()),
            ClientError::Http {
                status: 404,
                message,
                ..
            } => CliError::NotFound(message.clone()),
            ClientError::Http { status: 400, .. } => CliError::Usage(error.to_string()),
            ClientError::Http { status, .. } if (400..500).contains(status) => {
                CliError::Rejected(error.to_string())
            }
            ClientError::Http { .. } | ClientError::Malformed { .. } => {
                CliError::Internal(error.to_string())
            }
        }
    }
}

/// A node's API at one base URL.
pub struct Client {
    base_url: String,
    agent: ureq::Agent,
}

/// What a submission answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Accepted into the mempool (202), or already there.
    Pending,
    /// Seen before and final (200): the transaction-status object.
    Final(Value),
}

impl Client {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8000`; `http://` is
    /// assumed when no scheme is given).
    pub fn new(base_url: &str) -> Client {
        let trimmed = base_url.trim().trim_end_matches('/');
        let base_url = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .new_agent();
        Client { base_url, agent }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<Value, ClientError> {
        self.get("/v1/status")
    }

    /// `GET /v1/accounts/{account}`; `None` if the account is not registered.
    pub fn account(&self, account: &AccountId) -> Result<Option<Value>, ClientError> {
        match self.get(&format!("/v1/accounts/{}", account.to_hex())) {
            Ok(value) => Ok(Some(value)),
            Err(ClientError::Http { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /v1/transactions/{hash}?wait_ms=N`: the node answers at once
    /// when the state is final, else after at most `wait_ms`.
    pub fn transaction(&self, hash: &Hash, wait_ms: u64) -> Result<Value, ClientError> {
        self.get(&format!(
            "/v1/transactions/{}?wait_ms={wait_ms}",
            hash.to_hex()
        ))
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<Value, ClientError> {
        self.get(&format!("/v1/blocks/{height}"))
    }

    /// `GET /v1/blocks/latest`.
    pub fn latest_block(&self) -> Result<Value, ClientError> {
        self.get("/v1/blocks/latest")
    }

    /// `POST /v1/transactions`. Resubmitting the same bytes is idempotent:
    /// the node answers pending (202) or the final state (200).
    pub fn submit(&self, transaction: &SignedTransaction) -> Result<Submitted, ClientError> {
        let bytes = transaction.encode().map_err(|e| ClientError::Malformed {
            url: self.base_url.clone(),
            reason: format!("cannot encode the transaction: {e}"),
        })?;
        let (status, value) = self.post(
            "/v1/transactions",
            &json!({"transaction": hex::encode(bytes)}),
        )?;
        if status == 200 {
            Ok(Submitted::Final(value))
        } else {
            Ok(Submitted::Pending)
        }
    }

    /// `GET path`, the JSON answer of a 2xx.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| transport_error(&url, e))?;
        answer(&url, response).map(|(_, value)| value)
    }

    /// `POST path` with a JSON body: the status and JSON answer of a 2xx.
    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), ClientError> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| transport_error(&url, e))?;
        answer(&url, response)
    }
}

fn answer(
    url: &str,
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<(u16, Value), ClientError> {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(ANSWER_BYTES_MAX)
        .read_to_string()
        .map_err(|e| transport_error(url, e))?;
    let value: Option<Value> = serde_json::from_str(&text).ok();
    if (200..300).contains(&status) {
        return value
            .map(|v| (status, v))
            .ok_or_else(|| ClientError::Malformed {
                url: url.to_owned(),
                reason: format!("HTTP {status} without a JSON body"),
            });
    }
    let error = value.as_ref().map(|v| &v["error"]);
    let field = |name: &str| error.and_then(|e| e[name].as_str()).map(str::to_owned);
    Err(ClientError::Http {
        status,
        code: field("code").unwrap_or_default(),
        message: field("message").unwrap_or_else(|| {
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text.chars().take(200).collect()
            }
        }),
    })
}

fn transport_error(url: &str, error: ureq::Error) -> ClientError {
    match error {
        ureq::Error::BadUri(reason) => ClientError::BadUrl {
            url: url.to_owned(),
            reason,
        },
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Tls(_) => ClientError::Unreachable {
            url: url.to_owned(),
            reason: error.to_string(),
        },
        other => ClientError::Malformed {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_a_scheme_and_loses_its_slash() {
        assert_eq!(
            Client::new("127.0.0.1:8000/").base_url(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            Client::new("https://n.example").base_url(),
            "https://n.example"
        );
    }

    #[test]
    fn http_errors_map_to_exit_codes() {
        let http = |status| ClientError::Http {
            status,
            code: "x".into(),
            message: "m".into(),
        };
        assert_eq!(CliError::from(http(404)).exit_code(), 5);
        assert_eq!(CliError::from(http(400)).exit_code(), 2);
        assert_eq!(CliError::from(http(422)).exit_code(), 4);
        assert_eq!(CliError::from(http(500)).exit_code(), 1);
        let unreachable = ClientError::Unreachable {
            url: "u".into(),
            reason: "r".into(),
        };
        assert_eq!(CliError::from(unreachable).exit_code(), 3);
    }
}
