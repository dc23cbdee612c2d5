//! The router, the error type and the OpenAPI document (feature `server`).
//!
//! Every route is listed once, in [`routes`]; [`ApiDoc`] lists the same
//! handlers for the document, and a test holds the two lists equal, so a
//! route cannot be served undocumented. An error is an [`ErrorCode`] and a
//! message; its HTTP status comes from [`ErrorCode::http_status`], the one
//! place that pairs them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use tokio::sync::{mpsc, watch};

use clearhouse_ledger::ChainId;
use clearhouse_ledger::store::Store;
use clearhouse_ledger::tx::TxError;
use clearhouse_ledger::validators::ValidatorSet;

use super::access::{self, Access, Gate, ROLES};
use super::batch::WireBatchError;
use super::dto::{self, ErrorCode};
use super::front::{self, FrontDoor, RateLimiter};
use super::handlers;
use crate::config::{Limits, Role};
use crate::driver::{Command, Status};
use crate::mempool::AdmitError;
use crate::metrics::Metrics;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The node's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The chain.
    pub chain_id: ChainId,
    /// Reads.
    pub store: Store,
    /// The validators at the node's start (`/v1/status` reads the set in
    /// force from the store: governance changes it).
    pub validators: ValidatorSet,
    /// Commands to the driver.
    pub commands: mpsc::Sender<Command>,
    /// The driver's status.
    pub status: watch::Receiver<Status>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Bounds.
    pub limits: Limits,
    /// One snapshot written at a time (a permit each).
    pub snapshots: Arc<tokio::sync::Semaphore>,
    /// Who may call, and the nonces seen.
    pub gate: Arc<Gate>,
    /// How fast each caller may ask.
    pub limiter: Arc<RateLimiter>,
}

/// One route: its path, its method, who may call it and its handler.
pub struct Route {
    /// The path pattern.
    pub path: &'static str,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Who may call it (enforced before the handler).
    pub access: Access,
    /// The handler.
    pub handler: MethodRouter<ApiState>,
}

fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    handler: MethodRouter<ApiState>,
) -> Route {
    Route {
        path,
        method,
        access,
        handler,
    }
}

/// Every route the API serves, with who may call it and its handler: the
/// one list the router is built from (and that the OpenAPI test compares
/// with [`ApiDoc`], and the README's access table is checked against).
pub fn routes() -> Vec<Route> {
    use Access::{Filtered, Members, Overseers, Public, Scoped, Submit};
    vec![
        route("GET", "/v1/status", Public, get(handlers::status)),
        route("POST", "/v1/transactions", Submit, post(handlers::submit)),
        route(
            "GET",
            "/v1/transactions",
            Scoped,
            get(handlers::find_transactions),
        ),
        route(
            "GET",
            "/v1/sealing-keys",
            Scoped,
            get(handlers::sealing_keys),
        ),
        route(
            "POST",
            "/v1/transactions/batch",
            Submit,
            post(handlers::submit_batch),
        ),
        route(
            "GET",
            "/v1/transactions/{hash}",
            Scoped,
            get(handlers::transaction),
        ),
        route(
            "GET",
            "/v1/accounts/{account}",
            Scoped,
            get(handlers::account),
        ),
        route("GET", "/v1/assets/{code}", Public, get(handlers::asset)),
        route("GET", "/v1/quotes", Public, get(handlers::quotes)),
        route("GET", "/v1/quotes/{id}", Public, get(handlers::quote)),
        route(
            "GET",
            "/v1/governance/proposals",
            Public,
            get(handlers::proposals),
        ),
        route(
            "GET",
            "/v1/governance/proposals/{id}",
            Public,
            get(handlers::proposal),
        ),
        route("GET", "/v1/validators", Public, get(handlers::validators)),
        route(
            "GET",
            "/v1/validators/changes",
            Public,
            get(handlers::validator_changes),
        ),
        route("GET", "/v1/escrows/{id}", Scoped, get(handlers::escrow)),
        route("GET", "/v1/credit/{account}", Scoped, get(handlers::credit)),
        route(
            "GET",
            "/v1/blocks/latest",
            Filtered,
            get(handlers::latest_block),
        ),
        route("GET", "/v1/blocks/{height}", Filtered, get(handlers::block)),
        route(
            "GET",
            "/v1/blocks/{height}/certificate",
            Public,
            get(handlers::certificate),
        ),
        route(
            "GET",
            "/v1/blocks/{height}/receipts",
            Filtered,
            get(handlers::block_receipts),
        ),
        route("GET", "/v1/chain", Overseers, get(handlers::chain)),
        route(
            "GET",
            "/v1/proofs/transactions/{hash}",
            Scoped,
            get(handlers::transaction_proof),
        ),
        route("GET", "/v1/snapshot", Members, get(handlers::snapshot)),
        route("GET", "/v1/openapi.json", Public, get(handlers::openapi)),
        route("GET", "/metrics", Public, get(handlers::metrics)),
    ]
}

/// The README's access table, from [`routes`]: one row per route, one
/// column per role in [`access::ROLES`].
pub fn access_table() -> String {
    let mut out = format!("| Route | {} |\n|---|", ROLES.join(" | "));
    out.push_str(&"---|".repeat(ROLES.len()));
    out.push('\n');
    for r in routes() {
        let cells: Vec<&str> = ROLES.iter().map(|role| r.access.grants(role)).collect();
        out.push_str(&format!(
            "| `{} {}` | {} |\n",
            r.method,
            r.path,
            cells.join(" | ")
        ));
    }
    out
}

/// The router.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.limits.api_body_bytes_max;
    routes()
        .into_iter()
        .fold(Router::new(), |router, r| {
            let access = r.access;
            router.route(
                r.path,
                r.handler
                    .route_layer(axum::middleware::from_fn(move |request, next| {
                        access::require(access, request, next)
                    })),
            )
        })
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves the API until `shutdown` flips, within the front door's bounds
/// (see [`front`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let door = FrontDoor {
        connections_max: state.limits.api_connections_max,
        header_timeout: std::time::Duration::from_millis(state.limits.api_header_timeout_ms),
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
    };
    let metrics = state.metrics.clone();
    front::serve(listener, router(state), door, metrics, shutdown).await
}

/// The address the API listens on, once bound.
pub type ApiAddress = SocketAddr;

/// The API's OpenAPI document, generated from the handlers' annotations
/// and the [`dto`] types (`GET /v1/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Clearhouse node API",
        description = "A Clearhouse node's HTTP API. Errors are `{\"error\": {\"code\", \"message\"}}` with the status their code implies; hashes, keys and bytes are hex; amounts are strings."
    ),
    paths(
        handlers::status,
        handlers::submit,
        handlers::submit_batch,
        handlers::find_transactions,
        handlers::sealing_keys,
        handlers::transaction,
        handlers::account,
        handlers::asset,
        handlers::quotes,
        handlers::quote,
        handlers::proposals,
        handlers::proposal,
        handlers::validators,
        handlers::validator_changes,
        handlers::escrow,
        handlers::credit,
        handlers::latest_block,
        handlers::block,
        handlers::certificate,
        handlers::block_receipts,
        handlers::chain,
        handlers::transaction_proof,
        handlers::snapshot,
        handlers::openapi,
        handlers::metrics,
    ),
    components(schemas(dto::ErrorCode, dto::ErrorBody))
)]
pub struct ApiDoc;

/// An API error: a stable code and a human message.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// Its code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The `{"code", "message"}` part (a batch result carries it alone).
    pub fn detail(self) -> dto::ErrorDetail {
        dto::ErrorDetail {
            code: self.code,
            message: self.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = dto::ErrorBody {
            error: self.detail(),
        };
        (status, Json(body)).into_response()
    }
}

/// A body extractor's rejection: `body_too_large` for a 413, or `otherwise`.
fn body_rejection(status: StatusCode, text: String, otherwise: ErrorCode) -> ApiError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ErrorCode::BodyTooLarge
    } else {
        otherwise
    };
    ApiError::new(code, text)
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        body_rejection(
            rejection.status(),
            rejection.body_text(),
            ErrorCode::MalformedJson,
        )
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> ApiError {
        body_rejection(
            rejection.status(),
            rejection.body_text(),
            ErrorCode::UnreadableBody,
        )
    }
}

impl From<WireBatchError> for ApiError {
    fn from(error: WireBatchError) -> ApiError {
        let code = match error {
            WireBatchError::TooMany { .. } => ErrorCode::BatchTooLarge,
            WireBatchError::CutLength { .. }
            | WireBatchError::CutTransaction { .. }
            | WireBatchError::TooLong { .. } => ErrorCode::MalformedBatch,
        };
        ApiError::new(code, error.to_string())
    }
}

/// The node's own failure.
pub(super) fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, error.to_string())
}

/// The code of a refused transaction.
pub fn admit_error(error: &AdmitError) -> ApiError {
    let code = match error {
        AdmitError::Invalid(TxError::Codec(_)) => ErrorCode::MalformedTransaction,
        AdmitError::Invalid(TxError::WrongChain { .. }) => ErrorCode::WrongChain,
        AdmitError::Invalid(TxError::Signature(_) | TxError::BadConsent) => ErrorCode::BadSignature,
        AdmitError::Duplicate(_) => ErrorCode::Duplicate,
        AdmitError::Expired { .. } => ErrorCode::Expired,
        AdmitError::UnknownSender(_) => ErrorCode::UnknownSender,
        AdmitError::StaleNonce { .. } => ErrorCode::NonceUsed,
        AdmitError::NonceTooFarAhead { .. } => ErrorCode::NonceTooFarAhead,
        AdmitError::NonceTaken(_) => ErrorCode::NoncePending,
        AdmitError::Full => ErrorCode::MempoolFull,
        AdmitError::State(_) => ErrorCode::Internal,
    };
    ApiError::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::OpenApi;

    use super::*;

    #[test]
    fn every_served_route_is_in_the_openapi_document_and_nothing_else() {
        let served: BTreeSet<String> = routes().iter().map(|r| r.path.to_owned()).collect();
        let documented: BTreeSet<String> = ApiDoc::openapi().paths.paths.into_keys().collect();
        assert_eq!(served, documented);
    }

    #[test]
    fn the_document_names_every_error_code() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
        let codes: BTreeSet<&str> = codes
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let expected: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes, expected);
    }

    #[test]
    fn every_error_code_has_a_valid_http_status() {
        for code in ErrorCode::ALL {
            let status = StatusCode::from_u16(code.http_status()).unwrap();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}"
            );
        }
    }
}
