//! One handler per route (feature `server`): parse the request, read the
//! store or ask the driver, answer a [`dto`] type. Each carries its OpenAPI
//! annotation; the routes themselves are listed in `router::routes`.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use tokio::sync::oneshot;

use clearhouse_ledger::block::Block;
use clearhouse_ledger::payment::EndToEndId;
use clearhouse_ledger::state::{AccountState, OverseerRole, validator_set};
use clearhouse_ledger::{AccountId, Amount, AssetCode, Hash, SignedTransaction};

use super::access::{Caller, Parties, Sight, is_public_business, parties};
use super::batch::{WIRE_BATCH_MEDIA_TYPE, WireBatchError, split_wire_batch};
use super::dto::{self, CHAIN_BLOCKS_MAX, ErrorCode, TxState};
use super::router::{ApiDoc, ApiError, ApiState, admit_error, internal};
use crate::driver::Command;
use crate::mempool::AdmitError;
use crate::metrics::CheckSource;
use crate::verify::check_wire_off_loop;

/// `GET /v1/status`.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "node",
    responses((status = 200, description = "The node, its chain and its tip", body = dto::NodeStatus))
)]
pub(super) async fn status(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<dto::NodeStatus>, ApiError> {
    let status = state.status.borrow().clone();
    // The member list in force (governance changes it), and the validator
    // set it makes: the one certifying the next block.
    let members = state.store.members().map_err(internal)?;
    let validators = validator_set(&members).map_err(internal)?;
    Ok(Json(dto::NodeStatus {
        chain_id: state.chain_id.to_hex(),
        node: state.name.clone(),
        role: state.role,
        height: status.height,
        latest_block_hash: status.block_hash.to_hex(),
        state_root: status.state_root.to_hex(),
        round: status.round,
        validators: validators
            .validators()
            .iter()
            .map(|v| dto::Validator {
                member: v.member.as_str().to_owned(),
                key: v.key.to_hex(),
                voting_power: v.voting_power,
            })
            .collect(),
        peers: status.peers.iter().map(|p| hex::encode(p.0)).collect(),
        mempool_size: u64::try_from(status.mempool_size).unwrap_or(u64::MAX),
        members: members.iter().map(dto::Member::new).collect(),
        caller: caller.info(),
    }))
}

/// `POST /v1/transactions`: one signed transaction.
#[utoipa::path(
    post,
    path = "/v1/transactions",
    tag = "transactions",
    request_body = dto::SubmitRequest,
    responses(
        (status = 202, description = "Admitted to the mempool, or already there", body = dto::TransactionStatus),
        (status = 200, description = "Seen before and final", body = dto::TransactionStatus),
        (status = 400, description = "Malformed body or transaction", body = dto::ErrorBody),
        (status = 409, description = "Nonce used or pending", body = dto::ErrorBody),
        (status = 413, description = "Body too large", body = dto::ErrorBody),
        (status = 422, description = "Well formed but not acceptable", body = dto::ErrorBody),
        (status = 503, description = "Mempool full or node stopping", body = dto::ErrorBody),
    )
)]
pub(super) async fn submit(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<Json<dto::SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<dto::TransactionStatus>), ApiError> {
    let Json(body) = body?;
    let bytes = decode_hex(&body.transaction)?;
    let id = match SignedTransaction::decode(&bytes) {
        Ok(tx) => {
            may_submit(&caller, &tx)?;
            tx.id().ok()
        }
        // Admission names what is wrong with the bytes.
        Err(_) => None,
    };
    let mut results = send_to_driver(&state, vec![bytes]).await?;
    match results.pop() {
        Some(Ok(hash)) => Ok((
            StatusCode::ACCEPTED,
            Json(dto::TransactionStatus::bare(&hash, TxState::Pending)),
        )),
        Some(Err(error)) => match existing_outcome(&state, &caller, id, &error).await? {
            Some(answer) => Ok(answer),
            None => Err(admit_error(&error)),
        },
        None => Err(internal("no result from the driver")),
    }
}

/// `POST /v1/transactions/batch`: JSON, or the binary body of
/// [`super::batch`] under its media type.
#[utoipa::path(
    post,
    path = "/v1/transactions/batch",
    tag = "transactions",
    request_body(
        description = "JSON (`{\"transactions\": [hex]}`), or `application/octet-stream`: each transaction's wire bytes after its length as a 4-byte little-endian integer",
        content(
            (dto::BatchRequest = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )
    ),
    responses(
        (status = 202, description = "One result per transaction, in order", body = dto::BatchAnswer),
        (status = 400, description = "Malformed body", body = dto::ErrorBody),
        (status = 413, description = "Body or batch too large", body = dto::ErrorBody),
        (status = 503, description = "Node stopping", body = dto::ErrorBody),
    )
)]
pub(super) async fn submit_batch(
    State(state): State<ApiState>,
    caller: Caller,
    request: Request,
) -> Result<(StatusCode, Json<dto::BatchAnswer>), ApiError> {
    let most = state.limits.api_batch_txs_max;
    let transactions = if is_wire_batch(&request) {
        let body = Bytes::from_request(request, &state).await?;
        split_wire_batch(&body, most)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        let Json(body) = Json::<dto::BatchRequest>::from_request(request, &state).await?;
        if body.transactions.len() > most {
            return Err(WireBatchError::TooMany { most }.into());
        }
        body.transactions
            .iter()
            .map(|t| decode_hex(t))
            .collect::<Result<Vec<_>, _>>()?
    };
    // Each transaction outside the caller's scope is refused on its own;
    // the others go on.
    let mut refused: Vec<Option<ApiError>> = Vec::with_capacity(transactions.len());
    let mut admitted = Vec::with_capacity(transactions.len());
    for bytes in transactions {
        let verdict = match SignedTransaction::decode(&bytes) {
            Ok(tx) => may_submit(&caller, &tx).err(),
            Err(_) => None,
        };
        if verdict.is_none() {
            admitted.push(bytes);
        }
        refused.push(verdict);
    }
    let mut results = send_to_driver(&state, admitted).await?.into_iter();
    let mut answers = Vec::with_capacity(refused.len());
    for verdict in refused {
        answers.push(match verdict {
            Some(error) => dto::BatchResult::Refused {
                error: error.detail(),
            },
            None => match results.next() {
                Some(Ok(hash)) => dto::BatchResult::Accepted {
                    hash: hash.to_hex(),
                },
                Some(Err(error)) => dto::BatchResult::Refused {
                    error: admit_error(&error).detail(),
                },
                None => return Err(internal("fewer results than transactions from the driver")),
            },
        });
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(dto::BatchAnswer { results: answers }),
    ))
}

/// `GET /v1/transactions/{hash}`, waiting up to `wait_ms` for a final state.
#[utoipa::path(
    get,
    path = "/v1/transactions/{hash}",
    tag = "transactions",
    params(("hash" = String, Path, description = "The transaction id, hex"), dto::WaitQuery),
    responses(
        (status = 200, description = "Unknown, pending, committed or rejected", body = dto::TransactionStatus),
        (status = 400, description = "Bad hash or query", body = dto::ErrorBody),
    )
)]
pub(super) async fn transaction(
    State(state): State<ApiState>,
    caller: Caller,
    Path(hash): Path<String>,
    query: Result<Query<dto::WaitQuery>, QueryRejection>,
) -> Result<Json<dto::TransactionStatus>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let id = parse_hash(&hash)?;
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0).min(state.limits.api_wait_ms_max));
    let deadline = tokio::time::Instant::now() + wait;
    let mut heights = state.status.clone();
    let mut seen_height = heights.borrow().height;
    loop {
        let (answer, is_final) = transaction_status(&state, &caller, &id).await?;
        if is_final || tokio::time::Instant::now() >= deadline {
            return Ok(Json(answer));
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
                Ok(Err(_)) | Err(_) => return Ok(Json(answer)),
            }
        }
    }
}

/// `GET /v1/transactions?end_to_end_id=…`: the committed payments carrying
/// an end-to-end id, within the caller's scope (the others are left out,
/// not refused: a search says nothing about payments the caller may not
/// see).
#[utoipa::path(
    get,
    path = "/v1/transactions",
    tag = "transactions",
    params(dto::TransactionQuery),
    responses(
        (status = 200, description = "The payments the caller may see, newest first", body = dto::TransactionSearch),
        (status = 400, description = "Bad end-to-end id or query", body = dto::ErrorBody),
        (status = 401, description = "Unsigned request", body = dto::ErrorBody),
    )
)]
pub(super) async fn find_transactions(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<dto::TransactionQuery>, QueryRejection>,
) -> Result<Json<dto::TransactionSearch>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let end_to_end_id = EndToEndId::new(&query.end_to_end_id)
        .map_err(|e| ApiError::new(ErrorCode::BadQuery, e.to_string()))?;
    if end_to_end_id.is_not_provided() {
        return Err(ApiError::new(
            ErrorCode::BadQuery,
            "NOTPROVIDED names no payment: payments carrying it are not indexed by it",
        ));
    }
    let limit = query
        .limit
        .unwrap_or(50)
        .clamp(1, dto::TRANSACTION_SEARCH_MAX);
    // Look further than `limit` for a caller that sees only some, within
    // one bound: each candidate costs a block read (shared by candidates
    // of one block).
    let look = if caller.is_overseer() {
        limit
    } else {
        dto::TRANSACTION_SEARCH_MAX
    };
    let found = state
        .store
        .transactions_with_end_to_end_id(&end_to_end_id, look)
        .map_err(internal)?;
    let mut transactions = Vec::new();
    for stored in found {
        if transactions.len() == limit {
            break;
        }
        let sight = sight_of(&state, &caller, &stored.transaction, Some(&stored.receipt))?;
        if !sight.sees() {
            continue;
        }
        let id = stored.transaction.id().map_err(internal)?;
        transactions.push(dto::TransactionStatus::committed(
            &id,
            stored.height,
            stored.index,
            dto::Receipt::new(&stored.receipt),
            transaction_of(&state, &stored.transaction, sight),
        ));
    }
    Ok(Json(dto::TransactionSearch {
        end_to_end_id: end_to_end_id.as_str().to_owned(),
        transactions,
    }))
}

/// `GET /v1/sealing-keys?from=…&to=…`: whom a payment's data must (and
/// may) be sealed for, asked by a party, a party's bank or an overseer. It tells
/// the caller which bank hosts the payee (and that the payee exists), as
/// an account number tells a payer's bank where to send; nothing else
/// about the payee.
#[utoipa::path(
    get,
    path = "/v1/sealing-keys",
    tag = "transactions",
    params(dto::SealingQuery),
    responses(
        (status = 200, description = "The sealing keys, the payer's bank first", body = dto::SealingKeys),
        (status = 400, description = "Bad account or query", body = dto::ErrorBody),
        (status = 401, description = "Unsigned request", body = dto::ErrorBody),
        (status = 403, description = "Neither party, nor a party's bank", body = dto::ErrorBody),
        (status = 404, description = "Payer or payee not registered", body = dto::ErrorBody),
    )
)]
pub(super) async fn sealing_keys(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<dto::SealingQuery>, QueryRejection>,
) -> Result<Json<dto::SealingKeys>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let from = AccountId::from_hex(&query.from).map_err(bad_account)?;
    let to = AccountId::from_hex(&query.to).map_err(bad_account)?;
    // Each party's bank, read once: for the scope and for the answer.
    let mut banks = Vec::with_capacity(2);
    for account in [from, to] {
        banks.push((
            account,
            state
                .store
                .account(&account)
                .map_err(internal)?
                .map(|found| found.bank),
        ));
    }
    // Within the caller's scope as the payment would be: a party, a bank
    // of either party, an overseer.
    let in_scope = match &caller {
        Caller::Account { id, .. } => *id == from || *id == to,
        Caller::Bank(bank) => banks.iter().any(|(_, of)| of.as_ref() == Some(bank)),
        Caller::Overseer { .. } => true,
        Caller::Public => false,
    };
    if !in_scope {
        return Err(caller.out_of_scope(format!("sealing keys for payments of {from}")));
    }
    let members = state.store.members().map_err(internal)?;
    let mut recipients = Vec::new();
    for (account, bank) in banks {
        let bank = bank.ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownAccount,
                format!("account {account} is not registered"),
            )
        })?;
        if recipients
            .iter()
            .any(|r: &dto::SealingRecipient| r.party == bank.as_str())
        {
            continue;
        }
        let key = members
            .iter()
            .find(|member| member.id == bank)
            .and_then(|member| member.sealing_key);
        recipients.push(dto::SealingRecipient {
            party: bank.as_str().to_owned(),
            role: "bank".into(),
            sealing_key: key.map(|key| key.to_hex()),
            required: true,
        });
    }
    for overseer in state.store.overseers().map_err(internal)? {
        let Some(key) = overseer.sealing_key else {
            continue;
        };
        recipients.push(dto::SealingRecipient {
            party: overseer.id.as_str().to_owned(),
            role: overseer.role.as_str().to_owned(),
            sealing_key: Some(key.to_hex()),
            required: overseer.role == OverseerRole::Regulator,
        });
    }
    Ok(Json(dto::SealingKeys { recipients }))
}

/// `GET /v1/accounts/{account}`.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account}",
    tag = "state",
    params(("account" = String, Path, description = "The account id, hex")),
    responses(
        (status = 200, description = "The account", body = dto::Account),
        (status = 400, description = "Bad account id", body = dto::ErrorBody),
        (status = 404, description = "Not registered", body = dto::ErrorBody),
    )
)]
pub(super) async fn account(
    State(state): State<ApiState>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<dto::Account>, ApiError> {
    let id = AccountId::from_hex(&account).map_err(bad_account)?;
    let found = registered(&state, &caller, &id)?;
    let params = state.store.params().map_err(internal)?;
    Ok(Json(dto::Account {
        account: id.to_hex(),
        bank: found.bank.as_str().to_owned(),
        nonce: found.nonce,
        balances: found
            .balances
            .iter()
            .map(|(asset, amount)| amount_of(&state, asset, *amount))
            .collect(),
        owed: found
            .lines
            .iter()
            .filter(|(_, line)| !line.drawn.is_zero())
            .map(|(asset, line)| amount_of(&state, asset, line.drawn))
            .collect(),
        rating: dto::rating_of(&found.record, &params.credit),
    }))
}

/// `GET /v1/assets/{code}`: an asset's issuer and decimals (public: a
/// client needs them to read and write amounts).
#[utoipa::path(
    get,
    path = "/v1/assets/{code}",
    tag = "state",
    params(("code" = String, Path, description = "The asset code, e.g. CNY")),
    responses(
        (status = 200, description = "The asset", body = dto::Asset),
        (status = 400, description = "Bad asset code", body = dto::ErrorBody),
        (status = 404, description = "No such asset", body = dto::ErrorBody),
    )
)]
pub(super) async fn asset(
    State(state): State<ApiState>,
    Path(code): Path<String>,
) -> Result<Json<dto::Asset>, ApiError> {
    let asset = AssetCode::new(&code)
        .map_err(|e| ApiError::new(ErrorCode::BadQuery, format!("asset code {code:?}: {e}")))?;
    let found = state
        .store
        .asset(&asset)
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownAsset, format!("no asset {code}")))?;
    Ok(Json(dto::Asset {
        code: asset.as_str().to_owned(),
        issuer: found.issuer.as_str().to_owned(),
        decimals: found.decimals,
    }))
}

/// `GET /v1/quotes?pair=FROM/TO`: the live FX quotes, best first for the
/// payer within each pair (public: banks post them for every customer to
/// use, and every node holds them).
#[utoipa::path(
    get,
    path = "/v1/quotes",
    tag = "state",
    params(dto::QuotesQuery),
    responses(
        (status = 200, description = "The live quotes", body = dto::Quotes),
        (status = 400, description = "Bad pair", body = dto::ErrorBody),
    )
)]
pub(super) async fn quotes(
    State(state): State<ApiState>,
    query: Result<Query<dto::QuotesQuery>, QueryRejection>,
) -> Result<Json<dto::Quotes>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let pair = match &query.pair {
        None => None,
        Some(text) => {
            let bad =
                |why: String| ApiError::new(ErrorCode::BadQuery, format!("pair {text:?}: {why}"));
            let (from, to) = text
                .split_once('/')
                .ok_or_else(|| bad("expected FROM/TO, e.g. CNY/USD".into()))?;
            let from = AssetCode::new(from).map_err(|e| bad(e.to_string()))?;
            let to = AssetCode::new(to).map_err(|e| bad(e.to_string()))?;
            Some((from, to))
        }
    };
    let height = state.store.tip().map_err(internal)?.height;
    let mut live: Vec<(Hash, clearhouse_ledger::state::fx::QuoteState)> = state
        .store
        .quotes()
        .map_err(internal)?
        .into_iter()
        .filter(|(_, quote)| quote.valid_until > height)
        .filter(|(_, quote)| {
            pair.as_ref()
                .is_none_or(|(from, to)| quote.receive_asset == *from && quote.pay_asset == *to)
        })
        .collect();
    live.sort_by(|(a_id, a), (b_id, b)| {
        (&a.receive_asset, &a.pay_asset)
            .cmp(&(&b.receive_asset, &b.pay_asset))
            .then_with(|| b.rate.compare(&a.rate))
            .then_with(|| b.remaining.cmp(&a.remaining))
            .then_with(|| a.posted_at.cmp(&b.posted_at))
            .then_with(|| a_id.cmp(b_id))
    });
    Ok(Json(dto::Quotes {
        height,
        quotes: live
            .iter()
            .map(|(id, quote)| quote_of(&state, id, quote))
            .collect(),
    }))
}

/// `GET /v1/quotes/{id}`: one live FX quote.
#[utoipa::path(
    get,
    path = "/v1/quotes/{id}",
    tag = "state",
    params(("id" = String, Path, description = "The posting transaction's id, hex")),
    responses(
        (status = 200, description = "The quote", body = dto::Quote),
        (status = 400, description = "Bad id", body = dto::ErrorBody),
        (status = 404, description = "No live quote has this id", body = dto::ErrorBody),
    )
)]
pub(super) async fn quote(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<dto::Quote>, ApiError> {
    let id = parse_hash(&id)?;
    let found = state
        .store
        .quote(&id)
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownQuote, format!("no live quote {id}")))?;
    Ok(Json(quote_of(&state, &id, &found)))
}

fn quote_of(
    state: &ApiState,
    id: &Hash,
    quote: &clearhouse_ledger::state::fx::QuoteState,
) -> dto::Quote {
    let rate_decimal = match (
        decimals(state, &quote.receive_asset),
        decimals(state, &quote.pay_asset),
    ) {
        (Some(from), Some(to)) => dto::rate_decimal(quote.rate, from, to),
        _ => None,
    };
    dto::Quote {
        id: id.to_hex(),
        provider: quote.provider.as_str().to_owned(),
        pair: format!("{}/{}", quote.receive_asset, quote.pay_asset),
        rate: quote.rate.into(),
        rate_decimal,
        remaining: amount_of(state, &quote.pay_asset, quote.remaining),
        valid_until: quote.valid_until,
        posted_at: quote.posted_at,
    }
}

/// `GET /v1/governance/proposals?status=…&limit=…`: governance proposals,
/// newest proposed first (public: governance is the network's public
/// business, see `access`).
#[utoipa::path(
    get,
    path = "/v1/governance/proposals",
    tag = "governance",
    params(dto::ProposalsQuery),
    responses(
        (status = 200, description = "The proposals, newest proposed first", body = dto::Proposals),
        (status = 400, description = "Bad status or query", body = dto::ErrorBody),
    )
)]
pub(super) async fn proposals(
    State(state): State<ApiState>,
    query: Result<Query<dto::ProposalsQuery>, QueryRejection>,
) -> Result<Json<dto::Proposals>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let limit = query
        .limit
        .unwrap_or(dto::PROPOSALS_MAX)
        .clamp(1, dto::PROPOSALS_MAX);
    let height = state.store.tip().map_err(internal)?.height;
    let members = state.store.members().map_err(internal)?;
    let mut found: Vec<dto::Proposal> = state
        .store
        .proposals()
        .map_err(internal)?
        .iter()
        .map(|(id, proposal)| proposal_of(&state, id, proposal, &members))
        .filter(|proposal| {
            query
                .status
                .is_none_or(|filter| filter.admits(proposal.status))
        })
        .collect();
    // Newest proposed first; within a height, by id (the block's order is
    // not kept in the state, and ids make the answer the same on every node).
    found.sort_by(|a, b| {
        b.proposed_at
            .cmp(&a.proposed_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    found.truncate(limit);
    Ok(Json(dto::Proposals {
        height,
        proposals: found,
    }))
}

/// `GET /v1/governance/proposals/{id}`: one proposal, whatever its status.
#[utoipa::path(
    get,
    path = "/v1/governance/proposals/{id}",
    tag = "governance",
    params(("id" = String, Path, description = "The proposing transaction's id, hex")),
    responses(
        (status = 200, description = "The proposal with its votes and tally", body = dto::Proposal),
        (status = 400, description = "Bad id (`bad_hash`)", body = dto::ErrorBody),
        (status = 404, description = "No proposal has this id (`unknown_proposal`)", body = dto::ErrorBody),
    )
)]
pub(super) async fn proposal(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<dto::Proposal>, ApiError> {
    let id = parse_hash(&id)?;
    let found = state
        .store
        .proposal(&id)
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownProposal, format!("no proposal {id}")))?;
    let members = state.store.members().map_err(internal)?;
    Ok(Json(proposal_of(&state, &id, &found, &members)))
}

fn proposal_of(
    state: &ApiState,
    id: &Hash,
    proposal: &clearhouse_ledger::state::governance::Proposal,
    members: &[clearhouse_ledger::state::Member],
) -> dto::Proposal {
    dto::Proposal::new(id, proposal, members, &|asset, amount| {
        amount_of(state, asset, amount)
    })
}

/// `GET /v1/escrows/{id}`: an escrow by the id of its opening transaction.
#[utoipa::path(
    get,
    path = "/v1/escrows/{id}",
    tag = "state",
    params(("id" = String, Path, description = "The opening transaction's id, hex")),
    responses(
        (status = 200, description = "The escrow", body = dto::Escrow),
        (status = 400, description = "Bad id", body = dto::ErrorBody),
        (status = 404, description = "No such escrow", body = dto::ErrorBody),
    )
)]
pub(super) async fn escrow(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<dto::Escrow>, ApiError> {
    let id = parse_hash(&id)?;
    let found = state
        .store
        .escrow(&id)
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownEscrow, format!("no escrow {id}")))?;
    if !caller.is_overseer() {
        let mut escrow_parties = Parties {
            accounts: vec![found.buyer, found.seller],
            banks: vec![found.arbiter.clone()],
            onlookers: Vec::new(),
            public: false,
        };
        for account in [found.buyer, found.seller] {
            if let Some(state) = state.store.account(&account).map_err(internal)? {
                escrow_parties.banks.push(state.bank);
            }
        }
        if !caller.may_see(&escrow_parties) {
            return Err(caller.out_of_scope(format!("escrow {id}")));
        }
    }
    Ok(Json(dto::Escrow::new(
        &id,
        &found,
        decimals(&state, &found.asset),
    )))
}

/// `GET /v1/credit/{account}`: credit record, trust rating and lines.
#[utoipa::path(
    get,
    path = "/v1/credit/{account}",
    tag = "state",
    params(("account" = String, Path, description = "The account id, hex")),
    responses(
        (status = 200, description = "Record, rating and lines", body = dto::Credit),
        (status = 400, description = "Bad account id", body = dto::ErrorBody),
        (status = 404, description = "Not registered", body = dto::ErrorBody),
    )
)]
pub(super) async fn credit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<dto::Credit>, ApiError> {
    let id = AccountId::from_hex(&account).map_err(bad_account)?;
    let found = registered(&state, &caller, &id)?;
    let params = state.store.params().map_err(internal)?;
    let decimals = |asset: &AssetCode| decimals(&state, asset);
    Ok(Json(dto::Credit::new(&id, &found, &params, &decimals)))
}

/// `GET /v1/blocks/latest`.
#[utoipa::path(
    get,
    path = "/v1/blocks/latest",
    tag = "blocks",
    responses(
        (status = 200, description = "The latest stored block with its receipts", body = dto::Block),
        (status = 404, description = "No block yet (`no_blocks`)", body = dto::ErrorBody),
    )
)]
pub(super) async fn latest_block(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<dto::Block>, ApiError> {
    let tip = state.store.tip().map_err(internal)?;
    if tip.height == 0 {
        return Err(ApiError::new(
            ErrorCode::NoBlocks,
            "no block has been committed yet",
        ));
    }
    block_with_receipts(&state, &caller, tip.height).map(Json)
}

/// `GET /v1/blocks/{height}`.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}",
    tag = "blocks",
    params(("height" = u64, Path, description = "The block's height")),
    responses(
        (status = 200, description = "The block with its receipts", body = dto::Block),
        (status = 400, description = "Bad height", body = dto::ErrorBody),
        (status = 404, description = "No such block", body = dto::ErrorBody),
    )
)]
pub(super) async fn block(
    State(state): State<ApiState>,
    caller: Caller,
    Path(height): Path<String>,
) -> Result<Json<dto::Block>, ApiError> {
    block_with_receipts(&state, &caller, parse_height(&height)?).map(Json)
}

/// `GET /v1/blocks/{height}/receipts`: a block's receipts alone, each with
/// its transaction id: what a client following commits needs, without
/// decoding and rendering the block.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}/receipts",
    tag = "blocks",
    params(("height" = u64, Path, description = "The block's height")),
    responses(
        (status = 200, description = "The block's receipts", body = dto::BlockReceipts),
        (status = 400, description = "Bad height", body = dto::ErrorBody),
        (status = 404, description = "No such block", body = dto::ErrorBody),
    )
)]
pub(super) async fn block_receipts(
    State(state): State<ApiState>,
    caller: Caller,
    Path(height): Path<String>,
) -> Result<Json<dto::BlockReceipts>, ApiError> {
    let height = parse_height(&height)?;
    let receipts = state
        .store
        .receipts(height)
        .map_err(internal)?
        .ok_or_else(|| no_block(&state, height))?;
    let visible = if caller.is_overseer() {
        vec![Sight::Full; receipts.len()]
    } else {
        let block = state
            .store
            .block(height)
            .map_err(internal)?
            .ok_or_else(|| no_block(&state, height))?;
        visible_to(&state, &caller, &block, Some(&receipts))?
    };
    let shown: Vec<dto::Receipt> = receipts
        .iter()
        .zip(&visible)
        .filter(|(_, sight)| sight.sees())
        .map(|(receipt, _)| dto::Receipt::with_tx_id(receipt))
        .collect();
    Ok(Json(dto::BlockReceipts {
        height,
        hidden_transactions: count(receipts.len() - shown.len()),
        receipts: shown,
    }))
}

/// `GET /v1/blocks/{height}/certificate`.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}/certificate",
    tag = "blocks",
    params(("height" = u64, Path, description = "The block's height")),
    responses(
        (status = 200, description = "The block's commit certificate", body = dto::Certificate),
        (status = 400, description = "Bad height", body = dto::ErrorBody),
        (status = 404, description = "No such block", body = dto::ErrorBody),
    )
)]
pub(super) async fn certificate(
    State(state): State<ApiState>,
    Path(height): Path<String>,
) -> Result<Json<dto::Certificate>, ApiError> {
    let height = parse_height(&height)?;
    let certificate = state
        .store
        .certificate(height)
        .map_err(internal)?
        .ok_or_else(|| no_block(&state, height))?;
    Ok(Json(dto::Certificate {
        height: certificate.height,
        round: certificate.round,
        block_hash: certificate.block_hash.to_hex(),
        votes: certificate
            .votes
            .iter()
            .map(|v| dto::Vote {
                validator: v.validator.to_hex(),
                signature: v.signature.to_hex(),
            })
            .collect(),
    }))
}

/// `GET /v1/chain`: committed blocks with their certificates as canonical
/// bytes (hex), for auditors who verify everything themselves.
#[utoipa::path(
    get,
    path = "/v1/chain",
    tag = "blocks",
    params(dto::ChainQuery),
    responses(
        (status = 200, description = "Up to `count` blocks from `from`", body = dto::ChainPage),
        (status = 400, description = "Bad query", body = dto::ErrorBody),
    )
)]
pub(super) async fn chain(
    State(state): State<ApiState>,
    query: Result<Query<dto::ChainQuery>, QueryRejection>,
) -> Result<Json<dto::ChainPage>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
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
            .ok_or_else(|| no_block(&state, height))?;
        let certificate = state
            .store
            .certificate(height)
            .map_err(internal)?
            .ok_or_else(|| no_block(&state, height))?;
        blocks.push(dto::ChainBlock {
            height,
            block: hex::encode(block.encode().map_err(internal)?),
            certificate: hex::encode(
                clearhouse_ledger::codec::encode(&certificate).map_err(internal)?,
            ),
        });
    }
    Ok(Json(dto::ChainPage { tip, blocks }))
}

/// `GET /v1/proofs/transactions/{hash}`: an inclusion proof of a committed
/// transaction, with the certified header.
#[utoipa::path(
    get,
    path = "/v1/proofs/transactions/{hash}",
    tag = "blocks",
    params(("hash" = String, Path, description = "The transaction id, hex")),
    responses(
        (status = 200, description = "The proof", body = dto::TransactionProof),
        (status = 400, description = "Bad hash", body = dto::ErrorBody),
        (status = 404, description = "Not committed", body = dto::ErrorBody),
    )
)]
pub(super) async fn transaction_proof(
    State(state): State<ApiState>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<Json<dto::TransactionProof>, ApiError> {
    let id = parse_hash(&hash)?;
    let found = state
        .store
        .transaction(&id)
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownTransaction,
                format!("transaction {id} is not committed"),
            )
        })?;
    if !sight_of(&state, &caller, &found.transaction, Some(&found.receipt))?.sees() {
        return Err(caller.out_of_scope(format!("transaction {id}")));
    }
    let block = state
        .store
        .block(found.height)
        .map_err(internal)?
        .ok_or_else(|| no_block(&state, found.height))?;
    let certificate = state
        .store
        .certificate(found.height)
        .map_err(internal)?
        .ok_or_else(|| no_block(&state, found.height))?;
    let ids = block
        .transactions
        .iter()
        .map(|tx| tx.id())
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let proof = clearhouse_ledger::merkle::prove(&ids, found.index as usize)
        .ok_or_else(|| internal("transaction index out of range"))?;
    Ok(Json(dto::TransactionProof {
        height: found.height,
        index: found.index,
        transaction: hex::encode(found.transaction.encode().map_err(internal)?),
        header: hex::encode(clearhouse_ledger::codec::encode(&block.header).map_err(internal)?),
        certificate: hex::encode(clearhouse_ledger::codec::encode(&certificate).map_err(internal)?),
        receipt: dto::Receipt::new(&found.receipt),
        proof: dto::MerklePath::new(&proof),
    }))
}

/// `GET /v1/snapshot`: the state at the tip with the tip's block,
/// certificate and receipts, in the snapshot format of
/// `clearhouse_ledger::store::snapshot` (a new node starts from it with
/// `clearhouse-node --from-snapshot`, after checking the certificate and
/// the state root itself). One snapshot is written at a time; commits wait
/// for the state scan. For member banks, auditors and regulators only (the
/// state holds every customer's balances).
#[utoipa::path(
    get,
    path = "/v1/snapshot",
    tag = "blocks",
    responses(
        (status = 200, description = "The snapshot's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No block yet (`no_blocks`)", body = dto::ErrorBody),
        (status = 503, description = "Another snapshot is being written (`snapshot_busy`)", body = dto::ErrorBody),
    )
)]
pub(super) async fn snapshot(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let Ok(_permit) = state.snapshots.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            ErrorCode::SnapshotBusy,
            "this node is writing a snapshot for another caller; try again shortly",
        ));
    };
    if state.store.tip().map_err(internal)?.height == 0 {
        return Err(ApiError::new(
            ErrorCode::NoBlocks,
            "no block has been committed yet: a new node starts from the genesis",
        ));
    }
    let store = state.store.clone();
    let (height, bytes) = tokio::task::spawn_blocking(move || {
        let snapshot = store.snapshot().map_err(internal)?;
        let bytes = snapshot.to_bytes().map_err(internal)?;
        Ok::<_, ApiError>((snapshot.height, bytes))
    })
    .await
    .map_err(internal)??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"snapshot-{height}.chsnap\""),
            ),
        ],
        bytes,
    ))
}

/// `GET /v1/openapi.json`: this API's OpenAPI document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "node",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object))
)]
pub(super) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String))
)]
pub(super) async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// `GET /v1/validators[?height=H]`: the validator set that certifies the
/// block at `H` (the tip without it), from the chain's own record of its
/// sets (public: the headers commit to it).
#[utoipa::path(
    get,
    path = "/v1/validators",
    tag = "validators",
    params(dto::ValidatorsQuery),
    responses(
        (status = 200, description = "The set in force at the height, with its first height, hash and quorum", body = dto::ValidatorSetAt),
        (status = 400, description = "A height that is not a number (`bad_query`) or 0 (`bad_height`)", body = dto::ErrorBody),
        (status = 404, description = "A height above the tip (`future_height`)", body = dto::ErrorBody),
    )
)]
pub(super) async fn validators(
    State(state): State<ApiState>,
    query: Result<Query<dto::ValidatorsQuery>, QueryRejection>,
) -> Result<Json<dto::ValidatorSetAt>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let tip = state.store.tip().map_err(internal)?.height;
    let height = match query.height {
        None => tip.max(1),
        Some(0) => {
            return Err(ApiError::new(
                ErrorCode::BadHeight,
                "heights start at 1 (block 1 is the first after genesis)",
            ));
        }
        Some(height) if height > tip => return Err(future_height(height, tip)),
        Some(height) => height,
    };
    let (from_height, set) = state
        .store
        .validator_set_in_force(height)
        .map_err(internal)?
        .ok_or_else(|| internal(format!("the chain records no validator set for {height}")))?;
    Ok(Json(
        dto::ValidatorSetAt::new(height, tip, from_height, &set).map_err(internal)?,
    ))
}

/// `GET /v1/validators/changes[?from=H]`: every validator set the chain
/// has recorded from `from`, oldest first, each with who joined, left or
/// changed power or key, and the certified header that hands over to it.
#[utoipa::path(
    get,
    path = "/v1/validators/changes",
    tag = "validators",
    params(dto::ValidatorChangesQuery),
    responses(
        (status = 200, description = "The set changes, oldest first", body = dto::ValidatorSetChanges),
        (status = 400, description = "A bad query (`bad_query`)", body = dto::ErrorBody),
    )
)]
pub(super) async fn validator_changes(
    State(state): State<ApiState>,
    query: Result<Query<dto::ValidatorChangesQuery>, QueryRejection>,
) -> Result<Json<dto::ValidatorSetChanges>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let from = query.from.unwrap_or(1);
    let tip = state.store.tip().map_err(internal)?.height;
    let sets = state.store.validator_sets().map_err(internal)?;
    let mut changes = Vec::new();
    let mut next_from = None;
    let mut previous = None;
    for (first, set) in &sets {
        if *first >= from {
            if changes.len() == dto::VALIDATOR_CHANGES_MAX {
                next_from = Some(*first);
                break;
            }
            let handover = handover(&state, *first)?;
            changes.push(
                dto::ValidatorSetChange::new(*first, set, previous, handover).map_err(internal)?,
            );
        }
        previous = Some(set);
    }
    Ok(Json(dto::ValidatorSetChanges {
        tip,
        changes,
        next_from,
    }))
}

/// The certified header of the block before `first`, naming the set from
/// `first` as its next; `None` for the genesis set or a block not held.
fn handover(state: &ApiState, first: u64) -> Result<Option<dto::SetHandover>, ApiError> {
    let Some(before) = first.checked_sub(1).filter(|h| *h >= 1) else {
        return Ok(None);
    };
    let (Some(block), Some(certificate)) = (
        state.store.block(before).map_err(internal)?,
        state.store.certificate(before).map_err(internal)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(dto::SetHandover {
        header: hex::encode(clearhouse_ledger::codec::encode(&block.header).map_err(internal)?),
        certificate: hex::encode(clearhouse_ledger::codec::encode(&certificate).map_err(internal)?),
    }))
}

fn future_height(height: u64, tip: u64) -> ApiError {
    ApiError::new(
        ErrorCode::FutureHeight,
        format!("height {height} is above this node's tip {tip}"),
    )
}

// ---------------------------------------------------------------- helpers

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text).map_err(|e| ApiError::new(ErrorCode::BadHash, e.to_string()))
}

fn parse_height(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadHeight, format!("{text:?} is not a height")))
}

fn bad_account(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::BadAccount, error.to_string())
}

fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::new(ErrorCode::BadQuery, rejection.body_text())
}

/// A block the store does not give: below the first one it holds (a node
/// started from a snapshot, or pruning) it is `not_held`, else it does not
/// exist.
fn no_block(state: &ApiState, height: u64) -> ApiError {
    let first = state.store.first_height();
    if (1..first).contains(&height) {
        return ApiError::new(
            ErrorCode::NotHeld,
            format!(
                "this node holds the chain from height {first} (it started from a snapshot \
                 or prunes old blocks): ask an archival node for block {height}"
            ),
        );
    }
    ApiError::new(
        ErrorCode::UnknownBlock,
        format!("no block at height {height}"),
    )
}

fn decode_hex(text: &str) -> Result<Vec<u8>, ApiError> {
    hex::decode(text).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedTransaction,
            format!("transaction is not hex: {e}"),
        )
    })
}

/// Account `id` if the caller may read it. Whether a key is registered at
/// all is for banks and overseers to learn; an account asking about
/// another key is refused either way.
fn registered(state: &ApiState, caller: &Caller, id: &AccountId) -> Result<AccountState, ApiError> {
    let found = state.store.account(id).map_err(internal)?;
    match found {
        Some(account) if caller.may_see_account(id, &account.bank) => Ok(account),
        None if !matches!(caller, Caller::Account { .. }) => Err(ApiError::new(
            ErrorCode::UnknownAccount,
            format!("account {id} is not registered"),
        )),
        Some(_) | None => Err(caller.out_of_scope(format!("account {id}"))),
    }
}

/// Whether `caller` may submit `tx`: an account its own transactions, a
/// bank any (it relays payments; their own signatures authorise them).
fn may_submit(caller: &Caller, tx: &SignedTransaction) -> Result<(), ApiError> {
    let sender = tx.tx.sender;
    let allowed = match caller {
        Caller::Account { id, .. } => *id == sender,
        Caller::Bank(_) => true,
        Caller::Overseer { .. } | Caller::Public => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(caller.out_of_scope(format!("submitting a transaction sent by {sender}")))
    }
}

/// What `caller` sees of each of `block`'s transactions (`receipts`: the
/// block's, when the store holds them).
fn visible_to(
    state: &ApiState,
    caller: &Caller,
    block: &Block,
    receipts: Option<&[clearhouse_ledger::state::Receipt]>,
) -> Result<Vec<Sight>, ApiError> {
    block
        .transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| sight_of(state, caller, tx, receipts.and_then(|r| r.get(i))))
        .collect()
}

/// What `caller` sees of `tx` (committed with `receipt`, if given).
fn sight_of(
    state: &ApiState,
    caller: &Caller,
    tx: &SignedTransaction,
    receipt: Option<&clearhouse_ledger::state::Receipt>,
) -> Result<Sight, ApiError> {
    Ok(match caller {
        Caller::Overseer { .. } => Sight::Full,
        // Governance is public business (see `access`): known from the
        // body alone, without reading the parties.
        _ if is_public_business(&tx.tx.body) => Sight::Full,
        Caller::Public => Sight::Hidden,
        _ => caller.sight(&parties(&state.store, tx, receipt)?),
    })
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
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

async fn send_to_driver(
    state: &ApiState,
    transactions: Vec<Vec<u8>>,
) -> Result<Vec<Result<Hash, AdmitError>>, ApiError> {
    state
        .metrics
        .add_signature_checks(CheckSource::Api, transactions.len());
    let transactions = check_wire_off_loop(state.chain_id, transactions).await;
    let stopping = || ApiError::new(ErrorCode::ShuttingDown, "the node is stopping");
    let (reply, answer) = oneshot::channel();
    state
        .commands
        .send(Command::Submit {
            transactions,
            reply,
        })
        .await
        .map_err(|_| stopping())?;
    answer.await.map_err(|_| stopping())
}

/// Resubmitting a transaction returns its existing outcome: pending (202)
/// or final (200), instead of an error, so a client may resend the same
/// bytes until it sees a final state.
async fn existing_outcome(
    state: &ApiState,
    caller: &Caller,
    id: Option<Hash>,
    error: &AdmitError,
) -> Result<Option<(StatusCode, Json<dto::TransactionStatus>)>, ApiError> {
    let Some(id) = id else {
        return Ok(None);
    };
    match error {
        AdmitError::Duplicate(_) => Ok(Some((
            StatusCode::ACCEPTED,
            Json(dto::TransactionStatus::bare(&id, TxState::Pending)),
        ))),
        AdmitError::StaleNonce { .. } | AdmitError::Expired { .. } => {
            // The same bytes, final: their outcome. Still on their way to
            // the store (the nonce moved with the decided block before the
            // block landed): pending, as a resubmission of held bytes is.
            let (answer, is_final) = transaction_status(state, caller, &id).await?;
            Ok(if is_final {
                Some((StatusCode::OK, Json(answer)))
            } else if answer.status == TxState::Pending {
                Some((StatusCode::ACCEPTED, Json(answer)))
            } else {
                None
            })
        }
        _ => Ok(None),
    }
}

/// Where transaction `id` stands, and whether that is final.
async fn transaction_status(
    state: &ApiState,
    caller: &Caller,
    id: &Hash,
) -> Result<(dto::TransactionStatus, bool), ApiError> {
    if let Some(found) = state.store.transaction(id).map_err(internal)? {
        let sight = sight_of(state, caller, &found.transaction, Some(&found.receipt))?;
        if !sight.sees() {
            return Err(caller.out_of_scope(format!("transaction {id}")));
        }
        let is_final = found.receipt.outcome.is_final();
        let answer = dto::TransactionStatus::committed(
            id,
            found.height,
            found.index,
            dto::Receipt::new(&found.receipt),
            transaction_of(state, &found.transaction, sight),
        );
        if is_final || !pending(state, id).await? {
            return Ok((answer, is_final));
        }
    }
    let status = if pending(state, id).await? {
        TxState::Pending
    } else {
        TxState::Unknown
    };
    Ok((dto::TransactionStatus::bare(id, status), false))
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

fn decimals(state: &ApiState, asset: &AssetCode) -> Option<u8> {
    state.store.asset(asset).ok().flatten().map(|a| a.decimals)
}

fn amount_of(state: &ApiState, asset: &AssetCode, amount: Amount) -> dto::Amount {
    dto::Amount::new(asset, amount, decimals(state, asset))
}

/// A transaction as `sight` shows it: payment data opened only for a
/// caller who may read it (never for an onlooker such as the quoting bank).
fn transaction_of(state: &ApiState, signed: &SignedTransaction, sight: Sight) -> dto::Transaction {
    dto::Transaction::new(
        signed,
        &|asset, amount| amount_of(state, asset, amount),
        &|escrow| state.store.escrow(escrow).ok().flatten().map(|e| e.asset),
        match sight {
            Sight::Full => state.store.sealing(),
            Sight::WithoutDetails | Sight::Hidden => None,
        },
    )
}

fn block_with_receipts(
    state: &ApiState,
    caller: &Caller,
    height: u64,
) -> Result<dto::Block, ApiError> {
    let block = state
        .store
        .block(height)
        .map_err(internal)?
        .ok_or_else(|| no_block(state, height))?;
    let stored = state.store.receipts(height).map_err(internal)?;
    let visible = visible_to(state, caller, &block, stored.as_deref())?;
    let receipts = stored.map(|receipts| {
        receipts
            .iter()
            .zip(&visible)
            .filter(|(_, sight)| sight.sees())
            .map(|(receipt, _)| dto::Receipt::new(receipt))
            .collect()
    });
    block_of(state, &block, &visible, receipts)
}

fn block_of(
    state: &ApiState,
    block: &Block,
    visible: &[Sight],
    receipts: Option<Vec<dto::Receipt>>,
) -> Result<dto::Block, ApiError> {
    let header = &block.header;
    let transactions: Vec<dto::Transaction> = block
        .transactions
        .iter()
        .zip(visible)
        .filter(|(_, sight)| sight.sees())
        .map(|(t, sight)| transaction_of(state, t, *sight))
        .collect();
    Ok(dto::Block {
        height: header.height,
        hash: block.hash().map_err(internal)?.to_hex(),
        previous_hash: header.previous_hash.to_hex(),
        proposer: header.proposer.to_hex(),
        timestamp_ms: header.timestamp_ms,
        tx_root: header.tx_root.to_hex(),
        signatures_root: header.signatures_root.to_hex(),
        state_root: header.state_root.to_hex(),
        receipts_root: header.receipts_root.to_hex(),
        validator_set_hash: header.validator_set_hash.to_hex(),
        hidden_transactions: count(block.transactions.len() - transactions.len()),
        transactions,
        receipts,
    })
}
