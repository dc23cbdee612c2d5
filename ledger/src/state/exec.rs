//! Executing one block: the working state ([`Exec`]), the rules of every
//! body, the deadlines processed at the start of the block, and the
//! conservation check run after every step.
//!
//! A *step* is one transaction body or one deadline. Each step starts with
//! [`Exec::begin`], which forgets the previous step's "before" values; a
//! rejected step is rolled back to them, an applied one is checked for
//! conservation against them.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::amount::{Amount, Rate};
use crate::codec;
use crate::crypto::{self, CryptoError};
use crate::ids::{AccountId, AssetCode, Category, Hash, MemberId};
use crate::payment::PaymentDetails;
use crate::sealed::SealedDetails;
use crate::tx::{Body, SignedTransaction, Transaction};

mod governance;

use super::credit::{AttestationEntry, CreditLine, rating};
use super::escrow::{Dispute, EscrowState, EscrowStatus, SettledBy, Settlement};
use super::fx::{QUOTES_PER_BANK_MAX, QuoteBook, QuoteState};
use super::governance::{Agenda, MemberStatus, Proposal};
use super::{
    AccountState, AssetState, BlockError, DUE_ITEMS_MAX, Decoded, DueItem, Member, Outcome,
    Overseer, OverseerRole, Params, RejectReason, StateKey, StateView, ViewError, Writes,
    decode_value, encode_key, read, read_members, read_overseers,
};

/// A key type of one kind of state entry.
pub(super) trait TableKey: Ord + Clone {
    /// Its state key.
    fn state_key(&self) -> StateKey;
}

impl TableKey for AccountId {
    fn state_key(&self) -> StateKey {
        StateKey::Account(*self)
    }
}

impl TableKey for AssetCode {
    fn state_key(&self) -> StateKey {
        StateKey::Asset(self.clone())
    }
}

impl TableKey for Hash {
    fn state_key(&self) -> StateKey {
        StateKey::Escrow(*self)
    }
}

/// A quote's id as a table key (an escrow's id is a bare [`Hash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct QuoteId(Hash);

impl TableKey for QuoteId {
    fn state_key(&self) -> StateKey {
        StateKey::Quote(self.0)
    }
}

/// A proposal's id as a table key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ProposalId(Hash);

impl TableKey for ProposalId {
    fn state_key(&self) -> StateKey {
        StateKey::Proposal(self.0)
    }
}

impl TableKey for MemberId {
    fn state_key(&self) -> StateKey {
        StateKey::QuoteBook(self.clone())
    }
}

/// A value kind that views may hold decoded ([`Decoded`]).
pub(super) trait Shared: Sized {
    /// The value as a decoded entry.
    fn share(value: Arc<Self>) -> Decoded;
    /// The value of a decoded entry of this kind.
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>>;
}

impl Shared for AccountState {
    fn share(value: Arc<Self>) -> Decoded {
        Decoded::Account(value)
    }
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>> {
        match decoded {
            Decoded::Account(value) => Some(value),
            _ => None,
        }
    }
}

impl Shared for AssetState {
    fn share(value: Arc<Self>) -> Decoded {
        Decoded::Asset(value)
    }
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>> {
        match decoded {
            Decoded::Asset(value) => Some(value),
            _ => None,
        }
    }
}

impl Shared for EscrowState {
    fn share(value: Arc<Self>) -> Decoded {
        Decoded::Escrow(value)
    }
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>> {
        match decoded {
            Decoded::Escrow(value) => Some(value),
            _ => None,
        }
    }
}

impl Shared for QuoteState {
    fn share(value: Arc<Self>) -> Decoded {
        Decoded::Quote(value)
    }
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>> {
        match decoded {
            Decoded::Quote(value) => Some(value),
            _ => None,
        }
    }
}

impl Shared for QuoteBook {
    fn share(value: Arc<Self>) -> Decoded {
        Decoded::QuoteBook(value)
    }
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>> {
        match decoded {
            Decoded::QuoteBook(value) => Some(value),
            _ => None,
        }
    }
}

impl Shared for Proposal {
    fn share(value: Arc<Self>) -> Decoded {
        Decoded::Proposal(value)
    }
    fn shared(decoded: &Decoded) -> Option<&Arc<Self>> {
        match decoded {
            Decoded::Proposal(value) => Some(value),
            _ => None,
        }
    }
}

/// The entries of one kind read or written by the block so far. Values are
/// shared with the view they came from (and with the step's undo copy):
/// the first change in a step copies the value, a read copies nothing.
pub(super) struct Table<K, V> {
    /// Every key the block read or wrote, with its value and undo state.
    cache: BTreeMap<K, Slot<V>>,
    /// Keys the current step wrote, in the order it first wrote them.
    step: Vec<K>,
}

/// One cached entry.
struct Slot<V> {
    /// The encoded key.
    key: Vec<u8>,
    /// The value as the block left it (`None`: absent).
    value: Option<Arc<V>>,
    /// Whether the block wrote it (it is then part of the block's writes,
    /// even when a rolled-back step restored its value).
    dirty: bool,
    /// The value before the current step, if the step wrote it.
    before: Option<Option<Arc<V>>>,
}

impl<K: TableKey, V: Clone + Serialize + DeserializeOwned + Shared> Table<K, V> {
    fn new() -> Table<K, V> {
        Table {
            cache: BTreeMap::new(),
            step: Vec::new(),
        }
    }

    /// The slot of `key`, read from the view the first time.
    fn slot(&mut self, view: &dyn StateView, key: &K) -> Result<&mut Slot<V>, ViewError> {
        Self::load(&mut self.cache, view, key)
    }

    fn load<'c>(
        cache: &'c mut BTreeMap<K, Slot<V>>,
        view: &dyn StateView,
        key: &K,
    ) -> Result<&'c mut Slot<V>, ViewError> {
        // One search when cached (keys are cheap to clone: ids and hashes,
        // or a short asset code).
        Ok(match cache.entry(key.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let state_key = key.state_key();
                let encoded = encode_key(&state_key)?;
                let value = match view.decoded(&encoded) {
                    Some(decoded) => match V::shared(&decoded) {
                        Some(value) => Some(Arc::clone(value)),
                        None => {
                            return Err(ViewError::Corrupt(format!(
                                "{state_key:?}: the view holds another kind of value"
                            )));
                        }
                    },
                    None => match view.get(&encoded)? {
                        Some(bytes) => Some(Arc::new(decode_value(&state_key, &bytes)?)),
                        None => None,
                    },
                };
                entry.insert(Slot {
                    key: encoded,
                    value,
                    dirty: false,
                    before: None,
                })
            }
        })
    }

    /// The current value.
    fn get(&mut self, view: &dyn StateView, key: &K) -> Result<Option<&V>, ViewError> {
        Ok(self.slot(view, key)?.value.as_deref())
    }

    /// The current value for changing (recorded for undo and writing).
    fn get_mut(&mut self, view: &dyn StateView, key: &K) -> Result<Option<&mut V>, ViewError> {
        let slot = Self::load(&mut self.cache, view, key)?;
        if slot.value.is_none() {
            return Ok(None);
        }
        if slot.before.is_none() {
            slot.before = Some(slot.value.clone());
            self.step.push(key.clone());
        }
        slot.dirty = true;
        Ok(slot.value.as_mut().map(Arc::make_mut))
    }

    /// The current value for a change no step will undo or check (a
    /// consumed nonce): written with the block, but not recorded for undo.
    fn get_mut_for_good(
        &mut self,
        view: &dyn StateView,
        key: &K,
    ) -> Result<Option<&mut V>, ViewError> {
        let slot = self.slot(view, key)?;
        if slot.value.is_some() {
            slot.dirty = true;
        }
        Ok(slot.value.as_mut().map(Arc::make_mut))
    }

    /// Sets (or with `None` deletes) a value.
    fn put(&mut self, view: &dyn StateView, key: K, value: Option<V>) -> Result<(), ViewError> {
        let slot = Self::load(&mut self.cache, view, &key)?;
        let previous = std::mem::replace(&mut slot.value, value.map(Arc::new));
        slot.dirty = true;
        if slot.before.is_none() {
            slot.before = Some(previous);
            self.step.push(key);
        }
        Ok(())
    }

    /// Starts a step: forgets the previous step's values.
    fn begin(&mut self) {
        for key in self.step.drain(..) {
            if let Some(slot) = self.cache.get_mut(&key) {
                slot.before = None;
            }
        }
    }

    fn rollback(&mut self) {
        for key in self.step.drain(..) {
            if let Some(slot) = self.cache.get_mut(&key)
                && let Some(before) = slot.before.take()
            {
                slot.value = before;
            }
        }
    }

    /// `(before, after)` of every entry the current step wrote.
    fn changes(&self) -> impl Iterator<Item = (&K, Option<&V>, Option<&V>)> {
        self.step.iter().filter_map(|key| {
            let slot = self.cache.get(key)?;
            let before = slot.before.as_ref()?;
            Some((key, before.as_deref(), slot.value.as_deref()))
        })
    }

    /// Encodes the entries the block wrote into `out`, and hands every
    /// present entry it read or wrote, decoded, to `decoded`.
    fn writes(
        self,
        out: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        decoded: &mut BTreeMap<Vec<u8>, Decoded>,
    ) -> Result<(), BlockError> {
        for slot in self.cache.into_values() {
            if slot.dirty {
                let value = match &slot.value {
                    Some(value) => Some(codec::encode(&**value)?),
                    None => None,
                };
                out.insert(slot.key.clone(), value);
            }
            if let Some(value) = slot.value {
                decoded.insert(slot.key, V::share(value));
            }
        }
        Ok(())
    }
}

/// The deadline lists read or written by the block. Unlike [`Table`] it
/// undoes a step by replaying the step's own edits backwards, so appending
/// to a long list costs O(1), not a copy of the list.
struct DueLists {
    /// Lists as the block left them (empty: absent).
    cache: BTreeMap<u64, Vec<DueItem>>,
    /// Heights the block changed.
    dirty: BTreeSet<u64>,
    /// The current step's edits, in order.
    undo: Vec<DueEdit>,
}

enum DueEdit {
    Appended(u64),
    Removed(u64, usize, DueItem),
    Taken(u64, Vec<DueItem>),
}

impl DueLists {
    fn new() -> DueLists {
        DueLists {
            cache: BTreeMap::new(),
            dirty: BTreeSet::new(),
            undo: Vec::new(),
        }
    }

    fn list(&mut self, view: &dyn StateView, height: u64) -> Result<&mut Vec<DueItem>, ViewError> {
        match self.cache.entry(height) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let loaded: Option<Vec<DueItem>> = read(view, &StateKey::Due(height))?;
                Ok(entry.insert(loaded.unwrap_or_default()))
            }
        }
    }

    /// Registers `item` at `height` unless it is there already; refuses a
    /// list holding [`DUE_ITEMS_MAX`] items of the same kind.
    fn add(&mut self, view: &dyn StateView, height: u64, item: DueItem) -> Step {
        let list = self.list(view, height)?;
        if list.contains(&item) {
            return Ok(());
        }
        let credit = matches!(item, DueItem::Credit(..));
        let same_kind = list
            .iter()
            .filter(|other| matches!(other, DueItem::Credit(..)) == credit)
            .count();
        if same_kind >= DUE_ITEMS_MAX {
            return Err(RejectReason::DueListFull { height }.into());
        }
        list.push(item);
        self.undo.push(DueEdit::Appended(height));
        self.dirty.insert(height);
        Ok(())
    }

    /// Unregisters `item` at `height` (it settled early), if there.
    fn remove(&mut self, view: &dyn StateView, height: u64, item: &DueItem) -> Step {
        let list = self.list(view, height)?;
        if let Some(index) = list.iter().position(|other| other == item) {
            let removed = list.remove(index);
            self.undo.push(DueEdit::Removed(height, index, removed));
            self.dirty.insert(height);
        }
        Ok(())
    }

    /// Removes and returns the whole list at `height`.
    fn take(&mut self, view: &dyn StateView, height: u64) -> Result<Vec<DueItem>, ViewError> {
        let items = std::mem::take(self.list(view, height)?);
        if !items.is_empty() {
            self.undo.push(DueEdit::Taken(height, items.clone()));
            self.dirty.insert(height);
        }
        Ok(items)
    }

    fn begin(&mut self) {
        self.undo.clear();
    }

    fn rollback(&mut self) {
        while let Some(edit) = self.undo.pop() {
            match edit {
                DueEdit::Appended(height) => {
                    if let Some(list) = self.cache.get_mut(&height) {
                        list.pop();
                    }
                }
                DueEdit::Removed(height, index, item) => {
                    if let Some(list) = self.cache.get_mut(&height) {
                        list.insert(index.min(list.len()), item);
                    }
                }
                DueEdit::Taken(height, items) => {
                    self.cache.insert(height, items);
                }
            }
        }
    }

    fn writes(&self, out: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Result<(), BlockError> {
        for height in &self.dirty {
            let value = match self.cache.get(height) {
                Some(list) if !list.is_empty() => Some(codec::encode(list)?),
                _ => None,
            };
            out.insert(StateKey::Due(*height).encode()?, value);
        }
        Ok(())
    }
}

/// A 256-bit unsigned sum of amounts, for the conservation check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Wide {
    high: u128,
    low: u128,
}

impl Wide {
    fn add(&mut self, amount: Amount) {
        let (low, carry) = self.low.overflowing_add(amount.0);
        self.low = low;
        // At most a few values per step are added: `high` cannot overflow.
        self.high = self.high.wrapping_add(u128::from(carry));
    }
}

/// The two sides of the conservation check of one step, per asset the step
/// touched: (money after + supply before, money before + supply after).
/// A step touches a few assets, so they sit in a small array (no allocation)
/// and spill into a vector beyond it.
#[derive(Default)]
struct Sides<'a> {
    few: [Option<(&'a AssetCode, Wide, Wide)>; 4],
    more: Vec<(&'a AssetCode, Wide, Wide)>,
}

impl<'a> Sides<'a> {
    /// Counts a change of money (`money`) or of supply from `before` to `after`.
    fn add(&mut self, asset: &'a AssetCode, before: Amount, after: Amount, money: bool) {
        let (left, right) = self.sides(asset);
        if money {
            left.add(after);
            right.add(before);
        } else {
            left.add(before);
            right.add(after);
        }
    }

    fn sides(&mut self, asset: &'a AssetCode) -> (&mut Wide, &mut Wide) {
        let position = self
            .few
            .iter()
            .position(|entry| entry.as_ref().is_none_or(|(code, _, _)| *code == asset));
        match position {
            Some(index) => {
                let (_, left, right) =
                    self.few[index].get_or_insert((asset, Wide::default(), Wide::default()));
                (left, right)
            }
            None => {
                let index = match self.more.iter().position(|(code, _, _)| *code == asset) {
                    Some(index) => index,
                    None => {
                        self.more.push((asset, Wide::default(), Wide::default()));
                        self.more.len() - 1
                    }
                };
                let (_, left, right) = &mut self.more[index];
                (left, right)
            }
        }
    }

    /// The first asset (in code order) whose sides differ.
    fn first_diverged(&self) -> Option<(&'a AssetCode, Wide, Wide)> {
        self.few
            .iter()
            .flatten()
            .chain(&self.more)
            .filter(|(_, left, right)| left != right)
            .min_by_key(|(code, _, _)| *code)
            .copied()
    }
}

/// The working state of one block's execution.
pub(super) struct Exec<'v> {
    view: &'v dyn StateView,
    height: u64,
    members: Vec<Member>,
    params: Params,
    accounts: Table<AccountId, AccountState>,
    assets: Table<AssetCode, AssetState>,
    escrows: Table<Hash, EscrowState>,
    quotes: Table<QuoteId, QuoteState>,
    books: Table<MemberId, QuoteBook>,
    proposals: Table<ProposalId, Proposal>,
    due: DueLists,
    /// The auditors and regulators, once a step needed them.
    overseers: Option<Vec<Overseer>>,
    /// The open proposals, once read.
    agenda: Option<Agenda>,
    /// Which of members, params and agenda the block changed.
    dirty: governance::GovernanceDirty,
    /// The current step's copy of them, once it changed one.
    saved: Option<Box<governance::Saved>>,
    /// Banks that are not active, with their status (usually none).
    inactive: Vec<(MemberId, MemberStatus)>,
}

/// A step failed: either a rejection (undo and record) or a broken view.
pub(super) enum Failure {
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

fn corrupt(message: String) -> Failure {
    Failure::View(ViewError::Corrupt(message))
}

type Step<T = ()> = Result<T, Failure>;

impl<'v> Exec<'v> {
    pub(super) fn new(view: &'v dyn StateView, height: u64) -> Result<Exec<'v>, BlockError> {
        let mut exec = Exec {
            view,
            height,
            members: read_members(view)?,
            params: read(view, &StateKey::Params)?.unwrap_or_default(),
            accounts: Table::new(),
            assets: Table::new(),
            escrows: Table::new(),
            quotes: Table::new(),
            books: Table::new(),
            proposals: Table::new(),
            due: DueLists::new(),
            overseers: None,
            agenda: None,
            dirty: governance::GovernanceDirty::default(),
            saved: None,
            inactive: Vec::new(),
        };
        exec.refresh_inactive();
        Ok(exec)
    }

    /// Starts a step: from here, its changes can be rolled back.
    fn begin(&mut self) {
        self.accounts.begin();
        self.assets.begin();
        self.escrows.begin();
        self.quotes.begin();
        self.books.begin();
        self.proposals.begin();
        self.due.begin();
        self.saved = None;
    }

    fn rollback(&mut self) {
        self.accounts.rollback();
        self.assets.rollback();
        self.escrows.rollback();
        self.quotes.rollback();
        self.books.rollback();
        self.proposals.rollback();
        self.due.rollback();
        self.restore_governance();
    }

    /// Ends a step: checks an applied one, undoes a rejected one.
    fn finish<T>(&mut self, result: Step<T>) -> Result<Result<T, RejectReason>, BlockError> {
        match result {
            Ok(value) => {
                self.check_invariants()?;
                Ok(Ok(value))
            }
            Err(Failure::Reject(reason)) => {
                self.rollback();
                Ok(Err(reason))
            }
            Err(Failure::View(error)) => Err(error.into()),
        }
    }

    /// The deadlines that passed with the previous block: every escrow,
    /// credit tranche and quote registered under `Due(height - 1)`, in
    /// registration order, tranches before escrows and quotes. A deadline step that cannot be carried out (a payout would
    /// overflow a balance) is undone and skipped; the block is never
    /// refused for it, so the chain cannot stall on one bad deadline.
    pub(super) fn begin_block(&mut self) -> Result<(), BlockError> {
        self.deadlines()?;
        self.governance_due()
    }

    fn deadlines(&mut self) -> Result<(), BlockError> {
        let Some(deadline) = self.height.checked_sub(1) else {
            return Ok(());
        };
        self.begin();
        let items = self.due.take(self.view, deadline)?;
        if items.is_empty() {
            return Ok(());
        }
        self.check_invariants()?;
        // Tranches first: a payout in this block comes after their due
        // height, so it must not repay a tranche before it is marked overdue.
        let (credit, escrows): (Vec<DueItem>, Vec<DueItem>) = items
            .into_iter()
            .partition(|item| matches!(item, DueItem::Credit(..)));
        for item in credit.into_iter().chain(escrows) {
            self.begin();
            let result = match &item {
                DueItem::Escrow(id) => self.escrow_deadline(id, deadline),
                DueItem::Credit(account, asset) => self.credit_deadline(account, asset),
                DueItem::Quote(id) => self.quote_deadline(id, deadline),
            };
            // A rejected deadline step is rolled back and skipped (see above).
            let _skipped = self.finish(result)?;
        }
        Ok(())
    }

    /// Runs one transaction: rules 1–5 of the module docs.
    pub(super) fn transaction(
        &mut self,
        signed: &SignedTransaction,
        tx_id: &Hash,
    ) -> Result<Outcome, BlockError> {
        let tx = &signed.tx;
        if tx.expiry_height < self.height {
            return Ok(Outcome::Rejected(RejectReason::Expired {
                expiry_height: tx.expiry_height,
                height: self.height,
            }));
        }
        let Some(sender) = self.accounts.get(self.view, &tx.sender)? else {
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
        // No step undoes or checks the nonce: no undo record for it.
        if let Some(sender) = self.accounts.get_mut_for_good(self.view, &tx.sender)? {
            sender.nonce = next_nonce;
        }
        // The nonce stays consumed whatever the body does: the body's step
        // starts after it.
        self.begin();
        let from = &tx.sender;
        let result = match (self.sender_bank_active(from), &tx.body) {
            (Err(failure), _) => Err(failure),
            (Ok(()), body) => self.body(tx_id, tx, body),
        };
        Ok(match self.finish(result)? {
            Ok(outcome) => outcome,
            Err(reason) => Outcome::Rejected(reason),
        })
    }

    fn body(&mut self, tx_id: &Hash, tx: &Transaction, body: &Body) -> Step<Outcome> {
        let from = &tx.sender;
        match body {
            Body::Swap { .. } => self.swap(tx),
            Body::CrossTransfer {
                to,
                asset,
                amount,
                quote,
                details,
            } => self.cross_transfer(from, to, asset, *amount, quote, details, tx.fee),
            Body::QuotePost {
                pay_asset,
                receive_asset,
                rate,
                maximum,
                valid_until,
            } => self
                .quote_post(
                    tx_id,
                    from,
                    pay_asset,
                    receive_asset,
                    *rate,
                    *maximum,
                    *valid_until,
                )
                .map(|()| Outcome::Applied { fee: Amount::ZERO }),
            Body::QuoteWithdraw { quote } => self
                .quote_withdraw(from, quote)
                .map(|()| Outcome::Applied { fee: Amount::ZERO }),
            Body::Propose {
                action,
                voting_period,
            } => self
                .propose(tx_id, from, action, *voting_period)
                .map(|()| Outcome::Applied { fee: Amount::ZERO }),
            Body::Vote { proposal, approve } => self
                .vote(from, proposal, *approve)
                .map(|()| Outcome::Applied { fee: Amount::ZERO }),
            body => self
                .plain_body(tx_id, tx, body)
                .map(|fee| Outcome::Applied { fee }),
        }
    }

    /// The bodies whose outcome is the fee alone.
    fn plain_body(&mut self, tx_id: &Hash, tx: &Transaction, body: &Body) -> Step<Amount> {
        let from = &tx.sender;
        match body {
            Body::Transfer { to, asset, amount } => self.transfer(from, to, asset, *amount, tx.fee),
            Body::Payment {
                to,
                asset,
                amount,
                details,
            } => match details.sealed() {
                // The transfer's rules first, so a payment is refused for
                // the same reason however its details travel (a refused
                // step leaves nothing behind).
                Some(sealed) => self
                    .transfer(from, to, asset, *amount, tx.fee)
                    .and_then(|fee| self.check_sealed(from, to, sealed).map(|()| fee)),
                None => self.transfer(from, to, asset, *amount, tx.fee),
            },
            Body::Issue { to, asset, amount } => self.issue(from, to, asset, *amount),
            Body::Redeem { asset, amount } => self.redeem(from, asset, *amount),
            Body::RegisterAccount { account } => self.register(from, account),
            Body::EscrowOpen {
                seller,
                asset,
                amount,
                arbiter,
                confirm_deadline,
                arbiter_deadline,
                reference,
            } => self.escrow_open(
                tx_id,
                from,
                tx.fee,
                EscrowState {
                    buyer: *from,
                    seller: *seller,
                    asset: asset.clone(),
                    amount: *amount,
                    arbiter: arbiter.clone(),
                    reference: *reference,
                    opened_at: self.height,
                    confirm_deadline: *confirm_deadline,
                    arbiter_deadline: *arbiter_deadline,
                    dispute: None,
                    status: EscrowStatus::Open,
                },
            ),
            Body::EscrowRelease { escrow } => self.escrow_release(from, escrow),
            Body::EscrowRefund { escrow } => self.escrow_refund(from, escrow),
            Body::EscrowDispute { escrow } => self.escrow_dispute(from, escrow),
            Body::EscrowResolve { escrow, to_seller } => {
                self.escrow_resolve(from, escrow, *to_seller)
            }
            Body::CreditGrant {
                account,
                asset,
                limit,
                period_blocks,
            } => self.credit_grant(from, account, asset, *limit, *period_blocks),
            Body::CreditRevoke { account, asset } => self.credit_revoke(from, account, asset),
            Body::CreditAttest {
                account,
                positive,
                category,
                reference,
            } => self.credit_attest(from, account, *positive, category, reference),
            Body::Swap { .. }
            | Body::QuotePost { .. }
            | Body::QuoteWithdraw { .. }
            | Body::CrossTransfer { .. }
            | Body::Propose { .. }
            | Body::Vote { .. } => {
                Err(corrupt(format!("{} reached the plain bodies", body.kind())))
            }
        }
    }

    // ----- plain money -------------------------------------------------

    fn transfer(
        &mut self,
        sender: &AccountId,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
        maximum_fee: Amount,
    ) -> Step<Amount> {
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        if to == sender {
            return Err(RejectReason::SelfTransfer.into());
        }
        self.asset_exists(asset)?;
        let fee = self.fee(asset, amount, maximum_fee)?;
        self.account_exists(to)?;
        self.charge(sender, asset, amount, fee, to)?;
        self.credit(to, asset, amount)?;
        self.account_mut(sender)?.record.sent(asset, amount);
        self.account_mut(to)?.record.received(asset, amount);
        Ok(fee)
    }

    /// Sealed details must be readable by the banks on both sides and by
    /// every regulator with a sealing key, and sealed for no one else but
    /// auditors (`crate::sealed`).
    fn check_sealed(&mut self, from: &AccountId, to: &AccountId, sealed: &SealedDetails) -> Step {
        let overseers = read_overseers(self.view)?;
        let mut sides = Vec::with_capacity(2);
        for account in [from, to] {
            let bank = self.bank_of(account)?;
            let key = self
                .members
                .iter()
                .find(|member| member.id == bank)
                .ok_or_else(|| corrupt(format!("bank {bank} is not a member")))?
                .sealing_key
                .ok_or_else(|| RejectReason::NoSealingKey(bank.clone()))?;
            sides.push((bank, key));
        }
        for key in sealed.recipients() {
            if sides.iter().any(|(_, side)| *side == key)
                || overseers.iter().any(|o| o.sealing_key == Some(key))
            {
                continue;
            }
            return Err(match self
                .members
                .iter()
                .find(|member| member.sealing_key == Some(key))
            {
                Some(outsider) => RejectReason::SealedForOutsider(outsider.id.clone()),
                None => RejectReason::UnknownSealingKey(key),
            }
            .into());
        }
        let regulators = overseers
            .iter()
            .filter_map(|o| match (o.role, o.sealing_key) {
                (OverseerRole::Regulator, Some(key)) => Some((o.id.clone(), key)),
                _ => None,
            });
        match sides
            .into_iter()
            .chain(regulators)
            .find(|(_, key)| !sealed.is_sealed_for(key))
        {
            Some((party, _)) => Err(RejectReason::NotSealedFor(party).into()),
            None => Ok(()),
        }
    }

    /// The schedule's fee for moving `amount` of `asset`, if the sender
    /// accepts it.
    fn fee(&self, asset: &AssetCode, amount: Amount, maximum_fee: Amount) -> Step<Amount> {
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
        Ok(fee)
    }

    /// Takes `amount` plus `fee` from `sender` (drawing on its credit line
    /// if need be) and pays the fee to the treasuries: the receiving
    /// bank's share (of `receiver`'s bank, when it is another bank) and the
    /// rest to the sender's bank.
    fn charge(
        &mut self,
        sender: &AccountId,
        asset: &AssetCode,
        amount: Amount,
        fee: Amount,
        receiver: &AccountId,
    ) -> Step {
        let needed = amount
            .checked_add(fee)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        self.debit(sender, asset, needed)?;
        if fee.is_zero() {
            return Ok(());
        }
        let bank = self.bank_of(sender)?;
        let share = self
            .params
            .fees
            .get(asset)
            .map_or(Amount::ZERO, |rule| rule.receiving_part(fee));
        let mut sending_part = fee;
        if !share.is_zero() {
            let receiving_bank = self.bank_of(receiver)?;
            if receiving_bank != bank {
                // `share ≤ fee`.
                sending_part = Amount(fee.0 - share.0);
                let treasury = self.treasury_of(&receiving_bank)?;
                self.credit(&treasury, asset, share)?;
            }
        }
        if !sending_part.is_zero() {
            let treasury = self.treasury_of(&bank)?;
            self.credit(&treasury, asset, sending_part)?;
        }
        Ok(())
    }

    fn issue(
        &mut self,
        sender: &AccountId,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
    ) -> Step<Amount> {
        let mut state = self.issuer_asset(sender, asset)?;
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        self.account_exists(to)?;
        state.supply = state
            .supply
            .checked_add(amount)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        self.assets.put(self.view, asset.clone(), Some(state))?;
        self.credit(to, asset, amount)?;
        Ok(Amount::ZERO)
    }

    fn redeem(&mut self, sender: &AccountId, asset: &AssetCode, amount: Amount) -> Step<Amount> {
        let mut state = self.issuer_asset(sender, asset)?;
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        self.debit(sender, asset, amount)?;
        state.supply = state
            .supply
            .checked_sub(amount)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        self.assets.put(self.view, asset.clone(), Some(state))?;
        Ok(Amount::ZERO)
    }

    fn register(&mut self, sender: &AccountId, account: &AccountId) -> Step<Amount> {
        let bank = self.bank_of_treasury(sender)?;
        crypto::check_public_key(&account.0).map_err(|error| match error {
            CryptoError::WeakPublicKey => RejectReason::WeakKey,
            _ => RejectReason::InvalidKey,
        })?;
        if self.accounts.get(self.view, account)?.is_some() {
            return Err(RejectReason::AccountExists(*account).into());
        }
        let reserved = self.members.iter().any(|m| m.api_key == Some(account.0))
            || read_overseers(self.view)?
                .iter()
                .any(|o| o.api_key == account.0);
        if reserved {
            return Err(RejectReason::ReservedKey(*account).into());
        }
        self.accounts
            .put(self.view, *account, Some(AccountState::new(bank)))?;
        Ok(Amount::ZERO)
    }

    /// Takes `amount` from `id`: from its balance, and the shortfall from its
    /// credit line in `asset` (funded by its bank's treasury).
    fn debit(&mut self, id: &AccountId, asset: &AssetCode, amount: Amount) -> Step {
        // Read through a reference: most debits are covered by the balance.
        let (balance, headroom, bank) = {
            let account = self
                .accounts
                .get(self.view, id)?
                .ok_or(RejectReason::UnknownAccount(*id))?;
            let balance = account.balance(asset);
            if balance >= amount {
                (balance, Amount::ZERO, None)
            } else {
                let headroom = match account.lines.get(asset) {
                    None => Amount::ZERO,
                    Some(line) => {
                        let rating =
                            rating(&account.record, self.params.credit.rating_version).unwrap_or(0);
                        let usable = line.usable(&self.params.credit, asset, rating);
                        Amount(usable.0.saturating_sub(line.drawn.0))
                    }
                };
                (balance, headroom, Some(account.bank.clone()))
            }
        };
        let Some(bank) = bank else {
            // `balance ≥ amount` here.
            self.account_mut(id)?
                .set_balance(asset, Amount(balance.0 - amount.0));
            return Ok(());
        };
        // `amount > balance` here.
        let shortfall = Amount(amount.0 - balance.0);
        if shortfall > headroom {
            return Err(RejectReason::InsufficientFunds {
                asset: asset.clone(),
                needed: amount,
                available: balance.saturating_add(headroom),
            }
            .into());
        }
        let lender = self.treasury_of(&bank)?;
        let lender_balance = self.balance_of(&lender, asset)?;
        let Some(lender_left) = lender_balance.checked_sub(shortfall) else {
            return Err(RejectReason::LenderInsufficientFunds {
                bank,
                asset: asset.clone(),
                needed: shortfall,
                available: lender_balance,
            }
            .into());
        };
        self.account_mut(&lender)?.set_balance(asset, lender_left);
        let height = self.height;
        let account = self.account_mut(id)?;
        account.set_balance(asset, Amount::ZERO);
        let AccountState { lines, record, .. } = account;
        let line = lines
            .get_mut(asset)
            .ok_or_else(|| corrupt(format!("{id}: credit line {asset} vanished")))?;
        let new_due = line
            .draw(record, asset, shortfall, height)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        if let Some(due) = new_due {
            self.add_due(due, DueItem::Credit(*id, asset.clone()))?;
        }
        Ok(())
    }

    /// Gives `amount` to `id`: it repays the account's credit line in
    /// `asset` first (to its bank's treasury), the rest reaches the balance.
    fn credit(&mut self, id: &AccountId, asset: &AssetCode, amount: Amount) -> Step {
        let height = self.height;
        let account = self.account_mut(id)?;
        let AccountState { lines, record, .. } = account;
        let mut repaid = Amount::ZERO;
        let mut closed_debt_due = None;
        if let Some(line) = lines.get_mut(asset) {
            if !line.drawn.is_zero() {
                let due = line.debt.map(|debt| debt.due);
                repaid = line.repay(record, asset, amount, height);
                if line.debt.is_none() {
                    closed_debt_due = due;
                }
            }
            if line.is_closed() {
                lines.remove(asset);
            }
        }
        // `repaid ≤ amount`.
        let rest = Amount(amount.0 - repaid.0);
        let total = account
            .balance(asset)
            .checked_add(rest)
            .ok_or_else(|| RejectReason::Overflow(asset.clone()))?;
        account.set_balance(asset, total);
        // The bank is needed (and its id copied) only for a repayment.
        let lender = (!repaid.is_zero()).then(|| account.bank.clone());
        // A debt repaid in full has no deadline left.
        if let Some(due) = closed_debt_due {
            self.due
                .remove(self.view, due, &DueItem::Credit(*id, asset.clone()))?;
        }
        if let Some(bank) = lender {
            let treasury = self.treasury_of(&bank)?;
            if treasury == *id {
                return Err(corrupt(format!("treasury {id} holds a credit line")));
            }
            self.credit(&treasury, asset, repaid)?;
        }
        Ok(())
    }

    // ----- across currencies (see `state::fx`) ------------------------

    /// Both legs of a swap in one step, after the counterparty's consent.
    fn swap(&mut self, tx: &Transaction) -> Step<Outcome> {
        let Body::Swap {
            counterparty,
            give_asset,
            give_amount,
            take_asset,
            take_amount,
            counter_fee,
            counter_signature,
        } = &tx.body
        else {
            return Err(corrupt("swap: not a swap body".into()));
        };
        let sender = &tx.sender;
        if give_amount.is_zero() || take_amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        if counterparty == sender {
            return Err(RejectReason::SelfTransfer.into());
        }
        if give_asset == take_asset {
            return Err(RejectReason::SameAsset(give_asset.clone()).into());
        }
        self.asset_exists(give_asset)?;
        self.asset_exists(take_asset)?;
        self.account_exists(counterparty)?;
        let consent = tx
            .swap_consent_bytes()
            .ok_or_else(|| corrupt("swap: no consent bytes".into()))?
            .map_err(|error| corrupt(format!("swap: consent bytes: {error}")))?;
        crypto::verify(&counterparty.0, &consent, counter_signature)
            .map_err(|_| RejectReason::BadConsent)?;
        let fee = self.fee(give_asset, *give_amount, tx.fee)?;
        let counter = self.fee(take_asset, *take_amount, *counter_fee)?;
        self.charge(sender, give_asset, *give_amount, fee, counterparty)?;
        self.credit(counterparty, give_asset, *give_amount)?;
        self.charge(counterparty, take_asset, *take_amount, counter, sender)?;
        self.credit(sender, take_asset, *take_amount)?;
        let sender_record = &mut self.account_mut(sender)?.record;
        sender_record.sent(give_asset, *give_amount);
        sender_record.received(take_asset, *take_amount);
        let counter_record = &mut self.account_mut(counterparty)?.record;
        counter_record.sent(take_asset, *take_amount);
        counter_record.received(give_asset, *give_amount);
        Ok(Outcome::Swapped {
            fee,
            counter_fee: counter,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn quote_post(
        &mut self,
        id: &Hash,
        sender: &AccountId,
        pay_asset: &AssetCode,
        receive_asset: &AssetCode,
        rate: Rate,
        maximum: Amount,
        valid_until: u64,
    ) -> Step {
        let provider = self.bank_of_treasury(sender)?;
        if pay_asset == receive_asset {
            return Err(RejectReason::SameAsset(pay_asset.clone()).into());
        }
        self.asset_exists(pay_asset)?;
        self.asset_exists(receive_asset)?;
        if !rate.is_valid() {
            return Err(RejectReason::InvalidRate(rate).into());
        }
        if maximum.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        self.not_after(valid_until)?;
        let latest = self
            .height
            .saturating_add(self.params.escrow.deadline_blocks_max);
        if valid_until > latest {
            return Err(RejectReason::DeadlineTooFar {
                deadline: valid_until,
                latest,
            }
            .into());
        }
        let key = QuoteId(*id);
        if self.quotes.get(self.view, &key)?.is_some() {
            return Err(corrupt(format!("quote {id} exists before its posting")));
        }
        self.add_due(valid_until, DueItem::Quote(*id))?;
        self.book_add(&provider, id)?;
        self.quotes.put(
            self.view,
            key,
            Some(QuoteState {
                provider,
                pay_asset: pay_asset.clone(),
                receive_asset: receive_asset.clone(),
                rate,
                remaining: maximum,
                valid_until,
                posted_at: self.height,
            }),
        )?;
        Ok(())
    }

    fn quote_withdraw(&mut self, sender: &AccountId, id: &Hash) -> Step {
        let key = QuoteId(*id);
        let quote = self
            .quotes
            .get(self.view, &key)?
            .ok_or(RejectReason::QuoteNotFound(*id))?
            .clone();
        if self.treasury_of(&quote.provider)? != *sender {
            return Err(RejectReason::NotQuoteProvider(quote.provider.clone()).into());
        }
        let due = quote.valid_until;
        self.due.remove(self.view, due, &DueItem::Quote(*id))?;
        self.book_remove(&quote.provider, id)?;
        self.quotes.put(self.view, key, None)?;
        Ok(())
    }

    /// Lists a new live quote in its bank's book.
    fn book_add(&mut self, bank: &MemberId, id: &Hash) -> Step {
        let mut book = self
            .books
            .get(self.view, bank)?
            .cloned()
            .unwrap_or_default();
        if book.live.len() >= QUOTES_PER_BANK_MAX {
            return Err(RejectReason::TooManyQuotes {
                bank: bank.clone(),
                max: u64::try_from(QUOTES_PER_BANK_MAX).unwrap_or(u64::MAX),
            }
            .into());
        }
        book.live.push(*id);
        self.books.put(self.view, bank.clone(), Some(book))?;
        Ok(())
    }

    /// Takes a quote that is no longer live out of its bank's book (the
    /// book goes when it empties).
    fn book_remove(&mut self, bank: &MemberId, id: &Hash) -> Step {
        let Some(book) = self.books.get(self.view, bank)? else {
            return Err(corrupt(format!(
                "quote {id} of {bank}: the bank has no quote book"
            )));
        };
        let mut book = book.clone();
        let before = book.live.len();
        book.live.retain(|live| live != id);
        if book.live.len() == before {
            return Err(corrupt(format!("quote {id} is not in the book of {bank}")));
        }
        let book = (!book.live.is_empty()).then_some(book);
        self.books.put(self.view, bank.clone(), book)?;
        Ok(())
    }

    /// Deletes a quote whose last height was `deadline` (already gone when
    /// withdrawn or used up: nothing to do).
    fn quote_deadline(&mut self, id: &Hash, deadline: u64) -> Step {
        let key = QuoteId(*id);
        match self.quotes.get(self.view, &key)? {
            Some(quote) if quote.valid_until == deadline => {
                let provider = quote.provider.clone();
                self.book_remove(&provider, id)?;
                self.quotes.put(self.view, key, None)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cross_transfer(
        &mut self,
        sender: &AccountId,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
        id: &Hash,
        details: &PaymentDetails,
        maximum_fee: Amount,
    ) -> Step<Outcome> {
        if amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        if to == sender {
            return Err(RejectReason::SelfTransfer.into());
        }
        let key = QuoteId(*id);
        let mut quote = self
            .quotes
            .get(self.view, &key)?
            .ok_or(RejectReason::QuoteNotFound(*id))?
            .clone();
        if quote.valid_until < self.height {
            return Err(RejectReason::QuoteExpired {
                valid_until: quote.valid_until,
                height: self.height,
            }
            .into());
        }
        if quote.receive_asset != *asset {
            return Err(RejectReason::QuoteAssetMismatch {
                expected: quote.receive_asset,
                found: asset.clone(),
            }
            .into());
        }
        // A suspended or removed bank's treasury pays nothing out.
        if let Some((bank, status)) = self.inactive.iter().find(|(id, _)| *id == quote.provider) {
            return Err(RejectReason::BankNotActive {
                bank: bank.clone(),
                status: *status,
            }
            .into());
        }
        let paid_out = quote
            .rate
            .convert(amount)
            .ok_or_else(|| RejectReason::Overflow(quote.pay_asset.clone()))?;
        if paid_out.is_zero() {
            return Err(RejectReason::ConversionTooSmall {
                amount,
                rate: quote.rate,
            }
            .into());
        }
        let Some(remaining) = quote.remaining.checked_sub(paid_out) else {
            return Err(RejectReason::QuoteExhausted {
                remaining: quote.remaining,
                needed: paid_out,
            }
            .into());
        };
        let fee = self.fee(asset, amount, maximum_fee)?;
        self.account_exists(to)?;
        let treasury = self.treasury_of(&quote.provider)?;
        self.charge(sender, asset, amount, fee, to)?;
        self.credit(&treasury, asset, amount)?;
        let available = self.balance_of(&treasury, &quote.pay_asset)?;
        let Some(left) = available.checked_sub(paid_out) else {
            return Err(RejectReason::QuoteUnfunded {
                bank: quote.provider,
                asset: quote.pay_asset,
                needed: paid_out,
                available,
            }
            .into());
        };
        self.account_mut(&treasury)?
            .set_balance(&quote.pay_asset, left);
        self.credit(to, &quote.pay_asset, paid_out)?;
        self.account_mut(sender)?.record.sent(asset, amount);
        self.account_mut(to)?
            .record
            .received(&quote.pay_asset, paid_out);
        if let Some(sealed) = details.sealed() {
            self.check_sealed(sender, to, sealed)?;
        }
        let outcome = Outcome::Converted {
            fee,
            paid_out,
            pay_asset: quote.pay_asset.clone(),
            rate: quote.rate,
            provider: quote.provider.clone(),
        };
        if remaining.is_zero() {
            self.due
                .remove(self.view, quote.valid_until, &DueItem::Quote(*id))?;
            self.book_remove(&quote.provider, id)?;
            self.quotes.put(self.view, key, None)?;
        } else {
            quote.remaining = remaining;
            self.quotes.put(self.view, key, Some(quote))?;
        }
        Ok(outcome)
    }

    // ----- escrow ------------------------------------------------------

    fn escrow_open(
        &mut self,
        id: &Hash,
        buyer: &AccountId,
        maximum_fee: Amount,
        escrow: EscrowState,
    ) -> Step<Amount> {
        let asset = &escrow.asset;
        if escrow.amount.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        self.asset_exists(asset)?;
        let fee = self.fee(asset, escrow.amount, maximum_fee)?;
        if escrow.seller == *buyer {
            return Err(RejectReason::SellerIsBuyer.into());
        }
        self.account_exists(&escrow.seller)?;
        if !self.members.iter().any(|m| m.id == escrow.arbiter) {
            return Err(RejectReason::UnknownMember(escrow.arbiter.clone()).into());
        }
        self.not_after(escrow.confirm_deadline)?;
        if escrow.arbiter_deadline <= escrow.confirm_deadline {
            return Err(RejectReason::DeadlineOrder {
                confirm_deadline: escrow.confirm_deadline,
                arbiter_deadline: escrow.arbiter_deadline,
            }
            .into());
        }
        let latest = self
            .height
            .saturating_add(self.params.escrow.deadline_blocks_max);
        if escrow.arbiter_deadline > latest {
            return Err(RejectReason::DeadlineTooFar {
                deadline: escrow.arbiter_deadline,
                latest,
            }
            .into());
        }
        if self.escrows.get(self.view, id)?.is_some() {
            return Err(corrupt(format!("escrow {id} exists before its opening")));
        }
        self.charge(buyer, asset, escrow.amount, fee, &escrow.seller)?;
        // Both deadlines now: a dispute must never be refusable for want
        // of room in a deadline list.
        self.add_due(escrow.confirm_deadline, DueItem::Escrow(*id))?;
        self.add_due(escrow.arbiter_deadline, DueItem::Escrow(*id))?;
        self.escrows.put(self.view, *id, Some(escrow))?;
        Ok(fee)
    }

    fn escrow(&mut self, id: &Hash) -> Step<EscrowState> {
        Ok(self
            .escrows
            .get(self.view, id)?
            .cloned()
            .ok_or(RejectReason::EscrowNotFound(*id))?)
    }

    /// Refuses a step on a settled escrow, and on one not in `wanted`.
    fn expect_status(id: &Hash, escrow: &EscrowState, wanted: &[&str]) -> Step {
        let status = escrow.status.name();
        if let EscrowStatus::Settled(_) = escrow.status {
            return Err(RejectReason::EscrowSettled(*id).into());
        }
        if wanted.contains(&status) {
            Ok(())
        } else {
            Err(RejectReason::WrongEscrowStatus {
                escrow: *id,
                status: status.to_owned(),
            }
            .into())
        }
    }

    fn escrow_release(&mut self, sender: &AccountId, id: &Hash) -> Step<Amount> {
        let escrow = self.escrow(id)?;
        if *sender != escrow.buyer {
            return Err(RejectReason::NotBuyer.into());
        }
        Self::expect_status(id, &escrow, &["open", "disputed"])?;
        let amount = escrow.amount;
        self.settle(id, escrow, amount, Amount::ZERO, SettledBy::ReleasedByBuyer)?;
        Ok(Amount::ZERO)
    }

    fn escrow_refund(&mut self, sender: &AccountId, id: &Hash) -> Step<Amount> {
        let escrow = self.escrow(id)?;
        if *sender != escrow.seller {
            return Err(RejectReason::NotSeller.into());
        }
        Self::expect_status(id, &escrow, &["open", "disputed"])?;
        let amount = escrow.amount;
        self.settle(
            id,
            escrow,
            Amount::ZERO,
            amount,
            SettledBy::RefundedBySeller,
        )?;
        Ok(Amount::ZERO)
    }

    fn escrow_dispute(&mut self, sender: &AccountId, id: &Hash) -> Step<Amount> {
        let mut escrow = self.escrow(id)?;
        if *sender != escrow.buyer && *sender != escrow.seller {
            return Err(RejectReason::NotParty.into());
        }
        Self::expect_status(id, &escrow, &["open"])?;
        self.not_after(escrow.confirm_deadline)?;
        escrow.status = EscrowStatus::Disputed;
        escrow.dispute = Some(Dispute {
            by: *sender,
            at: self.height,
        });
        let (buyer, seller) = (escrow.buyer, escrow.seller);
        self.escrows.put(self.view, *id, Some(escrow))?;
        for party in [buyer, seller] {
            let tally = &mut self.account_mut(&party)?.record.escrows;
            tally.disputed = tally.disputed.saturating_add(1);
        }
        Ok(Amount::ZERO)
    }

    fn escrow_resolve(&mut self, sender: &AccountId, id: &Hash, to_seller: Amount) -> Step<Amount> {
        let escrow = self.escrow(id)?;
        if self.treasury_of(&escrow.arbiter)? != *sender {
            return Err(RejectReason::NotArbiter {
                arbiter: escrow.arbiter,
            }
            .into());
        }
        Self::expect_status(id, &escrow, &["disputed"])?;
        self.not_after(escrow.arbiter_deadline)?;
        let Some(to_buyer) = escrow.amount.checked_sub(to_seller) else {
            return Err(RejectReason::SplitTooLarge {
                to_seller,
                amount: escrow.amount,
            }
            .into());
        };
        self.settle(
            id,
            escrow,
            to_seller,
            to_buyer,
            SettledBy::ResolvedByArbiter,
        )?;
        Ok(Amount::ZERO)
    }

    /// A deadline registered for `id` at `deadline` passed.
    fn escrow_deadline(&mut self, id: &Hash, deadline: u64) -> Step {
        let escrow = self
            .escrows
            .get(self.view, id)?
            .cloned()
            .ok_or_else(|| corrupt(format!("escrow {id} is due but missing")))?;
        match escrow.status {
            EscrowStatus::Open if escrow.confirm_deadline == deadline => {
                let amount = escrow.amount;
                self.settle(id, escrow, amount, Amount::ZERO, SettledBy::AutoReleased)
            }
            EscrowStatus::Disputed if escrow.arbiter_deadline == deadline => {
                let amount = escrow.amount;
                self.settle(id, escrow, Amount::ZERO, amount, SettledBy::AutoRefunded)
            }
            // Settled, or disputed before its confirmation deadline.
            _ => Ok(()),
        }
    }

    /// Pays an open or disputed escrow (`escrow`, as read by the caller)
    /// out and records the outcome.
    fn settle(
        &mut self,
        id: &Hash,
        mut escrow: EscrowState,
        to_seller: Amount,
        to_buyer: Amount,
        how: SettledBy,
    ) -> Step {
        if escrow.held() != escrow.amount || to_seller.checked_add(to_buyer) != Some(escrow.amount)
        {
            return Err(corrupt(format!(
                "escrow {id}: settling what it does not hold"
            )));
        }
        escrow.status = EscrowStatus::Settled(Settlement {
            at: self.height,
            to_seller,
            to_buyer,
            how,
        });
        let (buyer, seller, asset, amount) = (
            escrow.buyer,
            escrow.seller,
            escrow.asset.clone(),
            escrow.amount,
        );
        // A settled escrow has no deadline left: unregister both, so an
        // idle chain stops making blocks for it.
        for deadline in [escrow.confirm_deadline, escrow.arbiter_deadline] {
            self.due
                .remove(self.view, deadline, &DueItem::Escrow(*id))?;
        }
        self.escrows.put(self.view, *id, Some(escrow))?;
        if !to_seller.is_zero() {
            self.credit(&seller, &asset, to_seller)?;
        }
        if !to_buyer.is_zero() {
            self.credit(&buyer, &asset, to_buyer)?;
        }
        // `to_seller ≤ amount`; the party given more than half wins.
        let rest = Amount(amount.0 - to_seller.0);
        for party in [buyer, seller] {
            let tally = &mut self.account_mut(&party)?.record.escrows;
            match how {
                SettledBy::ReleasedByBuyer | SettledBy::AutoReleased => {
                    tally.completed = tally.completed.saturating_add(1);
                }
                SettledBy::RefundedBySeller | SettledBy::AutoRefunded => {
                    tally.refunded = tally.refunded.saturating_add(1);
                }
                SettledBy::ResolvedByArbiter => {
                    let (mine, theirs) = if party == seller {
                        (to_seller, rest)
                    } else {
                        (rest, to_seller)
                    };
                    if mine > theirs {
                        tally.won = tally.won.saturating_add(1);
                    } else if mine < theirs {
                        tally.lost = tally.lost.saturating_add(1);
                    }
                }
            }
        }
        Ok(())
    }

    // ----- credit ------------------------------------------------------

    /// The hosting bank of a customer account, if `sender` is its treasury.
    fn hosting_bank_check(&mut self, sender: &AccountId, account: &AccountId) -> Step<MemberId> {
        let bank = self.bank_of(account)?;
        if self.members.iter().any(|m| m.treasury == *account) {
            return Err(RejectReason::CreditForBank.into());
        }
        if self.treasury_of(&bank)? != *sender {
            return Err(RejectReason::NotHostingBank { bank }.into());
        }
        Ok(bank)
    }

    fn credit_grant(
        &mut self,
        sender: &AccountId,
        account: &AccountId,
        asset: &AssetCode,
        limit: Amount,
        period_blocks: u64,
    ) -> Step<Amount> {
        self.hosting_bank_check(sender, account)?;
        self.asset_exists(asset)?;
        if limit.is_zero() {
            return Err(RejectReason::ZeroAmount.into());
        }
        if !self.params.credit.caps.contains_key(asset) {
            return Err(RejectReason::CreditNotOffered(asset.clone()).into());
        }
        let max = self.params.credit.period_blocks_max;
        if period_blocks == 0 || period_blocks > max {
            return Err(RejectReason::PeriodInvalid { period_blocks, max }.into());
        }
        let height = self.height;
        let account = self.account_mut(account)?;
        let line = account
            .lines
            .entry(asset.clone())
            .or_insert_with(|| CreditLine {
                limit,
                period_blocks,
                drawn: Amount::ZERO,
                debt: None,
                granted_at: height,
            });
        line.limit = limit;
        line.period_blocks = period_blocks;
        line.granted_at = height;
        Ok(Amount::ZERO)
    }

    fn credit_revoke(
        &mut self,
        sender: &AccountId,
        account: &AccountId,
        asset: &AssetCode,
    ) -> Step<Amount> {
        self.hosting_bank_check(sender, account)?;
        let account = self.account_mut(account)?;
        let Some(line) = account.lines.get_mut(asset) else {
            return Err(RejectReason::NoCreditLine(asset.clone()).into());
        };
        line.limit = Amount::ZERO;
        if line.is_closed() {
            account.lines.remove(asset);
        }
        Ok(Amount::ZERO)
    }

    fn credit_attest(
        &mut self,
        sender: &AccountId,
        account: &AccountId,
        positive: bool,
        category: &Category,
        reference: &Hash,
    ) -> Step<Amount> {
        let bank = self.bank_of_treasury(sender)?;
        let height = self.height;
        let record = &mut self.account_mut(account)?.record;
        record.attestations.insert(
            bank,
            AttestationEntry {
                positive,
                category: category.clone(),
                reference: *reference,
                at: height,
            },
        );
        record.attestations_filed = record.attestations_filed.saturating_add(1);
        Ok(Amount::ZERO)
    }

    /// A tranche of `account`'s line in `asset` came due with the previous block.
    fn credit_deadline(&mut self, account: &AccountId, asset: &AssetCode) -> Step {
        let height = self.height;
        let Some(state) = self.accounts.get_mut(self.view, account)? else {
            return Err(corrupt(format!(
                "{account} has a credit deadline but no account"
            )));
        };
        let AccountState { lines, record, .. } = state;
        if let Some(line) = lines.get_mut(asset) {
            line.mark_overdue(record, asset, height);
        }
        Ok(())
    }

    // ----- helpers -----------------------------------------------------

    /// Refuses a step in a block past `deadline` (deadlines are inclusive).
    fn not_after(&self, deadline: u64) -> Step {
        if self.height > deadline {
            return Err(RejectReason::DeadlinePassed {
                deadline,
                height: self.height,
            }
            .into());
        }
        Ok(())
    }

    fn add_due(&mut self, height: u64, item: DueItem) -> Step {
        self.due.add(self.view, height, item)
    }

    fn account_exists(&mut self, id: &AccountId) -> Step {
        match self.accounts.get(self.view, id)? {
            Some(_) => Ok(()),
            None => Err(RejectReason::UnknownAccount(*id).into()),
        }
    }

    fn asset_exists(&mut self, code: &AssetCode) -> Step {
        match self.assets.get(self.view, code)? {
            Some(_) => Ok(()),
            None => Err(RejectReason::UnknownAsset(code.clone()).into()),
        }
    }

    fn bank_of(&mut self, id: &AccountId) -> Step<MemberId> {
        match self.accounts.get(self.view, id)? {
            Some(account) => Ok(account.bank.clone()),
            None => Err(RejectReason::UnknownAccount(*id).into()),
        }
    }

    fn balance_of(&mut self, id: &AccountId, asset: &AssetCode) -> Step<Amount> {
        match self.accounts.get(self.view, id)? {
            Some(account) => Ok(account.balance(asset)),
            None => Err(RejectReason::UnknownAccount(*id).into()),
        }
    }

    fn account_mut(&mut self, id: &AccountId) -> Step<&mut AccountState> {
        Ok(self
            .accounts
            .get_mut(self.view, id)?
            .ok_or(RejectReason::UnknownAccount(*id))?)
    }

    fn known_asset(&mut self, code: &AssetCode) -> Step<AssetState> {
        Ok(self
            .assets
            .get(self.view, code)?
            .cloned()
            .ok_or_else(|| RejectReason::UnknownAsset(code.clone()))?)
    }

    /// The asset's state, if `sender` is the treasury of its issuer.
    fn issuer_asset(&mut self, sender: &AccountId, asset: &AssetCode) -> Step<AssetState> {
        let state = self.known_asset(asset)?;
        if self.treasury_of(&state.issuer)? != *sender {
            return Err(RejectReason::NotIssuer {
                asset: asset.clone(),
                issuer: state.issuer,
            }
            .into());
        }
        Ok(state)
    }

    /// The member whose treasury `sender` is, or `NotBank`.
    fn bank_of_treasury(&self, sender: &AccountId) -> Step<MemberId> {
        self.members
            .iter()
            .find(|member| member.treasury == *sender)
            .map(|member| member.id.clone())
            .ok_or(Failure::Reject(RejectReason::NotBank))
    }

    fn treasury_of(&self, bank: &MemberId) -> Step<AccountId> {
        self.members
            .iter()
            .find(|member| member.id == *bank)
            .map(|member| member.treasury)
            .ok_or_else(|| corrupt(format!("bank {bank} is not a member")))
    }

    /// Invariants of every applied step, from the values before it:
    /// - per asset, the change of all balances plus the change of all held
    ///   escrows equals the change of supply (summed in 256 bits: no amount
    ///   that fits in an account can overflow the check);
    /// - every changed credit line has an open debt exactly while it owes
    ///   something, and no account holds a balance in an asset it owes on.
    fn check_invariants(&self) -> Result<(), BlockError> {
        let mut sides = Sides::default();
        for (id, before, after) in self.accounts.changes() {
            // Both balance maps in code order, side by side; a balance the
            // step left as it was adds the same to both sides, so it is
            // skipped.
            let mut olds = before.iter().flat_map(|a| &a.balances).peekable();
            let mut news = after.iter().flat_map(|a| &a.balances).peekable();
            loop {
                let (asset, old, new) = match (olds.peek(), news.peek()) {
                    (None, None) => break,
                    (Some(&(asset, &old)), None) => {
                        olds.next();
                        (asset, old, Amount::ZERO)
                    }
                    (None, Some(&(asset, &new))) => {
                        news.next();
                        (asset, Amount::ZERO, new)
                    }
                    (Some(&(old_asset, &old)), Some(&(new_asset, &new))) => {
                        match old_asset.cmp(new_asset) {
                            std::cmp::Ordering::Less => {
                                olds.next();
                                (old_asset, old, Amount::ZERO)
                            }
                            std::cmp::Ordering::Greater => {
                                news.next();
                                (new_asset, Amount::ZERO, new)
                            }
                            std::cmp::Ordering::Equal => {
                                olds.next();
                                news.next();
                                (new_asset, old, new)
                            }
                        }
                    }
                };
                if old != new {
                    sides.add(asset, old, new, true);
                }
            }
            if let Some(after) = after {
                for (asset, line) in &after.lines {
                    if line.debt.is_some() == line.drawn.is_zero() {
                        return Err(BlockError::Invariant(format!(
                            "{id}: line {asset} owes {} with debt terms {:?}",
                            line.drawn, line.debt
                        )));
                    }
                    if !line.drawn.is_zero() && !after.balance(asset).is_zero() {
                        return Err(BlockError::Invariant(format!(
                            "{id}: holds {asset} while owing on its line"
                        )));
                    }
                }
            }
        }
        for (_, before, after) in self.escrows.changes() {
            if let Some(escrow) = before {
                sides.add(&escrow.asset, escrow.held(), Amount::ZERO, true);
            }
            if let Some(escrow) = after {
                sides.add(&escrow.asset, Amount::ZERO, escrow.held(), true);
            }
        }
        for (code, before, after) in self.assets.changes() {
            let old = before.map_or(Amount::ZERO, |a| a.supply);
            let new = after.map_or(Amount::ZERO, |a| a.supply);
            sides.add(code, old, new, false);
        }
        match sides.first_diverged() {
            None => Ok(()),
            Some((asset, left, right)) => Err(BlockError::Invariant(format!(
                "{asset}: balances, escrows and supply diverged ({left:?} vs {right:?})"
            ))),
        }
    }

    /// Every entry the block wrote, encoded, and every present account,
    /// asset and escrow entry it read or wrote, decoded (as the block left
    /// them).
    pub(super) fn into_writes(self) -> Result<Writes, BlockError> {
        let mut writes = BTreeMap::new();
        let mut decoded = BTreeMap::new();
        self.governance_writes(&mut writes)?;
        self.accounts.writes(&mut writes, &mut decoded)?;
        self.assets.writes(&mut writes, &mut decoded)?;
        self.escrows.writes(&mut writes, &mut decoded)?;
        self.quotes.writes(&mut writes, &mut decoded)?;
        self.books.writes(&mut writes, &mut decoded)?;
        self.proposals.writes(&mut writes, &mut decoded)?;
        self.due.writes(&mut writes)?;
        Ok((writes, decoded))
    }
}
