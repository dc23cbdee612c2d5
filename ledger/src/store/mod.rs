//! The store: the only code that touches disk.
//!
//! A store folder holds two things:
//! - `history/`: the chain's history in append-only segment files (see
//!   [`history`]): each committed block with its certificate and receipts
//!   is one checksummed record, written and synced once. **That record is
//!   the commit point.** Next to the segments, the transaction index's run
//!   files (see [`txindex`]).
//! - `state/`: one sled `Db` with one tree ([`keys::TREE`]) holding a
//!   bounded set of keys under a one-byte prefix per kind ([`keys`] builds
//!   every key): the state entries (accounts with their credit records,
//!   assets, escrows, deadlines, members, parameters), the transaction
//!   index's run pointers and meta (format, chain id, the height whose state
//!   sled holds, genesis root). Nothing per payment and nothing that grows
//!   with the chain goes into sled: values over ~128 KiB and one random key
//!   per payment are exactly the shapes that made sled 0.34's heap follow
//!   the chain.
//!
//! State writes are held in memory (every entry changed since the last sled
//! write, answered before sled) and go to sled as one atomic batch every
//! [`StoreConfig::state_flush_blocks`] blocks, with the height they bring
//! the state to; sled persists it in its own time, and no commit waits for
//! a sled flush. At open, the blocks the history holds above that height
//! are replayed (executed again, their roots checked), so a crash at any
//! point leaves the last whole record committed and the state exactly as
//! of that block. The state commitment (see [`crate::state::commitment`])
//! is derived data: its buckets and inner nodes live in memory, rebuilt
//! from the state entries at open.
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
//! batch"), so a torn batch is recovered not at all.
//!
//! One writer: commits are serialised by a lock; reads may run beside a
//! commit and see a block wholly or not at all.
//!
//! sled 0.34 has open corruption reports, so [`Store::open`] checks the tip:
//! the last blocks' hash links, and that the state root rebuilt from the
//! stored state entries (and replayed blocks) equals the tip header's;
//! [`Store::check_state`] also recomputes every bucket from the state
//! entries and compares them with the ones commits kept up to date in
//! memory.

mod decoded;
pub mod history;
pub mod keys;
pub mod memory;
pub mod snapshot;
pub mod txindex;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::amount::Amount;
use crate::block::Block;
use crate::certificate::CommitCertificate;
use crate::codec::{self, BLOCK_BYTES_MAX, CERTIFICATE_BYTES_MAX, CodecError, RECEIPTS_BYTES_MAX};
use crate::genesis::{Genesis, GenesisError};
use crate::ids::{AccountId, AssetCode, ChainId, Hash};
use crate::payment::{EndToEndId, PaymentDetails};
use crate::sealed::SealingSecret;
use crate::state::commitment::{self, BucketEntry, Buckets, CommitmentTree, CommitmentUpdate};
use crate::state::escrow::EscrowState;
use crate::state::fx::QuoteState;
use crate::state::memory::MemoryState;
use crate::state::{
    AccountState, AssetState, BlockOutcome, Decoded, Holding, Member, Params, Receipt, Signatures,
    StateKey, StateView, Tip, ViewError,
};
use crate::tx::{Body, SignedTransaction};

use decoded::DecodedCache;
use history::{History, HistoryConfig, Record, Repair};
use txindex::{Located, Location, Run, TxIndex};

/// The on-disk format this code writes. 2: accounts carry credit lines and
/// a credit record; escrows and deadlines are state entries. 3: every entry
/// lives in one sled tree under a one-byte prefix per kind, so a block
/// commits as one atomic `apply_batch` instead of a transaction over seven
/// trees (which read the old value of every key it wrote); the tip is one
/// entry. 4: the commitment's buckets are no longer stored (they are
/// rebuilt from the state at open). 5: blocks, certificates and receipts
/// in segment files, the transaction index in run files, the state in
/// `state/` written every few blocks (and block headers commit to the
/// payments' signatures). 6: fee rules carry the receiving bank's share;
/// FX quotes are state entries, and receipts record swaps and conversions.
/// 7: governance: members carry a governance account, a status and listen
/// addresses; proposals and the agenda are state entries; block headers
/// commit to the next block's validator set.
pub const FORMAT_VERSION: u32 = 8;

/// How many of the latest blocks [`Store::open`] checks.
pub const OPEN_CHECK_BLOCKS: u64 = 16;

/// How many runs of one level are merged into one of the next level.
pub const MERGE_FAN: usize = 8;

/// The highest level a merge makes. Merges stream (a buffer per input) and
/// run beside the commits on a thread of their own, so depth costs disk
/// bandwidth, not memory or commit latency: level 6 is 8^6 runs of
/// [`txindex::RUN_IDS`] (26 billion ids), beyond any chain's life.
pub const MERGE_LEVEL_MAX: u8 = 6;

/// How a store is laid out and how often it writes its state.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The segment files' roll size.
    pub history: HistoryConfig,
    /// Blocks between two sled writes of the state (each one batch); also
    /// the most blocks a reopen replays.
    pub state_flush_blocks: u64,
    /// Transaction ids held in memory before they go out as a run file.
    pub run_ids: usize,
    /// Decoded account, asset and escrow entries kept in memory beside
    /// their bytes, so execution does not decode them (0: none).
    pub decoded_entries: usize,
    /// Keep at least this many of the latest blocks and remove closed
    /// segments wholly below them (`None`: keep the whole chain, an
    /// archival node). A pruned node serves state, the latest blocks and
    /// snapshots; the blocks it removed come from an archival node.
    /// At least [`KEEP_BLOCKS_MIN`].
    pub keep_blocks: Option<u64>,
    /// The sealing secret of the bank (or overseer) this node serves: the
    /// end-to-end ids of sealed payments it can open are indexed like
    /// clear ones (`None`: only clear ids are).
    pub sealing: Option<SealingSecret>,
}

/// The fewest blocks a pruning store keeps: the ones its open checks.
pub const KEEP_BLOCKS_MIN: u64 = OPEN_CHECK_BLOCKS;

/// State entries per sled batch when a store writes its genesis state.
const GENESIS_BATCH_ENTRIES: usize = 4096;

/// The default bound on decoded entries: every account of a busy bank's
/// working set (about 400 bytes each, so some 25 MiB when full).
pub const DECODED_ENTRIES: usize = 65_536;

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            history: HistoryConfig::default(),
            state_flush_blocks: 16,
            run_ids: txindex::RUN_IDS,
            decoded_entries: DECODED_ENTRIES,
            keep_blocks: None,
            sealing: None,
        }
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A file of the history could not be read or written (a full disk
    /// included): the store stops committing; nothing already committed is
    /// lost.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: String,
    },
    /// Bytes of the history that do not check out, never served.
    #[error("damaged history: {} at offset {offset}: {what}", .file.display())]
    Damaged {
        /// The file.
        file: PathBuf,
        /// Where in it.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A transaction-index run the state names is not there.
    #[error("the transaction index run {} is missing", .path.display())]
    MissingRun {
        /// Where it should be.
        path: PathBuf,
    },
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
    /// A snapshot that does not check out.
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    /// A store may be started from a snapshot only in an empty folder.
    #[error("{} is not empty: a store starts from a snapshot only in an empty folder", .path.display())]
    NotEmpty {
        /// The folder.
        path: PathBuf,
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

pub(crate) fn history_io(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        error: error.to_string(),
    }
}

/// The end-to-end id a transaction carries where this node can read it:
/// in the clear, or sealed for `sealing`.
fn end_to_end_id(tx: &SignedTransaction, sealing: Option<&SealingSecret>) -> Option<EndToEndId> {
    match &tx.tx.body {
        // The common case copies the id alone.
        Body::Payment {
            details: PaymentDetails::Clear(data),
            ..
        } => Some(data.end_to_end_id.clone()),
        _ => tx.tx.payment_data(sealing).map(|data| data.end_to_end_id),
    }
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

impl StoredTransaction {
    /// The transaction at `index` of a block with its receipts (`missing`
    /// says what it is when the block has no such position).
    fn at(
        block: &Block,
        receipts: &[Receipt],
        height: u64,
        index: u32,
        missing: impl Fn() -> StoreError,
    ) -> Result<StoredTransaction, StoreError> {
        let position = usize::try_from(index).map_err(|_| missing())?;
        let transaction = block
            .transactions
            .get(position)
            .cloned()
            .ok_or_else(&missing)?;
        let receipt = receipts.get(position).cloned().ok_or_else(&missing)?;
        Ok(StoredTransaction {
            height,
            index,
            transaction,
            receipt,
        })
    }
}

/// Per asset: the money held (balances and held escrows) and the recorded supply.
pub type SupplyAudit = BTreeMap<AssetCode, (Amount, Amount)>;

/// The store. Cloning shares the same files.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    chain_id: ChainId,
    config: StoreConfig,
    /// The state entries, run pointers and meta, under the keys of [`keys`].
    data: sled::Tree,
    /// The history's folder (segments and runs).
    history_dir: PathBuf,
    history: Arc<RwLock<History>>,
    committed: Arc<RwLock<Committed>>,
    /// Held for a whole commit: one writer at a time.
    writer: Arc<Mutex<()>>,
    /// The run merge in flight, if any (one at a time).
    merging: Arc<Mutex<Option<MergeJob>>>,
    /// What opening cut off the history, if anything.
    repair: Option<Repair>,
    /// A temporary store's folder, removed when the last clone drops.
    _temporary: Option<Arc<TemporaryDir>>,
}

/// A merge of runs on its own thread: the inputs are immutable files, so
/// commits and lookups go on using them until the merged run replaces them.
struct MergeJob {
    /// The inputs' windows, oldest first, as they sat in the index.
    inputs: Vec<(u64, u64)>,
    /// The merged run's level.
    level: u8,
    handle: std::thread::JoinHandle<Result<Run, StoreError>>,
}

/// A folder removed on drop.
struct TemporaryDir(PathBuf);

impl Drop for TemporaryDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the commits left in memory. One lock over all of it, taken by a
/// commit once its record is synced, so the tip, the commitment, the state
/// not yet in sled and the index always describe the same block.
struct Committed {
    /// The last committed block: [`Store::tip`] answers from here.
    tip: Tip,
    /// The commitment's buckets.
    buckets: Buckets,
    /// The commitment's inner nodes.
    commitment: CommitmentTree,
    /// State writes since the last sled write (`None`: removed), answered
    /// before sled.
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Run pointers to write (or remove) with the next sled write.
    pending_meta: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Blocks since the last sled write.
    unflushed: u64,
    /// The transaction index.
    index: TxIndex,
    /// Each run's level, by position in `index.runs`.
    levels: Vec<u8>,
    /// Decoded entries, consistent with `pending` and sled.
    decoded: DecodedCache,
}

impl Committed {
    /// Applies a block's outcome in memory (its record is synced).
    fn follow_block(&mut self, outcome: &BlockOutcome, located: Located) {
        for (key, value) in &outcome.execution.writes {
            match self.pending.get_mut(key) {
                Some(slot) => slot.clone_from(value),
                None => {
                    self.pending.insert(key.clone(), value.clone());
                }
            }
        }
        self.decoded
            .follow(&outcome.execution.writes, &outcome.execution.decoded);
        self.follow(&outcome.execution.commitment);
        self.tip = Tip {
            height: outcome.block.header.height,
            block_hash: outcome.block_hash,
        };
        self.index.extend(located);
        self.unflushed += 1;
    }

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
/// blocks with their certificates. Implemented by the [`Store`] and by
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

/// The sled folder inside a store folder.
pub fn state_dir(path: &Path) -> PathBuf {
    path.join("state")
}

/// The history folder inside a store folder.
pub fn history_dir(path: &Path) -> PathBuf {
    path.join("history")
}

/// Refuses a folder that a build of format 4 or older wrote (sled's own
/// files right in the store folder), by the format it recorded.
fn refuse_older_folder(path: &Path) -> Result<(), StoreError> {
    if !path.join("conf").exists() && !path.join("db").exists() {
        return Ok(());
    }
    let db = open_db(path)?;
    refuse_older_layout(&db)?;
    let found = match db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == keys::TREE.as_bytes())
    {
        true => read_format(&db.open_tree(keys::TREE)?, keys::META_FORMAT)?,
        false => None,
    };
    Err(StoreError::Format {
        found,
        supported: FORMAT_VERSION,
    })
}

impl Store {
    /// Opens (or creates) the store at `path` for the chain of `genesis`.
    /// A new store is initialised with the genesis state; an existing one
    /// must belong to the same chain and pass the tip checks, after the
    /// blocks above its written state are replayed.
    pub fn open(path: &Path, genesis: &Genesis) -> Result<Store, StoreError> {
        Store::open_with(path, genesis, StoreConfig::default())
    }

    /// [`Store::open`] with a layout of its own (tests roll small segments).
    pub fn open_with(
        path: &Path,
        genesis: &Genesis,
        config: StoreConfig,
    ) -> Result<Store, StoreError> {
        refuse_older_folder(path)?;
        std::fs::create_dir_all(path).map_err(|e| history_io(path, e))?;
        let db = open_db(&state_dir(path))?;
        Store::with_parts(db, path, genesis, config, None)
    }

    /// A store in a temporary folder removed when the last clone drops
    /// (tests).
    pub fn temporary(genesis: &Genesis) -> Result<Store, StoreError> {
        let dir = std::env::temp_dir().join(format!(
            "clearhouse-store-{}-{}",
            std::process::id(),
            TEMPORARY.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| history_io(&dir, e))?;
        let guard = Arc::new(TemporaryDir(dir.clone()));
        let db = sled::Config::new()
            .path(state_dir(&dir))
            .cache_capacity(SLED_CACHE_BYTES)
            .open()?;
        Store::with_parts(db, &dir, genesis, StoreConfig::default(), Some(guard))
    }

    fn with_parts(
        db: sled::Db,
        path: &Path,
        genesis: &Genesis,
        config: StoreConfig,
        temporary: Option<Arc<TemporaryDir>>,
    ) -> Result<Store, StoreError> {
        let chain_id = genesis.chain_id()?;
        refuse_older_layout(&db)?;
        let history_dir = history_dir(path);
        let history = History::open(&history_dir, config.history)?;
        let repair = history.repair().cloned();
        let mut store = Store {
            data: db.open_tree(keys::TREE)?,
            committed: Arc::new(RwLock::new(Committed {
                tip: Tip {
                    height: 0,
                    block_hash: chain_id,
                },
                buckets: Buckets::default(),
                commitment: CommitmentTree::empty(),
                pending: BTreeMap::new(),
                pending_meta: Vec::new(),
                unflushed: 0,
                index: TxIndex::default(),
                levels: Vec::new(),
                decoded: DecodedCache::new(config.decoded_entries),
            })),
            history: Arc::new(RwLock::new(history)),
            history_dir,
            writer: Arc::new(Mutex::new(())),
            merging: Arc::new(Mutex::new(None)),
            db,
            chain_id,
            config,
            repair,
            _temporary: temporary,
        };
        match store.data.get(keys::META_CHAIN_ID)? {
            None => {
                if store.read_history().tip() > 0 {
                    return Err(StoreError::Corrupt(
                        "a history without its state: restore `state/` or start empty".into(),
                    ));
                }
                store.initialise(genesis)?;
            }
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
                store.load_base()?;
                store.load_runs()?;
                store.catch_up()?;
                store.check_tip()?;
            }
        }
        // The store is whole; a cut torn record is reported once.
        store.repair = store.repair.take();
        Ok(store)
    }

    fn initialise(&self, genesis: &Genesis) -> Result<(), StoreError> {
        let writes = genesis.initial_writes()?;
        let update = commitment::update(self, &writes)?;
        // What an earlier initialisation left before it was cut off.
        self.data.clear()?;
        write_entries(
            &self.data,
            writes
                .iter()
                .filter_map(|(key, value)| Some((key, value.as_ref()?))),
        )?;
        self.db.flush()?;
        let mut batch = sled::Batch::default();
        batch.insert(keys::META_FORMAT, &FORMAT_VERSION.to_be_bytes()[..]);
        batch.insert(keys::META_TIP, &keys::tip(0, &self.chain_id)[..]);
        batch.insert(keys::META_GENESIS_ROOT, &update.root.0[..]);
        // A store with a chain id is a fully initialised store: the chain
        // id arrives in the last batch, after the state entries are
        // durable, or the next open starts the initialisation over.
        batch.insert(keys::META_CHAIN_ID, &self.chain_id.0[..]);
        self.data.apply_batch(batch)?;
        // The tip is already the genesis one.
        self.write_committed().follow(&update);
        self.db.flush()?;
        Ok(())
    }

    /// Reads the state's height and rebuilds the in-memory commitment
    /// (buckets, then inner nodes) from the state entries: one scan, two
    /// hashes per entry.
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
        let mut committed = self.write_committed();
        committed.tip = tip;
        committed.buckets = buckets;
        committed.commitment = commitment;
        Ok(())
    }

    /// Reads the first height of the history (above 1 for a store started
    /// from a snapshot) and checks that the history starts there: a
    /// missing first segment is damage, not a shorter chain.
    fn load_base(&self) -> Result<(), StoreError> {
        let height = |key: &[u8], what: &str| -> Result<Option<u64>, StoreError> {
            self.data
                .get(key)?
                .map(|bytes| {
                    <[u8; 8]>::try_from(bytes.as_ref())
                        .map(u64::from_be_bytes)
                        .map_err(|_| StoreError::Corrupt(format!("a malformed {what}")))
                })
                .transpose()
        };
        let base = height(keys::META_BASE, "history base")?.unwrap_or(1);
        let pruned = height(keys::META_PRUNED, "pruning height")?.unwrap_or(base);
        if pruned > base && self.read_history().first() < pruned {
            // A prune recorded in sled whose file removals a crash cut
            // short: finish it.
            self.history
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove_below(pruned)?;
        }
        let first = self.read_history().first();
        if first != pruned {
            return Err(StoreError::Damaged {
                file: self.history_dir.clone(),
                offset: 0,
                what: format!("the history starts at height {first}, the state says {pruned}"),
            });
        }
        self.write_committed().index.base = base;
        Ok(())
    }

    /// Opens the runs the state names (a missing one is an error) and
    /// removes run files it does not name (left by a crash before their
    /// pointer was written, or merged away).
    fn load_runs(&self) -> Result<(), StoreError> {
        let mut runs = Vec::new();
        let mut levels = Vec::new();
        // The index starts where the store began (pruning keeps it whole).
        let index_base = self.read_committed().index.base.max(1);
        for item in self.data.scan_prefix([keys::RUN]) {
            let (key, value) = item?;
            let (from, to) = keys::parse_run(&key)
                .ok_or_else(|| StoreError::Corrupt("a malformed run pointer".into()))?;
            let expected = runs.last().map_or(index_base, |r: &Run| r.to + 1);
            if from != expected || to < from {
                return Err(StoreError::Corrupt(format!(
                    "run {from}..={to} does not follow the run before (next height {expected})"
                )));
            }
            runs.push(Run::open(&self.history_dir, from, to)?);
            levels.push(value.first().copied().unwrap_or(0));
        }
        let named: std::collections::BTreeSet<String> =
            runs.iter().map(|r| Run::file_name(r.from, r.to)).collect();
        for entry in
            std::fs::read_dir(&self.history_dir).map_err(|e| history_io(&self.history_dir, e))?
        {
            let entry = entry.map_err(|e| history_io(&self.history_dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if (name.ends_with(".txr") && !named.contains(&name)) || name.ends_with(".txr.tmp") {
                std::fs::remove_file(entry.path()).map_err(|e| history_io(&entry.path(), e))?;
            }
        }
        let mut committed = self.write_committed();
        committed.index.runs = runs;
        committed.levels = levels;
        Ok(())
    }

    /// Indexes the blocks above the last run that the state already holds,
    /// then replays the blocks the history holds above the state.
    fn catch_up(&self) -> Result<(), StoreError> {
        let state_height = self.tip()?.height;
        let history_tip = self.read_history().tip();
        if history_tip < state_height {
            return Err(StoreError::Corrupt(format!(
                "the state is at height {state_height}, the history ends at {history_tip}"
            )));
        }
        let from = self.read_committed().index.recent_from();
        if from > state_height + 1 {
            return Err(StoreError::Corrupt(format!(
                "a transaction-index run reaches height {}, the state only {state_height}",
                from - 1
            )));
        }
        for height in from..=state_height {
            let (block, receipts) = self.block_and_receipts(height)?;
            let ids = block
                .transactions
                .iter()
                .map(SignedTransaction::id)
                .collect::<Result<Vec<_>, _>>()?;
            let located = self.locate(height, &block.transactions, &ids, &receipts)?;
            self.write_committed().index.extend(located);
        }
        for height in state_height + 1..=history_tip {
            let record = self
                .read_history()
                .read(height)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {height} missing")))?;
            let block = Block::decode(&record.block)?;
            let certificate =
                codec::decode::<CommitCertificate, CERTIFICATE_BYTES_MAX>(&record.certificate)?;
            // Its certificate was checked before it was first committed.
            let outcome = crate::state::apply_block(self, &block, Signatures::AlreadyVerified)
                .map_err(|e| {
                    StoreError::Corrupt(format!("replaying block {height} at open: {e}"))
                })?;
            if certificate.block_hash != outcome.block_hash {
                return Err(StoreError::Corrupt(format!(
                    "certificate {height} names another block"
                )));
            }
            let located = self.locate(
                height,
                &outcome.block.transactions,
                &outcome.execution.tx_ids,
                &outcome.execution.receipts,
            )?;
            self.write_committed().follow_block(&outcome, located);
        }
        Ok(())
    }

    fn read_committed(&self) -> std::sync::RwLockReadGuard<'_, Committed> {
        // See `write_committed`.
        self.committed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_committed(&self) -> std::sync::RwLockWriteGuard<'_, Committed> {
        // Every field is assigned only once the block's record is synced: a
        // panic while the lock is held leaves them as of the last whole
        // commit, and a poison flag would protect nothing.
        self.committed
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read_history(&self) -> std::sync::RwLockReadGuard<'_, History> {
        self.history.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lowest height whose block this store holds: 1, or the height
    /// of the snapshot it was started from (the blocks below are elsewhere).
    pub fn first_height(&self) -> u64 {
        self.read_history().first()
    }

    /// The chain id.
    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// How many decoded entries the store holds (at most
    /// [`StoreConfig::decoded_entries`]).
    pub fn decoded_len(&self) -> usize {
        self.read_committed().decoded.len()
    }

    /// What opening cut off the history (a torn last record), if anything:
    /// for the node to report.
    pub fn repair(&self) -> Option<&Repair> {
        self.repair.as_ref()
    }

    /// How many segment files the history has.
    pub fn segment_count(&self) -> usize {
        self.read_history().segment_count()
    }

    /// How many transaction-index runs there are, and how many ids wait in
    /// memory.
    pub fn index_shape(&self) -> (usize, usize) {
        let committed = self.read_committed();
        (committed.index.runs.len(), committed.index.recent.len())
    }

    /// Commits a block outcome (computed by [`crate::state::apply_block`] on
    /// this store) with its certificate: its record appended to the history
    /// and synced (the commit point), then the state in memory. An error is
    /// fatal for the caller: stop using this store and reopen it. The
    /// caller has verified the certificate's signatures; this checks it
    /// names this block and that the block extends the tip.
    pub fn commit(
        &self,
        outcome: &BlockOutcome,
        certificate: &CommitCertificate,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
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
        let located = self.locate(
            height,
            &outcome.block.transactions,
            &outcome.execution.tx_ids,
            &outcome.execution.receipts,
        )?;
        let record = Record {
            height,
            block: outcome.block.encode()?,
            certificate: codec::encode(certificate)?,
            receipts: codec::encode(&outcome.execution.receipts)?,
        };
        self.history
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .append(&record)?;
        // Committed. Memory follows before anything can fail, or later roots
        // would mix new buckets with old inner nodes, and `tip` would name a
        // block that is no longer the last.
        let (run_due, flush_due) = {
            let mut committed = self.write_committed();
            committed.follow_block(outcome, located);
            (
                committed.index.recent_len() >= self.config.run_ids,
                committed.unflushed >= self.config.state_flush_blocks,
            )
        };
        if run_due {
            self.write_run(height)?;
        }
        // Installs a merge that finished meanwhile, or starts one now due.
        self.merge_runs(false)?;
        if flush_due {
            self.write_state()?;
            self.prune()?;
        }
        Ok(())
    }

    /// With [`StoreConfig::keep_blocks`], removes the closed segments whose
    /// blocks all lie more than that many blocks below the tip, and below
    /// the first height the transaction index replays at open (run after a
    /// state write, so nothing a reopen replays goes). The new first height
    /// is made durable in sled before any file goes; a crash between the
    /// two is finished at the next open.
    fn prune(&self) -> Result<(), StoreError> {
        let Some(keep) = self.config.keep_blocks else {
            return Ok(());
        };
        let (tip, recent_from) = {
            let committed = self.read_committed();
            (committed.tip.height, committed.index.recent_from())
        };
        let limit = tip
            .saturating_sub(keep.max(KEEP_BLOCKS_MIN))
            .saturating_add(1)
            .min(recent_from);
        let first = self.read_history().prunable_first(limit);
        if first <= self.first_height() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        batch.insert(keys::META_PRUNED, &first.to_be_bytes()[..]);
        self.data.apply_batch(batch)?;
        self.db.flush()?;
        // Readers confirming an index entry against its block hold the
        // committed lock: none sees a block go from under it.
        let _committed = self.write_committed();
        self.history
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove_below(first)
    }

    /// Where a block's transactions go in the index. One id can occur more
    /// than once in the chain (a replay, or a transaction first included
    /// too early); the index keeps its final occurrence and lets no later
    /// one replace it, so a committed payment never reads back as rejected.
    ///
    /// Only a rejected occurrence looks the index up. An applied one cannot
    /// follow a final one: applying needs the sender's next nonce and an
    /// unexpired transaction, and every final outcome either used that
    /// nonce up for good (it applied, its body failed after the nonce
    /// advanced, or the nonce was already behind or exhausted) or expired
    /// (heights only grow); nonces never go back, as accounts are never
    /// removed. So an applied occurrence replaces at most a non-final entry,
    /// and is written without a look, which spares a lookup per payment.
    ///
    /// A payment's end-to-end id is indexed at the same occurrences as its
    /// transaction id.
    fn locate(
        &self,
        height: u64,
        transactions: &[SignedTransaction],
        tx_ids: &[Hash],
        receipts: &[Receipt],
    ) -> Result<Located, StoreError> {
        if tx_ids.len() != receipts.len() || tx_ids.len() != transactions.len() {
            return Err(StoreError::Corrupt(format!(
                "block {height}: {} transactions, {} ids, {} receipts",
                transactions.len(),
                tx_ids.len(),
                receipts.len()
            )));
        }
        let mut references = Vec::new();
        // This block's occurrences so far: whether each was final.
        let mut pending: BTreeMap<Hash, bool> = BTreeMap::new();
        let mut located = Vec::with_capacity(tx_ids.len());
        let occurrences = tx_ids.iter().zip(receipts).zip(transactions);
        for (index, ((tx_id, receipt), transaction)) in occurrences.enumerate() {
            if !receipt.outcome.is_applied() {
                let existing_final = match pending.get(tx_id) {
                    Some(is_final) => Some(*is_final),
                    None => self.find(tx_id)?.map(|(location, _)| location.is_final),
                };
                if existing_final == Some(true) {
                    continue;
                }
            }
            let index = u32::try_from(index)
                .map_err(|_| StoreError::Corrupt("more than 2^32 transactions".into()))?;
            let is_final = receipt.outcome.is_final();
            if let Some(end_to_end_id) = end_to_end_id(transaction, self.config.sealing.as_ref())
                .filter(|id| !id.is_not_provided())
            {
                references.push((
                    end_to_end_id.index_key(),
                    Location {
                        height,
                        index,
                        is_final,
                    },
                ));
            }
            located.push((
                *tx_id,
                Location {
                    height,
                    index,
                    is_final,
                },
            ));
            pending.insert(*tx_id, is_final);
        }
        // A later occurrence in the block replaces an earlier one, as in the
        // map it extends.
        Ok(Located {
            ids: located,
            references,
        })
    }

    /// The indexed occurrence of `id`, with its block and receipts when a
    /// run's candidate had to be read to confirm it.
    #[allow(clippy::type_complexity)]
    fn find(
        &self,
        id: &Hash,
    ) -> Result<Option<(Location, Option<(Block, Vec<Receipt>)>)>, StoreError> {
        let committed = self.read_committed();
        let mut read = None;
        let found = committed.index.find(id, |location| {
            if location.height < self.first_height() {
                // Pruned: this node no longer holds the block.
                return Ok(false);
            }
            let (block, receipts) = self.block_and_receipts(location.height)?;
            let matches = match block.transactions.get(location.index as usize) {
                Some(tx) => tx.id()? == *id,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "tx index names {}/{}, past the block's end",
                        location.height, location.index
                    )));
                }
            };
            if matches {
                read = Some((block, receipts));
            }
            Ok(matches)
        })?;
        Ok(found.map(|location| (location, read)))
    }

    /// Writes the ids in memory as the run of their window (ending at
    /// `height`).
    fn write_run(&self, height: u64) -> Result<(), StoreError> {
        let (from, entries) = {
            let committed = self.read_committed();
            let entries = committed.index.recent_entries();
            (committed.index.recent_from(), entries)
        };
        let run = Run::write(&self.history_dir, from, height, entries)?;
        {
            let mut committed = self.write_committed();
            committed.index.runs.push(run);
            committed.levels.push(0);
            committed.index.clear_recent();
            committed
                .pending_meta
                .push((keys::run(from, height).to_vec(), Some(vec![0])));
        }
        Ok(())
    }

    /// Installs a finished merge and starts the next one that is due;
    /// with `wait`, until no merge is due or in flight (a clean shutdown).
    /// A merge takes [`MERGE_FAN`] adjacent runs of one level below
    /// [`MERGE_LEVEL_MAX`], the newest such group's oldest ones, so levels
    /// never increase from older runs to newer ones.
    fn merge_runs(&self, wait: bool) -> Result<(), StoreError> {
        let mut merging = self.merging.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = merging.take() {
                if !wait && !job.handle.is_finished() {
                    *merging = Some(job);
                    return Ok(());
                }
                let merged = job.handle.join().map_err(|_| {
                    StoreError::Corrupt("the thread merging index runs panicked".into())
                })??;
                self.install_merge(&job.inputs, job.level, merged)?;
            }
            let Some((inputs, level)) = self.merge_due() else {
                return Ok(());
            };
            let runs = inputs
                .iter()
                .map(|(from, to)| Run::open(&self.history_dir, *from, *to))
                .collect::<Result<Vec<_>, _>>()?;
            let dir = self.history_dir.clone();
            let handle = std::thread::Builder::new()
                .name("clearhouse-txindex-merge".into())
                .spawn(move || txindex::merge(&dir, &runs))
                .map_err(|e| history_io(&self.history_dir, e))?;
            *merging = Some(MergeJob {
                inputs,
                level,
                handle,
            });
            if !wait {
                return Ok(());
            }
        }
    }

    /// The runs a merge should take next, with the merged run's level.
    fn merge_due(&self) -> Option<(Vec<(u64, u64)>, u8)> {
        let committed = self.read_committed();
        let levels = &committed.levels;
        let mut end = levels.len();
        while end > 0 {
            let level = levels[end - 1];
            let start = levels[..end]
                .iter()
                .rposition(|l| *l != level)
                .map_or(0, |i| i + 1);
            if level < MERGE_LEVEL_MAX && end - start >= MERGE_FAN {
                let inputs = committed.index.runs[start..start + MERGE_FAN]
                    .iter()
                    .map(|r| (r.from, r.to))
                    .collect();
                return Some((inputs, level + 1));
            }
            end = start;
        }
        None
    }

    /// Puts a merged run in place of its inputs: the pointers change in one
    /// sled batch, made durable before the inputs' files are removed (a
    /// crash in between leaves files no pointer names, removed at open).
    fn install_merge(
        &self,
        inputs: &[(u64, u64)],
        level: u8,
        merged: Run,
    ) -> Result<(), StoreError> {
        let mut removed = Vec::new();
        {
            let mut committed = self.write_committed();
            let at = committed
                .index
                .runs
                .iter()
                .position(|r| (r.from, r.to) == inputs[0])
                .filter(|at| {
                    committed.index.runs[*at..]
                        .iter()
                        .map(|r| (r.from, r.to))
                        .take(inputs.len())
                        .eq(inputs.iter().copied())
                })
                .ok_or_else(|| {
                    StoreError::Corrupt("a merge's inputs left the index while it ran".into())
                })?;
            let replaced: Vec<Run> = committed
                .index
                .runs
                .splice(at..at + inputs.len(), std::iter::once(merged))
                .collect();
            committed
                .levels
                .splice(at..at + inputs.len(), std::iter::once(level));
            for run in replaced {
                committed
                    .pending_meta
                    .push((keys::run(run.from, run.to).to_vec(), None));
                removed.push(run.path().to_path_buf());
            }
            let (from, to) = (inputs[0].0, inputs[inputs.len() - 1].1);
            committed
                .pending_meta
                .push((keys::run(from, to).to_vec(), Some(vec![level])));
        }
        self.write_state()?;
        self.db.flush()?;
        for path in removed {
            std::fs::remove_file(&path).map_err(|e| history_io(&path, e))?;
        }
        Ok(())
    }

    /// Writes the state changed since the last write, the run pointers and
    /// the height they bring sled to, as one atomic sled batch. sled
    /// persists it on its own schedule: a crash before it does replays
    /// those blocks at open.
    fn write_state(&self) -> Result<(), StoreError> {
        let batch = {
            let committed = self.read_committed();
            let mut batch = sled::Batch::default();
            state_writes(&mut batch, &committed.pending);
            for (key, value) in &committed.pending_meta {
                match value {
                    Some(value) => batch.insert(key.as_slice(), value.as_slice()),
                    None => batch.remove(key.as_slice()),
                }
            }
            batch.insert(
                keys::META_TIP,
                &keys::tip(committed.tip.height, &committed.tip.block_hash)[..],
            );
            batch
        };
        self.data.apply_batch(batch)?;
        // One writer: nothing changed what was written meanwhile, and sled
        // now answers the same for every key.
        let mut committed = self.write_committed();
        committed.pending.clear();
        committed.pending_meta.clear();
        committed.unflushed = 0;
        Ok(())
    }

    /// Writes the state to sled and waits until sled has it on disk (a
    /// clean shutdown: the next open replays nothing).
    pub fn flush(&self) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.merge_runs(true)?;
        self.write_state()?;
        self.db.flush()?;
        Ok(())
    }

    /// The last committed block (height 0 and the chain id at genesis),
    /// from memory: a commit sets it before it returns.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        Ok(self.read_committed().tip)
    }

    /// The current state root.
    pub fn state_root(&self) -> Result<Hash, StoreError> {
        Ok(commitment::root(self)?)
    }

    /// The record of `height`, if committed.
    fn record(&self, height: u64) -> Result<Option<Record>, StoreError> {
        self.read_history().read(height)
    }

    fn block_and_receipts(&self, height: u64) -> Result<(Block, Vec<Receipt>), StoreError> {
        let record = self
            .record(height)?
            .ok_or_else(|| StoreError::Corrupt(format!("block {height} missing")))?;
        Ok((
            codec::decode::<Block, BLOCK_BYTES_MAX>(&record.block)?,
            codec::decode::<Vec<Receipt>, RECEIPTS_BYTES_MAX>(&record.receipts)?,
        ))
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        match self.record(height)? {
            None => Ok(None),
            Some(record) => Ok(Some(codec::decode::<Block, BLOCK_BYTES_MAX>(
                &record.block,
            )?)),
        }
    }

    /// The commit certificate of the block at `height`.
    pub fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        match self.record(height)? {
            None => Ok(None),
            Some(record) => Ok(Some(codec::decode::<
                CommitCertificate,
                CERTIFICATE_BYTES_MAX,
            >(&record.certificate)?)),
        }
    }

    /// The receipts of the block at `height`.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StoreError> {
        match self.record(height)? {
            None => Ok(None),
            Some(record) => Ok(Some(codec::decode::<Vec<Receipt>, RECEIPTS_BYTES_MAX>(
                &record.receipts,
            )?)),
        }
    }

    /// A committed transaction with its receipt, by id (`None` also for
    /// one in a block this store does not hold: below its snapshot, or
    /// pruned).
    pub fn transaction(&self, id: &Hash) -> Result<Option<StoredTransaction>, StoreError> {
        let Some((location, read)) = self.find(id)? else {
            return Ok(None);
        };
        let Location { height, index, .. } = location;
        let missing = || StoreError::Corrupt(format!("tx {id} indexed at {height}/{index}"));
        let (block, receipts) = match read {
            Some(read) => read,
            // Found in memory, in a block pruned meanwhile.
            None => match self.held_block_and_receipts(height)? {
                Some(read) => read,
                None => return Ok(None),
            },
        };
        StoredTransaction::at(&block, &receipts, height, index, missing).map(Some)
    }

    /// The block at `height` with its receipts, `None` if this store no
    /// longer holds it (below its first height, or pruned while asked).
    fn held_block_and_receipts(
        &self,
        height: u64,
    ) -> Result<Option<(Block, Vec<Receipt>)>, StoreError> {
        if height < self.first_height() {
            return Ok(None);
        }
        match self.block_and_receipts(height) {
            Ok(read) => Ok(Some(read)),
            Err(_) if height < self.first_height() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The committed payments carrying `end_to_end_id`, newest first, at
    /// most `limit` (each payment once, at its indexed occurrence; none
    /// from blocks this store does not hold, and none for `NOTPROVIDED`,
    /// which is not indexed).
    pub fn transactions_with_end_to_end_id(
        &self,
        end_to_end_id: &EndToEndId,
        limit: usize,
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let key = end_to_end_id.index_key();
        // The candidates under the lock (a bounded number of run entries
        // read), the blocks without it: a search never holds up a commit.
        let candidates = self
            .read_committed()
            .index
            .reference_candidates(&key, limit)?;
        let mut heights: Vec<u64> = candidates.iter().map(|l| l.height).collect();
        heights.dedup();
        let mut seen = std::collections::BTreeSet::new();
        let mut found = Vec::with_capacity(candidates.len());
        // Newest first; each block read once, kept only while its
        // candidates are taken.
        for height in heights {
            let Some((block, receipts)) = self.held_block_and_receipts(height)? else {
                continue;
            };
            for location in candidates.iter().filter(|l| l.height == height) {
                let index = location.index;
                let missing =
                    || StoreError::Corrupt(format!("reference indexed at {height}/{index}"));
                let stored = StoredTransaction::at(&block, &receipts, height, index, missing)?;
                if self::end_to_end_id(&stored.transaction, self.config.sealing.as_ref()).as_ref()
                    == Some(end_to_end_id)
                    && seen.insert(stored.transaction.id()?)
                {
                    found.push(stored);
                }
            }
        }
        Ok(found)
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

    /// A live FX quote, by the id of its posting transaction.
    pub fn quote(&self, id: &Hash) -> Result<Option<QuoteState>, StoreError> {
        Ok(crate::state::read(self, &StateKey::Quote(*id))?)
    }

    /// Every live FX quote, by id (quotes are few: each is a bank's
    /// posting, and it lives at most the escrow horizon).
    pub fn quotes(&self) -> Result<Vec<(Hash, QuoteState)>, StoreError> {
        let entries = self.state_range(
            &StateKey::Quote(Hash([0; 32])),
            &StateKey::Quote(Hash([0xff; 32])),
        )?;
        let mut quotes = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let StateKey::Quote(id) = key else {
                return Err(StoreError::Corrupt(
                    "a non-quote key sorts among the quotes".into(),
                ));
            };
            let quote: QuoteState = codec::decode::<_, { codec::STATE_VALUE_BYTES_MAX }>(&value)?;
            quotes.push((id, quote));
        }
        Ok(quotes)
    }

    /// A governance proposal, by the id of its proposing transaction
    /// (finished ones included: they stay as the record).
    pub fn proposal(
        &self,
        id: &Hash,
    ) -> Result<Option<crate::state::governance::Proposal>, StoreError> {
        Ok(crate::state::read(self, &StateKey::Proposal(*id))?)
    }

    /// Every governance proposal ever made, by id (a few hundred bytes
    /// each; at most 64 are open at once, so they accumulate slowly).
    pub fn proposals(&self) -> Result<Vec<(Hash, crate::state::governance::Proposal)>, StoreError> {
        let entries = self.state_range(
            &StateKey::Proposal(Hash([0; 32])),
            &StateKey::Proposal(Hash([0xff; 32])),
        )?;
        let mut proposals = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let StateKey::Proposal(id) = key else {
                return Err(StoreError::Corrupt(
                    "a non-proposal key sorts among the proposals".into(),
                ));
            };
            let proposal: crate::state::governance::Proposal =
                codec::decode::<_, { codec::STATE_VALUE_BYTES_MAX }>(&value)?;
            proposals.push((id, proposal));
        }
        Ok(proposals)
    }

    /// The chain's record of its validator sets: each set with the first
    /// height it certifies, in height order (`StateKey::ValidatorSetFrom`,
    /// one entry per change).
    pub fn validator_sets(
        &self,
    ) -> Result<Vec<(u64, crate::validators::ValidatorSet)>, StoreError> {
        let entries = self.state_range(
            &StateKey::ValidatorSetFrom(0),
            &StateKey::ValidatorSetFrom(u64::MAX),
        )?;
        let mut sets = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let StateKey::ValidatorSetFrom(from) = key else {
                return Err(StoreError::Corrupt(
                    "another key sorts among the validator sets".into(),
                ));
            };
            let set: crate::validators::ValidatorSet =
                codec::decode::<_, { codec::STATE_VALUE_BYTES_MAX }>(&value)?;
            sets.push((from, set));
        }
        Ok(sets)
    }

    /// The validator set that certifies the block at `height` (≥ 1): the
    /// newest recorded set from a height at or below it.
    pub fn validator_set_at(
        &self,
        height: u64,
    ) -> Result<Option<crate::validators::ValidatorSet>, StoreError> {
        Ok(self.validator_set_in_force(height)?.map(|(_, set)| set))
    }

    /// The validator set that certifies the block at `height` (≥ 1) with
    /// the first height it certifies; `None` for height 0. Only that one
    /// set is decoded (the record holds one entry per change, a few KiB
    /// each). The record is state, so a store imported from a snapshot or
    /// pruned answers for every height from 1 like an archival one.
    pub fn validator_set_in_force(
        &self,
        height: u64,
    ) -> Result<Option<(u64, crate::validators::ValidatorSet)>, StoreError> {
        if height == 0 {
            return Ok(None);
        }
        let entries = self.state_range(
            &StateKey::ValidatorSetFrom(0),
            &StateKey::ValidatorSetFrom(height),
        )?;
        let Some((key, value)) = entries.into_iter().next_back() else {
            return Ok(None);
        };
        let StateKey::ValidatorSetFrom(from) = key else {
            return Err(StoreError::Corrupt(
                "another key sorts among the validator sets".into(),
            ));
        };
        let set: crate::validators::ValidatorSet =
            codec::decode::<_, { codec::STATE_VALUE_BYTES_MAX }>(&value)?;
        Ok(Some((from, set)))
    }

    /// The present state entries with keys from `from` to `to` inclusive,
    /// decoded keys with value bytes, in key order: what the last commit
    /// left, in memory or in sled. For small ranges (quotes, validator
    /// sets, proposals), never the accounts.
    fn state_range(
        &self,
        from: &StateKey,
        to: &StateKey,
    ) -> Result<Vec<(StateKey, Vec<u8>)>, StoreError> {
        let from_key = from.encode()?;
        let to_key = to.encode()?;
        let committed = self.read_committed();
        let mut entries: BTreeMap<Vec<u8>, Option<Vec<u8>>> = committed
            .pending
            .range(from_key.clone()..=to_key.clone())
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        for entry in self
            .data
            .range(keys::state(&from_key)..=keys::state(&to_key))
        {
            let (key, value) = entry?;
            let key = keys::parse_state(&key)
                .ok_or_else(|| StoreError::Corrupt("a state key lacks its prefix".into()))?;
            entries
                .entry(key.to_vec())
                .or_insert_with(|| Some(value.to_vec()));
        }
        drop(committed);
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(value) = value else { continue };
            let key = codec::decode::<StateKey, { codec::STATE_KEY_BYTES_MAX }>(&key)?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// The lowest height with escrow or credit deadlines still to process,
    /// if any: `StateKey::Due` keys encode the height big-endian after the
    /// variant, so the state entries keep them in height order. The first
    /// one in sled that is not removed in memory, or the first one written
    /// in memory, whichever is lower.
    pub fn next_deadline(&self) -> Result<Option<u64>, StoreError> {
        let from_key = StateKey::Due(0).encode()?;
        let to_key = StateKey::Due(u64::MAX).encode()?;
        let committed = self.read_committed();
        let in_memory = committed
            .pending
            .range(from_key.clone()..=to_key.clone())
            .find(|(_, value)| value.is_some())
            .map(|(key, _)| key.clone());
        let mut in_sled = None;
        for entry in self
            .data
            .range(keys::state(&from_key)..=keys::state(&to_key))
        {
            let (key, _) = entry?;
            let key = keys::parse_state(&key)
                .ok_or_else(|| StoreError::Corrupt("a deadline key lacks its prefix".into()))?;
            if matches!(committed.pending.get(key), Some(None)) {
                continue;
            }
            in_sled = Some(key.to_vec());
            break;
        }
        let first = match (in_memory, in_sled) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match first {
            None => Ok(None),
            Some(key) => match codec::decode::<StateKey, { codec::STATE_KEY_BYTES_MAX }>(&key)? {
                StateKey::Due(height) => Ok(Some(height)),
                other => Err(StoreError::Corrupt(format!(
                    "{other:?} sorts among the deadlines"
                ))),
            },
        }
    }

    /// The chain parameters in force.
    pub fn params(&self) -> Result<Params, StoreError> {
        Ok(crate::state::read(self, &StateKey::Params)?.unwrap_or_default())
    }

    /// The sealing secret this store opens sealed payment data with, if
    /// it was opened with one.
    pub fn sealing(&self) -> Option<&SealingSecret> {
        self.config.sealing.as_ref()
    }

    /// The member banks.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        Ok(crate::state::read_members(self)?)
    }

    /// The auditors and regulators.
    pub fn overseers(&self) -> Result<Vec<crate::state::Overseer>, StoreError> {
        Ok(crate::state::read_overseers(self)?)
    }

    /// Every state entry (encoded key, encoded value), in key order: sled's,
    /// with the writes not yet in sled over them.
    pub fn state_entries(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        self.entries_under(&self.read_committed())
    }

    /// [`Store::state_entries`] with the committed lock already held, so
    /// the entries and whatever else the caller reads describe one block.
    fn entries_under(
        &self,
        committed: &Committed,
    ) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        let mut entries = BTreeMap::new();
        for item in self.data.scan_prefix([keys::STATE]) {
            let (key, value) = item?;
            let key = keys::parse_state(&key)
                .ok_or_else(|| StoreError::Corrupt("a state key lacks its prefix".into()))?;
            entries.insert(key.to_vec(), value.to_vec());
        }
        for (key, value) in &committed.pending {
            match value {
                Some(value) => entries.insert(key.clone(), value.clone()),
                None => entries.remove(key),
            };
        }
        Ok(entries)
    }

    /// A snapshot of the state at the tip, with the tip's block, certificate
    /// and receipts (see [`snapshot`]). The state is read under the commit
    /// lock, so commits wait for the scan (a fraction of a second for
    /// 100,000 accounts). Refused at height 0: a new node starts from the
    /// genesis there.
    pub fn snapshot(&self) -> Result<snapshot::Snapshot, StoreError> {
        let committed = self.read_committed();
        let tip = committed.tip;
        if tip.height == 0 {
            return Err(StoreError::Corrupt(
                "no block committed yet: a new node starts from the genesis".into(),
            ));
        }
        let entries = self.entries_under(&committed)?;
        drop(committed);
        let record = self
            .read_history()
            .read(tip.height)?
            .ok_or_else(|| StoreError::Corrupt(format!("block {} missing", tip.height)))?;
        Ok(snapshot::Snapshot {
            chain_id: self.chain_id,
            height: tip.height,
            block: record.block,
            certificate: record.certificate,
            receipts: record.receipts,
            entries,
        })
    }

    /// Starts a store at `path` from a snapshot, after checking it against
    /// `genesis` (its certificate and state root): the history begins at
    /// the snapshot's block, the blocks below stay on the nodes that hold
    /// them. `path` must not hold a store (an empty folder is fine). The
    /// store is written in a sibling folder and renamed into place, so a
    /// crash part way leaves no half store at `path`.
    pub fn import(
        path: &Path,
        genesis: &Genesis,
        snapshot: &snapshot::Snapshot,
        config: StoreConfig,
    ) -> Result<Store, StoreError> {
        let verified = snapshot.verify(genesis)?;
        if path.exists() {
            let mut inside = std::fs::read_dir(path).map_err(|e| history_io(path, e))?;
            if inside.next().is_some() {
                return Err(StoreError::NotEmpty {
                    path: path.to_path_buf(),
                });
            }
        }
        let mut staging = path.as_os_str().to_owned();
        staging.push(".importing");
        let staging = PathBuf::from(staging);
        if staging.exists() {
            // Left by an import cut off part way: never a store.
            std::fs::remove_dir_all(&staging).map_err(|e| history_io(&staging, e))?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| history_io(&staging, e))?;
        let height = snapshot.height;
        {
            let mut history = History::create_at(&history_dir(&staging), config.history, height)?;
            history.append(&Record {
                height,
                block: snapshot.block.clone(),
                certificate: snapshot.certificate.clone(),
                receipts: snapshot.receipts.clone(),
            })?;
            let db = open_db(&state_dir(&staging))?;
            let data = db.open_tree(keys::TREE)?;
            write_entries(&data, snapshot.entries.iter())?;
            let genesis_root = commitment::update(
                &MemoryState::empty(snapshot.chain_id),
                &genesis.initial_writes()?,
            )?
            .root;
            let mut batch = sled::Batch::default();
            batch.insert(keys::META_FORMAT, &FORMAT_VERSION.to_be_bytes()[..]);
            batch.insert(keys::META_TIP, &keys::tip(height, &verified.block_hash)[..]);
            batch.insert(keys::META_GENESIS_ROOT, &genesis_root.0[..]);
            batch.insert(keys::META_BASE, &height.to_be_bytes()[..]);
            batch.insert(keys::META_CHAIN_ID, &snapshot.chain_id.0[..]);
            data.apply_batch(batch)?;
            db.flush()?;
        }
        if path.exists() {
            std::fs::remove_dir(path).map_err(|e| history_io(path, e))?;
        }
        std::fs::rename(&staging, path).map_err(|e| history_io(path, e))?;
        Store::open_with(path, genesis, config)
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
        let lowest = tip
            .height
            .saturating_sub(OPEN_CHECK_BLOCKS - 1)
            .max(self.first_height());
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

static TEMPORARY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
/// without a genesis, without sled and without writing: for a reader that
/// decodes and checks everything itself (the CLI's `audit verify` reads a
/// node's folder this way, also while the node runs: the history is append
/// only, and the reader stops at the last whole record it found at open).
pub struct StoredChain {
    history: History,
}

impl StoredChain {
    /// Opens the history of the store at `path`; a store of an older
    /// format is refused.
    pub fn open(path: &Path) -> Result<StoredChain, StoreError> {
        refuse_older_folder(path)?;
        let dir = history_dir(path);
        if !dir.is_dir() {
            return Err(StoreError::Corrupt(format!(
                "{} has no history folder",
                path.display()
            )));
        }
        Ok(StoredChain {
            history: History::open_read_only(&dir)?,
        })
    }

    /// The last committed height when opened (0: no block yet).
    pub fn tip_height(&self) -> u64 {
        self.history.tip()
    }

    /// The lowest height held: 1, or the height of the snapshot the store
    /// was started from (it does not hold the blocks below).
    pub fn first_height(&self) -> u64 {
        self.history.first()
    }

    /// The canonical bytes of the block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.history.read(height)?.map(|record| record.block))
    }

    /// The canonical bytes of the certificate of the block at `height`.
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.history.read(height)?.map(|record| record.certificate))
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

/// Writes state entries into a tree being initialised, in sled batches of
/// [`GENESIS_BATCH_ENTRIES`]: sled holds a whole batch in memory several
/// times over while it applies it (100,000 accounts in one batch peaked at
/// 580 MiB of heap, resident for the node's life).
fn write_entries<'a>(
    data: &sled::Tree,
    entries: impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>,
) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut held = 0;
    for (key, value) in entries {
        batch.insert(keys::state(key), value.as_slice());
        held += 1;
        if held == GENESIS_BATCH_ENTRIES {
            data.apply_batch(std::mem::take(&mut batch))?;
            held = 0;
        }
    }
    if held > 0 {
        data.apply_batch(batch)?;
    }
    Ok(())
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
        if let Some(value) = self.read_committed().pending.get(key) {
            return Ok(value.clone());
        }
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

    fn decoded(&self, key: &[u8]) -> Option<Decoded> {
        self.read_committed().decoded.get(key)
    }
}
