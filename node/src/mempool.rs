//! The mempool: transactions admitted but not yet committed.
//!
//! A plain struct, tested without tokio or a network. A transaction is
//! admitted only after it decoded within its byte limit, names this chain,
//! has not expired at the next height, carries a valid `verify_strict`
//! signature, comes from a registered sender and has a nonce between the
//! sender's next nonce and a bounded distance ahead. Duplicates are refused
//! by id; a second transaction for a (sender, nonce) already held is refused
//! too (no replacement). The pool is bounded in transactions, bytes and
//! transactions per sender.
//!
//! Block building takes, per sender, the contiguous run of nonces starting
//! at the sender's next nonce, one transaction per sender per pass in order
//! of arrival, so one busy sender cannot starve the others. After a commit,
//! [`Mempool::remove_committed`] drops what the block carried and whatever
//! the new state made stale (used nonces, expired transactions).
//!
//! Iteration uses ordered maps only: two nodes with the same pool build the
//! same block.

use std::collections::{BTreeMap, HashMap};

use clearhouse_ledger::codec::TX_BYTES_MAX;
use clearhouse_ledger::state::{
    AccountState, BlockOutcome, StateKey, StateView, Tip, ViewError, read,
};
use clearhouse_ledger::tx::TxError;
use clearhouse_ledger::{AccountId, Hash, SignedTransaction};

use crate::verify::{Verified, too_long};

/// The mempool's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Most transactions held.
    pub mempool_txs_max: usize,
    /// Most wire bytes held, all transactions together.
    pub mempool_bytes_max: usize,
    /// Most transactions held for one sender; also how far ahead of the
    /// sender's next nonce a transaction may be.
    pub sender_txs_max: usize,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            mempool_txs_max: 100_000,
            mempool_bytes_max: 64 * 1024 * 1024,
            sender_txs_max: 1_000,
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// Not decodable, wrong chain, or a bad signature.
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// Already in the pool.
    #[error("transaction {0} is already pending")]
    Duplicate(Hash),
    /// Its expiry height is below the next block's height.
    #[error("expired at height {expiry_height}, the next block is {next_height}")]
    Expired {
        /// The transaction's last valid height.
        expiry_height: u64,
        /// The next block's height.
        next_height: u64,
    },
    /// The sender is not a registered account.
    #[error("sender {0} is not a registered account")]
    UnknownSender(AccountId),
    /// The nonce was already used.
    #[error("nonce {found} already used: the sender's next nonce is {expected}")]
    StaleNonce {
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The nonce is too far ahead of the sender's next nonce.
    #[error("nonce {found} is too far ahead of the sender's next nonce {expected}")]
    NonceTooFarAhead {
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// Another transaction of this sender with this nonce is pending.
    #[error("another transaction with nonce {0} from this sender is pending")]
    NonceTaken(u64),
    /// The pool is at one of its bounds.
    #[error("the mempool is full")]
    Full,
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] ViewError),
}

impl AdmitError {
    /// Whether the same bytes could be admitted later (the pool was full or
    /// the state unreadable), as opposed to being wrong in themselves.
    pub fn is_transient(&self) -> bool {
        matches!(self, AdmitError::Full | AdmitError::State(_))
    }
}

#[derive(Debug, Clone)]
struct Entry {
    tx: SignedTransaction,
    wire_bytes: usize,
    arrival: u64,
}

/// The pool.
#[derive(Debug, Clone)]
pub struct Mempool {
    limits: MempoolLimits,
    by_id: HashMap<Hash, Entry>,
    /// Per sender, nonce to transaction id.
    by_sender: BTreeMap<AccountId, BTreeMap<u64, Hash>>,
    bytes: usize,
    next_arrival: u64,
    /// Registered senders' next nonces in the state after
    /// `nonces_tip`: admission, selection and eviction read a sender's
    /// account once per block that moves it, not once per transaction.
    nonces: HashMap<AccountId, u64>,
    nonces_tip: Option<Tip>,
}

impl Mempool {
    /// An empty pool.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            by_id: HashMap::new(),
            by_sender: BTreeMap::new(),
            bytes: 0,
            next_arrival: 0,
            nonces: HashMap::new(),
            nonces_tip: None,
        }
    }

    /// How many transactions are pending.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Wire bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a transaction is pending.
    pub fn contains(&self, id: &Hash) -> bool {
        self.by_id.contains_key(id)
    }

    /// A pending transaction.
    pub fn get(&self, id: &Hash) -> Option<&SignedTransaction> {
        self.by_id.get(id).map(|entry| &entry.tx)
    }

    /// Decodes wire bytes (at most [`TX_BYTES_MAX`]) and admits the transaction.
    pub fn admit_bytes(&mut self, bytes: &[u8], view: &dyn StateView) -> Result<Hash, AdmitError> {
        let tx = SignedTransaction::decode(bytes)?;
        self.admit(tx, bytes.len(), view)
    }

    /// Admits a decoded transaction whose wire encoding has `wire_bytes`
    /// bytes, checking it against the state after the last committed block.
    /// The signature is checked last, once everything else says yes.
    pub fn admit(
        &mut self,
        tx: SignedTransaction,
        wire_bytes: usize,
        view: &dyn StateView,
    ) -> Result<Hash, AdmitError> {
        if wire_bytes > TX_BYTES_MAX {
            return Err(too_long(wire_bytes));
        }
        // Cheap checks first: a duplicate costs no signature check.
        let id = tx.id().map_err(TxError::from)?;
        self.check_admissible(&tx, id, wire_bytes, view)?;
        // The expensive check last, once everything else says yes.
        tx.verify(&view.chain_id())?;
        self.insert(tx, id, wire_bytes);
        Ok(id)
    }

    /// Admits a transaction whose signature was already checked (for this
    /// view's chain), with the same state checks as [`Mempool::admit`].
    pub fn admit_verified(
        &mut self,
        verified: Verified,
        view: &dyn StateView,
    ) -> Result<Hash, AdmitError> {
        let (id, chain_id, wire_bytes) =
            (verified.id(), verified.chain_id(), verified.wire_bytes());
        let tx = verified.into_transaction();
        if chain_id != view.chain_id() {
            return Err(AdmitError::Invalid(TxError::WrongChain {
                expected: view.chain_id(),
                found: chain_id,
            }));
        }
        self.check_admissible(&tx, id, wire_bytes, view)?;
        self.insert(tx, id, wire_bytes);
        Ok(id)
    }

    /// Every admission check but the signature's (cheap: one state read),
    /// so a caller can skip verifying what would be refused anyway.
    pub fn check_admissible(
        &mut self,
        tx: &SignedTransaction,
        id: Hash,
        wire_bytes: usize,
        view: &dyn StateView,
    ) -> Result<(), AdmitError> {
        if self.by_id.contains_key(&id) {
            return Err(AdmitError::Duplicate(id));
        }
        let next_height = view.tip()?.height.saturating_add(1);
        if tx.tx.expiry_height < next_height {
            return Err(AdmitError::Expired {
                expiry_height: tx.tx.expiry_height,
                next_height,
            });
        }
        let sender = tx.tx.sender;
        let expected = self
            .next_nonce(view, &sender)?
            .ok_or(AdmitError::UnknownSender(sender))?;
        let found = tx.tx.nonce;
        if found < expected {
            return Err(AdmitError::StaleNonce { expected, found });
        }
        let window = u64::try_from(self.limits.sender_txs_max).unwrap_or(u64::MAX);
        if found - expected >= window {
            return Err(AdmitError::NonceTooFarAhead { expected, found });
        }
        let pending = self.by_sender.get(&sender);
        if pending.is_some_and(|nonces| nonces.contains_key(&found)) {
            return Err(AdmitError::NonceTaken(found));
        }
        if self.by_id.len() >= self.limits.mempool_txs_max
            || self.bytes.saturating_add(wire_bytes) > self.limits.mempool_bytes_max
            || pending.is_some_and(|nonces| nonces.len() >= self.limits.sender_txs_max)
        {
            return Err(AdmitError::Full);
        }
        Ok(())
    }

    fn insert(&mut self, tx: SignedTransaction, id: Hash, wire_bytes: usize) {
        self.by_sender
            .entry(tx.tx.sender)
            .or_default()
            .insert(tx.tx.nonce, id);
        self.bytes += wire_bytes;
        self.by_id.insert(
            id,
            Entry {
                tx,
                wire_bytes,
                arrival: self.next_arrival,
            },
        );
        self.next_arrival += 1;
    }

    /// The transactions for the next block: per sender the contiguous nonces
    /// from its next nonce, taken one per sender per pass in order of
    /// arrival, up to `txs_max` transactions and `bytes_max` wire bytes.
    /// Transactions expired at the next height are skipped (and end their
    /// sender's run).
    pub fn select(
        &mut self,
        view: &dyn StateView,
        txs_max: usize,
        bytes_max: usize,
    ) -> Result<Vec<SignedTransaction>, ViewError> {
        let next_height = view.tip()?.height.saturating_add(1);
        // Each sender's selectable run, oldest arrival first.
        let senders: Vec<AccountId> = self.by_sender.keys().copied().collect();
        let mut expected_nonces = Vec::with_capacity(senders.len());
        for sender in &senders {
            expected_nonces.push(self.next_nonce(view, sender)?);
        }
        let mut runs: Vec<(u64, Vec<&Entry>)> = Vec::new();
        for ((sender, nonces), expected) in self.by_sender.iter().zip(expected_nonces) {
            debug_assert!(senders.binary_search(sender).is_ok());
            let Some(mut expected) = expected else {
                continue;
            };
            let mut run = Vec::new();
            for (nonce, id) in nonces.range(expected..) {
                let Some(entry) = self.by_id.get(id) else {
                    break;
                };
                if *nonce != expected || entry.tx.tx.expiry_height < next_height {
                    break;
                }
                run.push(entry);
                expected = expected.saturating_add(1);
            }
            if let Some(first) = run.first() {
                runs.push((first.arrival, run));
            }
        }
        runs.sort_by_key(|(arrival, _)| *arrival);
        let mut selected = Vec::new();
        let mut bytes = 0usize;
        let mut depth = 0;
        loop {
            let mut progressed = false;
            for (_, run) in &runs {
                let Some(entry) = run.get(depth) else {
                    continue;
                };
                if selected.len() >= txs_max {
                    return Ok(selected);
                }
                if bytes.saturating_add(entry.wire_bytes) > bytes_max {
                    continue;
                }
                bytes += entry.wire_bytes;
                selected.push(entry.tx.clone());
                progressed = true;
            }
            if !progressed {
                return Ok(selected);
            }
            depth += 1;
        }
    }

    /// After a block committed (`outcome`, its execution; `view` shows the
    /// state after it): drops
    /// the block's transactions, transactions whose nonce is now used, and
    /// transactions expired at the next height.
    ///
    /// Only the block's senders can have a new nonce (a nonce moves only
    /// when its sender's transaction executes), so only their accounts are
    /// read; expiry is checked in memory. A block thus costs state reads
    /// for its own senders, not for every sender in the pool.
    pub fn remove_committed(
        &mut self,
        outcome: &BlockOutcome,
        view: &dyn StateView,
    ) -> Result<(), ViewError> {
        let block = &outcome.block;
        // The cached nonces stay valid for every sender the block did not
        // move, if the cache was of the block's parent state.
        let tip = view.tip()?;
        let follows = self.nonces_tip.is_some_and(|cached| {
            cached.block_hash == block.header.previous_hash && outcome.block_hash == tip.block_hash
        });
        if follows {
            for tx in &block.transactions {
                self.nonces.remove(&tx.tx.sender);
            }
        } else {
            self.nonces.clear();
        }
        self.nonces_tip = Some(tip);
        let mut senders: Vec<AccountId> = Vec::new();
        // The execution computed every id once; a block's ids are in order.
        for (tx, id) in block.transactions.iter().zip(&outcome.execution.tx_ids) {
            self.remove(id);
            senders.push(tx.tx.sender);
        }
        senders.sort_unstable();
        senders.dedup();
        let next_height = tip.height.saturating_add(1);
        let mut stale = Vec::new();
        // The block's own writes hold its senders' accounts as of the tip:
        // read their nonces there rather than from the store, and cache
        // them even for a sender with nothing pending now, whose next
        // payment (often soon) would otherwise read its account again.
        let is_tip = outcome.block_hash == tip.block_hash;
        for sender in &senders {
            let written = if is_tip {
                outcome
                    .written::<AccountState>(&StateKey::Account(*sender))?
                    .map(|account| account.nonce)
            } else {
                None
            };
            if let Some(nonce) = written {
                self.cache_nonce(*sender, nonce);
            }
            if !self.by_sender.contains_key(sender) {
                continue;
            }
            let expected = match written {
                Some(nonce) => Some(nonce),
                None => self.next_nonce(view, sender)?,
            };
            let Some(nonces) = self.by_sender.get(sender) else {
                continue;
            };
            for (nonce, id) in nonces {
                if expected.is_none_or(|expected| *nonce < expected) {
                    stale.push(*id);
                }
            }
        }
        stale.extend(
            self.by_id
                .iter()
                .filter(|(_, entry)| entry.tx.tx.expiry_height < next_height)
                .map(|(id, _)| *id),
        );
        for id in stale {
            self.remove(&id);
        }
        Ok(())
    }

    /// A sender's next nonce, from the cache when it holds the view's tip.
    fn next_nonce(
        &mut self,
        view: &dyn StateView,
        sender: &AccountId,
    ) -> Result<Option<u64>, ViewError> {
        let tip = view.tip()?;
        if self.nonces_tip != Some(tip) {
            self.nonces.clear();
            self.nonces_tip = Some(tip);
        }
        if let Some(cached) = self.nonces.get(sender) {
            return Ok(Some(*cached));
        }
        let nonce = next_nonce(view, sender)?;
        // Only registered senders are cached: a block may register an
        // account without that account sending anything in it.
        if let Some(nonce) = nonce {
            self.cache_nonce(*sender, nonce);
        }
        Ok(nonce)
    }

    /// Caches a registered sender's next nonce at `nonces_tip`.
    fn cache_nonce(&mut self, sender: AccountId, nonce: u64) {
        if self.nonces.len() >= self.limits.mempool_txs_max.max(1) {
            self.nonces.clear();
        }
        self.nonces.insert(sender, nonce);
    }

    fn remove(&mut self, id: &Hash) {
        let Some(entry) = self.by_id.remove(id) else {
            return;
        };
        self.bytes -= entry.wire_bytes;
        let sender = entry.tx.tx.sender;
        if let Some(nonces) = self.by_sender.get_mut(&sender) {
            nonces.remove(&entry.tx.tx.nonce);
            if nonces.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
    }
}

/// The sender's next nonce, or `None` if it is not registered.
fn next_nonce(view: &dyn StateView, sender: &AccountId) -> Result<Option<u64>, ViewError> {
    let account: Option<AccountState> = read(view, &StateKey::Account(*sender))?;
    Ok(account.map(|account| account.nonce))
}
