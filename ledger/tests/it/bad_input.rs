//! Bad input gets a typed error, never a panic or an abort: truncated and
//! trailing bytes, unknown tags, length bombs, wrong chain, bad and weak
//! signatures, overflowing amounts.

use clearhouse_ledger::Block;
use clearhouse_ledger::amount::AmountError;
use clearhouse_ledger::codec::CodecError;
use clearhouse_ledger::crypto::{CryptoError, Signature};
use clearhouse_ledger::state::{Outcome, RejectReason, Signatures, apply_block};
use clearhouse_ledger::tx::TxError;
use clearhouse_ledger::{AccountId, Amount, Body, Hash, SignedTransaction};
use proptest::prelude::*;

use crate::fixture::Fixture;

fn sample() -> (Fixture, SignedTransaction, Vec<u8>) {
    let f = Fixture::new(2, 2);
    let tx = f.transfer(&f.accounts[0], 0, f.accounts[1].account(), 0, 100);
    let bytes = tx.encode().unwrap();
    (f, tx, bytes)
}

/// Offset of the body's variant index in the wire encoding.
const BODY_TAG_OFFSET: usize = 32 + 32 + 8 + 16 + 8;
/// Offset of a transfer's asset-code length prefix.
const ASSET_LEN_OFFSET: usize = BODY_TAG_OFFSET + 4 + 32;

#[test]
fn the_sample_round_trips() {
    let (_, tx, bytes) = sample();
    assert_eq!(SignedTransaction::decode(&bytes).unwrap(), tx);
}

#[test]
fn truncated_bytes_are_malformed() {
    let (_, _, bytes) = sample();
    for len in 0..bytes.len() {
        match SignedTransaction::decode(&bytes[..len]) {
            Err(TxError::Codec(CodecError::Malformed(_))) => {}
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let (_, _, mut bytes) = sample();
    bytes.push(0);
    assert_eq!(
        SignedTransaction::decode(&bytes),
        Err(TxError::Codec(CodecError::TrailingBytes { trailing: 1 }))
    );
}

#[test]
fn unknown_body_tag_is_malformed() {
    let (_, _, mut bytes) = sample();
    bytes[BODY_TAG_OFFSET..BODY_TAG_OFFSET + 4].copy_from_slice(&99u32.to_be_bytes());
    assert!(matches!(
        SignedTransaction::decode(&bytes),
        Err(TxError::Codec(CodecError::Malformed(_)))
    ));
}

#[test]
fn a_length_prefix_of_two_to_the_sixty_is_refused_without_allocating() {
    let (_, _, mut bytes) = sample();
    bytes[ASSET_LEN_OFFSET..ASSET_LEN_OFFSET + 8].copy_from_slice(&(1u64 << 60).to_be_bytes());
    assert!(matches!(
        SignedTransaction::decode(&bytes),
        Err(TxError::Codec(CodecError::Malformed(_)))
    ));
    // The block-level bomb: a transaction count of 2^60 in 11 bytes' worth of header.
    let (f, tx, _) = sample();
    let outcome = f.propose(&f.genesis.memory_state().unwrap(), vec![tx]);
    let mut block = outcome.block.encode().unwrap();
    let header_len = clearhouse_ledger::codec::encode(&outcome.block.header)
        .unwrap()
        .len();
    block[header_len..header_len + 8].copy_from_slice(&(1u64 << 60).to_be_bytes());
    assert!(matches!(
        Block::decode(&block),
        Err(CodecError::Malformed(_))
    ));
    // A certificate claiming 2^60 votes in a 52-byte input.
    let mut bomb = Vec::new();
    bomb.extend_from_slice(&1u64.to_be_bytes()); // height
    bomb.extend_from_slice(&0u32.to_be_bytes()); // round
    bomb.extend_from_slice(&[0u8; 32]); // block hash
    bomb.extend_from_slice(&(1u64 << 60).to_be_bytes()); // vote count
    assert!(matches!(
        clearhouse_ledger::CommitCertificate::decode(&bomb),
        Err(clearhouse_ledger::certificate::CertificateError::Codec(
            CodecError::Malformed(_)
        ))
    ));
}

#[test]
fn an_invalid_identifier_inside_the_bytes_is_malformed() {
    let (_, _, mut bytes) = sample();
    // "CNY" becomes "cNY": not an asset code.
    bytes[ASSET_LEN_OFFSET + 8] = b'c';
    assert!(matches!(
        SignedTransaction::decode(&bytes),
        Err(TxError::Codec(CodecError::Malformed(_)))
    ));
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let big = vec![0u8; clearhouse_ledger::codec::TX_BYTES_MAX + 1];
    assert!(matches!(
        SignedTransaction::decode(&big),
        Err(TxError::Codec(CodecError::TooLong { .. }))
    ));
}

#[test]
fn wrong_chain_id_is_refused() {
    let (f, tx, _) = sample();
    let other = Hash([9; 32]);
    assert_eq!(
        tx.verify(&other),
        Err(TxError::WrongChain {
            expected: other,
            found: f.chain_id()
        })
    );
}

#[test]
fn a_flipped_signature_bit_fails() {
    let (f, mut tx, _) = sample();
    tx.signature.0[10] ^= 1;
    assert_eq!(
        tx.verify(&f.chain_id()),
        Err(TxError::Signature(CryptoError::BadSignature))
    );
    // And a block carrying it is invalid as a whole.
    let state = f.genesis.memory_state().unwrap();
    let good = f.propose(&state, vec![sample().1]);
    let mut block = good.block.clone();
    block.transactions[0] = tx;
    assert!(matches!(
        apply_block(&state, &block, Signatures::Verify),
        Err(clearhouse_ledger::state::BlockError::InvalidTransaction { index: 0, .. })
    ));
}

#[test]
fn a_malleated_signature_fails_strict_verification() {
    // s + L (the group order) verifies under lax rules in some libraries.
    let (f, mut tx, _) = sample();
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(tx.signature.0[32 + i]) + u16::from(L[i]) + carry;
        tx.signature.0[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert!(tx.verify(&f.chain_id()).is_err());
}

#[test]
fn a_small_order_key_never_verifies() {
    // The identity point: with R = identity and s = 0, plain `verify` accepts
    // any message under it. `verify_strict` must not.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let lax = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
    use ed25519_dalek::Verifier;
    assert!(
        lax.verify(b"pay me", &ed25519_dalek::Signature::from_bytes(&signature))
            .is_ok(),
        "the lax check accepts it: this test exercises a real hazard"
    );
    assert_eq!(
        clearhouse_ledger::crypto::verify(&identity, b"pay me", &Signature(signature)),
        Err(CryptoError::WeakPublicKey)
    );
    // Registering such a key is refused with a typed reason.
    let f = Fixture::new(1, 1);
    let state = f.genesis.memory_state().unwrap();
    let register = f.sign(
        &f.treasuries[0],
        0,
        Body::RegisterAccount {
            account: AccountId(identity),
        },
    );
    let outcome = f.propose(&state, vec![register]);
    assert_eq!(
        outcome.execution.receipts[0].outcome,
        Outcome::Rejected(RejectReason::WeakKey)
    );
}

#[test]
fn a_vote_signature_is_not_a_transaction_signature() {
    let (f, mut tx, _) = sample();
    let bytes = clearhouse_ledger::certificate::vote_signing_bytes(
        clearhouse_ledger::certificate::VoteKind::Precommit,
        &f.chain_id(),
        1,
        0,
        Some(&tx.id().unwrap()),
    );
    tx.signature = f.accounts[0].sign(&bytes);
    assert!(tx.verify(&f.chain_id()).is_err());
}

#[test]
fn overflowing_amounts_are_typed_rejections() {
    let f = Fixture::new(1, 2);
    let state = f.genesis.memory_state().unwrap();
    let asset = f.asset(0);
    // Issuing past 2^128 - 1 of supply.
    let issue = f.sign(
        &f.treasuries[0],
        0,
        Body::Issue {
            to: f.accounts[0].account(),
            asset: asset.clone(),
            amount: Amount(u128::MAX),
        },
    );
    // A fee computed on an amount near 2^128 overflows.
    let transfer = f.transfer(&f.accounts[1], 0, f.accounts[0].account(), 0, u128::MAX);
    let outcome = f.propose(&state, vec![issue, transfer]);
    for receipt in &outcome.execution.receipts {
        assert_eq!(
            receipt.outcome,
            Outcome::Rejected(RejectReason::Overflow(asset.clone()))
        );
    }
    assert_eq!(
        Amount::parse_decimal("340282366920938463463374607431768211456", 0),
        Err(AmountError::Overflow(
            "340282366920938463463374607431768211456".into()
        ))
    );
    assert!(Amount::parse_decimal("1.234", 2).is_err());
    assert!(Amount::parse_decimal("-1", 2).is_err());
    assert_eq!(Amount::parse_decimal("12.5", 2), Ok(Amount(1250)));
    assert_eq!(Amount(1250).to_decimal_string(2), "12.50");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes never panic the decoder; whatever decodes re-encodes
    /// to the same bytes (one value, one encoding).
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(tx) = SignedTransaction::decode(&bytes) {
            prop_assert_eq!(tx.encode().unwrap(), bytes.clone());
        }
        let _ = Block::decode(&bytes);
        let _ = clearhouse_ledger::CommitCertificate::decode(&bytes);
    }

    /// Mutating one byte of a valid transaction gives an error or a different,
    /// canonically encoded transaction, never a panic.
    #[test]
    fn one_byte_mutations_never_panic(position in 0usize..300, value in any::<u8>()) {
        let (f, _, mut bytes) = sample();
        let position = position % bytes.len();
        bytes[position] = value;
        if let Ok(tx) = SignedTransaction::decode(&bytes) {
            prop_assert_eq!(tx.encode().unwrap(), bytes.clone());
            let _ = tx.verify(&f.chain_id());
        }
    }
}

/// A validator skips signatures it already verified, but only for the exact
/// signed bytes: a known transaction id with another signature is verified,
/// and refused.
#[test]
fn known_ids_with_a_different_signature_are_still_verified() {
    let (f, tx, _) = sample();
    let state = f.genesis.memory_state().unwrap();
    let good = f.propose(&state, vec![tx.clone()]);
    let id = tx.id().unwrap();
    let held = tx.clone();
    let known = move |candidate: &clearhouse_ledger::Hash, signed: &SignedTransaction| {
        *candidate == id && *signed == held
    };
    // The same bytes: accepted without a second check.
    assert!(apply_block(&state, &good.block, Signatures::VerifyUnlessKnown(&known)).is_ok());
    // Same id, forged signature: verified, and the block refused.
    let mut forged = good.block.clone();
    forged.transactions[0].signature.0[9] ^= 1;
    assert!(matches!(
        apply_block(&state, &forged, Signatures::VerifyUnlessKnown(&known)),
        Err(clearhouse_ledger::state::BlockError::InvalidTransaction { index: 0, .. })
    ));
}

/// 32 bytes that are not the encoding of a curve point.
fn not_a_point() -> [u8; 32] {
    (0u8..=255)
        .map(|first| {
            let mut bytes = [0x55u8; 32];
            bytes[0] = first;
            bytes
        })
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .expect("half of all y coordinates are off the curve")
}

#[test]
fn the_key_cache_answers_exactly_what_a_fresh_check_answers() {
    use clearhouse_ledger::crypto::{KeyCache, Keypair, check_public_key};
    let cache = KeyCache::new(64);
    let message = b"pay me";
    let keys: Vec<Keypair> = (0u8..8).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let junk = Signature([7; 64]);
    for round in 0..2 {
        for key in &keys {
            let bytes = key.account().0;
            let good = key.sign(message);
            assert_eq!(
                cache.verify(&bytes, message, &good),
                Ok(()),
                "round {round}"
            );
            assert_eq!(
                cache.verify(&bytes, b"pay you", &good),
                Err(CryptoError::BadSignature),
                "round {round}: a remembered key still refuses another message"
            );
        }
        for bytes in [identity, not_a_point()] {
            assert_eq!(
                cache.verify(&bytes, message, &junk).err(),
                check_public_key(&bytes).err(),
                "round {round}: {bytes:?}"
            );
        }
    }
    assert_eq!(
        cache.len(),
        keys.len(),
        "only keys with a good signature are held"
    );
    assert!(!cache.holds(&identity) && !cache.holds(&not_a_point()));
    // A valid key whose first signature is bad is not remembered: junk
    // signatures under made-up keys cannot flush the cache.
    let stranger = Keypair::from_seed(&[99; 32]).account().0;
    assert_eq!(
        cache.verify(&stranger, message, &junk),
        Err(CryptoError::BadSignature)
    );
    assert!(!cache.holds(&stranger));
}

#[test]
fn the_key_cache_is_bounded_and_keeps_the_keys_in_use() {
    use clearhouse_ledger::crypto::{KeyCache, Keypair};
    let cache = KeyCache::new(8);
    let message = b"pay me";
    let verify = |key: &Keypair| {
        cache
            .verify(&key.account().0, message, &key.sign(message))
            .unwrap();
    };
    let payer = Keypair::from_seed(&[200; 32]);
    verify(&payer);
    for i in 0u8..100 {
        verify(&Keypair::from_seed(&[i; 32]));
        assert!(cache.len() <= 16, "two generations of 8 at most");
        if i % 4 == 3 {
            assert!(
                cache.holds(&payer.account().0),
                "a key in use is kept (after key {i})"
            );
            verify(&payer);
        }
    }
    let old = Keypair::from_seed(&[0; 32]).account().0;
    assert!(!cache.holds(&old), "a key not used since is dropped");
}

#[test]
fn a_cached_key_still_refuses_a_bad_signature() {
    // The cache holds parsed keys, never verdicts: the same key with a
    // signature that does not match is refused after a good one passed.
    let (f, tx, _) = sample();
    assert!(tx.verify(&f.chain_id()).is_ok());
    let mut bad = tx.clone();
    bad.signature.0[40] ^= 1;
    assert!(matches!(
        bad.verify(&f.chain_id()),
        Err(TxError::Signature(CryptoError::BadSignature))
    ));
    assert!(tx.verify(&f.chain_id()).is_ok());
}

#[test]
fn a_request_key_is_never_registered_as_an_account() {
    // A bank's API key, the auditor's and the regulator's name callers of
    // the API; as accounts they would be two callers at once.
    let f = Fixture::new(2, 1);
    let state = f.genesis.memory_state().unwrap();
    let reserved = [
        Fixture::api_key(0).account(),
        Fixture::api_key(1).account(),
        Fixture::auditor().account(),
        Fixture::regulator().account(),
    ];
    let txs = reserved
        .iter()
        .enumerate()
        .map(|(nonce, key)| {
            f.sign(
                &f.treasuries[0],
                nonce as u64,
                Body::RegisterAccount { account: *key },
            )
        })
        .collect();
    let outcome = f.propose(&state, txs);
    for (receipt, key) in outcome.execution.receipts.iter().zip(reserved) {
        assert_eq!(
            receipt.outcome,
            Outcome::Rejected(RejectReason::ReservedKey(key))
        );
    }
    // A fresh key is registered as before.
    let fresh = clearhouse_ledger::testing::key("fresh customer").account();
    let register = f.sign(
        &f.treasuries[0],
        0,
        Body::RegisterAccount { account: fresh },
    );
    let outcome = f.propose(&state, vec![register]);
    assert!(
        matches!(
            outcome.execution.receipts[0].outcome,
            Outcome::Applied { .. }
        ),
        "{:?}",
        outcome.execution.receipts[0].outcome
    );
}
