//! The mempool: admission checks, bounds, fair contiguous selection, and
//! eviction after a commit.

use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::state::commitment::BucketEntry;
use clearhouse_ledger::state::memory::MemoryState;
use clearhouse_ledger::state::{Outcome, StateView, Tip, ViewError};
use clearhouse_ledger::testing::{Fixture, key};
use clearhouse_ledger::tx::TxError;
use clearhouse_ledger::{ChainId, Hash, SignedTransaction, Transaction};
use clearhouse_node::mempool::{AdmitError, Mempool, MempoolLimits};

fn setup() -> (Fixture, MemoryState, Mempool) {
    let f = Fixture::new(2, 6);
    let state = f.genesis.memory_state().unwrap();
    (f, state, Mempool::new(MempoolLimits::default()))
}

fn pay(f: &Fixture, from: usize, nonce: u64, amount: u128) -> SignedTransaction {
    let to = f.accounts[(from + 1) % f.accounts.len()].account();
    f.transfer(&f.accounts[from], nonce, to, 0, amount)
}

fn admit(
    pool: &mut Mempool,
    state: &MemoryState,
    tx: &SignedTransaction,
) -> Result<Hash, AdmitError> {
    pool.admit_bytes(&tx.encode().unwrap(), state)
}

#[test]
fn a_valid_transaction_is_admitted_once() {
    let (f, state, mut pool) = setup();
    let tx = pay(&f, 0, 0, 100);
    let id = admit(&mut pool, &state, &tx).unwrap();
    assert_eq!(id, tx.id().unwrap());
    assert!(pool.contains(&id));
    assert_eq!(
        admit(&mut pool, &state, &tx),
        Err(AdmitError::Duplicate(id))
    );
    assert_eq!(pool.len(), 1);
}

#[test]
fn bad_transactions_are_refused_with_a_reason() {
    let (f, state, mut pool) = setup();
    let tx = pay(&f, 0, 0, 100);
    // Malformed bytes.
    let mut bytes = tx.encode().unwrap();
    bytes.push(0);
    assert!(matches!(
        pool.admit_bytes(&bytes, &state),
        Err(AdmitError::Invalid(TxError::Codec(_)))
    ));
    // Bad signature.
    let mut forged = tx.clone();
    forged.signature.0[5] ^= 1;
    assert!(matches!(
        admit(&mut pool, &state, &forged),
        Err(AdmitError::Invalid(TxError::Signature(_)))
    ));
    // Wrong chain.
    let mut envelope = tx.tx.clone();
    envelope.chain_id = Hash([3; 32]);
    let other_chain = envelope.sign(&f.accounts[0]).unwrap();
    assert!(matches!(
        admit(&mut pool, &state, &other_chain),
        Err(AdmitError::Invalid(TxError::WrongChain { .. }))
    ));
    // Expired at the next height (1).
    let mut envelope = tx.tx.clone();
    envelope.expiry_height = 0;
    let expired = envelope.sign(&f.accounts[0]).unwrap();
    assert_eq!(
        admit(&mut pool, &state, &expired),
        Err(AdmitError::Expired {
            expiry_height: 0,
            next_height: 1
        })
    );
    // An unregistered sender.
    let stranger = key("stranger");
    let unknown = Transaction {
        sender: stranger.account(),
        ..tx.tx.clone()
    }
    .sign(&stranger)
    .unwrap();
    assert_eq!(
        admit(&mut pool, &state, &unknown),
        Err(AdmitError::UnknownSender(stranger.account()))
    );
    // Too far ahead.
    let ahead = pay(&f, 0, 5_000, 1);
    assert_eq!(
        admit(&mut pool, &state, &ahead),
        Err(AdmitError::NonceTooFarAhead {
            expected: 0,
            found: 5_000
        })
    );
    // Nothing bad got in.
    assert!(pool.is_empty());
    // A second transaction for a nonce already pending.
    admit(&mut pool, &state, &tx).unwrap();
    assert_eq!(
        admit(&mut pool, &state, &pay(&f, 0, 0, 999)),
        Err(AdmitError::NonceTaken(0))
    );
}

#[test]
fn the_pool_is_bounded() {
    let (f, state, _) = setup();
    let mut pool = Mempool::new(MempoolLimits {
        mempool_txs_max: 3,
        mempool_bytes_max: 1 << 20,
        sender_txs_max: 2,
    });
    admit(&mut pool, &state, &pay(&f, 0, 0, 1)).unwrap();
    admit(&mut pool, &state, &pay(&f, 0, 1, 1)).unwrap();
    // Per sender: at most 2 pending, and nonces at most 2 ahead.
    assert_eq!(
        admit(&mut pool, &state, &pay(&f, 0, 2, 1)),
        Err(AdmitError::NonceTooFarAhead {
            expected: 0,
            found: 2
        })
    );
    admit(&mut pool, &state, &pay(&f, 1, 0, 1)).unwrap();
    // In all: at most 3.
    let full = admit(&mut pool, &state, &pay(&f, 2, 0, 1));
    assert_eq!(full, Err(AdmitError::Full));
    assert!(full.unwrap_err().is_transient());
    // In bytes.
    let one = pay(&f, 0, 0, 1).encode().unwrap().len();
    let mut small = Mempool::new(MempoolLimits {
        mempool_txs_max: 10,
        mempool_bytes_max: one,
        sender_txs_max: 10,
    });
    admit(&mut small, &state, &pay(&f, 0, 0, 1)).unwrap();
    assert_eq!(
        admit(&mut small, &state, &pay(&f, 1, 0, 1)),
        Err(AdmitError::Full)
    );
    assert_eq!(small.bytes(), one);
}

#[test]
fn selection_is_contiguous_per_sender_and_fair_across_senders() {
    let (f, state, mut pool) = setup();
    // Sender 0 arrives first with five payments, sender 1 later with one,
    // sender 2 has a gap (nonce 1 without nonce 0).
    for nonce in 0..5 {
        admit(&mut pool, &state, &pay(&f, 0, nonce, 1)).unwrap();
    }
    admit(&mut pool, &state, &pay(&f, 1, 0, 1)).unwrap();
    admit(&mut pool, &state, &pay(&f, 2, 1, 1)).unwrap();
    let picked = pool.select(&state, 3, usize::MAX).unwrap();
    let order: Vec<(usize, u64)> = picked
        .iter()
        .map(|tx| {
            (
                f.accounts
                    .iter()
                    .position(|k| k.account() == tx.tx.sender)
                    .unwrap(),
                tx.tx.nonce,
            )
        })
        .collect();
    assert_eq!(order, vec![(0, 0), (1, 0), (0, 1)]);
    let all = pool.select(&state, 100, usize::MAX).unwrap();
    assert_eq!(all.len(), 6, "sender 2's nonce 1 waits for its nonce 0");
    // A byte budget for two transactions.
    let one = picked[0].encode().unwrap().len();
    assert_eq!(pool.select(&state, 100, 2 * one + 1).unwrap().len(), 2);
}

#[test]
fn a_block_built_from_the_pool_applies_every_transaction_and_commit_evicts_it() {
    let (f, mut state, mut pool) = setup();
    let keys: Vec<&Keypair> = f.accounts.iter().collect();
    for (i, _) in keys.iter().enumerate() {
        for nonce in 0..3 {
            admit(&mut pool, &state, &pay(&f, i, nonce, 10 + nonce as u128)).unwrap();
        }
    }
    // A stale duplicate of sender 0's nonce 0 with another amount is refused.
    assert_eq!(
        admit(&mut pool, &state, &pay(&f, 0, 0, 11)),
        Err(AdmitError::NonceTaken(0))
    );
    let txs = pool.select(&state, 10, usize::MAX).unwrap();
    assert_eq!(txs.len(), 10);
    let outcome = f.propose(&state, txs);
    assert!(
        outcome
            .execution
            .receipts
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Applied { .. }))
    );
    state.commit(&outcome);
    pool.remove_committed(&outcome, &state).unwrap();
    assert_eq!(pool.len(), 18 - 10);
    for tx in &outcome.block.transactions {
        assert!(!pool.contains(&tx.id().unwrap()));
    }
    // The rest follows in the next block, again all applied.
    let rest = pool.select(&state, 100, usize::MAX).unwrap();
    assert_eq!(rest.len(), 8);
    let outcome = f.propose(&state, rest);
    assert!(
        outcome
            .execution
            .receipts
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Applied { .. }))
    );
    state.commit(&outcome);
    pool.remove_committed(&outcome, &state).unwrap();
    assert!(pool.is_empty());
    assert_eq!(pool.bytes(), 0);
}

#[test]
fn commit_evicts_transactions_made_stale_or_expired() {
    let (f, mut state, mut pool) = setup();
    // Pending in this pool: sender 0 nonce 0 paying 5. Another node's block
    // commits a different nonce-0 payment of sender 0.
    admit(&mut pool, &state, &pay(&f, 0, 0, 5)).unwrap();
    let soon = Transaction {
        expiry_height: 1,
        ..pay(&f, 1, 0, 5).tx
    }
    .sign(&f.accounts[1])
    .unwrap();
    admit(&mut pool, &state, &soon).unwrap();
    let elsewhere = pay(&f, 0, 0, 6);
    let outcome = f.propose(&state, vec![elsewhere]);
    state.commit(&outcome);
    pool.remove_committed(&outcome, &state).unwrap();
    assert!(
        pool.is_empty(),
        "nonce 0 is used and the other expired at height 2"
    );
    assert_eq!(
        admit(&mut pool, &state, &pay(&f, 0, 0, 5)),
        Err(AdmitError::StaleNonce {
            expected: 1,
            found: 0
        })
    );
}

/// Senders' nonces are cached per tip: a state that moved on without the
/// pool hearing of the commit is still read afresh.
#[test]
fn cached_nonces_follow_the_state_even_without_an_eviction() {
    let (f, mut state, mut pool) = setup();
    admit(&mut pool, &state, &pay(&f, 0, 0, 5)).unwrap();
    let outcome = f.propose(&state, vec![pay(&f, 0, 0, 6)]);
    state.commit(&outcome);
    // No remove_committed: the cached nonce 0 of sender 0 is stale.
    assert_eq!(
        admit(&mut pool, &state, &pay(&f, 0, 0, 7)),
        Err(AdmitError::StaleNonce {
            expected: 1,
            found: 0
        })
    );
    admit(&mut pool, &state, &pay(&f, 0, 1, 7)).unwrap();
}

/// A transaction checked off the pool (`Verified`) is admitted with the same
/// state checks, but only for the chain it was checked for.
#[test]
fn pre_verified_transactions_get_the_same_checks() {
    use clearhouse_node::verify::Verified;
    let (f, state, mut pool) = setup();
    let tx = pay(&f, 0, 0, 5);
    let bytes = tx.encode().unwrap();
    let chain_id = tx.tx.chain_id;
    let mut forged = tx.clone();
    forged.signature.0[5] ^= 1;
    assert!(matches!(
        Verified::check(forged, bytes.len(), &chain_id),
        Err(AdmitError::Invalid(TxError::Signature(_)))
    ));
    let other_chain = clearhouse_ledger::Hash([7; 32]);
    assert!(matches!(
        Verified::check(tx.clone(), bytes.len(), &other_chain),
        Err(AdmitError::Invalid(TxError::WrongChain { .. }))
    ));
    let verified = Verified::decode_and_check(&bytes, &chain_id).unwrap();
    let id = pool.admit_verified(verified.clone(), &state).unwrap();
    assert_eq!(id, tx.id().unwrap());
    assert_eq!(
        pool.admit_verified(verified, &state),
        Err(AdmitError::Duplicate(id))
    );
    let stale =
        Verified::decode_and_check(&pay(&f, 1, 9_999, 5).encode().unwrap(), &chain_id).unwrap();
    assert!(matches!(
        pool.admit_verified(stale, &state),
        Err(AdmitError::NonceTooFarAhead { .. })
    ));
}

/// A view that counts the state entries read through it.
struct CountingView<'a> {
    inner: &'a MemoryState,
    gets: std::cell::Cell<usize>,
}

impl StateView for CountingView<'_> {
    fn chain_id(&self) -> ChainId {
        self.inner.chain_id()
    }
    fn tip(&self) -> Result<Tip, ViewError> {
        self.inner.tip()
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key)
    }
    fn bucket(&self, bucket: u16) -> Result<Vec<BucketEntry>, ViewError> {
        self.inner.bucket(bucket)
    }
    fn node(&self, level: u8, index: u32) -> Result<Option<Hash>, ViewError> {
        self.inner.node(level, index)
    }
}

/// A committed block leaves its senders' new nonces in the cache, also for
/// a sender with nothing left pending: that sender's next payment is
/// admitted (and its replay refused) without reading its account again.
#[test]
fn a_block_caches_its_senders_nonces_even_with_nothing_pending() {
    let (f, mut state, mut pool) = setup();
    admit(&mut pool, &state, &pay(&f, 0, 0, 5)).unwrap();
    let txs = pool.select(&state, 10, usize::MAX).unwrap();
    let outcome = f.propose(&state, txs);
    state.commit(&outcome);
    pool.remove_committed(&outcome, &state).unwrap();
    assert!(pool.is_empty());
    let view = CountingView {
        inner: &state,
        gets: std::cell::Cell::new(0),
    };
    let replay = pay(&f, 0, 0, 5);
    assert_eq!(
        pool.admit_bytes(&replay.encode().unwrap(), &view),
        Err(AdmitError::StaleNonce {
            expected: 1,
            found: 0
        })
    );
    pool.admit_bytes(&pay(&f, 0, 1, 5).encode().unwrap(), &view)
        .unwrap();
    assert_eq!(view.gets.get(), 0, "the nonce came from the block's writes");
}
