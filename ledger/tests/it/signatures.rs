//! `crypto::verify_batch` against `verify_strict`: the batched check must
//! accept exactly what ed25519-dalek's `verify_strict` accepts (after
//! `check_public_key`), and refuse with the same error, on every input an
//! attacker can shape: tampered signatures, non-canonical scalars, small-
//! order and non-canonical `R`, and keys and nonces with a torsion part.
//! Deterministic: every "random" value is a hash of a counter.

use clearhouse_ledger::crypto::{
    CryptoError, KeyCache, Keypair, Signature, SignatureCheck, check_public_key,
    verdicts_remembered, verify, verify_batch, with_verdict_memo,
};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::traits::{Identity, IsIdentity};
use curve25519_dalek::{EdwardsPoint, Scalar};
use sha2::{Digest, Sha512};

/// The group order ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

struct Draws(u64);

impl Draws {
    fn bytes64(&mut self) -> [u8; 64] {
        self.0 += 1;
        Sha512::new()
            .chain_update(b"signature differential test")
            .chain_update(self.0.to_le_bytes())
            .finalize()
            .into()
    }

    fn scalar(&mut self) -> Scalar {
        Scalar::from_bytes_mod_order_wide(&self.bytes64())
    }

    fn below(&mut self, n: u64) -> u64 {
        u64::from_le_bytes(self.bytes64()[..8].try_into().unwrap()) % n
    }

    fn message(&mut self) -> Vec<u8> {
        let len = 1 + self.below(200) as usize;
        let mut message = b"clearhouse/transaction/v1\0".to_vec();
        while message.len() < len + 26 {
            message.extend_from_slice(&self.bytes64());
        }
        message.truncate(len + 26);
        message
    }
}

/// A point of order exactly 8: the torsion part of a point decompressed
/// from hashed bytes (P minus its prime-order part [8⁻¹][8]P).
fn order_eight_point(draws: &mut Draws) -> EdwardsPoint {
    let eight_inverse = Scalar::from(8u8).invert();
    loop {
        let bytes: [u8; 32] = draws.bytes64()[..32].try_into().unwrap();
        let Some(point) = curve25519_dalek::edwards::CompressedEdwardsY(bytes).decompress() else {
            continue;
        };
        let torsion = point - eight_inverse * point.mul_by_cofactor();
        if !(torsion * Scalar::from(4u8)).is_identity() {
            return torsion;
        }
    }
}

/// k = SHA-512(R ‖ A ‖ M) mod ℓ, as ed25519 defines it.
fn challenge(r: &[u8; 32], key: &[u8; 32], message: &[u8]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(r)
            .chain_update(key)
            .chain_update(message)
            .finalize()
            .into(),
    )
}

/// A signature by secret scalar `a` under the key point `key` (aB plus
/// perhaps a torsion part) with nonce point `nonce` (rB plus perhaps a
/// torsion part): s = r + k·a.
fn sign_raw(
    a: Scalar,
    key: EdwardsPoint,
    r: Scalar,
    nonce: EdwardsPoint,
    message: &[u8],
) -> ([u8; 32], Signature) {
    let key_bytes = key.compress().to_bytes();
    let r_bytes = nonce.compress().to_bytes();
    let s = r + challenge(&r_bytes, &key_bytes, message) * a;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(s.as_bytes());
    (key_bytes, Signature(signature))
}

/// s + ℓ, a non-canonical scalar for the same s (fits in 256 bits).
fn plus_ell(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[i]) + u16::from(ELL[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

/// What `verify_strict` answers, with `check_public_key`'s errors first:
/// the reference the batch is held to.
fn reference(key: &[u8; 32], message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
    let key = check_public_key(key)?;
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0))
        .map_err(|_| CryptoError::BadSignature)
}

struct Case {
    key: [u8; 32],
    message: Vec<u8>,
    signature: Signature,
}

/// Every kind of input, several of each.
fn cases(draws: &mut Draws) -> Vec<Case> {
    let mut cases = Vec::new();
    let torsion = order_eight_point(draws);
    let base = ED25519_BASEPOINT_POINT;
    for round in 0..24u8 {
        let keypair = Keypair::from_seed(&draws.bytes64()[..32].try_into().unwrap());
        let key = keypair.account().0;
        let message = draws.message();
        let signature = keypair.sign(&message);
        // Honest.
        cases.push(Case {
            key,
            message: message.clone(),
            signature,
        });
        // A flipped bit in the message, in R, in s.
        let mut other = message.clone();
        let at = draws.below(other.len() as u64) as usize;
        other[at] ^= 1 << (round % 8);
        cases.push(Case {
            key,
            message: other,
            signature,
        });
        for half in [0usize, 32] {
            let mut tampered = signature;
            tampered.0[half + draws.below(32) as usize] ^= 1 << (round % 8);
            cases.push(Case {
                key,
                message: message.clone(),
                signature: tampered,
            });
        }
        // The same s plus ℓ: the same equation, a non-canonical scalar.
        let mut malleated = signature;
        let high = plus_ell(&signature.0[32..]);
        malleated.0[32..].copy_from_slice(&high);
        cases.push(Case {
            key,
            message: message.clone(),
            signature: malleated,
        });
        // R of small order, each of the eight, with a random s.
        let mut small_r = signature;
        small_r.0[..32].copy_from_slice(&(torsion * Scalar::from(round % 8)).compress().0);
        small_r.0[32..].copy_from_slice(draws.scalar().as_bytes());
        cases.push(Case {
            key,
            message: message.clone(),
            signature: small_r,
        });
        // R the identity with s = k·a: the equation holds ([s]B − [k]A
        // is the identity, which compresses to R's bytes), so only the
        // small-order check on R refuses it.
        let a = draws.scalar();
        let a_point = base * a;
        let (key_bytes, identity_r) =
            sign_raw(a, a_point, Scalar::ZERO, EdwardsPoint::identity(), &message);
        cases.push(Case {
            key: key_bytes,
            message: message.clone(),
            signature: identity_r,
        });
        // R of small order but not the identity, with the equation holding:
        // key aB + T, R = [j]T, s = k·a, so [s]B − [k]A = −[k]T, which is R
        // when k ≡ −j (mod 8); the message is ground until it is. Only the
        // small-order check on R refuses these (not an identity check).
        let torsion_key = a_point + torsion;
        let small = torsion * Scalar::from(1 + round % 7);
        let mut ground_message = message.clone();
        for counter in 0u32..1_000 {
            ground_message.truncate(message.len());
            ground_message.extend_from_slice(&counter.to_le_bytes());
            let (key_bytes, candidate) =
                sign_raw(a, torsion_key, Scalar::ZERO, small, &ground_message);
            let equation = EdwardsPoint::vartime_double_scalar_mul_basepoint(
                &challenge(
                    &candidate.0[..32].try_into().unwrap(),
                    &key_bytes,
                    &ground_message,
                ),
                &-torsion_key,
                &Scalar::from_canonical_bytes(candidate.0[32..].try_into().unwrap()).unwrap(),
            );
            if equation.compress().0[..] == candidate.0[..32] {
                cases.push(Case {
                    key: key_bytes,
                    message: ground_message.clone(),
                    signature: candidate,
                });
                break;
            }
            assert!(counter < 999, "no message made the equation hold");
        }
        // Keys and nonces with torsion parts: the key aB + [i]T, the nonce
        // rB + [j]T. The equation holds when [j]T = −[k·i]T, which the
        // search below makes happen for some of them.
        let i = Scalar::from(draws.below(8) as u8);
        let j = Scalar::from(draws.below(8) as u8);
        let mixed_key = a_point + torsion * i;
        let r = draws.scalar();
        let (key_bytes, mixed) = sign_raw(a, mixed_key, r, base * r + torsion * j, &message);
        cases.push(Case {
            key: key_bytes,
            message: message.clone(),
            signature: mixed,
        });
        // A nonce ground until k·i ≡ 0 (mod 8), so that verify_strict
        // accepts a signature under a key with a torsion part.
        for attempt in 0..64 {
            let r = draws.scalar();
            let (key_bytes, ground) = sign_raw(a, mixed_key, r, base * r, &message);
            if reference(&key_bytes, &message, &ground).is_ok() || attempt == 63 {
                cases.push(Case {
                    key: key_bytes,
                    message: message.clone(),
                    signature: ground,
                });
                break;
            }
        }
        // R a non-canonical encoding (y + p) of a small-order point whose
        // y is below 19: the identity (y = 1) and its negation's y (p − 1)
        // have none; y = 1 + p is 2^255 − 18.
        let mut non_canonical_r = signature;
        let mut y = [0xffu8; 32];
        y[0] = 0xee;
        y[31] = 0x7f;
        non_canonical_r.0[..32].copy_from_slice(&y);
        cases.push(Case {
            key,
            message: message.clone(),
            signature: non_canonical_r,
        });
        // A key of small order, and bytes that are no point at all.
        cases.push(Case {
            key: (torsion * Scalar::from(1 + round % 7)).compress().0,
            message: message.clone(),
            signature,
        });
        let mut junk_key = [0u8; 32];
        junk_key[0] = 2;
        cases.push(Case {
            key: junk_key,
            message: message.clone(),
            signature,
        });
    }
    cases
}

fn checks(cases: &[Case]) -> Vec<SignatureCheck<'_>> {
    cases
        .iter()
        .map(|case| SignatureCheck {
            key: &case.key,
            message: &case.message,
            signature: &case.signature,
        })
        .collect()
}

#[test]
fn the_batch_check_answers_what_verify_strict_answers() {
    let mut draws = Draws(0);
    let mut cases = cases(&mut draws);
    let expected: Vec<_> = cases
        .iter()
        .map(|case| reference(&case.key, &case.message, &case.signature))
        .collect();
    // The cases must reach both verdicts on every kind, or this test
    // could not fail: honest and ground torsion signatures accept.
    let accepted = expected.iter().filter(|verdict| verdict.is_ok()).count();
    assert!(accepted >= 24 + 12, "only {accepted} cases verify");
    assert!(expected.contains(&Err(CryptoError::WeakPublicKey)));
    assert!(expected.contains(&Err(CryptoError::InvalidPublicKey)));

    // One batch, in order; then shuffled into batches of every size, with
    // a fresh cache each (keys parsed) and the same cache again (keys
    // held), and through the process-wide cache.
    let cache = KeyCache::new(1024);
    assert_eq!(cache.verify_batch(&checks(&cases)), expected);
    assert_eq!(cache.verify_batch(&checks(&cases)), expected);
    assert_eq!(verify_batch(&checks(&cases)), expected);
    let mut expected = expected;
    for size in [1usize, 2, 3, 7, 64] {
        for index in (1..cases.len()).rev() {
            let other = draws.below(index as u64 + 1) as usize;
            cases.swap(index, other);
            expected.swap(index, other);
        }
        let fresh = KeyCache::new(1024);
        let all = checks(&cases);
        let answered: Vec<_> = all
            .chunks(size)
            .flat_map(|chunk| fresh.verify_batch(chunk))
            .collect();
        assert_eq!(answered, expected, "batches of {size}");
        let again: Vec<_> = all
            .chunks(size)
            .flat_map(|chunk| fresh.verify_batch(chunk))
            .collect();
        assert_eq!(again, expected, "batches of {size}, keys held");
    }
}

#[test]
fn the_verdict_memo_answers_what_the_checks_answer_and_ends_with_its_run() {
    let mut draws = Draws(2_000_000);
    let mut cases = cases(&mut draws);
    let expected: Vec<_> = cases
        .iter()
        .map(|case| reference(&case.key, &case.message, &case.signature))
        .collect();
    assert!(expected.iter().any(Result::is_ok) && expected.iter().any(Result::is_err));
    assert_eq!(verdicts_remembered(), None, "the memo is off outside a run");
    let held = with_verdict_memo(|| {
        // Single checks first: each verdict is reached and remembered,
        // refusals included, and asked again answers the same.
        for _ in 0..2 {
            for (case, verdict) in cases.iter().zip(&expected) {
                assert_eq!(&verify(&case.key, &case.message, &case.signature), verdict);
            }
        }
        let held = verdicts_remembered().expect("the memo is on inside a run");
        assert!(held > 0 && held <= cases.len());
        // Batches that mix remembered triples with new ones (a tampered
        // message under a remembered key and signature is a new triple).
        let mut expected = expected.clone();
        let fresh = Signature([9; 64]);
        let extra = Keypair::from_seed(&[43; 32]);
        let extra_message = draws.message();
        let extra_signature = extra.sign(&extra_message);
        let extra_key = extra.account().0;
        for size in [1usize, 3, 64] {
            for index in (1..cases.len()).rev() {
                let other = draws.below(index as u64 + 1) as usize;
                cases.swap(index, other);
                expected.swap(index, other);
            }
            let mut all = checks(&cases);
            let mut want = expected.clone();
            all.push(SignatureCheck {
                key: &extra_key,
                message: &extra_message,
                signature: &extra_signature,
            });
            want.push(Ok(()));
            all.push(SignatureCheck {
                key: &extra_key,
                message: &extra_message,
                signature: &fresh,
            });
            want.push(Err(CryptoError::BadSignature));
            let answered: Vec<_> = all.chunks(size).flat_map(verify_batch).collect();
            assert_eq!(answered, want, "batches of {size} under the memo");
        }
        verdicts_remembered().unwrap()
    });
    assert!(held > 0);
    assert_eq!(verdicts_remembered(), None, "the memo ends with its run");
    // Nested runs keep the outer memo on.
    with_verdict_memo(|| {
        with_verdict_memo(|| ());
        assert!(verdicts_remembered().is_some());
    });
    assert_eq!(verdicts_remembered(), None);
}

#[test]
fn the_batch_check_remembers_only_keys_with_a_good_signature() {
    let mut draws = Draws(1_000_000);
    let good = Keypair::from_seed(&[41; 32]);
    let junk_signer = Keypair::from_seed(&[42; 32]);
    let message = draws.message();
    let signature = good.sign(&message);
    let junk = Signature([7; 64]);
    let cache = KeyCache::new(64);
    let (good_key, junk_key) = (good.account().0, junk_signer.account().0);
    let verdicts = cache.verify_batch(&[
        SignatureCheck {
            key: &good_key,
            message: &message,
            signature: &signature,
        },
        SignatureCheck {
            key: &junk_key,
            message: &message,
            signature: &junk,
        },
    ]);
    assert_eq!(verdicts, vec![Ok(()), Err(CryptoError::BadSignature)]);
    assert!(cache.holds(&good_key));
    assert!(!cache.holds(&junk_key));
    assert!(cache.verify_batch(&[]).is_empty());
}

/// How a property case changes an honest signature before it is checked.
#[derive(Debug, Clone)]
enum Change {
    None,
    /// XOR a byte of the key, the message or the signature.
    Key(usize, u8),
    Message(usize, u8),
    Signature(usize, u8),
    /// Replace s by s + ℓ.
    Malleate,
}

fn change() -> impl proptest::strategy::Strategy<Value = Change> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Change::None),
        (0usize..32, 1u8..=255).prop_map(|(at, x)| Change::Key(at, x)),
        (0usize..300, 1u8..=255).prop_map(|(at, x)| Change::Message(at, x)),
        (0usize..64, 1u8..=255).prop_map(|(at, x)| Change::Signature(at, x)),
        Just(Change::Malleate),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Batches of honest signatures, some changed at random: the batch
    /// answers what `verify_strict` answers, item by item.
    #[test]
    fn a_batch_of_changed_signatures_answers_what_verify_strict_answers(
        items in proptest::collection::vec((proptest::prelude::any::<[u8; 32]>(), proptest::collection::vec(proptest::prelude::any::<u8>(), 1..300), change()), 1..12)
    ) {
        let cases: Vec<Case> = items
            .into_iter()
            .map(|(seed, message, change)| {
                let keypair = Keypair::from_seed(&seed);
                let mut case = Case {
                    key: keypair.account().0,
                    signature: keypair.sign(&message),
                    message,
                };
                match change {
                    Change::None => {}
                    Change::Key(at, x) => case.key[at] ^= x,
                    Change::Message(at, x) => {
                        let at = at % case.message.len();
                        case.message[at] ^= x;
                    }
                    Change::Signature(at, x) => case.signature.0[at] ^= x,
                    Change::Malleate => {
                        let high = plus_ell(&case.signature.0[32..]);
                        case.signature.0[32..].copy_from_slice(&high);
                    }
                }
                case
            })
            .collect();
        let expected: Vec<_> = cases
            .iter()
            .map(|case| reference(&case.key, &case.message, &case.signature))
            .collect();
        proptest::prop_assert_eq!(KeyCache::new(64).verify_batch(&checks(&cases)), expected);
    }
}
