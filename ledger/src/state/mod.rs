//! The state and the pure state transition.
//!
//! [`apply_block`] takes a read-only [`StateView`] of the state after the
//! previous block and a block, and returns a [`BlockOutcome`]: a receipt per
//! transaction, every state write, and the commitment update with the new
//! state root. It never writes anywhere and never panics on input: a bad
//! transaction becomes a typed [`RejectReason`], a bad block a typed
//! [`BlockError`]. Only [`crate::store`] persists an outcome.
//!
//! The state is a set of entries keyed by [`StateKey`]: accounts, assets, the
//! member list and the chain parameters. Keys and values are stored in their
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
//! Fees: a transfer pays `flat + amount × bps / 10,000` (rounded down) of the
//! schedule for its asset, in that asset, on top of the amount, credited to
//! the treasury account of the bank hosting the sender. The envelope's `fee`
//! is the most the sender accepts; a higher schedule fee rejects the
//! transaction (`FeeAboveMaximum`). Issue, redeem and registration pay none.

pub mod commitment;
pub mod memory;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::block::{Block, BlockHeader};
use crate::codec::{self, CodecError, STATE_VALUE_BYTES_MAX};
use crate::crypto::{self, CryptoError, sha256};
use crate::ids::{AccountId, AssetCode, ChainId, Hash, MemberId};
use crate::merkle;
use crate::tx::{Body, SignedTransaction, TxError};
use crate::validators::{Validator, ValidatorKey, ValidatorSet, ValidatorSetError};

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
}

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
}

impl AccountState {
    /// The balance of `asset` (zero if none).
    pub fn balance(&self, asset: &AssetCode) -> Amount {
        self.balances.get(asset).copied().unwrap_or(Amount::ZERO)
    }
}

/// An asset's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetState {
    /// The bank that issues and redeems it.
    pub issuer: MemberId,
    /// Decimal places of its human unit.
    pub decimals: u8,
    /// Issued supply: always the sum of all balances of the asset.
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
}

/// The fee rule of one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeeRule {
    /// Charged on every transfer, in minor units.
    pub flat: Amount,
    /// Plus this many basis points (1/10,000) of the amount, rounded down.
    pub basis_points: u16,
}

impl FeeRule {
    /// The fee for moving `amount`, or `None` on overflow.
    pub fn fee(&self, amount: Amount) -> Option<Amount> {
        self.flat
            .checked_add(amount.checked_basis_points(self.basis_points)?)
    }
}

/// Chain parameters (set in genesis; governance changes them in a later issue).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Params {
    /// Fee rule per asset; an asset without a rule moves free.
    pub fees: BTreeMap<AssetCode, FeeRule>,
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
}

/// Reads and decodes a typed state value.
pub fn read<T: Serialize + serde::de::DeserializeOwned>(
    view: &dyn StateView,
    key: &StateKey,
) -> Result<Option<T>, ViewError> {
    let key_bytes = key
        .encode()
        .map_err(|e| ViewError::Corrupt(e.to_string()))?;
    match view.get(&key_bytes)? {
        None => Ok(None),
        Some(bytes) => codec::decode::<T, STATE_VALUE_BYTES_MAX>(&bytes)
            .map(Some)
            .map_err(|error| ViewError::Corrupt(format!("{key:?}: {error}"))),
    }
}

/// The member list in force.
pub fn read_members(view: &dyn StateView) -> Result<Vec<Member>, ViewError> {
    read(view, &StateKey::Members)?
        .ok_or_else(|| ViewError::Corrupt("the member list is missing".into()))
}

/// The validator set in force, from the member list.
pub fn validator_set(members: &[Member]) -> Result<ValidatorSet, ValidatorSetError> {
    ValidatorSet::new(
        members
            .iter()
            .map(|member| Validator {
                member: member.id.clone(),
                key: member.validator_key,
                voting_power: member.voting_power,
            })
            .collect(),
    )
}

/// Why a transaction was included but did not take effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RejectReason {
    /// Included after its expiry height.
    #[error("expired at height {expiry_height}, block is at {height}")]
    Expired {
        /// The transaction's last valid height.
        expiry_height: u64,
        /// The block's height.
        height: u64,
    },
    /// The sender is not a registered account.
    #[error("sender is not a registered account")]
    UnknownSender,
    /// Not the sender's next nonce (replayed or skipped).
    #[error("bad nonce: expected {expected}, got {found}")]
    BadNonce {
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The sender used its last nonce (2^64 - 1): it can send nothing more.
    #[error("the sender's nonces are exhausted")]
    NonceExhausted,
    /// An account the body names is not registered.
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    /// An asset the body names does not exist.
    #[error("unknown asset {0}")]
    UnknownAsset(AssetCode),
    /// Amounts must be positive.
    #[error("amount must be positive")]
    ZeroAmount,
    /// Not enough money.
    #[error("insufficient funds: need {needed} {asset}, have {available}")]
    InsufficientFunds {
        /// The asset.
        asset: AssetCode,
        /// Amount plus fee, minor units.
        needed: Amount,
        /// The sender's balance.
        available: Amount,
    },
    /// The schedule's fee exceeds what the sender accepted.
    #[error("fee {required} exceeds the sender's maximum {maximum}")]
    FeeAboveMaximum {
        /// The schedule's fee.
        required: Amount,
        /// The envelope's fee.
        maximum: Amount,
    },
    /// Issue or redeem by someone other than the issuer's treasury.
    #[error("only the treasury of {issuer}, the issuer of {asset}, may do this")]
    NotIssuer {
        /// The asset.
        asset: AssetCode,
        /// Its issuer.
        issuer: MemberId,
    },
    /// A bank-only action by an account that is no bank's treasury.
    #[error("only a member bank's treasury may do this")]
    NotBank,
    /// Registering an account that exists.
    #[error("account {0} is already registered")]
    AccountExists(AccountId),
    /// Registering bytes that are not an ed25519 public key.
    #[error("account key is not a valid ed25519 public key")]
    InvalidKey,
    /// Registering a small-order key, under which signatures prove nothing.
    #[error("account key is weak (small order)")]
    WeakKey,
    /// A balance or supply would exceed 2^128 - 1.
    #[error("amount overflow in {0}")]
    Overflow(AssetCode),
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
}

impl Outcome {
    /// Whether this outcome is the transaction's last word: it applied, or
    /// it can never apply (its nonce is used up or it expired). A transaction
    /// from an unregistered sender or with a nonce ahead of the sender's is
    /// not final: included again later, it may still apply.
    pub fn is_final(&self) -> bool {
        match self {
            Outcome::Applied { .. } => true,
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
    /// The commitment's new buckets, nodes and root.
    pub commitment: CommitmentUpdate,
    /// Merkle root of `tx_ids`.
    pub tx_root: Hash,
    /// Merkle root of the receipts' hashes.
    pub receipts_root: Hash,
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
    let execution = execute(view, header.height, &block.transactions, signatures)?;
    check_root("transaction root", header.tx_root, execution.tx_root)?;
    check_root(
        "receipts root",
        header.receipts_root,
        execution.receipts_root,
    )?;
    check_root("state root", header.state_root, execution.commitment.root)?;
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
    let tip = view.tip()?;
    let height = tip.height.saturating_add(1);
    let validators = validator_set(&read_members(view)?)?;
    if validators.get(&proposer).is_none() {
        return Err(BlockError::UnknownProposer(proposer));
    }
    let execution = execute(view, height, &transactions, signatures)?;
    let header = BlockHeader {
        chain_id: view.chain_id(),
        height,
        previous_hash: tip.block_hash,
        proposer,
        timestamp_ms,
        tx_root: execution.tx_root,
        state_root: execution.commitment.root,
        receipts_root: execution.receipts_root,
        validator_set_hash: validators.hash()?,
    };
    let block_hash = header.hash()?;
    Ok(BlockOutcome {
        block: Block {
            header,
            transactions,
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
    let mut receipts = Vec::with_capacity(transactions.len());
    for (signed, tx_id) in transactions.iter().zip(&tx_ids) {
        let outcome = exec.transaction(signed)?;
        receipts.push(Receipt {
            tx_id: *tx_id,
            outcome,
        });
    }
    let writes = exec.into_writes()?;
    let commitment = commitment::update(view, &writes)?;
    let receipt_hashes = receipts
        .iter()
        .map(Receipt::hash)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Execution {
        tx_root: merkle::root(&tx_ids),
        receipts_root: merkle::root(&receipt_hashes),
        tx_ids,
        receipts,
        writes,
        commitment,
    })
}

/// A value's state before the current transaction first changed it.
enum Undo {
    Account(AccountId, Option<AccountState>),
    Asset(AssetCode, Option<AssetState>),
}

/// The working state of one block's execution: entries read so far, with
/// the block's changes applied, and an undo log for the current transaction.
struct Exec<'v> {
    view: &'v dyn StateView,
    height: u64,
    members: Vec<Member>,
    params: Params,
    accounts: BTreeMap<AccountId, Option<AccountState>>,
    assets: BTreeMap<AssetCode, Option<AssetState>>,
    dirty_accounts: BTreeSet<AccountId>,
    dirty_assets: BTreeSet<AssetCode>,
    undo: Vec<Undo>,
    touched_accounts: BTreeSet<AccountId>,
    touched_assets: BTreeSet<AssetCode>,
}

/// A body failed: either a rejection (undo and record) or a broken view.
enum Failure {
    Reject(RejectReason),
    View(ViewError),
}

impl From<RejectReason> for Failure {
    fn from(reason: RejectReason) -> Failure {
        Failure::Reject(reason)
    }
}

impl From<ViewError> for Failure {
    fn from(error: ViewError) -> Failure {
        Failure::View(error)
    }
}

impl<'v> Exec<'v> {
    fn new(view: &'v dyn StateView, height: u64) -> Result<Exec<'v>, BlockError> {
        Ok(Exec {
            view,
            height,
            members: read_members(view)?,
            params: read(view, &StateKey::Params)?.unwrap_or_default(),
            accounts: BTreeMap::new(),
            assets: BTreeMap::new(),
            dirty_accounts: BTreeSet::new(),
            dirty_assets: BTreeSet::new(),
            undo: Vec::new(),
            touched_accounts: BTreeSet::new(),
            touched_assets: BTreeSet::new(),
        })
    }

    /// Runs one transaction: rules 1–5 of the module docs.
    fn transaction(&mut self, signed: &SignedTransaction) -> Result<Outcome, BlockError> {
        let tx = &signed.tx;
        if tx.expiry_height < self.height {
            return Ok(Outcome::Rejected(RejectReason::Expired {
                expiry_height: tx.expiry_height,
                height: self.height,
            }));
        }
        let Some(mut sender) = self.account(&tx.sender)? else {
            return Ok(Outcome::Rejected(RejectReason::UnknownSender));
        };
        if tx.nonce != sender.nonce {
            return Ok(Outcome::Rejected(RejectReason::BadNonce {
                expected: sender.nonce,
                found: tx.nonce,
            }));
        }
        // After 2^64 - 1 transactions an account can send no more: its last
        // nonce must never apply twice, nor wrap to a replayable 0.
        let Some(next_nonce) = sender.nonce.checked_add(1) else {
            return Ok(Outcome::Rejected(RejectReason::NonceExhausted));
        };
        sender.nonce = next_nonce;
        self.put_account(tx.sender, Some(sender));
        self.begin();
        let result = match &tx.body {
            Body::Transfer { to, asset, amount } => {
                self.transfer(&tx.sender, to, asset, *amount, tx.fee)
            }
            Body::Issue { to, asset, amount } => self.issue(&tx.sender, to, asset, *amount),
            Body::Redeem { asset, amount } => self.redeem(&tx.sender, asset, *amount),
            Body::RegisterAccount { account } => self.register(&tx.sender, account),
        };
        match result {
            Ok(fee) => {
                self.check_conservation()?;
                Ok(Outcome::Applied { fee })
            }
            Err(Failure::Reject(reason)) => {
                self.rollback();
                Ok(Outcome::Rejected(reason))
            }
            Err(Failure::View(error)) => Err(error.into()),
        }
    }

    fn transfer(
        &mut self,
        sender: &AccountId,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
        maximum_fee: Amount,
    ) -> Result<Amount, Failure> {
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        if self.asset(asset)?.is_none() {
            return Err(RejectReason::UnknownAsset(asset.clone()).into());
        }
        let rule = self.params.fees.get(asset).copied().unwrap_or_default();
        let fee = rule
            .fee(amount)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        if fee > maximum_fee {
            return Err(RejectReason::FeeAboveMaximum {
                required: fee,
                maximum: maximum_fee,
            }
            .into());
        }
        if self.account(to)?.is_none() {
            return Err(RejectReason::UnknownAccount(*to).into());
        }
        let needed = amount
            .checked_add(fee)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        self.debit(sender, asset, needed)?;
        self.credit(to, asset, amount)?;
        if !fee.is_zero() {
            let bank = self.hosting_bank(sender)?;
            let treasury = self.treasury_of(&bank)?;
            self.credit(&treasury, asset, fee)?;
        }
        Ok(fee)
    }

    fn issue(
        &mut self,
        sender: &AccountId,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
    ) -> Result<Amount, Failure> {
        let mut state = self.issuer_asset(sender, asset)?;
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        if self.account(to)?.is_none() {
            return Err(RejectReason::UnknownAccount(*to).into());
        }
        state.supply = state
            .supply
            .checked_add(amount)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        self.put_asset(asset.clone(), Some(state));
        self.credit(to, asset, amount)?;
        Ok(Amount::ZERO)
    }

    fn redeem(
        &mut self,
        sender: &AccountId,
        asset: &AssetCode,
        amount: Amount,
    ) -> Result<Amount, Failure> {
        let mut state = self.issuer_asset(sender, asset)?;
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        self.debit(sender, asset, amount)?;
        state.supply = state
            .supply
            .checked_sub(amount)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        self.put_asset(asset.clone(), Some(state));
        Ok(Amount::ZERO)
    }

    fn register(&mut self, sender: &AccountId, account: &AccountId) -> Result<Amount, Failure> {
        let bank = self
            .members
            .iter()
            .find(|member| member.treasury == *sender)
            .map(|member| member.id.clone())
            .ok_or(RejectReason::NotBank)?;
        crypto::check_public_key(&account.0).map_err(|error| match error {
            CryptoError::WeakPublicKey => RejectReason::WeakKey,
            _ => RejectReason::InvalidKey,
        })?;
        if self.account(account)?.is_some() {
            return Err(RejectReason::AccountExists(*account).into());
        }
        self.put_account(
            *account,
            Some(AccountState {
                bank,
                nonce: 0,
                balances: BTreeMap::new(),
            }),
        );
        Ok(Amount::ZERO)
    }

    /// The asset's state, if `sender` is the treasury of its issuer.
    fn issuer_asset(
        &mut self,
        sender: &AccountId,
        asset: &AssetCode,
    ) -> Result<AssetState, Failure> {
        let state = self
            .asset(asset)?
            .ok_or_else(|| RejectReason::UnknownAsset(asset.clone()))?;
        let issuer_treasury = self.treasury_of(&state.issuer)?;
        if issuer_treasury != *sender {
            return Err(RejectReason::NotIssuer {
                asset: asset.clone(),
                issuer: state.issuer,
            }
            .into());
        }
        Ok(state)
    }

    fn hosting_bank(&mut self, account: &AccountId) -> Result<MemberId, Failure> {
        Ok(self
            .account(account)?
            .ok_or(RejectReason::UnknownAccount(*account))?
            .bank)
    }

    fn treasury_of(&self, bank: &MemberId) -> Result<AccountId, Failure> {
        self.members
            .iter()
            .find(|member| member.id == *bank)
            .map(|member| member.treasury)
            .ok_or_else(|| {
                Failure::View(ViewError::Corrupt(format!("bank {bank} is not a member")))
            })
    }

    fn debit(&mut self, id: &AccountId, asset: &AssetCode, amount: Amount) -> Result<(), Failure> {
        let mut account = self.account(id)?.ok_or(RejectReason::UnknownAccount(*id))?;
        let available = account.balance(asset);
        let left =
            available
                .checked_sub(amount)
                .ok_or_else(|| RejectReason::InsufficientFunds {
                    asset: asset.clone(),
                    needed: amount,
                    available,
                })?;
        set_balance(&mut account, asset, left);
        self.put_account(*id, Some(account));
        Ok(())
    }

    fn credit(&mut self, id: &AccountId, asset: &AssetCode, amount: Amount) -> Result<(), Failure> {
        let mut account = self.account(id)?.ok_or(RejectReason::UnknownAccount(*id))?;
        let total = account
            .balance(asset)
            .checked_add(amount)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        set_balance(&mut account, asset, total);
        self.put_account(*id, Some(account));
        Ok(())
    }

    fn account(&mut self, id: &AccountId) -> Result<Option<AccountState>, ViewError> {
        if let Some(cached) = self.accounts.get(id) {
            return Ok(cached.clone());
        }
        let loaded: Option<AccountState> = read(self.view, &StateKey::Account(*id))?;
        self.accounts.insert(*id, loaded.clone());
        Ok(loaded)
    }

    fn asset(&mut self, code: &AssetCode) -> Result<Option<AssetState>, ViewError> {
        if let Some(cached) = self.assets.get(code) {
            return Ok(cached.clone());
        }
        let loaded: Option<AssetState> = read(self.view, &StateKey::Asset(code.clone()))?;
        self.assets.insert(code.clone(), loaded.clone());
        Ok(loaded)
    }

    fn put_account(&mut self, id: AccountId, state: Option<AccountState>) {
        let previous = self.accounts.insert(id, state).flatten();
        if self.touched_accounts.insert(id) {
            self.undo.push(Undo::Account(id, previous));
        }
        self.dirty_accounts.insert(id);
    }

    fn put_asset(&mut self, code: AssetCode, state: Option<AssetState>) {
        let previous = self.assets.insert(code.clone(), state).flatten();
        if self.touched_assets.insert(code.clone()) {
            self.undo.push(Undo::Asset(code.clone(), previous));
        }
        self.dirty_assets.insert(code);
    }

    /// Starts a body: from here, changes can be rolled back.
    fn begin(&mut self) {
        self.undo.clear();
        self.touched_accounts.clear();
        self.touched_assets.clear();
    }

    fn rollback(&mut self) {
        for undo in self.undo.drain(..).rev() {
            match undo {
                Undo::Account(id, previous) => {
                    self.accounts.insert(id, previous);
                }
                Undo::Asset(code, previous) => {
                    self.assets.insert(code, previous);
                }
            }
        }
        self.touched_accounts.clear();
        self.touched_assets.clear();
    }

    /// Invariant: within one applied body, per asset, the change of all
    /// balances equals the change of supply.
    fn check_conservation(&self) -> Result<(), BlockError> {
        conservation_deltas(self)
    }

    fn into_writes(self) -> Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>, BlockError> {
        let mut writes = BTreeMap::new();
        for id in &self.dirty_accounts {
            let value = match self.accounts.get(id).cloned().flatten() {
                Some(state) => Some(codec::encode(&state)?),
                None => None,
            };
            writes.insert(StateKey::Account(*id).encode()?, value);
        }
        for code in &self.dirty_assets {
            let value = match self.assets.get(code).cloned().flatten() {
                Some(state) => Some(codec::encode(&state)?),
                None => None,
            };
            writes.insert(StateKey::Asset(code.clone()).encode()?, value);
        }
        Ok(writes)
    }
}

fn set_balance(account: &mut AccountState, asset: &AssetCode, amount: Amount) {
    if amount.is_zero() {
        account.balances.remove(asset);
    } else {
        account.balances.insert(asset.clone(), amount);
    }
}

/// Checks that the current transaction's balance changes and supply changes
/// agree per asset, from its undo log (the values before it ran).
fn conservation_deltas(exec: &Exec<'_>) -> Result<(), BlockError> {
    let overflow = || BlockError::Invariant("conservation arithmetic overflowed".into());
    let mut net: BTreeMap<AssetCode, i128> = BTreeMap::new();
    let mut add = |asset: &AssetCode, before: Amount, after: Amount, sign: i128| {
        let before = i128::try_from(before.0).map_err(|_| overflow())?;
        let after = i128::try_from(after.0).map_err(|_| overflow())?;
        let delta = after
            .checked_sub(before)
            .and_then(|delta| delta.checked_mul(sign))
            .ok_or_else(overflow)?;
        let slot = net.entry(asset.clone()).or_insert(0);
        *slot = slot.checked_add(delta).ok_or_else(overflow)?;
        Ok::<(), BlockError>(())
    };
    for undo in &exec.undo {
        match undo {
            Undo::Account(id, before) => {
                let after = exec.accounts.get(id).cloned().flatten();
                let mut assets: BTreeSet<&AssetCode> = BTreeSet::new();
                if let Some(before) = before {
                    assets.extend(before.balances.keys());
                }
                if let Some(after) = &after {
                    assets.extend(after.balances.keys());
                }
                for asset in assets {
                    let old = before.as_ref().map_or(Amount::ZERO, |a| a.balance(asset));
                    let new = after.as_ref().map_or(Amount::ZERO, |a| a.balance(asset));
                    add(asset, old, new, 1)?;
                }
            }
            Undo::Asset(code, before) => {
                let after = exec.assets.get(code).cloned().flatten();
                let old = before.as_ref().map_or(Amount::ZERO, |a| a.supply);
                let new = after.as_ref().map_or(Amount::ZERO, |a| a.supply);
                add(code, old, new, -1)?;
            }
        }
    }
    match net.iter().find(|(_, delta)| **delta != 0) {
        None => Ok(()),
        Some((asset, delta)) => Err(BlockError::Invariant(format!(
            "{asset}: balances and supply diverged by {delta}"
        ))),
    }
}
