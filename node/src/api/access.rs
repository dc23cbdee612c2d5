//! Who is calling, and what they may see (feature `server`): the one place
//! the API's access rules live.
//!
//! [`authenticate`] runs before every route: a request without an
//! `authorization` header is [`Caller::Public`]; one with a header is
//! checked (see [`super::auth`]: scheme, clock window, a key the chain
//! knows, the signature over this exact request, the nonce not seen
//! before) and becomes the bank, auditor, regulator or account that
//! signed it, or is refused with a 401 code. Each route then declares its
//! [`Access`] in `router::routes`, enforced by [`require`] before the
//! handler runs; a handler that serves many parties' data filters it with
//! [`Caller::may_see`] and [`Caller::may_see_account`] (403
//! `out_of_scope` for what the caller may not see).
//!
//! The scopes: an account sees its own state and the transactions it is a
//! party to; a member bank sees its customers' state and every transaction
//! one of its customers is a party to (or it arbitrates), and relays
//! payments; an account submits its own; auditors and regulators see everything. Block headers,
//! certificates, the node's status, the OpenAPI document and metrics are
//! public, and so are the validator sets (`/v1/validators`, its
//! `changes`): the headers commit to them, and whoever checks a
//! certificate needs them.
//!
//! Governance is the network's public business: a proposal or a vote
//! ([`is_public_business`]) has no private party, and the banks that are
//! bound by its outcome, the customers whose bank it may suspend and the
//! public that trusts the chain all have the same claim to it. So every
//! caller that sees transactions at all sees these in full: accounts,
//! banks and overseers wherever they see transactions, and an unsigned
//! caller in the blocks it may read (where it otherwise sees headers
//! only); the proposals themselves are served publicly by
//! `/v1/governance/proposals`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use clearhouse_ledger::state::OverseerRole;
use clearhouse_ledger::state::governance::MemberStatus;
use clearhouse_ledger::store::{Store, StoreError};
use clearhouse_ledger::tx::Body as TxBody;
use clearhouse_ledger::{AccountId, ChainId, MemberId, SignedTransaction};

use super::auth::{Credentials, NONCE_BYTES, RequestParts, SKEW_MS_MAX, signing_bytes};
use super::dto::{self, ErrorCode};
use super::front::{Bucket, rate_limited};
use super::router::{ApiError, ApiState, internal};

/// Most (key, nonce) pairs remembered at once: at the window of
/// [`SKEW_MS_MAX`] either way, about 2,000 signed requests a second held
/// for their whole window. A full cache refuses new signed requests with
/// 503 `replay_cache_full` rather than forget a nonce early.
pub const REPLAY_CACHE_MAX: usize = 262_144;

/// Who sent a request (a bank's treasury key counts as the bank).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No `authorization` header.
    Public,
    /// A registered account, by its own key.
    Account {
        /// The account.
        id: AccountId,
        /// The bank hosting it.
        bank: MemberId,
    },
    /// A member bank, by its API key.
    Bank(MemberId),
    /// An auditor or regulator.
    Overseer {
        /// Its id.
        id: MemberId,
        /// Which.
        role: OverseerRole,
    },
}

impl Caller {
    /// `public`, `account`, `bank`, `auditor` or `regulator`.
    pub fn role(&self) -> &'static str {
        match self {
            Caller::Public => "public",
            Caller::Account { .. } => "account",
            Caller::Bank(_) => "bank",
            Caller::Overseer { role, .. } => role.as_str(),
        }
    }

    /// Who, for messages and `/v1/status`.
    pub fn info(&self) -> dto::CallerInfo {
        let (id, bank) = match self {
            Caller::Public => (String::new(), None),
            Caller::Account { id, bank } => (id.to_hex(), Some(bank.as_str().to_owned())),
            Caller::Bank(id) | Caller::Overseer { id, .. } => (id.as_str().to_owned(), None),
        };
        dto::CallerInfo {
            role: self.role().to_owned(),
            id,
            bank,
        }
    }

    /// Reads everything.
    pub fn is_overseer(&self) -> bool {
        matches!(self, Caller::Overseer { .. })
    }

    /// May read the state of account `id`, hosted by `bank`.
    pub fn may_see_account(&self, id: &AccountId, bank: &MemberId) -> bool {
        match self {
            Caller::Public => false,
            Caller::Account { id: own, .. } => own == id,
            Caller::Bank(own) => own == bank,
            Caller::Overseer { .. } => true,
        }
    }

    /// May see a transaction with these parties.
    pub fn may_see(&self, parties: &Parties) -> bool {
        self.sight(parties).sees()
    }

    /// What this caller sees of a transaction with these parties.
    pub fn sight(&self, parties: &Parties) -> Sight {
        // Public business (governance): everyone who sees transactions
        // at all sees it whole; it carries no payment data to hold back.
        if parties.public {
            return Sight::Full;
        }
        let full = match self {
            Caller::Public => false,
            Caller::Account { id, .. } => parties.accounts.contains(id),
            Caller::Bank(bank) => parties.banks.contains(bank),
            Caller::Overseer { .. } => true,
        };
        match self {
            _ if full => Sight::Full,
            Caller::Bank(bank) if parties.onlookers.contains(bank) => Sight::WithoutDetails,
            _ => Sight::Hidden,
        }
    }

    /// The 403 for something outside this caller's scope.
    pub fn out_of_scope(&self, what: impl std::fmt::Display) -> ApiError {
        let who = match self {
            Caller::Public => "an unsigned request".to_owned(),
            Caller::Account { id, .. } => format!("account {id}"),
            Caller::Bank(id) => format!("bank {id}"),
            Caller::Overseer { id, role } => format!("{} {id}", role.as_str()),
        };
        ApiError::new(
            ErrorCode::OutOfScope,
            format!("{what} is outside the scope of {who}"),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, ApiError> {
        // `authenticate` runs before every route; a request without its
        // mark is a router built without it, our own bug.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| internal("the request passed no authentication"))
    }
}

/// Who may call a route (the `Access` column of the README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed or not.
    Public,
    /// Anyone; what is private in the answer is filtered to the caller's
    /// scope (block headers are public, their transactions are not).
    Filtered,
    /// A signed request; the handler answers within the caller's scope.
    Scoped,
    /// A signed request by an account (its own transactions) or a member
    /// bank (any: a bank relays payments, and the payment's own signature
    /// is what authorises it).
    Submit,
    /// Member banks, auditors and regulators.
    Members,
    /// Auditors and regulators only.
    Overseers,
}

/// Every role, in the README table's column order.
pub const ROLES: [&str; 5] = ["public", "account", "bank", "auditor", "regulator"];

impl Access {
    /// What `role` gets from a route with this access, as the README
    /// table says it: `yes`, `own` (within its scope), `headers` (the
    /// public part) or `no`.
    pub fn grants(self, role: &str) -> &'static str {
        let overseer = role == "auditor" || role == "regulator";
        match (self, role) {
            (Access::Public, _) => "yes",
            (Access::Submit, "account") => "own",
            (Access::Submit, "bank") => "yes",
            (Access::Submit, _) => "no",
            (Access::Filtered | Access::Scoped, _) if overseer => "yes",
            (Access::Filtered, "public") => "headers",
            (Access::Filtered | Access::Scoped, "account" | "bank") => "own",
            (Access::Scoped, _) => "no",
            (Access::Members, "bank") => "yes",
            (Access::Members | Access::Overseers, _) if overseer => "yes",
            _ => "no",
        }
    }
}

/// Refuses a request whose caller the route's `access` does not admit
/// (run before the handler; see `router::routes`).
pub async fn require(access: Access, request: Request, next: Next) -> Response {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Public);
    let admitted = match access {
        Access::Public | Access::Filtered => true,
        Access::Scoped => caller != Caller::Public,
        Access::Submit => matches!(caller, Caller::Account { .. } | Caller::Bank(_)),
        Access::Members => matches!(caller, Caller::Bank(_) | Caller::Overseer { .. }),
        Access::Overseers => caller.is_overseer(),
    };
    if admitted {
        return next.run(request).await;
    }
    if caller == Caller::Public {
        return ApiError::new(
            ErrorCode::Unauthenticated,
            "this route needs a signed request (an `authorization: Clearhouse-Ed25519 …` header)",
        )
        .into_response();
    }
    let who = match access {
        Access::Members => "member banks, auditors and regulators",
        Access::Submit => "accounts and member banks",
        _ => "auditors and regulators",
    };
    caller
        .out_of_scope(format!("{} (for {who} only)", request.uri().path()))
        .into_response()
}

/// The accounts and banks a transaction concerns: its sender and every
/// account it names (for an escrow's later steps, the escrow's buyer and
/// seller), the banks hosting them, and an escrow's arbiter bank; and the
/// banks that see it without reading its payment data (a cross-currency
/// transfer's quoting bank).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parties {
    /// The accounts.
    pub accounts: Vec<AccountId>,
    /// Their banks, and an arbiter.
    pub banks: Vec<MemberId>,
    /// Banks that see the transaction but not its payment data (the chain
    /// refuses details sealed for them).
    pub onlookers: Vec<MemberId>,
    /// Public business of the network (a governance proposal or vote,
    /// see [`is_public_business`]): every caller sees it in full.
    pub public: bool,
}

/// Whether `body` is public business of the network, seen in full by every
/// caller that may see transactions at all, the unsigned public included
/// (see the module's documentation): a governance proposal or vote. It
/// names no customer and carries no payment data; what it changes binds
/// every member and every customer alike.
pub fn is_public_business(body: &TxBody) -> bool {
    match body {
        TxBody::Propose { .. } | TxBody::Vote { .. } => true,
        // Listed one by one, so a new body is classified when it is added.
        TxBody::Transfer { .. }
        | TxBody::Issue { .. }
        | TxBody::Redeem { .. }
        | TxBody::RegisterAccount { .. }
        | TxBody::EscrowOpen { .. }
        | TxBody::EscrowRelease { .. }
        | TxBody::EscrowRefund { .. }
        | TxBody::EscrowDispute { .. }
        | TxBody::EscrowResolve { .. }
        | TxBody::CreditGrant { .. }
        | TxBody::CreditRevoke { .. }
        | TxBody::CreditAttest { .. }
        | TxBody::Payment { .. }
        | TxBody::Swap { .. }
        | TxBody::QuotePost { .. }
        | TxBody::QuoteWithdraw { .. }
        | TxBody::CrossTransfer { .. } => false,
    }
}

/// How much of a transaction a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Nothing: outside its scope.
    Hidden,
    /// The transaction, without its payment data.
    WithoutDetails,
    /// The transaction with its payment data (opened where sealed for
    /// this node).
    Full,
}

impl Sight {
    /// Whether anything is seen.
    pub fn sees(self) -> bool {
        self != Sight::Hidden
    }
}

/// The parties of `tx`, from the current state and, once committed, its
/// receipt (a cross transfer's receipt names the quoting bank for good;
/// before, a live quote does).
pub fn parties(
    store: &Store,
    tx: &SignedTransaction,
    receipt: Option<&clearhouse_ledger::state::Receipt>,
) -> Result<Parties, ApiError> {
    let mut parties = Parties::default();
    let body = &tx.tx.body;
    let mut accounts = vec![tx.tx.sender];
    match body {
        TxBody::Transfer { to, .. } | TxBody::Payment { to, .. } | TxBody::Issue { to, .. } => {
            accounts.push(*to)
        }
        TxBody::Swap { counterparty, .. } => accounts.push(*counterparty),
        // The quoting bank is a party while its quote lives (its treasury
        // takes one leg and pays the other).
        TxBody::CrossTransfer { to, quote, .. } => {
            accounts.push(*to);
            let provider = match receipt.map(|r| &r.outcome) {
                Some(clearhouse_ledger::state::Outcome::Converted { provider, .. }) => {
                    Some(provider.clone())
                }
                _ => store.quote(quote).map_err(internal)?.map(|q| q.provider),
            };
            parties.onlookers.extend(provider);
        }
        TxBody::QuotePost { .. } | TxBody::QuoteWithdraw { .. } => {}
        TxBody::RegisterAccount { account }
        | TxBody::CreditGrant { account, .. }
        | TxBody::CreditRevoke { account, .. }
        | TxBody::CreditAttest { account, .. } => accounts.push(*account),
        TxBody::EscrowOpen {
            seller, arbiter, ..
        } => {
            accounts.push(*seller);
            parties.banks.push(arbiter.clone());
        }
        TxBody::EscrowRelease { escrow }
        | TxBody::EscrowRefund { escrow }
        | TxBody::EscrowDispute { escrow }
        | TxBody::EscrowResolve { escrow, .. } => {
            if let Some(found) = store.escrow(escrow).map_err(internal)? {
                accounts.extend([found.buyer, found.seller]);
                parties.banks.push(found.arbiter);
            }
        }
        TxBody::Redeem { .. } => {}
        // The sender (a governance account) is still named, so its bank
        // counts as a party too; `public` makes everyone else see it.
        TxBody::Propose { .. } | TxBody::Vote { .. } => parties.public = true,
    }
    for account in accounts {
        if parties.accounts.contains(&account) {
            continue;
        }
        // A bank registering a key hosts it from that block on; before
        // (or if refused) the key has no bank, and its sender's bank is
        // the registering one.
        if let Some(state) = store.account(&account).map_err(internal)?
            && !parties.banks.contains(&state.bank)
        {
            parties.banks.push(state.bank);
        }
        parties.accounts.push(account);
    }
    Ok(parties)
}

/// The overseers the chain knows by API key, and the nonces seen. Member
/// banks are looked up in the store's member list at each request, since
/// governance changes it (see [`Gate::caller`]).
pub struct Gate {
    chain_id: ChainId,
    node: String,
    by_key: HashMap<[u8; 32], Caller>,
    replay: Mutex<ReplayCache>,
}

impl Gate {
    /// The gate of a node named `node`, with the auditors and regulators
    /// the store's state lists (fixed at genesis: no governance action
    /// changes them).
    pub fn new(chain_id: ChainId, node: &str, store: &Store) -> Result<Gate, StoreError> {
        let mut by_key = HashMap::new();
        for overseer in store.overseers()? {
            by_key.insert(
                overseer.api_key,
                Caller::Overseer {
                    id: overseer.id,
                    role: overseer.role,
                },
            );
        }
        Ok(Gate {
            chain_id,
            node: node.to_owned(),
            by_key,
            replay: Mutex::new(ReplayCache::new(REPLAY_CACHE_MAX)),
        })
    }

    /// Whom `key` belongs to: an overseer, a member bank (by its API key
    /// or its treasury's, in the member list in force now: a member
    /// admitted by governance is known from the block that admits it, a
    /// removed one no longer reads as a bank), or a registered account.
    fn caller(&self, store: &Store, key: &[u8; 32]) -> Result<Caller, ApiError> {
        if let Some(caller) = self.by_key.get(key) {
            return Ok(caller.clone());
        }
        // A handful of members, decoded per signed request: cheaper than
        // the signature check that follows.
        for member in store.members().map_err(internal)? {
            if member.status == MemberStatus::Removed {
                continue;
            }
            // The treasury's key is the bank's own (it registers the
            // bank's customers): it reads as the bank.
            if member.treasury.0 == *key || member.api_key == Some(*key) {
                return Ok(Caller::Bank(member.id));
            }
        }
        let id = AccountId(*key);
        match store.account(&id).map_err(internal)? {
            Some(account) => Ok(Caller::Account {
                id,
                bank: account.bank,
            }),
            None => Err(ApiError::new(
                ErrorCode::UnknownCaller,
                format!(
                    "key {} is no bank's, auditor's, regulator's or registered account's",
                    hex::encode(key)
                ),
            )),
        }
    }
}

/// Nonces seen within the window, bounded.
struct ReplayCache {
    seen: HashSet<([u8; 32], [u8; NONCE_BYTES])>,
    order: VecDeque<(u64, [u8; 32], [u8; NONCE_BYTES])>,
    capacity: usize,
}

impl ReplayCache {
    fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Remembers (key, nonce) until `ts + SKEW_MS_MAX`, or refuses it.
    fn admit(
        &mut self,
        key: [u8; 32],
        nonce: [u8; NONCE_BYTES],
        ts_ms: u64,
        now_ms: u64,
    ) -> Result<(), ErrorCode> {
        // Entries leave in arrival order once their request could no
        // longer be accepted; one arriving later with an earlier expiry
        // waits behind the others (a little longer, never shorter).
        while let Some((expiry, k, n)) = self.order.front().copied() {
            if expiry > now_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&(k, n));
        }
        if self.seen.contains(&(key, nonce)) {
            return Err(ErrorCode::ReplayedRequest);
        }
        if self.seen.len() >= self.capacity {
            return Err(ErrorCode::ReplayCacheFull);
        }
        self.seen.insert((key, nonce));
        self.order
            .push_back((ts_ms.saturating_add(SKEW_MS_MAX), key, nonce));
        Ok(())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Marks every request with its [`Caller`], or refuses it with a 401 (run
/// before every route; see the module's documentation).
pub async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    // An unsigned caller pays from its address's allowance before anything
    // else; a signed one from its key's once the signature verified, and
    // from its address's if it did not (so a flood of bad signatures is
    // limited too, and nobody spends another's allowance by naming its key).
    let address = Bucket::address_of(&request);
    let signed = request.headers().contains_key(AUTHORIZATION);
    if !signed && let Err(wait) = state.limiter.take(address, Instant::now()) {
        return rate_limited(wait, &state.metrics);
    }
    let response = match identify(&state, request).await {
        Ok((request, key)) => {
            if let Some(key) = key
                && let Err(wait) = state.limiter.take(Bucket::Key(key), Instant::now())
            {
                return rate_limited(wait, &state.metrics);
            }
            next.run(request).await
        }
        Err(error) => {
            if let Err(wait) = state.limiter.take(address, Instant::now()) {
                return rate_limited(wait, &state.metrics);
            }
            error.into_response()
        }
    };
    let counter = match response.status().as_u16() {
        401 => &state.metrics.api_unauthenticated_total,
        403 => &state.metrics.api_out_of_scope_total,
        _ => return response,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    response
}

/// The request with its [`Caller`] attached, and the key that signed it.
async fn identify(
    state: &ApiState,
    mut request: Request,
) -> Result<(Request, Option<[u8; 32]>), ApiError> {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        request.extensions_mut().insert(Caller::Public);
        return Ok((request, None));
    };
    let credentials = Credentials::parse(value.as_bytes())
        .map_err(|e| ApiError::new(ErrorCode::BadAuthorization, e.to_string()))?;
    let now = now_ms();
    if now.abs_diff(credentials.ts_ms) > SKEW_MS_MAX {
        return Err(ApiError::new(
            ErrorCode::StaleRequest,
            format!(
                "the request was signed at {} ms and this node's clock says {now} ms: more than \
                 {SKEW_MS_MAX} ms apart (check the caller's clock)",
                credentials.ts_ms
            ),
        ));
    }
    let gate = &state.gate;
    let caller = gate.caller(&state.store, &credentials.key)?;
    // The body is read once here (within the route's limit) so the
    // signature can cover it, and handed on to the handler.
    let limit = state.limits.api_body_bytes_max;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large(limit));
    }
    let (parts, body) = request.into_parts();
    let timeout = Duration::from_millis(state.limits.api_body_timeout_ms);
    let bytes = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            state
                .metrics
                .api_timeouts_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the request's body did not arrive within {} ms",
                    timeout.as_millis()
                ),
            )
        })?
        .map_err(|e| {
            if format!("{e:?}").contains("LengthLimit") {
                too_large(limit)
            } else {
                ApiError::new(ErrorCode::UnreadableBody, e.to_string())
            }
        })?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let message = signing_bytes(
        &RequestParts {
            chain_id: &gate.chain_id,
            node: &gate.node,
            method: parts.method.as_str(),
            path_and_query,
            body: &bytes,
        },
        credentials.ts_ms,
        &credentials.nonce,
    );
    clearhouse_ledger::crypto::verify(&credentials.key, &message, &credentials.signature).map_err(
        |e| {
            ApiError::new(
                ErrorCode::BadRequestSignature,
                format!(
                    "the request signature does not verify over this request for node {} ({e})",
                    gate.node
                ),
            )
        },
    )?;
    gate.replay
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .admit(credentials.key, credentials.nonce, credentials.ts_ms, now)
        .map_err(|code| {
            let message = if code == ErrorCode::ReplayedRequest {
                "this request's nonce was already used: sign each request afresh"
            } else {
                "this node holds too many recent request nonces: try again shortly"
            };
            ApiError::new(code, message)
        })?;
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(caller);
    Ok((request, Some(credentials.key)))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::BodyTooLarge,
        format!("the body exceeds this node's limit of {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_while_its_request_could_be_accepted_and_forgotten_after() {
        let mut cache = ReplayCache::new(2);
        assert_eq!(cache.admit([1; 32], [1; 16], 1_000, 1_000), Ok(()));
        assert_eq!(
            cache.admit([1; 32], [1; 16], 1_000, 1_001),
            Err(ErrorCode::ReplayedRequest)
        );
        // Another key may use the same nonce.
        assert_eq!(cache.admit([2; 32], [1; 16], 1_000, 1_002), Ok(()));
        // Full: refused, not forgotten early.
        assert_eq!(
            cache.admit([3; 32], [1; 16], 1_000, 1_003),
            Err(ErrorCode::ReplayCacheFull)
        );
        // Once the first request's window has passed it leaves.
        let later = 1_000 + SKEW_MS_MAX;
        assert_eq!(cache.admit([3; 32], [1; 16], later, later), Ok(()));
        assert_eq!(cache.seen.len(), 1);
    }

    #[test]
    fn the_grants_table_has_the_shape_the_readme_promises() {
        assert!(ROLES.iter().all(|r| Access::Public.grants(r) == "yes"));
        assert_eq!(Access::Filtered.grants("public"), "headers");
        assert_eq!(Access::Scoped.grants("public"), "no");
        assert_eq!(Access::Scoped.grants("account"), "own");
        assert_eq!(Access::Scoped.grants("auditor"), "yes");
        assert_eq!(Access::Members.grants("account"), "no");
        assert_eq!(Access::Members.grants("bank"), "yes");
        assert_eq!(Access::Overseers.grants("bank"), "no");
        assert_eq!(Access::Overseers.grants("regulator"), "yes");
    }
}
