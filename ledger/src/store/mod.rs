//! The sled store: the only code that touches disk.
//!
//! One sled `Db` with one tree ([`keys::TREE`]) holding every entry under a
//! one-byte prefix per kind ([`keys`] builds every key): blocks,
//! certificates and receipts (height → encoded value), the transaction
//! index (transaction id → height and position), the state (state key →
//! value) and meta (format, chain id, tip, genesis root). The state
//! commitment (see [`crate::state::commitment`]) is derived data and is not
//! stored: its buckets and inner nodes live in memory with the tip, rebuilt
//! from the state entries at open and changed by a commit under one lock.
//! (Format 3 stored the buckets too: a third of a block's sled inserts, on
//! the critical path of every height.)
//!
//! Invariant: committing a block is one atomic sled batch, then a flush; a
//! crash at any point leaves the last committed block whole and the state
//! exactly as of that block.
//!
//! Why one tree: sled 0.34 applies one tree's `Batch` atomically, also
//! across a crash. `Tree::apply_batch` (sled-0.34.7 `src/tree.rs`) takes
//! the global write lock of `concurrency_control`, reserves a
//! `BatchManifest` in the log with `Context::pin_log` before writing, and
//! after the last write `RecoveryGuard::seal_batch` stores in that manifest
//! the highest LSN the batch reserved (`Reservation::mark_writebatch`,
//! `src/pagecache/reservation.rs`). Recovery (`LogIter::next`,
//! `src/pagecache/iterator.rs`) stops at a manifest whose last LSN lies
//! beyond the stable end of the log ("cutting recovery short due to torn
//! batch"), so a torn batch is recovered not at all. A multi-tree
//! `Transactional::transaction` gets its atomicity from the very same
//! manifest (`TransactionalTrees::commit`, `src/transaction.rs`), but first
//! reads the old value of every key it writes and keeps a write set per
//! tree: the price of more than one tree, which this layout does not pay.
//! Once any batch has run, every read takes that lock's read side
//! (`ConcurrencyControl::read`), so a single read sees a batch wholly or
//! not at all.
//!
//! Reads are not isolated from a concurrent commit beyond that: the node
//! has a single writer (its driver), which must not run a state transition
//! on this view while committing.
//!
//! sled 0.34 has open corruption reports, so [`Store::open`] checks the tip:
//! the last blocks' hash links, and that the state root rebuilt from the
//! stored state entries equals the tip header's; [`Store::check_state`] also
//! recomputes every bucket from the state entries and compares them with
//! the ones commits kept up to date in memory.

pub mod keys;
pub mod memory;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use crate::amount::Amount;
use crate::block::Block;
use crate::certificate::CommitCertificate;
use crate::codec::{self, BLOCK_BYTES_MAX, CERTIFICATE_BYTES_MAX, CodecError, RECEIPTS_BYTES_MAX};
use crate::genesis::{Genesis, GenesisError};
use crate::ids::{AccountId, AssetCode, ChainId, Hash};
use crate::state::commitment::{self, BucketEntry, Buckets, CommitmentTree, CommitmentUpdate};
use crate::state::escrow::EscrowState;
use crate::state::{
    AccountState, AssetState, BlockOutcome, Holding, Member, Outcome, Params, Receipt, StateKey,
    StateView, Tip, ViewError,
};
use crate::tx::SignedTransaction;

/// The on-disk format this code writes. 2: accounts carry credit lines and
/// a credit record; escrows and deadlines are state entries. 3: every entry
/// lives in one sled tree under a one-byte prefix per kind, so a block
/// commits as one atomic `apply_batch` instead of a transaction over seven
/// trees (which read the old value of every key it wrote); the tip is one
/// entry. 4: the commitment's buckets are no longer stored (they are
/// rebuilt from the state at open).
pub const FORMAT_VERSION: u32 = 4;

/// How many of the latest blocks [`Store::open`] checks.
pub const OPEN_CHECK_BLOCKS: u64 = 16;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// The data directory belongs to another chain.
    #[error("the store holds chain {stored}, the genesis gives {expected}")]
    WrongChain {
        /// The genesis' chain id.
        expected: ChainId,
        /// The stored one.
        stored: ChainId,
    },
    /// A commit that does not extend the tip.
    #[error(
        "cannot commit height {height} (hash {hash}): the tip is height {tip_height} ({tip_hash})"
    )]
    NotNext {
        /// The outcome's height.
        height: u64,
        /// The block's hash.
        hash: Hash,
        /// The tip's height.
        tip_height: u64,
        /// The tip's hash.
        tip_hash: Hash,
    },
    /// A certificate for another block.
    #[error("certificate is for height {cert_height} block {cert_hash}, not this block")]
    CertificateMismatch {
        /// The certificate's height.
        cert_height: u64,
        /// The certificate's block.
        cert_hash: Hash,
    },
    /// The data directory was written in another on-disk format (an older
    /// one cannot be read in place: start from an empty data directory).
    #[error(
        "store format {}, this build reads format {supported}",
        .found.map_or_else(|| "unknown".to_owned(), |found| found.to_string())
    )]
    Format {
        /// The stored format, if one is recorded.
        found: Option<u32>,
        /// [`FORMAT_VERSION`].
        supported: u32,
    },
    /// Stored bytes that do not check out.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// Genesis is invalid.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// Encoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// State could not be read.
    #[error(transparent)]
    View(#[from] ViewError),
}

/// A transaction found by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    /// The block height.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The transaction.
    pub transaction: SignedTransaction,
    /// Its receipt.
    pub receipt: Receipt,
}

/// Per asset: the money held (balances and held escrows) and the recorded supply.
pub type SupplyAudit = BTreeMap<AssetCode, (Amount, Amount)>;

/// The store. Cloning shares the same database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    chain_id: ChainId,
    /// Every entry, under the keys of [`keys`].
    data: sled::Tree,
    committed: Arc<RwLock<Committed>>,
}

/// What the last commit left in memory. One lock over both, taken by a
/// commit from its tip check until both follow the batch, so the tip and
/// the commitment tree always describe the same block.
struct Committed {
    /// The last committed block: [`Store::tip`] answers from here.
    tip: Tip,
    /// The commitment's buckets.
    buckets: Buckets,
    /// The commitment's inner nodes.
    commitment: CommitmentTree,
}

impl Committed {
    /// Applies a commitment update to the buckets and the inner nodes.
    fn follow(&mut self, update: &CommitmentUpdate) {
        self.buckets.apply(update);
        self.commitment.apply(update);
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store(chain {})", self.chain_id)
    }
}

fn storage(error: sled::Error) -> ViewError {
    ViewError::Storage(error.to_string())
}

fn hash32(bytes: &[u8], what: &str) -> Result<Hash, ViewError> {
    bytes
        .try_into()
        .map(Hash)
        .map_err(|_| ViewError::Corrupt(format!("{what}: expected 32 bytes, got {}", bytes.len())))
}

/// What the node's engine reads of a chain store: the state (through
/// [`StateView`]), the tip, the state root, the next deadline and stored
/// blocks with their certificates. Implemented by the sled [`Store`] and by
/// its in-memory twin [`memory::MemoryStore`]; writes are not part of it
/// (the engine asks its host to commit, as an effect).
pub trait ChainStore: StateView + Send + Sync {
    /// The last committed block (height 0 and the chain id at genesis).
    fn chain_tip(&self) -> Result<Tip, StoreError>;
    /// The state root after the tip.
    fn root(&self) -> Result<Hash, StoreError>;
    /// The lowest height with escrow or credit deadlines still to process.
    fn next_deadline(&self) -> Result<Option<u64>, StoreError>;
    /// The block at `height`.
    fn block_at(&self, height: u64) -> Result<Option<Block>, StoreError>;
    /// The commit certificate of the block at `height`.
    fn certificate_at(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError>;
}

impl ChainStore for Store {
    fn chain_tip(&self) -> Result<Tip, StoreError> {
        self.tip()
    }

    fn root(&self) -> Result<Hash, StoreError> {
        self.state_root()
    }

    fn next_deadline(&self) -> Result<Option<u64>, StoreError> {
        Store::next_deadline(self)
    }

    fn block_at(&self, height: u64) -> Result<Option<Block>, StoreError> {
        self.block(height)
    }

    fn certificate_at(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        self.certificate(height)
    }
}

impl Store {
    /// Opens (or creates) the store at `path` for the chain of `genesis`.
    /// A new store is initialised with the genesis state; an existing one
    /// must belong to the same chain and pass the tip checks.
    pub fn open(path: &Path, genesis: &Genesis) -> Result<Store, StoreError> {
        Store::with_db(open_db(path)?, genesis)
    }

    /// A store in a temporary directory sled deletes when dropped (tests).
    pub fn temporary(genesis: &Genesis) -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::with_db(db, genesis)
    }

    fn with_db(db: sled::Db, genesis: &Genesis) -> Result<Store, StoreError> {
        let chain_id = genesis.chain_id()?;
        refuse_older_layout(&db)?;
        let store = Store {
            data: db.open_tree(keys::TREE)?,
            committed: Arc::new(RwLock::new(Committed {
                tip: Tip {
                    height: 0,
                    block_hash: chain_id,
                },
                buckets: Buckets::default(),
                commitment: CommitmentTree::empty(),
            })),
            db,
            chain_id,
        };
        match store.data.get(keys::META_CHAIN_ID)? {
            None => store.initialise(genesis)?,
            Some(stored) => {
                check_format(&store.data)?;
                let stored = hash32(&stored, "meta chain id")?;
                if stored != chain_id {
                    return Err(StoreError::WrongChain {
                        expected: chain_id,
                        stored,
                    });
                }
                store.load_committed()?;
                store.check_tip()?;
            }
        }
        Ok(store)
    }

    fn initialise(&self, genesis: &Genesis) -> Result<(), StoreError> {
        let writes = genesis.initial_writes()?;
        let update = commitment::update(self, &writes)?;
        let mut batch = sled::Batch::default();
        state_writes(&mut batch, &writes);
        batch.insert(keys::META_FORMAT, &FORMAT_VERSION.to_be_bytes()[..]);
        batch.insert(keys::META_TIP, &keys::tip(0, &self.chain_id)[..]);
        batch.insert(keys::META_GENESIS_ROOT, &update.root.0[..]);
        // A store with a chain id is a fully initialised store: the batch is
        // atomic, so the chain id arrives with everything else or not at all.
        batch.insert(keys::META_CHAIN_ID, &self.chain_id.0[..]);
        self.data.apply_batch(batch)?;
        // The tip is already the genesis one.
        self.write_committed().follow(&update);
        self.db.flush()?;
        Ok(())
    }

    /// Reads the tip and rebuilds the in-memory commitment (buckets, then
    /// inner nodes) from the state entries: one scan, two hashes per entry.
    fn load_committed(&self) -> Result<(), StoreError> {
        let tip = read_tip(&self.data)?;
        // Streamed: the state is not held twice. A read error stops the
        // scan and fails the open.
        let mut failed = None;
        let entries = self
            .data
            .scan_prefix([keys::STATE])
            .map_while(|item| match item {
                // The scan yields only keys with the state prefix.
                Ok((key, value)) => Some((key.subslice(1, key.len() - 1), value)),
                Err(error) => {
                    failed = Some(error);
                    None
                }
            });
        let buckets = Buckets::from_entries(entries);
        if let Some(error) = failed {
            return Err(error.into());
        }
        let commitment = CommitmentTree::from_buckets(buckets.hashes());
        *self.write_committed() = Committed {
            tip,
            buckets,
            commitment,
        };
        Ok(())
    }

    fn read_committed(&self) -> std::sync::RwLockReadGuard<'_, Committed> {
        // See `write_committed`.
        self.committed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_committed(&self) -> std::sync::RwLockWriteGuard<'_, Committed> {
        // The tip and the tree are plain values, assigned only after the
        // batch went through: a panic while the lock is held (inside sled)
        // leaves them as of the last whole commit, and a poison flag would
        // protect nothing.
        self.committed
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The chain id.
    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// Commits a block outcome (computed by [`crate::state::apply_block`] on
    /// this store) with its certificate: one atomic sled batch, then a
    /// flush. An error from sled (the batch or the flush) is fatal for the
    /// caller: stop using this store and reopen it. The caller has verified
    /// the certificate's signatures; this checks it names this block and
    /// that the block extends the tip.
    pub fn commit(
        &self,
        outcome: &BlockOutcome,
        certificate: &CommitCertificate,
    ) -> Result<(), StoreError> {
        let header = &outcome.block.header;
        let tip = self.tip()?;
        if header.height != tip.height.saturating_add(1) || header.previous_hash != tip.block_hash {
            return Err(not_next(outcome, tip));
        }
        if certificate.height != header.height || certificate.block_hash != outcome.block_hash {
            return Err(StoreError::CertificateMismatch {
                cert_height: certificate.height,
                cert_hash: certificate.block_hash,
            });
        }
        let height = header.height;
        let mut batch = sled::Batch::default();
        batch.insert(&keys::block(height)[..], outcome.block.encode()?);
        batch.insert(&keys::certificate(height)[..], codec::encode(certificate)?);
        batch.insert(
            &keys::receipts(height)[..],
            codec::encode(&outcome.execution.receipts)?,
        );
        self.tx_index_writes(&mut batch, outcome)?;
        state_writes(&mut batch, &outcome.execution.writes);
        batch.insert(keys::META_TIP, &keys::tip(height, &outcome.block_hash)[..]);
        {
            let mut committed = self.write_committed();
            // The batch was built outside the lock: had another commit got in
            // meanwhile, this block would no longer extend the tip.
            if committed.tip != tip {
                return Err(not_next(outcome, committed.tip));
            }
            self.data.apply_batch(batch)?;
            // The batch is visible from here on: the tip and the in-memory
            // tree must follow it before anything can fail, or later roots
            // would mix new buckets with old inner nodes, and `tip` would
            // name a block that is no longer the last.
            committed.follow(&outcome.execution.commitment);
            committed.tip = Tip {
                height,
                block_hash: outcome.block_hash,
            };
        }
        // A flush error leaves the block committed in memory but perhaps not
        // on disk: callers must treat it as fatal (stop, reopen).
        self.db.flush()?;
        Ok(())
    }

    /// Adds the index entries of a block to `batch`. One id can occur more
    /// than once in the chain (a replay, or a transaction first included
    /// too early); the index keeps its final occurrence and lets no later
    /// one replace it, so a committed payment never reads back as rejected.
    ///
    /// Only a rejected occurrence reads the index. An applied one cannot
    /// follow a final one: applying needs the sender's next nonce and an
    /// unexpired transaction, and every final outcome either used that
    /// nonce up for good (it applied, its body failed after the nonce
    /// advanced, or the nonce was already behind or exhausted) or expired
    /// (heights only grow); nonces never go back, as accounts are never
    /// removed. So an applied occurrence replaces at most a non-final entry,
    /// and is written without a look, which spares a read per payment.
    fn tx_index_writes(
        &self,
        batch: &mut sled::Batch,
        outcome: &BlockOutcome,
    ) -> Result<(), StoreError> {
        // This block's occurrences so far: whether each was final.
        let mut pending: BTreeMap<Hash, bool> = BTreeMap::new();
        let execution = &outcome.execution;
        for (index, (tx_id, receipt)) in
            execution.tx_ids.iter().zip(&execution.receipts).enumerate()
        {
            if !matches!(receipt.outcome, Outcome::Applied { .. }) {
                let existing_final = match pending.get(tx_id) {
                    Some(is_final) => Some(*is_final),
                    None => match self.data.get(keys::tx(tx_id))? {
                        None => None,
                        Some(value) => Some(
                            keys::parse_tx_location(&value)
                                .ok_or_else(|| {
                                    StoreError::Corrupt(format!("tx index entry for {tx_id}"))
                                })?
                                .2,
                        ),
                    },
                };
                if existing_final == Some(true) {
                    continue;
                }
            }
            let index = u32::try_from(index)
                .map_err(|_| StoreError::Corrupt("more than 2^32 transactions".into()))?;
            let is_final = receipt.outcome.is_final();
            batch.insert(
                &keys::tx(tx_id)[..],
                &keys::tx_location(outcome.block.header.height, index, is_final)[..],
            );
            pending.insert(*tx_id, is_final);
        }
        Ok(())
    }

    /// The last committed block (height 0 and the chain id at genesis),
    /// from memory: a commit sets it before it returns, under the lock it
    /// checks the tip with.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        Ok(self.read_committed().tip)
    }

    /// The current state root.
    pub fn state_root(&self) -> Result<Hash, StoreError> {
        Ok(commitment::root(self)?)
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        match self.data.get(keys::block(height))? {
            None => Ok(None),
            Some(bytes) => Ok(Some(codec::decode::<Block, BLOCK_BYTES_MAX>(&bytes)?)),
        }
    }

    /// The commit certificate of the block at `height`.
    pub fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        match self.data.get(keys::certificate(height))? {
            None => Ok(None),
            Some(bytes) => Ok(Some(codec::decode::<
                CommitCertificate,
                CERTIFICATE_BYTES_MAX,
            >(&bytes)?)),
        }
    }

    /// The receipts of the block at `height`.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StoreError> {
        match self.data.get(keys::receipts(height))? {
            None => Ok(None),
            Some(bytes) => Ok(Some(codec::decode::<Vec<Receipt>, RECEIPTS_BYTES_MAX>(
                &bytes,
            )?)),
        }
    }

    /// A committed transaction with its receipt, by id.
    pub fn transaction(&self, id: &Hash) -> Result<Option<StoredTransaction>, StoreError> {
        let Some(location) = self.data.get(keys::tx(id))? else {
            return Ok(None);
        };
        let (height, index, _) = keys::parse_tx_location(&location)
            .ok_or_else(|| StoreError::Corrupt(format!("tx index entry for {id}")))?;
        let missing = || StoreError::Corrupt(format!("tx {id} indexed at {height}/{index}"));
        let block = self.block(height)?.ok_or_else(missing)?;
        let receipts = self.receipts(height)?.ok_or_else(missing)?;
        let position = usize::try_from(index).map_err(|_| missing())?;
        let transaction = block
            .transactions
            .get(position)
            .cloned()
            .ok_or_else(missing)?;
        let receipt = receipts.get(position).cloned().ok_or_else(missing)?;
        Ok(Some(StoredTransaction {
            height,
            index,
            transaction,
            receipt,
        }))
    }

    /// An account's state.
    pub fn account(&self, id: &AccountId) -> Result<Option<AccountState>, StoreError> {
        Ok(crate::state::read(self, &StateKey::Account(*id))?)
    }

    /// An asset's state.
    pub fn asset(&self, code: &AssetCode) -> Result<Option<AssetState>, StoreError> {
        Ok(crate::state::read(self, &StateKey::Asset(code.clone()))?)
    }

    /// An escrow, by the id of its opening transaction.
    pub fn escrow(&self, id: &Hash) -> Result<Option<EscrowState>, StoreError> {
        Ok(crate::state::read(self, &StateKey::Escrow(*id))?)
    }

    /// The lowest height with escrow or credit deadlines still to process,
    /// if any: `StateKey::Due` keys encode the height big-endian after the
    /// variant, so the state entries keep them in height order.
    pub fn next_deadline(&self) -> Result<Option<u64>, StoreError> {
        let from = keys::state(&StateKey::Due(0).encode()?);
        let to = keys::state(&StateKey::Due(u64::MAX).encode()?);
        match self.data.range(from..=to).next() {
            None => Ok(None),
            Some(entry) => {
                let (key, _) = entry?;
                let key = keys::parse_state(&key)
                    .ok_or_else(|| StoreError::Corrupt("a deadline key lacks its prefix".into()))?;
                match codec::decode::<StateKey, { codec::STATE_KEY_BYTES_MAX }>(key)? {
                    StateKey::Due(height) => Ok(Some(height)),
                    other => Err(StoreError::Corrupt(format!(
                        "{other:?} sorts among the deadlines"
                    ))),
                }
            }
        }
    }

    /// The chain parameters in force.
    pub fn params(&self) -> Result<Params, StoreError> {
        Ok(crate::state::read(self, &StateKey::Params)?.unwrap_or_default())
    }

    /// The member banks.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        Ok(crate::state::read_members(self)?)
    }

    /// Every state entry (encoded key, encoded value), in key order.
    pub fn state_entries(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        let mut entries = BTreeMap::new();
        for item in self.data.scan_prefix([keys::STATE]) {
            let (key, value) = item?;
            let key = keys::parse_state(&key)
                .ok_or_else(|| StoreError::Corrupt("a state key lacks its prefix".into()))?;
            entries.insert(key.to_vec(), value.to_vec());
        }
        Ok(entries)
    }

    /// Sums the money held per asset (balances and held escrows) next to
    /// the recorded supply (a full scan).
    pub fn supply_audit(&self) -> Result<SupplyAudit, StoreError> {
        let mut audit: SupplyAudit = BTreeMap::new();
        for (key, value) in self.state_entries()? {
            match crate::state::holding(&key, &value)? {
                Holding::Money(held) => {
                    for (asset, amount) in held {
                        let slot = audit.entry(asset.clone()).or_default();
                        slot.0 = slot.0.checked_add(amount).ok_or_else(|| {
                            StoreError::Corrupt(format!("{asset}: holdings overflow"))
                        })?;
                    }
                }
                Holding::Supply(code, supply) => audit.entry(code).or_default().1 = supply,
                Holding::Nothing => {}
            }
        }
        Ok(audit)
    }

    /// Recomputes the whole commitment from the state entries and compares
    /// every bucket and the root with what is stored (a full scan).
    pub fn check_state(&self) -> Result<(), StoreError> {
        let mut rebuilt = crate::state::memory::MemoryState::empty(self.chain_id);
        let writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .state_entries()?
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect();
        let update = commitment::update(&rebuilt, &writes)?;
        rebuilt.write(&writes, &update);
        for (bucket, entries) in &update.buckets {
            if self.bucket(*bucket)? != *entries {
                return Err(StoreError::Corrupt(format!(
                    "commitment bucket {bucket} does not match the state"
                )));
            }
        }
        let stored_root = self.state_root()?;
        if rebuilt.root() != stored_root {
            return Err(StoreError::Corrupt(format!(
                "state root {stored_root} does not match the state ({})",
                rebuilt.root()
            )));
        }
        Ok(())
    }

    /// Checks the tip: the last [`OPEN_CHECK_BLOCKS`] blocks link by hash,
    /// each has a certificate naming it, and the stored state root equals the
    /// tip header's (or the genesis root at height 0).
    pub fn check_tip(&self) -> Result<(), StoreError> {
        let tip = self.tip()?;
        let state_root = self.state_root()?;
        if tip.height == 0 {
            let genesis_root = self
                .data
                .get(keys::META_GENESIS_ROOT)?
                .ok_or_else(|| StoreError::Corrupt("genesis root missing".into()))?;
            if hash32(&genesis_root, "genesis root")? != state_root {
                return Err(StoreError::Corrupt(
                    "state root differs from the genesis root at height 0".into(),
                ));
            }
            return Ok(());
        }
        let mut expected_hash = tip.block_hash;
        let lowest = tip.height.saturating_sub(OPEN_CHECK_BLOCKS - 1).max(1);
        for height in (lowest..=tip.height).rev() {
            let block = self
                .block(height)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {height} missing")))?;
            let hash = block.hash()?;
            if hash != expected_hash || block.header.height != height {
                return Err(StoreError::Corrupt(format!(
                    "block {height} hashes to {hash}, expected {expected_hash}"
                )));
            }
            let certificate = self
                .certificate(height)?
                .ok_or_else(|| StoreError::Corrupt(format!("certificate {height} missing")))?;
            if certificate.block_hash != hash || certificate.height != height {
                return Err(StoreError::Corrupt(format!(
                    "certificate {height} names another block"
                )));
            }
            if height == tip.height && block.header.state_root != state_root {
                return Err(StoreError::Corrupt(format!(
                    "stored state root {state_root} differs from the tip header's {}",
                    block.header.state_root
                )));
            }
            expected_hash = block.header.previous_hash;
        }
        if lowest == 1 && expected_hash != self.chain_id {
            return Err(StoreError::Corrupt(
                "block 1 does not extend the genesis".into(),
            ));
        }
        Ok(())
    }
}

/// How long [`open_db`] waits for a previous holder's file lock.
pub const LOCK_WAIT_MS: u64 = 5_000;

/// sled's page cache. Its default (1 GiB) let a node's memory grow by tens
/// of MiB per 100,000 payments; recent state is what execution reads, and
/// 64 MiB holds far more than one block touches.
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Opens a sled database, waiting up to [`LOCK_WAIT_MS`] for its file lock:
/// sled releases the lock of a dropped `Db` only when its background
/// threads let go, so a store closed a moment ago (a restart in the same
/// process) may still hold it. A lock held by another live process still
/// fails, after the wait.
pub fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(LOCK_WAIT_MS);
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
        {
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return Ok(result?),
        }
    }
}

/// A store's committed blocks and certificates as the bytes stored, read
/// without a genesis and without the tip checks: for a reader that decodes
/// and checks everything itself (the CLI's `audit verify` reads a copy of a
/// node's store this way).
pub struct StoredChain {
    data: sled::Tree,
    tip_height: u64,
}

impl StoredChain {
    /// Opens the store at `path`; one in another format is refused.
    pub fn open(path: &Path) -> Result<StoredChain, StoreError> {
        let db = open_db(path)?;
        refuse_older_layout(&db)?;
        let data = db.open_tree(keys::TREE)?;
        check_format(&data)?;
        let tip_height = read_tip(&data)?.height;
        Ok(StoredChain { data, tip_height })
    }

    /// The last committed height when opened (0: no block yet).
    pub fn tip_height(&self) -> u64 {
        self.tip_height
    }

    /// The canonical bytes of the block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .data
            .get(keys::block(height))?
            .map(|bytes| bytes.to_vec()))
    }

    /// The canonical bytes of the certificate of the block at `height`.
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .data
            .get(keys::certificate(height))?
            .map(|bytes| bytes.to_vec()))
    }
}

/// Formats 1 and 2 kept one sled tree per kind, with the format in a
/// `meta` tree. Such a store is refused by its format number, before the
/// tree of this format is opened (which would create it) and certainly
/// before a genesis could be written beside the old trees.
fn refuse_older_layout(db: &sled::Db) -> Result<(), StoreError> {
    let legacy = keys::LEGACY_META_TREE.as_bytes();
    if !db.tree_names().iter().any(|name| name.as_ref() == legacy) {
        return Ok(());
    }
    let meta = db.open_tree(keys::LEGACY_META_TREE)?;
    Err(StoreError::Format {
        found: read_format(&meta, keys::LEGACY_META_FORMAT)?,
        supported: FORMAT_VERSION,
    })
}

/// Refuses a store whose recorded format is not [`FORMAT_VERSION`].
fn check_format(data: &sled::Tree) -> Result<(), StoreError> {
    let found = read_format(data, keys::META_FORMAT)?;
    if found != Some(FORMAT_VERSION) {
        return Err(StoreError::Format {
            found,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// The tip as stored (the last commit's meta entry).
fn read_tip(data: &sled::Tree) -> Result<Tip, StoreError> {
    data.get(keys::META_TIP)?
        .and_then(|value| keys::parse_tip(&value))
        .map(|(height, block_hash)| Tip { height, block_hash })
        .ok_or_else(|| StoreError::Corrupt("tip missing or malformed".into()))
}

fn read_format(tree: &sled::Tree, key: &[u8]) -> Result<Option<u32>, StoreError> {
    Ok(tree
        .get(key)?
        .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_ref()).ok())
        .map(u32::from_be_bytes))
}

fn not_next(outcome: &BlockOutcome, tip: Tip) -> StoreError {
    StoreError::NotNext {
        height: outcome.block.header.height,
        hash: outcome.block_hash,
        tip_height: tip.height,
        tip_hash: tip.block_hash,
    }
}

/// Adds state writes (`None`: a removal) to `batch`.
fn state_writes(batch: &mut sled::Batch, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    for (key, value) in writes {
        match value {
            Some(value) => batch.insert(keys::state(key), value.as_slice()),
            None => batch.remove(keys::state(key)),
        }
    }
}

impl StateView for Store {
    fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    fn tip(&self) -> Result<Tip, ViewError> {
        Store::tip(self).map_err(|error| ViewError::Storage(error.to_string()))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError> {
        Ok(self
            .data
            .get(keys::state(key))
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    fn bucket(&self, bucket: u16) -> Result<Vec<BucketEntry>, ViewError> {
        Ok(self.read_committed().buckets.get(bucket))
    }

    fn node(&self, level: u8, index: u32) -> Result<Option<Hash>, ViewError> {
        Ok(self.read_committed().commitment.node(level, index))
    }
}
