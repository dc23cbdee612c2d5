//! The state and the pure state transition.
//!
//! [`apply_block`] takes a read-only [`StateView`] of the state after the
//! previous block and a block, and returns a [`BlockOutcome`]: a receipt per
//! transaction, every state write, and the commitment update with the new
//! state root. It never writes anywhere and never panics on input: a bad
//! transaction becomes a typed [`RejectReason`], a bad block a typed
//! [`BlockError`]. Only [`crate::store`] persists an outcome.
//!
//! The state is a set of entries keyed by [`StateKey`]: accounts (with
//! their credit lines and credit record), assets, the member list, the
//! chain parameters, escrows, and the deadline lists by height. Keys and values are stored in their
//! canonical encoding; [`commitment`] turns the set into the state root.
//!
//! Rules per transaction, in order:
//! 1. `expiry_height < block height` → rejected `Expired`, nothing changes.
//! 2. Unknown sender → rejected `UnknownSender`, nothing changes.
//! 3. `nonce != sender's next nonce` → rejected `BadNonce`, nothing changes.
//! 4. The sender's nonce advances by one; it stays advanced whatever follows,
//!    so a transaction id applies at most once.
//! 5. The body runs. If it fails, every change it made is undone and the
//!    receipt says why (the nonce stays consumed; no fee is charged).
//!
//! Before the transactions, the block settles the escrow and credit
//! deadlines of the previous height ([`DueItem`]); a deadline step that
//! cannot be carried out (a payout would overflow a balance) is undone and
//! dropped, and the escrow then waits for its parties' own steps.
//!
//! Fees: a transfer (plain or with payment data), a cross-currency
//! transfer, each leg of a swap, and the opening of an escrow pay `flat +
//! amount × bps / 10,000` (rounded down) of the schedule for the asset the
//! payer gives, in that asset, on top of the amount. The receiving bank
//! (the payee's; on a swap's legs, the bank of the party that receives
//! that leg; an escrow's seller's) gets
//! `receiving_share` basis points of the fee (rounded down), the sending
//! bank the rest, each into its treasury account; when both accounts are
//! of one bank it gets the whole fee. The envelope's `fee` is the most the
//! sender accepts (a swap's counterparty states its own, `counter_fee`); a
//! higher schedule fee rejects the transaction (`FeeAboveMaximum`). Every
//! other body (issue, redeem, registration, the later escrow steps, credit
//! grants, revocations and attestations, quotes) pays none.

pub mod commitment;
pub mod credit;
pub mod escrow;
mod exec;
pub mod fx;
pub mod governance;
pub mod memory;
pub mod overlay;
mod reject;

pub use reject::RejectReason;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Rate};
use crate::block::{Block, BlockHeader};
use crate::codec::{self, CodecError, STATE_VALUE_BYTES_MAX};
use crate::crypto::sha256;
use crate::evidence::{
    EVIDENCE_HORIZON, EVIDENCE_LOG_MAX, EVIDENCE_PER_BLOCK_MAX, Evidence, EvidenceError,
    EvidenceLog, EvidenceRecord, LoggedOffence,
};
use crate::ids::{AccountId, AssetCode, ChainId, Hash, MemberId};
use crate::merkle;
use crate::sealed::SealingKey;
use crate::tx::{SignedTransaction, TxError};

use crate::validators::{Validator, ValidatorKey, ValidatorSet, ValidatorSetError};
use credit::{CreditLine, CreditParams, CreditRecord};
use escrow::EscrowParams;
use exec::Exec;

use commitment::{BucketEntry, CommitmentUpdate};

/// The key of a state entry. Its canonical encoding is the stored key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StateKey {
    /// An account's [`AccountState`].
    Account(AccountId),
    /// An asset's [`AssetState`].
    Asset(AssetCode),
    /// The member banks, a `Vec<Member>` in genesis order.
    Members,
    /// The chain [`Params`].
    Params,
    /// An escrow's [`escrow::EscrowState`], by the id of its opening transaction.
    Escrow(Hash),
    /// The deadlines falling at a height: a `Vec<DueItem>` in registration order.
    Due(u64),
    /// The auditors and regulators, a `Vec<Overseer>` in genesis order.
    Overseers,
    /// A live FX quote's [`fx::QuoteState`], by the id of its posting transaction.
    Quote(Hash),
    /// A bank's live quotes, an [`fx::QuoteBook`].
    QuoteBook(MemberId),
    /// A governance proposal's [`governance::Proposal`], by the id of its
    /// proposing transaction.
    Proposal(Hash),
    /// The open proposals, a [`governance::Agenda`] (absent: none).
    Agenda,
    /// The [`ValidatorSet`] that certifies blocks from this height on,
    /// written at genesis (height 1) and by every block after which the
    /// set differs: the chain's own record of its validator sets.
    ValidatorSetFrom(u64),
    /// The heights of every [`StateKey::ValidatorSetFrom`] entry in
    /// ascending order, a `Vec<u64>`: how execution finds the set in force
    /// at a past height (to check evidence) without a range read.
    ValidatorSetHeights,
    /// An offence on record, an [`crate::evidence::EvidenceRecord`], by
    /// the evidence id.
    Evidence(Hash),
    /// Every offence on record, an [`crate::evidence::EvidenceLog`]
    /// (absent: none).
    EvidenceLog,
}

/// Something whose deadline falls at a height, registered under
/// [`StateKey::Due`]. Block `h` processes the list of height `h - 1` first
/// thing, then deletes it: the credit items first, then the escrow and
/// quote items, each group in registration order (so an escrow payout in block `h`
/// never repays a tranche due at `h - 1` before it is marked overdue). An
/// item whose escrow or tranche has moved on in the meantime is skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DueItem {
    /// An escrow's confirmation or arbiter deadline.
    Escrow(Hash),
    /// A credit tranche of an account's line in an asset.
    Credit(AccountId, AssetCode),
    /// An FX quote's last height: the quote is deleted.
    Quote(Hash),
}

/// Most deadlines one height may carry, of every kind together (escrows,
/// tranches, quotes); one more is refused (`DueListFull`).
/// Bounds both the work at the start of a block and the list's stored size.
pub const DUE_ITEMS_MAX: usize = 8192;

impl StateKey {
    /// The stored key bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }
}

/// An account's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The member bank that registered (hosts) the account.
    pub bank: MemberId,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
    /// Non-zero balances per asset (a zero balance is absent, so the encoding
    /// of a state does not depend on its history).
    pub balances: BTreeMap<AssetCode, Amount>,
    /// Credit lines granted by the hosting bank, per asset.
    pub lines: BTreeMap<AssetCode, CreditLine>,
    /// The account's credit record.
    pub record: CreditRecord,
}

impl AccountState {
    /// A new account of `bank` with nothing in it.
    pub fn new(bank: MemberId) -> AccountState {
        AccountState {
            bank,
            nonce: 0,
            balances: BTreeMap::new(),
            lines: BTreeMap::new(),
            record: CreditRecord::default(),
        }
    }

    /// The balance of `asset` (zero if none).
    pub fn balance(&self, asset: &AssetCode) -> Amount {
        self.balances.get(asset).copied().unwrap_or(Amount::ZERO)
    }

    /// What the account owes on its credit line in `asset` (zero if none).
    pub fn drawn(&self, asset: &AssetCode) -> Amount {
        self.lines
            .get(asset)
            .map_or(Amount::ZERO, |line| line.drawn)
    }

    /// Sets a balance, keeping zero balances absent.
    pub fn set_balance(&mut self, asset: &AssetCode, amount: Amount) {
        if amount.is_zero() {
            self.balances.remove(asset);
        } else if let Some(balance) = self.balances.get_mut(asset) {
            // No copy of the code for a balance already held.
            *balance = amount;
        } else {
            self.balances.insert(asset.clone(), amount);
        }
    }
}

/// An asset's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetState {
    /// The bank that issues and redeems it.
    pub issuer: MemberId,
    /// Decimal places of its human unit.
    pub decimals: u8,
    /// Issued supply: always the sum of all balances of the asset plus what
    /// open and disputed escrows hold of it.
    pub supply: Amount,
}

/// A member bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its stable id.
    pub id: MemberId,
    /// Display name.
    pub name: String,
    /// The key its validator signs consensus messages with.
    pub validator_key: ValidatorKey,
    /// The ed25519 public key of its libp2p identity.
    pub network_key: [u8; 32],
    /// Voting power of its validator.
    pub voting_power: u64,
    /// The bank's own account: signs issue, redeem and registrations, and
    /// receives the fees of the accounts the bank hosts.
    pub treasury: AccountId,
    /// The ed25519 public key its back office signs API requests with
    /// (`None`: the bank has no API access as a bank).
    pub api_key: Option<[u8; 32]>,
    /// The X25519 key payment details are sealed to (`None`: payments of
    /// its customers can carry details in the clear only).
    pub sealing_key: Option<SealingKey>,
    /// The bank's governance account: proposes and votes.
    pub governance: AccountId,
    /// Active, suspended or removed.
    pub status: governance::MemberStatus,
    /// Its nodes' libp2p listen addresses (multiaddr text), for peers to dial.
    pub addresses: Vec<String>,
}

impl Member {
    /// Whether its validator counts and its accounts may send.
    pub fn is_active(&self) -> bool {
        self.status == governance::MemberStatus::Active
    }
}

/// Someone who reads everything through the API without hosting accounts:
/// an auditor, or a regulator (who will also take compliance actions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overseer {
    /// Its stable id (the same alphabet as a member's).
    pub id: MemberId,
    /// Display name.
    pub name: String,
    /// What it is.
    pub role: OverseerRole,
    /// The ed25519 public key it signs API requests with.
    pub api_key: [u8; 32],
    /// The X25519 key sealed payment details are sealed to (a regulator's
    /// is required in every sealed payment; an auditor's is optional).
    pub sealing_key: Option<SealingKey>,
}

/// An [`Overseer`]'s role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverseerRole {
    /// Reads everything.
    Auditor,
    /// Reads everything, and takes compliance actions.
    Regulator,
}

impl OverseerRole {
    /// Its lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OverseerRole::Auditor => "auditor",
            OverseerRole::Regulator => "regulator",
        }
    }
}

/// The fee rule of one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeeRule {
    /// Charged on every transfer, in minor units.
    pub flat: Amount,
    /// Plus this many basis points (1/10,000) of the amount, rounded down.
    pub basis_points: u16,
    /// The receiving bank's share of the fee, in basis points of the fee
    /// (rounded down; the rest goes to the sending bank). When both
    /// accounts are of one bank, that bank receives the whole fee.
    pub receiving_share: u16,
}

impl FeeRule {
    /// The fee for moving `amount`, or `None` on overflow.
    pub fn fee(&self, amount: Amount) -> Option<Amount> {
        self.flat
            .checked_add(amount.checked_basis_points(self.basis_points)?)
    }

    /// The receiving bank's part of `fee` (at most `fee`).
    pub fn receiving_part(&self, fee: Amount) -> Amount {
        fee.checked_basis_points(self.receiving_share.min(10_000))
            .unwrap_or(Amount::ZERO)
            .min(fee)
    }
}

/// Chain parameters (set in genesis, changed by governance).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Params {
    /// Fee rule per asset; an asset without a rule moves free.
    pub fees: BTreeMap<AssetCode, FeeRule>,
    /// Escrow limits.
    pub escrow: EscrowParams,
    /// Credit lines and the trust rating.
    pub credit: CreditParams,
    /// Proposals, votes and activation.
    pub governance: governance::GovernanceParams,
}

/// The last committed block as seen by a view: height 0 is genesis, whose
/// "hash" is the chain id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Height of the last committed block (0 = genesis).
    pub height: u64,
    /// Its hash (the chain id at genesis).
    pub block_hash: Hash,
}

/// A failure to read state: the store failed or holds bytes that do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Stored bytes are damaged or not what they should be.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

/// Read access to the state after the last committed block.
pub trait StateView {
    /// The chain id.
    fn chain_id(&self) -> ChainId;
    /// The last committed block.
    fn tip(&self) -> Result<Tip, ViewError>;
    /// The value bytes of a state key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError>;
    /// A commitment bucket's entries, sorted by key hash.
    fn bucket(&self, bucket: u16) -> Result<Vec<BucketEntry>, ViewError>;
    /// A commitment inner node, `None` when it equals its level's empty hash.
    fn node(&self, level: u8, index: u32) -> Result<Option<Hash>, ViewError>;
    /// The value under an encoded key, decoded, if the view holds it so:
    /// always equal to decoding [`StateView::get`]; `None` says only that
    /// the caller must decode (a miss, or a kind the view does not keep).
    fn decoded(&self, _key: &[u8]) -> Option<Decoded> {
        None
    }
}

/// A state value decoded once and shared: what execution reads instead of
/// decoding bytes, and what a block hands the store along with its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// An [`AccountState`].
    Account(Arc<AccountState>),
    /// An [`AssetState`].
    Asset(Arc<AssetState>),
    /// An [`escrow::EscrowState`].
    Escrow(Arc<escrow::EscrowState>),
    /// An [`fx::QuoteState`].
    Quote(Arc<fx::QuoteState>),
    /// An [`fx::QuoteBook`].
    QuoteBook(Arc<fx::QuoteBook>),
    /// A [`governance::Proposal`].
    Proposal(Arc<governance::Proposal>),
}

/// A block's state writes (encoded key to encoded value, `None` deletes)
/// and the decoded entries it leaves (see [`Execution::decoded`]).
pub(crate) type Writes = (
    BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    BTreeMap<Vec<u8>, Decoded>,
);

/// Reads and decodes a typed state value.
pub fn read<T: Serialize + serde::de::DeserializeOwned>(
    view: &dyn StateView,
    key: &StateKey,
) -> Result<Option<T>, ViewError> {
    match view.get(&encode_key(key)?)? {
        None => Ok(None),
        Some(bytes) => decode_value(key, &bytes).map(Some),
    }
}

fn encode_key(key: &StateKey) -> Result<Vec<u8>, ViewError> {
    key.encode().map_err(|e| ViewError::Corrupt(e.to_string()))
}

fn decode_value<T: Serialize + serde::de::DeserializeOwned>(
    key: &StateKey,
    bytes: &[u8],
) -> Result<T, ViewError> {
    codec::decode::<T, STATE_VALUE_BYTES_MAX>(bytes)
        .map_err(|error| ViewError::Corrupt(format!("{key:?}: {error}")))
}

/// What one state entry contributes to conservation: for every asset, the
/// money held (account balances plus open and disputed escrows) equals the
/// asset's supply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    /// Money held, per asset (an account's balances, an escrow's holding).
    Money(Vec<(AssetCode, Amount)>),
    /// An asset's recorded supply.
    Supply(AssetCode, Amount),
    /// Nothing (members, parameters, deadlines, quotes).
    Nothing,
}

/// Decodes a stored entry (canonical key and value bytes) into what it
/// contributes to conservation. The store's supply audit, the auditor and
/// the tests all count through this one function.
pub fn holding(key: &[u8], value: &[u8]) -> Result<Holding, CodecError> {
    let key: StateKey = codec::decode::<StateKey, { codec::STATE_KEY_BYTES_MAX }>(key)?;
    Ok(match key {
        StateKey::Account(_) => {
            let account: AccountState = codec::decode::<_, STATE_VALUE_BYTES_MAX>(value)?;
            Holding::Money(account.balances.into_iter().collect())
        }
        StateKey::Escrow(_) => {
            let escrow: escrow::EscrowState = codec::decode::<_, STATE_VALUE_BYTES_MAX>(value)?;
            let held = escrow.held();
            if held.is_zero() {
                Holding::Money(Vec::new())
            } else {
                Holding::Money(vec![(escrow.asset, held)])
            }
        }
        StateKey::Asset(code) => {
            let asset: AssetState = codec::decode::<_, STATE_VALUE_BYTES_MAX>(value)?;
            Holding::Supply(code, asset.supply)
        }
        StateKey::Members
        | StateKey::Params
        | StateKey::Due(_)
        | StateKey::Overseers
        | StateKey::Quote(_)
        | StateKey::QuoteBook(_)
        | StateKey::Proposal(_)
        | StateKey::Agenda
        | StateKey::ValidatorSetFrom(_)
        | StateKey::ValidatorSetHeights
        | StateKey::Evidence(_)
        | StateKey::EvidenceLog => Holding::Nothing,
    })
}

/// The member list in force.
pub fn read_members(view: &dyn StateView) -> Result<Vec<Member>, ViewError> {
    read(view, &StateKey::Members)?
        .ok_or_else(|| ViewError::Corrupt("the member list is missing".into()))
}

/// The auditors and regulators in force (none in a state that lists none).
pub fn read_overseers(view: &dyn StateView) -> Result<Vec<Overseer>, ViewError> {
    Ok(read(view, &StateKey::Overseers)?.unwrap_or_default())
}

/// The validator set in force, from the member list: its active members,
/// in list order.
pub fn validator_set(members: &[Member]) -> Result<ValidatorSet, ValidatorSetError> {
    ValidatorSet::new(
        members
            .iter()
            .filter(|member| member.is_active())
            .map(|member| Validator {
                member: member.id.clone(),
                key: member.validator_key,
                voting_power: member.voting_power,
            })
            .collect(),
    )
}

/// What became of one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It took effect, charging `fee`.
    Applied {
        /// The fee charged.
        fee: Amount,
    },
    /// It did not take effect.
    Rejected(RejectReason),
    /// A swap took effect: the sender paid `fee` on its leg, the
    /// counterparty `counter_fee` on its own.
    Swapped {
        /// The sender's fee, in the asset it gave.
        fee: Amount,
        /// The counterparty's fee, in the asset it gave.
        counter_fee: Amount,
    },
    /// A cross-currency transfer took effect: the payer paid the body's
    /// amount and `fee` in its asset, the payee received `paid_out` of
    /// `pay_asset`, converted at `rate`.
    Converted {
        /// The payer's fee, in the payer's asset.
        fee: Amount,
        /// What the payee received, minor units of `pay_asset`.
        paid_out: Amount,
        /// The asset the payee received.
        pay_asset: AssetCode,
        /// The quote's rate.
        rate: Rate,
        /// The quoting bank (its treasury took the payer's leg and paid
        /// the payee's).
        provider: MemberId,
    },
}

impl Outcome {
    /// Whether the body took effect.
    pub fn is_applied(&self) -> bool {
        !matches!(self, Outcome::Rejected(_))
    }

    /// The fee the sender paid (zero when rejected).
    pub fn fee(&self) -> Amount {
        match self {
            Outcome::Applied { fee }
            | Outcome::Swapped { fee, .. }
            | Outcome::Converted { fee, .. } => *fee,
            Outcome::Rejected(_) => Amount::ZERO,
        }
    }

    /// Whether this outcome is the transaction's last word: it applied, or
    /// it can never apply (its nonce is used up or it expired). A transaction
    /// from an unregistered sender or with a nonce ahead of the sender's is
    /// not final: included again later, it may still apply.
    pub fn is_final(&self) -> bool {
        match self {
            Outcome::Applied { .. } | Outcome::Swapped { .. } | Outcome::Converted { .. } => true,
            Outcome::Rejected(RejectReason::UnknownSender) => false,
            Outcome::Rejected(RejectReason::BadNonce { expected, found }) => found < expected,
            Outcome::Rejected(_) => true,
        }
    }
}

/// A transaction's receipt, in block order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction id.
    pub tx_id: Hash,
    /// What happened.
    pub outcome: Outcome,
}

impl Receipt {
    /// `SHA-256` of the receipt's encoding: the leaves of the receipts root.
    pub fn hash(&self) -> Result<Hash, CodecError> {
        Ok(sha256(&[&codec::encode(self)?]))
    }
}

/// Why a block cannot be applied at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Built for another chain.
    #[error("block is for chain {found}, this chain is {expected}")]
    WrongChain {
        /// This chain.
        expected: ChainId,
        /// The block's.
        found: ChainId,
    },
    /// Not the next height.
    #[error("block height {found}, expected {expected}")]
    WrongHeight {
        /// The next height.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// Does not extend the last block.
    #[error("block's previous hash {found} is not the tip {expected}")]
    WrongPrevious {
        /// The tip's hash.
        expected: Hash,
        /// The block's previous hash.
        found: Hash,
    },
    /// The proposer is not a validator.
    #[error("proposer {0} is not in the validator set")]
    UnknownProposer(ValidatorKey),
    /// A header root that re-execution does not reproduce.
    #[error("{what} mismatch: header says {header}, execution gives {computed}")]
    RootMismatch {
        /// Which root.
        what: &'static str,
        /// The header's value.
        header: Hash,
        /// The recomputed value.
        computed: Hash,
    },
    /// A transaction that may not be in any block (bad signature, wrong chain).
    #[error("transaction {index}: {error}")]
    InvalidTransaction {
        /// Its position.
        index: usize,
        /// What is wrong.
        error: TxError,
    },
    /// More transactions than any block may hold.
    #[error("{found} transactions, at most {max} allowed")]
    TooManyTransactions {
        /// How many.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// The validator set in the state is invalid.
    #[error("validator set: {0}")]
    ValidatorSet(#[from] ValidatorSetError),
    /// The state could not be read.
    #[error(transparent)]
    View(#[from] ViewError),
    /// Something could not be encoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Evidence that may not be in this block.
    #[error("evidence {index}: {error}")]
    InvalidEvidence {
        /// Its position.
        index: usize,
        /// What is wrong.
        error: EvidenceError,
    },
    /// More evidence than a block may carry.
    #[error("{found} pieces of evidence, at most {max} allowed")]
    TooMuchEvidence {
        /// How many.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// Our bug: an invariant of the state transition broke. Never commit.
    #[error("invariant violated: {0}")]
    Invariant(String),
}

/// Most transactions in one block (bounds the work of a single apply).
pub const BLOCK_TXS_MAX: usize = 100_000;

/// Whether transaction signatures still need checking.
#[derive(Clone, Copy)]
pub enum Signatures<'a> {
    /// Verify each (auditors, sync, a block from a peer).
    Verify,
    /// The caller already verified every transaction against this chain id
    /// (e.g. at mempool admission); only hashes are computed.
    AlreadyVerified,
    /// Verify each transaction unless `known(id, transaction)` says this
    /// exact signed transaction (signature included: the id does not cover
    /// it) was already verified against this chain id, e.g. it sits in the
    /// mempool. Lets a validator check each payment's signature once.
    VerifyUnlessKnown(&'a dyn Fn(&Hash, &SignedTransaction) -> bool),
}

impl std::fmt::Debug for Signatures<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signatures::Verify => "Verify",
            Signatures::AlreadyVerified => "AlreadyVerified",
            Signatures::VerifyUnlessKnown(_) => "VerifyUnlessKnown",
        })
    }
}

/// The result of executing transactions on a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// Transaction ids in block order.
    pub tx_ids: Vec<Hash>,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Every state write: encoded key to encoded value (`None` deletes).
    pub writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Every present account, asset and escrow entry the block read or
    /// wrote, decoded, as the block leaves it: equal to decoding the
    /// written bytes, or (for an entry it only read) the parent's bytes.
    /// Views keep these so the next blocks need not decode them.
    pub decoded: BTreeMap<Vec<u8>, Decoded>,
    /// The commitment's new buckets, nodes and root.
    pub commitment: CommitmentUpdate,
    /// Merkle root of `tx_ids`.
    pub tx_root: Hash,
    /// The block's [`crate::block::signatures_root`].
    pub signatures_root: Hash,
    /// Merkle root of the receipts' hashes.
    pub receipts_root: Hash,
    /// Merkle root of the evidence ids ([`crate::evidence::evidence_root`]).
    pub evidence_root: Hash,
    /// The validator set after the block (certifying the next one).
    pub next_validators: ValidatorSet,
}

/// A block applied to a view: everything the store needs to commit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub block_hash: Hash,
    /// What executing it did.
    pub execution: Execution,
}

impl BlockOutcome {
    /// The typed value the block wrote under `key`: `None` when it did not
    /// write (or removed) the entry; then the parent state's value stands.
    pub fn written<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &StateKey,
    ) -> Result<Option<T>, ViewError> {
        match self.execution.writes.get(&encode_key(key)?) {
            Some(Some(bytes)) => decode_value(key, bytes).map(Some),
            _ => Ok(None),
        }
    }
}

/// Applies `block` on top of `view`: checks the header against the tip and
/// the validator set, every transaction's chain id and signature (unless
/// `signatures` says it was done), executes, and checks the header's
/// transaction, receipts and state roots against the re-execution.
pub fn apply_block(
    view: &dyn StateView,
    block: &Block,
    signatures: Signatures,
) -> Result<BlockOutcome, BlockError> {
    let chain_id = view.chain_id();
    let header = &block.header;
    if header.chain_id != chain_id {
        return Err(BlockError::WrongChain {
            expected: chain_id,
            found: header.chain_id,
        });
    }
    let tip = view.tip()?;
    let expected_height = tip.height.saturating_add(1);
    if header.height != expected_height {
        return Err(BlockError::WrongHeight {
            expected: expected_height,
            found: header.height,
        });
    }
    if header.previous_hash != tip.block_hash {
        return Err(BlockError::WrongPrevious {
            expected: tip.block_hash,
            found: header.previous_hash,
        });
    }
    let validators = validator_set(&read_members(view)?)?;
    if validators.get(&header.proposer).is_none() {
        return Err(BlockError::UnknownProposer(header.proposer));
    }
    check_root(
        "validator set hash",
        header.validator_set_hash,
        validators.hash()?,
    )?;
    let execution = execute_with_evidence(
        view,
        header.height,
        &block.transactions,
        &block.evidence,
        signatures,
    )?;
    check_root("transaction root", header.tx_root, execution.tx_root)?;
    check_root(
        "signatures root",
        header.signatures_root,
        execution.signatures_root,
    )?;
    check_root(
        "receipts root",
        header.receipts_root,
        execution.receipts_root,
    )?;
    check_root("state root", header.state_root, execution.commitment.root)?;
    check_root(
        "evidence root",
        header.evidence_root,
        execution.evidence_root,
    )?;
    check_root(
        "next validator set hash",
        header.next_validator_set_hash,
        execution.next_validators.hash()?,
    )?;
    Ok(BlockOutcome {
        block: block.clone(),
        block_hash: header.hash()?,
        execution,
    })
}

fn check_root(what: &'static str, header: Hash, computed: Hash) -> Result<(), BlockError> {
    if header == computed {
        Ok(())
    } else {
        Err(BlockError::RootMismatch {
            what,
            header,
            computed,
        })
    }
}

/// Builds the next block from `transactions` (the proposer's side): executes
/// them on `view` and fills in the header's roots.
pub fn propose_block(
    view: &dyn StateView,
    transactions: Vec<SignedTransaction>,
    proposer: ValidatorKey,
    timestamp_ms: u64,
    signatures: Signatures,
) -> Result<BlockOutcome, BlockError> {
    propose_block_with_evidence(
        view,
        transactions,
        Vec::new(),
        proposer,
        timestamp_ms,
        signatures,
    )
}

/// [`propose_block`] carrying double-sign evidence. The caller passes only
/// evidence that [`usable_evidence`] kept: any that does not fit makes the
/// proposal fail with [`BlockError::InvalidEvidence`].
pub fn propose_block_with_evidence(
    view: &dyn StateView,
    transactions: Vec<SignedTransaction>,
    evidence: Vec<Evidence>,
    proposer: ValidatorKey,
    timestamp_ms: u64,
    signatures: Signatures,
) -> Result<BlockOutcome, BlockError> {
    let tip = view.tip()?;
    let height = tip.height.saturating_add(1);
    let validators = validator_set(&read_members(view)?)?;
    if validators.get(&proposer).is_none() {
        return Err(BlockError::UnknownProposer(proposer));
    }
    let execution = execute_with_evidence(view, height, &transactions, &evidence, signatures)?;
    let header = BlockHeader {
        chain_id: view.chain_id(),
        height,
        previous_hash: tip.block_hash,
        proposer,
        timestamp_ms,
        tx_root: execution.tx_root,
        signatures_root: execution.signatures_root,
        state_root: execution.commitment.root,
        receipts_root: execution.receipts_root,
        validator_set_hash: validators.hash()?,
        next_validator_set_hash: execution.next_validators.hash()?,
        evidence_root: execution.evidence_root,
    };
    let block_hash = header.hash()?;
    Ok(BlockOutcome {
        block: Block {
            header,
            transactions,
            evidence,
        },
        block_hash,
        execution,
    })
}

/// Executes `transactions` as the block at `height` on top of `view`.
pub fn execute(
    view: &dyn StateView,
    height: u64,
    transactions: &[SignedTransaction],
    signatures: Signatures,
) -> Result<Execution, BlockError> {
    execute_with_evidence(view, height, transactions, &[], signatures)
}

/// [`execute`] with the block's evidence, checked first and recorded.
pub fn execute_with_evidence(
    view: &dyn StateView,
    height: u64,
    transactions: &[SignedTransaction],
    evidence: &[Evidence],
    signatures: Signatures,
) -> Result<Execution, BlockError> {
    let evidence_writes = check_evidence(view, height, evidence)?;
    if transactions.len() > BLOCK_TXS_MAX {
        return Err(BlockError::TooManyTransactions {
            found: transactions.len(),
            max: BLOCK_TXS_MAX,
        });
    }
    let chain_id = view.chain_id();
    let mut tx_ids = Vec::with_capacity(transactions.len());
    for (index, signed) in transactions.iter().enumerate() {
        let unverified_id = || {
            if signed.tx.chain_id == chain_id {
                signed.id().map_err(TxError::from)
            } else {
                Err(TxError::WrongChain {
                    expected: chain_id,
                    found: signed.tx.chain_id,
                })
            }
        };
        let id = match signatures {
            Signatures::Verify => signed.verify(&chain_id),
            Signatures::AlreadyVerified => unverified_id(),
            Signatures::VerifyUnlessKnown(known) => match unverified_id() {
                Ok(id) if known(&id, signed) => Ok(id),
                Ok(_) => signed.verify(&chain_id),
                Err(error) => Err(error),
            },
        }
        .map_err(|error| BlockError::InvalidTransaction { index, error })?;
        tx_ids.push(id);
    }

    let mut exec = Exec::new(view, height)?;
    exec.begin_block()?;
    let mut receipts = Vec::with_capacity(transactions.len());
    for (signed, tx_id) in transactions.iter().zip(&tx_ids) {
        let outcome = exec.transaction(signed, tx_id)?;
        receipts.push(Receipt {
            tx_id: *tx_id,
            outcome,
        });
    }
    let next_validators = validator_set(exec.members())?;
    let members_changed = exec.members_changed();
    let (mut writes, decoded) = exec.into_writes()?;
    if members_changed && next_validators != validator_set(&read_members(view)?)? {
        let from = height.saturating_add(1);
        writes.insert(
            encode_key(&StateKey::ValidatorSetFrom(from))?,
            Some(codec::encode(&next_validators)?),
        );
        let mut heights: Vec<u64> = read(view, &StateKey::ValidatorSetHeights)?.unwrap_or_default();
        heights.push(from);
        writes.insert(
            encode_key(&StateKey::ValidatorSetHeights)?,
            Some(codec::encode(&heights)?),
        );
    }
    writes.extend(evidence_writes.writes);
    let commitment = commitment::update(view, &writes)?;
    let receipt_hashes = receipts
        .iter()
        .map(Receipt::hash)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Execution {
        tx_root: merkle::root(&tx_ids),
        signatures_root: crate::block::signatures_root(transactions),
        receipts_root: merkle::root(&receipt_hashes),
        evidence_root: evidence_writes.root,
        tx_ids,
        receipts,
        writes,
        decoded,
        commitment,
        next_validators,
    })
}

/// The state writes a block's evidence makes, and its root.
struct EvidenceWrites {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    root: Hash,
}

/// The validator set in force at `height` (≥ 1) by the chain's record:
/// the [`StateKey::ValidatorSetFrom`] entry of the last change at or below it.
pub fn validator_set_at(
    view: &dyn StateView,
    height: u64,
) -> Result<Option<ValidatorSet>, ViewError> {
    let heights: Vec<u64> = read(view, &StateKey::ValidatorSetHeights)?.unwrap_or_default();
    let Some(from) = heights.iter().rev().find(|from| **from <= height) else {
        return Ok(None);
    };
    read(view, &StateKey::ValidatorSetFrom(*from))
}

/// Checks the evidence of the block at `height` (see [`crate::evidence`])
/// and returns the records it writes.
fn check_evidence(
    view: &dyn StateView,
    height: u64,
    evidence: &[Evidence],
) -> Result<EvidenceWrites, BlockError> {
    let mut writes = BTreeMap::new();
    if evidence.is_empty() {
        return Ok(EvidenceWrites {
            writes,
            root: merkle::root(&[]),
        });
    }
    if evidence.len() > EVIDENCE_PER_BLOCK_MAX {
        return Err(BlockError::TooMuchEvidence {
            found: evidence.len(),
            max: EVIDENCE_PER_BLOCK_MAX,
        });
    }
    let chain_id = view.chain_id();
    let mut log: EvidenceLog = read(view, &StateKey::EvidenceLog)?.unwrap_or_default();
    let mut ids = Vec::with_capacity(evidence.len());
    for (index, item) in evidence.iter().enumerate() {
        let invalid = |error| BlockError::InvalidEvidence { index, error };
        let id = item.id()?;
        if ids.last().is_some_and(|last| *last >= id) {
            return Err(invalid(EvidenceError::Order));
        }
        if item.height == 0 || item.height >= height {
            return Err(invalid(EvidenceError::TooNew {
                height: item.height,
                block: height,
            }));
        }
        if height - item.height > EVIDENCE_HORIZON {
            return Err(invalid(EvidenceError::Expired {
                height: item.height,
                block: height,
            }));
        }
        if crate::evidence::recorded(&log, &item.validator, item.height) {
            return Err(invalid(EvidenceError::AlreadyRecorded {
                validator: item.validator,
                height: item.height,
            }));
        }
        if log.len() >= EVIDENCE_LOG_MAX {
            return Err(invalid(EvidenceError::LogFull));
        }
        let Some(set) = validator_set_at(view, item.height)? else {
            return Err(invalid(EvidenceError::NotValidator {
                validator: item.validator,
                height: item.height,
            }));
        };
        let member = item.verify(&chain_id, &set).map_err(invalid)?;
        let record = EvidenceRecord {
            evidence: item.clone(),
            member,
            included_at: height,
        };
        writes.insert(
            encode_key(&StateKey::Evidence(id))?,
            Some(codec::encode(&record)?),
        );
        log.push(LoggedOffence {
            id,
            validator: item.validator,
            height: item.height,
        });
        ids.push(id);
    }
    writes.insert(
        encode_key(&StateKey::EvidenceLog)?,
        Some(codec::encode(&log)?),
    );
    Ok(EvidenceWrites {
        writes,
        root: merkle::root(&ids),
    })
}

/// Of `candidates`, the evidence a proposer may put in the block after
/// `view`'s tip, in block order: each checked as [`apply_block`] will, none
/// twice, at most [`EVIDENCE_PER_BLOCK_MAX`]. Returns the ids of those
/// that can never be included (on record, beyond the horizon, not
/// verifiable), so the caller can drop them.
pub fn usable_evidence(
    view: &dyn StateView,
    candidates: &[Evidence],
) -> Result<(Vec<Evidence>, Vec<Hash>), BlockError> {
    let height = view.tip()?.height.saturating_add(1);
    let mut keyed = Vec::with_capacity(candidates.len());
    for item in candidates {
        keyed.push((item.id()?, item));
    }
    keyed.sort_by_key(|(id, _)| *id);
    keyed.dedup_by_key(|(id, _)| *id);
    let mut chosen: Vec<Evidence> = Vec::new();
    let mut dead = Vec::new();
    for (id, item) in keyed {
        if chosen.len() >= EVIDENCE_PER_BLOCK_MAX {
            break;
        }
        if chosen
            .iter()
            .any(|other| other.validator == item.validator && other.height == item.height)
        {
            dead.push(id);
            continue;
        }
        let mut trial = chosen.clone();
        trial.push(item.clone());
        match check_evidence(view, height, &trial) {
            Ok(_) => chosen = trial,
            Err(BlockError::InvalidEvidence {
                error: EvidenceError::TooNew { .. },
                ..
            }) => {}
            Err(BlockError::InvalidEvidence { .. }) => dead.push(id),
            Err(other) => return Err(other),
        }
    }
    Ok((chosen, dead))
}
