//! Hashing and signatures with a purpose.
//!
//! Every signed or hashed message starts with a domain tag naming its purpose
//! (transaction, precommit, ...), so bytes signed for one purpose never verify
//! for another. Tags are ASCII and end with a NUL byte, so no tag is a prefix
//! of another. Signatures are verified with `verify_strict` only (plain
//! `verify` accepts signatures under small-order keys for any message), or,
//! for payments in batches, by [`verify_batch`], which accepts exactly what
//! `verify_strict` accepts.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use curve25519_dalek::{EdwardsPoint, Scalar};
use ed25519_dalek::{Signature as DalekSignature, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use sha2::{Digest, Sha256, Sha512};

use crate::ids::{AccountId, Hash};

/// Purposes of signed and hashed messages. The tag bytes are part of the
/// protocol: changing one changes every signature.
pub mod tag {
    /// A transaction's signing bytes (and, hashed, its id).
    pub const TRANSACTION: &[u8] = b"clearhouse/transaction/v1\0";
    /// A block header, hashed into the block hash.
    pub const BLOCK_HEADER: &[u8] = b"clearhouse/block-header/v1\0";
    /// A proposal signed by a validator.
    pub const PROPOSAL: &[u8] = b"clearhouse/proposal/v1\0";
    /// A prevote signed by a validator.
    pub const PREVOTE: &[u8] = b"clearhouse/prevote/v1\0";
    /// A precommit signed by a validator (commit certificates hold these).
    pub const PRECOMMIT: &[u8] = b"clearhouse/precommit/v1\0";
    /// The validator set, hashed into every block header.
    pub const VALIDATOR_SET: &[u8] = b"clearhouse/validator-set/v1\0";
    /// The genesis document, hashed into the chain id.
    pub const GENESIS: &[u8] = b"clearhouse/genesis/v1\0";
    /// A bank's credit attestation (a later issue).
    pub const ATTESTATION: &[u8] = b"clearhouse/attestation/v1\0";
    /// Evidence of equivocation.
    pub const EVIDENCE: &[u8] = b"clearhouse/evidence/v1\0";
    /// The store's index key of a payment's end-to-end id.
    pub const END_TO_END_ID: &[u8] = b"clearhouse/end-to-end-id/v1\0";
    /// The context sealed payment details are bound to (hashed).
    pub const SEALED_CONTEXT: &[u8] = b"clearhouse/sealed-context/v1\0";
    /// HKDF info of the key wrapping a sealed payment's content key.
    pub const SEALED_WRAP: &[u8] = b"clearhouse/sealed-wrap/v1\0";
    /// HKDF salt of the keys a sealed payment's seed gives.
    pub const SEALED_SEED: &[u8] = b"clearhouse/sealed-seed/v1\0";
    /// A sealed payment's commitment to its content key (hashed).
    pub const SEALED_COMMIT: &[u8] = b"clearhouse/sealed-commit/v1\0";
    /// A swap counterparty's consent (see `Transaction::swap_consent_bytes`).
    pub const SWAP_CONSENT: &[u8] = b"clearhouse/swap-consent/v1\0";
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash(hasher.finalize().into())
}

/// An ed25519 signature (64 bytes: R then s).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Lower-case hex, 128 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Signature, CryptoError> {
        let mut out = [0u8; 64];
        hex::decode_to_slice(text, &mut out).map_err(|_| CryptoError::BadSignatureHex)?;
        Ok(Signature(out))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}..)", &self.to_hex()[..16])
    }
}

// serde implements arrays only up to 32 elements; encode the 64 bytes as a
// tuple, which bincode writes as the raw bytes with no length.
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(64)?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Signature, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Signature;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Signature, A::Error> {
                let mut out = [0u8; 64];
                for (index, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(index, &self))?;
                }
                Ok(Signature(out))
            }
        }
        deserializer.deserialize_tuple(64, Visitor)
    }
}

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The 32 bytes are not a point on the curve.
    #[error("not a valid ed25519 public key")]
    InvalidPublicKey,
    /// The key has small order: signatures under it prove nothing.
    #[error("weak (small-order) ed25519 public key")]
    WeakPublicKey,
    /// `verify_strict` refused the signature.
    #[error("signature verification failed")]
    BadSignature,
    /// A signature given as text was not 128 hex digits.
    #[error("expected 128 hex digits (64 bytes) for a signature")]
    BadSignatureHex,
}

/// Checks that 32 bytes are a usable public key: on the curve and not of small
/// order. Registration of accounts and validators calls this.
pub fn check_public_key(key: &[u8; 32]) -> Result<VerifyingKey, CryptoError> {
    let key = VerifyingKey::from_bytes(key).map_err(|_| CryptoError::InvalidPublicKey)?;
    if key.is_weak() {
        return Err(CryptoError::WeakPublicKey);
    }
    Ok(key)
}

/// Verifies `signature` over `message` with `verify_strict`, under a key
/// that [`check_public_key`] accepts. The parsed key comes from
/// [`KeyCache`] if a signature under it verified recently.
pub fn verify(key: &[u8; 32], message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
    let Some(memo_key) = memo::key(key, message, signature) else {
        return KEYS.verify(key, message, signature);
    };
    if let Some(verdict) = memo::get(&memo_key) {
        return verdict;
    }
    let verdict = KEYS.verify(key, message, signature);
    memo::put(memo_key, verdict.clone());
    verdict
}

/// Runs `run` with this thread remembering every signature verdict it
/// reaches through [`verify`] and [`verify_batch`], and forgetting them
/// all when `run` returns.
///
/// For simulations that run every node of a network on one thread: each
/// node checks each signature, and the verdict is a pure function of the
/// key, message and signature bytes, so one real check per distinct triple
/// answers exactly what the nodes' own checks would (bad signatures
/// included: their refusal is remembered as well). Nothing else turns
/// this on; a node never runs with it.
pub fn with_verdict_memo<R>(run: impl FnOnce() -> R) -> R {
    struct Off(bool);
    impl Drop for Off {
        fn drop(&mut self) {
            if !self.0 {
                memo::VERDICTS.with(|verdicts| *verdicts.borrow_mut() = None);
            }
        }
    }
    let was_on = memo::VERDICTS.with(|verdicts| {
        let mut verdicts = verdicts.borrow_mut();
        let was_on = verdicts.is_some();
        verdicts.get_or_insert_with(HashMap::new);
        was_on
    });
    let _off = Off(was_on);
    run()
}

/// How many verdicts this thread's memo of [`with_verdict_memo`] holds,
/// or `None` when the memo is off.
pub fn verdicts_remembered() -> Option<usize> {
    memo::VERDICTS.with(|verdicts| verdicts.borrow().as_ref().map(HashMap::len))
}

/// The thread's verdict memo of [`with_verdict_memo`].
mod memo {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::{CryptoError, Signature, sha256};
    use crate::ids::Hash;

    /// Verdicts held before the memo starts over (about 100 bytes each).
    const VERDICTS_MAX: usize = 1 << 20;

    thread_local! {
        pub(super) static VERDICTS: RefCell<Option<HashMap<Hash, Result<(), CryptoError>>>> =
            const { RefCell::new(None) };
    }

    /// The memo's key for a check, or `None` when the memo is off (so a
    /// node pays no hashing for it).
    pub(super) fn key(key: &[u8; 32], message: &[u8], signature: &Signature) -> Option<Hash> {
        VERDICTS
            .with(|verdicts| verdicts.borrow().is_some())
            .then(|| sha256(&[key, &signature.0, message]))
    }

    pub(super) fn get(key: &Hash) -> Option<Result<(), CryptoError>> {
        VERDICTS.with(|verdicts| verdicts.borrow().as_ref()?.get(key).cloned())
    }

    pub(super) fn put(key: Hash, verdict: Result<(), CryptoError>) {
        VERDICTS.with(|verdicts| {
            if let Some(verdicts) = verdicts.borrow_mut().as_mut() {
                if verdicts.len() >= VERDICTS_MAX {
                    verdicts.clear();
                }
                verdicts.insert(key, verdict);
            }
        });
    }
}

/// One signature to check: the signer's key bytes, the message and the
/// signature.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    /// The signer's public key (32 bytes, as [`check_public_key`] takes).
    pub key: &'a [u8; 32],
    /// The signed message (starting with its domain tag).
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Checks many signatures, answering for each exactly what [`verify`]
/// answers, for less: see [`KeyCache::verify_batch`] (and the `verify`
/// group of `cargo bench -p clearhouse-ledger` for how much less).
/// Payments arrive in batches (an API batch, a gossip batch, a proposal's
/// unknown payments), and each batch is checked through here.
pub fn verify_batch(checks: &[SignatureCheck<'_>]) -> Vec<Result<(), CryptoError>> {
    let keys: Vec<Option<Hash>> = checks
        .iter()
        .map(|check| memo::key(check.key, check.message, check.signature))
        .collect();
    if keys.iter().all(Option::is_none) {
        return KEYS.verify_batch(checks);
    }
    // The memo is on: check only what it does not hold.
    let mut results: Vec<Option<Result<(), CryptoError>>> = keys
        .iter()
        .map(|key| key.as_ref().and_then(memo::get))
        .collect();
    let unknown: Vec<usize> = (0..checks.len())
        .filter(|index| results[*index].is_none())
        .collect();
    let fresh = KEYS.verify_batch(&unknown.iter().map(|i| checks[*i]).collect::<Vec<_>>());
    for (index, verdict) in unknown.into_iter().zip(fresh) {
        if let Some(key) = keys[index] {
            memo::put(key, verdict.clone());
        }
        results[index] = Some(verdict);
    }
    results
        .into_iter()
        .map(|verdict| verdict.unwrap_or(Err(CryptoError::BadSignature)))
        .collect()
}

/// The process' cache of parsed public keys, shared by every thread.
static KEYS: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(KEY_CACHE_GENERATION));

/// Keys per generation of [`KEYS`]: at most twice this many are held. An
/// entry is 224 bytes and a table of 16,384 has 32,768 slots, so about
/// 7.4 MB per generation, 15 MB in all. A validator that sees more distinct
/// payers than this between two payments of one of them parses that
/// payer's key again, as without a cache.
pub const KEY_CACHE_GENERATION: usize = 16_384;

/// Parsed public keys of recent good signatures: parsing (a point
/// decompression, a field exponentiation, and the small-order check) is
/// about a tenth of a signature check, and a payer's key is the same on
/// every payment. A pure memoization: the parsed key is a function of the
/// 32 bytes alone (`verify_strict` hashes those very bytes and checks the
/// point's order again itself), a key is remembered only after
/// [`check_public_key`] accepted it and a signature under it verified, and
/// verdicts are never remembered; so a hit answers exactly what a miss
/// would. A key thus costs whoever brings it a real signature, and junk
/// signatures under made-up keys cannot flush the cache.
///
/// Bounded by two generations: when the current one is full it becomes
/// the previous one and the old previous one is dropped (its table reused);
/// a hit in the previous generation moves the key to the current one. So a
/// key in use stays, and many new keys evict, but never grow memory.
pub struct KeyCache {
    generation: usize,
    keys: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<[u8; 32], VerifyingKey>,
    previous: HashMap<[u8; 32], VerifyingKey>,
}

impl KeyCache {
    /// An empty cache holding at most `2 * generation` keys.
    pub fn new(generation: usize) -> KeyCache {
        KeyCache {
            generation: generation.max(1),
            keys: Mutex::new(Generations::default()),
        }
    }

    /// What [`check_public_key`] followed by `verify_strict` answers; the
    /// key is remembered when both pass.
    pub fn verify(
        &self,
        bytes: &[u8; 32],
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), CryptoError> {
        // A new key is parsed and verified outside the lock: two threads
        // may both parse it, and both get the same answer.
        let (key, held) = match self.lookup(bytes) {
            Some(key) => (key, true),
            None => (check_public_key(bytes)?, false),
        };
        key.verify_strict(message, &DalekSignature::from_bytes(&signature.0))
            .map_err(|_| CryptoError::BadSignature)?;
        if !held {
            let mut keys = self.lock();
            Self::push(&mut keys, self.generation, *bytes, key);
        }
        Ok(())
    }

    /// What [`KeyCache::verify`] answers for each check, in order, with
    /// the expensive field inversion shared by the whole batch.
    ///
    /// `verify_strict` (ed25519-dalek 3.0.0, `VerifyingKey::verify_strict`
    /// and `RCompute`) accepts exactly when all of these hold:
    /// 1. `s`, the signature's last 32 bytes, is a canonical scalar (< ℓ);
    /// 2. `R`, its first 32 bytes, decompresses to a point, and that point
    ///    is not of small order;
    /// 3. the key is not of small order;
    /// 4. `compress([s]B − [k]A) == R` as bytes, where
    ///    `k = SHA-512(R ‖ key bytes ‖ message) mod ℓ`.
    ///
    /// This checks 1, 3 and 4 the same way, with the same library calls,
    /// and replaces 2 by "`P = [s]B − [k]A` is not of small order". Given
    /// 4, the two are the same: `R` is then the canonical encoding of the
    /// curve point `P`, so it decompresses, to `P` itself. So this accepts
    /// exactly what `verify_strict` accepts, and never decompresses `R` (a
    /// field exponentiation). Step 4's compression needs the inverse of
    /// `P`'s projective Z; the batch inverts every Z at once (Montgomery's
    /// trick, `EdwardsPoint::compress_batch_alloc`), one exponentiation
    /// for the batch instead of one per signature. A differential test
    /// (`tests/it/signatures.rs`) holds this to `verify_strict` on valid
    /// signatures, tampered ones, non-canonical scalars, small-order and
    /// non-canonical `R`, and keys and nonces with torsion components.
    pub fn verify_batch(&self, checks: &[SignatureCheck<'_>]) -> Vec<Result<(), CryptoError>> {
        // The keys: one lock for every lookup; a new key is parsed and
        // checked outside it (as in `verify`).
        let held: Vec<Option<VerifyingKey>> = {
            let mut keys = self.lock();
            checks
                .iter()
                .map(|check| Self::lookup_locked(&mut keys, self.generation, check.key))
                .collect()
        };
        let mut results: Vec<Result<(), CryptoError>> = Vec::with_capacity(checks.len());
        let mut points: Vec<EdwardsPoint> = Vec::with_capacity(checks.len());
        // For each point: the check it answers, and its key if new.
        let mut pending: Vec<(usize, Option<VerifyingKey>)> = Vec::with_capacity(checks.len());
        for (index, (check, held)) in checks.iter().zip(held).enumerate() {
            let (key, new) = match held {
                Some(key) => (key, false),
                None => match check_public_key(check.key) {
                    Ok(key) => (key, true),
                    Err(error) => {
                        results.push(Err(error));
                        continue;
                    }
                },
            };
            match expected_r(&key, check) {
                Some(point) => {
                    results.push(Err(CryptoError::BadSignature));
                    points.push(point);
                    pending.push((index, new.then_some(key)));
                }
                None => results.push(Err(CryptoError::BadSignature)),
            }
        }
        let compressed = EdwardsPoint::compress_batch_alloc(&points);
        let mut learned = Vec::new();
        for ((point, compressed), (index, new)) in points.iter().zip(&compressed).zip(pending) {
            let check = &checks[index];
            let r: &[u8] = &check.signature.0[..32];
            if compressed.as_bytes().as_slice() == r && !point.is_small_order() {
                results[index] = Ok(());
                if let Some(key) = new {
                    learned.push((*check.key, key));
                }
            }
        }
        if !learned.is_empty() {
            let mut keys = self.lock();
            for (bytes, key) in learned {
                Self::push(&mut keys, self.generation, bytes, key);
            }
        }
        results
    }

    /// How many keys are held (both generations).
    pub fn len(&self) -> usize {
        let keys = self.lock();
        keys.current.len() + keys.previous.len()
    }

    /// Whether `bytes` is held (without moving it to the current generation).
    pub fn holds(&self, bytes: &[u8; 32]) -> bool {
        let keys = self.lock();
        keys.current.contains_key(bytes) || keys.previous.contains_key(bytes)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps are valid whatever a panicking holder did (an insert
        // either happened or did not).
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, bytes: &[u8; 32]) -> Option<VerifyingKey> {
        let mut keys = self.lock();
        Self::lookup_locked(&mut keys, self.generation, bytes)
    }

    fn lookup_locked(
        keys: &mut Generations,
        generation: usize,
        bytes: &[u8; 32],
    ) -> Option<VerifyingKey> {
        if let Some(key) = keys.current.get(bytes) {
            return Some(*key);
        }
        let key = keys.previous.remove(bytes)?;
        Self::push(keys, generation, *bytes, key);
        Some(key)
    }

    fn push(keys: &mut Generations, generation: usize, bytes: [u8; 32], key: VerifyingKey) {
        if keys.current.len() >= generation {
            // The old previous generation goes; its table, emptied, is
            // the new current one (no regrowing under the lock).
            std::mem::swap(&mut keys.current, &mut keys.previous);
            keys.current.clear();
        }
        keys.current.insert(bytes, key);
    }
}

/// `[s]B − [k]A` for a check under `key` (which [`check_public_key`]
/// accepted), as `verify_strict` computes it before compressing; `None` if
/// `s` is not canonical, which `verify_strict` refuses first.
fn expected_r(key: &VerifyingKey, check: &SignatureCheck<'_>) -> Option<EdwardsPoint> {
    let (r, s) = check.signature.0.split_at(32);
    let s: [u8; 32] = s.try_into().ok()?;
    let s: Scalar = Option::from(Scalar::from_canonical_bytes(s))?;
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(key.as_bytes());
    hasher.update(check.message);
    let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    Some(EdwardsPoint::vartime_double_scalar_mul_basepoint(
        &k,
        &-key.to_edwards(),
        &s,
    ))
}

/// A secret key able to sign: held by accounts, banks and validators.
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// The key for a 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Keypair {
        Keypair {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte secret seed (keep it secret).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key as an account id.
    pub fn account(&self) -> AccountId {
        AccountId(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` (which must already start with its domain tag).
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.signing.sign(message).to_bytes())
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.account())
    }
}
