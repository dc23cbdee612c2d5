//! The HTTP client: every request the CLI makes to a node goes through
//! [`Client`], which turns transport failures and the node's error bodies
//! (`{"error": {"code", "message"}}`) into a typed [`ClientError`].
//!
//! Answers are the node's own types (`clearhouse_node::api::dto`,
//! deserialized here), so a command reads fields, never JSON by string; an
//! answer that does not fit its type is [`ClientError::Malformed`]. Exit
//! codes follow the node's typed [`ErrorCode`].

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use std::sync::OnceLock;

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::{AccountId, Hash, SignedTransaction};
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::dto::{
    self, Account, Block, Credit, ErrorCode, Escrow, NodeStatus, TransactionStatus, TxState,
};

use crate::exit::CliError;
use crate::tls::Trust;

/// How long one request may take end to end. Longer than the longest
/// `wait_ms` the CLI asks for ([`WAIT_MS_PER_POLL`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one transaction-status poll asks the node to wait for a final
/// state.
pub const WAIT_MS_PER_POLL: u64 = 5_000;

/// Most bytes of one JSON answer (a full block can be large).
pub const ANSWER_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// How long a snapshot download may take.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(600);

/// Most bytes of a snapshot download.
pub const SNAPSHOT_BYTES_MAX: u64 = 64 * 1024 * 1024 * 1024;

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
    #[error("{message} ({}, HTTP {status})", code_name(code.as_ref()))]
    Http {
        /// HTTP status.
        status: u16,
        /// The node's stable error code (`None` if the body had none, or
        /// one this build does not know).
        code: Option<ErrorCode>,
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

fn code_name(code: Option<&ErrorCode>) -> &'static str {
    code.map_or("no code", |code| code.as_str())
}

impl ClientError {
    /// Whether the node answered with `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        matches!(self, ClientError::Http { code: Some(c), .. } if *c == code)
    }
}

impl From<ClientError> for CliError {
    /// The default mapping: unreachable → 3; by the node's error code, what
    /// does not exist → 5, malformed input → 2, a refused transaction → 4,
    /// the node's trouble → 1. An error without a code known to this build
    /// falls back on its HTTP status the same way (404 or 410 → 5, 400 → 2, other
    /// 4xx → 4, anything else → 1).
    fn from(error: ClientError) -> CliError {
        match &error {
            ClientError::Unreachable { .. } => CliError::Unreachable(error.to_string()),
            ClientError::BadUrl { .. } => CliError::Usage(error.to_string()),
            ClientError::Http {
                code: Some(code),
                message,
                ..
            } => match exit_class(*code) {
                ExitClass::NotFound => CliError::NotFound(message.clone()),
                ExitClass::Denied if *code == ErrorCode::Unauthenticated => {
                    CliError::Denied(format!(
                        "{error}; sign the request with --auth-key FILE (an account's, a bank's \
                     API, an auditor's or a regulator's key)"
                    ))
                }
                ExitClass::Denied => CliError::Denied(error.to_string()),
                ExitClass::Usage => CliError::Usage(error.to_string()),
                ExitClass::Rejected => CliError::Rejected(error.to_string()),
                ExitClass::Internal => CliError::Internal(error.to_string()),
            },
            ClientError::Http {
                status: 404 | 410,
                message,
                ..
            } => CliError::NotFound(message.clone()),
            ClientError::Http { status: 400, .. } => CliError::Usage(error.to_string()),
            ClientError::Http {
                status: 401 | 403, ..
            } => CliError::Denied(error.to_string()),
            // 408 and 429 are the node's trouble, not the request's: try again.
            ClientError::Http {
                status: 408 | 429, ..
            } => CliError::Internal(error.to_string()),
            ClientError::Http { status, .. } if (400..500).contains(status) => {
                CliError::Rejected(error.to_string())
            }
            ClientError::Http { .. } | ClientError::Malformed { .. } => {
                CliError::Internal(error.to_string())
            }
        }
    }
}

/// Which exit a node error leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitClass {
    NotFound,
    Denied,
    Usage,
    Rejected,
    Internal,
}

/// Every code the node sends, decided here: a new code does not compile
/// until it has an exit.
fn exit_class(code: ErrorCode) -> ExitClass {
    match code {
        ErrorCode::NotFound
        | ErrorCode::UnknownAccount
        | ErrorCode::UnknownEscrow
        | ErrorCode::UnknownQuote
        | ErrorCode::UnknownAsset
        | ErrorCode::UnknownProposal
        | ErrorCode::UnknownBlock
        | ErrorCode::NoBlocks
        | ErrorCode::UnknownTransaction
        | ErrorCode::NotHeld
        | ErrorCode::FutureHeight => ExitClass::NotFound,
        ErrorCode::MalformedJson
        | ErrorCode::UnreadableBody
        | ErrorCode::MalformedTransaction
        | ErrorCode::MalformedBatch
        | ErrorCode::BadHash
        | ErrorCode::BadAccount
        | ErrorCode::BadHeight
        | ErrorCode::BadQuery => ExitClass::Usage,
        ErrorCode::Duplicate
        | ErrorCode::NonceUsed
        | ErrorCode::NoncePending
        | ErrorCode::BodyTooLarge
        | ErrorCode::BatchTooLarge
        | ErrorCode::WrongChain
        | ErrorCode::BadSignature
        | ErrorCode::Expired
        | ErrorCode::UnknownSender
        | ErrorCode::NonceTooFarAhead => ExitClass::Rejected,
        ErrorCode::MempoolFull
        | ErrorCode::ShuttingDown
        | ErrorCode::SnapshotBusy
        | ErrorCode::ReplayCacheFull
        | ErrorCode::TooManyConnections
        | ErrorCode::RateLimited
        | ErrorCode::RequestTimeout
        | ErrorCode::Internal => ExitClass::Internal,
        ErrorCode::Unauthenticated
        | ErrorCode::BadAuthorization
        | ErrorCode::BadRequestSignature
        | ErrorCode::StaleRequest
        | ErrorCode::ReplayedRequest
        | ErrorCode::UnknownCaller
        | ErrorCode::OutOfScope => ExitClass::Denied,
    }
}

/// A node's API at one base URL.
pub struct Client {
    base_url: String,
    agent: ureq::Agent,
    /// The key requests are signed with, if any.
    key: Option<Keypair>,
    /// How an https node's certificate is checked (built once, shared by
    /// the snapshot download's longer-lived agent).
    tls: ureq::tls::TlsConfig,
    /// Its signer, made on the first signed request (it needs the node's
    /// chain id and name, from the public `/v1/status`).
    signer: OnceLock<RequestSigner>,
}

/// What a submission answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Accepted into the mempool (202), or already there.
    Pending,
    /// Seen before and final (200): the transaction's status.
    Final(Box<TransactionStatus>),
}

impl Client {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8000`; `http://` is
    /// assumed when no scheme is given).
    pub fn new(base_url: &str) -> Client {
        Client::signed(base_url, None)
    }

    /// A client that signs every request with `key` (see
    /// `clearhouse_node::api::auth`); unsigned when `None`.
    pub fn signed(base_url: &str, key: Option<Keypair>) -> Client {
        Client::trusting(base_url, key, Trust::default())
    }

    /// A client that signs with `key` and checks an https node's
    /// certificate against `trust`.
    pub fn trusting(base_url: &str, key: Option<Keypair>, trust: Trust) -> Client {
        let trimmed = base_url.trim().trim_end_matches('/');
        let base_url = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let tls = trust.config(&base_url);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .tls_config(tls.clone())
            .build()
            .new_agent();
        Client {
            base_url,
            agent,
            key,
            tls,
            signer: OnceLock::new(),
        }
    }

    /// The public key requests are signed with.
    pub fn auth_key(&self) -> Option<AccountId> {
        self.key.as_ref().map(Keypair::account)
    }

    /// The signer, `None` for an unsigned client.
    fn signer(&self) -> Result<Option<&RequestSigner>, ClientError> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        if let Some(signer) = self.signer.get() {
            return Ok(Some(signer));
        }
        let status: NodeStatus = self.send("GET", "/v1/status", None, None)?.1;
        let chain_id = Hash::from_hex(&status.chain_id).map_err(|e| ClientError::Malformed {
            url: self.base_url.clone(),
            reason: format!("status with a bad chain_id: {e}"),
        })?;
        let signer = RequestSigner::new(Keypair::from_seed(&key.seed()), chain_id, &status.node);
        Ok(Some(self.signer.get_or_init(|| signer)))
    }

    /// One request: `GET` without a body, or `POST` with a JSON one,
    /// signed when the client has a key.
    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        signer: Option<&RequestSigner>,
    ) -> Result<(u16, T), ClientError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 0;
        loop {
            // Signed afresh each time: the node refuses a replayed header.
            let authorization =
                signer.map(|s| s.header(method, path, body.as_deref().unwrap_or_default()));
            let response = match &body {
                None => {
                    let mut request = self.agent.get(&url);
                    if let Some(value) = &authorization {
                        request = request.header("authorization", value);
                    }
                    request.call()
                }
                Some(bytes) => {
                    let mut request = self
                        .agent
                        .post(&url)
                        .header("content-type", "application/json");
                    if let Some(value) = &authorization {
                        request = request.header("authorization", value);
                    }
                    request.send(&bytes[..])
                }
            }
            .map_err(|e| transport_error(&url, e))?;
            // Over the caller's rate: wait as the node asks and try again
            // (every request the CLI makes is safe to repeat: reads, and
            // submissions of the same signed bytes).
            if let Some(wait) = retry_after(&response)
                && attempt < RATE_LIMIT_RETRIES
            {
                attempt += 1;
                std::thread::sleep(wait);
                continue;
            }
            return answer(&url, response);
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<NodeStatus, ClientError> {
        self.get("/v1/status")
    }

    /// `GET /v1/accounts/{account}`; `None` if the account is not registered.
    pub fn account(&self, account: &AccountId) -> Result<Option<Account>, ClientError> {
        self.optional(
            &format!("/v1/accounts/{}", account.to_hex()),
            ErrorCode::UnknownAccount,
        )
    }

    /// `GET /v1/assets/{code}`; `None` if there is no such asset.
    pub fn asset(&self, code: &str) -> Result<Option<dto::Asset>, ClientError> {
        self.optional(&format!("/v1/assets/{code}"), ErrorCode::UnknownAsset)
    }

    /// `GET /v1/escrows/{id}`; `None` if there is no such escrow.
    pub fn escrow(&self, id: &Hash) -> Result<Option<Escrow>, ClientError> {
        self.optional(
            &format!("/v1/escrows/{}", id.to_hex()),
            ErrorCode::UnknownEscrow,
        )
    }

    /// `GET /v1/quotes[?pair=FROM/TO]`: live quotes, best first.
    pub fn quotes(&self, pair: Option<&str>) -> Result<dto::Quotes, ClientError> {
        match pair {
            Some(pair) => self.get(&format!("/v1/quotes?pair={pair}")),
            None => self.get("/v1/quotes"),
        }
    }

    /// `GET /v1/quotes/{id}`; `None` if no live quote has this id.
    pub fn quote(&self, id: &Hash) -> Result<Option<dto::Quote>, ClientError> {
        self.optional(
            &format!("/v1/quotes/{}", id.to_hex()),
            ErrorCode::UnknownQuote,
        )
    }

    /// `GET /v1/governance/proposals[?status=S&limit=N]`: proposals, newest
    /// proposed first.
    pub fn proposals(
        &self,
        status: Option<dto::ProposalFilter>,
        limit: Option<usize>,
    ) -> Result<dto::Proposals, ClientError> {
        let mut query = Vec::new();
        if let Some(status) = status {
            query.push(format!("status={status}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if query.is_empty() {
            self.get("/v1/governance/proposals")
        } else {
            self.get(&format!("/v1/governance/proposals?{}", query.join("&")))
        }
    }

    /// `GET /v1/governance/proposals/{id}`; `None` if no proposal has this id.
    pub fn proposal(&self, id: &Hash) -> Result<Option<dto::Proposal>, ClientError> {
        self.optional(
            &format!("/v1/governance/proposals/{}", id.to_hex()),
            ErrorCode::UnknownProposal,
        )
    }

    /// `GET /v1/validators[?height=H]`: the set certifying block `height`
    /// (the tip without it); `future_height` above the tip.
    pub fn validators(&self, height: Option<u64>) -> Result<dto::ValidatorSetAt, ClientError> {
        match height {
            None => self.get("/v1/validators"),
            Some(height) => self.get(&format!("/v1/validators?height={height}")),
        }
    }

    /// `GET /v1/validators/changes`, every page: each validator set the
    /// chain recorded, oldest first (the tip is the first page's).
    pub fn validator_changes(&self) -> Result<dto::ValidatorSetChanges, ClientError> {
        let mut all: dto::ValidatorSetChanges = self.get("/v1/validators/changes")?;
        while let Some(from) = all.next_from.take() {
            let page: dto::ValidatorSetChanges =
                self.get(&format!("/v1/validators/changes?from={from}"))?;
            // A page must move on, or a confused node would loop us.
            if page.changes.first().is_none_or(|c| c.from_height < from) {
                break;
            }
            all.changes.extend(page.changes);
            all.next_from = page.next_from;
        }
        Ok(all)
    }

    /// `GET /v1/credit/{account}`; `None` if the account is not registered.
    pub fn credit(&self, account: &AccountId) -> Result<Option<Credit>, ClientError> {
        self.optional(
            &format!("/v1/credit/{}", account.to_hex()),
            ErrorCode::UnknownAccount,
        )
    }

    /// `GET /v1/transactions/{hash}?wait_ms=N`: the node answers at once
    /// when the state is final, else after at most `wait_ms`.
    pub fn transaction(&self, hash: &Hash, wait_ms: u64) -> Result<TransactionStatus, ClientError> {
        self.get(&format!(
            "/v1/transactions/{}?wait_ms={wait_ms}",
            hash.to_hex()
        ))
    }

    /// `GET /v1/transactions?end_to_end_id=…`: the committed payments
    /// carrying `end_to_end_id` that the caller may see, newest first.
    pub fn find_transactions(
        &self,
        end_to_end_id: &str,
        limit: usize,
    ) -> Result<dto::TransactionSearch, ClientError> {
        self.get(&format!(
            "/v1/transactions?end_to_end_id={}&limit={limit}",
            percent_encode(end_to_end_id)
        ))
    }

    /// `GET /v1/sealing-keys?from=…&to=…`: whom a payment's data is
    /// sealed for.
    pub fn sealing_keys(
        &self,
        from: &AccountId,
        to: &AccountId,
    ) -> Result<dto::SealingKeys, ClientError> {
        self.get(&format!("/v1/sealing-keys?from={from}&to={to}"))
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<Block, ClientError> {
        self.get(&format!("/v1/blocks/{height}"))
    }

    /// `GET /v1/blocks/latest`.
    pub fn latest_block(&self) -> Result<Block, ClientError> {
        self.get("/v1/blocks/latest")
    }

    /// `POST /v1/transactions`. Resubmitting the same bytes is idempotent:
    /// the node answers pending (202) or the final state (200).
    pub fn submit(&self, transaction: &SignedTransaction) -> Result<Submitted, ClientError> {
        let bytes = transaction.encode().map_err(|e| ClientError::Malformed {
            url: self.base_url.clone(),
            reason: format!("cannot encode the transaction: {e}"),
        })?;
        let request = dto::SubmitRequest {
            transaction: hex::encode(bytes),
        };
        let (status, answer): (u16, TransactionStatus) = self.post("/v1/transactions", &request)?;
        if status == 200 && answer.status != TxState::Pending {
            Ok(Submitted::Final(Box::new(answer)))
        } else {
            Ok(Submitted::Pending)
        }
    }

    /// `GET path`, the answer of a 2xx as a `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let signer = self.signer()?;
        self.send("GET", path, None, signer).map(|(_, value)| value)
    }

    /// `GET path`, `None` when the node answers `missing`.
    fn optional<T: DeserializeOwned>(
        &self,
        path: &str,
        missing: ErrorCode,
    ) -> Result<Option<T>, ClientError> {
        match self.get(path) {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is(missing) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /v1/snapshot` into `out`, streamed (a snapshot is as large as
    /// the state); the number of bytes written. Allowed
    /// [`SNAPSHOT_TIMEOUT`], not the usual request timeout.
    pub fn snapshot_to(&self, out: &mut impl std::io::Write) -> Result<u64, ClientError> {
        let url = format!("{}/v1/snapshot", self.base_url);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(SNAPSHOT_TIMEOUT))
            .tls_config(self.tls.clone())
            .build()
            .new_agent();
        let mut request = agent.get(&url);
        if let Some(signer) = self.signer()? {
            request = request.header("authorization", signer.header("GET", "/v1/snapshot", b""));
        }
        let mut response = request.call().map_err(|e| transport_error(&url, e))?;
        if response.status().as_u16() != 200 {
            return answer::<serde_json::Value>(&url, response).and_then(|(status, _)| {
                Err(ClientError::Malformed {
                    url: url.clone(),
                    reason: format!("HTTP {status} without a snapshot"),
                })
            });
        }
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(SNAPSHOT_BYTES_MAX)
            .reader();
        std::io::copy(&mut reader, out).map_err(|e| ClientError::Unreachable {
            url: url.clone(),
            reason: format!("the snapshot download broke off: {e}"),
        })
    }

    /// `POST path` with a JSON body: the status and answer of a 2xx.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(u16, T), ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Malformed {
            url: format!("{}{path}", self.base_url),
            reason: format!("cannot encode the request: {e}"),
        })?;
        let signer = self.signer()?;
        self.send("POST", path, Some(bytes), signer)
    }
}

/// An error body as loosely as a node may write it: an unknown code keeps
/// its message.
#[derive(serde::Deserialize)]
struct LooseErrorBody {
    error: LooseErrorDetail,
}

#[derive(serde::Deserialize)]
struct LooseErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: Option<String>,
}

fn answer<T: DeserializeOwned>(
    url: &str,
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<(u16, T), ClientError> {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(ANSWER_BYTES_MAX)
        .read_to_string()
        .map_err(|e| transport_error(url, e))?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text)
            .map(|value| (status, value))
            .map_err(|e| ClientError::Malformed {
                url: url.to_owned(),
                reason: format!("HTTP {status}: {e}"),
            });
    }
    let error = serde_json::from_str::<LooseErrorBody>(&text)
        .ok()
        .map(|body| body.error);
    Err(ClientError::Http {
        status,
        code: error.as_ref().and_then(|e| ErrorCode::parse(&e.code)),
        message: error.and_then(|e| e.message).unwrap_or_else(|| {
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text.chars().take(200).collect()
            }
        }),
    })
}

/// How many times a request refused `429 rate_limited` is tried again.
pub const RATE_LIMIT_RETRIES: u32 = 3;

/// The longest `retry-after` the CLI waits out; a longer one is reported.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(5);

/// The wait a `429` answer asks for, if it is one and the wait is short.
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    if response.status().as_u16() != 429 {
        return None;
    }
    let seconds: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.max(1))).filter(|wait| *wait <= RETRY_AFTER_MAX)
}

fn transport_error(url: &str, error: ureq::Error) -> ClientError {
    // A failed certificate check surfaces as an I/O or a TLS error.
    let tls_hint =
        url.starts_with("https://") && matches!(error, ureq::Error::Io(_) | ureq::Error::Tls(_));
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
            reason: if tls_hint {
                format!(
                    "{error} (an https node's certificate is checked against --ca-cert, \
                     else the system's CA bundle)"
                )
            } else {
                error.to_string()
            },
        },
        other => ClientError::Malformed {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// `text` as a query value: every byte but the unreserved ones of RFC 3986
/// as `%XX` (the node decodes it; the request signature covers the encoded
/// query as sent).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_exits_as_its_http_status_class_says() {
        // The typed mapping agrees with the status-based fallback, so a
        // node error exits the same whether or not this build knows it.
        for code in ErrorCode::ALL {
            let expected = match code.http_status() {
                404 | 410 => ExitClass::NotFound,
                400 => ExitClass::Usage,
                401 | 403 => ExitClass::Denied,
                408 | 429 => ExitClass::Internal,
                401..500 => ExitClass::Rejected,
                _ => ExitClass::Internal,
            };
            assert_eq!(exit_class(code), expected, "{code}");
        }
    }

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
        // Without a code known to this build: by HTTP status.
        let http = |status| ClientError::Http {
            status,
            code: None,
            message: "m".into(),
        };
        assert_eq!(CliError::from(http(404)).exit_code(), 5);
        assert_eq!(CliError::from(http(400)).exit_code(), 2);
        assert_eq!(CliError::from(http(422)).exit_code(), 4);
        assert_eq!(CliError::from(http(500)).exit_code(), 1);
        // With a code: by the code, whatever the status says.
        let coded = |code| ClientError::Http {
            status: 418,
            code: Some(code),
            message: "m".into(),
        };
        assert_eq!(
            CliError::from(coded(ErrorCode::UnknownBlock)).exit_code(),
            5
        );
        assert_eq!(CliError::from(coded(ErrorCode::BadHash)).exit_code(), 2);
        assert_eq!(
            CliError::from(coded(ErrorCode::UnknownSender)).exit_code(),
            4
        );
        assert_eq!(CliError::from(coded(ErrorCode::MempoolFull)).exit_code(), 1);
        let unreachable = ClientError::Unreachable {
            url: "u".into(),
            reason: "r".into(),
        };
        assert_eq!(CliError::from(unreachable).exit_code(), 3);
    }
}
