//! The JSON shapes of the node's HTTP API, defined once: what the handlers
//! send and what the CLI, the testnet bench and the tests read back.
//!
//! Compiled without the `server` feature (serde only: no axum, tokio or
//! libp2p), so a client deserializes these types instead of indexing JSON
//! by string. With the `openapi` feature each type also derives its
//! OpenAPI schema, and the document served at `GET /v1/openapi.json` is
//! generated from them: the contract and the code cannot drift apart.
//!
//! Conventions of the wire: hashes, keys and canonical bytes are lower-case
//! hex strings; money is an [`Amount`] object whose numbers are strings
//! (they exceed JSON's safe integers); an optional field is either absent
//! (receipt fields that do not apply) or `null` (a value that may be
//! missing, such as a rating), as each field's documentation says. The
//! constructors from ledger types live here too, so the conversion is as
//! explicit as the shape; the handlers add only what needs the store
//! (decimals of assets, the escrow of a resolution).
//!
//! It does not: talk HTTP, read a store, or define the binary batch body
//! (that is [`super::batch`]).

use serde::{Deserialize, Serialize};

use clearhouse_ledger as ledger;
use clearhouse_ledger::state::credit::{CreditParams, rating};
use clearhouse_ledger::{AccountId, AssetCode, Hash};

pub use crate::config::Role;

/// `Display` as the wire name, for enums whose serde names are snake_case
/// of their variants: one list of names, checked against serde in a test.
macro_rules! wire_names {
    ($type:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            /// The name as written on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(<$type>::$variant => $name,)*
                }
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Most blocks one `/v1/chain` answer carries.
pub const CHAIN_BLOCKS_MAX: u64 = 100;

// ---------------------------------------------------------------- errors

/// The stable code of an API error: the `code` of [`ErrorBody`]. Scripts
/// and the CLI branch on it; the HTTP status is derived from it
/// ([`ErrorCode::http_status`]), so a code always comes with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the JSON body does not parse or has unknown fields.
    MalformedJson,
    /// 400: the body could not be read.
    UnreadableBody,
    /// 400: a transaction is not hex or does not decode.
    MalformedTransaction,
    /// 400: a binary batch body does not split into transactions.
    MalformedBatch,
    /// 400: a path's hash is not 64 hex digits.
    BadHash,
    /// 400: a path's account is not a valid key.
    BadAccount,
    /// 400: a path's height is not a number.
    BadHeight,
    /// 400: the query string does not parse.
    BadQuery,
    /// 404: no such endpoint.
    NotFound,
    /// 404: the account is not registered.
    UnknownAccount,
    /// 404: no escrow has this id.
    UnknownEscrow,
    /// 404: no live FX quote has this id.
    UnknownQuote,
    /// 404: no asset has this code.
    UnknownAsset,
    /// 404: no governance proposal has this id.
    UnknownProposal,
    /// 404: no block at this height.
    UnknownBlock,
    /// 404: no block has been committed yet.
    NoBlocks,
    /// 404: the transaction is not committed.
    UnknownTransaction,
    /// 410: the block is committed but this node does not hold it (it
    /// started from a snapshot above it, or pruned it): ask an archival node.
    NotHeld,
    /// 409: the transaction is already in the mempool.
    Duplicate,
    /// 409: the sender's nonce is already used by a committed transaction.
    NonceUsed,
    /// 409: another pending transaction of the sender holds this nonce.
    NoncePending,
    /// 413: the body exceeds the node's limit.
    BodyTooLarge,
    /// 413: more transactions than one batch may hold.
    BatchTooLarge,
    /// 422: the transaction is for another chain.
    WrongChain,
    /// 422: the signature does not verify.
    BadSignature,
    /// 422: the transaction's expiry height has passed.
    Expired,
    /// 422: the sender is not a registered account.
    UnknownSender,
    /// 422: the nonce is further ahead than the mempool accepts.
    NonceTooFarAhead,
    /// 503: the mempool is full.
    MempoolFull,
    /// 503: the node is stopping.
    ShuttingDown,
    /// 503: the node is already writing a snapshot for another caller.
    SnapshotBusy,
    /// 500: the node's own failure.
    Internal,
    /// 401: the route needs a signed request and this one carries no
    /// `authorization` header.
    Unauthenticated,
    /// 401: the `authorization` header does not parse (scheme, fields,
    /// length).
    BadAuthorization,
    /// 401: the request's signature does not verify over this request.
    BadRequestSignature,
    /// 401: the request's timestamp is outside the node's window.
    StaleRequest,
    /// 401: this (key, nonce) was already used within the window.
    ReplayedRequest,
    /// 401: the chain knows no bank, auditor, regulator or account with
    /// this key.
    UnknownCaller,
    /// 403: the caller is known but this is outside its scope.
    OutOfScope,
    /// 503: the node holds as many recent nonces as it may; try again.
    ReplayCacheFull,
    /// 429: the caller is over its request rate; `retry-after` says when
    /// to try again.
    RateLimited,
    /// 408: the request's body did not arrive within the node's bound.
    RequestTimeout,
    /// 503: the node has `api_connections_max` API connections open (sent
    /// as the connection is closed).
    TooManyConnections,
    /// 404: the height asked about is above the node's tip: nothing is
    /// known of it yet.
    FutureHeight,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 44] = [
        ErrorCode::MalformedJson,
        ErrorCode::UnreadableBody,
        ErrorCode::MalformedTransaction,
        ErrorCode::MalformedBatch,
        ErrorCode::BadHash,
        ErrorCode::BadAccount,
        ErrorCode::BadHeight,
        ErrorCode::BadQuery,
        ErrorCode::NotFound,
        ErrorCode::UnknownAccount,
        ErrorCode::UnknownEscrow,
        ErrorCode::UnknownQuote,
        ErrorCode::UnknownAsset,
        ErrorCode::UnknownProposal,
        ErrorCode::UnknownBlock,
        ErrorCode::NoBlocks,
        ErrorCode::UnknownTransaction,
        ErrorCode::NotHeld,
        ErrorCode::Duplicate,
        ErrorCode::NonceUsed,
        ErrorCode::NoncePending,
        ErrorCode::BodyTooLarge,
        ErrorCode::BatchTooLarge,
        ErrorCode::WrongChain,
        ErrorCode::BadSignature,
        ErrorCode::Expired,
        ErrorCode::UnknownSender,
        ErrorCode::NonceTooFarAhead,
        ErrorCode::MempoolFull,
        ErrorCode::ShuttingDown,
        ErrorCode::SnapshotBusy,
        ErrorCode::Internal,
        ErrorCode::Unauthenticated,
        ErrorCode::BadAuthorization,
        ErrorCode::BadRequestSignature,
        ErrorCode::StaleRequest,
        ErrorCode::ReplayedRequest,
        ErrorCode::UnknownCaller,
        ErrorCode::OutOfScope,
        ErrorCode::ReplayCacheFull,
        ErrorCode::RateLimited,
        ErrorCode::RequestTimeout,
        ErrorCode::TooManyConnections,
        ErrorCode::FutureHeight,
    ];

    /// The HTTP status that comes with this code: 400 malformed input, 404
    /// what does not exist, 409 a duplicate or taken nonce, 413 too large,
    /// 422 a well-formed transaction that cannot be accepted, 503 a node
    /// that cannot take it now, 500 the node's own failure.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson
            | ErrorCode::UnreadableBody
            | ErrorCode::MalformedTransaction
            | ErrorCode::MalformedBatch
            | ErrorCode::BadHash
            | ErrorCode::BadAccount
            | ErrorCode::BadHeight
            | ErrorCode::BadQuery => 400,
            ErrorCode::NotFound
            | ErrorCode::UnknownAccount
            | ErrorCode::UnknownEscrow
            | ErrorCode::UnknownQuote
            | ErrorCode::UnknownAsset
            | ErrorCode::UnknownProposal
            | ErrorCode::UnknownBlock
            | ErrorCode::NoBlocks
            | ErrorCode::UnknownTransaction
            | ErrorCode::FutureHeight => 404,
            ErrorCode::NotHeld => 410,
            ErrorCode::Duplicate | ErrorCode::NonceUsed | ErrorCode::NoncePending => 409,
            ErrorCode::BodyTooLarge | ErrorCode::BatchTooLarge => 413,
            ErrorCode::WrongChain
            | ErrorCode::BadSignature
            | ErrorCode::Expired
            | ErrorCode::UnknownSender
            | ErrorCode::NonceTooFarAhead => 422,
            ErrorCode::MempoolFull
            | ErrorCode::ShuttingDown
            | ErrorCode::SnapshotBusy
            | ErrorCode::ReplayCacheFull
            | ErrorCode::TooManyConnections => 503,
            ErrorCode::Internal => 500,
            ErrorCode::Unauthenticated
            | ErrorCode::BadAuthorization
            | ErrorCode::BadRequestSignature
            | ErrorCode::StaleRequest
            | ErrorCode::ReplayedRequest
            | ErrorCode::UnknownCaller => 401,
            ErrorCode::OutOfScope => 403,
            ErrorCode::RateLimited => 429,
            ErrorCode::RequestTimeout => 408,
        }
    }

    /// The code as it is written on the wire (`unknown_sender`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnreadableBody => "unreadable_body",
            ErrorCode::MalformedTransaction => "malformed_transaction",
            ErrorCode::MalformedBatch => "malformed_batch",
            ErrorCode::BadHash => "bad_hash",
            ErrorCode::BadAccount => "bad_account",
            ErrorCode::BadHeight => "bad_height",
            ErrorCode::BadQuery => "bad_query",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UnknownAccount => "unknown_account",
            ErrorCode::UnknownEscrow => "unknown_escrow",
            ErrorCode::UnknownQuote => "unknown_quote",
            ErrorCode::UnknownAsset => "unknown_asset",
            ErrorCode::UnknownProposal => "unknown_proposal",
            ErrorCode::UnknownBlock => "unknown_block",
            ErrorCode::NoBlocks => "no_blocks",
            ErrorCode::UnknownTransaction => "unknown_transaction",
            ErrorCode::NotHeld => "not_held",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::NonceUsed => "nonce_used",
            ErrorCode::NoncePending => "nonce_pending",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::WrongChain => "wrong_chain",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::Expired => "expired",
            ErrorCode::UnknownSender => "unknown_sender",
            ErrorCode::NonceTooFarAhead => "nonce_too_far_ahead",
            ErrorCode::MempoolFull => "mempool_full",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::SnapshotBusy => "snapshot_busy",
            ErrorCode::Internal => "internal",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadAuthorization => "bad_authorization",
            ErrorCode::BadRequestSignature => "bad_request_signature",
            ErrorCode::StaleRequest => "stale_request",
            ErrorCode::ReplayedRequest => "replayed_request",
            ErrorCode::UnknownCaller => "unknown_caller",
            ErrorCode::OutOfScope => "out_of_scope",
            ErrorCode::ReplayCacheFull => "replay_cache_full",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::FutureHeight => "future_height",
        }
    }

    /// The code written `text`, if this build knows it (a newer node may
    /// send codes an older client does not).
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error's stable code and human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// The stable code.
    pub code: ErrorCode,
    /// For people; its wording may change.
    pub message: String,
}

// ---------------------------------------------------------------- status

/// `GET /v1/status`: the node, its chain and its tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeStatus {
    /// The chain id (hash of the validated genesis), hex.
    pub chain_id: String,
    /// The node's name.
    pub node: String,
    /// Validator or observer.
    pub role: Role,
    /// The height of the last stored block (0 before the first).
    pub height: u64,
    /// That block's hash, hex.
    pub latest_block_hash: String,
    /// The state root after it, hex.
    pub state_root: String,
    /// The consensus round of the next height.
    pub round: u32,
    /// The validator set in force (the active members'), certifying the
    /// next block.
    pub validators: Vec<Validator>,
    /// The network keys of connected peers, hex.
    pub peers: Vec<String>,
    /// Transactions waiting in the mempool.
    pub mempool_size: u64,
    /// The member banks, suspended and removed ones included (absent from
    /// nodes older than governance).
    #[serde(default)]
    pub members: Vec<Member>,
    /// Who the node took the request to be (`role` `public` when it was
    /// not signed).
    #[serde(default)]
    pub caller: CallerInfo,
}

/// Who a request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallerInfo {
    /// `public`, `account`, `bank`, `auditor` or `regulator`.
    pub role: String,
    /// The account id (hex), bank id or overseer id; empty for `public`.
    pub id: String,
    /// For an account, its bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
}

/// `GET /v1/assets/{code}`: an asset's public facts (its supply is not
/// among them: it sums every customer's balance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asset {
    /// Its code (`CNY`).
    pub code: String,
    /// The member bank that issues it.
    pub issuer: String,
    /// Decimal places of its human unit.
    pub decimals: u8,
}

/// `GET /v1/quotes`: the live FX quotes, best first within each pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quotes {
    /// The height the answer reads (quotes valid until at least the next
    /// height are listed: a transfer sent now can still use them).
    pub height: u64,
    /// The quotes: by pair, then the best rate for the payer first, then
    /// the largest remaining size, then the oldest.
    pub quotes: Vec<Quote>,
}

/// A live FX quote (`GET /v1/quotes/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    /// Its id (the posting transaction's), hex.
    pub id: String,
    /// The bank that pays out.
    pub provider: String,
    /// `FROM/TO`: the payer pays FROM (the quote's receive asset), the
    /// payee receives TO (its pay asset).
    pub pair: String,
    /// The exact rate: minor units of TO per minor units of FROM.
    pub rate: Rate,
    /// The rate in human units (TO per one FROM), to 8 decimal places,
    /// rounded down; null when it does not fit.
    pub rate_decimal: Option<String>,
    /// What it still pays out, in TO.
    pub remaining: Amount,
    /// The last height it may be used at.
    pub valid_until: u64,
    /// The height it was posted at.
    pub posted_at: u64,
}

/// A rate in human units: how many TO (with `to_decimals`) one FROM (with
/// `from_decimals`) buys, to 8 decimal places, rounded down; `None` when it
/// does not fit in 128 bits.
pub fn rate_decimal(
    rate: ledger::amount::Rate,
    from_decimals: u8,
    to_decimals: u8,
) -> Option<String> {
    const PLACES: u32 = 8;
    // TO per FROM = numerator / denominator × 10^from / 10^to.
    let numerator = u128::from(rate.numerator)
        .checked_mul(10u128.checked_pow(u32::from(from_decimals) + PLACES)?)?;
    let denominator =
        u128::from(rate.denominator).checked_mul(10u128.checked_pow(u32::from(to_decimals))?)?;
    if denominator == 0 {
        return None;
    }
    let scaled = ledger::Amount(numerator / denominator);
    Some(scaled.to_decimal_string(u8::try_from(PLACES).ok()?))
}

/// One validator of the set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Validator {
    /// Its member bank (`bank-a`).
    pub member: String,
    /// Its ed25519 key, hex.
    pub key: String,
    /// Its voting power.
    pub voting_power: u64,
}

impl Validator {
    /// The wire shape of one ledger validator.
    pub fn new(validator: &ledger::validators::Validator) -> Validator {
        Validator {
            member: validator.member.as_str().to_owned(),
            key: validator.key.to_hex(),
            voting_power: validator.voting_power,
        }
    }
}

// ---------------------------------------------------------------- submissions

/// `POST /v1/transactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The signed transaction's wire bytes, hex.
    pub transaction: String,
}

/// `POST /v1/transactions/batch` as JSON (see [`super::batch`] for the
/// binary form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Signed transactions' wire bytes, hex.
    pub transactions: Vec<String>,
}

/// The answer to a batch: one result per transaction, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchAnswer {
    /// One per submitted transaction.
    pub results: Vec<BatchResult>,
}

/// One transaction of a batch: `{"hash"}` when admitted, else
/// `{"error": {"code", "message"}}` as a single submission would answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum BatchResult {
    /// Admitted to the mempool.
    Accepted {
        /// The transaction id, hex.
        hash: String,
    },
    /// Refused.
    Refused {
        /// Why.
        error: ErrorDetail,
    },
}

// ---------------------------------------------------------------- transactions

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Never seen, or forgotten (not in the mempool, not committed).
    Unknown,
    /// In the mempool (or committed in a block still being written).
    Pending,
    /// Committed and applied.
    Committed,
    /// Committed and rejected: only its nonce was consumed, if that.
    Rejected,
}

wire_names!(TxState {
    Unknown => "unknown",
    Pending => "pending",
    Committed => "committed",
    Rejected => "rejected",
});

wire_names!(Outcome {
    Applied => "applied",
    Rejected => "rejected",
});

impl TxState {
    /// Committed or rejected.
    pub fn is_final(self) -> bool {
        matches!(self, TxState::Committed | TxState::Rejected)
    }
}

/// What executing a committed transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its body was carried out.
    Applied,
    /// Its body was refused (see the reason).
    Rejected,
}

/// A receipt: `{"status", "outcome", "fee"}` when applied, `{"status",
/// "outcome", "reason", "reason_code"}` when rejected; in a block's
/// receipts list also `tx_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// The transaction id, hex (only in `/v1/blocks/{height}/receipts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    /// `committed` or `rejected`.
    pub status: TxState,
    /// `applied` or `rejected`.
    pub outcome: Outcome,
    /// The fee charged, minor units (applied only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<String>,
    /// Why it was rejected, for people (rejected only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rejection's stable code (rejected only), e.g. `insufficient_funds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// A swap's counterparty fee, minor units of the asset it gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_fee: Option<String>,
    /// A cross-currency transfer's second leg: what the payee received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<Conversion>,
}

/// A cross-currency transfer's conversion, as its receipt records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversion {
    /// The asset the payee received.
    pub asset: String,
    /// How much, minor units.
    pub minor_units: String,
    /// The quote's rate: minor units paid out per minor units paid in.
    pub rate: Rate,
    /// The quoting bank, whose treasury took the payer's leg and paid this one.
    pub provider: String,
}

/// An exchange rate, exact: `numerator` minor units of the asset paid out
/// per `denominator` minor units of the asset paid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rate {
    /// Minor units paid out.
    pub numerator: u64,
    /// Minor units paid in.
    pub denominator: u64,
}

impl From<ledger::amount::Rate> for Rate {
    fn from(rate: ledger::amount::Rate) -> Rate {
        Rate {
            numerator: rate.numerator,
            denominator: rate.denominator,
        }
    }
}

impl From<Rate> for ledger::amount::Rate {
    fn from(rate: Rate) -> ledger::amount::Rate {
        ledger::amount::Rate {
            numerator: rate.numerator,
            denominator: rate.denominator,
        }
    }
}

impl Receipt {
    /// A ledger receipt, without its transaction id.
    pub fn new(receipt: &ledger::state::Receipt) -> Receipt {
        use ledger::state::Outcome as O;
        let applied = |fee: &ledger::Amount| Receipt {
            tx_id: None,
            status: TxState::Committed,
            outcome: Outcome::Applied,
            fee: Some(fee.0.to_string()),
            reason: None,
            reason_code: None,
            counter_fee: None,
            converted: None,
        };
        match &receipt.outcome {
            O::Applied { fee } => applied(fee),
            O::Swapped { fee, counter_fee } => Receipt {
                counter_fee: Some(counter_fee.0.to_string()),
                ..applied(fee)
            },
            O::Converted {
                fee,
                paid_out,
                pay_asset,
                rate,
                provider,
            } => Receipt {
                converted: Some(Conversion {
                    asset: pay_asset.as_str().to_owned(),
                    minor_units: paid_out.0.to_string(),
                    rate: (*rate).into(),
                    provider: provider.as_str().to_owned(),
                }),
                ..applied(fee)
            },
            O::Rejected(reason) => Receipt {
                tx_id: None,
                status: TxState::Rejected,
                outcome: Outcome::Rejected,
                fee: None,
                reason: Some(reason.to_string()),
                reason_code: Some(reject_code(reason).to_owned()),
                counter_fee: None,
                converted: None,
            },
        }
    }

    /// A ledger receipt with its transaction id.
    pub fn with_tx_id(receipt: &ledger::state::Receipt) -> Receipt {
        Receipt {
            tx_id: Some(receipt.tx_id.to_hex()),
            ..Receipt::new(receipt)
        }
    }
}

/// `GET /v1/transactions/{hash}` (and a resubmission's final answer):
/// `{"hash", "status"}` while unknown or pending; once committed, also the
/// receipt's fields, the block position and the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransactionStatus {
    /// The transaction id, hex.
    pub hash: String,
    /// Where it stands.
    pub status: TxState,
    /// Its block (committed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Its position in the block (committed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// What executing it did (committed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The fee charged, minor units (applied only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<String>,
    /// Why it was rejected (rejected only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rejection's stable code (rejected only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// A swap's counterparty fee, minor units (swaps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_fee: Option<String>,
    /// What the payee received (cross-currency transfers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<Conversion>,
    /// The transaction itself (committed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<Transaction>,
}

impl TransactionStatus {
    /// A transaction known only by its id: unknown or pending.
    pub fn bare(hash: &Hash, status: TxState) -> TransactionStatus {
        TransactionStatus {
            hash: hash.to_hex(),
            status,
            height: None,
            index: None,
            outcome: None,
            fee: None,
            reason: None,
            reason_code: None,
            counter_fee: None,
            converted: None,
            transaction: None,
        }
    }

    /// A committed transaction: its receipt, position and body.
    pub fn committed(
        hash: &Hash,
        height: u64,
        index: u32,
        receipt: Receipt,
        transaction: Transaction,
    ) -> TransactionStatus {
        TransactionStatus {
            hash: hash.to_hex(),
            status: receipt.status,
            height: Some(height),
            index: Some(index),
            outcome: Some(receipt.outcome),
            fee: receipt.fee,
            reason: receipt.reason,
            reason_code: receipt.reason_code,
            counter_fee: receipt.counter_fee,
            converted: receipt.converted,
            transaction: Some(transaction),
        }
    }
}

/// A signed transaction as people read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transaction {
    /// Its id, hex.
    pub hash: String,
    /// The signing account, hex.
    pub sender: String,
    /// The sender's nonce.
    pub nonce: u64,
    /// The most fee the sender accepts, minor units of the fee asset.
    pub max_fee: String,
    /// The last height it may be committed at.
    pub expiry_height: u64,
    /// What it does.
    pub body: Body,
    /// The ed25519 signature, hex.
    pub signature: String,
}

/// A transaction's body, tagged by `kind` (the ledger's `Body::kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// Pay `value` to `to`.
    Transfer {
        /// The recipient, hex.
        to: String,
        /// How much.
        value: Amount,
    },
    /// A treasury issues `value` to `to`.
    Issue {
        /// The recipient, hex.
        to: String,
        /// How much.
        value: Amount,
    },
    /// A treasury redeems `value` of its own.
    Redeem {
        /// How much.
        value: Amount,
    },
    /// A bank registers an account.
    RegisterAccount {
        /// The new account, hex.
        account: String,
    },
    /// A buyer opens an escrow for `seller`.
    EscrowOpen {
        /// The seller, hex.
        seller: String,
        /// How much is held.
        value: Amount,
        /// The arbitrating bank.
        arbiter: String,
        /// The last height the buyer may release or either party dispute.
        confirm_deadline: u64,
        /// The last height the arbiter may resolve.
        arbiter_deadline: u64,
        /// The order reference, hex.
        reference: String,
    },
    /// The buyer releases an escrow to the seller.
    EscrowRelease {
        /// The escrow id, hex.
        escrow: String,
    },
    /// The seller refunds an escrow to the buyer.
    EscrowRefund {
        /// The escrow id, hex.
        escrow: String,
    },
    /// A party disputes an escrow.
    EscrowDispute {
        /// The escrow id, hex.
        escrow: String,
    },
    /// The arbiter splits a disputed escrow.
    EscrowResolve {
        /// The escrow id, hex.
        escrow: String,
        /// The seller's share (`asset` and `amount` are null when the node
        /// no longer knows the escrow).
        to_seller: Amount,
    },
    /// A bank grants a credit line.
    CreditGrant {
        /// The borrower, hex.
        account: String,
        /// The line's limit.
        limit: Amount,
        /// Blocks a draw may stay open.
        period_blocks: u64,
    },
    /// A bank revokes a credit line.
    CreditRevoke {
        /// The borrower, hex.
        account: String,
        /// The line's asset.
        asset: String,
    },
    /// A bank attests to an account's conduct.
    CreditAttest {
        /// The account, hex.
        account: String,
        /// Good or bad.
        positive: bool,
        /// What it is about.
        category: String,
        /// The evidence reference, hex.
        reference: String,
    },
    /// Pay `value` to `to` with payment data.
    Payment {
        /// The recipient, hex.
        to: String,
        /// How much.
        value: Amount,
        /// How the payment data travels, and whether this answer could
        /// read it (absent from nodes older than sealed details: clear).
        #[serde(default)]
        details: DetailsForm,
        /// The payer's end-to-end id (ISO 20022 `EndToEndId`); absent when
        /// sealed and this node cannot open it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_to_end_id: Option<String>,
        /// Remittance information (empty: none); absent when sealed and
        /// this node cannot open it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remittance: Option<String>,
        /// The sealing keys (hex) sealed details are sealed for; empty in
        /// the clear.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sealed_for: Vec<String>,
    },
    /// An atomic swap: `give` from the sender to `counterparty`, `take`
    /// back, both or neither.
    Swap {
        /// The counterparty, hex.
        counterparty: String,
        /// What the sender gives.
        give: Amount,
        /// What the sender receives.
        take: Amount,
        /// The most fee the counterparty accepts, minor units of `take`'s asset.
        counter_fee: String,
        /// The counterparty's consent signature, hex.
        counter_signature: String,
    },
    /// A bank posts an FX quote.
    QuotePost {
        /// What the bank pays out.
        pay_asset: String,
        /// What it takes in.
        receive_asset: String,
        /// Minor units paid out per minor units taken in.
        rate: Rate,
        /// The most it pays out in all.
        maximum: Amount,
        /// The last height it may be used at.
        valid_until: u64,
    },
    /// A bank withdraws a quote.
    QuoteWithdraw {
        /// The quote id, hex.
        quote: String,
    },
    /// Pay `value` through an FX quote: `to` receives the quote's other
    /// asset (the receipt's `converted`).
    CrossTransfer {
        /// The recipient, hex.
        to: String,
        /// What the payer pays.
        value: Amount,
        /// The quote id, hex.
        quote: String,
        /// How the payment data travels (see `payment`).
        #[serde(default)]
        details: DetailsForm,
        /// The payer's end-to-end id; absent when sealed and unreadable here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_to_end_id: Option<String>,
        /// Remittance information; absent when sealed and unreadable here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remittance: Option<String>,
        /// The sealing keys (hex) sealed details are sealed for.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sealed_for: Vec<String>,
    },
    /// A member bank's governance account proposes a change of the
    /// network; the proposal's id is this transaction's (see
    /// `GET /v1/governance/proposals/{id}`).
    Propose {
        /// What would change.
        action: Action,
        /// Blocks during which votes count, the proposing one included.
        voting_period: u64,
    },
    /// A member bank's governance account votes on a proposal.
    Vote {
        /// The proposal id, hex.
        proposal: String,
        /// `true` for yes.
        approve: bool,
    },
}

/// Payment data as an answer shows it: how it travels, the end-to-end id
/// and remittance where this answer may read them, and who it is sealed for.
struct ShownDetails {
    form: DetailsForm,
    end_to_end_id: Option<String>,
    remittance: Option<String>,
    sealed_for: Vec<String>,
}

impl ShownDetails {
    fn of(
        tx: &ledger::Transaction,
        details: &ledger::payment::PaymentDetails,
        sealing: Option<&ledger::sealed::SealingSecret>,
    ) -> ShownDetails {
        let data = tx.payment_data(sealing);
        let sealed_for: Vec<String> = details
            .sealed()
            .map(|sealed| sealed.recipients().map(|key| key.to_hex()).collect())
            .unwrap_or_default();
        let form = match (details.sealed(), &data) {
            (None, _) => DetailsForm::Clear,
            (Some(_), Some(_)) => DetailsForm::Sealed,
            (Some(_), None) => DetailsForm::SealedUnreadable,
        };
        ShownDetails {
            form,
            end_to_end_id: data
                .as_ref()
                .map(|data| data.end_to_end_id.as_str().to_owned()),
            remittance: data.map(|data| data.remittance.as_str().to_owned()),
            sealed_for,
        }
    }
}

/// How a payment's data travels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DetailsForm {
    /// In the clear: every node reads it.
    #[default]
    Clear,
    /// Sealed for both banks and the regulators; this node opened it for a
    /// caller who may see the payment.
    Sealed,
    /// Sealed, and this node cannot open it (it serves no recipient, or the
    /// payer sealed bytes that do not open).
    SealedUnreadable,
}

impl Transaction {
    /// A signed transaction; `amount` renders an asset's amount (the
    /// handlers know the assets' decimals), `resolve_asset` finds the asset
    /// of the escrow a resolution splits, `sealing` opens sealed payment
    /// data (the node's sealing secret; pass it only for a caller who may
    /// see the payment).
    pub fn new(
        signed: &ledger::SignedTransaction,
        amount: &dyn Fn(&AssetCode, ledger::Amount) -> Amount,
        resolve_asset: &dyn Fn(&Hash) -> Option<AssetCode>,
        sealing: Option<&ledger::sealed::SealingSecret>,
    ) -> Transaction {
        use ledger::tx::Body as B;
        let tx = &signed.tx;
        let body = match &tx.body {
            B::Transfer {
                to,
                asset,
                amount: a,
            } => Body::Transfer {
                to: to.to_hex(),
                value: amount(asset, *a),
            },
            B::Issue {
                to,
                asset,
                amount: a,
            } => Body::Issue {
                to: to.to_hex(),
                value: amount(asset, *a),
            },
            B::Redeem { asset, amount: a } => Body::Redeem {
                value: amount(asset, *a),
            },
            B::RegisterAccount { account } => Body::RegisterAccount {
                account: account.to_hex(),
            },
            B::EscrowOpen {
                seller,
                asset,
                amount: a,
                arbiter,
                confirm_deadline,
                arbiter_deadline,
                reference,
            } => Body::EscrowOpen {
                seller: seller.to_hex(),
                value: amount(asset, *a),
                arbiter: arbiter.as_str().to_owned(),
                confirm_deadline: *confirm_deadline,
                arbiter_deadline: *arbiter_deadline,
                reference: reference.to_hex(),
            },
            B::EscrowRelease { escrow } => Body::EscrowRelease {
                escrow: escrow.to_hex(),
            },
            B::EscrowRefund { escrow } => Body::EscrowRefund {
                escrow: escrow.to_hex(),
            },
            B::EscrowDispute { escrow } => Body::EscrowDispute {
                escrow: escrow.to_hex(),
            },
            B::EscrowResolve { escrow, to_seller } => Body::EscrowResolve {
                escrow: escrow.to_hex(),
                to_seller: match resolve_asset(escrow) {
                    Some(asset) => amount(&asset, *to_seller),
                    None => Amount {
                        asset: None,
                        minor_units: to_seller.0.to_string(),
                        amount: None,
                    },
                },
            },
            B::CreditGrant {
                account,
                asset,
                limit,
                period_blocks,
            } => Body::CreditGrant {
                account: account.to_hex(),
                limit: amount(asset, *limit),
                period_blocks: *period_blocks,
            },
            B::CreditRevoke { account, asset } => Body::CreditRevoke {
                account: account.to_hex(),
                asset: asset.as_str().to_owned(),
            },
            B::CreditAttest {
                account,
                positive,
                category,
                reference,
            } => Body::CreditAttest {
                account: account.to_hex(),
                positive: *positive,
                category: category.as_str().to_owned(),
                reference: reference.to_hex(),
            },
            B::Payment {
                to,
                asset,
                amount: a,
                details,
            } => {
                let shown = ShownDetails::of(tx, details, sealing);
                Body::Payment {
                    to: to.to_hex(),
                    value: amount(asset, *a),
                    details: shown.form,
                    end_to_end_id: shown.end_to_end_id,
                    remittance: shown.remittance,
                    sealed_for: shown.sealed_for,
                }
            }
            B::Swap {
                counterparty,
                give_asset,
                give_amount,
                take_asset,
                take_amount,
                counter_fee,
                counter_signature,
            } => Body::Swap {
                counterparty: counterparty.to_hex(),
                give: amount(give_asset, *give_amount),
                take: amount(take_asset, *take_amount),
                counter_fee: counter_fee.0.to_string(),
                counter_signature: counter_signature.to_hex(),
            },
            B::QuotePost {
                pay_asset,
                receive_asset,
                rate,
                maximum,
                valid_until,
            } => Body::QuotePost {
                pay_asset: pay_asset.as_str().to_owned(),
                receive_asset: receive_asset.as_str().to_owned(),
                rate: (*rate).into(),
                maximum: amount(pay_asset, *maximum),
                valid_until: *valid_until,
            },
            B::QuoteWithdraw { quote } => Body::QuoteWithdraw {
                quote: quote.to_hex(),
            },
            B::CrossTransfer {
                to,
                asset,
                amount: a,
                quote,
                details,
            } => {
                let shown = ShownDetails::of(tx, details, sealing);
                Body::CrossTransfer {
                    to: to.to_hex(),
                    value: amount(asset, *a),
                    quote: quote.to_hex(),
                    details: shown.form,
                    end_to_end_id: shown.end_to_end_id,
                    remittance: shown.remittance,
                    sealed_for: shown.sealed_for,
                }
            }
            B::Propose {
                action,
                voting_period,
            } => Body::Propose {
                action: Action::new(action, amount),
                voting_period: *voting_period,
            },
            B::Vote { proposal, approve } => Body::Vote {
                proposal: proposal.to_hex(),
                approve: *approve,
            },
        };
        Transaction {
            hash: signed.id().map(|h| h.to_hex()).unwrap_or_default(),
            sender: tx.sender.to_hex(),
            nonce: tx.nonce,
            max_fee: tx.fee.0.to_string(),
            expiry_height: tx.expiry_height,
            body,
            signature: signed.signature.to_hex(),
        }
    }
}

impl Body {
    /// The `kind` tag, as the ledger's `Body::kind` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Transfer { .. } => "transfer",
            Body::Issue { .. } => "issue",
            Body::Redeem { .. } => "redeem",
            Body::RegisterAccount { .. } => "register_account",
            Body::EscrowOpen { .. } => "escrow_open",
            Body::EscrowRelease { .. } => "escrow_release",
            Body::EscrowRefund { .. } => "escrow_refund",
            Body::EscrowDispute { .. } => "escrow_dispute",
            Body::EscrowResolve { .. } => "escrow_resolve",
            Body::CreditGrant { .. } => "credit_grant",
            Body::CreditRevoke { .. } => "credit_revoke",
            Body::CreditAttest { .. } => "credit_attest",
            Body::Payment { .. } => "payment",
            Body::Swap { .. } => "swap",
            Body::QuotePost { .. } => "quote_post",
            Body::QuoteWithdraw { .. } => "quote_withdraw",
            Body::CrossTransfer { .. } => "cross_transfer",
            Body::Propose { .. } => "propose",
            Body::Vote { .. } => "vote",
        }
    }

    /// The amount the body moves or grants, if it has one.
    pub fn value(&self) -> Option<&Amount> {
        match self {
            Body::Transfer { value, .. }
            | Body::Payment { value, .. }
            | Body::CrossTransfer { value, .. }
            | Body::Issue { value, .. }
            | Body::Redeem { value }
            | Body::EscrowOpen { value, .. } => Some(value),
            Body::EscrowResolve { to_seller, .. } => Some(to_seller),
            Body::CreditGrant { limit, .. } => Some(limit),
            Body::Swap { give, .. } => Some(give),
            Body::QuotePost { maximum, .. } => Some(maximum),
            Body::RegisterAccount { .. }
            | Body::QuoteWithdraw { .. }
            | Body::EscrowRelease { .. }
            | Body::EscrowRefund { .. }
            | Body::EscrowDispute { .. }
            | Body::CreditRevoke { .. }
            | Body::CreditAttest { .. }
            | Body::Propose { .. }
            | Body::Vote { .. } => None,
        }
    }
}

/// A stable code per rejection reason: a receipt's `reason_code`.
pub fn reject_code(reason: &ledger::state::RejectReason) -> &'static str {
    use ledger::state::RejectReason as R;
    match reason {
        R::Expired { .. } => "expired",
        R::UnknownSender => "unknown_sender",
        R::BadNonce { .. } => "bad_nonce",
        R::NonceExhausted => "nonce_exhausted",
        R::UnknownAccount(_) => "unknown_account",
        R::UnknownAsset(_) => "unknown_asset",
        R::ZeroAmount => "zero_amount",
        R::SelfTransfer => "self_transfer",
        R::InsufficientFunds { .. } => "insufficient_funds",
        R::FeeAboveMaximum { .. } => "fee_above_maximum",
        R::NotIssuer { .. } => "not_issuer",
        R::NotBank => "not_bank",
        R::AccountExists(_) => "account_exists",
        R::InvalidKey => "invalid_key",
        R::WeakKey => "weak_key",
        R::Overflow(_) => "overflow",
        R::EscrowNotFound(_) => "escrow_not_found",
        R::EscrowSettled(_) => "escrow_settled",
        R::WrongEscrowStatus { .. } => "wrong_escrow_status",
        R::NotBuyer => "not_buyer",
        R::NotSeller => "not_seller",
        R::NotParty => "not_party",
        R::NotArbiter { .. } => "not_arbiter",
        R::SellerIsBuyer => "seller_is_buyer",
        R::UnknownMember(_) => "unknown_member",
        R::DeadlinePassed { .. } => "deadline_passed",
        R::DeadlineOrder { .. } => "deadline_order",
        R::DeadlineTooFar { .. } => "deadline_too_far",
        R::SplitTooLarge { .. } => "split_too_large",
        R::DueListFull { .. } => "due_list_full",
        R::NotHostingBank { .. } => "not_hosting_bank",
        R::CreditForBank => "credit_for_bank",
        R::CreditNotOffered(_) => "credit_not_offered",
        R::PeriodInvalid { .. } => "period_invalid",
        R::NoCreditLine(_) => "no_credit_line",
        R::LenderInsufficientFunds { .. } => "lender_insufficient_funds",
        R::ReservedKey(_) => "reserved_key",
        R::NoSealingKey(_) => "no_sealing_key",
        R::NotSealedFor(_) => "not_sealed_for",
        R::UnknownSealingKey(_) => "unknown_sealing_key",
        R::SealedForOutsider(_) => "sealed_for_outsider",
        R::BadConsent => "bad_consent",
        R::SameAsset(_) => "same_asset",
        R::InvalidRate(_) => "invalid_rate",
        R::QuoteNotFound(_) => "quote_not_found",
        R::QuoteExpired { .. } => "quote_expired",
        R::QuoteAssetMismatch { .. } => "quote_asset_mismatch",
        R::QuoteExhausted { .. } => "quote_exhausted",
        R::ConversionTooSmall { .. } => "conversion_too_small",
        R::QuoteUnfunded { .. } => "quote_unfunded",
        R::NotQuoteProvider(_) => "not_quote_provider",
        R::TooManyQuotes { .. } => "too_many_quotes",
        R::BankNotActive { .. } => "bank_not_active",
        R::NotGovernor => "not_governor",
        R::VotingPeriodInvalid { .. } => "voting_period_invalid",
        R::TooManyProposals { .. } => "too_many_proposals",
        R::UnknownProposal(_) => "unknown_proposal",
        R::ProposalClosed { .. } => "proposal_closed",
        R::AlreadyVoted(_) => "already_voted",
        R::NotVoting(_) => "not_voting",
        R::MemberExists(_) => "member_exists",
        R::MemberStatusMismatch { .. } => "member_status_mismatch",
        R::KeyInUse(_) => "key_in_use",
        R::UnusableKey(_) => "unusable_key",
        R::TooFewValidators { .. } => "too_few_validators",
        R::PowerConcentration { .. } => "power_concentration",
        R::NoChange => "no_change",
        R::AssetExists(_) => "asset_exists",
        R::ActionInvalid { .. } => "action_invalid",
        R::UnknownEvidence(_) => "unknown_evidence",
    }
}

// ---------------------------------------------------------------- money

/// An amount of an asset: `{"asset", "minor_units", "amount"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Amount {
    /// The asset code (`CNY`); null only in an escrow resolution whose
    /// escrow the node no longer knows.
    pub asset: Option<String>,
    /// The amount in minor units, a decimal string.
    pub minor_units: String,
    /// The amount with the asset's decimals (`12.50`); null when the node
    /// does not know the asset.
    pub amount: Option<String>,
}

impl Amount {
    /// `value` of `asset`; `decimals` is `None` for an unknown asset.
    pub fn new(asset: &AssetCode, value: ledger::Amount, decimals: Option<u8>) -> Amount {
        Amount {
            asset: Some(asset.as_str().to_owned()),
            minor_units: value.0.to_string(),
            amount: decimals.map(|d| value.to_decimal_string(d)),
        }
    }
}

// ---------------------------------------------------------------- accounts

/// `GET /v1/accounts/{account}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    /// The account id (its ed25519 key), hex.
    pub account: String,
    /// The bank that registered it.
    pub bank: String,
    /// Its next nonce.
    pub nonce: u64,
    /// What it holds, one entry per asset (zero balances are not stored).
    pub balances: Vec<Amount>,
    /// What it owes on its credit lines, one entry per asset drawn.
    pub owed: Vec<Amount>,
    /// Its trust rating (null if the rating version is unknown).
    pub rating: Option<u16>,
}

// ---------------------------------------------------------------- escrows

/// An escrow's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscrowStatus {
    /// Holding the money, undisputed.
    Open,
    /// Holding the money, awaiting the arbiter.
    Disputed,
    /// Paid out; holds nothing.
    Settled,
}

/// How an escrow settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SettledBy {
    /// The buyer released it.
    ReleasedByBuyer,
    /// The seller refunded it.
    RefundedBySeller,
    /// Its confirm deadline passed undisputed.
    AutoReleased,
    /// The arbiter split it.
    ResolvedByArbiter,
    /// Its arbiter deadline passed unresolved.
    AutoRefunded,
}

wire_names!(EscrowStatus {
    Open => "open",
    Disputed => "disputed",
    Settled => "settled",
});

wire_names!(SettledBy {
    ReleasedByBuyer => "released_by_buyer",
    RefundedBySeller => "refunded_by_seller",
    AutoReleased => "auto_released",
    ResolvedByArbiter => "resolved_by_arbiter",
    AutoRefunded => "auto_refunded",
});

impl SettledBy {
    /// The ledger's settlement kind.
    pub fn new(how: ledger::state::escrow::SettledBy) -> SettledBy {
        use ledger::state::escrow::SettledBy as S;
        match how {
            S::ReleasedByBuyer => SettledBy::ReleasedByBuyer,
            S::RefundedBySeller => SettledBy::RefundedBySeller,
            S::AutoReleased => SettledBy::AutoReleased,
            S::ResolvedByArbiter => SettledBy::ResolvedByArbiter,
            S::AutoRefunded => SettledBy::AutoRefunded,
        }
    }
}

/// `GET /v1/escrows/{id}`: an escrow by the id of its opening transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Escrow {
    /// The opening transaction's id, hex.
    pub id: String,
    /// The buyer, hex.
    pub buyer: String,
    /// The seller, hex.
    pub seller: String,
    /// What was put in.
    pub value: Amount,
    /// What it holds now.
    pub held: Amount,
    /// The arbitrating bank.
    pub arbiter: String,
    /// The order reference, hex.
    pub reference: String,
    /// The height it opened at.
    pub opened_at: u64,
    /// The last height the buyer may release or either party dispute.
    pub confirm_deadline: u64,
    /// The last height the arbiter may resolve.
    pub arbiter_deadline: u64,
    /// Open, disputed or settled.
    pub status: EscrowStatus,
    /// Who disputed it and when (null if undisputed).
    pub dispute: Option<Dispute>,
    /// How it settled (null until settled).
    pub settlement: Option<Settlement>,
}

/// A dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispute {
    /// The disputing party, hex.
    pub by: String,
    /// The height.
    pub at: u64,
}

/// A settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settlement {
    /// The height.
    pub at: u64,
    /// How.
    pub how: SettledBy,
    /// Paid to the seller.
    pub to_seller: Amount,
    /// Paid back to the buyer.
    pub to_buyer: Amount,
}

impl Escrow {
    /// The escrow `id`; `decimals` are its asset's (`None` if unknown).
    pub fn new(
        id: &Hash,
        escrow: &ledger::state::escrow::EscrowState,
        decimals: Option<u8>,
    ) -> Escrow {
        use ledger::state::escrow::EscrowStatus as S;
        let money = |value: ledger::Amount| Amount::new(&escrow.asset, value, decimals);
        let (status, settlement) = match &escrow.status {
            S::Open => (EscrowStatus::Open, None),
            S::Disputed => (EscrowStatus::Disputed, None),
            S::Settled(settlement) => (
                EscrowStatus::Settled,
                Some(Settlement {
                    at: settlement.at,
                    how: SettledBy::new(settlement.how),
                    to_seller: money(settlement.to_seller),
                    to_buyer: money(settlement.to_buyer),
                }),
            ),
        };
        Escrow {
            id: id.to_hex(),
            buyer: escrow.buyer.to_hex(),
            seller: escrow.seller.to_hex(),
            value: money(escrow.amount),
            held: money(escrow.held()),
            arbiter: escrow.arbiter.as_str().to_owned(),
            reference: escrow.reference.to_hex(),
            opened_at: escrow.opened_at,
            confirm_deadline: escrow.confirm_deadline,
            arbiter_deadline: escrow.arbiter_deadline,
            status,
            dispute: escrow.dispute.as_ref().map(|d| Dispute {
                by: d.by.to_hex(),
                at: d.at,
            }),
            settlement,
        }
    }
}

// ---------------------------------------------------------------- credit

/// `GET /v1/credit/{account}`: credit record, trust rating and lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credit {
    /// The account, hex.
    pub account: String,
    /// Its bank.
    pub bank: String,
    /// Its trust rating (null if the rating version is unknown).
    pub rating: Option<u16>,
    /// The rating formula in force (genesis `credit.rating_version`).
    pub rating_version: u16,
    /// The least rating that unlocks a line's full limit.
    pub min_rating: u16,
    /// The record the rating is computed from.
    pub record: CreditRecord,
    /// Its credit lines, one per asset.
    pub lines: Vec<CreditLine>,
}

/// One credit line, with its usable limit and headroom now (`available` is
/// what the limit allows; a draw also needs the lending treasury to hold
/// the money).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditLine {
    /// The line's asset.
    pub asset: String,
    /// The granted limit.
    pub limit: Amount,
    /// The limit the rating allows now.
    pub usable: Amount,
    /// What is drawn.
    pub drawn: Amount,
    /// What may still be drawn.
    pub available: Amount,
    /// What is overdue.
    pub overdue: Amount,
    /// Blocks a draw may stay open.
    pub period_blocks: u64,
    /// The height it was granted at.
    pub granted_at: u64,
    /// The open debt (null when nothing is drawn).
    pub debt: Option<Debt>,
}

/// An open debt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Debt {
    /// The height of the first draw.
    pub since: u64,
    /// The height it falls due.
    pub due: u64,
    /// Whether it is past due.
    pub overdue: bool,
}

/// An account's credit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditRecord {
    /// Payments sent, per asset.
    pub payments_sent: Vec<PaymentTally>,
    /// Payments received, per asset.
    pub payments_received: Vec<PaymentTally>,
    /// Escrows by how they ended.
    pub escrows: EscrowTally,
    /// Credit drawn, repaid and gone overdue, per asset.
    pub credit: Vec<CreditTally>,
    /// Debts repaid by their due height.
    pub repaid_on_time: u64,
    /// Debts that went overdue.
    pub overdue_events: u64,
    /// Debts overdue now.
    pub overdue_open: u64,
    /// The latest attestation of each bank.
    pub attestations: Vec<Attestation>,
    /// How many banks attest positively and negatively.
    pub attesting_banks: AttestingBanks,
    /// Attestations ever filed.
    pub attestations_filed: u64,
}

/// Payments of one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentTally {
    /// The asset.
    pub asset: String,
    /// How many.
    pub count: u64,
    /// How much in all.
    pub volume: Amount,
}

/// Escrows by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EscrowTally {
    /// Released to the seller.
    pub completed: u64,
    /// Refunded to the buyer.
    pub refunded: u64,
    /// Disputed.
    pub disputed: u64,
    /// Disputes won.
    pub won: u64,
    /// Disputes lost.
    pub lost: u64,
}

/// Credit of one asset over the account's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditTally {
    /// The asset.
    pub asset: String,
    /// Drawn in all.
    pub drawn: Amount,
    /// Repaid in all.
    pub repaid: Amount,
    /// Gone overdue in all.
    pub overdue: Amount,
}

/// A bank's attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attestation {
    /// The attesting bank.
    pub bank: String,
    /// Good or bad.
    pub positive: bool,
    /// What it is about.
    pub category: String,
    /// The evidence reference, hex.
    pub reference: String,
    /// The height.
    pub at: u64,
}

/// Counts of attesting banks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttestingBanks {
    /// Banks whose latest attestation is positive.
    pub positive: u64,
    /// Banks whose latest attestation is negative.
    pub negative: u64,
}

/// The rating of a record under the parameters in force (`None` if the
/// version is unknown to this node, which genesis validation rules out).
pub fn rating_of(
    record: &ledger::state::credit::CreditRecord,
    params: &CreditParams,
) -> Option<u16> {
    rating(record, params.rating_version)
}

impl CreditLine {
    /// The line of `asset` under `params` at `rating`.
    pub fn new(
        asset: &AssetCode,
        line: &ledger::state::credit::CreditLine,
        params: &CreditParams,
        rating: u16,
        decimals: Option<u8>,
    ) -> CreditLine {
        let money = |value: ledger::Amount| Amount::new(asset, value, decimals);
        let usable = line.usable(params, asset, rating);
        CreditLine {
            asset: asset.as_str().to_owned(),
            limit: money(line.limit),
            usable: money(usable),
            drawn: money(line.drawn),
            available: money(ledger::Amount(usable.0.saturating_sub(line.drawn.0))),
            overdue: money(line.overdue()),
            period_blocks: line.period_blocks,
            granted_at: line.granted_at,
            debt: line.debt.map(|debt| Debt {
                since: debt.since,
                due: debt.due,
                overdue: debt.overdue,
            }),
        }
    }
}

impl CreditRecord {
    /// A ledger credit record; `decimals` tells each asset's.
    pub fn new(
        record: &ledger::state::credit::CreditRecord,
        decimals: &dyn Fn(&AssetCode) -> Option<u8>,
    ) -> CreditRecord {
        let money = |asset: &AssetCode, value| Amount::new(asset, value, decimals(asset));
        let tallies =
            |tallies: &std::collections::BTreeMap<AssetCode, ledger::state::credit::Tally>| {
                tallies
                    .iter()
                    .map(|(asset, tally)| PaymentTally {
                        asset: asset.as_str().to_owned(),
                        count: tally.count,
                        volume: money(asset, tally.volume),
                    })
                    .collect()
            };
        let (positive, negative) = record.attesting_banks();
        CreditRecord {
            payments_sent: tallies(&record.sent),
            payments_received: tallies(&record.received),
            escrows: EscrowTally {
                completed: record.escrows.completed,
                refunded: record.escrows.refunded,
                disputed: record.escrows.disputed,
                won: record.escrows.won,
                lost: record.escrows.lost,
            },
            credit: record
                .credit
                .iter()
                .map(|(asset, tally)| CreditTally {
                    asset: asset.as_str().to_owned(),
                    drawn: money(asset, tally.drawn),
                    repaid: money(asset, tally.repaid),
                    overdue: money(asset, tally.overdue),
                })
                .collect(),
            repaid_on_time: record.repaid_on_time,
            overdue_events: record.overdue_events,
            overdue_open: record.overdue_open,
            attestations: record
                .attestations
                .iter()
                .map(|(bank, a)| Attestation {
                    bank: bank.as_str().to_owned(),
                    positive: a.positive,
                    category: a.category.as_str().to_owned(),
                    reference: a.reference.to_hex(),
                    at: a.at,
                })
                .collect(),
            attesting_banks: AttestingBanks { positive, negative },
            attestations_filed: record.attestations_filed,
        }
    }
}

impl Credit {
    /// `/v1/credit/{account}` of `account` under `params`.
    pub fn new(
        id: &AccountId,
        account: &ledger::state::AccountState,
        params: &ledger::state::Params,
        decimals: &dyn Fn(&AssetCode) -> Option<u8>,
    ) -> Credit {
        let rating = rating_of(&account.record, &params.credit);
        Credit {
            account: id.to_hex(),
            bank: account.bank.as_str().to_owned(),
            rating,
            rating_version: params.credit.rating_version,
            min_rating: params.credit.min_rating,
            record: CreditRecord::new(&account.record, decimals),
            lines: account
                .lines
                .iter()
                .map(|(asset, line)| {
                    CreditLine::new(
                        asset,
                        line,
                        &params.credit,
                        rating.unwrap_or(0),
                        decimals(asset),
                    )
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- governance

/// The most proposals one `GET /v1/governance/proposals` answer lists.
pub const PROPOSALS_MAX: usize = 200;

/// A member bank as the chain lists it (`GET /v1/status`'s `members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// Its id (`bank-a`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Active, suspended or removed.
    pub status: MemberStatus,
    /// Its validator's voting power (counted only while active).
    pub voting_power: u64,
    /// The key its validator signs with, hex.
    pub validator_key: String,
    /// Its libp2p identity's ed25519 public key, hex.
    pub network_key: String,
    /// Its treasury account, hex.
    pub treasury: String,
    /// Its governance account, hex: proposes and votes.
    pub governance: String,
    /// Its nodes' libp2p listen addresses (multiaddr text).
    pub addresses: Vec<String>,
}

impl Member {
    /// A ledger member.
    pub fn new(member: &ledger::state::Member) -> Member {
        Member {
            id: member.id.as_str().to_owned(),
            name: member.name.clone(),
            status: MemberStatus::new(member.status),
            voting_power: member.voting_power,
            validator_key: member.validator_key.to_hex(),
            network_key: hex::encode(member.network_key),
            treasury: member.treasury.to_hex(),
            governance: member.governance.to_hex(),
            addresses: member.addresses.clone(),
        }
    }
}

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Its validator counts, its accounts transact.
    Active,
    /// Its validator does not count and its accounts send nothing.
    Suspended,
    /// Gone for good.
    Removed,
}

wire_names!(MemberStatus {
    Active => "active",
    Suspended => "suspended",
    Removed => "removed",
});

impl MemberStatus {
    /// The ledger's status.
    pub fn new(status: ledger::state::governance::MemberStatus) -> MemberStatus {
        use ledger::state::governance::MemberStatus as S;
        match status {
            S::Active => MemberStatus::Active,
            S::Suspended => MemberStatus::Suspended,
            S::Removed => MemberStatus::Removed,
        }
    }
}

/// What a proposal changes, tagged by `kind` (the ledger's `Action::kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Admit a bank: a member, its validator, its treasury and governance
    /// accounts.
    AddMember {
        /// Its id.
        id: String,
        /// Its display name.
        name: String,
        /// Its validator's key, hex.
        validator_key: String,
        /// Its libp2p identity's ed25519 public key, hex.
        network_key: String,
        /// Its validator's voting power.
        voting_power: u64,
        /// Its treasury account, hex.
        treasury: String,
        /// Its governance account, hex.
        governance: String,
        /// Its back office's API request key, hex (null: none).
        api_key: Option<String>,
        /// Its X25519 sealing key, hex (null: none).
        sealing_key: Option<String>,
        /// Its nodes' listen addresses (multiaddr text).
        addresses: Vec<String>,
    },
    /// Remove a member for good.
    RemoveMember {
        /// The member.
        member: String,
    },
    /// Suspend an active member.
    SuspendMember {
        /// The member.
        member: String,
    },
    /// Reinstate a suspended member.
    ReinstateMember {
        /// The member.
        member: String,
    },
    /// Suspend the member whose validator signed twice, citing evidence on
    /// record.
    SuspendForEvidence {
        /// The evidence id, hex.
        evidence: String,
    },
    /// Change a member's voting power.
    SetVotingPower {
        /// The member.
        member: String,
        /// Its new power.
        voting_power: u64,
    },
    /// Replace a member's validator key.
    RotateValidatorKey {
        /// The member.
        member: String,
        /// The new key, hex.
        validator_key: String,
    },
    /// Replace a member's published listen addresses.
    SetAddresses {
        /// The member.
        member: String,
        /// The new list.
        addresses: Vec<String>,
    },
    /// Register a new asset.
    RegisterAsset {
        /// Its code.
        code: String,
        /// Decimal places of its human unit.
        decimals: u8,
        /// The issuing member.
        issuer: String,
    },
    /// Set (or, with a null rule, remove) an asset's fee rule.
    SetFee {
        /// The asset.
        asset: String,
        /// The new rule (null: transfers of it move free).
        rule: Option<FeeRule>,
    },
    /// Change a chain parameter.
    SetParams {
        /// Which, and to what.
        change: ParamChange,
    },
}

/// An asset's fee rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeeRule {
    /// Charged on every transfer.
    pub flat: Amount,
    /// Plus this many basis points of the amount.
    pub basis_points: u16,
    /// The receiving bank's share of the fee, in basis points of the fee.
    pub receiving_share: u16,
}

/// A change of a chain parameter, tagged by `param`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "param", rename_all = "snake_case")]
pub enum ParamChange {
    /// The escrow horizon (genesis `[escrow] deadline_blocks_max`).
    EscrowDeadlineMax {
        /// The latest arbiter deadline, in blocks after opening.
        deadline_blocks_max: u64,
    },
    /// The credit terms (genesis `[credit]`, caps apart).
    Credit {
        /// The trust rating formula.
        rating_version: u16,
        /// Below it no credit is usable.
        min_rating: u16,
        /// The longest repayment period of a grant, in blocks.
        period_blocks_max: u64,
    },
    /// One asset's credit cap per rating point.
    CreditCap {
        /// The asset.
        asset: String,
        /// The cap per rating point (null: no credit in it).
        per_point: Option<Amount>,
    },
    /// The governance limits (genesis `[governance]`).
    Governance {
        /// Blocks from passing to taking effect.
        activation_offset: u64,
        /// The shortest voting period, in blocks.
        voting_period_min: u64,
        /// The longest voting period, in blocks.
        voting_period_max: u64,
    },
}

impl Action {
    /// A ledger action; `amount` renders an asset's amount (the handlers
    /// know the assets' decimals).
    pub fn new(
        action: &ledger::state::governance::Action,
        amount: &dyn Fn(&AssetCode, ledger::Amount) -> Amount,
    ) -> Action {
        use ledger::state::governance::{Action as A, ParamChange as P};
        let member = |id: &ledger::MemberId| id.as_str().to_owned();
        match action {
            A::AddMember(new) => Action::AddMember {
                id: member(&new.id),
                name: new.name.clone(),
                validator_key: new.validator_key.to_hex(),
                network_key: hex::encode(new.network_key),
                voting_power: new.voting_power,
                treasury: new.treasury.to_hex(),
                governance: new.governance.to_hex(),
                api_key: new.api_key.map(hex::encode),
                sealing_key: new.sealing_key.map(|key| key.to_hex()),
                addresses: new.addresses.clone(),
            },
            A::RemoveMember { member: id } => Action::RemoveMember { member: member(id) },
            A::SuspendMember { member: id } => Action::SuspendMember { member: member(id) },
            A::ReinstateMember { member: id } => Action::ReinstateMember { member: member(id) },
            A::SuspendForEvidence { evidence } => Action::SuspendForEvidence {
                evidence: evidence.to_hex(),
            },
            A::SetVotingPower {
                member: id,
                voting_power,
            } => Action::SetVotingPower {
                member: member(id),
                voting_power: *voting_power,
            },
            A::RotateValidatorKey {
                member: id,
                validator_key,
            } => Action::RotateValidatorKey {
                member: member(id),
                validator_key: validator_key.to_hex(),
            },
            A::SetAddresses {
                member: id,
                addresses,
            } => Action::SetAddresses {
                member: member(id),
                addresses: addresses.clone(),
            },
            A::RegisterAsset {
                code,
                decimals,
                issuer,
            } => Action::RegisterAsset {
                code: code.as_str().to_owned(),
                decimals: *decimals,
                issuer: member(issuer),
            },
            A::SetFee { asset, rule } => Action::SetFee {
                asset: asset.as_str().to_owned(),
                rule: rule.map(|rule| FeeRule {
                    flat: amount(asset, rule.flat),
                    basis_points: rule.basis_points,
                    receiving_share: rule.receiving_share,
                }),
            },
            A::SetParams(change) => Action::SetParams {
                change: match change {
                    P::EscrowDeadlineMax(blocks) => ParamChange::EscrowDeadlineMax {
                        deadline_blocks_max: *blocks,
                    },
                    P::Credit {
                        rating_version,
                        min_rating,
                        period_blocks_max,
                    } => ParamChange::Credit {
                        rating_version: *rating_version,
                        min_rating: *min_rating,
                        period_blocks_max: *period_blocks_max,
                    },
                    P::CreditCap { asset, per_point } => ParamChange::CreditCap {
                        asset: asset.as_str().to_owned(),
                        per_point: per_point.map(|cap| amount(asset, cap)),
                    },
                    P::Governance(limits) => ParamChange::Governance {
                        activation_offset: limits.activation_offset,
                        voting_period_min: limits.voting_period_min,
                        voting_period_max: limits.voting_period_max,
                    },
                },
            },
        }
    }

    /// The `kind` tag, as the ledger's `Action::kind` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::AddMember { .. } => "add_member",
            Action::RemoveMember { .. } => "remove_member",
            Action::SuspendMember { .. } => "suspend_member",
            Action::ReinstateMember { .. } => "reinstate_member",
            Action::SetVotingPower { .. } => "set_voting_power",
            Action::RotateValidatorKey { .. } => "rotate_validator_key",
            Action::SetAddresses { .. } => "set_addresses",
            Action::RegisterAsset { .. } => "register_asset",
            Action::SetFee { .. } => "set_fee",
            Action::SetParams { .. } => "set_params",
            Action::SuspendForEvidence { .. } => "suspend_for_evidence",
        }
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Votes are being taken.
    Voting,
    /// More than two thirds of the power voted yes; it takes effect at
    /// `activates_at`.
    Passed,
    /// It took effect.
    Applied,
    /// It passed but no longer fitted the state when it was due.
    Failed,
    /// At least a third of the power voted no.
    Rejected,
    /// Its voting period ended without a decision.
    Expired,
}

wire_names!(ProposalStatus {
    Voting => "voting",
    Passed => "passed",
    Applied => "applied",
    Failed => "failed",
    Rejected => "rejected",
    Expired => "expired",
});

impl ProposalStatus {
    /// Voting or waiting to take effect.
    pub fn is_open(self) -> bool {
        matches!(self, ProposalStatus::Voting | ProposalStatus::Passed)
    }
}

/// Which proposals `GET /v1/governance/proposals` lists: one status, or
/// `open` (voting or passed and waiting to take effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProposalFilter {
    /// Voting, or passed and not yet in effect.
    Open,
    /// Voting.
    Voting,
    /// Passed, not yet in effect.
    Passed,
    /// Took effect.
    Applied,
    /// Passed but failed when due.
    Failed,
    /// Voted down.
    Rejected,
    /// Undecided at the end of its voting period.
    Expired,
}

wire_names!(ProposalFilter {
    Open => "open",
    Voting => "voting",
    Passed => "passed",
    Applied => "applied",
    Failed => "failed",
    Rejected => "rejected",
    Expired => "expired",
});

impl ProposalFilter {
    /// Whether a proposal in `status` is listed.
    pub fn admits(self, status: ProposalStatus) -> bool {
        match self {
            ProposalFilter::Open => status.is_open(),
            ProposalFilter::Voting => status == ProposalStatus::Voting,
            ProposalFilter::Passed => status == ProposalStatus::Passed,
            ProposalFilter::Applied => status == ProposalStatus::Applied,
            ProposalFilter::Failed => status == ProposalStatus::Failed,
            ProposalFilter::Rejected => status == ProposalStatus::Rejected,
            ProposalFilter::Expired => status == ProposalStatus::Expired,
        }
    }
}

/// `GET /v1/governance/proposals?status=…&limit=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ProposalsQuery {
    /// Only proposals in this status (`open`: voting or passed and not yet
    /// in effect); all without it.
    pub status: Option<ProposalFilter>,
    /// At most this many, newest proposed first (default and most
    /// [`PROPOSALS_MAX`]).
    pub limit: Option<usize>,
}

/// One member's vote on a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProposalVote {
    /// The member.
    pub member: String,
    /// `true` for yes.
    pub approve: bool,
}

/// The voting power for, against and in all, counted with the power each
/// member holds now (a suspended or removed member counts nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tally {
    /// Power of the yes votes.
    pub yes: u64,
    /// Power of the no votes.
    pub no: u64,
    /// All the power in force.
    pub total: u64,
}

impl From<ledger::state::governance::Tally> for Tally {
    fn from(tally: ledger::state::governance::Tally) -> Tally {
        Tally {
            yes: tally.yes,
            no: tally.no,
            total: tally.total,
        }
    }
}

/// `GET /v1/governance/proposals/{id}`: a proposal by the id of its
/// proposing transaction. Fields that do not apply to its status are
/// absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Proposal {
    /// The proposing transaction's id, hex.
    pub id: String,
    /// The member that proposed it.
    pub proposer: String,
    /// What it changes.
    pub action: Action,
    /// The height it was proposed at.
    pub proposed_at: u64,
    /// The last height a vote counts.
    pub voting_ends: u64,
    /// Each member's vote, the proposer's yes included, by member id.
    pub votes: Vec<ProposalVote>,
    /// Where it stands.
    pub status: ProposalStatus,
    /// The height it reached that status: the deciding vote (passed,
    /// rejected), the block it took effect or failed in (applied, failed),
    /// the first height after its voting period (expired); absent while
    /// voting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at: Option<u64>,
    /// The block it takes effect in (passed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activates_at: Option<u64>,
    /// Why it failed, for people (failed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it failed, the rejection's stable code (failed only), e.g.
    /// `asset_exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Its votes weighed with the member list in force now.
    pub tally: Tally,
}

impl Proposal {
    /// Proposal `id`, tallied against `members` (the list in force);
    /// `amount` renders an action's amounts.
    pub fn new(
        id: &Hash,
        proposal: &ledger::state::governance::Proposal,
        members: &[ledger::state::Member],
        amount: &dyn Fn(&AssetCode, ledger::Amount) -> Amount,
    ) -> Proposal {
        use ledger::state::governance::ProposalStatus as S;
        let (status, status_at, activates_at, failure) = match &proposal.status {
            S::Voting => (ProposalStatus::Voting, None, None, None),
            S::Passed { at, activates_at } => {
                (ProposalStatus::Passed, Some(*at), Some(*activates_at), None)
            }
            S::Applied { at } => (ProposalStatus::Applied, Some(*at), None, None),
            S::Failed { at, reason } => (ProposalStatus::Failed, Some(*at), None, Some(reason)),
            S::Rejected { at } => (ProposalStatus::Rejected, Some(*at), None, None),
            S::Expired { at } => (ProposalStatus::Expired, Some(*at), None, None),
        };
        Proposal {
            id: id.to_hex(),
            proposer: proposal.proposer.as_str().to_owned(),
            action: Action::new(&proposal.action, amount),
            proposed_at: proposal.proposed_at,
            voting_ends: proposal.voting_ends,
            votes: proposal
                .votes
                .iter()
                .map(|(member, approve)| ProposalVote {
                    member: member.as_str().to_owned(),
                    approve: *approve,
                })
                .collect(),
            status,
            status_at,
            activates_at,
            reason: failure.map(ToString::to_string),
            reason_code: failure.map(|reason| reject_code(reason).to_owned()),
            tally: ledger::state::governance::Tally::count(members, &proposal.votes).into(),
        }
    }
}

/// `GET /v1/governance/proposals`: proposals, newest proposed first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Proposals {
    /// The height the answer reads.
    pub height: u64,
    /// The proposals (at most `limit`).
    pub proposals: Vec<Proposal>,
}

// ---------------------------------------------------------------- blocks

/// `GET /v1/blocks/{height}` and `/v1/blocks/latest`: a header, its
/// transactions and (when stored) their receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Block {
    /// Its height.
    pub height: u64,
    /// Its hash, hex.
    pub hash: String,
    /// The previous block's hash, hex.
    pub previous_hash: String,
    /// The proposing validator's key, hex.
    pub proposer: String,
    /// The proposer's clock, informative only.
    pub timestamp_ms: u64,
    /// The transactions' Merkle root, hex.
    pub tx_root: String,
    /// The Merkle root of the transactions' signature hashes, hex.
    pub signatures_root: String,
    /// The state root after the block, hex.
    pub state_root: String,
    /// The receipts' root, hex.
    pub receipts_root: String,
    /// The validator set's hash, hex.
    pub validator_set_hash: String,
    /// Its transactions the caller may see, in order (the header commits
    /// to all of them).
    pub transactions: Vec<Transaction>,
    /// Their receipts, in the same order (absent if not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts: Option<Vec<Receipt>>,
    /// How many of the block's transactions are outside the caller's scope
    /// and left out.
    #[serde(default)]
    pub hidden_transactions: u64,
}

/// `GET /v1/blocks/{height}/receipts`: a block's receipts alone, each with
/// its transaction id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockReceipts {
    /// The block's height.
    pub height: u64,
    /// The receipts the caller may see, each with `tx_id`.
    pub receipts: Vec<Receipt>,
    /// How many receipts are outside the caller's scope and left out.
    #[serde(default)]
    pub hidden_transactions: u64,
}

/// `GET /v1/blocks/{height}/certificate`: the commit certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Certificate {
    /// The height.
    pub height: u64,
    /// The deciding round.
    pub round: u32,
    /// The certified block's hash, hex.
    pub block_hash: String,
    /// The precommits.
    pub votes: Vec<Vote>,
}

/// One precommit of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vote {
    /// The validator's key, hex.
    pub validator: String,
    /// Its signature, hex.
    pub signature: String,
}

/// The query of `GET /v1/chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ChainQuery {
    /// First height.
    pub from: u64,
    /// How many blocks (capped at [`CHAIN_BLOCKS_MAX`]).
    pub count: Option<u64>,
}

/// `GET /v1/transactions?end_to_end_id=…`: what to look for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct TransactionQuery {
    /// The end-to-end id the payments carry.
    pub end_to_end_id: String,
    /// At most this many, newest first (default 50, at most
    /// [`TRANSACTION_SEARCH_MAX`]).
    pub limit: Option<usize>,
}

/// `GET /v1/sealing-keys?from=…&to=…`: the payment to seal data for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct SealingQuery {
    /// The payer, hex.
    pub from: String,
    /// The payee, hex.
    pub to: String,
}

/// `GET /v1/quotes?pair=FROM/TO`: the quotes of one pair (all without it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct QuotesQuery {
    /// `FROM/TO`, e.g. `CNY/USD`: quotes that take FROM and pay out TO.
    pub pair: Option<String>,
}

/// Whom a payment's data is sealed for: the payer's and the payee's banks
/// and every regulator (required: the chain refuses sealed data that
/// leaves one out), and the auditors that publish a key (optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealingKeys {
    /// One entry per party, the payer's bank first.
    pub recipients: Vec<SealingRecipient>,
}

/// One party a payment's data may be sealed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealingRecipient {
    /// Its id (`bank-a`, `regulator`).
    pub party: String,
    /// `bank`, `regulator` or `auditor`.
    pub role: String,
    /// Its X25519 sealing key, hex; absent when it publishes none (a bank
    /// without one cannot receive or send sealed data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing_key: Option<String>,
    /// Whether the chain requires the data to be sealed for it.
    pub required: bool,
}

/// The most payments one search answers.
pub const TRANSACTION_SEARCH_MAX: usize = 100;

/// The committed payments carrying an end-to-end id that the caller may
/// see (its own, its customers', or all for an auditor or regulator),
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransactionSearch {
    /// The end-to-end id looked for.
    pub end_to_end_id: String,
    /// The payments, each as `GET /v1/transactions/{hash}` shows it.
    pub transactions: Vec<TransactionStatus>,
}

/// `GET /v1/chain`: committed blocks with their certificates as canonical
/// bytes, for auditors who verify everything themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainPage {
    /// The node's height when it answered.
    pub tip: u64,
    /// Consecutive blocks from `from` (empty past the tip).
    pub blocks: Vec<ChainBlock>,
}

/// One block of a [`ChainPage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainBlock {
    /// Its height.
    pub height: u64,
    /// The block's canonical bytes, hex.
    pub block: String,
    /// The certificate's canonical bytes, hex.
    pub certificate: String,
}

/// The query of `GET /v1/transactions/{hash}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct WaitQuery {
    /// Wait up to this long for a final state (capped by the node's
    /// `api_wait_ms_max`).
    pub wait_ms: Option<u64>,
}

/// `GET /v1/proofs/transactions/{hash}`: an inclusion proof of a committed
/// transaction with the certified header, bytes as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransactionProof {
    /// The block's height.
    pub height: u64,
    /// The transaction's position in it.
    pub index: u32,
    /// The transaction's wire bytes, hex.
    pub transaction: String,
    /// The block header's canonical bytes, hex.
    pub header: String,
    /// The certificate's canonical bytes, hex.
    pub certificate: String,
    /// The node's receipt (certified by the header's receipts root, which
    /// this proof does not open).
    pub receipt: Receipt,
    /// The Merkle path to the header's transaction root.
    pub proof: MerklePath,
}

/// A Merkle inclusion path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MerklePath {
    /// The leaf's position.
    pub index: u32,
    /// How many leaves the tree has.
    pub leaf_count: u32,
    /// Sibling hashes from the leaf up, hex.
    pub siblings: Vec<String>,
}

impl MerklePath {
    /// The ledger's proof.
    pub fn new(proof: &ledger::merkle::InclusionProof) -> MerklePath {
        MerklePath {
            index: proof.index,
            leaf_count: proof.leaf_count,
            siblings: proof.siblings.iter().map(Hash::to_hex).collect(),
        }
    }
}

// ---------------------------------------------------------------- validators

/// The most set changes one `GET /v1/validators/changes` answer lists
/// (each carries its set, up to 512 validators, and the certified header
/// that hands over to it).
pub const VALIDATOR_CHANGES_MAX: usize = 64;

/// `GET /v1/validators?height=H`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ValidatorsQuery {
    /// The height (≥ 1, at most the tip) whose certifying set is asked
    /// for; the tip without it.
    pub height: Option<u64>,
}

/// `GET /v1/validators[?height=H]`: the validator set that certifies the
/// block at `height`, as the chain records it (`StateKey::ValidatorSetFrom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatorSetAt {
    /// The height asked about (the tip without `height`; 1 before the
    /// first block, whose set is the genesis one).
    pub height: u64,
    /// The node's tip when it answered.
    pub tip: u64,
    /// The first height this set certifies (1: the genesis set).
    pub from_height: u64,
    /// The set's hash, hex: what the headers it certifies carry as
    /// `validator_set_hash`.
    pub set_hash: String,
    /// The sum of the voting powers.
    pub total_power: u64,
    /// The least power a commit certificate must gather (more than two
    /// thirds of the total).
    pub quorum_power: u64,
    /// The validators, in the set's order (which fixes proposer rotation).
    pub validators: Vec<Validator>,
}

impl ValidatorSetAt {
    /// The answer for `height` at `tip`, from the set in force there and
    /// its first height.
    pub fn new(
        height: u64,
        tip: u64,
        from_height: u64,
        set: &ledger::validators::ValidatorSet,
    ) -> Result<ValidatorSetAt, ledger::codec::CodecError> {
        Ok(ValidatorSetAt {
            height,
            tip,
            from_height,
            set_hash: set.hash()?.to_hex(),
            total_power: set.total_power(),
            quorum_power: set.quorum_power(),
            validators: set.validators().iter().map(Validator::new).collect(),
        })
    }
}

/// `GET /v1/validators/changes?from=H`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ValidatorChangesQuery {
    /// Only the sets whose first height is at least this (default 1: from
    /// the genesis set); at most [`VALIDATOR_CHANGES_MAX`] of them.
    pub from: Option<u64>,
}

/// `GET /v1/validators/changes`: the chain's record of its validator
/// sets, oldest first, each with what changed from the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatorSetChanges {
    /// The node's tip when it answered.
    pub tip: u64,
    /// The sets from `from`, oldest first. The last may start at `tip + 1`:
    /// the set the tip's header names to certify the next block.
    pub changes: Vec<ValidatorSetChange>,
    /// Ask again with `from` = this for the sets after a full page; absent
    /// when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from: Option<u64>,
}

/// One validator set of the record and how it differs from the previous
/// one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatorSetChange {
    /// The first height it certifies (1: the genesis set).
    pub from_height: u64,
    /// Its hash, hex.
    pub set_hash: String,
    /// The sum of its voting powers.
    pub total_power: u64,
    /// The least power a certificate must gather under it.
    pub quorum_power: u64,
    /// Its validators, in order.
    pub validators: Vec<Validator>,
    /// Validators of members not in the previous set (the whole set for
    /// the genesis one).
    pub joined: Vec<Validator>,
    /// Validators of the previous set whose member is not in this one
    /// (removed or suspended).
    pub left: Vec<Validator>,
    /// Members in both whose voting power changed.
    pub power_changed: Vec<PowerChange>,
    /// Members in both whose validator key was rotated.
    pub key_changed: Vec<KeyChange>,
    /// The certified header of block `from_height - 1`, which names this
    /// set as the next (`next_validator_set_hash`), with its certificate
    /// by the previous set: what lets a client that trusts only the
    /// genesis follow the sets. Absent for the genesis set, and for a
    /// block this node does not hold (started from a snapshot, or pruned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<SetHandover>,
}

/// A certified header handing over from one validator set to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetHandover {
    /// The canonical header bytes, hex.
    pub header: String,
    /// The canonical commit certificate bytes, hex.
    pub certificate: String,
}

/// A member whose voting power changed between two sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PowerChange {
    /// The member bank.
    pub member: String,
    /// Its power in the previous set.
    pub from: u64,
    /// Its power in this one.
    pub to: u64,
}

/// A member whose validator key changed between two sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyChange {
    /// The member bank.
    pub member: String,
    /// Its key in the previous set, hex.
    pub from: String,
    /// Its key in this one, hex.
    pub to: String,
}

impl ValidatorSetChange {
    /// The set first certifying `from_height`, compared with `previous`
    /// (`None` for the genesis set: everyone joined).
    pub fn new(
        from_height: u64,
        set: &ledger::validators::ValidatorSet,
        previous: Option<&ledger::validators::ValidatorSet>,
        handover: Option<SetHandover>,
    ) -> Result<ValidatorSetChange, ledger::codec::CodecError> {
        let before: &[ledger::validators::Validator] =
            previous.map_or(&[], |previous| previous.validators());
        let now = set.validators();
        let find = |list: &[ledger::validators::Validator], member: &ledger::MemberId| {
            list.iter().find(|v| v.member == *member).cloned()
        };
        let mut joined = Vec::new();
        let mut power_changed = Vec::new();
        let mut key_changed = Vec::new();
        for validator in now {
            match find(before, &validator.member) {
                None => joined.push(Validator::new(validator)),
                Some(old) => {
                    if old.voting_power != validator.voting_power {
                        power_changed.push(PowerChange {
                            member: validator.member.as_str().to_owned(),
                            from: old.voting_power,
                            to: validator.voting_power,
                        });
                    }
                    if old.key != validator.key {
                        key_changed.push(KeyChange {
                            member: validator.member.as_str().to_owned(),
                            from: old.key.to_hex(),
                            to: validator.key.to_hex(),
                        });
                    }
                }
            }
        }
        let left = before
            .iter()
            .filter(|old| find(now, &old.member).is_none())
            .map(Validator::new)
            .collect();
        Ok(ValidatorSetChange {
            from_height,
            set_hash: set.hash()?.to_hex(),
            total_power: set.total_power(),
            quorum_power: set.quorum_power(),
            validators: now.iter().map(Validator::new).collect(),
            joined,
            left,
            power_changed,
            key_changed,
            handover,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_written_as_serde_writes_them_and_parse_back() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn every_error_code_is_listed_once() {
        // `as_str` and `http_status` are exhaustive matches, so a new code
        // cannot compile without a name and a status; here ALL must hold
        // each name once (a copied line shows up as a duplicate).
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn display_names_are_the_wire_names() {
        fn same<T: Serialize + std::fmt::Display>(values: &[T]) {
            for value in values {
                let json = serde_json::to_string(value).unwrap();
                assert_eq!(json, format!("\"{value}\""));
            }
        }
        same(&[
            TxState::Unknown,
            TxState::Pending,
            TxState::Committed,
            TxState::Rejected,
        ]);
        same(&[Outcome::Applied, Outcome::Rejected]);
        same(&[
            EscrowStatus::Open,
            EscrowStatus::Disputed,
            EscrowStatus::Settled,
        ]);
        same(&[
            MemberStatus::Active,
            MemberStatus::Suspended,
            MemberStatus::Removed,
        ]);
        same(&[
            ProposalStatus::Voting,
            ProposalStatus::Passed,
            ProposalStatus::Applied,
            ProposalStatus::Failed,
            ProposalStatus::Rejected,
            ProposalStatus::Expired,
        ]);
        same(&[
            ProposalFilter::Open,
            ProposalFilter::Voting,
            ProposalFilter::Passed,
            ProposalFilter::Applied,
            ProposalFilter::Failed,
            ProposalFilter::Rejected,
            ProposalFilter::Expired,
        ]);
        same(&[
            SettledBy::ReleasedByBuyer,
            SettledBy::RefundedBySeller,
            SettledBy::AutoReleased,
            SettledBy::ResolvedByArbiter,
            SettledBy::AutoRefunded,
        ]);
        // And the ledger's own names (what the API wrote before the DTOs).
        use ledger::state::escrow::SettledBy as S;
        for how in [
            S::ReleasedByBuyer,
            S::RefundedBySeller,
            S::AutoReleased,
            S::ResolvedByArbiter,
            S::AutoRefunded,
        ] {
            assert_eq!(SettledBy::new(how).as_str(), how.name());
        }
    }

    #[test]
    fn statuses_follow_the_documented_classes() {
        assert_eq!(ErrorCode::UnknownSender.http_status(), 422);
        assert_eq!(ErrorCode::NoncePending.http_status(), 409);
        assert_eq!(ErrorCode::BatchTooLarge.http_status(), 413);
        assert_eq!(ErrorCode::UnknownBlock.http_status(), 404);
        assert_eq!(ErrorCode::MempoolFull.http_status(), 503);
    }

    #[test]
    fn receipt_fields_that_do_not_apply_are_absent() {
        let status = TransactionStatus::bare(&Hash([1; 32]), TxState::Pending);
        let json = serde_json::to_value(&status).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["hash", "status"]);
        let back: TransactionStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, status);
    }

    #[test]
    fn batch_results_are_told_apart_by_their_fields() {
        let results: Vec<BatchResult> = serde_json::from_str(
            r#"[{"hash": "ab"}, {"error": {"code": "bad_signature", "message": "m"}}]"#,
        )
        .unwrap();
        assert_eq!(results[0], BatchResult::Accepted { hash: "ab".into() });
        assert!(matches!(
            &results[1],
            BatchResult::Refused { error } if error.code == ErrorCode::BadSignature
        ));
    }

    #[test]
    fn actions_are_tagged_by_the_ledgers_kind_and_render_amounts() {
        use ledger::state::governance::{Action as A, GovernanceParams, ParamChange as P};
        let cny = AssetCode::new("CNY").unwrap();
        let bank = ledger::MemberId::new("bank-1").unwrap();
        let amount = |asset: &AssetCode, value: ledger::Amount| Amount::new(asset, value, Some(2));
        let actions = [
            A::RemoveMember {
                member: bank.clone(),
            },
            A::SuspendMember {
                member: bank.clone(),
            },
            A::ReinstateMember {
                member: bank.clone(),
            },
            A::SetVotingPower {
                member: bank.clone(),
                voting_power: 5,
            },
            A::RotateValidatorKey {
                member: bank.clone(),
                validator_key: ledger::validators::ValidatorKey([3; 32]),
            },
            A::SetAddresses {
                member: bank.clone(),
                addresses: vec!["/ip4/10.0.0.1/tcp/7000".into()],
            },
            A::RegisterAsset {
                code: AssetCode::new("GBP").unwrap(),
                decimals: 2,
                issuer: bank.clone(),
            },
            A::SetFee {
                asset: cny.clone(),
                rule: Some(ledger::state::FeeRule {
                    flat: ledger::Amount(125),
                    basis_points: 2,
                    receiving_share: 3_000,
                }),
            },
            A::SetParams(P::CreditCap {
                asset: cny.clone(),
                per_point: Some(ledger::Amount(1_000)),
            }),
            A::SetParams(P::Governance(GovernanceParams::default())),
            A::SuspendForEvidence {
                evidence: ledger::Hash([4; 32]),
            },
        ];
        for action in &actions {
            let shown = Action::new(action, &amount);
            assert_eq!(shown.kind(), action.kind());
            let json = serde_json::to_value(&shown).unwrap();
            assert_eq!(json["kind"], action.kind());
            let back: Action = serde_json::from_value(json).unwrap();
            assert_eq!(back, shown);
        }
        let fee = serde_json::to_value(Action::new(&actions[7], &amount)).unwrap();
        assert_eq!(fee["rule"]["flat"]["amount"], "1.25");
        let cap = serde_json::to_value(Action::new(&actions[8], &amount)).unwrap();
        assert_eq!(cap["change"]["param"], "credit_cap");
        assert_eq!(cap["change"]["per_point"]["amount"], "10.00");
    }

    #[test]
    fn the_open_filter_admits_voting_and_passed_proposals_only() {
        use ProposalStatus as S;
        let all = [
            S::Voting,
            S::Passed,
            S::Applied,
            S::Failed,
            S::Rejected,
            S::Expired,
        ];
        let open: Vec<S> = all
            .into_iter()
            .filter(|s| ProposalFilter::Open.admits(*s))
            .collect();
        assert_eq!(open, [S::Voting, S::Passed]);
        assert!(ProposalFilter::Failed.admits(S::Failed));
        assert!(!ProposalFilter::Failed.admits(S::Applied));
    }

    #[test]
    fn bodies_are_tagged_by_the_ledgers_kind() {
        let body = Body::EscrowRelease { escrow: "e".into() };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["kind"], body.kind());
        assert_eq!(json["escrow"], "e");
    }
}
