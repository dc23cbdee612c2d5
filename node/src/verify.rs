//! The one home of signature checks on the node.
//!
//! Every payment signature a node checks goes through here, from every
//! source: the API's submissions ([`check_wire_off_loop`]), gossiped
//! batches and proposals' unknown payments (the engine's
//! `Effect::Verify` jobs, which the driver and the simulator answer with
//! [`job_verdicts`]). What comes out is a [`Verified`]: holding one proves
//! the chain id and the `verify_strict` signature were checked, so the
//! mempool admits it with the cheap state checks only. The engine keeps
//! payments it verified but could not (yet) admit in a [`VerifiedCache`],
//! so that a payment's signature is checked once per node whichever way
//! it arrives first.
//!
//! Checks are batched (`SignedTransaction::verify_batch`, one
//! multi-scalar multiplication per chunk) and, for the large batches of
//! the API and of proposals, split over the cores ([`on_all_cores`]). Pure:
//! nothing here reads the engine's state, so it runs on any thread.

use std::collections::HashMap;

use clearhouse_ledger::codec::{CodecError, TX_BYTES_MAX};
use clearhouse_ledger::tx::TxError;
use clearhouse_ledger::{ChainId, Hash, SignedTransaction};

use crate::mempool::AdmitError;

/// Fewer items than this are checked on the calling thread: splitting
/// them would cost more than it saves.
const SPLIT_ITEMS_MIN: usize = 64;

/// Runs `check` on the items split into one chunk per core (scoped
/// threads; the caller waits), and returns the results in item order.
/// `check` answers a whole chunk, one result per item, so that a chunk's
/// signatures are checked together ([`Verified::check_batch`]). The
/// signature checks of a batch go through here, from the API and from the
/// driver. A chunk whose thread panicked, or whose answer has the wrong
/// length, gets `fallback()` for each of its items.
pub fn on_all_cores<T: Send, R: Send>(
    items: Vec<T>,
    check: impl Fn(Vec<T>) -> Vec<R> + Sync,
    fallback: impl Fn() -> R,
) -> Vec<R> {
    let cores = cores();
    let whole = |answer: Option<Vec<R>>, len: usize| match answer {
        Some(answer) if answer.len() == len => answer,
        _ => (0..len).map(|_| fallback()).collect(),
    };
    if items.len() < SPLIT_ITEMS_MIN || cores < 2 {
        let len = items.len();
        return whole(Some(check(items)), len);
    }
    let chunk = items.len().div_ceil(cores);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut rest = items;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    let check = &check;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| (chunk.len(), scope.spawn(move || check(chunk))))
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, handle)| whole(handle.join().ok(), len))
            .collect()
    })
}

/// The cores this process may use, asked once: `available_parallelism`
/// reads the cgroup files on every call, and every checked batch asks.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A transaction whose chain id and `verify_strict` signature were checked,
/// with its id and wire size. Made only by [`Verified::check`] and
/// [`Verified::check_batch`], so holding one proves the check ran: the
/// driver checks signatures off its loop (on the blocking pool, several at
/// once) and admits the result cheaply.
#[derive(Debug, Clone)]
pub struct Verified {
    tx: SignedTransaction,
    id: Hash,
    chain_id: ChainId,
    wire_bytes: usize,
}

impl Verified {
    /// Checks a transaction's chain id and signature (the expensive part of
    /// admission; pure, so it may run on any thread).
    pub fn check(
        tx: SignedTransaction,
        wire_bytes: usize,
        chain_id: &ChainId,
    ) -> Result<Verified, AdmitError> {
        if wire_bytes > TX_BYTES_MAX {
            return Err(too_long(wire_bytes));
        }
        let id = tx.verify(chain_id)?;
        tx.check_consent()?;
        Ok(Verified {
            tx,
            id,
            chain_id: *chain_id,
            wire_bytes,
        })
    }

    /// What [`Verified::check`] answers for each transaction (with its
    /// wire size), in order, the signatures checked together
    /// ([`SignedTransaction::verify_batch`]).
    pub fn check_batch(
        items: Vec<(SignedTransaction, usize)>,
        chain_id: &ChainId,
    ) -> Vec<Result<Verified, AdmitError>> {
        // The size limit first, as `check` does: an oversized one is
        // refused without its signature being looked at.
        let fits = |wire_bytes: usize| wire_bytes <= TX_BYTES_MAX;
        let mut ids = SignedTransaction::verify_batch(
            items
                .iter()
                .filter(|(_, wire_bytes)| fits(*wire_bytes))
                .map(|(tx, _)| tx),
            chain_id,
        )
        .into_iter();
        items
            .into_iter()
            .map(|(tx, wire_bytes)| {
                if !fits(wire_bytes) {
                    return Err(too_long(wire_bytes));
                }
                let id = ids.next().unwrap_or(Err(lost_verdict()))?;
                // A swap's second signature, one at a time (swaps are few).
                tx.check_consent()?;
                Ok(Verified {
                    tx,
                    id,
                    chain_id: *chain_id,
                    wire_bytes,
                })
            })
            .collect()
    }

    /// [`Verified::check_batch`] keeping only the verdict: `None` for each
    /// transaction that does not verify (what the engine's signature jobs
    /// answer).
    pub fn check_batch_passed(
        items: Vec<(SignedTransaction, usize)>,
        chain_id: &ChainId,
    ) -> Vec<Option<Verified>> {
        Verified::check_batch(items, chain_id)
            .into_iter()
            .map(Result::ok)
            .collect()
    }

    /// Decodes wire bytes (at most [`TX_BYTES_MAX`]) and checks the result.
    pub fn decode_and_check(bytes: &[u8], chain_id: &ChainId) -> Result<Verified, AdmitError> {
        let tx = SignedTransaction::decode(bytes)?;
        Verified::check(tx, bytes.len(), chain_id)
    }

    /// What [`Verified::decode_and_check`] answers for each of `wire`, in
    /// order, the signatures checked together.
    pub fn decode_and_check_batch(
        wire: &[Vec<u8>],
        chain_id: &ChainId,
    ) -> Vec<Result<Verified, AdmitError>> {
        let mut decoded = Vec::with_capacity(wire.len());
        let mut undecodable: Vec<Option<TxError>> = Vec::with_capacity(wire.len());
        for bytes in wire {
            match SignedTransaction::decode(bytes) {
                Ok(tx) => {
                    decoded.push((tx, bytes.len()));
                    undecodable.push(None);
                }
                Err(error) => undecodable.push(Some(error)),
            }
        }
        let mut checked = Verified::check_batch(decoded, chain_id).into_iter();
        undecodable
            .into_iter()
            .map(|error| match error {
                Some(error) => Err(error.into()),
                None => checked.next().unwrap_or(Err(lost_verdict().into())),
            })
            .collect()
    }

    /// The transaction id.
    pub fn id(&self) -> Hash {
        self.id
    }

    /// The transaction.
    pub fn transaction(&self) -> &SignedTransaction {
        &self.tx
    }

    /// Its wire size.
    pub fn wire_bytes(&self) -> usize {
        self.wire_bytes
    }

    /// The chain it was checked for.
    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// The transaction, given up.
    pub fn into_transaction(self) -> SignedTransaction {
        self.tx
    }
}

/// A batch check answers once per item, so this is never used; were a
/// verdict missing, the item is refused, not admitted.
fn lost_verdict() -> TxError {
    TxError::Signature(clearhouse_ledger::crypto::CryptoError::BadSignature)
}

pub(crate) fn too_long(wire_bytes: usize) -> AdmitError {
    AdmitError::Invalid(TxError::Codec(CodecError::TooLong {
        len: wire_bytes,
        limit: TX_BYTES_MAX,
    }))
}

/// The verdicts of one engine signature job (`Effect::Verify`): `None`
/// for each transaction that does not verify. `all_cores` splits the
/// batch over the cores (a proposal's payments, which consensus waits
/// for); otherwise it is checked on the calling thread (a gossip batch,
/// which must not take every core from the rest of the node). The driver
/// runs this on its blocking pool; the simulator on its one thread.
pub fn job_verdicts(
    transactions: Vec<(SignedTransaction, usize)>,
    chain_id: &ChainId,
    all_cores: bool,
) -> Vec<Option<Verified>> {
    let check = |chunk| Verified::check_batch_passed(chunk, chain_id);
    if all_cores {
        on_all_cores(transactions, check, || None)
    } else {
        check(transactions)
    }
}

/// Decodes and checks the signatures of wire transactions off the async
/// threads (on the blocking pool, the batch split over the cores), so the
/// driver's admission is left with the cheap state checks. A share whose
/// check task panicked or was cancelled answers a transient state error
/// (the caller may resubmit), never a verdict.
#[cfg(feature = "server")]
pub async fn check_wire_off_loop(
    chain_id: ChainId,
    transactions: Vec<Vec<u8>>,
) -> Vec<Result<Verified, AdmitError>> {
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

/// Payments whose signatures this node checked but that are not in its
/// mempool: those of proposals (checked before the block could execute)
/// and those of gossip batches the pool did not take. A later sight of the
/// same signed bytes (the proposal after the gossip, a re-proposal, the
/// gossip after the proposal) is answered from here instead of a second
/// check. Keyed by id and compared by content, so a different transaction
/// under a known id is never taken for the one checked. Bounded: at
/// [`VerifiedCache::max`] it starts over (the cost is a second check,
/// never a wrong verdict).
#[derive(Debug, Clone)]
pub struct VerifiedCache {
    held: HashMap<Hash, Verified>,
    max: usize,
}

impl VerifiedCache {
    /// An empty cache holding at most `max` payments.
    pub fn new(max: usize) -> VerifiedCache {
        VerifiedCache {
            held: HashMap::new(),
            max,
        }
    }

    /// Whether exactly `tx` was verified under `id`.
    pub fn holds(&self, id: &Hash, tx: &SignedTransaction) -> bool {
        self.held
            .get(id)
            .is_some_and(|held| held.transaction() == tx)
    }

    /// Takes out the verified `tx` held under `id`, if it is exactly that
    /// transaction (anything else under `id` stays).
    pub fn take(&mut self, id: &Hash, tx: &SignedTransaction) -> Option<Verified> {
        if self.holds(id, tx) {
            self.held.remove(id)
        } else {
            None
        }
    }

    /// Makes room for `incoming` more: starts over if they would not fit.
    pub fn make_room(&mut self, incoming: usize) {
        if self.held.len().saturating_add(incoming) > self.max {
            self.held.clear();
        }
    }

    /// Holds a verified payment (at the bound, starts over first).
    pub fn insert(&mut self, verified: Verified) {
        self.make_room(1);
        self.held.insert(verified.id(), verified);
    }

    /// Forgets the payment with this id (it was committed).
    pub fn forget(&mut self, id: &Hash) {
        self.held.remove(id);
    }

    /// How many payments are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }
}
