//! The HTTP JSON API (axum): the only HTTP/JSON code, with the JSON shapes
//! converted explicitly from ledger types.
//!
//! Errors are `{"error": {"code": "...", "message": "..."}}` with a fitting
//! status: 400 for malformed input, 404 for what does not exist, 409 for a
//! duplicate or used nonce, 413 for an oversized body, 422 for a well-formed
//! transaction that cannot be accepted (bad signature, wrong chain, expired,
//! unknown sender), 503 when the mempool is full, 500 for the node's own
//! failures. Amounts are strings (they exceed JSON's safe integers).
//! Resubmitting a transaction returns its existing outcome (202 pending,
//! 200 final); a transaction id never seen is `200 {"status": "unknown"}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use clearhouse_ledger::block::Block;
use clearhouse_ledger::state::{AccountState, Outcome, Receipt, RejectReason};
use clearhouse_ledger::store::Store;
use clearhouse_ledger::tx::{Body, TxError};
use clearhouse_ledger::validators::ValidatorSet;
use clearhouse_ledger::{AccountId, Amount, AssetCode, ChainId, Hash, SignedTransaction};

use crate::config::{Limits, Role};
use crate::driver::{Command, Status};
use crate::mempool::{AdmitError, Verified, on_all_cores};
use crate::metrics::{CheckSource, Metrics};
use crate::views;

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
    /// The validators.
    pub validators: ValidatorSet,
    /// Commands to the driver.
    pub commands: mpsc::Sender<Command>,
    /// The driver's status.
    pub status: watch::Receiver<Status>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Bounds.
    pub limits: Limits,
}

/// The router.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.limits.api_body_bytes_max;
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/transactions", post(submit))
        .route("/v1/transactions/batch", post(submit_batch))
        .route("/v1/transactions/{hash}", get(transaction))
        .route("/v1/accounts/{account}", get(account))
        .route("/v1/escrows/{id}", get(escrow))
        .route("/v1/credit/{account}", get(credit))
        .route("/v1/blocks/latest", get(latest_block))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/blocks/{height}/certificate", get(certificate))
        .route("/v1/blocks/{height}/receipts", get(block_receipts))
        .route("/v1/chain", get(chain))
        .route("/v1/proofs/transactions/{hash}", get(transaction_proof))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves the API until `shutdown` flips.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await
}

/// An API error: status, stable code, human message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// A body extractor's rejection: 413 `body_too_large`, or `otherwise`.
fn body_rejection(status: StatusCode, text: String, otherwise: &'static str) -> ApiError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        otherwise
    };
    ApiError::new(status, code, text)
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        body_rejection(rejection.status(), rejection.body_text(), "malformed_json")
    }
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        error.to_string(),
    )
}

/// The status and code for a refused transaction.
pub fn admit_error(error: &AdmitError) -> ApiError {
    let (status, code) = match error {
        AdmitError::Invalid(TxError::Codec(_)) => {
            (StatusCode::BAD_REQUEST, "malformed_transaction")
        }
        AdmitError::Invalid(TxError::WrongChain { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "wrong_chain")
        }
        AdmitError::Invalid(TxError::Signature(_)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "bad_signature")
        }
        AdmitError::Duplicate(_) => (StatusCode::CONFLICT, "duplicate"),
        AdmitError::Expired { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "expired"),
        AdmitError::UnknownSender(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_sender"),
        AdmitError::StaleNonce { .. } => (StatusCode::CONFLICT, "nonce_used"),
        AdmitError::NonceTooFarAhead { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "nonce_too_far_ahead")
        }
        AdmitError::NonceTaken(_) => (StatusCode::CONFLICT, "nonce_pending"),
        AdmitError::Full => (StatusCode::SERVICE_UNAVAILABLE, "mempool_full"),
        AdmitError::State(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    ApiError::new(status, code, error.to_string())
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_hash", e.to_string()))
}

fn decode_hex(text: &str) -> Result<Vec<u8>, ApiError> {
    hex::decode(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_transaction",
            format!("transaction is not hex: {e}"),
        )
    })
}

async fn status(State(state): State<ApiState>) -> Json<Value> {
    let status = state.status.borrow().clone();
    let validators: Vec<Value> = state
        .validators
        .validators()
        .iter()
        .map(|v| json!({"member": v.member.as_str(), "key": v.key.to_hex(), "voting_power": v.voting_power}))
        .collect();
    Json(json!({
        "chain_id": state.chain_id.to_hex(),
        "node": state.name,
        "role": match state.role { Role::Validator => "validator", Role::Observer => "observer" },
        "height": status.height,
        "latest_block_hash": status.block_hash.to_hex(),
        "state_root": status.state_root.to_hex(),
        "round": status.round,
        "validators": validators,
        "peers": status.peers.iter().map(|p| hex::encode(p.0)).collect::<Vec<_>>(),
        "mempool_size": status.mempool_size,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// The signed transaction's wire bytes, hex.
    transaction: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    /// Signed transactions' wire bytes, hex.
    transactions: Vec<String>,
}

/// Decodes and checks the signatures of wire transactions off the async
/// threads (on the blocking pool, the batch split over the cores), so the
/// driver's admission is left with the cheap state checks.
async fn verify_off_loop(
    chain_id: ChainId,
    transactions: Vec<Vec<u8>>,
) -> Vec<Result<Verified, AdmitError>> {
    // The check task panicked or was cancelled: its share is unreadable.
    let failed = || {
        Err(AdmitError::State(
            clearhouse_ledger::state::ViewError::Storage("signature check task failed".into()),
        ))
    };
    let count = transactions.len();
    tokio::task::spawn_blocking(move || {
        on_all_cores(
            transactions,
            |chunk| Verified::decode_and_check_batch(&chunk, &chain_id),
            failed,
        )
    })
    .await
    .unwrap_or_else(|_| (0..count).map(|_| failed()).collect())
}

async fn send_to_driver(
    state: &ApiState,
    transactions: Vec<Vec<u8>>,
) -> Result<Vec<Result<Hash, AdmitError>>, ApiError> {
    state
        .metrics
        .add_signature_checks(CheckSource::Api, transactions.len());
    let transactions = verify_off_loop(state.chain_id, transactions).await;
    let (reply, answer) = oneshot::channel();
    state
        .commands
        .send(Command::Submit {
            transactions,
            reply,
        })
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the node is stopping",
            )
        })?;
    answer.await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is stopping",
        )
    })
}

async fn submit(
    State(state): State<ApiState>,
    body: Result<Json<SubmitBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let bytes = decode_hex(&body.transaction)?;
    let id = SignedTransaction::decode(&bytes)
        .ok()
        .and_then(|tx| tx.id().ok());
    let mut results = send_to_driver(&state, vec![bytes]).await?;
    match results.pop() {
        Some(Ok(hash)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"hash": hash.to_hex(), "status": "pending"})),
        )),
        Some(Err(error)) => match existing_outcome(&state, id, &error).await? {
            Some(answer) => Ok(answer),
            None => Err(admit_error(&error)),
        },
        None => Err(internal("no result from the driver")),
    }
}

/// Resubmitting a transaction returns its existing outcome: pending (202)
/// or final (200), instead of an error, so a client may resend the same
/// bytes until it sees a final state.
async fn existing_outcome(
    state: &ApiState,
    id: Option<Hash>,
    error: &AdmitError,
) -> Result<Option<(StatusCode, Json<Value>)>, ApiError> {
    let Some(id) = id else {
        return Ok(None);
    };
    match error {
        AdmitError::Duplicate(_) => Ok(Some((
            StatusCode::ACCEPTED,
            Json(json!({"hash": id.to_hex(), "status": "pending"})),
        ))),
        AdmitError::StaleNonce { .. } | AdmitError::Expired { .. } => {
            let (value, is_final) = transaction_status(state, &id).await?;
            Ok(is_final.then_some((StatusCode::OK, Json(value))))
        }
        _ => Ok(None),
    }
}

/// The media type of a binary batch body ([`frame_wire_batch`]); any
/// other body of `POST /v1/transactions/batch` is JSON.
pub const WIRE_BATCH_MEDIA_TYPE: &str = "application/octet-stream";

/// Why a binary batch body does not split into transactions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireBatchError {
    /// More transactions than one batch may hold.
    #[error("at most {most} transactions per batch")]
    TooMany {
        /// The most allowed.
        most: usize,
    },
    /// The body ends inside a length prefix.
    #[error("transaction {index}: the body ends inside its 4-byte length")]
    CutLength {
        /// The transaction's position in the batch.
        index: usize,
    },
    /// The body ends inside a transaction.
    #[error("transaction {index} declares {declared} bytes, {remaining} remain")]
    CutTransaction {
        /// The transaction's position in the batch.
        index: usize,
        /// Its declared length.
        declared: usize,
        /// The bytes left in the body.
        remaining: usize,
    },
    /// A transaction too long for a 4-byte length (framing only).
    #[error("transaction {index} is longer than a 4-byte length can say")]
    TooLong {
        /// The transaction's position in the batch.
        index: usize,
    },
}

/// A binary batch body: each transaction's wire bytes after its length as
/// a 4-byte little-endian integer, one after another. It spares the
/// node the hex and JSON of the JSON form (the answer is JSON either way).
pub fn frame_wire_batch<'a>(
    transactions: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, WireBatchError> {
    let mut body = Vec::new();
    for (index, transaction) in transactions.into_iter().enumerate() {
        let len =
            u32::try_from(transaction.len()).map_err(|_| WireBatchError::TooLong { index })?;
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(transaction);
    }
    Ok(body)
}

/// Splits a binary batch body ([`frame_wire_batch`]) into at most `most`
/// transactions' wire bytes. Each is then decoded and checked on its own,
/// as in the JSON form.
pub fn split_wire_batch(mut body: &[u8], most: usize) -> Result<Vec<&[u8]>, WireBatchError> {
    let mut transactions = Vec::with_capacity(most.min(body.len() / 4));
    while !body.is_empty() {
        let index = transactions.len();
        let (len, rest) = body
            .split_first_chunk::<4>()
            .ok_or(WireBatchError::CutLength { index })?;
        if index == most {
            return Err(WireBatchError::TooMany { most });
        }
        let declared = u32::from_le_bytes(*len) as usize;
        if declared > rest.len() {
            return Err(WireBatchError::CutTransaction {
                index,
                declared,
                remaining: rest.len(),
            });
        }
        let (transaction, rest) = rest.split_at(declared);
        transactions.push(transaction);
        body = rest;
    }
    Ok(transactions)
}

impl From<WireBatchError> for ApiError {
    fn from(error: WireBatchError) -> ApiError {
        match error {
            WireBatchError::TooMany { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                error.to_string(),
            ),
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_batch",
                error.to_string(),
            ),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> ApiError {
        body_rejection(rejection.status(), rejection.body_text(), "unreadable_body")
    }
}

fn is_wire_batch(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case(WIRE_BATCH_MEDIA_TYPE)
        })
}

async fn submit_batch(
    State(state): State<ApiState>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let most = state.limits.api_batch_txs_max;
    let transactions = if is_wire_batch(&request) {
        let body = Bytes::from_request(request, &state).await?;
        split_wire_batch(&body, most)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        let Json(body) = Json::<BatchBody>::from_request(request, &state).await?;
        if body.transactions.len() > most {
            return Err(WireBatchError::TooMany { most }.into());
        }
        body.transactions
            .iter()
            .map(|t| decode_hex(t))
            .collect::<Result<Vec<_>, _>>()?
    };
    let results = send_to_driver(&state, transactions).await?;
    let results: Vec<Value> = results
        .iter()
        .map(|result| match result {
            Ok(hash) => json!({"hash": hash.to_hex()}),
            Err(error) => admit_error(error).body(),
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(json!({"results": results}))))
}

#[derive(Deserialize)]
struct WaitQuery {
    /// Wait up to this long for a final state.
    wait_ms: Option<u64>,
}

async fn transaction(
    State(state): State<ApiState>,
    Path(hash): Path<String>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_query", rejection.body_text())
    })?;
    let id = parse_hash(&hash)?;
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0).min(state.limits.api_wait_ms_max));
    let deadline = tokio::time::Instant::now() + wait;
    let mut heights = state.status.clone();
    let mut seen_height = heights.borrow().height;
    loop {
        let (value, is_final) = transaction_status(&state, &id).await?;
        if is_final || tokio::time::Instant::now() >= deadline {
            return Ok(Json(value));
        }
        // Sleep until the next commit (or the deadline).
        loop {
            match tokio::time::timeout_at(deadline, heights.changed()).await {
                Ok(Ok(())) => {
                    let height = heights.borrow().height;
                    if height != seen_height {
                        seen_height = height;
                        break;
                    }
                }
                // The deadline passed, or the driver stopped: answer now.
                Ok(Err(_)) | Err(_) => return Ok(Json(value)),
            }
        }
    }
}

async fn transaction_status(state: &ApiState, id: &Hash) -> Result<(Value, bool), ApiError> {
    if let Some(found) = state.store.transaction(id).map_err(internal)? {
        let is_final = found.receipt.outcome.is_final();
        let mut value = receipt_json(&found.receipt);
        value["hash"] = json!(id.to_hex());
        value["height"] = json!(found.height);
        value["index"] = json!(found.index);
        value["transaction"] = transaction_json(state, &found.transaction);
        if is_final || !pending(state, id).await? {
            return Ok((value, is_final));
        }
    }
    if pending(state, id).await? {
        return Ok((json!({"hash": id.to_hex(), "status": "pending"}), false));
    }
    Ok((json!({"hash": id.to_hex(), "status": "unknown"}), false))
}

async fn pending(state: &ApiState, id: &Hash) -> Result<bool, ApiError> {
    let (reply, answer) = oneshot::channel();
    if state
        .commands
        .send(Command::IsPending { id: *id, reply })
        .await
        .is_err()
    {
        return Ok(false);
    }
    Ok(answer.await.unwrap_or(false))
}

fn receipt_json(receipt: &Receipt) -> Value {
    match &receipt.outcome {
        Outcome::Applied { fee } => {
            json!({"status": "committed", "outcome": "applied", "fee": fee.0.to_string()})
        }
        Outcome::Rejected(reason) => json!({
            "status": "rejected",
            "outcome": "rejected",
            "reason": reason.to_string(),
            "reason_code": reject_code(reason),
        }),
    }
}

/// A stable code per rejection reason.
pub fn reject_code(reason: &RejectReason) -> &'static str {
    match reason {
        RejectReason::Expired { .. } => "expired",
        RejectReason::UnknownSender => "unknown_sender",
        RejectReason::BadNonce { .. } => "bad_nonce",
        RejectReason::NonceExhausted => "nonce_exhausted",
        RejectReason::UnknownAccount(_) => "unknown_account",
        RejectReason::UnknownAsset(_) => "unknown_asset",
        RejectReason::ZeroAmount => "zero_amount",
        RejectReason::SelfTransfer => "self_transfer",
        RejectReason::InsufficientFunds { .. } => "insufficient_funds",
        RejectReason::FeeAboveMaximum { .. } => "fee_above_maximum",
        RejectReason::NotIssuer { .. } => "not_issuer",
        RejectReason::NotBank => "not_bank",
        RejectReason::AccountExists(_) => "account_exists",
        RejectReason::InvalidKey => "invalid_key",
        RejectReason::WeakKey => "weak_key",
        RejectReason::Overflow(_) => "overflow",
        RejectReason::EscrowNotFound(_) => "escrow_not_found",
        RejectReason::EscrowSettled(_) => "escrow_settled",
        RejectReason::WrongEscrowStatus { .. } => "wrong_escrow_status",
        RejectReason::NotBuyer => "not_buyer",
        RejectReason::NotSeller => "not_seller",
        RejectReason::NotParty => "not_party",
        RejectReason::NotArbiter { .. } => "not_arbiter",
        RejectReason::SellerIsBuyer => "seller_is_buyer",
        RejectReason::UnknownMember(_) => "unknown_member",
        RejectReason::DeadlinePassed { .. } => "deadline_passed",
        RejectReason::DeadlineOrder { .. } => "deadline_order",
        RejectReason::DeadlineTooFar { .. } => "deadline_too_far",
        RejectReason::SplitTooLarge { .. } => "split_too_large",
        RejectReason::DueListFull { .. } => "due_list_full",
        RejectReason::NotHostingBank { .. } => "not_hosting_bank",
        RejectReason::CreditForBank => "credit_for_bank",
        RejectReason::CreditNotOffered(_) => "credit_not_offered",
        RejectReason::PeriodInvalid { .. } => "period_invalid",
        RejectReason::NoCreditLine(_) => "no_credit_line",
        RejectReason::LenderInsufficientFunds { .. } => "lender_insufficient_funds",
    }
}

fn decimals(state: &ApiState, asset: &AssetCode) -> Option<u8> {
    state.store.asset(asset).ok().flatten().map(|a| a.decimals)
}

fn amount_json(state: &ApiState, asset: &AssetCode, amount: Amount) -> Value {
    views::amount(asset, amount, decimals(state, asset))
}

fn transaction_json(state: &ApiState, signed: &SignedTransaction) -> Value {
    let tx = &signed.tx;
    let body = match &tx.body {
        Body::Transfer { to, asset, amount } => {
            json!({"kind": "transfer", "to": to.to_hex(), "value": amount_json(state, asset, *amount)})
        }
        Body::Issue { to, asset, amount } => {
            json!({"kind": "issue", "to": to.to_hex(), "value": amount_json(state, asset, *amount)})
        }
        Body::Redeem { asset, amount } => {
            json!({"kind": "redeem", "value": amount_json(state, asset, *amount)})
        }
        Body::RegisterAccount { account } => {
            json!({"kind": "register_account", "account": account.to_hex()})
        }
        Body::EscrowOpen {
            seller,
            asset,
            amount,
            arbiter,
            confirm_deadline,
            arbiter_deadline,
            reference,
        } => json!({
            "kind": "escrow_open",
            "seller": seller.to_hex(),
            "value": amount_json(state, asset, *amount),
            "arbiter": arbiter.as_str(),
            "confirm_deadline": confirm_deadline,
            "arbiter_deadline": arbiter_deadline,
            "reference": reference.to_hex(),
        }),
        Body::EscrowRelease { escrow }
        | Body::EscrowRefund { escrow }
        | Body::EscrowDispute { escrow } => {
            json!({"kind": tx.body.kind(), "escrow": escrow.to_hex()})
        }
        Body::EscrowResolve { escrow, to_seller } => {
            let asset = state.store.escrow(escrow).ok().flatten().map(|e| e.asset);
            json!({
                "kind": "escrow_resolve",
                "escrow": escrow.to_hex(),
                "to_seller": match &asset {
                    Some(asset) => amount_json(state, asset, *to_seller),
                    None => json!({"asset": null, "minor_units": to_seller.0.to_string(), "amount": null}),
                },
            })
        }
        Body::CreditGrant {
            account,
            asset,
            limit,
            period_blocks,
        } => json!({
            "kind": "credit_grant",
            "account": account.to_hex(),
            "limit": amount_json(state, asset, *limit),
            "period_blocks": period_blocks,
        }),
        Body::CreditRevoke { account, asset } => json!({
            "kind": "credit_revoke",
            "account": account.to_hex(),
            "asset": asset.as_str(),
        }),
        Body::CreditAttest {
            account,
            positive,
            category,
            reference,
        } => json!({
            "kind": "credit_attest",
            "account": account.to_hex(),
            "positive": positive,
            "category": category.as_str(),
            "reference": reference.to_hex(),
        }),
    };
    json!({
        "hash": signed.id().map(|h| h.to_hex()).unwrap_or_default(),
        "sender": tx.sender.to_hex(),
        "nonce": tx.nonce,
        "max_fee": tx.fee.0.to_string(),
        "expiry_height": tx.expiry_height,
        "body": body,
        "signature": signed.signature.to_hex(),
    })
}

async fn account(
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = AccountId::from_hex(&account).map_err(bad_account)?;
    let found: Option<AccountState> = state.store.account(&id).map_err(internal)?;
    let Some(found) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            format!("account {id} is not registered"),
        ));
    };
    let balances: Vec<Value> = found
        .balances
        .iter()
        .map(|(asset, amount)| amount_json(&state, asset, *amount))
        .collect();
    let owed: Vec<Value> = found
        .lines
        .iter()
        .filter(|(_, line)| !line.drawn.is_zero())
        .map(|(asset, line)| amount_json(&state, asset, line.drawn))
        .collect();
    let params = state.store.params().map_err(internal)?;
    Ok(Json(json!({
        "account": id.to_hex(),
        "bank": found.bank.as_str(),
        "nonce": found.nonce,
        "balances": balances,
        "owed": owed,
        "rating": views::rating_of(&found.record, &params.credit),
    })))
}

fn bad_account(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_account", error.to_string())
}

/// `GET /v1/escrows/{id}`: an escrow by the id of its opening transaction.
async fn escrow(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_hash(&id)?;
    let found = state.store.escrow(&id).map_err(internal)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_escrow",
            format!("no escrow {id}"),
        )
    })?;
    Ok(Json(views::escrow(
        &id,
        &found,
        decimals(&state, &found.asset),
    )))
}

/// `GET /v1/credit/{account}`: credit record, trust rating and lines.
async fn credit(
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = AccountId::from_hex(&account).map_err(bad_account)?;
    let found = state.store.account(&id).map_err(internal)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            format!("account {id} is not registered"),
        )
    })?;
    let params = state.store.params().map_err(internal)?;
    let decimals = |asset: &AssetCode| decimals(&state, asset);
    Ok(Json(views::credit(&id, &found, &params, &decimals)))
}

fn block_json(state: &ApiState, block: &Block) -> Result<Value, ApiError> {
    let header = &block.header;
    Ok(json!({
        "height": header.height,
        "hash": block.hash().map_err(internal)?.to_hex(),
        "previous_hash": header.previous_hash.to_hex(),
        "proposer": header.proposer.to_hex(),
        "timestamp_ms": header.timestamp_ms,
        "tx_root": header.tx_root.to_hex(),
        "state_root": header.state_root.to_hex(),
        "receipts_root": header.receipts_root.to_hex(),
        "validator_set_hash": header.validator_set_hash.to_hex(),
        "transactions": block.transactions.iter().map(|t| transaction_json(state, t)).collect::<Vec<_>>(),
    }))
}

fn parse_height(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_height",
            format!("{text:?} is not a height"),
        )
    })
}

fn no_block(height: u64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_block",
        format!("no block at height {height}"),
    )
}

async fn latest_block(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let tip = state.store.tip().map_err(internal)?;
    if tip.height == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_blocks",
            "no block has been committed yet",
        ));
    }
    block_with_receipts(&state, tip.height)
}

async fn block(
    State(state): State<ApiState>,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    block_with_receipts(&state, parse_height(&height)?)
}

fn block_with_receipts(state: &ApiState, height: u64) -> Result<Json<Value>, ApiError> {
    let block = state
        .store
        .block(height)
        .map_err(internal)?
        .ok_or_else(|| no_block(height))?;
    let mut value = block_json(state, &block)?;
    if let Some(receipts) = state.store.receipts(height).map_err(internal)? {
        value["receipts"] = json!(receipts.iter().map(receipt_json).collect::<Vec<_>>());
    }
    Ok(Json(value))
}

/// A block's receipts alone, each with its transaction id: what a client
/// following commits needs, without decoding and rendering the block.
async fn block_receipts(
    State(state): State<ApiState>,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let height = parse_height(&height)?;
    let receipts = state
        .store
        .receipts(height)
        .map_err(internal)?
        .ok_or_else(|| no_block(height))?;
    let receipts: Vec<Value> = receipts
        .iter()
        .map(|receipt| {
            let mut value = receipt_json(receipt);
            value["tx_id"] = json!(receipt.tx_id.to_hex());
            value
        })
        .collect();
    Ok(Json(json!({"height": height, "receipts": receipts})))
}

async fn certificate(
    State(state): State<ApiState>,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let height = parse_height(&height)?;
    let certificate = state
        .store
        .certificate(height)
        .map_err(internal)?
        .ok_or_else(|| no_block(height))?;
    Ok(Json(json!({
        "height": certificate.height,
        "round": certificate.round,
        "block_hash": certificate.block_hash.to_hex(),
        "votes": certificate.votes.iter().map(|v| json!({"validator": v.validator.to_hex(), "signature": v.signature.to_hex()})).collect::<Vec<_>>(),
    })))
}

/// Most blocks one `/v1/chain` answer carries.
pub const CHAIN_BLOCKS_MAX: u64 = 100;

#[derive(Deserialize)]
struct ChainQuery {
    /// First height.
    from: u64,
    /// How many blocks (capped at [`CHAIN_BLOCKS_MAX`]).
    count: Option<u64>,
}

/// Committed blocks with their certificates as canonical bytes (hex), for
/// auditors who verify everything themselves: `{"tip", "blocks": [{"height",
/// "block", "certificate"}]}`.
async fn chain(
    State(state): State<ApiState>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_query", rejection.body_text())
    })?;
    let tip = state.store.tip().map_err(internal)?.height;
    let count = query
        .count
        .unwrap_or(CHAIN_BLOCKS_MAX)
        .min(CHAIN_BLOCKS_MAX);
    let mut blocks = Vec::new();
    for height in query.from.max(1)..query.from.max(1).saturating_add(count) {
        if height > tip {
            break;
        }
        let block = state
            .store
            .block(height)
            .map_err(internal)?
            .ok_or_else(|| no_block(height))?;
        let certificate = state
            .store
            .certificate(height)
            .map_err(internal)?
            .ok_or_else(|| no_block(height))?;
        blocks.push(json!({
            "height": height,
            "block": hex::encode(block.encode().map_err(internal)?),
            "certificate": hex::encode(clearhouse_ledger::codec::encode(&certificate).map_err(internal)?),
        }));
    }
    Ok(Json(json!({"tip": tip, "blocks": blocks})))
}

/// An inclusion proof of a committed transaction, with the certified header:
/// `{"height", "index", "transaction", "header", "certificate", "proof":
/// {"index", "leaf_count", "siblings"}}`, bytes as hex.
async fn transaction_proof(
    State(state): State<ApiState>,
    Path(hash): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_hash(&hash)?;
    let found = state
        .store
        .transaction(&id)
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_transaction",
                format!("transaction {id} is not committed"),
            )
        })?;
    let block = state
        .store
        .block(found.height)
        .map_err(internal)?
        .ok_or_else(|| no_block(found.height))?;
    let certificate = state
        .store
        .certificate(found.height)
        .map_err(internal)?
        .ok_or_else(|| no_block(found.height))?;
    let ids = block
        .transactions
        .iter()
        .map(|tx| tx.id())
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let proof = clearhouse_ledger::merkle::prove(&ids, found.index as usize)
        .ok_or_else(|| internal("transaction index out of range"))?;
    Ok(Json(json!({
        "height": found.height,
        "index": found.index,
        "transaction": hex::encode(found.transaction.encode().map_err(internal)?),
        "header": hex::encode(clearhouse_ledger::codec::encode(&block.header).map_err(internal)?),
        "certificate": hex::encode(clearhouse_ledger::codec::encode(&certificate).map_err(internal)?),
        "receipt": receipt_json(&found.receipt),
        "proof": {
            "index": proof.index,
            "leaf_count": proof.leaf_count,
            "siblings": proof.siblings.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        },
    })))
}

async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The address the API listens on, once bound.
pub type ApiAddress = SocketAddr;
